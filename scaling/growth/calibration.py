"""The growth calibration: the *measured* token credit of each growth method
(``data/growth/calibration.json``), which the growth planner reads instead of assuming one.

A grown large model behaves like the same large model trained from scratch on ``D + delta``
tokens, ``delta = eta * D_eq(N_large, L_small)``, where ``D_eq(N, l) = law.tokens_for_loss(N, l)``
is what the large model needs, from scratch, to reach the small model's loss ``L_small``.
:mod:`scaling.growth.analysis` measures ``eta`` from growth runs,
``eta = (D_scratch - D_grown) / D_eq`` (all in large-model tokens: the tokens the grown model saves
to reach the scratch run's final loss, over the tokens the scratch run took to reach the small
model's loss), and writes this file; :mod:`scaling.growth.planner` uses it.

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
from .methods import canonical_method

DEFAULT_CALIBRATION = "data/growth/calibration.json"


class MethodCalibration(BaseModel):
    model_config = ConfigDict(extra="allow")
    method: str
    eta: float | None = Field(description="mean over seeds of the credited fraction (see module docstring)")
    eta_sd: float | None = None
    eta_seeds: list[float | None] = Field(default_factory=list)
    delta_tokens: list[float | None] = Field(default_factory=list, description="measured token credit per seed")
    operator_steps: int = 0
    operator_tokens_per_step: int | None = None
    n_seeds: int = 0
    flags: list[str] = Field(default_factory=list)


class Calibration(BaseModel):
    """data/growth/calibration.json: the measured token credit of each growth method."""

    model_config = ConfigDict(extra="allow")
    version: int = 1
    source: str = ""
    created_at: str = ""
    definition: str = ""
    corpus: str | None = None
    corpus_fingerprint: str | None = None
    small: dict[str, Any] = Field(default_factory=dict)
    large: dict[str, Any] = Field(default_factory=dict)
    methods: dict[str, MethodCalibration] = Field(default_factory=dict)
    renamed: dict[str, str] = Field(default_factory=dict, description="old method name -> its name now")

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
