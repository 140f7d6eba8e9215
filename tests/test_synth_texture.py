"""Power-law textures: synthesis and measurement of the exponent beta agree."""
from __future__ import annotations

import numpy as np
import pytest

from mammo_lib.errors import MammoError
from mammo_lib.synth import texture


@pytest.mark.parametrize("beta", [2.0, 2.8, 3.3])
def test_measured_exponent_recovers_the_synthesised_one(beta: float) -> None:
    field = texture.power_law_field((256, 256), beta, np.random.default_rng(3), spacing_mm=0.4)
    assert texture.power_law_exponent(field, 0.4) == pytest.approx(beta, abs=0.2)


def test_white_noise_has_exponent_near_zero() -> None:
    noise = np.random.default_rng(0).standard_normal((256, 256))
    assert abs(texture.power_law_exponent(noise, 0.4)) < 0.2


def test_field_is_standardised_and_seeded() -> None:
    a = texture.power_law_field((100, 120), 3.0, np.random.default_rng(5), spacing_mm=0.5)
    b = texture.power_law_field((100, 120), 3.0, np.random.default_rng(5), spacing_mm=0.5)
    assert a.shape == (100, 120) and a.dtype == np.float32
    assert float(a.std()) == pytest.approx(1.0, abs=0.02) and abs(float(a.mean())) < 0.02
    np.testing.assert_array_equal(a, b)


def test_bad_regions_are_refused() -> None:
    with pytest.raises(MammoError, match="at least 16 x 16"):
        texture.power_law_exponent(np.zeros((8, 8)), 0.4)
    with pytest.raises(MammoError, match="NaN"):
        texture.power_law_exponent(np.full((32, 32), np.nan), 0.4)
    with pytest.raises(MammoError, match="beta > 0"):
        texture.power_law_field((32, 32), -1.0, np.random.default_rng(0))


@pytest.mark.parametrize("factor", [1, 2, 3, 5])
def test_upsample_linear_matches_scipy_zoom_with_aligned_pixel_centres(factor: int) -> None:
    from scipy import ndimage

    a = np.random.default_rng(factor).random((37, 23)).astype(np.float32)
    shape = (37 * factor - 1, 23 * factor)
    expected = ndimage.zoom(a, factor, order=1, grid_mode=True, mode="nearest")[: shape[0], : shape[1]]
    got = texture.upsample_linear(a, shape, factor)
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_allclose(got, expected, atol=1e-6)
