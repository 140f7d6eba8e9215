"""Preprocessing: geometry round trips, orientation, mask, pectoral, nipple, harmonisation, cache, CLI, bad input."""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from mammo_lib import preprocess as pp
from mammo_lib.checksums import sha256_file
from mammo_lib.data import dicomio
from mammo_lib.cli import main as mammo_main
from mammo_lib.errors import MammoError

H, W = 600, 400


@dataclass
class Phantom:
    pixels: np.ndarray
    mask: np.ndarray  # ground-truth breast, input orientation
    nipple: tuple[float, float]  # input coordinates
    pectoral: tuple[tuple[float, float], tuple[float, float]] | None
    label_box: tuple[int, int, int, int]  # burned-in label, (y0, y1, x0, x1)


def make_phantom(view: str = "CC", right: bool = False, seed: int = 0, gain: float = 1.0,
                 border: bool = True) -> Phantom:
    """A chest-wall-left half-ellipse breast with texture, a film border strip and a burned-in label."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W] + 0.5
    if view == "CC":
        cy, a, b = 300.0, 250.0, 220.0
    else:
        cy, a, b = 250.0, 260.0, 330.0
    mask = (xx / a) ** 2 + ((yy - cy) / b) ** 2 <= 1
    texture = ndimage.gaussian_filter(rng.normal(size=(H, W)), 6)
    texture = 0.08 * texture / texture.std()
    img = np.where(mask, 0.35 + texture + 0.15 * (1 - xx / a).clip(0, 1), 0.0)
    pectoral = None
    normal = np.array([1.0, 0.0])
    if view == "MLO":
        top_x, side_y = 140.0, 380.0
        muscle = mask & (xx / top_x + yy / side_y <= 1)
        img = np.where(muscle, 0.75 + 0.3 * texture, img)
        pectoral = ((top_x, 0.0), (0.0, side_y))
    # the nipple: the breast's most anterior point (farthest from the chest wall), on both views
    theta = np.arctan2(b * normal[1], a * normal[0])
    nipple = (a * np.cos(theta), cy + b * np.sin(theta))
    label_box = (30, 60, 300, 370)
    img[label_box[0]:label_box[1], label_box[2]:label_box[3]] = 0.95  # burned-in view label
    if border:
        img[:, :4] = np.maximum(img[:, :4], 0.5)  # film border strip along the chest-wall edge
    img = np.clip(img * gain, 0, 1).astype(np.float32)
    if right:
        img, mask = img[:, ::-1].copy(), mask[:, ::-1].copy()
        nipple = (W - nipple[0], nipple[1])
        if pectoral is not None:
            pectoral = ((W - pectoral[0][0], pectoral[0][1]), (W - pectoral[1][0], pectoral[1][1]))
    return Phantom(img, mask, nipple, pectoral, label_box)


dice = pp.dice


def run(image: np.ndarray, **kwargs: object) -> pp.PreprocessedView:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pp.PreprocessWarning)
        return pp.preprocess_view(image, **kwargs)


# --- geometry ------------------------------------------------------------------------------------
@pytest.mark.parametrize("flipped", [False, True])
def test_transform_round_trips_points_and_boxes(flipped: bool) -> None:
    t = pp.ViewTransform(input_shape=(3000, 2000), flipped=flipped, origin=(10.0, -250.0), scale=448 / 3500, size=448)
    pts = np.array([[0.0, 0.0], [1234.5, 2100.25], [2000.0, 3000.0]])
    assert np.allclose(t.to_input(t.to_output(pts)), pts)
    box = np.array([100.0, 200.0, 700.0, 900.0])
    out = t.box_to_output(box)
    assert out[0] < out[2] and out[1] < out[3]
    assert np.allclose(t.box_to_input(out), box)
    # the chest wall of a flipped image (input x = width) lands at output x = -origin * scale
    x_chest = t.to_output([2000.0 if flipped else 0.0, 0.0])[0]
    assert x_chest == pytest.approx(-10.0 * 448 / 3500)


@pytest.mark.parametrize("flipped", [False, True])
def test_probability_map_warps_back_to_the_input_pixels_it_came_from(flipped: bool) -> None:
    t = pp.ViewTransform(input_shape=(600, 400), flipped=flipped, origin=(0.0, 50.0), scale=448 / 500, size=448)
    source = np.zeros((600, 400), np.float32)
    source[200:300, 100:180] = 1.0  # a "mass"
    out = t.warp_to_output(source, order=0)
    box_out = t.box_to_output([100, 200, 180, 300])
    ys, xs = np.nonzero(out > 0.5)
    assert xs.min() == pytest.approx(box_out[0], abs=1.0) and xs.max() + 1 == pytest.approx(box_out[2], abs=1.0)
    back = t.warp_to_input(out, order=1) > 0.5
    assert dice(back, source > 0.5) > 0.97


def test_block_averaged_input_warps_like_the_full_resolution_one() -> None:
    rng = np.random.default_rng(1)
    img = ndimage.gaussian_filter(rng.random((640, 480)).astype(np.float32), 8)
    t = pp.ViewTransform(input_shape=img.shape, flipped=True, origin=(0.0, 0.0), scale=448 / 640, size=448)
    full = t.warp_to_output(img)
    reduced = t.warp_to_output(pp.block_mean(img, 2), factor=2)
    assert np.abs(full - reduced)[5:-5, 5:300].max() < 0.01


# --- anatomy on phantoms -------------------------------------------------------------------------
@pytest.mark.parametrize("view", ["CC", "MLO"])
@pytest.mark.parametrize("right", [False, True])
def test_phantom_mask_nipple_and_pectoral_match_ground_truth(view: str, right: bool) -> None:
    ph = make_phantom(view, right=right)
    res = run(ph.pixels, laterality="R" if right else "L", view=view)
    assert res.flipped is right and res.warnings == []
    mask_in = res.transform.warp_to_input(res.breast_mask.astype(np.float32)) > 0.5
    assert dice(mask_in, ph.mask) > 0.97
    y0, y1, x0, x1 = ph.label_box
    x0, x1 = (W - x1, W - x0) if right else (x0, x1)
    assert not mask_in[y0:y1, x0:x1].any(), "burned-in label leaked into the breast mask"
    assert np.hypot(*np.subtract(res.nipple_input, ph.nipple)) < 10
    if view == "MLO":
        assert res.pectoral_input is not None
        for got, want in zip(res.pectoral_input, ph.pectoral):
            assert np.hypot(*np.subtract(got, want)) < 3  # the sharp phantom edge is found to a pixel
        err = pp.landmark_errors(res, breast_mask=ph.mask, nipple=ph.nipple, pectoral=ph.pectoral, spacing_mm=(1, 1))
        assert err["pectoral_mm"] < 1.0
    else:
        assert res.pectoral is None


def test_output_faces_one_way_with_nipple_on_the_right_half() -> None:
    for right in (False, True):
        res = run(make_phantom("CC", right=right).pixels, laterality="R" if right else "L", view="CC")
        assert res.array.shape == (448, 448) and res.array.dtype == np.float32
        assert res.breast_mask[:, :20].mean() > res.breast_mask[:, -20:].mean()
        assert res.nipple[0] >= np.nonzero(res.breast_mask.any(axis=0))[0].max() - 2
        assert res.transform.to_output(res.nipple_input)[0] == pytest.approx(res.nipple[0])


def test_wrong_laterality_flag_warns_and_orients_by_image_content() -> None:
    ph = make_phantom("CC", right=True)
    with pytest.warns(pp.PreprocessWarning, match="laterality L disagrees with the image"):
        res = pp.preprocess_view(ph.pixels, laterality="L", view="CC")
    assert res.flipped is True and res.laterality == "L"
    assert res.breast_mask[:, :20].mean() > res.breast_mask[:, -20:].mean()


def test_missing_laterality_is_inferred_from_the_chest_wall_side() -> None:
    with pytest.warns(pp.PreprocessWarning, match="inferred R"):
        res = pp.preprocess_view(make_phantom("CC", right=True).pixels, view="CC")
    assert res.laterality == "R" and res.flipped is True


def test_harmonisation_removes_a_vendor_gain_difference() -> None:
    a = run(make_phantom("CC", gain=1.0, border=False).pixels, laterality="L", view="CC")
    b = run(make_phantom("CC", gain=0.6, border=False).pixels, laterality="L", view="CC")
    both = a.breast_mask & b.breast_mask
    assert np.abs(a.array[both] - b.array[both]).mean() < 0.01
    assert a.array[~a.breast_mask].max() == 0.0
    assert np.percentile(a.array[a.breast_mask], 50) == pytest.approx(np.percentile(b.array[b.breast_mask], 50), abs=0.01)


def test_harmonise_windows_breast_percentiles_to_unit_range() -> None:
    arr = np.linspace(0.2, 0.6, 100 * 100, dtype=np.float32).reshape(100, 100)
    mask = np.ones_like(arr, bool)
    mask[:10] = False
    out = pp.harmonise(arr, mask)
    assert out[:10].max() == 0.0
    lo, hi = np.percentile(arr[mask], pp.HARMONISE_PERCENTILES)
    assert out[mask].min() == 0.0 and out[mask].max() == 1.0
    assert out[50, 50] == pytest.approx((arr[50, 50] - lo) / (hi - lo), abs=1e-5)


# --- bad input -----------------------------------------------------------------------------------
def test_blank_image_is_refused_with_a_clear_message() -> None:
    with pytest.raises(MammoError, match="no breast found: the image is blank"):
        pp.preprocess_view(np.zeros((300, 200), np.float32), laterality="L", view="CC")


def test_tiny_image_is_refused_naming_its_size() -> None:
    with pytest.raises(MammoError, match="40 x 30 pixels is too small"):
        pp.preprocess_view(np.ones((40, 30), np.float32), laterality="L", view="CC")


def test_nan_pixels_and_out_of_range_floats_are_refused() -> None:
    img = make_phantom().pixels
    img[5, 5] = np.nan
    with pytest.raises(MammoError, match="1 NaN or infinite pixels"):
        pp.preprocess_view(img, laterality="L", view="CC")
    with pytest.raises(MammoError, match=r"must lie in \[0, 1\]"):
        pp.preprocess_view(make_phantom().pixels * 4000, laterality="L", view="CC")


def test_unknown_labels_and_missing_view_are_refused() -> None:
    img = make_phantom().pixels
    with pytest.raises(MammoError, match="view 'ML' is not one of CC, MLO"):
        pp.preprocess_view(img, laterality="L", view="ML")
    with pytest.raises(MammoError, match="laterality 'X'"):
        pp.preprocess_view(img, laterality="X", view="CC")
    with pytest.raises(MammoError, match="view unknown"):
        pp.preprocess_view(img, laterality="L")


def test_two_blobs_warn_and_the_one_at_the_chest_wall_is_kept() -> None:
    ph = make_phantom("CC", border=False)
    img = ph.pixels.copy()
    yy, xx = np.mgrid[0:H, 0:W]
    second = (xx - 300) ** 2 + (yy - 480) ** 2 < 90 ** 2  # a detached second blob, 30% of the breast
    img[second] = 0.5
    with pytest.warns(pp.PreprocessWarning, match="two breast-sized regions"):
        res = pp.preprocess_view(img, laterality="L", view="CC")
    mask_in = res.transform.warp_to_input(res.breast_mask.astype(np.float32)) > 0.5
    assert not mask_in[second].any() and dice(mask_in, ph.mask) > 0.97


def test_integer_pixels_are_scaled_by_their_dtype_range() -> None:
    ph = make_phantom("CC")
    a = run(ph.pixels, laterality="L", view="CC")
    b = run((ph.pixels * 65535).astype(np.uint16), laterality="L", view="CC")
    assert np.allclose(a.nipple, b.nipple) and np.abs(a.array - b.array).max() < 1e-3


# --- cache and CLI -------------------------------------------------------------------------------
@dataclass
class FakeImage:
    pixels: np.ndarray
    laterality: str
    view: str


@pytest.fixture
def counted_reader(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, int]:
    """Replace the data layer's reader by one that counts calls and serves a phantom; isolate the cache."""
    calls = {"n": 0}
    monkeypatch.setenv("MAMMO_CACHE", str(tmp_path / "cache"))

    def fake_read(path: str | Path, *, laterality: str | None = None, view: str | None = None,
                  **reading: object) -> FakeImage:  # force, for_processing
        calls["n"] += 1
        return FakeImage(make_phantom("MLO", right=True).pixels, laterality or "R", view or "MLO")

    monkeypatch.setattr(dicomio, "read_image", fake_read)  # the reader preprocess_cached calls on a miss
    return calls


def test_second_run_is_served_from_cache_without_reading_the_image(counted_reader: dict[str, int], tmp_path: Path) -> None:
    src = tmp_path / "img.dcm"
    src.write_bytes(b"pretend DICOM bytes")
    first = pp.preprocess_cached(src, laterality="R", view="MLO")
    second = pp.preprocess_cached(src, laterality="R", view="MLO")
    assert counted_reader["n"] == 1
    assert np.array_equal(first.array, second.array) and np.array_equal(first.breast_mask, second.breast_mask)
    assert second.nipple == first.nipple and second.pectoral == first.pectoral
    assert second.transform == first.transform and second.breast_bbox == first.breast_bbox
    pp.preprocess_cached(src, laterality="R", view="MLO", size=224)
    assert counted_reader["n"] == 2, "a different size must not reuse the 448 entry"


def test_corrupt_cache_entry_is_detected_and_rebuilt(counted_reader: dict[str, int], tmp_path: Path) -> None:
    src = tmp_path / "img.dcm"
    src.write_bytes(b"pretend DICOM bytes")
    good = pp.preprocess_cached(src, laterality="R", view="MLO")
    entry = pp.cache_path(pp.cache_key(sha256_file(src), laterality="R", view="MLO", size=448))
    raw = bytearray(entry.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # flip one byte inside the stored array
    entry.write_bytes(bytes(raw))
    assert pp.load_cached(entry) is None
    with pytest.warns(pp.PreprocessWarning, match="is corrupt; rebuilding"):
        rebuilt = pp.preprocess_cached(src, laterality="R", view="MLO")
    assert counted_reader["n"] == 2 and np.array_equal(rebuilt.array, good.array)
    entry.write_bytes(b"")  # truncated to nothing
    with pytest.warns(pp.PreprocessWarning, match="is corrupt; rebuilding"):
        pp.preprocess_cached(src, laterality="R", view="MLO")
    assert counted_reader["n"] == 3 and pp.load_cached(entry) is not None


def test_cli_json_reports_input_pixel_coordinates(counted_reader: dict[str, int], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "img.dcm"
    src.write_bytes(b"pretend DICOM bytes")
    assert mammo_main(["preprocess", str(src), "--laterality", "R", "--view", "MLO", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ph = make_phantom("MLO", right=True)
    assert out["laterality"] == "R" and out["view"] == "MLO" and out["flipped"] is True
    assert out["output_size"] == [448, 448] and out["input_shape"] == [H, W]
    assert np.hypot(*np.subtract(out["nipple"], ph.nipple)) < 10
    x0, y0, x1, y1 = out["breast_bbox"]
    ys, xs = np.nonzero(ph.mask)
    # the 4-px film border below the breast joins the mask for the regrowth radius plus the refinement band
    assert abs(x0 - xs.min()) < 8 and abs(x1 - xs.max() - 1) < 8 and abs(y1 - ys.max() - 1) <= 20
    assert len(out["pectoral"]) == 2


def test_cli_reports_a_missing_file_as_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert mammo_main(["preprocess", str(tmp_path / "absent.dcm"), "--view", "CC"]) == 2
    assert "image file not found" in capsys.readouterr().err


# --- real images (skip without them) -------------------------------------------------------------
def _real_views(shared: Path) -> list[tuple[str, np.ndarray, str, str]]:
    from PIL import Image

    out = []
    for path in sorted((shared / "real-mammograms").glob("*/*.png")):
        parts = path.stem.replace("-", "_").split("_")
        arr = np.asarray(Image.open(path)).astype(np.float32)
        out.append((path.name, arr / (4095.0 if arr.max() <= 4095 else 65535.0), parts[1], parts[2]))
    return out


def test_real_png_views_face_one_way_with_nipple_on_the_front_contour(shared: Path) -> None:
    views = _real_views(shared)
    if not views:
        pytest.skip("no PNGs under ../shared/real-mammograms")
    for name, pixels, lat, view in views:
        res = run(pixels, laterality=lat, view=view)
        assert not any("disagrees" in w for w in res.warnings), name
        assert res.flipped is (lat == "R"), name
        assert pp.orientation_checks(res) == {"chest_wall_left": True, "nipple_on_contour": True,
                                              "nipple_anterior": True}, name
        if view == "MLO":
            assert res.pectoral is not None, name


# --- accuracy measures ---------------------------------------------------------------------------
def test_segment_distance_of_known_configurations() -> None:
    assert pp.segment_distance([(0, 0), (10, 0)], [(0, 3), (10, 3)]) == pytest.approx(3.0)
    assert pp.segment_distance([(0, 0), (10, 0)], [(0, 0), (10, 0)]) == pytest.approx(0.0)
    # a point-like segment 4 units beyond the end of the other: distances to the end point
    assert pp.segment_distance([(14, 0), (14, 0)], [(0, 0), (10, 0)]) == pytest.approx(4.0)
    # tilted: the line y = x against the segment from (0, 0) to (10, 0): mean of y over the samples
    assert pp.segment_distance([(0, 0), (10, 10)], [(0, 0), (10, 0)]) == pytest.approx(5.0)


def test_dice_of_known_overlaps_and_shape_mismatch() -> None:
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[:, :4] = True
    b[:, 2:6] = True
    assert pp.dice(a, b) == pytest.approx(2 * 20 / 80)
    assert pp.dice(a, a) == 1.0
    with pytest.raises(MammoError, match="mask shapes differ"):
        pp.dice(a, b[:5])


def test_landmark_errors_in_mm_on_a_phantom_mlo() -> None:
    ph = make_phantom("MLO", right=True)
    res = run(ph.pixels, laterality="R", view="MLO")
    err = pp.landmark_errors(res, breast_mask=ph.mask, nipple=ph.nipple, pectoral=ph.pectoral, spacing_mm=(0.5, 0.5))
    assert err["dice"] > 0.97 and err["nipple_mm"] < 5.0 and err["pectoral_mm"] < 3.0
    shifted = (ph.nipple[0] - 6.0, ph.nipple[1] + 8.0)  # 10 px = 5 mm away from the truth, plus the error
    moved = pp.landmark_errors(res, breast_mask=ph.mask, nipple=shifted, pectoral=None, spacing_mm=(0.5, 0.5))
    assert moved["nipple_mm"] == pytest.approx(
        0.5 * np.hypot(res.nipple_input[0] - shifted[0], res.nipple_input[1] - shifted[1]))
    assert moved["pectoral_mm"] == float("inf")


def test_accuracy_summary_compares_each_statistic_with_its_goal() -> None:
    import pandas as pd

    errors = pd.DataFrame({
        "view": ["CC", "CC", "MLO", "MLO"],
        "nipple_mm": [1.0, 2.0, 6.0, 3.0],  # 3 of 4 within 5 mm = 75%
        "dice": [0.99, 0.98, 0.97, 0.96],
        "pectoral_mm": [np.nan, np.nan, 2.0, 3.0],
    })
    table = pp.summarise_accuracy(errors).set_index("measure")
    assert table["measured"].tolist() == pytest.approx([75.0, 0.975, 2.5])
    assert table["met"].tolist() == [False, True, True]
    assert table["views"].tolist() == [4, 4, 2]
    with pytest.raises(MammoError, match=r"per-view errors lacks column\(s\) \['dice'\]"):
        pp.summarise_accuracy(errors.drop(columns="dice"))


def test_radiopaque_nipple_marker_places_a_nipple_not_in_profile() -> None:
    ph = make_phantom("CC", border=False)
    img = ph.pixels.copy()
    yy, xx = np.mgrid[0:H, 0:W] + 0.5
    # a metal BB on the skin 60 px below the most anterior point (nipple pointing down, not in profile)
    bx, by = 250.0 * np.sqrt(1 - (60.0 / 220.0) ** 2) - 4.0, 360.0
    img[(xx - bx) ** 2 + (yy - by) ** 2 <= 5.0 ** 2] = 1.0
    with pytest.warns(pp.PreprocessWarning, match="radiopaque skin marker 1[0-9]% of the breast height away"):
        res = pp.preprocess_view(img, laterality="L", view="CC")
    assert np.hypot(res.nipple_input[0] - bx, res.nipple_input[1] - by) < 12
    plain = run(ph.pixels, laterality="L", view="CC")  # without the marker: the most anterior point
    assert plain.warnings == [] and abs(plain.nipple_input[1] - 300.0) < 10


def test_orientation_checks_flag_a_mirrored_output_and_an_interior_nipple() -> None:
    res = run(make_phantom("CC").pixels, laterality="L", view="CC")
    assert all(pp.orientation_checks(res).values())
    mirrored = pp.PreprocessedView(**{**res.__dict__, "breast_mask": res.breast_mask[:, ::-1].copy()})
    assert pp.orientation_checks(mirrored)["chest_wall_left"] is False
    inside = pp.PreprocessedView(**{**res.__dict__, "nipple": (20.0, 224.0)})
    checks = pp.orientation_checks(inside)
    assert checks["nipple_on_contour"] is False and checks["nipple_anterior"] is False


def test_ambiguous_image_without_laterality_is_assumed_left_with_warnings() -> None:
    yy, xx = np.mgrid[0:300, 0:300] + 0.5
    disk = ((xx - 150) ** 2 + (yy - 150) ** 2 <= 80 ** 2).astype(np.float32) * 0.5  # touches no edge
    with pytest.warns(pp.PreprocessWarning) as record:
        res = pp.preprocess_view(disk, view="CC")
    texts = [str(w.message) for w in record]
    assert any("no bright region reaches the left or right image edge" in t for t in texts)
    assert any("assumed L (not flipped)" in t for t in texts)
    assert res.laterality == "L" and res.flipped is False


def _front_image(front: np.ndarray, width: int = 120) -> np.ndarray:
    """A chest-wall-left image whose breast row i reaches column front[i] (-1: no breast on that row)."""
    cols = np.arange(width)[None, :]
    return np.where(cols <= np.asarray(front)[:, None], 0.5, 0.0).astype(np.float32)


def test_front_profile_ignores_labels_off_the_breast_and_rows_cut_by_the_image_edge() -> None:
    front = np.full(100, -1)
    front[20:80] = 60
    front[20:30] = 119  # the breast runs off the right edge on these rows: no skin there
    img = _front_image(front)
    img[85:90, 100:110] = 1.0  # a label off the breast
    near = np.zeros_like(img, bool)
    near[15:82, :] = True
    prof = pp.front_profile(img, 0.25, near, slice(0, 100))
    assert prof[31:79].tolist() == [60] * 48 and abs(prof[30] - 60) <= 1  # a 3 x 3 mean rounds corners by 1
    assert (prof[:30] == -1).all() and (prof[80:] == -1).all()


def test_profile_nipple_finds_a_small_protrusion_between_two_lobes_of_the_front() -> None:
    rows = np.arange(400)
    lobes = 100 + 6 * np.cos(2 * np.pi * (rows - 200) / 160)  # two lobes at rows 120 and 280, a saddle at 200
    front = np.where(np.abs(rows - 200) < 170, lobes - 0.002 * (rows - 200) ** 2, -1)
    bumped = front + np.where(front >= 0, 3 * np.exp(-((rows - 205) / 6.0) ** 2), 0)  # nipple, 3 px high
    img, near = _front_image(np.round(bumped).astype(int), 160), np.ones((400, 160), bool)
    (x, y), in_profile = pp.profile_nipple(img, 0.25, near, slice(0, 400))
    assert in_profile and abs(y - 205.5) <= 2 and x == pytest.approx(np.round(bumped[int(y)]) + 0.5)
    # without the protrusion: the apex of the anterior cap (between the lobes), not a lobe's tip
    (x, y), in_profile = pp.profile_nipple(_front_image(np.round(front).astype(int), 160), 0.25, near,
                                           slice(0, 400))
    assert not in_profile and abs(y - 200.5) <= 6
    assert pp.profile_nipple(np.zeros((100, 80), np.float32), 0.25, near[:100, :80], slice(0, 100)) is None


def _disk(shape: tuple[int, int], cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]] + 0.5
    return (xx - cx) ** 2 + (yy - cy) ** 2 <= r ** 2


def test_marker_detector_finds_a_bb_on_the_skin_and_rejects_saturated_tissue_and_labels_in_air() -> None:
    ph = make_phantom("CC", border=False)
    img, near = ph.pixels.copy(), ndimage.binary_dilation(ph.mask, iterations=8)
    img[_disk(img.shape, 150, 300, 20)] = 0.8  # a dense mass ...
    img[_disk(img.shape, 150, 300, 5)] = 1.0  # ... with a saturated core, deep inside the breast
    assert pp.find_markers(img, near, 0.1) == []
    img[_disk(img.shape, 249, 330, 5)] = 1.0  # a BB on the skin line
    img[_disk(img.shape, 380, 580, 5)] = 1.0  # a round label lying in air, near nothing
    near[560:600, 360:400] = True
    (x, y), = pp.find_markers(img, near, 0.1)
    assert abs(x - 249) < 1 and abs(y - 330) < 1


def test_a_marker_on_a_nipple_in_profile_places_it_without_a_warning() -> None:
    ph = make_phantom("CC", border=False)
    img = ph.pixels.copy()
    img[_disk(img.shape, 248.0, 300.0, 5.0)] = 1.0  # a BB taped on the apex
    with warnings.catch_warnings():
        warnings.simplefilter("error", pp.PreprocessWarning)
        res = pp.preprocess_view(img, laterality="L", view="CC")
    assert res.warnings == [] and np.hypot(res.nipple_input[0] - 250.0, res.nipple_input[1] - 300.0) < 8


@pytest.mark.parametrize("factor", [1, 2, 5, 8, 11])
def test_block_mean_of_lazily_mapped_pixels_equals_the_array_one_bit_for_bit(factor: int, monkeypatch) -> None:
    """Band by band (bands smaller than the image, so that several are joined) gives the full array's result."""
    from mammo_lib.preprocess import geometry

    raw = np.random.default_rng(factor).integers(0, 2**14, size=(301, 157)).astype(np.uint16)
    lazy = dicomio.DisplayPixels(raw, np.linspace(0, 1, 2**16, dtype=np.float32), (1 / 16383.0, -0.01))
    monkeypatch.setattr(geometry, "BAND_PIXELS", 157 * 23)
    out = geometry.block_mean(lazy, factor)
    assert out.dtype == np.float32 and np.array_equal(out, geometry.block_mean(lazy.array(), factor))


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.uint8])
@pytest.mark.parametrize("factor", [2, 5, 8])
def test_block_mean_of_table_mapped_pixels_equals_the_array_one_bit_for_bit(dtype: type, factor: int,
                                                                           monkeypatch) -> None:
    """Pixels mapped through a display table (a VOI LUT or sigmoid: no affine form), unsigned or signed (indexed as
    two's complement), mapped band by band into one reused buffer: the full array's result, bit for bit; and a
    mapping into a given buffer gives what a new array gets."""
    from mammo_lib.preprocess import geometry

    rng = np.random.default_rng(factor)
    info = np.iinfo(dtype)
    raw = rng.integers(info.min, int(info.max) + 1, size=(211, 157)).astype(dtype)
    table = np.sort(rng.random(1 << (8 * raw.itemsize))).astype(np.float32)  # one entry per storable value
    lazy = dicomio.DisplayPixels(raw, table, None)
    monkeypatch.setattr(geometry, "BAND_PIXELS", 157 * 23)
    out = geometry.block_mean(lazy, factor)
    assert out.dtype == np.float32 and np.array_equal(out, geometry.block_mean(lazy.array(), factor))
    buffer = np.full(raw[3:40].shape, np.nan, dtype=np.float32)
    assert np.array_equal(lazy.map(raw[3:40], out=buffer), lazy.map(raw[3:40])) and np.array_equal(buffer, lazy.map(raw[3:40]))


def test_a_display_table_too_short_for_the_stored_values_is_still_refused() -> None:
    """Only a table with an entry for every value of the index's type skips numpy's bounds check: a shorter one
    (a bug upstream) still raises instead of clipping values silently."""
    raw = np.array([[0, 1], [2, 300]], dtype=np.uint16)
    with pytest.raises(IndexError):
        dicomio.DisplayPixels(raw, np.linspace(0, 1, 256, dtype=np.float32), None).array()


@pytest.mark.parametrize("factor", [2, 3, 7, 8, 9, 16, 17, 24, 131])
def test_block_mean_equals_numpys_reshaped_mean_bit_for_bit(factor: int) -> None:
    """The column sums added as whole strided columns (numpy's summation order) give what the plain reshape and
    sum gave before, bit for bit, for short and long blocks (and numpy's own sum past its pairwise block)."""
    from mammo_lib.preprocess import geometry

    rng = np.random.default_rng(factor)
    img = (rng.random((factor * 5 + 3, factor * 7 + 2)) * rng.choice([1e-4, 1.0, 1e4], (factor * 5 + 3, factor * 7 + 2))
           ).astype(np.float32)
    h, w = img.shape[0] // factor * factor, img.shape[1] // factor * factor
    rows = img[:h:factor].astype(np.float32, copy=True)
    for i in range(1, factor):
        rows += img[i:h:factor]
    before = rows[:, :w].reshape(h // factor, w // factor, factor).sum(axis=2) / np.float32(factor * factor)
    assert np.array_equal(geometry.block_mean(img, factor), before)
    assert geometry._column_sums_match_numpy(factor) == (factor <= geometry.PAIRWISE_BLOCK)


def test_preprocessing_lazily_mapped_pixels_equals_preprocessing_the_float_image(tmp_path: Path) -> None:
    """A view read with lazy=True (no full-resolution float copy) preprocesses exactly as the float image does."""
    from _mg_fixtures import make_mg

    phantom = make_phantom("MLO", right=True, seed=3)
    big = np.kron(phantom.pixels, np.ones((3, 3), np.float32))  # 1,800 px: block-averaged by 2 before the work copy
    path = make_mg(tmp_path / "r.dcm", np.round(big * 4095), bits_stored=12, ImageLaterality="R", ViewPosition="MLO",
                   WindowCenter=2000, WindowWidth=3000)
    eager, lazy = dicomio.read_image(path), dicomio.read_image(path, lazy=True)
    a, b = run(eager), run(lazy)
    assert np.array_equal(a.array, b.array) and np.array_equal(a.breast_mask, b.breast_mask)
    assert (a.transform, a.nipple, a.pectoral, a.breast_bbox, a.warnings) == \
        (b.transform, b.nipple, b.pectoral, b.breast_bbox, b.warnings)


@pytest.mark.parametrize("seed", range(6))
def test_pectoral_refinement_reads_the_gradient_of_the_whole_image_bit_for_bit(seed: int) -> None:
    """The refinement smooths and differentiates only the rectangle around the coarse line that it reads (plus the
    filters' reach): every value it reads equals the whole image's gradient, for lines inside the image and lines
    running off its edges (where the filters reflect at the image's own border), on a flipped (strided) view."""
    from mammo_lib.preprocess import landmarks

    rng = np.random.default_rng(seed)
    image = ndimage.gaussian_filter(rng.random((180, 140)), 3.0).astype(np.float32)[:, ::-1]
    full = ndimage.sobel(ndimage.gaussian_filter(image, 1.0), axis=1)
    band = max(2, int(round(0.03 * image.shape[1])))
    x_top, top = float(rng.uniform(-5, 150)), float(rng.uniform(0, 60))
    x_end, y_end = float(rng.uniform(0, x_top + 5)), float(rng.uniform(top + 10, 200))
    rows = range(int(top), int(min(y_end, image.shape[0])))
    r0, c0, grad = landmarks._band_gradient(image, rows, x_top, x_end, top, y_end, band)
    read = 0
    for y in rows:
        xc = x_top + (x_end - x_top) * (y + 0.5 - top) / (y_end - top)
        lo, hi = max(0, int(xc) - band), min(image.shape[1] - 1, int(xc) + band + 1)
        if hi - lo >= 3:
            assert np.array_equal(grad[y - r0, lo - c0:hi - c0], full[y, lo:hi])
            read += 1
    assert read > 0 and grad.size < full.size


@pytest.mark.parametrize("seed", range(8))
def test_fill_holes_equals_scipys_binary_fill_holes(seed: int) -> None:
    """One labelling of the background fills the same holes as scipy's repeated dilation: blobs with holes, holes
    touching the border (not holes), thin and tiny masks."""
    from mammo_lib.preprocess import geometry

    rng = np.random.default_rng(seed)
    for shape in [(120, 90), (448, 448), (3, 3), (1, 7), (64, 1)]:
        mask = rng.random(shape) < 0.4
        if min(shape) > 3:
            mask = ndimage.binary_opening(mask) | (ndimage.gaussian_filter(rng.random(shape), 4) > 0.5)
        assert np.array_equal(geometry.fill_holes(mask), ndimage.binary_fill_holes(mask))
    ring = np.zeros((40, 40), dtype=bool)
    ring[5:30, 5:30] = True
    ring[10:15, 10:15] = False  # a hole
    ring[0:22, 24:26] = False  # a notch open to the border: not a hole
    assert np.array_equal(geometry.fill_holes(ring), ndimage.binary_fill_holes(ring))
    assert geometry.fill_holes(ring)[12, 12] and not geometry.fill_holes(ring)[20, 25]
