"""Seed noise from replicate runs (the pooled per-run spread of log loss, its chi-square interval, the
verdict on a fit's RMSE) and scoring runs against a saved fit (``scaling fit --score``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from scaling.cli import main
from scaling.errors import ScalingError
from scaling.fit import FitResult
from scaling.fit.api import fit
from scaling.fit.holdout import score_runs
from scaling.fit.noise import SeedNoise, chi2_interval, mean_replicates, replicate_groups, seed_noise
from scaling.fit.result import DataInfo
from scaling.fit.synthetic import simulate_runs
from scaling.laws import ChinchillaLaw
from scaling.laws.datacon import DataConstrainedLaw
from scaling.laws.powerlaw import PowerLawAllocation

DATA = Path(__file__).resolve().parents[1] / "data"
TRUTH = ChinchillaLaw(E=1.8, A=400.0, B=1500.0, alpha=0.34, beta=0.28)


def replicated(points: pd.DataFrame, sizes, sigma: float, rng: np.random.Generator) -> pd.DataFrame:
    """Each point (params, tokens) trained sizes[i] times with seeds 0, 1, ...: log loss = the law's
    + Normal(0, sigma)."""
    rows = []
    for (_, p), k in zip(points.iterrows(), sizes):
        for s in range(k):
            rows.append({"run_id": f"{p['run_id']}-s{s}", "params": p["params"], "tokens": p["tokens"], "seed": s})
    df = pd.DataFrame(rows)
    mean = np.log(np.asarray(TRUTH.loss(df["params"].to_numpy(float), df["tokens"].to_numpy(float)), dtype=float))
    df["loss"] = np.exp(mean + sigma * rng.standard_normal(len(df)))
    df["flops"] = 6.0 * df["params"] * df["tokens"]
    return df


def points(n: int) -> pd.DataFrame:
    N = np.geomspace(1e7, 1e9, n)
    return pd.DataFrame(
        {"run_id": [f"p{i}" for i in range(n)], "params": N, "tokens": 20.0 * N * (1.1 ** np.arange(n))}
    )


# ------------------------------------------------------------------------------------------------
# the estimate and its interval


def test_pooled_sd_is_the_within_group_variance_over_its_degrees_of_freedom():
    rng = np.random.default_rng(0)
    df = replicated(points(4), [2, 3, 4, 1], 0.03, rng)
    sn = seed_noise(df)
    assert sn is not None and sn.n_groups == 3 and sn.n_runs == 9 and sn.df == 1 + 2 + 3
    y = np.log(df["loss"].to_numpy())
    groups = [y[:2], y[2:5], y[5:9]]
    pooled = sum(((g - g.mean()) ** 2).sum() for g in groups) / 6
    assert sn.sd_log_loss == pytest.approx(math.sqrt(pooled), rel=1e-12)
    lo, hi = sn.interval
    assert lo == pytest.approx(sn.sd_log_loss * math.sqrt(6 / chi2.ppf(0.975, 6)), rel=1e-12)
    assert hi == pytest.approx(sn.sd_log_loss * math.sqrt(6 / chi2.ppf(0.025, 6)), rel=1e-12)
    assert [len(g.run_ids) for g in sn.groups] == [2, 3, 4]
    assert sn.groups[1].sd_log_loss == pytest.approx(float(np.std(groups[1], ddof=1)), rel=1e-12)
    assert not sn.pairs and "3 groups of 2-4 runs" in sn.line()


def test_pairs_give_the_mean_half_squared_difference():
    rng = np.random.default_rng(1)
    df = replicated(points(5), [2] * 5, 0.02, rng)
    sn = seed_noise(df)
    d = np.diff(np.log(df["loss"].to_numpy()).reshape(5, 2), axis=1).ravel()
    assert sn.sd_log_loss == pytest.approx(math.sqrt(np.mean(d**2 / 2)), rel=1e-12)
    assert sn.pairs and sn.what() == "5 pairs" and sn.df == 5


def test_many_groups_recover_the_true_noise():
    rng = np.random.default_rng(2)
    sn = seed_noise(replicated(points(300), [3] * 300, 0.02, rng))
    assert sn.df == 600 and sn.sd_log_loss == pytest.approx(0.02, rel=0.06)
    lo, hi = sn.interval
    assert lo < 0.02 < hi and hi / lo < 1.3  # 600 degrees of freedom pin it within about +-6%


def test_interval_covers_the_true_noise_at_its_level():
    rng = np.random.default_rng(3)
    design = replicated(points(4), [2] * 4, 0.0, rng)  # the truth's losses; each trial redraws the noise
    truth = np.log(design["loss"].to_numpy())
    trials = 4000
    y = truth + 0.0175 * rng.standard_normal((trials, 8))  # rows: runs p0-s0, p0-s1, p1-s0, ...
    d = y[:, 0::2] - y[:, 1::2]
    sd = np.sqrt(np.mean(d**2 / 2, axis=1))  # the pooled estimate for pairs, trial by trial
    lo, hi = chi2_interval(sd, 4)
    # the vectorised trials are seed_noise's own estimate and interval
    one = seed_noise(design.assign(loss=np.exp(y[0])))
    assert one.sd_log_loss == pytest.approx(sd[0], rel=1e-12)
    assert one.interval == pytest.approx((lo[0], hi[0]), rel=1e-12)
    below, above = float(np.mean(hi < 0.0175)), float(np.mean(lo > 0.0175))
    cover = 1 - below - above
    assert 0.94 < cover < 0.96, cover  # 95% nominal; the binomial sd over 4000 trials is 0.0034
    assert 0.015 < below < 0.035 and 0.015 < above < 0.035  # 2.5% in each tail


def test_no_replicates_say_nothing():
    assert seed_noise(points(6).assign(loss=2.0)) is None
    assert seed_noise(pd.DataFrame({"params": [1e6], "tokens": [2e7], "loss": [3.0]})) is None


def test_runs_that_differ_in_more_than_the_seed_are_not_replicates():
    rng = np.random.default_rng(4)
    df = replicated(points(3), [2, 2, 2], 0.02, rng)
    same_seed = df.copy()
    same_seed.loc[1, "seed"] = 0  # the first point's two runs share a seed: another setting differs
    assert [len(g) for g in replicate_groups(same_seed)] == [2, 2]
    other_data = df.assign(unique_tokens=[1e9, 2e9, 1e9, 1e9, 1e9, 1e9])  # a law variable differs
    assert seed_noise(other_data).n_groups == 2
    no_seed = df.drop(columns="seed")  # without a seed column, equal (N, D) are the replicates
    assert seed_noise(no_seed).n_groups == 3


def test_the_committed_sweep_gives_the_readme_figures():
    """The seed-noise line the README's fit of the v2 sweep prints is the noise of the committed runs'
    replicates, scaled for the seed means it fits."""
    runs = pd.read_csv(DATA / "cpu-isoflop-v2-runs.csv").query("batch_size == 32 and budget >= 3e12")
    fitted = seed_noise(runs)
    assert fitted is not None and fitted.df == len(runs) - fitted.n_groups  # pairs and the short runs' 4 seeds
    _, scale = mean_replicates(runs)
    line = fitted.model_copy(update={"point_scale": scale}).line()
    assert line in (DATA.parent / "README.md").read_text()


@pytest.mark.parametrize(
    "rmse,word", [(0.0197, "is within seed noise"), (0.06, "exceeds seed noise"), (0.005, "is below seed noise")]
)
def test_verdict(rmse, word):
    sn = SeedNoise(sd_log_loss=0.0175, interval=(0.0105, 0.0504), df=4, n_groups=4, n_runs=8)
    line = sn.verdict(rmse)
    assert line.startswith(f"RMSE {100 * rmse:.2f}% vs seed noise 1.75% (1.05-5.04%") and word in line


# ------------------------------------------------------------------------------------------------
# in the fit: report, FitResult JSON, --json


@pytest.fixture(scope="module")
def replicate_runs(tmp_path_factory) -> Path:
    base = simulate_runs(TRUTH, budgets=np.geomspace(1e18, 1e20, 4), n_per_budget=7, span=4.0, noise=0.0, seed=0)
    rng = np.random.default_rng(5)
    sizes = [2 if i % 7 == 3 else 1 for i in range(len(base))]  # one point per budget run twice
    df = replicated(base, sizes, 0.01, rng)
    path = tmp_path_factory.mktemp("noise") / "runs.csv"
    df.to_csv(path, index=False)
    return path


def test_fit_reports_seed_noise_and_stores_it(replicate_runs, tmp_path, capsys):
    out = tmp_path / "fit.json"
    assert main(["fit", str(replicate_runs), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    res = FitResult.load(out)
    sn = res.seed_noise
    assert sn is not None and sn.what() == "4 pairs" and sn.n_runs == 8
    assert sn == seed_noise(pd.read_csv(replicate_runs))
    assert sn.line() in text and sn.verdict(res.residuals["rmse_log_loss"]) in text
    i = text.index("fit residuals:")
    assert text[i:].splitlines()[1].startswith("seed noise: ") and text[i:].splitlines()[2].startswith("RMSE ")
    assert "seed_noise" in json.loads(out.read_text())


def test_fit_json_carries_seed_noise(replicate_runs, capsys):
    assert main(["fit", str(replicate_runs), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["seed_noise"]["df"] == 4 and len(d["seed_noise"]["groups"]) == 4


def test_a_fit_without_replicates_says_nothing():
    res = fit(simulate_runs(TRUTH, budgets=np.geomspace(1e18, 1e20, 3), n_per_budget=6, span=4.0, noise=0.005, seed=1))
    assert res.seed_noise is None and "seed noise" not in res.summary()


# ------------------------------------------------------------------------------------------------
# fitting the means of replicates (--mean-seeds)


def test_mean_replicates_averages_log_loss_and_keeps_single_runs():
    rng = np.random.default_rng(3)
    df = replicated(points(4), [2, 3, 1, 2], 0.03, rng)
    out, scale = mean_replicates(df)
    assert len(out) == 4 and list(out["replicates"]) == [2, 3, 1, 2]
    for (_, g), (_, row) in zip(df.groupby("params", sort=False), out.iterrows()):
        assert row["loss"] == pytest.approx(math.exp(np.log(g["loss"]).mean()), rel=1e-12)
        assert (
            (row["run_id"] == "mean of " + ", ".join(g["run_id"]))
            if len(g) > 1
            else row["run_id"] == g["run_id"].iloc[0]
        )
    assert math.isnan(out["seed"].iloc[0]) and out["seed"].iloc[2] == 0
    assert scale == pytest.approx(math.sqrt((1 / 2 + 1 / 3 + 1 + 1 / 2) / 4))
    assert "replicates averaged: 3 points of 7 runs" in out.attrs["scaling"]["filters"][-1]


def test_fit_of_the_means_recovers_the_truth_and_sets_its_rmse_against_the_noise_of_a_mean(capsys):
    base = simulate_runs(TRUTH, budgets=np.geomspace(1e18, 1e20, 4), n_per_budget=7, span=4.0, noise=0.0, seed=0)
    df = replicated(base, [2] * len(base), 0.01, np.random.default_rng(11))  # every point twice
    per_run, means = fit(df), fit(df, mean_seeds=True)
    assert per_run.data.n_rows == 56 and means.data.n_rows == 28
    assert means.seed_noise is not None and means.seed_noise.point_scale == pytest.approx(math.sqrt(0.5))
    assert means.seed_noise.sd_log_loss == per_run.seed_noise.sd_log_loss  # measured from the runs either way
    # averaging pairs divides the noise by sqrt(2): the residual of the means falls with it
    assert means.residuals["rmse_log_loss"] < 0.85 * per_run.residuals["rmse_log_loss"]
    assert means.params["alpha"] == pytest.approx(TRUTH.alpha, abs=0.03)
    assert means.params["beta"] == pytest.approx(TRUTH.beta, abs=0.03)
    text = means.summary()
    assert "over 28 points; worst point: " in text and "(mean of " in text
    assert "the fit averages them, " in text and "the seed noise of a fitted point (a mean of replicates)" in text
    k = means.seed_noise.point_scale * means.seed_noise.sd_log_loss
    assert f"{100 * k:.2f}%" in means.seed_noise.verdict(means.residuals["rmse_log_loss"])


def test_mean_seeds_without_replicates_or_on_curves_is_an_error(replicate_runs, capsys):
    with pytest.raises(ScalingError, match="no replicates"):
        fit(
            simulate_runs(TRUTH, budgets=np.geomspace(1e18, 1e20, 3), n_per_budget=6, span=4.0, seed=1), mean_seeds=True
        )
    assert main(["fit", str(replicate_runs), "--mean-seeds", "--method", "approach1"]) == 2
    assert "approach1" in capsys.readouterr().err
    assert main(["fit", "--score", str(replicate_runs), str(replicate_runs), "--mean-seeds"]) == 2
    assert "--mean-seeds does not apply" in capsys.readouterr().err


def test_mean_seeds_on_the_command_line(replicate_runs, tmp_path, capsys):
    out = tmp_path / "fit.json"
    assert main(["fit", str(replicate_runs), "--mean-seeds", "--out", str(out)]) == 0
    res = FitResult.load(out)
    assert res.data.n_rows == 28 and res.seed_noise.averaged and res.seed_noise.what() == "4 pairs"
    text = capsys.readouterr().out
    assert ": 28 points, converged" in text and "over 28 points" in text


def test_old_fit_files_load_without_it():
    d = json.loads((DATA / "cpu-isoflop-fit-approach3.json").read_text())
    assert "seed_noise" not in d
    res = FitResult.load(DATA / "cpu-isoflop-fit-approach3.json")
    assert res.seed_noise is None and "seed noise" not in res.summary()


# ------------------------------------------------------------------------------------------------
# scoring runs against a saved fit


def saved_fit(path: Path, law=TRUTH, method="approach3", rmse=0.0123) -> Path:
    res = FitResult(
        method=method,
        form=law.form,
        law=law.to_dict(),
        params={k: float(getattr(law, k)) for k in law.param_names if hasattr(law, k)},
        residuals={"rmse_log_loss": rmse},
        data=DataInfo(n_rows=17),
    )
    res.save(path)
    return path


@pytest.fixture()
def scored(tmp_path):
    eps = np.array([-0.3, -0.05, 0.0, 0.02, 0.11])
    N = np.array([1e7, 3e7, 1e8, 3e8, 1e9])
    D = 20 * N
    L = np.asarray(TRUTH.loss(N, D)) * np.exp(eps)
    runs = pd.DataFrame({"run_id": [f"r{i}" for i in range(5)], "params": N, "tokens": D, "loss": L, "batch": [8] * 5})
    runs.loc[len(runs)] = ["big-batch", 1e8, 3e9, 5.0, 64]
    path = tmp_path / "runs.csv"
    runs.to_csv(path, index=False)
    return saved_fit(tmp_path / "fit.json"), path, eps


def test_score_residuals_are_exact_for_a_known_law(scored):
    fit_path, runs, eps = scored
    s = score_runs(fit_path, runs, where="batch == 8")
    got = np.array([r.residual for r in s.runs])
    np.testing.assert_allclose(got, eps, rtol=0, atol=1e-12)
    assert s.n == 5 and s.fit_runs == 17 and s.fit_rmse_log_loss == 0.0123
    assert s.mean_residual == pytest.approx(eps.mean(), abs=1e-12)
    assert s.rmse == pytest.approx(math.sqrt(np.mean(eps**2)), abs=1e-12)
    assert (s.min_residual, s.max_residual) == pytest.approx((-0.3, 0.11), abs=1e-12)
    assert (s.n_below, s.n_above) == (2, 2)  # the run exactly on the surface is neither
    for r in s.runs:
        assert r.predicted == pytest.approx(float(TRUTH.loss(r.params, r.tokens)), rel=1e-14)


def test_score_cli_prints_each_run_and_the_summary(scored, capsys):
    fit_path, runs, _ = scored
    assert main(["fit", "--score", str(fit_path), str(runs), "--where", "batch == 8"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["run_id", "params", "tokens", "loss", "predicted", "residual"]
    assert [line.split()[0] for line in out[1:6]] == [f"r{i}" for i in range(5)]
    assert out[1].split()[-1] == "-30.00%" and out[5].split()[-1] == "+11.00%"
    assert out[6].startswith(f"5 runs of {runs} (where: batch == 8) scored against {fit_path} (approach3, fitted on 17")
    assert out[7] == (
        "residual ln(loss / predicted): mean -4.40%, RMSE 14.49%, from -30.00% (r0) to +11.00% (r4); "
        "2 below the prediction, 2 above"
    )


def test_score_cli_json(scored, capsys):
    fit_path, runs, eps = scored
    assert main(["fit", "--score", str(fit_path), str(runs), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["n"] == 6 and d["runs"][5]["run_id"] == "big-batch" and d["runs"][0]["residual"] == pytest.approx(-0.3)


def test_score_a_datacon_fit_uses_each_runs_unique_tokens(tmp_path):
    law = DataConstrainedLaw(E=1.8, A=400.0, B=1500.0, alpha=0.34, beta=0.28, R_D_star=15.0, R_N_star=5.0)
    fit_path = saved_fit(tmp_path / "datacon.json", law=law, method="datacon")
    N, D, U = np.array([1e7, 1e8]), np.array([2e9, 2e9]), np.array([1e8, 2e9])
    runs = pd.DataFrame({"params": N, "tokens": D, "unique_tokens": U, "loss": np.asarray(law.loss(N, D, U)) * 1.01})
    runs.to_csv(tmp_path / "u.csv", index=False)
    s = score_runs(fit_path, tmp_path / "u.csv")
    np.testing.assert_allclose([r.residual for r in s.runs], math.log(1.01), atol=1e-12)
    runs.drop(columns="unique_tokens").to_csv(tmp_path / "nou.csv", index=False)
    assert main(["fit", "--score", str(fit_path), str(tmp_path / "nou.csv")]) == 2


def bad_inputs(tmp_path: Path, fit_path: Path, runs: Path) -> dict[str, tuple[list[str], str]]:
    (tmp_path / "notfit.json").write_text('{"name": "a law, not a fit"}')
    (tmp_path / "nocols.csv").write_text("x,y\n1,2\n")
    (tmp_path / "noloss.csv").write_text("run_id,params,tokens\nr1,1e7,2e8\n")
    saved_fit(tmp_path / "approach2.json", law=PowerLawAllocation(0.1, 0.5, 1.6, 0.5), method="approach2")
    return {
        "missing fit": (["--score", str(tmp_path / "nope.json"), str(runs)], "no such fit file"),
        "missing runs": (["--score", str(fit_path), str(tmp_path / "nope.csv")], "nope.csv"),
        "not a fit": (["--score", str(tmp_path / "notfit.json"), str(runs)], "not a fit result"),
        "runs as fit": (["--score", str(runs), str(runs)], "not valid JSON"),
        "directory": (["--score", str(tmp_path), str(runs)], "a directory, not a fit file"),
        "allocation": (["--score", str(tmp_path / "approach2.json"), str(runs)], "not a loss model"),
        "no columns": (["--score", str(fit_path), str(tmp_path / "nocols.csv")], "no parameter count column"),
        "no loss": (["--score", str(fit_path), str(tmp_path / "noloss.csv")], "loss"),
        "empty": (["--score", str(fit_path), str(runs), "--where", "batch > 1000"], "no runs left after filters"),
        "bad where": (["--score", str(fit_path), str(runs), "--where", "colour == 'red'"], "colour"),
        "fits nothing": (["--score", str(fit_path), str(runs), "--bootstrap", "10"], "--bootstrap does not apply"),
        "no method": (["--score", str(fit_path), str(runs), "--method", "vp"], "--method does not apply"),
        "no out": (["--score", str(fit_path), str(runs), "--out", str(tmp_path / "x.json")], "--out does not apply"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing fit",
        "missing runs",
        "not a fit",
        "runs as fit",
        "directory",
        "allocation",
        "no columns",
        "no loss",
        "empty",
        "bad where",
        "fits nothing",
        "no method",
        "no out",
    ],
)
def test_score_bad_input_is_one_line(case, scored, tmp_path, capsys):
    fit_path, runs, _ = scored
    argv, words = bad_inputs(tmp_path, fit_path, runs)[case]
    code = main(["fit", *argv])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("scaling fit: error: ") and "Traceback" not in err
    assert words in err, err
    assert not (tmp_path / "x.json").exists()
