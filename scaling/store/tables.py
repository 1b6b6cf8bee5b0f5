"""A sweep directory as tables: the runs table the fitter reads (:func:`collect`, one row per
finished run) and every evaluation of every run (:func:`collect_curves`).

WSD trunks are left out (state, not runs), failed runs unless asked for, and so are *stale* runs
(config.json no longer what the spec says) and runs with a corrupt file, each reported.

This module imports pydantic and pandas only (no torch).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import pandas as pd

from .._io import atomic_write_text
from .config import RunConfig, config_diff, is_trunk, read_config
from .files import CorruptRunFile, CorruptRunWarning, read_curve
from .layout import CONFIG, CURVE_COLUMNS
from .results import RunResult, read_result

TABLE_COLUMNS = (
    "run_id",
    "params",
    "non_embedding_params",
    "tokens",
    "flops",
    "loss",
    "status",
    "reason",
    "sweep",
    "budget",
    "arch",
    "mixer",
    "sparsity",
    "sparsity_pattern",
    "nonzero_params",
    "seed",
    "n_layer",
    "d_model",
    "n_head",
    "d_ff",
    "vocab",
    "context",
    "batch_size",
    "lr",
    "schedule",
    "steps",
    "tokens_per_param",
    "flops_convention",
    "corpus",
    "tokenizer",
    "corpus_fingerprint",
    "epochs",
    "dtype",
    "device",
    "threads",
    "tokens_per_s",
    "flops_per_s",
    "mfu",
    "wall_time_s",
    "flops_6nd",
    "trunk",
    "spent_flops",
    "data_order",
)


def iter_runs(sweep_dir: str | os.PathLike) -> Iterable[Path]:
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        return []
    return sorted(p for p in sweep_dir.iterdir() if p.is_dir() and (p / CONFIG).exists())


@dataclass
class CollectReport:
    """What a collection left out besides unfinished and failed runs: ``corrupt`` (one line per run
    with an unreadable file, naming it) and ``stale`` (run_id -> the fields in which its config.json
    differs from the spec's, or ``["not in the spec"]``)."""

    corrupt: list[str] = dataclass_field(default_factory=list)
    stale: dict[str, list[str]] = dataclass_field(default_factory=dict)
    stale_kept: bool = False


def _corrupt(report: CollectReport | None, exc: CorruptRunFile) -> None:
    msg = f"{exc} (run left out)"
    if report is not None:
        report.corrupt.append(msg)
    else:
        warnings.warn(msg, CorruptRunWarning, stacklevel=3)


def _finished_runs(
    sweep_dir,
    *,
    include_failed: bool,
    run_ids=None,
    expected: dict | None = None,
    include_stale: bool = False,
    report: CollectReport | None = None,
):
    """(path, config, result) of each finished run that belongs in a table (trunks left out)."""
    wanted = set(run_ids) if run_ids is not None else None
    if report is not None:
        report.stale_kept = include_stale
    for path in iter_runs(sweep_dir):
        if wanted is not None and path.name not in wanted:
            continue
        try:
            res = read_result(path)
            if res is None or (res.status != "ok" and not include_failed):
                continue
            cfg = read_config(path)
        except CorruptRunFile as exc:
            _corrupt(report, exc)
            continue
        except FileNotFoundError:  # the directory went away while we read it
            continue
        if is_trunk(cfg):
            continue
        if expected is not None:
            want = expected.get(cfg.run_id)
            diff = ["not in the spec"] if want is None else [k for k, _, _ in config_diff(cfg, want)]
            if diff:
                if report is not None:
                    report.stale[cfg.run_id] = diff
                if not include_stale:
                    continue
        yield path, cfg, res


def collect(
    sweep_dir: str | os.PathLike,
    *,
    include_failed: bool = False,
    out: str | os.PathLike | None = None,
    run_ids: Iterable[str] | None = None,
    expected: dict[str, RunConfig] | None = None,
    include_stale: bool = False,
    report: CollectReport | None = None,
) -> pd.DataFrame:
    """The runs table of a sweep directory: one row per finished run (failed ones only if asked).

    Columns: TABLE_COLUMNS (run_id, params, non_embedding_params, tokens, flops, loss, status, ...),
    sorted by budget, params and seed. ``params`` counts all parameters (embedding included),
    ``loss`` is the final held-out loss in nats per token, ``flops`` are training FLOPs under
    ``flops_convention``. With ``out``, also written as CSV (atomically).

    ``expected`` (run_id -> RunConfig, a spec's expansion) leaves out *stale* runs, whose config.json
    differs from the spec's (execution fields aside) or which the spec no longer has, unless
    ``include_stale``. A run with a corrupt file is left out, with a CorruptRunWarning naming the
    file, or noted in ``report`` (a :class:`CollectReport`, which also lists the stale runs).
    """
    rows = []
    for _, cfg, res in _finished_runs(
        sweep_dir,
        include_failed=include_failed,
        run_ids=run_ids,
        expected=expected,
        include_stale=include_stale,
        report=report,
    ):
        rows.append(
            {
                "run_id": res.run_id,
                "params": res.params,
                "non_embedding_params": res.non_embedding_params,
                "tokens": res.tokens,
                "flops": res.flops,
                "loss": res.loss,
                "status": res.status,
                "reason": res.reason or "",
                "sweep": res.sweep,
                "budget": res.budget,
                "arch": "gpt",
                "mixer": cfg.mixer,
                "sparsity": cfg.sparsity,
                "sparsity_pattern": cfg.sparsity_pattern or "",
                "nonzero_params": res.nonzero_params,
                "seed": cfg.seed,
                "n_layer": cfg.n_layer,
                "d_model": cfg.d_model,
                "n_head": cfg.n_head,
                "d_ff": cfg.d_ff,
                "vocab": cfg.vocab,
                "context": cfg.context,
                "batch_size": cfg.batch_size,
                "lr": cfg.lr,
                "schedule": cfg.schedule,
                "steps": res.steps,
                "tokens_per_param": res.tokens / res.params,
                "flops_convention": res.flops_convention,
                "corpus": cfg.corpus,
                "tokenizer": cfg.tokenizer,
                "corpus_fingerprint": res.corpus_fingerprint,
                "epochs": res.epochs,
                "dtype": res.dtype,
                "device": res.device,
                "threads": res.threads,
                "tokens_per_s": res.tokens_per_s,
                "flops_per_s": res.flops_per_s,
                "mfu": res.mfu,
                "wall_time_s": res.wall_time_s,
                "flops_6nd": 6.0 * res.params * res.tokens,
                "trunk": res.trunk or "",
                "spent_flops": res.spent_flops if res.spent_flops is not None else res.flops,
                "data_order": cfg.data_order,
            }
        )
    df = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    if len(df):
        df = df.sort_values(["budget", "params", "seed", "run_id"], na_position="last").reset_index(drop=True)
    if out is not None:
        atomic_write_text(out, df.to_csv(index=False))
    return df


# the runs-table columns each row of a curves table repeats from its run
CURVE_ARCHITECTURE = ("mixer", "sparsity", "vocab", "context", "flops_convention")


def _architecture_of(cfg: RunConfig, res: RunResult) -> list[tuple[str, Any]]:
    values = {
        "mixer": cfg.mixer,
        "sparsity": cfg.sparsity,
        "vocab": cfg.vocab,
        "context": cfg.context,
        "flops_convention": res.flops_convention,
    }
    return [(k, values[k]) for k in CURVE_ARCHITECTURE]


def collect_curves(
    sweep_dir: str | os.PathLike,
    *,
    include_failed: bool = False,
    out: str | os.PathLike | None = None,
    expected: dict[str, RunConfig] | None = None,
    include_stale: bool = False,
    report: CollectReport | None = None,
) -> pd.DataFrame:
    """Every evaluation of every finished run: run_id, params, budget, seed + the curve columns.
    Stale and corrupt runs (a corrupt curve.csv included) are treated as in :func:`collect`."""
    frames = []
    for path, cfg, res in _finished_runs(
        sweep_dir, include_failed=include_failed, expected=expected, include_stale=include_stale, report=report
    ):
        try:
            cur = read_curve(path)
        except CorruptRunFile as exc:
            _corrupt(report, exc)
            continue
        if not len(cur):
            continue
        cur.insert(0, "run_id", res.run_id)
        cur.insert(1, "params", res.params)
        cur.insert(2, "non_embedding_params", res.non_embedding_params)
        cur.insert(3, "budget", res.budget)
        cur.insert(4, "seed", cfg.seed)
        # what the run was and how its FLOPs are counted, as in the runs table: an Approach 1 fit
        # records it (scaling.runs.architecture_info) and reads the curves' FLOPs in their convention
        for i, (name, value) in enumerate(_architecture_of(cfg, res)):
            cur.insert(5 + i, name, value)
        cur["loss"] = cur["val_loss"]
        frames.append(cur)
    df = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(
            columns=[
                "run_id",
                "params",
                "non_embedding_params",
                "budget",
                "seed",
                *CURVE_ARCHITECTURE,
                *CURVE_COLUMNS,
                "loss",
            ]
        )
    )
    if out is not None:
        atomic_write_text(out, df.to_csv(index=False))
    return df
