"""The measured growth experiment: a spec (TOML) -> small, grown and scratch runs in the run store.

For every seed:

1. ``small-s<seed>``: the small model trained to its planned tokens (its own cosine schedule).
2. ``scratch-s<seed>``: the large model from scratch, ``large.tokens`` tokens.
3. For every growth method (:mod:`scaling.growth.methods`: ``ligo``, G_stack ``stack``,
   HyperCloning ``hyperclone``, and the width + depth hybrids ``hyperclone-stack`` and
   ``hyperclone-identity``) the small model is grown once (LiGO: the operator trained on its
   planned budget, ``[ligo] tokens`` or ``scratch_fraction`` or ``steps``; the grown weights are
   kept in ``<sweep>/growth-init/<method>-s<seed>.pt`` with a JSON report beside them), and the
   grown model trained for each fraction in ``fractions`` of ``large.tokens``
   (``<method>-f<fraction>-s<seed>``), each with a schedule that ends at its own budget: a growth
   method's FLOPs to reach the scratch loss are read off its own final losses, never off the
   middle of a longer schedule. The grown runs train with the from-scratch recipe except for the
   post-growth schedule of ``[grown]`` (peak learning rate, warm-up; per method under
   ``[grown.methods.<method>]``), which defaults to the scratch run's.

The grow job measures, on the held-out windows of ``train.eval_tokens`` tokens (the windows of
every run's curve points), the small model's loss and each grown model's loss before training
(LiGO's before and after operator training): one evaluation set for the small model, the grown
starts and the scratch curve that eta's ``D_eq`` is read from (:mod:`scaling.growth.analysis`).

Every run is an ordinary run directory (config.json, curve.csv, result.json, model.pt) written by
:func:`scaling.train.loop.train`; the configs carry tags (role, method, fraction, small_run,
operator and small FLOPs) that :mod:`scaling.growth.analysis` reads. All runs evaluate on the
same held-out windows of the same corpus. Rerunning the spec skips finished runs and resumes
unfinished ones (grown runs restart from their saved initial weights).

Execution: through :func:`scaling.sweep.executor.run_tasks` (the sweeps' worker set-up and
process pool), ``workers`` processes of ``threads`` torch threads each (default 2 x 1 on this
2-core machine, REFERENCE.md section 9); jobs start as soon as what they need is finished
(small run -> growth -> grown runs), largest first.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tomllib
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from .. import store
from .._io import atomic_write_bytes, atomic_write_json
from ..errors import ScalingError
from ..shapes import ModelShape
from ..sweep.executor import Task, cpu_count, run_tasks
from ..sweep.spec import CorpusSpec
from ..train import tokens as _tokens
from ..train.tokens import tokenizer_vocab
from ..units import parse_number, sci, si
from .cost import operator_flops
from .growable import check_growth_shapes
from .methods import LEGACY, METHODS, canonical_method, label, legacy_name

DEFAULT_ROOT = "data/runs"
INIT_DIR = "growth-init"
DEFAULT_OPERATOR_STEPS = 100  # when [ligo] plans no budget (Wang et al. 2023 train the operator ~100 steps)


def _number(v):
    return parse_number(v, "value") if isinstance(v, str) else v


def _whole(v):
    """4e6, "4M", 4_000_000 -> 4000000 (a fractional number is left for pydantic to refuse)."""
    if isinstance(v, (str, float)):
        x = _number(v)
        return int(x) if float(x).is_integer() else x
    return v


PosInt = Annotated[int, BeforeValidator(_whole), Field(gt=0)]


class ShapeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n_layer: int = Field(gt=0)
    d_model: int = Field(gt=0)
    n_head: int = Field(gt=0)
    d_ff: int | None = Field(default=None, gt=0)
    tokens: PosInt
    lr: float | None = Field(
        default=None,
        gt=0,
        description="this model's peak learning rate (default train.lr); grown models train with the large "
        "model's unless [grown] sets another",
    )

    def resolved(self) -> dict:
        """The shape fields with d_ff resolved as ModelShape does (4 d_model by default)."""
        return {**self.model_dump(), "d_ff": self.d_ff or 4 * self.d_model}


class DataSpec(CorpusSpec):
    """A sweep's corpus fields (corpus, val_fraction, max_bytes in whole bytes) and the tokenizer
    (a sweep spec names it under ``[model]``)."""

    tokenizer: str = "bytes"
    max_bytes: PosInt | None = None


class TrainSpec(BaseModel):
    """The from-scratch recipe: every run (small, scratch, grown) trains with it."""

    model_config = ConfigDict(extra="forbid")
    context: int = Field(default=256, gt=0)
    batch_size: int = Field(default=32, gt=0)
    lr: float = Field(default=2e-3, gt=0)
    schedule: Literal["cosine", "wsd", "linear", "constant"] = "cosine"
    warmup_fraction: float = Field(default=0.05, ge=0, lt=1)
    min_lr_ratio: float = Field(default=0.1, ge=0, le=1)
    weight_decay: float = Field(default=0.1, ge=0)
    beta1: float = Field(default=0.9, ge=0, lt=1)
    beta2: float = Field(default=0.95, ge=0, lt=1)
    grad_clip: float | None = Field(default=1.0, gt=0)
    dtype: Literal["fp32", "bf16"] = "fp32"
    device: str = "cpu"
    eval_points: int = Field(default=16, ge=1)
    eval_tokens: PosInt = 32768
    final_eval_tokens: PosInt = 262144
    checkpoint_every_s: float = Field(default=300.0, gt=0)


class LigoSpec(BaseModel):
    """The LiGO operator and its training budget: at most one of ``tokens`` (the operator's
    training tokens), ``scratch_fraction`` (of the scratch run's tokens) and ``steps``; the steps
    are that budget over ``batch_size x context`` tokens per step (default 100 steps)."""

    model_config = ConfigDict(extra="forbid")
    steps: int | None = Field(default=None, ge=0, description="operator steps (or plan tokens / scratch_fraction)")
    tokens: PosInt | None = Field(default=None, description="the operator's training tokens")
    scratch_fraction: float | None = Field(
        default=None, gt=0, le=1, description="the operator's training tokens as a fraction of the scratch run's"
    )
    lr: float = Field(default=3e-3, gt=0)
    batch_size: int | None = Field(default=None, gt=0, description="default: train.batch_size")
    noise: float = Field(default=0.01, ge=0)

    @model_validator(mode="after")
    def _one_budget(self):
        given = [k for k in ("steps", "tokens", "scratch_fraction") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of steps, tokens and scratch_fraction (got {' and '.join(given)})")
        return self


class ScheduleSpec(BaseModel):
    """A post-growth schedule: every field unset keeps the scratch run's."""

    model_config = ConfigDict(extra="forbid")
    lr: float | None = Field(default=None, gt=0, description="peak learning rate after growth (default large.lr)")
    warmup_fraction: float | None = Field(default=None, ge=0, lt=1, description="warm-up, fraction of the steps")
    warmup_steps: int | None = Field(default=None, ge=0, description="warm-up in steps (overrides warmup_fraction)")
    schedule: Literal["cosine", "wsd", "linear", "constant"] | None = None
    min_lr_ratio: float | None = Field(default=None, ge=0, le=1)

    def fields(self) -> dict:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class GrownSpec(ScheduleSpec):
    """``[grown]``: the schedule the grown models train with after growth (peak learning rate,
    warm-up, decay), for every method; ``[grown.methods.<method>]`` overrides it for one method.
    Unset fields are the scratch run's recipe (``large.lr``, ``train.warmup_fraction``, ...), so a
    spec without ``[grown]`` trains grown models exactly as the scratch model."""

    methods: dict[str, ScheduleSpec] = Field(default_factory=dict)

    def for_method(self, method: str) -> dict:
        """The RunConfig fields that differ from the scratch recipe for ``method``'s grown runs."""
        out = ScheduleSpec.model_validate({k: v for k, v in self.model_dump().items() if k != "methods"}).fields()
        if method in self.methods:
            own = self.methods[method]
            if own.warmup_fraction is not None and own.warmup_steps is None:
                out.pop("warmup_steps", None)  # the method's own warm-up wins over [grown]'s
            out.update(own.fields())
        return out


@dataclass(frozen=True)
class OperatorBudget:
    """The LiGO operator's planned training: steps of ``batch_size x context`` tokens."""

    steps: int
    batch_size: int
    tokens_per_step: int
    tokens: int
    flops: float
    scratch_tokens: int  # the scratch run's tokens, for the share

    @property
    def scratch_share(self) -> float:
        return self.tokens / self.scratch_tokens

    def describe(self) -> str:
        return (
            f"LiGO operator: {self.steps} steps x {self.tokens_per_step:,} tokens = {self.tokens:,} tokens "
            f"({100 * self.scratch_share:.3g}% of the scratch run's {si(self.scratch_tokens)}), "
            f"{sci(self.flops)} FLOPs, charged in every savings figure"
        )


class BaselineSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symmetry_noise: float = Field(default=0.1, ge=0)
    exact: bool = True


class GrowthSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$")
    kind: Literal["growth"] = Field(default="growth", description="marks a growth spec (run by `scaling grow run`)")
    description: str = ""
    seeds: list[int] = Field(default_factory=lambda: [0, 1], min_length=1)
    flops_convention: Literal["6nd", "kaplan", "chinchilla", "palm"] = "6nd"
    methods: list[str] = Field(
        default_factory=lambda: ["ligo", "hyperclone-stack", "hyperclone-identity"],
        min_length=1,
        description=f"growth methods ({', '.join(METHODS)}); the hybrids' names before the renaming are read too",
    )
    fractions: list[float] = Field(default_factory=lambda: [0.5, 1.0], min_length=1)
    workers: int = Field(default=2, ge=1)
    threads: int | None = Field(default=None, gt=0)
    calibration: str | None = Field(default=None, description="where `scaling grow run` writes the calibration")
    law: str | None = Field(default=None, description="a fitted law for savings figure (3)")
    data: DataSpec = Field(default_factory=DataSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    small: ShapeSpec
    large: ShapeSpec
    ligo: LigoSpec = Field(default_factory=LigoSpec)
    grown: GrownSpec = Field(default_factory=GrownSpec)
    baselines: BaselineSpec = Field(default_factory=BaselineSpec)
    _renamed: dict[str, str] = PrivateAttr(default_factory=dict)

    @property
    def renamed(self) -> dict[str, str]:
        """Method names of the spec read as the hybrids they meant before the renaming (old -> new)."""
        return dict(self._renamed)

    @model_validator(mode="after")
    def _check(self):
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: repeated seed")
        old = {o for o, _ in LEGACY.values()}
        bad = [m for m in self.methods if m not in METHODS and m not in old]
        if bad:
            raise ValueError(f"methods: unknown method {bad[0]!r} (choose from {', '.join(METHODS)})")
        # a name from before the renaming means what the shapes made it (scaling.growth.methods)
        small, large = self.small.resolved(), self.large.resolved()
        self._renamed = {m: canonical_method(m, small, large) for m in self.methods}
        self._renamed = {k: v for k, v in self._renamed.items() if k != v}
        self.methods = [canonical_method(m, small, large) for m in self.methods]
        if len(set(self.methods)) != len(self.methods):
            raise ValueError("methods: repeated method")
        unknown = sorted(set(self.grown.methods) - set(self.methods))
        if unknown:
            raise ValueError(f"grown.methods: {unknown[0]!r} is not one of this spec's methods")
        if any(not (0 < f <= 4) for f in self.fractions) or len(set(self.fractions)) != len(self.fractions):
            raise ValueError("fractions: distinct numbers in (0, 4]")
        return self

    def operator_budget(self) -> OperatorBudget:
        """The LiGO operator's planned training: ``ligo.tokens`` or ``ligo.scratch_fraction`` of the
        scratch run's tokens in whole steps (at least one), else ``ligo.steps`` (default 100)."""
        small, large = self.shapes()
        bs = self.ligo.batch_size or self.train.batch_size
        tps = bs * self.train.context
        tps_run = self.train.batch_size * self.train.context
        scratch = max(1, round(self.large.tokens / tps_run)) * tps_run
        if self.ligo.tokens is not None:
            steps = max(1, round(self.ligo.tokens / tps))
        elif self.ligo.scratch_fraction is not None:
            steps = max(1, round(self.ligo.scratch_fraction * scratch / tps))
        else:
            steps = DEFAULT_OPERATOR_STEPS if self.ligo.steps is None else self.ligo.steps
        fl = operator_flops(small, large, steps=steps, tokens_per_step=tps, convention=self.flops_convention)
        return OperatorBudget(steps, bs, tps, steps * tps, float(fl), scratch)

    def shapes(self):
        """(small, large) as GPTConfig-compatible RunConfig shape fields, checked for growth."""
        V = tokenizer_vocab(self.data.tokenizer)
        out = []
        for which, s in (("small", self.small), ("large", self.large)):
            try:
                out.append(
                    ModelShape(s.n_layer, s.d_model, n_head=s.n_head, d_ff=s.d_ff, vocab=V, context=self.train.context)
                )
            except ScalingError as exc:
                raise ScalingError(f"{which}: {exc}") from None
            if out[-1].d_head % 2:
                raise ScalingError(f"{which}: head size {out[-1].d_head} must be even (rotary embeddings)")
        return tuple(out)


def load_growth_spec(path: str | os.PathLike) -> GrowthSpec:
    """Read and validate a growth spec; errors are one line naming the file and the key."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ScalingError(f"no such growth spec: {p}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScalingError(f"{p}: invalid TOML: {exc}") from None
    try:
        spec = GrowthSpec.model_validate(raw)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err.get("loc", ()))
            msg = err.get("msg", "").replace("Value error, ", "")
            if err.get("type") == "extra_forbidden":
                msg = "unknown key"
            parts.append(f"{loc}: {msg}" if loc else msg)
        raise ScalingError(f"{p}: " + "; ".join(dict.fromkeys(parts))) from None
    if spec.name is None:
        spec = spec.model_copy(update={"name": p.stem})
    small, large = spec.shapes()
    try:
        check_growth_shapes(small, large)
    except ScalingError as exc:
        raise ScalingError(f"{p}: {exc}") from None
    return spec


# ---------------------------------------------------------------------------------------------
# run configurations


def _fmt_fraction(f: float) -> str:
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
                rid = f"{method}-f{_fmt_fraction(frac)}-s{seed}"
                ligo = method == "ligo"
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


def _finished_as(old_dir: Path, cfg: store.RunConfig) -> bool:
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


# ---------------------------------------------------------------------------------------------
# jobs (run in worker processes; arguments are plain strings and numbers)


_DATA: dict = {}


def _prepared(corpus: str, tokenizer: str, val_fraction: float, max_bytes, data_dir):
    """The prepared corpus, once per process (listing a corpus to check its cache is not free)."""
    key = (corpus, tokenizer, val_fraction, max_bytes, data_dir)
    if key not in _DATA:
        _DATA[key] = _tokens.prepare(
            corpus, tokenizer, val_fraction=val_fraction, data_dir=data_dir, max_bytes=max_bytes
        )
    return _DATA[key]


def _job_grow(spec_json: str, root: str, method: str, seed: int, data_dir: str | None, threads: int) -> dict:
    """Grow small-s<seed> with ``method``; save the large initial weights and a JSON report with
    the held-out losses of the small and the grown model on the runs' curve windows."""
    import torch

    from ..train.model import GPT
    from .baselines import grow_baseline
    from .ligo import LiGO, as_config, check_token_count, held_out_loss, load_small, train_operator

    spec = GrowthSpec.model_validate_json(spec_json)
    torch.set_num_threads(threads)
    out = init_path(root, spec, method, seed)
    if out.exists() and out.with_suffix(".json").exists():
        return json.loads(out.with_suffix(".json").read_text())
    small_dir = store.run_dir(root, spec.name, f"small-s{seed}")
    small_cfg, small_state = load_small(small_dir)
    _, large = spec.shapes()
    t = spec.train
    d = _prepared(spec.data.corpus, spec.data.tokenizer, spec.data.val_fraction, spec.data.max_bytes, data_dir)
    t0 = time.perf_counter()

    def loss_of(cfg, state):
        """Held-out loss on the windows of every run's curve points (train.eval_tokens)."""
        return held_out_loss(
            GPT(cfg), state, d.val, t.eval_tokens, batch_size=t.batch_size, device=t.device, dtype=t.dtype
        )

    report: dict = {
        "method": method,
        "seed": seed,
        "small_run": f"small-s{seed}",
        "small": {k: getattr(small_cfg, k) for k in ("n_layer", "d_model", "n_head", "d_ff")},
        "large": large.to_dict(),
        "eval": {
            "split": "held-out",
            "eval_tokens": t.eval_tokens,
            "tokens": check_token_count(len(d.val), t.context, t.eval_tokens),
            "windows": "train.eval_tokens: the windows of every run's curve points",
            "small_loss": loss_of(small_cfg, small_state),
        },
    }
    if method == "ligo":
        torch.manual_seed(seed)
        op = LiGO(small_cfg, small_state, large, noise=spec.ligo.noise, seed=seed)
        budget = spec.operator_budget()
        rep = train_operator(
            op,
            d.train,
            steps=budget.steps,
            batch_size=budget.batch_size,
            context=t.context,
            lr=spec.ligo.lr,
            seed=seed,
            device=t.device,
            dtype=t.dtype,
            held_out=d.val,
            check_tokens=t.eval_tokens,
        )
        state = op.materialize()
        report["operator"] = rep.to_dict()
        report["operator"]["scratch_share"] = budget.scratch_share
        report["operator"]["depth_weights"] = {k: getattr(op, f"depth_{k}").detach().tolist() for k in ("q", "fc")}
        report["eval"]["grown_loss_before_operator"] = rep.initial_loss
        report["eval"]["grown_loss"] = rep.final_loss
    else:
        state = grow_baseline(
            method,
            small_cfg,
            small_state,
            large,
            exact=spec.baselines.exact,
            symmetry_noise=spec.baselines.symmetry_noise,
            seed=seed,
        )
        report["symmetry_noise"] = spec.baselines.symmetry_noise
        report["eval"]["grown_loss"] = loss_of(as_config(large), state)
    report["time_s"] = time.perf_counter() - t0
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(out, buf.getvalue())
    atomic_write_json(out.with_suffix(".json"), report)  # written last: the pair is complete
    return report


def train_from_state(cfg: store.RunConfig, path, init_state: dict, *, data_dir=None, data=None):
    """Train a run whose model starts from ``init_state`` (a grown model) with the loop's recipe
    (a checkpoint of a resumed run still wins over ``init_state``)."""
    from ..train import loop

    return loop.train(cfg, path, data_dir=data_dir, data=data, init_state=init_state)


def _job_train(cfg_json: str, root: str, data_dir: str | None, threads: int, init: str | None) -> dict:
    import torch

    from ..train.loop import train

    cfg = store.RunConfig.model_validate_json(cfg_json).model_copy(update={"threads": threads})
    torch.set_num_threads(threads)
    path = store.run_dir(root, cfg.sweep, cfg.run_id)
    data = _prepared(cfg.corpus, cfg.tokenizer, cfg.val_fraction, cfg.corpus_max_bytes, data_dir)
    if init is None:
        res = train(cfg, path, data_dir=data_dir, data=data)
    else:
        state = torch.load(init, map_location="cpu", weights_only=True)
        res = train_from_state(cfg, path, state, data_dir=data_dir, data=data)
    return res.model_dump(mode="json")


# ---------------------------------------------------------------------------------------------
# the scheduler


@dataclass
class ExperimentReport:
    sweep: str
    root: Path
    total: int
    skipped: int = 0
    done: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    wall_time_s: float = 0.0

    def summary(self) -> str:
        text = (
            f"growth experiment {self.sweep}: {self.total} jobs, {self.skipped} already done, "
            f"{len(self.done)} run, {len(self.failed)} failed (diverged), {len(self.errors)} errors "
            f"in {self.wall_time_s:.1f} s; store {self.root / self.sweep}"
        )
        for k, e in self.errors.items():
            text += f"\n  {k}: {e}"
        return text


def plan_jobs(spec: GrowthSpec, root, data_dir=None, threads: int = 1) -> tuple[list[Task], int]:
    """The experiment's jobs with their dependencies; finished ones left out. Returns (jobs, skipped)."""
    root = str(Path(root).resolve())
    cfgs = run_configs(spec)
    sj = spec.model_dump_json()
    jobs, skipped = [], 0
    done = set()
    for rid, cfg in cfgs.items():
        d = store.run_dir(root, spec.name, rid)
        old = legacy_run_id(spec, rid)
        if not d.exists() and old is not None and _finished_as(store.run_dir(root, spec.name, old), cfg):
            done.add(rid)  # finished before the renaming, under its old name: the same run
            continue
        d.mkdir(parents=True, exist_ok=True)
        store.write_config(d, cfg)
        if store.read_result(d) is not None:
            done.add(rid)
    for seed in spec.seeds:
        for method in spec.methods:
            key = f"grow:{method}-s{seed}"
            ip = init_path(root, spec, method, seed)
            fr = [f"{method}-f{_fmt_fraction(f)}-s{seed}" for f in spec.fractions]
            if all(r in done for r in fr) or (ip.exists() and ip.with_suffix(".json").exists()):
                done.add(key)
            else:
                deps = [] if f"small-s{seed}" in done else [f"small-s{seed}"]
                jobs.append(Task(key, _job_grow, (sj, root, method, seed, data_dir, threads), deps, 0.0, 1))
    for rid, cfg in cfgs.items():
        if rid in done:
            skipped += 1
            continue
        cost = float(cfg.flops_per_token() * cfg.trained_tokens)
        if cfg.tags.get("role") == "grown":
            key = f"grow:{cfg.tags['method']}-s{cfg.seed}"
            ip = str(init_path(root, spec, str(cfg.tags["method"]), cfg.seed))
            deps = [] if key in done else [key]
            jobs.append(Task(rid, _job_train, (cfg.model_dump_json(), root, data_dir, threads, ip), deps, cost, 2))
        else:
            prio = 0 if cfg.tags.get("role") == "small" else 2
            jobs.append(Task(rid, _job_train, (cfg.model_dump_json(), root, data_dir, threads, None), [], cost, prio))
    skipped += sum(1 for k in done if k.startswith("grow:"))
    return jobs, skipped


def run_experiment(
    spec: GrowthSpec | str | os.PathLike,
    root: str | os.PathLike = DEFAULT_ROOT,
    *,
    workers: int | None = None,
    threads: int | None = None,
    data_dir=None,
    log: Callable[[str], None] | None = None,
) -> ExperimentReport:
    """Run (or finish) a growth experiment; returns what was done. See the module docstring."""
    if not isinstance(spec, GrowthSpec):
        spec = load_growth_spec(spec)
    t0 = time.perf_counter()
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    cores = cpu_count()
    workers = workers or spec.workers
    threads = threads or spec.threads or max(1, cores // workers)
    root = Path(root)
    data_dir = str(Path(data_dir).resolve()) if data_dir else None
    jobs, skipped = plan_jobs(spec, root, data_dir, threads)
    report = ExperimentReport(spec.name, root, total=len(jobs) + skipped, skipped=skipped)
    if jobs:  # prepare the corpus once, here, so the workers find it cached
        d = _prepared(spec.data.corpus, spec.data.tokenizer, spec.data.val_fraction, spec.data.max_bytes, data_dir)
        log(
            f"corpus {spec.data.corpus}: {len(d.train):,} training / {len(d.val):,} held-out tokens "
            f"({d.fingerprint[:19]})"
        )
        for line in _plan_lines(spec):
            log(line)

    def record(job: Task, result: dict | None, error: BaseException | None, dt: float) -> bool:
        """Log and count one finished job; True when its dependents may run."""
        if error is not None:
            if workers <= 1 and not isinstance(error, ScalingError) and os.environ.get("SCALING_DEBUG"):
                raise error
            msg = (
                str(error)
                if isinstance(error, ScalingError)
                else f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
            )
            report.errors[job.key] = msg
            log(f"[{time.perf_counter() - t0:7.0f} s] ERROR {job.key}: {msg}")
            return False
        if job.fn is _job_train:
            (report.done if result["status"] == "ok" else report.failed).append(job.key)
            loss = result.get("loss")
            log(
                f"[{time.perf_counter() - t0:7.0f} s] {job.key}: {result['status']}"
                + (f", loss {loss:.4f}" if loss is not None else f" ({result.get('reason')})")
                + f" ({dt:.0f} s)"
            )
            return result["status"] == "ok"
        op, ev = result.get("operator"), result.get("eval")
        extra = ""
        if ev:
            extra = (
                f", held-out loss on {ev['tokens']:,} tokens: small {ev['small_loss']:.4f}, "
                f"grown {ev['grown_loss']:.4f}"
            )
        if op:
            extra += f" (operator {op['initial_loss']:.4f} -> {op['final_loss']:.4f} in {op['steps']} steps)"
        report.done.append(job.key)
        log(f"[{time.perf_counter() - t0:7.0f} s] {job.key}: grown{extra} ({dt:.0f} s)")
        return True

    def blocked(job: Task, failed: list[str]) -> None:
        report.errors[job.key] = f"skipped: {', '.join(failed)} did not finish"

    # jobs start as soon as what they need is finished: small runs first, then the largest
    order = sorted(jobs, key=lambda j: (j.priority, -j.cost, j.key))
    pending = run_tasks(order, record, workers=workers, threads=threads, blocked=blocked)
    for job in pending:
        report.errors.setdefault(job.key, "not run")
    report.wall_time_s = time.perf_counter() - t0
    return report


_SCHEDULE_FIELDS = ("schedule", "lr", "warmup_fraction", "warmup_steps", "min_lr_ratio")


def _plan_lines(spec: GrowthSpec) -> list[str]:
    """The planned operator budget and the post-growth schedule, as printed before a run."""
    cfgs = run_configs(spec)
    lines = [
        f"method {old!r} grows width and depth here: run as {new!r} ({label(new)}), what specs written "
        "before the baselines were renamed meant by it"
        for old, new in spec.renamed.items()
    ]
    lines += [spec.operator_budget().describe()] if "ligo" in spec.methods else []
    seed, frac = spec.seeds[0], spec.fractions[-1]
    scratch = cfgs[f"scratch-s{seed}"]
    groups: dict[tuple, list[str]] = {}
    for method in spec.methods:
        c = cfgs[f"{method}-f{_fmt_fraction(frac)}-s{seed}"]
        groups.setdefault(tuple(getattr(c, k) for k in _SCHEDULE_FIELDS), []).append(method)
    for key, methods in groups.items():
        c = cfgs[f"{methods[0]}-f{_fmt_fraction(frac)}-s{seed}"]
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
    for rid, c in run_configs(spec).items():
        fl = c.flops_per_token() * c.trained_tokens
        total += fl
        extra = ""
        if c.tags.get("operator_flops"):
            extra = (
                f"+ operator {sci(float(c.tags['operator_flops']))} "
                f"({c.tags['operator_steps']} steps, {si(float(c.tags['operator_tokens']))} tokens)"
            )
            total += float(c.tags["operator_flops"]) / len(spec.fractions)
        lines.append(
            f"{rid:<30}{f'{c.n_layer}x{c.d_model}':>12}{si(c.param_counts()['total']):>9}"
            f"{si(c.trained_tokens):>9}{sci(fl):>11}  {extra}"
        )
    lines.append(f"total training FLOPs: {sci(total)}")
    return "\n".join(lines + _plan_lines(spec))


__all__ = [
    "GrowthSpec",
    "load_growth_spec",
    "run_configs",
    "run_experiment",
    "train_from_state",
    "describe_jobs",
    "plan_jobs",
    "init_path",
    "legacy_run_id",
    "ExperimentReport",
    "OperatorBudget",
    "METHODS",
]
