"""Breast segmentation on the block-averaged working copy: foreground, edge strips, the breast blob and the
side of the chest wall, refined on the full-resolution image."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mammo_lib.errors import MammoError
from mammo_lib.preprocess.geometry import SECOND_BLOB_WARN_FRACTION, dilate, erode, fill_holes


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
    opened = dilate(erode(foreground, radius), radius)
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
    grown = dilate(blob, radius + 1) & foreground
    grown = fill_holes(grown | blob)
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
    return fill_holes(refined)


def contour_points(mask: np.ndarray) -> np.ndarray:
    """(x, y) pixel centres of the mask's boundary that do not lie on the image border."""
    edge = mask & ~ndimage.binary_erosion(mask)
    edge[:, 0] = edge[:, -1] = False
    edge[0, :] = edge[-1, :] = False
    ys, xs = np.nonzero(edge)
    return np.stack([xs + 0.5, ys + 0.5], axis=1)


#: Smallest mean bright-to-dark step across a pectoral line (in units of the breast's intensity range).
