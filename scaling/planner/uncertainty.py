"""How flat the optimum is, and how sure: flatness and distributions of the plan over a law's samples.

:func:`flatness` gives the range of sizes whose loss at the same budget is within a tolerance
(0.5%) of the best: the optimum is flat, and that range is the honest answer to "how big".
:func:`plan_distribution`, for a law with samples (a bootstrapped fit), gives percentiles of N_opt,
D_opt and the loss at a budget, the expected loss penalty of the point-estimate size, and the size
that minimises the expected loss. Both work with a data constraint (``unique_tokens``). C = 6ND.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._io import json_safe
from .._solve import bisect, scan_min
from ..errors import OutOfRangeWarning, ScalingError
from ..laws import ChinchillaLaw, Law, get_law
from ..laws.datacon import DataConstrainedLaw
from ..units import si
from ._checks import positive
from .constrained import as_data_constrained, check_unique_tokens, data_constrained_frontier
from .result import Interval


def _isoflop_loss(law: Law, C, U=None):
    """L(N) along the isoFLOP line of budget C (6ND), with U unique tokens when given."""
    if not law.has_loss:
        raise ScalingError(f"law {law.name!r} ({law.form}) has no loss model: no isoFLOP curve to examine")
    if U is not None:
        dlaw = law if isinstance(law, DataConstrainedLaw) else as_data_constrained(law)
        return lambda N: dlaw.loss(N, C / (6.0 * N), U)
    return lambda N: law.loss(N, C / (6.0 * N))


def isoflop_optimum(law: Law, C: float, U: float | None = None) -> tuple[float, float, float]:
    """(N*, D*, L*) minimising the law's loss along the isoFLOP line C = 6ND (numerically, so that
    it holds for any law with a loss model, with or without a data constraint)."""
    if U is None and isinstance(law, ChinchillaLaw) and law.flops_convention == "6nd":
        N, D = law.frontier(C)
        return float(N), float(D), float(law.loss(N, D))
    if U is not None:
        dlaw = law if isinstance(law, DataConstrainedLaw) else as_data_constrained(law)
        N, D = data_constrained_frontier(dlaw, C, U)
        return float(N), float(D), float(dlaw.loss(N, D, U))
    L = _isoflop_loss(law, C)
    x0 = math.log(float(law.frontier(C)[0])) if hasattr(law, "frontier") else math.log(math.sqrt(C / 120.0))
    x = float(scan_min(lambda x: L(np.exp(x)), np.array(x0 - math.log(1e4)), np.array(x0 + math.log(1e4))))
    N = math.exp(x)
    return N, C / (6.0 * N), float(L(N))


def flatness(
    law: str | Law,
    flops: float,
    tolerance: float = 0.005,
    *,
    unique_tokens: float | None = None,
    factors: Sequence[float] = (0.25, 0.5, 2.0 / 3.0, 1.5, 2.0, 4.0),
) -> dict[str, Any]:
    """How flat the optimum is: the sizes whose loss at the same budget is within ``tolerance``
    (relative, 0.005 = 0.5%) of the best, and the loss penalty of sizes ``factors`` x the optimum.

    Returns params_lo/params_hi (and the tokens each gets from the budget), their ratios to the
    optimum, and ``penalty``: {factor: relative loss increase}.
    """
    law = get_law(law)
    C = positive(flops, "FLOPs")
    tol = positive(tolerance, "flatness tolerance")
    if tol >= 1:
        raise ScalingError(f"flatness tolerance {tol:g} must be a fraction below 1 (0.005 = 0.5%)")
    U = None if unique_tokens is None else float(check_unique_tokens(unique_tokens)[0])
    N, D, Lb = isoflop_optimum(law, C, U)
    L = _isoflop_loss(law, C, U)
    x0 = math.log(N)
    target = (1.0 + tol) * Lb

    def g(x):
        return np.asarray(L(np.exp(x)), dtype=float) - target

    span = math.log(1e6)
    lo = float(bisect(g, np.array(x0 - span), np.array(x0), tol=1e-12)) if g(x0 - span) > 0 else x0 - span
    hi = float(bisect(g, np.array(x0), np.array(x0 + span), tol=1e-12)) if g(x0 + span) > 0 else x0 + span
    Nlo, Nhi = math.exp(lo), math.exp(hi)
    pen = {f"{k:.4g}": float(L(k * N) / Lb - 1.0) for k in factors}
    return {
        "tolerance": tol,
        "flops": C,
        "unique_tokens": U,
        "params_best": N,
        "tokens_best": D,
        "loss_best": Lb,
        "params_lo": Nlo,
        "params_hi": Nhi,
        "tokens_at_params_lo": C / (6 * Nlo),
        "tokens_at_params_hi": C / (6 * Nhi),
        "ratio_lo": Nlo / N,
        "ratio_hi": Nhi / N,
        "penalty": pen,
    }


def _sample_laws(law: Law) -> list[Law]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfRangeWarning)
        out = []
        for row in law.samples if law.samples is not None else ():
            try:
                out.append(law.with_params(row))
            except ScalingError:  # a degenerate resample (a parameter at zero): skip it
                continue
        return out


@dataclass(frozen=True)
class DistributionPlan:
    """The compute-optimal plan at a budget as a distribution over a law's samples (immutable;
    :meth:`summary` reads like a report, :meth:`conf_int` gives the intervals as a Plan's)."""

    law: str
    flops: float
    n_samples: int
    unique_tokens: float | None
    point: dict[str, float]  # the point-estimate law's optimum
    percentiles: dict[str, dict[str, float]]  # params/tokens/loss -> {"2.5": ..., "50": ..., ...}
    expected_penalty: float  # E_s[L_s(N_point) - L_s(N*_s)] (nats)
    robust: dict[str, float]  # the size minimising the expected loss over samples
    flatness: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))

    def conf_int(self, level: float = 0.95) -> dict[str, Interval]:
        """params/tokens/loss -> the central :class:`~scaling.planner.result.Interval` at ``level``
        over the samples, read off the percentiles the plan was made with (``level=0.95``: the 2.5th
        and the 97.5th); a level whose tails were not computed is an error that says so."""
        lo, hi = f"{50 * (1 - level):g}", f"{50 * (1 + level):g}"
        have = self.percentiles["params"]
        if lo not in have or hi not in have:
            raise ScalingError(
                f"this distribution holds the percentiles {', '.join(have)} only; plan it again with "
                f"percentiles including {lo} and {hi} for a {100 * level:g}% interval"
            )
        return {k: Interval(v[lo], v[hi]) for k, v in self.percentiles.items()}

    def summary(self) -> str:
        """The point estimate, the percentiles over the samples, the penalty of the point size, the
        robust size and the flat range."""
        p, r, f = self.point, self.robust, self.flatness
        fmt = {"params": si, "tokens": si, "loss": lambda v: f"{v:.4f}"}
        lines = [
            f"distribution of the compute-optimal plan at {self.flops:.4g} FLOPs under {self.law}: "
            f"{self.n_samples} samples"
            + ("" if self.unique_tokens is None else f", {si(self.unique_tokens)} unique tokens"),
            f"  point estimate: {si(p['params'])} parameters on {si(p['tokens'])} tokens, loss {p['loss']:.4f}",
        ]
        for k, pct in self.percentiles.items():
            lines.append(f"  {k} percentiles: " + ", ".join(f"{q}% {fmt[k](v)}" for q, v in pct.items()))
        lines += [
            f"  expected loss penalty of the point estimate's size: +{self.expected_penalty:.4g}",
            f"  least expected loss at {si(r['params'])} parameters on {si(r['tokens'])} tokens: "
            f"{r['expected_loss']:.4f} (penalty +{r['expected_penalty']:.4g})",
            f"  within {100 * f['tolerance']:g}% of the best loss: {si(f['params_lo'])} .. {si(f['params_hi'])} "
            f"parameters",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def plan_distribution(
    law: str | Law,
    flops: float,
    *,
    percentiles: Sequence[float] = (2.5, 5, 25, 50, 75, 95, 97.5),
    tolerance: float = 0.005,
    unique_tokens: float | None = None,
) -> DistributionPlan:
    """Percentiles of N_opt, D_opt and the optimal loss at ``flops`` over the law's samples, the
    expected loss penalty of choosing the point estimate's size, the size that minimises the
    expected loss, and the flatness of the point estimate's optimum."""
    law = get_law(law)
    C = positive(flops, "FLOPs")
    U = None if unique_tokens is None else float(check_unique_tokens(unique_tokens)[0])
    Np, Dp, Lp = isoflop_optimum(law, C, U)
    flat = flatness(law, C, tolerance, unique_tokens=U)
    if not law.has_uncertainty:
        raise ScalingError(
            f"law {law.name!r} carries no samples (fit with --bootstrap to get a distribution); "
            f"only the flatness of its optimum can be given"
        )
    laws = _sample_laws(law)
    rows = np.array([isoflop_optimum(s, C, U) for s in laws])
    q = np.asarray(percentiles, dtype=float)
    pct = {}
    for j, key in enumerate(("params", "tokens", "loss")):
        vals = np.nanpercentile(rows[:, j], q)
        pct[key] = {f"{p:g}": float(v) for p, v in zip(q, vals)}
    curves = [_isoflop_loss(s, C, U) for s in laws]

    def mean_loss(x):
        Nx = np.exp(x)
        return np.mean([np.asarray(c(Nx), dtype=float) for c in curves], axis=0)

    x0 = math.log(Np)
    xr = float(scan_min(mean_loss, np.array(x0 - math.log(100.0)), np.array(x0 + math.log(100.0)), n_scan=33, tol=1e-9))
    Nr = math.exp(xr)
    at_point = np.array([float(c(Np)) for c in curves])
    penalty = float(np.nanmean(at_point - rows[:, 2]))
    at_robust = np.array([float(c(Nr)) for c in curves])
    robust = {
        "params": Nr,
        "tokens": C / (6 * Nr),
        "expected_loss": float(np.nanmean(at_robust)),
        "expected_penalty": float(np.nanmean(at_robust - rows[:, 2])),
    }
    return DistributionPlan(
        law=law.name,
        flops=C,
        n_samples=len(laws),
        unique_tokens=U,
        point={"params": Np, "tokens": Dp, "loss": Lp},
        percentiles=pct,
        expected_penalty=penalty,
        robust=robust,
        flatness=flat,
    )


def flatness_extra(
    law: Law, flops: float, tol: float, unique_tokens: float | None, convention: str = "6nd"
) -> dict[str, Any]:
    """What ``scaling.plan(..., flatness=tol)`` adds to a plan's extras: ``flatness``, and
    ``distribution`` for a law with samples."""
    if not law.has_loss:
        raise ScalingError(f"--flatness needs a law with a loss model; {law.name!r} ({law.form}) has none")
    if convention != "6nd":
        raise ScalingError("--flatness is computed under C = 6ND; drop --convention")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfRangeWarning)
        out = {"flatness": flatness(law, flops, tol, unique_tokens=unique_tokens)}
        if law.has_uncertainty:
            out["distribution"] = plan_distribution(law, flops, tolerance=tol, unique_tokens=unique_tokens).to_dict()
    return out


__all__ = ["DistributionPlan", "flatness", "flatness_extra", "isoflop_optimum", "plan_distribution"]
