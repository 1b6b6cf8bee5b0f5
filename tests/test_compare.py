"""The compute multiplier of architecture B over A, on synthetic laws with a known answer."""

import json
import math

import numpy as np
import pytest

from scaling.errors import ScalingError
from scaling.laws.chinchilla import ChinchillaLaw
from scaling.laws.sparsity import frantar_2024
from scaling.planner.multiplier import arch_flops, compute_multiplier, flops_for_loss, loss_for_flops

E, A, B, ALPHA, BETA = 1.8, 480.0, 2000.0, 0.35, 0.37


def law_a(**kw):
    return ChinchillaLaw(E, A, B, ALPHA, BETA, name="A", **kw)


def law_b(**kw):
    """B(N, D) = A(2N, D): every parameter of B is worth two of A's."""
    return ChinchillaLaw(E, A * 2**-ALPHA, B, ALPHA, BETA, name="B", **kw)


def test_parameters_worth_twice_as_much_is_a_multiplier_of_two():
    # on the C = 6ND frontier, B reaching any loss costs half of A: multiplier exactly 2
    for target in (2.2, 2.5, 3.0):
        res = compute_multiplier(law_a(), law_b(), target_loss=target)
        assert res.multiplier == pytest.approx(2.0, rel=1e-9)
        assert res.flops_a == pytest.approx(law_a().flops_for_loss(target))
    res = compute_multiplier(law_a(), law_b(), flops=1e21)
    assert res.multiplier == pytest.approx(2.0, rel=1e-9)
    assert res.target_loss == pytest.approx(law_a().loss_at_frontier(1e21))
    assert res.budget == 1e21 and res.interval is None
    # reversed: 0.5
    assert compute_multiplier(law_b(), law_a(), target_loss=2.5).multiplier == pytest.approx(0.5, rel=1e-9)


def test_numeric_frontier_with_flops_per_token():
    six_n = lambda N: 6.0 * np.asarray(N, dtype=float)  # noqa: E731
    # the numeric minimisation over N reproduces the closed form
    assert flops_for_loss(law_a(), 2.5, six_n) == pytest.approx(law_a().flops_for_loss(2.5), rel=1e-6)
    assert loss_for_flops(law_a(), 1e20, six_n) == pytest.approx(law_a().loss_at_frontier(1e20), rel=1e-9)
    res = compute_multiplier(law_a(), law_b(), target_loss=2.5, flops_per_token_a=six_n, flops_per_token_b=six_n)
    assert res.multiplier == pytest.approx(2.0, rel=1e-5)
    # same law, B's tokens three times cheaper: multiplier 3
    third = lambda N: 2.0 * np.asarray(N, dtype=float)  # noqa: E731
    res = compute_multiplier(law_a(), law_a(), flops=1e20, flops_per_token_a=six_n, flops_per_token_b=third)
    assert res.multiplier == pytest.approx(3.0, rel=1e-5)


def test_architecture_flops_make_hyena_cheaper_at_long_context():
    fa = arch_flops(mixer="attention", context=8192, convention="palm")
    fb = arch_flops(mixer="hyena", context=8192, convention="palm")
    N = np.array([1e8, 1e9])
    assert np.all(fb(N) < fa(N))
    res = compute_multiplier(law_a(), law_a(), flops=1e21, flops_per_token_a=fa, flops_per_token_b=fb)
    assert res.multiplier > 1.2 and "hyena" in res.counting_b


@pytest.mark.parametrize(
    "mixer,context,sparsity,convention",
    [
        ("attention", 1024, 0.0, "palm"),
        ("hyena", 131072, 0.0, "palm"),
        ("attention", 8192, 0.75, "chinchilla"),
        ("hyena", 2048, 0.5, "kaplan"),
    ],
)
def test_arch_flops_table_matches_the_exact_count(mixer, context, sparsity, convention):
    """The spline that speeds up the comparison reads the exact FLOPs per token to 1e-9 inside its
    range, and the exact count (with its error for a bad N) outside it."""
    f = arch_flops(mixer=mixer, context=context, sparsity=sparsity, convention=convention, vocab=256)
    N = np.exp(np.random.default_rng(0).uniform(math.log(1e2), math.log(1e16), 5000))
    np.testing.assert_allclose(f(N), f.exact(N), rtol=1e-9)
    for outside in (50.0, 1e17):
        assert float(f(outside)) == pytest.approx(float(f.exact(outside)), rel=1e-15)
    with pytest.raises(ScalingError, match="params"):
        f(np.array([1e6, -1.0]))


def test_bootstrap_interval_from_samples():
    rng = np.random.default_rng(0)
    jitter = lambda: np.column_stack(
        [
            E + rng.normal(0, 0.01, 50),
            A * np.exp(rng.normal(0, 0.05, 50)),  # noqa: E731
            np.full(50, B),
            np.full(50, ALPHA),
            np.full(50, BETA),
        ]
    )
    sa = jitter()
    sb = sa.copy()
    sb[:, 1] *= 2**-ALPHA
    res = compute_multiplier(law_a(samples=sa), law_b(samples=sb), target_loss=2.5)
    # paired samples each differ by exactly "N worth 2x": a degenerate interval at 2
    assert res.interval == pytest.approx((2.0, 2.0), rel=1e-6) and res.n_samples == 50
    # independent uncertainty in B: a real interval around the estimate
    rng2 = np.random.default_rng(1)
    sb2 = sb.copy()
    sb2[:, 1] = A * 2**-ALPHA * np.exp(rng2.normal(0, 0.1, 50))
    res = compute_multiplier(law_a(samples=sa), law_b(samples=sb2), target_loss=2.5, level=0.9)
    lo, hi = res.interval
    assert lo < res.multiplier < hi and hi / lo > 1.2 and res.level == 0.9
    # only one side with samples: still an interval, with a note
    res = compute_multiplier(law_a(), law_b(samples=sb2), flops=1e21)
    assert res.interval is not None and any("only B" in n for n in res.notes)
    assert res.target_interval is None  # A has no samples: its loss at the budget is fixed


def test_sparsity_law_multiplier_is_its_dense_equivalent_factor():
    law = frantar_2024()
    res = compute_multiplier(law, law, target_loss=2.5, sparsity_b=0.75)
    assert res.multiplier == pytest.approx(law.dense_equivalent_factor(0.75), rel=1e-9)
    assert "75% sparsity" in res.law_b


def test_errors():
    with pytest.raises(ScalingError, match="exactly one"):
        compute_multiplier(law_a(), law_b())
    with pytest.raises(ScalingError, match="exactly one"):
        compute_multiplier(law_a(), law_b(), target_loss=2.5, flops=1e20)
    with pytest.raises(ScalingError, match="out of reach"):
        compute_multiplier(law_a(), law_b(), target_loss=1.5)
    with pytest.raises(ScalingError, match="approach1|no loss model"):
        compute_multiplier("chinchilla-approach1", law_b(), target_loss=2.5)


def test_cli(cli, tmp_path):
    fa, fb = tmp_path / "a.json", tmp_path / "b.json"
    fa.write_text(json.dumps(law_a().to_dict()))
    fb.write_text(json.dumps(law_b().to_dict()))
    r = cli("compare", str(fa), str(fb), "--target-loss", "2.5")
    assert r.returncode == 0, r.stderr
    assert "compute multiplier of B over A: 2x" in r.stdout and "50% less compute" in r.stdout
    r = cli("compare", str(fa), str(fb), "--flops", "1e21", "--json")
    out = json.loads(r.stdout)
    assert out["multiplier"] == pytest.approx(2.0) and out["budget"] == 1e21
    r = cli("compare", str(fa), str(fa), "--flops", "1e21", "--mixer-b", "hyena", "--context", "4096", "--json")
    assert json.loads(r.stdout)["multiplier"] > 1
    r = cli("compare", str(fa), str(fb))
    assert r.returncode == 2 and "one of the arguments" in r.stderr
    r = cli("compare", str(fa), str(fb), "--target-loss", "1.0")
    assert r.returncode == 2 and "out of reach" in r.stderr and "Traceback" not in r.stderr
    r = cli("compare", str(fa), str(fb), "--flops", "lots")
    assert r.returncode == 2 and "--flops" in r.stderr


def test_batched_samples_equal_the_sample_by_sample_comparison(monkeypatch):
    """Chinchilla-form samples are compared all at once (one grid search over every sample); the
    result is what the loop over samples gives, interval, failures and other countings included."""
    import scaling.planner.multiplier as M

    rng = np.random.default_rng(4)
    k = 40
    sa = np.column_stack(
        [E + rng.normal(0, 0.02, k), A * np.exp(rng.normal(0, 0.1, k)), B * np.exp(rng.normal(0, 0.1, k)),
         ALPHA + rng.normal(0, 0.01, k), BETA + rng.normal(0, 0.01, k)]
    )  # fmt: skip
    sb = sa * np.array([1.0, 0.7, 1.0, 1.0, 1.0])
    sb[0, 0] = 5.0  # a sample whose E is above the target: out of reach, counted as failed
    kw = dict(
        flops_per_token_a=arch_flops(context=2048, convention="palm"),
        flops_per_token_b=arch_flops(context=2048, convention="palm", mixer="hyena"),
        also=[M.Counting("6nd")],
    )
    for q in ({"target_loss": 2.6}, {"flops": 1e21}):
        fast = compute_multiplier(law_a(samples=sa), law_b(samples=sb), **q, **kw)
        with monkeypatch.context() as m:
            m.setattr(M, "_stack", lambda laws: None)
            slow = compute_multiplier(law_a(samples=sa), law_b(samples=sb), **q, **kw)
        assert fast.interval == pytest.approx(slow.interval, rel=1e-9) and fast.n_unreachable == slow.n_unreachable == 1
        assert fast.columns[1].interval == pytest.approx(slow.columns[1].interval, rel=1e-9)
        assert fast.columns[1].n_unreachable == slow.columns[1].n_unreachable
        if "flops" in q:
            assert fast.target_interval == pytest.approx(slow.target_interval, rel=1e-9)


def test_a_palm_plan_of_a_fit_searches_every_sample_at_once():
    from scaling.laws.base import Law
    from scaling.planner.frontier import arch, frontier, sample_frontiers

    rng = np.random.default_rng(2)
    s = np.column_stack(
        [E + rng.normal(0, 0.02, 30), A * np.exp(rng.normal(0, 0.1, 30)), np.full(30, B),
         ALPHA + rng.normal(0, 0.01, 30), np.full(30, BETA)]
    )  # fmt: skip
    law = law_a(samples=s)
    C = np.array([1e19, 1e21])
    a = arch(vocab=256, context=1024, mixer="hyena")
    N, D, L = sample_frontiers(law, C, "palm", a)
    for i, x in enumerate(law.sample_laws()):
        n, d = frontier(x, C, convention="palm", vocab=256, context=1024, mixer="hyena")
        np.testing.assert_allclose(N[i], n, rtol=1e-8)
        np.testing.assert_allclose(D[i], d, rtol=1e-8)
        np.testing.assert_allclose(L[i], x.loss(n, d), rtol=1e-10)
    assert sample_frontiers(law, C, "6nd", a | {"mixer": "attention"}) is None  # the closed form applies
    assert sample_frontiers(law_a(), C, "palm", a) is None  # no samples
    assert isinstance(law, Law) and ChinchillaLaw.stacked(s).loss(np.full(30, 1e9), 2e10).shape == (30,)
