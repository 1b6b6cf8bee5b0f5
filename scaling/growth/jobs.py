"""The growth experiment's jobs: what runs in a worker process (grow a small model, train a run) and
the dependency graph between them (small run -> growth -> grown runs). Job arguments are plain
strings and numbers so that they cross process boundaries; torch is imported inside the jobs.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

from .. import store
from .._io import atomic_write_bytes, atomic_write_json
from ..executor import Task
from ..train import tokens as _tokens
from .configs import finished_as, fmt_fraction, init_path, legacy_run_id, run_configs
from .methods import base_method
from .spec import GrowthSpec

_DATA: dict = {}


def prepared_corpus(corpus: str, tokenizer: str, val_fraction: float, max_bytes, data_dir):
    """The prepared corpus, once per process (listing a corpus to check its cache is not free)."""
    key = (corpus, tokenizer, val_fraction, max_bytes, data_dir)
    if key not in _DATA:
        _DATA[key] = _tokens.prepare(
            corpus, tokenizer, val_fraction=val_fraction, data_dir=data_dir, max_bytes=max_bytes
        )
    return _DATA[key]


def job_grow(spec_json: str, root: str, method: str, seed: int, data_dir: str | None, threads: int) -> dict:
    """Grow small-s<seed> with ``method``; save the large initial weights and a JSON report with
    the held-out losses of the small and the grown model on the runs' curve windows."""
    import torch

    # these import torch at their top: torch is loaded only in the worker that runs the job
    from ..train.model import GPT
    from .baselines import grow_baseline
    from .checkpoint import as_config, load_small
    from .ligo import LiGO, check_token_count, held_out_loss, train_operator

    spec = GrowthSpec.model_validate_json(spec_json)
    torch.set_num_threads(threads)
    out = init_path(root, spec, method, seed)
    if out.exists() and out.with_suffix(".json").exists():
        return json.loads(out.with_suffix(".json").read_text())
    small_dir = store.run_dir(root, spec.name, f"small-s{seed}")
    small_cfg, small_state = load_small(small_dir)
    _, large = spec.shapes()
    t = spec.train
    d = prepared_corpus(spec.data.corpus, spec.data.tokenizer, spec.data.val_fraction, spec.data.max_bytes, data_dir)
    t0 = time.perf_counter()

    def loss_of(cfg, state):
        """Held-out loss on the windows of every run's curve points (train.eval_tokens)."""
        return held_out_loss(
            GPT(cfg), state, d.val, t.eval_tokens, batch_size=t.batch_size, device=t.device, dtype=t.dtype
        )

    report: dict = {
        "method": method,
        "seed": seed,
        "small_run": f"small-s{seed}",
        "small": {k: getattr(small_cfg, k) for k in ("n_layer", "d_model", "n_head", "d_ff")},
        "large": large.to_dict(),
        "eval": {
            "split": "held-out",
            "eval_tokens": t.eval_tokens,
            "tokens": check_token_count(len(d.val), t.context, t.eval_tokens),
            "windows": "train.eval_tokens: the windows of every run's curve points",
            "small_loss": loss_of(small_cfg, small_state),
        },
    }
    if method == "ligo":
        torch.manual_seed(seed)
        op = LiGO(small_cfg, small_state, large, noise=spec.ligo.noise, seed=seed)
        budget = spec.operator_budget()
        rep = train_operator(
            op,
            d.train,
            steps=budget.steps,
            batch_size=budget.batch_size,
            context=t.context,
            lr=spec.ligo.lr,
            seed=seed,
            device=t.device,
            dtype=t.dtype,
            held_out=d.val,
            check_tokens=t.eval_tokens,
        )
        state = op.materialize()
        report["operator"] = rep.to_dict()
        report["operator"]["scratch_share"] = budget.scratch_share
        report["operator"]["depth_weights"] = {k: getattr(op, f"depth_{k}").detach().tolist() for k in ("q", "fc")}
        report["eval"]["grown_loss_before_operator"] = rep.initial_loss
        report["eval"]["grown_loss"] = rep.final_loss
    else:
        state = grow_baseline(
            method,
            small_cfg,
            small_state,
            large,
            exact=spec.baselines.exact,
            symmetry_noise=spec.baselines.symmetry_noise,
            seed=seed,
        )
        report["symmetry_noise"] = spec.baselines.symmetry_noise
        report["eval"]["grown_loss"] = loss_of(as_config(large), state)
    report["time_s"] = time.perf_counter() - t0
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(out, buf.getvalue())
    atomic_write_json(out.with_suffix(".json"), report)  # written last: the pair is complete
    return report


def train_from_state(cfg: store.RunConfig, path, init_state: dict, *, data_dir=None, data=None):
    """Train a run whose model starts from ``init_state`` (a grown model) with the loop's recipe
    (a checkpoint of a resumed run still wins over ``init_state``)."""
    from ..train import loop  # imports torch: only the process that trains pays for it

    return loop.train(cfg, path, data_dir=data_dir, data=data, init_state=init_state)


def job_train(cfg_json: str, root: str, data_dir: str | None, threads: int, init: str | None) -> dict:
    import torch

    from ..train.loop import train  # imports torch (see above)

    cfg = store.RunConfig.model_validate_json(cfg_json).model_copy(update={"threads": threads})
    torch.set_num_threads(threads)
    path = store.run_dir(root, cfg.sweep, cfg.run_id)
    data = prepared_corpus(cfg.corpus, cfg.tokenizer, cfg.val_fraction, cfg.corpus_max_bytes, data_dir)
    if init is None:
        res = train(cfg, path, data_dir=data_dir, data=data)
    else:
        state = torch.load(init, map_location="cpu", weights_only=True)
        res = train_from_state(cfg, path, state, data_dir=data_dir, data=data)
    return res.model_dump(mode="json")


def plan_jobs(spec: GrowthSpec, root, data_dir=None, threads: int = 1) -> tuple[list[Task], int]:
    """The experiment's jobs with their dependencies; finished ones left out. Returns (jobs, skipped)."""
    root = str(Path(root).resolve())
    cfgs = run_configs(spec)
    sj = spec.model_dump_json()
    jobs, skipped = [], 0
    done = set()
    for rid, cfg in cfgs.items():
        d = store.run_dir(root, spec.name, rid)
        old = legacy_run_id(spec, rid)
        if not d.exists() and old is not None and finished_as(store.run_dir(root, spec.name, old), cfg):
            done.add(rid)  # finished before the renaming, under its old name: the same run
            continue
        d.mkdir(parents=True, exist_ok=True)
        if store.read_result(d) is not None:
            # a finished run's config records how it ran (its threads): checked, kept, as `sweep run` does
            if store.check_config(d, cfg) is None:
                store.write_config(d, cfg)
            done.add(rid)
        else:
            store.write_config(d, cfg)
    for seed in spec.seeds:
        # one growth per base method and seed: its schedule variants (ligo+warm0) start from it too
        for method in dict.fromkeys(base_method(m) for m in spec.methods):
            key = f"grow:{method}-s{seed}"
            ip = init_path(root, spec, method, seed)
            fr = [
                f"{m}-f{fmt_fraction(f)}-s{seed}"
                for m in spec.methods
                if base_method(m) == method
                for f in spec.fractions
            ]
            if all(r in done for r in fr) or (ip.exists() and ip.with_suffix(".json").exists()):
                done.add(key)
            else:
                deps = [] if f"small-s{seed}" in done else [f"small-s{seed}"]
                jobs.append(Task(key, job_grow, (sj, root, method, seed, data_dir, threads), deps, 0.0, 1))
    for rid, cfg in cfgs.items():
        if rid in done:
            skipped += 1
            continue
        cost = float(cfg.flops_per_token() * cfg.trained_tokens)
        if cfg.tags.get("role") == "grown":
            grown_from = base_method(str(cfg.tags["method"]))
            key = f"grow:{grown_from}-s{cfg.seed}"
            ip = str(init_path(root, spec, grown_from, cfg.seed))
            deps = [] if key in done else [key]
            jobs.append(Task(rid, job_train, (cfg.model_dump_json(), root, data_dir, threads, ip), deps, cost, 2))
        else:
            prio = 0 if cfg.tags.get("role") == "small" else 2
            jobs.append(Task(rid, job_train, (cfg.model_dump_json(), root, data_dir, threads, None), [], cost, prio))
    skipped += sum(1 for k in done if k.startswith("grow:"))
    return jobs, skipped


__all__ = ["prepared_corpus", "job_grow", "job_train", "train_from_state", "plan_jobs"]
