"""Residuals grouped by a column (scaling fit --score FIT --by COL): per-group offsets with intervals
over independent units (trunks), and a test that keeps its size when there are no offsets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scaling.errors import ScalingError
from scaling.fit import fit
from scaling.fit.holdout import score_runs
from scaling.fit.residual_groups import group_residuals
from scaling.fit.synthetic import simulate_runs


def branched_table(rng, offsets, trunks=3, branches=4, trunk_sd=0.02, run_sd=0.003):
    """Residuals of a branched sweep: per size a true offset, per trunk a shared deviation, per run a little."""
    rows, res = [], []
    for size, off in offsets.items():
        for t in range(trunks):
            dev = rng.normal(0, trunk_sd)
            for b in range(branches):
                rows.append({"run_id": f"{size}-t{t}-b{b}", "params": size, "trunk": f"trunk-{size}-s{t}"})
                res.append(off + dev + rng.normal(0, run_sd))
    return pd.DataFrame(rows), np.array(res)


def test_an_offset_group_is_found_and_trunks_are_the_units():
    rng = np.random.default_rng(0)
    table, r = branched_table(rng, {1e5: 0.0, 2e5: 0.0, 4e5: -0.06, 8e5: 0.0})
    out = group_residuals(table, r, ["params"])
    assert out.unit == "trunk" and [g.units for g in out.groups] == [3, 3, 3, 3]
    assert [g.runs for g in out.groups] == [12, 12, 12, 12]
    off = next(g for g in out.groups if g.group == "params=400000")
    assert off.high < 0 and off.low < -0.06 < off.high
    assert out.df == (4, 8) and out.p_value < 0.01
    text = out.summary()
    assert "params=400000" in text and "unit: one trunk" in text and "F = " in text


def test_without_offsets_the_test_keeps_its_size():
    """Shared trunk deviations make branches agree with each other: counted as runs they would make
    groups look significant; counted as trunks, p < 0.05 in about 5% of null data sets."""
    rng = np.random.default_rng(1)
    ps, naive = [], []
    for _ in range(300):
        table, r = branched_table(rng, {1e5: 0.0, 2e5: 0.0, 4e5: 0.0, 8e5: 0.0})
        ps.append(group_residuals(table, r, ["params"]).p_value)
        naive.append(group_residuals(table.drop(columns="trunk"), r, ["params"]).p_value)
    assert 0.02 <= np.mean(np.array(ps) < 0.05) <= 0.09
    assert np.mean(np.array(naive) < 0.05) > 0.5  # runs as units: the trunk noise reads as offsets


def test_groups_without_trunks_and_with_one_unit():
    table = pd.DataFrame({"run_id": ["a", "b", "c"], "params": [1.0, 2.0, 3.0], "lr": [0.0019786458123712, 3e-3, 3e-3]})
    out = group_residuals(table, [0.01, -0.02, 0.0], ["params"])
    assert out.unit == "run" and out.p_value is None and all(g.low is None for g in out.groups)
    assert "not tested" in out.summary()
    # two columns; a rate prints with 6 significant digits
    labels = [g.group for g in group_residuals(table, [0.01, -0.02, 0.0], ["lr", "params"]).groups]
    assert labels == ["lr=0.00197865, params=1", "lr=0.003, params=2", "lr=0.003, params=3"]


def test_errors_name_the_column_and_row():
    table = pd.DataFrame({"run_id": ["a", "b"], "params": [1.0, None]})
    with pytest.raises(ScalingError, match="no column 'width'"):
        group_residuals(table, [0.0, 0.0], ["width"])
    with pytest.raises(ScalingError, match=r"'params' is empty in row 1 \(b\)"):
        group_residuals(table, [0.0, 0.0], ["params"])
    with pytest.raises(ScalingError, match="name a column"):
        group_residuals(table, [0.0, 0.0], [" "])


def test_score_runs_by_column_and_the_cli(tmp_path, capsys):
    from scaling.cli import main

    runs = simulate_runs(seed=3, noise=0.01)
    runs["trunk"] = None
    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)
    saved = tmp_path / "fit.json"
    fit(runs).save(saved)
    scores = score_runs(str(saved), str(path), by=["params"])
    assert scores.groups is not None and scores.groups.unit == "run"
    assert sum(g.runs for g in scores.groups.groups) == scores.n
    assert main(["fit", "--score", str(saved), str(path), "--by", "params"]) == 0
    assert "residuals by params" in capsys.readouterr().out
    assert main(["fit", str(path), "--by", "params"]) != 0
    assert "--by groups the residuals of --score" in capsys.readouterr().err
