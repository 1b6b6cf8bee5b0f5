"""Published laws, with their provenance, parameter and FLOP conventions and fitted range.

``get_law(name)`` returns a fresh law object; ``get_law("fit.json")`` loads a fitted law saved by
``scaling fit`` (a FitResult JSON) or a law JSON (``Law.to_dict``). ``list_laws()`` lists names and
``laws_by_form()`` groups them by form (``scaling laws``).
"""

from __future__ import annotations

import difflib
import json
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ScalingError
from .allocation import FlopsPerTokenAllocation, NonEmbeddingChinchillaLaw
from .base import Law, Provenance
from .chinchilla import ChinchillaLaw
from .datacon import DataConstrainedLaw, muennighoff_2023
from .kaplan import KaplanLaw
from .moe import FineGrainedMoELaw, check_granularity, krajewski_2024
from .powerlaw import PowerLawAllocation
from .sparsity import SparsityLaw, frantar_2024
from .zoo import ENTRIES as ZOO_ENTRIES

HOFFMANN = (
    "Hoffmann et al. 2022, Training Compute-Optimal Large Language Models, arXiv:2203.15556",
    "https://arxiv.org/abs/2203.15556",
)
# Hoffmann et al. isoFLOP budgets span 6e18..3e21 FLOPs; their Approach 3 fit used all runs
# (70M..16B parameters); we take the isoFLOP span as the fitted compute range.
HOFFMANN_FLOPS = (6e18, 3e21)

# Table 3 of Hoffmann et al. (Approach 1 projections): params, FLOPs, tokens.
CHINCHILLA_TABLE3 = np.array(
    [
        (400e6, 1.92e19, 8.0e9),
        (1e9, 1.21e20, 20.2e9),
        (10e9, 1.23e22, 205.1e9),
        (67e9, 5.76e23, 1.5e12),
        (175e9, 3.85e24, 3.7e12),
        (280e9, 9.90e24, 5.9e12),
        (520e9, 3.43e25, 11.0e12),
        (1e12, 1.27e26, 21.2e12),
        (10e12, 1.30e28, 216.2e12),
    ]
)


def _chinchilla() -> Law:
    return ChinchillaLaw(
        1.6934,
        406.40,
        410.72,
        0.33917084,
        0.2849083,
        name="chinchilla-2022",
        provenance=Provenance(
            *HOFFMANN,
            notes="Approach 3, unrounded constants from the paper's TeX source; a = 0.4565",
            fitted_flops=HOFFMANN_FLOPS,
        ),
    )


def _chinchilla_rounded() -> Law:
    return ChinchillaLaw(
        1.69,
        406.4,
        410.7,
        0.34,
        0.28,
        name="chinchilla-2022-rounded",
        provenance=Provenance(
            *HOFFMANN, notes="Approach 3 as printed in eq. 10 (rounded)", fitted_flops=HOFFMANN_FLOPS
        ),
    )


def _epoch() -> Law:
    return ChinchillaLaw(
        1.8172,
        482.01,
        2085.43,
        0.3478,
        0.3658,
        name="epoch-2024",
        provenance=Provenance(
            "Besiroglu et al. 2024, Chinchilla Scaling: A replication attempt, arXiv:2404.10102",
            "https://arxiv.org/abs/2404.10102",
            notes="Refit of Hoffmann's Approach 3 data (Huber, summed, converged); a = 0.513 (SE 0.020). "
            "Intervals are per-parameter 95% bootstrap intervals; no joint samples are published, "
            "so plans from this law carry no interval.",
            fitted_flops=HOFFMANN_FLOPS,
        ),
        param_intervals={
            "A": (285.2, 743.6),
            "B": (1042.4, 5810.3),
            "E": (1.769, 1.871),
            "alpha": (0.317, 0.373),
            "beta": (0.331, 0.415),
        },
    )


def _approach1() -> Law:
    P, C, D = CHINCHILLA_TABLE3.T
    return PowerLawAllocation.fit(
        C,
        P,
        D,
        name="chinchilla-approach1",
        provenance=Provenance(
            *HOFFMANN,
            notes="power laws N_opt = k_N C^a, D_opt = k_D C^b fitted (least squares "
            "in log space) to Table 3; allocation only, no loss model",
            fitted_flops=HOFFMANN_FLOPS,
        ),
    )


def _kaplan() -> Law:
    return KaplanLaw(
        6.4e13,
        1.8e13,
        0.076,
        0.103,
        1.3e9,
        0.73,
        name="kaplan-2020",
        provenance=Provenance(
            "Kaplan et al. 2020, Scaling Laws for Neural Language Models, arXiv:2001.08361",
            "https://arxiv.org/abs/2001.08361",
            notes="non-embedding parameters; early-stopped loss; allocation N_opt = 1.3e9 (C/PF-day)^0.73",
            # compute range of the paper's Figure 1: about 1e-8 .. 10 PF-days
            fitted_flops=(8.64e11, 8.64e20),
        ),
    )


# The registry, explicitly (no law module registers itself on import): name -> (factory, aliases),
# in the order ``scaling laws`` lists them.
_ENTRIES: dict[str, tuple[Callable[[], Law], tuple[str, ...]]] = {
    "chinchilla-2022": (_chinchilla, ("chinchilla", "hoffmann")),
    "chinchilla-2022-rounded": (_chinchilla_rounded, ()),
    "epoch-2024": (_epoch, ("epoch", "besiroglu")),
    "chinchilla-approach1": (_approach1, ("approach1",)),
    "kaplan-2020": (_kaplan, ("kaplan",)),
    "muennighoff-2023": (muennighoff_2023, ("muennighoff", "datacon", "data-constrained")),
    "frantar-2024": (frantar_2024, ("frantar", "sparsity")),
    **ZOO_ENTRIES,
    "krajewski-2024": (krajewski_2024, ("krajewski", "moe", "fine-grained-moe")),
}
REGISTRY: dict[str, Callable[[], Law]] = {name: factory for name, (factory, _) in _ENTRIES.items()}
ALIASES: dict[str, str] = {a: name for name, (_, aliases) in _ENTRIES.items() for a in aliases}
DEFAULT_LAW = "epoch-2024"  # the best-supported law (README: "Which law answers by default")


def register(name: str, factory: Callable[[], Law], *aliases: str) -> None:
    REGISTRY[name] = factory
    for a in aliases:
        ALIASES[a] = name


def list_laws() -> list[str]:
    return list(REGISTRY)


def laws_by_form(names: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Registered laws grouped by form (``chinchilla``, ``powerlaw``, ...), in registry order."""
    groups: dict[str, list[str]] = {}
    for n in list(names) if names is not None else list_laws():
        law = get_law(n)
        groups.setdefault(law.form, []).append(law.name)
    return groups


def get_law(name: str | Law) -> Law:
    """A registered law by name (or alias), or a law/fit JSON file by path."""
    if isinstance(name, Law):
        return name
    key = str(name).strip()
    low = key.lower()
    if low in REGISTRY:
        return REGISTRY[low]()
    if low in ALIASES:
        return REGISTRY[ALIASES[low]]()
    if low.endswith(".json") or Path(key).is_file():
        return load_law(key)
    close = difflib.get_close_matches(low, list(REGISTRY) + list(ALIASES), n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ScalingError(f"unknown law {key!r}{hint} (known: {', '.join(REGISTRY)}; or a fit .json file)")


def load_law(path: str | Path) -> Law:
    """Load a law from a JSON file: a FitResult written by ``scaling fit`` or a ``Law.to_dict``."""
    path = Path(path)
    if not path.is_file():
        raise ScalingError(f"--law: no such law name or file: {str(path)!r}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScalingError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ScalingError(f"{path}: expected a JSON object describing a law or a fit")
    if "law" in data:  # a FitResult JSON: it carries its law as a plain law dict (Law.to_dict)
        if not isinstance(data["law"], dict) or "method" not in data:
            raise ScalingError(f"{path}: not a fit result (expected keys 'method' and 'law', 'law' an object)")
        law = dict(data["law"])
        law["name"] = path.stem
        return law_from_dict(law, source=str(path))
    return law_from_dict(data, source=str(path))


# Law forms a JSON law dict may name ("form"), explicitly.
FORMS: dict[str, type[Law]] = {
    "chinchilla": ChinchillaLaw,
    "powerlaw": PowerLawAllocation,
    "kaplan": KaplanLaw,
    "datacon": DataConstrainedLaw,
    "sparsity": SparsityLaw,
    FlopsPerTokenAllocation.form: FlopsPerTokenAllocation,
    NonEmbeddingChinchillaLaw.form: NonEmbeddingChinchillaLaw,
    FineGrainedMoELaw.form: FineGrainedMoELaw,
}


def _outside(point: float, values: np.ndarray) -> bool:
    """True when ``point`` lies beyond the 1st..99th percentile range of ``values`` widened by that
    range on either side (log scale when everything is positive): far outside a bootstrap."""
    v = values[np.isfinite(values)]
    if not np.isfinite(point) or v.size < 2:
        return False
    if point > 0 and np.all(v > 0):
        point, v = np.log(point), np.log(v)
    lo, hi = np.percentile(v, [1, 99])
    w = hi - lo
    tol = 1e-9 * max(1.0, abs(point))
    return not (lo - w - tol <= point <= hi + w + tol)


def check_samples(
    cls: type[Law], values: dict[str, float], samples, source: str = "law", min_rows: int = 20
) -> np.ndarray:
    """The law's samples as an (n, k) array, or a one-line error when they cannot be its samples.

    Each row must be finite and as long as the parameter vector; and (with ``min_rows`` rows or
    more) each point estimate must lie within the bulk of its samples (``_outside``). A fitter's
    own bootstrap passes; a hand-edited ``law.params`` far from the fit does not.
    ``check_sample_laws`` then checks the laws they make.
    """
    names = [k for k in cls.param_names if k in values]
    try:
        S = np.asarray([[np.nan if v is None else v for v in row] for row in samples], dtype=float)
    except (TypeError, ValueError):
        raise ScalingError(f"{source}: law samples must be rows of {len(names)} numbers ({', '.join(names)})") from None
    if S.ndim != 2 or S.shape[1] != len(names):
        raise ScalingError(
            f"{source}: law samples must be rows of {len(names)} numbers ({', '.join(names)}); got shape {S.shape}"
        )
    bad = ~np.all(np.isfinite(S), axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ScalingError(
            f"{source}: law sample {i} is not finite ({', '.join(f'{k} = {v:g}' for k, v in zip(names, S[i]))}"
            f'; {int(bad.sum())} such rows); refit, or delete "samples" to plan without intervals'
        )
    if len(S) >= min_rows:
        for j, k in enumerate(names):
            if _outside(float(values[k]), S[:, j]):
                raise ScalingError(
                    f"{source}: the law's samples disagree with its parameters: {k} = "
                    f"{float(values[k]):.6g}, but its {len(S)} samples span {S[:, j].min():.6g}.."
                    f'{S[:, j].max():.6g} (was the file edited?); refit, or delete "samples" to plan '
                    "without intervals"
                )
    return S


def check_sample_laws(law: Law, source: str = "law", min_rows: int = 20) -> None:
    """Every sample must make a law, and the point law's compute-optimal size at the top of the fitted
    range must lie within the bulk of the samples' (``_outside``): parameters that trade off (A and
    alpha) can each stay in range while the law they make leaves the fit."""
    if law.samples is None or len(law.samples) < 2:
        return
    C = float(law.provenance.fitted_flops[1]) if law.provenance.fitted_flops else 1e21
    sizes = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for i, row in enumerate(law.samples):
            try:
                s = law.with_params(row)
            except ScalingError as exc:
                raise ScalingError(
                    f"{source}: law sample {i} is not a valid {law.form} law ({exc}); refit, or "
                    'delete "samples" to plan without intervals'
                ) from None
            if len(law.samples) >= min_rows:
                try:
                    sizes.append(float(np.asarray(s.frontier(C)[0])))
                except (ScalingError, ValueError, ArithmeticError):
                    sizes.append(np.nan)
        if len(sizes) >= min_rows:
            try:
                n0 = float(np.asarray(law.frontier(C)[0]))
            except (ScalingError, ValueError, ArithmeticError):
                return
            if _outside(n0, np.asarray(sizes)):
                v = np.asarray(sizes)
                lo, hi = np.percentile(v[np.isfinite(v)], [2.5, 97.5])
                raise ScalingError(
                    f"{source}: the law's samples disagree with its parameters: its compute-optimal "
                    f"size at {C:.3g} FLOPs is {n0:.4g}, its {len(v)} samples put it at {lo:.4g}.."
                    f'{hi:.4g} (95%) (was the file edited?); refit, or delete "samples" to plan '
                    "without intervals"
                )


def law_from_dict(data: dict, source: str = "law") -> Law:
    form = data.get("form")
    if form not in FORMS:
        raise ScalingError(f"{source}: unknown law form {form!r} (known: {', '.join(FORMS)})")
    cls = FORMS[form]
    params = data.get("params") or {}
    missing = [k for k in cls.param_names if k not in params and k not in ("k_D", "b", "k_alloc", "a_alloc")]
    if missing:
        raise ScalingError(f"{source}: law of form {form!r} is missing parameter(s) {', '.join(missing)}")
    try:
        values: dict[str, Any] = {k: float(params[k]) for k in cls.param_names if k in params}
    except (TypeError, ValueError):
        raise ScalingError(f"{source}: law parameters must be numbers") from None
    ff = data.get("fitted_flops")
    prov = Provenance(data.get("citation", ""), data.get("url", ""), data.get("notes", ""), tuple(ff) if ff else None)
    samples = data.get("samples")
    if samples:
        samples = check_samples(cls, values, samples, source)
    intervals = {k: tuple(v) for k, v in (data.get("param_intervals") or {}).items()}
    kw = {}
    if data.get("loss_frontier") and cls is PowerLawAllocation:
        kw["loss_frontier"] = data["loss_frontier"]
    if data.get("granularity") is not None and cls is FineGrainedMoELaw:
        kw["granularity"] = check_granularity(data["granularity"], f"{source}: granularity")
    law = cls(
        **values,
        **kw,
        name=data.get("name") or Path(source).stem,
        provenance=prov,
        samples=samples if samples is not None and len(samples) else None,
        param_intervals=intervals,
    )
    # conventions travel with the law (a Kaplan-form fit on total parameters stays "total")
    for attr in ("flops_convention", "params_convention"):
        if isinstance(data.get(attr), str) and data[attr] != getattr(law, attr):
            setattr(law, attr, data[attr])
    check_sample_laws(law, source)
    return law
