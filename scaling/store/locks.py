"""The run lock: an advisory ``flock`` on ``<run>/.lock``, held while a process trains the run.

This module imports the standard library only (``fcntl``: locks are POSIX advisory locks).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import ScalingError
from .layout import LOCK


class RunBusy(ScalingError):
    """The run (or trunk) is being trained by another process right now (its lock is held)."""

    __module__ = "scaling.store"  # pickled by its public name: pool workers send it to the parent


class RunLock:
    """An advisory lock (flock) on a run directory, held while the run trains.

    The kernel drops it when the process dies, even by SIGKILL, so a killed sweep never leaves a
    stale lock; a second executor that finds it held skips the run instead of training it twice.
    """

    __module__ = "scaling.store"  # pickled by its public name: pool workers send it to the parent

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path) / LOCK
        self.fd = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self.fd)
            self.fd = None
            return False
        return True

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self):
        if not self.acquire():
            raise RunBusy(f"run {self.path.parent} is being trained by another process")
        return self

    def __exit__(self, *exc):
        self.release()


def lock_held(path: str | os.PathLike, name: str = LOCK) -> bool:
    """Whether another process holds the lock file ``name`` of a run directory now (a probe that
    creates nothing: a missing lock file is a free lock)."""
    try:
        fd = os.open(Path(path) / name, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops our probe's lock
    return False
