"""Bootstrap over runs: reproducible resamples, worker-count independence, derived quantities,
refits equal to individual optimisations, and coverage of the truth (fast and slow versions)."""

import math

import numpy as np
import pytest

from scaling.fit._surface import objective, polish
from scaling.fit.approach3 import fit_approach3
from scaling.fit.bootstrap import (
    bootstrap_approach3,
    chinchilla_derived,
    percentile_intervals,
    resample_indices,
    resample_weights,
)
from scaling.fit.multistart import approach3_optimum
from scaling.fit.synthetic import simulate_runs
from scaling.laws import ChinchillaLaw

TRUTH = dict(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)
COVERED = ("E", "alpha", "beta", "a", "loss_opt@1e+22", "N_opt@1e+22")


def logs(df):
    return tuple(np.log(df[c].to_numpy(dtype=float)) for c in ("params", "tokens", "loss"))


def small_design(seed, noise=0.005):
    """A realistic small isoFLOP sweep: 6 budgets a factor ~4 apart, 9 sizes each (54 runs)."""
    return simulate_runs(
        ChinchillaLaw(**TRUTH), budgets=np.geomspace(1e18, 1e21, 6), n_per_budget=9, span=6.0, noise=noise, seed=seed
    )


def truth_values():
    vals = dict(TRUTH)
    vals.update(
        {
            k: float(v[0])
            for k, v in chinchilla_derived(
                np.array([[TRUTH[k] for k in ("E", "A", "B", "alpha", "beta")]]), [1e22]
            ).items()
        }
    )
    return vals


def test_resamples_are_seeded_per_resample():
    a = resample_indices(50, 10, seed=3)
    b = resample_indices(50, 10, seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, resample_indices(50, 10, seed=4))
    # resample i does not depend on how many were drawn or where a chunk starts
    np.testing.assert_array_equal(resample_indices(50, 4, seed=3, start=6), a[6:])
    W = resample_weights(50, 10, seed=3)
    assert W.shape == (10, 50) and np.all(W.sum(axis=1) == 50)
    np.testing.assert_array_equal(W[2], np.bincount(a[2], minlength=50))


def test_derived_quantities_match_the_law():
    law = ChinchillaLaw(**TRUTH)
    d = chinchilla_derived(np.array([[TRUTH[k] for k in ("E", "A", "B", "alpha", "beta")]]), [1e21, 5.76e23])
    assert d["a"][0] == pytest.approx(law.a) and d["b"][0] == pytest.approx(law.b)
    assert d["G"][0] == pytest.approx(law.G)
    N, D = law.frontier(5.76e23)
    assert d["N_opt@5.76e+23"][0] == pytest.approx(N, rel=1e-12)
    assert d["D_opt@5.76e+23"][0] == pytest.approx(D, rel=1e-12)
    assert d["N_opt@5.76e+23"][0] == pytest.approx(72.2e9, rel=0.002)  # REFERENCE section 1 check
    assert d["tokens_per_param@5.76e+23"][0] == pytest.approx(D / N)
    assert d["loss_opt@1e+21"][0] == pytest.approx(law.loss_at_frontier(1e21), rel=1e-12)


def test_percentile_intervals():
    v = {"x": np.arange(1001, dtype=float), "y": np.array([1.0, np.nan, 3.0]), "z": np.array([np.nan])}
    iv = percentile_intervals(v, 0.9)
    assert iv["x"] == pytest.approx((50.0, 950.0))
    assert iv["y"] == pytest.approx((1.1, 2.9))
    assert "z" not in iv


def test_refits_equal_individual_optimisations():
    df = small_design(0)
    x, y, z = logs(df)
    opt = approach3_optimum(x, y, z)
    bs = bootstrap_approach3(x, y, z, opt.theta, n_boot=3, seed=5, workers=1)
    W = resample_weights(len(x), 3, seed=5)
    for i in range(3):
        assert bs.converged[i]
        ref = polish(opt.theta, x, y, z, weights=W[i])
        # the batched refit reaches the resample's optimum (L-BFGS-B from the same start: no lower)
        assert bs.objective[i] <= ref.fun * (1 + 1e-8)
        assert objective(bs.theta[i], x, y, z, weights=W[i], grad=False) == pytest.approx(bs.objective[i], rel=1e-12)
        np.testing.assert_allclose(bs.theta[i], ref.x, atol=5e-3)


def test_independent_of_the_number_of_workers():
    df = small_design(1)
    x, y, z = logs(df)
    opt = approach3_optimum(x, y, z)
    kw = dict(n_boot=250, seed=11, guard_starts=opt.start[None, :])
    one = bootstrap_approach3(x, y, z, opt.theta, workers=1, **kw)
    two = bootstrap_approach3(x, y, z, opt.theta, workers=2, **kw)
    np.testing.assert_array_equal(one.theta, two.theta)
    np.testing.assert_array_equal(one.objective, two.objective)
    assert one.n_failed == 0


def test_law_samples_give_plan_intervals():
    res = fit_approach3(small_design(2), bootstrap=60, seed=0, workers=1)
    law = res.to_law()
    assert law.samples.shape == (60, 5)
    lo, hi = law.interval(lambda lw: np.asarray(lw.frontier(1e22)[0]))
    assert lo < law.frontier(1e22)[0] < hi
    assert res.intervals["N_opt@1e+22"] == pytest.approx((float(lo), float(hi)), rel=1e-9)


def _covers(trial_seed, n_boot, noise):
    res = fit_approach3(small_design(trial_seed, noise), bootstrap=n_boot, seed=trial_seed, workers=1)
    t = truth_values()
    return {k: res.intervals[k][0] <= t[k] <= res.intervals[k][1] for k in COVERED}, res


def test_truth_inside_the_bootstrap_interval_fast():
    """A few seeded trials (the full 100-trial version is marked slow)."""
    hits = {k: 0 for k in COVERED}
    t = truth_values()
    for s in (0, 1, 2):
        cov, res = _covers(s, 100, 0.005)
        assert res.converged
        p = res.params
        assert p["alpha"] == pytest.approx(t["alpha"], abs=0.06)
        assert p["beta"] == pytest.approx(t["beta"], abs=0.06)
        assert res.derived["a"] == pytest.approx(t["a"], abs=0.04)
        for k, v in cov.items():
            hits[k] += v
    assert all(v >= 2 for v in hits.values()), hits


@pytest.mark.slow
def test_truth_inside_the_bootstrap_interval_100_trials():
    """>= 90 of 100 seeded trials (noise 0.002-0.01 in log loss) hold the truth in the 95% interval,
    for every parameter and derived quantity checked."""
    hits = {k: 0 for k in COVERED}
    noises = np.linspace(0.002, 0.01, 5)
    for s in range(100):
        cov, _ = _covers(1000 + s, 400, float(noises[s % 5]))
        for k, v in cov.items():
            hits[k] += v
    print("coverage of 100 trials:", hits)
    assert all(v >= 90 for v in hits.values()), hits


@pytest.mark.slow
def test_thousand_refits_all_converge():
    """1,000 resamples of 240 runs: every refit converges (its speed is measured in
    benchmarks/bench_fit.py, not asserted here)."""
    df = simulate_runs(noise=0.006, seed=0)  # 240 runs
    x, y, z = logs(df)
    opt = approach3_optimum(x, y, z)
    bs = bootstrap_approach3(x, y, z, opt.theta, n_boot=1000, seed=0, guard_starts=opt.start[None, :])
    assert bs.n_failed == 0
    assert math.isfinite(float(np.mean(bs.objective)))


def test_reporting_budgets_follow_the_data():
    """Derived quantities are reported from a decade below the largest run to three above, not at
    1e20..1e24 whatever the data (a CPU sweep to 1e14 FLOPs would tabulate a 1e6-fold extrapolation)."""
    from scaling.fit.bootstrap import BUDGETS, default_budgets

    assert default_budgets([1e5, 2e5], [1e8, 8e7]) == (1e12, 1e13, 1e14, 1e15, 1e16)  # largest 9.6e13
    assert default_budgets([7e10], [7e9]) == BUDGETS  # largest 2.9e21
    N = np.geomspace(2e4, 2e6, 12)
    D = 5e13 / (6 * N)
    L = 1.5 + 400 / N**0.4 + 600 / D**0.35
    res = fit_approach3((N, D, L))
    text = res.summary()
    assert "1e+13" in text and "1e+20" not in text
