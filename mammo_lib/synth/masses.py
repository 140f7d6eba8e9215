"""Masses rendered from their BI-RADS description: shape, margin, density and size.

A mass is an ellipsoid-like body whose outline in polar form, ``R(theta)``, follows its morphology
(round: aspect ~1; oval: elongated; irregular: low-order harmonics) and margin (microlobulated: many small
lobes; spiculated: thin radiating spicules; indistinct: a blurred edge; circumscribed and obscured: a sharp
edge, obscured ones being covered in part by overlying tissue when rendered, see
:mod:`mammo_lib.synth.phantom_v1`). The rendering returns the projected chord length (mm) through the mass, so
that the mass's contrast follows from attenuation, and the mass's outline mask (without spicules), whose
bounding box is the finding's box.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mammo_lib import vocab
from mammo_lib.errors import MammoError


@dataclass(frozen=True)
class MassShape:
    """Everything random about one mass, drawn once and used for both views."""

    size_mm: float  # longest diameter
    morphology: str
    margin: str
    aspect: float  # short / long axis
    rotation: float  # rad, in the CC view; the MLO view adds ``mlo_rotation``
    mlo_rotation: float
    harmonics: tuple[tuple[int, float, float], ...]  # (order, relative amplitude, phase)
    spicules: tuple[tuple[float, float, float], ...]  # (angle rad, length / radius, width mm)
    edge_sigma: float  # edge blur as a fraction of the radius


def draw_mass_shape(size_mm: float, morphology: str, margin: str, rng: np.random.Generator) -> MassShape:
    """Draw the random shape parameters of a mass with the given description (choices documented inline)."""
    if morphology not in vocab.MORPHOLOGY:
        raise MammoError(f"mass morphology must be one of {vocab.MORPHOLOGY}, got {morphology!r}")
    if margin not in vocab.MARGIN:
        raise MammoError(f"mass margin must be one of {vocab.MARGIN}, got {margin!r}")
    if not (math.isfinite(size_mm) and size_mm > 0):
        raise MammoError(f"mass size_mm must be a positive number, got {size_mm!r}")
    aspect = {"round": rng.uniform(0.88, 1.0), "oval": rng.uniform(0.55, 0.8),
              "irregular": rng.uniform(0.6, 0.9)}[morphology]
    harmonics: list[tuple[int, float, float]] = []
    if morphology == "irregular":  # 3-5 low-order lobes, 10-20% of the radius
        for order in rng.choice(np.arange(2, 7), size=int(rng.integers(3, 6)), replace=False):
            harmonics.append((int(order), float(rng.uniform(0.06, 0.14)), float(rng.uniform(0, 2 * math.pi))))
    if margin == "microlobulated":  # many small undulations, ~5% of the radius
        for order in rng.choice(np.arange(10, 18), size=2, replace=False):
            harmonics.append((int(order), float(rng.uniform(0.035, 0.06)), float(rng.uniform(0, 2 * math.pi))))
    spicules: list[tuple[float, float, float]] = []
    if margin == "spiculated":  # 10-22 spicules, 0.6-1.8 radii long, 0.4-0.9 mm wide
        n = int(rng.integers(10, 23))
        for angle in np.sort(rng.uniform(0, 2 * math.pi, size=n)):
            spicules.append((float(angle), float(rng.uniform(0.6, 1.8)), float(rng.uniform(0.4, 0.9))))
    edge_sigma = {"circumscribed": 0.02, "obscured": 0.03, "microlobulated": 0.03,
                  "indistinct": float(rng.uniform(0.14, 0.22)), "spiculated": 0.07}[margin]
    return MassShape(float(size_mm), morphology, margin, float(aspect), float(rng.uniform(0, math.pi)),
                     float(rng.uniform(-0.5, 0.5)), tuple(harmonics), tuple(spicules), edge_sigma)


def patch_radius_px(shape: MassShape, spacing_mm: float) -> int:
    """Half-size of the square patch that holds the mass, spicules and blur."""
    reach = 1.0 + max([length for _, length, _ in shape.spicules], default=0.0) + 3 * shape.edge_sigma + 0.3
    if shape.margin == "obscured":  # room for the overlying tissue drawn around it (render.render_view)
        reach = 3.5
    return int(math.ceil(0.5 * shape.size_mm * reach / spacing_mm)) + 2


def render_mass(shape: MassShape, spacing_mm: float, view: str, depth_ratio: float,
                sub_px: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """Chord length (mm) through the mass and its outline mask, on a square patch centred on the mass.

    ``sub_px`` is the sub-pixel offset (dx, dy) of the mass centre from the patch centre pixel.
    """
    half = patch_radius_px(shape, spacing_mm)
    coords = np.arange(-half, half + 1, dtype=np.float64)
    yy, xx = np.meshgrid(coords - sub_px[1], coords - sub_px[0], indexing="ij")
    rot = shape.rotation + (shape.mlo_rotation if view == "MLO" else 0.0)
    c, s = math.cos(rot), math.sin(rot)
    u = (c * xx + s * yy) * spacing_mm
    v = (-s * xx + c * yy) * spacing_mm
    a = 0.5 * shape.size_mm  # semi-major axis (mm)
    b = a * shape.aspect
    theta = np.arctan2(v / b, u / a)
    radial = np.ones_like(theta)
    for order, amp, phase in shape.harmonics:
        radial += amp * np.cos(order * theta + phase)
    rho = np.sqrt((u / a) ** 2 + (v / b) ** 2) / radial
    depth = depth_ratio * shape.size_mm * math.sqrt(shape.aspect)  # thickness through the centre (mm)
    chord = depth * np.sqrt(np.clip(1.0 - rho * rho, 0.0, None))
    mask = rho <= 1.0
    if shape.spicules:
        r_mm = np.hypot(u, v)
        ang = np.arctan2(v, u)
        for angle, length, width in shape.spicules:
            # distance from the spicule's axis, tapering from the mass edge to its tip
            along = r_mm * np.cos(ang - angle)
            across = np.abs(r_mm * np.sin(ang - angle))
            tip = a * (1.0 + length)
            t = np.clip(along / tip, 0.0, 1.0)
            w = 0.5 * width * (1.0 - t) + 1e-3
            line = (along > 0.5 * a) & (along < tip) & (across < w)
            chord = np.where(line, np.maximum(chord, 1.5 * width * (1.0 - t) * (1.0 - across / w)), chord)
    if shape.edge_sigma > 0.0:
        chord = ndimage.gaussian_filter(chord, sigma=shape.edge_sigma * a / spacing_mm, mode="constant")
    return chord, mask
