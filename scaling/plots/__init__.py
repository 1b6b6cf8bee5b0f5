"""Figures for scaling-law analysis: isoFLOP profiles, the loss surface, the compute-optimal
frontier with its uncertainty band, fit diagnostics and training curves.

One module per figure. Each has a pure function computing the figure's data as a small dataclass
(``isoflop_data`` -> :class:`IsoflopData`, ``surface_data``, ``frontier_data``, ``residuals_data``,
``curves_data``), a function drawing that data (``draw_isoflop``, ...), and the two together
(``isoflop(runs, ...)`` returns a matplotlib ``Figure``). A test or a notebook checks the data
object; artists that show runs carry a ``gid`` ("runs", "heldout", "minima", "curve",
"envelope") so a drawing can be checked against it without reading pixels.

matplotlib is imported by the drawing functions only: ``import scaling.plots`` and the data
functions never load it, and ``scaling plan`` never does. Figures are built on
``matplotlib.figure.Figure`` directly, which needs no display and no GUI backend (saving PNG uses
Agg); when ``matplotlib.pyplot`` is already imported (a notebook, an interactive session), figures
are created through it so they show up.

Units on every axis: parameters (count, embeddings included unless the law says non-embedding),
training tokens, training FLOPs (whole run), loss in nats per token. ``save(fig, path)`` writes
PNG, SVG or PDF, chosen by the extension, atomically.

:mod:`scaling.plots.report` writes the one self-contained HTML page (fits, intervals, plans and
every figure); it is not imported here, since it fits runs and so loads the fitters.
"""

from .common import FORMATS, PUBLISHED, STYLE, close, heldout_mask, readable, save, to_png_bytes
from .curves import CurvesData, curves, curves_data, draw_curves
from .frontier import FrontierData, draw_frontier, frontier, frontier_data
from .isoflop import BudgetProfile, IsoflopData, draw_isoflop, isoflop, isoflop_data
from .residuals import ResidualsData, draw_residuals, residuals, residuals_data
from .surface import SurfaceData, draw_surface, surface, surface_data

__all__ = [
    "isoflop",
    "surface",
    "frontier",
    "residuals",
    "curves",
    "isoflop_data",
    "surface_data",
    "frontier_data",
    "residuals_data",
    "curves_data",
    "draw_isoflop",
    "draw_surface",
    "draw_frontier",
    "draw_residuals",
    "draw_curves",
    "IsoflopData",
    "BudgetProfile",
    "SurfaceData",
    "FrontierData",
    "ResidualsData",
    "CurvesData",
    "heldout_mask",
    "save",
    "close",
    "to_png_bytes",
    "readable",
    "FORMATS",
    "PUBLISHED",
    "STYLE",
]
