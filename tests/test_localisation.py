"""Notebook 12's helpers: the DL candidates as FROC marks by breast or exam, false marks at an operating point,
the sizing table and power curve, and their plots."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from mammo_lib.errors import MammoError
from mammo_lib.evaluation import detection, froc, sizing
from mammo_lib.paper import figures, localisation

BOX = {"x0": 10.0, "y0": 10.0, "x1": 50.0, "y1": 50.0}
FAR = {"x0": 200.0, "y0": 200.0, "x1": 240.0, "y1": 240.0}


def _two_exams() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Exam E1: mass M1 in the right breast, hit by the IFN at 0.8; a false mark at 0.3 in the left breast.
    Exam E2: mass M2 in the left breast, missed (a false mark at 0.4 beside it); a false mark at 0.9 in the right
    breast. A single-view candidate that would hit M2 must be ignored (another branch)."""
    images = pd.DataFrame({"image_id": ["e1r", "e1l", "e2r", "e2l"], "laterality": ["R", "L", "R", "L"]})
    read = pd.DataFrame({"image_id": images["image_id"], "exam": ["E1", "E1", "E2", "E2"]})
    truth = pd.DataFrame([{"image_id": "e1r", "mass_id": "M1", **BOX}, {"image_id": "e2l", "mass_id": "M2", **BOX}])
    candidates = pd.DataFrame([
        {"branch": "ifn", "image_id": "e1r", "score": 0.8, **BOX},
        {"branch": "ifn", "image_id": "e1l", "score": 0.3, **BOX},
        {"branch": "ifn", "image_id": "e2r", "score": 0.9, **BOX},
        {"branch": "ifn", "image_id": "e2l", "score": 0.4, **FAR},
        {"branch": "single", "image_id": "e2l", "score": 0.99, **BOX}])
    return candidates, truth, read, images


def test_breasts_are_cases_so_that_exams_all_with_a_mass_still_have_normal_cases() -> None:
    candidates, truth, read, images = _two_exams()
    by_breast = localisation.dl_localisation(candidates, truth, read, images, case="breast")
    assert sorted(set(by_breast.images)) == ["E1 L", "E1 R", "E2 L", "E2 R"]
    marks = froc.from_detections(by_breast)
    assert list(marks.abnormal) == [False, True, True, False]  # E1 L, E1 R, E2 L, E2 R
    # wAFROC by hand: normal breasts rate 0.3 and 0.9; M1 (0.8) beats 0.3 only, M2 (unmarked) beats neither: 1 / 4
    foms, notes = localisation.figures_of_merit(marks, ("wAFROC", "MaxLLF"))
    assert notes == []
    assert foms.set_index("fom").loc["wAFROC", "value"] == pytest.approx(0.25)
    assert foms.set_index("fom").loc["MaxLLF", "value"] == pytest.approx(0.5)
    assert list(foms.columns) == ["fom", "modality", "reader", "value", "se", "lower", "upper"]
    by_exam = localisation.dl_localisation(candidates, truth, read, images, case="exam")
    _, notes = localisation.figures_of_merit(froc.from_detections(by_exam), ("wAFROC", "MaxLLF"))
    assert len(notes) == 1 and notes[0].startswith("wAFROC: ") and "0 normal" in notes[0]
    with pytest.raises(MammoError, match="no figure of merit can be computed"):
        localisation.figures_of_merit(froc.from_detections(by_exam), ("wAFROC",))


def test_false_marks_count_what_the_sensitivity_at_the_threshold_leaves_out() -> None:
    candidates, truth, read, images = _two_exams()
    by_exam = localisation.dl_localisation(candidates, truth, read, images, case="exam")
    fm = localisation.false_marks(by_exam, 0.35)
    assert fm == {"found": 1, "masses": 2, "sensitivity": 0.5, "false_marks": 2, "images": 4, "cases": 2,
                  "per_image": 0.5, "per_case": 1.0}
    assert fm["found"] == int(detection.found_at(by_exam, 0.35).sum())


def test_localisation_refuses_unknown_case_units_branches_and_images_without_laterality() -> None:
    candidates, truth, read, images = _two_exams()
    for call, message in (
            (lambda: localisation.dl_localisation(candidates, truth, read, images, case="patient"),
             "case must be one of"),
            (lambda: localisation.dl_localisation(candidates, truth, read, images, branch="bdvn"), "no rows of branch"),
            (lambda: localisation.breast_cases(read, images.iloc[:2]), "lack the laterality of image_id"),
            (lambda: localisation.false_marks(detection.match_candidates(candidates, truth, read), np.nan),
             "threshold must be a finite number")):
        with pytest.raises(MammoError, match=message):
            call()


PILOT = sizing.PilotComponents(var_tr=0.0002, var_error=0.0006, cov1=0.0001, cov2=0.0004, cov3=0.0001, cases=600,
                               readers=2, effect=0.0, fom="auc")


def test_sizing_table_gives_the_sample_size_or_says_no_number_of_cases_reaches_the_power() -> None:
    table = localisation.sizing_table(PILOT, (2, 5, 10), effect=0.05)
    assert table["readers"].tolist() == [2, 5, 10]
    for j in (5, 10):
        row = table.set_index("readers").loc[j]
        assert row["cases"] == sizing.sample_size(PILOT, j, effect=0.05).cases
        assert row["power"] > 0.8 and row["power_best"] >= row["power"]
    two = table.set_index("readers").loc[2]
    assert pd.isna(two["cases"]) and two["power_best"] < 0.8
    unlimited = sizing.power(PILOT, 2, localisation.UNLIMITED_CASES, effect=0.05).power
    assert two["power_unlimited"] == pytest.approx(unlimited)
    assert table.set_index("readers").loc[5, "cases"] > table.set_index("readers").loc[10, "cases"]


def test_power_curve_is_the_power_at_each_reader_and_case_count() -> None:
    curve = localisation.power_curve(PILOT, (5, 10), (100, 1000), effect=0.05)
    assert curve[["readers", "cases"]].to_numpy().tolist() == [[5, 100], [5, 1000], [10, 100], [10, 1000]]
    assert curve["power"].iloc[1] == pytest.approx(sizing.power(PILOT, 5, 1000, effect=0.05).power)


def test_plot_localisation_draws_the_froc_curve_and_one_point_per_figure_of_merit() -> None:
    candidates, truth, read, images = _two_exams()
    by_exam = localisation.dl_localisation(candidates, truth, read, images, case="exam")
    recall = pd.DataFrame({"fpi": [0.25, 1.0], "recall": [0.5, 0.5], "lower": [0.0, 0.0], "upper": [1.0, 1.0]})
    foms = pd.DataFrame({"fom": ["wAFROC", "HrAuc"], "value": [0.25, 0.6], "lower": [0.1, 0.4], "upper": [0.4, 0.8]})
    fig = figures.plot_localisation(detection.froc(by_exam), recall, foms, title="t")
    froc_ax, fom_ax = fig.axes
    assert froc_ax.get_xscale() == "log" and len(froc_ax.lines) >= 1
    assert [t.get_text() for t in fom_ax.get_yticklabels()] == ["wAFROC", "HrAuc"]
    with pytest.raises(MammoError, match="lacks column"):
        figures.plot_localisation(detection.froc(by_exam), recall.drop(columns="lower"), foms, title="t")


def test_plot_power_curves_draws_one_line_per_reader_count_in_each_comparison() -> None:
    curves = pd.concat([localisation.power_curve(PILOT, (5, 10), (100, 1000), effect=0.05).assign(comparison=c)
                        for c in ("AUC", "sensitivity")], ignore_index=True)
    fig = figures.plot_power_curves(curves, target=0.8)
    assert [ax.get_title() for ax in fig.axes] == ["AUC", "sensitivity"]
    assert all(len([ln for ln in ax.lines if ln.get_label().endswith("readers")]) == 2 for ax in fig.axes)
