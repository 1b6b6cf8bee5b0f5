"""`scaling plan` and `scaling laws` from the command line: output contract and one-line errors."""

import json

import pytest

from scaling.cli import main
from scaling.laws import get_law
from scaling.laws.moe import TABLE2


def _json_lines(out: str):
    return [json.loads(line) for line in out.strip().splitlines()]


def test_plan_json_contract(capsys):
    assert main(["plan", "5.76e23", "--law", "epoch-2024", "--json"]) == 0
    (obj,) = _json_lines(capsys.readouterr().out)
    for key in ("law", "flops", "params", "tokens", "tokens_per_param", "loss", "flops_convention"):
        assert key in obj
    assert obj["params"] == pytest.approx(72.2e9, rel=0.01)
    assert obj["tokens"] == pytest.approx(1.33e12, rel=0.01)


def test_several_budgets_one_table(capsys):
    assert main(["plan", "1e21", "1e22", "1e23"]) == 0
    out = capsys.readouterr().out
    assert "1e+21" in out and "1e+23" in out and "tok/param" in out


def test_number_formats(capsys):
    assert main(["plan", "--params", "70B", "--tokens", "1.4T", "--json"]) == 0
    (obj,) = _json_lines(capsys.readouterr().out)
    assert obj["params"] == 70e9 and obj["tokens"] == 1.4e12
    assert obj["flops"] == pytest.approx(6 * 70e9 * 1.4e12)
    assert "frontier" in obj and obj["frontier"]["loss_gap"] >= 0
    assert main(["plan", "3.2E+24", "--json"]) == 0


def test_budget_and_shape(capsys):
    assert (
        main(["plan", "1e23", "--gpu", "h100", "--gpus", "1024", "--mfu", "0.4", "--price", "2.5", "--shape", "--json"])
        == 0
    )
    (obj,) = _json_lines(capsys.readouterr().out)
    b = obj["budget"]
    assert b["gpu_hours"] == pytest.approx(1e23 / (989e12 * 0.4 * 3600), rel=1e-6)
    assert b["cost_usd"] == pytest.approx(b["gpu_hours"] * 2.5, rel=1e-6)
    assert b["days"] == pytest.approx(b["gpu_hours"] / 1024 / 24, rel=1e-6)
    for k in ("gpu_hours", "days", "gpus", "cost_usd", "energy_kwh", "co2_kg", "accelerator", "mfu"):
        assert k in b
    s = obj["shape"]
    assert s["d_model"] % 64 == 0 and abs(s["snap_rel_error"]) < 0.05


def test_gpu_hours_and_dollars_budgets(capsys):
    assert main(["plan", "--gpu-hours", "1e6", "--gpu", "a100", "--json"]) == 0
    (obj,) = _json_lines(capsys.readouterr().out)
    assert obj["flops"] == pytest.approx(1e6 * 3600 * 312e12 * 0.4, rel=1e-6)
    assert main(["plan", "--dollars", "1e6", "--gpu", "h100", "--price", "2", "--json"]) == 0
    (obj,) = _json_lines(capsys.readouterr().out)
    assert obj["budget"]["cost_usd"] == pytest.approx(1e6, rel=1e-6)


@pytest.mark.parametrize(
    "args,needle",
    [
        (["plan", "nan"], "not a number"),
        (["plan", "inf"], "not"),
        (["plan", "0"], "zero"),
        (["plan", "--", "-1e21"], "negative"),
        (["plan", "lots"], "not a number"),
        (["plan", "1e21", "--params", "7B", "--tokens", "1.4T"], "does not match"),
        (["plan", "1e21", "--law", "chinchila"], "did you mean"),
        (["plan", "1e21", "--gpu", "h1000"], "h100"),
        (["plan", "--target-loss", "1.6", "--law", "chinchilla-2022"], "irreducible loss E = 1.6934"),
        (["plan", "--target-loss", "1.6"], "irreducible loss E = 1.8172"),
        (["plan", "1e21", "--mfu", "1.5"], "--mfu"),
        (["plan", "1e21", "--mfu", "0"], "--mfu"),
        (["plan", "1e21", "--gpus", "0"], "--gpus"),
        (["plan"], "nothing to plan"),
    ],
)
def test_bad_input_one_line_exit_2(cli, args, needle):
    r = cli(*args)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert needle in err


def test_laws_lists_registry(capsys):
    assert main(["laws"]) == 0
    out = capsys.readouterr().out
    for name in ("chinchilla-2022", "chinchilla-2022-rounded", "epoch-2024", "chinchilla-approach1", "kaplan-2020"):
        assert name in out
    assert "arXiv:2404.10102" in out


def test_import_plan_is_light():
    import subprocess
    import sys

    code = (
        "import sys, scaling; scaling.plan(1e21); "
        "print(' '.join(m for m in ('torch', 'matplotlib', 'ray') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_plan_takes_mixer_context_and_sparsity(capsys):
    import json

    assert main(["plan", "1e21", "--mixer", "hyena", "--context", "8192", "--convention", "palm", "--json"]) == 0
    h = json.loads(capsys.readouterr().out)
    assert main(["plan", "1e21", "--context", "8192", "--convention", "palm", "--json"]) == 0
    a = json.loads(capsys.readouterr().out)
    assert h["extra"]["mixer"] == "hyena" and h["tokens"] > 1.4 * a["tokens"]
    assert main(["plan", "1e21", "--law", "frantar-2024", "--sparsity", "0.75"]) == 0
    out = capsys.readouterr().out
    assert "frantar-2024@S=0.75" in out and "75% sparse" in out and "params: nonzero" in out


@pytest.mark.parametrize(
    "args, needle",
    [(["plan", "1e21", "--sparsity", "1.5"], "--sparsity"), (["plan", "1e21", "--mixer", "mamba"], "--mixer")],
)
def test_bad_architecture_flags(cli, args, needle):
    r = cli(*args)
    assert r.returncode == 2 and "Traceback" not in r.stderr and needle in r.stderr, r.stderr


def test_default_law_is_epoch_and_every_plan_names_its_law(capsys):
    assert main(["plan", "1e22"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("law: epoch-2024")
    assert main(["plan", "1e22", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["law"] == "epoch-2024"


def test_law_all_puts_every_law_side_by_side(capsys):
    from scaling.laws import list_laws

    assert main(["plan", "1e22", "1e24", "--law", "all"]) == 0
    out = capsys.readouterr().out
    assert out.count("spread: params") == 2 and "own data set" in out
    for name in list_laws():
        assert f"\n{name} " in out
    assert main(["plan", "1e24", "--law", "epoch-2024,llama3-2024", "--json"]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert [r["law"] for r in rows] == ["epoch-2024", "llama3-2024"]
    assert rows[0]["predicts_loss"] and rows[1]["loss"] is None
    assert rows[1]["tokens"] == pytest.approx(0.29 * 1e24**0.5378, rel=2e-3)  # D* = A C^alpha


def test_law_all_needs_budgets(cli):
    res = cli("plan", "--params", "7B", "--law", "all")
    assert res.returncode == 2 and "FLOP budgets only" in res.stderr and "\n" not in res.stderr.strip()


def test_laws_are_grouped_by_form(capsys):
    assert main(["laws"]) == 0
    out = capsys.readouterr().out
    assert "== chinchilla ==" in out and "== powerlaw ==" in out
    assert out.index("== chinchilla ==") < out.index("epoch-2024 [chinchilla]") < out.index("== powerlaw ==")


# --- --granularity: the fine-grained MoE law (Krajewski et al. 2024, arXiv:2402.07871) -------------


@pytest.mark.parametrize("N_act,D,G,F,L", TABLE2)
def test_granularity_reproduces_krajewski_table2(cli, N_act, D, G, F, L):
    # each row of Table 2 is the paper's plan at its printed granularity: planned at that G, the law
    # gives the row's active size and tokens (within 5%) and its printed loss (within 1%: the printed
    # constants give losses ~0.02 below the printed ones)
    r = cli("plan", f"{F:g}", "--law", "krajewski-2024", "--granularity", f"{G:g}", "--json")
    assert r.returncode == 0, r.stderr
    (obj,) = _json_lines(r.stdout)
    assert obj["extra"]["granularity"] == G
    assert obj["params"] == pytest.approx(N_act, rel=0.05)
    assert obj["tokens"] == pytest.approx(D, rel=0.05)
    assert obj["loss"] == pytest.approx(L, rel=0.01)


def test_granularity_changes_the_plan_as_the_law_says(cli):
    def plan(*extra):
        r = cli("plan", "1e22", "--law", "krajewski-2024", *extra, "--json")
        assert r.returncode == 0, r.stderr
        return _json_lines(r.stdout)[0]

    free = plan()  # the compute-optimal G at 1e22 is 32
    fixed = {G: plan("--granularity", str(G)) for G in (1, 2, 4, 8, 16, 32, 64)}
    assert "extra" not in free and fixed[32]["params"] == pytest.approx(free["params"], rel=1e-9)
    # a finer G lowers the size term's coefficient (g / G^gamma + a) N^-alpha: from G = 1 to 8 the
    # plan moves to a smaller active model on more tokens and a lower loss; past the optimum the
    # routing cost (d E G c_r FLOPs per token and block) takes it back
    small = [fixed[G] for G in (1, 2, 4, 8)]
    assert all(a["params"] > b["params"] and a["tokens"] < b["tokens"] for a, b in zip(small, small[1:]))
    losses = [fixed[G]["loss"] for G in (1, 2, 4, 8, 16, 32, 64)]
    assert losses.index(min(losses)) == 5 and min(losses) == pytest.approx(free["loss"], rel=1e-9)
    assert all(a > b for a, b in zip(losses[:6], losses[1:6])) and losses[6] > losses[5]
    # the standard MoE (G = 1, experts the size of the dense FFN) is the worst of them here
    assert losses[0] == max(losses)


def test_granularity_in_the_header_and_in_law_all(cli):
    r = cli("plan", "2.95e18", "--law", "krajewski-2024", "--granularity", "8")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].endswith("granularity: G = 8 (fixed)")
    r = cli("plan", "1e22", "--law", "epoch-2024,krajewski-2024", "--granularity", "8", "--json")
    assert r.returncode == 0, r.stderr
    moe = _json_lines(r.stdout)[1]
    assert moe["law"] == "krajewski-2024" and moe["loss_scale"] == "C4, nats/token (MoE at granularity G = 8)"
    assert moe["params_native"] == pytest.approx(get_law("krajewski-2024").frontier(1e22, G=8)[0], rel=1e-9)
    r = cli("plan", "1e22", "--law", "krajewski-2024", "--granularity", "128")
    assert r.returncode == 0 and "G = 128 is past 64" in r.stderr and "extrapolation" in r.stderr
    from scaling import plan

    (p,) = plan(1e22, law="krajewski-2024", granularity=8)
    assert p.extra["granularity"] == 8 and "granularity G = 8" in p.summary().splitlines()[0]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--law", "krajewski-2024", "--granularity", "abc"], "argument --granularity: 'abc' is not a number"),
        (["--law", "krajewski-2024", "--granularity", "0"], "argument --granularity: '0' is zero"),
        (["--law", "krajewski-2024", "--granularity", "-4"], "argument --granularity: '-4' is negative"),
        (["--law", "krajewski-2024", "--granularity", "nan"], "argument --granularity: 'nan' is not a number"),
        (["--law", "krajewski-2024", "--granularity", "0.5"], "--granularity must be at least 1"),
        (["--granularity", "8"], "--granularity: law 'epoch-2024' (chinchilla) has no granularity term"),
        (["--law", "chinchilla-2022", "--granularity", "8"], "--law krajewski-2024"),
        (["--law", "epoch-2024,llama3-2024", "--granularity", "8"], "none of the laws"),
        (["--law", "krajewski-2024", "--granularity", "8", "--unique-tokens", "1e10"], "--granularity applies"),
    ],
)
def test_bad_granularity_one_line_exit_2(cli, args, needle):
    r = cli("plan", "1e22", *args)
    err = r.stderr.strip()
    assert r.returncode == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert needle in err


def test_plan_starts_without_the_fitter_or_pandas():
    """`scaling plan` imports its own subcommand only: no fitter, no pandas, no scipy (the cold start
    benchmarks/bench_plan.py measures). A fresh interpreter, since this one has them loaded."""
    import subprocess
    import sys

    code = (
        "import sys; from scaling.cli import main; rc = main(['plan', '1e21']); "
        "print(rc, sorted(m for m in ('pandas', 'scaling.fit', 'scipy', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "0 []", out
