"""Rendering patients: same seed same bytes, valid DICOM MG, masses in both views at the same nipple distance."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mammo_lib import vocab
from mammo_lib.checksums import sha256_file
from mammo_lib.errors import MammoError
from mammo_lib.synth import composition, config, store, generate

#: Patients rendered by these tests: one bilateral with masses, one unilateral exam.
PATIENTS = ("P0001",)


def _render(cfg: config.SynthConfig, root: Path, pid: str) -> generate.PatientResult:
    """One patient through :func:`generate.generate`, the path that is byte-identical across CPUs."""
    manifest, findings, truth = generate.generate(cfg, root, only={pid})
    records = [frame.astype(object).where(frame.notna(), None).to_dict("records") for frame in (manifest, findings, truth)]
    return generate.PatientResult(*records)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, generate.PatientResult, str]:
    cfg = config.twin_config()
    patients, _ = composition.compose(cfg)
    unilateral = patients.loc[patients["sides"].str.len() == 1, "patient_id"].iloc[0]
    root = tmp_path_factory.mktemp("twin")
    return root, _render(cfg, root, "P0001"), unilateral


def test_same_seed_gives_identical_bytes_and_other_seed_differs(rendered, tmp_path: Path) -> None:
    root, first, _ = rendered
    again = _render(config.twin_config(), tmp_path / "again", "P0001")
    assert [r["sha256"] for r in again.manifest] == [r["sha256"] for r in first.manifest]
    other = _render(config.twin_config().with_(seed=99), tmp_path / "other", "P0001")
    assert not {r["sha256"] for r in other.manifest} & {r["sha256"] for r in first.manifest}


def test_rendered_checksums_equal_the_committed_manifest(rendered) -> None:
    committed = store.cohort_files("twin").manifest
    if not committed.is_file():
        pytest.skip("no committed data_manifest.csv")
    expected = pd.read_csv(committed).set_index("image_id")["sha256"]
    _, first, _ = rendered
    assert {r["image_id"]: r["sha256"] for r in first.manifest} == {i: expected[i] for i in expected.index
                                                                   if i.startswith("P0001_")}


def test_rendering_turns_off_numpy_avx512_kernels_in_its_workers() -> None:
    """The committed checksums are those of numpy's AVX2 kernels; an AVX-512 CPU renders in processes without them."""
    import os
    import subprocess
    import sys

    active = generate.numpy_dispatch_above_avx2()
    if not active:
        pytest.skip("this CPU (or NPY_DISABLE_CPU_FEATURES) has no numpy dispatch above AVX2")
    code = "from mammo_lib.synth import generate; print(generate.numpy_dispatch_above_avx2())"
    env = {**os.environ, "NPY_DISABLE_CPU_FEATURES": " ".join(active)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"



def test_at_avx2_level_computes_in_a_worker_with_the_avx512_kernels_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.delenv("NPY_DISABLE_CPU_FEATURES", raising=False)
    assert generate.at_avx2_level(os.getpid) == os.getpid() or generate.numpy_dispatch_above_avx2()
    monkeypatch.setattr(generate, "numpy_dispatch_above_avx2", lambda: ["X86_V4"])
    assert generate.at_avx2_level(os.getenv, "NPY_DISABLE_CPU_FEATURES") == "X86_V4"  # the worker's
    assert generate.at_avx2_level(os.getpid) != os.getpid()
    assert "NPY_DISABLE_CPU_FEATURES" not in os.environ  # restored here

def test_dicom_is_a_valid_mg_for_presentation_with_the_study_tags(rendered) -> None:
    import pydicom

    root, first, _ = rendered
    for row in first.manifest:
        ds = pydicom.dcmread(root / row["image_path"])
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.2" and ds.Modality == "MG"
        assert ds.file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
        assert (ds.ImageLaterality, ds.ViewPosition) == (row["laterality"], row["view"])
        assert ds.PatientID == row["patient_id"] and ds.PatientAge == f"{row['age']:03d}Y"
        assert ds.BreastImplantPresent == "NO" and ds.PresentationIntentType == "FOR PRESENTATION"
        profile = config.VENDOR_BY_NAME[row["vendor"]]
        assert ds.Manufacturer == profile.manufacturer and ds.BitsStored == profile.bits_stored
        assert ds.PhotometricInterpretation == profile.photometric
        pitch = config.view_pitch_mm(config.twin_config(), row["vendor"])
        assert [float(v) for v in ds.ImagerPixelSpacing] == [pitch] * 2
        assert ("VOILUTSequence" in ds) == (profile.voi == "lut") and ("WindowCenter" in ds) != (profile.voi == "lut")
        pixels = ds.pixel_array
        assert pixels.max() < 2**profile.bits_stored and pixels.shape == (ds.Rows, ds.Columns)


def test_each_mass_is_boxed_in_both_views_at_the_same_nipple_distance(rendered) -> None:
    _, first, _ = rendered
    truth = pd.DataFrame(first.truth).set_index("image_id")
    findings = pd.DataFrame(first.findings)
    assert len(findings) > 0
    for mass_id, rows in findings.groupby("mass_id"):
        assert sorted(rows["image_id"].str.split("_").str[2]) == ["CC", "MLO"]
        dist = []
        for _, r in rows.iterrows():
            assert 0 <= r["x0"] < r["x1"] <= truth.loc[r["image_id"], "cols"]
            assert 0 <= r["y0"] < r["y1"] <= truth.loc[r["image_id"], "rows"]
            cx, cy = (r["x0"] + r["x1"] - 1) / 2, (r["y0"] + r["y1"] - 1) / 2
            t = truth.loc[r["image_id"]]
            dist.append(math.hypot(cx - t["nipple_x"], cy - t["nipple_y"]) * t["pixel_spacing_mm"])
        # the same breast point projects to the same distance from the nipple (box centre vs true centre)
        assert abs(dist[0] - dist[1]) < 0.35 * rows["size_mm"].iloc[0] + 2.0, (mass_id, dist)


def test_contralateral_breast_is_alike_without_the_mass(rendered) -> None:
    root, first, _ = rendered
    findings = pd.DataFrame(first.findings)
    truth = pd.DataFrame(first.truth).set_index("image_id")
    sides_with_mass = set(findings["image_id"].str.split("_").str[1])
    for view in vocab.VIEW:
        right, left = truth.loc[f"P0001_R_{view}"], truth.loc[f"P0001_L_{view}"]
        assert right["beta"] == left["beta"] or (pd.isna(right["beta"]) and pd.isna(left["beta"]))
        area_r = store._read_mask(root / right["breast_mask_path"]).sum()
        area_l = store._read_mask(root / left["breast_mask_path"]).sum()
        assert abs(area_r - area_l) / area_l < 0.15
    assert sides_with_mass <= {"R", "L"}


def test_contralateral_dense_area_is_alike(rendered) -> None:
    _, first, _ = rendered
    truth = pd.DataFrame(first.truth).set_index("image_id")
    for view in vocab.VIEW:
        right, left = truth.loc[f"P0001_R_{view}"], truth.loc[f"P0001_L_{view}"]
        assert abs(right["dense_area_fraction"] - left["dense_area_fraction"]) < 0.2


def test_the_two_breasts_dense_targets_differ_little_in_the_twin_and_the_right_keeps_its_stream() -> None:
    from mammo_lib.synth import phantom_v2

    twin, train = config.twin_config(), config.train_config(100)
    diffs, apart = [], []
    for index in range(300):
        targets = generate.breast_dense_targets(twin, index, "c")
        drawn = phantom_v2.draw_target_dense("c", np.random.default_rng([twin.seed, 3, index, 0]))
        assert targets["R"] == drawn and 0.01 <= targets["L"] <= 0.95
        diffs.append(targets["L"] - targets["R"])
        # the training cohorts keep one target per breast, each on its own stream (as the shipped weights' were)
        own = generate.breast_dense_targets(train, index, "c")
        assert own == {side: phantom_v2.draw_target_dense("c", np.random.default_rng([train.seed, 3, index, k]))
                       for k, side in enumerate("RL")}
        apart.append(own["L"] - own["R"])
    assert abs(np.std(diffs) - twin.contralateral_dense_sd) < 0.01 and abs(np.mean(diffs)) < 0.01
    assert np.std(apart) > 3 * np.std(diffs)


def test_contralateral_dense_sd_is_checked() -> None:
    from dataclasses import replace

    with pytest.raises(MammoError, match="contralateral_dense_sd"):
        config.validate(replace(config.twin_config(), contralateral_dense_sd=0.5))


def test_right_breasts_are_mirrored_and_mlo_has_a_pectoral_line(rendered) -> None:
    _, first, _ = rendered
    for t in first.truth:
        side, view = t["image_id"].split("_")[1:]
        # nipple toward the left edge for R (chest wall right), toward the right for L
        assert (t["nipple_x"] < t["cols"] / 2) == (side == "R")
        assert (t["pectoral_x0"] is None) == (view == "CC")
        if view == "MLO":
            assert t["pectoral_y0"] == 0.0 and t["pectoral_x1"] in (0.0, t["cols"] - 1)


def test_unilateral_exam_has_two_views_of_one_side(rendered, tmp_path: Path) -> None:
    _, _, pid = rendered
    result = _render(config.twin_config(), tmp_path, pid)
    assert len(result.manifest) == 2 and len({r["laterality"] for r in result.manifest}) == 1
    assert all(sha256_file(tmp_path / r["image_path"]) == r["sha256"] for r in result.manifest)


def test_ensure_cohort_restores_missing_or_altered_images_bit_for_bit(tmp_path: Path, monkeypatch) -> None:
    if not store.cohort_files("twin").manifest.is_file():
        pytest.skip("no committed data_manifest.csv")
    monkeypatch.setenv("MAMMO_DATA", str(tmp_path))
    files = store.ensure_cohort("twin", workers=1, only=["P0001"])
    committed = pd.read_csv(files.manifest).query("patient_id == 'P0001'")
    (files.root / committed["image_path"].iloc[0]).unlink()
    (files.root / committed["image_path"].iloc[1]).write_bytes(b"not a dicom")
    assert store.stale_patients(committed, files.root) == ["P0001"]
    store.ensure_cohort("twin", workers=1, only=["P0001"])
    assert all(sha256_file(files.root / p) == d for p, d in zip(committed["image_path"], committed["sha256"]))
    assert store.stale_patients(committed, files.root) == []


def test_view_truth_loads_nipple_pectoral_and_masks(rendered) -> None:
    root, first, _ = rendered
    findings = pd.DataFrame(first.findings)
    mlo = next(t["image_id"] for t in first.truth if t["image_id"].endswith("MLO"))
    truth = store.load_view_truth(root, mlo, findings)
    assert truth.pectoral is not None and truth.breast_mask.shape == (first.truth[1]["rows"], first.truth[1]["cols"])
    x, y = truth.nipple
    assert truth.breast_mask[int(round(y)), int(round(x)) + (1 if x < truth.breast_mask.shape[1] / 2 else -1)]
    for mass_id, mask in truth.mass_masks.items():
        row = findings[(findings["mass_id"] == mass_id) & (findings["image_id"] == mlo)].iloc[0]
        ys, xs = np.nonzero(mask)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (row["x0"], row["y0"], row["x1"], row["y1"])
    cc = store.load_view_truth(root, mlo.replace("MLO", "CC"), findings)
    assert cc.pectoral is None
    with pytest.raises(Exception, match="not in"):
        store.load_view_truth(root, "P0001_X_CC", findings)


def test_images_read_back_through_the_data_layer(rendered) -> None:
    from mammo_lib.data import dicomio

    root, first, _ = rendered
    for row in first.manifest:
        image = dicomio.read_image(root / row["image_path"], laterality=row["laterality"], view=row["view"])
        spacing = config.view_pitch_mm(config.twin_config(), row["vendor"])
        assert image.pixel_spacing_mm == pytest.approx((spacing, spacing))
        assert image.vendor == row["vendor"]
        breast = store._read_mask(root / next(t for t in first.truth if t["image_id"] == row["image_id"])["breast_mask_path"])
        # 1.0 = dense after VOI and MONOCHROME1 inversion: the breast is brighter than the background
        assert image.pixels[breast].mean() > image.pixels[~breast].mean() + 0.3


def test_unknown_breast_or_mass_density_is_refused() -> None:
    from mammo_lib.synth import anatomy, masses, phantom_v1

    cfg = config.twin_config()
    shape = anatomy.BreastShape(80, 1.1, 2.2, 1.7, 1.0, 0.45, 1.2, (0.1, 0.2, 0.3), 45)
    geom = anatomy.view_geometry(shape, "CC", 200, 160, 0.5)
    with pytest.raises(Exception, match=r"breast_density must be one of \('a', 'b', 'c', 'd'\), got 'e'"):
        phantom_v1.render_view(cfg, geom, "e", 2.8, 45, [], np.random.default_rng(0))
    mass = masses.draw_mass_shape(10, "oval", "circumscribed", np.random.default_rng(0))
    placed = [phantom_v1.PlacedMass("M1", mass, "very high", 60, 100, 0.0)]
    with pytest.raises(Exception, match="M1 mass_density must be one of"):
        phantom_v1.render_view(cfg, geom, "c", 2.8, 45, placed, np.random.default_rng(0))
    with pytest.raises(Exception, match="size_mm must be a positive number, got -4"):
        masses.draw_mass_shape(-4, "oval", "circumscribed", np.random.default_rng(0))


def test_training_cohort_never_overlaps_the_twin(tmp_path: Path) -> None:
    train = config.train_config(5)
    patients, _ = composition.compose(train)
    twin_ids = set(composition.compose(config.twin_config())[0]["patient_id"])
    assert not set(patients["patient_id"]) & twin_ids
    result = _render(train, tmp_path, patients["patient_id"].iloc[0])
    committed = store.cohort_files("twin").manifest
    if committed.is_file():
        assert not {r["sha256"] for r in result.manifest} & set(pd.read_csv(committed)["sha256"])
    assert {r["split"] for r in result.manifest} <= {"train", "val"}


def test_a_mass_too_large_for_its_breast_gets_a_larger_breast(tmp_path: Path) -> None:
    """T0365 of the default 1000-patient training cohort has a 49.9 mm mass that does not fit the breast first
    drawn for it (`mammo synth --which train` used to stop there); it is rendered in a deeper breast instead."""
    cfg = config.train_config(1000)
    patients, masses = composition.compose(cfg)
    index = int(np.flatnonzero(patients["patient_id"] == "T0365")[0])
    patient, pm = patients.iloc[index].to_dict(), masses[masses["patient_id"] == "T0365"].to_dict("records")
    with pytest.raises(generate._NoRoom, match="49.9 mm"):
        generate._render_patient_once(cfg, index, patient, pm, tmp_path / "first", 0)
    result = generate.render_patient(cfg, index, patient, pm, tmp_path / "grown")
    findings = pd.DataFrame(result.findings)
    big = [m["mass_id"] for m in pm if m["size_mm"] == 49.9]
    assert big and {i.rsplit("_", 1)[1] for i in findings.loc[findings["mass_id"] == big[0], "image_id"]} == {"CC", "MLO"}
