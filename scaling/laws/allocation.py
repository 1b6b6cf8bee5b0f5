"""Law forms for two published allocations that the Chinchilla and power-law forms do not cover.

:class:`FlopsPerTokenAllocation` -- DeepSeek LLM (Bi et al. 2024, "DeepSeek LLM: Scaling
Open-Source Language Models with Longtermism", arXiv:2401.02954, section 3.2). Model scale is
not a parameter count but ``M``, the non-embedding FLOPs per token (attention included)::

    M = 72 n_layer d_model^2 + 12 n_layer d_model l_seq          (paper eq. 2)
    C = M D                                                       (their compute, training FLOPs)
    M_opt = 0.1715 C^0.5243,   D_opt = 5.8316 C^0.4757            (paper eq. 4; a + b = 1 and
                                                                   0.1715 * 5.8316 = 1.0001)

To compare it with laws in parameters, ``M`` must become a parameter count, which needs a shape:
:func:`params_from_flops_per_token` takes the vocabulary and context, applies this project's
depth rule ``n_layer = d^(3/4) / 12`` (:func:`scaling.shapes.ideal_aspect`), solves
``M(d) = 72 n_layer d^2 + 12 n_layer d l_seq`` for the width and returns
``N = 12 n_layer d^2 + vocab d`` (DeepSeek's N1 plus one tied embedding matrix; their N2) with a
one-line description of what it did. DeepSeek's Table 3 shows why it matters: for 8 layers of
width 512, vocabulary 102400 and 4096 context, 6 N1 / M = 0.43 and 6 N2 / M = 1.32
(:func:`flops_per_token_ratios` reproduces both).

:class:`NonEmbeddingChinchillaLaw` -- Pearce and Song 2024 ("Reconciling Kaplan and Chinchilla
Scaling Laws", arXiv:2406.12907). A Chinchilla surface in total parameters ``N_T``, read in
Kaplan's non-embedding parameters ``N_E`` through ``N_T = N_E + omega N_E^(1/3)`` (their eq. 11:
embeddings ``(vocab + context) d`` with a fixed aspect ratio; omega = 47,491 fitted to Chinchilla's
model configurations, 44M..16B). Minimising the loss under Kaplan's ``C_E = 6 N_E D`` gives a
frontier whose local exponent is ``beta / (alpha / 3 + beta)`` at small scale and the Chinchilla
``beta / (alpha + beta)`` at large scale; fitted over Kaplan's range (790 to 1.58e9 non-embedding
parameters) it is 0.74 with Chinchilla's (rounded, eq. 10) constants and 0.78 with Epoch's
(:meth:`NonEmbeddingChinchillaLaw.local_exponent`) -- Kaplan's 0.73 is mostly this bias.
In total parameters (``frontier``, ``loss``) the law *is* its Chinchilla surface.
"""

from __future__ import annotations

import numpy as np

from .._solve import bisect_log
from ..errors import ScalingError
from .base import Law, as_array, maybe_scalar
from .chinchilla import ChinchillaLaw

DEEPSEEK_DEFAULT_VOCAB = 50257
DEEPSEEK_DEFAULT_CONTEXT = 2048


# --- DeepSeek's model scale M ---------------------------------------------------------------


def flops_per_token_m(n_layer, d_model, context):
    """DeepSeek's M: non-embedding training FLOPs per token, ``72 n d^2 + 12 n d l_seq`` (eq. 2)."""
    n = as_array(n_layer, "n_layer")
    d = as_array(d_model, "d_model")
    L = as_array(context, "context")
    return maybe_scalar(72.0 * n * d * d + 12.0 * n * d * L)


def flops_per_token_ratios(n_layer, d_model, vocab, context) -> dict:
    """DeepSeek Table 3's comparison: ``6 N1 / M`` and ``6 N2 / M`` with ``N1 = 12 n d^2``
    (non-embedding) and ``N2 = N1 + vocab d`` (with one embedding matrix)."""
    n, d = float(n_layer), float(d_model)
    M = float(flops_per_token_m(n, d, context))
    N1 = 12.0 * n * d * d
    N2 = N1 + float(vocab) * d
    return {"M": M, "N1": N1, "N2": N2, "6N1/M": 6 * N1 / M, "6N2/M": 6 * N2 / M}


def _layers(d):
    return np.asarray(d, dtype=float) ** 0.75 / 12.0


def params_from_flops_per_token(
    M, vocab: float = DEEPSEEK_DEFAULT_VOCAB, context: float = DEEPSEEK_DEFAULT_CONTEXT
) -> dict:
    """Convert DeepSeek's model scale M (non-embedding FLOPs per token) to a parameter count.

    The shape is the project's smooth rule ``n_layer = d^(3/4) / 12`` (continuous, no snapping);
    the width solves ``72 n_layer d^2 + 12 n_layer d context = M`` (increasing in d, bisection in
    log d). Returns ``dict(params, non_embedding, embedding, n_layer, d_model, note)`` with
    ``non_embedding = 12 n_layer d^2``, ``embedding = vocab d`` (tied input/output matrix) and
    ``params`` their sum. Vectorised over M.
    """
    M = as_array(M, "M (non-embedding FLOPs per token)")
    V = float(as_array(vocab, "vocab"))
    Lc = float(as_array(context, "context"))
    Mv = np.atleast_1d(M)
    d = bisect_log(
        lambda x: 72.0 * _layers(x) * x * x + 12.0 * _layers(x) * x * Lc - Mv,
        np.full(Mv.shape, 1e-3),
        np.full(Mv.shape, 1e9),
    )
    n = _layers(d)
    ne = 12.0 * n * d * d
    emb = V * d
    shape = np.shape(M)
    out = {
        k: maybe_scalar(v.reshape(shape))
        for k, v in (("params", ne + emb), ("non_embedding", ne), ("embedding", emb), ("n_layer", n), ("d_model", d))
    }
    out["note"] = (
        f"DeepSeek M -> N with vocab {int(V)}, context {int(Lc)}: M = 72 n d^2 + 12 n d L solved for d with "
        f"n = d^0.75/12, N = 12 n d^2 + V d"
    )
    return out


def flops_per_token_from_params(N, vocab: float = DEEPSEEK_DEFAULT_VOCAB, context: float = DEEPSEEK_DEFAULT_CONTEXT):
    """The inverse of :func:`params_from_flops_per_token` (same shape rule): M for N total parameters."""
    N = as_array(N, "params")
    V = float(as_array(vocab, "vocab"))
    Lc = float(as_array(context, "context"))
    Nv = np.atleast_1d(N)
    d = bisect_log(lambda x: 12.0 * _layers(x) * x * x + V * x - Nv, np.full(Nv.shape, 1e-3), np.full(Nv.shape, 1e9))
    n = _layers(d)
    return maybe_scalar((72.0 * n * d * d + 12.0 * n * d * Lc).reshape(np.shape(N)))


class FlopsPerTokenAllocation(Law):
    """``M_opt = k_M C^a``, ``D_opt = k_D C^b`` with M in non-embedding FLOPs per token and C = M D.

    ``frontier(C)`` returns (parameters, tokens): M converted to total parameters for the law's
    ``vocab`` and ``context`` (:func:`params_from_flops_per_token`); ``frontier_m(C)`` returns the
    law's own (M, D). Allocation only: no loss model.
    """

    form = "flops-per-token"
    param_names = ("k_M", "a", "k_D", "b", "vocab", "context")
    has_loss = False
    flops_convention = "deepseek_md"  # C = M D, M = non-embedding FLOPs per token incl. attention
    params_convention = "total"  # after the M -> N conversion

    def __init__(
        self,
        k_M: float,
        a: float,
        k_D: float,
        b: float,
        vocab: float = DEEPSEEK_DEFAULT_VOCAB,
        context: float = DEEPSEEK_DEFAULT_CONTEXT,
        **kw,
    ):
        super().__init__(**kw)
        for k, v in (("k_M", k_M), ("k_D", k_D), ("vocab", vocab), ("context", context)):
            if not (np.isfinite(v) and v > 0):
                raise ScalingError(f"FLOPs-per-token allocation parameter {k} must be positive and finite, got {v}")
        for k, v in (("a", a), ("b", b)):
            if not (np.isfinite(v) and 0 < v < 1):
                raise ScalingError(f"FLOPs-per-token allocation exponent {k} must be in (0, 1), got {v}")
        self.k_M, self.a, self.k_D, self.b = float(k_M), float(a), float(k_D), float(b)
        self.vocab, self.context = float(vocab), float(context)

    def at_shape(self, vocab, context) -> FlopsPerTokenAllocation:
        """The same allocation, converting M to parameters for another vocabulary and context."""
        law = FlopsPerTokenAllocation(
            self.k_M,
            self.a,
            self.k_D,
            self.b,
            vocab,
            context,
            name=self.name,
            provenance=self.provenance,
            meta=self.meta,
        )
        return law

    def frontier_m(self, C):
        """(M_opt, D_opt) in the paper's own units."""
        C = as_array(C, "FLOPs")
        return maybe_scalar(self.k_M * C**self.a), maybe_scalar(self.k_D * C**self.b)

    def frontier(self, C):
        M, D = self.frontier_m(C)
        return params_from_flops_per_token(M, self.vocab, self.context)["params"], D

    def conversion_note(self) -> str:
        return params_from_flops_per_token(1e9, self.vocab, self.context)["note"]

    def flops_for_params(self, N):
        M = np.asarray(flops_per_token_from_params(N, self.vocab, self.context), dtype=float)
        return maybe_scalar((M / self.k_M) ** (1.0 / self.a))

    def flops_for_tokens(self, D):
        D = as_array(D, "tokens")
        return maybe_scalar((D / self.k_D) ** (1.0 / self.b))


# --- Pearce and Song: Chinchilla read in non-embedding parameters ----------------------------


class NonEmbeddingChinchillaLaw(ChinchillaLaw):
    """A Chinchilla surface in total parameters with ``N_T = N_E + omega N_E^(1/3)`` (Pearce and Song
    2024, eq. 11). ``frontier``/``loss`` are in total parameters (the Chinchilla law itself);
    ``frontier_non_embedding(C_E)`` minimises the loss under ``C_E = 6 N_E D``."""

    form = "chinchilla-nonembedding"
    param_names = ("E", "A", "B", "alpha", "beta", "omega")

    def __init__(self, E: float, A: float, B: float, alpha: float, beta: float, omega: float = 47491.0, **kw):
        super().__init__(E, A, B, alpha, beta, **kw)
        if not (np.isfinite(omega) and omega >= 0):
            raise ScalingError(f"embedding coefficient omega must be non-negative and finite, got {omega}")
        self.omega = float(omega)

    def total_params(self, N_E):
        """``N_T = N_E + omega N_E^(1/3)``."""
        N_E = as_array(N_E, "non-embedding params")
        return maybe_scalar(N_E + self.omega * N_E ** (1.0 / 3.0))

    def loss_non_embedding(self, N_E, D):
        return self.loss(self.total_params(N_E), D)

    def frontier_non_embedding(self, C_E):
        """(N_E*, D*) minimising the loss under Kaplan's ``C_E = 6 N_E D`` (bisection on the
        first-order condition in log N_E, which is increasing)."""
        C = np.atleast_1d(as_array(C_E, "FLOPs"))
        s = C / 6.0

        def foc(N):
            NT = N + self.omega * N ** (1.0 / 3.0)
            dlog = (N + self.omega / 3.0 * N ** (1.0 / 3.0)) / NT
            D = s / N
            return self.beta * self.B * D**-self.beta - self.alpha * self.A * NT**-self.alpha * dlog

        N = bisect_log(foc, np.full(C.shape, 1e-6), s / 1e-6)
        out_N, out_D = N.reshape(np.shape(C_E)), (s / N).reshape(np.shape(C_E))
        return maybe_scalar(out_N), maybe_scalar(out_D)

    def local_exponent(self, N_lo: float = 790.0, N_hi: float = 1.58e9, points: int = 400) -> float:
        """Slope of log N_E* against log C_E over budgets whose optimum lies in [N_lo, N_hi]
        (Pearce and Song's simulation of Kaplan's fit; Kaplan's range is 790..1.58e9)."""
        C = np.logspace(3, 30, 2000)
        N, _ = self.frontier_non_embedding(C)
        logC_lo = np.interp(np.log(N_lo), np.log(N), np.log(C))
        logC_hi = np.interp(np.log(N_hi), np.log(N), np.log(C))
        grid = np.exp(np.linspace(logC_lo, logC_hi, points))
        Ng, _ = self.frontier_non_embedding(grid)
        return float(np.polyfit(np.log(grid), np.log(Ng), 1)[0])


__all__ = [
    "FlopsPerTokenAllocation",
    "NonEmbeddingChinchillaLaw",
    "flops_per_token_from_params",
    "flops_per_token_m",
    "flops_per_token_ratios",
    "params_from_flops_per_token",
]
