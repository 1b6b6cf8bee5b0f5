"""A fit reports its own health: failed and on-bound bootstrap refits counted (per reason, per
parameter) and flagged above 5% of the resamples, Approach 2 on fewer than 5 budgets flagged, the
residual RMSE and the worst run in the summary; fit files written before these fields still load."""

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from test_fit_approach2 import synthetic_isoflops

from scaling.cli import main
from scaling.fit._surface import BOUNDS
from scaling.fit.approach2 import fit_approach2
from scaling.fit.approach3 import fit_approach3
from scaling.fit.bootstrap import (
    BOUND_RTOL,
    RefitFailed,
    health,
    health_flags,
    on_bound,
    resample_indices,
    resample_loop,
    resample_weights,
)
from scaling.fit.kaplan import fit_kaplan
from scaling.fit.result import BootstrapInfo, FitResult
from scaling.fit.synthetic import simulate_runs
from scaling.laws import ChinchillaLaw

DATA = Path(__file__).resolve().parents[1] / "data"
TRUTH = dict(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)


def recount_on_bound(samples: np.ndarray) -> int:
    """Law samples (E, A, B, alpha, beta) with any parameter on Approach 3's BOUNDS (in its logs)."""
    theta = np.column_stack(
        [np.log(samples[:, 1]), np.log(samples[:, 2]), np.log(samples[:, 0]), samples[:, 3], samples[:, 4]]
    )
    hit = np.zeros(len(theta), dtype=bool)
    for k, (lo, hi) in enumerate(BOUNDS):
        hit |= theta[:, k] <= lo + BOUND_RTOL * max(1.0, abs(lo))
        hit |= theta[:, k] >= hi - BOUND_RTOL * max(1.0, abs(hi))
    return int(hit.sum())


@pytest.fixture(scope="module")
def no_floor():
    """A sweep whose true irreducible loss is ~0: refits push E onto its lower bound."""
    law = ChinchillaLaw(1e-6, TRUTH["A"], TRUTH["B"], TRUTH["alpha"], TRUTH["beta"])
    df = simulate_runs(law, budgets=np.geomspace(1e18, 1e20, 3), n_per_budget=5, span=6.0, noise=0.01, seed=1)
    return df, fit_approach3(df, bootstrap=100, seed=0, workers=1)


def test_refits_on_E_lower_bound_are_counted_kept_and_flagged(no_floor):
    _, res = no_floor
    b = res.bootstrap
    samples = np.asarray(res.law["samples"], dtype=float)
    assert b.n == 100 and b.n_failed == sum(b.failed.values()) and len(samples) == b.n - b.n_failed == b.n_used
    # every on-bound refit is in the samples (the intervals include them), and the count is right
    assert b.n_on_bound == recount_on_bound(samples) > 0.05 * b.n
    assert b.on_bound["E (lower)"] == int(np.sum(np.log(samples[:, 0]) <= BOUNDS[2][0] + BOUND_RTOL * 20))
    assert b.intervals_include_on_bound and not b.intervals_include_failed and b.bound_rtol == BOUND_RTOL
    assert res.intervals["E"][0] == pytest.approx(samples[:, 0].min(), rel=0.5)  # the interval reaches the bound
    flag = [f.message for f in res.flags if f.code == "bootstrap_refits_on_bound"]
    assert len(flag) == 1 and f"{b.n_on_bound} of 100 refits" in flag[0] and "E at its lower bound" in flag[0]
    text = res.summary()
    assert f"{b.n_on_bound} with a parameter on a bound" in text and "on-bound refits included" in text


def test_a_determined_surface_has_no_bound_hits_and_no_flag():
    df = simulate_runs(
        ChinchillaLaw(**TRUTH), budgets=np.geomspace(1e18, 1e21, 6), n_per_budget=9, span=6.0, noise=0.005, seed=0
    )
    res = fit_approach3(df, bootstrap=50, seed=0, workers=1)
    assert res.bootstrap.n_on_bound == 0 and res.bootstrap.n_failed == 0 and res.bootstrap.on_bound == {}
    assert not any(f.code.startswith("bootstrap") for f in res.flags)


def test_flags_above_five_percent_and_not_at_it():
    at = BootstrapInfo(n=200, n_failed=10, failed={"did not converge": 10}, n_on_bound=10, on_bound={"E (lower)": 10})
    assert health_flags(at) == []
    above = at.model_copy(
        update={"n_failed": 11, "failed": {"did not converge": 11}, "n_on_bound": 11, "on_bound": {"E (lower)": 11}}
    )
    flags = health_flags(above)
    assert [f.code for f in flags] == ["bootstrap_refits_failed", "bootstrap_refits_on_bound"]
    failed, on_bound = (f.message for f in flags)
    assert "11 of 200 refits failed (5.5%: did not converge 11)" in failed and "leave them out" in failed
    assert "11 of 200 refits (5.5%) ended with a parameter on its bound (E at its lower bound 11)" in on_bound
    assert health_flags(BootstrapInfo(n=200, n_on_bound=None)) == []  # an old file: nothing recorded


def test_resample_loop_counts_every_kind_of_failure():
    seen = []

    def refit(i):
        seen.append(i)
        if i % 5 == 0:
            raise RefitFailed("too few sizes drawn")
        if i % 5 == 1:
            raise np.linalg.LinAlgError("singular")
        if i % 5 == 2:
            return [1.0, math.nan]
        return np.array([float(i), 0.0]), {"i": i}

    out = resample_loop(100, 7, lambda rng: int(rng.integers(0, 1000)), refit, width=2)
    # resample i from its own stream, child i of SeedSequence(7), as Approach 3 and VP draw theirs
    draws = np.array([np.random.default_rng(c).integers(0, 1000) for c in np.random.SeedSequence(7).spawn(100)])
    np.testing.assert_array_equal(seen, draws)
    expect = {
        "too few sizes drawn": int(np.sum(draws % 5 == 0)),
        "raised LinAlgError": int(np.sum(draws % 5 == 1)),
        "non-finite": int(np.sum(draws % 5 == 2)),
    }
    assert out.failed == expect and out.n_failed == sum(expect.values()) and out.n == 100
    assert len(out.rows) == len(out.extras) == 100 - out.n_failed
    assert [e["i"] for e in out.extras] == [int(d) for d in draws if d % 5 > 2]


def test_resample_loop_draws_resample_i_the_same_for_any_count():
    def refit(idx):
        if idx[0] % 4 == 0:
            raise RefitFailed("unlucky")
        return np.bincount(idx, minlength=30).astype(float)

    def draw(rng):
        return rng.integers(0, 30, size=30)

    few, many = resample_loop(50, 11, draw, refit, width=30), resample_loop(200, 11, draw, refit, width=30)
    assert 0 < few.n_failed < many.n_failed
    np.testing.assert_array_equal(many.rows[: len(few.rows)], few.rows)
    # the same resamples Approach 3 and VP weight their chunked refits with
    idx = resample_indices(30, 50, seed=11)
    kept = idx[:, 0] % 4 != 0
    assert few.n_failed == int(np.sum(~kept))
    np.testing.assert_array_equal(few.rows, resample_weights(30, 50, seed=11)[kept])


def test_on_bound_per_parameter_and_side():
    rows = np.array([[-20.0, 0.5, 1.0], [-19.99, 4.0, 1.0], [-20.0 + 1e-3, 3.99999, 0.0]])
    mask, counts = on_bound(rows, [-20.0, 0.0, None], [5.0, 4.0, None], ("E", "alpha", "x"))
    assert mask.tolist() == [True, True, True]
    assert counts == {"E (lower)": 2, "alpha (upper)": 2}  # tolerance 1e-4 * max(1, |bound|); x has no bounds
    info = health(3, 0, 0.95, failed={"did not converge": 0}, bound_mask=mask, bound_counts=counts)
    assert info.n_on_bound == 3 and info.failed == {} and info.n_failed == 0


@pytest.mark.parametrize("n,spread,noise,n_failed,flagged", [(5, 0.5, 0.01, 22, True), (5, 0.6, 0.005, 10, False)])
def test_approach2_with_three_budgets(n, spread, noise, n_failed, flagged):
    """Three budgets: resamples that keep fewer than 2 isoFLOP minima fail, are counted, and are
    flagged above 5% (10 of 200 is exactly 5%: not flagged); the fit is flagged as poorly determined."""
    runs = synthetic_isoflops(budgets=(1e18, 1e19, 1e20), n=n, spread=spread, noise=noise, seed=0)
    res = fit_approach2(runs, bootstrap=200, seed=0)
    b = res.bootstrap
    assert b.n_failed == n_failed == b.failed["fewer than 2 budgets kept an isoFLOP minimum"]
    assert len(res.law["samples"]) == 200 - n_failed and b.n_on_bound == 0 and b.bound_rtol is None
    assert res.has_flag("bootstrap_refits_failed") == flagged
    few = [f.message for f in res.flags if f.code == "approach2_few_budgets"]
    assert len(few) == 1 and "only 3 usable budgets (fewer than 5)" in few[0] and "poorly determined" in few[0]
    text = res.summary()
    assert "isoFLOP budgets: 3 of 3 usable; fewer than 5: the exponents are poorly determined" in text
    assert f"{n_failed} failed" in text and "no bounded parameters" in text


def test_approach2_with_five_budgets_is_not_flagged():
    res = fit_approach2(synthetic_isoflops(budgets=(1e17, 1e18, 1e19, 1e20, 1e21), spread=0.5))
    assert res.flags == [] and "isoFLOP budgets: 5 of 5 usable" in res.summary()


def test_kaplan_bootstrap_reports_its_health():
    df = simulate_runs(ChinchillaLaw(**TRUTH), budgets=np.geomspace(1e18, 1e20, 3), n_per_budget=6, noise=0.005, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_kaplan(df, bootstrap=30, seed=0)
    b = res.bootstrap
    assert b.n == 30 and len(res.law["samples"]) == b.n - b.n_failed and b.bound_rtol == BOUND_RTOL
    assert b.n_on_bound is not None and b.n_on_bound <= b.n_used
    assert res.worst_run and abs(res.worst_run["rel_error"]) == pytest.approx(
        math.expm1(res.residuals["max_abs_log_loss"])
        if res.worst_run["rel_error"] > 0
        else -math.expm1(-res.residuals["max_abs_log_loss"]),
        rel=1e-9,
    )


def test_worst_run_and_residual_line(no_floor):
    df, res = no_floor
    w = res.worst_run
    pred = res.to_law().loss(df["params"].to_numpy(), df["tokens"].to_numpy())
    rel = pred / df["loss"].to_numpy() - 1
    i = int(np.argmax(np.abs(np.log1p(rel))))
    assert w["row"] == int(df.index[i]) and w["run_id"] == df["run_id"].iloc[i]
    assert w["params"] == df["params"].iloc[i] and w["rel_error"] == pytest.approx(rel[i], rel=1e-6)
    line = (
        f"fit residuals: RMSE of log loss {100 * res.residuals['rmse_log_loss']:.2f}% over {len(df)} runs; "
        f"worst run: row {w['row']}"
    )
    assert line in res.summary()


def test_old_fit_files_load(tmp_path):
    """A fit file from before the health fields (the committed Approach 3 ones are) loads, and says
    the on-bound refits were not recorded."""
    for name in ("cpu-isoflop-fit-approach3.json", "arch-cpu-hyena-fit-approach3.json"):
        old = FitResult.load(DATA / name)
        assert old.bootstrap.n_on_bound is None and old.bootstrap.failed == {} and old.worst_run == {}
    doc = json.loads((DATA / "cpu-isoflop-fit-approach3.json").read_text())
    assert "n_on_bound" not in doc["bootstrap"] and "worst_run" not in doc
    doc["bootstrap"].update({"n": 40, "seed": 1, "n_failed": 3})
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc))
    res = FitResult.load(path)
    assert res.bootstrap.n_failed == 3 and res.bootstrap.n_used == 37
    assert "on-bound refits not recorded" in res.summary()
    assert [f.code for f in health_flags(res.bootstrap)] in ([], ["bootstrap_refits_failed"])
    # a new file round-trips its counts
    new = res.model_copy(
        update={"bootstrap": res.bootstrap.model_copy(update={"n_on_bound": 5, "on_bound": {"E (lower)": 5}})}
    )
    new.save(tmp_path / "new.json")
    again = FitResult.load(tmp_path / "new.json")
    assert again.bootstrap.on_bound == {"E (lower)": 5} and again.bootstrap.n_on_bound == 5


def test_cli_summary_prints_the_counts_and_the_worst_run(capsys, tmp_path, no_floor):
    df, _ = no_floor
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    assert main(["fit", str(path), "--bootstrap", "100", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "bootstrap: 100 resamples over runs, seed 0: 0 failed (0.0%)" in out
    assert "with a parameter on a bound" in out and "E at its lower bound" in out
    assert "intervals: percentiles of the 100 refits that did not fail; on-bound refits included" in out
    assert "fit residuals: RMSE of log loss" in out and "worst run: row " in out
    assert "ended with a parameter on its bound" in out  # the flag
