"""The simulated juniors' rated marks (synth.reader_marks, data_reader_marks.csv): detections unchanged, the
table reproducible, the false-mark rate that assumed, false marks rated lower than true ones."""
from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from mammo_lib import paths, vocab
from mammo_lib.errors import MammoError
from mammo_lib.synth import reader_marks, store
from mammo_lib.synth.config import READER_FALSE_MARKS_PER_IMAGE

MARKS = paths.REPO_ROOT / reader_marks.READER_MARKS_FILE
FINDINGS = paths.REPO_ROOT / "data_findings.csv"
MANIFEST = paths.REPO_ROOT / "data_manifest.csv"


@pytest.fixture(scope="module")
def committed() -> tuple[pd.DataFrame, pd.DataFrame]:
    if not (MARKS.is_file() and FINDINGS.is_file()):
        pytest.skip("the twin's tables are not committed")
    findings = pd.read_csv(FINDINGS)
    return reader_marks.load_reader_marks(MARKS, findings=findings), findings


def _fresh_snr_table() -> pd.DataFrame:
    """The twin's cached observer SNR when it is on disk and of the committed images (else skip: computing it
    reads every image)."""
    files = store.cohort_files("twin")
    cache = files.root / "observer_snr.csv"
    if not cache.is_file():
        pytest.skip("the twin's observer SNR cache is not on disk (render the twin: mammo synth)")
    table = pd.read_csv(cache, dtype={"sha256": str})
    digests = pd.read_csv(MANIFEST, dtype={"sha256": str}).set_index("image_id")["sha256"]
    if not table["image_id"].map(digests).eq(table["sha256"]).all():
        pytest.skip("the observer SNR cache is of other images than the committed manifest's")
    return table[["mass_id", "image_id", "snr"]]


def test_lesion_marks_are_exactly_the_detection_columns(committed) -> None:
    marks, findings = committed
    masses = findings.drop_duplicates("mass_id").set_index("mass_id")
    for name in vocab.DETECTION_READERS:
        ll = marks[(marks["reader"] == name) & (marks["kind"] == "LL")]
        assert set(ll["mass_id"]) == set(masses.index[masses[f"{name}_detected"].astype(bool)])
        # each on one of the mass's own views
        views = findings.groupby("mass_id")["image_id"].agg(set)
        assert all(img in views[m] for m, img in zip(ll["mass_id"], ll["image_id"]))
    assert set(marks["reader"]) == set(vocab.DETECTION_READERS)  # the senior consensus has no detection observer
    # Table 3's column totals (519 and 482 of 618) stay those of the readers issue
    from mammo_lib.synth import reader_calibration

    for name in vocab.DETECTION_READERS:
        assert int(masses[f"{name}_detected"].sum()) == reader_calibration.detection_total(name)


def test_regenerated_marks_equal_the_committed_table_and_keep_the_detections() -> None:
    snr = _fresh_snr_table()
    files = store.cohort_files("twin")
    fresh = reader_marks.reader_marks(files, snr_table=snr)  # MammoError if a detection differed from the findings
    committed = pd.read_csv(MARKS, keep_default_na=False, dtype=str)
    again = pd.read_csv(io.StringIO(fresh.to_csv(index=False)), keep_default_na=False, dtype=str)
    pd.testing.assert_frame_equal(again, committed)
    assert reader_marks.reader_marks(files, snr_table=snr).equals(fresh)  # deterministic


def test_observer_mode_rates_detected_masses_above_the_threshold_and_the_others_below() -> None:
    snr = _fresh_snr_table()
    files = store.cohort_files("twin")
    for name in vocab.DETECTION_READERS:
        value, detected, constants = reader_marks.decision_variables(name, files, mode="observer", snr_table=snr)
        assert ((value > 0) == detected.astype(bool)).all()
        assert set(constants) == {"efficiency", "internal_noise", "threshold"}
        value, detected, constants = reader_marks.decision_variables(name, files, mode="calibrated", snr_table=snr)
        # the conditioned draw keeps almost every mass on the side of 0 its score puts it
        assert ((value > 0) == detected.astype(bool)).mean() > 0.9
        assert set(constants) == {"slope", "bias"}


def test_false_mark_rate_is_the_stated_assumption_within_sampling_error(committed) -> None:
    marks, _ = committed
    n_images = pd.read_csv(MANIFEST)["image_id"].nunique()
    for name in vocab.DETECTION_READERS:
        count = int(((marks["reader"] == name) & (marks["kind"] == "NL")).sum())
        expected = READER_FALSE_MARKS_PER_IMAGE * n_images  # Poisson: variance = mean
        assert abs(count - expected) < 3 * math.sqrt(expected), (name, count, expected)
        assert marks.loc[(marks["reader"] == name) & (marks["kind"] == "NL"), "image_id"].isin(
            pd.read_csv(MANIFEST)["image_id"]).all()


def test_false_marks_rate_lower_than_true_marks_on_average(committed) -> None:
    marks, _ = committed
    means = marks.groupby(["reader", "kind"])["rating"].mean()
    for name in vocab.DETECTION_READERS:
        assert means[(name, "NL")] < means[(name, "LL")]
    assert (marks.loc[marks["kind"] == "NL", "rating"] > 0).all()  # reported: above the threshold


def test_the_assumed_rate_is_the_published_studys_when_shared_is_present() -> None:
    shared = paths.shared_dir()
    ref = None if shared is None else shared / "reference" / "froc"
    if ref is None or not (ref / "dataset04_marks.csv").is_file():
        pytest.skip("../shared/reference/froc is absent")
    marks = pd.read_csv(ref / "dataset04_marks.csv")
    truth = pd.read_csv(ref / "dataset04_truth.csv")
    readings = truth["case"].nunique() * marks["reader"].nunique() * marks["modality"].nunique()
    assert round(int((marks["kind"] == "NL").sum()) / readings, 2) == READER_FALSE_MARKS_PER_IMAGE


def test_false_mark_ratings_are_positive_seeded_and_follow_each_observer() -> None:
    calibrated = {"slope": 4.0, "bias": 1.0}
    a = reader_marks.false_mark_ratings(500, calibrated, np.random.default_rng(3))
    b = reader_marks.false_mark_ratings(500, calibrated, np.random.default_rng(3))
    assert a.shape == (500,) and (a > 0).all() and np.array_equal(a, b)
    observer = {"efficiency": 0.4, "internal_noise": 0.5, "threshold": 1.0}
    c = reader_marks.false_mark_ratings(2000, observer, np.random.default_rng(4))
    assert (c > 0).all()
    # v - threshold with v ~ N(0, efficiency + noise^2) truncated at the threshold: its mean is known
    from scipy import stats

    sd = math.sqrt(0.4 + 0.25)
    expect = stats.truncnorm.mean(1.0 / sd, np.inf, scale=sd) - 1.0
    assert c.mean() == pytest.approx(expect, abs=4 * c.std() / math.sqrt(c.size))
    assert reader_marks.false_mark_ratings(0, observer, np.random.default_rng(0)).size == 0
    with pytest.raises(MammoError, match="count must be >= 0"):
        reader_marks.false_mark_ratings(-1, observer, np.random.default_rng(0))


def test_decision_variables_refuse_the_senior_and_unknown_modes() -> None:
    with pytest.raises(MammoError, match="senior consensus has no detection observer"):
        reader_marks.decision_variables("senior", None)
    with pytest.raises(MammoError, match="reader mode must be one of"):
        reader_marks.decision_variables("junior_a", None, mode="psychic")


def _write(tmp_path, rows: list[dict]) -> str:
    path = tmp_path / "marks.csv"
    pd.DataFrame(rows, columns=list(reader_marks.MARK_TABLE_COLUMNS)).to_csv(path, index=False)
    return path


GOOD = [{"reader": "junior_a", "image_id": "P1_R_CC", "kind": "LL", "mass_id": "P1-M1", "rating": 2.5},
        {"reader": "junior_a", "image_id": "P1_R_CC", "kind": "NL", "mass_id": "", "rating": 0.4},
        {"reader": "junior_b", "image_id": "P1_R_MLO", "kind": "NL", "mass_id": "", "rating": 0.7}]


@pytest.mark.parametrize(("change", "message"), [
    ({"kind": "FP"}, "row 2: kind not LL or NL"),
    ({"reader": "senior"}, "row 2: reader not one of"),
    ({"rating": "high"}, "row 2: rating not a finite number"),
    ({"mass_id": ""}, "row 2: LL mark without a mass_id"),
])
def test_load_reader_marks_names_the_file_and_row_of_a_bad_mark(tmp_path, change, message) -> None:
    path = _write(tmp_path, [{**GOOD[0], **change}, *GOOD[1:]])
    with pytest.raises(MammoError, match=f"marks.csv {message}"):
        reader_marks.load_reader_marks(path)


def test_load_reader_marks_checks_duplicates_detections_and_presence(tmp_path) -> None:
    with pytest.raises(MammoError, match="row 3: NL mark naming a mass"):
        reader_marks.load_reader_marks(_write(tmp_path, [GOOD[0], {**GOOD[1], "mass_id": "P1-M1"}]))
    with pytest.raises(MammoError, match="row 3: a second LL mark on the same mass"):
        reader_marks.load_reader_marks(_write(tmp_path, [GOOD[0], GOOD[0]]))
    findings = pd.DataFrame({"mass_id": ["P1-M1", "P1-M2"], "junior_a_detected": [True, True],
                             "junior_b_detected": [False, False]})
    with pytest.raises(MammoError, match=r"junior_a's lesion marks are not its detections .*'P1-M2'"):
        reader_marks.load_reader_marks(_write(tmp_path, GOOD), findings=findings)
    ok = reader_marks.load_reader_marks(_write(tmp_path, GOOD),
                                        findings=findings.assign(junior_a_detected=[True, False]))
    assert ok["rating"].dtype == float and len(ok) == 3
    with pytest.raises(MammoError, match="missing: `mammo synth --update-readers`"):
        reader_marks.load_reader_marks(tmp_path / "absent.csv")
