"""The growth plan as text: the report of a :class:`~scaling.growth.planner.GrowthPlan`.

:func:`format_ledger` is ``GrowthPlan.ledger()``: the phases, the predicted losses, the three
savings and the verdict; ``_pct`` and :func:`si_shape` are the small formatters the planner's
reasons use too.

This module imports nothing beyond the standard library and ``scaling.units``.
"""

from __future__ import annotations

import math

from ..units import sci, si


def _pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:+.1f}%"


def si_shape(d: dict) -> str:
    if not d:
        return "?"
    p = d.get("params")
    return f"{d.get('n_layer', '?')}x{d.get('d_model', '?')}" + (f" ({si(p)})" if p else "")


def _eta_interval(plan) -> str:
    """``, 95% interval lo .. hi`` of a calibrated eta; a calibrated eta without one says so."""
    if plan.eta_interval:
        return f", 95% interval {plan.eta_interval[0]:.3g} .. {plan.eta_interval[1]:.3g}"
    return ", no interval (one seed)" if plan.eta_measured_ratios else ""


def format_ledger(plan) -> str:
    """The printable report of a :class:`~scaling.growth.planner.GrowthPlan` (its ``ledger()``)."""
    out = [
        f"Growth plan: {sci(plan.budget)} FLOPs ({plan.flops_convention}), law {plan.law}, method {plan.method}",
        f"credit efficiency eta = {plan.eta:.3g}" + _eta_interval(plan) + f" ({plan.eta_source})",
        "",
    ]
    rows = [("phase", "shape", "params", "tokens", "FLOPs", "share")]
    paid = plan.total_flops
    for (name, tok, fl), shape in zip(plan._phases(), (plan.small, plan.large, plan.large)):
        share = "sunk" if "sunk" in name else f"{100 * fl / paid:.1f}%"
        desc = f"{shape.n_layer} x {shape.d_model}, {shape.n_head} heads"
        rows.append((name, desc, si(shape.params), si(tok), sci(fl), share))
    rows.append(
        (
            "total" + (" (budget; small sunk)" if plan.small_sunk else ""),
            "",
            "",
            si(plan.operator_tokens + plan.large_tokens + (0 if plan.small_sunk else plan.small_tokens)),
            sci(paid),
            "100%",
        )
    )
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for i, r in enumerate(rows):
        out.append("  ".join(c.ljust(w) if j < 2 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0 or i == len(rows) - 2:
            out.append("  ".join("-" * w for w in widths))
    out += ["", f"small model: {plan.small.describe()}", f"large model: {plan.large.describe()}"]
    if plan.growth_ratio:
        words = "total" if plan.ratio_convention == "total" else "non-embedding"
        out.append(f"growth ratio: x{plan.growth_ratio:.3g} (large / small {words} parameters)")
    out.append("")
    loss = f"{plan.loss:.4f}"
    if plan.loss_interval:
        loss += f" (over eta's 95% interval: {plan.loss_interval[0]:.4f} .. {plan.loss_interval[1]:.4f})"
    out += [
        f"predicted small-model loss:  {plan.small_loss:.4f}",
        f"token credit delta:          {si(plan.credit_tokens)} tokens (the large model behaves as if "
        f"trained on {si(plan.large_tokens + plan.credit_tokens)})",
        f"predicted final loss:        {loss}",
        f"compute-optimal scratch, same budget: {si(plan.optimal_params)} params x "
        f"{si(plan.optimal_tokens)} tokens -> loss {plan.optimal_loss:.4f}",
        "",
        "savings (FLOPs to reach the predicted loss; operator charged in all three):",
        f"  (1) vs the large model from scratch, small model not charged: {_pct(plan.savings_not_charged)}"
        f"   (scratch needs {sci(plan.scratch_same_flops)} FLOPs, {si(plan.scratch_same_tokens)} tokens)",
        f"  (2) vs the large model from scratch, small model charged:     {_pct(plan.savings_charged)}",
        f"  (3) vs a compute-optimal scratch model:                       {_pct(plan.savings_vs_optimal)}"
        f"   (it needs {sci(plan.optimal_flops_to_loss)} FLOPs"
        + (", small model sunk: not charged)" if plan.small_sunk else ")"),
        "",
        f"verdict: {plan.verdict.upper()}",
    ]
    out += [f"  - {r}" for r in plan.reasons]
    if plan.flags:
        out += ["", "flags:"] + [f"  [{f.code}] {f.message}" for f in plan.flags]
    if plan.notes:
        out += ["", "notes:"] + [f"  - {n}" for n in plan.notes]
    return "\n".join(out)
