"""Data-constrained planning (Muennighoff et al. 2023): repeated data is worth less.

With only U unique tokens, the best size for a budget C minimises L(N, C / 6N, U) under the
data-constrained law (:class:`scaling.laws.datacon.DataConstrainedLaw`). There is no closed form:
the objective has kinks (where D = U and where N = U_N), so it is scanned coarsely in log N and
then refined by golden section inside the best bracket to 1e-12 in log N
(:func:`scaling._solve.scan_min`). :func:`data_constrained_plan` returns the best size, total
tokens, epochs and loss, and what the constraint costs: the loss gap to the unconstrained optimum
and the compute the unconstrained law needs for the constrained loss. For C = 1e22 and U = 25e9
it gives 7.03e9 parameters and 237e9 tokens (9.49 epochs), the paper's numbers.

:func:`plan_data_constrained` answers ``scaling.plan(..., unique_tokens=U)`` with :class:`Plan`
objects. All FLOPs here are C = 6ND.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._io import json_safe
from .._solve import bisect, scan_min
from ..errors import OutOfRangeWarning, ScalingError
from ..hardware import Hardware
from ..laws import ChinchillaLaw, Law, get_law
from ..laws.datacon import DataConstrainedLaw, muennighoff_2023
from ..units import si
from ._checks import OVERDETERMINED_RTOL, values
from .frontier import arch, plan_shape
from .result import Flag, Interval, Plan

DEFAULT_DATACON_LAW = "muennighoff-2023"
DEFAULT_CONTEXT = 2048


def check_unique_tokens(U, context: int = DEFAULT_CONTEXT) -> np.ndarray:
    """U as an array; at least one training sequence of ``context`` tokens, else a ScalingError."""
    arr = np.atleast_1d(np.asarray(U, dtype=float))
    if arr.size == 0:
        raise ScalingError("unique tokens: no value given")
    if np.any(np.isnan(arr)) or np.any(arr <= 0):
        raise ScalingError("unique tokens must be positive numbers")
    if context is not None and np.any(arr < context):
        bad = float(arr[arr < context][0])
        raise ScalingError(
            f"unique tokens: {bad:g} is fewer than a single training sequence ({context} tokens of "
            f"context); a data-constrained plan needs at least one full sequence"
        )
    return arr


def as_data_constrained(law: str | Law | None = None) -> DataConstrainedLaw:
    """The data-constrained law to plan with.

    A data-constrained law is used as it is. A Chinchilla-form law (a published one or a fit)
    gets the repetition constants of Muennighoff et al.'s C4 fit (R_D* = 15.39, R_N* = 5.31):
    those were fitted jointly with a different (E, A, B), so the combination is an assumption,
    stated in the law's name and notes. ``None`` means ``muennighoff-2023``.
    """
    if law is None:
        return muennighoff_2023()
    law = get_law(law)
    if isinstance(law, DataConstrainedLaw):
        return law
    if isinstance(law, ChinchillaLaw):
        ref = muennighoff_2023()
        samples = None
        if law.samples is not None:
            s = np.asarray(law.samples, dtype=float)
            samples = np.column_stack([s, np.full(len(s), ref.R_D_star), np.full(len(s), ref.R_N_star)])
        out = DataConstrainedLaw(
            law.E,
            law.A,
            law.B,
            law.alpha,
            law.beta,
            ref.R_D_star,
            ref.R_N_star,
            name=f"{law.name}+muennighoff-repetition",
            provenance=law.provenance,
            samples=samples,
        )
        out.meta["repetition_from"] = "muennighoff-2023"
        out.flops_convention, out.params_convention = law.flops_convention, law.params_convention
        return out
    raise ScalingError(
        f"law {law.name!r} ({law.form}) has no data-constrained form; use --law muennighoff-2023, "
        f"a Chinchilla-form law, or a data-constrained fit"
    )


def data_constrained_frontier(
    law: DataConstrainedLaw, C, U, *, span: float = 1e4, n_scan: int = 65, tol: float = 1e-12
):
    """The best (N, D) for budgets C with U unique tokens: argmin over N of L(N, C / 6N, U).

    Vectorised over C and U (broadcast). The search runs over log N in [N0 / span, N0 * span]
    around the unconstrained optimum N0: a coarse scan of ``n_scan`` points, then golden section
    in the best bracket down to ``tol`` in log N.
    """
    C = np.asarray(C, dtype=float)
    U = np.asarray(U, dtype=float)
    C, U = np.broadcast_arrays(C, U)
    N0, _ = law.chinchilla().frontier(C)
    x0 = np.log(np.asarray(N0, dtype=float))
    ls = math.log(span)

    def f(x):
        N = np.exp(x)
        return law.loss(N, C / (6.0 * N), U)

    x = scan_min(f, x0 - ls, x0 + ls, n_scan=n_scan, tol=tol)
    N = np.exp(x)
    D = C / (6.0 * N)
    if N.ndim == 0:
        return float(N), float(D)
    return N, D


@dataclass(frozen=True)
class DataConstrainedPlan:
    """The best allocation of a budget when only ``unique_tokens`` tokens of data exist (immutable;
    :meth:`summary` reads like a report). It carries no interval: the repetition law's published
    constants come without samples. ``flags``: the ``repetition`` flag when the repetition
    constants come from another law than the surface."""

    law: str
    flops: float
    unique_tokens: float
    params: float
    tokens: float
    epochs: float
    tokens_per_param: float
    loss: float
    effective_params: float
    effective_tokens: float
    unconstrained: dict[str, float]  # the Chinchilla optimum of the same surface at the same budget
    loss_gap: float  # loss - unconstrained loss (>= 0)
    flops_equivalent: float  # compute the unconstrained law needs to reach `loss`
    compute_efficiency: float  # flops_equivalent / flops (<= 1): the share of the budget that works
    flops_convention: str = "6nd"
    flags: tuple[Flag, ...] = ()

    @property
    def warnings(self) -> list[str]:
        """The flags' messages (what :meth:`to_dict` lists under ``warnings``, as a Plan's)."""
        return [f.message for f in self.flags]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        del d["flags"]
        if self.flags:
            d["warnings"] = self.warnings
        return json_safe(d)

    def summary(self) -> str:
        """The allocation, what repetition leaves of it, and what the constraint costs."""
        u = self.unconstrained
        lines = [
            f"data-constrained plan under {self.law}: {si(self.unique_tokens)} unique tokens, "
            f"FLOPs convention {self.flops_convention}",
            f"  compute {self.flops:.4g} FLOPs: {si(self.params)} parameters on {si(self.tokens)} tokens "
            f"({self.epochs:.2f} epochs, {self.tokens_per_param:.1f} tokens per parameter), loss {self.loss:.4f}",
            f"  worth {si(self.effective_params)} parameters on {si(self.effective_tokens)} fresh tokens",
            f"  unconstrained optimum at the same compute: {si(u['params'])} parameters, {si(u['tokens'])} "
            f"tokens, loss {u['loss']:.4f} (gap +{self.loss_gap:.4f})",
            f"  the unconstrained law reaches this loss with {self.flops_equivalent:.4g} FLOPs "
            f"({100 * self.compute_efficiency:.1f}% of the budget)",
        ]
        lines += [f"  [{f.code}] {f.message}" for f in self.flags]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def data_constrained_plan(
    flops, unique_tokens, law: str | Law | None = None, *, context: int = DEFAULT_CONTEXT
) -> list[DataConstrainedPlan]:
    """Best size, total tokens, epochs and loss for each budget with ``unique_tokens`` of data,
    and what the data constraint costs against the unconstrained optimum (one plan per pair)."""
    dlaw = as_data_constrained(law)
    C = np.atleast_1d(np.asarray(flops, dtype=float))
    if C.size == 0 or np.any(~np.isfinite(C)) or np.any(C <= 0):
        raise ScalingError("FLOPs must be positive finite numbers")
    U = check_unique_tokens(unique_tokens, context)
    CC, UU = np.meshgrid(C, U, indexing="ij")
    CC, UU = CC.ravel(), UU.ravel()
    N, D = data_constrained_frontier(dlaw, CC, UU)
    N, D = np.atleast_1d(N), np.atleast_1d(D)
    L = np.atleast_1d(np.asarray(dlaw.loss(N, D, UU), dtype=float))
    chin = dlaw.chinchilla()
    N0, D0 = chin.frontier(CC)
    L0 = np.atleast_1d(np.asarray(chin.loss(N0, D0), dtype=float))
    Ceq = np.atleast_1d(np.asarray(chin.flops_for_loss(L), dtype=float))
    Np = np.atleast_1d(np.asarray(dlaw.effective_params(N, UU), dtype=float))
    Dp = np.atleast_1d(np.asarray(dlaw.effective_tokens(D, UU), dtype=float))
    N0, D0 = np.atleast_1d(N0), np.atleast_1d(D0)
    flags: tuple[Flag, ...] = ()
    if dlaw.meta.get("repetition_from"):
        flags = (
            Flag(
                "repetition",
                f"repetition constants R_D* = {dlaw.R_D_star:.4g}, R_N* = {dlaw.R_N_star:.4g} taken from "
                f"{dlaw.meta['repetition_from']} and combined with {dlaw.name.split('+')[0]!r}",
            ),
        )
    out = []
    for i in range(len(CC)):
        out.append(
            DataConstrainedPlan(
                law=dlaw.name,
                flops=float(CC[i]),
                unique_tokens=float(UU[i]),
                params=float(N[i]),
                tokens=float(D[i]),
                epochs=float(D[i] / UU[i]),
                tokens_per_param=float(D[i] / N[i]),
                loss=float(L[i]),
                effective_params=float(Np[i]),
                effective_tokens=float(Dp[i]),
                unconstrained={
                    "params": float(N0[i]),
                    "tokens": float(D0[i]),
                    "loss": float(L0[i]),
                    "epochs": float(D0[i] / UU[i]),
                },
                loss_gap=float(L[i] - L0[i]),
                flops_equivalent=float(Ceq[i]),
                compute_efficiency=float(Ceq[i] / CC[i]),
                flops_convention=dlaw.flops_convention,
                flags=flags,
            )
        )
    return out


def data_constrained_flops_for_loss(law: DataConstrainedLaw, target: float, U: float) -> float:
    """The least compute that reaches ``target`` with U unique tokens (allocating optimally)."""
    floor = float(law.loss_floor(U))
    if not target > floor:
        raise ScalingError(
            f"target loss {target:g} cannot be reached with {U:.3g} unique tokens under {law.name!r}: "
            f"the best loss any amount of compute reaches with that data is {floor:.4f}"
        )
    c0 = float(law.chinchilla().flops_for_loss(target))

    def gap(logc):
        c = np.exp(logc)
        N, D = data_constrained_frontier(law, c, np.broadcast_to(U, np.shape(c)))
        return np.asarray(law.loss(N, D, np.broadcast_to(U, np.shape(c))), dtype=float) - target

    lo, hi = math.log(c0), math.log(c0)
    while float(gap(np.array(hi))) > 0:
        hi += math.log(10.0)
        if hi - lo > math.log(1e30):
            raise ScalingError(
                f"target loss {target:g} is not reached with {U:.3g} unique tokens below {math.exp(hi):.3g} FLOPs"
            )
    return float(np.exp(bisect(gap, np.array(lo), np.array(hi), tol=1e-12)))


# ---------------------------------------------------------------------------------------------
# scaling.plan(..., unique_tokens=U)


def six_nd_only(law: Law, convention: str | None, what: str) -> None:
    conv = convention or law.flops_convention
    if conv != "6nd":
        raise ScalingError(f"{what} plans are made under C = 6ND; the {conv!r} FLOP convention is not supported here")


def budget_flops(kind: str, value: float, hardware: Hardware | None) -> float:
    """FLOPs of a budget given in FLOPs, GPU-hours or dollars (on ``hardware``, default an H100)."""
    if kind == "flops":
        return value
    hw = hardware or Hardware()
    return hw.flops_for_gpu_hours(value) if kind == "gpu_hours" else hw.flops_for_dollars(value)


def plan_data_constrained(
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
    flatness_of: Callable[[Law, float, float | None], dict] | None = None,
) -> list[Plan]:
    """The plans of ``scaling.plan(..., unique_tokens=U)``: one per unique-token count, budget, size,
    token count and target loss given (``flatness_of(law, C, U)``: the flatness report's extras)."""
    dlaw = as_data_constrained(DEFAULT_DATACON_LAW if law is None else law)
    six_nd_only(dlaw, convention, "data-constrained")
    Us = [float(u) for u in check_unique_tokens(unique_tokens, context)]
    budgets = [("flops", flops), ("gpu_hours", gpu_hours), ("dollars", dollars)]
    given = [(k, v) for k, v in budgets if v is not None]
    if given and target_loss is not None:
        raise ScalingError("a budget and a --target-loss over-determine the plan: give one of them")
    notes = []
    if dlaw.meta.get("repetition_from"):
        notes.append(
            Flag(
                "repetition",
                f"{dlaw.name}: the repetition constants R_D* = {dlaw.R_D_star:.4g} and "
                f"R_N* = {dlaw.R_N_star:.4g} of {dlaw.meta['repetition_from']} are applied "
                f"to this law's E, A, B, alpha, beta",
            )
        )
    chin = dlaw.chinchilla()
    plans: list[Plan] = []
    bkind, bvals = (given[0][0], values(given[0][1], given[0][0])) if given else (None, [None])
    for U in Us:
        for bval in bvals:
            C_in = None if bval is None or bkind is None else budget_flops(bkind, bval, hardware)
            for N in values(params, "params"):
                for D in values(tokens, "tokens"):
                    for L in [None] if target_loss is None else values(target_loss, "target loss"):
                        with warnings.catch_warnings(record=True) as caught:
                            warnings.simplefilter("always", OutOfRangeWarning)
                            fields = _datacon_one(dlaw, chin, U, C_in, N, D, L, bkind)
                        flags = [
                            Flag("out_of_range", str(w.message))
                            for w in caught
                            if issubclass(w.category, OutOfRangeWarning)
                        ] + notes
                        if dlaw.has_uncertainty:
                            fields["interval"] = _datacon_interval(dlaw, fields, U, level)
                            fields["level"] = level if fields["interval"] is not None else None
                        if hardware is not None:
                            fields["budget"] = hardware.budget(fields["flops"])
                        if bkind in ("gpu_hours", "dollars"):
                            fields["extra"][bkind] = bval
                        if flatness_of is not None:
                            fields["extra"].update(flatness_of(dlaw, fields["flops"], U))
                        if shape:
                            fields["shape"] = plan_shape(
                                dlaw, "6nd", fields["flops"], fields["params"], fields["tokens"], arch(vocab, context)
                            )
                        plans.append(Plan(**fields, flags=tuple(flags)))
    return plans


def _datacon_one(dlaw, chin, U, C, N, D, L, bkind) -> dict[str, Any]:
    """The fields of one data-constrained plan (the query decides which are solved for)."""
    if L is not None and C is None:
        if N is not None and D is not None:
            raise ScalingError("--target-loss with both --params and --tokens over-determines the plan")
        if N is not None:
            query = "target_loss+params+unique_tokens"
            D = float(dlaw.tokens_for_loss(N, L, U))
            if not math.isfinite(D):
                floor = float(dlaw.loss_floor(U, N))
                raise ScalingError(
                    f"a model of {N:.3g} parameters never reaches loss {L:g} with {U:.3g} unique tokens "
                    f"under {dlaw.name!r} (its loss tends to {floor:.4g} however long it trains)"
                )
            C = 6.0 * N * D
        elif D is not None:
            raise ScalingError(
                "--target-loss with --tokens and --unique-tokens is not supported; give --params or neither"
            )
        else:
            query = "target_loss+unique_tokens"
            C = data_constrained_flops_for_loss(dlaw, L, U)
    elif C is not None and N is None and D is None:
        query = f"{bkind}+unique_tokens"
    elif C is not None:
        if N is not None and D is not None:
            if abs(6.0 * N * D / C - 1) > OVERDETERMINED_RTOL:
                raise ScalingError(
                    f"the budget {C:.4g} FLOPs does not match --params {N:.4g} and --tokens {D:.4g} "
                    f"({6 * N * D:.4g} FLOPs under 6nd): give two of the three"
                )
        elif N is not None:
            D = C / (6.0 * N)
        else:
            N = C / (6.0 * D)
        query = "point+unique_tokens"
    elif N is not None and D is not None:
        query = "point+unique_tokens"
        C = 6.0 * N * D
    else:
        raise ScalingError(
            "with --unique-tokens give a budget (FLOPs, --gpu-hours or --dollars), --params and "
            "--tokens, or --target-loss"
        )
    dlaw.check_range(C)
    (opt,) = data_constrained_plan(C, U, dlaw, context=1)
    if query in ("point+unique_tokens", "target_loss+params+unique_tokens"):
        loss = float(dlaw.loss(N, D, U))
        frontier_info = {
            "params": opt.params,
            "tokens": opt.tokens,
            "tokens_per_param": opt.tokens_per_param,
            "loss": opt.loss,
            "loss_gap": loss - opt.loss,
        }
    else:
        N, D, loss = opt.params, opt.tokens, opt.loss
        frontier_info = None
    unc = chin.frontier(C)
    Lu = float(chin.loss(*unc))
    Ceq = float(chin.flops_for_loss(loss))
    dc = {
        "unique_tokens": U,
        "epochs": D / U,
        "effective_params": float(dlaw.effective_params(N, U)),
        "effective_tokens": float(dlaw.effective_tokens(D, U)),
        "loss_without_repetition": float(chin.loss(N, D)),
        "unconstrained": {"params": float(unc[0]), "tokens": float(unc[1]), "loss": Lu},
        "loss_gap": loss - Lu,
        "flops_equivalent": Ceq,
        "compute_efficiency": Ceq / C,
        "repetition": {"R_D_star": dlaw.R_D_star, "R_N_star": dlaw.R_N_star},
    }
    return dict(
        law=dlaw.name,
        query=query,
        flops=float(C),
        params=float(N),
        tokens=float(D),
        tokens_per_param=float(D / N),
        loss=loss,
        flops_convention="6nd",
        params_convention=dlaw.params_convention,
        frontier=frontier_info,
        extra={"data_constrained": dc},
    )


def _datacon_interval(dlaw, p: dict, U: float, level: float) -> dict[str, Interval] | None:
    fixed = p["query"].startswith("point") or p["query"].startswith("target_loss+params")

    def fn(s):
        if fixed:
            return np.array([p["params"], p["tokens"], float(s.loss(p["params"], p["tokens"], U))])
        n, d = data_constrained_frontier(s, p["flops"], U, n_scan=33, tol=1e-9)
        return np.array([n, d, float(s.loss(n, d, U))])

    res = dlaw.interval(fn, level)
    if res is None:
        return None
    lo, hi = res
    return {
        k: Interval(float(lo[i]), float(hi[i]))
        for i, k in enumerate(("params", "tokens", "loss"))
        if not (fixed and k != "loss")
    }


__all__ = [
    "DataConstrainedPlan",
    "as_data_constrained",
    "check_unique_tokens",
    "data_constrained_flops_for_loss",
    "data_constrained_frontier",
    "data_constrained_plan",
    "plan_data_constrained",
]
