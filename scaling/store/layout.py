"""Where a run directory keeps its files (the layout in :mod:`scaling.store`'s docstring).

The file names, the columns of a training curve, the config fields that say how a run is
executed rather than what it computes, and a run's directory under a store root.

This module imports nothing beyond the standard library.
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG = "config.json"
CURVE = "curve.csv"
RESULT = "result.json"
CHECKPOINT = "checkpoint.pt"
PROGRESS = "progress.json"
MODEL = "model.pt"
JOURNAL = "journal.jsonl"
LOCK = ".lock"
CURVE_COLUMNS = ("step", "tokens", "flops", "lr", "train_loss", "val_loss", "time_s")
# config fields that say how a run is executed, not what it computes: they may differ on resume
EXECUTION_FIELDS = frozenset({"threads", "checkpoint_every_s", "device", "compile"})


def run_dir(root: str | os.PathLike, sweep: str, run_id: str) -> Path:
    return Path(root) / sweep / run_id
