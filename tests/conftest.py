"""Fixtures shared by the test modules.

Data. The public data sets (``../shared/data`` beside the checkout; ``SCALING_SHARED_DATA=DIR`` points
elsewhere, and a missing DIR shows what a fresh clone sees) are not part of the repository. So that the
suite runs in a clone with nothing beside it, tests/fixtures/public/ holds synthetic stand-ins with the same
folder and file names and columns (written by tests/fixtures/make_fixtures.py from known laws):

- ``public_data``: the root of a data set tree; tests using it run on the synthetic tree always and, when
  it is present, on ../shared/data too (ids ``synthetic`` and ``shared``).
- ``shared_data``: the real tree only, for tests that check a paper's own numbers. Without it those tests
  are deselected (reported as deselected, not skipped): a fresh clone skips nothing it could run.

CLI. ``cli`` runs ``scaling ARGS`` in-process (``scaling.cli.main``, stdout/stderr/warnings captured, exit
status as the return code): a subprocess costs a second or more of interpreter and import start-up on a
busy machine. ``cli_subprocess`` starts the real ``python -m scaling`` for the few tests that are about the
process itself (exit status, entry point, fresh imports).
"""

import io
import os
import subprocess
import sys
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

# One OpenBLAS thread, for this process and the processes it starts (xdist workers, notebooks, `python -m
# scaling`). OpenBLAS reads the variable when numpy and scipy load, which is after this file: nothing above
# imports them. The fits call L-BFGS-B, whose BLAS calls on vectors of a few elements wake OpenBLAS's thread
# pool every iteration; the spinning threads cost 10-30 times the CPU of the fit itself (fit_datacon on the
# synthetic runs: 7.8 s of CPU instead of 0.33 s) and, with two workers on two cores, steal the other
# worker's time. The numbers are the same. A value already set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DATA = ROOT / "tests" / "fixtures" / "public"
SHARED_DATA = Path(os.environ.get("SCALING_SHARED_DATA") or ROOT.parent / "shared" / "data")
HAVE_SHARED = SHARED_DATA.is_dir()
DATA_SOURCES = {"synthetic": FIXTURE_DATA, **({"shared": SHARED_DATA} if HAVE_SHARED else {})}


@pytest.fixture(scope="session", params=list(DATA_SOURCES))
def public_data(request) -> Path:
    """A data tree laid out like ../shared/data: the synthetic fixtures, and the real data when present."""
    return DATA_SOURCES[request.param]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not HAVE_SHARED:  # pragma: no cover - such tests are deselected in pytest_collection_modifyitems
        pytest.skip(f"{SHARED_DATA} is not present")
    return SHARED_DATA


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "shared_data: needs the real public data in ../shared/data (deselected without it)"
    )


def pytest_report_header(config):
    where = SHARED_DATA if HAVE_SHARED else f"{SHARED_DATA} not present: tests that need it are deselected"
    return f"public data: synthetic fixtures ({FIXTURE_DATA.relative_to(ROOT)}); real data: {where}"


# Modules whose tests draw figures or write reports: on the real data they exercise the same code as on the
# synthetic stand-ins (and take 5-15 s each, a tenth of the fast suite), so their ``shared`` variants run in
# the slow pass (CI runs it), the synthetic ones in the fast suite.
RENDERING_MODULES = ("test_plots", "test_cli_plot", "test_report")


@pytest.hookimpl(tryfirst=True)  # before -m 'not slow' deselects
def pytest_collection_modifyitems(config, items):
    for item in items:
        spec = getattr(item, "callspec", None)
        if spec is not None and spec.params.get("public_data") == "shared":
            if item.module is not None and item.module.__name__.rsplit(".", 1)[-1] in RENDERING_MODULES:
                item.add_marker(pytest.mark.slow)
    if HAVE_SHARED:
        return
    keep, drop = [], []
    for item in items:
        needs = "shared_data" in getattr(item, "fixturenames", ()) or item.get_closest_marker("shared_data")
        (drop if needs else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `python -m scaling ARGS` in a subprocess; returns CompletedProcess with text output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "scaling", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )


def _print_warning(message, category, filename, lineno, file=None, line=None):
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


def run_cli_inprocess(*args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
    """`scaling ARGS` through ``scaling.cli.main`` in this process, as a subprocess would see it: cwd the
    repository, stdout and stderr captured, warnings printed to stderr under Python's default filters (not
    recorded by pytest), argparse's SystemExit turned into the exit status. ``timeout`` is ignored."""
    from scaling.cli import main

    out, err = io.StringIO(), io.StringIO()
    cwd, fmt = os.getcwd(), warnings.formatwarning
    try:
        os.chdir(ROOT)
        with warnings.catch_warnings(), redirect_stdout(out), redirect_stderr(err):
            warnings.resetwarnings()
            warnings.simplefilter("default")
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.simplefilter("ignore", category)
            warnings.showwarning = _print_warning
            try:
                rc = main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code
                if code is None or isinstance(code, int):
                    rc = code or 0
                else:
                    print(code, file=sys.stderr)
                    rc = 1
    finally:
        warnings.formatwarning = fmt
        os.chdir(cwd)
    return subprocess.CompletedProcess(["scaling", *map(str, args)], rc, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli_inprocess


@pytest.fixture
def cli_subprocess():
    return run_cli
