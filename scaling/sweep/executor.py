"""Executors: train units of work in this process, in a pool of worker processes, or as Ray tasks.

Used by sweeps (:func:`scaling.sweep.run_sweep`) and by growth experiments
(:func:`scaling.growth.experiment.run_experiment`):

- :func:`worker_init` sets up a worker process: it dies with its parent, sends progress to the
  parent's queue, prints warnings like the parent and runs ``threads`` torch threads.
- :func:`run_tasks` runs :class:`Task` s in the order given, each as soon as the tasks it depends
  on have finished: in this process (``workers=1``) or in a pool of ``workers`` spawned
  processes. A task that depends on a failed one is not run. Progress messages the tasks send
  (:func:`progress_sink`) reach a callback in the parent.
- ``local`` and ``ray`` sweep executors (:func:`run_local`, :func:`run_ray`): a sweep's jobs (a
  plain run, or a WSD trunk's branches) trained by :func:`train_job`, recorded in a
  :class:`SweepReport` and drawn by a progress bar over the FLOPs still to compute.

This module imports neither torch nor ray at import time.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import queue as _queue
import signal
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from .. import store
from ..errors import ScalingError
from ..units import si

# ---------------------------------------------------------------------------------------------
# worker set-up


def cpu_count() -> int:
    """Cores this process may use (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (a killed sweep leaves no orphans)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:  # pragma: no cover
            pass


_WORKER_QUEUE = None


def worker_init(threads: int, queue=None) -> None:
    """Set up a pool worker: dies with its parent, ``threads`` torch (and OpenMP/MKL) threads,
    progress messages to ``queue`` (inherited, not pickled per task), warnings like the parent's."""
    global _WORKER_QUEUE
    _WORKER_QUEUE = queue
    _die_with_parent()
    # a worker's warnings (a corrupt checkpoint set aside) read like the parent's
    warnings.formatwarning = lambda msg, cat, *a, **k: f"scaling: warning: {msg}\n"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import torch

    torch.set_num_threads(threads)


def progress_sink() -> Callable[[dict], None] | None:
    """Where a task sends progress messages (``{"run_id", "tokens"}``): the parent's callback, or
    None when nobody listens. Best effort: a message that cannot be sent is dropped."""
    queue = _WORKER_QUEUE
    if queue is None:
        return None

    def report(msg):
        try:
            queue.put_nowait(msg)
        except Exception:  # noqa: BLE001 - progress is best effort
            pass

    return report


class _Callback:
    """The in-process stand-in for a worker's queue (put_nowait like a queue)."""

    def __init__(self, fn):
        self.fn = fn

    def put_nowait(self, msg):
        self.fn(msg)


def _drain(queue, fn) -> None:
    while True:
        try:
            msg = queue.get_nowait()
        except (_queue.Empty, EOFError, OSError):
            return
        fn(msg)


# ---------------------------------------------------------------------------------------------
# tasks with dependencies, in this process or a pool


@dataclass
class Task:
    """A unit of work: ``fn(*args)`` in whichever process runs it (so ``fn`` is a module-level
    function and ``args`` are plain values), after the tasks named in ``deps`` have finished."""

    key: str
    fn: Callable
    args: tuple
    deps: list[str] = field(default_factory=list)
    cost: float = 0.0
    priority: int = 0  # lower first (the caller orders the tasks; run_tasks keeps that order)


def run_tasks(
    tasks: list[Task],
    record: Callable[[Task, Any, BaseException | None, float], bool],
    *,
    workers: int,
    threads: int,
    progress: Callable[[dict], None] | None = None,
    blocked: Callable[[Task, list[str]], None] | None = None,
    catch: tuple[type[BaseException], ...] = (Exception,),
) -> list[Task]:
    """Run ``tasks`` in the order given, each once its ``deps`` have finished; returns the tasks
    that never ran.

    ``record(task, result, error, seconds)`` is called in this process as each task ends (``error``
    the exception it raised, else None) and returns whether the task finished (its dependents may
    run); ``blocked(task, failed_deps)`` is called for a task whose dependency did not finish (it is
    not run). ``workers=1``: in this process, with ``threads`` torch threads; an exception not in
    ``catch`` propagates. Otherwise a pool of ``workers`` spawned processes set up by
    :func:`worker_init`. ``progress`` receives the messages tasks send through :func:`progress_sink`.
    """
    global _WORKER_QUEUE
    pending = {t.key: t for t in tasks}
    finished: set[str] = set()
    failed: set[str] = set()

    def done(task, result, error, dt):
        if record(task, result, error, dt):
            finished.add(task.key)
        else:
            failed.add(task.key)

    def drop_blocked():
        changed = True
        while changed:
            changed = False
            for k, t in list(pending.items()):
                bad = [d for d in t.deps if d in failed]
                if bad:
                    if blocked is not None:
                        blocked(t, bad)
                    failed.add(k)
                    del pending[k]
                    changed = True

    def ready():
        return [t for t in pending.values() if all(d in finished for d in t.deps)]

    if workers <= 1:
        import torch

        torch.set_num_threads(threads)
        saved, _WORKER_QUEUE = _WORKER_QUEUE, (_Callback(progress) if progress is not None else None)
        try:
            while pending:
                drop_blocked()
                rd = ready()
                if not rd:
                    break
                task = rd[0]
                del pending[task.key]
                t1 = time.perf_counter()
                try:
                    result = task.fn(*task.args)
                except catch as exc:
                    done(task, None, exc, time.perf_counter() - t1)
                else:
                    done(task, result, None, time.perf_counter() - t1)
        finally:
            _WORKER_QUEUE = saved
        return list(pending.values())
    ctx = mp.get_context("spawn")
    queue = ctx.Queue() if progress is not None else None
    running: dict = {}
    try:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=worker_init, initargs=(threads, queue)
        ) as pool:
            while pending or running:
                drop_blocked()
                for task in ready():
                    if len(running) >= workers:
                        break
                    del pending[task.key]
                    running[pool.submit(task.fn, *task.args)] = (task, time.perf_counter())
                if not running:
                    break
                finished_now, _ = wait(running, timeout=0.5 if queue is not None else None, return_when=FIRST_COMPLETED)
                if queue is not None:
                    _drain(queue, progress)
                for fut in finished_now:
                    task, t1 = running.pop(fut)
                    try:
                        result = fut.result()
                    except Exception as exc:  # noqa: BLE001 - one task's error must not stop the others
                        done(task, None, exc, time.perf_counter() - t1)
                    else:
                        done(task, result, None, time.perf_counter() - t1)
    finally:
        if queue is not None:
            queue.close()
            queue.cancel_join_thread()
    return list(pending.values())


# ---------------------------------------------------------------------------------------------
# a sweep's jobs


@dataclass
class SweepReport:
    sweep: str
    root: Path
    total: int
    skipped: int = 0
    ok: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    wall_time_s: float = 0.0
    by_other: list[str] = field(default_factory=list)  # finished meanwhile by another `sweep run`
    busy: list[list[store.RunConfig]] = field(default_factory=list)  # jobs locked by another process now
    set_aside: list[str] = field(default_factory=list)  # corrupt files moved out of the way

    def summary(self) -> str:
        parts = [
            f"sweep {self.sweep}: {self.total} runs",
            f"{self.skipped} already finished",
            f"{len(self.ok)} trained",
            f"{len(self.failed)} failed (diverged)",
        ]
        if self.by_other:
            parts.append(f"{len(self.by_other)} trained by another process")
        if self.set_aside:
            parts.append(f"{len(self.set_aside)} corrupt file(s) set aside")
        if self.errors:
            parts.append(f"{len(self.errors)} errors")
        text = ", ".join(parts) + f" in {self.wall_time_s:.1f} s; store {self.root / self.sweep}"
        for rid, err in self.errors.items():
            text += f"\n  {rid}: {err}"
        return text


def train_job(job_json: list[str], root: str, data_dir: str | None, threads: int) -> list[dict]:
    """Train one job (a plain run, or a trunk's branches) in whichever process the executor chose;
    returns the RunResults as dicts."""
    from ..train.loop import train  # imports torch: only the process that trains pays for it

    cfgs = [store.RunConfig.model_validate_json(j).model_copy(update={"threads": threads}) for j in job_json]
    report = progress_sink()
    done = [finished_result(root, c) for c in cfgs]
    if all(r is not None for r in done):  # another `sweep run` finished it since we looked
        return [dict(r.model_dump(mode="json"), **{BY_OTHER: True}) for r in done]
    if cfgs[0].trunk:
        from ..train.branches import train_branches  # imports torch (see train_job's first import)

        return [r.model_dump(mode="json") for r in train_branches(cfgs, root, data_dir=data_dir, progress=report)]
    cfg = cfgs[0]
    res = train(cfg, store.run_dir(root, cfg.sweep, cfg.run_id), data_dir=data_dir, progress=report)
    return [res.model_dump(mode="json")]


BY_OTHER = "_trained_by_another_process"  # marks a job result read, not trained, by this process


def finished_result(root, cfg: store.RunConfig) -> store.RunResult | None:
    """The run's result, or None while it is unfinished (a corrupt result.json counts as unfinished)."""
    try:
        return store.read_result(store.run_dir(root, cfg.sweep, cfg.run_id))
    except store.CorruptRunFile:
        return None


class Progress:
    """tqdm bar over the FLOPs the sweep will really compute: runs done, the current runs' tokens, ETA.

    A branch counts from its decay start (its trunk's share is the trunk's own entry)."""

    def __init__(self, todo: list[store.RunConfig], total_runs: int, done_runs: int, enabled: bool):
        self.enabled = enabled and bool(todo)
        self.cost = {c.run_id: float(c.flops_per_token()) for c in todo}
        self.total_tokens = {c.run_id: c.trained_tokens for c in todo}
        self.seen: dict[str, int] = {c.run_id: c.decay_start * c.tokens_per_step for c in todo if c.trunk}
        for c in todo:
            if c.trunk:
                t = c.decay_start * c.tokens_per_step
                self.cost.setdefault(c.trunk, float(c.flops_per_token()))
                self.total_tokens[c.trunk] = max(self.total_tokens.get(c.trunk, 0), t)
                self.seen.setdefault(c.trunk, 0)
        self.total_runs, self.done_runs = total_runs, done_runs
        self.bar = None
        if self.enabled:
            total = sum(self.cost[r] * (self.total_tokens[r] - self.seen.get(r, 0)) for r in self.cost)
            self.bar = tqdm(
                total=total,
                unit="FLOP",
                unit_scale=True,
                dynamic_ncols=True,
                file=sys.stderr,
                disable=None,
                desc=self._desc(),
                bar_format="{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}] {postfix}",
            )

    def _desc(self):
        return f"runs {self.done_runs}/{self.total_runs}"

    def tokens(self, run_id: str, tokens: int):
        if self.bar is None or run_id not in self.cost:
            return
        prev = self.seen.get(run_id, 0)
        self.seen[run_id] = max(prev, min(tokens, self.total_tokens[run_id]))
        self.bar.update(self.cost[run_id] * (self.seen[run_id] - prev))
        running = [
            f"{r} {si(t)}/{si(self.total_tokens[r])} tok" for r, t in self.seen.items() if t < self.total_tokens[r]
        ]
        self.bar.set_postfix_str("; ".join(running[-2:]), refresh=False)

    def finished(self, run_id: str, result: dict | None = None):
        self.done_runs += 1
        if self.enabled and (self.bar is None or self.bar.disable) and result is not None:
            # not a terminal (a log file, CI): one line per finished run instead of a bar
            loss = f"loss {result['loss']:.4f}" if result.get("loss") is not None else result.get("reason") or ""
            print(
                f"[{self.done_runs}/{self.total_runs}] {run_id} {result['status']} {loss} "
                f"({(result.get('wall_time_s') or 0) / 60:.1f} min)",
                file=sys.stderr,
                flush=True,
            )
        if self.bar is not None:
            self.tokens(run_id, self.total_tokens.get(run_id, 0))
            self.bar.set_description_str(self._desc())

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _record(report: SweepReport, bar: Progress, run_id: str, result: dict | None, error: str | None):
    if error is not None:
        report.errors[run_id] = error
        return
    if result.pop(BY_OTHER, False):
        report.by_other.append(run_id)
    else:
        (report.ok if result["status"] == "ok" else report.failed).append(run_id)
    bar.finished(run_id, result)


def _record_job(
    report: SweepReport,
    bar: Progress,
    job: list[store.RunConfig],
    results: list[dict] | None,
    error: str | BaseException | None,
):
    if isinstance(error, store.RunBusy):  # another process trains it: wait for it at the end
        report.busy.append(job)
        return
    if isinstance(error, BaseException):
        error = str(error) if isinstance(error, ScalingError) else f"{type(error).__name__}: {error}"
    if error is not None:
        for c in job:
            _record(report, bar, c.run_id, None, error)
        return
    for c, res in zip(job, results):
        _record(report, bar, c.run_id, res, None)


def job_name(job: list[store.RunConfig]) -> str:
    return job[0].trunk or job[0].run_id


def _default_layout(todo, workers, threads, gpu: bool) -> tuple[int, int]:
    cores = cpu_count()
    if gpu:
        workers = workers or 1
        threads = threads or max(1, cores // workers)
        return workers, threads
    if workers is None:
        workers = max(1, cores // threads) if threads else cores
    workers = max(1, min(workers, len(todo) or 1))
    threads = threads or max(1, cores // workers)
    return workers, threads


def run_local(
    jobs: list[list[store.RunConfig]], root, report: SweepReport, bar: Progress, *, workers, threads, data_dir
) -> None:
    """The ``local`` executor: the jobs in sequence in this process (``workers=1``) or in a pool."""
    todo = [c for job in jobs for c in job]
    gpu = any(c.device.startswith("cuda") or c.device == "auto" for c in todo)
    workers, threads = _default_layout(jobs, workers, threads, gpu)
    root = str(Path(root).resolve())
    tasks = [
        Task(str(i), train_job, ([c.model_dump_json() for c in job], root, data_dir, threads))
        for i, job in enumerate(jobs)
    ]

    def record(task: Task, results, error, _seconds) -> bool:
        job = jobs[int(task.key)]
        if error is not None and workers > 1 and not isinstance(error, store.RunBusy):
            error = f"{type(error).__name__}: {error}"  # from a worker: one run's error never stops the sweep
        _record_job(report, bar, job, results if error is None else None, error)
        return True

    # in this process only a ScalingError is a run's error; anything else is a bug and propagates
    run_tasks(
        tasks,
        record,
        workers=workers,
        threads=threads,
        catch=(ScalingError,),
        progress=lambda m: bar.tokens(m["run_id"], m["tokens"]),
    )


def _ray_train(job_json: list[str], root: str, data_dir: str | None, threads: int) -> list[dict]:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    return train_job(job_json, root, data_dir, threads)


def run_ray(
    jobs: list[list[store.RunConfig]], root, report: SweepReport, bar: Progress, *, workers, threads, address, data_dir
) -> None:
    """The ``ray`` executor: each job a Ray task (``num_cpus=threads``, a GPU each on a CUDA device)."""
    todo = [c for job in jobs for c in job]
    try:
        import ray
    except ImportError:
        raise ScalingError("the ray executor needs Ray: pip install 'scaling[distributed]'") from None
    gpu = any(c.device.startswith("cuda") for c in todo)
    started = False
    if not ray.is_initialized():
        try:
            if address in (None, "local"):
                ray.init(
                    num_cpus=workers * (threads or 1) if workers else None,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level="ERROR",
                )
            else:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR")
        except ConnectionError as exc:
            raise ScalingError(
                f"cannot reach a Ray cluster at {address!r}: {exc} "
                "(start one with `ray start --head`, or use --address local)"
            ) from None
        started = True
    try:
        threads = threads or 1
        task = ray.remote(_ray_train)
        futures = {}
        for job in jobs:
            opts = dict(num_cpus=threads, num_gpus=1 if gpu else 0, max_retries=0, name=job_name(job))
            futures[
                task.options(**opts).remote(
                    [c.model_dump_json() for c in job], str(Path(root).resolve()), data_dir, threads
                )
            ] = job
        pending = list(futures)
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            for ref in done:
                job = futures[ref]
                try:
                    results = ray.get(ref)
                except Exception as exc:  # noqa: BLE001
                    cause = getattr(exc, "cause", None) or exc
                    _record_job(
                        report,
                        bar,
                        job,
                        None,
                        cause
                        if isinstance(cause, store.RunBusy)
                        else f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}",
                    )
                else:
                    _record_job(report, bar, job, results, None)
    finally:
        if started:
            ray.shutdown()
