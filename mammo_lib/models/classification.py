"""Mass classification (paper Figure 2): a multi-task DenseNet-121 scoring each mass 0 (benign) to 100 (malignant).

The pieces, in the order a mass goes through them: patch geometry (a square around the mass box, cut once
as a larger *context crop*, then centred or jittered into the network patch), the network (timm
``densenet121``, ``pretrained=False``, one input channel, a malignancy head and auxiliary morphology, margin,
mass-density and BI-RADS heads), the multi-task loss, and the view-combination rule giving the 0-100 score.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Final

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from mammo_lib import vocab
from mammo_lib.errors import MammoError

#: The primary head: malignancy (reference pathology positive = 1), one logit per patch.
PRIMARY_HEAD: Final = "malignancy"
#: Auxiliary heads and their classes, in vocab order (paper Figure 2: BN/MT plus the BI-RADS descriptors).
AUX_HEADS: Final[dict[str, tuple[str, ...]]] = {
    "morphology": vocab.MORPHOLOGY,
    "margin": vocab.MARGIN,
    "mass_density": vocab.MASS_DENSITY,
    "birads": vocab.BIRADS,
}
#: Target value of an auxiliary label that is missing (user data often lacks descriptors): ignored by the loss.
IGNORE_INDEX: Final = -1


# --- patch geometry ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class PatchGeometry:
    """How a mass box becomes a network patch; stored with the weights so inference cuts the same patches."""

    patch_size: int = 48        # network input side (px): a median 14 mm twin mass (~45 px patch) at ~native scale
    context: float = 1.5        # patch side = context x the longer box side: the mass and its margin zone
    min_side: float = 24.0      # smallest patch side in source pixels, so tiny boxes keep some surround
    cache_margin: float = 1.5   # context crop side / patch side: room for jitter without re-reading images
    max_shift: float = 0.1      # training jitter: centre shift up to this fraction of the patch side
    max_scale: float = 0.15     # training jitter: patch side scaled by U(1 - s, 1 + s)
    input_scale: float = 1.0    # network input = patch upsampled by this: the DenseNet stem (stride 4) then
    #                             sees a 1-2 px spicule over more than one pixel; crops stay at patch_size

    def __post_init__(self) -> None:
        if self.patch_size < 32:
            raise MammoError(f"patch_size must be >= 32 (DenseNet-121 downsamples 32x), got {self.patch_size}")
        if not (math.isfinite(self.input_scale) and 1.0 <= self.input_scale <= 4.0):
            raise MammoError(f"input_scale must be in [1, 4] (an upsampling factor), got {self.input_scale}")
        if self.context <= 0 or self.min_side <= 0:
            raise MammoError(f"context and min_side must be > 0, got {self.context} and {self.min_side}")
        if self.cache_margin < 1 + self.max_scale + 2 * self.max_shift - 1e-9:
            raise MammoError(
                f"cache_margin {self.cache_margin} leaves no room for jitter "
                f"(needs >= 1 + max_scale + 2 * max_shift = {1 + self.max_scale + 2 * self.max_shift:g})"
            )

    @property
    def cache_size(self) -> int:
        """Side (px) of the cached context crop; a non-jittered patch is its exact centre."""
        return int(round(self.patch_size * self.cache_margin))

    @property
    def input_size(self) -> int:
        """Side (px) of the network input: ``patch_size`` x ``input_scale``."""
        return int(round(self.patch_size * self.input_scale))

    def crop_key(self) -> dict[str, float]:
        """The fields that decide a context crop's pixels (jitter and input scale do not): the cache key."""
        return {k: getattr(self, k) for k in ("patch_size", "context", "min_side", "cache_margin")}

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def patch_square(box: tuple[float, float, float, float], geometry: PatchGeometry) -> tuple[float, float, float]:
    """Centre ``(cx, cy)`` and side of the patch square for a box ``(x0, y0, x1, y1)`` (x1/y1 exclusive)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise MammoError(f"mass box has a non-finite coordinate: {box}")
    if x1 <= x0 or y1 <= y0:
        raise MammoError(f"mass box is empty or inverted (need x1 > x0 and y1 > y0): {box}")
    side = max(geometry.context * max(x1 - x0, y1 - y0), geometry.min_side)
    return (x0 + x1) / 2.0, (y0 + y1) / 2.0, side


def crop_square(pixels: np.ndarray, cx: float, cy: float, side: float, out_size: int) -> np.ndarray:
    """Cut the square of ``side`` source pixels centred on ``(cx, cy)`` and resample it to ``out_size``.

    Parts outside the image are zero (the background of a mammogram after VOI); resampling is bilinear with
    antialiasing, so downsampling a large mass does not alias its margin.
    """
    if pixels.ndim != 2:
        raise MammoError(f"expected a 2-D image, got shape {pixels.shape}")
    n = max(int(round(side)), 1)
    left, top = int(math.floor(cx - n / 2.0)), int(math.floor(cy - n / 2.0))
    height, width = pixels.shape
    canvas = np.zeros((n, n), dtype=np.float32)
    sx0, sy0 = max(left, 0), max(top, 0)
    sx1, sy1 = min(left + n, width), min(top + n, height)
    if sx1 > sx0 and sy1 > sy0:
        canvas[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = pixels[sy0:sy1, sx0:sx1]
    return canvas if n == out_size else _resize(canvas, out_size)


def _resize(square: np.ndarray, out_size: int) -> np.ndarray:
    """Bilinear resampling of a square array to ``out_size`` px (antialiased when shrinking)."""
    tensor = torch.from_numpy(np.ascontiguousarray(square, dtype=np.float32))[None, None]
    resized = F.interpolate(tensor, size=(out_size, out_size), mode="bilinear", antialias=True, align_corners=False)
    return resized[0, 0].numpy()


def context_crop(pixels: np.ndarray, box: tuple[float, float, float, float], geometry: PatchGeometry) -> np.ndarray:
    """The cached crop of one mass view: ``cache_margin`` x the patch square, at ``cache_size`` px."""
    cx, cy, side = patch_square(box, geometry)
    return crop_square(pixels, cx, cy, side * geometry.cache_margin, geometry.cache_size)


def standardize(patch: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per patch: removes vendor/exposure offsets, keeps the mass-to-surround contrast."""
    patch = patch.astype(np.float32, copy=False)
    return (patch - patch.mean()) / max(float(patch.std()), 1e-3)


def patch_from_context(crop: np.ndarray, geometry: PatchGeometry, rng: np.random.Generator | None = None) -> np.ndarray:
    """The standardized network patch from a context crop: its exact centre, or (with ``rng``) a jittered one,
    at ``geometry.input_size`` px (bilinear upsampling when ``input_scale`` > 1).

    Jitter (training only): centre shift, scale, horizontal/vertical flips and 90-degree turns; a mass has
    no preferred orientation in a patch, so these keep its label.
    """
    size = geometry.patch_size
    if crop.shape != (geometry.cache_size, geometry.cache_size):
        raise MammoError(f"context crop has shape {crop.shape}, expected {(geometry.cache_size,) * 2}")
    centre = geometry.cache_size / 2.0
    if rng is None:
        start = (geometry.cache_size - size) // 2
        patch = crop[start:start + size, start:start + size]
        return standardize(patch if geometry.input_size == size else _resize(patch, geometry.input_size))
    side = size * rng.uniform(1 - geometry.max_scale, 1 + geometry.max_scale)
    dx, dy = rng.uniform(-geometry.max_shift, geometry.max_shift, size=2) * size
    patch = crop_square(crop, centre + dx, centre + dy, side, geometry.input_size)
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    if rng.random() < 0.5:
        patch = patch[::-1, :]
    patch = np.rot90(patch, k=int(rng.integers(4)))
    return standardize(np.ascontiguousarray(patch))


# --- targets --------------------------------------------------------------------------------------
def encode_targets(findings: pd.DataFrame) -> dict[str, np.ndarray]:
    """Training targets per findings row: malignancy 0/1 from ``pathology``; auxiliary class indices.

    ``pathology`` must be known on every row (it is the primary label). A missing auxiliary descriptor
    becomes ``IGNORE_INDEX`` (the loss skips it); an unknown code raises, naming column, value and row.
    """
    missing = [c for c in ("pathology", *AUX_HEADS) if c not in findings.columns]
    if missing:
        raise MammoError(f"findings table lacks column(s) {missing}")
    pathology = findings["pathology"].astype("string").str.strip().str.lower()
    bad = ~pathology.isin(vocab.PATHOLOGY)
    if bad.any():
        row = bad.to_numpy().nonzero()[0][0]
        value = findings["pathology"].iloc[row]
        raise MammoError(
            f"pathology must be one of {vocab.PATHOLOGY}; row {row} (mass_id "
            f"{findings.iloc[row].get('mass_id', '?')}) has {'a missing value' if pd.isna(value) else repr(value)}"
        )
    targets = {PRIMARY_HEAD: (pathology == "positive").to_numpy(dtype=np.float32)}
    for head, classes in AUX_HEADS.items():
        column = findings[head]
        codes = np.full(len(findings), IGNORE_INDEX, dtype=np.int64)
        present = column.notna() & (column.astype("string").str.strip() != "")
        values = column[present].astype(str).str.strip()
        if head != "birads":
            values = values.str.lower()
        lookup = {c: i for i, c in enumerate(classes)}
        unknown = ~values.isin(lookup)
        if unknown.any():
            label = unknown[unknown].index[0]
            raise MammoError(f"{head} must be one of {classes}; row {findings.index.get_loc(label)} has {column[label]!r}")
        codes[present.to_numpy()] = values.map(lookup).to_numpy(dtype=np.int64)
        targets[head] = codes
    return targets


# --- the network ----------------------------------------------------------------------------------
class MassClassifier(nn.Module):
    """DenseNet-121 trunk (timm, no pretrained download, 1 channel) with one linear head per task."""

    def __init__(self, backbone: str = "densenet121", drop_rate: float = 0.2) -> None:
        super().__init__()
        import timm

        self.backbone = timm.create_model(backbone, pretrained=False, in_chans=1, num_classes=0)
        features = int(self.backbone.num_features)
        self.dropout = nn.Dropout(drop_rate)
        self.heads = nn.ModuleDict({PRIMARY_HEAD: nn.Linear(features, 1)})
        for head, classes in AUX_HEADS.items():
            self.heads[head] = nn.Linear(features, len(classes))

    def forward(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits per head for a batch ``(N, 1, H, W)``; malignancy is ``(N,)``, the others ``(N, classes)``."""
        features = self.dropout(self.backbone(patches))
        out = {name: head(features) for name, head in self.heads.items()}
        out[PRIMARY_HEAD] = out[PRIMARY_HEAD].squeeze(1)
        return out


def multitask_loss(
    outputs: Mapping[str, torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    pos_weight: float,
    aux_weight: float = 0.25,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted BCE on malignancy plus ``aux_weight`` x the mean cross-entropy of the auxiliary heads.

    ``pos_weight`` (negatives / positives in training) balances the classes; :func:`prior_shift` undoes
    its effect on the output probability. Auxiliary heads whose labels are all missing in a batch add 0.
    """
    weight = torch.tensor(float(pos_weight), dtype=outputs[PRIMARY_HEAD].dtype, device=outputs[PRIMARY_HEAD].device)
    primary = F.binary_cross_entropy_with_logits(outputs[PRIMARY_HEAD], targets[PRIMARY_HEAD].to(weight.dtype), pos_weight=weight)
    parts = {PRIMARY_HEAD: float(primary.detach())}
    aux_terms = []
    for head in AUX_HEADS:
        labels = targets[head]
        if bool((labels != IGNORE_INDEX).any()):
            term = F.cross_entropy(outputs[head], labels, ignore_index=IGNORE_INDEX)
            aux_terms.append(term)
            parts[head] = float(term.detach())
    total = primary + (aux_weight * torch.stack(aux_terms).mean() if aux_terms else 0.0)
    parts["total"] = float(total.detach())
    return total, parts


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
    missing = [c for c in ("mass_id", "logit") if c not in view_logits.columns]
    if missing:
        raise MammoError(f"view logits lack column(s) {missing}")
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


def make_task(data_dir: object, *, seed: int, smoke: bool, options: dict[str, str]) -> tuple[object, dict[str, object]]:
    """``mammo train classification`` entry (see :data:`mammo_lib.train.TASKS`); the task lives in classify."""
    from mammo_lib.classify import make_task as classify_task

    return classify_task(data_dir, seed=seed, smoke=smoke, options=options)
