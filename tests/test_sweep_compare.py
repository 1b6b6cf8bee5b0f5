"""`sweep compare`'s summary by point (torch-free; the pairing itself is tested on trained runs in
tests/test_branches.py)."""

import numpy as np
import pandas as pd
import pytest

from scaling.sweep.compare import SweepComparison


def _comparison(pairs):
    """pairs: (shape, params, tokens, seed, loss_cosine, loss_wsd)."""
    t = pd.DataFrame(pairs, columns=["shape", "params", "tokens", "seed", "loss_cosine", "loss_wsd"])
    t["run_id"] = [f"{s}-D{d}-s{k}" for s, d, k in zip(t["shape"], t["tokens"], t["seed"])]
    t["rel_diff"] = t["loss_wsd"] / t["loss_cosine"] - 1
    return SweepComparison(t, "cosine", "wsd", 1.0, 0.8)


def test_points_average_their_seed_pairs():
    """A point's pairs share initialisation and data order per seed; its mean over seeds is what the
    comparison's targets (mean absolute, largest) are about once several seeds are in."""
    res = _comparison(
        [
            ("1x32", 20576, 4505600, 0, 2.0, 1.9),  # -5%
            ("1x32", 20576, 4505600, 1, 2.0, 2.02),  # +1%
            ("1x32", 20576, 4505600, 2, 2.0, 1.96),  # -2%
            ("2x48", 67824, 45023232, 0, 1.6, 1.6016),  # +0.1%
            ("2x48", 67824, 45023232, 1, 1.6, 1.5968),  # -0.2%
        ]
    )
    pts = res.by_point()
    assert list(pts["seeds"]) == [3, 2]
    assert pts["rel_diff"].to_numpy() == pytest.approx([-0.02, -0.0005], abs=1e-12)
    text = res.summary()
    assert "2 points, each the mean of its 2-3 seed pairs: mean -1.025%" in text
    assert "mean absolute 1.025%, largest 2.000% (1x32 at 4.506e+06 tokens, 3 seeds)" in text
    half = 12.706204736 * np.std([-0.02, -0.0005], ddof=1) / 2**0.5
    assert f"95% interval {-0.01025 - half:+.2%} to {-0.01025 + half:+.2%}, t over the points" in text
    # one seed per point: the pairs are the points, no second line
    single = _comparison([("1x32", 20576, 4505600, 0, 2.0, 1.9), ("2x48", 67824, 45023232, 0, 1.6, 1.6)])
    assert "seed pairs" not in single.summary() and list(single.by_point()["seeds"]) == [1, 1]
