"""Planner speed: cold-start `scaling plan 1e21` beside `python -c pass`, the Hyena size query beside
`scaling plan 1e21`, and 1e6 budgets via the API.

Run:  python benchmarks/bench_plan.py [--repeats 15]
Targets (issue 2): median cold start <= 0.5 s; 1e6 budgets through the Python API < 0.5 s.
Target (issue 16): `scaling plan --params 1e9 --mixer hyena --context 2048 --convention palm` (the
budget whose palm-counted Hyena optimum is 1B parameters: an inverse of a numeric frontier) within
2x the time of `scaling plan 1e21`, both cold, measured in the same run.
Sample searches: a bootstrap fit re-planned under palm FLOPs for Hyena (every sample's optimum) and a
Hyena-over-attention comparison with palm-counted sides, each against the per-sample loop it replaced,
in the same process (`python benchmarks/bench_plan.py --samples`).
Figures are printed as ratios against a reference measured in the same run (machines here are noisy).
"""

from __future__ import annotations

import argparse
import importlib
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
    ap.add_argument("--samples", action="store_true", help="only the bootstrap-sample searches")
    args = ap.parse_args()
    if args.samples:
        samples()
        return

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


def samples() -> None:
    """Every bootstrap sample searched at once against one sample at a time (the committed Hyena and
    attention fits of the CPU sweep, 1,000 samples each)."""
    import warnings
    from pathlib import Path
    from unittest import mock

    import scaling.planner.multiplier as M
    from scaling.laws.registry import load_law

    F = importlib.import_module("scaling.planner.frontier")  # the module (the package exports a function of its name)

    data = Path(__file__).resolve().parents[1] / "data"
    att = load_law(data / "arch-cpu-attention-fit-approach3.json")
    hye = load_law(data / "arch-cpu-hyena-fit-approach3.json")
    a = F.arch(vocab=256, context=1024, mixer="hyena")

    def loop():
        for s in hye.sample_laws():
            F.frontier(s, 2e13, convention="palm", **a)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        F.sample_frontiers(hye, 2e13, "palm", a)
        t_fast = time.perf_counter() - t
        t = time.perf_counter()
        loop()
        t_loop = time.perf_counter() - t
        print(
            f"palm optimum of {len(hye.samples)} samples: {t_fast * 1e3:7.1f} ms at once, "
            f"{t_loop * 1e3:7.1f} ms one by one ({t_loop / t_fast:.0f}x)"
        )
        fa = M.arch_flops(mixer="attention", context=1024, vocab=256, convention="palm")
        fb = M.arch_flops(mixer="hyena", context=1024, vocab=256, convention="palm")
        t = time.perf_counter()
        M.compute_multiplier(att, hye, flops=1e13, flops_per_token_a=fa, flops_per_token_b=fb)
        t_fast = time.perf_counter() - t
        with mock.patch.object(M, "_stack", lambda laws: None):
            t = time.perf_counter()
            M.compute_multiplier(att, hye, flops=1e13, flops_per_token_a=fa, flops_per_token_b=fb)
            t_loop = time.perf_counter() - t
        print(
            f"compute multiplier over the samples: {t_fast * 1e3:7.1f} ms at once, {t_loop * 1e3:7.1f} ms one by one "
            f"({t_loop / t_fast:.0f}x)"
        )


if __name__ == "__main__":
    main()
