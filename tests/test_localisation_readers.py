"""Notebook 12's section 3 helpers: the simulated readers' marks beside the DL system's, the comparisons by
sensitivity and by wAFROC, and the sentence on what counting false marks changes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mammo_lib import published
from mammo_lib.errors import MammoError
from mammo_lib.evaluation import froc
from mammo_lib.paper import localisation, tables

BOX = {"x0": 10.0, "y0": 10.0, "x1": 50.0, "y1": 50.0}
FAR = {"x0": 200.0, "y0": 200.0, "x1": 240.0, "y1": 240.0}


def _dl():
    """Two exams, each breast a case: M1 (E1 R) hit by the IFN at 0.8, M2 (E2 L) missed; false marks 0.3 (E1 L),
    0.9 (E2 R), 0.4 (E2 L)."""
    images = pd.DataFrame({"image_id": ["e1r", "e1l", "e2r", "e2l"], "laterality": ["R", "L", "R", "L"]})
    read = pd.DataFrame({"image_id": images["image_id"], "exam": ["E1", "E1", "E2", "E2"]})
    truth = pd.DataFrame([{"image_id": "e1r", "mass_id": "M1", **BOX}, {"image_id": "e2l", "mass_id": "M2", **BOX}])
    candidates = pd.DataFrame([
        {"branch": "ifn", "image_id": "e1r", "score": 0.8, **BOX},
        {"branch": "ifn", "image_id": "e1l", "score": 0.3, **BOX},
        {"branch": "ifn", "image_id": "e2r", "score": 0.9, **BOX},
        {"branch": "ifn", "image_id": "e2l", "score": 0.4, **FAR}])
    return localisation.dl_localisation(candidates, truth, read, images, case="breast")


MARKS = pd.DataFrame([
    {"reader": "junior_a", "image_id": "e1r", "kind": "LL", "mass_id": "M1", "rating": 2.0},
    {"reader": "junior_a", "image_id": "e2r", "kind": "NL", "mass_id": "", "rating": 0.5},
    {"reader": "junior_b", "image_id": "e2l", "kind": "LL", "mass_id": "M2", "rating": 3.0},
    {"reader": "junior_b", "image_id": "e1l", "kind": "NL", "mass_id": "", "rating": 1.0},
    {"reader": "junior_b", "image_id": "not-read", "kind": "NL", "mass_id": "", "rating": 9.0}])


def test_reader_matched_scores_the_dl_lesions_by_the_readers_marks_on_the_images_read() -> None:
    dl = _dl()
    b = localisation.reader_matched(dl, MARKS, "junior_b")
    assert b.lesions.set_index("mass_id")["score"].to_dict() == pytest.approx({"M1": np.nan, "M2": 3.0},
                                                                             nan_ok=True)
    assert b.false_positives[["image_id", "score", "exam"]].to_dict("records") == [
        {"image_id": "e1l", "score": 1.0, "exam": "E1 L"}]  # the mark on an image not read is left out
    assert b.images.equals(dl.images)
    with pytest.raises(MammoError, match="marks have no rows of reader 'senior'"):
        localisation.reader_matched(dl, MARKS, "senior")


def test_dl_and_readers_share_cases_and_lesions_and_give_wafroc_by_hand() -> None:
    study = localisation.dl_and_readers(_dl(), MARKS, ("junior_a", "junior_b"), ai="IFN")
    assert study.readers == ("IFN", "junior_a", "junior_b") and study.n_cases == 4
    w = froc.figure_of_merit(study, "wAFROC").iloc[0]
    # normal breasts: E1 L and E2 R. IFN: highest NL 0.3 and 0.9; M1 (0.8) beats 0.3; M2 unmarked: 1/4.
    # junior_a: NLs -inf (E1 L) and 0.5 (E2 R); M1 (2.0) beats both; M2 unmarked ties E1 L (one half): 2.5/4.
    # junior_b: NLs 1.0 (E1 L) and -inf (E2 R); M1 unmarked ties E2 R (one half); M2 (3.0) beats both: 2.5/4.
    assert w.to_dict() == pytest.approx({"IFN": 0.25, "junior_a": 0.625, "junior_b": 0.625})
    with pytest.raises(MammoError, match="also a reader's"):
        localisation.dl_and_readers(_dl(), MARKS, ("IFN",), ai="IFN")


def _comparison(difference: float, lower: float, upper: float, p: float, method: str = "1T-RRRC") -> pd.DataFrame:
    return pd.DataFrame([{"fom": "x", "method": method, "ai": 0.5, "readers_mean": 0.5 + difference,
                          "reader_junior_a": 0.5 + difference, "reader_junior_b": 0.5 + difference,
                          "difference": difference, "lower": lower, "upper": upper, "p_value": p,
                          "significant": p < 0.05}])


def test_the_sentence_says_what_counting_false_marks_changes() -> None:
    sens = _comparison(0.15, -0.01, 0.31, 0.055)
    text = localisation.what_false_marks_change(sens, _comparison(0.2, 0.06, 0.35, 0.027))
    assert text.startswith("1T-RRRC: by detection sensitivity the juniors' mean is 0.150 ahead of the DL system")
    assert "P = 0.055" in text and "by wAFROC the juniors' mean is 0.200 ahead" in text
    assert text.endswith("counting false marks makes the difference significant.")
    assert localisation.what_false_marks_change(sens, _comparison(-0.1, -0.2, 0.0, 0.04)).endswith(
        "counting false marks reverses the direction of the comparison.")
    assert localisation.what_false_marks_change(_comparison(0.15, 0.01, 0.3, 0.01),
                                                _comparison(0.05, -0.1, 0.2, 0.4)).endswith(
        "counting false marks takes away the significance of the difference.")
    assert localisation.what_false_marks_change(sens, _comparison(0.1, -0.1, 0.3, 0.3)).endswith(
        "keeps the direction and the verdict (not significant at 0.05).")
    with pytest.raises(MammoError, match="no 1T-RRFC row"):
        localisation.what_false_marks_change(sens, sens, method="1T-RRFC")


def test_ai_comparisons_and_the_table_beside_the_papers_sensitivity() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for reader, shift in (("dl", 0.0), ("junior_a", 0.8), ("junior_b", 0.5)):
        for case in range(60):
            truth = int(case >= 30)
            rows.append({"reader": reader, "modality": "m", "case": case, "truth": truth,
                         "rating": truth * (1 + shift) + rng.normal()})
    long = pd.DataFrame(rows)
    table = localisation.ai_comparisons(long, ai="dl", fom="auc")
    assert list(table["method"]) == list(localisation.AI_METHODS)
    assert (table["difference"] == table["readers_mean"] - table["ai"]).all()
    paper = localisation.paper_detection_sensitivity(("junior_a", "junior_b"))
    found, total, _ = published.DETECTION_TEXT["overall"]["dl"]
    assert paper[tables.DL] == found / total and paper["junior_a"] == 519 / published.COHORT["masses"]
    out = localisation.comparison_table(table, table, paper, ("junior_a", "junior_b"))
    assert list(out["measure"]) == ["detection sensitivity (paper)"] + ["detection sensitivity"] * 2 + ["wAFROC"] * 2
    assert np.isnan(out.loc[0, "p_value"]) and out.loc[1:, "p_value"].notna().all()
    assert out.loc[0, "difference"] == pytest.approx((519 + 482) / 2 / 618 - found / total)
    with pytest.raises(MammoError, match="lack"):
        localisation.comparison_table(table, table, paper.drop(tables.DL), ("junior_a", "junior_b"))


def test_reader_mark_summary_counts_on_what_the_dl_read() -> None:
    summary = localisation.reader_mark_summary(MARKS, _dl(), 0.36)
    assert summary.loc["junior_b", ["lesion_marks", "masses", "false_marks", "images"]].tolist() == [1, 2, 1, 4]
    assert summary.loc["junior_a", "false_per_image"] == 0.25 and summary.loc["junior_a", "assumed_per_image"] == 0.36
    assert summary.loc["junior_b", "mean_rating_lesion"] == 3.0
