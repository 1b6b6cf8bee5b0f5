"""What every figure shares: the paper style, axis labels, input coercion (runs, fits, laws), the
held-out mask, and writing a figure (PNG, SVG or PDF, atomically).

matplotlib is imported inside the drawing helpers only, so the figures' data functions (and
``import scaling.plots``) never load it.
"""

from __future__ import annotations

import functools
import io
import math
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .._io import atomic_write_bytes
from ..errors import ScalingError
from ..fit.result import FitResult
from ..laws import Law, get_law
from ..runs import apply_where, as_runs

FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
PUBLISHED = ("chinchilla-2022", "epoch-2024", "kaplan-2020")

# Sized for a paper: a single-column figure is ~3.3 in, a full-width one ~6.5-7 in. Fonts of 8-10 pt
# stay readable when the figure is printed at that width.
STYLE = {
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "xtick.labelsize": 8.0,
    "ytick.labelsize": 8.0,
    "legend.fontsize": 7.5,
    "legend.framealpha": 0.9,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.4,
    "figure.dpi": 100,
    "savefig.dpi": 200,
}

LOSS_LABEL = "loss (nats/token)"
FLOPS_LABEL = "training compute C (FLOPs)"


# ------------------------------------------------------------------------------------------------
# inputs


def runs_table(runs, what: str = "runs") -> pd.DataFrame:
    """A non-empty runs DataFrame from a DataFrame or a path (``scaling.runs.as_runs``)."""
    if runs is None:
        raise ScalingError(f"{what}: no runs given")
    df = as_runs(runs)
    if not isinstance(df, pd.DataFrame) or len(df) == 0:
        raise ScalingError(f"{what}: the runs table is empty")
    return df


def as_fit(fit) -> FitResult | None:
    """A FitResult from a FitResult, a path to its JSON, or None."""
    if fit is None:
        return None
    if isinstance(fit, FitResult):
        return fit
    if isinstance(fit, (str, Path)):
        return FitResult.load(fit)
    return None


def fit_of(obj) -> FitResult | None:
    """The FitResult behind ``obj`` when it is one (or a fit .json path), else None (a law, a name)."""
    if isinstance(obj, (str, Path)) and str(obj).lower().endswith(".json"):
        return as_fit(obj)
    return obj if isinstance(obj, FitResult) else None


def as_law(obj, what: str = "law") -> Law | None:
    """A Law from a Law, a registered name, a fit/law JSON path, or a FitResult."""
    if obj is None:
        return None
    if isinstance(obj, Law):
        return obj
    if isinstance(obj, FitResult):
        return obj.to_law(name=f"fit ({obj.method})")
    if isinstance(obj, (str, Path)):
        return get_law(str(obj))
    raise ScalingError(
        f"{what}: expected a law, a law name, a fit result or a fit .json file, got {type(obj).__name__}"
    )


def require_loss(law, what: str) -> None:
    if not getattr(law, "has_loss", False):
        raise ScalingError(
            f"{what} needs a law with a loss model L(N, D) (approach3, vp, kaplan or a published "
            f"law); {law.name!r} ({law.form}) is an allocation only"
        )


def heldout_mask(df: pd.DataFrame, heldout) -> np.ndarray:
    """Which runs of ``df`` are held out: ``heldout`` is None, a query string, a DataFrame of runs
    (matched by run_id, else by index) or a boolean mask."""
    if heldout is None:
        return np.zeros(len(df), dtype=bool)
    if isinstance(heldout, str):
        sub = apply_where(df, heldout, "heldout")
        return df.index.isin(sub.index)
    if isinstance(heldout, pd.DataFrame):
        if "run_id" in heldout.columns and "run_id" in df.columns:
            return df["run_id"].isin(set(heldout["run_id"])).to_numpy()
        return df.index.isin(heldout.index)
    m = np.asarray(heldout, dtype=bool)
    if m.shape != (len(df),):
        raise ScalingError(f"heldout: a mask of {m.size} values for {len(df)} runs")
    return m


def source_name(df) -> str:
    src = (getattr(df, "attrs", {}) or {}).get("scaling", {}).get("source", "")
    return Path(str(src)).name if src and not str(src).startswith("<") else ""


def params_label(law=None, df=None) -> str:
    conv = None
    if law is not None:
        conv = getattr(law, "params_convention", None)
    if df is not None:
        conv = (df.attrs.get("scaling", {}) or {}).get("params_convention", conv)
    return "parameters N (non-embedding)" if conv == "non_embedding" else "parameters N"


def flops_text(c: float) -> str:
    """1e20 -> '1e20', 2.56e19 -> '2.6e19' (compact labels for budgets)."""
    if not np.isfinite(c) or c <= 0:
        return str(c)
    e = int(math.floor(math.log10(c)))
    m = c / 10**e
    if abs(m - round(m)) < 0.05:
        m = round(m)
        return f"1e{e}" if m == 1 else f"{m:d}e{e}"
    return f"{m:.1f}e{e}"


# ------------------------------------------------------------------------------------------------
# drawing


def new_figure(figsize, nrows: int = 1, ncols: int = 1, **kw):
    """A constrained-layout figure and its axes, without touching pyplot unless it is in use."""
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(nrows, ncols, figsize=figsize, layout="constrained", squeeze=False, **kw)
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def styled(fn):
    """Run a drawing function under the package's style (fonts sized for a paper figure)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def cmap(name: str = "viridis", lo: float = 0.0, hi: float = 0.88):
    """A colormap truncated before its palest colours (yellow is unreadable on white)."""
    import matplotlib
    from matplotlib.colors import ListedColormap

    base = matplotlib.colormaps[name]
    return ListedColormap(base(np.linspace(lo, hi, 256)), name=f"{name}_trunc")


def plain_log_ticks(ax) -> None:
    """Decimal tick labels (2.5, 3, 3.5) on a log y axis that spans less than a decade."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter, NullLocator

    lo, hi = ax.get_ylim()
    if hi / lo > 8:
        return
    ticks = [t for t in MaxNLocator(nbins=7, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi) if lo <= t <= hi]
    ax.yaxis.set_major_locator(FixedLocator(ticks))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_formatter(NullFormatter())


# ------------------------------------------------------------------------------------------------
# writing


def save(fig, path: str | Path, *, dpi: float | None = None) -> Path:
    """Write a figure as PNG, SVG or PDF (by the extension of ``path``), atomically."""
    import matplotlib

    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ScalingError(
            f"--out {str(path)!r}: unknown image type {path.suffix or '(no extension)'!r}; use .png, .svg or .pdf"
        )
    buf = io.BytesIO()
    # a stable SVG/PDF (no creation date, fixed ids) so regenerated figures do not churn in git
    with matplotlib.rc_context({"svg.hashsalt": "scaling", "svg.fonttype": "path"}):
        fig.savefig(buf, format=fmt, dpi=dpi or STYLE["savefig.dpi"], metadata=_metadata(fmt))
    return readable(atomic_write_bytes(path, buf.getvalue()))


def readable(path: Path) -> Path:
    """Give a file written through a private temporary file the mode a plain open() would (umask)."""
    mask = os.umask(0)
    os.umask(mask)
    try:
        os.chmod(path, 0o666 & ~mask)
    except OSError:
        pass
    return path


def _metadata(fmt: str) -> dict:
    if fmt == "png":
        return {"Software": "scaling (matplotlib)"}
    if fmt == "svg":
        return {"Date": None}
    if fmt == "pdf":
        return {"CreationDate": None, "ModDate": None}
    return {}


def close(fig) -> None:
    """Release a figure (needed only when pyplot created it)."""
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        plt.close(fig)


def to_png_bytes(fig, dpi: float = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
