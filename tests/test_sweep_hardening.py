"""Issue 14, the sweep side: absurd sizes, corrupt run files, stale runs, concurrent `sweep run`,
checkpoint progress, and a fuzzed spec loader."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from scaling import store
from scaling.errors import ScalingError
from scaling.store import RunConfig, RunResult

ROOT = Path(__file__).resolve().parents[1]


def config(run_id="a", **kw):
    base = dict(sweep="s", run_id=run_id, n_layer=2, d_model=32, n_head=2, d_ff=128, context=64,
                tokens=16 * 64 * 10, batch_size=16, lr=1e-3, seed=0)
    base.update(kw)
    return RunConfig(**base)


def result(cfg, **kw):
    pc = cfg.param_counts()
    base = dict(sweep=cfg.sweep, run_id=cfg.run_id, status="ok", loss=2.5, params=pc["total"],
                non_embedding_params=pc["non_embedding"], embedding_params=pc["embedding"], tokens=cfg.trained_tokens,
                steps=cfg.steps, flops=cfg.flops_per_token() * cfg.trained_tokens, flops_convention="6nd",
                flops_per_token=cfg.flops_per_token())
    base.update(kw)
    return RunResult(**base)


CURVE_ROW = {"step": 10, "tokens": 10240, "flops": 1.0, "lr": 1e-3, "train_loss": 3.0, "val_loss": 2.9, "time_s": 0.1}


def finished(root, rid, **kw):
    c = config(rid, **kw)
    d = store.run_dir(root, "s", rid)
    store.write_config(d, c)
    store.write_curve(d, [CURVE_ROW])
    store.write_result(d, result(c))
    return c, d


# ---------------------------------------------------------------------------------------------
# the store: corrupt files are named, skipped, set aside


def test_corrupt_files_are_named_with_what_is_wrong(tmp_path):
    c, d = finished(tmp_path, "a")
    text = (d / "result.json").read_text()
    (d / "result.json").write_text(text[:40])
    with pytest.raises(store.CorruptRunFile) as err:
        store.read_result(d)
    msg = str(err.value)
    assert msg.startswith(str(d / "result.json")) and "not valid JSON" in msg and "\n" not in msg
    assert store.run_state(d) == "corrupt" and store.run_problem(d) == msg
    (d / "result.json").write_text(json.dumps({"status": "ok"}))
    assert "not a valid run result" in str(pytest.raises(store.CorruptRunFile, store.read_result, d).value)
    (d / "config.json").write_text("[1, 2]")
    assert "not a run configuration" in str(pytest.raises(store.CorruptRunFile, store.read_config, d).value)
    (d / "config.json").write_bytes(b"\xff\xfe\x00")
    assert "not text" in str(pytest.raises(store.CorruptRunFile, store.read_config, d).value)
    (d / "curve.csv").write_text("step,tokens\n1,2\n")
    assert "no column 'flops'" in str(pytest.raises(store.CorruptRunFile, store.read_curve, d).value)
    (d / "curve.csv").write_text(",".join(store.CURVE_COLUMNS) + "\n1,2,3,4,5,oops,7\n")
    assert "row 1, column 'val_loss': 'oops'" in str(pytest.raises(store.CorruptRunFile, store.read_curve, d).value)
    (d / "curve.csv").write_text("")
    assert "is empty" in str(pytest.raises(store.CorruptRunFile, store.read_curve, d).value)


def test_collect_skips_a_corrupt_run_and_names_it(tmp_path):
    finished(tmp_path, "a")
    _, b = finished(tmp_path, "b", d_model=48, n_head=3)
    _, c = finished(tmp_path, "c", d_model=64)
    (b / "result.json").write_text((b / "result.json").read_text()[:-30])
    (c / "curve.csv").write_text("step,tokens,flops\n1,2,3\n")
    with pytest.warns(store.CorruptRunWarning, match=str(b / "result.json")):
        df = store.collect(tmp_path / "s")
    assert sorted(df.run_id) == ["a", "c"]
    rep = store.CollectReport()
    cur = store.collect_curves(tmp_path / "s", report=rep)
    assert set(cur.run_id) == {"a"} and len(rep.corrupt) == 2
    assert any(str(c / "curve.csv") in m and "no column 'lr'" in m for m in rep.corrupt)
    with pytest.warns(store.CorruptRunWarning):
        assert store.sweep_compute(tmp_path / "s")["nominal"] > 0


def test_collect_leaves_out_stale_runs_unless_asked(tmp_path):
    a, _ = finished(tmp_path, "a")
    b, _ = finished(tmp_path, "b", d_model=48, n_head=3)
    finished(tmp_path, "gone", d_model=64)
    expected = {"a": a.model_copy(update={"threads": 3}), "b": b.model_copy(update={"lr": 5e-3})}
    rep = store.CollectReport()
    df = store.collect(tmp_path / "s", expected=expected, report=rep)
    assert list(df.run_id) == ["a"]                    # execution fields (threads) do not make a run stale
    assert rep.stale == {"b": ["lr"], "gone": ["not in the spec"]}
    assert sorted(store.collect(tmp_path / "s", expected=expected, include_stale=True).run_id) == ["a", "b", "gone"]
    assert store.config_diff(b, expected["b"]) == [("lr", 1e-3, 5e-3)]


def test_set_aside_keeps_the_file_and_journals_it(tmp_path):
    _, d = finished(tmp_path, "a")
    moved = store.set_aside(d / "result.json", "not valid JSON")
    assert moved.name.startswith("result.json.corrupt-") and moved.exists() and not (d / "result.json").exists()
    again = store.set_aside(d / "curve.csv")
    assert again.exists() and store.set_aside(d / "curve.csv") is None
    ev = store.read_journal(tmp_path / "s")
    assert list(ev.event) == ["corrupt", "corrupt"] and ev.file.tolist() == ["result.json", "curve.csv"]


def test_lock_probe_creates_nothing(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    assert not store.lock_held(d) and not (d / store.LOCK).exists()
    lock = store.RunLock(d)
    assert lock.acquire()
    try:
        code = f"import sys; from scaling import store; sys.exit(store.lock_held({str(d)!r}))"
        assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 1   # held by us
    finally:
        lock.release()
    assert not store.lock_held(d)
    with pytest.raises(store.RunBusy):
        with store.RunLock(d):
            with store.RunLock(d):
                pass


def test_progress_sidecar_is_read_when_not_older_than_the_checkpoint(tmp_path):
    c = config()
    d = store.run_dir(tmp_path, "s", "a")
    store.write_config(d, c)
    assert store.read_progress(d) is None
    (d / "checkpoint.pt").write_bytes(b"not read: the sidecar is newer")
    store.write_progress(d, 4, c.steps, 4 * c.tokens_per_step)
    assert store.read_progress(d) == {"step": 4, "steps": c.steps, "tokens": 4 * c.tokens_per_step}
    old = time.time() - 100
    os.utime(d / "progress.json", (old, old))           # a checkpoint newer than its sidecar: not trusted
    assert store.read_progress(d) is None               # (and this checkpoint is not a torch file)


# ---------------------------------------------------------------------------------------------
# the loop and branches: a corrupt checkpoint or result is set aside, the run trains again (torch)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    import shutil
    import sysconfig
    root = tmp_path_factory.mktemp("corpus")
    for pkg in ("json", "email"):
        shutil.copytree(Path(sysconfig.get_paths()["stdlib"]) / pkg, root / pkg,
                        ignore=shutil.ignore_patterns("__pycache__", "test*"))
    return root


@pytest.fixture(scope="module")
def data(corpus, tmp_path_factory):
    pytest.importorskip("torch")
    from scaling.train import data as D
    return D.prepare(str(corpus), data_dir=tmp_path_factory.mktemp("data"))


def tiny(corpus, steps=24, run_id="r", **kw):
    base = dict(sweep="t", run_id=run_id, n_layer=1, d_model=16, n_head=2, d_ff=64, context=32,
                tokens=8 * 32 * steps, batch_size=8, lr=3e-3, corpus=str(corpus), eval_points=2, eval_tokens=1024,
                final_eval_tokens=2048, threads=1, save_model=False)
    base.update(kw)
    return RunConfig(**base)


@pytest.mark.torch
def test_corrupt_checkpoint_is_set_aside_and_the_run_restarts_from_scratch(corpus, data, tmp_path):
    from scaling.train.loop import train
    cfg = tiny(corpus)
    d = tmp_path / "t" / "r"
    assert train(cfg, d, data=data, stop_after_steps=10) is None
    assert json.loads((d / "progress.json").read_text())["step"] == 10     # the sidecar status reads
    assert store.read_progress(d)["tokens"] == 10 * cfg.tokens_per_step
    ck = (d / "checkpoint.pt").read_bytes()
    (d / "checkpoint.pt").write_bytes(ck[: len(ck) // 2])                  # truncated by a full disk, say
    with pytest.warns(store.CorruptRunWarning, match="checkpoint.pt: cannot be loaded.*starting from scratch"):
        res = train(cfg, d, data=data)
    fresh = train(cfg.model_copy(update={"run_id": "fresh"}), tmp_path / "t" / "fresh", data=data)
    assert res.status == "ok" and res.resumes == 0 and res.loss == fresh.loss
    assert len(list(d.glob("checkpoint.pt.corrupt-*"))) == 1
    assert not (d / "checkpoint.pt").exists() and not (d / "progress.json").exists()
    # a corrupt result.json makes the run unfinished: set aside, trained again to the same result
    (d / "result.json").write_text((d / "result.json").read_text()[:50])
    with pytest.warns(store.CorruptRunWarning, match="result.json: is not valid JSON.*training the run again"):
        again = train(cfg, d, data=data)
    assert again.loss == res.loss and len(list(d.glob("result.json.corrupt-*"))) == 1
    assert "corrupt" in set(store.read_journal(tmp_path / "t").event)


@pytest.mark.torch
def test_corrupt_branch_checkpoint_restarts_from_the_trunk_snapshot(corpus, data, tmp_path):
    from scaling.train.branches import ensure_snapshot, _start_branch, train_branches, trunk_config
    from scaling.train.loop import train
    mk = lambda steps: tiny(corpus, steps, run_id=f"D{steps}", schedule="wsd", warmup_steps=2, decay_fraction=0.25,
                            min_lr_ratio=0.0, trunk="trunk-x", data_order="shuffled")
    short, long = mk(16), mk(32)
    trunk = trunk_config([short, long])
    tdir, bdir = tmp_path / "t" / "trunk-x", tmp_path / "t" / "D16"
    store.write_config(tdir, trunk)
    snap = ensure_snapshot(trunk, tdir, short.decay_start, data=data)
    store.write_config(bdir, short)
    _start_branch(snap, bdir, "trunk-x", short.decay_start, short)
    assert store.read_progress(bdir)["step"] == short.decay_start and store.read_progress(tdir)["step"] == 12
    (bdir / "checkpoint.pt").write_bytes(b"PK\x03\x04 not a checkpoint")
    (tdir / snap.name).write_bytes(b"garbage")                            # the snapshot too: re-derived
    with pytest.warns(store.CorruptRunWarning):
        res = train_branches([short, long], tmp_path, data=data)
    plain = train(short.model_copy(update={"trunk": None, "run_id": "plain"}), data=data)
    assert res[0].branch_step == short.decay_start and res[0].loss == pytest.approx(plain.loss, abs=1e-6)
    assert list(bdir.glob("checkpoint.pt.corrupt-*")) and list(tdir.glob("branch-12.pt.corrupt-*"))
