"""Intervals that mean something: 95% t intervals over seeds, savings (3) through a law's bootstrap
samples, eta as a function of the growth ratio in the planner (fabricated run stores, no training)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from test_growth_planner import _write_run

from scaling.errors import ScalingError
from scaling.growth.analysis import analyze
from scaling.growth.calibration import Calibration, MethodCalibration, load_calibration
from scaling.growth.eta import eta_curve
from scaling.growth.intervals import combine_law_and_seeds, flops_for_loss_samples, t_interval
from scaling.growth.planner import plan_growth
from scaling.laws.chinchilla import ChinchillaLaw

ROOT = Path(__file__).resolve().parents[1]
OLD_CALIBRATION = ROOT / "data" / "growth" / "calibration.json"
POINT = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)  # Hoffmann et al. 2022's fit
D = 1_000_000


def _experiment(root, offsets, sw="g"):
    """A LiGO experiment, one seed per offset: the grown runs' final losses are shifted by it, so
    the seeds differ in FLOPs to the target, savings, credit and eta."""
    small, large = dict(n_layer=2, d_model=32, n_head=2), dict(n_layer=3, d_model=64, n_head=4)
    for seed, e in enumerate(offsets):
        _write_run(root, sw, f"small-s{seed}", **small, tokens=400_000, loss=3.2, tags={"role": "small"}, seed=seed)
        _write_run(
            root, sw, f"scratch-s{seed}", **large, tokens=D, loss=3.0, tags={"role": "scratch"}, seed=seed,
            curve=[(200_000, 3.4), (400_000, 3.0), (D, 3.0)],
        )  # fmt: skip
        for frac, loss in ((0.5, 3.05 + e), (1.0, 2.90 + e)):
            tags = {
                "role": "grown", "method": "ligo", "fraction": frac, "small_run": f"small-s{seed}", "small_flops": 1.0,
                "operator_steps": 10, "operator_tokens": 640, "operator_flops": 1e9,
            }  # fmt: skip
            _write_run(
                root, sw, f"ligo-f{frac:g}-s{seed}", **large, tokens=int(frac * D), loss=loss, seed=seed, tags=tags
            )
    return root / sw


def _law(samples=None):
    return ChinchillaLaw(**POINT, name="fake", samples=None if samples is None else np.asarray(samples, dtype=float))


def _point_row():
    return [POINT[k] for k in ChinchillaLaw.param_names]


def test_t_intervals_over_four_seeds_match_scipy(tmp_path):
    a = analyze(_experiment(tmp_path, (0.0, 0.01, -0.02, 0.015)))
    agg = a.aggregate()["ligo"]
    tq = stats.t.ppf(0.975, 3)
    for key in ("flops_needed", "savings_not_charged", "savings_charged", "delta_tokens", "eta"):
        vals = np.array(agg[key]["values"], dtype=float)
        mean, sd = vals.mean(), vals.std(ddof=1)
        assert agg[key]["n"] == 4 and agg[key]["mean"] == pytest.approx(mean)
        assert agg[key]["sd"] == pytest.approx(sd) and sd > 0
        assert (agg[key]["lo"], agg[key]["hi"]) == pytest.approx((mean - tq * sd / 2, mean + tq * sd / 2), rel=1e-12)
        iv = stats.t.interval(0.95, 3, loc=mean, scale=stats.sem(vals))
        assert (agg[key]["lo"], agg[key]["hi"]) == pytest.approx(iv, rel=1e-12)
    text = a.summary()
    assert "values are the mean over seeds [95% t interval over 4 seeds] (per-seed values)" in text
    e = agg["eta"]
    assert f"| {e['mean']:.3g} [{e['lo']:.3g}, {e['hi']:.3g}] (" in a.table()
    assert "± " not in text and "savings (3) needs a law" in text
    # the calibration keeps the interval, n and the growth ratio; sd stays for old readers
    out = tmp_path / "cal.json"
    a.write_calibration(out)
    cal = load_calibration(out)
    m = cal.methods["ligo"]
    assert m.n_seeds == 4 and m.eta_sd == pytest.approx(e["sd"])
    assert m.eta_interval == pytest.approx((e["lo"], e["hi"])) and m.interval() == pytest.approx((e["lo"], e["hi"]))
    assert cal.growth_ratio["total"] == pytest.approx(a.large["params"] / a.small["params"])
    assert cal.growth_ratio["non_embedding"] == pytest.approx(
        a.large["non_embedding_params"] / a.small["non_embedding_params"]
    )
    saved = json.loads(out.read_text())["methods"]["ligo"]["savings_charged"]
    assert saved["n"] == 4 and saved["lo"] < saved["mean"] < saved["hi"]


def test_one_seed_has_no_interval_and_says_so(tmp_path):
    a = analyze(_experiment(tmp_path, (0.0,)))
    agg = a.aggregate()["ligo"]
    assert agg["eta"]["n"] == 1 and agg["eta"]["lo"] is None and agg["eta"]["sd"] is None
    assert "(1 seed: no interval)" in a.table()
    assert "values of one seed: no interval" in a.summary()
    assert a.calibration().methods["ligo"].eta_interval is None
    assert a.calibration().methods["ligo"].interval() is None


def test_savings3_collapses_to_the_point_without_noise(tmp_path):
    # zero seed noise (four identical seeds) and a degenerate law sample set (the point, 30 times)
    a = analyze(_experiment(tmp_path, (0.0,) * 4), law=_law([_point_row()] * 30))
    s3 = a.aggregate()["ligo"]["savings_vs_optimal"]
    point = s3["mean"]
    assert all(v == pytest.approx(point, rel=1e-12) for v in s3["values"])
    for key in ("combined_interval", "law_interval", "seeds_interval"):
        assert s3[key] == pytest.approx((point, point), rel=1e-9), key
    assert (s3["lo"], s3["hi"]) == pytest.approx((point, point), rel=1e-9)
    assert s3["law_samples"] == 30 and s3["law_unreachable"] == 0
    assert all(r.savings_vs_optimal_law == pytest.approx((point, point), rel=1e-9) for r in a.rows)


def test_savings3_through_the_law_samples(tmp_path):
    rng = np.random.default_rng(1)
    rows = np.array([_point_row()] * 40)
    rows[:, 0] += rng.normal(0, 0.05, 40)  # E
    rows[:, 3] *= np.exp(rng.normal(0, 0.03, 40))  # alpha
    rows[:3, 0] = 3.05  # three samples put the target (3.0) below their E: out of reach
    law = _law(rows)
    a = analyze(_experiment(tmp_path, (0.0, 0.01, -0.02, 0.015)), law=law)
    # vectorised c_opt (one stacked law) = sample by sample
    loop = []
    for x in law.sample_laws():
        try:
            loop.append(float(x.flops_for_loss(3.0)))
        except ScalingError:
            loop.append(math.inf)
    assert flops_for_loss_samples(law, 3.0) == pytest.approx(np.array(loop), rel=1e-12)
    for r in a.rows:
        total = r.small_flops + r.operator_flops + r.flops_needed
        want = np.array([1.0 if math.isinf(c) else 1 - total / c for c in loop])  # unreachable: the limit, +100%
        assert r.s3_samples == pytest.approx(want, rel=1e-12)
        assert r.law_unreachable == 3
        assert r.savings_vs_optimal_law == pytest.approx(tuple(np.quantile(want, [0.025, 0.975])), rel=1e-12)
        assert r.savings_vs_optimal == pytest.approx(1 - total / law.flops_for_loss(3.0))
    s3 = a.aggregate()["ligo"]["savings_vs_optimal"]
    m = np.mean([r.s3_samples for r in a.rows], axis=0)
    assert s3["law_interval"] == pytest.approx(tuple(np.quantile(m, [0.025, 0.975])), rel=1e-12)
    assert s3["combined_interval"] == a.aggregate()["ligo"]["savings_vs_optimal"]["combined_interval"]  # seeded
    lo, hi = s3["combined_interval"]
    assert (s3["lo"], s3["hi"]) == (lo, hi) and lo < s3["mean"] < hi
    assert s3["seeds_interval"] == pytest.approx(t_interval(s3["values"]))
    assert s3["law_unreachable"] == 3 and s3["law_samples"] == 40
    text = a.summary()
    assert "law fake with 40 bootstrap samples" in text and "law and seeds [" in text and "law only [" in text
    assert "seeds only (t) [" in text and "per seed, law only: s0 [" in text
    assert "3 of 40 law samples put a seed's target loss at or below their irreducible loss" in text
    # a law without samples: the point, the seeds' interval, and the words
    plain = analyze(tmp_path / "g", law=_law())
    ps3 = plain.aggregate()["ligo"]["savings_vs_optimal"]
    assert (ps3["lo"], ps3["hi"]) == pytest.approx(t_interval(ps3["values"])) and "law_interval" not in ps3
    assert "law fake without bootstrap samples: no law uncertainty" in plain.summary()


def test_the_combination_is_a_t_interval_when_the_law_is_certain():
    # one law value, seed noise only: the Monte Carlo reproduces the t interval (to its sampling error)
    seeds = np.array([0.10, 0.14, 0.08, 0.12])
    S = np.repeat(seeds[:, None], 5, axis=1)
    out = combine_law_and_seeds(S)
    assert out["law"] == pytest.approx((seeds.mean(), seeds.mean()))
    assert out["combined"] == pytest.approx(t_interval(seeds), rel=0.01)
    assert combine_law_and_seeds(S) == out  # seeded: reproducible
    one = combine_law_and_seeds(np.array([[0.1, 0.2, 0.3]]))
    assert one["combined"] == one["law"]  # one seed: the law's interval only


def _cal(ratio, eta, half=0.1, source="a", corpus="c", fingerprint=None, n=4):
    return Calibration(
        source=source,
        corpus=corpus,
        corpus_fingerprint=fingerprint,
        small={"params": 1e6, "non_embedding_params": 9e5},
        large={"params": ratio * 1e6, "non_embedding_params": ratio * 9e5},
        methods={
            "ligo": MethodCalibration(
                method="ligo",
                eta=eta,
                eta_sd=half,
                eta_interval=(eta - half, eta + half),
                n_seeds=n,
                operator_steps=100,
                operator_tokens_per_step=2**19,
            )
        },
    )


def test_eta_is_interpolated_in_log_ratio_and_held_beyond():
    curve = eta_curve([_cal(8, 0.8, 0.2, "b"), _cal(2, 0.4, 0.1)], "ligo")
    assert [p.ratio for p in curve.points] == [2, 8]
    assert curve.at(4.0) == pytest.approx(0.6)  # the midpoint in log ratio
    assert curve.interval_at(4.0) == pytest.approx((0.45, 0.75))
    assert curve.at(np.array([1.0, 2.0, 8.0, 32.0])) == pytest.approx([0.4, 0.4, 0.8, 0.8])
    assert curve.interval_at(1.0) == pytest.approx((0.3, 0.5)) and curve.interval_at(20.0) == pytest.approx((0.6, 1.0))
    assert not curve.extrapolated(1.85) and not curve.extrapolated(8.7)  # within 10% of the range
    assert curve.extrapolated(1.75) and curve.extrapolated(9.0)
    assert curve.measured_at() == "x2 .. x8 (2 ratios)"
    assert "interpolated linearly in log(ratio) between x2 (eta 0.4) and x8 (eta 0.8)" in curve.how(4.0)
    # the non-embedding counts when the law counts so
    assert eta_curve([_cal(2, 0.4)], "ligo", "non_embedding").points[0].ratio == pytest.approx(2.0)


def test_the_planner_reads_eta_at_its_ratio_and_flags_extrapolation(tmp_path):
    inside = plan_growth(1e21, "chinchilla-2022", calibration=[_cal(1.5, 1.0), _cal(4, 0.98, source="b")])
    curve = eta_curve([_cal(1.5, 1.0), _cal(4, 0.98, source="b")], "ligo")
    assert 1.5 < inside.growth_ratio < 4 and inside.growth_ratio == pytest.approx(
        inside.large_params / inside.small_params
    )
    assert inside.eta == pytest.approx(curve.at(inside.growth_ratio)) and inside.eta not in (1.0, 0.98)
    assert inside.eta_interval == pytest.approx(curve.interval_at(inside.growth_ratio))
    assert "eta_extrapolated" not in [f.code for f in inside.flags]
    text = inside.ledger()
    assert "interpolated linearly in log(ratio) between x1.5 (eta 1) and x4 (eta 0.98)" in text
    assert f"growth ratio: x{inside.growth_ratio:.3g} (large / small total parameters)" in text
    assert inside.to_dict()["eta_measured_ratios"] == [1.5, 4.0]
    # measured only at x10 and x12: the plan grows far less, eta is the nearest measured one, flagged
    outside = plan_growth(1e21, "chinchilla-2022", calibration=[_cal(10, 1.0), _cal(12, 0.9, source="b")])
    assert outside.growth_ratio < 10 / 1.1 and outside.eta == pytest.approx(1.0)
    (flag,) = [f for f in outside.flags if f.code == "eta_extrapolated"]
    assert "eta was measured only at x10 .. x12 (2 ratios)" in flag.message
    assert "[eta_extrapolated]" in outside.ledger()
    # one calibration: as before, with the extrapolation a flag
    one = plan_growth(1e21, "chinchilla-2022", calibration=_cal(10, 1.0))
    assert one.eta == 1.0 and any(f.code == "eta_extrapolated" for f in one.flags)


def test_calibrations_that_do_not_combine_are_refused(tmp_path):
    with pytest.raises(ScalingError, match="different corpora"):
        eta_curve([_cal(2, 0.4, corpus="c"), _cal(4, 0.5, corpus="d")], "ligo")
    with pytest.raises(ScalingError, match="different corpora .corpus_fingerprint sha:1 vs sha:2"):
        eta_curve([_cal(2, 0.4, fingerprint="sha:1"), _cal(4, 0.5, fingerprint="sha:2")], "ligo")
    with pytest.raises(ScalingError, match="both measured at a growth ratio of x2"):
        eta_curve([_cal(2, 0.4), _cal(2.005, 0.5)], "ligo")
    other = _cal(4, 0.5)
    other.methods = {"stack": other.methods["ligo"].model_copy(update={"method": "stack"})}
    with pytest.raises(ScalingError, match="has no method 'ligo' .it has stack.; calibrations combine only"):
        eta_curve([_cal(2, 0.4), other], "ligo")


def test_the_old_calibration_file_loads_and_plans_the_same_eta():
    raw = json.loads(OLD_CALIBRATION.read_text())
    assert raw["version"] == 1 and "eta_interval" not in raw["methods"]["ligo"] and "growth_ratio" not in raw
    cal = load_calibration(OLD_CALIBRATION)
    ligo = cal.methods["ligo"]
    assert ligo.eta_interval is None
    seeds = np.array(raw["methods"]["ligo"]["eta_seeds"])
    want = stats.t.interval(0.95, 1, loc=seeds.mean(), scale=stats.sem(seeds))
    assert ligo.interval() == pytest.approx(want, rel=1e-12)
    assert cal.ratio("total") == pytest.approx(771456 / 213568) and cal.ratio("non_embedding") == pytest.approx(
        738688 / 197184
    )
    plan = plan_growth(1e21, "chinchilla-2022", calibration=OLD_CALIBRATION)
    assert plan.eta == raw["methods"]["ligo"]["eta"]  # the same eta, exactly
    assert plan.eta_interval == pytest.approx(want, rel=1e-12)
    assert plan.eta_measured_ratios == [pytest.approx(771456 / 213568)]


def test_cli_prints_the_intervals_and_combines_calibrations(cli, tmp_path):
    sweep = _experiment(tmp_path, (0.0, 0.01, -0.02, 0.015))
    rng = np.random.default_rng(2)
    rows = np.array([_point_row()] * 40) * np.exp(rng.normal(0, 0.01, (40, 5)))
    law_file = tmp_path / "law.json"
    law_file.write_text(json.dumps(_law(rows).to_dict()))
    cal = tmp_path / "cal.json"
    res = cli("grow", "analyze", str(sweep), "--law", str(law_file), "--calibration-out", str(cal))
    assert res.returncode == 0, res.stderr
    assert "[95% t interval over 4 seeds]" in res.stdout and "with 40 bootstrap samples" in res.stdout
    assert "0 of 40 law samples" in res.stdout
    res = cli("grow", "analyze", str(sweep), "--law", str(law_file), "--json")
    s3 = json.loads(res.stdout)["aggregate"]["ligo"]["savings_vs_optimal"]
    assert s3["law_samples"] == 40 and len(s3["combined_interval"]) == 2
    # a second experiment at another growth ratio: the same file with its shapes' ratio doubled
    data = json.loads(cal.read_text())
    data["large"]["params"] *= 2
    data["growth_ratio"] = {"total": data["growth_ratio"]["total"] * 2}
    second = tmp_path / "cal2.json"
    second.write_text(json.dumps(data))
    base = ("grow", "plan", "--flops", "1e19", "--law", "chinchilla-2022")
    res = cli(*base, "--calibration", str(cal), "--calibration", str(second))
    assert res.returncode == 0, res.stderr
    assert "95% interval" in res.stdout and "2 ratios" in res.stdout
    data["corpus"] = "other"
    (tmp_path / "cal3.json").write_text(json.dumps(data))
    res = cli(*base, "--calibration", str(cal), "--calibration", str(tmp_path / "cal3.json"))
    lines = [l for l in res.stderr.splitlines() if l.strip()]
    assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr
    assert f"{cal} and {tmp_path / 'cal3.json'} were measured on different corpora" in lines[0]


def test_savings3_against_a_law_of_another_setup_is_flagged(tmp_path):
    """The committed growth experiment read debian-docs at context 256; a law whose runs read another
    corpus or context gives savings (3) against another setup: every row says so. The law's record
    (the fit file's data.corpus, architecture) decides; a built-in law says nothing."""
    import json
    from pathlib import Path

    from scaling.growth.analysis import analyze

    root = Path(__file__).resolve().parents[1]
    fit = json.loads((root / "data" / "cpu-isoflop-fit-approach3.json").read_text())
    fit["data"]["corpus"] = ["debian-docs-large"]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(fit))
    res = analyze(root / "data" / "runs" / "growth-cpu", law=other)
    want = (
        "savings (3) set these runs against a law of another setup: the law was fitted on runs of 'debian-docs-large'"
    )
    assert all(any(f.startswith(want) for f in r.flags) for r in res.rows)
    fit["data"]["corpus"] = ["debian-docs"]
    fit["architecture"] = {**(fit.get("architecture") or {}), "context": 1024}
    other.write_text(json.dumps(fit))
    flags = analyze(root / "data" / "runs" / "growth-cpu", law=other).rows[0].flags
    assert any("the law's runs have context 1024, these runs 256" in f for f in flags)
    assert not any(
        "another setup" in f for f in analyze(root / "data" / "runs" / "growth-cpu", law="chinchilla").rows[0].flags
    )
