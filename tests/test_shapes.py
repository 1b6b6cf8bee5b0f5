"""ModelShape, the shape search and the smooth shape rule."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.errors import ScalingError
from scaling.flops import CONVENTIONS, flops_per_token, param_counts
from scaling.shapes import (
    ModelShape,
    candidate_widths,
    default_n_head,
    ideal_aspect,
    shape_for_params,
    smooth_flops_per_token,
    smooth_shape,
)

V = 50257

# --------------------------------------------------------------------------------------------- ModelShape


def test_model_shape_counts_and_defaults():
    s = ModelShape(24, 1024)
    assert (s.n_head, s.d_ff, s.d_head, s.vocab, s.context) == (16, 4096, 64, 50257, 2048)
    pc = param_counts(24, 1024, V)
    assert s.params == s.total == pc["total"]
    assert s.non_embedding == pc["non_embedding"] and s.embedding == pc["embedding"]
    assert s.aspect_ratio == pytest.approx(1024 / 24)
    assert s.flops_per_token("chinchilla") == pytest.approx(
        float(flops_per_token(24, 1024, 2048, V, convention="chinchilla"))
    )
    assert s.training_flops(1e9) == pytest.approx(6 * s.total * 1e9)
    assert "24 x 1024" in str(s)


def test_model_shape_round_trips_through_dict():
    s = ModelShape(36, 1024, n_head=16, d_ff=2048, vocab=50257, context=8192, mixer="hyena", sparsity=0.5)
    d = s.to_dict()
    assert ModelShape.from_dict(d) == s
    assert ModelShape.from_dict({**d, "params_achieved": 1.0}) == s  # derived keys are ignored
    assert s.nonzero_params < s.params
    import json

    assert ModelShape.from_dict(json.loads(json.dumps(d))) == s


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(n_layer=0, d_model=64), "n_layer"),
        (dict(n_layer=2, d_model=64.5), "d_model"),
        (dict(n_layer=2, d_model=100, n_head=3), "not divisible"),
        (dict(n_layer=2, d_model=64, mixer="rwkv"), "mixer"),
        (dict(n_layer=2, d_model=64, sparsity=1.0), "sparsity"),
        (dict(n_layer="two", d_model=64), "n_layer"),
    ],
)
def test_model_shape_validation(kwargs, needle):
    with pytest.raises(ScalingError) as exc:
        ModelShape(**kwargs)
    assert needle in str(exc.value)
    with pytest.raises(ScalingError):
        ModelShape.from_dict({"n_layer": 2})


def test_default_heads_divide_the_width():
    for d in list(range(8, 1024, 8)) + [1000, 1536, 12288]:
        h = default_n_head(d)
        assert d % h == 0
        if d >= 128 and d % 64 == 0:
            assert d // h == 64
        if d >= 16 and d % 8 == 0:
            assert h >= 2 or d // h >= 32


# --------------------------------------------------------------------------------------------- search

# worst snapping error measured on a dense log grid (documented in shape_for_params)
NONEMB_BOUNDS = [(1e4, 0.17), (1e5, 0.065), (1e6, 0.035), (1e8, 0.02), (1e9, 0.01), (1e10, 0.003)]
TOTAL_BOUNDS = [(3e6, 0.035), (1e7, 0.022), (1e9, 0.01), (1e10, 0.003)]


def _bound(bounds, t):
    return [b for lo, b in bounds if t >= lo][-1]


@pytest.mark.parametrize("non_embedding", [True, False])
def test_round_trip_error_across_1e4_to_1e12(non_embedding):
    lo = 1e4 if non_embedding else 10**6.5
    bounds = NONEMB_BOUNDS if non_embedding else TOTAL_BOUNDS
    for t in np.logspace(math.log10(lo), 12, 1201):
        r = shape_for_params(t, non_embedding=non_embedding)
        s = r.shape
        got = s.non_embedding if non_embedding else s.total
        assert r.achieved == got
        assert r.rel_error == pytest.approx(got / t - 1)
        assert abs(r.rel_error) <= _bound(bounds, t), (t, s, r.rel_error)
        if t >= 1e6:
            assert abs(r.rel_error) < 0.05


def test_realistic_shapes():
    for t in np.logspace(6, 12, 61):
        for ne in (True, False):
            s = shape_for_params(t, non_embedding=ne).shape
            assert s.d_model % s.n_head == 0
            assert s.d_ff == 4 * s.d_model
            if s.d_model >= 512:
                assert s.d_model % 64 == 0 and s.d_head == 64
            if t >= 1e8:
                # within 2.5x of the ideal aspect ratio, itself 50..150 in this range
                assert 1 / 2.5 <= s.aspect_ratio / ideal_aspect(s.d_model) <= 2.5
    # familiar sizes come out near familiar shapes
    s7 = shape_for_params(7e9).shape
    assert 28 <= s7.n_layer <= 48 and 3584 <= s7.d_model <= 4608
    s70 = shape_for_params(70e9).shape
    assert 64 <= s70.n_layer <= 96 and 7168 <= s70.d_model <= 9216


def test_tiny_models_use_small_widths_and_heads():
    r = shape_for_params(1e5, non_embedding=True)
    assert r.shape.d_model < 256 and r.shape.d_head <= 64 and r.shape.d_model % 8 == 0
    assert abs(r.rel_error) < 0.06


def test_total_target_smaller_than_the_embedding_is_an_error():
    with pytest.raises(ScalingError) as exc:
        shape_for_params(3e5)
    msg = str(exc.value)
    assert "embedding" in msg and "non-embedding" in msg
    # the same size as a non-embedding target is fine
    assert shape_for_params(3e5, non_embedding=True).shape.n_layer >= 1
    # a smaller vocabulary makes room
    assert shape_for_params(3e5, vocab=256).shape.vocab == 256


def test_embedding_dominated_total_targets_carry_a_note():
    r = shape_for_params(5e6)
    assert r.note and "embedding" in r.note


@pytest.mark.parametrize("bad", [0, -1e9, float("nan"), float("inf")])
def test_bad_targets(bad):
    with pytest.raises(ScalingError):
        shape_for_params(bad)


def test_hyena_shapes():
    r = shape_for_params(355e6, mixer="hyena")
    assert r.shape.mixer == "hyena" and abs(r.rel_error) < 0.01
    assert r.shape.total == pytest.approx(param_counts(r.shape.n_layer, r.shape.d_model, V, mixer="hyena")["total"])


def test_shape_search_over_seven_decades():
    """200 targets from 1e5 to 1e12 non-embedding parameters: each answer is a real shape whose count
    is what it reports, within 5% of the target (median 0.25%; speed in benchmarks/bench_shapes.py)."""
    errs = []
    for t in np.logspace(5, 12, 200):
        r = shape_for_params(t, non_embedding=True)
        s = r.shape
        assert r.achieved == param_counts(s.n_layer, s.d_model, V, d_ff=s.d_ff, n_head=s.n_head)["non_embedding"]
        errs.append(abs(r.rel_error))
    assert max(errs) < 0.05 and float(np.median(errs)) < 0.005


def test_candidate_widths():
    w = candidate_widths()
    assert np.all(np.diff(w) > 0)
    assert np.all(w[w >= 512] % 64 == 0) and np.all(w % 8 == 0)


@settings(max_examples=60, deadline=None)
@given(log_t=st.floats(6, 12), ne=st.booleans())
def test_search_error_property(log_t, ne):
    t = 10**log_t
    if not ne and t < 3e6:
        return
    r = shape_for_params(t, non_embedding=ne)
    assert abs(r.rel_error) < 0.05
    assert r.shape.n_layer >= 1 and r.shape.d_model % r.shape.n_head == 0


# --------------------------------------------------------------------------------------------- smooth rule


def test_smooth_6nd_is_exactly_6n():
    N = np.logspace(3, 15, 50)
    assert np.array_equal(smooth_flops_per_token(N, convention="6nd"), 6.0 * N)
    assert smooth_flops_per_token(7e9, convention="6nd", sparsity=0.5) == 6 * 7e9


@pytest.mark.parametrize("non_embedding", [False, True])
@pytest.mark.parametrize("mixer,S", [("attention", 0.0), ("hyena", 0.0), ("attention", 0.75)])
def test_smooth_shape_matches_the_count(non_embedding, mixer, S):
    N = np.logspace(4, 14, 41)
    L, d = smooth_shape(N, non_embedding=non_embedding, mixer=mixer, sparsity=S)
    pc = param_counts(L, d, V, 4 * d, mixer=mixer, sparsity=S)
    counted = pc["nonzero"] - (pc["embedding"] if non_embedding else 0)
    np.testing.assert_allclose(counted, N, rtol=1e-9)
    np.testing.assert_allclose(d / L, ideal_aspect(d), rtol=1e-12)


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("mixer", ["attention", "hyena"])
def test_smooth_is_increasing_and_close_to_snapped_shapes(convention, mixer):
    N = np.logspace(3, 16, 400)
    f = smooth_flops_per_token(N, convention=convention, mixer=mixer)
    assert np.all(np.isfinite(f)) and np.all(f > 0)
    assert np.all(np.diff(f) > 0)
    # the smooth estimate agrees with a real snapped shape of the same size (rescaled to the exact
    # size): closely once the embedding is a small share, roughly when it is large
    for t, tol in ((1e8, 0.15), (3e8, 0.06), (1e9, 0.02), (1e10, 0.01), (1e11, 0.01)):
        r = shape_for_params(t, mixer=mixer)
        snapped = r.shape.flops_per_token(convention) / r.achieved * t
        smooth = float(smooth_flops_per_token(t, convention=convention, mixer=mixer))
        assert smooth == pytest.approx(snapped, rel=tol), (convention, t)


def test_smooth_chinchilla_approaches_6n_at_scale():
    # embeddings and logits dominate small models (ratio 2); at 1e12 Chinchilla is within 2% of 6N
    assert float(smooth_flops_per_token(1e4, convention="chinchilla")) / 6e4 == pytest.approx(2.0, abs=0.02)
    assert float(smooth_flops_per_token(1e12, convention="chinchilla")) / 6e12 == pytest.approx(1.0, abs=0.02)


def test_smooth_on_planner_arrays_matches_one_by_one():
    """A planner's 10,000-point array in one call equals the count one N at a time, and increases
    (speed in benchmarks/bench_shapes.py)."""
    N = np.logspace(6, 13, 10_000)
    out = smooth_flops_per_token(N, convention="chinchilla")
    assert np.all(np.diff(out) > 0)
    for i in range(0, 10_000, 497):
        assert out[i] == pytest.approx(float(smooth_flops_per_token(N[i], convention="chinchilla")), rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    log_n=st.floats(4, 14),
    factor=st.floats(1.001, 10),
    convention=st.sampled_from(CONVENTIONS),
    S=st.sampled_from([0.0, 0.5]),
)
def test_smooth_monotone_property(log_n, factor, convention, S):
    n = 10**log_n
    a, b = smooth_flops_per_token(np.array([n, n * factor]), convention=convention, sparsity=S)
    assert b > a > 0


def test_smooth_errors():
    with pytest.raises(ScalingError):
        smooth_flops_per_token(-1.0, convention="chinchilla")
    with pytest.raises(ScalingError):
        smooth_flops_per_token(1e9, convention="6ND")
