"""Devices and their peaks: the torch device a run asks for, bf16 autocast, and the peak FLOP/s
that MFU divides by (the catalogue's dense BF16 peak on a known GPU, else a matmul measured in
the run's dtype and thread count).
"""

from __future__ import annotations

import contextlib
import time

import torch

from ..accelerators import get_accelerator
from ..errors import ScalingError


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ScalingError(f"device {device!r} requested but CUDA is not available")
    return dev


def autocast(device: torch.device, dtype: str):
    if dtype == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


_PEAK_CACHE: dict[tuple, float] = {}


def measure_matmul_flops(
    device: torch.device | str = "cpu", dtype: str = "fp32", n: int = 1024, repeats: int = 5
) -> float:
    """Best-of-``repeats`` FLOP/s of an n x n x n matmul in ``dtype`` with the current thread count."""
    device = torch.device(device)
    tdt = torch.bfloat16 if dtype == "bf16" else torch.float32
    g = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=tdt)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=tdt)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    best = float("inf")
    a @ b
    sync()
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best


def device_peak(device: torch.device, dtype: str) -> tuple[float, str]:
    """(peak FLOP/s, where it comes from) for MFU."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        key = None
        upper = name.upper()
        for tag, acc in (
            ("H200", "h200"),
            ("H100", "h100-sxm"),
            ("A100", "a100-sxm"),
            ("B200", "b200"),
            ("V100", "v100"),
            ("MI300", "mi300x"),
        ):
            if tag in upper:
                key = acc
                break
        if key == "h100-sxm" and "PCIE" in upper:
            key = "h100-pcie"
        if key:
            return get_accelerator(key).peak_flops, f"catalogue: {key} dense BF16 ({name})"
    cache_key = (str(device), dtype, torch.get_num_threads())
    if cache_key not in _PEAK_CACHE:
        _PEAK_CACHE[cache_key] = measure_matmul_flops(device, dtype)
    return _PEAK_CACHE[cache_key], f"measured: 1024^3 {dtype} matmul, {torch.get_num_threads()} thread(s)"
