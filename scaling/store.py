"""The run store: one directory per training run, written atomically, read without torch.

Layout (DESIGN.md)::

    <root>/<sweep>/journal.jsonl          append-only: one line per run start / finish / failure
    <root>/<sweep>/<run_id>/config.json   RunConfig: everything needed to reproduce the run
    <root>/<sweep>/<run_id>/curve.csv     held-out evaluations: step, tokens, flops, lr, train_loss, val_loss, time_s
    <root>/<sweep>/<run_id>/result.json   RunResult, written last: its presence means "finished"
    <root>/<sweep>/<run_id>/checkpoint.pt resume state while the run is unfinished (removed at the end)
    <root>/<sweep>/<run_id>/progress.json the checkpoint's step and tokens, readable without torch
    <root>/<sweep>/<run_id>/model.pt      final weights (a plain state dict), when config.save_model
    <root>/<sweep>/<run_id>/.lock         flock held while a process trains the run (removed when finished)

Every file is written to a temporary name and renamed into place (:mod:`scaling._io`), so a run
killed at any moment leaves either the previous or the new version of each file. A run is
*finished* when result.json exists (status ``ok`` or ``failed``); an unfinished one resumes from
checkpoint.pt. :func:`collect` turns a sweep directory into the runs table the fitter reads
(failed runs left out unless asked for).

A file that is there but cannot be read (truncated, edited, from another version) raises
:class:`CorruptRunFile`, naming the file and what is wrong with it; :func:`collect` reports such a
run (a :class:`CorruptRunWarning`) and goes on with the others, and :func:`set_aside` moves a
corrupt file out of the way (``result.json.corrupt-<time>``) so that the run can be trained again.

The file-level parts that need no schema (file names, CorruptRunFile and the other errors, the
curve, progress.json, set_aside, the journal, RunLock) live in :mod:`scaling._store_files` and are
re-exported here: ``scaling.store.X`` works for every name.

This module imports pydantic and pandas only (no torch).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ._io import atomic_write_json, atomic_write_text
from ._store_files import (  # noqa: F401  (re-exported: these names lived here)
    CHECKPOINT,
    CONFIG,
    CURVE,
    CURVE_COLUMNS,
    EXECUTION_FIELDS,
    JOURNAL,
    LOCK,
    MODEL,
    PROGRESS,
    RESULT,
    CorruptRunFile,
    CorruptRunWarning,
    RunBusy,
    RunLock,
    _finite,
    _first_problem,
    _read_model,
    journal,
    lock_held,
    now,
    read_curve,
    read_journal,
    run_dir,
    set_aside,
    write_curve,
    write_progress,
)
from .errors import ScalingError


def _tokenizer_vocab(tokenizer: str) -> int:
    if tokenizer == "bytes":
        return 256
    if tokenizer.startswith("bpe:"):
        try:
            return int(float(tokenizer[4:]))
        except ValueError:
            pass
    raise ValueError(f"unknown tokenizer {tokenizer!r} (use 'bytes' or 'bpe:VOCAB')")


class RunConfig(BaseModel):
    """Everything needed to reproduce one training run (the contents of config.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sweep: str = "default"
    run_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$", max_length=200)
    # model shape (scaling.shapes.ModelShape fields)
    n_layer: int = Field(gt=0)
    d_model: int = Field(gt=0)
    n_head: int = Field(gt=0)
    d_ff: int = Field(gt=0)
    vocab: int = Field(default=256, gt=0)
    context: int = Field(default=256, gt=0)
    mixer: str = "attention"
    sparsity: float = Field(default=0.0, ge=0.0, lt=1.0)
    sparsity_mask: Literal["random", "magnitude"] = Field(
        default="random",
        description="sparse layers: a random mask from the start, or magnitude pruning "
        "after a dense warm-up (scaling.train.sparse)",
    )
    sparsity_warmup_fraction: float = Field(
        default=0.0, ge=0.0, lt=1.0, description="magnitude masks: fraction of the steps trained dense"
    )
    # how much training
    tokens: int = Field(gt=0, description="training tokens; trained as round(tokens / (batch_size * context)) steps")
    batch_size: int = Field(gt=0, description="sequences per optimizer step")
    micro_batch_size: int | None = Field(
        default=None, gt=0, description="sequences per forward pass (gradient accumulation)"
    )
    budget: float | None = Field(default=None, gt=0, description="the isoFLOP budget this run belongs to")
    # optimizer and schedule
    lr: float = Field(gt=0)
    schedule: Literal["cosine", "wsd", "linear", "constant"] = "cosine"
    warmup_fraction: float = Field(default=0.05, ge=0, lt=1)
    warmup_steps: int | None = Field(
        default=None,
        ge=0,
        description="absolute warm-up (overrides warmup_fraction): the branches of one trunk share it",
    )
    decay_fraction: float = Field(default=0.2, gt=0, le=1, description="WSD: final fraction of steps spent decaying")
    decay_shape: Literal["linear", "sqrt"] = Field(
        default="linear", description="WSD cool-down: linear, or 1 - sqrt (Hägele et al. 2024, arXiv:2405.18392)"
    )
    trunk: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._+\-]*$",
        max_length=200,
        description="WSD branch: the run starts from this trunk's state at its decay start "
        "(scaling.train.branches); it computes exactly what a plain WSD run would",
    )
    min_lr_ratio: float = Field(default=0.1, ge=0, le=1)
    weight_decay: float = Field(default=0.1, ge=0)
    beta1: float = Field(default=0.9, ge=0, lt=1)
    beta2: float = Field(default=0.95, ge=0, lt=1)
    eps: float = Field(default=1e-8, gt=0)
    grad_clip: float | None = Field(default=1.0, gt=0)
    seed: int = 0
    # data
    corpus: str = "debian-docs"
    tokenizer: str = "bytes"
    val_fraction: float = Field(default=0.05, gt=0, lt=0.5)
    corpus_max_bytes: int | None = Field(default=None, gt=0)
    data_order: Literal["random", "shuffled"] = Field(
        default="random",
        description="random: windows drawn with replacement from (seed, step); shuffled: a "
        "seeded permutation of non-overlapping windows, so no token repeats within an epoch",
    )
    # accounting and evaluation
    flops_convention: Literal["6nd", "kaplan", "chinchilla", "palm"] = "6nd"
    eval_points: int = Field(default=20, ge=1, description="held-out evaluations, evenly spaced, the last at the end")
    eval_tokens: int = Field(default=65536, gt=0)
    final_eval_tokens: int = Field(default=262144, gt=0)
    divergence_margin: float = Field(
        default=2.0, gt=0, description="fail when the train loss exceeds ln(vocab) + this many nats"
    )
    # execution
    dtype: Literal["fp32", "bf16"] = "fp32"
    device: str = "cpu"
    threads: int | None = Field(default=None, gt=0)
    compile: bool = Field(default=False, description="torch.compile the model (GPUs; it does not pay on small CPUs)")
    checkpoint_every_s: float = Field(default=300.0, gt=0)
    save_model: bool = True
    tags: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if v not in ("cpu", "auto") and not v.startswith("cuda") and v != "mps":
            raise ValueError("must be cpu, cuda, cuda:N, mps or auto")
        return v

    @field_validator("mixer")
    @classmethod
    def _mixer(cls, v: str) -> str:
        if v not in ("attention", "hyena"):
            raise ValueError("must be 'attention' or 'hyena'")
        return v

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        if self.d_model % self.n_head:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_head {self.n_head}")
        if (self.d_model // self.n_head) % 2:
            raise ValueError(f"head size d_model / n_head = {self.d_model // self.n_head} must be even (rotary)")
        if _tokenizer_vocab(self.tokenizer) != self.vocab:
            raise ValueError(f"vocab {self.vocab} does not match tokenizer {self.tokenizer!r}")
        if self.micro_batch_size and self.batch_size % self.micro_batch_size:
            raise ValueError(
                f"batch_size {self.batch_size} is not a multiple of micro_batch_size {self.micro_batch_size}"
            )
        return self

    # --- derived
    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.context

    @property
    def steps(self) -> int:
        return max(1, round(self.tokens / self.tokens_per_step))

    @property
    def trained_tokens(self) -> int:
        """The tokens actually trained: whole optimizer steps."""
        return self.steps * self.tokens_per_step

    @property
    def warmup(self) -> int:
        """Warm-up steps (``warmup_steps`` if set, else ``warmup_fraction`` of the steps)."""
        w = self.warmup_steps if self.warmup_steps is not None else round(self.warmup_fraction * self.steps)
        return max(0, min(w, self.steps - 1))

    @property
    def decay_start(self) -> int:
        """WSD: the first step of the cool-down (a branch starts from its trunk's state here)."""
        return max(self.warmup, self.steps - max(1, round(self.decay_fraction * self.steps)))

    def shape(self):
        from .shapes import ModelShape

        return ModelShape(
            n_layer=self.n_layer,
            d_model=self.d_model,
            n_head=self.n_head,
            d_ff=self.d_ff,
            vocab=self.vocab,
            context=self.context,
            mixer=self.mixer,
            sparsity=self.sparsity,
        )

    def param_counts(self) -> dict[str, int]:
        return self.shape().param_counts()

    def flops_per_token(self) -> float:
        return self.shape().flops_per_token(self.flops_convention)

    def identity(self) -> dict[str, Any]:
        """The fields that decide what the run computes (execution fields left out)."""
        return {k: v for k, v in self.model_dump(mode="json").items() if k not in EXECUTION_FIELDS}


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


# ---------------------------------------------------------------------------------------------
# one run directory


def write_config(path: str | os.PathLike, config: RunConfig, *, check: bool = True) -> None:
    """Write config.json; if one exists, it must describe the same run (execution fields aside)."""
    path = Path(path)
    existing = path / CONFIG
    if check and existing.exists():
        old = read_config(path)
        if old.identity() != config.identity():
            diff = sorted(k for k, v in config.identity().items() if old.identity().get(k) != v)
            raise ScalingError(
                f"run {path} already exists with a different configuration ({', '.join(diff)} "
                "differ): use another sweep name or root, or delete the run directory"
            )
        if old.model_dump() == config.model_dump():
            return
    atomic_write_json(existing, config.model_dump(mode="json"))


def read_config(path: str | os.PathLike) -> RunConfig:
    """The run's config.json; FileNotFoundError if there is none, CorruptRunFile if it is unreadable."""
    file = Path(path, CONFIG)
    cfg = _read_model(file, RunConfig, "run configuration")
    if cfg is None:
        raise FileNotFoundError(2, "No such file or directory", str(file))
    return cfg


def write_result(path: str | os.PathLike, result: RunResult) -> None:
    data = {k: _finite(v) if isinstance(v, float) else v for k, v in result.model_dump(mode="json").items()}
    atomic_write_json(Path(path) / RESULT, data)


def read_result(path: str | os.PathLike) -> RunResult | None:
    """The run's result.json (None while the run is unfinished); CorruptRunFile if it is unreadable."""
    return _read_model(Path(path) / RESULT, RunResult, "run result")


def read_progress(path: str | os.PathLike) -> dict | None:
    """The checkpoint's progress (``step``, ``steps``, ``tokens``) of an unfinished run: progress.json
    when it is there and not older than the checkpoint, else the checkpoint itself when torch can be
    imported; None when there is no (readable) checkpoint."""
    path = Path(path)
    ckpt, prog = path / CHECKPOINT, path / PROGRESS
    try:
        ck_mtime = ckpt.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        if prog.stat().st_mtime >= ck_mtime - 1e-3:
            data = json.loads(prog.read_text())
            return {"step": int(data["step"]), "steps": int(data["steps"]), "tokens": int(data["tokens"])}
    except (OSError, ValueError, KeyError, TypeError):
        pass
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return None
    try:
        import torch

        ck = torch.load(ckpt, map_location="cpu", weights_only=True)
        step = int(ck["state"]["step"])
        cfg = read_config(path)
    except Exception:  # noqa: BLE001 - a corrupt or foreign checkpoint: no progress to show
        return None
    return {"step": step, "steps": cfg.steps, "tokens": step * cfg.tokens_per_step}


def run_state(path: str | os.PathLike) -> str:
    """``ok``, ``failed``, ``partial`` (checkpoint or curve, no result), ``pending`` or ``corrupt``
    (a result.json that cannot be read: :func:`run_problem` says why)."""
    path = Path(path)
    try:
        res = read_result(path)
    except CorruptRunFile:
        return "corrupt"
    if res is not None:
        return res.status
    if (path / CHECKPOINT).exists() or (path / CURVE).exists():
        return "partial"
    return "pending"


def run_problem(path: str | os.PathLike) -> str | None:
    """The first corrupt file of a run directory (config.json, result.json, curve.csv), as the
    one-line message of its CorruptRunFile; None when every file that is there reads."""
    path = Path(path)
    for read in (read_config, read_result, read_curve):
        try:
            read(path)
        except CorruptRunFile as exc:
            return str(exc)
        except FileNotFoundError:
            continue
    return None


# ---------------------------------------------------------------------------------------------
# a whole sweep


TABLE_COLUMNS = (
    "run_id",
    "params",
    "non_embedding_params",
    "tokens",
    "flops",
    "loss",
    "status",
    "reason",
    "sweep",
    "budget",
    "arch",
    "mixer",
    "sparsity",
    "nonzero_params",
    "seed",
    "n_layer",
    "d_model",
    "n_head",
    "d_ff",
    "vocab",
    "context",
    "batch_size",
    "lr",
    "schedule",
    "steps",
    "tokens_per_param",
    "flops_convention",
    "corpus",
    "tokenizer",
    "corpus_fingerprint",
    "epochs",
    "dtype",
    "device",
    "threads",
    "tokens_per_s",
    "flops_per_s",
    "mfu",
    "wall_time_s",
    "flops_6nd",
    "trunk",
    "spent_flops",
    "data_order",
)


def is_trunk(cfg: RunConfig) -> bool:
    """A WSD trunk's directory (scaling.train.branches): resumable state, not a run of the table."""
    return cfg.tags.get("role") == "trunk"


def iter_runs(sweep_dir: str | os.PathLike) -> Iterable[Path]:
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        return []
    return sorted(p for p in sweep_dir.iterdir() if p.is_dir() and (p / CONFIG).exists())


@dataclass
class CollectReport:
    """What a collection left out besides unfinished and failed runs: ``corrupt`` (one line per run
    with an unreadable file, naming it) and ``stale`` (run_id -> the fields in which its config.json
    differs from the spec's, or ``["not in the spec"]``)."""

    corrupt: list[str] = dataclass_field(default_factory=list)
    stale: dict[str, list[str]] = dataclass_field(default_factory=dict)
    stale_kept: bool = False


def config_diff(old: RunConfig, new: RunConfig) -> list[tuple[str, Any, Any]]:
    """The fields that decide what a run computes in which ``old`` and ``new`` differ:
    ``(field, old value, new value)``, sorted (execution fields such as threads left out)."""
    a, b = old.identity(), new.identity()
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]


def _corrupt(report: CollectReport | None, exc: CorruptRunFile) -> None:
    msg = f"{exc} (run left out)"
    if report is not None:
        report.corrupt.append(msg)
    else:
        warnings.warn(msg, CorruptRunWarning, stacklevel=3)


def _finished_runs(
    sweep_dir,
    *,
    include_failed: bool,
    run_ids=None,
    expected: dict | None = None,
    include_stale: bool = False,
    report: CollectReport | None = None,
):
    """(path, config, result) of each finished run that belongs in a table (trunks left out)."""
    wanted = set(run_ids) if run_ids is not None else None
    if report is not None:
        report.stale_kept = include_stale
    for path in iter_runs(sweep_dir):
        if wanted is not None and path.name not in wanted:
            continue
        try:
            res = read_result(path)
            if res is None or (res.status != "ok" and not include_failed):
                continue
            cfg = read_config(path)
        except CorruptRunFile as exc:
            _corrupt(report, exc)
            continue
        except FileNotFoundError:  # the directory went away while we read it
            continue
        if is_trunk(cfg):
            continue
        if expected is not None:
            want = expected.get(cfg.run_id)
            diff = ["not in the spec"] if want is None else [k for k, _, _ in config_diff(cfg, want)]
            if diff:
                if report is not None:
                    report.stale[cfg.run_id] = diff
                if not include_stale:
                    continue
        yield path, cfg, res


def collect(
    sweep_dir: str | os.PathLike,
    *,
    include_failed: bool = False,
    out: str | os.PathLike | None = None,
    run_ids: Iterable[str] | None = None,
    expected: dict[str, RunConfig] | None = None,
    include_stale: bool = False,
    report: CollectReport | None = None,
) -> pd.DataFrame:
    """The runs table of a sweep directory: one row per finished run (failed ones only if asked).

    Columns: TABLE_COLUMNS (run_id, params, non_embedding_params, tokens, flops, loss, status, ...),
    sorted by budget, params and seed. ``params`` counts all parameters (embedding included),
    ``loss`` is the final held-out loss in nats per token, ``flops`` are training FLOPs under
    ``flops_convention``. With ``out``, also written as CSV (atomically).

    ``expected`` (run_id -> RunConfig, a spec's expansion) leaves out *stale* runs, whose config.json
    differs from the spec's (execution fields aside) or which the spec no longer has, unless
    ``include_stale``. A run with a corrupt file is left out, with a CorruptRunWarning naming the
    file, or noted in ``report`` (a :class:`CollectReport`, which also lists the stale runs).
    """
    rows = []
    for _, cfg, res in _finished_runs(
        sweep_dir,
        include_failed=include_failed,
        run_ids=run_ids,
        expected=expected,
        include_stale=include_stale,
        report=report,
    ):
        rows.append(
            {
                "run_id": res.run_id,
                "params": res.params,
                "non_embedding_params": res.non_embedding_params,
                "tokens": res.tokens,
                "flops": res.flops,
                "loss": res.loss,
                "status": res.status,
                "reason": res.reason or "",
                "sweep": res.sweep,
                "budget": res.budget,
                "arch": "gpt",
                "mixer": cfg.mixer,
                "sparsity": cfg.sparsity,
                "nonzero_params": res.nonzero_params,
                "seed": cfg.seed,
                "n_layer": cfg.n_layer,
                "d_model": cfg.d_model,
                "n_head": cfg.n_head,
                "d_ff": cfg.d_ff,
                "vocab": cfg.vocab,
                "context": cfg.context,
                "batch_size": cfg.batch_size,
                "lr": cfg.lr,
                "schedule": cfg.schedule,
                "steps": res.steps,
                "tokens_per_param": res.tokens / res.params,
                "flops_convention": res.flops_convention,
                "corpus": cfg.corpus,
                "tokenizer": cfg.tokenizer,
                "corpus_fingerprint": res.corpus_fingerprint,
                "epochs": res.epochs,
                "dtype": res.dtype,
                "device": res.device,
                "threads": res.threads,
                "tokens_per_s": res.tokens_per_s,
                "flops_per_s": res.flops_per_s,
                "mfu": res.mfu,
                "wall_time_s": res.wall_time_s,
                "flops_6nd": 6.0 * res.params * res.tokens,
                "trunk": res.trunk or "",
                "spent_flops": res.spent_flops if res.spent_flops is not None else res.flops,
                "data_order": cfg.data_order,
            }
        )
    df = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    if len(df):
        df = df.sort_values(["budget", "params", "seed", "run_id"], na_position="last").reset_index(drop=True)
    if out is not None:
        atomic_write_text(out, df.to_csv(index=False))
    return df


def trunk_flops(results: Iterable[RunResult]) -> dict[str, float]:
    """FLOPs each WSD trunk spent for the given branches: up to the latest of their branch points."""
    out: dict[str, float] = {}
    for r in results:
        if r.trunk:
            f = r.flops_per_token * (r.branch_step or 0) * (r.tokens / max(1, r.steps))
            out[r.trunk] = max(out.get(r.trunk, 0.0), f)
    return out


def sweep_compute(sweep_dir: str | os.PathLike) -> dict[str, float]:
    """FLOPs of a sweep's finished runs: ``nominal`` (each run as if trained alone) and ``spent``
    (what was really computed: plain runs whole, each WSD trunk once up to its last branch point,
    each branch's cool-down), under each run's convention. Corrupt runs are left out (with a warning)."""
    done: list[RunResult] = []
    for path in iter_runs(sweep_dir):
        try:
            res = read_result(path)
        except CorruptRunFile as exc:
            _corrupt(None, exc)
            continue
        if res is not None and res.status == "ok":
            done.append(res)
    nominal = sum(r.flops for r in done)
    spent = sum((r.spent_flops or 0.0) if r.trunk else r.flops for r in done)
    trunks = trunk_flops(done)
    return {"nominal": nominal, "spent": spent + sum(trunks.values()), "trunks": float(len(trunks))}


def collect_curves(
    sweep_dir: str | os.PathLike,
    *,
    include_failed: bool = False,
    out: str | os.PathLike | None = None,
    expected: dict[str, RunConfig] | None = None,
    include_stale: bool = False,
    report: CollectReport | None = None,
) -> pd.DataFrame:
    """Every evaluation of every finished run: run_id, params, budget, seed + the curve columns.
    Stale and corrupt runs (a corrupt curve.csv included) are treated as in :func:`collect`."""
    frames = []
    for path, cfg, res in _finished_runs(
        sweep_dir, include_failed=include_failed, expected=expected, include_stale=include_stale, report=report
    ):
        try:
            cur = read_curve(path)
        except CorruptRunFile as exc:
            _corrupt(report, exc)
            continue
        if not len(cur):
            continue
        cur.insert(0, "run_id", res.run_id)
        cur.insert(1, "params", res.params)
        cur.insert(2, "non_embedding_params", res.non_embedding_params)
        cur.insert(3, "budget", res.budget)
        cur.insert(4, "seed", cfg.seed)
        cur["loss"] = cur["val_loss"]
        frames.append(cur)
    df = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(
            columns=["run_id", "params", "non_embedding_params", "budget", "seed", *CURVE_COLUMNS, "loss"]
        )
    )
    if out is not None:
        atomic_write_text(out, df.to_csv(index=False))
    return df


__all__ = [
    "LOCK",
    "RunConfig",
    "RunResult",
    "RunLock",
    "run_dir",
    "write_config",
    "read_config",
    "write_result",
    "read_result",
    "write_curve",
    "read_curve",
    "run_state",
    "run_problem",
    "journal",
    "read_journal",
    "iter_runs",
    "collect",
    "collect_curves",
    "sweep_compute",
    "is_trunk",
    "TABLE_COLUMNS",
    "CURVE_COLUMNS",
    "CONFIG",
    "CURVE",
    "RESULT",
    "CHECKPOINT",
    "MODEL",
    "JOURNAL",
    "PROGRESS",
    "CorruptRunFile",
    "CorruptRunWarning",
    "RunBusy",
    "CollectReport",
    "config_diff",
    "set_aside",
    "lock_held",
    "write_progress",
    "read_progress",
]
