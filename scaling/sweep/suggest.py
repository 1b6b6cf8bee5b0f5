"""Sweep design: which runs to do next so that the law you fit is most certain where it matters.

Given the runs so far and a compute allowance for more, :func:`suggest_runs` proposes the next
(N, D) runs on isoFLOP lines that most shrink the uncertainty of one quantity: the compute-optimal
exponent ``a`` (N_opt ∝ C^a) or the loss predicted at a target budget (``objective="loss"``).

How (a pseudo-Bayesian c-optimal design, averaged over the bootstrap):

1. Fit the Chinchilla surface to the runs with the fitter's Approach 3 (:mod:`scaling.fit.approach3`:
   Huber delta 1e-3 on log-loss residuals, summed, the paper's 4,500 starts) and its bootstrap over
   runs (:mod:`scaling.fit.bootstrap`, warm-started refits): samples theta_s of
   theta = (log A, log B, log E, alpha, beta).
2. Linearise around each sample: a run at (N, D) adds the row j = d log L / d theta to the
   Jacobian, i.e. information j j^T / sigma^2 (sigma: the seed noise in log loss, estimated from the
   residuals unless given). The variance of the target g(theta) after adding a set S of runs is
   grad g^T (P_0 + sum_S j j^T / sigma^2)^-1 grad g, with P_0 the information of the runs so far.
3. Average that variance over the bootstrap samples (so a design is judged under every law the
   data still allow, not just the point estimate) and pick runs greedily within the allowance:
   the best variance reduction per FLOP, and separately the best reduction outright; the better
   of the two final designs wins (the usual guarantee for budgeted greedy selection). Each pick
   is a rank-one update (Sherman-Morrison), so hundreds of candidates cost milliseconds.

Candidates lie on isoFLOP lines from the smallest budget run so far up to the allowance itself
(factor ``budget_ratio`` apart), at sizes ``size_ratio``^k times each line's current optimum.

:func:`grid_runs` is the baseline a team would otherwise run: a uniform isoFLOP grid (budgets a
factor 2 apart, sizes log-uniform over 1/4..4 x the optimum) scaled to spend the same allowance.
:func:`simulate` runs both against a known law and reports the interval of ``a`` each design
leads to after refitting (benchmarks/bench_design.py: the full version).

The surface, its Jacobian and G come from the fitter (:mod:`scaling.fit._surface`,
:func:`scaling.laws.chinchilla.chinchilla_G`), the simulated runs from :mod:`scaling.fit.synthetic`.
This module imports numpy and pandas (scipy inside the fitting functions); no torch, no matplotlib.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ScalingError
from ..fit._surface import jacobian, polish
from ..fit._surface import predict_log_loss as log_loss
from ..fit.bootstrap import bootstrap_approach3
from ..fit.multistart import approach3_optimum
from ..fit.synthetic import isoflop_sweep as initial_sweep
from ..fit.synthetic import simulate_losses as _simulate_losses
from ..laws.chinchilla import chinchilla_G
from ..runs import as_runs, require_columns
from ..units import si
from .spec import parse_spec

NOISE_FLOOR = 1e-3


# ---------------------------------------------------------------------------------------------
# the surface in log space and its Approach 3 fit


def fit_surface(logN, logD, logL, *, theta0=None, delta: float = 1e-3) -> np.ndarray:
    """Approach 3 on log-space arrays, by the fitter (:mod:`scaling.fit.multistart`): theta =
    (log A, log B, log E, alpha, beta).

    From ``theta0`` (a warm start) a single L-BFGS-B polish; otherwise the fitter's full search
    over the paper's 4,500 starts.
    """
    logN, logD, logL = (np.asarray(x, dtype=float) for x in (logN, logD, logL))
    if theta0 is not None:
        return np.asarray(polish(np.asarray(theta0, dtype=float), logN, logD, logL, delta).x, dtype=float)
    return np.asarray(approach3_optimum(logN, logD, logL, delta=delta).theta, dtype=float)


def bootstrap_surface(logN, logD, logL, theta_hat, *, n: int = 200, seed: int = 0, delta: float = 1e-3) -> np.ndarray:
    """The fitter's bootstrap over runs (:func:`scaling.fit.bootstrap.bootstrap_approach3`: refits
    warm-started from ``theta_hat``): an (n', 5) array of the converged samples."""
    res = bootstrap_approach3(
        np.asarray(logN, float),
        np.asarray(logD, float),
        np.asarray(logL, float),
        np.asarray(theta_hat, float),
        n_boot=int(n),
        seed=seed,
        delta=delta,
    )
    out = res.theta[res.ok]
    if len(out) < 2:
        raise ScalingError("the bootstrap failed on almost every resample: too few distinct runs to design from")
    return out


# ---------------------------------------------------------------------------------------------
# the quantities a design targets


def exponent_a(theta) -> np.ndarray:
    """a = beta / (alpha + beta): N_opt ∝ C^a."""
    theta = np.asarray(theta, dtype=float)
    return theta[..., 4] / (theta[..., 3] + theta[..., 4])


def frontier_log_loss(theta, C: float) -> np.ndarray:
    """log of the compute-optimal loss at budget C (6ND), vectorised over theta (..., 5)."""
    theta = np.asarray(theta, dtype=float)
    a, b, e, al, be = (theta[..., k] for k in range(5))
    A, B, E = np.exp(a), np.exp(b), np.exp(e)
    G = chinchilla_G(al, A, be, B)
    s = C / 6.0
    N = G * s ** (be / (al + be))
    D = s / N
    return np.log(E + A * N**-al + B * D**-be)


def _target_fn(objective: str, target: float | None):
    if objective == "a":
        return exponent_a
    if objective == "loss":
        if target is None:
            raise ScalingError("objective 'loss' needs a target budget (--target)")
        return lambda th: frontier_log_loss(th, target)
    raise ScalingError(f"objective: {objective!r} is not one of 'a', 'loss'")


def _grad(fn, theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a vectorised fn at each row of theta: (S, 5)."""
    out = np.empty_like(theta)
    for k in range(theta.shape[1]):
        e = np.zeros(theta.shape[1])
        e[k] = h
        out[:, k] = (fn(theta + e) - fn(theta - e)) / (2 * h)
    return out


# ---------------------------------------------------------------------------------------------
# candidates, the greedy design and the grid baseline


@dataclass
class SuggestedRun:
    params: float
    tokens: float
    flops: float
    tokens_per_param: float
    budget_level: float  # the isoFLOP line it sits on (= flops)
    offset: float  # params / the line's current optimum
    gain: float  # share of the criterion's variance this run removed when it was picked

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Design:
    """The runs to do next, and what they are expected to buy."""

    objective: str  # "a" or "loss"
    target: float | None  # target budget for objective "loss" (and reporting)
    allowance: float
    spent: float
    runs: list[SuggestedRun]
    noise: float  # sigma of log loss used
    n_samples: int
    current: dict[str, float]  # point estimate, bootstrap interval and sd of the target now
    predicted_sd: float  # linearised posterior sd after the suggested runs (bootstrap-averaged)
    grid: dict[str, Any]  # the uniform-grid baseline with the same allowance
    theta: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return d

    def summary(self) -> str:
        what = "exponent a (N_opt ∝ C^a)" if self.objective == "a" else f"loss at {self.target:.3g} FLOPs"
        lines = [
            f"target: {what}; now {self.current['estimate']:.4g} (95% bootstrap interval "
            f"{self.current['lo']:.4g} .. {self.current['hi']:.4g}, sd {self.current['sd']:.3g})",
            f"allowance {self.allowance:.3g} FLOPs, suggested runs spend {self.spent:.3g} "
            f"({len(self.runs)} runs); noise sigma {self.noise:.3g} in log loss",
            "",
            f"{'FLOPs':>9}  {'params':>7}  {'tokens':>7}  {'tok/param':>9}  {'x optimum':>9}  {'gain':>6}",
        ]
        for r in self.runs:
            lines.append(
                f"{r.flops:9.3g}  {si(r.params):>7}  {si(r.tokens):>7}  {r.tokens_per_param:9.1f}  "
                f"{r.offset:9.2f}  {100 * r.gain:5.1f}%"
            )
        lines += [
            "",
            f"predicted sd of the target after these runs: {self.predicted_sd:.3g} "
            f"(uniform grid with the same compute: {self.grid['predicted_sd']:.3g}, "
            f"{len(self.grid['runs'])} runs)",
        ]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _candidates(
    theta: np.ndarray, C_lo: float, allowance: float, budget_ratio: float, size_ratio: float, n_sizes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(N, D, C, offset) of the candidate runs: isoFLOP lines from C_lo up to the allowance."""
    top = allowance
    n_lines = max(1, int(math.floor(math.log(top / C_lo) / math.log(budget_ratio))) + 1)
    Cs = top / budget_ratio ** np.arange(n_lines)
    k = np.arange(n_sizes) - (n_sizes - 1) / 2
    offs = size_ratio**k
    th = theta
    a = float(exponent_a(th))
    A, B = math.exp(th[0]), math.exp(th[1])
    G = chinchilla_G(th[3], A, th[4], B)
    Ns, Ds, Cc, Of = [], [], [], []
    for C in Cs:
        N0 = G * (C / 6.0) ** a
        for o in offs:
            N = N0 * o
            Ns.append(N)
            Ds.append(C / (6.0 * N))
            Cc.append(C)
            Of.append(o)
    return np.array(Ns), np.array(Ds), np.array(Cc), np.array(Of)


def _posterior_cov(samples, logN, logD, noise, ridge: float = 1e-8) -> np.ndarray:
    """Per-sample linearised covariance of theta given the runs so far: (S, 5, 5)."""
    J = jacobian(samples, logN, logD)  # (S, n, 5)
    P = np.einsum("sni,snj->sij", J, J) / noise**2
    scale = np.trace(P, axis1=1, axis2=2)[:, None, None] / 5.0
    P = P + ridge * scale * np.eye(5)
    return np.linalg.inv(P)


def _greedy(Sigma, g, Jc, cost, allowance, noise, per_flop: bool, max_runs: int):
    """Greedy selection; returns (picked indices, gains, final mean variance)."""
    Sigma = Sigma.copy()
    var0 = float(np.mean(np.einsum("si,sij,sj->s", g, Sigma, g)))
    remaining = allowance
    picked, gains = [], []
    avail = np.ones(len(cost), dtype=bool)
    var = var0
    while len(picked) < max_runs:
        ok = avail & (cost <= remaining * (1 + 1e-9))
        if not ok.any():
            break
        SJ = np.einsum("sij,scj->sci", Sigma, Jc)  # (S, c, 5)
        gSJ = np.einsum("si,sci->sc", g, SJ)
        jSJ = np.einsum("sci,sci->sc", Jc, SJ)
        red = np.mean(gSJ**2 / (noise**2 + jSJ), axis=0)  # mean variance reduction per candidate
        score = red / cost if per_flop else red.copy()
        score[~ok] = -np.inf
        j = int(np.argmax(score))
        if not np.isfinite(score[j]) or red[j] <= 0:
            break
        v = SJ[:, j, :]
        Sigma = Sigma - np.einsum("si,sj->sij", v, v) / (noise**2 + jSJ[:, j])[:, None, None]
        picked.append(j)
        gains.append(float(red[j]) / var0)
        var -= float(red[j])
        remaining -= cost[j]
        avail[j] = False
    var_final = float(np.mean(np.einsum("si,sij,sj->s", g, Sigma, g)))
    return picked, gains, var_final


def _design_variance(Sigma, g, Jsel, noise) -> float:
    """Mean over samples of the target's variance after adding runs with Jacobian rows Jsel (S, k, 5)."""
    S = Sigma.copy()
    for j in range(Jsel.shape[1]):
        v = np.einsum("sij,sj->si", S, Jsel[:, j, :])
        S = S - np.einsum("si,sj->sij", v, v) / (noise**2 + np.einsum("si,si->s", Jsel[:, j, :], v))[:, None, None]
    return float(np.mean(np.einsum("si,sij,sj->s", g, S, g)))


def grid_runs(
    theta, allowance: float, *, n_budgets: int = 3, n_sizes: int = 5, budget_ratio: float = 2.0, span: float = 4.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The uniform isoFLOP grid that spends ``allowance``: budgets C_top / ratio^i (i < n_budgets),
    ``n_sizes`` sizes log-uniform over [N_opt / span, N_opt * span] on each (N_opt from theta)."""
    theta = np.asarray(theta, dtype=float)
    rel = budget_ratio ** -np.arange(n_budgets)
    C_top = allowance / (n_sizes * rel.sum())
    a = float(exponent_a(theta))
    A, B = math.exp(theta[0]), math.exp(theta[1])
    G = chinchilla_G(theta[3], A, theta[4], B)
    offs = np.exp(np.linspace(-math.log(span), math.log(span), n_sizes))
    N, D, C = [], [], []
    for r in rel:
        c = C_top * r
        N0 = G * (c / 6.0) ** a
        for o in offs:
            N.append(N0 * o)
            D.append(c / (6.0 * N0 * o))
            C.append(c)
    return np.array(N), np.array(D), np.array(C)


def _runs_arrays(runs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    df = as_runs(runs)
    require_columns(df, ["params", "tokens", "loss"], "sweep design")
    N = np.asarray(df["params"], dtype=float)
    D = np.asarray(df["tokens"], dtype=float)
    L = np.asarray(df["loss"], dtype=float)
    if len(np.unique(N)) < 3 or len(N) < 6:
        raise ScalingError(
            f"the sweep design fits the Chinchilla surface to the runs so far: it needs at least 6 runs "
            f"at 3 or more sizes (got {len(N)} runs at {len(np.unique(N))} sizes)"
        )
    return N, D, L


def suggest_runs(
    runs,
    allowance: float,
    *,
    target: float | None = None,
    objective: str = "a",
    noise: float | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    samples: np.ndarray | None = None,
    theta: np.ndarray | None = None,
    budget_ratio: float = 2.0,
    size_ratio: float = 2.0**0.5,
    n_sizes: int = 9,
    max_runs: int = 64,
    min_flops: float | None = None,
    delta: float = 1e-3,
) -> Design:
    """Propose the next runs (within ``allowance`` FLOPs in total) that most shrink the uncertainty
    of the exponent ``a`` (objective "a") or of the log loss predicted at ``target`` FLOPs ("loss").

    runs: the runs so far (a runs DataFrame or anything ``load_runs`` reads).
    noise: seed noise, the sd of log loss (default: 1.4826 x the median absolute residual of the fit,
        at least 1e-3).
    bootstrap/seed: resamples of the fit (warm-started) whose average the design optimises.
    samples/theta: give the bootstrap samples (S, 5) and the point estimate in log space
        (log A, log B, log E, alpha, beta) to skip fitting (tests, repeated calls).
    budget_ratio, size_ratio, n_sizes: the candidate isoFLOP lines (a factor apart, from the
        smallest budget so far, or ``min_flops``, up to the allowance) and sizes on each line.
    """
    allowance = float(allowance)
    if not (math.isfinite(allowance) and allowance > 0):
        raise ScalingError("--budget: the compute allowance for new runs must be a positive number of FLOPs")
    if target is not None and not (math.isfinite(target) and target > 0):
        raise ScalingError("--target must be a positive number of FLOPs")
    fn = _target_fn(objective, target)
    N, D, L = _runs_arrays(runs)
    logN, logD, logL = np.log(N), np.log(D), np.log(L)
    if theta is None:
        theta = fit_surface(logN, logD, logL, delta=delta)
    theta = np.asarray(theta, dtype=float)
    if samples is None:
        samples = bootstrap_surface(logN, logD, logL, theta, n=bootstrap, seed=seed, delta=delta)
    samples = np.asarray(samples, dtype=float)
    resid = log_loss(theta[None, :], logN, logD)[0] - logL
    sigma = float(noise) if noise is not None else max(NOISE_FLOOR, 1.4826 * float(np.median(np.abs(resid))))
    notes = []
    C_runs = 6.0 * N * D
    C_lo = float(min_flops) if min_flops is not None else float(np.min(C_runs))
    if C_lo > allowance:
        notes.append(
            f"the allowance {allowance:.3g} is below the smallest budget so far ({C_lo:.3g}): candidates "
            f"start at the allowance"
        )
        C_lo = allowance
    Nc, Dc, Cc, Oc = _candidates(theta, C_lo, allowance, budget_ratio, size_ratio, n_sizes)
    Sigma = _posterior_cov(samples, logN, logD, sigma)
    g = _grad(fn, samples)
    Jc = jacobian(samples, np.log(Nc), np.log(Dc))  # (S, c, 5)
    best = None
    for per_flop in (True, False):
        picked, gains, var = _greedy(Sigma, g, Jc, Cc, allowance, sigma, per_flop, max_runs)
        if best is None or var < best[2]:
            best = (picked, gains, var)
    picked, gains, var = best
    order = sorted(range(len(picked)), key=lambda i: (-Cc[picked[i]], Nc[picked[i]]))
    sugg = [
        SuggestedRun(
            params=float(Nc[picked[i]]),
            tokens=float(Dc[picked[i]]),
            flops=float(Cc[picked[i]]),
            tokens_per_param=float(Dc[picked[i]] / Nc[picked[i]]),
            budget_level=float(Cc[picked[i]]),
            offset=float(Oc[picked[i]]),
            gain=float(gains[i]),
        )
        for i in order
    ]
    vals = fn(samples)
    lo, hi = np.quantile(vals, [0.025, 0.975])
    var_now = float(np.mean(np.einsum("si,sij,sj->s", g, Sigma, g)))
    gN, gD, gC = grid_runs(theta, allowance)
    Jg = jacobian(samples, np.log(gN), np.log(gD))
    var_grid = _design_variance(Sigma, g, Jg, sigma)
    if not sugg:
        notes.append("no candidate run fits the allowance")
    return Design(
        objective=objective,
        target=target,
        allowance=allowance,
        spent=float(sum(r.flops for r in sugg)),
        runs=sugg,
        noise=sigma,
        n_samples=len(samples),
        current={
            "estimate": float(fn(theta[None, :])[0]),
            "lo": float(lo),
            "hi": float(hi),
            "sd": float(np.std(vals)),
            "linearised_sd": math.sqrt(max(var_now, 0.0)),
        },
        predicted_sd=math.sqrt(max(var, 0.0)),
        grid={
            "runs": [{"params": float(a), "tokens": float(b), "flops": float(c)} for a, b, c in zip(gN, gD, gC)],
            "predicted_sd": math.sqrt(max(var_grid, 0.0)),
            "spent": float(gC.sum()),
        },
        theta=[float(t) for t in theta],
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# the sweep spec the runner executes


KIND_KEYS = ("name", "kind", "budgets", "tokens_per_param", "size_multipliers", "params", "runs")


def sweep_spec(
    design: Design, name: str = "suggested", *, template: dict | None = None, seeds: Sequence[int] | None = None
) -> dict[str, Any]:
    """The suggested runs as a sweep spec (a dict in the shape of ``scaling.sweep.SweepSpec``).

    kind "list", one ``[[runs]]`` entry (params, tokens) per suggested run. ``template``: a spec
    (e.g. the TOML of the sweep that produced the runs so far, as a dict) whose model, train and
    data tables, seeds and FLOP convention the new runs should share; its kind-specific keys are
    dropped.
    """
    spec: dict[str, Any] = {}
    for k, v in (template or {}).items():
        if k not in KIND_KEYS:
            spec[k] = v
    what = "exponent a" if design.objective == "a" else f"loss at {design.target:.3g} FLOPs"
    spec["name"] = name
    spec["kind"] = "list"
    spec["description"] = (
        f"suggested by scaling suggest: {len(design.runs)} runs, {design.spent:.3g} FLOPs, to "
        f"shrink the interval of the {what}"
    )
    if seeds is not None:
        spec["seeds"] = [int(x) for x in seeds]
    spec.setdefault("seeds", [0])
    spec["runs"] = [{"params": float(f"{r.params:.6g}"), "tokens": float(f"{r.tokens:.6g}")} for r in design.runs]
    return spec


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ScalingError(f"cannot write {v} to TOML")
        return repr(v) if (v == 0 or 1e-4 <= abs(v) < 1e6) else f"{v:.6g}".replace("e+", "e")
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise ScalingError(f"cannot write {type(v).__name__} to TOML")


def dumps_toml(spec: dict[str, Any], header: Sequence[str] = ()) -> str:
    """A small TOML writer for sweep specs: scalars and lists at the top, then [tables], then
    [[arrays of tables]] (values inside are scalars, lists or inline tables)."""
    lines = [f"# {h}" for h in header]
    tables = {k: v for k, v in spec.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in spec.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
    for k, v in spec.items():
        if k not in tables and k not in arrays:
            lines.append(f"{k} = {_toml_value(v)}")
    for k, v in tables.items():
        lines += ["", f"[{k}]"] + [f"{kk} = {_toml_value(vv)}" for kk, vv in v.items()]
    for k, v in arrays.items():
        for item in v:
            lines += ["", f"[[{k}]]"] + [f"{kk} = {_toml_value(vv)}" for kk, vv in item.items()]
    return "\n".join(lines) + "\n"


def to_sweep_toml(
    design: Design,
    name: str = "suggested",
    *,
    template: dict | None = None,
    seeds: Sequence[int] | None = None,
    validate: bool = True,
) -> str:
    """The sweep spec of :func:`sweep_spec` as TOML text, validated by ``scaling.sweep`` (so that
    ``scaling sweep run`` executes it) unless ``validate=False``."""
    spec = sweep_spec(design, name, template=template, seeds=seeds)
    if not spec["runs"]:
        raise ScalingError("no run fits the allowance: nothing to write (raise --budget)")
    if validate:
        parse_spec(spec, source=f"suggested sweep {name!r}")
    what = "exponent a" if design.objective == "a" else f"log loss at {design.target:.3g} FLOPs"
    header = [
        f"suggested by `scaling suggest`: the runs that most shrink the interval of the {what}",
        f"allowance {design.allowance:.4g} FLOPs, spent {design.spent:.4g} (6ND); predicted sd of the target "
        f"{design.current['linearised_sd']:.3g} -> {design.predicted_sd:.3g} (a uniform isoFLOP grid of the "
        f"same compute: {design.grid['predicted_sd']:.3g})",
    ]
    return dumps_toml(spec, header)


# ---------------------------------------------------------------------------------------------
# simulation: suggested runs against a uniform grid, under a known law


def _interval_width(logN, logD, logL, theta0, fn, n_boot, seed, delta=1e-3):
    th = fit_surface(logN, logD, logL, theta0=theta0, delta=delta)
    th = fit_surface(logN, logD, logL, delta=delta) if not np.all(np.isfinite(th)) else th
    S = bootstrap_surface(logN, logD, logL, th, n=n_boot, seed=seed, delta=delta)
    v = fn(S)
    lo, hi = np.quantile(v, [0.025, 0.975])
    return float(hi - lo), float(fn(th[None, :])[0])


def simulate(
    theta_true,
    *,
    budgets=(1e17, 3e17, 1e18),
    allowance: float = 1e19,
    noise: float = 0.01,
    n_trials: int = 3,
    n_boot: int = 100,
    seed: int = 0,
    objective: str = "a",
    target: float | None = 1e22,
) -> dict[str, Any]:
    """Compare the suggested design with a uniform grid of the same compute under a known law.

    For each trial: simulate the initial isoFLOP sweep (losses from the true law with log-normal
    noise), fit and bootstrap it, suggest runs within ``allowance``; then simulate the suggested
    runs and, separately, the uniform grid's runs; refit each enlarged table with its own bootstrap;
    record the width of the 95% interval of the target (``a`` or the log loss at ``target``).
    """
    theta_true = np.asarray(theta_true, dtype=float)
    fn = _target_fn(objective, target)
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(n_trials):
        N0, D0 = initial_sweep(theta_true, budgets)
        L0 = _simulate_losses(theta_true, N0, D0, noise, rng)
        logN, logD, logL = np.log(N0), np.log(D0), np.log(L0)
        th = fit_surface(logN, logD, logL)
        S = bootstrap_surface(logN, logD, logL, th, n=n_boot, seed=seed + 1000 * t)
        runs = pd.DataFrame({"params": N0, "tokens": D0, "flops": 6 * N0 * D0, "loss": L0})
        des = suggest_runs(runs, allowance, target=target, objective=objective, samples=S, theta=th, noise=noise)
        w0 = float(np.quantile(fn(S), 0.975) - np.quantile(fn(S), 0.025))
        Ns = np.array([r.params for r in des.runs])
        Ds = np.array([r.tokens for r in des.runs])
        Gn, Gd, _ = grid_runs(th, allowance)
        # the same noise draws would favour neither design; independent draws per design
        Ls = _simulate_losses(theta_true, Ns, Ds, noise, rng)
        Lg = _simulate_losses(theta_true, Gn, Gd, noise, rng)
        ws, es = _interval_width(
            np.log(np.r_[N0, Ns]), np.log(np.r_[D0, Ds]), np.log(np.r_[L0, Ls]), th, fn, n_boot, seed + 1000 * t + 1
        )
        wg, eg = _interval_width(
            np.log(np.r_[N0, Gn]), np.log(np.r_[D0, Gd]), np.log(np.r_[L0, Lg]), th, fn, n_boot, seed + 1000 * t + 2
        )
        rows.append(
            {
                "trial": t,
                "width_initial": w0,
                "width_suggested": ws,
                "width_grid": wg,
                "estimate_suggested": es,
                "estimate_grid": eg,
                "n_suggested": len(Ns),
                "n_grid": len(Gn),
                "spent_suggested": float(np.sum(6 * Ns * Ds)),
                "spent_grid": float(np.sum(6 * Gn * Gd)),
                "predicted_sd_suggested": des.predicted_sd,
                "predicted_sd_grid": des.grid["predicted_sd"],
            }
        )
    ws = np.array([r["width_suggested"] for r in rows])
    wg = np.array([r["width_grid"] for r in rows])
    return {
        "objective": objective,
        "truth": float(fn(theta_true[None, :])[0]),
        "trials": rows,
        "median_width_initial": float(np.median([r["width_initial"] for r in rows])),
        "median_width_suggested": float(np.median(ws)),
        "median_width_grid": float(np.median(wg)),
        "suggested_narrower": int(np.sum(ws < wg)),
        "n_trials": n_trials,
    }


def theta_of(law) -> np.ndarray:
    """(log A, log B, log E, alpha, beta) of a Chinchilla-form law."""
    return np.array([math.log(law.A), math.log(law.B), math.log(law.E), law.alpha, law.beta])


__all__ = [
    "Design",
    "SuggestedRun",
    "bootstrap_surface",
    "exponent_a",
    "fit_surface",
    "frontier_log_loss",
    "grid_runs",
    "initial_sweep",
    "jacobian",
    "log_loss",
    "simulate",
    "suggest_runs",
    "sweep_spec",
    "theta_of",
    "to_sweep_toml",
    "dumps_toml",
]
