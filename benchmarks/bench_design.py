"""Sweep design against a uniform grid, in simulation with a known law (the full version of
tests/test_design.py::test_suggested_design_beats_uniform_grid_in_simulation).

Each trial: a team has run a 3-budget x 5-size isoFLOP sweep (1e17, 3e17, 1e18 FLOPs, sizes 1/4..4x
the true optimum) whose losses come from the Epoch-2024 Chinchilla fit with log-normal seed noise.
It fits Approach 3 with a bootstrap and has ``--allowance`` FLOPs more to spend, either on the runs
``scaling suggest`` proposes or on a uniform isoFLOP grid (3 budgets a factor 2 apart x 5 sizes,
scaled to the same compute). Both enlarged tables are refitted with their own bootstrap; the
width of the 95% interval of the target (the exponent a, or the log loss at 1e22 FLOPs) is compared.

Run:  python benchmarks/bench_design.py [--trials 20] [--boot 200] [--noise 0.005 0.01] [--objective a loss]
Prints per-setting medians and how often the suggested design gave the narrower interval.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from scaling.laws import get_law
from scaling.sweep.suggest import theta_of
from scaling.sweep.suggest_sim import simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--noise", type=float, nargs="+", default=[0.005, 0.01])
    ap.add_argument("--objective", nargs="+", default=["a", "loss"], choices=["a", "loss"])
    ap.add_argument("--allowance", type=float, default=1e19)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    truth = theta_of(get_law("epoch-2024"))
    print(
        f"truth: epoch-2024 (a = {truth[4] / (truth[3] + truth[4]):.4f}); initial sweep 1e17/3e17/1e18 x 5 sizes; "
        f"allowance {args.allowance:.3g} FLOPs; {args.trials} trials x {args.boot} bootstrap resamples"
    )
    print(
        f"{'objective':>9}  {'noise':>6}  {'initial':>9}  {'suggested':>9}  {'grid':>9}  {'ratio':>6}  "
        f"{'suggested narrower':>18}  {'time':>6}",
        flush=True,
    )
    for obj in args.objective:
        for noise in args.noise:
            t = time.perf_counter()
            r = simulate(
                truth,
                n_trials=args.trials,
                n_boot=args.boot,
                seed=args.seed,
                noise=noise,
                allowance=args.allowance,
                objective=obj,
                target=1e22,
            )
            dt = time.perf_counter() - t
            ws, wg = r["median_width_suggested"], r["median_width_grid"]
            print(
                f"{obj:>9}  {noise:6.3f}  {r['median_width_initial']:9.4f}  {ws:9.4f}  {wg:9.4f}  "
                f"{ws / wg:6.2f}  {r['suggested_narrower']:>11d} / {r['n_trials']:<4d}  {dt:5.0f}s"
            )
            mean_s = np.mean([x["width_suggested"] for x in r["trials"]])
            mean_g = np.mean([x["width_grid"] for x in r["trials"]])
            print(
                f"{'':>9}  {'':>6}  mean widths: suggested {mean_s:.4f}, grid {mean_g:.4f}; "
                f"runs: suggested {np.mean([x['n_suggested'] for x in r['trials']]):.1f}, grid 15",
                flush=True,
            )


if __name__ == "__main__":
    main()
