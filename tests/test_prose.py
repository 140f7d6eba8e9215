"""Sentences computed from published and reproduced values (mammo_lib.paper.prose), and the check that a
notebook's prose carries no number its code and outputs do not."""
from __future__ import annotations

import inspect
import json

import pandas as pd
import pytest

from mammo_lib import published
from mammo_lib.errors import MammoError
from mammo_lib.paper import prose
from mammo_lib.paths import REPO_ROOT


def test_p_below_one_in_ten_thousand_is_printed_as_less_than() -> None:
    assert prose.p_phrase(1e-9, "McNemar") == "McNemar P < 0.0001"
    assert prose.p_phrase(0.1894) == "P = 0.189"
    assert prose.p_phrase(0.00042) == "P = 0.0004"
    with pytest.raises(MammoError, match="no P value"):
        prose.p_phrase(float("nan"))


def test_a_proportion_far_below_the_papers_is_not_reproduced_with_its_direction_and_test() -> None:
    c = prose.compare_proportion("the DL system's detection sensitivity", 533, 618, 406, 618)
    assert not c.is_reproduced and c.direction == "lower"
    text = c.sentence()
    assert text.startswith("**Not reproduced on this run:**")
    assert "65.7% vs the paper's 86.2%" in text and "Fisher's exact P < 0.0001" in text
    assert "P = 0.000" not in text


def test_an_equal_proportion_is_reproduced() -> None:
    c = prose.compare_proportion("sensitivity", 482, 618, 482, 618)
    assert c.is_reproduced and c.direction == "the same"
    assert c.sentence() == "**Reproduced:** sensitivity 78.0% vs published 78.0% (Fisher's exact P = 1.000)."


def test_a_value_is_reproduced_when_the_paper_lies_in_the_runs_ci() -> None:
    inside = prose.compare_with_ci("DL AUC", 0.697, 0.707, 0.656, 0.758)
    outside = prose.compare_with_ci("DL AUC", 0.697, 0.808, 0.769, 0.847)
    assert inside.is_reproduced and "inside it" in inside.sentence()
    assert not outside.is_reproduced and outside.direction == "higher"
    assert "is higher, 0.808 vs the paper's 0.697 (run's 95% CI 0.769-0.847, the paper's value outside it)" \
        in outside.sentence()


def test_bad_inputs_raise_one_line_errors_naming_the_argument() -> None:
    with pytest.raises(MammoError, match="count 700 out of 618"):
        prose.compare_proportion("x", 700, 618, 1, 2)
    with pytest.raises(MammoError, match="lower bound"):
        prose.compare_with_ci("x", 0.5, 0.6, 0.7, 0.65)
    with pytest.raises(MammoError, match="rule must be one of"):
        prose.Comparison("x", 1, 1, "guess")
    with pytest.raises(MammoError, match="no comparisons"):
        prose.summary([])


def test_a_summary_of_several_comparisons_is_a_list() -> None:
    text = prose.summary([prose.compare_exact("a", 4.4, 4.4), prose.compare_exact("b", 65.5, 60.0)], lead="Table 1.")
    assert text.splitlines()[0] == "Table 1."
    assert "- **Reproduced:** a 4.4% vs published 4.4%." in text
    assert "- **Not reproduced on this run:** b is lower, 60.0% vs the paper's 65.5%." in text


def test_a_table_summary_counts_agreeing_rows_and_names_the_others() -> None:
    frame = pd.DataFrame({"feature": ["m", "m", "m"], "category": ["round", "oval", "lobular"],
                          "pub": [4.4, 65.5, None], "rep": [4.4, 66.0, 1.0]})
    text = prose.compare_table(frame, ["feature", "category"], "pub", "rep", "Table 1 masses %", unit="%")
    assert text.startswith("**Not reproduced on this run** for 1 of 2 rows")
    assert "m / oval 66.0% vs 65.5%" in text and "1 row(s) only one side has" in text
    same = prose.compare_table(frame.iloc[:1], ["category"], "pub", "rep", "Table 1 masses %")
    assert same.startswith("**Reproduced:** Table 1 masses %: all 1 rows")


def test_a_number_typed_into_markdown_is_found_unless_the_code_prints_it() -> None:
    nb = {"cells": [{"cell_type": "markdown", "source": "AUC 0.816 at the last epoch; sensitivity 86.2%; 95% CI"},
                    {"cell_type": "code", "source": "x = 1", "outputs": [{"output_type": "stream", "text": "0.812\n"}]}]}
    assert prose.unsourced_numbers(nb) == [(0, "0.816"), (0, "86.2")]
    assert prose.unsourced_numbers(nb, allowed="DETECTION = 86.2") == [(0, "0.816")]
    nb["cells"][1]["outputs"][0]["text"] = "val_auc 0.816, 0.862"
    assert prose.unsourced_numbers(nb) == []  # 86.2% is 0.862 as a fraction
    with pytest.raises(MammoError, match="expected a notebook"):
        prose.unsourced_numbers({"nope": 1})


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_committed_notebook_markdown_holds_no_number_its_outputs_do_not(path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert prose.unsourced_numbers(notebook, allowed=inspect.getsource(published)) == []


def test_a_table4_row_is_compared_measure_by_measure_with_the_papers() -> None:
    t4 = pd.DataFrame([{"rater": "dl", "n_negative": 466, "n_positive": 152, "true_negative": 420,
                        "true_positive": 100, "auc": 0.808, "auc_lower": 0.769, "auc_upper": 0.847}])
    found = {c.what: c for c in prose.table4_comparisons(t4, "dl", label="the end-to-end DL system's")}
    name = "the end-to-end DL system's"
    assert list(found) == [f"{name} {m}" for m in ("AUC", "accuracy", "sensitivity", "specificity")]
    assert found[f"{name} specificity"].is_reproduced  # 420 of 466 on both sides
    assert not found[f"{name} sensitivity"].is_reproduced  # 100 vs 126 of 152
    assert not found[f"{name} AUC"].is_reproduced  # 0.697 outside 0.769-0.847
    assert prose.table4_comparisons(t4, "dl")[0].what == "DL system's AUC"
    with pytest.raises(MammoError, match="no rater 'nobody'"):
        prose.table4_comparisons(t4, "nobody")


def test_significance_is_reproduced_when_both_tests_fall_on_the_same_side_of_alpha() -> None:
    same = prose.significance_sentence("breast density's effect on junior A", "0.030", 0.025, test="chi-square")
    assert same == ("**Reproduced:** breast density's effect on junior A significant in the paper (P = 0.030) "
                    "and on this run (chi-square P = 0.025).")
    flipped = prose.significance_sentence("age's effect on DL", "<0.0001", 0.24)
    assert flipped.startswith("**Not reproduced on this run:**") and "(P < 0.0001) but not significant" in flipped
    assert prose.significance_sentence("x", "0.030", float("nan")).startswith("**Cannot be tested here:**")
    with pytest.raises(MammoError, match="printed P"):
        prose.significance_sentence("x", "n.s.", 0.2)


def test_the_group_sentence_gives_each_methods_degrees_of_freedom_and_p() -> None:
    group = pd.DataFrame({"method": ["1T-RRRC", "1T-RRFC"], "covariance": ["jackknife", "none"], "readers": [2, 2],
                          "dl": [0.657, 0.657], "readers_mean": [0.81, 0.81], "difference": [0.1529, 0.1529],
                          "lower": [-0.0085, -0.2275], "upper": [0.3143, 0.5333], "df": [1.8663, 1.0],
                          "t_critical": [4.612, 12.7062], "p": [0.0549, 0.1231]})
    text = prose.group_sentence(group, "sensitivity")
    assert "1T-RRRC (jackknife): Hillis ddf 1.9, critical t 4.61" in text and "1T-RRFC (none): df 1.0" in text
    assert "P = 0.055" in text and text.count("No method shows a difference at alpha 0.05") == 1
    with pytest.raises(MammoError, match="lacks"):
        prose.group_sentence(group.drop(columns="df"), "AUC")


def test_the_senior_reference_birads_agreement_is_counted_and_explained() -> None:
    from mammo_lib.paper import teaching

    masses = pd.DataFrame({"birads": ["3", "4A", "4B", "5", "2"], "senior_birads": ["3", "3", "4A", "5", "2"]})
    table, text = teaching.birads_agreement(masses)
    assert int(table.to_numpy().trace()) == 3 and table.loc["4A", "3"] == 1
    assert "equals the reference BI-RADS for **3 of 5** masses; it is lower for 2 and higher for 0" in text
    assert "Here 1 are" in text and "4A 0/1" in text
    with pytest.raises(MammoError, match="senior_birads"):
        teaching.birads_agreement(masses.drop(columns="senior_birads"))
