"""``scaling fit``: fit a scaling law to a table of training runs and print a report."""

from __future__ import annotations

import argparse
import contextlib
import math
import shlex
import sys
import warnings

import numpy as np

from .._io import check_writable
from ..errors import ScalingError
from ..fit.api import fit, holdout_errors, load_for
from ..fit.flags import UNUSABLE
from ..fit.holdout import score_runs
from . import number

METHODS = ("approach3", "vp", "approach2", "approach1", "kaplan", "datacon", "sparsity")


def register(sub) -> None:
    p = sub.add_parser(
        "fit",
        help="fit a scaling law to training runs (Approaches 1-3, VP, Kaplan) with bootstrap intervals",
        description="Fit a loss surface or a compute-optimal allocation to a table of runs (CSV, Parquet, JSON "
        "lines; one row per run, or per evaluation for approach1) and print the parameters with "
        "intervals, the exponents a and b, tokens per parameter at a few budgets, flags and residuals.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  scaling fit runs.csv --bootstrap 1000 --out fit.json\n"
        "  scaling fit runs.csv --bootstrap 1000 --bootstrap-by trunk   (branched runs: resample trunks)\n"
        "  scaling plan 1e22 --law fit.json               (intervals from the bootstrap)\n"
        "  scaling fit runs.csv --method vp\n"
        "  scaling fit gadre.csv --loss-col loss_c4_val --where \"dataset == 'rpj'\" --holdout-above 1e9 "
        "--holdout-by params\n"
        '  scaling fit isoflops.csv --method approach2 --params-col "Model Size" --flops-col budget\n'
        "  scaling fit curves.csv --method approach1\n"
        '  scaling fit --score fit.json runs.csv --where "batch_size != 32"   (score runs the fit left out)\n\n'
        "approach3: L = E + A/N^alpha + B/D^beta, Huber (delta 1e-3) on log-loss residuals summed over runs,\n"
        "L-BFGS-B from the 4,500-point grid of Hoffmann et al. (2022); vp: the same surface by variable\n"
        "projection (reported beside the 5-parameter fit); approach2: isoFLOP parabolas; approach1: the\n"
        "lower envelope of training curves; kaplan: Kaplan et al. (2020); datacon: the repetition\n"
        "constants of Muennighoff et al. (2023) (runs with a unique-token column); sparsity: Frantar et al.",
    )
    p.add_argument("runs", help="table of runs (CSV, TSV, Parquet, JSON lines)")
    p.add_argument("--method", default=None, type=str.lower, choices=METHODS, help="fitting method (default approach3)")
    p.add_argument(
        "--bootstrap", type=int, default=0, metavar="N", help="bootstrap resamples over runs (default 0: none)"
    )
    p.add_argument(
        "--bootstrap-by",
        default=None,
        metavar="COLUMN[,COLUMN...]",
        help="cluster bootstrap: resample the groups of these columns (each drawn group with all its runs) "
        "instead of runs; 'trunk' for the runs of a branched sweep, 'params' with --mean-seeds",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--workers", type=int, default=None, help="processes for the bootstrap (default: all cores)")
    p.add_argument("--out", default=None, help="write the FitResult JSON here (loads with `scaling plan --law`)")
    g = p.add_argument_group("reading the runs")
    g.add_argument("--params-col", default=None, help="column of parameter counts (default: N, params, ...)")
    g.add_argument(
        "--tokens-col",
        default=None,
        help="column of training tokens (default: D, tokens, ...; derived as C/6N from FLOPs when absent)",
    )
    g.add_argument("--flops-col", default=None, help="column of training FLOPs (default: C, flops, ...)")
    g.add_argument("--loss-col", default=None, help="column of final losses (default: loss, val_loss, ...)")
    g.add_argument("--run-id-col", default=None, help="column naming each run")
    g.add_argument(
        "--unique-tokens-col",
        default=None,
        help="column of unique tokens (datacon; default U, unique_tokens, U_unique)",
    )
    g.add_argument(
        "--where", default=None, help="pandas filter, e.g. \"dataset == 'rpj'\" (backticks for names with spaces)"
    )
    g.add_argument("--min-flops", type=number("--min-flops"), default=None, help="keep runs with at least these FLOPs")
    g.add_argument("--max-flops", type=number("--max-flops"), default=None, help="keep runs with at most these FLOPs")
    g.add_argument("--keep-failed", action="store_true", help="keep runs whose status column says they failed")
    g.add_argument(
        "--mean-seeds",
        action="store_true",
        help="fit each point's replicate runs (same params and tokens, other seeds) as one point, the mean of "
        "their log losses; seed noise is still measured from the replicates",
    )
    g = p.add_argument_group("what to report")
    g.add_argument(
        "--budgets",
        type=number("--budgets"),
        nargs="+",
        default=None,
        help="FLOP budgets for the N_opt / D_opt / tokens-per-parameter table (default: five decades from "
        "one below the largest run; 1e20 .. 1e24 for Chinchilla-scale data)",
    )
    g.add_argument(
        "--holdout-above",
        type=number("--holdout-above"),
        default=None,
        help="fit only runs below this threshold and report the prediction error on the rest",
    )
    g.add_argument(
        "--holdout-by",
        choices=("flops", "params", "tokens"),
        default="flops",
        help="what --holdout-above compares (default flops)",
    )
    g.add_argument(
        "--delta", type=number("--delta"), default=None, help="Huber threshold (approach3, vp, kaplan; default 1e-3)"
    )
    p.add_argument(
        "--score",
        default=None,
        metavar="FIT.json",
        help="fit nothing: score the runs (after --where and the other filters) against this saved fit, per run "
        "ln(loss / predicted) and their mean, RMSE and range",
    )
    p.add_argument(
        "--by",
        default=None,
        metavar="COL[,COL]",
        help="with --score: the residuals by these columns (e.g. params): per group the mean with a 95%% "
        "interval, one observation per trunk of a branched sweep, and an F test of the group offsets",
    )
    p.add_argument(
        "--json", action="store_true", help="print the FitResult (or the scores) as JSON instead of the report"
    )
    p.set_defaults(func=run)


def run(args) -> int:
    if args.score is not None:
        return score(args)
    if args.by is not None:
        raise ScalingError("--by groups the residuals of --score FIT.json: give --score (fit first, then score)")
    if args.method is None:
        args.method = "approach3"
    if args.bootstrap < 0:
        raise ScalingError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    if args.bootstrap_by is not None and not args.bootstrap:
        raise ScalingError(f"--bootstrap-by {args.bootstrap_by} groups the resamples: give --bootstrap N too")
    if not 0 < args.level < 1:
        raise ScalingError(f"--level must be in (0, 1), got {args.level:g}")
    if args.workers is not None and args.workers < 1:
        raise ScalingError(f"--workers must be at least 1, got {args.workers}")
    if args.out:  # fail before the fit, not after it
        check_writable(args.out)
    loader = _loader_options(args, curves=args.method == "approach1")
    opts: dict = {"level": args.level}
    if args.method in ("approach3", "vp"):
        opts["workers"] = args.workers
        if args.budgets:
            opts["budgets"] = args.budgets
    if args.method == "approach1":
        if args.min_flops is not None:
            opts["min_flops"] = args.min_flops
        if args.max_flops is not None:
            opts["max_flops"] = args.max_flops
    if args.method in ("approach1", "approach2", "kaplan") and args.budgets:
        opts["at"] = args.budgets
    if args.delta is not None:
        if args.method not in ("approach3", "vp", "kaplan", "datacon", "sparsity"):
            raise ScalingError(f"--delta applies to approach3, vp, kaplan, datacon and sparsity, not {args.method}")
        opts["delta"] = args.delta

    with _warnings_kept_on_error() as caught:
        warnings.simplefilter("always")
        table = load_for(args.method, args.runs, **loader)
        holdout = None
        fit_table = table
        if args.holdout_above is not None:
            if args.method == "approach1":
                raise ScalingError(
                    "--holdout-above needs a loss model; approach1 fits an allocation (use approach3, vp or kaplan)"
                )
            if args.method in ("approach2", "datacon", "sparsity"):
                raise ScalingError(
                    f"--holdout-above is for the loss surfaces approach3, vp and kaplan, not "
                    f"{args.method}" + (" (an allocation, no loss model)" if args.method == "approach2" else "")
                )
            v = np.asarray(table[args.holdout_by], dtype=float)
            t = float(args.holdout_above)
            train, test = table.loc[v < t], table.loc[v >= t]
            if len(train) == 0:
                raise ScalingError(
                    f"--holdout-above {t:.4g}: no runs below it (smallest {args.holdout_by} is {v.min():.4g})"
                )
            if len(test) == 0:
                raise ScalingError(
                    f"--holdout-above {t:.4g}: no runs at or above it to hold out (largest "
                    f"{args.holdout_by} is {v.max():.4g})"
                )
            meta = dict(table.attrs.get("scaling", {}))
            meta["filters"] = list(meta.get("filters", [])) + [f"{args.holdout_by} < {t:.4g} (holdout)"]
            train = train.copy()
            train.attrs["scaling"] = meta
            fit_table = train
        res = fit(
            fit_table,
            method=args.method,
            bootstrap=args.bootstrap,
            seed=args.seed,
            mean_seeds=args.mean_seeds,
            bootstrap_by=args.bootstrap_by,
            **opts,
        )
        if args.holdout_above is not None:
            holdout = holdout_errors(res, test)
            holdout.update({"threshold": float(args.holdout_above), "by": args.holdout_by, "n_train": int(len(train))})
            res = res.model_copy(update={"extra": {**res.extra, "holdout": holdout}})
    if args.out:
        res.save(args.out)
    notes = []
    for w in caught:
        msg = str(w.message)
        if msg not in notes:
            notes.append(msg)
    if args.json:
        for m in notes:
            warnings.warn(m, stacklevel=1)
        print(res.model_dump_json(indent=2))
        return 0
    for m in notes:
        warnings.warn(m, stacklevel=1)
    print(report(res, budgets=args.budgets))
    if args.out:
        print(f"\nwrote {args.out}  ({_plan_hint(res, args.out)})")
    return 0


def score(args) -> int:
    """``scaling fit --score FIT.json RUNS``: the runs scored against a saved fit, nothing fitted."""
    fitting = {
        "--method": args.method is not None,
        "--bootstrap": args.bootstrap != 0,
        "--bootstrap-by": args.bootstrap_by is not None,
        "--out": args.out is not None,
        "--holdout-above": args.holdout_above is not None,
        "--budgets": args.budgets is not None,
        "--delta": args.delta is not None,
        "--mean-seeds": args.mean_seeds,
    }
    given = [k for k, v in fitting.items() if v]
    if given:
        raise ScalingError(f"--score fits nothing: {given[0]} does not apply (it scores runs against the saved fit)")
    by = None if args.by is None else [c.strip() for c in args.by.split(",")]
    scores = score_runs(args.score, args.runs, by=by, **_loader_options(args))
    print(scores.model_dump_json(indent=2) if args.json else scores.summary())
    return 0


def _loader_options(args, *, curves: bool = False) -> dict:
    """The runs loader's options from the command line (those given). ``curves``: Approach 1 reads
    training curves, whose FLOP range is a fitting option, not a filter of the table."""
    loader = {
        "params_col": args.params_col,
        "tokens_col": args.tokens_col,
        "flops_col": args.flops_col,
        "loss_col": args.loss_col,
        "run_id_col": args.run_id_col,
        "unique_tokens_col": args.unique_tokens_col,
        "where": args.where,
    }
    if not curves:
        loader.update({"min_flops": args.min_flops, "max_flops": args.max_flops, "drop_failed": not args.keep_failed})
    elif args.keep_failed:
        loader["drop_failed"] = False
    return {k: v for k, v in loader.items() if v is not None}


def _warnings_kept_on_error():
    """``warnings.catch_warnings(record=True)`` whose warnings are still printed when the fit fails:
    "several data sets mixed" explains many a failed fit."""

    @contextlib.contextmanager
    def cm():
        seen: list = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                seen = caught
                yield caught
        except Exception:
            for m in dict.fromkeys(str(w.message) for w in seen):
                print(f"scaling: warning: {m}", file=sys.stderr)
            raise

    return cm()


def _plan_hint(res, path: str) -> str:
    """How to plan with the written fit, or why ``scaling plan`` cannot."""
    problem = next((f.message[len(UNUSABLE) + 2 :] for f in res.flags if f.code == "unusable"), None)
    if problem is not None:
        return f"scaling plan cannot use it: {problem}"
    top = (res.data.flops_range or (0.0, 1e21))[1]
    budget = f"1e{math.floor(math.log10(top)) + 1}" if top > 0 else "1e22"  # a decade past the largest run
    return f"use: scaling plan {budget} --law {shlex.quote(str(path))}"


# ------------------------------------------------------------------------------------------------
# the report


def report(res, budgets=None) -> str:
    """The plain-text report of a FitResult (:meth:`scaling.fit.FitResult.summary`)."""
    return res.summary(budgets)
