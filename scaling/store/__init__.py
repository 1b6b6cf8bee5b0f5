"""The run store: one directory per training run, written atomically, read without torch.

Layout (DESIGN.md)::

    <root>/<sweep>/journal.jsonl          append-only: one line per run start / finish / failure
    <root>/<sweep>/<run_id>/config.json   RunConfig: everything needed to reproduce the run
    <root>/<sweep>/<run_id>/curve.csv     held-out evaluations: step, tokens, flops, lr, train_loss, val_loss, time_s
    <root>/<sweep>/<run_id>/result.json   RunResult, written last: its presence means "finished"
    <root>/<sweep>/<run_id>/checkpoint.pt resume state while the run is unfinished (removed at the end)
    <root>/<sweep>/<run_id>/progress.json the checkpoint's step and tokens, readable without torch
    <root>/<sweep>/<run_id>/model.pt      final weights (a plain state dict), when config.save_model
    <root>/<sweep>/<run_id>/.lock         flock held while a process trains the run (removed when finished)

Every file is written to a temporary name and renamed into place (:mod:`scaling._io`), so a run
killed at any moment leaves either the previous or the new version of each file. A run is
*finished* when result.json exists (status ``ok`` or ``failed``); an unfinished one resumes from
checkpoint.pt. :func:`collect` turns a sweep directory into the runs table the fitter reads
(failed runs left out unless asked for).

A file that is there but cannot be read (truncated, edited, from another version) raises
:class:`CorruptRunFile`, naming the file and what is wrong with it; :func:`collect` reports such a
run (a :class:`CorruptRunWarning`) and goes on with the others, and :func:`set_aside` moves a
corrupt file out of the way (``result.json.corrupt-<time>``) so that the run can be trained again.

One public API, ``scaling.store.X`` for every name, from these modules:

- :mod:`.layout`: the file names, the curve's columns, the execution-only config fields, ``run_dir``;
- :mod:`.files`: the JSON reader, curve.csv, progress.json, ``set_aside``, ``CorruptRunFile``;
- :mod:`.events`: the sweep's journal.jsonl; :mod:`.locks`: ``RunLock``, ``lock_held``, ``RunBusy``;
- :mod:`.config`: ``RunConfig`` (config.json), ``config_diff``, ``is_trunk``;
- :mod:`.results`: ``RunResult`` (result.json);
- :mod:`.state`: ``run_state``, ``run_problem``, ``read_progress`` of one run directory;
- :mod:`.tables`: the runs table and the curves of a sweep directory;
- :mod:`.accounting`: the FLOPs a sweep spent, each WSD trunk counted once.

This package imports pydantic and pandas only (no torch).
"""

from __future__ import annotations

from .accounting import sweep_compute, trunk_flops
from .config import RunConfig, check_config, config_diff, is_trunk, read_config, write_config
from .events import journal, now, read_journal
from .files import CorruptRunFile, CorruptRunWarning, read_curve, set_aside, write_curve, write_progress
from .layout import (
    CHECKPOINT,
    CONFIG,
    CURVE,
    CURVE_COLUMNS,
    EXECUTION_FIELDS,
    JOURNAL,
    LOCK,
    MODEL,
    PROGRESS,
    RESULT,
    run_dir,
)
from .locks import RunBusy, RunLock, lock_held
from .results import RunResult, read_result, write_result
from .state import read_progress, run_problem, run_state
from .tables import TABLE_COLUMNS, CollectReport, collect, collect_curves, iter_runs

__all__ = [
    "LOCK",
    "RunConfig",
    "RunResult",
    "RunLock",
    "run_dir",
    "write_config",
    "check_config",
    "read_config",
    "write_result",
    "read_result",
    "write_curve",
    "read_curve",
    "run_state",
    "run_problem",
    "journal",
    "read_journal",
    "iter_runs",
    "collect",
    "collect_curves",
    "sweep_compute",
    "trunk_flops",
    "is_trunk",
    "TABLE_COLUMNS",
    "CURVE_COLUMNS",
    "EXECUTION_FIELDS",
    "CONFIG",
    "CURVE",
    "RESULT",
    "CHECKPOINT",
    "MODEL",
    "JOURNAL",
    "PROGRESS",
    "CorruptRunFile",
    "CorruptRunWarning",
    "RunBusy",
    "CollectReport",
    "config_diff",
    "set_aside",
    "lock_held",
    "write_progress",
    "read_progress",
    "now",
]
