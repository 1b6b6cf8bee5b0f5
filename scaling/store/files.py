"""Reading and writing a run's files, and the errors of files that cannot be read.

The JSON reader behind config.json and result.json (:func:`_read_model`: a missing file is None,
an unreadable one a :class:`CorruptRunFile` naming the file and what is wrong), the training
curve (curve.csv), progress.json beside a checkpoint, and :func:`set_aside`, which moves a corrupt
file out of the way. The exception classes keep ``scaling.store`` as their module, so that they
pickle (pool workers to the parent) under the name they always had.

This module imports pandas only (no torch, no pydantic).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .._io import atomic_write_json, atomic_write_text
from ..errors import ScalingError
from .events import journal, now
from .layout import CURVE, CURVE_COLUMNS, PROGRESS


class CorruptRunFile(ScalingError):
    """A run file that exists but cannot be read: the message names the file and what is wrong."""

    __module__ = "scaling.store"  # pickled by its public name: pool workers send it to the parent

    def __init__(self, path: str | os.PathLike, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = Path(path), " ".join(str(problem).split())

    def __reduce__(self):  # travels from pool workers to the parent intact
        return (type(self), (str(self.path), self.problem))


class CorruptRunWarning(UserWarning):
    """A run left out of a table or a status because one of its files is corrupt."""

    __module__ = "scaling.store"  # pickled by its public name: pool workers send it to the parent


def _finite(x):
    return x if x is None or (isinstance(x, (int, float)) and math.isfinite(x)) else None


def _first_problem(exc: Exception) -> str:
    """One line from a pydantic ValidationError (or any exception)."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            err = errors()[0]
            loc = ".".join(str(p) for p in err.get("loc", ()))
            more = len(errors()) - 1
            return (f"{loc}: " if loc else "") + str(err.get("msg")) + (f" (and {more} more)" if more > 0 else "")
        except Exception:  # noqa: BLE001 - fall back to the plain message
            pass
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _read_model(file: Path, model, what: str):
    """Parse ``file`` as ``model``; None if it does not exist, CorruptRunFile if it cannot be read."""
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CorruptRunFile(file, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise CorruptRunFile(file, "is not text (not UTF-8)") from None
    except ValueError as exc:
        why = "is empty" if not raw.strip() else f"is not valid JSON ({exc})"
        raise CorruptRunFile(file, f"{why}: a truncated or damaged {what}") from None
    if not isinstance(data, dict):
        raise CorruptRunFile(file, f"is not a {what} (a JSON {type(data).__name__}, not an object)")
    try:
        return model.model_validate(data)
    except Exception as exc:  # noqa: BLE001 - pydantic ValidationError, or a validator's own error
        raise CorruptRunFile(file, f"is not a valid {what} ({_first_problem(exc)})") from None


def write_curve(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CURVE_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow(
            {
                k: ("" if row.get(k) is None else repr(row[k]) if isinstance(row.get(k), float) else row[k])
                for k in CURVE_COLUMNS
            }
        )
    atomic_write_text(Path(path) / CURVE, buf.getvalue())


def read_curve(path: str | os.PathLike) -> pd.DataFrame:
    """The run's curve.csv (empty if there is none); CorruptRunFile if it cannot be read or lacks
    a column or holds a non-number."""
    p = Path(path) / CURVE
    if not p.exists():
        return pd.DataFrame(columns=list(CURVE_COLUMNS))
    try:
        df = pd.read_csv(p)
    except pd.errors.EmptyDataError:
        raise CorruptRunFile(p, "is empty (not even a header): a damaged training curve") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise CorruptRunFile(p, f"is not a readable CSV ({_first_problem(exc)})") from None
    except OSError as exc:
        raise CorruptRunFile(p, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    missing = [c for c in CURVE_COLUMNS if c not in df.columns]
    if missing:
        raise CorruptRunFile(p, f"has no column {missing[0]!r} (a training curve has {', '.join(CURVE_COLUMNS)})")
    for col in ("step", "tokens", "val_loss"):
        values = pd.to_numeric(df[col], errors="coerce")
        # step and tokens are always there; a loss may be empty (not finite), but never text
        bad = values.isna() if col != "val_loss" else values.isna() & df[col].notna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise CorruptRunFile(p, f"row {row + 1}, column {col!r}: {df[col].iloc[row]!r} is not a number")
        df[col] = values
    return df


def set_aside(file: str | os.PathLike, problem: str = "") -> Path | None:
    """Move a corrupt run file out of the way, to ``<name>.corrupt-<UTC time>``, and note it in the
    sweep's journal; returns the new path (None if the file was already gone). Nothing is deleted."""
    file = Path(file)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    dest = file.with_name(f"{file.name}.corrupt-{stamp}")
    n = 1
    while dest.exists():
        n += 1
        dest = file.with_name(f"{file.name}.corrupt-{stamp}-{n}")
    try:
        os.replace(file, dest)
    except FileNotFoundError:
        return None
    try:
        journal(file.parent.parent, "corrupt", file.parent.name, file=file.name, moved_to=dest.name, reason=problem)
    except OSError:  # the move is what matters
        pass
    return dest


def write_progress(path: str | os.PathLike, step: int, steps: int, tokens: int) -> None:
    """progress.json beside a checkpoint: its step and tokens, for readers without torch."""
    atomic_write_json(
        Path(path) / PROGRESS, {"step": int(step), "steps": int(steps), "tokens": int(tokens), "time": now()}
    )
