"""What a sweep computed: the FLOPs of its finished runs, each WSD trunk counted once.

A WSD branch (Hägele et al. 2024, arXiv:2405.18392) records only its cool-down as ``spent_flops``;
the trunk it started from is charged once, up to the latest branch point of its branches.

This module imports pydantic and pandas only (no torch).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from .files import CorruptRunFile
from .results import RunResult, read_result
from .tables import _corrupt, iter_runs


def trunk_flops(results: Iterable[RunResult]) -> dict[str, float]:
    """FLOPs each WSD trunk spent for the given branches: up to the latest of their branch points."""
    out: dict[str, float] = {}
    for r in results:
        if r.trunk:
            f = r.flops_per_token * (r.branch_step or 0) * (r.tokens / max(1, r.steps))
            out[r.trunk] = max(out.get(r.trunk, 0.0), f)
    return out


def sweep_compute(sweep_dir: str | os.PathLike) -> dict[str, float]:
    """FLOPs of a sweep's finished runs: ``nominal`` (each run as if trained alone) and ``spent``
    (what was really computed: plain runs whole, each WSD trunk once up to its last branch point,
    each branch's cool-down), under each run's convention. Corrupt runs are left out (with a warning)."""
    done: list[RunResult] = []
    for path in iter_runs(sweep_dir):
        try:
            res = read_result(path)
        except CorruptRunFile as exc:
            _corrupt(None, exc)
            continue
        if res is not None and res.status == "ok":
            done.append(res)
    nominal = sum(r.flops for r in done)
    spent = sum((r.spent_flops or 0.0) if r.trunk else r.flops for r in done)
    trunks = trunk_flops(done)
    return {"nominal": nominal, "spent": spent + sum(trunks.values()), "trunks": float(len(trunks))}
