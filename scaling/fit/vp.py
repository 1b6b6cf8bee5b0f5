"""Variable projection (VP) fit of the Chinchilla surface L = E + A N^-alpha + B D^-beta.

For fixed exponents (alpha, beta) the model is LINEAR in (E, A, B), so the 5-parameter problem
splits into an inner non-negative least-squares problem solved exactly for each (alpha, beta) and
an outer search over the 2-D (alpha, beta) plane only (:mod:`scaling.fit.vp_profile`: the profile,
its grid and its batched Newton refinement). ``fit_vp`` wraps that search with flags, a bootstrap
(each refit a Newton refinement warm-started from the full-data exponents) and a FitResult.

The 5-parameter log-space problem of Approach 3 is badly conditioned (a and alpha trade off
along a long valley); the profile over (alpha, beta) is smooth and 2-D, which makes VP a good
independent check of the Approach 3 optimum.

Choice of inner objective (documented because it is a choice): residuals are RELATIVE errors in
loss space, r = (L_pred - L) / L, which to first order equal the log-space residuals of
Approach 3 (log L_pred - log L = r - r^2/2 + ...; at r ~ 0.01 they differ by 5e-5). With
``loss="huber"`` (default) the inner objective is sum_i Huber_delta(r_i), delta = 1e-3, the same
robust loss as Approach 3; with ``loss="ls"`` it is plain least squares on r. So the VP optimum is close
to, but not identical with, the Approach 3 optimum; ``fit_vp`` fits both and flags them when
they disagree (the exponent a differs by more than ``tol_a``, or the VP solution has a LOWER
Approach-3 objective than the 5-parameter fit, which would mean the 5-parameter search stopped
short).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ScalingError
from ..laws.base import Provenance
from ..planner.result import Flag
from ..runs import data_info
from ._surface import objective as a3_objective
from .approach3 import _arrays_from, check_design, fit_approach3, split_runs, surface_law_dict
from .bootstrap import (
    chinchilla_derived,
    default_budgets,
    health,
    health_flags,
    map_chunks,
    on_bound,
    percentile_intervals,
    resample_weights,
)
from .clusters import SHORT, boot_groups, short_draw
from .flags import bound
from .result import BootstrapInfo, DataInfo, FitResult, worst_run
from .vp_profile import DELTA, GRID_STEP, newton_refine, vp_optimum


def _vp_chunk(start, count, *, N, D, L, x_hat, loss, delta, seed, h0, groups):
    W = resample_weights(len(L), count, seed, start, groups)
    x, f, eab, conv = newton_refine(np.tile(x_hat, (count, 1)), N, D, L, loss=loss, delta=delta, weights=W, h0=h0)
    out = np.column_stack([eab, x])
    short = np.zeros(count, dtype=bool) if groups is None else np.array([short_draw(w, N, D, 5) for w in W])
    return out, f, conv, short


# ------------------------------------------------------------------------------------------------
# the fit


def fit_vp(
    runs: Any,
    *,
    budgets: Sequence[float] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.95,
    loss: str = "huber",
    delta: float = DELTA,
    workers: int | None = None,
    grid_step: float = GRID_STEP,
    compare: bool = True,
    tol_a: float = 0.02,
    name: str = "vp-fit",
    bootstrap_by: Sequence[str] | str | None = None,
) -> FitResult:
    """Variable-projection fit -> FitResult (method "vp", form "chinchilla").

    runs: a runs table / path (``load_runs``), or a tuple (N, D, L) of arrays.
    loss: inner objective, "huber" (relative residuals, delta) or "ls" (see module doc).
    bootstrap, seed, workers, level, budgets, bootstrap_by: as ``fit_approach3`` (each refit: Newton
        on the profile warm-started from the full-data exponents).
    compare: also fit the 5-parameter Approach 3 surface and report both
        (``extra["approach3"]``, ``extra["comparison"]``); flag when the exponent a differs by more
        than ``tol_a`` or VP reaches a lower Approach-3 objective than the 5-parameter search.
    """
    t0 = time.perf_counter()
    df, Nv, Dv, Lv = _arrays_from(*split_runs(runs))
    check_design(Nv, Dv, "variable projection")
    if not 0 < level < 1:
        raise ScalingError(f"level: {level} must be between 0 and 1")
    if delta <= 0:
        raise ScalingError("delta: the Huber threshold must be positive")
    if bootstrap < 0:
        raise ScalingError("bootstrap: the number of resamples must be >= 0")
    budgets = tuple(float(c) for c in (budgets if budgets is not None else default_budgets(Nv, Dv)))
    groups = boot_groups(df, bootstrap_by, bootstrap)
    opt = vp_optimum(Nv, Dv, Lv, loss=loss, delta=delta, grid_step=grid_step)
    E, A, B, al, be = opt["E"], opt["A"], opt["B"], opt["alpha"], opt["beta"]
    flags: list[Flag] = []
    if not opt["converged"]:
        flags.append(Flag("not_converged", "not converged: the (alpha, beta) refinement hit its round limit"))
    for nm, v in (("E", E), ("A", A), ("B", B)):
        if not v > 0:
            flags.append(
                bound(
                    nm,
                    f"{nm} = 0 at the optimum (non-negativity constraint active): that term is absent, "
                    "the law is degenerate",
                )
            )
    if opt["on_grid_edge"]:
        flags.append(Flag("grid_edge", f"optimum at the edge of the (alpha, beta) search range ({al:.4g}, {be:.4g})"))
    degenerate = not (A > 0 and B > 0 and E >= 0)
    P = np.array([E, A, B, al, be])
    derived = {} if degenerate else {k: float(v[0]) for k, v in chinchilla_derived(P, budgets).items()}
    logN, logD, logL = np.log(Nv), np.log(Dv), np.log(Lv)
    with np.errstate(divide="ignore"):
        theta_vp = np.array(
            [
                math.log(A) if A > 0 else -np.inf,
                math.log(B) if B > 0 else -np.inf,
                math.log(E) if E > 0 else -np.inf,
                al,
                be,
            ]
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        a3_obj_vp = float(a3_objective(theta_vp, logN, logD, logL, delta, grad=False))

    intervals: dict[str, tuple[float, float]] = {}
    samples = None
    boot_info = BootstrapInfo(n=0, seed=None, level=level)
    if bootstrap > 0:
        parts = map_chunks(
            _vp_chunk,
            int(bootstrap),
            workers=workers,
            payload={
                "N": Nv,
                "D": Dv,
                "L": Lv,
                "x_hat": np.array([al, be]),
                "loss": loss,
                "delta": delta,
                "seed": seed,
                "h0": grid_step / 4,
                "groups": groups,
            },
        )
        S = np.vstack([p[0] for p in parts])
        conv = np.concatenate([p[2] for p in parts])
        short = np.concatenate([p[3] for p in parts])  # cluster resamples of one size or token count
        finite = np.all(np.isfinite(S), axis=1)
        ok = conv & finite & (S[:, 1] > 0) & (S[:, 2] > 0) & (S[:, 0] >= 0) & ~short
        samples = S[ok]
        # E >= 0 (non-negative least squares) and the exponents inside newton_refine's (1e-4, 4);
        # a refit with A or B at 0 has lost a term: the law is degenerate, it fails
        mask, counts = on_bound(
            samples, [0.0, None, None, 1e-4, 1e-4], [None, None, None, 4.0, 4.0], ("E", "A", "B", "alpha", "beta")
        )
        boot_info = health(
            int(bootstrap),
            seed,
            level,
            bound_mask=mask,
            bound_counts=counts,
            groups=groups,
            failed={
                "did not converge": int(np.sum(finite & ~conv & ~short)),
                "non-finite": int(np.sum(~finite & ~short)),
                "A or B at 0 (degenerate law)": int(np.sum(conv & finite & ~ok & ~short)),
                SHORT: int(np.sum(short)),
            },
        )
        if len(samples) >= 2:
            vals = {nm: samples[:, k] for k, nm in enumerate(("E", "A", "B", "alpha", "beta"))}
            vals.update(chinchilla_derived(samples, budgets))
            intervals = percentile_intervals(vals, level)
        else:
            samples = None
        flags += health_flags(boot_info)

    extra: dict[str, Any] = {
        "loss": loss,
        "grid_start": opt["grid_start"],
        "other_minima": opt["other_minima"],
        "approach3_objective_at_vp": a3_obj_vp,
    }
    if compare:
        a3 = fit_approach3((Nv, Dv, Lv), delta=delta, budgets=budgets)
        a_vp = be / (al + be)
        a_a3 = a3.derived.get("a", math.nan)
        cmp = {
            "a_vp": a_vp,
            "a_approach3": a_a3,
            "a_diff": a_vp - a_a3,
            "objective_approach3": a3.objective,
            "objective_vp_in_approach3_terms": a3_obj_vp,
            "params_approach3": a3.params,
        }
        extra["approach3"] = {
            "params": a3.params,
            "derived": a3.derived,
            "objective": a3.objective,
            "converged": a3.converged,
            "flags": [{"code": f.code, "message": f.message} for f in a3.flags],
        }
        extra["comparison"] = cmp
        if math.isfinite(a_a3) and abs(a_vp - a_a3) > tol_a:
            flags.append(
                Flag(
                    "vp_disagrees",
                    f"VP and the 5-parameter fit disagree: a = {a_vp:.4f} (VP) vs {a_a3:.4f} (Approach 3), "
                    f"difference {a_vp - a_a3:+.4f} > {tol_a}",
                )
            )
        if a3.objective is not None and a3_obj_vp < a3.objective * (1 - 1e-6):
            flags.append(
                Flag(
                    "approach3_stopped_short",
                    f"the VP solution has a lower Approach-3 objective ({a3_obj_vp:.6g}) than the 5-parameter "
                    f"search ({a3.objective:.6g}): the 5-parameter optimiser stopped short",
                )
            )
        if not a3.converged:
            flags.append(Flag("comparison_not_converged", "the 5-parameter comparison fit did not converge"))

    with np.errstate(divide="ignore", invalid="ignore"):
        pred = np.log(E + A * Nv**-al + B * Dv**-be)
    res = pred - logL
    residuals = {
        "rmse_log_loss": float(np.sqrt(np.mean(res**2))),
        "mae_log_loss": float(np.mean(np.abs(res))),
        "max_abs_log_loss": float(np.max(np.abs(res))),
        "rmse_rel_loss": float(np.sqrt(np.mean(np.expm1(res) ** 2))),
        "frac_within_delta": float(np.mean(np.abs(res) <= delta)),
    }
    meta = df.attrs.get("scaling", {}) if hasattr(df, "attrs") else {}
    pconv = meta.get("params_convention", "total")
    fconv = meta.get("flops_convention", "6nd")
    C = np.asarray(df["flops"], dtype=float) if "flops" in df.columns else 6.0 * Nv * Dv
    prov = Provenance(
        citation=f"variable-projection fit by scaling to {meta.get('source') or 'runs'}",
        notes=f"inner: non-negative {f'Huber (delta {delta:g})' if loss == 'huber' else 'least squares'} "
        f"on relative loss residuals; outer: (alpha, beta) grid step {grid_step:g} + Newton; "
        f"{len(Nv)} runs",
        fitted_flops=(float(C.min()), float(C.max())),
    )
    law_dict = surface_law_dict(
        (E, A, B, al, be),
        name=name,
        prov=prov,
        samples=samples,
        pconv=pconv,
        fconv=fconv,
        degenerate="A or B at 0" if degenerate else None,
    )
    extra["seconds"] = round(time.perf_counter() - t0, 4)
    return FitResult(
        method="vp",
        form="chinchilla",
        law=law_dict,
        params={"E": E, "A": A, "B": B, "alpha": al, "beta": be},
        intervals=intervals,
        derived=derived,
        objective=float(opt["objective"]),
        converged=bool(opt["converged"]),
        flags=flags,
        bootstrap=boot_info,
        data=DataInfo(**data_info(df, cols=("params", "tokens", "loss"))),
        worst_run=worst_run(df, Nv, Dv, Lv, pred),
        options={
            "loss": loss,
            "delta": delta,
            "level": level,
            "bootstrap": int(bootstrap),
            "seed": seed,
            "grid_step": grid_step,
            "compare": compare,
            "tol_a": tol_a,
            "budgets": list(budgets),
            **({"bootstrap_by": list(groups.by)} if groups is not None else {}),
        },
        residuals=residuals,
        flops_convention=fconv,
        params_convention=pconv,
        extra=extra,
    )


__all__ = ["fit_vp"]
