"""Preprocessing accuracy against ground truth (any annotated set): landmark errors, their summary against the
goals; and, where no landmark is known, orientation checks and the quality-control table of a batch
(:func:`quality_control`). Measured on the synthetic twin's truth by :func:`mammo_lib.paper.preprocessing.twin_accuracy`."""
from __future__ import annotations

from typing import Any

import numpy as np

from mammo_lib.errors import MammoError
from mammo_lib.validation import require_columns
from mammo_lib.preprocess.geometry import PreprocessedView


# --------------------------------------------------------------------------------------------------
# accuracy against ground truth (synthetic twin, or any annotated set)
# --------------------------------------------------------------------------------------------------
def segment_distance(a: Any, b: Any, samples: int = 64) -> float:
    """Mean distance from points evenly spread on segment ``a`` to segment ``b`` (same units as the input)."""
    a0, a1 = (np.asarray(p, dtype=np.float64) for p in a)
    b0, b1 = (np.asarray(p, dtype=np.float64) for p in b)
    pts = a0 + np.linspace(0.0, 1.0, samples)[:, None] * (a1 - a0)
    d = b1 - b0
    t = np.clip(((pts - b0) @ d) / max(float(d @ d), 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(pts - (b0 + t[:, None] * d), axis=1).mean())


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap of two boolean masks of equal shape (1.0 when both are empty)."""
    if a.shape != b.shape:
        raise MammoError(f"dice: mask shapes differ, {a.shape} vs {b.shape}")
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def landmark_errors(result: PreprocessedView, *, breast_mask: np.ndarray, nipple: Any,
                    pectoral: Any | None, spacing_mm: tuple[float, float]) -> dict[str, float]:
    """Errors of one preprocessed view against ground truth given in the input's pixels.

    ``nipple_mm``: distance between nipples; ``dice``: breast-mask overlap on the input grid (the output mask
    warped back); ``pectoral_mm``: symmetric mean distance between the two pectoral segments (NaN on CC, or
    infinite when one side has a pectoral and the other not). ``spacing_mm`` is (row, column) in mm.
    """
    if breast_mask.shape != result.transform.input_shape:
        raise MammoError(f"ground-truth mask shape {breast_mask.shape} differs from the image's "
                         f"{result.transform.input_shape}")
    scale = np.array([spacing_mm[1], spacing_mm[0]], dtype=np.float64)  # (x, y) mm per pixel
    nip = float(np.linalg.norm((np.asarray(result.nipple_input) - np.asarray(nipple, dtype=np.float64)) * scale))
    mask_in = result.transform.warp_to_input(result.breast_mask.astype(np.float32)) > 0.5
    if pectoral is None and result.pectoral_input is None:
        pec = float("nan")
    elif pectoral is None or result.pectoral_input is None:
        pec = float("inf")
    else:
        truth = [np.asarray(p, dtype=np.float64) * scale for p in pectoral]
        found = [np.asarray(p, dtype=np.float64) * scale for p in result.pectoral_input]
        pec = 0.5 * (segment_distance(truth, found) + segment_distance(found, truth))
    return {"nipple_mm": nip, "dice": dice(mask_in, np.asarray(breast_mask, dtype=bool)), "pectoral_mm": pec}


#: Issue #5 goals on the synthetic twin: (measure, statistic, goal, direction).
ACCURACY_GOALS: tuple[tuple[str, str, float, str], ...] = (
    ("nipple within 5 mm (% of views)", "nipple_within_5mm_pct", 97.0, ">="),
    ("breast mask Dice (mean)", "dice_mean", 0.97, ">="),
    ("pectoral edge mean distance on MLO (mm, mean)", "pectoral_mm_mean", 3.0, "<="),
)


def summarise_accuracy(errors: Any) -> Any:
    """Goal table from per-view errors (columns view, nipple_mm, dice, pectoral_mm): measure, goal, measured, met."""
    import pandas as pd

    require_columns(errors, ["view", "nipple_mm", "dice", "pectoral_mm"], "per-view errors")
    if errors.empty:
        raise MammoError("no views to summarise")
    mlo = errors[errors["view"] == "MLO"]
    stats = {
        "nipple_within_5mm_pct": 100.0 * float((errors["nipple_mm"] <= 5.0).mean()),
        "dice_mean": float(errors["dice"].mean()),
        "pectoral_mm_mean": float(mlo["pectoral_mm"].mean()) if len(mlo) else float("nan"),
    }
    rows = []
    for label, key, goal, direction in ACCURACY_GOALS:
        value = stats[key]
        met = bool(value >= goal) if direction == ">=" else bool(value <= goal)
        rows.append({"measure": label, "goal": f"{direction} {goal:g}", "measured": value, "met": met,
                     "views": len(mlo) if key.startswith("pectoral") else len(errors)})
    return pd.DataFrame(rows)


def orientation_checks(result: PreprocessedView) -> dict[str, bool]:
    """Checks that need no ground truth (for real images): chest wall left, nipple on the front contour.

    ``chest_wall_left``: the mask fills the left edge more than the right sixth; ``nipple_on_contour``: the
    mask changes within 3 output pixels of the nipple; ``nipple_anterior``: the nipple lies in the front
    quarter of the breast's depth.
    """
    m = result.breast_mask
    x, y = (int(v) for v in result.nipple)
    patch = m[max(0, y - 3):y + 4, max(0, x - 3):x + 4]
    cols = np.nonzero(m.any(axis=0))[0]
    return {
        "chest_wall_left": bool(m[:, :10].mean() > m[:, -m.shape[1] // 6:].mean()),
        "nipple_on_contour": bool(patch.any() and not patch.all()),
        "nipple_anterior": bool(cols.size and x >= cols.max() - 0.25 * (cols.max() - cols.min() + 1)),
    }




#: Columns of :func:`quality_control`'s per-view table.
QC_COLUMNS = ("image_id", "laterality", "view", "processed", "reason", "flipped", "breast_area_pct",
              "chest_wall_left", "nipple_on_contour", "nipple_anterior", "pectoral_found", "warnings")


def quality_control(images: Any, batch: Any) -> tuple[Any, Any]:
    """Checks of a preprocessed batch that need no ground truth: (per-view table, summary table).

    ``images``: the manifest rows of the batch (image_id, laterality, view); ``batch``: their
    :class:`mammo_lib.preprocess.cache.PreprocessedBatch`. Per view (:data:`QC_COLUMNS`): processed or
    skipped with its reason, flipped, the breast's share of the output (%), :func:`orientation_checks`, the
    pectoral edge found (MLO; empty on CC) and the number of warnings. The summary counts them.
    """
    import pandas as pd

    reasons = dict(zip(batch.skipped["image_id"], batch.skipped["reason"]))
    rows = []
    for row in images.itertuples(index=False):
        image_id = str(row.image_id)
        base = {"image_id": image_id, "laterality": str(row.laterality), "view": str(row.view)}
        result = batch.views.get(image_id)
        if result is None:
            if image_id not in reasons:
                raise MammoError(f"image_id {image_id!r} is neither processed nor skipped in this batch")
            rows.append({**base, "processed": False, "reason": reasons[image_id]})
            continue
        rows.append({**base, "processed": True, "reason": "", "flipped": result.flipped,
                     "breast_area_pct": round(100.0 * float(result.breast_mask.mean()), 2),
                     **orientation_checks(result),
                     "pectoral_found": (result.pectoral is not None) if result.view == "MLO" else None,
                     "warnings": len(result.warnings)})
    views = pd.DataFrame(rows, columns=list(QC_COLUMNS))
    done = views[views["processed"]]
    mlo = done[done["view"] == "MLO"]
    checks = ["chest_wall_left", "nipple_on_contour", "nipple_anterior"]
    summary = pd.DataFrame([
        ("views", len(views)),
        ("processed", len(done)),
        ("skipped (unusable file)", len(views) - len(done)),
        ("flipped (right breasts)", int(done["flipped"].astype(bool).sum())),
        ("all orientation checks pass", int(done[checks].astype(bool).all(axis=1).sum())),
        ("nipple on the breast contour", int(done["nipple_on_contour"].astype(bool).sum())),
        ("MLO views with a pectoral edge", f"{int(mlo['pectoral_found'].astype(bool).sum())} of {len(mlo)}"),
        ("views with a warning", int((done["warnings"] > 0).sum())),
        ("breast area, % of output (median)", round(float(done["breast_area_pct"].median()), 1) if len(done)
         else float("nan")),
    ], columns=["check", "value"])
    return views, summary.astype({"value": str})
