"""Uncompressed DICOM pixels memory-mapped by ``read_image(..., lazy=True, mapped=True)`` (:func:`mammo_lib.data.dicomio.native_pixels`):
exactly pydicom's decoded values where the layout allows it, pydicom's own decode (and its errors) everywhere else."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.uid import RLELossless

from _mg_fixtures import make_mg, ramp
from mammo_lib.data import dicomio
from mammo_lib.errors import MammoError


@pytest.fixture(autouse=True)
def _defer_small_pixel_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test images are small: leave anything above 256 bytes in the file, as a real mammogram's 1 MB+ is."""
    monkeypatch.setattr(dicomio, "DEFER_BYTES", 256)


def _both(path: Path) -> tuple[dicomio.MammoImage, dicomio.MammoImage]:
    return dicomio.read_image(path, lazy=True, mapped=True), dicomio.read_image(path)


def test_uncompressed_pixels_are_mapped_and_equal_pydicoms_decode(tmp_path: Path) -> None:
    path = make_mg(tmp_path / "plain.dcm", ramp(14, shape=(64, 80)))
    lazy, eager = _both(path)
    assert isinstance(lazy.pixels.raw, np.memmap)
    assert np.array_equal(lazy.pixels.raw, dcmread(path).pixel_array)
    assert np.array_equal(lazy.pixels.array(), eager.pixels) and lazy.laterality == eager.laterality


def test_stray_high_bits_are_left_to_pydicom_which_clears_them(tmp_path: Path) -> None:
    path = make_mg(tmp_path / "stray.dcm", ramp(12, shape=(64, 80)), bits_stored=12)
    ds = dcmread(path)
    stored = ds.pixel_array.copy()
    stored[0, 0] |= 0xF000  # a bit above Bits Stored, which pydicom's decode masks off
    ds.PixelData = stored.tobytes()
    ds.save_as(path, enforce_file_format=True)
    lazy, eager = _both(path)
    assert not isinstance(lazy.pixels.raw, np.memmap)
    assert np.array_equal(lazy.pixels.raw, dcmread(path).pixel_array) and int(lazy.pixels.raw.max()) < 2**12
    assert np.array_equal(lazy.pixels.array(), eager.pixels)


@pytest.mark.parametrize("kind", ["signed", "rle"])
def test_signed_and_compressed_pixels_are_decoded_by_pydicom(kind: str, tmp_path: Path) -> None:
    if kind == "signed":
        path = make_mg(tmp_path / "s.dcm", ramp(13, shape=(64, 80)) - 2**12, signed=True)
    else:
        path = make_mg(tmp_path / "r.dcm", ramp(14, shape=(64, 80)), syntax=RLELossless)
    lazy, eager = _both(path)
    assert not isinstance(lazy.pixels.raw, np.memmap)
    assert np.array_equal(lazy.pixels.array(), eager.pixels)


def test_a_file_cut_inside_its_pixel_data_gives_the_same_error_read_lazily(tmp_path: Path) -> None:
    whole = make_mg(tmp_path / "whole.dcm", ramp(14, shape=(128, 128)))
    data = whole.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: len(data) - 1000])
    messages = []
    for lazy in (True, False):
        with pytest.raises(MammoError, match=r"^cut.dcm: ") as caught:
            dicomio.read_image(cut, lazy=lazy, mapped=lazy)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


def test_lazy_reading_maps_by_default_and_reads_a_compressed_file_once(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    plain = make_mg(tmp_path / "plain.dcm", ramp(14, shape=(64, 80)))
    assert isinstance(dicomio.read_image(plain, lazy=True).pixels.raw, np.memmap)
    assert not isinstance(dicomio.read_image(plain, lazy=True, mapped=False).pixels.raw, np.memmap)
    rle = make_mg(tmp_path / "r.dcm", ramp(14, shape=(64, 80)), syntax=RLELossless)
    reads = []
    original = dicomio.read_dataset
    monkeypatch.setattr(dicomio, "read_dataset", lambda path, **kw: reads.append(kw) or original(path, **kw))
    lazy = dicomio.read_image(rle, lazy=True)
    assert len(reads) == 1  # the encapsulated Pixel Data is never deferred: no second read of the file
    assert np.array_equal(lazy.pixels.raw, dcmread(rle).pixel_array)
