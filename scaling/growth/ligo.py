"""LiGO: a learned linear growth operator from a trained small decoder to a larger one.

Wang et al., ICLR 2023, "Learning to Grow Pretrained Models for Efficient Transformer Training"
(arXiv:2303.00980), written for this project's decoder (:mod:`scaling.train.model`:
rotary attention, weight-only LayerNorm, tied embedding, no biases).

A large layer's weight is ``B_out (sum_j w[l, j] W_j) B_in^T``:

Depth
    For every module type (norm1, q, k, v, attention out, norm2, fc, mlp out) a matrix
    ``w`` of shape (L_large, L_small); large layer ``l`` is ``sum_j w[l, j] * (small layer j)``.
    Initialised from stacking (``w[l, l mod L_small] = 1``, G_stack's layer order) plus
    ``noise`` x N(0, 1).
Width
    Every expansion is ``[I; M]``: identity on the old coordinates, a learned block ``M`` for the
    new ones.

    - the residual stream: one ``B`` (d_large x d_small), shared by the embedding, every block's
      reads and writes, and the norms;
    - attention heads, per large layer and separately for q, k and v: ``H`` (h_large x h_small)
      mixes whole heads. **Rotary design choice**: the head size is kept fixed and the number of
      heads grows, so a new head is a combination of old heads *channel by channel*; rotary
      embeddings rotate channel pairs (i, i + head_dim/2) of every head by the same angles, so the
      rotation commutes with the mixing and every grown head is rotary-consistent. (Growing the
      head size would change the rotary frequencies and the softmax scale.) A large shape whose
      head size differs from the small one's is refused.
    - the FFN hidden width, per large layer: ``F`` (d_ff_large x d_ff_small).

    Writes (rows of a matrix that produces the residual stream, the heads' q/k/v, or the FFN
    hidden units) are expanded by the matrix itself; reads (columns) by its left inverse
    ``(M^T M)^-1 M^T``, i.e. ``W' = M_out W M_in^+``. Block norm weights are ``B g``; the final
    norm weight is ``(B^+)^T g`` because the tied head reads the residual through the embedding.
    With ``M`` a duplication (each new row copies one old coordinate), this *is* Net2Net /
    HyperCloning width growth: duplicated units write the same value and their readers split the
    weight between the copies. That is how the new rows are initialised (a seeded random choice of
    source coordinates, plus ``noise``), so with ``noise=0`` the LiGO operator starts exactly at
    "function-preserving width growth + stacking in depth" (exactly function-preserving in width
    when the residual width grows by an integer factor; for non-integer factors the LayerNorm
    statistics of the partially duplicated stream shift a little). Training then moves it.

Training the operator: the small weights are frozen buffers; ``torch.func.functional_call`` runs
the large decoder with the operator's weights, so the language-model loss of the grown model
back-propagates into ``w``, ``B``, ``H`` and ``F`` only (default 100 steps of Adam). Then
:meth:`LiGO.materialize` returns an ordinary state dict of the large :class:`GPT` (the operator is
not needed afterwards) to be trained with the from-scratch recipe.

Cost accounting (:func:`scaling.growth.cost.operator_flops`): each operator step is one forward
and backward pass of the large model on a batch plus the construction of the weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from ..errors import ScalingError
from ..shapes import ModelShape
from ..train import data as _data
from ..train.devices import autocast
from ..train.loop import evaluate
from ..train.model import GPT, GPTConfig
from .checkpoint import check_growth, check_state
from .cost import operator_flops

# module types of a block that the depth operator mixes separately
LAYER_TYPES = ("norm1", "q", "k", "v", "attn_out", "norm2", "fc", "mlp_out")


# ---------------------------------------------------------------------------------------------
# the operator's building blocks (shared with baselines.py)


def _stack(cfg: GPTConfig, state: dict) -> dict[str, torch.Tensor]:
    """The small weights per module type, stacked over layers: (L, ...) tensors."""
    d, L = cfg.d_model, cfg.n_layer

    def get(i, name):
        return state[f"blocks.{i}.{name}"].float()

    qkv = torch.stack([get(i, "mixer.qkv.weight") for i in range(L)])  # (L, 3d, d)
    return {
        "norm1": torch.stack([get(i, "norm1.weight") for i in range(L)]),
        "q": qkv[:, :d],
        "k": qkv[:, d : 2 * d],
        "v": qkv[:, 2 * d :],
        "attn_out": torch.stack([get(i, "mixer.proj.weight") for i in range(L)]),
        "norm2": torch.stack([get(i, "norm2.weight") for i in range(L)]),
        "fc": torch.stack([get(i, "mlp.fc.weight") for i in range(L)]),
        "mlp_out": torch.stack([get(i, "mlp.proj.weight") for i in range(L)]),
    }


def stacking_order(n_small: int, n_large: int) -> list[int]:
    """Small layer copied into each large layer by stacking (G_stack): ``l mod n_small``."""
    return [l % n_small for l in range(n_large)]


def left_inverse(m: torch.Tensor) -> torch.Tensor:
    """``(M^T M)^-1 M^T`` of a tall matrix (or a batch of them) with full column rank, in fp32 (or
    fp64 for an fp64 ``M``).

    Solved through the Cholesky factor of the normal equations, ``M^T M = R^T R``. Every expansion
    here is ``M = [I; N]``, so ``M^T M = I + N^T N`` is symmetric positive definite with all its
    eigenvalues >= 1: Cholesky needs no pivoting, is backward stable, and its error is bounded by
    the condition number ``1 + ||N||^2`` (modest for near-duplication rows). Not a batched LU
    solve (``torch.linalg.solve``): on this project's CPU torch build (2.13, MKL) the batched LU
    factorisation returns invalid pivots when torch runs more than one thread and the matrices are
    large enough (the FFN expansions of sweeps/growth-cpu.toml, 5 x 256 x 256, with 2 threads):
    the solve either raises "Pivots given to lu_solve must all be greater or equal to 1" or,
    at other sizes, returns a wrong inverse without a word. Autocast is off inside: normal
    equations in bf16 would lose the inverse."""
    with torch.autocast(device_type=m.device.type, enabled=False):
        if m.dtype != torch.float64:
            m = m.float()
        mt = m.transpose(-1, -2)
        chol = torch.linalg.cholesky(mt @ m)
        return torch.cholesky_solve(mt, chol)


def _duplication_rows(n_new: int, n_old: int, gen: torch.Generator) -> torch.Tensor:
    """(n_new, n_old) one-hot rows: new unit r copies old unit perm[r mod n_old] (a fresh random
    permutation for every pass over the old units, so multiplicities differ by at most one)."""
    rows = torch.zeros(n_new, n_old)
    src = []
    while len(src) < n_new:
        src.extend(torch.randperm(n_old, generator=gen).tolist())
    rows[torch.arange(n_new), torch.tensor(src[:n_new], dtype=torch.long)] = 1.0
    return rows


# ---------------------------------------------------------------------------------------------
# the operator


class LiGO(nn.Module):
    """The learned growth operator from ``small`` (config + weights, frozen) to ``large``.

    Parameters (the only trainable tensors): ``depth_<type>`` (L_large, L_small) for each of
    :data:`LAYER_TYPES`; ``res_new`` (d_large - d, d); ``q_new``/``k_new``/``v_new``
    (L_large, h_large - h, h); ``ffn_new`` (L_large, f_large - f, f). Calling the module returns
    the large model's state dict as differentiable tensors; :meth:`materialize` returns a detached
    copy for :class:`GPT`.
    """

    def __init__(self, small, small_state: dict, large, *, noise: float = 0.01, seed: int = 0):
        super().__init__()
        s, g = check_growth(small, large)
        small_state = check_state(s, small_state, "the small model's weights")
        if not (math.isfinite(noise) and noise >= 0):
            raise ScalingError(f"noise must be a non-negative number, got {noise}")
        self.small_config, self.large_config = s, g
        self.noise, self.seed = float(noise), int(seed)
        gen = torch.Generator().manual_seed(int(seed))
        # frozen small weights (buffers: never trained, not in parameters())
        self.register_buffer("embed", small_state["embed.weight"].detach().float().clone())
        self.register_buffer("norm_f", small_state["norm.weight"].detach().float().clone())
        for name, t in _stack(s, small_state).items():
            self.register_buffer(f"small_{name}", t.detach().clone())
        Ls, Lg = s.n_layer, g.n_layer
        stack = torch.zeros(Lg, Ls)
        stack[torch.arange(Lg), torch.tensor(stacking_order(Ls, Lg))] = 1.0
        for t in LAYER_TYPES:
            w = stack + noise * torch.randn(Lg, Ls, generator=gen)
            setattr(self, f"depth_{t}", nn.Parameter(w))
        d, D, h, H, f, Fg = s.d_model, g.d_model, s.n_head, g.n_head, s.d_ff, g.d_ff

        def new_block(rows):
            return nn.Parameter(rows + noise * torch.randn(rows.shape, generator=gen))

        self.res_new = new_block(_duplication_rows(D - d, d, gen))
        # q, k and v of a new head start as copies of the same old head (so it attends like it)
        heads = torch.stack([_duplication_rows(H - h, h, gen) for _ in range(Lg)])
        self.q_new = new_block(heads)
        self.k_new = new_block(heads)
        self.v_new = new_block(heads)
        self.ffn_new = new_block(torch.stack([_duplication_rows(Fg - f, f, gen) for _ in range(Lg)]))

    # --- the expansion matrices
    def residual_expansion(self) -> torch.Tensor:
        """B (d_large x d_small) = [I; res_new]."""
        d = self.small_config.d_model
        return torch.cat([torch.eye(d, device=self.res_new.device, dtype=self.res_new.dtype), self.res_new], 0)

    def _per_layer(self, new: torch.Tensor, n_old: int) -> torch.Tensor:
        Lg = self.large_config.n_layer
        eye = torch.eye(n_old, device=new.device, dtype=new.dtype).expand(Lg, n_old, n_old)
        return torch.cat([eye, new], 1)

    def head_expansions(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """H_q, H_k, H_v: (L_large, h_large, h_small) each."""
        h = self.small_config.n_head
        return tuple(self._per_layer(p, h) for p in (self.q_new, self.k_new, self.v_new))

    def ffn_expansion(self) -> torch.Tensor:
        """F: (L_large, d_ff_large, d_ff_small)."""
        return self._per_layer(self.ffn_new, self.small_config.d_ff)

    def depth_mix(self, kind: str) -> torch.Tensor:
        """sum_j w[l, j] W_j for every large layer l: (L_large, ...)."""
        w = getattr(self, f"depth_{kind}")
        small = getattr(self, f"small_{kind}")
        return torch.einsum("lj,j...->l...", w, small)

    # --- the grown weights
    def forward(self) -> dict[str, torch.Tensor]:
        s, g = self.small_config, self.large_config
        hd, h, H, Lg = s.head_dim, s.n_head, g.n_head, g.n_layer
        B = self.residual_expansion()  # (D, d): writes into the residual stream
        Bi = left_inverse(B)  # (d, D): reads from it
        Hq, Hk, Hv = self.head_expansions()  # (Lg, H, h)
        Fx = self.ffn_expansion()  # (Lg, Fg, f)
        out = {"embed.weight": self.embed @ B.T, "norm.weight": Bi.T @ self.norm_f}

        def heads_out(w, Hm):  # rows grouped by head: (Lg, h*hd, d) -> (Lg, H*hd, d)
            w = w.reshape(Lg, h, hd, -1)
            return torch.einsum("lHh,lhkd->lHkd", Hm, w).reshape(Lg, H * hd, -1)

        q = heads_out(self.depth_mix("q"), Hq) @ Bi
        k = heads_out(self.depth_mix("k"), Hk) @ Bi
        v = heads_out(self.depth_mix("v"), Hv) @ Bi
        qkv = torch.cat([q, k, v], 1)  # (Lg, 3D, D)
        ao = self.depth_mix("attn_out").reshape(Lg, s.d_model, h, hd)
        ao = torch.einsum("ldhk,lhH->ldHk", ao, left_inverse(Hv)).reshape(Lg, s.d_model, H * hd)
        attn_out = B @ ao  # (Lg, D, D)
        fc = Fx @ self.depth_mix("fc") @ Bi  # (Lg, Fg, D)
        mlp_out = B @ self.depth_mix("mlp_out") @ left_inverse(Fx)  # (Lg, D, Fg)
        norm1 = self.depth_mix("norm1") @ B.T  # (Lg, D)
        norm2 = self.depth_mix("norm2") @ B.T
        for l in range(Lg):
            p = f"blocks.{l}."
            out[p + "norm1.weight"] = norm1[l]
            out[p + "mixer.qkv.weight"] = qkv[l]
            out[p + "mixer.proj.weight"] = attn_out[l]
            out[p + "norm2.weight"] = norm2[l]
            out[p + "mlp.fc.weight"] = fc[l]
            out[p + "mlp.proj.weight"] = mlp_out[l]
        return out

    @torch.no_grad()
    def materialize(self) -> dict[str, torch.Tensor]:
        """The grown weights as an ordinary state dict for ``GPT(large_config)`` (detached, fp32)."""
        return {k: v.detach().float().contiguous().clone().cpu() for k, v in self().items()}

    def template(self, device=None) -> GPT:
        """A :class:`GPT` of the large shape whose forward runs the operator's weights via
        :func:`torch.func.functional_call` (its own parameters are never used or trained)."""
        model = GPT(self.large_config)
        for p in model.parameters():
            p.requires_grad_(False)
        return model.to(device) if device is not None else model

    def loss(self, model: GPT, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Language-model loss of the grown model (gradients flow into the operator)."""
        _, loss = torch.func.functional_call(model, self(), (x, y))
        return loss


# ---------------------------------------------------------------------------------------------
# training the operator


@dataclass
class OperatorReport:
    """What operator training did: losses before/after and per step, tokens, FLOPs, time."""

    steps: int
    batch_size: int
    context: int
    lr: float
    tokens: int
    flops: float  # scaling.growth.cost.operator_flops (6ND convention)
    initial_loss: float | None  # on the check windows, before training
    final_loss: float | None  # on the same windows, after training
    train_losses: list[float] = field(default_factory=list)
    time_s: float = 0.0
    check_tokens: int = 0  # tokens the before/after loss is measured on
    check_split: str = "held-out"  # held-out (the runs' evaluation windows) or training

    def to_dict(self) -> dict:
        return {
            "steps": self.steps,
            "batch_size": self.batch_size,
            "context": self.context,
            "lr": self.lr,
            "tokens": self.tokens,
            "flops": self.flops,
            "initial_loss": self.initial_loss,
            "final_loss": self.final_loss,
            "train_losses": self.train_losses,
            "time_s": self.time_s,
            "check_tokens": self.check_tokens,
            "check_split": self.check_split,
        }


def _batch(tokens: np.ndarray, context: int, batch_size: int, seed: int, step: int, device):
    offs = _data.batch_offsets(len(tokens), context, batch_size, seed, step)
    x, y = _data.gather(tokens, offs, context)
    return torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)


# operator batches come from their own stream, disjoint from the large run's (seed, step) stream
OPERATOR_SEED_OFFSET = 1_000_003
DEFAULT_CHECK_TOKENS = 32768  # the before/after loss: this many held-out tokens (the sweeps' eval_tokens)


def check_token_count(n_split: int, context: int, n_tokens: int) -> int:
    """How many tokens :func:`held_out_loss` reads for ``n_tokens`` requested from a split of
    ``n_split`` tokens: whole windows of ``context`` (scaling.train.data.eval_offsets)."""
    return len(_data.eval_offsets(n_split, context, n_tokens)) * context


def held_out_loss(
    model: GPT, state: dict | None, tokens: np.ndarray, n_tokens: int, *, batch_size: int, device, dtype: str = "fp32"
) -> float:
    """Mean next-token loss of ``model`` (with ``state`` loaded, if given) on the fixed windows of
    ``n_tokens`` tokens of ``tokens`` that every training run evaluates on
    (:func:`scaling.train.loop.evaluate`, :func:`scaling.train.data.eval_offsets`): a grown or small
    model measured here is comparable with the points of any run's held-out curve that used the
    same number of tokens."""
    dev = torch.device(device)
    model = model.to(dev)
    if state is not None:
        model.load_state_dict(state)
    return evaluate(model, tokens, n_tokens, batch_size=batch_size, device=dev, dtype=dtype)


def train_operator(
    op: LiGO,
    tokens: np.ndarray,
    *,
    steps: int = 100,
    batch_size: int = 32,
    context: int | None = None,
    lr: float = 3e-3,
    seed: int = 0,
    device="cpu",
    dtype: str = "fp32",
    grad_clip: float | None = 1.0,
    held_out: np.ndarray | None = None,
    check_tokens: int = DEFAULT_CHECK_TOKENS,
    progress: Callable[[dict], None] | None = None,
) -> OperatorReport:
    """Train only the operator for ``steps`` Adam steps on the grown model's LM loss.

    ``tokens`` is the training split (a 1-D array of token ids). Batches are drawn from
    ``(seed + OPERATOR_SEED_OFFSET, step)``. The loss before and after is measured on the fixed
    windows of ``check_tokens`` tokens of ``held_out`` (the held-out split: the same windows every
    training run evaluates on, :func:`held_out_loss`); without ``held_out``, on the same windows of
    the training split (reported as ``check_split = "training"``). Learning rate: ``lr``, constant
    after a warm-up of 10% of the steps."""
    if steps < 0:
        raise ScalingError(f"operator steps must be >= 0, got {steps}")
    if check_tokens < 1:
        raise ScalingError(f"check_tokens must be positive, got {check_tokens}")
    context = context or op.large_config.context
    if context > op.large_config.context:
        raise ScalingError(f"operator context {context} exceeds the model's {op.large_config.context}")
    dev = torch.device(device)
    op.to(dev)
    model = op.template(dev)
    model.train()
    s, g = op.small_config, op.large_config
    flops = operator_flops(
        ModelShape(s.n_layer, s.d_model, s.n_head, s.d_ff, s.vocab, s.context),
        ModelShape(g.n_layer, g.d_model, g.n_head, g.d_ff, g.vocab, g.context),
        steps=steps,
        tokens_per_step=batch_size * context,
    )
    sseed = int(seed) + OPERATOR_SEED_OFFSET
    check_split = tokens if held_out is None else held_out

    def check_loss():  # on the template's own (otherwise unused) parameters
        return held_out_loss(
            model, op.materialize(), check_split, check_tokens, batch_size=batch_size, device=dev, dtype=dtype
        )

    t0 = time.perf_counter()
    initial = check_loss()
    losses: list[float] = []
    if steps:
        opt = torch.optim.Adam([p for p in op.parameters() if p.requires_grad], lr=lr)
        warm = max(1, round(0.1 * steps))
        for step in range(steps):
            for group in opt.param_groups:
                group["lr"] = lr * min(1.0, (step + 1) / warm)
            x, y = _batch(tokens, context, batch_size, sseed, step, dev)
            with autocast(dev, dtype):
                loss = op.loss(model, x, y)
            if not torch.isfinite(loss):
                raise ScalingError(
                    f"LiGO operator training diverged at step {step + 1} (loss {float(loss)}); "
                    "lower the operator learning rate"
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip:
                torch.nn.utils.clip_grad_norm_(op.parameters(), grad_clip)
            opt.step()
            losses.append(loss.item())
            if progress is not None:
                progress({"step": step + 1, "steps": steps, "loss": losses[-1]})
    final = check_loss()
    return OperatorReport(
        steps=steps,
        batch_size=batch_size,
        context=context,
        lr=lr,
        tokens=steps * batch_size * context,
        flops=float(flops),
        initial_loss=initial,
        final_loss=final,
        train_losses=losses,
        time_s=time.perf_counter() - t0,
        check_tokens=check_token_count(len(check_split), g.context, check_tokens),
        check_split="training" if held_out is None else "held-out",
    )


def grow_ligo(
    small,
    small_state: dict,
    large,
    tokens: np.ndarray | None = None,
    *,
    steps: int = 100,
    batch_size: int = 32,
    context: int | None = None,
    lr: float = 3e-3,
    noise: float = 0.01,
    seed: int = 0,
    device="cpu",
    dtype: str = "fp32",
    held_out: np.ndarray | None = None,
    check_tokens: int = DEFAULT_CHECK_TOKENS,
    progress: Callable[[dict], None] | None = None,
) -> tuple[dict[str, torch.Tensor], OperatorReport | None]:
    """Build the LiGO operator, train it ``steps`` steps on ``tokens`` and return the materialised
    large state dict and the training report (None when ``steps == 0`` and no tokens are given;
    ``held_out`` / ``check_tokens``: the before/after loss, see :func:`train_operator`)."""
    torch.manual_seed(seed)
    op = LiGO(small, small_state, large, noise=noise, seed=seed)
    report = None
    if steps or tokens is not None:
        if tokens is None:
            raise ScalingError("LiGO operator training needs training tokens")
        report = train_operator(
            op,
            tokens,
            steps=steps,
            batch_size=batch_size,
            context=context,
            lr=lr,
            seed=seed,
            device=device,
            dtype=dtype,
            held_out=held_out,
            check_tokens=check_tokens,
            progress=progress,
        )
    return op.materialize(), report


__all__ = [
    "LiGO",
    "OperatorReport",
    "train_operator",
    "grow_ligo",
    "stacking_order",
    "left_inverse",
    "held_out_loss",
    "check_token_count",
    "DEFAULT_CHECK_TOKENS",
    "LAYER_TYPES",
]
