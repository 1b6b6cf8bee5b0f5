"""Compute-optimal frontiers under any FLOP convention, their inverses, and many budgets at once.

Under the law's own convention (C = 6ND for most laws) the law's closed forms answer. Under
another convention (``palm``, ``chinchilla``: attention pays for its context, Hyena for its FFTs)
a budget buys D = C / flops_per_token(N) tokens, flops_per_token from the smooth shape rule
(:func:`scaling.shapes.smooth_flops_per_token`), and the optimum is searched over log N.

The inverse queries (the budget whose optimum is a given size or token count) solve the optimum's
first-order condition directly: at the optimum N of budget C, moving N either way along the
isoFLOP line costs loss, so for a given N the budget is the root in D of the central difference
L(N e^h, C / fpt(N e^h)) - L(N e^-h, C / fpt(N e^-h)) with C = D fpt(N), which needs
flops_per_token at three sizes only (Brent's method on a cheap function) instead of a root-finder
over whole frontier searches.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from .._solve import bisect_log, brentq, golden_min
from ..errors import ScalingError
from ..laws import DEFAULT_LAW, Law, get_law
from ..laws.base import percentile_interval
from ..shapes import shape_for_params, smooth_flops_per_token

# half-width in log N of the central difference in the first-order condition of the inverses
_FOC_STEP = 1e-4


def arch(vocab: int = 50257, context: int = 2048, mixer: str = "attention", sparsity: float = 0.0) -> dict:
    """What the FLOPs per token depend on besides N: passed as ``**arch`` to :func:`frontier`."""
    return {"vocab": vocab, "context": context, "mixer": mixer, "sparsity": sparsity}


def native(law: Law, conv: str, arch: dict) -> bool:
    """Whether the law's closed forms apply: its own convention, and either C = 6ND (where N is the
    mixer's parameters, non-zero ones under sparsity, and nothing else matters) or dense attention."""
    return conv == law.flops_convention and (conv == "6nd" or (arch["mixer"] == "attention" and not arch["sparsity"]))


def flops_per_token(law: Law, conv: str, N, arch: dict):
    """Training FLOPs per token of a size-N model under ``conv`` (the smooth shape rule; a law with a
    cost model of its own, the fine-grained MoE law, under its own convention: its own model)."""
    own = getattr(law, "flops_per_token", None)
    if own is not None and conv == law.flops_convention:
        G = getattr(law, "granularity", None)
        if G is None:
            raise ScalingError(
                f"law {law.name!r} counts FLOPs with its own cost model, which depends on the granularity: "
                "give --granularity G (Python: granularity=G) to plan a given size or token count"
            )
        return np.asarray(own(N, G), dtype=float)
    if conv == "6nd":
        return 6.0 * np.asarray(N, dtype=float)
    return smooth_flops_per_token(N, convention=conv, non_embedding=law.params_convention == "non_embedding", **arch)


def frontier(
    law: Law,
    C,
    *,
    convention: str | None = None,
    vocab: int = 50257,
    context: int = 2048,
    mixer: str = "attention",
    sparsity: float = 0.0,
):
    """Compute-optimal (N, D) at budgets C, vectorised.

    Under the law's own convention the law's closed form is used. Under another FLOP convention
    (a parametric law only), the budget buys D = C / flops_per_token(N) tokens, where
    flops_per_token comes from a smooth shape rule (:func:`scaling.shapes.smooth_flops_per_token`),
    and N is found by minimising L(N, C / flops_per_token(N)) over log N (golden section, within a
    factor 1000 of the law's own optimum).
    """
    conv = convention or law.flops_convention
    if conv == law.flops_convention and (conv == "6nd" or (mixer == "attention" and not sparsity)):
        return law.frontier(C)  # C = 6ND holds whatever the mixer (N non-zero under sparsity)
    if not law.has_loss:
        raise ScalingError(
            f"law {law.name!r} is an allocation fitted under the {law.flops_convention!r} "
            f"FLOP convention; it cannot be re-planned under {conv!r}"
        )
    C = np.asarray(C, dtype=float)
    a = arch(vocab, context, mixer, sparsity)
    N0, _ = law.frontier(C)
    lo, hi = np.log(np.asarray(N0) / 1e3), np.log(np.asarray(N0) * 1e3)
    N = np.exp(
        golden_min(lambda x: law.loss(np.exp(x), C / flops_per_token(law, conv, np.exp(x), a)), lo, hi, tol=1e-11)
    )
    D = C / flops_per_token(law, conv, N, a)
    return (float(N), float(D)) if np.ndim(N) == 0 else (N, D)


def sample_frontiers(law: Law, C, conv: str, arch: dict):
    """Every bootstrap sample's compute-optimal (N, D) at budgets C under a convention that is not the
    law's own, in one vectorised golden-section search over (samples x budgets) instead of a search
    per sample: arrays of shape (samples,) + shape(C), or None when the shortcut does not apply (a law
    that is not exactly the Chinchilla form, one without samples, the law's own convention, a cost
    model of its own). Each element is the search :func:`frontier` runs for that sample."""
    from ..laws.chinchilla import ChinchillaLaw

    if type(law) is not ChinchillaLaw or law.samples is None or not law.has_uncertainty or native(law, conv, arch):
        return None
    if getattr(law, "flops_per_token", None) is not None:
        return None
    st = ChinchillaLaw.stacked(law.samples)  # the samples along the last axis
    C = np.asarray(C, dtype=float)
    Cs = np.broadcast_to(C[..., None], (*C.shape, len(law.samples)))
    with np.errstate(all="ignore"):
        N0 = st.frontier(Cs)[0]

        def fpt(N):
            return flops_per_token(law, conv, N.ravel(), arch).reshape(N.shape)

        N = np.exp(
            golden_min(lambda x: st.loss(np.exp(x), Cs / fpt(np.exp(x))), np.log(N0 / 1e3), np.log(N0 * 1e3), tol=1e-11)
        )
        D = Cs / fpt(N)
        L = st.loss(N, D)
    return tuple(np.moveaxis(v, -1, 0) for v in (N, D, L))


def _foc_gap(law: Law, N: float, D: float, fpt3: np.ndarray) -> float:
    """The first-order condition of the isoFLOP optimum at (N, D), as a central difference in log N
    (fpt3: flops per token at N e^-h, N, N e^h). Positive: N is above the optimum of its budget."""
    C = D * fpt3[1]
    h = _FOC_STEP
    return float(law.loss(N * math.exp(h), C / fpt3[2]) - law.loss(N * math.exp(-h), C / fpt3[0]))


def invert_frontier(law: Law, conv: str, value: float, which: int, a: dict) -> float:
    """The budget whose numeric frontier (non-native convention) has N (which=0) or D (which=1) = value."""
    h = _FOC_STEP
    if which == 0:  # a size: the tokens at which N is optimal, from the FOC at three sizes only
        N = float(value)
        fpt3 = np.asarray(flops_per_token(law, conv, N * np.exp([-h, 0.0, h]), a), dtype=float)
        g = lambda t: _foc_gap(law, N, math.exp(t), fpt3)  # noqa: E731  (decreasing in log D)
        lo, hi = _bracket(g, math.log(N) + math.log(20.0))
        return float(math.exp(brentq(g, lo, hi, xtol=1e-13)) * fpt3[1])
    D = float(value)

    def g_n(t):  # a token count: the size at which D is optimal (decreasing in log N)
        fpt3 = np.asarray(flops_per_token(law, conv, math.exp(t) * np.exp([-h, 0.0, h]), a), dtype=float)
        return -_foc_gap(law, math.exp(t), D, fpt3)

    lo, hi = _bracket(g_n, math.log(D / 20.0))
    t = brentq(g_n, lo, hi, xtol=1e-13)
    return float(D * flops_per_token(law, conv, math.exp(t), a))


def _bracket(g, x0: float, step: float = math.log(10.0), limit: int = 40) -> tuple[float, float]:
    """A bracket [lo, hi] around the root of a decreasing g, grown outwards from x0."""
    lo = hi = x0
    with np.errstate(all="ignore"):
        for _ in range(limit):
            if g(lo) > 0:
                break
            lo -= step
        for _ in range(limit):
            if g(hi) < 0:
                break
            hi += step
    if not (g(lo) > 0 > g(hi)):
        raise ScalingError("no compute-optimal budget has that size or token count under this law and convention")
    return lo, hi


def flops_for_loss_numeric(law: Law, conv: str, L: float, C0: float, a: dict) -> float:
    """The least compute reaching loss L on the numeric frontier (near the native estimate C0)."""

    def gap(C):
        N, D = frontier(law, C, convention=conv, **a)
        return law.loss(N, D) - L

    return float(bisect_log(gap, np.array([C0 / 100]), np.array([C0 * 100]))[0])


def params_for_tokens_at_budget(law: Law, conv: str, C: float, D: float, a: dict) -> float:
    """The size N with flops_per_token(N) * D = C (monotone in N)."""
    if conv == "6nd":
        return C / (6.0 * D)
    return float(bisect_log(lambda N: flops_per_token(law, conv, N, a) * D - C, np.array([1e3]), np.array([1e16]))[0])


def plan_shape(law, conv, C, N, D, arch: dict) -> dict[str, Any]:
    """A concrete model shape for N, its snapping error, and the tokens it gets from the same budget
    (under sparsity N counts non-zero parameters: the dense shape is searched so that its non-zero
    count is N)."""
    S, mixer = arch.get("sparsity", 0.0), arch.get("mixer", "attention")
    non_emb = law.params_convention == "non_embedding"
    res = shape_for_params(N, vocab=arch["vocab"], context=arch["context"], mixer=mixer, non_embedding=non_emb)
    s = res.shape
    if S:

        def nonzero(shape):
            return float(dataclasses.replace(shape, sparsity=S).param_counts()["nonzero"])

        target = N
        for _ in range(4):  # fixed point: scale the dense target by the snapped shape's non-zero ratio
            target *= N / nonzero(s)
            s = shape_for_params(
                target, vocab=arch["vocab"], context=arch["context"], mixer=mixer, non_embedding=non_emb
            ).shape
        s = dataclasses.replace(s, sparsity=S)
        res = dataclasses.replace(res, shape=s, achieved=nonzero(s), rel_error=nonzero(s) / N - 1)
    d = s.to_dict()
    fpt = float(s.flops_per_token(conv if conv in ("6nd", "kaplan", "chinchilla", "palm") else "6nd"))
    d.update(
        {
            "params_achieved": float(res.achieved),
            "snap_rel_error": float(res.rel_error),
            "flops_per_token": fpt,
            "tokens_at_budget": C / fpt,
        }
    )
    return d


def budgets(x, what: str) -> np.ndarray:
    C = np.atleast_1d(np.asarray(x, dtype=float))
    if C.size == 0:
        raise ScalingError(f"{what}: no budget given")
    if not np.all(np.isfinite(C)):
        raise ScalingError(f"{what} must be finite numbers")
    if np.any(C <= 0):
        raise ScalingError(f"{what} must be positive")
    return C


def plan_table(
    flops,
    law: str | Law = DEFAULT_LAW,
    *,
    convention: str | None = None,
    intervals: bool = True,
    level: float = 0.95,
    vocab: int = 50257,
    context: int = 2048,
):
    """Compute-optimal plans for many budgets at once: a DataFrame with one row per budget.

    Columns: flops, params, tokens, tokens_per_param, loss (if the law has a loss model), and
    params_lo/hi, tokens_lo/hi, loss_lo/hi when the law carries samples. Vectorised: 1e6 budgets
    take a fraction of a second.
    """
    import pandas as pd  # pandas costs `scaling plan` 0.2 s of start-up: only the table needs it

    law = get_law(law)
    C = budgets(flops, "flops")
    law.check_range(C)
    N, D = frontier(law, C, convention=convention, vocab=vocab, context=context)
    cols: dict[str, Any] = {"flops": C, "params": np.broadcast_to(N, C.shape), "tokens": np.broadcast_to(D, C.shape)}
    cols["tokens_per_param"] = cols["tokens"] / cols["params"]
    if law.has_loss:
        cols["loss"] = np.broadcast_to(law.loss(N, D), C.shape)
    if intervals and law.has_uncertainty:
        for key, (lo, hi) in _frontier_intervals(law, C, convention, level, vocab, context).items():
            cols[f"{key}_lo"], cols[f"{key}_hi"] = lo, hi
    return pd.DataFrame(cols)


def _frontier_intervals(law: Law, C, convention, level, vocab, context) -> dict[str, tuple]:
    fast = sample_frontiers(law, np.asarray(C, dtype=float), convention or law.flops_convention, arch(vocab, context))
    if fast is not None:
        lo, hi = percentile_interval(np.stack(fast, axis=1), level)
        return {k: (lo[i], hi[i]) for i, k in enumerate(("params", "tokens", "loss"))}

    def fn(sample_law):
        N, D = frontier(sample_law, C, convention=convention, vocab=vocab, context=context)
        out = [N, D]
        if sample_law.has_loss:
            out.append(sample_law.loss(N, D))
        return np.stack([np.broadcast_to(x, np.shape(C)) for x in out])

    res = law.interval(fn, level)
    if res is None:
        return {}
    lo, hi = res
    keys = ["params", "tokens", "loss"][: lo.shape[0]]
    return {k: (lo[i], hi[i]) for i, k in enumerate(keys)}


__all__ = [
    "arch",
    "budgets",
    "flops_for_loss_numeric",
    "flops_per_token",
    "frontier",
    "invert_frontier",
    "native",
    "params_for_tokens_at_budget",
    "plan_shape",
    "plan_table",
    "sample_frontiers",
]
