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

import json
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from .._solve import grid_min
from ..errors import OutOfRangeWarning, ScalingError
from ..fit.result import ArchField, FitArchitecture
from ..flops import CONVENTIONS, MIXERS
from ..laws import get_law
from ..laws import sparsity as _sparsity_law
from ..laws.base import Law
from ..laws.registry import ALIASES, REGISTRY
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfRangeWarning)
            for i in range(n):
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


# --- comparing fits by the architecture they record -------------------------------------------

WEIGHT_ONLY = "6nd"  # weight-only FLOPs: C = 6 N D
TOTAL = "palm"  # total FLOPs when the fits' own convention is weight-only or unknown
# what an architecture flag given for a law that records none stands beside (the defaults of
# ``scaling compare`` before fits recorded their architecture)
FLAG_DEFAULTS: dict[str, Any] = {"mixer": "attention", "context": 2048, "vocab": 50257, "convention": "palm"}


def recorded_architecture(source) -> tuple[FitArchitecture | None, str]:
    """The architecture a fit file records (:class:`scaling.fit.FitArchitecture`), or None and why
    there is none: a published law, a law file that is not a fit, a fit written before fits recorded
    it, or a fit whose runs table had no architecture columns. The file is untrusted: a malformed
    record is a one-line error naming the file."""
    if isinstance(source, Law):
        return None, "a law object"
    key = str(source).strip()
    if key.lower() in REGISTRY or key.lower() in ALIASES:
        return None, "a published law"
    path = Path(key)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScalingError(f"{key}: cannot read it as a fit file ({exc})") from None
    if not isinstance(data, dict) or "law" not in data or "method" not in data:
        return None, "a law file, not a fit"
    raw = data.get("architecture")
    if raw is None:
        return None, f"a fit file of version {data.get('version', '1')}, from before fits recorded it"
    try:
        arch = FitArchitecture.model_validate(raw)
    except ValidationError as exc:
        bad = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()[:3])
        raise ScalingError(f"{key}: its recorded architecture is not valid ({bad})") from None
    if not arch.known:
        return None, "its runs table had no mixer, context, vocab or FLOP-convention columns"
    return arch, ""


def _weight_only(law: Law):
    """Weight-only FLOPs per token for a law: its own frontier when it counts C = 6ND, else 6N."""
    if law.flops_convention == WEIGHT_ONLY:
        return None

    def six_n(N):
        return 6.0 * np.asarray(N, dtype=float)

    return six_n


def compare_fits(
    law_a,
    law_b,
    *,
    target_loss: float | None = None,
    flops: float | None = None,
    mixer_a: str | None = None,
    mixer_b: str | None = None,
    context: int | None = None,
    vocab: int | None = None,
    convention: str | None = None,
    sparsity_a: float | None = None,
    sparsity_b: float | None = None,
    level: float = 0.95,
    max_samples: int | None = None,
) -> Comparison:
    """The compute multiplier of B over A counted from the architectures the fits record (what
    ``scaling compare`` prints), under total FLOPs and under weight-only FLOPs (C = 6ND) side by side,
    at the same target loss.

    Each side's mixer, context, vocabulary and sparsity come from its fit file
    (:func:`recorded_architecture`); an argument given here (``mixer_a`` is ``--mixer-a`` ...)
    overrides the record, with a note. The FLOP convention of the runs, which reads the budget and
    names the total count, is the fits' own: two fits under different conventions are refused unless
    ``convention`` restates both in one (each side recounted from its architecture); a weight-only
    (``6nd``) or unknown convention reads the budget as 6ND FLOPs and counts the total in ``palm``.
    A fit over runs of mixed architectures is refused unless the mixed field is given. A side whose
    architecture is not recorded (a published law, an old fit file) has no total count: the
    comparison is weight-only, and a one-line note names the arguments that would give the total.
    """
    A, B = get_law(law_a), get_law(law_b)
    sides = {"A": (law_a, A), "B": (law_b, B)}
    rec = {side: recorded_architecture(src) for side, (src, _) in sides.items()}
    flags_given = any(v is not None for v in (mixer_a, mixer_b, context, vocab, convention))
    notes: list[str] = []
    flag_names = {"mixer": "--mixer-{s}", "context": "--context", "vocab": "--vocab", "sparsity": "--sparsity-{s}"}

    def shown(values) -> str:
        return ", ".join("?" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in values)

    def pick(side: str, name: ArchField, given, default):
        arch = rec[side][0]
        flag = flag_names[name].format(s=side.lower())
        recorded = getattr(arch, name) if arch is not None else None
        mixed = arch.mixed.get(name) if arch is not None else None
        if given is not None:
            if recorded is not None and recorded != given:
                notes.append(
                    f"{flag} {shown([given])} overrides the {name} {shown([recorded])} recorded in {side}'s fit"
                )
            elif mixed:
                notes.append(f"{flag} {shown([given])} stands for the mixed {name} of {side}'s runs ({shown(mixed)})")
            return given
        if recorded is not None:
            return recorded
        if mixed:
            raise ScalingError(
                f"{side} ({sides[side][0]}) was fitted on runs of mixed {name} ({shown(mixed)}): its law is no "
                f"single architecture's; pass {flag} to count its FLOPs as one"
            )
        if not flags_given or name == "sparsity":
            return None
        notes.append(f"{side} records no {name}: {shown([default])} assumed (pass {flag})")
        return default

    arch_of: dict[str, dict[str, Any]] = {}
    for side, mixer, sparsity in (("A", mixer_a, sparsity_a), ("B", mixer_b, sparsity_b)):
        law = sides[side][1]
        if isinstance(law, _sparsity_law.SparsityLaw):  # its runs differ in sparsity by design: cut where asked
            sp = float(sparsity or 0.0)
        else:
            sp = float(pick(side, "sparsity", sparsity, 0.0) or 0.0)
        arch_of[side] = {
            "mixer": pick(side, "mixer", mixer, FLAG_DEFAULTS["mixer"]),
            "context": pick(side, "context", context, FLAG_DEFAULTS["context"]),
            "vocab": pick(side, "vocab", vocab, FLAG_DEFAULTS["vocab"]),
            "sparsity": sp,
        }
        m = arch_of[side]["mixer"]
        if m is not None and m not in MIXERS:
            raise ScalingError(
                f"{side}'s mixer {m!r} is not one whose FLOPs this package counts ({', '.join(MIXERS)}): "
                f"pass --mixer-{side.lower()}"
            )

    # the FLOP convention: the runs' own, one for both
    recorded_conv: dict[str, str | None] = {}
    for side in sides:
        arch = rec[side][0]
        recorded_conv[side] = arch.flops_convention if arch is not None else None
        mixed_conv = arch.mixed.get("flops_convention") if arch is not None else None
        if mixed_conv and convention is None:
            raise ScalingError(
                f"{side} ({sides[side][0]}) was fitted on runs counted under several FLOP conventions "
                f"({shown(mixed_conv)}): pass --convention to count both sides in one"
            )
    conv: str | None
    if convention is not None:
        conv = convention
        for side, c in recorded_conv.items():
            if c is not None and c != convention:
                notes.append(
                    f"--convention {convention} restates {side}'s {c} FLOPs (its runs' convention), "
                    f"counted from its architecture"
                )
    else:
        known = {c for c in recorded_conv.values() if c is not None}
        if len(known) > 1:
            ca_, cb_ = recorded_conv["A"], recorded_conv["B"]
            raise ScalingError(
                f"A and B were fitted under different FLOP conventions (A's runs counted {ca_} FLOPs, B's "
                f"{cb_}): pass --convention {ca_} or --convention {cb_} to restate both in one, each side "
                f"counted from its recorded architecture"
            )
        conv = known.pop() if known else None
        if conv is None and flags_given:
            conv = FLAG_DEFAULTS["convention"]
            notes.append(f"the fits record no FLOP convention: {conv} assumed (pass --convention)")
    if conv is not None and conv not in CONVENTIONS:
        raise ScalingError(
            f"FLOP convention {conv!r} (recorded in the fits) is not one this package counts "
            f"({', '.join(CONVENTIONS)}): pass --convention"
        )
    total_conv = conv if conv not in (None, WEIGHT_ONLY) else TOTAL

    missing = {side: [k for k in ("mixer", "context", "vocab") if arch_of[side][k] is None] for side in ("A", "B")}
    weight = Counting(f"weight-only FLOPs ({WEIGHT_ONLY})", _weight_only(A), _weight_only(B))
    total: Counting | None = None
    if not missing["A"] and not missing["B"]:
        fpt = {
            side: arch_flops(
                mixer=arch_of[side]["mixer"],
                context=int(arch_of[side]["context"]),
                sparsity=arch_of[side]["sparsity"],
                convention=total_conv,
                vocab=int(arch_of[side]["vocab"]),
            )
            for side in ("A", "B")
        }
        total = Counting(f"total FLOPs ({total_conv})", fpt["A"], fpt["B"])
        va, vb = arch_of["A"]["vocab"], arch_of["B"]["vocab"]
        if va != vb:
            notes.append(
                f"A and B have different vocabularies ({va} vs {vb}): their losses per token are not the same measure"
            )
    else:
        need = list(
            dict.fromkeys(
                flag_names[k].format(s=side.lower())
                for k in ("mixer", "context", "vocab")
                for side in ("A", "B")
                if arch_of[side][k] is None
            )
        )
        why = {
            side: rec[side][1] or f"its runs name no {', '.join(missing[side])}" for side in ("A", "B") if missing[side]
        }
        if len(why) == 2:
            reasons = why["A"] if why["A"] == why["B"] else f"A: {why['A']}; B: {why['B']}"
            who = f"neither A nor B records its architecture ({reasons})"
        else:
            side = next(iter(why))
            who = f"{side} records no architecture ({why[side]})"
        notes.append(
            f"{who}: total FLOPs need {', '.join(need)}"
            + (f"; the budget is read as weight-only FLOPs, not {conv}" if conv not in (None, WEIGHT_ONLY) else "")
        )

    headline_total = total is not None and conv not in (None, WEIGHT_ONLY)
    head, also = weight, [total] if total is not None else []
    if total is not None and headline_total:
        head, also = total, [weight]
    res = compute_multiplier(
        law_a,
        law_b,
        target_loss=target_loss,
        flops=flops,
        flops_per_token_a=head.flops_per_token_a,
        flops_per_token_b=head.flops_per_token_b,
        sparsity_a=arch_of["A"]["sparsity"],
        sparsity_b=arch_of["B"]["sparsity"],
        level=level,
        max_samples=max_samples,
        label=head.label,
        also=also,
    )
    if total is None:
        res.columns = [
            Column(
                f"total FLOPs ({total_conv})", math.nan, math.nan, math.nan, unavailable="architecture not recorded"
            ),
            Column(
                head.label, res.flops_a, res.flops_b, res.multiplier, res.interval, res.n_unreachable, headline=True
            ),
        ]
    else:
        res.columns.sort(key=lambda c: not c.label.startswith("total"))
    res.budget_label = "total, " + total_conv if headline_total else "weight-only, " + WEIGHT_ONLY

    def describe(side: str) -> str:
        a = arch_of[side]
        parts = [str(a["mixer"])] if a["mixer"] is not None else []
        parts += [f"{k} {a[k]}" for k in ("context", "vocab") if a[k] is not None]
        if a["sparsity"] and not isinstance(sides[side][1], _sparsity_law.SparsityLaw):
            parts.append(f"{100 * a['sparsity']:g}% sparse")
        return ", ".join(parts) if parts else "architecture not recorded"

    res.counting_a, res.counting_b = describe("A"), describe("B")
    res.notes = notes + res.notes
    return res


__all__ = [
    "Comparison",
    "Column",
    "Counting",
    "compute_multiplier",
    "compare_fits",
    "recorded_architecture",
    "arch_flops",
    "flops_for_loss",
    "loss_for_flops",
]
