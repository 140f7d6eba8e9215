"""The DICOM SR of `mammo analyze`: TID 1500 content read back, nothing of the source header leaks beyond the UIDs
and the Patient module, de-identification empties that, and dciodvfy finds no error."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from _mg_fixtures import PATIENT_ID, PATIENT_NAME, make_mg

hd = pytest.importorskip("highdicom")
from mammo_lib.system import sr  # noqa: E402  (needs highdicom)

#: Identifying values written into the source image: none may reach the SR.
SECRETS = {
    "InstitutionName": "St Elsewhere Breast Centre", "InstitutionAddress": "1 Hidden Lane, Secretville",
    "AccessionNumber": "ACC-77812", "ReferringPhysicianName": "House^Gregory", "StudyDescription": "Diagnostic Mammo Jane",
    "SeriesDescription": "L CC", "StudyDate": "20190415", "StudyTime": "101112", "SeriesDate": "20190415",
    "AcquisitionDate": "20190415", "ContentDate": "20190415", "OperatorsName": "Tech^Tina", "StudyID": "S-90210",
    "PatientAddress": "22 Private Road", "OtherPatientIDs": "MRN-5550123", "PatientComments": "anxious",
    "PerformingPhysicianName": "Radiologist^Rita", "DeviceSerialNumber": "SN-31337", "StationName": "MAMMO-ROOM-2",
    "PatientAge": "052Y", "InstitutionalDepartmentName": "Radiology West",
}
UIDS = {"StudyInstanceUID": "1.2.826.0.1.3680043.8.498.1", "SeriesInstanceUID": "1.2.826.0.1.3680043.8.498.2"}


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    pixels = np.random.default_rng(0).integers(0, 2**12, size=(96, 64))
    return make_mg(tmp_path / "lcc.dcm", pixels, bits_stored=12, PatientBirthDate="19670301", PatientSex="F",
                   PatientOrientation=["A", "R"], **SECRETS, **UIDS)


def _models() -> dict:
    """The shipped weights' provenance, as `mammo analyze` puts it into every result."""
    from mammo_lib.models.provenance import models_block
    from mammo_lib.paths import weights_dir

    return models_block(weights_dir() / "detection.safetensors", weights_dir() / "classification.safetensors")


def _result() -> dict:
    mass = {"mass": "M1", "laterality": "L", "n_views": 1, "malignancy_score": 63.25, "dl_positive": True,
            "morphology": "irregular", "margin": "spiculated", "mass_density": "high", "birads": "4C",
            "views": {"LCC": {"image_id": "lcc", "box": [10.5, 20.0, 40.0, 150.0], "detection_score": 0.8123}}}
    return {"exam": "E1", "masses": [mass], "models": _models()}


def _values(ds) -> list[str]:
    """Every element value of a dataset, nested sequences included, as text."""
    out = []
    for elem in ds.iterall():
        if elem.VR != "SQ":
            out.append(str(elem.value))
    return out


def test_box_score_descriptors_and_reference_read_back(source: Path, tmp_path: Path) -> None:
    path = sr.write_report(_result(), {"LCC": source}, tmp_path / "report.dcm")
    report = hd.sr.srread(path)
    (group,) = report.content.get_planar_roi_measurement_groups()
    # the box is clipped to the image (64 columns, 96 rows) and closed
    np.testing.assert_allclose(group.roi.value, [[10.5, 20], [40, 20], [40, 96], [10.5, 96], [10.5, 20]])
    assert group.roi.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == \
        hd.sr.srread(path).CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0] \
        .ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    values = {m.name.meaning: m.value for m in group.get_measurements()}
    assert values == {"Probability of cancer": pytest.approx(63.25), "IFN detection probability": pytest.approx(0.8123)}
    evaluations = {e.name.meaning: (e.value.scheme_designator, e.value.value) for e in group.get_qualitative_evaluations()}
    assert evaluations["Shape"] == ("SCT", "49608001")            # irregular, PS3.16 CID 6005
    assert evaluations["Mass margin"] == ("SCT", "129742005")     # spiculated, CID 6007
    assert evaluations["Mass density"] == ("SCT", "129744006")    # high density, CID 6009
    assert evaluations["BI-RADS assessment category"] == ("99MAMMO", "BIRADS4C")
    assert group.finding_type.value == "129788004"
    assert report.StudyInstanceUID == UIDS["StudyInstanceUID"]


def test_nothing_of_the_source_header_leaks_beyond_uids_and_the_patient_module(source: Path, tmp_path: Path) -> None:
    report = hd.sr.srread(sr.write_report(_result(), {"LCC": source}, tmp_path / "report.dcm"))
    text = "\n".join(_values(report))
    leaked = {k: v for k, v in SECRETS.items() if v in text or v.replace("^", " ") in text}
    assert leaked == {}
    assert (str(report.PatientName), report.PatientID, report.PatientBirthDate, report.PatientSex) == \
        (PATIENT_NAME, PATIENT_ID, "19670301", "F")
    for keyword in sr.EMPTY_STUDY_ATTRIBUTES:
        assert keyword in report and not report[keyword].value


def test_deidentified_report_has_an_empty_patient_module(source: Path, tmp_path: Path) -> None:
    report = hd.sr.srread(sr.write_report(_result(), {"LCC": source}, tmp_path / "report.dcm", deidentify=True))
    text = "\n".join(_values(report))
    assert PATIENT_ID not in text and "DOE" not in text and "19670301" not in text
    assert all(k in report and not report[k].value for k in sr.PATIENT_ATTRIBUTES)


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dciodvfy (dicom3tools) is not installed")
def test_dciodvfy_finds_no_error(source: Path, tmp_path: Path) -> None:
    for deidentify, masses in ((False, 1), (True, 1), (False, 0)):
        result = _result()
        result["masses"] = result["masses"][:masses]
        path = sr.write_report(result, {"LCC": source}, tmp_path / f"report-{deidentify}-{masses}.dcm",
                               deidentify=deidentify)
        out = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
        errors = [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("Error")]
        assert errors == [], errors


def _texts(report) -> dict[str, list[str]]:
    """TEXT items of the root's Qualitative Evaluations container, by concept name."""
    (container,) = [item for item in report.ContentSequence
                    if item.ConceptNameCodeSequence[0].CodeValue == sr.QUALITATIVE_EVALUATIONS.value]
    out: dict[str, list[str]] = {}
    for item in container.ContentSequence:
        assert item.ValueType == "TEXT"
        out.setdefault(item.ConceptNameCodeSequence[0].CodeMeaning, []).append(item.TextValue)
    return out


@pytest.mark.parametrize("masses", [1, 0])
def test_report_states_algorithm_intended_use_and_training_data(source: Path, tmp_path: Path, masses: int) -> None:
    result = _result()
    result["masses"] = result["masses"][:masses]
    models = result["models"]
    report = hd.sr.srread(sr.write_report(result, {"LCC": source}, tmp_path / "report.dcm"))
    texts = _texts(report)
    assert texts["Intended use"] == [models["intended_use"]]
    assert "not for clinical decisions" in texts["Intended use"][0]
    training = texts["Training data"]
    for role, text in zip(("detector", "classifier"), training):
        assert text.startswith(f"{role} {models[role]['name']} (sha256 {models[role]['sha256']})")
        assert all(stage["data"] in text for stage in models[role]["training_data"])
        if models[role]["synthetic_training_data_only"]:
            assert "synthetic images only" in text
    if models["synthetic_training_data_only"]:
        assert "synthetic (phantom) mammograms only" in texts["Intended use"][0]
    observer = {e.ConceptNameCodeSequence[0].CodeMeaning: e.get("TextValue") for e in report.ContentSequence
                if e.ValueType == "TEXT"}
    assert observer["Device Observer Model Name"] == models["software"]
    groups = report.content.get_planar_roi_measurement_groups()
    assert len(groups) == masses
    if not masses:  # one TID 1501 group says that none was detected, with the algorithm's identification
        groups = report.content.get_image_measurement_groups()
        assert [e.value.meaning for g in groups for e in g.get_qualitative_evaluations()] == [sr.NO_MASS.meaning]
    for group in groups:
        items = [(e.ConceptNameCodeSequence[0].CodeMeaning, e.TextValue) for e in group[0].ContentSequence
                 if e.ValueType == "TEXT"]
        assert ("Algorithm Name", f"{models['detector']['name']} + {models['classifier']['name']}") in items
        assert [v for k, v in items if k == "Algorithm Parameters"] == [
            f"{r} weights {models[r]['weights']} sha256 {models[r]['sha256']}" for r in ("detector", "classifier")]


@pytest.mark.skipif(shutil.which("dsrdump") is None, reason="dcmtk's dsrdump is not installed")
def test_dsrdump_reads_the_intended_use_and_training_data(source: Path, tmp_path: Path) -> None:
    result = _result()
    path = sr.write_report(result, {"LCC": source}, tmp_path / "report.dcm")
    out = subprocess.run(["dsrdump", "+Pl", str(path)], capture_output=True, text=True, check=True).stdout
    assert f'TEXT:(,,"Intended use")="{result["models"]["intended_use"]}"' in out
    assert out.count('TEXT:(,,"Training data")=') == 2
    for role in ("detector", "classifier"):
        assert result["models"][role]["sha256"] in out


def test_result_without_models_block_gets_no_sr(source: Path) -> None:
    from mammo_lib.errors import MammoError

    result = _result()
    del result["models"]
    with pytest.raises(MammoError, match="no models block"):
        sr.build_report(result, {"LCC": source})


def test_png_exam_gets_no_sr() -> None:
    from mammo_lib.errors import MammoError

    with pytest.raises(MammoError, match="no DICOM source images"):
        sr.build_report(_result(), {})
