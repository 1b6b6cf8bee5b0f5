"""The growth analysis as text: the Markdown table (what the README shows) and the summary that
``scaling grow analyze`` prints, for a :class:`~scaling.growth.analysis.GrowthAnalysis`.

Every aggregate is printed as ``mean [lo, hi] (per-seed values)``: the mean over seeds and its 95%
interval (:mod:`scaling.growth.intervals`: Student t over seeds; for savings (3) with a law that
carries bootstrap samples, law samples and seed noise combined). One seed: no interval, and the
cell says so.

This module imports numpy and ``scaling.units`` only.
"""

from __future__ import annotations

import numpy as np

from ..units import sci, si
from .intervals import INTERVAL_WORDS
from .methods import label


def _cell(d, pct=False, fmt=None, missing="not reached", n_all=None) -> str:
    """``mean [lo, hi] (per-seed values)``; one seed: ``mean (1 seed: no interval)``."""
    mean = d["mean"]
    if mean is None:
        return missing
    f = (lambda x: f"{100 * x:+.1f}%") if pct else (fmt or (lambda x: f"{x:.3g}"))
    vals = ", ".join(missing if v is None else f(v) for v in d["values"])
    if d.get("lo") is None:
        why = "1 seed: no interval" if d.get("n", 0) < 2 else "no interval"
        return f"{f(mean)} ({why}; {vals})" if len(d["values"]) > 1 else f"{f(mean)} ({why})"
    n = d.get("n")
    fewer = f", {n} seed{'' if n == 1 else 's'}" if n_all is not None and n is not None and n != n_all else ""
    return f"{f(mean)} [{f(d['lo'])}, {f(d['hi'])}{fewer}] ({vals})"


def table(a) -> str:
    """The results as a Markdown table (what the README shows)."""
    n_all = len(a.scratch)
    sc_loss = [s["loss"] for s in a.scratch]
    sc_fl = [s["flops"] for s in a.scratch]
    sc_tok = float(np.mean([s["tokens"] for s in a.scratch]))
    lines = [
        "| method | FLOPs to reach the scratch loss (large phase) | operator tokens (share of scratch), FLOPs "
        "| savings (1) small not charged | savings (2) small charged | savings (3) vs compute-optimal "
        "| token credit δ | η |",
        "|---|---|---|---|---|---|---|---|",
        f"| scratch (target loss {np.mean(sc_loss):.4f}) | {sci(float(np.mean(sc_fl)))} | – | – | – | – | – | – |",
    ]
    for m, agg in a.aggregate().items():
        op = "–"
        if agg["operator_flops"]:
            share = 100 * agg["operator_tokens"] / sc_tok
            op = f"{si(agg['operator_tokens'])} ({share:.3g}%), {sci(agg['operator_flops'])}"
        lines.append(
            f"| {label(m)} ({m}) | {_cell(agg['flops_needed'], fmt=sci, n_all=n_all)} | {op} "
            f"| {_cell(agg['savings_not_charged'], True, n_all=n_all)} "
            f"| {_cell(agg['savings_charged'], True, n_all=n_all)} | "
            f"{_cell(agg['savings_vs_optimal'], True, n_all=n_all) if a.law else 'n/a (no law)'} | "
            f"{_cell(agg['delta_tokens'], fmt=si, missing='n/a', n_all=n_all)} "
            f"| {_cell(agg['eta'], missing='n/a', n_all=n_all)} |"
        )
    return "\n".join(lines)


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f}%"


def _iv(iv) -> str:
    return "none" if not iv or iv[0] is None else f"[{_pct(iv[0])}, {_pct(iv[1])}]"


def savings3_lines(a) -> list[str]:
    """Savings (3) and where its interval comes from: the law's samples, the seeds, both."""
    if not a.law:
        return []
    agg = a.aggregate()
    if not a.law_samples:
        return [
            f"savings (3): law {a.law} without bootstrap samples: no law uncertainty "
            f"(its interval is the {INTERVAL_WORDS} over seeds only)"
        ]
    out = [
        f"savings (3) vs compute-optimal, 95% intervals: law {a.law} with {a.law_samples} bootstrap samples "
        "(each seed's savings under every sample), seeds by Student t; 'law and seeds' combines both "
        "(Monte Carlo, seeded)"
    ]
    for m, ag in agg.items():
        s3 = ag["savings_vs_optimal"]
        if s3["mean"] is None:
            out.append(f"  {label(m)}: not reached")
            continue
        out.append(
            f"  {label(m)}: {_pct(s3['mean'])}; law and seeds {_iv(s3.get('combined_interval'))}; "
            f"law only {_iv(s3.get('law_interval'))}; seeds only (t) {_iv(s3.get('seeds_interval'))}"
        )
        per_seed = [f"s{r.seed} {_iv(r.savings_vs_optimal_law)}" for r in a.per_method(m) if r.savings_vs_optimal_law]
        if per_seed:
            out.append("    per seed, law only: " + ", ".join(per_seed))
    unreach = max((r.law_unreachable for r in a.rows), default=0)
    out.append(
        f"  {unreach} of {a.law_samples} law samples put a seed's target loss at or below their irreducible "
        "loss (c_opt = inf: counted at the limit +100%, not dropped)"
    )
    invalid = max((ag["savings_vs_optimal"].get("law_invalid", 0) for ag in agg.values()), default=0)
    if invalid:
        out.append(f"  {invalid} law samples gave no finite savings and are left out")
    return out


def summary(a) -> str:
    small, large = a.small, a.large
    n = len(a.scratch)
    ratio = a.growth_ratio
    grow = ""
    if ratio.get("total"):
        grow = f", growth x{ratio['total']:.3g} in parameters" + (
            f" (x{ratio['non_embedding']:.3g} non-embedding)" if ratio.get("non_embedding") else ""
        )
    seeds = ", ".join(str(s["seed"]) for s in a.scratch)
    values = (
        f"values are the mean over seeds [{INTERVAL_WORDS} over {n} seeds] (per-seed values)"
        if n > 1
        else "values of one seed: no interval (a 95% t interval over seeds needs at least 2)"
    )
    head = [
        f"Growth experiment {a.sweep_dir}",
        f"small {si(small.get('params', 0))} params ({small.get('n_layer')}x{small.get('d_model')}, "
        f"{si(small.get('tokens', 0))} tokens, loss {small.get('loss', float('nan')):.4f}) -> "
        f"large {si(large.get('params', 0))} params ({large.get('n_layer')}x{large.get('d_model')}), "
        f"scratch {si(large.get('tokens', 0))} tokens{grow}",
        f"seeds: {seeds}; {values}; savings in % of the scratch run's FLOPs, net of the operator "
        "(its FLOPs charged in all three)",
    ]
    head += schedule_lines(a) + [""]
    body = [table(a)]
    agg = a.aggregate()
    s3 = savings3_lines(a)
    if s3:
        body += [""] + s3
    starts = [f"{label(m)} {g['initial_loss']:.4f}" for m, g in agg.items() if g["initial_loss"] is not None]
    small_set = [g["small_loss_for_d_eq"] for g in agg.values() if g["small_loss_for_d_eq"] is not None]
    if starts:
        body += [
            "",
            f"held-out loss before training (mean over seeds), on the windows of the runs' curve points: small "
            f"{np.mean(small_set):.4f}; " + ", ".join(starts),
        ]
    everywhere = set.intersection(*(set(r.flags) for r in a.rows)) if len(a.rows) > 1 else set()
    flags = [f"all methods and seeds: {f}" for f in sorted(everywhere)]
    flags += sorted({f"{r.method} s{r.seed}: {f}" for r in a.rows for f in r.flags if f not in everywhere})
    tail = ([""] + ["flags:"] + [f"  - {f}" for f in flags]) if flags else []
    if a.notes:
        tail += [""] + [f"note: {n}" for n in a.notes]
    return "\n".join(head + body + tail)


def schedule_lines(a) -> list[str]:
    """The post-growth schedule of each method (of its largest grown run), against the scratch run's."""
    keys = ("schedule", "lr", "warmup", "min_lr_ratio")
    scratch = a.scratch[0].get("schedule", {}) if a.scratch else {}
    groups: dict[tuple, list[str]] = {}
    for m in a.methods:
        sch = a.per_method(m)[0].schedule
        if sch:
            groups.setdefault(tuple(sch.get(k) for k in keys), []).append(m)
    out = []
    for key, methods in groups.items():
        sch = dict(zip(keys, key))
        same = key == tuple(scratch.get(k) for k in keys)
        out.append(
            f"after growth ({', '.join(methods)}): {sch['schedule']}, peak lr {sch['lr']:.3g}, warm-up "
            f"{sch['warmup']} steps of the largest run, floor x{sch['min_lr_ratio']:g}"
            + (
                ": the scratch run's recipe"
                if same
                else f" (scratch: peak lr {scratch.get('lr', 0):.3g}, warm-up {scratch.get('warmup')} steps)"
            )
        )
    return out


__all__ = ["table", "summary", "schedule_lines", "savings3_lines"]
