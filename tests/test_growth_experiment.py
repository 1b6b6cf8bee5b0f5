"""The growth experiment's spec: the operator's planned budget, the post-growth schedule, method
names old and new, and the committed store read under the new names (no training)."""

import shutil
from pathlib import Path

import pytest

from scaling import store
from scaling.errors import ScalingError
from scaling.growth.configs import describe_jobs, legacy_run_id, run_configs
from scaling.growth.jobs import plan_jobs
from scaling.growth.spec import load_growth_spec

ROOT = Path(__file__).resolve().parents[1]
SMOKE = (ROOT / "sweeps" / "growth-smoke.toml").read_text()


def _spec(tmp_path, ligo="steps = 5\nlr = 1e-3", extra="", methods=None):
    """The smoke spec with its [ligo] table replaced, tables appended, and other methods."""
    text = SMOKE.replace("[ligo]\nsteps = 5\nlr = 1e-3", "[ligo]\n" + ligo)
    if methods is not None:
        text = text.replace('methods = ["ligo", "hyperclone-stack", "hyperclone-identity"]', f"methods = {methods}")
    path = tmp_path / "spec.toml"
    path.write_text(text + "\n" + extra)
    return load_growth_spec(path)


def test_the_operator_budget_is_planned_in_tokens(tmp_path):
    # smoke: context 32, train batch 8 (256 tokens per step); scratch 15,360 tokens
    spec = _spec(tmp_path, "tokens = 1_000\nbatch_size = 4\nlr = 1e-3")
    op = spec.operator_budget()
    assert (op.steps, op.tokens_per_step, op.tokens) == (8, 128, 1024)  # 1,000 tokens in whole steps
    assert op.scratch_share == pytest.approx(1024 / 15360) and op.flops > 0
    cfg = run_configs(spec)["ligo-f1-s0"]
    assert cfg.tags["operator_steps"] == 8 and cfg.tags["operator_tokens"] == 1024
    assert cfg.tags["operator_flops"] == pytest.approx(op.flops)
    assert run_configs(spec)["hyperclone-stack-f1-s0"].tags["operator_tokens"] == 0
    text = describe_jobs(spec)
    assert "LiGO operator: 8 steps x 128 tokens = 1,024 tokens (6.67% of the scratch run's 15.4K)" in text
    assert "(8 steps, 1.02K tokens)" in text
    # as a fraction of the scratch run's tokens
    op = _spec(tmp_path, "scratch_fraction = 0.1\nlr = 1e-3").operator_budget()
    assert (op.steps, op.tokens) == (6, 1536)
    # steps, as before, and the default of 100 steps
    assert _spec(tmp_path).operator_budget().steps == 5
    assert _spec(tmp_path, "lr = 1e-3").operator_budget().steps == 100
    with pytest.raises(ScalingError, match="one of steps, tokens and scratch_fraction"):
        _spec(tmp_path, "steps = 5\ntokens = 1000")
    with pytest.raises(ScalingError, match="scratch_fraction"):
        _spec(tmp_path, "scratch_fraction = 2")


def test_the_post_growth_schedule_is_configurable(tmp_path):
    spec = _spec(tmp_path)
    cfgs = run_configs(spec)
    scratch, grown = cfgs["scratch-s0"], cfgs["ligo-f1-s0"]
    keys = ("lr", "schedule", "warmup_fraction", "warmup_steps", "min_lr_ratio")
    assert all(getattr(grown, k) == getattr(scratch, k) for k in keys)  # default: the scratch recipe
    assert "the scratch run's recipe" in describe_jobs(spec)
    spec = _spec(
        tmp_path,
        extra="[grown]\nlr = 5e-3\nwarmup_steps = 0\nmin_lr_ratio = 0.05\n"
        '[grown.methods.ligo]\nwarmup_fraction = 0.2\nschedule = "wsd"\n',
    )
    cfgs = run_configs(spec)
    ligo, clone, scratch = cfgs["ligo-f1-s0"], cfgs["hyperclone-stack-f0.5-s1"], cfgs["scratch-s0"]
    assert (clone.lr, clone.warmup_steps, clone.warmup, clone.min_lr_ratio, clone.schedule) == (
        5e-3, 0, 0, 0.05, "cosine"
    )  # fmt: skip
    # the method's own warm-up fraction wins over [grown]'s warm-up steps
    assert (ligo.lr, ligo.warmup_steps, ligo.warmup_fraction, ligo.schedule) == (5e-3, None, 0.2, "wsd")
    assert ligo.warmup == round(0.2 * ligo.steps)
    assert (scratch.lr, scratch.warmup_steps, scratch.min_lr_ratio) == (1e-2, None, 0.1)  # untouched
    text = describe_jobs(spec)
    assert "after growth (ligo): wsd, peak lr 0.005" in text and "after growth (hyperclone-stack, " in text
    with pytest.raises(ScalingError, match="grown.methods: 'stack' is not one of this spec's methods"):
        _spec(tmp_path, extra="[grown.methods.stack]\nlr = 1e-3\n")
    with pytest.raises(ScalingError, match="grown.lr"):
        _spec(tmp_path, extra="[grown]\nlr = -1\n")


def test_method_names_in_specs(tmp_path):
    # the names used before the renaming load as what the shapes made them (2 x 32 -> 3 x 64), and say so
    spec = _spec(tmp_path, methods='["ligo", "stack", "hyperclone"]')
    assert spec.methods == ["ligo", "hyperclone-stack", "hyperclone-identity"]
    assert spec.renamed == {"stack": "hyperclone-stack", "hyperclone": "hyperclone-identity"}
    assert "hyperclone-identity-f1-s0" in run_configs(spec)
    assert "method 'stack' grows width and depth here: run as 'hyperclone-stack'" in describe_jobs(spec)
    assert _spec(tmp_path).renamed == {}
    with pytest.raises(ScalingError, match="unknown method 'magic'"):
        _spec(tmp_path, methods='["ligo", "magic"]')
    with pytest.raises(ScalingError, match="repeated method"):
        _spec(tmp_path, methods='["stack", "hyperclone-stack"]')


def test_the_committed_store_is_the_renamed_spec_finished(tmp_path):
    """sweeps/growth-cpu.toml, its methods renamed and its operator budget in tokens, computes the
    same runs as the committed store (written under the former names): nothing to run, no new
    directory, no config rewritten."""
    spec = load_growth_spec(ROOT / "sweeps" / "growth-cpu.toml")
    assert spec.methods == ["ligo", "hyperclone-stack", "hyperclone-identity"]
    assert legacy_run_id(spec, "hyperclone-stack-f0.25-s1") == "stack-f0.25-s1"
    assert legacy_run_id(spec, "hyperclone-identity-f1-s0") == "hyperclone-f1-s0"
    assert legacy_run_id(spec, "ligo-f1-s0") is None
    shutil.copytree(ROOT / "data" / "runs" / "growth-cpu", tmp_path / "growth-cpu")
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "growth-cpu").rglob("*") if p.is_file()}
    jobs, skipped = plan_jobs(spec, tmp_path)
    assert jobs == [] and skipped == 22 + 6  # 22 runs and 6 grow jobs, all done
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "growth-cpu").rglob("*") if p.is_file()}
    assert after == before
    # a run that differs is not taken for its old namesake
    other = spec.model_copy(update={"fractions": [0.25, 0.5, 1.0, 2.0]})
    jobs, _ = plan_jobs(other, tmp_path)
    assert {j.key for j in jobs} >= {"hyperclone-stack-f2-s0", "grow:hyperclone-stack-s0"}
    assert store.read_config(tmp_path / "growth-cpu" / "hyperclone-stack-f2-s0").tags["method"] == "hyperclone-stack"


def test_a_resumed_experiment_keeps_its_finished_runs_configs(tmp_path):
    """A finished run's config.json records how it ran (threads: 1 in growth-v2-x3.6); resuming the
    experiment checks it against the spec and keeps it, as `sweep run` does (it was rewritten with the
    planning default, threads null)."""
    spec = load_growth_spec(ROOT / "sweeps" / "growth-v2-x3.6.toml")
    src = ROOT / "data" / "runs" / "growth-v2-x3.6"
    for seed in spec.seeds:
        shutil.copytree(src / f"small-s{seed}", tmp_path / spec.name / f"small-s{seed}")
    cfg = tmp_path / spec.name / "small-s0" / "config.json"
    before = cfg.read_bytes()
    assert store.read_config(cfg.parent).threads == 1
    jobs, skipped = plan_jobs(spec, tmp_path)
    assert cfg.read_bytes() == before and skipped == len(spec.seeds)
    assert not any(j.key.startswith("small-") for j in jobs) and any(j.key == "scratch-s0" for j in jobs)
    # a finished run whose config no longer matches the spec is refused, not silently rewritten
    other = spec.model_copy(update={"small": spec.small.model_copy(update={"lr": 1e-3})})
    with pytest.raises(ScalingError, match="already exists with a different configuration"):
        plan_jobs(other, tmp_path)


def test_schedule_variants_share_their_base_methods_growth(tmp_path):
    """``ligo+warm0`` is LiGO's grown model trained with another post-growth schedule: its runs are
    configured with that schedule, start from the same grown weights (one grow job per base method
    and seed), and are labelled and analysed as a method of their own."""
    from scaling.growth.methods import base_method, label, variant

    spec = _spec(
        tmp_path,
        methods='["ligo", "ligo+warm0", "hyperclone-stack"]',
        extra='[grown.methods."ligo+warm0"]\nwarmup_steps = 0\nlr = 5e-3\n',
    )
    cfgs = run_configs(spec)
    base, var = cfgs["ligo-f1-s0"], cfgs["ligo+warm0-f1-s0"]
    assert (var.warmup, var.lr) == (0, 5e-3) and base.warmup > 0 and base.lr == 1e-2
    assert var.tags["method"] == "ligo+warm0" and var.tags["operator_tokens"] == base.tags["operator_tokens"] > 0
    assert var.tokens == base.tokens and var.seed == base.seed
    jobs, _ = plan_jobs(spec, tmp_path)
    keys = {j.key for j in jobs}
    assert {"grow:ligo-s0", "grow:ligo-s1", "grow:hyperclone-stack-s0"} <= keys
    assert not any(k.startswith("grow:ligo+") for k in keys)
    by_key = {j.key: j for j in jobs}
    assert by_key["ligo+warm0-f0.5-s1"].deps == ["grow:ligo-s1"]
    assert by_key["ligo+warm0-f0.5-s1"].args[-1] == by_key["ligo-f0.5-s1"].args[-1]  # one initial model
    assert "after growth (ligo+warm0): cosine, peak lr 0.005, warm-up 0 of" in describe_jobs(spec)
    assert (base_method("ligo+warm0"), variant("ligo+warm0"), variant("ligo")) == ("ligo", "warm0", None)
    assert label("ligo+warm0") == "LiGO [warm0]"
    with pytest.raises(ScalingError, match=r"'ligo\+lr2' is a schedule variant of 'ligo' and needs its schedule"):
        _spec(tmp_path, methods='["ligo", "ligo+lr2"]')
    with pytest.raises(ScalingError, match="unknown method 'magic\\+x'"):
        _spec(tmp_path, methods='["ligo", "magic+x"]', extra='[grown.methods."magic+x"]\nlr = 1e-3\n')


def test_an_exact_width_copy_at_a_non_integer_factor_is_refused_at_load(tmp_path):
    """HyperCloning's exact copy needs the residual width to grow by an integer factor; a spec that
    asks for it at 32 -> 48 is refused when it is read (it failed in the grow job, an hour in, before),
    and LiGO alone, or the approximate copy, is taken."""
    smoke = SMOKE
    wide = smoke.replace("d_model = 64\nn_head = 4", "d_model = 48\nn_head = 3")
    assert wide != smoke
    path = tmp_path / "spec.toml"
    path.write_text(wide)
    with pytest.raises(ScalingError, match=r"'hyperclone-stack' copies the width exactly .* 32 -> large 48 is x1\.5"):
        load_growth_spec(path)
    path.write_text(wide.replace('methods = ["ligo", "hyperclone-stack", "hyperclone-identity"]', 'methods = ["ligo"]'))
    assert load_growth_spec(path).methods == ["ligo"]
    assert "exact" not in wide  # the smoke spec copies exactly by default
    path.write_text(wide.replace("[baselines]", "[baselines]\nexact = false"))
    assert not load_growth_spec(path).baselines.exact
