"""Fine-grained mixture-of-experts scaling law (Krajewski et al. 2024, "Scaling Laws for
Fine-Grained Mixture of Experts", arXiv:2402.07871): a third axis, the granularity G.

Loss (paper eq. 9; N = total non-embedding parameters of the MoE, all experts, routing excluded;
D = training tokens; loss in nats per token on C4)::

    L(N, D, G) = c + (g / G^gamma + a) / N^alpha + b / D^beta

Table 1 (MoE, expansion rate E = 64): a 18.1, alpha 0.115, b 30.8, beta 0.147, g 2.1,
gamma 0.58, c 0.47 (``A`` and ``B`` here). ``loss_total(N, D, G)`` is eq. 9; ``loss(N, D, G)`` takes
the ACTIVE non-embedding parameters, the unit of ``frontier``. The paper fixes the shape and cost
model it optimises under (section 6)::

    d_model = 64 n_blocks
    N       = d_model^2 (8 E + 4) n_blocks              (total, experts + attention)
    N_act   = 12 d_model^2 n_blocks                     (active: one expert's worth of FFN + attention)
    F       = (12 d_model^2 c_f + d_model E G c_r) D n_blocks,   c_f = 6, c_r = 14

so F = 6 N_act D plus the routing cost, which grows with G (embedding FLOPs excluded, as Hoffmann
et al. do). The compute-optimal (N, D, G) for a budget F minimises L along that constraint
(:meth:`FineGrainedMoELaw.frontier`; G over powers of two unless fixed). This reproduces the
paper's Table 2: e.g. N_act = 100M is optimal at 2.95e18 FLOPs with G = 8 and 4.37B tokens
(loss printed 3.133), N_act = 7B at 6.46e21 with G = 32 and 137.6B tokens (2.076). The printed
constants reproduce Table 2's FLOPs to 1% and its tokens to a few %, but the losses
they give are about 0.02 (0.7%) *below* the printed ones at every row; a shift of alpha by
its rounding (0.0005) alone moves the loss by about that much, so the entry keeps the printed
constants and the test pins the printed losses to 1%.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ScalingError
from .allocation import bisect_log
from .base import Law, Provenance, as_array, maybe_scalar

KRAJEWSKI = (
    "Krajewski et al. 2024, Scaling Laws for Fine-Grained Mixture of Experts, arXiv:2402.07871",
    "https://arxiv.org/abs/2402.07871",
)
TABLE1_MOE = {"A": 18.1, "alpha": 0.115, "B": 30.8, "beta": 0.147, "g": 2.1, "gamma": 0.58, "c": 0.47}
# Table 2: active params, tokens, granularity, FLOPs, loss
TABLE2 = (
    (100e6, 4.37e9, 8, 2.95e18, 3.133),
    (1e9, 28.94e9, 16, 1.93e20, 2.491),
    (3e9, 72.90e9, 16, 1.41e21, 2.245),
    (7e9, 137.60e9, 32, 6.46e21, 2.076),
    (70e9, 941.07e9, 32, 4.16e23, 1.694),
    (300e9, 2.96e12, 64, 5.69e24, 1.503),
    (1e12, 7.94e12, 64, 4.97e25, 1.367),
)
GRANULARITIES = tuple(2.0**k for k in range(7))  # 1 .. 64, the paper's range and Table 2's choices
_GOLD = (math.sqrt(5.0) - 1.0) / 2.0


def check_granularity(G, what: str = "granularity") -> float:
    """G as a float, or a one-line error naming ``what``: the granularity is d_ff / d_expert
    (G = 1: experts the size of the dense feed-forward layer, a standard MoE), at least 1."""
    try:
        g = float(G)
    except (TypeError, ValueError):
        raise ScalingError(f"{what} must be a number, got {G!r}") from None
    if not (math.isfinite(g) and g >= 1):
        raise ScalingError(
            f"{what} must be at least 1 (G = d_ff / d_expert; G = 1 is a standard MoE whose experts are "
            f"the size of the dense feed-forward layer), got {g:g}"
        )
    return g


class FineGrainedMoELaw(Law):
    """L(N, D, G) = c + (g / G^gamma + A) N^-alpha + B D^-beta, with the paper's shape and FLOP model
    (the paper's a and b are ``A`` and ``B`` here, as in the Chinchilla form).

    ``frontier(C, G=None)`` returns (active non-embedding parameters, tokens) and
    ``optimum(C, G=None)`` everything (total parameters, G, loss, shape). ``G=None`` means the law's
    ``granularity`` when it has one (:meth:`at_granularity`), else the compute-optimal G among
    ``GRANULARITIES``; so a law at a fixed G plans every query (``scaling plan --granularity``) at it.
    """

    form = "moe-granularity"
    param_names = ("A", "alpha", "B", "beta", "g", "gamma", "c", "E", "c_f", "c_r", "aspect")
    params_convention = "active_non_embedding"
    flops_convention = "moe_routing"  # F = (12 d^2 c_f + d E G c_r) D n_blocks, embeddings excluded

    def __init__(
        self,
        A: float,
        alpha: float,
        B: float,
        beta: float,
        g: float,
        gamma: float,
        c: float,
        E: float = 64.0,
        c_f: float = 6.0,
        c_r: float = 14.0,
        aspect: float = 64.0,
        *,
        granularity: float | None = None,
        **kw,
    ):
        super().__init__(**kw)
        vals = {
            "A": A,
            "alpha": alpha,
            "B": B,
            "beta": beta,
            "g": g,
            "gamma": gamma,
            "c": c,
            "E": E,
            "c_f": c_f,
            "c_r": c_r,
            "aspect": aspect,
        }
        for k, v in vals.items():
            if not math.isfinite(v) or (v < 0 if k in ("c", "g", "c_r") else v <= 0):
                what = "non-negative" if k in ("c", "g", "c_r") else "positive"
                raise ScalingError(f"MoE law parameter {k} must be {what} and finite, got {v}")
        (self.A, self.alpha, self.B, self.beta, self.g, self.gamma, self.c, self.E, self.c_f, self.c_r, self.aspect) = (
            float(v) for v in vals.values()
        )
        self.granularity = None if granularity is None else check_granularity(granularity)

    def _from_values(self, values: list[float]) -> FineGrainedMoELaw:
        return FineGrainedMoELaw(*values, granularity=self.granularity, name=self.name, provenance=self.provenance)

    def at_granularity(self, G) -> FineGrainedMoELaw:
        """This law with the granularity fixed at G: every query (frontier, loss, the inverse
        queries) is answered at G instead of at the compute-optimal granularity."""
        law = FineGrainedMoELaw(
            *self.params.values(),
            granularity=check_granularity(G),
            name=self.name,
            provenance=self.provenance,
            samples=self.samples,
            param_intervals=self.param_intervals,
            meta=self.meta,
        )
        law.flops_convention, law.params_convention = self.flops_convention, self.params_convention
        return law

    def to_dict(self) -> dict:
        d = super().to_dict()
        if self.granularity is not None:
            d["granularity"] = self.granularity
        return d

    @property
    def irreducible_loss(self) -> float:
        return self.c

    # --- the surface
    def loss_total(self, N_total, D, G=1.0):
        """The paper's eq. 9: loss for N_total non-embedding parameters (all experts), D tokens, granularity G."""
        N = as_array(N_total, "params")
        D = as_array(D, "tokens")
        G = as_array(G, "granularity")
        return maybe_scalar(self.c + (self.g / G**self.gamma + self.A) * N**-self.alpha + self.B * D**-self.beta)

    def loss(self, N, D, G=None):
        """Loss for N ACTIVE non-embedding parameters (the unit of ``frontier``; the total is
        ``total_params(N)``) trained on D tokens at granularity G. ``G=None``: the law's fixed
        ``granularity`` if it has one, else the granularity the law finds compute-optimal at the budget
        6 N D, so that ``loss(*frontier(C))`` is (up to the routing share of the budget)
        ``loss_at_frontier(C)``."""
        N = as_array(N, "params")
        D = as_array(D, "tokens")
        if G is None:
            G = self.granularity
        if G is None:
            N, D = np.broadcast_arrays(N, D)
            G = self.optimum((6.0 * N * D).ravel())["G"].reshape(N.shape)
        return self.loss_total(np.asarray(self.total_params(N)), D, G)

    # --- the paper's shape and cost model
    def _n_blocks(self, N_act):
        return (np.asarray(N_act, dtype=float) / (12.0 * self.aspect**2)) ** (1.0 / 3.0)

    def total_params(self, N_act):
        """Total non-embedding parameters (all experts) of the model with N_act active ones."""
        return maybe_scalar(as_array(N_act, "params") * (8.0 * self.E + 4.0) / 12.0)

    def flops_per_token(self, N_act, G=1.0):
        """``(12 d^2 c_f + d E G c_r) n_blocks`` with ``d = aspect n_blocks``."""
        n = self._n_blocks(as_array(N_act, "params"))
        d = self.aspect * n
        return maybe_scalar((12.0 * d * d * self.c_f + d * self.E * np.asarray(G, dtype=float) * self.c_r) * n)

    def training_flops(self, N_act, D, G=1.0):
        return maybe_scalar(np.asarray(self.flops_per_token(N_act, G)) * as_array(D, "tokens"))

    # --- compute-optimal allocation
    def _best_at_G(self, C, G):
        """Golden-section search in log N_act for fixed G (the loss along the budget is unimodal)."""
        C = np.asarray(C, dtype=float)
        lo = np.full(C.shape, math.log(1e3))
        # the largest model the budget can train on one token
        hi = np.log(
            bisect_log(
                lambda n: np.asarray(self.flops_per_token(n, G)) - C, np.full(C.shape, 1e3), np.full(C.shape, 1e20)
            )
        )

        def f(x):
            Na = np.exp(x)
            D = C / np.asarray(self.flops_per_token(Na, G))
            return np.asarray(self.loss_total(np.asarray(self.total_params(Na)), D, G))

        a, b = lo, hi
        for _ in range(120):
            x1, x2 = b - _GOLD * (b - a), a + _GOLD * (b - a)
            left = f(x1) <= f(x2)
            b = np.where(left, x2, b)
            a = np.where(left, a, x1)
            if np.all(b - a < 1e-10):
                break
        Na = np.exp(0.5 * (a + b))
        D = C / np.asarray(self.flops_per_token(Na, G))
        return Na, D, f(np.log(Na))

    def optimum(self, C, G=None, granularities=GRANULARITIES) -> dict:
        """Compute-optimal active params, tokens, granularity, total params and loss for budgets C
        (F FLOPs, the paper's cost model). ``G=None``: the law's fixed ``granularity``, or (without
        one) the best of ``granularities``."""
        C = np.atleast_1d(as_array(C, "FLOPs"))
        if G is None:
            G = self.granularity
        Gs = [check_granularity(G)] if G is not None else [check_granularity(x) for x in granularities]
        Na, D, L = self._best_at_G(C, Gs[0])
        Gb = np.full(C.shape, Gs[0])
        for Gv in Gs[1:]:
            Na2, D2, L2 = self._best_at_G(C, Gv)
            better = L2 < L
            Na, D, L = np.where(better, Na2, Na), np.where(better, D2, D), np.where(better, L2, L)
            Gb = np.where(better, Gv, Gb)
        return {"active_params": Na, "tokens": D, "G": Gb, "total_params": Na * (8.0 * self.E + 4.0) / 12.0, "loss": L}

    def frontier(self, C, G=None):
        opt = self.optimum(C, G)
        shape = np.shape(C)
        return maybe_scalar(opt["active_params"].reshape(shape)), maybe_scalar(opt["tokens"].reshape(shape))

    def loss_at_frontier(self, C, G=None):
        return maybe_scalar(self.optimum(C, G)["loss"].reshape(np.shape(C)))

    def flops_for_params(self, N, G=None):
        """The budget whose compute-optimal active size is N (bisection in log C)."""
        N = np.atleast_1d(as_array(N, "params"))
        out = bisect_log(
            lambda C: self.optimum(C, G)["active_params"] - N, np.full(N.shape, 1e6), np.full(N.shape, 1e35), iters=90
        )
        return maybe_scalar(out.reshape(np.shape(N)) if out.size > 1 else out[0])

    def flops_for_tokens(self, D, G=None):
        D = np.atleast_1d(as_array(D, "tokens"))
        out = bisect_log(
            lambda C: self.optimum(C, G)["tokens"] - D, np.full(D.shape, 1e6), np.full(D.shape, 1e35), iters=90
        )
        return maybe_scalar(out.reshape(np.shape(D)) if out.size > 1 else out[0])

    def flops_for_loss(self, target, G=None):
        t = np.atleast_1d(np.asarray(target, dtype=float))
        if np.any(~np.isfinite(t)) or np.any(t <= self.c):
            raise ScalingError(f"target loss must be above the irreducible loss c = {self.c:g} of law {self.name!r}")
        out = bisect_log(
            lambda C: self.optimum(C, G)["loss"] - t, np.full(t.shape, 1e6), np.full(t.shape, 1e40), iters=90
        )
        return maybe_scalar(out if np.ndim(target) else out[0])


def krajewski_2024() -> FineGrainedMoELaw:
    return FineGrainedMoELaw(
        **TABLE1_MOE,
        name="krajewski-2024",
        provenance=Provenance(
            *KRAJEWSKI,
            notes="Fine-grained MoE (expansion E = 64) fitted on C4: L(N, D, G) = c + (g/G^gamma + a)/N^alpha "
            "+ b/D^beta "
            "with N the total non-embedding parameters (all experts). Table 1: a 18.1, alpha 0.115, b 30.8, "
            "beta 0.147, g 2.1, gamma 0.58, c 0.47. Plans report ACTIVE non-embedding parameters (FLOPs "
            "F = (12 d^2 c_f + d E G c_r) D n_blocks, c_f 6, c_r 14, d = 64 n_blocks: routing included, "
            "embeddings "
            "excluded) and pick G among 1..64. The constants reproduce Table 2's FLOPs and tokens; its printed "
            "losses are ~0.02 above what they give (rounding of alpha).",
            # over 100 runs: 129M..3.7B total parameters on 16B..130B tokens: F ~ 6 N_act D from about
            # 6 * 3e6 * 16e9 to 6 * 86e6 * 130e9
            fitted_flops=(3e17, 7e19),
        ),
    )


__all__ = ["GRANULARITIES", "TABLE1_MOE", "TABLE2", "FineGrainedMoELaw", "check_granularity", "krajewski_2024"]
