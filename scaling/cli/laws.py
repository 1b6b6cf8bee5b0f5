"""``scaling laws``: the registry of published laws with citations."""

from __future__ import annotations

import json

from ..laws import get_law, laws_by_form, list_laws


def register(sub) -> None:
    p = sub.add_parser(
        "laws",
        help="list the built-in published laws",
        description="List the registry of published laws: parameters, conventions, citation.",
    )
    p.add_argument("name", nargs="?", help="show one law in full")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)


def run(args) -> int:
    names = [args.name] if args.name else list_laws()
    laws = [get_law(n) for n in names]
    if args.json:
        print(json.dumps([law.to_dict() for law in laws] if not args.name else laws[0].to_dict(), indent=2))
        return 0
    if not args.name:  # grouped by form, in registry order within a group
        groups = laws_by_form()
        order = {n: i for i, n in enumerate(n for names_ in groups.values() for n in names_)}
        laws.sort(key=lambda law: order.get(law.name, len(order)))
        print(f"{len(laws)} laws in {len(groups)} forms (`scaling plan C --law all` puts them side by side)")
    form = None
    for law in laws:
        if not args.name and law.form != form:
            form = law.form
            print(f"\n== {form} ==")
        print(law.describe())
        extra = []
        if hasattr(law, "a") and hasattr(law, "b"):
            extra.append(f"N_opt ∝ C^{law.a:.4g}, D_opt ∝ C^{law.b:.4g}")
        extra.append(f"FLOPs: {law.flops_convention}, params: {law.params_convention}")
        if law.provenance.fitted_flops:
            lo, hi = law.provenance.fitted_flops
            extra.append(f"fitted on {lo:.2g}..{hi:.2g} FLOPs")
        print("    " + "; ".join(extra))
        for k, (lo, hi) in law.param_intervals.items():
            print(f"    95% interval {k}: ({lo:g}, {hi:g})")
        if law.provenance.citation:
            print(f"    {law.provenance.citation}  {law.provenance.url}")
        if law.provenance.notes and args.name:
            print(f"    {law.provenance.notes}")
    return 0
