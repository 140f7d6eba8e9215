"""Reading mammograms: DICOM MG (any transfer syntax pydicom + pylibjpeg decode), 16-bit PNG and TIFF.

:func:`read_image` returns a :class:`MammoImage` whose pixels are float32 in [0, 1] with 1.0 = most
attenuating tissue, after the DICOM display pipeline of PS3.3 C.11 (Modality LUT / Rescale, then the VOI
LUT Sequence or Window Centre/Width with its VOI LUT Function, then MONOCHROME1 inversion), in the stored
orientation. Laterality and view come from the header and are checked against the manifest, which is
the final authority; a disagreement is an error naming the tag and both values. No patient identifier
from the header is kept: :class:`MammoImage` and :func:`read_header` carry only technical tags.

Speed: rescale, VOI and inversion are evaluated once for every storable value (a table of at most
65,536 entries, using pydicom's own ``apply_modality_lut``/``apply_windowing``/``apply_voi``); the decoded
array is then mapped by one multiply-add-clip when that table is a clipped straight line (rescale, LINEAR
windows, no VOI), else through the table (see ``benchmarks/bench_read.py``). ``read_image(..., lazy=True)``
keeps the decoded stored values and maps only what is read (:class:`DisplayPixels`): a full-field image is then
never held as a full-resolution float copy, and its pixels are the same values, bit for bit. With ``lazy=True`` an
uncompressed little-endian file's stored values are memory-mapped (:func:`native_pixels`) rather than read into memory
and copied: the values pydicom's decode gives, read once, where used (``mapped=False`` reads and decodes instead).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mammo_lib.errors import MammoError
from mammo_lib.vocab import LATERALITY, VENDOR, VIEW

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

#: What to do with a "FOR PROCESSING" (raw detector) image: refuse it, or log-normalise it.
FOR_PROCESSING_MODES = ("refuse", "log")
PNG_SUFFIXES = (".png",)
TIFF_SUFFIXES = (".tif", ".tiff")
#: Digital Mammography X-Ray Image Storage - For Processing (PS3.4 B.5).
SOP_MG_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
#: SNOMED codes of View Code Sequence (0054,0220), PS3.16 CID 4014; both the legacy SNOMED-RT and the
#: SNOMED CT code values occur in the wild.
VIEW_CODES = {"R-10242": "CC", "399162004": "CC", "R-10226": "MLO", "399368009": "MLO"}
#: Manufacturer (0008,0070) substrings -> the study's vendor vocabulary (first match wins).
VENDOR_PATTERNS = (("siemens", "Siemens"), ("hologic", "Hologic"), ("lorad", "Hologic"), ("ge ", "GE"),
                   ("ge_", "GE"), ("general electric", "GE"), ("ge healthcare", "GE"))
#: Technical tags that :func:`read_header` reports. Nothing that identifies a patient, study or operator.
HEADER_TAGS = (
    "Modality", "SOPClassUID", "PresentationIntentType", "Manufacturer", "ManufacturerModelName",
    "BodyPartExamined", "Rows", "Columns", "NumberOfFrames", "SamplesPerPixel", "BitsAllocated",
    "BitsStored", "HighBit", "PixelRepresentation", "PhotometricInterpretation", "RescaleSlope",
    "RescaleIntercept", "WindowCenter", "WindowWidth", "VOILUTFunction", "ImageLaterality", "Laterality",
    "ViewPosition", "PatientOrientation", "PixelSpacing", "ImagerPixelSpacing",
    "EstimatedRadiographicMagnificationFactor",
)
_SIDE_WORDS = {"L": "L", "LEFT": "L", "R": "R", "RIGHT": "R"}
#: "L CC", "RIGHT_MLO", "LCC", "rmlo", "LEFT-CC" in a free-text Series Description.
_DESCRIPTION_RE = re.compile(r"(?<![A-Z0-9])(LEFT|RIGHT|L|R)?[\s_\-]*(CC|MLO)(?![A-Z0-9])", re.IGNORECASE)
_SIDE_ONLY_RE = re.compile(r"(?<![A-Z0-9])(LEFT|RIGHT)(?![A-Z0-9])", re.IGNORECASE)


@dataclass(frozen=True)
class DisplayPixels:
    """A decoded image's display intensities (float32 in [0, 1], as :func:`apply_display` gives them), mapped from
    its stored values only where they are read: ``pixels[rows, columns]`` maps that region, ``array()`` all of it.

    The mapping is elementwise (a table lookup, or the same multiply-add-clip in float32), so a region mapped on
    its own equals the same region of the fully mapped image exactly.
    """

    raw: np.ndarray  # the decoded stored values (2-D)
    lut: np.ndarray  # float32 display value of every storable value (display_lut)
    affine: tuple[float, float] | None  # (a, b): the lut is clip(a * stored + b, 0, 1) (affine_part), else None

    @classmethod
    def from_dataset(cls, raw: np.ndarray, ds: Dataset) -> DisplayPixels:
        """The display mapping of ``ds`` (Modality LUT, VOI, MONOCHROME1) over its decoded values ``raw``."""
        lut = display_lut(ds)
        return cls(raw, lut, affine_part(lut, *stored_values(ds)))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.raw.shape)

    @property
    def ndim(self) -> int:
        return int(self.raw.ndim)

    dtype = np.dtype(np.float32)

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.map(np.asarray(self.raw[key]))

    def map(self, stored: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Display values of an array of stored values (of this image's dtype); into ``out`` (float32, of
        ``stored``'s shape) when given, so that a band-by-band reader reuses one buffer (the same values)."""
        if self.affine is None:
            index = stored.view(np.uint8 if stored.itemsize == 1 else np.uint16) if stored.dtype.kind == "i" else stored
            # the same gather as lut[index]; a table with an entry for every value of the index's type cannot be
            # indexed out of range, so the bounds check ("clip" skips numpy's buffered one) changes nothing
            covers = index.dtype.kind == "u" and self.lut.size >= 1 << (8 * index.itemsize)
            return np.take(self.lut, index, out=out, mode="clip" if covers else "raise")
        pixels = np.multiply(stored, np.float32(self.affine[0]), out=out, dtype=np.float32)
        pixels += np.float32(self.affine[1])
        return np.clip(pixels, 0.0, 1.0, out=pixels)

    def array(self) -> np.ndarray:
        """The whole image's display values (a full-resolution float32 copy)."""
        return self.map(self.raw)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.array()
        return out if dtype is None else out.astype(dtype, copy=False)


@dataclass
class MammoImage:
    """One mammogram ready for preprocessing; carries no patient identifier."""

    pixels: np.ndarray | DisplayPixels  # float32 2-D in [0, 1], 1.0 = most attenuating, after rescale, VOI,
    #                                     MONOCHROME1 (DisplayPixels: mapped where read, ``read_image(lazy=True)``)
    laterality: str  # "L" or "R"
    view: str  # "CC" or "MLO"
    pixel_spacing_mm: tuple[float, float] | None  # (row, column) spacing at the detector/breast, mm
    vendor: str  # one of vocab.VENDOR
    bits_stored: int
    photometric: str  # PhotometricInterpretation as stored
    source: str  # file name only, for messages

    def __repr__(self) -> str:
        return (f"MammoImage({self.source!r}, {self.laterality} {self.view}, {self.pixels.shape[0]}x"
                f"{self.pixels.shape[1]}, {self.bits_stored}-bit {self.photometric}, {self.vendor})")


def read_image(
    path: str | Path,
    *,
    laterality: str | None = None,
    view: str | None = None,
    force: bool = False,
    for_processing: str = "refuse",
    lazy: bool = False,
    mapped: bool = True,
) -> MammoImage:
    """Read one mammogram (DICOM, or 16-bit PNG/TIFF with laterality and view from the manifest).

    ``laterality``/``view`` are the manifest's values and win over the header, but a header that says
    otherwise is an error. ``force`` reads a DICOM whose Modality is not MG. ``for_processing="log"``
    log-normalises a raw "FOR PROCESSING" image instead of refusing it. ``lazy=True`` gives pixels as
    :class:`DisplayPixels` (mapped where read; the same values) except for log-normalised images, whose mapping
    depends on the whole image. With ``lazy``, ``mapped`` (the default) memory-maps an uncompressed file's stored
    values (:func:`native_pixels`) instead of reading and copying them; ``mapped=False`` has pydicom decode them.
    """
    path = Path(path)
    name = path.name
    if for_processing not in FOR_PROCESSING_MODES:
        raise MammoError(f"for_processing={for_processing!r}: expected one of {FOR_PROCESSING_MODES}")
    _check_vocab(name, "laterality", laterality, LATERALITY)
    _check_vocab(name, "view", view, VIEW)
    if not path.is_file():
        raise MammoError(f"{path}: image file does not exist")
    if path.suffix.lower() in PNG_SUFFIXES + TIFF_SUFFIXES:
        return _read_raster(path, laterality, view, lazy)
    return _read_dicom(path, laterality, view, force, for_processing, lazy, mapped)


def read_header(path: str | Path) -> dict[str, Any]:
    """The technical, non-identifying tags of a DICOM file (no pixel data is read)."""
    path = Path(path)
    ds = read_dataset(path, stop_before_pixels=True)
    header: dict[str, Any] = {"TransferSyntaxUID": str(ds.file_meta.get("TransferSyntaxUID", ""))}
    for keyword in HEADER_TAGS:
        if keyword in ds:
            value = ds[keyword].value
            header[keyword] = [_plain(v) for v in value] if _is_multi(value) else _plain(value)
    header["HasVOILUTSequence"] = bool(ds.get("VOILUTSequence"))
    return header


def image_size(path: str | Path) -> tuple[int, int]:
    """(rows, columns) of a DICOM, PNG or TIFF image, from its header only (no pixel data is decoded)."""
    path = Path(path)
    if path.suffix.lower() in PNG_SUFFIXES + TIFF_SUFFIXES:
        try:
            if path.suffix.lower() in TIFF_SUFFIXES:
                import tifffile

                with tifffile.TiffFile(path) as tiff:
                    shape = tiff.pages[0].shape
                return int(shape[0]), int(shape[1])
            from PIL import Image

            with Image.open(path) as image:
                return int(image.size[1]), int(image.size[0])
        except Exception as exc:  # PIL/tifffile raise many types for corrupt files
            raise MammoError(f"{path.name}: cannot read the image header ({type(exc).__name__}: {exc})") from None
    ds = read_dataset(path, stop_before_pixels=True)
    if "Rows" not in ds or "Columns" not in ds:
        raise MammoError(f"{path.name}: no Rows/Columns: not an image")
    return int(ds.Rows), int(ds.Columns)


def vendor_of(manufacturer: str | None) -> str:
    """Map a Manufacturer tag to the study's vendors (Siemens, GE, Hologic) or "other"."""
    text = f"{(manufacturer or '').strip().lower()} "
    for pattern, vendor in VENDOR_PATTERNS:
        if text.startswith(pattern) or f" {pattern}" in f" {text}":
            return vendor
    return VENDOR[-1]


def display_lut(ds: Dataset) -> np.ndarray:
    """Float32 table mapping every storable value to display intensity in [0, 1] (1 = bright).

    Index by the decoded array (viewed as unsigned, so that signed values wrap as two's complement):
    entry ``v`` holds Modality LUT -> VOI (LUT Sequence first, else the first window) -> normalised by
    the VOI output range -> inverted for MONOCHROME1 or an INVERSE Presentation LUT Shape (PS3.3 C.11).
    """
    from pydicom.pixels import apply_modality_lut, apply_voi, apply_windowing

    stored, valid = stored_values(ds)
    modality = apply_modality_lut(stored, ds)
    if ds.get("VOILUTSequence"):
        depth = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        out = apply_voi(np.rint(modality).astype(np.int64), ds).astype(np.float64)
        low, high = 0.0, float(2**depth - 1)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        out = apply_windowing(modality, ds)
        low, high = _window_output_range(ds)
    else:
        out = np.asarray(modality, dtype=np.float64)
        low, high = float(out[valid].min()), float(out[valid].max())
    scaled = (out - low) / (high - low) if high > low else np.zeros_like(out)
    np.clip(scaled, 0.0, 1.0, out=scaled)
    # MONOCHROME1 displays its lowest value as white (PS3.3 C.7.6.3.1.2); a Presentation LUT Shape of INVERSE
    # means the same inversion (PS3.3 C.11.6.1.2), which MONOCHROME1 images already carry, so never twice.
    if str(ds.PhotometricInterpretation) == "MONOCHROME1" or str(ds.get("PresentationLUTShape", "")) == "INVERSE":
        scaled = 1.0 - scaled
    return scaled.astype(np.float32)


def stored_values(ds: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The stored value of each display-table index (two's complement for signed pixels), and which of
    them Bits Stored allows."""
    size = 1 << (8 if int(ds.BitsAllocated) <= 8 else 16)
    stored = np.arange(size, dtype=np.int64)
    bits = int(ds.BitsStored)
    if int(ds.get("PixelRepresentation", 0)) == 1:
        stored = np.where(stored >= size // 2, stored - size, stored)
        return stored, (stored >= -(2 ** (bits - 1))) & (stored < 2 ** (bits - 1))
    return stored, stored < 2**bits


def affine_part(lut: np.ndarray, stored: np.ndarray, valid: np.ndarray) -> tuple[float, float] | None:
    """(a, b) with lut == clip(a * stored + b, 0, 1) on every allowed value, or None (SIGMOID, VOI LUT data).

    Rescale, LINEAR windows and no VOI are such clipped straight lines; mapping the decoded array by
    multiply-add-clip instead of a table lookup is about a third faster on full-field images.
    """
    values, table = stored[valid].astype(np.float64), lut[valid].astype(np.float64)
    inside = np.flatnonzero((table > 0.0) & (table < 1.0))
    if len(inside) < 2:
        return None
    # the two interior points farthest apart, so that the table's float32 rounding barely moves the slope
    first, last = inside[np.argmin(values[inside])], inside[np.argmax(values[inside])]
    slope = (table[last] - table[first]) / (values[last] - values[first])
    offset = table[first] - slope * values[first]
    if np.max(np.abs(np.clip(slope * values + offset, 0.0, 1.0) - table)) > 2e-6:
        return None
    return float(slope), float(offset)


def apply_display(raw: np.ndarray, ds: Dataset) -> np.ndarray:
    """Decoded stored values -> float32 display intensities in [0, 1] (see :func:`display_lut`)."""
    return DisplayPixels.from_dataset(raw, ds).array()


def log_normalise(raw: np.ndarray, photometric: str) -> np.ndarray:
    """Raw "FOR PROCESSING" values to [0, 1] by attenuation = -log(intensity), stretched to this image.

    Raw detector values grow with the X-ray intensity reaching the detector (MONOCHROME2 storage), so
    the attenuation the breast causes is proportional to ``-log(value)`` (Beer-Lambert); MONOCHROME1 raw
    images store the opposite sense and are not negated. The result spans the image's own min..max.
    """
    values = raw.astype(np.float32)
    values -= values.min()
    attenuation = np.log1p(values)
    if photometric != "MONOCHROME1":
        attenuation = -attenuation
    low, high = float(attenuation.min()), float(attenuation.max())
    if high <= low:
        return np.zeros(raw.shape, dtype=np.float32)
    return ((attenuation - low) / (high - low)).astype(np.float32)


def header_laterality(ds: Dataset) -> list[tuple[str, str]]:
    """(tag, "L"/"R") for every header tag that states the breast side, in order of authority."""
    found: list[tuple[str, str]] = []
    for keyword in ("ImageLaterality", "Laterality"):
        value = str(ds.get(keyword, "") or "").strip().upper()
        if value in LATERALITY:
            found.append((keyword, value))
    description = str(ds.get("SeriesDescription", "") or "")
    sides = {_SIDE_WORDS[m.group(1).upper()] for m in _DESCRIPTION_RE.finditer(description) if m.group(1)}
    sides |= {_SIDE_WORDS[m.group(1).upper()] for m in _SIDE_ONLY_RE.finditer(description)}
    if len(sides) == 1:
        found.append(("SeriesDescription", sides.pop()))
    return found


def header_view(ds: Dataset) -> list[tuple[str, str]]:
    """(tag, "CC"/"MLO"/other) for every header tag that states the view, in order of authority.

    ViewPosition values other than CC/MLO (ML, LM, XCCL, ...) are reported as they are, so that a
    non-standard view is refused rather than silently taken for a standard one.
    """
    found: list[tuple[str, str]] = []
    position = str(ds.get("ViewPosition", "") or "").strip().upper()
    if position:
        found.append(("ViewPosition", position))
    for item in ds.get("ViewCodeSequence", None) or []:
        code = VIEW_CODES.get(str(item.get("CodeValue", "")).strip())
        if code:
            found.append(("ViewCodeSequence", code))
            break
    orientation = ds.get("PatientOrientation", None)
    for value in (orientation if _is_multi(orientation) else [orientation]) if orientation else []:
        # CBIS-DDSM (and other conversions) put the view into Patient Orientation.
        if str(value).strip().upper() in VIEW:
            found.append(("PatientOrientation", str(value).strip().upper()))
            break
    views = {m.group(2).upper() for m in _DESCRIPTION_RE.finditer(str(ds.get("SeriesDescription", "") or ""))}
    if len(views) == 1:
        found.append(("SeriesDescription", views.pop()))
    return found


def resolve_tag(name: str, what: str, header: list[tuple[str, str]], manifest: str | None) -> str:
    """The manifest's value if given (checked against every header tag), else the header's agreed value."""
    if manifest is not None:
        for tag, value in header:
            if value != manifest:
                raise MammoError(f"{name}: {what}: header {tag} says {value!r} but the manifest says {manifest!r}")
        return manifest
    if not header:
        raise MammoError(f"{name}: {what}: no header tag states it; give it in the manifest")
    values = {value for _, value in header}
    if len(values) > 1:
        listing = ", ".join(f"{tag} {value!r}" for tag, value in header)
        raise MammoError(f"{name}: {what}: header tags disagree ({listing}); give it in the manifest")
    return header[0][1]


def pixel_spacing(ds: Dataset) -> tuple[float, float] | None:
    """(row, column) spacing in mm from PixelSpacing, else ImagerPixelSpacing / magnification factor.

    PS3.3 C.8.11.7: ImagerPixelSpacing is at the detector; dividing by the Estimated Radiographic
    Magnification Factor gives the spacing at the breast, which is what PixelSpacing states when present.
    """
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword, None)
        if value is not None and len(value) == 2 and all(float(v) > 0 for v in value):
            spacing = (float(value[0]), float(value[1]))
            if keyword == "ImagerPixelSpacing":
                factor = float(ds.get("EstimatedRadiographicMagnificationFactor", 1.0) or 1.0)
                spacing = (spacing[0] / factor, spacing[1] / factor)
            return spacing
    return None


# --- internals ------------------------------------------------------------------------------------
def _read_dicom(path: Path, laterality: str | None, view: str | None, force: bool, mode: str,
                lazy: bool = False, mapped: bool = False) -> MammoImage:
    name = path.name
    native = None
    if lazy and mapped and _native_syntax(path):
        # the header with the pixel data left in the file: uncompressed pixels are then mapped, not copied
        native = native_pixels(path, read_dataset(path, stop_before_pixels=False, defer_pixels=True))
    ds = native[0] if native is not None else read_dataset(path, stop_before_pixels=False)
    if "PixelData" not in ds:
        kinds = [str(getattr(sop, "name", sop)) for sop in (ds.get("SOPClassUID", None),
                 ds.file_meta.get("MediaStorageSOPClassUID", None)) if sop]
        kind = next((k for k in kinds if "Storage" in k), kinds[0] if kinds else "unknown SOP class")
        if "Image Storage" in kind or any(k in ds for k in ("Rows", "Columns", "BitsAllocated")):
            # an image whose file ends before its Pixel Data: cut inside the header (copy or transfer broke off)
            raise MammoError(f"{name}: truncated file: it ends after {path.stat().st_size} bytes, inside the "
                             f"header, before the Pixel Data of this {kind}")
        raise MammoError(f"{name}: not an image: no Pixel Data ({kind})")
    modality = str(ds.get("Modality", "") or "")
    if modality != "MG" and not force:
        raise MammoError(f"{name}: Modality is {modality or 'missing'!r}, not 'MG'; read it anyway with "
                         f"read_image(..., force=True) or `mammo preprocess --force`")
    _check_pixel_module(name, ds)
    for_processing = (str(ds.get("PresentationIntentType", "")).upper() == "FOR PROCESSING"
                      or str(ds.get("SOPClassUID", "")) == SOP_MG_FOR_PROCESSING)
    if for_processing and mode == "refuse":
        raise MammoError(f"{name}: a FOR PROCESSING (raw) image; log-normalise it with `mammo preprocess "
                         f"--for-processing log` or read_image(..., for_processing='log')")
    side = resolve_tag(name, "laterality", header_laterality(ds), laterality)
    projection = resolve_tag(name, "view", header_view(ds), view)
    if projection not in VIEW:
        raise MammoError(f"{name}: view: {projection!r} is not a standard view {VIEW}")
    try:
        raw = native[1] if native is not None else ds.pixel_array
    except Exception as exc:  # pydicom/plugins raise many types for truncated or corrupt pixel data
        raise MammoError(f"{name}: cannot decode the pixel data ({type(exc).__name__}: {exc})") from None
    if raw.ndim != 2:
        raise MammoError(f"{name}: expected one 2-D frame, got an array of shape {raw.shape}")
    if for_processing:
        pixels = log_normalise(raw, str(ds.PhotometricInterpretation))
    else:
        try:
            display = DisplayPixels.from_dataset(raw, ds)
            pixels = display if lazy else display.array()
        except (ValueError, NotImplementedError, AttributeError, IndexError) as exc:
            raise MammoError(f"{name}: bad VOI/Modality LUT attributes ({exc})") from None
    return MammoImage(
        pixels=pixels, laterality=side, view=projection, pixel_spacing_mm=pixel_spacing(ds),
        vendor=vendor_of(ds.get("Manufacturer", None)), bits_stored=int(ds.BitsStored),
        photometric=str(ds.PhotometricInterpretation), source=name,
    )


def _read_raster(path: Path, laterality: str | None, view: str | None, lazy: bool = False) -> MammoImage:
    """PNG/TIFF: grey levels only; laterality and view must come from the manifest (no header)."""
    name = path.name
    missing = [what for what, value in (("laterality", laterality), ("view", view)) if value is None]
    if missing:
        raise MammoError(f"{name}: a {path.suffix} file has no header; give {' and '.join(missing)} from the manifest "
                         f"(`mammo preprocess {' '.join('--' + m for m in missing)}` for one image)")
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            array = tifffile.imread(path)
        else:
            from PIL import Image

            with Image.open(path) as image:
                image.load()
                array = np.asarray(image)
    except Exception as exc:  # PIL/tifffile raise many types for corrupt files
        raise MammoError(f"{name}: cannot read the image ({type(exc).__name__}: {exc})") from None
    if array.ndim != 2:
        raise MammoError(f"{name}: expected a single-channel greyscale image, got shape {array.shape}")
    if array.dtype not in (np.uint8, np.uint16):
        raise MammoError(f"{name}: expected 8- or 16-bit unsigned grey levels, got {array.dtype}")
    bits = raster_bits(array)
    table = np.linspace(0.0, 1.0, 2**bits, dtype=np.float32)
    stored = np.minimum(array, 2**bits - 1)
    pixels = DisplayPixels(stored, table, None) if lazy else table[stored]
    return MammoImage(pixels=pixels, laterality=laterality, view=view, pixel_spacing_mm=None,
                      vendor=VENDOR[-1], bits_stored=bits, photometric="MONOCHROME2", source=name)


def raster_bits(array: np.ndarray) -> int:
    """Bit depth of a PNG/TIFF: 8 for uint8; for uint16 the smallest of 10/12/14/16 holding its maximum.

    PNG/TIFF carry no Bits Stored, and 10-14-bit mammograms are commonly saved in 16-bit containers
    (e.g. 12-bit values in a 16-bit PNG); scaling those by 65535 would leave them almost black.
    """
    if array.dtype == np.uint8:
        return 8
    peak = int(array.max()) if array.size else 0
    return next(bits for bits in (10, 12, 14, 16) if peak < 2**bits)


#: Uncompressed transfer syntaxes whose Pixel Data is the stored values as they lie in memory (little endian).
NATIVE_LITTLE_ENDIAN = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")
#: Elements at least this long are left in the file when the pixel data is deferred (read_dataset(defer_pixels=True)).
DEFER_BYTES = 1 << 20


def native_pixels(path: Path, ds: Dataset) -> tuple[Dataset, np.ndarray] | None:
    """(``ds``, its stored values as a read-only memory map of the file) when ``ds`` (read with its pixel data
    deferred) holds one uncompressed little-endian frame of unsigned 8- or 16-bit values whose unused high bits are
    all clear; else None (then the file is read and decoded as usual, with every check and error message).

    The map holds exactly what pydicom's ``pixel_array`` returns for such a file (it clears unused high bits, hence
    the condition), without reading the file into memory and copying it: the values are read once, where used.
    """
    try:
        element = ds._dict.get(0x7FE00010)  # Pixel Data, left unread (RawDataElement, value None)
        syntax = str(ds.file_meta.get("TransferSyntaxUID", ""))
        rows, columns = int(ds.Rows), int(ds.Columns)
        allocated, bits = int(ds.BitsAllocated), int(ds.BitsStored)
        plain = (int(ds.get("PixelRepresentation", 0)) == 0 and int(ds.get("SamplesPerPixel", 1)) == 1
                 and int(ds.get("NumberOfFrames", 1) or 1) == 1 and allocated in (8, 16) and 8 <= bits <= allocated)
    except (AttributeError, TypeError, ValueError, KeyError):
        return None
    if (not plain or syntax not in NATIVE_LITTLE_ENDIAN or element is None or getattr(element, "value", b"") is not None
            or not hasattr(element, "value_tell") or rows < 1 or columns < 1):
        return None
    nbytes = rows * columns * allocated // 8
    if element.length != nbytes or element.value_tell + nbytes > path.stat().st_size:
        return None
    raw = np.memmap(path, dtype="<u2" if allocated == 16 else "u1", mode="r", offset=element.value_tell,
                    shape=(rows, columns))
    if bits < allocated and int(raw.max()) >= 1 << bits:
        return None  # stray high bits: pydicom's decode clears them
    return ds, raw


def _native_syntax(path: Path) -> bool:
    """Whether the file meta of ``path`` names an uncompressed little-endian transfer syntax (only then can its pixels
    be mapped: a compressed file is read once, by :func:`read_dataset`, not first with its pixel data deferred).
    False for a file whose meta cannot be read: the full read reports why."""
    from pydicom.filereader import read_file_meta_info

    try:
        return str(read_file_meta_info(path).get("TransferSyntaxUID", "")) in NATIVE_LITTLE_ENDIAN
    except Exception:  # noqa: BLE001 - not DICOM, truncated, ...: read_dataset gives the one-line error
        return False


def read_dataset(path: Path, *, stop_before_pixels: bool, defer_pixels: bool = False) -> Dataset:
    """pydicom's dcmread, with unreadable, truncated and empty files refused by a MammoError naming the file;
    ``defer_pixels`` leaves elements of :data:`DEFER_BYTES` or more (the pixel data) in the file."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(path, stop_before_pixels=stop_before_pixels,
                                 defer_size=DEFER_BYTES if defer_pixels else None)
    except InvalidDicomError:
        raise MammoError(f"{path.name}: not a DICOM file (no 'DICM' preamble)") from None
    except Exception as exc:  # truncated or corrupt headers surface as EOFError, struct.error, ...
        if _ran_out_of_bytes(exc):
            raise MammoError(f"{path.name}: truncated file: it ends after {path.stat().st_size} bytes, inside a "
                             f"header element ({type(exc).__name__}: {str(exc).split('. ')[0]})") from None
        raise MammoError(f"{path.name}: cannot parse the DICOM header ({type(exc).__name__}: {exc})") from None
    # pydicom warns (and returns what it could read) when a file ends inside an element or a sequence
    ended = [str(w.message) for w in caught if "end of file" in str(w.message).lower()]
    if ended:
        raise MammoError(f"{path.name}: truncated file ({ended[0].split(' in file ')[0]})")
    if len(ds) == 0:
        raise MammoError(f"{path.name}: truncated file: it ends after {path.stat().st_size} bytes, with no DICOM "
                         "data elements after the file meta header")
    return ds


def _ran_out_of_bytes(exc: Exception) -> bool:
    """Whether pydicom stopped because the file ended inside an element (a cut file, not a corrupt one)."""
    import struct

    from pydicom.errors import BytesLengthException

    return (isinstance(exc, (EOFError, BytesLengthException))
            or (isinstance(exc, struct.error) and "requires a buffer" in str(exc)))


def _check_pixel_module(name: str, ds: Dataset) -> None:
    """Single-frame greyscale with 8-16 stored bits, or a clear refusal."""
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise MammoError(f"{name}: PhotometricInterpretation {photometric!r} is not MONOCHROME1/MONOCHROME2")
    if int(ds.get("SamplesPerPixel", 1)) != 1:
        raise MammoError(f"{name}: SamplesPerPixel is {ds.SamplesPerPixel}, expected 1")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames != 1:
        raise MammoError(f"{name}: {frames} frames (tomosynthesis?); only single-frame mammograms are read")
    bits, allocated = ds.get("BitsStored", None), ds.get("BitsAllocated", None)
    if bits is None or not 8 <= int(bits) <= 16:
        raise MammoError(f"{name}: BitsStored is {bits!r}; 8 to 16 bits are supported")
    if allocated is None or int(allocated) not in (8, 16):
        raise MammoError(f"{name}: BitsAllocated is {allocated!r}; 8 or 16 are supported")


def _window_output_range(ds: Dataset) -> tuple[float, float]:
    """The output range pydicom's apply_windowing maps a window onto (PS3.3 C.11.2.1.2)."""
    bits = int(ds.BitsStored)
    if ds.get("ModalityLUTSequence"):
        low, high = 0.0, float(2 ** int(ds.ModalityLUTSequence[0].LUTDescriptor[2]) - 1)
    elif int(ds.get("PixelRepresentation", 0)) == 0:
        low, high = 0.0, float(2**bits - 1)
    else:
        low, high = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        low, high = sorted((low * slope + intercept, high * slope + intercept))
    return low, high


def _check_vocab(name: str, what: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise MammoError(f"{name}: {what}={value!r} is not one of {allowed}")


def _is_multi(value: Any) -> bool:
    from pydicom.multival import MultiValue

    return isinstance(value, (list, tuple, MultiValue))


def _plain(value: Any) -> Any:
    """A JSON-friendly Python value for a pydicom element value."""
    if isinstance(value, (int, str)) and type(value) in (int, str):
        return value
    if isinstance(value, float):
        return float(value)
    if isinstance(value, int):
        return int(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
