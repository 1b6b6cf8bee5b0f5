"""`scaling plot` from the public data sets (the synthetic fixtures, and ../shared/data when present), and
one-line errors on bad input."""

import warnings

import pytest

from test_plots import GADRE_WHERE, PORIAN_WHERE, check_image, gadre_loss_fit


def _main(*args):
    """The CLI in-process (faster than a subprocess); restores the warning format it sets."""
    from scaling.cli import main

    fmt = warnings.formatwarning
    try:
        return main(list(args))
    finally:
        warnings.formatwarning = fmt


@pytest.fixture(scope="module")
def paths(public_data, tmp_path_factory):
    """Data paths, an Approach 2 fit file of the porian isoFLOP runs, and the counts the CLI should report
    (porian2024: 121 runs, 12 budgets; gadre2024 C4: 34 runs, 3 held out; OPT: 6 runs, 142 evaluations)."""
    from scaling.fit.approach2 import fit_approach2
    from scaling.runs import load_curves, load_runs

    porian = public_data / "porian2024" / "porian_isoflop_points.csv"
    tmp = tmp_path_factory.mktemp("plotcli")
    porian_runs = load_runs(porian, where=PORIAN_WHERE)
    a2 = fit_approach2(porian_runs)
    a2_path = a2.save(tmp / "approach2.json")
    gadre = public_data / "gadre2024" / "gadre2024_final_losses.csv"
    gadre_runs = load_runs(gadre, where=GADRE_WHERE)
    loss_path = gadre_loss_fit(str(gadre)).save(tmp / "loss_fit.json")
    curves = public_data / "ibm_colpret" / "aggregated_eval_opt_trajectories.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve_runs = load_curves(curves)
    return {
        "porian": str(porian),
        "gadre": str(gadre),
        "curves": str(curves),
        "a2": str(a2_path),
        "loss": str(loss_path),
        "tmp": tmp,
        "porian_counts": f"{len(porian_runs)} runs, {porian_runs['flops'].nunique()} budgets",
        "gadre_counts": f"{len(gadre_runs)} runs ({int((gadre_runs['params'] > 1e9).sum())} held out)",
        "curve_counts": f"{curve_runs['run_id'].nunique()} runs, {len(curve_runs)} evaluations",
    }


def test_isoflop_png(paths, capsys):
    out = paths["tmp"] / "isoflop.png"
    assert (
        _main(
            "plot",
            "isoflop",
            paths["porian"],
            "--where",
            PORIAN_WHERE,
            "--fit",
            paths["a2"],
            "--law",
            "epoch-2024",
            "--out",
            str(out),
            "--dpi",
            "80",
        )
        == 0
    )
    assert paths["porian_counts"] in capsys.readouterr().out
    check_image(out)


def test_frontier_from_fit_file_svg_and_pdf(paths):
    svg = paths["tmp"] / "frontier.svg"
    assert _main("plot", "frontier", paths["a2"], "--out", str(svg)) == 0
    text = svg.read_text()
    assert "<svg" in text and "<image" not in text  # vector output, nothing linked
    pdf = paths["tmp"] / "frontier.pdf"
    assert _main("plot", "frontier", "epoch-2024", "--compare", "chinchilla-2022", "--out", str(pdf)) == 0
    assert pdf.read_bytes().startswith(b"%PDF")


def test_frontier_fitting_runs_with_method(paths, capsys):
    out = paths["tmp"] / "frontier_fitted.png"
    assert (
        _main(
            "plot",
            "frontier",
            paths["porian"],
            "--where",
            PORIAN_WHERE,
            "--method",
            "approach2",
            "--compare",
            "--out",
            str(out),
            "--dpi",
            "80",
        )
        == 0
    )
    assert "fit (approach2) against nothing" in capsys.readouterr().out
    check_image(out)


def test_surface_and_residuals_gadre(paths, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = paths["tmp"] / "surface.png"
        assert (
            _main(
                "plot",
                "surface",
                paths["gadre"],
                "--where",
                GADRE_WHERE,
                "--fit",
                paths["loss"],
                "--heldout",
                "N > 1e9",
                "--out",
                str(s),
                "--dpi",
                "80",
            )
            == 0
        )
        check_image(s)
        r = paths["tmp"] / "residuals.png"
        assert (
            _main(
                "plot",
                "residuals",
                paths["gadre"],
                "--where",
                GADRE_WHERE,
                "--fit",
                paths["loss"],
                "--heldout",
                "N > 1e9",
                "--out",
                str(r),
                "--dpi",
                "80",
            )
            == 0
        )
    assert paths["gadre_counts"] in capsys.readouterr().out
    check_image(r)


def test_curves(paths, capsys):
    out = paths["tmp"] / "curves.png"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert _main("plot", "curves", paths["curves"], "--out", str(out), "--dpi", "80") == 0
    assert paths["curve_counts"] in capsys.readouterr().out
    check_image(out)


def _one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [l for l in r.stderr.strip().splitlines() if not l.startswith("scaling: warning")]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


class _Result:
    def __init__(self, rc, err):
        self.returncode, self.stderr = rc, err


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_bad_inputs_are_one_line_errors(cli_subprocess, paths, tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("N,D,loss\n")
    # one real process (exit status and stderr as a user sees them), then in-process for speed
    _one_line_error(cli_subprocess("plot", "isoflop", str(empty), "--out", str(tmp_path / "x.png")), "no runs")

    def cli(*args):
        capsys.readouterr()
        rc = _main(*args)
        return _Result(rc, capsys.readouterr().err)

    _one_line_error(cli("plot", "frontier", str(empty), "--out", str(tmp_path / "x.png")), "no runs")
    # a fit where runs are needed, and a fit of the wrong kind
    _one_line_error(cli("plot", "isoflop", paths["a2"], "--out", str(tmp_path / "x.png")), "not a table of runs")
    _one_line_error(
        cli(
            "plot",
            "residuals",
            paths["porian"],
            "--where",
            PORIAN_WHERE,
            "--fit",
            paths["a2"],
            "--out",
            str(tmp_path / "x.png"),
        ),
        "loss model",
    )
    _one_line_error(cli("plot", "surface", paths["a2"], "--out", str(tmp_path / "x.png")), "loss model")
    _one_line_error(
        cli("plot", "curves", paths["curves"], "--fit", paths["a2"], "--out", str(tmp_path / "x.png")), "approach1"
    )
    notfit = tmp_path / "notfit.json"
    notfit.write_text('{"hello": 1}')
    _one_line_error(cli("plot", "frontier", str(notfit), "--out", str(tmp_path / "x.png")), "neither a fit")
    _one_line_error(cli("plot", "frontier", "epoch-2024", "--out", str(tmp_path / "x.gif")), ".png, .svg or .pdf")
    _one_line_error(cli("plot", "frontier", "no-such-law", "--out", str(tmp_path / "x.png")), "no such file or law")
    assert not list(tmp_path.glob("x.*"))
