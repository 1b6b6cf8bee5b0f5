"""What a planning query returns: :class:`Plan`, immutable, built once by the solver that answers.

Intervals are :class:`Interval` (lo, hi) pairs, the shape FitResult's intervals have; the JSON of
a plan (``Plan.to_dict``, ``scaling plan --json``) keeps the ``{"level": ..., "params": {"lo": ...,
"hi": ...}}`` form it always had. Notes a plan carries are :class:`Flag` (a code and a message);
the JSON lists the messages under ``warnings``, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from .._io import json_safe
from ..errors import ScalingError
from ..units import si


class Interval(NamedTuple):
    """A percentile interval (lo, hi) of one quantity."""

    lo: float
    hi: float


@dataclass(frozen=True)
class Flag:
    """A note on a plan or a fit: ``code`` for programs, ``message`` for people.

    A plan's codes: ``out_of_range`` (the budget is far outside the law's fitted compute), ``arch``
    (what the mixer or sparsity changes under this law and convention), ``repetition`` (repetition
    constants grafted onto another law's surface). A fit's codes: :mod:`scaling.fit.flags`."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Plan:
    """One answered planning query (all quantities are plain floats).

    ``interval`` maps params/tokens/loss to an :class:`Interval` at ``level`` (a law with samples),
    ``frontier`` is the optimum at the same budget for an off-frontier point, ``extra`` holds what
    the data-constrained, inference-aware, flatness and architecture queries add. ``dense``: for a
    sparse plan priced on hardware, the compute-optimal dense plans it is compared with, by basis
    (``same_flops``, ``same_gpu_hours``; ``same_loss`` for a target loss).
    """

    law: str
    query: str
    flops: float
    params: float
    tokens: float
    tokens_per_param: float
    loss: float | None
    flops_convention: str
    params_convention: str
    interval: dict[str, Interval] | None = None
    level: float | None = None
    shape: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None
    frontier: dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    flags: tuple[Flag, ...] = ()
    dense: dict[str, Plan] | None = None

    @property
    def warnings(self) -> list[str]:
        """The flags' messages (what ``--json`` prints under ``warnings``)."""
        return [f.message for f in self.flags]

    def conf_int(self, level: float = 0.95) -> dict[str, Interval]:
        """The plan's intervals at ``level``. A plan keeps the interval it was planned with (``level=``
        of :func:`scaling.plan`), not the law's samples: another level is an error that says so."""
        if not self.interval:
            raise ScalingError(
                f"plan under {self.law!r} has no interval: the law carries no samples "
                f"(fit with --bootstrap, or use a law with published intervals)"
            )
        assert self.level is not None  # set whenever interval is
        if abs(float(level) - float(self.level)) > 1e-12:
            raise ScalingError(
                f"this plan holds its {100 * self.level:g}% interval only; plan again with "
                f"level={level:g} for a {100 * level:g}% interval"
            )
        return dict(self.interval)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            k: getattr(self, k)
            for k in (
                "law",
                "query",
                "flops",
                "params",
                "tokens",
                "tokens_per_param",
                "loss",
                "flops_convention",
                "params_convention",
            )
        }
        if self.interval is not None:
            d["interval"] = {"level": self.level, **{k: {"lo": v.lo, "hi": v.hi} for k, v in self.interval.items()}}
        for k in ("shape", "budget", "frontier"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.extra:
            d["extra"] = self.extra
        if self.flags:
            d["warnings"] = self.warnings
        if self.dense:
            d["dense"] = {k: v.to_dict() for k, v in self.dense.items()}
        return json_safe(d)

    def summary(self) -> str:
        """A few lines that read like a report: the query, the plan, its interval, cost and flags."""
        lines = [
            f"plan ({self.query}) under {self.law}: FLOPs convention {self.flops_convention}, "
            f"params {self.params_convention}"
            + ("" if self.extra.get("granularity") is None else f", granularity G = {self.extra['granularity']:g}"),
            f"  compute {self.flops:.4g} FLOPs: {si(self.params)} parameters on {si(self.tokens)} tokens "
            f"({self.tokens_per_param:.1f} tokens per parameter)"
            + ("" if self.loss is None else f", loss {self.loss:.4f}"),
        ]
        if self.interval and self.level is not None:
            fmt = {"params": si, "tokens": si, "loss": lambda v: f"{v:.4f}"}
            parts = [f"{k} {fmt[k](v.lo)} .. {fmt[k](v.hi)}" for k, v in self.interval.items()]
            lines.append(f"  {100 * self.level:g}% interval: " + ", ".join(parts))
        if self.frontier:
            f = self.frontier
            lines.append(
                f"  optimum at the same compute: {si(f['params'])} parameters, {si(f['tokens'])} tokens"
                + (f", loss {f['loss']:.4f} (gap +{f['loss_gap']:.4f})" if "loss_gap" in f else "")
            )
        if self.shape:
            s = self.shape
            lines.append(
                f"  shape: {s['n_layer']} layers x {s['d_model']} wide, {s['n_head']} heads "
                f"({100 * s['snap_rel_error']:+.1f}% from the size)"
            )
        if self.budget:
            b = self.budget
            lines.append(
                f"  on {b['gpus'] or 1} x {b['accelerator']} at {100 * b['mfu']:.0f}% MFU: "
                f"{si(b['gpu_hours'])} GPU-hours, {b['days']:.3g} days, ${si(b['cost_usd'])}, "
                f"{b['energy_kwh'] / 1e3:.3g} MWh, {b['co2_kg'] / 1e3:.3g} t CO2e"
            )
        for basis, p in (self.dense or {}).items():
            cost = f", {si(p.budget['gpu_hours'])} GPU-hours" if p.budget else ""
            loss = "" if p.loss is None else f", loss {p.loss:.4f}"
            lines.append(
                f"  dense plan, {basis.replace('_', ' ')}: {si(p.params)} parameters on {si(p.tokens)} tokens "
                f"({p.flops:.4g} FLOPs{loss}{cost})"
            )
        lines += [f"  [{f.code}] {f.message}" for f in self.flags]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


__all__ = ["Flag", "Interval", "Plan"]
