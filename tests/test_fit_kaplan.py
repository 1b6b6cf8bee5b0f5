"""Fitting the Kaplan form: gradient, recovery of known parameters, a true optimum, the law."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import approx_fprime

from scaling.errors import ScalingError
from scaling.fit.kaplan import allocation_of, fit_kaplan, kaplan_objective
from scaling.fit.result import FitResult
from scaling.laws import KaplanLaw
from scaling.laws.kaplan import PF_DAY

TRUTH = dict(N_c=6.4e13, D_c=1.8e13, alpha_N=0.076, alpha_D=0.103)


def kaplan_runs(n=120, noise=0.004, seed=0, truth=TRUTH):
    rng = np.random.default_rng(seed)
    N = np.exp(rng.uniform(math.log(1e7), math.log(3e9), n))
    D = np.exp(rng.uniform(math.log(1e8), math.log(3e11), n))
    L = KaplanLaw(**truth).loss(N, D) * np.exp(noise * rng.standard_normal(n))
    return pd.DataFrame({"params": N, "tokens": D, "flops": 6 * N * D, "loss": L})


def test_gradient_is_exact():
    df = kaplan_runs()
    args = (np.log(df["params"].to_numpy()), np.log(df["tokens"].to_numpy()), np.log(df["loss"].to_numpy()))
    for theta in ([math.log(1e13), math.log(1e13), 0.1, 0.12], [math.log(1e10), math.log(1e15), 0.05, 0.3]):
        theta = np.array(theta)
        _, g = kaplan_objective(theta, *args)
        num = approx_fprime(theta, lambda t: kaplan_objective(t, *args, grad=False), 1e-7)
        np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-9)


def test_recovers_known_parameters():
    res = fit_kaplan(kaplan_runs())
    assert res.form == "kaplan" and res.converged
    p = res.params
    assert p["alpha_N"] == pytest.approx(0.076, rel=0.05)
    assert p["alpha_D"] == pytest.approx(0.103, rel=0.05)
    assert math.log10(p["N_c"]) == pytest.approx(math.log10(6.4e13), abs=0.3)
    assert math.log10(p["D_c"]) == pytest.approx(math.log10(1.8e13), abs=0.3)
    assert res.residuals["rmse_log_loss"] < 0.006
    # the allocation is the surface's own optimum under 6ND: a = alpha_D / (alpha_N + alpha_D)
    assert res.derived["a"] == pytest.approx(p["alpha_D"] / (p["alpha_N"] + p["alpha_D"]))


def test_optimum_is_a_true_local_minimum():
    df = kaplan_runs(seed=4)
    res = fit_kaplan(df)
    args = (np.log(df["params"].to_numpy()), np.log(df["tokens"].to_numpy()), np.log(df["loss"].to_numpy()))
    theta = np.array(
        [math.log(res.params["N_c"]), math.log(res.params["D_c"]), res.params["alpha_N"], res.params["alpha_D"]]
    )
    f0 = kaplan_objective(theta, *args, grad=False)
    assert f0 == pytest.approx(res.objective)
    rng = np.random.default_rng(0)
    for _ in range(50):
        step = rng.normal(size=4) * np.array([1e-3, 1e-3, 1e-5, 1e-5])
        assert kaplan_objective(theta + step, *args, grad=False) >= f0 - 1e-12
    assert res.residuals["grad_norm"] < 1e-5


def test_allocation_is_the_surface_minimum():
    theta = np.array([math.log(6.4e13), math.log(1.8e13), 0.076, 0.103])
    k, a = allocation_of(theta)
    law = KaplanLaw(6.4e13, 1.8e13, 0.076, 0.103, k, a)
    C = 1e22
    N_opt, D_opt = law.frontier(C)
    Ns = N_opt * np.logspace(-1, 1, 201)
    losses = law.loss(Ns, C / (6 * Ns))
    assert Ns[np.argmin(losses)] == pytest.approx(N_opt, rel=0.03)
    assert N_opt == pytest.approx(k * (C / PF_DAY) ** a)


def test_round_trip_and_bootstrap(tmp_path):
    res = fit_kaplan(kaplan_runs(n=60, seed=1), bootstrap=30, seed=3, at=(1e21,))
    for key in ("alpha_N", "alpha_D", "a", "N_opt@1e+21", "loss_opt@1e+21"):
        lo, hi = res.intervals[key]
        assert lo <= hi
    assert res.intervals["alpha_D"][0] < 0.103 * 1.1 and res.intervals["alpha_D"][1] > 0.103 * 0.9
    back = FitResult.load(res.save(tmp_path / "k.json"))
    law = back.to_law()
    assert law.form == "kaplan" and law.has_uncertainty and len(law.samples[0]) == 6
    assert law.loss(1e9, 2e10) == pytest.approx(res.predict(1e9, 2e10))
    assert law.loss(1e9, 2e10) == pytest.approx(KaplanLaw(**TRUTH).loss(1e9, 2e10), rel=0.02)


def test_too_few_runs():
    with pytest.raises(ScalingError, match="4 parameters"):
        fit_kaplan(kaplan_runs(n=4))
