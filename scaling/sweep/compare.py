"""Pair the runs of two sweeps that trained the same model on the same tokens, and compare them.

``compare_sweeps(dir_a, dir_b)`` matches finished runs by shape (n_layer, d_model, n_head, d_ff,
vocab, context, mixer, sparsity), trained tokens and seed, and tabulates their losses side by side
with the compute each design spent on exactly those runs: a plain run its own FLOPs; a WSD branch
its cool-down, plus, once per trunk, the trunk's FLOPs up to the latest matched branch point. It is
how the branched WSD design is checked against cosine-to-budget runs (issue 13). Torch-free.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import store
from .._io import atomic_write_text
from ..errors import ScalingError

KEY = ("n_layer", "d_model", "n_head", "d_ff", "vocab", "context", "mixer", "sparsity", "tokens", "seed")


def _runs(sweep_dir: Path) -> pd.DataFrame:
    rows = []
    for path in store.iter_runs(sweep_dir):
        res = store.read_result(path)
        if res is None or res.status != "ok":
            continue
        cfg = store.read_config(path)
        if store.is_trunk(cfg):
            continue
        rows.append(
            {
                "n_layer": cfg.n_layer,
                "d_model": cfg.d_model,
                "n_head": cfg.n_head,
                "d_ff": cfg.d_ff,
                "vocab": cfg.vocab,
                "context": cfg.context,
                "mixer": cfg.mixer,
                "sparsity": cfg.sparsity,
                "tokens": res.tokens,
                "seed": cfg.seed,
                "run_id": res.run_id,
                "params": res.params,
                "loss": res.loss,
                "flops": res.flops,
                "schedule": cfg.schedule,
                "trunk": res.trunk or "",
                "spent": res.spent_flops if res.spent_flops is not None else res.flops,
                "result": res,
            }
        )
    return pd.DataFrame(rows)


def _label(df: pd.DataFrame, fallback: str) -> str:
    if not len(df):
        return fallback
    sched = df["schedule"].iloc[0]
    return ("wsd" if (df["trunk"] != "").all() else sched) if df["schedule"].nunique() == 1 else fallback


@dataclass
class SweepComparison:
    table: pd.DataFrame  # one row per matched run
    label_a: str
    label_b: str
    spent_a: float  # FLOPs design A spent on the matched runs
    spent_b: float

    @property
    def rel_diff(self) -> pd.Series:
        return self.table[f"loss_{self.label_b}"] / self.table[f"loss_{self.label_a}"] - 1.0

    def summary(self) -> str:
        d = self.rel_diff
        a, b = self.label_a, self.label_b
        lines = [
            f"{len(self.table)} matched runs: loss_{b} / loss_{a} - 1: mean {d.mean():+.3%}, "
            f"mean absolute {d.abs().mean():.3%}, largest {d.abs().max():.3%} "
            f"({self.table['run_id'].iloc[int(d.abs().values.argmax())]})",
            f"compute spent on these runs: {a} {self.spent_a:.4g} FLOPs, {b} {self.spent_b:.4g} FLOPs "
            f"({self.spent_b / self.spent_a:.3f}x)",
        ]
        return "\n".join(lines)


def _spent(df: pd.DataFrame) -> tuple[pd.Series, float]:
    """Per-run spent FLOPs (a branch: its cool-down) and the total with each trunk counted once."""
    trunks = store.trunk_flops(df["result"])
    return df["trunk"].map(trunks).fillna(0.0), float(df["spent"].sum()) + sum(trunks.values())


def compare_sweeps(
    dir_a: str | os.PathLike, dir_b: str | os.PathLike, *, out: str | os.PathLike | None = None
) -> SweepComparison:
    """Match the finished runs of two sweep directories and compare losses and spent compute."""
    a, b = _runs(Path(dir_a)), _runs(Path(dir_b))
    for df, d in ((a, dir_a), (b, dir_b)):
        if not len(df):
            raise ScalingError(f"no finished runs under {d}")
    la, lb = _label(a, "a"), _label(b, "b")
    if la == lb:
        la, lb = f"{la}_a", f"{lb}_b"
    m = a.merge(b, on=list(KEY), suffixes=("_a", "_b"))
    if not len(m):
        raise ScalingError(f"no run of {dir_a} matches one of {dir_b} (same shape, tokens and seed)")
    keep_a = a.set_index("run_id").loc[m["run_id_a"]].reset_index()
    keep_b = b.set_index("run_id").loc[m["run_id_b"]].reset_index()
    trunk_a, spent_a = _spent(keep_a)
    trunk_b, spent_b = _spent(keep_b)
    table = pd.DataFrame(
        {
            "run_id": m["run_id_b"],
            "run_id_" + la: m["run_id_a"],
            "params": m["params_a"],
            "tokens": m["tokens"],
            "flops": m["flops_a"],
            f"loss_{la}": m["loss_a"],
            f"loss_{lb}": m["loss_b"],
            "rel_diff": m["loss_b"] / m["loss_a"] - 1.0,
            f"spent_flops_{la}": keep_a["spent"].values,
            f"spent_flops_{lb}": keep_b["spent"].values,
            f"trunk_{lb}": m["trunk_b"],
            f"trunk_flops_{lb}": trunk_b.values,
        }
    )
    if (keep_a["trunk"] != "").any():
        table[f"trunk_{la}"], table[f"trunk_flops_{la}"] = m["trunk_a"].values, trunk_a.values
    table = table.sort_values(["params", "tokens"]).reset_index(drop=True)
    if out is not None:
        atomic_write_text(out, table.to_csv(index=False))
    return SweepComparison(table, la, lb, spent_a, spent_b)


__all__ = ["compare_sweeps", "SweepComparison"]
