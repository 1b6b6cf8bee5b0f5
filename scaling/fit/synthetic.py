"""Synthetic runs: losses drawn from a known law, for tests, benchmarks, notebooks and the sweep
design's simulations (one home for every simulator).

- :func:`simulate_runs`: a Chinchilla-like isoFLOP design (a runs DataFrame) from a law object;
- :func:`simulate_branched_runs`: a branched sweep (every size and seed one training trunk, its runs
  branches of it) whose runs share their trunk's error, for the cluster bootstrap;
- :func:`isoflop_sweep` and :func:`simulate_losses`: the same design and log-normal seed noise in
  the surface's log-space parameters theta = (log A, log B, log E, alpha, beta), as the sweep
  design (:mod:`scaling.sweep.suggest_sim`) simulates them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..laws.chinchilla import chinchilla_G
from ..laws.registry import get_law
from ._surface import predict_log_loss


def simulate_runs(
    law=None,
    *,
    budgets: Sequence[float] | None = None,
    n_per_budget: int = 30,
    span: float = 8.0,
    noise: float = 0.005,
    seed: int | None = 0,
    size_range: tuple[float, float] | None = None,
):
    """A Chinchilla-like isoFLOP design with losses drawn from ``law`` (default Epoch 2024).

    For each budget C (default 8 budgets log-spaced 6e18..3e21, as in Hoffmann et al.'s Figure 3)
    ``n_per_budget`` sizes log-uniform from N_opt(C)/span to N_opt(C)*span (clipped to
    ``size_range``), D = C / 6N, and log L = log L_law(N, D) + Normal(0, noise): log-normal seed
    noise. Returns a runs DataFrame (run_id, params, tokens, flops, loss, budget).
    """
    if law is None:
        law = get_law("epoch-2024")
    Cs = np.geomspace(6e18, 3e21, 8) if budgets is None else budgets
    rng = np.random.default_rng(seed)
    rows = []
    for C in Cs:
        n_opt = float(law.frontier(C)[0])
        Ns = np.geomspace(n_opt / span, n_opt * span, n_per_budget)
        if size_range is not None:
            Ns = np.clip(Ns, *size_range)
        for N in Ns:
            D = C / (6.0 * N)
            rows.append((f"C{C:.2g}-N{N:.3g}", N, D, C))
    df = pd.DataFrame(rows, columns=["run_id", "params", "tokens", "flops"])
    L = np.asarray(law.loss(df["params"].to_numpy(), df["tokens"].to_numpy()), dtype=float)
    df["loss"] = L * np.exp(noise * rng.standard_normal(len(df)))
    df["budget"] = df["flops"]
    df = df.drop_duplicates(subset=["params", "tokens"]).reset_index(drop=True)
    return df[["run_id", "params", "tokens", "flops", "loss", "budget"]]


def simulate_branched_runs(
    law=None,
    *,
    sizes: Sequence[float] = tuple(np.geomspace(1e7, 1e9, 12)),
    tokens_per_param: Sequence[float] = (2.0, 6.0, 20.0, 60.0, 200.0),
    seeds: int = 1,
    trunk_sd: float = 0.02,
    noise: float = 0.003,
    seed: int | None = 0,
):
    """A branched sweep with losses drawn from ``law`` (default Epoch 2024): each size N and seed s is
    one training trunk ``trunk-<N>-s<s>`` branched at D = N x each of ``tokens_per_param``, and

        log L = log L_law(N, D) + u_trunk + e_run,   u ~ Normal(0, trunk_sd),  e ~ Normal(0, noise)

    so the branches of a trunk share its offset u (what a shared trunk does to real runs: in this
    project's CPU sweeps whole trunks moved by a few percent together). Returns a runs DataFrame
    (run_id, params, tokens, flops, loss, seed, trunk)."""
    if law is None:
        law = get_law("epoch-2024")
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(int(seeds)):
        for N in sizes:
            u = trunk_sd * rng.standard_normal()
            for t in tokens_per_param:
                D = float(N) * float(t)
                log_l = math.log(float(law.loss(float(N), D))) + u + noise * rng.standard_normal()
                rows.append(
                    (
                        f"N{N:.3g}-D{D:.3g}-s{s}",
                        float(N),
                        D,
                        6.0 * float(N) * D,
                        math.exp(log_l),
                        s,
                        f"trunk-{N:.3g}-s{s}",
                    )
                )
    return pd.DataFrame(rows, columns=["run_id", "params", "tokens", "flops", "loss", "seed", "trunk"])


def isoflop_sweep(
    theta, budgets: Sequence[float], n_sizes: int = 5, span: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """An isoFLOP sweep around the optimum of the law theta = (log A, log B, log E, alpha, beta):
    ``n_sizes`` sizes log-uniform over [N_opt / span, N_opt * span] per budget (C = 6ND); (N, D) arrays."""
    th = np.asarray(theta, dtype=float)
    a = float(th[4] / (th[3] + th[4]))
    G = chinchilla_G(th[3], math.exp(th[0]), th[4], math.exp(th[1]))
    offs = np.exp(np.linspace(-math.log(span), math.log(span), n_sizes))
    N = np.array([G * (c / 6.0) ** a * o for c in budgets for o in offs])
    C = np.array([c for c in budgets for _ in offs])
    return N, C / (6.0 * N)


def simulate_losses(theta, N, D, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Losses of runs (N, D) under the law theta, with log-normal seed noise of sd ``noise`` in log loss."""
    return np.exp(
        predict_log_loss(np.asarray(theta)[None, :], np.log(N), np.log(D))[0] + rng.normal(0.0, noise, len(N))
    )


__all__ = ["simulate_runs", "simulate_branched_runs", "isoflop_sweep", "simulate_losses"]
