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
