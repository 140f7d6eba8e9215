"""The cohort manifest: schema, typed loading, validation that reports every problem, ``mammo verify``.

``data_manifest.csv`` has one row per image (columns :data:`mammo_lib.vocab.MANIFEST_COLUMNS`);
``data_findings.csv`` beside it has one row per mass per view (:data:`~mammo_lib.vocab.FINDINGS_COLUMNS`,
plus the optional reader columns :data:`~mammo_lib.vocab.READER_COLUMNS`). The embedded twin cohort and a
user's own data go through the same code. Problems are collected, never stopped at the first, and
raised as one :class:`ManifestError` whose lines read ``<file> row N: column: problem (value)``, where N
is the spreadsheet row (the header is row 1, the first record row 2).

Schema (values; "" is missing):

=====================  ==================================================================================
image_id               unique per image; referenced by the findings table
patient_id, study_id   pseudonymous ids; a study belongs to one patient, a patient to one split
age                    whole years, 18-110, the same on every image of a study
breast_density         ACR a-d, the same on every image of a study
laterality, view       L/R, CC/MLO
image_path             relative to the data root (default: the manifest's folder); must exist
vendor                 Siemens, GE, Hologic, other
sha256                 64 lower-case hex digits of the file (checked with ``--checksums``)
split                  train, val, test
mass_id                shared by the view rows of one mass; all on one breast of one study
x0, y0, x1, y1         box in the image's pixels, whole numbers, x1/y1 exclusive, x0<x1, y0<y1
mask_path              optional (may be empty, or the column left out), relative to the data root
morphology, margin,    BI-RADS lexicon (vocab.MORPHOLOGY, MARGIN, MASS_DENSITY); birads 2-5
mass_density, birads   (a mass is at least BI-RADS 2); these, pathology, histology, the reference
                       standard and reader columns are per mass: equal on all its view rows
size_mm                > 0; may differ between views (``Manifest.masses`` reports the largest)
pathology, histology   negative/positive; histology in vocab.HISTOLOGY_NEGATIVE/POSITIVE accordingly
reference_standard     histopathology, or follow-up (then histology is "stable follow-up")
junior_*_detected      yes/no/true/false; junior_*_birads, senior_birads: BI-RADS 1-5
=====================  ==================================================================================
"""
from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mammo_lib.checksums import sha256_file
from mammo_lib.errors import MammoError
from mammo_lib.vocab import (
    BIRADS, BOX_COLUMNS, BREAST_DENSITY, FINDINGS_COLUMNS, HISTOLOGY, HISTOLOGY_NEGATIVE, HISTOLOGY_POSITIVE,
    LATERALITY, MANIFEST_COLUMNS, MARGIN, MASS_BIRADS, MASS_DENSITY, MORPHOLOGY, PATHOLOGY, READER_COLUMNS,
    REFERENCE_STANDARD, SPLIT, VENDOR, VIEW,
)

MANIFEST_NAME = "data_manifest.csv"
FINDINGS_NAME = "data_findings.csv"
AGE_RANGE = (18, 110)
#: Categorical columns of each table and their (ordered) vocabularies.
IMAGE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "breast_density": BREAST_DENSITY, "laterality": LATERALITY, "view": VIEW, "vendor": VENDOR, "split": SPLIT,
}
FINDING_CATEGORIES: dict[str, tuple[str, ...]] = {
    "morphology": MORPHOLOGY, "margin": MARGIN, "mass_density": MASS_DENSITY, "birads": MASS_BIRADS,
    "pathology": PATHOLOGY, "histology": HISTOLOGY, "reference_standard": REFERENCE_STANDARD,
}
#: Findings columns that describe the mass, not one view of it: equal on all view rows of a mass.
MASS_LEVEL_COLUMNS = ("morphology", "margin", "mass_density", "birads", "pathology", "histology",
                      "reference_standard")
#: Findings columns that may be empty.
OPTIONAL_FINDING_VALUES = ("mask_path",)
#: Strings accepted for the reader ``*_detected`` columns.
DETECTED_VALUES = {"yes": True, "true": True, "no": False, "false": False}
FOLLOW_UP_HISTOLOGY = "stable follow-up"
#: Columns that ``allow_missing`` may name: what public data sets can lack (see ``adapters.*.MISSING_FIELDS``).
#: Ids, paths, laterality, view and pathology-free keys are always required.
#: Reader columns may be empty for masses the readers did not read (a hospital with readings of some masses).
MAY_BE_MISSING = frozenset({
    "age", "breast_density", "vendor", "sha256", "split", *BOX_COLUMNS, "morphology", "margin",
    "mass_density", "size_mm", "birads", "pathology", "histology", "reference_standard", *READER_COLUMNS,
})


class ManifestError(MammoError):
    """Every problem found in a manifest/findings pair; ``.problems`` lists them one per line, ``.hint`` says
    which ``--allow-missing`` columns would accept the empty values (and which adapters' MISSING_FIELDS)."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        self.hint = allow_missing_hint(self.problems)
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the manifest:\n  " + "\n  ".join(self.problems)
                         + (f"\n{self.hint}" if self.hint else ""))

    def report(self, label: str) -> str:
        """The problems as `mammo verify` prints them: a count line for ``label``, one indented line each, the hint."""
        lines = [f"{label}: {len(self.problems)} problem(s)", *(f"  {line}" for line in self.problems)]
        return "\n".join(lines + ([self.hint] if self.hint else []))


#: A problem line about an empty cell: ``<file> row N: column: ... ('')``.
_EMPTY_CELL = re.compile(r" row \d+: (\w+): .*\(''\)$")


def allow_missing_hint(problems: Iterable[str]) -> str:
    """One line naming the ``--allow-missing`` columns that would accept the empty values among ``problems``,
    and the adapters whose ``MISSING_FIELDS`` cover them (with the full option each adapter needs); "" if none."""
    import importlib

    from mammo_lib.data.adapters import ADAPTERS

    empty = sorted({m.group(1) for p in problems if (m := _EMPTY_CELL.search(p))} & MAY_BE_MISSING)
    if not empty:
        return ""
    fitting = []
    for name in ADAPTERS:
        missing = importlib.import_module(f"mammo_lib.data.adapters.{name}").MISSING_FIELDS
        if set(empty) <= set(missing):
            fitting.append(f"{name}: --allow-missing {' '.join(missing)}")
    line = (f"empty values in {', '.join(empty)}: if the data set cannot fill them, pass --allow-missing "
            f"{' '.join(empty)} (a cohort file's allow_missing)")
    return line + (f"; adapters that leave them empty need {'; '.join(fitting)}" if fitting else "")


@dataclass
class Manifest:
    """A validated manifest: typed image and findings tables and where the files are."""

    images: pd.DataFrame
    findings: pd.DataFrame | None
    data_root: Path

    def image_path(self, image_id: str) -> Path:
        """Absolute path of one image."""
        match = self.images.loc[self.images["image_id"] == image_id, "image_path"]
        if match.empty:
            raise MammoError(f"image_id {image_id!r} is not in the manifest")
        return self.data_root / match.iloc[0]

    def masses(self) -> pd.DataFrame:
        """One row per mass: mass-level features, views, largest size, patient age, breast density, readers."""
        if self.findings is None:
            raise MammoError("this cohort was loaded without a findings table; masses() needs one")
        return mass_table(self.images, self.findings)


def _categorical(values: pd.Series, categories: tuple[str, ...]) -> pd.Categorical:
    """Ordered categorical of a vocabulary; "" (an allowed missing value) becomes NaN."""
    values = values.astype(object)
    return pd.Categorical(values.where(values != "", None), categories=categories, ordered=True)


def mass_table(images: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    """Collapse validated findings (one row per mass per view) to one row per mass."""
    joined = findings.merge(
        images[["image_id", "patient_id", "study_id", "age", "breast_density", "laterality", "view", "split"]],
        on="image_id", how="left", validate="many_to_one",
    )
    readers = [c for c in READER_COLUMNS if c in findings.columns]
    first = ["patient_id", "study_id", "age", "breast_density", "laterality", "split", *MASS_LEVEL_COLUMNS, *readers]
    grouped = joined.sort_values(["mass_id", "view"]).groupby("mass_id", sort=True, observed=True)
    masses = grouped[first].first()
    masses["size_mm"] = grouped["size_mm"].max()
    masses["n_views"] = grouped["image_id"].count().astype("int64")
    masses["views"] = grouped["view"].agg(lambda v: "+".join(str(x) for x in v))
    masses = masses.reset_index()
    for column, categories in {**IMAGE_CATEGORIES, **FINDING_CATEGORIES}.items():
        if column in masses:
            masses[column] = _categorical(masses[column], categories)
    for column in readers:
        if column.endswith("_birads"):
            masses[column] = _categorical(masses[column], BIRADS)
    return masses


def load_manifest(
    manifest_csv: str | Path,
    findings_csv: str | Path | None = None,
    data_root: str | Path | None = None,
    *,
    check_files: bool = True,
    check_checksums: bool = False,
    allow_missing: Iterable[str] = (),
) -> Manifest:
    """Read, type and validate a manifest (and its findings table); raise one ManifestError listing all problems.

    ``findings_csv`` None uses ``data_findings.csv`` beside the manifest when it exists; ``data_root``
    None is the manifest's folder. ``allow_missing`` names columns (of :data:`MAY_BE_MISSING`) whose
    values may be empty, for data sets that lack them (an adapter's ``MISSING_FIELDS``).
    """
    manifest_csv = Path(manifest_csv)
    if findings_csv is None and (manifest_csv.parent / FINDINGS_NAME).is_file():
        findings_csv = manifest_csv.parent / FINDINGS_NAME
    root = Path(data_root) if data_root is not None else manifest_csv.parent
    raw_images = read_table(manifest_csv)
    images, problems = check_images(raw_images, source=manifest_csv.name, data_root=root, check_files=check_files,
                                    check_checksums=check_checksums, allow_missing=allow_missing)
    findings = None
    if findings_csv is not None:
        findings_csv = Path(findings_csv)
        findings, more = check_findings(read_table(findings_csv), images, source=findings_csv.name,
                                        data_root=root, check_files=check_files, allow_missing=allow_missing)
        problems += more
    if problems:
        raise ManifestError(problems)
    return Manifest(images=images, findings=findings, data_root=root.resolve())


def read_table(path: Path) -> pd.DataFrame:
    """A CSV as strings ("" = missing), or a MammoError naming the file."""
    if not path.is_file():
        raise MammoError(f"{path}: file does not exist")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise MammoError(f"{path.name}: not a readable CSV table ({type(exc).__name__}: {exc})") from None
    _check_separator(path, table)
    return table


#: Column separators of other CSV dialects (a spreadsheet with a comma decimal separator saves with ";").
OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


def _check_separator(path: Path, table: pd.DataFrame) -> None:
    """One line, instead of a "missing required column" per column, when the header is one column holding
    another separator: the table was saved with semicolons (or tabs, bars) instead of commas."""
    if len(table.columns) != 1:
        return
    header = str(table.columns[0])
    for separator, name in OTHER_SEPARATORS.items():
        if header.count(separator) >= 2:
            raise MammoError(f"{path.name}: its columns are separated by {name} ({separator!r}), not commas: save it "
                             "as comma-separated CSV (header: image_id,patient_id,...)")


def validate_images(df: pd.DataFrame, *, source: str = MANIFEST_NAME, data_root: str | Path | None = None,
                    check_files: bool = False, check_checksums: bool = False,
                    allow_missing: Iterable[str] = ()) -> pd.DataFrame:
    """Validate and type an image table; raise ManifestError with every problem."""
    if (check_files or check_checksums) and data_root is None:
        raise MammoError("check_files/check_checksums need data_root (the folder image paths are relative to)")
    typed, problems = check_images(df, source=source, data_root=None if data_root is None else Path(data_root),
                                   check_files=check_files, check_checksums=check_checksums,
                                   allow_missing=allow_missing)
    if problems:
        raise ManifestError(problems)
    return typed


def validate_findings(findings: pd.DataFrame, images: pd.DataFrame, *, source: str = FINDINGS_NAME,
                      data_root: str | Path | None = None, check_files: bool = False,
                      allow_missing: Iterable[str] = ()) -> pd.DataFrame:
    """Validate and type a findings table against its (validated) image table; raise ManifestError."""
    if check_files and data_root is None:
        raise MammoError("check_files needs data_root (the folder mask and image paths are relative to)")
    typed, problems = check_findings(findings, images, source=source,
                                     data_root=None if data_root is None else Path(data_root),
                                     check_files=check_files, allow_missing=allow_missing)
    if problems:
        raise ManifestError(problems)
    return typed


# --- checks ---------------------------------------------------------------------------------------
class _Problems(list[str]):
    """Problem lines of one table, formatted ``<source> row N: column: problem (value)``."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source
        self.bad_cells: set[tuple[Any, str]] = set()

    def rows(self, frame: pd.DataFrame, bad: pd.Series | np.ndarray, column: str, problem: str,
             values: pd.Series | None = None) -> None:
        shown = frame[column] if values is None else values
        for index in frame.index[np.asarray(bad, dtype=bool)]:
            self.bad_cells.add((index, column))
            self.append(f"{self.source} row {index + 2}: {column}: {problem} ({shown.at[index]!r})")

    def table(self, column: str, problem: str) -> None:
        self.append(f"{self.source}: {column}: {problem}")

    def cleaned(self, text: pd.DataFrame) -> pd.DataFrame:
        """``text`` with the cells already reported blanked, so that one bad value is reported once."""
        clean = text.copy()
        for index, column in self.bad_cells:
            clean.at[index, column] = ""
        return clean


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    """Every cell as a stripped string, "" for missing; index 0..n-1 (row N = index + 2)."""
    text = df.reset_index(drop=True).copy()
    for column in text.columns:
        text[column] = text[column].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                                        or v is pd.NA else str(v).strip())
    return text


def _required(text: pd.DataFrame, columns: Iterable[str], problems: _Problems) -> list[str]:
    missing = [c for c in columns if c not in text.columns]
    for column in missing:
        problems.table(column, "missing required column")
    return missing


def _optional(allow_missing: Iterable[str]) -> frozenset[str]:
    """Check ``allow_missing`` against :data:`MAY_BE_MISSING`."""
    optional = frozenset(allow_missing)
    unknown = sorted(optional - MAY_BE_MISSING)
    if unknown:
        raise MammoError(f"allow_missing: {unknown} must always be given (may be missing: {sorted(MAY_BE_MISSING)})")
    return optional


def _vocabulary(text: pd.DataFrame, column: str, allowed: tuple[str, ...], problems: _Problems,
                optional: frozenset[str] = frozenset()) -> None:
    values = text[column]
    if column not in optional:
        problems.rows(text, values == "", column, "missing value")
    problems.rows(text, (values != "") & ~values.isin(allowed), column, f"unknown code, expected one of {list(allowed)}")


def _duplicates(text: pd.DataFrame, keys: list[str], problems: _Problems) -> None:
    dup = text.duplicated(keys, keep=False) & (text[keys] != "").all(axis=1)
    label = "+".join(keys)
    for _, group in text[dup].groupby(keys, sort=False):
        rows = ", ".join(str(i + 2) for i in group.index)
        problems.append(f"{problems.source} row {group.index[0] + 2}: {label}: duplicate, also on rows {rows} "
                        f"({'/'.join(group.iloc[0][keys])!r})")


def _constant_within(text: pd.DataFrame, group: str, column: str, problems: _Problems, what: str) -> None:
    present = text[(text[group] != "") & (text[column] != "")]
    counts = present.groupby(group)[column].nunique()
    for key in counts.index[counts > 1]:
        rows = present[present[group] == key]
        values = sorted(set(rows[column]))
        problems.append(f"{problems.source} row {rows.index[0] + 2}: {column}: differs between the rows of {what} "
                        f"{key!r} (rows {', '.join(str(i + 2) for i in rows.index)}) ({values!r})")


def check_images(df: pd.DataFrame, *, source: str = MANIFEST_NAME, data_root: Path | None = None,
                 check_files: bool = False, check_checksums: bool = False,
                 allow_missing: Iterable[str] = ()) -> tuple[pd.DataFrame, list[str]]:
    """Problems of an image table and, when there are none, its typed copy."""
    optional = _optional(allow_missing)
    problems = _Problems(source)
    text = _as_text(df)
    if _required(text, MANIFEST_COLUMNS, problems):
        return text, list(problems)
    if text.empty:
        problems.table("image_id", "0 images: the table has its header but no rows")
        return text, list(problems)
    for column in ("image_id", "patient_id", "study_id", "image_path"):
        problems.rows(text, text[column] == "", column, "missing value")
    for column, allowed in IMAGE_CATEGORIES.items():
        _vocabulary(text, column, allowed, problems, optional)
    age = pd.to_numeric(text["age"], errors="coerce")
    bad_age = age.isna() | (age != np.floor(age)) | (age < AGE_RANGE[0]) | (age > AGE_RANGE[1])
    excused = (text["age"] == "") if "age" in optional else False
    problems.rows(text, bad_age & ~excused, "age", f"expected whole years {AGE_RANGE[0]}-{AGE_RANGE[1]}")
    sha = text["sha256"]
    excused = (sha == "") if "sha256" in optional else False
    problems.rows(text, ~sha.str.fullmatch(r"[0-9a-f]{64}") & ~excused, "sha256", "expected 64 lower-case hex digits")
    clean = problems.cleaned(text)
    _duplicates(clean, ["image_id"], problems)
    _duplicate_files(clean, problems)
    _same_content_two_patients(clean, problems)
    for column in ("patient_id", "age", "breast_density"):
        _constant_within(clean, "study_id", column, problems, "study")
    _constant_within(clean, "patient_id", "split", problems, "patient")
    _check_paths(text, "image_path", data_root, check_files, problems)
    if check_checksums and data_root is not None:
        for index, rel in text["image_path"].items():
            path = data_root / rel
            if rel and path.is_file() and sha.at[index] and sha256_file(path) != sha.at[index]:
                problems.rows(text, text.index == index, "sha256", f"checksum mismatch: {rel} has sha256 "
                              f"{sha256_file(path)[:12]}..., the manifest says")
    if problems:
        return text, list(problems)
    typed = text[list(MANIFEST_COLUMNS) + [c for c in text.columns if c not in MANIFEST_COLUMNS]].copy()
    typed["age"] = age.astype("Int64" if age.isna().any() else "int64")
    for column, allowed in IMAGE_CATEGORIES.items():
        typed[column] = _categorical(typed[column], allowed)
    return typed, []


def normal_path(path: str) -> str:
    """A relative image path in one spelling: Windows separators as ``/``, ``./`` and doubled ``//`` removed
    (``./img//a.dcm``, ``img\\a.dcm`` and ``img/a.dcm`` name one file)."""
    import posixpath

    return posixpath.normpath(path.replace("\\", "/")) if path else path


def _duplicate_files(text: pd.DataFrame, problems: _Problems) -> None:
    """Rows naming one file, compared after :func:`normal_path`, so another spelling of a path is no new image."""
    normal = text["image_path"].map(normal_path)
    dup = normal.duplicated(keep=False) & (normal != "")
    for _, group in text[dup].groupby(normal[dup], sort=False):
        rows = ", ".join(str(i + 2) for i in group.index)
        spellings = list(dict.fromkeys(group["image_path"]))
        shown = repr(spellings[0]) if len(spellings) == 1 else (
            f"{', '.join(map(repr, spellings))}: one file, spelled differently")
        problems.append(f"{problems.source} row {group.index[0] + 2}: image_path: duplicate, also on rows {rows} "
                        f"({shown})")


def _same_content_two_patients(text: pd.DataFrame, problems: _Problems) -> None:
    """Byte-identical files (equal sha256) listed under two or more patients: a copied image, which would
    evaluate one breast as two patients' (and leak one patient's image into another's report)."""
    present = text[text["sha256"].str.fullmatch(r"[0-9a-f]{64}") & (text["patient_id"] != "")]
    counts = present.groupby("sha256")["patient_id"].nunique()
    for sha in counts.index[counts > 1]:
        rows = present[present["sha256"] == sha]
        patients, numbers = sorted(set(rows["patient_id"])), [str(i + 2) for i in rows.index]
        problems.append(f"{problems.source} row {numbers[0]}: sha256: the same file content under patients "
                        f"{_first_five(patients)} (rows {_first_five(numbers)}) ({sha[:12]}...)")


def _first_five(items: list[str]) -> str:
    """``items`` joined with commas, the sixth on said as "and N more"."""
    return ", ".join(items[:5]) + (f" and {len(items) - 5} more" if len(items) > 5 else "")


def _check_paths(text: pd.DataFrame, column: str, data_root: Path | None, check_files: bool,
                 problems: _Problems) -> None:
    paths = text[column]
    absolute = np.array([bool(p) and (Path(p).is_absolute() or ".." in Path(p).parts) for p in paths], dtype=bool)
    problems.rows(text, absolute, column, "must be relative to the data root, inside it")
    windows = np.array([("\\" in p) and not (data_root is not None and (data_root / p).is_file()) for p in paths],
                       dtype=bool) & ~absolute
    problems.rows(text, windows, column, "written with Windows backslashes (\\) as folder separators, which name "
                  "no file here: separate folders with /")
    if check_files and data_root is not None:
        missing = np.array([bool(p) and not (data_root / p).is_file() for p in paths], dtype=bool)
        problems.rows(text, missing & ~absolute & ~windows, column, f"file does not exist under {data_root}")


def check_findings(df: pd.DataFrame, images: pd.DataFrame, *, source: str = FINDINGS_NAME,
                   data_root: Path | None = None, check_files: bool = False,
                   allow_missing: Iterable[str] = ()) -> tuple[pd.DataFrame, list[str]]:
    """Problems of a findings table (against the image table) and, when there are none, its typed copy."""
    optional = _optional(allow_missing)
    problems = _Problems(source)
    text = _as_text(df)
    for column in OPTIONAL_FINDING_VALUES:  # an optional column may also be left out: then every value is empty
        if column not in text.columns:
            text[column] = ""
    if _required(text, FINDINGS_COLUMNS, problems):
        return text, list(problems)
    problems.rows(text, text["mass_id"] == "", "mass_id", "missing value")
    problems.rows(text, text["image_id"] == "", "image_id", "missing value")
    known = set(images["image_id"].astype(str)) if "image_id" in images else set()
    problems.rows(text, (text["image_id"] != "") & ~text["image_id"].isin(known), "image_id",
                  "not in the manifest")
    for column, allowed in FINDING_CATEGORIES.items():
        _vocabulary(text, column, allowed, problems, optional)
    box = {c: pd.to_numeric(text[c], errors="coerce") for c in BOX_COLUMNS}
    for column, values in box.items():
        excused = (text[column] == "") if column in optional else False
        problems.rows(text, (values.isna() | (values != np.floor(values)) | (values < 0)) & ~excused, column,
                      "expected a whole, non-negative pixel coordinate")
    problems.rows(text, box["x1"] <= box["x0"], "x1", "must be greater than x0")
    problems.rows(text, box["y1"] <= box["y0"], "y1", "must be greater than y0")
    size = pd.to_numeric(text["size_mm"], errors="coerce")
    excused = (text["size_mm"] == "") if "size_mm" in optional else False
    problems.rows(text, (size.isna() | ~(size > 0) | np.isinf(size)) & ~excused, "size_mm",
                  "expected a positive number of mm")
    pathology, histology = text["pathology"], text["histology"]
    problems.rows(text, (pathology == "negative") & histology.isin(HISTOLOGY_POSITIVE), "histology",
                  "a positive (malignant or high-risk) histology on a negative mass")
    problems.rows(text, (pathology == "positive") & histology.isin(HISTOLOGY_NEGATIVE), "histology",
                  "a negative histology on a positive mass")
    follow_up = text["reference_standard"] == "follow-up"
    problems.rows(text, follow_up & histology.isin(HISTOLOGY) & (histology != FOLLOW_UP_HISTOLOGY), "histology",
                  f"reference_standard is follow-up, so histology must be {FOLLOW_UP_HISTOLOGY!r}")
    problems.rows(text, (text["reference_standard"] == "histopathology") & (histology == FOLLOW_UP_HISTOLOGY),
                  "reference_standard", f"histology {FOLLOW_UP_HISTOLOGY!r} needs reference_standard follow-up")
    readers = [c for c in READER_COLUMNS if c in text.columns]
    detected: dict[str, pd.Series] = {}
    for column in readers:
        if column.endswith("_detected"):
            detected[column] = text[column].str.lower().map(DETECTED_VALUES)
            excused = (text[column] == "") if column in optional else False
            problems.rows(text, detected[column].isna() & ~excused, column,
                          f"expected one of {sorted(DETECTED_VALUES)}")
        else:
            _vocabulary(text, column, BIRADS, problems, optional)
    clean = problems.cleaned(text)
    _duplicates(clean, ["mass_id", "image_id"], problems)
    for column in MASS_LEVEL_COLUMNS + tuple(readers):
        values = clean[column].str.lower() if column.endswith("_detected") else clean[column]
        _constant_within(clean.assign(**{column: values}), "mass_id", column, problems, "mass")
    _check_mass_breast(clean, images, problems)
    if check_files and data_root is not None:
        _check_boxes_inside(clean, box, images, data_root, problems)
    mask_given = text["mask_path"] != ""
    _check_paths(text[mask_given], "mask_path", data_root, check_files, problems)
    if problems:
        return text, list(problems)
    columns = list(FINDINGS_COLUMNS) + readers + [c for c in text.columns if c not in FINDINGS_COLUMNS + tuple(readers)]
    typed = text[columns].copy()
    for column in BOX_COLUMNS:
        typed[column] = box[column].astype("Int64" if box[column].isna().any() else "int64")
    typed["size_mm"] = size.astype("float64")
    for column, allowed in FINDING_CATEGORIES.items():
        typed[column] = _categorical(typed[column], allowed)
    for column in readers:
        if column in detected:  # nullable where allowed to be missing (a mass not read)
            typed[column] = detected[column].astype("boolean" if detected[column].isna().any() else bool)
        else:
            typed[column] = _categorical(typed[column], BIRADS)
    return typed, []


def _check_boxes_inside(text: pd.DataFrame, box: dict[str, pd.Series], images: pd.DataFrame, data_root: Path,
                        problems: _Problems) -> None:
    """Every box lies inside its image (sizes from the image headers; unreadable images are skipped here)."""
    from mammo_lib.data.dicomio import image_size

    paths = dict(zip(images["image_id"].astype(str), images["image_path"].astype(str))) if "image_path" in images else {}
    sizes: dict[str, tuple[int, int] | None] = {}
    for image_id in text["image_id"].unique():
        path = data_root / paths[image_id] if image_id in paths else None
        try:
            sizes[image_id] = image_size(path) if path is not None and path.is_file() else None
        except MammoError:
            sizes[image_id] = None  # the image itself is reported where it is read
    rows = text["image_id"].map(lambda i: (sizes.get(i) or (np.nan, np.nan))[0]).astype(float)
    columns = text["image_id"].map(lambda i: (sizes.get(i) or (np.nan, np.nan))[1]).astype(float)
    problems.rows(text, box["x1"] > columns, "x1", "box outside the image, wider than its columns",
                  values=text["x1"] + " > " + columns.map(lambda c: f"{c:.0f}"))
    problems.rows(text, box["y1"] > rows, "y1", "box outside the image, below its last row",
                  values=text["y1"] + " > " + rows.map(lambda r: f"{r:.0f}"))


def _check_mass_breast(text: pd.DataFrame, images: pd.DataFrame, problems: _Problems) -> None:
    """All view rows of a mass lie on one breast of one study."""
    if not {"image_id", "study_id", "laterality"} <= set(images.columns):
        return
    lookup = images[["image_id", "study_id", "laterality"]].astype(str).drop_duplicates("image_id")
    where = text[["mass_id", "image_id"]].reset_index().merge(lookup, on="image_id", how="inner").set_index("index")
    where["breast"] = where["study_id"] + " " + where["laterality"]
    _constant_within(where.rename_axis(None), "mass_id", "breast", problems, "mass")


# --- summaries ------------------------------------------------------------------------------------
def cohort_overview(manifest: Manifest) -> pd.Series:
    """The paper's cohort figures ("Results: Features of breast masses"), keyed as ``published.COHORT``.

    Age is per patient (the first study's), its SD the sample SD (ddof=1, as SPSS reports it).
    """
    images = manifest.images.sort_values(["patient_id", "study_id"])
    ages = images.drop_duplicates("patient_id")["age"].astype("float64")
    figures: dict[str, float] = {
        "patients": images["patient_id"].nunique(),
        "age_mean": round(float(ages.mean()), 2), "age_sd": round(float(ages.std(ddof=1)), 2),
        "age_min": float(ages.min()), "age_max": float(ages.max()),
    }
    if manifest.findings is not None:
        masses = manifest.masses()
        figures["masses"] = len(masses)
        figures["histopathology_masses"] = int((masses["reference_standard"] == "histopathology").sum())
        figures["follow_up_masses"] = int((masses["reference_standard"] == "follow-up").sum())
    return pd.Series(figures, name="reproduced")


def summary(manifest: Manifest) -> pd.DataFrame:
    """Images, patients, studies and masses per split (and in total)."""
    images = manifest.images
    rows: dict[str, dict[str, Any]] = {}
    masses = manifest.masses() if manifest.findings is not None else None
    for split in [*SPLIT, "all"]:
        part = images if split == "all" else images[images["split"] == split]
        row = {"images": len(part), "patients": part["patient_id"].nunique(), "studies": part["study_id"].nunique()}
        if masses is not None:
            row["masses"] = int(len(masses) if split == "all" else (masses["split"] == split).sum())
        rows[split] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("split")


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", nargs="?", help=f"the image table ({MANIFEST_NAME})")
    parser.add_argument("--findings", help=f"the findings table (default: {FINDINGS_NAME} beside the manifest)")
    parser.add_argument("--data-root", help="folder the image paths are relative to (default: the manifest's folder)")
    parser.add_argument("--checksums", action="store_true", help="also compare every file's sha256 with the manifest")
    parser.add_argument("--no-files", action="store_true", help="do not check that image and mask files exist")
    parser.add_argument("--allow-missing", nargs="+", default=[], metavar="COLUMN",
                        help="columns whose values may be empty (a public data set's MISSING_FIELDS)")


def run_command(args: argparse.Namespace) -> int:
    try:
        manifest = load_manifest(args.manifest, args.findings, args.data_root,
                                 check_files=not args.no_files, check_checksums=args.checksums,
                                 allow_missing=args.allow_missing)
    except ManifestError as exc:
        print(exc.report(str(args.manifest)))
        return 1
    print(f"{args.manifest}: ok ({'with' if manifest.findings is not None else 'without'} findings table"
          f"{', checksums verified' if args.checksums else ''})")
    print(summary(manifest).to_string())
    return 0
