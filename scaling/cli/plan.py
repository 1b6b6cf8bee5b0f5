"""``scaling plan``: compute-optimal size, tokens, loss and cost from a law."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from ..accelerators import get_accelerator
from ..errors import ScalingError
from ..hardware import DEFAULT_SPARSE_EFFICIENCY, Hardware, check_sparse_efficiency
from ..laws import get_law, list_laws
from ..laws.moe import FineGrainedMoELaw, check_granularity
from ..planner import format_table, plan
from ..planner.fit_shape import PLAN_DEFAULTS, shape_from_fit
from ..planner.law_comparison import compare_laws
from ..planner.text import format_law_comparison
from ..sparsity import parse_pattern, resolve_sparsity
from . import number


def register(sub) -> None:
    p = sub.add_parser(
        "plan",
        help="plan model size, tokens, loss and cost for a budget",
        description="Given a budget (FLOPs, GPU-hours or dollars), a size, a token count or a target loss, "
        "print the compute-optimal plan under a law. Several budgets print one table.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  scaling plan 1e21 1e22 1e23\n  scaling plan 5.76e23 --law epoch-2024 --shape\n"
        "  scaling plan --params 7B --tokens 1.4T\n  scaling plan --target-loss 2.1 --gpu h100 --gpus 1024\n"
        "  scaling plan --dollars 1e6 --gpu h100 --price 2.5 --json\n"
        "  scaling plan 1e22 --unique-tokens 25B          (data-constrained: muennighoff-2023)\n"
        "  scaling plan --law muennighoff-2023 --params 6.34e9 --tokens 242e9 --unique-tokens 25e9\n"
        "  scaling plan --target-loss 2.1 --inference-tokens 2T\n"
        "  scaling plan 1e23 --inference-tokens 2T --inference-mfu 0.2 --inference-price 2\n"
        "  scaling plan 1e22 --law fit.json --flatness 0.005\n"
        "  scaling plan 1e21 --mixer hyena --context 8192 --convention palm\n"
        "  scaling plan 1e21 --law frantar-2024 --sparsity 0.75\n"
        "  scaling plan 1e21 --law frantar-2024 --sparsity 0.5 --pattern 2:4 --gpu h100\n"
        "  scaling plan 1e22 --law krajewski-2024 --granularity 8\n\n"
        "--unique-tokens without --law uses muennighoff-2023 (Muennighoff et al. 2023, C4); with a\n"
        "Chinchilla-form --law that paper's repetition constants (R_D* 15.39, R_N* 5.31) are applied\n"
        "to the given law, and the output says so.\n\n"
        "--sparsity with --gpu prices the sparse model as it runs (unstructured masks: no speedup, the\n"
        "dense model's cost; --pattern 2:4: the sparse tensor cores at --sparse-efficiency of the vendor's\n"
        "sparse peak) and prints the dense plans at the same FLOPs and at the same GPU-hours beside it.\n\n"
        "--law fit.json plans for the model the fit's runs were (its recorded mixer, context, vocabulary\n"
        "and sparsity) where --mixer, --context, --vocab, --sparsity are not given, and says so; a value\n"
        "given that differs from the fit's is noted as a transfer the fit did not measure.",
    )
    p.add_argument("flops", nargs="*", type=number("FLOPs"), help="training budget(s) in FLOPs (1e21, 3.2E+24)")
    p.add_argument("--gpu-hours", type=number("--gpu-hours"), nargs="+", help="budget(s) in GPU-hours")
    p.add_argument("--dollars", type=number("--dollars"), nargs="+", help="budget(s) in US dollars")
    p.add_argument("--params", type=number("--params"), nargs="+", help="model size(s) (7B, 70e9)")
    p.add_argument("--tokens", type=number("--tokens"), nargs="+", help="training token count(s) (1.4T)")
    p.add_argument("--target-loss", type=number("--target-loss"), nargs="+", help="loss(es) to reach (nats/token)")
    p.add_argument(
        "--law",
        default=None,
        help="law name (see `scaling laws`), a fit/law .json file, 'all' "
        "(every registered law side by side) or a comma-separated list "
        "of names (default epoch-2024)",
    )
    p.add_argument(
        "--convention",
        choices=["6nd", "kaplan", "chinchilla", "palm"],
        default=None,
        help="FLOP convention (default: the law's own, usually 6nd)",
    )
    p.add_argument("--gpu", default=None, help="accelerator for the cost (a100, h100, h100-pcie, h200, ...)")
    p.add_argument("--gpus", type=int, default=None, help="number of accelerators (for wall-clock days)")
    p.add_argument("--mfu", type=number("--mfu"), default=None, help="model FLOPs utilisation in (0, 1] (default 0.4)")
    p.add_argument(
        "--price",
        type=number("--price", allow_zero=True),
        default=None,
        help="dollars per GPU-hour (default: the catalogue's price for the GPU)",
    )
    p.add_argument("--pue", type=number("--pue"), default=None, help="data-centre PUE (default 1.1)")
    p.add_argument(
        "--grid",
        type=number("--grid", allow_zero=True),
        default=None,
        help="grid carbon intensity, kg CO2e per kWh (default 0.4)",
    )
    p.add_argument("--shape", action="store_true", help="also print a concrete model shape")
    # None: not given, so that a fit's recorded shape (scaling.planner.fit_shape) can stand in for it
    p.add_argument(
        "--vocab",
        type=int,
        default=None,
        help=f"vocabulary size for --shape and FLOP conventions (default: the fit's, else {PLAN_DEFAULTS['vocab']})",
    )
    p.add_argument(
        "--context",
        type=int,
        default=None,
        help=f"context length for --shape and FLOP conventions (default: the fit's, else {PLAN_DEFAULTS['context']})",
    )
    p.add_argument(
        "--mixer",
        choices=("attention", "hyena"),
        default=None,
        help="sequence mixer whose FLOPs per token count (with --convention palm/chinchilla and --context; "
        "default: the fit's, else attention)",
    )
    p.add_argument(
        "--sparsity",
        type=number("--sparsity", allow_zero=True),
        default=None,
        help="fraction of block weights held at zero: N is non-zero parameters, FLOPs the non-zero "
        "share; a sparsity law (frantar-2024) is evaluated at it (default: the fit's, else 0)",
    )
    p.add_argument(
        "--pattern",
        default=None,
        metavar="N:M",
        help="semi-structured sparsity: N non-zero weights in every M (2:4, what sparse tensor cores run; "
        "sets --sparsity to 1 - N/M); default unstructured, which no accelerator runs faster",
    )
    p.add_argument(
        "--sparse-efficiency",
        type=number("--sparse-efficiency"),
        default=None,
        metavar="E",
        help=f"with --pattern 2:4 and a GPU: the fraction of the vendor's sparse peak the sparse kernels reach "
        f"(default {DEFAULT_SPARSE_EFFICIENCY:g}: 1.2x over dense at a 2x sparse peak; an assumption, printed)",
    )
    p.add_argument(
        "--granularity",
        type=number("--granularity"),
        default=None,
        metavar="G",
        help="MoE granularity G = d_ff / d_expert (at least 1) for a fine-grained MoE law (krajewski-2024, "
        "Krajewski et al. 2024): plan at this G instead of the compute-optimal one among 1..64",
    )
    p.add_argument("--level", type=float, default=0.95, help="interval level when the law has uncertainty")
    g = p.add_argument_group("past the compute-optimal plan")
    g.add_argument(
        "--unique-tokens",
        type=number("--unique-tokens"),
        nargs="+",
        help="unique tokens available (data-constrained plan: size, total tokens, epochs, cost of repeating)",
    )
    g.add_argument(
        "--inference-tokens",
        type=number("--inference-tokens", allow_zero=True),
        nargs="+",
        help="tokens the model will serve; with --target-loss or a total budget (FLOPs or --dollars) "
        "minimises training + inference cost (Sardana et al. 2024)",
    )
    g.add_argument("--inference-gpu", default=None, help="accelerator serving the model (default: --gpu)")
    g.add_argument(
        "--inference-mfu",
        type=number("--inference-mfu"),
        default=None,
        help="MFU reached when serving, in (0, 1] (default: --mfu); makes the objective dollars",
    )
    g.add_argument(
        "--inference-price",
        type=number("--inference-price", allow_zero=True),
        default=None,
        help="dollars per GPU-hour when serving (default: --price or the catalogue's)",
    )
    g.add_argument(
        "--flatness",
        type=number("--flatness"),
        nargs="?",
        const=0.005,
        default=None,
        help="print the sizes whose loss at the same budget is within this fraction of the best "
        "(default 0.005 = 0.5%%; put it after the budgets); with a bootstrapped fit also the "
        "distribution "
        "of N_opt, D_opt and the loss",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object per query")
    p.set_defaults(func=run)


def run_laws(args) -> int:
    """``--law all`` or ``--law a,b,c``: the compute-optimal plan of each law at each budget, side by side."""
    others = [
        k
        for k in (
            "params",
            "tokens",
            "target_loss",
            "gpu_hours",
            "dollars",
            "unique_tokens",
            "inference_tokens",
            "flatness",
        )
        if getattr(args, k)
    ]
    if others or not args.flops:
        raise ScalingError(
            f"--law {args.law}: compares laws at FLOP budgets only (give budgets, e.g. "
            f"`scaling plan 1e24 --law all`{'; not --' + others[0].replace('_', '-') if others else ''})"
        )
    names = "all" if args.law == "all" else [n.strip() for n in args.law.split(",") if n.strip()]
    G = None
    if args.granularity is not None:
        G = check_granularity(args.granularity, "--granularity")
        if not any(isinstance(get_law(n), FineGrainedMoELaw) for n in (list_laws() if names == "all" else names)):
            raise ScalingError(
                f"--granularity: none of the laws {args.law!r} has a granularity term; the fine-grained MoE "
                "law krajewski-2024 (Krajewski et al. 2024) has one"
            )
    vocab = PLAN_DEFAULTS["vocab"] if args.vocab is None else args.vocab
    context = PLAN_DEFAULTS["context"] if args.context is None else args.context
    if vocab < 1 or context < 1:
        raise ScalingError("--vocab and --context must be positive integers")
    df = compare_laws(list(args.flops), names=names, vocab=vocab, context=context, G=G)
    if args.json:
        cols = [c for c in df.columns if c != "extra"]
        for rec in df[cols].to_dict(orient="records"):
            print(json.dumps({k: (None if isinstance(v, float) and v != v else v) for k, v in rec.items()}))
    else:
        print(format_law_comparison(df))
    return 0


def _dense_because(args) -> str | None:
    """Why this plan takes no recorded mixer or sparsity from a fit (None: it does)."""
    if args.unique_tokens is not None or args.inference_tokens is not None:
        return (
            "data-constrained and inference-aware plans assume a dense attention model "
            "(a transfer the fit did not measure)"
        )
    if args.law is not None and Path(args.law).is_file() and not get_law(args.law).has_loss:
        # the planner re-counts an allocation's FLOPs for attention only; its closed form is its runs' frontier
        return "an allocation law plans by the frontier fitted to its runs, counted as they were"
    return None


def run(args) -> int:
    if args.law is not None and (args.law == "all" or ("," in args.law and not args.law.endswith(".json"))):
        return run_laws(args)
    if args.gpus is not None and args.gpus < 1:
        raise ScalingError(f"--gpus must be at least 1, got {args.gpus}")
    if args.mfu is not None and not 0 < args.mfu <= 1:
        raise ScalingError(f"--mfu must be in (0, 1], got {args.mfu:g}")
    if args.sparsity is not None and not 0 <= args.sparsity < 1:
        raise ScalingError(f"--sparsity must be in [0, 1), got {args.sparsity:g}")
    pattern = parse_pattern(args.pattern, "--pattern")
    if pattern is not None and args.sparsity is not None:
        n, m = pattern
        if abs(args.sparsity - (1 - n / m)) > 1e-9:
            raise ScalingError(
                f"--pattern {n}:{m} keeps {n} of every {m} weights (sparsity {1 - n / m:g}): "
                f"--sparsity {args.sparsity:g} disagrees"
            )
    if (args.vocab is not None and args.vocab < 1) or (args.context is not None and args.context < 1):
        raise ScalingError("--vocab and --context must be positive integers")
    shape = shape_from_fit(
        args.law,
        mixer=args.mixer,
        context=args.context,
        vocab=args.vocab,
        sparsity=args.sparsity,
        pattern=args.pattern,
        dense_because=_dense_because(args),
    )
    sparsity = resolve_sparsity(shape.sparsity if pattern is None else args.sparsity, args.pattern)
    if args.sparse_efficiency is not None:
        check_sparse_efficiency(args.sparse_efficiency)
        if pattern is None:
            raise ScalingError(
                "--sparse-efficiency applies to --pattern 2:4 (sparse tensor cores); unstructured sparsity gets no "
                "hardware speedup"
            )
    if not 0 < args.level < 1:
        raise ScalingError(f"--level must be in (0, 1), got {args.level:g}")
    hw = None
    if (
        any(v is not None for v in (args.gpu, args.gpus, args.mfu, args.price, args.pue, args.grid))
        or args.sparse_efficiency is not None
        or args.gpu_hours
        or args.dollars
    ):
        hw = Hardware(
            accelerator=get_accelerator(args.gpu or "h100").name,
            gpus=args.gpus,
            mfu=0.4 if args.mfu is None else args.mfu,
            price_per_gpu_hour=args.price,
            pue=args.pue,
            grid_kg_per_kwh=args.grid,
            sparse_efficiency=DEFAULT_SPARSE_EFFICIENCY if args.sparse_efficiency is None else args.sparse_efficiency,
        )
    cost = None
    if args.inference_tokens is not None:
        if args.inference_mfu is not None and not 0 < args.inference_mfu <= 1:
            raise ScalingError(f"--inference-mfu must be in (0, 1], got {args.inference_mfu:g}")
        if hw is not None or any(v is not None for v in (args.inference_gpu, args.inference_mfu, args.inference_price)):
            base = hw or Hardware()
            inf_acc = get_accelerator(args.inference_gpu).name if args.inference_gpu else None
            cost = Hardware(
                accelerator=base.accelerator,
                mfu=base.mfu,
                price_per_gpu_hour=base.price_per_gpu_hour,
                inference_accelerator=inf_acc,
                inference_mfu=args.inference_mfu,
                inference_price_per_gpu_hour=args.inference_price,
            )
    elif any(v is not None for v in (args.inference_gpu, args.inference_mfu, args.inference_price)):
        raise ScalingError("--inference-gpu/--inference-mfu/--inference-price need --inference-tokens")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plans = plan(
            args.flops or None,
            params=args.params,
            tokens=args.tokens,
            target_loss=args.target_loss,
            gpu_hours=args.gpu_hours,
            dollars=args.dollars,
            law=args.law,
            convention=args.convention,
            hardware=hw,
            shape=args.shape,
            vocab=shape.vocab,
            context=shape.context,
            level=args.level,
            unique_tokens=args.unique_tokens,
            inference_tokens=args.inference_tokens,
            cost=cost,
            flatness=args.flatness,
            mixer=shape.mixer,
            sparsity=sparsity,
            granularity=args.granularity,
            pattern=args.pattern,
        )
    for line in ([shape.line] if shape.line else []) + [f"note: {n}" for n in shape.notes]:
        print(f"scaling: {line}", file=sys.stderr)
    if args.json:
        for p in plans:
            print(json.dumps(p.to_dict()))
    else:
        print(format_table(plans))
        notes = sorted({w for p in plans for w in p.warnings})
        for n in notes:
            print(f"scaling: warning: {n}", file=sys.stderr)
    for w in caught:  # anything else a law said (other than range warnings already attached to plans)
        msg = str(w.message)
        if not any(msg in p.warnings for p in plans):
            print(f"scaling: warning: {msg}", file=sys.stderr)
    return 0
