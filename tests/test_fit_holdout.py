"""Held-out comparison between law forms."""

import math

import numpy as np
import pandas as pd
import pytest

from scaling.errors import ScalingError
from scaling.fit.holdout import compare_forms, format_comparison, split_runs
from scaling.laws import ChinchillaLaw
from scaling.runs import load_runs


def chinchilla_runs(n=80, noise=0.003, seed=0):
    rng = np.random.default_rng(seed)
    law = ChinchillaLaw(1.82, 482.0, 2085.4, 0.348, 0.366)
    N = np.exp(rng.uniform(math.log(1e7), math.log(5e9), n))
    D = N * np.exp(rng.uniform(math.log(5), math.log(200), n))
    L = law.loss(N, D) * np.exp(noise * rng.standard_normal(n))
    return pd.DataFrame(
        {"run_id": [f"r{i}" for i in range(n)], "params": N, "tokens": D, "flops": 6 * N * D, "loss": L}
    ), law


def true_law(runs):
    return ChinchillaLaw(1.82, 482.0, 2085.4, 0.348, 0.366)


def test_split():
    runs, _ = chinchilla_runs()
    train, test = split_runs(runs, "1e19")
    assert (train["flops"] < 1e19).all() and (test["flops"] >= 1e19).all()
    assert len(train) + len(test) == len(runs)
    with pytest.raises(ScalingError, match="no runs at or above"):
        split_runs(runs, 1e40)
    with pytest.raises(ScalingError, match="no runs below"):
        split_runs(runs, 1)


def test_compare_forms_ranks_the_true_form_first():
    runs, _ = chinchilla_runs()
    thr = float(np.quantile(runs["flops"], 0.7))
    table = compare_forms(runs, thr, methods=("kaplan", true_law))
    assert list(table["method"]) == ["kaplan", "true_law"]
    row = table.set_index("method")
    assert row.loc["true_law", "rmse_log_loss"] < 0.01
    assert row.loc["true_law", "rmse_log_loss"] < row.loc["kaplan", "rmse_log_loss"]
    assert row.loc["kaplan", "form"] == "kaplan" and row.loc["kaplan", "n_test"] == 24
    preds = table.attrs["predictions"]
    assert {"pred_kaplan", "pred_true_law"} <= set(preds.columns) and len(preds) == 24
    text = format_comparison(table)
    assert "kaplan" in text and "held out: 24 runs" in text


def test_allocation_only_methods_rejected():
    runs, _ = chinchilla_runs()
    with pytest.raises(ScalingError, match="allocation"):
        compare_forms(runs, 1e19, methods=("approach2",))
    table = compare_forms(runs, 1e19, methods=("approach2", "kaplan"), skip_errors=True)
    assert "allocation" in table.loc[0, "error"] and table.loc[1, "error"] == ""


def test_approach3_when_available():
    pytest.importorskip("scaling.fit.approach3")
    runs, _ = chinchilla_runs()
    table = compare_forms(runs, float(np.quantile(runs["flops"], 0.7)), methods=("approach3", "kaplan"))
    row = table.set_index("method")
    assert row.loc["approach3", "rmse_log_loss"] < row.loc["kaplan", "rmse_log_loss"]


def test_gadre_kaplan_holdout_by_size(public_data):
    runs = load_runs(public_data / "gadre2024" / "gadre2024_final_losses.csv", where="dataset == 'rw_original'")
    table = compare_forms(runs, 1e9, methods=("kaplan",), by="params")
    row = table.iloc[0]
    assert row["n_test"] == 3 and row["n_train"] == 32
    # without an irreducible term the Kaplan form extrapolates too low
    assert row["mean_rel_error"] < 0
    assert 0 < row["mean_abs_rel_error"] < 0.25
