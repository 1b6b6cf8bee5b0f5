"""Approach 1 (lower envelope of training curves): analytic exponent, OPT curves, errors."""

import numpy as np
import pandas as pd
import pytest

from scaling.errors import ScalingError
from scaling.fit.approach1 import envelope, fit_approach1
from scaling.fit.result import FitResult
from scaling.runs import load_curves


def synthetic_curves(
    E=1.69,
    A=406.4,
    B=410.7,
    alpha=0.34,
    beta=0.28,
    sizes=np.logspace(7, 10, 25),
    tokens=np.logspace(8, 12, 60),
    noise=0.0,
    seed=0,
):
    """Every run evaluated along its whole curve, loss from the surface (as if each eval ended a run)."""
    rng = np.random.default_rng(seed)
    rows = []
    for N in sizes:
        for D in tokens:
            L = (E + A * N**-alpha + B * D**-beta) * np.exp(noise * rng.standard_normal())
            rows.append((f"N{N:.3g}", N, D, 6 * N * D, L))
    return pd.DataFrame(rows, columns=["run_id", "params", "tokens", "flops", "loss"])


@pytest.mark.parametrize(
    "E,A,B,alpha,beta",
    [
        (1.69, 406.4, 410.7, 0.34, 0.28),  # Hoffmann
        (1.82, 482.0, 2085.4, 0.348, 0.366),
    ],
)  # Epoch
def test_envelope_exponent_matches_analytic(E, A, B, alpha, beta):
    res = fit_approach1(synthetic_curves(E=E, A=A, B=B, alpha=alpha, beta=beta))
    assert res.params["a"] == pytest.approx(beta / (alpha + beta), abs=0.01)
    assert res.params["b"] == pytest.approx(alpha / (alpha + beta), abs=0.01)
    assert res.form == "powerlaw" and res.method == "approach1"
    assert res.residuals["n_winners"] >= 10


def test_binned_envelope_agrees():
    res = fit_approach1(synthetic_curves(), envelope_mode="bins", points_per_decade=8)
    assert res.params["a"] == pytest.approx(0.4516, abs=0.02)


def test_bracketing_excludes_edges():
    curves = synthetic_curves()
    runs = [
        {
            "run_id": r,
            "N": float(g["params"].iloc[0]),
            "logC": np.log(g["flops"].to_numpy()),
            "logL": np.log(g["loss"].to_numpy()),
            "logD": np.log(g["tokens"].to_numpy()),
        }
        for r, g in curves.groupby("run_id", sort=False)
    ]
    grid = np.linspace(np.log(6e15), np.log(6e22), 50)
    env = envelope(runs, grid)
    # at the smallest budgets only the smallest model has started: it wins, unbracketed
    assert env["n_cover"][0] == 1 and not env["bracketed"][0]
    assert env["bracketed"].sum() > 10


def test_bootstrap_intervals_cover_truth():
    res = fit_approach1(synthetic_curves(noise=0.003, seed=2), bootstrap=40, seed=1)
    lo, hi = res.intervals["a"]
    assert lo <= res.params["a"] <= hi
    assert lo - 0.02 < 0.4516 < hi + 0.02
    law = FitResult.model_validate_json(res.model_dump_json()).to_law()
    assert law.has_uncertainty and law.frontier(1e22)[0] > 0


def test_opt_curves(public_data):
    with pytest.warns(UserWarning):
        curves = load_curves(public_data / "ibm_colpret" / "aggregated_eval_opt_trajectories.csv")
    strict = fit_approach1(curves)
    # all OPT models saw the same 300B tokens: few budgets have a bracketed winner
    assert set(strict.extra["winners"]) <= {"N=1.3B", "N=6.7B", "N=13B"}
    assert strict.has_flag("approach1_few_winners")
    assert any("rest on few sizes" in f.message for f in strict.flags)
    loose = fit_approach1(curves, select="overlap")
    assert 0.3 < loose.params["a"] < 0.9
    assert len(loose.extra["winners"]) >= 4
    assert loose.params["a"] + loose.params["b"] == pytest.approx(1, abs=0.01)


def test_too_few_sizes():
    curves = synthetic_curves(sizes=np.array([1e8, 1e9]))
    with pytest.raises(ScalingError, match="3 or more model sizes"):
        fit_approach1(curves)


def test_no_bracketed_winner():
    # curves that do not overlap in FLOPs: each budget is reached by one run only
    parts = []
    for i, N in enumerate((1e7, 1e8, 1e9)):
        c = synthetic_curves(sizes=np.array([N]), tokens=np.logspace(8, 9, 5) * 100**i)
        parts.append(c)
    curves = pd.concat(parts, ignore_index=True)
    with pytest.raises(ScalingError, match="bracketed"):
        fit_approach1(curves)
