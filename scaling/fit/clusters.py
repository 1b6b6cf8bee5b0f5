"""Cluster (block) bootstrap: resample groups of runs, each drawn group with all its rows.

Why. The row bootstrap (:mod:`scaling.fit.bootstrap`) draws runs independently, which is right when
their errors are independent. A branched sweep breaks that: every run of one model size in one seed
branches from one shared training trunk, so the runs of a trunk share its luck. In this project's
CPU sweeps two seeds of one size differed by +11.6%, +9.8%, +3.8% and +1.9% in loss across that
size's four branches (all one sign), and a rerun of 18 runs moved whole trunks by +2..+6% or
-1..-10% together. Resampling rows treats a trunk's branches as independent evidence, and the
intervals come out too narrow: a trunk's offset looks like signal that every resample agrees on.

What. With ``bootstrap_by=[col, ...]`` the groups are the distinct values (tuples of values) of
those columns, K of them, in the order they first appear in the fitted table. A resample draws K
groups with replacement; each drawn group contributes all its rows, a group drawn twice contributes
them twice (so a resample has about, not exactly, as many rows as the data). That is the cluster
bootstrap of Davison & Hinkley (1997, *Bootstrap Methods and their Application*, Cambridge
University Press, section 3.8 "Hierarchical data", p. 100-101: resample the clusters with
replacement and keep the observations inside each cluster as they are), the "pairs cluster
bootstrap" of Cameron, Gelbach & Miller (2008, "Bootstrap-based improvements for inference with
clustered errors", *Review of Economics and Statistics* 90(3), 414-427); Field & Welsh (2007,
"Bootstrapping clustered data", *JRSS B* 69(3), 369-390) show its variance estimates are
consistent under both a random-effect and a transformation model of the clusters.

Which groups. Raw runs of a branched sweep: ``trunk`` (the run store's column: one trunk per size,
batch and seed). With ``mean_seeds`` each fitted point averages the seeds of one (N, D), so the
trunk of a point is no longer one value (one trunk per seed): group by ``params`` (size), which
keeps all of a size's points, and so all of its trunks, together. A column that differs between
the replicates a point averages is refused (:func:`scaling.fit.api.fit`).

Per method. Approach 3 and VP refit a resample as a multiplicity per run (a weighted refit, as for
rows); Kaplan, data-constrained and sparsity refit the drawn rows. Approach 2 resamples within each
budget for rows, but a trunk of a branched isoFLOP sweep has a run in several budgets, so there the
groups are drawn across budgets, each drawn run going to its own budget
(:mod:`scaling.fit.approach2`). Approach 1 draws sets of training curves: the groups are of runs (a
column with one value per curve), and a resample is the set of runs of the drawn groups. A cluster
resample that holds fewer than 2 distinct sizes or token counts cannot determine a surface and
counts as a failed refit (``SHORT``), beside the failures and on-bound refits every bootstrap counts.

Reproducibility: resample i draws its K group indices from the generator of the row bootstrap's
resample i (:func:`scaling.fit.bootstrap.resample_generators`), so a seed gives the same groups
whatever the number of resamples, chunks or workers. Without ``bootstrap_by`` nothing changes:
the row bootstrap draws exactly as before.

Few groups (``MIN_GROUPS`` = 8). The cluster bootstrap's accuracy rests on the number of groups,
not of runs (Cameron, Gelbach & Miller 2008; Cameron & Miller 2015, "A practitioner's guide to
cluster-robust inference", *Journal of Human Resources* 50(2), 317-372, on few clusters). With K
groups a resample holds on average K (1 - (1 - 1/K)^K) ~ 0.63 K distinct ones (4.6 of 7), the
bootstrap variance of a mean over groups is (K - 1)/K of the usual unbiased one (its sd is 7% short
at K = 7, 11% at K = 5), and a surface refitted on 4 or 5 distinct sizes fails or ends on a bound
more often. Below 8 groups the fit is flagged ``bootstrap_few_groups`` ("intervals are coarse"):
read its intervals as a rough width, not as a calibrated coverage. The threshold is a judgement,
not a theorem (10 or 20 groups are not many either); the summary always says how many groups the
intervals rest on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ScalingError
from ..planner.result import Flag
from ..runs.columns import _suggest

MIN_GROUPS = 8  # fewer groups than this: the fit is flagged "bootstrap_few_groups" (see the module doc)


@dataclass(frozen=True)
class Groups:
    """The groups of a fitted table's rows: ``members[j]`` the row positions (0-based, ascending) of group j."""

    by: tuple[str, ...]
    members: tuple[np.ndarray, ...]
    n_rows: int

    @property
    def n(self) -> int:
        return len(self.members)

    def describe(self) -> str:
        """ "10 groups of params", "12 groups of (trunk, seed)"."""
        return describe(self.n, self.by)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        """Row positions of one resample: K groups drawn with replacement, each with all its rows."""
        pick = rng.integers(0, self.n, size=self.n)
        return np.concatenate([self.members[j] for j in pick])

    def weights(self, rng: np.random.Generator) -> np.ndarray:
        """The resample as a multiplicity per row (n_rows,): how often each row was drawn."""
        return np.bincount(self.draw(rng), minlength=self.n_rows).astype(float)


def describe(n_groups: int, by: Sequence[str]) -> str:
    cols = by[0] if len(by) == 1 else "(" + ", ".join(by) + ")"
    return f"{n_groups} group{'s' if n_groups != 1 else ''} of {cols}"


def parse_by(by: Any) -> tuple[str, ...]:
    """``"trunk"``, ``"trunk,seed"`` or ``["trunk", "seed"]`` -> ("trunk", "seed")."""
    items = [by] if isinstance(by, str) else list(by)
    cols: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ScalingError(f"bootstrap_by: expected column names, got {item!r}")
        for c in item.split(","):
            c = c.strip()
            if c and c not in cols:
                cols.append(c)
    if not cols:
        raise ScalingError("bootstrap_by: no column given (e.g. bootstrap_by=['trunk'] or ['params'])")
    return tuple(cols)


def _missing(v: pd.Series) -> pd.Series:
    return v.isna() | v.astype(str).str.strip().isin(("", "nan", "None", "NaN"))


def _row_name(table: pd.DataFrame, pos: int) -> str:
    if "run_id" in table.columns and not pd.isna(table["run_id"].iloc[pos]):
        return f"run {table['run_id'].iloc[pos]!s}"
    return f"row {table.index[pos]!s}"


def groups_of(table: pd.DataFrame, by: Any, what: str = "runs") -> Groups:
    """The groups of ``table``'s rows by the columns ``by`` (:func:`parse_by`); a one-line
    ScalingError for an unknown column (with close matches), a column with missing values, or a
    single group."""
    cols = parse_by(by)
    for c in cols:
        if c not in table.columns:
            raise ScalingError(
                f"bootstrap_by: the {what} have no column {c!r}{_suggest(c, list(map(str, table.columns)))}"
            )
        miss = _missing(table[c]).to_numpy()
        if miss.any():
            k = int(miss.sum())
            raise ScalingError(
                f"bootstrap_by: column {c!r} is missing for {k} of {len(table)} {what} (first: "
                f"{_row_name(table, int(np.flatnonzero(miss)[0]))}); every row needs a group"
            )
    codes = table.groupby(list(cols), sort=False).ngroup().to_numpy()
    n = int(codes.max()) + 1 if len(codes) else 0
    if n < 2:
        value = ", ".join(f"{c} = {table[c].iloc[0]!s}" for c in cols) if len(table) else "none"
        raise ScalingError(
            f"bootstrap_by: all {len(table)} {what} fall in one group ({value}); a cluster bootstrap "
            f"needs 2 or more groups (and {MIN_GROUPS} or more for intervals worth reading)"
        )
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    members = tuple(np.sort(m) for m in np.split(order, bounds))
    return Groups(by=cols, members=members, n_rows=len(table))


def boot_groups(table: pd.DataFrame, by: Any, bootstrap: int, what: str = "runs") -> Groups | None:
    """The groups a fitter resamples: None for the row bootstrap (``by`` None), else
    :func:`groups_of` (``by`` without resamples is an error: it says how resamples are drawn)."""
    if by is None:
        return None
    if not bootstrap:
        raise ScalingError(f"bootstrap_by={list(parse_by(by))} groups the bootstrap's resamples: give bootstrap > 0")
    return groups_of(table, by, what)


def per_run_groups(curves: pd.DataFrame, by: Any, run_ids: Sequence[str]) -> Groups:
    """The groups of training curves (one row per evaluation) as groups of runs, in the order of
    ``run_ids``; a grouping column must hold one value per run."""
    cols = parse_by(by)
    for c in cols:
        if c not in curves.columns:
            raise ScalingError(
                f"bootstrap_by: the curves have no column {c!r}{_suggest(c, list(map(str, curves.columns)))}"
            )
    key = curves["run_id"].astype(str)
    varies = curves.groupby(key, sort=False)[list(cols)].nunique(dropna=False)
    bad = varies[(varies > 1).any(axis=1)]
    if len(bad):
        raise ScalingError(
            f"bootstrap_by: run {bad.index[0]!s} has more than one value of "
            f"{', '.join(c for c in cols if bad.iloc[0][c] > 1)}; group runs by a column constant along each curve"
        )
    first = curves.assign(_run=key).drop_duplicates("_run").set_index("_run")
    runs = first.loc[[str(r) for r in run_ids]].reset_index()
    return groups_of(runs, cols, what="runs")


def row_draw(n: int, groups: Groups | None) -> Callable[[np.random.Generator], np.ndarray]:
    """The draw of a resample loop (:func:`scaling.fit.bootstrap.resample_loop`): n rows with
    replacement (the row bootstrap, unchanged), or the rows of K groups drawn with replacement."""
    if groups is None:
        return lambda rng: rng.integers(0, n, size=n)
    return groups.draw


SHORT = "fewer than 2 distinct sizes or token counts drawn"  # the failure reason of such a cluster resample


def short_draw(drawn: np.ndarray, N: np.ndarray, D: np.ndarray, min_rows: int = 2) -> bool:
    """Whether a cluster resample (row positions, or a multiplicity per row) holds fewer than 2
    distinct sizes or token counts, or fewer than ``min_rows`` distinct runs: no surface can be
    fitted to it, and its refit counts as failed (``SHORT``). A few groups make such draws common
    (4 sizes: 1 resample in 64 is one size); the row bootstrap does not check (unchanged)."""
    drawn = np.asarray(drawn)
    rows = np.flatnonzero(drawn > 0) if drawn.dtype.kind == "f" else np.unique(drawn)
    return bool(len(rows) < min_rows or len(np.unique(N[rows])) < 2 or len(np.unique(D[rows])) < 2)


def few_groups_flags(n_groups: int | None, by: Sequence[str] | None) -> list[Flag]:
    """The ``bootstrap_few_groups`` flag of a cluster bootstrap over fewer than ``MIN_GROUPS`` groups."""
    if n_groups is None or by is None or n_groups >= MIN_GROUPS:
        return []
    distinct = n_groups * (1.0 - (1.0 - 1.0 / n_groups) ** n_groups)
    return [
        Flag(
            "bootstrap_few_groups",
            f"bootstrap over {describe(n_groups, by)}: intervals are coarse (a resample holds about "
            f"{distinct:.1f} distinct groups; fewer than {MIN_GROUPS} groups understate the spread and "
            "make refits fail): read them as a rough width, not a calibrated coverage",
        )
    ]


__all__ = [
    "Groups",
    "boot_groups",
    "MIN_GROUPS",
    "describe",
    "few_groups_flags",
    "groups_of",
    "parse_by",
    "per_run_groups",
    "row_draw",
    "short_draw",
    "SHORT",
]
