"""The planner: published plans, property tests along isoFLOP lines, inverse round trips."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.errors import ScalingError
from scaling.laws import ChinchillaLaw, get_law
from scaling.planner import plan, plan_table

budgets = st.floats(min_value=1e17, max_value=1e27, allow_nan=False, allow_infinity=False)
law_names = st.sampled_from(["chinchilla-2022", "chinchilla-2022-rounded", "epoch-2024"])


def test_gopher_plans():
    (p,) = plan(5.76e23, law="chinchilla-2022")
    assert p.params == pytest.approx(40.4e9, rel=0.01)
    (p,) = plan(5.76e23, law="epoch-2024")
    assert (p.params, p.tokens) == pytest.approx((72.2e9, 1.33e12), rel=0.01)
    assert p.flops_convention == "6nd" and p.params_convention == "total"


@settings(max_examples=60, deadline=None)
@given(C=budgets, law=law_names, offset=st.floats(min_value=-2.0, max_value=2.0).filter(lambda x: abs(x) > 1e-3))
def test_frontier_is_the_isoflop_minimum(C, law, offset):
    (p,) = plan(C, law=law)
    N_off = p.params * np.exp(offset)
    off = get_law(law).loss(N_off, C / (6 * N_off))
    assert p.loss < off


@settings(max_examples=60, deadline=None)
@given(C=budgets, law=law_names)
def test_6nd_plans_satisfy_c_equals_6nd(C, law):
    (p,) = plan(C, law=law)
    assert 6 * p.params * p.tokens == pytest.approx(C, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(C=budgets, law=st.sampled_from(["chinchilla-2022", "epoch-2024", "chinchilla-approach1", "kaplan-2020"]))
def test_inverse_queries_round_trip(C, law):
    (p,) = plan(C, law=law)
    (by_tokens,) = plan(tokens=p.tokens, law=law)
    (again,) = plan(by_tokens.flops, law=law)
    assert again.params == pytest.approx(p.params, rel=1e-6)
    assert again.tokens == pytest.approx(p.tokens, rel=1e-6)
    (by_params,) = plan(params=p.params, law=law)
    assert by_params.flops == pytest.approx(C, rel=1e-6)
    assert by_params.tokens == pytest.approx(p.tokens, rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(C=budgets, law=law_names)
def test_target_loss_round_trip(C, law):
    (p,) = plan(C, law=law)
    (q,) = plan(target_loss=p.loss, law=law)
    assert q.flops == pytest.approx(C, rel=1e-6)


def test_evaluate_point_reports_distance_to_frontier():
    (p,) = plan(params=7e9, tokens=1.4e12, law="chinchilla-2022")
    assert p.query == "params+tokens"
    assert p.flops == pytest.approx(6 * 7e9 * 1.4e12)
    assert p.frontier["loss_gap"] > 0
    assert 0 < p.frontier["compute_efficiency"] < 1


def test_budget_with_size_and_tokens():
    (p,) = plan(1e22, params=5e9, law="epoch-2024")
    assert p.tokens == pytest.approx(1e22 / 3e10)
    (q,) = plan(1e22, tokens=2e11, law="epoch-2024")
    assert q.params == pytest.approx(1e22 / 1.2e12)
    (r,) = plan(6 * 5e9 * 2e11, params=5e9, tokens=2e11)
    assert r.query == "flops+params+tokens"


def test_overdetermined_and_bad_queries():
    with pytest.raises(ScalingError, match="does not match"):
        plan(1e21, params=7e9, tokens=1.4e12)
    with pytest.raises(ScalingError, match="over-determine"):
        plan(1e21, target_loss=2.0)
    with pytest.raises(ScalingError, match="give one budget"):
        plan(1e21, dollars=1e6)
    with pytest.raises(ScalingError, match="irreducible"):
        plan(target_loss=1.5, law="epoch-2024")
    with pytest.raises(ScalingError, match="never reaches"):
        plan(target_loss=2.0, params=1e7, law="chinchilla-2022")
    with pytest.raises(ScalingError, match="nothing to plan"):
        plan()
    for bad in (float("nan"), float("inf"), 0.0, -1e21):
        with pytest.raises(ScalingError):
            plan(bad)


def test_target_loss_with_size():
    law = get_law("chinchilla-2022")
    (p,) = plan(target_loss=2.0, params=30e9, law="chinchilla-2022")
    assert law.loss(p.params, p.tokens) == pytest.approx(2.0, rel=1e-9)


def test_plan_table_vectorised_matches_plan():
    C = np.logspace(19, 25, 13)
    df = plan_table(C, law="epoch-2024")
    for c, row in zip(C, df.itertuples()):
        (p,) = plan(c, law="epoch-2024")
        assert row.params == pytest.approx(p.params) and row.loss == pytest.approx(p.loss)


def test_plan_with_samples_has_intervals():
    base = get_law("epoch-2024")
    rng = np.random.default_rng(1)
    samples = np.array(list(base.params.values())) * (1 + 0.02 * rng.standard_normal((200, 5)))
    law = ChinchillaLaw(*base.params.values(), name="boot", samples=samples)
    (p,) = plan(1e22, law=law)
    for k in ("params", "tokens", "loss"):
        assert p.interval[k].lo < getattr(p, k) < p.interval[k].hi
    df = plan_table([1e21, 1e22], law=law)
    assert {"params_lo", "params_hi", "loss_lo", "loss_hi"} <= set(df.columns)


def test_non_6nd_convention_numeric_frontier():
    law = get_law("chinchilla-2022")
    (p6,) = plan(1e22, law=law)
    (pc,) = plan(1e22, law=law, convention="chinchilla")
    assert pc.flops_convention == "chinchilla"
    # the numeric frontier is a true minimum along its own isoFLOP line
    from scaling.shapes import smooth_flops_per_token

    for f in (0.8, 1.25):
        N = pc.params * f
        D = 1e22 / smooth_flops_per_token(N, vocab=50257, context=2048, convention="chinchilla")
        assert law.loss(N, D) > pc.loss
    assert pc.params == pytest.approx(p6.params, rel=0.3)


def test_allocation_law_has_no_loss():
    (p,) = plan(1e22, law="chinchilla-approach1")
    assert p.loss is None
    with pytest.raises(ScalingError):
        plan(target_loss=2.0, law="chinchilla-approach1")


def test_non_embedding_law_under_another_convention_counts_non_embedding_params():
    """A Kaplan-style law's N excludes embeddings; the FLOPs per token of its plans must say so."""
    from scaling.shapes import smooth_flops_per_token

    (p,) = plan(params=1e8, tokens=2e9, law="kaplan-2020", convention="chinchilla")
    fpt_nonemb = smooth_flops_per_token(1e8, vocab=50257, context=2048, convention="chinchilla", non_embedding=True)
    fpt_total = smooth_flops_per_token(1e8, vocab=50257, context=2048, convention="chinchilla")
    assert fpt_nonemb > fpt_total  # the same N counted without embeddings is a bigger model
    assert p.flops == pytest.approx(fpt_nonemb * 2e9, rel=1e-9)


# ---------------------------------------------------------------------------------------------
# other architectures: the FLOPs per token of the mixer and of sparse weights (issue 8)


@pytest.mark.parametrize("context", [2048, 8192])
def test_hyena_plans_count_hyena_flops(context):
    from scaling.planner import frontier
    from scaling.shapes import smooth_flops_per_token

    law = get_law("chinchilla-2022")
    (a,) = plan(1e21, convention="palm", context=context, law=law)
    (h,) = plan(1e21, convention="palm", context=context, mixer="hyena", law=law)
    assert (h.params, h.tokens) == pytest.approx(
        frontier(law, 1e21, convention="palm", context=context, mixer="hyena"), rel=1e-9
    )
    # the budget is spent exactly at Hyena's FLOPs per token ...
    fpt = smooth_flops_per_token(h.params, convention="palm", context=context, mixer="hyena", vocab=50257)
    assert fpt * h.tokens == pytest.approx(1e21, rel=1e-6)
    # ... which are cheaper than attention's, more so at long context (the docs' table: 75.0B vs 65.9B / 49.0B)
    assert h.tokens > a.tokens and h.loss < a.loss
    assert a.tokens == pytest.approx(65.9e9 if context == 2048 else 49.0e9, rel=0.01)
    assert h.tokens == pytest.approx(75.0e9, rel=0.01) and h.extra["mixer"] == "hyena"
    # a size query inverts the same numeric frontier
    (q,) = plan(params=h.params, convention="palm", context=context, mixer="hyena", law=law)
    assert q.flops == pytest.approx(1e21, rel=1e-4)


def test_sparse_plans_use_the_sparsity_law_at_that_sparsity():
    law = get_law("frantar-2024")
    (p,) = plan(1e21, law="frantar-2024", sparsity=0.75, shape=True)
    N, D = law.frontier(1e21, S=0.75)
    assert (p.params, p.tokens) == pytest.approx((N, D), rel=1e-9)
    assert p.loss == pytest.approx(float(law.loss(N, D, S=0.75)), rel=1e-12)
    assert p.loss < plan(1e21, law="frantar-2024")[0].loss  # the T5 law: sparse is better at equal compute
    # the shape is dense, with N non-zero weights once 75% of its block weights are masked
    assert p.shape["sparsity"] == 0.75
    assert abs(p.shape["snap_rel_error"]) < 0.05
    assert p.shape["params_achieved"] == pytest.approx(N, rel=0.05)


def test_sparsity_without_a_sparsity_law_says_what_it_assumes():
    (p,) = plan(1e21, sparsity=0.5)
    (d,) = plan(1e21)
    assert (p.params, p.tokens, p.loss) == (d.params, d.tokens, d.loss)
    assert any("no sparsity term" in w for w in p.warnings)


@pytest.mark.parametrize(
    "kw, needle",
    [
        (dict(mixer="mamba"), "unknown mixer"),
        (dict(sparsity=1.0), "sparsity must be in [0, 1)"),
        (dict(mixer="hyena", unique_tokens=1e9), "--mixer/--sparsity"),
    ],
)
def test_bad_architecture_arguments(kw, needle):
    with pytest.raises(ScalingError, match=needle.replace("[", r"\[").replace(")", r"\)")):
        plan(1e21, **kw)


def test_plan_is_immutable_with_typed_intervals():
    import dataclasses
    import json

    from scaling.planner import Interval, Plan

    base = get_law("epoch-2024")
    rng = np.random.default_rng(2)
    samples = np.array(list(base.params.values())) * (1 + 0.02 * rng.standard_normal((100, 5)))
    law = ChinchillaLaw(*base.params.values(), name="boot", samples=samples)
    (p,) = plan(1e22, law=law, level=0.9)
    assert isinstance(p, Plan) and isinstance(p.interval["params"], Interval)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.params = 1.0
    assert p.conf_int(0.9)["tokens"] == p.interval["tokens"]
    with pytest.raises(ScalingError, match="90% interval only"):
        p.conf_int(0.95)
    d = json.loads(json.dumps(p.to_dict()))  # --json keeps {level, key: {lo, hi}}
    assert d["interval"]["level"] == 0.9 and set(d["interval"]["params"]) == {"lo", "hi"}
    assert "90% interval" in str(p) and "boot" in p.summary()
    (q,) = plan(1e22)
    with pytest.raises(ScalingError, match="no interval"):
        q.conf_int()


def test_flags_have_codes():
    (p,) = plan(1e21, law="chinchilla-2022", mixer="hyena")
    assert [f.code for f in p.flags] == ["arch"] and p.warnings == [p.flags[0].message]


def test_scaling_plan_is_the_function():
    import inspect

    import scaling

    assert inspect.isfunction(scaling.plan) and "law" in inspect.signature(scaling.plan).parameters
    assert scaling.plan.__doc__.startswith("Answer a planning query")


@pytest.mark.parametrize("mixer,conv", [("hyena", "palm"), ("attention", "palm"), ("attention", "chinchilla")])
def test_numeric_frontier_inverse_round_trip(mixer, conv):
    """The budget found for a size (or token count) under a counted convention has that size (tokens) as
    its numeric optimum."""
    from scaling.planner import frontier

    law = get_law("chinchilla-2022")
    for N in (1e8, 1e9, 3e10):
        (p,) = plan(params=N, mixer=mixer, convention=conv, context=4096, law=law)
        n, d = frontier(law, p.flops, convention=conv, context=4096, mixer=mixer)
        assert n == pytest.approx(N, rel=1e-6) and p.tokens == pytest.approx(d, rel=1e-6)
    (q,) = plan(tokens=2e11, mixer=mixer, convention=conv, context=4096, law=law)
    n, d = frontier(law, q.flops, convention=conv, context=4096, mixer=mixer)
    assert d == pytest.approx(2e11, rel=1e-6) and q.params == pytest.approx(n, rel=1e-6)
