"""A sweep's jobs (a plain run, or a WSD trunk's branches) on the executors of :mod:`scaling.executor`.

- :func:`train_job` trains one job in whichever process the executor chose.
- :func:`run_local` and :func:`run_ray`, the ``local`` and ``ray`` sweep executors, run the jobs as
  :class:`~scaling.executor.Task` s and record each in a :class:`SweepReport` and on the
  :class:`~scaling.executor.Progress` bar.

This module imports neither torch nor ray at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import store
from ..errors import ScalingError
from ..executor import Progress, Report, Task, default_layout, progress_sink, run_tasks, run_tasks_ray


@dataclass
class SweepReport(Report):
    """A sweep's :class:`~scaling.executor.Report`, plus what other ``sweep run`` processes did."""

    by_other: list[str] = field(default_factory=list)  # finished meanwhile by another `sweep run`
    busy: list[list[store.RunConfig]] = field(default_factory=list)  # jobs locked by another process now
    set_aside: list[str] = field(default_factory=list)  # corrupt files moved out of the way

    def _tail(self) -> list[str]:
        parts = []
        if self.by_other:
            parts.append(f"{len(self.by_other)} trained by another process")
        if self.set_aside:
            parts.append(f"{len(self.set_aside)} corrupt file(s) set aside")
        return parts + super()._tail()


BY_OTHER = "_trained_by_another_process"  # marks a job result read, not trained, by this process


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


def finished_result(root, cfg: store.RunConfig) -> store.RunResult | None:
    """The run's result, or None while it is unfinished (a corrupt result.json counts as unfinished)."""
    try:
        return store.read_result(store.run_dir(root, cfg.sweep, cfg.run_id))
    except store.CorruptRunFile:
        return None


def job_name(job: list[store.RunConfig]) -> str:
    """A job's name: its trunk's, or its run's (unique in a sweep: each is a run directory)."""
    return job[0].trunk or job[0].run_id


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


def _tasks(jobs: list[list[store.RunConfig]], root, data_dir: str | None, threads: int) -> list[Task]:
    """One task per job, keyed by the job's name."""
    root = str(Path(root).resolve())
    return [
        Task(job_name(job), train_job, ([c.model_dump_json() for c in job], root, data_dir, threads)) for job in jobs
    ]


def run_local(
    jobs: list[list[store.RunConfig]], root, report: SweepReport, bar: Progress, *, workers, threads, data_dir
) -> None:
    """The ``local`` executor: the jobs in sequence in this process (``workers=1``) or in a pool."""
    todo = [c for job in jobs for c in job]
    gpu = any(c.device.startswith("cuda") or c.device == "auto" for c in todo)
    workers, threads = default_layout(len(jobs), workers, threads, gpu)
    by_key = {job_name(job): job for job in jobs}

    def record(task: Task, results, error, _seconds) -> bool:
        if error is not None and workers > 1 and not isinstance(error, store.RunBusy):
            error = f"{type(error).__name__}: {error}"  # from a worker: one run's error never stops the sweep
        _record_job(report, bar, by_key[task.key], results if error is None else None, error)
        return True

    # in this process only a ScalingError is a run's error; anything else is a bug and propagates
    run_tasks(
        _tasks(jobs, root, data_dir, threads),
        record,
        workers=workers,
        threads=threads,
        catch=(ScalingError,),
        progress=lambda m: bar.tokens(m["run_id"], m["tokens"]),
    )


def run_ray(
    jobs: list[list[store.RunConfig]], root, report: SweepReport, bar: Progress, *, workers, threads, address, data_dir
) -> None:
    """The ``ray`` executor: each job a Ray task (``num_cpus=threads``, a GPU each on a CUDA device)."""
    todo = [c for job in jobs for c in job]
    gpu = any(c.device.startswith("cuda") for c in todo)
    threads = threads or 1
    by_key = {job_name(job): job for job in jobs}

    def record(task: Task, results, error, _seconds) -> bool:
        if error is not None and not isinstance(error, store.RunBusy):
            error = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        _record_job(report, bar, by_key[task.key], results if error is None else None, error)
        return True

    run_tasks_ray(
        _tasks(jobs, root, data_dir, threads), record, threads=threads, gpu=gpu, workers=workers, address=address
    )
