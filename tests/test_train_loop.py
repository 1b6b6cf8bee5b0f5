"""The training loop and the corpus: exact resume, divergence, FLOP accounting, schedule, split."""

import math
import shutil
import sysconfig
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from scaling import flops  # noqa: E402
from scaling.errors import ScalingError  # noqa: E402
from scaling.store import RunConfig, collect, read_curve, read_journal  # noqa: E402
from scaling.train import corpus as C  # noqa: E402
from scaling.train import data as D  # noqa: E402
from scaling.train import tokens as T  # noqa: E402
from scaling.train.checkpoint import load_model  # noqa: E402
from scaling.train.loop import train  # noqa: E402
from scaling.train.schedule import eval_steps, lr_at  # noqa: E402

STDLIB = Path(sysconfig.get_paths()["stdlib"])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small corpus (about 1 MB): a few standard-library packages, copied so that tests may edit it."""
    root = tmp_path_factory.mktemp("corpus")
    for pkg in ("json", "email", "collections", "logging", "http"):
        shutil.copytree(STDLIB / pkg, root / pkg, ignore=shutil.ignore_patterns("__pycache__", "test*"))
    return root


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("data")


def cfg(corpus, run_id="r", **kw):
    base = dict(
        sweep="t",
        run_id=run_id,
        n_layer=2,
        d_model=32,
        n_head=2,
        d_ff=128,
        context=64,
        tokens=16 * 64 * 40,
        batch_size=16,
        lr=3e-3,
        corpus=str(corpus),
        eval_points=4,
        eval_tokens=2048,
        final_eval_tokens=8192,
        threads=1,
        save_model=False,
    )
    base.update(kw)
    return RunConfig(**base)


def test_resume_equals_uninterrupted(corpus, data_dir, tmp_path):
    data = T.prepare(str(corpus), data_dir=data_dir)
    a = train(cfg(corpus, "a"), tmp_path / "t" / "a", data=data)
    assert train(cfg(corpus, "b"), tmp_path / "t" / "b", data=data, stop_after_steps=17) is None
    assert (tmp_path / "t" / "b" / "checkpoint.pt").exists()
    b = train(cfg(corpus, "b"), tmp_path / "t" / "b", data=data)
    assert a.status == b.status == "ok" and b.resumes == 1
    assert abs(a.loss - b.loss) < 1e-6
    ca, cb = read_curve(tmp_path / "t" / "a"), read_curve(tmp_path / "t" / "b")
    assert np.allclose(
        ca[["step", "tokens", "lr", "train_loss", "val_loss"]],
        cb[["step", "tokens", "lr", "train_loss", "val_loss"]],
        rtol=0,
        atol=1e-6,
    )
    assert not (tmp_path / "t" / "b" / "checkpoint.pt").exists()
    # a finished run is not trained again
    again = train(cfg(corpus, "b"), tmp_path / "t" / "b", data=data)
    assert again.finished_at == b.finished_at
    events = read_journal(tmp_path / "t")
    assert list(events[events.run_id == "b"].event) == ["start", "resume", "finish"]


def test_diverged_run_is_failed_and_left_out(corpus, data_dir, tmp_path):
    data = T.prepare(str(corpus), data_dir=data_dir)
    ok = train(cfg(corpus, "ok", tokens=16 * 64 * 8), tmp_path / "s" / "ok", data=data)
    bad = train(cfg(corpus, "bad", lr=50.0, tokens=16 * 64 * 8), tmp_path / "s" / "bad", data=data)
    assert ok.status == "ok"
    assert bad.status == "failed" and "diverged" in bad.reason and bad.loss is None
    table = collect(tmp_path / "s")
    assert list(table.run_id) == ["ok"]
    both = collect(tmp_path / "s", include_failed=True)
    assert set(both.status) == {"ok", "failed"}


@pytest.mark.parametrize("convention", ["6nd", "palm", "chinchilla"])
def test_recorded_flops_equal_flops_py(corpus, data_dir, convention):
    data = T.prepare(str(corpus), data_dir=data_dir)
    c = cfg(corpus, tokens=16 * 64 * 5, flops_convention=convention, eval_points=1)
    res = train(c, data=data)
    want = flops.training_flops(2, 32, 64, 256, 16 * 64 * 5, d_ff=128, n_head=2, convention=convention)
    assert res.tokens == 16 * 64 * 5 and res.steps == 5
    assert res.flops == pytest.approx(float(want), rel=1e-12)
    assert res.params == int(flops.param_counts(2, 32, 256, 128)["total"])
    assert res.tokens_per_s > 0 and res.flops_per_s > 0 and 0 < res.mfu < 5


def test_schedule_ends_at_the_budget():
    for schedule in ("cosine", "wsd", "linear"):
        c = RunConfig(
            run_id="x",
            n_layer=1,
            d_model=16,
            n_head=2,
            d_ff=64,
            tokens=100 * 8 * 256,
            batch_size=8,
            lr=1e-3,
            schedule=schedule,
            warmup_fraction=0.1,
            min_lr_ratio=0.1,
        )
        lrs = [lr_at(s, c) for s in range(c.steps)]
        assert c.steps == 100
        assert lrs[0] == pytest.approx(1e-4) and max(lrs) == pytest.approx(1e-3)
        assert lrs[-1] == pytest.approx(1e-4)  # min_lr exactly at the last step
        assert all(b <= a + 1e-15 for a, b in zip(lrs[10:], lrs[11:]))
    assert eval_steps(c)[-1] == 100 and len(eval_steps(c)) == c.eval_points


def test_split_fingerprint_and_batches(corpus, data_dir, tmp_path):
    docs = C.list_documents(str(corpus))
    held = [d.name for d in docs if C.is_validation(d.name, 0.2)]
    assert 0 < len(held) < len(docs)
    assert held == [d.name for d in C.list_documents(str(corpus)) if C.is_validation(d.name, 0.2)]
    a = T.prepare(str(corpus), data_dir=data_dir)
    assert a.fingerprint.startswith("sha256:") and a.meta["val_documents"] >= 1
    assert T.prepare(str(corpus), data_dir=data_dir).path == a.path  # cached
    # editing one document changes the fingerprint
    copy = tmp_path / "c"
    shutil.copytree(corpus, copy)
    b = T.prepare(str(copy), data_dir=tmp_path / "d")
    assert b.fingerprint == a.fingerprint
    (copy / "json" / "__init__.py").write_text("changed")
    assert T.prepare(str(copy), data_dir=tmp_path / "d").fingerprint != a.fingerprint
    # the batch of a step depends on (seed, step) only
    o1 = D.batch_offsets(len(a.train), 64, 8, seed=3, step=11)
    assert np.array_equal(o1, D.batch_offsets(len(a.train), 64, 8, seed=3, step=11))
    assert not np.array_equal(o1, D.batch_offsets(len(a.train), 64, 8, seed=3, step=12))
    x, y = D.gather(a.train, o1, 64)
    assert x.shape == (8, 64) and np.array_equal(x[:, 1:], y[:, :-1])


def test_bpe_tokenizer(corpus, data_dir):
    pytest.importorskip("tokenizers")
    d = T.prepare(str(corpus / "json"), "bpe:300", data_dir=data_dir)
    assert d.vocab == 300 and int(d.train.max()) < 300
    tok = T.load_tokenizer(d)
    assert tok.decode(tok.encode("import json\n").ids) == "import json\n"


def test_missing_default_corpus_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(C, "_debian_roots", lambda data_dir: [tmp_path / "nothing"])
    with pytest.raises(ScalingError) as err:
        T.prepare("debian-docs", data_dir=tmp_path)
    assert "scaling data fetch" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ScalingError, match="not a file"):
        C.list_documents(str(tmp_path / "missing"))


def test_saved_model_reloads(corpus, data_dir, tmp_path):
    data = T.prepare(str(corpus), data_dir=data_dir)
    c = cfg(corpus, "m", tokens=16 * 64 * 3, eval_points=1, save_model=True)
    res = train(c, tmp_path / "t" / "m", data=data)
    model = load_model(tmp_path / "t" / "m")
    assert model.param_counts()["total"] == res.params
    assert math.isfinite(res.loss)


@pytest.mark.parametrize("mask", ["random", "magnitude"])
def test_sparse_run_keeps_its_zeros_and_resumes_exactly(corpus, data_dir, tmp_path, mask):
    """The loop attaches the sparse layers' optimizer hook: a magnitude mask prunes after its dense
    warm-up; at the end exactly the planned weights are non-zero, and a run interrupted before the
    pruning step resumes to the same loss as an uninterrupted one."""
    data = T.prepare(str(corpus), data_dir=data_dir)
    kw = dict(sparsity=0.5, sparsity_mask=mask, tokens=16 * 64 * 24)
    if mask == "magnitude":
        kw["sparsity_warmup_fraction"] = 0.25  # prunes after step 6 of 24
    a = train(cfg(corpus, "a", **kw), tmp_path / "sp" / "a", data=data)
    assert a.status == "ok" and a.nonzero_params < a.params
    assert a.nonzero_measured == a.nonzero_params
    assert train(cfg(corpus, "b", **kw), tmp_path / "sp" / "b", data=data, stop_after_steps=4) is None
    b = train(cfg(corpus, "b", **kw), tmp_path / "sp" / "b", data=data)
    assert b.resumes == 1 and abs(a.loss - b.loss) < 1e-6 and b.nonzero_measured == b.nonzero_params


def test_init_state_starts_the_model_there(corpus, data_dir, tmp_path):
    """A run given init_state starts from those weights (a grown model): with a zero learning rate
    its final model is exactly that state; a state of another shape is a one-line error."""
    from scaling.train.loop import build_model

    data = T.prepare(str(corpus), data_dir=data_dir)
    c = cfg(
        corpus,
        "init",
        tokens=16 * 64 * 4,
        eval_points=1,
        save_model=True,
        min_lr_ratio=1.0,
        warmup_fraction=0.0,
        schedule="constant",
        lr=1e-12,
        weight_decay=0.0,
    )
    donor = build_model(cfg(corpus, "donor", seed=7))
    state = {k: v.clone() for k, v in donor.state_dict().items()}
    res = train(c, tmp_path / "i" / "init", data=data, init_state=state)
    assert res.status == "ok"
    got = load_model(tmp_path / "i" / "init").state_dict()
    assert all(torch.allclose(got[k], state[k], atol=1e-9) for k in state)
    assert not torch.allclose(build_model(c).state_dict()["embed.weight"], state["embed.weight"])  # not its own init
    wrong = build_model(cfg(corpus, "w", d_model=48, n_head=3)).state_dict()
    with pytest.raises(ScalingError, match="initial state does not fit"):
        train(cfg(corpus, "w2"), tmp_path / "i" / "w2", data=data, init_state=wrong)


class _FakeDatasets:
    """A stand-in for the `datasets` package (no network in tests): records the call and streams rows."""

    def __init__(self, rows=None, fail=None):
        self.rows, self.fail, self.calls = rows, fail, []

    def load_dataset(self, name, config=None, *, split, streaming):
        self.calls.append((name, config, split, streaming))
        if self.fail:
            raise self.fail
        return iter(self.rows)


def test_hugging_face_corpus_is_streamed_split_and_fingerprinted(tmp_path, monkeypatch):
    import sys

    rows = [
        {"content": f"document {i}: " + "the quick brown fox jumps over the lazy dog. " * 40, "id": i}
        for i in range(200)
    ]
    fake = _FakeDatasets(rows)
    monkeypatch.setitem(sys.modules, "datasets", fake)
    data = T.prepare("hf:someone/corpus:en@validation#content", data_dir=tmp_path, max_bytes=100_000)
    assert fake.calls == [("someone/corpus", "en", "validation", True)]
    meta = data.meta
    assert 100_000 <= meta["bytes"] < 100_000 + 2000  # stopped at max_bytes
    assert meta["train_documents"] > 0 and meta["val_documents"] > 0  # hash split by row
    assert len(data.train) + len(data.val) == meta["bytes"] + meta["documents"]  # bytes + one EOT each
    assert data.fingerprint.startswith("sha256:")
    # cached: a second prepare does not stream again, and gives the same tokens
    again = T.prepare("hf:someone/corpus:en@validation#content", data_dir=tmp_path, max_bytes=100_000)
    assert len(fake.calls) == 1 and again.fingerprint == data.fingerprint
    assert np.array_equal(np.asarray(again.train), np.asarray(data.train))


@pytest.mark.parametrize(
    "spec, fake, needle",
    [
        ("hf:x/y#text", _FakeDatasets([{"content": "abc"}] * 3), "no column 'text' (columns: content)"),
        ("hf:x/y", _FakeDatasets([{"text": 3}] * 3), "holds int, not text"),
        (
            "hf:x/missing",
            _FakeDatasets(fail=FileNotFoundError("Dataset 'x/missing' doesn't exist on the Hub\nmore")),
            "could not load the Hugging Face dataset 'x/missing', split 'train': Dataset 'x/missing' doesn't exist",
        ),
        ("hf:", _FakeDatasets([]), "give a dataset name"),
    ],
)
def test_hugging_face_corpus_errors_are_one_line(tmp_path, monkeypatch, spec, fake, needle):
    import sys

    monkeypatch.setitem(sys.modules, "datasets", fake)
    with pytest.raises(ScalingError) as err:
        T.prepare(spec, data_dir=tmp_path)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_hugging_face_corpus_without_the_package(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "datasets", None)  # import fails
    with pytest.raises(ScalingError, match=r"pip install 'scaling\[hf\]'"):
        T.prepare("hf:x/y", data_dir=tmp_path)


def test_resume_refuses_a_checkpoint_from_another_corpus(tmp_path):
    """A checkpoint trained on one version of a corpus never continues on another (the fingerprint
    travels in the checkpoint): a sweep cannot silently mix corpora."""
    root = tmp_path / "corpus"
    shutil.copytree(STDLIB / "json", root / "json", ignore=shutil.ignore_patterns("__pycache__", "test*"))
    c = cfg(root, "r", tokens=16 * 64 * 12)
    first = T.prepare(str(root), data_dir=tmp_path / "d1")
    assert train(c, tmp_path / "t" / "r", data=first, stop_after_steps=4) is None
    (root / "json" / "extra.py").write_text("# a new document changes the fingerprint\n" * 50)
    second = T.prepare(str(root), data_dir=tmp_path / "d2")
    assert second.fingerprint != first.fingerprint
    with pytest.raises(ScalingError, match="fingerprint"):
        train(c, tmp_path / "t" / "r", data=second)
    assert train(c, tmp_path / "t" / "r", data=first).status == "ok"  # the same corpus resumes
