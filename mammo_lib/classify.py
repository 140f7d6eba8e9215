"""Mass classification data and inference: cohort records, the patch cache, the training task, scoring.

Patches are cut from each view at its own full resolution (the pixels the findings boxes are drawn in), not
from the 448 x 448 detection input: at 448 px a 10 mm mass spans ~20 px and its margin (spiculated,
microlobulated, indistinct), the strongest malignancy cue in BI-RADS, is averaged away. Vendor differences in
intensity are removed per patch (:func:`mammo_lib.models.classification.standardize`).
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from mammo_lib import vocab
from mammo_lib.checksums import sha256_bytes
from mammo_lib.errors import MammoError
from mammo_lib.models.classification import (
    AUX_HEADS,
    PRIMARY_HEAD,
    PatchGeometry,
    combine_views,
    context_crop,
    encode_targets,
    patch_from_context,
    prior_shift,
    youden_threshold,
)
from mammo_lib.paths import cache_dir, weights_dir

#: Recorded in the weights; :func:`load_classifier` refuses weights of any other architecture.
ARCHITECTURE: Final = "mammo-densenet121-multitask-v1"
#: Shipped weights (fp16 safetensors) and, beside them, the model card ``classification.json``.
WEIGHTS_FILE: Final = "classification.safetensors"
#: Bump when patch cutting changes: part of the patch-cache key.
PATCH_CACHE_VERSION: Final = "1"
#: Columns of a view record (one findings row joined with its image).
BOX_COLUMNS: Final = ("x0", "y0", "x1", "y1")

#: Reads an image: (path, laterality, view) -> 2-D float32 pixels in [0, 1], 1 = most attenuating.
ImageReader = Callable[[Path, str, str], np.ndarray]


def read_pixels(path: Path, laterality: str, view: str) -> np.ndarray:
    """The data layer's reader (:func:`mammo_lib.dicomio.read_image`), reduced to its pixel array."""
    from mammo_lib.dicomio import read_image

    return np.asarray(read_image(path, laterality=laterality, view=view).pixels, dtype=np.float32)


# --- cohort records -------------------------------------------------------------------------------
def view_records(manifest: pd.DataFrame, findings: pd.DataFrame, root: Path) -> pd.DataFrame:
    """One row per mass per view: the findings row with its image's path, laterality, view, patient and split.

    Boxes must be finite and non-empty, every ``image_id`` must be in the manifest; problems are
    reported together, naming rows and values.
    """
    need_m = ("image_id", "patient_id", "laterality", "view", "image_path")
    need_f = ("mass_id", "image_id", *BOX_COLUMNS, "pathology")
    for name, table, need in (("manifest", manifest, need_m), ("findings", findings, need_f)):
        missing = [c for c in need if c not in table.columns]
        if missing:
            raise MammoError(f"{name} lacks column(s) {missing}")
    images = manifest.drop_duplicates("image_id").set_index("image_id")
    problems = []
    unknown = ~findings["image_id"].isin(images.index)
    for row in np.flatnonzero(unknown.to_numpy())[:5]:
        problems.append(f"findings row {row}: image_id {findings['image_id'].iloc[row]!r} is not in the manifest")
    boxes = findings[list(BOX_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    bad_box = ~np.isfinite(boxes.to_numpy(dtype=float)).all(axis=1) | (boxes["x1"] <= boxes["x0"]).to_numpy() \
        | (boxes["y1"] <= boxes["y0"]).to_numpy()
    for row in np.flatnonzero(bad_box)[:5]:
        problems.append(f"findings row {row}: box {tuple(findings[list(BOX_COLUMNS)].iloc[row])} is not a finite "
                        "box with x1 > x0 and y1 > y0")
    if problems:
        more = int(unknown.sum() + bad_box.sum()) - len(problems)
        raise MammoError("; ".join(problems) + (f"; and {more} more" if more > 0 else ""))
    records = findings.reset_index(drop=True).copy()
    records[list(BOX_COLUMNS)] = boxes.to_numpy(dtype=float)
    joined = images.loc[records["image_id"]]
    for column in ("patient_id", "laterality", "view"):
        records[column] = joined[column].astype(str).to_numpy()
    records["image_file"] = [str((root / str(p)).resolve()) for p in joined["image_path"]]
    records["split"] = joined["split"].astype(str).to_numpy() if "split" in images.columns else ""
    if "sha256" in images.columns:
        records["sha256"] = joined["sha256"].astype(str).to_numpy()
    return records


def load_cohort(folder: str | Path, check_files: bool = True) -> pd.DataFrame:
    """View records of a cohort folder (``data_manifest.csv`` + ``data_findings.csv``), validated by the data layer.

    ``check_files=False`` skips the image-existence check (training from a copied crop cache); a crop that
    must still be cut then fails on its missing image with the data layer's MammoError.
    """
    from mammo_lib.manifest import MANIFEST_NAME, load_manifest

    folder = Path(folder)
    manifest_file = folder / MANIFEST_NAME
    if not manifest_file.is_file():
        raise MammoError(f"no {MANIFEST_NAME} in {folder} (generate a cohort with `mammo synth`)")
    cohort = load_manifest(manifest_file, check_files=check_files)
    if cohort.findings is None or cohort.findings.empty:
        raise MammoError(f"cohort {folder} has no findings table: nothing to classify")
    return view_records(cohort.images, cohort.findings, cohort.data_root)


# --- the patch cache ------------------------------------------------------------------------------
def cut_context_crops(records: pd.DataFrame, geometry: PatchGeometry, reader: ImageReader = read_pixels,
                      progress: bool = False) -> np.ndarray:
    """Context crops ``(N, S, S)`` float32 of every view record, reading each image once."""
    from mammo_lib.progress import tqdm

    crops = np.zeros((len(records), geometry.cache_size, geometry.cache_size), dtype=np.float32)
    groups = records.groupby("image_file", sort=True).indices
    for image_file, rows in tqdm(groups.items(), total=len(groups), disable=not progress, desc="patches"):
        first = records.iloc[rows[0]]
        pixels = reader(Path(image_file), str(first["laterality"]), str(first["view"]))
        for row in rows:
            box = tuple(float(records[c].iloc[row]) for c in BOX_COLUMNS)
            crops[row] = context_crop(pixels, box, geometry)
    return crops


def _file_stamp(path: Path) -> str:
    """``size:mtime_ns`` of an image file (cheap, changes when the file is rewritten), or ``missing``."""
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def cached_context_crops(records: pd.DataFrame, geometry: PatchGeometry, reader: ImageReader = read_pixels,
                         folder: Path | None = None, progress: bool = False) -> np.ndarray:
    """:func:`cut_context_crops`, stored as float16 under ``<cache>/classification`` keyed by content.

    The key covers the images (image id and manifest sha256 when present, else the file path; plus each
    file's size and modification time, since a regenerated image keeps its manifest sha256 until
    ``ensure_cohort`` rewrites it), the boxes and the crop geometry, so a changed image, box or crop setting
    never reuses stale crops. A missing image keys as missing: a cache miss then names it.
    """
    identity = ["image_id", "sha256"] if "sha256" in records.columns else ["image_file"]
    stamps = {f: _file_stamp(Path(f)) for f in records["image_file"].unique()}
    material = (records[[*identity, *BOX_COLUMNS]].assign(file=records["image_file"].map(stamps)).to_csv(index=False)
                + json.dumps(geometry.crop_key(), sort_keys=True))
    key = sha256_bytes((PATCH_CACHE_VERSION + material).encode())[:24]
    folder = folder or cache_dir() / "classification"
    path = folder / f"crops-{key}.npy"
    if path.is_file():
        crops = np.load(path)
        if crops.shape == (len(records), geometry.cache_size, geometry.cache_size):
            return crops.astype(np.float32)
    crops = cut_context_crops(records, geometry, reader, progress)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")  # one per process: torchrun ranks may race here
    stored = crops.astype(np.float16)
    np.save(tmp, stored)
    tmp.replace(path)
    return stored.astype(np.float32)  # what a cache hit returns: a first run and a rerun give the same scores


# --- datasets and the training task ----------------------------------------------------------------
def _torch_seeded_rng() -> np.random.Generator:
    """A numpy generator drawn from torch's RNG, so jitter follows fit()'s seeds and DataLoader workers."""
    import torch

    return np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,)).item()))


class MassPatchDataset:
    """Patches of view records with their targets; ``augment`` jitters (training), else centred (evaluation)."""

    def __init__(self, crops: np.ndarray, targets: dict[str, np.ndarray], mass_index: np.ndarray,
                 geometry: PatchGeometry, augment: bool) -> None:
        if not (len(crops) == len(mass_index) and all(len(v) == len(crops) for v in targets.values())):
            raise MammoError(f"patch dataset lengths differ: {len(crops)} crops, {len(mass_index)} masses, "
                             f"targets {[len(v) for v in targets.values()]}")
        self.crops, self.targets, self.mass_index = crops, targets, mass_index
        self.geometry, self.augment = geometry, augment

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        rng = _torch_seeded_rng() if self.augment else None
        patch = patch_from_context(self.crops[i].astype(np.float32), self.geometry, rng)
        item = {"patch": torch.from_numpy(patch.copy())[None], "mass": torch.tensor(int(self.mass_index[i]))}
        item[PRIMARY_HEAD] = torch.tensor(self.targets[PRIMARY_HEAD][i], dtype=torch.float32)
        for head in AUX_HEADS:
            item[head] = torch.tensor(int(self.targets[head][i]), dtype=torch.long)
        return item


def split_by_patient(records: pd.DataFrame, val_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of validation rows: the manifest's ``val`` split when given, else a seeded patient split.

    The seeded split is one fold of scikit-learn's ``StratifiedGroupKFold`` (about ``val_fraction`` of the
    patients, malignant share kept, no patient on both sides). Validation masses choose the operating
    threshold; they never include a test-cohort mass.
    """
    split = records["split"].astype(str).str.strip().str.lower()
    if (split == "val").any():
        return (split == "val").to_numpy()
    from sklearn.model_selection import StratifiedGroupKFold

    if not 0 < val_fraction <= 0.5:
        raise MammoError(f"val_fraction must be in (0, 0.5], got {val_fraction}")
    y = records["pathology"].astype(str).eq("positive").to_numpy()
    groups = records["patient_id"].astype(str)
    # no more folds than patients of the rarer class, so the validation fold can hold both classes
    rarer = min(groups[y].nunique(), groups[~y].nunique())
    folds = StratifiedGroupKFold(n_splits=max(2, min(round(1 / val_fraction), rarer)), shuffle=True,
                                 random_state=seed)
    _, val_rows = next(folds.split(records, y, groups=groups))
    mask = np.zeros(len(records), dtype=bool)
    mask[val_rows] = True
    return mask


@dataclass
class ClassificationTask:
    """The classification model for :func:`mammo_lib.train.fit`: data, loss, validation AUC and card fields."""

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
        from mammo_lib.models.classification import MassClassifier

        return MassClassifier(drop_rate=self.drop_rate)

    def datasets(self) -> tuple[MassPatchDataset, MassPatchDataset | None]:
        val = self._subset(self.is_val, augment=False) if self.is_val.any() else None
        return self._subset(~self.is_val, augment=True), val

    def loss(self, model: Any, batch: dict[str, Any]) -> Any:
        from mammo_lib.models.classification import multitask_loss

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


def subset_masses(records: pd.DataFrame, per_class: int) -> pd.DataFrame:
    """Views of the first ``per_class`` positive and negative masses (sorted ids): both classes, always."""
    masses = records.drop_duplicates("mass_id").sort_values("mass_id")
    keep = pd.concat([g.head(per_class) for _, g in masses.groupby(masses["pathology"].astype(str))])["mass_id"]
    return records[records["mass_id"].isin(keep)].reset_index(drop=True)


def make_task(data_dir: str | Path, *, seed: int, smoke: bool, options: dict[str, str]
              ) -> tuple[ClassificationTask, dict[str, Any]]:
    """The ``mammo train classification`` factory: view records and cached crops of ``data_dir``, task, defaults."""
    unknown = sorted(set(options) - set(TASK_OPTIONS))
    if unknown:
        raise MammoError(f"unknown classification option(s) {unknown}; known: {sorted(TASK_OPTIONS)}")
    try:
        values = {k: TASK_OPTIONS[k](v) for k, v in options.items()}
    except ValueError as exc:
        raise MammoError(f"classification option has a bad value ({exc})") from None
    records = load_cohort(data_dir, check_files=False)  # images are read only where the crop cache misses
    if smoke or "max_masses" in values:
        records = subset_masses(records, 4 if smoke else max(1, values["max_masses"] // 2))
    geometry = PatchGeometry(patch_size=values.get("patch_size", PatchGeometry.patch_size),
                             input_scale=values.get("input_scale", PatchGeometry.input_scale))
    crops = cached_context_crops(records, geometry, progress=not smoke)
    n_masses = records["mass_id"].nunique()
    n_pos = records.drop_duplicates("mass_id")["pathology"].astype(str).eq("positive").sum()
    task = ClassificationTask(
        records=records, crops=crops, geometry=geometry, seed=seed,
        val_fraction=values.get("val_fraction", 0.15), aux_weight=values.get("aux_weight", 1.0),
        drop_rate=values.get("drop_rate", 0.2),
        data_description=(f"{Path(data_dir).name}: {n_masses} masses ({n_pos} positive), {len(records)} views; "
                          f"{geometry.patch_size} px patches at {geometry.input_size} px input"),
    )
    return task, dict(SMOKE_DEFAULTS if smoke else TRAIN_DEFAULTS)


# --- shipped model: loading and scoring ------------------------------------------------------------
#: Model-card fields the scorer reads (written by :meth:`ClassificationTask.card_extra`).
CARD_FIELDS: Final = ("geometry", "prior_shift", "threshold", "threshold_provenance")


def load_classifier(path: str | Path | None = None, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """The shipped (or given) classifier in eval mode and its model card; corrupt or foreign weights are refused."""
    from mammo_lib.models.classification import MassClassifier
    from mammo_lib.train import load_weights, read_card

    path = Path(path) if path else weights_dir() / WEIGHTS_FILE
    if not path.is_file():
        raise MammoError(f"no classification weights at {path}; train and ship them with "
                         "`mammo train classification --export ship`")
    model = load_weights(MassClassifier(), path, architecture=ARCHITECTURE, map_location=device)
    card = read_card(path)
    missing = [f for f in CARD_FIELDS if f not in (card or {})]
    if missing:
        raise MammoError(f"model card of {path.name} lacks {missing}: it was not written by `mammo train classification`")
    try:
        card["geometry"] = PatchGeometry(**card["geometry"]).to_dict()
    except TypeError as exc:
        raise MammoError(f"model card of {path.name} has an unreadable geometry ({exc})") from None
    return model.eval(), card


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
    """The per-mass file notebook 05 hands to Tables 4 / Figure 3 (``tables.DL_SCORES_FILE``): its columns,
    sorted by mass_id, score and threshold rounded to 2 decimals (stable committed bytes)."""
    from mammo_lib.tables import DL_SCORES_COLUMNS

    missing = [c for c in DL_SCORES_COLUMNS if c not in masses.columns]
    if missing:
        raise MammoError(f"scored masses lack column(s) {missing}; score them with score_records")
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


# --- evaluation (notebook 05) ----------------------------------------------------------------------
def performance(y_true: Any, score: Any, threshold: float) -> pd.DataFrame:
    """Table 4's DL column on given masses: AUC with DeLong 95% CI, and accuracy, sensitivity, specificity
    (Wilson 95% CIs) of ``score >= threshold``; one row per measure."""
    from mammo_lib.stats import binary_metrics, delong_ci

    y = np.asarray(y_true).astype(bool)
    score = np.asarray(score, dtype=float)
    if y.shape != score.shape:
        raise MammoError(f"y_true has {y.size} masses but score has {score.size}")
    auc = delong_ci(y, score)
    calls = binary_metrics(y, score >= threshold)
    rows = [{"measure": "AUC", "value": auc.auc, "lower": auc.lower, "upper": auc.upper, "count": "", "n": len(y)}]
    for name in ("accuracy", "sensitivity", "specificity"):
        p = getattr(calls, name)
        rows.append({"measure": name, "value": p.estimate, "lower": p.lower, "upper": p.upper,
                     "count": str(p.count), "n": p.nobs})
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


def plot_roc(ax: Any, y_true: Any, score: Any, label: str) -> None:
    """One ROC curve (scikit-learn ``roc_curve``) with its AUC in the legend, chance diagonal, square axes."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(np.asarray(y_true).astype(int), np.asarray(score, dtype=float))
    ax.plot(fpr, tpr, label=f"{label} (AUC {roc_auc_score(y_true, score):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1), aspect="equal")
    ax.legend(loc="lower right")


def plot_reliability(ax: Any, points: pd.DataFrame, brier: float) -> None:
    """Reliability diagram: observed malignant fraction against mean predicted probability per bin."""
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfect calibration")
    ax.plot(points["mean_predicted"], points["observed_fraction"], marker="o", label=f"DL (Brier {brier:.3f})")
    ax.set(xlabel="mean predicted probability of malignancy", ylabel="observed fraction malignant",
           xlim=(0, 1), ylim=(0, 1), aspect="equal")
    ax.legend(loc="upper left")


def plot_examples(crops: np.ndarray, geometry: PatchGeometry, examples: pd.DataFrame, records: pd.DataFrame) -> Any:
    """Gallery of :func:`extreme_examples`: one row per kind, the centred patch of each mass's decisive view."""
    import matplotlib.pyplot as plt

    kinds = list(dict.fromkeys(examples["kind"]))
    n = int(examples.groupby("kind").size().max())
    fig, axes = plt.subplots(len(kinds), n, figsize=(2.2 * n, 2.5 * len(kinds)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, kind in enumerate(kinds):
        for c, (_, ex) in enumerate(examples[examples["kind"] == kind].iterrows()):
            record = records.iloc[int(ex["view_row"])]
            patch = patch_from_context(crops[int(ex["view_row"])].astype(np.float32), geometry)
            axes[r, c].imshow(patch, cmap="gray")
            axes[r, c].set_title(f"{ex['mass_id']} {record['view']}\nscore {ex['dl_score']:.1f}\n{record['histology']}",
                                 fontsize=7)
        axes[r, 0].text(-0.1, 0.5, kind, transform=axes[r, 0].transAxes, rotation=90, ha="right", va="center")
    fig.tight_layout()
    return fig
