"""Speed of the FLOP and shape arithmetic the planner and `scaling compare` lean on.

Run:  python benchmarks/bench_shapes.py
Each figure is printed beside a reference measured in the same run (machines here are noisy):
- flops_per_token over 100,000 shapes in one call, against one call per shape;
- shape_for_params (the snapped shape search), per call, against one param_counts call;
- smooth_flops_per_token over a planner's 10,000-point array, against one numpy log over it;
- arch_flops (the spline `scaling compare` uses) one N at a time, against the exact count.
The figures the tests once asserted as wall-clock limits (0.5 s, 5 ms per call, 0.1 s) are printed
as targets here instead.
"""

from __future__ import annotations

import time

import numpy as np

from scaling.flops import flops_per_token, param_counts
from scaling.planner.multiplier import arch_flops
from scaling.shapes import shape_for_params, smooth_flops_per_token

V = 50257


def _best(fn, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    L = rng.integers(1, 100, 100_000)
    d = 64 * rng.integers(1, 100, 100_000)
    vec = _best(lambda: flops_per_token(L, d, 2048, V, convention="chinchilla"))
    one = (
        _best(
            lambda: [
                flops_per_token(int(a), int(b), 2048, V, convention="chinchilla") for a, b in zip(L[:1000], d[:1000])
            ],
            2,
        )
        / 1000
    )
    print(
        f"flops_per_token, 100,000 shapes in one call: {vec * 1e3:7.1f} ms  "
        f"({one * 1e5 / vec:.0f}x faster than one call per shape; target < 500 ms: "
        f"{'OK' if vec < 0.5 else 'MISSED'})"
    )

    shape_for_params(1e9)
    targets = np.logspace(5, 12, 200)
    search = _best(lambda: [shape_for_params(t, non_embedding=True) for t in targets], 2) / 200
    ref = _best(lambda: [param_counts(24, 1024, V) for _ in range(200)], 2) / 200
    print(
        f"shape_for_params, per call:                  {search * 1e3:7.2f} ms  "
        f"({search / ref:.0f}x one param_counts call; target < 5 ms: {'OK' if search < 0.005 else 'MISSED'})"
    )

    N = np.logspace(6, 13, 10_000)
    smooth = _best(lambda: smooth_flops_per_token(N, convention="chinchilla"))
    ref = _best(lambda: np.log(N))
    print(
        f"smooth_flops_per_token, 10,000 N:            {smooth * 1e3:7.2f} ms  "
        f"({smooth / ref:.0f}x one np.log over them; target < 100 ms: {'OK' if smooth < 0.1 else 'MISSED'})"
    )

    f = arch_flops(mixer="hyena", context=1024, vocab=256)
    xs = [np.array([n]) for n in np.geomspace(1e4, 1e9, 300)]
    fast = _best(lambda: [f(x) for x in xs], 3) / 300
    exact = _best(lambda: [f.exact(x) for x in xs], 3) / 300
    print(
        f"arch_flops, one N at a time (spline):        {fast * 1e6:7.1f} us  "
        f"({exact / fast:.0f}x faster than the exact count, {exact * 1e6:.0f} us)"
    )


if __name__ == "__main__":
    main()
