"""A sweep design against a uniform grid, in simulation with a known law.

:func:`simulate` draws a first isoFLOP sweep from a known Chinchilla-form law (log-normal seed
noise, :mod:`scaling.fit.synthetic`), fits and bootstraps it, asks :func:`scaling.sweep.suggest.suggest_runs`
for the next runs within an allowance, then simulates those runs and, separately, the uniform grid
of the same compute (:func:`scaling.sweep.suggest.grid_runs`), refits each enlarged table with its
own bootstrap and records the width of the 95% interval of the target. benchmarks/bench_design.py
is the full version.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..fit.synthetic import isoflop_sweep, simulate_losses
from .suggest import bootstrap_surface, fit_surface, grid_runs, suggest_runs, target_fn


def _interval_width(logN, logD, logL, theta0, fn, n_boot, seed, delta=1e-3):
    th = fit_surface(logN, logD, logL, theta0=theta0, delta=delta)
    th = fit_surface(logN, logD, logL, delta=delta) if not np.all(np.isfinite(th)) else th
    S = bootstrap_surface(logN, logD, logL, th, n=n_boot, seed=seed, delta=delta)
    v = fn(S)
    lo, hi = np.quantile(v, [0.025, 0.975])
    return float(hi - lo), float(fn(th[None, :])[0])


def simulate(
    theta_true,
    *,
    budgets=(1e17, 3e17, 1e18),
    allowance: float = 1e19,
    noise: float = 0.01,
    n_trials: int = 3,
    n_boot: int = 100,
    seed: int = 0,
    objective: str = "a",
    target: float | None = 1e22,
) -> dict[str, Any]:
    """Compare the suggested design with a uniform grid of the same compute under a known law.

    For each trial: simulate the initial isoFLOP sweep (losses from the true law with log-normal
    noise), fit and bootstrap it, suggest runs within ``allowance``; then simulate the suggested
    runs and, separately, the uniform grid's runs; refit each enlarged table with its own bootstrap;
    record the width of the 95% interval of the target (``a`` or the log loss at ``target``).
    """
    theta_true = np.asarray(theta_true, dtype=float)
    fn = target_fn(objective, target)
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_trials):
        N0, D0 = isoflop_sweep(theta_true, budgets)
        L0 = simulate_losses(theta_true, N0, D0, noise, rng)
        logN, logD, logL = np.log(N0), np.log(D0), np.log(L0)
        th = fit_surface(logN, logD, logL)
        S = bootstrap_surface(logN, logD, logL, th, n=n_boot, seed=seed + 1000 * t)
        runs = pd.DataFrame({"params": N0, "tokens": D0, "flops": 6 * N0 * D0, "loss": L0})
        des = suggest_runs(runs, allowance, target=target, objective=objective, samples=S, theta=th, noise=noise)
        w0 = float(np.quantile(fn(S), 0.975) - np.quantile(fn(S), 0.025))
        Ns = np.array([r.params for r in des.runs])
        Ds = np.array([r.tokens for r in des.runs])
        Gn, Gd, _ = grid_runs(th, allowance)
        # the same noise draws would favour neither design; independent draws per design
        Ls = simulate_losses(theta_true, Ns, Ds, noise, rng)
        Lg = simulate_losses(theta_true, Gn, Gd, noise, rng)
        ws, es = _interval_width(
            np.log(np.r_[N0, Ns]), np.log(np.r_[D0, Ds]), np.log(np.r_[L0, Ls]), th, fn, n_boot, seed + 1000 * t + 1
        )
        wg, eg = _interval_width(
            np.log(np.r_[N0, Gn]), np.log(np.r_[D0, Gd]), np.log(np.r_[L0, Lg]), th, fn, n_boot, seed + 1000 * t + 2
        )
        rows.append(
            {
                "trial": t,
                "width_initial": w0,
                "width_suggested": ws,
                "width_grid": wg,
                "estimate_suggested": es,
                "estimate_grid": eg,
                "n_suggested": len(Ns),
                "n_grid": len(Gn),
                "spent_suggested": float(np.sum(6 * Ns * Ds)),
                "spent_grid": float(np.sum(6 * Gn * Gd)),
                "predicted_sd_suggested": des.predicted_sd,
                "predicted_sd_grid": des.grid["predicted_sd"],
            }
        )
    ws = np.array([r["width_suggested"] for r in rows])
    wg = np.array([r["width_grid"] for r in rows])
    return {
        "objective": objective,
        "truth": float(fn(theta_true[None, :])[0]),
        "trials": rows,
        "median_width_initial": float(np.median([r["width_initial"] for r in rows])),
        "median_width_suggested": float(np.median(ws)),
        "median_width_grid": float(np.median(wg)),
        "suggested_narrower": int(np.sum(ws < wg)),
        "n_trials": n_trials,
    }


__all__ = ["simulate"]
