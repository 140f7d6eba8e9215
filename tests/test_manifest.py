"""The manifest: typed loading, every problem reported at once with its row, `mammo verify`."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mammo_lib import cli
from mammo_lib.checksums import sha256_bytes
from mammo_lib.errors import MammoError
from mammo_lib.data.manifest import ManifestError, load_manifest, validate_findings, validate_images
from mammo_lib.vocab import FINDINGS_COLUMNS, MANIFEST_COLUMNS


def _cohort_tables(root: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two patients: P1 with a 4-view exam and one mass seen on RCC+RMLO, P2 with a left CC+MLO pair."""
    images, findings = [], []
    exams = [("P1", "S1", 45, "c", "train", "Siemens", ("R", "L")), ("P2", "S2", 61, "d", "test", "GE", ("L",))]
    for patient, study, age, density, split, vendor, sides in exams:
        for side in sides:
            for view in ("CC", "MLO"):
                image_id = f"{study}_{side}{view}"
                content = image_id.encode()
                (root / "img").mkdir(exist_ok=True)
                (root / "img" / f"{image_id}.dcm").write_bytes(content)
                images.append(dict(image_id=image_id, patient_id=patient, study_id=study, age=age,
                                   breast_density=density, laterality=side, view=view,
                                   image_path=f"img/{image_id}.dcm", vendor=vendor, sha256=sha256_bytes(content),
                                   split=split))
    mass = dict(morphology="oval", margin="obscured", mass_density="equal", birads="4A", pathology="positive",
                histology="invasive ductal carcinoma", reference_standard="histopathology", mask_path="",
                junior_a_detected="yes", junior_a_birads="3", junior_b_detected="no", junior_b_birads="4A",
                senior_birads="4B")
    findings.append(dict(mass_id="M1", image_id="S1_RCC", x0=10, y0=20, x1=40, y1=50, size_mm=12.0, **mass))
    findings.append(dict(mass_id="M1", image_id="S1_RMLO", x0=12, y0=30, x1=44, y1=61, size_mm=14.5, **mass))
    benign = dict(mass, morphology="round", margin="circumscribed", birads="3", pathology="negative",
                  histology="stable follow-up", reference_standard="follow-up", junior_a_detected="true",
                  junior_b_detected="false")
    findings.append(dict(mass_id="M2", image_id="S2_LCC", x0=0, y0=0, x1=5, y1=5, size_mm=6.0, **benign))
    return pd.DataFrame(images), pd.DataFrame(findings)


@pytest.fixture()
def cohort_dir(tmp_path: Path) -> Path:
    images, findings = _cohort_tables(tmp_path)
    images.to_csv(tmp_path / "data_manifest.csv", index=False)
    findings.to_csv(tmp_path / "data_findings.csv", index=False)
    return tmp_path


def _rewrite(path: Path, edit) -> None:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(table)
    table.to_csv(path, index=False)


def test_valid_cohort_loads_typed_with_ordered_categoricals(cohort_dir: Path) -> None:
    cohort = load_manifest(cohort_dir / "data_manifest.csv", check_checksums=True)
    assert list(cohort.images.columns[: len(MANIFEST_COLUMNS)]) == list(MANIFEST_COLUMNS)
    assert cohort.images["age"].dtype == "int64"
    assert list(cohort.images["breast_density"].cat.categories) == ["a", "b", "c", "d"]
    assert cohort.images["breast_density"].cat.ordered
    assert cohort.findings is not None and cohort.findings["x1"].dtype == "int64"
    assert cohort.findings["junior_b_detected"].tolist() == [False, False, False]
    assert cohort.findings["junior_a_detected"].tolist() == [True, True, True]
    assert cohort.image_path("S2_LMLO") == (cohort_dir / "img" / "S2_LMLO.dcm").resolve()


def test_masses_has_one_row_per_mass_with_patient_features_and_largest_size(cohort_dir: Path) -> None:
    masses = load_manifest(cohort_dir / "data_manifest.csv").masses()
    assert masses["mass_id"].tolist() == ["M1", "M2"]
    m1 = masses.set_index("mass_id").loc["M1"]
    assert (m1["age"], m1["breast_density"], m1["laterality"], m1["n_views"], m1["views"]) == (45, "c", "R", 2, "CC+MLO")
    assert m1["size_mm"] == 14.5
    assert m1["senior_birads"] == "4B" and bool(m1["junior_a_detected"]) is True
    assert list(masses["margin"].cat.categories)[0] == "circumscribed"


def test_every_problem_is_reported_at_once_with_row_numbers(cohort_dir: Path) -> None:
    def break_images(t: pd.DataFrame) -> None:
        t.loc[0, "breast_density"] = "e"      # unknown code, row 2
        t.loc[2, "age"] = "twelve"            # not a number, row 4
        t.loc[3, "view"] = "ML"               # non-standard view, row 5

    def break_findings(t: pd.DataFrame) -> None:
        t.loc[0, "margin"] = "fuzzy"          # row 2
        t.loc[2, "image_id"] = "NOPE"         # row 4

    _rewrite(cohort_dir / "data_manifest.csv", break_images)
    _rewrite(cohort_dir / "data_findings.csv", break_findings)
    with pytest.raises(ManifestError) as exc:
        load_manifest(cohort_dir / "data_manifest.csv")
    problems = exc.value.problems
    assert "data_manifest.csv row 2: breast_density: unknown code, expected one of ['a', 'b', 'c', 'd'] ('e')" in problems
    assert "data_manifest.csv row 4: age: expected whole years 18-110 ('twelve')" in problems
    assert any(p.startswith("data_manifest.csv row 5: view: unknown code") and "('ML')" in p for p in problems)
    assert any(p.startswith("data_findings.csv row 2: margin: unknown code") and "('fuzzy')" in p for p in problems)
    assert "data_findings.csv row 4: image_id: not in the manifest ('NOPE')" in problems
    assert len(problems) == 5
    assert str(exc.value).startswith("5 problems in the manifest")


def test_missing_required_columns_are_named(cohort_dir: Path) -> None:
    _rewrite(cohort_dir / "data_manifest.csv", lambda t: [t.pop("sha256"), t.pop("split")])
    with pytest.raises(ManifestError) as exc:
        load_manifest(cohort_dir / "data_manifest.csv")
    assert exc.value.problems[:2] == ["data_manifest.csv: sha256: missing required column",
                                      "data_manifest.csv: split: missing required column"]


def test_duplicate_image_ids_name_all_their_rows(cohort_dir: Path) -> None:
    _rewrite(cohort_dir / "data_manifest.csv", lambda t: t.__setitem__("image_id", ["A", "B", "A", "C", "D", "E"]))
    with pytest.raises(ManifestError) as exc:
        load_manifest(cohort_dir / "data_manifest.csv", check_files=False)
    assert "data_manifest.csv row 2: image_id: duplicate, also on rows 2, 4 ('A')" in exc.value.problems


def test_two_rows_naming_one_file_are_refused(cohort_dir: Path) -> None:
    def edit(t: pd.DataFrame) -> None:
        t.loc[1, "image_path"] = "img/S1_RCC.dcm"

    _rewrite(cohort_dir / "data_manifest.csv", edit)
    with pytest.raises(ManifestError) as exc:
        load_manifest(cohort_dir / "data_manifest.csv")
    assert exc.value.problems == ["data_manifest.csv row 2: image_path: duplicate, also on rows 2, 3 ('img/S1_RCC.dcm')"]


def test_missing_file_and_checksum_mismatch_are_errors(cohort_dir: Path) -> None:
    (cohort_dir / "img" / "S1_LCC.dcm").unlink()
    (cohort_dir / "img" / "S1_RCC.dcm").write_bytes(b"tampered")
    with pytest.raises(ManifestError) as exc:
        load_manifest(cohort_dir / "data_manifest.csv", check_checksums=True)
    problems = exc.value.problems
    assert any(p.startswith("data_manifest.csv row 4: image_path: file does not exist under") for p in problems)
    assert any(p.startswith("data_manifest.csv row 2: sha256: checksum mismatch: img/S1_RCC.dcm has sha256 ")
               for p in problems)
    assert len(problems) == 2


def test_checksums_are_not_read_unless_asked(cohort_dir: Path) -> None:
    (cohort_dir / "img" / "S1_RCC.dcm").write_bytes(b"tampered")
    assert len(load_manifest(cohort_dir / "data_manifest.csv").images) == 6


def test_study_level_fields_must_agree_and_a_patient_stays_in_one_split(cohort_dir: Path) -> None:
    def edit(t: pd.DataFrame) -> None:
        t.loc[1, "age"] = "46"
        t.loc[5, "split"] = "train"

    _rewrite(cohort_dir / "data_manifest.csv", edit)
    with pytest.raises(ManifestError) as exc:
        load_manifest(cohort_dir / "data_manifest.csv")
    problems = exc.value.problems
    assert "data_manifest.csv row 2: age: differs between the rows of study 'S1' (rows 2, 3, 4, 5) (['45', '46'])" in problems
    assert any(p.startswith("data_manifest.csv row 6: split: differs between the rows of patient 'P2'") for p in problems)


def test_mass_level_fields_and_readers_must_agree_across_views(cohort_dir: Path) -> None:
    def edit(t: pd.DataFrame) -> None:
        t.loc[1, "birads"] = "5"
        t.loc[1, "junior_a_detected"] = "no"

    _rewrite(cohort_dir / "data_findings.csv", edit)
    with pytest.raises(ManifestError) as exc:
        load_manifest(cohort_dir / "data_manifest.csv")
    assert exc.value.problems == [
        "data_findings.csv row 2: birads: differs between the rows of mass 'M1' (rows 2, 3) (['4A', '5'])",
        "data_findings.csv row 2: junior_a_detected: differs between the rows of mass 'M1' (rows 2, 3) (['no', 'yes'])",
    ]


def test_a_mass_on_two_breasts_is_refused(cohort_dir: Path) -> None:
    _rewrite(cohort_dir / "data_findings.csv", lambda t: t.__setitem__("image_id", ["S1_RCC", "S1_LMLO", "S2_LCC"]))
    with pytest.raises(ManifestError) as exc:
        load_manifest(cohort_dir / "data_manifest.csv")
    assert exc.value.problems == ["data_findings.csv row 2: breast: differs between the rows of mass 'M1' "
                                  "(rows 2, 3) (['S1 L', 'S1 R'])"]


def test_box_size_histology_and_reader_values_are_checked(cohort_dir: Path) -> None:
    def edit(t: pd.DataFrame) -> None:
        t.loc[2, "x1"] = "0"                       # x1 <= x0
        t.loc[2, "y0"] = "2.5"                     # not a whole pixel
        t.loc[2, "size_mm"] = "NaN"
        t.loc[2, "histology"] = "fibroadenoma"     # follow-up must be stable follow-up
        t.loc[2, "junior_b_detected"] = "maybe"
        t.loc[2, "senior_birads"] = "6"

    _rewrite(cohort_dir / "data_findings.csv", edit)
    with pytest.raises(ManifestError) as exc:
        load_manifest(cohort_dir / "data_manifest.csv")
    problems = exc.value.problems
    expected_starts = [
        "data_findings.csv row 4: x1: must be greater than x0 ('0')",
        "data_findings.csv row 4: y0: expected a whole, non-negative pixel coordinate ('2.5')",
        "data_findings.csv row 4: size_mm: expected a positive number of mm ('NaN')",
        "data_findings.csv row 4: histology: reference_standard is follow-up, so histology must be 'stable follow-up' ('fibroadenoma')",
        "data_findings.csv row 4: junior_b_detected: expected one of ['false', 'no', 'true', 'yes'] ('maybe')",
        "data_findings.csv row 4: senior_birads: unknown code",
    ]
    for start in expected_starts:
        assert any(p.startswith(start) for p in problems), start
    assert len(problems) == len(expected_starts)


def test_positive_histology_on_a_negative_mass_is_refused(tmp_path: Path) -> None:
    images, findings = _cohort_tables(tmp_path)
    findings.loc[0:1, "pathology"] = "negative"
    with pytest.raises(ManifestError) as exc:
        validate_findings(findings, validate_images(images))
    assert exc.value.problems == [
        f"data_findings.csv row {row}: histology: a positive (malignant or high-risk) histology on a negative mass "
        "('invasive ductal carcinoma')" for row in (2, 3)
    ]


def test_validators_work_on_dataframes_without_files(tmp_path: Path) -> None:
    images, findings = _cohort_tables(tmp_path)
    typed = validate_images(images)
    assert typed["laterality"].dtype == "category"
    findings.loc[2, "pathology"] = "positive"   # follow-up with positive pathology and a negative histology
    with pytest.raises(ManifestError) as exc:
        validate_findings(findings, typed)
    assert exc.value.problems == ["data_findings.csv row 4: histology: a negative histology on a positive mass "
                                  "('stable follow-up')"]
    assert isinstance(exc.value, MammoError)
    assert list(validate_findings(findings.drop(index=2), typed).columns[: len(FINDINGS_COLUMNS)]) == list(FINDINGS_COLUMNS)


def test_an_unreadable_table_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "data_manifest.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(MammoError, match="data_manifest.csv"):
        load_manifest(tmp_path / "data_manifest.csv")
    with pytest.raises(MammoError, match="does not exist"):
        load_manifest(tmp_path / "absent.csv")


def test_verify_prints_a_summary_or_every_problem(cohort_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["verify", str(cohort_dir / "data_manifest.csv"), "--checksums"]) == 0
    out = capsys.readouterr().out
    assert "ok (with findings table, checksums verified)" in out
    lines = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert lines["train"] == ["4", "1", "1", "1"] and lines["test"] == ["2", "1", "1", "1"]
    assert lines["all"] == ["6", "2", "2", "2"]
    _rewrite(cohort_dir / "data_manifest.csv", lambda t: t.__setitem__("vendor", ["Siemens"] * 5 + ["Acme"]))
    assert cli.main(["verify", str(cohort_dir / "data_manifest.csv")]) == 1
    out = capsys.readouterr().out
    assert "1 problem(s)" in out and "row 7: vendor: unknown code" in out


def test_allow_missing_accepts_empty_values_of_the_named_columns_only(tmp_path: Path) -> None:
    images, findings = _cohort_tables(tmp_path)
    images["age"], images["sha256"] = "", ""
    findings[["x0", "y0", "x1", "y1", "margin"]] = ""
    with pytest.raises(ManifestError) as exc:
        validate_images(images)
    assert len(exc.value.problems) == 12  # 6 ages + 6 checksums
    typed = validate_images(images, allow_missing=["age", "sha256"])
    assert typed["age"].isna().all() and str(typed["age"].dtype) == "Int64"
    loose = validate_findings(findings, typed, allow_missing=["x0", "y0", "x1", "y1", "margin"])
    assert loose["x0"].isna().all() and loose["margin"].isna().all()
    with pytest.raises(MammoError, match=r"allow_missing: \['image_id'\] must always be given"):
        validate_images(images, allow_missing=["image_id"])
    with pytest.raises(MammoError, match="check_files/check_checksums need data_root"):
        validate_images(images, check_files=True, allow_missing=["age", "sha256"])


def test_cohort_overview_counts_patients_ages_and_reference_standards(cohort_dir: Path) -> None:
    from mammo_lib.data.manifest import cohort_overview

    overview = cohort_overview(load_manifest(cohort_dir / "data_manifest.csv"))
    assert overview["patients"] == 2 and overview["masses"] == 2
    assert overview["age_mean"] == 53.0 and overview["age_sd"] == pytest.approx(11.31, abs=0.01)  # sd of 45, 61
    assert (overview["age_min"], overview["age_max"]) == (45, 61)
    assert (overview["histopathology_masses"], overview["follow_up_masses"]) == (1, 1)


def test_a_box_outside_its_image_is_an_error_when_files_are_checked(tmp_path: Path) -> None:
    from _mg_fixtures import make_mg, ramp

    from mammo_lib.checksums import sha256_file

    images, findings = _cohort_tables(tmp_path)
    for record in images.itertuples():  # real 64 x 60 (rows x columns) DICOMs in place of the byte stubs
        make_mg(tmp_path / record.image_path, ramp(12, shape=(64, 60)), bits_stored=12,
                ImageLaterality=record.laterality, ViewPosition=record.view)
    images["sha256"] = [sha256_file(tmp_path / p) for p in images["image_path"]]
    findings.loc[1, ["x1", "y1"]] = [61, 64]   # one column too far; y1 = 64 is the exclusive edge, inside
    typed = validate_images(images, data_root=tmp_path, check_files=True, check_checksums=True)
    with pytest.raises(ManifestError) as exc:
        validate_findings(findings, typed, data_root=tmp_path, check_files=True)
    assert exc.value.problems == ["data_findings.csv row 3: x1: box outside the image, wider than its columns "
                                  "('61 > 60')"]
    assert len(validate_findings(findings, typed)) == 3  # without files nothing is known about sizes


def test_verify_accepts_the_columns_named_by_allow_missing(cohort_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _rewrite(cohort_dir / "data_manifest.csv", lambda t: t.__setitem__("age", ""))
    assert cli.main(["verify", str(cohort_dir / "data_manifest.csv")]) == 1
    assert "6 problem(s)" in capsys.readouterr().out
    assert cli.main(["verify", str(cohort_dir / "data_manifest.csv"), "--allow-missing", "age", "split"]) == 0
    assert cli.main(["verify", str(cohort_dir / "data_manifest.csv"), "--allow-missing", "image_id"]) == 2
    assert "must always be given" in capsys.readouterr().err


def test_reader_columns_may_be_empty_for_unread_masses_when_allowed(cohort_dir: Path) -> None:
    def unread_m2(table: pd.DataFrame) -> None:
        table.loc[table["mass_id"] == "M2", ["junior_a_detected", "junior_a_birads"]] = ""

    _rewrite(cohort_dir / "data_findings.csv", unread_m2)
    with pytest.raises(ManifestError) as exc:
        load_manifest(cohort_dir / "data_manifest.csv")
    assert exc.value.problems == [
        "data_findings.csv row 4: junior_a_detected: expected one of ['false', 'no', 'true', 'yes'] ('')",
        "data_findings.csv row 4: junior_a_birads: missing value ('')"]
    assert "pass --allow-missing junior_a_birads junior_a_detected" in exc.value.hint
    cohort = load_manifest(cohort_dir / "data_manifest.csv", allow_missing=["junior_a_detected", "junior_a_birads"])
    assert cohort.findings["junior_a_detected"].dtype == "boolean"
    masses = cohort.masses().set_index("mass_id")
    assert bool(masses.at["M1", "junior_a_detected"]) is True and pd.isna(masses.at["M2", "junior_a_detected"])
    assert pd.isna(masses.at["M2", "junior_a_birads"]) and cohort.findings["junior_b_detected"].dtype == bool


def test_one_file_spelled_two_ways_is_a_duplicate(cohort_dir: Path) -> None:
    def edit(t: pd.DataFrame) -> None:
        t.loc[1, "image_path"] = "./img/S1_RCC.dcm"
        t.loc[3, "image_path"] = "img//S1_LCC.dcm"
        t.loc[2, "image_path"] = "img/S1_LCC.dcm"

    _rewrite(cohort_dir / "data_manifest.csv", edit)
    with pytest.raises(ManifestError) as exc:
        load_manifest(cohort_dir / "data_manifest.csv")
    assert exc.value.problems == [
        "data_manifest.csv row 2: image_path: duplicate, also on rows 2, 3 ('img/S1_RCC.dcm', './img/S1_RCC.dcm': "
        "one file, spelled differently)",
        "data_manifest.csv row 4: image_path: duplicate, also on rows 4, 5 ('img/S1_LCC.dcm', 'img//S1_LCC.dcm': "
        "one file, spelled differently)"]


def test_a_byte_identical_copy_under_another_patient_is_reported(cohort_dir: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    copy = (cohort_dir / "img" / "S1_LCC.dcm").read_bytes()
    (cohort_dir / "img" / "S2_LCC.dcm").write_bytes(copy)
    _rewrite(cohort_dir / "data_manifest.csv", lambda t: t.__setitem__("sha256", [*t["sha256"][:4], sha256_bytes(copy),
                                                                                  t["sha256"][5]]))
    assert cli.main(["verify", str(cohort_dir / "data_manifest.csv"), "--checksums"]) == 1
    out = capsys.readouterr().out
    assert (f"data_manifest.csv row 4: sha256: the same file content under patients P1, P2 (rows 4, 6) "
            f"({sha256_bytes(copy)[:12]}...)") in out


def test_windows_backslashes_are_named_as_the_cause(cohort_dir: Path) -> None:
    _rewrite(cohort_dir / "data_manifest.csv",
             lambda t: t.__setitem__("image_path", t["image_path"].str.replace("/", "\\")))
    with pytest.raises(ManifestError) as exc:
        load_manifest(cohort_dir / "data_manifest.csv")
    assert len(exc.value.problems) == 6
    assert exc.value.problems[0] == ("data_manifest.csv row 2: image_path: written with Windows backslashes (\\) as "
                                     "folder separators, which name no file here: separate folders with / "
                                     "('img\\\\S1_RCC.dcm')")


def test_a_semicolon_separated_table_is_one_line_naming_the_separator(cohort_dir: Path) -> None:
    table = pd.read_csv(cohort_dir / "data_manifest.csv", dtype=str)
    table.to_csv(cohort_dir / "data_manifest.csv", sep=";", index=False)
    with pytest.raises(MammoError) as exc:
        load_manifest(cohort_dir / "data_manifest.csv")
    assert str(exc.value) == ("data_manifest.csv: its columns are separated by semicolons (';'), not commas: save it "
                              "as comma-separated CSV (header: image_id,patient_id,...)")


def test_the_mask_path_column_may_be_left_out(cohort_dir: Path) -> None:
    _rewrite(cohort_dir / "data_findings.csv", lambda t: t.pop("mask_path"))
    cohort = load_manifest(cohort_dir / "data_manifest.csv")
    assert list(cohort.findings["mask_path"]) == ["", "", ""]
    assert len(cohort.masses()) == 2
