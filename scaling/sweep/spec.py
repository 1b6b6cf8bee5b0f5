"""Sweep specifications: the pydantic models of a spec (TOML), loading, and one-line validation
messages that name the file and the key (``sweeps/x.toml: budgets[2]: must be positive``).

The kinds (``isoflop``, ``grid``, ``list``) and the per-size rules are described in
:mod:`scaling.sweep`; :mod:`scaling.sweep.expand` turns a spec into run configurations.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from .. import store
from ..errors import ScalingError
from ..store.config import pattern_fields
from ..train.tokens import tokenizer_vocab
from ..units import parse_number
from .expand import expand_spec
from .messages import friendly

DEFAULT_ROOT = "data/runs"


# ---------------------------------------------------------------------------------------------
# the spec


def _number(value):
    if isinstance(value, str):
        return parse_number(value, "value", positive=False)
    return value


Num = Annotated[float, BeforeValidator(_number)]
PositiveNum = Annotated[float, BeforeValidator(_number), Field(gt=0)]


SPEC_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False)  # inf / nan in a spec is a key's error


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
        default="random",
        description="random: a fixed random mask from the first step; magnitude: train "
        "dense for sparsity_warmup_fraction of the steps, then keep the largest weights of each layer",
    )
    sparsity_warmup_fraction: float = Field(default=0.0, ge=0, lt=1)
    sparsity_pattern: str | None = Field(
        default=None,
        description="None: unstructured masks; 'N:M' (e.g. '2:4', what sparse tensor cores run): N non-zero "
        "weights in every M consecutive inputs of each block weight row; sets sparsity to 1 - N/M",
    )
    d_ff_mult: float = Field(default=4.0, gt=0)
    non_embedding: bool = Field(default=False, description="size targets count non-embedding parameters")

    @field_validator("tokenizer")
    @classmethod
    def _tokenizer(cls, v: str) -> str:
        try:
            tokenizer_vocab(v)
        except ScalingError as exc:
            raise ValueError(str(exc).split(": ", 1)[-1]) from None
        except ArithmeticError:  # 'bpe:1e400'
            raise ValueError(f"tokenizer {v!r}: the BPE vocabulary must be 257..65535 (uint16 tokens)") from None
        return v

    @model_validator(mode="before")
    @classmethod
    def _pattern(cls, data):
        return pattern_fields(data)

    @model_validator(mode="after")
    def _sparsity(self):
        if self.sparsity_warmup_fraction and self.sparsity_mask != "magnitude":
            raise ValueError(
                "sparsity_warmup_fraction: only for sparsity_mask = 'magnitude' (a random mask "
                "is in force from the first step)"
            )
        if self.sparsity_mask == "magnitude" and not self.sparsity:
            raise ValueError("sparsity_mask: 'magnitude' needs sparsity > 0")
        return self

    shape_rule: Literal["search", "aspect"] = Field(
        default="search",
        description="search: scaling.shapes.shape_for_params (closest size); aspect: "
        "widths in steps of width_multiple, trading size error against the ideal aspect ratio",
    )
    width_multiple: int = Field(
        default=16, gt=0, le=8192, description="aspect rule: widths are multiples of this (up to 8192)"
    )
    aspect_weight: float = Field(default=0.3, ge=0)
    head_dim: int | None = Field(default=None, gt=0, description="heads of this size (default: the shape rule's)")
    attention_share: list[Annotated[float, Field(ge=0)]] | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="aspect rule: [lo, hi], keep only shapes at which attention's context FLOPs "
        "(PaLM: 12 n_layer d_model context a token) are lo..hi of the weight FLOPs 6N (N all "
        "parameters of the attention model of that shape, whatever the mixer), so that a sweep "
        "stays in one regime of context work against weight work at every size",
    )

    @model_validator(mode="after")
    def _share(self):
        if self.attention_share is not None:
            lo, hi = self.attention_share
            if not lo < hi:
                raise ValueError("attention_share: give [lo, hi] with lo < hi")
            if self.shape_rule != "aspect":
                raise ValueError("attention_share: only for shape_rule = 'aspect'")
        return self


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
    branched: bool = Field(
        default=False,
        description="WSD: the runs of one size are branches of one trunk "
        "(scaling.train.branches); warm-up and batch size are shared per size",
    )
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


class CorpusSpec(BaseModel):
    """The corpus every run of a spec trains and evaluates on: a sweep's ``[data]`` and a growth
    experiment's (:class:`scaling.growth.spec.DataSpec`) extend it."""

    model_config = SPEC_CONFIG
    corpus: str = "debian-docs"
    val_fraction: float = Field(default=0.05, gt=0, lt=0.5)
    max_bytes: PositiveNum | None = None


class DataSpec(CorpusSpec):
    order: Literal["random", "shuffled"] = Field(
        default="random",
        description="random windows with replacement, or a shuffled epoch of non-overlapping "
        "windows (no token repeats within an epoch)",
    )
    allow_repeats: bool = Field(
        default=False,
        description="let a run train more than one epoch of the corpus (otherwise `sweep run` refuses it)",
    )


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
    seeds: list[int] | None = Field(
        default=None,
        min_length=1,
        description="this run in these seeds instead of the spec's (say, more replicates of the short "
        "runs of a comparison, where seed noise is largest)",
    )

    @model_validator(mode="after")
    def _one_of(self):
        if self.seeds is not None and len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: repeated seed")
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
        default=None,
        description="isoflop: the seeds after the first replicate only the sizes with these "
        "size_multipliers (seed noise measured at a few sizes instead of every run repeated)",
    )
    short_run_seeds: list[int] | None = Field(
        default=None,
        description="isoflop and grid: further seeds for the short runs only (at most short_run_max_steps "
        "optimizer steps), where seed-to-seed noise is largest: more replicates where they pay",
    )
    short_run_max_steps: int | None = Field(default=None, gt=0)
    flops_convention: Literal["6nd", "kaplan", "chinchilla", "palm"] = "6nd"
    budgets: list[PositiveNum] | None = None
    tokens_per_param: PositiveNum | list[PositiveNum] | None = None
    size_multipliers: list[PositiveNum] | None = None
    optimum_exponent: PositiveNum = Field(
        default=0.5,
        description="isoflop centre N_opt(C) = sqrt(C_ref / (6 tokens_per_param)) (C / C_ref)^a with "
        "C_ref the geometric mean of the budgets (a = 0.5: constant tokens per parameter)",
    )
    size_grid: Annotated[float, BeforeValidator(_number), Field(gt=1)] | None = Field(
        default=None,
        description="snap every size target to the nearest power of this ratio (e.g. 1.7783 = "
        "10^(1/4)), so that budgets share sizes and branched runs share trunks",
    )
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

        if (self.short_run_seeds is None) != (self.short_run_max_steps is None):
            raise ValueError(
                "short_run_seeds and short_run_max_steps: give both (further seeds for runs of at most so many steps)"
            )
        if self.short_run_seeds is not None:
            if self.kind == "list":
                raise ValueError("short_run_seeds: only for kind = 'isoflop' or 'grid'")
            both = sorted(set(self.short_run_seeds) & set(self.seeds))
            if both or len(set(self.short_run_seeds)) != len(self.short_run_seeds):
                raise ValueError(f"short_run_seeds: repeated seed {both[0] if both else ''}".rstrip())
        if self.replicate_multipliers is not None and (self.kind != "isoflop" or not self.size_multipliers):
            raise ValueError("replicate_multipliers: only for kind = 'isoflop' with size_multipliers")
        if self.replicate_multipliers is not None and self.size_multipliers:
            missing = [
                m for m in self.replicate_multipliers if not any(abs(m - k) < 1e-9 * k for k in self.size_multipliers)
            ]
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
        return expand_spec(self, name or self.name or "sweep")

    def expand_with_origins(self) -> tuple[list[store.RunConfig], dict[str, str]]:
        """:meth:`expand`, and run_id -> the key of the spec each run comes from (for error messages)."""
        origins: dict[str, str] = {}
        return expand_spec(self, self.name or "sweep", origins), origins


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after[_batch(), TrainSpec]",) or "function-" in str(part):
            continue
        elif str(part) in ("float", "int", "PowerRule", "list[float]", "constrained-float") or str(part).startswith(
            "list["
        ):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out


def format_validation_error(exc: ValidationError, source: str) -> str:
    seen, parts = set(), []
    for err in exc.errors():
        loc = _loc(tuple(err.get("loc", ())))
        msg = friendly(err.get("msg", ""))
        if err.get("type") == "extra_forbidden" and err.get("loc"):
            key = str(err["loc"][-1])
            parent = _loc(tuple(err["loc"][:-1]))
            model = {
                "": SweepSpec,
                "model": ModelSpec,
                "train": TrainSpec,
                "data": DataSpec,
                "runs": RunSpec,
                "train.lr": PowerRule,
                "train.batch_size": PowerRule,
            }.get(re.sub(r"\[\d+\]$", "", parent))
            known = list(model.model_fields) if model else []
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", key):
                loc, msg = (f"{parent}.{key}" if parent else key), "unknown key" + hint
            else:  # an odd key (empty, spaces, punctuation) is quoted, not glued into the path
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
        raise GrowthSpecGiven(
            f"{source}: kind = 'growth' is a growth experiment: run it with "
            f"`scaling grow run {source}` (list its runs with --dry-run, tabulate them with "
            f"`scaling grow analyze`)"
        )
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
        raise ScalingError(
            f"{source}: the spec cannot be expanded into runs "
            f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})"
        ) from None
    return spec
