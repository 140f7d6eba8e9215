"""Preprocessing of one mammographic view: orientation, breast mask, pectoral edge, nipple, harmonisation, resize.

The paper fed every view to its networks at 448 x 448 after vendor "data cleaning" and registered CC with MLO
through the nipple (Li et al. 2023, "Patients and images", "Detection model"). :func:`preprocess_view` does
all of it on one image and records the exact geometric transform, so boxes and probability maps map from the
448 grid back to the input's own pixels and back again.

Conventions
-----------
* Output orientation: **chest wall on the left, nipple pointing right** (a left breast as usually stored).
* Coordinates are continuous pixel coordinates ``(x, y)``: pixel (row i, column j) covers
  ``[j, j+1) x [i, i+1)``, its centre is ``(j + 0.5, i + 0.5)``; boxes are ``[x0, y0, x1, y1]`` with
  exclusive ends, so a box of whole pixels has integer corners.
* Input intensities follow ``dicomio.MammoImage``: float in [0, 1], 1.0 = most attenuating tissue.
* Segmentation runs on a block-averaged copy whose long side is about :data:`WORK_SIDE` pixels, for speed.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from mammo_lib.errors import MammoError
from mammo_lib.vocab import LATERALITY, VIEW

#: Bump when any step changes its output: it is part of the cache key.
PREPROCESS_VERSION = "3"
#: Long side (pixels) of the block-averaged copy that segmentation works on.
WORK_SIDE = 256
#: Smallest input side accepted: below this there is no anatomy to find.
MIN_SIDE = 64
#: Output side used by the paper ("All the pixels of images were resized to 448x448 pixels").
DEFAULT_SIZE = 448
#: A second blob larger than this fraction of the kept one is reported as a warning.
SECOND_BLOB_WARN_FRACTION = 0.25


class PreprocessWarning(UserWarning):
    """Emitted (and recorded in ``PreprocessedView.warnings``) when the image disagrees with its labels."""


# --------------------------------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ViewTransform:
    """Input pixels -> output grid: optional left-right flip, then ``out = scale * (x - origin)``.

    ``origin`` is the crop's top-left corner in flipped input coordinates; the crop is a square of side
    ``size / scale`` input pixels, padded with zeros where it leaves the image.
    """

    input_shape: tuple[int, int]  # (rows, columns) of the input image
    flipped: bool
    origin: tuple[float, float]
    scale: float
    size: int

    def _flip_x(self, x: np.ndarray) -> np.ndarray:
        return self.input_shape[1] - x if self.flipped else x

    def to_output(self, xy: Any) -> np.ndarray:
        """Map input points ``(..., 2)`` to output points."""
        pts = np.asarray(xy, dtype=np.float64)
        x = (self._flip_x(pts[..., 0]) - self.origin[0]) * self.scale
        y = (pts[..., 1] - self.origin[1]) * self.scale
        return np.stack([x, y], axis=-1)

    def to_input(self, xy: Any) -> np.ndarray:
        """Map output points ``(..., 2)`` back to input points."""
        pts = np.asarray(xy, dtype=np.float64)
        x = self._flip_x(pts[..., 0] / self.scale + self.origin[0])
        y = pts[..., 1] / self.scale + self.origin[1]
        return np.stack([x, y], axis=-1)

    @staticmethod
    def _box(corners: np.ndarray) -> np.ndarray:
        return np.concatenate([corners.min(axis=-2), corners.max(axis=-2)], axis=-1)

    def box_to_output(self, box: Any) -> np.ndarray:
        """Map ``[x0, y0, x1, y1]`` boxes (``(..., 4)``) to output boxes (a flip swaps x0 and x1)."""
        b = np.asarray(box, dtype=np.float64)
        return self._box(self.to_output(b.reshape(*b.shape[:-1], 2, 2)))

    def box_to_input(self, box: Any) -> np.ndarray:
        """Map output boxes back to input boxes."""
        b = np.asarray(box, dtype=np.float64)
        return self._box(self.to_input(b.reshape(*b.shape[:-1], 2, 2)))

    def warp_to_output(self, image: np.ndarray, factor: int = 1, order: int = 1) -> np.ndarray:
        """Resample ``image`` onto the output grid; ``image`` is the input block-averaged by ``factor``.

        Outside the input the result is 0. ``order`` is the spline order (0 nearest, 1 bilinear).
        """
        # output index (r, c) has centre ((c + .5), (r + .5)) -> input continuous -> source index.
        inv = 1.0 / (self.scale * factor)
        col_scale = -inv if self.flipped else inv
        col_const = ((self.input_shape[1] - self.origin[0]) if self.flipped else self.origin[0]) / factor
        col_off = col_const + col_scale * 0.5 - 0.5
        row_off = self.origin[1] / factor + inv * 0.5 - 0.5
        return ndimage.affine_transform(
            np.asarray(image, dtype=np.float32), np.array([inv, col_scale]), offset=(row_off, col_off),
            output_shape=(self.size, self.size), order=order, mode="constant", cval=0.0, prefilter=False,
        )

    def warp_to_input(self, output_map: np.ndarray, order: int = 1) -> np.ndarray:
        """Resample an output-grid map (e.g. a probability map) back onto the input's pixel grid."""
        out = np.asarray(output_map, dtype=np.float32)
        if out.shape != (self.size, self.size):
            raise MammoError(f"warp_to_input: map has shape {out.shape}, expected ({self.size}, {self.size})")
        # input index (r, c) centre (c + .5, r + .5) -> output continuous -> output index.
        col_scale = -self.scale if self.flipped else self.scale
        if self.flipped:
            col_off = (self.input_shape[1] - 0.5 - self.origin[0]) * self.scale - 0.5
        else:
            col_off = (0.5 - self.origin[0]) * self.scale - 0.5
        row_off = (0.5 - self.origin[1]) * self.scale - 0.5
        return ndimage.affine_transform(
            out, np.array([self.scale, col_scale]), offset=(row_off, col_off), output_shape=self.input_shape,
            order=order, mode="constant", cval=0.0, prefilter=False,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"input_shape": list(self.input_shape), "flipped": self.flipped, "origin": list(self.origin),
                "scale": self.scale, "size": self.size}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ViewTransform:
        return cls(input_shape=(int(data["input_shape"][0]), int(data["input_shape"][1])),
                   flipped=bool(data["flipped"]), origin=(float(data["origin"][0]), float(data["origin"][1])),
                   scale=float(data["scale"]), size=int(data["size"]))


# --------------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------------
@dataclass
class PreprocessedView:
    """One preprocessed view. Points and lines without ``_input`` are in output (``size x size``) pixels."""

    array: np.ndarray  # float32 (size, size), harmonised, chest wall left, 0 outside the breast
    breast_mask: np.ndarray  # bool (size, size)
    nipple: tuple[float, float]
    pectoral: tuple[tuple[float, float], tuple[float, float]] | None
    flipped: bool
    transform: ViewTransform
    breast_bbox: tuple[float, float, float, float]  # input pixels, [x0, y0, x1, y1]
    laterality: str
    view: str
    warnings: list[str] = field(default_factory=list)
    nipple_input: tuple[float, float] = (0.0, 0.0)
    pectoral_input: tuple[tuple[float, float], tuple[float, float]] | None = None

    @property
    def size(self) -> int:
        return self.transform.size

    def summary(self) -> dict[str, Any]:
        """JSON-safe description in the input image's own pixel coordinates (what ``mammo preprocess`` prints)."""
        return {
            "laterality": self.laterality,
            "view": self.view,
            "flipped": self.flipped,
            "input_shape": list(self.transform.input_shape),
            "breast_bbox": [round(v, 1) for v in self.breast_bbox],
            "nipple": [round(v, 1) for v in self.nipple_input],
            "pectoral": None if self.pectoral_input is None
            else [[round(v, 1) for v in p] for p in self.pectoral_input],
            "output_size": [self.size, self.size],
            "transform": self.transform.to_dict(),
            "warnings": list(self.warnings),
        }


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
    """Pixels, laterality and view from a MammoImage-like object or a bare 2-D array."""
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


def _block_mean(arr: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor x factor`` blocks (the remainder rows/columns at the far end are dropped)."""
    if factor <= 1:
        return arr
    h, w = arr.shape[0] // factor * factor, arr.shape[1] // factor * factor
    cut = arr[:h, :w]
    rows = cut[0::factor].astype(np.float32, copy=True)  # summing strided rows is faster than a 4-D mean
    for i in range(1, factor):
        rows += cut[i::factor]
    return rows.reshape(h // factor, w // factor, factor).sum(axis=2) / np.float32(factor * factor)


def _erode(mask: np.ndarray, radius: float) -> np.ndarray:
    """Erosion by a disk via the Euclidean distance transform (linear time; the image edge is not background)."""
    return ndimage.distance_transform_edt(mask) > radius


def _dilate(mask: np.ndarray, radius: float) -> np.ndarray:
    """Dilation by a disk via the Euclidean distance transform."""
    return ndimage.distance_transform_edt(~mask) <= radius


# --------------------------------------------------------------------------------------------------
# segmentation on the working copy
# --------------------------------------------------------------------------------------------------
@dataclass
class _Segmentation:
    mask: np.ndarray  # bool, working copy, input orientation
    chest_wall_left: bool | None  # None: image content is ambiguous
    notes: list[str]
    threshold: float  # intensity separating breast from background


def _strip_rows(fg: np.ndarray, max_depth: float, min_span: float) -> np.ndarray:
    """Per row, how many pixels from the left edge belong to a scanner/film border strip (0 for none).

    A strip is a run of foreground starting at (or within 2% of) the edge that stays shallow (< ``max_depth`` of the width)
    with a steady depth over consecutive rows covering at least ``min_span`` of the height; a breast reaches
    deeper or tapers.
    """
    cols = np.arange(fg.shape[1])[None, :]
    first = np.argmax(fg, axis=1)  # borders may start a few pixels inside the edge
    starts_near = fg.any(axis=1) & (first <= max(1, int(0.02 * fg.shape[1])))
    after = ~fg & (cols > first[:, None])
    depth = np.where(after.any(axis=1), np.argmax(after, axis=1), fg.shape[1])
    depth = np.where(starts_near, depth, 0)
    shallow = (depth > 0) & (depth < max_depth * fg.shape[1])
    runs, count = ndimage.label(shallow)
    out = np.zeros_like(depth)
    for index, run in enumerate(ndimage.find_objects(runs), start=1):
        sel = runs == index
        if run[0].stop - run[0].start < min_span * fg.shape[0]:
            continue
        # a border keeps its depth along the edge; a breast tapering into the corner does not
        med = float(np.median(depth[sel]))
        steady = sel & (np.abs(depth - med) <= max(1.0, 0.25 * med))
        if steady.sum() >= min_span * fg.shape[0]:
            out[steady] = depth[steady]
    return out


def _remove_edge_strips(fg: np.ndarray, max_depth: float = 0.08, min_span: float = 0.08) -> np.ndarray:
    """Clear thin bright bands running along the image edges (film borders, scanner vignetting)."""
    out = fg.copy()
    for turn in range(4):  # left, top, right, bottom edges via rotations
        view = np.rot90(out, turn)
        depth = _strip_rows(view, max_depth, min_span)
        cols = np.arange(view.shape[1])[None, :]
        view[cols < depth[:, None]] = False
    return out


def segment_breast(work: np.ndarray) -> _Segmentation:
    """Breast mask of a working copy, robust to scanner borders, burned-in labels and skin markers.

    Threshold just above the background level, open with a disk (about 2% of the short side) to cut thin
    borders, text and markers off the breast, keep the largest blob that reaches the left or right edge (the
    chest wall), then grow it back within the threshold mask by the opening radius to restore skin and nipple.
    """
    smooth = ndimage.uniform_filter(work, size=3)
    background = float(np.percentile(smooth, 1))
    bright = float(np.percentile(smooth, 99))
    if bright - background < 0.02:
        raise MammoError(f"no breast found: the image is blank or uniform (intensity range "
                         f"{background:.3f}-{bright:.3f} between the 1st and 99th percentile)")
    threshold = background + 0.04 * (bright - background)
    foreground = _remove_edge_strips(smooth > threshold)
    radius = max(2, int(round(0.02 * min(work.shape))))
    opened = _dilate(_erode(foreground, radius), radius)
    labels, count = ndimage.label(opened)
    if count == 0:
        raise MammoError("no breast found: nothing above background survives removal of thin structures")
    areas = np.bincount(labels.ravel())[1:]
    width = work.shape[1]
    edge_band = max(2, int(0.05 * width))
    left_touch = set(np.unique(labels[:, :edge_band])) - {0}
    right_touch = set(np.unique(labels[:, -edge_band:])) - {0}
    order = np.argsort(areas)[::-1] + 1
    notes: list[str] = []
    touching = [lab for lab in order if lab in left_touch or lab in right_touch]
    keep = touching[0] if touching else order[0]
    if not touching:
        notes.append("no bright region reaches the left or right image edge (no chest wall in view); "
                     "kept the largest region")
    others = [lab for lab in order if lab != keep]
    if others and areas[others[0] - 1] > SECOND_BLOB_WARN_FRACTION * areas[keep - 1]:
        notes.append(f"two breast-sized regions found ({int(areas[keep - 1])} and {int(areas[others[0] - 1])} "
                     f"working pixels); kept the larger one touching the chest-wall edge")
    blob = labels == keep
    grown = _dilate(blob, radius + 1) & foreground
    grown = ndimage.binary_fill_holes(grown | blob)
    lab2, n2 = ndimage.label(grown)
    if n2 > 1:
        grown = lab2 == (np.argmax(np.bincount(lab2.ravel())[1:]) + 1)
    # chest wall side: the breast is widest where it meets the chest wall
    band = max(2, int(0.1 * width))
    left, right = float(grown[:, :band].sum()), float(grown[:, -band:].sum())
    if max(left, right) == 0 or max(left, right) < 1.5 * min(left, right):
        chest_left: bool | None = None
    else:
        chest_left = left > right
    return _Segmentation(mask=grown, chest_wall_left=chest_left, notes=notes, threshold=threshold)


def refine_mask(soft: np.ndarray, image: np.ndarray, threshold: float) -> np.ndarray:
    """Sharpen an upsampled working mask: where it is fractional (one working pixel either side of its edge)
    re-threshold the finer image; elsewhere the coarse decision stands, so removed labels and borders stay out.
    """
    near = (soft > 0.0) & (soft < 1.0)
    fine = ndimage.uniform_filter(image, size=3) > threshold
    refined = np.where(near, fine, soft >= 1.0)
    labels, count = ndimage.label(refined)
    if count > 1:
        refined = labels == (np.argmax(np.bincount(labels.ravel())[1:]) + 1)
    return ndimage.binary_fill_holes(refined)


def _contour_points(mask: np.ndarray) -> np.ndarray:
    """(x, y) pixel centres of the mask's boundary that do not lie on the image border."""
    edge = mask & ~ndimage.binary_erosion(mask)
    edge[:, 0] = edge[:, -1] = False
    edge[0, :] = edge[-1, :] = False
    ys, xs = np.nonzero(edge)
    return np.stack([xs + 0.5, ys + 0.5], axis=1)


#: Smallest mean bright-to-dark step across a pectoral line (in units of the breast's intensity range).
PECTORAL_MIN_CONTRAST = 0.03


def _line_contrast(smooth: np.ndarray, inside: np.ndarray, x_top: np.ndarray, y_bottom: np.ndarray, top: float,
                   offset: float, samples: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Mean intensity step across lines from (x_top, top) to (0, y_bottom), and the fraction inside the breast.

    The step is I(muscle side) - I(breast side), sampled ``offset`` pixels either side along the normal.
    """
    t = np.linspace(0.0, 1.0, samples)
    dx, dy = -x_top, y_bottom - top
    length = np.hypot(dx, dy)
    nx, ny = dy / length, -dx / length  # normal pointing away from the chest-wall corner
    px = x_top[:, None] * (1 - t)[None, :]
    py = top + dy[:, None] * t[None, :]
    coords_in = np.stack([py - offset * ny[:, None], px - offset * nx[:, None]]) - 0.5
    coords_out = np.stack([py + offset * ny[:, None], px + offset * nx[:, None]]) - 0.5
    flat_in, flat_out = coords_in.reshape(2, -1), coords_out.reshape(2, -1)
    step = (ndimage.map_coordinates(smooth, flat_in, order=1, mode="nearest")
            - ndimage.map_coordinates(smooth, flat_out, order=1, mode="nearest")).reshape(px.shape)
    valid = ((ndimage.map_coordinates(inside, flat_in, order=0, mode="constant") > 0)
             & (ndimage.map_coordinates(inside, flat_out, order=0, mode="constant") > 0)).reshape(px.shape)
    n_valid = valid.sum(axis=1)
    mean_step = np.where(n_valid > 0, (step * valid).sum(axis=1) / np.maximum(n_valid, 1), 0.0)
    return mean_step, n_valid / samples


def find_pectoral(work_f: np.ndarray, mask_f: np.ndarray) -> tuple[tuple[tuple[float, float], tuple[float, float]] | None, float]:
    """Pectoral muscle edge on a chest-wall-left MLO working copy: end points (x, y) and its relative contrast.

    A Hough-like search over straight lines from the top of the breast to the chest-wall edge scores each by
    its bright-to-dark step (muscle brighter than breast) times the square root of its length inside the
    breast; the best line is then refined by a least-squares fit of the strongest edge point per row near it.
    Returns (None, contrast) when no line with enough contrast exists.
    """
    rows = np.nonzero(mask_f.any(axis=1))[0]
    if rows.size < 10:
        return None, 0.0
    top, bottom = float(rows[0]), float(rows[-1] + 1)
    height = bottom - top
    top_rows = mask_f[int(top):int(top + max(2, 0.03 * height))]
    top_width = float(np.nonzero(top_rows.any(axis=0))[0].max() + 1)
    values = work_f[mask_f]
    span = float(np.percentile(values, 99) - np.percentile(values, 1)) or 1.0
    smooth = ndimage.gaussian_filter(work_f, sigma=max(1.0, 0.004 * max(work_f.shape)))
    inside = mask_f.astype(np.float32)
    step_px = max(2.0, 0.01 * max(work_f.shape))
    xs = np.arange(0.05 * top_width, 0.98 * top_width, step_px)
    ys = np.arange(top + 0.15 * height, bottom, step_px)
    if xs.size == 0 or ys.size == 0:
        return None, 0.0
    grid_x, grid_y = (g.ravel() for g in np.meshgrid(xs, ys))
    offset = max(1.0, 0.005 * max(work_f.shape))
    mean_step, frac = _line_contrast(smooth, inside, grid_x, grid_y, top, offset)
    length = np.hypot(grid_x, grid_y - top)
    score = np.where(frac > 0.6, mean_step * np.sqrt(length * frac), -np.inf)
    best = int(np.argmax(score))
    if not np.isfinite(score[best]) or mean_step[best] / span < PECTORAL_MIN_CONTRAST:
        return None, float(mean_step[best] / span) if np.isfinite(score[best]) else 0.0
    x_top, y_bottom = float(grid_x[best]), float(grid_y[best])
    # refine: strongest bright-to-dark step per row within a band around the coarse line
    grad = ndimage.sobel(smooth, axis=1)
    band = max(2, int(round(0.03 * work_f.shape[1])))
    fit_y, fit_x = [], []
    for y in range(int(top), int(min(y_bottom, bottom))):
        xc = x_top * (1 - (y + 0.5 - top) / (y_bottom - top))
        lo, hi = max(0, int(xc) - band), min(work_f.shape[1] - 1, int(xc) + band + 1)
        if hi - lo < 3:
            continue
        k = int(np.argmin(grad[y, lo:hi]))
        if grad[y, lo + k] < 0:
            fit_y.append(y + 0.5)
            fit_x.append(lo + k + 0.5)
    if len(fit_y) >= 8:
        slope, intercept = np.polyfit(fit_y, fit_x, 1)
        if slope < -0.05 and intercept + slope * top > 0:
            refined_top, refined_bottom = float(intercept + slope * top), float(-intercept / slope)
            check, _ = _line_contrast(smooth, inside, np.array([refined_top]), np.array([refined_bottom]), top, offset)
            # the edge point sits where the step is sharpest, which on a soft muscle edge lies a little
            # outside the line of largest +-offset contrast; keep it unless the contrast collapses
            if check[0] >= 0.7 * mean_step[best]:
                x_top, y_bottom = refined_top, refined_bottom
    contrast = float(_line_contrast(smooth, inside, np.array([x_top]), np.array([y_bottom]), top, offset)[0][0])
    end_y = min(y_bottom, bottom)
    end_x = max(0.0, x_top * (1 - (end_y - top) / (y_bottom - top)))
    return ((x_top, top), (end_x, end_y)), contrast / span


def refine_pectoral(image_f: np.ndarray, line: tuple[tuple[float, float], tuple[float, float]],
                    near_breast: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Re-fit a pectoral line on a finer chest-wall-left copy: per row, the sharpest bright-to-dark step
    within 3% of the width of the coarse line, then a least-squares line with one round of outlier removal.
    Returns the coarse line unchanged when too few rows support a steeper-than-flat edge.
    """
    (x_top, top), (x_end, y_end) = line
    if y_end <= top + 4:
        return line
    grad = ndimage.sobel(ndimage.gaussian_filter(image_f, 1.0), axis=1)
    band = max(2, int(round(0.03 * image_f.shape[1])))
    ys, xs = [], []
    for y in range(int(top), int(min(y_end, image_f.shape[0]))):
        xc = x_top + (x_end - x_top) * (y + 0.5 - top) / (y_end - top)
        lo, hi = max(0, int(xc) - band), min(image_f.shape[1] - 1, int(xc) + band + 1)
        if hi - lo < 3 or not near_breast[y, lo:hi].any():
            continue
        k = int(np.argmin(grad[y, lo:hi]))
        if grad[y, lo + k] < 0:
            ys.append(y + 0.5)
            xs.append(lo + k + 0.5)
    if len(ys) < 10:
        return line
    y_arr, x_arr = np.array(ys), np.array(xs)
    slope, intercept = np.polyfit(y_arr, x_arr, 1)
    resid = np.abs(x_arr - (intercept + slope * y_arr))
    keep = resid <= max(1.5, 2.5 * float(np.median(resid)))
    if keep.sum() >= 10:
        slope, intercept = np.polyfit(y_arr[keep], x_arr[keep], 1)
    if slope >= -0.05 or intercept + slope * top <= 0:
        return line
    new_top = float(intercept + slope * top)
    bottom = float(-intercept / slope)
    end_y = min(bottom, float(image_f.shape[0]))
    return (new_top, float(top)), (max(0.0, float(intercept + slope * end_y)), end_y)


#: A metal skin marker is surrounded by skin, fat and air: the ring around it averages at most this fraction of
#: its plateau (saturated dense tissue and calcified masses inside the breast are ringed by dense tissue).
MARKER_RING_CONTRAST = 0.5


def find_markers(image: np.ndarray, near_breast: np.ndarray, threshold: float) -> list[tuple[float, float]]:
    """Centres (x, y) of metal skin markers (BBs) on the skin line of ``image`` (pixels of ``near_breast``'s grid).

    A BB is a solid disk at the detector's saturation: a plateau within 2% of the image maximum (itself at least
    0.97), round (fills >= 60% of its box, aspect <= 1.5), 0.5-2.5% of the long side across, and taped on the
    skin: the ring around it (one radius wide) averages at most :data:`MARKER_RING_CONTRAST` of the plateau and
    holds some tissue (above ``threshold``). Saturated dense tissue inside the breast fails the first, labels
    lying in air the second. Biggest first.
    """
    top = float(image[near_breast].max()) if near_breast.any() else 0.0
    if top < 0.97:
        return []
    plateau = (image >= 0.98 * top) & near_breast
    labels, count = ndimage.label(plateau)
    long_side = max(image.shape)
    found = []
    for index, sl in enumerate(ndimage.find_objects(labels), start=1):
        h, w = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        blob = labels[sl] == index
        diameter = 2.0 * np.sqrt(blob.sum() / np.pi)
        if not (0.005 * long_side <= diameter <= 0.025 * long_side and blob.sum() >= 0.6 * h * w
                and max(h, w) <= 1.5 * min(h, w)):
            continue
        pad = int(np.ceil(diameter))
        y0, y1 = max(0, sl[0].start - pad), min(image.shape[0], sl[0].stop + pad)
        x0, x1 = max(0, sl[1].start - pad), min(image.shape[1], sl[1].stop + pad)
        local = labels[y0:y1, x0:x1] == index
        ring = _dilate(local, diameter / 2) & ~_dilate(local, 1.0)
        if not ring.any():
            continue
        around = image[y0:y1, x0:x1][ring]
        if float(around.mean()) <= MARKER_RING_CONTRAST * top and bool((around > threshold).any()):
            cy, cx = ndimage.center_of_mass(local)
            found.append((float(blob.sum()), (float(cx + x0) + 0.5, float(cy + y0) + 0.5)))
    return [centre for _, centre in sorted(found, key=lambda item: -item[0])]


#: A nipple marker this close (fraction of the breast's height) to the skin line's nipple just confirms it;
#: farther away it is reported (the nipple is not at the apex of the skin line, or not in profile).
NIPPLE_MARKER_AGREE = 0.05
#: The anterior cap: skin points within this fraction of the breast's depth of the farthest one.
NIPPLE_CAP = 0.02
#: A nipple in profile is searched within this fraction of the breast's height of the cap's centre ...
NIPPLE_SEARCH = 0.05
#: ... as a bump of the front skin line at least this prominent (fraction of the depth) within that window.
NIPPLE_MIN_PROMINENCE = 0.005


def front_profile(image_f: np.ndarray, threshold: float, near_breast: np.ndarray, rows: slice) -> np.ndarray:
    """Per row of ``rows`` of a chest-wall-left image, the column of the breast's front skin edge (-1: none).

    The front is the last pixel above ``threshold`` (3 x 3 mean) within ``near_breast``, so labels and markers
    off the breast are ignored. Rows where the breast runs off the image's right edge have no skin there
    (-1), unless that is every row (an image cropped through the breast).
    """
    band = (ndimage.uniform_filter(image_f[rows], size=3) > threshold) & near_breast[rows]
    has = band.any(axis=1)
    front = np.where(has, band.shape[1] - 1 - np.argmax(band[:, ::-1], axis=1), -1)
    cut = front >= band.shape[1] - 1
    return np.where(cut, -1, front) if (has & ~cut).any() else front


def profile_nipple(image_f: np.ndarray, threshold: float, near_breast: np.ndarray,
                   rows: slice) -> tuple[tuple[float, float], bool] | None:
    """Nipple (x, y) on a chest-wall-left image (a finer copy than the working one) and whether it is in profile.

    The breast's apex is the centroid of its anterior cap: rows weighted by how far their front skin edge
    reaches beyond :data:`NIPPLE_CAP` of the depth behind the farthest one, so a flat or two-lobed front does
    not pull it to a corner. A nipple in profile is a small protrusion of the skin line: the peak of the
    (median-smoothed) front with the largest prominence (``scipy.signal.find_peaks``, measured within a
    :data:`NIPPLE_SEARCH`-of-the-height window), at least :data:`NIPPLE_MIN_PROMINENCE` of the depth, within
    :data:`NIPPLE_SEARCH` of the height of the apex. Without one the apex is returned. None: no breast row.
    """
    from scipy.signal import find_peaks

    front = front_profile(image_f, threshold, near_breast, rows)
    present = np.nonzero(front >= 0)[0]
    if present.size == 0:
        return None
    depth = float(front.max()) + 1.0
    weight = np.clip(front - (depth - 1.0 - NIPPLE_CAP * depth), 0.0, None)
    apex = float((weight * np.arange(front.size)).sum() / max(float(weight.sum()), 1e-12))
    row = int(present[np.argmin(np.abs(present - apex))])
    smooth = front.astype(np.float64)
    span = slice(int(present[0]), int(present[-1]) + 1)
    smooth[span] = ndimage.median_filter(smooth[span], size=5, mode="nearest")
    window = max(3, int(NIPPLE_SEARCH * present.size) | 1)
    with _warnings.catch_warnings():  # flat stretches get prominence 0 within the window: filtered out below
        _warnings.filterwarnings("ignore", message="some peaks have a prominence of 0")
        peaks, props = find_peaks(smooth, prominence=NIPPLE_MIN_PROMINENCE * depth, wlen=window)
    near = (np.abs(peaks - apex) <= NIPPLE_SEARCH * present.size) & (front[peaks] >= 0)
    in_profile = bool(near.any())
    if in_profile:
        row = int(peaks[near][np.argmax(props["prominences"][near])])
    return (float(front[row]) + 0.5, float(row + rows.start) + 0.5), in_profile


def find_nipple(mask_f: np.ndarray, markers: list[tuple[float, float]] | None = None,
                fine_tip: tuple[float, float] | None = None) -> tuple[tuple[float, float], bool]:
    """Nipple on a chest-wall-left mask and whether a nipple marker placed it.

    Without a finer estimate the nipple is the breast's most anterior point (the posterior nipple line runs
    from it to the chest wall or pectoral muscle): contour points within 1% of the breast depth of the
    farthest are averaged, so a flat front does not pull it to a corner. A radiopaque skin marker in the
    anterior fifth of the breast, within a quarter of its height of that point, marks the nipple (in profile
    or not): the contour point nearest the (biggest such) marker is used. ``fine_tip``, the nipple found on a
    finer copy (:func:`profile_nipple`, in working pixels), replaces the working copy's anterior point.
    """
    pts = _contour_points(mask_f)
    if pts.size == 0:
        raise MammoError("no breast contour found to place the nipple on")
    depth = pts[:, 0]
    best = float(depth.max())
    cand = pts[depth >= best - max(1.0, 0.01 * best)]
    centre = cand.mean(axis=0)
    tip = np.asarray(fine_tip) if fine_tip is not None else cand[np.argmin(((cand - centre) ** 2).sum(axis=1))]
    rows = np.nonzero(mask_f.any(axis=1))[0]
    height = float(rows[-1] - rows[0] + 1)
    near = [m for m in (markers or []) if m[0] >= 0.8 * best and abs(m[1] - tip[1]) <= 0.25 * height]
    if near:
        marker = np.asarray(near[0])  # the biggest
        x, y = pts[np.argmin(((pts - marker) ** 2).sum(axis=1))]
        return (float(x), float(y)), True
    return (float(tip[0]), float(tip[1])), False


# --------------------------------------------------------------------------------------------------
# intensity harmonisation
# --------------------------------------------------------------------------------------------------
#: Breast-pixel percentiles mapped to 0 and 1: a linear window that keeps relative density (fat vs dense).
HARMONISE_PERCENTILES = (0.5, 99.5)


def harmonise(array: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Vendor harmonisation: window the breast's own intensity range to [0, 1] and zero the outside.

    Each vendor's processing leaves the breast in a different part of the [0, 1] range; mapping the breast's
    0.5th-99.5th percentiles linearly to [0, 1] puts them on one scale while keeping fat darker than dense
    tissue. Labels and markers outside the mask become 0.
    """
    values = array[mask]
    if values.size == 0:
        raise MammoError("cannot harmonise: the breast mask is empty on the output grid")
    lo, hi = np.percentile(values, HARMONISE_PERCENTILES)
    if hi - lo < 1e-6:
        out = np.where(mask, 0.5, 0.0)
    else:
        out = np.clip((array - lo) / (hi - lo), 0.0, 1.0)
    return np.where(mask, out, 0.0).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# the public entry point
# --------------------------------------------------------------------------------------------------
def _warn(messages: list[str], text: str) -> None:
    messages.append(text)
    _warnings.warn(text, PreprocessWarning, stacklevel=4)


def _named(exc: MammoError, name: str | None) -> MammoError:
    """``exc`` with the image's file name in front (once), so that a batch says which image failed."""
    text = str(exc)
    return MammoError(text if not name or text.startswith(f"{name}:") else f"{name}: {text}")


def preprocess_view(image: Any, *, size: int = DEFAULT_SIZE, laterality: str | None = None,
                    view: str | None = None) -> PreprocessedView:
    """Preprocess one view (a ``dicomio.MammoImage`` or a 2-D array in [0, 1]) to a ``size x size`` array.

    ``laterality``/``view`` override the image's own. Orientation comes from laterality checked against the
    image (the breast is widest at the chest wall); when they disagree the image content wins and a warning
    says so; without laterality it is inferred from the image. A view is required (CC or MLO). Raises
    MammoError for blank, tiny or non-finite images and unknown labels, naming the image's file (its
    ``source``) when it has one.
    """
    try:
        return _preprocess_view(image, size=size, laterality=laterality, view=view)
    except MammoError as exc:
        raise _named(exc, getattr(image, "source", None)) from None


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
    base = _block_mean(pixels, base_factor)
    factor = base_factor * max(1, int(round(max(base.shape) / WORK_SIDE)))
    work = _block_mean(base, factor // base_factor)
    seg = segment_breast(work)
    for note in seg.notes:
        _warn(messages, note)

    # orientation: flip so the chest wall is on the left
    content_flip = None if seg.chest_wall_left is None else not seg.chest_wall_left
    if lat is None and content_flip is None:
        flipped, lat = False, "L"
        _warn(messages, "laterality not given and the image does not show on which side the chest wall is; "
                        "assumed L (not flipped)")
    elif lat is None:
        flipped = bool(content_flip)
        lat = "R" if flipped else "L"
        _warn(messages, f"laterality not given; inferred {lat} from the image (chest wall on the "
                        f"{'right' if flipped else 'left'}, as stored for a {lat} breast)")
    elif content_flip is None:
        flipped = lat == "R"
    else:
        flipped = content_flip
        if flipped != (lat == "R"):
            _warn(messages, f"laterality {lat} disagrees with the image: a {lat} breast is stored with its chest "
                            f"wall on the {'right' if lat == 'R' else 'left'}, but this image has it on the "
                            f"{'right' if flipped else 'left'}; oriented by the image content (check the "
                            "laterality label or the stored orientation)")
    work_f = work[:, ::-1] if flipped else work
    mask_f = seg.mask[:, ::-1] if flipped else seg.mask

    pectoral_w = None
    if vw == "MLO":
        pectoral_w, _ = find_pectoral(work_f, mask_f)
        if pectoral_w is not None:  # refine on the finer copy, in its pixels, then back to working pixels
            step_p = factor // base_factor
            fine_f = base[:work.shape[0] * step_p, :work.shape[1] * step_p]
            fine_f = fine_f[:, ::-1] if flipped else fine_f
            near_p = np.repeat(np.repeat(mask_f, step_p, axis=0), step_p, axis=1)[:fine_f.shape[0], :fine_f.shape[1]]
            fine = refine_pectoral(fine_f, ((pectoral_w[0][0] * step_p, pectoral_w[0][1] * step_p),
                                            (pectoral_w[1][0] * step_p, pectoral_w[1][1] * step_p)), near_p)
            pectoral_w = ((fine[0][0] / step_p, fine[0][1] / step_p), (fine[1][0] / step_p, fine[1][1] / step_p))
        if pectoral_w is None:
            _warn(messages, "pectoral muscle edge not found on this MLO view (pectoral is None)")
    # markers are found on the finer copy (a BB is a few working pixels across) and brought to working pixels
    step = factor // base_factor
    near_base = np.repeat(np.repeat(_dilate(seg.mask, 2.0), step, axis=0), step, axis=1)
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
                            "height away from the apex of the skin line (nipple not at the apex, or not in profile)")

    cols_w = work.shape[1]

    def to_input(pt: tuple[float, float]) -> tuple[float, float]:
        x, y = pt
        return (float((cols_w - x) * factor if flipped else x * factor), float(y * factor))

    nipple_in = to_input(nipple_w)
    pectoral_in = None if pectoral_w is None else (to_input(pectoral_w[0]), to_input(pectoral_w[1]))
    ys, xs = np.nonzero(seg.mask)
    bbox = (float(xs.min() * factor), float(ys.min() * factor),
            float(min(width, (xs.max() + 1) * factor)), float(min(height, (ys.max() + 1) * factor)))

    # square crop: chest-wall edge of the box at the left, box centred vertically, aspect ratio kept
    x0_f = width - bbox[2] if flipped else bbox[0]
    side = max(bbox[2] - bbox[0], bbox[3] - bbox[1]) * 1.02
    origin = (x0_f, (bbox[1] + bbox[3]) / 2 - side / 2)
    transform = ViewTransform(input_shape=(height, width), flipped=flipped, origin=origin, scale=size / side,
                              size=int(size))
    resampled = transform.warp_to_output(base, factor=base_factor, order=1)
    soft = transform.warp_to_output(_dilate(seg.mask, 1.0).astype(np.float32) * 0.5
                                    + _erode(seg.mask, 1.0).astype(np.float32) * 0.5, factor=factor, order=1)
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


# --------------------------------------------------------------------------------------------------
# accuracy against ground truth (synthetic twin, or any annotated set)
# --------------------------------------------------------------------------------------------------
def segment_distance(a: Any, b: Any, samples: int = 64) -> float:
    """Mean distance from points evenly spread on segment ``a`` to segment ``b`` (same units as the input)."""
    a0, a1 = (np.asarray(p, dtype=np.float64) for p in a)
    b0, b1 = (np.asarray(p, dtype=np.float64) for p in b)
    pts = a0 + np.linspace(0.0, 1.0, samples)[:, None] * (a1 - a0)
    d = b1 - b0
    t = np.clip(((pts - b0) @ d) / max(float(d @ d), 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(pts - (b0 + t[:, None] * d), axis=1).mean())


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two boolean masks of equal shape (1.0 when both are empty)."""
    if a.shape != b.shape:
        raise MammoError(f"dice: mask shapes differ, {a.shape} vs {b.shape}")
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def landmark_errors(result: PreprocessedView, *, breast_mask: np.ndarray, nipple: Any,
                    pectoral: Any | None, spacing_mm: tuple[float, float]) -> dict[str, float]:
    """Errors of one preprocessed view against ground truth given in the input's pixels.

    ``nipple_mm``: distance between nipples; ``dice``: breast-mask overlap on the input grid (the output mask
    warped back); ``pectoral_mm``: symmetric mean distance between the two pectoral segments (NaN on CC, or
    infinite when one side has a pectoral and the other not). ``spacing_mm`` is (row, column) in mm.
    """
    if breast_mask.shape != result.transform.input_shape:
        raise MammoError(f"ground-truth mask shape {breast_mask.shape} differs from the image's "
                         f"{result.transform.input_shape}")
    scale = np.array([spacing_mm[1], spacing_mm[0]], dtype=np.float64)  # (x, y) mm per pixel
    nip = float(np.linalg.norm((np.asarray(result.nipple_input) - np.asarray(nipple, dtype=np.float64)) * scale))
    mask_in = result.transform.warp_to_input(result.breast_mask.astype(np.float32)) > 0.5
    if pectoral is None and result.pectoral_input is None:
        pec = float("nan")
    elif pectoral is None or result.pectoral_input is None:
        pec = float("inf")
    else:
        truth = [np.asarray(p, dtype=np.float64) * scale for p in pectoral]
        found = [np.asarray(p, dtype=np.float64) * scale for p in result.pectoral_input]
        pec = 0.5 * (segment_distance(truth, found) + segment_distance(found, truth))
    return {"nipple_mm": nip, "dice": dice(mask_in, np.asarray(breast_mask, dtype=bool)), "pectoral_mm": pec}


#: Issue #5 goals on the synthetic twin: (measure, statistic, goal, direction).
ACCURACY_GOALS: tuple[tuple[str, str, float, str], ...] = (
    ("nipple within 5 mm (% of views)", "nipple_within_5mm_pct", 97.0, ">="),
    ("breast mask Dice (mean)", "dice_mean", 0.97, ">="),
    ("pectoral edge mean distance on MLO (mm, mean)", "pectoral_mm_mean", 3.0, "<="),
)


def summarise_accuracy(errors: Any) -> Any:
    """Goal table from per-view errors (columns view, nipple_mm, dice, pectoral_mm): measure, goal, measured, met."""
    import pandas as pd

    missing = {"view", "nipple_mm", "dice", "pectoral_mm"} - set(errors.columns)
    if missing:
        raise MammoError(f"per-view errors lack column(s) {sorted(missing)}")
    if errors.empty:
        raise MammoError("no views to summarise")
    mlo = errors[errors["view"] == "MLO"]
    stats = {
        "nipple_within_5mm_pct": 100.0 * float((errors["nipple_mm"] <= 5.0).mean()),
        "dice_mean": float(errors["dice"].mean()),
        "pectoral_mm_mean": float(mlo["pectoral_mm"].mean()) if len(mlo) else float("nan"),
    }
    rows = []
    for label, key, goal, direction in ACCURACY_GOALS:
        value = stats[key]
        met = bool(value >= goal) if direction == ">=" else bool(value <= goal)
        rows.append({"measure": label, "goal": f"{direction} {goal:g}", "measured": value, "met": met,
                     "views": len(mlo) if key.startswith("pectoral") else len(errors)})
    return pd.DataFrame(rows)


def _twin_view_errors(job: tuple[str, dict[str, Any], int]) -> dict[str, Any]:
    """Errors of one twin view (a worker of :func:`twin_accuracy`)."""
    from mammo_lib.synth import load_view_truth

    root, row, size = job
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always", PreprocessWarning)
        result = preprocess_cached(Path(root) / row["image_path"], laterality=row["laterality"], view=row["view"],
                                   size=size, sha256=row["sha256"])
    truth = load_view_truth(root, row["image_id"])
    pectoral = None if truth.pectoral is None else (tuple(truth.pectoral[:2]), tuple(truth.pectoral[2:]))
    errors = landmark_errors(result, breast_mask=truth.breast_mask, nipple=truth.nipple, pectoral=pectoral,
                             spacing_mm=(truth.pixel_spacing_mm, truth.pixel_spacing_mm))
    return {"image_id": row["image_id"], "vendor": row["vendor"], "laterality": row["laterality"],
            "view": row["view"], **errors, "flipped": result.flipped, "warnings": len(caught),
            "harmonised_median": float(np.median(result.array[result.breast_mask]))}


def twin_accuracy(limit: int | None = None, size: int = DEFAULT_SIZE, progress: bool = False,
                  workers: int = 2) -> Any:
    """Per-view errors of :func:`preprocess_cached` on the synthetic twin against its ground truth.

    Generates the twin when missing (``mammo_lib.synth.ensure_cohort``); ``limit`` takes the first views of
    the manifest (a quick check); ``workers`` processes share the views (the CI machine has 2 cores). Returns
    a DataFrame in manifest order with image_id, vendor, laterality, view, the errors of
    :func:`landmark_errors`, the number of warnings and the median harmonised breast intensity.
    """
    import pandas as pd
    from tqdm import tqdm

    from mammo_lib.synth import ensure_cohort

    files = ensure_cohort("twin")
    manifest = pd.read_csv(files.manifest, dtype={"sha256": str})
    if limit is not None:
        manifest = manifest.head(int(limit))
    jobs = [(str(files.root), row, int(size)) for row in manifest.to_dict("records")]
    bar = {"total": len(jobs), "disable": not progress, "desc": "preprocess twin", "unit": "view"}
    if workers > 1 and len(jobs) > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=workers) as pool:
            rows = list(tqdm(pool.map(_twin_view_errors, jobs, chunksize=8), **bar))
    else:
        rows = [_twin_view_errors(job) for job in tqdm(jobs, **bar)]
    return pd.DataFrame(rows)


def orientation_checks(result: PreprocessedView) -> dict[str, bool]:
    """Checks that need no ground truth (for real images): chest wall left, nipple on the front contour.

    ``chest_wall_left``: the mask fills the left edge more than the right sixth; ``nipple_on_contour``: the
    mask changes within 3 output pixels of the nipple; ``nipple_anterior``: the nipple lies in the front
    quarter of the breast's depth.
    """
    m = result.breast_mask
    x, y = (int(v) for v in result.nipple)
    patch = m[max(0, y - 3):y + 4, max(0, x - 3):x + 4]
    cols = np.nonzero(m.any(axis=0))[0]
    return {
        "chest_wall_left": bool(m[:, :10].mean() > m[:, -m.shape[1] // 6:].mean()),
        "nipple_on_contour": bool(patch.any() and not patch.all()),
        "nipple_anterior": bool(cols.size and x >= cols.max() - 0.25 * (cols.max() - cols.min() + 1)),
    }


def draw_input(ax: Any, pixels: np.ndarray, result: PreprocessedView) -> None:
    """Input image with the breast box, nipple and pectoral line in its own pixels (matplotlib axes)."""
    from matplotlib.patches import Rectangle

    h, w = pixels.shape
    ax.imshow(pixels, cmap="gray", vmin=0, vmax=1, extent=(0, w, h, 0))
    x0, y0, x1, y1 = result.breast_bbox
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="lime", lw=1))
    ax.plot(*result.nipple_input, "o", mfc="none", mec="red", ms=8, mew=1.5)
    if result.pectoral_input is not None:
        (px0, py0), (px1, py1) = result.pectoral_input
        ax.plot([px0, px1], [py0, py1], color="deepskyblue", lw=1.5)
    ax.set_axis_off()


def draw_output(ax: Any, result: PreprocessedView) -> None:
    """Preprocessed array with the mask contour, nipple and pectoral line in output pixels."""
    n = result.size
    ax.imshow(result.array, cmap="gray", vmin=0, vmax=1, extent=(0, n, n, 0))
    ax.contour(np.arange(n) + 0.5, np.arange(n) + 0.5, result.breast_mask.astype(float), levels=[0.5],
               colors="lime", linewidths=0.8)
    ax.plot(*result.nipple, "o", mfc="none", mec="red", ms=8, mew=1.5)
    if result.pectoral is not None:
        (px0, py0), (px1, py1) = result.pectoral
        ax.plot([px0, px1], [py0, py1], color="deepskyblue", lw=1.5)
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    ax.set_axis_off()


# --------------------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------------------
_CACHE_KEYS = ("array", "breast_mask", "meta", "digest")


def _meta_of(view: PreprocessedView) -> dict[str, Any]:
    meta = view.summary()
    meta["nipple_output"] = list(view.nipple)
    meta["pectoral_output"] = None if view.pectoral is None else [list(p) for p in view.pectoral]
    meta["nipple_input_exact"] = list(view.nipple_input)
    meta["pectoral_input_exact"] = None if view.pectoral_input is None else [list(p) for p in view.pectoral_input]
    meta["breast_bbox_exact"] = list(view.breast_bbox)
    return meta


def _view_of(array: np.ndarray, mask: np.ndarray, meta: dict[str, Any]) -> PreprocessedView:
    def pair(p: Any) -> tuple[float, float]:
        return (float(p[0]), float(p[1]))

    def line(ps: Any) -> tuple[tuple[float, float], tuple[float, float]] | None:
        return None if ps is None else (pair(ps[0]), pair(ps[1]))

    return PreprocessedView(
        array=array, breast_mask=mask, nipple=pair(meta["nipple_output"]), pectoral=line(meta["pectoral_output"]),
        flipped=bool(meta["flipped"]), transform=ViewTransform.from_dict(meta["transform"]),
        breast_bbox=tuple(float(v) for v in meta["breast_bbox_exact"]),  # type: ignore[arg-type]
        laterality=str(meta["laterality"]), view=str(meta["view"]), warnings=list(meta["warnings"]),
        nipple_input=pair(meta["nipple_input_exact"]), pectoral_input=line(meta["pectoral_input_exact"]),
    )


def _digest(array: np.ndarray, mask: np.ndarray, meta_text: str) -> str:
    from mammo_lib.checksums import sha256_bytes

    return sha256_bytes(np.ascontiguousarray(array).tobytes() + np.ascontiguousarray(mask).tobytes()
                        + meta_text.encode())


def cache_key(sha256: str, *, laterality: str | None, view: str | None, size: int,
              for_processing: str = "refuse") -> str:
    """Cache key of one preprocessed view: source checksum, every parameter and the algorithm version."""
    from mammo_lib.checksums import sha256_bytes

    reading = {} if for_processing == "refuse" else {"for_processing": for_processing}  # old keys stay valid
    text = json.dumps({"source": sha256, "laterality": laterality, "view": view, "size": int(size),
                       "work_side": WORK_SIDE, "harmonise": HARMONISE_PERCENTILES,
                       "version": PREPROCESS_VERSION, **reading}, sort_keys=True)
    return sha256_bytes(text.encode())


def cache_path(key: str) -> Path:
    """Where the cache entry of ``key`` lives under ``paths.cache_dir()``."""
    from mammo_lib.paths import cache_dir

    return cache_dir() / "preprocess" / key[:2] / f"{key}.npz"


def save_cached(path: Path, view: PreprocessedView) -> None:
    """Write one entry atomically (temporary file, then rename) with a digest of its content."""
    meta_text = json.dumps(_meta_of(view), sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, array=view.array, breast_mask=view.breast_mask, meta=np.array(meta_text),
                     digest=np.array(_digest(view.array, view.breast_mask, meta_text)))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_cached(path: Path) -> PreprocessedView | None:
    """Read one entry; None when it is missing, unreadable, truncated or fails its digest."""
    import zipfile

    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if set(data.files) != set(_CACHE_KEYS):
                return None
            array, mask = data["array"], data["breast_mask"]
            meta_text, digest = str(data["meta"]), str(data["digest"])
        if _digest(array, mask, meta_text) != digest:
            return None
        return _view_of(array, mask, json.loads(meta_text))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def preprocess_cached(path: str | Path, *, laterality: str | None, view: str | None, size: int = DEFAULT_SIZE,
                      sha256: str | None = None, force: bool = False,
                      for_processing: str = "refuse") -> PreprocessedView:
    """:func:`preprocess_view` of an image file, cached under ``paths.cache_dir()/preprocess``.

    The key is the file's sha256 (pass ``sha256`` from the manifest to skip hashing) plus the parameters, so
    a second call reads the entry and does no image work. A corrupt entry is reported and rebuilt.
    ``force``/``for_processing`` go to ``dicomio.read_image``. Errors name the image file.
    """
    from mammo_lib.checksums import sha256_file

    source = Path(path)
    if not source.is_file():
        raise MammoError(f"image file not found: {source}")
    key = cache_key(sha256 or sha256_file(source), laterality=laterality, view=view, size=size,
                    for_processing=for_processing)
    entry = cache_path(key)
    cached = load_cached(entry)
    if cached is not None:
        for text in cached.warnings:
            _warnings.warn(text, PreprocessWarning, stacklevel=2)
        return cached
    if entry.exists():
        _warnings.warn(f"cache entry {entry.name} is corrupt; rebuilding it", PreprocessWarning, stacklevel=2)
    try:
        result = preprocess_view(read_image(source, laterality=laterality, view=view, force=force,
                                            for_processing=for_processing), size=size)
    except MammoError as exc:
        raise _named(exc, source.name) from None
    save_cached(entry, result)
    return result


def read_image(path: str | Path, *, laterality: str | None = None, view: str | None = None, force: bool = False,
               for_processing: str = "refuse") -> Any:
    """The data layer's reader (``mammo_lib.dicomio.read_image``): DICOM MG or 16-bit PNG -> MammoImage."""
    try:
        from mammo_lib import dicomio
    except ModuleNotFoundError as exc:  # pragma: no cover - dicomio ships with the data layer
        raise MammoError("reading image files needs mammo_lib.dicomio, which this checkout lacks") from exc
    return dicomio.read_image(path, laterality=laterality, view=view, force=force, for_processing=for_processing)


# --------------------------------------------------------------------------------------------------
# mammo preprocess
# --------------------------------------------------------------------------------------------------
def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="a DICOM mammogram or a 16-bit grayscale PNG")
    parser.add_argument("--laterality", choices=LATERALITY, help="breast side (default: from the DICOM header)")
    parser.add_argument("--view", choices=VIEW, help="projection (default: from the DICOM header)")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help=f"output side in pixels (default {DEFAULT_SIZE})")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the preprocessing cache")
    parser.add_argument("--save", metavar="NPY", help="also save the preprocessed size x size float32 array (.npy)")
    parser.add_argument("--force", action="store_true", help="read a DICOM whose Modality is not MG")
    parser.add_argument("--for-processing", choices=("refuse", "log"), default="refuse",
                        help="a FOR PROCESSING (raw) image: refuse it (default) or log-normalise it")


def run_command(args: argparse.Namespace) -> int:
    import sys

    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always", PreprocessWarning)
        reading = dict(force=args.force, for_processing=args.for_processing)
        if args.no_cache:
            result = preprocess_view(read_image(args.image, laterality=args.laterality, view=args.view, **reading),
                                     size=args.size)
        else:
            result = preprocess_cached(args.image, laterality=args.laterality, view=args.view, size=args.size,
                                       **reading)
    for item in caught:
        if issubclass(item.category, PreprocessWarning):
            print(f"mammo preprocess: warning: {item.message}", file=sys.stderr)
    if args.save:
        np.save(args.save, result.array)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
        return 0
    for name in ("laterality", "view", "flipped", "input_shape", "breast_bbox", "nipple", "pectoral", "output_size"):
        print(f"{name:<12} {summary[name]}")
    return 0
