"""``scaling report``: one self-contained HTML page with fits, intervals, plans and every figure."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from .._io import check_writable
from ..errors import ScalingError
from ..fit.result import FitResult
from ..runs import load_curves, load_runs
from . import number
from .plot import add_runs_args, runs_kwargs


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="write an HTML report: fits, intervals, plans and figures for a runs table",
        description="Fit a runs table with one or more methods and write one self-contained HTML page (figures "
        "embedded, no network) with the fit summaries and intervals, compute-optimal plans for a few "
        "budgets, and every figure that applies.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  scaling report runs.csv --out report.html\n"
        "  scaling report runs.csv --out report.html --method approach3 --method kaplan --bootstrap 200\n"
        "  scaling report gadre2024_final_losses.csv --where \"dataset == 'c4_original'\" "
        '--heldout "N > 1e9" --out gadre.html\n'
        "  scaling report runs.csv --fit fit.json --budgets 1e21 1e23 --out report.html",
    )
    p.add_argument("runs", metavar="RUNS", help="a runs table (CSV, TSV, Parquet, JSON lines)")
    p.add_argument("--out", "-o", required=True, help="the HTML file to write")
    p.add_argument(
        "--method",
        action="append",
        default=None,
        help="fit method (repeat or comma-separate: approach3,approach2,vp,kaplan); default approach3 and approach2",
    )
    p.add_argument("--fit", action="append", default=None, help="a fit .json to include (repeatable)")
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples for the fits made here")
    p.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap")
    p.add_argument(
        "--budgets",
        type=number("--budgets"),
        nargs="+",
        help="FLOP budgets to plan for (default three decades above the largest run)",
    )
    p.add_argument("--curves", help="training curves (one row per evaluation) for the curves figure and Approach 1")
    p.add_argument("--heldout", metavar="WHERE", help="runs matching this query are held out of the fits and marked")
    p.add_argument("--compare", nargs="*", default=None, help="published laws on the frontier figures")
    p.add_argument("--title", help="page title")
    add_runs_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..plots.report import DEFAULT_METHODS, report  # the figures' modules: off `scaling --help`'s start-up

    out = Path(args.out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ScalingError(f"--out {args.out!r}: the report is an HTML page; name it .html")
    check_writable(out)  # before the fits, not after them
    if args.bootstrap < 0:
        raise ScalingError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    runs = load_runs(args.runs, **runs_kwargs(args))
    methods = []
    for m in args.method or []:
        methods += [x.strip() for x in m.split(",") if x.strip()]
    fits: list = []
    if args.fit:
        fits += [FitResult.load(f) for f in args.fit]
    if methods or not fits:
        fits += methods or list(DEFAULT_METHODS)
    curves = None
    if args.curves:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            curves = load_curves(args.curves)
    path = report(
        runs,
        out,
        fits=fits,
        budgets=args.budgets,
        curves=curves,
        heldout=args.heldout,
        bootstrap=args.bootstrap,
        seed=args.seed,
        compare=args.compare,
        title=args.title,
    )
    print(f"wrote {path} ({len(runs)} runs)")
    return 0
