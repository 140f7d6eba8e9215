"""``mammo reproduce --cohort``: a reproduction on a cohort that is not the twin (the hospital-style export and the
VinDr-Mammo fixture of tests/_cohorts.py), smoke-sized with the shipped weights, and the errors of a cross-cohort
join, a missing findings file and a wrong manifest path."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import _cohorts
from mammo_lib.paper import claims
from mammo_lib.run import pipeline
from mammo_lib.checksums import sha256_file
from mammo_lib.data.cohort import FINGERPRINT_COLUMN, WEIGHTS_COLUMN, exam_roles, read_cohort, twin_cohort
from mammo_lib.run.handoff import dl_outputs
from mammo_lib.data.adapters import vindr
from mammo_lib.errors import MammoError
from mammo_lib.paths import REPO_ROOT, weights_dir
from mammo_lib.vocab import DL_DETECTION_FILE, DL_SCORES_FILE

#: The notebooks run (02 is skipped: neither cohort is synthetic; on VinDr-Mammo, which has no pathology, 05 is
#: skipped and so are 07 and 11, which read 05's scores: they are not asked for).
HOSPITAL_NOTEBOOKS = ["02", "04", "05", "06", "07", "10", "11"]
VINDR_NOTEBOOKS = ["02", "04", "05", "06", "10", "11"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> _cohorts.Source:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return _cohorts.generate_source(tmp_path_factory.mktemp("generated"))


def _vindr_cohort(source: _cohorts.Source, root: Path) -> Path:
    layout = _cohorts.vindr_layout(source, root / "vindr-mammo")
    images, findings = vindr.to_manifest(layout / "breast-level_annotations.csv", layout / "finding_annotations.csv",
                                         metadata_csv=layout / "metadata.csv", data_root=layout, checksums=True)
    (root / "tables").mkdir()
    images.to_csv(root / "tables" / "data_manifest.csv", index=False)
    findings.to_csv(root / "tables" / "data_findings.csv", index=False)
    (root / "vindr.yaml").write_text("name: vindr-fixture\nmanifest: tables/data_manifest.csv\ndata_root: vindr-mammo\n"
                                     "allow_missing: [" + ", ".join(vindr.MISSING_FIELDS) + "]\n")
    return root / "vindr.yaml"


def _reproduce_and_check(cohort_file: Path, out: Path, only: list[str], statuses: list[str]) -> dict:
    run_dir = pipeline.reproduce("smoke", only=only, out=str(out), progress=False, cohort=cohort_file)
    record = json.loads((run_dir / "run.json").read_text())
    spec = read_cohort(cohort_file)
    assert record["status"] == "ok"
    assert record["cohort"]["name"] == spec.name and record["cohort"]["fingerprint"] == spec.fingerprint()
    assert [n["status"] for n in record["notebooks"]] == statuses
    plan = {step["notebook"]: step for step in pipeline.cohort_plan(spec)}  # what notebook 00 shows beforehand
    assert [{"runs": "ok"}.get(plan[n["notebook"][:-6]]["status"], "skipped") for n in record["notebooks"]] == statuses
    assert all(plan[n["notebook"][:-6]]["reason"] == n.get("reason", "") for n in record["notebooks"])
    assert "not synthetic" in record["notebooks"][0]["reason"]
    for name in ("table3.csv", "claims_scorecard.csv"):  # 06 and 10 made the cohort's own tables
        assert sha256_file(run_dir / "tables" / name) != sha256_file(REPO_ROOT / "tables" / name)
    for name, model in ((DL_DETECTION_FILE, "detection"), (DL_SCORES_FILE, "classification")):
        if not (run_dir / "tables" / name).is_file():  # its notebook was skipped, with the reason
            continue
        table = pd.read_csv(run_dir / "tables" / name, dtype={"mass_id": str})
        assert len(table) > 0 and set(table[FINGERPRINT_COLUMN]) == {spec.fingerprint()}
        assert set(table[WEIGHTS_COLUMN]) == {sha256_file(weights_dir() / f"{model}.safetensors")}
        assert sha256_file(run_dir / "tables" / name) != sha256_file(REPO_ROOT / "tables" / name)  # not the twin's
    # 06/07 read this run's outputs as this cohort's, and refuse them as another cohort's
    assert dl_outputs(run_dir / "tables", spec) is not None
    with pytest.raises(MammoError, match=rf"made on another cohort \(fingerprint {spec.fingerprint()}\), not on "
                                         rf"this one \(fingerprint {twin_cohort().fingerprint()}\)"):
        dl_outputs(run_dir / "tables", twin_cohort())
    return record


def _scorecard(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "tables" / "claims_scorecard.csv").set_index("claim_id")


def _dl_density_claim_is_the_cohorts(card: pd.DataFrame) -> None:
    """The DL density claim is scored on the cohort's own Table 3: tested, or (a few test masses, all detected)
    untestable for the DL system with the chi-square's reason, never the twin's verdict."""
    claim = card.loc["density_dl"]
    twin = _scorecard(REPO_ROOT).loc["density_dl"]
    # the statistic itself (chi-square, P, the per-stratum sensitivities) is the cohort's; the reason may agree
    assert (claim["why"], str(claim["reproduction"])) != (twin["why"], str(twin["reproduction"]))
    assert claim["verdict"] != claims.CANNOT or "cannot be tested for DL system: not testable" in claim["why"]


def test_reproduce_on_a_hospital_export_with_the_shipped_weights(source: _cohorts.Source, tmp_path: Path) -> None:
    cohort_file = _cohorts.hospital_export(source, tmp_path / "hospital")
    record = _reproduce_and_check(cohort_file, tmp_path / "run", HOSPITAL_NOTEBOOKS,
                                  ["skipped"] + ["ok"] * 6)
    # Table 4 of the hospital's test role: the DL row, and reader rows only for readers who read every mass
    table4 = pd.read_csv(tmp_path / "run" / "tables" / "table4.csv")
    # the system end to end, then the classifier on the reference boxes as a labelled secondary row (issue 34)
    assert table4["rater"].tolist() == ["dl", "dl_reference_boxes"]
    assert table4[["n_negative", "n_positive"]].iloc[0].tolist() == [2, 2]
    executed = (tmp_path / "run" / "executed" / "07_tables_and_roc.ipynb").read_text()
    assert "read only some of these masses: left out (DL-only rows)" in executed  # the readers read some masses
    assert "patient-clustered AUC CIs not computed" in executed  # two test patients: the bootstrap says why
    assert all(n["parameters"]["cohort"] == str(cohort_file.resolve()) for n in record["notebooks"][1:])
    # 10 scores the DL claims on the cohort's tables and says why the reader claims cannot be tested here
    card = _scorecard(tmp_path / "run")
    _dl_density_claim_is_the_cohorts(card)
    assert "no detections by Junior radiologist A, Junior radiologist B" in card.loc["density_juniors", "why"]
    # 11: the threshold's operating points on the cohort's own DL scores; the case browser names no study id
    sweep = pd.read_csv(tmp_path / "run" / "tables" / "threshold_operating_points.csv")
    assert len(sweep) > 0 and sweep["true_positive"].le(2).all() and sweep["true_negative"].le(2).all()
    teaching_nb = (tmp_path / "run" / "executed" / "11_teaching.ipynb").read_text()
    assert "study 1" in teaching_nb
    studies = pd.read_csv(cohort_file.parent / "hospital_manifest.csv")["study_id"].astype(str).unique()
    assert not [s for s in studies if s in teaching_nb]


def test_reproduce_on_the_vindr_fixture_with_a_relative_cohort_path(source: _cohorts.Source, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cohort_file = _vindr_cohort(source, tmp_path)
    monkeypatch.chdir(tmp_path)  # a relative path resolves against the caller's directory
    record = _reproduce_and_check(Path("vindr.yaml"), tmp_path / "run", VINDR_NOTEBOOKS,
                                  ["skipped", "ok", "skipped", "ok", "ok", "skipped"])
    assert "gives no pathology" in record["notebooks"][2]["reason"]  # VinDr-Mammo has BI-RADS, no pathology
    # Table 3 without the factors VinDr-Mammo does not record, and saying so
    table3 = pd.read_csv(tmp_path / "run" / "tables" / "table3.csv")
    assert set(table3["factor"]) == {"breast_density", "age_group", "birads"} and set(table3["detector"]) == {"dl"}
    executed = (tmp_path / "run" / "executed" / "06_density_stratified.ipynb").read_text()
    assert "left out of Table 3 (not recorded in this cohort): morphology, margin, mass_density" in executed
    card = _scorecard(tmp_path / "run")  # 10: the DL density claim on VinDr's Table 3; what VinDr lacks is named
    _dl_density_claim_is_the_cohorts(card)
    assert "does not record mass morphology" in card.loc["factor_morphology", "why"]
    assert "table4.csv is not in this run" in card.loc["auc_senior", "why"]
    assert "gives no pathology" in record["notebooks"][5]["reason"]  # 11 reads 05's scores


def test_reproduce_trains_the_detector_on_the_vindr_fixture_and_skips_the_classifier(source: _cohorts.Source,
                                                                                     tmp_path: Path) -> None:
    cohort_file = _vindr_cohort(source, tmp_path)
    cohort_file.write_text(cohort_file.read_text() + "weights: train\n")  # from scratch, on VinDr's training split
    spec = read_cohort(cohort_file)
    run_dir = pipeline.reproduce("smoke", only=["04", "05", "06", "09"], out=str(tmp_path / "run"), progress=False,
                                 cohort=cohort_file)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "ok" and [n["status"] for n in record["notebooks"]] == ["ok", "skipped", "ok", "ok"]
    trained = {r["model"]: r for r in record["training"]}
    assert trained["detection"]["status"] == "ok" and trained["classification"]["status"] == "skipped"
    assert "has no pathology" in trained["classification"]["reason"]  # VinDr-Mammo gives BI-RADS only
    weights = run_dir / "weights" / "detection.safetensors"
    roles = exam_roles(spec.load(check_files=False).images, spec)
    exams = pd.read_csv(run_dir / "weights" / "detection_exams.csv", dtype=str)
    assert len(exams) > 0 and not set(exams["study_id"]) & set(roles.index[roles == "test"])
    detections = pd.read_csv(run_dir / "tables" / DL_DETECTION_FILE, dtype={"mass_id": str})
    assert set(detections[WEIGHTS_COLUMN]) == {sha256_file(weights)}  # 04 ran the detector trained in this run
    summary = pd.read_csv(run_dir / "tables" / "training_weights.csv").set_index("model")
    assert summary.loc["detection", "weights"] == "train" and summary.loc["detection", "test_role_exams_used"] == 0


def test_notebook_02_describes_the_twin_only_even_for_another_synthetic_cohort(source: _cohorts.Source,
                                                                             tmp_path: Path) -> None:
    cohort_file = _cohorts.hospital_export(source, tmp_path / "hospital")
    cohort_file.write_text(cohort_file.read_text() + "synthetic: true\n")  # generated, but not the twin
    run_dir = pipeline.reproduce("smoke", only=["02"], out=str(tmp_path / "run"), progress=False, cohort=cohort_file)
    entry = json.loads((run_dir / "run.json").read_text())["notebooks"][0]
    assert entry["status"] == "skipped" and "synthetic but not the embedded twin" in entry["reason"]


def test_twin_outputs_are_refused_for_another_cohort(source: _cohorts.Source, tmp_path: Path) -> None:
    spec = read_cohort(_cohorts.hospital_export(source, tmp_path / "hospital"))
    with pytest.raises(MammoError, match=rf"{DL_DETECTION_FILE}: made on another cohort \(fingerprint "
                                         rf"{twin_cohort().fingerprint()}\), not on this one"):
        dl_outputs(REPO_ROOT / "tables", spec)  # the committed twin tables never stand in for another cohort


@pytest.mark.parametrize("key, value, message", [
    ("findings", "missing_findings.csv", r"cohort.yaml: findings: file .*missing_findings.csv does not exist"),
    ("manifest", "hospital_manifset.csv", r"cohort.yaml: manifest: file .*hospital_manifset.csv does not exist"),
])
def test_a_missing_findings_file_or_a_wrong_manifest_path_stops_the_run_before_it_starts(
        source: _cohorts.Source, tmp_path: Path, key: str, value: str, message: str) -> None:
    cohort_file = _cohorts.hospital_export(source, tmp_path / "hospital")
    text = cohort_file.read_text()
    start = text.index(f"{key}: ")
    cohort_file.write_text(text[:start] + f"{key}: {value}" + text[text.index("\n", start):])
    with pytest.raises(MammoError, match=message):
        pipeline.reproduce("smoke", only=HOSPITAL_NOTEBOOKS, out=str(tmp_path / "run"), progress=False,
                           cohort=cohort_file)
    assert not (tmp_path / "run").exists()


def test_a_thin_cohort_without_dense_breasts_and_one_malignant_mass_runs_to_the_end(source: _cohorts.Source,
                                                                                    tmp_path: Path) -> None:
    """Issue 32: a test role without a dense (c/d) breast and with fewer than 2 malignant masses. Notebook 04
    reports the empty density stratum with its reason, 07 is skipped with its reason, 11 gives the threshold's
    operating points without an AUC, saying why; the run ends ok."""
    cohort_file = _cohorts.hospital_export(source, tmp_path / "hospital")
    manifest_csv, findings_csv = cohort_file.parent / "hospital_manifest.csv", cohort_file.parent / "hospital_findings.csv"
    manifest = pd.read_csv(manifest_csv, dtype=str, keep_default_na=False)
    findings = pd.read_csv(findings_csv, dtype=str, keep_default_na=False)
    masses = findings.drop_duplicates("mass_id").merge(manifest[["image_id", "patient_id"]], on="image_id")
    classes = masses.groupby("patient_id")["pathology"].agg(lambda p: ((p == "positive").sum(), (p == "negative").sum()))
    thin = [p for p, (malignant, benign) in classes.items() if malignant == 1 and benign >= 1]
    assert thin, f"no fixture patient with one malignant and a benign mass: {classes.to_dict()}"
    manifest["split"] = np.where(manifest["patient_id"] == thin[0], "test", "train")
    manifest.loc[manifest["split"] == "test", "breast_density"] = "b"
    manifest.to_csv(manifest_csv, index=False)
    run_dir = pipeline.reproduce("smoke", only=["04", "05", "07", "11"], out=str(tmp_path / "run"), progress=False,
                                 cohort=cohort_file)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "ok"
    assert [n["status"] for n in record["notebooks"]] == ["ok", "ok", "skipped", "ok"]
    assert "fewer than 2 malignant or 2 benign masses" in record["notebooks"][2]["reason"]
    detection = (run_dir / "executed" / "04_detection.ipynb").read_text()
    assert "dense-breast masses: none (empty stratum: none of the evaluated exams is in it)" in detection
    assert "cohort_detected" in detection and "twin_detected" not in detection
    teaching_nb = (run_dir / "executed" / "11_teaching.ipynb").read_text()
    # the threshold view ran (no DeLong error); batch runs store it as HTML, where ">=" is escaped
    assert "DL row of Table 4 at score &gt;=" in teaching_nb or "DL row of Table 4 at score >=" in teaching_nb
    sweep = pd.read_csv(run_dir / "tables" / "threshold_operating_points.csv")
    assert sweep["auc"].isna().all() and sweep["sensitivity"].notna().all()
