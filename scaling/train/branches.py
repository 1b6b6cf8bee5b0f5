"""Branched warmup-stable-decay (WSD) runs: one trunk per model, a cool-down branch per token count.

A size that a sweep trains to several token counts D_1 < ... < D_k trains one *trunk* at constant
learning rate (after a shared warm-up), and every run D_i is a *branch* that starts from the
trunk's state at its decay start D_i (1 - f) and cools the learning rate down over its last
fraction f of tokens (Hägele et al. 2024, arXiv:2405.18392: such cool-downs match a cosine schedule
tuned to each length). With a shared absolute warm-up (``warmup_steps``) and data drawn from
(seed, step) alone, a branch computes exactly what a plain WSD run of its length computes; the
trunk trains D_k (1 - f) tokens once instead of every run training its own.

Store layout: the trunk is a directory beside its branches, ``<sweep>/<trunk id>/`` with a
config.json tagged ``role = "trunk"`` (left out of ``collect``), its resumable checkpoint.pt, and
one snapshot ``branch-<step>.pt`` per branch point, removed once every branch has finished. Each
branch is an ordinary run (config, curve, result: ``trunk``, ``branch_step`` and ``spent_flops``,
its own cool-down FLOPs, say how it was made).

Crash safety: the whole group runs under the trunk's lock; a killed trunk or branch resumes from its
checkpoint; a finished branch (result.json) is never trained again; a branch whose snapshot is
missing (deleted, or never committed) is re-derived by training the trunk again from its latest
earlier snapshot (or from its initialisation): deterministic, so the state is the same. A corrupt
trunk checkpoint, snapshot or branch checkpoint is set aside (``<name>.corrupt-<time>``, with a
warning) and re-derived the same way.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from .. import store
from .._io import atomic_write_bytes
from ..errors import ScalingError
from . import tokens as _tokens
from .checkpoint import read_checkpoint, save_checkpoint
from .loop import train

SNAPSHOT = "branch-{step}.pt"
GROUP_LOCK = ".group.lock"
# fields in which the branches of one trunk may differ
BRANCH_FIELDS = frozenset({"run_id", "tokens", "budget", "tags", "trunk", "save_model"})


def trunk_config(branches: Sequence[store.RunConfig]) -> store.RunConfig:
    """The trunk of a group of branches: the longest branch's configuration under the trunk's id."""
    if not branches:
        raise ScalingError("a trunk needs at least one branch")
    ids = {b.trunk for b in branches}
    if len(ids) != 1 or None in ids:
        raise ScalingError(f"branches name different trunks: {sorted(map(str, ids))}")
    longest = max(branches, key=lambda b: b.steps)
    base = {k: v for k, v in longest.identity().items() if k not in BRANCH_FIELDS}
    for b in branches:
        other = {k: v for k, v in b.identity().items() if k not in BRANCH_FIELDS}
        if other != base:
            diff = sorted(k for k in base if base[k] != other.get(k))
            raise ScalingError(
                f"branch {b.run_id} of trunk {longest.trunk} differs from {longest.run_id} in "
                f"{', '.join(diff)}: branches of one trunk may differ only in their tokens"
            )
        if b.schedule != "wsd" or b.warmup_steps is None:
            raise ScalingError(f"branch {b.run_id}: needs schedule 'wsd' and an absolute warmup_steps")
        if b.sparsity and b.sparsity_mask == "magnitude" and b.sparsity_dense_steps is None:
            # a fraction of each branch's own steps would prune each branch at a different step of
            # the one trunk they share
            raise ScalingError(f"branch {b.run_id}: a magnitude mask needs an absolute sparsity_dense_steps")
    return longest.model_copy(
        update={"run_id": longest.trunk, "trunk": None, "budget": None, "tags": {"role": "trunk"}, "save_model": False}
    )


def _checkpoint_step(path: Path) -> int | None:
    ck = read_checkpoint(path)  # a corrupt one is set aside (with a warning): None
    return None if ck is None else int(ck["state"]["step"])


def _copy_atomic(src: Path, dst: Path) -> None:
    atomic_write_bytes(dst, src.read_bytes())


def _snapshots(trunk_dir: Path) -> dict[int, Path]:
    out = {}
    for p in trunk_dir.glob("branch-*.pt"):
        try:
            out[int(p.stem.split("-", 1)[1])] = p
        except ValueError:
            continue
    return out


def ensure_snapshot(
    trunk: store.RunConfig, trunk_dir: Path, step: int, *, data, progress=None, data_dir=None
) -> Path | store.RunResult:
    """The trunk's state after ``step`` steps as a snapshot file, training the trunk as far as needed
    (re-deriving it from an earlier snapshot when the trunk is already past ``step``); a failed
    RunResult if the trunk diverged before reaching it."""
    snap = trunk_dir / SNAPSHOT.format(step=step)
    if snap.exists():
        return snap
    ckpt = trunk_dir / store.CHECKPOINT
    at = _checkpoint_step(ckpt)
    if at is not None and at > step:
        # the trunk is past this branch point and its snapshot is gone: replay from the latest
        # earlier snapshot (or from the start); the loop is deterministic, so the state is the same
        earlier = {s: p for s, p in _snapshots(trunk_dir).items() if s <= step}
        if earlier:
            _copy_atomic(earlier[max(earlier)], ckpt)
        else:
            ckpt.unlink()
        store.journal(trunk_dir.parent, "rederive", trunk.run_id, step=step, start=max(earlier) if earlier else 0)
        at = _checkpoint_step(ckpt)
    if at != step:
        res = train(trunk, trunk_dir, data=data, data_dir=data_dir, stop_after_steps=step, progress=progress)
        if res is not None:  # diverged before the branch point (a trunk never reaches its own end)
            return res
    _copy_atomic(ckpt, snap)
    return snap


def _start_branch(
    snapshot: Path, branch_dir: Path, trunk_id: str, step: int, cfg: store.RunConfig | None = None
) -> bool:
    """Put the trunk's state into the branch's directory as its checkpoint (marked as a first start);
    False if the snapshot is corrupt (it is set aside, to be re-derived)."""
    ck = read_checkpoint(snapshot)
    if ck is None:
        return False
    ck["state"]["branch_fresh"] = True
    ck["state"]["branch_step"] = step
    ck["state"]["resumes"] = 0
    ck["state"]["started_at"] = store.now()
    if cfg is not None:
        save_checkpoint(branch_dir, ck, cfg.steps, cfg.tokens_per_step)
    else:
        buf = io.BytesIO()
        torch.save(ck, buf)
        atomic_write_bytes(branch_dir / store.CHECKPOINT, buf.getvalue())
    return True


def _failed_branch(cfg: store.RunConfig, branch_dir: Path, trunk_result: store.RunResult) -> store.RunResult:
    res = trunk_result.model_copy(
        update={
            "run_id": cfg.run_id,
            "budget": cfg.budget,
            "trunk": cfg.trunk,
            "reason": f"trunk {cfg.trunk} {trunk_result.reason}",
        }
    )
    store.write_config(branch_dir, cfg)
    store.write_result(branch_dir, res)
    store.journal(branch_dir.parent, "failed", cfg.run_id, reason=res.reason)
    return res


def _longer_trunk(trunk: store.RunConfig, trunk_dir: Path) -> store.RunConfig:
    """The trunk these branches continue, when the store already has one that differs only in length.

    A trunk is stopped at each branch point before its own cool-down, and up to there its state does
    not depend on its length (constant rate after the shared warm-up, data a function of (seed, step)).
    So a stored trunk made for a longer branch than these (its other branches finished, one of these
    is trained again) is kept as it is; and a stored trunk shorter than these need (a sweep that
    added longer runs of the size, such as a second seed first run at one budget) is extended: its
    config.json is rewritten to the longer trunk, its snapshots and checkpoint stay valid prefixes,
    and a branch point they do not reach is trained on from them (or from the start)."""
    try:
        existing = store.read_config(trunk_dir)
    except (FileNotFoundError, store.CorruptRunFile):
        return trunk
    diff = {k for k, _, _ in store.config_diff(existing, trunk)}
    if diff and diff <= {"tokens"}:
        if existing.decay_start >= trunk.decay_start:
            return existing.model_copy(update={k: getattr(trunk, k) for k in store.EXECUTION_FIELDS})
        store.write_config(trunk_dir, trunk, check=False)
        store.journal(trunk_dir.parent, "extend", trunk.run_id, tokens=trunk.tokens, was=existing.tokens)
    return trunk


def train_branches(
    branches: Sequence[store.RunConfig],
    root: str | os.PathLike,
    *,
    data_dir=None,
    progress: Callable[[dict], None] | None = None,
    data: _tokens.TokenData | None = None,
    keep_snapshots: bool = False,
) -> list[store.RunResult]:
    """Train a trunk and its branches (shortest first) into the store under ``root``; returns the
    branches' RunResults in the order given. Finished branches are read, not retrained."""
    branches = list(branches)
    trunk = trunk_config(branches)
    trunk_dir = store.run_dir(root, trunk.sweep, trunk.run_id)
    trunk = _longer_trunk(trunk, trunk_dir)
    trunk_dir.mkdir(parents=True, exist_ok=True)
    lock = store.RunLock(trunk_dir)
    lock.path = trunk_dir / GROUP_LOCK  # train() holds the trunk's own .lock while it trains it
    if not lock.acquire():
        raise store.RunBusy(f"trunk {trunk_dir} is being trained by another process")
    try:
        store.write_config(trunk_dir, trunk)
        if data is None:
            data = _tokens.prepare(
                trunk.corpus,
                trunk.tokenizer,
                val_fraction=trunk.val_fraction,
                data_dir=data_dir,
                max_bytes=trunk.corpus_max_bytes,
            )
        results: dict[str, store.RunResult] = {}
        for cfg in sorted(branches, key=lambda b: (b.decay_start, b.run_id)):
            bdir = store.run_dir(root, cfg.sweep, cfg.run_id)
            bdir.mkdir(parents=True, exist_ok=True)
            try:
                done = store.read_result(bdir)
            except store.CorruptRunFile:
                done = None  # train() sets it aside and resumes the branch
            if done is not None:
                results[cfg.run_id] = done
                continue
            if (bdir / store.CHECKPOINT).exists() and cfg.decay_start > 0:
                # a corrupt branch checkpoint is set aside here, so the branch restarts from its
                # trunk's snapshot (not from scratch)
                read_checkpoint(bdir / store.CHECKPOINT)
            failed = None
            for _ in range(3):  # a corrupt snapshot is set aside by _start_branch and re-derived
                if (bdir / store.CHECKPOINT).exists() or cfg.decay_start <= 0:
                    break
                snap = ensure_snapshot(
                    trunk, trunk_dir, cfg.decay_start, data=data, progress=progress, data_dir=data_dir
                )
                if isinstance(snap, store.RunResult):
                    failed = snap
                    break
                store.write_config(bdir, cfg)
                _start_branch(snap, bdir, trunk.run_id, cfg.decay_start, cfg)
            if failed is not None:
                results[cfg.run_id] = _failed_branch(cfg, bdir, failed)
                continue
            results[cfg.run_id] = train(cfg, bdir, data=data, data_dir=data_dir, progress=progress)
        if not keep_snapshots and all(r is not None for r in results.values()):
            for p in _snapshots(trunk_dir).values():
                p.unlink(missing_ok=True)
            (trunk_dir / store.CHECKPOINT).unlink(missing_ok=True)
        return [results[b.run_id] for b in branches]
    finally:
        lock.release()


__all__ = ["train_branches", "trunk_config", "ensure_snapshot", "SNAPSHOT"]
