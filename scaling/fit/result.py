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
    """How the bootstrap went. Fit files written before the health counts load with ``failed`` and
    ``on_bound`` empty and ``n_on_bound`` None (not recorded)."""
    model_config = ConfigDict(frozen=True)
    n: int = 0                      # resamples drawn
    seed: int | None = None
    level: float = 0.95
    n_failed: int = 0               # refits that failed: no fit possible, raised, did not converge, non-finite
    failed: dict[str, int] = Field(default_factory=dict)      # n_failed by reason
    n_on_bound: int | None = None   # refits (of those that did not fail) with any parameter on a bound
    on_bound: dict[str, int] = Field(default_factory=dict)    # "E (lower)" -> refits with E on its lower bound
    bound_rtol: float | None = None  # "on a bound": within bound_rtol * max(1, |bound|) of it (None: no bounds)
    # the percentile intervals: the refits that did not fail, on-bound ones included (dropping them
    # would bias the interval away from the bound); failed refits left out
    intervals_include_on_bound: bool = True
    intervals_include_failed: bool = False

    @property
    def n_used(self) -> int:
        return self.n - self.n_failed

    def lines(self) -> list[str]:
        """The bootstrap's report: counts of failed and on-bound refits and what the intervals rest on."""
        if not self.n:
            return []
        head = (f"bootstrap: {self.n} resamples over runs, seed {self.seed}: {self.n_failed} failed "
                f"({_pct(self.n_failed, self.n)}")
        if self.failed:
            head += ": " + ", ".join(f"{why} {k}" for why, k in self.failed.items())
        head += ")"
        if self.n_on_bound is None:
            head += ", on-bound refits not recorded"
        elif self.bound_rtol is None and not self.n_on_bound:
            head += ", no bounded parameters"
        else:
            head += f", {self.n_on_bound} with a parameter on a bound ({_pct(self.n_on_bound, self.n)}"
            if self.on_bound:
                head += ": " + bound_phrase(self.on_bound)
            head += ")"
        tail = (f"  intervals: percentiles of the {self.n_used} refits that did not fail"
                + ("; on-bound refits included" if self.intervals_include_on_bound else "; on-bound refits left out")
                + ("" if self.intervals_include_failed else "; failed refits left out"))
        return [head, tail]


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
    worst_run: dict[str, Any] = Field(default_factory=dict)     # surface fits: the run the law fits worst
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
        lines += self.health_lines()
        if self.objective is not None:
            lines.append(f"objective: {self.objective:.6g}")
        if self.residuals:
            lines.append("residuals: " + ", ".join(f"{k}={v:.4g}" for k, v in self.residuals.items()))
        if self.flags:
            lines += ["", "flags:"] + [f"  - {f}" for f in self.flags]
        return "\n".join(lines)

    def health_lines(self) -> list[str]:
        """What the fit can and cannot pin: the bootstrap's failed and on-bound refits, Approach 2's
        usable budgets, a surface's residual RMSE and its worst run (shared by ``summary`` and the
        ``scaling fit`` report)."""
        lines = list(self.bootstrap.lines())
        if self.method == "approach2" and "n_budgets_used" in self.extra:
            from .approach2 import MIN_BUDGETS
            used, total = int(self.extra["n_budgets_used"]), int(self.extra.get("n_budgets", 0))
            short = self.extra.get("bootstrap_refits_short_of_budgets")
            lines.append(f"isoFLOP budgets: {used} of {total} usable"
                         + (f"; fewer than {MIN_BUDGETS}: the exponents are poorly determined" if used < MIN_BUDGETS
                            else "")
                         + (f"; {short} of the kept bootstrap refits lost a budget's minimum and rest on fewer"
                            if short else ""))
        line = residual_line(self.residuals, self.worst_run, self.data.n_rows)
        if line:
            lines.append(line)
        return lines

    def __str__(self) -> str:  # reads like a report
        return self.summary()


def worst_run(df, N, D, L, log_pred) -> dict[str, Any]:
    """The run a loss surface fits worst (largest |log residual|): its row in the fitted table (the
    table's index label), run id when the table has one, N, D, loss, the fitted loss and the
    relative error fitted / observed - 1."""
    N, D, L, lp = (np.asarray(v, dtype=float) for v in (N, D, L, log_pred))
    res = lp - np.log(L)
    if res.size == 0 or not np.any(np.isfinite(res)):
        return {}
    i = int(np.nanargmax(np.abs(res)))
    label = df.index[i] if df is not None and len(df.index) == len(L) else i
    out: dict[str, Any] = {"row": int(label) if isinstance(label, (int, np.integer)) else str(label),
                           "params": float(N[i]), "tokens": float(D[i]), "loss": float(L[i]),
                           "predicted": float(np.exp(lp[i])), "rel_error": float(np.expm1(res[i]))}
    if df is not None and "run_id" in getattr(df, "columns", ()) and len(df) == len(L):
        out["run_id"] = str(df["run_id"].iloc[i])
    return out


def residual_line(residuals: dict[str, float], worst: dict[str, Any], n_rows: int = 0) -> str:
    """"fit residuals: RMSE of log loss 1.87% over 9 runs; worst run: ..." for a loss surface, else ""."""
    rmse = residuals.get("rmse_log_loss") if residuals else None
    if rmse is None or not np.isfinite(rmse):
        return ""
    line = f"fit residuals: RMSE of log loss {100 * rmse:.2f}%" + (f" over {n_rows} runs" if n_rows else "")
    if worst:
        from ..units import si
        who = f"row {worst['row']}" + (f" ({worst['run_id']})" if worst.get("run_id") else "")
        line += (f"; worst run: {who}, N {si(worst['params'])}, D {si(worst['tokens'])}: loss {worst['loss']:.4f}, "
                 f"fitted {worst['predicted']:.4f} ({worst['rel_error']:+.2%})")
    return line


def bound_phrase(on_bound: dict[str, int]) -> str:
    """{"E (lower)": 34, "alpha (upper)": 2} -> "E at its lower bound 34, alpha at its upper bound 2"."""
    out = []
    for key, k in on_bound.items():
        nm, _, side = key.rpartition(" (")
        out.append(f"{nm} at its {side.rstrip(')')} bound {k}" if nm else f"{key} {k}")
    return ", ".join(out)


def _pct(k: int, n: int) -> str:
    return f"{100.0 * k / n:.1f}%" if n else "-"


def _num(v: float) -> str:
    if v is None or not np.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.4g}"
    return f"{v:.5g}"
