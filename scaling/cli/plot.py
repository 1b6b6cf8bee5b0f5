"""``scaling plot``: isoFLOP profiles, loss surface, frontier, residuals and training curves."""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

from ..errors import ScalingError
from ..fit.api import fit as fit_runs
from ..fit.result import FitResult
from ..laws import get_law, list_laws
from ..laws.registry import ALIASES, REGISTRY
from ..runs import load_curves, load_runs
from . import number

KINDS = ("isoflop", "surface", "frontier", "residuals", "curves")
DEFAULT_METHOD = {"surface": "approach3", "residuals": "approach3", "frontier": "approach3"}


def add_runs_args(p) -> None:
    """Column mapping and filters passed to ``load_runs`` (shared with ``scaling report``)."""
    g = p.add_argument_group("reading the runs table")
    g.add_argument("--params-col", help="column holding parameter counts (default: N, params, num_params, ...)")
    g.add_argument("--tokens-col", help="column holding training tokens (default: D, tokens, ...)")
    g.add_argument("--flops-col", help="column holding training FLOPs (default: C, flops, flops_6ND, ...)")
    g.add_argument("--loss-col", help="column holding the loss in nats/token (default: loss, val_loss, ...)")
    g.add_argument("--run-id-col", help="column naming each run")
    g.add_argument("--where", help="keep rows matching a pandas query, e.g. \"dataset == 'rw' and loss_type == 'val'\"")
    g.add_argument("--min-flops", type=number("--min-flops"), help="drop runs below this many FLOPs")
    g.add_argument("--max-flops", type=number("--max-flops"), help="drop runs above this many FLOPs")


def runs_kwargs(args) -> dict:
    kw = {
        "params_col": args.params_col,
        "tokens_col": args.tokens_col,
        "flops_col": args.flops_col,
        "loss_col": args.loss_col,
        "run_id_col": args.run_id_col,
        "where": args.where,
        "min_flops": args.min_flops,
        "max_flops": args.max_flops,
    }
    return {k: v for k, v in kw.items() if v is not None}


def register(sub) -> None:
    p = sub.add_parser(
        "plot",
        help="draw isoFLOP profiles, the loss surface, the frontier, residuals or training curves",
        description="Draw one figure from a runs table, training curves or a fit, and write it as PNG, SVG or "
        "PDF (chosen by the extension of --out).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="kinds and inputs:\n"
        "  isoflop    RUNS        loss against size per FLOP budget, Approach 2 parabolas and minima;\n"
        "                         --fit/--law/--method adds a loss law's prediction (dashed)\n"
        "  surface    RUNS | FIT | LAW   contours of L(N, D), isoFLOP lines, frontier, runs\n"
        "  frontier   FIT | LAW | RUNS   N_opt(C), D_opt(C) with the fit's band, against published laws\n"
        "  residuals  RUNS        predicted against observed, residuals against N, D, C\n"
        "  curves     CURVES      loss against FLOPs per run with the Approach 1 envelope\n"
        "A RUNS input is fitted with --method (default approach3) when a fit is needed and --fit\n"
        "is not given.\n\n"
        "examples:\n"
        "  scaling plot isoflop porian_isoflop_points.csv --where \"label == 'Optimizer tuning (no decay)' "
        "and loss_type == 'val' and dataset == 'rw'\" --out isoflop.png\n"
        "  scaling plot frontier fit.json --out frontier.pdf\n"
        "  scaling plot surface runs.csv --method approach3 --out surface.svg\n"
        '  scaling plot residuals runs.csv --heldout "N > 1e9" --out residuals.png\n'
        "  scaling plot curves curves.csv --out curves.png",
    )
    p.add_argument("kind", choices=KINDS, help="the figure")
    p.add_argument(
        "input",
        metavar="RUNS_OR_FIT",
        help="a runs table (CSV, TSV, Parquet, JSON lines), training curves (curves), a fit .json "
        "(frontier, surface) or a registered law name (frontier, surface)",
    )
    p.add_argument("--out", "-o", required=True, help="output file: .png, .svg or .pdf")
    p.add_argument("--fit", help="a fit .json written by `scaling fit` to draw with the runs")
    p.add_argument("--law", help="a law name or law/fit .json (isoflop: prediction; surface: the surface)")
    p.add_argument(
        "--method",
        help="fit the runs with this method when no --fit is given (approach1, approach2, approach3, vp, kaplan)",
    )
    p.add_argument("--bootstrap", type=int, default=0, help="bootstrap resamples for a fit made here (default 0)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap")
    p.add_argument(
        "--compare",
        nargs="*",
        default=None,
        help="published laws on the frontier (default chinchilla-2022 epoch-2024 kaplan-2020; none: "
        "--compare with no names; all: every registered law)",
    )
    p.add_argument(
        "--heldout",
        metavar="WHERE",
        help="runs matching this query are held out of the fit made here and marked (residuals, surface)",
    )
    p.add_argument(
        "--budgets", type=number("--budgets"), nargs="+", help="FLOP budgets of the isoFLOP lines drawn on the surface"
    )
    p.add_argument(
        "--flops-range",
        type=number("--flops-range"),
        nargs=2,
        metavar=("LO", "HI"),
        help="compute range of the frontier plot",
    )
    p.add_argument("--no-envelope", action="store_true", help="curves: do not draw the Approach 1 envelope")
    p.add_argument("--title", help="figure title")
    p.add_argument("--dpi", type=float, default=200, help="resolution of PNG output (default 200)")
    add_runs_args(p)
    p.set_defaults(func=run)


# ------------------------------------------------------------------------------------------------


def classify_input(text: str):
    """('fit', FitResult) | ('law', Law) | ('runs', path) for the positional argument."""
    path = Path(text)
    if path.suffix.lower() == ".json" and path.is_file():
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ScalingError(f"{path}: not valid JSON ({exc})") from None
        if isinstance(data, dict) and ("method" in data or "law" in data):
            return "fit", FitResult.load(path)
        if isinstance(data, dict) and "form" in data and "params" in data:
            return "law", get_law(str(path))
        if isinstance(data, dict) and not any(isinstance(v, (list, dict)) for v in data.values()):
            raise ScalingError(f"{path}: a JSON object that is neither a fit result nor a law nor a table of runs")
        return "runs", str(path)
    if path.exists():
        if path.is_dir():
            raise ScalingError(f"{path} is a directory; give a runs table, a curves table or a fit .json")
        return "runs", str(path)
    if text.lower() in REGISTRY or text.lower() in ALIASES:
        return "law", get_law(text)
    raise ScalingError(
        f"no such file or law: {text!r} (give a runs table, a fit .json or a law name; see `scaling laws`)"
    )


def _fit_here(runs, method: str, args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fit warnings are in the fit's flags
        return fit_runs(runs, method=method, bootstrap=args.bootstrap, seed=args.seed)


def run(args) -> int:
    # the figures' modules are imported by the command that draws them: off `scaling --help`'s start-up
    from .. import plots
    from ..plots import FORMATS

    out = Path(args.out)
    if out.suffix.lower() not in FORMATS:
        raise ScalingError(
            f"--out {args.out!r}: unknown image type {out.suffix or '(no extension)'!r}; use .png, .svg or .pdf"
        )
    if args.bootstrap < 0:
        raise ScalingError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    kind = args.kind
    what, obj = classify_input(args.input)
    if what != "runs" and kind in ("isoflop", "residuals", "curves"):
        noun = "training curves" if kind == "curves" else "runs"
        raise ScalingError(
            f"{kind}: {args.input!r} is a {'fit result' if what == 'fit' else 'law'}, not a table of "
            f"{noun}; give the {noun} and pass the fit with --fit"
        )
    fit = None
    if args.fit:
        f_what, fit = classify_input(args.fit)
        if f_what != "fit":
            raise ScalingError(f"--fit {args.fit!r}: not a fit result (.json written by `scaling fit`)")
    if what == "fit":
        fit = obj
    law_arg = args.law

    if kind == "curves":
        kw = runs_kwargs(args)
        kw.pop("min_flops", None)
        kw.pop("max_flops", None)
        df = load_curves(obj, **kw)
        if fit is None and args.method and args.method.lower() != "approach1":
            raise ScalingError(f"curves: --method {args.method}: the envelope comes from approach1")
        data = plots.curves_data(df, envelope=not args.no_envelope, fit=fit, title=args.title)
        fig = plots.draw_curves(data)
        summary = f"{data.n_runs} runs, {data.n_points} evaluations"
    else:
        runs = None
        heldout_mask = None
        if what == "runs":
            runs = load_runs(obj, **runs_kwargs(args))
            if args.heldout:
                heldout_mask = plots.heldout_mask(runs, args.heldout)
                if heldout_mask.all():
                    raise ScalingError(f"--heldout {args.heldout!r} matches every run; nothing is left to fit")
        elif args.heldout:
            raise ScalingError("--heldout needs a runs table as input")
        train = runs
        if runs is not None and heldout_mask is not None and heldout_mask.any():
            train = runs.loc[~heldout_mask]
            train.attrs = dict(runs.attrs)

        def need_fit(default: str | None):
            nonlocal fit
            if fit is None and (args.method or default):
                fit = _fit_here(train, args.method or default, args)
            return fit

        if kind == "isoflop":
            if fit is not None and fit.method == "approach1":
                raise ScalingError(
                    "isoflop --fit: an approach1 fit has neither isoFLOP parabolas nor a loss model; "
                    "give an approach2 fit or one with a loss model (approach3, vp, kaplan)"
                )
            if fit is None and args.method:
                need_fit(None)
            data = plots.isoflop_data(runs, fit=fit, law=law_arg, title=args.title)
            fig = plots.draw_isoflop(data)
            summary = f"{data.n_runs} runs, {data.n_budgets} budgets"
        elif kind == "surface":
            law = law_arg
            if law is None:
                law = obj if what == "law" else need_fit(DEFAULT_METHOD["surface"])
            data = plots.surface_data(law, runs, budgets=args.budgets, title=args.title, heldout=heldout_mask)
            fig = plots.draw_surface(data)
            summary = f"law {data.law}" + (f", {len(runs)} runs" if runs is not None else "")
        elif kind == "frontier":
            target = obj if what == "law" else (fit if fit is not None else None)
            if target is None and law_arg:
                target = law_arg
            if target is None:
                target = need_fit(DEFAULT_METHOD["frontier"])
            compare = plots.PUBLISHED if args.compare is None else tuple(args.compare)
            if compare == ("all",):  # every registered law that draws a frontier
                compare = tuple(n for n in list_laws() if n != getattr(target, "name", target))
            data = plots.frontier_data(target, compare=compare, flops=args.flops_range, title=args.title)
            fig = plots.draw_frontier(data)
            summary = f"{data.law} against {', '.join(data.compared) or 'nothing'}"
        elif kind == "residuals":
            target = fit if fit is not None else (law_arg or need_fit(DEFAULT_METHOD["residuals"]))
            data = plots.residuals_data(runs, target, heldout=heldout_mask, title=args.title)
            fig = plots.draw_residuals(data)
            summary = f"{data.n_runs} runs ({data.n_heldout} held out), rms {data.rms_rel_train:.2f}%"
        else:  # pragma: no cover - argparse restricts kind
            raise ScalingError(f"unknown plot kind {kind!r}")
    plots.save(fig, out, dpi=args.dpi)
    plots.close(fig)
    print(f"wrote {out} ({kind}: {summary})")
    return 0
