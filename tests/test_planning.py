"""Planning past Chinchilla: inference-aware sizing, flatness and distributions of the optimum."""

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling._solve import scan_min as minimise_scalar
from scaling.errors import ScalingError
from scaling.hardware import CostModel
from scaling.laws import ChinchillaLaw, get_law
from scaling.planner import flatness, inference_optimal, inference_optimal_budget, plan, plan_distribution
from scaling.planner.result import Interval
from scaling.units import si

LAWS = st.sampled_from(["chinchilla-2022", "epoch-2024", "chinchilla-2022-rounded"])


def _quality_of(law_name, N):
    law = get_law(law_name)
    C = law.flops_for_params(N)
    return float(law.loss(*law.frontier(C)))


def test_minimise_scalar_vectorised_and_precise():
    centres = np.array([-3.0, 0.5, 7.25])
    x = minimise_scalar(lambda x: (x - centres) ** 2 + np.abs(x - centres) ** 3, centres - 10, centres + 10)
    np.testing.assert_allclose(x, centres, atol=1e-7)


def test_sardana_example_13b_quality_2t_inference():
    # a Chinchilla-optimal 13B model's quality, served for 2T tokens: a smaller model trained longer is cheaper
    l = _quality_of("chinchilla-2022", 13e9)
    p = inference_optimal(l, 2e12, "chinchilla-2022")
    assert p.chinchilla["params"] == pytest.approx(13e9, rel=1e-6)
    assert 6.5e9 < p.params < 7.5e9  # "a 7B model"
    assert p.tokens > p.chinchilla["tokens"]
    assert 0.13 < p.saving < 0.20  # "17% less" (we get 16.3% with the unrounded constants)
    assert p.total_flops == pytest.approx(p.train_flops + p.inference_flops)
    # an immutable result that reads like a report, in the Plan's words
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.params = 1.0  # type: ignore[misc]
    text = str(p)
    assert text == p.summary() and text.startswith("inference-aware plan (target_loss, flops objective) under")
    assert f"{si(p.params)} parameters on {si(p.tokens)} training tokens" in text
    assert f"saving {100 * p.saving:.1f}%" in text and "cost $" not in text


@settings(max_examples=40, deadline=None)
@given(law=LAWS, size=st.floats(1e8, 1e12), dinf=st.floats(0.0, 1e15))
def test_first_order_condition_at_the_optimum(law, size, dinf):
    l = _quality_of(law, size)
    p = inference_optimal(l, dinf, law)
    assert abs(p.first_order_residual) < 1e-5
    assert get_law(law).loss(p.params, p.tokens) == pytest.approx(l, rel=1e-9)
    # and it is a minimum: nearby sizes (with the tokens they need for the same loss) cost more
    lw = get_law(law)
    for f in (0.99, 1.01):
        N = p.params * f
        if N <= (lw.A / (l - lw.E)) ** (1 / lw.alpha):
            continue
        D = lw.tokens_for_loss(N, l)
        assert 6 * N * D + 2 * N * dinf >= p.total_flops * (1 - 1e-9)


@settings(max_examples=40, deadline=None)
@given(law=LAWS, size=st.floats(1e8, 1e12), d1=st.floats(0.0, 1e14), k=st.floats(1.05, 1e3))
def test_more_inference_demand_smaller_model_more_tokens(law, size, d1, k):
    l = _quality_of(law, size)
    a = inference_optimal(l, d1, law)
    b = inference_optimal(l, d1 * k + 1e9, law)
    assert b.params <= a.params * (1 + 1e-7)
    assert b.tokens >= a.tokens * (1 - 1e-7)
    assert a.saving >= -1e-9 and b.saving >= a.saving - 1e-9


def test_no_inference_is_chinchilla():
    law = get_law("epoch-2024")
    p = inference_optimal(2.1, 0.0, law)
    N, D = law.frontier(law.flops_for_loss(2.1))
    assert p.params == pytest.approx(N, rel=1e-6) and p.tokens == pytest.approx(D, rel=1e-6)
    assert p.saving == pytest.approx(0.0, abs=1e-9)


def test_dollar_objective_with_cheaper_training_than_serving():
    flops_plan = inference_optimal(2.1, 2e12)
    same = inference_optimal(2.1, 2e12, cost=CostModel(mfu=0.4))
    assert same.params == pytest.approx(flops_plan.params, rel=1e-6)  # same $/FLOP both sides: same answer
    dear = inference_optimal(2.1, 2e12, cost=CostModel(mfu=0.4, inference_mfu=0.1))
    assert dear.params < flops_plan.params and dear.objective == "dollars"
    c = dear.cost
    assert c["total_usd"] == pytest.approx(c["train_usd"] + c["inference_usd"])
    assert c["inference"]["mfu"] == 0.1 and c["train"]["mfu"] == 0.4
    assert f"= ${si(c['total_usd'])}" in dear.summary().splitlines()[-1]


def test_budget_form():
    p = inference_optimal_budget(2e12, total_flops=1e23)
    assert p.total_flops == pytest.approx(1e23, rel=1e-9)
    law = get_law("chinchilla-2022")
    for f in (0.98, 1.02):
        N = p.params * f
        D = (1e23 - 2 * N * 2e12) / (6 * N)
        assert law.loss(N, D) > p.loss
    # better than the plan that ignores inference and spends the same total
    assert p.loss < p.chinchilla["loss"] and p.params < p.chinchilla["params"]
    d = inference_optimal_budget(2e12, dollars=1e5, cost=CostModel(inference_mfu=0.2))
    assert d.cost["total_usd"] == pytest.approx(1e5, rel=1e-6)


def test_bad_inference_input():
    with pytest.raises(ScalingError, match="negative"):
        inference_optimal(2.1, -1.0)
    with pytest.raises(ScalingError, match="irreducible"):
        inference_optimal(1.5, 1e12)
    with pytest.raises(ScalingError, match="Chinchilla-form"):
        inference_optimal(2.5, 1e12, "kaplan-2020")
    with pytest.raises(ScalingError, match="one budget"):
        inference_optimal_budget(1e12)


def test_flatness_range():
    f = flatness("chinchilla-2022", 1e22, 0.005)
    law = get_law("chinchilla-2022")
    for N in (f["params_lo"], f["params_hi"]):
        assert law.loss(N, 1e22 / (6 * N)) == pytest.approx(1.005 * f["loss_best"], rel=1e-9)
    assert f["ratio_lo"] < 0.6 and f["ratio_hi"] > 1.8  # a flat optimum: a factor ~2 either way costs 0.5%
    assert f["penalty"]["2"] > 0 and f["penalty"]["0.5"] > 0


def _boot_law(n=300, seed=0):
    rng = np.random.default_rng(seed)
    base = np.array([1.8172, 482.01, 2085.43, 0.3478, 0.3658])
    return ChinchillaLaw(*base, name="boot", samples=base * np.exp(rng.normal(0, 0.02, (n, 5))))


def test_plan_distribution():
    d = plan_distribution(_boot_law(), 1e22)
    p = d.percentiles["params"]
    assert p["2.5"] < p["25"] < p["50"] < p["75"] < p["97.5"]
    assert p["2.5"] < d.point["params"] < p["97.5"]
    assert d.expected_penalty > 0 and d.robust["expected_penalty"] <= d.expected_penalty + 1e-12
    # intervals in the Plan's shape, from the percentiles the plan holds
    ci = d.conf_int(0.95)
    assert set(ci) == {"params", "tokens", "loss"} and isinstance(ci["params"], Interval)
    assert ci["params"] == (p["2.5"], p["97.5"]) and d.conf_int(0.5)["loss"].hi == d.percentiles["loss"]["75"]
    with pytest.raises(ScalingError, match="percentiles including 0.5 and 99.5"):
        d.conf_int(0.99)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.flops = 1.0  # type: ignore[misc]
    assert str(d) == d.summary() and f"params percentiles: 2.5% {si(p['2.5'])}, 5% " in str(d)
    with pytest.raises(ScalingError, match="no samples"):
        plan_distribution("chinchilla-2022", 1e22)


def test_plan_api_flatness_and_distribution():
    (p,) = plan(1e22, law=_boot_law(), flatness=0.005)
    assert "flatness" in p.extra and "distribution" in p.extra
    assert p.interval is not None
    json.dumps(p.to_dict())


def test_cli_inference_target_loss(capsys):
    from scaling.cli import main

    assert main(["plan", "--target-loss", "2.1", "--inference-tokens", "2T", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    inf = obj["extra"]["inference"]
    assert obj["loss"] == pytest.approx(2.1) and obj["params"] < inf["chinchilla"]["params"]
    assert 0 < inf["saving"] < 1
    assert (
        main(
            [
                "plan",
                "--target-loss",
                "2.1",
                "--inference-tokens",
                "0",
                "2T",
                "--inference-mfu",
                "0.2",
                "--inference-price",
                "2",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "saving" in out and "objective: dollars" in out


def test_cli_inference_budget_and_flatness(capsys):
    from scaling.cli import main

    assert main(["plan", "1e23", "--inference-tokens", "2T", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["extra"]["inference"]["total_flops"] == pytest.approx(1e23)
    assert main(["plan", "1e22", "--flatness"]) == 0
    out = capsys.readouterr().out
    assert "sizes within 0.5% of the best loss" in out


@pytest.mark.parametrize(
    "args,needle",
    [
        (["plan", "--target-loss", "2.1", "--inference-tokens=-2T"], "negative"),
        (["plan", "--target-loss", "1.5", "--inference-tokens", "1T"], "irreducible loss"),
        (["plan", "--inference-tokens", "1T"], "--target-loss"),
        (["plan", "1e22", "--inference-mfu", "0.2"], "--inference-tokens"),
        (["plan", "1e22", "--flatness", "2"], "fraction"),
    ],
)
def test_cli_bad_input_one_line(cli, args, needle):
    r = cli(*args)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and needle in err
