"""Notebook 12 (beyond the paper): the DL system's detection as a localisation (FROC) task, and study sizing.

:func:`dl_localisation` matches notebook 04's candidates to the findings boxes as notebook 04 scores them (one
branch, the centre-hit criterion, the views read) with each breast or each exam as the case, so that
:func:`mammo_lib.evaluation.froc.from_detections` turns them into FROC marks; :func:`figures_of_merit` tabulates
the figures of merit with their case-jackknife CIs and :func:`false_marks` what the sensitivity at an operating
point leaves out. :func:`sizing_table` and :func:`power_curve` size an Obuchowski-Rockette random-reader
random-case study from a pilot (:mod:`mammo_lib.evaluation.sizing`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mammo_lib.errors import MammoError
from mammo_lib.evaluation import detection as evaluate
from mammo_lib.evaluation import froc, sizing
from mammo_lib.validation import require_columns

CASE_UNITS = ("breast", "exam")
#: The figures of merit notebook 12 shows (MaxNLF counts every kept candidate, not the marks at an operating point).
LOCALISATION_FOMS = ("wAFROC", "AFROC", "wAFROC1", "HrAuc", "MaxLLF")
#: A number of cases taken as unlimited (the power that the reader variability leaves).
UNLIMITED_CASES = 10 ** 9


def breast_cases(read: pd.DataFrame, images: pd.DataFrame) -> pd.DataFrame:
    """``read`` (image_id -> exam) with each exam split into its breasts: exam ``"<exam> <laterality>"``."""
    require_columns(read, ["image_id", "exam"], "read")
    require_columns(images, ["image_id", "laterality"], "images")
    side = images.drop_duplicates("image_id").set_index("image_id")["laterality"]
    missing = sorted(set(read["image_id"]) - set(side.index))
    if missing:
        raise MammoError(f"images lack the laterality of image_id(s) {missing[:5]}")
    return read.assign(exam=read["exam"].astype(str) + " " + read["image_id"].map(side).astype(str))


def dl_localisation(candidates: pd.DataFrame, truth: pd.DataFrame, read: pd.DataFrame, images: pd.DataFrame, *,
                    branch: str = "ifn", criterion: str = "centre", case: str = "breast") -> evaluate.Matched:
    """The ``branch`` candidates matched to the mass boxes of the views read (one lesion per mass, its best hit
    over its views), as notebook 04 matches them; the case (the FROC unit a false mark belongs to) is each breast
    or each exam."""
    if case not in CASE_UNITS:
        raise MammoError(f"case must be one of {list(CASE_UNITS)}, got {case!r}")
    require_columns(candidates, ["branch"], "candidates")
    chosen = candidates[candidates["branch"] == branch]
    if chosen.empty:
        raise MammoError(f"candidates have no rows of branch {branch!r} "
                         f"(branches: {sorted(set(candidates['branch']))})")
    cases = breast_cases(read, images) if case == "breast" else read
    return evaluate.match_candidates(chosen, truth, cases, criterion=criterion)


def figures_of_merit(data: froc.FrocData, foms: Sequence[str] = LOCALISATION_FOMS, alpha: float = 0.05
                     ) -> tuple[pd.DataFrame, list[str]]:
    """Each figure of merit of every modality and reader with its case-jackknife CI (rows: fom, modality, reader,
    value, se, lower, upper), and one line for each one that the data cannot give (e.g. wAFROC without normal
    cases)."""
    rows, notes = [], []
    for fom in foms:
        try:
            table = froc.figure_of_merit_ci(data, fom, alpha=alpha)
        except MammoError as exc:
            notes.append(f"{fom}: {exc}")
            continue
        rows.append(table.rename(columns={"fom": "value"}).assign(fom=fom))
    if not rows:
        raise MammoError("no figure of merit can be computed: " + "; ".join(notes))
    out = pd.concat(rows, ignore_index=True)
    return out[["fom", "modality", "reader", "value", "se", "lower", "upper"]], notes


def false_marks(matched: evaluate.Matched, threshold: float) -> dict[str, Any]:
    """What a sensitivity at ``threshold`` says and what it leaves out: masses found and their total, the false
    marks at or above the threshold, the images and cases read, false marks per image and per case."""
    if not np.isfinite(threshold):
        raise MammoError(f"threshold must be a finite number, got {threshold!r}")
    found = evaluate.found_at(matched, threshold)
    fp = int((matched.false_positives["score"].to_numpy(np.float64) >= threshold).sum())
    images, cases = matched.n_images, int(matched.images.nunique())
    return {"found": int(found.sum()), "masses": int(found.size), "sensitivity": float(found.mean()),
            "false_marks": fp, "images": images, "cases": cases, "per_image": fp / images, "per_case": fp / cases}


def sizing_table(pilot: Any, readers: Sequence[int], *, effect: float, ai: Any = None, fom: str | None = None,
                 power: float = 0.8, alpha: float = 0.05, max_cases: int = 100_000) -> pd.DataFrame:
    """Cases needed for ``power`` at each number of readers (OR random-reader random-case, Hillis et al. 2011):
    readers, cases (NaN where no number of cases up to ``max_cases`` reaches it), the power reached, its ncp and
    ddf; ``power_best``, the highest power of any number of cases up to ``max_cases`` (on a geometric grid), and
    ``power_unlimited``, the power with unlimited cases (bounded by the reader variability; with 2 readers the
    denominator degrees of freedom fall towards 1 as cases grow, so power can peak and then fall)."""
    components = sizing.pilot_components(pilot, fom=fom, ai=ai)  # once: the pilot's analysis is the slow part
    grid = np.unique(np.geomspace(2, max_cases, 400).astype(int))
    rows = []
    for j in readers:
        ceiling = sizing.power(components, j, UNLIMITED_CASES, effect=effect, alpha=alpha).power
        best = max(sizing.power(components, j, int(k), effect=effect, alpha=alpha).power for k in grid)
        try:
            s = sizing.sample_size(components, j, effect=effect, power=power, alpha=alpha, max_cases=max_cases)
        except MammoError as exc:
            if "do not reach power" not in str(exc):
                raise
            rows.append({"readers": j, "cases": np.nan, "power": np.nan, "ncp": np.nan, "ddf": np.nan,
                         "power_best": best, "power_unlimited": ceiling})
            continue
        rows.append({"readers": j, "cases": s.cases, "power": s.power, "ncp": s.ncp, "ddf": s.df,
                     "power_best": max(best, s.power), "power_unlimited": ceiling})
    out = pd.DataFrame(rows)
    out["cases"] = out["cases"].astype("Int64")
    return out


def power_curve(pilot: Any, readers: Sequence[int], cases: Sequence[int], *, effect: float, ai: Any = None,
                fom: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Power at each number of readers and cases (long table: readers, cases, power)."""
    components = sizing.pilot_components(pilot, fom=fom, ai=ai)
    rows = [{"readers": j, "cases": int(k),
             "power": sizing.power(components, j, int(k), effect=effect, alpha=alpha).power}
            for j in readers for k in cases]
    return pd.DataFrame(rows)
