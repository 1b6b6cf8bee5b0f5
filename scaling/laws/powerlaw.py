"""A compute-optimal allocation as power laws in the budget (Approach 1 and 2 results).

    N_opt(C) = k_N C**a,   D_opt(C) = k_D C**b

This is what Approaches 1 and 2 of Hoffmann et al. (2022) produce: an allocation, not a loss
surface. When only (k_N, a) is known, D_opt = C / (6 N_opt) under the 6ND convention.
Optionally the loss along the frontier, L_opt(C) = E_L + k_L C**-gamma_L (fitted to the isoFLOP
minima by Approach 2), is attached: plans on the frontier then report a loss and a target loss can
be planned for, but points off the frontier cannot be evaluated (there is no loss surface).
"""

from __future__ import annotations

import numpy as np

from ..errors import ScalingError
from .base import Law, as_array, maybe_scalar


class PowerLawAllocation(Law):
    form = "powerlaw"
    param_names = ("k_N", "a", "k_D", "b")
    has_loss = False

    def __init__(
        self,
        k_N: float,
        a: float,
        k_D: float | None = None,
        b: float | None = None,
        *,
        loss_frontier: dict | None = None,
        **kw,
    ):
        super().__init__(**kw)
        self.loss_frontier = None
        if loss_frontier and all(k in loss_frontier for k in ("E", "k", "gamma")):
            E, k, g = (float(loss_frontier[x]) for x in ("E", "k", "gamma"))
            if np.isfinite(E) and E >= 0 and np.isfinite(k) and k > 0 and np.isfinite(g) and g > 0:
                self.loss_frontier = {"E": E, "k": k, "gamma": g}
        if not (k_N > 0 and np.isfinite(k_N) and np.isfinite(a)):
            raise ScalingError(f"power-law allocation needs k_N > 0 and finite a, got {k_N}, {a}")
        self.k_N, self.a = float(k_N), float(a)
        if k_D is None or b is None or not np.isfinite(k_D) or not np.isfinite(b):
            # D = C / (6 N) = C^(1-a) / (6 k_N)
            self.k_D, self.b = 1.0 / (6.0 * self.k_N), 1.0 - self.a
        else:
            self.k_D, self.b = float(k_D), float(b)

    def frontier(self, C):
        C = as_array(C, "FLOPs")
        return maybe_scalar(self.k_N * C**self.a), maybe_scalar(self.k_D * C**self.b)

    def flops_for_params(self, N):
        N = as_array(N, "params")
        return maybe_scalar((N / self.k_N) ** (1.0 / self.a))

    def flops_for_tokens(self, D):
        D = as_array(D, "tokens")
        return maybe_scalar((D / self.k_D) ** (1.0 / self.b))

    @property
    def has_frontier_loss(self) -> bool:
        return self.loss_frontier is not None

    @property
    def irreducible_loss(self) -> float | None:
        return self.loss_frontier["E"] if self.loss_frontier else None

    def loss_at_frontier(self, C):
        if not self.loss_frontier:
            raise ScalingError(f"law {self.name!r} is an allocation without a loss curve")
        C = as_array(C, "FLOPs")
        f = self.loss_frontier
        return maybe_scalar(f["E"] + f["k"] * C ** -f["gamma"])

    def flops_for_loss(self, target):
        if not self.loss_frontier:
            raise ScalingError(
                f"law {self.name!r} is an allocation without a loss curve: it cannot plan for a target loss"
            )
        f = self.loss_frontier
        t = np.asarray(target, dtype=float)
        if np.any(~np.isfinite(t)) or np.any(t <= f["E"]):
            raise ScalingError(
                f"target loss {float(np.min(t)):g} is at or below the irreducible loss "
                f"E = {f['E']:g} of law {self.name!r}: no amount of compute reaches it"
            )
        return maybe_scalar(((t - f["E"]) / f["k"]) ** (-1.0 / f["gamma"]))

    def to_dict(self):
        d = super().to_dict()
        if self.loss_frontier:
            d["loss_frontier"] = dict(self.loss_frontier)
        return d

    def _from_values(self, values: list[float]) -> PowerLawAllocation:
        return PowerLawAllocation(*values, name=self.name, provenance=self.provenance, loss_frontier=self.loss_frontier)

    @classmethod
    def fit(cls, C, N, D=None, **kw) -> PowerLawAllocation:
        """Least squares in log space: log N = log k_N + a log C (and likewise D if given)."""
        C, N = np.log(as_array(C, "FLOPs")), np.log(as_array(N, "params"))
        a, logk = np.polyfit(C, N, 1)
        if D is None:
            return cls(float(np.exp(logk)), float(a), **kw)
        b, logkd = np.polyfit(C, np.log(as_array(D, "tokens")), 1)
        return cls(float(np.exp(logk)), float(a), float(np.exp(logkd)), float(b), **kw)
