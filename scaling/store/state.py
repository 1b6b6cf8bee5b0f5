"""The state of one run directory: finished (``ok`` / ``failed``), ``partial``, ``pending`` or
``corrupt``, the first corrupt file, and how far an unfinished run got.

This module imports pydantic and pandas only; torch only to read the step of a checkpoint that
has no progress.json beside it.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

from .config import read_config
from .files import CorruptRunFile, read_curve
from .layout import CHECKPOINT, CURVE, PROGRESS
from .results import read_result


def read_progress(path: str | os.PathLike) -> dict | None:
    """The checkpoint's progress (``step``, ``steps``, ``tokens``) of an unfinished run: progress.json
    when it is there and not older than the checkpoint, else the checkpoint itself when torch can be
    imported; None when there is no (readable) checkpoint."""
    path = Path(path)
    ckpt, prog = path / CHECKPOINT, path / PROGRESS
    try:
        ck_mtime = ckpt.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        if prog.stat().st_mtime >= ck_mtime - 1e-3:
            data = json.loads(prog.read_text())
            return {"step": int(data["step"]), "steps": int(data["steps"]), "tokens": int(data["tokens"])}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        import torch

        ck = torch.load(ckpt, map_location="cpu", weights_only=True)
        step = int(ck["state"]["step"])
        cfg = read_config(path)
    except Exception:  # noqa: BLE001 - a corrupt or foreign checkpoint: no progress to show
        return None
    return {"step": step, "steps": cfg.steps, "tokens": step * cfg.tokens_per_step}


def run_state(path: str | os.PathLike) -> str:
    """``ok``, ``failed``, ``partial`` (checkpoint or curve, no result), ``pending`` or ``corrupt``
    (a result.json that cannot be read: :func:`run_problem` says why)."""
    path = Path(path)
    try:
        res = read_result(path)
    except CorruptRunFile:
        return "corrupt"
    if res is not None:
        return res.status
    if (path / CHECKPOINT).exists() or (path / CURVE).exists():
        return "partial"
    return "pending"


def run_problem(path: str | os.PathLike) -> str | None:
    """The first corrupt file of a run directory (config.json, result.json, curve.csv), as the
    one-line message of its CorruptRunFile; None when every file that is there reads."""
    path = Path(path)
    for read in (read_config, read_result, read_curve):
        try:
            read(path)
        except CorruptRunFile as exc:
            return str(exc)
        except FileNotFoundError:
            continue
    return None
