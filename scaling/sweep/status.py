"""``sweep_status``: the state of every run of a spec in the run store (ok, failed, partial,
pending, stale, corrupt), read without torch."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .. import store
from ..units import si
from .spec import DEFAULT_ROOT, SweepSpec


def _short(v) -> str:
    text = f"{v:g}" if isinstance(v, float) else str(v)
    return text if len(text) <= 24 else text[:21] + "..."


def _progress_of(d: Path, cfg: store.RunConfig) -> int | None:
    """Tokens an unfinished run has trained: its checkpoint's (progress.json, or the checkpoint
    itself when torch is importable), else its last evaluation's; None if neither says."""
    prog = store.read_progress(d)
    if prog is not None:
        return prog["tokens"]
    cur = store.read_curve(d)
    return int(cur["tokens"].iloc[-1]) if len(cur) else None


def sweep_status(spec: SweepSpec, root: str | os.PathLike = DEFAULT_ROOT):
    """One row per run of the spec: run_id, state, budget, params, tokens, done_tokens, loss, reason.

    States: ``ok``, ``failed`` (diverged; reason), ``partial`` (done_tokens from its checkpoint, else
    its last evaluation), ``pending`` (a WSD branch not yet started shows its trunk's progress, up to
    its branch point), ``stale`` (its config.json differs from the spec's run: reason names the
    fields, old -> new) and ``corrupt`` (reason names the file and what is wrong)."""
    rows = []
    sweep_dir = Path(root) / spec.name
    trunks: dict[str, int | None] = {}
    for cfg in spec.expand():
        d = sweep_dir / cfg.run_id
        row = {
            "run_id": cfg.run_id,
            "state": "pending",
            "budget": cfg.budget,
            "params": cfg.param_counts()["total"],
            "tokens": cfg.trained_tokens,
            "done_tokens": None,
            "loss": None,
            "reason": "",
        }
        rows.append(row)
        try:
            old = store.read_config(d)
            res = store.read_result(d)
            store.read_curve(d)
        except FileNotFoundError:
            old, res = None, None
        except store.CorruptRunFile as exc:
            row.update(state="corrupt", reason=str(exc))
            continue
        if old is not None:
            diff = store.config_diff(old, cfg)
            if diff:
                was = res.status if res is not None else "unfinished"
                row.update(
                    state="stale",
                    reason=f"was {was}; config.json differs from the spec: "
                    + ", ".join(f"{k} {_short(a)} -> {_short(b)}" for k, a, b in diff),
                )
                continue
        if res is not None:
            row.update(state=res.status, done_tokens=res.tokens, loss=res.loss, reason=res.reason or "")
            continue
        try:
            done = _progress_of(d, cfg) if d.is_dir() else None
        except store.CorruptRunFile as exc:
            row.update(state="corrupt", reason=str(exc))
            continue
        if done is not None or (d / store.CHECKPOINT).exists():
            row.update(state="partial", done_tokens=done)
        elif cfg.trunk:
            if cfg.trunk not in trunks:
                try:
                    trunks[cfg.trunk] = _progress_of(sweep_dir / cfg.trunk, cfg)
                except store.CorruptRunFile:
                    trunks[cfg.trunk] = None
            t = trunks[cfg.trunk]
            if t:
                row.update(
                    done_tokens=min(t, cfg.decay_start * cfg.tokens_per_step),
                    reason=f"trunk {cfg.trunk} at {si(t)} tokens",
                )
    return pd.DataFrame(rows)
