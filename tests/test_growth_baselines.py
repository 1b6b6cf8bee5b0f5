"""Growth baselines: G_stack (depth), HyperCloning (function-preserving width) and their hybrids."""

import pytest

torch = pytest.importorskip("torch")

from scaling.errors import ScalingError  # noqa: E402
from scaling.growth.baselines import (  # noqa: E402
    deepen_identity,
    grow_baseline,
    grow_hyperclone,
    grow_hyperclone_identity,
    grow_hyperclone_stack,
    grow_stack,
    identity_layer_order,
    stack_depth,
    widen,
)
from scaling.train.model import GPT, GPTConfig  # noqa: E402

pytestmark = pytest.mark.torch

CTX = 24
SMALL = GPTConfig(n_layer=2, d_model=32, n_head=2, d_ff=64, context=CTX)
X = torch.randint(0, 256, (3, CTX), generator=torch.Generator().manual_seed(0))


def _small_state(seed=0):
    torch.manual_seed(seed)
    model = GPT(SMALL)
    with torch.no_grad():  # LayerNorm weights away from 1, larger weights: a demanding function
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p)) if p.dim() == 1 else p.mul_(3.0)
    return model.state_dict()


def _logits(cfg, state, x=X):
    model = GPT(cfg)
    model.load_state_dict(state)  # strict: the grown dict is a complete, ordinary state dict
    model.eval()
    with torch.no_grad():
        return model(x)[0]


@pytest.mark.parametrize(
    "large",
    [
        GPTConfig(n_layer=2, d_model=64, n_head=4, d_ff=128, context=CTX),  # x2 width
        GPTConfig(n_layer=2, d_model=96, n_head=6, d_ff=100, context=CTX),  # x3 residual, non-integer FFN
        GPTConfig(n_layer=5, d_model=64, n_head=4, d_ff=160, context=CTX),  # depth x2.5 and width
        GPTConfig(n_layer=3, d_model=32, n_head=2, d_ff=64, context=CTX),  # depth only
    ],
)
@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_function_preserving_growth_preserves_logits(large, noise):
    st = _small_state()
    ref = _logits(SMALL, st)
    grown = grow_hyperclone_identity(SMALL, st, large, symmetry_noise=noise, seed=1)
    out = _logits(large, grown)
    assert torch.allclose(out, ref, atol=2e-5, rtol=1e-5), (out - ref).abs().max()
    if large.n_layer == SMALL.n_layer:  # width only: HyperCloning itself, the same weights
        clone = grow_hyperclone(SMALL, st, large, symmetry_noise=noise, seed=1)
        assert all(torch.equal(clone[k], grown[k]) for k in grown)


def test_symmetry_noise_breaks_the_copies_apart():
    st = _small_state()
    large = GPTConfig(n_layer=2, d_model=64, n_head=4, d_ff=128, context=CTX)
    plain = grow_hyperclone(SMALL, st, large, symmetry_noise=0.0, seed=2)
    noisy = grow_hyperclone(SMALL, st, large, symmetry_noise=0.1, seed=2)
    w0, w1 = plain["blocks.0.mlp.fc.weight"], noisy["blocks.0.mlp.fc.weight"]
    # without noise a residual coordinate and its copy are read identically; with noise they are not
    assert torch.equal(w0[:, :32], w0[:, 32:])
    assert not torch.allclose(w1[:, :32], w1[:, 32:])
    # ... but their sums (all that matters for identical inputs) are the same
    assert torch.allclose(w1[:, :32] + w1[:, 32:], w0[:, :32] + w0[:, 32:], atol=1e-6)
    # and one gradient step separates the copies' write weights too
    model = GPT(large)
    model.load_state_dict(noisy)
    y = torch.randint(0, 256, X.shape)
    _, loss = model(X, y)
    loss.backward()
    g = model.blocks[0].mlp.proj.weight.grad
    assert not torch.allclose(g[:32], g[32:])


def test_non_integer_residual_width_is_refused_unless_inexact():
    st = _small_state()
    large = GPTConfig(n_layer=2, d_model=48, n_head=3, d_ff=64, context=CTX)
    with pytest.raises(ScalingError, match="integer factor"):
        widen(SMALL, st, large)
    _, approx = widen(SMALL, st, large, exact=False)
    out = _logits(large, approx)
    assert torch.isfinite(out).all() and out.shape == (3, CTX, 256)


def test_stacking_repeats_the_layers_in_order():
    st = _small_state()
    cfg, stacked = stack_depth(SMALL, st, 5)
    assert cfg.n_layer == 5
    for l, j in enumerate([0, 1, 0, 1, 0]):
        for name in ("norm1.weight", "mixer.qkv.weight", "mixer.proj.weight", "mlp.fc.weight", "mlp.proj.weight"):
            assert torch.equal(stacked[f"blocks.{l}.{name}"], st[f"blocks.{j}.{name}"])
    assert torch.equal(stacked["embed.weight"], st["embed.weight"])
    # G_stack itself: the same layers
    deep = GPTConfig(n_layer=5, d_model=32, n_head=2, d_ff=64, context=CTX)
    assert all(torch.equal(v, stacked[k]) for k, v in grow_stack(SMALL, st, deep).items())
    # the hybrid with width growth: HyperCloning's width (function-preserving), then stacked
    large = GPTConfig(n_layer=4, d_model=64, n_head=4, d_ff=128, context=CTX)
    grown = grow_hyperclone_stack(SMALL, st, large, symmetry_noise=0.0)
    assert all(torch.equal(v, grown[k]) for k, v in grow_baseline("hyperclone-stack", SMALL, st, large).items())
    _, twice = stack_depth(SMALL, st, 4)
    assert torch.allclose(
        _logits(large, grown), _logits(GPTConfig(**{**SMALL.to_dict(), "n_layer": 4}), twice), atol=2e-5
    )


def test_identity_blocks():
    assert identity_layer_order(4, 5) == [(0, False), (0, True), (1, False), (2, False), (3, False)]
    assert [j for j, _ in identity_layer_order(2, 6)] == [0, 0, 0, 1, 1, 1]
    st = _small_state()
    cfg, deep = deepen_identity(SMALL, st, 6)
    assert torch.allclose(_logits(cfg, deep), _logits(SMALL, st), atol=2e-5)
    assert torch.count_nonzero(deep["blocks.1.mixer.proj.weight"]) == 0
    assert torch.count_nonzero(deep["blocks.1.mlp.fc.weight"]) > 0


def test_each_baseline_grows_only_what_its_paper_grows():
    st = _small_state()
    both = GPTConfig(n_layer=3, d_model=64, n_head=4, d_ff=128, context=CTX)
    # G_stack (Du et al. 2024) stacks layers: no width growth
    with pytest.raises(ScalingError, match="G_stack .* depth only.*hyperclone-stack"):
        grow_stack(SMALL, st, both)
    with pytest.raises(ScalingError, match="depth only"):
        grow_baseline("stack", SMALL, st, GPTConfig(n_layer=2, d_model=32, n_head=2, d_ff=96, context=CTX))
    # HyperCloning (Samragh et al. 2024) widens: no depth growth
    with pytest.raises(ScalingError, match="HyperCloning .* width only.*hyperclone-identity"):
        grow_hyperclone(SMALL, st, both)
    # the hybrids grow both
    for method in ("hyperclone-stack", "hyperclone-identity"):
        assert _logits(both, grow_baseline(method, SMALL, st, both)).shape == (3, CTX, 256)


def test_bad_input():
    st = _small_state()
    with pytest.raises(ScalingError, match="smaller"):
        grow_hyperclone(SMALL, st, GPTConfig(n_layer=1, d_model=32, n_head=2, d_ff=64))
    with pytest.raises(ScalingError, match="incompatible head counts"):
        grow_hyperclone_stack(SMALL, st, GPTConfig(n_layer=2, d_model=64, n_head=2, d_ff=128))
    with pytest.raises(ScalingError, match="not a checkpoint"):
        grow_stack(SMALL, {"foo": torch.zeros(2)}, GPTConfig(n_layer=4, d_model=32, n_head=2, d_ff=64))
    with pytest.raises(ScalingError, match="unknown growth baseline"):
        grow_baseline("magic", SMALL, st, SMALL)
