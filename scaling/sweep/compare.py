"""Pair the runs of two sweeps that trained the same model on the same tokens, and compare them.

``compare_sweeps(dir_a, dir_b)`` matches finished runs by shape (n_layer, d_model, n_head, d_ff,
vocab, context, mixer, sparsity), trained tokens and seed, and tabulates their losses side by side
with the compute each design spent on exactly those runs: a plain run its own FLOPs; a WSD branch
its cool-down, plus, once per trunk, the trunk's FLOPs up to the latest matched branch point. It is
how the branched WSD design is checked against cosine-to-budget runs (issue 13). Side A may be
several sweeps (say the cosine runs at 1x, 2x and 4x the learning rate): with ``best=True`` each
matched run keeps A's lowest loss, i.e. a schedule tuned per run as Hägele et al. 2024
(arXiv:2405.18392) compare it, and the table says at which learning rate and out of how many tries.
Torch-free.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import store
from .._io import atomic_write_text
from ..errors import ScalingError
from ..fit.noise import t_interval

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
                "steps": res.steps,
                "flops": res.flops,
                "schedule": cfg.schedule,
                "lr": cfg.lr,
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
    spent_a: float  # FLOPs design A spent on the matched runs (with best: on the kept runs)
    spent_b: float
    tried_a: float | None = None  # with best: FLOPs of every A run that matched, kept or not

    @property
    def rel_diff(self) -> pd.Series:
        return self.table[f"loss_{self.label_b}"] / self.table[f"loss_{self.label_a}"] - 1.0

    def mean_interval(self, level: float = 0.95) -> tuple[float, float]:
        """Student-t interval of the mean relative difference over the matched pairs (NaN below two
        pairs). Each pair is one seed of each design, so the interval carries seed noise as measured
        by the pairs' own scatter; pairs at very different token counts can differ for real, which
        widens it."""
        iv = t_interval(self.rel_diff.tolist(), level)
        return iv if iv is not None else (float("nan"), float("nan"))

    def by_point(self) -> pd.DataFrame:
        """One row per point (shape and tokens): its seed pairs' mean relative difference and their
        count. Pairs of one seed share initialisation and data order on both sides, so a point's mean
        over seeds is what the schedules differ by there, with the seed noise of one pair averaged."""
        t = self.table.assign(d=self.rel_diff)
        g = t.groupby(["shape", "params", "tokens"], sort=False)
        return (
            g.agg(seeds=("seed", "size"), rel_diff=("d", "mean"), run_id=("run_id", "first"))
            .reset_index()
            .sort_values(["params", "tokens"])
            .reset_index(drop=True)
        )

    def summary(self) -> str:
        d = self.rel_diff
        a, b = self.label_a, self.label_b
        lo, hi = self.mean_interval()
        ci = f" (95% interval {lo:+.2%} to {hi:+.2%}, t over the pairs)" if np.isfinite(lo) else ""
        lines = [
            f"{len(self.table)} matched runs: loss_{b} / loss_{a} - 1: mean {d.mean():+.3%}{ci}, "
            f"sd {d.std(ddof=1) if len(d) > 1 else float('nan'):.3%}, "
            f"mean absolute {d.abs().mean():.3%}, largest {d.abs().max():.3%} "
            f"({self.table['run_id'].iloc[int(d.abs().values.argmax())]})",
            f"compute spent on these runs: {a} {self.spent_a:.4g} FLOPs, {b} {self.spent_b:.4g} FLOPs "
            f"({self.spent_b / self.spent_a:.3f}x)",
        ]
        pts = self.by_point()
        if (pts["seeds"] > 1).any():
            diffs = pts["rel_diff"]
            iv = t_interval(diffs.tolist(), 0.95)
            ci = f" (95% interval {iv[0]:+.2%} to {iv[1]:+.2%}, t over the points)" if iv is not None else ""
            worst = pts.iloc[int(diffs.abs().values.argmax())]
            lines.insert(
                1,
                f"{len(pts)} points, each the mean of its {pts['seeds'].min()}-{pts['seeds'].max()} seed pairs: "
                f"mean {diffs.mean():+.3%}{ci}, mean absolute {diffs.abs().mean():.3%}, "
                f"largest {diffs.abs().max():.3%} "
                f"({worst['shape']} at {worst['tokens']:.4g} tokens, {worst['seeds']} seeds)",
            )
        if self.tried_a is not None:
            lines.append(
                f"{a}: the best (lowest loss) of {int(self.table[f'tried_{a}'].sum())} runs tried for these "
                f"{len(self.table)}; all the tries cost {self.tried_a:.4g} FLOPs"
            )
        return "\n".join(lines)


def _spent(df: pd.DataFrame) -> tuple[pd.Series, float]:
    """Per-run spent FLOPs (a branch: its cool-down) and the total with each trunk counted once."""
    trunks = store.trunk_flops(df["result"])
    return df["trunk"].map(trunks).fillna(0.0), float(df["spent"].sum()) + sum(trunks.values())


def _one_per_key(df: pd.DataFrame, what: str, best: bool, hint: str, key: Sequence[str] = KEY) -> pd.DataFrame:
    """One run per key: the lowest loss with ``best``, else an error naming two runs that share one
    (``hint``: what the user can do about it)."""
    df = df.assign(tried=df.groupby(list(key), dropna=False)["run_id"].transform("size"))
    dup = df[df["tried"] > 1]
    if len(dup) and not best:
        ids = ", ".join(dup.sort_values("run_id")["run_id"].head(2))
        same = "tokens, seed and learning rate" if "lr_key" in key else "tokens and seed"
        raise ScalingError(f"{what}: runs {ids} trained the same model on the same {same}; {hint}")
    return df.sort_values("loss", kind="stable").drop_duplicates(list(key)).reset_index(drop=True)


def compare_sweeps(
    dir_a: str | os.PathLike | Sequence[str | os.PathLike],
    dir_b: str | os.PathLike,
    *,
    out: str | os.PathLike | None = None,
    best: bool = False,
    min_steps: int = 0,
    same_lr: bool = False,
) -> SweepComparison:
    """Match the finished runs of sweep directories and compare losses and spent compute.

    ``dir_a``: one directory or several (their runs pooled); ``best``: where A has several runs of one
    model, tokens and seed, keep the lowest loss (otherwise that is an error); ``min_steps``: keep only
    side B's runs of at least that many optimizer steps (the shortest runs are where schedules differ
    most); ``same_lr``: pair runs only at the same peak learning rate (to 6 significant digits), so
    that a sweep probing several rates pairs each with its own (a rerun of a probe, or its 1x runs
    against the sweep they repeat)."""
    if min_steps < 0:
        raise ScalingError(f"--min-steps: must be >= 0, got {min_steps}")
    dirs_a = [dir_a] if isinstance(dir_a, (str, os.PathLike)) else list(dir_a)
    parts = [_runs(Path(d)) for d in dirs_a]
    b = _runs(Path(dir_b))
    for df, d in [*zip(parts, dirs_a), (b, dir_b)]:
        if not len(df):
            raise ScalingError(f"no finished runs under {d}")
    if min_steps:
        b = b[b["steps"] >= min_steps]
        if not len(b):
            raise ScalingError(f"--min-steps {min_steps}: no finished run under {dir_b} has that many steps")
    pooled = pd.concat(parts, ignore_index=True)
    key = list(KEY)
    if same_lr:
        key.append("lr_key")
        pooled = pooled.assign(lr_key=[float(f"{x:.6g}") for x in pooled["lr"]])
        b = b.assign(lr_key=[float(f"{x:.6g}") for x in b["lr"]])
    a = _one_per_key(
        pooled, ", ".join(str(d) for d in dirs_a), best, "give --best to keep the lowest loss of each", key
    )
    hint = "side B (the last spec) must hold one run of each; put such sweeps on side A"
    if not same_lr:
        hint += " (or give --same-lr to pair runs of each learning rate)"
    b = _one_per_key(b, str(dir_b), False, hint, key)
    la, lb = _label(a, "a"), _label(b, "b")
    if la == lb:
        la, lb = f"{la}_a", f"{lb}_b"
    a, b = a.assign(row=np.arange(len(a))), b.assign(row=np.arange(len(b)))
    m = a.merge(b, on=key, suffixes=("_a", "_b"))
    if not len(m):
        same = "same shape, tokens, seed and learning rate" if same_lr else "same shape, tokens and seed"
        raise ScalingError(f"no run of {', '.join(map(str, dirs_a))} matches one of {dir_b} ({same})")
    # by row, not run id: the pooled sweeps of side A may share run ids (one probe per rate)
    keep_a = a.loc[m["row_a"]].reset_index(drop=True)
    keep_b = b.loc[m["row_b"]].reset_index(drop=True)
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
            f"lr_{la}": m["lr_a"],
            f"lr_{lb}": m["lr_b"],
            f"spent_flops_{la}": keep_a["spent"].values,
            f"spent_flops_{lb}": keep_b["spent"].values,
            f"trunk_{lb}": m["trunk_b"],
            f"trunk_flops_{lb}": trunk_b.values,
        }
    )
    if (keep_a["trunk"] != "").any():
        table[f"trunk_{la}"], table[f"trunk_flops_{la}"] = m["trunk_a"].values, trunk_a.values
    tried = None
    if best:
        table[f"tried_{la}"] = m["tried_a"].values
        matched = pooled.merge(m[key], on=key)
        tried = float(matched["spent"].sum()) + sum(store.trunk_flops(matched["result"]).values())
    table["seed"] = m["seed"].values
    table["shape"] = [f"{x}x{y}" for x, y in zip(m["n_layer"], m["d_model"])]
    table = table.sort_values(["params", "tokens", "seed"]).reset_index(drop=True)
    if out is not None:
        atomic_write_text(out, table.to_csv(index=False))
    return SweepComparison(table, la, lb, spent_a, spent_b, tried)


__all__ = ["compare_sweeps", "SweepComparison"]
