"""mammo_lib.evaluation.froc, mrmc.dbm_analysis and mammo_lib.evaluation.sizing against RJafroc 2.1.3's own values
(``../shared/reference/froc/expected.json``: wAFROC of dataset04, its OR random-reader random-case analysis,
StCadVsRad 1T-RRRC on datasetCadSimuFroc, the OR sample size of the Van Dyke study), and by derivation where no
reference prints a value: every figure of merit against its definition evaluated by brute force, the jackknife
against recomputation without each case, wAFROC with one lesion per case against the ROC AUC, DBM against OR, and
the power formula against a seeded simulation of the OR model.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from mammo_lib.evaluation import detection, froc, mrmc, sizing
from mammo_lib.errors import MammoError

#: expected.json prints 13 significant digits; RJafroc's arithmetic differs from ours in the last 1-2.
REL = 1e-10


@pytest.fixture(scope="module")
def ref(shared: Path) -> Path:
    path = shared / "reference" / "froc"
    if not (path / "expected.json").is_file():
        pytest.skip("../shared/reference/froc is absent")
    return path


@pytest.fixture(scope="module")
def expected(ref: Path) -> dict:
    return json.loads((ref / "expected.json").read_text())


def _load(ref: Path, name: str) -> froc.FrocData:
    return froc.FrocData(pd.read_csv(ref / f"{name}_marks.csv"), pd.read_csv(ref / f"{name}_truth.csv"))


@pytest.fixture(scope="module")
def dataset04(ref: Path) -> froc.FrocData:
    return _load(ref, "dataset04")


@pytest.fixture(scope="module")
def vandyke(shared: Path) -> pd.DataFrame:
    path = shared / "reference" / "mrmc" / "vandyke.csv"
    if not path.is_file():
        pytest.skip("../shared/reference/mrmc is absent")
    return pd.read_csv(path).rename(columns={"treatment": "modality"})


def simulated(seed: int = 0, n_mod: int = 2, n_read: int = 3, n_normal: int = 9, n_abnormal: int = 8,
              max_lesions: int = 3, one_lesion_no_nl: bool = False, gain: float = 0.4, reader_sd: float = 0.3
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small FROC study with integer ratings (ties) and case, reader and modality effects."""
    rng = np.random.default_rng(seed)
    n_les = np.ones(n_abnormal, int) if one_lesion_no_nl else rng.integers(1, max_lesions + 1, n_abnormal)
    truth = [{"case": k, "lesion": 0, "weight": 0.0} for k in range(n_normal)]
    for b, n in enumerate(n_les):
        w = rng.dirichlet(np.ones(n)) if n > 1 else np.ones(1)
        w[-1] = 1 - w[:-1].sum()
        truth += [{"case": n_normal + b, "lesion": l + 1, "weight": float(w[l])} for l in range(n)]
    case_effect = rng.normal(0, 0.7, n_normal + n_abnormal)
    marks = []
    for i in range(n_mod):
        for j in range(n_read):
            skill = 1.0 + gain * i + rng.normal(0, reader_sd)
            for k in range(n_normal + n_abnormal):
                abnormal = k >= n_normal
                if not (abnormal and one_lesion_no_nl):
                    for _ in range(rng.poisson(0.8)):
                        marks.append((f"m{i}", f"r{j}", k, "NL", np.nan,
                                      int(np.clip(np.round(2 + rng.normal(0, 1) + case_effect[k]), 1, 5))))
                if abnormal:
                    for l in range(n_les[k - n_normal]):
                        if rng.random() < 0.6 + 0.1 * i:
                            marks.append((f"m{i}", f"r{j}", k, "LL", l + 1, int(np.clip(np.round(
                                2 + skill + rng.normal(0, 1) + case_effect[k]), 1, 5))))
    return pd.DataFrame(marks, columns=list(froc.MARK_COLUMNS)), pd.DataFrame(truth)


# --- RJafroc 2.1.3 (expected.json) ------------------------------------------------------------------------------
def test_dataset04_wafroc_matches_rjafroc(dataset04: froc.FrocData, expected: dict) -> None:
    e = expected["dataset04_wAFROC_fom"]
    table = froc.figure_of_merit(dataset04, "wAFROC")
    assert [str(m) for m in table.index] == e["modalities"]
    assert [str(r) for r in table.columns] == e["readers"]
    np.testing.assert_allclose(table.to_numpy(), np.array(e["fom"]), rtol=REL, atol=0)


def test_dataset04_or_rrrc_matches_rjafroc(dataset04: froc.FrocData, expected: dict) -> None:
    e = expected["dataset04_wAFROC_OR_RRRC"]
    r = mrmc.or_analysis(dataset04, fom="wAFROC")
    assert (r.statistic, r.df_numerator, r.df, r.p_value) == pytest.approx(
        (e["F"], e["ndf"], e["ddf"], e["p"]), rel=REL)
    vc = e["var_components"]
    got = (r.var_r, r.var_tr, r.cov1, r.cov2, r.cov3, r.var_error)
    assert got == pytest.approx(tuple(vc[k] for k in ("VarR", "VarTR", "Cov1", "Cov2", "Cov3", "Var")), rel=REL)
    d = e["diff_trt1_minus_trt2"]
    first = r.pairwise[0]
    assert (first.first, first.second) == (1, 2)
    assert (first.difference, r.se, *first.ci) == pytest.approx(
        (d["Estimate"], d["StdErr"], d["CILower"], d["CIUpper"]), rel=1e-9)
    default = mrmc.or_analysis(dataset04)  # wAFROC is the default for FROC data
    assert np.array_equal(default.fom, r.fom) and default.statistic == r.statistic


def test_dataset04_dbm_gives_the_or_f_ddf_p_and_difference_ci(dataset04: froc.FrocData, expected: dict) -> None:
    """Hillis (2008): DBM with Hillis's ddf equals OR with jackknife covariances, so RJafroc's OR values hold."""
    e = expected["dataset04_wAFROC_OR_RRRC"]
    r = mrmc.dbm_analysis(dataset04)
    assert (r.statistic, r.df, r.p_value) == pytest.approx((e["F"], e["ddf"], e["p"]), rel=REL)
    d = e["diff_trt1_minus_trt2"]
    assert (r.difference, r.se, *r.ci) == pytest.approx((d["Estimate"], d["StdErr"], d["CILower"], d["CIUpper"]),
                                                        rel=1e-9)
    assert (r.var_r, r.var_tr) == pytest.approx((e["var_components"]["VarR"], e["var_components"]["VarTR"]),
                                                rel=REL)


def test_cadsimufroc_1t_rrrc_matches_stcadvsrad(ref: Path, expected: dict) -> None:
    e = expected["cadsimufroc_wAFROC_1T_RRRC"]
    assert e["reader_1_is_CAD"]
    r = mrmc.ai_vs_readers(_load(ref, "cadsimufroc"), ai=1, method="1T-RRRC", fom="wAFROC")
    assert (r.ai_fom, r.reader_mean, r.difference) == pytest.approx(
        (e["fomCAD"], e["avgRadFom"], e["avgDiffFom"]), rel=REL)
    assert r.ci == pytest.approx(e["CIAvgDiffFom"], rel=REL)
    assert (r.statistic, r.df, r.p_value) == pytest.approx((e["Tstat"], e["df"], e["pval"]), rel=REL)


def test_vandyke_sample_size_matches_rjafroc(vandyke: pd.DataFrame, expected: dict) -> None:
    e = expected["vandyke_sample_size_OR_RRRC"]
    assert e["effect"].startswith("observed") and e["alpha"] == 0.05
    r = sizing.sample_size(vandyke, e["readers"], effect=None, power=e["desired_power"], alpha=e["alpha"])
    assert r.cases == e["cases"]
    # R's pf(ncp=) is accurate to about 1e-9 (pnbeta's errmax); scipy's ncf agrees with a 40-digit series to 1e-16
    assert r.power == pytest.approx(e["power_at_cases"], abs=1e-9)
    at = sizing.power(vandyke, e["readers"], e["cases"])
    assert (at.power, at.ncp, at.df) == pytest.approx((r.power, r.ncp, r.df), rel=1e-12)
    assert sizing.power(vandyke, e["readers"], e["cases"] - 1).power <= e["desired_power"]


def test_vandyke_dbm_components_match_rjafroc_documentation(vandyke: pd.DataFrame) -> None:
    """RJafroc's SsPowerGivenJK help, example 5A, prints dataset02's (Van Dyke) DBM components to 9-11 digits."""
    r = mrmc.dbm_analysis(vandyke)
    got = (r.var_r, r.var_c, r.var_tr, r.var_tc, r.var_rc, r.var_error)
    want = (0.00153499935, 0.02724923428, 0.00020040252, 0.01197529621, 0.01226472859, 0.03997160319)
    assert got == pytest.approx(want, abs=6e-12)


# --- figures of merit by definition --------------------------------------------------------------------------
def brute_force(marks: pd.DataFrame, truth: pd.DataFrame, fom: str, modality: str, reader: str) -> float:
    """RJafroc's definitions, pair by pair: psi(x, y) = 1 if y > x, 1/2 if equal; unmarked = -inf."""
    m = marks[(marks["modality"] == modality) & (marks["reader"] == reader)]
    normal = sorted(truth.loc[truth["lesion"] == 0, "case"])
    abnormal = sorted(set(truth["case"]) - set(normal))
    lesions = truth[truth["lesion"] > 0]

    def highest(rows: pd.DataFrame) -> float:
        return float(rows["rating"].max()) if len(rows) else -np.inf

    fps = {k: highest(m[(m["case"] == k) & (m["kind"] == "NL")]) for k in normal + abnormal}
    lls = {(r.case, r.lesion): highest(m[(m["case"] == r.case) & (m["kind"] == "LL") & (m["lesion"] == r.lesion)])
           for r in lesions.itertuples()}

    def fp(k: int) -> float:
        return fps[k]

    def ll(k: int, l: int) -> float:
        return lls[(k, l)]

    def psi(x: float, y: float) -> float:
        return 1.0 if y > x else 0.5 if y == x else 0.0

    if fom == "MaxNLF":
        return sum(((m["case"] == k) & (m["kind"] == "NL")).sum() for k in normal) / len(normal)
    if fom == "MaxLLF":
        return sum(np.isfinite(ll(r.case, r.lesion)) for r in lesions.itertuples()) / len(lesions)
    if fom == "HrAuc":
        tp = [highest(m[m["case"] == k]) for k in abnormal]
        return float(np.mean([psi(fp(a), b) for a in normal for b in tp]))
    negatives = normal if fom in ("wAFROC", "AFROC") else normal + abnormal
    total = sum((r.weight if fom.startswith("w") else 1.0) * psi(fp(a), ll(r.case, r.lesion))
                for a in negatives for r in lesions.itertuples())
    return total / len(negatives) / (len(abnormal) if fom.startswith("w") else len(lesions))


@pytest.mark.parametrize("fom", froc.FOMS)
def test_every_figure_of_merit_equals_its_definition(fom: str) -> None:
    marks, truth = simulated(seed=3)
    table = froc.figure_of_merit(froc.FrocData(marks, truth), fom)
    want = [[brute_force(marks, truth, fom, m, r) for r in table.columns] for m in table.index]
    np.testing.assert_allclose(table.to_numpy(), want, rtol=1e-13)


@pytest.mark.parametrize("fom", froc.FOMS)
def test_jackknife_equals_recomputing_without_each_case(fom: str) -> None:
    marks, truth = simulated(seed=5, n_normal=6, n_abnormal=5)
    data = froc.FrocData(marks, truth)
    theta, jk = data.jackknife(fom)
    left_out = {"MaxNLF": np.flatnonzero(~data.abnormal), "MaxLLF": np.flatnonzero(data.abnormal)}.get(
        fom, np.arange(data.n_cases))
    assert jk.shape == (theta.size, left_out.size)
    for col, k in enumerate(left_out):
        case = data.cases[k]
        without = froc.FrocData(marks[marks["case"] != case], truth[truth["case"] != case],
                                modalities=data.modalities, readers=data.readers)
        np.testing.assert_allclose(jk[:, col], froc.figure_of_merit(without, fom).to_numpy().ravel(), rtol=1e-13)


def test_wafroc_with_one_lesion_per_case_and_no_nl_on_abnormal_cases_is_the_roc_auc() -> None:
    """Each normal case rated by its highest NL mark and each abnormal case by its lesion's mark (unmarked: below
    every mark) make an ROC study whose AUC, jackknife and OR/DBM analyses are those of wAFROC and HrAuc."""
    marks, truth = simulated(seed=11, n_normal=15, n_abnormal=12, n_read=4, one_lesion_no_nl=True)
    data = froc.FrocData(marks, truth)
    floor = marks["rating"].min() - 1
    per_case = (marks.groupby(["modality", "reader", "case"])["rating"].max().unstack(fill_value=floor)
                .reindex(columns=list(data.cases), fill_value=floor).stack().rename("rating").reset_index())
    per_case["truth"] = per_case["case"].map(dict(zip(data.cases, data.abnormal.astype(int))))
    auc = mrmc.fom_covariance(mrmc.reader_study(per_case), "jackknife")[0]
    for fom in ("wAFROC", "AFROC", "HrAuc"):
        np.testing.assert_allclose(froc.figure_of_merit(data, fom).to_numpy(), auc, rtol=1e-13)
    f, r = mrmc.or_analysis(data), mrmc.or_analysis(per_case)
    assert (f.statistic, f.df, f.p_value, f.var_error, f.cov1, f.cov2, f.cov3, f.var_tr) == pytest.approx(
        (r.statistic, r.df, r.p_value, r.var_error, r.cov1, r.cov2, r.cov3, r.var_tr), rel=1e-10)
    assert mrmc.dbm_analysis(data, fom="HrAuc").statistic == pytest.approx(mrmc.dbm_analysis(per_case).statistic,
                                                                          rel=1e-10)
    ci = froc.figure_of_merit_ci(data, "wAFROC")
    roc_var = np.diag(mrmc.fom_covariance(mrmc.reader_study(per_case), "jackknife")[1])
    np.testing.assert_allclose(ci["se"].to_numpy() ** 2, roc_var, rtol=1e-10)
    np.testing.assert_allclose(ci["upper"] - ci["fom"], sps.norm.ppf(0.975) * ci["se"], rtol=1e-12)
    assert list(ci[["modality", "reader"]].itertuples(index=False, name=None))[:2] == [("m0", "r0"), ("m0", "r1")]


def test_dbm_mean_squares_give_the_or_components_and_its_tests() -> None:
    """Hillis (2008, Table 4; 2011, Table 1): with jackknife pseudovalues the OR covariances are functions of the
    DBM mean squares, and DBM's random-reader and fixed-case tests equal OR's."""
    marks, truth = simulated(seed=7, n_mod=3, n_read=4, n_normal=20, n_abnormal=15)
    data = froc.FrocData(marks, truth)
    d, o = mrmc.dbm_analysis(data), mrmc.or_analysis(data)
    n_i, n_j, k = len(data.modalities), len(data.readers), data.n_cases
    var = (d.ms_c + (n_i - 1) * d.ms_tc + (n_j - 1) * d.ms_rc + (n_i - 1) * (n_j - 1) * d.ms_trc) / (n_i * n_j * k)
    cov1 = (d.ms_c - d.ms_tc + (n_j - 1) * (d.ms_rc - d.ms_trc)) / (n_i * n_j * k)
    cov2 = (d.ms_c - d.ms_rc + (n_i - 1) * (d.ms_tc - d.ms_trc)) / (n_i * n_j * k)
    cov3 = (d.ms_c - d.ms_tc - d.ms_rc + d.ms_trc) / (n_i * n_j * k)
    assert (var, cov1, cov2, cov3) == pytest.approx((o.var_error, o.cov1, o.cov2, o.cov3), rel=1e-10)
    assert (d.ms_t / k, d.ms_tr / k) == pytest.approx((o.ms_t, o.ms_tr), rel=1e-10)
    assert (d.statistic, d.df, d.p_value) == pytest.approx((o.statistic, o.df, o.p_value), rel=1e-10)
    assert [p.ci for p in d.pairwise] == [pytest.approx(p.ci, rel=1e-10) for p in o.pairwise]
    fixed_cases = (mrmc.dbm_analysis(data, cases="fixed"), mrmc.or_analysis(data, cases="fixed"))
    assert fixed_cases[0].statistic == pytest.approx(fixed_cases[1].statistic, rel=1e-10)
    fixed_readers = mrmc.dbm_analysis(data, readers="fixed")
    assert fixed_readers.statistic == pytest.approx(d.ms_t / d.ms_tc)
    assert fixed_readers.df == (n_i - 1) * (k - 1)


def test_ai_vs_readers_on_froc_data_is_the_roc_machinery_on_its_jackknife() -> None:
    marks, truth = simulated(seed=13, n_mod=1, n_read=5, n_normal=14, n_abnormal=12)
    data = froc.FrocData(marks, truth)
    for method in ("1T-RRRC", "1T-RRFC", "2T-RRRC"):
        r = mrmc.ai_vs_readers(data, ai="r0", method=method, fom="AFROC")
        table = froc.figure_of_merit(data, "AFROC").to_numpy()[0]
        assert r.ai_fom == pytest.approx(table[0]) and r.reader_fom == pytest.approx(tuple(table[1:]))
    one, two = (mrmc.ai_vs_readers(data, ai="r0", method=m) for m in ("1T-RRRC", "2T-RRRC"))
    assert two.statistic == pytest.approx(one.statistic ** 2, rel=1e-10)


# --- sizing -----------------------------------------------------------------------------------------------------
def test_power_at_the_pilot_effect_and_size_matches_a_simulation_of_the_or_model() -> None:
    """Studies drawn from the OR model with a pilot's components (cases K* = K, readers J* = J, the observed
    effect): the share of Hillis F tests rejecting at 5% is the power formula's value."""
    pilot = froc.FrocData(*simulated(seed=17, n_read=5, n_normal=30, n_abnormal=25, gain=0.5, reader_sd=0.1))
    c = sizing.pilot_components(pilot)
    expected_power = sizing.power(pilot, c.readers, c.cases)
    rng = np.random.default_rng(20231027)
    n_sim, n_j = 20_000, c.readers
    # error covariance of the 2 x J figures of merit: Var, Cov1 (same reader), Cov2 (same modality), Cov3
    same_i = np.repeat(np.eye(2), n_j, 0).repeat(n_j, 1).astype(bool)
    same_j = np.tile(np.eye(n_j), (2, 2)).astype(bool)
    sigma = np.where(same_i & same_j, c.var_error, np.where(same_j, c.cov1, np.where(same_i, c.cov2, c.cov3)))
    err = rng.multivariate_normal(np.zeros(2 * n_j), sigma, n_sim).reshape(n_sim, 2, n_j)
    tr = rng.normal(0, np.sqrt(max(c.var_tr, 0.0)), (n_sim, 2, n_j))
    theta = np.array([c.effect, 0.0])[None, :, None] + tr + err
    t_i, r_j, g = theta.mean(axis=2), theta.mean(axis=1), theta.mean(axis=(1, 2))
    ms_t = n_j * ((t_i - g[:, None]) ** 2).sum(axis=1)
    ms_tr = ((theta - t_i[:, :, None] - r_j[:, None, :] + g[:, None, None]) ** 2).sum(axis=(1, 2)) / (n_j - 1)
    den = ms_tr + n_j * max(c.cov2 - c.cov3, 0.0)
    ddf = den ** 2 / (ms_tr ** 2 / (n_j - 1))
    rejected = sps.f.sf(ms_t / den, 1, ddf) < 0.05
    assert 0.1 < expected_power.power < 0.95
    assert rejected.mean() == pytest.approx(expected_power.power, abs=0.015)  # MC SE 0.0035


def test_sample_size_is_the_first_case_count_over_the_target_for_roc_and_froc_pilots() -> None:
    data = froc.FrocData(*simulated(seed=17, n_read=5, n_normal=30, n_abnormal=25, gain=0.5, reader_sd=0.1))
    marks, truth = simulated(seed=17, n_read=5, n_normal=30, n_abnormal=25, gain=0.5, reader_sd=0.1)
    roc = (marks.groupby(["modality", "reader", "case"])["rating"].max().unstack(fill_value=0)
           .reindex(columns=list(data.cases), fill_value=0).stack().rename("rating").reset_index())
    roc["truth"] = roc["case"].map(dict(zip(data.cases, data.abnormal.astype(int))))
    pilots = ((data, {}), (data, {"fom": "HrAuc"}), (data.subset(modalities=["m0"]), {"ai": "r0"}), (roc, {}),
              (roc[roc["modality"] == "m1"], {"ai": "r1"}))
    for pilot, kw in pilots:
        effect = 0.12
        s = sizing.sample_size(pilot, 6, effect=effect, **kw)
        assert s.power > 0.8 >= sizing.power(pilot, 6, s.cases - 1, effect=effect, **kw).power
        assert sizing.power(pilot, 6, s.cases, effect=effect, **kw) == s
        more = sizing.sample_size(pilot, 12, effect=effect, **kw)
        assert more.cases <= s.cases
    c = sizing.pilot_components(data)
    assert sizing.power(c, 4, data.n_cases).power == pytest.approx(sizing.power(data, 4, data.n_cases).power)


def test_sizing_without_enough_readers_says_so() -> None:
    c = sizing.PilotComponents(var_tr=0.01, var_error=0.001, cov1=0.0005, cov2=0.0004, cov3=0.0003, cases=100,
                               readers=5, effect=0.01, fom="auc")
    with pytest.raises(MammoError, match="2 readers do not reach power 0.8 .* add readers"):
        sizing.sample_size(c, 2, max_cases=4000)


# --- bad input ------------------------------------------------------------------------------------------------
def test_bad_inputs_raise_one_line_errors() -> None:
    marks, truth = simulated(seed=1)
    ll_row = marks.index[marks["kind"] == "LL"][0]
    normal_case = truth.loc[truth["lesion"] == 0, "case"].iloc[0]
    cases = [
        (marks.drop(columns="rating"), truth, "marks lack column"),
        (marks, truth.drop(columns="weight"), "truth lack column"),
        (marks.assign(case=marks["case"].where(marks.index != ll_row, normal_case)), truth,
         "a lesion \\(LL\\) mark on case 0, which the truth lists as normal"),
        (marks.assign(lesion=marks["lesion"].where(marks.index != ll_row, 9)), truth,
         "LL mark on lesion 9 of case .* which the truth does not list"),
        (marks, truth.assign(weight=truth["weight"] * 0.5), "lesion weights of case .* sum to .* not 1"),
        (marks[~((marks["reader"] == "r1") & (marks["modality"] == "m1"))], truth,
         "reader 'r1' has no marks in modality 'm1'"),
        (marks.assign(kind=marks["kind"].replace("NL", "FP")), truth, "'kind' must be 'NL' or 'LL', got 'FP'"),
        (marks.assign(case=marks["case"].replace(3, 99)), truth, "case 99 is not in the truth"),
        (pd.concat([marks, marks.loc[[ll_row]]]), truth, "2 LL marks on lesion"),
        (marks.assign(rating=marks["rating"].astype(object).where(marks.index != 0, "high")), truth,
         "'rating' must be finite numbers, got 'high'"),
        (marks, pd.concat([truth, truth.iloc[[0]]]), "lists lesion 0 of case 0 twice"),
        (marks.iloc[:0], truth, "marks has no rows: name the modalities"),
    ]
    for bad_marks, bad_truth, message in cases:
        with pytest.raises(MammoError, match=message) as info:
            froc.FrocData(bad_marks, bad_truth)
        assert "\n" not in str(info.value)
    data = froc.FrocData(marks, truth)
    for call, message in [
        (lambda: froc.figure_of_merit(data, "Wilcoxon"), "fom must be one of"),
        (lambda: froc.figure_of_merit(marks, "wAFROC"), "must be an FrocData"),
        (lambda: froc.figure_of_merit_ci(data, alpha=5), "alpha must lie strictly between 0 and 1"),
        (lambda: mrmc.or_analysis(data, covariance="delong"), "supports covariance='jackknife' only"),
        (lambda: mrmc.ai_vs_readers(data, ai="r0"), "needs one modality"),
        (lambda: data.subset(readers=["r9"]), "reader 'r9' is not in the data"),
        (lambda: mrmc.dbm_analysis(data.subset(modalities=["m0"])), "needs at least 2, got"),
        (lambda: sizing.power(data, 1, 100), "readers must be a whole number of at least 2"),
        (lambda: sizing.sample_size(data, 5, effect=0.0), "effect is 0"),
        (lambda: sizing.sample_size(data, 5, power=1.5), "power must be a number between 0 and 1"),
        (lambda: sizing.power(froc.FrocData(*simulated(seed=2, n_mod=3)), 5, 100), "sizing compares two"),
        (lambda: mrmc.or_analysis(froc.FrocData(*simulated(seed=2, n_normal=1))), "its jackknife need at least 2"),
        (lambda: froc.figure_of_merit(froc.FrocData(*simulated(seed=2, n_abnormal=0)), "HrAuc"), "needs at least 1"),
    ]:
        with pytest.raises(MammoError, match=message) as info:
            call()
        assert "\n" not in str(info.value)


# --- detection outputs as FROC marks --------------------------------------------------------------------------------
def test_from_detections_turns_matched_candidates_into_marks_and_truth() -> None:
    """Exams E1, E2 without masses (E1: a false positive at 0.3; E2: none); E3 with mass M1, hit on both views (best
    0.8) and a false positive at 0.5; E4 with M2 hit at 0.2 and M3 never hit. wAFROC by hand: normal cases rate
    0.3 and unmarked; E3's lesion beats both (1 + 1), M2 (weight 1/2) beats only the unmarked (0 + 1/2), M3
    (unmarked) ties the unmarked (0 + 1/4): (2 + 0.75) / (2 normal x 2 abnormal)."""
    box = {"x0": 10.0, "y0": 10.0, "x1": 50.0, "y1": 50.0}
    far = {"x0": 200.0, "y0": 200.0, "x1": 240.0, "y1": 240.0}
    images = pd.DataFrame({"image_id": ["e1cc", "e2cc", "e3cc", "e3mlo", "e4cc"],
                           "exam": ["E1", "E2", "E3", "E3", "E4"]})
    truth = pd.DataFrame([{"image_id": "e3cc", "mass_id": "M1", **box}, {"image_id": "e3mlo", "mass_id": "M1", **box},
                          {"image_id": "e4cc", "mass_id": "M2", **box}, {"image_id": "e4cc", "mass_id": "M3", **far}])
    candidates = pd.DataFrame([{"image_id": "e1cc", "score": 0.3, **box}, {"image_id": "e3cc", "score": 0.6, **box},
                               {"image_id": "e3mlo", "score": 0.8, **box}, {"image_id": "e3mlo", "score": 0.5, **far},
                               {"image_id": "e4cc", "score": 0.2, **box}])
    matched = detection.match_candidates(candidates, truth, images)
    data = froc.from_detections(matched)
    assert data.cases == ("E1", "E2", "E3", "E4") and list(data.abnormal) == [False, False, True, True]
    assert data.lesion_weight.tolist() == [1.0, 0.5, 0.5]
    assert data.ll[0, 0].tolist() == [0.8, 0.2, -np.inf]
    assert data.nl_max[0, 0].tolist() == [0.3, -np.inf, 0.5, -np.inf]
    assert froc.figure_of_merit(data, "wAFROC").iloc[0, 0] == pytest.approx(2.75 / 4)
    assert froc.figure_of_merit(data, "MaxLLF").iloc[0, 0] == pytest.approx(2 / 3)
    # two readers of the same exams, one marking nothing: both analysed, the silent one at chance level
    silent = detection.match_candidates(candidates.iloc[:0], truth, images)
    both = froc.from_detections({("det", "DL"): matched, ("det", "silent"): silent})
    assert froc.figure_of_merit(both, "wAFROC").to_numpy().tolist() == [[2.75 / 4, 0.5]]
    with pytest.raises(MammoError, match="covers other exams or lesions"):
        froc.from_detections({("det", "DL"): matched,
                              ("det", "other"): detection.match_candidates(candidates, truth.iloc[:3], images)})
