"""Plain-text tables of plans: what ``scaling plan`` prints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..hardware import DEFAULT_SPARSE_EFFICIENCY, SPARSE_EFFICIENCY_SOURCE
from ..units import si
from .result import Plan


def format_table(plans: Sequence[Plan]) -> str:
    """A plain-text table, one row per plan, with the columns that carry information (a sparse plan
    priced on hardware: with its dense comparison rows, :func:`format_sparse_comparison`)."""
    if any(p.dense for p in plans):
        return format_sparse_comparison(plans)
    cols = _columns(plans)
    rows = [[name for name, _ in cols]] + [[f(p) for _, f in cols] for p in plans]
    body = _header(plans[0]) + "\n" + "\n".join(_aligned(rows))
    tail = [line for p in plans for line in _beyond_lines(p)]
    return body + ("\n" + "\n".join(tail) if tail else "")


def _aligned(rows: list[list[str]], left: int = 0) -> list[str]:
    """Columns right-aligned (the first ``left`` left-aligned), a rule under the header row."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


_BASIS = {"same_flops": "dense, same FLOPs", "same_gpu_hours": "dense, same GPU-hours", "same_loss": "dense, same loss"}


def format_sparse_comparison(plans: Sequence[Plan]) -> str:
    """Sparse plans priced on hardware, each followed by the dense plans it is compared with (the
    same FLOPs, the same GPU-hours; the same loss for a target loss), then how the sparse plan runs
    (pattern, sparse peak, assumed efficiency, speedup of the masked matmuls, time factor)."""
    labelled: list[tuple[str, Plan]] = []
    for p in plans:
        pattern = p.extra.get("pattern") or "unstructured"
        labelled.append((f"{pattern} sparse {100 * p.extra.get('sparsity', 0.0):g}%", p))
        labelled += [(_BASIS.get(k, k), d) for k, d in (p.dense or {}).items()]
    everything = [q for _, q in labelled]
    cols = [("plan", None)] + _columns(everything)
    rows = [[name for name, _ in cols]]
    for label, q in labelled:
        rows.append([label] + [f(q) for _, f in cols[1:]])
    lines = _aligned(rows, left=1)
    p0 = plans[0]
    dense_law = next(iter(p0.dense.values())).law if p0.dense else p0.law
    head = _header(p0, law=f"{p0.law} (sparse rows), {dense_law} (dense rows)")
    out = [head] + lines
    out += _sparse_notes(plans)
    tail = [line for p in plans for line in _beyond_lines(p)]
    return "\n".join(out + tail)


def _span(values: list[float], fmt: str) -> str:
    """One value, or ``lo-hi`` when the values differ at the printed precision."""
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo}-{hi}"


def _sparse_notes(plans: Sequence[Plan]) -> list[str]:
    """How the sparse plans run on their hardware (the masked matmuls' share and the time factor
    differ with size: a range over several budgets), and which numbers are assumed."""
    sparse = [p.budget["sparse"] for p in plans if p.budget and p.budget.get("sparse")]
    if not sparse:
        return []
    b = next(p.budget for p in plans if p.budget)
    sp = dict(sparse[0])
    share = _span([100 * x["block_linear_share"] for x in sparse], ".1f") + "%"
    sp["time_factor"] = _span([x["time_factor"] for x in sparse], ".3f")
    where = (
        f"the loss comes from the law; GPU-hours, dollars and energy from {b['accelerator']}'s datasheet peaks at an "
        f"assumed {100 * b['mfu']:.0f}% MFU"
    )
    if sp["pattern"] == "unstructured":
        return [
            f"sparse execution: unstructured masks get no hardware speedup on {b['accelerator']} (dense kernels "
            f"multiply the zeros too): the masked matmuls ({share} of the counted FLOPs) cost what the dense ones "
            f"do, {sp['time_factor']}x the time of the counted FLOPs at the dense rate",
            where,
        ]
    e = sp["sparse_efficiency"]
    ratio = sp["sparse_peak_flops"] / b["peak_flops"]
    why = SPARSE_EFFICIENCY_SOURCE if e == DEFAULT_SPARSE_EFFICIENCY else "set by --sparse-efficiency"
    return [
        f"sparse execution: {sp['pattern']} on {b['accelerator']}: sparse peak {sp['sparse_peak_flops'] / 1e12:.4g} "
        f"TFLOPS ({ratio:.2f}x dense) at --sparse-efficiency {e:g} -> {sp['speedup']:.3f}x on the masked "
        f"matmuls ({share} of the counted FLOPs) -> {sp['time_factor']}x the time of the counted FLOPs at "
        "the dense rate",
        f"sparse efficiency {e:g}: {why}",
        where + " and the sparse efficiency",
    ]


def _header(p0: Plan, law: str | None = None) -> str:
    params_conv = p0.params_convention
    if p0.extra.get("sparsity") and params_conv == "total":
        params_conv = "non-zero"
    head = f"law: {law or p0.law}   FLOPs convention: {p0.flops_convention}   params: {params_conv}"
    if p0.extra.get("mixer"):
        pattern = f" ({p0.extra['pattern']})" if p0.extra.get("pattern") else ""
        head += f"   mixer: {p0.extra['mixer']}" + (
            f", {100 * p0.extra['sparsity']:g}% sparse{pattern}" if p0.extra.get("sparsity") else ""
        )
    if p0.extra.get("granularity") is not None:
        head += f"   granularity: G = {p0.extra['granularity']:g} (fixed)"
    if p0.budget:
        b = p0.budget
        head += f"\nhardware: {b['accelerator']} at {100 * b['mfu']:.0f}% MFU"
        head += f", {b['gpus']} GPUs" if b.get("gpus") else "; days on one GPU (--gpus N for wall-clock days on N)"
    if p0.extra.get("inference"):
        i0 = p0.extra["inference"]
        if "cost" in i0:
            c = i0["cost"]
            head += (
                f"\nobjective: dollars (training {c['train']['accelerator']} at "
                f"{100 * c['train']['mfu']:.0f}% MFU, "
                f"${c['train']['price_per_gpu_hour']:g}/GPU-h; inference {c['inference']['accelerator']} at "
                f"{100 * c['inference']['mfu']:.0f}% MFU, ${c['inference']['price_per_gpu_hour']:g}/GPU-h)"
            )
        else:
            head += "\nobjective: training 6*N*D + inference 2*N*D_inf FLOPs; FLOPs column = training FLOPs"
    return head


def _columns(plans: Sequence[Plan]) -> list[tuple[str, Any]]:
    """The table's columns (name, cell of a plan): those that carry information for these plans."""

    def lohi(p: Plan, k: str, f=si):
        iv = (p.interval or {}).get(k)
        return f"{f(iv.lo)}-{f(iv.hi)}" if iv else ""

    cols: list[tuple[str, Any]] = [
        ("FLOPs", lambda p: f"{p.flops:.3g}"),
        ("params", lambda p: si(p.params)),
        ("tokens", lambda p: si(p.tokens)),
        ("tok/param", lambda p: f"{p.tokens_per_param:.1f}"),
    ]
    if any(p.loss is not None for p in plans):
        cols.append(("loss", lambda p: "-" if p.loss is None else f"{p.loss:.4f}"))
    if any(p.interval is not None for p in plans):
        lvl = int(round(100 * next(p.level or 0.0 for p in plans if p.interval is not None)))
        cols += [(f"params {lvl}%", lambda p: lohi(p, "params")), (f"tokens {lvl}%", lambda p: lohi(p, "tokens"))]
        if any((p.interval or {}).get("loss") for p in plans):
            cols.append((f"loss {lvl}%", lambda p: lohi(p, "loss", lambda v: f"{v:.3f}")))

    def dc(p: Plan):
        return p.extra.get("data_constrained")

    def inf(p: Plan):
        return p.extra.get("inference")

    if any(dc(p) for p in plans):
        cols += [
            ("unique", lambda p: si(dc(p)["unique_tokens"]) if dc(p) else ""),
            ("epochs", lambda p: f"{dc(p)['epochs']:.3g}" if dc(p) else ""),
            ("unconstr. N", lambda p: si(dc(p)["unconstrained"]["params"]) if dc(p) else ""),
            ("unconstr. loss", lambda p: f"{dc(p)['unconstrained']['loss']:.4f}" if dc(p) else ""),
            ("vs unconstr.", lambda p: f"+{dc(p)['loss_gap']:.4f}" if dc(p) else ""),
            ("compute eff.", lambda p: f"{100 * dc(p)['compute_efficiency']:.1f}%" if dc(p) else ""),
        ]
    if any(inf(p) for p in plans):
        dollars = any("cost" in (inf(p) or {}) for p in plans)
        cols += [
            ("inference tok", lambda p: si(inf(p)["inference_tokens"]) if inf(p) else ""),
            ("total FLOPs", lambda p: f"{inf(p)['total_flops']:.3g}" if inf(p) else ""),
            ("Chinchilla N", lambda p: si(inf(p)["chinchilla"]["params"]) if inf(p) else ""),
            ("Chinchilla total", lambda p: f"{inf(p)['chinchilla']['total_flops']:.3g}" if inf(p) else ""),
        ]
        if dollars:
            cols += [
                ("total $", lambda p: si(inf(p)["cost"]["total_usd"]) if inf(p) and "cost" in inf(p) else ""),
                (
                    "Chinchilla $",
                    lambda p: (
                        si(inf(p)["chinchilla"]["total_usd"]) if inf(p) and "total_usd" in inf(p)["chinchilla"] else ""
                    ),
                ),
            ]
        cols.append(("saving", lambda p: f"{100 * inf(p)['saving']:.1f}%" if inf(p) else ""))
    if any(p.frontier for p in plans):
        cols.append(("optimal N @C", lambda p: si(p.frontier["params"]) if p.frontier else ""))
        if any(p.frontier and "loss_gap" in p.frontier for p in plans):
            cols.append(
                (
                    "loss gap",
                    lambda p: f"+{p.frontier['loss_gap']:.4f}" if p.frontier and "loss_gap" in p.frontier else "",
                )
            )
    if any(p.shape for p in plans):
        cols.append(
            (
                "shape (L x d, heads)",
                lambda p: f"{p.shape['n_layer']} x {p.shape['d_model']}, {p.shape['n_head']}" if p.shape else "",
            )
        )
        cols.append(("snap", lambda p: f"{100 * p.shape['snap_rel_error']:+.1f}%" if p.shape else ""))
    if any(p.budget for p in plans):
        b0 = next(p.budget for p in plans if p.budget)
        cols += [
            ("GPU-hours", lambda p: si(p.budget["gpu_hours"])),
            (f"days@{b0['gpus']}" if b0.get("gpus") else "days@1", lambda p: f"{p.budget['days']:.3g}"),
            ("cost $", lambda p: si(p.budget["cost_usd"])),
            ("MWh", lambda p: f"{p.budget['energy_kwh'] / 1e3:.3g}"),
            ("t CO2e", lambda p: f"{p.budget['co2_kg'] / 1e3:.3g}"),
        ]
    return cols


def _beyond_lines(p: Plan) -> list[str]:
    """The flatness and distribution reports under the table."""
    out = []
    f = p.extra.get("flatness")
    if f:
        with_u = f" with {si(f['unique_tokens'])} unique tokens" if f.get("unique_tokens") else ""
        out.append(
            f"at {f['flops']:.3g} FLOPs{with_u}: "
            f"sizes within {100 * f['tolerance']:.3g}% of the best loss "
            f"({f['loss_best']:.4f} at {si(f['params_best'])}): "
            f"{si(f['params_lo'])} .. {si(f['params_hi'])} "
            f"({f['ratio_lo']:.2f}x .. {f['ratio_hi']:.2f}x the optimum; "
            f"{si(f['tokens_at_params_hi'])} .. {si(f['tokens_at_params_lo'])} tokens)"
        )
        pen = ", ".join(f"{float(k):.3g}x: +{100 * v:.2f}%" for k, v in f["penalty"].items())
        out.append(f"  loss penalty of a size k x the optimum: {pen}")
    d = p.extra.get("distribution")
    if d:
        pc = d["percentiles"]
        keys = [k for k in ("2.5", "25", "50", "75", "97.5") if k in pc["params"]]
        out.append(f"  over {d['n_samples']} samples of the law, percentiles {' / '.join(keys)}:")
        out.append("    N_opt: " + " / ".join(si(pc["params"][k]) for k in keys))
        out.append("    D_opt: " + " / ".join(si(pc["tokens"][k]) for k in keys))
        out.append("    loss:  " + " / ".join(f"{pc['loss'][k]:.4f}" for k in keys))
        out.append(
            f"  expected loss penalty of training the point estimate's {si(d['point']['params'])}: "
            f"{d['expected_penalty']:.4f} nats; the size minimising the expected loss: "
            f"{si(d['robust']['params'])} (penalty {d['robust']['expected_penalty']:.4f})"
        )
    return out


__all__ = ["format_table"]


def format_law_comparison(df) -> str:
    """The side-by-side table of ``scaling plan C --law all``: one block per budget, a row per law,
    then the spread across laws (:func:`scaling.planner.law_comparison.compare_laws`
    computes it)."""
    out = []
    for flops, g in df.groupby("flops", sort=True):
        rows = [("law", "form", "params", "tokens", "tok/param", "loss", "loss scale", "fitted up to", "conv.")]
        notes: list[str] = []
        for _, r in g.iterrows():
            hi = r["fitted_flops_hi"]
            conv = ""
            if r["conversion"] != "none":
                notes.append(f"[{len(notes) + 1}] {r['law']}: {r['conversion']}")
                conv = f"[{len(notes)}]"
            rows.append(
                (
                    r["law"],
                    r["form"],
                    si(r["params"]),
                    si(r["tokens"]),
                    f"{r['tokens_per_param']:.1f}",
                    "-" if r["loss"] != r["loss"] else f"{r['loss']:.4f}",
                    r["loss_scale"] if r["predicts_loss"] else "-",
                    "-" if hi != hi else f"{hi:.2g}",
                    conv,
                )
            )
        widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
        lines = [f"at {flops:.3g} FLOPs ({len(g)} laws):"]
        for j, row in enumerate(rows):
            lines.append(
                "  ".join(
                    str(v).ljust(w) if i in (0, 1, 6, 8) else str(v).rjust(w)
                    for i, (v, w) in enumerate(zip(row, widths))
                ).rstrip()
            )
            if j == 0:
                lines.append("  ".join("-" * w for w in widths))
        sp = df.attrs.get("spread", {}).get(flops)
        if sp:
            lines.append(
                f"spread: params {sp['params']:.2f}x ({sp['params_min'][0]} {si(sp['params_min'][1])} .. "
                f"{sp['params_max'][0]} {si(sp['params_max'][1])}), tokens {sp['tokens']:.2f}x "
                f"({sp['tokens_min'][0]} {si(sp['tokens_min'][1])} .. {sp['tokens_max'][0]} "
                f"{si(sp['tokens_max'][1])}); tokens/param {sp['tokens_per_param_range'][0]:.3g} .. "
                f"{sp['tokens_per_param_range'][1]:.3g}"
            )
        lines += notes
        out.append("\n".join(lines))
    note = df.attrs.get("note")
    if note:
        out.append(f"note: {note}")
    return "\n\n".join(out)
