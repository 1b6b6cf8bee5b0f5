"""Semi-structured N:M masks (2:4) in the trainer: the exact structure of the mask, zeros that stay
zero through AdamW, magnitude choice within each group after a dense warm-up, a 2:4 model that
learns, and the pattern's way from a sweep spec through the run config to the model."""

import math

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from scaling import flops  # noqa: E402
from scaling.errors import ScalingError  # noqa: E402
from scaling.store import RunConfig, read_config, write_config  # noqa: E402
from scaling.train import sparse  # noqa: E402
from scaling.train.model import GPT, GPTConfig  # noqa: E402
from scaling.train.sparse import SparseLinear  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _groups(mask: torch.Tensor, m: int) -> torch.Tensor:
    """Non-zeros per group of m consecutive inputs, shape (d_out, d_in / m)."""
    d_out, d_in = mask.shape
    return (mask != 0).reshape(d_out, d_in // m, m).sum(-1)


@pytest.mark.parametrize("pattern,n,m", [("2:4", 2, 4), ("1:4", 1, 4), ("4:8", 4, 8), ("2:3", 2, 3)])
@pytest.mark.parametrize("kind", ["random", "magnitude"])
def test_mask_has_exactly_n_of_every_m_along_the_inputs(pattern, n, m, kind):
    torch.manual_seed(0)
    layer = SparseLinear(24, 10, 0.0, pattern=pattern, mask=kind)
    layer.prune_()  # a magnitude mask is set from the weights at hand (a no-op for random)
    assert layer.sparsity == pytest.approx(1 - n / m) and layer.pattern == pattern
    assert torch.all(_groups(layer.mask, m) == n)  # every group, not just the total
    assert sparse.check_nm(layer.mask, n, m)
    assert layer.n_zero == 10 * 24 * (m - n) // m == int((layer.mask == 0).sum()) == int((layer.weight == 0).sum())
    assert layer.nonzero_params == 10 * 24 * n // m
    # the groups run along the input dimension: a transposed reading of the mask is not N:M in general
    x = torch.randn(3, 24)
    assert torch.allclose(layer(x), x @ (layer.weight * layer.mask).t())


def test_random_masks_differ_between_groups_and_follow_the_seed():
    torch.manual_seed(1)
    a = SparseLinear(64, 16, 0.5, pattern="2:4")
    torch.manual_seed(1)
    b = SparseLinear(64, 16, 0.5, pattern="2:4")
    torch.manual_seed(2)
    c = SparseLinear(64, 16, 0.5, pattern="2:4")
    assert torch.equal(a.mask, b.mask) and not torch.equal(a.mask, c.mask)
    # all six ways of keeping 2 of 4 appear among the 256 groups (uniform within a group)
    kept = {tuple(g.tolist()) for g in a.mask.reshape(-1, 4)}
    assert len(kept) == 6


def test_magnitude_nm_keeps_the_largest_of_each_group():
    w = torch.tensor([[0.1, -3.0, 0.5, 0.2, 9.0, 8.0, -7.0, 0.0], [-1.0, 1.5, -0.2, 0.3, 0.0, 0.0, 0.0, 2.0]])
    m = sparse.nm_mask(w.abs(), 2, 4)
    assert m[0].tolist() == [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    assert m[1, :4].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert m[1, 7] == 1 and int(m[1, 4:].sum()) == 2  # a tie among zeros still keeps exactly 2


def test_bad_patterns_are_refused():
    with pytest.raises(ScalingError, match="N:M"):
        SparseLinear(8, 4, 0.5, pattern="4:2")
    with pytest.raises(ScalingError, match="N:M"):
        SparseLinear(8, 4, 0.5, pattern="two:four")
    with pytest.raises(ScalingError, match="disagrees"):
        SparseLinear(8, 4, 0.75, pattern="2:4")
    with pytest.raises(ValueError, match="multiple of 4"):
        SparseLinear(6, 4, 0.5, pattern="2:4")
    with pytest.raises(ScalingError, match="disagrees"):
        GPTConfig(n_layer=1, d_model=16, n_head=2, sparsity=0.25, sparsity_pattern="2:4")


def _train(model, steps, *, lr=1e-2, wd=0.1, seed=0, attach=True, x=None):
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
@pytest.mark.parametrize("kind,dense_steps", [("random", 0), ("magnitude", 3)])
def test_masked_weights_stay_zero_and_the_mask_stays_2_4(mixer, kind, dense_steps):
    torch.manual_seed(0)
    cfg = GPTConfig(
        n_layer=2,
        d_model=32,
        n_head=2,
        vocab=64,
        context=16,
        mixer=mixer,
        sparsity_pattern="2:4",
        sparsity_mask=kind,
        sparsity_dense_steps=dense_steps,
    )
    assert cfg.sparsity == 0.5
    model = GPT(cfg)
    layers = sparse.sparse_layers(model)
    assert len(layers) == 2 * (2 + 2) and all(layer.pattern == "2:4" for layer in layers)
    opt, _ = _train(model, 4, wd=0.5)  # the magnitude mask is set after step 3 (within each group)
    masks = [layer.mask.clone() for layer in layers]
    for m in masks:
        assert sparse.check_nm(m, 2, 4)
    opt2 = opt
    for _ in range(6):  # more steps under weight decay and clipping: the same mask, still exact zeros
        xb = torch.randint(0, 64, (4, 17))
        _, loss = model(xb[:, :-1], xb[:, 1:])
        opt2.zero_grad()
        loss.backward()
        opt2.step()
    for layer, m in zip(layers, masks):
        assert torch.equal(layer.mask, m)
        assert torch.all(layer.weight[m == 0] == 0)  # exactly zero
        assert torch.all(layer.weight[m == 1] != 0)
        assert sparse.check_nm((layer.weight != 0).float(), 2, 4)  # the weights themselves are 2:4
        st = opt.state[layer.weight]
        assert torch.all(st["exp_avg"][m == 0] == 0) and torch.all(st["exp_avg_sq"][m == 0] == 0)
    # counted like unstructured sparsity of the same density (scaling.flops)
    pc = model.param_counts()
    want = flops.param_counts(2, 32, 64, 128, mixer=mixer, pattern="2:4")
    assert pc["nonzero"] == want["nonzero"] == flops.param_counts(2, 32, 64, 128, mixer=mixer, sparsity=0.5)["nonzero"]
    assert sparse.count_zeros(model) == sum(layer.n_zero for layer in layers)


def test_tiny_2_4_model_learns():
    """A one-layer 2:4 model (magnitude masks after 20 dense steps) learns a repeating sequence: the
    loss falls from about ln(vocab) to a small fraction of it over 300 steps, the mask stays 2:4."""
    torch.manual_seed(0)
    cfg = GPTConfig(
        n_layer=1,
        d_model=32,
        n_head=2,
        vocab=32,
        context=32,
        sparsity_pattern="2:4",
        sparsity_mask="magnitude",
        sparsity_dense_steps=20,
    )
    model = GPT(cfg)
    seq = torch.randint(0, 32, (8, 11)).repeat(1, 4)[:, :33]
    _, losses = _train(model, 300, lr=3e-3, x=seq)
    assert losses[0] > math.log(32) - 0.3, losses[:3]
    assert sum(losses[-10:]) / 10 < 0.25 * losses[0], losses[::30]
    assert losses[25] < losses[19] + 0.5  # pruning to 2:4 after step 20 does not undo the learning
    for layer in sparse.sparse_layers(model):
        assert bool(layer.pruned) and sparse.check_nm(layer.mask, 2, 4)
        assert torch.all(layer.weight[layer.mask == 0] == 0)


# ---------------------------------------------------------------------------------------------
# the pattern through the run config and the sweep spec


BASE = dict(
    run_id="nm", n_layer=1, d_model=32, n_head=2, d_ff=128, context=16, tokens=16 * 4 * 20, batch_size=4, lr=1e-3
)


def test_run_config_round_trip_and_reaching_the_model(tmp_path):
    from scaling.train.loop import build_model

    cfg = RunConfig(**BASE, sparsity_pattern="2:4", sparsity_mask="magnitude", sparsity_warmup_fraction=0.25)
    assert cfg.sparsity == 0.5 and cfg.sparsity_pattern == "2:4"
    write_config(tmp_path / "nm", cfg)
    back = read_config(tmp_path / "nm")
    assert back == cfg and back.identity() == cfg.identity()
    assert RunConfig.model_validate_json(cfg.model_dump_json()) == cfg
    assert RunConfig(**BASE, sparsity=0.5, sparsity_pattern=" 2:4 ") == RunConfig(**BASE, sparsity_pattern="2:4")
    # dense and unstructured configs are what they were (no pattern in their identity's values)
    assert RunConfig(**BASE).sparsity_pattern is None and RunConfig(**BASE).sparsity == 0.0
    assert RunConfig(**BASE, sparsity=0.5).sparsity_pattern is None
    model = build_model(cfg)
    layers = sparse.sparse_layers(model)
    assert model.config.sparsity_pattern == "2:4" and model.config.sparsity_dense_steps == 5
    assert all(layer.pattern == "2:4" and layer.mask_kind == "magnitude" for layer in layers)
    model = build_model(RunConfig(**BASE, sparsity_pattern="1:4"))
    assert all(sparse.check_nm(layer.mask, 1, 4) for layer in sparse.sparse_layers(model))
    assert model.config.sparsity == 0.75


@pytest.mark.parametrize(
    "change,expect",
    [
        (dict(sparsity_pattern="3:2"), "N:M"),
        (dict(sparsity=0.25, sparsity_pattern="2:4"), "disagrees"),
        (dict(d_ff=126, sparsity_pattern="2:4"), "d_ff 126 is not a multiple of 4"),
        (dict(sparsity_pattern="3:8", d_model=36, n_head=2, d_ff=144), "d_model 36 is not a multiple of 8"),
    ],
)
def test_run_config_refuses_a_bad_pattern(change, expect):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=expect):
        RunConfig(**{**BASE, **change})


def test_sweep_spec_asks_for_2_4_and_its_runs_carry_it():
    from scaling.sweep import parse_spec

    spec = {
        "kind": "list",
        "model": {
            "context": 64,
            "sparsity_pattern": "2:4",
            "sparsity_mask": "magnitude",
            "sparsity_warmup_fraction": 0.1,
        },
        "runs": [{"n_layer": 1, "d_model": 32, "flops": 1e11}, {"params": 3e4, "flops": 1e11}],
    }
    runs = parse_spec(spec).expand()
    assert runs and all(r.sparsity == 0.5 and r.sparsity_pattern == "2:4" for r in runs)
    assert all(r.sparsity_mask == "magnitude" for r in runs)
    unstructured = parse_spec({**spec, "model": {**spec["model"], "sparsity_pattern": None, "sparsity": 0.5}}).expand()
    # the same FLOPs and tokens as unstructured sparsity of the same density: only where the zeros sit differs
    assert [(r.trained_tokens, r.flops_per_token()) for r in runs] == [
        (r.trained_tokens, r.flops_per_token()) for r in unstructured
    ]
    with pytest.raises(ScalingError, match="sparsity_pattern"):
        parse_spec({**spec, "model": {**spec["model"], "sparsity_pattern": "5:4"}})
    with pytest.raises(ScalingError, match="disagrees"):
        parse_spec({**spec, "model": {**spec["model"], "sparsity": 0.75}})
