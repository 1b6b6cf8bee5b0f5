"""Runs tables: loading, validating and describing the training runs a fit is made from.

A runs table is a pandas DataFrame with one row per run and at least the canonical columns

    run_id, params, tokens, flops, loss

(parameters N, training tokens D, training FLOPs C, final loss in nats per token), followed by
every other column of the source (dataset, arch, sparsity, seed, unique_tokens, status, ...).
The source columns that were mapped onto a canonical role are kept under their own name too, so
a ``where`` filter may use either.

The index holds the 1-based data row of each run in the source (the header is not counted), so
that an error found later (in a fit) can still point at the row of the file. ``df.attrs["scaling"]``
records the source, the column mapping, the filters applied and any notes (see ``data_info``).

Training curves (one row per evaluation of a run) are loaded by ``load_curves``; Approach 1 fits
them. ``load_runs`` rejects a table in which a run appears more than once.

One public API, ``scaling.runs.X`` for every name, from these modules:

- :mod:`.read`: ``read_table`` (CSV, TSV, Parquet, JSON, or a DataFrame);
- :mod:`.columns`: the canonical roles and their aliases, ``find_column``, ``apply_where``;
- :mod:`.values`: numbers from text, positivity and log10 columns, ``RunsWarning``;
- :mod:`.checks`: ``plausibility``, duplicated runs, ``require_sizes`` / ``require_columns``;
- :mod:`.describe`: ``data_fingerprint``, ``data_info``, ``architecture_info``, ``describe_runs``, ``group_budgets``;
- :mod:`.load`: ``load_runs`` and ``as_runs``; :mod:`.curves`: ``load_curves``.

This package imports numpy and pandas only (no torch, no matplotlib, no scipy).
"""

from __future__ import annotations

from .checks import (
    FLOPS_FACTOR,
    PARAMS_MIN,
    SEED_NOISE,
    TOKENS_MIN,
    TOKENS_PER_PARAM_MAX,
    plausibility,
    require_columns,
    require_sizes,
)
from .columns import ALIASES, CANONICAL, apply_where, find_column, params_convention_of
from .curves import load_curves
from .describe import (
    ARCHITECTURE_COLUMNS,
    architecture_info,
    data_fingerprint,
    data_info,
    describe_runs,
    format_description,
    group_budgets,
)
from .load import as_runs, load_runs
from .read import read_table
from .values import OK_STATUS, RunsWarning

__all__ = [
    "CANONICAL",
    "ALIASES",
    "OK_STATUS",
    "PARAMS_MIN",
    "TOKENS_MIN",
    "TOKENS_PER_PARAM_MAX",
    "FLOPS_FACTOR",
    "SEED_NOISE",
    "RunsWarning",
    "load_runs",
    "plausibility",
    "load_curves",
    "read_table",
    "find_column",
    "apply_where",
    "params_convention_of",
    "require_sizes",
    "require_columns",
    "as_runs",
    "data_fingerprint",
    "data_info",
    "architecture_info",
    "ARCHITECTURE_COLUMNS",
    "describe_runs",
    "format_description",
    "group_budgets",
]
