"""The dense-equivalent factor from per-sparsity Chinchilla fits (scaling.planner.equivalence) and
``scaling compare --dense-equivalent``: known truths, the "worse than dense" and unreachable cases,
the bootstrap pairing, and the CLI's checks of the sparsity the fits record."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.optimize import brentq

from scaling.errors import ScalingError
from scaling.laws.chinchilla import ChinchillaLaw
from scaling.planner.equivalence import dense_equivalent, equivalent_params

E, A, B, ALPHA, BETA = 1.7, 400.0, 410.0, 0.34, 0.28
TPP = [5.0, 20.0, 80.0, 320.0]


def dense(**kw) -> ChinchillaLaw:
    return ChinchillaLaw(E, A, B, ALPHA, BETA, name="dense", **kw)


def worth(k: float, **kw) -> ChinchillaLaw:
    """A law whose N parameters do what k N parameters of ``dense()`` do (E, B, beta shared)."""
    return ChinchillaLaw(E, A * k**-ALPHA, B, ALPHA, BETA, name=f"worth-{k:g}", **kw)


@pytest.mark.parametrize("k", [2.0, 1.0, 0.5, 0.13])
def test_shared_E_B_beta_give_a_constant_factor(k):
    res = dense_equivalent(dense(), worth(k), 1e8, tokens_per_param=TPP)
    assert [r.factor for r in res.rows] == pytest.approx([k] * len(TPP), rel=1e-10)
    assert [r.dense_params for r in res.rows] == pytest.approx([k * 1e8] * len(TPP), rel=1e-10)
    assert [r.tokens for r in res.rows] == pytest.approx([t * 1e8 for t in TPP])
    assert [r.sparse_loss for r in res.rows] == pytest.approx([worth(k).loss(1e8, t * 1e8) for t in TPP])
    if k < 1:  # worse than dense is said as such, not clipped to 1
        assert all(r.factor < 1 for r in res.rows) and f"{k:.3g}x" in res.summary()


def test_other_B_beta_E_make_the_factor_depend_on_D_and_it_solves_the_dense_law():
    sparse = ChinchillaLaw(1.6, 250.0, 900.0, 0.31, 0.33)
    res = dense_equivalent(dense(), sparse, 3e7, tokens=[1e8, 1e9, 1e10, 1e11])
    f = res.factors
    assert np.all(np.isfinite(f)) and np.ptp(f) / f.mean() > 0.1  # varies with D
    for r in res.rows:
        # the dense law at N_eq on the same tokens has the sparse loss, found by a root finder
        n = math.exp(brentq(lambda x, r=r: dense().loss(math.exp(x), r.tokens) - r.sparse_loss, 0, 60, xtol=1e-13))
        assert r.dense_params == pytest.approx(n, rel=1e-8)
        assert dense().loss(r.dense_params, r.tokens) == pytest.approx(r.sparse_loss, rel=1e-12)


def test_a_loss_below_the_dense_floor_is_unreachable_not_an_error():
    sparse = ChinchillaLaw(E, A, 100.0, ALPHA, BETA)  # a smaller data term: beats any dense model on few tokens
    res = dense_equivalent(dense(), sparse, 1e9, tokens=[1e13, 1e9])
    first, last = res.rows
    assert math.isfinite(first.factor) and first.factor > 1
    # at 1e9 tokens the sparse loss is below E_d + B_d / D^beta_d: no dense size matches it
    assert last.sparse_loss <= E + B * 1e9**-BETA
    assert last.factor == math.inf and last.dense_params == math.inf
    assert "unreachable" in res.summary() and "inf" in res.summary()
    d = res.to_dict()
    assert d["rows"][1]["factor"] == "inf" and json.loads(json.dumps(d))["rows"][0]["factor"] == pytest.approx(
        first.factor
    )
    assert equivalent_params(dense(), E, 1e9) == math.inf  # at the floor itself too


def test_interval_pairs_samples_up_to_the_shorter_list():
    rng = np.random.default_rng(0)
    base = np.array([E, A, B, ALPHA, BETA])
    sd = np.tile(base, (40, 1))
    sd[:, 1] *= np.exp(rng.normal(0, 0.05, 40))
    # each sparse sample worth exactly 2x its paired dense sample: a degenerate interval at 2
    ss = sd[:25].copy()
    ss[:, 1] *= 2.0**-ALPHA
    res = dense_equivalent(dense(samples=sd), worth(2.0, samples=ss), 1e8, tokens_per_param=TPP)
    assert res.n_samples == 25
    for r in res.rows:
        assert r.interval == pytest.approx((2.0, 2.0), rel=1e-9) and r.n_unreachable == 0
        assert r.sparse_loss_interval[0] < r.sparse_loss < r.sparse_loss_interval[1]
    assert "25 paired bootstrap samples" in res.summary()
    # independent sparse uncertainty: an interval around the estimate, reaching below 1 for a factor near 1
    ss2 = np.tile(base, (40, 1))
    ss2[:, 1] *= np.exp(rng.normal(0, 0.2, 40))
    res = dense_equivalent(dense(samples=sd), worth(1.0, samples=ss2), 1e8, tokens_per_param=[20], level=0.9)
    (r,) = res.rows
    assert r.interval[0] < 1 < r.interval[1] and res.level == 0.9 and res.n_samples == 40
    assert (
        dense_equivalent(
            dense(samples=sd), worth(1.0, samples=ss2), 1e8, tokens_per_param=[20], max_samples=10
        ).n_samples
        == 10
    )


def test_unreachable_samples_rank_as_infinite_factors():
    sd = np.tile([E, A, B, ALPHA, BETA], (20, 1))
    ss = sd.copy()
    ss[:3, 0] = 1.0  # three sparse samples with a floor far below the dense law's
    res = dense_equivalent(dense(samples=sd), worth(1.0, samples=ss), 1e9, tokens=[1e13])
    (r,) = res.rows
    assert r.factor == pytest.approx(1.0) and r.n_unreachable == 3
    assert r.interval[0] == pytest.approx(1.0) and r.interval[1] == math.inf  # 3 of 20 > 2.5% at the top
    assert "3 of 20 samples give a loss no dense model reaches" in res.summary()


def test_no_samples_no_interval_with_a_note():
    sd = np.tile([E, A, B, ALPHA, BETA], (5, 1))
    res = dense_equivalent(dense(samples=sd), worth(2.0), 1e8, tokens_per_param=[20])
    assert res.rows[0].interval is None and res.n_samples == 0
    assert any("sparse law carries no bootstrap samples" in n for n in res.notes)


def test_errors():
    with pytest.raises(ScalingError, match="exactly one"):
        dense_equivalent(dense(), worth(2), 1e8)
    with pytest.raises(ScalingError, match="exactly one"):
        dense_equivalent(dense(), worth(2), 1e8, tokens=[1e9], tokens_per_param=[20])
    with pytest.raises(ScalingError, match="params must be positive"):
        dense_equivalent(dense(), worth(2), -1.0, tokens=[1e9])
    with pytest.raises(ScalingError, match="tokens_per_param must be positive"):
        dense_equivalent(dense(), worth(2), 1e8, tokens_per_param=[20, 0])
    with pytest.raises(ScalingError, match="Chinchilla surface"):
        dense_equivalent(dense(), "frantar-2024", 1e8, tokens=[1e9])
    with pytest.raises(ScalingError, match="level"):
        dense_equivalent(dense(), worth(2), 1e8, tokens=[1e9], level=1.5)


def fit_file(path, law: ChinchillaLaw, sparsity, *, params_col="params", mixed=None, form=None):
    """A minimal fit file: what ``scaling fit --out`` writes that the comparison reads."""
    arch = {"mixer": "attention", "context": 256, "vocab": 256, "sparsity": sparsity, "flops_convention": "6nd"}
    if mixed is not None:
        arch["sparsity"], arch["mixed"] = None, {"sparsity": mixed}
    d = law.to_dict()
    if form is not None:
        d["form"] = form
    path.write_text(
        json.dumps(
            {
                "method": "approach3",
                "form": d["form"],
                "law": d,
                "params": law.params,
                "data": {"columns": {"params": params_col}},
                "architecture": arch,
            }
        )
    )
    return str(path)


def test_cli(cli, tmp_path):
    rng = np.random.default_rng(1)
    sd = np.tile([E, A, B, ALPHA, BETA], (30, 1))
    sd[:, 1] *= np.exp(rng.normal(0, 0.03, 30))
    ss = sd.copy()
    ss[:, 1] *= 0.5**-ALPHA
    d = fit_file(tmp_path / "dense.json", dense(samples=sd), 0.0)
    s = fit_file(tmp_path / "sparse.json", worth(0.5, samples=ss), 0.5, params_col="nonzero_params")
    r = cli("compare", d, s, "--dense-equivalent", "--params", "100M", "--tokens-per-param", "5,20,80")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "[dense]" in lines[0] and "[50% sparse]" in lines[1]
    assert sum(" 0.5x " in ln and "0.5 .. 0.5" in ln for ln in lines) == 3 and "30 paired" in r.stdout
    r = cli("compare", d, s, "--dense-equivalent", "--params", "1e8", "--tokens", "2e9", "--json")
    out = json.loads(r.stdout)
    assert out["rows"][0]["factor"] == pytest.approx(0.5) and out["rows"][0]["tokens_per_param"] == pytest.approx(20)
    assert out["sparse_sparsity"] == 0.5 and out["n_samples"] == 30
    r = cli("compare", d, s, "--dense-equivalent", "--params", "1e8", "--json")  # default tokens per param
    assert [row["tokens_per_param"] for row in json.loads(r.stdout)["rows"]] == pytest.approx([5, 10, 20, 40])

    # the sparsity the fits record
    s75 = fit_file(tmp_path / "s75.json", worth(0.8), 0.75, params_col="nonzero_params")
    r = cli("compare", s, s75, "--dense-equivalent", "--params", "1e8")
    assert r.returncode == 2 and "50% sparse runs" in r.stderr and "--any-sparsity" in r.stderr
    r = cli("compare", s, s75, "--dense-equivalent", "--params", "1e8", "--any-sparsity")
    assert r.returncode == 0 and "[50% sparse]" in r.stdout and "[75% sparse]" in r.stdout
    r = cli("compare", d, d, "--dense-equivalent", "--params", "1e8")
    assert r.returncode == 2 and "same sparsity" in r.stderr
    assert cli("compare", d, d, "--dense-equivalent", "--params", "1e8", "--any-sparsity").returncode == 0
    mixed = fit_file(tmp_path / "mixed.json", worth(2), None, mixed=[0.0, 0.5])
    r = cli("compare", d, mixed, "--dense-equivalent", "--params", "1e8")
    assert r.returncode == 2 and "mixed sparsity" in r.stderr
    total = fit_file(tmp_path / "total.json", worth(2), 0.5, params_col="params")
    r = cli("compare", d, total, "--dense-equivalent", "--params", "1e8")
    assert r.returncode == 0 and "not 'nonzero_params'" in r.stdout

    # bad input: one line naming the argument, never a traceback
    bad = [
        (("frantar-2024",), "Chinchilla surface"),
        ((str(tmp_path / "nope.json"),), "no such file"),
        (("--params", "-5"), "--params"),
        (("--tokens-per-param", "5,x"), "--tokens-per-param"),
        (("--tokens-per-param", "5,,20"), "--tokens-per-param"),
        (("--tokens", "1e9", "--tokens-per-param", "20"), "one of --tokens and --tokens-per-param"),
        (("--flops", "1e13"), "--flops does not go with --dense-equivalent"),
        (("--sparsity-b", "0.5"), "--sparsity-b does not go"),
        (("--max-samples", "1"), "--max-samples"),
    ]
    for extra, msg in bad:
        law_b = extra[0] if extra[0] in ("frantar-2024",) or extra[0].endswith(".json") else s
        rest = [x for x in extra if x != law_b]
        args = (
            ["compare", d, law_b, "--dense-equivalent"] + (["--params", "1e8"] if "--params" not in rest else []) + rest
        )
        r = cli(*args)
        assert r.returncode == 2 and msg in r.stderr and "Traceback" not in r.stderr, (extra, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1
    r = cli("compare", d, s, "--dense-equivalent")
    assert r.returncode == 2 and "needs --params" in r.stderr
    r = cli("compare", d, s, "--params", "1e8", "--target-loss", "2.5")
    assert r.returncode == 2 and "--params goes with --dense-equivalent" in r.stderr
