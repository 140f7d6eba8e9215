"""Cohorts that are not the twin, made by the tests from the generator with another seed (issue 14).

- :func:`generate_source`: a handful of patients rendered by ``mammo_lib.synth`` (seed :data:`SEED`, not the
  twin's nor the training cohort's), about a second per patient (phantom v1).
- :func:`hospital_export`: those images as a hospital would hand them over: nested folders, arbitrary file
  names, a hand-written manifest (its own ids, column order and an extra column) with train/val/test splits
  by patient, a findings table without masks and with reader columns on some masses only, and a cohort file.
- :func:`vindr_layout`: the same images in VinDr-Mammo's published layout (Nguyen et al., Sci Data 2023;
  physionet.org/content/vindr-mammo): ``breast-level_annotations.csv``, ``finding_annotations.csv``,
  ``metadata.csv`` and ``images/<study_id>/<image_id>.dicom``, with VinDr's codes ("DENSITY C", "BI-RADS 4",
  ``['Mass']``, splits "training"/"test") and hashed ids.
"""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mammo_lib.vocab import READER_COLUMNS

#: Generator seed of these fixtures (neither the twin's 20231027 nor the training cohort's 20190401).
SEED = 4242
N_PATIENTS = 8
#: Splits of the hospital export, by patient (in generation order). Patients 1, 2, 7 and 8 have a malignant mass:
#: the test role (1, 7) holds 2 malignant and 2 benign masses (Table 4 and DeLong need 2 of each), the val role
#: (2) one of each, the train role (3-6, 8) both classes.
HOSPITAL_SPLITS = ("test", "val", "train", "train", "train", "train", "test", "train")


@dataclass(frozen=True)
class Source:
    """Generated images and their tables (generator ids, paths relative to ``root``)."""

    root: Path
    manifest: pd.DataFrame
    findings: pd.DataFrame


def generate_source(root: Path, n_patients: int = N_PATIENTS, seed: int = SEED) -> Source:
    """Render ``n_patients`` of a sampled cohort (the training-cohort recipe, another seed) into ``root``.

    Phantom v1 (about 0.3 s a view at its coarse pitch): these fixtures test the pipeline's handling of a
    user's cohort, not the realism of the images, and the suite renders them several times.
    """
    from mammo_lib.synth import config, generate

    cfg = config.train_config(n_patients, seed=seed).with_(val_fraction=0.0, phantom="v1")
    manifest, findings, _ = generate.generate(cfg, root, workers=1)
    return Source(root, manifest, findings)


def _digest(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:32]


def hospital_export(source: Source, root: Path) -> Path:
    """Write the hospital-style export under ``root``; returns its cohort file (``root/cohort.yaml``)."""
    rng = np.random.default_rng(SEED)
    patients = list(dict.fromkeys(source.manifest["patient_id"]))
    new_patient = {p: f"MRN-{7000 + 13 * i}" for i, p in enumerate(patients)}
    split_of = dict(zip(patients, HOSPITAL_SPLITS))
    images, ids = [], {}
    for number, row in enumerate(source.manifest.itertuples(index=False), start=1):
        folder = Path("export") / f"2019-{number % 3 + 10:02d}" / row.vendor.upper() / f"ACC{9000 + patients.index(row.patient_id)}"
        name = f"IM{number:05d}_{_digest(row.image_id)[:6]}.DCM"
        (root / folder).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source.root / row.image_path, root / folder / name)
        image_id = f"I{number:04d}"
        ids[row.image_id] = image_id
        images.append({
            "patient_id": new_patient[row.patient_id], "study_id": f"ACC{9000 + patients.index(row.patient_id)}",
            "image_id": image_id, "laterality": row.laterality, "view": row.view, "age": row.age,
            "breast_density": row.breast_density, "vendor": row.vendor, "image_path": (folder / name).as_posix(),
            "sha256": row.sha256, "split": split_of[row.patient_id], "notes": "reviewed" if number % 5 == 0 else "",
        })
    pd.DataFrame(images).to_csv(root / "hospital_manifest.csv", index=False)
    findings = source.findings.assign(image_id=source.findings["image_id"].map(ids), mask_path="")
    findings["mass_id"] = "L-" + findings["mass_id"].str.replace("-", "", regex=False)
    # two junior readers and the senior consensus read only some of the masses (the first ones of each patient)
    masses = sorted(findings["mass_id"].unique())
    read = {m for i, m in enumerate(masses) if i % 3 != 2}
    birads = ("2", "3", "4A", "4B", "4C", "5")
    for column in READER_COLUMNS:
        values = {}
        for mass in masses:
            if mass not in read:
                values[mass] = ""
            elif column.endswith("_detected"):
                values[mass] = "yes" if rng.random() < 0.8 else "no"
            else:
                values[mass] = birads[int(rng.integers(0, len(birads)))]
        findings[column] = findings["mass_id"].map(values)
    findings.to_csv(root / "hospital_findings.csv", index=False)
    (root / "cohort.yaml").write_text(
        "# A hospital's own export, verified with `mammo verify --cohort cohort.yaml`\n"
        "name: hospital-export\n"
        "manifest: hospital_manifest.csv\n"
        "findings: hospital_findings.csv\n"
        "data_root: .\n"
        f"allow_missing: [{', '.join(READER_COLUMNS)}]   # readers read some masses only\n"
        "splits: {train: [train], val: [val], test: [test]}\n"
        "weights: shipped\n"
    )
    return root / "cohort.yaml"


#: VinDr-Mammo's column headers (breast-level_annotations.csv, finding_annotations.csv, metadata.csv).
VINDR_BREAST = ("study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
                "breast_birads", "breast_density", "split")
VINDR_FINDING = ("study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
                 "breast_birads", "breast_density", "finding_categories", "finding_birads", "xmin", "ymin", "xmax",
                 "ymax", "split")
VINDR_METADATA = ("Series Instance UID", "SOP Instance UID", "Patient's Age", "View Position", "Image Laterality",
                  "Photometric Interpretation", "Rows", "Columns", "Manufacturer", "Manufacturer's Model Name")
#: Which generated patients are in VinDr's "test" split (the others "training").
VINDR_TEST = 2


def vindr_layout(source: Source, root: Path) -> Path:
    """Write the VinDr-Mammo-style data set under ``root`` and return ``root``."""
    import pydicom

    patients = list(dict.fromkeys(source.manifest["patient_id"]))
    test = set(patients[-VINDR_TEST:])
    mass_views = source.findings.groupby("image_id")
    breast_birads: dict[tuple[str, str], str] = {}
    for row in source.findings.merge(source.manifest[["image_id", "patient_id", "laterality"]], on="image_id").itertuples():
        key = (row.patient_id, row.laterality)
        breast_birads[key] = max(breast_birads.get(key, "1"), str(row.birads)[0])
    breast_rows, finding_rows, metadata_rows = [], [], []
    for row in source.manifest.itertuples(index=False):
        study, series, image = _digest("study", row.study_id), _digest("series", row.image_id), _digest("image", row.image_id)
        (root / "images" / study).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source.root / row.image_path, root / "images" / study / f"{image}.dicom")
        header = pydicom.dcmread(source.root / row.image_path, stop_before_pixels=True)
        common = {"study_id": study, "series_id": series, "image_id": image, "laterality": row.laterality,
                  "view_position": row.view, "height": int(header.Rows), "width": int(header.Columns),
                  "breast_birads": f"BI-RADS {breast_birads.get((row.patient_id, row.laterality), '1')}",
                  "breast_density": f"DENSITY {row.breast_density.upper()}",
                  "split": "test" if row.patient_id in test else "training"}
        breast_rows.append(common)
        views = mass_views.get_group(row.image_id) if row.image_id in mass_views.groups else None
        if views is None:
            finding_rows.append({**common, "finding_categories": "['No Finding']", "finding_birads": ""})
        else:
            for mass in views.itertuples():
                categories = "['Mass', 'Suspicious Calcification']" if mass.margin == "spiculated" else "['Mass']"
                finding_rows.append({**common, "finding_categories": categories,
                                     "finding_birads": f"BI-RADS {str(mass.birads)[0]}",
                                     "xmin": float(mass.x0) + 0.37, "ymin": float(mass.y0) + 0.61,
                                     "xmax": float(mass.x1) - 0.52, "ymax": float(mass.y1) - 0.25})
        metadata_rows.append({"Series Instance UID": series, "SOP Instance UID": image,
                              "Patient's Age": f"{int(row.age):03d}Y", "View Position": row.view,
                              "Image Laterality": row.laterality, "Photometric Interpretation":
                              str(header.PhotometricInterpretation), "Rows": int(header.Rows),
                              "Columns": int(header.Columns), "Manufacturer": str(header.get("Manufacturer", "")),
                              "Manufacturer's Model Name": str(header.get("ManufacturerModelName", ""))})
    pd.DataFrame(breast_rows, columns=list(VINDR_BREAST)).to_csv(root / "breast-level_annotations.csv", index=False)
    pd.DataFrame(finding_rows, columns=list(VINDR_FINDING)).to_csv(root / "finding_annotations.csv", index=False)
    pd.DataFrame(metadata_rows, columns=list(VINDR_METADATA)).to_csv(root / "metadata.csv", index=False)
    return root
