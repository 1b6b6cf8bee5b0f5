"""The Hyena mixer: causal, its FFT convolution is a direct convolution, exact parameter counts
against scaling.flops, and a tiny Hyena decoder trains."""

import math

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from scaling import flops  # noqa: E402
from scaling.train.hyena import (  # noqa: E402
    HyenaOperator,
    ImplicitFilter,
    direct_causal_conv,
    fft_causal_conv,
    hyena_options,
    positional_features,
)
from scaling.train.model import GPT, MIXERS, GPTConfig  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared 2-core machine: one thread is faster and steadier."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("T", [1, 7, 64, 101])
def test_fft_convolution_equals_direct_convolution(T):
    g = torch.Generator().manual_seed(T)
    u = torch.randn(3, 5, T, generator=g, dtype=torch.float64)
    h = torch.randn(5, T, generator=g, dtype=torch.float64)
    assert torch.allclose(fft_causal_conv(u, h), direct_causal_conv(u, h), atol=1e-10)
    # float32 too (what the model runs)
    assert torch.allclose(fft_causal_conv(u.float(), h.float()), direct_causal_conv(u, h).float(), atol=1e-4)
    # the first output sees only the first input: y_0 = h_0 u_0
    assert torch.allclose(fft_causal_conv(u, h)[..., 0], h[:, 0] * u[..., 0], atol=1e-10)


def _cfg(**kw):
    base = dict(n_layer=2, d_model=32, n_head=2, vocab=256, context=48, mixer="hyena")
    base.update(kw)
    return GPTConfig(**base)


def test_operator_is_causal():
    torch.manual_seed(0)
    op = HyenaOperator(_cfg()).eval()
    x = torch.randn(2, 48, 32)
    y = op(x)
    for t in (0, 17, 40):
        x2 = x.clone()
        x2[:, t + 1 :] = torch.randn(2, 48 - t - 1, 32)
        y2 = op(x2)
        assert torch.allclose(y[:, : t + 1], y2[:, : t + 1], atol=1e-5), t
        if t < 47:
            assert not torch.allclose(y[:, t + 1 :], y2[:, t + 1 :], atol=1e-5)
    # a shorter sequence gives the same prefix (the filters are defined per position, not per length)
    assert torch.allclose(op(x[:, :20]), y[:, :20], atol=1e-5)


def test_hyena_decoder_is_causal():
    torch.manual_seed(1)
    model = GPT(_cfg()).eval()
    x = torch.randint(0, 256, (2, 48))
    logits, _ = model(x)
    x2 = x.clone()
    x2[:, 30:] = torch.randint(0, 256, (2, 18))
    logits2, _ = model(x2)
    assert torch.allclose(logits[:, :30], logits2[:, :30], atol=1e-5)
    assert not torch.allclose(logits[:, 30:], logits2[:, 30:], atol=1e-5)


@pytest.mark.parametrize(
    "n_layer,d_model,d_ff,vocab,sparsity",
    [
        (1, 16, 64, 256, 0.0),
        (2, 48, 96, 256, 0.0),
        (3, 64, 256, 300, 0.0),
        (2, 32, 128, 256, 0.5),
        (2, 64, 256, 256, 0.75),
    ],
)
def test_param_counts_match_flops(n_layer, d_model, d_ff, vocab, sparsity):
    model = GPT(
        GPTConfig(
            n_layer=n_layer,
            d_model=d_model,
            n_head=2,
            d_ff=d_ff,
            vocab=vocab,
            context=32,
            mixer="hyena",
            sparsity=sparsity,
        )
    )
    want = flops.param_counts(n_layer, d_model, vocab, d_ff, mixer="hyena", sparsity=sparsity)
    got = model.param_counts()
    for key in ("total", "non_embedding", "embedding", "nonzero"):
        assert got[key] == want[key], key


def test_registered_and_options():
    assert "hyena" in MIXERS and MIXERS["hyena"] is HyenaOperator
    opts = hyena_options(_cfg())
    assert {k: opts[k] for k in flops.HYENA_DEFAULTS} == flops.HYENA_DEFAULTS
    with pytest.raises(ValueError, match="unknown Hyena option"):
        HyenaOperator(_cfg(extra={"hyena": {"nope": 1}}))
    # order 3: two long convolutions; counts still match flops.py given the same option
    cfg = _cfg(extra={"hyena": {"order": 3}})
    model = GPT(cfg)
    want = flops.param_counts(2, 32, 256, 128, mixer="hyena", hyena={"order": 3})
    assert model.param_counts()["total"] == want["total"]
    x = torch.randint(0, 256, (1, 48))
    assert model(x)[0].shape == (1, 48, 256)


def test_filters_decay_and_features():
    f = positional_features(100, 33)
    assert f.shape == (100, 33) and torch.allclose(f[:, 0], torch.arange(100) / 100.0)
    filt = ImplicitFilter(8, 256)
    h = filt(256)
    assert h.shape == (8, 256)
    # every channel's window falls to 1e-2 between 0.3 and 1.5 contexts: the fastest is ~0 at the end
    assert filt.window[0, -1] < 1.1e-2 ** (1 / 0.3 * 255 / 256) * 1.01
    assert torch.all(filt.window[:, 1:] <= filt.window[:, :-1])
    with pytest.raises(ValueError):
        filt(257)


def test_bf16_autocast_forward_backward():
    model = GPT(_cfg())
    x = torch.randint(0, 256, (2, 48))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, loss = model(x, x)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters())


def test_tiny_hyena_trains():
    """A repeating pattern with a long period: the mixer must look back to predict it."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=1, d_model=32, n_head=2, vocab=32, context=64, mixer="hyena"))
    period = torch.randint(0, 32, (8, 13))
    seq = period.repeat(1, 6)[:, :65]
    x, y = seq[:, :-1], seq[:, 1:]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    losses = []
    for _ in range(40):
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > math.log(32) - 0.3
    assert losses[-1] < 0.5 * losses[0], losses[::10]


def test_loop_builds_a_hyena_run():
    from scaling.store import RunConfig
    from scaling.train.loop import build_model

    cfg = RunConfig(
        run_id="h",
        n_layer=2,
        d_model=32,
        n_head=2,
        d_ff=128,
        context=64,
        mixer="hyena",
        tokens=64 * 8,
        batch_size=8,
        lr=1e-3,
    )
    model = build_model(cfg)  # checks its count against flops.py
    assert isinstance(model.blocks[0].mixer, HyenaOperator)
