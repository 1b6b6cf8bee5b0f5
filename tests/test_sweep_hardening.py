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


def result(cfg, **kw):
    pc = cfg.param_counts()
    base = dict(
        sweep=cfg.sweep,
        run_id=cfg.run_id,
        status="ok",
        loss=2.5,
        params=pc["total"],
        non_embedding_params=pc["non_embedding"],
        embedding_params=pc["embedding"],
        tokens=cfg.trained_tokens,
        steps=cfg.steps,
        flops=cfg.flops_per_token() * cfg.trained_tokens,
        flops_convention="6nd",
        flops_per_token=cfg.flops_per_token(),
    )
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
    assert list(df.run_id) == ["a"]  # execution fields (threads) do not make a run stale
    assert rep.stale == {"b": ["lr"], "gone": ["not in the spec"]}
    assert sorted(store.collect(tmp_path / "s", expected=expected, include_stale=True).run_id) == ["a", "b", "gone"]
    assert store.config_diff(b, expected["b"]) == [("lr", 1e-3, 5e-3)]
    # a derived tag that moved in its last bit (another numpy, another order of operations) is the
    # same run; a tag that changed is not
    t = 22821.77322938192
    drift = a.model_copy(update={"tags": {**a.tags, "target_params": t}})
    assert (
        store.config_diff(drift, a.model_copy(update={"tags": {**a.tags, "target_params": 22821.773229381924}})) == []
    )
    assert (
        store.config_diff(drift, a.model_copy(update={"tags": {**a.tags, "target_params": t * 1.001}}))[0][0] == "tags"
    )


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
        assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 1  # held by us
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
    os.utime(d / "progress.json", (old, old))  # a checkpoint newer than its sidecar: not trusted
    assert store.read_progress(d) is None  # (and this checkpoint is not a torch file)


# ---------------------------------------------------------------------------------------------
# the loop and branches: a corrupt checkpoint or result is set aside, the run trains again (torch)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    import shutil
    import sysconfig

    root = tmp_path_factory.mktemp("corpus")
    for pkg in ("json", "email"):
        shutil.copytree(
            Path(sysconfig.get_paths()["stdlib"]) / pkg,
            root / pkg,
            ignore=shutil.ignore_patterns("__pycache__", "test*"),
        )
    return root


@pytest.fixture(scope="module")
def data(corpus, tmp_path_factory):
    pytest.importorskip("torch")
    from scaling.train.tokens import prepare

    return prepare(str(corpus), data_dir=tmp_path_factory.mktemp("data"))


def tiny(corpus, steps=24, run_id="r", **kw):
    base = dict(
        sweep="t",
        run_id=run_id,
        n_layer=1,
        d_model=16,
        n_head=2,
        d_ff=64,
        context=32,
        tokens=8 * 32 * steps,
        batch_size=8,
        lr=3e-3,
        corpus=str(corpus),
        eval_points=2,
        eval_tokens=1024,
        final_eval_tokens=2048,
        threads=1,
        save_model=False,
    )
    base.update(kw)
    return RunConfig(**base)


@pytest.mark.torch
def test_corrupt_checkpoint_is_set_aside_and_the_run_restarts_from_scratch(corpus, data, tmp_path):
    from scaling.train.loop import train

    cfg = tiny(corpus)
    d = tmp_path / "t" / "r"
    assert train(cfg, d, data=data, stop_after_steps=10) is None
    assert json.loads((d / "progress.json").read_text())["step"] == 10  # the sidecar status reads
    assert store.read_progress(d)["tokens"] == 10 * cfg.tokens_per_step
    ck = (d / "checkpoint.pt").read_bytes()
    (d / "checkpoint.pt").write_bytes(ck[: len(ck) // 2])  # truncated by a full disk, say
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
    from scaling.train.branches import _start_branch, ensure_snapshot, train_branches, trunk_config
    from scaling.train.loop import train

    mk = lambda steps: tiny(
        corpus,
        steps,
        run_id=f"D{steps}",
        schedule="wsd",
        warmup_steps=2,
        decay_fraction=0.25,
        min_lr_ratio=0.0,
        trunk="trunk-x",
        data_order="shuffled",
    )
    short, long = mk(16), mk(32)
    trunk = trunk_config([short, long])
    tdir, bdir = tmp_path / "t" / "trunk-x", tmp_path / "t" / "D16"
    store.write_config(tdir, trunk)
    snap = ensure_snapshot(trunk, tdir, short.decay_start, data=data)
    store.write_config(bdir, short)
    _start_branch(snap, bdir, "trunk-x", short.decay_start, short)
    assert store.read_progress(bdir)["step"] == short.decay_start and store.read_progress(tdir)["step"] == 12
    (bdir / "checkpoint.pt").write_bytes(b"PK\x03\x04 not a checkpoint")
    (tdir / snap.name).write_bytes(b"garbage")  # the snapshot too: re-derived
    with pytest.warns(store.CorruptRunWarning):
        res = train_branches([short, long], tmp_path, data=data)
    plain = train(short.model_copy(update={"trunk": None, "run_id": "plain"}), data=data)
    assert res[0].branch_step == short.decay_start and res[0].loss == pytest.approx(plain.loss, abs=1e-6)
    assert list(bdir.glob("checkpoint.pt.corrupt-*")) and list(tdir.glob("branch-12.pt.corrupt-*"))


# ---------------------------------------------------------------------------------------------
# the spec loader, fuzzed: whatever the file holds, the answer is a spec or one ScalingError line

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from scaling.sweep import SweepSpec, load_spec, parse_spec  # noqa: E402

KEYS = {
    "": [
        "name",
        "kind",
        "description",
        "seeds",
        "replicate_multipliers",
        "short_run_seeds",
        "short_run_max_steps",
        "flops_convention",
        "budgets",
        "tokens_per_param",
        "size_multipliers",
        "optimum_exponent",
        "size_grid",
        "params",
    ],
    "model": [
        "context",
        "tokenizer",
        "mixer",
        "sparsity",
        "sparsity_mask",
        "sparsity_warmup_fraction",
        "sparsity_pattern",
        "d_ff_mult",
        "non_embedding",
        "shape_rule",
        "width_multiple",
        "aspect_weight",
        "head_dim",
        "attention_share",
    ],
    "train": [
        "lr",
        "batch_size",
        "min_steps",
        "micro_batch_size",
        "schedule",
        "warmup_fraction",
        "decay_fraction",
        "decay_shape",
        "branched",
        "min_lr_ratio",
        "weight_decay",
        "beta1",
        "beta2",
        "grad_clip",
        "dtype",
        "device",
        "eval_points",
        "eval_tokens",
        "final_eval_tokens",
        "checkpoint_every_s",
        "save_model",
    ],
    "data": ["corpus", "val_fraction", "max_bytes", "order", "allow_repeats"],
    "runs": [
        "name",
        "n_layer",
        "d_model",
        "n_head",
        "d_ff",
        "params",
        "tokens",
        "flops",
        "tokens_per_param",
        "lr",
        "batch_size",
    ],
    "rule": ["base", "ref_params", "exponent", "min", "max"],
}
BASES = [
    {"kind": "isoflop", "budgets": [1e10, 3e10], "size_multipliers": [0.5, 1, 2], "model": {"context": 64}},
    {"kind": "grid", "params": [2e4, 5e4], "tokens_per_param": [5, 20], "model": {"context": 64}},
    {
        "kind": "list",
        "runs": [{"n_layer": 1, "d_model": 16, "n_head": 2, "tokens": 1e5}, {"params": 3e4, "flops": 1e11}],
        "model": {"context": 64},
    },
    {
        "kind": "isoflop",
        "budgets": [1e10, 3e10],
        "size_multipliers": [0.5, 1],
        "size_grid": 2,
        "model": {"context": 64, "shape_rule": "aspect", "head_dim": 16},
        "train": {"schedule": "wsd", "branched": True, "min_steps": 10, "batch_size": {"base": 8, "exponent": 0.5}},
    },
]

numbers = st.one_of(
    st.integers(-10, 10),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1e-300, 1e12, 1e30, 1e300, -1e30, 0.5, 1.0, 2**63, 8193, 3]),
)
scalars = st.one_of(
    numbers,
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(
        [
            "1e21",
            "70B",
            "1.4T",
            "-3",
            "inf",
            "nan",
            "bpe:1e400",
            "bpe:300",
            "bytes",
            "wsd",
            "aspect",
            "hyena",
            "magnitude",
            "cuda",
            "shuffled",
            "",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(sum(KEYS.values(), [])) | st.text(max_size=6), inner, max_size=4),
    ),
    max_leaves=8,
)


@st.composite
def mutated_specs(draw):
    import copy

    spec = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 4))):
        table = draw(st.sampled_from(["", "model", "train", "data", "runs", "rule"]))
        key = draw(st.one_of(st.sampled_from(KEYS[table]), st.text(max_size=8)))
        value = draw(values)
        if table == "":
            spec[key] = value
        elif table == "runs":
            runs = spec.setdefault("runs", [{}])
            if isinstance(runs, list) and runs and isinstance(runs[0], dict):
                runs[draw(st.integers(0, len(runs) - 1))][key] = value
            else:
                spec["runs"] = value
        elif table == "rule":
            train = spec.setdefault("train", {})
            train[draw(st.sampled_from(["lr", "batch_size"]))] = {key: value, "base": draw(numbers)}
        else:
            sub = spec.setdefault(table, {})
            if isinstance(sub, dict):
                sub[key] = value
            else:
                spec[table] = value
    return spec


def _one_line_or_spec(call):
    try:
        out = call()
    except ScalingError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg, msg
        return None
    assert isinstance(out, SweepSpec)
    out.expand()  # what loaded, expands
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=mutated_specs())
def test_fuzz_parse_spec_structured(spec):
    _one_line_or_spec(lambda: parse_spec(spec, source="fuzz.toml", default_name="fuzz"))


@pytest.mark.parametrize(
    "change,expect",
    [
        ({"size_grid": 1}, "size_grid: must be greater than 1"),  # was ZeroDivisionError
        ({"budgets": [1e10, float("inf")]}, "budgets[1]: must be a finite number"),
        ({"budgets": [1e10, float("nan")]}, "budgets[1]: must be a finite number"),
        ({"optimum_exponent": 1e300}, "budgets[0]: the expected optimum N_opt(C) is 0 parameters"),  # OverflowError
        ({"model": {"context": 64, "tokenizer": "bpe:1e400"}}, "model.tokenizer"),  # was OverflowError
        ({"model": {"context": 64, "shape_rule": "aspect", "width_multiple": 9999}}, "model.width_multiple"),
        ({"model": {"context": 64, "shape_rule": "aspect", "width_multiple": 9}}, "use an even model.width_multiple"),
        ({"train": {"lr": {"base": 1, "exponent": 1e300}}}, "train.lr: the rule gives 0 at"),
        ({"train": {"batch_size": {"base": 8, "exponent": 900}}}, "train.batch_size: the rule gives"),
        ({"budgets": [1e30]}, "budgets[0] x size_multipliers[1]: 9.129e+13 parameters is beyond the shape search"),
        ({"seeds": []}, "seeds: must not be empty"),
        ({"train": {"": 1}}, "train: unknown key ''"),
        ({"name": "x" * 300}, "name: must have at most"),
    ],
)
def test_spec_edge_cases_are_one_line_errors_naming_the_key(change, expect):
    spec = dict(BASES[0], **change)
    with pytest.raises(ScalingError) as err:
        parse_spec(spec, source="s.toml")
    assert expect in str(err.value) and str(err.value).startswith("s.toml: ") and "\n" not in str(err.value)


def test_list_spec_names_the_run_of_an_impossible_config():
    runs = [{"name": "x" * 180, "n_layer": 1, "d_model": 16, "n_head": 2, "tokens": 1e5}]
    spec = {"kind": "list", "runs": runs, "seeds": [10**30], "model": {"context": 64}}
    with pytest.raises(ScalingError, match=r"^s.toml: runs\[0\]: run 'x+.*run_id: must have at most 200"):
        parse_spec(spec, source="s.toml")


def _toml_value(v):
    import math

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"


@st.composite
def toml_texts(draw):
    """Mostly valid TOML over real keys with values of any type, sometimes cut or spliced with noise."""
    lines = [f"kind = {json.dumps(draw(st.sampled_from(['isoflop', 'grid', 'list', 'growth', 'x'])))}"]
    for _ in range(draw(st.integers(0, 8))):
        table = draw(st.sampled_from(["", "model", "train", "data", "runs"]))
        key = draw(st.sampled_from(KEYS[table]))
        header = {"": "", "runs": "[[runs]]"}.get(table, f"[{table}]")
        if header:
            lines.append(header)
        lines.append(f"{key} = {_toml_value(draw(values))}")
    text = "\n".join(lines) + "\n"
    cut = draw(st.one_of(st.none(), st.integers(0, len(text))))
    if cut is not None:
        text = text[:cut] + draw(st.text(max_size=5))
    return text


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(text=toml_texts(), noise=st.binary(max_size=40))
def test_fuzz_load_spec_files(tmp_path, text, noise):
    p = tmp_path / "fuzz.toml"
    p.write_text(text)
    _one_line_or_spec(lambda: load_spec(p))
    p.write_bytes(noise)  # random bytes, invalid UTF-8 included
    _one_line_or_spec(lambda: load_spec(p))


# ---------------------------------------------------------------------------------------------
# sweep show / run / status / collect on a tiny spec


TINY = """
name = "tiny"
kind = "list"
[[runs]]
name = "a"
n_layer = 1
d_model = 16
n_head = 2
tokens = 3e4
[[runs]]
name = "b"
n_layer = 1
d_model = 32
n_head = 2
tokens = 3e4
[[runs]]
name = "c"
n_layer = 2
d_model = 16
n_head = 2
tokens = 3e4
[model]
context = 32
[train]
batch_size = 8
lr = 3e-3
eval_points = 2
eval_tokens = 1024
final_eval_tokens = 2048
checkpoint_every_s = 0.05
save_model = false
[data]
corpus = "CORPUS"
"""


def test_absurd_sizes_are_refused_before_anything_is_written(cli, tmp_path):
    spec = tmp_path / "big.toml"
    spec.write_text('kind = "list"\n[[runs]]\nparams = 1e12\ntokens = 1e6\n[model]\ncontext = 64\n')
    for action in ("show", "run"):
        out = cli("sweep", action, spec, "--root", tmp_path / "runs")
        assert out.returncode == 2, out
        err = out.stderr.strip()
        assert "\n" not in err and "Traceback" not in err
        assert f"{spec}: runs[0].params: run 157x23040-D999K-s0 (1T params, 157 x 23040) needs about" in err
        assert "of memory" in err
    assert not (tmp_path / "runs").exists()  # no run directory, no .lock, no config.json
    spec.write_text(spec.read_text().replace("context = 64", 'context = 64\nshape_rule = "aspect"'))
    out = cli("sweep", "show", spec)  # the aspect rule used to cap this at 103B
    assert out.returncode == 2 and "runs[0].params: 1e+12 parameters is beyond the shape search range" in out.stderr
    iso = tmp_path / "iso.toml"
    iso.write_text('kind = "isoflop"\nbudgets = [1e30]\nsize_multipliers = [1]\n')
    out = cli("sweep", "run", iso, "--root", tmp_path / "runs")
    assert out.returncode == 2 and "budgets[0] x size_multipliers[0]: 9.129e+13 parameters is beyond" in out.stderr
    assert not (tmp_path / "runs").exists()


def test_memory_check_names_the_spec_key(monkeypatch):
    import scaling.sweep as S
    import scaling.sweep.expand as E

    spec = parse_spec(
        {"kind": "isoflop", "budgets": [1e12, 1e15], "size_multipliers": [0.5, 2], "model": {"context": 64}},
        source="m.toml",
        default_name="m",
    )
    runs = spec.expand()
    need = sorted(S.train_memory(c)["total"] for c in runs)
    monkeypatch.setattr(E, "machine_memory", lambda device: (int(need[-2]) + 1, "memory"))
    with pytest.raises(
        ScalingError,
        match=r"^m.toml: budgets\[1\] x size_multipliers\[1\]: run .* needs about "
        r".* but this machine has .* of memory: use a smaller",
    ):
        S.check_memory(spec, source="m.toml")
    monkeypatch.setattr(E, "machine_memory", lambda device: (int(need[0]) - 1, "memory"))
    with pytest.raises(ScalingError, match=r"\(3 more run\(s\) are larger\)"):
        S.check_memory(spec)
    monkeypatch.setattr(E, "machine_memory", lambda device: None)  # a GPU this machine cannot see
    S.check_memory(spec)
    c = runs[-1]
    m = S.train_memory(c)
    assert m["state"] == 16 * c.param_counts()["total"] and m["activations"] > 0
    assert S.train_memory(c.model_copy(update={"dtype": "bf16"}))["activations"] == m["activations"] / 2


@pytest.fixture(scope="module")
def tiny_spec(corpus, tmp_path_factory):
    d = tmp_path_factory.mktemp("spec")
    p = d / "tiny.toml"
    p.write_text(TINY.replace("CORPUS", str(corpus)))
    return p


@pytest.mark.torch
def test_corrupt_run_files_are_named_skipped_and_retrained(cli, tiny_spec, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from scaling.sweep import run_sweep

    monkeypatch.setenv("SCALING_DATA_DIR", str(tmp_path / "data"))  # `sweep run` below finds the corpus cache here
    root = tmp_path / "runs"
    rep = run_sweep(tiny_spec, root, workers=1, threads=1, data_dir=tmp_path / "data", progress=False)
    assert sorted(rep.ok) == ["a-s0", "b-s0", "c-s0"]
    a, b, c = (root / "tiny" / f"{x}-s0" for x in "abc")
    loss_a = store.read_result(a).loss
    (a / "result.json").write_text((a / "result.json").read_text()[:60])  # truncated
    (b / "curve.csv").write_text("step,tokens\n1,2\n")  # no val_loss
    st = cli("sweep", "status", tiny_spec, "--root", root)
    assert st.returncode == 0, st.stderr
    assert "1 ok, 0 failed, 0 partial, 0 pending, 2 corrupt" in st.stdout
    assert "corrupt" in st.stdout and f"{a / 'result.json'}: is not valid JSON" in st.stdout
    assert f"{b / 'curve.csv'}: has no column 'flops'" in st.stdout
    out = cli(
        "sweep", "collect", tiny_spec, "--root", root, "--out", tmp_path / "t.csv", "--curves", tmp_path / "c.csv"
    )
    assert out.returncode == 0, out.stderr
    assert sorted(pd.read_csv(tmp_path / "t.csv").run_id) == ["b-s0", "c-s0"]  # b's result is intact
    assert set(pd.read_csv(tmp_path / "c.csv").run_id) == {"c-s0"}
    assert f"warning: {a / 'result.json'}: is not valid JSON" in out.stderr and f"{b / 'curve.csv'}" in out.stderr
    assert "KeyError" not in out.stderr and "Traceback" not in out.stderr
    # run: a is unfinished (its result set aside, trained again); b keeps its result (its curve is named)
    run = cli("sweep", "run", tiny_spec, "--root", root, "--workers", "1", "--threads", "1", "--no-progress")
    assert run.returncode == 0, run.stderr
    assert f"{a / 'result.json'}: is not valid JSON" in run.stderr and "trains again" in run.stderr
    assert f"{b / 'curve.csv'}: has no column" in run.stderr
    assert "1 trained" in run.stdout and "2 already finished" in run.stdout
    assert store.read_result(a).loss == pytest.approx(loss_a, abs=1e-5) and list(a.glob("result.json.corrupt-*"))
    # a corrupt config.json is rewritten from the spec; the result that agrees with it is kept
    (c / "config.json").write_text("{")
    run = cli("sweep", "run", tiny_spec, "--root", root, "--workers", "1", "--threads", "1", "--no-progress")
    assert run.returncode == 0 and "3 already finished" in run.stdout and "rewritten from the spec" in run.stderr
    assert store.read_config(c).run_id == "c-s0"


@pytest.mark.torch
def test_rerun_skips_finished_runs_and_leaves_their_configs(tiny_spec, tmp_path):
    from scaling.sweep import run_sweep, sweep_status

    spec = load_spec(tiny_spec)
    root, only = tmp_path / "runs", ["a-s0", "b-s0"]
    rep = run_sweep(spec, root, workers=1, threads=1, data_dir=tmp_path / "data", progress=False, only=only)
    assert sorted(rep.ok) == only
    # a finished run's config records how it ran: an execution field the spec does not set (threads)
    # stays as written, the rerun checks the config but does not rewrite it
    cfg_file = root / spec.name / only[0] / "config.json"
    recorded = json.loads(cfg_file.read_text())
    recorded["threads"] = 3
    cfg_file.write_text(json.dumps(recorded, indent=1))
    before = {r: (root / spec.name / r / "config.json").read_bytes() for r in only}
    rep = run_sweep(spec, root, workers=1, data_dir=tmp_path / "data", progress=False, only=only)
    assert {r: (root / spec.name / r / "config.json").read_bytes() for r in only} == before
    assert rep.total == rep.skipped == len(only)
    assert not rep.ok and not rep.failed
    st = sweep_status(spec, root)
    assert set(st[st.run_id.isin(only)].state) == {"ok"}
    assert set(st[~st.run_id.isin(only)].state) == {"pending"}


@pytest.mark.torch
def test_stale_runs_are_marked_and_left_out(cli, tiny_spec, tmp_path):
    pytest.importorskip("torch")
    from scaling.sweep import run_sweep

    root = tmp_path / "runs"
    run_sweep(tiny_spec, root, workers=1, threads=1, data_dir=tmp_path / "data", progress=False, only=["a-s0"])
    changed = tmp_path / "tiny.toml"
    changed.write_text(tiny_spec.read_text().replace("lr = 3e-3", "lr = 1e-3"))
    st = cli("sweep", "status", changed, "--root", root)
    # run wrote every config.json, so the two runs it did not train are stale too: `run` would refuse them
    assert st.returncode == 0 and "0 ok, 0 failed, 0 partial, 0 pending, 3 stale" in st.stdout
    assert "a-s0" in st.stdout and "was ok; config.json differs from the spec: lr 0.003 -> 0.001" in st.stdout
    assert "was unfinished; config.json differs from the spec: lr 0.003 -> 0.001" in st.stdout
    out = cli("sweep", "collect", changed, "--root", root, "--out", tmp_path / "t.csv")
    assert out.returncode == 0 and len(pd.read_csv(tmp_path / "t.csv")) == 0
    assert "wrote 0 runs" in out.stdout and "1 stale run(s) left out; --include-stale keeps them" in out.stdout
    assert "a-s0 is stale: its config.json differs from the spec in lr" in out.stderr
    out = cli("sweep", "collect", changed, "--root", root, "--out", tmp_path / "t.csv", "--include-stale")
    assert list(pd.read_csv(tmp_path / "t.csv").run_id) == ["a-s0"]
    same = cli("sweep", "status", tiny_spec, "--root", root)
    assert "3 runs, 1 ok, 0 failed, 0 partial, 2 pending\n" in same.stdout and " stale " not in same.stdout


@pytest.mark.torch
def test_status_shows_the_checkpoint_and_a_pending_branch_shows_its_trunk(corpus, data, tmp_path):
    from scaling.sweep import sweep_status
    from scaling.train.branches import ensure_snapshot, trunk_config
    from scaling.train.loop import train

    spec = parse_spec(
        {
            "name": "p",
            "kind": "list",
            "model": {"context": 32},
            "runs": [{"name": "x", "n_layer": 1, "d_model": 16, "n_head": 2, "tokens": 8 * 32 * 24}],
            "train": {
                "batch_size": 8,
                "eval_points": 2,
                "eval_tokens": 1024,
                "final_eval_tokens": 1024,
                "save_model": False,
            },
            "data": {"corpus": str(corpus)},
        }
    )
    (cfg,) = spec.expand()
    train(cfg, tmp_path / "p" / cfg.run_id, data=data, stop_after_steps=18)  # evaluated at 12, stopped at 18
    st = sweep_status(spec, tmp_path).iloc[0]
    assert st.state == "partial" and st.done_tokens == 18 * cfg.tokens_per_step
    (tmp_path / "p" / cfg.run_id / "progress.json").unlink()  # torch reads the checkpoint
    assert sweep_status(spec, tmp_path).iloc[0].done_tokens == 18 * cfg.tokens_per_step
    branched = parse_spec(
        {
            "name": "q",
            "kind": "list",
            "model": {"context": 32},
            "data": {"corpus": str(corpus)},
            "runs": [
                {"name": f"d{n}", "n_layer": 1, "d_model": 16, "n_head": 2, "tokens": 8 * 32 * n} for n in (20, 40)
            ],
            "train": {"batch_size": 8, "schedule": "wsd", "branched": True, "save_model": False},
        }
    )
    short, long = branched.expand()
    trunk = trunk_config([short, long])
    ensure_snapshot(trunk, tmp_path / "q" / trunk.run_id, 10, data=data)  # the trunk got to step 10
    rows = sweep_status(branched, tmp_path).set_index("run_id")
    assert (rows.state == "pending").all()
    assert rows.loc[short.run_id, "done_tokens"] == 10 * short.tokens_per_step
    assert f"trunk {trunk.run_id} at" in rows.loc[long.run_id, "reason"]


@pytest.mark.torch
def test_two_sweep_runs_on_one_spec_both_succeed_and_train_each_run_once(tiny_spec, tmp_path):
    pytest.importorskip("torch")
    env = dict(os.environ, PYTHONPATH=str(ROOT), SCALING_DATA_DIR=str(tmp_path / "data"))
    root = tmp_path / "runs"
    cmd = [
        sys.executable,
        "-m",
        "scaling",
        "sweep",
        "run",
        str(tiny_spec),
        "--root",
        str(root),
        "--workers",
        "1",
        "--threads",
        "1",
        "--no-progress",
    ]
    procs = [
        subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, (out, err)
        assert "errors" not in out and "Traceback" not in err
        n = {
            k: int(v)
            for v, k in __import__("re").findall(r"(\d+) (already finished|trained by another process|trained)", out)
        }
        assert sum(n.values()) == 3, out
    journal = store.read_journal(root / "tiny")
    finishes = journal[journal.event == "finish"].run_id.value_counts()
    assert sorted(finishes.index) == ["a-s0", "b-s0", "c-s0"] and (finishes == 1).all()


@pytest.mark.torch
def test_a_locked_run_is_waited_for_then_read_or_trained(tiny_spec, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    import threading

    import scaling.sweep as S
    import scaling.sweep.runner as R

    monkeypatch.setattr(R, "BUSY_POLL_S", 0.05)
    for other_finishes in (True, False):
        root = tmp_path / f"runs-{other_finishes}"
        a = root / "tiny" / "a-s0"
        a.mkdir(parents=True)
        lock = store.RunLock(a)
        assert lock.acquire()  # "another process" is training a
        box = {}
        th = threading.Thread(
            target=lambda box=box, root=root: box.update(
                rep=S.run_sweep(tiny_spec, root, workers=1, threads=1, data_dir=tmp_path / "data", progress=False)
            )
        )
        th.start()
        deadline = time.time() + 120
        while not all((root / "tiny" / r / "result.json").exists() for r in ("b-s0", "c-s0")):
            assert time.time() < deadline and th.is_alive()
            time.sleep(0.05)
        time.sleep(0.3)
        assert th.is_alive()  # it waits for a instead of failing
        if other_finishes:  # the other process writes a's result, then lets go
            (cfg,) = [c for c in load_spec(tiny_spec).expand() if c.run_id == "a-s0"]
            from scaling.train.loop import train

            res = train(cfg.model_copy(update={"threads": 1}), tmp_path / "elsewhere", data_dir=tmp_path / "data")
            store.write_result(a, res)
        lock.release()  # (or it died without finishing a)
        th.join(120)
        rep = box["rep"]
        assert not rep.errors
        if other_finishes:
            assert rep.by_other == ["a-s0"] and sorted(rep.ok) == ["b-s0", "c-s0"]
            assert "1 trained by another process" in rep.summary()
        else:
            assert rep.by_other == [] and sorted(rep.ok) == ["a-s0", "b-s0", "c-s0"]


@pytest.mark.torch
def test_a_branch_whose_result_is_corrupt_is_retrained_alone(corpus, data, tmp_path):
    """run passes only the unfinished branches; the trunk made for a longer sibling is reused (its state
    up to each branch point does not depend on its length), not refused as a different configuration."""
    from scaling.train.branches import train_branches

    mk = lambda steps: tiny(
        corpus,
        steps,
        run_id=f"D{steps}",
        schedule="wsd",
        warmup_steps=2,
        decay_fraction=0.25,
        min_lr_ratio=0.0,
        trunk="trunk-y",
        data_order="shuffled",
    )
    short, long = mk(16), mk(32)
    first = train_branches([short, long], tmp_path, data=data)
    d = tmp_path / "t" / "D16"
    (d / "result.json").write_text('{"status": ')
    with pytest.warns(store.CorruptRunWarning, match="result.json"):
        (again,) = train_branches([short], tmp_path, data=data)
    assert again.loss == pytest.approx(first[0].loss, abs=1e-6) and again.branch_step == short.decay_start
    assert store.read_config(tmp_path / "t" / "trunk-y").tokens == long.tokens
