"""Every registered law's compute-optimal plan side by side (``scaling plan C --law all``).

:func:`compare_laws` gives one row per law at one or more budgets, with everything a table or a
plot needs: parameters converted to total parameters for a given vocabulary and context (DeepSeek's
FLOPs per token, Bi et al. 2024, arXiv:2401.02954; non-embedding counts, Kaplan et al. 2020,
arXiv:2001.08361; the active parameters of the fine-grained MoE, Krajewski et al. 2024,
arXiv:2402.07871), tokens, tokens per parameter, the loss on the law's own scale, the conversion,
the fitted range and how far the budget extrapolates it; and the spread across laws.
:func:`spread_table` lays the spread out as a table and :func:`zoo_table` lists the registry.

The laws themselves live in :mod:`scaling.laws` (which never compares them); this module sits
above them, with the planner.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from ..errors import ScalingError
from ..laws import Law, get_law, list_laws
from ..laws.allocation import (
    DEEPSEEK_DEFAULT_CONTEXT,
    DEEPSEEK_DEFAULT_VOCAB,
    FlopsPerTokenAllocation,
    NonEmbeddingChinchillaLaw,
)
from ..laws.moe import FineGrainedMoELaw
from ..laws.powerlaw import PowerLawAllocation
from ..shapes import smooth_shape

if TYPE_CHECKING:  # pandas is imported where a table is built: `scaling plan` should not pay for it
    import pandas as pd

# the data set (and so the scale) each law's loss is measured on
LOSS_SCALE = {
    "chinchilla-2022": "MassiveText, nats/token",
    "chinchilla-2022-rounded": "MassiveText, nats/token",
    "epoch-2024": "MassiveText (Hoffmann's runs, refit), nats/token",
    "kaplan-2020": "WebText2, nats/token (no irreducible term)",
    "muennighoff-2023": "C4, nats/token (unconstrained data)",
    "frantar-2024": "C4 (T5), nats/token (dense, S = 0)",
    "porian-2024": "RefinedWeb validation, nats/token (loss frontier only)",
    "pearce-2024": "MassiveText (its base Chinchilla surface), nats/token",
    "krajewski-2024": "C4, nats/token (MoE at its optimal granularity)",
}
LOSS_NOTE = (
    "losses are on each law's own data set and tokenizer (column loss_scale): compare a law with "
    "itself across budgets, not laws with each other"
)


def predicts_loss(law: Law) -> bool:
    """Whether the law gives a loss at its compute-optimal point."""
    if isinstance(law, PowerLawAllocation):
        return law.has_frontier_loss
    return bool(law.has_loss)


def _width_for_non_embedding(N, vocab):
    return smooth_shape(N, vocab=vocab, non_embedding=True)[1]


def _one(law: Law, C: float, vocab: int, context: int, G) -> dict:
    extra, conversion = "", "none"
    loss = math.nan
    scale = LOSS_SCALE.get(law.name, "own data set")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if isinstance(law, FlopsPerTokenAllocation):
            law = law.at_shape(vocab, context)
            M, D = law.frontier_m(C)
            N = law.frontier(C)[0]
            native = float(M)
            conversion = law.conversion_note()
            extra = f"M = {float(M):.4g} non-embedding FLOPs/token; C = M D"
        elif isinstance(law, FineGrainedMoELaw):
            opt = law.optimum(C, G)
            Na, D, Gb = float(opt["active_params"][0]), float(opt["tokens"][0]), float(opt["G"][0])
            loss = float(opt["loss"][0])
            d = law.aspect * (Na / (12.0 * law.aspect**2)) ** (1.0 / 3.0)
            N, native = Na + vocab * d, Na
            total = float(law.total_params(Na)) + vocab * d
            conversion = (
                f"active non-embedding -> active with embedding (vocab {vocab}, d = {law.aspect:g} n_blocks = {d:.0f})"
            )
            extra = f"G = {Gb:g}, E = {law.E:g}; total params (all experts, with embedding) {total:.4g}"
            if G is not None:
                scale = f"C4, nats/token (MoE at granularity G = {Gb:g})"
        else:
            Nn, D = law.frontier(C)
            native = float(Nn)
            if law.params_convention == "non_embedding":
                d = float(_width_for_non_embedding(native, vocab))
                N = native + vocab * d
                conversion = (
                    f"non-embedding N -> total with vocab {vocab} (embedding V d, d = {d:.0f} from n_layer = d^0.75/12)"
                )
            else:
                N = native
                if law.params_convention == "nonzero":
                    conversion = "dense (S = 0): non-zero = total"
            if isinstance(law, NonEmbeddingChinchillaLaw):
                extra = "total-parameter frontier = its base Chinchilla surface"
            if predicts_loss(law):
                loss = float(law.loss_at_frontier(C))
    N, D = float(N), float(D)
    prov = law.provenance
    lo, hi = prov.fitted_flops if prov.fitted_flops else (math.nan, math.nan)
    if prov.fitted_flops and C > hi:
        extrap = C / hi
    elif prov.fitted_flops and C < lo:
        extrap = C / lo
    else:
        extrap = 1.0 if prov.fitted_flops else math.nan
    return {
        "flops": C,
        "law": law.name,
        "form": law.form,
        "params": N,
        "tokens": D,
        "tokens_per_param": D / N,
        "loss": loss,
        "predicts_loss": predicts_loss(law),
        "loss_scale": scale if predicts_loss(law) else "",
        "params_native": native,
        "params_convention": law.params_convention,
        "flops_convention": law.flops_convention,
        "conversion": conversion,
        "fitted_flops_lo": lo,
        "fitted_flops_hi": hi,
        "extrapolation": extrap,
        "citation": prov.citation,
        "extra": extra,
    }


def compare_laws(
    flops, names="all", *, vocab: int = DEEPSEEK_DEFAULT_VOCAB, context: int = DEEPSEEK_DEFAULT_CONTEXT, G=None
) -> pd.DataFrame:
    """One row per law (and budget): its compute-optimal plan at ``flops`` side by side.

    ``names``: ``"all"`` (every registered law) or an iterable of names/aliases/law objects.
    ``vocab``/``context`` set the shape used to convert parameter counts to total parameters
    (DeepSeek's M, non-embedding counts, MoE active counts); ``G`` fixes the MoE granularity
    (default: its optimum among 1..64; Krajewski et al. 2024, arXiv:2402.07871).

    Columns: flops, law, form, params (total parameters after conversion; active ones for the MoE),
    tokens, tokens_per_param, loss (NaN for allocation-only laws; each on its own data set: see
    loss_scale), predicts_loss, params_native (the law's own count, params_convention),
    flops_convention, conversion (what was done to params_native), fitted_flops_lo/hi,
    extrapolation (C over the fitted range's nearer end; 1 inside it), citation, extra.

    ``df.attrs``: ``note`` (how to read the losses), ``vocab``, ``context`` and ``spread``: for each
    budget, max/min of params and of tokens across the laws, and which laws are at either end.
    Each law's FLOPs are its own convention (6ND for most; C = M D for DeepSeek; routing included for
    the MoE): the budget is the same number, not always the same work.
    """
    import pandas as pd  # pandas costs `scaling plan` 0.2 s of start-up: only the table needs it

    budgets = np.atleast_1d(np.asarray(flops, dtype=float))
    if budgets.size == 0 or np.any(~np.isfinite(budgets)) or np.any(budgets <= 0):
        raise ScalingError("compare_laws: FLOPs must be positive finite numbers")
    if isinstance(names, str):
        names = list_laws() if names.strip().lower() == "all" else [n.strip() for n in names.split(",") if n.strip()]
    laws = [get_law(n) for n in names]
    rows = [_one(law, float(C), int(vocab), int(context), G) for C in budgets for law in laws]
    df = pd.DataFrame(rows)
    spread = {}
    for C, grp in df.groupby("flops", sort=True):
        ok = grp[np.isfinite(grp["params"]) & np.isfinite(grp["tokens"])]
        if ok.empty:
            continue
        spread[float(np.asarray(C, dtype=float))] = {
            "params": float(ok["params"].max() / ok["params"].min()),
            "tokens": float(ok["tokens"].max() / ok["tokens"].min()),
            "params_min": (ok.loc[ok["params"].idxmin(), "law"], float(ok["params"].min())),
            "params_max": (ok.loc[ok["params"].idxmax(), "law"], float(ok["params"].max())),
            "tokens_min": (ok.loc[ok["tokens"].idxmin(), "law"], float(ok["tokens"].min())),
            "tokens_max": (ok.loc[ok["tokens"].idxmax(), "law"], float(ok["tokens"].max())),
            "tokens_per_param_range": (float(ok["tokens_per_param"].min()), float(ok["tokens_per_param"].max())),
            "laws": len(ok),
        }
    df.attrs.update({"note": LOSS_NOTE, "vocab": int(vocab), "context": int(context), "spread": spread})
    return df


def spread_table(df: pd.DataFrame) -> pd.DataFrame:
    """``df.attrs["spread"]`` of a :func:`compare_laws` result as a table, one row per budget."""
    import pandas as pd  # see compare_laws

    rows = []
    for C, s in df.attrs.get("spread", {}).items():
        rows.append(
            {
                "flops": C,
                "params_spread": s["params"],
                "tokens_spread": s["tokens"],
                "params_min_law": s["params_min"][0],
                "params_min": s["params_min"][1],
                "params_max_law": s["params_max"][0],
                "params_max": s["params_max"][1],
                "tokens_min_law": s["tokens_min"][0],
                "tokens_min": s["tokens_min"][1],
                "tokens_max_law": s["tokens_max"][0],
                "tokens_max": s["tokens_max"][1],
                "tokens_per_param_min": s["tokens_per_param_range"][0],
                "tokens_per_param_max": s["tokens_per_param_range"][1],
                "laws": s["laws"],
            }
        )
    return pd.DataFrame(rows)


def zoo_table(names: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per registered law: name, form, whether it predicts loss, conventions, fitted range, citation."""
    import pandas as pd  # see compare_laws

    rows = []
    for n in list(names) if names is not None else list_laws():
        law = get_law(n)
        ff = law.provenance.fitted_flops
        rows.append(
            {
                "law": law.name,
                "form": law.form,
                "predicts_loss": predicts_loss(law),
                "params_convention": law.params_convention,
                "flops_convention": law.flops_convention,
                "fitted_flops_lo": ff[0] if ff else math.nan,
                "fitted_flops_hi": ff[1] if ff else math.nan,
                "citation": law.provenance.citation,
                "url": law.provenance.url,
            }
        )
    return pd.DataFrame(rows)


__all__ = ["LOSS_NOTE", "LOSS_SCALE", "compare_laws", "predicts_loss", "spread_table", "zoo_table"]
