"""What a run saves with torch: its resumable checkpoint and its trained model.

Checkpoints (model, optimizer, state with its step, curve and counters) are written atomically
and loaded with ``torch.load(weights_only=True)``; each is followed by ``progress.json`` (its step
and tokens, for ``scaling sweep status`` without torch). A checkpoint that cannot be loaded is set
aside (``checkpoint.pt.corrupt-<time>``) with a warning and a journal line, never deleted.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import torch

from .. import store
from .._io import atomic_write_bytes
from ..errors import ScalingError
from .model import GPT, GPTConfig


def save_checkpoint(path: Path, state: dict, steps: int | None = None, tokens_per_step: int | None = None) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path / store.CHECKPOINT, buf.getvalue())
    if steps is not None:  # the sidecar follows the checkpoint, so it is never ahead of it
        step = int(state["state"]["step"])
        store.write_progress(path, step, steps, step * tokens_per_step)


def set_aside_corrupt(file: Path, problem: str, then: str) -> None:
    """Set a corrupt run file aside and say so (a warning and a journal line); nothing is deleted."""
    moved = store.set_aside(file, problem)
    if moved is not None:
        warnings.warn(f"{file}: {problem}; moved to {moved.name}, {then}", store.CorruptRunWarning, stacklevel=3)


def read_checkpoint(file: Path, map_location="cpu") -> dict | None:
    """A training checkpoint (model, optimizer, state with its step), or None when there is none;
    a file that cannot be loaded or lacks those parts is set aside with a warning (None)."""
    if not file.exists():
        return None
    try:
        ck = torch.load(file, map_location=map_location, weights_only=True)
        if not isinstance(ck, dict) or not {"model", "optimizer", "state"} <= set(ck):
            raise ValueError("not a training checkpoint (no model, optimizer and state)")
        int(ck["state"]["step"])
    except Exception as exc:  # noqa: BLE001 - truncated zip, unpickling error, wrong contents
        set_aside_corrupt(
            file,
            f"cannot be loaded ({' '.join(str(exc).split())[:200] or type(exc).__name__})",
            "starting from scratch",
        )
        return None
    return ck


def load_model(run_dir: str | os.PathLike, map_location="cpu") -> GPT:
    """The trained model of a finished run (its config.json and model.pt)."""
    path = Path(run_dir)
    cfg = store.read_config(path)
    model = GPT(GPTConfig.from_shape(cfg))
    if not (path / store.MODEL).exists():
        raise ScalingError(f"{path} has no {store.MODEL} (unfinished, failed, or save_model was off)")
    model.load_state_dict(torch.load(path / store.MODEL, map_location=map_location, weights_only=True))
    return model
