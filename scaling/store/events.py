"""The sweep journal: ``<root>/<sweep>/journal.jsonl``, one JSON line per run start, finish,
failure or file set aside, appended by every process that works on the sweep.

This module imports pandas only (no torch, no pydantic).
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pandas as pd

from .layout import JOURNAL


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def journal(sweep_dir: str | os.PathLike, event: str, run_id: str, **extra) -> None:
    """Append one event line to the sweep's journal (O_APPEND: concurrent writers do not interleave)."""
    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    line = (
        json.dumps(
            {"time": now(), "event": event, "run_id": run_id, "host": socket.gethostname(), "pid": os.getpid(), **extra}
        )
        + "\n"
    )
    fd = os.open(sweep_dir / JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_journal(sweep_dir: str | os.PathLike) -> pd.DataFrame:
    p = Path(sweep_dir) / JOURNAL
    if not p.exists():
        return pd.DataFrame(columns=["time", "event", "run_id"])
    rows = []
    for line in p.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:  # a line cut by a crash
            continue
    return pd.DataFrame(rows)
