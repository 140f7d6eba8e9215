"""Tables 1-4 and Figure 3's curves as tidy DataFrames, from the mass table and the DL outputs.

Input is the mass-level table (one row per mass, e.g. ``mammo_lib.data.manifest.Manifest.masses()``) with the
columns named in :mod:`mammo_lib.vocab` and the reader columns :data:`~mammo_lib.vocab.READER_COLUMNS`;
DL outputs come from notebooks 04/05 (:func:`load_dl_outputs`). Each ``tableN`` has a
``published_tableN`` twin built from :mod:`mammo_lib.published` (never retyped) and a ``compare_tableN``
that puts them side by side. Bad input raises :class:`~mammo_lib.errors.MammoError` naming column and value.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mammo_lib import published, validation, vocab
from mammo_lib.evaluation import mrmc, stats
from mammo_lib.errors import MammoError
from mammo_lib.vocab import TABLE1_FEATURES, TABLE3_FACTORS, age_group

#: Detectors of Table 3 and Table 4's raters; "dl" is the model.
DL = "dl"
DETECTORS: tuple[str, ...] = (*vocab.DETECTION_READERS, DL)
RATERS: tuple[str, ...] = (*vocab.READERS, DL)


def _pct(count: int | float, total: int | float) -> float:
    return 100.0 * count / total if total else float("nan")


# --- Tables 1 and 2 ------------------------------------------------------------------------------------
def table1(masses: pd.DataFrame) -> pd.DataFrame:
    """Table 1: per feature and category, cases (distinct patients with at least one such mass) and masses,
    with percentages of all patients and all masses."""
    validation.require_columns(masses, ["patient_id", *TABLE1_FEATURES])
    if masses.empty:
        raise MammoError("mass table is empty: Table 1 needs at least one mass")
    n_patients, n_masses = masses["patient_id"].nunique(), len(masses)
    rows = []
    for feature, categories in TABLE1_FEATURES.items():
        codes = validation.codes(masses, feature, categories)
        for category in categories:
            hit = codes == category
            cases = int(masses.loc[hit, "patient_id"].nunique())
            count = int(hit.sum())
            rows.append({"feature": feature, "category": category, "cases": cases,
                         "cases_pct": _pct(cases, n_patients), "masses": count,
                         "masses_pct": _pct(count, n_masses)})
    out = pd.DataFrame(rows)
    out.attrs.update(n_patients=n_patients, n_masses=n_masses)
    return out


def published_table1() -> pd.DataFrame:
    """Table 1 as printed (counts and printed percentages), in :func:`table1`'s shape."""
    rows = [{"feature": f, "category": c, "cases": cases, "cases_pct": cpct, "masses": m, "masses_pct": mpct}
            for f, cats in published.TABLE1.items() for c, ((cases, cpct), (m, mpct)) in cats.items()]
    return pd.DataFrame(rows)


def table2(masses: pd.DataFrame) -> pd.DataFrame:
    """Table 2: masses per histology within each reference outcome, with percent of that outcome's masses
    (empty, with a note, for an outcome that has no masses)."""
    validation.require_columns(masses, ["pathology", "histology"])
    pathology = validation.codes(masses, "pathology", vocab.PATHOLOGY)
    histology = validation.codes(masses, "histology", vocab.HISTOLOGY)
    by_outcome = {"negative": vocab.HISTOLOGY_NEGATIVE, "positive": vocab.HISTOLOGY_POSITIVE}
    for outcome, allowed in by_outcome.items():
        wrong = (pathology == outcome) & ~histology.isin(allowed)
        if wrong.any():
            raise MammoError(f"mass table row {validation.first_row(masses, wrong)}: histology {histology[wrong].iloc[0]!r} "
                             f"is not a {outcome} histology ({list(allowed)})")
    rows = []
    for outcome, allowed in by_outcome.items():
        total = int((pathology == outcome).sum())
        for name in allowed:
            count = int(((pathology == outcome) & (histology == name)).sum())
            rows.append({"outcome": outcome, "histology": name, "masses": count, "pct": _pct(count, total),
                         "outcome_total": total, "note": "" if total else f"no {outcome} masses: percent undefined"})
    return pd.DataFrame(rows)


def published_table2() -> pd.DataFrame:
    """Table 2 as printed, in :func:`table2`'s shape."""
    return pd.DataFrame([{"outcome": o, "histology": h, "masses": n, "pct": pct,
                          "outcome_total": published.TABLE2_TOTALS[o]}
                         for o, rows in published.TABLE2.items() for h, (n, pct) in rows.items()])


def _outer_in_order(left: pd.DataFrame, right: pd.DataFrame, keys: Sequence[str],
                    suffixes: tuple[str, str] = ("_x", "_y")) -> pd.DataFrame:
    """Outer merge on ``keys`` keeping the left frame's row order, then the right-only rows in theirs."""
    left = left.assign(_left_pos=np.arange(len(left)))
    right = right.assign(_right_pos=np.arange(len(right)))
    merged = left.merge(right, on=list(keys), how="outer", indicator=True, suffixes=suffixes)
    merged = merged.sort_values(["_left_pos", "_right_pos"], na_position="last", kind="stable")
    return merged.drop(columns=["_left_pos", "_right_pos"]).reset_index(drop=True)


def side_by_side(reproduced: pd.DataFrame, published_frame: pd.DataFrame, keys: Sequence[str],
                 values: Sequence[str], decimals: int = 1) -> pd.DataFrame:
    """Reproduced and published values in adjacent columns (``x_reproduced``, ``x_published``), rounded.

    Rows that only one side has keep the other side empty (pandas ``<NA>``), never a made-up value.
    """
    left = reproduced[[*keys, *values]].rename(columns={v: f"{v}_reproduced" for v in values})
    right = published_frame[[*keys, *values]].rename(columns={v: f"{v}_published" for v in values})
    merged = _outer_in_order(left, right, keys)
    order = [*keys] + [f"{v}_{side}" for v in values for side in ("reproduced", "published")]
    merged["in"] = merged["_merge"].map({"both": "both", "left_only": "reproduced only",
                                         "right_only": "paper only"}).astype(str)
    out = merged[[*order, "in"]].copy()
    for value in values:
        counts = all(pd.api.types.is_integer_dtype(f[value]) for f in (reproduced, published_frame))
        for col in (f"{value}_reproduced", f"{value}_published"):
            if counts:  # counts stay whole numbers even where the other side's row is missing
                out[col] = out[col].astype("Int64")
            elif pd.api.types.is_numeric_dtype(out[col]):
                out[col] = out[col].astype(float).round(decimals)
    return out


def compare_table1(t1: pd.DataFrame) -> pd.DataFrame:
    """Table 1 reproduced beside the paper's."""
    return side_by_side(t1, published_table1(), ["feature", "category"], ["cases", "cases_pct", "masses",
                                                                          "masses_pct"])


def compare_table2(t2: pd.DataFrame) -> pd.DataFrame:
    """Table 2 reproduced beside the paper's."""
    return side_by_side(t2, published_table2(), ["outcome", "histology"], ["masses", "pct"])


# --- DL outputs ----------------------------------------------------------------------------------------
def load_dl_outputs(tables_dir: str | Path,
                    check: Callable[[pd.DataFrame, str], pd.DataFrame] | None = None) -> pd.DataFrame | None:
    """The DL outputs of notebooks 04/05 as one frame keyed by mass_id, or None when neither file exists.

    Documented fallback: a missing file (that model not run yet) leaves its columns out; callers then show
    the readers only. A present but malformed file (missing column, NaN, duplicate mass_id) is an error.
    ``check(frame, file_name)`` sees each file as read (``cohort.dl_outputs``: of this cohort only).
    """
    folder = Path(tables_dir)
    parts = []
    for name, columns in ((vocab.DL_DETECTION_FILE, vocab.DL_DETECTION_COLUMNS),
                          (vocab.DL_SCORES_FILE, vocab.DL_SCORES_COLUMNS)):
        path = folder / name
        if not path.is_file():
            continue
        try:
            frame = pd.read_csv(path, dtype={"mass_id": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise MammoError(f"{path.name}: cannot be read as CSV ({exc})") from None
        if check is not None:
            frame = check(frame, path.name)
        validation.require_columns(frame, columns, path.name)
        dup = frame["mass_id"].duplicated()
        if dup.any():
            raise MammoError(f"{path.name}: mass_id {frame.loc[dup, 'mass_id'].iloc[0]!r} appears more than once")
        for col in columns[1:]:
            if col in ("dl_detected", "dl_positive"):
                frame[col] = validation.flags(frame, col, path.name)
                continue
            num = pd.to_numeric(frame[col], errors="coerce")
            if num.isna().any():
                bad = num.isna()
                raise MammoError(f"{path.name}: column {col!r} holds {validation.show(frame.loc[bad, col].iloc[0])} at mass_id "
                                 f"{frame.loc[bad, 'mass_id'].iloc[0]!r}; expected a number")
            frame[col] = num
        if "dl_score" in frame and not frame["dl_score"].between(0, 100).all():
            bad = ~frame["dl_score"].between(0, 100)
            raise MammoError(f"{path.name}: dl_score {frame.loc[bad, 'dl_score'].iloc[0]!r} outside 0-100")
        parts.append(frame[list(columns)])
    if not parts:
        return None
    out = parts[0]
    for part in parts[1:]:
        out = out.merge(part, on="mass_id", how="outer", validate="one_to_one")
    return out


def only_scored(masses: pd.DataFrame, dl: pd.DataFrame | None) -> pd.DataFrame:
    """The masses the DL outputs ``dl`` detected or missed (a smoke run scores a slice of the exams); all of
    them when ``dl`` is None. Only for smoke runs: a full run joins every mass, and a gap is an error."""
    if dl is None:
        return masses
    scored = dl.dropna(subset=["dl_detected"])["mass_id"].astype(str) if "dl_detected" in dl else dl["mass_id"].astype(str)
    return masses[masses["mass_id"].astype(str).isin(scored)]


def attach_dl(masses: pd.DataFrame, dl: pd.DataFrame | None) -> pd.DataFrame:
    """The mass table with the DL columns joined on mass_id; every mass must have its DL values."""
    if dl is None:
        return masses.copy()
    validation.require_columns(masses, ["mass_id"])
    validation.require_columns(dl, ["mass_id"], "DL outputs")
    ids = masses["mass_id"].astype(str)
    dl = dl.assign(mass_id=dl["mass_id"].astype(str))
    lacking = ~ids.isin(dl["mass_id"])
    if lacking.any():
        raise MammoError(f"DL outputs lack {int(lacking.sum())} of {len(masses)} masses, first mass_id "
                         f"{ids[lacking].iloc[0]!r}")
    extra = [c for c in dl.columns if c != "mass_id" and c in masses.columns]
    merged = masses.drop(columns=extra).assign(mass_id=ids).merge(dl, on="mass_id", how="left",
                                                                  validate="one_to_one")
    merged.index = masses.index
    return merged


def _available(masses: pd.DataFrame, raters: Sequence[str], suffix: str) -> list[str]:
    """Raters whose ``<rater><suffix>`` column is present (DL columns are absent before the model runs)."""
    return [r for r in raters if f"{r}{suffix}" in masses.columns]


# --- Table 3 -------------------------------------------------------------------------------------------
def _factor_codes(masses: pd.DataFrame, factor: str) -> pd.Series:
    """The masses' strata of ``factor``; masses without a value are left out (index: the masses that have one)."""
    if factor == "age_group":
        validation.require_columns(masses, ["age"])
        return age_group(masses["age"])
    validation.require_columns(masses, [factor])
    recorded = masses[masses[factor].notna()]
    return validation.codes(recorded, factor, TABLE3_FACTORS[factor])


def unrecorded_counts(masses: pd.DataFrame) -> dict[str, int]:
    """Table 3 factors recorded on some masses only: factor -> masses without a value (left out of its strata)."""
    return {f: int(masses[f].isna().sum()) for f in _factors(masses)
            if f != "age_group" and masses[f].isna().any()}


def missing_factors(masses: pd.DataFrame) -> list[str]:
    """Table 3 factors the cohort does not record: column absent or empty on every mass (VinDr-Mammo has no
    morphology, margin or mass density). Tables 3 and its tests leave them out; a partly empty column is an error."""
    column = {"age_group": "age"}
    return [f for f in TABLE3_FACTORS
            if column.get(f, f) not in masses.columns or masses[column.get(f, f)].isna().all()]


def _factors(masses: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    gone = set(missing_factors(masses))
    return {f: strata for f, strata in TABLE3_FACTORS.items() if f not in gone}


def table3(masses: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Table 3 strata: per factor, stratum and detector, masses (reference), detected, sensitivity and its
    Wilson CI. Detectors are those whose ``<detector>_detected`` column is present (DL after its join);
    factors the cohort does not record (:func:`missing_factors`) are left out."""
    detectors = _available(masses, DETECTORS, "_detected")
    if not detectors:
        raise MammoError(f"mass table has no detection column (expected any of "
                         f"{[f'{d}_detected' for d in DETECTORS]})")
    flags = {d: validation.flags(masses, f"{d}_detected") for d in detectors}
    rows = []
    for factor, strata in _factors(masses).items():
        codes = _factor_codes(masses, factor)
        for stratum in strata:
            hit = codes.index[codes == stratum]
            total = len(hit)
            for d in detectors:
                found = int(flags[d].loc[hit].sum())
                ci = stats.proportion_ci(found, total, alpha) if total else None
                rows.append({"factor": factor, "stratum": stratum, "detector": d, "reference": total,
                             "detected": found, "sensitivity": ci.estimate if ci else np.nan,
                             "lower": ci.lower if ci else np.nan, "upper": ci.upper if ci else np.nan,
                             "note": "" if ci else "no masses in this stratum"})
    return pd.DataFrame(rows)


def table3_tests(masses: pd.DataFrame) -> pd.DataFrame:
    """Table 3 tests: Pearson chi-square of detection across the strata of each factor, per detector.

    A factor whose test is undefined (one non-empty stratum, or every mass detected) gets an empty
    statistic and says why in ``note``; empty strata are dropped from the test and listed.
    """
    detectors = _available(masses, DETECTORS, "_detected")
    rows = []
    for factor, strata in _factors(masses).items():
        codes = _factor_codes(masses, factor)
        for d in detectors:
            flags = validation.flags(masses, f"{d}_detected").loc[codes.index]
            row: dict[str, Any] = {"factor": factor, "detector": d}
            try:
                res = stats.chi_square_detection(codes.to_numpy(), flags.to_numpy(), order=strata)
            except MammoError as exc:
                row.update(chi2=np.nan, dof=pd.NA, p=np.nan, min_expected=np.nan, n_expected_below_5=pd.NA,
                           dropped_strata="", note=f"not testable: {exc}")
            else:
                row.update(chi2=res.statistic, dof=res.dof, p=res.p, min_expected=res.min_expected,
                           n_expected_below_5=res.n_expected_below_5,
                           dropped_strata=",".join(res.dropped_strata),
                           note=f"{res.n_expected_below_5} cell(s) expected < 5" if res.n_expected_below_5 else "")
            rows.append(row)
    out = pd.DataFrame(rows)
    for col in ("dof", "n_expected_below_5"):
        out[col] = out[col].astype("Int64")
    return out


def published_table3() -> pd.DataFrame:
    """Table 3's strata as printed, in :func:`table3`'s shape (sensitivity = detected / reference)."""
    rows = []
    for factor, strata in published.TABLE3.items():
        for stratum, counts in strata.items():
            values = dict(zip(published.TABLE3_COLUMNS, counts))
            for d in DETECTORS:
                rows.append({"factor": factor, "stratum": stratum, "detector": d, "reference": values["reference"],
                             "detected": values[d], "sensitivity": values[d] / values["reference"]})
    return pd.DataFrame(rows)


def published_table3_tests() -> pd.DataFrame:
    """Table 3's chi-square and P as printed (P kept as the printed string, e.g. "<0.0001")."""
    return pd.DataFrame([{"factor": f, "detector": d, "chi2": chi2, "p_printed": p}
                         for f, by in published.TABLE3_TESTS.items() for d, (chi2, p) in by.items()])


def compare_table3(t3: pd.DataFrame) -> pd.DataFrame:
    """Table 3 strata reproduced beside the paper's (sensitivity in percent)."""
    pct = lambda f: f.assign(sensitivity=100 * f["sensitivity"])  # noqa: E731 - a one-line view
    return side_by_side(pct(t3), pct(published_table3()), ["factor", "stratum", "detector"],
                        ["reference", "detected", "sensitivity"])


def compare_table3_tests(tests: pd.DataFrame) -> pd.DataFrame:
    """Table 3 tests reproduced beside the printed chi-square and P."""
    pub = published_table3_tests()
    out = _outer_in_order(tests[["factor", "detector", "chi2", "p", "note"]], pub, ["factor", "detector"],
                          suffixes=("_reproduced", "_published"))
    out["chi2_reproduced"] = out["chi2_reproduced"].round(3)
    out["p_reproduced"] = out["p"].map(format_p)
    out["note"] = out["note"].fillna("not computed: no detection column for this detector (DL: notebook 04 not run)")
    return out[["factor", "detector", "chi2_reproduced", "chi2_published", "p_reproduced", "p_printed", "note"]]


def format_p(p: float) -> str:
    """P as the paper prints it: three decimals, "<0.0001" below 0.0001 (four decimals between 0.0001 and
    0.001, where three would print 0.000); "" when there is no test."""
    if p is None or (isinstance(p, float) and np.isnan(p)):
        return ""
    if p < 0.0001:
        return "<0.0001"
    return f"{p:.4f}" if p < 0.001 else f"{p:.3f}"


def dense_mcnemar(masses: pd.DataFrame, strata: Sequence[str] = vocab.DENSE_BREAST,
                  exact: bool | None = None) -> pd.DataFrame:
    """Beyond the paper: McNemar's test of DL against each junior reader on the same masses, within each
    dense breast-density stratum (c, d) and pooled. The paper compared sensitivities in dense breasts
    without a paired test."""
    validation.require_columns(masses, ["breast_density", "dl_detected"])
    density = validation.codes(masses, "breast_density", vocab.BREAST_DENSITY)
    dl = validation.flags(masses, "dl_detected")
    groups = [(s, density == s) for s in strata] + [("+".join(strata), density.isin(list(strata)))]
    rows = []
    for reader in _available(masses, vocab.DETECTION_READERS, "_detected"):
        flags = validation.flags(masses, f"{reader}_detected")
        for label, mask in groups:
            row: dict[str, Any] = {"stratum": label, "reader": reader, "n": int(mask.sum())}
            if not mask.any():
                row["note"] = "no masses in this stratum"
                rows.append(row)
                continue
            res = stats.mcnemar_paired(dl[mask], flags[mask], exact=exact)
            row.update(dl_detected=res.both + res.only_a, reader_detected=res.both + res.only_b,
                       only_dl=res.only_a, only_reader=res.only_b, statistic=res.statistic, p=res.p,
                       test="exact binomial" if res.exact else "chi-square, continuity-corrected", note="")
            rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        raise MammoError("mass table has no junior reader detection column for McNemar")
    out["note"] = out["note"].fillna("")
    return out


def clustered_sensitivity(masses: pd.DataFrame, factor: str = "breast_density", n_boot: int = 2000,
                          seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Sensitivity per stratum and detector with the Wilson CI (masses independent) beside a patient-clustered
    bootstrap CI (masses of one patient resampled together), since a patient's masses are not independent."""
    validation.require_columns(masses, ["patient_id"])
    codes = _factor_codes(masses, factor)
    detectors = _available(masses, DETECTORS, "_detected")
    if not detectors:
        raise MammoError("mass table has no detection column")
    rows = []
    for i, stratum in enumerate(TABLE3_FACTORS[factor]):
        hit = (codes == stratum).to_numpy()
        for j, d in enumerate(detectors):
            row: dict[str, Any] = {"factor": factor, "stratum": stratum, "detector": d, "masses": int(hit.sum()),
                                   "patients": int(masses.loc[hit, "patient_id"].nunique())}
            if not hit.any():
                rows.append({**row, "note": "no masses in this stratum"})
                continue
            flags = validation.flags(masses, f"{d}_detected").to_numpy()[hit].astype(float)
            wilson = stats.proportion_ci(int(flags.sum()), flags.size, alpha)
            boot = stats.cluster_bootstrap(masses["patient_id"].to_numpy()[hit], np.mean, flags, n_boot=n_boot,
                                           seed=seed + 100 * i + j, alpha=alpha)
            rows.append({**row, "sensitivity": wilson.estimate, "wilson_lower": wilson.lower,
                         "wilson_upper": wilson.upper, "cluster_lower": boot.lower, "cluster_upper": boot.upper,
                         "note": ""})
    return pd.DataFrame(rows)


def load_masses(manifest_csv: str | Path) -> pd.DataFrame:
    """The cohort's mass table (data layer: ``load_manifest(...).masses()``, findings beside the manifest);
    image files are not checked, the statistics need none. A manifest path that names no file (a typo) is a
    MammoError naming it, never an empty result."""
    path = Path(manifest_csv)
    if not path.is_file():
        raise MammoError(f"{path}: manifest file does not exist (check the manifest path)")
    from mammo_lib.data.manifest import load_manifest

    return load_manifest(path, check_files=False).masses()


# --- Table 4 and Figure 3 ------------------------------------------------------------------------------
def reader_ratings(masses: pd.DataFrame, rater: str) -> tuple[np.ndarray, np.ndarray]:
    """(rating, positive call) of one rater: readers' BI-RADS as ordinal ranks and 4A-5 as positive (paper,
    "Imaging interpretation"); the DL system's 0-100 score and its thresholded call."""
    if rater == DL:
        validation.require_columns(masses, ["dl_score", "dl_positive"])
        score = pd.to_numeric(masses["dl_score"], errors="coerce")
        if score.isna().any():
            bad = score.isna()
            raise MammoError(f"mass table column 'dl_score' has {int(bad.sum())} missing value(s), first at row "
                             f"{validation.first_row(masses, bad)}")
        return score.to_numpy(float), validation.flags(masses, "dl_positive").to_numpy()
    column = f"{rater}_birads"
    validation.require_columns(masses, [column])
    codes = validation.codes(masses, column, vocab.BIRADS)
    return codes.map(vocab.BIRADS_RANK).to_numpy(float), codes.isin(vocab.BIRADS_POSITIVE).to_numpy()


def malignant(masses: pd.DataFrame) -> np.ndarray:
    validation.require_columns(masses, ["pathology"])
    return (validation.codes(masses, "pathology", vocab.PATHOLOGY) == "positive").to_numpy()


def rated_by(masses: pd.DataFrame) -> list[str]:
    """The raters of :data:`RATERS` whose rating column the mass table has (``<reader>_birads``; ``dl_score``
    for the DL system), in that order."""
    return [r for r in RATERS if (f"{r}_birads" if r != DL else "dl_score") in masses.columns]


def table4(masses: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Table 4: per rater, correctly classified negatives/positives, accuracy, sensitivity, specificity
    (Wilson CIs), AUC with DeLong CI, and DeLong's Z and P against the DL system when its scores exist."""
    truth = malignant(masses)
    raters = rated_by(masses)
    if not raters:
        raise MammoError("mass table has no rating column (junior_a_birads, junior_b_birads, senior_birads, "
                         "dl_score)")
    ratings = {r: reader_ratings(masses, r) for r in raters}
    unmeasured = table4_unmeasured(truth)
    rows = []
    for r in raters:
        score, call = ratings[r]
        if unmeasured:
            rows.append(_unmeasured_row(r, truth, call, alpha, unmeasured))
            continue
        m = stats.binary_metrics(truth, call, alpha)
        ci = stats.delong_ci(truth, score, alpha)
        row: dict[str, Any] = {
            "rater": r, "n_negative": int((~truth).sum()), "n_positive": int(truth.sum()),
            "true_negative": m.tn, "true_positive": m.tp,
            "accuracy": m.accuracy.estimate, "accuracy_lower": m.accuracy.lower, "accuracy_upper": m.accuracy.upper,
            "sensitivity": m.sensitivity.estimate, "sensitivity_lower": m.sensitivity.lower,
            "sensitivity_upper": m.sensitivity.upper, "specificity": m.specificity.estimate,
            "specificity_lower": m.specificity.lower, "specificity_upper": m.specificity.upper,
            "auc": ci.auc, "auc_lower": ci.lower, "auc_upper": ci.upper, "z": np.nan, "p": np.nan,
            "note": "",
        }
        if r != DL and DL in ratings:
            test = stats.delong_test(truth, ratings[DL][0], score)
            row.update(z=test.z, p=test.p, note="DeLong vs DL system (Z > 0: DL higher)")
        elif r != DL:
            row["note"] = "no DL scores yet: Z and P vs DL not computed"
        rows.append(row)
    return pd.DataFrame(rows)


def table4_unmeasured(truth: Any) -> str:
    """Why Table 4's AUCs (DeLong CIs and tests) are not computed on masses of this pathology ("" when they are):
    fewer than 2 malignant or 2 benign masses, the rule of :func:`mammo_lib.evaluation.stats.measurable`."""
    y = np.asarray(truth, dtype=bool)
    if stats.measurable(y):
        return ""
    return (f"AUC, its DeLong CI and test not computed: {int(y.sum())} malignant and {int((~y).sum())} benign "
            "mass(es), fewer than 2 of a class")


def _unmeasured_row(rater: str, truth: Any, call: Any, alpha: float, reason: str) -> dict[str, Any]:
    """A Table 4 row without AUC (``reason``); accuracy, sensitivity and specificity where each has a denominator
    (one mass of each class is enough for the calls)."""
    y, p = np.asarray(truth, dtype=bool), np.asarray(call, dtype=bool)
    tn, tp = int((~y & ~p).sum()), int((y & p).sum())
    row: dict[str, Any] = {"rater": rater, "n_negative": int((~y).sum()), "n_positive": int(y.sum()),
                           "true_negative": tn, "true_positive": tp}
    for measure, count, n in (("accuracy", tn + tp, y.size), ("sensitivity", tp, int(y.sum())),
                              ("specificity", tn, int((~y).sum()))):
        ci = stats.proportion_ci(count, n, alpha) if n else None
        row |= {measure: ci.estimate if ci else np.nan, f"{measure}_lower": ci.lower if ci else np.nan,
                f"{measure}_upper": ci.upper if ci else np.nan}
    return row | {"auc": np.nan, "auc_lower": np.nan, "auc_upper": np.nan, "z": np.nan, "p": np.nan, "note": reason}


def rater_measures(t4: pd.DataFrame, rater: str = DL) -> pd.DataFrame:
    """One rater's column of :func:`table4` as rows (notebook 05's DL performance): AUC with its DeLong CI, and
    accuracy, sensitivity, specificity with Wilson CIs, each with its count and denominator."""
    validation.require_columns(t4, ["rater", "n_negative", "n_positive", "true_negative", "true_positive", "auc"], "Table 4")
    rows = t4[t4["rater"] == rater]
    if rows.empty:
        raise MammoError(f"Table 4 has no row for rater {rater!r}; it has {t4['rater'].tolist()}")
    r = rows.iloc[0]
    n_neg, n_pos, tn, tp = (int(r[c]) for c in ("n_negative", "n_positive", "true_negative", "true_positive"))
    out = [{"measure": "AUC", "value": r["auc"], "lower": r["auc_lower"], "upper": r["auc_upper"], "count": "",
            "n": n_neg + n_pos}]
    for measure, count, n in (("accuracy", tn + tp, n_neg + n_pos), ("sensitivity", tp, n_pos),
                              ("specificity", tn, n_neg)):
        out.append({"measure": measure, "value": r[measure], "lower": r[f"{measure}_lower"],
                    "upper": r[f"{measure}_upper"], "count": str(count), "n": n})
    return pd.DataFrame(out)


def clustered_auc(masses: pd.DataFrame, n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Each rater's AUC with its DeLong CI (masses independent) beside a patient-clustered bootstrap CI
    (:func:`mammo_lib.evaluation.mrmc.clustered_auc_bootstrap`)."""
    validation.require_columns(masses, ["patient_id"])
    truth = malignant(masses)
    patients = masses["patient_id"].to_numpy()
    rows = []
    for k, r in enumerate(rated_by(masses)):
        score, _ = reader_ratings(masses, r)
        ci = stats.delong_ci(truth, score, alpha)
        boot = mrmc.clustered_auc_bootstrap(truth, score, patients, n_boot=n_boot, seed=seed + k, alpha=alpha)
        rows.append({"rater": r, "auc": ci.auc, "delong_lower": ci.lower, "delong_upper": ci.upper,
                     "cluster_lower": boot.lower, "cluster_upper": boot.upper, "cluster_failed": boot.n_failed})
    if not rows:
        raise MammoError("mass table has no rating column")
    return pd.DataFrame(rows)


def published_table4() -> pd.DataFrame:
    """Table 4 as printed, in :func:`table4`'s shape (percentages as fractions)."""
    rows = []
    for r, v in published.TABLE4.items():
        rows.append({"rater": r, "n_negative": published.TABLE4_REFERENCE["negative"],
                     "n_positive": published.TABLE4_REFERENCE["positive"], "true_negative": v["negative"],
                     "true_positive": v["positive"], "accuracy": v["accuracy"] / 100,
                     "sensitivity": v["sensitivity"] / 100, "specificity": v["specificity"] / 100,
                     "auc": v["auc"], "auc_lower": v["ci"][0], "auc_upper": v["ci"][1],
                     "z": np.nan if v["z"] is None else v["z"], "p_printed": v["p"] or ""})
    return pd.DataFrame(rows)


def compare_table4(t4: pd.DataFrame) -> pd.DataFrame:
    """Table 4 reproduced beside the paper's, rounded as printed (3 decimals)."""
    return side_by_side(t4, published_table4(), ["rater"],
                        ["true_negative", "true_positive", "accuracy", "sensitivity", "specificity", "auc",
                         "auc_lower", "auc_upper", "z"], decimals=3)


def figure3_curves(masses: pd.DataFrame) -> pd.DataFrame:
    """Figure 3's empirical ROC points (scikit-learn ``roc_curve``, every threshold kept) per rater, with AUC."""
    from sklearn.metrics import roc_curve

    truth = malignant(masses)
    frames = []
    for r in rated_by(masses):
        score, _ = reader_ratings(masses, r)
        fpr, tpr, thr = roc_curve(truth, score, drop_intermediate=False)
        frames.append(pd.DataFrame({"rater": r, "fpr": fpr, "tpr": tpr, "threshold": thr,
                                    "auc": stats.auc(truth, score) if stats.measurable(truth) else np.nan}))
    if not frames:
        raise MammoError("mass table has no rating column for Figure 3")
    return pd.concat(frames, ignore_index=True)


def write_csv(frame: pd.DataFrame, folder: str | Path, name: str) -> Path:
    """Write a table as CSV (floats to 6 significant digits, so that reruns give the same bytes and tiny P
    values keep their size); return the path."""
    path = Path(folder) / name
    frame.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")
    return path


#: Table 4's secondary DL row: the classifier alone on the reference boxes (the DL row is the system end to end).
REFERENCE_BOXES = "dl_reference_boxes"
#: Names of this companion's own rows, beside the paper's (``published.DISPLAY_NAMES``).
COMPANION_NAMES = {REFERENCE_BOXES: "DL classifier on reference boxes"}


def display_name(rater: str, names: Mapping[str, str] | None = None) -> str:
    """The paper's name of a rater code (``published.DISPLAY_NAMES`` and :data:`COMPANION_NAMES`, or ``names``); an
    unknown code as it is. The one lookup of display names: tables, claims and figures all use it."""
    return ({**published.DISPLAY_NAMES, **COMPANION_NAMES} if names is None else names).get(rater, rater)


def display_names(frame: pd.DataFrame, column: str, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Replace rater codes by the paper's names (:func:`display_name`) for display."""
    return frame.assign(**{column: frame[column].map(lambda v: display_name(v, names))})
