"""Hit criteria, FROC, recall at FPI and the exam bootstrap, on hand-computed examples."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mammo_lib import vocab
from mammo_lib.evaluation import detection
from mammo_lib.paper import tables
from mammo_lib.errors import MammoError
from mammo_lib.paper import detection as paper_detection


def test_box_iou_of_half_overlapping_squares_is_one_seventh() -> None:
    iou = detection.box_iou([[0, 0, 10, 10]], [[5, 5, 15, 15], [20, 20, 30, 30], [0, 0, 10, 10]])
    np.testing.assert_allclose(iou, [[25 / 175, 0.0, 1.0]])


def test_centre_hit_uses_exclusive_box_ends() -> None:
    truth = [[0, 0, 10, 10]]
    assert detection.centre_in_box([[4, 4, 6, 6]], truth)[0, 0]
    assert not detection.centre_in_box([[9, 9, 11, 11]], truth)[0, 0]      # centre (10, 10) is outside
    assert detection.centre_in_box([[-2, -2, 2, 2]], truth)[0, 0]          # centre (0, 0) is inside


def test_iou_criterion_at_0_2() -> None:
    pred = [[0, 0, 10, 10], [6, 6, 16, 16]]
    hits = detection.hit_matrix(pred, [[4, 4, 14, 14]], "iou", 0.2)
    # IoU 36/164 = 0.22 and 64/136 = 0.47
    assert hits[:, 0].tolist() == [True, True]
    assert detection.hit_matrix(pred, [[4, 4, 14, 14]], "iou", 0.3)[:, 0].tolist() == [False, True]


def test_bad_boxes_and_criteria_are_named() -> None:
    with pytest.raises(MammoError, match="x1 < x0"):
        detection.box_iou([[10, 0, 0, 10]], [[0, 0, 1, 1]])
    with pytest.raises(MammoError, match="non-finite"):
        detection.centre_in_box([[0, 0, np.nan, 1]], [[0, 0, 1, 1]])
    with pytest.raises(MammoError, match="criterion must be one of"):
        detection.hit_matrix([[0, 0, 1, 1]], [[0, 0, 1, 1]], "overlap")


@pytest.fixture()
def example() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two images of one exam: mass A on both, B on img1, C on img2."""
    truth = pd.DataFrame({"image_id": ["i1", "i1", "i2", "i2"], "mass_id": ["A", "B", "A", "C"],
                          "x0": [0, 50, 0, 50], "y0": [0, 50, 0, 50], "x1": [10, 60, 10, 60],
                          "y1": [10, 60, 10, 60]})
    cand = pd.DataFrame({"image_id": ["i1", "i1", "i1", "i2", "i2"],
                         "x0": [2, 30, 52, 30, 2], "y0": [2, 30, 52, 30, 2], "x1": [8, 40, 58, 40, 8],
                         "y1": [8, 40, 58, 40, 8], "score": [0.9, 0.8, 0.3, 0.7, 0.6]})
    images = pd.DataFrame({"image_id": ["i1", "i2"], "exam": ["e1", "e1"]})
    return cand, truth, images


def test_froc_per_mass_matches_hand_count(example) -> None:
    matched = detection.match_candidates(*example)
    scores = dict(zip(matched.lesions["mass_id"], matched.lesions["score"]))
    assert scores["A"] == 0.9 and scores["B"] == 0.3 and np.isnan(scores["C"])
    assert sorted(matched.false_positives["score"]) == [0.7, 0.8]
    curve = detection.froc(matched)
    np.testing.assert_allclose(curve.thresholds, [0.9, 0.8, 0.7, 0.3])
    np.testing.assert_allclose(curve.fpi, [0.0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(curve.sensitivity, [1 / 3, 1 / 3, 1 / 3, 2 / 3])
    assert curve.recall_at(0.25) == pytest.approx(1 / 3)
    assert curve.recall_at(1.0) == pytest.approx(2 / 3)
    assert curve.threshold_at(0.5) == 0.8
    assert detection.sensitivity_at_threshold(matched, 0.5) == pytest.approx(1 / 3)


def test_froc_per_view_counts_each_mass_view(example) -> None:
    matched = detection.match_candidates(*example, unit="view")
    assert len(matched.lesions) == 4
    assert detection.froc(matched).recall_at(1.0) == pytest.approx(3 / 4)


def test_unknown_image_and_missing_column_are_refused(example) -> None:
    cand, truth, images = example
    with pytest.raises(MammoError, match=r"not among the images read: \['i9'\]"):
        detection.match_candidates(cand.assign(image_id="i9"), truth, images)
    with pytest.raises(MammoError, match=r"candidates lacks column\(s\) \['score'\]"):
        detection.match_candidates(cand.drop(columns="score"), truth, images)


def test_exam_bootstrap_ci_brackets_estimate_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    n = 40
    truth = pd.DataFrame({"image_id": [f"i{k}" for k in range(n)], "mass_id": [f"m{k}" for k in range(n)],
                          "x0": 0, "y0": 0, "x1": 10, "y1": 10})
    hit = rng.random(n) < 0.7
    cand = pd.DataFrame({"image_id": [f"i{k}" for k in range(n)], "x0": np.where(hit, 2, 40), "y0": 2,
                         "x1": np.where(hit, 8, 48), "y1": 8, "score": rng.random(n)})
    images = pd.DataFrame({"image_id": truth["image_id"], "exam": [f"e{k // 2}" for k in range(n)]})
    matched = detection.match_candidates(cand, truth, images)
    stat = lambda m: detection.sensitivity_at_threshold(m, 0.0)  # noqa: E731
    point, low, high = detection.exam_bootstrap(matched, stat, n_boot=300, seed=3)
    assert point == pytest.approx(hit.mean())
    assert low < point < high
    assert detection.exam_bootstrap(matched, stat, n_boot=300, seed=3) == (point, low, high)
    table = detection.froc_table(matched, (0.5, 1.0), n_boot=100)
    assert list(table.columns) == ["fpi", "recall", "lower", "upper"]
    assert (table["lower"] <= table["recall"]).all() and (table["recall"] <= table["upper"]).all()
    # a vector statistic: one CI per element, equal to the scalar bootstraps on the same resamples
    for i, p in enumerate((0.5, 1.0)):
        one = detection.exam_bootstrap(matched, lambda m, p=p: detection.recall_at_fpi(m, p), n_boot=100)
        assert one == (table["recall"][i], table["lower"][i], table["upper"][i])


def test_paired_bootstrap_difference_of_identical_systems_is_zero(example) -> None:
    cand, truth, _ = example
    with pytest.raises(MammoError, match="at least 2 exams, got 1"):
        detection.exam_bootstrap(detection.match_candidates(*example), lambda m: 0.0)
    matched = detection.match_candidates(cand, truth, pd.DataFrame({"image_id": ["i1", "i2"], "exam": ["e1", "e2"]}))
    point, low, high = detection.exam_bootstrap(matched, lambda m: detection.recall_at_fpi(m, 1.0),
                                                  n_boot=50, versus=matched)
    assert (point, low, high) == (0.0, 0.0, 0.0)


def test_per_mass_detection_and_group_sensitivity(example) -> None:
    matched = detection.match_candidates(*example)
    table = detection.per_mass_detection(matched, threshold=0.5).set_index("mass_id")
    assert table["dl_detected"].to_dict() == {"A": True, "B": False, "C": False}
    assert table["dl_max_score"].to_dict() == {"A": 0.9, "B": 0.3, "C": 0.0}
    by = detection.sensitivity_by_group(table["dl_detected"], pd.Series(["c", "c", "d"]), ("a", "b", "c", "d"))
    assert by["detected"].tolist() == [0, 0, 1, 0] and by["total"].tolist() == [0, 0, 2, 1]
    assert by.loc[2, "sensitivity"] == 0.5
    # Wilson interval of 1/2: 0.5 -/+ 0.4025...
    assert by.loc[2, "lower"] == pytest.approx(0.0945, abs=1e-4)
    with pytest.raises(MammoError, match=r"group values \['e'\] are not in"):
        detection.sensitivity_by_group(table["dl_detected"], pd.Series(["c", "e", "d"]), ("a", "b", "c", "d"))
    assert len(detection.subset(matched, ["e1"]).lesions) == 3 and detection.subset(matched, []).n_images == 0


def test_detection_report_tables_on_a_two_branch_example(example) -> None:
    cand, truth, _ = example
    images = pd.DataFrame({"image_id": ["i1", "i2"], "exam": ["e1", "e2"]})
    both = pd.concat([cand.assign(branch="ifn"), cand.assign(branch="single", score=cand["score"] / 2)])
    report = detection.detection_report(both, truth, images, pd.Series({"e1": "c", "e2": "b"}), threshold=0.5,
                                       branches=("single", "ifn"), n_boot=30)
    assert report.per_mass.set_index("mass_id")["dl_detected"].to_dict() == {"A": True, "B": False, "C": False}
    sens = report.sensitivity.set_index(["branch", "criterion"])
    assert sens.loc[("ifn", "centre"), "detected"] == 1 and sens.loc[("single", "centre"), "detected"] == 0
    assert set(report.recall_at_fpi["fpi"]) == set(detection.FPI_POINTS) and len(report.recall_at_fpi) == 16
    dens = report.by_density[report.by_density["branch"] == "ifn"].set_index("group")
    assert dens.loc["c", "total"] == 2 and dens.loc["b", "total"] == 1   # mass A lives in exam e1 (first view)
    abl = report.ablation.set_index(["branch", "stratum"])
    assert abl.loc[("ifn", "all"), "diff_vs_single"] == 0.0               # halved scores keep the ranking
    with pytest.raises(MammoError, match="breast_density lacks exam"):
        detection.detection_report(both, truth, images, pd.Series({"e1": "c"}), threshold=0.5, branches=("ifn",))


def test_detection_report_by_mass_size(example) -> None:
    cand, truth, _ = example
    images = pd.DataFrame({"image_id": ["i1", "i2"], "exam": ["e1", "e2"]})
    sized = truth.assign(size_mm=truth["mass_id"].map({"A": 8.0, "B": 10.0, "C": 25.0}))
    report = detection.detection_report(cand.assign(branch="ifn"), sized, images, pd.Series({"e1": "c", "e2": "b"}),
                                       threshold=0.5, branches=("ifn",), baseline="ifn", n_boot=10)
    by = report.by_size.set_index("group")
    assert list(by.index) == ["<=10 mm", "10-20 mm", ">20 mm"]               # 10 mm is in the first band
    assert by["total"].tolist() == [2, 0, 1] and by["detected"].tolist() == [1, 0, 0]   # A found, B and C not
    assert by.loc["<=10 mm", "sensitivity"] == 0.5 and np.isnan(by.loc["10-20 mm", "sensitivity"])
    no_sizes = detection.detection_report(cand.assign(branch="ifn"), truth, images, pd.Series({"e1": "c", "e2": "b"}),
                                          threshold=0.5, branches=("ifn",), baseline="ifn", n_boot=10)
    assert no_sizes.by_size.empty
    assert detection.size_band_labels((5, 15, 30)) == ("<=5 mm", "5-15 mm", "15-30 mm", ">30 mm")
    with pytest.raises(MammoError, match="edges must increase"):
        detection.size_bands_of(pd.Series([1.0]), (20.0, 10.0))


def test_per_mass_table_written_as_csv_is_read_back_by_tables_for_table_3(example, tmp_path) -> None:

    per_mass = detection.per_mass_detection(detection.match_candidates(*example), threshold=0.5)
    assert tuple(per_mass.columns) == vocab.DL_DETECTION_COLUMNS
    per_mass.to_csv(tmp_path / vocab.DL_DETECTION_FILE, index=False)   # as notebook 04 writes it
    back = tables.load_dl_outputs(tmp_path).set_index("mass_id")
    assert back["dl_detected"].to_dict() == {"A": True, "B": False, "C": False}
    assert back["dl_max_score"].to_dict() == {"A": 0.9, "B": 0.3, "C": 0.0}


def test_detected_at_fpi_uses_each_systems_own_operating_point(example) -> None:
    cand, truth, images = example
    matched = detection.match_candidates(cand, truth, images)
    # FROC thresholds 0.9/0.8/0.7/0.3 at FPI 0/0.5/1/1: 1 FPI admits 0.3, so A and B count, C never hit
    assert detection.detected_at_fpi(matched, 1.0).to_dict() == {"A": True, "B": True, "C": False}
    assert detection.detected_at_fpi(matched, 0.25).to_dict() == {"A": True, "B": False, "C": False}
    # a second system whose scores are all halved has the same detections at its own operating point
    halved = detection.match_candidates(cand.assign(score=cand["score"] / 2), truth, images)
    assert detection.detected_at_fpi(halved, 1.0).equals(detection.detected_at_fpi(matched, 1.0))
    # per mass and view: A is hit on i1 (0.9) and on i2 (0.6), B on i1 (0.3), C never
    per_view = detection.detected_at_fpi(detection.match_candidates(cand, truth, images, unit="view"), 1.0)
    assert per_view.to_dict() == {("A", "i1"): True, ("A", "i2"): True, ("B", "i1"): True, ("C", "i2"): False}


def test_a_cohort_without_dense_breasts_reports_the_empty_stratum_and_goes_on(example) -> None:
    """Notebook 04 on a test role with no dense (c/d) breast: the ablation, the paired comparison and the sentence
    on them say the stratum is empty instead of stopping at 'n_images must be positive, got 0'."""
    cand, truth, _ = example
    images = pd.DataFrame({"image_id": ["i1", "i2"], "exam": ["e1", "e2"]})
    both = pd.concat([cand.assign(branch="ifn"), cand.assign(branch="single", score=cand["score"] / 2)])
    density = pd.Series({"e1": "a", "e2": "b"})
    report = detection.detection_report(both, truth, images, density, threshold=0.5, branches=("single", "ifn"),
                                       n_boot=30)
    dense_row = report.ablation.query("branch == 'ifn' and stratum != 'all'").iloc[0]
    assert dense_row["masses"] == 0 and np.isnan(dense_row["recall_1fpi"])
    assert paper_detection.difference_line(dense_row, "IFN minus single view, dense breasts") == (
        "IFN minus single view, dense breasts: not computed (empty stratum: no mass in its exams)")
    dense_exams = density.index[density.isin(vocab.DENSE_BREAST)]
    fusion = detection.fusion_comparison(report, both, truth, images, dense_exams)
    assert fusion.empty == "empty stratum: none of the evaluated exams is in it" and fusion.per_mass is None
    assert paper_detection.fusion_lines(fusion, pd.Series({"A": 8.0})) == [
        "dense-breast masses: none (empty stratum: none of the evaluated exams is in it): the paired comparison "
        "of single view and IFN is not computed"]
    assert detection.empty_stratum(report.matched[("ifn", "centre")], ["e3"]) == (
        "empty stratum: its 1 evaluated exam(s) hold no mass")
    lines = paper_detection.fusion_lines(detection.fusion_comparison(report, both, truth, images, ["e1", "e2"]))
    assert lines[0].startswith("dense-breast masses: 3; found by both ") and len(lines) == 4


def test_the_case_figure_falls_back_to_the_first_exams_when_no_breast_is_dense() -> None:

    studies = ["s1", "s2", "s3", "s4", "s5"]
    dense = pd.Series({"s1": "b", "s2": "c", "s3": "a", "s4": "d", "s5": "c"})
    assert paper_detection.example_exams(studies, dense, n=2) == (["s2", "s4"], "")
    fatty = pd.Series({s: "a" for s in studies})
    assert paper_detection.example_exams(studies, fatty) == (
        ["s1", "s2", "s3"], "no dense (c/d) breast among the 5 evaluated exams (an empty stratum): the first 3 exams "
                            "are shown")
    candidates = pd.DataFrame({"branch": ["ifn", "ifn", "single", "ifn"], "study_id": ["s4", "s2", "s1", "s5"],
                               "score": [0.9, 0.5, 0.99, 0.7]})
    assert paper_detection.example_exams(studies, fatty, candidates, n=2) == (["s4", "s5"], "")
