"""`mammo analyze` on hospital batches: a study folder never merges two patients (or two visits), and Ctrl-C stops
the workers within seconds with one line, keeping the exams already finished."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _mg_fixtures import make_mg
from mammo_lib.system import analyze
from mammo_lib.cli import main
from mammo_lib.errors import MammoError
from mammo_lib.paths import REPO_ROOT

PIXELS = np.arange(32 * 48, dtype=np.uint16).reshape(32, 48)


def _view(folder: Path, name: str, patient: str, study_uid: str, date: str = "20260101") -> Path:
    lat, view = name[0], name[1:]
    return make_mg(folder / f"{name}.dcm", PIXELS, PatientID=patient, StudyInstanceUID=study_uid, StudyDate=date,
                   ImageLaterality=lat, ViewPosition=view)


def test_a_study_folder_with_two_patients_is_refused_naming_the_folder_and_both_ids(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    _view(folder, "RCC", "PAT-A", "1.2.3.1")
    _view(folder, "RMLO", "PAT-A", "1.2.3.1")
    _view(folder, "LCC", "PAT-B", "1.2.3.2")
    _view(folder, "LMLO", "PAT-B", "1.2.3.2")
    with pytest.raises(MammoError) as exc:
        analyze.exams_from_inputs([str(folder)])
    assert str(exc.value) == (f"{folder}: images of two patients: LCC.dcm and RCC.dcm differ in PatientID "
                              "('PAT-B' and 'PAT-A'); an exam is one patient's study, so give each its own folder or "
                              "list them in a manifest")
    assert main(["analyze", str(folder), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "images of two patients" in err[0]
    assert not (tmp_path / "out").exists()
    files = sorted(folder.iterdir())
    with pytest.raises(MammoError, match="the files given: images of two patients"):
        analyze.exams_from_inputs([str(f) for f in files])


def test_two_visits_of_one_patient_are_refused_but_a_study_per_view_is_one_exam(tmp_path: Path) -> None:
    visits = tmp_path / "visits"
    visits.mkdir()
    for name, uid, date in (("RCC", "1.1", "20250101"), ("RMLO", "1.1", "20250101"), ("LCC", "1.2", "20260101"),
                            ("LMLO", "1.2", "20260101")):
        _view(visits, name, "PAT-A", uid, date)
    with pytest.raises(MammoError, match="images of two studies: .* differ in StudyInstanceUID"):
        analyze.exams_from_inputs([str(visits)])
    # CBIS-DDSM: every view its own study, the view in its PatientID, one date: one exam
    cbis = tmp_path / "cbis"
    cbis.mkdir()
    for k, name in enumerate(("RCC", "LCC", "RMLO", "LMLO")):
        side = "RIGHT" if name[0] == "R" else "LEFT"
        _view(cbis, name, f"Mass-Test_P_00173_{side}_{name[1:]}", f"1.3.{k}", "20161004")
    exams = analyze.exams_from_inputs([str(cbis)])
    assert len(exams) == 1 and len(exams[0].views) == 4


def test_png_names_with_two_patient_keys_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "pngs"
    folder.mkdir()
    for name in ("P001_RCC.png", "P001_RMLO.png", "P002_LCC.png", "P002_LMLO.png"):
        (folder / name).write_bytes(b"")
    with pytest.raises(MammoError, match=r"images of two patients: P001_RCC.png and P002_LCC.png differ in patient key "
                                         r"in the file name \('P001' and 'P002'\)"):
        analyze.exams_from_inputs([str(folder)])
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("LCC.png", "RCC.png"):
        (plain / name).write_bytes(b"")
    assert len(analyze.exams_from_inputs([str(plain)])[0].views) == 2


def test_a_manifest_exam_with_two_patients_headers_fails_without_naming_their_ids(tmp_path: Path) -> None:
    files = [_view(tmp_path, "RCC", "PAT-A", "1.1"), _view(tmp_path, "LCC", "PAT-B", "1.1")]
    reason = analyze.mixed_patients(files, names=False, show_keys=False)
    assert reason.startswith("images of two patients: RCC.dcm and LCC.dcm differ in PatientID;")
    assert "PAT-" not in reason


N_EXAMS = 12


@pytest.fixture(scope="module")
def many_exams(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A manifest of N_EXAMS studies of one rendered twin patient (copies of its four views under as many study ids):
    enough that the batch is still running when the first exam is written, however fast the machine. Every other
    copy is uncompressed and upsampled (:func:`_write_mapped_copy`), so the batch reads both ways: pydicom's decode
    (the twin's RLE files) and memory-mapped pixels."""
    from mammo_lib.synth import composition, config, generate

    cfg = config.twin_config()
    patients, _ = composition.compose(cfg)
    patient = str(patients.loc[patients["sides"].str.len() == 2, "patient_id"].iloc[0])
    root = tmp_path_factory.mktemp("many")
    manifest, _, _ = generate.generate(cfg, root, only={patient})
    rows = []
    for k in range(N_EXAMS):
        for r in manifest.itertuples(index=False):
            target = root / f"copy{k}" / Path(r.image_path).name
            target.parent.mkdir(exist_ok=True)
            if k % 2:  # every other exam uncompressed and over DEFER_BYTES: its views are memory-mapped when read
                _write_mapped_copy(root / r.image_path, target)
            else:
                shutil.copy(root / r.image_path, target)
            rows.append(r._replace(image_id=f"{r.image_id}-{k}", study_id=f"S{k}",
                                   image_path=str(target.relative_to(root))))
    pd.DataFrame(rows).to_csv(root / "batch.csv", index=False)
    return root / "batch.csv"


def _write_mapped_copy(source: Path, target: Path) -> None:
    """``source`` upsampled 2x (np.kron) and saved uncompressed (Explicit VR Little Endian), so that its Pixel Data
    exceeds :data:`mammo_lib.data.dicomio.DEFER_BYTES` and ``mammo analyze`` memory-maps it
    (:func:`mammo_lib.data.dicomio.native_pixels`)."""
    from pydicom import dcmread

    from mammo_lib.data import dicomio

    ds = dcmread(source)
    big = np.kron(ds.pixel_array, np.ones((2, 2), ds.pixel_array.dtype))
    ds.set_pixel_data(big, str(ds.PhotometricInterpretation), int(ds.BitsStored))
    ds.save_as(target, enforce_file_format=True)
    assert big.nbytes >= dicomio.DEFER_BYTES
    assert dicomio.native_pixels(target, dicomio.read_dataset(target, stop_before_pixels=False,
                                                              defer_pixels=True)) is not None


def test_ctrl_c_stops_the_workers_within_seconds_with_one_line_and_keeps_finished_exams(many_exams: Path,
                                                                                      tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "mammo_lib", "analyze", str(many_exams), "--out", str(out),
                             "--workers", "2", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, start_new_session=True,
                            # a shell's background job (make test under nohup or CI) inherits SIGINT ignored, and
                            # Python then installs no KeyboardInterrupt: give the command a terminal's default
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob("*/result.json")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the batch ended before it could be interrupted"
        assert list(out.glob("*/result.json")), "no exam finished within 240 s"
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole process group
        sent = time.monotonic()
        try:
            stdout, stderr = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail("mammo analyze did not stop within 20 s of Ctrl-C")
        stopped = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    finished = sorted(out.glob("*/result.json"))
    assert proc.returncode == 130 and stopped < 20, (proc.returncode, stopped, len(finished), stdout[-300:], stderr[-600:])
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("mammo analyze: interrupted: ")
    assert 1 <= len(finished) < N_EXAMS
    for path in finished:
        assert json.loads(path.read_text())["exam"] == path.parent.name
