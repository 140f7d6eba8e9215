"""Detection data: exams of four preprocessed views with their mass boxes, their cache and the Dataset.

An *exam tensor set* holds, for one study, the four standard views (``vocab.STANDARD_VIEWS`` order) as
preprocessed 448 x 448 arrays (``mammo_lib.preprocess.preprocess_cached``: chest wall left, so both breasts
face the same side, which is BDVN's mirroring), their nipples, which views are present, and every mass box
mapped into the 448 grid by the view's own transform. :func:`build_exam_cache` makes them from a cohort
(``mammo_lib.data.manifest.load_manifest``) once and stores them as ``.npz`` under ``paths.cache_dir()``;
:func:`build_exam_batch` does the same for an evaluation, skipping (and listing) views whose files are unusable.
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mammo_lib.errors import MammoError
from mammo_lib.models.augment import DomainRandomisation
from mammo_lib.models.detection.network import heatmap_targets
from mammo_lib.vocab import BOX_COLUMNS, STANDARD_VIEWS

#: Boxes per view kept in a batch (padded with NaN); more masses on one view than this is an error.
MAX_BOXES = 8
CACHE_VERSION = "2"


@dataclass
class Exam:
    """One exam ready for the detector (all coordinates in the size x size preprocessed grid)."""

    study_id: str
    images: np.ndarray          # float16 [4, S, S]; zeros where a view is absent
    nipples: np.ndarray         # float32 [4, 2]; NaN where unknown/absent
    present: np.ndarray         # bool [4]
    boxes: list[np.ndarray]     # per view [n, 4] float32
    mass_ids: list[list[str]]   # per view, the mass_id of each box
    image_ids: list[str]        # per view, "" where absent
    breast_density: str = ""
    transforms: list[dict[str, Any] | None] | None = None  # per view ViewTransform.to_dict() (448 grid <-> image)

    def save(self, path: Path) -> None:
        """Write as one compressed ``.npz`` (boxes/ids as JSON metadata)."""
        meta = {"study_id": self.study_id, "boxes": [b.tolist() for b in self.boxes], "mass_ids": self.mass_ids,
                "image_ids": self.image_ids, "breast_density": self.breast_density, "version": CACHE_VERSION,
                "transforms": self.transforms}
        tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")  # one per process: concurrent cache builders
        np.savez_compressed(tmp, images=self.images, nipples=self.nipples, present=self.present,
                            meta=np.array(json.dumps(meta)))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Exam:
        """Read an exam written by :meth:`save`; a damaged file is a MammoError naming it."""
        try:
            with np.load(path) as data:
                meta = json.loads(str(data["meta"]))
                return cls(study_id=meta["study_id"], images=data["images"], nipples=data["nipples"],
                           present=data["present"].astype(bool),
                           boxes=[np.asarray(b, np.float32).reshape(-1, 4) for b in meta["boxes"]],
                           mass_ids=meta["mass_ids"], image_ids=meta["image_ids"],
                           breast_density=meta.get("breast_density", ""), transforms=meta.get("transforms"))
        except (OSError, ValueError, KeyError) as exc:
            raise MammoError(f"exam cache file {path} cannot be read ({exc}); delete it to rebuild") from None


def exam_from_views(study_id: str, views: dict[tuple[str, str], Any], boxes: dict[tuple[str, str], list],
                    mass_ids: dict[tuple[str, str], list[str]], image_ids: dict[tuple[str, str], str],
                    breast_density: str = "") -> Exam:
    """Assemble an :class:`Exam` from PreprocessedView objects keyed by (laterality, view) and boxes given in
    each image's own pixels (mapped through the view's transform)."""
    first = next(iter(views.values()), None)
    if first is None:
        raise MammoError(f"study {study_id!r} has none of the four standard views")
    size = first.array.shape[-1]
    images = np.zeros((4, size, size), np.float16)
    nipples = np.full((4, 2), np.nan, np.float32)
    present = np.zeros(4, bool)
    out_boxes: list[np.ndarray] = []
    out_ids: list[list[str]] = []
    transforms: list[dict[str, Any] | None] = []
    for v, key in enumerate(STANDARD_VIEWS):
        pv = views.get(key)
        raw = boxes.get(key, [])
        if pv is None:
            if raw:
                raise MammoError(f"study {study_id!r}: boxes given for {''.join(key)} but the view is absent")
            out_boxes.append(np.zeros((0, 4), np.float32))
            out_ids.append([])
            transforms.append(None)
            continue
        images[v] = pv.array.astype(np.float16)
        nipples[v] = pv.nipple
        present[v] = True
        mapped = [np.asarray(pv.transform.box_to_output(b), np.float64) for b in raw]
        arr = np.clip(np.asarray(mapped, np.float64).reshape(-1, 4), 0, size).astype(np.float32)
        out_boxes.append(arr)
        out_ids.append(list(mass_ids.get(key, [])))
        transforms.append(pv.transform.to_dict())
    return Exam(study_id, images, nipples, present, out_boxes, out_ids,
                [image_ids.get(k, "") for k in STANDARD_VIEWS], breast_density, transforms)


def _cohort_digest(cohort: Any, size: int) -> str:
    from mammo_lib.checksums import sha256_bytes

    cols = ["image_id", "study_id", "laterality", "view", "sha256"]
    text = cohort.images[cols].astype(str).to_csv(index=False)
    if cohort.findings is not None:
        text += cohort.findings[["mass_id", "image_id", *BOX_COLUMNS]].astype(str).to_csv(index=False)
    return sha256_bytes(f"{CACHE_VERSION}|{size}|{text}".encode())[:16]


#: Columns of :attr:`ExamBatch.skipped`.
EXAM_SKIPPED_COLUMNS = ("study_id", "image_id", "view", "reason")


@dataclass(frozen=True)
class ExamBatch:
    """Exams for an evaluation (:func:`build_exam_batch`): the cached exams kept, in study order, and the views
    left out with the reason (an exam none of whose standard views is usable is left out whole)."""

    paths: list[Path]
    studies: list[str]
    skipped: Any  # pandas DataFrame of EXAM_SKIPPED_COLUMNS


def build_exam_cache(cohort: Any, *, size: int = 448, cache_root: Path | None = None, progress: bool = True,
                     studies: list[str] | None = None) -> list[Path]:
    """Preprocess every exam of a cohort once (``preprocess_cached``) into ``.npz`` files; returns their paths
    in study order. Views other than the four standard ones are ignored; a study keeps its own images only.
    Strict (training): an unusable image stops it with one line naming the image, its exam and file; an
    evaluation uses :func:`build_exam_batch`, which skips such views and lists them."""
    return _build(cohort, size=size, cache_root=cache_root, progress=progress, studies=studies, skip=False).paths


def build_exam_batch(cohort: Any, *, size: int = 448, cache_root: Path | None = None, progress: bool = True,
                     studies: list[str] | None = None) -> ExamBatch:
    """:func:`build_exam_cache` for an evaluation: a view whose file is unusable (its one-line MammoError) is
    skipped and listed in ``skipped`` with that reason, and its exam is evaluated with the views it has (cached
    apart from complete exams and rebuilt on every call, so that the list is always this call's); an exam left
    with no usable view is left out of ``paths``/``studies`` and its views are listed."""
    return _build(cohort, size=size, cache_root=cache_root, progress=progress, studies=studies, skip=True)


def _build(cohort: Any, *, size: int, cache_root: Path | None, progress: bool, studies: list[str] | None,
           skip: bool) -> ExamBatch:
    from mammo_lib.paths import cache_dir
    from mammo_lib.preprocess.cache import preprocess_cached, skipped_table
    from mammo_lib.progress import tqdm

    root = (cache_root or cache_dir() / "detection") / _cohort_digest(cohort, size)
    root.mkdir(parents=True, exist_ok=True)
    images = cohort.images
    findings = cohort.findings
    wanted = sorted(images["study_id"].astype(str).unique()) if studies is None else list(studies)
    paths, kept, skipped = [], [], []
    by_study = {k: g for k, g in images.groupby(images["study_id"].astype(str), sort=False)}
    for study in tqdm(wanted, desc="exam cache", disable=not progress):
        target = root / f"{study}.npz"
        if target.exists():
            paths.append(target)
            kept.append(study)
            continue
        rows = by_study.get(study)
        if rows is None:
            raise MammoError(f"study_id {study!r} is not in the manifest")
        views, boxes, ids, image_ids, bad = {}, {}, {}, {}, []
        for row in rows.itertuples(index=False):
            key = (str(row.laterality), str(row.view))
            if key not in STANDARD_VIEWS:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    views[key] = preprocess_cached(cohort.data_root / row.image_path, laterality=key[0],
                                                   view=key[1], size=size, sha256=str(row.sha256) or None)
                except MammoError as exc:  # says which image of which exam stopped the cache (and the run)
                    if not skip:
                        raise MammoError(f"exam cache: image_id {row.image_id!r} of study {study!r} "
                                         f"({row.image_path}): {exc}") from None
                    bad.append({"study_id": study, "image_id": str(row.image_id), "view": "".join(key),
                                "reason": str(exc)})
                    continue
            image_ids[key] = str(row.image_id)
            if findings is not None:
                f = findings[findings["image_id"] == row.image_id]
                boxes[key] = f[list(BOX_COLUMNS)].to_numpy(np.float64).tolist()
                ids[key] = f["mass_id"].astype(str).tolist()
        skipped.extend(bad)
        if skip and not views:
            if not bad:  # no standard view at all: say so once for the exam
                skipped.append({"study_id": study, "image_id": "", "view": "",
                                "reason": f"study {study!r} has none of the four standard views"})
            continue
        density = str(rows["breast_density"].iloc[0]) if "breast_density" in rows else ""
        if bad:  # a partial exam is never read as a complete one (build_exam_cache reads only <study>.npz)
            target = root / f"{study}.partial.npz"
        exam_from_views(study, views, boxes, ids, image_ids, density).save(target)
        paths.append(target)
        kept.append(study)
    return ExamBatch(paths, kept, skipped_table(skipped, EXAM_SKIPPED_COLUMNS))


class ExamDataset(Dataset):
    """Exams as detector inputs and CenterNet targets; training mode drops auxiliary views at random so that
    the IFN learns to work without them (and flips nothing: orientation is fixed by preprocessing)."""

    def __init__(self, exams: list[Exam] | list[Path], *, train: bool = False, drop_view_p: float = 0.15,
                 seed: int = 0, augment: DomainRandomisation | None = None) -> None:
        self.exams = exams
        self.train = train
        #: training only: domain randomisation of the exam (None: a mild gain and offset, as before)
        self.augment = augment
        self.drop_view_p = drop_view_p
        self.seed = seed

    def __len__(self) -> int:
        return len(self.exams)

    def exam(self, i: int) -> Exam:
        item = self.exams[i]
        return item if isinstance(item, Exam) else Exam.load(Path(item))

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        exam = self.exam(i)
        size = exam.images.shape[-1]
        present = exam.present.copy()
        images = exam.images.astype(np.float32)
        if self.train:
            rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ()).item()))
            # drop one present view now and then (never the last one), so missing-view exams are seen
            if present.sum() > 1 and rng.random() < self.drop_view_p * 4:
                candidates = np.flatnonzero(present)
                present[rng.choice(candidates)] = False
            if self.augment is not None:
                images = self.augment.apply(images, rng)
            else:
                gain, offset = rng.uniform(0.85, 1.15), rng.uniform(-0.05, 0.05)
                images = np.where(images > 0, np.clip(images * gain + offset, 0, None), 0).astype(np.float32)
        images[~present] = 0
        heat, box, centre = [], [], []
        padded = np.full((4, MAX_BOXES, 4), np.nan, np.float32)
        for v in range(4):
            b = exam.boxes[v] if present[v] else np.zeros((0, 4), np.float32)
            if len(b) > MAX_BOXES:
                raise MammoError(f"study {exam.study_id!r} view {v} has {len(b)} boxes, more than {MAX_BOXES}")
            t = heatmap_targets(b, size)
            heat.append(t["heat"]), box.append(t["box"]), centre.append(t["centre"])
            padded[v, : len(b)] = b
        return {
            "images": torch.from_numpy(images[:, None]),
            "nipples": torch.from_numpy(exam.nipples.astype(np.float32)),
            "present": torch.from_numpy(present),
            "heat": torch.from_numpy(np.stack(heat)),
            "box": torch.from_numpy(np.stack(box)),
            "centre": torch.from_numpy(np.stack(centre)),
            "gt_boxes": torch.from_numpy(padded),
        }


__all__ = ["CACHE_VERSION", "EXAM_SKIPPED_COLUMNS", "MAX_BOXES", "Exam", "ExamBatch", "ExamDataset", "build_exam_batch",
           "build_exam_cache", "exam_from_views"]
