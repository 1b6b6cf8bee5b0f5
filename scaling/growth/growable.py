"""Which large shapes can be grown from a small one, and the grown shape nearest a target size.

Growth (:mod:`scaling.growth.ligo`, :mod:`scaling.growth.baselines`) only adds layers and width to
the dense attention decoder: the large model keeps the vocabulary and the head size (heads grow in
number, so rotary embeddings stay consistent).

This module imports numpy only (no torch).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ScalingError
from ..shapes import ModelShape, ideal_aspect


def _describe(cfg) -> str:
    return (
        f"{cfg.n_layer} x {cfg.d_model} ({cfg.n_head} heads of {cfg.d_model // cfg.n_head}, d_ff {cfg.d_ff}, "
        f"vocab {cfg.vocab})"
    )


def check_growth_shapes(small, large) -> None:
    """Raise a one-line ScalingError unless ``large`` can be grown from ``small``.

    Both must be the dense attention decoder with the same vocabulary; the large one at least as
    deep and as wide (residual and FFN) and with the same head size: heads grow in number, so
    rotary embeddings stay consistent (see :mod:`scaling.growth.ligo`). Works on anything with the
    shape fields (ModelShape, GPTConfig, RunConfig); no torch."""
    for name, cfg in (("small", small), ("large", large)):
        if getattr(cfg, "mixer", "attention") != "attention":
            raise ScalingError(f"growth supports the attention decoder only; the {name} model's mixer is {cfg.mixer!r}")
        if getattr(cfg, "sparsity", 0.0):
            raise ScalingError(f"growth supports dense models only; the {name} model has sparsity {cfg.sparsity:g}")
    s, g = small, large
    if s.vocab != g.vocab:
        raise ScalingError(f"the large model's vocabulary ({g.vocab}) differs from the small model's ({s.vocab})")
    smaller = [
        f"{k} {getattr(g, k)} < {getattr(s, k)}"
        for k in ("n_layer", "d_model", "d_ff")
        if getattr(g, k) < getattr(s, k)
    ]
    if smaller:
        raise ScalingError(
            f"the large shape {_describe(g)} is smaller than the small one {_describe(s)} "
            f"({', '.join(smaller)}): growth only adds layers and width"
        )
    hs, hg = s.d_model // s.n_head, g.d_model // g.n_head
    if hs != hg:
        raise ScalingError(
            f"incompatible head counts: the small model has heads of {hs} ({s.n_head} x {hs}), the large one "
            f"heads of {hg} ({g.n_head} x {hg}); growth keeps the head size (rotary embeddings), so the large "
            f"model needs n_head = d_model / {hs}"
            + (
                f" = {g.d_model // hs}"
                if g.d_model % hs == 0
                else f", and its width {g.d_model} is not a multiple of {hs}"
            )
        )


def grown_shape_for_params(
    target: float, small: ModelShape, *, d_ff_mult: float = 4.0, non_embedding: bool = False, max_width_factor: int = 64
) -> ModelShape:
    """A large shape near ``target`` parameters that can be grown from ``small``: at least as deep
    and wide, the same head size (heads grow in number), ``d_ff = max(d_ff_mult * d, small.d_ff)``.

    Among widths that are multiples of the head size and integer depths, the smallest
    ``|rel_error| + 0.01 |ln(aspect / ideal)|`` with the aspect ratio within 2.5x of
    :func:`scaling.shapes.ideal_aspect` (any aspect if none is within 5%)."""
    hd = small.d_head
    widths = np.arange(small.n_head, small.n_head * max_width_factor + 1) * hd
    widths = widths[widths <= 65536].astype(float)
    cands = []
    for w in widths:
        ff = max(int(round(d_ff_mult * w / 8.0) * 8), small.d_ff)
        probe = ModelShape(1, int(w), n_head=int(w) // hd, d_ff=ff, vocab=small.vocab, context=small.context)
        pc1 = probe.param_counts()
        probe2 = ModelShape(2, int(w), n_head=int(w) // hd, d_ff=ff, vocab=small.vocab, context=small.context)
        pc2 = probe2.param_counts()
        key = "non_embedding" if non_embedding else "total"
        per_layer = pc2[key] - pc1[key]
        base = pc1[key] - per_layer
        exact = (target - base) / per_layer
        for L in {max(small.n_layer, int(math.floor(exact))), max(small.n_layer, int(math.ceil(exact)))}:
            if L > 4096:
                continue
            n = base + L * per_layer
            dev = abs(math.log((w / L) / float(ideal_aspect(w))))
            cands.append((abs(n / target - 1.0), dev, L, int(w), ff))
    if not cands:
        raise ScalingError(f"no shape grown from {small.describe()} comes near {target:.3g} parameters")
    inside = [c for c in cands if c[1] <= math.log(2.5) and c[0] <= 0.05]
    pool = inside or cands
    err, dev, L, w, ff = min(pool, key=lambda c: c[0] + 0.01 * c[1])
    return ModelShape(L, w, n_head=w // hd, d_ff=ff, vocab=small.vocab, context=small.context)
