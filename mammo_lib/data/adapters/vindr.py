"""VinDr-Mammo (Nguyen et al., Sci Data 2023): breast-level and finding annotations -> manifest.

``breast-level_annotations.csv`` has one row per image (study, laterality, view, breast BI-RADS and
density, split); ``finding_annotations.csv`` one row per finding box, with ``finding_categories`` a
Python-style list (``"['Mass', 'Suspicious Calcification']"``). Rows whose categories include "Mass"
become findings. Images are ``images/<study_id>/<image_id>.dicom``. The optional ``metadata.csv`` adds
age (``Patient's Age`` such as ``053Y``) and manufacturer. VinDr-Mammo has one study per patient, so
the study id stands in for the patient id.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from mammo_lib.data.adapters._common import checksum, frames, map_code, pixel_box, read_source
from mammo_lib.data.dicomio import vendor_of
from mammo_lib.errors import MammoError

BREAST_COLUMNS = ("study_id", "image_id", "laterality", "view_position", "breast_density", "split")
FINDING_COLUMNS = ("study_id", "image_id", "finding_categories", "finding_birads", "xmin", "ymin", "xmax", "ymax")
METADATA_COLUMNS = ("SOP Instance UID", "Patient's Age", "Manufacturer")
MISSING_FIELDS = {
    "age": "only with metadata.csv, and blank for some images there",
    "vendor": "only with metadata.csv",
    "sha256": "computed only with checksums=True",
    "morphology": "not annotated", "margin": "not annotated", "mass_density": "not annotated",
    "size_mm": "not annotated",
    "birads": "BI-RADS 4 is not divided into 4A/4B/4C",
    "pathology": "not given", "histology": "not given", "reference_standard": "not given",
}
DENSITY = {"DENSITY A": "a", "DENSITY B": "b", "DENSITY C": "c", "DENSITY D": "d"}
BIRADS = {"BI-RADS 1": None, "BI-RADS 2": "2", "BI-RADS 3": "3", "BI-RADS 4": None, "BI-RADS 5": "5"}
SPLITS = {"TRAINING": "train", "TEST": "test"}


def to_manifest(breast_csv: str | Path, finding_csv: str | Path, *, metadata_csv: str | Path | None = None,
                data_root: str | Path | None = None, checksums: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """VinDr-Mammo annotation tables -> (images, findings); paths relative to the data set's root folder."""
    root = Path(data_root) if data_root is not None else None
    breast = read_source(breast_csv, BREAST_COLUMNS)
    meta = _metadata(metadata_csv) if metadata_csv is not None else {}
    source = Path(breast_csv).name
    images = []
    for index, row in breast.iterrows():
        line = int(index) + 2
        relative = f"images/{row['study_id']}/{row['image_id']}.dicom"
        age, manufacturer = meta.get(row["image_id"], ("", None))
        images.append(dict(
            image_id=row["image_id"], patient_id=row["study_id"], study_id=row["study_id"], age=age,
            breast_density=map_code(row["breast_density"], DENSITY, "breast_density", source, line),
            laterality=map_code(row["laterality"], {"L": "L", "R": "R"}, "laterality", source, line),
            view=map_code(row["view_position"], {"CC": "CC", "MLO": "MLO"}, "view_position", source, line),
            image_path=relative, vendor=vendor_of(manufacturer) if manufacturer is not None else "",
            sha256=checksum(root, relative, checksums),
            split=map_code(row["split"], SPLITS, "split", source, line),
        ))
    known = set(breast["image_id"])
    finding_table = read_source(finding_csv, FINDING_COLUMNS)
    source = Path(finding_csv).name
    findings = []
    for index, row in finding_table.iterrows():
        line = int(index) + 2
        if "Mass" not in _categories(row["finding_categories"], source, line):
            continue
        if row["image_id"] not in known:
            raise MammoError(f"{source} row {line}: image_id {row['image_id']!r} is not in {Path(breast_csv).name}")
        try:
            corners = [float(row[c]) for c in ("xmin", "ymin", "xmax", "ymax")]
        except ValueError:
            raise MammoError(f"{source} row {line}: a Mass without a box ({row['xmin']!r}, {row['ymin']!r}, "
                             f"{row['xmax']!r}, {row['ymax']!r})") from None
        x0, y0, x1, y1 = pixel_box(*corners)
        findings.append(dict(
            mass_id=f"{row['image_id']}_{index}", image_id=row["image_id"], x0=x0, y0=y0, x1=x1, y1=y1,
            birads=map_code(row["finding_birads"], BIRADS, "finding_birads", source, line),
        ))
    return frames(images, findings)


def _categories(text: str, source: str, line: int) -> list[str]:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise MammoError(f"{source} row {line}: finding_categories: not a list ({text!r})") from None
    if not isinstance(value, list):
        raise MammoError(f"{source} row {line}: finding_categories: not a list ({text!r})")
    return [str(v) for v in value]


def _metadata(path: str | Path) -> dict[str, tuple[str, str]]:
    """image_id -> (age in years or "", Manufacturer) from VinDr's metadata.csv."""
    table = read_source(path, METADATA_COLUMNS)
    ages = pd.to_numeric(table["Patient's Age"].str.extract(r"^(\d+)", expand=False), errors="coerce")
    return {uid: ("" if pd.isna(age) else str(int(age)), maker)
            for uid, age, maker in zip(table["SOP Instance UID"], ages, table["Manufacturer"])}
