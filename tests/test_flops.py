"""Parameter and FLOP accounting: published reproductions, hand computations, properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.errors import ScalingError
from scaling.flops import (
    CONVENTIONS,
    attention_flops_per_token,
    chinchilla_to_6nd_ratio,
    flops_per_token,
    hyena_flops_per_token,
    hyena_mixer_flops_per_token,
    param_counts,
    training_flops,
)

V, T = 50257, 2048

# --------------------------------------------------------------------------------------------- published


@pytest.mark.parametrize(
    "N,n_layer,d_model,ratio",
    [
        (74e6, 10, 640, 1.03),
        (306e6, 20, 1024, 1.10),
        (552e6, 24, 1280, 1.08),
        (1143e6, 26, 1792, 1.04),
        (1593e6, 28, 2048, 1.03),
        (6796e6, 40, 3584, 0.99),
    ],
)
def test_chinchilla_table_a4_ratios(N, n_layer, d_model, ratio):
    # Hoffmann et al. 2022 Table A4: Appendix F FLOPs / 6ND, embeddings and logits left out,
    # sequence 2048, key size 64, heads d/64, f = 4d, N the listed parameter count
    assert chinchilla_to_6nd_ratio(n_layer, d_model, N) == pytest.approx(ratio, abs=0.01)
    direct = flops_per_token(
        n_layer,
        d_model,
        2048,
        32000,
        convention="chinchilla",
        include_embeddings=False,
        n_head=d_model // 64,
        d_ff=4 * d_model,
    ) / (6 * N)
    assert direct == pytest.approx(ratio, abs=0.01)


# "15B tokens" = 30,000 steps of the reference config's 256 sequences x 2048 tokens (see
# hyena_flops_per_token's docstring for why this reading, not 15.0e9, is the paper's)
HYENA_TOKENS = 30_000 * 256 * 2048


@pytest.mark.parametrize(
    "name,n_layer,d_model,d_ff,mixer,paper",
    [
        ("GPT-355M", 24, 1024, 4096, "attention", 4.77e19),
        ("GPT-125M", 12, 768, 3072, "attention", 1.88e19),
        ("Hyena-355M", 36, 1024, 2048, "hyena", 3.93e19),
        ("Hyena-153M", 18, 864, 1728, "hyena", 1.87e19),
    ],
)
def test_hyena_paper_table_4_4(name, n_layer, d_model, d_ff, mixer, paper):
    C = training_flops(n_layer, d_model, T, V, HYENA_TOKENS, d_ff=d_ff, convention="chinchilla", mixer=mixer)
    assert C == pytest.approx(paper, rel=0.03), name
    if mixer == "hyena":
        assert hyena_flops_per_token(n_layer, d_model, T, V, d_ff=d_ff) * HYENA_TOKENS == pytest.approx(C)
    # the CLI example's 15.7e9 tokens reproduces them too
    assert C / HYENA_TOKENS * 15.7e9 == pytest.approx(paper, rel=0.03)


def test_hyena_table_shapes_have_the_named_sizes():
    assert param_counts(24, 1024, V)["total"] == pytest.approx(355e6, rel=0.01)
    assert param_counts(12, 768, V)["total"] == pytest.approx(125e6, rel=0.02)
    assert param_counts(36, 1024, V, 2048, mixer="hyena")["total"] == pytest.approx(355e6, rel=0.01)
    assert param_counts(18, 864, V, 1728, mixer="hyena")["total"] == pytest.approx(153e6, rel=0.01)


@pytest.mark.parametrize("context,ratio", [(2048, 0.80), (8192, 0.50), (65536, 0.11)])
def test_hyena_over_gpt_at_equal_width(context, ratio):
    # REFERENCE.md section 6 (derived): Hyena/GPT training FLOPs per token at equal width
    gpt = flops_per_token(24, 1024, context, V, convention="chinchilla")
    hy = flops_per_token(24, 1024, context, V, convention="chinchilla", mixer="hyena")
    assert hy / gpt == pytest.approx(ratio, abs=0.01)


def test_fft_constant_is_exposed():
    d, L, n = 1024, 2048, 24
    base = hyena_flops_per_token(n, d, L, V, fft_constant=5)
    more = hyena_flops_per_token(n, d, L, V, fft_constant=6)
    # one extra unit of the constant: 3 (fwd+bwd) x n_layer x 2 x (o-1) d log2(2L)
    assert more - base == pytest.approx(3 * n * 2 * 1 * d * math.log2(2 * L))
    via_kw = flops_per_token(n, d, L, V, convention="chinchilla", mixer="hyena", hyena={"fft_constant": 6})
    assert via_kw == pytest.approx(more)


def test_hyena_mixer_formula_by_hand():
    d, L, k = 512, 4096, 3
    expected = 2 * (3 * d * d + 3 * d * k + 5 * 1 * d * math.log2(2 * L) + d * d)
    got = hyena_mixer_flops_per_token(d, L, filter_batch=math.inf)
    assert got == pytest.approx(expected)
    # the filter network is amortised over the batch: it shrinks as the batch grows
    assert hyena_mixer_flops_per_token(d, L, filter_batch=1) > hyena_mixer_flops_per_token(d, L, filter_batch=64)


# --------------------------------------------------------------------------------------------- params


def test_param_counts_of_the_trainer_architecture():
    L, d, f = 6, 384, 1536
    pc = param_counts(L, d, V, f)
    non_emb = L * (4 * d * d + 2 * d * f + 2 * d) + d
    assert pc["non_embedding"] == non_emb
    assert pc["embedding"] == V * d
    assert pc["total"] == non_emb + V * d
    assert param_counts(L, d, V)["total"] == pc["total"]  # d_ff defaults to 4d


def test_param_counts_gpt2_and_kaplan_accounting():
    # GPT-2 small and medium (with 1024 learned positions): the published exact counts
    assert param_counts(12, 768, V, architecture="gpt2", context=1024)["total"] == 124_439_808
    assert param_counts(24, 1024, V, architecture="gpt2", context=1024)["total"] == 354_823_168
    # Kaplan et al. Table 1: N = 2 d n_layer (2 d_attn + d_ff) = 12 n_layer d^2
    pc = param_counts(12, 768, V, architecture="kaplan", context=1024)
    assert pc["non_embedding"] == 12 * 12 * 768**2
    assert pc["embedding"] == (V + 1024) * 768


def test_param_counts_vectorised():
    L = np.array([2, 4, 8])
    d = np.array([[64], [128]])
    pc = param_counts(L, d, V)
    assert pc["total"].shape == (2, 3)
    for i in range(2):
        for j in range(3):
            assert pc["total"][i, j] == param_counts(int(L[j]), int(d[i, 0]), V)["total"]


# --------------------------------------------------------------------------------------------- conventions


def test_6nd_and_params_override():
    pc = param_counts(12, 768, V)
    assert flops_per_token(12, 768, T, V) == pytest.approx(6 * pc["total"])
    assert flops_per_token(12, 768, T, V, include_embeddings=False) == pytest.approx(6 * pc["non_embedding"])
    assert flops_per_token(None, None, None, None, params=7e9) == 6 * 7e9
    assert training_flops(12, 768, T, V, 1e9) == pytest.approx(6 * pc["total"] * 1e9)


def test_kaplan_by_hand():
    L, d, ctx = 12, 768, 1024
    N = param_counts(L, d, V)["non_embedding"]
    assert flops_per_token(L, d, ctx, V, convention="kaplan") == pytest.approx(3 * (2 * N + 2 * L * ctx * d))
    assert flops_per_token(L, d, ctx, V, convention="kaplan", causal=True) == pytest.approx(3 * (2 * N + L * ctx * d))
    assert flops_per_token(L, d, ctx, V, convention="kaplan", params=1e8) == pytest.approx(3 * (2e8 + 2 * L * ctx * d))


def test_palm_by_hand():
    L, d, ctx = 24, 1024, 2048
    H, Q = 16, 64
    N = param_counts(L, d, V)["total"]
    assert flops_per_token(L, d, ctx, V, convention="palm") == pytest.approx(6 * N + 12 * L * H * Q * ctx)
    assert flops_per_token(L, d, ctx, V, convention="palm", causal=True) == pytest.approx(6 * N + 6 * L * H * Q * ctx)


def test_chinchilla_appendix_f_by_hand():
    L, d, ctx, h, f = 4, 256, 512, 4, 1024
    k = d // h
    per_layer = (
        2 * 3 * d * (h * k) + 2 * ctx * (h * k) + 3 * h * ctx + 2 * ctx * (h * k) + 2 * (h * k) * d + 2 * (2 * d * f)
    )
    fwd = 2 * V * d + L * per_layer + 2 * d * V
    assert flops_per_token(L, d, ctx, V, n_head=h, d_ff=f, convention="chinchilla") == pytest.approx(3 * fwd)
    no_emb = flops_per_token(L, d, ctx, V, n_head=h, d_ff=f, convention="chinchilla", include_embeddings=False)
    assert no_emb == pytest.approx(3 * L * per_layer)
    logits_only = flops_per_token(
        L, d, ctx, V, n_head=h, d_ff=f, convention="chinchilla", include_embeddings=False, include_logits=True
    )
    assert logits_only == pytest.approx(3 * (L * per_layer + 2 * d * V))
    causal = flops_per_token(L, d, ctx, V, n_head=h, d_ff=f, convention="chinchilla", causal=True)
    halved = (2 * ctx * (h * k) + 3 * h * ctx + 2 * ctx * (h * k)) / 2
    assert causal == pytest.approx(3 * (fwd - L * halved))


# --------------------------------------------------------------------------------------------- sparsity


@pytest.mark.parametrize("S", [0.5, 0.75, 0.9])
def test_sparse_flops_are_the_nonzero_share_of_the_weight_matmuls(S):
    L, d, ctx = 12, 768, 2048
    dense = flops_per_token(L, d, ctx, V, convention="chinchilla")
    sparse = flops_per_token(L, d, ctx, V, convention="chinchilla", sparsity=S)
    weight_matmuls = 3 * L * (8 * d * d + 4 * d * 4 * d)  # QKV + output + FFN, forward and backward
    assert dense - sparse == pytest.approx(S * weight_matmuls)
    pc = param_counts(L, d, V, sparsity=S)
    assert pc["nonzero"] == pytest.approx(pc["total"] - S * L * 12 * d * d)
    assert flops_per_token(L, d, ctx, V, sparsity=S) == pytest.approx(6 * pc["nonzero"])
    assert flops_per_token(L, d, ctx, V, convention="palm", sparsity=S) == pytest.approx(
        6 * pc["nonzero"] + 12 * L * d * ctx
    )
    assert attention_flops_per_token(d, ctx, sparsity=S) < attention_flops_per_token(d, ctx)


def test_sparse_hyena_keeps_the_ffts_dense():
    d, ctx = 1024, 8192
    dense = hyena_mixer_flops_per_token(d, ctx)
    sparse = hyena_mixer_flops_per_token(d, ctx, sparsity=0.5)
    assert dense - sparse == pytest.approx(0.5 * 2 * (3 * d * d + d * d))


# --------------------------------------------------------------------------------------------- vectorised


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("mixer", ["attention", "hyena"])
def test_vectorised_matches_scalar(convention, mixer):
    L = np.array([2, 6, 12, 24])
    d = np.array([128, 384, 768, 1024])
    ctx = np.array([256, 1024, 2048, 8192])
    S = np.array([0.0, 0.5, 0.0, 0.75])
    out = flops_per_token(L, d, ctx, V, convention=convention, mixer=mixer, sparsity=S)
    assert out.shape == (4,)
    for i in range(4):
        one = flops_per_token(
            int(L[i]), int(d[i]), int(ctx[i]), V, convention=convention, mixer=mixer, sparsity=float(S[i])
        )
        assert out[i] == pytest.approx(float(one))
    grid = flops_per_token(L[:, None], d[None, :], 2048, V, convention=convention, mixer=mixer)
    assert grid.shape == (4, 4)


def test_many_shapes_at_once_match_one_by_one():
    """100,000 shapes in one vectorised call give what one call per shape gives (the speed of the
    vectorised call is measured in benchmarks/bench_shapes.py)."""
    L = np.random.default_rng(0).integers(1, 100, 100_000)
    d = 64 * np.random.default_rng(1).integers(1, 100, 100_000)
    out = flops_per_token(L, d, 2048, V, convention="chinchilla")
    assert out.shape == (100_000,)
    for i in np.random.default_rng(2).integers(0, 100_000, 50):
        assert out[i] == pytest.approx(
            float(flops_per_token(int(L[i]), int(d[i]), 2048, V, convention="chinchilla")), rel=1e-12
        )


# --------------------------------------------------------------------------------------------- properties


shapes = st.tuples(st.integers(1, 200), st.integers(1, 512).map(lambda k: 64 * k), st.integers(16, 65536))


@settings(max_examples=150, deadline=None)
@given(
    shape=shapes,
    convention=st.sampled_from(CONVENTIONS),
    mixer=st.sampled_from(["attention", "hyena"]),
    causal=st.booleans(),
)
def test_monotone_in_depth_width_and_context(shape, convention, mixer, causal):
    L, d, ctx = shape
    f = lambda L, d, ctx: float(
        flops_per_token(
            L,
            d,
            ctx,
            V,
            convention=convention,
            mixer=mixer,  # noqa: E731
            causal=causal,
        )
    )
    base = f(L, d, ctx)
    assert base > 0
    assert f(L + 1, d, ctx) > base
    assert f(L, d + 64, ctx) > base
    assert f(L, d, 2 * ctx) >= base  # 6nd does not depend on the context
    # more parameters -> more FLOPs, in every convention
    assert param_counts(L + 1, d, V)["total"] > param_counts(L, d, V)["total"]


@settings(max_examples=100, deadline=None)
@given(shape=shapes, S=st.floats(0, 0.99), tokens=st.floats(1e6, 1e13))
def test_sparsity_never_adds_flops_and_training_is_linear(shape, S, tokens):
    L, d, ctx = shape
    for conv in CONVENTIONS:
        dense = float(flops_per_token(L, d, ctx, V, convention=conv))
        sparse = float(flops_per_token(L, d, ctx, V, convention=conv, sparsity=S))
        assert sparse <= dense * (1 + 1e-12)
        assert float(training_flops(L, d, ctx, V, tokens, convention=conv)) == pytest.approx(dense * tokens)


@settings(max_examples=100, deadline=None)
@given(shape=shapes)
def test_causal_never_exceeds_full(shape):
    L, d, ctx = shape
    for conv in CONVENTIONS:
        assert float(flops_per_token(L, d, ctx, V, convention=conv, causal=True)) <= float(
            flops_per_token(L, d, ctx, V, convention=conv)
        )


# --------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(convention="chinchila"), "did you mean chinchilla"),
        (dict(mixer="mamba"), "unknown mixer"),
        (dict(sparsity=1.0), "sparsity must be in [0, 1)"),
        (dict(sparsity=-0.1), "sparsity"),
        (dict(convention="chinchilla", params=1e9), "params"),
        (dict(hyena={"fft": 5}), "unknown Hyena option"),
        (dict(mixer="hyena", hyena={"order": 1}), "order"),
    ],
)
def test_bad_arguments_are_scaling_errors(kwargs, needle):
    with pytest.raises(ScalingError) as exc:
        flops_per_token(12, 768, 2048, V, **kwargs)
    assert needle in str(exc.value)


@pytest.mark.parametrize(
    "args", [(0, 768, 2048, V), (12, -1, 2048, V), (12, 768, float("nan"), V), (12, 768, 2048, float("inf"))]
)
def test_bad_shapes_are_scaling_errors(args):
    for conv in CONVENTIONS:
        with pytest.raises(ScalingError):
            flops_per_token(*args, convention=conv)


def test_light_imports():
    import subprocess
    import sys

    code = (
        "import sys, scaling.flops, scaling.shapes, scaling.hardware; "
        "print(' '.join(m for m in ('torch', 'matplotlib', 'scipy', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""
