"""The growth experiment's spec (TOML): the small and large shapes, the from-scratch recipe every
run trains with, the LiGO operator's planned budget (``[ligo]``), the post-growth schedule
(``[grown]``) and the baselines' options, validated by pydantic. :func:`load_growth_spec` reads one;
:mod:`scaling.growth.configs` turns it into run configurations and :mod:`scaling.growth.experiment`
runs them.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from ..errors import ScalingError
from ..shapes import ModelShape
from ..sweep.spec import CorpusSpec
from ..train.tokens import tokenizer_vocab
from ..units import parse_number, sci, si
from .cost import DEFAULT_OPERATOR_STEPS, operator_flops
from .growable import check_growth_shapes
from .methods import LEGACY, METHODS, base_method, canonical_method, variant


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
    order: Literal["random", "shuffled"] = Field(
        default="random",
        description="random windows with replacement, or a shuffled epoch of non-overlapping windows "
        "(no token repeats within an epoch), as a sweep's [data] order",
    )


class TrainSpec(BaseModel):
    """The from-scratch recipe: every run (small, scratch, grown) trains with it."""

    model_config = ConfigDict(extra="forbid")
    context: int = Field(default=256, gt=0)
    batch_size: int = Field(default=32, gt=0)
    lr: float = Field(default=2e-3, gt=0)
    schedule: Literal["cosine", "wsd", "linear", "constant"] = "cosine"
    warmup_fraction: float = Field(default=0.05, ge=0, lt=1)
    decay_fraction: float = Field(default=0.2, gt=0, le=1, description="wsd: final fraction of steps spent decaying")
    decay_shape: Literal["linear", "sqrt"] = Field(default="linear", description="wsd cool-down: linear or 1 - sqrt")
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
    spec without ``[grown]`` trains grown models exactly as the scratch model. A method named with a
    variant (``ligo+warm0`` in ``methods``) is its base method's growth trained with the schedule
    of ``[grown.methods."ligo+warm0"]``: several post-growth schedules in one experiment."""

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
        bad = [m for m in self.methods if base_method(m) not in METHODS and base_method(m) not in old]
        if bad:
            raise ValueError(f"methods: unknown method {bad[0]!r} (choose from {', '.join(METHODS)})")
        for m in self.methods:
            v = variant(m)
            if v is None:
                continue
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._\-]*", v):
                raise ValueError(f"methods: variant {v!r} of {m!r}: letters, digits, '.', '_' and '-' only")
            if m not in self.grown.methods:
                raise ValueError(
                    f"methods: {m!r} is a schedule variant of {base_method(m)!r} and needs its schedule in "
                    f'[grown.methods."{m}"]'
                )
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
        widening = [m for m in self.methods if base_method(m).startswith("hyperclone")]
        d, D = int(small["d_model"]), int(large["d_model"])
        if widening and self.baselines.exact and D > d and D % d:  # a shrinking width has its own error
            # refused here, not in the grow job an hour into the experiment
            raise ValueError(
                f"methods: {widening[0]!r} copies the width exactly (HyperCloning), which needs the residual "
                f"width to grow by an integer factor: small d_model {d} -> large {D} is x{D / d:.3g}; pick "
                "widths that divide, drop the method, or set [baselines] exact = false"
            )
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


__all__ = [
    "ShapeSpec",
    "DataSpec",
    "TrainSpec",
    "LigoSpec",
    "ScheduleSpec",
    "GrownSpec",
    "BaselineSpec",
    "GrowthSpec",
    "OperatorBudget",
    "load_growth_spec",
]
