"""``run_sweep``: train every unfinished run of a sweep spec into the run store, resumably.

Before anything is trained: the memory check, every run's config.json written (corrupt run files
set aside first), the corpus prepared once and the epochs checked. Then the jobs go to an
executor (:mod:`scaling.sweep.jobs` on :mod:`scaling.executor`); a job another ``sweep run`` process holds is waited for
and read, or trained here if that process died before finishing it.
"""

from __future__ import annotations

import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from .. import store
from ..errors import ScalingError
from ..executor import Progress
from ..train import tokens as _tokens
from .expand import check_epochs, check_memory, jobs_of
from .jobs import SweepReport, finished_result, job_name, run_local, run_ray
from .spec import DEFAULT_ROOT, SweepSpec, load_spec

BUSY_POLL_S = 2.0  # how often a run locked by another process is looked at


def _result_matches(res: store.RunResult, cfg: store.RunConfig) -> bool:
    """Whether a result.json can be the result of this run (used when its config.json was corrupt)."""
    return (
        res.run_id == cfg.run_id
        and res.sweep == cfg.sweep
        and res.params == cfg.param_counts()["total"]
        and res.flops_convention == cfg.flops_convention
        and res.budget == cfg.budget
        and math.isclose(res.flops_per_token, cfg.flops_per_token(), rel_tol=1e-9)
        and (res.status == "failed" or res.steps == cfg.steps)
    )


def _repair_run(d: Path, cfg: store.RunConfig | None, note: Callable[[str], None]) -> None:
    """Set aside the corrupt files of a run directory no process is training now, so that the run
    trains again: a corrupt result.json makes the run unfinished (it resumes from its checkpoint); a
    corrupt config.json is rewritten from the spec, and what cannot be checked against the spec
    without it (a checkpoint; a result that disagrees with the spec's run) is set aside too; a
    corrupt curve.csv of an unfinished run is rewritten by the run. ``cfg`` None: a WSD trunk."""
    if not d.is_dir() or store.lock_held(d) or store.lock_held(d, ".group.lock"):
        return

    def aside(file: Path, problem: str, then: str):
        moved = store.set_aside(file, problem)
        if moved is not None:
            note(f"{file}: {problem}; moved to {moved.name}, {then}")

    try:
        store.read_config(d)
    except FileNotFoundError:
        pass
    except store.CorruptRunFile as exc:
        aside(exc.path, exc.problem, "rewritten from the spec")
        aside(d / store.CHECKPOINT, "its config.json was corrupt, so it cannot be checked", "the run restarts")
        if cfg is None:  # a trunk: its snapshots cannot be checked either; they are re-derived
            for snap in sorted(d.glob("branch-*.pt")):
                aside(snap, "its trunk's config.json was corrupt, so it cannot be checked", "to be re-derived")
            return
        try:
            res = store.read_result(d)
        except store.CorruptRunFile:
            res = None
        if res is not None and not _result_matches(res, cfg):
            aside(
                d / store.RESULT,
                "does not match the spec's run (and its config.json was corrupt)",
                "the run trains again",
            )
    if cfg is None:
        return
    try:
        res = store.read_result(d)
    except store.CorruptRunFile as exc:
        res = None
        resume = " (resuming from its checkpoint)" if (d / store.CHECKPOINT).exists() else ""
        aside(exc.path, exc.problem, f"the run is unfinished and trains again{resume}")
    try:
        store.read_curve(d)
    except store.CorruptRunFile as exc:
        if res is None:
            aside(exc.path, exc.problem, "the run writes it again")
        else:
            note(f"{exc}: the run's result is intact but its curve is not (collect --curves leaves it out)")


def prepare_sweep(
    spec: SweepSpec, root: str | os.PathLike = DEFAULT_ROOT, *, notes: list[str] | None = None
) -> tuple[list[store.RunConfig], list[store.RunConfig]]:
    """Write every run's config.json (checking existing ones agree) and split the runs into
    (all, still to train). Corrupt files are set aside first (:func:`_repair_run`), each with a
    CorruptRunWarning (and a line in ``notes``, if given)."""

    def note(msg: str) -> None:
        if notes is not None:
            notes.append(msg)
        warnings.warn(msg, store.CorruptRunWarning, stacklevel=3)

    configs = spec.expand()
    todo = []
    for trunk in sorted({c.trunk for c in configs if c.trunk}):
        _repair_run(store.run_dir(root, spec.name, trunk), None, note)
    for cfg in configs:
        d = store.run_dir(root, cfg.sweep, cfg.run_id)
        _repair_run(d, cfg, note)
        d.mkdir(parents=True, exist_ok=True)
        if finished_result(root, cfg) is None:
            store.write_config(d, cfg)
            todo.append(cfg)
        elif store.check_config(d, cfg) is None:  # set aside as corrupt above: rewritten from the spec
            store.write_config(d, cfg)
        # else: a finished run's config records how it ran (threads, fields added since): checked, kept
    return configs, todo


def run_sweep(
    spec: SweepSpec | str | os.PathLike,
    root: str | os.PathLike = DEFAULT_ROOT,
    *,
    executor: Literal["local", "ray"] = "local",
    workers: int | None = None,
    threads: int | None = None,
    address: str | None = None,
    data_dir: str | os.PathLike | None = None,
    progress: bool = True,
    only: list[str] | None = None,
    log: Callable[[str], None] | None = None,
    source: str | None = None,
) -> SweepReport:
    """Train every unfinished run of a sweep; returns a SweepReport (trained, failed, errors).

    Nothing is written before the spec is known to fit: a run whose model could not fit in this
    machine's memory is a ScalingError (:func:`check_memory`) and no run directory is made. A run
    (or WSD trunk) that another process is training is waited for, then read (``by_other``), or
    trained here if that process died before finishing it."""
    if not isinstance(spec, SweepSpec):
        source = source or str(spec)
        spec = load_spec(spec)
    t0 = time.perf_counter()
    root = Path(root)
    if executor not in ("local", "ray"):
        raise ScalingError(f"unknown executor {executor!r} (local or ray)")
    all_configs, origins = spec.expand_with_origins()
    if only:
        unknown = sorted(set(only) - {c.run_id for c in all_configs})
        if unknown:
            raise ScalingError(f"--only: no run named {unknown[0]} in sweep {spec.name}")
    check_memory(spec, all_configs, origins, source=source)
    notes: list[str] = []
    configs, todo = prepare_sweep(spec, root, notes=notes)
    if only:
        todo = [c for c in todo if c.run_id in set(only)]
    selected = [c for c in configs if not only or c.run_id in set(only)]
    if only and any(c.trunk for c in todo):
        # a branch needs its trunk, which its siblings share: run the whole group
        trunks = {c.trunk for c in todo if c.trunk}
        todo = [c for c in prepare_sweep(spec, root)[1] if c.run_id in set(only) or c.trunk in trunks]
    report = SweepReport(spec.name, root, len(selected), skipped=len(selected) - len(todo), set_aside=notes)
    if todo:
        # prepare the corpus once here (numpy only) so the workers find it cached
        corpora = {(c.corpus, c.tokenizer, c.val_fraction, c.corpus_max_bytes) for c in todo}
        if executor == "local" or address in (None, "local"):
            sizes = {}
            for corpus, tok, vf, mb in corpora:
                d = _tokens.prepare(corpus, tok, val_fraction=vf, data_dir=data_dir, max_bytes=mb, quiet=not progress)
                sizes[(corpus, tok, vf, mb)] = len(d.train)
            check_epochs(spec, todo, sizes)
    # biggest jobs first: the pool finishes together and the ETA is honest early
    jobs = jobs_of(todo)
    bar = Progress(todo, len(selected), report.skipped, progress)
    data_dir = str(Path(data_dir).resolve()) if data_dir else None

    def execute(batch):
        if executor == "local":
            run_local(batch, root, report, bar, workers=workers, threads=threads, data_dir=data_dir)
        else:
            run_ray(batch, root, report, bar, workers=workers, threads=threads, address=address, data_dir=data_dir)

    try:
        execute(jobs)
        _await_others(report, bar, root, execute)
    finally:
        bar.close()
    report.wall_time_s = time.perf_counter() - t0
    return report


def _job_lock(root, job: list[store.RunConfig]) -> tuple[Path, str]:
    """The directory and lock file that say a process is training this job."""
    if job[0].trunk:
        return store.run_dir(root, job[0].sweep, job[0].trunk), ".group.lock"
    return store.run_dir(root, job[0].sweep, job[0].run_id), store.LOCK


def _await_others(report: SweepReport, bar: Progress, root, execute: Callable[[list], None]) -> None:
    """Wait for the jobs another process was training when we reached them: poll their locks; once a
    lock is free, read the runs it finished (``by_other``) and train here what it left unfinished
    (that process died or was killed)."""
    said = False
    while report.busy:
        busy, report.busy = report.busy, []
        waiting, retry = [], []
        for job in busy:
            lock_dir, lock_name = _job_lock(root, job)
            if store.lock_held(lock_dir, lock_name):
                waiting.append(job)
                continue
            left = []
            for c in job:
                res = finished_result(root, c)
                if res is None:
                    left.append(c)
                else:
                    report.by_other.append(c.run_id)
                    bar.finished(c.run_id, res.model_dump(mode="json"))
            if left:
                retry.append(left)
        report.busy.extend(waiting)
        if retry:
            execute(retry)
        elif report.busy:
            if not said:
                names = ", ".join(job_name(j) for j in report.busy[:3]) + (", ..." if len(report.busy) > 3 else "")
                print(
                    f"scaling sweep: waiting for {len(report.busy)} job(s) another process is training ({names})",
                    file=sys.stderr,
                    flush=True,
                )
                said = True
            time.sleep(BUSY_POLL_S)
