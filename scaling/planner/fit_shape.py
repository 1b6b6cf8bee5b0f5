"""The model a plan is for, from the fit it plans with.

A fit file records what its runs were (:class:`scaling.fit.FitArchitecture`: mixer, context,
vocabulary, sparsity, the FLOP convention of their budgets). ``scaling plan --law fit.json`` plans
for that model unless told otherwise: :func:`shape_from_fit` takes the values the user gave (None
for an option not given), fills the others from the record, else from the planner's defaults, and
says in one line which came from the fit, and in a note each value given that the fit did not
measure (a law fitted at context 256 and planned at 2048 is a transfer, not a measurement).

A published law, a law file that is not a fit and a fit written before fits recorded their runs
give the defaults, silently: planning with them is unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..architecture import ArchField
from ..flops import MIXERS
from ..sparsity import parse_pattern
from .compare import recorded_architecture

# what `scaling plan` assumes when neither the command line nor the fit says
PLAN_DEFAULTS: dict[str, Any] = {"mixer": "attention", "context": 2048, "vocab": 50257}


@dataclass(frozen=True)
class PlanShape:
    """The mixer, context and vocabulary to plan with, the sparsity (None: neither given nor
    recorded, the planner's dense default), the line saying what came from the fit ("" when
    nothing did) and the notes on given values the fit did not measure."""

    mixer: str
    context: int
    vocab: int
    sparsity: float | None
    line: str = ""
    notes: tuple[str, ...] = ()


def _is_json(path: Path) -> bool:
    try:
        json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return True


def _shown(values: Sequence[Any]) -> str:
    return ", ".join("?" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _sparse_text(s: float) -> str:
    return f"{100 * s:g}% sparse" if s else "dense"


def shape_from_fit(
    law,
    *,
    mixer: str | None = None,
    context: int | None = None,
    vocab: int | None = None,
    sparsity: float | None = None,
    pattern: str | None = None,
    dense_because: str | None = None,
) -> PlanShape:
    """The shape to plan with under ``law`` (a name, a law, a fit or law JSON path, or None).

    Arguments given (not None) win. For the others, a fit file's recorded mixer, context, vocabulary
    and sparsity are used; a field the runs disagree on (``mixed``) keeps the default and the line
    says so. ``pattern`` (``"2:4"``) gives the sparsity as ``--sparsity`` would. ``dense_because``:
    why the plan cannot take a recorded mixer other than attention or a recorded sparsity (the
    data-constrained and inference-aware plans assume a dense attention model); they are not applied,
    and a note says so with this reason.
    The FLOP convention is not chosen here (a plan counts in its law's own); the line names the
    runs' for reference.
    """
    arch = None
    if isinstance(law, (str, Path)) and Path(law).is_file() and _is_json(Path(law)):
        arch, _ = recorded_architecture(law)  # (a file that is no JSON: the law loader says what is wrong)
    given: dict[ArchField, Any] = {"mixer": mixer, "context": context, "vocab": vocab}
    if arch is None:
        values: dict[str, Any] = {k: PLAN_DEFAULTS[k] if v is None else v for k, v in given.items()}
        return PlanShape(str(values["mixer"]), int(values["context"]), int(values["vocab"]), sparsity)

    took: list[str] = []  # values taken from the record, as the line shows them
    kept: list[str] = []  # fields the record cannot give, with the default kept
    notes: list[str] = []
    values = {}
    for name, value in given.items():
        recorded = getattr(arch, name)
        mixed = arch.mixed.get(name)
        default = PLAN_DEFAULTS[name]
        if value is not None:
            values[name] = value
            if recorded is not None and recorded != value:
                notes.append(
                    f"--{name} {value}: the law was fitted at {name} {recorded} (a transfer the fit did not measure)"
                )
            elif mixed:
                notes.append(f"--{name} {value} stands for the mixed {name} of the fit's runs ({_shown(mixed)})")
            continue
        values[name] = default
        if mixed:
            kept.append(f"{name} mixed in its runs ({_shown(mixed)}): {default} kept")
        elif recorded is None:
            continue
        elif name == "mixer" and recorded not in MIXERS:
            kept.append(f"mixer {recorded} is not one whose FLOPs this package counts: {default} kept")
        elif name == "mixer" and recorded != default and dense_because:
            notes.append(f"the fit's runs used {recorded}, not applied: {dense_because}")
        else:
            values[name] = recorded
            took.append(str(recorded) if name == "mixer" else f"{name} {recorded}")

    # sparsity: the flag, or the one a pattern implies
    nm = parse_pattern(pattern, "--pattern")
    given_sp = sparsity if sparsity is not None else (1.0 - nm[0] / nm[1] if nm is not None else None)
    recorded_sp, mixed_sp = arch.sparsity, arch.mixed.get("sparsity")
    if given_sp is not None:
        if recorded_sp is not None and abs(recorded_sp - given_sp) > 1e-9:
            what = "--sparsity" if sparsity is not None else f"--pattern {pattern}"
            notes.append(
                f"{what} ({_sparse_text(given_sp)}): the law was fitted on {_sparse_text(recorded_sp)} runs "
                "(a transfer the fit did not measure)"
            )
    elif mixed_sp:
        kept.append(f"sparsity mixed in its runs ({_shown(mixed_sp)}): 0 kept")
    elif recorded_sp:
        if not dense_because:
            sparsity = recorded_sp
            took.append(_sparse_text(recorded_sp))
        else:
            notes.append(f"the fit's runs were {_sparse_text(recorded_sp)}, not applied: {dense_because}")

    line = ""
    if took or kept:
        parts = [", ".join(took)] if took else []
        parts += kept
        if arch.flops_convention is not None:
            parts.append(f"runs counted in {arch.flops_convention} FLOPs")
        elif arch.mixed.get("flops_convention"):
            parts.append(f"runs counted in mixed FLOP conventions ({_shown(arch.mixed['flops_convention'])})")
        line = "shape from the fit: " + "; ".join(parts)
    return PlanShape(str(values["mixer"]), int(values["context"]), int(values["vocab"]), sparsity, line, tuple(notes))


__all__ = ["PLAN_DEFAULTS", "PlanShape", "shape_from_fit"]
