"""Planning past the Chinchilla optimum: repeated data, inference demand, uncertain laws.

Three questions a compute-optimal plan answers wrongly, each with its published answer:

1. **Data-constrained allocation** (Muennighoff et al. 2023). With only U unique tokens, the best
   size for a budget C minimises L(N, C / 6N, U) under the data-constrained law
   (:class:`scaling.laws.datacon.DataConstrainedLaw`). There is no closed form: the objective has
   kinks (where D = U and where N = U_N), so it is scanned coarsely in log N and then refined by a
   golden-section search inside the best bracket to a tolerance of 1e-12 in log N.
   :func:`data_constrained_plan` returns the best size, total tokens, epochs and loss, and what the
   constraint costs: the loss gap to the unconstrained optimum and the compute the unconstrained
   law needs for the constrained loss. For C = 1e22 and U = 25e9 it gives 7.03e9 parameters and
   237e9 tokens (9.49 epochs), the paper's numbers.

2. **Inference-aware sizing** (Sardana et al. 2024, "Beyond Chinchilla-Optimal"). A model that
   will serve D_inf tokens costs 6 N D_tr to train and 2 N D_inf to serve. For a target loss l,
   :func:`inference_optimal` minimises the total over N with D_tr(N) the tokens that reach l,
   D_tr(N) = (B / (l - E - A / N^alpha))^(1/beta); :func:`inference_optimal_budget` is the budget
   form (least loss for a fixed total). Both weigh training and inference FLOPs in dollars when a
   :class:`CostModel` is given (separate MFU, accelerator and price for each), and report the
   saving against the Chinchilla-optimal model of the same quality.

3. **Uncertainty-aware planning** from a law with samples (a bootstrapped fit):
   :func:`plan_distribution` gives percentiles of N_opt, D_opt and the loss at a budget, the
   expected loss penalty of the point-estimate size, and :func:`flatness` the range of sizes whose
   loss at the same budget is within a tolerance (0.5%) of the best: the optimum is flat, and that
   range is the honest answer to "how big".

All FLOPs here are under C = 6 N D (training) and 2 N per inference token. This module imports
numpy only (and the project's laws and hardware catalogue); no scipy, torch or matplotlib.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .errors import OutOfRangeWarning, ScalingError
from .laws import ChinchillaLaw, Law, get_law
from .laws.datacon import DataConstrainedLaw, muennighoff_2023

DEFAULT_DATACON_LAW = "muennighoff-2023"
DEFAULT_CONTEXT = 2048
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


# ---------------------------------------------------------------------------------------------
# one-dimensional minimisation, vectorised over independent problems


def minimise_scalar(f: Callable[[np.ndarray], np.ndarray], lo, hi, *, n_scan: int = 65, tol: float = 1e-12,
                    max_iter: int = 300) -> np.ndarray:
    """Minimise f on [lo, hi] elementwise: a coarse scan, then golden section inside the best bracket.

    ``lo``/``hi`` are arrays (one problem per element); ``f`` takes an array of the broadcast
    shape (with a leading scan axis during the scan) and returns values of the same shape. The
    scan guards against the kinks and flat stretches that defeat a bare golden search; the golden
    section then narrows the bracket [x_(i-1), x_(i+1)] around the best scan point until its width
    is below ``tol``. Returns the minimisers.
    """
    lo, hi = np.broadcast_arrays(np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))
    lo, hi = lo.copy(), hi.copy()
    t = np.linspace(0.0, 1.0, n_scan).reshape((-1,) + (1,) * lo.ndim)
    xs = lo + t * (hi - lo)
    with np.errstate(all="ignore"):
        fs = np.asarray(f(xs), dtype=float)
    fs = np.where(np.isnan(fs), np.inf, fs)
    i = np.argmin(fs, axis=0)
    step = (hi - lo) / (n_scan - 1)
    xi = np.take_along_axis(xs, i[None], axis=0)[0]
    a = np.maximum(lo, xi - step)
    b = np.minimum(hi, xi + step)
    return _golden(f, a, b, tol=tol, max_iter=max_iter)


def _golden(f, a, b, *, tol: float = 1e-12, max_iter: int = 300) -> np.ndarray:
    """Vectorised golden-section search for the minimum of a unimodal f on [a, b] (elementwise),
    one new evaluation of f per iteration."""
    a, b = np.array(a, dtype=float), np.array(b, dtype=float)
    c = b - GOLDEN * (b - a)
    d = a + GOLDEN * (b - a)
    with np.errstate(all="ignore"):
        fc, fd = np.asarray(f(c), dtype=float), np.asarray(f(d), dtype=float)
    for _ in range(max_iter):
        if np.all(b - a < tol):
            break
        left = ~(fc > fd)  # the minimum lies in [a, d]; ties and NaN go left
        a, b = np.where(left, a, c), np.where(left, d, b)
        c_new = np.where(left, b - GOLDEN * (b - a), d)
        d_new = np.where(left, c, a + GOLDEN * (b - a))
        with np.errstate(all="ignore"):
            fx = np.asarray(f(np.where(left, c_new, d_new)), dtype=float)
        fc, fd = np.where(left, fx, fd), np.where(left, fc, fx)
        c, d = c_new, d_new
    return 0.5 * (a + b)


def _minimise_log(f, lo, hi, **kw) -> np.ndarray:
    """Minimise f(x) over x in [lo, hi] (log-space coordinates) elementwise."""
    return minimise_scalar(f, lo, hi, **kw)


def _bisect(g, lo, hi, iters: int = 200, tol: float = 1e-13) -> np.ndarray:
    """Elementwise bisection for a sign change of g on [lo, hi] (g(lo) and g(hi) of opposite signs)."""
    lo, hi = np.array(lo, dtype=float), np.array(hi, dtype=float)
    with np.errstate(all="ignore"):
        glo = np.asarray(g(lo), dtype=float)
    for _ in range(iters):
        if np.all(np.abs(hi - lo) < tol):
            break
        mid = 0.5 * (lo + hi)
        with np.errstate(all="ignore"):
            gm = np.asarray(g(mid), dtype=float)
        same = np.sign(gm) == np.sign(glo)
        lo, glo = np.where(same, mid, lo), np.where(same, gm, glo)
        hi = np.where(same, hi, mid)
    return 0.5 * (lo + hi)


from ._io import json_safe as _clean  # noqa: E402


def _positive(x, what: str, *, allow_zero: bool = False) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ScalingError(f"{what} must be a number, got {x!r}") from None
    if math.isnan(v) or math.isinf(v):
        raise ScalingError(f"{what} must be finite, got {x!r}")
    if v < 0:
        raise ScalingError(f"{what} must not be negative, got {v:g}")
    if v == 0 and not allow_zero:
        raise ScalingError(f"{what} must be positive, got 0")
    return v


# ---------------------------------------------------------------------------------------------
# 1. data-constrained allocation


def check_unique_tokens(U, context: int = DEFAULT_CONTEXT) -> np.ndarray:
    """U as an array; at least one training sequence of ``context`` tokens, else a ScalingError."""
    arr = np.atleast_1d(np.asarray(U, dtype=float))
    if arr.size == 0:
        raise ScalingError("unique tokens: no value given")
    if np.any(np.isnan(arr)) or np.any(arr <= 0):
        raise ScalingError("unique tokens must be positive numbers")
    if context is not None and np.any(arr < context):
        bad = float(arr[arr < context][0])
        raise ScalingError(f"unique tokens: {bad:g} is fewer than a single training sequence ({context} tokens of "
                           f"context); a data-constrained plan needs at least one full sequence")
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
        out = DataConstrainedLaw(law.E, law.A, law.B, law.alpha, law.beta, ref.R_D_star, ref.R_N_star,
                                 name=f"{law.name}+muennighoff-repetition", provenance=law.provenance,
                                 samples=samples)
        out.meta["repetition_from"] = "muennighoff-2023"
        out.flops_convention, out.params_convention = law.flops_convention, law.params_convention
        return out
    raise ScalingError(f"law {law.name!r} ({law.form}) has no data-constrained form; use --law muennighoff-2023, "
                       f"a Chinchilla-form law, or a data-constrained fit")


def data_constrained_frontier(law: DataConstrainedLaw, C, U, *, span: float = 1e4, n_scan: int = 65,
                              tol: float = 1e-12):
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

    x = _minimise_log(f, x0 - ls, x0 + ls, n_scan=n_scan, tol=tol)
    N = np.exp(x)
    D = C / (6.0 * N)
    if N.ndim == 0:
        return float(N), float(D)
    return N, D


@dataclass
class DataConstrainedPlan:
    """The best allocation of a budget when only ``unique_tokens`` tokens of data exist."""

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
    unconstrained: dict[str, float]      # the Chinchilla optimum of the same surface at the same budget
    loss_gap: float                      # loss - unconstrained loss (>= 0)
    flops_equivalent: float              # compute the unconstrained law needs to reach `loss`
    compute_efficiency: float            # flops_equivalent / flops (<= 1): the share of the budget that works
    flops_convention: str = "6nd"
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))


def data_constrained_plan(flops, unique_tokens, law: str | Law | None = None, *,
                          context: int = DEFAULT_CONTEXT) -> list[DataConstrainedPlan]:
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
    notes = []
    if dlaw.meta.get("repetition_from"):
        notes.append(f"repetition constants R_D* = {dlaw.R_D_star:.4g}, R_N* = {dlaw.R_N_star:.4g} taken from "
                     f"{dlaw.meta['repetition_from']} and combined with {dlaw.name.split('+')[0]!r}")
    out = []
    for i in range(len(CC)):
        out.append(DataConstrainedPlan(
            law=dlaw.name, flops=float(CC[i]), unique_tokens=float(UU[i]), params=float(N[i]), tokens=float(D[i]),
            epochs=float(D[i] / UU[i]), tokens_per_param=float(D[i] / N[i]), loss=float(L[i]),
            effective_params=float(Np[i]), effective_tokens=float(Dp[i]),
            unconstrained={"params": float(N0[i]), "tokens": float(D0[i]), "loss": float(L0[i]),
                           "epochs": float(D0[i] / UU[i])},
            loss_gap=float(L[i] - L0[i]), flops_equivalent=float(Ceq[i]),
            compute_efficiency=float(Ceq[i] / CC[i]), flops_convention=dlaw.flops_convention, notes=list(notes)))
    return out


def data_constrained_flops_for_loss(law: DataConstrainedLaw, target: float, U: float) -> float:
    """The least compute that reaches ``target`` with U unique tokens (allocating optimally)."""
    floor = float(law.loss_floor(U))
    if not target > floor:
        raise ScalingError(f"target loss {target:g} cannot be reached with {U:.3g} unique tokens under {law.name!r}: "
                           f"the best loss any amount of compute reaches with that data is {floor:.4f}")
    c0 = float(law.chinchilla().flops_for_loss(target))

    def gap(logc):
        c = np.exp(logc)
        N, D = data_constrained_frontier(law, c, np.broadcast_to(U, np.shape(c)))
        return np.asarray(law.loss(N, D, np.broadcast_to(U, np.shape(c))), dtype=float) - target

    lo, hi = math.log(c0), math.log(c0)
    while float(gap(np.array(hi))) > 0:
        hi += math.log(10.0)
        if hi - lo > math.log(1e30):
            raise ScalingError(f"target loss {target:g} is not reached with {U:.3g} unique tokens below "
                               f"{math.exp(hi):.3g} FLOPs")
    return float(np.exp(_bisect(gap, np.array(lo), np.array(hi), tol=1e-12)))


# ---------------------------------------------------------------------------------------------
# 2. inference-aware sizing (Sardana et al. 2024)


@dataclass
class CostModel:
    """Dollars per FLOP of training and of inference: accelerator, MFU and price for each.

    The inference side defaults to the training side's accelerator and price; its MFU defaults to
    the training MFU. Serving usually reaches a lower MFU than training (memory-bound decoding), so
    giving ``inference_mfu`` is what makes the dollar objective differ from the FLOP objective.
    """

    accelerator: str = "h100"
    mfu: float = 0.4
    price_per_gpu_hour: float | None = None
    inference_accelerator: str | None = None
    inference_mfu: float | None = None
    inference_price_per_gpu_hour: float | None = None

    def _side(self, inference: bool) -> tuple[Any, float, float]:
        from .hardware import get_accelerator
        acc = get_accelerator((self.inference_accelerator or self.accelerator) if inference else self.accelerator)
        mfu = (self.inference_mfu if self.inference_mfu is not None else self.mfu) if inference else self.mfu
        if not (isinstance(mfu, (int, float)) and 0 < mfu <= 1):
            raise ScalingError(f"{'--inference-mfu' if inference else '--mfu'} must be in (0, 1], got {mfu}")
        price = self.price_per_gpu_hour
        if inference and self.inference_price_per_gpu_hour is not None:
            price = self.inference_price_per_gpu_hour
        elif inference and self.inference_accelerator and self.price_per_gpu_hour is None:
            price = None
        if price is None:
            price = acc.price_per_gpu_hour
        if price < 0 or not math.isfinite(price):
            raise ScalingError(f"{'--inference-price' if inference else '--price'} must be a finite number >= 0")
        return acc, float(mfu), float(price)

    def gpu_hours(self, flops: float, inference: bool = False) -> float:
        acc, mfu, _ = self._side(inference)
        return float(flops) / (acc.peak_flops * mfu * 3600.0)

    def dollars_per_flop(self, inference: bool = False) -> float:
        acc, mfu, price = self._side(inference)
        return price / (acc.peak_flops * mfu * 3600.0)

    def describe(self) -> dict[str, Any]:
        tr, inf = self._side(False), self._side(True)
        return {"train": {"accelerator": tr[0].name, "mfu": tr[1], "price_per_gpu_hour": tr[2]},
                "inference": {"accelerator": inf[0].name, "mfu": inf[1], "price_per_gpu_hour": inf[2]}}


@dataclass
class InferencePlan:
    """A model sized for its whole life: training plus serving ``inference_tokens`` tokens."""

    law: str
    query: str                        # "target_loss" | "budget"
    objective: str                    # "flops" | "dollars"
    inference_tokens: float
    params: float
    tokens: float                     # training tokens
    tokens_per_param: float
    loss: float
    train_flops: float
    inference_flops: float
    total_flops: float
    chinchilla: dict[str, float]      # the compute-optimal model of the same quality (or the same total)
    saving: float                     # 1 - total / chinchilla total (in the objective's unit)
    cost: dict[str, Any] | None = None
    first_order_residual: float | None = None  # N dObjective/dN / Objective at the optimum (~0)
    flops_convention: str = "6nd"

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))


def _chinchilla_form(law: str | Law) -> ChinchillaLaw:
    law = get_law(law)
    if isinstance(law, DataConstrainedLaw):
        return law.chinchilla()
    if not isinstance(law, ChinchillaLaw):
        raise ScalingError(f"inference-aware planning needs a Chinchilla-form law (E + A/N^alpha + B/D^beta); "
                           f"{law.name!r} is of form {law.form!r}")
    return law


def _inference_tokens(x) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ScalingError(f"inference tokens must be a number, got {x!r}") from None
    if math.isnan(v) or math.isinf(v):
        raise ScalingError(f"inference tokens must be finite, got {x!r}")
    if v < 0:
        raise ScalingError(f"inference tokens: {v:g} is negative; the inference demand must be >= 0 tokens")
    return v


def _weights(cost: CostModel | None) -> tuple[float, float]:
    if cost is None:
        return 1.0, 1.0
    return cost.dollars_per_flop(False), cost.dollars_per_flop(True)


def _cost_dict(cost: CostModel | None, train_flops: float, inf_flops: float) -> dict[str, Any] | None:
    if cost is None:
        return None
    wt, wi = _weights(cost)
    d = cost.describe()
    d.update({"train_usd": train_flops * wt, "inference_usd": inf_flops * wi,
              "total_usd": train_flops * wt + inf_flops * wi,
              "train_gpu_hours": cost.gpu_hours(train_flops, False),
              "inference_gpu_hours": cost.gpu_hours(inf_flops, True)})
    return d


def params_floor(law: ChinchillaLaw, target: float) -> float:
    """The smallest model that can reach ``target`` at all (with infinite data): (A / (l - E))^(1/alpha)."""
    return (law.A / (target - law.E)) ** (1.0 / law.alpha)


def inference_optimal(target_loss: float, inference_tokens: float, law: str | Law = "chinchilla-2022", *,
                      cost: CostModel | None = None) -> InferencePlan:
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
        raise ScalingError(f"target loss {l:g} is at or below the irreducible loss E = {law.E:g} of law {law.name!r}: "
                           f"no model reaches it")
    Dinf = _inference_tokens(inference_tokens)
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
    x = float(_minimise_log(obj, np.array(lo), np.array(hi), n_scan=129, tol=1e-13))
    N = Nmin + math.exp(x)
    D = float(D_of(N))
    # first-order condition: d/dN [w_t 6 N D + w_i 2 N Dinf] = w_t 6 (D + N dD/dN) + w_i 2 Dinf = 0,
    # with dD/dN = -(alpha A N^-alpha) / (beta B D^-beta) * D / N  (implicit differentiation of L = l)
    dDdN = -(law.alpha * law.A * N ** -law.alpha) / (law.beta * law.B * D ** -law.beta) * D / N
    total_w = wt * 6 * N * D + wi * 2 * N * Dinf
    foc = N * (wt * 6.0 * (D + N * dDdN) + wi * 2.0 * Dinf) / total_w
    tr, inf = 6.0 * N * D, 2.0 * N * Dinf
    tr_c, inf_c = 6.0 * Nc * Dc, 2.0 * Nc * Dinf
    chin = {"params": Nc, "tokens": Dc, "tokens_per_param": Dc / Nc, "loss": l, "train_flops": tr_c,
            "inference_flops": inf_c, "total_flops": tr_c + inf_c}
    cost_d = _cost_dict(cost, tr, inf)
    if cost is not None:
        chin["total_usd"] = tr_c * wt + inf_c * wi
        saving = 1.0 - cost_d["total_usd"] / chin["total_usd"]
    else:
        saving = 1.0 - (tr + inf) / (tr_c + inf_c)
    return InferencePlan(law=law.name, query="target_loss", objective="dollars" if cost else "flops",
                         inference_tokens=Dinf, params=N, tokens=D, tokens_per_param=D / N, loss=l, train_flops=tr,
                         inference_flops=inf, total_flops=tr + inf, chinchilla=chin, saving=float(saving),
                         cost=cost_d, first_order_residual=float(foc), flops_convention=law.flops_convention)


def inference_optimal_budget(inference_tokens: float, law: str | Law = "chinchilla-2022", *,
                             total_flops: float | None = None, dollars: float | None = None,
                             cost: CostModel | None = None) -> InferencePlan:
    """The least loss for a fixed lifetime budget (training + serving ``inference_tokens``).

    The budget is ``total_flops`` (FLOP objective) or ``dollars`` (needs a ``cost`` model; the
    default one if none is given). For each N the training tokens are what is left:
    D_tr = (budget - w_inf 2 N D_inf) / (w_tr 6 N); N ranges up to the size whose serving alone
    spends the budget. The comparison is the Chinchilla-optimal model that spends the same budget
    on training and inference under the same split rule (N_opt of its own training budget,
    searched so that its total matches), i.e. the plan a team that ignores inference would make.
    """
    law = _chinchilla_form(law)
    Dinf = _inference_tokens(inference_tokens)
    if (total_flops is None) == (dollars is None):
        raise ScalingError("give one budget for the inference-aware plan: total FLOPs or dollars")
    if dollars is not None:
        cost = cost or CostModel()
        budget = _positive(dollars, "dollars")
        wt_b, wi_b = _weights(cost)           # the budget is dollars: weigh each side by its $/FLOP
    else:
        budget = _positive(total_flops, "FLOPs")
        wt_b, wi_b = 1.0, 1.0                 # the budget is FLOPs (a cost model only prices the result)

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
    x = float(_minimise_log(obj, np.array(lo), np.array(hi), n_scan=129, tol=1e-13))
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

    lc = float(_bisect(total_of_frontier, np.array(math.log(budget / wt_b) - 80.0), np.array(math.log(budget / wt_b)),
                       tol=1e-13))
    Cc = math.exp(lc)
    Nc, Dc = (float(v) for v in law.frontier(Cc))
    Lc = float(law.loss(Nc, Dc))
    chin = {"params": Nc, "tokens": Dc, "tokens_per_param": Dc / Nc, "loss": Lc, "train_flops": 6 * Nc * Dc,
            "inference_flops": 2 * Nc * Dinf, "total_flops": 6 * Nc * Dc + 2 * Nc * Dinf}
    # the saving of a budget plan: the compute the inference-blind plan would need to match this loss
    # (it is a loss improvement at equal cost; expressed as the budget share saved for equal loss)
    same_q = inference_optimal(loss, Dinf, law, cost=cost if dollars is not None else None)
    saving = same_q.saving
    cost_d = _cost_dict(cost, tr, inf)
    if cost is not None:
        wt, wi = _weights(cost)
        chin["total_usd"] = chin["train_flops"] * wt + chin["inference_flops"] * wi
    return InferencePlan(law=law.name, query="budget", objective="dollars" if dollars is not None else "flops",
                         inference_tokens=Dinf, params=N, tokens=D, tokens_per_param=D / N, loss=loss,
                         train_flops=tr, inference_flops=inf, total_flops=tr + inf,
                         chinchilla=dict(chin, loss_gap=Lc - loss), saving=float(saving), cost=cost_d,
                         flops_convention=law.flops_convention)


# ---------------------------------------------------------------------------------------------
# 3. uncertainty-aware planning


def _isoflop_loss(law: Law, C, U=None):
    """L(N) along the isoFLOP line of budget C (6ND), with U unique tokens when given."""
    if not law.has_loss:
        raise ScalingError(f"law {law.name!r} ({law.form}) has no loss model: no isoFLOP curve to examine")
    if U is not None:
        dlaw = law if isinstance(law, DataConstrainedLaw) else as_data_constrained(law)
        return lambda N: dlaw.loss(N, C / (6.0 * N), U)
    return lambda N: law.loss(N, C / (6.0 * N))


def isoflop_optimum(law: Law, C: float, U: float | None = None) -> tuple[float, float, float]:
    """(N*, D*, L*) minimising the law's loss along the isoFLOP line C = 6ND (numerically, so that
    it holds for any law with a loss model, with or without a data constraint)."""
    if U is None and isinstance(law, ChinchillaLaw) and law.flops_convention == "6nd":
        N, D = law.frontier(C)
        return float(N), float(D), float(law.loss(N, D))
    if U is not None:
        dlaw = law if isinstance(law, DataConstrainedLaw) else as_data_constrained(law)
        N, D = data_constrained_frontier(dlaw, C, U)
        return float(N), float(D), float(dlaw.loss(N, D, U))
    L = _isoflop_loss(law, C)
    x0 = math.log(float(law.frontier(C)[0])) if hasattr(law, "frontier") else math.log(math.sqrt(C / 120.0))
    x = float(_minimise_log(lambda x: L(np.exp(x)), np.array(x0 - math.log(1e4)), np.array(x0 + math.log(1e4))))
    N = math.exp(x)
    return N, C / (6.0 * N), float(L(N))


def flatness(law: str | Law, flops: float, tolerance: float = 0.005, *, unique_tokens: float | None = None,
             factors: Sequence[float] = (0.25, 0.5, 2.0 / 3.0, 1.5, 2.0, 4.0)) -> dict[str, Any]:
    """How flat the optimum is: the sizes whose loss at the same budget is within ``tolerance``
    (relative, 0.005 = 0.5%) of the best, and the loss penalty of sizes ``factors`` x the optimum.

    Returns params_lo/params_hi (and the tokens each gets from the budget), their ratios to the
    optimum, and ``penalty``: {factor: relative loss increase}.
    """
    law = get_law(law)
    C = _positive(flops, "FLOPs")
    tol = _positive(tolerance, "flatness tolerance")
    if tol >= 1:
        raise ScalingError(f"flatness tolerance {tol:g} must be a fraction below 1 (0.005 = 0.5%)")
    U = None if unique_tokens is None else float(check_unique_tokens(unique_tokens)[0])
    N, D, Lb = isoflop_optimum(law, C, U)
    L = _isoflop_loss(law, C, U)
    x0 = math.log(N)
    target = (1.0 + tol) * Lb

    def g(x):
        return np.asarray(L(np.exp(x)), dtype=float) - target

    span = math.log(1e6)
    lo = float(_bisect(g, np.array(x0 - span), np.array(x0), tol=1e-12)) if g(x0 - span) > 0 else x0 - span
    hi = float(_bisect(g, np.array(x0), np.array(x0 + span), tol=1e-12)) if g(x0 + span) > 0 else x0 + span
    Nlo, Nhi = math.exp(lo), math.exp(hi)
    pen = {f"{k:.4g}": float(L(k * N) / Lb - 1.0) for k in factors}
    return {"tolerance": tol, "flops": C, "unique_tokens": U, "params_best": N, "tokens_best": D, "loss_best": Lb,
            "params_lo": Nlo, "params_hi": Nhi, "tokens_at_params_lo": C / (6 * Nlo),
            "tokens_at_params_hi": C / (6 * Nhi), "ratio_lo": Nlo / N, "ratio_hi": Nhi / N, "penalty": pen}


def _sample_laws(law: Law) -> list[Law]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfRangeWarning)
        out = []
        for row in law.samples:
            try:
                out.append(law.with_params(row))
            except ScalingError:  # a degenerate resample (a parameter at zero): skip it
                continue
        return out


@dataclass
class DistributionPlan:
    """The compute-optimal plan at a budget as a distribution over a law's samples."""

    law: str
    flops: float
    n_samples: int
    unique_tokens: float | None
    point: dict[str, float]                       # the point-estimate law's optimum
    percentiles: dict[str, dict[str, float]]      # params/tokens/loss -> {"2.5": ..., "50": ..., ...}
    expected_penalty: float                       # E_s[L_s(N_point) - L_s(N*_s)] (nats)
    robust: dict[str, float]                      # the size minimising the expected loss over samples
    flatness: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return _clean(asdict(self))


def plan_distribution(law: str | Law, flops: float, *, percentiles: Sequence[float] = (2.5, 5, 25, 50, 75, 95, 97.5),
                      tolerance: float = 0.005, unique_tokens: float | None = None) -> DistributionPlan:
    """Percentiles of N_opt, D_opt and the optimal loss at ``flops`` over the law's samples, the
    expected loss penalty of choosing the point estimate's size, the size that minimises the
    expected loss, and the flatness of the point estimate's optimum."""
    law = get_law(law)
    C = _positive(flops, "FLOPs")
    U = None if unique_tokens is None else float(check_unique_tokens(unique_tokens)[0])
    Np, Dp, Lp = isoflop_optimum(law, C, U)
    flat = flatness(law, C, tolerance, unique_tokens=U)
    if not law.has_uncertainty:
        raise ScalingError(f"law {law.name!r} carries no samples (fit with --bootstrap to get a distribution); "
                           f"only the flatness of its optimum can be given")
    laws = _sample_laws(law)
    rows = np.array([isoflop_optimum(s, C, U) for s in laws])
    q = np.asarray(percentiles, dtype=float)
    pct = {}
    for j, key in enumerate(("params", "tokens", "loss")):
        vals = np.nanpercentile(rows[:, j], q)
        pct[key] = {f"{p:g}": float(v) for p, v in zip(q, vals)}
    curves = [_isoflop_loss(s, C, U) for s in laws]

    def mean_loss(x):
        Nx = np.exp(x)
        return np.mean([np.asarray(c(Nx), dtype=float) for c in curves], axis=0)

    x0 = math.log(Np)
    xr = float(_minimise_log(mean_loss, np.array(x0 - math.log(100.0)), np.array(x0 + math.log(100.0)), n_scan=33,
                             tol=1e-9))
    Nr = math.exp(xr)
    at_point = np.array([float(c(Np)) for c in curves])
    penalty = float(np.nanmean(at_point - rows[:, 2]))
    at_robust = np.array([float(c(Nr)) for c in curves])
    robust = {"params": Nr, "tokens": C / (6 * Nr), "expected_loss": float(np.nanmean(at_robust)),
              "expected_penalty": float(np.nanmean(at_robust - rows[:, 2]))}
    return DistributionPlan(law=law.name, flops=C, n_samples=len(laws), unique_tokens=U,
                            point={"params": Np, "tokens": Dp, "loss": Lp}, percentiles=pct,
                            expected_penalty=penalty, robust=robust, flatness=flat)


__all__ = ["CostModel", "DataConstrainedPlan", "DistributionPlan", "InferencePlan", "as_data_constrained",
           "check_unique_tokens", "data_constrained_flops_for_loss", "data_constrained_frontier",
           "data_constrained_plan", "flatness", "inference_optimal", "inference_optimal_budget", "isoflop_optimum",
           "minimise_scalar", "params_floor", "plan_distribution"]
