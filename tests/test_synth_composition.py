"""The twin's composition equals the paper's published counts; the joint structure links malignancy to features."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mammo_lib import published
from mammo_lib.errors import MammoError
from mammo_lib.synth import composition, config


@pytest.fixture(scope="module")
def twin() -> tuple[pd.DataFrame, pd.DataFrame]:
    return composition.compose(config.twin_config())


def test_twin_patients_match_the_published_age_summary(twin) -> None:
    patients, masses = twin
    c = published.COHORT
    assert len(patients) == c["patients"] and len(masses) == c["masses"]
    assert round(patients["age"].mean(), 2) == c["age_mean"]
    assert round(patients["age"].std(ddof=1), 2) == c["age_sd"]
    assert (patients["age"].min(), patients["age"].max()) == (c["age_min"], c["age_max"])


def test_twin_mass_features_match_tables_1_to_3_exactly(twin) -> None:
    patients, masses = twin
    per_mass = masses.merge(patients, on="patient_id")
    targets = composition.published_counts()
    for feature in ("breast_density", "age_group", "morphology", "margin", "mass_density", "birads", "pathology"):
        assert per_mass[feature].value_counts().to_dict() == {k: v for k, v in targets[feature].items() if v}
    table2 = {**published.TABLE2["negative"], **published.TABLE2["positive"]}
    assert masses["histology"].value_counts().to_dict() == {k: n for k, (n, _) in table2.items()}
    assert (masses["reference_standard"] == "histopathology").sum() == published.COHORT["histopathology_masses"]


def test_age_groups_follow_each_patients_age(twin) -> None:
    patients, _ = twin
    for group, (lo, hi) in composition.AGE_BOUNDS.items():
        ages = patients.loc[patients["age_group"] == group, "age"]
        assert ages.between(lo, hi).all()


def test_malignancy_goes_with_suspicious_features(twin) -> None:
    _, masses = twin
    positive = masses["pathology"] == "positive"
    spiculated_rate = positive[masses["margin"] == "spiculated"].mean()
    circumscribed_rate = positive[masses["margin"] == "circumscribed"].mean()
    assert spiculated_rate > 0.5 > circumscribed_rate
    assert positive[masses["birads"] == "5"].mean() > 0.6 > positive[masses["birads"].isin(["2", "3"])].mean()
    assert positive[masses["morphology"] == "irregular"].mean() > 2 * positive[masses["morphology"] == "oval"].mean()


def test_same_seed_same_composition_other_seed_differs() -> None:
    a = composition.compose(config.twin_config())[1]
    b = composition.compose(config.twin_config())[1]
    c = composition.compose(config.twin_config().with_(seed=7))[1]
    pd.testing.assert_frame_equal(a, b)
    assert not a["margin"].equals(c["margin"])


def test_sampled_composition_scales_the_published_mix() -> None:
    patients, masses = composition.compose(config.train_config(100))
    assert len(patients) == 100 and len(masses) == round(100 * 618 / 324)
    assert patients["patient_id"].str.startswith(config.TRAIN_PREFIX).all()
    assert masses["pathology"].value_counts()["positive"] == round(len(masses) * 152 / 618)


def test_rank_assign_cuts_the_ranking_at_the_counts() -> None:
    out = composition.rank_assign(np.array([0.3, -1.0, 2.0, 0.0]), ("lo", "hi"), {"lo": 3, "hi": 1})
    assert list(out) == ["lo", "lo", "hi", "lo"]
    with pytest.raises(MammoError, match="do not add up to 4"):
        composition.rank_assign(np.zeros(4), ("lo", "hi"), {"lo": 1, "hi": 1})


def test_scale_counts_uses_largest_remainders() -> None:
    assert composition.scale_counts({"a": 1, "b": 1, "c": 1}, 5) == {"a": 2, "b": 2, "c": 1}
    assert sum(composition.scale_counts({"x": 27, "y": 405, "z": 186}, 61).values()) == 61


def test_partition_fills_each_group_exactly() -> None:
    sizes = np.array([1, 2, 1, 3, 1, 1])
    label = composition.partition(sizes, {"g1": 2, "g2": 7}, {"g1": np.arange(6), "g2": np.arange(6)})
    assert sizes[label == "g1"].sum() == 2 and sizes[label == "g2"].sum() == 7


def test_tiny_sampled_cohorts_compose_without_exact_splits() -> None:
    for n in (1, 2, 3, 7):
        patients, masses = composition.compose(config.train_config(n))
        assert len(patients) == n and len(masses) >= n
