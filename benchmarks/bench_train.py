"""Trainer throughput: tokens/s per model size of a sweep spec, and achieved training FLOP/s at the
largest size against the matmul throughput measured in the same run (same dtype, same threads).

Run:  python benchmarks/bench_train.py [--spec sweeps/cpu-isoflop.toml] [--budget largest|all]
                                       [--threads 1] [--seconds 6] [--device cpu]
Target (issue 4): achieved FLOP/s at the largest size >= 50% of the matmul throughput.

Each size is trained through the real trainer (scaling.train.loop.train: data loading, AdamW,
clipping, schedule) on the spec's corpus, with the spec's batch size, dtype and context, for about
``--seconds`` seconds, and its tokens/s is taken from the run's own accounting (evaluation time
excluded). Achieved FLOP/s is reported under the spec's convention (6ND: what the fitter counts)
and as model FLOPs (PaLM: 6N + the attention work, the usual basis of MFU); the ratio uses model
FLOPs, and the 6ND ratio is printed beside it. The default layout is one thread, the layout of a
sweep's worker processes on this machine; the matmul reference is 1024^3 in the same dtype and
thread count, best of several repeats, measured before and after the training and averaged.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", default=str(ROOT / "sweeps" / "cpu-isoflop.toml"))
    ap.add_argument("--budget", default="largest", help="'largest' (default), 'all', or a budget, e.g. 1e14")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=6.0, help="training time per size (about)")
    ap.add_argument("--device", default=None, help="override the spec's device (cpu, cuda)")
    ap.add_argument("--dtype", default=None, choices=["fp32", "bf16"], help="override the spec's dtype")
    ap.add_argument("--corpus", default=None, help="override the spec's corpus (e.g. stdlib)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--compile", action="store_true", help="torch.compile the model (GPUs)")
    ap.add_argument("--largest-only", action="store_true", help="time only the largest size")
    args = ap.parse_args()

    import torch

    from scaling.sweep import load_spec
    from scaling.train.devices import measure_matmul_flops, resolve_device
    from scaling.train.loop import train
    from scaling.train.tokens import prepare
    from scaling.units import si

    torch.set_num_threads(args.threads)
    spec = load_spec(args.spec)
    configs = [c for c in spec.expand() if c.seed == spec.seeds[0]]
    budgets = sorted({c.budget for c in configs if c.budget is not None})
    if args.budget == "largest" and budgets:
        configs = [c for c in configs if c.budget == budgets[-1]]
    elif args.budget not in ("all", "largest"):
        configs = [c for c in configs if c.budget == float(args.budget)]
    shapes = {}
    for c in sorted(configs, key=lambda c: c.param_counts()["total"]):
        shapes.setdefault((c.n_layer, c.d_model), c)
    if args.largest_only:
        shapes = dict([list(shapes.items())[-1]])
    over = {
        k: v
        for k, v in (("device", args.device), ("dtype", args.dtype), ("corpus", args.corpus), ("compile", args.compile))
        if v
    }
    first = next(iter(shapes.values())).model_copy(update=over)
    device = resolve_device(first.device)
    data = prepare(
        first.corpus,
        first.tokenizer,
        val_fraction=first.val_fraction,
        data_dir=args.data_dir,
        max_bytes=first.corpus_max_bytes,
    )
    n_mm = 8192 if device.type == "cuda" else 1024
    peak_before = measure_matmul_flops(device, first.dtype, n=n_mm, repeats=10)
    print(
        f"{spec.name}: {len(shapes)} sizes, {first.dtype}, {args.threads} thread(s), device {device}, "
        f"context {first.context}; corpus {first.corpus}"
    )
    print(f"{'shape':>10} {'params':>8} {'batch':>6} {'tokens/s':>10} {'6ND FLOP/s':>11} {'model FLOP/s':>13}")
    rows = []
    for (L, d), c in shapes.items():
        c = c.model_copy(update=over)
        # a short run of the real trainer: steps sized to take about --seconds
        probe = c.model_copy(
            update={
                "tokens": 2 * c.tokens_per_step,
                "eval_points": 1,
                "eval_tokens": c.context,
                "final_eval_tokens": c.context,
                "save_model": False,
                "threads": args.threads,
            }
        )
        t = time.perf_counter()
        train(probe, data=data)
        per_step = (time.perf_counter() - t) / 2
        steps = max(3, int(args.seconds / max(per_step, 1e-3)))
        run = probe.model_copy(update={"tokens": steps * c.tokens_per_step})
        res = train(run, data=data)
        rows.append((c, res))
        print(
            f"{L:>4} x {d:<4} {si(res.params):>8} {c.batch_size:>6} {res.tokens_per_s:>10,.0f} "
            f"{res.flops_per_s / 1e9:>8.1f} GF {res.model_flops_per_s / 1e9:>10.1f} GF"
        )
    peak_after = measure_matmul_flops(device, first.dtype, n=n_mm, repeats=10)
    peak = (peak_before + peak_after) / 2
    c, res = rows[-1]
    ratio = res.model_flops_per_s / peak
    print(
        f"matmul {n_mm}^3 {first.dtype}, {args.threads} thread(s): {peak / 1e9:.1f} GFLOP/s "
        f"(before {peak_before / 1e9:.1f}, after {peak_after / 1e9:.1f})"
    )
    if res.peak_source and res.peak_source.startswith("catalogue"):
        print(f"MFU against the catalogue peak ({res.peak_source}): {res.mfu:.1%}")
    print(
        f"largest size {c.n_layer} x {c.d_model} ({si(res.params)} params): model FLOP/s / matmul = {ratio:.2f} "
        f"(6ND count: {res.flops_per_s / peak:.2f}); target >= 0.50: {'PASS' if ratio >= 0.5 else 'FAIL'}"
    )
    if args.budget == "all":
        # the whole sweep at these rates, LPT-scheduled on W one-thread workers (evaluation included:
        # a forward pass costs about a third of a training step)
        tps = {(c.n_layer, c.d_model): r.tokens_per_s for c, r in rows}
        jobs = []
        for c in spec.expand():
            evals = (c.eval_points - 1) * c.eval_tokens + c.final_eval_tokens
            jobs.append((c.trained_tokens + evals / 3) / tps[(c.n_layer, c.d_model)])
        workers = max(1, __import__("os").cpu_count() // args.threads)
        loads = [0.0] * workers
        for j in sorted(jobs, reverse=True):
            loads[loads.index(min(loads))] += j
        print(
            f"estimated sweep time: {max(loads) / 3600:.2f} h on {workers} worker(s) of {args.threads} thread(s) "
            f"({sum(jobs) / 3600:.2f} worker-hours, {len(jobs)} runs)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
