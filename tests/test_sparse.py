"""Sparse (masked) linear layers: exact zero counts, zeros that stay zero through AdamW with weight
decay, magnitude masks after a dense warm-up, counts that match scaling.flops, a sparse model trains."""

import math

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from scaling import flops  # noqa: E402
from scaling.train import sparse  # noqa: E402
from scaling.train.model import GPT, GPTConfig  # noqa: E402
from scaling.train.sparse import SparseLinear  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_layer_mask_and_forward():
    torch.manual_seed(0)
    layer = SparseLinear(30, 20, 0.75)
    assert int((layer.mask == 0).sum()) == layer.n_zero == round(0.75 * 600)
    assert int((layer.weight == 0).sum()) == layer.n_zero
    assert layer.dense_params == 600 and layer.nonzero_params == 150
    x = torch.randn(4, 30)
    assert torch.allclose(layer(x), x @ (layer.weight * layer.mask).t())
    with pytest.raises(ValueError):
        SparseLinear(4, 4, 1.0)
    with pytest.raises(ValueError):
        SparseLinear(4, 4, 0.5, mask="structured")


def _train(model, steps, *, lr=1e-2, wd=0.1, seed=0, attach=False, x=None):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.decay_groups(wd), lr=lr)
    if attach:
        sparse.attach(model, opt)
    losses = []
    for _ in range(steps):
        xb = x if x is not None else torch.randint(0, model.config.vocab, (4, model.config.context + 1), generator=g)
        _, loss = model(xb[:, :-1], xb[:, 1:])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return opt, losses


@pytest.mark.parametrize("mixer", ["attention", "hyena"])
def test_zeros_stay_zero_through_adamw_with_weight_decay(mixer):
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=2, d_model=32, n_head=2, vocab=64, context=16, mixer=mixer, sparsity=0.5))
    layers = sparse.sparse_layers(model)
    assert len(layers) == 2 * (2 + 2)  # mixer in/out + MLP fc/proj per block
    masks = [layer.mask.clone() for layer in layers]
    masked = sum(layer.n_zero for layer in layers)
    assert sparse.count_zeros(model) == masked
    opt, _ = _train(model, 8, wd=0.5)
    for layer, m in zip(layers, masks):
        assert torch.equal(layer.mask, m)  # fixed mask
        assert torch.all(layer.weight[m == 0] == 0)  # exactly zero, not just small
        assert torch.all(layer.weight[m == 1] != 0)
        st = opt.state[layer.weight]
        assert torch.all(st["exp_avg"][m == 0] == 0) and torch.all(st["exp_avg_sq"][m == 0] == 0)
    pc = model.param_counts()
    want = flops.param_counts(2, 32, 64, 128, mixer=mixer, sparsity=0.5)
    assert pc["nonzero"] == want["nonzero"] and pc["total"] == want["total"]
    assert sparse.param_counts(model)["nonzero"] == pc["nonzero"]


def test_zeros_stay_zero_under_bf16_autocast():
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=1, d_model=32, n_head=2, vocab=64, context=16, sparsity=0.75))
    opt = torch.optim.AdamW(model.decay_groups(0.1), lr=1e-2)
    x = torch.randint(0, 64, (4, 17))
    for _ in range(3):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            _, loss = model(x[:, :-1], x[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert sparse.count_zeros(model) == sum(layer.n_zero for layer in sparse.sparse_layers(model))


def test_init_rescales_kept_weights():
    torch.manual_seed(0)
    dense = GPT(GPTConfig(n_layer=1, d_model=128, n_head=2, vocab=64, context=8))
    torch.manual_seed(0)
    sp = GPT(GPTConfig(n_layer=1, d_model=128, n_head=2, vocab=64, context=8, sparsity=0.75))
    w_d = dense.blocks[0].mlp.fc.weight
    layer = sp.blocks[0].mlp.fc
    kept = layer.weight[layer.mask == 1]
    # each output keeps the dense layer's variance: std of kept weights ~ 2x (1 / sqrt(0.25))
    assert 1.8 < kept.std().item() / w_d.std().item() < 2.2


def test_magnitude_mask_after_dense_warmup():
    torch.manual_seed(0)
    cfg = GPTConfig(
        n_layer=1,
        d_model=32,
        n_head=2,
        vocab=64,
        context=16,
        sparsity=0.5,
        sparsity_mask="magnitude",
        sparsity_dense_steps=3,
    )
    model = GPT(cfg)
    layers = sparse.sparse_layers(model)
    assert sparse.count_zeros(model) == 0 and not any(bool(layer.pruned) for layer in layers)
    x = torch.randint(0, 64, (4, 17))
    with pytest.raises(RuntimeError, match="attach"):
        model(x[:, :-1], x[:, 1:])  # no optimizer hook: loud, not silently dense
    g = torch.Generator().manual_seed(1)
    opt = torch.optim.AdamW(model.decay_groups(0.1), lr=1e-2)
    sparse.attach(model, opt)
    for step in range(1, 9):
        xb = torch.randint(0, 64, (4, 17), generator=g)
        _, loss = model(xb[:, :-1], xb[:, 1:])
        opt.zero_grad()
        loss.backward()
        if step == 3:
            before = [layer.weight.detach().abs().clone() for layer in layers]
        opt.step()
        if step == 3:  # pruned right after the 3rd step, by magnitude of the weights it produced
            for layer, w in zip(layers, before):
                assert bool(layer.pruned)
                kept = layer.weight.detach().abs()[layer.mask == 1]
                dropped_before = w[layer.mask == 0]
                assert kept.numel() == layer.weight.numel() - layer.n_zero
                assert torch.all(layer.weight[layer.mask == 0] == 0)
                assert torch.all(opt.state[layer.weight]["exp_avg"][layer.mask == 0] == 0)
                assert dropped_before.numel() == layer.n_zero
    masks = [layer.mask.clone() for layer in layers]
    for layer, m in zip(layers, masks):
        assert torch.all(layer.weight[m == 0] == 0)
        assert int(layer.steps_seen) == 8
    # the mask and the schedule travel with the state dict (checkpoints, model.pt)
    torch.manual_seed(123)
    fresh = GPT(cfg)
    fresh.load_state_dict(model.state_dict())
    for a, b in zip(sparse.sparse_layers(fresh), layers):
        assert torch.equal(a.mask, b.mask) and bool(a.pruned)
    assert sparse.count_zeros(fresh) == sum(layer.n_zero for layer in layers)


def test_magnitude_mask_keeps_the_largest_weights():
    w = torch.tensor([[0.1, -3.0, 0.5], [2.0, -0.2, 0.05]])
    m = sparse.magnitude_mask(w, 3)
    assert m.tolist() == [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]


def test_state_dict_round_trip_keeps_random_masks():
    torch.manual_seed(0)
    cfg = GPTConfig(n_layer=1, d_model=16, n_head=2, vocab=64, context=8, sparsity=0.5)
    a = GPT(cfg)
    torch.manual_seed(99)
    b = GPT(cfg)
    assert not torch.equal(a.blocks[0].mlp.fc.mask, b.blocks[0].mlp.fc.mask)
    b.load_state_dict(a.state_dict())
    assert torch.equal(a.blocks[0].mlp.fc.mask, b.blocks[0].mlp.fc.mask)


def test_tiny_sparse_model_trains():
    torch.manual_seed(0)
    model = GPT(GPTConfig(n_layer=1, d_model=32, n_head=2, vocab=32, context=32, sparsity=0.75))
    seq = torch.randint(0, 32, (8, 11)).repeat(1, 4)[:, :33]
    _, losses = _train(model, 40, x=seq)
    assert losses[0] > math.log(32) - 0.3 and losses[-1] < 0.6 * losses[0], losses[::10]
    assert sparse.count_zeros(model) == sum(layer.n_zero for layer in sparse.sparse_layers(model))


def test_run_config_reaches_the_model():
    from scaling.store import RunConfig
    from scaling.train.loop import build_model

    base = dict(
        run_id="s",
        n_layer=1,
        d_model=32,
        n_head=2,
        d_ff=128,
        context=16,
        tokens=16 * 4 * 20,
        batch_size=4,
        lr=1e-3,
        sparsity=0.5,
    )
    model = build_model(RunConfig(**base))
    assert model.config.sparsity_mask == "random" and sparse.count_zeros(model) > 0
    cfg = RunConfig(**base, sparsity_mask="magnitude", sparsity_warmup_fraction=0.25)
    model = build_model(cfg)
    assert model.config.sparsity_dense_steps == round(0.25 * cfg.steps) == 5
    assert all(layer.mask_kind == "magnitude" and layer.dense_steps == 5 for layer in sparse.sparse_layers(model))
