"""Sweep specifications (TOML) -> run configurations, and the executors that train them.

A spec is a TOML file validated by :class:`SweepSpec`; every error names the file and the key
(``sweeps/x.toml: budgets[2]: must be positive``). Kinds:

``isoflop``
    ``budgets`` x sizes: for each budget C the sizes are ``size_multipliers`` times the expected
    compute-optimal size N_opt(C) = sqrt(C / (6 tokens_per_param)) (or the explicit ``params``
    list), snapped to real shapes by :func:`scaling.shapes.shape_for_params`; each run's tokens are
    C / flops_per_token(shape) under ``flops_convention``.
``grid``
    ``params`` x ``tokens_per_param`` (a list): D = tokens_per_param x N.
``list``
    explicit ``[[runs]]``, each with a shape (``n_layer``, ``d_model``, ...) or ``params``, and one
    of ``tokens``, ``flops`` or ``tokens_per_param``.

Per-size rules stated in the spec (``[train]``): ``lr`` and ``batch_size`` are a number or a power
rule ``{base, ref_params, exponent, min, max}`` giving ``base * (N / ref_params) ** exponent``
(clamped; batch sizes rounded to a power of two); ``min_steps`` halves the batch of a run until it
has at least that many steps. Tokens are rounded to whole optimizer steps (the run trains exactly
the tokens its config records). ``seeds`` replicates every run.

Executors write to the run store (:mod:`scaling.store`), so a sweep is resumable: finished runs
(result.json, ``ok`` or ``failed``) are skipped, unfinished ones resume from their checkpoint, a
diverged run is recorded as ``failed`` with its reason.

- ``local``: the runs in sequence in this process (``workers=1``) or in a pool of ``workers``
  processes, each with ``threads`` torch threads (default: cores // workers; on this kind of
  CPU two 1-thread processes beat one 2-thread process). Pool workers die with the parent.
- ``ray``: each run a Ray task with ``num_cpus=threads`` (and ``num_gpus=1`` on a GPU device),
  writing to the same store (a filesystem shared by the cluster's nodes).

Modules: :mod:`~scaling.sweep.spec` (the pydantic models, loading, validation messages),
:mod:`~scaling.sweep.expand` (spec -> run configs, WSD branches, the epoch and memory checks),
:mod:`~scaling.sweep.jobs` (a sweep's jobs on :mod:`scaling.executor`'s process pool or Ray, with
its report), :mod:`~scaling.sweep.runner` (``run_sweep``),
:mod:`~scaling.sweep.status` (``sweep_status``), :mod:`~scaling.sweep.compare` (``compare_sweeps``:
the matched runs of two sweeps side by side, with the compute each spent). Sweep design (which runs
next) is :mod:`~scaling.sweep.suggest`, written as a spec by :mod:`~scaling.sweep.suggest_spec` and
tried in simulation by :mod:`~scaling.sweep.suggest_sim`.

This package imports neither torch nor ray at import time.
"""

from .expand import check_epochs, check_memory, jobs_of, machine_memory, train_memory
from .jobs import SweepReport
from .runner import prepare_sweep, run_sweep
from .spec import (
    DEFAULT_ROOT,
    DataSpec,
    GrowthSpecGiven,
    ModelSpec,
    PowerRule,
    RunSpec,
    SweepSpec,
    TrainSpec,
    format_validation_error,
    load_spec,
    parse_spec,
)
from .status import sweep_status

__all__ = [
    "SweepSpec",
    "PowerRule",
    "ModelSpec",
    "TrainSpec",
    "DataSpec",
    "RunSpec",
    "GrowthSpecGiven",
    "load_spec",
    "parse_spec",
    "format_validation_error",
    "sweep_status",
    "run_sweep",
    "prepare_sweep",
    "jobs_of",
    "check_epochs",
    "check_memory",
    "train_memory",
    "machine_memory",
    "SweepReport",
    "DEFAULT_ROOT",
]
