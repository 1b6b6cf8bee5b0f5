"""`scaling report`: one self-contained HTML page, checked offline and in headless Chromium."""

import base64
import re
import subprocess
import warnings
from pathlib import Path

import pytest

from test_plots import GADRE_WHERE, HELDOUT, PORIAN_WHERE, gadre_loss_fit

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def gadre_report(public_data, tmp_path_factory):
    from scaling.plots.report import report
    from scaling.runs import load_runs

    path = public_data / "gadre2024" / "gadre2024_final_losses.csv"
    runs = load_runs(path, where=GADRE_WHERE)
    out = tmp_path_factory.mktemp("report") / "gadre.html"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report(runs, out, fits=[gadre_loss_fit(str(path))], heldout=HELDOUT, budgets=[1e21, 1e23], dpi=70)
    return out


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_report_is_self_contained(gadre_report):
    html = gadre_report.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    # no network: nothing is loaded from elsewhere, no scripts
    for attr in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert attr.startswith(("data:", "#")), attr
    assert "<script" not in html and "@import" not in html and "url(" not in html
    for section in ("Data", "Fits", "Compute-optimal plans", "Figures", "Held-out runs"):
        assert section in html
    imgs = _images(html)
    assert len(imgs) == 3  # surface, frontier, residuals
    import io

    import matplotlib.image as mpimg

    for png in imgs:
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert mpimg.imread(io.BytesIO(png)).var() > 0.005
    # the fit table and intervals, the plans at the given budgets
    assert "alpha" in html and "E" in html and "95% interval" in html and "bootstrap resamples" in html
    assert "1.00e+21" in html and "1.00e+23" in html
    assert html.count("c4_original-open_lm") == 3  # the held-out runs, each with its prediction


def test_report_isoflop_and_curves(public_data, tmp_path):
    from scaling.plots.report import report
    from scaling.runs import load_runs

    runs = load_runs(public_data / "porian2024" / "porian_isoflop_points.csv", where=PORIAN_WHERE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = report(
            runs,
            tmp_path / "porian.html",
            fits=["approach2"],
            dpi=60,
            curves=public_data / "ibm_colpret" / "aggregated_eval_opt_trajectories.csv",
        )
    html = out.read_text()
    assert 'id="fig-isoflop"' in html and 'id="fig-curves"' in html and 'id="fig-frontier-approach2"' in html
    assert "approach1" in html and len(_images(html)) == 4  # isoflop, 2 frontiers, curves


def test_report_rejects_bad_input(tmp_path):
    import pandas as pd

    from scaling.errors import ScalingError
    from scaling.plots.report import report

    runs = pd.DataFrame(
        {"params": [1e8, 2e8, 4e8], "tokens": [1e9] * 3, "flops": [6e17, 1.2e18, 2.4e18], "loss": [3.0, 2.9, 2.8]}
    )
    with pytest.raises(ScalingError, match="html"):
        report(runs, tmp_path / "r.png")
    with pytest.raises(ScalingError, match="no method could fit"):
        report(runs, tmp_path / "r.html", fits=["approach2"])
    assert not list(tmp_path.iterdir())


def test_report_cli(cli_subprocess, public_data, tmp_path, capsys):
    from test_cli_plot import _main as main

    out = tmp_path / "r.html"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(
            *[
                "report",
                str(public_data / "porian2024" / "porian_isoflop_points.csv"),
                "--where",
                PORIAN_WHERE,
                "--method",
                "approach2",
                "--budgets",
                "1e20",
                "--out",
                str(out),
            ]
        )
    assert rc == 0
    assert "wrote" in capsys.readouterr().out and out.read_text().count("data:image/png;base64,") == 2
    r = cli_subprocess(
        "report", str(public_data / "porian2024" / "porian_isoflop_points.csv"), "--out", str(tmp_path / "x.pdf")
    )
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "html" in r.stderr


CHECK = """<script>
window.addEventListener("load", function () {
  var imgs = document.images, bad = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (!imgs[i].complete || imgs[i].naturalWidth < 100) { bad++; console.error("report-check: broken image " + i); }
  }
  console.log("report-check: " + (imgs.length - bad) + " images ok");
});
</script>"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium (Debian package chromium) is not installed")
def test_report_in_headless_chromium(gadre_report, tmp_path):
    """The page loads offline with no console errors, every image decodes, the screenshot is not blank."""
    import matplotlib.image as mpimg

    html = gadre_report.read_text()
    # a copy with a checker appended: the report itself has no scripts
    page = tmp_path / "page.html"
    page.write_text(html.replace("</body>", CHECK + "</body>"))
    shot = tmp_path / "shot.png"
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,2400",
        "--virtual-time-budget=5000",
        "--enable-logging=stderr",
        "--v=0",
        page.as_uri(),
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    console = [l for l in r.stderr.splitlines() if "CONSOLE" in l]
    ok = [l for l in console if "report-check:" in l and "images ok" in l]
    assert ok, f"the page did not finish loading: {r.stderr[-2000:]}"
    assert f'"report-check: {len(_images(html))} images ok"' in ok[0]
    errors = [l for l in console if l not in ok]
    assert not errors, errors
    img = mpimg.imread(shot)[..., :3]
    assert img.shape[0] >= 1000 and img.var() > 0.002
    assert (img.mean(axis=2) < 0.9).mean() > 0.02
