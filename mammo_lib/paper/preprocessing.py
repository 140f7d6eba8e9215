"""Notebook 03 (Methods: data cleaning, 448 x 448, nipples for registration): the preprocessing measured on the
synthetic twin against its ground truth (:func:`twin_accuracy`), and on real images whose landmarks are unknown by the
orientation checks (:func:`real_image_checks`).
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mammo_lib.data.dicomio import read_image
from mammo_lib.preprocess import (DEFAULT_SIZE, PreprocessWarning, PreprocessedView, landmark_errors,
                                  orientation_checks, preprocess_cached, preprocess_view)
from mammo_lib.progress import tqdm
from mammo_lib.synth import ensure_cohort, load_view_truth


def _twin_view_errors(job: tuple[str, dict[str, Any], int]) -> dict[str, Any]:
    """Errors of one twin view (a worker of :func:`twin_accuracy`)."""
    root, row, size = job
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PreprocessWarning)
        result = preprocess_cached(Path(root) / row["image_path"], laterality=row["laterality"], view=row["view"],
                                   size=size, sha256=row["sha256"])
    truth = load_view_truth(root, row["image_id"])
    pectoral = None if truth.pectoral is None else (tuple(truth.pectoral[:2]), tuple(truth.pectoral[2:]))
    errors = landmark_errors(result, breast_mask=truth.breast_mask, nipple=truth.nipple, pectoral=pectoral,
                             spacing_mm=(truth.pixel_spacing_mm, truth.pixel_spacing_mm))
    return {"image_id": row["image_id"], "vendor": row["vendor"], "laterality": row["laterality"],
            "view": row["view"], **errors, "flipped": result.flipped, "warnings": len(caught),
            "harmonised_median": float(np.median(result.array[result.breast_mask]))}


def twin_accuracy(limit: int | None = None, size: int = DEFAULT_SIZE, progress: bool = False,
                  workers: int = 2) -> pd.DataFrame:
    """Per-view errors of :func:`preprocess_cached` on the synthetic twin against its ground truth.

    Generates the twin when missing (:func:`mammo_lib.synth.ensure_cohort`); ``limit`` takes the first views of
    the manifest (a quick check); ``workers`` processes share the views (the CI machine has 2 cores). Returns
    a DataFrame in manifest order with image_id, vendor, laterality, view, the errors of
    :func:`landmark_errors`, the number of warnings and the median harmonised breast intensity.
    """
    files = ensure_cohort("twin")
    manifest = pd.read_csv(files.manifest, dtype={"sha256": str})
    if limit is not None:
        manifest = manifest.head(int(limit))
    jobs = [(str(files.root), row, int(size)) for row in manifest.to_dict("records")]
    bar = {"total": len(jobs), "disable": not progress, "desc": "preprocess twin", "unit": "view"}
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            rows = list(tqdm(pool.map(_twin_view_errors, jobs, chunksize=8), **bar))
    else:
        rows = [_twin_view_errors(job) for job in tqdm(jobs, **bar)]
    return pd.DataFrame(rows)


def real_image_checks(paths: Sequence[Path], size: int = DEFAULT_SIZE, *,
                      source: str = "shared") -> tuple[pd.DataFrame, list[tuple[Path, Any, PreprocessedView]]]:
    """The orientation checks (:func:`mammo_lib.preprocess.orientation_checks`) of real PNG mammograms named
    ``<n>_<L|R>_<CC|MLO>.png`` (``-`` also separates, e.g. ``0_L-MLO.png``), whose landmarks are unknown.

    Returns one row per image (source, image as ``<folder>/<name>``, laterality, view, input shape, flipped, each
    check, whether a pectoral edge was found, the nipple in the output grid, the warnings) and, for drawing, each
    image's path, pixels and preprocessing result.
    """
    rows, results = [], []
    for path in paths:
        parts = Path(path).stem.replace("-", "_").split("_")
        image = read_image(path, laterality=parts[1], view=parts[2])
        result = preprocess_view(image, size=size)
        rows.append({"source": source, "image": f"{Path(path).parent.name}/{Path(path).name}", "laterality": parts[1],
                     "view": parts[2], "input_shape": "x".join(map(str, image.pixels.shape)),
                     "flipped": result.flipped, **orientation_checks(result),
                     "pectoral_found": result.pectoral is not None,
                     "nipple_output": tuple(round(v) for v in result.nipple), "warnings": "; ".join(result.warnings)})
        results.append((Path(path), image.pixels, result))
    return pd.DataFrame(rows), results
