"""The classifier's training task (``mammo train classification``): view records and cached crops of a
cohort folder, patients split into training and validation, multi-task loss, validation AUC, and the model-card
fields the scorer needs (geometry, prior shift, Youden threshold on validation masses)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from mammo_lib import vocab
from mammo_lib.errors import MammoError
from mammo_lib.models.classification.data import (MassPatchDataset, cached_context_crops, encode_targets, view_records,
                                                  split_by_patient, subset_masses)
from mammo_lib.models.classification.inference import combine_views, predict_heads, prior_shift, youden_threshold
from mammo_lib.models.classification.network import ARCHITECTURE, AUX_HEADS, PRIMARY_HEAD, MassClassifier, multitask_loss
from mammo_lib.models.classification.patches import PatchGeometry


@dataclass
class ClassificationTask:
    """The classification model for :func:`mammo_lib.training.loop.fit`: data, loss, validation AUC and card fields."""

    records: pd.DataFrame
    crops: np.ndarray
    geometry: PatchGeometry = field(default_factory=PatchGeometry)
    seed: int = 20231027
    val_fraction: float = 0.15
    aux_weight: float = 1.0     # auxiliary heads weigh as much as malignancy: shape/margin supervision
    drop_rate: float = 0.2
    data_description: str = ""
    architecture: str = ARCHITECTURE
    metric_name: str = "val_auc"

    def __post_init__(self) -> None:
        self.studies: dict[str, list[str]] = {}
        if len(self.records) != len(self.crops):
            raise MammoError(f"{len(self.records)} view records but {len(self.crops)} crops")
        self.targets = encode_targets(self.records)
        self.mass_codes, self.mass_ids = pd.factorize(self.records["mass_id"].astype(str), sort=True)
        self.is_val = split_by_patient(self.records, self.val_fraction, self.seed)
        train_y = self.targets[PRIMARY_HEAD][~self.is_val]
        positives, negatives = int(train_y.sum()), int((1 - train_y).sum())
        if positives == 0 or negatives == 0:
            raise MammoError(f"training views need both classes, got {positives} positive and {negatives} negative")
        #: BCE weight of positives = negatives / positives in training (class imbalance, issue #7).
        self.pos_weight = negatives / positives

    def _subset(self, mask: np.ndarray, augment: bool) -> MassPatchDataset:
        rows = np.flatnonzero(mask)
        return MassPatchDataset(self.crops[rows], {k: v[rows] for k, v in self.targets.items()},
                                self.mass_codes[rows], self.geometry, augment)

    def build_model(self) -> Any:
        return MassClassifier(drop_rate=self.drop_rate)

    def datasets(self) -> tuple[MassPatchDataset, MassPatchDataset | None]:
        val = self._subset(self.is_val, augment=False) if self.is_val.any() else None
        return self._subset(~self.is_val, augment=True), val

    def loss(self, model: Any, batch: dict[str, Any]) -> Any:
        total, _ = multitask_loss(model(batch["patch"]), batch, self.pos_weight, self.aux_weight)
        return total

    def validation_step(self, model: Any, batch: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        logits = model(batch["patch"])[PRIMARY_HEAD].float()
        return (batch["mass"].cpu().numpy(), logits.cpu().numpy(), batch[PRIMARY_HEAD].cpu().numpy())

    def validation_metric(self, outputs: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> float:
        """Per-mass AUC on validation masses (views combined as in the shipped score)."""
        from sklearn.metrics import roc_auc_score

        masses = per_mass_table(outputs, self.pos_weight)
        if masses["label"].nunique() < 2:
            return float("nan")
        return float(roc_auc_score(masses["label"], masses["dl_score"]))

    def card_extra(self, model: Any) -> dict[str, Any]:
        """Model-card fields the scorer needs: geometry, prior shift, threshold and its provenance."""
        rows = np.flatnonzero(self.is_val)
        logits = predict_heads(model, self.crops[rows], self.geometry)[PRIMARY_HEAD]
        outputs = [(self.mass_codes[rows], logits, self.targets[PRIMARY_HEAD][rows])]
        masses = per_mass_table(outputs, self.pos_weight)
        threshold = youden_threshold(masses["label"].to_numpy(), masses["dl_score"].to_numpy())
        return {
            "geometry": self.geometry.to_dict(),
            "heads": {PRIMARY_HEAD: list(vocab.PATHOLOGY), **{k: list(v) for k, v in AUX_HEADS.items()}},
            "pos_weight": self.pos_weight,
            "prior_shift": prior_shift(self.pos_weight),
            "threshold": round(threshold, 4),
            "threshold_provenance": (
                f"Youden J maximum on {len(masses)} validation masses ({int(masses['label'].sum())} positive) of "
                f"the training cohort, patients held out of training (seed {self.seed}); never the test cohort"),
            "combination_rule": "mean of the per-view malignancy logits minus prior_shift, sigmoid, x100",
        }


def per_mass_table(outputs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], pos_weight: float) -> pd.DataFrame:
    """Combine per-view (mass, logit, label) batches into per-mass ``label`` and ``dl_score`` (0-100)."""
    mass = np.concatenate([o[0] for o in outputs])
    logit = np.concatenate([o[1] for o in outputs])
    label = np.concatenate([o[2] for o in outputs])
    table = combine_views(pd.DataFrame({"mass_id": mass, "logit": logit}), prior_shift(pos_weight))
    labels = pd.Series(label, index=mass).groupby(level=0).max()
    table["label"] = labels.loc[table["mass_id"]].to_numpy().astype(int)
    return table


# --- `mammo train classification` ------------------------------------------------------------------
#: Training defaults (TrainConfig fields): 48 px patches train at ~46 patches/s on one idle CPU core and
#: ~25 on the shared 2-core machine (measured), so 36 epochs of a 600-patient cohort (~1,950 training views)
#: take about an hour; 7 epochs left the auxiliary heads at their majority rate (under-trained). The shipped
#: weights use more data and larger patches instead: a 1500-patient cohort (2,861 masses), `patch_size=64`,
#: 30 epochs on 2 threads (~65 patches/s, 40 min on an idle 2-core machine; the model card has the command).
TRAIN_DEFAULTS: Final = {"epochs": 36, "batch_size": 32, "lr": 1e-3, "weight_decay": 1e-2, "warmup_steps": 40}
SMOKE_DEFAULTS: Final = {"epochs": 1, "batch_size": 4, "lr": 1e-3, "max_steps_per_epoch": 2, "warmup_steps": 0}
#: Task options (``mammo train classification --option KEY=VALUE``) and their types.
TASK_OPTIONS: Final = {"patch_size": int, "input_scale": float, "val_fraction": float, "aux_weight": float, "drop_rate": float,
                       "max_masses": int}


def make_task(data: Any, *, seed: int, smoke: bool, options: dict[str, str]
              ) -> tuple[ClassificationTask, dict[str, Any]]:
    """The ``mammo train classification`` factory: view records and cached crops of a cohort (a
    :class:`mammo_lib.data.cohort.CohortSpec`, a cohort file or a cohort folder), task, defaults.

    Only masses of exams in the cohort's train and val roles are used (:func:`mammo_lib.data.cohort.training_exams`;
    the test role never): val-role masses validate and set the threshold; without any, a seeded patient split
    of the training masses does (``val_fraction``).
    """
    from mammo_lib.data.cohort import exam_roles, training_cohort, training_exams

    unknown = sorted(set(options) - set(TASK_OPTIONS))
    if unknown:
        raise MammoError(f"unknown classification option(s) {unknown}; known: {sorted(TASK_OPTIONS)}")
    try:
        values = {k: TASK_OPTIONS[k](v) for k, v in options.items()}
    except ValueError as exc:
        raise MammoError(f"classification option has a bad value ({exc})") from None
    spec = training_cohort(data)
    cohort = spec.load(check_files=False)  # images are read only where the crop cache misses
    if cohort.findings is None or cohort.findings.empty:
        raise MammoError(f"cohort {spec.name!r} has no findings table: nothing to classify")
    roles = {s: "train" for s in training_exams(cohort.images, spec)} | {
        s: "val" for s in training_exams(cohort.images, spec, role="val")}
    images = cohort.images[cohort.images["study_id"].astype(str).isin(roles)]
    images = images.assign(split=images["study_id"].astype(str).map(roles))  # the role decides validation
    records = view_records(images, cohort.findings[cohort.findings["image_id"].isin(images["image_id"])],
                           cohort.data_root)
    if records.empty:
        raise MammoError(f"cohort {spec.name!r} has no mass in its train or val role (test-role masses are never "
                         "trained on)")
    if smoke or "max_masses" in values:
        records = subset_masses(records, 4 if smoke else max(1, values["max_masses"] // 2))
    geometry = PatchGeometry(patch_size=values.get("patch_size", PatchGeometry.patch_size),
                             input_scale=values.get("input_scale", PatchGeometry.input_scale))
    crops = cached_context_crops(records, geometry, progress=not smoke)
    n_masses = records["mass_id"].nunique()
    n_pos = records.drop_duplicates("mass_id")["pathology"].astype(str).eq("positive").sum()
    n_test = int((exam_roles(cohort.images, spec) == "test").sum())
    task = ClassificationTask(
        records=records, crops=crops, geometry=geometry, seed=seed,
        val_fraction=values.get("val_fraction", 0.15), aux_weight=values.get("aux_weight", 1.0),
        drop_rate=values.get("drop_rate", 0.2),
        data_description=(f"{spec.name}: {n_masses} masses ({n_pos} positive), {len(records)} views of the train "
                          f"and val roles ({n_test} exams of the test role never used); {geometry.patch_size} px "
                          f"patches at {geometry.input_size} px input"),
    )
    study_of = images.drop_duplicates("image_id").set_index("image_id")["study_id"].astype(str)
    studies = study_of.loc[records["image_id"]].to_numpy()
    #: study_ids by role the task was built from (what the model card and the exam list record)
    task.studies = {"train": sorted(set(studies[~task.is_val])), "val": sorted(set(studies[task.is_val]))}
    return task, dict(SMOKE_DEFAULTS if smoke else TRAIN_DEFAULTS)


__all__ = ["SMOKE_DEFAULTS", "TASK_OPTIONS", "TRAIN_DEFAULTS", "ClassificationTask", "make_task", "per_mass_table"]
