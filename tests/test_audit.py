"""mammo_lib.paper.audit: the paper's statistics recomputed from its own counts; the findings are pinned here."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mammo_lib.paper import audit
from mammo_lib.evaluation import stats


@pytest.fixture(scope="module")
def findings() -> pd.DataFrame:
    return audit.audit_all()


def _one(frame: pd.DataFrame, check: str, item: str) -> pd.Series:
    rows = frame[(frame["check"] == check) & (frame["item"] == item)]
    assert len(rows) == 1, (check, item)
    return rows.iloc[0]


# --- the helpers, against known values -----------------------------------------------------------------
def test_min_auc_is_reached_by_the_staircase_through_the_point() -> None:
    # ratings 4: 30% of negatives; 3: 60% of positives; 2: other negatives; 1: other positives
    y = np.r_[np.zeros(10), np.ones(10)].astype(bool)
    score = np.r_[[4] * 3 + [2] * 7, [3] * 6 + [1] * 4]
    sens, spec = 0.6, 0.7  # threshold ">= 3": 6/10 positives, 7/10 negatives below
    assert stats.auc(y, score) == pytest.approx(audit.min_auc_through(sens, spec)) == pytest.approx(0.42)


@pytest.mark.parametrize("seed", range(5))
def test_no_rating_has_an_auc_below_the_minimum_through_any_of_its_points(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.random(200) < 0.3
    score = rng.integers(1, 8, 200) + rng.integers(0, 3, 200) * y
    value = stats.auc(y, score)
    for t in np.unique(score):
        call = score >= t
        assert value >= audit.min_auc_through(call[y].mean(), (~call[~y]).mean()) - 1e-12


def test_hanley_mcneil_se_matches_the_spread_of_aucs_for_exponential_scores() -> None:
    # Hanley & McNeil's Q1/Q2 are exact for exponential ratings: negatives Exp(1), positives Exp(scale 3),
    # AUC = 3/4. Monte Carlo SD of the AUC over 400 samples of 40 positives and 80 negatives.
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(40), np.zeros(80)].astype(bool)
    aucs = [stats.auc(y, np.r_[rng.exponential(3.0, 40), rng.exponential(1.0, 80)]) for _ in range(400)]
    assert np.std(aucs, ddof=1) == pytest.approx(audit.hanley_mcneil_se(0.75, 40, 80), rel=0.1)


def test_delong_se_never_exceeds_the_max_auc_se_bound() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        y = rng.random(60) < 0.4
        ci = stats.delong_ci(y, rng.normal(y * rng.random(), 1.0))
        assert ci.se <= audit.max_auc_se(ci.auc, ci.n_positive, ci.n_negative) + 1e-12


def test_min_auc_rejects_rates_outside_zero_one() -> None:
    with pytest.raises(ValueError, match="sensitivity must lie in"):
        audit.min_auc_through(1.2, 0.5)


# --- the findings ----------------------------------------------------------------------------------------
def test_sixteen_of_eighteen_table3_chi_squares_reproduce_from_the_counts(findings: pd.DataFrame) -> None:
    chi2 = findings[findings["check"] == "chi-square from counts"]
    assert len(chi2) == 18 and chi2["consistent"].sum() == 16
    assert sorted(chi2.loc[~chi2["consistent"], "item"]) == ["birads / junior_a", "breast_density / junior_a"]
    density = _one(findings, "chi-square from counts", "breast_density / junior_a")
    assert density["recomputed"] == pytest.approx(9.388, abs=5e-4) and density["printed"] == 8.982


def test_birads_junior_a_chi_square_is_reproduced_by_107_masses_in_birads_5() -> None:
    assert audit.one_cell_explanations("birads", "junior_a", 24.710) == [
        "reference count of stratum '5': 107 instead of 110"]
    assert audit.one_cell_explanations("breast_density", "junior_a", 8.982) == []


def test_printed_p_below_0_0001_is_wrong_for_three_printed_chi_squares(findings: pd.DataFrame) -> None:
    p = findings[findings["check"] == "P from printed chi-square"]
    assert sorted(p.loc[~p["consistent"], "item"]) == ["age_group / dl", "birads / junior_a", "margin / junior_b"]
    assert _one(findings, "P from printed chi-square", "age_group / dl")["recomputed"] == pytest.approx(4.8e-4, rel=0.01)


def test_table3_junior_columns_are_swapped_against_the_text(findings: pd.DataFrame) -> None:
    row = _one(findings, "detected total", "age_group / junior_a")
    assert (row["printed"], row["recomputed"], row["consistent"]) == (482, 519.0, False)
    assert "swapped" in row["comment"]
    assert _one(findings, "detected total", "age_group / dl")["consistent"]
    assert findings.loc[findings["check"] == "reference column total", "consistent"].all()


def test_methods_name_size_but_table3_reports_mass_density_instead(findings: pd.DataFrame) -> None:
    factors = findings[findings["check"] == "tested factor reported"].set_index("item")
    assert not factors.loc["size", "consistent"] and factors.loc["size", "printed"] == "Methods only"
    assert factors.loc["mass_density", "printed"] == "Table 3 only"
    assert factors["consistent"].sum() == 5


def test_table1_density_rows_are_mass_density_not_breast_density(findings: pd.DataFrame) -> None:
    labels = findings[findings["check"] == "density row label"]
    vs_mass = labels[labels["item"].str.contains("mass density")]
    vs_breast = labels[labels["item"].str.contains("breast density")]
    assert vs_mass["consistent"].all() and not vs_breast["consistent"].any()


def test_table4_rates_reproduce_but_every_auc_is_impossible(findings: pd.DataFrame) -> None:
    rates = findings[(findings["section"] == "Table 4") & findings["check"].str.endswith("from counts")]
    assert len(rates) == 12 and rates["consistent"].all()
    feasible = findings[findings["check"] == "AUC possible given sens/spec"].set_index("item")
    assert not feasible["consistent"].any()
    assert feasible.loc["junior_a", "recomputed"] == pytest.approx(114 / 152 * 411 / 466)


def test_table4_cis_and_z_are_internally_possible(findings: pd.DataFrame) -> None:
    for check in ("CI centred on AUC", "CI width within the largest possible", "P from printed Z",
                  "Z implies a correlation in [-1, 1]"):
        assert findings.loc[findings["check"] == check, "consistent"].all(), check


def test_summary_counts_every_check_once(findings: pd.DataFrame) -> None:
    table = audit.summary(findings)
    assert table["checks"].sum() == len(findings)
    assert table["inconsistent"].sum() == len(audit.inconsistencies(findings)) == (~findings["consistent"]).sum()
    assert list(findings.columns) == list(audit.AUDIT_COLUMNS)
