"""Planner speed: cold-start `scaling plan 1e21` beside `python -c pass`, the Hyena size query beside
`scaling plan 1e21`, and 1e6 budgets via the API.

Run:  python benchmarks/bench_plan.py [--repeats 15]
Targets (issue 2): median cold start <= 0.5 s; 1e6 budgets through the Python API < 0.5 s.
Target (issue 16): `scaling plan --params 1e9 --mixer hyena --context 2048 --convention palm` (the
budget whose palm-counted Hyena optimum is 1B parameters: an inverse of a numeric frontier) within
2x the time of `scaling plan 1e21`, both cold, measured in the same run.
Figures are printed as ratios against a reference measured in the same run (machines here are noisy).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np


def _median_time(cmd: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()

    exe = shutil.which("scaling")
    cmd = [exe, "plan", "1e21"] if exe else [sys.executable, "-m", "scaling", "plan", "1e21"]
    base = _median_time([sys.executable, "-c", "pass"], args.repeats)
    cold = _median_time(cmd, args.repeats)
    print(f"python -c pass         median {base * 1e3:7.1f} ms")
    print(
        f"{' '.join(cmd[-3:]):<22} median {cold * 1e3:7.1f} ms  ({cold / base:.1f}x python start-up; "
        f"target <= 500 ms: {'OK' if cold <= 0.5 else 'MISSED'})"
    )

    hyena = cmd[:-1] + ["--params", "1e9", "--mixer", "hyena", "--context", "2048", "--convention", "palm"]
    t_h = _median_time(hyena, args.repeats)
    print(
        f"{'scaling plan --params 1e9 --mixer hyena --context 2048 --convention palm':<22} median {t_h * 1e3:7.1f} ms  "
        f"({t_h / cold:.2f}x `scaling plan 1e21`; target <= 2x: {'OK' if t_h <= 2 * cold else 'MISSED'})"
    )

    from scaling.planner import plan_table

    C = np.logspace(18, 26, 1_000_000)
    plan_table(C[:10])  # warm imports
    ref = np.empty_like(C)
    t = time.perf_counter()
    np.multiply(C, 6.0, out=ref)  # reference: one elementwise numpy pass over the same array
    t_ref = time.perf_counter() - t
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        df = plan_table(C, law="chinchilla-2022")
        t_api = time.perf_counter() - t
    assert len(df) == len(C)
    print(
        f"plan_table(1e6 budgets) {t_api * 1e3:7.1f} ms  ({t_api / t_ref:.0f}x one numpy multiply; "
        f"target < 500 ms: {'OK' if t_api < 0.5 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
