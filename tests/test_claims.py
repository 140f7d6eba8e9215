"""The claims scorecard: verdicts computed from a run's tables, on a cohort with readers and on one without."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mammo_lib import vocab
from mammo_lib.paper import audit, claims, prose, tables
from mammo_lib.errors import MammoError


@pytest.fixture(scope="module")
def findings() -> pd.DataFrame:
    return audit.audit_all()


def _cohort(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Masses whose DL detection falls with breast density (a: 50%, d: 97%), juniors' detection does not
    depend on it; the senior rates malignancy far better than the DL score ranks it."""
    rng = np.random.default_rng(seed)
    density = rng.choice(vocab.BREAST_DENSITY, size=n, p=[0.2, 0.2, 0.4, 0.2])
    positive = rng.random(n) < 0.3
    p_dl = pd.Series(density).map({"a": 0.5, "b": 0.8, "c": 0.95, "d": 0.97}).to_numpy()
    frame = pd.DataFrame({
        "mass_id": [f"M{i:04d}" for i in range(n)], "patient_id": [f"P{i // 2:04d}" for i in range(n)],
        "breast_density": density, "age": rng.integers(25, 80, size=n),
        "morphology": rng.choice(vocab.MORPHOLOGY, size=n), "margin": rng.choice(vocab.MARGIN, size=n),
        "mass_density": rng.choice(vocab.MASS_DENSITY[:2], size=n), "birads": rng.choice(["3", "4A", "5"], size=n),
        "pathology": np.where(positive, "positive", "negative"),
        "dl_detected": rng.random(n) < p_dl,
        "junior_a_detected": rng.random(n) < 0.75, "junior_b_detected": rng.random(n) < 0.8,
    })
    truth = positive.astype(float)
    frame["dl_score"] = np.clip(50 + 18 * (truth - 0.5) + rng.normal(0, 20, n), 0, 100).round(2)
    frame["dl_positive"] = frame["dl_score"] >= 50
    for reader, skill in (("junior_a", 0.8), ("junior_b", 1.0), ("senior", 4.0)):
        latent = skill * (truth - 0.5) + rng.normal(0, 1, n)
        frame[f"{reader}_birads"] = pd.cut(latent, [-np.inf, -0.5, 0.0, 0.5, 1.0, np.inf],
                                           labels=["2", "3", "4A", "4B", "5"]).astype(str)
    return frame


def _write_run(masses: pd.DataFrame, folder: Path) -> Path:
    """The tables notebooks 06, 07 and 10 write, from a mass table."""
    tables.write_csv(tables.table3(masses), folder, "table3.csv")
    tables.write_csv(tables.table3_tests(masses), folder, "table3_tests.csv")
    tables.write_csv(tables.table4(masses), folder, "table4.csv")
    if "junior_a_detected" in masses:
        tables.write_csv(tables.dense_mcnemar(masses), folder, "density_mcnemar.csv")
        tables.write_csv(claims.detection_paired(masses), folder, "detection_paired.csv")
    return folder


def test_every_claim_has_evidence_audit_and_one_of_three_verdicts(tmp_path: Path, findings: pd.DataFrame) -> None:
    card = claims.scorecard(_write_run(_cohort(), tmp_path), findings=findings)
    assert tuple(card.columns) == claims.SCORECARD_COLUMNS
    assert card["claim_id"].is_unique and len(card) == 17
    assert set(card["verdict"]) <= set(claims.VERDICTS)
    assert (card["paper_evidence"].str.len() > 0).all() and (card["why"].str.len() > 0).all()
    assert card["audit"].str.contains("audit").all()


def test_verdicts_follow_the_run_statistics(tmp_path: Path, findings: pd.DataFrame) -> None:
    card = claims.scorecard(_write_run(_cohort(), tmp_path), findings=findings).set_index("claim_id")
    # DL detection is built to depend on density: the paper's "not affected" is not supported, with its P
    assert card.loc["density_dl", "verdict"] == claims.NOT_SUPPORTED
    tests = tables.table3_tests(_cohort()).set_index(["factor", "detector"])
    assert prose.p_phrase(tests.loc[("breast_density", "dl"), "p"]) in card.loc["density_dl", "reproduction"]
    # juniors' detection is built independent of density
    assert card.loc["density_juniors", "verdict"] == claims.NOT_SUPPORTED
    # the senior's ratings are built far better than the DL score: "not different from the senior" fails
    assert card.loc["auc_senior", "verdict"] == claims.NOT_SUPPORTED
    assert "significantly below" in card.loc["auc_senior", "why"]
    # what no reader study can show
    assert card.loc["assists_juniors", "verdict"] == claims.CANNOT
    assert card.loc["factor_size", "verdict"] == claims.CANNOT


def test_paper_evidence_comes_from_published_numbers(tmp_path: Path, findings: pd.DataFrame) -> None:
    from mammo_lib import published

    card = claims.scorecard(_write_run(_cohort(), tmp_path), findings=findings).set_index("claim_id")
    chi2, p = published.TABLE3_TESTS["breast_density"]["dl"]
    assert f"chi2 {chi2}, P {p}" in card.loc["density_dl", "paper_evidence"]
    assert "swapped" in card.loc["detection_sensitivity", "audit"]  # the audit's finding on the juniors' totals


def test_cohort_without_reader_columns_cannot_test_reader_claims(tmp_path: Path, findings: pd.DataFrame) -> None:
    masses = _cohort().drop(columns=list(vocab.READER_COLUMNS))
    card = claims.scorecard(_write_run(masses, tmp_path), findings=findings).set_index("claim_id")
    for claim in ("detection_sensitivity", "density_juniors", "dense_c", "dense_d", "dense_breasts",
                  "classification_points", "auc_juniors", "auc_senior", "factor_margin"):
        assert card.loc[claim, "verdict"] == claims.CANNOT, claim
    assert "Junior radiologist" in card.loc["density_juniors", "why"]
    assert card.loc["density_dl", "verdict"] == claims.NOT_SUPPORTED  # the DL-only claim is still tested


def test_a_vindr_like_run_scores_the_dl_claims_and_names_what_it_lacks(tmp_path: Path,
                                                                      findings: pd.DataFrame) -> None:
    # no readers, no morphology/margin/mass density, no pathology: notebook 06's DL-only Table 3, no 07 tables
    masses = _cohort().drop(columns=[*vocab.READER_COLUMNS, "morphology", "margin", "mass_density", "pathology"])
    assert tables.missing_factors(masses) == ["morphology", "margin", "mass_density"]
    tables.write_csv(tables.table3(masses), tmp_path, "table3.csv")
    tables.write_csv(tables.table3_tests(masses), tmp_path, "table3_tests.csv")
    card = claims.scorecard(tmp_path, findings=findings).set_index("claim_id")
    assert card.loc["density_dl", "verdict"] == claims.NOT_SUPPORTED  # DL's density effect is still tested
    assert "does not record mass morphology, so Table 3 leaves that factor out" in card.loc["factor_morphology", "why"]
    assert "the run's cohort has detections by DL system only" in card.loc["factor_age_group", "why"]
    assert "table4.csv is not in this run (notebook 07 not run, skipped for this cohort" in card.loc["auc_senior", "why"]
    assert (card.drop(index="density_dl")["verdict"] == claims.CANNOT).all()


def test_run_without_tables_cannot_test_anything_but_says_which_notebook(tmp_path: Path, findings: pd.DataFrame) -> None:
    card = claims.scorecard(tmp_path, findings=findings).set_index("claim_id")
    assert (card["verdict"] == claims.CANNOT).all()
    assert "notebook 06 not run" in card.loc["density_dl", "why"]
    assert "notebook 07 not run" in card.loc["auc_senior", "why"]


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    with pytest.raises(MammoError, match="does not exist"):
        claims.scorecard(tmp_path / "nope")
    with pytest.raises(MammoError, match="alpha"):
        claims.scorecard(tmp_path, alpha=2)


def test_every_claim_names_the_arm_that_decides_it(tmp_path: Path, findings: pd.DataFrame) -> None:
    card = claims.scorecard(_write_run(_cohort(), tmp_path), findings=findings).set_index("claim_id")
    assert set(card.index) == set(claims.DECIDED_BY)
    assert card.loc["density_dl", "decided_by"] == claims.DL_ARM
    assert card.loc["density_juniors", "decided_by"] == claims.READERS_ARM
    assert card.loc["auc_senior", "decided_by"] == "DL models + simulated readers"
    assert card.loc["assists_juniors", "decided_by"] == claims.PAPER_ARM
    parts = {p for arm in card["decided_by"] for p in arm.split(" + ")}
    assert parts <= set(claims.ARMS)
    counts = claims.arm_counts(card.reset_index())
    assert counts["claims"].sum() == len(card) == 17
    assert counts.loc[claims.DL_ARM, "claims"] == (card["decided_by"] == claims.DL_ARM).sum()
    assert list(counts.columns) == [*claims.VERDICTS, "claims"]


def test_a_cohort_with_real_readers_names_them_in_decided_by(tmp_path: Path, findings: pd.DataFrame) -> None:
    card = claims.scorecard(_write_run(_cohort(), tmp_path), findings=findings, readers="cohort's readers")
    assert (card.set_index("claim_id").loc["density_juniors", "decided_by"]) == "cohort's readers"
    assert not card["decided_by"].str.contains(claims.READERS_ARM).any()
    with pytest.raises(MammoError, match="readers"):
        claims.scorecard(tmp_path, findings=findings, readers=" ")


def test_the_verdict_words_say_what_the_run_shows(tmp_path: Path, findings: pd.DataFrame) -> None:
    assert claims.VERDICTS == ("reproduced on this run", "contradicted on this run", "cannot be tested here")
    card = claims.scorecard(_write_run(_cohort(), tmp_path), findings=findings)
    assert claims.verdict_counts(card).sum() == len(card)
    with pytest.raises(MammoError, match="decided_by"):
        claims.arm_counts(card.drop(columns="decided_by"))


def test_the_dl_sentence_sets_the_runs_dl_against_the_papers(tmp_path: Path) -> None:
    run = _write_run(_cohort(), tmp_path)
    text = claims.dl_versus_paper(run)
    assert text.startswith("This run's DL models: detection sensitivity ") and "vs the paper's 86.2% (533/618)" in text
    assert "AUC" in text and "vs 0.697" in text
    empty = tmp_path / "empty"
    empty.mkdir()
    assert claims.dl_versus_paper(empty) == "The run has no DL results (notebooks 04-07 not run)."
