"""The sweep results committed under data/ are what their run stores and the fitter say they are,
and the multipliers the README quotes come out of the committed fits."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scaling import store
from scaling.fit.api import fit
from scaling.laws.registry import load_law
from scaling.planner.compare import compare_fits
from scaling.planner.equivalence import dense_equivalent_fits
from scaling.planner.multiplier import arch_flops, compute_multiplier

DATA = Path(__file__).resolve().parents[1] / "data"

# runs table -> the run store it was collected from
TABLES = {
    "cpu-isoflop-runs.csv": "runs/cpu-isoflop",
    "cpu-isoflop-h100-runs.csv": "runs-h100/cpu-isoflop",
    "cpu-isoflop-v2-runs.csv": "runs/cpu-isoflop-v2",
    "arch-paper-attention-runs.csv": "runs/arch-paper-attention",
    "arch-paper-hyena-runs.csv": "runs/arch-paper-hyena",
    "arch-cpu-attention-runs.csv": "runs/arch-cpu-attention",
    "arch-cpu-hyena-runs.csv": "runs/arch-cpu-hyena",
    "arch-cpu-attention-h100-runs.csv": "runs-h100/arch-cpu-attention",
    "arch-cpu-hyena-h100-runs.csv": "runs-h100/arch-cpu-hyena",
    "sparse-cpu-s0-runs.csv": "runs/sparse-cpu-s0",
    "sparse-cpu-s50-runs.csv": "runs/sparse-cpu-s50",
    "sparse-cpu-s75-runs.csv": "runs/sparse-cpu-s75",
    "sparse-long-s0-runs.csv": "runs/sparse-long-s0",
    "sparse-long-s50-runs.csv": "runs/sparse-long-s50",
    "sparse-long-s50-2of4-runs.csv": "runs/sparse-long-s50-2of4",
    "sparse-long-s75-runs.csv": "runs/sparse-long-s75",
    "sparse-long-s50-magnitude-runs.csv": "runs/sparse-long-s50-magnitude",
    "sparse-long-s75-magnitude-runs.csv": "runs/sparse-long-s75-magnitude",
    "lr-probe-v2-runs.csv": "runs/lr-probe-v2",
    "shape-probe-v2-runs.csv": "runs/shape-probe-v2",
}


@pytest.mark.parametrize("table,root", sorted(TABLES.items()))
def test_runs_table_is_its_store(table, root):
    """Every row of a committed runs table is its run in the store, with the same numbers. A sweep in
    progress commits finished runs as they land while its table stays the snapshot its fit and the
    README quote, so the store may hold more finished runs than the table (never fewer)."""
    committed = pd.read_csv(DATA / table).set_index("run_id").sort_index()
    fresh = store.collect(DATA / root).set_index("run_id").sort_index()
    assert set(committed.index) <= set(fresh.index), sorted(set(committed.index) - set(fresh.index))
    fresh = fresh.loc[committed.index]
    for col in ("params", "tokens", "flops", "loss"):
        np.testing.assert_allclose(
            committed[col].to_numpy(float), fresh[col].to_numpy(float), rtol=1e-12, err_msg=f"{table}: column {col}"
        )


@pytest.mark.parametrize(
    "name", ["arch-cpu-attention", "arch-cpu-hyena", "arch-paper-attention", "arch-paper-hyena", "cpu-isoflop"]
)
def test_committed_approach3_fit_is_reproduced(name):
    """Refitting the committed table (no bootstrap) gives the committed point estimates."""
    committed = json.loads((DATA / f"{name}-fit-approach3.json").read_text())
    again = fit(DATA / f"{name}-runs.csv", method="approach3")
    for k, v in committed["params"].items():
        assert again.params[k] == pytest.approx(v, rel=1e-3, abs=1e-6), k


@pytest.mark.parametrize("name", ["cpu-isoflop", "cpu-isoflop-h100"])
def test_committed_approach2_fit_and_its_bootstrap_are_reproduced(name):
    """The committed Approach 2 fits are what `scaling fit <table> --method approach2 --bootstrap 1000
    --seed 0` writes: the same estimates, and (each resample from its own seeded stream) the same
    failed refits and intervals. A change to the resampling or its seeding shows here first."""
    committed = json.loads((DATA / f"{name}-fit-approach2.json").read_text())
    again = fit(DATA / f"{name}-runs.csv", method="approach2", bootstrap=1000, seed=0)
    assert again.bootstrap.n == 1000 and again.bootstrap.n_failed == committed["bootstrap"]["n_failed"]
    assert again.bootstrap.failed == committed["bootstrap"]["failed"]
    for k, v in committed["params"].items():
        assert again.params[k] == pytest.approx(v, rel=1e-9), k
    assert set(again.intervals) == set(committed["intervals"])
    for k, (lo, hi) in committed["intervals"].items():
        assert again.intervals[k] == pytest.approx((lo, hi), rel=1e-9), k


V2_WHERE = "batch_size == 32 and budget >= 3e12"


@pytest.mark.parametrize("method", ["approach3", "approach2"])
def test_v2_law_is_reproduced_and_quoted_in_readme(method):
    """The project's law: the committed v2 fits are `scaling fit` of the committed table with the
    README's filter and the seed means (the same points, the same estimates), every run is within one
    epoch, and the exponent with its interval is the one the README prints."""
    committed = json.loads((DATA / f"cpu-isoflop-v2-fit-{method}.json").read_text())
    filters = committed["data"]["filters"]
    assert filters[0] == f"where: {V2_WHERE}" and filters[1].startswith("replicates averaged: ")
    assert committed["bootstrap"]["n"] == 1000 and committed["seed_noise"]["point_scale"] < 1
    again = fit(DATA / "cpu-isoflop-v2-runs.csv", method=method, where=V2_WHERE, mean_seeds=True)
    assert again.data.fingerprint == committed["data"]["fingerprint"]
    assert again.data.n_rows == committed["data"]["n_rows"] == 26  # 4 budgets x 6-7 sizes at batch 32
    for k, v in committed["params"].items():
        assert again.params[k] == pytest.approx(v, rel=1e-3, abs=1e-6), k
    a, (lo, hi) = {**committed["params"], **committed["derived"]}["a"], committed["intervals"]["a"]
    readme = (DATA.parent / "README.md").read_text()
    assert f"a = {a:.4f} ({lo:.4f}, {hi:.4f})" in readme
    runs = pd.read_csv(DATA / "cpu-isoflop-v2-runs.csv")
    assert runs["epochs"].max() < 1 and (runs["flops_convention"] == "palm").all()
    if method == "approach3":  # what the README reports of the interval of a and of the refits
        assert f"a's interval is {hi - lo:.2f} wide" in " ".join(readme.split())
        b = committed["bootstrap"]
        assert (b["n_failed"] + b.get("n_on_bound", 0)) / b["n"] < 0.05


def test_v2_residuals_by_size_are_quoted_in_readme():
    """The README's per-size offsets of the v2 law (one observation per trunk) and their F test."""
    from scaling.fit.holdout import score_runs

    with pytest.warns(UserWarning, match="2 versions of its text"):
        scores = score_runs(
            DATA / "cpu-isoflop-v2-fit-approach3.json", DATA / "cpu-isoflop-v2-runs.csv", where=V2_WHERE, by=["params"]
        )
    groups = scores.groups
    assert groups is not None and groups.unit == "trunk" and len(groups.groups) == 10
    readme = " ".join((DATA.parent / "README.md").read_text().split())
    g330 = next(g for g in groups.groups if g.group == "params=330288")
    assert g330.units == 4 and g330.high is not None and g330.high < 0
    assert f"{100 * g330.mean:.2f}% (95% {100 * g330.low:.2f}% to {100 * g330.high:.2f}% over 4 trunks)" in readme
    assert f"F = {groups.f_statistic:.2f}, p = {groups.p_value:.2g}" in readme
    assert " ".join(groups.summary().splitlines()[-1].split()) in readme


@pytest.mark.slow  # 5 s; the fast suite checks the 1e13 figure through the README's golden output
def test_hyena_multiplier_quoted_in_readme():
    """README / docs/architectures.md: Hyena over attention at context 1024, palm FLOPs:
    4.33x (2.95 .. 6.01) at 1e13 and 3.90x (2.39 .. 6.40) at 2e13."""
    att = load_law(DATA / "arch-cpu-attention-fit-approach3.json")
    hye = load_law(DATA / "arch-cpu-hyena-fit-approach3.json")
    fa = arch_flops(mixer="attention", context=1024, vocab=256, convention="palm")
    fb = arch_flops(mixer="hyena", context=1024, vocab=256, convention="palm")
    for flops, m, lo, hi in ((1e13, 4.33, 2.95, 6.01), (2e13, 3.90, 2.39, 6.40)):
        c = compute_multiplier(att, hye, flops=flops, flops_per_token_a=fa, flops_per_token_b=fb)
        assert round(c.multiplier, 2) == m
        assert round(c.interval[0], 2) == lo and round(c.interval[1], 2) == hi
        assert c.interval[0] > 1  # the interval excludes "no difference"


# budget (palm FLOPs) -> (total multiplier, its interval, weight-only multiplier, its interval)
PAPER_REGIME = {
    7.94e12: (1.18, (1.09, 1.43), 1.02, (0.943, 1.24)),
    1.26e13: (1.20, (1.10, 1.39), 1.05, (0.966, 1.22)),
    2e13: (1.22, (1.13, 1.35), 1.08, (1.00, 1.20)),
    3.16e13: (1.27, (1.11, 1.41), 1.13, (0.993, 1.26)),
}


@pytest.mark.slow  # 30 s (4 budgets x 991 samples); the fast suite checks the 2e13 row via the README's golden
def test_hyena_multiplier_at_the_papers_attention_share_is_quoted():
    """README / docs/architectures.md: Hyena over attention where attention's context work is 15-25%
    of 6N (context 96), from `scaling compare` of the two committed fits with no flags (the fits
    record mixer, context, vocabulary and convention): about 1.2x under palm FLOPs with intervals
    above 1 at every budget, about 1.05-1.13x under weight-only FLOPs with intervals reaching 1."""
    a, b = DATA / "arch-paper-attention-fit-approach3.json", DATA / "arch-paper-hyena-fit-approach3.json"
    docs = (DATA.parent / "docs" / "architectures.md").read_text()
    for flops, (m, (lo, hi), m6, (lo6, hi6)) in PAPER_REGIME.items():
        c = compare_fits(a, b, flops=flops)
        total, weights = c.columns
        assert "palm" in total.label and "6nd" in weights.label
        assert (total.multiplier, *total.interval) == pytest.approx((m, lo, hi), abs=0.005 + 0.005 * hi)
        assert (weights.multiplier, *weights.interval) == pytest.approx((m6, lo6, hi6), abs=0.005 + 0.005 * hi6)
        assert total.interval[0] > 1  # Hyena's palm-counted saving is measured, not noise
        assert weights.interval[0] < 1.005  # ... its weight-only one is not
        assert f"| {flops:.3g} | {m:.2f}x | {lo:.2f} .. {hi:.2f} | {m6:.2f}x | {lo6:.2f} .. {hi6:.2f} |" in docs


def test_sparse_multipliers_quoted_in_readme():
    """README / docs/architectures.md: at 1e13 FLOPs, 50% sparse 1.59x (1.0 .. 2.36) and 75% sparse
    1.62x (1.0 .. 2.65) over dense, from the CPU sparsity fit."""
    law = load_law(DATA / "sparse-cpu-fit.json")
    for s, m, hi in ((0.5, 1.59, 2.36), (0.75, 1.62, 2.65)):
        c = compute_multiplier(law, law, flops=1e13, sparsity_b=s)
        assert round(c.multiplier, 2) == m
        assert round(c.interval[0], 2) == 1.0 and round(c.interval[1], 2) == hi


@pytest.mark.parametrize("s", [0, 50, 75])
def test_per_sparsity_approach3_fit_is_reproduced(s):
    """Each sparsity's committed Approach 3 fit is its runs' (N = non-zero parameters), and records the sparsity."""
    committed = json.loads((DATA / f"sparse-cpu-s{s}-fit-approach3.json").read_text())
    assert (
        committed["architecture"]["sparsity"] == s / 100 and committed["data"]["columns"]["params"] == "nonzero_params"
    )
    again = fit(DATA / f"sparse-cpu-s{s}-runs.csv", method="approach3", params_col="nonzero_params")
    for k, v in committed["params"].items():
        assert again.params[k] == pytest.approx(v, rel=1e-3, abs=1e-6), k


# sparsity -> tokens per non-zero parameter -> (factor, interval, unreachable samples of n)
DENSE_EQUIVALENT = {
    50: {
        5: ("2.99x", "0.562 .. inf", "67 of 887"),
        15: ("1.55x", "0.713 .. 4.01", "4 of 887"),
        45: ("1.08x", "0.296 .. 3.72", "1 of 887"),
    },
    75: {
        5: ("10.6x", "0.548 .. inf", "165 of 903"),
        15: ("1.85x", "0.671 .. 15.1", "13 of 903"),
        45: ("0.973x", "0.226 .. 2.85", "0 of 903"),
    },
}


def test_dense_equivalent_of_per_sparsity_fits_is_quoted():
    """docs/architectures.md and README: the dense-equivalent factor at 50K non-zero parameters from one
    Approach 3 fit per sparsity, beside the sparsity law's (whose interval stops at 1); every interval of
    the per-sparsity estimator reaches below 1."""
    docs = (DATA.parent / "docs" / "architectures.md").read_text()
    readme = (DATA.parent / "README.md").read_text()
    frantar = json.loads((DATA / "sparse-cpu-fit.json").read_text())
    for s, rows in DENSE_EQUIVALENT.items():
        res = dense_equivalent_fits(
            DATA / "sparse-cpu-s0-fit-approach3.json",
            DATA / f"sparse-cpu-s{s}-fit-approach3.json",
            50e3,
            tokens_per_param=list(rows),
        )
        assert res.dense_sparsity == 0 and res.sparse_sparsity == s / 100
        key = f"dense_equivalent@{s / 100:g}"
        m, (lo, hi) = frantar["derived"][key], frantar["intervals"][key]
        assert round(lo, 2) == 1.0  # the sparsity law's floor
        law_cells = f"{m:.3g}x | 1.0 .. {hi:.3g}"
        for r, (tpp, (factor, interval, bad)) in zip(res.rows, rows.items()):
            hi_text = f"{r.interval[1]:.3g}" if np.isfinite(r.interval[1]) else "inf"
            assert (f"{r.factor:.3g}x", f"{r.interval[0]:.3g} .. {hi_text}") == (factor, interval)
            assert f"{r.n_unreachable} of {res.n_samples}" == bad
            assert r.interval[0] < 1  # the per-sparsity estimator can say "worse", and here cannot rule it out
            assert f"| {s}% | {tpp} | {factor} | {interval} | {bad} | {law_cells} |" in docs
        factor15, interval15, _ = rows[15]
        assert f"{factor15} ({interval15.replace(' .. ', '-')}) at {s}%" in readme


def test_the_refetch_replicates_pair_with_their_first_runs(cli):
    """data/runs-refetch holds 18 runs of sparse-long-s0 trained again (same configs and seed) on the
    refetched debian-docs-large: `sweep compare --root-b` pairs them with the first runs and prints
    the figures the docs quote."""
    root = Path(__file__).resolve().parents[1]
    spec = str(root / "sweeps" / "sparse-long-s0.toml")
    r = cli("sweep", "compare", spec, spec, "--root", str(DATA / "runs"), "--root-b", str(DATA / "runs-refetch"))
    assert r.returncode == 0, r.stderr
    assert "18 matched runs: loss_wsd_b / loss_wsd_a - 1: mean -0.629% (95% interval -2.69% to +1.43%" in r.stdout
    assert "sd 4.136%" in r.stdout and "largest 9.500% (N20.6K-D1.65M-1x32-s0)" in r.stdout
    fps = {json.loads(p.read_text())["corpus_fingerprint"] for p in (DATA / "runs-refetch").rglob("result.json")}
    first = {
        json.loads(p.read_text())["corpus_fingerprint"] for p in (DATA / "runs/sparse-long-s0").rglob("result.json")
    }
    assert len(fps) == len(first) == 1 and fps != first  # another version of the corpus text


@pytest.mark.parametrize("family,n", [("sparse-cpu", 36), ("sparse-long", 108)])
def test_collect_of_several_specs_is_the_joined_table(cli, tmp_path, family, n):
    """`sweep collect A B C --out T` writes one table, run ids prefixed with their sweep when the
    sweeps share ids: the committed data/sparse-cpu-runs.csv (joined by hand before) and
    data/sparse-long-runs.csv (the random-mask files) are that table."""
    root = Path(__file__).resolve().parents[1]
    specs = [str(root / "sweeps" / f"{family}-s{s}.toml") for s in (0, 50, 75)]
    out = tmp_path / "joined.csv"
    r = cli("sweep", "collect", *specs, "--root", str(DATA / "runs"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert f"wrote {n} runs" in r.stdout and "run ids prefixed with their sweep" in r.stdout
    new, old = pd.read_csv(out).set_index("run_id"), pd.read_csv(DATA / f"{family}-runs.csv").set_index("run_id")
    assert sorted(new.index) == sorted(old.index)
    assert np.allclose(new.loc[old.index, "loss"], old["loss"], rtol=0, atol=0)
    r = cli("sweep", "collect", specs[0], specs[0], "--root", str(DATA / "runs"), "--out", str(out))
    assert r.returncode != 0 and "given twice" in r.stderr


def test_sparse_long_dense_equivalent_is_quoted():
    """docs/architectures.md's sparse-long table comes out of the two committed fits."""
    docs = (DATA.parent / "docs" / "architectures.md").read_text()
    for name, label in (
        ("s50", "50%, random"),
        ("s50-magnitude", "50%, magnitude"),
        ("s50-2of4", "50%, 2:4, magnitude"),
        ("s75", "75%, random"),
        ("s75-magnitude", "75%, magnitude"),
    ):
        res = dense_equivalent_fits(
            DATA / "sparse-long-s0-fit-approach3.json",
            DATA / f"sparse-long-{name}-fit-approach3.json",
            50e3,
            tokens_per_param=[20, 80, 320],
        )
        for r in res.rows:
            hi = f"{r.interval[1]:.3g}" if np.isfinite(r.interval[1]) else "inf"
            bad = f"{r.n_unreachable} of {res.n_samples}" if r.n_unreachable else "0"
            row = (
                f"| {name} ({label}) | {r.tokens_per_param:g} | {r.factor:.3g}x | {r.interval[0]:.3g} .. {hi} | {bad} |"
            )
            assert row in docs, row


def test_sparse_long_sparsity_law_is_quoted():
    """docs/architectures.md quotes the committed Frantar-form fit over the long grid: its
    dense-equivalent factors with their intervals and its bootstrap line."""
    fitted = json.loads((DATA / "sparse-long-fit.json").read_text())
    assert fitted["method"] == "sparsity" and fitted["options"]["bootstrap_by"] == ["sweep", "trunk"]
    docs = (DATA.parent / "docs" / "architectures.md").read_text()
    parts = []
    for s in ("0.5", "0.75"):
        v, (lo, hi) = fitted["derived"][f"dense_equivalent@{s}"], fitted["intervals"][f"dense_equivalent@{s}"]
        assert lo >= 1 - 1e-9  # the form's floor
        parts.append(f"{float(s):.0%} {v:.3g}x ({lo:.3g} .. {hi:.3g})")
    assert ", ".join(parts) in docs


@pytest.mark.slow  # about 30 s: the multi-start sparsity fit
def test_sparse_long_sparsity_law_is_reproduced():
    committed = json.loads((DATA / "sparse-long-fit.json").read_text())
    again = fit(DATA / "sparse-long-runs.csv", method="sparsity", where="d_model >= 32 and tokens_per_param >= 15")
    assert again.data.fingerprint == committed["data"]["fingerprint"] and again.data.n_rows == 75
    for k, v in committed["params"].items():
        assert again.params[k] == pytest.approx(v, rel=1e-3, abs=1e-6), k


@pytest.mark.slow  # about 10 s: 1000 refits
def test_v2_trunk_bootstrap_row_is_quoted():
    """The README's cluster-bootstrap table: the v2 runs fitted one by one, resampling their trunks."""
    res = fit(
        DATA / "cpu-isoflop-v2-runs.csv",
        where=V2_WHERE,
        budgets=[3.16e12, 1e13, 3.16e13, 1e14],
        bootstrap=1000,
        bootstrap_by=["trunk"],
        seed=0,
    )
    lo, hi = res.intervals["a"]
    readme = (DATA.parent / "README.md").read_text()
    assert f"| {res.derived['a']:.4f} ({lo:.4f}, {hi:.4f}) | {res.bootstrap.n_failed} | 0 |" in readme


def test_v2_long_runs_noise_and_size_offsets_are_quoted(tmp_path):
    """README: over the v2 points of 900 steps or more the seed noise is below the surface's misfit,
    and by trunk the sizes' offsets are significant."""
    from scaling.fit.holdout import score_runs

    where = "batch_size == 32 and steps >= 900"
    res = fit(DATA / "cpu-isoflop-v2-runs.csv", where=where, mean_seeds=True)  # seeds 0 and 1: one text
    assert not res.flags
    noise = res.seed_noise
    readme = " ".join((DATA.parent / "README.md").read_text().split())
    lo, hi = noise.interval
    assert f"the seed noise of a run is {100 * noise.sd_log_loss:.2f}% ({100 * lo:.2f}-{100 * hi:.2f}%)" in readme
    assert f"misses by more, {100 * res.residuals['rmse_log_loss']:.2f}%" in readme
    saved = tmp_path / "long.json"
    res.save(saved)
    groups = score_runs(saved, DATA / "cpu-isoflop-v2-runs.csv", where=where, by=["params"]).groups
    assert groups is not None and groups.p_value < 0.05
    assert f"F = {groups.f_statistic:.2f} on ({groups.df[0]}, {groups.df[1]}) df, p = {groups.p_value:.2g}" in readme
    assert f"carry {100 * groups.share:.0f}% of the trunks' sum of squares" in readme


def test_lr_probe_of_the_330k_model_is_quoted(cli):
    """README: the 330K model's offset below the v2 law repeats on a rerun and is not its rate: the
    rule's rate ends lowest in every seed and at both token counts."""
    from scaling.fit.holdout import score_runs

    runs = pd.read_csv(DATA / "lr-probe-v2-runs.csv")
    runs["mult"] = runs["run_id"].str.extract(r"-lr([0-9.]+)x-")[0].astype(float)
    best = runs.loc[runs.groupby(["seed", "tokens"])["loss"].idxmin()]
    assert len(best) == 4 and (best["mult"] == 1.0).all()
    readme = " ".join((DATA.parent / "README.md").read_text().split())
    groups = score_runs(DATA / "cpu-isoflop-v2-fit-approach3.json", DATA / "lr-probe-v2-runs.csv", by=["lr"]).groups
    assert groups is not None and [g.units for g in groups.groups] == [2, 2, 2]
    quoted = ", ".join(f"{m} {100 * g.mean:+.2f}%" for m, g in zip(("0.5x", "1x", "2x"), groups.groups))
    assert f"against the law: {quoted})" in readme
    root = Path(__file__).resolve().parents[1]
    r = cli(
        "sweep",
        "compare",
        str(root / "sweeps/cpu-isoflop-v2.toml"),
        str(root / "sweeps/lr-probe-v2.toml"),
        "--same-lr",
        "--root",
        str(DATA / "runs"),
    )
    assert r.returncode == 0, r.stderr
    assert "4 matched runs: loss_wsd_b / loss_wsd_a - 1: mean +0.434% (95% interval -0.76% to +1.63%" in r.stdout
    assert "mean +0.434%, 95% -0.76% to +1.63%, largest 1.254%" in readme and "largest 1.254%" in r.stdout


def test_shape_probe_at_the_330k_size_is_quoted():
    """README: two other shapes of the 330K model's size, scored against the v2 law by depth."""
    from scaling.fit.holdout import score_runs

    groups = score_runs(
        DATA / "cpu-isoflop-v2-fit-approach3.json", DATA / "shape-probe-v2-runs.csv", by=["n_layer"]
    ).groups
    assert groups is not None and [(g.group, g.units, g.runs) for g in groups.groups] == [
        ("n_layer=3", 2, 4),
        ("n_layer=4", 2, 4),
    ]
    three, four = (g.mean for g in groups.groups)
    readme = " ".join((DATA.parent / "README.md").read_text().split())
    assert f"3 x 96 {100 * three:+.2f}% and 4 x 80 {100 * four:+.2f}%" in readme
    two = (
        score_runs(
            DATA / "cpu-isoflop-v2-fit-approach3.json",
            DATA / "lr-probe-v2-runs.csv",
            where="lr > 0.003 and lr < 0.005",
            by=["n_layer"],
        )
        .groups.groups[0]
        .mean
    )
    assert f"the 2 x 112 reruns' {100 * two:.2f}%" in readme
    spread = np.array([two, three, four])
    assert f"about {100 * (spread.max() - spread.min()):.1f} points" in readme
    assert f"a standard deviation of about {100 * spread.std(ddof=1):.1f}%" in readme


def test_wsd_against_cosine_is_quoted(cli, tmp_path):
    """README: branched WSD against cosine-to-budget, seed 0 at the best of three rates and every
    seed the v2 sweep trained, by pair and by point; data/wsd-vs-cosine.csv is what the command
    writes."""
    root = Path(__file__).resolve().parents[1]
    specs = [str(root / "sweeps" / f"{n}.toml") for n in ("wsd-vs-cosine", "wsd-vs-cosine-lr", "wsd-vs-cosine-seeds")]
    v2 = str(root / "sweeps" / "cpu-isoflop-v2.toml")
    readme = (root / "README.md").read_text()
    out = tmp_path / "pairs.csv"
    runs = ["--root", str(DATA / "runs")]
    for args, lines in (
        ([specs[0], v2], 1),
        ([*specs[:2], v2, "--best"], 1),
        ([*specs[:2], v2, "--best", "--min-steps", "900"], 1),
        ([*specs, v2, "--best", "--out", str(out)], 2),
        ([*specs, v2, "--best", "--min-steps", "900"], 2),
    ):
        r = cli("sweep", "compare", *args, *runs)
        assert r.returncode == 0, r.stderr
        summary = [ln for ln in r.stdout.splitlines() if "matched runs:" in ln or "seed pairs:" in ln]
        assert len(summary) == lines
        for ln in summary:
            assert ln in readme, ln
    committed = pd.read_csv(DATA / "wsd-vs-cosine.csv")
    written = pd.read_csv(out)
    assert len(committed) == 24 and list(committed.columns) == list(written.columns)
    pd.testing.assert_frame_equal(committed, written, rtol=1e-12)


@pytest.mark.parametrize("name,sparsity", [("s50-2of4", 0.5), ("s50-magnitude", 0.5), ("s75-magnitude", 0.75)])
def test_sparse_long_magnitude_fits_are_quoted(name, sparsity):
    """docs/architectures.md's sentences on the pruned-mask fits come out of the committed fits."""
    fit = json.loads((DATA / f"sparse-long-{name}-fit-approach3.json").read_text())
    docs = " ".join((DATA.parent / "docs" / "architectures.md").read_text().split())
    rmse, boot, worst = fit["residuals"]["rmse_log_loss"], fit["bootstrap"], fit["worst_run"]
    assert fit["architecture"]["sparsity"] == sparsity and worst["run_id"].endswith("-2x80-s0")
    assert worst["tokens"] / 174e3 == pytest.approx(20, rel=0.01)  # 20 tokens per total parameter
    side = "above" if worst["rel_error"] < 0 else "below"  # rel_error = (fitted - loss) / loss
    quote = (
        f"RMSE {100 * rmse:.2f}%, {boot['n_on_bound']} of 1,000 refits with a parameter on a bound, "
        f"{boot['n_failed']} failed, its 2 x 80 run at 20 tokens per total parameter "
        f"{100 * abs(worst['rel_error']):.1f}% {side} the surface"
    )
    assert quote in docs, quote
