"""Sentences computed from a run's values: published beside reproduced, with the direction and the test.

A notebook that sets the paper's number beside the run's ends the table with one of these sentences, rendered
as Markdown (``IPython.display.Markdown(prose.summary(...))``), so the words cannot drift from the numbers:

* :func:`compare_proportion`: a count out of a total on both sides (e.g. masses detected), tested with
  Fisher's exact test of the two proportions (the paper's cohort and the run's are different masses, so
  the test is unpaired);
* :func:`compare_with_ci`: a value the run estimates with a 95% CI (e.g. an AUC): reproduced when the
  published value lies inside the run's CI;
* :func:`compare_exact`: a value that the run should match at the paper's printed precision (e.g. the twin's
  composition, built from the paper's counts);
* :func:`compare_table`: every row of a published-vs-reproduced table with :func:`compare_exact`, summarised.

P values are printed as the paper prints them (:func:`mammo_lib.paper.tables.format_p`), as "P < 0.0001"
below 0.0001 and never as "P = 0.000".
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from mammo_lib.errors import MammoError
from mammo_lib.paper.tables import format_p

REPRODUCED = "Reproduced"
NOT_REPRODUCED = "Not reproduced on this run"
#: How each kind of comparison decides "reproduced".
RULES = {"fisher": "Fisher's exact test of the two proportions at alpha",
         "ci": "the published value inside the run's 95% CI",
         "exact": "equal at the paper's printed precision"}


def p_phrase(p: float, test: str = "") -> str:
    """'McNemar P < 0.0001', 'P = 0.189': P as the paper prints it, with the test's name when given."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        raise MammoError("p_phrase: no P value (NaN or None): there is no test to report")
    if not 0 <= float(p) <= 1:
        raise MammoError(f"p_phrase: P must lie in [0, 1], got {p!r}")
    printed = format_p(float(p))
    body = f"P < {printed[1:]}" if printed.startswith("<") else f"P = {printed}"
    return f"{test} {body}" if test else body


def _number(value: float, unit: str, decimals: int) -> str:
    return f"{value:.{decimals}f}{unit}"


@dataclass(frozen=True)
class Comparison:
    """One published value beside the run's, with what decides whether the run reproduces it.

    ``unit`` is appended to both numbers ("%" for percentages, "" for an AUC); ``rule`` is a key of
    :data:`RULES`; ``p``/``test`` the test when the rule is one; ``lower``/``upper`` the run's 95% CI."""

    what: str
    published: float
    reproduced: float
    rule: str
    unit: str = "%"
    decimals: int = 1
    test: str = ""
    p: float | None = None
    alpha: float = 0.05
    lower: float | None = None
    upper: float | None = None

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise MammoError(f"Comparison rule must be one of {sorted(RULES)}, got {self.rule!r}")
        if self.rule == "fisher" and self.p is None:
            raise MammoError(f"Comparison of {self.what}: the rule 'fisher' needs its P value")
        if self.rule == "ci" and (self.lower is None or self.upper is None):
            raise MammoError(f"Comparison of {self.what}: the rule 'ci' needs the run's lower and upper bounds")

    @property
    def is_reproduced(self) -> bool:
        """Whether the run reproduces the published value under :attr:`rule`."""
        if self.rule == "fisher":
            return float(self.p) >= self.alpha
        if self.rule == "ci":
            return float(self.lower) <= self.published <= float(self.upper)
        return round(self.published, self.decimals) == round(self.reproduced, self.decimals)

    @property
    def direction(self) -> str:
        """'higher', 'lower' or 'the same': the run's value against the paper's, at the printed precision."""
        rep, pub = round(self.reproduced, self.decimals), round(self.published, self.decimals)
        return "higher" if rep > pub else "lower" if rep < pub else "the same"

    def evidence(self) -> str:
        """The test or the CI behind the verdict, in brackets ('' for an exact comparison)."""
        if self.rule == "fisher":
            return f" ({p_phrase(self.p, self.test)})"
        if self.rule == "ci":
            inside = "inside" if self.is_reproduced else "outside"
            return (f" (run's 95% CI {_number(self.lower, self.unit, self.decimals)}-"
                    f"{_number(self.upper, self.unit, self.decimals)}, the paper's value {inside} it)")
        return ""

    def sentence(self) -> str:
        """One Markdown sentence: the verdict, the two values with the direction, and the test."""
        rep = _number(self.reproduced, self.unit, self.decimals)
        pub = _number(self.published, self.unit, self.decimals)
        if self.is_reproduced:
            return f"**{REPRODUCED}:** {self.what} {rep} vs published {pub}{self.evidence()}."
        return (f"**{NOT_REPRODUCED}:** {self.what} is {self.direction}, {rep} vs the paper's {pub}"
                f"{self.evidence()}.")


def compare_proportion(what: str, published_count: int, published_total: int, reproduced_count: int,
                       reproduced_total: int, alpha: float = 0.05, decimals: int = 1) -> Comparison:
    """A proportion of the paper against the run's (percentages), with Fisher's exact test of the 2 x 2 table
    (the two cohorts' masses are different, so the test is unpaired)."""
    for name, count, total in (("published", published_count, published_total),
                               ("reproduced", reproduced_count, reproduced_total)):
        if total <= 0 or not 0 <= count <= total:
            raise MammoError(f"compare_proportion({what!r}): {name} count {count} out of {total} is not a proportion")
    if not 0 < alpha < 1:
        raise MammoError(f"compare_proportion: alpha must lie in (0, 1), got {alpha!r}")
    _, p = stats.fisher_exact([[published_count, published_total - published_count],
                               [reproduced_count, reproduced_total - reproduced_count]])
    return Comparison(what, 100 * published_count / published_total, 100 * reproduced_count / reproduced_total,
                      "fisher", unit="%", decimals=decimals, test="Fisher's exact", p=float(p), alpha=alpha)


def compare_with_ci(what: str, published: float, reproduced: float, lower: float, upper: float, unit: str = "",
                    decimals: int = 3) -> Comparison:
    """A value the run estimates with a 95% CI: reproduced when the published value lies in the CI."""
    if not lower <= upper:
        raise MammoError(f"compare_with_ci({what!r}): lower bound {lower} above upper bound {upper}")
    return Comparison(what, float(published), float(reproduced), "ci", unit=unit, decimals=decimals,
                      lower=float(lower), upper=float(upper))


def compare_exact(what: str, published: float, reproduced: float, unit: str = "%", decimals: int = 1) -> Comparison:
    """A value the run should match at the paper's printed precision (e.g. the twin's composition)."""
    return Comparison(what, float(published), float(reproduced), "exact", unit=unit, decimals=decimals)


def summary(comparisons: Iterable[Comparison], lead: str = "") -> str:
    """Markdown: an optional lead sentence, then one bullet per comparison (a single one as a plain sentence)."""
    items = [c.sentence() for c in comparisons]
    if not items:
        raise MammoError("summary: no comparisons to write")
    head = f"{lead}\n\n" if lead else ""
    return head + (items[0] if len(items) == 1 else "\n".join(f"- {s}" for s in items))


def compare_table(frame: pd.DataFrame, label_columns: Sequence[str], published_column: str,
                  reproduced_column: str, what: str, unit: str = "", decimals: int = 1, shown: int = 5) -> str:
    """One Markdown sentence for a whole published-vs-reproduced table: how many rows agree at the printed
    precision, and the first ``shown`` rows that do not (rows one side lacks are counted apart)."""
    missing = [c for c in (*label_columns, published_column, reproduced_column) if c not in frame.columns]
    if missing:
        raise MammoError(f"compare_table: the table has no column {', '.join(missing)}")
    both = frame.dropna(subset=[published_column, reproduced_column])
    one_side = len(frame) - len(both)
    rows = [(" / ".join(str(r[c]).replace("_", " ") for c in label_columns),
             compare_exact(what, r[published_column], r[reproduced_column], unit, decimals))
            for _, r in both.iterrows()]
    differ = [(label, c) for label, c in rows if not c.is_reproduced]
    extra = f"; {one_side} row(s) only one side has" if one_side else ""
    if not differ:
        return f"**{REPRODUCED}:** {what}: all {len(rows)} rows equal the paper's at its printed precision{extra}."
    listed = "; ".join(f"{label} {_number(c.reproduced, unit, decimals)} vs {_number(c.published, unit, decimals)}"
                       for label, c in differ[:shown])
    more = f"; and {len(differ) - shown} more" if len(differ) > shown else ""
    rest = len(rows) - len(differ)
    others = f"the other {rest} equal the paper's" if rest else "none equals the paper's"
    return (f"**{NOT_REPRODUCED}** for {len(differ)} of {len(rows)} rows of {what} (run vs paper: {listed}{more})"
            f"{extra}; {others}.")


def _printed_p_value(printed: str) -> float:
    try:
        return float(str(printed).strip().lstrip("<").strip())
    except ValueError:
        raise MammoError(f"a printed P must read like '0.030' or '<0.0001', got {printed!r}") from None


def significance_sentence(what: str, published_p: str, reproduced_p: float, alpha: float = 0.05,
                          test: str = "") -> str:
    """Whether the run's test lands on the same side of ``alpha`` as the paper's printed P (e.g. "<0.0001"):
    'Reproduced: <what> significant in the paper (P = 0.030) and on this run (chi-square P = 0.025).'"""
    if reproduced_p is None or pd.isna(reproduced_p):
        return f"**Cannot be tested here:** {what}: the run has no such test."
    paper_p = _printed_p_value(published_p)
    paper_says = "significant" if paper_p < alpha else "not significant"
    run_says = "significant" if reproduced_p < alpha else "not significant"
    paper_phrase = f"P < {paper_p:g}" if str(published_p).strip().startswith("<") else f"P = {published_p}"
    if paper_says == run_says:
        return (f"**{REPRODUCED}:** {what} {paper_says} in the paper ({paper_phrase}) and on this run "
                f"({p_phrase(reproduced_p, test)}).")
    return (f"**{NOT_REPRODUCED}:** {what} {paper_says} in the paper ({paper_phrase}) but {run_says} on this run "
            f"({p_phrase(reproduced_p, test)}, alpha {alpha:g}).")


def table4_comparisons(t4: pd.DataFrame, rater: str, label: str | None = None, alpha: float = 0.05
                       ) -> list[Comparison]:
    """A rater's Table 4 row (:func:`mammo_lib.paper.tables.table4`) against the paper's: accuracy, sensitivity
    and specificity as proportions (Fisher's exact test), the AUC against the run's DeLong 95% CI. ``label`` is a
    possessive naming the rater ("the end-to-end DL system's"; default the paper's name of the rater + "'s")."""
    from mammo_lib import published
    from mammo_lib.paper.tables import display_name

    if rater not in published.TABLE4:
        raise MammoError(f"table4_comparisons: the paper's Table 4 has no rater {rater!r}; it has "
                         f"{', '.join(published.TABLE4)}")
    rows = t4[t4["rater"] == rater]
    if rows.empty:
        raise MammoError(f"table4_comparisons: the run's Table 4 has no row for {rater!r}")
    r, paper, totals = rows.iloc[0], published.TABLE4[rater], published.TABLE4_REFERENCE
    name = label or f"{display_name(rater)}'s"  # a possessive: "Junior radiologist A's accuracy"
    tn, tp, n_neg, n_pos = (int(r[c]) for c in ("true_negative", "true_positive", "n_negative", "n_positive"))
    out = [compare_proportion(f"{name} accuracy", paper["negative"] + paper["positive"],
                              totals["negative"] + totals["positive"], tn + tp, n_neg + n_pos, alpha),
           compare_proportion(f"{name} sensitivity", paper["positive"], totals["positive"], tp, n_pos, alpha),
           compare_proportion(f"{name} specificity", paper["negative"], totals["negative"], tn, n_neg, alpha)]
    if not pd.isna(r.get("auc")):
        out.insert(0, compare_with_ci(f"{name} AUC", paper["auc"], r["auc"], r["auc_lower"], r["auc_upper"]))
    return out


def group_sentence(group: pd.DataFrame, figure_of_merit: str, alpha: float = 0.05) -> str:
    """Markdown for the DL-versus-readers group analysis (:func:`mammo_lib.paper.reader_study.ai_vs_juniors`):
    the figures of merit, the difference with its CI, and per method its degrees of freedom (Hillis ddf for
    1T-RRRC), critical t and P, and whether any method shows a difference at ``alpha``."""
    needed = ["method", "covariance", "readers", "dl", "readers_mean", "difference", "lower", "upper", "df",
              "t_critical", "p"]
    missing = [c for c in needed if c not in group.columns]
    if missing or group.empty:
        raise MammoError(f"group_sentence: the group table lacks {', '.join(missing) or 'rows'}")
    first = group.iloc[0]
    methods = "; ".join(
        f"{r.method} ({r.covariance}): {'Hillis ddf' if r.method.endswith('RRRC') else 'df'} {r.df:.1f}, "
        f"critical t {r.t_critical:.2f}, 95% CI of the difference {r.lower:+.3f} to {r.upper:+.3f}, {p_phrase(r.p)}"
        for r in group.itertuples())
    shown = (group["p"] < alpha).any()
    return (f"DL {figure_of_merit} {first['dl']:.3f} against the mean of {int(first['readers'])} junior readers "
            f"{first['readers_mean']:.3f} (readers minus DL {first['difference']:+.3f}). {methods}. "
            + ("At least one method shows a difference" if shown else "No method shows a difference")
            + f" at alpha {alpha:g}; with {int(first['readers'])} readers the reader variance has "
            f"{int(first['readers']) - 1} degree(s) of freedom, so the CIs are wide.")


#: A decimal number or a percentage in prose ("0.816", "65.7%", "86%"); integers alone are too often counts of
#: design (448 pixels, 4 views) to be checked.
_NUMBER = re.compile(r"(?<![\d.])(\d+\.\d+|\d+(?=%))(?!\d)")


def _numbers(text: str) -> set[str]:
    return {m.group(1) for m in _NUMBER.finditer(text)}


def _normalised(number: str) -> set[str]:
    """A number and its equivalent spellings (0.90 = 0.9; 86.2% = 0.862 as a fraction)."""
    value = float(number)
    return {number, f"{value:g}", f"{value / 100:g}", f"{round(value * 100, 6):g}"}


#: Conventions, not results: 95% CIs, alpha 0.05, the chance AUC 0.5.
CONVENTIONS = ("95", "0.05", "0.5")


def unsourced_numbers(notebook: dict, allowed: str = "", conventions: Sequence[str] = CONVENTIONS
                      ) -> list[tuple[int, str]]:
    """(cell index, number) for every decimal or percentage of a markdown cell that appears nowhere in the
    notebook's code (its sources and stored outputs), nor in ``allowed`` (e.g. the text of
    :mod:`mammo_lib.published`), nor among ``conventions``: a number typed into prose that can drift from the
    run."""
    if not isinstance(notebook, dict) or "cells" not in notebook:
        raise MammoError("unsourced_numbers: expected a notebook (a mapping with 'cells')")
    sources = [allowed]
    for cell in notebook["cells"]:
        if cell.get("cell_type") != "code":
            continue
        sources.append("".join(cell.get("source", "")))
        for output in cell.get("outputs", []):
            sources.append("".join(output.get("text", "")))
            for kind, value in output.get("data", {}).items():
                if kind.startswith("text/"):
                    sources.append("".join(value))
    known: set[str] = set()
    for number in [*_numbers("\n".join(sources)), *conventions]:
        known |= _normalised(number)
    return [(index, number) for index, cell in enumerate(notebook["cells"]) if cell.get("cell_type") == "markdown"
            for number in sorted(_numbers("".join(cell.get("source", ""))))
            if not _normalised(number) & known]


__all__ = ["Comparison", "NOT_REPRODUCED", "REPRODUCED", "compare_exact", "compare_proportion", "compare_table",
           "compare_with_ci", "group_sentence", "p_phrase", "significance_sentence", "summary", "table4_comparisons", "unsourced_numbers"]
