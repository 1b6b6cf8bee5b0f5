"""Comparing two architectures through their fitted laws: the effective compute multiplier.

The multiplier of architecture B over A at a target loss L is::

    M(L) = C_A(L) / C_B(L)

where C_X(L) is the least training compute with which architecture X reaches loss L along its own
compute-optimal frontier: M = 2 means B reaches L with half of A's compute (B is "worth 2x
compute"); M < 1 means B is worse. With a budget instead of a loss (``flops=C``), the target is
the loss A reaches with C on its frontier, and M = C / C_B(that loss).

How C_X(L) is counted:

- by default, on the law's own frontier (``law.flops_for_loss``: C = 6 N D for the Chinchilla-form
  laws; a :class:`scaling.laws.sparsity.SparsityLaw` is cut at the side's ``sparsity``);
- with a FLOPs-per-token function ``fpt(N)`` for the side (``flops_per_token=``, or
  :func:`arch_flops` from a mixer, context, sparsity and FLOP convention), as
  ``min over N of fpt(N) * D_X(N, L)``, where ``D_X(N, L)`` is the tokens the law says a model of N
  parameters needs to reach L. This is what makes a long-context comparison honest: attention
  pays for its context (the ``palm`` or ``chinchilla`` conventions count it), Hyena for its FFTs.

Uncertainty: when a law carries bootstrap samples (a FitResult fitted with ``bootstrap=``), the
multiplier is computed for each sample (the i-th sample of A with the i-th of B; a side without
samples stays at its estimate) and the percentile interval is reported, with the number of
samples for which the target is out of reach (below a sample's irreducible loss).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from .._solve import grid_min, grid_min_columns
from ..errors import OutOfRangeWarning, ScalingError
from ..laws import get_law
from ..laws import sparsity as _sparsity_law
from ..laws.base import Law
from ..laws.chinchilla import ChinchillaLaw
from ..shapes import smooth_flops_per_token

LOG_N_RANGE = (math.log(1e2), math.log(1e16))


def arch_flops(
    *,
    mixer: str = "attention",
    context: int = 2048,
    sparsity: float = 0.0,
    convention: str = "palm",
    vocab: int = 50257,
    non_embedding: bool = False,
    **kwargs,
) -> Callable[[np.ndarray], np.ndarray]:
    """Training FLOPs per token as a function of the law's N for one architecture, by
    :func:`scaling.shapes.smooth_flops_per_token` (N = non-zero parameters under sparsity).

    The comparison minimises over N once per bootstrap sample, mostly one N at a time, and each
    exact evaluation solves for a shape; so the returned function reads ``log fpt(log N)`` off a
    cubic spline through 2,401 exact values on the search range (relative error below 1e-10: the
    function is smooth and nearly linear in log-log), and falls back to the exact count outside
    it. ``fpt.exact`` is the exact count."""
    from scipy.interpolate import CubicSpline  # scipy is imported only when a comparison is drawn

    def exact(N):
        return smooth_flops_per_token(
            N,
            vocab=vocab,
            context=context,
            convention=convention,
            mixer=mixer,
            sparsity=sparsity,
            non_embedding=non_embedding,
            **kwargs,
        )

    knots = np.linspace(LOG_N_RANGE[0], LOG_N_RANGE[1], 2401)
    spline = CubicSpline(knots, np.log(exact(np.exp(knots))))

    def fpt(N):
        with np.errstate(all="ignore"):
            x = np.log(np.asarray(N, dtype=float))
        if x.size and np.all((x >= knots[0]) & (x <= knots[-1])):
            return np.exp(spline(x))
        return exact(N)

    fpt.exact = exact  # type: ignore[attr-defined]
    sparse = f", {100 * sparsity:g}% sparse" if sparsity else ""
    fpt.description = f"{mixer}, context {context}{sparse}, {convention} FLOPs, vocab {vocab}"  # type: ignore[attr-defined]
    return fpt


def _slice(law: Law, sparsity: float) -> Law:
    """A sparsity-law surface cut at ``sparsity``; any other law as it is."""
    if isinstance(law, _sparsity_law.SparsityLaw):
        return law.at_sparsity(sparsity)
    return law


def flops_for_loss(law: Law, target: float, flops_per_token=None) -> float:
    """Least training compute with which ``law`` reaches ``target`` (inf when out of reach)."""
    if flops_per_token is None:
        try:
            return float(law.flops_for_loss(target))
        except ScalingError:
            return math.inf

    def g(x):
        N = np.exp(x)
        D = np.asarray(law.tokens_for_loss(N, target), dtype=float)
        return np.log(np.asarray(flops_per_token(N), dtype=float)) + np.log(D)

    _, v = grid_min(g, *LOG_N_RANGE, n=481)
    return math.exp(v) if math.isfinite(v) else math.inf


def loss_for_flops(law: Law, C: float, flops_per_token=None) -> float:
    """The loss ``law`` reaches with C training FLOPs on its compute-optimal frontier."""
    if flops_per_token is None:
        return float(law.loss_at_frontier(C))

    def g(x):
        N = np.exp(x)
        return np.asarray(law.loss(N, C / np.asarray(flops_per_token(N), dtype=float)), dtype=float)

    _, v = grid_min(g, *LOG_N_RANGE, n=481)
    return v


def _stack(laws: list[Law]) -> ChinchillaLaw | None:
    """The sample laws as one :meth:`ChinchillaLaw.stacked` law, when every one is exactly the
    Chinchilla form in one convention (None otherwise: the comparison then goes sample by sample)."""
    if not laws or any(type(x) is not ChinchillaLaw for x in laws):
        return None
    law = ChinchillaLaw.stacked([[getattr(x, k) for k in ChinchillaLaw.param_names] for x in laws])
    law.params_convention = laws[0].params_convention
    return law


def _flops_for_loss_all(laws: list[Law], stacked, target: np.ndarray, fpt) -> np.ndarray:
    """:func:`flops_for_loss` of every sample law at its own target (one grid search for all of them
    when a counting is given and the laws stack)."""
    if fpt is None or stacked is None:
        return np.array([flops_for_loss(x, float(t), fpt) for x, t in zip(laws, target)])
    t = np.asarray(target, dtype=float)

    def g(x):
        N = np.exp(x)
        return np.log(np.asarray(fpt(N), dtype=float)) + np.log(stacked.tokens_for_loss(N, t))

    _, v = grid_min_columns(g, *LOG_N_RANGE, len(laws), n=481)
    with np.errstate(over="ignore"):
        return np.where(np.isfinite(v), np.exp(v), np.inf)


def _loss_for_flops_all(laws: list[Law], stacked, C: float, fpt) -> np.ndarray:
    """:func:`loss_for_flops` of every sample law at budget C (one grid search, as above)."""
    if fpt is None or stacked is None:
        return np.array([loss_for_flops(x, C, fpt) for x in laws])

    def g(x):
        N = np.exp(x)
        return stacked.loss(N, C / np.asarray(fpt(N), dtype=float))

    return grid_min_columns(g, *LOG_N_RANGE, len(laws), n=481)[1]


@dataclass
class Counting:
    """One way of counting compute for both sides: a FLOPs-per-token function ``fpt(N)`` per side
    (None: the law's own frontier, C = 6ND for the Chinchilla-form laws)."""

    label: str
    flops_per_token_a: Callable | None = None
    flops_per_token_b: Callable | None = None


@dataclass
class Column:
    """The comparison under one :class:`Counting`, at the comparison's target loss: the compute each
    side needs, the multiplier and its bootstrap interval; ``unavailable`` says why a counting could
    not be made (its numbers are then NaN)."""

    label: str
    flops_a: float
    flops_b: float
    multiplier: float
    interval: tuple[float, float] | None = None
    n_unreachable: int = 0
    headline: bool = False
    unavailable: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        if d["interval"] is not None:
            d["interval"] = list(d["interval"])
        return d


@dataclass
class Comparison:
    """The compute multiplier of B over A (see the module docstring); ``summary()`` reads as a report.

    ``multiplier``, ``interval``, ``flops_a`` and ``flops_b`` are the headline counting's (the one
    that reads a budget); ``columns``, when given, hold every counting at the same target loss (the
    headline among them), printed side by side."""

    law_a: str
    law_b: str
    target_loss: float
    flops_a: float
    flops_b: float
    multiplier: float
    interval: tuple[float, float] | None = None
    level: float = 0.95
    n_samples: int = 0
    n_unreachable: int = 0
    budget: float | None = None
    target_interval: tuple[float, float] | None = None
    counting_a: str = "law frontier (C = 6ND)"
    counting_b: str = "law frontier (C = 6ND)"
    notes: list[str] = field(default_factory=list)
    columns: list[Column] = field(default_factory=list)
    budget_label: str = ""

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("interval", "target_interval"):
            if d[k] is not None:
                d[k] = list(d[k])
        d["columns"] = [c.to_dict() for c in self.columns]
        return d

    def summary(self) -> str:
        lines = [f"A: {self.law_a}   [{self.counting_a}]", f"B: {self.law_b}   [{self.counting_b}]"]
        if self.budget is not None:
            lines.append(
                f"budget: {self.budget:.4g} FLOPs{f' ({self.budget_label})' if self.budget_label else ''} "
                f"-> A reaches loss {self.target_loss:.4f}"
                + (
                    f" ({100 * self.level:g}% interval {self.target_interval[0]:.4f} .. {self.target_interval[1]:.4f})"
                    if self.target_interval
                    else ""
                )
            )
        else:
            lines.append(f"target loss: {self.target_loss:.4f}")
        if self.columns:
            lines += self._table()
        else:
            lines.append(f"compute to reach it: A {self.flops_a:.4g} FLOPs, B {self.flops_b:.4g} FLOPs")
        row = f"compute multiplier of B over A: {_times(self.multiplier)}"
        head = next((c for c in self.columns if c.headline), None)
        if head is not None:
            row += f" in {head.label}"
        if self.interval is not None:
            row += (
                f"   ({100 * self.level:g}% interval {self.interval[0]:.3g} .. {self.interval[1]:.3g}, "
                f"{self.n_samples} bootstrap samples)"
            )
        lines.append(row)
        if math.isfinite(self.multiplier):
            what = "less" if self.multiplier >= 1 else "more"
            share = abs(1 - 1 / self.multiplier) if self.multiplier > 0 else math.inf
            lines.append(f"  B needs {100 * share:.3g}% {what} compute than A for the same loss")
        if self.n_unreachable:
            lines.append(f"  {self.n_unreachable} of {self.n_samples} samples cannot reach the target (excluded)")
        for c in self.columns:
            if not c.headline and c.n_unreachable and c.unavailable is None:
                lines.append(
                    f"  {c.label}: {c.n_unreachable} of {self.n_samples} samples cannot reach the target (excluded)"
                )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _table(self) -> list[str]:
        """The countings side by side, at the same target loss."""
        cols = self.columns
        width = max(24, *(len(c.label) + 2 for c in cols))

        def row(name: str, cells: list[str]) -> str:
            return f"{name:<24}" + "".join(f"{v:>{width}}" for v in cells)

        def flops(v: float, c: Column) -> str:
            return "-" if c.unavailable is not None else (f"{v:.4g}" if math.isfinite(v) else "out of reach")

        out = [
            row("", [c.label for c in cols]),
            row("compute A needs", [flops(c.flops_a, c) for c in cols]),
            row("compute B needs", [flops(c.flops_b, c) for c in cols]),
            row("multiplier of B over A", ["-" if c.unavailable is not None else _times(c.multiplier) for c in cols]),
        ]
        if any(c.interval is not None for c in cols):
            out.append(
                row(
                    f"{100 * self.level:g}% interval",
                    [f"{c.interval[0]:.3g} .. {c.interval[1]:.3g}" if c.interval is not None else "-" for c in cols],
                )
            )
        return out

    def __str__(self) -> str:
        return self.summary()


def _times(m: float) -> str:
    return f"{m:.3g}x" if math.isfinite(m) else str(m)


def compute_multiplier(
    law_a,
    law_b,
    *,
    target_loss: float | None = None,
    flops: float | None = None,
    flops_per_token_a=None,
    flops_per_token_b=None,
    sparsity_a: float = 0.0,
    sparsity_b: float = 0.0,
    level: float = 0.95,
    max_samples: int | None = None,
    label: str | None = None,
    also: Sequence[Counting] = (),
) -> Comparison:
    """The effective compute multiplier of architecture B over A (C_A / C_B at equal loss).

    law_a, law_b: laws, registered names, or fit / law JSON files (anything ``get_law`` takes).
    target_loss or flops: the loss to reach, or a budget C (target = A's frontier loss at C).
    flops_per_token_a/b: ``fpt(N)`` for each side (e.g. :func:`arch_flops`); default: each law's own
        frontier (C = 6 N D). This headline counting reads the budget.
    sparsity_a/b: where a side is a sparsity law, the sparsity at which to cut it.
    level: the bootstrap interval's level (when the laws carry samples).
    label, also: other countings (:class:`Counting`) evaluated at the same target loss (each
        bootstrap sample's own target), reported in ``Comparison.columns`` after the headline's,
        which ``label`` names.
    """
    if (target_loss is None) == (flops is None):
        raise ScalingError("give exactly one of target_loss and flops")
    if not 0 < level < 1:
        raise ScalingError(f"level must be between 0 and 1: got {level}")
    src_a, src_b = law_a, law_b
    A, B = get_law(law_a), get_law(law_b)
    a, b = _slice(A, sparsity_a), _slice(B, sparsity_b)
    notes: list[str] = []
    for side, law in (("A", a), ("B", b)):
        if not law.has_loss:
            raise ScalingError(f"law {side} ({law.name}) has no loss model: it cannot be compared at a loss")
    if flops is not None and not (math.isfinite(flops) and flops > 0):
        raise ScalingError(f"flops must be a positive number: got {flops}")
    if target_loss is not None and not math.isfinite(target_loss):
        raise ScalingError("target loss must be a finite number")

    def one(la, lb):
        L = loss_for_flops(la, flops, flops_per_token_a) if flops is not None else float(target_loss or 0.0)
        ca = float(flops) if flops is not None else flops_for_loss(la, L, flops_per_token_a)
        cb = flops_for_loss(lb, L, flops_per_token_b)
        return L, ca, cb

    def others(la, lb, L) -> list[tuple[float, float]]:
        return [(flops_for_loss(la, L, c.flops_per_token_a), flops_for_loss(lb, L, c.flops_per_token_b)) for c in also]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfRangeWarning)
        L, ca, cb = one(a, b)
        other = others(a, b, L) if math.isfinite(ca) and math.isfinite(cb) else []
    if not math.isfinite(cb) or not math.isfinite(ca):
        who = " and ".join(s for s, c in (("A", ca), ("B", cb)) if not math.isfinite(c))
        irr = [f"{s} {x.irreducible_loss:.4g}" for s, x in (("A", a), ("B", b)) if x.irreducible_loss is not None]
        raise ScalingError(f"target loss {L:.4g} is out of reach for {who} (irreducible losses: {', '.join(irr)})")
    mult = ca / cb

    samp_a = [_slice(x, sparsity_a) for x in A.sample_laws()]
    samp_b = [_slice(x, sparsity_b) for x in B.sample_laws()]
    interval: tuple[float, float] | None = None
    target_interval: tuple[float, float] | None = None
    other_mults: list[list[float]] = [[] for _ in also]
    other_bad = [0 for _ in also]
    n, bad = 0, 0
    q = (1 - level) / 2
    if samp_a or samp_b:
        n = max(len(samp_a), len(samp_b)) if not (samp_a and samp_b) else min(len(samp_a), len(samp_b))
        if max_samples:
            n = min(n, int(max_samples))
        mults, targets = [], []
        la_all = [samp_a[i] if samp_a else a for i in range(n)]
        lb_all = [samp_b[i] if samp_b else b for i in range(n)]
        st_a, st_b = _stack(la_all), _stack(lb_all)
        batched = st_a is not None and st_b is not None and (flops_per_token_a or flops_per_token_b)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfRangeWarning)
            if batched:  # every sample's searches at once (identical per sample to the loop below)
                with np.errstate(all="ignore"):
                    if flops is not None:
                        Ls = _loss_for_flops_all(la_all, st_a, float(flops), flops_per_token_a)
                        cas = np.full(n, float(flops))
                    else:
                        Ls = np.full(n, float(target_loss or 0.0))
                        cas = _flops_for_loss_all(la_all, st_a, Ls, flops_per_token_a)
                    cbs = _flops_for_loss_all(lb_all, st_b, Ls, flops_per_token_b)
                    good = np.isfinite(Ls) & np.isfinite(cas) & np.isfinite(cbs) & (cbs > 0)
                    bad = int(np.sum(~good))
                    mults = list(cas[good] / cbs[good])
                    targets = list(Ls[good])
                    ga = [x for x, ok in zip(la_all, good) if ok]
                    gb = [x for x, ok in zip(lb_all, good) if ok]
                    sa, sb = _stack(ga), _stack(gb)
                    for k, c in enumerate(also):
                        oas = _flops_for_loss_all(ga, sa, Ls[good], c.flops_per_token_a)
                        obs = _flops_for_loss_all(gb, sb, Ls[good], c.flops_per_token_b)
                        fine = np.isfinite(oas) & np.isfinite(obs) & (obs > 0)
                        other_mults[k] = list(oas[fine] / obs[fine])
                        other_bad[k] = int(np.sum(~fine))
            for i in range(0 if batched else n):
                la = samp_a[i] if samp_a else a
                lb = samp_b[i] if samp_b else b
                try:
                    Li, cai, cbi = one(la, lb)
                except ScalingError:
                    bad += 1
                    continue
                if not (math.isfinite(cai) and math.isfinite(cbi) and cbi > 0):
                    bad += 1
                    continue
                mults.append(cai / cbi)
                targets.append(Li)
                for k, (oa, ob) in enumerate(others(la, lb, Li)):
                    if math.isfinite(oa) and math.isfinite(ob) and ob > 0:
                        other_mults[k].append(oa / ob)
                    else:
                        other_bad[k] += 1
        if len(mults) >= 2:
            m_lo, m_hi = np.quantile(mults, [q, 1 - q])
            interval = (float(m_lo), float(m_hi))
            if flops is not None and samp_a:
                t_lo, t_hi = np.quantile(targets, [q, 1 - q])
                target_interval = (float(t_lo), float(t_hi))
        else:
            notes.append("too few usable bootstrap samples for an interval")
        if not (samp_a and samp_b):
            notes.append(
                f"only {'A' if samp_a else 'B'} carries bootstrap samples: the interval ignores the "
                f"other law's uncertainty"
            )
    else:
        notes.append("neither law carries bootstrap samples: no interval (fit with bootstrap= to get one)")
    for side, law in (("A", A), ("B", B)):
        if law.provenance.fitted_flops is not None:
            lo, hi = law.provenance.fitted_flops
            c = ca if side == "A" else cb
            if c > 100 * hi or c < lo / 100:
                notes.append(
                    f"{side}'s compute {c:.3g} is more than 100x outside its fitted range "
                    f"({lo:.3g} .. {hi:.3g}): an extrapolation"
                )
    if A.flops_convention != B.flops_convention and flops_per_token_a is None and flops_per_token_b is None:
        notes.append(f"the laws use different FLOP conventions ({A.flops_convention} vs {B.flops_convention})")

    columns: list[Column] = []
    if also:
        columns.append(
            Column(label or "headline", float(ca), float(cb), float(mult), interval, int(bad), headline=True)
        )
        for k, c in enumerate(also):
            oa, ob = other[k] if other else (math.nan, math.nan)
            om = oa / ob if math.isfinite(oa) and math.isfinite(ob) and ob > 0 else math.nan
            oi = None
            if len(other_mults[k]) >= 2:
                lo_, hi_ = np.quantile(other_mults[k], [q, 1 - q])
                oi = (float(lo_), float(hi_))
            columns.append(Column(c.label, float(oa), float(ob), float(om), oi, bad + other_bad[k]))

    def name(src, law, s):
        base = src if isinstance(src, str) else law.name
        return base + (f" at {100 * s:g}% sparsity" if isinstance(law, _sparsity_law.SparsityLaw) else "")

    return Comparison(
        law_a=name(src_a, A, sparsity_a),
        law_b=name(src_b, B, sparsity_b),
        target_loss=float(L),
        flops_a=float(ca),
        flops_b=float(cb),
        multiplier=float(mult),
        interval=interval,
        level=level,
        n_samples=int(n),
        n_unreachable=int(bad),
        budget=float(flops) if flops is not None else None,
        target_interval=target_interval,
        counting_a=getattr(flops_per_token_a, "description", "custom FLOPs per token")
        if flops_per_token_a
        else f"law frontier ({A.flops_convention})",
        counting_b=getattr(flops_per_token_b, "description", "custom FLOPs per token")
        if flops_per_token_b
        else f"law frontier ({B.flops_convention})",
        notes=notes,
        columns=columns,
    )


__all__ = ["Comparison", "Column", "Counting", "compute_multiplier", "arch_flops", "flops_for_loss", "loss_for_flops"]
