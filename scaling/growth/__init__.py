"""Model growth: the LiGO operator, growth baselines, and a growth planner driven by a fitted law.

- :mod:`.ligo` (torch): :class:`LiGO`, :func:`train_operator`, :func:`grow_ligo`; :mod:`.checkpoint`
  (torch): :func:`load_small` and the shape and state-dict checks both growth kinds share.
- :mod:`.baselines` (torch): G_stack depth stacking (Du et al. 2024), HyperCloning's function-preserving
  width (Samragh et al. 2024) and their width + depth hybrids; :mod:`.methods` names them.
- :mod:`.planner` (numpy only): :func:`plan_growth` -> :class:`GrowthPlan` with its FLOP ledger
  (:mod:`.ledger`), from :mod:`.cost` (the operator's FLOPs), :mod:`.growable` (which shapes grow
  from which), :mod:`.calibration` (the measured token credit) and :mod:`.eta` (eta against the
  growth ratio, from one or several calibrations).
- :mod:`.experiment` / :mod:`.analysis`: the measured growth experiment and its calibration; the
  experiment's spec is :mod:`.spec`, its runs :mod:`.configs`, its worker jobs :mod:`.jobs`; the
  analysis's intervals (t over seeds, a law's bootstrap samples) are :mod:`.intervals`, its text
  :mod:`.analysis_text`.

Importing this package does not import torch; the torch modules load on first use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "LiGO": "ligo",
    "train_operator": "ligo",
    "grow_ligo": "ligo",
    "load_small": "checkpoint",
    "check_growth": "checkpoint",
    "grow_stack": "baselines",
    "grow_hyperclone": "baselines",
    "grow_hyperclone_stack": "baselines",
    "grow_hyperclone_identity": "baselines",
    "grow_baseline": "baselines",
    "widen": "baselines",
    "stack_depth": "baselines",
    "deepen_identity": "baselines",
    "plan_growth": "planner",
    "GrowthPlan": "planner",
    "operator_flops": "cost",
    "load_calibration": "calibration",
    "grown_shape_for_params": "growable",
    "run_experiment": "experiment",
    "load_growth_spec": "spec",
    "analyze": "analysis",
    "GrowthAnalysis": "analysis",
    "METHODS": "methods",
    "canonical_method": "methods",
}


def __getattr__(name):
    if name in _LAZY:
        mod = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)
