"""mammo_lib.paper.tables: Tables 1-4 and Figure 3's curves from a small hand-made mass table."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from mammo_lib import published, vocab
from mammo_lib.paper import reader_study, tables
from mammo_lib.evaluation import stats
from mammo_lib.checksums import sha256_bytes
from mammo_lib.errors import MammoError


def _masses() -> pd.DataFrame:
    """Eight masses of four patients; readers and reference chosen so every count below is checkable by eye."""
    return pd.DataFrame({
        "mass_id": [f"m{i}" for i in range(1, 9)],
        "patient_id": ["p1", "p1", "p1", "p2", "p3", "p3", "p4", "p4"],
        "age": [35, 35, 35, 40, 61, 61, 60, 60],
        "breast_density": ["c", "c", "c", "d", "a", "a", "c", "c"],
        "morphology": ["oval", "oval", "irregular", "round", "oval", "irregular", "oval", "oval"],
        "margin": ["obscured", "obscured", "spiculated", "circumscribed", "obscured", "indistinct", "obscured",
                   "microlobulated"],
        "mass_density": ["equal", "equal", "high", "low", "equal", "high", "equal", "fat-containing"],
        "birads": ["3", "3", "5", "2", "4A", "4C", "3", "4B"],
        "pathology": ["negative", "negative", "positive", "negative", "negative", "positive", "negative",
                      "positive"],
        "histology": ["stable follow-up", "fibroadenoma", "invasive ductal carcinoma", "stable follow-up",
                      "hyperplasia", "mucinous carcinoma", "stable follow-up", "intraductal papilloma"],
        "junior_a_detected": [True, False, True, True, True, True, False, True],
        "junior_b_detected": ["yes", "yes", "yes", "no", "yes", "no", "no", "yes"],
        "junior_a_birads": ["3", "2", "4B", "2", "4A", "3", "3", "5"],
        "junior_b_birads": ["2", "3", "5", "3", "3", "4A", "2", "4C"],
        "senior_birads": ["2", "3", "5", "2", "3", "4C", "3", "4B"],
    })


def _dl() -> pd.DataFrame:
    return pd.DataFrame({"mass_id": [f"m{i}" for i in range(1, 9)],
                         "dl_detected": [True, True, True, False, True, True, True, True],
                         "dl_score": [10.0, 35.0, 90.0, 5.0, 60.0, 70.0, 20.0, 55.0],
                         "dl_positive": [False, False, True, False, True, True, False, True]})


# --- Tables 1 and 2 ------------------------------------------------------------------------------------
def test_table1_counts_cases_as_distinct_patients_with_such_a_mass() -> None:
    t1 = tables.table1(_masses()).set_index(["feature", "category"])
    assert t1.loc[("morphology", "oval"), ["cases", "masses"]].tolist() == [3, 5]  # p1, p3, p4
    assert t1.loc[("morphology", "irregular"), ["cases", "masses"]].tolist() == [2, 2]
    assert t1.loc[("morphology", "oval"), "cases_pct"] == pytest.approx(75.0)
    assert t1.loc[("morphology", "oval"), "masses_pct"] == pytest.approx(62.5)
    assert t1.loc[("birads", "4C"), "masses"] == 1 and t1.loc[("mass_density", "low"), "cases"] == 1
    for feature, frame in t1.groupby(level="feature"):
        assert frame["masses"].sum() == 8, feature


def test_table1_lists_every_vocabulary_category_in_the_papers_order() -> None:
    t1 = tables.table1(_masses())
    assert tuple(t1.loc[t1["feature"] == "margin", "category"]) == vocab.MARGIN
    assert t1.loc[(t1["feature"] == "birads") & (t1["category"] == "4B"), "masses"].item() == 1
    assert t1.attrs == {"n_patients": 4, "n_masses": 8}


def test_table2_counts_histology_within_each_outcome() -> None:
    t2 = tables.table2(_masses()).set_index(["outcome", "histology"])
    assert t2.loc[("negative", "stable follow-up"), "masses"] == 3
    assert t2.loc[("negative", "stable follow-up"), "pct"] == pytest.approx(60.0)
    assert t2.loc[("positive", "intraductal papilloma"), ["masses", "outcome_total"]].tolist() == [1, 3]


def test_table2_of_an_all_benign_cohort_says_why_positive_percentages_are_empty() -> None:
    benign = _masses().query("pathology == 'negative'")
    t2 = tables.table2(benign).set_index(["outcome", "histology"])
    row = t2.loc[("positive", "mucinous carcinoma")]
    assert row["masses"] == 0 and np.isnan(row["pct"]) and row["note"] == "no positive masses: percent undefined"
    assert t2.loc[("negative", "fibroadenoma"), "note"] == ""


def test_table2_rejects_a_positive_mass_with_a_benign_histology() -> None:
    masses = _masses()
    masses.loc[2, "histology"] = "fibroadenoma"
    with pytest.raises(MammoError, match=r"m3.*'fibroadenoma' is not a positive histology"):
        tables.table2(masses)


@pytest.mark.parametrize("change, message", [
    (lambda m: m.drop(columns="margin"), r"lacks column\(s\) \['margin'\]"),
    (lambda m: m.assign(morphology=["ovoid"] + ["oval"] * 7), r"'morphology' holds 'ovoid' at row 0 \(mass_id 'm1'\)"),
    (lambda m: m.assign(margin=[None] + ["obscured"] * 7), "'margin' has 1 missing value"),
    (lambda m: m.iloc[:0], "mass table is empty"),
])
def test_table1_rejects_bad_mass_tables(change, message: str) -> None:
    with pytest.raises(MammoError, match=message):
        tables.table1(change(_masses()))


def test_published_table1_and_side_by_side_keep_the_papers_rows() -> None:
    compared = tables.compare_table1(tables.table1(_masses()))
    row = compared[(compared["feature"] == "margin") & (compared["category"] == "obscured")].iloc[0]
    assert (row["masses_published"], row["cases_published"], row["masses_pct_published"]) == (224, 116, 36.2)
    assert row["masses_reproduced"] == 4 and row["in"] == "both"
    assert len(compared) == len(tables.table1(_masses()))  # every paper row has a reproduced twin


# --- DL outputs ----------------------------------------------------------------------------------------
def _write_dl(folder: Path, dl: pd.DataFrame) -> None:
    dl.assign(dl_max_score=dl["dl_score"] / 100)[list(vocab.DL_DETECTION_COLUMNS)].to_csv(
        folder / vocab.DL_DETECTION_FILE, index=False)
    dl.assign(threshold=50.0)[list(vocab.DL_SCORES_COLUMNS)].to_csv(folder / vocab.DL_SCORES_FILE, index=False)


def test_load_dl_outputs_is_none_before_the_models_ran(tmp_path: Path) -> None:
    assert tables.load_dl_outputs(tmp_path) is None


def test_load_dl_outputs_joins_both_files_on_mass_id(tmp_path: Path) -> None:
    _write_dl(tmp_path, _dl())
    dl = tables.load_dl_outputs(tmp_path)
    assert dl is not None and len(dl) == 8
    assert dl["dl_detected"].dtype == bool and not dl.loc[dl["mass_id"] == "m4", "dl_detected"].item()
    assert set(vocab.DL_SCORES_COLUMNS) | set(vocab.DL_DETECTION_COLUMNS) <= set(dl.columns)


def test_load_dl_outputs_with_only_detection_leaves_scores_out(tmp_path: Path) -> None:
    _write_dl(tmp_path, _dl())
    (tmp_path / vocab.DL_SCORES_FILE).unlink()
    dl = tables.load_dl_outputs(tmp_path)
    assert "dl_score" not in dl.columns and "dl_detected" in dl.columns


def test_load_dl_outputs_rejects_nan_scores_and_duplicates(tmp_path: Path) -> None:
    _write_dl(tmp_path, _dl())
    scores = pd.read_csv(tmp_path / vocab.DL_SCORES_FILE)
    scores.loc[3, "dl_score"] = np.nan
    scores.to_csv(tmp_path / vocab.DL_SCORES_FILE, index=False)
    with pytest.raises(MammoError, match=r"dl_scores_per_mass.csv: column 'dl_score' holds NaN at mass_id 'm4'"):
        tables.load_dl_outputs(tmp_path)
    _write_dl(tmp_path, pd.concat([_dl(), _dl().iloc[:1]]))
    with pytest.raises(MammoError, match="mass_id 'm1' appears more than once"):
        tables.load_dl_outputs(tmp_path)


def test_attach_dl_needs_every_mass() -> None:
    with pytest.raises(MammoError, match="DL outputs lack 1 of 8 masses, first mass_id 'm8'"):
        tables.attach_dl(_masses(), _dl().iloc[:7])


# --- Table 3 -------------------------------------------------------------------------------------------
def test_age_groups_include_40_and_60_in_the_middle_stratum() -> None:
    groups = tables.age_group(pd.Series([39, 40, 60, 61]))
    assert groups.tolist() == ["<40", "40-60", "40-60", ">60"]
    with pytest.raises(MammoError, match="'age' has 1 missing"):
        tables.age_group(pd.Series([39, None]))


def test_table3_counts_detections_per_stratum_with_wilson_cis() -> None:
    masses = tables.attach_dl(_masses(), _dl())
    t3 = tables.table3(masses).set_index(["factor", "stratum", "detector"])
    row = t3.loc[("breast_density", "c", "junior_a")]
    assert (row["reference"], row["detected"]) == (5, 3)
    p = stats.proportion_ci(3, 5)
    assert (row["sensitivity"], row["lower"], row["upper"]) == pytest.approx((0.6, p.lower, p.upper))
    assert t3.loc[("age_group", "40-60", "junior_b"), ["reference", "detected"]].tolist() == [3, 1]  # m4, m7, m8
    assert t3.loc[("breast_density", "b", "dl"), "note"] == "no masses in this stratum"
    assert set(t3.index.get_level_values("detector")) == {"junior_a", "junior_b", "dl"}


def test_table3_tests_equal_scipy_and_explain_untestable_factors() -> None:
    masses = tables.attach_dl(_masses(), _dl())
    tests = tables.table3_tests(masses).set_index(["factor", "detector"])
    # junior B by morphology: round 0/1 (m4), oval 4/5 (m1 m2 m5 m7 m8), irregular 1/2 (m3 m6)
    ref = sps.chi2_contingency([[0, 1], [4, 1], [1, 1]], correction=False)
    assert tests.loc[("morphology", "junior_b"), "chi2"] == pytest.approx(ref.statistic)
    assert tests.loc[("morphology", "junior_b"), "p"] == pytest.approx(ref.pvalue)
    assert tests.loc[("breast_density", "junior_a"), "dropped_strata"] == "b"
    all_found = masses.assign(dl_detected=True)
    untestable = tables.table3_tests(all_found).set_index(["factor", "detector"])
    assert untestable.loc[("margin", "dl"), "note"].startswith("not testable: chi-square undefined")
    assert np.isnan(untestable.loc[("margin", "dl"), "chi2"])


def test_table3_without_dl_shows_the_readers_only() -> None:
    t3 = tables.table3(_masses())
    assert set(t3["detector"]) == {"junior_a", "junior_b"}
    compared = tables.compare_table3_tests(tables.table3_tests(_masses()))
    dl_rows = compared[compared["detector"] == "dl"]
    assert (dl_rows["p_reproduced"] == "").all() and dl_rows["chi2_published"].notna().all()


def test_published_table3_holds_the_printed_counts() -> None:
    pub = tables.published_table3().set_index(["factor", "stratum", "detector"])
    assert pub.loc[("breast_density", "c", "junior_a"), ["reference", "detected"]].tolist() == [460, 390]
    assert pub.loc[("birads", "5", "dl"), "sensitivity"] == pytest.approx(1.0)
    assert len(pub) == 3 * sum(len(v) for v in published.TABLE3.values())


def test_format_p_follows_the_papers_style() -> None:
    assert [tables.format_p(p) for p in (0.0304, 0.00048, 0.00004, float("nan"))] == ["0.030", "0.0005", "<0.0001", ""]


# --- Table 4 and Figure 3 ------------------------------------------------------------------------------
def test_table4_rates_and_delong_against_dl() -> None:
    masses = tables.attach_dl(_masses(), _dl())
    t4 = tables.table4(masses).set_index("rater")
    # truth: m3, m6, m8 positive. Junior A calls 4A+ on m3 (4B), m5 (4A), m8 (5): TP 2, FP 1
    assert t4.loc["junior_a", ["true_positive", "true_negative", "n_positive", "n_negative"]].tolist() == [2, 4, 3, 5]
    assert t4.loc["junior_a", "accuracy"] == pytest.approx(6 / 8)
    truth = masses["pathology"].eq("positive").to_numpy()
    ranks = masses["junior_a_birads"].map(vocab.BIRADS_RANK).to_numpy(float)
    test = stats.delong_test(truth, masses["dl_score"].to_numpy(), ranks)
    assert (t4.loc["junior_a", "z"], t4.loc["junior_a", "p"]) == pytest.approx((test.z, test.p))
    # DL scores: positives 90, 70, 55; negatives 10, 35, 5, 60, 20: one of 15 pairs inverted (60 > 55)
    assert t4.loc["dl", "auc"] == pytest.approx(14 / 15) and np.isnan(t4.loc["dl", "z"])
    assert list(t4.index) == ["junior_a", "junior_b", "senior", "dl"]


def test_table4_without_dl_says_why_z_is_missing() -> None:
    t4 = tables.table4(_masses()).set_index("rater")
    assert "dl" not in t4.index
    assert t4.loc["senior", "note"].startswith("no DL scores yet")


def test_table4_rejects_a_missing_reader_rating() -> None:
    masses = _masses()
    masses.loc[4, "senior_birads"] = np.nan
    with pytest.raises(MammoError, match=r"'senior_birads' has 1 missing value\(s\), first at row 4 \(mass_id 'm5'\)"):
        tables.table4(masses)


def test_figure3_curves_run_from_origin_to_one_with_the_table4_auc() -> None:
    masses = tables.attach_dl(_masses(), _dl())
    curves = tables.figure3_curves(masses)
    t4 = tables.table4(masses).set_index("rater")
    for rater, curve in curves.groupby("rater"):
        assert (curve["fpr"].iloc[0], curve["tpr"].iloc[0]) == (0.0, 0.0)
        assert (curve["fpr"].iloc[-1], curve["tpr"].iloc[-1]) == (1.0, 1.0)
        assert np.trapezoid(curve["tpr"], curve["fpr"]) == pytest.approx(t4.loc[rater, "auc"])


def test_write_csv_gives_identical_bytes_on_rerun(tmp_path: Path) -> None:
    t = tables.table3(_masses())
    one = tables.write_csv(t, tmp_path, "a.csv").read_bytes()
    two = tables.write_csv(tables.table3(_masses()), tmp_path, "b.csv").read_bytes()
    assert one == two and b"breast_density" in one


# --- beyond the paper: paired and clustered ------------------------------------------------------------
def test_dense_mcnemar_counts_discordant_pairs_within_c_d_and_pooled() -> None:
    masses = tables.attach_dl(_masses(), _dl())
    res = tables.dense_mcnemar(masses).set_index(["stratum", "reader"])
    # breast density c: m1, m2, m3, m7, m8. DL detects all 5; junior A misses m2 and m7
    c = res.loc[("c", "junior_a")]
    assert (c["n"], c["dl_detected"], c["reader_detected"], c["only_dl"], c["only_reader"]) == (5, 5, 3, 2, 0)
    assert c["p"] == pytest.approx(0.5) and c["test"] == "exact binomial"  # 2 * 0.5**2
    pooled = res.loc[("c+d", "junior_b")]  # adds m4 (d): both miss it
    assert (pooled["n"], pooled["only_dl"], pooled["only_reader"]) == (6, 1, 0)


def test_dense_mcnemar_needs_the_dl_column() -> None:
    with pytest.raises(MammoError, match=r"lacks column\(s\) \['dl_detected'\]"):
        tables.dense_mcnemar(_masses())


def test_clustered_sensitivity_is_seeded_and_brackets_the_estimate() -> None:
    masses = tables.attach_dl(_masses(), _dl())
    one = tables.clustered_sensitivity(masses, n_boot=200, seed=3)
    assert one.equals(tables.clustered_sensitivity(masses, n_boot=200, seed=3))
    c = one[(one["stratum"] == "c") & (one["detector"] == "junior_a")].iloc[0]
    assert (c["masses"], c["patients"], c["sensitivity"]) == (5, 2, pytest.approx(0.6))
    assert c["cluster_lower"] <= c["sensitivity"] <= c["cluster_upper"]
    assert one.loc[one["stratum"] == "b", "note"].eq("no masses in this stratum").all()


def test_a_mistyped_manifest_path_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(MammoError, match=r"data_manifset.csv: manifest file does not exist"):
        tables.load_masses(tmp_path / "data_manifset.csv")


def test_clustered_auc_sits_beside_the_delong_ci() -> None:
    masses = tables.attach_dl(_masses(), _dl())
    res = tables.clustered_auc(masses, n_boot=200, seed=1).set_index("rater")
    truth = masses["pathology"].eq("positive")
    ci = stats.delong_ci(truth, masses["dl_score"])
    assert (res.loc["dl", "auc"], res.loc["dl", "delong_lower"]) == pytest.approx((ci.auc, ci.lower))
    assert list(res.index) == ["junior_a", "junior_b", "senior", "dl"]
    assert (res["cluster_lower"] <= res["cluster_upper"]).all()


def test_reader_study_table_feeds_mrmc_and_ai_vs_juniors_is_readers_minus_dl() -> None:
    from mammo_lib.evaluation import mrmc

    masses = tables.attach_dl(_masses(), _dl())
    long = reader_study.reader_study_table(masses, ("junior_a", "junior_b", "dl"))
    assert len(long) == 24 and set(long["cluster"]) == {"p1", "p2", "p3", "p4"}
    res = reader_study.ai_vs_juniors(masses).set_index(["task", "method", "covariance"])
    truth = masses["pathology"].eq("positive")
    aucs = {r: stats.auc(truth, tables.reader_ratings(masses, r)[0]) for r in ("junior_a", "junior_b", "dl")}
    row = res.loc[("classification", "1T-RRRC", "jackknife")]
    assert row["difference"] == pytest.approx((aucs["junior_a"] + aucs["junior_b"]) / 2 - aucs["dl"])
    direct = mrmc.ai_vs_readers(long, ai="dl", method="1T-RRRC")
    assert (row["lower"], row["upper"], row["p"]) == pytest.approx((*direct.ci, direct.p_value))
    det = res.loc[("detection", "1T-RRFC", "none")]
    assert det["dl"] == pytest.approx(7 / 8) and det["readers_mean"] == pytest.approx((6 / 8 + 5 / 8) / 2)
    assert det["df"] == 1 and det["t_critical"] == pytest.approx(12.7062047, abs=1e-6)
    only = reader_study.ai_vs_juniors(masses, tasks=["detection"])
    assert set(only["task"]) == {"detection"}
    with pytest.raises(MammoError, match="no DL column"):
        reader_study.ai_vs_juniors(_masses())


def test_obuchowski_auc_sits_beside_the_delong_ci() -> None:
    masses = tables.attach_dl(_masses(), _dl())
    res = reader_study.obuchowski_auc(masses).set_index("rater")
    truth = masses["pathology"].eq("positive")
    ci = stats.delong_ci(truth, masses["dl_score"])
    assert res.loc["dl", "auc"] == pytest.approx(ci.auc)
    assert res.loc["dl", "delong_upper"] - res.loc["dl", "delong_lower"] == pytest.approx(2 * 1.959964 * ci.se,
                                                                                           rel=1e-6)
    assert list(res.index) == ["junior_a", "junior_b", "senior", "dl"] and (res["patients"] == 4).all()


# --- notebooks 06 and 07 end to end on a small written cohort ------------------------------------------
def _write_cohort(folder: Path, tables_dir: Path, n_patients: int = 40, seed: int = 0) -> None:
    """A small manifest + findings pair with reader columns (the data layer's format) and DL output files."""
    rng = np.random.default_rng(seed)
    images, findings, dl_det, dl_sc = [], [], [], []
    for p in range(1, n_patients + 1):
        pid, density = f"P{p:03d}", rng.choice(list(vocab.BREAST_DENSITY), p=[0.05, 0.1, 0.6, 0.25])
        age = int(rng.integers(25, 80))
        for side, view in vocab.STANDARD_VIEWS:
            images.append({"image_id": f"{pid}_{side}_{view}", "patient_id": pid, "study_id": f"{pid}-S1",
                           "age": age, "breast_density": density, "laterality": side, "view": view,
                           "image_path": f"images/{pid}_{side}_{view}.dcm", "vendor": "GE",
                           "sha256": sha256_bytes(f"{pid}_{side}_{view}".encode()),
                           "split": "test"})
        for m in range(1, int(rng.integers(1, 4)) + 1):
            mid, positive = f"{pid}-M{m}", bool(rng.random() < 0.3)
            birads = str(rng.choice(["4B", "4C", "5"] if positive else ["2", "3", "4A"]))
            histology = "invasive ductal carcinoma" if positive else str(rng.choice(["fibroadenoma",
                                                                                    "stable follow-up"]))
            a_hit, b_hit = bool(rng.random() < 0.8 - 0.2 * (density == "d")), bool(rng.random() < 0.8)
            base = vocab.BIRADS.index("4B" if positive else "3")
            rate = lambda hit: str(vocab.BIRADS[int(np.clip(base + rng.integers(-2, 3), 1, 6))]) if hit else "1"
            readers = {"junior_a_detected": "yes" if a_hit else "no", "junior_a_birads": rate(a_hit),
                       "junior_b_detected": "yes" if b_hit else "no", "junior_b_birads": rate(b_hit),
                       "senior_birads": rate(True)}
            morphology = str(rng.choice(vocab.MORPHOLOGY))
            for view in vocab.VIEW:
                findings.append({"mass_id": mid, "image_id": f"{pid}_R_{view}", "x0": 10, "y0": 10, "x1": 40,
                                 "y1": 40, "mask_path": "", "morphology": morphology,
                                 "margin": "obscured", "mass_density": "equal", "size_mm": 12.0, "birads": birads,
                                 "pathology": "positive" if positive else "negative", "histology": histology,
                                 "reference_standard": "follow-up" if histology == "stable follow-up"
                                 else "histopathology", **readers})
            score = float(np.clip(rng.normal(65 if positive else 35, 20), 0, 100))
            dl_det.append({"mass_id": mid, "dl_detected": bool(rng.random() < 0.86), "dl_max_score": 0.9})
            dl_sc.append({"mass_id": mid, "dl_score": score, "dl_positive": score >= 50, "threshold": 50.0})
    pd.DataFrame(images).to_csv(folder / "data_manifest.csv", index=False)
    pd.DataFrame(findings).to_csv(folder / "data_findings.csv", index=False)
    pd.DataFrame(dl_det).to_csv(tables_dir / vocab.DL_DETECTION_FILE, index=False)
    pd.DataFrame(dl_sc).to_csv(tables_dir / vocab.DL_SCORES_FILE, index=False)


def test_notebooks_06_and_07_write_their_tables_and_figures_from_a_manifest(tmp_path: Path) -> None:
    """Executes both notebooks (about 20 s) on a 40-patient cohort written in the manifest format."""
    import papermill

    from mammo_lib.data.cohort import read_cohort
    from mammo_lib.run.handoff import stamp_outputs
    from mammo_lib.run.pipeline import NOTEBOOK_DIR

    run = tmp_path / "run"
    (run / "tables").mkdir(parents=True)
    _write_cohort(tmp_path, run / "tables")
    (tmp_path / "cohort.yaml").write_text("name: forty\nmanifest: data_manifest.csv\n")
    spec = read_cohort(tmp_path / "cohort.yaml")
    for output in (vocab.DL_DETECTION_FILE, vocab.DL_SCORES_FILE):  # as notebooks 04/05 write them
        stamp_outputs(pd.read_csv(run / "tables" / output), spec).to_csv(run / "tables" / output, index=False)
    for name in ("06_density_stratified", "07_tables_and_roc"):
        papermill.execute_notebook(str(NOTEBOOK_DIR / f"{name}.ipynb"), str(tmp_path / f"{name}.ipynb"),
                                   parameters={"run_dir": str(run), "cohort": str(tmp_path / "cohort.yaml"),
                                               "smoke": True},
                                   kernel_name="python3", cwd=str(NOTEBOOK_DIR), progress_bar=False)
    t3 = pd.read_csv(run / "tables" / "table3.csv")
    assert set(t3["detector"]) == {"junior_a", "junior_b", "dl"}
    t4 = pd.read_csv(run / "tables" / "table4.csv").set_index("rater")
    assert list(t4.index) == ["junior_a", "junior_b", "senior", "dl"] and t4.loc["junior_a", "z"] == t4.loc["junior_a", "z"]
    for name in ("table3_tests.csv", "table3_vs_paper.csv", "table3_tests_vs_paper.csv", "table3_clustered.csv",
                 "density_mcnemar.csv", "figure3_curves.csv", "table4_vs_paper.csv",
                 "table4_clustered_auc.csv", "table3_dl_vs_juniors.csv", "table4_obuchowski_auc.csv",
                 "table4_dl_vs_juniors.csv"):
        assert (run / "tables" / name).stat().st_size > 0, name
    for name in ("sensitivity_by_density.png", "figure3_roc.png", "figure3_roc.pdf"):
        assert (run / "figures" / name).is_file(), name


# --- figures ---------------------------------------------------------------------------------------------
def test_figure3_and_density_plots_save_identical_bytes_twice(tmp_path: Path) -> None:
    from mammo_lib.paper import figures

    masses = tables.attach_dl(_masses(), _dl())
    curves = tables.figure3_curves(masses)
    for stem in ("one", "two"):
        figures.save_figure(figures.plot_roc(curves, {"dl": 0.697}), tmp_path, stem)
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()
    assert (tmp_path / "one.pdf").read_bytes() == (tmp_path / "two.pdf").read_bytes()
    fig = figures.plot_sensitivity_by_stratum(tables.table3(masses), "breast_density", tables.published_table3())
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["a", "c", "d"]  # b has no masses


def test_figures_reject_tables_without_their_columns() -> None:
    from mammo_lib.paper import figures

    with pytest.raises(MammoError, match=r"curves lacks column\(s\) \['auc'\]"):
        figures.plot_roc(pd.DataFrame({"rater": ["dl"], "fpr": [0.0], "tpr": [0.0]}))
    with pytest.raises(MammoError, match="no masses for factor 'margin'"):
        figures.plot_sensitivity_by_stratum(tables.table3(_masses()).iloc[:0], "margin")


def test_table3_leaves_out_unrecorded_factors_and_masses_without_a_value() -> None:
    masses = _masses().assign(morphology=np.nan, margin=np.nan, mass_density=np.nan)  # VinDr-Mammo records none
    masses.loc[[0, 4], "birads"] = np.nan  # recorded on some masses only
    assert tables.missing_factors(masses) == ["morphology", "margin", "mass_density"]
    assert tables.unrecorded_counts(masses) == {"birads": 2}
    t3 = tables.table3(masses)
    assert list(dict.fromkeys(t3["factor"])) == ["breast_density", "age_group", "birads"]
    birads = t3[(t3["factor"] == "birads") & (t3["detector"] == "junior_a")].set_index("stratum")["reference"]
    assert int(birads.sum()) == 6 and int(birads["3"]) == 2  # m1 (3) and m5 (4A) are left out
    tests = tables.table3_tests(masses)
    assert set(tests["factor"]) == {"breast_density", "age_group", "birads"}
    with pytest.raises(MammoError, match="morphology"):  # a value outside the vocabulary is still an error
        tables.table3(_masses().assign(morphology="square"))


def test_only_scored_keeps_the_masses_a_smoke_run_scored() -> None:
    dl = _dl().assign(dl_detected=[True, np.nan, False, np.nan, True, True, np.nan, True])
    assert tables.only_scored(_masses(), dl)["mass_id"].tolist() == ["m1", "m3", "m5", "m6", "m8"]
    assert len(tables.only_scored(_masses(), None)) == 8
