"""The LiGO operator on the project's decoder: tiny models, a few steps."""

import sysconfig
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from scaling import store  # noqa: E402
from scaling.errors import ScalingError  # noqa: E402
from scaling.growth.baselines import grow_hyperclone_stack, stack_depth  # noqa: E402
from scaling.growth.checkpoint import as_config, check_growth, load_small  # noqa: E402
from scaling.growth.cost import materialize_flops, operator_flops  # noqa: E402
from scaling.growth.ligo import LiGO, check_token_count, grow_ligo, held_out_loss, left_inverse, train_operator  # noqa: E402
from scaling.growth.spec import load_growth_spec  # noqa: E402
from scaling.shapes import ModelShape  # noqa: E402
from scaling.train.model import GPT, GPTConfig  # noqa: E402

pytestmark = pytest.mark.torch

ROOT = Path(__file__).resolve().parents[1]
CTX = 32
SMALL = GPTConfig(n_layer=2, d_model=32, n_head=2, d_ff=64, context=CTX)


@pytest.fixture(scope="module")
def text_tokens():
    """Real text as byte tokens: a few standard-library sources (no corpus preparation needed)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    raw = b"".join((root / name).read_bytes() for name in ("functools.py", "textwrap.py", "argparse.py"))
    return np.frombuffer(raw, dtype=np.uint8).astype(np.uint16)


def _small_model(seed=0):
    torch.manual_seed(seed)
    model = GPT(SMALL)
    with torch.no_grad():  # non-trivial norm weights, so norm handling is tested too
        for p in model.parameters():
            if p.dim() == 1:
                p.add_(0.3 * torch.randn_like(p))
    return model


@pytest.fixture(scope="module")
def trained_small(text_tokens):
    """A small model trained for a few dozen steps (a minimal loop: enough to be better than chance)."""
    from scaling.train.data import batch_offsets, gather

    torch.manual_seed(0)
    model = GPT(SMALL)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for step in range(40):
        x, y = gather(text_tokens, batch_offsets(len(text_tokens), CTX, 16, 0, step), CTX)
        _, loss = model(torch.from_numpy(x), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.state_dict()


def _logits(cfg, state, x):
    model = GPT(cfg)
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        return model(x)[0]


X = torch.randint(0, 256, (2, CTX), generator=torch.Generator().manual_seed(1))


def test_materialised_model_equals_operator_output(text_tokens):
    large = GPTConfig(n_layer=3, d_model=48, n_head=3, d_ff=96, context=CTX)
    op = LiGO(SMALL, _small_model().state_dict(), large, noise=0.05, seed=3)
    train_operator(op, text_tokens, steps=3, batch_size=4, context=CTX, lr=1e-2, check_tokens=512)
    template = op.template()
    template.eval()
    with torch.no_grad():
        via_operator = torch.func.functional_call(template, op(), (X,))[0]
    state = op.materialize()
    assert set(state) == set(GPT(large).state_dict())
    assert torch.allclose(_logits(large, state, X), via_operator, atol=1e-5, rtol=1e-5)


def test_zero_steps_no_noise_is_stacking():
    small = _small_model()
    st = small.state_dict()
    # depth only: exactly G_stack's weights
    deep = GPTConfig(n_layer=5, d_model=32, n_head=2, d_ff=64, context=CTX)
    state, report = grow_ligo(SMALL, st, deep, steps=0, noise=0.0)
    assert report is None
    _, stacked = stack_depth(SMALL, st, 5)
    assert set(state) == set(stacked)
    for k in state:
        assert torch.equal(state[k], stacked[k]), k
    # depth and (integer) width: the same function as HyperCloning width + G_stack depth
    big = GPTConfig(n_layer=3, d_model=64, n_head=4, d_ff=100, context=CTX)
    state, _ = grow_ligo(SMALL, st, big, steps=0, noise=0.0, seed=5)
    assert torch.allclose(_logits(big, state, X), _logits(big, grow_hyperclone_stack(SMALL, st, big), X), atol=1e-5)
    # width only: LiGO's initial point is function-preserving
    wide = GPTConfig(n_layer=2, d_model=64, n_head=4, d_ff=128, context=CTX)
    state, _ = grow_ligo(SMALL, st, wide, steps=0, noise=0.0, seed=7)
    assert torch.allclose(_logits(wide, state, X), _logits(SMALL, st, X), atol=1e-5)


def test_operator_training_lowers_the_loss_and_touches_only_the_operator(trained_small, text_tokens):
    large = GPTConfig(n_layer=3, d_model=48, n_head=3, d_ff=96, context=CTX)
    op = LiGO(SMALL, trained_small, large, noise=0.01, seed=0)
    small_before = {k: v.clone() for k, v in op.named_buffers()}
    trainable = {n for n, p in op.named_parameters() if p.requires_grad}
    assert all(n.startswith(("depth_", "res_new", "q_new", "k_new", "v_new", "ffn_new")) for n in trainable)
    train, held_out = text_tokens[:-20_000], text_tokens[-20_000:]
    rep = train_operator(
        op, train, steps=25, batch_size=8, context=CTX, lr=1e-2, seed=0, held_out=held_out, check_tokens=8192
    )
    assert rep.final_loss < rep.initial_loss - 0.02
    assert rep.steps == 25 and rep.tokens == 25 * 8 * CTX and rep.flops > 0
    # the before/after loss is measured on 8,192 held-out tokens (256 windows), not on one batch
    assert rep.check_tokens == 8192 and rep.check_split == "held-out"
    for k, v in op.named_buffers():
        assert torch.equal(v, small_before[k]), f"small weight {k} changed"


@pytest.mark.parametrize(
    "large",
    [
        GPTConfig(n_layer=3, d_model=48, n_head=3, d_ff=100, context=CTX),  # x1.5 depth, x1.5 width
        GPTConfig(n_layer=2, d_model=80, n_head=5, d_ff=136, context=CTX),  # x2.5 width
        GPTConfig(n_layer=7, d_model=32, n_head=2, d_ff=64, context=CTX),  # x3.5 depth
    ],
)
def test_non_integer_growth_factors(large, text_tokens):
    op = LiGO(SMALL, _small_model().state_dict(), large, noise=0.01, seed=1)
    rep = train_operator(op, text_tokens, steps=2, batch_size=4, context=CTX, lr=1e-3, check_tokens=512)
    assert np.isfinite(rep.final_loss)
    state = op.materialize()
    logits = _logits(large, state, X)
    assert logits.shape == (2, CTX, 256) and torch.isfinite(logits).all()


def test_left_inverse_reads_split_duplicated_units():
    op = LiGO(
        SMALL, _small_model().state_dict(), GPTConfig(n_layer=2, d_model=64, n_head=4, d_ff=64, context=CTX), noise=0.0
    )
    B = op.residual_expansion()
    assert torch.equal(B[:32], torch.eye(32))
    assert torch.allclose(B.sum(0), torch.full((32,), 2.0))  # every coordinate copied once


def test_bad_shapes_are_one_line_errors():
    with pytest.raises(ScalingError, match="smaller than the small one"):
        check_growth(SMALL, GPTConfig(n_layer=1, d_model=32, n_head=2, d_ff=64))
    with pytest.raises(ScalingError, match="smaller than the small one"):
        check_growth(SMALL, GPTConfig(n_layer=2, d_model=16, n_head=1, d_ff=64))
    with pytest.raises(ScalingError, match="incompatible head counts"):
        check_growth(SMALL, GPTConfig(n_layer=2, d_model=64, n_head=2, d_ff=128))  # heads of 32, not 16
    with pytest.raises(ScalingError, match="vocabulary"):
        check_growth(SMALL, GPTConfig(n_layer=2, d_model=64, n_head=4, vocab=512))
    for exc in (ScalingError,):
        try:
            check_growth(SMALL, GPTConfig(n_layer=2, d_model=64, n_head=2, d_ff=128))
        except exc as e:
            assert "\n" not in str(e)


def test_checkpoints_from_elsewhere_are_refused(tmp_path):
    small = _small_model()
    # a run directory as the training loop writes it loads (weights_only)
    good = tmp_path / "good"
    good.mkdir()
    cfg = store.RunConfig(
        run_id="good", n_layer=2, d_model=32, n_head=2, d_ff=64, context=CTX, tokens=1000, batch_size=2, lr=1e-3
    )
    store.write_config(good, cfg)
    torch.save(small.state_dict(), good / store.MODEL)
    c, st = load_small(good)
    assert c.d_model == 32 and set(st) == set(small.state_dict())
    # another architecture's weights under our config
    other = tmp_path / "other"
    other.mkdir()
    store.write_config(other, cfg.model_copy(update={"run_id": "other"}))
    torch.save(
        {"transformer.wte.weight": torch.zeros(256, 32), "lm_head.weight": torch.zeros(256, 32)}, other / store.MODEL
    )
    with pytest.raises(ScalingError, match="not a checkpoint of this project's decoder"):
        load_small(other)
    # the right names with the wrong shapes
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    store.write_config(wrong, cfg.model_copy(update={"run_id": "wrong"}))
    torch.save(GPT(GPTConfig(n_layer=2, d_model=48, n_head=3, d_ff=64, context=CTX)).state_dict(), wrong / store.MODEL)
    with pytest.raises(ScalingError, match="does not match"):
        load_small(wrong)
    # a Hyena run is refused before its weights are read
    hyena = tmp_path / "hyena"
    hyena.mkdir()
    store.write_config(hyena, cfg.model_copy(update={"run_id": "hyena", "mixer": "hyena"}))
    with pytest.raises(ScalingError, match="attention decoder only"):
        load_small(hyena)

    # a pickle with code is not loaded (weights_only)
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "evil.pt"
    torch.save({"config": {"n_layer": 2}, "model": Evil()}, bad)
    with pytest.raises(ScalingError, match="weights-only"):
        load_small(bad)
    with pytest.raises(ScalingError, match="no such small model"):
        load_small(tmp_path / "missing.pt")


def test_operator_flops_count_matches_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    large = GPTConfig(n_layer=3, d_model=64, n_head=4, d_ff=160, context=CTX)
    op = LiGO(SMALL, _small_model().state_dict(), large, noise=0.01)
    with FlopCounterMode(display=False) as counter:
        op()
    measured = counter.get_total_flops()  # matmuls only (solves are not counted)
    ours = materialize_flops(ModelShape(2, 32, 2, 64, 256, CTX), ModelShape(3, 64, 4, 160, 256, CTX))
    assert measured <= ours <= 1.6 * measured
    small_shape, large_shape = ModelShape(2, 32, 2, 64, 256, CTX), ModelShape(3, 64, 4, 160, 256, CTX)
    per_step = large_shape.flops_per_token("6nd") * 256 + 3 * ours
    assert operator_flops(small_shape, large_shape, steps=10, tokens_per_step=256) == pytest.approx(10 * per_step)


def test_the_check_loss_is_the_runs_held_out_evaluation(text_tokens):
    """The operator's before/after loss is the training loop's evaluation of the grown model on
    the same fixed held-out windows (so it compares with any run's curve and across methods)."""
    from scaling.train.loop import evaluate

    large = GPTConfig(n_layer=3, d_model=48, n_head=3, d_ff=96, context=CTX)
    op = LiGO(SMALL, _small_model().state_dict(), large, noise=0.01, seed=2)
    train, held_out = text_tokens[:-20_000], text_tokens[-20_000:]
    model = GPT(large)
    model.load_state_dict(op.materialize())
    want = evaluate(model, held_out, 4096, batch_size=16, device=torch.device("cpu"))
    rep = train_operator(op, train, steps=0, batch_size=16, context=CTX, held_out=held_out, check_tokens=4096)
    assert rep.initial_loss == pytest.approx(want, rel=1e-6) and rep.final_loss == rep.initial_loss
    assert held_out_loss(GPT(large), op.materialize(), held_out, 4096, batch_size=16, device="cpu") == (
        pytest.approx(want, rel=1e-6)
    )
    assert check_token_count(len(held_out), CTX, 4096) == 4096
    assert check_token_count(100, CTX, 4096) == 2 * CTX  # a short split: the windows it holds
    # without a held-out split the same windows of the training split are used, and said so
    rep = train_operator(op, train, steps=0, batch_size=16, context=CTX, check_tokens=4096)
    assert rep.check_split == "training" and rep.check_tokens == 4096


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _expansions(op):
    hq, hk, hv = op.head_expansions()
    return {"B": op.residual_expansion(), "H_v": hv, "F": op.ffn_expansion()}


def test_left_inverse_at_the_growth_cpu_shapes_with_two_threads(two_threads, text_tokens):
    """sweeps/growth-cpu.toml's shapes (4 x 64 -> 5 x 128, d_ff 256 -> 320) with 2 torch threads:
    the batched LU solve of this torch build fails there ("Pivots given to lu_solve ..."), or
    returns a wrong inverse at other sizes; the Cholesky solve is exact to fp32 rounding, forward
    and backward, and one operator step runs."""
    spec = load_growth_spec(ROOT / "sweeps" / "growth-cpu.toml")
    small_shape, large_shape = spec.shapes()
    small, large = as_config(small_shape), as_config(large_shape)
    assert (small.n_layer, small.d_model, small.d_ff, large.n_layer, large.d_model, large.d_ff) == (
        4, 64, 256, 5, 128, 320
    )  # fmt: skip
    torch.manual_seed(0)
    op = LiGO(small, GPT(small).state_dict(), large, noise=0.01, seed=0)
    for name, m in _expansions(op).items():
        li = left_inverse(m.detach())
        eye = torch.eye(m.shape[-1]).expand(li.shape[:-2] + (m.shape[-1], m.shape[-1]))
        assert torch.allclose(li @ m.detach(), eye, atol=1e-4), name
        ref = torch.linalg.pinv(m.detach().double())  # fp64 reference
        assert torch.allclose(li.double(), ref, atol=1e-5), name
    # the operator's forward and backward through the left inverses at these shapes
    x = torch.from_numpy(text_tokens[: 2 * 65].astype(np.int64)).reshape(2, 65)
    loss = op.loss(op.template(), x[:, :-1], x[:, 1:])
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in op.parameters())
    rep = train_operator(op, text_tokens, steps=1, batch_size=2, context=64, held_out=text_tokens, check_tokens=512)
    assert np.isfinite(rep.initial_loss) and np.isfinite(rep.final_loss)


def test_left_inverse_gradient_is_exact():
    m = torch.cat([torch.eye(4), torch.rand(3, 4, generator=torch.Generator().manual_seed(0))]).double()
    m.requires_grad_(True)
    assert torch.autograd.gradcheck(left_inverse, (m,))
    batch = m.detach().expand(3, 7, 4).clone().requires_grad_(True)
    assert torch.autograd.gradcheck(left_inverse, (batch,))
