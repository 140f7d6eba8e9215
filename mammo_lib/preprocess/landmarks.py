"""Landmarks of a view: the pectoral muscle edge (MLO), radiopaque skin markers and the nipple."""
from __future__ import annotations

import warnings as _warnings

import numpy as np
from scipy import ndimage

from mammo_lib.errors import MammoError
from mammo_lib.preprocess.geometry import dilate
from mammo_lib.preprocess.segment import contour_points


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


#: Pixels either side of a pixel that its value in :func:`_band_gradient` depends on: the Gaussian's radius
#: (sigma 1, scipy's truncation at 4 sigma) plus the Sobel operator's 1.
GRADIENT_REACH = 4 + 1


def _band_gradient(image_f: np.ndarray, rows: range, x_top: float, x_end: float, top: float, y_end: float,
                   band: int) -> tuple[int, int, np.ndarray]:
    """(first row, first column, values) of the horizontal Sobel gradient of the Gaussian-smoothed (sigma 1)
    image over the rectangle that :func:`refine_pectoral` reads (its rows, the band around the line) and
    :data:`GRADIENT_REACH` pixels more each way: every value read equals that of the whole image's gradient, bit
    for bit (each depends on the pixels within that reach only; at the image's own edges the same reflection
    applies), at the cost of the rectangle instead of the whole image."""
    height, width = image_f.shape
    if not len(rows):
        return 0, 0, np.zeros((0, 0), dtype=np.float32)
    ends = [x_top + (x_end - x_top) * (y + 0.5 - top) / (y_end - top) for y in (rows[0], rows[-1])]
    lo, hi = int(min(ends)) - band - 1, int(max(ends)) + band + 2  # xc is linear in y: extremes at the ends
    r0, r1 = max(0, rows[0] - GRADIENT_REACH), min(height, rows[-1] + 1 + GRADIENT_REACH)
    c0, c1 = max(0, lo - GRADIENT_REACH), min(width, hi + GRADIENT_REACH)
    return r0, c0, ndimage.sobel(ndimage.gaussian_filter(image_f[r0:r1, c0:c1], 1.0), axis=1)


def refine_pectoral(image_f: np.ndarray, line: tuple[tuple[float, float], tuple[float, float]],
                    near_breast: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    """Re-fit a pectoral line on a finer chest-wall-left copy: per row, the sharpest bright-to-dark step
    within 3% of the width of the coarse line, then a least-squares line with one round of outlier removal.
    Returns the coarse line unchanged when too few rows support a steeper-than-flat edge.
    """
    (x_top, top), (x_end, y_end) = line
    if y_end <= top + 4:
        return line
    band = max(2, int(round(0.03 * image_f.shape[1])))
    rows = range(int(top), int(min(y_end, image_f.shape[0])))
    r0, c0, grad = _band_gradient(image_f, rows, x_top, x_end, top, y_end, band)
    ys, xs = [], []
    for y in rows:
        xc = x_top + (x_end - x_top) * (y + 0.5 - top) / (y_end - top)
        lo, hi = max(0, int(xc) - band), min(image_f.shape[1] - 1, int(xc) + band + 1)
        if hi - lo < 3 or not near_breast[y, lo:hi].any():
            continue
        k = int(np.argmin(grad[y - r0, lo - c0:hi - c0]))
        if grad[y - r0, lo + k - c0] < 0:
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
        ring = dilate(local, diameter / 2) & ~dilate(local, 1.0)
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
    pts = contour_points(mask_f)
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


