"""Table 4's DL column in system mode (notebook 05): the system end to end on a cohort, scored per reference mass.

The paper's Table 4 reads the DL system as a whole: masses it misses stay in the denominator. :func:`system_scores`
runs the code of ``mammo analyze`` (:func:`mammo_lib.system.exam.find_masses`) on every evaluated exam from notebook
04's detector candidates, and :func:`system_mode_performance` sets its accuracy, sensitivity and specificity beside
the classifier's on the reference boxes. :func:`system_scores_table` is what notebook 05 writes
(``dl_system_scores_per_mass.csv``); :func:`with_system_scores`, :func:`table4_end_to_end` and
:func:`figure3_end_to_end` make it Table 4's and Figure 3's DL row in notebook 07, with the classifier on the
reference boxes beside it as a labelled secondary row (:data:`mammo_lib.paper.tables.REFERENCE_BOXES`).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from mammo_lib import validation, vocab
from mammo_lib.data.manifest import Manifest
from mammo_lib.errors import MammoError
from mammo_lib.evaluation.detection import centre_in_box
from mammo_lib.models.classification.data import read_pixels
from mammo_lib.models.detection.data import Exam
from mammo_lib.models.detection.inference import CANDIDATE_COLUMNS, VIEW_NAMES
from mammo_lib.paper import tables
from mammo_lib.system.exam import Models, exam_candidates, find_masses
from mammo_lib.vocab import BOX_COLUMNS


def system_scores(data: Manifest, exam_paths: Sequence[Path], models: Models, candidates: pd.DataFrame) -> pd.DataFrame:
    """End-to-end system on a cohort's tables (``data``) from its detector run: ``candidates`` is notebook 04's candidates table
    (:data:`~mammo_lib.models.detection.inference.CANDIDATE_COLUMNS`; its ``ifn`` rows are used) over the exams
    cached at ``exam_paths`` (``models.detection.data.build_exam_cache``, for the views' transforms and nipples).
    Each exam then goes through :func:`find_masses`, the code of ``mammo analyze``. Per reference mass: whether the
    system detected it and the malignancy score of the detected mass that found it.

    A reference mass is *found* when the centre of a detected mass's box on one of its views lies inside the
    reference box there (the centre criterion of notebook 04); its system score is the highest score among the detected
    masses that found it. A mass the system misses gets no score: it is called negative with ``system_score`` 0,
    as the paper counts its undetected cancers among the "missed or misdiagnosed" positives (Discussion) while
    keeping all 618 masses in Table 4. Returns one row per reference mass: mass_id, found, system_score,
    system_positive, plus ``detected_masses`` and ``false_positive_masses`` in ``.attrs``.
    """
    validation.require_columns(candidates, CANDIDATE_COLUMNS, "detector candidates table")
    ifn = candidates[candidates["branch"] == "ifn"]
    by_study = {str(k): g for k, g in ifn.groupby("study_id", sort=False)}
    findings = data.findings
    images = data.images.set_index("image_id")
    detected = []
    for path in exam_paths:
        exam = Exam.load(Path(path))
        cand = exam_candidates(exam, by_study.get(str(exam.study_id), ifn.iloc[:0]))
        above = cand[cand["score"] >= models.detection_threshold]
        pixels = {}
        for name in dict.fromkeys(above["view"]):
            image_id = exam.image_ids[VIEW_NAMES.index(name)]
            pixels[name] = read_pixels(data.data_root / images.loc[image_id, "image_path"], name[0], name[1:])
        mv, scored = find_masses(models, cand, pixels)
        mv = mv.merge(scored[["mass", "malignancy_score"]], on="mass", how="left")
        mv["image_id"] = [exam.image_ids[VIEW_NAMES.index(v)] for v in mv["view"]]
        mv["mass"] = str(exam.study_id) + ":" + mv["mass"].astype(str)
        detected.append(mv)
    views = pd.concat(detected, ignore_index=True)
    found: dict[str, float] = {}
    hit_masses: set[str] = set()
    by_image = {k: g for k, g in views.groupby("image_id", sort=False)}
    for image_id, truth in findings[findings["image_id"].isin(by_image)].groupby("image_id"):
        mine = by_image[image_id]
        hits = centre_in_box(mine[list(BOX_COLUMNS)].to_numpy(float), truth[list(BOX_COLUMNS)].to_numpy(float))
        for j, mass_id in enumerate(truth["mass_id"].astype(str)):
            if hits[:, j].any():
                best = float(mine["malignancy_score"].to_numpy()[hits[:, j]].max())
                found[mass_id] = max(found.get(mass_id, 0.0), best)
                hit_masses.update(mine["mass"].to_numpy()[hits[:, j]])
    mass_ids = sorted(findings["mass_id"].astype(str).unique())
    out = pd.DataFrame({"mass_id": mass_ids})
    out["found"] = out["mass_id"].isin(found)
    out["system_score"] = out["mass_id"].map(found).fillna(0.0)
    out["system_positive"] = out["found"] & (out["system_score"] >= float(models.classifier_card["threshold"]))
    out.attrs["detected_masses"] = int(views["mass"].nunique())
    out.attrs["false_positive_masses"] = int(views["mass"].nunique() - len(hit_masses))
    return out


def system_mode_performance(masses: pd.DataFrame, found: pd.DataFrame) -> pd.DataFrame:
    """Table 4's DL column read both ways on the same masses: classified from the reference boxes (``masses``:
    mass_id, pathology, dl_score, dl_positive) and by the system (``found`` of :func:`system_scores`; a missed mass
    scores 0 and is called negative), each through :func:`mammo_lib.paper.tables.rater_measures`. One row per measure
    with both values, the system's 95% CI and the counts."""
    validation.require_columns(masses, ["mass_id", "pathology", "dl_score", "dl_positive"], "mass table")
    validation.require_columns(found, ["mass_id", "found", "system_score", "system_positive"], "system results")
    table = masses[["mass_id", "pathology", "dl_score", "dl_positive"]].merge(found, on="mass_id", how="left",
                                                                            validate="one_to_one")
    if table["found"].isna().any():
        raise MammoError(f"{int(table['found'].isna().sum())} masses have no system result (first: "
                         f"{table.loc[table['found'].isna(), 'mass_id'].iloc[0]})")
    boxes = tables.rater_measures(tables.table4(table), "dl")
    system = table.drop(columns=["dl_score", "dl_positive"]).rename(
        columns={"system_score": "dl_score", "system_positive": "dl_positive"})
    ours = tables.rater_measures(tables.table4(system), "dl")
    out = pd.DataFrame({"measure": boxes["measure"], "reference_boxes": boxes["value"], "system": ours["value"],
                        "system_lower": ours["lower"], "system_upper": ours["upper"],
                        "reference_boxes_count": boxes["count"], "system_count": ours["count"], "n": ours["n"]})
    out.attrs["found"] = int(table["found"].sum())
    out.attrs["found_positive"] = int((table["found"].astype(bool) & (table["pathology"] == "positive")).sum())
    return out


def system_scores_table(found: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """The system's per-mass result as notebook 05 writes it (:data:`mammo_lib.vocab.DL_SYSTEM_SCORES_COLUMNS`):
    whether the system found the mass, its score (0 when missed) and call, and the classifier's threshold."""
    validation.require_columns(found, ["mass_id", "found", "system_score", "system_positive"], "system results")
    out = pd.DataFrame({"mass_id": found["mass_id"].astype(str), "found": found["found"].astype(bool),
                        "dl_score": found["system_score"].astype(float).round(2),
                        "dl_positive": found["system_positive"].astype(bool), "threshold": float(threshold)})
    return out[list(vocab.DL_SYSTEM_SCORES_COLUMNS)]


def with_system_scores(masses: pd.DataFrame, system: pd.DataFrame) -> pd.DataFrame:
    """The mass table with ``dl_score``/``dl_positive`` taken from the system end to end (``system``:
    :func:`system_scores_table`); every mass must have a system result."""
    validation.require_columns(masses, ["mass_id"], "mass table")
    validation.require_columns(system, ["mass_id", "dl_score", "dl_positive"], vocab.DL_SYSTEM_SCORES_FILE)
    ids = masses["mass_id"].astype(str)
    known = set(system["mass_id"].astype(str))
    lacking = ~ids.isin(known)
    if lacking.any():
        raise MammoError(f"{vocab.DL_SYSTEM_SCORES_FILE} lacks {int(lacking.sum())} of {len(masses)} masses, first "
                         f"mass_id {ids[lacking].iloc[0]!r}")
    scores = system.assign(mass_id=system["mass_id"].astype(str)).set_index("mass_id")
    out = masses.copy()
    out["dl_score"] = ids.map(scores["dl_score"]).astype(float).to_numpy()
    out["dl_positive"] = ids.map(scores["dl_positive"]).astype(bool).to_numpy()
    return out


def _boxes_only(masses_boxes: pd.DataFrame) -> pd.DataFrame:
    """The reference-box DL scores alone, under the secondary rater's name (readers dropped)."""
    keep = [c for c in masses_boxes.columns if not c.endswith(("_birads", "_detected"))]
    return masses_boxes[keep]


def table4_end_to_end(masses_system: pd.DataFrame, masses_boxes: pd.DataFrame | None, alpha: float = 0.05
                      ) -> pd.DataFrame:
    """Table 4 with the DL row of the system end to end (``masses_system``: :func:`with_system_scores`) and, when
    ``masses_boxes`` is given, the classifier on the reference boxes as a last, labelled row
    (:data:`~mammo_lib.paper.tables.REFERENCE_BOXES`; its Z and P are not computed)."""
    t4 = tables.table4(masses_system, alpha)
    if masses_boxes is None or "dl_score" not in masses_boxes:
        return t4
    boxes = tables.table4(_boxes_only(masses_boxes), alpha)
    boxes = boxes[boxes["rater"] == tables.DL].assign(
        rater=tables.REFERENCE_BOXES, note="the classifier alone on the reference boxes (secondary)")
    return pd.concat([t4, boxes], ignore_index=True)


def figure3_end_to_end(masses_system: pd.DataFrame, masses_boxes: pd.DataFrame | None) -> pd.DataFrame:
    """Figure 3's curves with the DL curve of the system end to end and, when ``masses_boxes`` is given, the
    classifier on the reference boxes as a secondary curve."""
    curves = tables.figure3_curves(masses_system)
    if masses_boxes is None or "dl_score" not in masses_boxes:
        return curves
    boxes = tables.figure3_curves(_boxes_only(masses_boxes))
    boxes = boxes[boxes["rater"] == tables.DL].assign(rater=tables.REFERENCE_BOXES)
    return pd.concat([curves, boxes], ignore_index=True)
