"""Planning queries: turn a law into a compute-optimal plan, with uncertainty and a cost.

The questions a planner asks, and how each is answered (all under the law's FLOP convention,
C = 6ND unless the law or ``convention`` says otherwise):

- a budget (FLOPs, GPU-hours or dollars)            -> the frontier point N_opt(C), D_opt(C)
- a size (``params``)                               -> the budget whose optimum is that size
- a token count (``tokens``)                        -> the budget whose optimum is that many tokens
- a target loss                                     -> the least compute that reaches it
- a target loss and a size (or token count)         -> the tokens (or size) that reach it
- a budget and a size (or token count)              -> the other from C = flops_per_token * D
- a size and a token count                          -> evaluate the law there, and say how far the
                                                       point is from the frontier at its budget

``plan_table`` answers the first kind for many budgets at once, vectorised (a DataFrame);
``plan`` answers any kind and returns :class:`Plan` objects with intervals, shapes and budgets.

Past the compute-optimal plan (:mod:`scaling.planning` does the work):

- ``unique_tokens=U``: only U unique tokens exist (Muennighoff et al. 2023). A budget gets the
  best size, total tokens and epochs under the data-constrained law, and the cost of the
  constraint against the unconstrained optimum (``extra["data_constrained"]``); a size and token
  count are evaluated with repetition. With no law given the data-constrained law
  ``muennighoff-2023`` is used (its E, A, B were fitted together with its repetition constants);
  a Chinchilla-form law gets that paper's repetition constants grafted on, which the plan notes.
- ``inference_tokens=D_inf``: the model will serve D_inf tokens (Sardana et al. 2024). A target
  loss gets the size that reaches it at the least training + inference cost, a budget (FLOPs or
  dollars, for training and inference together) the least loss; both report the saving against
  the Chinchilla-optimal model (``extra["inference"]``). Training and inference may run on
  different accelerators at different MFU and price (``cost``).
- ``flatness=0.005``: also report the range of sizes whose loss at the same budget is within 0.5%
  of the best (``extra["flatness"]``), and for a law with samples (a bootstrapped fit) the
  percentiles of N_opt, D_opt and the loss and the expected penalty of the point estimate's size
  (``extra["distribution"]``).

This module imports neither torch nor matplotlib (nor scipy).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from .errors import OutOfRangeWarning, ScalingError
from .laws import DEFAULT_LAW, Law, get_law
from .laws import datacon as _datacon  # noqa: F401  (registers muennighoff-2023 and the "datacon" form)

DATACON_DEFAULT_LAW = "muennighoff-2023"

# relative mismatch tolerated between a budget and the size x tokens it is given with
OVERDETERMINED_RTOL = 0.01


@dataclass
class Plan:
    """One answered planning query (all quantities are plain floats)."""

    law: str
    query: str
    flops: float
    params: float
    tokens: float
    tokens_per_param: float
    loss: float | None
    flops_convention: str
    params_convention: str
    interval: dict[str, dict[str, float]] | None = None
    shape: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None
    frontier: dict[str, float] | None = None   # for off-frontier points: the optimum at the same C
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("interval", "shape", "budget", "frontier"):
            if d[k] is None:
                del d[k]
        if not d["extra"]:
            del d["extra"]
        if not d["warnings"]:
            del d["warnings"]
        return _clean(d)


from ._io import json_safe as _clean  # noqa: E402


# ---------------------------------------------------------------------------------------------
# frontiers under any FLOP convention


def frontier(law: Law, C, *, convention: str | None = None, vocab: int = 50257, context: int = 2048,
             mixer: str = "attention", sparsity: float = 0.0):
    """Compute-optimal (N, D) at budgets C, vectorised.

    Under the law's own convention the law's closed form is used. Under another FLOP convention
    (a parametric law only), the budget buys D = C / flops_per_token(N) tokens, where
    flops_per_token comes from a smooth shape rule (:func:`scaling.shapes.smooth_flops_per_token`),
    and N is found by minimising L(N, C / flops_per_token(N)) over log N (golden section).
    """
    conv = convention or law.flops_convention
    if conv == law.flops_convention and (conv == "6nd" or (mixer == "attention" and not sparsity)):
        return law.frontier(C)   # C = 6ND holds whatever the mixer (N non-zero under sparsity)
    if not law.has_loss:
        raise ScalingError(f"law {law.name!r} is an allocation fitted under the {law.flops_convention!r} "
                           f"FLOP convention; it cannot be re-planned under {conv!r}")
    from .shapes import smooth_flops_per_token

    C = np.asarray(C, dtype=float)
    non_emb = law.params_convention == "non_embedding"  # Kaplan-style N: the shape rule must know
    fpt = lambda N: smooth_flops_per_token(N, vocab=vocab, context=context, convention=conv,  # noqa: E731
                                           mixer=mixer, sparsity=sparsity, non_embedding=non_emb)
    N0, _ = law.frontier(C)
    lo, hi = np.log(np.asarray(N0) / 1e3), np.log(np.asarray(N0) * 1e3)
    obj = lambda x: law.loss(np.exp(x), C / fpt(np.exp(x)))  # noqa: E731
    N = np.exp(_golden_min(obj, lo, hi))
    D = C / fpt(N)
    return (float(N), float(D)) if np.ndim(N) == 0 else (N, D)


def _golden_min(f, lo, hi, iters: int = 90):
    """Vectorised golden-section search for the minimum of a unimodal f on [lo, hi] (elementwise)."""
    r = (math.sqrt(5) - 1) / 2
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    for _ in range(iters):
        x1, x2 = hi - r * (hi - lo), lo + r * (hi - lo)
        left = f(x1) < f(x2)          # the minimum lies in [lo, x2]
        hi = np.where(left, x2, hi)
        lo = np.where(left, lo, x1)
    return 0.5 * (lo + hi)


def plan_table(flops, law: str | Law = DEFAULT_LAW, *, convention: str | None = None,
               intervals: bool = True, level: float = 0.95, vocab: int = 50257, context: int = 2048):
    """Compute-optimal plans for many budgets at once: a DataFrame with one row per budget.

    Columns: flops, params, tokens, tokens_per_param, loss (if the law has a loss model), and
    params_lo/hi, tokens_lo/hi, loss_lo/hi when the law carries samples. Vectorised: 1e6 budgets
    take a fraction of a second.
    """
    import pandas as pd

    law = get_law(law)
    C = _budgets(flops, "flops")
    law.check_range(C)
    N, D = frontier(law, C, convention=convention, vocab=vocab, context=context)
    cols: dict[str, Any] = {"flops": C, "params": np.broadcast_to(N, C.shape),
                            "tokens": np.broadcast_to(D, C.shape)}
    cols["tokens_per_param"] = cols["tokens"] / cols["params"]
    if law.has_loss:
        cols["loss"] = np.broadcast_to(law.loss(N, D), C.shape)
    if intervals and law.has_uncertainty:
        for key, (lo, hi) in _frontier_intervals(law, C, convention, level, vocab, context).items():
            cols[f"{key}_lo"], cols[f"{key}_hi"] = lo, hi
    return pd.DataFrame(cols)


def _frontier_intervals(law: Law, C, convention, level, vocab, context) -> dict[str, tuple]:
    def fn(sample_law):
        N, D = frontier(sample_law, C, convention=convention, vocab=vocab, context=context)
        out = [N, D]
        if sample_law.has_loss:
            out.append(sample_law.loss(N, D))
        return np.stack([np.broadcast_to(x, np.shape(C)) for x in out])

    res = law.interval(fn, level)
    if res is None:
        return {}
    lo, hi = res
    keys = ["params", "tokens", "loss"][: lo.shape[0]]
    return {k: (lo[i], hi[i]) for i, k in enumerate(keys)}


def _budgets(x, what: str) -> np.ndarray:
    C = np.atleast_1d(np.asarray(x, dtype=float))
    if C.size == 0:
        raise ScalingError(f"{what}: no budget given")
    if not np.all(np.isfinite(C)):
        raise ScalingError(f"{what} must be finite numbers")
    if np.any(C <= 0):
        raise ScalingError(f"{what} must be positive")
    return C


# ---------------------------------------------------------------------------------------------
# hardware


@dataclass
class Hardware:
    """Where the plan is trained; turns FLOPs into GPU-hours, days, dollars, kWh and CO2."""

    accelerator: str = "h100"
    gpus: int | None = None
    mfu: float = 0.4
    price_per_gpu_hour: float | None = None
    pue: float | None = None
    grid_kg_per_kwh: float | None = None

    def _kw(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"mfu": self.mfu, "gpus": self.gpus, "price_per_gpu_hour": self.price_per_gpu_hour}
        if self.pue is not None:
            kw["pue"] = self.pue
        if self.grid_kg_per_kwh is not None:
            kw["grid_kg_per_kwh"] = self.grid_kg_per_kwh
        return kw

    def budget(self, flops: float) -> dict[str, Any]:
        from .hardware import budget
        return budget(flops, self.accelerator, **self._kw()).to_dict()

    def flops_for_gpu_hours(self, hours: float) -> float:
        from .hardware import flops_for_gpu_hours
        return float(flops_for_gpu_hours(hours, self.accelerator, mfu=self.mfu))

    def flops_for_dollars(self, dollars: float) -> float:
        from .hardware import flops_for_dollars
        return float(flops_for_dollars(dollars, self.accelerator, mfu=self.mfu,
                                       price_per_gpu_hour=self.price_per_gpu_hour))


# ---------------------------------------------------------------------------------------------
# the general query


def _vals(x, what) -> list[float | None]:
    if x is None:
        return [None]
    arr = np.atleast_1d(np.asarray(x, dtype=float))
    for v in arr:
        if not math.isfinite(v):
            raise ScalingError(f"{what}: {v} is not finite")
        if v <= 0:
            raise ScalingError(f"{what}: {v:g} must be positive")
    return [float(v) for v in arr]


def plan(flops=None, *, params=None, tokens=None, target_loss=None, gpu_hours=None, dollars=None,
         law: str | Law | None = None, convention: str | None = None, hardware: Hardware | None = None,
         shape: bool = False, vocab: int = 50257, context: int = 2048, level: float = 0.95,
         unique_tokens=None, inference_tokens=None, cost=None, flatness: float | None = None,
         mixer: str = "attention", sparsity: float = 0.0) -> list[Plan]:
    """Answer a planning query; each argument may be a number or a sequence (one Plan per value).

    Exactly what is given decides the question (see the module docstring). Giving a budget
    together with both a size and a token count that do not match it is an error, as are two
    kinds of budget at once.

    law: a name, a law or a fit/law JSON path; default ``chinchilla-2022`` (``muennighoff-2023``
        when ``unique_tokens`` is given).
    unique_tokens: the unique tokens available (data-constrained planning); at least one sequence
        of ``context`` tokens.
    inference_tokens: tokens the model will serve over its life (inference-aware planning).
    cost: a :class:`scaling.planning.CostModel` (training and inference accelerator, MFU, price) to
        weigh training against inference in dollars; built from ``hardware`` when not given.
    flatness: a relative loss tolerance (0.005): report the sizes within it of the best loss.
    mixer, sparsity: the architecture whose FLOPs per token count (``hyena``; a fraction of block
        weights held at zero). Under C = 6ND they change nothing but the meaning of N (non-zero
        parameters under sparsity); under ``convention="palm"`` or ``"chinchilla"`` attention pays for
        its context and Hyena for its FFTs. A sparsity law (``frantar-2024``, or a fit with a sparsity
        term) is evaluated at ``sparsity``; any other law is read as the same loss per non-zero parameter.
    """
    budgets = [("flops", flops), ("gpu_hours", gpu_hours), ("dollars", dollars)]
    given = [(k, v) for k, v in budgets if v is not None]
    if len(given) > 1:
        raise ScalingError("give one budget: " + " or ".join(f"--{k.replace('_', '-')}" for k, _ in given)
                           + ", not both")
    if flatness is not None:
        from .planning import _positive
        if not 0 < _positive(flatness, "flatness tolerance") < 1:
            raise ScalingError(f"flatness tolerance {flatness:g} must be a fraction below 1 (0.005 = 0.5%)")
    from .flops import MIXERS
    if mixer not in MIXERS:
        raise ScalingError(f"unknown mixer {mixer!r} (choose from {', '.join(MIXERS)})")
    try:
        sparsity = float(sparsity)
    except (TypeError, ValueError):
        raise ScalingError(f"sparsity must be a number in [0, 1): got {sparsity!r}") from None
    if not (math.isfinite(sparsity) and 0.0 <= sparsity < 1.0):
        raise ScalingError(f"sparsity must be in [0, 1): got {sparsity:g}")
    if (mixer != "attention" or sparsity) and (inference_tokens is not None or unique_tokens is not None):
        raise ScalingError("--mixer/--sparsity apply to compute-optimal plans; data-constrained and "
                           "inference-aware plans assume a dense attention model")
    if inference_tokens is not None:
        return _plan_inference(flops, params, tokens, target_loss, gpu_hours, dollars, law, convention, hardware,
                               cost, inference_tokens, unique_tokens, flatness)
    if unique_tokens is not None:
        return _plan_data_constrained(flops, params, tokens, target_loss, gpu_hours, dollars, law, convention,
                                      hardware, unique_tokens, context, level, flatness, shape, vocab)
    law_obj = get_law(DEFAULT_LAW if law is None else law)
    arch_notes = []
    if hasattr(law_obj, "at_sparsity"):   # a sparsity law L(S, N, D): the Chinchilla-form law at S
        law_obj = law_obj.at_sparsity(sparsity)
    elif sparsity:
        arch_notes.append(f"law {law_obj.name!r} has no sparsity term: N is read as non-zero parameters with "
                          f"the loss of a dense model of that size (a sparsity law such as frantar-2024 prices "
                          f"the sparsity)")
    conv = convention or law_obj.flops_convention
    arch = _arch(vocab, context, mixer, sparsity)
    if mixer != "attention" and conv == "6nd":
        arch_notes.append("under C = 6ND the FLOPs per token are 6 N whatever the mixer (N non-zero under "
                          "sparsity); --convention palm counts attention's context and Hyena's FFTs")
    if given and given[0][0] != "flops" and hardware is None:
        hardware = Hardware()
    if target_loss is not None and given:
        raise ScalingError("a budget and a --target-loss over-determine the plan: give one of them")
    if target_loss is not None and params is not None and tokens is not None:
        raise ScalingError("--target-loss with both --params and --tokens over-determines the plan")

    plans: list[Plan] = []
    budget_kind, budget_vals = (given[0][0], _vals(given[0][1], given[0][0])) if given else (None, [None])
    for bval in budget_vals:
        C_in = None
        if budget_kind == "flops":
            C_in = bval
        elif budget_kind == "gpu_hours":
            C_in = hardware.flops_for_gpu_hours(bval)
        elif budget_kind == "dollars":
            C_in = hardware.flops_for_dollars(bval)
        for N_in in _vals(params, "params"):
            for D_in in _vals(tokens, "tokens"):
                for L_in in ([None] if target_loss is None else _vals(target_loss, "target loss")):
                    plans.append(_plan_one(law_obj, conv, C_in, N_in, D_in, L_in, hardware, shape,
                                           arch, level, budget_kind, bval))
    for p in plans:
        if mixer != "attention" or sparsity:
            p.extra.update({"mixer": mixer, "sparsity": sparsity})
        p.warnings += [n for n in arch_notes if n not in p.warnings]
    if flatness is not None:
        _attach_flatness(plans, law_obj, flatness, None)
    return plans



# ---------------------------------------------------------------------------------------------
# past the compute-optimal plan: repeated data, inference demand, flatness (scaling.planning)


def _six_nd_only(law: Law, convention: str | None, what: str) -> None:
    conv = convention or law.flops_convention
    if conv != "6nd":
        raise ScalingError(f"{what} plans are made under C = 6ND; the {conv!r} FLOP convention is not supported here")


def _budget_value(kind: str, value: float, hardware: "Hardware | None") -> float:
    if kind == "flops":
        return value
    hw = hardware or Hardware()
    return hw.flops_for_gpu_hours(value) if kind == "gpu_hours" else hw.flops_for_dollars(value)


def _plan_data_constrained(flops, params, tokens, target_loss, gpu_hours, dollars, law, convention, hardware,
                           unique_tokens, context, level, flatness, shape, vocab) -> list[Plan]:
    from .planning import as_data_constrained, check_unique_tokens

    dlaw = as_data_constrained(DATACON_DEFAULT_LAW if law is None else law)
    _six_nd_only(dlaw, convention, "data-constrained")
    Us = [float(u) for u in check_unique_tokens(unique_tokens, context)]
    budgets = [("flops", flops), ("gpu_hours", gpu_hours), ("dollars", dollars)]
    given = [(k, v) for k, v in budgets if v is not None]
    if given and target_loss is not None:
        raise ScalingError("a budget and a --target-loss over-determine the plan: give one of them")
    notes = []
    if dlaw.meta.get("repetition_from"):
        notes.append(f"{dlaw.name}: the repetition constants R_D* = {dlaw.R_D_star:.4g} and R_N* = {dlaw.R_N_star:.4g} "
                     f"of {dlaw.meta['repetition_from']} are applied to this law's E, A, B, alpha, beta")
    chin = dlaw.chinchilla()
    plans: list[Plan] = []
    bkind, bvals = (given[0][0], _vals(given[0][1], given[0][0])) if given else (None, [None])
    for U in Us:
        for bval in bvals:
            C_in = None if bval is None else _budget_value(bkind, bval, hardware)
            for N in _vals(params, "params"):
                for D in _vals(tokens, "tokens"):
                    for L in ([None] if target_loss is None else _vals(target_loss, "target loss")):
                        with warnings.catch_warnings(record=True) as caught:
                            warnings.simplefilter("always", OutOfRangeWarning)
                            p = _datacon_one(dlaw, chin, U, C_in, N, D, L, bkind, bval)
                        p.warnings = [str(w.message) for w in caught if issubclass(w.category, OutOfRangeWarning)]
                        p.warnings += notes
                        if dlaw.has_uncertainty:
                            p.interval = _datacon_interval(dlaw, p, level)
                        if hardware is not None:
                            p.budget = hardware.budget(p.flops)
                        if bkind in ("gpu_hours", "dollars"):
                            p.extra[bkind] = bval
                        plans.append(p)
    if flatness is not None:
        _attach_flatness(plans, dlaw, flatness, "unique")
    if shape:
        for p in plans:
            p.shape = _shape(dlaw, "6nd", p.flops, p.params, p.tokens, _arch(vocab, context))
    return plans


def _datacon_one(dlaw, chin, U, C, N, D, L, bkind, bval) -> Plan:
    from .planning import data_constrained_flops_for_loss, data_constrained_plan

    if L is not None and C is None:
        if N is not None and D is not None:
            raise ScalingError("--target-loss with both --params and --tokens over-determines the plan")
        if N is not None:
            query = "target_loss+params+unique_tokens"
            D = float(dlaw.tokens_for_loss(N, L, U))
            if not math.isfinite(D):
                floor = float(dlaw.loss_floor(U, N))
                raise ScalingError(f"a model of {N:.3g} parameters never reaches loss {L:g} with {U:.3g} unique tokens "
                                   f"under {dlaw.name!r} (its loss tends to {floor:.4g} however long it trains)")
            C = 6.0 * N * D
        elif D is not None:
            raise ScalingError("--target-loss with --tokens and --unique-tokens is not supported; give --params "
                               "or neither")
        else:
            query = "target_loss+unique_tokens"
            C = data_constrained_flops_for_loss(dlaw, L, U)
    elif C is not None and N is None and D is None:
        query = f"{bkind}+unique_tokens"
    elif C is not None:
        if N is not None and D is not None:
            if abs(6.0 * N * D / C - 1) > OVERDETERMINED_RTOL:
                raise ScalingError(f"the budget {C:.4g} FLOPs does not match --params {N:.4g} and --tokens {D:.4g} "
                                   f"({6 * N * D:.4g} FLOPs under 6nd): give two of the three")
        elif N is not None:
            D = C / (6.0 * N)
        else:
            N = C / (6.0 * D)
        query = "point+unique_tokens"
    elif N is not None and D is not None:
        query = "point+unique_tokens"
        C = 6.0 * N * D
    else:
        raise ScalingError("with --unique-tokens give a budget (FLOPs, --gpu-hours or --dollars), --params and "
                           "--tokens, or --target-loss")
    dlaw.check_range(C)
    (opt,) = data_constrained_plan(C, U, dlaw, context=1)
    if query in ("point+unique_tokens", "target_loss+params+unique_tokens"):
        loss = float(dlaw.loss(N, D, U))
        frontier_info = {"params": opt.params, "tokens": opt.tokens, "tokens_per_param": opt.tokens_per_param,
                         "loss": opt.loss, "loss_gap": loss - opt.loss}
    else:
        N, D, loss = opt.params, opt.tokens, opt.loss
        frontier_info = None
    unc = chin.frontier(C)
    Lu = float(chin.loss(*unc))
    Ceq = float(chin.flops_for_loss(loss))
    dc = {"unique_tokens": U, "epochs": D / U, "effective_params": float(dlaw.effective_params(N, U)),
          "effective_tokens": float(dlaw.effective_tokens(D, U)),
          "loss_without_repetition": float(chin.loss(N, D)),
          "unconstrained": {"params": float(unc[0]), "tokens": float(unc[1]), "loss": Lu},
          "loss_gap": loss - Lu, "flops_equivalent": Ceq, "compute_efficiency": Ceq / C,
          "repetition": {"R_D_star": dlaw.R_D_star, "R_N_star": dlaw.R_N_star}}
    return Plan(law=dlaw.name, query=query, flops=float(C), params=float(N), tokens=float(D),
                tokens_per_param=float(D / N), loss=loss, flops_convention="6nd",
                params_convention=dlaw.params_convention, frontier=frontier_info, extra={"data_constrained": dc})


def _datacon_interval(dlaw, p: Plan, level: float):
    from .planning import data_constrained_frontier

    U = p.extra["data_constrained"]["unique_tokens"]
    fixed = p.query.startswith("point") or p.query.startswith("target_loss+params")

    def fn(s):
        if fixed:
            return np.array([p.params, p.tokens, float(s.loss(p.params, p.tokens, U))])
        n, d = data_constrained_frontier(s, p.flops, U, n_scan=33, tol=1e-9)
        return np.array([n, d, float(s.loss(n, d, U))])

    res = dlaw.interval(fn, level)
    if res is None:
        return None
    lo, hi = res
    out: dict[str, Any] = {"level": level}
    for i, k in enumerate(("params", "tokens", "loss")):
        if fixed and k != "loss":
            continue
        out[k] = {"lo": float(lo[i]), "hi": float(hi[i])}
    return out


def _cost_model(hardware: "Hardware | None", cost):
    from .planning import CostModel
    if cost is not None:
        if not isinstance(cost, CostModel):
            raise ScalingError("cost must be a scaling.planning.CostModel")
        return cost
    if hardware is None:
        return None
    return CostModel(accelerator=hardware.accelerator, mfu=hardware.mfu, price_per_gpu_hour=hardware.price_per_gpu_hour)


def _plan_inference(flops, params, tokens, target_loss, gpu_hours, dollars, law, convention, hardware, cost,
                    inference_tokens, unique_tokens, flatness) -> list[Plan]:
    from .planning import _inference_tokens, inference_optimal, inference_optimal_budget

    if unique_tokens is not None:
        raise ScalingError("--inference-tokens and --unique-tokens together are not supported yet: plan them separately")
    if params is not None or tokens is not None:
        raise ScalingError("inference-aware plans choose the size and the tokens: give --target-loss or a budget "
                           "(FLOPs or --dollars) with --inference-tokens, not --params/--tokens")
    if gpu_hours is not None:
        raise ScalingError("an inference-aware budget is total FLOPs or --dollars (training plus serving), "
                           "not --gpu-hours")
    law_obj = get_law(DEFAULT_LAW if law is None else law)
    _six_nd_only(law_obj, convention, "inference-aware")
    cm = _cost_model(hardware, cost)
    budgets = [("flops", flops), ("dollars", dollars)]
    given = [(k, v) for k, v in budgets if v is not None]
    if given and target_loss is not None:
        raise ScalingError("a budget and a --target-loss over-determine the plan: give one of them")
    if not given and target_loss is None:
        raise ScalingError("with --inference-tokens give a --target-loss or a budget (total FLOPs or --dollars)")
    Dinfs = [_inference_tokens(x) for x in np.atleast_1d(np.asarray(inference_tokens, dtype=float))]
    plans = []
    for Dinf in Dinfs:
        if target_loss is not None:
            items = [(inference_optimal(L, Dinf, law_obj, cost=cm), "target_loss+inference")
                     for L in _vals(target_loss, "target loss")]
        else:
            kind, vals = given[0]
            items = [(inference_optimal_budget(Dinf, law_obj, cost=cm,
                                               **({"total_flops": v} if kind == "flops" else {"dollars": v})),
                      f"{kind}+inference") for v in _vals(vals, kind)]
        for ip, query in items:
            d = ip.to_dict()
            extra = {"inference": {k: d[k] for k in ("objective", "inference_tokens", "train_flops", "inference_flops",
                                                     "total_flops", "chinchilla", "saving", "first_order_residual")
                                   if d.get(k) is not None}}
            if ip.cost is not None:
                extra["inference"]["cost"] = d["cost"]
            p = Plan(law=law_obj.name, query=query, flops=ip.train_flops, params=ip.params, tokens=ip.tokens,
                     tokens_per_param=ip.tokens_per_param, loss=ip.loss, flops_convention="6nd",
                     params_convention=law_obj.params_convention, extra=extra)
            if hardware is not None:
                p.budget = hardware.budget(ip.train_flops)
            plans.append(p)
    if flatness is not None:
        _attach_flatness(plans, law_obj, flatness, None)
    return plans


def _attach_flatness(plans: list[Plan], law: Law, tol: float, unique: str | None) -> None:
    """extra["flatness"] (and extra["distribution"] for a law with samples) at each plan's budget."""
    from .planning import flatness, plan_distribution

    if not law.has_loss:
        raise ScalingError(f"--flatness needs a law with a loss model; {law.name!r} ({law.form}) has none")
    for p in plans:
        if p.flops_convention != "6nd":
            raise ScalingError("--flatness is computed under C = 6ND; drop --convention")
        U = p.extra.get("data_constrained", {}).get("unique_tokens") if unique else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfRangeWarning)
            p.extra["flatness"] = flatness(law, p.flops, tol, unique_tokens=U)
            if law.has_uncertainty:
                p.extra["distribution"] = plan_distribution(law, p.flops, tolerance=tol, unique_tokens=U).to_dict()


def _arch(vocab: int = 50257, context: int = 2048, mixer: str = "attention", sparsity: float = 0.0) -> dict:
    """What the FLOPs per token depend on besides N: passed as ``**arch`` to :func:`frontier`."""
    return {"vocab": vocab, "context": context, "mixer": mixer, "sparsity": sparsity}


def _native(law: Law, conv: str, arch: dict) -> bool:
    """Whether the law's closed forms apply: its own convention, and either C = 6ND (where N is the
    mixer's parameters, non-zero ones under sparsity, and nothing else matters) or dense attention."""
    return conv == law.flops_convention and (conv == "6nd" or (arch["mixer"] == "attention"
                                                                and not arch["sparsity"]))


def _flops_per_token(law: Law, conv: str, N, arch: dict):
    if conv == "6nd":
        return 6.0 * np.asarray(N, dtype=float)
    from .shapes import smooth_flops_per_token
    return smooth_flops_per_token(N, convention=conv, non_embedding=law.params_convention == "non_embedding", **arch)


def _params_for_tokens_at_budget(law, conv, C, D, arch: dict):
    if conv == "6nd":
        return C / (6.0 * D)
    # flops_per_token(N) * D = C, monotone in N: bisect in log space
    from .laws.base import brentq_vec
    return float(brentq_vec(lambda N: _flops_per_token(law, conv, N, arch) * D - C,
                            np.array([1e3]), np.array([1e16]))[0])


def _plan_one(law: Law, conv: str, C, N, D, L, hardware, want_shape, arch: dict, level,
              budget_kind, budget_value) -> Plan:
    native = _native(law, conv, arch)
    query: str
    frontier_info = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OutOfRangeWarning)
        if L is not None:
            if law.irreducible_loss is not None and L <= law.irreducible_loss:
                raise ScalingError(f"target loss {L:g} is at or below the irreducible loss E = "
                                   f"{law.irreducible_loss:g} of law {law.name!r}: no amount of compute reaches it")
            if N is not None:
                query = "target_loss+params"
                D = float(law.tokens_for_loss(N, L))
                if not math.isfinite(D):
                    floor = float(law.loss(N, 1e30))
                    raise ScalingError(f"a model of {N:.3g} parameters never reaches loss {L:g} under {law.name!r} "
                                       f"(its loss tends to {floor:.4g} with infinite data); choose a larger size")
            elif D is not None:
                query = "target_loss+tokens"
                if not hasattr(law, "params_for_loss"):
                    raise ScalingError(f"law {law.name!r} cannot solve for the size from tokens and a target loss")
                N = float(law.params_for_loss(D, L))
                if not math.isfinite(N):
                    floor = float(law.loss(1e30, D))
                    raise ScalingError(f"{D:.3g} tokens never reach loss {L:g} under {law.name!r} (the loss tends "
                                       f"to {floor:.4g} with infinite parameters); use more tokens")
            else:
                query = "target_loss"
                C = float(law.flops_for_loss(L))
                if not native:
                    C = float(_flops_for_loss_numeric(law, conv, L, C, arch))
                N, D = frontier(law, C, convention=conv, **arch)
            if C is None:
                C = float(_flops_per_token(law, conv, N, arch) * D)
        elif C is not None:
            if N is not None and D is not None:
                C_nd = float(_flops_per_token(law, conv, N, arch) * D)
                if abs(C_nd / C - 1) > OVERDETERMINED_RTOL:
                    raise ScalingError(f"the budget {C:.4g} FLOPs does not match --params {N:.4g} and --tokens "
                                       f"{D:.4g} ({C_nd:.4g} FLOPs under {conv}): give two of the three")
                query = "flops+params+tokens"
            elif N is not None:
                query = "flops+params"
                D = C / float(_flops_per_token(law, conv, N, arch))
            elif D is not None:
                query = "flops+tokens"
                N = float(_params_for_tokens_at_budget(law, conv, C, D, arch))
            else:
                query = budget_kind or "flops"
                N, D = frontier(law, C, convention=conv, **arch)
        elif N is not None and D is not None:
            query = "params+tokens"
            C = float(_flops_per_token(law, conv, N, arch) * D)
        elif N is not None:
            query = "params"
            C = float(law.flops_for_params(N)) if native else _invert_frontier(law, conv, N, 0, arch)
            D = float(frontier(law, C, convention=conv, **arch)[1])
        elif D is not None:
            query = "tokens"
            C = float(law.flops_for_tokens(D)) if native else _invert_frontier(law, conv, D, 1, arch)
            N = float(frontier(law, C, convention=conv, **arch)[0])
        else:
            raise ScalingError("nothing to plan: give a budget (FLOPs, --gpu-hours or --dollars), "
                               "--params, --tokens or --target-loss")
        C, N, D = float(C), float(N), float(D)
        law.check_range(C)
        loss = float(law.loss(N, D)) if law.has_loss else None
        if loss is None and getattr(law, "has_frontier_loss", False) and query in (
                "flops", "gpu_hours", "dollars", "params", "tokens", "target_loss"):
            loss = float(law.loss_at_frontier(C))  # an allocation law knows the loss on its frontier only

        # how far an off-frontier point is from the optimum at its own budget
        if query in ("params+tokens", "flops+params", "flops+tokens", "flops+params+tokens",
                     "target_loss+params", "target_loss+tokens"):
            No, Do = frontier(law, C, convention=conv, **arch)
            frontier_info = {"params": float(No), "tokens": float(Do), "tokens_per_param": float(Do / No)}
            if law.has_loss:
                Lo = float(law.loss(No, Do))
                frontier_info["loss"] = Lo
                frontier_info["loss_gap"] = loss - Lo
                try:
                    C_eq = float(law.flops_for_loss(loss)) if loss > (law.irreducible_loss or 0) else float("nan")
                    frontier_info["compute_efficiency"] = C_eq / C  # optimal compute for this loss / compute used
                except ScalingError:
                    pass

    plan_obj = Plan(law=law.name, query=query, flops=C, params=N, tokens=D, tokens_per_param=D / N, loss=loss,
                    flops_convention=conv, params_convention=law.params_convention, frontier=frontier_info,
                    warnings=[str(w.message) for w in caught if issubclass(w.category, OutOfRangeWarning)])
    if budget_kind in ("gpu_hours", "dollars"):
        plan_obj.extra[budget_kind] = budget_value
    if law.has_uncertainty:
        plan_obj.interval = _plan_interval(law, conv, query, C, N, D, L, arch, level)
    if want_shape:
        plan_obj.shape = _shape(law, conv, C, N, D, arch)
    if hardware is not None:
        plan_obj.budget = hardware.budget(C)
    return plan_obj


def _invert_frontier(law, conv, value, which, arch) -> float:
    """The budget whose numeric frontier (non-native convention) has N (which=0) or D (which=1) = value."""
    from .laws.base import brentq_vec
    f = lambda C: np.log(np.asarray(frontier(law, C, convention=conv, **arch)[which]) / value)  # noqa: E731
    return float(brentq_vec(f, np.array([1e6]), np.array([1e35]))[0])


def _flops_for_loss_numeric(law, conv, L, C0, arch) -> float:
    from .laws.base import brentq_vec

    def gap(C):
        N, D = frontier(law, C, convention=conv, **arch)
        return law.loss(N, D) - L
    return float(brentq_vec(gap, np.array([C0 / 100]), np.array([C0 * 100]))[0])


def _plan_interval(law, conv, query, C, N, D, L, arch, level):
    """Percentile intervals over the law's samples, holding fixed what the user fixed."""
    def fn(s: Law):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if query in ("flops", "gpu_hours", "dollars"):
                n, d = frontier(s, C, convention=conv, **arch)
            elif query == "target_loss":
                try:
                    c = float(s.flops_for_loss(L))
                    n, d = frontier(s, c, convention=conv, **arch)
                except ScalingError:
                    n, d = np.nan, np.nan
            elif query == "params":
                c = float(s.flops_for_params(N)) if _native(s, conv, arch) else np.nan
                n, d = N, (float(s.frontier(c)[1]) if np.isfinite(c) else np.nan)
            elif query == "tokens":
                c = float(s.flops_for_tokens(D)) if _native(s, conv, arch) else np.nan
                n, d = (float(s.frontier(c)[0]) if np.isfinite(c) else np.nan), D
            elif query == "target_loss+params":
                n, d = N, float(s.tokens_for_loss(N, L))
            elif query == "target_loss+tokens":
                n, d = float(s.params_for_loss(D, L)), D
            else:  # N and D fixed: only the loss is uncertain
                n, d = N, D
            loss = s.loss(n, d) if s.has_loss and np.isfinite(n) and np.isfinite(d) else np.nan
            return np.array([n, d, loss], dtype=float)

    res = law.interval(fn, level)
    if res is None:
        return None
    lo, hi = res
    out = {"level": level}
    for i, k in enumerate(("params", "tokens", "loss")):
        if np.isfinite(lo[i]) and np.isfinite(hi[i]) and not (k == "loss" and not law.has_loss):
            out[k] = {"lo": float(lo[i]), "hi": float(hi[i])}
    return out


def _shape(law, conv, C, N, D, arch: dict) -> dict[str, Any]:
    """A concrete model shape for N, its snapping error, and the tokens it gets from the same budget
    (under sparsity N counts non-zero parameters: the dense shape is searched so that its non-zero
    count is N)."""
    import dataclasses

    from .shapes import shape_for_params

    S, mixer = arch.get("sparsity", 0.0), arch.get("mixer", "attention")
    non_emb = law.params_convention == "non_embedding"
    res = shape_for_params(N, vocab=arch["vocab"], context=arch["context"], mixer=mixer, non_embedding=non_emb)
    s = res.shape
    if S:
        def nonzero(shape):
            return float(dataclasses.replace(shape, sparsity=S).param_counts()["nonzero"])
        target = N
        for _ in range(4):   # fixed point: scale the dense target by the snapped shape's non-zero ratio
            target *= N / nonzero(s)
            s = shape_for_params(target, vocab=arch["vocab"], context=arch["context"], mixer=mixer,
                                 non_embedding=non_emb).shape
        s = dataclasses.replace(s, sparsity=S)
        res = dataclasses.replace(res, shape=s, achieved=nonzero(s), rel_error=nonzero(s) / N - 1)
    d = s.to_dict()
    fpt = float(s.flops_per_token(conv if conv in ("6nd", "kaplan", "chinchilla", "palm") else "6nd"))
    d.update({"params_achieved": float(res.achieved), "snap_rel_error": float(res.rel_error),
              "flops_per_token": fpt, "tokens_at_budget": C / fpt})
    return d


def format_table(plans: Sequence[Plan]) -> str:
    """A plain-text table, one row per plan, with the columns that carry information."""
    from .units import si

    def lohi(p: Plan, k: str, f=si):
        iv = (p.interval or {}).get(k)
        return f"{f(iv['lo'])}-{f(iv['hi'])}" if iv else ""

    cols: list[tuple[str, Any]] = [
        ("FLOPs", lambda p: f"{p.flops:.3g}"),
        ("params", lambda p: si(p.params)),
        ("tokens", lambda p: si(p.tokens)),
        ("tok/param", lambda p: f"{p.tokens_per_param:.1f}"),
    ]
    if any(p.loss is not None for p in plans):
        cols.append(("loss", lambda p: "-" if p.loss is None else f"{p.loss:.4f}"))
    if any(p.interval for p in plans):
        lvl = int(round(100 * next(p.interval for p in plans if p.interval)["level"]))
        cols += [(f"params {lvl}%", lambda p: lohi(p, "params")), (f"tokens {lvl}%", lambda p: lohi(p, "tokens"))]
        if any((p.interval or {}).get("loss") for p in plans):
            cols.append((f"loss {lvl}%", lambda p: lohi(p, "loss", lambda v: f"{v:.3f}")))
    def dc(p: Plan):
        return p.extra.get("data_constrained")

    def inf(p: Plan):
        return p.extra.get("inference")

    if any(dc(p) for p in plans):
        cols += [("unique", lambda p: si(dc(p)["unique_tokens"]) if dc(p) else ""),
                 ("epochs", lambda p: f"{dc(p)['epochs']:.3g}" if dc(p) else ""),
                 ("unconstr. N", lambda p: si(dc(p)["unconstrained"]["params"]) if dc(p) else ""),
                 ("unconstr. loss", lambda p: f"{dc(p)['unconstrained']['loss']:.4f}" if dc(p) else ""),
                 ("vs unconstr.", lambda p: f"+{dc(p)['loss_gap']:.4f}" if dc(p) else ""),
                 ("compute eff.", lambda p: f"{100 * dc(p)['compute_efficiency']:.1f}%" if dc(p) else "")]
    if any(inf(p) for p in plans):
        dollars = any("cost" in (inf(p) or {}) for p in plans)
        cols += [("inference tok", lambda p: si(inf(p)["inference_tokens"]) if inf(p) else ""),
                 ("total FLOPs", lambda p: f"{inf(p)['total_flops']:.3g}" if inf(p) else ""),
                 ("Chinchilla N", lambda p: si(inf(p)["chinchilla"]["params"]) if inf(p) else ""),
                 ("Chinchilla total", lambda p: f"{inf(p)['chinchilla']['total_flops']:.3g}" if inf(p) else "")]
        if dollars:
            cols += [("total $", lambda p: si(inf(p)["cost"]["total_usd"]) if inf(p) and "cost" in inf(p) else ""),
                     ("Chinchilla $", lambda p: si(inf(p)["chinchilla"]["total_usd"])
                      if inf(p) and "total_usd" in inf(p)["chinchilla"] else "")]
        cols.append(("saving", lambda p: f"{100 * inf(p)['saving']:.1f}%" if inf(p) else ""))
    if any(p.frontier for p in plans):
        cols.append(("optimal N @C", lambda p: si(p.frontier["params"]) if p.frontier else ""))
        if any(p.frontier and "loss_gap" in p.frontier for p in plans):
            cols.append(("loss gap", lambda p: f"+{p.frontier['loss_gap']:.4f}" if p.frontier and "loss_gap" in p.frontier else ""))
    if any(p.shape for p in plans):
        cols.append(("shape (L x d, heads)", lambda p: f"{p.shape['n_layer']} x {p.shape['d_model']}, {p.shape['n_head']}"
                     if p.shape else ""))
        cols.append(("snap", lambda p: f"{100 * p.shape['snap_rel_error']:+.1f}%" if p.shape else ""))
    if any(p.budget for p in plans):
        b0 = next(p.budget for p in plans if p.budget)
        cols += [("GPU-hours", lambda p: si(p.budget["gpu_hours"])),
                 (f"days@{b0['gpus']}" if b0.get("gpus") else "days@1", lambda p: f"{p.budget['days']:.3g}"),
                 ("cost $", lambda p: si(p.budget["cost_usd"])),
                 ("MWh", lambda p: f"{p.budget['energy_kwh'] / 1e3:.3g}"),
                 ("t CO2e", lambda p: f"{p.budget['co2_kg'] / 1e3:.3g}")]
    rows = [[name for name, _ in cols]] + [[f(p) for _, f in cols] for p in plans]
    widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    p0 = plans[0]
    params_conv = p0.params_convention
    if p0.extra.get("sparsity") and params_conv == "total":
        params_conv = "non-zero"
    head = f"law: {p0.law}   FLOPs convention: {p0.flops_convention}   params: {params_conv}"
    if p0.extra.get("mixer"):
        head += f"   mixer: {p0.extra['mixer']}" + (f", {100 * p0.extra['sparsity']:g}% sparse"
                                                    if p0.extra.get("sparsity") else "")
    if p0.budget:
        b = p0.budget
        head += f"\nhardware: {b['accelerator']} at {100 * b['mfu']:.0f}% MFU"
        head += f", {b['gpus']} GPUs" if b.get("gpus") else "; days on one GPU (--gpus N for wall-clock days on N)"
    if inf(p0):
        i0 = inf(p0)
        if "cost" in i0:
            c = i0["cost"]
            head += (f"\nobjective: dollars (training {c['train']['accelerator']} at {100 * c['train']['mfu']:.0f}% MFU, "
                     f"${c['train']['price_per_gpu_hour']:g}/GPU-h; inference {c['inference']['accelerator']} at "
                     f"{100 * c['inference']['mfu']:.0f}% MFU, ${c['inference']['price_per_gpu_hour']:g}/GPU-h)")
        else:
            head += "\nobjective: training 6*N*D + inference 2*N*D_inf FLOPs; FLOPs column = training FLOPs"
    body = head + "\n" + "\n".join(lines)
    tail = [line for p in plans for line in _beyond_lines(p)]
    return body + ("\n" + "\n".join(tail) if tail else "")


def _beyond_lines(p: Plan) -> list[str]:
    """The flatness and distribution reports under the table."""
    from .units import si

    out = []
    f = p.extra.get("flatness")
    if f:
        out.append(f"at {f['flops']:.3g} FLOPs{' with ' + si(f['unique_tokens']) + ' unique tokens' if f.get('unique_tokens') else ''}: "
                   f"sizes within {100 * f['tolerance']:.3g}% of the best loss ({f['loss_best']:.4f} at {si(f['params_best'])}): "
                   f"{si(f['params_lo'])} .. {si(f['params_hi'])} ({f['ratio_lo']:.2f}x .. {f['ratio_hi']:.2f}x the optimum; "
                   f"{si(f['tokens_at_params_hi'])} .. {si(f['tokens_at_params_lo'])} tokens)")
        pen = ", ".join(f"{float(k):.3g}x: +{100 * v:.2f}%" for k, v in f["penalty"].items())
        out.append(f"  loss penalty of a size k x the optimum: {pen}")
    d = p.extra.get("distribution")
    if d:
        pc = d["percentiles"]
        keys = [k for k in ("2.5", "25", "50", "75", "97.5") if k in pc["params"]]
        out.append(f"  over {d['n_samples']} samples of the law, percentiles {' / '.join(keys)}:")
        out.append("    N_opt: " + " / ".join(si(pc["params"][k]) for k in keys))
        out.append("    D_opt: " + " / ".join(si(pc["tokens"][k]) for k in keys))
        out.append("    loss:  " + " / ".join(f"{pc['loss'][k]:.4f}" for k in keys))
        out.append(f"  expected loss penalty of training the point estimate's {si(d['point']['params'])}: "
                   f"{d['expected_penalty']:.4f} nats; the size minimising the expected loss: "
                   f"{si(d['robust']['params'])} (penalty {d['robust']['expected_penalty']:.4f})")
    return out


from ._callable import make_callable  # noqa: E402

make_callable(__name__, "plan")  # scaling.plan(...) calls plan() even when it resolves to this module
