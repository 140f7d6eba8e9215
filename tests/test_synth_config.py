"""The generator's configuration refuses bad values with a message naming the field and the value."""
from __future__ import annotations

import pytest

from mammo_lib.errors import MammoError
from mammo_lib.synth import config


def test_default_twin_config_is_valid_and_uses_the_twin_seed() -> None:
    cfg = config.twin_config()
    assert cfg.seed == config.TWIN_SEED and cfg.n_patients == 324 and cfg.composition == "exact"


@pytest.mark.parametrize(("changes", "message"), [
    ({"size_median_mm": -3.0}, "size_median_mm must be positive, got -3.0"),
    ({"size_clip_mm": (10.0, 5.0)}, "size_clip_mm must be (low, high)"),
    ({"vendor_shares": (0.5, 0.3, 0.3)}, "vendor_shares proportions must sum to 1, got 1.100000"),
    ({"vendor_shares": (0.5, 0.5)}, "vendor_shares must give 3 proportions"),
    ({"vendor_shares": (1.2, -0.1, -0.1)}, "vendor_shares shares must be finite and non-negative"),
    ({"dense_fraction": (0.1, 0.3, 0.2, 0.9)}, "dense_fraction must be 4 increasing fractions"),
    ({"unilateral_fraction": 1.5}, "unilateral_fraction must be in [0, 1), got 1.5"),
    ({"n_patients": 100}, "exact twin composition has 324 patients"),
    ({"split": "holdout"}, "split must be one of"),
    ({"mu_gland": 0.3}, "mu_gland (0.3) must exceed mu_fat"),
    ({"photons_per_pixel": float("nan")}, "photons_per_pixel must be finite"),
    ({"rank_noise": {"colour": 1.0}}, "rank_noise['colour']"),
    ({"gland_path_fraction": (0.3, 0.4, 0.5)}, "gland_path_fraction must be 4 fractions"),
])
def test_bad_config_values_are_refused_with_the_field_named(changes: dict, message: str) -> None:
    with pytest.raises(MammoError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        config.twin_config().with_(**changes)


def test_training_cohort_may_not_reuse_the_twin_seed() -> None:
    with pytest.raises(MammoError, match="may not use the twin's seed"):
        config.train_config(10, seed=config.TWIN_SEED)


def test_proportions_must_sum_to_one_and_use_known_categories() -> None:
    assert config.validate_proportions("density", {"a": 0.5, "b": 0.5}, ("a", "b", "c", "d"))
    with pytest.raises(MammoError, match="must sum to 1, got 0.900000"):
        config.validate_proportions("density", {"a": 0.5, "b": 0.4}, ("a", "b", "c", "d"))
    with pytest.raises(MammoError, match=r"unknown categories \['e'\]"):
        config.validate_proportions("density", {"a": 0.5, "e": 0.5}, ("a", "b", "c", "d"))
