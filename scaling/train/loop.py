"""Train one run to an exact token budget: the loop every sweep executor calls.

``train(config, run_dir)`` builds the model of a :class:`scaling.store.RunConfig`, trains it for
``config.steps`` optimizer steps of ``batch_size x context`` tokens (so the tokens trained are
``config.trained_tokens``, which the sweep makes equal to the requested tokens) and writes the
run directory (curve.csv at every evaluation, result.json at the end).

- Optimizer: AdamW (decay on matrices, none on norm weights), gradient clipping.
- Schedule: linear warm-up, then cosine (or WSD, linear, constant) decay that reaches
  ``min_lr_ratio * lr`` exactly at the last step: the schedule always ends at this run's budget
  (:mod:`scaling.train.schedule`).
- Data order: the batch of step ``s`` is drawn from ``(seed, s)`` alone
  (:func:`scaling.train.data.batch_offsets`), so a run resumed from a checkpoint sees the same
  data, in the same order, as an uninterrupted run, and computes the same numbers.
- Evaluation: ``eval_points`` times, on fixed held-out windows (the same for every run on a
  corpus); the last evaluation uses ``final_eval_tokens`` and gives the run's loss.
- Checkpoints every ``checkpoint_every_s`` seconds (model, optimizer, step, curve, counters);
  loaded with ``torch.load(weights_only=True)``; each is followed by ``progress.json`` (its step
  and tokens, for ``scaling sweep status`` without torch). A checkpoint that cannot be loaded is
  set aside (``checkpoint.pt.corrupt-<time>``) and the run starts again from scratch, with a
  warning; so is a corrupt result.json (the run is then unfinished: it resumes).
- Divergence: a non-finite loss, or a running train loss above ln(vocab) + ``divergence_margin``
  (worse than guessing uniformly), ends the run as ``failed`` with the reason.
- Accounting: FLOPs by the run's convention (:mod:`scaling.flops`), tokens/s, achieved FLOP/s and
  MFU (PaLM model FLOPs, attention included, over the device's peak: the catalogue's dense BF16
  peak on a known GPU, else a matmul measured in the run's dtype and thread count).
"""

from __future__ import annotations

import io
import math
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .. import flops as _flops
from .. import store
from .._io import atomic_write_bytes
from ..errors import ScalingError
from . import data as _data
from . import sparse
from . import tokens as _tokens
from .checkpoint import read_checkpoint, save_checkpoint, set_aside_corrupt
from .devices import autocast, device_peak, resolve_device
from .model import GPT, GPTConfig
from .schedule import eval_steps, lr_at

LOSS_FLUSH_EVERY = 8  # steps between reading losses back (a device sync on GPUs)


class Diverged(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# evaluation


@torch.no_grad()
def evaluate(
    model: GPT, tokens: np.ndarray, n_tokens: int, *, batch_size: int, device: torch.device, dtype: str = "fp32"
) -> float:
    """Mean next-token loss (nats) over the fixed held-out windows of :func:`data.eval_offsets`."""
    context = model.config.context
    offsets = _data.eval_offsets(len(tokens), context, n_tokens)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(offsets), batch_size):
        x, y = _data.gather(tokens, offsets[i : i + batch_size], context)
        x, y = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
        with autocast(device, dtype):
            _, loss = model(x, y)
        total += float(loss) * y.numel()
        count += y.numel()
    model.train(was_training)
    return total / count


# ---------------------------------------------------------------------------------------------
# the run


def build_model(cfg: store.RunConfig) -> GPT:
    """The run's model, initialised from its seed; its parameter count is checked against flops.py."""
    torch.manual_seed(cfg.seed)
    model = GPT(GPTConfig.from_shape(cfg))
    got = model.param_counts()
    want = cfg.param_counts()
    if got["total"] != want["total"] or got["non_embedding"] != want["non_embedding"]:
        raise AssertionError(f"model has {got} parameters but scaling.flops counts {want}")
    return model


def _make_optimizer(model: GPT, cfg: store.RunConfig, device: torch.device):
    kw = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps)
    try:
        return torch.optim.AdamW(model.decay_groups(cfg.weight_decay), fused=True, **kw)
    except (RuntimeError, TypeError):  # no fused kernel for this device
        return torch.optim.AdamW(model.decay_groups(cfg.weight_decay), foreach=True, **kw)


def train(
    config: store.RunConfig | dict,
    run_dir: str | os.PathLike | None = None,
    *,
    data_dir=None,
    resume: bool = True,
    progress: Callable[[dict], None] | None = None,
    stop_after_steps: int | None = None,
    data: _tokens.TokenData | None = None,
    quiet: bool = True,
    init_state: dict | None = None,
) -> store.RunResult | None:
    """Train one run; write ``run_dir`` (if given) and return its RunResult.

    A run whose result.json exists is not trained again (its result is returned). With
    ``resume`` an unfinished run continues from its checkpoint. ``stop_after_steps`` simulates an
    interruption: the run checkpoints after that many steps and returns None. ``progress`` is
    called about once a second with ``{run_id, step, steps, tokens, total_tokens, train_loss}``.
    ``data`` passes an already prepared corpus (it must be the config's). ``init_state`` is a state
    dict the freshly built model starts from instead of its seeded init (a grown model, issue 7);
    it must fit the config's shape exactly, and a checkpoint of a resumed run still wins over it.
    """
    cfg = config if isinstance(config, store.RunConfig) else store.RunConfig.model_validate(config)
    path = Path(run_dir) if run_dir is not None else None
    lock = None
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        lock = store.RunLock(path)
        if not lock.acquire():
            raise store.RunBusy(f"run {path} is being trained by another process")
    try:
        if path is not None:
            store.write_config(path, cfg)
            try:
                done = store.read_result(path)
            except store.CorruptRunFile as exc:  # unfinished after all: train it (resume if we can)
                set_aside_corrupt(exc.path, exc.problem, "training the run again")
                done = None
            if done is not None:
                (path / store.CHECKPOINT).unlink(missing_ok=True)
                (path / store.PROGRESS).unlink(missing_ok=True)
                (path / store.LOCK).unlink(missing_ok=True)
                return done
        result = _train(
            cfg,
            path,
            data_dir=data_dir,
            resume=resume,
            progress=progress,
            stop_after_steps=stop_after_steps,
            data=data,
            quiet=quiet,
            init_state=init_state,
        )
        if result is not None and path is not None:
            # finished: nobody will train it again (result.json says so), so the lock file can go
            (path / store.LOCK).unlink(missing_ok=True)
        return result
    finally:
        if lock is not None:
            lock.release()


def _load_init_state(model: GPT, init_state: dict, cfg: store.RunConfig) -> None:
    """Overwrite the fresh model with ``init_state``; a state of another shape is a one-line error."""
    try:
        model.load_state_dict(init_state)
    except RuntimeError as exc:  # torch lists every missing/unexpected/mis-sized key
        first = str(exc).strip().splitlines()
        detail = next((line.strip() for line in first[1:] if line.strip()), first[0] if first else "")
        raise ScalingError(
            f"run {cfg.run_id}: the initial state does not fit its model "
            f"({cfg.n_layer} layers x {cfg.d_model}, mixer {cfg.mixer}): {detail}"
        ) from None


def _train(cfg, path, *, data_dir, resume, progress, stop_after_steps, data, quiet, init_state=None):
    t_start = time.perf_counter()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if data is None:
        data = _tokens.prepare(
            cfg.corpus,
            cfg.tokenizer,
            val_fraction=cfg.val_fraction,
            data_dir=data_dir,
            max_bytes=cfg.corpus_max_bytes,
            quiet=quiet,
        )
    if data.vocab != cfg.vocab:
        raise ScalingError(f"corpus vocabulary {data.vocab} != model vocabulary {cfg.vocab}")
    ckpt_file = path / store.CHECKPOINT if path is not None else None
    ck = read_checkpoint(ckpt_file, map_location=device) if resume and ckpt_file is not None else None

    model = build_model(cfg)
    if init_state is not None:
        _load_init_state(model, init_state, cfg)
    model = model.to(device)
    counts = model.param_counts()
    # the compiled module shares the parameters; checkpoints and model.pt use the plain one
    step_model = torch.compile(model) if cfg.compile else model
    opt = _make_optimizer(model, cfg, device)
    # sparse layers: magnitude masks prune after their dense warm-up, and every mask is re-applied
    # after each step (scaling.train.sparse); the hook's step count travels in the state dict
    sparse.attach(model, opt)
    steps, B, T = cfg.steps, cfg.batch_size, cfg.context
    micro = cfg.micro_batch_size or B
    evals = set(eval_steps(cfg))
    sweep_dir = path.parent if path is not None else None

    # state that a checkpoint carries
    st = dict(
        step=0,
        curve=[],
        loss_sum=0.0,
        loss_count=0,
        ema=None,
        last_train_loss=None,
        train_time=0.0,
        eval_time=0.0,
        wall_time=0.0,
        resumes=0,
        started_at=store.now(),
        branch_step=None,
        corpus_fingerprint=data.fingerprint,
    )
    if ck is not None:
        try:
            model.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:  # another shape or optimizer
            set_aside_corrupt(
                ckpt_file,
                f"does not fit this run's model or optimizer ({' '.join(str(exc).split())[:200]})",
                "starting from scratch",
            )
            # the model may be half-loaded: build everything again, exactly as a fresh run does
            return _train(
                cfg,
                path,
                data_dir=data_dir,
                resume=resume,
                progress=progress,
                stop_after_steps=stop_after_steps,
                data=data,
                quiet=quiet,
                init_state=init_state,
            )
        st.update(ck["state"])
        if st["corpus_fingerprint"] != data.fingerprint:  # a checkpoint from before the corpus changed
            raise ScalingError(
                f"run {cfg.run_id}: its checkpoint was trained on corpus {cfg.corpus!r} with "
                f"fingerprint {st['corpus_fingerprint']}, but that corpus is now "
                f"{data.fingerprint}: delete {path} (or fetch the same corpus) to train it again"
            )
        if st.pop("branch_fresh", False):  # a WSD branch's first start from its trunk's state
            if sweep_dir is not None:
                store.journal(sweep_dir, "branch", cfg.run_id, trunk=cfg.trunk, step=st["step"])
        else:
            st["resumes"] += 1
            if sweep_dir is not None:
                store.journal(sweep_dir, "resume", cfg.run_id, step=st["step"])
    elif sweep_dir is not None:
        store.journal(sweep_dir, "start", cfg.run_id, steps=steps)
    wall0 = st["wall_time"]

    def checkpoint():
        if path is None:
            return
        state = {k: v for k, v in st.items()}
        state["wall_time"] = wall0 + time.perf_counter() - t_start
        save_checkpoint(
            path, {"model": model.state_dict(), "optimizer": opt.state_dict(), "state": state}, steps, B * T
        )

    ln_vocab = math.log(cfg.vocab)
    pending: list[torch.Tensor] = []

    def flush(step_of_last: int):
        """Read the pending losses back; raise Diverged on a non-finite or runaway loss."""
        if not pending:
            return
        values = torch.stack(pending).tolist()
        first = step_of_last - len(values) + 1
        pending.clear()
        for i, v in enumerate(values):
            if not math.isfinite(v):
                raise Diverged(f"diverged: train loss is {v} at step {first + i + 1} of {steps}")
            st["ema"] = v if st["ema"] is None else 0.9 * st["ema"] + 0.1 * v
            st["loss_sum"] += v
            st["loss_count"] += 1
            st["last_train_loss"] = v
            if st["ema"] > ln_vocab + cfg.divergence_margin:
                raise Diverged(
                    f"diverged: train loss {st['ema']:.3g} at step {first + i + 1} of {steps} is "
                    f"above ln(vocab) + {cfg.divergence_margin:g} = {ln_vocab + cfg.divergence_margin:.3g}"
                )

    failure = None
    last_ckpt = time.perf_counter()
    last_progress = 0.0
    model.train()
    t_seg = time.perf_counter()
    try:
        for step in range(st["step"], steps):
            lr = lr_at(step, cfg)
            for group in opt.param_groups:
                group["lr"] = lr
            offsets = _data.batch_offsets(len(data.train), T, B, cfg.seed, step, order=cfg.data_order)
            for m0 in range(0, B, micro):
                x, y = _data.gather(data.train, offsets[m0 : m0 + micro], T)
                x = torch.from_numpy(x).to(device, non_blocking=True)
                y = torch.from_numpy(y).to(device, non_blocking=True)
                with autocast(device, cfg.dtype):
                    _, loss = step_model(x, y)
                (loss * (micro / B) if micro != B else loss).backward()
                pending.append(loss.detach() if micro == B else loss.detach() * (micro / B))
            if micro != B:  # one value per step
                pending[-(B // micro) :] = [torch.stack(pending[-(B // micro) :]).sum()]
            if cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            opt.zero_grad(set_to_none=True)
            done = step + 1
            now = time.perf_counter()
            if (
                done in evals
                or len(pending) >= LOSS_FLUSH_EVERY
                or done == stop_after_steps
                or now - last_ckpt >= cfg.checkpoint_every_s
            ):
                flush(step)
            if done in evals:
                st["train_time"] += time.perf_counter() - t_seg
                t_eval = time.perf_counter()
                final = done == steps
                val = evaluate(
                    model,
                    data.val,
                    cfg.final_eval_tokens if final else cfg.eval_tokens,
                    batch_size=micro,
                    device=device,
                    dtype=cfg.dtype,
                )
                st["eval_time"] += time.perf_counter() - t_eval
                train_loss = st["loss_sum"] / max(1, st["loss_count"])
                st["loss_sum"], st["loss_count"] = 0.0, 0
                st["curve"].append(
                    {
                        "step": done,
                        "tokens": done * B * T,
                        "flops": float(cfg.flops_per_token() * done * B * T),
                        "lr": lr,
                        "train_loss": train_loss,
                        "val_loss": val,
                        "time_s": round(wall0 + time.perf_counter() - t_start, 3),
                    }
                )
                if path is not None:
                    store.write_curve(path, st["curve"])
                t_seg = time.perf_counter()
            st["step"] = done
            if progress is not None and (now - last_progress >= 1.0 or done == steps):
                last_progress = now
                progress(
                    {
                        "run_id": cfg.run_id,
                        "step": done,
                        "steps": steps,
                        "tokens": done * B * T,
                        "total_tokens": steps * B * T,
                        "train_loss": st["last_train_loss"],
                    }
                )
            if done == stop_after_steps and done < steps:
                st["train_time"] += time.perf_counter() - t_seg
                checkpoint()
                return None
            if path is not None and now - last_ckpt >= cfg.checkpoint_every_s and done < steps:
                st["train_time"] += time.perf_counter() - t_seg
                checkpoint()
                last_ckpt = t_seg = time.perf_counter()
        flush(steps - 1)
    except Diverged as exc:
        failure = str(exc)
    if failure is None:
        st["train_time"] += time.perf_counter() - t_seg

    trained_steps = st["step"]
    tokens = trained_steps * B * T
    fpt = float(cfg.flops_per_token())
    model_fpt = float(
        _flops.flops_per_token(
            cfg.n_layer,
            cfg.d_model,
            cfg.context,
            cfg.vocab,
            d_ff=cfg.d_ff,
            n_head=cfg.n_head,
            convention="palm",
            mixer=cfg.mixer,
            sparsity=cfg.sparsity,
        )
    )
    train_time = st["train_time"]
    tps = tokens / train_time if train_time > 0 and tokens else None
    peak, peak_src = device_peak(device, cfg.dtype) if failure is None else (None, None)
    result = store.RunResult(
        sweep=cfg.sweep,
        run_id=cfg.run_id,
        status="ok" if failure is None else "failed",
        reason=failure,
        loss=st["curve"][-1]["val_loss"] if failure is None else None,
        train_loss=st["last_train_loss"],
        params=counts["total"],
        non_embedding_params=counts["non_embedding"],
        embedding_params=counts["embedding"],
        # the masks' planned count (a magnitude mask is not in force at build time)
        nonzero_params=sparse.param_counts(model)["nonzero"] if cfg.sparsity else counts["total"],
        # weights that are really non-zero at the end (dense minus the sparse layers' exact zeros):
        # the check that the masks held
        nonzero_measured=(counts["total"] - sparse.count_zeros(model)) if cfg.sparsity else None,
        tokens=tokens,
        steps=trained_steps,
        flops=fpt * tokens,
        flops_convention=cfg.flops_convention,
        flops_per_token=fpt,
        budget=cfg.budget,
        tokens_per_s=tps,
        flops_per_s=fpt * tps if tps else None,
        model_flops_per_s=model_fpt * tps if tps else None,
        peak_flops=peak,
        peak_source=peak_src,
        mfu=model_fpt * tps / peak if (tps and peak) else None,
        wall_time_s=wall0 + time.perf_counter() - t_start,
        train_time_s=train_time,
        eval_time_s=st["eval_time"],
        corpus=cfg.corpus,
        corpus_fingerprint=data.fingerprint,
        train_tokens_available=int(len(data.train)),
        val_tokens=int(len(data.val)),
        epochs=tokens / len(data.train),
        trunk=cfg.trunk,
        branch_step=st["branch_step"] if cfg.trunk else None,
        spent_flops=fpt * (trained_steps - (st["branch_step"] or 0 if cfg.trunk else 0)) * B * T,
        device=str(device),
        dtype=cfg.dtype,
        threads=torch.get_num_threads(),
        torch_version=torch.__version__,
        hostname=socket.gethostname(),
        resumes=st["resumes"],
        started_at=st["started_at"],
        finished_at=store.now(),
    )
    if path is not None:
        if cfg.save_model and failure is None:
            buf = io.BytesIO()
            torch.save(model.state_dict(), buf)
            atomic_write_bytes(path / store.MODEL, buf.getvalue())
        if st["curve"]:
            store.write_curve(path, st["curve"])
        store.write_result(path, result)  # the commit point: the run is finished
        (path / store.CHECKPOINT).unlink(missing_ok=True)
        (path / store.PROGRESS).unlink(missing_ok=True)
        store.journal(
            sweep_dir, "finish" if failure is None else "failed", cfg.run_id, loss=result.loss, reason=failure
        )
    return result


__all__ = ["train", "evaluate", "build_model"]
