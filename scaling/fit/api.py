"""``fit()``: one entry point for every fitting method.

    from scaling.fit import fit
    res = fit("runs.csv", method="approach3", bootstrap=1000, seed=0, params_col="Model Size")
    res.summary(); res.save("fit.json"); law = res.to_law()

Methods: ``approach3`` (Chinchilla surface, Huber on log loss, 4,500-start grid), ``vp``
(variable projection, with the Approach 3 fit alongside), ``approach2`` (isoFLOP parabolas),
``approach1`` (lower envelope of training curves: give curves, one row per evaluation),
``kaplan`` (Kaplan et al. 2020 surface); and ``datacon`` (data-constrained repetition constants,
runs with a unique-token column) and ``sparsity`` (Frantar et al. sparse law). Options that say
how to read the runs (``params_col``, ``tokens_col``, ``flops_col``, ``loss_col``, ``where``,
``min_flops`` ...) go to the loader (:func:`scaling.runs.load_runs`, or
:func:`scaling.runs.load_curves` for Approach 1); the rest go to the method's fitter.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ScalingError
from ..planner.result import Flag
from ..runs import RunsWarning, architecture_info, load_curves, load_runs, plausibility
from .approach1 import fit_approach1
from .approach2 import fit_approach2
from .approach3 import fit_approach3
from .clusters import parse_by
from .datacon import fit_datacon
from .flags import UNUSABLE
from .kaplan import fit_kaplan
from .noise import mean_replicates, replicates_differ, seed_noise
from .result import FitArchitecture, FitResult
from .sparsity import fit_sparsity
from .vp import fit_vp

METHODS = ("approach3", "vp", "approach2", "approach1", "kaplan", "datacon", "sparsity")
ALIASES = {
    "data-constrained": "datacon",
    "muennighoff": "datacon",
    "sparse": "sparsity",
    "a3": "approach3",
    "3": "approach3",
    "chinchilla": "approach3",
    "parametric": "approach3",
    "variable-projection": "vp",
    "variable_projection": "vp",
    "a2": "approach2",
    "2": "approach2",
    "isoflop": "approach2",
    "a1": "approach1",
    "1": "approach1",
    "envelope": "approach1",
}

RUNS_LOADER_OPTIONS = (
    "params_col",
    "tokens_col",
    "flops_col",
    "loss_col",
    "run_id_col",
    "unique_tokens_col",
    "status_col",
    "where",
    "min_flops",
    "max_flops",
    "drop_failed",
    "log10",
    "min_runs",
)
# Every method's own options (beside bootstrap and seed), explicitly: fit() routes an option to the
# loader or to the method by these tables, never by looking at a function's signature.
COMMON_OPTIONS = ("level",)
METHOD_OPTIONS: dict[str, tuple[str, ...]] = {
    "approach3": (
        "budgets",
        "delta",
        "grid",
        "workers",
        "boot_starts",
        "guard_starts",
        "name",
        "first_pass",
        "keep_best",
        "keep_per_cell",
        "second_pass",
        "n_refine",
        "n_polish",
        "extra_starts",
    ),
    "vp": ("budgets", "loss", "delta", "workers", "grid_step", "compare", "tol_a", "name"),
    "approach2": (
        "budgets",
        "at",
        "flops_col",
        "window",
        "min_points",
        "tol",
        "bins_per_decade",
        "n_samples",
        "flops_convention",
    ),
    "approach1": ("at", "points_per_decade", "envelope_mode", "select", "min_flops", "max_flops", "flops_convention"),
    "kaplan": ("at", "delta", "n_refine"),
    "datacon": ("base", "free", "starts", "delta", "unique_tokens_col"),
    "sparsity": ("delta", "n_starts", "fixed", "params_col", "sparsity_col"),
}
CURVES_LOADER_OPTIONS = (
    "run_id_col",
    "params_col",
    "tokens_col",
    "step_col",
    "tokens_per_step",
    "flops_col",
    "loss_col",
    "ppl_col",
    "where",
    "log10",
    "drop_failed",
)


def method_name(method: str) -> str:
    m = str(method).strip().lower()
    m = ALIASES.get(m, m)
    if m not in METHODS:
        raise ScalingError(f"unknown fitting method {method!r} (known: {', '.join(METHODS)})")
    return m


FITTERS: dict[str, Callable[..., FitResult]] = {
    "approach3": fit_approach3,
    "vp": fit_vp,
    "approach2": fit_approach2,
    "approach1": fit_approach1,
    "kaplan": fit_kaplan,
    "datacon": fit_datacon,
    "sparsity": fit_sparsity,
}


def fitter(method: str) -> Callable[..., FitResult]:
    """The fitting function of a method (``FITTERS``)."""
    return FITTERS[method_name(method)]


def load_for(method: str, runs: Any, **loader_options):
    """The runs (or, for Approach 1, the curves) table a method fits, from a path or a DataFrame."""
    m = method_name(method)
    accepted = CURVES_LOADER_OPTIONS if m == "approach1" else RUNS_LOADER_OPTIONS
    unknown = sorted(set(loader_options) - set(accepted))
    if unknown:
        raise ScalingError(
            f"{m}: the {'curves' if m == 'approach1' else 'runs'} loader takes no option "
            f"{unknown[0]!r} (it takes {', '.join(accepted)})"
        )
    if m == "approach1":
        canonical = isinstance(runs, pd.DataFrame) and {"run_id", "params", "tokens", "flops", "loss"} <= set(
            runs.columns
        )
        return runs if canonical and not loader_options else load_curves(runs, **loader_options)
    canonical = isinstance(runs, pd.DataFrame) and {"params", "tokens", "flops", "loss"} <= set(runs.columns)
    if canonical and not loader_options:
        return runs
    return load_runs(runs, **loader_options)


def fit(
    runs: Any,
    method: str = "approach3",
    bootstrap: int = 0,
    seed: int = 0,
    mean_seeds: bool = False,
    bootstrap_by: Any = None,
    **options,
) -> FitResult:
    """Fit a scaling law to runs with the chosen method -> :class:`FitResult`.

    runs: a DataFrame (canonical runs table, or any table the loader maps) or a path (CSV,
        Parquet, JSON lines). For ``approach1``: training curves, one row per evaluation.
    method: approach3 | vp | approach2 | approach1 | kaplan | datacon | sparsity (aliases: a3,
        isoflop, envelope ...).
    bootstrap: resamples over runs for percentile intervals (0: none); seed: their seed.
    bootstrap_by: a cluster bootstrap (:mod:`scaling.fit.clusters`): resample the groups of these
        columns (``["trunk"]``: the runs of a branched sweep's trunks; ``["params"]`` with
        ``mean_seeds``) with replacement, each drawn group with all its rows, instead of runs.
    mean_seeds: fit each point's replicate runs (same N and D, different seeds) as one point, the
        mean of their log losses (:func:`scaling.fit.noise.mean_replicates`); the seed noise is
        measured from the replicates first, and the residual is set against the noise of a mean.
    options: loader options (params_col, tokens_col, flops_col, loss_col, where, min_flops,
        max_flops, drop_failed, ...) and the method's own (delta, grid, level, budgets, workers,
        window, ...); an option neither takes is an error naming it.
    """
    m = method_name(method)
    fn = fitter(m)
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, (int, np.integer)) or bootstrap < 0:
        raise ScalingError(f"bootstrap: expected a whole number >= 0, got {bootstrap!r}")
    loader_names = CURVES_LOADER_OPTIONS if m == "approach1" else RUNS_LOADER_OPTIONS
    loader_kw, fit_kw = {}, {}
    own = COMMON_OPTIONS + METHOD_OPTIONS[m]
    for k, v in options.items():
        if v is None:
            continue
        if m == "approach1" and k in ("min_flops", "max_flops"):  # Approach 1 restricts its FLOP grid itself
            fit_kw[k] = v
        elif k in loader_names:
            loader_kw[k] = v
        elif k in own:
            fit_kw[k] = v
        else:
            raise ScalingError(
                f"fit: method {m!r} takes no option {k!r} (its options: {', '.join(own)}; the "
                f"loader's: {', '.join(loader_names)})"
            )
    by = None
    if bootstrap_by is not None:
        by = list(parse_by(bootstrap_by))
        if not bootstrap:
            raise ScalingError(f"bootstrap_by={by} groups the bootstrap's resamples: give bootstrap > 0")
    table = load_for(m, runs, **loader_kw)
    checks = data_checks(table) if m != "approach1" else []
    noise = seed_noise(table) if m != "approach1" else None  # curves: one row per evaluation, not per run
    loaded = table  # every run: the record of their corpus versions keeps those of every seed
    if mean_seeds:
        if m == "approach1":
            raise ScalingError(
                "mean_seeds: approach1 fits training curves, one row per evaluation; average runs, not curves"
            )
        if noise is None:
            raise ScalingError(
                "mean_seeds: the runs hold no replicates (runs at the same params and tokens with different seeds)"
            )
        for c in by or ():
            where = replicates_differ(table, c)
            if where:
                raise ScalingError(
                    f"bootstrap_by: column {c!r} differs between the replicates mean_seeds averages into one "
                    f"point ({where}); group the averaged points by a column they share, e.g. params"
                )
        table, scale = mean_replicates(table)
        noise = noise.model_copy(update={"point_scale": scale})
    if by is not None:
        fit_kw["bootstrap_by"] = by
    res = fn(table, bootstrap=int(bootstrap), seed=seed, **fit_kw)
    if checks:
        res = res.model_copy(update={"flags": [*res.flags, *(Flag("data_check", f"data: {c}") for c in checks)]})
    if noise is not None:
        res = res.model_copy(update={"seed_noise": noise})
    return flag_unusable(with_architecture(res, loaded))


def with_architecture(res: FitResult, table) -> FitResult:
    """The fit with the architecture of the runs it was fitted on (:func:`scaling.runs.architecture_info`
    of the fitted table), and a flag ``mixed_architecture`` when the runs disagree on one (a sparsity
    fit's runs differ in sparsity by design)."""
    arch = FitArchitecture(**architecture_info(table))
    flags = list(res.flags)
    mixed = arch.mixed_line(ignore=("sparsity",) if res.method == "sparsity" else ())
    if mixed and not res.has_flag("mixed_architecture"):
        flags.append(
            Flag(
                "mixed_architecture",
                f"runs of more than one architecture ({mixed}): the law is no single architecture's; "
                "fit each apart (--where) to compare them",
            )
        )
    data = res.data.model_copy(update={k: _distinct(table, k) for k in ("corpus", "corpus_fingerprint")})
    return res.model_copy(update={"architecture": arch, "flags": flags, "data": data})


def _distinct(table, column: str) -> list[str] | None:
    """The distinct non-empty values of a table's column, sorted (None when it has no such column)."""
    if column not in getattr(table, "columns", ()):
        return None
    vals = {str(v).strip() for v in table[column].tolist() if v is not None and str(v).strip() not in ("", "nan")}
    return sorted(vals)


def data_checks(table) -> list[str]:
    """The runs loader's plausibility warnings for a table (recorded by ``load_runs``; computed, and
    warned, here for a canonical DataFrame that skipped the loader)."""
    meta = table.attrs.get("scaling", {}) if hasattr(table, "attrs") else {}
    if "checks" in meta:
        return list(meta["checks"])
    checks = plausibility(table)
    for c in checks:
        warnings.warn(f"runs: {c}", RunsWarning, stacklevel=3)
    return checks


def flag_unusable(res: FitResult) -> FitResult:
    """The fit with a flag ``unusable`` ("unusable for planning: <why>") when ``scaling plan`` cannot
    use its law."""
    problem = res.plan_problem()
    if problem is None or res.has_flag("unusable"):
        return res
    return res.model_copy(update={"flags": [*res.flags, Flag("unusable", f"{UNUSABLE}: {problem}")]})


def holdout_errors(result: FitResult, test_runs) -> dict[str, Any]:
    """Prediction errors of a fitted loss surface on held-out runs.

    Returns rmse_log_loss, mean/max absolute relative error, signed mean relative error
    (positive: the law predicts too high a loss), n_test, and per-run rows (run_id, params,
    tokens, flops, loss, predicted, rel_error).
    """
    law = result.to_law()
    if not getattr(law, "has_loss", True):
        raise ScalingError(
            f"{result.method} gives an allocation, not a loss model; it cannot predict held-out "
            "losses (use approach3, vp or kaplan)"
        )
    N = np.asarray(test_runs["params"], dtype=float)
    D = np.asarray(test_runs["tokens"], dtype=float)
    L = np.asarray(test_runs["loss"], dtype=float)
    pred = np.atleast_1d(np.asarray(law.loss(N, D), dtype=float))
    rel = pred / L - 1.0
    lr = np.log(pred) - np.log(L)
    rows = []
    ids = test_runs["run_id"] if "run_id" in test_runs.columns else [f"row{i}" for i in test_runs.index]
    C = np.asarray(test_runs["flops"], dtype=float) if "flops" in test_runs.columns else 6 * N * D
    for rid, n, d, c, l, p, e in zip(ids, N, D, C, L, pred, rel):
        rows.append(
            {
                "run_id": str(rid),
                "params": float(n),
                "tokens": float(d),
                "flops": float(c),
                "loss": float(l),
                "predicted": float(p),
                "rel_error": float(e),
            }
        )
    return {
        "n_test": int(len(L)),
        "rmse_log_loss": float(np.sqrt(np.mean(lr**2))),
        "mean_abs_rel_error": float(np.mean(np.abs(rel))),
        "max_abs_rel_error": float(np.max(np.abs(rel))),
        "mean_rel_error": float(np.mean(rel)),
        "runs": rows,
    }


__all__ = [
    "FITTERS",
    "METHOD_OPTIONS",
    "fit",
    "fitter",
    "method_name",
    "load_for",
    "holdout_errors",
    "flag_unusable",
    "with_architecture",
    "UNUSABLE",
    "METHODS",
]
