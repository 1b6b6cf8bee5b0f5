"""Planning: from a law to compute-optimal plans, with uncertainty and a cost.

- :mod:`.query`: :func:`plan`, every kind of query, returning :class:`Plan` objects;
- :mod:`.frontier`: frontiers under any FLOP convention, their inverses, :func:`plan_table`;
- :mod:`.constrained`: repeated data (Muennighoff et al. 2023);
- :mod:`.inference`: inference demand (Sardana et al. 2024);
- :mod:`.uncertainty`: how flat the optimum is, and its distribution over a law's samples;
- :mod:`.multiplier`: the compute multiplier of one architecture over another; :mod:`.compare`: the
  same counted from the architectures two fits record (``scaling compare``);
- :mod:`.text`: the tables ``scaling plan`` prints; :mod:`.result`: Plan, Interval, Flag.
"""

from __future__ import annotations

from ..hardware import CostModel, Hardware
from .constrained import (
    DataConstrainedPlan,
    as_data_constrained,
    check_unique_tokens,
    data_constrained_flops_for_loss,
    data_constrained_frontier,
    data_constrained_plan,
)
from .frontier import frontier, plan_table
from .inference import InferencePlan, inference_optimal, inference_optimal_budget, params_floor
from .query import plan
from .result import Flag, Interval, Plan
from .text import format_table
from .uncertainty import DistributionPlan, flatness, isoflop_optimum, plan_distribution

__all__ = [
    "CostModel",
    "DataConstrainedPlan",
    "DistributionPlan",
    "Flag",
    "Hardware",
    "InferencePlan",
    "Interval",
    "Plan",
    "as_data_constrained",
    "check_unique_tokens",
    "data_constrained_flops_for_loss",
    "data_constrained_frontier",
    "data_constrained_plan",
    "flatness",
    "format_table",
    "frontier",
    "inference_optimal",
    "inference_optimal_budget",
    "isoflop_optimum",
    "params_floor",
    "plan",
    "plan_distribution",
    "plan_table",
]
