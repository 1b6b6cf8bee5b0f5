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
    from scaling.fit.api import fit
    from scaling.runs import load_runs

    runs = load_runs(path, where=GADRE_WHERE)
    train = runs.query("not (" + HELDOUT + ")")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(train, method="approach3", bootstrap=20, seed=0)


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
    code = "import sys, scaling.plots, scaling.plots.report; assert 'matplotlib' not in sys.modules, 'eager import'"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr


def test_isoflop_porian(porian, porian_a2, tmp_path):
    from scaling import plots

    d = plots.isoflop_data(porian, fit=porian_a2, law="epoch-2024")
    n_budgets = porian["flops"].nunique()  # 12 in porian2024, 8 in the fixture
    assert d.n_budgets == n_budgets and len(d.profiles) == n_budgets
    assert d.n_points == len(porian) and d.law == "epoch-2024"
    # the data are the runs themselves: (params, loss) pairs
    want = np.array(sorted(zip(porian["params"], porian["loss"])))
    got = sorted((n, l) for p in d.profiles for n, l in zip(p.params, p.loss))
    assert np.allclose(got, want)
    ok = [b for b in porian_a2.extra["budgets"] if not b["flagged"]]
    assert d.n_minima == len(ok)
    assert np.allclose(
        sorted((p.N_opt, p.loss_opt) for p in d.profiles if not p.flagged),
        sorted((b["N_opt"], b["loss_opt"]) for b in ok),
    )
    assert all(p.parabola is not None for p in d.profiles if not p.flagged)
    assert all(p.law_loss_min is not None and p.law_curve is not None for p in d.profiles)
    # and the drawing shows exactly them: every run, the minima where the fit put them
    fig = plots.draw_isoflop(d)
    ax = fig.axes[0]
    got = np.array(sorted(map(tuple, np.asarray(gid_offsets(ax, "runs")))))
    assert np.allclose(got, want)
    mins = np.array(sorted(map(tuple, np.asarray(gid_offsets(ax, "minima")))))
    assert np.allclose(mins, sorted((b["N_opt"], b["loss_opt"]) for b in ok))
    assert ax.get_xscale() == "log"
    assert "nats/token" in ax.get_ylabel() and "parameters" in ax.get_xlabel()
    out = plots.save(fig, tmp_path / "isoflop.png", dpi=90)
    check_image(out)


def test_isoflop_without_fit_computes_profiles(porian, porian_a2):
    from scaling import plots

    d = plots.isoflop_data(porian)
    assert d.n_points == len(porian)
    assert d.n_minima == sum(not b["flagged"] for b in porian_a2.extra["budgets"]) and d.law is None
    fig = plots.isoflop(porian)
    assert len(gid_offsets(fig.axes[0], "runs")) == len(porian)
    assert len(gid_offsets(fig.axes[0], "minima")) == d.n_minima


def test_surface_gadre(gadre, gadre_fit, tmp_path):
    from scaling import plots

    d = plots.surface_data(gadre_fit, gadre, heldout=HELDOUT)
    n_ho = int((gadre["params"] > 1e9).sum())
    assert d.n_runs == len(gadre) and int(d.heldout.sum()) == n_ho == 3
    assert np.array_equal(d.heldout, (gadre["params"] > 1e9).to_numpy())
    assert d.frontier_points > 10
    fig = plots.draw_surface(d)
    ax = fig.axes[0]
    assert len(gid_offsets(ax, "runs")) == len(gadre) - n_ho
    assert len(gid_offsets(ax, "heldout")) == n_ho
    assert ax.get_xscale() == ax.get_yscale() == "log"
    check_image(plots.save(fig, tmp_path / "surface.png", dpi=90))
    svg = plots.save(fig, tmp_path / "surface.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg


def test_surface_of_published_law_without_runs(tmp_path):
    from scaling import plots

    d = plots.surface_data("chinchilla-2022")
    assert d.n_runs == 0 and d.budgets
    fig = plots.draw_surface(d)
    check_image(plots.save(fig, tmp_path / "s.png", dpi=80))


def test_frontier_with_band_and_published_laws(porian_a2, tmp_path):
    from scaling import plots

    d = plots.frontier_data(porian_a2)
    assert d.band is not None, "an Approach 2 fit carries parameter samples: the band must be drawn"
    lo, hi = d.band
    N = d.N_opt
    assert np.all(lo[0] <= N * 1.0001) and np.all(N <= hi[0] * 1.0001)
    assert d.compared == ["chinchilla-2022", "epoch-2024", "kaplan-2020"]
    n_ok = sum(not b["flagged"] for b in porian_a2.extra["budgets"])
    assert d.n_fit_points == n_ok
    fig = plots.draw_frontier(d)
    assert len(gid_offsets(fig.axes[0], "minima")) == n_ok
    check_image(plots.save(fig, tmp_path / "frontier.png", dpi=80))
    pdf = plots.save(fig, tmp_path / "frontier.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000


def test_frontier_of_loss_fit_with_bootstrap_band(gadre_fit):
    from scaling import plots

    d = plots.frontier_data(gadre_fit, compare=("epoch-2024",))
    assert d.band is not None and d.compared == ["epoch-2024"]


def test_residuals_gadre_marks_heldout(gadre, gadre_fit, tmp_path):
    from scaling import plots

    d = plots.residuals_data(gadre, gadre_fit, heldout=HELDOUT)
    n_ho = int((gadre["params"] > 1e9).sum())
    assert d.n_heldout == n_ho and d.n_runs == len(gadre)
    law = gadre_fit.to_law()
    pred = law.loss(gadre["params"].to_numpy(), gadre["tokens"].to_numpy())
    assert np.allclose(d.predicted, pred) and np.allclose(d.residual_pct, (gadre["loss"] / pred - 1) * 100)
    fig = plots.draw_residuals(d)
    for ax in fig.axes[:4]:
        assert len(gid_offsets(ax, "runs")) == len(gadre) - n_ho
        assert len(gid_offsets(ax, "heldout")) == n_ho
    # panel 1 shows (predicted, observed) for every run
    pts = np.concatenate([gid_offsets(fig.axes[0], "runs"), gid_offsets(fig.axes[0], "heldout")])
    assert np.allclose(sorted(map(tuple, pts)), sorted(zip(pred, gadre["loss"])))
    check_image(plots.save(fig, tmp_path / "residuals.png", dpi=80))


def test_residuals_heldout_as_dataframe_adds_missing_runs(gadre, gadre_fit):
    from scaling import plots

    held = gadre.query(HELDOUT)
    train = gadre.query("not (" + HELDOUT + ")")
    d = plots.residuals_data(train, gadre_fit, heldout=held)
    assert d.n_runs == len(gadre) and d.n_heldout == len(held)


def test_curves_opt(opt_curves, tmp_path):
    from scaling import plots

    d = plots.curves_data(opt_curves)
    n_runs = opt_curves["run_id"].nunique()
    assert d.n_runs == n_runs and sum(len(c.flops) for c in d.curves) == d.n_points == len(opt_curves)
    assert d.envelope_used >= 2
    fig = plots.draw_curves(d)
    ax = fig.axes[0]
    lines = [l for l in ax.lines if l.get_gid() == "curve"]
    assert len(lines) == n_runs
    assert sum(len(l.get_xdata()) for l in lines) == len(opt_curves)
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
