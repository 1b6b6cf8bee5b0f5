"""Sweep specs (validation, expansion) and executors (local pool, SIGKILL + resume, Ray)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scaling.errors import ScalingError
from scaling.sweep import load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "sweeps" / "smoke.toml"


def bad(text, tmp_path):
    p = tmp_path / "x.toml"
    p.write_text(text)
    with pytest.raises(ScalingError) as err:
        load_spec(p)
    msg = str(err.value)
    assert msg.startswith(str(p)) and "\n" not in msg
    return msg


ISO = """
kind = "isoflop"
budgets = [1e10, 3e10]
size_multipliers = [0.5, 1, 2]
[model]
context = 64
[data]
corpus = "stdlib"
"""


def test_spec_errors_name_the_key(tmp_path):
    assert "budgets[2]: must be positive" in bad(ISO.replace("[1e10, 3e10]", "[1e10, 3e10, -1]"), tmp_path)
    assert "budgets: required" in bad(ISO.replace("budgets = [1e10, 3e10]", ""), tmp_path)
    assert "bugdets: unknown key (did you mean 'budgets'?)" in bad(ISO.replace("budgets =", "bugdets ="), tmp_path)
    assert "model.context: must be positive" in bad(ISO.replace("context = 64", "context = 0"), tmp_path)
    assert "train.lr.base: must be positive" in bad(ISO + "[train]\nlr = {base = -1}\n", tmp_path)
    assert "train.lr.exponent" in bad(ISO + "[train]\nlr = {base = 1e-3, exponent = 'x'}\n", tmp_path)
    assert "kind" in bad(ISO.replace('"isoflop"', '"isoflops"'), tmp_path)
    assert "seeds: repeated" in bad("seeds = [1, 1]\n" + ISO, tmp_path)
    assert "invalid TOML" in bad("kind = ", tmp_path)
    assert "runs[0]" in bad('kind = "list"\n[[runs]]\nn_layer = 2\n', tmp_path)
    assert "runs[0]" in bad('kind = "list"\n[[runs]]\nn_layer = 1\nd_model = 30\nn_head = 4\ntokens = 1e5\n', tmp_path)
    with pytest.raises(ScalingError, match="no such sweep spec"):
        load_spec(tmp_path / "missing.toml")


def test_isoflop_expansion(tmp_path):
    spec = parse_spec(__import__("tomllib").loads("seeds = [0, 1]\n" + ISO), default_name="iso")
    runs = spec.expand()
    assert spec.name == "iso" and len({r.run_id for r in runs}) == len(runs)
    assert {r.seed for r in runs} == {0, 1}
    for r in runs:
        steps_flops = r.flops_per_token() * r.tokens_per_step
        assert abs(r.flops_per_token() * r.trained_tokens - r.budget) <= steps_flops / 2 + 1
        assert r.trained_tokens % (r.batch_size * r.context) == 0
        assert r.sweep == "iso" and r.corpus == "stdlib"
    sizes = sorted({r.param_counts()["total"] for r in runs if r.budget == 3e10 and r.seed == 0})
    assert len(sizes) >= 2


def test_short_run_seeds_replicate_only_the_short_runs(tmp_path):
    """Seed noise is largest in the shortest runs (cpu-isoflop-v2: two seeds differ by up to 11.6% at
    251 steps and under 1.5% past 2,000): further seeds for those runs only."""
    toml = __import__("tomllib")
    base = parse_spec(toml.loads("seeds = [0, 1]\n" + ISO), default_name="iso").expand()
    spec = parse_spec(
        toml.loads("seeds = [0, 1]\nshort_run_seeds = [2]\nshort_run_max_steps = 100\n" + ISO), default_name="iso"
    )
    runs = spec.expand()
    extra = [r for r in runs if r.seed == 2]
    assert [r for r in runs if r.seed != 2] == base  # the first seeds are untouched
    assert len(extra) == 3 and all(r.steps <= 100 for r in extra)
    assert {r.run_id.removesuffix("-s2") for r in extra} == {
        r.run_id.removesuffix("-s0") for r in base if r.seed == 0 and r.steps <= 100
    }
    assert "short_run_seeds and short_run_max_steps: give both" in bad("short_run_seeds = [2]\n" + ISO, tmp_path)
    assert "short_run_seeds: repeated seed 0" in bad("short_run_seeds = [0]\nshort_run_max_steps = 9\n" + ISO, tmp_path)


def test_list_runs_can_name_their_own_seeds(tmp_path):
    """A list spec's run may train other seeds than the spec's (more replicates of a comparison's short
    runs, where seed noise is largest); the others keep the spec's, and run ids stay unique."""
    head = 'kind = "list"\nseeds = [1]\n[model]\ncontext = 64\n[data]\ncorpus = "stdlib"\n'
    run = "[[runs]]\nname = '{}'\nn_layer = 1\nd_model = 32\ntokens = {}\n"
    text = head + run.format("short", 8192) + "seeds = [1, 2, 3]\n" + run.format("long", 65536)
    p = tmp_path / "x.toml"
    p.write_text(text)
    runs = load_spec(p).expand()
    assert sorted(r.run_id for r in runs) == ["long-s1", "short-s1", "short-s2", "short-s3"]
    assert {r.seed for r in runs if r.run_id.startswith("short")} == {1, 2, 3}
    assert "seeds: repeated seed" in bad(text.replace("[1, 2, 3]", "[2, 2]"), tmp_path)
    assert "seeds" in bad(text.replace("[1, 2, 3]", "[]"), tmp_path)


def test_grid_and_list_and_rules():
    grid = parse_spec(
        {
            "kind": "grid",
            "params": [2e4, 5e4],
            "tokens_per_param": [5, 20],
            "model": {"context": 64},
            "train": {"batch_size": {"base": 8, "ref_params": 2e4, "exponent": 1, "max": 64}, "lr": "3e-3"},
        }
    )
    runs = grid.expand()
    assert len(runs) == 4
    assert {r.batch_size for r in runs} == {8, 16}  # power rule rounded to powers of two
    assert all(
        abs(r.trained_tokens / r.param_counts()["total"] - r.tags["tokens_per_param_target"])
        / r.tags["tokens_per_param_target"]
        < 0.5
        for r in runs
    )
    lst = parse_spec(
        {
            "kind": "list",
            "runs": [
                {"name": "tiny", "n_layer": 1, "d_model": 16, "n_head": 2, "tokens": "1M"},
                {"params": 3e4, "flops": 1e11},
            ],
        }
    )
    a, b = lst.expand()
    assert a.run_id == "tiny-s0" and a.n_layer == 1 and abs(a.trained_tokens - 1e6) < a.tokens_per_step
    assert b.budget == 1e11


def test_sparse_specs_carry_the_sparsity_into_shapes_and_flops(tmp_path):
    """Sparse isoFLOP runs get their tokens from the non-zero FLOPs (more tokens than dense at the same
    budget); every kind passes the mask settings to the run; bad mask settings name the key."""
    import tomllib

    dense = parse_spec(tomllib.loads(ISO), default_name="d").expand()
    sparse = parse_spec(
        tomllib.loads(
            ISO.replace(
                "context = 64",
                'context = 64\nsparsity = 0.5\nsparsity_mask = "magnitude"\nsparsity_warmup_fraction = 0.1',
            )
        ),
        default_name="s",
    ).expand()
    assert [(r.n_layer, r.d_model) for r in dense] == [(r.n_layer, r.d_model) for r in sparse]
    for d, s in zip(dense, sparse):
        assert s.sparsity == 0.5 and s.sparsity_mask == "magnitude" and s.sparsity_warmup_fraction == 0.1
        assert s.trained_tokens > d.trained_tokens
        assert abs(s.flops_per_token() * s.trained_tokens - s.budget) <= s.flops_per_token() * s.tokens_per_step / 2 + 1
        assert s.flops_per_token() < d.flops_per_token()
    lst = parse_spec(
        {
            "kind": "list",
            "model": {"context": 64, "sparsity": 0.75},
            "runs": [{"n_layer": 1, "d_model": 32, "flops": 1e11}],
        }
    ).expand()
    assert lst[0].sparsity == 0.75 and abs(lst[0].flops_per_token() * lst[0].trained_tokens / 1e11 - 1) < 0.05
    assert "model.sparsity_warmup_fraction: only for sparsity_mask = 'magnitude'" in bad(
        ISO.replace("context = 64", "context = 64\nsparsity = 0.5\nsparsity_warmup_fraction = 0.1"), tmp_path
    )
    assert "model.sparsity_mask" in bad(
        ISO.replace("context = 64", 'context = 64\nsparsity_mask = "lottery"'), tmp_path
    )


SHARE = """
kind = "isoflop"
budgets = [1e12, 1e13]
size_multipliers = [0.25, 0.5, 1, 2, 4]
flops_convention = "palm"
[model]
context = 96
shape_rule = "aspect"
head_dim = 16
aspect_weight = 0.2
attention_share = [0.15, 0.25]
[data]
corpus = "stdlib"
"""


@pytest.mark.parametrize("mixer", ["attention", "hyena"])
def test_attention_share_band_holds_at_every_size(mixer, tmp_path):
    """With model.attention_share the aspect rule builds only shapes at which attention's context
    FLOPs (PaLM count) are that fraction of 6N, for either mixer; without it the same sizes leave
    the band; a band no shape can meet, or one given to the search rule, is a one-line error."""
    import tomllib

    from scaling.flops import flops_per_token
    from scaling.sweep.expand import attention_share

    text = SHARE.replace("context = 96", f'context = 96\nmixer = "{mixer}"')
    runs = parse_spec(tomllib.loads(text)).expand()
    shares = [float(attention_share(r.n_layer, r.d_model, r.context, r.vocab, r.d_ff)) for r in runs]
    assert len({(r.n_layer, r.d_model) for r in runs}) >= 6
    assert all(0.15 <= x <= 0.25 for x in shares), shares
    for r, x in zip(runs, shares):  # the share is the PaLM context term over 6N of the attention shape
        palm = flops_per_token(r.n_layer, r.d_model, 96, 256, d_ff=r.d_ff, convention="palm")
        assert x == pytest.approx(12 * r.n_layer * r.d_model * 96 / (palm - 12 * r.n_layer * r.d_model * 96))
    free = parse_spec(tomllib.loads(text.replace("attention_share = [0.15, 0.25]", ""))).expand()
    assert any(not 0.15 <= attention_share(r.n_layer, r.d_model, 96, 256, r.d_ff) <= 0.25 for r in free)
    assert "attention_share: give [lo, hi] with lo < hi" in bad(text.replace("[0.15, 0.25]", "[0.25, 0.15]"), tmp_path)
    assert "attention_share: only for shape_rule = 'aspect'" in bad(text.replace('"aspect"', '"search"'), tmp_path)
    assert "no shape" in bad(
        text.replace("[0.15, 0.25]", "[0.001, 0.002]").replace("context = 96", "context = 8192"), tmp_path
    )
    beyond = bad(text.replace("[1e12, 1e13]", "[1e12, 1e22]"), tmp_path)
    assert "beyond the largest shape with that share at context 96" in beyond and "budgets[1]" in beyond


def test_branched_magnitude_masks_prune_once_per_trunk():
    """A branched spec gives every branch of a trunk one absolute dense warm-up (the fraction of the
    shortest branch), so all of them prune at the same step of the trunk; random masks get none."""
    import tomllib

    text = """
kind = "grid"
params = [3e4, 6e4]
tokens_per_param = [10, 40, 160]
[model]
context = 64
shape_rule = "aspect"
head_dim = 16
sparsity = 0.5
sparsity_mask = "magnitude"
sparsity_warmup_fraction = 0.2
[train]
batch_size = 16
schedule = "wsd"
branched = true
[data]
corpus = "stdlib"
"""
    runs = parse_spec(tomllib.loads(text)).expand()
    trunks = {}
    for r in runs:
        trunks.setdefault(r.trunk, []).append(r)
    assert len(trunks) == 2 and all(len(b) == 3 for b in trunks.values())
    for branches in trunks.values():
        shortest = min(b.steps for b in branches)
        assert {b.sparsity_dense_steps for b in branches} == {round(0.2 * shortest)}
        assert all(b.dense_steps == round(0.2 * shortest) < b.decay_start for b in branches)
    rand = parse_spec(
        tomllib.loads(text.replace('"magnitude"', '"random"').replace("sparsity_warmup_fraction = 0.2", ""))
    ).expand()
    assert all(r.sparsity_dense_steps is None and r.dense_steps == 0 for r in rand)


def test_growth_spec_is_sent_to_scaling_grow(tmp_path):
    msg = bad('kind = "growth"\nname = "g"\n', tmp_path)
    assert "scaling grow run" in msg


def test_shipped_specs_expand():
    smoke = load_spec(SMOKE)
    runs = smoke.expand()
    assert 9 <= len(runs) <= 16 and sum(r.flops_per_token() * r.trained_tokens for r in runs) < 2e11
    # the README's demo: at least 3 budgets, each with 4+ sizes spanning its expected minimum 5x or more
    assert len(smoke.budgets) >= 3
    for C in smoke.budgets:
        sizes = sorted(r.param_counts()["total"] for r in runs if r.budget == C)
        assert len(sizes) >= 4 and sizes[-1] / sizes[0] >= 5
    cpu = load_spec(ROOT / "sweeps" / "cpu-isoflop.toml")
    budgets = sorted({r.budget for r in cpu.expand()})
    assert len(budgets) >= 4 and budgets[0] <= 1e12 and budgets[-1] >= 1e14
    assert all(sum(r.budget == b for r in cpu.expand()) >= 5 for b in budgets)
    gpu = load_spec(ROOT / "sweeps" / "gpu-isoflop.toml")
    assert min(r.budget for r in gpu.expand()) == 1e16 and max(r.budget for r in gpu.expand()) == 1e18


LARGE_TRAIN_TOKENS = 272_961_054  # debian-docs-large, bytes, val_fraction 0.05


def test_issue17_hyena_specs_stay_in_the_papers_regime():
    """arch-paper-*: attention's context FLOPs are 15-25% of 6N at every size of both files, which
    differ only in the mixer; 4+ budgets, each with 2+ sizes either side of its centre and seed 1
    at the centre alone; every run within one epoch of debian-docs-large."""
    import tomllib

    from scaling.sweep import check_epochs
    from scaling.sweep.expand import attention_share

    att, hy = (ROOT / "sweeps" / f"arch-paper-{m}.toml" for m in ("attention", "hyena"))
    a, h = tomllib.loads(att.read_text()), tomllib.loads(hy.read_text())
    for d in (a, h):
        d.pop("name"), d.pop("description"), d["model"].pop("mixer")
    assert a == h
    for path in (att, hy):
        spec = load_spec(path)
        runs = spec.expand()
        check_epochs(spec, runs, {("debian-docs-large", "bytes", 0.05, None): LARGE_TRAIN_TOKENS})
        assert all(0.15 <= attention_share(r.n_layer, r.d_model, r.context, r.vocab, r.d_ff) <= 0.25 for r in runs)
        assert len(spec.budgets) >= 4 and all(r.trunk for r in runs)
        for C in spec.budgets:
            mine = [r for r in runs if r.budget == C]
            centre = next(r.param_counts()["total"] for r in mine if r.tags["size_multiplier"] == 1)
            sizes = {r.param_counts()["total"] for r in mine if r.seed == 0}
            assert sum(n < centre for n in sizes) >= 2 and sum(n > centre for n in sizes) >= 2, (path, C)
            assert [r.tags["size_multiplier"] for r in mine if r.seed == 1] == [1.0]


def test_issue17_sparse_specs_cover_a_decade_of_n_and_of_d_per_n():
    """sparse-long-*: five files with one grid of shapes and tokens; each size is one trunk; per
    file 12+ runs spanning 10x in non-zero parameters and in tokens per parameter; magnitude masks
    prune once per trunk; every run within one epoch."""
    from scaling.sweep import check_epochs

    grids = {}
    for name in ("s0", "s50", "s75", "s50-magnitude", "s75-magnitude"):
        spec = load_spec(ROOT / "sweeps" / f"sparse-long-{name}.toml")
        runs = spec.expand()
        check_epochs(spec, runs, {("debian-docs-large", "bytes", 0.05, None): LARGE_TRAIN_TOKENS})
        grids[name] = sorted((r.n_layer, r.d_model, r.trained_tokens, r.batch_size) for r in runs)
        nonzero = [r.param_counts()["nonzero"] for r in runs]
        per_param = [r.trained_tokens / n for r, n in zip(runs, nonzero)]
        assert len(runs) >= 12 and max(nonzero) / min(nonzero) >= 10 and max(per_param) / min(per_param) >= 10
        trunks = {r.trunk for r in runs}
        assert len(trunks) == len({(r.n_layer, r.d_model) for r in runs})
        for t in trunks:
            branches = [r for r in runs if r.trunk == t]
            assert len({r.dense_steps for r in branches}) == 1
            assert (branches[0].sparsity_dense_steps is not None) == name.endswith("magnitude")
    assert all(g == grids["s0"] for g in grids.values())


# ---------------------------------------------------------------------------------------------
# executors (torch)

KILL_SPEC = """
name = "kill"
kind = "list"
[[runs]]
name = "a"
n_layer = 2
d_model = 32
n_head = 2
tokens = 2e5
[[runs]]
name = "b"
n_layer = 1
d_model = 48
n_head = 3
tokens = 2e5
[[runs]]
name = "c"
n_layer = 1
d_model = 16
n_head = 2
tokens = 1e5
[model]
context = 64
[train]
batch_size = 8
eval_points = 3
eval_tokens = 1024
final_eval_tokens = 4096
checkpoint_every_s = 0.2
save_model = false
[data]
corpus = "CORPUS"
"""


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    import shutil
    import sysconfig

    root = tmp_path_factory.mktemp("corpus")
    shutil.copytree(
        Path(sysconfig.get_paths()["stdlib"]) / "json", root / "json", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(
        Path(sysconfig.get_paths()["stdlib"]) / "email", root / "email", ignore=shutil.ignore_patterns("__pycache__")
    )
    return root


def _cli(args, env, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "scaling", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.mark.slow  # 14 s quiet, minutes under load (its rerun has a timeout): CI runs the slow pass
@pytest.mark.torch
def test_sigkill_mid_sweep_then_rerun_finishes_each_run_once(tmp_path, small_corpus):
    pytest.importorskip("torch")
    from scaling.store import read_curve, read_journal

    spec = tmp_path / "kill.toml"
    spec.write_text(KILL_SPEC.replace("CORPUS", str(small_corpus)))
    env = dict(os.environ, SCALING_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT))
    root = tmp_path / "runs"
    proc = _cli(
        ["sweep", "run", str(spec), "--root", str(root), "--workers", "2", "--no-progress"], env, start_new_session=True
    )
    deadline = time.time() + 60
    while time.time() < deadline and not list(root.glob("kill/*/checkpoint.pt")):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, mid-run
    proc.wait()
    assert len(list(root.glob("kill/*/result.json"))) < 3
    rerun = _cli(["sweep", "run", str(spec), "--root", str(root), "--workers", "2", "--no-progress"], env)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    status = _cli(["sweep", "status", str(spec), "--root", str(root)], env).communicate()[0]
    assert "3 ok" in status
    journal = read_journal(root / "kill")
    finishes = journal[journal.event == "finish"].run_id.value_counts()
    assert sorted(finishes.index) == ["a-s0", "b-s0", "c-s0"] and (finishes == 1).all()
    assert (journal.event == "resume").any()
    for rid in ("a-s0", "b-s0", "c-s0"):
        steps = read_curve(root / "kill" / rid).step.tolist()
        assert steps == sorted(set(steps)) and len(steps) == 3
        assert not (root / "kill" / rid / "checkpoint.pt").exists()
    out_csv = tmp_path / "runs.csv"
    col = _cli(["sweep", "collect", str(spec), "--root", str(root), "--out", str(out_csv)], env).communicate()
    import pandas as pd

    assert len(pd.read_csv(out_csv)) == 3, col


@pytest.fixture(scope="module")
def smoke_local(tmp_path_factory):
    """Two runs of the smoke spec's smallest budget (the two with the fewest steps: one for each worker),
    trained locally (2 one-thread workers)."""
    pytest.importorskip("torch")
    from scaling.store import collect
    from scaling.sweep import run_sweep

    base = tmp_path_factory.mktemp("smoke")
    spec = load_spec(SMOKE)
    smallest = [r for r in spec.expand() if r.budget == min(spec.budgets)]
    only = [r.run_id for r in sorted(smallest, key=lambda r: r.steps)[:2]]
    rep = run_sweep(spec, base / "local", workers=2, threads=1, data_dir=base / "data", progress=False, only=only)
    assert not rep.errors and len(rep.ok) == len(only)
    return base, spec, only, collect(base / "local" / spec.name)


@pytest.fixture(scope="session")
def ray_module():
    """Ray, or a skip before anything is trained (session scope: set up before the module's smoke_local)."""
    return pytest.importorskip("ray")


@pytest.mark.slow  # 30 s with the Ray start-up: CI runs the slow pass
@pytest.mark.torch
@pytest.mark.ray
def test_ray_executor_matches_local(ray_module, smoke_local):
    ray = ray_module
    from scaling.store import collect
    from scaling.sweep import run_sweep

    base, spec, only, local = smoke_local
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        rep = run_sweep(
            spec, base / "ray", executor="ray", threads=1, data_dir=base / "data", progress=False, only=only
        )
    finally:
        ray.shutdown()
    assert not rep.errors, rep.errors
    remote = collect(base / "ray" / spec.name)
    cols = ["run_id", "params", "non_embedding_params", "tokens", "flops", "status", "n_layer", "d_model", "seed"]
    assert remote[cols].equals(local[cols])
    assert (remote.loss - local.loss).abs().max() < 1e-6


@pytest.mark.torch
@pytest.mark.ray
@pytest.mark.slow
def test_ray_matches_local_on_the_whole_smoke_spec(tmp_path):
    ray = pytest.importorskip("ray")
    from scaling.store import collect
    from scaling.sweep import run_sweep

    spec = load_spec(SMOKE)
    run_sweep(spec, tmp_path / "local", workers=2, threads=1, data_dir=tmp_path / "data", progress=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        rep = run_sweep(spec, tmp_path / "ray", executor="ray", threads=1, data_dir=tmp_path / "data", progress=False)
    finally:
        ray.shutdown()
    assert not rep.errors
    local, remote = collect(tmp_path / "local" / spec.name), collect(tmp_path / "ray" / spec.name)
    assert len(local) == len(spec.expand()) and local.run_id.equals(remote.run_id)
    assert (remote.loss - local.loss).abs().max() < 1e-6


def test_sweep_run_hands_a_growth_spec_to_grow_run(monkeypatch):
    from scaling.cli import grow, main

    seen = {}
    monkeypatch.setattr(grow, "run_run", lambda args: seen.update(vars(args)) or 0)
    assert main(["sweep", "run", str(ROOT / "sweeps" / "growth-smoke.toml"), "--workers", "1", "--root", "x"]) == 0
    assert seen["spec"].endswith("growth-smoke.toml") and seen["workers"] == 1 and seen["root"] == "x"
    assert seen["dry_run"] is False and seen["law"] is None
