"""Breast anatomy of one view in a canonical frame: outline, skin, nipple, pectoral muscle, thickness.

Canonical frame: the chest wall is the left image edge (x = 0) and the nipple points right, as a left breast
is displayed. Right breasts are mirrored when the image is written (:mod:`mammo_lib.synth.phantom_v1`).
Coordinates are in pixels of the final image (x = column, y = row, pixel centres at integers).

A mass is placed once in breast coordinates (radial distance ``r`` from the nipple, polar angle ``psi`` off
the nipple axis, clock angle ``alpha`` in the coronal plane, 0 = lateral, 90 deg = superior) and projected
into each view. Compression flattens the breast into the image plane keeping each point's distance to the
nipple, the relation radiologists (and the paper's IDVN) use to match a mass across CC and MLO; the
in-plane angle from the nipple axis is ``psi * cos(alpha - alpha_view)`` with ``alpha_view`` the direction
that points up in that view (lateral for CC, superolateral at 45 deg for MLO).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Direction (clock angle, rad) that points to the top of the image in each view.
VIEW_UP_ANGLE = {"CC": 0.0, "MLO": math.pi / 4}


@dataclass(frozen=True)
class BreastShape:
    """Patient-level breast shape in mm, shared by both breasts (the contralateral one is jittered)."""

    nipple_depth_mm: float  # posterior nipple line length in CC
    aspect: float  # half-height at the chest wall / nipple depth (CC)
    p: float  # superellipse exponent across the breast
    q: float  # superellipse exponent along the nipple axis
    mlo_depth_ratio: float  # MLO posterior nipple line / CC one (within ~10%, Mercer et al. 2015)
    pectoral_top: float  # pectoral width at the image top / MLO nipple depth
    pectoral_side: float  # pectoral height at the chest wall / MLO nipple depth
    contour_phase: tuple[float, float, float]  # phases of the low-frequency outline wobble
    thickness_mm: float


@dataclass(frozen=True)
class ViewGeometry:
    """Where the breast lies in one view's canvas (pixels of the final image, canonical frame)."""

    view: str
    rows: int
    cols: int
    spacing_mm: float
    nipple_x: float
    nipple_y: float
    depth_px: float  # nipple depth along x
    half_up_px: float  # breast half-height above the nipple at the chest wall
    half_down_px: float  # below the nipple
    p: float
    q: float
    contour_phase: tuple[float, float, float]
    pectoral_top_px: float = 0.0  # x where the pectoral line meets the top edge (MLO)
    pectoral_side_px: float = 0.0  # y where it meets the chest wall (MLO)

    @property
    def has_pectoral(self) -> bool:
        """Only MLO views show the pectoral muscle."""
        return self.view == "MLO"


def view_geometry(shape: BreastShape, view: str, rows: int, cols: int, spacing_mm: float) -> ViewGeometry:
    """Lay out the breast of ``shape`` in a ``rows`` x ``cols`` canvas for ``view`` (CC or MLO)."""
    depth_mm = shape.nipple_depth_mm * (shape.mlo_depth_ratio if view == "MLO" else 1.0)
    depth = min(depth_mm / spacing_mm, 0.85 * cols)
    half = shape.aspect * depth
    if view == "CC":
        nipple_y = 0.5 * rows
        up = down = min(half, 0.52 * rows)
        pect_top = pect_side = 0.0
    else:
        # MLO: the breast hangs lower, the axillary tail runs to the top edge at the chest wall
        nipple_y = 0.58 * rows
        up, down = 1.05 * nipple_y, min(0.95 * half, 0.97 * (rows - nipple_y))
        pect_top = shape.pectoral_top * depth
        pect_side = min(shape.pectoral_side * depth, 0.9 * nipple_y)
    return ViewGeometry(view, rows, cols, spacing_mm, depth, nipple_y, depth, up, down, shape.p, shape.q,
                        shape.contour_phase, pect_top, pect_side)


def outline_x(geom: ViewGeometry, y: np.ndarray) -> np.ndarray:
    """Distance of the skin line from the chest wall (px) for each row ``y``: a superellipse with a wobble."""
    dy = y - geom.nipple_y
    half = np.where(dy < 0, geom.half_up_px, geom.half_down_px)
    t = np.clip(np.abs(dy) / half, 0.0, 1.0)
    x = geom.depth_px * (1.0 - t ** geom.p) ** (1.0 / geom.q)
    a, b, c = geom.contour_phase
    wobble = 1.0 + 0.025 * np.sin(2.0 * math.pi * (1.5 * t + a)) + 0.015 * np.sin(2.0 * math.pi * (3.0 * t + b))
    x = x * wobble
    # nipple: a small protrusion (~4 mm high, ~12 mm wide) at the tip
    nip_w = 6.0 / geom.spacing_mm
    x = x + (3.0 + c) / geom.spacing_mm * np.exp(-(dy / nip_w) ** 2)
    if geom.has_pectoral:
        # axillary tail: tissue reaches the top edge somewhat beyond the pectoral muscle
        above = np.clip(1.0 - y / geom.nipple_y, 0.0, 1.0)
        x = np.maximum(x, 1.3 * geom.pectoral_top_px * np.sqrt(above))
    return x


def nipple_tip(geom: ViewGeometry) -> tuple[float, float]:
    """(x, y) of the nipple tip in the canonical frame (px)."""
    x = float(outline_x(geom, np.array([geom.nipple_y]))[0])
    return x, geom.nipple_y


def breast_mask(geom: ViewGeometry) -> np.ndarray:
    """Boolean mask of the breast (skin included) in the canvas."""
    y = np.arange(geom.rows, dtype=np.float64)[:, None]
    x = np.arange(geom.cols, dtype=np.float64)[None, :]
    return x <= outline_x(geom, y)


def pectoral_mask(geom: ViewGeometry) -> np.ndarray:
    """Boolean mask of the pectoral muscle (MLO): the triangle between the top edge, chest wall and its line."""
    if not geom.has_pectoral:
        return np.zeros((geom.rows, geom.cols), dtype=bool)
    y = np.arange(geom.rows, dtype=np.float64)[:, None]
    x = np.arange(geom.cols, dtype=np.float64)[None, :]
    return x / geom.pectoral_top_px + y / geom.pectoral_side_px < 1.0


def pectoral_line(geom: ViewGeometry) -> tuple[float, float, float, float] | None:
    """End points (x0, y0, x1, y1) of the pectoral line: on the top edge and on the chest wall (MLO only)."""
    if not geom.has_pectoral:
        return None
    return geom.pectoral_top_px, 0.0, 0.0, geom.pectoral_side_px


def thickness_map(mask: np.ndarray, spacing_mm: float, thickness_mm: float, periphery_mm: float) -> np.ndarray:
    """Compressed thickness (mm, float32) per pixel: flat inside, rounding off over ``periphery_mm`` at the skin.

    The distance to the skin line is computed on a 4x coarser grid and interpolated back (the fall-off
    band is ~30 pixels wide, so a 4-pixel grid loses nothing visible and saves most of the time).
    """
    step = 4
    coarse = mask[::step, ::step]
    # edge padding: the chest wall and the field edges cut the breast, they are not its skin line
    dist = ndimage.distance_transform_edt(np.pad(coarse, 1, mode="edge")).astype(np.float32)[1:-1, 1:-1]
    dist = ndimage.zoom(dist, step, order=1, grid_mode=True, mode="nearest")[: mask.shape[0], : mask.shape[1]]
    dist = np.pad(dist, ((0, mask.shape[0] - dist.shape[0]), (0, mask.shape[1] - dist.shape[1])), mode="edge")
    u = np.clip(dist * np.float32(spacing_mm * step / periphery_mm), 0.0, 1.0)
    return (np.float32(thickness_mm) * np.sqrt(1.0 - (1.0 - u) ** 2) * mask).astype(np.float32)


def glandular_prior(geom: ViewGeometry) -> np.ndarray:
    """Where fibroglandular tissue concentrates: behind the nipple, fading toward skin and chest wall.

    A smooth bump in units of field SD, centred at ~45% of the nipple depth on the nipple axis
    (retroareolar and central cone; Wolfe / BI-RADS descriptions). Added to the power-law field before
    thresholding.
    """
    y = np.arange(geom.rows, dtype=np.float32)[:, None]
    x = np.arange(geom.cols, dtype=np.float32)[None, :]
    xn = (x - 0.5 * geom.depth_px) / (0.6 * geom.depth_px)
    yn = (y - geom.nipple_y) / (0.55 * max(geom.half_up_px, geom.half_down_px))
    return np.exp(-(xn * xn) - (yn * yn)).astype(np.float32)


def project_point(geom: ViewGeometry, r_mm: float, psi: float, alpha: float) -> tuple[float, float]:
    """Image position (x, y, canonical frame, px) of a breast point at distance ``r_mm`` from the nipple."""
    theta = psi * math.cos(alpha - VIEW_UP_ANGLE[geom.view])
    tip_x, tip_y = nipple_tip(geom)
    r = r_mm / geom.spacing_mm
    return tip_x - r * math.cos(theta), tip_y - r * math.sin(theta)


def inside_margin(geom: ViewGeometry, x: float, y: float, margin_px: float) -> bool:
    """True when (x, y) lies in the breast, ``margin_px`` from the skin, chest wall, edges and pectoral."""
    if not (margin_px <= y <= geom.rows - 1 - margin_px and margin_px <= x <= geom.cols - 1 - margin_px):
        return False
    if x + margin_px > float(outline_x(geom, np.array([y]))[0]):
        return False
    # also the rows above and below the centre, so that the whole mass fits under the outline
    for yy in (y - margin_px, y + margin_px):
        if x > float(outline_x(geom, np.array([yy]))[0]):
            return False
    if geom.has_pectoral:
        # distance from the pectoral line, positive on the breast side
        a, b = geom.pectoral_top_px, geom.pectoral_side_px
        signed = (x / a + y / b - 1.0) / math.hypot(1.0 / a, 1.0 / b)
        if signed < margin_px:
            return False
    return True
