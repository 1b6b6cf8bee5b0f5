"""Utilisation, prices, energy and CO2 on the accelerators of :mod:`scaling.accelerators`: from training
FLOPs to a :class:`Budget`.

Formulas (REFERENCE.md section 5)::

    gpu_hours  = C / (peak * MFU * 3600)             peak: dense BF16 (FP16 on V100) FLOP/s
    days       = gpu_hours / gpus / 24                (one GPU when gpus is not given)
    cost_usd   = gpu_hours * price_per_gpu_hour
    energy_kwh = gpu_hours * TDP_kW * PUE              board power at TDP, all run long
    co2_kg     = energy_kwh * grid_kg_per_kwh

Peaks are the dense figures: vendors' headline numbers assume 2:4 structured sparsity and are
twice as high. Documented defaults, all overridable:

- ``DEFAULT_MFU = 0.40``: typical of large runs (PaLM 46%, Llama 3 405B 38-43%).
- ``DEFAULT_PUE = 1.1``: an efficient hyperscale data centre.
- ``DEFAULT_GRID_KG_PER_KWH = 0.4``: kg CO2e per kWh, about the world-average grid in the 2020s.
- prices per GPU-hour (``Accelerator.price_per_gpu_hour``): round USD figures typical of 2024-25
  on-demand cloud offers; they vary by a factor of 2-3 between providers and contracts, so pass
  your own (``price_per_gpu_hour=``, ``--price``).

Sparse training as the hardware sees it
---------------------------------------
A sparse plan's FLOPs are counted at the non-zero share (:data:`scaling.flops.SPARSITY_CONVENTION`);
what the hardware spends on them depends on where the zeros sit. With a share ``rho`` of the counted
FLOPs in the masked block matmuls (:func:`scaling.shapes.smooth_block_linear_share`) and sparsity S,
the run takes ``time_factor`` times as long as its counted FLOPs would at the dense rate::

    time_factor = (1 - rho) + rho / ((1 - S) * speedup)
    gpu_hours   = C * time_factor / (peak * MFU * 3600)

- Unstructured masks: ``speedup = 1``. Dense tensor cores multiply the zeros too, so the masked
  matmuls cost what the dense model's do (``time_factor`` about 1 / (1 - S)); no accelerator in
  the catalogue runs unstructured sparsity faster.
- ``2:4`` on an accelerator whose vendor states a sparse peak (``Accelerator.sparse_peak_flops``,
  for 2:4 structured sparsity; Mishra et al. 2021, arXiv:2104.08378): ``speedup = sparse_efficiency
  x sparse_peak / peak``, i.e. the masked matmuls' dense work runs at ``sparse_efficiency`` of the
  sparse peak (at the same MFU). ``sparse_efficiency = 1`` is the vendor's 2x; 0.5 is no gain.
- Any other N:M pattern, or an accelerator with no stated sparse peak: no sparse tensor cores run
  it; asking for it is an error (:func:`sparse_speedup`).

``DEFAULT_SPARSE_EFFICIENCY = 0.6`` (1.2x on the masked matmuls at a 2x sparse peak) is deliberately
below what has been measured for training: 1.3x over the forward and backward passes of the MLP
linear layers of ViT-L on an A100 (Cai, Haziza and Rao 2024, PyTorch blog "Accelerating Neural
Network Training with Semi-Structured (2:4) Sparsity"; 6% end-to-end); Hu et al. 2024
(arXiv:2404.01847) need transposable masks to speed up the backward pass at all. It is an
assumption: set your own (``sparse_efficiency=``, ``--sparse-efficiency``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .accelerators import ACCELERATORS, DEFAULT_ACCELERATOR, SPARSE_PATTERN, Accelerator, get_accelerator
from .errors import ScalingError
from .sparsity import format_pattern, parse_pattern

DEFAULT_MFU = 0.40
DEFAULT_PUE = 1.1
DEFAULT_GRID_KG_PER_KWH = 0.4
DEFAULT_SPARSE_EFFICIENCY = 0.6
SPARSE_EFFICIENCY_SOURCE = (
    "assumed, conservative: 1.3x was measured over the forward and backward passes of 2:4-sparse MLP "
    "linears on an A100 (Cai, Haziza and Rao 2024, PyTorch blog), i.e. 0.65 of the 2x sparse peak"
)


# ---------------------------------------------------------------------------------------------
# validation of the knobs (messages name the CLI flag, which is how users meet them)


def _check_mfu(mfu) -> np.ndarray:
    arr = np.asarray(mfu, dtype=float)
    if arr.size and not np.all(np.isfinite(arr) & (arr > 0) & (arr <= 1)):
        bad = arr[~(np.isfinite(arr) & (arr > 0) & (arr <= 1))].flat[0]
        raise ScalingError(f"--mfu must be in (0, 1]: got {bad:g}")
    return arr


def _check_gpus(gpus):
    if gpus is None:
        return None
    try:
        g = float(gpus)
    except (TypeError, ValueError):
        raise ScalingError(f"--gpus must be a whole number of GPUs: got {gpus!r}") from None
    if not math.isfinite(g) or g < 1 or g != int(g):
        raise ScalingError(f"--gpus must be a whole number at least 1: got {gpus!r}")
    return int(g)


def _check_nonneg(x, flag: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ScalingError(f"{flag} must be a number: got {x!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ScalingError(f"{flag} must be a finite number >= 0: got {x!r}")
    return v


def _check_pue(pue) -> float:
    v = _check_nonneg(pue, "--pue")
    if v < 1:
        raise ScalingError(f"--pue must be at least 1 (facility energy / IT energy): got {pue!r}")
    return v


def _check_flops(flops) -> np.ndarray:
    arr = np.asarray(flops, dtype=float)
    if arr.size and not np.all(np.isfinite(arr) & (arr >= 0)):
        bad = arr[~(np.isfinite(arr) & (arr >= 0))].flat[0]
        raise ScalingError(f"FLOPs must be finite and >= 0: got {bad:g}")
    return arr


def check_sparse_efficiency(efficiency) -> float:
    """``--sparse-efficiency`` in (0, 1]: the fraction of the sparse peak's advantage reached."""
    try:
        e = float(efficiency)
    except (TypeError, ValueError):
        raise ScalingError(f"--sparse-efficiency must be a number in (0, 1]: got {efficiency!r}") from None
    if not (math.isfinite(e) and 0 < e <= 1):
        raise ScalingError(f"--sparse-efficiency must be in (0, 1] (a fraction of the sparse peak): got {efficiency!r}")
    return e


# ---------------------------------------------------------------------------------------------
# sparse execution


def sparse_accelerators() -> list[str]:
    """Accelerators whose vendor states a sparse (2:4) peak."""
    return [a.name for a in ACCELERATORS.values() if a.sparse_peak_flops]


def sparse_speedup(
    accelerator: str | Accelerator = DEFAULT_ACCELERATOR, pattern=None, efficiency=DEFAULT_SPARSE_EFFICIENCY
) -> float:
    """How much faster the masked matmuls of a sparse model run than the same matmuls dense.

    Unstructured (``pattern`` None): 1, no accelerator runs it faster. ``"2:4"``: ``efficiency x
    sparse_peak / peak`` on an accelerator with a stated sparse peak. Any other N:M pattern, or an
    accelerator without a sparse peak: ScalingError (one line, naming the accelerators that have one).
    """
    acc = get_accelerator(accelerator)
    nm = parse_pattern(pattern)
    if nm is None:
        return 1.0
    text = f"{nm[0]}:{nm[1]}"
    if not acc.sparse_peak_flops:
        raise ScalingError(
            f"--pattern {text}: {acc.name} has no stated sparse peak (no sparse tensor cores), so nothing runs "
            f"the pattern faster on it; choose an accelerator with one ({', '.join(sparse_accelerators())}) or "
            "leave --pattern out (unstructured sparsity: no hardware speedup)"
        )
    if text != SPARSE_PATTERN:
        raise ScalingError(
            f"--pattern {text}: {acc.name}'s sparse peak is stated for {SPARSE_PATTERN} structured sparsity only; "
            f"plan {text} without --gpu, or as --pattern {SPARSE_PATTERN}"
        )
    return check_sparse_efficiency(efficiency) * acc.sparse_peak_flops / acc.peak_flops


def sparse_time_factor(block_linear_share, sparsity, speedup):
    """``(1 - rho) + rho / ((1 - S) speedup)``: a sparse run's time over the time of its counted
    (non-zero share) FLOPs at the dense rate (vectorised; see the module docstring)."""
    rho = np.asarray(block_linear_share, dtype=float)
    S = np.asarray(sparsity, dtype=float)
    return (1.0 - rho) + rho / ((1.0 - S) * np.asarray(speedup, dtype=float))


@dataclass(frozen=True)
class SparseExecution:
    """How a sparse model runs: ``sparsity`` S, the N:M ``pattern`` (None: unstructured), the share
    of its counted FLOPs in the masked matmuls (``block_linear_share``, rho) and the
    ``efficiency`` of the sparse kernels (a fraction of the sparse peak; 2:4 only)."""

    sparsity: float
    block_linear_share: float
    pattern: str | None = None
    efficiency: float = DEFAULT_SPARSE_EFFICIENCY

    def speedup(self, accelerator: str | Accelerator) -> float:
        return sparse_speedup(accelerator, self.pattern, self.efficiency)

    def time_factor(self, accelerator: str | Accelerator) -> float:
        return float(sparse_time_factor(self.block_linear_share, self.sparsity, self.speedup(accelerator)))

    def describe(self, accelerator: str | Accelerator) -> dict:
        """The JSON of a sparse budget (``Budget.sparse``)."""
        acc = get_accelerator(accelerator)
        structured = parse_pattern(self.pattern) is not None
        return {
            "pattern": format_pattern(self.pattern),
            "sparsity": float(self.sparsity),
            "block_linear_share": float(self.block_linear_share),
            "sparse_peak_flops": acc.sparse_peak_flops if structured else None,
            "sparse_efficiency": float(self.efficiency) if structured else None,
            "speedup": self.speedup(acc),
            "time_factor": self.time_factor(acc),
        }


# ---------------------------------------------------------------------------------------------
# budgets


@dataclass(frozen=True)
class Budget:
    """What a training run of ``flops`` FLOPs costs on ``gpus`` accelerators of one kind (a plain frozen
    dataclass: pydantic would cost `scaling plan` 70 ms of start-up for nothing it validates)."""

    flops: float
    accelerator: str
    peak_flops: float
    mfu: float
    gpus: int | None
    gpu_hours: float
    days: float
    price_per_gpu_hour: float
    cost_usd: float
    pue: float
    grid_kg_per_kwh: float
    energy_kwh: float
    co2_kg: float
    sparse: dict | None = None  # SparseExecution.describe() of a sparse plan

    def to_dict(self) -> dict:
        """Plain dict; holds at least the DESIGN.md budget keys (gpu_hours, days, gpus, cost_usd,
        energy_kwh, co2_kg, accelerator, mfu), and ``sparse`` for a sparse plan."""
        d = asdict(self)
        if d["sparse"] is None:
            del d["sparse"]
        return d

    def describe(self) -> str:
        on = f"{self.gpus} x " if self.gpus else "1 x "
        return (
            f"{self.flops:.3g} FLOPs on {on}{self.accelerator} at {100 * self.mfu:.0f}% MFU: "
            f"{self.gpu_hours:.4g} GPU-hours, {self.days:.4g} days, ${self.cost_usd:,.0f}, "
            f"{self.energy_kwh / 1e3:.4g} MWh, {self.co2_kg / 1e3:.4g} t CO2e"
        )


def budget_arrays(
    flops,
    accelerator: str | Accelerator = DEFAULT_ACCELERATOR,
    *,
    mfu=DEFAULT_MFU,
    gpus=None,
    price_per_gpu_hour=None,
    pue=DEFAULT_PUE,
    grid_kg_per_kwh=DEFAULT_GRID_KG_PER_KWH,
    sparse: SparseExecution | None = None,
) -> dict:
    """Vectorised :func:`budget`: a dict of numpy arrays (same keys as ``Budget``), for many
    budgets (``flops`` and ``mfu`` broadcast)."""
    acc = get_accelerator(accelerator)
    C = _check_flops(flops)
    m = _check_mfu(mfu)
    g = _check_gpus(gpus)
    price = acc.price_per_gpu_hour if price_per_gpu_hour is None else _check_nonneg(price_per_gpu_hour, "--price")
    pue_v = _check_pue(pue)
    grid = _check_nonneg(grid_kg_per_kwh, "--grid")
    factor = 1.0 if sparse is None else sparse.time_factor(acc)
    gpu_hours = C * factor / (acc.peak_flops * m * 3600.0)
    energy = gpu_hours * acc.tdp_kw * pue_v
    out: dict[str, Any] = {
        "flops": C,
        "accelerator": acc.name,
        "peak_flops": acc.peak_flops,
        "mfu": m,
        "gpus": g,
        "gpu_hours": gpu_hours,
        "days": gpu_hours / (g or 1) / 24.0,
        "price_per_gpu_hour": price,
        "cost_usd": gpu_hours * price,
        "pue": pue_v,
        "grid_kg_per_kwh": grid,
        "energy_kwh": energy,
        "co2_kg": energy * grid,
    }
    if sparse is not None:
        out["sparse"] = sparse.describe(acc)
    return out


def budget(
    flops,
    accelerator: str | Accelerator = DEFAULT_ACCELERATOR,
    *,
    mfu=DEFAULT_MFU,
    gpus=None,
    price_per_gpu_hour=None,
    pue=DEFAULT_PUE,
    grid_kg_per_kwh=DEFAULT_GRID_KG_PER_KWH,
    sparse: SparseExecution | None = None,
):
    """GPU-hours, days on ``gpus`` GPUs, dollars, kWh and kg CO2e of ``flops`` training FLOPs.

    Returns a :class:`Budget` for a scalar ``flops`` and a list of them for a sequence (use
    :func:`budget_arrays` for numpy arrays of results). ``price_per_gpu_hour`` defaults to the
    accelerator's documented price; ``gpus=None`` gives days on one GPU. Bad knobs raise
    ScalingError naming the flag (``--mfu must be in (0, 1]: got 1.5``). ``sparse``: the FLOPs are a
    sparse model's, counted at the non-zero share, and run as :class:`SparseExecution` says (the
    module docstring: unstructured masks run at the dense model's cost, 2:4 at the sparse kernels').
    """
    arrs = budget_arrays(
        flops,
        accelerator,
        mfu=mfu,
        gpus=gpus,
        price_per_gpu_hour=price_per_gpu_hour,
        pue=pue,
        grid_kg_per_kwh=grid_kg_per_kwh,
        sparse=sparse,
    )
    shape = np.broadcast(arrs["flops"], arrs["mfu"]).shape
    if shape == ():
        one: dict[str, Any] = {k: (float(v) if isinstance(v, np.ndarray) else v) for k, v in arrs.items()}
        return Budget(**one)
    flat = {k: (np.broadcast_to(v, shape).ravel() if isinstance(v, np.ndarray) else v) for k, v in arrs.items()}
    n = int(np.prod(shape))
    rows: list[dict[str, Any]] = [
        {k: (float(v[i]) if isinstance(v, np.ndarray) else v) for k, v in flat.items()} for i in range(n)
    ]
    return [Budget(**row) for row in rows]


def flops_for_gpu_hours(gpu_hours, accelerator: str | Accelerator = DEFAULT_ACCELERATOR, mfu=DEFAULT_MFU):
    """Training FLOPs that ``gpu_hours`` buy: ``hours * 3600 * peak * MFU`` (vectorised)."""
    acc = get_accelerator(accelerator)
    h = np.asarray(gpu_hours, dtype=float)
    if h.size and not np.all(np.isfinite(h) & (h > 0)):
        raise ScalingError(f"GPU-hours must be finite and positive: got {h[~(np.isfinite(h) & (h > 0))].flat[0]:g}")
    out = h * 3600.0 * acc.peak_flops * _check_mfu(mfu)
    return float(out) if out.ndim == 0 else out


def flops_for_dollars(
    dollars, accelerator: str | Accelerator = DEFAULT_ACCELERATOR, mfu=DEFAULT_MFU, price_per_gpu_hour=None
):
    """Training FLOPs that ``dollars`` buy at ``price_per_gpu_hour`` (default: the accelerator's)."""
    acc = get_accelerator(accelerator)
    price = acc.price_per_gpu_hour if price_per_gpu_hour is None else _check_nonneg(price_per_gpu_hour, "--price")
    if price == 0:
        raise ScalingError("--price is 0: a dollar budget needs a positive price per GPU-hour")
    d = np.asarray(dollars, dtype=float)
    if d.size and not np.all(np.isfinite(d) & (d > 0)):
        raise ScalingError(f"dollars must be finite and positive: got {d[~(np.isfinite(d) & (d > 0))].flat[0]:g}")
    return flops_for_gpu_hours(d / price, acc, mfu)


# ---------------------------------------------------------------------------------------------
# the cost model the planner uses


@dataclass(frozen=True)
class Hardware:
    """Where a plan is trained (and served): FLOPs to GPU-hours, days, dollars, kWh and CO2.

    The training side is ``accelerator`` at ``mfu`` and ``price_per_gpu_hour`` (default: the
    catalogue's price) on ``gpus`` GPUs (days on one GPU when None), in a data centre of ``pue``
    on a grid of ``grid_kg_per_kwh`` (defaults DEFAULT_PUE, DEFAULT_GRID_KG_PER_KWH). The serving
    side, for inference-aware plans, defaults to the training side's accelerator and price and to
    its MFU; serving usually reaches a lower MFU than training (memory-bound decoding), so giving
    ``inference_mfu`` is what makes a dollar objective differ from the FLOP objective.
    """

    accelerator: str = DEFAULT_ACCELERATOR
    gpus: int | None = None
    mfu: float = DEFAULT_MFU
    price_per_gpu_hour: float | None = None
    pue: float | None = None
    grid_kg_per_kwh: float | None = None
    inference_accelerator: str | None = None
    inference_mfu: float | None = None
    inference_price_per_gpu_hour: float | None = None
    sparse_efficiency: float = DEFAULT_SPARSE_EFFICIENCY

    def budget(self, flops: float, sparse: SparseExecution | None = None) -> dict:
        """GPU-hours, days, dollars, energy and CO2 of training ``flops`` (a :class:`Budget` as a dict);
        ``sparse``: of a sparse model's FLOPs (see :func:`budget`)."""
        kw: dict = {"mfu": self.mfu, "gpus": self.gpus, "price_per_gpu_hour": self.price_per_gpu_hour}
        if self.pue is not None:
            kw["pue"] = self.pue
        if self.grid_kg_per_kwh is not None:
            kw["grid_kg_per_kwh"] = self.grid_kg_per_kwh
        return budget(flops, self.accelerator, sparse=sparse, **kw).to_dict()

    def sparse(self, sparsity: float, block_linear_share: float, pattern: str | None = None) -> SparseExecution:
        """How a sparse model runs here (this hardware's ``sparse_efficiency``); checks that the
        accelerator runs ``pattern`` (:func:`sparse_speedup`)."""
        ex = SparseExecution(float(sparsity), float(block_linear_share), pattern, self.sparse_efficiency)
        ex.speedup(self.accelerator)
        return ex

    def flops_for_gpu_hours(self, hours: float) -> float:
        return float(flops_for_gpu_hours(hours, self.accelerator, mfu=self.mfu))

    def flops_for_dollars(self, dollars: float) -> float:
        return float(
            flops_for_dollars(dollars, self.accelerator, mfu=self.mfu, price_per_gpu_hour=self.price_per_gpu_hour)
        )

    def side(self, inference: bool = False) -> tuple[Accelerator, float, float]:
        """(accelerator, MFU, dollars per GPU-hour) of training, or of serving."""
        acc = get_accelerator((self.inference_accelerator or self.accelerator) if inference else self.accelerator)
        mfu = (self.inference_mfu if self.inference_mfu is not None else self.mfu) if inference else self.mfu
        if not (isinstance(mfu, (int, float)) and 0 < mfu <= 1):
            raise ScalingError(f"{'--inference-mfu' if inference else '--mfu'} must be in (0, 1], got {mfu}")
        price = self.price_per_gpu_hour
        if inference and self.inference_price_per_gpu_hour is not None:
            price = self.inference_price_per_gpu_hour
        elif inference and self.inference_accelerator and self.price_per_gpu_hour is None:
            price = None
        if price is None:
            price = acc.price_per_gpu_hour
        if price < 0 or not math.isfinite(price):
            raise ScalingError(f"{'--inference-price' if inference else '--price'} must be a finite number >= 0")
        return acc, float(mfu), float(price)

    def gpu_hours(self, flops: float, inference: bool = False) -> float:
        acc, mfu, _ = self.side(inference)
        return float(flops) / (acc.peak_flops * mfu * 3600.0)

    def dollars_per_flop(self, inference: bool = False) -> float:
        acc, mfu, price = self.side(inference)
        return price / (acc.peak_flops * mfu * 3600.0)

    def describe(self) -> dict:
        tr, inf = self.side(False), self.side(True)
        return {
            "train": {"accelerator": tr[0].name, "mfu": tr[1], "price_per_gpu_hour": tr[2]},
            "inference": {"accelerator": inf[0].name, "mfu": inf[1], "price_per_gpu_hour": inf[2]},
        }


CostModel = Hardware  # the name the inference planner's callers know (scaling.planning.CostModel)


__all__ = [
    "DEFAULT_SPARSE_EFFICIENCY",
    "SPARSE_EFFICIENCY_SOURCE",
    "SparseExecution",
    "check_sparse_efficiency",
    "sparse_accelerators",
    "sparse_speedup",
    "sparse_time_factor",
    "Budget",
    "DEFAULT_MFU",
    "DEFAULT_PUE",
    "DEFAULT_GRID_KG_PER_KWH",
    "budget",
    "budget_arrays",
    "flops_for_dollars",
    "flops_for_gpu_hours",
    "Hardware",
    "CostModel",
]
