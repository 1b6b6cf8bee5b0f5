"""``scaling fit``: the report, every method, --out loading into ``scaling plan``, holdout, and
one-line errors (exit status 2) for bad input."""

import json

import numpy as np
import pandas as pd
import pytest

from scaling.cli import main
from scaling.fit.synthetic import simulate_runs
from scaling.laws import ChinchillaLaw


@pytest.fixture(scope="module")
def runs_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "runs.csv"
    df = simulate_runs(budgets=np.geomspace(1e18, 1e21, 6), n_per_budget=10, noise=0.004, seed=5)
    df = df.rename(columns={"params": "Model Size", "tokens": "Tokens", "loss": "Final Loss"})
    df["dataset"] = np.where(np.arange(len(df)) % 2 == 0, "a", "b")
    df.to_csv(path, index=False)
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


COLS = ("--params-col", "Model Size", "--tokens-col", "Tokens", "--loss-col", "Final Loss")


def test_report(capsys, runs_csv):
    code, out, err = run(capsys, "fit", str(runs_csv), *COLS)
    assert code == 0, err
    assert "approach3 fit (chinchilla form)" in out and "60 runs" in out
    for word in (
        "alpha",
        "beta",
        "exponents: N_opt ∝ C^a, a = 0.5",
        "tokens/param",
        "residuals: rmse_log_loss",
        "flags: none",
        "1e+22",
    ):
        assert word in out, word


def test_bootstrap_out_and_plan(capsys, runs_csv, tmp_path):
    out_path = tmp_path / "fit.json"
    code, out, err = run(
        capsys,
        "fit",
        str(runs_csv),
        *COLS,
        "--bootstrap",
        "50",
        "--seed",
        "3",
        "--workers",
        "1",
        "--out",
        str(out_path),
        "--budgets",
        "1e21",
        "5.76e23",
    )
    assert code == 0, err
    assert "95% interval" in out and "bootstrap: 50 resamples" in out and "5.76e+23" in out
    doc = json.loads(out_path.read_text())
    assert doc["method"] == "approach3" and len(doc["law"]["samples"]) == 50
    assert doc["bootstrap"]["seed"] == 3 and doc["data"]["columns"]["params"] == "Model Size"
    code, out, err = run(capsys, "plan", "1e22", "--law", str(out_path))
    assert code == 0, err
    assert "95%" in out


def test_json(capsys, runs_csv):
    code, out, err = run(capsys, "fit", str(runs_csv), *COLS, "--json", "--where", "dataset == 'a'")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["data"]["n_rows"] == 30 and "where: dataset == 'a'" in doc["data"]["filters"]
    assert set(doc["params"]) == {"E", "A", "B", "alpha", "beta"}


@pytest.mark.parametrize(
    "method,word", [("vp", "5-parameter (approach3) fit"), ("approach2", "k_N"), ("kaplan", "alpha_N")]
)
def test_other_methods(capsys, runs_csv, method, word):
    where = ("--where", "dataset == 'a'") if method == "kaplan" else ()
    code, out, err = run(capsys, "fit", str(runs_csv), *COLS, "--method", method, *where)
    assert code == 0, err
    assert f"{method} fit" in out and word in out and "exponents" in out


def test_approach1_on_curves(capsys, tmp_path):
    law = ChinchillaLaw(1.8172, 482.01, 2085.43, 0.3478, 0.3658)
    rows = []
    for N in np.geomspace(2e7, 2e9, 7):
        for D in np.geomspace(1e8, 2e11, 40):
            rows.append({"run": f"N{N:.3g}", "params": N, "tokens": D, "loss": float(law.loss(N, D))})
    path = tmp_path / "curves.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    code, out, err = run(capsys, "fit", str(path), "--method", "approach1")
    assert code == 0, err
    assert "approach1 fit" in out and "exponents" in out


def test_holdout(capsys, runs_csv):
    code, out, err = run(capsys, "fit", str(runs_csv), *COLS, "--holdout-above", "3e20")
    assert code == 0, err
    assert "held out:" in out and "rmse log loss" in out and "flops < 3e+20 (holdout)" in out


def test_gadre_holdout(capsys, public_data):
    path = public_data / "gadre2024" / "gadre2024_final_losses.csv"
    code, out, err = run(
        capsys,
        "fit",
        str(path),
        "--loss-col",
        "loss_c4_val",
        "--where",
        "dataset == 'rpj'",
        "--run-id-col",
        "name",
        "--holdout-above",
        "1e9",
        "--holdout-by",
        "params",
        "--json",
    )
    assert code == 0, err
    ho = json.loads(out)["extra"]["holdout"]
    assert ho["n_test"] == 3 and ho["n_train"] == 32
    assert ho["max_abs_rel_error"] < 0.04


# ------------------------------------------------------------------------------------------------
# bad input: one line, exit status 2


def _bad_files(tmp):
    good = simulate_runs(budgets=[1e19, 1e20], n_per_budget=5, seed=0)[["params", "tokens", "loss"]]
    files = {}
    (tmp / "empty.csv").write_text("")
    files["empty"] = (tmp / "empty.csv", "empty")
    (tmp / "header.csv").write_text("params,tokens,loss\n")
    files["header only"] = (tmp / "header.csv", "no runs")
    good.iloc[:1].to_csv(tmp / "one.csv", index=False)
    files["one run"] = (tmp / "one.csv", "only 1 run")
    same = good.copy()
    same["params"] = 1e8
    same.to_csv(tmp / "same.csv", index=False)
    files["one size"] = (tmp / "same.csv", "same size")
    neg = good.copy()
    neg.loc[3, "loss"] = -2.0
    neg.to_csv(tmp / "neg.csv", index=False)
    files["negative loss"] = (tmp / "neg.csv", "row 4")
    nan = good.copy()
    nan.loc[6, "loss"] = np.nan
    nan.to_csv(tmp / "nan.csv", index=False)
    files["NaN loss"] = (tmp / "nan.csv", "NaN")
    return files


@pytest.mark.parametrize("case", ["empty", "header only", "one run", "one size", "negative loss", "NaN loss"])
def test_bad_input_one_line_exit_2(capsys, tmp_path, case):
    path, word = _bad_files(tmp_path)[case]
    code, out, err = run(capsys, "fit", str(path))
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip() and "warning" not in ln]
    assert len(lines) == 1, err
    assert lines[0].startswith("scaling fit: error:") and word in lines[0], lines[0]
    assert "Traceback" not in err


def test_missing_column_and_file(capsys, runs_csv, tmp_path):
    code, out, err = run(capsys, "fit", str(runs_csv), "--loss-col", "nope")
    assert code == 2 and "'nope'" in err and "no such column" in err and len(err.strip().splitlines()) == 1
    code, out, err = run(capsys, "fit", str(tmp_path / "missing.csv"))
    assert code == 2 and "not found" in err
    code, out, err = run(capsys, "fit", str(runs_csv), *COLS, "--method", "approach2", "--holdout-above", "1e20")
    assert code == 2 and "loss model" in err


def test_subprocess_exit_status(cli_subprocess, tmp_path):
    path, _ = _bad_files(tmp_path)["one size"]
    proc = cli_subprocess("fit", str(path))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "same size" in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------------------------------------
# the fit() dispatcher behind the command


def test_api_dispatch(runs_csv):
    import scaling
    from scaling.errors import ScalingError
    from scaling.fit import fit

    res = fit(
        runs_csv,
        method="a3",
        params_col="Model Size",
        tokens_col="Tokens",
        loss_col="Final Loss",
        where="dataset == 'b'",
        delta=1e-3,
    )
    assert res.method == "approach3" and res.data.n_rows == 30 and res.data.columns["loss"] == "Final Loss"
    df = pd.read_csv(runs_csv).rename(columns={"Model Size": "params", "Tokens": "tokens", "Final Loss": "loss"})
    res2 = scaling.fit(df, method="vp", compare=False)
    assert res2.method == "vp"
    with pytest.raises(ScalingError, match="unknown fitting method"):
        fit(df, method="approach4")
    with pytest.raises(ScalingError, match="takes no option 'window'"):
        fit(df, method="approach3", window=0.1)
    with pytest.raises(ScalingError, match="bootstrap"):
        fit(df, bootstrap=-1)
