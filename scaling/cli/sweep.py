"""``scaling sweep run|status|collect|show SPEC``: train, inspect and tabulate a sweep of small models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._io import atomic_write_text, check_writable
from ..errors import ScalingError
from ..units import si
from . import grow


def register(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="run a sweep of small transformers (isoFLOP, grid, list) and collect its runs table",
        description="Train the runs of a sweep spec (sweeps/*.toml) into the run store "
        "<root>/<sweep>/<run_id>/, resumably: finished runs are skipped, unfinished ones resume "
        "from their checkpoint, diverged ones are recorded as failed.",
        epilog="Example: scaling sweep run sweeps/smoke.toml && scaling sweep collect sweeps/smoke.toml "
        "--out runs.csv && scaling fit runs.csv",
    )
    ssub = p.add_subparsers(dest="action", metavar="ACTION")
    ssub.required = True

    def common(q):
        q.add_argument("spec", help="sweep specification (TOML)")
        q.add_argument("--root", default="data/runs", help="run store root (default data/runs)")

    r = ssub.add_parser("run", help="train every unfinished run of the spec")
    common(r)
    r.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local: this machine (in sequence or a process pool); ray: one Ray task per run",
    )
    r.add_argument(
        "--workers",
        type=_positive_int("--workers"),
        default=None,
        help="runs at a time (local default: one per core on CPU, one on a GPU)",
    )
    r.add_argument(
        "--threads",
        type=_positive_int("--threads"),
        default=None,
        help="torch threads per run (default: cores // workers)",
    )
    r.add_argument(
        "--address",
        default=None,
        help="Ray cluster address: auto (an existing cluster), local (start one here), or host:port",
    )
    r.add_argument("--data-dir", default=None, help="corpus and token cache root (default $SCALING_DATA_DIR or data)")
    r.add_argument("--only", nargs="+", default=None, metavar="RUN_ID", help="train only these runs")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.set_defaults(func=run_run)

    s = ssub.add_parser("status", help="state of every run of the spec (ok, failed, partial, pending, stale, corrupt)")
    common(s)
    s.set_defaults(func=run_status)

    c = ssub.add_parser(
        "collect",
        help="write the runs table (finished runs) for the fitter; several specs make one table (run ids "
        "prefixed with their sweep where two sweeps share one)",
    )
    c.add_argument("spec", nargs="+", help="sweep specification(s) (TOML)")
    c.add_argument("--root", default="data/runs", help="run store root (default data/runs)")
    c.add_argument("--out", required=True, help="CSV file to write")
    c.add_argument("--include-failed", action="store_true", help="keep failed (diverged) runs, status 'failed'")
    c.add_argument("--curves", default=None, help="also write every evaluation of every run to this CSV")
    c.add_argument(
        "--include-stale",
        action="store_true",
        help="keep runs whose config.json no longer matches the spec (left out by default)",
    )
    c.set_defaults(func=run_collect)

    k = ssub.add_parser(
        "compare",
        help="pair the runs of two sweeps (same shape, tokens, seed) and compare "
        "their losses and the compute each spent (e.g. cosine against branched WSD)",
    )
    k.add_argument(
        "specs",
        nargs="+",
        metavar="SPEC",
        help="sweep specs (TOML): the last is side B, the ones before it side A (their runs pooled)",
    )
    k.add_argument(
        "--best",
        action="store_true",
        help="where side A has several runs of one model, tokens and seed (say, other learning rates), "
        "keep the lowest loss",
    )
    k.add_argument(
        "--same-lr",
        action="store_true",
        help="pair runs only at the same peak learning rate (a learning-rate probe against its rerun, or "
        "against the sweep whose 1x runs it repeats)",
    )
    k.add_argument(
        "--min-steps",
        type=int,
        default=0,
        help="compare only runs of at least this many optimizer steps (side B's count)",
    )
    k.add_argument("--root", default="data/runs", help="run store root (default data/runs)")
    k.add_argument(
        "--root-b",
        default=None,
        help="side B's run store root (default --root): the same spec rerun elsewhere (another machine, "
        "a refetched corpus) against its first runs",
    )
    k.add_argument("--out", default=None, help="write the paired table to this CSV")
    k.set_defaults(func=run_compare)

    v = ssub.add_parser("show", help="list the runs a spec expands to (nothing is trained)")
    common(v)
    v.set_defaults(func=run_show)


def _positive_int(what: str):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if v < 1:
            raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
        return v

    parse.__name__ = what
    return parse


def run(args) -> int:  # pragma: no cover - dispatch is through set_defaults
    return args.func(args)


def run_run(args) -> int:
    # the sweep package (70 modules: tqdm, asyncio) is imported by the commands that use it, off start-up
    from ..sweep import GrowthSpecGiven, load_spec, run_sweep

    try:
        spec = load_spec(args.spec)
    except GrowthSpecGiven:
        # a growth experiment is a sweep too: hand it to `scaling grow run` with the same options
        if args.executor != "local" or args.only:
            raise
        print(f"scaling sweep: {args.spec} is a growth experiment; running it as `scaling grow run`", file=sys.stderr)
        args.law, args.calibration_out, args.dry_run = None, None, False
        return grow.run_run(args)
    report = run_sweep(
        spec,
        args.root,
        executor=args.executor,
        workers=args.workers,
        threads=args.threads,
        address=args.address,
        data_dir=args.data_dir,
        progress=not args.no_progress,
        only=args.only,
        source=args.spec,
    )
    print(report.summary())
    return 1 if report.errors else 0


def run_status(args) -> int:
    from ..sweep import load_spec, sweep_status  # off start-up (see run_run)

    spec = load_spec(args.spec)
    df = sweep_status(spec, args.root)
    counts = df["state"].value_counts().to_dict()
    states = ["ok", "failed", "partial", "pending"] + [k for k in ("stale", "corrupt") if counts.get(k)]
    print(
        f"sweep {spec.name} ({args.root}/{spec.name}): {len(df)} runs, "
        + ", ".join(f"{counts.get(k, 0)} {k}" for k in states)
    )
    if counts.get("stale"):
        print(
            f"  {counts['stale']} stale run(s): trained with another configuration than the spec's; `sweep collect` "
            "leaves them out (--include-stale keeps them) and `sweep run` refuses them: use another sweep name or "
            "root, or delete their directories"
        )
    for _, r in df.iterrows():
        done = (
            ""
            if r["done_tokens"] is None or r["done_tokens"] != r["done_tokens"]
            else f"{si(float(r['done_tokens']))}/"
        )
        loss = "" if r["loss"] is None or r["loss"] != r["loss"] else f"loss {r['loss']:.4f}"
        print(
            f"  {r['run_id']:<34} {r['state']:<8} {si(r['params']):>7} params  {done}{si(r['tokens'])} tokens  "
            f"{loss}{'  ' + r['reason'] if r['reason'] else ''}"
        )
    return 0


def run_collect(args) -> int:
    import pandas as pd

    from ..store import CollectReport, collect, collect_curves  # off start-up (see run_run)
    from ..sweep import load_spec

    specs = [load_spec(p) for p in args.spec]
    names = [sp.name for sp in specs]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ScalingError(f"sweep collect: sweep {dup!r} given twice")
    for out in (args.out, args.curves):
        if out:
            check_writable(out)
    tables, curves, notes = [], [], []
    for spec in specs:
        sweep_dir = Path(args.root) / spec.name
        expected = {c.run_id: c for c in spec.expand()}
        rep = CollectReport()
        every = collect(sweep_dir, include_failed=True, expected=expected, include_stale=args.include_stale, report=rep)
        df = every if args.include_failed else every[every["status"] == "ok"].reset_index(drop=True)
        if args.curves:
            curves.append(
                collect_curves(
                    sweep_dir,
                    include_failed=args.include_failed,
                    expected=expected,
                    include_stale=args.include_stale,
                    report=rep,
                )
            )
        tables.append(df)
        where = f" in {spec.name}" if len(specs) > 1 else ""
        n_failed = int((every["status"] == "failed").sum())
        if n_failed and not args.include_failed:
            notes.append(f"{n_failed} failed run(s){where} left out; --include-failed keeps them")
        if rep.stale:
            verb = "kept (--include-stale)" if args.include_stale else "left out; --include-stale keeps them"
            notes.append(f"{len(rep.stale)} stale run(s){where} {verb}")
        if rep.corrupt:
            notes.append(f"{len(set(rep.corrupt))} corrupt run file(s){where} left out")
        for rid, fields in sorted(rep.stale.items()):
            why = (
                fields[0]
                if fields == ["not in the spec"]
                else "its config.json differs from the spec in " + ", ".join(fields)
            )
            print(f"scaling sweep: warning: {sweep_dir / rid} is stale: {why}", file=sys.stderr)
        for msg in dict.fromkeys(rep.corrupt):
            print(f"scaling sweep: warning: {msg}", file=sys.stderr)
        if len(df) == 0:
            print(f"scaling sweep: warning: no finished runs under {sweep_dir}", file=sys.stderr)
    df = tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
    cur = None if not args.curves else (curves[0] if len(curves) == 1 else pd.concat(curves, ignore_index=True))
    if len(tables) > 1 and df["run_id"].duplicated().any():
        # the sweeps share run ids (same shapes and tokens): name each run by its sweep
        df["run_id"] = df["sweep"].astype(str) + "/" + df["run_id"].astype(str)
        if cur is not None and "sweep" in cur.columns:
            cur["run_id"] = cur["sweep"].astype(str) + "/" + cur["run_id"].astype(str)
        notes.append("run ids prefixed with their sweep (the sweeps share ids)")
    atomic_write_text(args.out, df.to_csv(index=False))
    if cur is not None:
        atomic_write_text(args.curves, cur.to_csv(index=False))
    print(f"wrote {len(df)} runs to {args.out}" + (f" ({'; '.join(notes)})" if notes else ""))
    if cur is not None:
        print(f"wrote {len(cur)} evaluations of {cur['run_id'].nunique() if len(cur) else 0} runs to {args.curves}")
    return 0


def run_compare(args) -> int:
    from ..sweep import load_spec  # off start-up (see run_run)
    from ..sweep.compare import compare_sweeps  # pulls in scipy: 630 modules

    if len(args.specs) < 2:
        raise ScalingError("sweep compare: give at least two specs (side A, then side B)")
    *a, b = [load_spec(p) for p in args.specs]
    res = compare_sweeps(
        [Path(args.root) / s.name for s in a],
        Path(args.root_b or args.root) / b.name,
        out=args.out,
        best=args.best,
        min_steps=args.min_steps,
        same_lr=args.same_lr,
    )
    cols = ["run_id", "params", "tokens", f"loss_{res.label_a}", f"loss_{res.label_b}", "rel_diff"]
    if args.best:
        cols[3:3] = [f"lr_{res.label_a}", f"tried_{res.label_a}"]
    print(res.table[cols].to_string(index=False, float_format=lambda x: f"{x:.6g}"))
    print(res.summary())
    if args.out:
        print(f"wrote {len(res.table)} rows to {args.out}")
    return 0


def run_show(args) -> int:
    from ..sweep import check_memory, jobs_of, load_spec  # off start-up (see run_run)

    spec = load_spec(args.spec)
    configs, origins = spec.expand_with_origins()
    check_memory(spec, configs, origins, source=args.spec)  # a model that cannot fit here is an error
    total = sum(c.flops_per_token() * c.trained_tokens for c in configs)
    print(
        f"sweep {spec.name} ({spec.kind}): {len(configs)} runs, {total:.3g} training FLOPs "
        f"({spec.flops_convention}), corpus {spec.data.corpus}, tokenizer {spec.model.tokenizer}"
    )
    if any(c.trunk for c in configs):
        spent = sum(
            job[0].flops_per_token() * job[0].tokens_per_step * max(c.decay_start for c in job)
            + sum(c.flops_per_token() * c.tokens_per_step * (c.steps - c.decay_start) for c in job)
            if job[0].trunk
            else job[0].flops_per_token() * job[0].trained_tokens
            for job in jobs_of(configs)
        )
        n_trunks = len({c.trunk for c in configs if c.trunk})
        print(
            f"branched WSD: {n_trunks} trunks; the sweep computes {spent:.3g} FLOPs ({spent / total:.0%} of "
            "the runs trained one by one)"
        )
    for c in configs:
        pc = c.param_counts()
        print(
            f"  {c.run_id:<34} {c.n_layer:>3} x {c.d_model:<5} heads {c.n_head:<3} {si(pc['total']):>7} params  "
            f"{si(c.trained_tokens):>7} tokens ({c.trained_tokens / pc['total']:.1f}/param)  "
            f"batch {c.batch_size} x {c.context}, {c.steps} steps, lr {c.lr:.3g}"
        )
    return 0
