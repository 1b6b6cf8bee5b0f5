"""``scaling grow``: plan a growth run from a fitted law, run a growth experiment, analyse it.

scaling grow plan --flops 1e21 --law fit.json [--small RUN_DIR] [--calibration FILE ...] [--json]
scaling grow run sweeps/growth-cpu.toml [--root data/runs] [--workers 2] [--dry-run]
scaling grow analyze data/runs/growth-cpu [--law fit.json] [--calibration-out FILE] [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..errors import ScalingError
from ..growth.methods import METHODS
from . import number

DEFAULT_CALIBRATION = "data/growth/calibration.json"  # scaling.growth.calibration.DEFAULT_CALIBRATION


def register(sub) -> None:
    p = sub.add_parser(
        "grow",
        help="grow a small model into a large one (LiGO): plan, run and analyse",
        description="Model growth (LiGO, Wang et al. 2023): plan the small and large models, the operator "
        "steps and the token counts from a fitted law and a measured growth calibration; run a "
        "growth experiment spec; analyse its runs into savings and a calibration.",
    )
    gs = p.add_subparsers(dest="grow_command", metavar="ACTION")
    gs.required = True

    pl = gs.add_parser(
        "plan",
        help="plan a growth run for a total budget",
        description="Choose the small shape and tokens, the large shape and tokens and the operator "
        "steps that minimise the predicted loss for a total budget, with a FLOP ledger "
        "and the three savings figures; says 'train from scratch' when growth does not pay.",
    )
    pl.add_argument("--flops", type=number("--flops"), required=True, help="total training budget (e.g. 1e21)")
    pl.add_argument("--law", required=True, help="a fitted law (fit.json from `scaling fit`) or a published law name")
    pl.add_argument(
        "--small",
        default=None,
        metavar="RUN_DIR",
        help="an existing small model (a finished run directory): its cost is sunk",
    )
    pl.add_argument(
        "--calibration",
        action="append",
        default=None,
        metavar="FILE",
        help=f"measured growth calibration (default {DEFAULT_CALIBRATION}, written by `scaling grow run`); "
        "repeat it for experiments at other growth ratios: eta is then interpolated in log(ratio) between "
        "them, and a plan outside their range is flagged eta_extrapolated",
    )
    pl.add_argument(
        "--method",
        default="ligo",
        choices=METHODS,
        help="growth method whose calibration to use (default ligo): ligo, stack (G_stack), hyperclone "
        "(HyperCloning), or the hybrids hyperclone-stack and hyperclone-identity",
    )
    pl.add_argument(
        "--credit-efficiency",
        type=float,
        default=None,
        metavar="ETA",
        help="use this token-credit efficiency instead of a calibration (an assumption; labelled so)",
    )
    pl.add_argument(
        "--operator-steps", type=int, default=None, help="LiGO operator steps (default: calibration's, else 100)"
    )
    pl.add_argument(
        "--batch-tokens",
        type=number("--batch-tokens"),
        default=None,
        help="tokens per operator step (default: calibration's, else 524288)",
    )
    pl.add_argument(
        "--vocab", type=int, default=None, help="vocabulary for the shapes (default: small run's, else 50257)"
    )
    pl.add_argument(
        "--context", type=int, default=None, help="context for the shapes (default: small run's, else 2048)"
    )
    pl.add_argument("--json", action="store_true", help="print one JSON object")
    pl.set_defaults(func=run_plan)

    rn = gs.add_parser(
        "run",
        help="run a growth experiment spec (TOML)",
        description="Train the small model, grow it (LiGO, stacking, function-preserving), train the "
        "grown models and a large model from scratch, then analyse: FLOPs to the scratch "
        "loss, the three savings and the calibration. Rerunning skips finished runs.",
    )
    rn.add_argument("spec", help="growth spec, e.g. sweeps/growth-cpu.toml")
    rn.add_argument("--root", default="data/runs", help="run store root (default data/runs)")
    rn.add_argument("--data-dir", default=None, help="corpus cache root (default $SCALING_DATA_DIR or ./data)")
    rn.add_argument("--workers", type=int, default=None, help="parallel processes (default: the spec's)")
    rn.add_argument("--threads", type=int, default=None, help="torch threads per process (default: cores / workers)")
    rn.add_argument("--law", default=None, help="fitted law for savings (3) (default: the spec's law, if any)")
    rn.add_argument(
        "--calibration-out",
        default=None,
        metavar="FILE",
        help="write the calibration here (default: the spec's `calibration`, else not written)",
    )
    rn.add_argument("--dry-run", action="store_true", help="list the runs and their FLOPs; train nothing")
    rn.set_defaults(func=run_run)

    an = gs.add_parser(
        "analyze",
        help="analyse a growth experiment's runs",
        description="FLOPs each method needs to reach the scratch model's final loss, the three "
        "savings and the token credit, each as the mean over seeds with its 95% Student-t interval; "
        "savings (3) through the law's bootstrap samples when it has them; and the calibration.",
    )
    an.add_argument("sweep_dir", help="the experiment's directory, e.g. data/runs/growth-cpu")
    an.add_argument("--law", default=None, help="fitted law (same corpus and recipe) for savings (3)")
    an.add_argument("--calibration-out", default=None, metavar="FILE", help="write the calibration JSON here")
    an.add_argument("--json", action="store_true", help="print one JSON object")
    an.set_defaults(func=run_analyze)


def run_plan(args) -> int:
    from ..growth.planner import plan_growth  # 15 modules: off `scaling --help`'s start-up

    if args.operator_steps is not None and args.operator_steps < 0:
        raise ScalingError(f"--operator-steps must be >= 0, got {args.operator_steps}")
    for name in ("vocab", "context"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise ScalingError(f"--{name} must be a positive integer, got {v}")
    plan = plan_growth(
        args.flops,
        args.law,
        calibration=args.calibration or DEFAULT_CALIBRATION,
        method=args.method,
        eta=args.credit_efficiency,
        small=args.small,
        operator_steps=args.operator_steps,
        batch_tokens=int(args.batch_tokens) if args.batch_tokens else None,
        vocab=args.vocab,
        context=args.context,
    )
    if args.json:
        print(json.dumps(plan.to_dict(), default=float))
    else:
        print(plan.ledger())
    return 0


def run_run(args) -> int:
    # these import the sweep package (70 modules: tqdm, asyncio): off `scaling --help`'s start-up
    from ..growth.analysis import analyze
    from ..growth.configs import describe_jobs
    from ..growth.experiment import run_experiment
    from ..growth.spec import load_growth_spec

    spec = load_growth_spec(args.spec)
    if args.workers is not None and args.workers < 1:
        raise ScalingError(f"--workers must be >= 1, got {args.workers}")
    if args.threads is not None and args.threads < 1:
        raise ScalingError(f"--threads must be >= 1, got {args.threads}")
    if args.dry_run:
        print(describe_jobs(spec))
        return 0
    report = run_experiment(spec, args.root, workers=args.workers, threads=args.threads, data_dir=args.data_dir)
    print(report.summary(), file=sys.stderr)
    analysis = analyze(Path(args.root) / spec.name, law=args.law or spec.law)
    print(analysis.summary())
    out = args.calibration_out or spec.calibration
    if out:
        analysis.write_calibration(out)
        print(f"calibration written to {out}", file=sys.stderr)
    return 0 if not report.errors else 1


def run_analyze(args) -> int:
    from ..growth.analysis import analyze  # imports the sweep package: off `scaling --help`'s start-up

    analysis = analyze(args.sweep_dir, law=args.law)
    if args.json:
        print(json.dumps(analysis.to_dict(), default=str))
    else:
        print(analysis.summary())
    if args.calibration_out:
        analysis.write_calibration(args.calibration_out)
        print(f"calibration written to {args.calibration_out}", file=sys.stderr)
    return 0
