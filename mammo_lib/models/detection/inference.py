"""Running the detector: the shipped model and its card, candidates per view and branch in the images' own
pixels, and the validation numbers (recall at FPI, operating threshold) its model card records."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mammo_lib.errors import MammoError
from mammo_lib.models.detection.data import Exam
from mammo_lib.models.detection.network import (ARCHITECTURE, BRANCHES, DetectionConfig, MultiViewDetector, build_model,
                                                decode_outputs, missing_view_notes, modules_run)
from mammo_lib.vocab import BOX_COLUMNS, STANDARD_VIEWS

VIEW_NAMES = tuple(f"{lat}{view}" for lat, view in STANDARD_VIEWS)
CANDIDATE_COLUMNS = ("study_id", "image_id", "view", "branch", "rank", *BOX_COLUMNS, "score")
#: Shipped weights (fp16 safetensors) and, beside them, the model card ``detection.json``.
WEIGHTS_FILE = "detection.safetensors"
#: Model-card fields the notebooks read (written by ``mammo train detection --export``).
CARD_FIELDS = ("architecture", "data", "epochs", "metrics", "parameters", "size_bytes")


def card_config(card: dict[str, Any] | None, source: str) -> DetectionConfig | None:
    """The network a model card records (its ``model_config``), or None when it records none; ``source`` names
    the weights in the error for a ``model_config`` that is not a detector configuration."""
    if not card or not isinstance(card.get("model_config"), dict):
        return None
    try:
        return DetectionConfig.from_dict(card["model_config"])
    except (TypeError, ValueError) as exc:
        raise MammoError(f"model card of {source}: model_config is not a detector configuration ({exc})") from None


def load_detector(path: str | Path | None = None, *, map_location: Any = "cpu",
                  config: DetectionConfig | None = None) -> tuple[MultiViewDetector, dict[str, Any]]:
    """The shipped (or given) detector in eval mode and its model card; corrupt or foreign weights, or weights
    without a card, are refused. The network is built from the card's ``model_config`` (its width and input
    reduction), else from the default configuration."""
    from mammo_lib.models.weights import load_model, read_card
    from mammo_lib.paths import weights_dir

    target = Path(path) if path else weights_dir() / WEIGHTS_FILE
    if config is None:
        config = card_config(read_card(target), target.name)
    model, card = load_model(build_model(config), target, architecture=ARCHITECTURE, required=CARD_FIELDS,
                             train_command="mammo train detection", map_location=map_location)
    if "operating_threshold_1_fpi" not in card["metrics"]:
        raise MammoError(f"model card of {target.name} lacks metrics.operating_threshold_1_fpi: it was not "
                         "written by `mammo train detection`")
    return model, card


@dataclass
class DetectionRun:
    """Detector output for a set of exams.

    ``candidates``: one row per candidate (CANDIDATE_COLUMNS; boxes in the input image's pixels, ranked by
    score within view and branch). ``views``: one row per present view with the modules that ran on it and
    the notes on missing views (e.g. "LMLO absent: IDVN not run on LCC").
    """

    candidates: pd.DataFrame
    views: pd.DataFrame


def _exam(item: Exam | str | Path) -> Exam:
    return item if isinstance(item, Exam) else Exam.load(Path(item))


def exam_batch(exams: Sequence[Exam]) -> dict[str, torch.Tensor]:
    """Stack exams into detector inputs (images ``[B, 4, 1, S, S]`` float32, nipples, present)."""
    return {
        "images": torch.from_numpy(np.stack([e.images for e in exams]).astype(np.float32)[:, :, None]),
        "nipples": torch.from_numpy(np.stack([e.nipples for e in exams]).astype(np.float32)),
        "present": torch.from_numpy(np.stack([e.present for e in exams])),
    }


def _to_input(box: np.ndarray, transform: dict[str, Any] | None) -> np.ndarray:
    """448-grid boxes -> the image's own pixels through its preprocessing transform (identity without one)."""
    if transform is None:
        return box
    from mammo_lib.preprocess.geometry import ViewTransform

    return ViewTransform.from_dict(transform).box_to_input(box)


def run_detector(model: torch.nn.Module, exams: Iterable[Exam | str | Path], *, branches: Sequence[str] = ("ifn",),
                 batch_size: int = 4, top_k: int = 10, min_score: float = 0.01,
                 device: str | torch.device = "cpu", to_input: bool = True) -> DetectionRun:
    """Detect masses on every exam with each of ``branches`` (see ``detection.BRANCHES``); boxes in the
    images' own pixels (``to_input``) or in the preprocessed grid."""
    unknown = [b for b in branches if b not in BRANCHES]
    if unknown:
        raise MammoError(f"unknown branch(es) {unknown}; choose from {BRANCHES}")
    model = model.eval().to(device)
    rows: list[tuple] = []
    view_rows: list[dict[str, Any]] = []
    pending: list[Exam] = []

    def flush() -> None:
        batch = {k: v.to(device) for k, v in exam_batch(pending).items()}
        with torch.no_grad():
            out = model(batch["images"], batch["nipples"], batch["present"])
        decoded = {b: decode_outputs(out, b, top_k=top_k, min_score=min_score) for b in branches}
        for i, exam in enumerate(pending):
            notes = missing_view_notes(exam.present)
            for v in range(4):
                if not exam.present[v]:
                    continue
                transform = exam.transforms[v] if exam.transforms and to_input else None
                view_rows.append({"study_id": exam.study_id, "image_id": exam.image_ids[v], "view": VIEW_NAMES[v],
                                  "modules": "+".join(modules_run(out, i, v)),
                                  "notes": "; ".join(n for n in notes if n.endswith(f"on {VIEW_NAMES[v]}"))})
                for branch in branches:
                    cand = decoded[branch][i][v]
                    if cand is None or not len(cand):
                        continue
                    boxes = _to_input(cand[:, :4], transform)
                    for rank, (box, score) in enumerate(zip(boxes, cand[:, 4])):
                        rows.append((exam.study_id, exam.image_ids[v], VIEW_NAMES[v], branch, rank, *box, score))
        pending.clear()

    for item in exams:
        pending.append(_exam(item))
        if len(pending) == batch_size:
            flush()
    if pending:
        flush()
    return DetectionRun(pd.DataFrame(rows, columns=list(CANDIDATE_COLUMNS)), pd.DataFrame(view_rows))


def exam_truth(exams: Iterable[Exam | str | Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ground truth of exams in the preprocessed grid, for :func:`mammo_lib.evaluation.detection.match_candidates`:
    (truth: image_id, mass_id, x0..y1; images: image_id, exam) over the present views."""
    truth, images = [], []
    for item in exams:
        exam = _exam(item)
        for v in range(4):
            if not exam.present[v]:
                continue
            images.append((exam.image_ids[v], exam.study_id))
            truth += [(exam.image_ids[v], m, *b) for m, b in zip(exam.mass_ids[v], exam.boxes[v].tolist())]
    return (pd.DataFrame(truth, columns=["image_id", "mass_id", *BOX_COLUMNS]),
            pd.DataFrame(images, columns=["image_id", "exam"]))


def validation_summary(model: torch.nn.Module, exams: Sequence[Exam | str | Path], *, fpi: float = 1.0,
                       branch: str = "ifn", device: str | torch.device = "cpu") -> dict[str, float]:
    """Per-mass FROC numbers on (validation) exams: recall at 0.25/0.5/1/2 FPI and the score threshold of the
    ``fpi`` operating point (what the model card records and Table 3 uses)."""
    from mammo_lib.evaluation.detection import FPI_POINTS, froc, match_candidates

    exams = [_exam(e) for e in exams]
    run = run_detector(model, exams, branches=(branch,), device=device, to_input=False)
    truth, images = exam_truth(exams)
    curve = froc(match_candidates(run.candidates, truth, images, criterion="centre"))
    summary = {f"val_mass_recall_at_{p:g}_fpi": round(curve.recall_at(p), 4) for p in FPI_POINTS}
    summary[f"operating_threshold_{fpi:g}_fpi"] = round(curve.threshold_at(fpi), 4)
    summary["val_masses"] = int(curve.n_lesions)
    summary["val_images"] = int(curve.n_images)
    return summary


def view_level_recall(candidates: list[list[np.ndarray | None]], gt_boxes: np.ndarray, fpi: float = 1.0) -> tuple[np.ndarray, np.ndarray, int]:
    """Per (mass, view) best hitting score (centre criterion) and false-positive scores of decoded candidates;
    returns (lesion_scores, fp_scores, n_images) for :func:`mammo_lib.evaluation.detection.froc_from_scores`."""
    from mammo_lib.evaluation.detection import hit_matrix

    lesion, fps, n_images = [], [], 0
    for b, views in enumerate(candidates):
        for v, cand in enumerate(views):
            if cand is None:
                continue
            n_images += 1
            gt = gt_boxes[b, v]
            gt = gt[np.isfinite(gt).all(axis=1)]
            hits = hit_matrix(cand[:, :4], gt) if len(cand) and len(gt) else np.zeros((len(cand), len(gt)), bool)
            fps += cand[~hits.any(axis=1), 4].tolist() if len(cand) else []
            for j in range(len(gt)):
                lesion.append(cand[hits[:, j], 4].max() if hits[:, j].any() else np.nan)
    return np.asarray(lesion, np.float64), np.asarray(fps, np.float64), n_images


__all__ = ["CANDIDATE_COLUMNS", "CARD_FIELDS", "VIEW_NAMES", "WEIGHTS_FILE", "DetectionRun", "card_config",
           "exam_batch", "exam_truth", "load_detector", "run_detector", "validation_summary", "view_level_recall"]
