"""Classification inference: the shipped classifier and its card, per-view heads, the per-mass 0-100 score
(views combined), the threshold rule, and the checks notebook 05 shows (auxiliary heads, calibration, extremes)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from mammo_lib.errors import MammoError
from mammo_lib.validation import require_columns
from mammo_lib.vocab import DL_SCORES_COLUMNS
from mammo_lib.models.classification.data import cached_context_crops
from mammo_lib.models.classification.network import ARCHITECTURE, AUX_HEADS, PRIMARY_HEAD, MassClassifier
from mammo_lib.models.classification.patches import PatchGeometry, patch_from_context
from mammo_lib.paths import weights_dir

#: Shipped weights (fp16 safetensors) and, beside them, the model card ``classification.json``.
WEIGHTS_FILE: Final = "classification.safetensors"


# --- from logits to the 0-100 score ---------------------------------------------------------------
def prior_shift(pos_weight: float) -> float:
    """Logit offset that undoes BCE ``pos_weight``: training odds are inflated by ``pos_weight`` (log-odds + log w)."""
    if not pos_weight > 0:
        raise MammoError(f"pos_weight must be > 0, got {pos_weight}")
    return math.log(pos_weight)


def combine_views(view_logits: pd.DataFrame, shift: float = 0.0) -> pd.DataFrame:
    """Per-mass 0-100 score from per-view malignancy logits (columns ``mass_id``, ``logit``).

    Rule: average the views' logits (the geometric mean of their odds, so neither view dominates and a
    confident view is not diluted as by averaging probabilities), subtract the prior ``shift``, apply the
    sigmoid and scale to 0-100. A mass seen in one view only is scored from that view.
    """
    require_columns(view_logits, ["mass_id", "logit"], "view logits")
    logits = pd.to_numeric(view_logits["logit"], errors="coerce").astype(float)
    bad = ~np.isfinite(logits.to_numpy())
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise MammoError(f"view logit is not a finite number at row {row} (mass_id {view_logits['mass_id'].iloc[row]})")
    grouped = logits.groupby(view_logits["mass_id"].to_numpy(), sort=True)
    table = pd.DataFrame({"n_views": grouped.size(), "logit": grouped.mean() - shift})
    table.index.name = "mass_id"
    table["dl_probability"] = 1.0 / (1.0 + np.exp(-table["logit"]))
    table["dl_score"] = 100.0 * table["dl_probability"]
    return table.reset_index()


def youden_threshold(y_true: np.ndarray, score: np.ndarray) -> float:
    """The score cut-off maximising Youden's J (sensitivity + specificity - 1) on the given (non-test) masses.

    A mass is called positive when ``score >= threshold``. Ties in J go to the highest cut-off (fewer
    false positives), which ``sklearn.metrics.roc_curve``'s decreasing thresholds give via ``argmax``.
    """
    from sklearn.metrics import roc_curve

    y_true = np.asarray(y_true)
    score = np.asarray(score, dtype=float)
    if y_true.shape != score.shape:
        raise MammoError(f"y_true and score differ in length: {y_true.shape} vs {score.shape}")
    if not np.isfinite(score).all():
        raise MammoError("score has NaN or infinite values")
    classes = np.unique(y_true)
    if len(classes) != 2:
        raise MammoError(f"y_true must hold both classes to choose a threshold, got {classes.tolist()}")
    fpr, tpr, thresholds = roc_curve(y_true, score)
    best = int(np.argmax(np.round(tpr - fpr, 12)))  # rounding: 2/3 and 1 - 1/3 are one tie
    return float(min(thresholds[best], 100.0))


def predict_heads(model: Any, crops: np.ndarray, geometry: PatchGeometry, batch_size: int = 64,
                  progress: bool = False) -> dict[str, np.ndarray]:
    """Centred patches of ``crops`` through ``model`` (eval, no grad): malignancy logits ``(N,)`` and the
    auxiliary heads' class probabilities ``(N, classes)``."""
    import torch
    from mammo_lib.progress import tqdm

    model.eval()
    device = next(model.parameters()).device
    chunks: dict[str, list[np.ndarray]] = {PRIMARY_HEAD: [], **{h: [] for h in AUX_HEADS}}
    with torch.no_grad():
        for start in tqdm(range(0, len(crops), batch_size), disable=not progress, desc="scoring"):
            batch = np.stack([patch_from_context(c.astype(np.float32), geometry)
                              for c in crops[start:start + batch_size]])
            out = model(torch.from_numpy(batch)[:, None].to(device))
            chunks[PRIMARY_HEAD].append(out[PRIMARY_HEAD].float().cpu().numpy())
            for head in AUX_HEADS:
                chunks[head].append(torch.softmax(out[head].float(), dim=1).cpu().numpy())
    empty = {PRIMARY_HEAD: np.zeros(0, np.float32), **{h: np.zeros((0, len(c)), np.float32) for h, c in AUX_HEADS.items()}}
    return {k: np.concatenate(v) if v else empty[k] for k, v in chunks.items()}


# --- shipped model: loading and scoring ------------------------------------------------------------
#: Model-card fields the scorer reads (written by :meth:`ClassificationTask.card_extra`).
CARD_FIELDS: Final = ("geometry", "prior_shift", "threshold", "threshold_provenance")


def load_classifier(path: str | Path | None = None, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """The shipped (or given) classifier in eval mode and its model card; corrupt or foreign weights, or weights
    without a card, are refused."""
    from mammo_lib.models.weights import load_model

    path = Path(path) if path else weights_dir() / WEIGHTS_FILE
    model, card = load_model(MassClassifier(), path, architecture=ARCHITECTURE, required=CARD_FIELDS,
                             train_command="mammo train classification", map_location=device)
    try:
        card["geometry"] = PatchGeometry(**card["geometry"]).to_dict()
    except TypeError as exc:
        raise MammoError(f"model card of {path.name} has an unreadable geometry ({exc})") from None
    return model, card


def score_records(records: pd.DataFrame, model: Any, card: dict[str, Any], crops: np.ndarray | None = None,
                  progress: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score view records with a loaded classifier: per-view logits and auxiliary predictions, per-mass score.

    The per-mass table has ``mass_id``, ``n_views``, ``dl_probability``, ``dl_score`` (0-100),
    ``dl_positive`` (score >= the card's threshold) and ``threshold``.
    """
    geometry = PatchGeometry(**card["geometry"])
    if crops is None:
        crops = cached_context_crops(records, geometry, progress=progress)
    heads = predict_heads(model, crops, geometry, progress=progress)
    keep = [c for c in ("mass_id", "image_id", "laterality", "view") if c in records.columns]
    views = records[keep].reset_index(drop=True).copy()
    views["logit"] = heads[PRIMARY_HEAD]
    for head, classes in AUX_HEADS.items():
        views[f"{head}_predicted"] = np.asarray(classes, dtype=object)[heads[head].argmax(axis=1)]
    masses = combine_views(views[["mass_id", "logit"]], float(card["prior_shift"]))
    threshold = float(card["threshold"])
    masses["dl_positive"] = masses["dl_score"] >= threshold
    masses["threshold"] = threshold
    return views, masses


def dl_scores_table(masses: pd.DataFrame) -> pd.DataFrame:
    """The per-mass file notebook 05 hands to Tables 4 / Figure 3 (``vocab.DL_SCORES_FILE``): its columns,
    sorted by mass_id, score and threshold rounded to 2 decimals (stable committed bytes)."""
    require_columns(masses, DL_SCORES_COLUMNS, "scored masses", hint="score them with score_records")
    out = masses[list(DL_SCORES_COLUMNS)].sort_values("mass_id").reset_index(drop=True)
    return out.round({"dl_score": 2, "threshold": 2}).astype({"dl_positive": bool})


def auxiliary_accuracy(records: pd.DataFrame, views: pd.DataFrame) -> pd.DataFrame:
    """Per auxiliary head: views with a label, accuracy of the predicted class, and the majority-class rate."""
    rows = []
    for head in AUX_HEADS:
        truth = records[head].astype("string").reset_index(drop=True)
        known = truth.notna() & (truth != "")
        if not known.any():
            continue
        truth = truth[known]
        predicted = views.loc[known.to_numpy(), f"{head}_predicted"].astype(str).to_numpy()
        rows.append({"head": head, "views": int(known.sum()),
                     "accuracy": float((predicted == truth.to_numpy()).mean()),
                     "majority_rate": float(truth.value_counts(normalize=True).iloc[0])})
    return pd.DataFrame(rows)


def calibration(y_true: Any, probability: Any, n_bins: int = 10) -> tuple[pd.DataFrame, float]:
    """Reliability-diagram points (scikit-learn ``calibration_curve``, quantile bins) and the Brier score."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    y = np.asarray(y_true).astype(int)
    p = np.asarray(probability, dtype=float)
    observed, predicted = calibration_curve(y, p, n_bins=n_bins, strategy="quantile")
    return pd.DataFrame({"mean_predicted": predicted, "observed_fraction": observed}), float(brier_score_loss(y, p))


def extreme_examples(views: pd.DataFrame, masses: pd.DataFrame, label_column: str = "label",
                     n: int = 4) -> pd.DataFrame:
    """The ``n`` highest-scoring negative and ``n`` lowest-scoring positive masses, each with the row of its
    most decisive view (highest logit for negatives, lowest for positives) in ``views``."""
    rows = []
    for label, kind, ascending in ((0, "highest-scoring negative", False), (1, "lowest-scoring positive", True)):
        chosen = masses[masses[label_column] == label].sort_values(["dl_score", "mass_id"], ascending=ascending).head(n)
        for _, mass in chosen.iterrows():
            mine = views.index[views["mass_id"] == mass["mass_id"]]
            logits = views.loc[mine, "logit"]
            view_row = int(logits.idxmax() if label == 0 else logits.idxmin())
            rows.append({"kind": kind, "mass_id": mass["mass_id"], "dl_score": mass["dl_score"], "view_row": view_row})
    return pd.DataFrame(rows)


__all__ = ["CARD_FIELDS", "WEIGHTS_FILE", "auxiliary_accuracy", "calibration", "combine_views", "dl_scores_table",
           "extreme_examples", "load_classifier", "predict_heads", "prior_shift", "score_records", "youden_threshold"]
