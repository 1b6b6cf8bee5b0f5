"""Fitting scaling laws to training runs (Approaches 1, 2, 3, variable projection, bootstrap).

    from scaling.fit import fit
    res = fit("runs.csv", method="approach3", bootstrap=1000)   # or scaling.fit(...)

Submodules are imported on demand (numpy only at import; scipy inside the fitters).
"""

from .api import fit, fitter, holdout_errors, method_name, METHODS
from .result import BootstrapInfo, DataInfo, FitResult


def __getattr__(name: str):
    # the method functions, loaded lazily
    lazy = {"fit_approach3": ".approach3", "approach3_optimum": ".approach3", "fit_vp": ".vp",
            "fit_approach2": ".approach2", "fit_approach1": ".approach1", "fit_kaplan": ".kaplan",
            "compare_forms": ".holdout", "bootstrap_approach3": ".bootstrap"}
    if name in lazy:
        import importlib
        return getattr(importlib.import_module(lazy[name], __name__), name)
    raise AttributeError(f"module 'scaling.fit' has no attribute {name!r}")


__all__ = ["fit", "fitter", "holdout_errors", "method_name", "METHODS", "FitResult", "DataInfo", "BootstrapInfo",
           "fit_approach3", "approach3_optimum", "fit_vp", "fit_approach2", "fit_approach1", "fit_kaplan",
           "compare_forms", "bootstrap_approach3"]

import sys as _sys  # noqa: E402
import types as _types  # noqa: E402


class _CallablePackage(_types.ModuleType):
    """scaling.fit(...) calls fit(): once this package is imported, the attribute scaling.fit is the package."""

    def __call__(self, *args, **kwargs):
        return fit(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallablePackage
