"""``scaling flops``: parameters and training FLOPs of a concrete model shape."""

from __future__ import annotations

import argparse
import json
import math

from .. import flops as F
from ..errors import ScalingError
from ..shapes import ModelShape
from ..sparsity import parse_pattern, resolve_sparsity
from ..units import sci, si
from . import number


def _count(what: str):
    def parse(text: str) -> int:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if v != v or v in (float("inf"), float("-inf")) or v != int(v) or v < 1:
            raise argparse.ArgumentTypeError(f"{text!r} must be a whole number >= 1")
        return int(v)

    parse.__name__ = what
    return parse


def register(sub) -> None:
    p = sub.add_parser(
        "flops",
        help="parameters and training FLOPs of a model shape",
        description="Parameters (total, non-embedding) and training FLOPs per token and per run of a "
        "concrete decoder shape, under the FLOP conventions of scaling.flops "
        "(6nd, kaplan, chinchilla, palm).",
        epilog="Example (Hyena paper Table 4.4, GPT-355M): scaling flops --n-layer 24 --d-model 1024 "
        "--context 2048 --vocab 50257 --tokens 15.7e9 --convention chinchilla. Hyena-355M: add "
        "--mixer hyena --n-layer 36 --d-ff 2048.",
    )
    p.add_argument("--n-layer", type=_count("--n-layer"), required=True, help="number of blocks")
    p.add_argument("--d-model", type=_count("--d-model"), required=True, help="residual width")
    p.add_argument("--n-head", type=_count("--n-head"), default=None, help="heads (default: heads of 64)")
    p.add_argument("--d-ff", type=_count("--d-ff"), default=None, help="MLP width (default: 4 x d-model)")
    p.add_argument("--context", type=_count("--context"), default=2048, help="sequence length (default 2048)")
    p.add_argument("--vocab", type=_count("--vocab"), default=50257, help="vocabulary size (default 50257)")
    p.add_argument("--tokens", type=number("--tokens"), default=None, help="training tokens (e.g. 15.7e9, 1.4T)")
    p.add_argument(
        "--convention",
        choices=F.CONVENTIONS,
        default=None,
        help="the FLOP convention of the headline numbers (default 6nd); the table shows all four",
    )
    p.add_argument("--mixer", choices=("attention", "hyena"), default="attention", help="sequence mixer")
    p.add_argument(
        "--sparsity",
        type=float,
        default=0.0,
        help="fraction of block linear weights that are zero, in [0, 1) (default 0)",
    )
    p.add_argument(
        "--pattern",
        default=None,
        metavar="N:M",
        help="semi-structured sparsity (2:4: 2 non-zero weights in every 4); counted as --sparsity 1 - N/M",
    )
    p.add_argument("--causal", action="store_true", help="halve the L^2 attention work (causal masking)")
    p.add_argument(
        "--no-embeddings",
        action="store_true",
        help="leave embedding and logit FLOPs out (chinchilla; non-embedding N in 6nd/palm)",
    )
    p.add_argument("--fft-constant", type=float, default=None, help="Hyena: FLOPs per N log2 N of an FFT (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    if not (math.isfinite(args.sparsity) and 0 <= args.sparsity < 1):
        raise ScalingError(f"--sparsity must be in [0, 1): got {args.sparsity:g}")
    nm = parse_pattern(args.pattern, "--pattern")
    if nm is not None:
        args.sparsity = resolve_sparsity(args.sparsity or None, nm, what="--sparsity")
    if args.fft_constant is not None and not (math.isfinite(args.fft_constant) and args.fft_constant > 0):
        raise ScalingError(f"--fft-constant must be positive: got {args.fft_constant:g}")
    if args.fft_constant is not None and args.mixer != "hyena":
        raise ScalingError("--fft-constant applies to --mixer hyena only")
    shape = ModelShape(
        n_layer=args.n_layer,
        d_model=args.d_model,
        n_head=args.n_head,
        d_ff=args.d_ff,
        vocab=args.vocab,
        context=args.context,
        mixer=args.mixer,
        sparsity=args.sparsity,
    )
    pc = shape.param_counts()
    kw = {"causal": args.causal}
    if args.no_embeddings:
        kw["include_embeddings"] = False
    if args.fft_constant is not None:
        kw["hyena"] = {"fft_constant": args.fft_constant}
    chosen = args.convention or "6nd"
    order = [chosen] + [c for c in F.CONVENTIONS if c != chosen]
    rows = {}
    for conv in F.CONVENTIONS:
        fpt = shape.flops_per_token(conv, **kw)
        rows[conv] = {
            "flops_per_token": fpt,
            "flops": None if args.tokens is None else fpt * args.tokens,
            "formula": F.describe_convention(conv),
        }

    if args.json:
        out = {
            "shape": shape.to_dict(),
            "params": pc,
            "convention": chosen,
            "flops_per_token": rows[chosen]["flops_per_token"],
            "tokens": args.tokens,
            "flops": rows[chosen]["flops"],
            "causal": args.causal,
            "include_embeddings": not args.no_embeddings,
            "by_convention": {c: {k: v for k, v in r.items() if k != "formula"} for c, r in rows.items()},
        }
        if args.sparsity:
            out["sparsity_convention"] = F.SPARSITY_CONVENTION_DOC
        if nm is not None:
            out["pattern"] = f"{nm[0]}:{nm[1]}"
        print(json.dumps(out))
        return 0

    print(f"shape: {shape.describe()}")
    line = (
        f"parameters: total {si(pc['total'])} ({pc['total']:,}), non-embedding {si(pc['non_embedding'])} "
        f"({pc['non_embedding']:,}), embedding {si(pc['embedding'])}"
    )
    if args.sparsity:
        line += f", non-zero {si(pc['nonzero'])}"
    print(line)
    notes = []
    if args.causal:
        notes.append("causal halving of the attention L^2 terms")
    if args.no_embeddings:
        notes.append("embedding and logit FLOPs left out")
    if args.sparsity:
        notes.append(F.SPARSITY_CONVENTION_DOC)
    if nm is not None:
        notes.append(
            f"a {nm[0]}:{nm[1]} pattern counts as {args.sparsity:g} sparsity (where the zeros sit "
            "changes the hardware's speed, not the count)"
        )
    if notes:
        print("counting: " + "; ".join(notes))
    header = ["convention", "FLOPs/token", "x 6N"] + (["FLOPs (run)"] if args.tokens is not None else []) + ["formula"]
    table = [header]
    six_n = 6.0 * pc["total"]
    for conv in order:
        r = rows[conv]
        row = [
            conv + (" *" if conv == chosen and args.convention is not None else ""),
            sci(r["flops_per_token"], 4),
            f"{r['flops_per_token'] / six_n:.3f}",
        ]
        if args.tokens is not None:
            row.append(sci(r["flops"], 4))
        row.append(r["formula"])
        table.append(row)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for i, r in enumerate(table):
        print(
            "  ".join(
                c.ljust(w) if j in (0, len(header) - 1) else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))
            ).rstrip()
        )
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if args.tokens is not None:
        print(f"tokens: {si(args.tokens)} ({args.tokens / pc['total']:.1f} per parameter)")
    return 0
