"""Fitting scaling laws to training runs (Approaches 1, 2, 3, variable projection, Kaplan,
data-constrained, sparsity; bootstrap intervals).

    from scaling.fit import fit
    res = fit("runs.csv", method="approach3", bootstrap=1000)   # or scaling.fit(...)
    print(res.summary()); res.conf_int(0.9); res.save("fit.json")

Layout: ``_surface`` (the log-sum-exp surface, Huber, objective, bounds, batched solver),
``multistart`` (Approach 3's search over 4,500 starts), ``approach3`` (its fit), ``vp_profile``
(the variable-projection profile and its search), ``vp``, ``isoflop`` (one isoFLOP parabola,
budget grouping), ``allocation`` (power laws across budgets), ``approach2``, ``approach1``,
``kaplan``, ``datacon``, ``sparsity`` (one fitter each, all called ``fit_<method>(runs, *, budgets,
bootstrap, seed, level, ...)``), ``bootstrap`` (the resampling, the budget rule, the refits'
health; its report ``bootinfo``), ``clusters`` (the cluster bootstrap's groups: ``bootstrap_by``),
``flags`` (the codes of a fit's flags), ``noise`` (seed noise from replicate runs),
``result`` (FitResult), ``api`` (``fit``: loading and dispatch), ``holdout`` (held-out comparison,
and ``score_runs``: runs scored against a saved fit), ``synthetic`` (simulated runs). numpy and
pandas at import; scipy inside the fitters.
"""

import sys as _sys
import types as _types

from .api import METHODS, fit, fitter, holdout_errors, method_name
from .approach1 import fit_approach1
from .approach2 import fit_approach2
from .approach3 import fit_approach3
from .bootstrap import bootstrap_approach3
from .datacon import fit_datacon
from .holdout import compare_forms
from .kaplan import fit_kaplan
from .multistart import approach3_optimum
from .result import BootstrapInfo, DataInfo, FitArchitecture, FitResult
from .sparsity import fit_sparsity
from .vp import fit_vp

__all__ = [
    "fit",
    "fitter",
    "holdout_errors",
    "method_name",
    "METHODS",
    "FitResult",
    "DataInfo",
    "FitArchitecture",
    "BootstrapInfo",
    "fit_approach3",
    "approach3_optimum",
    "fit_vp",
    "fit_approach2",
    "fit_approach1",
    "fit_kaplan",
    "fit_datacon",
    "fit_sparsity",
    "compare_forms",
    "bootstrap_approach3",
]


class _CallablePackage(_types.ModuleType):
    """scaling.fit(...) calls fit(): once this package is imported, the attribute scaling.fit is the package."""

    def __call__(self, *args, **kwargs):
        return fit(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallablePackage
