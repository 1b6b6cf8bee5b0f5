"""The sparsity law of Frantar et al. 2024: the T5 fit, dense-equivalent sizes, optimal sparsity,
JSON round trips, and fitting it back from synthetic runs."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from scaling.errors import ScalingError
from scaling.fit.result import FitResult
from scaling.fit.sparsity import fit_sparsity, objective, to_theta
from scaling.laws import get_law, law_from_dict
from scaling.laws.chinchilla import ChinchillaLaw
from scaling.laws.sparsity import SparsityLaw, cost_factor, frantar_2024


def test_registered_t5_fit():
    law = get_law("frantar-2024")
    assert isinstance(law, SparsityLaw)
    assert law.params == {"a_S": 16.8, "b_S": 0.722, "c_S": 45.0, "b_N": 0.245, "a_D": 6.9e8, "b_D": 0.203, "c": 0.651}
    assert law.params_convention == "nonzero" and law.irreducible_loss == 0.651
    assert isinstance(get_law("frantar"), SparsityLaw)


def test_loss_formula():
    law = frantar_2024()
    N, D, S = 1e8, 2e9, 0.5
    want = (16.8 * 0.5**0.722 + 45.0) * N**-0.245 + (6.9e8 / D) ** 0.203 + 0.651
    assert law.loss(N, D, S) == pytest.approx(want, rel=1e-12)
    # more sparsity at the same non-zero count and data: lower loss (a bigger dense model behind it)
    assert law.loss(N, D, 0.75) < law.loss(N, D, 0.5) < law.loss(N, D, 0.0)
    # at one sparsity it is the Chinchilla form
    ch = law.at_sparsity(S)
    assert isinstance(ch, ChinchillaLaw)
    assert ch.loss(N, D) == pytest.approx(want, rel=1e-12)
    assert law.frontier(1e21, S=S) == pytest.approx(ch.frontier(1e21))
    with pytest.raises(ScalingError):
        law.loss(N, D, 1.0)


def test_dense_equivalent_75_percent_is_2_16x():
    law = frantar_2024()
    assert law.dense_equivalent_factor(0.75) == pytest.approx(2.16, abs=0.005)
    assert law.dense_equivalent_factor(0.0) == pytest.approx(1.0)
    assert 1.0 < law.dense_equivalent_factor(0.5) < law.dense_equivalent_factor(0.75)
    # definition: same loss as the dense model of that size, at any token count
    N = 3e8
    Nd = law.dense_equivalent(N, 0.75)
    for D in (1e9, 1e11):
        assert law.loss(N, D, 0.75) == pytest.approx(law.loss(Nd, D, 0.0), rel=1e-12)


def test_optimal_sparsity_zero_near_chinchilla_optimal_and_growing():
    law = frantar_2024()
    N = 1e9
    # (the dense frontier of this law sits at ~20-45 tokens per parameter for these budgets)
    for tpp in (5, 20, 40):
        assert law.optimal_sparsity(N, 6 * N * N * tpp) == 0.0, tpp
    s = [law.optimal_sparsity(N, 6 * N * N * tpp) for tpp in (200, 1000, 10000)]
    assert 0 < s[0] < s[1] < s[2] < 1, s
    # vectorised, and the optimum is an optimum of the stated objective
    C = 6 * N * N * np.array([20.0, 1000.0])
    v = law.optimal_sparsity(N, C)
    assert v.shape == (2,) and v[0] == 0 and v[1] == pytest.approx(s[1])
    S_opt = s[1]

    def loss_at(S):
        return law.loss(N, 6 * N * N * 1000 / (6 * N * cost_factor(S)), S)

    assert loss_at(S_opt) <= min(loss_at(S_opt - 0.02), loss_at(S_opt + 0.02))
    # charging sparse training at the non-zero share only, sparser is always better
    assert law.optimal_sparsity(N, 6 * N * N * 20, cost="nonzero", max_sparsity=0.9) == pytest.approx(0.9, abs=1e-3)
    with pytest.raises(ScalingError):
        law.optimal_sparsity(N, 1e20, cost="cheap")


def test_json_round_trip(tmp_path):
    law = frantar_2024()
    back = law_from_dict(json.loads(json.dumps(law.to_dict())))
    assert isinstance(back, SparsityLaw) and back.params == law.params
    assert back.params_convention == "nonzero"
    p = tmp_path / "law.json"
    p.write_text(json.dumps(law.to_dict()))
    assert get_law(str(p)).loss(1e8, 1e10, 0.5) == pytest.approx(law.loss(1e8, 1e10, 0.5))


def _synthetic(seed=0, noise=0.003, levels=(0.0, 0.5, 0.75)):
    law = frantar_2024()
    rng = np.random.default_rng(seed)
    rows = []
    for S in levels:
        for N in np.geomspace(2e7, 5e8, 4):
            for tpp in (5, 20, 80):
                D = N / (1 - S) * tpp
                L = float(law.loss(N, D, S)) * math.exp(rng.normal(0, noise))
                rows.append(
                    dict(
                        run_id=f"r{len(rows)}",
                        params=N / (1 - S),
                        nonzero_params=N,
                        tokens=D,
                        flops=6 * N * D,
                        loss=L,
                        sparsity=S,
                    )
                )
    return law, pd.DataFrame(rows)


def test_objective_gradient_is_exact():
    law, df = _synthetic()
    args = (
        np.log(df.nonzero_params.to_numpy()),
        np.log(df.tokens.to_numpy()),
        np.log1p(-df.sparsity.to_numpy()),
        np.log(df.loss.to_numpy()),
        0.05,
    )
    th = to_theta(law.params) + np.array([0.1, -0.05, 0.2, 0.01, -0.3, 0.02, 0.05])
    f, g = objective(th, *args)
    eps = 1e-6
    num = [
        (objective(th + eps * e, *args, grad=False) - objective(th - eps * e, *args, grad=False)) / (2 * eps)
        for e in np.eye(7)
    ]
    assert np.allclose(num, g, rtol=1e-5, atol=1e-9)


def test_fit_recovers_the_law():
    law, df = _synthetic()
    res = fit_sparsity(df, n_starts=6, bootstrap=6, seed=1)
    assert res.method == "sparsity" and res.form == "sparsity" and res.converged
    assert res.params_convention == "nonzero" and res.options["params_col"] == "nonzero_params"
    fitted = res.to_law()
    assert isinstance(fitted, SparsityLaw) and fitted.samples.shape == (6, 7)
    # what matters: the surface and the dense-equivalent factor, not each (correlated) parameter
    assert res.derived["dense_equivalent@0.75"] == pytest.approx(2.16, rel=0.05)
    for N, D, S in ((5e7, 1e9, 0.5), (3e8, 2e10, 0.75), (1e8, 5e9, 0.0)):
        assert fitted.loss(N, D, S) == pytest.approx(law.loss(N, D, S), rel=0.01)
    assert res.residuals["rmse_log_loss"] < 0.006
    lo, hi = res.intervals["dense_equivalent@0.75"]
    assert lo <= res.derived["dense_equivalent@0.75"] <= hi
    # the printed summary tabulates budgets around the data (largest run ~6e19 FLOPs), not 1e20..1e24
    from scaling.cli.fit import report

    budgets = [ln.split()[0] for ln in report(res).splitlines() if ln.strip().startswith("1e+")]
    top = int(np.floor(np.log10(df.flops.max())))
    assert budgets == [f"1e+{e}" for e in range(top - 1, top + 4)]
    # ... and says the dense-equivalent factors with their intervals, and that the form floors them at 1
    (line,) = [ln for ln in report(res).splitlines() if ln.startswith("dense-equivalent factor")]
    f75 = res.derived["dense_equivalent@0.75"]
    assert f"75% {f75:.3g}x ({lo:.3g} .. {hi:.3g})" in line and "cannot put it below 1" in line
    # the FitResult is JSON and loads back as a law
    back = FitResult.model_validate_json(res.model_dump_json())
    assert back.to_law().params == pytest.approx(fitted.params)


def test_fit_with_fixed_parameters_and_errors():
    law, df = _synthetic(levels=(0.0, 0.5))
    res = fit_sparsity(df, n_starts=4, fixed={"b_S": 0.722})
    assert res.params["b_S"] == 0.722 and "b_S" not in res.intervals
    assert res.to_law().loss(1e8, 1e10, 0.5) == pytest.approx(law.loss(1e8, 1e10, 0.5), rel=0.01)
    with pytest.raises(ScalingError, match="sparsity"):
        fit_sparsity(df.drop(columns=["sparsity"]))
    with pytest.raises(ScalingError, match="several sparsity levels"):
        fit_sparsity(df[df.sparsity == 0])
    with pytest.raises(ScalingError, match="fraction"):
        fit_sparsity(df.assign(sparsity=df.sparsity * 100))
    with pytest.raises(ScalingError, match="unknown parameter"):
        fit_sparsity(df, fixed={"alpha": 0.3})
