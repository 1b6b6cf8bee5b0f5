"""Model shapes: :class:`ModelShape`, the search for a realistic shape of a given size, and a
smooth shape rule for FLOP estimates as a continuous function of the parameter count.

The depth/width rule
--------------------
Published families keep the aspect ratio ``d_model / n_layer`` between about 50 and 130 and let
it grow slowly with width (Chinchilla Table A9: 10 x 640 is 64, 20 x 1024 is 51, 40 x 3584 is 90,
Chinchilla-70B 80 x 8192 is 102; GPT-2 small 12 x 768 is 64; GPT-3 96 x 12288 is 128). Kaplan et
al. 2020 (Figure 5) found the loss nearly flat for aspect ratios from about 20 to 200. This
module's ideal is::

    aspect(d) = 12 d^(1/4)          i.e.  n_layer(d) = d^(3/4) / 12

(768 -> 63, 4096 -> 96, 8192 -> 114, 12288 -> 126); tiny models get small ratios (64 -> 34),
because one layer of width 64 already holds 49K parameters.

:func:`shape_for_params` snaps a target to widths that are multiples of 64 (of 32, 16 or 8 below
512, 256 and 128) and integer depths, choosing the smallest snapping error among shapes whose
aspect ratio is within a factor 1.6 of the ideal (widening the band, to 2.5x and beyond, only when
nothing there is within 1%), with a small preference for the ideal ratio.
:func:`smooth_flops_per_token` uses the same rule without snapping, for numeric frontiers under
FLOP conventions other than 6ND.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from . import flops as _flops
from .errors import ScalingError
from .sparsity import check_sparsity

DEFAULT_VOCAB = 50257
DEFAULT_CONTEXT = 2048


def ideal_aspect(d_model):
    """The preferred aspect ratio ``d_model / n_layer`` at a width: ``12 d^(1/4)`` (vectorised)."""
    return 12.0 * np.asarray(d_model, dtype=float) ** 0.25


def default_n_head(d_model: int) -> int:
    """Heads of size 64 from width 128 up (when 64 divides d); otherwise a head size near 64
    (32..128) that divides d; below 128, heads of 32, 16 or 8 (at least two); else one head."""
    d = int(d_model)
    if d >= 128:
        if d % 64 == 0:
            return d // 64
        sizes = [h for h in range(32, 129) if d % h == 0 and d // h >= 2]
        if sizes:
            return d // min(sizes, key=lambda h: (abs(h - 64), -h))
    for h in (32, 16, 8):
        if d % h == 0 and d // h >= 2:
            return d // h
    return 1


def _as_int(value, what: str, minimum: int = 1) -> int:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ScalingError(f"{what} must be an integer: got {value!r}") from None
    if not math.isfinite(f) or f != int(f) or f < minimum:
        raise ScalingError(f"{what} must be an integer >= {minimum}: got {value!r}")
    return int(f)


@dataclass(frozen=True)
class ModelShape:
    """A concrete decoder shape (the trainer's architecture, see :mod:`scaling.flops`).

    ``n_head`` defaults to :func:`default_n_head`, ``d_ff`` to ``4 d_model``. ``sparsity`` is the
    fraction of block linear weights that are zero; ``params`` counts them anyway (dense count),
    ``nonzero_params`` does not.
    """

    n_layer: int
    d_model: int
    n_head: int | None = None
    d_ff: int | None = None
    vocab: int = DEFAULT_VOCAB
    context: int = DEFAULT_CONTEXT
    mixer: str = "attention"
    sparsity: float = 0.0

    def __post_init__(self):
        set_ = functools.partial(object.__setattr__, self)
        set_("n_layer", _as_int(self.n_layer, "n_layer"))
        set_("d_model", _as_int(self.d_model, "d_model"))
        n_head = default_n_head(self.d_model) if self.n_head is None else _as_int(self.n_head, "n_head")
        set_("n_head", n_head)
        set_("d_ff", 4 * self.d_model if self.d_ff is None else _as_int(self.d_ff, "d_ff"))
        set_("vocab", _as_int(self.vocab, "vocab"))
        set_("context", _as_int(self.context, "context"))
        if self.d_model % n_head:
            raise ScalingError(f"d_model {self.d_model} is not divisible by n_head {n_head}")
        _flops._choice(self.mixer, _flops.MIXERS, "mixer")
        try:
            s = float(self.sparsity)
        except (TypeError, ValueError):
            raise ScalingError(f"sparsity must be a number in [0, 1): got {self.sparsity!r}") from None
        if not (0.0 <= s < 1.0):
            raise ScalingError(f"sparsity must be in [0, 1): got {self.sparsity!r}")
        set_("sparsity", s)

    # --- parameters
    def param_counts(self) -> dict[str, int]:
        """total, non_embedding, embedding, nonzero (ints)."""
        pc = _flops.param_counts(
            self.n_layer, self.d_model, self.vocab, self.d_ff, self.n_head, mixer=self.mixer, sparsity=self.sparsity
        )
        return {k: int(round(float(v))) for k, v in pc.items()}

    @property
    def total(self) -> int:
        return self.param_counts()["total"]

    params = total

    @property
    def non_embedding(self) -> int:
        return self.param_counts()["non_embedding"]

    @property
    def embedding(self) -> int:
        return self.param_counts()["embedding"]

    @property
    def nonzero_params(self) -> int:
        return self.param_counts()["nonzero"]

    @property
    def d_head(self) -> int:
        return self.d_model // cast(int, self.n_head)  # an int once __post_init__ has run

    @property
    def aspect_ratio(self) -> float:
        """d_model / n_layer."""
        return self.d_model / self.n_layer

    # --- FLOPs
    def flops_per_token(self, convention: str = "6nd", **kwargs) -> float:
        """Training FLOPs per token under ``convention`` (see :func:`scaling.flops.flops_per_token`)."""
        return float(_flops.shape_flops_per_token(self, convention, **kwargs))

    def training_flops(self, tokens, convention: str = "6nd", **kwargs):
        """Training FLOPs for ``tokens`` tokens (vectorised over tokens)."""
        return _flops.shape_flops_per_token(self, convention, **kwargs) * _flops._positive(tokens, "tokens")

    # --- I/O
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelShape:
        """Build from a dict; keys that are not fields (e.g. derived counts) are ignored, missing
        ones take their defaults; ``n_layer`` and ``d_model`` are required."""
        names = {f.name for f in dataclasses.fields(cls)}
        missing = {"n_layer", "d_model"} - set(data)
        if missing:
            raise ScalingError(f"a model shape needs {' and '.join(sorted(missing))}")
        return cls(**{k: v for k, v in data.items() if k in names})

    def describe(self) -> str:
        extra = "" if self.mixer == "attention" else f", {self.mixer}"
        if self.sparsity:
            extra += f", {100 * self.sparsity:g}% sparse"
        return (
            f"{self.n_layer} x {self.d_model} ({self.n_head} heads of {self.d_head}, d_ff {self.d_ff}"
            f"{extra}), vocab {self.vocab}, context {self.context}"
        )

    def __str__(self) -> str:
        return self.describe()


# ---------------------------------------------------------------------------------------------
# shape search


@dataclass(frozen=True)
class ShapeSearchResult:
    """The snapped shape, the target and what it achieves; ``rel_error = achieved / target - 1``."""

    shape: ModelShape
    target: float
    achieved: float
    rel_error: float
    non_embedding: bool = False
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {
            "shape": self.shape.to_dict(),
            "target": self.target,
            "achieved": self.achieved,
            "rel_error": self.rel_error,
            "non_embedding": self.non_embedding,
        }
        if self.note:
            d["note"] = self.note
        return d


@functools.lru_cache(maxsize=1)
def candidate_widths() -> np.ndarray:
    """Widths searched: multiples of 8 below 128, of 16 below 256 and of 32 below 512 (small
    models, where a step of 64 would make sizes too coarse), then multiples of 64 up to 65,536
    (a 1e12-parameter model at the ideal aspect ratio is about 23K wide)."""
    return np.concatenate(
        [np.arange(8, 128, 8), np.arange(128, 256, 16), np.arange(256, 512, 32), np.arange(512, 65536 + 1, 64)]
    ).astype(float)


# how far beyond the largest shape of a search a target may be before it is an error rather than a
# snap: the snapping error accepted in the last tier below
SNAP_RANGE_TOLERANCE = 0.10


def check_snap_range(target: float, largest, largest_name: str) -> None:
    """Raise ScalingError when ``target`` is more than SNAP_RANGE_TOLERANCE above the largest count a
    shape search can build (``largest``: the candidates' counts, an array or a number). Targets below
    the smallest shape still snap up to it (tiny sweeps rely on that; the shape is printed)."""
    hi = float(np.max(largest))
    if target > hi * (1 + SNAP_RANGE_TOLERANCE):
        raise ScalingError(
            f"{target:.4g} parameters is beyond the shape search range: the largest shape searched "
            f"({largest_name}) has {hi:.4g}; snapping would silently build a smaller model"
        )


# (band on |ln(aspect / ideal)|, largest snap error accepted in that band); last tier: anything
_TIERS = ((math.log(1.6), 0.01), (math.log(2.5), 0.02), (math.log(4.0), 0.05), (math.log(6.0), 0.10))
_ASPECT_WEIGHT = 0.01  # relative error traded for one e-fold of aspect-ratio deviation


def shape_for_params(
    target,
    *,
    vocab: int = DEFAULT_VOCAB,
    context: int = DEFAULT_CONTEXT,
    non_embedding: bool = False,
    mixer: str = "attention",
    d_ff_mult: float = 4.0,
    max_layers: int = 1024,
) -> ShapeSearchResult:
    """A realistic shape whose parameter count is closest to ``target``.

    ``target`` counts all parameters (embedding included) unless ``non_embedding=True``. Every
    candidate width (:func:`candidate_widths`) gets the two integer depths around the exact one;
    among the candidates whose aspect ratio is within 1.6x of :func:`ideal_aspect`, the one
    minimising ``|rel_error| + 0.01 |ln(aspect / ideal)|`` wins, provided one of them is within 1%;
    otherwise the band widens to 2.5x (accepting 2%), 4x (5%), 6x (10%), then to everything
    (weight 0.05, with a note).
    Heads: :func:`default_n_head`; ``d_ff = d_ff_mult * d_model`` (rounded to a multiple of 8).

    Achieved snapping error (the worst on a grid of 1201 log-spaced targets, tests/test_shapes.py):
    non-embedding targets, under 0.3% from 1e10, 1% from 1e9, 2% from 1e8, 3.5% from 1e6, 6.5%
    from 1e5 and 17% from 1e4 (widths are few there); total targets (vocab 50257), under 0.3% from
    1e10, 1% from 1e9, 2.2% from 1e7 and 3.5% from 3e6.

    Raises ScalingError when a total target is smaller than the embedding of the narrowest width
    (``vocab * 8``): target non-embedding parameters instead, or use a smaller vocabulary; and when
    the target is beyond the search range (more than :data:`SNAP_RANGE_TOLERANCE` above the largest
    shape, ``max_layers`` x 65,536): a silent cap would build another model.
    """
    T = float(_flops._positive(target, "target parameters"))
    V = float(_as_int(vocab, "vocab"))
    ctx = _as_int(context, "context")
    _flops._choice(mixer, _flops.MIXERS, "mixer")
    w = candidate_widths()
    f = np.round(d_ff_mult * w / 8.0) * 8.0
    per_layer, _, const, emb = _flops._param_terms(w, V, f, mixer=mixer)
    base = const + (0.0 if non_embedding else emb)
    if not non_embedding and T < base[0] + per_layer[0]:
        raise ScalingError(
            f"a total of {T:.4g} parameters is smaller than the smallest model with a {int(V)}-token "
            f"embedding ({int(V)} x {int(w[0])} = {emb[0]:.4g} embedding parameters plus one layer): "
            "target non-embedding parameters (non_embedding=True, --non-embedding) or a smaller vocabulary"
        )
    check_snap_range(T, max_layers * per_layer + base, f"{max_layers} layers x width {int(w[-1])}")
    exact = (T - base) / per_layer
    lo = np.clip(np.floor(exact), 1, max_layers)
    hi = np.clip(lo + 1, 1, max_layers)
    layers = np.concatenate([lo, hi])
    widths = np.concatenate([w, w])
    achieved = layers * np.concatenate([per_layer, per_layer]) + np.concatenate([base, base])
    err = np.abs(achieved / T - 1.0)
    dev = np.abs(np.log((widths / layers) / ideal_aspect(widths)))
    note = None
    pick = -1
    for band, max_err in _TIERS:
        inside = dev <= band
        if np.any(inside & (err <= max_err)):
            score = np.where(inside, err + _ASPECT_WEIGHT * dev, np.inf)
            pick = int(np.argmin(score))
            break
    if pick < 0:
        pick = int(np.argmin(err + 0.05 * dev))
        note = "no shape with a sensible depth/width ratio comes close to this size"
    d = int(widths[pick])
    shape = ModelShape(
        n_layer=int(layers[pick]),
        d_model=d,
        n_head=default_n_head(d),
        d_ff=int(f[pick % len(w)]),
        vocab=int(V),
        context=ctx,
        mixer=mixer,
    )
    pc = shape.param_counts()
    got = float(pc["non_embedding"] if non_embedding else pc["total"])
    if not non_embedding and pc["embedding"] > 0.5 * pc["total"] and note is None:
        note = (
            f"the embedding is {100 * pc['embedding'] / pc['total']:.0f}% of the parameters; "
            "targeting non-embedding parameters usually gives a more useful shape"
        )
    return ShapeSearchResult(
        shape=shape, target=T, achieved=got, rel_error=got / T - 1.0, non_embedding=bool(non_embedding), note=note
    )


# ---------------------------------------------------------------------------------------------
# the smooth shape rule


def _smooth_counts(x, V, mixer, S, non_embedding, hyena):
    """Parameter count (non-zero, total or non-embedding) of the continuous shape of width e^x."""
    d = np.exp(x)
    L = d**0.75 / 12.0
    per_layer, linear, const, emb = _flops._param_terms(d, V, 4.0 * d, mixer=mixer, hyena=hyena)
    n = L * (per_layer - S * linear) + const
    return n if non_embedding else n + emb


def smooth_shape(
    params,
    *,
    vocab: int = DEFAULT_VOCAB,
    non_embedding: bool = False,
    mixer: str = "attention",
    sparsity=0.0,
    hyena: dict | None = None,
):
    """Continuous ``(n_layer, d_model)`` whose parameter count equals ``params`` (vectorised).

    The rule: ``n_layer = d^(3/4) / 12`` (aspect ratio :func:`ideal_aspect`), ``d_ff = 4 d``;
    ``params`` is matched exactly (non-zero parameters when ``sparsity > 0``; non-embedding ones when
    ``non_embedding``) by Newton's method on ``log N(log d)``, which is convex and increasing (a
    sum of exponentials with positive weights), so the iteration converges from any start.
    """
    N = _flops._positive(params, "params")
    V = float(_flops._positive(vocab, "vocab"))
    _flops._choice(mixer, _flops.MIXERS, "mixer")
    S = check_sparsity(sparsity)
    logN = np.log(N)
    # start: the width whose dense layer stack alone (~d^2.75) or embedding alone holds N
    x = np.minimum(logN / 2.75, logN - math.log(V) if not non_embedding else np.inf) + 0.0 * S
    h = 1e-6
    for _ in range(100):
        g = np.log(_smooth_counts(x, V, mixer, S, non_embedding, hyena)) - logN
        if np.all(np.abs(g) < 1e-13):
            break
        gp = (
            np.log(_smooth_counts(x + h, V, mixer, S, non_embedding, hyena))
            - np.log(_smooth_counts(x - h, V, mixer, S, non_embedding, hyena))
        ) / (2 * h)
        x = x - g / gp
    d = np.exp(x)
    return d**0.75 / 12.0, d


def smooth_flops_per_token(
    params,
    *,
    vocab: int = DEFAULT_VOCAB,
    context: int = DEFAULT_CONTEXT,
    convention: str = "6nd",
    mixer: str = "attention",
    sparsity=0.0,
    non_embedding: bool = False,
    **kwargs,
):
    """Training FLOPs per token as a smooth, increasing function of the parameter count.

    For ``6nd`` exactly ``6 * params``. Otherwise the continuous shape of :func:`smooth_shape`
    (``params`` = total parameters, or non-embedding ones with ``non_embedding=True``; non-zero ones
    under sparsity) is counted with :func:`scaling.flops.flops_per_token` under ``convention``,
    with heads of 64 and ``d_ff = 4 d``. Extra keywords (``causal``, ``include_embeddings``,
    ``hyena``) pass through. Vectorised; no snapping, so planners can differentiate or bisect it.
    """
    _flops._choice(convention, _flops.CONVENTIONS, "FLOP convention")
    if convention == "6nd":
        return 6.0 * _flops._positive(params, "params")
    hyena = kwargs.get("hyena")
    L, d = smooth_shape(params, vocab=vocab, non_embedding=non_embedding, mixer=mixer, sparsity=sparsity, hyena=hyena)
    return _flops.flops_per_token(
        L,
        d,
        context,
        vocab,
        d_ff=4.0 * d,
        n_head=d / 64.0,
        convention=convention,
        mixer=mixer,
        sparsity=sparsity,
        **kwargs,
    )


def smooth_block_linear_share(
    params,
    *,
    vocab: int = DEFAULT_VOCAB,
    context: int = DEFAULT_CONTEXT,
    convention: str = "6nd",
    mixer: str = "attention",
    sparsity=0.0,
    non_embedding: bool = False,
    **kwargs,
):
    """The share of a model's training FLOPs (counted under ``convention``) spent in its block linear
    matmuls, at the continuous shape of :func:`smooth_shape` (vectorised; in [0, 1]).

    ``scaling.flops.block_linear_flops_per_token / smooth_flops_per_token``: the part of a sparse run a
    sparse kernel can speed up (the embedding, the logits, attention's context work and Hyena's FFTs
    stay dense). Under ``6nd`` the denominator is ``6 params`` (non-embedding ones when
    ``non_embedding``), so the share is that of the non-zero block weights in ``params``.
    """
    hyena = kwargs.get("hyena")
    L, d = smooth_shape(params, vocab=vocab, non_embedding=non_embedding, mixer=mixer, sparsity=sparsity, hyena=hyena)
    block = _flops.block_linear_flops_per_token(L, d, 4.0 * d, mixer=mixer, sparsity=sparsity, hyena=hyena)
    total = smooth_flops_per_token(
        params,
        vocab=vocab,
        context=context,
        convention=convention,
        mixer=mixer,
        sparsity=sparsity,
        non_embedding=non_embedding,
        **kwargs,
    )
    return np.clip(block / total, 0.0, 1.0)


__all__ = [
    "smooth_block_linear_share",
    "ModelShape",
    "ShapeSearchResult",
    "shape_for_params",
    "check_snap_range",
    "SNAP_RANGE_TOLERANCE",
    "smooth_shape",
    "smooth_flops_per_token",
    "ideal_aspect",
    "default_n_head",
    "candidate_widths",
]
