"""The law zoo: published compute-optimal laws beyond the Chinchilla/Epoch/Kaplan core, registered
with their provenance, and a side-by-side comparison of every law at a budget.

Entries (each with its citation, conventions and fitted compute range; tests/test_law_zoo.py
reproduces a number printed in each paper):

- ``hoffmann-approach2`` -- Hoffmann et al. 2022 (arXiv:2203.15556), Approach 2 (isoFLOP profiles):
  N_opt = k_N C^0.49, D_opt = k_D C^0.51 (Table 2 exponents) with k_N, k_D fitted (least squares in
  log space, exponents fixed) to the Approach 2 columns of Table A3. Allocation only.
- ``hoffmann-approach3-table`` -- the Approach 3 projections of Table A3 as a power-law allocation
  (fitted exponent 0.4587). The published unrounded Approach 3 surface (``chinchilla-2022``,
  a = 0.4565) gives sizes 3-7% below these rows; and Table A3 prints 1.26e+24 FLOPs for 175B
  parameters and 12.0T tokens, where 6ND is 1.26e25 (a typo: the fit uses 1.26e25).
- ``llama3-2024`` -- Dubey et al. 2024 (arXiv:2407.21783), section 3.2.1. See :func:`llama3_2024`: the
  printed (alpha, A) = (0.53, 0.29) do NOT reproduce the printed 402B / 16.55T plan at 3.8e25.
- ``deepseek-2024`` -- Bi et al. 2024 (arXiv:2401.02954): M_opt = 0.1715 C^0.5243, D_opt = 5.8316
  C^0.4757 with M in non-embedding FLOPs per token; converted to parameters for a shape (see
  :mod:`scaling.laws.allocation`).
- ``porian-2024`` -- Porian et al. 2024 (arXiv:2406.19146): the corrected Kaplan reproduction
  ("optimizer tuning, no decay", RefinedWeb): N* = 0.1182 C^0.4970, D* = 1.410 C^0.5030 and the
  loss frontier L* = 128.93 C^-0.106 + 2.01.
- ``pearce-2024`` -- Pearce and Song 2024 (arXiv:2406.12907): Chinchilla read in non-embedding
  parameters; its Kaplan-range local exponent is 0.74 (Chinchilla constants) / 0.78 (Epoch's).
- ``minicpm-2024`` -- Hu et al. 2024 (arXiv:2404.06395), section 4.5: N_opt / D_opt = K^2 (C/6)^eta with
  eta = -0.10 and D_opt / N_opt = 192 "on average". See :func:`minicpm_2024`: the printed K^2 = 0.01
  does not give 192 with C in FLOPs.
- ``krajewski-2024`` (in :mod:`scaling.laws.moe`) -- the granularity axis of fine-grained MoE.

This module only defines laws; :mod:`scaling.planner.law_comparison` puts every registered law's
plan side by side (``scaling plan C --law all``).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ScalingError
from .allocation import (
    DEEPSEEK_DEFAULT_CONTEXT,
    DEEPSEEK_DEFAULT_VOCAB,
    FlopsPerTokenAllocation,
    NonEmbeddingChinchillaLaw,
)
from .base import Provenance
from .powerlaw import PowerLawAllocation

HOFFMANN = (
    "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, arXiv:2203.15556",
    "https://arxiv.org/abs/2203.15556",
)
HOFFMANN_FLOPS = (6e18, 3e21)

# Table A3 of Hoffmann et al. (Approaches 2 and 3): params, FLOPs, tokens
HOFFMANN_A3_APPROACH2 = np.array(
    [
        (400e6, 1.84e19, 7.7e9),
        (1e9, 1.20e20, 20.0e9),
        (10e9, 1.32e22, 219.5e9),
        (67e9, 6.88e23, 1.7e12),
        (175e9, 4.54e24, 4.3e12),
        (280e9, 1.18e25, 7.1e12),
        (520e9, 4.19e25, 13.4e12),
        (1e12, 1.59e26, 26.5e12),
        (10e12, 1.75e28, 292.0e12),
    ]
)
HOFFMANN_A3_APPROACH3_PRINTED = np.array(
    [
        (400e6, 2.21e19, 9.2e9),
        (1e9, 1.62e20, 27.1e9),
        (10e9, 2.46e22, 410.1e9),
        (67e9, 1.71e24, 4.1e12),
        (175e9, 1.26e24, 12.0e12),
        (280e9, 3.52e25, 20.1e12),
        (520e9, 1.36e26, 43.5e12),
        (1e12, 5.65e26, 94.1e12),
        (10e12, 8.55e28, 1425.5e12),
    ]
)
# the 175B row's FLOPs are printed as 1.26e+24; 6 * 175e9 * 12.0e12 = 1.26e25 and the row's neighbours
# (1.71e24 for 67B, 3.52e25 for 280B) put it there: a typo, corrected here
HOFFMANN_A3_APPROACH3 = HOFFMANN_A3_APPROACH3_PRINTED.copy()
HOFFMANN_A3_APPROACH3[4, 1] = 1.26e25

LLAMA3 = (
    "Dubey et al. 2024 (Llama Team, AI @ Meta), The Llama 3 Herd of Models, arXiv:2407.21783",
    "https://arxiv.org/abs/2407.21783",
)
LLAMA3_PRINTED = {"alpha": 0.53, "A": 0.29, "flops": 3.8e25, "params": 402e9, "tokens": 16.55e12}
DEEPSEEK = (
    (
        "Bi et al. 2024 (DeepSeek-AI), DeepSeek LLM: Scaling Open-Source Language Models with Longtermism, "
        "arXiv:2401.02954"
    ),
    "https://arxiv.org/abs/2401.02954",
)
DEEPSEEK_PRINTED = {"M_base": 0.1715, "a": 0.5243, "D_base": 5.8316, "b": 0.4757}
PORIAN = (
    ("Porian et al. 2024, Resolving Discrepancies in Compute-Optimal Scaling of Language Models, arXiv:2406.19146"),
    "https://arxiv.org/abs/2406.19146",
)
# RefinedWeb, "Optimizer tuning (no decay)": the corrected setting (the authors' released fits; Table 1 prints
# a = 0.497 (0.49, 0.50); the loss frontier 128.93 C^-0.106 + 2.01)
PORIAN_RW_TUNED = {
    "k_N": 0.11819903781389161,
    "a": 0.49702879549161855,
    "k_D": 1.4100509593748898,
    "b": 0.5029712045083815,
}
PORIAN_RW_LOSS_FRONTIER = {"E": 2.0055567801262706, "k": 128.93191387679073, "gamma": 0.10596965150600296}
PEARCE = (
    "Pearce and Song 2024, Reconciling Kaplan and Chinchilla Scaling Laws, arXiv:2406.12907",
    "https://arxiv.org/abs/2406.12907",
)
PEARCE_OMEGA = 47491.0
MINICPM = (
    (
        "Hu et al. 2024, MiniCPM: Unveiling the Potential of Small Language Models with Scalable Training "
        "Strategies, arXiv:2404.06395"
    ),
    "https://arxiv.org/abs/2404.06395",
)
MINICPM_PRINTED = {"alpha": 0.29, "beta": 0.23, "K2": 0.01, "eta": -0.10, "tokens_per_param": 192.0}
# six sizes 0.036B..2B (non-embedding), each decayed from 10N..60N tokens: C = 6 N D over 7.8e16 .. 1.44e21;
# the ratio 192 is pinned at the middle of that range in log (1e19)
MINICPM_FLOPS = (7.8e16, 1.44e21)
MINICPM_C_REF = 1e19

# --- the entries ----------------------------------------------------------------------------


def _fixed_exponent_coef(C, y, exponent: float) -> float:
    """Least squares in log space with the slope fixed: k = exp(mean(log y - e log C))."""
    return float(np.exp(np.mean(np.log(y) - exponent * np.log(C))))


def hoffmann_approach2() -> PowerLawAllocation:
    """Approach 2 (isoFLOP profiles) of Hoffmann et al. 2022: a = 0.49, b = 0.51 (Table 2), with the
    coefficients fitted to the Approach 2 projections of Table A3 (k_N = 0.1444, k_D = 1.154;
    k_N k_D 6 = 0.99995, so 6 N D = C). The fit reproduces every Table A3 row within 3.5% (params)
    and 2.5% (tokens). Total parameters, C = 6 N D; fitted on isoFLOP budgets 6e18..3e21."""
    P, C, D = HOFFMANN_A3_APPROACH2.T
    return PowerLawAllocation(
        _fixed_exponent_coef(C, P, 0.49),
        0.49,
        _fixed_exponent_coef(C, D, 0.51),
        0.51,
        name="hoffmann-approach2",
        provenance=Provenance(
            *HOFFMANN,
            notes="Approach 2 (isoFLOP profiles): N_opt = k_N C^0.49, D_opt = k_D C^0.51 "
            "(Table 2 exponents; 80% bootstrap interval of a: 0.462..0.534), coefficients fitted to "
            "the Approach 2 columns of Table A3; allocation only, no loss model",
            fitted_flops=HOFFMANN_FLOPS,
        ),
    )


def hoffmann_approach3_table() -> PowerLawAllocation:
    """The Approach 3 projections of Hoffmann et al. 2022, Table A3, as a power-law allocation
    fitted to its rows (N_opt = 0.535 C^0.4587). Table A3's 175B row prints 1.26e+24 FLOPs; its own
    6ND (and its neighbours) put it at 1.26e25, which the fit uses. The unrounded Approach 3 surface
    (``chinchilla-2022``) gives sizes 3-7% below these rows (its exponent is 0.4565, the table's 0.4587)."""
    P, C, D = HOFFMANN_A3_APPROACH3.T
    return PowerLawAllocation.fit(
        C,
        P,
        D,
        name="hoffmann-approach3-table",
        provenance=Provenance(
            *HOFFMANN,
            notes="power laws fitted to the Approach 3 projections of Table A3 (the 175B "
            "row's printed 1.26e+24 FLOPs corrected to 1.26e25 = 6ND); allocation only (for the loss "
            "surface itself see chinchilla-2022)",
            fitted_flops=HOFFMANN_FLOPS,
        ),
    )


def llama3_exponent() -> float:
    """The exponent with which the printed A = 0.29 gives the printed 16.55T tokens at 3.8e25 FLOPs."""
    p = LLAMA3_PRINTED
    return math.log(p["tokens"] / p["A"]) / math.log(p["flops"])


def llama3_2024() -> PowerLawAllocation:
    """Llama 3's compute-optimal token count, D*(C) = A C^alpha (Dubey et al. 2024, section 3.2.1).

    The paper prints (alpha, A) = (0.53, 0.29), fitted on isoFLOP budgets 6e18..1e22 FLOPs (models
    40M..16B), and "extrapolation of the resulting scaling law to 3.8e25 FLOPs suggests training a
    402B parameter model on 16.55T tokens". The printed constants do not give that plan: 0.29 *
    (3.8e25)^0.53 = 10.5T tokens (and 605B parameters under C = 6ND), 37% short of 16.55T. No rounding
    of A (0.285..0.295) closes the gap, but rounding of alpha does: A = 0.29 with alpha = 0.5378 gives
    exactly 16.55T, i.e. the printed 0.53 reads as a truncated 0.537x. This entry therefore follows
    the printed plan: it keeps A = 0.29 and takes alpha = 0.5378 (:func:`llama3_exponent`), so at
    3.8e25 it plans 16.55T tokens exactly and N = C / (6 D) = 383B parameters (402B in the paper,
    -4.8%: 6 x 402B x 16.55T = 3.99e25, so the printed plan itself is 5% over budget under 6ND).
    Parameters are total (dense Llama 3 shapes), C = 6 N D. Allocation only.
    """
    alpha = llama3_exponent()
    A = LLAMA3_PRINTED["A"]
    law = PowerLawAllocation(
        1.0 / (6.0 * A),
        1.0 - alpha,
        A,
        alpha,
        name="llama3-2024",
        provenance=Provenance(
            *LLAMA3,
            notes="tokens D*(C) = 0.29 C^0.5378, N = C/(6D). The paper prints (alpha, A) = (0.53, 0.29), which give "
            "10.5T "
            "tokens at 3.8e25 FLOPs, not the printed 402B/16.55T plan; alpha = 0.5378 (a truncated 0.537x) with "
            "A = 0.29 reproduces 16.55T exactly (383B params under 6ND). Fitted on 6e18..1e22 FLOPs (40M..16B).",
            fitted_flops=(6e18, 1e22),
        ),
        meta={"printed": dict(LLAMA3_PRINTED)},
    )
    return law


def deepseek_2024() -> FlopsPerTokenAllocation:
    """DeepSeek LLM's allocation (Bi et al. 2024, eq. 4): M_opt = 0.1715 C^0.5243, D_opt = 5.8316 C^0.4757,
    M = non-embedding FLOPs per token (attention included), C = M D. Fitted on isoFLOP budgets
    1e17..3e20 (8 budgets, ~10 allocations each; their in-house data; loss in bits per byte).
    Verified: a + b = 1 and 0.1715 * 5.8316 = 1.0001, so M_opt D_opt = C to 0.01%. Parameters come
    from M by :func:`scaling.laws.allocation.params_from_flops_per_token` for a vocabulary and
    context (defaults 50257, 2048; ``law.at_shape(vocab, context)``). Allocation only."""
    p = DEEPSEEK_PRINTED
    return FlopsPerTokenAllocation(
        p["M_base"],
        p["a"],
        p["D_base"],
        p["b"],
        DEEPSEEK_DEFAULT_VOCAB,
        DEEPSEEK_DEFAULT_CONTEXT,
        name="deepseek-2024",
        provenance=Provenance(
            *DEEPSEEK,
            notes="M_opt = 0.1715 C^0.5243, D_opt = 5.8316 C^0.4757 with M = 72 n d^2 + 12 n d l_seq non-embedding "
            "FLOPs per token and C = M D; parameters from M for a (vocab, context) with n = d^0.75/12 and "
            "N = 12 n d^2 + V d. "
            "Exponent depends on data: a = 0.450 (early in-house data), 0.524 (final), 0.578 (OpenWebText2).",
            fitted_flops=(1e17, 3e20),
        ),
        meta={"printed": dict(p)},
    )


def porian_2024() -> PowerLawAllocation:
    """Porian et al. 2024: Kaplan's setup with the three corrections (last-layer FLOPs counted, warmup
    shortened, optimizer tuned per size; constant learning rate), RefinedWeb. N* = 0.1182 C^0.4970,
    D* = 1.410 C^0.5030, loss frontier L* = 128.93 C^-0.106 + 2.01 (Table 1 prints a = 0.497, 95% CI
    0.49..0.50; on OpenWebText2 0.518). Parameters: all linear layers including the output head,
    excluding input embeddings; C = 6 N D. Budgets 1.25e16 x 2^i, i = 0..11."""
    p = PORIAN_RW_TUNED
    law = PowerLawAllocation(
        p["k_N"],
        p["a"],
        p["k_D"],
        p["b"],
        loss_frontier=dict(PORIAN_RW_LOSS_FRONTIER),
        name="porian-2024",
        provenance=Provenance(
            *PORIAN,
            notes="corrected Kaplan reproduction on RefinedWeb (tuned AdamW, no decay): N* = 0.1182 C^0.497, "
            "D* = 1.410 C^0.503, L* = 128.93 C^-0.106 + 2.01 (validation loss). N counts the head but not the "
            "input embedding. Reverting the head-FLOP and warmup fixes gives back Kaplan's exponent "
            "(0.72..0.86).",
            fitted_flops=(1.25e16, 2.56e19),
        ),
        meta={"printed": {"a": 0.497, "loss_frontier": "128.93 C^-0.106 + 2.01"}},
    )
    law.params_convention = "non_embedding"
    return law


def pearce_2024(base: str = "epoch") -> NonEmbeddingChinchillaLaw:
    """Pearce and Song 2024: a Chinchilla surface read in Kaplan's non-embedding parameters,
    N_T = N_E + 47491 N_E^(1/3). Over Kaplan's range (790..1.58e9 non-embedding parameters) its
    non-embedding frontier has local exponent 0.78 with Epoch's constants (the registered entry) and
    0.74 with Chinchilla's rounded eq. 10 constants (``pearce_2024("chinchilla")``): Kaplan's 0.73 is
    mostly an artefact of counting non-embedding parameters at small scale. In total parameters the
    law is its base surface (plans equal ``epoch-2024``'s)."""
    if base == "epoch":
        consts, src = (1.8172, 482.01, 2085.43, 0.3478, 0.3658), "Epoch's refit (Besiroglu et al. 2024)"
    elif base == "chinchilla":
        consts, src = (1.69, 406.4, 410.7, 0.34, 0.28), "Hoffmann et al.'s rounded eq. 10"
    else:
        raise ScalingError(f"pearce_2024: base must be 'epoch' or 'chinchilla', not {base!r}")
    return NonEmbeddingChinchillaLaw(
        *consts,
        PEARCE_OMEGA,
        name="pearce-2024" if base == "epoch" else "pearce-2024-chinchilla",
        provenance=Provenance(
            *PEARCE,
            notes=f"Chinchilla surface ({src}) with N_T = N_E + omega N_E^(1/3), omega = 47491 (fitted to Chinchilla's "
            "configurations). frontier() is in total parameters (the base law); frontier_non_embedding() under "
            "C_E = 6 N_E D reproduces Kaplan-like exponents at small scale (0.78 Epoch, 0.74 Chinchilla).",
            fitted_flops=HOFFMANN_FLOPS,
        ),
    )


def minicpm_2024() -> PowerLawAllocation:
    """MiniCPM (Hu et al. 2024, section 4.5): fits L(N, D) = C_N N^-alpha + C_D D^-beta + L_0 on WSD runs
    (six sizes 0.036B..2B non-embedding, 10N..60N tokens, five held-out corpora, loss per byte) and
    prints, on average over the corpora, alpha = 0.29, beta = 0.23, K^2 = 0.01, eta = -0.10 for
    N_opt / D_opt = K^2 (C/6)^eta, and "the data size should be 192 times larger than the model size
    on average".

    The printed constants disagree with the printed 192: with C in FLOPs, K^2 = 0.01 and eta = -0.10
    give D_opt / N_opt = 100 (C/6)^0.1, about 6,600 at 1e19 FLOPs (192 only at C = 4e3 FLOPs), and
    eta = (beta - alpha)/(alpha + beta) from the printed averages is -0.115, not -0.10. The entry keeps
    the printed trend eta = -0.10 (N_opt ∝ C^0.45, D_opt ∝ C^0.55) and pins the printed 192 tokens per
    parameter at 1e19 FLOPs, the middle (in log) of the fitted range 7.8e16..1.44e21. Parameters are
    non-embedding, C = 6 N D. Allocation only (the per-corpus C_N, C_D, L_0 are printed only in figures)."""
    eta, r = MINICPM_PRINTED["eta"], MINICPM_PRINTED["tokens_per_param"]
    a = (1.0 + eta) / 2.0
    # N/D = K'^2 (C/6)^eta with K'^2 set so that D/N = r at C_REF; N = K' (C/6)^a, D = (C/6) / N
    K2 = (1.0 / r) * (MINICPM_C_REF / 6.0) ** -eta
    K = math.sqrt(K2)
    law = PowerLawAllocation(
        K * 6.0**-a,
        a,
        6.0 ** -(1.0 - a) / K,
        1.0 - a,
        name="minicpm-2024",
        provenance=Provenance(
            *MINICPM,
            notes="N_opt/D_opt = K^2 (C/6)^eta with eta = -0.10 (printed) and D/N = 192 (printed 'on average') "
            "pinned at 1e19 FLOPs. The printed K^2 = 0.01 does not give 192 with C in FLOPs (100 (C/6)^0.1 "
            "~ 6,600 at 1e19), and the printed alpha = 0.29, beta = 0.23 imply eta = -0.115. Non-embedding "
            "parameters, WSD schedule.",
            fitted_flops=MINICPM_FLOPS,
        ),
        meta={"printed": dict(MINICPM_PRINTED)},
    )
    law.params_convention = "non_embedding"
    return law


ENTRIES = {
    "hoffmann-approach2": (hoffmann_approach2, ("approach2", "chinchilla-approach2")),
    "hoffmann-approach3-table": (hoffmann_approach3_table, ("approach3-table",)),
    "llama3-2024": (llama3_2024, ("llama3", "llama-3", "dubey")),
    "deepseek-2024": (deepseek_2024, ("deepseek", "bi")),
    "porian-2024": (porian_2024, ("porian",)),
    "pearce-2024": (pearce_2024, ("pearce",)),
    "minicpm-2024": (minicpm_2024, ("minicpm", "hu")),
}


__all__ = [
    "DEEPSEEK_PRINTED",
    "ENTRIES",
    "HOFFMANN_A3_APPROACH2",
    "HOFFMANN_A3_APPROACH3",
    "HOFFMANN_A3_APPROACH3_PRINTED",
    "LLAMA3_PRINTED",
    "MINICPM_PRINTED",
    "deepseek_2024",
    "hoffmann_approach2",
    "hoffmann_approach3_table",
    "llama3_2024",
    "llama3_exponent",
    "minicpm_2024",
    "pearce_2024",
    "porian_2024",
]
