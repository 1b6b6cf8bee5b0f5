"""Sweep design: the suggested runs shrink the exponent's interval more than a uniform grid."""

import numpy as np
import pandas as pd
import pytest

from scaling.errors import ScalingError
from scaling.fit.synthetic import isoflop_sweep, simulate_losses
from scaling.laws import get_law
from scaling.sweep.suggest import exponent_a, fit_surface, grid_runs, jacobian, log_loss, suggest_runs, theta_of
from scaling.sweep.suggest_sim import simulate
from scaling.sweep.suggest_spec import sweep_spec, to_sweep_toml

TRUTH = theta_of(get_law("epoch-2024"))


def _runs(noise=0.005, seed=0, budgets=(1e17, 3e17, 1e18)):
    rng = np.random.default_rng(seed)
    N, D = isoflop_sweep(TRUTH, budgets)
    L = simulate_losses(TRUTH, N, D, noise, rng)
    return pd.DataFrame(
        {"run_id": [f"r{i}" for i in range(len(N))], "params": N, "tokens": D, "flops": 6 * N * D, "loss": L}
    )


def test_jacobian_matches_finite_differences():
    logN = np.log([1e8, 3e8, 1e9, 3e9])
    logD = np.log([5e9, 2e9, 2e10, 6e10])
    J = jacobian(TRUTH, logN, logD)
    h = 1e-6
    for k in range(5):
        e = np.zeros(5)
        e[k] = h
        dJ = (log_loss((TRUTH + e)[None], logN, logD)[0] - log_loss((TRUTH - e)[None], logN, logD)[0]) / (2 * h)
        np.testing.assert_allclose(J[:, k], dJ, rtol=1e-6, atol=1e-9)


def test_fit_recovers_noiseless_truth():
    df = _runs(noise=0.0)
    th = fit_surface(np.log(df.params), np.log(df.tokens), np.log(df.loss))
    assert exponent_a(th) == pytest.approx(exponent_a(TRUTH), abs=1e-4)
    np.testing.assert_allclose(th[3:], TRUTH[3:], atol=1e-3)


def test_suggested_runs_fit_the_allowance_on_isoflop_lines():
    d = suggest_runs(_runs(), 1e19, target=1e22, bootstrap=40, seed=1)
    assert d.runs and d.spent <= 1e19 * (1 + 1e-9)
    for r in d.runs:
        assert 6 * r.params * r.tokens == pytest.approx(r.flops, rel=1e-9)
        assert 0.24 < r.offset < 4.1
    assert d.predicted_sd < d.current["linearised_sd"]
    assert d.predicted_sd <= d.grid["predicted_sd"]
    assert sum(r["flops"] for r in d.grid["runs"]) == pytest.approx(1e19)
    assert "uniform grid" in d.summary()


def test_loss_objective_needs_a_target():
    with pytest.raises(ScalingError, match="target"):
        suggest_runs(_runs(), 1e19, objective="loss", bootstrap=20)
    d = suggest_runs(_runs(), 1e19, objective="loss", target=1e22, bootstrap=30)
    assert d.objective == "loss" and d.predicted_sd < d.current["linearised_sd"]


def test_too_few_runs():
    with pytest.raises(ScalingError, match="at least 6 runs"):
        suggest_runs(_runs().iloc[:4], 1e19)


def test_grid_baseline_spends_the_allowance():
    N, D, C = grid_runs(TRUTH, 1e19)
    assert len(N) == 15 and np.sum(C) == pytest.approx(1e19)
    np.testing.assert_allclose(6 * N * D, C, rtol=1e-12)


def test_suggested_design_beats_uniform_grid_in_simulation():
    # the fast version of benchmarks/bench_design.py: three simulated teams, each with a 3-budget
    # isoFLOP sweep (seed noise 0.5% in log loss) and 1e19 FLOPs more to spend
    res = simulate(TRUTH, n_trials=3, n_boot=60, seed=3, noise=0.005, allowance=1e19)
    ws = res["median_width_suggested"]
    wg = res["median_width_grid"]
    assert ws < wg, res
    assert ws < res["median_width_initial"]
    for t in res["trials"]:
        assert t["spent_suggested"] <= t["spent_grid"] * (1 + 1e-9)


def test_sweep_spec_is_valid_for_the_runner():
    from scaling.sweep import parse_spec

    d = suggest_runs(_runs(), 1e19, target=1e22, bootstrap=20)
    template = {
        "name": "old",
        "kind": "isoflop",
        "budgets": [1e17],
        "size_multipliers": [1.0],
        "seeds": [0, 1],
        "model": {"context": 64, "tokenizer": "bytes"},
        "train": {"lr": 0.01, "batch_size": 16},
    }
    spec = sweep_spec(d, "next", template=template)
    assert spec["kind"] == "list" and "budgets" not in spec and spec["model"]["context"] == 64
    assert len(spec["runs"]) == len(d.runs)
    import tomllib

    raw = tomllib.loads(to_sweep_toml(d, "next", template=template))
    s = parse_spec(raw)
    assert s.kind == "list" and len(s.runs) == len(d.runs) and s.seeds == [0, 1]
    assert s.runs[0].params == pytest.approx(d.runs[0].params, rel=1e-5)
