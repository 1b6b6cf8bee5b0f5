"""The growth methods by name: what each one is, where it comes from, and the names used before.

``ligo``
    LiGO, the learned linear growth operator (Wang et al. 2023, arXiv:2303.00980):
    :mod:`scaling.growth.ligo`. Grows depth and width.
``stack``
    G_stack as Du et al. 2024 describe it ("Stacking Your Transformers", arXiv:2405.15319): depth
    only, the small model's layer stack repeated (large layer ``l`` is small layer ``l mod L``).
    A large shape of another width is refused.
``hyperclone``
    HyperCloning as Samragh et al. 2024 describe it ("Scaling Smart: Accelerating Large Language
    Model Pre-training with Small Model Initialization", arXiv:2409.12903): function-preserving
    width expansion, the depth unchanged. A deeper large shape is refused.
``hyperclone-stack``
    A hybrid for growing width and depth together: HyperCloning's width, then G_stack's depth.
``hyperclone-identity``
    A hybrid that preserves the function in width and depth: HyperCloning's width, then new layers
    that start as identity blocks (copies with zeroed output projections; Net2Net's deeper
    network, Chen et al. 2016, arXiv:1511.05641).

Until the baselines were renamed, ``stack`` and ``hyperclone`` named the two hybrids whenever the
shapes grew in width (``stack``) or depth (``hyperclone``); results and specs written then still
use those names. :func:`canonical_method` maps such a name, read together with the two shapes, to
what the method actually was (a pure G_stack never grows width, a pure HyperCloning never grows
depth, so the shapes decide); results on disk are never rewritten.

A name may carry a schedule variant after a ``+`` (``ligo+warm0``): the same growth as its base
method (one grown initial model per seed, shared with the base), trained after growth with its
own schedule (the spec's ``[grown.methods."ligo+warm0"]``). That is how an experiment measures the
post-growth schedule: the variants are compared like methods.

This module imports nothing beyond the standard library (no torch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ScalingError

METHODS = ("ligo", "stack", "hyperclone", "hyperclone-stack", "hyperclone-identity")
BASELINES = METHODS[1:]

LABELS = {
    "ligo": "LiGO",
    "stack": "G_stack",
    "hyperclone": "HyperCloning",
    "hyperclone-stack": "HyperCloning width + G_stack depth",
    "hyperclone-identity": "HyperCloning width + identity layers",
}

# the hybrids' names before the renaming: (old name, the shape change that made it the hybrid)
LEGACY = {"hyperclone-stack": ("stack", "width"), "hyperclone-identity": ("hyperclone", "depth")}

_WIDTH = ("d_model", "n_head", "d_ff")


def _get(shape: Any, key: str):
    return shape.get(key) if isinstance(shape, Mapping) else getattr(shape, key, None)


def grows(small: Any, large: Any) -> dict[str, bool | None]:
    """``{"width": ..., "depth": ...}``: whether the large shape is wider / deeper than the small
    one (None where a shape lacks the fields). Shapes are objects or dicts with the shape fields."""
    out: dict[str, bool | None] = {}
    for what, keys in (("width", _WIDTH), ("depth", ("n_layer",))):
        pairs = [(_get(small, k), _get(large, k)) for k in keys]
        out[what] = None if any(a is None or b is None for a, b in pairs) else any(a != b for a, b in pairs)
    return out


VARIANT_SEP = "+"


def base_method(name: str) -> str:
    """The growth method of a name (``ligo`` for ``ligo+warm0``; a name without a variant is its own)."""
    return name.split(VARIANT_SEP, 1)[0]


def variant(name: str) -> str | None:
    """The schedule variant of a name (``warm0`` for ``ligo+warm0``), or None."""
    parts = name.split(VARIANT_SEP, 1)
    return parts[1] if len(parts) == 2 else None


def canonical_method(name: str, small: Any = None, large: Any = None) -> str:
    """The method a (possibly pre-renaming) name stands for, given the shapes it grew between.

    ``stack`` with a width change was HyperCloning width + G_stack depth, ``hyperclone`` with a
    depth change was HyperCloning width + identity layers; any other name is returned as it is
    (also when the shapes are unknown)."""
    if small is None or large is None:
        return name
    if variant(name) is not None:
        return canonical_method(base_method(name), small, large) + VARIANT_SEP + str(variant(name))
    g = grows(small, large)
    for new, (old, change) in LEGACY.items():
        if name == old and g[change]:
            return new
    return name


def legacy_name(method: str, small: Any, large: Any) -> str | None:
    """The name results written before the renaming use for ``method`` between these shapes
    (``stack`` for ``hyperclone-stack`` when the width grows, ...), or None if there is none."""
    if method not in LEGACY:
        return None
    old, _ = LEGACY[method]
    return old if canonical_method(old, small, large) == method else None


def check_method_shapes(method: str, small: Any, large: Any) -> None:
    """Refuse a shape change the method does not make (one line, naming what to use instead)."""
    g = grows(small, large)
    if method == "stack" and g["width"]:
        raise ScalingError(
            "G_stack (Du et al. 2024) grows depth only, and this large shape is wider than the small one: "
            "use hyperclone-stack (HyperCloning width, then G_stack depth) or ligo"
        )
    if method == "hyperclone" and g["depth"]:
        raise ScalingError(
            "HyperCloning (Samragh et al. 2024) grows width only, and this large shape is deeper than the small "
            "one: use hyperclone-identity (new layers as identity blocks) or hyperclone-stack"
        )


def label(method: str) -> str:
    """The name a reader knows the method by (``G_stack``, ``HyperCloning``, ...; a variant as
    ``LiGO [warm0]``)."""
    v = variant(method)
    if v is not None:
        return f"{label(base_method(method))} [{v}]"
    return LABELS.get(method, method)


__all__ = [
    "METHODS",
    "BASELINES",
    "LABELS",
    "LEGACY",
    "VARIANT_SEP",
    "base_method",
    "variant",
    "canonical_method",
    "legacy_name",
    "check_method_shapes",
    "grows",
    "label",
]
