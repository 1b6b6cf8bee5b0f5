"""The run store: configs, results, curves, states, locks and the runs table (no torch)."""

import json

import pandas as pd
import pytest
from pydantic import ValidationError

from scaling import store
from scaling.errors import ScalingError
from scaling.store import RunConfig, RunResult


def config(run_id="a", **kw):
    base = dict(
        sweep="s",
        run_id=run_id,
        n_layer=2,
        d_model=32,
        n_head=2,
        d_ff=128,
        context=64,
        tokens=16 * 64 * 10,
        batch_size=16,
        lr=1e-3,
        seed=0,
    )
    base.update(kw)
    return RunConfig(**base)


def result(cfg, status="ok", loss=2.5, **kw):
    pc = cfg.param_counts()
    base = dict(
        sweep=cfg.sweep,
        run_id=cfg.run_id,
        status=status,
        loss=loss if status == "ok" else None,
        reason=None if status == "ok" else "diverged: nan",
        params=pc["total"],
        non_embedding_params=pc["non_embedding"],
        embedding_params=pc["embedding"],
        tokens=cfg.trained_tokens,
        steps=cfg.steps,
        flops=cfg.flops_per_token() * cfg.trained_tokens,
        flops_convention="6nd",
        flops_per_token=cfg.flops_per_token(),
        corpus_fingerprint="sha256:x",
    )
    base.update(kw)
    return RunResult(**base)


def test_config_validation():
    c = config()
    assert c.steps == 10 and c.trained_tokens == 16 * 64 * 10
    assert c.param_counts()["total"] == 2 * (4 * 32 * 32 + 2 * 32 * 128 + 64) + 32 + 256 * 32
    with pytest.raises(ValidationError, match="vocab"):
        config(tokenizer="bpe:1000")
    with pytest.raises(ValidationError, match="divisible"):
        config(n_head=3)
    with pytest.raises(ValidationError):
        config(run_id="a/b")
    with pytest.raises(ValidationError):
        config(unknown_field=1)
    assert config(threads=4).identity() == config(threads=1).identity()
    assert config(lr=2e-3).identity() != c.identity()


def test_round_trip_and_conflict(tmp_path):
    d = store.run_dir(tmp_path, "s", "a")
    assert store.run_state(d) == "pending"
    c = config()
    store.write_config(d, c)
    assert store.read_config(d) == c
    store.write_config(d, config(threads=2))  # execution fields may change
    with pytest.raises(ScalingError, match="lr"):
        store.write_config(d, config(lr=5e-3))
    store.write_curve(
        d, [{"step": 5, "tokens": 5120, "flops": 1.0, "lr": 1e-3, "train_loss": 3.0, "val_loss": 2.9, "time_s": 0.1}]
    )
    assert store.run_state(d) == "partial"
    assert store.read_curve(d).val_loss.tolist() == [2.9]
    store.write_result(d, result(c, train_loss=float("nan")))  # non-finite numbers become null
    assert store.run_state(d) == "ok"
    r = store.read_result(d)
    assert r.loss == 2.5 and r.train_loss is None
    assert json.loads((d / "result.json").read_text())["status"] == "ok"
    assert not list(d.glob("*.tmp"))


def test_collect_excludes_failed_and_reads_back(tmp_path):
    for i, (rid, status) in enumerate([("a", "ok"), ("b", "failed"), ("c", "ok"), ("d", None)]):
        c = config(rid, d_model=32 + 16 * i, seed=i)
        d = store.run_dir(tmp_path, "s", rid)
        store.write_config(d, c)
        if status:
            store.write_result(d, result(c, status, loss=3.0 - 0.1 * i))
    df = store.collect(tmp_path / "s", out=tmp_path / "runs.csv")
    assert list(df.run_id) == ["a", "c"]
    for col in (
        "run_id",
        "params",
        "non_embedding_params",
        "tokens",
        "flops",
        "loss",
        "status",
        "arch",
        "mixer",
        "sparsity",
        "seed",
        "n_layer",
        "d_model",
    ):
        assert col in df.columns
    back = pd.read_csv(tmp_path / "runs.csv")
    assert list(back.run_id) == ["a", "c"] and back.loss.tolist() == pytest.approx([3.0, 2.8])
    assert set(store.collect(tmp_path / "s", include_failed=True).status) == {"ok", "failed"}
    assert len(store.collect(tmp_path / "nothing")) == 0
    try:  # the fitter's loader reads the table as is
        from scaling.runs import load_runs
    except ImportError:  # pragma: no cover
        return
    runs = load_runs(tmp_path / "runs.csv")
    assert len(runs) == 2


def test_journal_and_lock(tmp_path):
    store.journal(tmp_path, "start", "a")
    store.journal(tmp_path, "finish", "a", loss=2.0)
    j = store.read_journal(tmp_path)
    assert list(j.event) == ["start", "finish"]
    lock1, lock2 = store.RunLock(tmp_path / "a"), store.RunLock(tmp_path / "a")
    assert lock1.acquire()
    assert not lock2.acquire()
    lock1.release()
    assert lock2.acquire()
    lock2.release()
