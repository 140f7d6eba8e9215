"""mammo_lib.evaluation.stats: DeLong against pROC's own reference values, chi-square against scipy, CIs, McNemar, bootstrap.

pROC reference values (Robin X et al., pROC, github.com/xrobin/pROC, tests/testthat/) on pROC's aSAH data
(``../shared/reference/aSAH.csv``; outcome "Poor" positive, wfns as its numeric codes 1-5, direction "<"):

- test-var.R:      var(r.wfns) = 0.00146991470882363, var(r.ndka) = 0.0031908105493913,
                   var(r.s100b) = 0.00266868245717244
- test-cov.R:      cov(r.wfns, r.ndka) = -0.000532967856762438, cov(r.ndka, r.s100b) = -0.000756164938056579,
                   cov(r.s100b, r.wfns) = 0.00119615567376754
- test-ci.auc.R:   ci.auc(r.ndka) = (0.501244999271703, 0.611957994579946, 0.722670989888189);
                   ci.auc(outcome ~ ndka, aSAH, subset = gender == "Female") = (0.5261398281, 0.6671428571, 0.8081458862)
- test-roc.test.R: roc.test(r.wfns, r.s100b): Z 2.20898359144091, p 0.0271757822291882,
                   conf.int (0.0104061769564846, 0.174214419249478);
                   roc.test(r.wfns, r.ndka): Z 2.79777591868904, p 0.00514557970691098,
                   conf.int (0.0634011709339876, 0.3600405634833566);
                   roc.test(r.ndka, r.s100b): Z -1.39077002573558, p 0.164295175223054,
                   conf.int (-0.2876917446341914, 0.0488706064228094); roc.test(r.wfns, r.wfns): Z 0, p 1
- pROC documentation (print(roc(...))): AUC wfns 0.8237, s100b 0.7314 (4 printed digits).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from sklearn.metrics import roc_auc_score

from mammo_lib.evaluation import stats
from mammo_lib.errors import MammoError

TOL = 1e-6


@pytest.fixture(scope="module")
def asah(shared: Path) -> pd.DataFrame:
    """pROC's aSAH data set with a boolean ``poor`` outcome (the positive class)."""
    data = pd.read_csv(shared / "reference" / "aSAH.csv")
    data["poor"] = data["outcome"].eq("Poor")
    return data


# --- DeLong vs pROC -----------------------------------------------------------------------------------
@pytest.mark.parametrize("marker, variance", [
    ("wfns", 0.00146991470882363), ("ndka", 0.0031908105493913), ("s100b", 0.00266868245717244)])
def test_delong_variance_matches_proc_var(asah: pd.DataFrame, marker: str, variance: float) -> None:
    assert stats.delong_ci(asah["poor"], asah[marker]).variance == pytest.approx(variance, abs=TOL * 1e-3)


def test_aucs_match_proc_printed_values(asah: pd.DataFrame) -> None:
    assert round(stats.auc(asah["poor"], asah["wfns"]), 4) == 0.8237
    assert round(stats.auc(asah["poor"], asah["s100b"]), 4) == 0.7314
    assert stats.auc(asah["poor"], asah["ndka"]) == pytest.approx(0.611957994579946, abs=TOL)


def test_delong_ci_matches_proc_ci_auc_for_ndka(asah: pd.DataFrame) -> None:
    ci = stats.delong_ci(asah["poor"], asah["ndka"])
    assert (ci.lower, ci.auc, ci.upper) == pytest.approx(
        (0.501244999271703, 0.611957994579946, 0.722670989888189), abs=TOL)
    assert (ci.n_positive, ci.n_negative) == (41, 72)


def test_delong_ci_matches_proc_ci_auc_on_the_female_subset(asah: pd.DataFrame) -> None:
    female = asah[asah["gender"] == "Female"]
    ci = stats.delong_ci(female["poor"], female["ndka"])
    assert (ci.lower, ci.auc, ci.upper) == pytest.approx((0.5261398281, 0.6671428571, 0.8081458862), abs=1e-9)


def test_delong_covariances_match_proc_cov(asah: pd.DataFrame) -> None:
    _, cov = stats.delong_covariance(asah["poor"], [asah["wfns"], asah["ndka"], asah["s100b"]])
    assert cov[0, 1] == pytest.approx(-0.000532967856762438, abs=1e-12)
    assert cov[1, 2] == pytest.approx(-0.000756164938056579, abs=1e-12)
    assert cov[2, 0] == pytest.approx(0.00119615567376754, abs=1e-12)
    assert np.allclose(cov, cov.T)


@pytest.mark.parametrize("a, b, z, p, lower, upper", [
    ("wfns", "s100b", 2.20898359144091, 0.0271757822291882, 0.0104061769564846, 0.174214419249478),
    ("wfns", "ndka", 2.79777591868904, 0.00514557970691098, 0.0634011709339876, 0.3600405634833566),
    ("ndka", "s100b", -1.39077002573558, 0.164295175223054, -0.2876917446341914, 0.0488706064228094),
])
def test_paired_delong_test_matches_proc_roc_test(asah: pd.DataFrame, a: str, b: str, z: float, p: float,
                                                  lower: float, upper: float) -> None:
    t = stats.delong_test(asah["poor"], asah[a], asah[b])
    assert (t.z, t.p, t.lower, t.upper) == pytest.approx((z, p, lower, upper), abs=TOL)
    assert t.difference == pytest.approx(t.auc_a - t.auc_b)


def test_identical_scores_give_z_zero_and_p_one_as_proc(asah: pd.DataFrame) -> None:
    t = stats.delong_test(asah["poor"], asah["wfns"], asah["wfns"])
    assert (t.z, t.p, t.difference, t.variance) == (0.0, 1.0, 0.0, 0.0)


# --- DeLong vs an independent O(n^2) implementation of DeLong, DeLong & Clarke-Pearson 1988 ----------
def _delong_1988(y: np.ndarray, scores: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Structural components by the pairwise kernel psi(x, y) = 1 if x > y, 1/2 if equal, 0 otherwise."""
    pos, neg = y.astype(bool), ~y.astype(bool)
    v10, v01 = [], []
    for s in scores:
        psi = (s[pos][:, None] > s[neg][None, :]) + 0.5 * (s[pos][:, None] == s[neg][None, :])
        v10.append(psi.mean(axis=1))
        v01.append(psi.mean(axis=0))
    v10, v01 = np.array(v10), np.array(v01)
    return v10.mean(axis=1), np.cov(v10) / pos.sum() + np.cov(v01) / neg.sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_delong_equals_pairwise_delong_1988_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.random(150) < 0.3
    a = np.round(rng.normal(y * 0.8, 1.0), 1)  # rounding makes many ties
    b = rng.integers(1, 6, 150) + y  # an ordinal rating, like BI-RADS
    aucs, cov = stats.delong_covariance(y, [a, b])
    ref_aucs, ref_cov = _delong_1988(y, [a, b])
    assert np.allclose(aucs, ref_aucs, atol=1e-12)
    assert np.allclose(cov, ref_cov, atol=1e-12)
    assert aucs[0] == pytest.approx(roc_auc_score(y, a), abs=1e-12)


def test_perfect_separation_has_auc_one_and_zero_variance() -> None:
    ci = stats.delong_ci([0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9])
    assert (ci.auc, ci.variance, ci.lower, ci.upper) == (1.0, 0.0, 1.0, 1.0)


# --- DeLong bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("y, score, message", [
    ([1, 1, 1], [0.1, 0.2, 0.3], "all positive"),
    ([0, 0, 0], [0.1, 0.2, 0.3], "all negative"),
    ([0, 1, 1], [0.1, np.nan, 0.3], "score has 1 NaN"),
    ([0, 1, 1], [0.1, 0.3], "score has 2 values but y_true has 3"),
    ([0, 2, 1], [0.1, 0.2, 0.3], "got 2 at index 1"),
    ([0, np.nan, 1], [0.1, 0.2, 0.3], "y_true has 1 NaN"),
    ([], [], "y_true is empty"),
])
def test_auc_rejects_bad_input_with_a_specific_message(y: list, score: list, message: str) -> None:
    with pytest.raises(MammoError, match=message):
        stats.auc(y, score)


def test_pandas_labels_are_accepted_and_their_missing_values_named() -> None:
    assert stats.auc(pd.Series([False, True, True]), pd.Series([0.1, 0.2, 0.3])) == 1.0
    with pytest.raises(MammoError, match="y_true has 1 NaN value"):
        stats.auc(pd.Series([True, False, pd.NA], dtype="boolean"), [0.1, 0.2, 0.3])
    with pytest.raises(MammoError, match="got 'x'"):
        stats.auc(np.array(["x", "y", "x"]), [0.1, 0.2, 0.3])


def test_delong_ci_needs_two_cases_of_each_class_for_a_variance() -> None:
    with pytest.raises(MammoError, match="at least 2 positive and 2 negative"):
        stats.delong_ci([0, 0, 1], [0.1, 0.2, 0.3])


def test_delong_test_rejects_a_length_mismatch_naming_score_b() -> None:
    with pytest.raises(MammoError, match="score_b has 3 values but y_true has 4"):
        stats.delong_test([0, 0, 1, 1], [1, 2, 3, 4], [1, 2, 3])


def test_delong_rejects_alpha_outside_zero_one() -> None:
    with pytest.raises(MammoError, match="alpha"):
        stats.delong_ci([0, 0, 1, 1], [1, 2, 3, 4], alpha=1.5)


# --- chi-square -----------------------------------------------------------------------------------------
def test_chi_square_counts_equals_scipy_pearson_without_correction() -> None:
    totals, detected = [14, 47, 460, 97], [10, 42, 398, 83]  # Table 3, breast density, DL column
    res = stats.chi_square_counts(list("abcd"), totals, detected)
    table = np.column_stack([detected, np.subtract(totals, detected)])
    ref = sps.chi2_contingency(table, correction=False)
    assert (res.statistic, res.p, res.dof) == (pytest.approx(ref.statistic), pytest.approx(ref.pvalue), 3)
    assert res.n_expected_below_5 == 1  # stratum a: 14 * 85 / 618 = 1.93 expected misses
    assert res.min_expected == pytest.approx(14 * 85 / 618)


def test_chi_square_of_a_two_by_two_is_the_textbook_value() -> None:
    # 2x2 [[10, 10], [20, 0]]: chi2 = N (ad - bc)^2 / (r1 r2 c1 c2) = 40 * 200^2 / (20*20*30*10) = 13.333...
    res = stats.chi_square_counts(["x", "y"], [20, 20], [10, 20])
    assert res.statistic == pytest.approx(40 * 200**2 / (20 * 20 * 30 * 10))
    assert res.p == pytest.approx(sps.chi2.sf(40 / 3, 1))


def test_chi_square_detection_from_records_equals_the_count_version() -> None:
    strata = ["a"] * 5 + ["b"] * 7 + ["c"] * 6
    detected = [1, 1, 1, 0, 0] + [1] * 6 + [0] + [1, 0, 1, 0, 1, 1]
    from_records = stats.chi_square_detection(strata, detected, order=["a", "b", "c"])
    from_counts = stats.chi_square_counts(["a", "b", "c"], [5, 7, 6], [3, 6, 4])
    assert from_records == from_counts


def test_empty_stratum_is_dropped_and_named() -> None:
    res = stats.chi_square_detection(["a", "a", "c", "c", "c"], [1, 0, 1, 1, 0], order=["a", "b", "c"])
    assert res.dropped_strata == ("b",) and res.strata == ("a", "c") and res.dof == 1


def test_all_detected_has_zero_expected_misses_and_is_an_error() -> None:
    with pytest.raises(MammoError, match="every mass of strata .* was detected"):
        stats.chi_square_counts(["a", "b"], [5, 7], [5, 7])


def test_single_non_empty_stratum_is_an_error() -> None:
    with pytest.raises(MammoError, match="at least two strata"):
        stats.chi_square_counts(["a", "b"], [5, 0], [3, 0])


@pytest.mark.parametrize("strata, detected, order, message", [
    (["a", "z"], [1, 0], ["a", "b"], r"\['z'\], not among"),
    (["a", None], [1, 0], None, "strata has 1 missing"),
    (["a", "b"], [1, 0, 1], None, "strata has 2 values but detected has 3"),
])
def test_chi_square_detection_rejects_bad_records(strata: list, detected: list, order: list | None,
                                                  message: str) -> None:
    with pytest.raises(MammoError, match=message):
        stats.chi_square_detection(strata, detected, order=order)


def test_chi_square_counts_rejects_detected_above_total() -> None:
    with pytest.raises(MammoError, match="stratum 'b': detected 8 exceeds its total 7"):
        stats.chi_square_counts(["a", "b"], [5, 7], [3, 8])


# --- proportions, metrics, McNemar ----------------------------------------------------------------------
def _wilson(x: int, n: int, z: float = sps.norm.ppf(0.975)) -> tuple[float, float]:
    centre = (x + z * z / 2) / (n + z * z)
    half = z / (n + z * z) * np.sqrt(x * (n - x) / n + z * z / 4)
    return centre - half, centre + half


def test_proportion_ci_is_the_wilson_score_interval() -> None:
    p = stats.proportion_ci(482, 618)
    assert (p.lower, p.upper) == pytest.approx(_wilson(482, 618), abs=1e-12)
    assert p.estimate == pytest.approx(482 / 618)


def test_exact_interval_of_zero_successes_has_the_rule_of_three_like_upper_bound() -> None:
    p = stats.proportion_ci(0, 10, method="beta")
    assert p.lower == 0.0 and p.upper == pytest.approx(1 - 0.025 ** (1 / 10))


@pytest.mark.parametrize("count, nobs, message", [(1, 0, "nobs is 0"), (5, 3, "count 5 exceeds nobs 3"),
                                                  (float("nan"), 3, "count must be")])
def test_proportion_ci_rejects_impossible_counts(count: float, nobs: int, message: str) -> None:
    with pytest.raises(MammoError, match=message):
        stats.proportion_ci(count, nobs)


def test_binary_metrics_counts_and_rates() -> None:
    y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    pred = [1, 1, 1, 0, 0, 0, 0, 0, 1, 1]
    m = stats.binary_metrics(y, pred)
    assert (m.tp, m.fn, m.tn, m.fp) == (3, 1, 4, 2)
    assert (m.accuracy.estimate, m.sensitivity.estimate, m.specificity.estimate) == (0.7, 0.75, 4 / 6)


def test_mcnemar_exact_is_the_two_sided_binomial() -> None:
    a = [1] * 10 + [1] + [0] * 6 + [0] * 3
    b = [1] * 10 + [0] + [1] * 6 + [0] * 3
    res = stats.mcnemar_paired(a, b)
    assert (res.only_a, res.only_b, res.both, res.neither, res.exact) == (1, 6, 10, 3, True)
    assert res.p == pytest.approx(2 * (1 + 7) / 2**7)


def test_mcnemar_chi_square_with_continuity_correction_above_25_discordant() -> None:
    a = [1] * 10 + [0] * 25 + [1] * 5
    b = [0] * 10 + [1] * 25 + [1] * 5
    res = stats.mcnemar_paired(a, b)
    assert not res.exact
    assert res.statistic == pytest.approx((25 - 10 - 1) ** 2 / 35)
    assert res.p == pytest.approx(sps.chi2.sf(196 / 35, 1))


def test_mcnemar_without_discordant_pairs_has_p_one() -> None:
    res = stats.mcnemar_paired([1, 0, 1], [1, 0, 1])
    assert (res.statistic, res.p) == (0.0, 1.0)


# --- clustered bootstrap --------------------------------------------------------------------------------
def test_cluster_bootstrap_is_deterministic_and_covers_the_estimate() -> None:
    rng = np.random.default_rng(3)
    clusters = np.repeat(np.arange(100), 2)
    x = rng.normal(size=200)
    one = stats.cluster_bootstrap(clusters, np.mean, x, n_boot=500, seed=7)
    two = stats.cluster_bootstrap(clusters, np.mean, x, n_boot=500, seed=7)
    assert one == two
    assert one.estimate == pytest.approx(x.mean())
    assert one.lower < one.estimate < one.upper
    assert one.n_clusters == 100


def test_cluster_bootstrap_se_of_a_mean_of_singletons_is_the_textbook_se() -> None:
    x = np.random.default_rng(4).normal(size=400)
    res = stats.cluster_bootstrap(np.arange(400), np.mean, x, n_boot=2000, seed=1)
    assert res.se == pytest.approx(x.std(ddof=0) / np.sqrt(400), rel=0.08)


def test_clustering_widens_the_ci_when_masses_of_a_patient_agree() -> None:
    # each patient's 4 masses share one outcome: the effective sample is 50 patients, not 200 masses
    patient_hit = np.random.default_rng(5).random(50) < 0.7
    clusters, hits = np.repeat(np.arange(50), 4), np.repeat(patient_hit, 4).astype(float)
    clustered = stats.cluster_bootstrap(clusters, np.mean, hits, n_boot=1000, seed=2)
    naive = stats.cluster_bootstrap(np.arange(200), np.mean, hits, n_boot=1000, seed=2)
    assert clustered.se == pytest.approx(naive.se * 2, rel=0.2)


def test_cluster_bootstrap_rejects_mismatched_rows_and_tolerates_few_failed_resamples() -> None:
    with pytest.raises(MammoError, match=r"arrays\[0\] has 3 rows but clusters has 4"):
        stats.cluster_bootstrap([1, 2, 3, 4], np.mean, np.ones(3))
    y = np.array([0, 1] * 30)
    s = np.arange(60.0)
    res = stats.cluster_bootstrap(np.arange(60), stats.auc, y, s, n_boot=200, seed=0)
    assert res.n_failed == 0 and res.lower <= res.estimate <= res.upper


def test_cluster_bootstrap_with_one_class_in_most_resamples_is_an_error() -> None:
    y = np.array([1] + [0] * 59)
    with pytest.raises(MammoError, match="undefined on"):
        stats.cluster_bootstrap(np.arange(60), stats.auc, y, np.arange(60.0), n_boot=200, seed=0)
