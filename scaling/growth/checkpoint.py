"""A small model's checkpoint and the decoder shapes growth works with: a :class:`GPTConfig` from any
shape, the check that one shape grows into another, the check of a state dict against a shape,
and loading a trained small model (``torch.load(weights_only=True)``). Shared by the LiGO operator
(:mod:`scaling.growth.ligo`) and the baselines (:mod:`scaling.growth.baselines`); mismatches are
one-line ScalingErrors.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .. import store
from ..errors import ScalingError
from ..train.model import GPTConfig
from .growable import check_growth_shapes


def as_config(shape) -> GPTConfig:
    """A :class:`GPTConfig` from a GPTConfig, ModelShape, RunConfig or dict of shape fields."""
    if isinstance(shape, GPTConfig):
        return shape
    if isinstance(shape, dict):
        names = ("n_layer", "d_model", "n_head", "d_ff", "vocab", "context", "mixer", "sparsity")
        try:
            return GPTConfig(**{k: shape[k] for k in names if k in shape})
        except (TypeError, ValueError) as exc:
            raise ScalingError(f"not a decoder shape: {exc}") from None
    try:
        return GPTConfig.from_shape(shape)
    except (AttributeError, ValueError) as exc:
        raise ScalingError(f"not a decoder shape: {exc}") from None


def describe(cfg: GPTConfig) -> str:
    return f"{cfg.n_layer} x {cfg.d_model} ({cfg.n_head} heads of {cfg.head_dim}, d_ff {cfg.d_ff}, vocab {cfg.vocab})"


def check_growth(small, large) -> tuple[GPTConfig, GPTConfig]:
    """Check that ``large`` can be grown from ``small``; raise a one-line ScalingError otherwise
    (:func:`scaling.growth.growable.check_growth_shapes`: same vocabulary, attention and dense, at
    least as deep and wide, the same head size)."""
    s, g = as_config(small), as_config(large)
    check_growth_shapes(s, g)
    return s, g


def expected_shapes(cfg: GPTConfig) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of :class:`GPT` for ``cfg`` (without building it)."""
    d, f, V = cfg.d_model, cfg.d_ff, cfg.vocab
    out = {"embed.weight": (V, d)}
    for i in range(cfg.n_layer):
        p = f"blocks.{i}."
        out.update(
            {
                p + "norm1.weight": (d,),
                p + "mixer.qkv.weight": (3 * d, d),
                p + "mixer.proj.weight": (d, d),
                p + "norm2.weight": (d,),
                p + "mlp.fc.weight": (f, d),
                p + "mlp.proj.weight": (d, f),
            }
        )
    out["norm.weight"] = (d,)
    return out


def check_state(cfg: GPTConfig, state: dict, what: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Check a state dict against the decoder of ``cfg``; one-line ScalingError on any mismatch."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ScalingError(f"{what} is not a state dict of tensors")
    want = expected_shapes(cfg)
    missing = [k for k in want if k not in state]
    extra = [k for k in state if k not in want]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
        if extra:
            parts.append(f"unexpected {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}")
        raise ScalingError(f"{what} is not a checkpoint of this project's decoder {describe(cfg)} ({'; '.join(parts)})")
    for k, shp in want.items():
        if tuple(state[k].shape) != shp:
            raise ScalingError(
                f"{what} does not match the decoder {describe(cfg)}: {k} has shape "
                f"{tuple(state[k].shape)}, expected {shp}"
            )
        if not torch.is_floating_point(state[k]):
            raise ScalingError(f"{what}: {k} is not a floating-point tensor")
    return {k: state[k] for k in want}


def load_small(path: str | os.PathLike, map_location="cpu") -> tuple[GPTConfig, dict[str, torch.Tensor]]:
    """The configuration and weights of a trained small model.

    ``path`` is a finished run directory (config.json + model.pt, as the training loop writes
    them) or a ``.pt`` file holding ``{"config": {shape fields}, "model": state_dict}``. Loaded
    with ``torch.load(weights_only=True)``; anything that is not this project's attention decoder
    is a one-line ScalingError."""
    p = Path(path)
    if p.is_dir():
        if not (p / store.CONFIG).exists():
            raise ScalingError(f"{p} is not a run directory (no {store.CONFIG})")
        try:
            rc = store.read_config(p)
        except Exception as exc:  # noqa: BLE001 - a foreign config.json: one line
            raise ScalingError(
                f"{p / store.CONFIG} is not a run configuration of this project ({' '.join(str(exc).split())[:160]})"
            ) from None
        cfg = as_config(rc)
        if cfg.mixer != "attention":
            raise ScalingError(f"{p} is a {cfg.mixer!r} model; growth supports the attention decoder only")
        model_file = p / store.MODEL
        if not model_file.exists():
            raise ScalingError(f"{p} has no {store.MODEL} (the run is unfinished, failed, or ran with save_model off)")
        state = _torch_load(model_file, map_location)
        return cfg, check_state(cfg, state, f"{model_file}")
    if not p.exists():
        raise ScalingError(f"no such small model: {p}")
    obj = _torch_load(p, map_location)
    if not isinstance(obj, dict) or "config" not in obj or "model" not in obj:
        raise ScalingError(f"{p}: expected a run directory or a file with 'config' and 'model' entries")
    cfg = as_config(obj["config"])
    return cfg, check_state(cfg, obj["model"], str(p))


def _torch_load(path: Path, map_location):
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickles with code, corrupt files: one line
        raise ScalingError(
            f"cannot load {path} as a weights-only torch checkpoint "
            f"({type(exc).__name__}: {' '.join(str(exc).split())[:160]})"
        ) from None


__all__ = ["as_config", "describe", "check_growth", "expected_shapes", "check_state", "load_small"]
