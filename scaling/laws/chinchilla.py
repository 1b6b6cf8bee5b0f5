"""The Chinchilla parametric loss surface (Hoffmann et al. 2022, arXiv 2203.15556, eq. 2).

    L(N, D) = E + A / N**alpha + B / D**beta

N counts all parameters (embeddings included), D training tokens, L nats per token.
Under C = 6 N D the compute-optimal allocation has a closed form (paper eq. 4):

    G = (alpha A / (beta B)) ** (1 / (alpha + beta)),  a = beta / (alpha + beta),  b = alpha / (alpha + beta)
    N_opt(C) = G (C / 6) ** a,   D_opt(C) = (C / 6) ** b / G

and along that frontier  L_opt(C) = E + K (C / 6) ** (-gamma)  with  gamma = alpha beta / (alpha + beta),
K = A G**-alpha + B G**beta, which inverts to the least compute that reaches a target loss.
"""

from __future__ import annotations

import numpy as np

from ..errors import ScalingError
from .base import Law, as_array, maybe_scalar


def chinchilla_G(alpha, A, beta, B):
    """The allocation constant of L = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, eq. 4):
    G = (alpha A / (beta B))^(1/(alpha+beta)), so that N_opt = G (C/6)^a and D_opt = (C/6)^b / G.
    Vectorised (numpy arrays broadcast); the one definition, used by the law, the fitters and the
    sweep design."""
    return (alpha * A / (beta * B)) ** (1.0 / (alpha + beta))


class ChinchillaLaw(Law):
    form = "chinchilla"
    param_names: tuple[str, ...] = ("E", "A", "B", "alpha", "beta")

    def __init__(self, E: float, A: float, B: float, alpha: float, beta: float, **kw):
        super().__init__(**kw)
        for k, v in (("E", E), ("A", A), ("B", B), ("alpha", alpha), ("beta", beta)):
            if not np.isfinite(v) or (v <= 0 if k != "E" else v < 0):
                raise ScalingError(f"Chinchilla law parameter {k} must be positive and finite, got {v}")
        self.E, self.A, self.B, self.alpha, self.beta = map(float, (E, A, B, alpha, beta))

    @classmethod
    def stacked(cls, values) -> ChinchillaLaw:
        """A law whose five parameters are arrays, one element per row of ``values`` (bootstrap
        samples, in ``param_names`` order), for queries over all samples at once: ``loss`` and
        ``tokens_for_loss`` broadcast the samples over the last axis of N, D and the target. Not
        validated (a sample far out gives inf or NaN where it applies)."""
        v = np.asarray(values, dtype=float)
        if v.ndim != 2 or v.shape[1] != len(cls.param_names):
            raise ScalingError(f"stacked: expected rows of {len(cls.param_names)} parameters, got shape {v.shape}")
        law = cls.__new__(cls)
        Law.__init__(law, name="stacked samples")
        law.E, law.A, law.B, law.alpha, law.beta = (v[:, i] for i in range(5))  # type: ignore[assignment]
        return law

    # exponents of the frontier
    @property
    def a(self) -> float:
        """N_opt ∝ C^a."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """D_opt ∝ C^b."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def G(self) -> float:
        return chinchilla_G(self.alpha, self.A, self.beta, self.B)

    @property
    def irreducible_loss(self) -> float:
        return self.E

    def loss(self, N, D):
        N = as_array(N, "params")
        D = as_array(D, "tokens")
        return maybe_scalar(self.E + self.A * N**-self.alpha + self.B * D**-self.beta)

    def frontier(self, C):
        s = as_array(C, "FLOPs") / 6.0
        return maybe_scalar(self.G * s**self.a), maybe_scalar(s**self.b / self.G)

    def flops_for_params(self, N):
        N = as_array(N, "params")
        return maybe_scalar(6.0 * (N / self.G) ** (1.0 / self.a))

    def flops_for_tokens(self, D):
        D = as_array(D, "tokens")
        return maybe_scalar(6.0 * (D * self.G) ** (1.0 / self.b))

    @property
    def _frontier_k(self) -> float:
        return self.A * self.G**-self.alpha + self.B * self.G**self.beta

    @property
    def gamma(self) -> float:
        """L_opt(C) - E ∝ C^-gamma along the frontier."""
        return self.alpha * self.beta / (self.alpha + self.beta)

    def loss_at_frontier(self, C):
        s = as_array(C, "FLOPs") / 6.0
        return maybe_scalar(self.E + self._frontier_k * s**-self.gamma)

    def flops_for_loss(self, target):
        t = np.asarray(target, dtype=float)
        if np.any(~np.isfinite(t)):
            raise ScalingError("target loss must be a finite number")
        if np.any(t <= self.E):
            raise ScalingError(
                f"target loss {float(np.min(t)):g} is at or below the irreducible loss "
                f"E = {self.E:g} of law {self.name!r}: no amount of compute reaches it"
            )
        return maybe_scalar(6.0 * ((t - self.E) / self._frontier_k) ** (-1.0 / self.gamma))

    def tokens_for_loss(self, N, target):
        N = as_array(N, "params")
        t = np.asarray(target, dtype=float)
        gap = t - self.E - self.A * N**-self.alpha
        with np.errstate(divide="ignore", invalid="ignore"):
            D = np.where(gap > 0, (self.B / np.where(gap > 0, gap, 1.0)) ** (1.0 / self.beta), np.inf)
        return maybe_scalar(D)

    def params_for_loss(self, D, target):
        """Parameters a model trained on D tokens needs to reach ``target`` (inf if never)."""
        D = as_array(D, "tokens")
        t = np.asarray(target, dtype=float)
        gap = t - self.E - self.B * D**-self.beta
        with np.errstate(divide="ignore", invalid="ignore"):
            N = np.where(gap > 0, (self.A / np.where(gap > 0, gap, 1.0)) ** (1.0 / self.alpha), np.inf)
        return maybe_scalar(N)
