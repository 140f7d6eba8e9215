"""Preprocessing geometry: the exact input <-> 448-grid transform of a view, the result of preprocessing it, its
constants and warning class, and the block-averaging and morphology helpers the steps share.

Preprocessing of one mammographic view: orientation, breast mask, pectoral edge, nipple, harmonisation, resize.

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

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from mammo_lib.errors import MammoError

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


#: Pixels per band when block-averaging an image mapped on demand (about 2 MB of float32: stays in cache).
BAND_PIXELS = 1 << 19


def block_mean(arr: np.ndarray, factor: int) -> np.ndarray:
    """Average ``factor x factor`` blocks (the remainder rows/columns at the far end are dropped).

    ``arr`` may also be an image whose values are mapped where read (``dicomio.DisplayPixels``): it is averaged
    band by band of whole blocks, so no full-resolution float copy is made; each block's sum is computed as for
    an array, so the result is the same, bit for bit.
    """
    if not isinstance(arr, np.ndarray):
        if factor <= 1:
            return np.asarray(arr, dtype=np.float32)
        h = arr.shape[0] // factor * factor
        band = factor * max(1, BAND_PIXELS // (arr.shape[1] * factor))
        raw, mapper = getattr(arr, "raw", None), getattr(arr, "map", None)
        if raw is None or mapper is None:
            return np.concatenate([block_mean(arr[r:min(r + band, h)], factor) for r in range(0, h, band)])
        # each band's display values are mapped into one reused buffer (no new float band per band)
        buffer = np.empty((min(band, h), arr.shape[1]), dtype=np.float32)
        out = np.empty((h // factor, arr.shape[1] // factor), dtype=np.float32)
        for r in range(0, h, band):
            rows = min(r + band, h) - r
            out[r // factor:(r + rows) // factor] = block_mean(mapper(raw[r:r + rows], out=buffer[:rows]), factor)
        return out
    if factor <= 1:
        return arr
    h, w = arr.shape[0] // factor * factor, arr.shape[1] // factor * factor
    cut = arr[:h, :w]
    rows = cut[0::factor].astype(np.float32, copy=True)  # summing strided rows is faster than a 4-D mean
    for i in range(1, factor):
        rows += cut[i::factor]
    if _column_sums_match_numpy(factor):
        return _column_sums(rows, factor) / np.float32(factor * factor)
    return rows.reshape(h // factor, w // factor, factor).sum(axis=2) / np.float32(factor * factor)


#: Largest block for which :func:`_column_sums` follows numpy's order (numpy splits longer sums in halves).
PAIRWISE_BLOCK = 128


def _column_sums(rows: np.ndarray, factor: int) -> np.ndarray:
    """Sums of each run of ``factor`` adjacent columns of ``rows``, added in the order of numpy's float32
    ``add.reduce`` over a contiguous axis (below 8 terms one after the other; else 8 running sums, combined as a
    tree, then the remainder), so equal bit for bit to ``rows.reshape(..., factor).sum(axis=-1)``, but made of
    whole strided column adds, several times faster than numpy's reduction over so short an axis."""
    cols = [rows[:, k::factor] for k in range(factor)]
    if factor < 8:
        total = cols[0].copy()
        for col in cols[1:]:
            total += col
        return total
    acc = [col.copy() for col in cols[:8]]
    i = 8
    while i + 8 <= factor:
        for j in range(8):
            acc[j] += cols[i + j]
        i += 8
    total = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
    for col in cols[i:]:
        total += col
    return total


@functools.lru_cache(maxsize=None)
def _column_sums_match_numpy(factor: int) -> bool:
    """Whether :func:`_column_sums` equals numpy's own reduction for this block size here (checked once per size
    on random values of mixed magnitudes; numpy's summation order is an implementation detail)."""
    if not 2 <= factor <= PAIRWISE_BLOCK:
        return False
    rng = np.random.default_rng(factor)
    probe = (rng.random((4, factor * 32)) * rng.choice([1e-3, 1.0, 1e3], (4, factor * 32))).astype(np.float32)
    return bool(np.array_equal(_column_sums(probe, factor), probe.reshape(4, 32, factor).sum(axis=2)))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with its holes filled: what ``scipy.ndimage.binary_fill_holes`` gives (background not reached from
    outside the image through 4-connected background becomes foreground), found in one labelling of the background
    (4-connected, as that function's default cross) instead of a dilation repeated until nothing changes: the
    same mask, a few times faster on the 448 grid."""
    background, count = ndimage.label(~np.asarray(mask, dtype=bool))
    outside = np.zeros(count + 1, dtype=bool)
    for edge in (background[0], background[-1], background[:, 0], background[:, -1]):
        outside[edge] = True
    outside[0] = False  # label 0 is the foreground
    return ~outside[background]


def erode(mask: np.ndarray, radius: float) -> np.ndarray:
    """Erosion by a disk via the Euclidean distance transform (linear time; the image edge is not background)."""
    return ndimage.distance_transform_edt(mask) > radius


def dilate(mask: np.ndarray, radius: float) -> np.ndarray:
    """Dilation by a disk via the Euclidean distance transform."""
    return ndimage.distance_transform_edt(~mask) <= radius


