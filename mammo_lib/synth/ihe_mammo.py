"""What the IHE Mammography Image (MAMMO) profile asks of a for-presentation MG image, for the synthetic twin.

``dciodvfy -profile IHEMammo`` checks, beyond the Digital Mammography IOD (PS3.3 A.26): patient birth date
and age, acquisition date/time, operator, institution address, the unit's identity (station, serial,
detector, software, last detector calibration), technique (kVp, mAs, exposure time, target/filter,
compression force, thickness, positioner angle, relative exposure), dose (entrance dose and organ dose),
Pixel Padding Value, and for a for-presentation image its source (the for-processing image it was made
from) and an explanation of every window. Every value here is synthetic and deterministic: the same view
gives the same header on every machine.
"""
from __future__ import annotations

import datetime as dt
import hashlib

from mammo_lib.errors import MammoError
from mammo_lib.synth.config import DEVICES

#: SOP class "Digital Mammography X-Ray Image Storage - For Processing" (PS3.4 B.5): the source of each
#: for-presentation image.
MG_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
#: Positioner Primary Angle (deg) of the MLO view: the C-arm at 45 deg (typical 40-60 deg), its sign by the
#: side (right +, left -). Sign convention: choice (vendors differ); CC is 0.
MLO_ANGLE_DEG = 45.0
#: Synthetic operator and address: say what they are, name no one.
OPERATOR = "SYNTHETIC^TECHNOLOGIST"
INSTITUTION_ADDRESS = "Synthetic twin (mammo-companion); no real site"


def _fraction(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts`` (SHA-256 of their names): for header values that no
    random stream of the render may draw (the pixels must not change)."""
    digest = hashlib.sha256("/".join(["mammo-companion", *map(str, parts)]).encode()).digest()
    return int.from_bytes(digest[:8], "big") / float(1 << 64)


def _date(text: str, what: str) -> dt.date:
    try:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    except ValueError as exc:
        raise MammoError(f"ihe_mammo: {what} must be a YYYYMMDD date, got {text!r}") from exc


def birth_date(study_date: str, age: int, patient_id: str) -> str:
    """A birth date (YYYYMMDD) at which the patient is ``age`` completed years old on ``study_date``.

    The day within that year of life is drawn from the patient id (same patient, same birth date).
    """
    study = _date(study_date, "study_date")
    if not 0 < age < 130:
        raise MammoError(f"ihe_mammo: age must be 1-129 years, got {age!r}")
    try:
        anniversary = study.replace(year=study.year - age)
    except ValueError:  # 29 February in a year that has none
        anniversary = study.replace(year=study.year - age, day=28)
    born = anniversary - dt.timedelta(days=int(_fraction("birth", patient_id) * 365))
    return born.strftime("%Y%m%d")


def age_on(birth: str, study_date: str) -> int:
    """Completed years between ``birth`` and ``study_date`` (both YYYYMMDD)."""
    b, s = _date(birth, "birth"), _date(study_date, "study_date")
    return s.year - b.year - ((s.month, s.day) < (b.month, b.day))


def last_calibration_date(study_date: str) -> str:
    """The detector's last calibration: the Monday on or before the study date (weekly flat-field; choice)."""
    study = _date(study_date, "study_date")
    return (study - dt.timedelta(days=study.weekday())).strftime("%Y%m%d")


def positioner_primary_angle(laterality: str, view: str) -> float:
    """Positioner Primary Angle (deg) of a view: 0 for CC, +-:data:`MLO_ANGLE_DEG` for MLO by side."""
    if view == "CC":
        return 0.0
    if view == "MLO" and laterality in ("R", "L"):
        return MLO_ANGLE_DEG if laterality == "R" else -MLO_ANGLE_DEG
    raise MammoError(f"ihe_mammo: unknown laterality/view {laterality!r}/{view!r}")


def compression_force_n(vendor: str, image_id: str) -> float:
    """The view's compression force (N), drawn from the device's range by the image id (deterministic)."""
    lo, hi = DEVICES[vendor].compression_force_n
    return round(lo + (hi - lo) * _fraction("force", image_id), 1)


def _ds(value: float, digits: int) -> str:
    """A Decimal String of at most 16 characters."""
    text = f"{value:.{digits}f}"
    if len(text) > 16:
        raise MammoError(f"ihe_mammo: value {value!r} does not fit a 16-character DS")
    return text


def add_ihe_mammo(ds, padding: int, vendor: str, tags, source_uid: str, exposure) -> None:
    """Add to ``ds`` (a conformant MG For Presentation dataset) what the IHE Mammography profile requires.

    ``padding`` is the stored value outside the breast, ``tags`` the view's
    :class:`mammo_lib.synth.acquisition.ImageTags`, ``source_uid`` the SOP Instance UID of the for-processing
    image it was made from, ``exposure`` its :class:`mammo_lib.synth.dosimetry.Exposure` (technique and dose).
    """
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    if vendor not in DEVICES:
        raise MammoError(f"ihe_mammo: no synthetic device for vendor {vendor!r} (known: {sorted(DEVICES)})")
    device = DEVICES[vendor]
    ds.PatientBirthDate = birth_date(tags.study_date, tags.age, tags.patient_id)
    ds.AcquisitionDate = tags.study_date
    # views of one exam a minute apart, in instance order, from 09:00
    ds.AcquisitionTime = f"09{tags.instance_number - 1:02d}00"
    ds.OperatorsName = OPERATOR
    ds.InstitutionAddress = INSTITUTION_ADDRESS
    ds.StationName = device.station_name
    ds.DeviceSerialNumber = device.device_serial_number
    ds.SoftwareVersions = device.software_versions
    ds.DetectorID = device.detector_id
    ds.DateOfLastDetectorCalibration = last_calibration_date(tags.study_date)
    # technique and geometry (dosimetry.exposure)
    ds.XRayTubeCurrent = int(round(exposure.tube_current_ma))
    ds.ExposureTime = max(1, int(round(exposure.exposure_time_ms)))
    ds.Exposure = max(1, int(round(exposure.mas)))
    ds.ExposureInuAs = int(round(exposure.mas * 1000.0))
    ds.BodyPartThickness = _ds(exposure.thickness_mm, 1)
    ds.CompressionForce = _ds(compression_force_n(vendor, tags.image_id), 1)
    ds.PositionerPrimaryAngle = _ds(positioner_primary_angle(tags.laterality, tags.view), 1)
    ds.DistanceSourceToDetector = _ds(exposure.source_to_detector_mm, 1)
    # an exposure index after IEC 62494-1: 100 x the air kerma at the detector in uGy
    ds.RelativeXRayExposure = int(round(100.0 * exposure.detector_kerma_ugy))
    ds.HalfValueLayer = _ds(exposure.hvl_mm_al, 3)
    ds.EntranceDoseInmGy = _ds(exposure.esak_mgy, 3)
    ds.OrganDose = _ds(exposure.agd_mgy, 3)
    ds.CommentsOnRadiationDose = (f"Synthetic AEC; breast {exposure.thickness_mm:.1f} mm, glandular volume fraction "
                                  f"{exposure.glandular_fraction:.3f}; AGD = ESAK x g x c x s (Dance et al. PMB "
                                  f"2000;45:3225): g {exposure.g:.3f}, c {exposure.c:.2f} (50% glandular reference "
                                  f"breast), s {exposure.s:.3f}")
    ds.PixelPaddingValue = int(padding)
    source = Dataset()
    source.ReferencedSOPClassUID = MG_FOR_PROCESSING
    source.ReferencedSOPInstanceUID = source_uid
    source.SpatialLocationsPreserved = "YES"
    ds.SourceImageSequence = Sequence([source])
    if "WindowCenter" in ds:
        ds.WindowCenterWidthExplanation = "Full breast range (synthetic auto-window)"
    if "VOILUTFunction" not in ds:  # the VOI LUT Sequence vendor: its table is the curve
        ds.VOILUTFunction = "LINEAR"
