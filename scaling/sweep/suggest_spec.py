"""A sweep design as the sweep spec the runner executes: :func:`sweep_spec` (a dict in the shape of
:class:`scaling.sweep.SweepSpec`, kind "list") and :func:`to_sweep_toml` (that spec as TOML text,
validated so that ``scaling sweep run`` accepts it); :func:`dumps_toml` is the small TOML writer
they use. The design itself is :func:`scaling.sweep.suggest.suggest_runs`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ..errors import ScalingError
from .spec import parse_spec
from .suggest import Design

KIND_KEYS = ("name", "kind", "budgets", "tokens_per_param", "size_multipliers", "params", "runs")


def sweep_spec(
    design: Design, name: str = "suggested", *, template: dict | None = None, seeds: Sequence[int] | None = None
) -> dict[str, Any]:
    """The suggested runs as a sweep spec (a dict in the shape of ``scaling.sweep.SweepSpec``).

    kind "list", one ``[[runs]]`` entry (params, tokens) per suggested run. ``template``: a spec
    (e.g. the TOML of the sweep that produced the runs so far, as a dict) whose model, train and
    data tables, seeds and FLOP convention the new runs should share; its kind-specific keys are
    dropped.
    """
    spec: dict[str, Any] = {}
    for k, v in (template or {}).items():
        if k not in KIND_KEYS:
            spec[k] = v
    what = "exponent a" if design.objective == "a" else f"loss at {design.target:.3g} FLOPs"
    spec["name"] = name
    spec["kind"] = "list"
    spec["description"] = (
        f"suggested by scaling suggest: {len(design.runs)} runs, {design.spent:.3g} FLOPs, to "
        f"shrink the interval of the {what}"
    )
    if seeds is not None:
        spec["seeds"] = [int(x) for x in seeds]
    spec.setdefault("seeds", [0])
    spec["runs"] = [{"params": float(f"{r.params:.6g}"), "tokens": float(f"{r.tokens:.6g}")} for r in design.runs]
    return spec


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ScalingError(f"cannot write {v} to TOML")
        return repr(v) if (v == 0 or 1e-4 <= abs(v) < 1e6) else f"{v:.6g}".replace("e+", "e")
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise ScalingError(f"cannot write {type(v).__name__} to TOML")


def dumps_toml(spec: dict[str, Any], header: Sequence[str] = ()) -> str:
    """A small TOML writer for sweep specs: scalars and lists at the top, then [tables], then
    [[arrays of tables]] (values inside are scalars, lists or inline tables)."""
    lines = [f"# {h}" for h in header]
    tables = {k: v for k, v in spec.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in spec.items() if isinstance(v, list) and v and all(isinstance(x, dict) for x in v)}
    for k, v in spec.items():
        if k not in tables and k not in arrays:
            lines.append(f"{k} = {_toml_value(v)}")
    for k, v in tables.items():
        lines += ["", f"[{k}]"] + [f"{kk} = {_toml_value(vv)}" for kk, vv in v.items()]
    for k, v in arrays.items():
        for item in v:
            lines += ["", f"[[{k}]]"] + [f"{kk} = {_toml_value(vv)}" for kk, vv in item.items()]
    return "\n".join(lines) + "\n"


def to_sweep_toml(
    design: Design,
    name: str = "suggested",
    *,
    template: dict | None = None,
    seeds: Sequence[int] | None = None,
    validate: bool = True,
) -> str:
    """The sweep spec of :func:`sweep_spec` as TOML text, validated by ``scaling.sweep`` (so that
    ``scaling sweep run`` executes it) unless ``validate=False``."""
    spec = sweep_spec(design, name, template=template, seeds=seeds)
    if not spec["runs"]:
        raise ScalingError("no run fits the allowance: nothing to write (raise --budget)")
    if validate:
        parse_spec(spec, source=f"suggested sweep {name!r}")
    what = "exponent a" if design.objective == "a" else f"log loss at {design.target:.3g} FLOPs"
    header = [
        f"suggested by `scaling suggest`: the runs that most shrink the interval of the {what}",
        f"allowance {design.allowance:.4g} FLOPs, spent {design.spent:.4g} (6ND); predicted sd of the target "
        f"{design.current['linearised_sd']:.3g} -> {design.predicted_sd:.3g} (a uniform isoFLOP grid of the "
        f"same compute: {design.grid['predicted_sd']:.3g})",
    ]
    return dumps_toml(spec, header)


__all__ = ["KIND_KEYS", "dumps_toml", "sweep_spec", "to_sweep_toml"]
