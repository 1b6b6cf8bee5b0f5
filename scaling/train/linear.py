"""``make_linear``: every weight matrix of a decoder block (attention, MLP, Hyena) is built here.

Sparse (masked) linear layers replace ``nn.Linear`` in this one place. It lives apart from
:mod:`scaling.train.model` so that a mixer module (:mod:`scaling.train.hyena`) can use it without
importing the model that registers the mixer (no import cycle).
"""

from __future__ import annotations

import torch.nn as nn

from .sparse import SparseLinear


def make_linear(d_in: int, d_out: int, config) -> nn.Module:
    """A block weight matrix (no bias): ``SparseLinear`` when ``config.sparsity`` (its zeros placed by
    ``config.sparsity_pattern``: unstructured, or N:M), else ``nn.Linear``."""
    if config.sparsity:
        return SparseLinear(
            d_in,
            d_out,
            config.sparsity,
            mask=config.sparsity_mask,
            dense_steps=config.sparsity_dense_steps,
            pattern=getattr(config, "sparsity_pattern", None),
        )
    return nn.Linear(d_in, d_out, bias=False)
