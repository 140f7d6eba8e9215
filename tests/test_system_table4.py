"""Table 4 and Figure 3 with the DL row of the system end to end and the classifier on reference boxes beside it
(mammo_lib.paper.classification: the tables notebook 05 writes and notebook 07 reads)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mammo_lib import vocab
from mammo_lib.errors import MammoError
from mammo_lib.paper import classification as system_mode
from mammo_lib.paper import tables


def _masses(n: int = 80, seed: int = 5) -> pd.DataFrame:
    """Masses with the senior's ratings and reference-box scores that rank malignancy well."""
    rng = np.random.default_rng(seed)
    positive = np.arange(n) % 4 == 0
    score = np.clip(30 + 40 * positive + rng.normal(0, 15, n), 0, 100).round(2)
    return pd.DataFrame({"mass_id": [f"M{i:03d}" for i in range(n)], "patient_id": [f"P{i // 2:03d}" for i in range(n)],
                         "pathology": np.where(positive, "positive", "negative"),
                         "senior_birads": np.where(positive, "4B", "3"), "dl_score": score, "dl_positive": score >= 50})


def _found(masses: pd.DataFrame) -> pd.DataFrame:
    """The system finds half the masses with the reference-box score; the rest are missed (score 0)."""
    found = np.arange(len(masses)) % 8 < 4  # half the positives (every 4th mass) are missed
    score = np.where(found, masses["dl_score"], 0.0)
    return pd.DataFrame({"mass_id": masses["mass_id"], "found": found, "system_score": score,
                         "system_positive": found & (score >= 50)})


def test_the_written_system_table_has_its_columns_and_scores_a_miss_zero() -> None:
    masses = _masses()
    out = system_mode.system_scores_table(_found(masses), threshold=50.0)
    assert tuple(out.columns) == vocab.DL_SYSTEM_SCORES_COLUMNS
    missed = out[~out["found"]]
    assert len(missed) == 40 and (missed["dl_score"] == 0).all() and not missed["dl_positive"].any()
    assert (out["threshold"] == 50).all()


def test_table4_dl_row_is_the_system_and_the_reference_boxes_a_labelled_last_row() -> None:
    masses = _masses()
    system = system_mode.system_scores_table(_found(masses), 50.0)
    t4 = system_mode.table4_end_to_end(system_mode.with_system_scores(masses, system), masses)
    assert list(t4["rater"]) == ["senior", "dl", tables.REFERENCE_BOXES]
    rows = t4.set_index("rater")
    # a missed positive stays in the denominator: both rows count every positive mass
    assert rows.loc["dl", "n_positive"] == rows.loc[tables.REFERENCE_BOXES, "n_positive"] == 20
    assert rows.loc["dl", "true_positive"] < rows.loc[tables.REFERENCE_BOXES, "true_positive"]
    assert rows.loc["dl", "auc"] < rows.loc[tables.REFERENCE_BOXES, "auc"]
    assert "reference boxes" in rows.loc[tables.REFERENCE_BOXES, "note"]
    assert tables.display_name(tables.REFERENCE_BOXES) == "DL classifier on reference boxes"
    assert list(system_mode.table4_end_to_end(masses, None)["rater"]) == ["senior", "dl"]


def test_figure3_has_the_system_curve_and_the_reference_box_curve() -> None:
    masses = _masses()
    system = system_mode.system_scores_table(_found(masses), 50.0)
    curves = system_mode.figure3_end_to_end(system_mode.with_system_scores(masses, system), masses)
    assert set(curves["rater"]) == {"senior", "dl", tables.REFERENCE_BOXES}
    auc = curves.groupby("rater")["auc"].first()
    assert auc["dl"] < auc[tables.REFERENCE_BOXES]


def test_a_mass_without_a_system_result_is_refused_by_name() -> None:
    masses = _masses()
    system = system_mode.system_scores_table(_found(masses), 50.0).iloc[1:]
    with pytest.raises(MammoError, match="lacks 1 of 80 masses, first mass_id 'M000'"):
        system_mode.with_system_scores(masses, system)
