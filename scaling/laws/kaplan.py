"""The Kaplan et al. (2020, arXiv 2001.08361) laws.

Loss (eq. 1.5; N non-embedding parameters, D tokens, early-stopped training):

    L(N, D) = [ (N_c / N) ** (alpha_N / alpha_D) + D_c / D ] ** alpha_D

with alpha_N = 0.076, alpha_D = 0.103, N_c = 6.4e13, D_c = 1.8e13 (paper Table 2 / eq. 1.5).
Compute-efficient allocation (paper eq. 1.7 / Fig. 3): N_opt = 1.3e9 * C_PFdays ** 0.73, with
C in PF-days (1 PF-day = 8.64e19 FLOPs) and D = C / (6 N) (C ≈ 6 N D, non-embedding N).
This law has no irreducible term: its loss tends to zero with scale.
"""

from __future__ import annotations

import numpy as np

from .._solve import bisect_log
from ..errors import ScalingError
from .base import Law, as_array, maybe_scalar

PF_DAY = 8.64e19


class KaplanLaw(Law):
    form = "kaplan"
    param_names = ("N_c", "D_c", "alpha_N", "alpha_D", "k_alloc", "a_alloc")
    params_convention = "non_embedding"

    def __init__(
        self,
        N_c: float,
        D_c: float,
        alpha_N: float,
        alpha_D: float,
        k_alloc: float = 1.3e9,
        a_alloc: float = 0.73,
        **kw,
    ):
        super().__init__(**kw)
        for k, v in (("N_c", N_c), ("D_c", D_c), ("alpha_N", alpha_N), ("alpha_D", alpha_D)):
            if not (np.isfinite(v) and v > 0):
                raise ScalingError(f"Kaplan law parameter {k} must be positive and finite, got {v}")
        self.N_c, self.D_c, self.alpha_N, self.alpha_D = map(float, (N_c, D_c, alpha_N, alpha_D))
        self.k_alloc, self.a_alloc = float(k_alloc), float(a_alloc)

    @property
    def irreducible_loss(self) -> float:
        return 0.0

    def loss(self, N, D):
        N = as_array(N, "params")
        D = as_array(D, "tokens")
        return maybe_scalar(((self.N_c / N) ** (self.alpha_N / self.alpha_D) + self.D_c / D) ** self.alpha_D)

    def frontier(self, C):
        """The paper's published allocation (not the minimum of its L(N, D) under 6ND)."""
        C = as_array(C, "FLOPs")
        N = self.k_alloc * (C / PF_DAY) ** self.a_alloc
        return maybe_scalar(N), maybe_scalar(C / (6.0 * N))

    def flops_for_params(self, N):
        N = as_array(N, "params")
        return maybe_scalar(PF_DAY * (N / self.k_alloc) ** (1.0 / self.a_alloc))

    def flops_for_tokens(self, D):
        D = as_array(D, "tokens")
        # D = C / (6 k (C/PF)^a)  =>  D = C^(1-a) PF^a / (6k)
        return maybe_scalar((6.0 * self.k_alloc * D / PF_DAY**self.a_alloc) ** (1.0 / (1.0 - self.a_alloc)))

    def flops_for_loss(self, target):
        t = np.atleast_1d(np.asarray(target, dtype=float))
        if np.any(~np.isfinite(t)) or np.any(t <= 0):
            raise ScalingError("target loss must be a positive finite number")
        f = lambda C: self.loss_at_frontier(C) - t  # noqa: E731 - decreasing in C
        out = bisect_log(f, np.full_like(t, 1e3), np.full_like(t, 1e40))
        return maybe_scalar(out if np.ndim(target) else out[0])

    def tokens_for_loss(self, N, target):
        N = as_array(N, "params")
        t = np.asarray(target, dtype=float)
        gap = t ** (1.0 / self.alpha_D) - (self.N_c / N) ** (self.alpha_N / self.alpha_D)
        with np.errstate(divide="ignore", invalid="ignore"):
            return maybe_scalar(np.where(gap > 0, self.D_c / np.where(gap > 0, gap, 1.0), np.inf))
