"""The growth calibration: the *measured* token credit of each growth method
(``data/growth/calibration.json``), which the growth planner reads instead of assuming one.

A grown large model behaves like the same large model trained from scratch on ``D + delta``
tokens, ``delta = eta * D_eq(N_large, L_small)``, where ``D_eq(N, l) = law.tokens_for_loss(N, l)``
is what the large model needs, from scratch, to reach the small model's loss ``L_small``.
:mod:`scaling.growth.analysis` measures ``eta`` from growth runs,
``eta = (D_scratch - D_grown) / D_eq`` (all in large-model tokens: the tokens the grown model saves
to reach the scratch run's final loss, over the tokens the scratch run took to reach the small
model's loss), and writes this file; :mod:`scaling.growth.planner` uses it.

Intervals: ``eta`` is the mean over seeds, ``eta_interval`` its 95% Student-t interval over the
``n_seeds`` seeds (:mod:`scaling.growth.intervals`; None with one seed). ``eta_sd`` stays for
readers of the first format; a file without ``eta_interval`` (written before it existed) gets the
same interval computed from its ``eta_seeds`` (or from ``eta_sd`` and ``n_seeds``).

The growth ratio: ``growth_ratio`` records large over small parameters, ``total`` and
``non_embedding``; a file without it has them from its ``small`` and ``large`` shapes. The planner
reads eta as a function of that ratio from one or several calibrations (:mod:`scaling.growth.eta`).

Method names are those of :mod:`scaling.growth.methods`; a file written before the baselines were
renamed is read with its hybrids' names mapped (``stack`` -> ``hyperclone-stack`` when its shapes
grew in width, ...), recorded in ``renamed``; the file itself is not rewritten.

This module imports pydantic only (no torch).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ScalingError
from .intervals import interval_from_sd, t_interval
from .methods import canonical_method

DEFAULT_CALIBRATION = "data/growth/calibration.json"


class MethodCalibration(BaseModel):
    model_config = ConfigDict(extra="allow")
    method: str
    eta: float | None = Field(description="mean over seeds of the credited fraction (see module docstring)")
    eta_sd: float | None = Field(default=None, description="standard deviation over seeds (first format; kept)")
    eta_interval: tuple[float, float] | None = Field(
        default=None, description="95% Student-t interval of the mean over seeds (None with one seed)"
    )
    eta_seeds: list[float | None] = Field(default_factory=list)
    delta_tokens: list[float | None] = Field(default_factory=list, description="measured token credit per seed")
    operator_steps: int = 0
    operator_tokens_per_step: int | None = None
    n_seeds: int = 0
    flags: list[str] = Field(default_factory=list)

    def interval(self) -> tuple[float, float] | None:
        """The 95% t interval of eta: as stored, else from the per-seed values, else from sd and n."""
        if self.eta_interval is not None:
            return (float(self.eta_interval[0]), float(self.eta_interval[1]))
        seeds = [v for v in self.eta_seeds if v is not None]
        if len(seeds) >= 2:
            return t_interval(seeds)
        if self.eta is None:
            return None
        return interval_from_sd(self.eta, self.eta_sd, self.n_seeds)


def growth_ratio(small: dict[str, Any], large: dict[str, Any]) -> dict[str, float]:
    """Large over small parameters, ``total`` and ``non_embedding`` (those the shapes record)."""
    out = {}
    for key, name in (("params", "total"), ("non_embedding_params", "non_embedding")):
        try:
            r = float(large[key]) / float(small[key])
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            continue
        if r > 0:
            out[name] = r
    return out


class Calibration(BaseModel):
    """data/growth/calibration.json: the measured token credit of each growth method."""

    model_config = ConfigDict(extra="allow")
    version: int = 2  # 2: eta_interval and growth_ratio (optional: version 1 files load unchanged)
    source: str = ""
    created_at: str = ""
    definition: str = ""
    corpus: str | None = None
    corpus_fingerprint: str | None = None
    small: dict[str, Any] = Field(default_factory=dict)
    large: dict[str, Any] = Field(default_factory=dict)
    growth_ratio: dict[str, float] = Field(
        default_factory=dict, description="large / small parameters: total and non_embedding"
    )
    methods: dict[str, MethodCalibration] = Field(default_factory=dict)
    renamed: dict[str, str] = Field(default_factory=dict, description="old method name -> its name now")

    def ratio(self, convention: str = "total") -> float | None:
        """The growth ratio (large / small parameters) in ``convention`` (total or non_embedding)."""
        r = self.growth_ratio.get(convention) or growth_ratio(self.small, self.large).get(convention)
        return float(r) if r else None

    def with_current_names(self) -> Calibration:
        """This calibration with pre-renaming method names mapped by its shapes (see the module docstring)."""
        small = self.small if {"n_layer", "d_model", "n_head", "d_ff"} <= set(self.small) else None
        large = self.large if {"n_layer", "d_model", "n_head", "d_ff"} <= set(self.large) else None
        methods, renamed = {}, dict(self.renamed)
        for name, m in self.methods.items():
            new = canonical_method(name, small, large)
            if new != name:
                renamed[name] = new
                m = m.model_copy(update={"method": new})
            methods[new] = m
        return self.model_copy(update={"methods": methods, "renamed": renamed})


def load_calibration(path: str | os.PathLike = DEFAULT_CALIBRATION) -> Calibration:
    p = Path(path)
    if not p.is_file():
        raise ScalingError(
            f"no growth calibration at {p}: the growth benefit is measured, not assumed; run the growth "
            "experiment (`scaling grow run sweeps/growth-cpu.toml`, which writes it), pass --calibration FILE, "
            "or give --credit-efficiency ETA explicitly (marked as an assumption)"
        )
    try:
        return Calibration.model_validate(json.loads(p.read_text())).with_current_names()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ScalingError(f"{p}: not valid JSON ({exc})") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ScalingError(
            f"{p}: not a growth calibration ({'.'.join(map(str, first['loc']))}: {first['msg']})"
        ) from None
