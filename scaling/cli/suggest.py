"""``scaling suggest``: which runs to do next, written as a sweep spec the runner executes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .._io import atomic_write_text, check_writable
from ..errors import ScalingError
from ..runs import load_runs
from . import number


def register(sub) -> None:
    p = sub.add_parser(
        "suggest",
        help="propose the next runs that most shrink the uncertainty of the law",
        description="Fit the Chinchilla surface to the runs so far, bootstrap it, and choose runs on isoFLOP lines "
        "(within a compute allowance) that most shrink the interval of the compute-optimal exponent a "
        "(or of the loss predicted at --target); write them as a sweep spec (kind 'list').",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  scaling suggest runs.csv --budget 1e18 --target 1e22 --out next.toml\n"
        "  scaling suggest runs.csv --budget 1e18 --target 1e22 --objective loss --template sweeps/cpu-isoflop.toml\n"
        "  scaling sweep run next.toml",
    )
    p.add_argument("runs", help="runs table (CSV/Parquet/JSON lines) with params, tokens (or FLOPs) and loss")
    p.add_argument(
        "--budget", required=True, type=number("--budget"), help="compute allowance for the new runs (FLOPs, total)"
    )
    p.add_argument(
        "--target",
        type=number("--target"),
        default=None,
        help="the budget you plan for (FLOPs); needed by --objective loss",
    )
    p.add_argument(
        "--objective",
        choices=["a", "loss"],
        default="a",
        help="what to make certain: the exponent a (N_opt ∝ C^a) or the loss at --target (default a)",
    )
    p.add_argument("--out", default=None, help="write the sweep spec (TOML) here; without it the spec is printed")
    p.add_argument("--name", default=None, help="sweep name (default: the --out file's stem, or 'suggested')")
    p.add_argument(
        "--template", default=None, help="a sweep spec whose model/train/data tables and seeds the new runs share"
    )
    p.add_argument(
        "--noise",
        type=number("--noise"),
        default=None,
        help="seed noise: sd of log loss (default: estimated from the fit's residuals, at least 1e-3)",
    )
    p.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples of the fit (default 200)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--max-runs", type=int, default=64, help="at most this many new runs")
    p.add_argument(
        "--min-flops",
        type=number("--min-flops"),
        default=None,
        help="smallest budget a new run may have (default: the smallest budget so far)",
    )
    p.add_argument(
        "--span",
        type=number("--span"),
        default=4.0,
        help="sizes on each isoFLOP line range over 1/span .. span x its current optimum (default 4)",
    )
    p.add_argument("--params-col", default=None, help="column holding the parameter count")
    p.add_argument("--tokens-col", default=None, help="column holding the training tokens")
    p.add_argument("--flops-col", default=None, help="column holding the training FLOPs")
    p.add_argument("--loss-col", default=None, help="column holding the final loss")
    p.add_argument("--where", default=None, help="pandas query selecting the runs to use")
    p.add_argument("--json", action="store_true", help="print the design as JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..sweep.spec import tomllib  # the standard library's from Python 3.11, tomli before

    # the sweep package (70 modules: tqdm, asyncio) is imported by the commands that use it, off start-up
    from ..sweep.suggest import suggest_runs
    from ..sweep.suggest_spec import to_sweep_toml

    if args.out:
        check_writable(args.out)  # before the bootstrap, not after it
    if args.bootstrap < 10:
        raise ScalingError(f"--bootstrap must be at least 10, got {args.bootstrap}")
    if args.max_runs < 1:
        raise ScalingError(f"--max-runs must be at least 1, got {args.max_runs}")
    if not args.span > 1:
        raise ScalingError(f"--span must be above 1, got {args.span:g}")
    if args.objective == "loss" and args.target is None:
        raise ScalingError("--objective loss needs --target (the budget whose loss should be certain)")
    template = None
    if args.template:
        path = Path(args.template)
        try:
            template = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ScalingError(f"--template: no such sweep spec: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ScalingError(f"--template {path}: invalid TOML: {exc}") from None
    runs = load_runs(
        args.runs,
        params_col=args.params_col,
        tokens_col=args.tokens_col,
        flops_col=args.flops_col,
        loss_col=args.loss_col,
        where=args.where,
    )
    design = suggest_runs(
        runs,
        args.budget,
        target=args.target,
        objective=args.objective,
        noise=args.noise,
        bootstrap=args.bootstrap,
        seed=args.seed,
        max_runs=args.max_runs,
        min_flops=args.min_flops,
        size_ratio=args.span**0.25,
        n_sizes=9,
    )
    name = args.name or (Path(args.out).stem if args.out else "suggested")
    text = to_sweep_toml(design, name, template=template)
    if args.json:
        print(json.dumps(design.to_dict()))
    else:
        print(design.summary())
    if args.out:
        atomic_write_text(args.out, text)
        if not args.json:
            print(f"\nwrote {len(design.runs)} runs to {args.out} (run them with: scaling sweep run {args.out})")
    elif not args.json:
        print("\n" + text, end="")
    return 0
