"""Linear layers with a fixed sparsity mask, unstructured or N:M (sparse training, issue 8).

``SparseLinear`` is an ``nn.Linear`` (no bias) with a persistent buffer ``mask`` of zeros and ones.
Exactly ``round(sparsity * d_in * d_out)`` weights of each layer are masked. Where the zeros sit
(``pattern``):

unstructured (``pattern=None``)
    anywhere in the layer.
``"N:M"`` (semi-structured)
    in every group of M consecutive weights along the input dimension (a row of the ``(d_out, d_in)``
    weight, split into ``d_in / M`` groups), exactly N are kept and M - N are zero, so the sparsity is
    ``1 - N/M``. ``"2:4"`` (2 non-zeros in every 4) is the pattern the sparse tensor cores of NVIDIA
    GPUs from Ampere on multiply at up to twice the dense rate (Mishra et al. 2021, "Accelerating
    Sparse Deep Neural Networks", arXiv:2104.08378); training N:M-sparse networks from scratch
    follows Zhou et al. 2021 ("Learning N:M Fine-grained Structured Sparse Neural Networks From
    Scratch", arXiv:2102.04010). ``d_in`` must be a multiple of M.

Which weights are kept (``mask``), in either pattern:

``random``
    drawn uniformly at construction (from torch's RNG, so a run's seed fixes it): any
    ``n_zero`` weights of the layer, or N random weights of every group of M; the weights are
    sparse from the first step.
``magnitude``
    the layer trains dense for ``dense_steps`` optimizer steps, then keeps its largest-magnitude
    weights (per layer; per group of M for N:M) and masks the rest, once; the mask is fixed from then
    on (a "short dense warm-up" followed by one-shot magnitude pruning).

Why the zeros stay exactly zero under AdamW with weight decay
-----------------------------------------------------------
1. The forward pass uses ``weight * mask``, so the gradient of every masked weight is exactly 0
   (the chain rule multiplies it by the mask), in fp32 and under bf16 autocast alike; gradient
   clipping rescales zeros to zeros.
2. The masked weights are exactly 0 when the mask is set (at initialisation for ``random``,
   by :meth:`SparseLinear.prune_` for ``magnitude``), and AdamW's moments for them are 0 then
   (fresh optimizer, or zeroed by :func:`attach`'s pruning step).
3. AdamW then updates a masked weight by ``m / (sqrt(v) + eps) = 0 / eps = 0`` (both moments stay 0
   because every gradient is 0), and decoupled weight decay multiplies it by ``1 - lr * wd``: 0 stays 0.

So the trainer needs no extra step for random masks. For magnitude masks it must call
:func:`attach` once after building its optimizer: that registers an optimizer step hook that
counts steps, prunes when the dense warm-up ends (zeroing the weights AND their optimizer state),
and re-applies every mask after every step (a guard that also covers optimizers other than AdamW).

Counting: ``dense_params`` = all weights of the layer, ``nonzero_params`` = the ones the mask keeps
(what :data:`scaling.flops.SPARSITY_CONVENTION` counts: FLOPs of these matmuls at the non-zero
share). On CPU and GPU the matmul itself still runs dense: the saving is in the accounting, as on
hardware without unstructured-sparsity kernels (an N:M mask makes the layer runnable by sparse
tensor cores; this trainer does not call them, and :mod:`scaling.hardware` prices that separately).

Initialisation: :func:`init_sparse_` (called by the decoder after its GPT-style init) zeroes the
masked weights of random masks and, by default, rescales the kept ones by ``1 / sqrt(1 - S)`` so
that each output keeps the variance of the dense layer (each output sums ``(1 - S) d_in`` terms).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..sparsity import format_pattern, parse_pattern, resolve_sparsity

MASK_KINDS = ("random", "magnitude")


def _check_sparsity(sparsity: float) -> float:
    s = float(sparsity)
    if not (math.isfinite(s) and 0.0 <= s < 1.0):
        raise ValueError(f"sparsity must be in [0, 1): got {sparsity!r}")
    return s


def random_mask(shape, n_zero: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A float mask of ``shape`` with exactly ``n_zero`` zeros at uniformly random places."""
    numel = math.prod(shape)
    mask = torch.ones(numel)
    if n_zero:
        mask[torch.randperm(numel, generator=generator)[:n_zero]] = 0.0
    return mask.view(*shape)


def magnitude_mask(weight: torch.Tensor, n_zero: int) -> torch.Tensor:
    """A float mask keeping the ``numel - n_zero`` largest |weight| (exact count, ties by index)."""
    keep = weight.numel() - n_zero
    mask = torch.zeros(weight.numel(), device=weight.device)
    if keep:
        mask[torch.topk(weight.detach().abs().flatten().float(), keep, sorted=False).indices] = 1.0
    return mask.view_as(weight)


def nm_mask(scores: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """A float mask of ``scores``' shape ``(d_out, d_in)`` keeping, in every group of ``m``
    consecutive entries of a row, the ``n`` with the largest score (exactly n; ties by position)."""
    d_out, d_in = scores.shape
    if d_in % m:
        raise ValueError(f"an {n}:{m} mask needs the input dimension to be a multiple of {m}: got {d_in}")
    groups = scores.detach().float().reshape(d_out, d_in // m, m)
    keep = torch.topk(groups, n, dim=-1, sorted=False).indices
    return torch.zeros_like(groups).scatter_(-1, keep, 1.0).reshape(d_out, d_in)


def random_nm_mask(shape, n: int, m: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """N random weights kept in every group of M along the input dimension (uniform within a group)."""
    return nm_mask(torch.rand(*shape, generator=generator), n, m)


class SparseLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a fixed 0/1 ``mask`` buffer (see the module doc).

    Buffers (saved with the model and in checkpoints): ``mask`` (the weight's shape), ``pruned``
    (whether the mask is in force: always for random masks, after the warm-up for magnitude ones)
    and ``steps_seen`` (optimizer steps counted by :func:`attach`'s hook).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        sparsity: float,
        *,
        mask: str = "random",
        dense_steps: int = 0,
        bias: bool = False,
        generator: torch.Generator | None = None,
        pattern: str | None = None,
    ):
        super().__init__(in_features, out_features, bias=bias)
        self.nm = parse_pattern(pattern)
        if self.nm is not None:
            sparsity = resolve_sparsity(sparsity, pattern)
            if in_features % self.nm[1]:
                raise ValueError(
                    f"an {format_pattern(pattern)} mask needs in_features to be a multiple of {self.nm[1]}: "
                    f"got {in_features}"
                )
        self.pattern = None if self.nm is None else format_pattern(pattern)
        self.sparsity = _check_sparsity(sparsity)
        if mask not in MASK_KINDS:
            raise ValueError(f"unknown sparsity mask {mask!r} (choose from {', '.join(MASK_KINDS)})")
        if int(dense_steps) != dense_steps or dense_steps < 0:
            raise ValueError(f"dense_steps must be a whole number >= 0: got {dense_steps!r}")
        self.mask_kind, self.dense_steps = mask, int(dense_steps)
        if self.nm is not None:
            n, m = self.nm
            self.n_zero = self.weight.numel() // m * (m - n)
        else:
            self.n_zero = round(self.sparsity * self.weight.numel())
        if mask == "random" and self.nm is not None:
            m_, pruned = random_nm_mask(self.weight.shape, *self.nm, generator=generator), True
        elif mask == "random":
            m_, pruned = random_mask(self.weight.shape, self.n_zero, generator), True
        else:
            m_, pruned = torch.ones_like(self.weight), False
        self.register_buffer("mask", m_.to(self.weight.dtype))
        self.register_buffer("pruned", torch.tensor(pruned))
        self.register_buffer("steps_seen", torch.tensor(0, dtype=torch.long))
        self._attached = False  # set by attach()
        with torch.no_grad():
            self.weight.mul_(self.mask)

    # --- counts
    @property
    def dense_params(self) -> int:
        return self.weight.numel() + (self.bias.numel() if self.bias is not None else 0)

    @property
    def nonzero_params(self) -> int:
        """Weights the mask keeps (the target count, also before a magnitude mask is in force)."""
        return self.dense_params - self.n_zero

    # --- the mask
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            self.mask_kind == "magnitude"
            and not self._attached
            and self.training
            and torch.is_grad_enabled()
            and not bool(self.pruned)
        ):
            # a magnitude mask is set by attach()'s optimizer hook: without it the layer would
            # silently train dense for the whole run
            raise RuntimeError(
                "a magnitude-mask SparseLinear trains only with its optimizer hook: call "
                "scaling.train.sparse.attach(model, optimizer) after building the optimizer"
            )
        return F.linear(x, self.weight * self.mask, self.bias)

    @torch.no_grad()
    def apply_mask_(self) -> None:
        """Zero the masked weights in place."""
        self.weight.mul_(self.mask)

    @torch.no_grad()
    def prune_(self) -> None:
        """Set a magnitude mask from the current weights (once) and zero the masked weights."""
        if self.mask_kind == "magnitude" and not bool(self.pruned):
            if self.nm is not None:
                self.mask.copy_(nm_mask(self.weight.abs(), *self.nm))
            else:
                self.mask.copy_(magnitude_mask(self.weight, self.n_zero))
            self.pruned.fill_(True)
        self.apply_mask_()

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, sparsity={self.sparsity:g}, mask={self.mask_kind}"
            + (f", pattern={self.pattern}" if self.pattern else "")
            + (f", dense_steps={self.dense_steps}" if self.mask_kind == "magnitude" else "")
        )


def sparse_layers(model: nn.Module) -> list[SparseLinear]:
    return [m for m in model.modules() if isinstance(m, SparseLinear)]


@torch.no_grad()
def init_sparse_(model: nn.Module, *, rescale: bool = True) -> None:
    """After the model's own weight init: zero the masked weights of every random-mask layer
    (rescaling the kept ones by 1/sqrt(1 - S) when ``rescale``), and prune magnitude layers whose
    dense warm-up is 0 steps (magnitude of the init)."""
    for layer in sparse_layers(model):
        if layer.mask_kind == "magnitude":
            if layer.dense_steps == 0:
                layer.prune_()
            continue
        keep = 1.0 - layer.n_zero / layer.weight.numel()
        if rescale and 0 < keep < 1:
            layer.weight.mul_(1.0 / math.sqrt(keep))
        layer.apply_mask_()


@torch.no_grad()
def _zero_state(optimizer: torch.optim.Optimizer, layer: SparseLinear) -> None:
    state = optimizer.state.get(layer.weight, {})
    for value in state.values():
        if torch.is_tensor(value) and value.shape == layer.weight.shape:
            value.mul_(layer.mask.to(value.dtype))


def attach(model: nn.Module, optimizer: torch.optim.Optimizer):
    """Register the optimizer step hook that runs the sparse layers' schedule (see the module doc).

    After every ``optimizer.step()``: count the step; prune each magnitude layer whose dense warm-up
    is over (weights and optimizer state at the masked places set to 0); re-apply every mask in
    force. Returns the hook handle (``handle.remove()``), or None when the model has no sparse layers.
    Safe to call on a resumed model: the step count and the mask travel in the state dict.
    """
    layers = sparse_layers(model)
    if not layers:
        return None
    for layer in layers:
        layer._attached = True

    @torch.no_grad()
    def hook(opt, args, kwargs):
        for layer in layers:
            layer.steps_seen += 1
            if not bool(layer.pruned) and int(layer.steps_seen) >= layer.dense_steps:
                layer.prune_()
                _zero_state(opt, layer)
            if bool(layer.pruned):
                layer.apply_mask_()

    return optimizer.register_step_post_hook(hook)


def param_counts(model: nn.Module) -> dict[str, int]:
    """``dense`` and ``nonzero`` parameters of the whole model by the masks' target counts (correct
    also during a magnitude warm-up), plus ``sparse_layers`` and ``masked`` (weights masked)."""
    total = sum(p.numel() for p in model.parameters())
    masked = sum(layer.n_zero for layer in sparse_layers(model))
    return {"dense": total, "nonzero": total - masked, "masked": masked, "sparse_layers": len(sparse_layers(model))}


def check_nm(mask: torch.Tensor, n: int, m: int) -> bool:
    """Whether a ``(d_out, d_in)`` 0/1 mask has exactly ``n`` ones in every group of ``m`` consecutive
    entries of each row."""
    d_out, d_in = mask.shape
    if d_in % m:
        return False
    kept = mask.reshape(d_out, d_in // m, m).sum(-1)
    return bool(torch.all(kept == n)) and bool(torch.all((mask == 0) | (mask == 1)))


def count_zeros(model: nn.Module) -> int:
    """Weights of the sparse layers that are exactly 0 right now."""
    return sum(int((layer.weight == 0).sum()) for layer in sparse_layers(model))


__all__ = [
    "SparseLinear",
    "MASK_KINDS",
    "random_mask",
    "magnitude_mask",
    "nm_mask",
    "random_nm_mask",
    "check_nm",
    "sparse_layers",
    "init_sparse_",
    "attach",
    "param_counts",
    "count_zeros",
]
