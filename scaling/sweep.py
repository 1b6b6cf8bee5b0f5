"""Sweep specifications (TOML) -> run configurations, and the executors that train them.

A spec is a TOML file validated by :class:`SweepSpec`; every error names the file and the key
(``sweeps/x.toml: budgets[2]: must be positive``). Kinds:

``isoflop``
    ``budgets`` x sizes: for each budget C the sizes are ``size_multipliers`` times the expected
    compute-optimal size N_opt(C) = sqrt(C / (6 tokens_per_param)) (or the explicit ``params``
    list), snapped to real shapes by :func:`scaling.shapes.shape_for_params`; each run's tokens are
    C / flops_per_token(shape) under ``flops_convention``.
``grid``
    ``params`` x ``tokens_per_param`` (a list): D = tokens_per_param x N.
``list``
    explicit ``[[runs]]``, each with a shape (``n_layer``, ``d_model``, ...) or ``params``, and one
    of ``tokens``, ``flops`` or ``tokens_per_param``.

Per-size rules stated in the spec (``[train]``): ``lr`` and ``batch_size`` are a number or a power
rule ``{base, ref_params, exponent, min, max}`` giving ``base * (N / ref_params) ** exponent``
(clamped; batch sizes rounded to a power of two); ``min_steps`` halves the batch of a run until it
has at least that many steps. Tokens are rounded to whole optimizer steps (the run trains exactly
the tokens its config records). ``seeds`` replicates every run.

Executors write to the run store (:mod:`scaling.store`), so a sweep is resumable: finished runs
(result.json, ``ok`` or ``failed``) are skipped, unfinished ones resume from their checkpoint, a
diverged run is recorded as ``failed`` with its reason.

- ``local``: the runs in sequence in this process (``workers=1``) or in a pool of ``workers``
  processes, each with ``threads`` torch threads (default: cores // workers; on this kind of
  CPU two 1-thread processes beat one 2-thread process). Pool workers die with the parent.
- ``ray``: each run a Ray task with ``num_cpus=threads`` (and ``num_gpus=1`` on a GPU device),
  writing to the same store (a filesystem shared by the cluster's nodes).

This module imports neither torch nor ray at import time.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import store
from .errors import ScalingError
from .units import parse_number, si

DEFAULT_ROOT = "data/runs"


# ---------------------------------------------------------------------------------------------
# the spec


def _number(value):
    if isinstance(value, str):
        return parse_number(value, "value", positive=False)
    return value


Num = Annotated[float, BeforeValidator(_number)]
PositiveNum = Annotated[float, BeforeValidator(_number), Field(gt=0)]


SPEC_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False)    # inf / nan in a spec is a key's error


class PowerRule(BaseModel):
    """``base * (params / ref_params) ** exponent``, clamped to [min, max]."""

    model_config = SPEC_CONFIG
    base: PositiveNum
    ref_params: PositiveNum = 1e6
    exponent: float = 0.0
    min: PositiveNum | None = None
    max: PositiveNum | None = None

    def __call__(self, params: float) -> float:
        try:
            v = self.base * (params / self.ref_params) ** self.exponent
        except OverflowError:
            v = math.inf
        if self.min is not None:
            v = max(v, self.min)
        if self.max is not None:
            v = min(v, self.max)
        return v


class ModelSpec(BaseModel):
    model_config = SPEC_CONFIG
    context: int = Field(default=256, gt=0)
    tokenizer: str = "bytes"
    mixer: Literal["attention", "hyena"] = "attention"
    sparsity: float = Field(default=0.0, ge=0, lt=1)
    sparsity_mask: Literal["random", "magnitude"] = Field(
        default="random", description="random: a fixed random mask from the first step; magnitude: train "
        "dense for sparsity_warmup_fraction of the steps, then keep the largest weights of each layer")
    sparsity_warmup_fraction: float = Field(default=0.0, ge=0, lt=1)
    d_ff_mult: float = Field(default=4.0, gt=0)
    non_embedding: bool = Field(default=False, description="size targets count non-embedding parameters")

    @field_validator("tokenizer")
    @classmethod
    def _tokenizer(cls, v: str) -> str:
        from .train.data import tokenizer_vocab
        try:
            tokenizer_vocab(v)
        except ScalingError as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None
        except ArithmeticError:    # 'bpe:1e400'
            raise ValueError(f"tokenizer {v!r}: the BPE vocabulary must be 257..65535 (uint16 tokens)") from None
        return v
    @model_validator(mode="after")
    def _sparsity(self):
        if self.sparsity_warmup_fraction and self.sparsity_mask != "magnitude":
            raise ValueError("sparsity_warmup_fraction: only for sparsity_mask = 'magnitude' (a random mask "
                             "is in force from the first step)")
        if self.sparsity_mask == "magnitude" and not self.sparsity:
            raise ValueError("sparsity_mask: 'magnitude' needs sparsity > 0")
        return self

    shape_rule: Literal["search", "aspect"] = Field(
        default="search", description="search: scaling.shapes.shape_for_params (closest size); aspect: "
        "widths in steps of width_multiple, trading size error against the ideal aspect ratio")
    width_multiple: int = Field(default=16, gt=0, le=8192, description="aspect rule: widths are multiples of this "
                                "(up to 8192)")
    aspect_weight: float = Field(default=0.3, ge=0)
    head_dim: int | None = Field(default=None, gt=0, description="heads of this size (default: the shape rule's)")


class TrainSpec(BaseModel):
    model_config = SPEC_CONFIG
    lr: PositiveNum | PowerRule = 3e-3
    batch_size: int | PowerRule = Field(default=32)
    min_steps: int = Field(default=0, ge=0)
    micro_batch_size: int | None = Field(default=None, gt=0)
    schedule: Literal["cosine", "wsd", "linear", "constant"] = "cosine"
    warmup_fraction: float = Field(default=0.05, ge=0, lt=1)
    decay_fraction: float = Field(default=0.2, gt=0, le=1)
    decay_shape: Literal["linear", "sqrt"] = "linear"
    branched: bool = Field(default=False, description="WSD: the runs of one size are branches of one trunk "
                           "(scaling.train.branches); warm-up and batch size are shared per size")
    min_lr_ratio: float = Field(default=0.1, ge=0, le=1)
    weight_decay: float = Field(default=0.1, ge=0)
    beta1: float = Field(default=0.9, ge=0, lt=1)
    beta2: float = Field(default=0.95, ge=0, lt=1)
    grad_clip: PositiveNum | None = 1.0
    dtype: Literal["fp32", "bf16"] = "fp32"
    device: str = "cpu"
    eval_points: int = Field(default=20, ge=1)
    eval_tokens: int = Field(default=65536, gt=0)
    final_eval_tokens: int = Field(default=262144, gt=0)
    divergence_margin: float = Field(default=2.0, gt=0)
    checkpoint_every_s: float = Field(default=300.0, gt=0)
    save_model: bool = True
    compile: bool = False

    @model_validator(mode="after")
    def _batch(self):
        if isinstance(self.batch_size, int) and self.batch_size <= 0:
            raise ValueError("batch_size: must be positive")
        if self.branched and self.schedule != "wsd":
            raise ValueError("branched: needs schedule = 'wsd' (branches cool down from a constant-rate trunk)")
        return self


class DataSpec(BaseModel):
    model_config = SPEC_CONFIG
    corpus: str = "debian-docs"
    val_fraction: float = Field(default=0.05, gt=0, lt=0.5)
    max_bytes: PositiveNum | None = None
    order: Literal["random", "shuffled"] = Field(
        default="random", description="random windows with replacement, or a shuffled epoch of non-overlapping "
        "windows (no token repeats within an epoch)")
    allow_repeats: bool = Field(default=False, description="let a run train more than one epoch of the corpus "
                                "(otherwise `sweep run` refuses it)")


class RunSpec(BaseModel):
    """One entry of a ``list`` sweep."""

    model_config = SPEC_CONFIG
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$", max_length=180)
    n_layer: int | None = Field(default=None, gt=0)
    d_model: int | None = Field(default=None, gt=0)
    n_head: int | None = Field(default=None, gt=0)
    d_ff: int | None = Field(default=None, gt=0)
    params: PositiveNum | None = None
    tokens: PositiveNum | None = None
    flops: PositiveNum | None = None
    tokens_per_param: PositiveNum | None = None
    lr: PositiveNum | None = None
    batch_size: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_of(self):
        if (self.n_layer is None) != (self.d_model is None):
            raise ValueError("give both n_layer and d_model (or params)")
        if self.n_layer is None and self.params is None:
            raise ValueError("give a shape (n_layer and d_model) or params")
        if self.n_layer is not None and self.params is not None:
            raise ValueError("give a shape or params, not both")
        amounts = [k for k in ("tokens", "flops", "tokens_per_param") if getattr(self, k) is not None]
        if len(amounts) != 1:
            raise ValueError("give exactly one of tokens, flops, tokens_per_param")
        return self


class SweepSpec(BaseModel):
    model_config = SPEC_CONFIG
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$", max_length=200)
    kind: Literal["isoflop", "grid", "list"]
    description: str = ""
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    replicate_multipliers: list[PositiveNum] | None = Field(
        default=None, description="isoflop: the seeds after the first replicate only the sizes with these "
        "size_multipliers (seed noise measured at a few sizes instead of every run repeated)")
    flops_convention: Literal["6nd", "kaplan", "chinchilla", "palm"] = "6nd"
    budgets: list[PositiveNum] | None = None
    tokens_per_param: PositiveNum | list[PositiveNum] | None = None
    size_multipliers: list[PositiveNum] | None = None
    optimum_exponent: PositiveNum = Field(
        default=0.5, description="isoflop centre N_opt(C) = sqrt(C_ref / (6 tokens_per_param)) (C / C_ref)^a with "
        "C_ref the geometric mean of the budgets (a = 0.5: constant tokens per parameter)")
    size_grid: Annotated[float, BeforeValidator(_number), Field(gt=1)] | None = Field(
        default=None, description="snap every size target to the nearest power of this ratio (e.g. 1.7783 = "
        "10^(1/4)), so that budgets share sizes and branched runs share trunks")
    params: list[PositiveNum] | None = None
    runs: list[RunSpec] | None = None
    model: ModelSpec = Field(default_factory=ModelSpec)
    train: TrainSpec = Field(default_factory=TrainSpec)
    data: DataSpec = Field(default_factory=DataSpec)

    @model_validator(mode="after")
    def _kind(self):
        def need(key, why):
            if getattr(self, key) in (None, []):
                raise ValueError(f"{key}: required for kind = {self.kind!r} ({why})")

        def forbid(*keys):
            for key in keys:
                if getattr(self, key) is not None:
                    raise ValueError(f"{key}: not used by kind = {self.kind!r}")

        if self.replicate_multipliers is not None and (self.kind != "isoflop" or not self.size_multipliers):
            raise ValueError("replicate_multipliers: only for kind = 'isoflop' with size_multipliers")
        if self.replicate_multipliers is not None and self.size_multipliers:
            missing = [m for m in self.replicate_multipliers if not any(abs(m - k) < 1e-9 * k
                                                                       for k in self.size_multipliers)]
            if missing:
                raise ValueError(f"replicate_multipliers: {missing[0]:g} is not one of size_multipliers")
        if self.kind == "isoflop":
            need("budgets", "the FLOP budgets")
            if self.params is None:
                need("size_multipliers", "sizes as multiples of the expected optimum, or give params")
            if isinstance(self.tokens_per_param, list):
                raise ValueError("tokens_per_param: one number for kind = 'isoflop' (the expected optimum)")
            forbid("runs")
        elif self.kind == "grid":
            need("params", "the model sizes")
            need("tokens_per_param", "the tokens-per-parameter multipliers")
            forbid("budgets", "size_multipliers", "runs")
        else:
            need("runs", "the [[runs]] table")
            forbid("budgets", "size_multipliers", "params", "tokens_per_param")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: repeated seed")
        return self

    # --- expansion
    def expand(self, name: str | None = None) -> list[store.RunConfig]:
        """The sweep's run configurations (deterministic order; ids unique)."""
        return _expand(self, name or self.name or "sweep")

    def expand_with_origins(self) -> tuple[list[store.RunConfig], dict[str, str]]:
        """:meth:`expand`, and run_id -> the key of the spec each run comes from (for error messages)."""
        origins: dict[str, str] = {}
        return _expand(self, self.name or "sweep", origins), origins


def _friendly(msg: str) -> str:
    table = {"Input should be greater than 0": "must be positive",
             "Input should be greater than or equal to 0": "must not be negative",
             "Field required": "missing (required)",
             "Input should be a valid integer, got a number with a fractional part": "must be a whole number"}
    if msg in table:
        return table[msg]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if msg.startswith("value: "):
        msg = msg[len("value: "):]
    if msg.startswith("List should have at least 1 item"):
        return "must not be empty"
    if msg.startswith("String should match pattern"):
        return "must start with a letter or digit and hold only letters, digits, '.', '_', '+' and '-'"
    return msg.replace("Input should be", "must be").replace("String should have", "must have")


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after[_batch(), TrainSpec]",) or "function-" in str(part):
            continue
        elif str(part) in ("float", "int", "PowerRule", "list[float]", "constrained-float") or str(part).startswith("list["):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def format_validation_error(exc: ValidationError, source: str) -> str:
    seen, parts = set(), []
    for err in exc.errors():
        loc = _loc(tuple(err.get("loc", ())))
        msg = _friendly(err.get("msg", ""))
        if err.get("type") == "extra_forbidden" and err.get("loc"):
            key = str(err["loc"][-1])
            parent = _loc(tuple(err["loc"][:-1]))
            model = {"": SweepSpec, "model": ModelSpec, "train": TrainSpec, "data": DataSpec, "runs": RunSpec,
                     "train.lr": PowerRule, "train.batch_size": PowerRule}.get(re.sub(r"\[\d+\]$", "", parent))
            known = list(model.model_fields) if model else []
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", key):
                loc, msg = (f"{parent}.{key}" if parent else key), "unknown key" + hint
            else:    # an odd key (empty, spaces, punctuation) is quoted, not glued into the path
                loc, msg = parent, f"unknown key {key!r}" + hint
        head = msg.split(": ", 1)[0]
        if ": " in msg and head.replace("_", "").replace("[", "").replace("]", "").isalnum():
            loc, msg = (f"{loc}.{head}" if loc else head), msg.split(": ", 1)[1]
        text = f"{loc}: {msg}" if loc else msg
        if text not in seen:
            seen.add(text)
            parts.append(text)
    # a union (number or rule) fails in each branch: keep the first message per key
    first: dict[str, str] = {}
    for p in parts:
        first.setdefault(p.split(":", 1)[0], p)
    return f"{source}: " + "; ".join(first.values())


def load_spec(path: str | os.PathLike) -> SweepSpec:
    """Read and validate a sweep spec; errors are one line naming the file and the key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise ScalingError(f"no such sweep spec: {path}") from None
    except IsADirectoryError:
        raise ScalingError(f"{path}: is a directory, not a sweep spec (a TOML file)") from None
    except OSError as exc:
        raise ScalingError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError as exc:
        raise ScalingError(f"{path}: not UTF-8 text (byte {exc.start}): a sweep spec is a TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScalingError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ScalingError(f"{path}: invalid TOML: nested too deeply") from None
    return parse_spec(raw, source=str(path), default_name=path.stem)


class GrowthSpecGiven(ScalingError):
    """The file is a growth experiment (``kind = "growth"``), which ``scaling grow`` runs."""


def parse_spec(raw: dict, *, source: str = "<spec>", default_name: str | None = None) -> SweepSpec:
    if isinstance(raw, dict) and raw.get("kind") == "growth":
        raise GrowthSpecGiven(f"{source}: kind = 'growth' is a growth experiment: run it with "
                              f"`scaling grow run {source}` (list its runs with --dry-run, tabulate them with "
                              f"`scaling grow analyze`)")
    try:
        spec = SweepSpec.model_validate(raw)
    except ValidationError as exc:
        raise ScalingError(format_validation_error(exc, source)) from None
    if spec.name is None and default_name:
        spec = spec.model_copy(update={"name": default_name})
    try:
        spec.expand()
    except ScalingError as exc:
        raise ScalingError(f"{source}: {exc}") from None
    except (ArithmeticError, ValueError, TypeError, LookupError, StopIteration) as exc:  # pragma: no cover
        # a combination no check above foresaw: still one line naming the file, never a traceback
        raise ScalingError(f"{source}: the spec cannot be expanded into runs "
                           f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    return spec


# ---------------------------------------------------------------------------------------------
# expansion


def _pow2(x: float) -> int:
    return max(1, 2 ** round(math.log2(max(1.0, x))))


def _fmt(x: float) -> str:
    """1e12 -> '1e12', 4.6e12 -> '4.6e12', 2.15e13 -> '2.15e13'."""
    m, e = f"{x:.3g}".split("e") if "e" in f"{x:.3g}" else (f"{x:.3g}", None)
    if e is None:
        return m
    return f"{m}e{int(e)}"


def _aspect_shape(spec: SweepSpec, target: float, vocab: int):
    """Shape rule "aspect": over widths in steps of ``width_multiple`` and integer depths, minimise
    ``|ln(N / target)| + aspect_weight |ln(aspect / ideal_aspect)|``: a family whose depth grows
    steadily with size (the closest-size search jumps between 1 and 4 layers at tiny sizes)."""
    import numpy as np
    from .flops import _param_terms
    from .shapes import ModelShape, check_snap_range, ideal_aspect
    m = spec.model
    w = np.arange(m.width_multiple, 8192 + 1, m.width_multiple, dtype=float)
    f = np.round(m.d_ff_mult * w / 8.0) * 8.0
    per_layer, _, const, emb = _param_terms(w, vocab, f, mixer=m.mixer)
    base = const + (0.0 if m.non_embedding else emb)
    layers = np.arange(1, 129, dtype=float)[:, None]
    n = layers * per_layer[None, :] + base[None, :]
    check_snap_range(target, n, f"128 layers x width {int(w[-1])}")
    score = np.abs(np.log(n / target)) + m.aspect_weight * np.abs(np.log((w[None, :] / layers) / ideal_aspect(w)[None, :]))
    li, wi = np.unravel_index(int(np.argmin(score)), score.shape)
    d = int(w[wi])
    hd = m.head_dim or next((h for h in (64, 32, 16, 8) if d % h == 0 and d // h >= (2 if d >= 128 else 1)), d)
    if d % hd:
        raise ScalingError(f"model.head_dim {hd} does not divide width {d}")
    return ModelShape(int(layers[li, 0]), d, n_head=d // hd, d_ff=int(f[wi]), vocab=vocab, context=m.context,
                      mixer=m.mixer)


def _shape_for(spec: SweepSpec, target: float, where: str):
    from .shapes import ModelShape, shape_for_params
    from .train.data import tokenizer_vocab as vocab_of
    vocab = vocab_of(spec.model.tokenizer)
    if spec.model.shape_rule == "aspect":
        try:
            shape = _aspect_shape(spec, target, vocab)
        except ScalingError as exc:
            raise ScalingError(f"{where}: {exc}") from None
    else:
        try:
            res = shape_for_params(target, vocab=vocab, context=spec.model.context,
                                   non_embedding=spec.model.non_embedding, mixer=spec.model.mixer,
                                   d_ff_mult=spec.model.d_ff_mult)
        except ScalingError as exc:
            raise ScalingError(f"{where}: {exc}") from None
        shape = res.shape
        if spec.model.head_dim:
            if shape.d_model % spec.model.head_dim:
                raise ScalingError(f"{where}: model.head_dim {spec.model.head_dim} does not divide width {shape.d_model}")
            shape = ModelShape(shape.n_layer, shape.d_model, n_head=shape.d_model // spec.model.head_dim,
                               d_ff=shape.d_ff, vocab=vocab, context=shape.context, mixer=shape.mixer)
    if shape.d_head % 2:   # rotary embeddings rotate pairs of channels
        heads = next((h for h in range(shape.n_head, 0, -1) if shape.d_model % h == 0 and (shape.d_model // h) % 2 == 0),
                     None)
        if heads is None:
            raise ScalingError(f"{where}: width {shape.d_model} is odd, so no head size is even (rotary embeddings): "
                               "use an even model.width_multiple")
        shape = ModelShape(shape.n_layer, shape.d_model, n_head=heads, d_ff=shape.d_ff, vocab=shape.vocab,
                           context=shape.context, mixer=shape.mixer)
    # sizes target the dense parameter count; the shape carries the sparsity, so that its FLOPs per
    # token (and an isoFLOP run's tokens) count only the non-zero weights
    return dataclasses.replace(shape, sparsity=spec.model.sparsity) if spec.model.sparsity else shape


def _counted(spec: SweepSpec, shape) -> float:
    pc = shape.param_counts()
    return float(pc["non_embedding"] if spec.model.non_embedding else pc["total"])


def _train_fields(spec: SweepSpec, params: float, tokens: float, lr=None, batch=None) -> dict:
    t = spec.train
    lr = lr if lr is not None else (t.lr(params) if isinstance(t.lr, PowerRule) else t.lr)
    if not (math.isfinite(lr) and lr > 0):
        raise ScalingError(f"train.lr: the rule gives {lr:g} at {params:.4g} parameters (give min and max)")
    if batch is None:
        if isinstance(t.batch_size, PowerRule):
            b = t.batch_size(params)
            if not (math.isfinite(b) and 0 < b <= 2 ** 40):
                raise ScalingError(f"train.batch_size: the rule gives {b:g} at {params:.4g} parameters "
                                   "(give min and max)")
            batch = _pow2(b)
        else:
            batch = t.batch_size
    ctx = spec.model.context
    while t.min_steps and batch > 1 and tokens / (batch * ctx) < t.min_steps:
        batch //= 2
    if t.micro_batch_size and batch % t.micro_batch_size:
        batch = max(t.micro_batch_size, batch // t.micro_batch_size * t.micro_batch_size)
    steps = max(1, round(tokens / (batch * ctx)))
    return dict(lr=float(lr), batch_size=int(batch), tokens=int(steps * batch * ctx),
                micro_batch_size=t.micro_batch_size if t.micro_batch_size and t.micro_batch_size < batch else None,
                schedule=t.schedule, warmup_fraction=t.warmup_fraction, decay_fraction=t.decay_fraction,
                decay_shape=t.decay_shape,
                min_lr_ratio=t.min_lr_ratio, weight_decay=t.weight_decay, beta1=t.beta1, beta2=t.beta2,
                grad_clip=t.grad_clip, dtype=t.dtype, device=t.device, eval_points=t.eval_points,
                eval_tokens=t.eval_tokens, final_eval_tokens=t.final_eval_tokens,
                divergence_margin=t.divergence_margin, checkpoint_every_s=t.checkpoint_every_s,
                save_model=t.save_model, compile=t.compile)


def _config(spec: SweepSpec, name: str, run_id: str, shape, seed: int, fields: dict, budget=None, tags=None,
            where: str = ""):
    try:
        return _run_config(spec, name, run_id, shape, seed, fields, budget, tags)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err.get("loc", ()))
        raise ScalingError(f"{where}: run {run_id[:60]!r}: {loc + ': ' if loc else ''}{_friendly(err.get('msg', ''))}"
                           ) from None


def _run_config(spec: SweepSpec, name: str, run_id: str, shape, seed: int, fields: dict, budget=None, tags=None):
    from .train.data import tokenizer_vocab as vocab_of
    return store.RunConfig(
        sweep=name, run_id=run_id, n_layer=shape.n_layer, d_model=shape.d_model, n_head=shape.n_head,
        d_ff=shape.d_ff, vocab=vocab_of(spec.model.tokenizer), context=spec.model.context, mixer=spec.model.mixer,
        sparsity=spec.model.sparsity, sparsity_mask=spec.model.sparsity_mask,
        sparsity_warmup_fraction=spec.model.sparsity_warmup_fraction, budget=budget, seed=seed, corpus=spec.data.corpus,
        tokenizer=spec.model.tokenizer, val_fraction=spec.data.val_fraction,
        corpus_max_bytes=int(spec.data.max_bytes) if spec.data.max_bytes else None,
        data_order=spec.data.order, flops_convention=spec.flops_convention, tags=tags or {}, **fields)


def _expand(spec: SweepSpec, name: str, origins: dict[str, str] | None = None) -> list[store.RunConfig]:
    """The run configurations of a spec; ``origins`` (if given) gets run_id -> the spec key it
    comes from (``budgets[1] x size_multipliers[2]``, ``params[0]``, ``runs[3]``)."""
    origins = {} if origins is None else origins
    from .shapes import ModelShape
    from .train.data import tokenizer_vocab as vocab_of
    vocab = vocab_of(spec.model.tokenizer)
    ctx = spec.model.context
    configs: list[store.RunConfig] = []
    for seed in spec.seeds:
        if spec.kind == "isoflop":
            tpp = spec.tokens_per_param or 20.0
            c_ref = math.exp(sum(math.log(b) for b in spec.budgets) / len(spec.budgets))
            for bi, C in enumerate(spec.budgets):
                try:
                    n_opt = math.sqrt(c_ref / (6.0 * tpp)) * (C / c_ref) ** spec.optimum_exponent
                except OverflowError:
                    n_opt = math.inf
                if not (0 < n_opt < math.inf) and not spec.params:
                    raise ScalingError(f"budgets[{bi}]: the expected optimum N_opt(C) is {n_opt:g} parameters "
                                       f"(optimum_exponent {spec.optimum_exponent:g}, tokens_per_param {tpp:g}): "
                                       "no model can be sized around it")
                targets = ([(f"params[{i}]", p, None) for i, p in enumerate(spec.params)] if spec.params else
                           [(f"size_multipliers[{i}]", m * n_opt, m) for i, m in enumerate(spec.size_multipliers)])
                if spec.size_grid:
                    g = math.log(spec.size_grid)
                    targets = [(w, math.exp(round(math.log(t) / g) * g), m) for w, t, m in targets]
                if seed != spec.seeds[0] and spec.replicate_multipliers is not None:
                    keep = [m for m in spec.replicate_multipliers]
                    targets = [t for t in targets if t[2] is not None and any(abs(t[2] - k) < 1e-9 * k for k in keep)]
                seen = set()
                for where, target, mult in targets:
                    shape = _shape_for(spec, target, f"budgets[{bi}] x {where}")
                    key = (shape.n_layer, shape.d_model)
                    if key in seen:   # two targets snapped to one shape: train it once
                        continue
                    seen.add(key)
                    N = _counted(spec, shape)
                    tokens = C / shape.flops_per_token(spec.flops_convention)
                    f = _train_fields(spec, N, tokens)
                    if f["tokens"] < f["batch_size"] * ctx:
                        raise ScalingError(f"budgets[{bi}] x {where}: budget too small for one step")
                    rid = f"C{_fmt(C)}-N{si(N)}-{shape.n_layer}x{shape.d_model}-s{seed}"
                    tags = {"target_params": float(target), "tokens_per_param_target": float(tpp)}
                    if mult is not None:
                        tags["size_multiplier"] = float(mult)
                    configs.append(_config(spec, name, rid, shape, seed, f, budget=float(C), tags=tags,
                                           where=f"budgets[{bi}] x {where}"))
                    origins.setdefault(rid, f"budgets[{bi}] x {where}")
        elif spec.kind == "grid":
            tpps = spec.tokens_per_param if isinstance(spec.tokens_per_param, list) else [spec.tokens_per_param]
            for pi, target in enumerate(spec.params):
                shape = _shape_for(spec, target, f"params[{pi}]")
                N = _counted(spec, shape)
                for tpp in tpps:
                    f = _train_fields(spec, N, tpp * N)
                    rid = f"N{si(N)}-D{si(f['tokens'])}-{shape.n_layer}x{shape.d_model}-s{seed}"
                    configs.append(_config(spec, name, rid, shape, seed, f, where=f"params[{pi}]",
                                           tags={"target_params": float(target), "tokens_per_param_target": float(tpp)}))
                    origins.setdefault(rid, f"params[{pi}]")
        else:
            for ri, r in enumerate(spec.runs):
                where = f"runs[{ri}]"
                if r.params is not None:
                    shape = _shape_for(spec, r.params, f"{where}.params")
                else:
                    try:
                        shape = ModelShape(r.n_layer, r.d_model, n_head=r.n_head, d_ff=r.d_ff, vocab=vocab,
                                           context=ctx, mixer=spec.model.mixer, sparsity=spec.model.sparsity)
                    except ScalingError as exc:
                        raise ScalingError(f"{where}: {exc}") from None
                    if shape.d_head % 2:
                        raise ScalingError(f"{where}: head size {shape.d_head} must be even (rotary embeddings)")
                N = _counted(spec, shape)
                if r.tokens is not None:
                    tokens = r.tokens
                elif r.flops is not None:
                    tokens = r.flops / shape.flops_per_token(spec.flops_convention)
                else:
                    tokens = r.tokens_per_param * N
                f = _train_fields(spec, N, tokens, lr=r.lr, batch=r.batch_size)
                rid = (f"{r.name}-s{seed}" if r.name else
                       f"{shape.n_layer}x{shape.d_model}-D{si(f['tokens'])}-s{seed}")
                configs.append(_config(spec, name, rid, shape, seed, f, budget=float(r.flops) if r.flops else None,
                                       where=where))
                origins.setdefault(rid, f"{where}.params" if r.params is not None else where)
    if spec.train.branched:
        configs = _branch(spec, configs)
    ids = [c.run_id for c in configs]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ScalingError(f"run ids repeat ({', '.join(dup[:3])}): give the runs distinct names or shapes")
    return configs


def _branch(spec: SweepSpec, configs: list[store.RunConfig]) -> list[store.RunConfig]:
    """Branched WSD: the runs of one shape, batch size and seed become branches of one trunk.

    Each run keeps the batch size of the spec's rules (``min_steps`` halves it for short runs, which
    then branch from a trunk of their own); the runs of one shape and batch size (every seed) share
    an absolute warm-up, ``warmup_fraction`` of the shortest one's steps, so that each branch
    computes what a plain WSD run of its length would and a second seed is a true replicate."""
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault((c.n_layer, c.d_model, c.n_head, c.d_ff, c.batch_size), []).append(i)
    out = list(configs)
    for (n_layer, d_model, _, _, batch), idx in groups.items():
        warm = round(spec.train.warmup_fraction * min(configs[i].steps for i in idx))
        for i in idx:
            c = configs[i]
            out[i] = c.model_copy(update={"warmup_steps": int(warm),
                                          "trunk": f"trunk-{n_layer}x{d_model}-b{batch}-s{c.seed}"})
    return [store.RunConfig.model_validate(c.model_dump()) for c in out]


def jobs_of(configs: list[store.RunConfig]) -> list[list[store.RunConfig]]:
    """Units of work for an executor: a plain run alone, a trunk's branches together (in one process,
    shortest first); biggest first, so that a pool finishes together."""
    groups: dict[str, list[store.RunConfig]] = {}
    jobs: list[list[store.RunConfig]] = []
    for c in configs:
        if c.trunk:
            if c.trunk not in groups:
                groups[c.trunk] = []
                jobs.append(groups[c.trunk])
            groups[c.trunk].append(c)
        else:
            jobs.append([c])

    def cost(job):
        return sum(c.flops_per_token() * c.trained_tokens for c in job)
    return sorted(jobs, key=lambda j: -cost(j))


def check_epochs(spec: SweepSpec, configs: list[store.RunConfig], train_tokens: dict[tuple, int]) -> None:
    """Refuse runs that would train more than one epoch of their corpus, unless the spec allows it."""
    if spec.data.allow_repeats:
        return
    over = []
    for c in configs:
        n = train_tokens.get((c.corpus, c.tokenizer, c.val_fraction, c.corpus_max_bytes))
        if n and c.trained_tokens > n:
            over.append((c.trained_tokens / n, c.run_id))
    if over:
        over.sort(reverse=True)
        raise ScalingError(f"{spec.name}: {len(over)} run(s) would train more than one epoch of the corpus "
                           f"({over[0][1]}: {over[0][0]:.2f} epochs): use a bigger corpus, smaller budgets, or "
                           "set [data] allow_repeats = true")


# ---------------------------------------------------------------------------------------------
# memory: refuse a model that cannot fit before anything is built or written


def train_memory(cfg: store.RunConfig) -> dict[str, float]:
    """Bytes one run needs to train, estimated without building it: ``state`` (fp32 weights,
    gradients and AdamW's two moments: 16 bytes a parameter), ``activations`` (what the backward
    pass keeps for one micro-batch of ``batch x context`` tokens: per layer about 16 d_model + 2 d_ff
    values a token, plus the logits and their gradient, 3 x vocab a token; 4 bytes a value, 2 in
    bf16; flash attention keeps no context x context matrix) and their ``total``. A floor, not a
    ceiling: allocator slack and temporaries come on top."""
    params = float(cfg.param_counts()["total"])
    micro = cfg.micro_batch_size or cfg.batch_size
    per_token = cfg.n_layer * (16.0 * cfg.d_model + 2.0 * cfg.d_ff) + 3.0 * cfg.vocab
    if cfg.mixer == "hyena":     # FFT buffers of the long convolutions (twice the context, complex)
        per_token += cfg.n_layer * 8.0 * cfg.d_model
    state = 16.0 * params
    acts = float(micro) * cfg.context * per_token * (2.0 if cfg.dtype == "bf16" else 4.0)
    return {"state": state, "activations": acts, "total": state + acts}


def _ram_bytes() -> int | None:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not a POSIX system
        return None
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:    # a container's limit below the machine's memory
            total = int(text)
    return int(total) if total > 0 else None


def machine_memory(device: str) -> tuple[int, str] | None:
    """(bytes, what) a run on ``device`` can use on this machine: the physical memory (or a
    container's limit) for the CPU, the GPU's memory for CUDA when torch sees one; None when this
    machine cannot tell (a CUDA spec looked at on a machine without the GPU)."""
    if device == "cpu":
        ram = _ram_bytes()
        return (ram, "memory") if ram else None
    if device == "auto" or device.startswith("cuda"):
        import importlib.util
        if importlib.util.find_spec("torch") is None:
            return None
        import torch
        if not torch.cuda.is_available():
            return machine_memory("cpu") if device == "auto" else None
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        try:
            props = torch.cuda.get_device_properties(index)
        except (RuntimeError, AssertionError, ValueError):
            return None
        return int(props.total_memory), f"GPU memory ({props.name})"
    return None


def _bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n / 1e3:.3g} KB"


def check_memory(spec: SweepSpec, configs: list[store.RunConfig] | None = None,
                 origins: dict[str, str] | None = None, source: str | None = None) -> None:
    """Raise a one-line ScalingError, naming the spec key, when a run of the spec could not fit in
    this machine's memory (:func:`train_memory` against :func:`machine_memory`); runs whose device
    this machine cannot judge are not checked."""
    if configs is None:
        configs, origins = spec.expand_with_origins()
    origins = origins or {}
    memory: dict[str, tuple[int, str] | None] = {}
    over = []
    for c in configs:
        if c.device not in memory:
            memory[c.device] = machine_memory(c.device)
        have = memory[c.device]
        if have is None:
            continue
        need = train_memory(c)
        if need["total"] > have[0]:
            over.append((need["total"], c, need, have))
    if not over:
        return
    over.sort(key=lambda o: o[0])
    _, c, need, have = over[0]     # the smallest that does not fit: the others are worse
    micro = c.micro_batch_size or c.batch_size
    more = f" ({len(over) - 1} more run(s) are larger)" if len(over) > 1 else ""
    where = origins.get(c.run_id, f"run {c.run_id}")
    raise ScalingError(
        f"{source + ': ' if source else ''}{where}: run {c.run_id} ({si(c.param_counts()['total'])} params, "
        f"{c.n_layer} x {c.d_model}) needs about {_bytes(need['total'])} to train (weights, gradients and AdamW "
        f"state {_bytes(need['state'])}; activations of {micro} x {c.context} tokens {_bytes(need['activations'])}) "
        f"but this machine has {_bytes(have[0])} of {have[1]}{more}: use a smaller size, batch or context")


# ---------------------------------------------------------------------------------------------
# status


def _short(v) -> str:
    text = f"{v:g}" if isinstance(v, float) else str(v)
    return text if len(text) <= 24 else text[:21] + "..."


def _progress_of(d: Path, cfg: store.RunConfig) -> int | None:
    """Tokens an unfinished run has trained: its checkpoint's (progress.json, or the checkpoint
    itself when torch is importable), else its last evaluation's; None if neither says."""
    prog = store.read_progress(d)
    if prog is not None:
        return prog["tokens"]
    cur = store.read_curve(d)
    return int(cur["tokens"].iloc[-1]) if len(cur) else None


def sweep_status(spec: SweepSpec, root: str | os.PathLike = DEFAULT_ROOT):
    """One row per run of the spec: run_id, state, budget, params, tokens, done_tokens, loss, reason.

    States: ``ok``, ``failed`` (diverged; reason), ``partial`` (done_tokens from its checkpoint, else
    its last evaluation), ``pending`` (a WSD branch not yet started shows its trunk's progress, up to
    its branch point), ``stale`` (its config.json differs from the spec's run: reason names the
    fields, old -> new) and ``corrupt`` (reason names the file and what is wrong)."""
    import pandas as pd
    rows = []
    sweep_dir = Path(root) / spec.name
    trunks: dict[str, int | None] = {}
    for cfg in spec.expand():
        d = sweep_dir / cfg.run_id
        row = {"run_id": cfg.run_id, "state": "pending", "budget": cfg.budget,
               "params": cfg.param_counts()["total"], "tokens": cfg.trained_tokens, "done_tokens": None,
               "loss": None, "reason": ""}
        rows.append(row)
        try:
            old = store.read_config(d)
            res = store.read_result(d)
            store.read_curve(d)
        except FileNotFoundError:
            old, res = None, None
        except store.CorruptRunFile as exc:
            row.update(state="corrupt", reason=str(exc))
            continue
        if old is not None:
            diff = store.config_diff(old, cfg)
            if diff:
                was = res.status if res is not None else "unfinished"
                row.update(state="stale", reason=f"was {was}; config.json differs from the spec: " + ", ".join(
                    f"{k} {_short(a)} -> {_short(b)}" for k, a, b in diff))
                continue
        if res is not None:
            row.update(state=res.status, done_tokens=res.tokens, loss=res.loss, reason=res.reason or "")
            continue
        try:
            done = _progress_of(d, cfg) if d.is_dir() else None
        except store.CorruptRunFile as exc:
            row.update(state="corrupt", reason=str(exc))
            continue
        if done is not None or (d / store.CHECKPOINT).exists():
            row.update(state="partial", done_tokens=done)
        elif cfg.trunk:
            if cfg.trunk not in trunks:
                try:
                    trunks[cfg.trunk] = _progress_of(sweep_dir / cfg.trunk, cfg)
                except store.CorruptRunFile:
                    trunks[cfg.trunk] = None
            t = trunks[cfg.trunk]
            if t:
                row.update(done_tokens=min(t, cfg.decay_start * cfg.tokens_per_step),
                           reason=f"trunk {cfg.trunk} at {si(t)} tokens")
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# executors


@dataclass
class SweepReport:
    sweep: str
    root: Path
    total: int
    skipped: int = 0
    ok: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    wall_time_s: float = 0.0
    by_other: list[str] = field(default_factory=list)     # finished meanwhile by another `sweep run`
    busy: list[list[store.RunConfig]] = field(default_factory=list)   # jobs locked by another process now
    set_aside: list[str] = field(default_factory=list)    # corrupt files moved out of the way

    def summary(self) -> str:
        parts = [f"sweep {self.sweep}: {self.total} runs", f"{self.skipped} already finished",
                 f"{len(self.ok)} trained", f"{len(self.failed)} failed (diverged)"]
        if self.by_other:
            parts.append(f"{len(self.by_other)} trained by another process")
        if self.set_aside:
            parts.append(f"{len(self.set_aside)} corrupt file(s) set aside")
        if self.errors:
            parts.append(f"{len(self.errors)} errors")
        text = ", ".join(parts) + f" in {self.wall_time_s:.1f} s; store {self.root / self.sweep}"
        for rid, err in self.errors.items():
            text += f"\n  {rid}: {err}"
        return text


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (a killed sweep leaves no orphans)."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover
            pass


_WORKER_QUEUE = None


def _worker_init(threads: int, queue=None) -> None:
    global _WORKER_QUEUE
    _WORKER_QUEUE = queue          # progress messages to the parent (inherited, not pickled per task)
    _die_with_parent()
    import warnings   # a worker's warnings (a corrupt checkpoint set aside) read like the parent's
    warnings.formatwarning = lambda msg, cat, *a, **k: f"scaling: warning: {msg}\n"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch
    torch.set_num_threads(threads)


def _train_job(job_json: list[str], root: str, data_dir: str | None, threads: int, queue=None) -> list[dict]:
    """Train one job (a plain run, or a trunk's branches) in whichever process the executor chose;
    returns the RunResults as dicts."""
    from .train.loop import train
    cfgs = [store.RunConfig.model_validate_json(j).model_copy(update={"threads": threads}) for j in job_json]
    queue = queue if queue is not None else _WORKER_QUEUE
    report = None
    if queue is not None:
        def report(msg):
            try:
                queue.put_nowait(msg)
            except Exception:   # noqa: BLE001 - progress is best effort
                pass
    done = [_finished(root, c) for c in cfgs]
    if all(r is not None for r in done):     # another `sweep run` finished it since we looked
        return [dict(r.model_dump(mode="json"), **{BY_OTHER: True}) for r in done]
    if cfgs[0].trunk:
        from .train.branches import train_branches
        return [r.model_dump(mode="json") for r in train_branches(cfgs, root, data_dir=data_dir, progress=report)]
    cfg = cfgs[0]
    res = train(cfg, store.run_dir(root, cfg.sweep, cfg.run_id), data_dir=data_dir, progress=report)
    return [res.model_dump(mode="json")]


BY_OTHER = "_trained_by_another_process"     # marks a job result read, not trained, by this process
BUSY_POLL_S = 2.0                            # how often a run locked by another process is looked at


def _finished(root, cfg: store.RunConfig) -> store.RunResult | None:
    """The run's result, or None while it is unfinished (a corrupt result.json counts as unfinished)."""
    try:
        return store.read_result(store.run_dir(root, cfg.sweep, cfg.run_id))
    except store.CorruptRunFile:
        return None


class _Progress:
    """tqdm bar over the FLOPs the sweep will really compute: runs done, the current runs' tokens, ETA.

    A branch counts from its decay start (its trunk's share is the trunk's own entry)."""

    def __init__(self, todo: list[store.RunConfig], total_runs: int, done_runs: int, enabled: bool):
        self.enabled = enabled and bool(todo)
        self.cost = {c.run_id: float(c.flops_per_token()) for c in todo}
        self.total_tokens = {c.run_id: c.trained_tokens for c in todo}
        self.seen: dict[str, int] = {c.run_id: c.decay_start * c.tokens_per_step for c in todo if c.trunk}
        for c in todo:
            if c.trunk:
                t = c.decay_start * c.tokens_per_step
                self.cost.setdefault(c.trunk, float(c.flops_per_token()))
                self.total_tokens[c.trunk] = max(self.total_tokens.get(c.trunk, 0), t)
                self.seen.setdefault(c.trunk, 0)
        self.total_runs, self.done_runs = total_runs, done_runs
        self.bar = None
        if self.enabled:
            from tqdm.auto import tqdm
            total = sum(self.cost[r] * (self.total_tokens[r] - self.seen.get(r, 0)) for r in self.cost)
            self.bar = tqdm(total=total, unit="FLOP", unit_scale=True, dynamic_ncols=True, file=sys.stderr, disable=None,
                            desc=self._desc(), bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                            "[{elapsed}<{remaining}] {postfix}")

    def _desc(self):
        return f"runs {self.done_runs}/{self.total_runs}"

    def tokens(self, run_id: str, tokens: int):
        if self.bar is None or run_id not in self.cost:
            return
        prev = self.seen.get(run_id, 0)
        self.seen[run_id] = max(prev, min(tokens, self.total_tokens[run_id]))
        self.bar.update(self.cost[run_id] * (self.seen[run_id] - prev))
        running = [f"{r} {si(t)}/{si(self.total_tokens[r])} tok" for r, t in self.seen.items()
                   if t < self.total_tokens[r]]
        self.bar.set_postfix_str("; ".join(running[-2:]), refresh=False)

    def finished(self, run_id: str, result: dict | None = None):
        self.done_runs += 1
        if self.enabled and (self.bar is None or self.bar.disable) and result is not None:
            # not a terminal (a log file, CI): one line per finished run instead of a bar
            loss = f"loss {result['loss']:.4f}" if result.get("loss") is not None else result.get("reason") or ""
            print(f"[{self.done_runs}/{self.total_runs}] {run_id} {result['status']} {loss} "
                  f"({(result.get('wall_time_s') or 0) / 60:.1f} min)", file=sys.stderr, flush=True)
        if self.bar is not None:
            self.tokens(run_id, self.total_tokens.get(run_id, 0))
            self.bar.set_description_str(self._desc())

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _result_matches(res: store.RunResult, cfg: store.RunConfig) -> bool:
    """Whether a result.json can be the result of this run (used when its config.json was corrupt)."""
    return (res.run_id == cfg.run_id and res.sweep == cfg.sweep and res.params == cfg.param_counts()["total"]
            and res.flops_convention == cfg.flops_convention and res.budget == cfg.budget
            and math.isclose(res.flops_per_token, cfg.flops_per_token(), rel_tol=1e-9)
            and (res.status == "failed" or res.steps == cfg.steps))


def _repair_run(d: Path, cfg: store.RunConfig | None, note: Callable[[str], None]) -> None:
    """Set aside the corrupt files of a run directory no process is training now, so that the run
    trains again: a corrupt result.json makes the run unfinished (it resumes from its checkpoint); a
    corrupt config.json is rewritten from the spec, and what cannot be checked against the spec
    without it (a checkpoint; a result that disagrees with the spec's run) is set aside too; a
    corrupt curve.csv of an unfinished run is rewritten by the run. ``cfg`` None: a WSD trunk."""
    if not d.is_dir() or store.lock_held(d) or store.lock_held(d, ".group.lock"):
        return

    def aside(file: Path, problem: str, then: str):
        moved = store.set_aside(file, problem)
        if moved is not None:
            note(f"{file}: {problem}; moved to {moved.name}, {then}")

    try:
        store.read_config(d)
    except FileNotFoundError:
        pass
    except store.CorruptRunFile as exc:
        aside(exc.path, exc.problem, "rewritten from the spec")
        aside(d / store.CHECKPOINT, "its config.json was corrupt, so it cannot be checked", "the run restarts")
        if cfg is None:      # a trunk: its snapshots cannot be checked either; they are re-derived
            for snap in sorted(d.glob("branch-*.pt")):
                aside(snap, "its trunk's config.json was corrupt, so it cannot be checked", "to be re-derived")
            return
        try:
            res = store.read_result(d)
        except store.CorruptRunFile:
            res = None
        if res is not None and not _result_matches(res, cfg):
            aside(d / store.RESULT, "does not match the spec's run (and its config.json was corrupt)",
                  "the run trains again")
    if cfg is None:
        return
    try:
        res = store.read_result(d)
    except store.CorruptRunFile as exc:
        res = None
        resume = " (resuming from its checkpoint)" if (d / store.CHECKPOINT).exists() else ""
        aside(exc.path, exc.problem, f"the run is unfinished and trains again{resume}")
    try:
        store.read_curve(d)
    except store.CorruptRunFile as exc:
        if res is None:
            aside(exc.path, exc.problem, "the run writes it again")
        else:
            note(f"{exc}: the run's result is intact but its curve is not (collect --curves leaves it out)")


def prepare_sweep(spec: SweepSpec, root: str | os.PathLike = DEFAULT_ROOT, *,
                  notes: list[str] | None = None) -> tuple[list[store.RunConfig], list[store.RunConfig]]:
    """Write every run's config.json (checking existing ones agree) and split the runs into
    (all, still to train). Corrupt files are set aside first (:func:`_repair_run`), each with a
    CorruptRunWarning (and a line in ``notes``, if given)."""
    import warnings

    def note(msg: str) -> None:
        if notes is not None:
            notes.append(msg)
        warnings.warn(msg, store.CorruptRunWarning, stacklevel=3)

    configs = spec.expand()
    todo = []
    for trunk in sorted({c.trunk for c in configs if c.trunk}):
        _repair_run(store.run_dir(root, spec.name, trunk), None, note)
    for cfg in configs:
        d = store.run_dir(root, cfg.sweep, cfg.run_id)
        _repair_run(d, cfg, note)
        d.mkdir(parents=True, exist_ok=True)
        store.write_config(d, cfg)
        if _finished(root, cfg) is None:
            todo.append(cfg)
    return configs, todo


def run_sweep(spec: SweepSpec | str | os.PathLike, root: str | os.PathLike = DEFAULT_ROOT, *,
              executor: Literal["local", "ray"] = "local", workers: int | None = None, threads: int | None = None,
              address: str | None = None, data_dir: str | os.PathLike | None = None, progress: bool = True,
              only: list[str] | None = None, log: Callable[[str], None] | None = None,
              source: str | None = None) -> SweepReport:
    """Train every unfinished run of a sweep; returns a SweepReport (trained, failed, errors).

    Nothing is written before the spec is known to fit: a run whose model could not fit in this
    machine's memory is a ScalingError (:func:`check_memory`) and no run directory is made. A run
    (or WSD trunk) that another process is training is waited for, then read (``by_other``), or
    trained here if that process died before finishing it."""
    if not isinstance(spec, SweepSpec):
        source = source or str(spec)
        spec = load_spec(spec)
    t0 = time.perf_counter()
    root = Path(root)
    if executor not in ("local", "ray"):
        raise ScalingError(f"unknown executor {executor!r} (local or ray)")
    all_configs, origins = spec.expand_with_origins()
    if only:
        unknown = sorted(set(only) - {c.run_id for c in all_configs})
        if unknown:
            raise ScalingError(f"--only: no run named {unknown[0]} in sweep {spec.name}")
    check_memory(spec, all_configs, origins, source=source)
    notes: list[str] = []
    configs, todo = prepare_sweep(spec, root, notes=notes)
    if only:
        todo = [c for c in todo if c.run_id in set(only)]
    selected = [c for c in configs if not only or c.run_id in set(only)]
    if only and any(c.trunk for c in todo):
        # a branch needs its trunk, which its siblings share: run the whole group
        trunks = {c.trunk for c in todo if c.trunk}
        todo = [c for c in prepare_sweep(spec, root)[1] if c.run_id in set(only) or c.trunk in trunks]
    report = SweepReport(spec.name, root, len(selected), skipped=len(selected) - len(todo), set_aside=notes)
    if todo:
        # prepare the corpus once here (numpy only) so the workers find it cached
        from .train import data as _data
        corpora = {(c.corpus, c.tokenizer, c.val_fraction, c.corpus_max_bytes) for c in todo}
        if executor == "local" or address in (None, "local"):
            sizes = {}
            for corpus, tok, vf, mb in corpora:
                d = _data.prepare(corpus, tok, val_fraction=vf, data_dir=data_dir, max_bytes=mb, quiet=not progress)
                sizes[(corpus, tok, vf, mb)] = len(d.train)
            check_epochs(spec, todo, sizes)
    # biggest jobs first: the pool finishes together and the ETA is honest early
    jobs = jobs_of(todo)
    bar = _Progress(todo, len(selected), report.skipped, progress)
    data_dir = str(Path(data_dir).resolve()) if data_dir else None

    def execute(batch):
        if executor == "local":
            _run_local(batch, root, report, bar, workers=workers, threads=threads, data_dir=data_dir)
        else:
            _run_ray(batch, root, report, bar, workers=workers, threads=threads, address=address, data_dir=data_dir)

    try:
        execute(jobs)
        _await_others(report, bar, root, execute)
    finally:
        bar.close()
    report.wall_time_s = time.perf_counter() - t0
    return report


def _job_lock(root, job: list[store.RunConfig]) -> tuple[Path, str]:
    """The directory and lock file that say a process is training this job."""
    if job[0].trunk:
        return store.run_dir(root, job[0].sweep, job[0].trunk), ".group.lock"
    return store.run_dir(root, job[0].sweep, job[0].run_id), store.LOCK


def _await_others(report: SweepReport, bar: "_Progress", root, execute: Callable[[list], None]) -> None:
    """Wait for the jobs another process was training when we reached them: poll their locks; once a
    lock is free, read the runs it finished (``by_other``) and train here what it left unfinished
    (that process died or was killed)."""
    said = False
    while report.busy:
        busy, report.busy = report.busy, []
        waiting, retry = [], []
        for job in busy:
            lock_dir, lock_name = _job_lock(root, job)
            if store.lock_held(lock_dir, lock_name):
                waiting.append(job)
                continue
            left = []
            for c in job:
                res = _finished(root, c)
                if res is None:
                    left.append(c)
                else:
                    report.by_other.append(c.run_id)
                    bar.finished(c.run_id, res.model_dump(mode="json"))
            if left:
                retry.append(left)
        report.busy.extend(waiting)
        if retry:
            execute(retry)
        elif report.busy:
            if not said:
                names = ", ".join(_job_name(j) for j in report.busy[:3]) + (", ..." if len(report.busy) > 3 else "")
                print(f"scaling sweep: waiting for {len(report.busy)} job(s) another process is training ({names})",
                      file=sys.stderr, flush=True)
                said = True
            time.sleep(BUSY_POLL_S)


def _record(report: SweepReport, bar: _Progress, run_id: str, result: dict | None, error: str | None):
    if error is not None:
        report.errors[run_id] = error
        return
    if result.pop(BY_OTHER, False):
        report.by_other.append(run_id)
    else:
        (report.ok if result["status"] == "ok" else report.failed).append(run_id)
    bar.finished(run_id, result)


def _record_job(report: SweepReport, bar: _Progress, job: list[store.RunConfig], results: list[dict] | None,
                error: str | BaseException | None):
    if isinstance(error, store.RunBusy):      # another process trains it: wait for it at the end
        report.busy.append(job)
        return
    if isinstance(error, BaseException):
        error = str(error) if isinstance(error, ScalingError) else f"{type(error).__name__}: {error}"
    if error is not None:
        for c in job:
            _record(report, bar, c.run_id, None, error)
        return
    for c, res in zip(job, results):
        _record(report, bar, c.run_id, res, None)


def _job_name(job: list[store.RunConfig]) -> str:
    return job[0].trunk or job[0].run_id


def _default_layout(todo, workers, threads, gpu: bool) -> tuple[int, int]:
    cores = _cpu_count()
    if gpu:
        workers = workers or 1
        threads = threads or max(1, cores // workers)
        return workers, threads
    if workers is None:
        workers = max(1, cores // threads) if threads else cores
    workers = max(1, min(workers, len(todo) or 1))
    threads = threads or max(1, cores // workers)
    return workers, threads


def _run_local(jobs, root, report, bar, *, workers, threads, data_dir):
    todo = [c for job in jobs for c in job]
    gpu = any(c.device.startswith("cuda") or c.device == "auto" for c in todo)
    workers, threads = _default_layout(jobs, workers, threads, gpu)
    root = str(Path(root).resolve())
    if workers == 1:
        import torch
        torch.set_num_threads(threads)
        for job in jobs:
            try:
                res = _train_job([c.model_dump_json() for c in job], root, data_dir, threads,
                                 _Callback(lambda m: bar.tokens(m["run_id"], m["tokens"])))
                _record_job(report, bar, job, res, None)
            except ScalingError as exc:
                _record_job(report, bar, job, None, exc)
        return
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init,
                                 initargs=(threads, queue)) as pool:
            futures = {pool.submit(_train_job, [c.model_dump_json() for c in job], root, data_dir, threads): job
                       for job in jobs}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                _drain(queue, bar)
                for fut in done:
                    job = futures[fut]
                    try:
                        results = fut.result()
                    except Exception as exc:  # noqa: BLE001 - one run's error must not stop the sweep
                        _record_job(report, bar, job, None, exc if isinstance(exc, store.RunBusy) else
                                    f"{type(exc).__name__}: {exc}")
                    else:
                        _record_job(report, bar, job, results, None)
    finally:
        queue.close()
        queue.cancel_join_thread()


class _Callback:
    """A picklable-looking progress sink for the in-process executor (put_nowait like a queue)."""

    def __init__(self, fn):
        self.fn = fn

    def put_nowait(self, msg):
        self.fn(msg)


def _drain(queue, bar):
    import queue as _q
    while True:
        try:
            msg = queue.get_nowait()
        except (_q.Empty, EOFError, OSError):
            return
        bar.tokens(msg["run_id"], msg["tokens"])


def _ray_train(job_json: list[str], root: str, data_dir: str | None, threads: int) -> list[dict]:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch
    torch.set_num_threads(threads)
    return _train_job(job_json, root, data_dir, threads)


def _run_ray(jobs, root, report, bar, *, workers, threads, address, data_dir):
    todo = [c for job in jobs for c in job]
    try:
        import ray
    except ImportError:
        raise ScalingError("the ray executor needs Ray: pip install 'scaling[distributed]'") from None
    gpu = any(c.device.startswith("cuda") for c in todo)
    started = False
    if not ray.is_initialized():
        try:
            if address in (None, "local"):
                ray.init(num_cpus=workers * (threads or 1) if workers else None, include_dashboard=False,
                         log_to_driver=False, logging_level="ERROR")
            else:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        except ConnectionError as exc:
            raise ScalingError(f"cannot reach a Ray cluster at {address!r}: {exc} "
                               "(start one with `ray start --head`, or use --address local)") from None
        started = True
    try:
        threads = threads or 1
        task = ray.remote(_ray_train)
        futures = {}
        for job in jobs:
            opts = dict(num_cpus=threads, num_gpus=1 if gpu else 0, max_retries=0, name=_job_name(job))
            futures[task.options(**opts).remote([c.model_dump_json() for c in job], str(Path(root).resolve()),
                                                data_dir, threads)] = job
        pending = list(futures)
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for ref in done:
                job = futures[ref]
                try:
                    results = ray.get(ref)
                except Exception as exc:  # noqa: BLE001
                    cause = getattr(exc, "cause", None) or exc
                    _record_job(report, bar, job, None, cause if isinstance(cause, store.RunBusy) else
                                f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}")
                else:
                    _record_job(report, bar, job, results, None)
    finally:
        if started:
            ray.shutdown()


__all__ = ["SweepSpec", "PowerRule", "load_spec", "parse_spec", "sweep_status", "run_sweep", "prepare_sweep",
           "jobs_of", "check_epochs",
           "SweepReport", "DEFAULT_ROOT"]
