"""Issue 14, the fit and plan side: large tables in bounded memory, fits that always plan (or say why
not), plausibility warnings on the runs, fit files whose samples disagree with their parameters, and
the small CLI items (read-only output folders, number formatting, budgets, hints)."""

from __future__ import annotations

import json
import math
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

from scaling.errors import ScalingError
from scaling.fit import _surface as surface
from scaling.fit import synthetic, vp_profile
from scaling.fit.allocation import allocation_fit
from scaling.fit.api import UNUSABLE, fit, flag_unusable
from scaling.fit.multistart import approach3_optimum
from scaling.fit.result import FitResult


@pytest.fixture(scope="module")
def runs240():
    return synthetic.simulate_runs(noise=0.006, seed=1)


def logs(df):
    return tuple(np.log(df[c].to_numpy(dtype=float)) for c in ("params", "tokens", "loss"))


# ------------------------------------------------------------------------------------------------
# 1. memory: the start batch (Approach 3) and the exponent grid (VP) are evaluated in chunks


def test_small_tables_take_the_unchunked_path():
    assert surface.batch_rows(240, 4500) == 4500  # every start at once, as before the chunking
    assert surface.batch_rows(100_000) * 100_000 <= surface.BATCH_ELEMENTS
    assert surface.batch_rows(10**9) == 1


def test_chunked_approach3_finds_the_same_optimum(runs240, monkeypatch):
    args = logs(runs240)
    whole = approach3_optimum(*args)
    monkeypatch.setattr(surface, "BATCH_ELEMENTS", len(runs240) * 7)  # 7 starts at a time
    chunked = approach3_optimum(*args)
    # BLAS sums a small block in another order, so float32 exploration differs in the last bits;
    # the optimum is the same to the precision of the polish
    assert chunked.objective == pytest.approx(whole.objective, rel=1e-9)
    np.testing.assert_allclose(chunked.theta, whole.theta, rtol=1e-5, atol=1e-6)


def test_chunked_lm_batch_with_per_row_weights(runs240, monkeypatch):
    d = surface._Data(*logs(runs240), surface.DELTA)
    rng = np.random.default_rng(0)
    starts = surface.start_grid()[rng.choice(4500, 40, replace=False)]
    W = rng.integers(0, 3, size=(40, len(runs240))).astype(float)
    one, whole = (surface.lm_batch(starts, d, weights=W, max_iter=k) for k in (1, 400))
    monkeypatch.setattr(surface, "BATCH_ELEMENTS", len(runs240) * 3)
    one_c, chunked = (surface.lm_batch(starts, d, weights=W, max_iter=k) for k in (1, 400))
    # one step: the same arithmetic row by row (up to BLAS's summation order)
    np.testing.assert_allclose(one_c.f, one.f, rtol=1e-12)
    np.testing.assert_allclose(one_c.theta, one.theta, rtol=1e-10, atol=1e-12)
    # to convergence: the same end points
    both = whole.converged & chunked.converged
    assert both.sum() >= 30
    np.testing.assert_allclose(chunked.f[both], whole.f[both], rtol=1e-7)


def test_chunked_vp_finds_the_same_optimum(runs240, monkeypatch):
    N, D, L = (runs240[c].to_numpy(dtype=float) for c in ("params", "tokens", "loss"))
    whole = vp_profile.vp_optimum(N, D, L)
    monkeypatch.setattr(vp_profile, "BATCH_ELEMENTS", len(L) * 7)
    chunked = vp_profile.vp_optimum(N, D, L)
    # the objective to 1e-10; the parameters to 1e-6 (B sits in a flat direction: chunked sums round
    # differently, and with numpy 2.4 / scipy 1.17 it moved by 1.1e-8 relative)
    assert chunked["objective"] == pytest.approx(whole["objective"], rel=1e-10)
    for k in ("alpha", "beta", "E", "A", "B"):
        assert chunked[k] == pytest.approx(whole[k], rel=1e-6), k


def _peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_memory_follows_the_chunk_not_starts_times_runs(monkeypatch):
    # 4,500 starts x 500 runs = 2.25M elements; unchunked the iteration holds ~25 such arrays
    # (~200 MB in float32); with 64K-element chunks it needs a few MB beyond its inputs
    df = synthetic.simulate_runs(budgets=np.geomspace(1e18, 1e20, 10), n_per_budget=50, seed=3)
    d = surface._Data(*logs(df), surface.DELTA).with_dtype(np.float32)
    monkeypatch.setattr(surface, "BATCH_ELEMENTS", 1 << 16)
    assert _peak_mb(lambda: surface.lm_batch(surface.start_grid(), d, max_iter=2)) < 30
    N, D, L = (df[c].to_numpy(dtype=float) for c in ("params", "tokens", "loss"))
    monkeypatch.setattr(vp_profile, "BATCH_ELEMENTS", 1 << 16)
    alpha = np.repeat(np.linspace(0.1, 1.0, 50), 50)
    beta = np.tile(np.linspace(0.1, 1.0, 50), 50)
    assert _peak_mb(lambda: vp_profile.profile(alpha, beta, N, D, L, iters=3)) < 30


# ------------------------------------------------------------------------------------------------
# 2. every fit written either plans or says why it cannot


def test_few_dof_samples_are_all_plannable():
    # 3 budgets: 1 degree of freedom, Cauchy-tailed draws; some overflow k_N = exp(log k_N)
    x = np.log([1e17, 1e18, 1e19])
    yN = np.log(0.05) + 0.5 * x + np.array([0.0, 0.3, -0.2])
    yD = x - math.log(6) - yN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = allocation_fit(x, yN, yD, level=0.95, at=np.array([1e21]), seed=0)
    S = out["samples"]
    assert S is not None and len(S) >= 900
    assert np.all(np.isfinite(S)) and np.all(S[:, 0] > 0) and np.all(S[:, 2] > 0)
    assert any(
        f.code == "samples_dropped" and "were not finite" in f.message and "1 degree" in f.message for f in out["flags"]
    )


def test_plan_with_an_allocation_fit_is_quiet():
    df = synthetic.simulate_runs(budgets=[1e18, 3e18, 1e19, 3e19], n_per_budget=9, seed=2, noise=0.01)
    res = fit(df, method="approach2")
    assert res.plan_problem() is None
    assert not res.has_flag("unusable")
    from scaling.planner import plan

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "All-NaN slice encountered" among others
        p = plan([1e19, 1e20], law=res.to_law())
    assert p[0].interval and "params" in p[0].interval


def _degenerate_fit() -> FitResult:
    return FitResult(
        method="approach3",
        form="chinchilla",
        law={
            "form": "chinchilla",
            "name": "x",
            "params": {"E": 1.7, "A": 400.0, "B": 400.0, "alpha": 0.0, "beta": 0.3},
        },
        params={"E": 1.7, "A": 400.0, "B": 400.0, "alpha": 0.0, "beta": 0.3},
    )


def test_unusable_fit_is_flagged_and_gets_no_plan_hint():
    from scaling.cli.fit import _plan_hint

    res = flag_unusable(_degenerate_fit())
    flag = [f.message for f in res.flags if f.code == "unusable"]
    assert len(flag) == 1 and flag[0].startswith(f"{UNUSABLE}: ") and "alpha" in flag[0]
    assert flag_unusable(res).flags == res.flags  # flagged once
    hint = _plan_hint(res, "fit.json")
    assert hint.startswith("scaling plan cannot use it:") and "use:" not in hint


def test_plan_hint_quotes_the_path_and_picks_a_budget_near_the_data(runs240):
    from scaling.cli.fit import _plan_hint

    res = fit(runs240, method="approach2")
    hint = _plan_hint(res, "my fits/a2 fit.json")
    assert hint == "use: scaling plan 1e22 --law 'my fits/a2 fit.json'"  # the runs reach 3e21 FLOPs


def test_report_gives_a_one_line_reason_for_an_unusable_fit(tmp_path, runs240):
    pytest.importorskip("matplotlib")
    from scaling.plots.report import report

    out = report(runs240, tmp_path / "r.html", fits=[flag_unusable(_degenerate_fit())])
    page = out.read_text()
    assert "This fit cannot plan: Chinchilla law parameter alpha must be positive" in page
    assert "no frontier figure for the approach3 fit" in page


def test_interval_of_a_quantity_no_sample_has_is_nan_without_a_warning():
    from scaling.laws import get_law

    law = get_law("chinchilla-approach1")
    law.samples = np.array([[law.k_N * f, law.a, law.k_D, law.b] for f in (0.9, 1.0, 1.1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lo, hi = law.interval(lambda lw: np.array([lw.frontier(1e21)[0], np.nan]))
    assert np.isfinite(lo[0]) and np.isnan(lo[1]) and np.isnan(hi[1])


def test_gadre_c4_approach2_plans(public_data, tmp_path, cli):
    out = tmp_path / "a2 fit.json"
    r = cli(
        "fit",
        str(public_data / "gadre2024" / "gadre2024_final_losses.csv"),
        "--where",
        "dataset == 'c4_original'",
        "--method",
        "approach2",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert f"use: scaling plan 1e22 --law '{out}'" in r.stdout
    p = cli("plan", "1e21", "--law", str(out))  # within 1000x of the largest run: no extrapolation warning
    assert p.returncode == 0, p.stderr
    assert p.stderr == ""  # no overflow, no All-NaN slice


# ------------------------------------------------------------------------------------------------
# 3. fit files whose samples disagree with their parameters are refused


@pytest.fixture(scope="module")
def boot_fit_file(tmp_path_factory, runs240):
    res = fit(runs240, method="approach2")  # 1,000 samples from the OLS estimates
    path = tmp_path_factory.mktemp("fits") / "a2.json"
    res.save(path)
    return path


def _edited(src, tmp_path, edit) -> str:
    d = json.loads(src.read_text())
    edit(d)
    out = tmp_path / "edited.json"
    out.write_text(json.dumps(d))
    return str(out)


def test_committed_and_fresh_fits_load(boot_fit_file):
    from pathlib import Path

    from scaling.laws.registry import load_law

    assert load_law(boot_fit_file).samples.shape[1] == 4
    for p in sorted((Path(__file__).resolve().parents[1] / "data").glob("*fit*.json")):
        load_law(p)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["law"]["params"].update(a=0.9), "samples disagree with its parameters: a = 0.9"),
        (
            lambda d: d["law"]["params"].update(k_N=d["law"]["params"]["k_N"] * 1e4),
            "samples disagree with its parameters: k_N",
        ),
        (lambda d: d["law"]["samples"][7].__setitem__(0, None), "law sample 7 is not finite"),
        (lambda d: d["law"]["samples"][3].__setitem__(0, -1.0), "law sample 3 is not a valid powerlaw law"),
        (lambda d: d["law"].update(samples=[[1.0, 0.5]] * 30), "rows of 4 numbers"),
    ],
)
def test_edited_fit_file_is_refused(boot_fit_file, tmp_path, edit, message, cli):
    path = _edited(boot_fit_file, tmp_path, edit)
    from scaling.laws.registry import load_law

    with pytest.raises(ScalingError, match="^" + str(path).replace(".", r"\.") + ": .*" + message.split(":")[0]):
        load_law(path)
    r = cli("plan", "1e22", "--law", path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr


def test_edit_that_leaves_each_parameter_in_range_is_caught_by_the_frontier(tmp_path, cli):
    from pathlib import Path

    src = Path(__file__).resolve().parents[1] / "data" / "cpu-isoflop-fit-approach3.json"
    # alpha's bootstrap spans 0.09..0.85 (alpha trades off against A), so 0.9 alone is in range;
    # the law it makes puts N_opt 200x below every sample's
    path = _edited(src, tmp_path, lambda d: d["law"]["params"].update(alpha=0.9))
    r = cli("plan", "1e15", "--law", path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "samples disagree with its parameters: its compute-optimal size at 1e+14 FLOPs" in r.stderr


# ------------------------------------------------------------------------------------------------
# 3. plausibility warnings from the runs loader, recorded in the fit's flags


def _load(df, **kw):
    from scaling.runs import RunsWarning, load_runs

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = load_runs(df, **kw)
    return out, [str(w.message) for w in caught if issubclass(w.category, RunsWarning)]


def test_params_in_millions_and_tokens_in_billions_warn(runs240):
    df = runs240.drop(columns=["flops", "budget"])
    millions = df.assign(params=df["params"] / 1e6)
    _, msgs = _load(millions)
    assert len(msgs) == 1 and "params ('params') below 1,000 in 120 of 240 runs" in msgs[0] and "millions" in msgs[0]
    from scaling.runs import RunsWarning

    with pytest.warns(RunsWarning, match="below 1,000"):
        res = fit(millions, method="approach3")
    assert any(
        f.code == "data_check" and f.message.startswith("data: params ('params') below 1,000") for f in res.flags
    )
    _, msgs = _load(df.assign(tokens=df["tokens"] / 1e9), log10=[])
    assert any("tokens ('tokens') below 1,000" in m for m in msgs)
    _, msgs = _load(df.assign(params=df["params"] / 1e3))  # thousands: 2e5..4e8 tokens per parameter
    assert len(msgs) == 1 and "tokens per parameter" in msgs[0]
    _, msgs = _load(df)
    assert msgs == []


def test_flops_far_from_6nd_warn(runs240):
    _, msgs = _load(runs240.assign(flops=runs240["flops"] * 3))
    assert len(msgs) == 1 and "FLOPs ('flops') are more than 1.5x from 6ND in 240 of 240 runs" in msgs[0]
    assert _load(runs240.assign(flops=runs240["flops"] * 1.3))[1] == []
    # a run that names another convention may count attention: only 10x is implausible there
    assert _load(runs240.assign(flops=runs240["flops"] * 3, flops_convention="palm"))[1] == []
    # a sparse run's FLOPs count its non-zero weights
    assert _load(runs240.assign(flops=runs240["flops"] * 0.25, sparsity=0.75))[1] == []


def test_mixed_data_sets_at_the_same_sizes_warn_and_name_the_column(runs240):
    other = runs240.assign(loss=runs240["loss"] * 1.05, corpus="b", run_id=runs240["run_id"] + "-b")
    mixed = __import__("pandas").concat([runs240.assign(corpus="a"), other], ignore_index=True)
    _, msgs = _load(mixed)
    assert len(msgs) == 1
    assert "240 repeated (params, tokens) pairs" in msgs[0] and "column 'corpus' varies (a, b)" in msgs[0]
    assert "--where \"corpus == 'a'\"" in msgs[0]
    # replicates that differ in their seed only are seed noise, not a mix
    seeds = __import__("pandas").concat(
        [runs240.assign(seed=0), other.drop(columns="corpus").assign(seed=1)], ignore_index=True
    )
    assert _load(seeds)[1] == []
    # ... also when another column is named after the seed (a branched sweep's trunk per seed)
    assert _load(seeds.assign(trunk=["t-s" + str(s) for s in seeds["seed"]]))[1] == []
    # but a column that varies between runs of one seed still marks a mix
    mixed_seeded = __import__("pandas").concat(
        [runs240.assign(corpus="a", seed=0), other.assign(seed=0)], ignore_index=True
    )
    assert "column 'corpus' varies" in _load(mixed_seeded)[1][0]
    # within seed noise: no warning even though a column varies
    close = other.assign(loss=runs240["loss"] * 1.002)
    assert _load(__import__("pandas").concat([runs240.assign(corpus="a"), close], ignore_index=True))[1] == []


def test_porian_mixed_data_sets_are_named(public_data, cli):
    path = public_data / "porian2024" / "porian_isoflop_points.csv"
    where = "label == 'Optimizer tuning (no decay)'"
    repeated = int(__import__("pandas").read_csv(path).query(where).duplicated(["N", "D"]).sum())  # 116 in porian2024
    r = cli("fit", str(path), "--method", "approach2", "--where", where)
    assert r.returncode == 0, r.stderr
    assert f"{repeated} repeated (params, tokens) pairs" in r.stderr and "column 'dataset'" in r.stderr
    assert f"data: {repeated} repeated (params, tokens) pairs" in r.stdout  # in the fit's flags too
    clean = cli(
        "fit",
        str(path),
        "--method",
        "approach2",
        "--where",
        "label == 'Optimizer tuning (no decay)' and dataset == 'rw'",
    )
    assert clean.returncode == 0 and "repeated" not in clean.stderr


def test_plausibility_is_linear_in_the_table():
    from scaling.runs import plausibility

    df = synthetic.simulate_runs(budgets=np.geomspace(1e18, 1e21, 50), n_per_budget=400, seed=0)
    df = df.assign(run_id=[f"r{i}" for i in range(len(df))], corpus="a")
    assert len(df) > 15000 and plausibility(df) == []


# ------------------------------------------------------------------------------------------------
# 4. small items


def test_unwritable_output_names_the_target(tmp_path, monkeypatch, capsys, runs240):
    import errno

    from scaling import _io
    from scaling.cli import main
    from scaling.errors import WriteError

    def refuse(*a, dir=None, **k):
        raise OSError(errno.EROFS, "Read-only file system", f"{dir}/.fit.json.x1y2.tmp")

    monkeypatch.setattr(_io.tempfile, "mkstemp", refuse)
    target = tmp_path / "out" / "fit.json"
    msg = r"^cannot write '.*/out/fit\.json': Read-only file system \(is the folder"
    with pytest.raises(WriteError, match=msg) as e:
        _io.atomic_write_text(target, "x")
    assert isinstance(e.value, OSError) and ".tmp" not in str(e.value)
    csv = tmp_path / "runs.csv"
    runs240.to_csv(csv, index=False)
    assert main(["fit", str(csv), "--method", "approach2", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" not in err and f"cannot write '{target}'" in err


def test_directory_as_output_is_one_line(tmp_path):
    from scaling._io import atomic_write_text
    from scaling.errors import WriteError

    (tmp_path / "fit.json").mkdir()
    with pytest.raises(WriteError, match="it is a directory"):
        atomic_write_text(tmp_path / "fit.json", "x")


@pytest.mark.parametrize(
    "value, text",
    [
        (999.99e6, "1B"),
        (1e6, "1M"),
        (999.99e3, "1M"),
        (999.6, "1K"),
        (999.4, "999"),
        (40.4e9, "40.4B"),
        (1.33e12, "1.33T"),
        (-999.99e3, "-1M"),
        (7216, "7.22K"),
        (0.5, "0.5"),
        (1e18, "1e+18"),
    ],
)
def test_si_never_rounds_into_1e3_of_a_unit(value, text):
    from scaling.units import si

    assert si(value) == text


def test_budget_plan_without_gpus_says_one_gpu():
    from scaling.planner import Hardware, format_table, plan

    one = format_table(plan(gpu_hours=[1e6], hardware=Hardware(accelerator="h100")))
    assert "days@1 " in one and "days on one GPU" in one and "1e+03K" not in one and " 1M " in one
    many = format_table(plan(1e24, hardware=Hardware(accelerator="h100", gpus=1024)))
    assert "days@1024" in many and "one GPU" not in many


@pytest.mark.parametrize(
    "argv, message",
    [
        (["plan", "-1e21"], "'-1e21' is negative; budgets (FLOPs) must be positive"),
        (["plan", "1e21", "-7e22"], "'-7e22' is negative; budgets (FLOPs) must be positive"),
        (["plan", "--params", "-7B"], "argument --params: '-7B' is negative; it must be positive"),
    ],
)
def test_negative_numbers_are_one_line_errors(argv, message, capsys):
    from scaling.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"scaling plan: error: {message}\n"


def test_isoflop_plot_without_interior_minima_has_no_phantom_parabolas():
    pytest.importorskip("matplotlib")
    import pandas as pd

    from scaling import plots
    from scaling.laws import get_law

    law = get_law("epoch-2024")
    rows = []
    for C in (1e18, 3e18, 1e19):  # every size far below the optimum: loss falls monotonically
        for N in np.geomspace(float(law.frontier(C)[0]) / 300, float(law.frontier(C)[0]) / 30, 6):
            rows.append((f"C{C:g}N{N:.3g}", N, C / (6 * N), C, float(law.loss(N, C / (6 * N)))))
    df = pd.DataFrame(rows, columns=["run_id", "params", "tokens", "flops", "loss"])
    msg = r"isoFLOP plot: no interior minimum at 3 of 3 budgets \(1e\+18, 3e\+18, 1e\+19"
    with pytest.warns(UserWarning, match=msg):
        fig = plots.isoflop(df)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert not any("parabola" in lab for lab in labels)
    assert len(plots.isoflop_data(df).no_interior_minimum) == 3
    note = [t for t in ax.texts if t.get_gid() == "no_minimum_note"]
    assert len(note) == 1 and "no parabola drawn" in note[0].get_text().replace("\n", " ")
    plots.close(fig)


def test_a_failed_fit_still_prints_the_loader_warnings(public_data, cli):
    # three data sets share every size, and at up to 20 tokens per parameter no budget holds three sizes
    r = cli(
        "fit",
        str(public_data / "gadre2024" / "gadre2024_final_losses.csv"),
        "--method",
        "approach2",
        "--where",
        "chinchilla_multiplier <= 1",
    )
    assert r.returncode == 2
    warn, err = r.stderr.strip().splitlines()
    assert warn.startswith("scaling: warning:") and "column 'dataset' varies" in warn
    assert err.startswith("scaling fit: error: Approach 2 needs at least 2 FLOP budgets")


def test_runs_from_two_versions_of_one_corpus_warn(runs240):
    half = len(runs240) // 2
    fps = ["sha256:" + "a" * 64] * half + ["sha256:" + "b" * 64] * (len(runs240) - half)
    _, msgs = _load(runs240.assign(corpus="docs", corpus_fingerprint=fps))
    assert len(msgs) == 1
    assert "runs of corpus 'docs' were trained on 2 versions of its text" in msgs[0]
    assert f"aaaaaaaaaaaa in {half}" in msgs[0] and "--where \"corpus_fingerprint == 'sha256:" in msgs[0]
    # one version, or different corpora each with one version, or unknown fingerprints: quiet
    assert _load(runs240.assign(corpus="docs", corpus_fingerprint=fps[0]))[1] == []
    two = runs240.assign(corpus=["x"] * half + ["y"] * (len(runs240) - half), corpus_fingerprint=fps)
    assert _load(two)[1] == []
    assert _load(runs240.assign(corpus="docs", corpus_fingerprint=[None] * half + fps[half:]))[1] == []


def test_a_fit_of_seed_means_records_every_seeds_corpus_version(runs240):
    """Seed 1 read the corpus as fetched again: the fit of seed means (one row per point, taken
    from seed 0's row) still records both versions, so a growth analysis does not think the law's
    runs read only the first."""
    fa, fb = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    runs = pd.concat([runs240.assign(seed=0, corpus_fingerprint=fa), runs240.assign(seed=1, corpus_fingerprint=fb)])
    runs = runs.assign(corpus="docs", run_id=[f"r{i}" for i in range(len(runs))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(runs, mean_seeds=True)
    assert res.data.corpus == ["docs"] and res.data.corpus_fingerprint == [fa, fb]
