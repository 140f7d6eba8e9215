"""Cohort files: validation naming the key, relative paths, fingerprints, the split guard, `mammo verify --cohort`,
and two cohorts that are not the twin (a hospital-style export and a VinDr-Mammo layout, tests/_cohorts.py)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import _cohorts
from mammo_lib import cli
from mammo_lib.checksums import sha256_file
from mammo_lib.data.cohort import (FINGERPRINT_COLUMN, TWIN_COHORT_FILE, exam_roles, read_cohort, training_exams,
                                   twin_cohort)
from mammo_lib.run.handoff import check_outputs_cohort, dl_candidates, join_outputs, stamp_outputs
from mammo_lib.data.adapters import vindr
from mammo_lib.data.dicomio import read_image
from mammo_lib.errors import MammoError
from mammo_lib.paths import REPO_ROOT
from mammo_lib.preprocess import preprocess_view
from mammo_lib.vocab import MANIFEST_COLUMNS
from mammo_lib.paper import detection as paper_detection


def _tables(folder: Path) -> Path:
    """A 3-patient manifest (train, val, test) without image files; returns the manifest."""
    rows = []
    for patient, split in (("A", "train"), ("B", "val"), ("C", "test")):
        for side in ("L", "R"):
            rows.append(dict(image_id=f"{patient}_{side}CC", patient_id=patient, study_id=f"S{patient}", age=50,
                             breast_density="b", laterality=side, view="CC", image_path=f"img/{patient}{side}.dcm",
                             vendor="GE", sha256="", split=split))
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS)).to_csv(folder / "m.csv", index=False)
    return folder / "m.csv"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- the file ---------------------------------------------------------------------------------------
def test_relative_paths_resolve_against_the_cohort_file_and_the_file_against_the_cwd(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tables(tmp_path / "site" / "tables")
    (tmp_path / "site" / "images").mkdir()
    _write(tmp_path / "site" / "c.yaml", "manifest: tables/m.csv\ndata_root: images\nallow_missing: [sha256]\n")
    monkeypatch.chdir(tmp_path)
    spec = read_cohort("site/c.yaml")
    assert spec.manifest == tmp_path / "site" / "tables" / "m.csv"
    assert spec.data_root == tmp_path / "site" / "images" and spec.source == tmp_path / "site" / "c.yaml"
    assert (spec.name, spec.weights, spec.allow_missing, spec.synthetic) == ("c", "shipped", ("sha256",), False)
    assert dict(spec.splits) == {"train": ("train",), "val": ("val",), "test": ("test",)}


@pytest.mark.parametrize(("text", "message"), [
    ("findings: f.csv\n", r"c.yaml: manifest: required"),
    ("manifest: m.csv\nmanifset: x\n", r"c.yaml: manifset: unknown key"),
    ("manifest: typo.csv\n", r"c.yaml: manifest: file .*typo.csv does not exist"),
    ("manifest: m.csv\nfindings: data_findings.csv\n", r"c.yaml: findings: file .*data_findings.csv does not exist"),
    ("manifest: m.csv\ndata_root: nowhere\n", r"c.yaml: data_root: folder .*nowhere does not exist"),
    ("manifest: m.csv\nallow_missing: [image_id]\n", r"c.yaml: allow_missing: 'image_id' must always be given"),
    ("manifest: m.csv\nsplits: {train: [train, test]}\n", r"c.yaml: splits: train: the manifest's test split is never"),
    ("manifest: m.csv\nsplits: {train: [train], val: [train]}\n", r"c.yaml: splits: split 'train' is given to train and val"),
    ("manifest: m.csv\nsplits: {fit: [train]}\n", r"c.yaml: splits: fit: unknown role"),
    ("manifest: m.csv\nsplits: {train: [training]}\n", r"c.yaml: splits: train: expected manifest splits"),
    ("manifest: m.csv\nweights: ./w\n", r"c.yaml: weights: folder .*w does not exist"),
    ("manifest: m.csv\nweights: 3\n", r"c.yaml: weights: expected shipped, train or a folder"),
    ("manifest: m.csv\nsynthetic: maybe\n", r"c.yaml: synthetic: expected true or false"),
    ("manifest: [m.csv\n", r"c.yaml: not valid YAML at line"),
    ("- manifest: m.csv\n", r"c.yaml: expected a mapping"),
])
def test_a_bad_cohort_file_is_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    _tables(tmp_path)
    with pytest.raises(MammoError, match=message) as caught:
        read_cohort(_write(tmp_path / "c.yaml", text))
    assert "\n" not in str(caught.value)


def test_a_weights_folder_needs_weights_with_their_model_cards(tmp_path: Path) -> None:
    _tables(tmp_path)
    (tmp_path / "w").mkdir()
    with pytest.raises(MammoError, match=r"weights: .* holds no <model>.safetensors with its <model>.json card"):
        read_cohort(_write(tmp_path / "c.yaml", "manifest: m.csv\nweights: w\n"))
    (tmp_path / "w" / "detection.safetensors").write_bytes(b"x")
    (tmp_path / "w" / "detection.json").write_text("{}")
    assert read_cohort(tmp_path / "c.yaml").weights == tmp_path / "w"


def test_the_twin_is_a_cohort_file(tmp_path: Path) -> None:
    spec = twin_cohort()
    assert spec.source == TWIN_COHORT_FILE and spec.synthetic and spec.weights == "shipped"
    assert spec.manifest == REPO_ROOT / "data_manifest.csv" and spec.findings == REPO_ROOT / "data_findings.csv"
    assert spec.data_root is not None and spec.data_root.name == "twin"  # under {data}, generated on demand
    assert spec.fingerprint() == sha256_file(REPO_ROOT / "data_manifest.csv")
    assert read_cohort("twin") == spec
    cohort = spec.load(check_files=False)
    assert set(exam_roles(cohort.images, spec)) == {"test"} and training_exams(cohort.images, spec) == []


# --- the split guard --------------------------------------------------------------------------------
def test_the_split_guard_gives_training_exams_and_refuses_test_exams(tmp_path: Path) -> None:
    _tables(tmp_path)
    spec = read_cohort(_write(tmp_path / "c.yaml", "manifest: m.csv\nallow_missing: [sha256]\n"))
    images = spec.load(check_files=False).images
    assert exam_roles(images, spec).to_dict() == {"SA": "train", "SB": "val", "SC": "test"}
    assert training_exams(images, spec) == ["SA"] and training_exams(images, spec, role="val") == ["SB"]
    assert training_exams(images, spec, ["SA"]) == ["SA"]
    with pytest.raises(MammoError, match=r"study_id 'SC' belongs to the test role of cohort 'c'.*never trained on"):
        training_exams(images, spec, ["SA", "SC"])
    with pytest.raises(MammoError, match=r"role: expected train or val"):
        training_exams(images, spec, role="test")
    # a cohort may train on val too; a split no role names, and a missing split, are evaluation-only
    spec = read_cohort(_write(tmp_path / "c.yaml", "manifest: m.csv\nallow_missing: [sha256, split]\n"
                              "splits: {train: [train, val]}\n"))
    assert training_exams(images, spec) == ["SA", "SB"] and training_exams(images, spec, role="val") == []
    blank = images.assign(split=images["split"].where(images["study_id"] != "SA", None))
    assert exam_roles(blank, spec)["SA"] == "test"


# --- fingerprints -----------------------------------------------------------------------------------
def test_dl_outputs_of_another_cohort_are_refused_naming_both_fingerprints(tmp_path: Path) -> None:
    _tables(tmp_path)
    spec = read_cohort(_write(tmp_path / "c.yaml", "manifest: m.csv\n"))
    twin = twin_cohort().fingerprint()
    masses = pd.DataFrame({"mass_id": ["M1", "M2"], "pathology": ["positive", "negative"]})
    outputs = pd.DataFrame({"mass_id": ["M1", "M2"], "dl_score": [91.0, 12.0]})
    joined = join_outputs(masses, stamp_outputs(outputs, spec), spec)
    assert joined["dl_score"].tolist() == [91.0, 12.0] and FINGERPRINT_COLUMN not in joined
    with pytest.raises(MammoError) as caught:
        join_outputs(masses, stamp_outputs(outputs, twin), spec, source="dl_scores_per_mass.csv")
    text = str(caught.value)
    assert text.startswith("dl_scores_per_mass.csv: made on another cohort") and "\n" not in text
    assert twin in text and spec.fingerprint() in text
    with pytest.raises(MammoError, match=rf"lacks column\(s\) \['{FINGERPRINT_COLUMN}'\].*not shown to be of this cohort"):
        check_outputs_cohort(outputs, spec)


def test_candidate_boxes_of_another_cohort_are_refused(tmp_path: Path) -> None:
    _tables(tmp_path)
    spec = read_cohort(_write(tmp_path / "c.yaml", "manifest: m.csv\n"))
    boxes = pd.DataFrame({"study_id": ["SA", "SA"], "image_id": ["A_LCC", "A_RCC"], "branch": "ifn", "x0": 1.0,
                          "y0": 1.0, "x1": 5.0, "y1": 5.0, "score": [0.9, 0.2]})
    tables_dir = tmp_path / "tables"
    with pytest.raises(MammoError, match="dl_detection_candidates.csv is not in .*run notebook 04 on this cohort first"):
        dl_candidates(tables_dir, spec)
    tables_dir.mkdir()
    stamp_outputs(boxes, spec).to_csv(tables_dir / "dl_detection_candidates.csv", index=False)
    back = dl_candidates(tables_dir, spec)
    assert back["image_id"].tolist() == ["A_LCC", "A_RCC"] and FINGERPRINT_COLUMN not in back
    stamp_outputs(boxes, twin_cohort()).to_csv(tables_dir / "dl_detection_candidates.csv", index=False)
    with pytest.raises(MammoError, match="^dl_detection_candidates.csv: made on another cohort"):
        dl_candidates(tables_dir, spec)


# --- mammo verify --cohort --------------------------------------------------------------------------
def test_verify_cohort_checks_the_file_and_refuses_mixed_arguments(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _tables(tmp_path)
    _write(tmp_path / "c.yaml", "manifest: m.csv\nallow_missing: [sha256]\nweights: train\n")
    assert cli.main(["verify", "--cohort", str(tmp_path / "c.yaml"), "--no-files"]) == 1
    assert "problem: weights: train, but the cohort has no findings table" in capsys.readouterr().out
    _write(tmp_path / "c.yaml", "manifest: m.csv\nallow_missing: [sha256]\n")
    assert cli.main(["verify", "--cohort", str(tmp_path / "c.yaml"), "--no-files"]) == 0
    out = capsys.readouterr().out
    assert "cohort c (" in out and "ok (without findings table)" in out and "train splits train" in out
    assert cli.main(["verify", "--cohort", str(tmp_path / "c.yaml")]) == 1  # the image files are not there
    assert "file does not exist under" in capsys.readouterr().out
    _write(tmp_path / "c.yaml", "manifest: m.csv\nallow_missing: [sha256]\nweights: train\nsplits: {train: []}\n")
    assert cli.main(["verify", "--cohort", str(tmp_path / "c.yaml"), "--no-files"]) == 1
    assert "problem: weights: train, but no exam is in the train splits" in capsys.readouterr().out
    assert cli.main(["verify", "--cohort", str(tmp_path / "c.yaml"), str(tmp_path / "m.csv")]) == 2
    assert "give either --cohort or MANIFEST" in capsys.readouterr().err
    assert cli.main(["verify", "--cohort", str(tmp_path / "nope.yaml")]) == 2
    assert "nope.yaml: cohort file does not exist" in capsys.readouterr().err


# --- cohorts that are not the twin ------------------------------------------------------------------
@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> _cohorts.Source:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return _cohorts.generate_source(tmp_path_factory.mktemp("generated"))


def test_a_hospital_export_verifies_through_its_cohort_file(source: _cohorts.Source, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    cohort_file = _cohorts.hospital_export(source, tmp_path / "hospital")
    assert cli.main(["verify", "--cohort", str(cohort_file), "--checksums"]) == 0
    assert "ok (with findings table, checksums verified)" in capsys.readouterr().out
    spec = read_cohort(cohort_file)
    cohort = spec.load(check_checksums=True)
    assert spec.fingerprint() != twin_cohort().fingerprint()
    paths = cohort.images["image_path"]
    assert paths.str.startswith("export/2019-").all() and paths.str.endswith(".DCM").all()
    roles = exam_roles(cohort.images, spec)
    assert roles.value_counts().to_dict() == {r: _cohorts.HOSPITAL_SPLITS.count(r) for r in ("train", "val", "test")}
    masses = cohort.masses()
    read = masses["senior_birads"].notna()
    assert 0 < read.sum() < len(masses) and masses.loc[~read, "junior_a_detected"].isna().all()
    # no test exam can be trained on: the guard gives train exams only and refuses every test exam
    train = training_exams(cohort.images, spec)
    assert len(train) == _cohorts.HOSPITAL_SPLITS.count("train") and not set(train) & set(roles.index[roles == "test"])
    for study in roles.index[roles == "test"]:
        with pytest.raises(MammoError, match="belongs to the test role"):
            training_exams(cohort.images, spec, [*train, study])
    # the renamed files in their nested folders are read and preprocessed by the manifest's labels
    first = cohort.images.iloc[0]
    view = preprocess_view(read_image(cohort.image_path(first["image_id"]), laterality=first["laterality"],
                                      view=first["view"]), size=128)
    assert view.array.shape == (128, 128) and view.laterality == first["laterality"]
    # without its allow_missing the partial readings are the problems, and the hint names the columns
    cohort_file.write_text(cohort_file.read_text().replace("allow_missing:", "# allow_missing:"))
    assert cli.main(["verify", "--cohort", str(cohort_file)]) == 1
    assert "pass --allow-missing junior_a_birads junior_a_detected" in capsys.readouterr().out


def test_a_vindr_layout_verifies_through_the_adapter_and_a_cohort_file(source: _cohorts.Source, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    root = _cohorts.vindr_layout(source, tmp_path / "vindr-mammo")
    images, findings = vindr.to_manifest(root / "breast-level_annotations.csv", root / "finding_annotations.csv",
                                         metadata_csv=root / "metadata.csv", data_root=root, checksums=True)
    (tmp_path / "tables").mkdir()
    images.to_csv(tmp_path / "tables" / "data_manifest.csv", index=False)
    findings.to_csv(tmp_path / "tables" / "data_findings.csv", index=False)
    _write(tmp_path / "vindr.yaml", "name: vindr-fixture\nmanifest: tables/data_manifest.csv\n"
           "data_root: vindr-mammo\nallow_missing: [" + ", ".join(vindr.MISSING_FIELDS) + "]\n")
    assert cli.main(["verify", "--cohort", str(tmp_path / "vindr.yaml"), "--checksums"]) == 0
    assert "ok (with findings table, checksums verified)" in capsys.readouterr().out
    spec = read_cohort(tmp_path / "vindr.yaml")
    cohort = spec.load()
    assert len(cohort.images) == len(source.manifest) and cohort.images["image_path"].str.match(
        r"images/[0-9a-f]{32}/[0-9a-f]{32}\.dicom").all()
    assert cohort.images["age"].tolist() == source.manifest["age"].tolist()
    assert len(cohort.findings) == len(source.findings)  # every mass view; 'No Finding' rows are not masses
    assert cohort.findings[["x0", "y0", "x1", "y1"]].to_numpy().tolist() == \
        source.findings[["x0", "y0", "x1", "y1"]].to_numpy().tolist()
    last = cohort.images.iloc[-1]
    assert read_image(cohort.image_path(last["image_id"]), laterality=last["laterality"],
                      view=last["view"]).pixels.ndim == 2
    roles = exam_roles(cohort.images, spec).value_counts().to_dict()
    assert roles == {"train": _cohorts.N_PATIENTS - _cohorts.VINDR_TEST, "test": _cohorts.VINDR_TEST}
    assert spec.fingerprint() != twin_cohort().fingerprint()


def test_a_users_cohort_is_never_called_the_twin_in_titles_or_columns(tmp_path: Path) -> None:
    from mammo_lib.evaluation import detection
    from mammo_lib.data.cohort import is_twin

    _tables(tmp_path)
    spec = read_cohort(_write(tmp_path / "c.yaml", "name: my-hospital\nmanifest: m.csv\n"))
    twin = twin_cohort()
    assert (paper_detection.cohort_title(spec.name, is_twin(spec)), paper_detection.results_label(is_twin(spec))) == (
        "cohort my-hospital", "cohort")
    assert (paper_detection.cohort_title(twin.name, is_twin(twin)), paper_detection.results_label(is_twin(twin))) == ("the twin", "twin")
    sensitivity = pd.DataFrame({"branch": ["ifn"], "criterion": ["centre"], "detected": [3], "total": [4]})
    by_density = detection.sensitivity_by_group(pd.Series([True, True, False, True]), pd.Series(["a", "b", "b", "c"]),
                                               ("a", "b", "c", "d")).assign(branch="ifn")
    table = paper_detection.detection_versus_paper(sensitivity, by_density, label=paper_detection.results_label(is_twin(spec)))
    assert list(table.columns[-3:]) == ["cohort_detected", "cohort_total", "cohort_percent"]
    assert table["cohort_total"].tolist() == [4, 1, 0]  # density d: an empty stratum, no percent
    assert table["cohort_percent"].iloc[:2].tolist() == [75.0, 100.0] and np.isnan(table["cohort_percent"].iloc[2])
