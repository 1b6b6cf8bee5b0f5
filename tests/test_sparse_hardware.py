"""Sparsity as hardware sees it: N:M patterns in the FLOP model (the count does not see where the
zeros sit), the vendors' sparse peaks in the catalogue, the time a sparse run takes (unstructured: no
speedup; 2:4: the sparse tensor cores at an assumed efficiency), and `scaling plan --pattern 2:4 --gpu`
with the dense plans at the same FLOPs and the same GPU-hours beside the sparse one."""

import json

import numpy as np
import pytest

from scaling import flops, plan
from scaling.accelerators import get_accelerator
from scaling.cli import main
from scaling.errors import ScalingError
from scaling.hardware import (
    DEFAULT_SPARSE_EFFICIENCY,
    Hardware,
    SparseExecution,
    budget,
    sparse_accelerators,
    sparse_speedup,
    sparse_time_factor,
)
from scaling.laws import get_law
from scaling.shapes import smooth_block_linear_share, smooth_shape
from scaling.sparsity import format_pattern, parse_pattern, pattern_sparsity, resolve_sparsity

# --------------------------------------------------------------------------------------------- flops


@pytest.mark.parametrize("pattern,S", [("2:4", 0.5), ("1:4", 0.75), ("4:8", 0.5), ("1:2", 0.5), ("3:4", 0.25)])
def test_a_pattern_counts_like_unstructured_sparsity_of_its_density(pattern, S):
    for conv in flops.CONVENTIONS:
        a = flops.flops_per_token(12, 768, 2048, 50257, convention=conv, pattern=pattern)
        b = flops.flops_per_token(12, 768, 2048, 50257, convention=conv, sparsity=S)
        assert a == pytest.approx(b, rel=1e-15)
    assert flops.param_counts(12, 768, 50257, pattern=pattern)["nonzero"] == pytest.approx(
        flops.param_counts(12, 768, 50257, sparsity=S)["nonzero"]
    )
    assert pattern_sparsity(pattern) == pytest.approx(S)
    assert resolve_sparsity(S, pattern) == pytest.approx(S) == resolve_sparsity(None, pattern)


@pytest.mark.parametrize("bad", ["4:2", "2:2", "0:4", "2/4", "2:4:8", "a:b", "-1:4", "", "2.5:4"])
def test_bad_patterns_are_one_line_errors(bad):
    with pytest.raises(ScalingError) as exc:
        parse_pattern(bad, "--pattern")
    assert str(exc.value).startswith("--pattern must be N:M") and "\n" not in str(exc.value)


def test_a_sparsity_that_disagrees_with_the_pattern_is_an_error():
    with pytest.raises(ScalingError, match="disagrees"):
        flops.flops_per_token(2, 64, 256, 256, sparsity=0.75, pattern="2:4")
    assert parse_pattern("unstructured") is None and parse_pattern(None) is None
    assert format_pattern(" 2:4 ") == "2:4" and format_pattern(None) == "unstructured"


def test_block_linear_flops_are_six_flops_per_non_zero_block_weight():
    L, d, V, S = 4, 256, 1000, 0.5
    pc = flops.param_counts(L, d, V, sparsity=S)
    pc0 = flops.param_counts(L, d, V)
    block = flops.block_linear_flops_per_token(L, d, sparsity=S)
    masked = pc0["total"] - pc["nonzero"]  # = S x block weights
    assert block == pytest.approx(6 * masked * (1 - S) / S)
    # under 6ND the rest of the count is 6 x (embedding + norms): the block share of 6 N
    assert block / flops.flops_per_token(L, d, 128, V, sparsity=S) == pytest.approx(
        (pc["nonzero"] - pc0["embedding"] - (2 * L + 1) * d) / pc["nonzero"]
    )
    hy = flops.block_linear_flops_per_token(L, d, mixer="hyena")
    assert hy == pytest.approx(6 * L * (4 * d * d + 2 * d * 4 * d))  # order 2: (o+2) d^2 = 4 d^2


@pytest.mark.parametrize("conv", ["6nd", "palm", "chinchilla"])
def test_block_share_is_a_fraction_that_grows_with_size(conv):
    N = np.array([1e6, 1e8, 1e10, 1e12])
    share = smooth_block_linear_share(N, convention=conv, sparsity=0.5)
    assert np.all((share > 0) & (share < 1)) and np.all(np.diff(share) > 0)
    # at the smooth shape the share is the block FLOPs over the counted FLOPs
    L, d = smooth_shape(1e10, sparsity=0.5)
    want = flops.block_linear_flops_per_token(L, d, sparsity=0.5) / flops.flops_per_token(
        L, d, 2048, 50257, d_ff=4 * d, n_head=d / 64, convention=conv, sparsity=0.5
    )
    assert share[2] == pytest.approx(want, rel=1e-9)


# --------------------------------------------------------------------------------------------- catalogue


@pytest.mark.parametrize(
    "name,dense,sparse_peak",
    [
        ("a100", 312e12, 624e12),
        ("a100-pcie", 312e12, 624e12),
        ("h100", 989e12, 1979e12),
        ("h100-pcie", 756e12, 1513e12),
        ("h200", 989e12, 1979e12),
        ("b200", 2250e12, 4500e12),
        ("l4", 121e12, 242e12),
        ("l40s", 362.05e12, 733e12),
        ("mi300x", 1307.4e12, 2614.9e12),
        ("v100", 125e12, None),
    ],
)
def test_catalogue_sparse_peaks_as_the_vendors_state_them(name, dense, sparse_peak):
    a = get_accelerator(name)
    assert a.peak_flops == dense and a.sparse_peak_flops == sparse_peak
    if sparse_peak:
        assert sparse_peak / dense == pytest.approx(2.0, rel=0.015)  # 2:4: twice the dense rate, as printed
        assert "sparsity" in a.source and a.to_dict()["sparse_pattern"] == "2:4"
        assert a.name in sparse_accelerators()
    else:
        assert a.to_dict()["sparse_pattern"] is None and a.name not in sparse_accelerators()


def test_speedup_of_the_masked_matmuls():
    assert sparse_speedup("h100", None) == 1.0  # unstructured: nothing runs it faster
    assert sparse_speedup("h100", "2:4", 1.0) == pytest.approx(1979 / 989)
    assert sparse_speedup("h100", "2:4") == pytest.approx(DEFAULT_SPARSE_EFFICIENCY * 1979 / 989)
    assert 1.1 <= sparse_speedup("a100", "2:4") <= 1.3  # the default is conservative
    with pytest.raises(ScalingError, match="v100 has no stated sparse peak") as exc:
        sparse_speedup("v100", "2:4")
    assert "h100-sxm" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(ScalingError, match="2:4 structured sparsity only"):
        sparse_speedup("h100", "1:4")
    for bad in (0, 1.5, -0.1, float("nan")):
        with pytest.raises(ScalingError, match="--sparse-efficiency"):
            sparse_speedup("h100", "2:4", bad)


def test_time_factor_formula():
    rho, S = 0.9, 0.5
    # unstructured: the masked matmuls cost what the dense ones do
    assert sparse_time_factor(rho, S, 1.0) == pytest.approx(0.1 + 0.9 / 0.5)
    # 2:4 at the full 2x: the counted (non-zero) FLOPs at the dense rate
    assert sparse_time_factor(rho, S, 2.0) == pytest.approx(1.0)
    ex = SparseExecution(S, rho, "2:4", 0.5)  # half the sparse peak: no gain over unstructured
    assert ex.time_factor("h100") == pytest.approx(sparse_time_factor(rho, S, 1979 / 989 / 2))
    assert SparseExecution(S, rho, "2:4", 0.5).time_factor("a100") == pytest.approx(
        SparseExecution(S, rho).time_factor("a100")
    )


def test_sparse_budget_and_dense_budget_json():
    C = 1e21
    dense = budget(C, "h100").to_dict()
    assert "sparse" not in dense  # a dense budget's JSON is what it was
    ex = SparseExecution(0.5, 0.9, "2:4")
    b = budget(C, "h100", sparse=ex).to_dict()
    f = ex.time_factor("h100")
    assert b["gpu_hours"] == pytest.approx(dense["gpu_hours"] * f)
    assert b["cost_usd"] == pytest.approx(dense["cost_usd"] * f)
    assert b["energy_kwh"] == pytest.approx(dense["energy_kwh"] * f)
    assert b["sparse"]["pattern"] == "2:4" and b["sparse"]["sparse_peak_flops"] == 1979e12
    assert b["sparse"]["time_factor"] == pytest.approx(f) and json.loads(json.dumps(b)) == b
    with pytest.raises(ScalingError, match="no stated sparse peak"):
        Hardware("v100").sparse(0.5, 0.9, "2:4")


# --------------------------------------------------------------------------------------------- planner


def test_sparse_plan_is_priced_as_it_runs_next_to_dense_plans():
    hw = Hardware("h100-sxm")
    (p,) = plan(1e21, law="frantar-2024", pattern="2:4", hardware=hw)
    law = get_law("frantar-2024")
    N, D = law.at_sparsity(0.5).frontier(1e21)
    assert p.params == pytest.approx(N) and p.tokens == pytest.approx(D)  # the loss side: the law at S = 0.5
    assert p.extra["pattern"] == "2:4" and p.extra["sparsity"] == 0.5
    sp = p.budget["sparse"]
    rho = smooth_block_linear_share(p.params, sparsity=0.5)
    assert sp["block_linear_share"] == pytest.approx(rho)
    f = sparse_time_factor(rho, 0.5, DEFAULT_SPARSE_EFFICIENCY * 1979 / 989)
    assert p.budget["gpu_hours"] == pytest.approx(1e21 * f / (989e12 * 0.4 * 3600))
    same_flops, same_hours = p.dense["same_flops"], p.dense["same_gpu_hours"]
    (d,) = plan(1e21, law=law.at_sparsity(0.0), hardware=hw)
    assert same_flops.params == pytest.approx(d.params) and same_flops.loss == pytest.approx(d.loss)
    assert same_flops.budget["gpu_hours"] == pytest.approx(d.budget["gpu_hours"])
    assert same_hours.budget["gpu_hours"] == pytest.approx(p.budget["gpu_hours"])
    assert same_hours.flops == pytest.approx(1e21 * f) and "sparse" not in same_hours.budget
    # a faster sparse kernel costs fewer GPU-hours; at 100% it is the counted FLOPs at the dense rate
    costs = [
        plan(1e21, law="frantar-2024", pattern="2:4", hardware=Hardware(sparse_efficiency=e))[0].budget["gpu_hours"]
        for e in (0.5, 0.6, 0.8, 1.0)
    ]
    assert np.all(np.diff(costs) < 0)
    assert costs[-1] == pytest.approx(d.budget["gpu_hours"], rel=1e-3)
    # efficiency 0.5 of a 2x peak is no gain: the cost of unstructured sparsity
    (u,) = plan(1e21, law="frantar-2024", sparsity=0.5, hardware=hw)
    assert u.budget["sparse"]["pattern"] == "unstructured" and u.budget["sparse"]["speedup"] == 1.0
    assert costs[0] == pytest.approx(u.budget["gpu_hours"], rel=2e-3)
    d_all = json.loads(json.dumps(p.to_dict()))
    assert set(d_all["dense"]) == {"same_flops", "same_gpu_hours"} and "dense plan, same flops" in p.summary()


def test_a_gpu_hour_budget_buys_the_same_hours_sparse_or_dense():
    (p,) = plan(gpu_hours=1e5, law="frantar-2024", pattern="2:4", hardware=Hardware("a100"))
    assert p.budget["gpu_hours"] == pytest.approx(1e5, rel=1e-9)
    assert p.dense["same_gpu_hours"].budget["gpu_hours"] == pytest.approx(1e5, rel=1e-9)
    assert p.flops * p.budget["sparse"]["time_factor"] == pytest.approx(1e5 * 3600 * 312e12 * 0.4)
    (q,) = plan(dollars=1e5, law="frantar-2024", sparsity=0.75, hardware=Hardware("h100"))
    assert q.budget["cost_usd"] == pytest.approx(1e5, rel=1e-9)


def test_target_loss_compares_with_the_dense_plan_reaching_it():
    (p,) = plan(target_loss=2.2, law="frantar-2024", pattern="2:4", hardware=Hardware())
    d = p.dense["same_loss"]
    assert d.loss == pytest.approx(2.2) and p.loss == pytest.approx(2.2)
    assert set(p.dense) == {"same_loss"}


def test_without_hardware_a_pattern_plans_the_law_and_nothing_else():
    (p,) = plan(1e21, law="frantar-2024", pattern="2:4")
    (q,) = plan(1e21, law="frantar-2024", sparsity=0.5)
    assert p.dense is None and p.budget is None and (p.params, p.loss) == (q.params, q.loss)
    with pytest.raises(ScalingError, match="disagrees"):
        plan(1e21, law="frantar-2024", sparsity=0.75, pattern="2:4")
    with pytest.raises(ScalingError, match="no stated sparse peak"):
        plan(1e21, law="frantar-2024", pattern="2:4", hardware=Hardware("v100"))
    with pytest.raises(ScalingError, match="--mixer/--sparsity"):
        plan(1e21, pattern="2:4", unique_tokens=1e10)


# --------------------------------------------------------------------------------------------- CLI


def test_cli_prints_sparse_and_dense_rows_and_what_is_assumed(capsys):
    argv = ["plan", "1e21", "--law", "frantar-2024", "--sparsity", "0.5", "--pattern", "2:4", "--gpu", "h100"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(ln.startswith("2:4 sparse 50%") for ln in lines)
    assert any(ln.startswith("dense, same FLOPs") for ln in lines)
    assert any(ln.startswith("dense, same GPU-hours") for ln in lines)
    assert "GPU-hours" in out and "cost $" in out and "MWh" in out
    assert "--sparse-efficiency 0.6" in out and "assumed" in out and "the loss comes from the law" in out
    assert main(argv + ["--json"]) == 0
    (obj,) = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert obj["budget"]["sparse"]["sparse_efficiency"] == DEFAULT_SPARSE_EFFICIENCY
    assert obj["dense"]["same_gpu_hours"]["budget"]["gpu_hours"] == pytest.approx(obj["budget"]["gpu_hours"])
    assert main(["plan", "1e21", "--law", "frantar-2024", "--sparsity", "0.5", "--gpu", "a100"]) == 0
    out = capsys.readouterr().out
    assert "unstructured sparse 50%" in out and "no hardware speedup" in out


@pytest.mark.parametrize(
    "extra,msg",
    [
        (["--pattern", "4:2", "--gpu", "h100"], "--pattern must be N:M"),
        (["--pattern", "2-4"], "--pattern must be N:M"),
        (["--pattern", "2:4", "--sparsity", "0.75"], "--sparsity 0.75 disagrees"),
        (["--pattern", "2:4", "--sparsity", "0"], "--sparsity 0 disagrees"),
        (["--pattern", "2:4", "--gpu", "v100"], "v100 has no stated sparse peak"),
        (["--pattern", "1:4", "--gpu", "h100"], "2:4 structured sparsity only"),
        (["--pattern", "2:4", "--gpu", "h100", "--sparse-efficiency", "1.5"], "--sparse-efficiency must be in (0, 1]"),
        (["--sparsity", "0.5", "--gpu", "h100", "--sparse-efficiency", "0.7"], "--sparse-efficiency applies to"),
        (["--pattern", "2:4", "--unique-tokens", "1e10"], "--mixer/--sparsity"),
    ],
)
def test_cli_bad_sparse_input_is_one_line_exit_2(capsys, extra, msg):
    assert main(["plan", "1e21", "--law", "frantar-2024", *extra]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and msg in cap.err and len(cap.err.strip().splitlines()) == 1
    assert "Traceback" not in cap.err


def test_flops_cli_counts_a_pattern_as_its_density(capsys):
    base = ["flops", "--n-layer", "12", "--d-model", "768", "--json"]
    assert main(base + ["--pattern", "2:4"]) == 0
    a = json.loads(capsys.readouterr().out)
    assert main(base + ["--sparsity", "0.5"]) == 0
    b = json.loads(capsys.readouterr().out)
    assert a["pattern"] == "2:4" and a["by_convention"] == b["by_convention"] and a["params"] == b["params"]
    assert main(base + ["--pattern", "2:4", "--sparsity", "0.7"]) == 2
    assert "--sparsity 0.7 disagrees" in capsys.readouterr().err
