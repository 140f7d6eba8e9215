"""Audit of the paper's own numbers: recompute every statistic it derives from its published counts.

Each check returns rows of one tidy shape (:data:`AUDIT_COLUMNS`): what was checked, the value as printed,
the value recomputed from the paper's own counts (:mod:`mammo_lib.published`), their difference, the
tolerance (half a unit of the last printed digit) and whether the two agree. Nothing here reads data: the
audit needs only the paper. :func:`audit_all` runs every check; :func:`summary` counts them by section.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _sps
from scipy.optimize import brentq

from mammo_lib import published
from mammo_lib.evaluation import stats
from mammo_lib.paper.tables import format_p

AUDIT_COLUMNS = ("section", "check", "item", "printed", "recomputed", "difference", "tolerance", "consistent",
                 "comment")
#: z for a two-sided 95% normal interval (the paper's CIs are 95%).
Z95 = float(_sps.norm.ppf(0.975))
_EPS = 1e-9


def _tol(decimals: int) -> float:
    """Half a unit of the last printed digit: the most a correctly rounded value can differ by."""
    return 0.5 * 10.0 ** (-decimals) + _EPS


def _row(section: str, check: str, item: str, printed: Any, recomputed: float, tolerance: float,
         comment: str = "", consistent: bool | None = None) -> dict[str, Any]:
    diff = float(recomputed) - float(printed) if isinstance(printed, (int, float)) else np.nan
    ok = bool(abs(diff) <= tolerance) if consistent is None else bool(consistent)
    return {"section": section, "check": check, "item": item, "printed": printed, "recomputed": float(recomputed),
            "difference": diff, "tolerance": tolerance, "consistent": ok, "comment": comment}


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(AUDIT_COLUMNS))
    # printed values keep their printed form: counts stay whole numbers, P values stay strings like "<0.0001"
    frame["printed"] = pd.Series([r["printed"] for r in rows], dtype=object)
    return frame


def _p_agrees(p: float, printed: str) -> tuple[bool, float]:
    """Whether a P value agrees with the printed one ("0.030": rounds to it; "<0.0001": is below it)."""
    if printed.startswith("<"):
        bound = float(printed[1:])
        return p < bound, (0.0 if p < bound else p - bound)
    return abs(p - float(printed)) <= _tol(3), p - float(printed)


# --- Table 3 -------------------------------------------------------------------------------------------
def _table3_counts(factor: str) -> tuple[list[str], dict[str, list[int]]]:
    strata = published.TABLE3[factor]
    columns = {c: [row[i] for row in strata.values()] for i, c in enumerate(published.TABLE3_COLUMNS)}
    return list(strata), columns


def one_cell_explanations(factor: str, detector: str, printed_chi2: float) -> list[str]:
    """Single printed counts of a Table 3 factor that, changed alone, reproduce ``printed_chi2`` to 3 decimals.

    A clue to a transcription error, not a proof: each detected count of the detector's column and each
    reference count is tried over its possible range (reference: up to 50 above the printed count).
    """
    names, cols = _table3_counts(factor)
    ref, det = cols["reference"], cols[detector]
    found = []
    for i, name in enumerate(names):
        candidates = [("detected", ref, det[:i] + [alt] + det[i + 1:], alt) for alt in range(ref[i] + 1)]
        candidates += [("reference", ref[:i] + [alt] + ref[i + 1:], det, alt) for alt in range(det[i], ref[i] + 51)]
        for kind, r, d, alt in candidates:
            if alt == (ref if kind == "reference" else det)[i]:
                continue
            try:
                value = stats.chi_square_counts(names, r, d).statistic
            except ValueError:
                continue
            if abs(value - printed_chi2) <= _tol(3):
                printed = (ref if kind == "reference" else det)[i]
                found.append(f"{kind} count of stratum {name!r}: {alt} instead of {printed}")
    return found


def audit_table3_factors() -> pd.DataFrame:
    """The factors the Methods say were tested against the factors Table 3 reports."""
    listed, reported = published.METHODS_DETECTION_FACTORS, tuple(published.TABLE3)
    rows = []
    for factor in dict.fromkeys(listed + reported):
        where = ("Methods and Table 3" if factor in listed and factor in reported
                 else "Methods only" if factor in listed else "Table 3 only")
        rows.append(_row("Methods vs Table 3", "tested factor reported", factor, np.nan, np.nan, np.nan,
                         f"named in {where}", consistent=factor in listed and factor in reported))
        rows[-1]["printed"] = where
    return _frame(rows)


def audit_table3_tests() -> pd.DataFrame:
    """Each chi-square and P of Table 3 recomputed from Table 3's own counts (Pearson, no correction),
    and each printed P recomputed from the printed chi-square and its degrees of freedom."""
    rows = []
    for factor, by_detector in published.TABLE3_TESTS.items():
        names, cols = _table3_counts(factor)
        for detector, (chi2_printed, p_printed) in by_detector.items():
            item = f"{factor} / {detector}"
            res = stats.chi_square_counts(names, cols["reference"], cols[detector])
            comment = f"df {res.dof}; {res.n_expected_below_5} cell(s) with expected count < 5"
            row = _row("Table 3", "chi-square from counts", item, chi2_printed, res.statistic, _tol(3), comment)
            if not row["consistent"]:
                clues = one_cell_explanations(factor, detector, chi2_printed)
                row["comment"] += ("; the printed value is reproduced if the " + " or ".join(clues)) if clues else \
                    "; no single changed count reproduces the printed value"
            rows.append(row)
            ok, diff = _p_agrees(res.p, p_printed)
            rows.append({**_row("Table 3", "P from counts", item, np.nan, res.p, _tol(3), consistent=ok),
                         "printed": p_printed, "difference": diff,
                         "comment": f"recomputed P {format_p(res.p)} (exact {res.p:.2g})"})
            p_from_printed = float(_sps.chi2.sf(chi2_printed, res.dof))
            ok, diff = _p_agrees(p_from_printed, p_printed)
            rows.append({**_row("Table 3", "P from printed chi-square", item, np.nan, p_from_printed, _tol(3),
                                consistent=ok),
                         "printed": p_printed, "difference": diff,
                         "comment": f"chi2 {chi2_printed} on {res.dof} df gives P {p_from_printed:.2g}"})
    return _frame(rows)


def audit_detection_totals() -> pd.DataFrame:
    """Totals of Table 3 against the text: each factor's column adds up to the reader's overall count in the
    text ("78.0% (482/618)" etc.) and the reference column to 618; the text's percentages from its counts."""
    rows = []
    overall = published.DETECTION_TEXT["overall"]
    for factor in published.TABLE3:
        _, cols = _table3_counts(factor)
        rows.append(_row("Text vs Table 3", "reference column total", factor, published.COHORT["masses"],
                         sum(cols["reference"]), _EPS))
        for detector, (count, total, _) in overall.items():
            summed = sum(cols[detector])
            comment = ""
            if summed != count:
                others = [d for d, (c, _, _) in overall.items() if c == summed and d != detector]
                comment = (f"Table 3's {detector} column adds up to the text's {others[0]} count ({summed}): "
                           "the two junior readers appear swapped between text and table") if others else ""
            rows.append(_row("Text vs Table 3", "detected total", f"{factor} / {detector}", count, summed, _EPS,
                             comment))
    for stratum, by_detector in published.DETECTION_TEXT.items():
        for detector, (count, total, pct) in by_detector.items():
            rows.append(_row("Text", "percentage from counts", f"{stratum} / {detector}", pct, 100 * count / total,
                             _tol(1), f"{count}/{total}"))
            if stratum in published.TABLE3["breast_density"]:
                _, cols = _table3_counts("breast_density")
                i = list(published.TABLE3["breast_density"]).index(stratum)
                rows.append(_row("Text vs Table 3", "stratum count", f"{stratum} / {detector}", count,
                                 cols[detector][i], _EPS, f"text {count}/{total}, Table 3 "
                                 f"{cols[detector][i]}/{cols['reference'][i]}"))
                rows.append(_row("Text vs Table 3", "stratum total", f"{stratum} / {detector}", total,
                                 cols["reference"][i], _EPS, f"'A total of {total} masses' in {stratum}-type breasts"))
    return _frame(rows)


# --- Table 4 -------------------------------------------------------------------------------------------
def _table4_rates(rater: str) -> tuple[float, float, float]:
    v, ref = published.TABLE4[rater], published.TABLE4_REFERENCE
    sens = v["positive"] / ref["positive"]
    spec = v["negative"] / ref["negative"]
    acc = (v["positive"] + v["negative"]) / (ref["positive"] + ref["negative"])
    return acc, sens, spec


def audit_table4_rates() -> pd.DataFrame:
    """Accuracy, sensitivity and specificity of Table 4 recomputed from its negative/positive counts."""
    rows = []
    ref = published.TABLE4_REFERENCE
    for rater, v in published.TABLE4.items():
        acc, sens, spec = _table4_rates(rater)
        counts = {"accuracy": f"({v['positive']}+{v['negative']})/{ref['positive'] + ref['negative']}",
                  "sensitivity": f"{v['positive']}/{ref['positive']}",
                  "specificity": f"{v['negative']}/{ref['negative']}"}
        for name, value in (("accuracy", acc), ("sensitivity", sens), ("specificity", spec)):
            rows.append(_row("Table 4", f"{name} from counts", rater, v[name], 100 * value, _tol(1), counts[name]))
    return _frame(rows)


def published_rates() -> pd.DataFrame:
    """Per rater of Table 4: sensitivity and specificity from its printed counts and the printed AUC."""
    rows = []
    for rater, v in published.TABLE4.items():
        _, sens, spec = _table4_rates(rater)
        rows.append({"rater": rater, "sensitivity": sens, "specificity": spec, "auc": v["auc"]})
    return pd.DataFrame(rows)


def min_auc_through(sensitivity: float, specificity: float) -> float:
    """The smallest AUC of any ROC curve (non-decreasing, (0,0) to (1,1)) through (1 - spec, sens).

    The staircase that stays at TPR 0 up to the point's FPR and at the point's TPR up to FPR 1 has area
    sens * spec; every other such curve lies above it. An AUC below this cannot belong to a rating whose
    threshold gives that sensitivity and specificity.
    """
    for name, v in (("sensitivity", sensitivity), ("specificity", specificity)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{name} must lie in [0, 1], got {v!r}")
    return sensitivity * specificity


def hanley_mcneil_se(auc: float, n_positive: int, n_negative: int) -> float:
    """Hanley & McNeil (Radiology 1982;143:29-36) standard error of an AUC from its value and sample sizes."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_positive - 1) * (q1 - auc**2) + (n_negative - 1) * (q2 - auc**2)) / (
        n_positive * n_negative)
    return float(np.sqrt(var))


def max_auc_se(auc: float, n_positive: int, n_negative: int) -> float:
    """Upper bound of the SE of a Mann-Whitney AUC: Var <= A(1 - A) / min(m, n) (Birnbaum & Klose 1957)."""
    return float(np.sqrt(auc * (1 - auc) / min(n_positive, n_negative)))


def audit_table4_auc() -> pd.DataFrame:
    """Whether each reported AUC is possible given the reported sensitivity and specificity; whether each 95%
    CI is centred on its AUC and as wide as the sample sizes allow; P from Z; and the correlation between
    the two AUCs that each printed Z implies (it must lie in [-1, 1])."""
    rows = []
    ref = published.TABLE4_REFERENCE
    m, n = ref["positive"], ref["negative"]
    se = {}
    for rater, v in published.TABLE4.items():
        _, sens, spec = _table4_rates(rater)
        floor = min_auc_through(sens, spec)
        rows.append(_row("Table 4", "AUC possible given sens/spec", rater, v["auc"], floor, np.nan,
                         f"minimum AUC through (1-spec, sens) = {sens:.3f} x {spec:.3f} = {floor:.3f}; "
                         f"the two-point AUC (sens+spec)/2 = {(sens + spec) / 2:.3f}",
                         consistent=v["auc"] >= floor - _tol(3)))
        lo, hi = v["ci"]
        rows.append(_row("Table 4", "CI centred on AUC", rater, v["auc"], (lo + hi) / 2, _tol(3) * 2,
                         f"95% CI {lo}-{hi}"))
        implied = (hi - lo) / (2 * Z95)
        se[rater] = implied
        hm, top = hanley_mcneil_se(v["auc"], m, n), max_auc_se(v["auc"], m, n)
        fit = brentq(lambda k: hanley_mcneil_se(v["auc"], k * m, k * n) - implied, 0.05, 20.0)
        rows.append(_row("Table 4", "CI width within the largest possible", rater, round(hi - lo, 3),
                         2 * Z95 * top, np.nan,
                         f"SE implied by the CI {implied:.4f}; Hanley-McNeil SE {hm:.4f} "
                         f"({implied / hm:.2f}x, the width Hanley-McNeil gives {round(fit * (m + n))} masses "
                         f"in the same ratio); bound sqrt(A(1-A)/{min(m, n)}) = {top:.4f}",
                         consistent=hi - lo <= 2 * Z95 * top + _tol(3)))
    dl = published.TABLE4["dl"]
    for rater, v in published.TABLE4.items():
        if v["z"] is None:
            continue
        p = float(2 * _sps.norm.sf(abs(v["z"])))
        ok, diff = _p_agrees(p, v["p"])
        rows.append({**_row("Table 4", "P from printed Z", rater, np.nan, p, _tol(3), consistent=ok),
                     "printed": v["p"], "difference": diff, "comment": f"two-sided P of Z = {v['z']}"})
        se_diff = abs(dl["auc"] - v["auc"]) / v["z"]
        r = (se["dl"] ** 2 + se[rater] ** 2 - se_diff**2) / (2 * se["dl"] * se[rater])
        rows.append(_row("Table 4", "Z implies a correlation in [-1, 1]", f"dl vs {rater}", v["z"], r, np.nan,
                         f"SE of the AUC difference from |{dl['auc']} - {v['auc']}| / Z = {se_diff:.4f}; "
                         f"with the CI-implied SEs the two AUCs' correlation is {r:.2f}",
                         consistent=-1 <= r <= 1))
    return _frame(rows)


# --- Tables 1 and 2 ------------------------------------------------------------------------------------
def audit_table1() -> pd.DataFrame:
    """Table 1's percentages from its counts, masses per feature adding up to 618, cases per feature to 324
    (which says each patient was counted in one category only), and the labels of its density rows."""
    rows = []
    patients, masses = published.COHORT["patients"], published.COHORT["masses"]
    for feature, cats in published.TABLE1.items():
        for cat, ((cases, cpct), (count, mpct)) in cats.items():
            rows.append(_row("Table 1", "case percentage", f"{feature} / {cat}", cpct, 100 * cases / patients,
                             _tol(1), f"{cases}/{patients}"))
            rows.append(_row("Table 1", "mass percentage", f"{feature} / {cat}", mpct, 100 * count / masses,
                             _tol(1), f"{count}/{masses}"))
        rows.append(_row("Table 1", "masses add up to the cohort", feature, masses,
                         sum(m for _, (m, _) in cats.values()), _EPS))
        rows.append(_row("Table 1", "cases add up to the cohort", feature, patients,
                         sum(c for (c, _), _ in cats.values()), _EPS,
                         "cases add up to exactly 324 for every feature although patients have 1.9 masses on "
                         "average: each patient must have been counted in one category only (rule not stated)"))
    return _frame(rows)


def audit_density_labels() -> pd.DataFrame:
    """Table 1's "Density a*-d*" rows against Table 3's breast-density (a-d) and mass-density rows."""
    rows = []
    t1 = published.TABLE1["mass_density"]
    labels = published.TABLE1_DENSITY_PRINTED_LABELS
    breast = published.TABLE3["breast_density"]
    mass = published.TABLE3["mass_density"]
    for code, ((_, _), (count, _)) in t1.items():
        letter = labels[code].rstrip("*")
        rows.append(_row("Tables 1 and 3", "density row label", f"Table 1 '{labels[code]}' vs Table 3 breast "
                         f"density '{letter}'", count, breast[letter][0], _EPS,
                         "Table 1's a*-d* rows use the breast-density letters but hold other counts"))
        rows.append(_row("Tables 1 and 3", "density row label", f"Table 1 '{labels[code]}' vs Table 3 mass "
                         f"density '{code}'", count, mass[code][0], _EPS,
                         "Table 1's a*-d* rows equal Table 3's mass-density rows (footnote: a fat-containing, "
                         "b low, c equal, d high), so they are mass density, mislabelled with ACR letters"))
    return _frame(rows)


def audit_table2() -> pd.DataFrame:
    """Table 2's percentages and totals, and the text's "258 masses" and "72/106"."""
    rows = []
    for outcome, items in published.TABLE2.items():
        total = published.TABLE2_TOTALS[outcome]
        for name, (count, pct) in items.items():
            rows.append(_row("Table 2", "percentage", f"{outcome} / {name}", pct, 100 * count / total, _tol(1),
                             f"{count}/{total}"))
        rows.append(_row("Table 2", "column adds up to its n", outcome, total, sum(c for c, _ in items.values()),
                         _EPS))
    follow = published.TABLE2["negative"]["stable follow-up"][0]
    rows.append(_row("Text vs Table 2", "histopathology masses", "618 - stable follow-up",
                     published.COHORT["histopathology_masses"], published.COHORT["masses"] - follow, _EPS))
    rows.append(_row("Text vs Table 2", "follow-up masses", "stable follow-up", published.COHORT["follow_up_masses"],
                     follow, _EPS))
    for name, (count, total, pct) in published.TABLE2_TEXT.items():
        outcome = "negative" if name in published.TABLE2["negative"] else "positive"
        denom = published.TABLE2_TOTALS[outcome] - (follow if outcome == "negative" else 0)
        rows.append(_row("Text vs Table 2", "denominator", name, total, denom, _EPS))
        rows.append(_row("Text", "percentage from counts", name, pct, 100 * count / total, _tol(1),
                         f"{count}/{total}"))
    rows.append(_row("Tables 2 and 4", "reference negatives/positives", "negative",
                     published.TABLE4_REFERENCE["negative"], published.TABLE2_TOTALS["negative"], _EPS))
    rows.append(_row("Tables 2 and 4", "reference negatives/positives", "positive",
                     published.TABLE4_REFERENCE["positive"], published.TABLE2_TOTALS["positive"], _EPS))
    return _frame(rows)


def audit_all() -> pd.DataFrame:
    """Every check, in the order of the paper."""
    parts: Sequence[pd.DataFrame] = (audit_table1(), audit_density_labels(), audit_table2(),
                                     audit_detection_totals(), audit_table3_factors(), audit_table3_tests(),
                                     audit_table4_rates(),
                                     audit_table4_auc())
    return pd.concat(parts, ignore_index=True)


def summary(audit: pd.DataFrame) -> pd.DataFrame:
    """Checks per section and check, how many agree and how many do not."""
    grouped = audit.groupby(["section", "check"], sort=False)["consistent"]
    out = grouped.agg(checks="size", consistent="sum").reset_index()
    out["inconsistent"] = out["checks"] - out["consistent"]
    return out


def inconsistencies(audit: pd.DataFrame) -> pd.DataFrame:
    """Only the checks that do not agree, with the size of each difference."""
    return audit.loc[~audit["consistent"]].reset_index(drop=True)
