"""Fits record the architecture of their runs, and `scaling compare` reads it: the round trip from run
directories (config.json) through the runs table and the fit file to the comparison, the refusal of
two fits under different FLOP conventions (and its conversion), overrides, mixed runs and old files."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from scaling import store
from scaling.errors import ScalingError
from scaling.fit import FitArchitecture, FitResult
from scaling.planner.compare import compare_fits, recorded_architecture
from scaling.planner.multiplier import arch_flops, compute_multiplier
from scaling.runs import architecture_info
from scaling.store import RunConfig, RunResult

# B's parameters are worth twice A's: the weight-only multiplier is 2 at every loss
E, A_, B_, ALPHA, BETA = 1.5, 60.0, 40.0, 0.4, 0.35
WIDTHS = ((1, 16), (1, 32), (2, 32), (2, 48), (3, 64))
STEPS = (20, 60, 180, 540)


def _loss(mixer: str, N: float, D: float, rng: np.random.Generator) -> float:
    n_eff = 2.0 * N if mixer == "hyena" else N
    return (E + A_ / n_eff**ALPHA + B_ / D**BETA) * math.exp(rng.normal(0.0, 0.003))


def _sweep(root, name: str, mixer: str, convention: str = "palm", context: int = 256) -> None:
    """Run directories as a sweep leaves them: config.json and result.json, losses from a known law
    with 0.3% noise (so that the bootstrap has something to resample)."""
    rng = np.random.default_rng(0)
    for n_layer, d in WIDTHS:
        for steps in STEPS:
            rid = f"L{n_layer}-d{d}-s{steps}"
            cfg = RunConfig(
                sweep=name,
                run_id=rid,
                n_layer=n_layer,
                d_model=d,
                n_head=d // 16,
                d_ff=4 * d,
                context=context,
                tokens=4 * context * steps,
                batch_size=4,
                lr=1e-3,
                seed=0,
                mixer=mixer,
                flops_convention=convention,
            )
            pc = cfg.param_counts()
            D = cfg.trained_tokens
            res = RunResult(
                sweep=name,
                run_id=rid,
                status="ok",
                loss=_loss(mixer, pc["total"], D, rng),
                params=pc["total"],
                non_embedding_params=pc["non_embedding"],
                embedding_params=pc["embedding"],
                tokens=D,
                steps=cfg.steps,
                flops=cfg.flops_per_token() * D,
                flops_convention=convention,
                flops_per_token=cfg.flops_per_token(),
                corpus_fingerprint="sha256:x",
            )
            run = store.run_dir(root, name, rid)
            store.write_config(run, cfg)
            store.write_result(run, res)


@pytest.fixture(scope="module")
def fits(tmp_path_factory):
    """runs -> table -> fit, through the commands a user types: attention and Hyena under palm FLOPs,
    and attention again with its budgets counted as 6nd."""
    from scaling.cli import main

    tmp = tmp_path_factory.mktemp("arch")
    out = {}
    for name, mixer, conv in (("att", "attention", "palm"), ("hye", "hyena", "palm"), ("att6", "attention", "6nd")):
        _sweep(tmp / "runs", name, mixer, conv)
        csv = tmp / f"{name}-runs.csv"
        store.collect(tmp / "runs" / name, out=csv)
        fit = tmp / f"{name}-fit.json"
        with _quiet():
            code = main(
                ["fit", str(csv), "--bootstrap", "8", "--seed", "0", "--workers", "1", "--out", str(fit), "--json"]
            )
        assert code == 0
        out[name] = fit
    out["tmp"] = tmp
    return out


def _quiet():
    import contextlib
    import io
    import warnings

    @contextlib.contextmanager
    def cm():
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield

    return cm()


def test_fit_records_the_runs_architecture(fits):
    att, hye = FitResult.load(fits["att"]), FitResult.load(fits["hye"])
    assert att.architecture == FitArchitecture(
        mixer="attention", context=256, vocab=256, sparsity=0.0, flops_convention="palm"
    )
    assert hye.architecture.mixer == "hyena" and hye.version == "2"
    assert FitResult.load(fits["att6"]).architecture.flops_convention == "6nd"
    assert not att.has_flag("mixed_architecture")
    assert "fitted on: attention, context 256, vocab 256, dense; runs counted in palm FLOPs" in att.summary()
    # the record survives a save and a load unchanged
    again = fits["tmp"] / "again.json"
    att.save(again)
    assert FitResult.load(again).architecture == att.architecture
    assert recorded_architecture(str(fits["hye"]))[0] == hye.architecture
    # and the text its runs read: corpus and fingerprint (a growth experiment's savings check them)
    assert (att.data.corpus, att.data.corpus_fingerprint) == (["debian-docs"], ["sha256:x"])
    assert FitResult.load(again).data.corpus == ["debian-docs"]


def test_compare_uses_the_record_and_equals_the_explicit_flags(fits, cli):
    a, b = str(fits["att"]), str(fits["hye"])
    plain = cli("compare", a, b, "--flops", "3e11")
    flags = cli(
        "compare", a, b, "--flops", "3e11", "--mixer-a", "attention", "--mixer-b", "hyena",
        "--context", "256", "--vocab", "256", "--convention", "palm",
    )  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == flags.stdout and "note:" not in plain.stdout
    assert "[attention, context 256, vocab 256]" in plain.stdout and "[hyena, context 256, vocab 256]" in plain.stdout
    assert "(total, palm)" in plain.stdout
    assert "total FLOPs (palm)" in plain.stdout and "weight-only FLOPs (6nd)" in plain.stdout

    res = compare_fits(a, b, flops=3e11)
    total, weight = res.columns
    assert total.label == "total FLOPs (palm)" and total.headline and res.multiplier == total.multiplier
    # the total column is the comparison counted from the recorded architectures
    fa = arch_flops(mixer="attention", context=256, convention="palm", vocab=256)
    fb = arch_flops(mixer="hyena", context=256, convention="palm", vocab=256)
    direct = compute_multiplier(a, b, flops=3e11, flops_per_token_a=fa, flops_per_token_b=fb)
    assert total.multiplier == pytest.approx(direct.multiplier, rel=1e-12)
    assert total.interval == pytest.approx(direct.interval, rel=1e-12)
    # weight-only at the same loss: the fitted laws say B's parameters are worth about twice A's
    assert weight.label == "weight-only FLOPs (6nd)" and not weight.headline
    assert weight.multiplier == pytest.approx(2.0, rel=0.1)
    for c in (total, weight):  # each counting with its own interval from the bootstrap samples
        lo, hi = c.interval
        assert lo < c.multiplier < hi
    # at long context attention pays for its context, so the total multiplier is larger than the weight-only one
    assert total.multiplier > weight.multiplier
    d = json.loads(cli("compare", a, b, "--flops", "3e11", "--json").stdout)
    assert [c["label"] for c in d["columns"]] == ["total FLOPs (palm)", "weight-only FLOPs (6nd)"]
    assert d["multiplier"] == pytest.approx(total.multiplier)


def test_different_conventions_are_refused_unless_converted(fits, cli):
    a, b = str(fits["att6"]), str(fits["hye"])
    r = cli("compare", a, b, "--flops", "3e11")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "6nd" in r.stderr and "palm" in r.stderr and "--convention" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    with pytest.raises(ScalingError, match="different FLOP conventions"):
        compare_fits(a, b, target_loss=2.0)
    # restated in one convention, each side counted from its own architecture: the laws are the same
    # as the palm pair's (same losses), so the answer is the palm pair's
    r = cli("compare", a, b, "--flops", "3e11", "--convention", "palm")
    assert r.returncode == 0, r.stderr
    assert "--convention palm restates A's 6nd FLOPs" in r.stdout
    conv = compare_fits(a, b, flops=3e11, convention="palm")
    same = compare_fits(str(fits["att"]), b, flops=3e11)
    assert conv.multiplier == pytest.approx(same.multiplier, rel=1e-6)
    # restated as weight-only: the budget reads 6ND FLOPs and the headline is the weight-only column
    w = compare_fits(a, b, flops=3e11, convention="6nd")
    assert w.columns[1].headline and w.budget_label == "weight-only, 6nd"
    assert w.multiplier == pytest.approx(2.0, rel=0.1)


def test_explicit_flags_override_the_record_with_a_note(fits, cli):
    a, b = str(fits["att"]), str(fits["hye"])
    r = cli("compare", a, b, "--target-loss", "2.6", "--context", "2048")
    assert r.returncode == 0, r.stderr
    assert "note: --context 2048 overrides the context 256 recorded in A's fit" in r.stdout
    assert "[attention, context 2048, vocab 256]" in r.stdout
    longer = compare_fits(a, b, target_loss=2.6, context=2048)
    shorter = compare_fits(a, b, target_loss=2.6)
    assert longer.multiplier > shorter.multiplier  # attention's context work grows with the context
    assert longer.columns[1].multiplier == pytest.approx(shorter.columns[1].multiplier)  # weight-only: no context


def test_old_fit_files_load_and_say_which_flags_to_pass(fits, cli):
    old = fits["tmp"] / "old.json"
    data = json.loads(fits["att"].read_text())
    del data["architecture"]
    data["version"] = "1"
    old.write_text(json.dumps(data))
    assert FitResult.load(old).architecture is None
    r = cli("compare", str(old), str(fits["hye"]), "--flops", "3e11")
    assert r.returncode == 0 and "Traceback" not in r.stderr
    note = [x for x in r.stdout.splitlines() if "records no architecture" in x]
    assert len(note) == 1 and "--mixer-a, --context, --vocab" in note[0] and "version 1" in note[0]
    assert "weight-only, 6nd" in r.stdout  # without A's architecture the budget is weight-only FLOPs
    # the flags supply what the file does not record: the answer of the recorded pair
    r2 = cli("compare", str(old), str(fits["hye"]), "--flops", "3e11", "--mixer-a", "attention", "--context", "256",
             "--vocab", "256")  # fmt: skip
    r3 = cli("compare", str(fits["att"]), str(fits["hye"]), "--flops", "3e11")
    assert r2.stdout.replace(str(old), "X") == r3.stdout.replace(str(fits["att"]), "X")
    # what neither the file nor the flags say is assumed, and said
    r4 = cli("compare", str(old), str(fits["hye"]), "--flops", "3e11", "--mixer-a", "attention")
    assert "note: A records no context: 2048 assumed (pass --context)" in r4.stdout
    assert "note: A records no vocab: 50257 assumed (pass --vocab)" in r4.stdout
    assert "A and B have different vocabularies (50257 vs 256)" in r4.stdout
    # a malformed record is one line naming the file
    bad = fits["tmp"] / "bad.json"
    data["architecture"] = {"mixer": "attention", "context": -3}
    bad.write_text(json.dumps(data))
    r = cli("compare", str(bad), str(fits["hye"]), "--flops", "3e11")
    assert r.returncode == 2 and "bad.json" in r.stderr and "context" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    with pytest.raises(ScalingError, match="not a valid fit file"):
        FitResult.load(bad)


def test_mixed_runs_are_flagged_and_refused(fits, cli):
    tmp = fits["tmp"]
    both = pd.concat([pd.read_csv(tmp / "att-runs.csv"), pd.read_csv(tmp / "hye-runs.csv")], ignore_index=True)
    both["run_id"] = both["sweep"] + "/" + both["run_id"]
    both.to_csv(tmp / "both.csv", index=False)
    from scaling.fit import fit

    with _quiet():
        res = fit(tmp / "both.csv")
    assert res.architecture.mixer is None and res.architecture.mixed == {"mixer": ["attention", "hyena"]}
    assert res.has_flag("mixed_architecture")
    res.save(tmp / "both-fit.json")
    r = cli("compare", str(tmp / "both-fit.json"), str(fits["hye"]), "--flops", "3e11")
    assert r.returncode == 2 and "mixed mixer (attention, hyena)" in r.stderr and "--mixer-a" in r.stderr
    r = cli("compare", str(tmp / "both-fit.json"), str(fits["hye"]), "--flops", "3e11", "--mixer-a", "attention")
    assert r.returncode == 0 and "--mixer-a attention stands for the mixed mixer" in r.stdout


def test_published_laws_compare_weight_only_with_a_note(cli):
    r = cli("compare", "frantar-2024", "frantar-2024", "--sparsity-b", "0.75", "--target-loss", "2.5")
    assert r.returncode == 0
    assert "compute multiplier of B over A: 2.16x in weight-only FLOPs (6nd)" in r.stdout
    assert "neither A nor B records its architecture (a published law)" in r.stdout
    total = [x for x in r.stdout.splitlines() if x.startswith("multiplier of B over A")][0]
    assert total.split()[5] == "-"  # the total column cannot be counted, and says so


def test_architecture_info_reads_the_table():
    df = pd.DataFrame(
        {
            "mixer": ["attention", "Attention ", "attention"],
            "context": [1024.0, 1024.0, 1024.0],
            "vocab": [256, 256, 512],
            "sparsity": [0.0, 0.5, np.nan],
        }
    )
    info = architecture_info(df)
    assert info["mixer"] == "attention" and info["context"] == 1024 and isinstance(info["context"], int)
    assert info["vocab"] is None and info["mixed"]["vocab"] == [256, 512]
    assert info["mixed"]["sparsity"] == [0.0, 0.5, None]  # a run that does not say is not taken as dense
    assert info["flops_convention"] is None  # no such column: the runs do not say
    arch = FitArchitecture(**info)
    assert arch.known and "vocab 256, 512" in arch.mixed_line()
    assert not FitArchitecture(**architecture_info(pd.DataFrame({"params": [1.0]}))).known
    for bad in ({"context": 0}, {"sparsity": 1.0}, {"vocab": 2.5}, {"mixed": {"width": [1, 2]}}, {"colour": "red"}):
        with pytest.raises(ValueError):
            FitArchitecture(**bad)
    assert math.isclose(FitArchitecture(sparsity=0.75).sparsity, 0.75)
