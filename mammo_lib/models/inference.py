"""Running the trained detector on exams: candidates per view and branch in the images' own pixels, and
the paper-style figure of a view with the DL boxes (red) and the ground truth (green)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mammo_lib.errors import MammoError
from mammo_lib.models.detection import BRANCHES, decode_outputs, missing_view_notes, modules_run
from mammo_lib.models.detection_task import Exam
from mammo_lib.vocab import STANDARD_VIEWS

VIEW_NAMES = tuple(f"{lat}{view}" for lat, view in STANDARD_VIEWS)
CANDIDATE_COLUMNS = ("study_id", "image_id", "view", "branch", "rank", "x0", "y0", "x1", "y1", "score")


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
    from mammo_lib.preprocess import ViewTransform

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
    """Ground truth of exams in the preprocessed grid, for :func:`mammo_lib.evaluate.match_candidates`:
    (truth: image_id, mass_id, x0..y1; images: image_id, exam) over the present views."""
    truth, images = [], []
    for item in exams:
        exam = _exam(item)
        for v in range(4):
            if not exam.present[v]:
                continue
            images.append((exam.image_ids[v], exam.study_id))
            truth += [(exam.image_ids[v], m, *b) for m, b in zip(exam.mass_ids[v], exam.boxes[v].tolist())]
    return (pd.DataFrame(truth, columns=["image_id", "mass_id", "x0", "y0", "x1", "y1"]),
            pd.DataFrame(images, columns=["image_id", "exam"]))


def validation_summary(model: torch.nn.Module, exams: Sequence[Exam | str | Path], *, fpi: float = 1.0,
                       branch: str = "ifn", device: str | torch.device = "cpu") -> dict[str, float]:
    """Per-mass FROC numbers on (validation) exams: recall at 0.25/0.5/1/2 FPI and the score threshold of the
    ``fpi`` operating point (what the model card records and Table 3 uses)."""
    from mammo_lib.evaluate import FPI_POINTS, froc, match_candidates

    exams = [_exam(e) for e in exams]
    run = run_detector(model, exams, branches=(branch,), device=device, to_input=False)
    truth, images = exam_truth(exams)
    curve = froc(match_candidates(run.candidates, truth, images, criterion="centre"))
    summary = {f"val_mass_recall_at_{p:g}_fpi": round(curve.recall_at(p), 4) for p in FPI_POINTS}
    summary[f"operating_threshold_{fpi:g}_fpi"] = round(curve.threshold_at(fpi), 4)
    summary["val_masses"] = int(curve.n_lesions)
    summary["val_images"] = int(curve.n_images)
    return summary


def plot_view(ax: Any, image: np.ndarray, candidates: pd.DataFrame, truth: pd.DataFrame, *, title: str = "") -> None:
    """One view as in the paper's Figures 4-6: the image, DL boxes in red (with scores), ground truth in green.

    ``candidates`` and ``truth`` carry x0, y0, x1, y1 in the pixels of ``image``.
    """
    from matplotlib.patches import Rectangle

    ax.imshow(image, cmap="gray", interpolation="lanczos")
    for r in truth.itertuples(index=False):
        ax.add_patch(Rectangle((r.x0, r.y0), r.x1 - r.x0, r.y1 - r.y0, fill=False, ec="lime", lw=1.2, ls="--"))
    for r in candidates.itertuples(index=False):
        ax.add_patch(Rectangle((r.x0, r.y0), r.x1 - r.x0, r.y1 - r.y0, fill=False, ec="red", lw=1.4))
        ax.text(r.x0, r.y0 - 4, f"{r.score:.2f}", color="red", fontsize=7, va="bottom")
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
