"""The accelerator catalogue: dense and 2:4-sparse BF16 peaks, board power, memory and a default price per
GPU-hour for each accelerator, with the vendor datasheet each figure comes from; names and aliases.

Peaks are the dense figures: vendors' headline numbers assume 2:4 structured sparsity and are twice as
high (those are ``sparse_peak_flops``; Mishra et al. 2021, arXiv:2104.08378). Prices are round USD
figures typical of 2024-25 on-demand cloud offers. :mod:`scaling.hardware` turns FLOPs into GPU-hours,
dollars, energy and CO2 on these.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from .errors import ScalingError

DEFAULT_ACCELERATOR = "h100"
SPARSE_PATTERN = "2:4"  # the one N:M pattern the vendors' sparse peaks are stated for


@dataclass(frozen=True)
class Accelerator:
    """One accelerator: dense BF16 peak FLOP/s, board power (TDP) and a default price; and the BF16
    peak with 2:4 structured sparsity where the vendor states one (``sparse_peak_flops``; None where
    it states none: the accelerator has no sparse tensor cores)."""

    name: str
    peak_flops: float
    tdp_watts: float
    price_per_gpu_hour: float
    memory_gb: float
    description: str
    source: str = ""
    sparse_peak_flops: float | None = None

    @property
    def tdp_kw(self) -> float:
        return self.tdp_watts / 1000.0

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "peak_flops": self.peak_flops,
            "tdp_watts": self.tdp_watts,
            "price_per_gpu_hour": self.price_per_gpu_hour,
            "memory_gb": self.memory_gb,
            "description": self.description,
            "source": self.source,
            "sparse_peak_flops": self.sparse_peak_flops,
            "sparse_pattern": SPARSE_PATTERN if self.sparse_peak_flops else None,
        }


_CATALOGUE = [
    # NVIDIA A100 Tensor Core GPU datasheet (2021): BF16 312 TFLOPS dense (624 sparse); SXM 400 W, PCIe 80GB 300 W
    Accelerator(
        "a100-sxm",
        312e12,
        400,
        1.80,
        80,
        "NVIDIA A100 SXM4 80GB",
        "NVIDIA A100 datasheet: BF16 312 TFLOPS dense, 624 with 2:4 sparsity, 400 W",
        624e12,
    ),
    Accelerator(
        "a100-pcie",
        312e12,
        300,
        1.50,
        80,
        "NVIDIA A100 PCIe 80GB",
        "NVIDIA A100 datasheet: BF16 312 TFLOPS dense, 624 with 2:4 sparsity, 300 W",
        624e12,
    ),
    # NVIDIA H100 Tensor Core GPU datasheet: BF16 1,979 / 1,513 TFLOPS with sparsity -> 989 / 756 dense;
    # SXM up to 700 W, PCIe 300-350 W
    Accelerator(
        "h100-sxm",
        989e12,
        700,
        2.50,
        80,
        "NVIDIA H100 SXM5 80GB",
        "NVIDIA H100 datasheet: BF16 989 TFLOPS dense, 1979 with 2:4 sparsity, 700 W",
        1979e12,
    ),
    Accelerator(
        "h100-pcie",
        756e12,
        350,
        2.00,
        80,
        "NVIDIA H100 PCIe 80GB",
        "NVIDIA H100 datasheet: BF16 756 TFLOPS dense, 1513 with 2:4 sparsity, 350 W",
        1513e12,
    ),
    # NVIDIA H200 datasheet: same compute as H100 SXM (BF16 1,979 sparse -> 989 dense), 141 GB HBM3e, up to 700 W
    Accelerator(
        "h200",
        989e12,
        700,
        3.50,
        141,
        "NVIDIA H200 SXM 141GB",
        "NVIDIA H200 datasheet: BF16 989 TFLOPS dense, 1979 with 2:4 sparsity, 700 W",
        1979e12,
    ),
    # NVIDIA HGX B200 at 1,000 W: FP16/BF16 2.25 PFLOPS dense (4.5 sparse) per GPU (NVIDIA Blackwell datasheet)
    Accelerator(
        "b200",
        2250e12,
        1000,
        5.00,
        180,
        "NVIDIA B200 (HGX, 1000 W)",
        "NVIDIA HGX B200 datasheet: BF16 2.25 PFLOPS dense, 4.5 with 2:4 sparsity, 1000 W",
        4500e12,
    ),
    # NVIDIA V100 datasheet: Tensor (FP16) 125 TFLOPS for SXM2, 300 W; Volta has no BF16 and no sparse
    # tensor cores (structured sparsity arrived with Ampere), so no sparse peak
    Accelerator(
        "v100",
        125e12,
        300,
        0.80,
        32,
        "NVIDIA V100 SXM2 32GB (FP16 tensor peak)",
        "NVIDIA V100 datasheet: FP16 tensor 125 TFLOPS, 300 W",
    ),
    # AMD Instinct MI300X data sheet: peak BF16 1,307.4 TFLOPS dense (2,614.9 with sparsity), 750 W board power
    Accelerator(
        "mi300x",
        1307.4e12,
        750,
        2.00,
        192,
        "AMD Instinct MI300X 192GB",
        "AMD Instinct MI300X data sheet: BF16 1307.4 TFLOPS dense, 2614.9 with structured (2:4) sparsity, 750 W",
        2614.9e12,
    ),
    # NVIDIA L4 datasheet: BF16 tensor 242 TFLOPS with sparsity (121 dense), 72 W, 24 GB; an inference card
    Accelerator(
        "l4",
        121e12,
        72,
        0.80,
        24,
        "NVIDIA L4 24GB",
        "NVIDIA L4 datasheet: BF16 121 TFLOPS dense, 242 with 2:4 sparsity, 72 W",
        242e12,
    ),
    # NVIDIA L40S datasheet: BF16 tensor 362.05 TFLOPS dense, 733 with sparsity, 350 W, 48 GB
    Accelerator(
        "l40s",
        362.05e12,
        350,
        1.50,
        48,
        "NVIDIA L40S 48GB",
        "NVIDIA L40S datasheet: BF16 362.05 TFLOPS dense, 733 with 2:4 sparsity, 350 W",
        733e12,
    ),
]
ACCELERATORS: dict[str, Accelerator] = {a.name: a for a in _CATALOGUE}
ALIASES: dict[str, str] = {
    "a100": "a100-sxm",
    "a100-80gb": "a100-sxm",
    "a100-sxm4": "a100-sxm",
    "a100-40gb": "a100-sxm",
    "h100": "h100-sxm",
    "h100-sxm5": "h100-sxm",
    "h100-80gb": "h100-sxm",
    "h200-sxm": "h200",
    "v100-sxm2": "v100",
    "b200-sxm": "b200",
    "mi300": "mi300x",
}


def list_accelerators() -> list[str]:
    """Canonical accelerator names."""
    return list(ACCELERATORS)


def get_accelerator(name: str | Accelerator = DEFAULT_ACCELERATOR) -> Accelerator:
    """Look an accelerator up by name or alias (case, spaces and underscores do not matter).

    An unknown name raises ScalingError suggesting the closest names.
    """
    if isinstance(name, Accelerator):
        return name
    key = "-".join(str(name).strip().lower().replace("_", " ").split())
    key = ALIASES.get(key, key)
    if key in ACCELERATORS:
        return ACCELERATORS[key]
    known = list(ACCELERATORS) + list(ALIASES)
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise ScalingError(f"unknown accelerator {name!r}{hint} (known: {', '.join(ACCELERATORS)})")


__all__ = [
    "ACCELERATORS",
    "ALIASES",
    "DEFAULT_ACCELERATOR",
    "SPARSE_PATTERN",
    "Accelerator",
    "get_accelerator",
    "list_accelerators",
]
