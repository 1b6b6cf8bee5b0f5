"""A sweep spec -> its run configurations: sizes snapped to shapes, tokens from budgets, per-size
learning-rate and batch rules, WSD branches sharing a trunk, the units of work of an executor,
and the checks made before anything is trained (epochs of the corpus, memory).

The functions take a :class:`scaling.sweep.spec.SweepSpec` (``spec``); this module imports
nothing from :mod:`scaling.sweep.spec`, which calls it (``SweepSpec.expand``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from .. import store
from ..errors import ScalingError
from ..flops import _param_terms, flops_per_token
from ..shapes import SNAP_RANGE_TOLERANCE, ModelShape, check_snap_range, ideal_aspect, shape_for_params
from ..train.tokens import tokenizer_vocab as vocab_of
from ..units import si
from .messages import friendly


def _pow2(x: float) -> int:
    return max(1, 2 ** round(math.log2(max(1.0, x))))


def _fmt(x: float) -> str:
    """1e12 -> '1e12', 4.6e12 -> '4.6e12', 2.15e13 -> '2.15e13'."""
    m, e = f"{x:.3g}".split("e") if "e" in f"{x:.3g}" else (f"{x:.3g}", None)
    if e is None:
        return m
    return f"{m}e{int(e)}"


def _aspect_shape(spec, target: float, vocab: int):
    """Shape rule "aspect": over widths in steps of ``width_multiple`` and integer depths, minimise
    ``|ln(N / target)| + aspect_weight |ln(aspect / ideal_aspect)|``: a family whose depth grows
    steadily with size (the closest-size search jumps between 1 and 4 layers at tiny sizes)."""
    m = spec.model
    w = np.arange(m.width_multiple, 8192 + 1, m.width_multiple, dtype=float)
    f = np.round(m.d_ff_mult * w / 8.0) * 8.0
    per_layer, _, const, emb = _param_terms(w, vocab, f, mixer=m.mixer)
    base = const + (0.0 if m.non_embedding else emb)
    layers = np.arange(1, 129, dtype=float)[:, None]
    n = layers * per_layer[None, :] + base[None, :]
    check_snap_range(target, n, f"128 layers x width {int(w[-1])}")
    score = np.abs(np.log(n / target)) + m.aspect_weight * np.abs(
        np.log((w[None, :] / layers) / ideal_aspect(w)[None, :])
    )
    if m.attention_share is not None:
        score = np.where(_share_band(m, layers, w, f, vocab), score, np.inf)
        _check_share_reach(m, target, n[np.isfinite(score)])
    li, wi = np.unravel_index(int(np.argmin(score)), score.shape)
    d = int(w[wi])
    hd = m.head_dim or next((h for h in (64, 32, 16, 8) if d % h == 0 and d // h >= (2 if d >= 128 else 1)), d)
    if d % hd:
        raise ScalingError(f"model.head_dim {hd} does not divide width {d}")
    return ModelShape(
        int(layers[li, 0]), d, n_head=d // hd, d_ff=int(f[wi]), vocab=vocab, context=m.context, mixer=m.mixer
    )


def attention_share(n_layer, d_model, context, vocab, d_ff):
    """Attention's context FLOPs as a fraction of the weight FLOPs: ``12 n_layer d_model context /
    6 N`` (the PaLM count, Chowdhery et al. 2022, arXiv:2204.02311, Appendix B, with N all
    parameters of the attention decoder of that shape), from :func:`scaling.flops.flops_per_token`.
    Vectorised."""
    palm = flops_per_token(n_layer, d_model, context, vocab, d_ff=d_ff, convention="palm")
    return palm / flops_per_token(n_layer, d_model, context, vocab, d_ff=d_ff, convention="6nd") - 1.0


def _share_band(m, layers, w, f, vocab) -> np.ndarray:
    lo, hi = m.attention_share
    share = attention_share(layers, w[None, :], m.context, vocab, f[None, :])
    return (share >= lo) & (share <= hi)


def _check_share_reach(m, target: float, allowed: np.ndarray) -> None:
    """As :func:`scaling.shapes.check_snap_range`, inside the band: a target above its largest shape
    is an error; one below its smallest snaps up to it (and a sweep trains that shape once)."""
    lo, hi = m.attention_share
    if not allowed.size:
        raise ScalingError(
            f"model.attention_share [{lo:g}, {hi:g}]: no shape (widths {m.width_multiple}.., up to 128 layers) "
            f"has that share at context {m.context}"
        )
    if target > float(allowed.max()) * (1 + SNAP_RANGE_TOLERANCE):
        raise ScalingError(
            f"model.attention_share [{lo:g}, {hi:g}]: {si(target)} parameters is beyond the largest shape "
            f"with that share at context {m.context} ({si(float(allowed.max()))}, 128 layers): choose smaller "
            "sizes or a longer context"
        )


def _shape_for(spec, target: float, where: str):
    vocab = vocab_of(spec.model.tokenizer)
    if spec.model.shape_rule == "aspect":
        try:
            shape = _aspect_shape(spec, target, vocab)
        except ScalingError as exc:
            raise ScalingError(f"{where}: {exc}") from None
    else:
        try:
            res = shape_for_params(
                target,
                vocab=vocab,
                context=spec.model.context,
                non_embedding=spec.model.non_embedding,
                mixer=spec.model.mixer,
                d_ff_mult=spec.model.d_ff_mult,
            )
        except ScalingError as exc:
            raise ScalingError(f"{where}: {exc}") from None
        shape = res.shape
        if spec.model.head_dim:
            if shape.d_model % spec.model.head_dim:
                raise ScalingError(
                    f"{where}: model.head_dim {spec.model.head_dim} does not divide width {shape.d_model}"
                )
            shape = ModelShape(
                shape.n_layer,
                shape.d_model,
                n_head=shape.d_model // spec.model.head_dim,
                d_ff=shape.d_ff,
                vocab=vocab,
                context=shape.context,
                mixer=shape.mixer,
            )
    if shape.d_head % 2:  # rotary embeddings rotate pairs of channels
        heads = next(
            (h for h in range(shape.n_head, 0, -1) if shape.d_model % h == 0 and (shape.d_model // h) % 2 == 0), None
        )
        if heads is None:
            raise ScalingError(
                f"{where}: width {shape.d_model} is odd, so no head size is even (rotary embeddings): "
                "use an even model.width_multiple"
            )
        shape = ModelShape(
            shape.n_layer,
            shape.d_model,
            n_head=heads,
            d_ff=shape.d_ff,
            vocab=shape.vocab,
            context=shape.context,
            mixer=shape.mixer,
        )
    # sizes target the dense parameter count; the shape carries the sparsity, so that its FLOPs per
    # token (and an isoFLOP run's tokens) count only the non-zero weights
    return dataclasses.replace(shape, sparsity=spec.model.sparsity) if spec.model.sparsity else shape


def _counted(spec, shape) -> float:
    pc = shape.param_counts()
    return float(pc["non_embedding"] if spec.model.non_embedding else pc["total"])


def _train_fields(spec, params: float, tokens: float, lr=None, batch=None) -> dict:
    t = spec.train
    lr = lr if lr is not None else (t.lr(params) if callable(t.lr) else t.lr)  # a PowerRule or a number
    if not (math.isfinite(lr) and lr > 0):
        raise ScalingError(f"train.lr: the rule gives {lr:g} at {params:.4g} parameters (give min and max)")
    if batch is None:
        if callable(t.batch_size):  # a PowerRule
            b = t.batch_size(params)
            if not (math.isfinite(b) and 0 < b <= 2**40):
                raise ScalingError(
                    f"train.batch_size: the rule gives {b:g} at {params:.4g} parameters (give min and max)"
                )
            batch = _pow2(b)
        else:
            batch = t.batch_size
    ctx = spec.model.context
    while t.min_steps and batch > 1 and tokens / (batch * ctx) < t.min_steps:
        batch //= 2
    if t.micro_batch_size and batch % t.micro_batch_size:
        batch = max(t.micro_batch_size, batch // t.micro_batch_size * t.micro_batch_size)
    steps = max(1, round(tokens / (batch * ctx)))
    return dict(
        lr=float(lr),
        batch_size=int(batch),
        tokens=int(steps * batch * ctx),
        micro_batch_size=t.micro_batch_size if t.micro_batch_size and t.micro_batch_size < batch else None,
        schedule=t.schedule,
        warmup_fraction=t.warmup_fraction,
        decay_fraction=t.decay_fraction,
        decay_shape=t.decay_shape,
        min_lr_ratio=t.min_lr_ratio,
        weight_decay=t.weight_decay,
        beta1=t.beta1,
        beta2=t.beta2,
        grad_clip=t.grad_clip,
        dtype=t.dtype,
        device=t.device,
        eval_points=t.eval_points,
        eval_tokens=t.eval_tokens,
        final_eval_tokens=t.final_eval_tokens,
        divergence_margin=t.divergence_margin,
        checkpoint_every_s=t.checkpoint_every_s,
        save_model=t.save_model,
        compile=t.compile,
    )


def _config(spec, name: str, run_id: str, shape, seed: int, fields: dict, budget=None, tags=None, where: str = ""):
    try:
        return _run_config(spec, name, run_id, shape, seed, fields, budget, tags)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err.get("loc", ()))
        raise ScalingError(
            f"{where}: run {run_id[:60]!r}: {loc + ': ' if loc else ''}{friendly(err.get('msg', ''))}"
        ) from None


def _run_config(spec, name: str, run_id: str, shape, seed: int, fields: dict, budget=None, tags=None):
    return store.RunConfig(
        sweep=name,
        run_id=run_id,
        n_layer=shape.n_layer,
        d_model=shape.d_model,
        n_head=shape.n_head,
        d_ff=shape.d_ff,
        vocab=vocab_of(spec.model.tokenizer),
        context=spec.model.context,
        mixer=spec.model.mixer,
        sparsity=spec.model.sparsity,
        sparsity_mask=spec.model.sparsity_mask,
        sparsity_warmup_fraction=spec.model.sparsity_warmup_fraction,
        sparsity_pattern=spec.model.sparsity_pattern,
        budget=budget,
        seed=seed,
        corpus=spec.data.corpus,
        tokenizer=spec.model.tokenizer,
        val_fraction=spec.data.val_fraction,
        corpus_max_bytes=int(spec.data.max_bytes) if spec.data.max_bytes else None,
        data_order=spec.data.order,
        flops_convention=spec.flops_convention,
        tags=tags or {},
        **fields,
    )


def expand_spec(spec, name: str, origins: dict[str, str] | None = None) -> list[store.RunConfig]:
    """The run configurations of a spec; ``origins`` (if given) gets run_id -> the spec key it
    comes from (``budgets[1] x size_multipliers[2]``, ``params[0]``, ``runs[3]``)."""
    origins = {} if origins is None else origins
    vocab = vocab_of(spec.model.tokenizer)
    ctx = spec.model.context
    configs: list[store.RunConfig] = []
    short_seeds = list(spec.short_run_seeds or [])
    # a list spec's runs may name their own seeds: every seed any run trains, in order of appearance
    run_seeds = [s for r in (spec.runs or []) for s in (r.seeds or [])]
    all_seeds = list(dict.fromkeys([*spec.seeds, *short_seeds, *run_seeds]))
    for seed in all_seeds:
        short_only = seed in short_seeds  # a further seed of the short runs only

        def too_long(f: dict, short_only: bool = short_only) -> bool:
            return short_only and f["tokens"] / (f["batch_size"] * ctx) > (spec.short_run_max_steps or 0)

        if spec.kind == "isoflop":
            tpp = spec.tokens_per_param or 20.0
            c_ref = math.exp(sum(math.log(b) for b in spec.budgets) / len(spec.budgets))
            for bi, C in enumerate(spec.budgets):
                try:
                    n_opt = math.sqrt(c_ref / (6.0 * tpp)) * (C / c_ref) ** spec.optimum_exponent
                except OverflowError:
                    n_opt = math.inf
                if not (0 < n_opt < math.inf) and not spec.params:
                    raise ScalingError(
                        f"budgets[{bi}]: the expected optimum N_opt(C) is {n_opt:g} parameters "
                        f"(optimum_exponent {spec.optimum_exponent:g}, tokens_per_param {tpp:g}): "
                        "no model can be sized around it"
                    )
                targets = (
                    [(f"params[{i}]", p, None) for i, p in enumerate(spec.params)]
                    if spec.params
                    else [(f"size_multipliers[{i}]", m * n_opt, m) for i, m in enumerate(spec.size_multipliers)]
                )
                if spec.size_grid:
                    g = math.log(spec.size_grid)
                    targets = [(w, math.exp(round(math.log(t) / g) * g), m) for w, t, m in targets]
                if seed != spec.seeds[0] and spec.replicate_multipliers is not None:
                    keep = [m for m in spec.replicate_multipliers]
                    targets = [t for t in targets if t[2] is not None and any(abs(t[2] - k) < 1e-9 * k for k in keep)]
                seen = set()
                for where, target, mult in targets:
                    shape = _shape_for(spec, target, f"budgets[{bi}] x {where}")
                    key = (shape.n_layer, shape.d_model)
                    if key in seen:  # two targets snapped to one shape: train it once
                        continue
                    seen.add(key)
                    N = _counted(spec, shape)
                    tokens = C / shape.flops_per_token(spec.flops_convention)
                    f = _train_fields(spec, N, tokens)
                    if f["tokens"] < f["batch_size"] * ctx:
                        raise ScalingError(f"budgets[{bi}] x {where}: budget too small for one step")
                    if too_long(f):
                        continue
                    rid = f"C{_fmt(C)}-N{si(N)}-{shape.n_layer}x{shape.d_model}-s{seed}"
                    tags = {"target_params": float(target), "tokens_per_param_target": float(tpp)}
                    if mult is not None:
                        tags["size_multiplier"] = float(mult)
                    configs.append(
                        _config(
                            spec,
                            name,
                            rid,
                            shape,
                            seed,
                            f,
                            budget=float(C),
                            tags=tags,
                            where=f"budgets[{bi}] x {where}",
                        )
                    )
                    origins.setdefault(rid, f"budgets[{bi}] x {where}")
        elif spec.kind == "grid":
            tpps = spec.tokens_per_param if isinstance(spec.tokens_per_param, list) else [spec.tokens_per_param]
            for pi, target in enumerate(spec.params):
                shape = _shape_for(spec, target, f"params[{pi}]")
                N = _counted(spec, shape)
                for tpp in tpps:
                    f = _train_fields(spec, N, tpp * N)
                    if too_long(f):
                        continue
                    rid = f"N{si(N)}-D{si(f['tokens'])}-{shape.n_layer}x{shape.d_model}-s{seed}"
                    configs.append(
                        _config(
                            spec,
                            name,
                            rid,
                            shape,
                            seed,
                            f,
                            where=f"params[{pi}]",
                            tags={"target_params": float(target), "tokens_per_param_target": float(tpp)},
                        )
                    )
                    origins.setdefault(rid, f"params[{pi}]")
        else:
            for ri, r in enumerate(spec.runs):
                if seed not in (r.seeds if r.seeds is not None else spec.seeds):
                    continue
                where = f"runs[{ri}]"
                if r.params is not None:
                    shape = _shape_for(spec, r.params, f"{where}.params")
                else:
                    try:
                        shape = ModelShape(
                            r.n_layer,
                            r.d_model,
                            n_head=r.n_head,
                            d_ff=r.d_ff,
                            vocab=vocab,
                            context=ctx,
                            mixer=spec.model.mixer,
                            sparsity=spec.model.sparsity,
                        )
                    except ScalingError as exc:
                        raise ScalingError(f"{where}: {exc}") from None
                    if shape.d_head % 2:
                        raise ScalingError(f"{where}: head size {shape.d_head} must be even (rotary embeddings)")
                N = _counted(spec, shape)
                if r.tokens is not None:
                    tokens = r.tokens
                elif r.flops is not None:
                    tokens = r.flops / shape.flops_per_token(spec.flops_convention)
                else:
                    tokens = r.tokens_per_param * N
                f = _train_fields(spec, N, tokens, lr=r.lr, batch=r.batch_size)
                rid = f"{r.name}-s{seed}" if r.name else f"{shape.n_layer}x{shape.d_model}-D{si(f['tokens'])}-s{seed}"
                configs.append(
                    _config(spec, name, rid, shape, seed, f, budget=float(r.flops) if r.flops else None, where=where)
                )
                origins.setdefault(rid, f"{where}.params" if r.params is not None else where)
    if spec.train.branched:
        configs = _branch(spec, configs)
    ids = [c.run_id for c in configs]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ScalingError(f"run ids repeat ({', '.join(dup[:3])}): give the runs distinct names or shapes")
    return configs


def _branch(spec, configs: list[store.RunConfig]) -> list[store.RunConfig]:
    """Branched WSD: the runs of one shape, batch size, peak rate and seed become branches of one trunk.

    Each run keeps the batch size of the spec's rules (``min_steps`` halves it for short runs, which
    then branch from a trunk of their own); the runs of one shape, batch size and rate (every seed) share
    an absolute warm-up, ``warmup_fraction`` of the shortest one's steps, and a magnitude mask's
    absolute dense warm-up, ``sparsity_warmup_fraction`` of them, so that each branch computes what
    a plain WSD run of its length with those steps would and a second seed is a true replicate."""
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        groups.setdefault((c.n_layer, c.d_model, c.n_head, c.d_ff, c.batch_size, c.lr), []).append(i)
    # a shape trained at several peak rates (a learning-rate probe) gets one trunk per rate, named
    # by it; a shape at one rate keeps the plain name
    rates: dict[tuple, set[float]] = {}
    for key in groups:
        rates.setdefault(key[:5], set()).add(key[5])
    out = list(configs)
    for (n_layer, d_model, n_head, d_ff, batch, lr), idx in groups.items():
        shortest = min(configs[i].steps for i in idx)
        warm = round(spec.train.warmup_fraction * shortest)
        tag = f"-lr{lr:.4g}" if len(rates[(n_layer, d_model, n_head, d_ff, batch)]) > 1 else ""
        for i in idx:
            c = configs[i]
            update = {"warmup_steps": int(warm), "trunk": f"trunk-{n_layer}x{d_model}-b{batch}{tag}-s{c.seed}"}
            if c.sparsity and c.sparsity_mask == "magnitude":
                # one pruning step for the whole trunk (sparsity_warmup_fraction of the shortest branch)
                update["sparsity_dense_steps"] = round(c.sparsity_warmup_fraction * shortest)
            out[i] = c.model_copy(update=update)
    return [store.RunConfig.model_validate(c.model_dump()) for c in out]


def jobs_of(configs: list[store.RunConfig]) -> list[list[store.RunConfig]]:
    """Units of work for an executor: a plain run alone, a trunk's branches together (in one process,
    shortest first); biggest first, so that a pool finishes together."""
    groups: dict[str, list[store.RunConfig]] = {}
    jobs: list[list[store.RunConfig]] = []
    for c in configs:
        if c.trunk:
            if c.trunk not in groups:
                groups[c.trunk] = []
                jobs.append(groups[c.trunk])
            groups[c.trunk].append(c)
        else:
            jobs.append([c])

    def cost(job):
        return sum(c.flops_per_token() * c.trained_tokens for c in job)

    return sorted(jobs, key=lambda j: -cost(j))


def check_epochs(spec, configs: list[store.RunConfig], train_tokens: dict[tuple, int]) -> None:
    """Refuse runs that would train more than one epoch of their corpus, unless the spec allows it."""
    if spec.data.allow_repeats:
        return
    over = []
    for c in configs:
        n = train_tokens.get((c.corpus, c.tokenizer, c.val_fraction, c.corpus_max_bytes))
        if n and c.trained_tokens > n:
            over.append((c.trained_tokens / n, c.run_id))
    if over:
        over.sort(reverse=True)
        raise ScalingError(
            f"{spec.name}: {len(over)} run(s) would train more than one epoch of the corpus "
            f"({over[0][1]}: {over[0][0]:.2f} epochs): use a bigger corpus, smaller budgets, or "
            "set [data] allow_repeats = true"
        )


# ---------------------------------------------------------------------------------------------
# memory: refuse a model that cannot fit before anything is built or written


def train_memory(cfg: store.RunConfig) -> dict[str, float]:
    """Bytes one run needs to train, estimated without building it: ``state`` (fp32 weights,
    gradients and AdamW's two moments: 16 bytes a parameter), ``activations`` (what the backward
    pass keeps for one micro-batch of ``batch x context`` tokens: per layer about 16 d_model + 2 d_ff
    values a token, plus the logits and their gradient, 3 x vocab a token; 4 bytes a value, 2 in
    bf16; flash attention keeps no context x context matrix) and their ``total``. A floor, not a
    ceiling: allocator slack and temporaries come on top."""
    params = float(cfg.param_counts()["total"])
    micro = cfg.micro_batch_size or cfg.batch_size
    per_token = cfg.n_layer * (16.0 * cfg.d_model + 2.0 * cfg.d_ff) + 3.0 * cfg.vocab
    if cfg.mixer == "hyena":  # FFT buffers of the long convolutions (twice the context, complex)
        per_token += cfg.n_layer * 8.0 * cfg.d_model
    state = 16.0 * params
    acts = float(micro) * cfg.context * per_token * (2.0 if cfg.dtype == "bf16" else 4.0)
    return {"state": state, "activations": acts, "total": state + acts}


def _ram_bytes() -> int | None:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not a POSIX system
        return None
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:  # a container's limit below the machine's memory
            total = int(text)
    return int(total) if total > 0 else None


def machine_memory(device: str) -> tuple[int, str] | None:
    """(bytes, what) a run on ``device`` can use on this machine: the physical memory (or a
    container's limit) for the CPU, the GPU's memory for CUDA when torch sees one; None when this
    machine cannot tell (a CUDA spec looked at on a machine without the GPU)."""
    if device == "cpu":
        ram = _ram_bytes()
        return (ram, "memory") if ram else None
    if device == "auto" or device.startswith("cuda"):
        if importlib.util.find_spec("torch") is None:
            return None
        import torch

        if not torch.cuda.is_available():
            return machine_memory("cpu") if device == "auto" else None
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        try:
            props = torch.cuda.get_device_properties(index)
        except (RuntimeError, AssertionError, ValueError):
            return None
        return int(props.total_memory), f"GPU memory ({props.name})"
    return None


def _bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n / 1e3:.3g} KB"


def check_memory(
    spec, configs: list[store.RunConfig] | None = None, origins: dict[str, str] | None = None, source: str | None = None
) -> None:
    """Raise a one-line ScalingError, naming the spec key, when a run of the spec could not fit in
    this machine's memory (:func:`train_memory` against :func:`machine_memory`); runs whose device
    this machine cannot judge are not checked."""
    if configs is None:
        configs, origins = spec.expand_with_origins()
    origins = origins or {}
    memory: dict[str, tuple[int, str] | None] = {}
    over = []
    for c in configs:
        if c.device not in memory:
            memory[c.device] = machine_memory(c.device)
        have = memory[c.device]
        if have is None:
            continue
        need = train_memory(c)
        if need["total"] > have[0]:
            over.append((need["total"], c, need, have))
    if not over:
        return
    over.sort(key=lambda o: o[0])
    _, c, need, have = over[0]  # the smallest that does not fit: the others are worse
    micro = c.micro_batch_size or c.batch_size
    more = f" ({len(over) - 1} more run(s) are larger)" if len(over) > 1 else ""
    where = origins.get(c.run_id, f"run {c.run_id}")
    raise ScalingError(
        f"{source + ': ' if source else ''}{where}: run {c.run_id} ({si(c.param_counts()['total'])} params, "
        f"{c.n_layer} x {c.d_model}) needs about {_bytes(need['total'])} to train (weights, gradients and AdamW "
        f"state {_bytes(need['state'])}; activations of {micro} x {c.context} tokens {_bytes(need['activations'])}) "
        f"but this machine has {_bytes(have[0])} of {have[1]}{more}: use a smaller size, batch or context"
    )


# ---------------------------------------------------------------------------------------------
# status
