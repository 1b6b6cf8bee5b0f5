"""`scaling grow plan | run | analyze`: the command line, the smoke experiment, one-line errors."""

import json
from pathlib import Path

import pytest

from scaling import store

ROOT = Path(__file__).resolve().parents[1]


def _one_line_error(res):
    assert res.returncode == 2, res.stderr + res.stdout
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "error" in lines[0] and "Traceback" not in res.stderr, res.stderr
    return lines[0]


def _calibration(path, eta=1.2, sd=0.05):
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "source": "test",
                "small": {"params": 2e5},
                "large": {"params": 8e5},
                "methods": {
                    "ligo": {
                        "method": "ligo",
                        "eta": eta,
                        "eta_sd": sd,
                        "n_seeds": 2,
                        "operator_steps": 100,
                        "operator_tokens_per_step": 8192,
                    }
                },
            }
        )
    )
    return path


def test_plan_prints_a_ledger(cli, tmp_path):
    cal = _calibration(tmp_path / "cal.json")
    res = cli("grow", "plan", "--flops", "1e21", "--law", "chinchilla-2022", "--calibration", str(cal))
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for needle in (
        "small model",
        "operator (ligo, 100 steps)",
        "large model",
        "total",
        "predicted final loss",
        "(1) vs the large model from scratch, small model not charged",
        "(2) vs the large model from scratch, small model charged",
        "(3) vs a compute-optimal",
        "verdict",
    ):
        assert needle in out, needle
    res = cli("grow", "plan", "--flops", "1e21", "--law", "chinchilla-2022", "--calibration", str(cal), "--json")
    d = json.loads(res.stdout)
    assert d["verdict"] in ("grow", "train from scratch")
    assert d["small_flops"] + d["operator_flops"] + d["large_flops"] == pytest.approx(1e21)
    weak = _calibration(tmp_path / "weak.json", eta=0.1, sd=None)
    res = cli("grow", "plan", "--flops", "1e21", "--law", "chinchilla-2022", "--calibration", str(weak))
    assert res.returncode == 0 and "TRAIN FROM SCRATCH" in res.stdout


def test_plan_errors_are_one_line(cli, tmp_path):
    line = _one_line_error(
        cli(
            "grow",
            "plan",
            "--flops",
            "1e21",
            "--law",
            "chinchilla-2022",
            "--calibration",
            str(tmp_path / "missing.json"),
        )
    )
    assert "not assumed" in line
    _one_line_error(cli("grow", "plan", "--flops", "lots", "--law", "chinchilla-2022", "--credit-efficiency", "1"))
    _one_line_error(cli("grow", "plan", "--flops", "1e21", "--law", "nope", "--credit-efficiency", "1"))
    d = tmp_path / "hyena"
    d.mkdir()
    store.write_config(
        d,
        store.RunConfig(
            run_id="hyena", n_layer=2, d_model=64, n_head=2, d_ff=256, tokens=1000, batch_size=1, lr=1e-3, mixer="hyena"
        ),
    )
    line = _one_line_error(
        cli(
            "grow", "plan", "--flops", "1e18", "--law", "chinchilla-2022", "--credit-efficiency", "1", "--small", str(d)
        )
    )
    assert "attention" in line


def _spec(tmp_path, **large):
    """The smoke spec with some [large] keys replaced."""
    text = (ROOT / "sweeps" / "growth-smoke.toml").read_text()
    head, _, tail = text.partition("[large]")
    body, _, rest = tail.partition("\n[ligo]")
    keys = dict(l.split("#")[0].strip().split(" = ") for l in body.strip().splitlines() if " = " in l)
    keys.update({k: str(v) for k, v in large.items()})
    path = tmp_path / "spec.toml"
    path.write_text(head + "[large]\n" + "\n".join(f"{k} = {v}" for k, v in keys.items()) + "\n\n[ligo]" + rest)
    return path


def test_bad_growth_specs_are_one_line_errors(cli, tmp_path):
    line = _one_line_error(
        cli("grow", "run", str(_spec(tmp_path, d_model=16, n_head=1, d_ff=64)), "--root", str(tmp_path / "runs"))
    )
    assert "smaller than the small one" in line
    line = _one_line_error(
        cli("grow", "run", str(_spec(tmp_path, d_model=64, n_head=2)), "--root", str(tmp_path / "runs"))
    )
    assert "incompatible head counts" in line
    bad = tmp_path / "typo.toml"
    bad.write_text((ROOT / "sweeps" / "growth-smoke.toml").read_text().replace("fractions", "fractoins"))
    assert "fractoins" in _one_line_error(cli("grow", "run", str(bad), "--dry-run"))
    _one_line_error(cli("grow", "run", str(tmp_path / "none.toml")))
    _one_line_error(cli("grow", "analyze", str(tmp_path / "nothing")))


@pytest.mark.slow  # 21 s on a quiet core: the whole growth pipeline; CI runs the slow pass
def test_smoke_experiment_end_to_end(cli_subprocess, tmp_path):
    cli = cli_subprocess  # trains: a real process, as a user runs it
    spec = ROOT / "sweeps" / "growth-smoke.toml"
    res = cli("grow", "run", str(spec), "--dry-run")
    assert res.returncode == 0 and "ligo-f0.5-s1" in res.stdout and "total training FLOPs" in res.stdout
    runs, data, cal = tmp_path / "runs", tmp_path / "data", tmp_path / "cal.json"
    res = cli(
        "grow",
        "run",
        str(spec),
        "--root",
        str(runs),
        "--data-dir",
        str(data),
        "--calibration-out",
        str(cal),
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    sweep = runs / "growth-smoke"
    ids = {p.name for p in store.iter_runs(sweep)}
    assert {"small-s0", "scratch-s1", "ligo-f0.5-s0", "hyperclone-stack-f1-s1", "hyperclone-identity-f0.5-s1"} <= ids
    assert len(ids) == 16
    for rid in ids:
        assert store.read_result(sweep / rid).status == "ok"
    assert (sweep / "growth-init" / "ligo-s0.pt").exists()
    rep = json.loads((sweep / "growth-init" / "ligo-s0.json").read_text())
    op = rep["operator"]
    assert op["steps"] == 5 and op["flops"] > 0
    # every grown start and the small model measured on the same held-out windows (the curves' 2,048 tokens)
    assert op["check_tokens"] == 2048 and op["check_split"] == "held-out"
    assert rep["eval"]["tokens"] == 2048 and rep["eval"]["grown_loss"] == op["final_loss"]
    other = json.loads((sweep / "growth-init" / "hyperclone-identity-s0.json").read_text())["eval"]
    assert other["small_loss"] == pytest.approx(rep["eval"]["small_loss"], rel=1e-6)
    assert other["grown_loss"] == pytest.approx(other["small_loss"], abs=1e-4)  # function-preserving
    assert "held-out loss on 2,048 tokens: small" in res.stderr and "LiGO operator: 5 steps" in res.stderr
    assert "| LiGO (ligo) |" in res.stdout and "(hyperclone-stack) |" in res.stdout
    assert "(hyperclone-identity) |" in res.stdout and "another evaluation set" not in res.stdout
    c = json.loads(cal.read_text())
    assert set(c["methods"]) == {"ligo", "hyperclone-stack", "hyperclone-identity"} and c["corpus"] == "stdlib"
    # all runs evaluated on the same held-out tokens of the same corpus
    fps = {store.read_result(sweep / rid).corpus_fingerprint for rid in ids}
    assert len(fps) == 1
    # rerunning does nothing but the analysis
    res = cli("grow", "run", str(spec), "--root", str(runs), "--data-dir", str(data))
    assert res.returncode == 0 and "22 already done" in res.stderr
    res = cli("grow", "analyze", str(sweep), "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["aggregate"]["ligo"]["seeds"] == [0, 1]


def test_plan_does_not_import_torch(tmp_path):
    import subprocess
    import sys

    cal = _calibration(tmp_path / "cal.json")
    code = (
        "import sys; from scaling.cli import main; "
        f"rc = main(['grow', 'plan', '--flops', '1e20', '--law', 'chinchilla-2022', "
        f"'--calibration', {str(cal)!r}]); "
        "assert rc == 0; assert 'torch' not in sys.modules, 'torch imported'"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0, res.stderr
