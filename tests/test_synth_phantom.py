"""Phantom v2 (issue 15): anatomy, projection, acquisition, conformant DICOM, and the likeness statistics."""
from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mammo_lib.errors import MammoError
from mammo_lib.synth import (acquisition, anatomy, config, likeness, masses, phantom_v2, phantom_v1,
                             phantom_v2_tissue, phantom_v2_xray)

#: A small breast on a coarse canvas: a view renders in a fraction of a second.
SHAPE = anatomy.BreastShape(nipple_depth_mm=45.0, aspect=1.0, p=2.2, q=1.7, mlo_depth_ratio=1.0, pectoral_top=0.45,
                            pectoral_side=1.1, contour_phase=(0.1, 0.4, 0.8), thickness_mm=45.0)


def _geom(view: str = "CC", spacing: float = 0.4) -> anatomy.ViewGeometry:
    return anatomy.view_geometry(SHAPE, view, int(round(110 / spacing)), int(round(70 / spacing)), spacing)


def _view(vendor: str = "GE", density: str = "c", seed: int = 3, placed=None, view: str = "CC"):
    return phantom_v2_xray.render_view(_geom(view), vendor, density, 45.0, placed or [], 0.4, np.random.default_rng(seed))


def test_v2_view_is_byte_identical_per_seed_and_differs_across_seeds() -> None:
    a, _ = _view(seed=3)
    b, _ = _view(seed=3)
    c, _ = _view(seed=4)
    assert a.presentation.tobytes() == b.presentation.tobytes()
    assert a.presentation.tobytes() != c.presentation.tobytes()


def test_v2_grey_levels_are_continuous_and_unclipped_inside_the_breast() -> None:
    out, _ = _view()
    values = out.presentation[out.breast]
    assert 0.0 < values.min() and values.max() < 1.0  # the display curve's roll-off keeps every value inside
    assert np.unique(np.round(values, 4)).size > 2000  # no plateaus: thousands of distinct levels
    assert float((values >= values.max() - 1e-6).mean()) < 1e-3


def test_dense_area_follows_the_drawn_target() -> None:
    for target in (0.15, 0.55):
        _, proj = phantom_v2_xray.render_view(_geom(), "Siemens", "c", 45.0, [], target, np.random.default_rng(1))
        assert abs(proj.dense_area_fraction - target) < 0.08


def test_glandular_volume_fraction_rises_with_the_dense_area() -> None:
    fractions = [phantom_v2_xray.render_view(_geom(), "Hologic", "c", 45.0, [], t, np.random.default_rng(2))[1]
                 .glandular_volume_fraction for t in (0.05, 0.3, 0.7)]
    assert fractions[0] < fractions[1] < fractions[2]


def test_mu_is_johns_and_yaffe_at_their_energies_and_monotone() -> None:
    assert phantom_v2_xray.mu(20.0) == pytest.approx((0.0456, 0.0802))
    assert phantom_v2_xray.mu(30.0) == pytest.approx((0.0264, 0.0378))
    energies = np.linspace(15, 30, 16)
    gland = [phantom_v2_xray.mu(float(e))[1] for e in energies]
    assert all(a > b for a, b in zip(gland, gland[1:]))
    with pytest.raises(MammoError, match="outside the mammographic range"):
        phantom_v2_xray.mu(60.0)


def test_tree_rasterisation_conserves_the_projected_volume() -> None:
    segs = phantom_v2._Segments()
    segs.add(5.0, 10.0, 25.0, 10.0, 0.5)
    segs.add(25.0, 10.0, 35.0, 18.0, 0.3)
    out = phantom_v2.rasterise_tree(segs, (100, 180), 0.25)
    expected = math.pi * 0.5**2 * 20.0 + math.pi * 0.3**2 * math.hypot(10.0, 8.0)
    assert float(out.sum()) * 0.25**2 == pytest.approx(expected, rel=0.01)
    # the Gaussian of the chord profile's second moment peaks at sqrt(pi/2) = 1.25x the diameter, no higher
    assert 0.6 * 2 * 0.5 < out.max() < 1.26 * 2 * 0.5


def test_tissue_warp_is_smooth_at_its_sd_and_the_same_per_seed() -> None:
    a = phantom_v2_tissue.warp_offsets((120, 160), 3, np.random.default_rng(5), 0.5)
    b = phantom_v2_tissue.warp_offsets((120, 160), 3, np.random.default_rng(5), 0.5)
    assert a.shape == (3, 3, 120, 160) and a.tobytes() == b.tobytes()
    assert float(a.std()) == pytest.approx(phantom_v2_tissue.TISSUE.warp_mm, rel=0.05)
    # smooth: neighbouring voxels move together (shortest octave 3 mm = 6 voxels)
    step = np.abs(np.diff(a, axis=-1)).mean()
    assert step < 0.1 * float(np.abs(a).mean())
    # the layers share part of the warp (slabs of one volume), and differ
    corr = np.corrcoef(a[0, 0].ravel(), a[1, 0].ravel())[0, 1]
    assert 0.3 < corr < 0.9


def test_tissue_texture_stays_in_its_range() -> None:  # pair values: tests/test_synth_kernels.py
    rng = np.random.default_rng(0)
    # the draws of the pair-value check that moved out, kept so that this texture is the one always checked
    rng.uniform(size=50), rng.uniform(size=50), rng.integers(0, 50, 400), rng.integers(0, 50, 400)
    coords = [rng.uniform(0, 60, (500, 3)).astype(np.float32) for _ in range(2)]
    t = phantom_v2_tissue.gland_texture(coords, rng)
    lo = 1.0 - phantom_v2_tissue.TISSUE.texture_strength
    assert all(x.shape == (500,) and lo - 1e-6 <= x.min() and x.max() <= 1.0 + 1e-6 for x in t)
    assert float(np.std(t[0])) > 0.05  # a texture, not a constant


def test_half_grid_partition_gives_the_exact_two_nearest_seeds_from_a_quarter_of_the_queries() -> None:
    from scipy import spatial

    rng = np.random.default_rng(4)
    seeds = rng.uniform(0.0, 60.0, (40, 3))
    tree = spatial.cKDTree(seeds)
    mask = np.zeros((150, 151), dtype=bool)
    mask[5:145, 3:148] = True
    half = phantom_v2_tissue.HalfGrid.of(mask)
    hy, hx = half.centres()
    pts = lambda yy, xx: np.stack([xx * 0.4, yy * 0.4, np.full(xx.shape, 30.0)], axis=-1)  # noqa: E731
    at = np.nonzero(mask)
    fine = pts(at[0].astype(float), at[1].astype(float))
    assert len(half.where[0]) < 0.3 * len(fine)
    id1, id2, bnd = half.partition(phantom_v2_tissue.Seeds.of(seeds), pts(hy[half.where], hx[half.where]), fine, at)
    d, i = tree.query(fine, k=2)
    exact = (d[:, 1] ** 2 - d[:, 0] ** 2) / (2.0 * np.linalg.norm(seeds[i[:, 1]] - seeds[i[:, 0]], axis=1))
    assert np.array_equal(id1, i[:, 0])
    assert np.mean(id2 == i[:, 1]) > 0.9995
    np.testing.assert_allclose(bnd[id2 == i[:, 1]], exact[id2 == i[:, 1]], atol=1e-4)


def test_ligament_sheets_keep_their_cross_section_and_only_show_in_fat() -> None:
    # one straight vertical boundary at x = 20 mm between cells 0 and 1 on a 0.5 mm grid, one layer
    x = (np.arange(80) + 0.5) * 0.5
    boundary = np.abs(x - 20.0)[None, None, :].repeat(40, axis=1).astype(np.float32)
    id1 = np.where(x < 20.0, 0, 1)[None, None, :].repeat(40, axis=1)
    id2 = 1 - id1
    fat = np.ones_like(boundary)
    params = phantom_v2_tissue.TissueParams(ligament_share=1.0, ligament_gap_share=1e-6, ligament_max_tilt_deg=0.0)
    out = phantom_v2_tissue.ligaments(boundary, id1, id2, 2, fat, 6.0, 0.1, 2, (80, 160), 0.25, 0.5,
                           np.random.default_rng(0), params)
    # a sheet standing in the beam: thickness x slab of tissue per unit length, on a thin ridge at x = 20 mm
    per_row = out[40].sum() * 0.25
    assert per_row == pytest.approx(0.1 * 6.0, rel=0.05)
    assert abs(float(np.argmax(out[40])) * 0.25 + 0.125 - 20.0) < 0.5
    none = phantom_v2_tissue.ligaments(boundary, id1, id2, 2, np.zeros_like(fat), 6.0, 0.1, 2, (80, 160), 0.25, 0.5,
                            np.random.default_rng(0), params)
    assert not none.any()


def test_a_mass_inside_the_volume_is_covered_by_the_tissue_around_it() -> None:
    rng = np.random.default_rng(0)
    shape = masses.draw_mass_shape(12.0, "irregular", "spiculated", rng)
    g = _geom()
    x, y = anatomy.project_point(g, 25.0, 0.2, 0.5)
    placed = [phantom_v1.PlacedMass("M1", shape, "high", x, y, 0.0)]
    with_mass, proj = _view(placed=placed)
    without, _ = _view()
    mask = with_mass.mass_masks["M1"]
    assert mask.sum() > 100
    lift = with_mass.presentation[mask].mean() - without.presentation[mask].mean()
    assert lift > 0.02  # the mass adds attenuation over the tissue it displaces
    assert proj.gland[mask].max() <= proj.thickness[mask].max() + 1e-4


@pytest.mark.parametrize("vendor", [v.name for v in config.VENDORS])
def test_v2_dicom_has_no_dciodvfy_errors(vendor: str, tmp_path: Path) -> None:
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed")
    out, _ = _view(vendor=vendor, view="MLO")
    profile = config.VENDOR_BY_NAME[vendor]
    from dataclasses import replace

    profile = replace(profile, pixel_spacing_mm=0.4)
    enc = acquisition.encode(out.presentation, out.breast, profile, full_range=True)
    tags = acquisition.ImageTags("P9999", 50, "S9999", "20190601", "L", "MLO", "P9999_L_MLO", 1, 2)
    path = tmp_path / f"{vendor}.dcm"
    acquisition.write_mg(path, enc, profile, tags, conformant=True)
    report = subprocess.run(["dciodvfy", "-new", str(path)], capture_output=True, text=True)
    errors = [line for line in (report.stdout + report.stderr).splitlines() if line.startswith("Error")]
    assert errors == []


def test_v1_header_is_unchanged_without_conformance(tmp_path: Path) -> None:
    import pydicom

    profile = config.VENDOR_BY_NAME["Siemens"]
    enc = acquisition.encode(np.linspace(0, 1, 64 * 48).reshape(64, 48), np.ones((64, 48), bool), profile)
    tags = acquisition.ImageTags("P9999", 50, "S9999", "20190601", "R", "CC", "P9999_R_CC", 1, 1)
    acquisition.write_mg(tmp_path / "v1.dcm", enc, profile, tags)
    acquisition.write_mg(tmp_path / "v2.dcm", enc, profile, tags, conformant=True)
    v1, v2 = pydicom.dcmread(tmp_path / "v1.dcm"), pydicom.dcmread(tmp_path / "v2.dcm")
    assert "Laterality" in v1 and "PresentationLUTShape" not in v1
    assert "Laterality" not in v2 and v2.PresentationLUTShape == "IDENTITY" and v2.OrganExposed == "BREAST"
    assert v2.AnatomicRegionSequence[0].CodeValue == "76752008"


def test_config_phantom_and_pitch_are_checked_and_v2_is_the_default() -> None:
    assert config.twin_config().phantom == "v2" and config.twin_config().pitch_mm is None
    assert config.train_config().phantom == "v2"
    assert config.view_pitch_mm(config.twin_config().with_(phantom="v1"), "GE") == \
        config.VENDOR_BY_NAME["GE"].pixel_spacing_mm
    v2 = config.twin_config()
    assert config.view_pitch_mm(v2, "GE") == config.V2_DEFAULT_PITCH_MM
    assert config.view_pitch_mm(v2.with_(pitch_mm="native"), "Hologic") == 0.07
    with pytest.raises(MammoError, match="phantom must be one of"):
        config.twin_config().with_(phantom="v3")
    with pytest.raises(MammoError, match="pitch_mm applies to phantom v2 only"):
        config.twin_config().with_(phantom="v1", pitch_mm=0.1)
    with pytest.raises(MammoError, match="pitch_mm must be None, 'native' or a pitch"):
        v2.with_(pitch_mm=2.0)


def test_percent_dense_area_targets_follow_the_published_means() -> None:
    rng = np.random.default_rng(0)
    means = [np.mean([phantom_v2.draw_target_dense(d, rng) for _ in range(400)]) for d in "abcd"]
    assert means[0] < means[1] < means[2] < means[3]
    assert means[3] == pytest.approx(0.623, abs=0.03)
    assert phantom_v2.view_thickness("a", 45.0) > phantom_v2.view_thickness("d", 45.0)


def _common(array: np.ndarray) -> likeness.CommonView:
    size = array.shape[0]
    yy, xx = np.mgrid[0:size, 0:size]
    mask = (xx / 200.0) ** 2 + ((yy - size / 2) / 120.0) ** 2 < 1.0
    tissue = mask & ((xx / 170.0) ** 2 + ((yy - size / 2) / 95.0) ** 2 < 1.0) & (xx > 30)
    return likeness.CommonView(array.astype(np.float32), mask, tissue, (200.0, size / 2), 0.0)


def test_nipple_alignment_is_one_for_radial_lines_and_two_over_pi_for_noise() -> None:
    size = 256
    yy, xx = np.mgrid[0:size, 0:size]
    angle = np.arctan2(yy - size / 2, xx - 200.0)
    radial = _common(np.cos(40 * angle))
    stats_radial = likeness.image_statistics(radial)
    assert stats_radial["nipple_alignment"] > 0.9 and stats_radial["coherence"] > 0.5
    noise = _common(np.random.default_rng(0).standard_normal((size, size)))
    stats_noise = likeness.image_statistics(noise)
    assert stats_noise["nipple_alignment"] == pytest.approx(2 / math.pi, abs=0.03)
    assert abs(stats_noise["dog_kurtosis"]) < 0.3  # Gaussian noise: no excess kurtosis


def test_two_sample_auc_is_chance_for_one_distribution_and_high_for_two() -> None:
    rng = np.random.default_rng(0)
    same_a = [rng.normal(size=(20, 5)) for _ in range(6)]
    same_b = [rng.normal(size=(20, 5)) for _ in range(6)]
    other = [rng.normal(1.5, 1.0, size=(20, 5)) for _ in range(6)]
    assert abs(likeness.two_sample_auc(same_a, same_b) - 0.5) < 0.12
    assert likeness.two_sample_auc(same_a, other) > 0.95


def test_sample_patients_names_the_density_that_has_too_few_patients() -> None:
    assert len(likeness.sample_patients(1)) == 4
    with pytest.raises(MammoError, match="density a, fewer than per_density=100"):
        likeness.sample_patients(100)
