"""A user's cohort brings bad files: each is refused with one line that names the file (issue 14)."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _mg_fixtures import make_mg, ramp
from mammo_lib import cli
from mammo_lib.checksums import sha256_file
from mammo_lib.data.dicomio import read_image
from mammo_lib.data.manifest import ManifestError, load_manifest
from mammo_lib.errors import MammoError
from mammo_lib.preprocess import preprocess_cached, preprocess_view
from mammo_lib.vocab import MANIFEST_COLUMNS


@pytest.fixture(autouse=True)
def _own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAMMO_CACHE", str(tmp_path / "cache"))


def _blank(path: Path, shape: tuple[int, int] = (256, 200), **tags: str) -> Path:
    return make_mg(path, np.full(shape, 1000), bits_stored=12, **tags)


def test_a_blank_or_tiny_image_is_refused_with_its_file_name(tmp_path: Path) -> None:
    blank = _blank(tmp_path / "scan_0007.dcm")
    with pytest.raises(MammoError, match=r"^scan_0007.dcm: no breast found: the image is blank"):
        preprocess_view(read_image(blank))
    with pytest.raises(MammoError, match=r"^scan_0007.dcm: no breast found: the image is blank"):
        preprocess_cached(blank, laterality="L", view="CC")
    tiny = make_mg(tmp_path / "thumb.dcm", ramp(12, shape=(16, 16)), bits_stored=12)
    with pytest.raises(MammoError, match=r"^thumb.dcm: image of 16 x 16 pixels is too small to preprocess"):
        preprocess_cached(tiny, laterality="L", view="CC")
    with pytest.raises(MammoError, match=r"^image of 16 x 16 pixels"):  # a bare array has no file to name
        preprocess_view(np.zeros((16, 16), np.float32), view="CC")


def test_the_exam_cache_says_which_image_of_which_exam_failed(tmp_path: Path) -> None:
    from mammo_lib.models.detection.data import build_exam_cache

    (tmp_path / "export" / "a").mkdir(parents=True)
    good = make_mg(tmp_path / "export" / "a" / "IM0001.dcm", ramp(12, shape=(256, 200)), bits_stored=12)
    bad = _blank(tmp_path / "export" / "a" / "IM0002.dcm", ViewPosition="MLO")
    rows = []
    for path, view in ((good, "CC"), (bad, "MLO")):
        rows.append(dict(image_id=f"H1_L{view}", patient_id="P1", study_id="H1", age=50, breast_density="b",
                         laterality="L", view=view, image_path=path.relative_to(tmp_path).as_posix(),
                         vendor="Hologic", sha256=sha256_file(path), split="test"))
    pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).to_csv(tmp_path / "m.csv", index=False)
    cohort = load_manifest(tmp_path / "m.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(MammoError, match=r"^exam cache: image_id 'H1_LMLO' of study 'H1' \(export/a/IM0002.dcm\): "
                                             r"IM0002.dcm: no breast found"):
            build_exam_cache(cohort, cache_root=tmp_path / "exams", progress=False)


def test_a_dicom_cut_inside_its_header_is_called_truncated(tmp_path: Path) -> None:
    whole = make_mg(tmp_path / "whole.dcm", ramp(12, shape=(64, 64)), bits_stored=12)
    data = whole.read_bytes()
    pixel_tag = data.find(b"\xe0\x7f\x10\x00")
    for cut in (200, 400, pixel_tag - 30, pixel_tag):
        (tmp_path / "cut.dcm").write_bytes(data[:cut])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns about the cut-off UI values it read
            with pytest.raises(MammoError, match=rf"^cut.dcm: truncated file: it ends after {cut} bytes"):
                read_image(tmp_path / "cut.dcm")


def test_cli_messages_name_the_cli_flags_not_python_keywords(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    ct = make_mg(tmp_path / "ct.dcm", ramp(12, shape=(128, 96)), bits_stored=12, Modality="CT")
    with pytest.raises(MammoError, match=r"`mammo preprocess --force`"):
        read_image(ct)
    raw = make_mg(tmp_path / "raw.dcm", ramp(12, shape=(128, 96)), bits_stored=12,
                  PresentationIntentType="FOR PROCESSING")
    assert cli.main(["preprocess", str(raw), "--no-cache"]) == 2
    assert "`mammo preprocess --for-processing log`" in capsys.readouterr().err
    # and the flags do what the messages say
    big = np.zeros((256, 200), np.uint16)
    big[20:236, :150] = 3000
    make_mg(tmp_path / "raw2.dcm", big, bits_stored=12, PresentationIntentType="FOR PROCESSING")
    assert cli.main(["preprocess", str(tmp_path / "raw2.dcm"), "--for-processing", "log", "--json"]) == 0
    make_mg(tmp_path / "ct2.dcm", 4095 - big, bits_stored=12, Modality="CT")
    assert cli.main(["preprocess", str(tmp_path / "ct2.dcm"), "--force", "--json"]) == 0


def test_a_header_only_manifest_is_refused_by_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "data_manifest.csv"
    manifest.write_text(",".join(MANIFEST_COLUMNS) + "\n")
    with pytest.raises(ManifestError, match="data_manifest.csv: image_id: 0 images"):
        load_manifest(manifest)
    assert cli.main(["verify", str(manifest)]) == 1
    assert "0 images" in capsys.readouterr().out


def test_a_mistyped_manifest_path_fails_verify_with_its_name(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify", str(tmp_path / "data_manifset.csv")]) == 2
    assert "data_manifset.csv: file does not exist" in capsys.readouterr().err
