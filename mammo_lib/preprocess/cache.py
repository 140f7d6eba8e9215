"""The preprocessing cache (one ``.npz`` per image, keyed by its sha256, labels and size), a batch of a
manifest's images (:func:`preprocess_images`: unusable files skipped and listed) and ``mammo preprocess FILE``."""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import warnings as _warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mammo_lib.errors import MammoError
from mammo_lib.preprocess.geometry import (DEFAULT_SIZE, PREPROCESS_VERSION, WORK_SIDE, PreprocessWarning,
                                          PreprocessedView, ViewTransform)
from mammo_lib.preprocess.harmonise import HARMONISE_PERCENTILES
from mammo_lib.preprocess.view import named, preprocess_view
from mammo_lib.vocab import LATERALITY, VIEW


# --------------------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------------------
_CACHE_KEYS = ("array", "breast_mask", "meta", "digest")


def _meta_of(view: PreprocessedView) -> dict[str, Any]:
    meta = view.summary()
    meta["nipple_output"] = list(view.nipple)
    meta["pectoral_output"] = None if view.pectoral is None else [list(p) for p in view.pectoral]
    meta["nipple_input_exact"] = list(view.nipple_input)
    meta["pectoral_input_exact"] = None if view.pectoral_input is None else [list(p) for p in view.pectoral_input]
    meta["breast_bbox_exact"] = list(view.breast_bbox)
    return meta


def _view_of(array: np.ndarray, mask: np.ndarray, meta: dict[str, Any]) -> PreprocessedView:
    def pair(p: Any) -> tuple[float, float]:
        return (float(p[0]), float(p[1]))

    def line(ps: Any) -> tuple[tuple[float, float], tuple[float, float]] | None:
        return None if ps is None else (pair(ps[0]), pair(ps[1]))

    return PreprocessedView(
        array=array, breast_mask=mask, nipple=pair(meta["nipple_output"]), pectoral=line(meta["pectoral_output"]),
        flipped=bool(meta["flipped"]), transform=ViewTransform.from_dict(meta["transform"]),
        breast_bbox=tuple(float(v) for v in meta["breast_bbox_exact"]),  # type: ignore[arg-type]
        laterality=str(meta["laterality"]), view=str(meta["view"]), warnings=list(meta["warnings"]),
        nipple_input=pair(meta["nipple_input_exact"]), pectoral_input=line(meta["pectoral_input_exact"]),
    )


def _digest(array: np.ndarray, mask: np.ndarray, meta_text: str) -> str:
    from mammo_lib.checksums import sha256_bytes

    return sha256_bytes(np.ascontiguousarray(array).tobytes() + np.ascontiguousarray(mask).tobytes()
                        + meta_text.encode())


def cache_key(sha256: str, *, laterality: str | None, view: str | None, size: int,
              for_processing: str = "refuse") -> str:
    """Cache key of one preprocessed view: source checksum, every parameter and the algorithm version."""
    from mammo_lib.checksums import sha256_bytes

    reading = {} if for_processing == "refuse" else {"for_processing": for_processing}  # old keys stay valid
    text = json.dumps({"source": sha256, "laterality": laterality, "view": view, "size": int(size),
                       "work_side": WORK_SIDE, "harmonise": HARMONISE_PERCENTILES,
                       "version": PREPROCESS_VERSION, **reading}, sort_keys=True)
    return sha256_bytes(text.encode())


def cache_path(key: str) -> Path:
    """Where the cache entry of ``key`` lives under ``paths.cache_dir()``."""
    from mammo_lib.paths import cache_dir

    return cache_dir() / "preprocess" / key[:2] / f"{key}.npz"


def save_cached(path: Path, view: PreprocessedView) -> None:
    """Write one entry atomically (temporary file, then rename) with a digest of its content."""
    meta_text = json.dumps(_meta_of(view), sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            np.savez(out, array=view.array, breast_mask=view.breast_mask, meta=np.array(meta_text),
                     digest=np.array(_digest(view.array, view.breast_mask, meta_text)))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_cached(path: Path) -> PreprocessedView | None:
    """Read one entry; None when it is missing, unreadable, truncated or fails its digest."""
    import zipfile

    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if set(data.files) != set(_CACHE_KEYS):
                return None
            array, mask = data["array"], data["breast_mask"]
            meta_text, digest = str(data["meta"]), str(data["digest"])
        if _digest(array, mask, meta_text) != digest:
            return None
        return _view_of(array, mask, json.loads(meta_text))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def preprocess_cached(path: str | Path, *, laterality: str | None, view: str | None, size: int = DEFAULT_SIZE,
                      sha256: str | None = None, force: bool = False,
                      for_processing: str = "refuse") -> PreprocessedView:
    """:func:`preprocess_view` of an image file, cached under ``paths.cache_dir()/preprocess``.

    The key is the file's sha256 (pass ``sha256`` from the manifest to skip hashing) plus the parameters, so
    a second call reads the entry and does no image work. A corrupt entry is reported and rebuilt.
    ``force``/``for_processing`` go to ``data.dicomio.read_image``. Errors name the image file.
    """
    from mammo_lib.checksums import sha256_file

    source = Path(path)
    if not source.is_file():
        raise MammoError(f"image file not found: {source}")
    key = cache_key(sha256 or sha256_file(source), laterality=laterality, view=view, size=size,
                    for_processing=for_processing)
    entry = cache_path(key)
    cached = load_cached(entry)
    if cached is not None:
        for text in cached.warnings:
            _warnings.warn(text, PreprocessWarning, stacklevel=2)
        return cached
    if entry.exists():
        _warnings.warn(f"cache entry {entry.name} is corrupt; rebuilding it", PreprocessWarning, stacklevel=2)
    from mammo_lib.data.dicomio import read_image

    try:
        result = preprocess_view(read_image(source, laterality=laterality, view=view, force=force,
                                            for_processing=for_processing), size=size)
    except MammoError as exc:
        raise named(exc, source.name) from None
    save_cached(entry, result)
    return result


# --------------------------------------------------------------------------------------------------
# a batch of a manifest's images
# --------------------------------------------------------------------------------------------------
#: Columns of a batch's list of skipped views.
SKIPPED_COLUMNS = ("image_id", "reason")


@dataclass(frozen=True)
class PreprocessedBatch:
    """The views of a batch that preprocessed (by image_id, in the table's order) and those skipped, with why."""

    views: dict[str, PreprocessedView]
    skipped: Any  # pandas DataFrame of SKIPPED_COLUMNS, one row per skipped view


def skipped_table(rows: list[dict[str, str]], columns: tuple[str, ...] = SKIPPED_COLUMNS) -> Any:
    """The list of skipped views as a DataFrame of ``columns`` (empty, with those columns, when none)."""
    import pandas as pd

    return pd.DataFrame(rows, columns=list(columns)).astype(str)


def preprocess_images(images: Any, data_root: str | Path, *, size: int = DEFAULT_SIZE,
                      progress: bool = False) -> PreprocessedBatch:
    """:func:`preprocess_cached` of every row of a manifest's image table (``image_id``, ``image_path``,
    ``laterality``, ``view``, ``sha256``; paths relative to ``data_root``).

    A view whose file is unusable (blank, too small, truncated, not an image: the one-line MammoError that
    names the file) is skipped and listed in ``skipped`` with that line as its reason, so that one bad file
    does not stop the batch and none is left out silently. Any other error stops the batch. Preprocessing
    warnings are not emitted: each result keeps them (``PreprocessedView.warnings``).
    """
    from mammo_lib.progress import tqdm

    views: dict[str, PreprocessedView] = {}
    skipped: list[dict[str, str]] = []
    for row in tqdm(list(images.itertuples(index=False)), desc="preprocess", unit="view", disable=not progress):
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore", PreprocessWarning)
            try:
                views[str(row.image_id)] = preprocess_cached(
                    Path(data_root) / str(row.image_path), laterality=str(row.laterality), view=str(row.view),
                    size=size, sha256=str(getattr(row, "sha256", "")) or None)  # "": an excused checksum
            except MammoError as exc:
                skipped.append({"image_id": str(row.image_id), "reason": str(exc)})
    return PreprocessedBatch(views, skipped_table(skipped))


# --------------------------------------------------------------------------------------------------
# mammo preprocess
# --------------------------------------------------------------------------------------------------
def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", help="a DICOM mammogram or a 16-bit grayscale PNG")
    parser.add_argument("--laterality", choices=LATERALITY, help="breast side (default: from the DICOM header)")
    parser.add_argument("--view", choices=VIEW, help="projection (default: from the DICOM header)")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE, help=f"output side in pixels (default {DEFAULT_SIZE})")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--no-cache", action="store_true", help="neither read nor write the preprocessing cache")
    parser.add_argument("--save", metavar="NPY", help="also save the preprocessed size x size float32 array (.npy)")
    parser.add_argument("--force", action="store_true", help="read a DICOM whose Modality is not MG")
    parser.add_argument("--for-processing", choices=("refuse", "log"), default="refuse",
                        help="a FOR PROCESSING (raw) image: refuse it (default) or log-normalise it")


def run_command(args: argparse.Namespace) -> int:
    import sys

    from mammo_lib.data.dicomio import read_image

    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always", PreprocessWarning)
        reading = dict(force=args.force, for_processing=args.for_processing)
        if args.no_cache:
            result = preprocess_view(read_image(args.image, laterality=args.laterality, view=args.view, **reading),
                                     size=args.size)
        else:
            result = preprocess_cached(args.image, laterality=args.laterality, view=args.view, size=args.size,
                                       **reading)
    for item in caught:
        if issubclass(item.category, PreprocessWarning):
            print(f"mammo preprocess: warning: {item.message}", file=sys.stderr)
    if args.save:
        np.save(args.save, result.array)
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
        return 0
    for name in ("laterality", "view", "flipped", "input_shape", "breast_bbox", "nipple", "pectoral", "output_size"):
        print(f"{name:<12} {summary[name]}")
    return 0
