"""Vendor encodings of a rendered view and the project's one DICOM MG writer.

:func:`encode` turns a presentation image (float in [0, 1], 1 = most attenuating) into a vendor's stored
values and VOI (window, SIGMOID window, or a VOI LUT Sequence; MONOCHROME1 or 2; 12/14/16 bits).
:func:`write_mg` writes a Digital Mammography X-Ray Image Storage - For Presentation object
(PS3.3 A.26, PS3.4 B.5) with deterministic UIDs, RLE Lossless compressed (pylibjpeg-rle), so that the same
inputs give the same file bytes.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mammo_lib.errors import MammoError
from mammo_lib.synth import ihe_mammo
from mammo_lib.synth.config import VendorProfile

#: SOP class "Digital Mammography X-Ray Image Storage - For Presentation" (PS3.4 B.5).
MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
#: View Code Sequence codes, SNOMED CT (PS3.16 CID 4014).
VIEW_CODES = {"CC": ("399162004", "cranio-caudal"), "MLO": ("399368009", "medio-lateral oblique")}
#: Patient Orientation (0020,0020) of each laterality/view as written (PS3.3 C.8.11.1.1.1): right breasts
#: are mirrored (nipple pointing left), lateral side up on CC, superior up on MLO.
PATIENT_ORIENTATION = {("L", "CC"): ("A", "R"), ("R", "CC"): ("P", "L"),
                       ("L", "MLO"): ("A", "F"), ("R", "MLO"): ("P", "F")}
#: Bits per entry of the VOI LUT written for "lut" vendors (LUTDescriptor third value).
LUT_OUTPUT_BITS = 12


@dataclass(frozen=True)
class Encoded:
    """Stored pixel values plus the VOI attributes that display them."""

    stored: np.ndarray  # uint16
    window: tuple[float, float] | None  # (centre, width) in stored values
    voi_function: str | None  # "SIGMOID" or None (LINEAR)
    lut: tuple[int, np.ndarray] | None  # (first stored value mapped, uint16 table)
    #: The stored value of every pixel outside the breast (presentation 0): the Pixel Padding Value.
    padding: int | None = None


def encode(presentation: np.ndarray, breast: np.ndarray, profile: VendorProfile, full_range: bool = False) -> Encoded:
    """Quantise ``presentation`` to ``profile``'s bit depth and photometric and choose its VOI.

    The window spans the breast's own 0.5-99.8 percentile values (what a vendor's auto-windowing
    does); the "lut" vendor carries the same range as a gently S-shaped VOI LUT table. ``full_range``
    (phantom v2) spans the breast's whole range instead, so that no breast pixel clips in display.
    """
    if presentation.shape != breast.shape:
        raise MammoError(f"encode: image {presentation.shape} and breast mask {breast.shape} differ in shape")
    if not np.isfinite(presentation).all():
        raise MammoError("encode: the rendered image contains NaN or infinite values")
    top = (1 << profile.bits_stored) - 1
    value = np.rint(np.clip(presentation, 0.0, 1.0) * (0.96 * top) + 0.02 * top)
    pct = [0.0, 100.0] if full_range else [0.5, 99.8]
    lo, hi = np.percentile(value[breast], pct) if breast.any() else (0.0, float(top))
    hi = max(hi, lo + 16.0)
    window = (0.5 * (lo + hi), 1.1 * (hi - lo))
    if profile.photometric == "MONOCHROME1":
        value = top - value
        window = (top - window[0], window[1])
    stored = value.astype(np.uint16)
    padding = int(np.rint(0.02 * top))  # where presentation is 0 (outside the breast)
    if profile.photometric == "MONOCHROME1":
        padding = top - padding
    if profile.voi == "window":
        return Encoded(stored, (round(window[0], 1), round(window[1], 1)), None, None, padding)
    if profile.voi == "sigmoid":
        return Encoded(stored, (round(window[0], 1), round(window[1], 1)), "SIGMOID", None, padding)
    if profile.voi == "lut":
        first = int(max(0, lo - 0.05 * (hi - lo)))
        last = int(min(top, hi + 0.05 * (hi - lo)))
        x = (np.arange(first, last + 1, dtype=np.float64) - first) / max(last - first, 1)
        s_curve = x * x * (3.0 - 2.0 * x)  # smoothstep: the soft toe and shoulder of a display curve
        curve = 0.7 * x + 0.3 * s_curve
        table = np.rint(curve * ((1 << LUT_OUTPUT_BITS) - 1)).astype(np.uint16)
        return Encoded(stored, None, None, (first, table), padding)
    raise MammoError(f"encode: vendor {profile.name!r} has unknown voi {profile.voi!r} (window, sigmoid, lut)")


#: Namespace of the project's name-based UUIDs (uuid5 of the project name in the URL namespace).
UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "mammo-companion/synthetic-twin")


def deterministic_uid(*parts: object) -> str:
    """A UID ``2.25.<uuid as integer>`` from a name-based (v5) UUID of ``parts``: same parts, same UID.

    PS3.5 B.2 derives UIDs from UUIDs this way; pydicom's ``generate_uid(prefix=None)`` would be random.
    """
    return f"2.25.{uuid.uuid5(UID_NAMESPACE, '/'.join(str(p) for p in parts)).int}"


def source_image_uid(tags: ImageTags) -> str:
    """SOP Instance UID of the (unwritten) For Processing image that a view's For Presentation image was made
    from: its Source Image Sequence item (IHE Mammography profile)."""
    return deterministic_uid("image-for-processing", tags.seed, tags.image_id)


@dataclass(frozen=True)
class ImageTags:
    """The patient/study/image attributes of one written view (pseudonymous)."""

    patient_id: str
    age: int
    study_id: str
    study_date: str  # YYYYMMDD
    laterality: str
    view: str
    image_id: str
    seed: int
    instance_number: int


#: Anatomic Region / Organ Exposed code of the breast (SNOMED CT 76752008 "Breast", PS3.16 CID 4013) and
#: the Image Laterality code of each side (PS3.16 CID 244).
BREAST_CODE = ("76752008", "SCT", "Breast")
LATERALITY_CODES = {"L": ("7771000", "SCT", "Left"), "R": ("24028007", "SCT", "Right")}


def _code(value: str, scheme: str, meaning: str):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def add_conformance(ds) -> None:
    """Attributes the Digital Mammography X-Ray Image IOD (PS3.3 A.26) requires beyond phantom v1's header.

    Each line answers one ``dciodvfy`` error of the v1 files: Laterality (0020,0060) is not allowed in the
    General Series of a paired-organ MG image that carries Image Laterality (C.7.3.1); Anatomic Region
    Sequence (General Image / General Anatomy Mandatory, with its laterality modifier), Presentation LUT
    Shape (DX Image, C.8.11.1), Pixel Spacing Calibration Description (Basic Pixel Spacing Calibration
    macro, required with a calibration type), Positioner Type and Organ Exposed (Mammography Image,
    C.8.11.7), an empty View Modifier Code Sequence and an empty Acquisition Context Sequence (Type 2).
    """
    from pydicom.sequence import Sequence

    laterality = ds.ImageLaterality
    if "Laterality" in ds:
        del ds.Laterality
    region = _code(*BREAST_CODE)
    region.AnatomicRegionModifierSequence = Sequence([_code(*LATERALITY_CODES[laterality])])
    ds.AnatomicRegionSequence = Sequence([region])
    # DX Image: IDENTITY for MONOCHROME2, INVERSE for MONOCHROME1 (PS3.3 C.8.11.1.1.1)
    ds.PresentationLUTShape = "INVERSE" if ds.PhotometricInterpretation == "MONOCHROME1" else "IDENTITY"
    ds.PixelSpacingCalibrationDescription = "Detector pitch at the breast support (synthetic geometry)"
    ds.PositionerType = "MAMMOGRAPHIC"
    ds.OrganExposed = "BREAST"
    ds.ViewCodeSequence[0].ViewModifierCodeSequence = Sequence([])
    ds.AcquisitionContextSequence = Sequence([])


def write_mg(path: str | Path, enc: Encoded, profile: VendorProfile, tags: ImageTags,
             conformant: bool = False, exposure=None) -> None:
    """Write one MG For Presentation file, RLE Lossless, with deterministic UIDs and no real identifier.

    ``conformant`` (phantom v2) adds what the IOD requires beyond phantom v1's header (:func:`add_conformance`);
    the committed v1 twin is written without it so that its checksums stay those committed. With it, an
    ``exposure`` (:class:`mammo_lib.synth.dosimetry.Exposure` of the view) adds what the IHE Mammography Image
    profile requires (:func:`mammo_lib.synth.ihe_mammo.add_ihe_mammo`): equipment, technique, dose, source image.
    """
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import RLELossless

    if tags.view not in VIEW_CODES or (tags.laterality, tags.view) not in PATIENT_ORIENTATION:
        raise MammoError(f"write_mg: unknown laterality/view {tags.laterality!r}/{tags.view!r}")
    rows, cols = enc.stored.shape
    study_uid = deterministic_uid("study", tags.seed, tags.study_id)
    series_uid = deterministic_uid("series", tags.seed, tags.study_id, tags.laterality, tags.view)
    sop_uid = deterministic_uid("image", tags.seed, tags.image_id)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MG_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = RLELossless

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = tags.study_date
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "090000"
    ds.AccessionNumber = tags.study_id
    ds.Modality = "MG"
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Manufacturer = profile.manufacturer
    ds.ManufacturerModelName = profile.model
    ds.InstitutionName = "Synthetic twin (mammo-companion)"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "Diagnostic mammography (synthetic)"
    ds.SeriesDescription = f"{tags.laterality} {tags.view}"
    ds.PatientName = tags.patient_id
    ds.PatientID = tags.patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = "F"
    ds.PatientAge = f"{tags.age:03d}Y"
    ds.BodyPartExamined = "BREAST"
    ds.KVP = profile.kvp
    ds.AnodeTargetMaterial = profile.anode
    ds.FilterMaterial = profile.filter
    ds.DetectorType = "DIRECT"
    ds.ImagerPixelSpacing = [profile.pixel_spacing_mm, profile.pixel_spacing_mm]
    ds.PixelSpacing = [profile.pixel_spacing_mm, profile.pixel_spacing_mm]
    ds.PixelSpacingCalibrationType = "GEOMETRY"
    ds.EstimatedRadiographicMagnificationFactor = 1.0
    ds.BreastImplantPresent = "NO"  # implants were an exclusion criterion (paper, Methods)
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = tags.study_id
    ds.SeriesNumber = 1
    ds.InstanceNumber = tags.instance_number
    ds.PatientOrientation = list(PATIENT_ORIENTATION[(tags.laterality, tags.view)])
    ds.ImageLaterality = tags.laterality
    ds.Laterality = tags.laterality
    ds.ViewPosition = tags.view
    code = Dataset()
    code.CodeValue, code.CodeMeaning = VIEW_CODES[tags.view]
    code.CodingSchemeDesignator = "SCT"
    ds.ViewCodeSequence = Sequence([code])
    ds.BurnedInAnnotation = "NO"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = profile.photometric
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated = 16
    ds.BitsStored = profile.bits_stored
    ds.HighBit = profile.bits_stored - 1
    ds.PixelRepresentation = 0
    ds.PixelIntensityRelationship = "LOG"
    # +1: higher stored values mean more X-ray intensity (MONOCHROME1); -1 the reverse (PS3.3 C.8.11.3.1.2)
    ds.PixelIntensityRelationshipSign = 1 if profile.photometric == "MONOCHROME1" else -1
    ds.RescaleIntercept = 0
    ds.RescaleSlope = 1
    ds.RescaleType = "US"
    ds.LossyImageCompression = "00"
    if enc.window is not None:
        ds.WindowCenter, ds.WindowWidth = enc.window
        ds.VOILUTFunction = enc.voi_function or "LINEAR"
    if enc.lut is not None:
        first, table = enc.lut
        item = Dataset()
        item.LUTDescriptor = [len(table) if len(table) < 65536 else 0, first, LUT_OUTPUT_BITS]
        item.add_new(0x00283006, "OW", table.astype("<u2").tobytes())
        item.LUTExplanation = f"{profile.name} display curve (synthetic)"
        ds.VOILUTSequence = Sequence([item])
    if conformant:
        add_conformance(ds)
        if exposure is not None:
            if enc.padding is None:
                raise MammoError(f"write_mg: {tags.image_id} has no padding value (encode it with acquisition.encode)")
            ihe_mammo.add_ihe_mammo(ds, enc.padding, profile.name, tags, source_image_uid(tags), exposure)
    ds.PixelData = enc.stored.tobytes()
    # keep our deterministic SOP Instance UID (pydicom would draw a new random one on compression)
    ds.compress(RLELossless, enc.stored, encoding_plugin="pylibjpeg", generate_instance_uid=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
