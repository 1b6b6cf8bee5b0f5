"""Planning queries: turn a law into a compute-optimal plan, with uncertainty and a cost.

The questions a planner asks, and how each is answered (all under the law's FLOP convention,
C = 6ND unless the law or ``convention`` says otherwise):

- a budget (FLOPs, GPU-hours or dollars)            -> the frontier point N_opt(C), D_opt(C)
- a size (``params``)                               -> the budget whose optimum is that size
- a token count (``tokens``)                        -> the budget whose optimum is that many tokens
- a target loss                                     -> the least compute that reaches it
- a target loss and a size (or token count)         -> the tokens (or size) that reach it
- a budget and a size (or token count)              -> the other from C = flops_per_token * D
- a size and a token count                          -> evaluate the law there, and say how far the
                                                       point is from the frontier at its budget

``plan_table`` answers the first kind for many budgets at once, vectorised (a DataFrame);
``plan`` answers any kind and returns :class:`Plan` objects with intervals, shapes and budgets.
This module imports neither torch nor matplotlib.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from .errors import OutOfRangeWarning, ScalingError
from .laws import DEFAULT_LAW, Law, get_law

# relative mismatch tolerated between a budget and the size x tokens it is given with
OVERDETERMINED_RTOL = 0.01


@dataclass
class Plan:
    """One answered planning query (all quantities are plain floats)."""

    law: str
    query: str
    flops: float
    params: float
    tokens: float
    tokens_per_param: float
    loss: float | None
    flops_convention: str
    params_convention: str
    interval: dict[str, dict[str, float]] | None = None
    shape: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None
    frontier: dict[str, float] | None = None   # for off-frontier points: the optimum at the same C
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("interval", "shape", "budget", "frontier"):
            if d[k] is None:
                del d[k]
        if not d["extra"]:
            del d["extra"]
        if not d["warnings"]:
            del d["warnings"]
        return _clean(d)


def _clean(obj):
    """JSON-safe: numpy scalars to floats, non-finite floats to None."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


# ---------------------------------------------------------------------------------------------
# frontiers under any FLOP convention


def frontier(law: Law, C, *, convention: str | None = None, vocab: int = 50257, context: int = 2048,
             mixer: str = "attention", sparsity: float = 0.0):
    """Compute-optimal (N, D) at budgets C, vectorised.

    Under the law's own convention the law's closed form is used. Under another FLOP convention
    (a parametric law only), the budget buys D = C / flops_per_token(N) tokens, where
    flops_per_token comes from a smooth shape rule (:func:`scaling.shapes.smooth_flops_per_token`),
    and N is found by minimising L(N, C / flops_per_token(N)) over log N (golden section).
    """
    conv = convention or law.flops_convention
    if conv == law.flops_convention and mixer == "attention" and not sparsity:
        return law.frontier(C)
    if not law.has_loss:
        raise ScalingError(f"law {law.name!r} is an allocation fitted under the {law.flops_convention!r} "
                           f"FLOP convention; it cannot be re-planned under {conv!r}")
    from .shapes import smooth_flops_per_token

    C = np.asarray(C, dtype=float)
    fpt = lambda N: smooth_flops_per_token(N, vocab=vocab, context=context, convention=conv,  # noqa: E731
                                           mixer=mixer, sparsity=sparsity)
    N0, _ = law.frontier(C)
    lo, hi = np.log(np.asarray(N0) / 1e3), np.log(np.asarray(N0) * 1e3)
    obj = lambda x: law.loss(np.exp(x), C / fpt(np.exp(x)))  # noqa: E731
    N = np.exp(_golden_min(obj, lo, hi))
    D = C / fpt(N)
    return (float(N), float(D)) if np.ndim(N) == 0 else (N, D)


def _golden_min(f, lo, hi, iters: int = 90):
    """Vectorised golden-section search for the minimum of a unimodal f on [lo, hi] (elementwise)."""
    r = (math.sqrt(5) - 1) / 2
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    for _ in range(iters):
        x1, x2 = hi - r * (hi - lo), lo + r * (hi - lo)
        left = f(x1) < f(x2)          # the minimum lies in [lo, x2]
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
    return 0.5 * (lo + hi)


def plan_table(flops, law: str | Law = DEFAULT_LAW, *, convention: str | None = None,
               intervals: bool = True, level: float = 0.95, vocab: int = 50257, context: int = 2048):
    """Compute-optimal plans for many budgets at once: a DataFrame with one row per budget.

    Columns: flops, params, tokens, tokens_per_param, loss (if the law has a loss model), and
    params_lo/hi, tokens_lo/hi, loss_lo/hi when the law carries samples. Vectorised: 1e6 budgets
    take a fraction of a second.
    """
    import pandas as pd

    law = get_law(law)
    C = _budgets(flops, "flops")
    law.check_range(C)
    N, D = frontier(law, C, convention=convention, vocab=vocab, context=context)
    cols: dict[str, Any] = {"flops": C, "params": np.broadcast_to(N, C.shape),
                            "tokens": np.broadcast_to(D, C.shape)}
    cols["tokens_per_param"] = cols["tokens"] / cols["params"]
    if law.has_loss:
        cols["loss"] = np.broadcast_to(law.loss(N, D), C.shape)
    if intervals and law.has_uncertainty:
        for key, (lo, hi) in _frontier_intervals(law, C, convention, level, vocab, context).items():
            cols[f"{key}_lo"], cols[f"{key}_hi"] = lo, hi
    return pd.DataFrame(cols)


def _frontier_intervals(law: Law, C, convention, level, vocab, context) -> dict[str, tuple]:
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


def _budgets(x, what: str) -> np.ndarray:
    C = np.atleast_1d(np.asarray(x, dtype=float))
    if C.size == 0:
        raise ScalingError(f"{what}: no budget given")
    if not np.all(np.isfinite(C)):
        raise ScalingError(f"{what} must be finite numbers")
    if np.any(C <= 0):
        raise ScalingError(f"{what} must be positive")
    return C


# ---------------------------------------------------------------------------------------------
# hardware


@dataclass
class Hardware:
    """Where the plan is trained; turns FLOPs into GPU-hours, days, dollars, kWh and CO2."""

    accelerator: str = "h100"
    gpus: int | None = None
    mfu: float = 0.4
    price_per_gpu_hour: float | None = None
    pue: float | None = None
    grid_kg_per_kwh: float | None = None

    def _kw(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"mfu": self.mfu, "gpus": self.gpus, "price_per_gpu_hour": self.price_per_gpu_hour}
        if self.pue is not None:
            kw["pue"] = self.pue
        if self.grid_kg_per_kwh is not None:
            kw["grid_kg_per_kwh"] = self.grid_kg_per_kwh
        return kw

    def budget(self, flops: float) -> dict[str, Any]:
        from .hardware import budget
        return budget(flops, self.accelerator, **self._kw()).to_dict()

    def flops_for_gpu_hours(self, hours: float) -> float:
        from .hardware import flops_for_gpu_hours
        return float(flops_for_gpu_hours(hours, self.accelerator, mfu=self.mfu))

    def flops_for_dollars(self, dollars: float) -> float:
        from .hardware import flops_for_dollars
        return float(flops_for_dollars(dollars, self.accelerator, mfu=self.mfu,
                                       price_per_gpu_hour=self.price_per_gpu_hour))


# ---------------------------------------------------------------------------------------------
# the general query


def _vals(x, what) -> list[float | None]:
    if x is None:
        return [None]
    arr = np.atleast_1d(np.asarray(x, dtype=float))
    for v in arr:
        if not math.isfinite(v):
            raise ScalingError(f"{what}: {v} is not finite")
        if v <= 0:
            raise ScalingError(f"{what}: {v:g} must be positive")
    return [float(v) for v in arr]


def plan(flops=None, *, params=None, tokens=None, target_loss=None, gpu_hours=None, dollars=None,
         law: str | Law = DEFAULT_LAW, convention: str | None = None, hardware: Hardware | None = None,
         shape: bool = False, vocab: int = 50257, context: int = 2048, level: float = 0.95) -> list[Plan]:
    """Answer a planning query; each argument may be a number or a sequence (one Plan per value).

    Exactly what is given decides the question (see the module docstring). Giving a budget
    together with both a size and a token count that do not match it is an error, as are two
    kinds of budget at once.
    """
    law_obj = get_law(law)
    conv = convention or law_obj.flops_convention
    budgets = [("flops", flops), ("gpu_hours", gpu_hours), ("dollars", dollars)]
    given = [(k, v) for k, v in budgets if v is not None]
    if len(given) > 1:
        raise ScalingError("give one budget: " + " or ".join(f"--{k.replace('_', '-')}" for k, _ in given)
                           + ", not both")
    if given and given[0][0] != "flops" and hardware is None:
        hardware = Hardware()
    if target_loss is not None and given:
        raise ScalingError("a budget and a --target-loss over-determine the plan: give one of them")
    if target_loss is not None and params is not None and tokens is not None:
        raise ScalingError("--target-loss with both --params and --tokens over-determines the plan")

    plans: list[Plan] = []
    budget_kind, budget_vals = (given[0][0], _vals(given[0][1], given[0][0])) if given else (None, [None])
    for bval in budget_vals:
        C_in = None
        if budget_kind == "flops":
            C_in = bval
        elif budget_kind == "gpu_hours":
            C_in = hardware.flops_for_gpu_hours(bval)
        elif budget_kind == "dollars":
            C_in = hardware.flops_for_dollars(bval)
        for N_in in _vals(params, "params"):
            for D_in in _vals(tokens, "tokens"):
                for L_in in ([None] if target_loss is None else _vals(target_loss, "target loss")):
                    plans.append(_plan_one(law_obj, conv, C_in, N_in, D_in, L_in, hardware, shape,
                                           vocab, context, level, budget_kind, bval))
    return plans


def _flops_per_token(law: Law, conv: str, N, vocab, context):
    if conv == "6nd":
        return 6.0 * np.asarray(N, dtype=float)
    from .shapes import smooth_flops_per_token
    return smooth_flops_per_token(N, vocab=vocab, context=context, convention=conv)


def _params_for_tokens_at_budget(law, conv, C, D, vocab, context):
    if conv == "6nd":
        return C / (6.0 * D)
    # flops_per_token(N) * D = C, monotone in N: bisect in log space
    from .laws.base import brentq_vec
    return float(brentq_vec(lambda N: _flops_per_token(law, conv, N, vocab, context) * D - C,
                            np.array([1e3]), np.array([1e16]))[0])


def _plan_one(law: Law, conv: str, C, N, D, L, hardware, want_shape, vocab, context, level,
              budget_kind, budget_value) -> Plan:
    native = conv == law.flops_convention
    query: str
    frontier_info = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OutOfRangeWarning)
        if L is not None:
            if law.irreducible_loss is not None and L <= law.irreducible_loss:
                raise ScalingError(f"target loss {L:g} is at or below the irreducible loss E = "
                                   f"{law.irreducible_loss:g} of law {law.name!r}: no amount of compute reaches it")
            if N is not None:
                query = "target_loss+params"
                D = float(law.tokens_for_loss(N, L))
                if not math.isfinite(D):
                    floor = float(law.loss(N, 1e30))
                    raise ScalingError(f"a model of {N:.3g} parameters never reaches loss {L:g} under {law.name!r} "
                                       f"(its loss tends to {floor:.4g} with infinite data); choose a larger size")
            elif D is not None:
                query = "target_loss+tokens"
                if not hasattr(law, "params_for_loss"):
                    raise ScalingError(f"law {law.name!r} cannot solve for the size from tokens and a target loss")
                N = float(law.params_for_loss(D, L))
                if not math.isfinite(N):
                    floor = float(law.loss(1e30, D))
                    raise ScalingError(f"{D:.3g} tokens never reach loss {L:g} under {law.name!r} (the loss tends "
                                       f"to {floor:.4g} with infinite parameters); use more tokens")
            else:
                query = "target_loss"
                C = float(law.flops_for_loss(L))
                if not native:
                    C = float(_flops_for_loss_numeric(law, conv, L, C, vocab, context))
                N, D = frontier(law, C, convention=conv, vocab=vocab, context=context)
            if C is None:
                C = float(_flops_per_token(law, conv, N, vocab, context) * D)
        elif C is not None:
            if N is not None and D is not None:
                C_nd = float(_flops_per_token(law, conv, N, vocab, context) * D)
                if abs(C_nd / C - 1) > OVERDETERMINED_RTOL:
                    raise ScalingError(f"the budget {C:.4g} FLOPs does not match --params {N:.4g} and --tokens "
                                       f"{D:.4g} ({C_nd:.4g} FLOPs under {conv}): give two of the three")
                query = "flops+params+tokens"
            elif N is not None:
                query = "flops+params"
                D = C / float(_flops_per_token(law, conv, N, vocab, context))
            elif D is not None:
                query = "flops+tokens"
                N = float(_params_for_tokens_at_budget(law, conv, C, D, vocab, context))
            else:
                query = budget_kind or "flops"
                N, D = frontier(law, C, convention=conv, vocab=vocab, context=context)
        elif N is not None and D is not None:
            query = "params+tokens"
            C = float(_flops_per_token(law, conv, N, vocab, context) * D)
        elif N is not None:
            query = "params"
            C = float(law.flops_for_params(N)) if native else _invert_frontier(law, conv, N, 0, vocab, context)
            D = float(frontier(law, C, convention=conv, vocab=vocab, context=context)[1])
        elif D is not None:
            query = "tokens"
            C = float(law.flops_for_tokens(D)) if native else _invert_frontier(law, conv, D, 1, vocab, context)
            N = float(frontier(law, C, convention=conv, vocab=vocab, context=context)[0])
        else:
            raise ScalingError("nothing to plan: give a budget (FLOPs, --gpu-hours or --dollars), "
                               "--params, --tokens or --target-loss")
        C, N, D = float(C), float(N), float(D)
        law.check_range(C)
        loss = float(law.loss(N, D)) if law.has_loss else None
        if loss is None and getattr(law, "has_frontier_loss", False) and query in (
                "flops", "gpu_hours", "dollars", "params", "tokens", "target_loss"):
            loss = float(law.loss_at_frontier(C))  # an allocation law knows the loss on its frontier only

        # how far an off-frontier point is from the optimum at its own budget
        if query in ("params+tokens", "flops+params", "flops+tokens", "flops+params+tokens",
                     "target_loss+params", "target_loss+tokens"):
            No, Do = frontier(law, C, convention=conv, vocab=vocab, context=context)
            frontier_info = {"params": float(No), "tokens": float(Do), "tokens_per_param": float(Do / No)}
            if law.has_loss:
                Lo = float(law.loss(No, Do))
                frontier_info["loss"] = Lo
                frontier_info["loss_gap"] = loss - Lo
                try:
                    C_eq = float(law.flops_for_loss(loss)) if loss > (law.irreducible_loss or 0) else float("nan")
                    frontier_info["compute_efficiency"] = C_eq / C  # optimal compute for this loss / compute used
                except ScalingError:
                    pass

    plan_obj = Plan(law=law.name, query=query, flops=C, params=N, tokens=D, tokens_per_param=D / N, loss=loss,
                    flops_convention=conv, params_convention=law.params_convention, frontier=frontier_info,
                    warnings=[str(w.message) for w in caught if issubclass(w.category, OutOfRangeWarning)])
    if budget_kind in ("gpu_hours", "dollars"):
        plan_obj.extra[budget_kind] = budget_value
    if law.has_uncertainty:
        plan_obj.interval = _plan_interval(law, conv, query, C, N, D, L, vocab, context, level)
    if want_shape:
        plan_obj.shape = _shape(law, conv, C, N, D, vocab, context)
    if hardware is not None:
        plan_obj.budget = hardware.budget(C)
    return plan_obj


def _invert_frontier(law, conv, value, which, vocab, context) -> float:
    """The budget whose numeric frontier (non-native convention) has N (which=0) or D (which=1) = value."""
    from .laws.base import brentq_vec
    f = lambda C: np.log(np.asarray(frontier(law, C, convention=conv, vocab=vocab, context=context)[which]) / value)  # noqa: E731
    return float(brentq_vec(f, np.array([1e6]), np.array([1e35]))[0])


def _flops_for_loss_numeric(law, conv, L, C0, vocab, context) -> float:
    from .laws.base import brentq_vec

    def gap(C):
        N, D = frontier(law, C, convention=conv, vocab=vocab, context=context)
        return law.loss(N, D) - L
    return float(brentq_vec(gap, np.array([C0 / 100]), np.array([C0 * 100]))[0])


def _plan_interval(law, conv, query, C, N, D, L, vocab, context, level):
    """Percentile intervals over the law's samples, holding fixed what the user fixed."""
    def fn(s: Law):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if query in ("flops", "gpu_hours", "dollars"):
                n, d = frontier(s, C, convention=conv, vocab=vocab, context=context)
            elif query == "target_loss":
                try:
                    c = float(s.flops_for_loss(L))
                    n, d = frontier(s, c, convention=conv, vocab=vocab, context=context)
                except ScalingError:
                    n, d = np.nan, np.nan
            elif query == "params":
                c = float(s.flops_for_params(N)) if conv == s.flops_convention else np.nan
                n, d = N, (float(s.frontier(c)[1]) if np.isfinite(c) else np.nan)
            elif query == "tokens":
                c = float(s.flops_for_tokens(D)) if conv == s.flops_convention else np.nan
                n, d = (float(s.frontier(c)[0]) if np.isfinite(c) else np.nan), D
            elif query == "target_loss+params":
                n, d = N, float(s.tokens_for_loss(N, L))
            elif query == "target_loss+tokens":
                n, d = float(s.params_for_loss(D, L)), D
            else:  # N and D fixed: only the loss is uncertain
                n, d = N, D
            loss = s.loss(n, d) if s.has_loss and np.isfinite(n) and np.isfinite(d) else np.nan
            return np.array([n, d, loss], dtype=float)

    res = law.interval(fn, level)
    if res is None:
        return None
    lo, hi = res
    out = {"level": level}
    for i, k in enumerate(("params", "tokens", "loss")):
        if np.isfinite(lo[i]) and np.isfinite(hi[i]) and not (k == "loss" and not law.has_loss):
            out[k] = {"lo": float(lo[i]), "hi": float(hi[i])}
    return out


def _shape(law, conv, C, N, D, vocab, context) -> dict[str, Any]:
    """A concrete model shape for N, its snapping error, and the tokens it gets from the same budget."""
    from .shapes import shape_for_params

    res = shape_for_params(N, vocab=vocab, context=context, non_embedding=law.params_convention == "non_embedding")
    s = res.shape
    d = s.to_dict()
    fpt = float(s.flops_per_token(conv if conv in ("6nd", "kaplan", "chinchilla", "palm") else "6nd"))
    d.update({"params_achieved": float(res.achieved), "snap_rel_error": float(res.rel_error),
              "flops_per_token": fpt, "tokens_at_budget": C / fpt})
    return d


def format_table(plans: Sequence[Plan]) -> str:
    """A plain-text table, one row per plan, with the columns that carry information."""
    from .units import si

    def lohi(p: Plan, k: str, f=si):
        iv = (p.interval or {}).get(k)
        return f"{f(iv['lo'])}-{f(iv['hi'])}" if iv else ""

    cols: list[tuple[str, Any]] = [
        ("FLOPs", lambda p: f"{p.flops:.3g}"),
        ("params", lambda p: si(p.params)),
        ("tokens", lambda p: si(p.tokens)),
        ("tok/param", lambda p: f"{p.tokens_per_param:.1f}"),
    ]
    if any(p.loss is not None for p in plans):
        cols.append(("loss", lambda p: "-" if p.loss is None else f"{p.loss:.4f}"))
    if any(p.interval for p in plans):
        lvl = int(round(100 * next(p.interval for p in plans if p.interval)["level"]))
        cols += [(f"params {lvl}%", lambda p: lohi(p, "params")), (f"tokens {lvl}%", lambda p: lohi(p, "tokens"))]
        if any((p.interval or {}).get("loss") for p in plans):
            cols.append((f"loss {lvl}%", lambda p: lohi(p, "loss", lambda v: f"{v:.3f}")))
    if any(p.frontier for p in plans):
        cols.append(("optimal N @C", lambda p: si(p.frontier["params"]) if p.frontier else ""))
        if any(p.frontier and "loss_gap" in p.frontier for p in plans):
            cols.append(("loss gap", lambda p: f"+{p.frontier['loss_gap']:.4f}" if p.frontier and "loss_gap" in p.frontier else ""))
    if any(p.shape for p in plans):
        cols.append(("shape (L x d, heads)", lambda p: f"{p.shape['n_layer']} x {p.shape['d_model']}, {p.shape['n_head']}"
                     if p.shape else ""))
        cols.append(("snap", lambda p: f"{100 * p.shape['snap_rel_error']:+.1f}%" if p.shape else ""))
    if any(p.budget for p in plans):
        b0 = next(p.budget for p in plans if p.budget)
        cols += [("GPU-hours", lambda p: si(p.budget["gpu_hours"])),
                 (f"days@{b0['gpus']}" if b0.get("gpus") else "days", lambda p: f"{p.budget['days']:.3g}"),
                 ("cost $", lambda p: si(p.budget["cost_usd"])),
                 ("MWh", lambda p: f"{p.budget['energy_kwh'] / 1e3:.3g}"),
                 ("t CO2e", lambda p: f"{p.budget['co2_kg'] / 1e3:.3g}")]
    rows = [[name for name, _ in cols]] + [[f(p) for _, f in cols] for p in plans]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    p0 = plans[0]
    head = f"law: {p0.law}   FLOPs convention: {p0.flops_convention}   params: {p0.params_convention}"
    if p0.budget:
        b = p0.budget
        head += f"\nhardware: {b['accelerator']} at {100 * b['mfu']:.0f}% MFU"
    return head + "\n" + "\n".join(lines)


from ._callable import make_callable  # noqa: E402

make_callable(__name__, "plan")  # scaling.plan(...) calls plan() even when it resolves to this module
