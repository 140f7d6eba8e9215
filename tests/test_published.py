"""The paper's numbers as transcribed: each table's strata add up to the study's totals."""
from __future__ import annotations

import pytest

from mammo_lib import published, vocab


@pytest.mark.parametrize("feature", sorted(published.TABLE1))
def test_table1_masses_add_up_to_618(feature: str) -> None:
    assert sum(masses for _, (masses, _) in published.TABLE1[feature].values()) == published.COHORT["masses"]


@pytest.mark.parametrize("factor", sorted(published.TABLE3))
def test_table3_reference_column_adds_up_to_618(factor: str) -> None:
    assert sum(row[0] for row in published.TABLE3[factor].values()) == published.COHORT["masses"]


def test_table2_columns_add_up_to_their_totals() -> None:
    for outcome, rows in published.TABLE2.items():
        assert sum(n for n, _ in rows.values()) == published.TABLE2_TOTALS[outcome]
    assert set(published.TABLE2["negative"]) == set(vocab.HISTOLOGY_NEGATIVE)
    assert set(published.TABLE2["positive"]) == set(vocab.HISTOLOGY_POSITIVE)


def test_table_keys_use_the_project_vocabularies() -> None:
    assert tuple(published.TABLE3["breast_density"]) == vocab.BREAST_DENSITY
    assert tuple(published.TABLE3["margin"]) == vocab.MARGIN
    assert tuple(published.TABLE3["mass_density"]) == vocab.MASS_DENSITY
    assert tuple(published.TABLE3["age_group"]) == vocab.AGE_GROUPS
    assert set(published.TABLE4) == set(vocab.READERS) | {"dl"}
