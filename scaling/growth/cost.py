"""What the LiGO operator costs in FLOPs: building the large weights from the small ones, and
training the operator (Wang et al. 2023, "Learning to Grow Pretrained Models for Efficient
Transformer Training", arXiv:2303.00980; the operator itself is :mod:`scaling.growth.ligo`).

Each operator step is a forward and backward pass of the grown model on a batch plus a forward and
backward pass of the weight construction, counted here without torch.

This module imports nothing beyond :mod:`scaling.shapes` (numpy).
"""

from __future__ import annotations

from ..shapes import ModelShape

DEFAULT_OPERATOR_STEPS = 100
DEFAULT_BATCH_TOKENS = 2**19


def materialize_flops(small: ModelShape, large: ModelShape) -> float:
    """Forward FLOPs of building the large weights once from the small ones (ligo.py's forward):
    depth mixing, then the width expansions and the left inverses of the expansion matrices."""
    L, Lg = small.n_layer, large.n_layer
    d, D, f, Fg, h, H = small.d_model, large.d_model, small.d_ff, large.d_ff, small.n_head, large.n_head
    V = small.vocab
    per_layer_small = 4 * d * d + 2 * d * f + 2 * d
    fl = 2.0 * Lg * L * per_layer_small  # depth mixing of every module type
    fl += 2.0 * V * d * D + 2.0 * D * d  # embedding, final norm
    fl += 2.0 * D * d * d + d**3 + 2.0 * d * d * D  # left inverse of B
    fl += Lg * (
        2 * 2.0 * D * d  # block norms
        + 3 * (2.0 * D * d * h + 2.0 * D * d * D)  # q, k, v: heads, then residual reads
        + 2.0 * h * h * H
        + h**3
        + 2.0 * h * h * H  # left inverse of H_v
        + 2.0 * d * D * h
        + 2.0 * D * d * D  # attention output
        + 2.0 * Fg * f * d
        + 2.0 * Fg * d * D  # fc
        + 2.0 * Fg * f * f
        + f**3
        + 2.0 * f * f * Fg  # left inverse of F
        + 2.0 * D * d * f
        + 2.0 * D * f * Fg
    )  # MLP output
    return float(fl)


def operator_flops(
    small: ModelShape,
    large: ModelShape,
    *,
    steps: int = DEFAULT_OPERATOR_STEPS,
    tokens_per_step: int = DEFAULT_BATCH_TOKENS,
    convention: str = "6nd",
) -> float:
    """Training FLOPs of the LiGO operator: ``steps x (flops_per_token(large) x tokens_per_step
    + 3 x materialize_flops)`` (a forward and backward pass of the grown model and of the
    weight construction per step)."""
    per_step = large.flops_per_token(convention) * tokens_per_step + 3.0 * materialize_flops(small, large)
    return float(steps) * per_step
