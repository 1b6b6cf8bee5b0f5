"""The architecture a set of runs was trained with, as a fit records it: mixer, context, vocabulary,
sparsity and the FLOP convention of the runs' budgets.

A leaf module (pydantic only): the fitter writes the record (:class:`scaling.fit.FitResult`'s
``architecture``), the planner reads it (``scaling plan --law fit.json``, ``scaling compare``) without
importing the fitter, so a plan starts without pandas or the fitting code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ArchField = Literal["mixer", "context", "vocab", "sparsity", "flops_convention"]


class FitArchitecture(BaseModel):
    """What the runs of a fit were: mixer, context, vocabulary, sparsity and the FLOP convention their
    budgets were counted in, read from the runs' configs (the runs table's columns,
    :func:`scaling.runs.architecture_info`), so a comparison or a plan can check like for like.

    A field is None when the runs do not say (no such column); when they disagree it is None and
    ``mixed`` lists the values. ``flops_convention`` is the runs' own count (a sweep's ``palm``
    budgets); the law's frontier keeps ``FitResult.flops_convention`` (C = 6ND for a loss surface).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    mixer: str | None = Field(default=None, min_length=1, max_length=64)
    context: int | None = Field(default=None, ge=1)
    vocab: int | None = Field(default=None, ge=1)
    sparsity: float | None = Field(default=None, ge=0.0, lt=1.0)
    flops_convention: str | None = Field(default=None, min_length=1, max_length=64)
    mixed: dict[
        Literal["mixer", "context", "vocab", "sparsity", "flops_convention"], list[str | int | float | None]
    ] = Field(default_factory=dict)

    @property
    def known(self) -> bool:
        """Whether the runs said anything about their architecture."""
        return bool(self.mixed) or any(
            getattr(self, k) is not None for k in ("mixer", "context", "vocab", "sparsity", "flops_convention")
        )

    def mixed_line(self, ignore: Sequence[str] = ()) -> str:
        """ "mixer attention, hyena; context 256, 1024" for the fields the runs disagree on, else ""."""
        parts = [
            f"{k} {', '.join('?' if v is None else f'{v:g}' if isinstance(v, float) else str(v) for v in vals)}"
            for k, vals in self.mixed.items()
            if k not in ignore
        ]
        return "; ".join(parts)

    def describe(self) -> str:
        """ "attention, context 1024, vocab 256, dense; runs counted in palm FLOPs" (the fields known)."""
        parts = []
        if self.mixer is not None:
            parts.append(self.mixer)
        if self.context is not None:
            parts.append(f"context {self.context}")
        if self.vocab is not None:
            parts.append(f"vocab {self.vocab}")
        if self.sparsity is not None:
            parts.append(f"{100 * self.sparsity:g}% sparse" if self.sparsity else "dense")
        text = ", ".join(parts)
        if self.flops_convention is not None:
            text += ("; " if text else "") + f"runs counted in {self.flops_convention} FLOPs"
        mixed = self.mixed_line()
        if mixed:
            text += ("; " if text else "") + f"mixed: {mixed}"
        return text
