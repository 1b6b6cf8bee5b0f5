"""eta as a function of the growth ratio, from one or several growth calibrations.

The token credit ``eta`` (:mod:`scaling.growth.calibration`) is measured by a growth experiment at
one growth ratio, ``r = N_large / N_small``. LiGO's benefit is expected to depend on it (Wang et al.
2023, arXiv:2303.00980, grow by about 2x to 4x; a larger jump leaves the small model's knowledge
a smaller share of the large model's), so the planner reads ``eta`` from every calibration it is
given, one point per experiment, and:

- between measured ratios, interpolates ``eta`` (and each end of its 95% interval) linearly in
  ``log r``;
- beyond them, uses the nearest measured value, unchanged;
- flags ``eta_extrapolated`` when the plan's ratio lies more than :data:`EXTRAPOLATION_TOLERANCE`
  (10%) outside the measured range (with one calibration: more than 10% from its ratio).

The ratio is counted in the law's parameter convention (``total`` or ``non_embedding``, what the
plan's own ratio is computed in), read from each calibration's ``growth_ratio`` (or its shapes);
a calibration without that count falls back to total parameters, noted.

Calibrations combine only when they measure the same method on the same corpus (name and
fingerprint, when recorded); two at the same ratio (within 1%) are refused: their seeds belong in
one experiment. Each refusal is a one-line :class:`~scaling.errors.ScalingError` naming the files.

This module imports numpy and pydantic only.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import ScalingError
from ..units import si
from .calibration import Calibration, load_calibration
from .ledger import si_shape

EXTRAPOLATION_TOLERANCE = 0.10
# what the planner's ``calibration=`` takes: one calibration (object or file) or several
CalibrationSource = Calibration | str | os.PathLike
Calibrations = CalibrationSource | Sequence[CalibrationSource]


@dataclass(frozen=True)
class EtaPoint:
    """One calibration's eta for one method, at its growth ratio."""

    ratio: float
    eta: float
    sd: float | None
    interval: tuple[float, float] | None
    n_seeds: int
    source: str
    file: str = ""  # the calibration as the user named it (for errors)
    large_params: float | None = None
    small_shape: str = ""
    large_shape: str = ""


@dataclass
class EtaCurve:
    """eta against the growth ratio (module docstring); vectorised over ratios."""

    method: str
    convention: str  # the ratio's parameter count: total or non_embedding
    points: list[EtaPoint]  # sorted by ratio
    notes: list[str] = field(default_factory=list)
    # operator steps and tokens per step of the calibration runs (the first that has them)
    operator: tuple[int, int | None] = (0, None)

    def _interp(self, ratio, values):
        x = np.log(np.asarray(ratio, dtype=float))
        xp = np.log([p.ratio for p in self.points])
        out = np.interp(x, xp, np.asarray(values, dtype=float))
        return float(out) if np.ndim(out) == 0 else out

    def at(self, ratio):
        """eta at ``ratio`` (float or array)."""
        return self._interp(ratio, [p.eta for p in self.points])

    def interval_at(self, ratio: float) -> tuple[float, float] | None:
        """The 95% interval of eta at ``ratio``, interpolated like eta; None where a point it uses has none."""
        lo = self._interp(ratio, [p.interval[0] if p.interval else np.nan for p in self.points])
        hi = self._interp(ratio, [p.interval[1] if p.interval else np.nan for p in self.points])
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        return (min(lo, hi), max(lo, hi))

    def sd_at(self, ratio: float) -> float | None:
        sd = self._interp(ratio, [p.sd if p.sd is not None else np.nan for p in self.points])
        return sd if math.isfinite(sd) else None

    @property
    def ratio_range(self) -> tuple[float, float]:
        return self.points[0].ratio, self.points[-1].ratio

    def extrapolated(self, ratio: float, tolerance: float = EXTRAPOLATION_TOLERANCE) -> bool:
        lo, hi = self.ratio_range
        return ratio < lo / (1 + tolerance) or ratio > hi * (1 + tolerance)

    def measured_at(self) -> str:
        """Where eta was measured: 'x3.61' or 'x3.61 .. x8.1 (2 ratios)'."""
        lo, hi = self.ratio_range
        return f"x{lo:.3g}" if len(self.points) == 1 else f"x{lo:.3g} .. x{hi:.3g} ({len(self.points)} ratios)"

    def source(self) -> str:
        """The calibrations behind the curve, for the plan's header."""
        parts = [
            f"{p.n_seeds} seed(s) at x{p.ratio:.3g} in {p.source}"
            + (f" ({p.small_shape} -> {p.large_shape})" if p.small_shape else "")
            for p in self.points
        ]
        return "measured: " + "; ".join(parts)

    def how(self, ratio: float) -> str:
        """How eta at ``ratio`` was read off the points."""
        words = "total" if self.convention == "total" else "non-embedding"
        if len(self.points) == 1:
            return f"measured at a growth of x{self.points[0].ratio:.3g} ({words} parameters)"
        lo, hi = self.ratio_range
        if ratio <= lo or ratio >= hi:
            p = self.points[0] if ratio <= lo else self.points[-1]
            return f"the nearest measured ratio, x{p.ratio:.3g} ({words} parameters; measured {self.measured_at()})"
        i = int(np.searchsorted([p.ratio for p in self.points], ratio))
        a, b = self.points[i - 1], self.points[i]
        return (
            f"interpolated linearly in log(ratio) between x{a.ratio:.3g} (eta {a.eta:.3g}) and "
            f"x{b.ratio:.3g} (eta {b.eta:.3g}), {words} parameters"
        )


def _label(cal: Calibration, given) -> str:
    return str(given) if not isinstance(given, Calibration) else (cal.source or "a calibration")


def _load(c) -> Calibration:
    return c.with_current_names() if isinstance(c, Calibration) else load_calibration(c)


def eta_curve(calibrations: Calibrations, method: str, convention: str = "total") -> EtaCurve:
    """The :class:`EtaCurve` of ``method`` from one or several calibrations (module docstring)."""
    given = [calibrations] if isinstance(calibrations, (Calibration, str, os.PathLike)) else list(calibrations)
    if not given:
        raise ScalingError("--calibration: no calibration given")
    cals = [(_load(c), c) for c in given]
    notes: list[str] = []
    first, first_given = cals[0]
    points: list[EtaPoint] = []
    operator: tuple[int, int | None] | None = None
    for cal, g in cals:
        name = _label(cal, g)
        if method not in cal.methods:
            raise ScalingError(
                f"the calibration {name} has no method {method!r} (it has {', '.join(cal.methods) or 'none'})"
                + ("; calibrations combine only for a method each of them measured" if len(cals) > 1 else "")
            )
        for key in ("corpus", "corpus_fingerprint"):
            a, b = getattr(first, key), getattr(cal, key)
            if a and b and a != b:
                raise ScalingError(
                    f"the calibrations {_label(first, first_given)} and {name} were measured on different "
                    f"corpora ({key} {a} vs {b}): their eta are not comparable"
                )
        m = cal.methods[method]
        if m.eta is None or not math.isfinite(m.eta):
            raise ScalingError(
                f"the calibration {name}'s {method!r} entry has no measured eta ({'; '.join(m.flags) or 'no data'})"
            )
        ratio = cal.ratio(convention)
        if ratio is None and convention != "total":
            ratio = cal.ratio("total")
            if ratio is not None:
                notes.append(
                    f"{name} records no {convention} parameter counts: its growth ratio is in total parameters"
                )
        if ratio is None:
            raise ScalingError(
                f"the calibration {name} records no growth ratio (its small and large shapes have no 'params')"
            )
        if operator is None and m.operator_steps:
            operator = (m.operator_steps, m.operator_tokens_per_step)
        elif operator is not None and m.operator_steps and operator != (m.operator_steps, m.operator_tokens_per_step):
            notes.append(
                f"the calibrations trained the operator differently ({operator[0]} vs {m.operator_steps} steps): "
                f"the plan's default is the first's"
            )
        points.append(
            EtaPoint(
                ratio=float(ratio),
                eta=float(m.eta),
                sd=m.eta_sd,
                interval=m.interval(),
                n_seeds=m.n_seeds,
                source=cal.source or name,
                file=name,
                large_params=cal.large.get("params"),
                small_shape=si_shape(cal.small),
                large_shape=si_shape(cal.large),
            )
        )
    points.sort(key=lambda p: p.ratio)
    for a, b in zip(points, points[1:]):
        if b.ratio < a.ratio * 1.01:
            raise ScalingError(
                f"the calibrations {a.file} and {b.file} were both measured at a growth ratio of x{a.ratio:.3g}: "
                "eta as a function of the ratio needs different ratios (seeds of one ratio belong in one experiment)"
            )
    return EtaCurve(method=method, convention=convention, points=points, notes=notes, operator=operator or (0, None))


def scale_note(curve: EtaCurve, large_params: float) -> str:
    """Where eta was measured in scale, against the plan's large model."""
    sizes = sorted({p.large_params for p in curve.points if p.large_params})
    at = " and ".join(si(s) for s in sizes) if sizes else "the calibration runs' scale"
    return (
        f"eta was measured with large models of {at} parameters; this plan's large model has "
        f"{si(large_params)}: eta is assumed not to change with scale"
    )


__all__ = ["EtaCurve", "EtaPoint", "eta_curve", "scale_note", "EXTRAPOLATION_TOLERANCE", "Calibrations"]
