"""mammo_lib.evaluation.mrmc against the reference packages' own values (``../shared/reference/mrmc/``, see its README and
expected.json: RJafroc StCadVsRad on dataset09, RJafroc variance components and the Iowa OR-DBM MRMC 2.51 printout
on Van Dyke, DIDSR mitoticFigureCounts' clustered AUC OR analysis), and the options without a reference value
(DeLong and unbiased covariances, fixed readers, fixed cases, 2T-RRRC, sensitivity) against derivations: exact
identities between estimators, exact enumeration of a small population, and the published formulas.
"""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from mammo_lib.evaluation import mrmc, stats
from mammo_lib.errors import MammoError

TOL = 1e-6


@pytest.fixture(scope="module")
def ref(shared: Path) -> Path:
    path = shared / "reference" / "mrmc"
    if not (path / "expected.json").is_file():
        pytest.skip("../shared/reference/mrmc is absent")
    return path


@pytest.fixture(scope="module")
def expected(ref: Path) -> dict:
    return json.loads((ref / "expected.json").read_text())


@pytest.fixture(scope="module")
def dataset09(ref: Path) -> pd.DataFrame:
    return pd.read_csv(ref / "cad_vs_radiologists_dataset09.csv")


@pytest.fixture(scope="module")
def vandyke(ref: Path) -> pd.DataFrame:
    return pd.read_csv(ref / "vandyke.csv").rename(columns={"treatment": "modality"})


def _mitotic(ref: Path, scanner: str) -> pd.DataFrame:
    """Microscope and one scanner in long format: case = targetID, cluster = whole-slide image (wsiName)."""
    d = pd.read_csv(ref / "clustered_mitotic_figures.csv")
    d = d[d["modalityID"].isin(["microscope", scanner])]
    long = d.melt(id_vars=["targetID", "wsiName", "truth", "modalityID"],
                  value_vars=[f"observer.{i}" for i in range(1, 6)], var_name="reader", value_name="rating")
    return long.rename(columns={"targetID": "case", "modalityID": "modality", "wsiName": "cluster"})


def _simulated(seed: int = 0, n_mod: int = 2, n_read: int = 4, n_pos: int = 30, n_neg: int = 40,
               n_clusters: int = 25) -> pd.DataFrame:
    """A small correlated MRMC study: case, reader and modality effects on a latent score, 5-point ratings."""
    rng = np.random.default_rng(seed)
    k = n_pos + n_neg
    truth = np.r_[np.ones(n_pos), np.zeros(n_neg)].astype(int)
    case_eff = rng.normal(0, 1, k)
    cluster = rng.integers(0, n_clusters, k)
    rows = []
    for i in range(n_mod):
        for j in range(n_read):
            latent = truth * (1.2 + 0.3 * i + rng.normal(0, 0.2)) + case_eff + rng.normal(0, 0.8, k)
            rating = np.digitize(latent, [-0.5, 0.3, 1.0, 1.8]) + 1
            rows.append(pd.DataFrame({"modality": f"m{i}", "reader": f"r{j}", "case": np.arange(k), "truth": truth,
                                      "rating": rating, "cluster": cluster}))
    return pd.concat(rows, ignore_index=True)


# --- RJafroc StCadVsRad on dataset09 (full precision: 1e-6) -----------------------------------------------
def test_1t_rrfc_matches_rjafroc_stcadvsrad(dataset09: pd.DataFrame, expected: dict) -> None:
    e = expected["cad_vs_radiologists_dataset09"]["1T-RRFC"]
    r = mrmc.ai_vs_readers(dataset09, ai=1, method="1T-RRFC")
    assert r.ai_fom == pytest.approx(e["fomCAD"], abs=TOL)
    assert r.reader_fom == pytest.approx(e["fomRAD"], abs=TOL)
    assert r.reader_mean == pytest.approx(e["avgRadFom"], abs=TOL)
    assert r.difference == pytest.approx(e["avgDiffFom"], abs=TOL)
    assert r.ci == pytest.approx(e["CIAvgDiffFom"], abs=TOL)
    assert (r.statistic, r.df, r.p_value) == pytest.approx((e["Tstat"], e["df"], e["pval"]), abs=TOL)


def test_1t_rrrc_matches_rjafroc_stcadvsrad(dataset09: pd.DataFrame, expected: dict) -> None:
    e = expected["cad_vs_radiologists_dataset09"]["1T-RRRC"]
    r = mrmc.ai_vs_readers(dataset09, ai=1, method="1T-RRRC")
    assert (r.ai_fom, r.reader_mean, r.difference) == pytest.approx(
        (e["fomCAD"], e["avgRadFom"], e["avgDiffFom"]), abs=TOL)
    assert r.ci == pytest.approx(e["CIAvgDiffFom"], abs=TOL)
    assert r.reader_mean_ci == pytest.approx(e["CIAvgRad"], abs=TOL)
    assert (r.var_r, r.var_error, r.cov2) == pytest.approx((e["varR"], e["varError"], e["cov2"]), abs=TOL * 1e-3)
    assert (r.statistic, r.p_value) == pytest.approx((e["Tstat"], e["pval"]), abs=TOL)
    assert r.df == pytest.approx(e["df"], rel=1e-9)


def test_2t_rrrc_gives_the_1t_rrrc_f_ddf_p_and_ci(dataset09: pd.DataFrame) -> None:
    """RJafroc documents that 2T-RRRC (the AI replicated as a second modality) gives 1T-RRRC's F = T^2, ddf and
    p; algebraically MS(T:R) = MS_R(diff)/2 and Cov2 - Cov3 = Cov2(diff)/2, so the CI agrees too."""
    for covariance in ("jackknife", "delong"):
        one = mrmc.ai_vs_readers(dataset09, ai=1, method="1T-RRRC", covariance=covariance)
        two = mrmc.ai_vs_readers(dataset09, ai=1, method="2T-RRRC", covariance=covariance)
        assert two.statistic == pytest.approx(one.statistic ** 2, rel=1e-10)
        assert (two.df, two.p_value) == pytest.approx((one.df, one.p_value), rel=1e-9)
        assert two.ci == pytest.approx(one.ci, abs=1e-12)
        assert two.difference == pytest.approx(one.difference, abs=1e-15)


def test_readers_minus_ai_sign_and_margin(dataset09: pd.DataFrame) -> None:
    r = mrmc.ai_vs_readers(dataset09, ai=1, method="1T-RRRC", margin=0.05)
    assert r.difference == pytest.approx(np.mean(r.reader_fom) - r.ai_fom)
    t = (r.difference - 0.05) / r.se
    assert r.p_noninferiority == pytest.approx(sps.t.cdf(t, r.df), abs=1e-12)
    # the margin at the CI's upper bound gives a one-sided p of alpha / 2 exactly
    at_bound = mrmc.ai_vs_readers(dataset09, ai=1, method="1T-RRRC", margin=r.ci[1])
    assert at_bound.p_noninferiority == pytest.approx(0.025, abs=1e-9)


# --- Van Dyke: OR RRRC with jackknife covariances (RJafroc components 1e-6; Iowa printout, printed digits) ----
def test_vandyke_variance_components_match_rjafroc(vandyke: pd.DataFrame, expected: dict) -> None:
    e = expected["vandyke_or_rrrc_jackknife"]["variance_components"]
    r = mrmc.or_analysis(vandyke, covariance="jackknife")
    tr = e["TRanova"]
    assert (r.ms_t, r.ms_r, r.ms_tr) == pytest.approx((tr["T"]["MS"], tr["R"]["MS"], tr["TR"]["MS"]), abs=1e-12)
    vc = e["VarCom"]
    got = (r.var_r, r.var_tr, r.cov1, r.cov2, r.cov3, r.var_error)
    want = tuple(vc[k]["Estimates"] for k in ("VarR", "VarTR", "Cov1", "Cov2", "Cov3", "Var"))
    assert got == pytest.approx(want, abs=1e-12)
    assert (r.cov1 / r.var_error, r.cov2 / r.var_error, r.cov3 / r.var_error) == pytest.approx(
        tuple(vc[k]["Rhos"] for k in ("Cov1", "Cov2", "Cov3")), abs=TOL)
    for i, key in enumerate(("trt0", "trt1")):
        t = e["IndividualTrt"][key]
        assert (r.modality_ms_r[i], r.modality_var_error[i], r.modality_cov2[i]) == pytest.approx(
            (t["msREachTrt"], t["varEachTrt"], t["cov2EachTrt"]), abs=1e-12)
    for j in range(5):
        rd = e["IndividualRdr"][f"rdr{j}"]
        ms_t_j = (r.fom[0, j] - r.fom[1, j]) ** 2 / 2  # MS(T) of reader j alone
        assert (ms_t_j, r.reader_var_error[j], r.reader_cov1[j]) == pytest.approx(
            (rd["msTEachRdr"], rd["varEachRdr"], rd["cov1EachRdr"]), abs=1e-12)


def test_vandyke_rrrc_matches_the_iowa_printout(vandyke: pd.DataFrame, expected: dict) -> None:
    e = expected["vandyke_or_rrrc_jackknife"]["iowa_printed"]
    r = mrmc.or_analysis(vandyke)
    assert (round(r.statistic, 2), round(r.df, 2), round(r.p_value, 4)) == (e["F"], e["ddf"], e["p"])
    assert round(r.difference, 8) == e["diff"]
    assert round(r.se, 5) == e["StdErr"]
    assert (round(r.ci[0], 5), round(r.ci[1], 5)) == tuple(e["CI"])
    assert r.modalities == (1, 2) and r.df_numerator == 1.0


# --- mitoticFigureCounts: clustered AUC and its OR analysis, microscope vs scanner A (1e-6) ----------------
def test_clustered_or_analysis_matches_mitoticfigurecounts(ref: Path, expected: dict) -> None:
    e = expected["clustered_auc_scanner_A"]
    r = mrmc.or_analysis(_mitotic(ref, "scanner.A"), covariance="clustered")
    assert r.modalities == ("microscope", "scanner.A")
    assert r.fom == pytest.approx(np.array(e["theta.hat"]), abs=TOL)
    assert r.modality_fom == pytest.approx(e["theta.i"], abs=TOL)
    assert r.modality_se == pytest.approx(e["se.i"], abs=TOL)
    assert r.se == pytest.approx(e["se.dif"][0], abs=TOL)
    assert (r.statistic, r.df, r.p_value) == pytest.approx((e["F_stat"][0], e["df.H"][0], e["p"][0]), abs=TOL)
    assert [lo for lo, _ in r.modality_ci] == pytest.approx(e["botCI"], abs=TOL)
    assert [hi for _, hi in r.modality_ci] == pytest.approx(e["topCI"], abs=TOL)


@pytest.mark.parametrize("scanner", ["scanner.B", "scanner.C", "scanner.D"])
def test_clustered_covariance_of_other_scanners_by_definition(ref: Path, scanner: str) -> None:
    """No printed reference: each clustered (co)variance against a direct loop over slides of Obuchowski's
    (1997) formula, and per-target clusters (one unit each) against DeLong exactly."""
    data = _mitotic(ref, scanner)
    study = mrmc.reader_study(data)
    theta, cov = mrmc.fom_covariance(study, "clustered")
    y = study.truth
    flat = study.ratings.reshape(-1, y.size)
    slides = np.unique(study.clusters)
    m_tot, n_tot = int(y.sum()), int((~y).sum())
    comps = []
    for s in flat:
        v10, v01 = np.zeros(y.size), np.zeros(y.size)
        v10[y], v01[~y] = stats.delong_placements(y, s)
        comps.append((np.array([v10[study.clusters == c].sum() for c in slides]),
                      np.array([v01[study.clusters == c].sum() for c in slides])))
    m_k = np.array([y[study.clusters == c].sum() for c in slides])
    n_k = np.array([(~y)[study.clusters == c].sum() for c in slides])
    i10, i01, n_cl = (m_k > 0).sum(), (n_k > 0).sum(), slides.size
    t = theta.ravel()
    for a, b in [(0, 0), (0, 6), (2, 3), (4, 9)]:
        xa, ya = comps[a][0] - m_k * t[a], comps[a][1] - n_k * t[a]
        xb, yb = comps[b][0] - m_k * t[b], comps[b][1] - n_k * t[b]
        s10 = i10 / ((i10 - 1) * m_tot) * (xa @ xb)
        s01 = i01 / ((i01 - 1) * n_tot) * (ya @ yb)
        s11 = n_cl / (n_cl - 1) * (xa @ yb + xb @ ya)
        assert cov[a, b] == pytest.approx(s10 / m_tot + s01 / n_tot + s11 / (m_tot * n_tot), abs=1e-14)
    single = data.assign(cluster=data["case"])
    _, cov_single = mrmc.fom_covariance(mrmc.reader_study(single), "clustered")
    _, cov_delong = mrmc.fom_covariance(study, "delong")
    assert np.allclose(cov_single, cov_delong, atol=1e-15)


# --- derivations: covariance estimators -------------------------------------------------------------------
def test_delong_covariance_is_stats_delong_covariance() -> None:
    data = _simulated(1)
    study = mrmc.reader_study(data)
    theta, cov = mrmc.fom_covariance(study, "delong")
    aucs, ref_cov = stats.delong_covariance(study.truth, list(study.ratings.reshape(-1, study.truth.size)))
    assert np.allclose(theta.ravel(), aucs, atol=1e-15) and np.allclose(cov, ref_cov, atol=1e-15)


def test_jackknife_equals_recomputed_leave_one_out_aucs_and_its_delong_relation() -> None:
    data = _simulated(2, n_read=3, n_pos=12, n_neg=15)
    study = mrmc.reader_study(data)
    _, cov = mrmc.fom_covariance(study, "jackknife")
    flat = study.ratings.reshape(-1, study.truth.size)
    k = study.truth.size
    jk = np.array([[stats.auc(np.delete(study.truth, c), np.delete(s, c)) for c in range(k)] for s in flat])
    brute = np.cov(jk) * (k - 1) ** 2 / k
    assert np.allclose(cov, brute, atol=1e-14)
    # exactly (K-1)/K [S10/(m-1) + S01/(n-1)], where DeLong is S10/m + S01/n
    c = mrmc.fom_components(study)
    m, n = c.v10.shape[1], c.v01.shape[1]
    assert np.allclose(cov, (k - 1) / k * (np.cov(c.v10) / (m - 1) + np.cov(c.v01) / (n - 1)), atol=1e-15)


def _study_from_arrays(truth: np.ndarray, ratings: np.ndarray) -> mrmc.ReaderStudy:
    return mrmc.ReaderStudy(modalities=(0,), readers=tuple(range(ratings.shape[0])),
                            cases=tuple(range(truth.size)), truth=truth, ratings=ratings[None], clusters=None)


def test_unbiased_covariance_is_exactly_unbiased_and_delong_is_biased_upward() -> None:
    """Exact enumeration: 3 positives and 2 negatives, each case's (reader a, reader b) ratings drawn from a
    small joint distribution with ties; E[unbiased estimate] equals the true covariance of the AUCs."""
    pos_pts = [((1, 2), 0.2), ((2, 2), 0.3), ((3, 1), 0.5)]
    neg_pts = [((1, 1), 0.5), ((2, 3), 0.3), ((1, 2), 0.2)]
    m, n = 3, 2
    truth = np.r_[np.ones(m, bool), np.zeros(n, bool)]
    aucs, est_u, est_d, weights = [], [], [], []
    for draw in itertools.product(range(3), repeat=m + n):
        pts = [pos_pts[d] for d in draw[:m]] + [neg_pts[d] for d in draw[m:]]
        ratings = np.array([p[0] for p in pts], float).T
        study = _study_from_arrays(truth, ratings)
        theta, cov_u = mrmc.fom_covariance(study, "unbiased")
        _, cov_d = mrmc.fom_covariance(study, "delong")
        aucs.append(theta.ravel())
        est_u.append(cov_u)
        est_d.append(cov_d)
        weights.append(np.prod([p[1] for p in pts]))
    w = np.array(weights)
    assert w.sum() == pytest.approx(1.0)
    aucs = np.array(aucs)
    mean = w @ aucs
    true_cov = np.einsum("s,si,sj->ij", w, aucs - mean, aucs - mean)
    assert np.allclose(np.einsum("s,sij->ij", w, np.array(est_u)), true_cov, atol=1e-14)
    delong_mean = np.einsum("s,sij->ij", w, np.array(est_d))
    assert (np.diag(delong_mean) > np.diag(true_cov)).all()


def test_sensitivity_covariances_agree_and_1t_rrfc_is_a_t_test() -> None:
    rng = np.random.default_rng(3)
    k = 60
    rows = [pd.DataFrame({"modality": "det", "reader": r, "case": np.arange(k), "truth": 1,
                          "rating": (rng.random(k) < p).astype(int), "cluster": np.arange(k) // 2})
            for r, p in (("ai", 0.8), ("a", 0.7), ("b", 0.75), ("c", 0.65))]
    data = pd.concat(rows, ignore_index=True)
    study = mrmc.reader_study(data)
    covs = {c: mrmc.fom_covariance(study, c, fom="sensitivity")[1] for c in ("delong", "jackknife", "unbiased")}
    assert np.allclose(covs["delong"], covs["jackknife"], atol=1e-15)
    assert np.allclose(covs["delong"], covs["unbiased"], atol=1e-15)
    single = mrmc.reader_study(data.assign(cluster=data["case"]))
    assert np.allclose(mrmc.fom_covariance(single, "clustered", fom="sensitivity")[1], covs["delong"], atol=1e-15)
    r = mrmc.ai_vs_readers(data, ai="ai", method="1T-RRFC", fom="sensitivity")
    flags = dict(zip(study.readers, study.ratings[0].mean(axis=1)))
    t = sps.ttest_1samp([flags[x] - flags["ai"] for x in ("a", "b", "c")], 0.0)
    assert (r.statistic, r.p_value) == pytest.approx((t.statistic, t.pvalue), abs=1e-12)


# --- derivations: fixed readers, fixed cases ----------------------------------------------------------------
@pytest.mark.parametrize("covariance", ["jackknife", "delong", "unbiased", "clustered"])
def test_fixed_readers_chi_square_is_the_wald_test_of_the_reader_mean(covariance: str) -> None:
    data = _simulated(4)
    r = mrmc.or_analysis(data, covariance=covariance, readers="fixed")
    theta, cov = mrmc.fom_covariance(mrmc.reader_study(data), covariance)
    n_j = theta.shape[1]
    contrast = np.r_[np.full(n_j, 1 / n_j), np.full(n_j, -1 / n_j)]
    wald = (contrast @ theta.ravel()) ** 2 / (contrast @ cov @ contrast)
    assert r.statistic == pytest.approx(wald, rel=1e-10)
    assert r.p_value == pytest.approx(sps.chi2.sf(wald, 1), rel=1e-9)
    assert r.se ** 2 == pytest.approx(contrast @ cov @ contrast, rel=1e-10)
    assert np.isinf(r.df)


def test_fixed_cases_is_the_paired_t_test_of_reader_differences() -> None:
    data = _simulated(5)
    r = mrmc.or_analysis(data, cases="fixed", covariance="delong")
    t = sps.ttest_rel(r.fom[0], r.fom[1])
    assert r.statistic == pytest.approx(t.statistic ** 2, rel=1e-10)
    assert (r.p_value, r.df) == pytest.approx((t.pvalue, 3.0), rel=1e-9)
    same = mrmc.or_analysis(data, cases="fixed", covariance="jackknife")
    assert (same.statistic, same.ci) == (r.statistic, r.ci)


def test_per_modality_cis_follow_hillis_for_each_generalisation() -> None:
    """Fixed cases: the t interval of the readers' figures of merit (J - 1 df); random readers and cases: Hillis's
    single-modality interval MS_R/J + max(Cov2_i, 0) with its ddf; fixed readers: (Var_i + (J-1) Cov2_i)/J, normal."""
    data = _simulated(9)
    fc = mrmc.or_analysis(data, cases="fixed")
    for i in range(2):
        x = fc.fom[i]
        lo, hi = sps.t.interval(0.95, x.size - 1, loc=x.mean(), scale=sps.sem(x))
        assert fc.modality_ci[i] == pytest.approx((lo, hi), abs=1e-12)
    rr = mrmc.or_analysis(data)
    fr = mrmc.or_analysis(data, readers="fixed")
    theta, cov = mrmc.fom_covariance(mrmc.reader_study(data), "jackknife")
    n_j = theta.shape[1]
    for i in range(2):
        block = cov[i * n_j:(i + 1) * n_j, i * n_j:(i + 1) * n_j]
        cov2 = block[~np.eye(n_j, dtype=bool)].mean()
        ms_r = theta[i].var(ddof=1)
        den = ms_r + n_j * max(cov2, 0)
        ddf = den ** 2 / (ms_r ** 2 / (n_j - 1))
        half = sps.t.ppf(0.975, ddf) * np.sqrt(den / n_j)
        assert rr.modality_ci[i] == pytest.approx((theta[i].mean() - half, theta[i].mean() + half), abs=1e-12)
        assert rr.modality_df[i] == pytest.approx(ddf, rel=1e-12)
        ones = np.full(n_j, 1 / n_j)
        assert cov2 > 0 and fr.modality_se[i] ** 2 == pytest.approx(ones @ block @ ones, rel=1e-10)


def test_rrrc_limits_and_estimator_ordering() -> None:
    """With Cov2 - Cov3 <= 0 Hillis's F is MS(T)/MS(T:R) (the fixed-case F), otherwise smaller with larger ddf.
    The jackknife variance always exceeds DeLong's (coefficients (K-1)/(K(m-1)) > 1/m on the same S10, S01); the
    unbiased one is below DeLong's on this sample (DeLong is biased upward: exact test above)."""
    data = _simulated(6)
    jk = mrmc.or_analysis(data, covariance="jackknife")
    dl = mrmc.or_analysis(data, covariance="delong")
    ub = mrmc.or_analysis(data, covariance="unbiased")
    assert jk.var_error > dl.var_error > ub.var_error
    assert (jk.ms_t, jk.ms_tr) == (dl.ms_t, dl.ms_tr)
    fixed_cases = mrmc.or_analysis(data, cases="fixed")
    if jk.cov2 - jk.cov3 <= 0:
        assert jk.statistic == pytest.approx(fixed_cases.statistic)
    else:
        assert jk.statistic < fixed_cases.statistic and jk.df > fixed_cases.df


def test_clustered_auc_ci_with_singleton_clusters_is_delong() -> None:
    data = _simulated(7, n_mod=1, n_read=1)
    ci = mrmc.clustered_auc_ci(data["truth"], data["rating"], data["case"])
    ref = stats.delong_ci(data["truth"], data["rating"])
    assert ci.se == pytest.approx(ref.se, abs=1e-15) and ci.delong_se == pytest.approx(ref.se, abs=1e-15)
    clustered = mrmc.clustered_auc_ci(data["truth"], data["rating"], data["cluster"])
    assert clustered.auc == ref.auc and clustered.n_clusters == data["cluster"].nunique()


def test_clustered_auc_bootstrap_resamples_whole_clusters_around_the_auc() -> None:
    data = _simulated(7, n_mod=1, n_read=1)
    boot = mrmc.clustered_auc_bootstrap(data["truth"], data["rating"], data["cluster"], n_boot=200, seed=3)
    assert boot == stats.cluster_bootstrap(data["cluster"], stats.auc, data["truth"], data["rating"], n_boot=200,
                                           seed=3)
    assert boot.estimate == stats.delong_ci(data["truth"], data["rating"]).auc and boot.lower < boot.estimate < boot.upper


# --- bad input ------------------------------------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors() -> None:
    data = _simulated(8, n_read=3)
    with pytest.raises(MammoError, match="lacks column"):
        mrmc.or_analysis(data.drop(columns="truth"))
    with pytest.raises(MammoError, match="unbalanced design: reader 'r1' rated 69 of the 70"):
        mrmc.or_analysis(data.drop(index=data.index[(data["reader"] == "r1") & (data["case"] == 5)][:1]))
    with pytest.raises(MammoError, match="reader 'r2' has no ratings in modality 'm1'"):
        mrmc.or_analysis(data[~((data["reader"] == "r2") & (data["modality"] == "m1"))])
    with pytest.raises(MammoError, match="at least 2 readers"):
        mrmc.or_analysis(data[data["reader"] == "r0"])
    with pytest.raises(MammoError, match="all positive"):
        mrmc.or_analysis(data[data["truth"] == 1])
    with pytest.raises(MammoError, match="one rating each"):
        mrmc.or_analysis(pd.concat([data, data.iloc[:1]]))
    with pytest.raises(MammoError, match="must be 0 or 1"):
        mrmc.or_analysis(data.assign(truth=data["truth"] * 2))
    flipped = data.copy()
    flipped.loc[flipped.index[0], "truth"] = 1 - flipped.loc[flipped.index[0], "truth"]
    with pytest.raises(MammoError, match="differing truth"):
        mrmc.or_analysis(flipped)
    with pytest.raises(MammoError, match="'rating' has 1 missing"):
        mrmc.or_analysis(data.assign(rating=data["rating"].where(data.index != 3)))
    moved = data.copy()
    moved.loc[moved.index[0], "cluster"] = -1
    with pytest.raises(MammoError, match="more than one cluster"):
        mrmc.or_analysis(moved, covariance="clustered")
    with pytest.raises(MammoError, match="'rating' must be finite numbers, got 'high'"):
        mrmc.or_analysis(data.assign(rating=data["rating"].astype(object).where(data.index != 7, "high")))
    with pytest.raises(MammoError, match="needs a 'cluster' column"):
        mrmc.or_analysis(data.drop(columns="cluster"), covariance="clustered")
    with pytest.raises(MammoError, match="covariance must be one of"):
        mrmc.or_analysis(data, covariance="bootstrap")
    with pytest.raises(MammoError, match="nothing random"):
        mrmc.or_analysis(data, readers="fixed", cases="fixed")
    with pytest.raises(MammoError, match="at least 2, got"):
        mrmc.or_analysis(data[data["modality"] == "m0"])
    one = data[data["modality"] == "m0"]
    with pytest.raises(MammoError, match="needs one modality"):
        mrmc.ai_vs_readers(data, ai="r0")
    with pytest.raises(MammoError, match="is not a reader"):
        mrmc.ai_vs_readers(one, ai="dl")
    with pytest.raises(MammoError, match="at least 2 readers besides the AI"):
        mrmc.ai_vs_readers(one[one["reader"] != "r2"], ai="r0")
    with pytest.raises(MammoError, match="method must be one of"):
        mrmc.ai_vs_readers(one, ai="r0", method="DBM")
    with pytest.raises(MammoError, match="margin must be"):
        mrmc.ai_vs_readers(one, ai="r0", margin=-0.1)
    with pytest.raises(MammoError, match="binary ratings"):
        mrmc.ai_vs_readers(one, ai="r0", fom="sensitivity")


def test_rrrc_and_1t_rrrc_hold_their_size_under_the_null_by_simulation() -> None:
    """Cheap simulation (300 studies, 2 modalities x 4 readers x 60 cases, no modality effect; reader 0 without a
    reader effect serves as the AI for 1T-RRRC): the random-reader random-case tests reject at about alpha."""
    rng = np.random.default_rng(11)
    n_read, n_pos, n_neg, reps = 4, 25, 35, 300
    k = n_pos + n_neg
    truth = np.r_[np.ones(n_pos), np.zeros(n_neg)].astype(int)
    grid = np.array(list(itertools.product(range(2), range(n_read), range(k))))
    rejected_or = rejected_1t = 0
    for _ in range(reps):
        case = rng.normal(0, 1, k)
        reader = np.r_[0.0, rng.normal(0, 0.3, n_read - 1)]  # reader 0 plays a fixed AI at the readers' mean
        tr = rng.normal(0, 0.1, (2, n_read, 1))
        tr[:, 0] = 0.0
        latent = (truth[None, None] * (1.0 + reader[None, :, None] + tr)
                  + case[None, None] + rng.normal(0, 0.9, (2, n_read, k)))
        data = pd.DataFrame({"modality": grid[:, 0], "reader": grid[:, 1], "case": grid[:, 2],
                             "truth": truth[grid[:, 2]], "rating": latent.ravel()})
        rejected_or += mrmc.or_analysis(data).p_value < 0.05
        one = data[data["modality"] == 0]
        rejected_1t += mrmc.ai_vs_readers(one, ai=0, method="1T-RRRC").p_value < 0.05
    assert 0.01 <= rejected_or / reps <= 0.09
    assert 0.01 <= rejected_1t / reps <= 0.09  # seed 11: 0.037 and 0.043
