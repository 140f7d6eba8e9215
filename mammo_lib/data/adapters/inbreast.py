"""INbreast (Moreira et al., Acad Radiol 2012): INbreast.csv + per-image XML annotations -> manifest.

``INbreast.csv`` (semicolon-separated) has one row per image: laterality, view, file name, ACR density
and the image's BI-RADS. Each image's ``<file name>.xml`` is an OsiriX plist whose ROIs carry a name
("Mass", "Calcification", ...) and outline points in pixels and mm; masses become findings with the
outline's bounding box and its largest extent in mm as size. DICOM files are named
``<file name>_<case hash>_MG_<side>_<view>_ANON.dcm``; the case hash links the views of one case.
"""
from __future__ import annotations

import plistlib
import re
from pathlib import Path

import pandas as pd

from mammo_lib.data.adapters._common import checksum, frames, map_code, pixel_box, read_source
from mammo_lib.errors import MammoError

COLUMNS = ("Laterality", "View", "File Name", "ACR", "Bi-Rads")
MISSING_FIELDS = {
    "age": "removed at anonymisation",
    "breast_density": "blank on some rows",
    "sha256": "computed only with checksums=True",
    "split": "INbreast defines no split",
    "morphology": "not annotated", "margin": "not annotated", "mass_density": "not annotated",
    "birads": "given per image, not per mass; 4 is split but 1 and 6 are not mass categories",
    "pathology": "not given per mass", "histology": "not given", "reference_standard": "not given",
}
#: INbreast was acquired on Siemens MammoNovation units.
VENDOR_NAME = "Siemens"
DENSITY = {"1": "a", "2": "b", "3": "c", "4": "d", "": None}
BIRADS = {"1": None, "2": "2", "3": "3", "4A": "4A", "4B": "4B", "4C": "4C", "5": "5", "6": None, "0": None, "": None}
_POINT = re.compile(r"\(\s*([-\d.eE+]+)\s*,\s*([-\d.eE+]+)")


def to_manifest(csv_path: str | Path, xml_dir: str | Path, dicom_dir: str | Path, *,
                data_root: str | Path | None = None, checksums: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """INbreast tables -> (images, findings); image paths relative to ``data_root`` (default: dicom_dir's parent)."""
    xml_dir, dicom_dir = Path(xml_dir), Path(dicom_dir)
    root = Path(data_root) if data_root is not None else dicom_dir.parent
    source = Path(csv_path).name
    table = read_source(csv_path, COLUMNS, sep=";")
    images, findings = [], []
    for index, row in table.iterrows():
        line = int(index) + 2
        name = row["File Name"]
        if not name:
            continue
        matches = sorted(dicom_dir.glob(f"{name}_*.dcm"))
        if len(matches) != 1:
            raise MammoError(f"{source} row {line}: File Name {name!r}: expected one {name}_*.dcm in {dicom_dir}, "
                             f"found {len(matches)}")
        case = matches[0].name.split("_")[1]
        relative = matches[0].relative_to(root).as_posix() if matches[0].is_relative_to(root) else None
        if relative is None:
            raise MammoError(f"{matches[0]}: not under the data root {root}")
        image_id = name
        birads = map_code(row["Bi-Rads"], BIRADS, "Bi-Rads", source, line)
        images.append(dict(
            image_id=image_id, patient_id=case, study_id=case,
            breast_density=map_code(row["ACR"], DENSITY, "ACR", source, line),
            laterality=map_code(row["Laterality"], {"L": "L", "R": "R"}, "Laterality", source, line),
            view=map_code(row["View"], {"CC": "CC", "MLO": "MLO"}, "View", source, line),
            image_path=relative, vendor=VENDOR_NAME, sha256=checksum(root, relative, checksums),
        ))
        for number, roi in enumerate(_masses(xml_dir / f"{name}.xml")):
            findings.append(dict(mass_id=f"{name}_{number}", image_id=image_id, birads=birads, **roi))
    return frames(images, findings)


def _masses(xml_path: Path) -> list[dict]:
    """Box and size of every ROI named "Mass" in one INbreast XML file (none if the file is absent)."""
    if not xml_path.is_file():
        return []
    try:
        with xml_path.open("rb") as handle:
            document = plistlib.load(handle)
    except Exception as exc:  # plistlib raises ExpatError, InvalidFileException, ...
        raise MammoError(f"{xml_path.name}: not a readable INbreast XML plist ({type(exc).__name__}: {exc})") from None
    masses = []
    for image in document.get("Images", []):
        for roi in image.get("ROIs", []):
            if str(roi.get("Name", "")).strip().lower() != "mass":
                continue
            pixels = _points(roi.get("Point_px", []), xml_path)
            if not pixels:
                raise MammoError(f"{xml_path.name}: a Mass ROI without Point_px outline points")
            millimetres = _points(roi.get("Point_mm", []), xml_path)
            xs, ys = [p[0] for p in pixels], [p[1] for p in pixels]
            x0, y0, x1, y1 = pixel_box(min(xs), min(ys), max(xs), max(ys))
            size = ""
            if millimetres:
                size = round(max(max(p[0] for p in millimetres) - min(p[0] for p in millimetres),
                                 max(p[1] for p in millimetres) - min(p[1] for p in millimetres)), 2)
            masses.append(dict(x0=x0, y0=y0, x1=x1, y1=y1, size_mm=size))
    return masses


def _points(values: list, xml_path: Path) -> list[tuple[float, float]]:
    points = []
    for value in values:
        match = _POINT.match(str(value).strip())
        if not match:
            raise MammoError(f"{xml_path.name}: point {value!r} is not '(x, y)'")
        points.append((float(match.group(1)), float(match.group(2))))
    return points
