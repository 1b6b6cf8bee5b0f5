"""The data-constrained law (Muennighoff et al. 2023): check values, reductions, fit, allocation, CLI."""

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.errors import ScalingError
from scaling.laws import ChinchillaLaw, get_law, law_from_dict
from scaling.laws.datacon import DataConstrainedLaw, muennighoff_2023
from scaling.planner import data_constrained_frontier, data_constrained_plan
from scaling.units import si

from conftest import FIXTURE_DATA

CHECKS = [((6.34e9, 242e9, 25e9), 2.2256440889984477), ((8.67e9, 178e9, 25e9), 2.2269634075087867)]
DATA = "muennighoff2023/muennighoff2023_dataconstrained_182.csv"  # under ../shared/data or tests/fixtures/public


@pytest.mark.parametrize("args,value", CHECKS)
def test_published_check_values(args, value):
    law = get_law("muennighoff-2023")
    assert isinstance(law, DataConstrainedLaw)
    assert law.loss(*args) == pytest.approx(value, abs=1e-9)


def test_check_values_vectorised_and_aliases():
    law = get_law("muennighoff")
    N, D, U = np.array([a for a, _ in CHECKS]).T
    np.testing.assert_allclose(law.loss(N, D, U), [v for _, v in CHECKS], atol=1e-9)
    assert get_law("data-constrained").name == "muennighoff-2023"


def test_reduces_to_chinchilla():
    law = muennighoff_2023()
    chin = law.chinchilla()
    assert isinstance(chin, ChinchillaLaw) and not isinstance(chin, DataConstrainedLaw)
    N, D = np.array([1e8, 1e9, 7e9]), np.array([2e9, 2e10, 1.4e11])
    np.testing.assert_allclose(law.loss(N, D), chin.loss(N, D), rtol=1e-15)
    np.testing.assert_allclose(law.loss(N, D, np.inf), chin.loss(N, D), rtol=1e-15)
    # U >= D and at least ~20 tokens per parameter: nothing is repeated, nothing is "excess"
    np.testing.assert_allclose(law.loss(N, D, D), chin.loss(N, D), rtol=1e-15)
    np.testing.assert_allclose(law.loss(N, D, 10 * D), chin.loss(N, D), rtol=1e-15)
    # the published unconstrained frontier is Chinchilla's closed form with alpha = beta: a = 0.5
    assert law.a == pytest.approx(0.5)


def test_repeated_data_efficiency():
    law = muennighoff_2023()
    eff = law.data_efficiency([1, 4, 16])
    assert eff[0] == pytest.approx(1.0)
    assert eff[1] == pytest.approx(0.93, abs=0.005)
    assert eff[2] == pytest.approx(0.66, abs=0.005)


@settings(max_examples=60, deadline=None)
@given(N=st.floats(1e7, 1e11), tpp=st.floats(1.0, 1000.0), u1=st.floats(1e-3, 2.0), k=st.floats(1.01, 100.0))
def test_more_unique_data_never_hurts(N, tpp, u1, k):
    law = muennighoff_2023()
    D = N * tpp
    U1 = max(D * u1, 1e3)
    assert law.loss(N, D, U1 * k) <= law.loss(N, D, U1) + 1e-12
    assert law.loss(N, D, U1) >= law.loss(N, D) - 1e-12


def test_json_round_trip_with_samples():
    law = muennighoff_2023()
    d = law.to_dict()
    assert d["form"] == "datacon" and d["params"]["R_D_star"] == pytest.approx(15.387756)
    back = law_from_dict(json.loads(json.dumps(d)))
    assert isinstance(back, DataConstrainedLaw)
    assert back.loss(6.34e9, 242e9, 25e9) == pytest.approx(CHECKS[0][1], abs=1e-12)
    samples = np.tile(list(law.params.values()), (3, 1)) * np.array([1, 1, 1, 1, 1, 0.9, 1.1])[None, :]
    with_s = DataConstrainedLaw(*law.params.values(), name="s", samples=samples)
    back = law_from_dict(json.loads(json.dumps(with_s.to_dict())))
    assert back.has_uncertainty and back.sample_laws()[0].R_D_star == pytest.approx(0.9 * 15.387756)


def test_allocation_for_1e22_and_25b_unique_tokens():
    (p,) = data_constrained_plan(1e22, 25e9)
    assert p.params == pytest.approx(7.02e9, rel=0.01)
    assert p.tokens == pytest.approx(237e9, rel=0.01)
    assert p.epochs == pytest.approx(9.49, abs=0.02)
    assert p.loss_gap > 0 and 0 < p.compute_efficiency < 1
    # unconstrained, the same budget buys 9.2B on 181B fresh tokens; repeated data pushes the optimum
    # to a smaller model trained for more (repeated) tokens
    assert p.unconstrained["params"] > p.params and p.tokens > p.unconstrained["tokens"]
    # an immutable result that reads like a report, in the Plan's words
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.params = 1.0  # type: ignore[misc]
    assert str(p) == p.summary() and "(9.49 epochs, 33.8 tokens per parameter)" in p.summary()
    assert f"unconstrained optimum at the same compute: {si(p.unconstrained['params'])} parameters" in str(p)
    assert p.flags == () and "warnings" not in p.to_dict()
    # a true minimum along the isoFLOP line, not a grid point: nearby sizes are worse
    law = muennighoff_2023()
    for f in (0.999, 1.001, 0.9, 1.1):
        N = p.params * f
        assert law.loss(N, 1e22 / (6 * N), 25e9) > p.loss


def test_allocation_matches_a_brute_force_search():
    law = muennighoff_2023()
    C = np.array([1e20, 1e21, 1e22, 1e23])
    U = np.array([1e9, 5e9, 25e9, 1e11])
    N, D = data_constrained_frontier(law, C, U)
    for c, u, n in zip(C, U, N):
        grid = np.exp(np.linspace(np.log(n) - 3, np.log(n) + 3, 20001))
        best = grid[np.argmin(law.loss(grid, c / (6 * grid), u))]
        assert n == pytest.approx(best, rel=5e-4)
        assert law.loss(n, c / (6 * n), u) <= law.loss(best, c / (6 * best), u) + 1e-12


def test_chinchilla_form_law_gets_repetition_constants():
    (p,) = data_constrained_plan(1e22, 25e9, "chinchilla-2022")
    assert "muennighoff" in p.law and [f.code for f in p.flags] == ["repetition"]
    assert f"  [repetition] {p.flags[0].message}" in p.summary().splitlines()
    assert p.to_dict()["warnings"] == [p.flags[0].message]
    with pytest.raises(ScalingError, match="no data-constrained form"):
        data_constrained_plan(1e22, 25e9, "chinchilla-approach1")


def test_fewer_unique_tokens_than_a_sequence():
    with pytest.raises(ScalingError, match="fewer than a single training sequence"):
        data_constrained_plan(1e22, 1000)


def test_fit_recovers_published_constants(shared_data):
    from scaling.fit.datacon import fit_datacon

    fit = fit_datacon(shared_data / DATA)
    assert fit.method == "datacon" and fit.form == "datacon" and fit.converged
    assert fit.params["R_D_star"] == pytest.approx(15.39, rel=0.05)
    assert fit.params["R_N_star"] == pytest.approx(5.31, rel=0.05)
    # the Chinchilla part stays at the published C4 values
    assert math.log(fit.params["A"]) == pytest.approx(6.255414, abs=1e-9)
    # the objective is flat: the other optimum the wide grid finds is reported, not hidden
    assert fit.has_flag("local_optima")
    assert any("several local optima" in f.message for f in fit.flags)
    assert fit.extra["other_optima"]
    law = fit.to_law()
    assert isinstance(law, DataConstrainedLaw)


@pytest.fixture(scope="module")
def synthetic_fit():
    """One fit of the synthetic runs, with a bootstrap: the point estimate does not depend on the
    resamples (they are drawn after it), so the recovery and the bootstrap tests share it."""
    from scaling.fit.datacon import fit_datacon

    return fit_datacon(FIXTURE_DATA / DATA, bootstrap=20, seed=1)


def test_fit_recovers_the_generating_constants(synthetic_fit):
    """The synthetic stand-in (tests/fixtures) is drawn from muennighoff-2023 itself with 0.2% noise."""
    fit = synthetic_fit
    assert fit.converged
    assert fit.params["R_D_star"] == pytest.approx(15.39, rel=0.06)
    assert fit.params["R_N_star"] == pytest.approx(5.31, rel=0.06)
    assert isinstance(fit.to_law(), DataConstrainedLaw)


def test_fit_bootstrap_and_json(synthetic_fit, tmp_path):
    """The bootstrap and the fit file, on the synthetic runs (the real ones are checked above)."""
    from scaling.fit.result import FitResult

    fit = synthetic_fit
    lo, hi = fit.intervals["R_D_star"]
    assert lo < fit.params["R_D_star"] < hi
    path = fit.save(tmp_path / "dc.json")
    law = FitResult.load(path).to_law()
    assert law.has_uncertainty and law.samples.shape[1] == 7
    assert get_law(str(path)).loss(6.34e9, 242e9, 25e9) == pytest.approx(
        fit.to_law().loss(6.34e9, 242e9, 25e9), rel=1e-12
    )


def test_fit_bad_input():
    import pandas as pd

    from scaling.fit.datacon import fit_datacon

    df = pd.DataFrame({"params": [1e8, 2e8, 4e8], "tokens": [1e9, 2e9, 4e9], "loss": [3.0, 2.9, 2.8]})
    with pytest.raises(ScalingError, match="unique-token column"):
        fit_datacon(df)
    df["unique_tokens"] = df["tokens"]
    with pytest.raises(ScalingError, match="repeated data"):
        fit_datacon(df)


def test_cli_check_value(cli):
    r = cli(
        "plan",
        "--law",
        "muennighoff-2023",
        "--params",
        "6.34e9",
        "--tokens",
        "242e9",
        "--unique-tokens",
        "25e9",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["loss"] == pytest.approx(2.2256440889984477, abs=1e-9)
    assert obj["extra"]["data_constrained"]["epochs"] == pytest.approx(9.68)


def test_cli_data_constrained_plan(capsys):
    from scaling.cli import main

    assert main(["plan", "1e22", "--unique-tokens", "25B", "--json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["law"] == "muennighoff-2023"
    assert obj["params"] == pytest.approx(7.02e9, rel=0.01) and obj["tokens"] == pytest.approx(237e9, rel=0.01)
    dc = obj["extra"]["data_constrained"]
    assert dc["epochs"] == pytest.approx(9.49, abs=0.02) and dc["loss_gap"] > 0
    assert main(["plan", "1e22", "--unique-tokens", "25B"]) == 0
    out = capsys.readouterr().out
    assert "epochs" in out and "9.49" in out and "compute eff." in out


@pytest.mark.parametrize(
    "args,needle",
    [
        (["plan", "1e22", "--unique-tokens", "1000"], "fewer than a single training sequence"),
        (["plan", "--target-loss", "2.0", "--unique-tokens", "1e9"], "cannot be reached"),
        (["plan", "1e22", "--unique-tokens", "25B", "--law", "kaplan-2020"], "no data-constrained form"),
    ],
)
def test_cli_bad_input_one_line(cli, args, needle):
    r = cli(*args)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1 and needle in err
