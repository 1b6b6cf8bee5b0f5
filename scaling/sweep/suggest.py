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

Beside this module: :mod:`scaling.sweep.suggest_spec` writes a design as the sweep spec (TOML) the
runner executes, and :mod:`scaling.sweep.suggest_sim` runs a design and the grid against a known law
and reports the interval of the target each leads to after refitting
(benchmarks/bench_design.py: the full version).

The surface, its Jacobian and G come from the fitter (:mod:`scaling.fit._surface`,
:func:`scaling.laws.chinchilla.chinchilla_G`). This module imports numpy (scipy inside the fitting
functions); no torch, no matplotlib.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import ScalingError
from ..fit._surface import jacobian, polish
from ..fit._surface import predict_log_loss as log_loss
from ..fit.bootstrap import bootstrap_approach3
from ..fit.multistart import approach3_optimum
from ..laws.chinchilla import chinchilla_G
from ..runs import as_runs, require_columns
from ..units import si

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


def target_fn(objective: str, target: float | None):
    """The design's target g(theta), vectorised over theta: ``a`` or the log loss at ``target`` FLOPs."""
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
    fn = target_fn(objective, target)
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
    "jacobian",
    "log_loss",
    "suggest_runs",
    "target_fn",
    "theta_of",
]
