"""The growth experiment's runs, from its spec: every run's configuration (small, scratch and grown,
for every seed), where the grown initial weights are kept, the names runs had before the
baselines were renamed (:mod:`scaling.growth.methods`), and the plain-text plan that
``scaling grow run --dry-run`` prints.
"""

from __future__ import annotations

from pathlib import Path

from .. import store
from ..units import sci, si
from .methods import LEGACY, base_method, label, legacy_name
from .spec import GrowthSpec

INIT_DIR = "growth-init"


def fmt_fraction(f: float) -> str:
    return f"{f:g}"


def run_configs(spec: GrowthSpec) -> dict[str, store.RunConfig]:
    """Every run of the experiment by run_id (small, scratch and grown, for every seed)."""
    small, large = spec.shapes()
    t = spec.train
    tps = t.batch_size * t.context

    def steps_tokens(tokens: float) -> int:
        return max(1, round(tokens / tps)) * tps

    common = dict(
        sweep=spec.name,
        vocab=small.vocab,
        context=t.context,
        batch_size=t.batch_size,
        schedule=t.schedule,
        warmup_fraction=t.warmup_fraction,
        decay_fraction=t.decay_fraction,
        decay_shape=t.decay_shape,
        data_order=spec.data.order,
        min_lr_ratio=t.min_lr_ratio,
        weight_decay=t.weight_decay,
        beta1=t.beta1,
        beta2=t.beta2,
        grad_clip=t.grad_clip,
        corpus=spec.data.corpus,
        tokenizer=spec.data.tokenizer,
        val_fraction=spec.data.val_fraction,
        corpus_max_bytes=spec.data.max_bytes,
        flops_convention=spec.flops_convention,
        eval_points=t.eval_points,
        eval_tokens=t.eval_tokens,
        final_eval_tokens=t.final_eval_tokens,
        dtype=t.dtype,
        device=t.device,
        checkpoint_every_s=t.checkpoint_every_s,
        save_model=True,
    )

    def shape_fields(s):
        return dict(n_layer=s.n_layer, d_model=s.d_model, n_head=s.n_head, d_ff=s.d_ff)

    small_tokens = steps_tokens(spec.small.tokens)
    small_flops = small.flops_per_token(spec.flops_convention) * small_tokens
    op = spec.operator_budget()
    large_lr = spec.large.lr or t.lr
    out: dict[str, store.RunConfig] = {}
    for seed in spec.seeds:
        sid = f"small-s{seed}"
        out[sid] = store.RunConfig(
            run_id=sid,
            seed=seed,
            tokens=small_tokens,
            **shape_fields(small),
            **common,
            lr=spec.small.lr or t.lr,
            tags={"role": "small"},
        )
        rid = f"scratch-s{seed}"
        out[rid] = store.RunConfig(
            run_id=rid,
            seed=seed,
            tokens=steps_tokens(spec.large.tokens),
            **shape_fields(large),
            **common,
            lr=large_lr,
            tags={"role": "scratch"},
        )
        for method in spec.methods:
            for frac in spec.fractions:
                rid = f"{method}-f{fmt_fraction(frac)}-s{seed}"
                ligo = base_method(method) == "ligo"
                tags = {
                    "role": "grown",
                    "method": method,
                    "fraction": float(frac),
                    "small_run": sid,
                    "small_flops": float(small_flops),
                    "operator_steps": op.steps if ligo else 0,
                    "operator_tokens": op.tokens if ligo else 0,
                    "operator_flops": op.flops if ligo else 0.0,
                }
                out[rid] = store.RunConfig(
                    run_id=rid,
                    seed=seed,
                    tokens=steps_tokens(frac * spec.large.tokens),
                    **shape_fields(large),
                    **{**common, "lr": large_lr, **spec.grown.for_method(method)},
                    tags=tags,
                )
    return out


def legacy_run_id(spec: GrowthSpec, rid: str) -> str | None:
    """The id a grown run of a renamed hybrid had before the renaming (``stack-f0.5-s0`` for
    ``hyperclone-stack-f0.5-s0`` when the width grows), or None."""
    small, large = spec.small.resolved(), spec.large.resolved()
    for method in LEGACY:
        if rid.startswith(method + "-f"):
            old = legacy_name(method, small, large)
            return None if old is None else old + rid[len(method) :]
    return None


def same_run(new: store.RunConfig, old: store.RunConfig) -> bool:
    """Whether a finished run ``old`` computed ``new``, run id and method name aside (the caller
    has matched the names: :func:`legacy_run_id`)."""

    def ident(c):
        d = c.identity()
        d.pop("run_id", None)
        d["tags"] = {k: v for k, v in d.get("tags", {}).items() if k != "method"}
        return d

    return ident(new) == ident(old)


def finished_as(old_dir: Path, cfg: store.RunConfig) -> bool:
    """A finished run directory (of a pre-renaming name) that computed ``cfg``."""
    try:
        return store.read_result(old_dir) is not None and same_run(cfg, store.read_config(old_dir))
    except (FileNotFoundError, store.CorruptRunFile):
        return False


def init_path(root, spec: GrowthSpec, method: str, seed: int) -> Path:
    """The grown initial weights of ``method`` and ``seed`` (their pre-renaming file if only that exists)."""
    path = Path(root) / spec.name / INIT_DIR / f"{method}-s{seed}.pt"
    old = legacy_name(method, spec.small.resolved(), spec.large.resolved())
    if old is not None and not path.exists():
        legacy = path.with_name(f"{old}-s{seed}.pt")
        if legacy.exists() and legacy.with_suffix(".json").exists():
            return legacy
    return path


_SCHEDULE_FIELDS = ("schedule", "lr", "warmup_fraction", "warmup_steps", "min_lr_ratio")


def plan_lines(spec: GrowthSpec) -> list[str]:
    """The planned operator budget and the post-growth schedule, as printed before a run."""
    cfgs = run_configs(spec)
    lines = [
        f"method {old!r} grows width and depth here: run as {new!r} ({label(new)}), what specs written "
        "before the baselines were renamed meant by it"
        for old, new in spec.renamed.items()
    ]
    lines += [spec.operator_budget().describe()] if any(base_method(m) == "ligo" for m in spec.methods) else []
    seed, frac = spec.seeds[0], spec.fractions[-1]
    scratch = cfgs[f"scratch-s{seed}"]
    groups: dict[tuple, list[str]] = {}
    for method in spec.methods:
        c = cfgs[f"{method}-f{fmt_fraction(frac)}-s{seed}"]
        groups.setdefault(tuple(getattr(c, k) for k in _SCHEDULE_FIELDS), []).append(method)
    for key, methods in groups.items():
        c = cfgs[f"{methods[0]}-f{fmt_fraction(frac)}-s{seed}"]
        same = key == tuple(getattr(scratch, k) for k in _SCHEDULE_FIELDS)
        lines.append(
            f"after growth ({', '.join(methods)}): {c.schedule}, peak lr {c.lr:.3g}, warm-up {c.warmup} of "
            f"{c.steps} steps at x{frac:g}, floor x{c.min_lr_ratio:g} of the peak"
            + (": the scratch run's recipe" if same else "")
        )
    return lines


def describe_jobs(spec: GrowthSpec) -> str:
    """A plain-text list of the experiment's runs: tokens, training FLOPs (what --dry-run prints),
    then the operator's planned budget and the post-growth schedule."""
    lines = [f"{'run':<30}{'shape':>12}{'params':>9}{'tokens':>9}{'FLOPs':>11}  extra"]
    total = 0.0
    grown: set[tuple[str, int]] = set()  # (base method, seed): the operator trains once for its variants too
    for rid, c in run_configs(spec).items():
        fl = c.flops_per_token() * c.trained_tokens
        total += fl
        extra = ""
        if c.tags.get("operator_flops"):
            extra = (
                f"+ operator {sci(float(c.tags['operator_flops']))} "
                f"({c.tags['operator_steps']} steps, {si(float(c.tags['operator_tokens']))} tokens)"
            )
            key = (base_method(str(c.tags["method"])), c.seed)
            if key not in grown:
                grown.add(key)
                total += float(c.tags["operator_flops"])
        lines.append(
            f"{rid:<30}{f'{c.n_layer}x{c.d_model}':>12}{si(c.param_counts()['total']):>9}"
            f"{si(c.trained_tokens):>9}{sci(fl):>11}  {extra}"
        )
    lines.append(f"total training FLOPs: {sci(total)}")
    return "\n".join(lines + plan_lines(spec))


__all__ = [
    "INIT_DIR",
    "run_configs",
    "legacy_run_id",
    "same_run",
    "finished_as",
    "init_path",
    "plan_lines",
    "describe_jobs",
]
