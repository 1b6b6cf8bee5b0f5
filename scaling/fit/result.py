"""FitResult: the immutable, JSON-serialisable outcome of a fit.

It records what was fitted (method, law form, data fingerprint, options), the estimates, their
bootstrap intervals (parameters and derived quantities), the objective, convergence and the flags
(each a code and a message, :mod:`scaling.fit.flags`), and loads back into a law that the
planner accepts (``scaling plan --law fit.json``).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .._io import atomic_write_text
from ..architecture import ArchField, FitArchitecture  # noqa: F401  (re-exported: scaling.fit.FitArchitecture)
from ..errors import OutOfRangeWarning, ScalingError
from ..laws.registry import law_from_dict
from ..planner.result import Flag, Interval
from ..units import si
from .bootstrap import BUDGETS, BootstrapInfo, bound_phrase, budgets_around, chinchilla_derived, percentile_intervals  # noqa: F401  (BootstrapInfo, bound_phrase: part of this module's API)
from .flags import as_flag
from .noise import SeedNoise

# Approach 2 with fewer usable isoFLOP budgets than this is flagged as poorly determined
MIN_BUDGETS = 5


class DataInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")
    fingerprint: str = ""  # sha256 of the fitted (params, tokens, loss[, ...]) columns
    n_rows: int = 0
    source: str = ""
    columns: dict[str, str] = Field(default_factory=dict)  # role -> source column name
    filters: list[str] = Field(default_factory=list)
    flops_range: tuple[float, float] | None = None
    # the corpora (and their text fingerprints) of the fitted runs, from the table's ``corpus`` and
    # ``corpus_fingerprint`` columns (None: the table does not say); a growth experiment's savings
    # against this law need runs on the same text
    corpus: list[str] | None = None
    corpus_fingerprint: list[str] | None = None


class FitResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    method: str  # approach3 | vp | approach2 | approach1 | kaplan | ...
    form: str  # law form: chinchilla | powerlaw | kaplan | ...
    law: dict[str, Any]  # Law.to_dict() of the point estimate (+ "samples")
    params: dict[str, float]
    intervals: dict[str, tuple[float, float]] = Field(default_factory=dict)  # params and derived
    derived: dict[str, float] = Field(default_factory=dict)  # a, b, G, ...
    objective: float | None = None
    converged: bool = True
    flags: list[Flag] = Field(default_factory=list)  # code + message (scaling.fit.flags)
    bootstrap: BootstrapInfo = Field(default_factory=BootstrapInfo)
    data: DataInfo = Field(default_factory=DataInfo)
    options: dict[str, Any] = Field(default_factory=dict)
    residuals: dict[str, float] = Field(default_factory=dict)  # rmse/mae/max of log-loss residuals ...
    flops_convention: str = "6nd"
    params_convention: str = "total"
    extra: dict[str, Any] = Field(default_factory=dict)  # method-specific (per-budget minima, vp...)
    worst_run: dict[str, Any] = Field(default_factory=dict)  # surface fits: the run the law fits worst
    # what the runs were (mixer, context, vocabulary, sparsity, their FLOP convention); None in fit
    # files written before version 2 recorded it
    architecture: FitArchitecture | None = None
    # per-run noise of log loss measured from the fitted runs' replicates (same N and D, other
    # seeds); None without replicates, and in fit files written before it was recorded
    seed_noise: SeedNoise | None = None
    version: str = "2"

    @field_validator("flags", mode="before")
    @classmethod
    def _flags_from_text(cls, value: Any) -> Any:
        """Fit files written before flags had codes store sentences: each gets its code (or "legacy")."""
        return [as_flag(v) for v in value] if isinstance(value, (list, tuple)) else value

    def has_flag(self, code: str) -> bool:
        """Whether the fit raised a flag with this code (``scaling.fit.flags``); a family prefix such
        as ``"bound"`` matches every code of the family (``"bound:E"``, ``"bound:alpha"``, ...)."""
        return any(f.code == code or f.code.startswith(code + ":") for f in self.flags)

    # --- the law ------------------------------------------------------------------------------
    def to_law(self, name: str | None = None):
        d = dict(self.law)
        if name:
            d["name"] = name
        return law_from_dict(d, source=name or f"fit ({self.method})")

    def conf_int(self, level: float | None = None) -> dict[str, Interval]:
        """Intervals of the parameters (and, for a Chinchilla-form law, of a, b, G and the per-budget
        quantities) at ``level`` -> {name: Interval(lo, hi)}.

        At the fit's own level (``level`` None or ``bootstrap.level``) the stored intervals; at another
        level, percentiles of the bootstrap samples the law carries. A fit without samples has only
        its stored level, and asking for another is an error (refit with ``bootstrap``).
        """
        own = self.bootstrap.level
        lvl = own if level is None else float(level)
        if not 0 < lvl < 1:
            raise ScalingError(f"level: {level} must be between 0 and 1")
        if math.isclose(lvl, own, rel_tol=0, abs_tol=1e-12):
            return {k: Interval(float(v[0]), float(v[1])) for k, v in self.intervals.items()}
        samples = self.law.get("samples")
        if not samples or len(samples) < 2:
            raise ScalingError(
                f"{self.method} fit: its intervals are at level {own:g} only (no bootstrap samples "
                f"in the fit); refit with bootstrap > 0 for level {lvl:g}"
            )
        law = self.to_law()
        S = np.asarray(law.samples, dtype=float)
        values: dict[str, np.ndarray] = {
            nm: S[:, k] for k, nm in enumerate(law.param_names) if nm in self.params and k < S.shape[1]
        }
        if self.form == "chinchilla":
            budgets = self.options.get("budgets") or list(
                budgets_around(self.data.flops_range[1]) if self.data.flops_range else BUDGETS
            )
            values.update(chinchilla_derived(S, [float(c) for c in budgets]))
        return {k: Interval(*v) for k, v in percentile_intervals(values, lvl).items()}

    def predict(self, N, D):
        return self.to_law().loss(N, D)

    def plan_problem(self) -> str | None:
        """Why ``scaling plan --law`` cannot use this fit, in one line; None when it plans.

        Builds the law (and every sample law), and evaluates the compute-optimal frontier (and
        the frontier loss, when the law has one) over the fitted compute range and a decade past it.
        """
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
                    return (
                        f"its compute-optimal frontier at {Cs[i]:.3g} FLOPs is not a finite positive size "
                        f"(N = {N[i]:.4g}, D = {D[i]:.4g})"
                    )
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
    def load(cls, path: str | Path) -> FitResult:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ScalingError(f"no such fit file: {str(path)!r}") from None
        except IsADirectoryError:
            raise ScalingError(f"{path}: a directory, not a fit file") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ScalingError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or "law" not in data or "method" not in data:
            raise ScalingError(f"{path}: not a fit result (expected keys 'method' and 'law')")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:  # a hand-edited or foreign file: one line naming the file and the fields
            bad = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()[:3])
            raise ScalingError(f"{path}: not a valid fit file ({bad})") from None

    # --- report -------------------------------------------------------------------------------
    def summary(self, budgets: Sequence[float] | None = None) -> str:
        """The fit as a plain-text report (what ``scaling fit`` prints): parameters with their intervals,
        the exponents, a budget table from the law (``budgets``, else the fit's own, else five decades
        around the data), the health lines, objective, residuals, the VP comparison, held-out errors
        and the flags."""
        res = self
        lvl = int(round(res.bootstrap.level * 100))
        src = res.data.source or "runs"
        conv = "converged" if res.converged else "NOT CONVERGED"
        unit = "points" if res.seed_noise is not None and res.seed_noise.averaged else "runs"
        lines = [f"{res.method} fit ({res.form} form) to {src}: {res.data.n_rows} {unit}, {conv}"]
        if res.data.flops_range:
            lo, hi = res.data.flops_range
            lines[-1] += f", FLOPs {lo:.3g}..{hi:.3g}"
        if res.data.filters:
            lines.append("filters: " + "; ".join(res.data.filters))
        if res.architecture is not None and res.architecture.known:
            lines.append("fitted on: " + res.architecture.describe())
        has_int = any(k in res.intervals for k in res.params)
        lines += ["", f"{'parameter':<12}{'estimate':>14}" + (f"   {lvl}% interval" if has_int else "")]
        for k, v in res.params.items():
            row = f"{k:<12}{_num(v):>14}"
            if k in res.intervals:
                lo, hi = res.intervals[k]
                row += f"   ({_num(lo)}, {_num(hi)})"
            lines.append(row)

        # exponents
        a = res.derived.get("a", res.params.get("a"))
        b = res.derived.get("b", res.params.get("b"))
        if a is not None and b is not None:
            lines.append("")
            ia = res.intervals.get("a")
            ib = res.intervals.get("b")
            lines.append(
                f"exponents: N_opt ∝ C^a, a = {a:.4f}"
                + (f" ({ia[0]:.4f}, {ia[1]:.4f})" if ia else "")
                + f";  D_opt ∝ C^b, b = {b:.4f}"
                + (f" ({ib[0]:.4f}, {ib[1]:.4f})" if ib else "")
            )

        # the sparsity form's dense-equivalent factors (Frantar et al. 2023, arXiv:2309.08520)
        eq = [(k.split("@")[1], v) for k, v in res.derived.items() if k.startswith("dense_equivalent@")]
        if eq:
            parts = []
            for s, v in eq:
                ci = res.intervals.get(f"dense_equivalent@{s}")
                parts.append(f"{float(s):.0%} {v:.3g}x" + (f" ({ci[0]:.3g} .. {ci[1]:.3g})" if ci else ""))
            lines += [
                "",
                "dense-equivalent factor (non-zero N of a sparse model -> dense N of the same loss): "
                + ", ".join(parts)
                + "; the form cannot put it below 1",
            ]

        # budget table from the law (intervals from its samples)
        law = None
        try:
            law = res.to_law()
        except ScalingError as exc:
            lines.append(f"(no usable law: {exc})")
        if law is not None:
            Cs = None
            for cand in (budgets, res.options.get("budgets"), res.options.get("at")):
                if isinstance(cand, (list, tuple)) and cand and all(isinstance(c, (int, float)) for c in cand):
                    Cs = [float(c) for c in cand]
                    break
            if Cs is None:  # around the data, as Approach 3 and VP tabulate (sparsity and other forms too)
                rng = getattr(getattr(law, "provenance", None), "fitted_flops", None)
                Cs = list(budgets_around(rng[1]) if rng else BUDGETS)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", OutOfRangeWarning)
                    N, D = law.frontier(np.asarray(Cs))
                    N, D = np.atleast_1d(N), np.atleast_1d(D)
                    Lc = None
                    if getattr(law, "has_loss", True):
                        try:
                            Lc = np.atleast_1d(law.loss_at_frontier(np.asarray(Cs)))
                        except ScalingError:
                            Lc = None
                    iv = None
                    if law.has_uncertainty:
                        iv = law.interval(lambda lw: _tpp(lw, Cs), level=res.bootstrap.level)
                lines.append("")
                head = f"{'FLOPs':>9}  {'N_opt':>8}  {'D_opt':>8}  {'tokens/param':>12}"
                if Lc is not None:
                    head += f"  {'loss':>7}"
                if iv is not None:
                    head += f"   {lvl}% interval of tokens/param"
                lines.append(head)
                for i, C in enumerate(Cs):
                    row = f"{C:>9.3g}  {_si(N[i]):>8}  {_si(D[i]):>8}  {D[i] / N[i]:>12.1f}"
                    if Lc is not None:
                        row += f"  {Lc[i]:>7.4f}"
                    if iv is not None:
                        lo, hi = iv
                        row += f"   ({lo[i]:.1f}, {hi[i]:.1f})"
                    lines.append(row)
            except ScalingError as exc:
                lines.append(f"(no frontier: {exc})")

        health = res.health_lines()  # bootstrap counts, Approach 2's budgets, residual RMSE and the worst run
        if health:
            lines += [""] + health
        lines.append("")
        if res.objective is not None:
            lines.append(f"objective: {res.objective:.6g}")
        if res.residuals:
            lines.append("residuals: " + ", ".join(f"{k} {_num(v)}" for k, v in res.residuals.items()))
        cmp = res.extra.get("comparison") if isinstance(res.extra, dict) else None
        if cmp:
            p3 = cmp.get("params_approach3", {})
            lines.append(
                f"5-parameter (approach3) fit: a = {cmp['a_approach3']:.4f} (VP {cmp['a_vp']:.4f}); "
                + ", ".join(f"{k} {_num(v)}" for k, v in p3.items())
                + f"; objective {cmp['objective_approach3']:.6g} (VP's solution: "
                f"{cmp['objective_vp_in_approach3_terms']:.6g})"
            )
        ho = res.extra.get("holdout") if isinstance(res.extra, dict) else None
        if ho:
            lines.append("")
            lines.append(
                f"held out: {ho['n_test']} runs with {ho['by']} >= {ho['threshold']:.3g} (fitted on "
                f"{ho['n_train']}): rmse log loss {ho['rmse_log_loss']:.4f}, mean |error| "
                f"{ho['mean_abs_rel_error']:.2%}, max |error| {ho['max_abs_rel_error']:.2%}, bias "
                f"{ho['mean_rel_error']:+.2%}"
            )
            lines.append(f"  {'run':<28}{'params':>9}{'tokens':>9}{'loss':>9}{'predicted':>11}{'error':>9}")
            for r in ho["runs"][:20]:
                lines.append(
                    f"  {r['run_id'][:27]:<28}{_si(r['params']):>9}{_si(r['tokens']):>9}{r['loss']:>9.4f}"
                    f"{r['predicted']:>11.4f}{r['rel_error']:>+9.2%}"
                )
            if len(ho["runs"]) > 20:
                lines.append(f"  ... {len(ho['runs']) - 20} more")
        lines.append("")
        if res.flags:
            lines.append("flags:")
            lines += [f"  - {f.message}" for f in res.flags]
        else:
            lines.append("flags: none")
        return "\n".join(lines)

    def health_lines(self) -> list[str]:
        """What the fit can and cannot pin: the bootstrap's failed and on-bound refits, Approach 2's
        usable budgets, a surface's residual RMSE and its worst run, and the seed noise of the runs'
        replicates with the verdict on the RMSE against it (shared by ``summary`` and the ``scaling
        fit`` report)."""
        lines = list(self.bootstrap.lines())
        if self.method == "approach2" and "n_budgets_used" in self.extra:
            used, total = int(self.extra["n_budgets_used"]), int(self.extra.get("n_budgets", 0))
            short = self.extra.get("bootstrap_refits_short_of_budgets")
            lines.append(
                f"isoFLOP budgets: {used} of {total} usable"
                + (f"; fewer than {MIN_BUDGETS}: the exponents are poorly determined" if used < MIN_BUDGETS else "")
                + (f"; {short} of the kept bootstrap refits lost a budget's minimum and rest on fewer" if short else "")
            )
        averaged = self.seed_noise is not None and self.seed_noise.averaged
        line = residual_line(self.residuals, self.worst_run, self.data.n_rows, unit="points" if averaged else "runs")
        if line:
            lines.append(line)
        if self.seed_noise is not None:
            lines.append(self.seed_noise.line())
            rmse = self.residuals.get("rmse_log_loss") if self.residuals else None
            if rmse is not None and np.isfinite(rmse):
                lines.append(self.seed_noise.verdict(float(rmse)))
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
    out: dict[str, Any] = {
        "row": int(label) if isinstance(label, (int, np.integer)) else str(label),
        "params": float(N[i]),
        "tokens": float(D[i]),
        "loss": float(L[i]),
        "predicted": float(np.exp(lp[i])),
        "rel_error": float(np.expm1(res[i])),
    }
    if df is not None and "run_id" in getattr(df, "columns", ()) and len(df) == len(L):
        out["run_id"] = str(df["run_id"].iloc[i])
    return out


def residual_line(residuals: dict[str, float], worst: dict[str, Any], n_rows: int = 0, unit: str = "runs") -> str:
    """ "fit residuals: RMSE of log loss 1.87% over 9 runs; worst run: ..." for a loss surface, else ""
    (``unit`` "points" when the fitted rows are means of replicates)."""
    rmse = residuals.get("rmse_log_loss") if residuals else None
    if rmse is None or not np.isfinite(rmse):
        return ""
    line = f"fit residuals: RMSE of log loss {100 * rmse:.2f}%" + (f" over {n_rows} {unit}" if n_rows else "")
    if worst:
        who = f"row {worst['row']}" + (f" ({worst['run_id']})" if worst.get("run_id") else "")
        line += (
            f"; worst {'point' if unit == 'points' else 'run'}: {who}, N {si(worst['params'])}, "
            f"D {si(worst['tokens'])}: loss {worst['loss']:.4f}, "
            f"fitted {worst['predicted']:.4f} ({worst['rel_error']:+.2%})"
        )
    return line


def _num(v) -> str:
    if v is None:
        return "-"
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
        return f"{v:.4g}"
    return f"{v:.5g}"


def _si(v: float) -> str:
    try:
        return si(v)
    except Exception:  # noqa: BLE001 - formatting only
        return _num(v)


def _tpp(law, Cs):
    N, D = law.frontier(np.asarray(Cs, dtype=float))
    return np.atleast_1d(D) / np.atleast_1d(N)
