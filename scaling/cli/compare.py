"""``scaling compare``: the effective compute multiplier of architecture B over architecture A; with
``--dense-equivalent``, the dense-equivalent size of a sparse model from a dense and a sparse fit."""

from __future__ import annotations

import argparse
import json
import math

from ..errors import ScalingError
from ..planner.compare import compare_fits
from ..planner.equivalence import dense_equivalent_fits
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


def _positive_list(what: str):
    """An argparse ``type`` for a comma-separated list of positive numbers (``5,15,45``, ``1e6,2M``)."""
    parse_one = number(what)

    def parse(text: str) -> list[float]:
        parts = [t.strip() for t in text.split(",")]
        if not parts or any(not t for t in parts):
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers")
        return [parse_one(t) for t in parts]

    parse.__name__ = what
    return parse


DEFAULT_TOKENS_PER_PARAM = [5.0, 10.0, 20.0, 40.0]


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
        "scaling compare frantar-2024 frantar-2024 --sparsity-b 0.75 --target-loss 2.5; "
        "scaling compare dense-fit.json sparse-fit.json --dense-equivalent --params 50K --tokens-per-param 5,15,45.",
    )
    p.add_argument("law_a", metavar="A", help="fit JSON (scaling fit ... --out) or law name of architecture A")
    p.add_argument("law_b", metavar="B", help="fit JSON or law name of architecture B")
    g = p.add_mutually_exclusive_group()
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
    e = p.add_argument_group(
        "dense equivalent (A: a dense Chinchilla fit, B: a sparse one, N = non-zero parameters)",
        "The dense size with the sparse model's loss on the same tokens, from one Approach 3 fit per "
        "sparsity: N_eq = (A_d / (L_s - E_d - B_d/D^beta_d))^(1/alpha_d), factor N_eq / N (can be below 1; "
        "inf where no dense size reaches the loss), one row per token count, with a bootstrap interval "
        "pairing the fits' samples index by index.",
    )
    e.add_argument(
        "--dense-equivalent",
        action="store_true",
        help="print the dense-equivalent factor of B (sparse) over A (dense) instead of the compute multiplier",
    )
    e.add_argument("--params", type=number("--params"), default=None, help="the sparse model's non-zero parameters")
    e.add_argument(
        "--tokens-per-param",
        type=_positive_list("--tokens-per-param"),
        default=None,
        help="tokens per non-zero parameter, comma-separated (default 5,10,20,40)",
    )
    e.add_argument("--tokens", type=_positive_list("--tokens"), default=None, help="token counts, comma-separated")
    e.add_argument(
        "--any-sparsity",
        action="store_true",
        help="compare whatever sparsity the fits record (by default A must be dense and B of another sparsity)",
    )
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--max-samples", type=int, default=None, help="use at most this many bootstrap samples")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    if not 0 < args.level < 1:
        raise ScalingError(f"--level must be between 0 and 1: got {args.level:g}")
    if args.dense_equivalent:
        return dense_equivalent(args)
    given = [
        f
        for f, v in (
            ("--params", args.params),
            ("--tokens-per-param", args.tokens_per_param),
            ("--tokens", args.tokens),
        )
        if v is not None
    ] + (["--any-sparsity"] if args.any_sparsity else [])
    if given:
        raise ScalingError(f"{given[0]} goes with --dense-equivalent")
    if args.target_loss is None and args.flops is None:
        raise ScalingError("one of the arguments --target-loss --flops is required (or --dense-equivalent)")
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


def dense_equivalent(args) -> int:
    """``--dense-equivalent``: the dense size a sparse model of ``--params`` non-zero parameters is worth."""
    for flag, v in (("--target-loss", args.target_loss), ("--flops", args.flops)):
        if v is not None:
            raise ScalingError(f"{flag} does not go with --dense-equivalent (it compares at token counts)")
    ignored = [
        f
        for f, v in (
            ("--sparsity-a", args.sparsity_a),
            ("--sparsity-b", args.sparsity_b),
            ("--mixer-a", args.mixer_a),
            ("--mixer-b", args.mixer_b),
            ("--context", args.context),
            ("--convention", args.convention),
            ("--vocab", args.vocab),
        )
        if v is not None
    ]
    if ignored:
        raise ScalingError(f"{ignored[0]} does not go with --dense-equivalent (the fits' records are used)")
    if args.max_samples is not None and args.max_samples < 2:
        raise ScalingError(f"--max-samples must be at least 2: got {args.max_samples}")
    if args.params is None:
        raise ScalingError("--dense-equivalent needs --params (the sparse model's non-zero parameters)")
    if args.tokens is not None and args.tokens_per_param is not None:
        raise ScalingError("give one of --tokens and --tokens-per-param")
    tpp = args.tokens_per_param if args.tokens is None and args.tokens_per_param is not None else None
    if args.tokens is None and tpp is None:
        tpp = DEFAULT_TOKENS_PER_PARAM
    res = dense_equivalent_fits(
        args.law_a,
        args.law_b,
        args.params,
        tokens=args.tokens,
        tokens_per_param=tpp,
        level=args.level,
        max_samples=args.max_samples,
        any_sparsity=args.any_sparsity,
    )
    print(json.dumps(res.to_dict()) if args.json else res.summary())
    return 0
