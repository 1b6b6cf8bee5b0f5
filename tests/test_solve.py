"""The one set of scalar solvers (scaling/_solve.py): golden section, bisection, Brent."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scaling._solve import bisect, bisect_log, brentq, golden_min, grid_min, grid_min_columns, scan_min


def test_golden_min_vectorised():
    c = np.array([-3.0, 0.5, 7.25])
    x = golden_min(lambda x: (x - c) ** 2, c - 10, c + 10, tol=1e-12)
    np.testing.assert_allclose(x, c, atol=1e-6)


def test_scan_min_survives_kinks():
    # a bare golden search on [0, 10] is sent to the wrong valley by the wide left one
    f = lambda x: np.minimum(np.abs(x - 1.0) + 0.5, 4.0 * np.abs(x - 8.0))  # noqa: E731
    assert scan_min(f, np.array(0.0), np.array(10.0)) == pytest.approx(8.0, abs=1e-9)


def test_grid_min_value_and_undefined():
    x, v = grid_min(lambda x: np.where(x > 2, (x - 3) ** 2 + 1, np.nan), 0.0, 10.0)
    assert x == pytest.approx(3.0, abs=1e-6) and v == pytest.approx(1.0)
    assert grid_min(lambda x: np.full_like(x, np.inf), 0.0, 1.0)[1] == math.inf


def test_bisect_and_log():
    r = bisect(lambda x: x**3 - np.array([8.0, 27.0]), np.array([0.0, 0.0]), np.array([5.0, 5.0]))
    np.testing.assert_allclose(r, [2.0, 3.0], rtol=1e-12)
    assert float(bisect_log(lambda x: x - 7e21, np.array([1.0]), np.array([1e30]))[0]) == pytest.approx(7e21, rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(root=st.floats(min_value=-50, max_value=50), k=st.floats(min_value=0.1, max_value=5))
def test_brentq_matches_bisection(root, k):
    f = lambda x: math.tanh(k * (x - root)) + 0.01 * (x - root)  # noqa: E731
    assert brentq(f, -100.0, 100.0, xtol=1e-12) == pytest.approx(root, abs=1e-9)


def test_brentq_needs_a_sign_change():
    with pytest.raises(ValueError):
        brentq(lambda x: x * x + 1, -1.0, 1.0)


def test_grid_min_columns_is_grid_min_per_column():
    c = np.array([-1.5, 0.25, 3.0, 7.0])
    g = lambda x: np.where(x > c - 9, (x - c) ** 2 + c, np.nan)  # noqa: E731  (column j: its own problem)
    xs, vs = grid_min_columns(g, -5.0, 5.0, len(c))
    for j, cj in enumerate(c):
        x, v = grid_min(lambda x, cj=cj: np.where(x > cj - 9, (x - cj) ** 2 + cj, np.nan), -5.0, 5.0)
        assert xs[j] == pytest.approx(x, abs=1e-9) and vs[j] == pytest.approx(v, abs=1e-12)
    xs, vs = grid_min_columns(lambda x: np.where(x > 0, np.inf + 0 * x, (x + 1) ** 2), -3.0, -2.0 + 0 * 1, 1)
    assert xs[0] == pytest.approx(-2.0) and np.isfinite(vs[0])
    xs, vs = grid_min_columns(lambda x: np.full_like(x, np.nan), 0.0, 1.0, 2)
    assert np.isnan(xs).all() and np.isinf(vs).all()
