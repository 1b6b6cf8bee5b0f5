"""The measured growth experiment: a spec (TOML) -> small, grown and scratch runs in the run store.

For every seed:

1. ``small-s<seed>``: the small model trained to its planned tokens (its own cosine schedule).
2. ``scratch-s<seed>``: the large model from scratch, ``large.tokens`` tokens.
3. For every growth method (:mod:`scaling.growth.methods`: ``ligo``, G_stack ``stack``,
   HyperCloning ``hyperclone``, and the width + depth hybrids ``hyperclone-stack`` and
   ``hyperclone-identity``) the small model is grown once (LiGO: the operator trained on its
   planned budget, ``[ligo] tokens`` or ``scratch_fraction`` or ``steps``; the grown weights are
   kept in ``<sweep>/growth-init/<method>-s<seed>.pt`` with a JSON report beside them), and the
   grown model trained for each fraction in ``fractions`` of ``large.tokens``
   (``<method>-f<fraction>-s<seed>``), each with a schedule that ends at its own budget: a growth
   method's FLOPs to reach the scratch loss are read off its own final losses, never off the
   middle of a longer schedule. The grown runs train with the from-scratch recipe except for the
   post-growth schedule of ``[grown]`` (peak learning rate, warm-up; per method under
   ``[grown.methods.<method>]``), which defaults to the scratch run's.

The grow job measures, on the held-out windows of ``train.eval_tokens`` tokens (the windows of
every run's curve points), the small model's loss and each grown model's loss before training
(LiGO's before and after operator training): one evaluation set for the small model, the grown
starts and the scratch curve that eta's ``D_eq`` is read from (:mod:`scaling.growth.analysis`).

Every run is an ordinary run directory (config.json, curve.csv, result.json, model.pt) written by
:func:`scaling.train.loop.train`; the configs carry tags (role, method, fraction, small_run,
operator and small FLOPs) that :mod:`scaling.growth.analysis` reads. All runs evaluate on the
same held-out windows of the same corpus. Rerunning the spec skips finished runs and resumes
unfinished ones (grown runs restart from their saved initial weights).

Execution: through :func:`scaling.executor.run_tasks` (the worker set-up and process pool that
sweeps run on too), ``workers`` processes of ``threads`` torch threads each (default 2 x 1 on a
2-core machine); jobs start as soon as what they need is finished
(small run -> growth -> grown runs), largest first.

Where the parts live: the spec in :mod:`scaling.growth.spec`, the run configurations and file
names in :mod:`scaling.growth.configs`, the worker jobs and their dependencies in
:mod:`scaling.growth.jobs`; this module runs them and reports.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ScalingError
from ..executor import Report, Task, cpu_count, run_tasks
from .configs import plan_lines
from .jobs import job_train, plan_jobs, prepared_corpus
from .spec import GrowthSpec, load_growth_spec

DEFAULT_ROOT = "data/runs"


@dataclass
class ExperimentReport(Report):
    """A growth experiment's :class:`~scaling.executor.Report`: its units are jobs (a run, or a
    growth), ``ok`` those that finished (a run trained to the end, a model grown)."""

    kind = "growth experiment"
    units = "jobs"
    skipped_as = "already done"
    ok_as = "run"

    def _tail(self) -> list[str]:
        return [f"{len(self.errors)} errors"]


def run_experiment(
    spec: GrowthSpec | str | os.PathLike,
    root: str | os.PathLike = DEFAULT_ROOT,
    *,
    workers: int | None = None,
    threads: int | None = None,
    data_dir=None,
    log: Callable[[str], None] | None = None,
) -> ExperimentReport:
    """Run (or finish) a growth experiment; returns what was done. See the module docstring."""
    if not isinstance(spec, GrowthSpec):
        spec = load_growth_spec(spec)
    t0 = time.perf_counter()
    log = log or (lambda m: print(m, file=sys.stderr, flush=True))
    cores = cpu_count()
    workers = workers or spec.workers
    threads = threads or spec.threads or max(1, cores // workers)
    root = Path(root)
    data_dir = str(Path(data_dir).resolve()) if data_dir else None
    jobs, skipped = plan_jobs(spec, root, data_dir, threads)
    report = ExperimentReport(spec.name, root, total=len(jobs) + skipped, skipped=skipped)
    if jobs:  # prepare the corpus once, here, so the workers find it cached
        d = prepared_corpus(
            spec.data.corpus, spec.data.tokenizer, spec.data.val_fraction, spec.data.max_bytes, data_dir
        )
        log(
            f"corpus {spec.data.corpus}: {len(d.train):,} training / {len(d.val):,} held-out tokens "
            f"({d.fingerprint[:19]})"
        )
        for line in plan_lines(spec):
            log(line)

    def record(job: Task, result: dict | None, error: BaseException | None, dt: float) -> bool:
        """Log and count one finished job; True when its dependents may run."""
        if error is not None:
            if workers <= 1 and not isinstance(error, ScalingError) and os.environ.get("SCALING_DEBUG"):
                raise error
            msg = (
                str(error)
                if isinstance(error, ScalingError)
                else f"{type(error).__name__}: {' '.join(str(error).split())[:300]}"
            )
            report.errors[job.key] = msg
            log(f"[{time.perf_counter() - t0:7.0f} s] ERROR {job.key}: {msg}")
            return False
        if job.fn is job_train:
            (report.ok if result["status"] == "ok" else report.failed).append(job.key)
            loss = result.get("loss")
            log(
                f"[{time.perf_counter() - t0:7.0f} s] {job.key}: {result['status']}"
                + (f", loss {loss:.4f}" if loss is not None else f" ({result.get('reason')})")
                + f" ({dt:.0f} s)"
            )
            return result["status"] == "ok"
        op, ev = result.get("operator"), result.get("eval")
        extra = ""
        if ev:
            extra = (
                f", held-out loss on {ev['tokens']:,} tokens: small {ev['small_loss']:.4f}, "
                f"grown {ev['grown_loss']:.4f}"
            )
        if op:
            extra += f" (operator {op['initial_loss']:.4f} -> {op['final_loss']:.4f} in {op['steps']} steps)"
        report.ok.append(job.key)
        log(f"[{time.perf_counter() - t0:7.0f} s] {job.key}: grown{extra} ({dt:.0f} s)")
        return True

    def blocked(job: Task, failed: list[str]) -> None:
        report.errors[job.key] = f"skipped: {', '.join(failed)} did not finish"

    # jobs start as soon as what they need is finished: small runs first, then the largest
    order = sorted(jobs, key=lambda j: (j.priority, -j.cost, j.key))
    pending = run_tasks(order, record, workers=workers, threads=threads, blocked=blocked)
    for job in pending:
        report.errors.setdefault(job.key, "not run")
    report.wall_time_s = time.perf_counter() - t0
    return report


__all__ = ["run_experiment", "ExperimentReport", "DEFAULT_ROOT"]
