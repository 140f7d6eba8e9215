"""Notebook 04's per-mass detections and notebook 12's recount from dl_detection_candidates.csv agree: 04 scores
the candidates at the precision it writes them (mammo_lib.run.handoff.candidates_as_written)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mammo_lib.errors import MammoError
from mammo_lib.evaluation import detection as evaluate
from mammo_lib.paper import localisation
from mammo_lib.run.handoff import candidates_as_written, dl_candidates, stamp_outputs

FINGERPRINT = "f" * 64
THRESHOLD = 0.2461


def _cohort() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two masses on one exam's views: M1's only hit has its centre 0.01 px above the exclusive lower edge of
    its box (y 719.99 < 720; rounded to 0.1 px, 683.4 and 756.6, it lies on the edge); M2's only hit scores
    0.246096, just below the threshold at full precision and equal to it at 4 decimals. A third candidate is a
    false mark."""
    truth = pd.DataFrame({"image_id": ["E_L_MLO", "E_L_CC"], "mass_id": ["M1", "M2"], "x0": [325, 100],
                          "y0": [688, 100], "x1": [367, 140], "y1": [720, 140]})
    images = pd.DataFrame({"image_id": ["E_L_MLO", "E_L_CC"], "exam": ["E", "E"], "laterality": ["L", "L"]})
    candidates = pd.DataFrame({"study_id": "E", "image_id": ["E_L_MLO", "E_L_CC", "E_L_CC"], "branch": "ifn",
                               "x0": [308.52, 110.0, 10.0], "y0": [683.36, 110.0, 10.0],
                               "x1": [369.11, 130.0, 30.0], "y1": [756.62, 130.0, 30.0],
                               "score": [0.633551, 0.246096, 0.9]})
    return candidates, truth, images


def test_notebook_12s_recount_from_the_written_candidates_equals_notebook_04s_per_mass_table(tmp_path: Path) -> None:
    candidates, truth, images = _cohort()
    scored = candidates_as_written(candidates)  # what notebook 04 scores and writes
    per_mass = evaluate.per_mass_detection(evaluate.match_candidates(scored, truth, images), THRESHOLD)
    stamp_outputs(scored, FINGERPRINT).to_csv(tmp_path / "dl_detection_candidates.csv", index=False)
    back = dl_candidates(tmp_path, FINGERPRINT)  # what notebook 12 reads
    matched = localisation.dl_localisation(back, truth, images[["image_id", "exam"]], images, case="exam")
    recount = pd.Series(evaluate.found_at(matched, THRESHOLD), index=matched.lesions["mass_id"])
    assert per_mass.set_index("mass_id")["dl_detected"].to_dict() == recount.to_dict() == {"M1": False, "M2": True}
    assert localisation.false_marks(matched, THRESHOLD)["found"] == int(per_mass["dl_detected"].sum()) == 1


def test_scoring_the_full_precision_boxes_is_what_made_the_two_counts_differ() -> None:
    candidates, truth, images = _cohort()
    full = evaluate.per_mass_detection(evaluate.match_candidates(candidates, truth, images), THRESHOLD)
    written = evaluate.per_mass_detection(evaluate.match_candidates(candidates_as_written(candidates), truth, images),
                                          THRESHOLD)
    assert full["dl_detected"].tolist() == [True, False] and written["dl_detected"].tolist() == [False, True]
    assert np.isclose(written["dl_max_score"].iloc[0], 0.0)  # M1 is no longer hit at all


def test_candidates_without_a_box_column_are_refused() -> None:
    with pytest.raises(MammoError, match="score"):
        candidates_as_written(_cohort()[0].drop(columns="score"))
