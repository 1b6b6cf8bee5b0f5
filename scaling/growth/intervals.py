"""Intervals for the growth analysis: over seeds, and over a fitted law's bootstrap samples.

**Over seeds.** Each seed is one growth experiment paired with its own scratch run; a quantity
measured on n seeds is reported as its mean with the 95% Student-t interval of the mean,
``mean +- t_{0.975, n-1} s / sqrt(n)`` (Student 1908, "The probable error of a mean", Biometrika
6(1); ``s`` the sample standard deviation, ddof 1). With one seed there is no interval. With two,
``t_{0.975, 1} = 12.7``: two seeds bound almost nothing, which is the point of saying so.

**Over the law's samples (savings (3)).** Savings (3) divides by ``c_opt = law.flops_for_loss(target)``,
the compute a compute-optimal scratch model needs (Hoffmann et al. 2022, arXiv:2203.15556), and
the fitted law is uncertain. When the law carries bootstrap samples (a fit written with
``--bootstrap``: Efron & Tibshirani 1993, *An Introduction to the Bootstrap*), ``c_opt`` is
computed for every sample (all at once for the Chinchilla form, :meth:`ChinchillaLaw.stacked`), so
each seed has a distribution of savings (3). The interval reported combines both sources by Monte
Carlo: a draw is ``m_j + s_j / sqrt(n) * T``, ``j`` a law sample drawn uniformly, ``m_j`` and ``s_j``
the mean and standard deviation over seeds of savings (3) under sample ``j``, ``T`` a Student-t
draw with ``n - 1`` degrees of freedom (the seed noise of the mean, as in the t interval above);
the 2.5th and 97.5th percentiles of the draws are the interval. The RNG is seeded
(:data:`MC_SEED`, :data:`MC_DRAWS` draws), so the printed numbers are reproducible. The law-only
interval (the percentiles of ``m_j``) is reported too.

**Unreachable targets.** A sample whose irreducible loss ``E`` is at or above a seed's target says
no compute-optimal scratch model ever reaches it: ``c_opt = inf`` and savings (3) is its limit,
``1 - C / inf = +100%``. Such samples are kept at that value (the top of the ranking), not
dropped: dropping them would move the interval down, towards scratch, on the strength of samples
that say scratch cannot get there. They are counted and the count is printed; when more than 2.5%
of the samples are such, the interval's upper end is +100%. (These samples contradict the scratch
run itself, which reached the target: they are the law's far tail, not evidence for growth.)

This module imports numpy and the laws; scipy (the t quantile) on first use.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..errors import OutOfRangeWarning, ScalingError
from ..fit.noise import t_interval, t_quantile
from ..laws.base import percentile_interval
from ..laws.chinchilla import ChinchillaLaw

LEVEL = 0.95
MC_SEED = 0  # the Monte Carlo's RNG seed: the same store and law print the same interval
MC_DRAWS = 100_000
INTERVAL_WORDS = "95% t interval"


def interval_from_sd(mean: float, sd: float | None, n: int, level: float = LEVEL) -> tuple[float, float] | None:
    """The t interval from a mean, a standard deviation over ``n`` seeds (for files that kept only these)."""
    if sd is None or n < 2 or not math.isfinite(sd):
        return None
    half = t_quantile(n, level) * sd / math.sqrt(n)
    return (mean - half, mean + half)


def seed_stats(values, level: float = LEVEL) -> dict[str, Any]:
    """Mean, sd, n and the t interval (``lo``, ``hi``; None with one seed) of the finite ``values``;
    ``values`` keeps every seed's value (None where a seed has none)."""
    values = list(values)
    v = [float(x) for x in values if x is not None and math.isfinite(x)]
    iv = t_interval(v, level)
    return {
        "mean": float(np.mean(v)) if v else None,
        "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None,
        "n": len(v),
        "lo": iv[0] if iv else None,
        "hi": iv[1] if iv else None,
        "values": values,
    }


def flops_for_loss_samples(law, target: float) -> np.ndarray | None:
    """``flops_for_loss(target)`` under each of the law's bootstrap samples (``inf`` where the target is
    at or below a sample's irreducible loss); None when the law carries no samples."""
    if not getattr(law, "has_uncertainty", False):
        return None
    S = np.asarray(law.samples, dtype=float)
    out = np.full(len(S), np.inf)
    with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", OutOfRangeWarning)
        if type(law) is ChinchillaLaw:  # every sample at once
            e = S[:, list(ChinchillaLaw.param_names).index("E")]
            ok = target > e
            if ok.any():
                out[ok] = np.asarray(ChinchillaLaw.stacked(S[ok]).flops_for_loss(target), dtype=float)
            return out
        for j, sample in enumerate(law.sample_laws()):
            try:
                out[j] = float(sample.flops_for_loss(target))
            except ScalingError:
                pass  # out of reach for this sample: inf
    return out


def savings_samples(total_flops: float, c_opt: np.ndarray) -> np.ndarray:
    """Savings (3) ``1 - C / c_opt`` per law sample; ``c_opt = inf`` gives the limit 1 (module docstring)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = 1.0 - total_flops / c_opt
    return np.where(np.isinf(c_opt) & (c_opt > 0), 1.0, s)


def combine_law_and_seeds(
    S: np.ndarray, level: float = LEVEL, *, draws: int = MC_DRAWS, seed: int = MC_SEED
) -> dict[str, Any]:
    """The savings (3) interval from a (seeds x law samples) matrix ``S`` (module docstring).

    Returns ``law`` (the percentile interval of the seed mean over the law's samples), ``combined``
    (law samples and seed noise; the law interval alone with one seed), ``n_samples`` (usable samples:
    finite in every seed) and ``n_invalid`` (samples left out: non-finite savings)."""
    S = np.atleast_2d(np.asarray(S, dtype=float))
    good = np.all(np.isfinite(S), axis=0)
    S = S[:, good]
    n, k = S.shape
    out: dict[str, Any] = {"n_samples": int(k), "n_invalid": int((~good).sum()), "law": None, "combined": None}
    if k < 2 or n < 1:
        return out
    m = S.mean(axis=0)
    lo, hi = percentile_interval(m[:, None], level)
    out["law"] = (float(lo[0]), float(hi[0]))
    if n < 2:
        out["combined"] = out["law"]
        return out
    s = S.std(axis=0, ddof=1)
    rng = np.random.default_rng(seed)
    j = rng.integers(k, size=draws)
    x = m[j] + s[j] / math.sqrt(n) * rng.standard_t(n - 1, size=draws)
    q = (1 - level) / 2
    clo, chi = np.quantile(x, [q, 1 - q])
    out["combined"] = (float(clo), float(chi))
    return out


__all__ = [
    "LEVEL",
    "MC_SEED",
    "MC_DRAWS",
    "INTERVAL_WORDS",
    "t_quantile",
    "t_interval",
    "interval_from_sd",
    "seed_stats",
    "flops_for_loss_samples",
    "savings_samples",
    "combine_law_and_seeds",
]
