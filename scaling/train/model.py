"""A GPT-style decoder in one file: the model every sweep, growth run and mixer study trains.

Architecture (the contract :func:`scaling.flops.param_counts` counts, ``architecture="gpt"``)::

    token embedding V x d, tied with the output head (counted once)
    rotary position embeddings on q and k (no parameters)
    n_layer x block:
        x = x + mixer(LayerNorm(x))        LayerNorm weight only (no bias)
        x = x + mlp(LayerNorm(x))          Linear d -> d_ff, GELU, Linear d_ff -> d, no biases
    final LayerNorm (weight only), logits = x @ embedding^T

    attention mixer: Linear d -> 3d (q, k, v; no bias), causal scaled_dot_product_attention,
    Linear d -> d (no bias)

    non_embedding = n_layer (4 d^2 + 2 d d_ff + 2 d) + d,   total = non_embedding + V d

Places meant to be changed by later work:

- ``MIXERS``: the token mixer of a block, chosen by ``GPTConfig.mixer``. A new mixer is a module
  ``Mixer(config)`` mapping (B, T, d) -> (B, T, d) causally; register it in the dict.
- ``make_linear`` (in :mod:`scaling.train.linear`, re-exported here): every weight matrix of a block
  is built by it, so sparse (masked) linear layers replace ``nn.Linear`` in one place. The
  embedding / head is never built by it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..sparsity import resolve_sparsity
from .hyena import HyenaOperator
from .linear import make_linear
from .sparse import init_sparse_


@dataclass
class GPTConfig:
    n_layer: int = 2
    d_model: int = 64
    n_head: int = 2
    d_ff: int | None = None  # default 4 * d_model
    vocab: int = 256
    context: int = 256
    mixer: str = "attention"
    sparsity: float = 0.0  # fraction of block linear weights held at zero (issue 8)
    sparsity_mask: str = "random"  # "random" or "magnitude" (after sparsity_dense_steps dense steps)
    sparsity_dense_steps: int = 0  # magnitude masks: dense warm-up (needs sparse.attach(model, opt))
    sparsity_pattern: str | None = None  # None: unstructured; "N:M" (e.g. "2:4"): N of every M inputs kept
    rope_base: float = 10000.0
    init_std: float = 0.02
    extra: dict = field(default_factory=dict)  # mixer-specific options (e.g. Hyena's)

    def __post_init__(self):
        if self.d_ff is None:
            self.d_ff = 4 * self.d_model
        if self.d_model % self.n_head:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_head {self.n_head}")
        if (self.d_model // self.n_head) % 2:
            raise ValueError(f"rotary embeddings need an even head size; got {self.d_model // self.n_head}")
        if self.sparsity_pattern is not None:  # "2:4" alone means sparsity 0.5; a disagreeing one is an error
            self.sparsity = resolve_sparsity(self.sparsity, self.sparsity_pattern)

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head

    @classmethod
    def from_shape(cls, shape, **kwargs) -> GPTConfig:
        """From a :class:`scaling.shapes.ModelShape` or a RunConfig (anything with the shape fields)."""
        names = ("n_layer", "d_model", "n_head", "d_ff", "vocab", "context", "mixer", "sparsity")
        sparse = {}
        if getattr(shape, "sparsity", 0) and hasattr(shape, "sparsity_mask"):  # a RunConfig
            sparse["sparsity_mask"] = shape.sparsity_mask
            sparse["sparsity_pattern"] = getattr(shape, "sparsity_pattern", None)
            sparse["sparsity_dense_steps"] = shape.dense_steps
        return cls(**{n: getattr(shape, n) for n in names}, **{**sparse, **kwargs})

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------------------------------
# rotary position embedding


def rotary_tables(head_dim: int, context: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of shape (context, head_dim / 2): angle t * base^(-2i / head_dim)."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    angles = torch.outer(torch.arange(context, dtype=torch.float64), inv_freq)
    return angles.cos().float(), angles.sin().float()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x_i, x_{i + h/2}) of the last dimension by the angles of their position.

    ``x``: (B, T, ..., head_dim); ``cos``/``sin``: (T, head_dim / 2), broadcast over the middle dims.
    """
    shape = (cos.shape[0],) + (1,) * (x.dim() - 3) + (cos.shape[1],)
    cos, sin = cos.view(shape).to(x.dtype), sin.view(shape).to(x.dtype)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


# ---------------------------------------------------------------------------------------------
# blocks


class CausalSelfAttention(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.n_head, self.head_dim = config.n_head, config.head_dim
        self.qkv = make_linear(config.d_model, 3 * config.d_model, config)
        self.proj = make_linear(config.d_model, config.d_model, config)
        self.proj.residual_out = True  # scaled init (see GPT._init_weights)
        cos, sin = rotary_tables(config.head_dim, config.context, config.rope_base)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        qkv = self.qkv(x).view(B, T, 3, self.n_head, self.head_dim)
        qk = apply_rotary(qkv[:, :, :2], self.cos[:T], self.sin[:T])  # q and k in one go
        q, k = qk.unbind(2)
        v = qkv[:, :, 2]
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.fc = make_linear(config.d_model, config.d_ff, config)
        self.proj = make_linear(config.d_ff, config.d_model, config)
        self.proj.residual_out = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))


# token mixers by name (a mixer module takes make_linear from linear.py and never imports this one)
MIXERS: dict[str, type[nn.Module]] = {"attention": CausalSelfAttention, "hyena": HyenaOperator}


class Block(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        if config.mixer not in MIXERS:
            raise ValueError(f"unknown mixer {config.mixer!r} (available: {', '.join(MIXERS)})")
        self.norm1 = nn.LayerNorm(config.d_model, bias=False)
        self.mixer = MIXERS[config.mixer](config)
        self.norm2 = nn.LayerNorm(config.d_model, bias=False)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.mixer(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm = nn.LayerNorm(config.d_model, bias=False)
        self.apply(self._init_weights)
        if config.sparsity:  # masked weights to exactly 0 after the init above (scaling.train.sparse)
            init_sparse_(self)

    def _init_weights(self, module: nn.Module):
        std = self.config.init_std
        if isinstance(module, nn.Linear):
            # GPT-2: residual output projections scaled by 1/sqrt(2 n_layer) so the residual
            # stream's variance does not grow with depth
            if getattr(module, "residual_out", False):
                std = std / math.sqrt(2 * self.config.n_layer)
            nn.init.normal_(module.weight, mean=0.0, std=std)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=std)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """Logits (B, T, V) and, with ``targets``, the mean cross-entropy in nats (else None)."""
        if idx.shape[1] > self.config.context:
            raise ValueError(f"sequence of {idx.shape[1]} tokens is longer than the context {self.config.context}")
        x = self.embed(idx)
        for block in self.blocks:
            x = block(x)
        logits = F.linear(self.norm(x), self.embed.weight)  # tied head
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.reshape(-1))
        return logits, loss

    def param_counts(self) -> dict[str, int]:
        """total, non_embedding, embedding, nonzero: counted from the module's own tensors."""
        total = sum(p.numel() for p in self.parameters())
        embedding = self.embed.weight.numel()
        nonzero = sum(int(torch.count_nonzero(p)) for p in self.parameters())
        return {"total": total, "non_embedding": total - embedding, "embedding": embedding, "nonzero": nonzero}

    def decay_groups(self, weight_decay: float) -> list[dict]:
        """AdamW parameter groups: matrices (incl. the embedding) decay, norm weights do not."""
        decay = [p for p in self.parameters() if p.dim() >= 2]
        no_decay = [p for p in self.parameters() if p.dim() < 2]
        return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]

    @torch.no_grad()
    def generate(
        self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Sample ``max_new_tokens`` continuations of ``idx`` (B, T) autoregressively."""
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.config.context :])
            probs = F.softmax(logits[:, -1, :].float() / max(temperature, 1e-6), dim=-1)
            idx = torch.cat((idx, torch.multinomial(probs, 1, generator=generator)), dim=1)
        return idx


__all__ = [
    "GPTConfig",
    "GPT",
    "Block",
    "CausalSelfAttention",
    "MLP",
    "MIXERS",
    "make_linear",
    "rotary_tables",
    "apply_rotary",
]
