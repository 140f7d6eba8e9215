"""Tissue detail of phantom v2: curved compartment boundaries, Cooper's ligament sheets, glandular texture.

:mod:`mammo_lib.synth.phantom_v2` partitions the compressed breast into glandular compartments (a Voronoi
partition in nipple-polar coordinates, after the FDA's VICTRE breastPhantom). Left as they are, such cells have
straight faces that project as polygonal facets, their boundaries as a honeycomb of septa and their wedges as a
star converging on the nipple. This module supplies what makes them look like breast tissue:

* :func:`nipple_polar`: the nipple-polar coordinates of the partition, with the angular arc length growing as
  ``ref * tanh(r / ref)`` (the true arc ``r * angle`` near the nipple, a wedge further back), so that the cells
  do not shrink into slivers at the nipple;
* :func:`warp_offsets`: a smooth random displacement of the points where the partition is evaluated
  (domain warping), which bends the cells' faces (VICTRE perturbs its Voronoi distances for the same reason,
  cfg [perturb]);
* :func:`ligaments`: Cooper's ligaments as thin sheets on part of the cell boundaries, each boundary with its
  own tilt to the beam (a tilted sheet projects as a wider, fainter band carrying the same tissue, the
  partial volume) and with gaps along it;
* :func:`gland_texture`: the fibroglandular tissue's own 1/f^beta texture inside the glandular cells, drawn
  in the partition's coordinates, so that it runs along the direction to the nipple.

Nothing thresholds a field: every factor is continuous and every value is drawn from the view's generator.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import fft, ndimage

from mammo_lib.synth import kernels, texture

f32 = np.float32


@dataclass(frozen=True)
class TissueParams:
    """Tissue detail of phantom v2, each value with its source."""

    #: Boundary warp: SD (mm) of the displacement and the smoothing scales (mm) of its octaves. VICTRE cfg
    #: [perturb] maxDeviation 0.25 of the distance, at its ~10 mm cell spacing (seed density 0.001 mm^-3):
    #: about 2.5 mm; octaves 3-12 mm (choice: bends a face along its length without curling it).
    warp_mm: float = 2.5
    warp_scales_mm: tuple[float, ...] = (3.0, 6.0, 12.0)
    #: Share of the warp common to all layers (choice: the layers are slabs of one continuous volume).
    warp_common: float = 0.6
    #: Share of cell boundaries carrying a ligament sheet (choice: fat lobules are bounded by septa on
    #: most but not all faces; VICTRE draws ligaments on lobule faces only, cfg [lig] maxTry, scale).
    ligament_share: float = 0.7
    #: Largest tilt of a sheet to the beam (deg; choice: sheets are oriented at random in the volume).
    ligament_max_tilt_deg: float = 60.0
    #: Length scale (mm) of the gaps along the sheets and their share (choice).
    ligament_gap_mm: float = 8.0
    ligament_gap_share: float = 0.25
    #: Glandular texture inside the cells: spectral exponent of the field (Burgess et al. Med Phys
    #: 2001;28:419: 2.6-3.3 for mammographic backgrounds), its strength (share of the glandular fraction
    #: that it can remove; choice) and its pitch (mm, in the partition's coordinates).
    texture_beta: float = 3.0
    texture_strength: float = 0.55
    texture_pitch_mm: float = 0.5
    #: Slope of the squashing of the texture field (choice: sharper fat/gland interfaces inside the cells).
    texture_sharpness: float = 1.5
    #: Fibrous strands: half-width of the ridges in units of the field's SD, and the share by which the
    #: clouds stay below them (choice; trabecular strands of fibrous stroma run between the lobules).
    strand_width: float = 0.3
    strand_share: float = 0.3
    #: Cooper's ligaments on the faces of the fat lobules (the sub-cells of the partition): VICTRE draws its
    #: ligaments on the faces of the fat lobules (breastPhantom's lobule/ligament step, cfg [lig] thickness
    #: 0.1 mm, shared with the compartments' sheets); share of lobule faces carrying a sheet (choice).
    lobule_ligament_share: float = 0.7


TISSUE = TissueParams()


def nipple_polar(x: np.ndarray, y: np.ndarray, z: np.ndarray, nipple_x_mm: float, depth_mm: float,
                 stretches: tuple[float, ...], z_stretch: float) -> list[np.ndarray]:
    """(N, 3) nipple-polar coordinates (mm) of points (mm; x from the chest wall, y and z from the nipple axis),
    one array per stretch of ``stretches``.

    Distance to the nipple shrunk by the stretch (cells elongate towards it), in-plane and through-plane
    angles as arc lengths at ``ref * tanh(r / ref)``, ``ref`` half the nipple depth (the same for every stretch).
    """
    dx = f32(nipple_x_mm) - x
    r = np.sqrt(dx * dx + y * y + z * z)
    ref = f32(0.5 * depth_mm)
    arc = ref * np.tanh(r / ref)
    front = np.maximum(dx, f32(1e-3))
    across, through = np.arctan2(y, front) * arc, np.arctan2(z, front) * arc / f32(z_stretch)
    return [np.stack([r / f32(stretch), across, through], axis=-1) for stretch in stretches]


def _smooth_noise(shape: tuple[int, int], rng: np.random.Generator, spacing_mm: float,
                  scales_mm: tuple[float, ...]) -> np.ndarray:
    """Unit-SD smooth Gaussian noise: white noise low-passed by Gaussians of ``scales_mm``, each octave
    weighted by its scale (one FFT; periodic, on a padded grid so that the ends do not meet).

    Drawn on a grid ``step`` times coarser, at least 2 samples per SD of the finest octave (its spectrum is
    negligible beyond that grid's Nyquist frequency), and resampled bilinearly to ``shape``.
    """
    step = max(1, int(min(scales_mm) / (2.0 * spacing_mm)))
    if step > 1:
        coarse = (-(-shape[0] // step), -(-shape[1] // step))
        return texture.upsample_linear(_smooth_noise(coarse, rng, spacing_mm * step, scales_mm), shape, step)
    pad = int(math.ceil(2.0 * max(scales_mm) / spacing_mm))
    size = (fft.next_fast_len(shape[0] + pad, real=True), fft.next_fast_len(shape[1] + pad, real=True))
    spectrum = fft.rfft2(rng.standard_normal(size, dtype=np.float32), workers=1)
    out = fft.irfft2(spectrum * _octave_gain(size, float(spacing_mm), tuple(scales_mm)), s=size,
                     workers=1)[: shape[0], : shape[1]].astype(np.float32)
    return (out - out.mean()) / max(float(out.std()), 1e-6)


@functools.lru_cache(maxsize=8)
def _octave_gain(size: tuple[int, int], spacing_mm: float, scales_mm: tuple[float, ...]) -> np.ndarray:
    """The spectral gain of :func:`_smooth_noise` on an rfft2 grid of ``size`` (cached: a view draws dozens of
    fields on one grid; read-only)."""
    f2 = (fft.fftfreq(size[0], d=spacing_mm) ** 2)[:, None] + (fft.rfftfreq(size[1], d=spacing_mm) ** 2)[None, :]
    gain = np.zeros(f2.shape, dtype=np.float32)
    for s in scales_mm:
        g = np.exp(-2.0 * math.pi**2 * s * s * f2)
        gain += (g / math.sqrt(float((g * g).mean())) * s).astype(np.float32)
    gain.setflags(write=False)
    return gain


@dataclass(frozen=True)
class HalfGrid:
    """A grid twice as coarse as a 2-D one (block ``(i, j)`` covers pixels ``2i, 2i+1`` x ``2j, 2j+1``; its
    centre sits at pixel ``2i + 0.5``), restricted to ``where``: the blocks within 2 pixels of a mask.

    A Voronoi partition's candidate cells are looked up once per block (a quarter of the nearest-seed queries)
    and ranked per pixel (:meth:`partition`)."""

    shape: tuple[int, int]
    where: tuple[np.ndarray, np.ndarray]
    index: np.ndarray  # (shape) position of each block of ``where`` in that list (0 elsewhere)

    @classmethod
    def of(cls, mask: np.ndarray) -> HalfGrid:
        grown = ndimage.binary_dilation(mask, iterations=2)
        rows, cols = mask.shape
        padded = np.zeros((rows + rows % 2, cols + cols % 2), dtype=bool)
        padded[:rows, :cols] = grown
        blocks = padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2).any(axis=(1, 3))
        where = np.nonzero(blocks)
        index = np.zeros(blocks.shape, dtype=np.int64)
        index[where] = np.arange(len(where[0]))
        return cls(blocks.shape, where, index)

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, column) of each block centre, in pixels of the fine grid, on the block grid."""
        yy, xx = np.mgrid[0:self.shape[0], 0:self.shape[1]].astype(np.float32)
        return f32(2.0) * yy + f32(0.5), f32(2.0) * xx + f32(0.5)

    def partition(self, seeds: Seeds, block_pts: np.ndarray, pts: np.ndarray, at: tuple[np.ndarray, np.ndarray],
                  candidates: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The two nearest seeds of each point and its distance to their bisecting plane.

        ``block_pts`` ((M, 3), the partition's coordinates at the blocks of ``where``) are looked up in ``seeds``
        for their ``candidates`` nearest seeds; each point of ``pts`` ((N, 3), at the fine-grid pixels ``at``)
        ranks its block's candidates by its own distances (float32). Exact wherever a point's two nearest seeds
        are among its block's four (all but a few points where five cells meet).
        """
        cand = kernels.nearest_seeds(seeds.xyz, *seeds.buckets, block_pts, candidates)
        q = [np.ascontiguousarray(pts[:, c], dtype=np.float32) for c in range(3)]
        return kernels.rank_candidates(cand, self.index[at[0] // 2, at[1] // 2], *seeds.columns, *q)


@dataclass(frozen=True)
class Seeds:
    """The seeds of a Voronoi partition ((S, 3) float64, the partition's coordinates), their float32 columns (in
    which points rank them) and a grid of buckets that finds the nearest (what a k-d tree did, the same seeds)."""

    xyz: np.ndarray
    columns: tuple[np.ndarray, np.ndarray, np.ndarray]
    buckets: tuple[np.ndarray, ...]

    @classmethod
    def of(cls, xyz: np.ndarray, per_cell: float = 2.0) -> Seeds:
        xyz = np.ascontiguousarray(xyz, dtype=np.float64)
        columns = tuple(np.ascontiguousarray(xyz[:, c], dtype=np.float32) for c in range(3))
        return cls(xyz, columns, kernels.bucket_seeds(xyz, per_cell))


def warp_offsets(shape: tuple[int, int], layers: int, rng: np.random.Generator, spacing_mm: float,
                 p: TissueParams = TISSUE) -> np.ndarray:
    """(layers, 3, rows, cols) displacement (mm) added to the partition's coordinates: curved cell faces."""
    common = [_smooth_noise(shape, rng, spacing_mm, p.warp_scales_mm) for _ in range(3)]
    a, b = math.sqrt(p.warp_common), math.sqrt(1.0 - p.warp_common)
    out = np.empty((layers, 3) + shape, dtype=np.float32)
    for k in range(layers):
        for c in range(3):
            own = _smooth_noise(shape, rng, spacing_mm, p.warp_scales_mm)
            out[k, c] = (f32(a) * common[c] + f32(b) * own) * f32(p.warp_mm)
    return out


def gland_texture(coords: list[np.ndarray], rng: np.random.Generator, p: TissueParams = TISSUE) -> list[np.ndarray]:
    """Per layer, a texture factor in [1 - strength, 1] at each point of ``coords`` ((N, 3) nipple-polar, mm).

    Two 1/f^beta fields are drawn on a grid of the first two nipple-polar coordinates (distance to the
    nipple, shrunk by the cells' stretch, and in-plane arc), so that in the image their structures run
    towards the nipple: one gives lobular clouds (a smooth squashing into (0, 1)), the other fibrous strands
    (thin ridges along its zero crossings). Each layer's fields share ``warp_common`` of their variance
    with the other layers' (the cells are ``z_stretch`` taller than wide; so is their texture).
    """
    if not coords or not any(len(c) for c in coords):
        return [np.ones(len(c), dtype=np.float32) for c in coords]
    allc = np.concatenate([c[:, :2] for c in coords if len(c)])
    lo = allc.min(axis=0) - 2.0
    hi = allc.max(axis=0) + 2.0
    n = tuple(int(v) for v in np.maximum(np.ceil((hi - lo) / p.texture_pitch_mm).astype(int) + 1, 8))

    def field() -> np.ndarray:
        return texture.power_law_field(n, p.texture_beta, rng, spacing_mm=p.texture_pitch_mm, f_min=0.05)

    common = (field(), field())
    a, b = f32(math.sqrt(p.warp_common)), f32(math.sqrt(1.0 - p.warp_common))
    out = []
    for c in coords:
        clouds, strands = (a * m + b * field() for m in common)
        if not len(c):
            out.append(np.ones(0, dtype=np.float32))
            continue
        ij = ((c[:, :2] - lo) / p.texture_pitch_mm).T
        v = ndimage.map_coordinates(clouds, ij, order=1, mode="nearest")
        w = ndimage.map_coordinates(strands, ij, order=1, mode="nearest")
        cloud = 0.5 * (1.0 + np.tanh(f32(p.texture_sharpness) * v))
        strand = np.exp(-(w / f32(p.strand_width)) ** 2)
        t = np.maximum(f32(1.0 - p.strand_share) * cloud, strand)
        out.append((f32(1.0) - f32(p.texture_strength) * (f32(1.0) - t)).astype(np.float32))
    return out


def ligaments(boundary: np.ndarray, id1: np.ndarray, id2: np.ndarray, n_cells: int, fat_weight: np.ndarray,
              dz_mm: float, thickness_mm: float, factor: int, shape: tuple[int, int], spacing_mm: float,
              coarse_mm: float, rng: np.random.Generator, p: TissueParams = TISSUE) -> np.ndarray:
    """Projected path (mm) through Cooper's ligament sheets of ``thickness_mm`` on the cell boundaries.

    ``boundary`` (layers, coarse rows, cols of ``coarse_mm``): distance (mm) to the nearest cell boundary;
    ``id1``/``id2`` the two nearest cells; ``fat_weight`` where a sheet shows (inside the breast, in fat).
    The image grid (``shape``, ``spacing_mm``) is ``factor`` times finer. Tilts are drawn as
    ``max_tilt * u^2`` (choice: compression flattens the breast, and the septa that run to the skin under
    the paddles stand near the beam direction). A sheet tilted by ``theta`` to the
    beam crosses a slab of ``dz_mm`` over a band of ``dz tan(theta)`` with ``thickness * dz / cos(theta)``
    of tissue per unit length: its projection is a ridge of that width carrying that cross-section.
    Each layer is evaluated only in the box around its fat (one voxel beyond, where the resampling of the
    fine grid reads), on the voxels next to fat: elsewhere a ridge carries no tissue.
    """
    out = np.zeros(shape, dtype=np.float32)
    layers = boundary.shape[0]
    min_w = max(1.5 * spacing_mm, 0.25)
    max_tilt = math.radians(p.ligament_max_tilt_deg)
    cut = f32(_gap_cut(p.ligament_gap_share))
    # a boundary is a face between two 3-D cells: whether it carries a sheet and its tilt hold in every layer
    cell_u = [tuple(rng.uniform(0.0, 1.0, n_cells).astype(np.float32) for _ in range(2)) for _ in range(2)]
    for k in range(layers):
        gaps = _smooth_noise(fat_weight.shape[1:], rng, coarse_mm, (p.ligament_gap_mm / 2.0,))  # drawn per layer
        fat = fat_weight[k] > 0
        if not fat.any():
            continue
        rows, cols = np.nonzero(fat.any(axis=1))[0], np.nonzero(fat.any(axis=0))[0]
        box = (slice(max(rows[0] - 1, 0), rows[-1] + 2), slice(max(cols[0] - 1, 0), cols[-1] + 2))
        near = np.nonzero(ndimage.binary_dilation(fat[box], np.ones((3, 3), dtype=bool)))
        i1, i2 = id1[k][box][near], id2[k][box][near]
        keep_u, tilt_u = (kernels.pair_values(i1, i2, u, v) for u, v in cell_u)
        theta = tilt_u * tilt_u * f32(max_tilt)
        width = np.maximum(f32(min_w), f32(dz_mm) * np.tan(theta) + f32(thickness_mm) / np.cos(theta))
        cross = f32(thickness_mm * dz_mm) / np.cos(theta)
        present = np.clip((f32(p.ligament_share) - keep_u) / f32(0.05) + 0.5, 0.0, 1.0)
        open_ = np.clip((gaps[box][near] - cut) / f32(0.4) + 0.5, 0.0, 1.0)
        weight = fat_weight[k][box][near] * present * open_
        if not weight.any():
            continue
        # signed by the pair's order, the distance crosses zero on the boundary, so that its interpolation
        # between voxel centres keeps the ridge's peak (an unsigned one would flatten it); it is resampled
        # in units of the ridge's width, which is the same on both sides of a boundary
        b = boundary[k][box][near]
        q, amp = np.zeros(gaps[box].shape, np.float32), np.zeros(gaps[box].shape, np.float32)
        q[near] = np.where(i1 < i2, b, -b) / width
        amp[near] = cross * weight / (width * f32(math.sqrt(math.pi)))
        fine = (slice(box[0].start * factor, min(box[0].stop * factor, shape[0])),
                slice(box[1].start * factor, min(box[1].stop * factor, shape[1])))
        size = (fine[0].stop - fine[0].start, fine[1].stop - fine[1].start)
        ridge = kernels.neg_square_upsampled(q, size[0], size[1], factor)
        np.exp(ridge, out=ridge)  # the Gaussian ridge on the image grid, times its upsampled amplitude
        kernels.add_product_upsampled(out[fine], ridge, amp, factor)
    return out


def lobule_ligaments(lobules: tuple[np.ndarray, np.ndarray, np.ndarray], fat_weight: np.ndarray, dz_mm: float,
                     thickness_mm: float, factor: int, shape: tuple[int, int], spacing_mm: float, coarse_mm: float,
                     rng: np.random.Generator, p: TissueParams = TISSUE) -> np.ndarray:
    """Projected path (mm) through Cooper's ligament sheets on the faces of the fat lobules.

    ``lobules`` is (first, second nearest sub-cell, distance to their face) per layer voxel, as
    :meth:`HalfGrid.partition` gives them for the sub-cells; the sheets are those of :func:`ligaments` (same
    thickness, tilt and gaps, partial volume), on ``lobule_ligament_share`` of the lobule faces, in fat.
    """
    first, second, face = lobules
    lp = replace(p, ligament_share=p.lobule_ligament_share)
    n_lobules = int(max(first.max(initial=0), second.max(initial=0))) + 1
    return ligaments(face, first, second, n_lobules, fat_weight, dz_mm, thickness_mm, factor, shape, spacing_mm,
                     coarse_mm, rng, lp)


def _gap_cut(share: float) -> float:
    """The standard-normal quantile below which a unit-SD field is a gap for ``share`` of its area."""
    from scipy.stats import norm

    return float(norm.ppf(share))
