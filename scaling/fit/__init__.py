"""Fitting scaling laws to training runs (Approaches 1, 2, 3, variable projection, bootstrap)."""

from .result import BootstrapInfo, DataInfo, FitResult

__all__ = ["FitResult", "DataInfo", "BootstrapInfo"]
