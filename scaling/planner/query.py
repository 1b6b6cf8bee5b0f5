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

Past the compute-optimal plan: ``unique_tokens=U`` (repeated data, :mod:`.constrained`),
``inference_tokens=D_inf`` (serving demand, :mod:`.inference`), ``flatness=0.005`` (the sizes
within 0.5% of the best loss, and for a law with samples the distribution of the optimum,
:mod:`.uncertainty`). Each returns :class:`Plan` objects, built once.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings
from typing import Any

import numpy as np

from ..errors import OutOfRangeWarning, ScalingError
from ..flops import CONVENTIONS, MIXERS
from ..hardware import Hardware, SparseExecution
from ..laws import DEFAULT_LAW, Law, get_law
from ..laws.base import percentile_interval
from ..laws.moe import GRANULARITIES, FineGrainedMoELaw, check_granularity
from ..shapes import smooth_block_linear_share
from ..sparsity import format_pattern, parse_pattern, resolve_sparsity
from ._checks import OVERDETERMINED_RTOL, positive, values
from .constrained import plan_data_constrained
from .frontier import arch as _arch
from .frontier import (
    flops_for_loss_numeric,
    flops_per_token,
    frontier,
    invert_frontier,
    native,
    params_for_tokens_at_budget,
    plan_shape,
    sample_frontiers,
)
from .inference import plan_inference
from .result import Flag, Interval, Plan
from .uncertainty import flatness_extra


def plan(
    flops=None,
    *,
    params=None,
    tokens=None,
    target_loss=None,
    gpu_hours=None,
    dollars=None,
    law: str | Law | None = None,
    convention: str | None = None,
    hardware: Hardware | None = None,
    shape: bool = False,
    vocab: int = 50257,
    context: int = 2048,
    level: float = 0.95,
    unique_tokens=None,
    inference_tokens=None,
    cost: Hardware | None = None,
    flatness: float | None = None,
    mixer: str = "attention",
    sparsity: float | None = 0.0,
    granularity: float | None = None,
    pattern: str | None = None,
) -> list[Plan]:
    """Answer a planning query; each argument may be a number or a sequence (one Plan per value).

    Exactly what is given decides the question:

    - a budget (``flops``, ``gpu_hours`` or ``dollars``): the compute-optimal size and tokens;
    - ``params`` (or ``tokens``): the budget for which that size (token count) is compute-optimal;
    - ``target_loss``: the least compute that reaches it; with ``params`` (``tokens``) the tokens
      (size) that reach it;
    - a budget and ``params`` (or ``tokens``): the other one from C = flops_per_token x D;
    - ``params`` and ``tokens``: the law there, and how far it is from the frontier at its budget.

    Giving a budget together with both a size and a token count that do not match it is an error,
    as are two kinds of budget at once.

    law: a name, a law or a fit/law JSON path; default ``chinchilla-2022`` (``muennighoff-2023``
        when ``unique_tokens`` is given).
    convention: the FLOP convention (``6nd``, ``kaplan``, ``chinchilla``, ``palm``); default the law's.
    hardware: a :class:`scaling.hardware.Hardware` (accelerator, GPUs, MFU, price, PUE, grid) that
        prices each plan (``Plan.budget``) and converts ``gpu_hours`` and ``dollars`` to FLOPs.
    shape: also find a concrete model shape (``vocab``, ``context``).
    level: the interval level, when the law carries samples.
    unique_tokens: the unique tokens available (data-constrained planning); at least one sequence
        of ``context`` tokens.
    inference_tokens: tokens the model will serve over its life (inference-aware planning).
    cost: a :class:`scaling.hardware.Hardware` with the serving side (``inference_mfu``, ...) to
        weigh training against inference in dollars; ``hardware`` stands in for it when not given.
    flatness: a relative loss tolerance (0.005): report the sizes within it of the best loss.
    mixer, sparsity: the architecture whose FLOPs per token count (``hyena``; a fraction of block
        weights held at zero). Under C = 6ND they change nothing but the meaning of N (non-zero
        parameters under sparsity); under ``convention="palm"`` or ``"chinchilla"`` attention pays for
        its context and Hyena for its FFTs. A sparsity law (``frantar-2024``, or a fit with a sparsity
        term) is evaluated at ``sparsity``; any other law is read as the same loss per non-zero parameter.
    pattern: where the zeros sit: None (unstructured) or ``"N:M"`` (``"2:4"``: N non-zero weights in
        every group of M, Mishra et al. 2021, arXiv:2104.08378); sets ``sparsity = 1 - N/M`` when
        ``sparsity`` is 0 or None, and must agree with it otherwise. The loss and the FLOP count do
        not depend on it; the hardware does: with ``hardware``, a sparse plan is priced as it runs
        (:class:`scaling.hardware.SparseExecution`: unstructured masks at the dense model's cost, 2:4 on
        sparse tensor cores at ``hardware.sparse_efficiency`` of the vendor's sparse peak), and each
        sparse plan carries the compute-optimal dense plans at the same FLOPs and at the same GPU-hours
        (``Plan.dense``; at the same loss for a target loss).
    granularity: the MoE granularity G = d_ff / d_expert (at least 1) at which a fine-grained MoE law
        (``krajewski-2024``, Krajewski et al. 2024, arXiv:2402.07871) plans, instead of its
        compute-optimal G among 1..64; an error with a law that has no granularity term.

    Returns a list of :class:`Plan` (immutable: ``summary()``, ``conf_int()``, ``to_dict()``).
    """
    budgets = [("flops", flops), ("gpu_hours", gpu_hours), ("dollars", dollars)]
    given = [(k, v) for k, v in budgets if v is not None]
    if len(given) > 1:
        raise ScalingError(
            "give one budget: " + " or ".join(f"--{k.replace('_', '-')}" for k, _ in given) + ", not both"
        )
    if flatness is not None:
        if not 0 < positive(flatness, "flatness tolerance") < 1:
            raise ScalingError(f"flatness tolerance {flatness:g} must be a fraction below 1 (0.005 = 0.5%)")
    if mixer not in MIXERS:
        raise ScalingError(f"unknown mixer {mixer!r} (choose from {', '.join(MIXERS)})")
    try:
        sparsity = 0.0 if sparsity is None else float(sparsity)
    except (TypeError, ValueError):
        raise ScalingError(f"sparsity must be a number in [0, 1): got {sparsity!r}") from None
    if not (math.isfinite(sparsity) and 0.0 <= sparsity < 1.0):
        raise ScalingError(f"sparsity must be in [0, 1): got {sparsity:g}")
    pattern = None if parse_pattern(pattern) is None else format_pattern(pattern)
    sparsity = resolve_sparsity(sparsity, pattern)
    if hardware is not None and sparsity:
        hardware.sparse(sparsity, 1.0, pattern)  # the accelerator runs the pattern (one-line error if not)
    if (mixer != "attention" or sparsity) and (inference_tokens is not None or unique_tokens is not None):
        raise ScalingError(
            "--mixer/--sparsity apply to compute-optimal plans; data-constrained and "
            "inference-aware plans assume a dense attention model"
        )
    if granularity is not None and (inference_tokens is not None or unique_tokens is not None):
        raise ScalingError(
            "--granularity applies to compute-optimal plans of a fine-grained MoE law; data-constrained "
            "and inference-aware plans assume a dense model"
        )
    flatness_of = (
        None if flatness is None else (lambda law_, C, U, conv="6nd": flatness_extra(law_, C, flatness, U, conv))
    )
    if inference_tokens is not None:
        return plan_inference(
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
            flatness_of,
        )
    if unique_tokens is not None:
        return plan_data_constrained(
            flops,
            params,
            tokens,
            target_loss,
            gpu_hours,
            dollars,
            law,
            convention,
            hardware,
            unique_tokens,
            context,
            level,
            shape,
            vocab,
            flatness_of,
        )
    law_obj = get_law(DEFAULT_LAW if law is None else law)
    arch_notes: list[str] = []
    if granularity is not None:
        law_obj = _at_granularity(law_obj, granularity, arch_notes)
    if hasattr(law_obj, "at_sparsity"):  # a sparsity law L(S, N, D): the Chinchilla-form law at S
        if pattern is not None:
            arch_notes.append(
                f"the loss of the {pattern} pattern is {law_obj.name}'s at sparsity {sparsity:g}, as if the zeros "
                f"were unstructured: an assumption unless the law was fitted on {pattern} runs"
            )
        law_obj = law_obj.at_sparsity(sparsity)
    elif sparsity:
        arch_notes.append(
            f"law {law_obj.name!r} has no sparsity term: N is read as non-zero parameters with "
            f"the loss of a dense model of that size (a sparsity law such as frantar-2024 prices "
            f"the sparsity)"
        )
    conv = convention or law_obj.flops_convention
    a = _arch(vocab, context, mixer, sparsity)
    if mixer != "attention" and conv == "6nd":
        arch_notes.append(
            "under C = 6ND the FLOPs per token are 6 N whatever the mixer (N non-zero under "
            "sparsity); --convention palm counts attention's context and Hyena's FFTs"
        )
    if given and given[0][0] != "flops" and hardware is None:
        hardware = Hardware()
    sparse_of = None
    if sparsity and hardware is not None:
        hw_ = hardware

        def sparse_of(N: float) -> SparseExecution:
            return hw_.sparse(sparsity, _block_linear_share(law_obj, conv, N, a), pattern)

    if target_loss is not None and given:
        raise ScalingError("a budget and a --target-loss over-determine the plan: give one of them")
    if target_loss is not None and params is not None and tokens is not None:
        raise ScalingError("--target-loss with both --params and --tokens over-determines the plan")

    plans: list[Plan] = []
    budget_kind, budget_vals = (given[0][0], values(given[0][1], given[0][0])) if given else (None, [None])

    def one(C, N, D, L, bval) -> Plan:
        return _plan_one(
            law_obj,
            conv,
            C,
            N,
            D,
            L,
            hardware,
            shape,
            a,
            level,
            budget_kind,
            bval,
            arch_notes,
            flatness_of,
            sparse_of,
            pattern,
        )

    for bval in budget_vals:
        C_in = None
        if budget_kind == "flops":
            C_in = bval
        elif budget_kind == "gpu_hours":
            assert hardware is not None and bval is not None
            C_in = hardware.flops_for_gpu_hours(bval)
        elif budget_kind == "dollars":
            assert hardware is not None and bval is not None
            C_in = hardware.flops_for_dollars(bval)
        for N_in in values(params, "params"):
            for D_in in values(tokens, "tokens"):
                for L_in in [None] if target_loss is None else values(target_loss, "target loss"):
                    if budget_kind in ("gpu_hours", "dollars") and sparse_of is not None:
                        assert C_in is not None
                        p = _at_sparse_cost(functools.partial(one, N=N_in, D=D_in, L=L_in, bval=bval), C_in)
                    else:
                        p = one(C_in, N_in, D_in, L_in, bval)
                    plans.append(p)
    if sparse_of is not None:
        dense_kw = dict(
            law=law,
            convention=convention,
            hardware=hardware,
            shape=shape,
            vocab=vocab,
            context=context,
            level=level,
            mixer=mixer,
            granularity=granularity,
        )
        plans = [dataclasses.replace(p, dense=_dense_plans(p, dense_kw)) for p in plans]
    return plans


def _block_linear_share(law: Law, conv: str, N: float, arch: dict) -> float:
    """The share of a size-N sparse model's counted FLOPs in its masked block matmuls (the smooth
    shape rule; what a sparse kernel can speed up)."""
    return float(
        smooth_block_linear_share(
            N,
            vocab=arch["vocab"],
            context=arch["context"],
            convention=conv if conv in CONVENTIONS else "6nd",
            mixer=arch["mixer"],
            sparsity=arch["sparsity"],
            non_embedding=law.params_convention == "non_embedding",
        )
    )


def _at_sparse_cost(one, C_dense_rate: float) -> Plan:
    """The sparse plan a GPU-hour (or dollar) budget buys: the FLOPs C with C x time_factor(N(C)) =
    the FLOPs the budget buys at the dense rate. time_factor moves slowly with N (the block share of
    the FLOPs), so the fixed point converges in a few steps."""
    C = C_dense_rate
    for _ in range(60):
        p = one(C)
        assert p.budget is not None and "sparse" in p.budget
        C_next = C_dense_rate / p.budget["sparse"]["time_factor"]
        if abs(C_next / C - 1.0) < 1e-13:
            return one(C_next)
        C = C_next
    raise ScalingError("the sparse plan of this GPU-hour budget did not converge")  # pragma: no cover


def _dense_plans(p: Plan, kw: dict) -> dict[str, Plan]:
    """The compute-optimal dense plans a sparse plan is compared with: at the same FLOPs and at the
    same GPU-hours (its FLOPs x time factor at the dense rate); at the same loss for a target loss."""
    assert p.budget is not None
    if p.query == "target_loss" and p.loss is not None:
        return {"same_loss": plan(target_loss=p.loss, **kw)[0]}
    factor = p.budget["sparse"]["time_factor"]
    return {"same_flops": plan(p.flops, **kw)[0], "same_gpu_hours": plan(p.flops * factor, **kw)[0]}


def _plan_one(
    law: Law,
    conv: str,
    C,
    N,
    D,
    L,
    hardware,
    want_shape,
    arch: dict,
    level,
    budget_kind,
    budget_value,
    arch_notes: list[str],
    flatness_of,
    sparse_of=None,
    pattern: str | None = None,
) -> Plan:
    """One compute-optimal (or off-frontier) plan: what is given decides what is solved for."""
    native_ = native(law, conv, arch)
    query: str
    frontier_info = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", OutOfRangeWarning)
        if L is not None:
            if law.irreducible_loss is not None and L <= law.irreducible_loss:
                raise ScalingError(
                    f"target loss {L:g} is at or below the irreducible loss E = "
                    f"{law.irreducible_loss:g} of law {law.name!r}: no amount of compute reaches it"
                )
            if N is not None:
                query = "target_loss+params"
                D = float(law.tokens_for_loss(N, L))
                if not math.isfinite(D):
                    floor = float(law.loss(N, 1e30))
                    raise ScalingError(
                        f"a model of {N:.3g} parameters never reaches loss {L:g} under {law.name!r} "
                        f"(its loss tends to {floor:.4g} with infinite data); choose a larger size"
                    )
            elif D is not None:
                query = "target_loss+tokens"
                if not hasattr(law, "params_for_loss"):
                    raise ScalingError(f"law {law.name!r} cannot solve for the size from tokens and a target loss")
                N = float(law.params_for_loss(D, L))
                if not math.isfinite(N):
                    floor = float(law.loss(1e30, D))
                    raise ScalingError(
                        f"{D:.3g} tokens never reach loss {L:g} under {law.name!r} (the loss tends "
                        f"to {floor:.4g} with infinite parameters); use more tokens"
                    )
            else:
                query = "target_loss"
                C = float(law.flops_for_loss(L))
                if not native_:
                    C = float(flops_for_loss_numeric(law, conv, L, C, arch))
                N, D = frontier(law, C, convention=conv, **arch)
            if C is None:
                C = float(flops_per_token(law, conv, N, arch) * D)
        elif C is not None:
            if N is not None and D is not None:
                C_nd = float(flops_per_token(law, conv, N, arch) * D)
                if abs(C_nd / C - 1) > OVERDETERMINED_RTOL:
                    raise ScalingError(
                        f"the budget {C:.4g} FLOPs does not match --params {N:.4g} and --tokens "
                        f"{D:.4g} ({C_nd:.4g} FLOPs under {conv}): give two of the three"
                    )
                query = "flops+params+tokens"
            elif N is not None:
                query = "flops+params"
                D = C / float(flops_per_token(law, conv, N, arch))
            elif D is not None:
                query = "flops+tokens"
                N = float(params_for_tokens_at_budget(law, conv, C, D, arch))
            else:
                query = budget_kind or "flops"
                N, D = frontier(law, C, convention=conv, **arch)
        elif N is not None and D is not None:
            query = "params+tokens"
            C = float(flops_per_token(law, conv, N, arch) * D)
        elif N is not None:
            query = "params"
            C = float(law.flops_for_params(N)) if native_ else invert_frontier(law, conv, N, 0, arch)
            D = float(frontier(law, C, convention=conv, **arch)[1])
        elif D is not None:
            query = "tokens"
            C = float(law.flops_for_tokens(D)) if native_ else invert_frontier(law, conv, D, 1, arch)
            N = float(frontier(law, C, convention=conv, **arch)[0])
        else:
            raise ScalingError(
                "nothing to plan: give a budget (FLOPs, --gpu-hours or --dollars), --params, --tokens or --target-loss"
            )
        C, N, D = float(C), float(N), float(D)
        law.check_range(C)
        loss = float(law.loss(N, D)) if law.has_loss else None
        if (
            loss is None
            and getattr(law, "has_frontier_loss", False)
            and query in ("flops", "gpu_hours", "dollars", "params", "tokens", "target_loss")
        ):
            loss = float(law.loss_at_frontier(C))  # an allocation law knows the loss on its frontier only

        # how far an off-frontier point is from the optimum at its own budget
        if query in (
            "params+tokens",
            "flops+params",
            "flops+tokens",
            "flops+params+tokens",
            "target_loss+params",
            "target_loss+tokens",
        ):
            No, Do = frontier(law, C, convention=conv, **arch)
            frontier_info = {"params": float(No), "tokens": float(Do), "tokens_per_param": float(Do / No)}
            if law.has_loss and loss is not None:
                Lo = float(law.loss(No, Do))
                frontier_info["loss"] = Lo
                frontier_info["loss_gap"] = loss - Lo
                try:
                    C_eq = float(law.flops_for_loss(loss)) if loss > (law.irreducible_loss or 0) else float("nan")
                    frontier_info["compute_efficiency"] = C_eq / C  # optimal compute for this loss / compute used
                except ScalingError:
                    pass

    flags = [Flag("out_of_range", str(w.message)) for w in caught if issubclass(w.category, OutOfRangeWarning)]
    flags += [Flag("arch", n) for n in arch_notes if n not in [f.message for f in flags]]
    extra: dict[str, Any] = {}
    if budget_kind in ("gpu_hours", "dollars"):
        extra[budget_kind] = budget_value
    if arch["mixer"] != "attention" or arch["sparsity"]:
        extra.update({"mixer": arch["mixer"], "sparsity": arch["sparsity"]})
    if pattern is not None:
        extra["pattern"] = pattern
    if isinstance(law, FineGrainedMoELaw) and law.granularity is not None:
        extra["granularity"] = law.granularity
    if flatness_of is not None:
        extra.update(flatness_of(law, C, None, conv))
    interval = _plan_interval(law, conv, query, C, N, D, L, arch, level) if law.has_uncertainty else None
    return Plan(
        law=law.name,
        query=query,
        flops=C,
        params=N,
        tokens=D,
        tokens_per_param=D / N,
        loss=loss,
        flops_convention=conv,
        params_convention=law.params_convention,
        frontier=frontier_info,
        interval=interval,
        level=level if interval is not None else None,
        shape=plan_shape(law, conv, C, N, D, arch) if want_shape else None,
        budget=None if hardware is None else hardware.budget(C, None if sparse_of is None else sparse_of(N)),
        extra=extra,
        flags=tuple(flags),
    )


def _at_granularity(law: Law, granularity, notes: list[str]) -> Law:
    """The MoE law at a fixed granularity (a note when G is past the largest the paper plans with),
    or a one-line error for a law without a granularity term."""
    if not isinstance(law, FineGrainedMoELaw):
        raise ScalingError(
            f"--granularity: law {law.name!r} ({law.form}) has no granularity term; the fine-grained MoE "
            f"law krajewski-2024 (Krajewski et al. 2024) has one: --law krajewski-2024"
        )
    G = check_granularity(granularity, "--granularity")
    if G > max(GRANULARITIES):
        notes.append(
            f"granularity G = {G:g} is past {max(GRANULARITIES):g}, the largest {law.name} plans with "
            f"(Table 2 of Krajewski et al. 2024): an extrapolation"
        )
    return law.at_granularity(G)


def _plan_interval(law, conv, query, C, N, D, L, arch, level):
    """Percentile intervals over the law's samples, holding fixed what the user fixed."""
    if query in ("flops", "gpu_hours", "dollars") and np.ndim(C) == 0:
        fast = sample_frontiers(law, float(C), conv, arch)
        if fast is not None:  # every sample's search at once (a Chinchilla fit re-planned under palm)
            lo, hi = percentile_interval(np.stack(fast, axis=1), level)
            return {
                k: Interval(float(lo[i]), float(hi[i]))
                for i, k in enumerate(("params", "tokens", "loss"))
                if np.isfinite(lo[i]) and np.isfinite(hi[i])
            }

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
                c = float(s.flops_for_params(N)) if native(s, conv, arch) else np.nan
                n, d = N, (float(s.frontier(c)[1]) if np.isfinite(c) else np.nan)
            elif query == "tokens":
                c = float(s.flops_for_tokens(D)) if native(s, conv, arch) else np.nan
                n, d = (float(s.frontier(c)[0]) if np.isfinite(c) else np.nan), D
            elif query == "target_loss+params":
                n, d = N, float(s.tokens_for_loss(N, L))
            elif query == "target_loss+tokens":
                n, d = float(s.params_for_loss(D, L)), D  # type: ignore[attr-defined]
            else:  # N and D fixed: only the loss is uncertain
                n, d = N, D
            loss = s.loss(n, d) if s.has_loss and np.isfinite(n) and np.isfinite(d) else np.nan
            return np.array([n, d, loss], dtype=float)

    res = law.interval(fn, level)
    if res is None:
        return None
    lo, hi = res
    return {
        k: Interval(float(lo[i]), float(hi[i]))
        for i, k in enumerate(("params", "tokens", "loss"))
        if np.isfinite(lo[i]) and np.isfinite(hi[i]) and not (k == "loss" and not law.has_loss)
    }


__all__ = ["plan"]
