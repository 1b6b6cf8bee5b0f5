"""Executors: run units of work in this process, in a pool of worker processes, or as Ray tasks.

The one executor of sweeps (:mod:`scaling.sweep.jobs`) and of growth experiments
(:mod:`scaling.growth.experiment`):

- :func:`worker_init` sets up a worker process: it dies with its parent, sends progress to the
  parent's queue, prints warnings like the parent and runs ``threads`` torch threads.
- :func:`run_tasks` runs :class:`Task` s in the order given, each as soon as the tasks it depends
  on have finished: in this process (``workers=1``) or in a pool of ``workers`` spawned
  processes. :func:`run_tasks_ray` runs them as Ray tasks. A task that depends on a failed one is
  not run. Progress messages the tasks send (:func:`progress_sink`) reach a callback in the parent.
- :class:`Progress` draws a bar over the FLOPs still to compute; :class:`Report` counts what was
  done and prints it.

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
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from tqdm.auto import tqdm

from . import store
from .errors import ScalingError
from .units import si

# ---------------------------------------------------------------------------------------------
# worker set-up


def cpu_count() -> int:
    """Cores this process may use (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def default_layout(n_tasks: int, workers: int | None, threads: int | None, gpu: bool) -> tuple[int, int]:
    """(workers, threads) for ``n_tasks`` tasks on this machine's cores, where not given: on a GPU
    one worker with every core; on CPUs one 1-thread worker per core (or ``cores // threads``
    workers), never more workers than tasks, the cores shared among them."""
    cores = cpu_count()
    if gpu:
        workers = workers or 1
        threads = threads or max(1, cores // workers)
        return workers, threads
    if workers is None:
        workers = max(1, cores // threads) if threads else cores
    workers = max(1, min(workers, n_tasks or 1))
    threads = threads or max(1, cores // workers)
    return workers, threads


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
# tasks with dependencies, in this process, a pool or on Ray


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


Record = Callable[[Task, Any, BaseException | None, float], bool]
Blocked = Callable[[Task, list[str]], None]


class _Graph:
    """The tasks still to run and which have finished or failed: the dependency bookkeeping every
    way of running them shares."""

    def __init__(self, tasks: list[Task], record: Record, blocked: Blocked | None):
        self.pending = {t.key: t for t in tasks}
        self.finished: set[str] = set()
        self.failed: set[str] = set()
        self.record, self.blocked = record, blocked

    def done(self, task: Task, result: Any, error: BaseException | None, seconds: float) -> None:
        (self.finished if self.record(task, result, error, seconds) else self.failed).add(task.key)

    def ready(self) -> list[Task]:
        """The tasks whose dependencies have all finished, in the order given; first drops (and
        reports) those that depend on a failed task."""
        changed = True
        while changed:
            changed = False
            for k, t in list(self.pending.items()):
                bad = [d for d in t.deps if d in self.failed]
                if bad:
                    if self.blocked is not None:
                        self.blocked(t, bad)
                    self.failed.add(k)
                    del self.pending[k]
                    changed = True
        return [t for t in self.pending.values() if all(d in self.finished for d in t.deps)]

    def dispatch(
        self,
        submit: Callable[[Task], Any],
        collect: Callable[[list], Iterable[tuple[Any, Any, BaseException | None]]],
        limit: int,
    ) -> None:
        """Run the tasks elsewhere: ``submit(task)`` returns a handle, ``collect(handles)`` waits
        for some to end and yields ``(handle, result, error)``; at most ``limit`` run at once."""
        running: dict = {}
        while self.pending or running:
            for task in self.ready():
                if len(running) >= limit:
                    break
                del self.pending[task.key]
                running[submit(task)] = (task, time.perf_counter())
            if not running:
                break
            for handle, result, error in collect(list(running)):
                task, t1 = running.pop(handle)
                self.done(task, result, error, time.perf_counter() - t1)


def run_tasks(
    tasks: list[Task],
    record: Record,
    *,
    workers: int,
    threads: int,
    progress: Callable[[dict], None] | None = None,
    blocked: Blocked | None = None,
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
    graph = _Graph(tasks, record, blocked)
    if workers <= 1:
        import torch

        torch.set_num_threads(threads)
        saved, _WORKER_QUEUE = _WORKER_QUEUE, (_Callback(progress) if progress is not None else None)
        try:
            while graph.pending:
                rd = graph.ready()
                if not rd:
                    break
                task = rd[0]
                del graph.pending[task.key]
                t1 = time.perf_counter()
                try:
                    result = task.fn(*task.args)
                except catch as exc:
                    graph.done(task, None, exc, time.perf_counter() - t1)
                else:
                    graph.done(task, result, None, time.perf_counter() - t1)
        finally:
            _WORKER_QUEUE = saved
        return list(graph.pending.values())
    ctx = mp.get_context("spawn")
    queue = ctx.Queue() if progress is not None else None

    def collect(futures: list[Future]):
        ended, _ = wait(futures, timeout=0.5 if queue is not None else None, return_when=FIRST_COMPLETED)
        if queue is not None:
            _drain(queue, progress)
        for fut in ended:
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001 - one task's error must not stop the others
                yield fut, None, exc
            else:
                yield fut, result, None

    try:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=worker_init, initargs=(threads, queue)
        ) as pool:
            graph.dispatch(lambda task: pool.submit(task.fn, *task.args), collect, workers)
    finally:
        if queue is not None:
            queue.close()
            queue.cancel_join_thread()
    return list(graph.pending.values())


def _ray_call(threads: int, fn: Callable, args: tuple) -> Any:
    """A task's body on a Ray worker: ``threads`` torch (and OpenMP) threads, then ``fn(*args)``."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    return fn(*args)


def run_tasks_ray(
    tasks: list[Task],
    record: Record,
    *,
    threads: int,
    gpu: bool,
    workers: int | None = None,
    address: str | None = None,
    blocked: Blocked | None = None,
) -> list[Task]:
    """Run ``tasks`` as Ray tasks (``num_cpus=threads``, one GPU each when ``gpu``, no retries,
    named by their keys), each once its ``deps`` have finished; returns the tasks that never ran.

    ``record`` and ``blocked`` as in :func:`run_tasks`; a task's error is the exception it raised
    (Ray's ``cause``), or Ray's own when it has none (a worker died). Ray is started here when it is
    not running: in this process (``address`` None or ``"local"``, ``workers * threads`` CPUs when
    ``workers`` is given) or connected to the cluster at ``address``; a Ray started here is shut
    down at the end. Ray schedules the tasks on the resources it has."""
    try:
        import ray
    except ImportError:
        raise ScalingError("the ray executor needs Ray: pip install 'scaling[distributed]'") from None
    started = False
    if not ray.is_initialized():
        try:
            if address in (None, "local"):
                ray.init(
                    num_cpus=workers * threads if workers else None,
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
    graph = _Graph(tasks, record, blocked)
    remote = ray.remote(_ray_call)

    def submit(task: Task):
        opts = dict(num_cpus=threads, num_gpus=1 if gpu else 0, max_retries=0, name=task.key)
        return remote.options(**opts).remote(threads, task.fn, task.args)

    def collect(refs: list):
        ended, _ = ray.wait(refs, num_returns=1, timeout=1.0)
        for ref in ended:
            try:
                result = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - one task's error must not stop the others
                yield ref, None, getattr(exc, "cause", None) or exc
            else:
                yield ref, result, None

    try:
        graph.dispatch(submit, collect, len(tasks))
    finally:
        if started:
            ray.shutdown()
    return list(graph.pending.values())


# ---------------------------------------------------------------------------------------------
# what was done, and how far along it is


@dataclass
class Report:
    """What one execution of a sweep (or of a growth experiment) did: ``total`` units of work,
    ``skipped`` already finished before it started, those it finished (``ok``), those that failed
    (a diverged run) and those that raised (``errors``: key -> message).

    :meth:`summary` is one line of counts (the words in the class attributes, the tail from
    :meth:`_tail`) and one line per error."""

    sweep: str
    root: Path
    total: int
    skipped: int = 0
    ok: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    wall_time_s: float = 0.0

    kind: ClassVar[str] = "sweep"
    units: ClassVar[str] = "runs"
    skipped_as: ClassVar[str] = "already finished"
    ok_as: ClassVar[str] = "trained"

    def _tail(self) -> list[str]:
        """Counts after the failed ones: the errors, when there are any."""
        return [f"{len(self.errors)} errors"] if self.errors else []

    def summary(self) -> str:
        parts = [
            f"{self.kind} {self.sweep}: {self.total} {self.units}",
            f"{self.skipped} {self.skipped_as}",
            f"{len(self.ok)} {self.ok_as}",
            f"{len(self.failed)} failed (diverged)",
            *self._tail(),
        ]
        text = ", ".join(parts) + f" in {self.wall_time_s:.1f} s; store {self.root / self.sweep}"
        for key, err in self.errors.items():
            text += f"\n  {key}: {err}"
        return text


class Progress:
    """tqdm bar over the FLOPs the runs will really compute: runs done, the current runs' tokens, ETA.

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
