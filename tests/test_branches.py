"""Branched WSD runs: a branch equals a plain WSD run, a killed trunk resumes, every run trains once."""

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

from scaling import store  # noqa: E402
from scaling.errors import ScalingError  # noqa: E402
from scaling.store import RunConfig, collect, read_journal, sweep_compute  # noqa: E402
from scaling.sweep import jobs_of, parse_spec  # noqa: E402
from scaling.train import data as D  # noqa: E402
from scaling.train import tokens as T  # noqa: E402
from scaling.train.branches import train_branches, trunk_config  # noqa: E402
from scaling.train.loop import train  # noqa: E402
from scaling.train.schedule import lr_at  # noqa: E402

STDLIB = Path(sysconfig.get_paths()["stdlib"])
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    for pkg in ("json", "email", "collections", "logging"):
        shutil.copytree(STDLIB / pkg, root / pkg, ignore=shutil.ignore_patterns("__pycache__", "test*"))
    return root


@pytest.fixture(scope="module")
def data(corpus, tmp_path_factory):
    return T.prepare(str(corpus), data_dir=tmp_path_factory.mktemp("data"))


def branch(corpus, steps, run_id=None, trunk="trunk-a", **kw):
    base = dict(
        sweep="b",
        run_id=run_id or f"D{steps}",
        n_layer=2,
        d_model=32,
        n_head=2,
        d_ff=128,
        context=64,
        tokens=16 * 64 * steps,
        batch_size=16,
        lr=3e-3,
        corpus=str(corpus),
        eval_points=3,
        eval_tokens=2048,
        final_eval_tokens=8192,
        threads=1,
        save_model=False,
        schedule="wsd",
        warmup_steps=4,
        decay_fraction=0.2,
        min_lr_ratio=0.0,
        decay_shape="sqrt",
        data_order="shuffled",
        trunk=trunk,
    )
    base.update(kw)
    return RunConfig(**base)


def test_shuffled_order_never_repeats_a_window_within_an_epoch():
    n_tok, ctx, B = 64 * 50 + 1, 64, 8
    seen = np.concatenate([D.batch_offsets(n_tok, ctx, B, 3, s, order="shuffled") for s in range(6)])
    assert len(seen) == 48 and len(set(seen.tolist())) == 48 and (seen % ctx == 0).all()
    nxt = np.concatenate([D.batch_offsets(n_tok, ctx, B, 3, s, order="shuffled") for s in range(6, 13)])
    assert set(np.concatenate([seen, nxt[:2]]).tolist()) == set(range(0, 64 * 50, 64))  # epoch 1 ends
    assert np.array_equal(D.batch_offsets(n_tok, ctx, B, 3, 4, order="shuffled"), seen[32:40])


def test_wsd_schedule_is_shared_up_to_each_decay_start(corpus):
    short, long = branch(corpus, 40), branch(corpus, 100)
    assert [lr_at(s, short) for s in range(short.decay_start)] == [lr_at(s, long) for s in range(short.decay_start)]
    assert lr_at(short.steps - 1, short) == 0.0 and lr_at(short.decay_start, short) < short.lr
    assert short.decay_start == 32 and long.decay_start == 80


@pytest.fixture(scope="module")
def wsd_pair(corpus, data, tmp_path_factory):
    """Two WSD branches (30 and 60 steps) of one trunk, trained once into ``<root>/b``: (root, configs,
    results). The tests that use it only read it."""
    root = tmp_path_factory.mktemp("wsd")
    cfgs = [branch(corpus, 30), branch(corpus, 60)]
    return root, cfgs, train_branches(cfgs, root, data=data)


def test_branch_equals_plain_wsd_run(wsd_pair, data):
    tmp_path, cfgs, res = wsd_pair
    for cfg, r in zip(cfgs, res):
        plain = train(cfg.model_copy(update={"trunk": None, "run_id": "plain"}), data=data)
        assert r.status == plain.status == "ok"
        assert abs(r.loss - plain.loss) < 1e-6, (cfg.run_id, r.loss, plain.loss)
        assert r.trunk == "trunk-a" and r.branch_step == cfg.decay_start and r.resumes == 0
        assert r.spent_flops == pytest.approx(r.flops * (cfg.steps - cfg.decay_start) / cfg.steps)
    table = collect(tmp_path / "b")
    assert sorted(table.run_id) == ["D30", "D60"] and set(table.trunk) == {"trunk-a"}
    spent = sweep_compute(tmp_path / "b")
    fpt = cfgs[0].flops_per_token() * 16 * 64
    assert spent["spent"] == pytest.approx(fpt * (48 + 6 + 12))  # trunk to 48, two cool-downs
    assert spent["nominal"] == pytest.approx(fpt * 90)
    assert not list((tmp_path / "b" / "trunk-a").glob("*.pt"))  # snapshots removed when done


def test_magnitude_mask_branches_prune_once_on_the_trunk_and_equal_plain_runs(corpus, data, tmp_path):
    """Magnitude-mask branches share the trunk's one pruning step (an absolute sparsity_dense_steps):
    each equals a plain run with that dense warm-up, keeps exactly its planned non-zeros, and a
    group that would prune at a fraction of each branch's own steps is refused."""
    kw = dict(sparsity=0.5, sparsity_mask="magnitude", sparsity_warmup_fraction=0.2, sparsity_dense_steps=6)
    cfgs = [branch(corpus, 30, **kw), branch(corpus, 60, **kw)]
    res = train_branches(cfgs, tmp_path, data=data)
    for cfg, r in zip(cfgs, res):
        plain = train(cfg.model_copy(update={"trunk": None, "run_id": "plain"}), data=data)
        assert r.status == plain.status == "ok" and r.branch_step == cfg.decay_start > cfg.dense_steps
        assert abs(r.loss - plain.loss) < 1e-6, (cfg.run_id, r.loss, plain.loss)
        assert r.nonzero_measured == r.nonzero_params < r.params
    with pytest.raises(ScalingError, match="absolute sparsity_dense_steps"):
        trunk_config([branch(corpus, 30, **{**kw, "sparsity_dense_steps": None})])


def test_missing_snapshot_is_rederived_not_invented(corpus, data, tmp_path):
    cfgs = [branch(corpus, 30), branch(corpus, 60)]
    first = train_branches(cfgs[1:], tmp_path, data=data, keep_snapshots=True)[0]  # trunk to step 48
    tdir = tmp_path / "b" / "trunk-a"
    assert (tdir / "branch-48.pt").exists() and not (tdir / "branch-24.pt").exists()
    (tdir / "branch-48.pt").unlink()
    res = train_branches(cfgs, tmp_path, data=data)
    plain = train(cfgs[0].model_copy(update={"trunk": None, "run_id": "plain"}), data=data)
    assert abs(res[0].loss - plain.loss) < 1e-6 and res[1].finished_at == first.finished_at
    events = read_journal(tmp_path / "b")
    assert "rederive" in set(events.event)


def test_a_trunk_made_for_shorter_branches_is_extended_for_longer_ones(corpus, data, tmp_path):
    """A sweep that adds longer runs of a size after its trunk was made (a second seed first run at one
    budget, then at every budget) extends the stored trunk: the new, longer branch equals a plain WSD
    run of its length, and the finished branch is not trained again."""
    cfgs = [branch(corpus, 30), branch(corpus, 60)]
    first = train_branches(cfgs[:1], tmp_path, data=data)[0]  # the trunk made for 30 steps (to step 24)
    assert store.read_config(tmp_path / "b" / "trunk-a").tokens == cfgs[0].tokens
    res = train_branches(cfgs, tmp_path, data=data)
    assert store.read_config(tmp_path / "b" / "trunk-a").tokens == cfgs[1].tokens
    plain = train(cfgs[1].model_copy(update={"trunk": None, "run_id": "plain"}), data=data)
    assert abs(res[1].loss - plain.loss) < 1e-6 and res[0].finished_at == first.finished_at
    assert "extend" in set(read_journal(tmp_path / "b").event)


def test_branches_must_agree_except_in_tokens(corpus):
    with pytest.raises(ScalingError, match="lr"):
        trunk_config([branch(corpus, 30), branch(corpus, 60, lr=1e-3)])
    with pytest.raises(ScalingError, match="warmup_steps"):
        trunk_config([branch(corpus, 30, warmup_steps=None)])
    t = trunk_config([branch(corpus, 30), branch(corpus, 60)])
    assert t.run_id == "trunk-a" and t.steps == 60 and store.is_trunk(t)


SPEC = """
name = "br"
kind = "isoflop"
budgets = [1e10, 3e10]
tokens_per_param = 20
size_multipliers = [0.5, 1, 2]
size_grid = 2
flops_convention = "palm"
[model]
context = 64
width_multiple = 16
shape_rule = "aspect"
head_dim = 16
[train]
lr = 3e-3
batch_size = 16
min_steps = 30
schedule = "wsd"
branched = true
min_lr_ratio = 0
decay_shape = "sqrt"
eval_points = 2
eval_tokens = 2048
final_eval_tokens = 4096
checkpoint_every_s = 0.5
save_model = false
[data]
corpus = "CORPUS"
order = "shuffled"
"""


def test_branched_spec_groups_sizes_into_trunks(corpus):
    spec = parse_spec(__import__("tomllib").loads(SPEC.replace("CORPUS", str(corpus))))
    runs = spec.expand()
    jobs = jobs_of(runs)
    shared = [j for j in jobs if len(j) == 2]
    assert shared, "budgets a grid step apart share sizes"
    for job in jobs:
        assert len({(c.batch_size, c.warmup_steps, c.lr, c.trunk) for c in job}) == 1
        assert job[0].trunk == f"trunk-{job[0].n_layer}x{job[0].d_model}-b{job[0].batch_size}-s0"


def test_a_learning_rate_probe_gets_one_trunk_per_rate(corpus):
    """Runs of one shape at two peak rates cannot share a trunk (it would train at one of them)."""
    runs = "".join(
        f"[[runs]]\nname = 'D{t}-lr{lr}'\nn_layer = 1\nd_model = 32\nn_head = 2\ntokens = {t}\nlr = {lr}\n"
        for lr in (2e-3, 4e-3)
        for t in (40960, 81920)
    )
    text = SPEC.replace("CORPUS", str(corpus)).replace('kind = "isoflop"', 'kind = "list"')
    for key in ("budgets", "tokens_per_param", "size_multipliers", "size_grid"):
        text = "\n".join(line for line in text.splitlines() if not line.startswith(key))
    text = text.replace("min_steps = 30\n", "")
    spec = parse_spec(__import__("tomllib").loads(text + "\n" + runs))
    jobs = jobs_of(spec.expand())
    assert len(jobs) == 2 and all(len(j) == 2 for j in jobs)
    for job in jobs:
        (lr,) = {c.lr for c in job}
        assert {c.trunk for c in job} == {f"trunk-1x32-b16-lr{lr:.4g}-s0"}
        trunk_config(job)  # the branches agree in everything but their tokens


@pytest.mark.slow
def test_sigkill_mid_trunk_then_rerun_finishes_every_run_once(corpus, tmp_path):
    spec_file = tmp_path / "br.toml"
    spec_file.write_text(SPEC.replace("CORPUS", str(corpus)))
    cmd = [
        sys.executable,
        "-m",
        "scaling",
        "sweep",
        "run",
        str(spec_file),
        "--root",
        str(tmp_path / "runs"),
        "--workers",
        "1",
        "--threads",
        "1",
        "--data-dir",
        str(tmp_path / "data"),
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    journal = tmp_path / "runs" / "br" / "journal.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline:  # kill it once one branch finished and a checkpoint exists
        if journal.exists() and '"finish"' in journal.read_text() and list((tmp_path / "runs" / "br").glob("*/*.pt")):
            break
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    events = read_journal(tmp_path / "runs" / "br")
    finished = events[events.event == "finish"].run_id.tolist()
    spec = parse_spec(__import__("tomllib").loads(SPEC.replace("CORPUS", str(corpus))))
    assert sorted(finished) == sorted(c.run_id for c in spec.expand())  # each run finished exactly once
    table = collect(tmp_path / "runs" / "br")
    assert len(table) == len(spec.expand()) and (table.epochs < 1).all()


def test_compare_sweeps_pairs_runs_and_counts_each_trunk_once(wsd_pair, data, tmp_path):
    from scaling.sweep.compare import compare_sweeps

    wsd, cfgs, _ = wsd_pair
    for c in cfgs:
        cos = c.model_copy(
            update={"trunk": None, "sweep": "cos", "schedule": "cosine", "warmup_steps": None, "min_lr_ratio": 0.1}
        )
        train(cos, tmp_path / "cos" / c.run_id, data=data)
    res = compare_sweeps(tmp_path / "cos", wsd / "b", out=tmp_path / "pair.csv")
    assert (res.label_a, res.label_b) == ("cosine", "wsd") and len(res.table) == 2
    fpt = cfgs[0].flops_per_token() * 16 * 64
    assert res.spent_a == pytest.approx(fpt * 90) and res.spent_b == pytest.approx(fpt * (48 + 6 + 12))
    t = res.table
    assert (t["rel_diff"] == t["loss_wsd"] / t["loss_cosine"] - 1).all() and t["loss_cosine"].notna().all()
    assert "compute spent on these runs: cosine" in res.summary()
    # the mean difference carries a t interval over the pairs (two pairs: one degree of freedom)
    d = t["rel_diff"].to_numpy()
    half = 12.706204736 * d.std(ddof=1) / 2**0.5
    assert res.mean_interval() == pytest.approx((d.mean() - half, d.mean() + half), rel=1e-6)
    assert f"95% interval {d.mean() - half:+.2%} to {d.mean() + half:+.2%}" in res.summary()
    # --min-steps keeps the longer run only (60 steps; the other has 30)
    steps = res.table["tokens"] // (16 * 64)
    short = compare_sweeps(tmp_path / "cos", wsd / "b", min_steps=int(steps.max()))
    assert len(short.table) == 1 and np.isnan(short.mean_interval()[0]) and "95% interval" not in short.summary()
    with pytest.raises(__import__("scaling.errors").errors.ScalingError, match="--min-steps 1000"):
        compare_sweeps(tmp_path / "cos", wsd / "b", min_steps=1000)
    assert list(__import__("pandas").read_csv(tmp_path / "pair.csv").columns[:8]) == [
        "run_id",
        "run_id_cosine",
        "params",
        "tokens",
        "flops",
        "loss_cosine",
        "loss_wsd",
        "rel_diff",
    ]


def test_compare_sweeps_best_keeps_the_lowest_loss_of_several_tries(wsd_pair, data, tmp_path):
    """Side A as two sweeps (cosine at two learning rates): without best a repeated run is an error
    naming both; with best each matched run keeps A's lowest loss, with its rate and the try count."""
    from scaling.errors import ScalingError
    from scaling.sweep.compare import compare_sweeps

    wsd, cfgs, _ = wsd_pair
    losses = {}
    for name, mult in (("cos1", 1.0), ("cos3", 3.0)):
        for c in cfgs:
            cos = c.model_copy(
                update={
                    "trunk": None,
                    "sweep": name,
                    "schedule": "cosine",
                    "warmup_steps": None,
                    "min_lr_ratio": 0.0,
                    "lr": c.lr * mult,
                }
            )
            losses[(name, c.run_id)] = train(cos, tmp_path / name / c.run_id, data=data).loss
    with pytest.raises(ScalingError, match="give --best"):
        compare_sweeps([tmp_path / "cos1", tmp_path / "cos3"], wsd / "b")
    res = compare_sweeps([tmp_path / "cos1", tmp_path / "cos3"], wsd / "b", best=True)
    t = res.table.set_index("run_id")
    for c in cfgs:
        lo = min(losses[("cos1", c.run_id)], losses[("cos3", c.run_id)])
        assert t.loc[c.run_id, "loss_cosine"] == pytest.approx(lo, rel=1e-12)
        picked = "cos1" if losses[("cos1", c.run_id)] <= losses[("cos3", c.run_id)] else "cos3"
        assert t.loc[c.run_id, "lr_cosine"] == pytest.approx(c.lr * (1.0 if picked == "cos1" else 3.0))
        assert t.loc[c.run_id, "tried_cosine"] == 2
    fpt = cfgs[0].flops_per_token() * 16 * 64
    assert res.tried_a == pytest.approx(2 * fpt * 90) and "of 4 runs tried for these 2" in res.summary()
    # --same-lr: the rate joins the key, so each of A's runs pairs only with B's at its own rate
    same = compare_sweeps([tmp_path / "cos1", tmp_path / "cos3"], wsd / "b", same_lr=True).table.set_index("run_id")
    assert len(same) == len(cfgs)
    for c in cfgs:
        assert same.loc[c.run_id, "loss_cosine"] == pytest.approx(losses[("cos1", c.run_id)], rel=1e-12)
        assert same.loc[c.run_id, "lr_cosine"] == pytest.approx(c.lr) == same.loc[c.run_id, "lr_wsd"]
    with pytest.raises(ScalingError, match="same shape, tokens, seed and learning rate"):
        compare_sweeps(tmp_path / "cos3", wsd / "b", same_lr=True)
