"""The executor both sweeps and growth experiments run through: task order and dependencies, reports."""

from pathlib import Path

import pytest

from scaling.executor import Task, run_tasks
from scaling.growth.experiment import ExperimentReport
from scaling.sweep import SweepReport


def _square(x):
    return x * x


def _fail(msg):
    raise ValueError(msg)


def test_tasks_run_after_their_dependencies_and_not_after_a_failed_one():
    pytest.importorskip("torch")  # run_tasks sets the torch threads of this process
    seen, blocked = [], {}
    tasks = [
        Task("c", _square, (3,), deps=["a"]),
        Task("a", _square, (2,)),
        Task("b", _fail, ("boom",), deps=["a"]),
        Task("d", _square, (5,), deps=["b"]),
        Task("e", _square, (6,), deps=["d"]),
        Task("f", _square, (7,), deps=["nowhere"]),
    ]

    def record(task, result, error, seconds):
        seen.append((task.key, result, None if error is None else str(error)))
        return error is None

    left = run_tasks(tasks, record, workers=1, threads=1, blocked=lambda t, bad: blocked.setdefault(t.key, bad))
    # in the order given, each once its dependencies finished: a before c though c comes first
    assert seen == [("a", 4, None), ("c", 9, None), ("b", None, "boom")]
    assert blocked == {"d": ["b"], "e": ["d"]}  # d depends on the failed b, e on the dropped d
    assert [t.key for t in left] == ["f"]  # its dependency never ran


def test_sweep_and_experiment_reports_print_their_counts():
    sweep = SweepReport(
        "s", Path("runs"), 6, skipped=1, ok=["a", "b"], failed=["c"], errors={"d": "boom"}, wall_time_s=1.5
    )
    sweep.by_other.append("e")
    assert sweep.summary() == (
        "sweep s: 6 runs, 1 already finished, 2 trained, 1 failed (diverged), 1 trained by another process, "
        "1 errors in 1.5 s; store runs/s\n  d: boom"
    )
    quiet = SweepReport("s", Path("runs"), 2, skipped=2)
    assert (
        quiet.summary() == "sweep s: 2 runs, 2 already finished, 0 trained, 0 failed (diverged) in 0.0 s; store runs/s"
    )
    growth = ExperimentReport("g", Path("runs"), 4, skipped=1, ok=["small-s0"])
    assert growth.summary() == (
        "growth experiment g: 4 jobs, 1 already done, 1 run, 0 failed (diverged), 0 errors in 0.0 s; store runs/g"
    )
