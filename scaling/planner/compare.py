"""Comparing two architectures by the fits of their runs: what ``scaling compare`` prints.

:func:`compare_fits` reads each side's architecture (mixer, context, vocabulary, sparsity, FLOP
convention) from its fit file (:func:`recorded_architecture`), counts each side's training FLOPs from it,
and reports the effective compute multiplier of B over A (:func:`scaling.planner.multiplier.compute_multiplier`,
where the multiplier and its bootstrap interval are defined) under total FLOPs and under weight-only FLOPs
(C = 6ND) side by side, at the same target loss.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..architecture import ArchField, FitArchitecture
from ..errors import ScalingError
from ..flops import CONVENTIONS, MIXERS
from ..laws import get_law
from ..laws import sparsity as _sparsity_law
from ..laws.base import Law
from ..laws.registry import ALIASES, REGISTRY
from .multiplier import Column, Comparison, Counting, arch_flops, compute_multiplier

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


__all__ = ["compare_fits", "recorded_architecture"]
