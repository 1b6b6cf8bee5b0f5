"""RunResult: what a finished run produced (result.json, written last: its presence means
"finished"), and reading and writing it.

This module imports pydantic only (no torch, no pandas).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .._io import atomic_write_json
from .files import _finite, _read_model
from .layout import RESULT


class RunResult(BaseModel):
    """What a finished run produced (the contents of result.json)."""

    model_config = ConfigDict(extra="allow")

    sweep: str
    run_id: str
    status: Literal["ok", "failed"]
    reason: str | None = None
    loss: float | None = Field(default=None, description="final held-out loss, nats per token")
    train_loss: float | None = None
    params: int
    non_embedding_params: int
    embedding_params: int
    nonzero_params: int | None = None
    nonzero_measured: int | None = None  # sparse runs: weights really non-zero at the end
    tokens: int = Field(description="tokens trained (at failure: up to the failing step)")
    steps: int
    flops: float = Field(description="training FLOPs of the tokens trained, under flops_convention")
    flops_convention: str
    flops_per_token: float
    budget: float | None = None
    tokens_per_s: float | None = None
    flops_per_s: float | None = Field(default=None, description="achieved, under flops_convention")
    model_flops_per_s: float | None = Field(default=None, description="achieved, PaLM count (attention included)")
    peak_flops: float | None = None
    peak_source: str | None = None
    mfu: float | None = Field(default=None, description="model_flops_per_s / peak_flops")
    wall_time_s: float | None = None
    train_time_s: float | None = None
    eval_time_s: float | None = None
    corpus: str | None = None
    corpus_fingerprint: str | None = None
    train_tokens_available: int | None = None
    val_tokens: int | None = None
    epochs: float | None = Field(default=None, description="tokens / training-split tokens")
    trunk: str | None = Field(default=None, description="WSD branch: the trunk it started from")
    branch_step: int | None = Field(default=None, description="WSD branch: the trunk step it started from")
    spent_flops: float | None = Field(
        default=None,
        description="FLOPs this run itself trained (a branch: its "
        "cool-down only; the trunk's share is counted once per trunk)",
    )
    device: str | None = None
    dtype: str | None = None
    threads: int | None = None
    torch_version: str | None = None
    hostname: str | None = None
    resumes: int = 0
    started_at: str | None = None
    finished_at: str | None = None


def write_result(path: str | os.PathLike, result: RunResult) -> None:
    data = {k: _finite(v) if isinstance(v, float) else v for k, v in result.model_dump(mode="json").items()}
    atomic_write_json(Path(path) / RESULT, data)


def read_result(path: str | os.PathLike) -> RunResult | None:
    """The run's result.json (None while the run is unfinished); CorruptRunFile if it is unreadable."""
    return _read_model(Path(path) / RESULT, RunResult, "run result")
