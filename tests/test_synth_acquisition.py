"""Vendor encodings: every vendor's file displays dense tissue bright, whatever its photometric and VOI."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mammo_lib.errors import MammoError
from mammo_lib.synth import acquisition, config
from mammo_lib.synth.readers import display_pixels


def _ramp() -> tuple[np.ndarray, np.ndarray]:
    image = np.tile(np.linspace(0.0, 1.0, 64, dtype=np.float32), (48, 1))
    breast = np.zeros_like(image, dtype=bool)
    breast[:, 16:] = True
    return image * breast, breast


@pytest.mark.parametrize("vendor", [v.name for v in config.VENDORS])
def test_written_file_displays_denser_as_brighter(vendor: str, tmp_path: Path) -> None:
    import pydicom

    profile = config.VENDOR_BY_NAME[vendor]
    image, breast = _ramp()
    enc = acquisition.encode(image, breast, profile)
    tags = acquisition.ImageTags("P9999", 50, "P9999-S1", "20190601", "L", "CC", "P9999_L_CC", 1, 1)
    path = tmp_path / "x.dcm"
    acquisition.write_mg(path, enc, profile, tags)
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == profile.photometric and ds.BitsStored == profile.bits_stored
    shown, spacing = display_pixels(path)
    assert spacing == profile.pixel_spacing_mm
    row = shown[10, 16:]
    assert np.all(np.diff(row) >= -1e-6) and row[-1] - row[0] > 0.5
    assert shown[:, :16].mean() < row.mean()


def test_uids_are_name_based_and_stable() -> None:
    a = acquisition.deterministic_uid("image", 1, "P0001_L_CC")
    assert a == acquisition.deterministic_uid("image", 1, "P0001_L_CC")
    assert a != acquisition.deterministic_uid("image", 2, "P0001_L_CC")
    assert a.startswith("2.25.") and len(a) <= 64


def test_encode_refuses_nan_and_mismatched_masks() -> None:
    image, breast = _ramp()
    profile = config.VENDORS[0]
    with pytest.raises(MammoError, match="NaN"):
        acquisition.encode(np.full_like(image, np.nan), breast, profile)
    with pytest.raises(MammoError, match="differ in shape"):
        acquisition.encode(image, breast[:5], profile)
