"""Classification data: cohort records (one row per mass per view), training targets, the patch cache and
the patch Dataset."""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from mammo_lib import vocab
from mammo_lib.checksums import sha256_bytes
from mammo_lib.errors import MammoError
from mammo_lib.models.classification.network import AUX_HEADS, IGNORE_INDEX, PRIMARY_HEAD
from mammo_lib.models.classification.patches import PatchGeometry, context_crop, patch_from_context
from mammo_lib.paths import cache_dir
from mammo_lib.validation import require_columns
from mammo_lib.vocab import BOX_COLUMNS

#: Bump when patch cutting changes: part of the patch-cache key.
PATCH_CACHE_VERSION: Final = "1"

#: Reads an image: (path, laterality, view) -> 2-D float32 pixels in [0, 1], 1 = most attenuating.
ImageReader = Callable[[Path, str, str], np.ndarray]


def read_pixels(path: Path, laterality: str, view: str) -> np.ndarray:
    """The data layer's reader (:func:`mammo_lib.data.dicomio.read_image`), reduced to its pixel array."""
    from mammo_lib.data.dicomio import read_image

    return np.asarray(read_image(path, laterality=laterality, view=view).pixels, dtype=np.float32)


# --- cohort records -------------------------------------------------------------------------------
def view_records(manifest: pd.DataFrame, findings: pd.DataFrame, root: Path) -> pd.DataFrame:
    """One row per mass per view: the findings row with its image's path, laterality, view, patient and split.

    Boxes must be finite and non-empty, every ``image_id`` must be in the manifest; problems are
    reported together, naming rows and values.
    """
    need_m = ("image_id", "patient_id", "laterality", "view", "image_path")
    need_f = ("mass_id", "image_id", *BOX_COLUMNS, "pathology")
    require_columns(manifest, need_m, "manifest")
    require_columns(findings, need_f, "findings")
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
    from mammo_lib.data.manifest import MANIFEST_NAME, load_manifest

    folder = Path(folder)
    manifest_file = folder / MANIFEST_NAME
    if not manifest_file.is_file():
        raise MammoError(f"no {MANIFEST_NAME} in {folder} (generate a cohort with `mammo synth`)")
    cohort = load_manifest(manifest_file, check_files=check_files)
    if cohort.findings is None or cohort.findings.empty:
        raise MammoError(f"cohort {folder} has no findings table: nothing to classify")
    return view_records(cohort.images, cohort.findings, cohort.data_root)


def subset_masses(records: pd.DataFrame, per_class: int) -> pd.DataFrame:
    """Views of the first ``per_class`` positive and negative masses (sorted ids): both classes, always."""
    masses = records.drop_duplicates("mass_id").sort_values("mass_id")
    keep = pd.concat([g.head(per_class) for _, g in masses.groupby(masses["pathology"].astype(str))])["mass_id"]
    return records[records["mass_id"].isin(keep)].reset_index(drop=True)


# --- targets ----------------------------------------------------------------------------------------
def encode_targets(findings: pd.DataFrame) -> dict[str, np.ndarray]:
    """Training targets per findings row: malignancy 0/1 from ``pathology``; auxiliary class indices.

    ``pathology`` must be known on every row (it is the primary label). A missing auxiliary descriptor
    becomes ``IGNORE_INDEX`` (the loss skips it); an unknown code raises, naming column, value and row.
    """
    require_columns(findings, ["pathology", *AUX_HEADS], "findings table")
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


# --- the patch cache ------------------------------------------------------------------------------
def cut_context_crops(records: pd.DataFrame, geometry: PatchGeometry, reader: ImageReader = read_pixels,
                      progress: bool = False) -> np.ndarray:
    """Context crops ``(N, S, S)`` float32 of every view record, reading each image once."""
    from tqdm.auto import tqdm

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


# --- the patch dataset -----------------------------------------------------------------------------
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


__all__ = ["BOX_COLUMNS", "PATCH_CACHE_VERSION", "ImageReader", "MassPatchDataset", "cached_context_crops",
           "cut_context_crops", "encode_targets", "load_cohort", "read_pixels", "split_by_patient",
           "subset_masses", "view_records"]
