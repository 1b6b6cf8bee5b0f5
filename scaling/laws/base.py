"""The common interface of a scaling law.

A law answers, vectorised over numpy arrays:

- ``loss(N, D)``: predicted loss (nats/token) for N parameters trained on D tokens, if the law
  has a loss model (an allocation-only law such as an Approach 1 power law has none);
- ``frontier(C)``: the compute-optimal (N_opt, D_opt) for a training budget of C FLOPs under the
  law's own FLOP convention (C = 6ND unless the law says otherwise);
- inverse queries: the budget whose optimum is a given size (``flops_for_params``) or token
  count (``flops_for_tokens``), and the least compute that reaches a target loss
  (``flops_for_loss``).

A law may carry uncertainty: ``samples`` is an (n, k) array of parameter vectors (for instance
from a bootstrap of a fit), and ``interval(fn, ...)`` evaluates any derived quantity over them.
``param_intervals`` holds published intervals of the parameters themselves.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._solve import bisect_log as brentq_vec  # noqa: F401  (the laws' old name for it)
from ..errors import OutOfRangeWarning, ScalingError


@dataclass(frozen=True)
class Provenance:
    """Where a law comes from and what it is valid for."""

    citation: str = ""
    url: str = ""
    notes: str = ""
    # training FLOPs of the smallest and largest runs the law was fitted on (None: unknown)
    fitted_flops: tuple[float, float] | None = None


def as_array(x, what: str) -> np.ndarray:
    """Convert to a float array and check it is finite and positive (names ``what`` otherwise)."""
    arr = np.asarray(x, dtype=float)
    if arr.size and not np.all(np.isfinite(arr)):
        raise ScalingError(f"{what} must be finite numbers")
    if arr.size and np.any(arr <= 0):
        raise ScalingError(f"{what} must be positive")
    return arr


def percentile_interval(vals: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval at ``level`` over the first axis of ``vals`` (one row per sample),
    NaN rows of a column left out; a column no sample has is NaN, without numpy's "All-NaN slice"
    warning."""
    vals = np.asarray(vals, dtype=float)
    q = (1 - level) / 2
    lo = np.full(vals.shape[1:], np.nan)
    hi = np.full(vals.shape[1:], np.nan)
    some = np.any(~np.isnan(vals), axis=0)
    if np.any(some):
        lo[some] = np.nanquantile(vals[:, some], q, axis=0)
        hi[some] = np.nanquantile(vals[:, some], 1 - q, axis=0)
    return lo, hi


class Law:
    """Base class; subclasses set ``form`` and implement the methods they support."""

    form: str = "law"
    param_names: tuple[str, ...] = ()
    has_loss: bool = True
    flops_convention: str = "6nd"
    params_convention: str = "total"  # or "non_embedding"

    def __init__(
        self,
        *,
        name: str | None = None,
        provenance: Provenance | None = None,
        samples: np.ndarray | None = None,
        param_intervals: dict[str, tuple[float, float]] | None = None,
        meta: dict[str, Any] | None = None,
    ):
        self.name = name or self.form
        self.provenance = provenance or Provenance()
        self.samples = None if samples is None else np.asarray(samples, dtype=float)
        self.param_intervals = dict(param_intervals or {})
        self.meta = dict(meta or {})

    # --- parameters -------------------------------------------------------------------------
    @property
    def params(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in self.param_names}

    def with_params(self, values) -> Law:
        """A copy of this law (no samples) with the parameter vector ``values``, in this law's FLOP and
        parameter conventions (a palm-counted fit's bootstrap samples are palm-counted)."""
        law = self._from_values([float(v) for v in values])
        law.flops_convention, law.params_convention = self.flops_convention, self.params_convention
        return law

    def _from_values(self, values: list[float]) -> Law:
        """A new law of this form from a parameter vector (a form with more than its parameters,
        such as a fixed granularity, passes them on)."""
        return type(self)(*values, name=self.name, provenance=self.provenance)

    @property
    def has_uncertainty(self) -> bool:
        return self.samples is not None and len(self.samples) >= 2

    def sample_laws(self) -> list[Law]:
        if not self.has_uncertainty or self.samples is None:
            return []
        return [self.with_params(row) for row in self.samples]

    def interval(self, fn: Callable[[Law], np.ndarray], level: float = 0.95):
        """Percentile interval of ``fn(law)`` over the law's samples: (lo, hi) arrays, or None."""
        if not self.has_uncertainty:
            return None
        with warnings.catch_warnings(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # a far sample overflows to inf, which the percentiles below rank like any other value
            warnings.simplefilter("ignore", OutOfRangeWarning)
            vals = np.stack([np.asarray(fn(law), dtype=float) for law in self.sample_laws()])
        return percentile_interval(vals, level)

    # --- queries (subclasses override) ------------------------------------------------------
    def loss(self, N, D):
        raise ScalingError(f"law {self.name!r} ({self.form}) has no loss model")

    def frontier(self, C):
        raise ScalingError(f"law {self.name!r} ({self.form}) has no compute-optimal frontier")

    def flops_for_params(self, N):
        """The budget whose compute-optimal size is N."""
        raise ScalingError(f"law {self.name!r} cannot invert its frontier for a size")

    def flops_for_tokens(self, D):
        """The budget whose compute-optimal token count is D."""
        raise ScalingError(f"law {self.name!r} cannot invert its frontier for a token count")

    def flops_for_loss(self, target):
        raise ScalingError(f"law {self.name!r} ({self.form}) has no loss model for a target loss")

    def tokens_for_loss(self, N, target):
        """Tokens a model of N parameters needs to reach ``target`` loss (inf if it never does)."""
        raise ScalingError(f"law {self.name!r} ({self.form}) has no loss model for a target loss")

    @property
    def irreducible_loss(self) -> float | None:
        return None

    def loss_at_frontier(self, C):
        N, D = self.frontier(C)
        return self.loss(N, D)

    # --- validity ---------------------------------------------------------------------------
    def check_range(self, C, factor: float = 1000.0) -> list[str]:
        """Warn (and return the messages) when C lies more than ``factor`` outside the fitted range."""
        rng = self.provenance.fitted_flops
        if rng is None:
            return []
        C = np.atleast_1d(np.asarray(C, dtype=float))
        lo, hi = rng
        msgs = []
        if np.any(C > hi * factor):
            msgs.append(
                f"{self.name}: {C.max():.3g} FLOPs is more than {factor:g}x above the largest "
                f"run it was fitted on ({hi:.3g}); this is an extrapolation"
            )
        if np.any(C < lo / factor):
            msgs.append(
                f"{self.name}: {C.min():.3g} FLOPs is more than {factor:g}x below the smallest "
                f"run it was fitted on ({lo:.3g}); this is an extrapolation"
            )
        for m in msgs:
            warnings.warn(m, OutOfRangeWarning, stacklevel=3)
        return msgs

    # --- serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "form": self.form,
            "name": self.name,
            "params": self.params,
            "flops_convention": self.flops_convention,
            "params_convention": self.params_convention,
            "citation": self.provenance.citation,
            "url": self.provenance.url,
            "notes": self.provenance.notes,
            "fitted_flops": list(self.provenance.fitted_flops) if self.provenance.fitted_flops else None,
        }
        if self.param_intervals:
            d["param_intervals"] = {k: list(v) for k, v in self.param_intervals.items()}
        if self.samples is not None:
            d["samples"] = self.samples.tolist()
        return d

    def describe(self) -> str:
        ps = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        return f"{self.name} [{self.form}] {ps}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def _fmt(v: float) -> str:
    if v == 0 or (1e-3 <= abs(v) < 1e5):
        return f"{v:.6g}"
    return f"{v:.4g}"


def is_scalar(*xs) -> bool:
    return all(np.ndim(x) == 0 for x in xs)


def maybe_scalar(x):
    x = np.asarray(x)
    return float(x) if x.ndim == 0 else x


__all__ = [
    "Law",
    "Provenance",
    "as_array",
    "percentile_interval",
    "brentq_vec",
    "maybe_scalar",
    "is_scalar",
    "math",
    "field",
    "dataclass",
]
