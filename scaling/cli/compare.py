"""``scaling compare``: the effective compute multiplier of architecture B over architecture A."""

from __future__ import annotations

import argparse
import json
import math

from ..errors import ScalingError
from ..planner.compare import arch_flops, compute_multiplier
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
        "frontier, with a bootstrap interval when the fits carry samples. > 1: B is cheaper.",
        epilog="Examples: scaling compare attention-fit.json hyena-fit.json --flops 1e15; "
        "... --target-loss 1.9 --mixer-a attention --mixer-b hyena --context 1024 --vocab 256 "
        "--convention palm (counts attention's context FLOPs and Hyena's FFTs); "
        "scaling compare frantar-2024 frantar-2024 --sparsity-b 0.75 --target-loss 2.5.",
    )
    p.add_argument("law_a", metavar="A", help="fit JSON (scaling fit ... --out) or law name of architecture A")
    p.add_argument("law_b", metavar="B", help="fit JSON or law name of architecture B")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--target-loss", type=_loss, help="the loss both must reach (nats per token)")
    g.add_argument("--flops", type=number("--flops"), help="a budget: the target is the loss A reaches with it")
    p.add_argument(
        "--sparsity-a",
        type=_fraction("--sparsity-a"),
        default=0.0,
        help="A's sparsity (cuts a sparsity-law fit; counts FLOPs at the non-zero share)",
    )
    p.add_argument("--sparsity-b", type=_fraction("--sparsity-b"), default=0.0, help="B's sparsity")
    p.add_argument(
        "--mixer-a",
        choices=("attention", "hyena"),
        default=None,
        help="count A's FLOPs per token from its architecture (with --context, --convention)",
    )
    p.add_argument("--mixer-b", choices=("attention", "hyena"), default=None, help="B's mixer")
    p.add_argument(
        "--context",
        type=number("--context"),
        default=None,
        help="context length for architecture FLOP counting (default 2048)",
    )
    p.add_argument(
        "--convention",
        choices=_CONVENTIONS,
        default=None,
        help="FLOP convention for architecture counting (default palm when a mixer is given)",
    )
    p.add_argument("--vocab", type=number("--vocab"), default=None, help="vocabulary for architecture counting")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--max-samples", type=int, default=None, help="use at most this many bootstrap samples")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    if not 0 < args.level < 1:
        raise ScalingError(f"--level must be between 0 and 1: got {args.level:g}")
    arch = any(v is not None for v in (args.mixer_a, args.mixer_b, args.context, args.convention, args.vocab))
    fa = fb = None
    if arch:
        conv = args.convention or "palm"
        ctx = int(args.context or 2048)
        vocab = int(args.vocab or 50257)
        fa = arch_flops(
            mixer=args.mixer_a or "attention", context=ctx, sparsity=args.sparsity_a, convention=conv, vocab=vocab
        )
        fb = arch_flops(
            mixer=args.mixer_b or "attention", context=ctx, sparsity=args.sparsity_b, convention=conv, vocab=vocab
        )
    res = compute_multiplier(
        args.law_a,
        args.law_b,
        target_loss=args.target_loss,
        flops=args.flops,
        flops_per_token_a=fa,
        flops_per_token_b=fb,
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
