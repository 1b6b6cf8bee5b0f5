"""Accelerator catalogue and budgets: formulas, defaults, overrides, validation."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling.accelerators import ACCELERATORS, get_accelerator, list_accelerators
from scaling.errors import ScalingError
from scaling.hardware import (
    DEFAULT_GRID_KG_PER_KWH,
    DEFAULT_MFU,
    DEFAULT_PUE,
    Budget,
    budget,
    budget_arrays,
    flops_for_dollars,
    flops_for_gpu_hours,
)


@pytest.mark.parametrize(
    "name,peak,tdp",
    [
        ("a100", 312e12, 400),
        ("a100-sxm", 312e12, 400),
        ("a100-pcie", 312e12, 300),
        ("h100", 989e12, 700),
        ("h100-sxm", 989e12, 700),
        ("h100-pcie", 756e12, 350),
        ("h200", 989e12, 700),
        ("v100", 125e12, 300),
        ("b200", 2250e12, 1000),
    ],
)
def test_catalogue_dense_peaks_and_tdp(name, peak, tdp):
    a = get_accelerator(name)
    assert a.peak_flops == peak and a.tdp_watts == tdp
    assert a.price_per_gpu_hour > 0 and a.source


def test_aliases_and_spelling():
    assert get_accelerator("h100").name == "h100-sxm"
    assert get_accelerator("H100 SXM").name == "h100-sxm"
    assert get_accelerator(" H100_PCIE ").name == "h100-pcie"
    assert get_accelerator(get_accelerator("a100")) is get_accelerator("a100")
    assert set(list_accelerators()) == set(ACCELERATORS)


@pytest.mark.parametrize("bad,suggestion", [("h1000", "h100"), ("a10", "a100"), ("h2000", "h200")])
def test_unknown_accelerator_suggests_close_names(bad, suggestion):
    with pytest.raises(ScalingError) as exc:
        get_accelerator(bad)
    msg = str(exc.value)
    assert "did you mean" in msg and suggestion in msg and "\n" not in msg


def test_budget_formulas():
    C = 1e23
    b = budget(C, "h100", gpus=1024, mfu=0.4, price_per_gpu_hour=2.5)
    hours = C / (989e12 * 0.4 * 3600)
    assert b.gpu_hours == pytest.approx(hours)
    assert b.days == pytest.approx(hours / 1024 / 24)
    assert b.cost_usd == pytest.approx(hours * 2.5)
    assert b.energy_kwh == pytest.approx(hours * 0.7 * DEFAULT_PUE)
    assert b.co2_kg == pytest.approx(b.energy_kwh * DEFAULT_GRID_KG_PER_KWH)
    d = b.to_dict()
    for k in ("gpu_hours", "days", "gpus", "cost_usd", "energy_kwh", "co2_kg", "accelerator", "mfu"):
        assert k in d
    assert d["accelerator"] == "h100-sxm" and d["gpus"] == 1024 and d["mfu"] == 0.4
    import json

    assert json.loads(json.dumps(d)) == d
    assert "GPU-hours" in b.describe()


def test_documented_defaults_and_overrides():
    b = budget(1e21)
    assert b.accelerator == "h100-sxm" and b.mfu == DEFAULT_MFU == 0.4
    assert b.pue == 1.1 and b.grid_kg_per_kwh == 0.4
    assert b.price_per_gpu_hour == get_accelerator("h100").price_per_gpu_hour == 2.5
    assert b.gpus is None and b.days == pytest.approx(b.gpu_hours / 24)  # one GPU
    o = budget(1e21, "a100", mfu=0.5, price_per_gpu_hour=1.0, pue=1.5, grid_kg_per_kwh=0.0, gpus=8)
    assert o.gpu_hours == pytest.approx(1e21 / (312e12 * 0.5 * 3600))
    assert o.cost_usd == pytest.approx(o.gpu_hours)
    assert o.energy_kwh == pytest.approx(o.gpu_hours * 0.4 * 1.5)
    assert o.co2_kg == 0.0


def test_budget_vectorised():
    C = np.logspace(20, 25, 6)
    arrs = budget_arrays(C, "h200", gpus=256)
    np.testing.assert_allclose(arrs["gpu_hours"], C / (989e12 * 0.4 * 3600))
    np.testing.assert_allclose(arrs["days"], arrs["gpu_hours"] / 256 / 24)
    many = budget(list(C), "h200", gpus=256)
    assert isinstance(many, list) and len(many) == 6 and all(isinstance(b, Budget) for b in many)
    assert many[3].gpu_hours == pytest.approx(arrs["gpu_hours"][3])
    # MFU broadcasts too
    grid = budget_arrays(C[:, None], "h100", mfu=np.array([0.3, 0.5]))
    assert grid["gpu_hours"].shape == (6, 2)


def test_inverse_helpers_round_trip():
    for acc in ("a100", "h100", "h100-pcie"):
        C = flops_for_gpu_hours(1e6, acc, mfu=0.4)
        assert C == pytest.approx(1e6 * 3600 * get_accelerator(acc).peak_flops * 0.4)
        assert budget(C, acc, mfu=0.4).gpu_hours == pytest.approx(1e6)
        C2 = flops_for_dollars(1e6, acc, mfu=0.4, price_per_gpu_hour=2.0)
        assert budget(C2, acc, mfu=0.4, price_per_gpu_hour=2.0).cost_usd == pytest.approx(1e6)
    assert flops_for_dollars(2.5, "h100") == pytest.approx(flops_for_gpu_hours(1.0, "h100"))
    assert np.shape(flops_for_gpu_hours([1.0, 2.0], "h100")) == (2,)


@settings(max_examples=100, deadline=None)
@given(
    C=st.floats(1e15, 1e28),
    mfu=st.floats(0.01, 1.0),
    gpus=st.integers(1, 100_000),
    acc=st.sampled_from(sorted(ACCELERATORS)),
)
def test_budget_properties(C, mfu, gpus, acc):
    b = budget(C, acc, mfu=mfu, gpus=gpus)
    assert b.gpu_hours > 0 and b.days > 0 and b.cost_usd > 0 and b.energy_kwh > 0
    assert flops_for_gpu_hours(b.gpu_hours, acc, mfu) == pytest.approx(C, rel=1e-9)
    assert budget(2 * C, acc, mfu=mfu, gpus=gpus).cost_usd == pytest.approx(2 * b.cost_usd)
    assert budget(C, acc, mfu=mfu, gpus=2 * gpus).days == pytest.approx(b.days / 2)


@pytest.mark.parametrize(
    "kwargs,needle",
    [
        (dict(mfu=1.5), "--mfu must be in (0, 1]: got 1.5"),
        (dict(mfu=0), "--mfu must be in (0, 1]: got 0"),
        (dict(mfu=-0.1), "--mfu"),
        (dict(mfu=float("nan")), "--mfu"),
        (dict(gpus=0), "--gpus"),
        (dict(gpus=2.5), "--gpus"),
        (dict(price_per_gpu_hour=-1), "--price"),
        (dict(pue=0.9), "--pue"),
        (dict(grid_kg_per_kwh=-0.1), "--grid"),
    ],
)
def test_bad_knobs_are_one_line_errors(kwargs, needle):
    with pytest.raises(ScalingError) as exc:
        budget(1e21, "h100", **kwargs)
    assert needle in str(exc.value) and "\n" not in str(exc.value)


@pytest.mark.parametrize("bad", [-1e21, float("nan"), float("inf")])
def test_bad_flops(bad):
    with pytest.raises(ScalingError):
        budget(bad)


def test_bad_inverse_inputs():
    with pytest.raises(ScalingError):
        flops_for_gpu_hours(-5, "h100")
    with pytest.raises(ScalingError):
        flops_for_dollars(1e6, "h100", price_per_gpu_hour=0)
    with pytest.raises(ScalingError):
        flops_for_dollars(float("nan"), "h100")
    with pytest.raises(ScalingError):
        flops_for_gpu_hours(10, "h100", mfu=2)
