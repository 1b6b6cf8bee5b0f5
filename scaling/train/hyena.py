"""A Hyena token mixer (Poli et al. 2023, "Hyena Hierarchy", arXiv 2302.10866) for the decoder.

Same interface as the attention mixer: ``HyenaOperator(config)`` maps x (B, T, d) -> (B, T, d)
causally, so an attention run and a Hyena run of one shape differ only in the mixer.

The operator of order ``o`` (default 2, :data:`scaling.flops.HYENA_DEFAULTS`)::

    u = in_proj(x)                          Linear d -> (o+1) d, no bias (make_linear: sparsifiable)
    u = short_conv(u)                       depthwise causal convolution, k = 3 taps, no bias
    x_0, x_1, ..., x_{o-1}, v = split(u)    o gates and a value stream, d channels each
    z = v
    for n = 1 .. o-1:                       (o-1) long convolutions
        z = x_n * z                         gate
        z = h_n (*) z + D_n z               causal convolution of length T by FFT of size 2T,
                                            plus a per-channel skip D_n
    y = out_proj(x_0 * z)                   Linear d -> d, no bias (make_linear)

The long filters are implicit: ``h(t) = window(t) * FFN(features(t))`` where

- ``features(t)`` (``filter_emb_dim`` = 33 values): t / context and 16 cosine/sine pairs
  ``cos(2 pi j t / context), sin(2 pi j t / context)``, j = 1..16 (positions are normalised by the
  model's context, so a shorter sequence uses the same filter prefix: causal and consistent);
- ``FFN``: Linear e -> w (+bias), sin; (depth-1) x [Linear w -> w (+bias), sin];
  Linear w -> (o-1) d (no bias), with w = ``filter_width`` = 64, depth = ``filter_depth`` = 3 and
  a fixed sine frequency ``filter_freq`` (no parameters);
- ``window(t) = exp(-alpha_c t / context)``: an exponential decay per channel, with rates spread
  evenly over the channels so that the window falls to ``window_floor`` (1e-2) between
  ``window_fast`` (0.3) and ``window_slow`` (1.5) context lengths: some channels look far back,
  others stay local (no parameters).

Parameters per layer (exactly what :func:`scaling.flops.param_counts` counts with
``mixer="hyena"``)::

    (o+1) d^2 + d^2                       input and output projections
    (o+1) d k                             short depthwise filters
    e w + w + (depth-1)(w^2 + w)          filter FFN (hidden layers with biases)
    w (o-1) d + (o-1) d                   filter output layer (no bias) and the skips D

The filter network is evaluated once per forward pass (for T positions) and shared by the batch;
the FFTs run in float32 even under bf16 autocast (CPU FFTs have no bf16 kernel and the sums over
T positions want the precision).

Options come from ``config.extra["hyena"]`` (a dict; keys of HYENA_DEFAULTS plus ``filter_freq``,
``window_fast``, ``window_slow``, ``window_floor``); the FLOP/parameter accounting only knows the
keys of HYENA_DEFAULTS, and the trainer builds every run with the defaults.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..flops import HYENA_DEFAULTS
from .linear import make_linear

# options of the module that do not change the parameter count
MODULE_DEFAULTS = dict(filter_freq=1.0, window_fast=0.3, window_slow=1.5, window_floor=1e-2)


def hyena_options(config) -> dict:
    """HYENA_DEFAULTS and MODULE_DEFAULTS overridden by ``config.extra["hyena"]`` (checked)."""
    opts = {**HYENA_DEFAULTS, **MODULE_DEFAULTS}
    given = dict((getattr(config, "extra", None) or {}).get("hyena", {}) or {})
    unknown = set(given) - set(opts)
    if unknown:
        raise ValueError(f"unknown Hyena option(s) {', '.join(sorted(unknown))} (known: {', '.join(opts)})")
    opts.update(given)
    for key in ("order", "short_filter", "filter_emb_dim", "filter_width", "filter_depth"):
        if int(opts[key]) != opts[key]:
            raise ValueError(f"Hyena {key} must be a whole number: got {opts[key]}")
        opts[key] = int(opts[key])
    if opts["order"] < 2:
        raise ValueError(f"Hyena order must be at least 2: got {opts['order']}")
    if opts["filter_emb_dim"] < 3 or opts["filter_depth"] < 1 or opts["short_filter"] < 1:
        raise ValueError("Hyena filter_emb_dim must be >= 3, filter_depth >= 1 and short_filter >= 1")
    if not 0 < opts["window_floor"] < 1 or not 0 < opts["window_fast"] <= opts["window_slow"]:
        raise ValueError("Hyena window: need 0 < window_floor < 1 and 0 < window_fast <= window_slow")
    return opts


def positional_features(context: int, emb_dim: int) -> torch.Tensor:
    """(context, emb_dim): t / context, then cos/sin pairs of frequencies 1, 2, ... cycles per context
    (and (t / context)^2 as the last feature when emb_dim is even)."""
    t = torch.arange(context, dtype=torch.float64) / context
    bands = (emb_dim - 1) // 2
    j = torch.arange(1, bands + 1, dtype=torch.float64)
    angle = 2 * math.pi * torch.outer(t, j)
    cols = [t[:, None], angle.cos(), angle.sin()]
    if (emb_dim - 1) % 2:
        cols.append((t * t)[:, None])
    return torch.cat(cols, dim=1).float()


def fft_causal_conv(u: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """Causal convolution ``y_t = sum_{s<=t} h_s u_{t-s}`` over the last axis, by FFTs of size 2T.

    ``u``: (..., C, T); ``h``: (C, T). Zero-padding to 2T makes the circular convolution of the
    FFT a linear one, and keeping the first T outputs makes it causal. Computed in float32 (or the
    input's precision if higher); returned in the input's dtype.
    """
    T = u.shape[-1]
    n = 2 * T
    work = torch.promote_types(u.dtype, torch.float32)
    U = torch.fft.rfft(u.to(work), n=n)
    H = torch.fft.rfft(h.to(work), n=n)
    return torch.fft.irfft(U * H, n=n)[..., :T].to(u.dtype)


def direct_causal_conv(u: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """The same convolution computed directly, O(T^2) (a reference for tests)."""
    T = u.shape[-1]
    y = torch.zeros_like(u)
    for s in range(T):
        y[..., s:] += h[:, s : s + 1] * u[..., : T - s]
    return y


class ImplicitFilter(nn.Module):
    """``channels`` long filters ``h(t) = window(t) * FFN(features(t))`` for t < context.

    Its weights are plain Parameters (not nn.Linear), so the decoder's GPT-style Linear init does
    not touch them: they keep the uniform +-1/sqrt(fan_in) init of a default Linear layer, which
    puts the sine activations in a useful range. ``bias`` holds the per-channel skip D.
    """

    def __init__(
        self,
        channels: int,
        context: int,
        *,
        emb_dim: int = 33,
        width: int = 64,
        depth: int = 3,
        freq: float = 1.0,
        window_fast: float = 0.3,
        window_slow: float = 1.5,
        window_floor: float = 1e-2,
    ):
        super().__init__()
        self.channels, self.context, self.freq = channels, context, float(freq)
        self.register_buffer("features", positional_features(context, emb_dim), persistent=False)
        dims = [emb_dim] + [width] * depth
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            bound = 1.0 / math.sqrt(d_in)
            self.weights.append(nn.Parameter(torch.empty(d_out, d_in).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(d_out).uniform_(-bound, bound)))
        bound = 1.0 / math.sqrt(width)
        self.out = nn.Parameter(torch.empty(channels, width).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.randn(channels))  # the skip D of each channel
        # decay rate per channel: the window reaches `window_floor` after r_c contexts
        reach = torch.linspace(window_fast, window_slow, channels, dtype=torch.float64)
        alpha = -math.log(window_floor) / reach
        t = torch.arange(context, dtype=torch.float64) / context
        self.register_buffer("window", torch.exp(-torch.outer(alpha, t)).float(), persistent=False)

    def forward(self, T: int) -> torch.Tensor:
        """The filters for the first T positions: (channels, T), float32."""
        if T > self.context:
            raise ValueError(f"sequence of {T} positions is longer than the filter's context {self.context}")
        z = self.features[:T]
        for w, b in zip(self.weights, self.biases):
            z = torch.sin(self.freq * F.linear(z, w.float(), b.float()))
        h = F.linear(z, self.out.float())  # (T, channels)
        return h.t() * self.window[:, :T]


class HyenaOperator(nn.Module):
    """The Hyena mixer of one block: (B, T, d) -> (B, T, d), causal. See the module docstring."""

    def __init__(self, config):
        super().__init__()
        opts = hyena_options(config)
        d, o, k = config.d_model, opts["order"], opts["short_filter"]
        self.d_model, self.order = d, o
        self.in_proj = make_linear(d, (o + 1) * d, config)
        self.short_conv = nn.Conv1d((o + 1) * d, (o + 1) * d, k, groups=(o + 1) * d, padding=k - 1, bias=False)
        self.filter = ImplicitFilter(
            (o - 1) * d,
            config.context,
            emb_dim=opts["filter_emb_dim"],
            width=opts["filter_width"],
            depth=opts["filter_depth"],
            freq=opts["filter_freq"],
            window_fast=opts["window_fast"],
            window_slow=opts["window_slow"],
            window_floor=opts["window_floor"],
        )
        self.out_proj = make_linear(d, d, config)
        self.out_proj.residual_out = True  # scaled init, as attention's output projection

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, d = x.shape
        u = self.in_proj(x).transpose(1, 2)  # (B, (o+1) d, T)
        u = self.short_conv(u)[..., :T]  # causal: keep the first T outputs
        streams = u.split(d, dim=1)
        gates, z = streams[:-1], streams[-1]
        h = self.filter(T).view(self.order - 1, d, T)
        skip = self.filter.bias.view(self.order - 1, d, 1)
        for n in range(1, self.order):
            z = gates[n] * z
            z = fft_causal_conv(z, h[n - 1]) + skip[n - 1].to(z.dtype) * z
        y = gates[0] * z
        return self.out_proj(y.transpose(1, 2))


__all__ = [
    "HyenaOperator",
    "ImplicitFilter",
    "fft_causal_conv",
    "direct_causal_conv",
    "positional_features",
    "hyena_options",
    "MODULE_DEFAULTS",
]
