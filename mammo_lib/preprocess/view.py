"""Preprocessing one view (:func:`preprocess_view`): orientation, breast mask, pectoral edge, nipple,
harmonisation and the 448 resize, with the exact transform recorded."""
from __future__ import annotations

import warnings as _warnings
from typing import Any

import numpy as np

from mammo_lib.errors import MammoError
from mammo_lib.preprocess.geometry import (DEFAULT_SIZE, MIN_SIDE, WORK_SIDE, PreprocessWarning, PreprocessedView,
                                          ViewTransform, block_mean, dilate, erode)
from mammo_lib.preprocess.harmonise import harmonise
from mammo_lib.preprocess.landmarks import (NIPPLE_MARKER_AGREE, find_markers, find_nipple, find_pectoral, profile_nipple,
                                           refine_pectoral)
from mammo_lib.preprocess.segment import refine_mask, segment_breast
from mammo_lib.vocab import LATERALITY, VIEW


# --------------------------------------------------------------------------------------------------
# input checking
# --------------------------------------------------------------------------------------------------
def _normalise_label(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().upper()
    if text not in allowed:
        raise MammoError(f"{name} {value!r} is not one of {', '.join(allowed)}")
    return text


def _pixels_of(image: Any) -> tuple[np.ndarray, str | None, str | None]:
    """Pixels, laterality and view from a MammoImage-like object or a bare 2-D array. Pixels mapped where read
    (``dicomio.DisplayPixels``) are display values in [0, 1] by construction: they are passed on unchecked and
    uncopied (:func:`~mammo_lib.preprocess.geometry.block_mean` averages them band by band)."""
    from mammo_lib.data.dicomio import DisplayPixels

    lazy = getattr(image, "pixels", None)
    if isinstance(lazy, DisplayPixels):
        if lazy.ndim != 2:
            raise MammoError(f"image must be a 2-D grayscale array, got shape {lazy.shape}")
        if min(lazy.shape) < MIN_SIDE:
            raise MammoError(f"image of {lazy.shape[0]} x {lazy.shape[1]} pixels is too small to preprocess "
                             f"(each side must be at least {MIN_SIDE})")
        return lazy, getattr(image, "laterality", None), getattr(image, "view", None)  # type: ignore[return-value]
    if isinstance(image, np.ndarray):
        arr, lat, view = image, None, None
    else:
        arr = np.asarray(getattr(image, "pixels", image))
        lat, view = getattr(image, "laterality", None), getattr(image, "view", None)
    if arr.ndim != 2:
        raise MammoError(f"image must be a 2-D grayscale array, got shape {arr.shape}")
    if min(arr.shape) < MIN_SIDE:
        raise MammoError(f"image of {arr.shape[0]} x {arr.shape[1]} pixels is too small to preprocess "
                         f"(each side must be at least {MIN_SIDE})")
    if arr.dtype.kind in "iu":
        arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
    elif arr.dtype.kind == "b":
        arr = arr.astype(np.float32)
    elif arr.dtype.kind != "f":
        raise MammoError(f"image pixels have unsupported dtype {arr.dtype}")
    arr = arr.astype(np.float32, copy=False)
    lo, hi = float(arr.min()), float(arr.max())  # NaN and inf show up here; count them only then
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise MammoError(f"image has {int(np.count_nonzero(~np.isfinite(arr)))} NaN or infinite pixels")
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise MammoError(f"float pixels must lie in [0, 1] (1 = most attenuating), got range [{lo:.4g}, {hi:.4g}]")
    return arr, lat, view



# --------------------------------------------------------------------------------------------------
# the public entry point
# --------------------------------------------------------------------------------------------------
def _warn(messages: list[str], text: str, stacklevel: int = 4) -> None:
    """Record a warning in the result and emit it as a PreprocessWarning at the caller of preprocess_view."""
    messages.append(text)
    _warnings.warn(text, PreprocessWarning, stacklevel=stacklevel)


def _orientation(lat: str | None, chest_wall_left: bool | None, messages: list[str]) -> tuple[bool, str]:
    """(flipped, laterality): flip so the chest wall is on the left. The image content wins over the label
    when both are known and disagree (with a warning); without a label the laterality is inferred."""
    content_flip = None if chest_wall_left is None else not chest_wall_left
    if lat is None and content_flip is None:
        _warn(messages, "laterality not given and the image does not show on which side the chest wall is; "
                        "assumed L (not flipped)", stacklevel=5)
        return False, "L"
    if lat is None:
        flipped = bool(content_flip)
        lat = "R" if flipped else "L"
        _warn(messages, f"laterality not given; inferred {lat} from the image (chest wall on the "
                        f"{'right' if flipped else 'left'}, as stored for a {lat} breast)", stacklevel=5)
        return flipped, lat
    if content_flip is None:
        return lat == "R", lat
    flipped = content_flip
    if flipped != (lat == "R"):
        _warn(messages, f"laterality {lat} disagrees with the image: a {lat} breast is stored with its chest "
                        f"wall on the {'right' if lat == 'R' else 'left'}, but this image has it on the "
                        f"{'right' if flipped else 'left'}; oriented by the image content (check the "
                        "laterality label or the stored orientation)", stacklevel=5)
    return flipped, lat


def _pectoral_line(work_f: np.ndarray, mask_f: np.ndarray, base: np.ndarray, step: int, flipped: bool,
                   messages: list[str]) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The pectoral edge of an MLO view in (flipped) working pixels: found on the working copy, refined on the
    finer copy in its own pixels and brought back; None (with a warning) when there is none."""
    line, _ = find_pectoral(work_f, mask_f)
    if line is not None:
        fine_f = base[:work_f.shape[0] * step, :work_f.shape[1] * step]
        fine_f = fine_f[:, ::-1] if flipped else fine_f
        near_p = np.repeat(np.repeat(mask_f, step, axis=0), step, axis=1)[:fine_f.shape[0], :fine_f.shape[1]]
        fine = refine_pectoral(fine_f, ((line[0][0] * step, line[0][1] * step),
                                        (line[1][0] * step, line[1][1] * step)), near_p)
        line = ((fine[0][0] / step, fine[0][1] / step), (fine[1][0] / step, fine[1][1] / step))
    if line is None:
        _warn(messages, "pectoral muscle edge not found on this MLO view (pectoral is None)", stacklevel=5)
    return line


def _nipple_point(base: np.ndarray, seg: Any, mask_f: np.ndarray, step: int, flipped: bool,
                  messages: list[str]) -> tuple[float, float]:
    """The nipple in (flipped) working pixels: skin markers and the skin-line profile found on the finer copy
    (a BB is a few working pixels across), then :func:`find_nipple`; a marker far from the apex is a warning."""
    near_base = np.repeat(np.repeat(dilate(seg.mask, 2.0), step, axis=0), step, axis=1)
    base_view = base[:near_base.shape[0], :near_base.shape[1]]
    markers_w = [((base_view.shape[1] - x) / step if flipped else x / step, y / step)
                 for x, y in find_markers(base_view, near_base[:base_view.shape[0], :base_view.shape[1]],
                                          seg.threshold)]
    rows_w = np.nonzero(mask_f.any(axis=1))[0]
    base_f = base_view[:, ::-1] if flipped else base_view
    near_f = near_base[:, ::-1] if flipped else near_base
    profile = profile_nipple(base_f, seg.threshold, near_f[:base_f.shape[0], :base_f.shape[1]],
                             slice(int(rows_w[0]) * step, (int(rows_w[-1]) + 1) * step))
    tip_w = None if profile is None else (profile[0][0] / step, profile[0][1] / step)
    nipple_w, by_marker = find_nipple(mask_f, markers_w, tip_w)
    if by_marker and tip_w is not None:
        rows_h = float(rows_w[-1] - rows_w[0] + 1)
        offset = float(np.hypot(nipple_w[0] - tip_w[0], nipple_w[1] - tip_w[1]))
        if offset > NIPPLE_MARKER_AGREE * rows_h:
            _warn(messages, f"nipple placed at a radiopaque skin marker {100 * offset / rows_h:.0f}% of the breast "
                            "height away from the apex of the skin line (nipple not at the apex, or not in profile)",
                  stacklevel=5)
    return nipple_w


def _square_transform(bbox: tuple[float, float, float, float], shape: tuple[int, int], flipped: bool,
                      size: int) -> ViewTransform:
    """The square crop: chest-wall edge of the breast box at the left, box centred vertically, aspect kept."""
    height, width = shape
    x0_f = width - bbox[2] if flipped else bbox[0]
    side = max(bbox[2] - bbox[0], bbox[3] - bbox[1]) * 1.02
    origin = (x0_f, (bbox[1] + bbox[3]) / 2 - side / 2)
    return ViewTransform(input_shape=(height, width), flipped=flipped, origin=origin, scale=size / side,
                         size=int(size))


def preprocess_view(image: Any, *, size: int = DEFAULT_SIZE, laterality: str | None = None,
                    view: str | None = None) -> PreprocessedView:
    """Preprocess one view (a ``dicomio.MammoImage`` or a 2-D array in [0, 1]) to a ``size x size`` array.

    ``laterality``/``view`` override the image's own. Orientation comes from laterality checked against the
    image (the breast is widest at the chest wall); when they disagree the image content wins and a warning
    says so; without laterality it is inferred from the image. A view is required (CC or MLO). Raises
    MammoError for blank, tiny or non-finite images and unknown labels, naming the image's file (its
    ``source``) when it has one.

    Steps: working copies, segmentation, orientation, pectoral edge (MLO), nipple, square crop, resampling,
    output mask, harmonisation.
    """
    try:
        return _preprocess_view(image, size=size, laterality=laterality, view=view)
    except MammoError as exc:
        raise named(exc, getattr(image, "source", None)) from None


def named(exc: MammoError, name: str | None) -> MammoError:
    """``exc`` with the image's file name in front (once), so that a batch says which image failed."""
    text = str(exc)
    return MammoError(text if not name or text.startswith(f"{name}:") else f"{name}: {text}")


def _preprocess_view(image: Any, *, size: int, laterality: str | None, view: str | None) -> PreprocessedView:
    """:func:`preprocess_view` without the file name in its errors."""
    if not isinstance(size, (int, np.integer)) or size < 32:
        raise MammoError(f"size must be an integer of at least 32, got {size!r}")
    pixels, own_lat, own_view = _pixels_of(image)
    lat = _normalise_label(laterality, LATERALITY, "laterality") or _normalise_label(own_lat, LATERALITY, "laterality")
    vw = _normalise_label(view, VIEW, "view") or _normalise_label(own_view, VIEW, "view")
    if vw is None:
        raise MammoError("view unknown: the image carries none; give CC or MLO (the manifest's view column, "
                         "`mammo preprocess --view`, or view= in Python)")
    messages: list[str] = []
    height, width = pixels.shape
    # one pass over the full-resolution pixels: a copy about twice the output size, then the working copy
    base_factor = max(1, max(height, width) // (2 * size))
    base = block_mean(pixels, base_factor)
    factor = base_factor * max(1, int(round(max(base.shape) / WORK_SIDE)))
    step = factor // base_factor
    work = block_mean(base, step)
    seg = segment_breast(work)
    for note in seg.notes:
        _warn(messages, note)
    flipped, lat = _orientation(lat, seg.chest_wall_left, messages)
    work_f = work[:, ::-1] if flipped else work
    mask_f = seg.mask[:, ::-1] if flipped else seg.mask
    pectoral_w = _pectoral_line(work_f, mask_f, base, step, flipped, messages) if vw == "MLO" else None
    nipple_w = _nipple_point(base, seg, mask_f, step, flipped, messages)

    cols_w = work.shape[1]

    def to_input(pt: tuple[float, float]) -> tuple[float, float]:
        x, y = pt
        return (float((cols_w - x) * factor if flipped else x * factor), float(y * factor))

    nipple_in = to_input(nipple_w)
    pectoral_in = None if pectoral_w is None else (to_input(pectoral_w[0]), to_input(pectoral_w[1]))
    ys, xs = np.nonzero(seg.mask)
    bbox = (float(xs.min() * factor), float(ys.min() * factor),
            float(min(width, (xs.max() + 1) * factor)), float(min(height, (ys.max() + 1) * factor)))
    transform = _square_transform(bbox, (height, width), flipped, size)
    resampled = transform.warp_to_output(base, factor=base_factor, order=1)
    soft = transform.warp_to_output(dilate(seg.mask, 1.0).astype(np.float32) * 0.5
                                    + erode(seg.mask, 1.0).astype(np.float32) * 0.5, factor=factor, order=1)
    mask_out = refine_mask(soft, resampled, seg.threshold)
    if not mask_out.any():
        raise MammoError("no breast found on the output grid (the breast region vanished when resampled)")
    array = harmonise(resampled, mask_out)
    nipple_out = transform.to_output(nipple_in)
    pectoral_out = None if pectoral_in is None else tuple(
        tuple(float(v) for v in transform.to_output(p)) for p in pectoral_in)
    return PreprocessedView(
        array=array, breast_mask=mask_out, nipple=(float(nipple_out[0]), float(nipple_out[1])),
        pectoral=pectoral_out, flipped=flipped, transform=transform, breast_bbox=bbox, laterality=lat,
        view=vw, warnings=messages, nipple_input=nipple_in, pectoral_input=pectoral_in,
    )


