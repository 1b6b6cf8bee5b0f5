"""The data-constrained law of Muennighoff et al. 2023 ("Scaling Data-Constrained Language Models",
arXiv 2305.16264, eq. 5): the Chinchilla form evaluated at an *effective* data and model size.

With U unique tokens and D tokens seen (so D / U epochs), repeated tokens are worth less and less::

    U_D = min(U, D),   R_D = max(D / U - 1, 0)                     (repetitions beyond the first epoch)
    D'  = U_D + U_D R_D* (1 - exp(-R_D / R_D*))

and parameters beyond the compute-optimal size for the unique data are "repeated" parameters::

    U_N = min(N, G (U G)^(beta/alpha))                            (G as in Chinchilla: the size whose
    R_N = max(N / U_N - 1, 0)                                      compute-optimal token count is U)
    N'  = U_N + U_N R_N* (1 - exp(-R_N / R_N*))

    L(N, D, U) = E + A / N'^alpha + B / D'^beta

R_D* (R_N*) is the number of repetitions (excess-size multiples) after which the value of more
of them has decayed by 1/e. Published C4 fit: log A = 6.255414, log B = 7.3049974,
log E = 0.6254804, alpha = beta = 0.3526596, R_D* = 15.387756, R_N* = 5.309743, which gives the
paper's check values L(6.34e9, 242e9, 25e9) = 2.2256440889984477 and
L(8.67e9, 178e9, 25e9) = 2.2269634075087867.

Reductions: with ``U=None`` (or ``U = inf``) the law *is* the Chinchilla law with the same
(E, A, B, alpha, beta). With U >= D the data term is Chinchilla's (nothing is repeated); the
parameter term still discounts a model larger than U_N, the compute-optimal size for all U
unique tokens (for this fit U_N = G^2 U ≈ U / 19.6), so a run with U >= D and at least ~20
tokens per parameter is exactly Chinchilla. The loss never increases when U grows.

The efficiency of repeated data, D' / D, is 0.93 at 4 epochs and 0.66 at 16 under the C4 fit
(:meth:`DataConstrainedLaw.data_efficiency`).

The constrained allocation (the best N for a budget C when only U unique tokens exist) has no
closed form; :func:`scaling.planner.constrained.data_constrained_plan` solves it.
"""

from __future__ import annotations

import math

import numpy as np

from .._solve import bisect_log
from ..errors import ScalingError
from .base import Provenance, as_array, maybe_scalar
from .chinchilla import ChinchillaLaw

MUENNIGHOFF = (
    "Muennighoff et al. 2023, Scaling Data-Constrained Language Models, arXiv:2305.16264",
    "https://arxiv.org/abs/2305.16264",
)
# Published C4 fit (paper section 3 / appendix; parameters in logs for A, B, E)
C4_FIT = {
    "log_A": 6.255414,
    "log_B": 7.3049974,
    "log_E": 0.6254804,
    "alpha": 0.3526596,
    "beta": 0.3526596,
    "R_D_star": 15.387756,
    "R_N_star": 5.309743,
}


def _unique(U, what: str = "unique tokens") -> np.ndarray:
    """U as a float array; positive, may be +inf (unlimited data)."""
    arr = np.asarray(U, dtype=float)
    if arr.size and np.any(np.isnan(arr)):
        raise ScalingError(f"{what} must be numbers")
    if arr.size and np.any(arr <= 0):
        raise ScalingError(f"{what} must be positive")
    return arr


class DataConstrainedLaw(ChinchillaLaw):
    """Chinchilla form in effective parameters and effective data (Muennighoff et al. 2023, eq. 5).

    ``loss(N, D, U=None)``: U unique tokens (None: unlimited, i.e. Chinchilla). The unconstrained
    queries (``frontier``, ``flops_for_loss``, ...) are those of the underlying Chinchilla law;
    :meth:`chinchilla` returns it as a plain :class:`ChinchillaLaw`.
    """

    form = "datacon"
    param_names = ("E", "A", "B", "alpha", "beta", "R_D_star", "R_N_star")

    def __init__(self, E: float, A: float, B: float, alpha: float, beta: float, R_D_star: float, R_N_star: float, **kw):
        super().__init__(E, A, B, alpha, beta, **kw)
        for k, v in (("R_D_star", R_D_star), ("R_N_star", R_N_star)):
            if not (np.isfinite(v) and v > 0):
                raise ScalingError(f"data-constrained law parameter {k} must be positive and finite, got {v}")
        self.R_D_star, self.R_N_star = float(R_D_star), float(R_N_star)

    def chinchilla(self) -> ChinchillaLaw:
        """The same surface without a data constraint (U = inf)."""
        law = ChinchillaLaw(
            self.E,
            self.A,
            self.B,
            self.alpha,
            self.beta,
            name=f"{self.name} (unconstrained)",
            provenance=self.provenance,
        )
        law.flops_convention, law.params_convention = self.flops_convention, self.params_convention
        return law

    # --- effective quantities -------------------------------------------------------------
    def unique_params(self, U):
        """U_N before the min with N: the compute-optimal size whose optimal token count is U."""
        U = _unique(U)
        G = self.G
        with np.errstate(over="ignore"):
            return maybe_scalar(G * (U * G) ** (self.beta / self.alpha))

    def effective_tokens(self, D, U):
        """D' = U_D + U_D R_D* (1 - exp(-R_D / R_D*)), U_D = min(U, D), R_D = max(D/U - 1, 0)."""
        D = as_array(D, "tokens")
        U = _unique(U)
        UD = np.minimum(U, D)
        with np.errstate(invalid="ignore", divide="ignore"):
            RD = np.maximum(np.where(np.isinf(U), 0.0, D / U - 1.0), 0.0)
        return maybe_scalar(UD + UD * self.R_D_star * -np.expm1(-RD / self.R_D_star))

    def effective_params(self, N, U):
        """N' = U_N + U_N R_N* (1 - exp(-R_N / R_N*)), U_N = min(N, G (U G)^(beta/alpha))."""
        N = as_array(N, "params")
        UN = np.minimum(N, np.asarray(self.unique_params(U), dtype=float))
        RN = np.maximum(N / UN - 1.0, 0.0)
        return maybe_scalar(UN + UN * self.R_N_star * -np.expm1(-RN / self.R_N_star))

    def data_efficiency(self, epochs):
        """Value of D tokens seen over ``epochs`` epochs relative to D fresh tokens: D' / D."""
        e = as_array(epochs, "epochs")
        if np.any(e < 1):
            raise ScalingError("epochs must be at least 1")
        return maybe_scalar(self.effective_tokens(e, 1.0) / e)

    # --- the loss -------------------------------------------------------------------------
    def loss(self, N, D, U=None):
        if U is None:
            return super().loss(N, D)
        Np = np.asarray(self.effective_params(N, U), dtype=float)
        Dp = np.asarray(self.effective_tokens(D, U), dtype=float)
        return maybe_scalar(self.E + self.A * Np**-self.alpha + self.B * Dp**-self.beta)

    def loss_floor(self, U, N=None):
        """The lowest loss reachable with U unique tokens (any amount of compute), or with a
        model of N parameters trained on any number of passes over U tokens."""
        U = _unique(U)
        Dmax = U * (1.0 + self.R_D_star)
        if N is None:
            UN = np.asarray(self.unique_params(U), dtype=float)
            Nmax = UN * (1.0 + self.R_N_star)
        else:
            Nmax = np.asarray(self.effective_params(N, U), dtype=float)
        with np.errstate(divide="ignore"):
            return maybe_scalar(self.E + self.A * Nmax**-self.alpha + self.B * Dmax**-self.beta)

    def tokens_for_loss(self, N, target, U=None):
        """Tokens (total, repeats included) a size-N model needs to reach ``target`` (inf if never)."""
        if U is None:
            return super().tokens_for_loss(N, target)
        N = as_array(N, "params")
        t = np.asarray(target, dtype=float)
        U = _unique(U)
        N, t, U = np.broadcast_arrays(N, t, U)
        # the loss is decreasing in D; bisect in log D where the target is reachable
        reach = t > np.asarray(self.loss_floor(U, N), dtype=float)
        lo = np.full(N.shape, 1.0)
        hi = np.full(N.shape, 1e40)
        safe_t = np.where(reach, t, np.asarray(self.loss_floor(U, N)) + 1.0)
        D = bisect_log(lambda d: np.asarray(self.loss(N, d, U)) - safe_t, lo, hi)
        return maybe_scalar(np.where(reach, D, np.inf))


def muennighoff_2023() -> DataConstrainedLaw:
    p = C4_FIT
    return DataConstrainedLaw(
        math.exp(p["log_E"]),
        math.exp(p["log_A"]),
        math.exp(p["log_B"]),
        p["alpha"],
        p["beta"],
        p["R_D_star"],
        p["R_N_star"],
        name="muennighoff-2023",
        provenance=Provenance(
            *MUENNIGHOFF,
            notes="data-constrained law (eq. 5) fitted on C4 runs (Huber on log loss, delta 1e-3, L-BFGS from a "
            "grid): log A = 6.255414, log B = 7.3049974, log E = 0.6254804, alpha = beta = 0.3526596, "
            "R_D* = 15.387756, R_N* = 5.309743. loss(N, D, U) takes the unique tokens U; without U "
            "it is the unconstrained Chinchilla surface of the same fit",
            # the 182 runs of the fit span 4.3e15 .. 9.3e21 FLOPs (6ND)
            fitted_flops=(4.26e15, 9.26e21),
        ),
    )


__all__ = ["DataConstrainedLaw", "muennighoff_2023", "C4_FIT"]
