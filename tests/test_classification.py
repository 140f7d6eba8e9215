"""Mass classification: patch geometry, targets, multi-task loss, view combination, threshold, task, weights."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from mammo_lib import vocab
from mammo_lib.errors import MammoError
from mammo_lib.models.classification import data as cdata
from mammo_lib.models.classification import inference, network, patches
from mammo_lib.models.classification import task as ctask


# --- patch geometry ---------------------------------------------------------------------------------
def test_patch_square_is_context_times_longer_box_side_around_box_centre() -> None:
    geometry = patches.PatchGeometry(context=1.5, min_side=10)
    assert patches.patch_square((10, 20, 50, 40), geometry) == (30.0, 30.0, 60.0)


def test_patch_square_never_smaller_than_min_side() -> None:
    geometry = patches.PatchGeometry(context=1.5, min_side=24)
    assert patches.patch_square((0, 0, 2, 2), geometry)[2] == 24.0


@pytest.mark.parametrize("box", [(5, 5, 5, 9), (9, 5, 4, 9), (0, 0, float("nan"), 3)])
def test_patch_square_refuses_empty_inverted_or_nan_box(box: tuple[float, ...]) -> None:
    with pytest.raises(MammoError, match="box"):
        patches.patch_square(box, patches.PatchGeometry())


def test_geometry_refuses_cache_margin_without_room_for_jitter() -> None:
    with pytest.raises(MammoError, match="cache_margin"):
        patches.PatchGeometry(cache_margin=1.1, max_scale=0.15, max_shift=0.1)


def test_crop_square_at_native_size_copies_pixels_and_pads_outside_with_zero() -> None:
    image = np.arange(1, 101, dtype=np.float32).reshape(10, 10)
    crop = patches.crop_square(image, cx=1.0, cy=2.0, side=4, out_size=4)
    expected = np.zeros((4, 4), np.float32)
    expected[:, 1:] = image[0:4, 0:3]  # left = floor(1 - 2) = -1: one padded column
    np.testing.assert_array_equal(crop, expected)


def test_crop_square_downsampling_preserves_mean_intensity() -> None:
    rng = np.random.default_rng(0)
    image = rng.random((200, 200)).astype(np.float32)
    crop = patches.crop_square(image, 100, 100, 160, 40)
    assert crop.shape == (40, 40)
    assert crop.mean() == pytest.approx(image[20:180, 20:180].mean(), abs=2e-3)


def _disk_image(size: int = 300, centre: tuple[int, int] = (150, 120), radius: int = 20) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return ((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= radius**2).astype(np.float32)


def test_centred_patch_puts_the_mass_in_the_middle_and_is_standardized() -> None:
    geometry = patches.PatchGeometry(patch_size=32, context=2.0)
    crop = patches.context_crop(_disk_image(), (130, 100, 170, 140), geometry)
    assert crop.shape == (geometry.cache_size, geometry.cache_size) == (48, 48)
    patch = patches.patch_from_context(crop, geometry)
    assert patch.shape == (32, 32)
    assert patch.mean() == pytest.approx(0.0, abs=1e-5)
    assert patch.std() == pytest.approx(1.0, abs=1e-4)
    # the disk spans half the patch side: centre bright, corners dark
    assert patch[16, 16] > 0.5 and patch[0, 0] < 0 and patch[31, 31] < 0


def test_jittered_patches_repeat_with_the_seed_and_differ_between_seeds() -> None:
    geometry = patches.PatchGeometry(patch_size=32)
    crop = patches.context_crop(_disk_image(), (125, 95, 175, 145), geometry) + np.linspace(0, 0.3, 48)[None, :]
    a = patches.patch_from_context(crop, geometry, np.random.default_rng(1))
    b = patches.patch_from_context(crop, geometry, np.random.default_rng(1))
    c = patches.patch_from_context(crop, geometry, np.random.default_rng(2))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.1


def test_input_scale_upsamples_centred_and_jittered_patches_to_the_network_input() -> None:
    geometry = patches.PatchGeometry(patch_size=32, context=2.0, input_scale=2.0)
    assert geometry.input_size == 64 and geometry.cache_size == 48  # crops stay at the patch resolution
    crop = patches.context_crop(_disk_image(), (130, 100, 170, 140), geometry)
    centred = patches.patch_from_context(crop, geometry)
    jittered = patches.patch_from_context(crop, geometry, np.random.default_rng(0))
    assert centred.shape == jittered.shape == (64, 64)
    # the same disk at twice the pixels: centre bright, corners dark, standardized
    assert centred[32, 32] > 0.5 and centred[0, 0] < 0 and centred.std() == pytest.approx(1.0, abs=1e-4)
    plain = patches.patch_from_context(crop, patches.PatchGeometry(patch_size=32, context=2.0))
    assert (centred > 0).mean() == pytest.approx((plain > 0).mean(), abs=0.03)


@pytest.mark.parametrize("scale", [0.5, float("nan"), 8.0])
def test_geometry_refuses_input_scale_outside_one_to_four(scale: float) -> None:
    with pytest.raises(MammoError, match="input_scale must be in"):
        patches.PatchGeometry(input_scale=scale)


def test_crop_key_ignores_settings_that_do_not_change_the_crop() -> None:
    base = patches.PatchGeometry()
    assert patches.PatchGeometry(input_scale=2.0, max_shift=0.05).crop_key() == base.crop_key()
    assert patches.PatchGeometry(context=2.0).crop_key() != base.crop_key()


def test_patch_from_context_refuses_crop_of_other_size() -> None:
    with pytest.raises(MammoError, match="context crop has shape"):
        patches.patch_from_context(np.zeros((10, 10), np.float32), patches.PatchGeometry(patch_size=32))


# --- targets ----------------------------------------------------------------------------------------
def _findings(**overrides: list) -> pd.DataFrame:
    table = {"mass_id": ["m1", "m2", "m3"], "pathology": ["positive", "negative", "Negative"],
             "morphology": ["irregular", "oval", None], "margin": ["spiculated", "circumscribed", ""],
             "mass_density": ["high", "equal", "low"], "birads": ["5", "3", "4A"]}
    table.update(overrides)
    return pd.DataFrame(table)


def test_encode_targets_maps_vocab_codes_and_missing_descriptors_to_ignore() -> None:
    targets = cdata.encode_targets(_findings())
    np.testing.assert_array_equal(targets["malignancy"], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(targets["morphology"], [2, 1, network.IGNORE_INDEX])
    np.testing.assert_array_equal(targets["margin"], [4, 0, network.IGNORE_INDEX])
    np.testing.assert_array_equal(targets["birads"], [vocab.BIRADS.index(c) for c in ("5", "3", "4A")])


def test_encode_targets_names_unknown_code_and_row() -> None:
    with pytest.raises(MammoError, match=r"margin must be one of .* row 1 has 'fuzzy'"):
        cdata.encode_targets(_findings(margin=["spiculated", "fuzzy", "obscured"]))


def test_encode_targets_refuses_missing_pathology() -> None:
    with pytest.raises(MammoError, match=r"row 2 \(mass_id m3\) has a missing value"):
        cdata.encode_targets(_findings(pathology=["positive", "negative", None]))


# --- network and loss ---------------------------------------------------------------------------------
def test_classifier_has_one_output_per_head_and_fits_20_mb_in_fp16() -> None:
    torch.manual_seed(0)
    model = network.MassClassifier().eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 32, 32))
    assert out["malignancy"].shape == (2,)
    for head, classes in network.AUX_HEADS.items():
        assert out[head].shape == (2, len(classes))
    n_params = sum(p.numel() for p in model.parameters())
    assert 6.5e6 < n_params < 7.5e6 and 2 * n_params < 20e6


def _targets(malignancy: list[float], **aux: list[int]) -> dict[str, torch.Tensor]:
    n = len(malignancy)
    out = {"malignancy": torch.tensor(malignancy)}
    for head in network.AUX_HEADS:
        out[head] = torch.tensor(aux.get(head, [0] * n))
    return out


def _zero_outputs(n: int) -> dict[str, torch.Tensor]:
    return {"malignancy": torch.zeros(n), **{h: torch.zeros(n, len(c)) for h, c in network.AUX_HEADS.items()}}


def test_multitask_loss_at_zero_logits_equals_weighted_log2_plus_mean_log_classes() -> None:
    total, parts = network.multitask_loss(_zero_outputs(4), _targets([1, 0, 0, 0]), pos_weight=3.0, aux_weight=0.5)
    primary = (3 * math.log(2) + 3 * math.log(2)) / 4
    aux = np.mean([math.log(len(c)) for c in network.AUX_HEADS.values()])
    assert parts["malignancy"] == pytest.approx(primary, rel=1e-6)
    assert float(total) == pytest.approx(primary + 0.5 * aux, rel=1e-6)


def test_multitask_loss_skips_a_head_whose_labels_are_all_missing() -> None:
    targets = _targets([1, 0], birads=[network.IGNORE_INDEX, network.IGNORE_INDEX])
    total, parts = network.multitask_loss(_zero_outputs(2), targets, pos_weight=1.0, aux_weight=1.0)
    assert "birads" not in parts
    others = [math.log(len(c)) for h, c in network.AUX_HEADS.items() if h != "birads"]
    assert float(total) == pytest.approx(math.log(2) + np.mean(others), rel=1e-6)


# --- score -------------------------------------------------------------------------------------------
def test_prior_shift_is_log_pos_weight_and_refuses_non_positive() -> None:
    assert inference.prior_shift(3.0) == pytest.approx(math.log(3.0))
    with pytest.raises(MammoError, match="pos_weight"):
        inference.prior_shift(0.0)


def test_combine_views_averages_logits_then_shifts_and_scales_to_100() -> None:
    views = pd.DataFrame({"mass_id": ["b", "a", "a"], "logit": [-1.0, 1.0, 3.0]})
    table = inference.combine_views(views, shift=math.log(2.0))
    assert table["mass_id"].tolist() == ["a", "b"]
    assert table["n_views"].tolist() == [2, 1]
    expected = [100 / (1 + math.exp(-(2 - math.log(2)))), 100 / (1 + math.exp(-(-1 - math.log(2))))]
    np.testing.assert_allclose(table["dl_score"], expected, rtol=1e-9)


def test_combine_views_refuses_non_finite_logit() -> None:
    with pytest.raises(MammoError, match=r"row 1 \(mass_id m2\)"):
        inference.combine_views(pd.DataFrame({"mass_id": ["m1", "m2"], "logit": [0.5, float("nan")]}))


def test_youden_threshold_picks_the_cut_that_separates_the_classes() -> None:
    assert inference.youden_threshold(np.array([0, 0, 1, 1]), np.array([10.0, 20.0, 80.0, 90.0])) == 80.0
    # overlapping scores: J ties at 40 (sens 2/3, spec 1) and 30 (sens 1, spec 2/3); the higher cut wins
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([10.0, 20.0, 35.0, 30.0, 40.0, 50.0])
    assert inference.youden_threshold(y, s) == 40.0


def test_youden_threshold_refuses_one_class_and_length_mismatch() -> None:
    with pytest.raises(MammoError, match="both classes"):
        inference.youden_threshold(np.array([1, 1]), np.array([3.0, 4.0]))
    with pytest.raises(MammoError, match="differ in length"):
        inference.youden_threshold(np.array([0, 1]), np.array([3.0]))


# --- cohort, task, training, weights --------------------------------------------------------------------
def _write_cohort(root, n_masses: int = 8, size: int = 160):
    """A tiny PNG cohort: one patient per mass, CC + MLO of the right breast, bright disk (benign) or
    star-shaped mass (malignant) at a known box; every other mass positive."""
    from PIL import Image

    from mammo_lib.checksums import sha256_file

    rng = np.random.default_rng(7)
    images, findings = [], []
    yy, xx = np.mgrid[:size, :size]
    for m in range(n_masses):
        positive = m % 2 == 0
        for view in ("CC", "MLO"):
            cx, cy, r = int(rng.integers(50, 110)), int(rng.integers(50, 110)), 14
            angle = np.arctan2(yy - cy, xx - cx)
            radius = r * (1 + (0.5 * np.cos(7 * angle) if positive else 0))
            pixels = 0.3 + 0.05 * rng.random((size, size)) + 0.5 * (np.hypot(xx - cx, yy - cy) <= radius)
            image_id = f"p{m}-R{view}"
            path = root / f"{image_id}.png"
            Image.fromarray((pixels * 65535).clip(0, 65535).astype(np.uint16)).save(path)
            images.append({"image_id": image_id, "patient_id": f"p{m}", "study_id": f"s{m}", "age": 50,
                           "breast_density": "c", "laterality": "R", "view": view, "image_path": path.name,
                           "vendor": "other", "sha256": sha256_file(path), "split": "train"})
            findings.append({"mass_id": f"m{m}", "image_id": image_id, "x0": cx - r, "y0": cy - r,
                             "x1": cx + r + 1, "y1": cy + r + 1, "mask_path": "",
                             "morphology": "irregular" if positive else "oval",
                             "margin": "spiculated" if positive else "circumscribed", "mass_density": "equal",
                             "size_mm": 10.0, "birads": "5" if positive else "3",
                             "pathology": "positive" if positive else "negative",
                             "histology": "invasive ductal carcinoma" if positive else "fibroadenoma",
                             "reference_standard": "histopathology"})
    pd.DataFrame(images).to_csv(root / "data_manifest.csv", index=False)
    pd.DataFrame(findings).to_csv(root / "data_findings.csv", index=False)
    return root


@pytest.fixture()
def cohort(tmp_path, monkeypatch):
    monkeypatch.setenv("MAMMO_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "cohort"
    folder.mkdir()
    return _write_cohort(folder)


def test_load_cohort_joins_each_view_box_with_its_image(cohort) -> None:
    records = cdata.load_cohort(cohort)
    assert len(records) == 16 and records["mass_id"].nunique() == 8
    first = records.iloc[0]
    assert (first["laterality"], first["view"], first["patient_id"]) == ("R", "CC", "p0")
    assert first["image_file"].endswith("p0-RCC.png")


def test_view_records_reports_unknown_image_and_inverted_box_together() -> None:
    manifest = pd.DataFrame({"image_id": ["a"], "patient_id": ["p"], "laterality": ["L"], "view": ["CC"],
                             "image_path": ["a.png"]})
    findings = pd.DataFrame({"mass_id": ["m1", "m2"], "image_id": ["a", "zz"], "x0": [5, 1], "y0": [1, 1],
                             "x1": [4, 3], "y1": [3, 3], "pathology": ["negative", "positive"]})
    with pytest.raises(MammoError, match=r"row 1: image_id 'zz' is not in the manifest; findings row 0: box"):
        cdata.view_records(manifest, findings, root=__import__("pathlib").Path("."))


def test_context_crops_are_cached_and_reused_for_the_same_boxes(cohort, tmp_path) -> None:
    records = cdata.load_cohort(cohort)
    geometry = patches.PatchGeometry(patch_size=32)
    calls: list[str] = []

    def reader(path, laterality, view):
        calls.append(path.name)
        return cdata.read_pixels(path, laterality, view)

    first = cdata.cached_context_crops(records, geometry, reader, folder=tmp_path / "c")
    second = cdata.cached_context_crops(records, geometry, reader, folder=tmp_path / "c")
    assert len(calls) == 16  # each image read once, and not again on the second call
    np.testing.assert_array_equal(first, second)  # a cold and a warm cache give the same crops, bit for bit
    # the disk is in the centre of every crop: centre brighter than the corners
    assert (first[:, 24, 24] > first[:, 0, 0]).all()


def test_crop_cache_follows_the_cohort_when_moved_and_serves_other_input_scales(cohort, tmp_path) -> None:
    import shutil

    calls: list[str] = []

    def reader(path, laterality, view):
        calls.append(path.name)
        return cdata.read_pixels(path, laterality, view)

    records = cdata.load_cohort(cohort)
    first = cdata.cached_context_crops(records, patches.PatchGeometry(patch_size=32), reader, folder=tmp_path / "c")
    moved = shutil.copytree(cohort, tmp_path / "elsewhere")
    again = cdata.load_cohort(moved)
    assert again["image_file"].iloc[0] != records["image_file"].iloc[0]
    second = cdata.cached_context_crops(again, patches.PatchGeometry(patch_size=32, input_scale=2.0), reader,
                                           folder=tmp_path / "c")
    assert len(calls) == 16  # same image ids and sha256: no image read again
    np.testing.assert_array_equal(first, second)  # a cold and a warm cache give the same crops, bit for bit


def test_rewritten_image_with_unchanged_manifest_is_cut_again_not_served_stale(cohort, tmp_path) -> None:
    import os

    from PIL import Image

    records = cdata.load_cohort(cohort)
    geometry = patches.PatchGeometry(patch_size=32)
    before = cdata.cached_context_crops(records, geometry, folder=tmp_path / "c")
    image = cohort / "p0-RCC.png"
    Image.fromarray(np.zeros((160, 160), np.uint16)).save(image)  # regenerated; manifest sha256 not yet updated
    os.utime(image, ns=(image.stat().st_atime_ns, image.stat().st_mtime_ns + 10**9))
    after = cdata.cached_context_crops(records, geometry, folder=tmp_path / "c")
    assert before[0].max() > 0 and after[0].max() == 0  # the blank image was read again
    np.testing.assert_array_equal(before[1:], after[1:])


def test_training_records_load_without_images_and_a_cache_miss_names_the_missing_image(cohort, tmp_path) -> None:
    (cohort / "p0-RCC.png").unlink()
    with pytest.raises(MammoError, match="p0-RCC.png"):
        cdata.load_cohort(cohort)
    records = cdata.load_cohort(cohort, check_files=False)
    assert len(records) == 16
    with pytest.raises(MammoError, match="p0-RCC.png"):
        cdata.cached_context_crops(records, patches.PatchGeometry(patch_size=32), folder=tmp_path / "c")


def test_split_by_patient_never_puts_one_patient_on_both_sides() -> None:
    records = pd.DataFrame({"patient_id": np.repeat([f"p{i}" for i in range(20)], 2), "split": "",
                            "pathology": np.repeat(["positive"] * 8 + ["negative"] * 12, 2)})
    val = cdata.split_by_patient(records, 0.25, seed=3)
    assert val.sum() == 10  # 5 of 20 patients, 2 of them positive (the 40% positive share kept)
    assert (records["pathology"][val] == "positive").sum() == 4
    assert set(records["patient_id"][val]).isdisjoint(records["patient_id"][~val])
    np.testing.assert_array_equal(val, cdata.split_by_patient(records, 0.25, seed=3))


def test_task_weights_positives_by_the_training_class_ratio(cohort) -> None:
    task, defaults = ctask.make_task(cohort, seed=1, smoke=False, options={"patch_size": "32",
                                                                               "val_fraction": "0.25",
                                                                               "input_scale": "1.5"})
    train, val = task.datasets()
    assert len(train) + len(val) == 16 and len(val) == 4
    y = task.targets["malignancy"][~task.is_val]
    assert task.pos_weight == pytest.approx((y == 0).sum() / (y == 1).sum())
    item = train[0]
    assert item["patch"].shape == (1, 48, 48) and item["margin"].dtype == torch.long
    assert defaults["epochs"] >= 10 and task.aux_weight == 1.0


def test_make_task_refuses_unknown_option(cohort) -> None:
    with pytest.raises(MammoError, match=r"unknown classification option\(s\) \['patchsize'\]"):
        ctask.make_task(cohort, seed=1, smoke=True, options={"patchsize": "32"})


def test_mammo_train_classification_smoke_exports_weights_that_load_and_score(cohort, tmp_path) -> None:
    from mammo_lib.models.weights import read_card

    target = tmp_path / "w" / "classification.safetensors"
    code = __import__("mammo_lib.cli", fromlist=["main"]).main(
        ["train", "classification", "--smoke", "--data", str(cohort), "--out", str(tmp_path / "run"),
         "--device", "cpu", "--threads", "1", "--export", str(target), "--option", "patch_size=32"])
    assert code == 0
    card = read_card(target)
    assert card["architecture"] == network.ARCHITECTURE and card["dtype"] == "float16"
    assert 0 <= card["threshold"] <= 100 and "validation masses" in card["threshold_provenance"]
    assert card["prior_shift"] == pytest.approx(math.log(card["pos_weight"]))
    model, loaded = inference.load_classifier(target)
    assert loaded["geometry"]["patch_size"] == 32
    records = cdata.load_cohort(cohort)
    views, masses = inference.score_records(records, model, loaded)
    assert len(views) == 16 and len(masses) == 8
    assert masses["dl_score"].between(0, 100).all()
    assert (masses["dl_positive"] == (masses["dl_score"] >= card["threshold"])).all()


def test_dl_scores_file_is_read_back_by_the_tables_module(tmp_path) -> None:
    from mammo_lib.paper import tables

    views = pd.DataFrame({"mass_id": ["b", "a", "a", "b"], "logit": [2.0, -1.0, -3.0, 0.0]})
    masses = inference.combine_views(views)
    masses["dl_positive"] = masses["dl_score"] >= 50.0
    masses["threshold"] = 50.0
    inference.dl_scores_table(masses).to_csv(tmp_path / vocab.DL_SCORES_FILE, index=False)
    back = tables.load_dl_outputs(tmp_path)
    assert back["mass_id"].tolist() == ["a", "b"] and back["dl_positive"].tolist() == [False, True]
    assert back["dl_score"].tolist() == pytest.approx([round(100 / (1 + math.exp(2.0)), 2), round(100 / (1 + math.exp(-1.0)), 2)])
    with pytest.raises(MammoError, match=r"scored masses lacks column\(s\) \['threshold'\]"):
        inference.dl_scores_table(masses.drop(columns="threshold"))


def test_load_classifier_refuses_corrupt_and_foreign_weights(tmp_path) -> None:
    from safetensors.torch import save_file

    corrupt = tmp_path / "classification.safetensors"
    corrupt.write_bytes(b"not a safetensors file")
    with pytest.raises(MammoError, match="not a readable safetensors file"):
        inference.load_classifier(corrupt)
    foreign = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(foreign), metadata={"architecture": "detector-v1"})
    with pytest.raises(MammoError, match="holds architecture 'detector-v1'"):
        inference.load_classifier(foreign)


# --- evaluation helpers -------------------------------------------------------------------------------
def test_dl_measures_of_table4_give_auc_with_delong_ci_and_calls_at_the_threshold() -> None:
    from sklearn.metrics import roc_auc_score

    from mammo_lib.paper import tables

    y = np.array([0, 0, 0, 0, 1, 1, 1, 0, 1, 0])
    score = np.array([5, 10, 20, 30, 40, 50, 60, 70, 25, 15], dtype=float)
    masses = pd.DataFrame({"pathology": np.where(y == 1, "positive", "negative"), "dl_score": score,
                           "dl_positive": score >= 40})
    table = tables.rater_measures(tables.table4(masses), "dl").set_index("measure")
    assert table.loc["AUC", "value"] == pytest.approx(roc_auc_score(y, score))
    assert table.loc["AUC", "lower"] < table.loc["AUC", "value"] < table.loc["AUC", "upper"]
    # >= 40: 40, 50, 60 positive (TP 3), 70 negative (FP 1); 25 positive missed (FN 1)
    assert table.loc["sensitivity", "value"] == pytest.approx(3 / 4)
    assert table.loc["specificity", "value"] == pytest.approx(5 / 6)
    assert table.loc["accuracy", "value"] == pytest.approx(8 / 10)
    assert table["count"].tolist() == ["", "8", "3", "5"] and table["n"].tolist() == [10, 10, 4, 6]


def test_calibration_brier_score_of_known_probabilities() -> None:
    y = np.array([0, 1, 1, 0])
    p = np.array([0.1, 0.9, 0.6, 0.4])
    points, brier = inference.calibration(y, p, n_bins=2)
    assert brier == pytest.approx((0.01 + 0.01 + 0.16 + 0.16) / 4)
    np.testing.assert_allclose(points["observed_fraction"], [0.0, 1.0])


def test_extreme_examples_pick_top_negatives_and_bottom_positives_with_their_decisive_view() -> None:
    masses = pd.DataFrame({"mass_id": ["a", "b", "c", "d"], "dl_score": [90.0, 10.0, 5.0, 60.0],
                           "label": [0, 0, 1, 1]})
    views = pd.DataFrame({"mass_id": ["a", "a", "b", "c", "c", "d"], "logit": [1.0, 3.0, -2.0, -4.0, -1.0, 0.5]})
    table = inference.extreme_examples(views, masses, n=1)
    assert table[["kind", "mass_id", "view_row"]].values.tolist() == [
        ["highest-scoring negative", "a", 1], ["lowest-scoring positive", "c", 3]]


def test_load_classifier_refuses_flipped_bytes_and_weights_missing_a_head(tmp_path) -> None:
    from safetensors.torch import save_file

    from mammo_lib.models.weights import export_weights

    torch.manual_seed(0)
    model = network.MassClassifier()
    path = tmp_path / "classification.safetensors"
    export_weights(model, path, architecture=network.ARCHITECTURE, card={"threshold": 50.0})
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(MammoError, match="is corrupt: sha256"):
        inference.load_classifier(path)
    partial = {k: v.half() for k, v in model.state_dict().items() if not k.startswith("heads.birads")}
    other = tmp_path / "partial.safetensors"
    save_file(partial, str(other), metadata={"architecture": network.ARCHITECTURE})
    with pytest.raises(MammoError, match=r"does not fit architecture .* 2 missing \(e.g. heads.birads"):
        inference.load_classifier(other)
