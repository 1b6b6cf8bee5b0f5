"""``scaling compare``: the effective compute multiplier of architecture B over architecture A."""

from __future__ import annotations

import argparse
import json
import math

from ..errors import ScalingError
from ..planner.compare import compare_fits
from . import number

_CONVENTIONS = ("6nd", "kaplan", "chinchilla", "palm")


def _fraction(what: str):
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (math.isfinite(v) and 0 <= v < 1):
            raise argparse.ArgumentTypeError(f"{text!r} must be in [0, 1)")
        return v

    parse.__name__ = what
    return parse


def _loss(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number")
    return v


_loss.__name__ = "--target-loss"


def register(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="compute multiplier of architecture B over A from two fits",
        description="The effective compute multiplier of architecture B over architecture A: the compute A "
        "needs to reach a loss divided by the compute B needs, each on its own compute-optimal "
        "frontier, with a bootstrap interval when the fits carry samples. > 1: B is cheaper. Each fit's "
        "mixer, context, vocabulary, sparsity and FLOP convention come from the fit file (recorded from "
        "its runs); the multiplier is printed under total FLOPs (the runs' convention, which counts "
        "attention's context work and Hyena's FFTs) and under weight-only FLOPs (C = 6ND) side by side.",
        epilog="Examples: scaling compare attention-fit.json hyena-fit.json --flops 1e13 (each side as its "
        "fit records it); ... --context 2048 (overrides the recorded context, with a note); "
        "... --convention 6nd (restates two fits under different conventions in one); "
        "scaling compare frantar-2024 frantar-2024 --sparsity-b 0.75 --target-loss 2.5.",
    )
    p.add_argument("law_a", metavar="A", help="fit JSON (scaling fit ... --out) or law name of architecture A")
    p.add_argument("law_b", metavar="B", help="fit JSON or law name of architecture B")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--target-loss", type=_loss, help="the loss both must reach (nats per token)")
    g.add_argument(
        "--flops",
        type=number("--flops"),
        help="a budget (in the fits' FLOP convention): the target is the loss A reaches with it",
    )
    p.add_argument(
        "--sparsity-a",
        type=_fraction("--sparsity-a"),
        default=None,
        help="A's sparsity (cuts a sparsity-law fit, default 0; counts FLOPs at the non-zero share; "
        "default: as A's fit records)",
    )
    p.add_argument("--sparsity-b", type=_fraction("--sparsity-b"), default=None, help="B's sparsity")
    p.add_argument(
        "--mixer-a",
        choices=("attention", "hyena"),
        default=None,
        help="A's mixer (default: as A's fit records; attention for a law that records none)",
    )
    p.add_argument("--mixer-b", choices=("attention", "hyena"), default=None, help="B's mixer")
    p.add_argument(
        "--context",
        type=number("--context"),
        default=None,
        help="context length of both (default: as the fits record; 2048 for a law that records none)",
    )
    p.add_argument(
        "--convention",
        choices=_CONVENTIONS,
        default=None,
        help="FLOP convention to count both sides in (default: the fits' own; fits under different "
        "conventions need it; palm for laws that record none)",
    )
    p.add_argument(
        "--vocab",
        type=number("--vocab"),
        default=None,
        help="vocabulary of both (default: as the fits record; 50257 for a law that records none)",
    )
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--max-samples", type=int, default=None, help="use at most this many bootstrap samples")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    if not 0 < args.level < 1:
        raise ScalingError(f"--level must be between 0 and 1: got {args.level:g}")
    res = compare_fits(
        args.law_a,
        args.law_b,
        target_loss=args.target_loss,
        flops=args.flops,
        mixer_a=args.mixer_a,
        mixer_b=args.mixer_b,
        context=None if args.context is None else int(args.context),
        vocab=None if args.vocab is None else int(args.vocab),
        convention=args.convention,
        sparsity_a=args.sparsity_a,
        sparsity_b=args.sparsity_b,
        level=args.level,
        max_samples=args.max_samples,
    )
    if args.json:
        print(json.dumps(res.to_dict()))
    else:
        print(res.summary())
    return 0
