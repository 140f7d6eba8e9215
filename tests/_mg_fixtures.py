"""Small DICOM MG files written by the tests themselves (the project's own writer lives in mammo_lib.synth)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
PATIENT_NAME, PATIENT_ID = "DOE^JANE", "HOSP-0042-SECRET"


def make_mg(path: Path, pixels: np.ndarray, *, bits_stored: int = 14, photometric: str = "MONOCHROME2",
            signed: bool = False, syntax: str = ExplicitVRLittleEndian, **tags: Any) -> Path:
    """Write a small single-frame MG DICOM (For Presentation, left CC unless tags say otherwise)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MG_FOR_PRESENTATION
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(path)])
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = MG_FOR_PRESENTATION
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "MG"
    ds.PatientName, ds.PatientID = PATIENT_NAME, PATIENT_ID
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.ImageLaterality, ds.ViewPosition = "L", "CC"
    ds.Manufacturer = "HOLOGIC, Inc."
    ds.set_pixel_data(pixels.astype(np.int16 if signed else np.uint16), photometric, bits_stored)
    for keyword, value in tags.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    if syntax != ExplicitVRLittleEndian:
        ds.compress(syntax)
    ds.save_as(path, enforce_file_format=True)
    return path


def ramp(bits: int, shape: tuple[int, int] = (32, 48), seed: int = 7) -> np.ndarray:
    """A deterministic image covering 0 and 2**bits - 1."""
    values = np.random.default_rng(seed).integers(0, 2**bits, size=shape)
    values.flat[0], values.flat[-1] = 0, 2**bits - 1
    return values
