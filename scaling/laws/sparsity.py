"""The sparsity scaling law of Frantar et al. 2024 ("Scaling Laws for Sparsely-Connected Foundation
Models", ICLR 2024, arXiv 2309.08520)::

    L(S, N, D) = (a_S (1 - S)^b_S + c_S) N^(-b_N) + (a_D / D)^b_D + c

S is the weight sparsity (fraction of zeros), N the number of NON-ZERO parameters, D training
tokens, L nats per token. Published T5/C4 fit: a_S 16.8, b_S 0.722, c_S 45.0, b_N 0.245,
a_D 6.9e8, b_D 0.203, c 0.651 (registered as ``frantar-2024``).

At a fixed sparsity the law is the Chinchilla form with ``E = c``, ``A = a_S (1-S)^b_S + c_S``,
``alpha = b_N``, ``B = a_D^b_D``, ``beta = b_D`` (:meth:`SparsityLaw.at_sparsity`), so its
compute-optimal frontier under C = 6 N D (N non-zero: the non-zero-share FLOP convention of
:mod:`scaling.flops`) has the Chinchilla closed form. Every query takes the sparsity ``S``
(default 0: the dense law).

Derived quantities:

- dense-equivalent size: the dense model with the same loss at the same D has
  ``N_dense = N ((a_S + c_S) / (a_S (1-S)^b_S + c_S))^(1/b_N)`` parameters; a 75%-sparse model is
  worth about 2.16x its non-zero count (:meth:`SparsityLaw.dense_equivalent`).
- optimal sparsity: for a model with N non-zero parameters (its inference cost) and a training
  budget C, the sparsity that minimises the loss when sparse training is charged the cost of the
  dense model it is cut from (``C = 6 N D / (1 - S)``: masked training runs the dense matmuls, so a
  sparser model of the same non-zero size sees fewer tokens). It is 0 up to and somewhat beyond
  Chinchilla-optimal tokens per parameter and grows with tokens per parameter
  (:meth:`SparsityLaw.optimal_sparsity`; ``cost="gradual"`` charges the average density of
  gradual magnitude pruning from 25% to 75% of training with a cubic schedule instead,
  ``1 - 0.625 S`` of the dense cost).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ScalingError
from .base import Law, Provenance, as_array, maybe_scalar
from .chinchilla import ChinchillaLaw

FRANTAR = (
    "Frantar et al. 2024, Scaling Laws for Sparsely-Connected Foundation Models, ICLR 2024, arXiv:2309.08520",
    "https://arxiv.org/abs/2309.08520",
)
T5_FIT = {"a_S": 16.8, "b_S": 0.722, "c_S": 45.0, "b_N": 0.245, "a_D": 6.9e8, "b_D": 0.203, "c": 0.651}
COSTS = ("dense", "gradual", "nonzero")


def _sparsity(S, what: str = "sparsity") -> np.ndarray:
    arr = np.asarray(S, dtype=float)
    if arr.size and (not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr >= 1)):
        raise ScalingError(f"{what} must be in [0, 1)")
    return arr


def cost_factor(S, cost: str = "dense"):
    """Training FLOPs of a sparse run over ``6 N D`` (N non-zero parameters).

    ``dense``: 1 / (1 - S) (the dense model's cost: masked matmuls run dense); ``gradual``:
    (1 - 0.625 S) / (1 - S) (dense for the first quarter, cubic pruning to S between 25% and 75%
    of training, sparse after: average density 1 - 0.625 S, charged at the non-zero share);
    ``nonzero``: 1 (the non-zero-share convention, SPARSITY_CONVENTION).
    """
    S = _sparsity(S)
    if cost == "dense":
        return 1.0 / (1.0 - S)
    if cost == "gradual":
        return (1.0 - 0.625 * S) / (1.0 - S)
    if cost == "nonzero":
        return np.ones_like(S)
    raise ScalingError(f"unknown sparse training cost {cost!r} (choose from {', '.join(COSTS)})")


class SparsityLaw(Law):
    """L(S, N, D) = (a_S (1-S)^b_S + c_S) N^-b_N + (a_D / D)^b_D + c, N non-zero parameters."""

    form = "sparsity"
    param_names = ("a_S", "b_S", "c_S", "b_N", "a_D", "b_D", "c")
    params_convention = "nonzero"

    def __init__(self, a_S: float, b_S: float, c_S: float, b_N: float, a_D: float, b_D: float, c: float, **kw):
        super().__init__(**kw)
        vals = {"a_S": a_S, "b_S": b_S, "c_S": c_S, "b_N": b_N, "a_D": a_D, "b_D": b_D, "c": c}
        for k, v in vals.items():
            if not math.isfinite(v) or (v < 0 if k in ("a_S", "c_S", "c") else v <= 0):
                what = "non-negative" if k in ("a_S", "c_S", "c") else "positive"
                raise ScalingError(f"sparsity law parameter {k} must be {what} and finite, got {v}")
        if a_S + c_S <= 0:
            raise ScalingError("sparsity law: a_S + c_S must be positive")
        self.a_S, self.b_S, self.c_S, self.b_N, self.a_D, self.b_D, self.c = map(float, vals.values())

    @property
    def irreducible_loss(self) -> float:
        return self.c

    # --- the surface
    def size_coefficient(self, S=0.0):
        """``a_S (1-S)^b_S + c_S``: the coefficient of N^-b_N at sparsity S."""
        S = _sparsity(S)
        return maybe_scalar(self.a_S * (1.0 - S) ** self.b_S + self.c_S)

    def loss(self, N, D, S=0.0):
        N = as_array(N, "params")
        D = as_array(D, "tokens")
        S = _sparsity(S)
        return maybe_scalar(np.asarray(self.size_coefficient(S)) * N**-self.b_N + (self.a_D / D) ** self.b_D + self.c)

    def at_sparsity(self, S: float = 0.0) -> ChinchillaLaw:
        """The Chinchilla-form law of this surface at one sparsity (N = non-zero parameters)."""
        S = float(_sparsity(S))
        law = ChinchillaLaw(
            self.c,
            float(self.size_coefficient(S)),
            self.a_D**self.b_D,
            self.b_N,
            self.b_D,
            name=f"{self.name}@S={S:g}",
            provenance=self.provenance,
        )
        law.flops_convention, law.params_convention = self.flops_convention, self.params_convention
        return law

    # --- frontier queries at a sparsity (C = 6 N D, N non-zero)
    def frontier(self, C, S=0.0):
        return self.at_sparsity(S).frontier(C)

    def loss_at_frontier(self, C, S=0.0):
        return self.at_sparsity(S).loss_at_frontier(C)

    def flops_for_params(self, N, S=0.0):
        return self.at_sparsity(S).flops_for_params(N)

    def flops_for_tokens(self, D, S=0.0):
        return self.at_sparsity(S).flops_for_tokens(D)

    def flops_for_loss(self, target, S=0.0):
        return self.at_sparsity(S).flops_for_loss(target)

    def tokens_for_loss(self, N, target, S=0.0):
        return self.at_sparsity(S).tokens_for_loss(N, target)

    # --- sparsity-specific queries
    def dense_equivalent(self, N, S):
        """Dense parameters with the same loss as N non-zero parameters at sparsity S (any D)."""
        N = as_array(N, "params")
        S = _sparsity(S)
        ratio = (self.a_S + self.c_S) / np.asarray(self.size_coefficient(S))
        return maybe_scalar(N * ratio ** (1.0 / self.b_N))

    def dense_equivalent_factor(self, S):
        """``dense_equivalent(N, S) / N`` (2.16 at S = 0.75 for the T5 fit)."""
        return self.dense_equivalent(1.0, S)

    def optimal_sparsity(self, N, C, *, cost: str = "dense", max_sparsity: float = 0.99, grid: int = 2001):
        """The sparsity that minimises L(S, N, D(S)) for N non-zero parameters and C training FLOPs,
        with D(S) = C / (6 N cost_factor(S)) (see :func:`cost_factor`; default: sparse training
        is charged as the dense model it is cut from). Vectorised over N and C; returns S in
        [0, max_sparsity] (a grid search refined by golden-section steps)."""
        N = as_array(N, "params")
        C = as_array(C, "FLOPs")
        if not 0 < max_sparsity < 1:
            raise ScalingError("max_sparsity must be in (0, 1)")
        cost_factor(0.0, cost)  # validates the name
        N, C = np.broadcast_arrays(N, C)
        grid_S = np.linspace(0.0, max_sparsity, int(grid))

        def loss_at(S, n, c):
            D = c / (6.0 * n * cost_factor(S, cost))
            return self.size_coefficient(S) * n**-self.b_N + (self.a_D / D) ** self.b_D + self.c

        out = np.empty(N.shape)
        for idx in np.ndindex(N.shape):
            n, c = float(N[idx]), float(C[idx])
            vals = np.asarray(loss_at(grid_S, n, c))
            k = int(np.argmin(vals))
            lo, hi = grid_S[max(k - 1, 0)], grid_S[min(k + 1, len(grid_S) - 1)]
            g = (math.sqrt(5) - 1) / 2
            for _ in range(60):
                a, b = hi - g * (hi - lo), lo + g * (hi - lo)
                if float(loss_at(a, n, c)) <= float(loss_at(b, n, c)):
                    hi = b
                else:
                    lo = a
            s = 0.5 * (lo + hi)
            out[idx] = 0.0 if float(loss_at(0.0, n, c)) <= float(loss_at(s, n, c)) else s
        return maybe_scalar(out)


def frantar_2024() -> SparsityLaw:
    return SparsityLaw(
        **T5_FIT,
        name="frantar-2024",
        provenance=Provenance(
            *FRANTAR,
            notes="T5/C4 fit of L(S, N, D) = (a_S (1-S)^b_S + c_S) N^-b_N + (a_D/D)^b_D + c with N the non-zero "
            "parameters (sparsity by gradual magnitude pruning). Queries take the sparsity S (default 0, "
            "dense); at S = 0.75 a model is worth 2.16x its non-zero parameters in dense ones. The fitted "
            "compute range is not stated here (unknown).",
        ),
    )


__all__ = ["SparsityLaw", "frantar_2024", "T5_FIT", "cost_factor", "COSTS"]
