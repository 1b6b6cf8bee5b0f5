"""Figures from the public data sets (the synthetic fixtures, and ../shared/data when present): valid,
non-trivial images that show exactly the input runs."""

import functools
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from scaling.errors import ScalingError

ROOT = Path(__file__).resolve().parents[1]
PORIAN_WHERE = "label == 'Optimizer tuning (no decay)' and loss_type == 'val' and dataset == 'rw'"
GADRE_WHERE = "dataset == 'c4_original'"
HELDOUT = "N > 1e9"  # open_lm_1b and open_lm_7b: the paper's extrapolation targets


def check_image(path: Path, min_bytes: int = 8000) -> np.ndarray:
    """A valid PNG, not tiny, not blank; returns its pixels."""
    import matplotlib.image as mpimg

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert len(data) > min_bytes, f"{path} is suspiciously small ({len(data)} bytes)"
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 400
    rgb = img[..., :3]
    assert float(rgb.var()) > 0.005, "image is (nearly) blank"
    ink = (rgb.mean(axis=2) < 0.9).mean()
    assert ink > 0.03, f"only {ink:.1%} of the pixels are not white"
    return img


def gid_offsets(ax, gid):
    return np.concatenate([c.get_offsets() for c in ax.collections if c.get_gid() == gid] or [np.zeros((0, 2))])


@pytest.fixture(scope="module")
def porian(public_data):
    from scaling.runs import load_runs

    return load_runs(public_data / "porian2024" / "porian_isoflop_points.csv", where=PORIAN_WHERE)


@pytest.fixture(scope="module")
def porian_a2(porian):
    from scaling.fit.approach2 import fit_approach2

    return fit_approach2(porian)


@pytest.fixture(scope="module")
def gadre(public_data):
    from scaling.runs import load_runs

    return load_runs(public_data / "gadre2024" / "gadre2024_final_losses.csv", where=GADRE_WHERE)


@functools.cache
def gadre_loss_fit(path: str):
    """A loss-surface fit (small bootstrap) on the four smaller sizes of gadre2024 c4_original (or its
    synthetic stand-in); the held-out runs are the 1.4B and 6.9B ones. Cached: the plot, CLI and report tests
    share it."""
    from scaling.report import fit_runs
    from scaling.runs import load_runs

    runs = load_runs(path, where=GADRE_WHERE)
    train = runs.query("not (" + HELDOUT + ")")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_runs(train, "approach3", bootstrap=20, seed=0)


@pytest.fixture(scope="module")
def gadre_fit(public_data):
    return gadre_loss_fit(str(public_data / "gadre2024" / "gadre2024_final_losses.csv"))


@pytest.fixture(scope="module")
def opt_curves(public_data):
    from scaling.runs import load_curves

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_curves(public_data / "ibm_colpret" / "aggregated_eval_opt_trajectories.csv")


def test_import_does_not_load_matplotlib():
    code = "import sys, scaling.plots, scaling.report; assert 'matplotlib' not in sys.modules, 'eager import'"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_isoflop_porian(porian, porian_a2, tmp_path):
    from scaling import plots

    fig = plots.isoflop(porian, fit=porian_a2, law="epoch-2024")
    ax = fig.axes[0]
    pts = gid_offsets(ax, "runs")
    assert len(pts) == len(porian) == fig.scaling_data["n_points_drawn"]
    # the points are the runs themselves: (params, loss) pairs
    got = np.array(sorted(map(tuple, np.asarray(pts))))
    want = np.array(sorted(zip(porian["params"], porian["loss"])))
    assert np.allclose(got, want)
    d = fig.scaling_data
    n_budgets = porian["flops"].nunique()  # 12 in porian2024, 8 in the fixture
    assert d["n_budgets"] == n_budgets and len(d["budgets"]) == n_budgets
    ok = [b for b in porian_a2.extra["budgets"] if not b["flagged"]]
    assert len(gid_offsets(ax, "minima")) == len(ok)
    # minima drawn where the fit put them
    mins = np.array(sorted(map(tuple, np.asarray(gid_offsets(ax, "minima")))))
    assert np.allclose(mins, sorted((b["N_opt"], b["loss_opt"]) for b in ok))
    assert all("parabola" in b for b in d["budgets"] if not b["flagged"])
    assert all("law_loss_min" in b for b in d["budgets"])
    assert ax.get_xscale() == "log"
    assert "nats/token" in ax.get_ylabel() and "parameters" in ax.get_xlabel()
    out = plots.save(fig, tmp_path / "isoflop.png", dpi=90)
    check_image(out)


def test_isoflop_without_fit_computes_profiles(porian, porian_a2):
    from scaling import plots

    fig = plots.isoflop(porian)
    d = fig.scaling_data
    assert d["n_points_drawn"] == len(porian)
    assert d["n_minima"] == sum(not b["flagged"] for b in porian_a2.extra["budgets"]) and d["law"] is None


def test_surface_gadre(gadre, gadre_fit, tmp_path):
    from scaling import plots

    fig = plots.surface(gadre_fit, gadre, heldout=HELDOUT)
    ax = fig.axes[0]
    n_ho = int((gadre["params"] > 1e9).sum())
    assert len(gid_offsets(ax, "runs")) == len(gadre) - n_ho
    assert len(gid_offsets(ax, "heldout")) == n_ho == 3
    assert fig.scaling_data["n_points_drawn"] == len(gadre)
    assert fig.scaling_data["frontier_points"] > 10
    assert ax.get_xscale() == ax.get_yscale() == "log"
    check_image(plots.save(fig, tmp_path / "surface.png", dpi=90))
    svg = plots.save(fig, tmp_path / "surface.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg


def test_surface_of_published_law_without_runs(tmp_path):
    from scaling import plots

    fig = plots.surface("chinchilla-2022")
    assert fig.scaling_data["n_runs"] == 0 and fig.scaling_data["budgets"]
    check_image(plots.save(fig, tmp_path / "s.png", dpi=80))


def test_frontier_with_band_and_published_laws(porian_a2, tmp_path):
    from scaling import plots

    fig = plots.frontier(porian_a2)
    d = fig.scaling_data
    assert d["band"], "an Approach 2 fit carries parameter samples: the band must be drawn"
    lo, hi = np.array(d["band_lo"]), np.array(d["band_hi"])
    N = np.array(d["N_opt"])
    assert np.all(lo[0] <= N * 1.0001) and np.all(N <= hi[0] * 1.0001)
    assert d["compare"] == ["chinchilla-2022", "epoch-2024", "kaplan-2020"]
    n_ok = sum(not b["flagged"] for b in porian_a2.extra["budgets"])
    assert d["n_fit_points"] == n_ok
    assert len(gid_offsets(fig.axes[0], "minima")) == n_ok
    check_image(plots.save(fig, tmp_path / "frontier.png", dpi=80))
    pdf = plots.save(fig, tmp_path / "frontier.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000


def test_frontier_of_loss_fit_with_bootstrap_band(gadre_fit):
    from scaling import plots

    fig = plots.frontier(gadre_fit, compare=("epoch-2024",))
    assert fig.scaling_data["band"] and fig.scaling_data["compare"] == ["epoch-2024"]


def test_residuals_gadre_marks_heldout(gadre, gadre_fit, tmp_path):
    from scaling import plots

    fig = plots.residuals(gadre, gadre_fit, heldout=HELDOUT)
    d = fig.scaling_data
    n_ho = int((gadre["params"] > 1e9).sum())
    assert d["n_heldout"] == n_ho and d["n_runs"] == len(gadre)
    for ax in fig.axes[:4]:
        assert len(gid_offsets(ax, "runs")) == len(gadre) - n_ho
        assert len(gid_offsets(ax, "heldout")) == n_ho
    # panel 1 shows (predicted, observed) for every run
    law = gadre_fit.to_law()
    pred = law.loss(gadre["params"].to_numpy(), gadre["tokens"].to_numpy())
    pts = np.concatenate([gid_offsets(fig.axes[0], "runs"), gid_offsets(fig.axes[0], "heldout")])
    assert np.allclose(sorted(map(tuple, pts)), sorted(zip(pred, gadre["loss"])))
    check_image(plots.save(fig, tmp_path / "residuals.png", dpi=80))


def test_residuals_heldout_as_dataframe_adds_missing_runs(gadre, gadre_fit):
    from scaling import plots

    held = gadre.query(HELDOUT)
    train = gadre.query("not (" + HELDOUT + ")")
    fig = plots.residuals(train, gadre_fit, heldout=held)
    assert fig.scaling_data["n_runs"] == len(gadre) and fig.scaling_data["n_heldout"] == len(held)


def test_curves_opt(opt_curves, tmp_path):
    from scaling import plots

    fig = plots.curves(opt_curves)
    ax = fig.axes[0]
    n_runs = opt_curves["run_id"].nunique()
    lines = [l for l in ax.lines if l.get_gid() == "curve"]
    assert len(lines) == n_runs == fig.scaling_data["n_runs"]
    assert sum(len(l.get_xdata()) for l in lines) == len(opt_curves)
    assert fig.scaling_data["envelope_used"] >= 2
    env = [l for l in ax.lines if l.get_gid() == "envelope"]
    assert len(env) == 1
    # the envelope never lies above any curve at a budget that curve reaches
    ex, ey = np.asarray(env[0].get_xdata(), float), np.asarray(env[0].get_ydata(), float)
    for l in lines:
        x, y = np.asarray(l.get_xdata(), float), np.asarray(l.get_ydata(), float)
        m = np.isfinite(ex) & (ex >= x.min()) & (ex <= x.max())
        assert np.all(ey[m] <= np.exp(np.interp(np.log(ex[m]), np.log(x), np.log(y))) * (1 + 1e-9))
    check_image(plots.save(fig, tmp_path / "curves.png", dpi=80))


def test_surface_and_residuals_need_a_loss_model(porian, porian_a2):
    from scaling import plots

    with pytest.raises(ScalingError, match="loss model"):
        plots.surface(porian_a2)
    with pytest.raises(ScalingError, match="loss model"):
        plots.residuals(porian, porian_a2)


def test_curves_rejects_a_fit_of_another_method(opt_curves, porian_a2):
    from scaling import plots

    with pytest.raises(ScalingError, match="approach1"):
        plots.curves(opt_curves, fit=porian_a2)


def test_save_rejects_unknown_extension(tmp_path):
    from scaling import plots

    fig = plots.surface("epoch-2024")
    with pytest.raises(ScalingError, match=r"\.png, \.svg or \.pdf"):
        plots.save(fig, tmp_path / "x.gif")
    assert not (tmp_path / "x.gif").exists()


def test_empty_runs_are_an_error():
    import pandas as pd

    from scaling import plots

    with pytest.raises(ScalingError):
        plots.isoflop(pd.DataFrame({"params": [], "tokens": [], "flops": [], "loss": []}))
