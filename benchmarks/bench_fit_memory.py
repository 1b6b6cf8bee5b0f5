"""Benchmark: peak memory and time of `scaling fit` on large runs tables (Approach 3 and VP).

Each fit runs as its own process (``python -m scaling fit table.csv --method M``), exactly as a
user runs it, on a synthetic table drawn from the Epoch 2024 law (isoFLOP design, log-normal seed
noise 0.005): the peak resident memory of that process (``os.wait4``'s ``ru_maxrss``) and its wall
time are reported. The same-run reference is the same command on a 240-run table: memory is
reported as the growth over that fit and per run, time as a ratio to it, so the figures do not
depend on the interpreter's start-up footprint or on the machine's speed.

Target: 100,000 runs within 2 GB for both methods (``--method vp`` fits the Approach 3 surface
too, for its comparison). Each child gets an address-space limit (``--max-gb``, default 8) so
that a regression is reported as a MemoryError instead of the kernel's OOM killer hitting a
shared machine.

    .venv/bin/python benchmarks/bench_fit_memory.py                   # 10k and 100k rows, both methods
    .venv/bin/python benchmarks/bench_fit_memory.py --rows 10000 --methods approach3
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic_table(n_rows: int, path: Path, seed: int = 0) -> int:
    """Write about ``n_rows`` runs (isoFLOP lines of up to 1,000 sizes each) to ``path``; returns the count."""
    from scaling.fit.synthetic import simulate_runs

    n_budgets = max(8, int(np.ceil(n_rows / 1000)))
    per = int(np.ceil(n_rows / n_budgets))
    df = simulate_runs(budgets=np.geomspace(6e18, 3e21, n_budgets), n_per_budget=per, noise=0.005, seed=seed)
    df = df.iloc[:n_rows].copy()
    df["run_id"] = [f"run{i}" for i in range(len(df))]  # the simulator's names repeat at this density
    df.to_csv(path, index=False)
    return len(df)


def run_fit(table: Path, method: str, max_gb: float, out: Path) -> dict:
    """`scaling fit` in a child process: wall time, peak RSS (bytes), exit status, last stderr line."""

    def limit():  # an allocation past the limit is a MemoryError in the child, not an OOM kill
        cap = int(max_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        os.nice(10)

    cmd = [sys.executable, "-m", "scaling", "fit", str(table), "--method", method, "--json"]
    t0 = time.perf_counter()
    with open(out, "wb") as so, tempfile.TemporaryFile() as se:
        p = subprocess.Popen(cmd, stdout=so, stderr=se, cwd=ROOT, preexec_fn=limit)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        se.seek(0)
        err = se.read().decode(errors="replace").strip().splitlines()
    return {
        "wall": wall,
        "rss": ru.ru_maxrss * 1024,
        "rc": os.waitstatus_to_exitcode(status),
        "err": err[-1] if err else "",
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000], help="table sizes (default 10k 100k)")
    ap.add_argument("--methods", nargs="+", default=["approach3", "vp"], help="fit methods (default approach3 vp)")
    ap.add_argument("--max-gb", type=float, default=8.0, help="address-space limit of each fit (default 8 GB)")
    args = ap.parse_args(argv)

    print(f"machine: {os.cpu_count()} cores, load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ref_table = tmp / "runs-240.csv"
        synthetic_table(240, ref_table)
        for method in args.methods:
            ref = run_fit(ref_table, method, args.max_gb, tmp / "ref.json")
            if ref["rc"] != 0:
                print(f"{method}: the 240-run reference fit failed (exit {ref['rc']}): {ref['err']}")
                continue
            print(f"\n{method}: reference, 240 runs: {ref['wall']:.2f} s, peak RSS {ref['rss'] / 2**20:.0f} MB")
            for n in args.rows:
                table = tmp / f"runs-{n}.csv"
                if not table.exists():
                    n = synthetic_table(n, table)
                r = run_fit(table, method, args.max_gb, tmp / "fit.json")
                grow = r["rss"] - ref["rss"]
                status = "ok" if r["rc"] == 0 else f"FAILED (exit {r['rc']}: {r['err'][:160]})"
                target = (
                    ""
                    if n < 100_000
                    else (
                        "  (target <= 2 GB: met)"
                        if r["rss"] <= 2 * 2**30 and r["rc"] == 0
                        else "  (target <= 2 GB: NOT MET)"
                    )
                )
                print(
                    f"  {n:>7,} runs: {status}; {r['wall']:.1f} s ({r['wall'] / ref['wall']:.1f}x the 240-run fit), "
                    f"peak RSS {r['rss'] / 2**20:,.0f} MB (+{grow / 2**20:,.0f} MB over the reference, "
                    f"{grow / n / 1024:.1f} KB per run){target}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
