"""The decoder: exact parameter counts (flops.py's contract), causality, rotary, init."""

import math

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from scaling import flops  # noqa: E402
from scaling.train.model import GPT, MIXERS, GPTConfig, apply_rotary, make_linear, rotary_tables  # noqa: E402


@pytest.mark.parametrize(
    "n_layer,d_model,n_head,d_ff,vocab",
    [(1, 8, 1, 32, 256), (2, 64, 4, None, 256), (3, 96, 6, 200, 300), (4, 128, 2, 512, 1000)],
)
def test_param_counts_match_flops(n_layer, d_model, n_head, d_ff, vocab):
    model = GPT(GPTConfig(n_layer=n_layer, d_model=d_model, n_head=n_head, d_ff=d_ff, vocab=vocab, context=32))
    want = flops.param_counts(n_layer, d_model, vocab, d_ff if d_ff else 4 * d_model)
    got = model.param_counts()
    assert got["total"] == int(want["total"])
    assert got["non_embedding"] == int(want["non_embedding"])
    assert got["embedding"] == int(want["embedding"]) == vocab * d_model
    # tied head: no separate output matrix, no biases anywhere
    assert all("bias" not in name for name, _ in model.named_parameters())


def test_causal_and_initial_loss():
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=2, d_model=32, n_head=2, vocab=256, context=16)).eval()
    x = torch.randint(0, 256, (2, 16))
    logits, loss = model(x, torch.randint(0, 256, (2, 16)))
    assert logits.shape == (2, 16, 256)
    assert abs(loss.item() - math.log(256)) < 0.1  # near-uniform at init
    y = x.clone()
    y[:, 10:] = torch.randint(0, 256, (2, 6))
    logits2, _ = model(y)
    assert torch.allclose(logits[:, :10], logits2[:, :10], atol=1e-6)
    assert not torch.allclose(logits[:, 10:], logits2[:, 10:])
    short, _ = model(x[:, :5])  # shorter than the context
    assert torch.allclose(short, logits[:, :5], atol=1e-5)
    with pytest.raises(ValueError):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_rotary_is_a_rotation_with_relative_positions():
    cos, sin = rotary_tables(8, 32)
    q = torch.randn(1, 32, 1, 8)
    rq = apply_rotary(q, cos, sin)
    assert torch.allclose(rq.norm(dim=-1), q.norm(dim=-1), atol=1e-5)
    # <R_m q, R_n k> depends on n - m only
    k = torch.randn(1, 1, 1, 8)
    qs, ks = q[:, :1].expand(1, 32, 1, 8), k.expand(1, 32, 1, 8)
    rq, rk = apply_rotary(qs, cos, sin), apply_rotary(ks, cos, sin)
    d1 = (rq[0, 3] * rk[0, 7]).sum()
    d2 = (rq[0, 10] * rk[0, 14]).sum()
    assert torch.allclose(d1, d2, atol=1e-5)


def test_extension_points():
    cfg = GPTConfig(n_layer=1, d_model=16, n_head=2, vocab=256, context=8)
    assert "attention" in MIXERS
    lin = make_linear(16, 32, cfg)
    assert isinstance(lin, torch.nn.Linear) and lin.bias is None
    with pytest.raises(ValueError):
        GPTConfig(n_layer=1, d_model=30, n_head=4)
    with pytest.raises(ValueError):
        GPT(GPTConfig(n_layer=1, d_model=16, n_head=2, mixer="nope"))


def test_bf16_autocast_forward_backward():
    model = GPT(GPTConfig(n_layer=1, d_model=32, n_head=2, vocab=256, context=16))
    x = torch.randint(0, 256, (2, 16))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        _, loss = model(x, x)
    loss.backward()
    assert torch.isfinite(loss) and model.embed.weight.grad is not None


def test_generate_shapes():
    model = GPT(GPTConfig(n_layer=1, d_model=16, n_head=2, vocab=256, context=8))
    out = model.generate(torch.zeros(1, 3, dtype=torch.long), 10, generator=torch.Generator().manual_seed(0))
    assert out.shape == (1, 13)
