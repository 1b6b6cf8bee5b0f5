"""What a fit flags: a short stable code for programs, the sentence for people.

A flag is :class:`scaling.planner.result.Flag` (``code``, ``message``), the type a plan's notes
have too; ``FitResult.has_flag(code)`` asks for one, and ``summary()`` prints the messages.

Codes (a family of codes shares a prefix before ``:``; ``has_flag("bound")`` matches any):

    not_converged              the optimiser did not converge
    bound:<name>               a parameter ended on its bound (bound:E, bound:alpha, bound:N_c, ...)
    grid_edge                  the best start lies on the start grid's edge, the optimum beyond it
    bootstrap_failed           too few refits succeeded for intervals
    bootstrap_refits_failed    more than 5% of the refits failed (left out of the intervals)
    bootstrap_refits_on_bound  more than 5% of the refits ended with a parameter on its bound
    bootstrap_few_groups       a cluster bootstrap over fewer than 8 groups: intervals are coarse
    no_intervals               an allocation fit without intervals (2 points, or dependent points)
    samples_dropped            non-finite parameter samples of an allocation fit were dropped
    approach2_budget_left_out  a budget without a usable isoFLOP minimum was left out
    approach2_few_budgets      fewer usable budgets than ``MIN_BUDGETS``
    budgets_unmatched          runs matched none of the given budgets
    approach1_few_winners      few runs win the envelope
    not_6nd                    a + b differs from 1: tokens and FLOPs do not follow C = 6ND
    narrow_compute_range       the kept budgets span less than 10x in compute
    vp_disagrees               VP and the 5-parameter fit disagree on a
    approach3_stopped_short    VP's solution has a lower Approach-3 objective than Approach 3's
    comparison_not_converged   VP's 5-parameter comparison fit did not converge
    local_optima               a lower optimum than the reported one exists (data-constrained)
    sparsity_few_levels        too few sparsity levels to identify a_S, b_S, c_S
    sparsity_params_column     N taken from a column the law reads as non-zero parameters
    data_check                 a plausibility warning of the runs table
    mixed_architecture         the runs differ in mixer, context, vocabulary, sparsity or FLOP convention
    unusable                   ``scaling plan`` cannot use the fit's law
    legacy                     a flag of an old fit file whose sentence none of the above matches

Fit files written before flags had codes store the sentence alone: :func:`flag_from_text` gives a
sentence this package has written its code, and any other sentence the code ``legacy``.
"""

from __future__ import annotations

import re
from typing import Any

from ..planner.result import Flag

LEGACY = "legacy"
UNUSABLE = "unusable for planning"  # the sentence that starts the ``unusable`` flag

# Approach 3 names its optimised vector (a, b, e) = log (A, B, E); codes use the law's names
_LAW_NAME = {"a": "A", "b": "B", "e": "E"}

# (pattern of an old sentence, its code); a code ending in ":" takes the pattern's first group
_TEXT_CODES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), c)
    for p, c in (
        (r"^(not converged: |L-BFGS-B did not converge: )", "not_converged"),
        (r"^optimum on a bound: (\w+) at its", "bound:"),
        (r"^(\w+) = 0 at the optimum \(non-negativity", "bound:"),
        (r"^(\w+) is on its bound \(", "bound:"),
        (
            r"^(best start on the grid's edge|best start on the edge of the start grid|"
            r"optimum at the edge of the \(alpha, beta\) search range)",
            "grid_edge",
        ),
        (
            r"^(bootstrap: too few refits succeeded|(the )?bootstrap failed on almost every resample)",
            "bootstrap_failed",
        ),
        (r"^bootstrap: \d+ of \d+ refits failed", "bootstrap_refits_failed"),
        (r"^bootstrap: \d+ of \d+ refits \([^)]*\) ended with a parameter on its bound", "bootstrap_refits_on_bound"),
        (r"^(no intervals: |only 2 points for the power law)", "no_intervals"),
        (r"parameter samples were not finite", "samples_dropped"),
        (r"^budget C=\S+ left out: ", "approach2_budget_left_out"),
        (r"run\(s\) matched none of the given budgets", "budgets_unmatched"),
        (r"^only \d+ usable budgets? \(fewer than", "approach2_few_budgets"),
        (r"^a \+ b = \S+ differs from 1", "not_6nd"),
        (r"^(the kept budgets span only|the usable envelope spans only)", "narrow_compute_range"),
        (r"^only \d+ runs win the envelope", "approach1_few_winners"),
        (r"^VP and the 5-parameter fit disagree", "vp_disagrees"),
        (r"^the VP solution has a lower Approach-3 objective", "approach3_stopped_short"),
        (r"^the 5-parameter comparison fit did not converge", "comparison_not_converged"),
        (r"^the objective has several local optima", "local_optima"),
        (r"^only \d+ sparsity levels", "sparsity_few_levels"),
        (r"^N taken from the .* column", "sparsity_params_column"),
        (r"^data: ", "data_check"),
        (rf"^{UNUSABLE}: ", "unusable"),
    )
)


def bound(name: str, message: str) -> Flag:
    """The flag of a parameter on its bound: code ``bound:<name>`` in the law's parameter names."""
    return Flag(f"bound:{_LAW_NAME.get(name, name)}", message)


def flag_from_text(text: str) -> Flag:
    """A flag from the sentence alone (a fit file written before flags had codes)."""
    for pattern, code in _TEXT_CODES:
        m = pattern.search(text)
        if m:
            if code.endswith(":"):
                return bound(m.group(1), text)
            return Flag(code, text)
    return Flag(LEGACY, text)


def as_flag(value: Any) -> Any:
    """A flag from a sentence (old files) or as given (a Flag, or a {code, message} mapping that
    the model validates)."""
    return flag_from_text(value) if isinstance(value, str) else value


__all__ = ["LEGACY", "UNUSABLE", "bound", "flag_from_text", "as_flag"]
