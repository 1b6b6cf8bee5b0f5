"""Growth baselines: G_stack (depth), HyperCloning (width), and their width + depth hybrids.

The names are those of :mod:`scaling.growth.methods`:

``stack``  (G_stack, Du et al. 2024, arXiv:2405.15319)
    Depth only: large layer ``l`` is a copy of small layer ``l mod L_small``, the small model's
    layer stack repeated (a non-integer factor repeats a prefix). Not function-preserving.
``hyperclone``  (HyperCloning, Samragh et al. 2024, arXiv:2409.12903)
    Width only, function-preserving: every unit of the small model is duplicated and the readers
    of a duplicated unit split its weight between the copies, so the grown model computes *the
    same function*:

    - residual stream: tiled ``[x; x; ...]`` (d_large = k d_small with k an integer). Tiling
      keeps the mean and variance over the features, hence LayerNorm's output is the tiled
      LayerNorm output of the small model; weight-only LayerNorm needs no bias correction.
      Writes (embedding rows, attention / MLP output rows) are tiled, reads (q/k/v and fc
      columns) divided by k, and the final norm weight divided by k because the tied head reads
      the residual through the (tiled) embedding.
    - attention heads: the head size is fixed (rotary embeddings; see ligo.py) and new heads are
      copies of old heads (q, k and v rows together, so a copy attends exactly like its source);
      the output projection's columns of a head with m copies are divided by m. Any head count.
    - FFN hidden units: copied, and the output projection's columns divided by the multiplicity.
      Any width.

    A non-integer residual factor cannot preserve the LayerNorm statistics with any linear
    duplication (a partially duplicated stream has another mean and variance), so it is refused
    unless ``exact=False`` (then a seeded random half of the coordinates is duplicated and the
    function changes slightly).

    ``symmetry_noise`` breaks the symmetry of the copies (identical copies get identical gradients
    and would never separate) *without* changing the function: zero-sum noise across the copies'
    read weights (the copies carry identical values, so only the sum of their read weights
    matters), scaled by the standard deviation of the matrix.
``hyperclone-stack``
    HyperCloning's width, then G_stack's depth (what ``stack`` meant for a wider large shape before
    the renaming).
``hyperclone-identity``
    HyperCloning's width, then identity blocks in depth: new layers are copies of the preceding
    small layer with their attention and MLP output projections set to zero, so they add nothing
    to the residual stream at first and train from there (Net2Net's deeper network, Chen et al.
    2016, arXiv:1511.05641). Function-preserving in width and depth (what ``hyperclone`` meant for a
    deeper large shape before the renaming).

Every function takes and returns plain state dicts of :class:`scaling.train.model.GPT`.
"""

from __future__ import annotations

import math

import torch

from ..errors import ScalingError
from ..train.model import GPTConfig
from .checkpoint import as_config, check_growth, check_state
from .ligo import _duplication_rows, stacking_order
from .methods import BASELINES, check_method_shapes

METHODS = BASELINES


def _sources(n_old: int, n_new: int, *, tile: bool, gen: torch.Generator) -> torch.Tensor:
    """Source unit of each of ``n_new`` units: the old ones first, then copies (tiled in order, or
    a random choice balanced over the old units)."""
    if n_new == n_old:
        return torch.arange(n_old)
    if tile:
        return torch.arange(n_new) % n_old
    extra = _duplication_rows(n_new - n_old, n_old, gen).argmax(1)
    return torch.cat([torch.arange(n_old), extra])


def _counts(src: torch.Tensor, n_old: int) -> torch.Tensor:
    return torch.bincount(src, minlength=n_old).to(torch.float32)


def _zero_sum_noise(w: torch.Tensor, groups: torch.Tensor, scale: float, gen: torch.Generator) -> torch.Tensor:
    """Noise on the columns of ``w`` that sums to zero within each group of columns (copies)."""
    if scale <= 0:
        return w
    n_groups = int(groups.max()) + 1
    counts = torch.bincount(groups, minlength=n_groups).to(w.dtype)
    noise = torch.randn(w.shape, generator=gen, dtype=w.dtype) * scale
    sums = torch.zeros(w.shape[0], n_groups, dtype=w.dtype).index_add_(1, groups, noise)
    noise = noise - (sums / counts)[:, groups]
    noise[:, counts[groups] < 2] = 0.0  # a unit without copies keeps its weights
    return w + noise


def widen(
    small, state: dict, large, *, exact: bool = True, symmetry_noise: float = 0.0, seed: int = 0
) -> tuple[GPTConfig, dict[str, torch.Tensor]]:
    """Function-preserving width growth to ``large``'s d_model / n_head / d_ff (depth unchanged).

    Returns the widened config (small's depth, large's widths) and its state dict."""
    s, g = check_growth(small, large)
    state = check_state(s, state, "the small model's weights")
    d, D, h, H, f, Fg, hd = s.d_model, g.d_model, s.n_head, g.n_head, s.d_ff, g.d_ff, s.head_dim
    if D % d and exact:
        raise ScalingError(
            f"function-preserving width growth needs the residual width to grow by an integer factor "
            f"(LayerNorm statistics): {d} -> {D} is x{D / d:.3g}; use LiGO for this shape, or exact=False "
            "for an approximately function-preserving copy"
        )
    if not (math.isfinite(symmetry_noise) and symmetry_noise >= 0):
        raise ScalingError(f"symmetry_noise must be a non-negative number, got {symmetry_noise}")
    gen = torch.Generator().manual_seed(int(seed))
    wide = GPTConfig(
        n_layer=s.n_layer, d_model=D, n_head=H, d_ff=Fg, vocab=s.vocab, context=g.context, rope_base=s.rope_base
    )
    res = _sources(d, D, tile=D % d == 0, gen=gen)  # residual coordinate -> source
    res_m = _counts(res, d)[res]  # its multiplicity
    heads = _sources(h, H, tile=False, gen=gen)
    head_m = _counts(heads, h)[heads]
    ch = (heads[:, None] * hd + torch.arange(hd)[None, :]).reshape(-1)  # head channel -> source channel
    ch_m = head_m.repeat_interleave(hd)
    ffn = _sources(f, Fg, tile=False, gen=gen)
    ffn_m = _counts(ffn, f)[ffn]

    def noisy(w, groups):
        return _zero_sum_noise(w, groups, symmetry_noise * float(w.std()) if w.numel() > 1 else 0.0, gen)

    out = {"embed.weight": state["embed.weight"][:, res].clone(), "norm.weight": state["norm.weight"][res] / res_m}
    for i in range(s.n_layer):
        p = f"blocks.{i}."
        qkv = state[p + "mixer.qkv.weight"]
        rows = torch.cat([ch + j * d for j in range(3)])  # q, k, v rows of the copies
        out[p + "norm1.weight"] = state[p + "norm1.weight"][res].clone()
        out[p + "mixer.qkv.weight"] = noisy(qkv[rows][:, res] / res_m, res)
        out[p + "mixer.proj.weight"] = noisy(state[p + "mixer.proj.weight"][res][:, ch] / ch_m, ch)
        out[p + "norm2.weight"] = state[p + "norm2.weight"][res].clone()
        out[p + "mlp.fc.weight"] = noisy(state[p + "mlp.fc.weight"][ffn][:, res] / res_m, res)
        out[p + "mlp.proj.weight"] = noisy(state[p + "mlp.proj.weight"][res][:, ffn] / ffn_m, ffn)
    return wide, {k: v.contiguous() for k, v in out.items()}


def stack_depth(cfg, state: dict, n_layer: int) -> tuple[GPTConfig, dict[str, torch.Tensor]]:
    """G_stack: ``n_layer`` layers, layer ``l`` a copy of layer ``l mod L``."""
    c = as_config(cfg)
    state = check_state(c, state, "the model's weights")
    if n_layer < c.n_layer:
        raise ScalingError(f"stacking cannot remove layers ({c.n_layer} -> {n_layer})")
    deep = GPTConfig(**{**c.to_dict(), "n_layer": n_layer})
    out = {"embed.weight": state["embed.weight"].clone(), "norm.weight": state["norm.weight"].clone()}
    for l, j in enumerate(stacking_order(c.n_layer, n_layer)):
        for k, v in state.items():
            if k.startswith(f"blocks.{j}."):
                out[f"blocks.{l}." + k[len(f"blocks.{j}.") :]] = v.clone()
    return deep, out


def identity_layer_order(n_small: int, n_large: int) -> list[tuple[int, bool]]:
    """For each large layer: (source small layer, is it an added identity copy). New layers are
    spread evenly: large layer l comes from small layer floor(l * n_small / n_large)."""
    out, seen = [], set()
    for l in range(n_large):
        j = l * n_small // n_large
        out.append((j, j in seen))
        seen.add(j)
    return out


def deepen_identity(cfg, state: dict, n_layer: int) -> tuple[GPTConfig, dict[str, torch.Tensor]]:
    """Function-preserving depth growth: added layers are copies with zeroed output projections."""
    c = as_config(cfg)
    state = check_state(c, state, "the model's weights")
    if n_layer < c.n_layer:
        raise ScalingError(f"depth growth cannot remove layers ({c.n_layer} -> {n_layer})")
    deep = GPTConfig(**{**c.to_dict(), "n_layer": n_layer})
    out = {"embed.weight": state["embed.weight"].clone(), "norm.weight": state["norm.weight"].clone()}
    for l, (j, added) in enumerate(identity_layer_order(c.n_layer, n_layer)):
        for k, v in state.items():
            if k.startswith(f"blocks.{j}."):
                name = k[len(f"blocks.{j}.") :]
                zero = added and name in ("mixer.proj.weight", "mlp.proj.weight")
                out[f"blocks.{l}." + name] = torch.zeros_like(v) if zero else v.clone()
    return deep, out


def grow_stack(
    small, state: dict, large, *, exact: bool = True, symmetry_noise: float = 0.0, seed: int = 0
) -> dict[str, torch.Tensor]:
    """G_stack (Du et al. 2024): the small model's layers stacked to the large depth; the width
    must not change (``exact``, ``symmetry_noise`` and ``seed`` are accepted for a common signature
    and unused: stacking copies whole layers)."""
    s, g = check_growth(small, large)
    check_method_shapes("stack", s, g)
    _, st = stack_depth(s, state, g.n_layer)
    return st


def grow_hyperclone(
    small, state: dict, large, *, exact: bool = True, symmetry_noise: float = 0.0, seed: int = 0
) -> dict[str, torch.Tensor]:
    """HyperCloning (Samragh et al. 2024): function-preserving width growth; the depth must not change."""
    s, g = check_growth(small, large)
    check_method_shapes("hyperclone", s, g)
    _, st = widen(s, state, g, exact=exact, symmetry_noise=symmetry_noise, seed=seed)
    return st


def grow_hyperclone_stack(
    small, state: dict, large, *, exact: bool = True, symmetry_noise: float = 0.0, seed: int = 0
) -> dict[str, torch.Tensor]:
    """HyperCloning's width, then G_stack's depth."""
    s, g = check_growth(small, large)
    wide, st = widen(s, state, g, exact=exact, symmetry_noise=symmetry_noise, seed=seed)
    _, st = stack_depth(wide, st, g.n_layer)
    return st


def grow_hyperclone_identity(
    small, state: dict, large, *, exact: bool = True, symmetry_noise: float = 0.0, seed: int = 0
) -> dict[str, torch.Tensor]:
    """Function-preserving in width and depth: HyperCloning's width, then identity blocks."""
    s, g = check_growth(small, large)
    wide, st = widen(s, state, g, exact=exact, symmetry_noise=symmetry_noise, seed=seed)
    _, st = deepen_identity(wide, st, g.n_layer)
    return st


_GROW = {
    "stack": grow_stack,
    "hyperclone": grow_hyperclone,
    "hyperclone-stack": grow_hyperclone_stack,
    "hyperclone-identity": grow_hyperclone_identity,
}


def grow_baseline(method: str, small, state: dict, large, **kwargs) -> dict[str, torch.Tensor]:
    """``method`` in :data:`METHODS` (the names of :mod:`scaling.growth.methods`)."""
    if method not in _GROW:
        raise ScalingError(f"unknown growth baseline {method!r} (choose from {', '.join(METHODS)})")
    return _GROW[method](small, state, large, **kwargs)


__all__ = [
    "METHODS",
    "widen",
    "stack_depth",
    "deepen_identity",
    "identity_layer_order",
    "grow_stack",
    "grow_hyperclone",
    "grow_hyperclone_stack",
    "grow_hyperclone_identity",
    "grow_baseline",
]
