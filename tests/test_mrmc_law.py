"""mrmc's shortcut to scipy.special gives scipy.stats' numbers exactly, edges included."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mammo_lib.evaluation import mrmc

CASES = [
    ("t", "sf", 1.7, (12.3,)), ("t", "sf", np.array([0.0, 0.4, 3.2]), (5.0,)), ("t", "ppf", 0.975, (3.5,)),
    ("t", "ppf", 0.975, (np.array([2.0, 40.0, 7.5]),)), ("f", "sf", 2.2, (4.0, 11.7)), ("chi2", "sf", 6.1, (3.0,)),
    ("norm", "sf", np.array([0.0, 1.96]), ()), ("norm", "ppf", 0.975, ()),
    # edges: scipy.stats decides (infinite statistic, df 0, inf or nan)
    ("t", "sf", np.inf, (4.0,)), ("t", "ppf", 0.975, (np.array([np.inf, np.nan, 3.0]),)),
    ("f", "sf", np.inf, (1.0, 3.0)), ("f", "sf", 1.0, (1.0, 0.0)), ("t", "sf", 0.5, (np.inf,)),
]


@pytest.mark.parametrize(("name", "method", "x", "df"), CASES)
def test_law_equals_scipy_stats(name, method, x, df):
    ours = np.asarray(mrmc._law(name, method, x, *df), dtype=float)
    theirs = np.asarray(getattr(getattr(stats, name), method)(x, *df), dtype=float)
    np.testing.assert_array_equal(ours, theirs)
