"""The paper's claims scorecard: each claim of the Abstract, Results, Discussion and Conclusions set against
the paper's own evidence, the audit of that evidence, and what the run's cohort shows.

:func:`scorecard` reads a run's tables folder (written by notebooks 06 and 07, and ``detection_paired.csv``
by notebook 10), the paper's numbers (:mod:`mammo_lib.published`) and the audit of them
(:mod:`mammo_lib.paper.audit`), and returns one row per claim (:data:`SCORECARD_COLUMNS`). Every number in a row
comes from those sources; the verdict is computed from the run's statistics at ``alpha``:

* ``reproduced on this run``: the run's cohort shows what the claim says (a test at ``alpha`` where the claim is
  about a significant difference; the direction of the point estimates where the paper compares them without a
  test);
* ``contradicted on this run``: it shows something else, said in ``why``;
* ``cannot be tested here``: the run lacks what the claim needs (no reader columns in a user's cohort, a
  notebook not run) or no study of this design can test it (e.g. aided reading was never measured).

``decided_by`` names the arm of the companion whose output decides the claim on this run (:data:`ARMS`): the
paper's own numbers, the twin's composition (the paper's counts as data), the simulated readers (calibrated to
the paper's Tables 3 and 4), this companion's DL models (trained on a synthetic training cohort, measured on
the twin), or several. On the twin, an arm calibrated to the paper reproduces it by construction, so a verdict
says most about the arm that is measured rather than fitted.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mammo_lib import published, vocab
from mammo_lib.paper import audit
from mammo_lib.errors import MammoError
from mammo_lib.paper.prose import p_phrase
from mammo_lib.paper.tables import DL, dense_mcnemar, display_name

SCORECARD_COLUMNS = ("claim_id", "section", "claim", "decided_by", "paper_evidence", "audit", "reproduction",
                     "verdict", "why")
REPRODUCED, CONTRADICTED, CANNOT = "reproduced on this run", "contradicted on this run", "cannot be tested here"
VERDICTS = (REPRODUCED, CONTRADICTED, CANNOT)
SUPPORTED, NOT_SUPPORTED = REPRODUCED, CONTRADICTED  # the earlier names (the words changed, not the meaning)
#: The arms that can decide a claim (``decided_by``), with how each is made on the built-in twin.
PAPER_ARM, TWIN_ARM, READERS_ARM, DL_ARM = "paper's own numbers", "twin composition", "simulated readers", "DL models"
ARMS = {
    PAPER_ARM: "the paper's printed numbers and its study design (what it reports, or does not)",
    TWIN_ARM: "the twin cohort's composition: the paper's counts per feature (Tables 1-2) used as data",
    READERS_ARM: "the simulated junior and senior readers, calibrated so that every cell of Table 3 and the "
                 "operating points of Table 4 are the paper's (their AUCs cannot be: the paper's are impossible)",
    DL_ARM: "this companion's detector and classifier, trained on a synthetic training cohort (never the twin) "
            "on CPUs, measured on the twin",
}
#: A claim decided by the DL models against readers fitted to the paper.
DL_VS_READERS = f"{DL_ARM} + {READERS_ARM}"
JUNIORS = ("junior_a", "junior_b")
#: The run's tables the scorecard reads (file -> notebook that writes it).
INPUT_TABLES = {"table3.csv": "06", "table3_tests.csv": "06", "density_mcnemar.csv": "06", "table4.csv": "07",
                "detection_paired.csv": "10"}
#: Table 3's factors other than breast density, in the paper's order, as the Results name them.
OTHER_FACTORS = ("age_group", "morphology", "margin", "mass_density", "birads")
FACTOR_WORDS = {"breast_density": "breast density", "age_group": "patient age", "morphology": "mass morphology",
                "margin": "mass margin", "mass_density": "mass density", "birads": "BI-RADS category",
                "size": "mass size"}


@dataclass(frozen=True)
class Finding:
    """What the run shows of one claim: its statistic in words, the verdict and why."""

    reproduction: str
    verdict: str
    why: str


def _pct(count: float, total: float) -> str:
    return f"{100 * count / total:.1f}% ({int(count)}/{int(total)})"


def load_run_tables(tables_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The scorecard's input tables present in ``tables_dir`` (absent ones are left out)."""
    folder = Path(tables_dir)
    if not folder.is_dir():
        raise MammoError(f"tables folder {folder} does not exist")
    out = {}
    for name in INPUT_TABLES:
        path = folder / name
        if path.is_file():
            try:
                out[name] = pd.read_csv(path, dtype={"stratum": str, "rater": str, "detector": str})
            except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
                raise MammoError(f"{path}: cannot be read as CSV ({exc})") from None
    return out


def _missing(name: str) -> str:
    return (f"{name} is not in this run (notebook {INPUT_TABLES[name]} not run, skipped for this cohort, or not "
            "writing it: e.g. 06 writes density_mcnemar.csv only with a junior reader who read every mass)")


# --- the paper's evidence and the audit of it ----------------------------------------------------------
def _printed_tests(factor: str) -> str:
    by = published.TABLE3_TESTS[factor]
    return "; ".join(f"{display_name(d)} chi2 {chi2}, P {p}" for d, (chi2, p) in by.items())


def _audit_says(findings: pd.DataFrame, keep: Callable[[pd.DataFrame], pd.Series]) -> str:
    rows = findings[keep(findings)]
    if rows.empty:
        return "no audit check covers this evidence"
    bad = rows[~rows["consistent"]]
    text = f"{len(rows) - len(bad)} of {len(rows)} audit checks consistent"
    if not bad.empty:
        notes = list(dict.fromkeys(f"{r.check} ({r.item}): {r.comment}" for r in bad.itertuples()))
        text += "; not: " + "; ".join(notes[:3]) + (f"; and {len(notes) - 3} more" if len(notes) > 3 else "")
    return text


def _items(prefixes: Sequence[str], sections: Sequence[str], checks: Sequence[str] | None = None):
    def keep(f: pd.DataFrame) -> pd.Series:
        mask = f["section"].isin(sections) & f["item"].astype(str).str.startswith(tuple(prefixes))
        return mask & f["check"].isin(checks) if checks else mask
    return keep


# --- what the run shows --------------------------------------------------------------------------------
def _detectors(t: dict[str, pd.DataFrame], name: str, column: str = "detector") -> set[str]:
    return set(t[name][column].astype(str)) if name in t else set()


def _overall_detection(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    t3 = t["table3.csv"]
    rows = t3[t3["factor"] == "breast_density"]
    return rows.groupby("detector")[["detected", "reference"]].sum()


def _paired(frame: pd.DataFrame, stratum: str, reader: str) -> pd.Series | None:
    hit = frame[(frame["stratum"].astype(str) == stratum) & (frame["reader"] == reader)]
    return None if hit.empty or pd.isna(hit.iloc[0].get("p")) else hit.iloc[0]


def _dl_more_sensitive(frame: pd.DataFrame | None, stratum: str, label: str, missing: str, alpha: float) -> Finding:
    """DL against each junior on the same masses (McNemar) within a stratum: supported when DL finds more
    and P < alpha for both juniors."""
    if frame is None:
        return Finding("", CANNOT, missing)
    parts, failures = [], []
    for reader in JUNIORS:
        row = _paired(frame, stratum, reader)
        if row is None:
            return Finding("", CANNOT, f"no paired DL/{display_name(reader)} detections for {label} in this run's "
                                       "cohort (no junior reader columns, or no masses there)")
        n = row["n"]
        parts.append(f"{display_name(reader)} {_pct(row['reader_detected'], n)} vs DL {_pct(row['dl_detected'], n)}, "
                     f"{p_phrase(row['p'], 'McNemar')} ({int(row['only_dl'])} found by DL only, "
                     f"{int(row['only_reader'])} by the reader only)")
        if row["dl_detected"] <= row["reader_detected"]:
            failures.append(f"DL finds no more masses than {display_name(reader)}")
        elif row["p"] >= alpha:
            failures.append(f"DL's advantage over {display_name(reader)} is not significant ({p_phrase(row['p'])})")
    text = f"{label}: " + "; ".join(parts)
    if failures:
        return Finding(text, NOT_SUPPORTED, "; ".join(failures))
    return Finding(text, SUPPORTED, f"DL detects significantly more masses than both juniors (P < {alpha})")


def _density_effect(t: dict[str, pd.DataFrame], detectors: Sequence[str], expect_effect: bool,
                    factor: str, alpha: float) -> Finding:
    """Chi-square of detection across the factor's strata per detector; the claim says there is an effect
    (``expect_effect``) or there is none."""
    if "table3_tests.csv" not in t:
        return Finding("", CANNOT, _missing("table3_tests.csv"))
    tests = t["table3_tests.csv"]
    if not tests["factor"].eq(factor).any():  # the cohort does not record it (tables.missing_factors)
        return Finding("", CANNOT, f"the run's cohort does not record {FACTOR_WORDS[factor]}, so Table 3 leaves "
                                   "that factor out (notebook 06 says so)")
    tests = tests[tests["factor"] == factor].set_index("detector")
    absent = [d for d in detectors if d not in tests.index]
    if absent:
        return Finding("", CANNOT, f"the run's cohort has no detections by {', '.join(map(display_name, absent))}")
    untestable = [d for d in detectors if pd.isna(tests.loc[d, "p"])]
    if untestable:
        return Finding("", CANNOT, f"{FACTOR_WORDS[factor]} cannot be tested for "
                                   f"{', '.join(map(display_name, untestable))}: {tests.loc[untestable[0], 'note']}")
    parts = []
    for d in detectors:
        r = tests.loc[d]
        small = f", {int(r['n_expected_below_5'])} cell(s) expected < 5" if r.get("n_expected_below_5", 0) else ""
        parts.append(f"{display_name(d)} chi2 {r['chi2']:.3f} (df {int(r['dof'])}), {p_phrase(r['p'])}{small}")
    sens = ""
    if "table3.csv" in t and factor == "breast_density":
        t3 = t["table3.csv"]
        rows = t3[(t3["factor"] == factor) & t3["detector"].isin(detectors) & (t3["reference"] > 0)]
        sens = "; sensitivity by stratum: " + ", ".join(
            f"{display_name(d)} " + "/".join(f"{s} {100 * v:.1f}%" for s, v in zip(g["stratum"], g["sensitivity"]))
            for d, g in rows.groupby("detector", sort=False))
    text = "; ".join(parts) + sens
    significant = [d for d in detectors if tests.loc[d, "p"] < alpha]
    if expect_effect:
        if len(significant) == len(detectors):
            return Finding(text, SUPPORTED, f"detection differs across {FACTOR_WORDS[factor]} strata for "
                                            f"{'each' if len(detectors) > 1 else 'the'} detector (P < {alpha})")
        others = [display_name(d) for d in detectors if d not in significant]
        return Finding(text, NOT_SUPPORTED, f"no significant effect of {FACTOR_WORDS[factor]} on detection by "
                                            f"{', '.join(others)} (P >= {alpha})")
    if significant:
        return Finding(text, NOT_SUPPORTED, f"detection by {', '.join(map(display_name, significant))} differs across "
                                            f"{FACTOR_WORDS[factor]} strata (P < {alpha})")
    return Finding(text, SUPPORTED, f"no significant effect (P >= {alpha}); a test that finds none does not show "
                                    "that there is none")


def _overall_sensitivity(t: dict[str, pd.DataFrame], alpha: float) -> Finding:
    if "table3.csv" not in t:
        return Finding("", CANNOT, _missing("table3.csv"))
    have = _detectors(t, "table3.csv")
    if not set(JUNIORS) <= have or DL not in have:
        lacking = [d for d in (*JUNIORS, DL) if d not in have]
        return Finding("", CANNOT, f"the run's cohort has no detections by {', '.join(map(display_name, lacking))}")
    paired = t.get("detection_paired.csv")
    return _dl_more_sensitive(paired, "+".join(vocab.BREAST_DENSITY), "all masses", _missing("detection_paired.csv"),
                              alpha)


def _classification_points(t: dict[str, pd.DataFrame]) -> Finding:
    if "table4.csv" not in t:
        return Finding("", CANNOT, _missing("table4.csv"))
    t4 = t["table4.csv"].set_index("rater")
    raters = (*JUNIORS, "senior", DL)
    lacking = [r for r in raters if r not in t4.index]
    if lacking:
        return Finding("", CANNOT, f"the run's cohort has no ratings by {', '.join(map(display_name, lacking))}")
    measures = ("accuracy", "sensitivity", "specificity")
    text = "; ".join(f"{m}: " + ", ".join(f"{display_name(r)} {100 * t4.loc[r, m]:.1f}%" for r in raters)
                     for m in measures)
    failures = []
    for m in measures:
        dl = t4.loc[DL, m]
        failures += [f"DL {m} not above {display_name(j)}'s" for j in JUNIORS if not dl > t4.loc[j, m]]
        if not dl < t4.loc["senior", m]:
            failures.append(f"DL {m} not below the senior's")
    why_test = " (point estimates, compared as the paper does, without a test)"
    if failures:
        return Finding(text, NOT_SUPPORTED, "; ".join(failures) + why_test)
    return Finding(text, SUPPORTED, "every ordering the claim states holds" + why_test)


def _auc_versus(t: dict[str, pd.DataFrame], readers: Sequence[str], expect_difference: bool, alpha: float) -> Finding:
    if "table4.csv" not in t:
        return Finding("", CANNOT, _missing("table4.csv"))
    t4 = t["table4.csv"].set_index("rater")
    lacking = [r for r in (*readers, DL) if r not in t4.index or (r != DL and pd.isna(t4.loc[r, "p"]))]
    if lacking:
        return Finding("", CANNOT, "the run's cohort has no ratings (or DL scores) for "
                                   f"{', '.join(map(display_name, lacking))}")
    parts = [f"DL AUC {t4.loc[DL, 'auc']:.3f} ({t4.loc[DL, 'auc_lower']:.3f}-{t4.loc[DL, 'auc_upper']:.3f})"]
    parts += [f"{display_name(r)} {t4.loc[r, 'auc']:.3f} ({t4.loc[r, 'auc_lower']:.3f}-{t4.loc[r, 'auc_upper']:.3f}), "
              f"DeLong Z {t4.loc[r, 'z']:+.2f} (positive: DL higher), {p_phrase(t4.loc[r, 'p'])}" for r in readers]
    text = "; ".join(parts)
    failures = []
    for r in readers:
        z, p = t4.loc[r, "z"], t4.loc[r, "p"]
        if expect_difference and not (z > 0 and p < alpha):
            failures.append(f"DL's AUC is not significantly above {display_name(r)}'s (Z {z:+.2f}, {p_phrase(p)})")
        if not expect_difference and p < alpha:
            side = "above" if z > 0 else "below"
            failures.append(f"DL's AUC is significantly {side} {display_name(r)}'s (Z {z:+.2f}, {p_phrase(p)})")
    if failures:
        return Finding(text, NOT_SUPPORTED, "; ".join(failures))
    if expect_difference:
        return Finding(text, SUPPORTED, f"DL's AUC is significantly higher (P < {alpha})")
    return Finding(text, SUPPORTED, f"no significant difference (P >= {alpha}); a test that finds none does not "
                                    "show equivalence")


def _factor_effect(t: dict[str, pd.DataFrame], factor: str, alpha: float) -> Finding:
    have = _detectors(t, "table3_tests.csv")
    if have and not set(JUNIORS) <= have:
        found = _density_effect(t, [d for d in (*JUNIORS, DL) if d in have], True, factor, alpha)
        if found.verdict == CANNOT:  # e.g. the cohort lacks the factor: that reason comes first
            return found
        return Finding(found.reproduction, CANNOT, "the claim is about the junior radiologists and the DL system; "
                                                   "the run's cohort has detections by "
                                                   f"{', '.join(map(display_name, sorted(have)))} only")
    return _density_effect(t, (*JUNIORS, DL), True, factor, alpha)


# --- the scorecard -------------------------------------------------------------------------------------
#: A scorecard row before it becomes a DataFrame row: claim id, section, claim, the paper's evidence, what the
#: audit says, and the run's :class:`Finding`.
_Row = tuple[str, str, str, str, str, Finding]
#: The arm that decides each claim on the twin. Comparisons of the DL system's sensitivity, accuracy or
#: specificity with the readers' are decided by the DL models: the readers' points are the paper's by
#: calibration. AUC claims need both (the readers' AUCs are not calibrated), and so do the factor claims (the
#: juniors' effects are calibrated, the DL system's measured). What the paper does not report or its design
#: cannot show is decided by the paper itself.
DECIDED_BY: dict[str, str] = {
    "detection_sensitivity": DL_ARM, "density_juniors": READERS_ARM, "density_dl": DL_ARM, "dense_c": DL_ARM,
    "dense_d": DL_ARM, "dense_breasts": DL_ARM,
    **{f"factor_{factor}": DL_VS_READERS for factor in OTHER_FACTORS},
    "factor_size": PAPER_ARM, "classification_points": DL_ARM, "auc_juniors": DL_VS_READERS,
    "auc_senior": DL_VS_READERS, "assists_juniors": PAPER_ARM, "dense_utility": PAPER_ARM,
}


def scorecard(tables_dir: str | Path, alpha: float = 0.05, findings: pd.DataFrame | None = None,
              readers: str = READERS_ARM) -> pd.DataFrame:
    """One row per claim of the paper (:data:`SCORECARD_COLUMNS`), for the run whose tables are in
    ``tables_dir``; ``findings`` is :func:`mammo_lib.paper.audit.audit_all` (computed when not given);
    ``readers`` names the reader arm in ``decided_by`` (e.g. "cohort's readers" for a user's cohort whose
    reader columns are real readings).

    The claims in the paper's order: detection (:func:`_detection_claims`), the other Table 3 factors and mass
    size (:func:`_factor_claims`), classification (:func:`_classification_claims`), and the two claims no
    standalone reader study can test (:func:`_untestable_claims`)."""
    if not 0 < alpha < 1:
        raise MammoError(f"alpha must lie in (0, 1), got {alpha!r}")
    if not str(readers).strip():
        raise MammoError("readers (the name of the reader arm) must not be empty")
    t = load_run_tables(tables_dir)
    findings = audit.audit_all() if findings is None else findings
    rows = [*_detection_claims(t, findings, alpha), *_factor_claims(t, findings, alpha),
            *_classification_claims(t, findings, alpha), *_untestable_claims()]
    out = pd.DataFrame([(cid, sec, claim, DECIDED_BY[cid].replace(READERS_ARM, readers), ev, au, f.reproduction,
                         f.verdict, f.why) for cid, sec, claim, ev, au, f in rows], columns=list(SCORECARD_COLUMNS))
    return out


def _detection_claims(t: dict[str, pd.DataFrame], findings: pd.DataFrame, alpha: float) -> list[_Row]:
    """The detection claims: DL against the juniors overall and in c, d and dense breasts, and the effect of
    breast density on the juniors and on the DL system."""
    overall, text_c, text_d = (published.DETECTION_TEXT[k] for k in ("overall", "c", "d"))
    dense = published.TABLE3["breast_density"]
    pooled_dense = "+".join(vocab.DENSE_BREAST)
    paired = t.get("density_mcnemar.csv")
    paired_missing = _missing("density_mcnemar.csv")
    return [
        ("detection_sensitivity", "Abstract; Results",
         "The detection sensitivity of the two junior radiologists was lower than that of the DL system.",
         "Results text: " + ", ".join(f"{display_name(d)} {v[2]}% ({v[0]}/{v[1]})" for d, v in overall.items())
         + "; compared without a test",
         _audit_says(findings, _items(["breast_density / "], ["Text vs Table 3"], ["detected total"])),
         _overall_sensitivity(t, alpha)),
        ("density_juniors", "Abstract; Results",
         "Breast density significantly affected detection by both junior radiologists.",
         "Table 3: " + _printed_tests("breast_density").split("; DL")[0],
         _audit_says(findings, _items([f"breast_density / {j}" for j in JUNIORS], ["Table 3"])),
         _density_effect(t, JUNIORS, True, "breast_density", alpha)),
        ("density_dl", "Abstract; Results; Conclusions",
         "Breast density did not affect detection by the DL system.",
         "Table 3: DL system chi2 {}, P {}".format(*published.TABLE3_TESTS["breast_density"][DL]),
         _audit_says(findings, _items(["breast_density / dl"], ["Table 3"])),
         _density_effect(t, (DL,), False, "breast_density", alpha)),
        ("dense_c", "Results",
         "In c-type breasts the junior radiologists' detection sensitivity was lower than the DL system's.",
         "Results text: " + ", ".join(f"{display_name(d)} {v[2]}% ({v[0]}/{v[1]})" for d, v in text_c.items()),
         _audit_says(findings, _items(["c / "], ["Text", "Text vs Table 3"])),
         _dl_more_sensitive(paired, "c", "c-type breasts", paired_missing, alpha)),
        ("dense_d", "Results",
         "In d-type breasts the junior radiologists' detection sensitivity was lower than the DL system's.",
         "Results text: " + ", ".join(f"{display_name(d)} {v[2]}% ({v[0]}/{v[1]})" for d, v in text_d.items()),
         _audit_says(findings, _items(["d / "], ["Text", "Text vs Table 3"])),
         _dl_more_sensitive(paired, "d", "d-type breasts", paired_missing, alpha)),
        ("dense_breasts", "Discussion",
         "In dense breasts the sensitivity of mass detection was lower for the junior radiologists than for "
         "the DL system.",
         "Table 3, c and d strata pooled: " + ", ".join(
             f"{display_name(d)} {_pct(dense['c'][i] + dense['d'][i], dense['c'][0] + dense['d'][0])}"
             for i, d in enumerate(published.TABLE3_COLUMNS) if i) + "; compared without a test",
         _audit_says(findings, _items(["c / ", "d / "], ["Text vs Table 3"])),
         _dl_more_sensitive(paired, pooled_dense, "c- and d-type breasts", paired_missing, alpha)),
    ]


def _factor_claims(t: dict[str, pd.DataFrame], findings: pd.DataFrame, alpha: float) -> list[_Row]:
    """The claims of Table 3's other factors (each affects detection), and of mass size (evaluated)."""
    rows: list[_Row] = []
    for factor in OTHER_FACTORS:
        rows.append((f"factor_{factor}", "Results; Discussion",
                     f"{FACTOR_WORDS[factor][0].upper()}{FACTOR_WORDS[factor][1:]} significantly affected detection by the junior "
                     "radiologists and the DL system.",
                     "Table 3: " + _printed_tests(factor) + "; printed P below 0.05 for "
                     f"{sum(_p_below(p, alpha) for _, p in published.TABLE3_TESTS[factor].values())} of 3",
                     _audit_says(findings, _items([f"{factor} / "], ["Table 3"])),
                     _factor_effect(t, factor, alpha)))
    reported = factor_reported("size")
    rows.append(("factor_size", "Abstract; Methods",
                 "The effect of mass size on detection was evaluated.",
                 "Table 3 reports size rows" if reported else "none: Table 3 has no mass-size rows",
                 _audit_says(findings, _items(["size"], ["Methods vs Table 3"])),
                 Finding("", CANNOT, "the paper reports no result for mass size, and Table 3 of this run (the "
                                     "paper's factors) has no size strata")))
    return rows


def _classification_claims(t: dict[str, pd.DataFrame], findings: pd.DataFrame, alpha: float) -> list[_Row]:
    """The classification claims of Table 4: accuracy, sensitivity, specificity, and the AUC against the
    juniors and the senior."""
    t4 = published.TABLE4
    return [
        ("classification_points", "Results",
         "The accuracy, sensitivity and specificity of the DL system were higher than the junior radiologists' "
         "but lower than the senior radiologists'.",
         "Table 4: " + "; ".join(f"{m}: " + ", ".join(f"{display_name(r)} {v[m]}%" for r, v in t4.items())
                                 for m in ("accuracy", "sensitivity", "specificity")),
         _audit_says(findings, lambda f: (f["section"] == "Table 4") & f["check"].str.endswith("from counts")),
         _classification_points(t)),
        ("auc_juniors", "Abstract; Results; Conclusions",
         "The DL system's AUC was significantly higher than the two junior radiologists'.",
         f"Table 4: DL system {t4[DL]['auc']}; " + ", ".join(
             f"{display_name(j)} {t4[j]['auc']} (Z {t4[j]['z']}, P {t4[j]['p']})" for j in JUNIORS),
         _audit_says(findings, _items([*JUNIORS, DL, *(f"dl vs {j}" for j in JUNIORS)], ["Table 4"],
                                      ["AUC possible given sens/spec", "P from printed Z",
                                       "Z implies a correlation in [-1, 1]"])),
         _auc_versus(t, JUNIORS, True, alpha)),
        ("auc_senior", "Abstract; Results",
         "The DL system's AUC was not significantly different from the senior radiologists'.",
         f"Table 4: DL system {t4[DL]['auc']}; {display_name('senior')} {t4['senior']['auc']} "
         f"(Z {t4['senior']['z']}, P {t4['senior']['p']})",
         _audit_says(findings, _items(["senior", DL, "dl vs senior"], ["Table 4"],
                                      ["AUC possible given sens/spec", "P from printed Z",
                                       "Z implies a correlation in [-1, 1]"])),
         _auc_versus(t, ("senior",), False, alpha)),
    ]


def _untestable_claims() -> list[_Row]:
    """The claims no standalone reader study can test: assistance to junior radiologists, clinical utility."""
    return [
        ("assists_juniors", "Conclusions",
         "The DL system could assist junior radiologists in improving mass detection.",
         "the standalone comparison of detection_sensitivity; no reading with the DL system's help was done",
         "not an arithmetic claim; the audit has no check of it",
         Finding("see detection_sensitivity", CANNOT,
                 "assistance needs the junior radiologists reading with and without the DL system; neither the "
                 "paper nor this run measured aided reading")),
        ("dense_utility", "Abstract; Discussion; Conclusions",
         "The DL system may have clinical utility in women with dense breasts, reducing the influence of "
         "radiologist experience and missed diagnoses.",
         "the c- and d-stratum sensitivities (dense_c, dense_d, dense_breasts); no clinical outcome was studied",
         "not an arithmetic claim; the audit has no check of it",
         Finding("see dense_breasts", CANNOT,
                 "clinical utility needs outcomes (cancers found or missed in practice, with and without the DL "
                 "system); a standalone reader study cannot show it")),
    ]


def _p_below(printed: str, alpha: float) -> bool:
    """Whether a printed P ("0.030", "<0.0001") is below ``alpha``."""
    return float(printed.lstrip("<")) < alpha


def factor_reported(factor: str) -> bool:
    """Whether Table 3 of the paper reports the factor."""
    return factor in published.TABLE3


def verdict_counts(card: pd.DataFrame) -> pd.Series:
    """How many claims got each verdict (all three verdicts listed)."""
    return card["verdict"].value_counts().reindex(list(VERDICTS), fill_value=0)


def arm_counts(card: pd.DataFrame) -> pd.DataFrame:
    """Claims per deciding arm (rows, in the order of :data:`ARMS`, then combinations) and verdict (columns),
    with a total column."""
    for column in ("decided_by", "verdict"):
        if column not in card.columns:
            raise MammoError(f"the scorecard has no {column!r} column (written before decided_by existed?)")
    table = pd.crosstab(card["decided_by"], card["verdict"]).reindex(columns=list(VERDICTS), fill_value=0)
    order = [a for a in ARMS if a in table.index] + sorted(set(table.index) - set(ARMS))
    table = table.reindex(order)
    table["claims"] = table.sum(axis=1)
    return table


def dl_versus_paper(tables_dir: str | Path) -> str:
    """One sentence on the DL models' measured performance against the paper's (detection sensitivity from
    ``table3.csv``, Table 4's DL row from ``table4.csv``): what the claims decided by the DL models rest on."""
    t = load_run_tables(tables_dir)
    parts = []
    if "table3.csv" in t and DL in _detectors(t, "table3.csv"):
        found = _overall_detection(t).loc[DL]
        paper = published.DETECTION_TEXT["overall"][DL]
        parts.append(f"detection sensitivity {_pct(found['detected'], found['reference'])} vs the paper's "
                     f"{paper[2]}% ({paper[0]}/{paper[1]})")
    if "table4.csv" in t and (t["table4.csv"]["rater"] == DL).any():
        row = t["table4.csv"].set_index("rater").loc[DL]
        paper = published.TABLE4[DL]
        parts.append(f"AUC {row['auc']:.3f} vs {paper['auc']}, accuracy {100 * row['accuracy']:.1f}% vs "
                     f"{paper['accuracy']}%")
    return "This run's DL models: " + "; ".join(parts) + "." if parts else \
        "The run has no DL results (notebooks 04-07 not run)."


def detection_paired(masses: pd.DataFrame) -> pd.DataFrame:
    """DL against each junior on the same masses (McNemar) per breast-density stratum and pooled over all
    masses: the input of the ``detection_sensitivity`` claim (written as ``detection_paired.csv``)."""
    return dense_mcnemar(masses, strata=vocab.BREAST_DENSITY)


__all__ = ["ARMS", "DECIDED_BY", "SCORECARD_COLUMNS", "VERDICTS", "arm_counts", "detection_paired", "dl_versus_paper",
           "load_run_tables", "scorecard", "verdict_counts"]
