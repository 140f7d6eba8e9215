"""Phantom "v2": an anatomy-based compressed breast after the FDA's VICTRE phantom, projected through its thickness.

The FDA's breastPhantom (github.com/DIDSR/breastPhantom; Graff, "A new, open-source, multi-modality digital
breast phantom", Proc SPIE 9783, 2016; used by the VICTRE trial, Badano et al. JAMA Netw Open 2018;1:e185474)
builds a breast from glandular compartments (an anisotropic Voronoi partition oriented towards the nipple),
fat lobules bounded by Cooper's ligaments, subcutaneous and retromammary fat, a ductal tree grown from the
nipple, vessels from the chest wall, skin, nipple and areola. This module approximates it in numpy/scipy at a
cost this project can afford, as a *layered 2.5-D volume*: the compressed breast is cut into
:data:`PhantomParams.layers` slabs through its thickness; in each slab the glandular fraction of every voxel
(``voxel_mm`` in-plane) comes from a 3-D Voronoi partition whose cells are stretched towards the nipple, so
that tissue overlaps physically in projection. Thin structures (ducts, vessels, ligaments, spicules) are drawn
at the image pitch as projected cylinder/sheet path lengths. The result is the projected path length of
fat-equivalent and gland-equivalent tissue per pixel (two basis materials: every tissue is written as a
mixture of adipose and fibroglandular attenuation), which :mod:`mammo_lib.synth.phantom_v2_xray` turns into an image.

Values marked "VICTRE cfg" are those of breastPhantom's four VICTRE configuration files
(cfg/VICTRE_{fatty,scattered,hetero,dense}.cfg) and of the VICTRE compression thicknesses
(breastCompress, ``-t`` 60/55/45/35 mm); values marked "choice" are this project's where the
approximation needs its own number. Nothing here thresholds a continuous field into a plateau: cell
boundaries are blended over a finite width and every layer adds continuously.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import ndimage

from mammo_lib import vocab
from mammo_lib.errors import MammoError
from mammo_lib.synth import anatomy, masses, texture
from mammo_lib.synth import phantom_v2_tissue as detail
from mammo_lib.synth.anatomy import ViewGeometry
from mammo_lib.synth.phantom_v1 import PlacedMass, crop_square, paste_patch

f32 = np.float32


@dataclass(frozen=True)
class PhantomParams:
    """The v2 phantom's anatomy, each value with its source."""

    #: Skin thickness (mm): VICTRE cfg [base] skinThick = 0.75.
    skin_mm: float = 0.75
    #: Nipple length and radius, areola radius (mm): VICTRE cfg [base] nippleLen 4, nippleRad 4, areolaRad 8.
    nipple_len_mm: float = 4.0
    nipple_rad_mm: float = 4.0
    areola_rad_mm: float = 8.0
    #: Areolar skin is about twice as thick as the breast skin (choice).
    areola_skin_factor: float = 2.0
    #: Number of glandular compartments (lobes): VICTRE cfg [compartments] num = 10.
    compartments: int = 10
    #: Compressed thickness (mm) per density a-d: VICTRE's breastCompress ``-t`` 60 / 55 / 45 / 35 (the
    #: sample commands of the VICTRE repository). The patient's drawn thickness keeps its spread around it.
    thickness_mm: tuple[float, float, float, float] = (60.0, 55.0, 45.0, 35.0)
    #: The glandular amount is set by the percent dense area below; the glandular volume fraction that
    #: results (Projection.glandular_volume_fraction) compares with VICTRE's 1 - targetFatFrac per density,
    #: 0.05 / 0.15 / 0.34 / 0.60 (VICTRE_fatty / _scattered / _hetero / _dense cfg).
    #: Percent dense area (mean, SD, %) per BI-RADS density I-IV: 4.3 +- 4.3, 19.3 +- 11.3, 40.4 +- 14.8,
    #: 62.3 +- 11.7 (Cancer Epidemiol Biomarkers Prev, AACR; table of area and volume density measures by
    #: BI-RADS category, n = 56 / 183 / 131 / 33; cebp.aacrjournals.org). Each view draws its target from
    #: this distribution (truncated to 1-95 %) and the glandular cells are chosen to reach it.
    percent_dense_area: tuple[tuple[float, float], ...] = ((4.3, 4.3), (19.3, 11.3), (40.4, 14.8), (62.3, 11.7))
    #: Projected glandular share above which a pixel counts as dense (Cumulus-like reader threshold; choice).
    dense_cut: float = 0.3
    #: Voronoi seed density (mm^-3): VICTRE cfg [voronoi] fatInFatSeedDensity = fatInGlandSeedDensity = 0.001.
    seed_density: float = 0.001
    #: Stretch of the cells along the direction to the nipple: sqrt of the width/length scale ratios of
    #: VICTRE cfg [voronoi] (fat in fat sqrt(55/7.5) = 2.7, fat in gland sqrt(35/1.5) = 4.8); choice 2.0,
    #: below both: the ducts and ligaments add their own alignment.
    stretch: float = 2.0
    #: Stretch of the cells through the thickness (choice, calibrated on the band-pass kurtosis of real
    #: mammograms: fewer, taller cells along a ray keep the edges of fibroglandular tissue visible).
    z_stretch: float = 3.0
    #: Second, finer partition inside glandular cells (fat lobules in gland, TDLU clusters): seed density
    #: 8x the first (choice), glandular share of each sub-cell uniform in ``subcell_gland`` (choice).
    subcell_factor: float = 8.0
    subcell_gland: tuple[float, float] = (0.35, 1.0)
    #: Glandular share of glandular and of fatty cells (choice: VICTRE cells are pure tissue; partial
    #: volume at 0.5 mm and the sub-cells mix them).
    cell_gland: tuple[float, float] = (0.75, 0.98)
    fat_cell_gland: float = 0.0
    #: Width (mm) over which two neighbouring cells blend: VICTRE cfg [boundary] maxDeviation 0.1 of the
    #: distance, as a blend of about 0.4 mm (choice), and the boundary perturbation (VICTRE cfg [perturb]
    #: maxDeviation 0.25) applied as smooth noise on the cell distances.
    blend_mm: float = 0.4
    perturb: float = 0.25
    #: Cooper's ligament (septum) thickness (mm): VICTRE cfg [lig] thickness = 0.1.
    ligament_mm: float = 0.1
    #: Subcutaneous fat under the skin and paddles, retromammary fat at the chest wall (mm; choice, VICTRE
    #: forces fat there through its skin/back seed strengths and backFatBufferFrac).
    subcutaneous_mm: float = 5.0
    retromammary_mm: float = 8.0
    #: Ductal tree: VICTRE cfg [ductTree] maxGen 7, initRad 0.5 mm; [ductBr] lenShrink 0.5, radius fraction
    #: 0.65-0.99, childMinRad 0.1 mm. The lactiferous duct of each lobe runs ``duct_reach`` of the nipple
    #: depth (choice) before branching.
    duct_max_gen: int = 7
    duct_radius_mm: float = 0.5
    duct_len_shrink: float = 0.5
    duct_reach: tuple[float, float] = (0.25, 0.45)
    #: Vessels from the chest wall: VICTRE cfg [vesselTree] maxGen 6, initRad 0.75 mm, baseLength 15 mm,
    #: [vesselBr] lenShrink 0.8; 3-6 trees (choice).
    vessel_max_gen: int = 6
    vessel_radius_mm: float = 0.75
    vessel_base_mm: float = 15.0
    vessel_len_shrink: float = 0.8
    vessel_trees: tuple[int, int] = (3, 7)
    branch_rad_frac: tuple[float, float] = (0.65, 0.99)
    child_min_rad_mm: float = 0.1
    #: Layers through the compressed thickness and in-plane voxel (mm) of the 2.5-D volume (choice: speed).
    layers: int = 8
    voxel_mm: float = 0.5
    #: Spicules as fractal branches (de Sisternes et al. Med Phys 2015;42:4098): generations, length and
    #: radius shrink per generation, branching half-angle range (rad). Choice within that model.
    spicule_gen: int = 3
    spicule_len_shrink: float = 0.55
    spicule_rad_shrink: float = 0.7
    spicule_angle: tuple[float, float] = (0.3, 0.7)
    #: Curved cell faces, ligament sheets and glandular texture (:mod:`mammo_lib.synth.phantom_v2_tissue`).
    tissue: detail.TissueParams = detail.TISSUE


PARAMS = PhantomParams()


@dataclass
class Projection:
    """Projected path lengths (mm) per pixel of one view, canonical frame, plus its ground truth."""

    thickness: np.ndarray  # float32, total path through the breast (mm)
    gland: np.ndarray  # float32, gland-equivalent path (mm), everything not fat
    breast: np.ndarray  # bool
    mass_masks: dict[str, np.ndarray]
    dense: np.ndarray  # bool
    nipple: tuple[float, float]
    pectoral: tuple[float, float, float, float] | None
    glandular_volume_fraction: float
    dense_area_fraction: float


def view_thickness(density: str, drawn_mm: float, params: PhantomParams = PARAMS) -> float:
    """Compressed thickness of a view: the VICTRE thickness of its density plus the patient's drawn offset."""
    base = params.thickness_mm[vocab.BREAST_DENSITY.index(density)]
    return float(np.clip(base + (drawn_mm - 45.0) * 0.8, 25.0, 80.0))


def _scaled_geometry(geom: ViewGeometry, spacing_mm: float) -> ViewGeometry:
    """The same view laid out on a grid of ``spacing_mm`` pixels."""
    k = geom.spacing_mm / spacing_mm
    return replace(geom, rows=int(math.ceil(geom.rows * k - 1e-9)), cols=int(math.ceil(geom.cols * k - 1e-9)),
                   spacing_mm=spacing_mm, nipple_x=geom.nipple_x * k, nipple_y=geom.nipple_y * k,
                   depth_px=geom.depth_px * k, half_up_px=geom.half_up_px * k, half_down_px=geom.half_down_px * k,
                   pectoral_top_px=geom.pectoral_top_px * k, pectoral_side_px=geom.pectoral_side_px * k)


# ---------------------------------------------------------------------------------------------------------
# trees: ducts, vessels, spicules (projected cylinders)
# ---------------------------------------------------------------------------------------------------------
@dataclass
class _Segments:
    x0: list[float] = field(default_factory=list)
    y0: list[float] = field(default_factory=list)
    x1: list[float] = field(default_factory=list)
    y1: list[float] = field(default_factory=list)
    r: list[float] = field(default_factory=list)

    def add(self, x0: float, y0: float, x1: float, y1: float, r: float) -> None:
        self.x0.append(x0), self.y0.append(y0), self.x1.append(x1), self.y1.append(y1), self.r.append(r)


def grow_tree(segs: _Segments, rng: np.random.Generator, x: float, y: float, angle: float, length: float,
              radius: float, gen: int, max_gen: int, len_shrink: float, rad_frac: tuple[float, float],
              spread: tuple[float, float], curl: float, min_rad: float, pieces: int = 4) -> None:
    """Grow one branch (in ``pieces`` curved segments, VICTRE segFrac 0.25) and, recursively, its two children.

    Coordinates in mm in the image plane; ``curl`` is the SD of the direction change per segment (rad).
    """
    r_end = radius * float(rng.uniform(0.95, 1.0))  # VICTRE [ductSeg] minEndRad-maxEndRad 0.95-1.0
    step = length / pieces
    for i in range(pieces):
        angle += float(rng.normal(0.0, curl))
        r_here = radius + (r_end - radius) * (i + 0.5) / pieces
        nx, ny = x + step * math.cos(angle), y + step * math.sin(angle)
        segs.add(x, y, nx, ny, r_here)
        x, y = nx, ny
    if gen >= max_gen:
        return
    for sign in (-1.0, 1.0):
        child_r = r_end * float(rng.uniform(*rad_frac))
        if child_r < min_rad:
            continue
        child_len = length * len_shrink * float(rng.uniform(0.9, 1.1))  # VICTRE lenRange 0.1
        grow_tree(segs, rng, x, y, angle + sign * float(rng.uniform(*spread)), child_len, child_r, gen + 1,
                  max_gen, len_shrink, rad_frac, spread, curl, min_rad, pieces)


def rasterise_tree(segs: _Segments, shape: tuple[int, int], spacing_mm: float,
                   origin_px: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """Projected path length (mm) through the cylinders of ``segs`` on a ``shape`` grid of ``spacing_mm`` pixels.

    Each cylinder deposits its volume (pi r^2 per unit length) along its axis, then is spread with a Gaussian
    of SD r/2 (the second moment of a cylinder's chord profile), at least half a pixel: partial volume, no
    aliasing, the projected volume exact.
    """
    out = np.zeros(shape, dtype=np.float32)
    if not segs.r:
        return out
    x0, y0, x1, y1, r = (np.asarray(v, dtype=np.float64) for v in (segs.x0, segs.y0, segs.x1, segs.y1, segs.r))
    seg_len = np.hypot(x1 - x0, y1 - y0)
    step = 0.5 * spacing_mm
    n = np.maximum(1, np.ceil(seg_len / step)).astype(np.int64)
    idx = np.repeat(np.arange(len(n)), n)
    t = (np.arange(idx.size) - np.repeat(np.cumsum(n) - n, n) + 0.5) / np.repeat(n, n)
    px = (x0[idx] + t * (x1 - x0)[idx]) / spacing_mm - origin_px[0]
    py = (y0[idx] + t * (y1 - y0)[idx]) / spacing_mm - origin_px[1]
    vol = math.pi * r[idx] ** 2 * (seg_len / n)[idx] / spacing_mm**2  # mm of path per pixel, summed
    ix, iy = np.rint(px).astype(np.int64), np.rint(py).astype(np.int64)
    ok = (ix >= 0) & (ix < shape[1]) & (iy >= 0) & (iy < shape[0])
    sigma = np.maximum(0.5 * r[idx] / spacing_mm, 0.5)
    # a few blur classes (geometric bins of the spread) keep this to a handful of Gaussian filters
    bins = np.clip(np.floor(np.log2(sigma / 0.5) * 2.0), 0, 12).astype(np.int64)
    for b in np.unique(bins[ok]):
        sel = ok & (bins == b)
        acc = np.bincount(iy[sel] * shape[1] + ix[sel], weights=vol[sel], minlength=shape[0] * shape[1])
        s = 0.5 * 2.0 ** ((b + 0.5) / 2.0)
        out += ndimage.gaussian_filter(acc.reshape(shape).astype(np.float32), s, truncate=3.0)
    return out


# ---------------------------------------------------------------------------------------------------------
# the layered volume
# ---------------------------------------------------------------------------------------------------------
def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass
class _Volume:
    """Glandular fraction per layer on the coarse grid, with what the bisection on dense area needs."""

    id1: np.ndarray  # (layers, rows, cols) nearest-cell index
    id2: np.ndarray  # second nearest
    blend: np.ndarray  # weight of id1 (0.5 on the boundary, 1 deep inside)
    sub: np.ndarray  # sub-cell glandular modulation in [0, 1]
    keep: np.ndarray  # fat forcing (subcutaneous, retromammary) * layer presence, in [0, 1]
    presence: np.ndarray  # share of each layer's slab inside the breast, in [0, 1]
    boundary: np.ndarray  # distance to the nearest cell boundary (mm)
    score: np.ndarray  # per cell: glandular ranking score
    cell_gland: np.ndarray  # per cell: glandular share if glandular
    dz: float
    lobules: tuple[np.ndarray, np.ndarray, np.ndarray]  # sub-cells: nearest, second nearest, face distance (mm)


def _build_volume(cg: ViewGeometry, thick_c: np.ndarray, tissue_c: np.ndarray, thickness_mm: float,
                  rng: np.random.Generator, p: PhantomParams) -> _Volume:
    vx = cg.spacing_mm
    rows, cols = thick_c.shape
    tip_x, tip_y = anatomy.nipple_tip(cg)
    depth_mm = cg.depth_px * vx
    half_h = max(cg.half_up_px, cg.half_down_px) * vx
    dz = thickness_mm / p.layers
    zs = -0.5 * thickness_mm + (np.arange(p.layers) + 0.5) * dz
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    X = xx * f32(vx)
    Y = (yy - f32(tip_y)) * f32(vx)
    Xn = f32(tip_x * vx)

    def transformed(x: np.ndarray, y: np.ndarray, z: np.ndarray, *stretches: float) -> list[np.ndarray]:
        return detail.nipple_polar(x, y, z, float(Xn), depth_mm, stretches, p.z_stretch)

    # seeds drawn uniformly in the breast's bounding box (mm), at VICTRE's seed density
    box = (depth_mm * 1.05, 2.0 * half_h * 1.05, thickness_mm)
    n_seeds = max(30, int(round(box[0] * box[1] * box[2] * p.seed_density)))
    sx = rng.uniform(0.0, box[0], n_seeds)
    sy = rng.uniform(-box[1] / 2, box[1] / 2, n_seeds) + (cg.half_down_px - cg.half_up_px) * vx / 2
    sz = rng.uniform(-thickness_mm / 2, thickness_mm / 2, n_seeds)
    seeds, = transformed(sx, sy, sz, p.stretch)
    cells = detail.Seeds.of(seeds)
    n_sub = int(round(n_seeds * p.subcell_factor))
    ux = rng.uniform(0.0, box[0], n_sub)
    uy = rng.uniform(-box[1] / 2, box[1] / 2, n_sub) + (cg.half_down_px - cg.half_up_px) * vx / 2
    uz = rng.uniform(-thickness_mm / 2, thickness_mm / 2, n_sub)
    sub_seeds, = transformed(ux, uy, uz, p.stretch * 0.8)
    lobule_seeds = detail.Seeds.of(sub_seeds)
    sub_value = rng.uniform(*p.subcell_gland, n_sub)

    # lobes: VICTRE's compartments, wedges around the nipple axis, each with its own glandular strength
    lobe_angle = np.sort(rng.uniform(-math.pi, math.pi, p.compartments))
    lobe_strength = rng.normal(0.0, 1.0, p.compartments)
    seed_dir = np.arctan2(sz, sy)  # clock angle of each seed around the nipple axis
    lobe = np.argmin(np.abs(np.angle(np.exp(1j * (seed_dir[:, None] - lobe_angle[None, :])))), axis=1)
    # central and retroareolar concentration of glandular tissue (prior) + lobe strength + noise
    prior = (np.exp(-((sx - 0.55 * depth_mm) / (0.45 * depth_mm)) ** 2 - (sy / (0.6 * half_h)) ** 2
                    - (sz / (0.5 * thickness_mm)) ** 2))
    score = 2.0 * prior + lobe_strength[lobe] + rng.normal(0.0, 0.3, n_seeds)
    cell_gland = rng.uniform(*p.cell_gland, n_seeds)

    inside = np.nonzero(tissue_c)
    shape3 = (p.layers, rows, cols)
    id1 = np.zeros(shape3, dtype=np.int32)
    id2 = np.zeros(shape3, dtype=np.int32)
    blend = np.full(shape3, 1.0, dtype=np.float32)
    sub = np.zeros(shape3, dtype=np.float32)
    bnd = np.full(shape3, 99.0, dtype=np.float32)
    lobules = (np.zeros(shape3, dtype=np.int32), np.zeros(shape3, dtype=np.int32), np.full(shape3, 99.0, np.float32))
    presence = np.zeros(shape3, dtype=np.float32)
    keep = np.zeros(shape3, dtype=np.float32)
    skin_dist = ndimage.distance_transform_edt(np.pad(tissue_c, 1, mode="edge"))[1:-1, 1:-1].astype(np.float32) * vx
    half_t = 0.5 * thick_c
    # the partitions' candidate cells are looked up on a grid twice as coarse (detail.HalfGrid), then
    # ranked per voxel: a quarter of the k-d tree queries, the same cells
    half = detail.HalfGrid.of(tissue_c)
    hy, hx = half.centres()
    HX, HY = (hx * f32(vx))[half.where], ((hy - f32(tip_y)) * f32(vx))[half.where]
    warp = detail.warp_offsets(half.shape, p.layers, rng, 2.0 * vx, p.tissue)
    X_in, Y_in = X[inside], Y[inside]
    layer_pts = []
    for k, z in enumerate(zs):
        pres = np.clip((half_t - abs(z)) / dz + 0.5, 0.0, 1.0) * tissue_c
        presence[k] = pres
        # fat under the skin (in-plane and under the paddles) and in front of the chest wall
        to_surface = np.minimum(skin_dist, np.maximum(half_t - abs(z), 0.0))
        keep[k] = (_smoothstep(to_surface / p.subcutaneous_mm) * _smoothstep(X / p.retromammary_mm) * pres)
        zh, zi = np.full(len(HX), z, dtype=np.float32), np.full(len(inside[0]), z, dtype=np.float32)
        warp_h = np.moveaxis(warp[k][:, half.where[0], half.where[1]], 0, -1)  # curved cell faces (domain warp)
        warp_i = np.stack([texture.upsample_linear(w, (rows, cols), 2)[inside] for w in warp[k]], axis=-1)
        cells_i, lobules_i = transformed(X_in, Y_in, zi, p.stretch, p.stretch * 0.8)
        cells_h, lobules_h = transformed(HX, HY, zh, p.stretch, p.stretch * 0.8)
        pts = cells_i + warp_i
        layer_pts.append(pts)
        id1[k][inside], id2[k][inside], bnd[k][inside] = half.partition(cells, cells_h + warp_h, pts, inside)
        pairs = half.partition(lobule_seeds, lobules_h + warp_h, lobules_i + warp_i, inside)
        for arr, v in zip(lobules, pairs):  # fat lobules: their faces carry Cooper's ligaments
            arr[k][inside] = v
        sub[k][inside] = sub_value[pairs[0]]
    # the fibroglandular tissue's own texture inside the glandular cells, along the direction to the nipple
    for k, t in enumerate(detail.gland_texture(layer_pts, rng, p.tissue)):
        sub[k][inside] *= t
    # perturbed boundaries (VICTRE [perturb]): smooth noise on the boundary distance, then a soft blend
    for k in range(p.layers):
        noise = texture.power_law_field((rows, cols), 3.0, rng, spacing_mm=vx)
        bk = bnd[k] * (1.0 + f32(p.perturb) * np.clip(noise, -2.0, 2.0) * f32(0.5))
        bnd[k] = np.maximum(bk, 0.0)
        blend[k] = 0.5 + 0.5 * _smoothstep(bnd[k] / f32(p.blend_mm))
        sub[k] = ndimage.gaussian_filter(sub[k], 0.6)  # sub-cells blend over ~ one voxel
    return _Volume(id1, id2, blend, sub, keep, presence, bnd, score, cell_gland, dz, lobules)


def _gland_layers(vol: _Volume, glandular: np.ndarray, p: PhantomParams) -> np.ndarray:
    """Glandular fraction per layer voxel given which cells are glandular (bool per cell)."""
    g = np.where(glandular, vol.cell_gland, p.fat_cell_gland).astype(np.float32)
    mix = g[vol.id1] * vol.blend + g[vol.id2] * (1.0 - vol.blend)
    # sub-cells modulate only glandular tissue (fat lobules inside gland)
    return mix * (f32(1.0) - (f32(1.0) - vol.sub) * np.clip((mix - p.fat_cell_gland) / 0.7, 0.0, 1.0)) * vol.keep


def _projected(vol: _Volume, layers: np.ndarray) -> np.ndarray:
    return (layers * vol.presence).sum(axis=0) * f32(vol.dz)


def _choose_glandular(vol: _Volume, tissue_c: np.ndarray, thick_c: np.ndarray, target_dense: float,
                      p: PhantomParams) -> np.ndarray:
    """The glandular layers of the volume whose projected dense area matches ``target_dense``.

    Glandular cells are the top-scored ones; bisection on their number until the dense area matches, measured
    on every other voxel of the tissue (the same share to sampling error, a quarter of the work)."""
    order = np.argsort(-vol.score, kind="stable")
    hy, hx = (2 * i for i in np.nonzero(tissue_c[::2, ::2]))
    half = replace(vol, **{k: getattr(vol, k)[:, hy, hx] for k in ("id1", "id2", "blend", "sub", "keep",
                                                                    "presence")})
    half_thick, half_area = thick_c[hy, hx], max(len(hy), 1)

    def top_scored(n_glandular: int) -> np.ndarray:
        glandular = np.zeros(len(vol.score), dtype=bool)
        glandular[order[:n_glandular]] = True
        return glandular

    def dense_share(n_glandular: int) -> float:
        frac = _projected(half, _gland_layers(half, top_scored(n_glandular), p)) / np.maximum(half_thick, f32(1.0))
        return float((frac > p.dense_cut).sum()) / half_area

    lo, hi = 0, len(order)
    for _ in range(int(math.ceil(math.log2(len(order) + 1)))):
        mid = (lo + hi) // 2
        if dense_share(mid) < target_dense:
            lo = mid + 1
        else:
            hi = mid
    return _gland_layers(vol, top_scored(lo), p)


def _ducts_and_vessels(geom: ViewGeometry, rng: np.random.Generator, p: PhantomParams) -> np.ndarray:
    """Projected path length (mm) of the ducts from the nipple (one lactiferous duct per lobe) and of the
    vessels from the chest wall, at the image pitch."""
    sp = geom.spacing_mm
    tip_x, tip_y = anatomy.nipple_tip(geom)
    depth_mm = geom.depth_px * sp
    ducts = _Segments()
    for k in range(p.compartments):
        ang = math.pi + float(rng.normal(0.0, 0.45))  # pointing back from the nipple, fanning out
        grow_tree(ducts, rng, tip_x * sp - p.nipple_len_mm * 0.5, tip_y * sp, ang,
                  depth_mm * float(rng.uniform(*p.duct_reach)), p.duct_radius_mm, 1, p.duct_max_gen,
                  p.duct_len_shrink * 1.3, p.branch_rad_frac, (0.25, 0.6), 0.12, p.child_min_rad_mm)
    vessels = _Segments()
    for _ in range(int(rng.integers(*p.vessel_trees))):
        y0 = tip_y * sp + float(rng.uniform(-0.8, 0.8)) * geom.half_up_px * sp
        grow_tree(vessels, rng, 0.0, y0, float(rng.normal(0.0, 0.3)) - 0.4 * (y0 - tip_y * sp) / max(depth_mm, 1.0),
                  p.vessel_base_mm * float(rng.uniform(1.5, 2.5)), p.vessel_radius_mm * float(rng.uniform(0.6, 1.0)),
                  1, p.vessel_max_gen, p.vessel_len_shrink, p.branch_rad_frac, (0.2, 0.5), 0.12,
                  p.child_min_rad_mm)
    shape = (geom.rows, geom.cols)
    return rasterise_tree(ducts, shape, sp) + rasterise_tree(vessels, shape, sp)


def _skin_nipple_muscle(gland: np.ndarray, thick: np.ndarray, breast: np.ndarray, pect: np.ndarray,
                        geom: ViewGeometry, thickness_mm: float, pectoral_fraction: float,
                        p: PhantomParams) -> np.ndarray:
    """``gland`` with the skin shell (tangential at the skin line; thicker on the areola), the nipple and, on
    MLO views, the pectoral muscle added as gland-equivalent path length, capped by the thickness."""
    sp = geom.spacing_mm
    tip_x, tip_y = anatomy.nipple_tip(geom)
    skin = f32(p.skin_mm)
    yy, xx = np.mgrid[0:geom.rows, 0:geom.cols].astype(np.float32)
    areola = np.exp(-(((xx - f32(tip_x)) ** 2 + (yy - f32(tip_y)) ** 2) * f32(sp * sp) / f32(p.areola_rad_mm**2)) ** 4)
    skin_layer = skin * (f32(1.0) + f32(p.areola_skin_factor - 1.0) * areola)
    skin_path = np.minimum(thick, f32(2.0) * skin_layer * np.sqrt(f32(thickness_mm) / np.maximum(thick, f32(0.5))))
    gland = np.maximum(gland - skin_path, 0.0) + skin_path
    # nipple: a cylinder of fibrous (gland-equivalent) tissue at the tip
    nip = np.exp(-(((xx - f32(tip_x - p.nipple_len_mm / (2 * sp))) ** 2 * f32(sp * sp) / f32(p.nipple_len_mm**2)
                    + (yy - f32(tip_y)) ** 2 * f32(sp * sp) / f32(p.nipple_rad_mm**2)) * 2.0))
    gland = np.minimum(gland + nip * f32(2 * p.nipple_rad_mm) * breast, thick)
    if pect.any():  # pectoral muscle (MLO): gland-equivalent, thickest at the corner, as in phantom v1
        ys, xs = int(math.ceil(geom.pectoral_side_px)) + 8, int(math.ceil(geom.pectoral_top_px)) + 8
        x = np.arange(xs, dtype=np.float32)[None, :] / f32(geom.pectoral_top_px)
        y = np.arange(ys, dtype=np.float32)[:, None] / f32(geom.pectoral_side_px)
        dep = np.clip(1.0 - (x + y), 0.0, 1.0) ** f32(0.35)
        muscle = ndimage.gaussian_filter(pect[:ys, :xs] * dep, 1.0 / sp) * f32(thickness_mm * pectoral_fraction)
        gland[:ys, :xs] = np.minimum(gland[:ys, :xs] + muscle, thick[:ys, :xs])
    return gland


def _spicules(pm: PlacedMass, geom: ViewGeometry, size: tuple[int, int], h: int, rng: np.random.Generator,
              p: PhantomParams) -> np.ndarray:
    """Path length of a mass's spicules on its (2h+1)-square patch: fractal branches from the mass surface
    (de Sisternes 2015)."""
    segs = _Segments()
    rot = pm.shape.rotation + (pm.shape.mlo_rotation if geom.view == "MLO" else 0.0)
    a = 0.5 * pm.shape.size_mm
    for angle, length, width in pm.shape.spicules:
        ang = angle + rot
        sx0, sy0 = 0.8 * a * math.cos(ang), 0.8 * a * math.sin(ang)
        grow_tree(segs, rng, sx0, sy0, ang, a * length, 0.5 * width, 1, p.spicule_gen, p.spicule_len_shrink,
                  (p.spicule_rad_shrink, p.spicule_rad_shrink + 0.1), p.spicule_angle, 0.15, 0.03, pieces=3)
    cx, cy = int(round(pm.x)), int(round(pm.y))
    return rasterise_tree(segs, size, geom.spacing_mm, origin_px=(-h - (pm.x - cx), -h - (pm.y - cy)))


def _insert_mass(gland: np.ndarray, pm: PlacedMass, geom: ViewGeometry, thick: np.ndarray, layers: np.ndarray,
                 vol: _Volume, factor: int, thickness_mm: float, mass_mu_ratio: tuple[float, float, float, float],
                 mass_depth_ratio: float, rng: np.random.Generator, p: PhantomParams) -> np.ndarray:
    """Put one mass into ``gland`` (in place): it displaces the tissue of the slabs it occupies, the rest covers
    it. Returns its outline on the image canvas."""
    if pm.mass_density not in vocab.MASS_DENSITY:
        raise MammoError(f"phantom: {pm.mass_id} mass_density must be one of {vocab.MASS_DENSITY}, "
                         f"got {pm.mass_density!r}")
    sp = geom.spacing_mm
    cx, cy = int(round(pm.x)), int(round(pm.y))
    body = replace(pm.shape, spicules=())
    chord, outline = masses.render_mass(body, sp, geom.view, mass_depth_ratio, sub_px=(pm.x - cx, pm.y - cy))
    h = chord.shape[0] // 2
    local_t = crop_square(thick, cx, cy, h)
    chord = np.minimum(chord, local_t * 0.9)
    ratio = mass_mu_ratio[vocab.MASS_DENSITY.index(pm.mass_density)]
    # depth of the mass centre: within the middle 60 % of the thickness (choice); glandular share of
    # the slabs it occupies, from the layer volume
    zc = float(rng.uniform(-0.3, 0.3)) * thickness_mm
    k = int(np.clip((zc + 0.5 * thickness_mm) / vol.dz, 0, p.layers - 1))
    yy_c = (np.arange(cy - h, cy + h + 1, dtype=np.float32) + 0.5) / f32(factor) - 0.5
    xx_c = (np.arange(cx - h, cx + h + 1, dtype=np.float32) + 0.5) / f32(factor) - 0.5
    gy, gx = np.meshgrid(yy_c, xx_c, indexing="ij")
    g_here = ndimage.map_coordinates(layers[k], np.stack([gy, gx]), order=1, mode="nearest")
    excess = chord * (f32(ratio) - g_here)
    if pm.mass_density == "fat-containing":  # a thin dense capsule around the fatty centre
        rim = outline ^ ndimage.binary_erosion(outline, iterations=max(1, int(round(0.8 / sp))))
        excess += ndimage.gaussian_filter(rim * chord.max() * 0.35, 0.5)
    if pm.shape.spicules:
        excess += _spicules(pm, geom, chord.shape, h, rng, p) * f32(max(ratio, 1.0) * 0.8)
    excess = np.maximum(excess, -crop_square(gland, cx, cy, h))  # cannot remove more gland than there is
    paste_patch(gland, excess.astype(np.float32), cx, cy)
    full = np.zeros(gland.shape, dtype=bool)
    paste_patch(full, outline, cx, cy, combine="or")
    return full


def render_projection(geom: ViewGeometry, breast_density: str, thickness_mm: float, placed: list[PlacedMass],
                      target_dense: float, rng: np.random.Generator, params: PhantomParams = PARAMS,
                      mass_mu_ratio: tuple[float, float, float, float] = (1.12, 1.0, 0.8, 0.0),
                      mass_depth_ratio: float = 0.8, pectoral_fraction: float = 0.55,
                      periphery_mm: float = 14.0) -> Projection:
    """Build the layered phantom of one view and project it: fat/gland path lengths per pixel (mm).

    ``target_dense`` is the percent dense area (fraction) the view should show; glandular cells are chosen
    by their score (central prior + lobe strength + noise) until the projected dense area reaches it.
    Steps, in the order they draw from ``rng``: the volume, its glandular cells (:func:`_choose_glandular`),
    ligaments, ducts and vessels, skin/nipple/muscle, then each mass (:func:`_insert_mass`).
    """
    if breast_density not in vocab.BREAST_DENSITY:
        raise MammoError(f"phantom: breast_density must be one of {vocab.BREAST_DENSITY}, got {breast_density!r}")
    if not 0.0 < target_dense < 1.0:
        raise MammoError(f"phantom: target_dense must be a fraction in (0, 1), got {target_dense!r}")
    p = params
    sp = geom.spacing_mm
    shape = (geom.rows, geom.cols)
    breast = anatomy.breast_mask(geom)
    pect = anatomy.pectoral_mask(geom) & breast
    thick = anatomy.thickness_map(breast, sp, thickness_mm, periphery_mm)

    # coarse grid of the volume: an integer number of image pixels per voxel, about ``voxel_mm``
    factor = max(1, int(round(p.voxel_mm / sp)))
    cg = _scaled_geometry(geom, sp * factor)
    breast_c = anatomy.breast_mask(cg)
    tissue_c = breast_c & ~anatomy.pectoral_mask(cg)
    thick_c = anatomy.thickness_map(breast_c, cg.spacing_mm, thickness_mm, periphery_mm)
    vol = _build_volume(cg, thick_c, tissue_c, thickness_mm, rng, p)
    layers = _choose_glandular(vol, tissue_c, thick_c, target_dense, p)
    gland_c = _projected(vol, layers)
    gland = texture.upsample_linear(gland_c, shape, factor) * breast
    # Cooper's ligaments / septa on part of the cell boundaries, seen where the tissue is fat
    fat_weight = vol.presence * (f32(1.0) - np.clip(layers / f32(0.5), 0.0, 1.0))
    gland += detail.ligaments(vol.boundary, vol.id1, vol.id2, len(vol.score), fat_weight, vol.dz, p.ligament_mm,
                              factor, shape, sp, cg.spacing_mm, rng, p.tissue)
    gland += detail.lobule_ligaments(vol.lobules, fat_weight, vol.dz, p.ligament_mm,  # on the fat lobules' faces
                                     factor, shape, sp, cg.spacing_mm, rng, p.tissue)
    gland *= breast
    # dense tissue (ground truth): the parenchyma's projected glandular share, as the bisection measured it
    parenchyma = texture.upsample_linear(gland_c / np.maximum(thick_c, f32(1.0)), shape, factor)
    glandular_volume_fraction = float(gland_c[tissue_c].sum() / max(thick_c[tissue_c].sum(), 1e-6))

    tissue = breast & ~pect
    gland += _ducts_and_vessels(geom, rng, p) * tissue
    gland = np.minimum(gland, thick)
    gland = _skin_nipple_muscle(gland, thick, breast, pect, geom, thickness_mm, pectoral_fraction, p)
    mass_masks = {pm.mass_id: _insert_mass(gland, pm, geom, thick, layers, vol, factor, thickness_mm, mass_mu_ratio,
                                           mass_depth_ratio, rng, p) & breast for pm in placed}
    gland = np.clip(gland, 0.0, None) * breast
    dense = (parenchyma > p.dense_cut) & tissue
    dense_area = float(dense.sum() / max(int(tissue.sum()), 1))
    return Projection(thick.astype(np.float32), gland.astype(np.float32), breast, mass_masks, dense,
                      anatomy.nipple_tip(geom), anatomy.pectoral_line(geom), glandular_volume_fraction, dense_area)


def draw_target_dense(breast_density: str, rng: np.random.Generator, params: PhantomParams = PARAMS) -> float:
    """A percent dense area (fraction) for one breast of ``breast_density``, from the published distribution."""
    mean, sd = params.percent_dense_area[vocab.BREAST_DENSITY.index(breast_density)]
    return float(np.clip(rng.normal(mean, sd), 1.0, 95.0)) / 100.0
