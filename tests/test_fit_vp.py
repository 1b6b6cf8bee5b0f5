"""Variable projection: the exact inner NNLS, recovery of a known law, agreement with the
5-parameter Approach 3 fit, the disagreement flags, and the bootstrap."""

import numpy as np
import pytest

from scaling.errors import ScalingError
from scaling.fit.result import FitResult
from scaling.fit.synthetic import simulate_runs
from scaling.fit.vp import fit_vp
from scaling.fit.vp_profile import _nnls3, profile, vp_optimum
from scaling.laws import ChinchillaLaw

TRUTH = dict(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)


@pytest.fixture(scope="module")
def runs():
    return simulate_runs(
        ChinchillaLaw(**TRUTH), budgets=np.geomspace(1e18, 1e21, 6), n_per_budget=12, noise=0.005, seed=4
    )


@pytest.fixture(scope="module")
def vp_fit(runs):
    return fit_vp(runs)


def test_inner_nnls_is_exact():
    from scipy.optimize import nnls

    rng = np.random.default_rng(0)
    for _ in range(30):
        X = np.column_stack([np.ones(40), rng.uniform(0, 2, 40), rng.uniform(0, 2, 40)])
        truth = rng.uniform(-1, 1, 3)
        y = X @ truth + 0.3 * rng.normal(size=40)
        w = rng.uniform(0.5, 2, 40)
        Xw, yw = X * np.sqrt(w)[:, None], y * np.sqrt(w)
        ref, _ = nnls(Xw, yw)
        S = (X.T * w) @ X
        t = (X.T * w) @ y
        th, val = _nnls3(S[None], t[None], np.array([np.sum(w * y * y)]))
        np.testing.assert_allclose(th[0], ref, atol=1e-9)
        assert val[0] == pytest.approx(np.sum(w * (X @ ref - y) ** 2), rel=1e-8, abs=1e-10)


def test_profile_least_squares_is_one_nnls(runs):
    N, D, L = (runs[c].to_numpy() for c in ("params", "tokens", "loss"))
    f, eab = profile([TRUTH["alpha"]], [TRUTH["beta"]], N, D, L, loss="ls")
    from scipy.optimize import nnls

    X = np.column_stack([np.ones_like(N), N ** -TRUTH["alpha"], D ** -TRUTH["beta"]]) / L[:, None]
    ref, rnorm = nnls(X, L / L)
    np.testing.assert_allclose(eab[0], ref, rtol=1e-6)
    assert f[0] == pytest.approx(0.5 * rnorm**2, rel=1e-6)


def test_huber_profile_is_no_worse_than_least_squares_weights(runs):
    N, D, L = (runs[c].to_numpy() for c in ("params", "tokens", "loss"))
    fh, eh = profile([0.35], [0.36], N, D, L, loss="huber")
    _, el = profile([0.35], [0.36], N, D, L, loss="ls")

    def huber_obj(eab):
        r = (eab[0] + eab[1] * N**-0.35 + eab[2] * D**-0.36 - L) / L
        return np.sum(np.where(np.abs(r) <= 1e-3, 0.5 * r * r, 1e-3 * (np.abs(r) - 5e-4)))

    assert fh[0] == pytest.approx(huber_obj(eh[0]), rel=1e-10)
    assert fh[0] <= huber_obj(el[0]) * (1 + 1e-12)


def test_recovers_known_parameters_and_agrees_with_approach3(vp_fit):
    res = vp_fit
    assert isinstance(res, FitResult) and res.method == "vp" and res.form == "chinchilla"
    p = res.params
    assert p["alpha"] == pytest.approx(TRUTH["alpha"], abs=0.04)
    assert p["beta"] == pytest.approx(TRUTH["beta"], abs=0.04)
    assert p["E"] == pytest.approx(TRUTH["E"], abs=0.06)
    cmp = res.extra["comparison"]
    assert abs(cmp["a_diff"]) < 0.005
    # the 5-parameter optimum is the lower one in its own objective (VP optimises a near neighbour)
    assert cmp["objective_approach3"] <= cmp["objective_vp_in_approach3_terms"] * (1 + 1e-9)
    assert cmp["objective_vp_in_approach3_terms"] <= cmp["objective_approach3"] * 1.01
    assert res.flags == []
    assert res.to_law().a == pytest.approx(res.derived["a"])


def test_profile_minimum_is_a_minimum(runs, vp_fit):
    N, D, L = (runs[c].to_numpy() for c in ("params", "tokens", "loss"))
    al, be = vp_fit.params["alpha"], vp_fit.params["beta"]
    f0, _ = profile([al], [be], N, D, L)
    ring = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    for h in (1e-3, 1e-2):
        f, _ = profile(al + h * np.cos(ring), be + h * np.sin(ring), N, D, L)
        assert np.all(f >= f0[0] * (1 - 1e-10))


def test_flags_when_the_fits_disagree(runs, monkeypatch):
    import scaling.fit.vp as vp_module

    real = vp_module.fit_approach3

    def stopped_short(*args, **kw):
        res = real(*args, **kw)
        return res.model_copy(
            update={"derived": {**res.derived, "a": res.derived["a"] + 0.05}, "objective": res.objective * 1.5}
        )

    monkeypatch.setattr(vp_module, "fit_approach3", stopped_short)
    res = fit_vp(runs)
    assert res.has_flag("vp_disagrees"), res.flags
    assert res.has_flag("approach3_stopped_short"), res.flags


def test_least_squares_variant_and_no_compare(runs):
    res = fit_vp(runs, loss="ls", compare=False)
    assert "comparison" not in res.extra
    assert res.params["alpha"] == pytest.approx(TRUTH["alpha"], abs=0.05)
    with pytest.raises(ScalingError):
        fit_vp(runs, loss="l1")


def test_bootstrap_intervals(runs):
    res = fit_vp(runs, bootstrap=40, seed=3, workers=1, compare=False)
    assert res.bootstrap.n == 40
    for k in ("alpha", "beta", "E", "a", "N_opt@1e+22"):
        lo, hi = res.intervals[k]
        v = res.params.get(k, res.derived.get(k))
        assert lo <= v <= hi
    assert res.to_law().samples.shape[0] >= 38


def test_grid_search_finds_the_basin(runs):
    N, D, L = (runs[c].to_numpy() for c in ("params", "tokens", "loss"))
    o = vp_optimum(N, D, L, grid_step=0.1)
    o2 = vp_optimum(N, D, L, grid_step=0.04)
    assert o["alpha"] == pytest.approx(o2["alpha"], abs=1e-4)
    assert o["beta"] == pytest.approx(o2["beta"], abs=1e-4)


def test_bad_input():
    with pytest.raises(ScalingError, match="same size"):
        fit_vp(([1e8] * 6, np.geomspace(1e9, 1e11, 6), [3.0] * 6))
