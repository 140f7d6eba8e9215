"""DICOM Comprehensive SR (TID 1500 Measurement Report) of one analysed exam, written with highdicom.

One *Planar ROI Measurements and Qualitative Evaluations* group (TID 1410) per view of each detected mass: the box
as a closed POLYLINE in the source image's pixel coordinates (SCOORD, PS3.3 C.18.6.1.2: (0, 0) is the top-left
corner of the top-left pixel, the project's own convention), referencing that image; finding "Mammographic breast
mass" (SCT 129788004); measurements *Probability of cancer* (DCM 111047, the 0-100 malignancy score, in %) and
the detection score; qualitative evaluations shape, margin and mass density with their BI-RADS codes (PS3.16 CID
6005, 6007, 6009) and the BI-RADS category. Concepts without a standard code use the private scheme ``99MAMMO``.
An exam without a detected mass gets one TID 1501 group saying so (TID 1500 needs at least one group).

What the models are goes into every report, with or without masses (the result's ``models`` block,
:mod:`mammo_lib.models.provenance`): the algorithm identification (TID 4019: both models' names, the software
version, each weights file with its sha256 as parameters) in each finding group, the device observer's model name,
and TID 1500's *Qualitative Evaluations* container (UMLS C0034375) with TEXT items: the intended use (research use,
not for clinical decisions, and the training data: synthetic only when the model cards say so) and each model's
training data as its card states it.

What is copied from the source exam: the UIDs that reference it (study, series, SOP instances) and the Patient
module's four type-2 attributes (name, ID, birth date, sex), so a PACS files the report with the images; with
``deidentify=True`` those four are written empty. The General Study module's other type-2 attributes (study date
and time, referring physician, study ID, accession number) are written empty; nothing else of the source header
(institution, descriptions, operators, dates) is copied.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import highdicom as hd
import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from mammo_lib import __version__
from mammo_lib.errors import MammoError

PRIVATE_SCHEME = "99MAMMO"
#: Patient module attributes copied from the source (type 2 in every IOD: present, possibly empty).
PATIENT_ATTRIBUTES = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex")
#: Type-2 General Study attributes: written empty (the study is identified by its UID).
EMPTY_STUDY_ATTRIBUTES = ("StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber")
#: Referencing attributes copied from each source image.
REFERENCE_ATTRIBUTES = ("SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID", "Modality")

SHAPE_CODES = {"round": codes.SCT.RoundShape, "oval": hd.sr.CodedConcept("84360004", "SCT", "Ovoid shape (Oval)"),
               "irregular": codes.SCT.Irregular}
MARGIN_CODES = {
    "circumscribed": hd.sr.CodedConcept("129738007", "SCT", "Circumscribed lesion"),
    "obscured": hd.sr.CodedConcept("129740002", "SCT", "Obscured lesion"),
    "microlobulated": hd.sr.CodedConcept("129739004", "SCT", "Microlobulated lesion"),
    "indistinct": hd.sr.CodedConcept("129741003", "SCT", "Indistinct lesion"),
    "spiculated": hd.sr.CodedConcept("129742005", "SCT", "Spiculated lesion"),
}
DENSITY_CODES = {
    "high": hd.sr.CodedConcept("129744006", "SCT", "High density lesion"),
    "equal": hd.sr.CodedConcept("129745007", "SCT", "Equal density (isodense) lesion"),
    "low": hd.sr.CodedConcept("129746008", "SCT", "Low density (not containing fat) lesion"),
    "fat-containing": hd.sr.CodedConcept("129747004", "SCT", "Fat containing (radiolucent) lesion"),
}
MASS_FINDING = hd.sr.CodedConcept("129788004", "SCT", "Mammographic breast mass")
PROBABILITY_OF_CANCER = codes.DCM.ProbabilityOfCancer
DETECTION_SCORE = hd.sr.CodedConcept("DETSCORE", PRIVATE_SCHEME, "IFN detection probability")
MARGIN = hd.sr.CodedConcept("MARGIN", PRIVATE_SCHEME, "Mass margin")
MASS_DENSITY = hd.sr.CodedConcept("MASSDENS", PRIVATE_SCHEME, "Mass density")
BIRADS = hd.sr.CodedConcept("BIRADS", PRIVATE_SCHEME, "BI-RADS assessment category")
DL_CALL = hd.sr.CodedConcept("DLCALL", PRIVATE_SCHEME, "DL classification at the operating threshold")
CALLS = {True: hd.sr.CodedConcept("POS", PRIVATE_SCHEME, "Positive (BI-RADS 4A-5)"),
         False: hd.sr.CodedConcept("NEG", PRIVATE_SCHEME, "Negative (BI-RADS 1-3)")}
MASS_SEARCH = hd.sr.CodedConcept("MASSSEARCH", PRIVATE_SCHEME, "Mass detection result")
NO_MASS = hd.sr.CodedConcept("NOMASS", PRIVATE_SCHEME, "No mass detected at the operating point")
QUALITATIVE_EVALUATIONS = hd.sr.CodedConcept("C0034375", "UMLS", "Qualitative Evaluations")
INTENDED_USE = hd.sr.CodedConcept("INTUSE", PRIVATE_SCHEME, "Intended use")
TRAINING_DATA = hd.sr.CodedConcept("TRAINDATA", PRIVATE_SCHEME, "Training data")
PERCENT = hd.sr.CodedConcept("%", "UCUM", "percent")
NO_UNITS = hd.sr.CodedConcept("1", "UCUM", "no units")


def birads_code(category: str) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(f"BIRADS{category}", PRIVATE_SCHEME, f"BI-RADS {category}")


def reference_dataset(path: str | Path, *, deidentify: bool = False) -> Dataset:
    """The minimal evidence of one source image: its referencing UIDs and the Patient module (see module doc)."""
    source = dcmread(path, stop_before_pixels=True)
    missing = [k for k in REFERENCE_ATTRIBUTES if not source.get(k)]
    if missing:
        raise MammoError(f"{Path(path).name}: lacks {missing}; a DICOM SR cannot reference it")
    ds = Dataset()
    for keyword in REFERENCE_ATTRIBUTES:
        setattr(ds, keyword, source[keyword].value)
    for keyword in PATIENT_ATTRIBUTES:
        setattr(ds, keyword, "" if deidentify else source.get(keyword, ""))
    for keyword in EMPTY_STUDY_ATTRIBUTES:
        setattr(ds, keyword, "")
    ds.Rows, ds.Columns = int(source.Rows), int(source.Columns)
    return ds


def _polyline(box: Sequence[float], rows: int, columns: int) -> np.ndarray:
    x0, y0, x1, y1 = (float(v) for v in box)
    x0, x1 = np.clip([x0, x1], 0, columns)
    y0, y1 = np.clip([y0, y1], 0, rows)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], dtype=np.float32)


def algorithm_identification(models: dict[str, Any]) -> hd.sr.AlgorithmIdentification:
    """TID 4019 of the system from a result's ``models`` block: both models' names, the software version, and each
    weights file with its sha256 as a parameter."""
    from mammo_lib.models.provenance import ROLES

    return hd.sr.AlgorithmIdentification(
        name=" + ".join(models[role]["name"] for role in ROLES), version=__version__,
        parameters=[f"{role} weights {models[role]['weights']} sha256 {models[role]['sha256']}" for role in ROLES])


def provenance_items(models: dict[str, Any]) -> hd.sr.ContainerContentItem:
    """TID 1500's Qualitative Evaluations container: the intended use, then each model's training data (its card's
    data line per stage, the last stage first)."""
    from mammo_lib.models.provenance import ROLES

    container = hd.sr.ContainerContentItem(name=QUALITATIVE_EVALUATIONS, relationship_type="CONTAINS")
    items = [hd.sr.TextContentItem(name=INTENDED_USE, value=models["intended_use"], relationship_type="CONTAINS")]
    for role in ROLES:
        m = models[role]
        stages = "; then ".join(f"{s['stage']}: {s['data']}" for s in reversed(m["training_data"]))
        synthetic = "synthetic images only" if m["synthetic_training_data_only"] else "as stated by the model card"
        items.append(hd.sr.TextContentItem(
            name=TRAINING_DATA, relationship_type="CONTAINS",
            value=f"{role} {m['name']} (sha256 {m['sha256']}), {synthetic}: {stages}"))
    container.ContentSequence = hd.sr.ContentSequence(items)
    return container


def build_report(result: dict[str, Any], sources: dict[str, str | Path], *, deidentify: bool = False,
                 series_number: int = 900) -> Dataset:
    """The Comprehensive SR of one :func:`mammo_lib.system.exam.analyze_exam` result; ``sources`` maps each view name
    (RCC, LCC, RMLO, LMLO) to its DICOM file. The result's ``models`` block is required: a report always says
    what made it and what it is for."""
    if not sources:
        raise MammoError(f"exam {result['exam']}: no DICOM source images (PNG/TIFF input): no DICOM SR written")
    if not result.get("models"):
        raise MammoError(f"exam {result['exam']}: the result has no models block (provenance and intended use); "
                         "no DICOM SR written")
    evidence = {view: reference_dataset(path, deidentify=deidentify) for view, path in sources.items()}
    # images of other studies (CBIS-DDSM stores each view as its own study) are referenced as pertinent other
    # evidence by highdicom; the report belongs to the study of the first view
    algorithm = algorithm_identification(result["models"])
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name="mammo analyze", manufacturer_name="mammo-companion",
            model_name=result["models"]["software"]))
    groups = []
    for mass in result["masses"]:
        uid = hd.UID()
        for view, v in mass["views"].items():
            if view not in evidence:
                continue
            ref = evidence[view]
            region = hd.sr.ImageRegion(graphic_type=hd.sr.GraphicTypeValues.POLYLINE,
                                       graphic_data=_polyline(v["box"], int(ref.Rows), int(ref.Columns)),
                                       source_image=hd.sr.SourceImageForRegion.from_source_image(ref))
            measurements = [
                # the algorithm is identified once per group (TID 1410), not again in each measurement
                hd.sr.Measurement(name=PROBABILITY_OF_CANCER, value=float(mass["malignancy_score"]), unit=PERCENT),
                hd.sr.Measurement(name=DETECTION_SCORE, value=float(v["detection_score"]), unit=NO_UNITS),
            ]
            evaluations = [
                hd.sr.QualitativeEvaluation(codes.SCT.Shape, SHAPE_CODES[mass["morphology"]]),
                hd.sr.QualitativeEvaluation(MARGIN, MARGIN_CODES[mass["margin"]]),
                hd.sr.QualitativeEvaluation(MASS_DENSITY, DENSITY_CODES[mass["mass_density"]]),
                hd.sr.QualitativeEvaluation(BIRADS, birads_code(mass["birads"])),
                hd.sr.QualitativeEvaluation(DL_CALL, CALLS[bool(mass["dl_positive"])]),
            ]
            groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
                tracking_identifier=hd.sr.TrackingIdentifier(uid=uid, identifier=f"{mass['mass']} {view}"),
                referenced_region=region, finding_type=MASS_FINDING, algorithm_id=algorithm,
                measurements=measurements, qualitative_evaluations=evaluations))
    if not groups:  # TID 1500 needs a measurement group: one TID 1501 group saying that no mass was detected
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="no mass"), algorithm_id=algorithm,
            qualitative_evaluations=[hd.sr.QualitativeEvaluation(MASS_SEARCH, NO_MASS)]))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=codes.SCT.Mammography, imaging_measurements=groups)
    report[0].ContentSequence.append(provenance_items(result["models"]))
    sr = hd.sr.ComprehensiveSR(
        evidence=list(evidence.values()), content=report, series_instance_uid=hd.UID(), series_number=series_number,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="mammo-companion", is_complete=True,
        series_description="mammo analyze: detected masses (research use only)")
    return sr


def write_report(result: dict[str, Any], sources: dict[str, str | Path], path: Path, *,
                 deidentify: bool = False) -> Path:
    """Build and save the SR of one exam (``path``, written whole or not at all)."""
    sr = build_report(result, sources, deidentify=deidentify)
    tmp = path.with_suffix(".tmp")
    sr.save_as(tmp, enforce_file_format=True)
    tmp.replace(path)
    return path
