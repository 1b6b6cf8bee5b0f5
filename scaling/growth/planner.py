"""The growth planner: small shape and tokens, large shape and tokens, operator steps, predicted
loss and honest savings, from a fitted law and a *measured* growth calibration.

The benefit model (a token credit)
----------------------------------
A grown large model behaves like the same large model trained from scratch on ``D + delta``
tokens, where ``D`` is the tokens it is trained on after growth and

    delta = eta * D_eq(N_large, L_small),   D_eq(N, l) = law.tokens_for_loss(N, l),

``L_small = law.loss(N_small, D_small)``: ``D_eq`` is what the large model would need, from
scratch, to reach the small model's loss, and ``eta`` is the fraction of that progress the growth
operator hands on (eta = 1: the grown model continues exactly where a scratch large model at the
small model's loss would be; eta < 1: some is lost; eta > 1: growth does better than that).
``eta`` is **not assumed**: :mod:`scaling.growth.analysis` measures it from growth runs
(``eta = (D_scratch - D_grown) / D_eq``, all in large-model tokens: the tokens the grown model
saves to reach the scratch run's final loss, over the tokens the scratch run took to reach the
small model's loss) and writes it to a calibration file (:mod:`scaling.growth.calibration`,
default ``data/growth/calibration.json``). Without a calibration the planner refuses to plan (or
takes a user-supplied ``eta``, labelled as such in every output).

``eta`` depends on the growth ratio ``N_large / N_small``: given several calibrations (experiments
at different ratios), the planner reads eta as a function of the ratio (:mod:`scaling.growth.eta`:
linear in log ratio between measured ratios, the nearest measured value beyond them), in the
search as in the final plan, and flags ``eta_extrapolated`` when the plan's ratio lies more than 10%
outside the measured range (with one calibration, more than 10% from its ratio).

The ledger
----------
``C_total = C_small + C_operator + C_large`` under the law's FLOP convention (6ND for a
Chinchilla fit): ``C_small = 6 N_s D_s``, ``C_large = 6 N_L D_L``, and the operator's cost
:func:`~scaling.growth.cost.operator_flops` (each step a forward and backward pass of the large
model on a batch, plus building the weights). With an existing small model (``small=run_dir``) its
cost is sunk: the budget pays for the operator and the large model only.

The three savings, for the predicted final loss ``l``:

1. not charging the small model: ``1 - (C_op + C_large) / C_scratch``, ``C_scratch = 6 N_L (D_L + delta)``,
   the same large shape trained from scratch to the same loss;
2. charging it: ``1 - (C_small + C_op + C_large) / C_scratch``;
3. against a compute-optimal scratch model: ``1 - C_total / law.flops_for_loss(l)`` (what a
   compute-optimal model needs to reach ``l``; positive exactly when the growth plan's loss is
   below the compute-optimal loss of the same total budget).

When (3) is not positive the verdict is "train from scratch", with the numbers that say why; a
positive (3) must also stay positive at the low end of eta's 95% interval (Student t over the
calibration's seeds), else the verdict is "train from scratch" as not robust.

The search: the large size (0.3x to 10x the compute-optimal scratch size: growth may favour a
larger model), the small size (1/16 to 1/1.25 of it) and the small model's share of the budget
(1% to 80%), on a grid, minimising the predicted loss; then both shapes are snapped to real
decoders (the large one keeping the small one's head size,
:func:`~scaling.growth.growable.grown_shape_for_params`) and the plan is recomputed exactly for the
snapped shapes. A choice on either edge of the grid is flagged (:class:`~scaling.planner.Flag`,
code ``grid_edge``): the best plan may lie beyond it, so the plan is the grid's best, not an
optimum.

This module imports numpy and pydantic only (no torch).
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import store
from ..errors import ScalingError
from ..flops import CONVENTIONS
from ..laws import get_law
from ..planner import Flag
from ..shapes import DEFAULT_CONTEXT, DEFAULT_VOCAB, ModelShape, shape_for_params
from ..units import parse_number, sci, si
from .calibration import DEFAULT_CALIBRATION
from .cost import DEFAULT_BATCH_TOKENS, DEFAULT_OPERATOR_STEPS, operator_flops
from .eta import Calibrations, eta_curve, scale_note
from .growable import grown_shape_for_params
from .ledger import _pct, format_ledger


@dataclass
class SmallModel:
    """An existing small model (its cost is sunk)."""

    shape: ModelShape
    params: float
    tokens: float
    flops: float
    loss: float | None
    run_dir: str


def read_small_run(run_dir: str | os.PathLike) -> SmallModel:
    """Shape, tokens and FLOPs of a finished small run (config.json + result.json; no torch)."""
    p = Path(run_dir)
    if not (p / store.CONFIG).is_file():
        raise ScalingError(f"--small: {p} is not a run directory (no {store.CONFIG})")
    try:
        cfg = store.read_config(p)
    except Exception as exc:  # noqa: BLE001
        raise ScalingError(
            f"--small: {p / store.CONFIG} is not a run configuration of this project "
            f"({' '.join(str(exc).split())[:160]})"
        ) from None
    if cfg.mixer != "attention" or cfg.sparsity:
        raise ScalingError(
            f"--small: {p} is a {cfg.mixer} model (sparsity {cfg.sparsity:g}); growth supports "
            "the dense attention decoder only"
        )
    res = store.read_result(p)
    if res is None or res.status != "ok":
        raise ScalingError(f"--small: {p} is not a finished run (no successful result.json)")
    if not (p / store.MODEL).exists():
        warnings.warn(f"{p} has no {store.MODEL}: the plan can be made but the model cannot be grown", stacklevel=2)
    shape = cfg.shape()
    return SmallModel(
        shape=shape,
        params=float(res.params),
        tokens=float(res.tokens),
        flops=float(res.flops),
        loss=res.loss,
        run_dir=str(p),
    )


@dataclass
class GrowthPlan:
    """A growth plan and its ledger; ``str(plan)`` is the printable report."""

    budget: float
    law: str
    flops_convention: str
    method: str
    eta: float
    eta_sd: float | None
    eta_source: str
    small: ModelShape
    small_params: float
    small_tokens: float
    small_flops: float
    small_loss: float  # law prediction
    small_sunk: bool
    small_run: str | None
    large: ModelShape
    large_params: float
    large_tokens: float
    large_flops: float
    operator_steps: int
    operator_tokens: float
    operator_flops: float
    credit_tokens: float  # delta
    loss: float  # predicted final loss of the grown model
    loss_interval: tuple[float, float] | None
    scratch_same_tokens: float  # the large shape from scratch to the same loss
    scratch_same_flops: float
    optimal_params: float  # compute-optimal scratch model of the same total budget
    optimal_tokens: float
    optimal_loss: float
    optimal_flops_to_loss: float  # compute-optimal FLOPs to reach self.loss
    savings_not_charged: float
    savings_charged: float
    savings_vs_optimal: float
    verdict: str  # "grow" or "train from scratch"
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)  # code + message: grid_edge, eta_extrapolated
    eta_interval: tuple[float, float] | None = None  # 95% interval of eta at this plan's growth ratio
    growth_ratio: float = 0.0  # large / small parameters, in ratio_convention
    ratio_convention: str = "total"
    eta_measured_ratios: list[float] = field(default_factory=list)  # the calibrations' ratios (empty: assumed)

    @property
    def total_flops(self) -> float:
        """What the budget pays for (the small model only when it is not sunk)."""
        return (0.0 if self.small_sunk else self.small_flops) + self.operator_flops + self.large_flops

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["small"] = self.small.to_dict()
        d["large"] = self.large.to_dict()
        d["total_flops"] = self.total_flops
        d["loss_interval"] = list(self.loss_interval) if self.loss_interval else None
        d["eta_interval"] = list(self.eta_interval) if self.eta_interval else None
        d["ledger"] = [dict(phase=p, tokens=t, flops=f) for p, t, f in self._phases()]
        d["flags"] = [{"code": f.code, "message": f.message} for f in self.flags]
        return d

    def _phases(self):
        return [
            ("small model" + (" (sunk)" if self.small_sunk else ""), self.small_tokens, self.small_flops),
            (f"operator ({self.method}, {self.operator_steps} steps)", self.operator_tokens, self.operator_flops),
            ("large model", self.large_tokens, self.large_flops),
        ]

    def ledger(self) -> str:
        return format_ledger(self)

    def __str__(self) -> str:
        return self.ledger()


def _law_params(law, shape: ModelShape) -> float:
    pc = shape.param_counts()
    return float(pc["non_embedding"] if getattr(law, "params_convention", "total") == "non_embedding" else pc["total"])


def _fpt(law, shape: ModelShape) -> float:
    conv = law.flops_convention if law.flops_convention in CONVENTIONS else "6nd"
    return float(shape.flops_per_token(conv))


def _check_law(law):
    try:
        law.loss(1e8, 1e9)
        law.tokens_for_loss(1e8, float(law.loss(1e8, 1e9)) + 0.1)
    except ScalingError:
        raise ScalingError(
            f"growth planning needs a law with a loss model L(N, D) and its inverse in D; "
            f"{law.name!r} ({law.form}) has none (use a Chinchilla-form fit)"
        ) from None


def _credit(law, eta, n_large, n_small, d_small):
    """delta = eta * tokens the large model needs to reach the small model's loss (vectorised)."""
    l_small = law.loss(n_small, d_small)
    with np.errstate(over="ignore", invalid="ignore"):
        d_eq = np.asarray(law.tokens_for_loss(n_large, l_small), dtype=float)
    return eta * d_eq, l_small


def plan_growth(
    flops: float,
    law,
    *,
    calibration: Calibrations | None = DEFAULT_CALIBRATION,
    method: str = "ligo",
    eta: float | None = None,
    small: SmallModel | str | os.PathLike | None = None,
    operator_steps: int | None = None,
    batch_tokens: int | None = None,
    vocab: int | None = None,
    context: int | None = None,
    min_savings: float = 0.01,
) -> GrowthPlan:
    """Plan a growth run for a total budget of ``flops`` (see the module docstring).

    ``law``: a law name, file or object with a loss model. ``calibration``: a Calibration or its
    path, or several (experiments at different growth ratios: eta becomes a function of the ratio,
    :mod:`scaling.growth.eta`); ``eta`` overrides it (an assumption, labelled so). ``small``: an existing small run
    (its cost is sunk). ``operator_steps`` / ``batch_tokens``: the operator's training (default:
    the calibration's, else 100 steps of 2^19 tokens). ``vocab`` / ``context``: for the shapes
    (default: the small run's, else 50257 / 2048). The verdict is "grow" only when saving (3) exceeds
    ``min_savings`` and stays positive at the low end of eta's 95% interval. A choice on an edge of
    the search grid is flagged (``plan.flags``, code ``grid_edge``), a growth ratio outside the
    measured ones too (code ``eta_extrapolated``)."""
    C = parse_number(flops, "--flops")
    law = get_law(law)
    _check_law(law)
    convention = "non_embedding" if getattr(law, "params_convention", "total") == "non_embedding" else "total"
    curve = None
    cal_steps, cal_bt = 0, None
    if eta is None:
        curve = eta_curve(calibration or DEFAULT_CALIBRATION, method, convention)
        cal_steps, cal_bt = curve.operator
        eta_source = curve.source()
        eta_of = curve.at
    else:
        if not math.isfinite(eta):
            raise ScalingError("--credit-efficiency must be a finite number")
        eta_source = "user-supplied assumption, NOT calibrated from growth runs"
        eta_of = lambda r: eta  # noqa: E731 - one assumed eta at every ratio
    steps = int(operator_steps if operator_steps is not None else (cal_steps or DEFAULT_OPERATOR_STEPS))
    if steps < 0:
        raise ScalingError(f"--operator-steps must be >= 0, got {steps}")
    if method != "ligo":
        steps = 0  # baselines have no operator to train
    bt = int(batch_tokens or cal_bt or DEFAULT_BATCH_TOKENS)
    sm = None
    if small is not None:
        sm = small if isinstance(small, SmallModel) else read_small_run(small)
        vocab = vocab or sm.shape.vocab
        context = context or sm.shape.context
        if vocab != sm.shape.vocab:
            raise ScalingError(f"--vocab {vocab} differs from the small model's vocabulary {sm.shape.vocab}")
    vocab = int(vocab or DEFAULT_VOCAB)
    context = int(context or DEFAULT_CONTEXT)
    notes: list[str] = []
    if curve is not None and (operator_steps is not None and operator_steps != cal_steps):
        notes.append(f"eta was measured with {cal_steps} operator steps, the plan uses {steps}")

    # --- search on a continuous grid (6N FLOPs per token), then snap and recompute exactly
    n_opt, _ = law.frontier(C)
    n_opt = float(n_opt)
    NL = n_opt * np.logspace(-0.5, 1.0, 61)
    op_c = lambda n: steps * bt * 6.0 * n  # noqa: E731 - the search's approximation of the operator
    if sm is None:
        r = np.logspace(math.log10(1.25), math.log10(16.0), 41)
        fs = np.linspace(0.01, 0.8, 80)
        NLg, rg, fsg = np.meshgrid(NL, r, fs, indexing="ij")
        Ns = NLg / rg
        Cs = fsg * C
        Ds = Cs / (6.0 * Ns)
        DL = (C - Cs - op_c(NLg)) / (6.0 * NLg)
        ok = DL > 0
        delta, _ = _credit(law, eta_of(rg), NLg, Ns, Ds)
        ok &= np.isfinite(DL + delta) & (DL + delta > 0)
        loss = np.where(ok, law.loss(NLg, np.where(ok, DL + delta, 1.0)), np.inf)
        if not np.isfinite(loss).any():
            raise ScalingError(f"a budget of {C:.3g} FLOPs cannot pay for the operator and the large model")
        i = np.unravel_index(int(np.argmin(loss)), loss.shape)
        n_small, d_small_frac = float(Ns[i]), float(fsg[i])
        small_shape = shape_for_params(n_small, vocab=vocab, context=context).shape
        if small_shape.d_head % 2:
            raise ScalingError(f"the snapped small shape {small_shape} has an odd head size")
        n_large = float(NLg[i])
        flags = _grid_edge_flags(i, NL / n_opt, r, fs)
    else:
        n_s = _law_params(law, sm.shape)
        DL = (C - op_c(NL)) / (6.0 * NL)
        ok = (DL > 0) & (NL > n_s * 1.05)
        delta, _ = _credit(law, eta_of(NL / n_s), NL, n_s, sm.tokens)
        loss = np.where(ok, law.loss(NL, np.where(ok & (DL + delta > 0), DL + delta, 1.0)), np.inf)
        if not np.isfinite(loss).any():
            raise ScalingError(
                f"a budget of {C:.3g} FLOPs cannot pay for the operator and a large model "
                f"bigger than the small one ({n_s:.3g} parameters)"
            )
        j = int(np.argmin(loss))
        n_large = float(NL[j])
        small_shape = sm.shape
        d_small_frac = None
        flags = _grid_edge_flags((j,), NL / n_opt)
        if j > 0 and NL[j - 1] <= n_s * 1.05:
            flags.append(
                Flag(
                    "grid_edge",
                    "the large model's size is the smallest the search allows above the existing small "
                    "model (1.05x its parameters): a plan nearer the small model's size may be better",
                )
            )
    large_shape = grown_shape_for_params(n_large, small_shape)

    # --- exact ledger for the snapped shapes
    n_s, n_l = _law_params(law, small_shape), _law_params(law, large_shape)
    if sm is None:
        c_small = d_small_frac * C
        d_small = c_small / _fpt(law, small_shape)
    else:
        d_small, c_small = sm.tokens, sm.tokens * _fpt(law, small_shape)
    conv = law.flops_convention if law.flops_convention in ("6nd", "kaplan", "chinchilla", "palm") else "6nd"
    c_op = operator_flops(small_shape, large_shape, steps=steps, tokens_per_step=bt, convention=conv) if steps else 0.0
    paid_small = 0.0 if sm is not None else c_small
    c_large = C - paid_small - c_op
    if c_large <= 0:
        raise ScalingError(
            f"a budget of {C:.3g} FLOPs does not cover the small model and the operator ({paid_small + c_op:.3g} FLOPs)"
        )
    d_large = c_large / _fpt(law, large_shape)
    ratio = n_l / n_s
    eta = float(eta_of(ratio))
    eta_sd = curve.sd_at(ratio) if curve is not None else None
    eta_iv = curve.interval_at(ratio) if curve is not None else None
    delta, l_small = _credit(law, eta, n_l, n_s, d_small)
    delta = float(delta)
    d_eff = d_large + delta
    if not math.isfinite(d_eff) or d_eff <= 0:
        raise ScalingError(f"with eta = {eta:g} the grown model's effective tokens are not positive: growth cannot pay")
    loss_g = float(law.loss(n_l, d_eff))
    interval = None
    if eta_iv:
        lo_hi = []
        for e in eta_iv:
            dd, _ = _credit(law, e, n_l, n_s, d_small)
            lo_hi.append(float(law.loss(n_l, max(d_large + float(dd), 1.0))))
        interval = (min(lo_hi), max(lo_hi))
    scratch_tokens = d_eff
    scratch_flops = scratch_tokens * _fpt(law, large_shape)
    n_o, d_o = law.frontier(C)
    l_o = float(law.loss(n_o, d_o))
    try:
        c_o = float(law.flops_for_loss(loss_g))
    except ScalingError:
        c_o = float("inf")
    s1 = 1.0 - (c_op + c_large) / scratch_flops
    s2 = 1.0 - (c_small + c_op + c_large) / scratch_flops
    s3 = 1.0 - (paid_small + c_op + c_large) / c_o
    s3_low = None
    eta_low = eta_iv[0] if eta_iv else float("nan")
    if eta_iv:
        dd, _ = _credit(law, eta_low, n_l, n_s, d_small)
        l_low = float(law.loss(n_l, max(d_large + float(dd), 1.0)))
        try:
            s3_low = 1.0 - (paid_small + c_op + c_large) / float(law.flops_for_loss(l_low))
        except ScalingError:
            s3_low = -1.0
    reasons = []
    credit_flops = delta * _fpt(law, large_shape)
    if s3 > min_savings and (s3_low is None or s3_low > 0):
        verdict = "grow"
        reasons.append(
            f"the grown {si(large_shape.params)} model reaches {loss_g:.4f}, below the {l_o:.4f} of a "
            f"compute-optimal scratch model with the same budget ({_pct(s3)} FLOPs to the same loss)"
        )
    elif s3 > 0:
        verdict = "train from scratch"
        why = (
            f"below the {100 * min_savings:g}% worth the extra machinery"
            if s3 <= min_savings
            else f"not robust: at the low end of eta's 95% interval ({eta_low:.3g}) it is {_pct(s3_low)}"
        )
        reasons.append(
            f"the best growth plan reaches {loss_g:.4f} vs {l_o:.4f} for a compute-optimal scratch model "
            f"of the same budget: a predicted saving of {_pct(s3)}, {why}"
        )
    else:
        verdict = "train from scratch"
        reasons.append(
            f"the best growth plan reaches {loss_g:.4f}, no better than {l_o:.4f} for a compute-optimal "
            f"scratch model of the same budget ({si(float(n_o))} params x {si(float(d_o))} tokens)"
        )
        if sm is None:
            reasons.append(
                f"the small model and operator cost {sci(c_small + c_op)} FLOPs but the calibrated credit "
                f"(eta = {eta:.3g}) is worth only {si(delta)} large-model tokens = {sci(credit_flops)} FLOPs"
            )
        else:
            reasons.append(
                f"even with the small model sunk, its credit of {si(delta)} tokens (eta = {eta:.3g}) does "
                f"not make up for the {sci(c_op)} operator FLOPs and the larger-than-optimal size"
            )
        if eta <= 0:
            reasons.append(f"eta = {eta:.3g} <= 0: the measured grown models did no better than scratch")
    if curve is not None:
        words = "total" if convention == "total" else "non-embedding"
        if curve.extrapolated(ratio):
            flags.append(
                Flag(
                    "eta_extrapolated",
                    f"this plan grows x{ratio:.3g} ({words} parameters), but eta was measured only at "
                    f"{curve.measured_at()}: beyond the measured ratios the nearest measured eta ({eta:.3g}) is "
                    "used unchanged",
                )
            )
        notes.append(f"eta at this plan's growth of x{ratio:.3g}: {curve.how(ratio)}")
        if eta_iv is None:
            notes.append(
                "eta has no 95% interval here (a calibration of one seed): the verdict's robustness is unchecked"
            )
        notes.append(scale_note(curve, large_shape.params))
        notes += curve.notes
    return GrowthPlan(
        budget=C,
        law=law.name,
        flops_convention=conv,
        method=method,
        eta=eta,
        eta_sd=eta_sd,
        eta_source=eta_source,
        small=small_shape,
        small_params=n_s,
        small_tokens=float(d_small),
        small_flops=float(c_small),
        small_loss=float(l_small),
        small_sunk=sm is not None,
        small_run=sm.run_dir if sm else None,
        large=large_shape,
        large_params=n_l,
        large_tokens=float(d_large),
        large_flops=float(c_large),
        operator_steps=steps,
        operator_tokens=float(steps * bt),
        operator_flops=float(c_op),
        credit_tokens=delta,
        loss=loss_g,
        loss_interval=interval,
        scratch_same_tokens=float(scratch_tokens),
        scratch_same_flops=float(scratch_flops),
        optimal_params=float(n_o),
        optimal_tokens=float(d_o),
        optimal_loss=l_o,
        optimal_flops_to_loss=c_o,
        savings_not_charged=float(s1),
        savings_charged=float(s2),
        savings_vs_optimal=float(s3),
        verdict=verdict,
        reasons=reasons,
        notes=notes,
        flags=flags,
        eta_interval=eta_iv,
        growth_ratio=float(ratio),
        ratio_convention=convention,
        eta_measured_ratios=[p.ratio for p in curve.points] if curve is not None else [],
    )


# the search grid's axes, for the flags: what, and how an edge value reads
_AXES = (
    ("the large model's size", lambda v: f"{v:.3g}x the compute-optimal scratch size"),
    ("the growth factor (large / small parameters)", lambda v: f"x{v:.3g}"),
    ("the small model's share of the budget", lambda v: f"{100 * v:.3g}%"),
)


def _grid_edge_flags(index, *axes: np.ndarray) -> list[Flag]:
    """A ``grid_edge`` flag for every axis of the search (``axes``: its grid values, in the order
    of :data:`_AXES`) on which the chosen ``index`` is the first or the last value."""
    flags = []
    for (what, show), i, values in zip(_AXES, index, axes):
        i = int(i)
        if i not in (0, len(values) - 1):
            continue
        edge, beyond = ("lower", "below") if i == 0 else ("upper", "above")
        msg = (
            f"{what} is at the {edge} edge of the search grid ({show(float(values[i]))}): the best plan "
            f"may lie {beyond} it, so this is the grid's best choice, not an optimum"
        )
        if what.startswith("the large") and edge == "upper":
            msg += "; the credit model is extrapolated far"
        flags.append(Flag("grid_edge", msg))
    return flags


__all__ = ["plan_growth", "GrowthPlan", "read_small_run", "SmallModel"]
