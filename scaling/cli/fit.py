"""``scaling fit``: fit a scaling law to a table of training runs and print a report."""

from __future__ import annotations

import argparse

from . import number

METHODS = ("approach3", "vp", "approach2", "approach1", "kaplan", "datacon", "sparsity")


def register(sub) -> None:
    p = sub.add_parser(
        "fit", help="fit a scaling law to training runs (Approaches 1-3, VP, Kaplan) with bootstrap intervals",
        description="Fit a loss surface or a compute-optimal allocation to a table of runs (CSV, Parquet, JSON "
                    "lines; one row per run, or per evaluation for approach1) and print the parameters with "
                    "intervals, the exponents a and b, tokens per parameter at a few budgets, flags and residuals.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  scaling fit runs.csv --bootstrap 1000 --out fit.json\n"
               "  scaling plan 1e22 --law fit.json               (intervals from the bootstrap)\n"
               "  scaling fit runs.csv --method vp\n"
               "  scaling fit gadre.csv --loss-col loss_c4_val --where \"dataset == 'rpj'\" --holdout-above 1e9 "
               "--holdout-by params\n"
               "  scaling fit isoflops.csv --method approach2 --params-col \"Model Size\" --flops-col budget\n"
               "  scaling fit curves.csv --method approach1\n\n"
               "approach3: L = E + A/N^alpha + B/D^beta, Huber (delta 1e-3) on log-loss residuals summed over runs,\n"
               "L-BFGS-B from the 4,500-point grid of Hoffmann et al. (2022); vp: the same surface by variable\n"
               "projection (reported beside the 5-parameter fit); approach2: isoFLOP parabolas; approach1: the\n"
               "lower envelope of training curves; kaplan: Kaplan et al. (2020); datacon: the repetition\n"
               "constants of Muennighoff et al. (2023) (runs with a unique-token column); sparsity: Frantar et al.")
    p.add_argument("runs", help="table of runs (CSV, TSV, Parquet, JSON lines)")
    p.add_argument("--method", default="approach3", type=str.lower, choices=METHODS, help="fitting method (default approach3)")
    p.add_argument("--bootstrap", type=int, default=0, metavar="N", help="bootstrap resamples over runs (default 0: none)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--workers", type=int, default=None, help="processes for the bootstrap (default: all cores)")
    p.add_argument("--out", default=None, help="write the FitResult JSON here (loads with `scaling plan --law`)")
    g = p.add_argument_group("reading the runs")
    g.add_argument("--params-col", default=None, help="column of parameter counts (default: N, params, ...)")
    g.add_argument("--tokens-col", default=None, help="column of training tokens (default: D, tokens, ...; "
                                                      "derived as C/6N from FLOPs when absent)")
    g.add_argument("--flops-col", default=None, help="column of training FLOPs (default: C, flops, ...)")
    g.add_argument("--loss-col", default=None, help="column of final losses (default: loss, val_loss, ...)")
    g.add_argument("--run-id-col", default=None, help="column naming each run")
    g.add_argument("--unique-tokens-col", default=None, help="column of unique tokens (datacon; default U, "
                                                             "unique_tokens, U_unique)")
    g.add_argument("--where", default=None, help="pandas filter, e.g. \"dataset == 'rpj'\" (backticks for names "
                                                 "with spaces)")
    g.add_argument("--min-flops", type=number("--min-flops"), default=None, help="keep runs with at least these FLOPs")
    g.add_argument("--max-flops", type=number("--max-flops"), default=None, help="keep runs with at most these FLOPs")
    g.add_argument("--keep-failed", action="store_true", help="keep runs whose status column says they failed")
    g = p.add_argument_group("what to report")
    g.add_argument("--budgets", type=number("--budgets"), nargs="+", default=None,
                   help="FLOP budgets for the N_opt / D_opt / tokens-per-parameter table (default: five decades from one below the largest run; 1e20 .. 1e24 for Chinchilla-scale data)")
    g.add_argument("--holdout-above", type=number("--holdout-above"), default=None,
                   help="fit only runs below this threshold and report the prediction error on the rest")
    g.add_argument("--holdout-by", choices=("flops", "params", "tokens"), default="flops",
                   help="what --holdout-above compares (default flops)")
    g.add_argument("--delta", type=number("--delta"), default=None, help="Huber threshold (approach3, vp, kaplan; "
                                                                         "default 1e-3)")
    p.add_argument("--json", action="store_true", help="print the FitResult as JSON instead of the report")
    p.set_defaults(func=run)


def run(args) -> int:
    import warnings

    import numpy as np

    from ..errors import ScalingError
    from ..fit.api import fit, holdout_errors, load_for

    if args.bootstrap < 0:
        raise ScalingError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    if not 0 < args.level < 1:
        raise ScalingError(f"--level must be in (0, 1), got {args.level:g}")
    if args.workers is not None and args.workers < 1:
        raise ScalingError(f"--workers must be at least 1, got {args.workers}")
    if args.out:   # fail before the fit, not after it
        from .._io import check_writable
        check_writable(args.out)
    loader = {"params_col": args.params_col, "tokens_col": args.tokens_col, "flops_col": args.flops_col,
              "loss_col": args.loss_col, "run_id_col": args.run_id_col, "where": args.where}
    if args.method != "approach1":
        loader.update({"min_flops": args.min_flops, "max_flops": args.max_flops, "drop_failed": not args.keep_failed})
    elif args.keep_failed:
        loader["drop_failed"] = False
    if args.unique_tokens_col is not None:
        loader["unique_tokens_col"] = args.unique_tokens_col
    loader = {k: v for k, v in loader.items() if v is not None}
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

    caught: list = []
    with _warnings_kept_on_error() as caught:
        warnings.simplefilter("always")
        table = load_for(args.method, args.runs, **loader)
        holdout = None
        fit_table = table
        if args.holdout_above is not None:
            if args.method == "approach1":
                raise ScalingError("--holdout-above needs a loss model; approach1 fits an allocation (use approach3, "
                                   "vp or kaplan)")
            if args.method in ("approach2", "datacon", "sparsity"):
                raise ScalingError(f"--holdout-above is for the loss surfaces approach3, vp and kaplan, not "
                                   f"{args.method}" + (" (an allocation, no loss model)" if args.method == "approach2"
                                                       else ""))
            v = np.asarray(table[args.holdout_by], dtype=float)
            t = float(args.holdout_above)
            train, test = table.loc[v < t], table.loc[v >= t]
            if len(train) == 0:
                raise ScalingError(f"--holdout-above {t:.4g}: no runs below it (smallest {args.holdout_by} is "
                                   f"{v.min():.4g})")
            if len(test) == 0:
                raise ScalingError(f"--holdout-above {t:.4g}: no runs at or above it to hold out (largest "
                                   f"{args.holdout_by} is {v.max():.4g})")
            meta = dict(table.attrs.get("scaling", {}))
            meta["filters"] = list(meta.get("filters", [])) + [f"{args.holdout_by} < {t:.4g} (holdout)"]
            train = train.copy()
            train.attrs["scaling"] = meta
            fit_table = train
        res = fit(fit_table, method=args.method, bootstrap=args.bootstrap, seed=args.seed, **opts)
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
            warnings.warn(m)
        print(res.model_dump_json(indent=2))
        return 0
    for m in notes:
        warnings.warn(m)
    print(report(res, budgets=args.budgets))
    if args.out:
        print(f"\nwrote {args.out}  ({_plan_hint(res, args.out)})")
    return 0


def _warnings_kept_on_error():
    """``warnings.catch_warnings(record=True)`` whose warnings are still printed when the fit fails:
    "several data sets mixed" explains many a failed fit."""
    import contextlib
    import sys
    import warnings

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
    import math
    import shlex

    from ..fit.api import UNUSABLE
    problem = next((f[len(UNUSABLE) + 2:] for f in res.flags if f.startswith(UNUSABLE)), None)
    if problem is not None:
        return f"scaling plan cannot use it: {problem}"
    top = (res.data.flops_range or (0.0, 1e21))[1]
    budget = f"1e{math.floor(math.log10(top)) + 1}" if top > 0 else "1e22"   # a decade past the largest run
    return f"use: scaling plan {budget} --law {shlex.quote(str(path))}"


# ------------------------------------------------------------------------------------------------
# the report


def _num(v) -> str:
    import math
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
    from ..units import si
    try:
        return si(v)
    except Exception:  # noqa: BLE001 - formatting only
        return _num(v)


def _tpp(law, Cs):
    import numpy as np
    N, D = law.frontier(np.asarray(Cs, dtype=float))
    return np.atleast_1d(D) / np.atleast_1d(N)


def report(res, budgets=None) -> str:
    """The plain-text report of a FitResult: parameters, exponents, a budget table, flags, residuals."""
    import warnings

    import numpy as np

    from ..errors import OutOfRangeWarning, ScalingError

    lvl = int(round(res.bootstrap.level * 100))
    src = res.data.source or "runs"
    conv = "converged" if res.converged else "NOT CONVERGED"
    lines = [f"{res.method} fit ({res.form} form) to {src}: {res.data.n_rows} runs, {conv}"]
    if res.data.flops_range:
        lo, hi = res.data.flops_range
        lines[-1] += f", FLOPs {lo:.3g}..{hi:.3g}"
    if res.data.filters:
        lines.append("filters: " + "; ".join(res.data.filters))
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
        lines.append(f"exponents: N_opt ∝ C^a, a = {a:.4f}" + (f" ({ia[0]:.4f}, {ia[1]:.4f})" if ia else "")
                     + f";  D_opt ∝ C^b, b = {b:.4f}" + (f" ({ib[0]:.4f}, {ib[1]:.4f})" if ib else ""))

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
        if Cs is None:   # around the data, as Approach 3 and VP tabulate (sparsity and other forms too)
            from ..fit.bootstrap import BUDGETS, budgets_around
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

    health = res.health_lines()   # bootstrap counts, Approach 2's budgets, residual RMSE and the worst run
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
        lines.append(f"5-parameter (approach3) fit: a = {cmp['a_approach3']:.4f} (VP {cmp['a_vp']:.4f}); "
                     + ", ".join(f"{k} {_num(v)}" for k, v in p3.items())
                     + f"; objective {cmp['objective_approach3']:.6g} (VP's solution: "
                       f"{cmp['objective_vp_in_approach3_terms']:.6g})")
    ho = res.extra.get("holdout") if isinstance(res.extra, dict) else None
    if ho:
        lines.append("")
        lines.append(f"held out: {ho['n_test']} runs with {ho['by']} >= {ho['threshold']:.3g} (fitted on "
                     f"{ho['n_train']}): rmse log loss {ho['rmse_log_loss']:.4f}, mean |error| "
                     f"{ho['mean_abs_rel_error']:.2%}, max |error| {ho['max_abs_rel_error']:.2%}, bias "
                     f"{ho['mean_rel_error']:+.2%}")
        lines.append(f"  {'run':<28}{'params':>9}{'tokens':>9}{'loss':>9}{'predicted':>11}{'error':>9}")
        for r in ho["runs"][:20]:
            lines.append(f"  {r['run_id'][:27]:<28}{_si(r['params']):>9}{_si(r['tokens']):>9}{r['loss']:>9.4f}"
                         f"{r['predicted']:>11.4f}{r['rel_error']:>+9.2%}")
        if len(ho["runs"]) > 20:
            lines.append(f"  ... {len(ho['runs']) - 20} more")
    lines.append("")
    if res.flags:
        lines.append("flags:")
        lines += [f"  - {f}" for f in res.flags]
    else:
        lines.append("flags: none")
    return "\n".join(lines)
