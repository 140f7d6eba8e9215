"""EMBED (Jeong et al., Radiol Artif Intell 2023): clinical + metadata tables -> manifest.

``EMBED_OpenData_clinical.csv`` has one row per finding of an exam (``empi_anon`` patient, ``acc_anon``
exam, ``numfind``, ``side``, mass descriptors, ``asses``, ``tissueden``, ``path_severity``, ``path1``,
``age_at_study``); ``EMBED_OpenData_metadata.csv`` one row per file (``anon_dicom_path``,
``ImageLateralityFinal``, ``ViewPosition``, ``FinalImageType``, ``spot_mag``, ``Manufacturer``,
``ROI_coords`` as ``[[ymin, xmin, ymax, xmax], ...]``). Codes follow the EMBED clinical legend
(github.com/Emory-HITI/EMBED_Open_Data, references/AWS_Open_Data_Clinical_Legend.csv). Only full-field
2D CC/MLO images are kept. A mass finding gets the ROI of an image of its exam and breast only when that
breast has exactly one mass finding and the image exactly one ROI: EMBED does not say which ROI is
which finding, and guessing would attach wrong labels. Findings with ``side`` B (both breasts) name no one
breast and are not attached to images.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from mammo_lib.data.adapters._common import checksum, frames, map_code, read_source
from mammo_lib.data.dicomio import vendor_of
from mammo_lib.errors import MammoError

CLINICAL_COLUMNS = ("empi_anon", "acc_anon", "numfind", "side", "massshape", "massmargin", "massdens", "asses",
                    "tissueden", "path_severity", "age_at_study")
METADATA_COLUMNS = ("empi_anon", "acc_anon", "anon_dicom_path", "ImageLateralityFinal", "ViewPosition",
                    "FinalImageType", "spot_mag", "Manufacturer", "ROI_coords")
MISSING_FIELDS = {
    "x0": "only when the breast has one mass finding and the image one ROI", "y0": "as x0", "x1": "as x0",
    "y1": "as x0",
    "breast_density": "5 (normal male) has no ACR category",
    "sha256": "computed only with checksums=True",
    "split": "EMBED defines no split (its two cohorts are a release unit)",
    "morphology": "generic (G) shapes are not described", "margin": "blank for some masses",
    "mass_density": "blank for some masses",
    "size_mm": "only when the table has a size column",
    "birads": "assessment S (BI-RADS 4) is not divided into 4A/4B/4C; 0 and 6 are not mass categories",
    "pathology": "only for biopsied findings", "histology": "only for the pathology codes this project names",
    "reference_standard": "only for biopsied findings",
}
#: massshape codes: R/O/X are the mass shapes; G (generic) is a mass without a shape; the rest are not masses.
SHAPES = {"R": "round", "O": "oval", "X": "irregular", "G": None}
NOT_MASS_SHAPES = {"Q", "A", "T", "N", "B", "F", "S", "V", "Y"}
MARGINS = {"D": "circumscribed", "U": "obscured", "M": "microlobulated", "I": "indistinct", "S": "spiculated", "": None}
DENSITIES = {"+": "high", "=": "equal", "-": "low", "0": "fat-containing", "": None}
ASSESSMENT = {"A": None, "N": None, "B": "2", "P": "3", "S": None, "M": "5", "K": None, "X": None, "": None}
TISSUE = {"1": "a", "2": "b", "3": "c", "4": "d", "5": None, "": None}
#: path_severity 0 invasive, 1 non-invasive cancer, 2 high-risk, 3 borderline -> positive (they are excised,
#: as the paper's positives include papillomas and phyllodes tumours); 4 benign, 5 normal -> negative.
SEVERITY = {"0": "positive", "1": "positive", "2": "positive", "3": "positive", "4": "negative",
            "5": "negative", "6": None, "": None}
#: path1 codes (legend "Pathology Finding") -> this project's histology names.
HISTOLOGY = {
    "ID": "invasive ductal carcinoma", "IDC": "invasive ductal carcinoma", "IL": "invasive lobular carcinoma",
    "DS": "ductal carcinoma in situ", "DC": "ductal carcinoma in situ", "DCC": "ductal carcinoma in situ",
    "DCH": "ductal carcinoma in situ", "DCL": "ductal carcinoma in situ", "DMP": "ductal carcinoma in situ",
    "CC": "mucinous carcinoma", "IMC": "mucinous carcinoma", "PT": "phyllodes tumor", "PTM": "phyllodes tumor",
    "PC": "intraductal papillary carcinoma", "ICP": "intraductal papillary carcinoma",
    "PA": "intraductal papilloma", "LP": "intraductal papilloma", "MIP": "intraductal papilloma",
    "CP": "intraductal papilloma", "FA": "fibroadenoma", "JF": "fibroadenoma", "GF": "fibroadenoma",
    "HY": "hyperplasia", "DHU": "hyperplasia", "DE": "duct dilation", "EC": "epidermoid cyst",
    "IF": "inflammatory disease", "MAS": "inflammatory disease",
}


def to_manifest(clinical_csv: str | Path, metadata_csv: str | Path, *, data_root: str | Path | None = None,
                checksums: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """EMBED tables -> (images, findings); ``anon_dicom_path`` is cut to start at its ``cohort_*`` folder."""
    root = Path(data_root) if data_root is not None else None
    clinical = read_source(clinical_csv, CLINICAL_COLUMNS)
    metadata = read_source(metadata_csv, METADATA_COLUMNS)
    clinical_name, metadata_name = Path(clinical_csv).name, Path(metadata_csv).name
    exams = {}
    for acc, rows in clinical.groupby("acc_anon", sort=False):
        first = rows.iloc[0]
        exams[acc] = (first["age_at_study"], map_code(first["tissueden"], TISSUE, "tissueden", clinical_name,
                                                       int(rows.index[0]) + 2))
    images, rois = [], {}
    for index, row in metadata.iterrows():
        line = int(index) + 2
        if row["FinalImageType"] != "2D" or row["spot_mag"] not in ("", "0", "0.0") or \
                row["ViewPosition"] not in ("CC", "MLO") or row["acc_anon"] not in exams:
            continue
        relative = _relative(row["anon_dicom_path"], metadata_name, line)
        age, density = exams[row["acc_anon"]]
        side = map_code(row["ImageLateralityFinal"], {"L": "L", "R": "R"}, "ImageLateralityFinal", metadata_name, line)
        images.append(dict(
            image_id=relative, patient_id=row["empi_anon"], study_id=row["acc_anon"], age=_whole(age),
            breast_density=density, laterality=side, view=row["ViewPosition"], image_path=relative,
            vendor=vendor_of(row["Manufacturer"]), sha256=checksum(root, relative, checksums),
        ))
        rois[relative] = (row["acc_anon"], side, _boxes(row["ROI_coords"], metadata_name, line))
    shapes = clinical["massshape"].str.upper()
    unknown = shapes[(shapes != "") & ~shapes.isin(set(SHAPES) | NOT_MASS_SHAPES)]
    if not unknown.empty:
        raise MammoError(f"{clinical_name} row {int(unknown.index[0]) + 2}: massshape: unknown code "
                         f"{unknown.iloc[0]!r} (known: {sorted(set(SHAPES) | NOT_MASS_SHAPES)})")
    findings = []
    masses = clinical[shapes.isin(set(SHAPES))]
    for (acc, side), group in masses.groupby(["acc_anon", "side"], sort=False):
        for index, row in group.iterrows():
            line = int(index) + 2
            fields = _mass_fields(row, clinical_name, line)
            views = [(image, boxes) for image, (a, s, boxes) in rois.items() if a == acc and s == side]
            for image, boxes in views:
                box = boxes[0] if len(group) == 1 and len(boxes) == 1 else ("", "", "", "")
                findings.append(dict(mass_id=f"{acc}_{side}_{row['numfind']}", image_id=image,
                                     x0=box[0], y0=box[1], x1=box[2], y1=box[3], **fields))
    return frames(images, findings)


def _mass_fields(row, source: str, line: int) -> dict[str, str]:
    pathology = map_code(row["path_severity"].split(".")[0], SEVERITY, "path_severity", source, line)
    histology = HISTOLOGY.get(str(row.get("path1", "")).strip().upper(), "")
    size = str(row.get("size", "")).strip()
    return dict(
        morphology=map_code(row["massshape"], SHAPES, "massshape", source, line),
        margin=map_code(row["massmargin"], MARGINS, "massmargin", source, line),
        mass_density=map_code(row["massdens"], DENSITIES, "massdens", source, line),
        birads=map_code(row["asses"], ASSESSMENT, "asses", source, line),
        pathology=pathology, histology=histology if pathology else "",
        reference_standard="histopathology" if pathology else "", size_mm=size,
    )


def _relative(path: str, source: str, line: int) -> str:
    parts = path.replace("\\", "/").split("/")
    starts = [i for i, part in enumerate(parts) if part.startswith("cohort_")]
    if not starts:
        raise MammoError(f"{source} row {line}: anon_dicom_path {path!r} has no cohort_* folder")
    return "/".join(parts[starts[0]:])


def _boxes(text: str, source: str, line: int) -> list[tuple[int, int, int, int]]:
    """ROI_coords ``[[ymin, xmin, ymax, xmax], ...]`` -> [(x0, y0, x1, y1), ...] with x1/y1 exclusive."""
    if not text.strip():
        return []
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise MammoError(f"{source} row {line}: ROI_coords: not a list of [ymin, xmin, ymax, xmax] ({text!r})") from None
    boxes = []
    for roi in value:
        if len(roi) != 4:
            raise MammoError(f"{source} row {line}: ROI_coords: {roi!r} is not [ymin, xmin, ymax, xmax]")
        y_min, x_min, y_max, x_max = (int(round(float(v))) for v in roi)
        boxes.append((x_min, y_min, x_max + 1, y_max + 1))
    return boxes


def _whole(age: str) -> str:
    try:
        return str(int(float(age)))
    except ValueError:
        return ""
