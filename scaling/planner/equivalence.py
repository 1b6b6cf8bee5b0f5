"""The dense-equivalent size of a sparse model from two Chinchilla fits, one per sparsity level.

Frantar et al. (2024, arXiv:2309.08520) fit one surface over sparsity,
``L(S, N, D) = (a_S (1-S)^b_S + c_S) N^-b_N + (a_D/D)^b_D + c``, and read off the dense-equivalent
factor ``(a_S (1-S)^b_S + c_S) / (a_S + c_S)`` to the power ``-1/b_N``; with ``a_S, b_S > 0`` that
factor cannot fall below 1, so the lower end of its interval is set by the form, not by the runs.
This module gives a second estimator that can say "worse": one Approach 3 fit
(Hoffmann et al. 2022, arXiv:2203.15556, ``L = E + A/N^alpha + B/D^beta``) per sparsity level, N
the non-zero parameters, and the dense size that reaches the sparse model's loss on the same tokens::

    L_s = E_s + A_s / N^alpha_s + B_s / D^beta_s              (the sparse law at N non-zero, D tokens)
    N_eq = (A_d / (L_s - E_d - B_d / D^beta_d)) ** (1 / alpha_d)   (the dense law solved for N)
    factor = N_eq / N

The factor depends on D unless the two laws share E, B and beta, and it can be below 1. When L_s is
at or below the dense law's floor at that D (``E_d + B_d / D^beta_d``, what an infinite dense model
reaches on D tokens) no dense size matches it: N_eq and the factor are infinite, and are reported so.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import OutOfRangeWarning, ScalingError
from ..laws import get_law
from ..laws.base import Law
from ..laws.chinchilla import ChinchillaLaw
from ..units import si
from .compare import recorded_architecture


@dataclass(frozen=True)
class EquivalenceRow:
    """The dense equivalent at one token count D: the sparse law's loss, the dense size N_eq that
    reaches it on D tokens (inf when none does), ``factor = N_eq / N`` and its percentile interval over
    the paired bootstrap samples (None without samples); ``n_unreachable`` samples had no dense size."""

    tokens: float
    tokens_per_param: float
    sparse_loss: float
    dense_params: float
    factor: float
    interval: tuple[float, float] | None = None
    sparse_loss_interval: tuple[float, float] | None = None
    n_unreachable: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("interval", "sparse_loss_interval"):
            if d[k] is not None:
                d[k] = [_json_float(v) for v in d[k]]
        for k in ("dense_params", "factor"):
            d[k] = _json_float(d[k])
        return d


@dataclass(frozen=True)
class DenseEquivalence:
    """The dense-equivalent factor of a sparse model of ``params`` non-zero parameters at each token
    count (see the module docstring); ``summary()`` reads as a report, ``to_dict()`` is JSON-safe
    (an infinite size or factor is the string "inf")."""

    dense_law: str
    sparse_law: str
    params: float
    rows: tuple[EquivalenceRow, ...]
    level: float = 0.95
    n_samples: int = 0
    dense_sparsity: float | None = None
    sparse_sparsity: float | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def factors(self) -> np.ndarray:
        return np.array([r.factor for r in self.rows])

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rows"] = [r.to_dict() for r in self.rows]
        d["notes"] = list(self.notes)
        return d

    def summary(self) -> str:
        def side(name: str, law: str, s: float | None) -> str:
            what = "sparsity not recorded" if s is None else ("dense" if s == 0 else f"{100 * s:g}% sparse")
            return f"{name}: {law}   [{what}]"

        lines = [
            side("dense", self.dense_law, self.dense_sparsity),
            side("sparse", self.sparse_law, self.sparse_sparsity),
            f"sparse model: {si(self.params)} non-zero parameters; dense-equivalent size N_eq: the dense "
            f"law's size with the same loss on the same tokens; factor = N_eq / N",
        ]
        head = ["tokens/param", "tokens", "sparse loss", "N_eq", "factor"]
        with_interval = any(r.interval is not None for r in self.rows)
        if with_interval:
            head.append(f"{100 * self.level:g}% interval")
        table = [head]
        for r in self.rows:
            cells = [
                f"{r.tokens_per_param:.4g}",
                si(r.tokens),
                f"{r.sparse_loss:.4f}",
                si(r.dense_params) if math.isfinite(r.dense_params) else "unreachable",
                _times(r.factor),
            ]
            if with_interval:
                cells.append(f"{_num(r.interval[0])} .. {_num(r.interval[1])}" if r.interval is not None else "-")
            table.append(cells)
        widths = [max(len(row[j]) for row in table) for j in range(len(head))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in table]
        if self.n_samples:
            lines.append(
                f"intervals: percentiles over {self.n_samples} paired bootstrap samples (the i-th sample of "
                f"each fit); a sample with no dense size counts as an infinite factor"
            )
            for r in self.rows:
                if r.n_unreachable:
                    lines.append(
                        f"  at {r.tokens_per_param:.4g} tokens/param: {r.n_unreachable} of {self.n_samples} "
                        f"samples give a loss no dense model reaches on those tokens"
                    )
        if any(not math.isfinite(r.factor) for r in self.rows):
            lines.append(
                "unreachable: the sparse loss is at or below the dense law's floor E + B/D^beta at that D "
                "(an infinite dense model on the same tokens)"
            )
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _json_float(v: float) -> float | str:
    return v if math.isfinite(v) else ("inf" if v > 0 else "-inf" if v < 0 else "nan")


def _num(v: float) -> str:
    return f"{v:.3g}" if math.isfinite(v) else "inf"


def _times(v: float) -> str:
    return f"{v:.3g}x" if math.isfinite(v) else "inf"


def equivalent_params(dense: ChinchillaLaw, loss, tokens) -> np.ndarray:
    """The dense size with loss ``loss`` on ``tokens`` tokens: ``(A / (L - E - B/D^beta))^(1/alpha)``,
    inf where ``L`` is at or below the law's floor ``E + B/D^beta`` on those tokens."""
    L = np.asarray(loss, dtype=float)
    D = np.asarray(tokens, dtype=float)
    gap = L - dense.E - dense.B * D**-dense.beta
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        N = np.where(gap > 0, (dense.A / np.where(gap > 0, gap, 1.0)) ** (1.0 / dense.alpha), np.inf)
    return N


def _chinchilla(law: Law, side: str, source) -> ChinchillaLaw:
    if law.form != "chinchilla" or not isinstance(law, ChinchillaLaw):
        raise ScalingError(
            f"the {side} law ({source}) is of form {law.form!r}: the dense equivalent needs a Chinchilla "
            "surface L = E + A/N^alpha + B/D^beta (fit the runs with --method approach3 or vp)"
        )
    return law


def _percentile(values: np.ndarray, p: float) -> float:
    """The p-quantile by linear interpolation, where an infinite value ranks above every finite one
    (numpy's interpolation gives NaN next to an infinity)."""
    v = np.sort(np.asarray(values, dtype=float))
    pos = p * (len(v) - 1)
    lo, hi = int(math.floor(pos)), int(math.ceil(pos))
    frac = pos - lo
    if frac == 0 or v[lo] == v[hi]:
        return float(v[lo])
    if not math.isfinite(v[hi]):
        return math.inf
    return float(v[lo] + (v[hi] - v[lo]) * frac)


def _positive(values, what: str) -> np.ndarray:
    try:
        arr = np.atleast_1d(np.asarray(values, dtype=float)).ravel()
    except (TypeError, ValueError):
        raise ScalingError(f"{what} must be numbers: got {values!r}") from None
    if arr.size == 0:
        raise ScalingError(f"{what}: give at least one value")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        bad = arr[~(np.isfinite(arr) & (arr > 0))][0]
        raise ScalingError(f"{what} must be positive finite numbers: got {bad:g}")
    return arr


def dense_equivalent(
    dense,
    sparse,
    params: float,
    *,
    tokens: Sequence[float] | float | None = None,
    tokens_per_param: Sequence[float] | float | None = None,
    level: float = 0.95,
    max_samples: int | None = None,
    dense_sparsity: float | None = None,
    sparse_sparsity: float | None = None,
    notes: Sequence[str] = (),
) -> DenseEquivalence:
    """The dense-equivalent factor of a sparse model from a dense and a sparse Chinchilla law.

    dense, sparse: Chinchilla laws (``L = E + A/N^alpha + B/D^beta``; anything
        :func:`scaling.laws.get_law` takes: a law, a registered name, a fit JSON file); the sparse law's
        N counts non-zero parameters (fit its runs with ``--params-col nonzero_params``).
    params: the sparse model's non-zero parameter count N.
    tokens or tokens_per_param: the token counts D (or D / N) at which to compare; one row each.
    level: the interval's level. max_samples: use at most this many sample pairs.
    dense_sparsity, sparse_sparsity, notes: what the report says about each side (the sparsity its
        fit records) and any notes to print.

    Per D: the sparse law's loss ``L_s(N, D)``, the dense size ``N_eq`` with ``L_d(N_eq, D) = L_s``
    (closed form, see the module docstring; inf when ``L_s`` is at or below the dense law's floor at
    that D) and ``factor = N_eq / N``, which may be below 1 (sparse worse than its non-zero count of
    dense parameters) or infinite.

    Interval: each fit's bootstrap resampled its own runs, so the two laws' samples are independent
    draws; the i-th sample of the dense law is paired with the i-th of the sparse law, up to the
    shorter list (``n_samples`` pairs), and the factor's percentile interval is taken over the pairs.
    A pair with no dense size counts as an infinite factor (ranked above every finite one, not
    dropped: dropping would pull the interval down); ``n_unreachable`` counts them per D. Without
    samples on both sides there is no interval, with a note saying why.
    """
    if not 0 < level < 1:
        raise ScalingError(f"level must be between 0 and 1: got {level}")
    if (tokens is None) == (tokens_per_param is None):
        raise ScalingError("give exactly one of tokens and tokens_per_param")
    if np.ndim(params) != 0:
        raise ScalingError("params must be one number (the sparse model's non-zero parameters)")
    N = float(_positive(params, "params")[0])
    if tokens is not None:
        D = _positive(tokens, "tokens")
    else:
        D = _positive(tokens_per_param, "tokens_per_param") * N
    raw_d, raw_s = get_law(dense), get_law(sparse)
    law_d = _chinchilla(raw_d, "dense", _label(dense, raw_d))
    law_s = _chinchilla(raw_s, "sparse", _label(sparse, raw_s))
    notes_out = list(notes)

    def factors(ld: ChinchillaLaw, ls: ChinchillaLaw) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(over="ignore", under="ignore"):
            L = ls.E + ls.A * N**-ls.alpha + ls.B * D**-ls.beta
        return L, equivalent_params(ld, L, D) / N

    L, f = factors(law_d, law_s)
    # a Chinchilla law's samples are Chinchilla laws (``Law.with_params``)
    samp_d = [x for x in law_d.sample_laws() if isinstance(x, ChinchillaLaw)]
    samp_s = [x for x in law_s.sample_laws() if isinstance(x, ChinchillaLaw)]
    n = min(len(samp_d), len(samp_s))
    if max_samples is not None:
        if max_samples < 2:
            raise ScalingError(f"max_samples must be at least 2: got {max_samples}")
        n = min(n, int(max_samples))
    intervals: list[tuple[float, float] | None] = [None] * len(D)
    loss_intervals: list[tuple[float, float] | None] = [None] * len(D)
    unreachable = np.zeros(len(D), dtype=int)
    q = (1 - level) / 2
    if n >= 2:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OutOfRangeWarning)
            pairs = [factors(samp_d[i], samp_s[i]) for i in range(n)]
        Ls = np.stack([p[0] for p in pairs])
        Fs = np.stack([p[1] for p in pairs])
        unreachable = np.sum(~np.isfinite(Fs), axis=0)
        for j in range(len(D)):
            intervals[j] = (_percentile(Fs[:, j], q), _percentile(Fs[:, j], 1 - q))
            loss_intervals[j] = (float(np.quantile(Ls[:, j], q)), float(np.quantile(Ls[:, j], 1 - q)))
    else:
        n = 0
        missing = [s for s, x in (("dense", samp_d), ("sparse", samp_s)) if len(x) < 2]
        notes_out.append(
            f"no interval: the {' and '.join(missing)} law{'s carry' if len(missing) > 1 else ' carries'} no "
            "bootstrap samples (fit with --bootstrap to get one)"
        )
    sizes = {"dense": f[np.isfinite(f)] * N, "sparse": np.full(len(D), N)}
    tok = {"dense": D[np.isfinite(f)], "sparse": D}
    for side, law in (("dense", law_d), ("sparse", law_s)):
        ff = law.provenance.fitted_flops
        C = 6.0 * sizes[side] * tok[side]
        if ff is not None and C.size and (C.max() > 100 * ff[1] or C.min() < ff[0] / 100):
            notes_out.append(
                f"the {side} law is used at {C.min():.3g} .. {C.max():.3g} FLOPs (6ND), more than 100x outside "
                f"the compute of its runs ({ff[0]:.3g} .. {ff[1]:.3g}): an extrapolation"
            )
    rows = tuple(
        EquivalenceRow(
            tokens=float(D[j]),
            tokens_per_param=float(D[j] / N),
            sparse_loss=float(L[j]),
            dense_params=float(f[j] * N),
            factor=float(f[j]),
            interval=intervals[j],
            sparse_loss_interval=loss_intervals[j],
            n_unreachable=int(unreachable[j]),
        )
        for j in range(len(D))
    )
    return DenseEquivalence(
        dense_law=_label(dense, law_d),
        sparse_law=_label(sparse, law_s),
        params=N,
        rows=rows,
        level=level,
        n_samples=int(n),
        dense_sparsity=dense_sparsity,
        sparse_sparsity=sparse_sparsity,
        notes=tuple(notes_out),
    )


def _label(source, law: Law) -> str:
    return str(source) if isinstance(source, str) else law.name


def _params_column(source) -> str | None:
    """The runs-table column a fit file took N from (``FitResult.data.columns``), or None."""
    if not isinstance(source, (str, Path)) or not str(source).lower().endswith(".json"):
        return None
    try:
        data = json.loads(Path(source).read_text())
        column = data["data"]["columns"]["params"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return column if isinstance(column, str) else None


def dense_equivalent_fits(
    dense,
    sparse,
    params: float,
    *,
    tokens: Sequence[float] | float | None = None,
    tokens_per_param: Sequence[float] | float | None = None,
    level: float = 0.95,
    max_samples: int | None = None,
    any_sparsity: bool = False,
) -> DenseEquivalence:
    """:func:`dense_equivalent` for two fit files, checked against the sparsity each fit records
    (``FitResult.architecture``; what ``scaling compare --dense-equivalent`` prints).

    Refused unless ``any_sparsity``: a dense side whose runs were sparse (recorded sparsity above 0), and
    two sides of the same recorded sparsity. Refused always: a side fitted on runs of mixed sparsity
    (its law is no single sparsity's). A side that records no sparsity (a published law, an older fit)
    is used as it is, with a note."""
    for side, src in (("dense", dense), ("sparse", sparse)):
        # a missing file is named as the side it stands for, before its record is read
        if isinstance(src, (str, Path)) and str(src).lower().endswith(".json") and not Path(src).is_file():
            raise ScalingError(f"the {side} fit {str(src)!r}: no such file")
        get_law(src)
    rec = {side: recorded_architecture(src) for side, src in (("dense", dense), ("sparse", sparse))}
    sp: dict[str, float | None] = {}
    notes: list[str] = []
    for side, src in (("dense", dense), ("sparse", sparse)):
        arch, why = rec[side]
        mixed = arch.mixed.get("sparsity") if arch is not None else None
        if mixed:
            shown = ", ".join("?" if v is None else f"{v:g}" for v in mixed)
            raise ScalingError(
                f"the {side} fit ({src}) was fitted on runs of mixed sparsity ({shown}): its law is no single "
                "sparsity's; fit each sparsity apart (--where)"
            )
        sp[side] = arch.sparsity if arch is not None else None
        if sp[side] is None:
            notes.append(f"the {side} side records no sparsity ({why or 'its runs table had no sparsity column'})")
    column = _params_column(sparse)
    if sp["sparse"] and column is not None and column != "nonzero_params":
        notes.append(
            f"the sparse fit's N is its runs' {column!r} column, not 'nonzero_params': the factor is per "
            "parameter of that column (refit with --params-col nonzero_params for non-zero parameters)"
        )
    if not any_sparsity:
        if sp["dense"] is not None and sp["dense"] > 0:
            raise ScalingError(
                f"the dense side ({dense}) was fitted on {100 * sp['dense']:g}% sparse runs: pass a dense fit "
                "first, or --any-sparsity to compare two sparsities"
            )
        if sp["dense"] is not None and sp["dense"] == sp["sparse"]:
            raise ScalingError(
                f"both fits record the same sparsity ({100 * sp['dense']:g}%): pass --any-sparsity to compare "
                "them anyway"
            )
    return dense_equivalent(
        dense,
        sparse,
        params,
        tokens=tokens,
        tokens_per_param=tokens_per_param,
        level=level,
        max_samples=max_samples,
        dense_sparsity=sp["dense"],
        sparse_sparsity=sp["sparse"],
        notes=notes,
    )


__all__ = ["DenseEquivalence", "EquivalenceRow", "dense_equivalent", "dense_equivalent_fits", "equivalent_params"]
