"""Reading a table of runs: CSV, TSV, Parquet, JSON or JSON lines, or a DataFrame, numbered by
its 1-based data row so that a later error can point at the row of the file.

This module imports pandas only (pyarrow when a Parquet file is read).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..errors import ScalingError


def _source_name(source) -> str:
    if isinstance(source, pd.DataFrame):
        return "<DataFrame>"
    return str(source)


def read_table(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read a CSV / TSV / Parquet / JSON(-lines) file, or copy a DataFrame; index = 1-based data row."""
    if isinstance(source, pd.DataFrame):
        df = source.copy()
        if df.index.name == "source_row" and df.index.is_unique:
            return df  # already numbered by a loader: keep pointing at the original rows
        df.index = pd.RangeIndex(1, len(df) + 1, name="source_row")
        df.columns = [str(c).strip() for c in df.columns]
        return df
    if not isinstance(source, (str, Path)):
        raise ScalingError(f"runs: expected a file path or a pandas DataFrame, got {type(source).__name__}")
    path = Path(source)
    if not path.exists():
        raise ScalingError(f"runs file not found: {str(path)!r}")
    if path.is_dir():
        raise ScalingError(f"{path} is a directory; give a CSV or Parquet file of runs")
    suffixes = [s.lower() for s in path.suffixes]
    kind = suffixes[-1] if suffixes else ""
    if kind in (".gz", ".bz2", ".xz", ".zst", ".zip") and len(suffixes) >= 2:
        kind = suffixes[-2]
    try:
        if path.stat().st_size == 0:
            raise ScalingError(f"{path} is empty (no header, no runs)")
        if kind in (".parquet", ".pq"):
            try:
                import pyarrow  # noqa: F401  (an optional extra, [parquet]: only Parquet tables need it)
            except ImportError:
                raise ScalingError(
                    f"{path}: reading Parquet needs pyarrow (pip install 'scaling[parquet]' "
                    "or pip install pyarrow), or convert the file to CSV"
                ) from None
            df = pd.read_parquet(path)
        elif kind in (".jsonl", ".ndjson"):
            df = pd.read_json(path, lines=True)
        elif kind == ".json":
            try:
                df = pd.read_json(path)
            except ValueError:
                df = pd.read_json(path, lines=True)
        elif kind in (".tsv", ".tab"):
            df = pd.read_csv(path, sep="\t")
        else:
            df = pd.read_csv(path, sep=None, engine="python") if kind not in (".csv", "") else pd.read_csv(path)
    except ScalingError:
        raise
    except pd.errors.EmptyDataError:
        raise ScalingError(f"{path} is empty (no header, no runs)") from None
    except Exception as exc:  # noqa: BLE001 - whatever pandas, csv or json make of a bad file, it is the file's fault
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScalingError(f"{path}: cannot read as a table of runs ({msg})") from None
    df.index = pd.RangeIndex(1, len(df) + 1, name="source_row")
    df.columns = [str(c).strip() for c in df.columns]
    return df
