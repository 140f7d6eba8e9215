"""Patch geometry: a square around the mass box, cut once at the view's own resolution as a larger *context
crop* (cached), then centred or jittered into the network patch and standardized.

Patches are cut from each view at its own full resolution (the pixels the findings boxes are drawn in), not
from the 448 x 448 detection input: at 448 px a 10 mm mass spans ~20 px and its margin (spiculated,
microlobulated, indistinct), the strongest malignancy cue in BI-RADS, is averaged away. Vendor differences in
intensity are removed per patch (:func:`standardize`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.nn import functional as F

from mammo_lib.errors import MammoError


@dataclass(frozen=True)
class PatchGeometry:
    """How a mass box becomes a network patch; stored with the weights so inference cuts the same patches."""

    patch_size: int = 48        # network input side (px): a median 14 mm twin mass (~45 px patch) at ~native scale
    context: float = 1.5        # patch side = context x the longer box side: the mass and its margin zone
    min_side: float = 24.0      # smallest patch side in source pixels, so tiny boxes keep some surround
    cache_margin: float = 1.5   # context crop side / patch side: room for jitter without re-reading images
    max_shift: float = 0.1      # training jitter: centre shift up to this fraction of the patch side
    max_scale: float = 0.15     # training jitter: patch side scaled by U(1 - s, 1 + s)
    input_scale: float = 1.0    # network input = patch upsampled by this: the DenseNet stem (stride 4) then
    #                             sees a 1-2 px spicule over more than one pixel; crops stay at patch_size

    def __post_init__(self) -> None:
        if self.patch_size < 32:
            raise MammoError(f"patch_size must be >= 32 (DenseNet-121 downsamples 32x), got {self.patch_size}")
        if not (math.isfinite(self.input_scale) and 1.0 <= self.input_scale <= 4.0):
            raise MammoError(f"input_scale must be in [1, 4] (an upsampling factor), got {self.input_scale}")
        if self.context <= 0 or self.min_side <= 0:
            raise MammoError(f"context and min_side must be > 0, got {self.context} and {self.min_side}")
        if self.cache_margin < 1 + self.max_scale + 2 * self.max_shift - 1e-9:
            raise MammoError(
                f"cache_margin {self.cache_margin} leaves no room for jitter "
                f"(needs >= 1 + max_scale + 2 * max_shift = {1 + self.max_scale + 2 * self.max_shift:g})"
            )

    @property
    def cache_size(self) -> int:
        """Side (px) of the cached context crop; a non-jittered patch is its exact centre."""
        return int(round(self.patch_size * self.cache_margin))

    @property
    def input_size(self) -> int:
        """Side (px) of the network input: ``patch_size`` x ``input_scale``."""
        return int(round(self.patch_size * self.input_scale))

    def crop_key(self) -> dict[str, float]:
        """The fields that decide a context crop's pixels (jitter and input scale do not): the cache key."""
        return {k: getattr(self, k) for k in ("patch_size", "context", "min_side", "cache_margin")}

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def patch_square(box: tuple[float, float, float, float], geometry: PatchGeometry) -> tuple[float, float, float]:
    """Centre ``(cx, cy)`` and side of the patch square for a box ``(x0, y0, x1, y1)`` (x1/y1 exclusive)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise MammoError(f"mass box has a non-finite coordinate: {box}")
    if x1 <= x0 or y1 <= y0:
        raise MammoError(f"mass box is empty or inverted (need x1 > x0 and y1 > y0): {box}")
    side = max(geometry.context * max(x1 - x0, y1 - y0), geometry.min_side)
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, side


def crop_square(pixels: np.ndarray, cx: float, cy: float, side: float, out_size: int) -> np.ndarray:
    """Cut the square of ``side`` source pixels centred on ``(cx, cy)`` and resample it to ``out_size``.

    Parts outside the image are zero (the background of a mammogram after VOI); resampling is bilinear with
    antialiasing, so downsampling a large mass does not alias its margin.
    """
    if pixels.ndim != 2:
        raise MammoError(f"expected a 2-D image, got shape {pixels.shape}")
    n = max(int(round(side)), 1)
    left, top = int(math.floor(cx - n / 2.0)), int(math.floor(cy - n / 2.0))
    height, width = pixels.shape
    canvas = np.zeros((n, n), dtype=np.float32)
    sx0, sy0 = max(left, 0), max(top, 0)
    sx1, sy1 = min(left + n, width), min(top + n, height)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = pixels[sy0:sy1, sx0:sx1]
    return canvas if n == out_size else _resize(canvas, out_size)


def _resize(square: np.ndarray, out_size: int) -> np.ndarray:
    """Bilinear resampling of a square array to ``out_size`` px (antialiased when shrinking)."""
    tensor = torch.from_numpy(np.ascontiguousarray(square, dtype=np.float32))[None, None]
    resized = F.interpolate(tensor, size=(out_size, out_size), mode="bilinear", antialias=True, align_corners=False)
    return resized[0, 0].numpy()


def context_crop(pixels: np.ndarray, box: tuple[float, float, float, float], geometry: PatchGeometry) -> np.ndarray:
    """The cached crop of one mass view: ``cache_margin`` x the patch square, at ``cache_size`` px."""
    cx, cy, side = patch_square(box, geometry)
    return crop_square(pixels, cx, cy, side * geometry.cache_margin, geometry.cache_size)


def standardize(patch: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per patch: removes vendor/exposure offsets, keeps the mass-to-surround contrast."""
    patch = patch.astype(np.float32, copy=False)
    return (patch - patch.mean()) / max(float(patch.std()), 1e-3)


def patch_from_context(crop: np.ndarray, geometry: PatchGeometry, rng: np.random.Generator | None = None) -> np.ndarray:
    """The standardized network patch from a context crop: its exact centre, or (with ``rng``) a jittered one,
    at ``geometry.input_size`` px (bilinear upsampling when ``input_scale`` > 1).

    Jitter (training only): centre shift, scale, horizontal/vertical flips and 90-degree turns; a mass has
    no preferred orientation in a patch, so these keep its label.
    """
    size = geometry.patch_size
    if crop.shape != (geometry.cache_size, geometry.cache_size):
        raise MammoError(f"context crop has shape {crop.shape}, expected {(geometry.cache_size,) * 2}")
    centre = geometry.cache_size / 2.0
    if rng is None:
        start = (geometry.cache_size - size) // 2
        patch = crop[start:start + size, start:start + size]
        return standardize(patch if geometry.input_size == size else _resize(patch, geometry.input_size))
    side = size * rng.uniform(1 - geometry.max_scale, 1 + geometry.max_scale)
    dx, dy = rng.uniform(-geometry.max_shift, geometry.max_shift, size=2) * size
    patch = crop_square(crop, centre + dx, centre + dy, side, geometry.input_size)
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    if rng.random() < 0.5:
        patch = patch[::-1, :]
    patch = np.rot90(patch, k=int(rng.integers(4)))
    return standardize(np.ascontiguousarray(patch))


__all__ = ["PatchGeometry", "context_crop", "crop_square", "patch_from_context", "patch_square", "standardize"]
