"""FitResult: the immutable, JSON-serialisable outcome of a fit.

It records what was fitted (method, law form, data fingerprint, options), the estimates, their
bootstrap intervals (parameters and derived quantities), the objective and convergence flags,
and loads back into a law that the planner accepts (``scaling plan --law fit.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .._io import atomic_write_text
from ..errors import ScalingError


class DataInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")
    fingerprint: str = ""           # sha256 of the fitted (params, tokens, loss[, ...]) columns
    n_rows: int = 0
    source: str = ""
    columns: dict[str, str] = Field(default_factory=dict)   # role -> source column name
    filters: list[str] = Field(default_factory=list)
    flops_range: tuple[float, float] | None = None


class BootstrapInfo(BaseModel):
    model_config = ConfigDict(frozen=True)
    n: int = 0
    seed: int | None = None
    level: float = 0.95
    n_failed: int = 0


class FitResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str                                  # approach3 | vp | approach2 | approach1 | kaplan | ...
    form: str                                    # law form: chinchilla | powerlaw | kaplan | ...
    law: dict[str, Any]                          # Law.to_dict() of the point estimate (+ "samples")
    params: dict[str, float]
    intervals: dict[str, tuple[float, float]] = Field(default_factory=dict)  # params and derived
    derived: dict[str, float] = Field(default_factory=dict)                  # a, b, G, ...
    objective: float | None = None
    converged: bool = True
    flags: list[str] = Field(default_factory=list)
    bootstrap: BootstrapInfo = Field(default_factory=BootstrapInfo)
    data: DataInfo = Field(default_factory=DataInfo)
    options: dict[str, Any] = Field(default_factory=dict)
    residuals: dict[str, float] = Field(default_factory=dict)  # rmse/mae/max of log-loss residuals ...
    flops_convention: str = "6nd"
    params_convention: str = "total"
    extra: dict[str, Any] = Field(default_factory=dict)         # method-specific (per-budget minima, vp...)
    version: str = "1"

    # --- the law ------------------------------------------------------------------------------
    def to_law(self, name: str | None = None):
        from ..laws.registry import law_from_dict
        d = dict(self.law)
        if name:
            d["name"] = name
        return law_from_dict(d, source=name or f"fit ({self.method})")

    def predict(self, N, D):
        return self.to_law().loss(N, D)

    def plan_problem(self) -> str | None:
        """Why ``scaling plan --law`` cannot use this fit, in one line; None when it plans.

        Builds the law (and every sample law), and evaluates the compute-optimal frontier (and
        the frontier loss, when the law has one) over the fitted compute range and a decade past it.
        """
        import warnings
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                law = self.to_law()
                ff = getattr(law.provenance, "fitted_flops", None)
                Cs = np.array([ff[0], ff[1], 10.0 * ff[1]], dtype=float) if ff else np.array([1e20, 1e22, 1e24])
                N, D = (np.atleast_1d(np.asarray(v, dtype=float)) for v in law.frontier(Cs))
                bad = ~(np.isfinite(N) & np.isfinite(D) & (N > 0) & (D > 0))
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    return (f"its compute-optimal frontier at {Cs[i]:.3g} FLOPs is not a finite positive size "
                            f"(N = {N[i]:.4g}, D = {D[i]:.4g})")
                if law.has_uncertainty:
                    law.interval(lambda lw: np.concatenate([np.atleast_1d(v) for v in lw.frontier(Cs)]))
        except ScalingError as exc:
            return str(exc)
        except (ValueError, TypeError, ArithmeticError) as exc:
            return f"its law cannot be built ({type(exc).__name__}: {' '.join(str(exc).split())})"
        return None

    # --- files --------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        return atomic_write_text(path, self.model_dump_json(indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "FitResult":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ScalingError(f"no such fit file: {str(path)!r}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ScalingError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or "law" not in data or "method" not in data:
            raise ScalingError(f"{path}: not a fit result (expected keys 'method' and 'law')")
        return cls.model_validate(data)

    # --- report -------------------------------------------------------------------------------
    def summary(self) -> str:
        lines = [f"Fit: method={self.method}  form={self.form}  rows={self.data.n_rows}  "
                 f"converged={'yes' if self.converged else 'NO'}"]
        if self.data.source:
            lines.append(f"Data: {self.data.source}  fingerprint={self.data.fingerprint[:12]}")
        lvl = int(round(self.bootstrap.level * 100))
        head = f"{'parameter':<12}{'estimate':>14}"
        if self.intervals:
            head += f"{f'{lvl}% interval':>30}"
        lines += ["", head]
        for k, v in list(self.params.items()) + list(self.derived.items()):
            row = f"{k:<12}{_num(v):>14}"
            if k in self.intervals:
                lo, hi = self.intervals[k]
                row += f"{'(' + _num(lo) + ', ' + _num(hi) + ')':>30}"
            lines.append(row)
        if self.bootstrap.n:
            lines.append(f"bootstrap: {self.bootstrap.n} resamples over runs, seed {self.bootstrap.seed}"
                         + (f", {self.bootstrap.n_failed} failed" if self.bootstrap.n_failed else ""))
        if self.objective is not None:
            lines.append(f"objective: {self.objective:.6g}")
        if self.residuals:
            lines.append("residuals: " + ", ".join(f"{k}={v:.4g}" for k, v in self.residuals.items()))
        if self.flags:
            lines += ["", "flags:"] + [f"  - {f}" for f in self.flags]
        return "\n".join(lines)

    def __str__(self) -> str:  # reads like a report
        return self.summary()


def _num(v: float) -> str:
    if v is None or not np.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.4g}"
    return f"{v:.5g}"
