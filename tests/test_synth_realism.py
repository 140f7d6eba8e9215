"""Realism measurements: Otsu's threshold and background regions behave on known inputs."""
from __future__ import annotations

import numpy as np
import pytest

from mammo_lib.errors import MammoError
from mammo_lib.synth import realism


def test_otsu_separates_the_two_modes_of_a_bimodal_sample() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0.2, 0.03, 2000), rng.normal(0.7, 0.03, 2000)])
    cut = realism.otsu_threshold(values)
    assert 0.25 < cut < 0.65 and (values > cut).mean() == pytest.approx(0.5, abs=0.002)


def test_otsu_maximises_the_between_class_variance() -> None:
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.normal(0.2, 0.03, 3000), rng.normal(0.7, 0.05, 1000)])
    cut = realism.otsu_threshold(values, bins=256)

    def between(t: float) -> float:
        lo, hi = values[values <= t], values[values > t]
        return len(lo) * len(hi) * (lo.mean() - hi.mean()) ** 2

    candidates = np.linspace(0.25, 0.65, 81)
    best = candidates[int(np.argmax([between(t) for t in candidates]))]
    assert cut == pytest.approx(best, abs=0.01)


def test_otsu_refuses_empty_or_nan() -> None:
    with pytest.raises(MammoError, match="at least 2 finite values"):
        realism.otsu_threshold(np.array([np.nan, 1.0]))


def test_background_roi_lies_inside_the_breast_and_away_from_excluded_pixels() -> None:
    breast = np.zeros((120, 120), dtype=bool)
    breast[10:110, 10:110] = True
    exclude = np.zeros_like(breast)
    exclude[10:60, 10:110] = True
    y, x = realism.background_roi(breast, exclude, 30)
    assert breast[y:y + 30, x:x + 30].all() and not exclude[y:y + 30, x:x + 30].any()
    assert realism.background_roi(breast, exclude, 90) is None
