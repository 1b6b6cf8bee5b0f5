"""Inference-aware sizing (Sardana et al. 2024, "Beyond Chinchilla-Optimal").

A model that will serve D_inf tokens costs 6 N D_tr to train and 2 N D_inf to serve. For a target
loss l, :func:`inference_optimal` minimises the total over N with D_tr(N) the tokens that reach l,
D_tr(N) = (B / (l - E - A / N^alpha))^(1/beta); :func:`inference_optimal_budget` is the budget
form (least loss for a fixed total). Both weigh training and inference FLOPs in dollars when a
cost model (:class:`scaling.hardware.Hardware`: separate MFU, accelerator and price for each side)
is given, and report the saving against the Chinchilla-optimal model of the same quality.

:func:`plan_inference` answers ``scaling.plan(..., inference_tokens=D_inf)`` with :class:`Plan`
objects. All FLOPs here are 6 N D (training) and 2 N per inference token.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._io import json_safe
from .._solve import bisect, scan_min
from ..errors import ScalingError
from ..hardware import Hardware
from ..laws import DEFAULT_LAW, ChinchillaLaw, Law, get_law
from ..laws.datacon import DataConstrainedLaw
from ..units import si
from ._checks import positive, values
from .constrained import six_nd_only
from .result import Plan

CostModel = Hardware


@dataclass(frozen=True)
class InferencePlan:
    """A model sized for its whole life: training plus serving ``inference_tokens`` tokens
    (immutable; :meth:`summary` reads like a report). It carries no interval: the inference-aware
    optimum is solved for the point-estimate law only."""

    law: str
    query: str  # "target_loss" | "budget"
    objective: str  # "flops" | "dollars"
    inference_tokens: float
    params: float
    tokens: float  # training tokens
    tokens_per_param: float
    loss: float
    train_flops: float
    inference_flops: float
    total_flops: float
    chinchilla: dict[str, float]  # the compute-optimal model of the same quality (or the same total)
    saving: float  # 1 - total / chinchilla total (in the objective's unit)
    cost: dict[str, Any] | None = None
    first_order_residual: float | None = None  # N dObjective/dN / Objective at the optimum (~0)
    flops_convention: str = "6nd"

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))

    def summary(self) -> str:
        """The model, the compute it spends training and serving, and the saving against the
        compute-optimal model that ignores inference."""
        c = self.chinchilla
        same = "the same quality" if self.query == "target_loss" else "the same budget"
        lines = [
            f"inference-aware plan ({self.query}, {self.objective} objective) under {self.law}: "
            f"FLOPs convention {self.flops_convention}",
            f"  {si(self.params)} parameters on {si(self.tokens)} training tokens "
            f"({self.tokens_per_param:.1f} tokens per parameter), loss {self.loss:.4f}",
            f"  compute {self.train_flops:.4g} FLOPs training + {self.inference_flops:.4g} serving "
            f"{si(self.inference_tokens)} tokens = {self.total_flops:.4g} FLOPs",
            f"  compute-optimal model for {same}: {si(c['params'])} parameters on {si(c['tokens'])} tokens, "
            f"loss {c['loss']:.4f}, {c['total_flops']:.4g} FLOPs in all; saving {100 * self.saving:.1f}%",
        ]
        if self.cost is not None:
            k = self.cost
            lines.append(
                f"  cost ${si(k['train_usd'])} training on {k['train']['accelerator']} + "
                f"${si(k['inference_usd'])} serving on {k['inference']['accelerator']} = ${si(k['total_usd'])}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _chinchilla_form(law: str | Law) -> ChinchillaLaw:
    law = get_law(law)
    if isinstance(law, DataConstrainedLaw):
        return law.chinchilla()
    if not isinstance(law, ChinchillaLaw):
        raise ScalingError(
            f"inference-aware planning needs a Chinchilla-form law (E + A/N^alpha + B/D^beta); "
            f"{law.name!r} is of form {law.form!r}"
        )
    return law


def _weights(cost: CostModel | None) -> tuple[float, float]:
    if cost is None:
        return 1.0, 1.0
    return cost.dollars_per_flop(False), cost.dollars_per_flop(True)


def _cost_dict(cost: CostModel | None, train_flops: float, inf_flops: float) -> dict[str, Any] | None:
    if cost is None:
        return None
    wt, wi = _weights(cost)
    d = cost.describe()
    d.update(
        {
            "train_usd": train_flops * wt,
            "inference_usd": inf_flops * wi,
            "total_usd": train_flops * wt + inf_flops * wi,
            "train_gpu_hours": cost.gpu_hours(train_flops, False),
            "inference_gpu_hours": cost.gpu_hours(inf_flops, True),
        }
    )
    return d


def params_floor(law: ChinchillaLaw, target: float) -> float:
    """The smallest model that can reach ``target`` at all (with infinite data): (A / (l - E))^(1/alpha)."""
    return (law.A / (target - law.E)) ** (1.0 / law.alpha)


def inference_optimal(
    target_loss: float, inference_tokens: float, law: str | Law = "chinchilla-2022", *, cost: CostModel | None = None
) -> InferencePlan:
    """The size and training tokens that reach ``target_loss`` at the least lifetime cost.

    Minimises  w_tr * 6 N D_tr(N) + w_inf * 2 N D_inf  over N, where D_tr(N) =
    (B / (l - E - A / N^alpha))^(1/beta) is what a size-N model needs to reach l (Sardana et al.
    2024). w = 1 (FLOPs), or dollars per FLOP of each side when ``cost`` is given. The search runs
    over x = log(N - N_min) (N_min: the smallest size that can reach l at all), so optima very
    close to N_min (huge inference demand) are resolved as well as those near the
    Chinchilla optimum (no demand). The saving is against the Chinchilla-optimal model of the same
    loss serving the same demand.
    """
    law = _chinchilla_form(law)
    l = float(target_loss)
    if not math.isfinite(l):
        raise ScalingError("target loss must be a finite number")
    if l <= law.E:
        raise ScalingError(
            f"target loss {l:g} is at or below the irreducible loss E = {law.E:g} of law {law.name!r}: "
            f"no model reaches it"
        )
    Dinf = positive(inference_tokens, "inference tokens", allow_zero=True)
    wt, wi = _weights(cost)
    Nmin = params_floor(law, l)
    Cc = float(law.flops_for_loss(l))
    Nc, Dc = (float(v) for v in law.frontier(Cc))

    def D_of(N):
        return np.asarray(law.tokens_for_loss(N, l), dtype=float)

    def obj(x):
        N = Nmin + np.exp(x)
        return wt * 6.0 * N * D_of(N) + wi * 2.0 * N * Dinf

    # the optimum lies in (N_min, N_chinchilla]: inference demand only ever pushes the size down
    lo, hi = math.log(Nmin) - 40.0, math.log(max(Nc - Nmin, Nmin * 1e-12) * 4.0)
    x = float(scan_min(obj, np.array(lo), np.array(hi), n_scan=129, tol=1e-13))
    N = Nmin + math.exp(x)
    D = float(D_of(N))
    # first-order condition: d/dN [w_t 6 N D + w_i 2 N Dinf] = w_t 6 (D + N dD/dN) + w_i 2 Dinf = 0,
    # with dD/dN = -(alpha A N^-alpha) / (beta B D^-beta) * D / N  (implicit differentiation of L = l)
    dDdN = -(law.alpha * law.A * N**-law.alpha) / (law.beta * law.B * D**-law.beta) * D / N
    total_w = wt * 6 * N * D + wi * 2 * N * Dinf
    foc = N * (wt * 6.0 * (D + N * dDdN) + wi * 2.0 * Dinf) / total_w
    tr, inf = 6.0 * N * D, 2.0 * N * Dinf
    tr_c, inf_c = 6.0 * Nc * Dc, 2.0 * Nc * Dinf
    chin = {
        "params": Nc,
        "tokens": Dc,
        "tokens_per_param": Dc / Nc,
        "loss": l,
        "train_flops": tr_c,
        "inference_flops": inf_c,
        "total_flops": tr_c + inf_c,
    }
    cost_d = _cost_dict(cost, tr, inf)
    if cost is not None and cost_d is not None:
        chin["total_usd"] = tr_c * wt + inf_c * wi
        saving = 1.0 - cost_d["total_usd"] / chin["total_usd"]
    else:
        saving = 1.0 - (tr + inf) / (tr_c + inf_c)
    return InferencePlan(
        law=law.name,
        query="target_loss",
        objective="dollars" if cost else "flops",
        inference_tokens=Dinf,
        params=N,
        tokens=D,
        tokens_per_param=D / N,
        loss=l,
        train_flops=tr,
        inference_flops=inf,
        total_flops=tr + inf,
        chinchilla=chin,
        saving=float(saving),
        cost=cost_d,
        first_order_residual=float(foc),
        flops_convention=law.flops_convention,
    )


def inference_optimal_budget(
    inference_tokens: float,
    law: str | Law = "chinchilla-2022",
    *,
    total_flops: float | None = None,
    dollars: float | None = None,
    cost: CostModel | None = None,
) -> InferencePlan:
    """The least loss for a fixed lifetime budget (training + serving ``inference_tokens``).

    The budget is ``total_flops`` (FLOP objective) or ``dollars`` (needs a ``cost`` model; the
    default one if none is given). For each N the training tokens are what is left:
    D_tr = (budget - w_inf 2 N D_inf) / (w_tr 6 N); N ranges up to the size whose serving alone
    spends the budget. The comparison is the Chinchilla-optimal model that spends the same budget
    on training and inference under the same split rule (N_opt of its own training budget,
    searched so that its total matches), i.e. the plan a team that ignores inference would make.
    """
    law = _chinchilla_form(law)
    Dinf = positive(inference_tokens, "inference tokens", allow_zero=True)
    if (total_flops is None) == (dollars is None):
        raise ScalingError("give one budget for the inference-aware plan: total FLOPs or dollars")
    if dollars is not None:
        cost = cost or CostModel()
        budget = positive(dollars, "dollars")
        wt_b, wi_b = _weights(cost)  # the budget is dollars: weigh each side by its $/FLOP
    else:
        budget = positive(total_flops, "FLOPs")
        wt_b, wi_b = 1.0, 1.0  # the budget is FLOPs (a cost model only prices the result)

    Nmax = budget / (wi_b * 2.0 * Dinf) if Dinf > 0 else math.inf

    def D_of(N):
        return (budget - wi_b * 2.0 * N * Dinf) / (wt_b * 6.0 * N)

    def obj(x):
        N = np.exp(x)
        D = D_of(N)
        return np.where(D > 0, law.loss(N, np.where(D > 0, D, 1.0)), np.inf)

    # unconstrained optimum of the training part as a scale for the search window
    N0 = float(law.frontier(budget / wt_b)[0])
    hi = math.log(min(N0 * 1e4, Nmax * (1 - 1e-12)))
    lo = math.log(N0) - math.log(1e6)
    if not hi > lo:
        raise ScalingError(f"the budget cannot serve {Dinf:.3g} inference tokens with any model worth training")
    x = float(scan_min(obj, np.array(lo), np.array(hi), n_scan=129, tol=1e-13))
    N = math.exp(x)
    D = float(D_of(N))
    if not D > 0:
        raise ScalingError(f"the budget is spent on serving {Dinf:.3g} inference tokens: nothing is left to train")
    loss = float(law.loss(N, D))
    tr, inf = 6.0 * N * D, 2.0 * N * Dinf

    # the inference-blind plan with the same total: N on the Chinchilla frontier of its training FLOPs
    def total_of_frontier(logc):
        c = np.exp(logc)
        Nf, _ = law.frontier(c)
        return wt_b * c + wi_b * 2.0 * np.asarray(Nf) * Dinf - budget

    lc = float(
        bisect(
            total_of_frontier, np.array(math.log(budget / wt_b) - 80.0), np.array(math.log(budget / wt_b)), tol=1e-13
        )
    )
    Cc = math.exp(lc)
    Nc, Dc = (float(v) for v in law.frontier(Cc))
    Lc = float(law.loss(Nc, Dc))
    chin = {
        "params": Nc,
        "tokens": Dc,
        "tokens_per_param": Dc / Nc,
        "loss": Lc,
        "train_flops": 6 * Nc * Dc,
        "inference_flops": 2 * Nc * Dinf,
        "total_flops": 6 * Nc * Dc + 2 * Nc * Dinf,
    }
    # the saving of a budget plan: the compute the inference-blind plan would need to match this loss
    # (it is a loss improvement at equal cost; expressed as the budget share saved for equal loss)
    same_q = inference_optimal(loss, Dinf, law, cost=cost if dollars is not None else None)
    saving = same_q.saving
    cost_d = _cost_dict(cost, tr, inf)
    if cost is not None:
        wt, wi = _weights(cost)
        chin["total_usd"] = chin["train_flops"] * wt + chin["inference_flops"] * wi
    return InferencePlan(
        law=law.name,
        query="budget",
        objective="dollars" if dollars is not None else "flops",
        inference_tokens=Dinf,
        params=N,
        tokens=D,
        tokens_per_param=D / N,
        loss=loss,
        train_flops=tr,
        inference_flops=inf,
        total_flops=tr + inf,
        chinchilla=dict(chin, loss_gap=Lc - loss),
        saving=float(saving),
        cost=cost_d,
        flops_convention=law.flops_convention,
    )


# ---------------------------------------------------------------------------------------------
# scaling.plan(..., inference_tokens=D_inf)


def plan_inference(
    flops,
    params,
    tokens,
    target_loss,
    gpu_hours,
    dollars,
    law,
    convention,
    hardware,
    cost,
    inference_tokens,
    unique_tokens,
    flatness_of: Callable[[Law, float, float | None], dict] | None = None,
) -> list[Plan]:
    """The plans of ``scaling.plan(..., inference_tokens=D_inf)``: one per demand and target loss (or
    budget). ``cost`` weighs training against inference in dollars; ``hardware`` stands in for it
    when not given, and prices the training run."""
    if unique_tokens is not None:
        raise ScalingError(
            "--inference-tokens and --unique-tokens together are not supported yet: plan them separately"
        )
    if params is not None or tokens is not None:
        raise ScalingError(
            "inference-aware plans choose the size and the tokens: give --target-loss or a budget "
            "(FLOPs or --dollars) with --inference-tokens, not --params/--tokens"
        )
    if gpu_hours is not None:
        raise ScalingError(
            "an inference-aware budget is total FLOPs or --dollars (training plus serving), not --gpu-hours"
        )
    law_obj = get_law(DEFAULT_LAW if law is None else law)
    six_nd_only(law_obj, convention, "inference-aware")
    if cost is not None and not isinstance(cost, Hardware):
        raise ScalingError("cost must be a scaling.hardware.Hardware (or CostModel)")
    cm = cost if cost is not None else hardware
    budgets = [("flops", flops), ("dollars", dollars)]
    given = [(k, v) for k, v in budgets if v is not None]
    if given and target_loss is not None:
        raise ScalingError("a budget and a --target-loss over-determine the plan: give one of them")
    if not given and target_loss is None:
        raise ScalingError("with --inference-tokens give a --target-loss or a budget (total FLOPs or --dollars)")
    Dinfs = [
        positive(x, "inference tokens", allow_zero=True)
        for x in np.atleast_1d(np.asarray(inference_tokens, dtype=float))
    ]
    plans = []
    for Dinf in Dinfs:
        if target_loss is not None:
            items = [
                (inference_optimal(float(L or 0.0), Dinf, law_obj, cost=cm), "target_loss+inference")
                for L in values(target_loss, "target loss")
            ]
        else:
            kind, vals = given[0]
            items = [
                (
                    inference_optimal_budget(
                        Dinf, law_obj, cost=cm, **({"total_flops": v} if kind == "flops" else {"dollars": v})
                    ),
                    f"{kind}+inference",
                )
                for v in values(vals, kind)
            ]
        for ip, query in items:
            d = ip.to_dict()
            extra = {
                "inference": {
                    k: d[k]
                    for k in (
                        "objective",
                        "inference_tokens",
                        "train_flops",
                        "inference_flops",
                        "total_flops",
                        "chinchilla",
                        "saving",
                        "first_order_residual",
                    )
                    if d.get(k) is not None
                }
            }
            if ip.cost is not None:
                extra["inference"]["cost"] = d["cost"]
            if flatness_of is not None:
                extra.update(flatness_of(law_obj, ip.train_flops, None))
            plans.append(
                Plan(
                    law=law_obj.name,
                    query=query,
                    flops=ip.train_flops,
                    params=ip.params,
                    tokens=ip.tokens,
                    tokens_per_param=ip.tokens_per_param,
                    loss=ip.loss,
                    flops_convention="6nd",
                    params_convention=law_obj.params_convention,
                    extra=extra,
                    budget=None if hardware is None else hardware.budget(ip.train_flops),
                )
            )
    return plans


__all__ = [
    "CostModel",
    "InferencePlan",
    "inference_optimal",
    "inference_optimal_budget",
    "params_floor",
    "plan_inference",
]
