"""A fit's flags are a code and a message: callers ask ``has_flag(code)``, the summary prints the
messages as before, and fit files whose flags are sentences (the committed Approach 3 ones) still load."""

import json
from pathlib import Path

import numpy as np
import pytest
from test_fit_approach2 import synthetic_isoflops

from scaling.fit._surface import BOUNDS
from scaling.fit.approach2 import fit_approach2
from scaling.fit.approach3 import flags_for
from scaling.fit.bootstrap import health_flags
from scaling.fit.flags import LEGACY, flag_from_text
from scaling.fit.multistart import Approach3Optimum
from scaling.fit.result import BootstrapInfo, FitResult
from scaling.planner.result import Flag

DATA = Path(__file__).resolve().parents[1] / "data"

# sentences the fitters write (some taken from the committed fit files), and their codes
SENTENCES = [
    ("not converged: ABNORMAL_TERMINATION_IN_LNSRCH", "not_converged"),
    ("L-BFGS-B did not converge: STOP: TOTAL NO. of ITERATIONS REACHED LIMIT", "not_converged"),
    ("optimum on a bound: e at its lower bound -20 (E = 2.061e-09)", "bound:E"),
    ("optimum on a bound: alpha at its upper bound 4 (alpha = 4)", "bound:alpha"),
    ("A = 0 at the optimum (non-negativity constraint active): that term is absent, the law is degenerate", "bound:A"),
    ("b_S is on its bound (5)", "bound:b_S"),
    ("R_D_star is on its bound (1e+04)", "bound:R_D_star"),
    (
        "best start on the grid's edge and the optimum beyond it (e start -1, optimum -1.507 below the grid): "
        "the grid of starts may not cover the optimum's region",
        "grid_edge",
    ),
    ("best start on the edge of the start grid and the optimum beyond it (alpha_N)", "grid_edge"),
    ("optimum at the edge of the (alpha, beta) search range (2, 0.3)", "grid_edge"),
    ("bootstrap: too few refits succeeded for intervals", "bootstrap_failed"),
    ("bootstrap failed on almost every resample: no intervals", "bootstrap_failed"),
    ("the bootstrap failed on almost every resample: no intervals", "bootstrap_failed"),
    ("no intervals: the envelope points are not independent (use bootstrap > 0)", "no_intervals"),
    ("only 2 points for the power law: the exponents have no interval", "no_intervals"),
    ("12 of 1000 parameter samples were not finite (k_N or k_D overflowed) and were dropped", "samples_dropped"),
    (
        "budget C=1e+12 left out: parabola opens downward (curvature -0.00253 <= 0): no minimum",
        "approach2_budget_left_out",
    ),
    ("3 run(s) matched none of the given budgets and were left out", "budgets_unmatched"),
    (
        "only 1 usable budget (fewer than 5): a and b rest on 1 points and are poorly determined",
        "approach2_few_budgets",
    ),
    ("a + b = 1.070 differs from 1: the runs' tokens and FLOPs do not follow C = 6ND", "not_6nd"),
    ("the kept budgets span only 3.2x in compute: exponents are poorly determined", "narrow_compute_range"),
    ("the usable envelope spans only 5x in compute", "narrow_compute_range"),
    ("only 3 runs win the envelope: the exponents rest on few sizes", "approach1_few_winners"),
    ("VP and the 5-parameter fit disagree: a = 0.5100 (VP) vs 0.4800 (Approach 3)", "vp_disagrees"),
    ("the VP solution has a lower Approach-3 objective (0.01) than the 5-parameter search", "approach3_stopped_short"),
    ("the 5-parameter comparison fit did not converge", "comparison_not_converged"),
    ("the objective has several local optima: the lowest, 0.1 at R_D* = 5, R_N* = 6", "local_optima"),
    ("only 2 sparsity levels: a_S, b_S and c_S are not all identified", "sparsity_few_levels"),
    ("N taken from the 'params' column: the law assumes it counts NON-ZERO parameters", "sparsity_params_column"),
    ("data: params ('params') below 1,000 in 120 of 240 runs", "data_check"),
    ("unusable for planning: its law cannot be built", "unusable"),
    ("a note some other version wrote", LEGACY),
]


@pytest.mark.parametrize("text,code", SENTENCES)
def test_a_sentence_gets_its_code(text, code):
    assert flag_from_text(text) == Flag(code, text)


def test_the_fitters_sentences_read_back_as_their_codes():
    """What the fitters write now maps back to the same code, so an old file of the same fit tells
    the same story."""
    made = list(fit_approach2(synthetic_isoflops(budgets=(1e18, 1e19, 1e20), n=5, spread=0.5)).flags)
    made += health_flags(
        BootstrapInfo(n=100, n_failed=9, failed={"did not converge": 9}, n_on_bound=9, on_bound={"E (lower)": 9})
    )
    theta = np.array([BOUNDS[0][1], 5.0, BOUNDS[2][0], 0.3, 0.3])
    opt = Approach3Optimum(
        theta=theta, objective=1.0, grad=np.zeros(5), converged=False, message="x", start=theta, n_starts=1
    )
    made += flags_for(opt)
    codes = {f.code for f in made}
    assert {"approach2_few_budgets", "bootstrap_refits_failed", "bootstrap_refits_on_bound", "not_converged"} <= codes
    assert {"bound:A", "bound:E"} <= codes
    for f in made:
        assert flag_from_text(f.message) == f


def test_committed_fit_files_load_with_codes_and_print_as_before():
    old = FitResult.load(DATA / "arch-cpu-attention-h100-fit-approach3.json")
    sentence = json.loads((DATA / "arch-cpu-attention-h100-fit-approach3.json").read_text())["flags"][0]
    assert old.flags == [Flag("bound:E", sentence)]
    assert old.has_flag("bound:E") and old.has_flag("bound") and not old.has_flag("bound:A")
    assert f"flags:\n  - {sentence}" in old.summary()
    sparse = FitResult.load(DATA / "sparse-cpu-fit.json")  # refitted: its flags are written with codes
    assert [f.code for f in sparse.flags] == ["bound:b_S", "bound:c", "bootstrap_refits_on_bound"]
    assert [flag_from_text(f.message) for f in sparse.flags] == sparse.flags
    assert FitResult.load(DATA / "cpu-isoflop-fit-approach2.json").has_flag("approach2_budget_left_out")


def test_a_saved_fit_writes_codes_and_reads_them_back(tmp_path):
    old = FitResult.load(DATA / "cpu-isoflop-fit-approach3.json")
    path = old.save(tmp_path / "fit.json")
    assert json.loads(path.read_text())["flags"] == [{"code": "grid_edge", "message": old.flags[0].message}]
    new = FitResult.load(path)
    assert new == old and new.summary() == old.summary()
    doc = json.loads(path.read_text())
    doc["flags"] = [{"code": "my_code", "message": "said otherwise"}, "unusable for planning: no"]
    mixed = FitResult.model_validate(doc)
    assert mixed.flags == [Flag("my_code", "said otherwise"), Flag("unusable", "unusable for planning: no")]
    assert not FitResult.load(DATA / "cpu-isoflop-h100-fit-approach3.json").flags  # none stays none
