"""scaling: compute-optimal scaling laws.

    >>> import scaling
    >>> (p,) = scaling.plan(5.76e23, law="epoch-2024")
    >>> round(p.params / 1e9, 1), round(p.tokens / 1e12, 2)
    (72.2, 1.33)

The public API is loaded lazily so that ``import scaling`` stays cheap: ``plan``, ``plan_table``,
``get_law``, ``list_laws``, the law classes, ``fit``, ``FitResult``, ``load_runs``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "plan": "scaling.planner",
    "plan_table": "scaling.planner",
    "Plan": "scaling.planner",
    "Interval": "scaling.planner",
    "Hardware": "scaling.hardware",
    "compute_multiplier": "scaling.planner.multiplier",
    "compare_fits": "scaling.planner.compare",
    "get_law": "scaling.laws",
    "list_laws": "scaling.laws",
    "Law": "scaling.laws",
    "ChinchillaLaw": "scaling.laws",
    "KaplanLaw": "scaling.laws",
    "PowerLawAllocation": "scaling.laws",
    "fit": "scaling.fit",
    "FitResult": "scaling.fit",
    "load_runs": "scaling.runs",
    "ModelShape": "scaling.shapes",
    "shape_for_params": "scaling.shapes",
    "ScalingError": "scaling.errors",
}


def __getattr__(name: str):
    if name == "fit":  # the package scaling.fit, callable as its fit() (see scaling/fit/__init__.py)
        return importlib.import_module("scaling.fit")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'scaling' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
