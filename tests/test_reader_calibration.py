"""Calibrated junior readers (issue 28): the stratum fit, the conditioned draw, and the committed twin's readers
against Table 3 (every cell, every test) and Table 4."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sstats

from mammo_lib import paths, published, vocab
from mammo_lib.paper import tables
from mammo_lib.errors import MammoError
from mammo_lib.synth import reader_calibration as rc
from mammo_lib.synth import readers
from mammo_lib.synth.config import READERS, ReaderParams
from mammo_lib.paper import reader_study


def _strata(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Random masses with a stratum of every Table 3 factor (shares roughly the paper's)."""
    rng = np.random.default_rng(seed)
    cols = {}
    for f in rc.FACTORS:
        strata = list(published.TABLE3[f])
        share = np.array([v[0] for v in published.TABLE3[f].values()], float) + 20.0
        cols[f] = rng.choice(strata, n, p=share / share.sum())
    return pd.DataFrame(cols, index=pd.Index([f"P{i:04d}-M1" for i in range(n)], name="mass_id"))


def _truth_model(strata: pd.DataFrame, seed: int = 4) -> tuple[pd.Series, dict, pd.Series]:
    """Log-SNR per mass, true stratum effects, and the true detection probability."""
    rng = np.random.default_rng(seed)
    log_snr = pd.Series(rng.normal(0.8, 0.5, len(strata)), index=strata.index)
    effects = {(f, s): float(rng.normal(0, 0.7)) for f in rc.FACTORS for s in published.TABLE3[f]}
    eta = 2.0 * log_snr.to_numpy() + sum(strata[f].map({s: effects[(f, s)] for s in published.TABLE3[f]}).to_numpy()
                                         for f in rc.FACTORS)
    return log_snr, effects, pd.Series(sstats.logistic.cdf(eta), index=strata.index)


def test_fit_reproduces_every_margin_and_the_true_probabilities() -> None:
    strata = _strata()
    log_snr, _, p_true = _truth_model(strata)
    targets = {(f, s): int(round(p_true[strata[f] == s].sum())) for f in rc.FACTORS for s in published.TABLE3[f]}
    # margins must agree with each other: rounding can leave factors' totals apart by a few; fit the exact sums
    targets = {k: float(p_true[strata[k[0]] == k[1]].sum()) for k in targets}
    fit = rc.fit_detection(log_snr, strata, targets, slope=2.0)
    assert max(abs(fit.expected[k] - v) for k, v in targets.items()) < 0.05
    # margins are the sufficient statistics of this model: the fit recovers the probabilities themselves
    assert np.abs(fit.probability - p_true).max() < 0.02


def test_fully_detected_stratum_stays_finite() -> None:
    strata = _strata()
    log_snr, _, p_true = _truth_model(strata)
    targets = {(f, s): float(p_true[strata[f] == s].sum()) for f in rc.FACTORS for s in published.TABLE3[f]}
    n_a = int((strata["breast_density"] == "a").sum())
    shift = n_a - targets[("breast_density", "a")]
    targets[("breast_density", "a")] = float(n_a)  # every density-a mass detected (Table 3: 14 of 14)
    targets[("breast_density", "c")] -= shift  # keep the factor's total equal to the others'
    fit = rc.fit_detection(log_snr, strata, targets, slope=2.0)
    assert np.isfinite(list(fit.effects.values())).all()
    assert fit.expected[("breast_density", "a")] == pytest.approx(n_a, abs=0.05)


def test_impossible_target_is_refused() -> None:
    strata = _strata()
    log_snr, _, _ = _truth_model(strata)
    n_a = int((strata["breast_density"] == "a").sum())
    with pytest.raises(MammoError, match=r"target .* for breast_density=a is outside 0\.\."):
        rc.fit_detection(log_snr, strata, {("breast_density", "a"): n_a + 1}, slope=2.0)


def test_conditioned_draw_meets_every_cell_and_is_deterministic() -> None:
    strata = _strata()
    log_snr, _, p_true = _truth_model(strata)
    plain = rc.draw_detection(p_true, strata, None, "junior_a", seed=7)
    assert plain.equals(pd.Series(rc.stable_uniform(7, "junior_a", strata.index) < p_true.to_numpy(),
                                  index=strata.index))
    targets = {(f, s): int((plain[strata[f] == s]).sum()) + (1 if (f, s) == ("margin", "spiculated") else 0)
               - (1 if (f, s) == ("margin", "obscured") else 0) for f in rc.FACTORS for s in published.TABLE3[f]}
    # a set of counts whose factor totals differ cannot be met
    with pytest.raises(MammoError, match="no detection set has the published count"):
        rc.draw_detection(p_true, strata, {**targets, ("age_group", "<40"): targets[("age_group", "<40")] + 1},
                          "junior_a", seed=7)
    drawn = rc.draw_detection(p_true, strata, targets, "junior_a", seed=7)
    for (f, s), n in targets.items():
        assert int(drawn[strata[f] == s].sum()) == n
    assert (drawn != plain).sum() <= 12  # the closest set to the plain draw: a few masses swapped
    assert drawn.equals(rc.draw_detection(p_true, strata, targets, "junior_a", seed=7))
    assert not drawn.equals(rc.draw_detection(p_true, strata, targets, "junior_a", seed=8))


def test_stable_uniform_does_not_depend_on_the_other_masses() -> None:
    ids = pd.Index(["P0001-M1", "P0002-M1", "P0003-M2"])
    whole = rc.stable_uniform(1, "junior_b", ids)
    assert rc.stable_uniform(1, "junior_b", ids[[2]])[0] == whole[2]
    assert ((whole > 0) & (whole < 1)).all()
    assert not np.array_equal(whole, rc.stable_uniform(1, "junior_a", ids))


def test_observer_slope_is_steeper_for_less_internal_noise() -> None:
    snr = pd.Series(np.exp(np.random.default_rng(0).normal(1.0, 0.5, 400)))
    loose = rc.observer_slope(snr, ReaderParams(0.3, 0.5, 1.0, 0.0, 0.0))
    tight = rc.observer_slope(snr, ReaderParams(0.3, 0.2, 1.0, 0.0, 0.0))
    assert tight > loose > 0
    with pytest.raises(MammoError, match="positive and finite"):
        rc.observer_slope(snr * 0, ReaderParams(0.3, 0.5, 1.0, 0.0, 0.0))


def test_convention_targets_are_table3_columns_with_their_totals() -> None:
    assert rc.detection_total("junior_a") == sum(v[1] for v in published.TABLE3["margin"].values())
    assert {rc.detection_total(r) for r in vocab.DETECTION_READERS} == {
        published.DETECTION_TEXT["overall"][r][0] for r in vocab.DETECTION_READERS}
    with pytest.raises(MammoError, match="reader must be one of"):
        rc.detection_targets("senior")


def test_mass_strata_reads_age_and_density_from_the_manifest() -> None:
    findings = pd.DataFrame({"mass_id": ["P1-M1", "P1-M1", "P2-M1"], "image_id": ["P1_L_CC", "P1_L_MLO", "P2_R_CC"],
                             "morphology": ["oval"] * 3, "margin": ["obscured"] * 3, "mass_density": ["equal"] * 3,
                             "birads": ["3", "3", "5"]})
    manifest = pd.DataFrame({"image_id": ["P1_L_CC", "P1_L_MLO", "P2_R_CC"], "age": [39, 39, 61],
                             "breast_density": ["d", "d", "a"]})
    got = rc.mass_strata(findings, manifest)
    assert got.loc["P1-M1", ["breast_density", "age_group"]].tolist() == ["d", "<40"]
    assert got.loc["P2-M1", ["age_group", "birads"]].tolist() == [">60", "5"]
    with pytest.raises(MammoError, match=r"unknown margin values \['fuzzy'\]"):
        rc.mass_strata(findings.assign(margin="fuzzy"), manifest)
    with pytest.raises(MammoError, match="not in the manifest"):
        rc.mass_strata(findings, manifest.iloc[:1])


# --- the committed twin's readers ------------------------------------------------------------------------
def _committed_masses() -> pd.DataFrame:
    return tables.load_masses(paths.REPO_ROOT / "data_manifest.csv")


def _fisher_cells(masses: pd.DataFrame) -> list[tuple[str, str, str, float]]:
    t3 = tables.table3(masses)
    out = []
    for reader in vocab.DETECTION_READERS:
        col = published.TABLE3_COLUMNS.index(rc.table3_column(reader))
        assert int(masses[f"{reader}_detected"].astype(bool).sum()) == rc.detection_total(reader)
        for factor, strata in published.TABLE3.items():
            for stratum, counts in strata.items():
                row = t3[(t3.factor == factor) & (t3.stratum == stratum) & (t3.detector == reader)].iloc[0]
                ref, pub = counts[0], counts[col]
                p = sstats.fisher_exact([[row.detected, row.reference - row.detected], [pub, ref - pub]])[1]
                out.append((reader, factor, stratum, float(p)))
    return out


def test_committed_juniors_reproduce_table3_cells_and_tests() -> None:
    masses = _committed_masses()
    cells = _fisher_cells(masses)
    assert len(cells) == 50
    assert sum(p >= 0.05 for *_, p in cells) >= 47, [c for c in cells if c[3] < 0.05]
    tests = tables.table3_tests(masses)
    sides = []
    for reader in vocab.DETECTION_READERS:
        for factor in published.TABLE3:
            p = float(tests[(tests.factor == factor) & (tests.detector == reader)].p.iloc[0])
            printed = published.TABLE3_TESTS[factor][rc.table3_column(reader)][1]
            paper_p = 0.0 if printed.startswith("<") else float(printed)
            sides.append((reader, factor, (p < 0.05) == (paper_p < 0.05)))
    assert all(ok for *_, ok in sides), [s for s in sides if not s[2]]


def test_committed_readers_meet_table4_within_one_count() -> None:
    t4 = tables.table4(_committed_masses()).set_index("rater")
    for reader in vocab.READERS:
        assert abs(int(t4.loc[reader, "true_negative"]) - published.TABLE4[reader]["negative"]) <= 1
        assert abs(int(t4.loc[reader, "true_positive"]) - published.TABLE4[reader]["positive"]) <= 1


def test_committed_senior_keeps_the_reference_order_as_far_as_table4_allows() -> None:
    masses = _committed_masses()
    ref, senior = masses["birads"].astype(str), masses["senior_birads"].astype(str)
    high_rated_low = int((ref.isin(vocab.BIRADS_POSITIVE[1:]) & ~senior.isin(vocab.BIRADS_POSITIVE)).sum())
    forced = readers.forced_disagreement()["min_4b_to_5_rated_below_4a"]
    assert forced <= high_rated_low <= forced + 5
    rho = sstats.spearmanr(ref.map(vocab.BIRADS_RANK), senior.map(vocab.BIRADS_RANK))[0]
    assert rho > 0.7
    # the senior's mean rating rises with the reference category
    means = senior.map(vocab.BIRADS_RANK).groupby(ref).mean().reindex(vocab.MASS_BIRADS)
    assert means.is_monotonic_increasing


def test_forced_disagreement_follows_from_tables_1_and_4() -> None:
    got = readers.forced_disagreement()
    t4, t1 = published.TABLE4["senior"], published.TABLE1["birads"]
    assert got["senior_positive_calls"] == t4["positive"] + (published.TABLE4_REFERENCE["negative"] - t4["negative"])
    assert got["reference_4a_to_5"] == sum(t1[k][1][0] for k in vocab.BIRADS_POSITIVE)
    assert got["min_4b_to_5_rated_below_4a"] == sum(t1[k][1][0] for k in vocab.BIRADS_POSITIVE[1:]) - \
        got["senior_positive_calls"]


def test_observer_and_calibrated_modes_differ_only_in_the_juniors_detection(tmp_path) -> None:
    from mammo_lib.synth import store

    findings = pd.read_csv(paths.REPO_ROOT / "data_findings.csv")
    files = store.CohortFiles(tmp_path, paths.REPO_ROOT / "data_manifest.csv", paths.REPO_ROOT / "data_findings.csv",
                              tmp_path / "truth.csv")
    snr = findings[["mass_id", "image_id"]].assign(snr=np.exp(np.random.default_rng(0).normal(1, 0.5, len(findings))))
    cal = readers.read_cohort(files, READERS, snr, mode="calibrated")
    obs = readers.read_cohort(files, READERS, snr, mode="observer")
    assert cal["senior_birads"].equals(obs["senior_birads"])
    assert not cal["junior_a_detected"].equals(obs["junior_a_detected"])
    with pytest.raises(MammoError, match="reader mode must be one of"):
        readers.read_cohort(files, READERS, snr, mode="oracle")


def test_compare_reader_modes_puts_both_reader_modes_beside_table3(tmp_path) -> None:
    from mammo_lib.synth import store

    findings = pd.read_csv(paths.REPO_ROOT / "data_findings.csv")
    files = store.CohortFiles(tmp_path, paths.REPO_ROOT / "data_manifest.csv", paths.REPO_ROOT / "data_findings.csv",
                              tmp_path / "truth.csv")
    snr = findings[["mass_id", "image_id"]].assign(snr=np.exp(np.random.default_rng(1).normal(1, 0.5, len(findings))))
    strata, tests = reader_study.compare_reader_modes(files, snr)
    assert len(strata) == 50 and len(tests) == 12
    assert (strata["calibrated"] == strata["paper"]).all()  # every cell, by construction of the draw
    assert (strata["observer"] != strata["paper"]).any()
    assert set(tests.columns) == {"factor", "reader", "p_calibrated", "p_observer", "p_paper"}
