"""Multi-view detector: view pairing, geometric priors, missing views, targets/loss/decoding, training smoke,
shipped-weight loading."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mammo_lib.training import loop
from mammo_lib.errors import MammoError
from mammo_lib.models.detection import network as det
from mammo_lib.models.detection.data import Exam, ExamDataset
from mammo_lib.models.detection.inference import exam_truth, load_detector, run_detector, validation_summary, view_level_recall
from mammo_lib.models.detection.task import DetectionTask
from mammo_lib.models.weights import export_weights, read_card
from mammo_lib.vocab import STANDARD_VIEWS

SIZE = 64
#: The model-card fields load_detector requires, as `mammo train detection --export` writes them.
TOY_CARD = {"seed": 0, "data": "toy exams", "epochs": 1, "metrics": {"operating_threshold_1_fpi": 0.5}}


def toy_exam(rng: np.random.Generator, study: str, present: tuple[bool, ...] = (True,) * 4) -> Exam:
    """Four 64 px 'views': textured half-discs (breast right of the chest wall), one bright disc mass on
    the right breast's CC and MLO at the same nipple distance."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    images = np.zeros((4, SIZE, SIZE), np.float16)
    boxes = [np.zeros((0, 4), np.float32) for _ in range(4)]
    ids: list[list[str]] = [[] for _ in range(4)]
    r = rng.uniform(10, 26)
    for v, (lat, view) in enumerate(STANDARD_VIEWS):
        if not present[v]:
            continue
        breast = ((xx / 60) ** 2 + ((yy - 32) / 30) ** 2) < 1
        img = breast * (0.3 + 0.1 * rng.random((SIZE, SIZE)))
        if lat == "R":
            ang = rng.uniform(-0.8, 0.8)
            cx, cy = 60 - r * math.cos(ang), 32 + r * math.sin(ang)
            img = img + 0.5 * (((xx - cx) ** 2 + (yy - cy) ** 2) < 16) * breast
            boxes[v] = np.array([[cx - 4, cy - 4, cx + 4, cy + 4]], np.float32)
            ids[v] = [f"{study}-m1"]
        images[v] = img
    nipples = np.tile(np.array([[60.0, 32.0]], np.float32), (4, 1))
    return Exam(study, images, nipples, np.array(present), boxes, ids, [f"{study}-{v}" for v in range(4)], "c")


def test_view_partners_follow_the_paper() -> None:
    names = ["".join(v) for v in STANDARD_VIEWS]
    assert {names[i]: names[j] for i, j in enumerate(det.IPSILATERAL_PARTNER)} == {
        "RCC": "RMLO", "LCC": "LMLO", "RMLO": "RCC", "LMLO": "LCC"}
    assert {names[i]: names[j] for i, j in enumerate(det.BILATERAL_PARTNER)} == {
        "RCC": "LCC", "LCC": "RCC", "RMLO": "LMLO", "LMLO": "RMLO"}


def test_nipple_distance_prior_favours_equal_distance() -> None:
    attn = det.GeometricCrossAttention(8, 4, "nipple_distance", sigma=0.1)
    nipple = torch.tensor([[1.0, 0.5]])
    bias = attn.geometric_bias((4, 4), (4, 4), nipple, nipple)[0]
    assert torch.allclose(bias.diagonal(), torch.zeros(16))                 # same place, same distance
    assert bias.max() <= 0
    # cell (row 0, col 3) and (row 3, col 3) are equally far from the nipple at (1.0, 0.5): bias 0
    assert bias[3, 15].item() == pytest.approx(0.0, abs=1e-6)
    assert bias[3, 12].item() < -5                                          # far vs near the nipple


def test_mirrored_position_prior_compares_positions_relative_to_nipples() -> None:
    attn = det.GeometricCrossAttention(8, 4, "mirrored_position", sigma=0.1)
    bias = attn.geometric_bias((4, 4), (4, 4), torch.tensor([[1.0, 0.5]]), torch.tensor([[1.0, 0.25]]))[0]
    # main cell (row 2, col 0) sits where aux cell (row 1, col 0) sits relative to its nipple (shifted 1/4 up)
    assert bias[8, 4].item() == pytest.approx(0.0, abs=1e-6)
    assert bias[8, 8].item() == pytest.approx(-(0.25**2) / (2 * 0.01), rel=1e-5)


def test_pooled_auxiliary_map_keeps_the_prior_geometry() -> None:
    attn = det.GeometricCrossAttention(8, 4, "mirrored_position", sigma=0.1)
    bias = attn.geometric_bias((4, 4), (2, 2), torch.tensor([[0.5, 0.5]]), torch.tensor([[0.5, 0.5]]))[0]
    assert bias.shape == (16, 4)
    # main cell (row 0, col 0) centre (0.125, 0.125) is nearest the pooled aux cell 0 centre (0.25, 0.25)
    assert bias[0].argmax().item() == 0 and bias[0, 0].item() == pytest.approx(-(2 * 0.125**2) / 0.02, rel=1e-5)
    out = attn(torch.rand(1, 8, 4, 4), torch.rand(1, 8, 4, 4), torch.tensor([[0.5, 0.5]]), torch.tensor([[0.5, 0.5]]))
    assert out.shape == (1, 8, 4, 4)


def test_unknown_prior_is_refused() -> None:
    with pytest.raises(ValueError, match="prior must be one of"):
        det.GeometricCrossAttention(8, 4, "symmetry", 0.1)


def _batch(exams: list[Exam]) -> dict[str, torch.Tensor]:
    ds = ExamDataset(exams)
    items = [ds[i] for i in range(len(exams))]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def test_missing_view_switches_off_only_the_modules_that_need_it() -> None:
    torch.manual_seed(0)
    model = det.build_model().eval()
    exam = toy_exam(np.random.default_rng(0), "s1", present=(True, True, True, False))
    batch = _batch([exam])
    with torch.no_grad():
        out = model(batch["images"], batch["nipples"], batch["present"])
    assert out["idvn_ran"][0].tolist() == [True, False, True, False]
    assert out["bdvn_ran"][0].tolist() == [True, True, False, False]
    assert det.modules_run(out, 0, 1) == ("single", "bdvn", "ifn")
    assert det.modules_run(out, 0, 3) == ()
    assert det.missing_view_notes(batch["present"][0]) == [
        "LMLO absent: IDVN not run on LCC", "LMLO absent: BDVN not run on RMLO"]
    decoded = det.decode_outputs(out, "idvn")[0]
    assert decoded[1] is None and decoded[3] is None and decoded[0] is not None
    assert (out["ifn_heat"][0, 3] == det.ABSENT_LOGIT).all()


def test_absent_view_pixels_do_not_change_present_views() -> None:
    torch.manual_seed(0)
    model = det.build_model().eval()
    batch = _batch([toy_exam(np.random.default_rng(1), "s", present=(True, True, True, False))])
    noisy = batch["images"].clone()
    noisy[0, 3] = torch.rand_like(noisy[0, 3])
    with torch.no_grad():
        a = model(batch["images"], batch["nipples"], batch["present"])
        b = model(noisy, batch["nipples"], batch["present"])
    assert torch.equal(a["ifn_heat"], b["ifn_heat"])


def test_no_present_view_is_an_error() -> None:
    model = det.build_model().eval()
    with pytest.raises(MammoError, match="no present view"):
        model(torch.zeros(1, 4, 1, SIZE, SIZE), torch.zeros(1, 4, 2), torch.zeros(1, 4, dtype=torch.bool))


def test_targets_decode_back_to_the_box() -> None:
    box = np.array([[100.0, 60.0, 140.0, 90.0]])
    t = det.heatmap_targets(box, 448)
    assert t["heat"].max() == 1.0 and t["centre"].sum() == 1
    iy, ix = np.unravel_index(t["heat"].argmax(), t["heat"].shape)
    assert (ix, iy) == (15, 9)                                              # centre (120, 75) / 8
    logits = torch.logit(torch.from_numpy(t["heat"]).clamp(1e-4, 1 - 1e-4))
    cands = det.decode_heatmap(logits, torch.from_numpy(t["box"]), top_k=1)
    np.testing.assert_allclose(cands[0, :4], box[0], atol=1e-3)


def test_degenerate_box_is_refused() -> None:
    with pytest.raises(MammoError, match="has no area"):
        det.heatmap_targets(np.array([[10, 10, 10, 20]]), 448)


def test_centernet_focal_loss_known_value() -> None:
    logits = torch.zeros(1, 2)
    target = torch.tensor([[1.0, 0.0]])
    # positive: -log(0.5) * 0.5^2 ; negative: -log(0.5) * 0.5^2 * 1^4 ; one positive
    assert det.centernet_focal_loss(logits, target).item() == pytest.approx(2 * math.log(2) * 0.25, rel=1e-6)


def test_view_level_recall_counts_hits_and_false_positives() -> None:
    gt = np.full((1, 4, 8, 4), np.nan, np.float32)
    gt[0, 0, 0] = [0, 0, 10, 10]
    cands = [[np.array([[2, 2, 8, 8, 0.9], [50, 50, 60, 60, 0.4]]), np.zeros((0, 5)), None, None]]
    lesion, fps, n = view_level_recall(cands, gt)
    assert lesion.tolist() == [0.9] and fps.tolist() == [0.4] and n == 2


def test_training_smoke_loss_goes_down(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    exams = [toy_exam(rng, f"s{i}") for i in range(6)]
    task = DetectionTask(exams[:4], exams[4:], data_description="6 toy exams", seed=0)
    config = loop.TrainConfig(out_dir=str(tmp_path / "run"), epochs=6, batch_size=2, lr=5e-3, seed=0,
                               progress=False, device="cpu", threads=1)
    result = loop.fit(task, config)
    losses = [r["train_loss"] for r in result.history]
    assert losses[-1] < 0.6 * losses[0]
    assert 0.0 <= result.history[-1]["val_metric"] <= 1.0


def test_shipped_detector_weights_round_trip_and_refusal(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = det.build_model().eval()
    path = tmp_path / "detection.safetensors"
    card = export_weights(model, path, architecture=det.ARCHITECTURE, card=TOY_CARD)
    assert card["size_bytes"] < 30e6
    loaded, loaded_card = load_detector(str(path), map_location="cpu")
    assert loaded_card == card
    batch = _batch([toy_exam(np.random.default_rng(2), "s")])
    with torch.no_grad():
        a = model.half().float()(batch["images"], batch["nipples"], batch["present"])["ifn_heat"]
        b = loaded(batch["images"], batch["nipples"], batch["present"])["ifn_heat"]
    torch.testing.assert_close(a, b)
    other = tmp_path / "other.safetensors"
    export_weights(torch.nn.Linear(2, 2), other, architecture="classifier-x", card=TOY_CARD)
    with pytest.raises(MammoError, match="holds architecture 'classifier-x'"):
        load_detector(str(other))


def test_detector_without_its_model_card_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "detection.safetensors"
    export_weights(det.build_model(), path, architecture=det.ARCHITECTURE, card=TOY_CARD)
    path.with_suffix(".json").unlink()
    with pytest.raises(MammoError, match=r"has no model card detection\.json beside it"):
        load_detector(str(path))
    export_weights(det.build_model(), path, architecture=det.ARCHITECTURE, card={"seed": 0})
    with pytest.raises(MammoError, match=r"lacks \['data', 'epochs', 'metrics'\]"):
        load_detector(str(path))
    export_weights(det.build_model(), path, architecture=det.ARCHITECTURE, card={**TOY_CARD, "metrics": {}})
    with pytest.raises(MammoError, match="lacks metrics.operating_threshold_1_fpi"):
        load_detector(str(path))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_shipped_detector_loads_on_gpu(tmp_path: Path) -> None:
    path = tmp_path / "detection.safetensors"
    export_weights(det.build_model(), path, architecture=det.ARCHITECTURE, card=TOY_CARD)
    model, _ = load_detector(str(path), map_location="cuda")
    assert next(model.parameters()).device.type == "cuda"


def test_run_detector_reports_candidates_modules_and_missing_view_notes() -> None:
    torch.manual_seed(0)
    model = det.build_model()
    rng = np.random.default_rng(3)
    full = toy_exam(rng, "full")
    partial = toy_exam(rng, "partial", present=(True, True, True, False))
    run = run_detector(model, [full, partial], branches=("single", "idvn", "ifn"), batch_size=1, top_k=3,
                       min_score=0.0)
    views = run.views.set_index(["study_id", "view"])
    assert len(run.views) == 7
    assert views.loc[("full", "RCC"), "modules"] == "single+idvn+bdvn+ifn"
    assert views.loc[("partial", "LCC"), "modules"] == "single+bdvn+ifn"
    assert views.loc[("partial", "LCC"), "notes"] == "LMLO absent: IDVN not run on LCC"
    cands = run.candidates
    assert set(cands["branch"]) == {"single", "idvn", "ifn"}
    assert cands.groupby(["study_id", "view", "branch"]).size().max() == 3
    assert not ((cands["study_id"] == "partial") & (cands["view"] == "LCC") & (cands["branch"] == "idvn")).any()
    ranked = cands[(cands["study_id"] == "full") & (cands["view"] == "RCC") & (cands["branch"] == "ifn")]
    assert ranked["score"].is_monotonic_decreasing and ranked["rank"].tolist() == [0, 1, 2]


def test_run_detector_maps_boxes_back_through_the_view_transform() -> None:
    torch.manual_seed(0)
    model = det.build_model()
    exam = toy_exam(np.random.default_rng(4), "t")
    identity = run_detector(model, [exam], top_k=2, min_score=0.0).candidates
    # a flipped input of 128 columns scaled by 0.5 into the 64 grid: x_in = 128 - 2 x_out, y_in = 2 y_out
    exam.transforms = [{"input_shape": [128, 128], "flipped": True, "origin": [0.0, 0.0], "scale": 0.5,
                        "size": SIZE}] * 4
    mapped = run_detector(model, [exam], top_k=2, min_score=0.0).candidates
    np.testing.assert_allclose(mapped["x0"], 128 - 2 * identity["x1"], rtol=1e-6)
    np.testing.assert_allclose(mapped["y1"], 2 * identity["y1"], rtol=1e-6)
    np.testing.assert_allclose(mapped["score"], identity["score"])


def test_validation_summary_reports_recall_and_operating_threshold() -> None:
    torch.manual_seed(0)
    exams = [toy_exam(np.random.default_rng(5), f"v{i}") for i in range(2)]
    truth, images = exam_truth(exams)
    assert len(images) == 8 and len(truth) == 4 and truth["mass_id"].nunique() == 2
    summary = validation_summary(det.build_model(), exams)
    assert summary["val_masses"] == 2 and summary["val_images"] == 8
    assert 0 <= summary["val_mass_recall_at_1_fpi"] <= summary["val_mass_recall_at_2_fpi"] <= 1
    assert summary["operating_threshold_1_fpi"] > 0


SHIPPED = Path(__file__).resolve().parents[1] / "mammo_lib" / "weights" / "detection.safetensors"


def test_shipped_detector_file_matches_its_card_and_detects_on_cpu() -> None:
    card = read_card(SHIPPED)
    assert card is not None and card["architecture"] == det.ARCHITECTURE
    for key in ("command", "seed", "data", "epochs", "wall_time_s", "hardware", "metrics", "sha256"):
        assert card[key] not in (None, ""), key
    assert card["size_bytes"] == SHIPPED.stat().st_size < 30e6 and card["dtype"] == "float16"
    assert 0 < card["metrics"]["operating_threshold_1_fpi"] < 1
    model, _ = load_detector(str(SHIPPED), map_location="cpu")   # checks the sha256 against the card
    batch = _batch([toy_exam(np.random.default_rng(3), "s")])
    with torch.no_grad():
        out = model(batch["images"], batch["nipples"], batch["present"])
    assert out["ifn_heat"].shape == (1, 4, SIZE // det.STRIDE, SIZE // det.STRIDE)
    assert torch.isfinite(out["ifn_heat"]).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_shipped_detector_file_loads_on_gpu() -> None:
    model, _ = load_detector(str(SHIPPED), map_location="cuda")
    assert next(model.parameters()).device.type == "cuda"


def test_exam_saves_and_loads_back_without_leaving_temporary_files(tmp_path: Path) -> None:
    exam = toy_exam(np.random.default_rng(6), "s1")
    path = tmp_path / "s1.npz"
    exam.save(path)
    back = Exam.load(path)
    assert [p.name for p in tmp_path.iterdir()] == ["s1.npz"]
    np.testing.assert_array_equal(back.images, exam.images)
    np.testing.assert_array_equal(back.present, exam.present)
    assert back.mass_ids == exam.mass_ids and back.image_ids == exam.image_ids
    for a, b in zip(back.boxes, exam.boxes):
        np.testing.assert_allclose(a, b)
    path.write_bytes(b"damaged")
    with pytest.raises(MammoError, match="exam cache file .* cannot be read"):
        Exam.load(path)
