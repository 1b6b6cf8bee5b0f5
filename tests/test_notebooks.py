"""The notebooks under notebooks/ run top to bottom (as scripts), so they never rot."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURE_DATA, HAVE_SHARED, SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    # a notebook on public data reads ../shared/data, or the synthetic stand-ins without it (its prose then
    # describes other numbers, but every cell runs)
    env = dict(
        os.environ,
        MPLBACKEND="Agg",
        SCALING_NOTEBOOK_OUT=str(tmp_path),
        SCALING_NOTEBOOK_BOOTSTRAP="20",  # every cell runs; the bands need not be smooth
        SCALING_PUBLIC_DATA=str(SHARED_DATA if HAVE_SHARED else FIXTURE_DATA),
        PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    r = subprocess.run([sys.executable, str(path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip(), "a notebook should print what it found"
