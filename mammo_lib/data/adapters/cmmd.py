"""CMMD (Cui et al., TCIA 2021): the clinical table and its DICOM folders -> manifest.

The clinical table (``CMMD_clinicaldata_revision.xlsx``, exported to CSV) has one row per breast:
``ID1``, ``LeftRight``, ``Age``, ``abnormality`` (calcification / mass / both), ``classification``
(Benign / Malignant) and a molecular ``subtype``. Images live under ``<data_root>/<ID1>/**/*.dcm``; their
laterality and view come from the DICOM headers (:mod:`mammo_lib.data.dicomio`). Breasts with a mass (alone
or with calcifications) become one mass each, shared by that breast's views; CMMD has no boxes.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from mammo_lib.data.adapters._common import checksum, frames, map_code, read_source
from mammo_lib.data.dicomio import header_laterality, header_view, read_dataset, resolve_tag, vendor_of
from mammo_lib.errors import MammoError

COLUMNS = ("ID1", "LeftRight", "Age", "abnormality", "classification")
MISSING_FIELDS = {
    "x0": "CMMD has no lesion boxes", "y0": "as x0", "x1": "as x0", "y1": "as x0",
    "breast_density": "not given",
    "sha256": "computed only with checksums=True",
    "split": "CMMD defines no split",
    "morphology": "not annotated", "margin": "not annotated", "mass_density": "not annotated",
    "size_mm": "not annotated", "birads": "not given",
    "histology": "only the molecular subtype of malignant masses is given",
}
PATHOLOGY = {"BENIGN": "negative", "MALIGNANT": "positive"}
#: Which ``abnormality`` values include a mass ("both" = mass and calcification).
MASS_ABNORMALITIES = {"MASS": "mass", "BOTH": "mass", "CALCIFICATION": None}


def to_manifest(clinical_csv: str | Path, data_root: str | Path, *,
                checksums: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """CMMD clinical table + DICOM tree -> (images, findings); paths relative to ``data_root``."""
    root = Path(data_root)
    source = Path(clinical_csv).name
    table = read_source(clinical_csv, COLUMNS)
    images, findings = [], []
    headers: dict[str, list[tuple[Path, str, str, str]]] = {}
    for index, row in table.iterrows():
        line = int(index) + 2
        patient = row["ID1"]
        if patient not in headers:
            headers[patient] = _patient_images(root, patient, source, line)
        side = map_code(row["LeftRight"], {"L": "L", "R": "R"}, "LeftRight", source, line)
        breast_images = [item for item in headers[patient] if item[1] == side]
        if not breast_images:
            raise MammoError(f"{source} row {line}: no {side} image of {patient} under {root / patient}")
        for path, laterality, view, vendor in breast_images:
            relative = path.relative_to(root).as_posix()
            images.append(dict(
                image_id=relative, patient_id=patient, study_id=patient, age=row["Age"], laterality=laterality,
                view=view, image_path=relative, vendor=vendor, sha256=checksum(root, relative, checksums),
            ))
        if not map_code(row["abnormality"], MASS_ABNORMALITIES, "abnormality", source, line):
            continue
        for path, _, _, _ in breast_images:
            findings.append(dict(
                mass_id=f"{patient}_{side}", image_id=path.relative_to(root).as_posix(),
                pathology=map_code(row["classification"], PATHOLOGY, "classification", source, line),
                reference_standard="histopathology",
            ))
    return frames(images, findings)


def _patient_images(root: Path, patient: str, source: str, line: int) -> list[tuple[Path, str, str, str]]:
    """(path, laterality, view, vendor) of every DICOM of one patient, from the headers."""
    folder = root / patient
    if not folder.is_dir():
        raise MammoError(f"{source} row {line}: ID1 {patient!r}: no folder {folder}")
    found = []
    for path in sorted(folder.rglob("*.dcm")):
        ds = read_dataset(path, stop_before_pixels=True)
        laterality = resolve_tag(path.name, "laterality", header_laterality(ds), None)
        view = resolve_tag(path.name, "view", header_view(ds), None)
        found.append((path, laterality, view, vendor_of(ds.get("Manufacturer", None))))
    return found
