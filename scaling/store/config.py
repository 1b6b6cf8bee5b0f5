"""RunConfig: everything needed to reproduce one training run (config.json), and reading,
writing and comparing it.

This module imports pydantic and numpy (through :mod:`scaling.shapes`) only (no torch, no pandas).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .._io import atomic_write_json
from ..errors import ScalingError
from ..shapes import ModelShape
from ..sparsity import format_pattern, parse_pattern, resolve_sparsity
from .files import _read_model
from .layout import CONFIG, EXECUTION_FIELDS


def _tokenizer_vocab(tokenizer: str) -> int:
    if tokenizer == "bytes":
        return 256
    if tokenizer.startswith("bpe:"):
        try:
            return int(float(tokenizer[4:]))
        except ValueError:
            pass
    raise ValueError(f"unknown tokenizer {tokenizer!r} (use 'bytes' or 'bpe:VOCAB')")


class RunConfig(BaseModel):
    """Everything needed to reproduce one training run (the contents of config.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sweep: str = "default"
    run_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$", max_length=200)
    # model shape (scaling.shapes.ModelShape fields)
    n_layer: int = Field(gt=0)
    d_model: int = Field(gt=0)
    n_head: int = Field(gt=0)
    d_ff: int = Field(gt=0)
    vocab: int = Field(default=256, gt=0)
    context: int = Field(default=256, gt=0)
    mixer: str = "attention"
    sparsity: float = Field(default=0.0, ge=0.0, lt=1.0)
    sparsity_mask: Literal["random", "magnitude"] = Field(
        default="random",
        description="sparse layers: a random mask from the start, or magnitude pruning "
        "after a dense warm-up (scaling.train.sparse)",
    )
    sparsity_warmup_fraction: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="magnitude masks: fraction of the steps trained dense"
    )
    sparsity_pattern: str | None = Field(
        default=None,
        description="None: unstructured masks; 'N:M' (e.g. '2:4'): N non-zero weights in every M consecutive "
        "inputs of each block weight row (sets sparsity to 1 - N/M)",
    )
    sparsity_dense_steps: int | None = Field(
        default=None,
        ge=0,
        description="magnitude masks: absolute dense warm-up in steps (overrides sparsity_warmup_fraction): "
        "the branches of one trunk share it, so that each prunes where a plain run of its length would",
    )
    # how much training
    tokens: int = Field(gt=0, description="training tokens; trained as round(tokens / (batch_size * context)) steps")
    batch_size: int = Field(gt=0, description="sequences per optimizer step")
    micro_batch_size: int | None = Field(
        default=None, gt=0, description="sequences per forward pass (gradient accumulation)"
    )
    budget: float | None = Field(default=None, gt=0, description="the isoFLOP budget this run belongs to")
    # optimizer and schedule
    lr: float = Field(gt=0)
    schedule: Literal["cosine", "wsd", "linear", "constant"] = "cosine"
    warmup_fraction: float = Field(default=0.05, ge=0, lt=1)
    warmup_steps: int | None = Field(
        default=None,
        ge=0,
        description="absolute warm-up (overrides warmup_fraction): the branches of one trunk share it",
    )
    decay_fraction: float = Field(default=0.2, gt=0, le=1, description="WSD: final fraction of steps spent decaying")
    decay_shape: Literal["linear", "sqrt"] = Field(
        default="linear", description="WSD cool-down: linear, or 1 - sqrt (Hägele et al. 2024, arXiv:2405.18392)"
    )
    trunk: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$",
        max_length=200,
        description="WSD branch: the run starts from this trunk's state at its decay start "
        "(scaling.train.branches); it computes exactly what a plain WSD run would",
    )
    min_lr_ratio: float = Field(default=0.1, ge=0, le=1)
    weight_decay: float = Field(default=0.1, ge=0)
    beta1: float = Field(default=0.9, ge=0, lt=1)
    beta2: float = Field(default=0.95, ge=0, lt=1)
    eps: float = Field(default=1e-8, gt=0)
    grad_clip: float | None = Field(default=1.0, gt=0)
    seed: int = 0
    # data
    corpus: str = "debian-docs"
    tokenizer: str = "bytes"
    val_fraction: float = Field(default=0.05, gt=0, lt=0.5)
    corpus_max_bytes: int | None = Field(default=None, gt=0)
    data_order: Literal["random", "shuffled"] = Field(
        default="random",
        description="random: windows drawn with replacement from (seed, step); shuffled: a "
        "seeded permutation of non-overlapping windows, so no token repeats within an epoch",
    )
    # accounting and evaluation
    flops_convention: Literal["6nd", "kaplan", "chinchilla", "palm"] = "6nd"
    eval_points: int = Field(default=20, ge=1, description="held-out evaluations, evenly spaced, the last at the end")
    eval_tokens: int = Field(default=65536, gt=0)
    final_eval_tokens: int = Field(default=262144, gt=0)
    divergence_margin: float = Field(
        default=2.0, gt=0, description="fail when the train loss exceeds ln(vocab) + this many nats"
    )
    # execution
    dtype: Literal["fp32", "bf16"] = "fp32"
    device: str = "cpu"
    threads: int | None = Field(default=None, gt=0)
    compile: bool = Field(default=False, description="torch.compile the model (GPUs; it does not pay on small CPUs)")
    checkpoint_every_s: float = Field(default=300.0, gt=0)
    save_model: bool = True
    tags: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if v not in ("cpu", "auto") and not v.startswith("cuda") and v != "mps":
            raise ValueError("must be cpu, cuda, cuda:N, mps or auto")
        return v

    @field_validator("mixer")
    @classmethod
    def _mixer(cls, v: str) -> str:
        if v not in ("attention", "hyena"):
            raise ValueError("must be 'attention' or 'hyena'")
        return v

    @model_validator(mode="before")
    @classmethod
    def _pattern(cls, data: Any) -> Any:
        return pattern_fields(data)

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        if self.d_model % self.n_head:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_head {self.n_head}")
        if (self.d_model // self.n_head) % 2:
            raise ValueError(f"head size d_model / n_head = {self.d_model // self.n_head} must be even (rotary)")
        if _tokenizer_vocab(self.tokenizer) != self.vocab:
            raise ValueError(f"vocab {self.vocab} does not match tokenizer {self.tokenizer!r}")
        nm = parse_pattern(self.sparsity_pattern)
        if nm is not None:
            for what, width in (("d_model", self.d_model), ("d_ff", self.d_ff)):
                if width % nm[1]:
                    raise ValueError(
                        f"sparsity_pattern {self.sparsity_pattern}: {what} {width} is not a multiple of {nm[1]} "
                        "(the groups of M run along each layer's inputs)"
                    )
        if self.micro_batch_size and self.batch_size % self.micro_batch_size:
            raise ValueError(
                f"batch_size {self.batch_size} is not a multiple of micro_batch_size {self.micro_batch_size}"
            )
        return self

    # --- derived
    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.context

    @property
    def steps(self) -> int:
        return max(1, round(self.tokens / self.tokens_per_step))

    @property
    def trained_tokens(self) -> int:
        """The tokens actually trained: whole optimizer steps."""
        return self.steps * self.tokens_per_step

    @property
    def warmup(self) -> int:
        """Warm-up steps (``warmup_steps`` if set, else ``warmup_fraction`` of the steps)."""
        w = self.warmup_steps if self.warmup_steps is not None else round(self.warmup_fraction * self.steps)
        return max(0, min(w, self.steps - 1))

    @property
    def dense_steps(self) -> int:
        """Magnitude masks: optimizer steps trained dense before pruning (``sparsity_dense_steps`` if
        set, else ``sparsity_warmup_fraction`` of the steps)."""
        if self.sparsity_dense_steps is not None:
            return self.sparsity_dense_steps
        return round(self.sparsity_warmup_fraction * self.steps)

    @property
    def decay_start(self) -> int:
        """WSD: the first step of the cool-down (a branch starts from its trunk's state here)."""
        return max(self.warmup, self.steps - max(1, round(self.decay_fraction * self.steps)))

    def shape(self) -> ModelShape:
        return ModelShape(
            n_layer=self.n_layer,
            d_model=self.d_model,
            n_head=self.n_head,
            d_ff=self.d_ff,
            vocab=self.vocab,
            context=self.context,
            mixer=self.mixer,
            sparsity=self.sparsity,
        )

    def param_counts(self) -> dict[str, int]:
        return self.shape().param_counts()

    def flops_per_token(self) -> float:
        return self.shape().flops_per_token(self.flops_convention)

    def identity(self) -> dict[str, Any]:
        """The fields that decide what the run computes (execution fields left out)."""
        return {k: v for k, v in self.model_dump(mode="json").items() if k not in EXECUTION_FIELDS}


def pattern_fields(data: Any) -> Any:
    """Before validation of a model with ``sparsity`` and ``sparsity_pattern`` fields (a run config, a
    sweep's model table): an N:M pattern written as ``"N:M"``, and ``sparsity`` = 1 - N/M when it
    is not given (or 0); a sparsity that disagrees with the pattern is a ValueError naming both."""
    if not isinstance(data, dict) or data.get("sparsity_pattern") is None:
        return data
    try:
        nm = parse_pattern(data["sparsity_pattern"], "sparsity_pattern")
        out = dict(data)
        out["sparsity_pattern"] = None if nm is None else format_pattern(nm)
        if nm is not None:
            out["sparsity"] = resolve_sparsity(data.get("sparsity"), nm, what="sparsity")
    except (ScalingError, TypeError) as exc:
        raise ValueError(str(exc)) from None
    return out


def check_config(path: str | os.PathLike, config: RunConfig) -> RunConfig | None:
    """The run's existing config.json (None if there is none), which must describe the same run as
    ``config`` (execution fields aside): a ScalingError naming the differing fields otherwise."""
    path = Path(path)
    if not (path / CONFIG).exists():
        return None
    old = read_config(path)
    if old.identity() != config.identity():
        diff = sorted(k for k, v in config.identity().items() if old.identity().get(k) != v)
        raise ScalingError(
            f"run {path} already exists with a different configuration ({', '.join(diff)} "
            "differ): use another sweep name or root, or delete the run directory"
        )
    return old


def write_config(path: str | os.PathLike, config: RunConfig, *, check: bool = True) -> None:
    """Write config.json; if one exists, it must describe the same run (execution fields aside)."""
    path = Path(path)
    if check:
        old = check_config(path, config)
        if old is not None and old.model_dump() == config.model_dump():
            return
    atomic_write_json(path / CONFIG, config.model_dump(mode="json"))


def read_config(path: str | os.PathLike) -> RunConfig:
    """The run's config.json; FileNotFoundError if there is none, CorruptRunFile if it is unreadable."""
    file = Path(path, CONFIG)
    cfg = _read_model(file, RunConfig, "run configuration")
    if cfg is None:
        raise FileNotFoundError(2, "No such file or directory", str(file))
    return cfg


def config_diff(old: RunConfig, new: RunConfig) -> list[tuple[str, Any, Any]]:
    """The fields that decide what a run computes in which ``old`` and ``new`` differ:
    ``(field, old value, new value)``, sorted (execution fields such as threads left out)."""
    a, b = old.identity(), new.identity()
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if not _same(a.get(k), b.get(k))]


def _same(x: Any, y: Any) -> bool:
    """Equal, floats to 1e-12 relative: a value the spec derives (a size target in the tags) may move
    in its last bit between numpy versions or orders of operations without changing the run."""
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=1e-12, abs_tol=0.0)
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)):
        return len(x) == len(y) and all(_same(u, v) for u, v in zip(x, y))
    return bool(x == y)


def is_trunk(cfg: RunConfig) -> bool:
    """A WSD trunk's directory (scaling.train.branches): resumable state, not a run of the table."""
    return cfg.tags.get("role") == "trunk"
