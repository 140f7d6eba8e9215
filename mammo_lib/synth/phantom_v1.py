"""Phantom v1 (the first round's twin, kept for comparison in notebook 02 and for the tests' small cohorts; the
twin uses phantom v2, :mod:`mammo_lib.synth.phantom_v2_xray`). Physics of one view: attenuation of fat, fibroglandular
tissue, skin, muscle and masses, then quantum noise, detector blur, log conversion and peripheral equalisation
into a presentation image.

Attenuation follows Beer-Lambert with 20 keV linear attenuation coefficients (config), so a mass's contrast
is its excess attenuation over the tissue it displaces along the ray: the same equal-density mass is
fainter where the breast is dense, and dense tissue laid over it adds anatomical noise. Quantum noise is
Gaussian with the Poisson variance of the detected quanta.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, special

from mammo_lib import vocab
from mammo_lib.errors import MammoError
from mammo_lib.synth import anatomy, masses, texture
from mammo_lib.synth.anatomy import ViewGeometry
from mammo_lib.synth.config import SynthConfig


@dataclass(frozen=True)
class PlacedMass:
    """A mass as it falls in one view (canonical frame)."""

    mass_id: str
    shape: masses.MassShape
    mass_density: str
    x: float
    y: float
    obscure_angle: float  # direction of the overlying tissue for obscured margins (rad)


@dataclass
class RenderedView:
    """A rendered view in the canonical frame, with its ground truth."""

    presentation: np.ndarray  # float32 in [0, 1], 1 = most attenuating
    breast: np.ndarray  # bool
    mass_masks: dict[str, np.ndarray]  # mass_id -> bool mask (outline, no spicules)
    dense: np.ndarray  # bool, dense fibroglandular tissue (glandular share above one half)
    nipple: tuple[float, float]
    pectoral: tuple[float, float, float, float] | None


def paste_patch(dst: np.ndarray, patch: np.ndarray, cx: int, cy: int, combine: str = "add") -> None:
    """Add (or OR) ``patch`` centred at pixel (cx, cy) into ``dst``, clipped to the canvas (in place; phantom v2
    pastes its masses with it too)."""
    h = patch.shape[0] // 2
    y0, x0 = cy - h, cx - h
    ys, xs = max(0, y0), max(0, x0)
    ye, xe = min(dst.shape[0], y0 + patch.shape[0]), min(dst.shape[1], x0 + patch.shape[1])
    if ys >= ye or xs >= xe:
        return
    sub = patch[ys - y0:ye - y0, xs - x0:xe - x0]
    if combine == "or":
        dst[ys:ye, xs:xe] |= sub
    else:
        dst[ys:ye, xs:xe] += sub


def crop_square(src: np.ndarray, cx: int, cy: int, h: int) -> np.ndarray:
    """The (2h+1)-square of ``src`` centred at (cx, cy) (clamped to the canvas), edge-padded where it leaves it
    (shared with phantom v2)."""
    cx, cy = min(max(cx, 0), src.shape[1] - 1), min(max(cy, 0), src.shape[0] - 1)
    padded = np.pad(src, h, mode="edge")
    return padded[cy:cy + 2 * h + 1, cx:cx + 2 * h + 1]


def render_view(cfg: SynthConfig, geom: ViewGeometry, breast_density: str, beta: float, thickness_mm: float,
                placed: list[PlacedMass], rng: np.random.Generator) -> RenderedView:
    """Render one view of one breast; ``rng`` drives texture and noise (pass a per-view generator)."""
    if breast_density not in vocab.BREAST_DENSITY:
        raise MammoError(f"render_view: breast_density must be one of {vocab.BREAST_DENSITY}, got {breast_density!r}")
    for pm in placed:
        if pm.mass_density not in vocab.MASS_DENSITY:
            raise MammoError(f"render_view: {pm.mass_id} mass_density must be one of {vocab.MASS_DENSITY}, "
                             f"got {pm.mass_density!r}")
    sp = geom.spacing_mm
    breast = anatomy.breast_mask(geom)
    pect = anatomy.pectoral_mask(geom) & breast
    thick = anatomy.thickness_map(breast, sp, thickness_mm, cfg.periphery_mm)
    tissue = breast & ~pect

    # fibroglandular tissue: power-law field plus a central prior, thresholded at the ACR density's
    # dense-area fraction (drawn +-0.05 around the band's centre); soft edges keep the texture
    f32 = np.float32
    field = texture.power_law_field((geom.rows, geom.cols), beta, rng, spacing_mm=sp)
    score = field + f32(cfg.gland_prior_weight) * anatomy.glandular_prior(geom)
    target = cfg.dense_fraction[vocab.BREAST_DENSITY.index(breast_density)] + rng.uniform(-0.05, 0.05)
    cut = f32(np.quantile(score[tissue], 1.0 - float(np.clip(target, 0.02, 0.98)))) if tissue.any() else f32(0)
    gland = special.expit((score - cut) * f32(1.0 / cfg.gland_softness)) * tissue
    dmu = f32(cfg.mu_gland - cfg.mu_fat)
    gpf = cfg.gland_path_fraction[vocab.BREAST_DENSITY.index(breast_density)]
    phi = f32(gpf) * gland  # glandular share of the path

    # skin shell: both skin layers inside, the whole path near the skin line where rays run tangential
    skin_path = np.minimum(thick, f32(2.0 * cfg.skin_mm) * np.sqrt(f32(thickness_mm) / np.maximum(thick, f32(0.5))))
    atten = ((thick - skin_path) * (f32(cfg.mu_fat) + dmu * phi) + skin_path * f32(cfg.mu_gland)) * f32(0.1)
    if pect.any():
        # pectoral muscle: ~glandular attenuation, thickest at the corner (computed in its bounding box)
        ys, xs = int(math.ceil(geom.pectoral_side_px)) + 8, int(math.ceil(geom.pectoral_top_px)) + 8
        x = np.arange(xs, dtype=np.float32)[None, :] / f32(geom.pectoral_top_px)
        y = np.arange(ys, dtype=np.float32)[:, None] / f32(geom.pectoral_side_px)
        depth = np.clip(1.0 - (x + y), 0.0, 1.0) ** f32(0.35)
        muscle = ndimage.gaussian_filter(pect[:ys, :xs] * depth, 1.0 / sp)
        atten[:ys, :xs] += muscle * f32(thickness_mm * cfg.pectoral_fraction * 0.1) * dmu

    mass_masks: dict[str, np.ndarray] = {}
    for pm in placed:
        cx, cy = int(round(pm.x)), int(round(pm.y))
        chord, outline = masses.render_mass(pm.shape, sp, geom.view, cfg.mass_depth_ratio,
                                            sub_px=(pm.x - cx, pm.y - cy))
        h = chord.shape[0] // 2
        chord = np.minimum(chord, crop_square(thick, cx, cy, h) * 0.9)
        mu_mass = cfg.mu_fat + cfg.mass_mu_ratio[vocab.MASS_DENSITY.index(pm.mass_density)] * dmu
        mu_local = cfg.mu_fat + dmu * crop_square(phi, cx, cy, h)
        excess = (chord * (mu_mass - mu_local) * 0.1).astype(np.float32)
        if pm.mass_density == "fat-containing":  # a thin dense capsule around the fatty centre
            rim = outline ^ ndimage.binary_erosion(outline, iterations=max(1, int(round(0.8 / sp))))
            excess += ndimage.gaussian_filter(rim * chord.max() * 0.35 * dmu / 10.0, 0.5)
        if pm.shape.margin == "obscured":  # overlying fibroglandular tissue hides part of the margin
            r = 0.5 * pm.shape.size_mm / sp
            yy, xx = np.mgrid[-h:h + 1, -h:h + 1].astype(np.float64)
            # a textured band of fibroglandular tissue laid just outside half of the margin: the
            # surroundings become as bright as the mass there, so that part of its edge is hidden
            dist = np.hypot(xx, yy)
            facing = 0.5 + 0.5 * np.cos(np.arctan2(yy, xx) - pm.obscure_angle)
            band = np.exp(-0.5 * ((dist - 1.2 * r) / (0.5 * r)) ** 2) * facing
            band = np.clip(band - 0.03, 0.0, None) / 0.97  # zero at the patch edge: no seam
            local = crop_square(field, cx, cy, h)
            cover = band * special.expit(3.0 * local + 1.0)
            excess += cover * thickness_mm * gpf * 0.9 * dmu / 10.0
        paste_patch(atten, excess, cx, cy)
        full = np.zeros(breast.shape, dtype=bool)
        paste_patch(full, outline, cx, cy, combine="or")
        mass_masks[pm.mass_id] = full & breast

    # detection: counts behind the path, Poisson-variance noise, detector blur, log conversion
    fat_path = f32(thickness_mm * cfg.mu_fat / 10.0)
    counts = f32(cfg.photons_per_pixel) * np.exp(fat_path - atten)
    counts += np.sqrt(counts) * rng.standard_normal(counts.shape, dtype=np.float32)
    counts = ndimage.gaussian_filter(counts, cfg.blur_mm / sp, truncate=3.0)
    log_att = fat_path + f32(math.log(cfg.photons_per_pixel)) - np.log(np.maximum(counts, f32(1.0)))
    # peripheral equalisation (vendor processing): add back part of the fat missing where the breast thins
    log_att += f32(cfg.equalisation * cfg.mu_fat / 10.0) * (f32(thickness_mm) - thick) * breast
    # one display scale for every density: the densest breast's tissue plus head-room for masses
    full_scale = thickness_mm * (cfg.mu_fat + (1.25 * max(cfg.gland_path_fraction) + 0.25) * dmu) / 10.0
    presentation = np.clip(log_att * f32(1.0 / full_scale), 0.0, 1.0) * breast
    return RenderedView(presentation, breast, mass_masks, (gland > 0.5) & tissue,
                        anatomy.nipple_tip(geom), anatomy.pectoral_line(geom))
