"""Analysis of a growth experiment: FLOPs to reach the scratch loss, the three savings, the calibration.

For each seed the target is the final held-out loss of the large model trained from scratch
(``scratch-s<seed>``). For each growth method and seed:

- **FLOPs to reach the target**: the grown runs have budgets ``fraction x scratch tokens``, each
  with a schedule that ends at its own budget; their *final* losses, against their large-phase
  FLOPs, are interpolated linearly in log FLOPs at the target. If even the smallest budget ends
  below the target, the smallest run's held-out curve gives the crossing (mid-schedule, so an upper
  bound on the FLOPs: the savings are then a lower bound, flagged). If the largest budget ends
  above the target, the method did not reach it (flagged; no savings figure).
- **The three savings** (REFERENCE.md section 7), operator FLOPs charged in all three:
  (1) ``1 - (C_op + C_grown) / C_scratch`` (small model not charged);
  (2) ``1 - (C_small + C_op + C_grown) / C_scratch``;
  (3) ``1 - (C_small + C_op + C_grown) / law.flops_for_loss(target)``, against a compute-optimal
  scratch model, only with a law fitted on the same setup (corpus, tokenizer, recipe).
- **The calibration** (token credit): ``delta = D_scratch - D_grown`` (large-model tokens saved at
  the target) and ``eta = delta / D_eq``, ``D_eq`` the tokens the scratch run took to reach the
  small model's final loss (where its held-out curve crosses it: mid-schedule, so D_eq is if
  anything overestimated and eta underestimated). The small model's loss and the scratch curve
  are read on one evaluation set: the curve points measured on ``eval_tokens`` windows (the final
  point, on ``final_eval_tokens`` windows, is left out when the two differ) and the small model's
  loss on the same windows, which the grow job measures (``eval.small_loss`` in
  ``growth-init/<method>-s<seed>.json``). Without that measurement (experiments run before it
  existed) the small model's final loss stands in, flagged: its windows differ. The planner
  predicts ``delta = eta x law.tokens_for_loss(N_large, law.loss(N_small, D_small))``.
- **Method names** are those of :mod:`scaling.growth.methods`; runs written before the baselines
  were renamed (``stack``, ``hyperclone`` growing width and depth) are read as the hybrids they
  were (``hyperclone-stack``, ``hyperclone-identity``), without rewriting them.

Intervals (:mod:`scaling.growth.intervals`): every aggregate is the mean over seeds (each seed
paired with its own scratch run) with its 95% Student-t interval over the n seeds (none with one
seed); the per-seed values are listed too. Savings (3) with a law that carries bootstrap samples:
every seed's savings under every sample, and an interval that combines the law's uncertainty with
the seeds' (Monte Carlo, seeded), next to the law-only and the seeds-only intervals.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import store
from .._io import atomic_write_text
from ..errors import ScalingError
from ..laws import get_law
from ..laws.base import percentile_interval
from . import analysis_text
from .calibration import Calibration, MethodCalibration, growth_ratio
from .configs import INIT_DIR
from .intervals import INTERVAL_WORDS, combine_law_and_seeds, flops_for_loss_samples, savings_samples, seed_stats
from .methods import METHODS, base_method, canonical_method, label

DEFINITION = (
    "eta = (D_scratch - D_grown) / D_eq: large-model tokens saved by growth at the scratch run's final "
    "loss, over the tokens the scratch run took to reach the small model's final loss; the planner "
    "predicts delta = eta * law.tokens_for_loss(N_large, law.loss(N_small, D_small))"
)


@dataclass
class MethodSeed:
    method: str
    seed: int
    target: float  # scratch final loss
    scratch_flops: float
    scratch_tokens: float
    small_flops: float
    small_loss: float  # final evaluation (final_eval_tokens windows)
    operator_flops: float
    finals: list[dict]  # fraction, tokens, flops, loss of each grown run
    flops_needed: float | None = None  # large-phase FLOPs to reach the target
    tokens_needed: float | None = None
    how: str = ""  # interpolated | curve (upper bound) | not reached
    savings_not_charged: float | None = None
    savings_charged: float | None = None
    savings_vs_optimal: float | None = None
    delta_tokens: float | None = None
    d_eq_small: float | None = None
    small_loss_for_d_eq: float | None = None  # the small model's loss on the scratch curve's windows
    operator_tokens: int = 0
    initial_loss: float | None = None  # the grown model before training, on the curve's windows
    schedule: dict = field(default_factory=dict)  # the post-growth schedule of its largest run
    eta: float | None = None
    flags: list[str] = field(default_factory=list)
    # savings (3) under the law's bootstrap samples: the law-only 95% interval, how many samples
    # cannot reach the target (counted at +100%), and the values themselves (not serialised)
    savings_vs_optimal_law: tuple[float, float] | None = None
    law_unreachable: int = 0
    s3_samples: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d.pop("s3_samples")
        return d


def _curve_crossing(curve, target: float, x: str = "flops") -> float | None:
    """Where a held-out curve first reaches ``target`` (linear in log x between evaluations)."""
    if curve is None or not len(curve):
        return None
    xs = curve[x].to_numpy(dtype=float)
    ys = curve["val_loss"].to_numpy(dtype=float)
    below = np.nonzero(ys <= target)[0]
    if not len(below):
        return None
    i = int(below[0])
    if i == 0:
        return float(xs[0])  # reached by the first evaluation: at most this much
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    t = (y0 - target) / (y0 - y1) if y0 != y1 else 1.0
    return float(math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0))))


def _schedule(cfg) -> dict:
    """A run's schedule: kind, peak learning rate, warm-up steps, floor."""
    return {"schedule": cfg.schedule, "lr": cfg.lr, "warmup": cfg.warmup, "min_lr_ratio": cfg.min_lr_ratio}


def _on_eval_windows(curve, cfg):
    """The curve points measured on the ``eval_tokens`` windows: all but the final one when the
    final evaluation uses another number of tokens (scaling.train.loop)."""
    if curve is None or not len(curve) or cfg.final_eval_tokens == cfg.eval_tokens:
        return curve
    return curve.iloc[:-1]


def _small_eval_losses(sweep_dir: Path) -> dict:
    """From the grow reports (``growth-init/*.json``): per seed, the small model's held-out loss on
    the curve's windows and the ``eval_tokens`` that chose them; per (method name, seed), the
    grown model's loss before training on the same windows."""
    out: dict = {}
    for f in sorted((sweep_dir / INIT_DIR).glob("*.json")):
        try:
            rep = json.loads(f.read_text())
            ev, seed = rep.get("eval"), int(rep["seed"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if isinstance(ev, dict) and ev.get("small_loss") is not None:
            out.setdefault(seed, {"small_loss": ev["small_loss"], "eval_tokens": ev.get("eval_tokens")})
            out[(str(rep.get("method")), seed)] = {"grown_loss": ev.get("grown_loss")}
    return out


def _extrapolate_tokens(curve, target: float, max_factor: float = 4.0) -> float | None:
    """Tokens at which a curve that ends above ``target`` would reach it, continuing the line
    through its last two evaluations in (log tokens, loss); None beyond ``max_factor`` x its end."""
    if curve is None or len(curve) < 2:
        return None
    xs = curve["tokens"].to_numpy(dtype=float)[-2:]
    ys = curve["val_loss"].to_numpy(dtype=float)[-2:]
    if xs[1] <= xs[0] or ys[1] >= ys[0]:
        return None
    slope = (ys[1] - ys[0]) / (math.log(xs[1]) - math.log(xs[0]))
    d = math.exp(math.log(xs[1]) + (target - ys[1]) / slope)
    return d if d <= max_factor * xs[1] else None


def _mean(values) -> float | None:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return float(np.mean(v)) if v else None


@dataclass
class GrowthAnalysis:
    sweep_dir: Path
    law: str | None
    small: dict[str, Any]
    large: dict[str, Any]
    scratch: list[dict]  # per seed: seed, loss, flops, tokens
    rows: list[MethodSeed]
    corpus: str | None = None
    corpus_fingerprint: str | None = None
    notes: list[str] = field(default_factory=list)
    law_samples: int = 0  # bootstrap samples of the law (0: none, or no law)

    @property
    def growth_ratio(self) -> dict[str, float]:
        """Large over small parameters, total and non-embedding."""
        return growth_ratio(self.small, self.large)

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(r.method for r in self.rows))

    def per_method(self, method: str) -> list[MethodSeed]:
        return [r for r in self.rows if r.method == method]

    def aggregate(self) -> dict[str, dict[str, Any]]:
        out = {}
        for m in self.methods:
            rs = self.per_method(m)
            agg: dict[str, Any] = {"seeds": [r.seed for r in rs]}
            for k in (
                "flops_needed",
                "savings_not_charged",
                "savings_charged",
                "savings_vs_optimal",
                "delta_tokens",
                "eta",
            ):
                agg[k] = seed_stats([getattr(r, k) for r in rs])
                agg[k]["interval"] = f"{INTERVAL_WORDS} over {agg[k]['n']} seeds" if agg[k]["lo"] is not None else None
            self._savings3_intervals(agg["savings_vs_optimal"], rs)
            agg["operator_flops"] = rs[0].operator_flops if rs else 0.0
            agg["operator_tokens"] = rs[0].operator_tokens if rs else 0
            agg["initial_loss"] = _mean([r.initial_loss for r in rs])
            agg["small_loss_for_d_eq"] = _mean([r.small_loss_for_d_eq for r in rs])
            agg["flags"] = sorted({f for r in rs for f in r.flags})
            out[m] = agg
        return out

    def _savings3_intervals(self, s3: dict[str, Any], rs: list[MethodSeed]) -> None:
        """Savings (3) with the law's samples: ``lo``/``hi`` become the interval of law and seeds combined;
        the seeds-only (t) and law-only intervals are kept next to it (module docstring)."""
        with_samples = [r for r in rs if r.savings_vs_optimal is not None and r.s3_samples is not None]
        if not self.law_samples or not with_samples:
            return
        comb = combine_law_and_seeds(np.stack([np.asarray(r.s3_samples) for r in with_samples]))
        s3["seeds_interval"] = (s3["lo"], s3["hi"]) if s3["lo"] is not None else None
        s3["law_interval"] = comb["law"]
        s3["combined_interval"] = comb["combined"]
        s3["law_samples"] = comb["n_samples"]
        s3["law_invalid"] = comb["n_invalid"]
        s3["law_unreachable"] = max(r.law_unreachable for r in with_samples)
        if comb["combined"] is not None:
            s3["lo"], s3["hi"] = comb["combined"]
            n = len(with_samples)
            s3["interval"] = f"95% interval over {comb['n_samples']} law samples" + (
                f" and {n} seeds (Student t), combined by Monte Carlo" if n > 1 else " (1 seed: no seed noise)"
            )

    def calibration(self) -> Calibration:
        methods = {}
        for m, agg in self.aggregate().items():
            rs = self.per_method(m)
            methods[m] = MethodCalibration(
                method=m,
                eta=agg["eta"]["mean"],
                eta_sd=agg["eta"]["sd"],
                eta_interval=(agg["eta"]["lo"], agg["eta"]["hi"]) if agg["eta"]["lo"] is not None else None,
                eta_seeds=agg["eta"]["values"],
                delta_tokens=agg["delta_tokens"]["values"],
                n_seeds=sum(1 for r in rs if r.eta is not None),
                operator_steps=int(self.large.get("operator_steps", 0)) if m == "ligo" else 0,
                operator_tokens_per_step=self.large.get("operator_tokens_per_step") if m == "ligo" else None,
                flags=agg["flags"],
                savings_not_charged=agg["savings_not_charged"],
                savings_charged=agg["savings_charged"],
                savings_vs_optimal=agg["savings_vs_optimal"],
            )
        return Calibration(
            source=str(self.sweep_dir),
            created_at=store.now(),
            definition=DEFINITION,
            corpus=self.corpus,
            corpus_fingerprint=self.corpus_fingerprint,
            small=self.small,
            large=self.large,
            growth_ratio=self.growth_ratio,
            methods=methods,
        )

    def write_calibration(self, path: str | os.PathLike) -> Path:
        return atomic_write_text(path, self.calibration().model_dump_json(indent=2) + "\n")

    def table(self) -> str:
        """The results as a Markdown table (what the README shows): :func:`.analysis_text.table`."""
        return analysis_text.table(self)

    def summary(self) -> str:
        """What ``scaling grow analyze`` prints: :func:`.analysis_text.summary`."""
        return analysis_text.summary(self)

    def to_dict(self) -> dict:
        return {
            "sweep_dir": str(self.sweep_dir),
            "law": self.law,
            "small": self.small,
            "large": self.large,
            "scratch": self.scratch,
            "rows": [r.to_dict() for r in self.rows],
            "aggregate": self.aggregate(),
            "notes": self.notes,
        }


def law_setup_mismatch(law, cfg, fingerprint: str | None) -> list[str]:
    """Where a fitted law (a fit JSON) was fitted on another setup than a growth experiment's runs
    (``cfg``: one of its run configs): another corpus or version of its text, context or vocabulary.
    Savings (3) set the runs against the law's compute-optimal model, so they need the same setup.
    A law without such a record (a built-in law, an older fit file) says nothing."""
    path = Path(str(law)) if isinstance(law, (str, os.PathLike)) else None
    if path is None or not path.is_file():
        return []
    try:
        fit = json.loads(path.read_text())
        data, arch = fit.get("data") or {}, fit.get("architecture") or {}
    except (OSError, ValueError, AttributeError):
        return []
    out = []
    corpora, fps = data.get("corpus"), data.get("corpus_fingerprint")
    if corpora and cfg.corpus not in corpora:
        out.append(f"the law was fitted on runs of {', '.join(map(repr, corpora))}, these runs read {cfg.corpus!r}")
    elif fps and fingerprint and fingerprint not in fps:
        out.append(
            f"the law's runs read another version of {cfg.corpus!r} (fingerprint {', '.join(f[7:19] for f in fps)}; "
            f"these runs {fingerprint[7:19]})"
        )
    for key in ("context", "vocab"):
        if arch.get(key) is not None and arch[key] != getattr(cfg, key):
            out.append(f"the law's runs have {key} {arch[key]}, these runs {getattr(cfg, key)}")
    return [f"savings (3) set these runs against a law of another setup: {m}" for m in out]


def analyze(sweep_dir: str | os.PathLike, *, law=None) -> GrowthAnalysis:
    """Analyse a finished (or partly finished) growth experiment directory."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise ScalingError(f"no such growth experiment directory: {sweep_dir}")
    law_obj = None
    if law is not None:
        law_obj = get_law(law)
    c_opt_samples: dict[float, np.ndarray | None] = {}  # per target loss: c_opt under each law sample
    runs = {}
    for path in store.iter_runs(sweep_dir):
        cfg = store.read_config(path)
        res = store.read_result(path)
        if res is None or res.status != "ok" or "role" not in cfg.tags:
            continue
        runs[cfg.run_id] = (cfg, res, store.read_curve(path))
    smalls = {c.seed: (c, r, cu) for c, r, cu in runs.values() if c.tags["role"] == "small"}
    scratches = {c.seed: (c, r, cu) for c, r, cu in runs.values() if c.tags["role"] == "scratch"}
    grown = [(c, r, cu) for c, r, cu in runs.values() if c.tags["role"] == "grown"]
    if not scratches or not smalls or not grown:
        raise ScalingError(
            f"{sweep_dir}: needs finished small, scratch and grown runs of a growth experiment "
            f"(found {len(smalls)} small, {len(scratches)} scratch, {len(grown)} grown)"
        )
    rows: list[MethodSeed] = []
    notes = []
    by_key: dict[tuple[str, int], dict[float, tuple]] = {}
    renamed: dict[str, str] = {}
    for c, r, cu in sorted(grown, key=lambda t: t[0].run_id):
        name = str(c.tags["method"])
        small_cfg = smalls[c.seed][0] if c.seed in smalls else None
        method = canonical_method(name, small_cfg, c) if small_cfg is not None else name
        if method != name:
            renamed[name] = method
        runs_of = by_key.setdefault((method, c.seed), {})
        frac = float(c.tags.get("fraction", 0))
        if frac in runs_of:  # the same run under its old and its new name: keep the new one
            if name != method:
                continue
            notes.append(f"{runs_of[frac][0].run_id} and {c.run_id} are the same run; {c.run_id} is used")
        runs_of[frac] = (c, r, cu)
    for old, new in sorted(renamed.items()):
        notes.append(f"runs named {old!r} grew width and depth: read as {new!r} ({label(new)})")
    small_eval = _small_eval_losses(sweep_dir)
    order = {m: i for i, m in enumerate(METHODS)}
    for (method, seed), by_frac in sorted(
        by_key.items(), key=lambda kv: (order.get(base_method(kv[0][0]), len(order)), kv[0])
    ):
        items = list(by_frac.values())
        if seed not in scratches or seed not in smalls:
            notes.append(f"{method} seed {seed}: its small or scratch run is missing; left out")
            continue
        sc_cfg, sc_res, sc_curve = scratches[seed]
        sm_cfg, sm_res, _ = smalls[seed]
        items.sort(key=lambda t: t[1].flops)
        op = float(items[0][0].tags.get("operator_flops", 0.0))
        row = MethodSeed(
            method=method,
            seed=seed,
            target=sc_res.loss,
            scratch_flops=sc_res.flops,
            scratch_tokens=sc_res.tokens,
            small_flops=sm_res.flops,
            small_loss=sm_res.loss,
            operator_flops=op,
            operator_tokens=int(items[0][0].tags.get("operator_tokens", 0)),
            initial_loss=small_eval.get((base_method(str(items[0][0].tags["method"])), seed), {}).get("grown_loss"),
            finals=[
                {
                    "run_id": c.run_id,
                    "fraction": float(c.tags.get("fraction", 0)),
                    "tokens": r.tokens,
                    "flops": r.flops,
                    "loss": r.loss,
                }
                for c, r, _ in items
            ],
        )
        row.schedule = _schedule(items[-1][0])
        target = sc_res.loss
        fl = np.array([f["flops"] for f in row.finals])
        ls = np.array([f["loss"] for f in row.finals])
        fpt = items[0][1].flops_per_token
        reached = np.nonzero(ls <= target)[0]
        if len(reached):
            i = int(reached[0])
            if i == 0:
                c0 = _curve_crossing(items[0][2], target)
                row.flops_needed = c0 if c0 is not None else float(fl[0])
                row.how = "curve (upper bound)"
                row.flags.append(
                    f"already below the target at the smallest budget (x{row.finals[0]['fraction']:g}); "
                    "FLOPs read off its mid-schedule curve: an upper bound (savings a lower bound)"
                )
            else:
                t = (ls[i - 1] - target) / (ls[i - 1] - ls[i]) if ls[i - 1] != ls[i] else 1.0
                row.flops_needed = float(math.exp(math.log(fl[i - 1]) + t * (math.log(fl[i]) - math.log(fl[i - 1]))))
                row.how = "interpolated"
        else:
            row.how = "not reached"
            row.flags.append(
                f"did not reach the scratch loss {target:.4f}: its largest budget (x"
                f"{row.finals[-1]['fraction']:g}) ends at {ls[-1]:.4f}"
            )
        if row.flops_needed is not None:
            row.tokens_needed = row.flops_needed / fpt
            total_nc = row.operator_flops + row.flops_needed
            row.savings_not_charged = 1.0 - total_nc / row.scratch_flops
            row.savings_charged = 1.0 - (row.small_flops + total_nc) / row.scratch_flops
            if law_obj is not None:
                try:
                    c_opt = float(law_obj.flops_for_loss(target))
                    row.savings_vs_optimal = 1.0 - (row.small_flops + total_nc) / c_opt
                except ScalingError as exc:
                    row.flags.append(f"savings (3) unavailable: {exc}")
                if row.savings_vs_optimal is not None:
                    if row.target not in c_opt_samples:
                        c_opt_samples[row.target] = flops_for_loss_samples(law_obj, row.target)
                    cs = c_opt_samples[row.target]
                    if cs is not None:
                        row.s3_samples = savings_samples(row.small_flops + total_nc, cs)
                        row.law_unreachable = int(np.sum(np.isinf(cs)))
                        lo, hi = percentile_interval(row.s3_samples[np.isfinite(row.s3_samples), None])
                        row.savings_vs_optimal_law = (float(lo[0]), float(hi[0]))
            row.delta_tokens = row.scratch_tokens - row.tokens_needed
        else:
            # the grown model ends above the target: its credit is negative; map its final loss onto
            # the scratch curve (mid-schedule, approximate)
            d_eq = _curve_crossing(sc_curve, float(ls[-1]), x="tokens")
            if d_eq is not None:
                row.delta_tokens = d_eq - row.finals[-1]["tokens"]
                row.flags.append("token credit from the scratch curve at the grown model's final loss (approximate)")
        # D_eq: the small model's loss and the scratch curve on one evaluation set (module docstring)
        curve_set = _on_eval_windows(sc_curve, sc_cfg)
        measured = small_eval.get(seed, {}).get("small_loss")
        if measured is not None and small_eval[seed].get("eval_tokens") == sc_cfg.eval_tokens:
            row.small_loss_for_d_eq = float(measured)
        else:
            row.small_loss_for_d_eq = row.small_loss
            if sm_cfg.final_eval_tokens != sc_cfg.eval_tokens or sc_cfg.final_eval_tokens != sc_cfg.eval_tokens:
                row.flags.append(
                    f"D_eq compares the small model's final loss ({sc_cfg.final_eval_tokens:,}-token windows) "
                    f"with the scratch curve ({sc_cfg.eval_tokens:,}-token windows): another evaluation set, "
                    "so eta is biased (its grow report has no loss on the curve's windows)"
                )
        row.d_eq_small = _curve_crossing(curve_set, row.small_loss_for_d_eq, x="tokens")
        if row.d_eq_small is None:
            row.d_eq_small = _extrapolate_tokens(curve_set, row.small_loss_for_d_eq)
            row.flags.append(
                "the scratch run never reached the small model's loss: "
                + (
                    "D_eq extrapolated from its last two evaluations (approximate)"
                    if row.d_eq_small is not None
                    else "eta undefined"
                )
            )
        if row.d_eq_small is not None and row.delta_tokens is not None:
            row.eta = row.delta_tokens / row.d_eq_small
        rows.append(row)
    any_small = next(iter(smalls.values()))
    any_scr = next(iter(scratches.values()))
    op_steps = max((int(c.tags.get("operator_steps", 0)) for c, _, _ in grown), default=0)
    op_tokens = max((int(c.tags.get("operator_tokens", 0)) for c, _, _ in grown), default=0)

    def shape(cfg, res, extra):
        d = {k: getattr(cfg, k) for k in ("n_layer", "d_model", "n_head", "d_ff", "vocab", "context")}
        d.update(params=res.params, non_embedding_params=res.non_embedding_params, **extra)
        return d

    small = shape(
        any_small[0],
        any_small[1],
        {"tokens": any_small[1].tokens, "loss": float(np.mean([r.loss for _, r, _ in smalls.values()]))},
    )
    large = shape(
        any_scr[0],
        any_scr[1],
        {
            "tokens": any_scr[1].tokens,
            "loss": float(np.mean([r.loss for _, r, _ in scratches.values()])),
            "operator_steps": op_steps,
            "operator_tokens_per_step": (op_tokens // op_steps) if op_steps else None,
        },
    )
    scratch = [
        {"seed": s, "loss": r.loss, "flops": r.flops, "tokens": r.tokens, "schedule": _schedule(c)}
        for s, (c, r, _) in sorted(scratches.items())
    ]
    if law_obj is None:
        notes.append("savings (3) needs a law fitted on the same corpus, tokenizer and recipe (--law)")
    else:
        for flag in law_setup_mismatch(law, any_scr[0], any_scr[1].corpus_fingerprint):
            for row in rows:
                row.flags.append(flag)
    return GrowthAnalysis(
        sweep_dir=sweep_dir,
        law=law_obj.name if law_obj else None,
        small=small,
        large=large,
        scratch=scratch,
        rows=rows,
        corpus=any_scr[0].corpus,
        corpus_fingerprint=any_scr[1].corpus_fingerprint,
        notes=notes,
        law_samples=len(law_obj.samples)
        if law_obj is not None and law_obj.samples is not None and law_obj.has_uncertainty
        else 0,
    )


__all__ = ["analyze", "GrowthAnalysis", "MethodSeed", "DEFINITION"]
