"""The columns of a runs table: the canonical roles, the source names each is found under,
finding the column of a role (with "did you mean" hints), and ``where`` filters over columns.

This module imports pandas only.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

import pandas as pd

from ..errors import ScalingError

CANONICAL = ("run_id", "params", "tokens", "flops", "loss")


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", str(name)).lower()


def _suggest(name: str, columns: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(name), list(columns), n=3, cutoff=0.5)
    if not close:
        byn = {_norm(c): c for c in columns}
        close = [byn[c] for c in difflib.get_close_matches(_norm(name), list(byn), n=3, cutoff=0.5)]
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _avail(columns: Sequence[str]) -> str:
    cols = list(columns)
    shown = ", ".join(repr(c) for c in cols[:40])
    return shown + (f", ... ({len(cols)} in all)" if len(cols) > 40 else "")


# Auto-detected source names for each role, in order of preference. Matching ignores case,
# spaces, underscores and hyphens ("Model Size" == "model_size" == "modelsize").
ALIASES: dict[str, tuple[str, ...]] = {
    "run_id": ("run_id", "run", "run_name", "name", "id", "runid"),
    "params": (
        "params",
        "N",
        "num_params",
        "n_params",
        "param_count",
        "parameters",
        "model_size",
        "nparams",
        "total_params",
        "params_total",
        "N_total",
        "size",
        "model_params",
    ),
    "tokens": (
        "tokens",
        "D",
        "num_tokens",
        "n_tokens",
        "num_token",
        "token_num",
        "train_tokens",
        "training_tokens",
        "tokens_seen",
        "total_tokens",
        "data_size",
        "dataset_size",
    ),
    "flops": (
        "flops",
        "C",
        "compute",
        "flops_6ND",
        "train_flops",
        "training_flops",
        "total_flops",
        "budget",
        "flops_budget",
    ),
    "loss": (
        "loss",
        "val_loss",
        "loss_c4_val",
        "eval_loss",
        "validation_loss",
        "valid_loss",
        "test_loss",
        "final_loss",
        "final_val_loss",
        "train_loss",
        "L",
    ),
    "unique_tokens": ("unique_tokens", "U", "U_unique", "num_unique_tokens", "unique"),
    "status": ("status", "state", "run_status"),
    "step": ("step", "steps", "iteration", "iter", "global_step"),
    "ppl": ("ppl", "perplexity", "val_ppl", "eval_ppl"),
}
_ROLE_WORDS = {
    "params": "parameter count",
    "tokens": "training tokens",
    "flops": "training FLOPs",
    "loss": "loss",
    "run_id": "run id",
    "unique_tokens": "unique tokens",
    "status": "status",
    "step": "step",
    "ppl": "perplexity",
}


def find_column(
    df: pd.DataFrame,
    role: str,
    explicit: str | None = None,
    *,
    required: bool = True,
    arg: str | None = None,
    source: str = "runs",
) -> str | None:
    """The source column playing ``role`` (explicit name, else the first alias present)."""
    cols = list(df.columns)
    arg = arg or f"{role}_col"
    if explicit is not None:
        if explicit in cols:
            return explicit
        byn = {_norm(c): c for c in cols}
        # tolerate case/spacing differences ("model size" for "Model Size")
        if _norm(explicit) in byn:
            return byn[_norm(explicit)]
        raise ScalingError(
            f"{source}: {arg}={explicit!r}: no such column{_suggest(explicit, cols)} (available: {_avail(cols)})"
        )
    byn: dict[str, str] = {}
    for c in cols:
        byn.setdefault(_norm(c), c)
    for alias in ALIASES.get(role, (role,)):
        if _norm(alias) in byn:
            return byn[_norm(alias)]
    if role == "loss":
        cands = [c for c in cols if "loss" in c.lower()]
        if len(cands) == 1:
            return cands[0]
        if len(cands) > 1:
            raise ScalingError(
                f"{source}: several loss columns ({_avail(cands)}); choose one with {arg}=NAME (--loss-col)"
            )
    if required:
        tried = ", ".join(ALIASES.get(role, (role,))[:6])
        raise ScalingError(
            f"{source}: no {_ROLE_WORDS.get(role, role)} column (looked for {tried}, ...)"
            f"{_suggest(role, cols)}; available: {_avail(cols)}; name it with {arg}=NAME "
            f"(--{arg.replace('_', '-')})"
        )
    return None


def params_convention_of(column: str) -> str:
    """ "non_embedding" when the parameter column's name says so (N_no_embed, non_embedding_params)."""
    n = _norm(column)
    return "non_embedding" if ("noembed" in n or "nonembed" in n or "withoutembed" in n) else "total"


def apply_where(df: pd.DataFrame, where: str, source: str = "runs") -> pd.DataFrame:
    """``df.query(where)`` with errors that name the expression and the columns."""
    try:
        res = df.query(where, engine="python")
    except Exception as exc:  # pandas raises many kinds (UndefinedVariableError, SyntaxError, TypeError)
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        m = re.search(r"name '([^']+)' is not defined", msg)
        hint = _suggest(m.group(1), list(df.columns)) if m else ""
        raise ScalingError(
            f"{source}: --where {where!r} failed: {msg}{hint} (columns: {_avail(df.columns)}; "
            "quote names with spaces in backticks, e.g. `Model Size` > 1e8)"
        ) from None
    if not isinstance(res, pd.DataFrame):
        raise ScalingError(f"{source}: --where {where!r} is not a filter (it must give true/false per row)")
    return res
