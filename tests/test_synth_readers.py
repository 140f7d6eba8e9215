"""Simulated readers: the NPWE observer sees contrast through the pixels; calibration hits its targets."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mammo_lib import vocab
from mammo_lib.errors import MammoError
from mammo_lib.synth import readers, texture
from mammo_lib.synth.config import ReaderParams


def _scene(contrast: float, background_sd: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    img = 0.5 + background_sd * texture.power_law_field((160, 160), 3.0, rng, spacing_mm=0.4)
    img += 0.01 * rng.standard_normal(img.shape)
    yy, xx = np.mgrid[:160, :160]
    mass = (yy - 80) ** 2 + (xx - 80) ** 2 <= 12**2
    img = img + contrast * mass
    return img.astype(np.float32), np.ones_like(mass), mass


def test_stronger_mass_is_more_detectable() -> None:
    weak = readers.npwe_snr(*_scene(0.02, 0.02), 0.4)
    strong = readers.npwe_snr(*_scene(0.08, 0.02), 0.4)
    assert strong > weak > 0


def test_busier_background_hides_the_same_mass() -> None:
    fatty = readers.npwe_snr(*_scene(0.05, 0.01), 0.4)
    dense = readers.npwe_snr(*_scene(0.05, 0.06), 0.4)
    assert fatty > 2 * dense


def test_empty_or_mismatched_masks_are_refused() -> None:
    img, breast, mass = _scene(0.05, 0.02)
    with pytest.raises(MammoError, match="mass mask is empty"):
        readers.npwe_snr(img, breast, np.zeros_like(mass), 0.4)
    with pytest.raises(MammoError, match="differ"):
        readers.npwe_snr(img, breast[:10], mass, 0.4)


def _findings(n: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "mass_id": [f"P{i:04d}-M1" for i in range(n)], "image_id": [f"P{i:04d}_R_CC" for i in range(n)],
        "margin": rng.choice(vocab.MARGIN, n), "morphology": rng.choice(vocab.MORPHOLOGY, n),
        "mass_density": rng.choice(vocab.MASS_DENSITY, n), "size_mm": rng.uniform(5, 40, n)})


def test_feature_score_ranks_spiculated_irregular_above_circumscribed_oval() -> None:
    f = _findings()
    score = readers.feature_score(f)
    bad = f.set_index("mass_id").query("margin == 'spiculated' and morphology == 'irregular'").index
    good = f.set_index("mass_id").query("margin == 'circumscribed' and morphology == 'oval'").index
    assert score[bad].mean() > score[good].mean() + 0.5


def test_unknown_feature_values_are_refused() -> None:
    f = _findings()
    f.loc[0, "margin"] = "fuzzy"
    with pytest.raises(MammoError, match=r"unknown margin values \['fuzzy'\]"):
        readers.feature_score(f)


def test_higher_efficiency_detects_more_and_misses_are_birads_1() -> None:
    f = _findings()
    features = readers.feature_score(f)
    snr = pd.Series(np.linspace(0, 5, len(features)), index=features.index)
    low = ReaderParams(0.2, 0.5, 1.0, 0.5, 0.0)
    high = ReaderParams(0.8, 0.5, 1.0, 0.5, 0.0)
    d_low, b_low = readers.simulate("junior_a", low, snr, features)
    d_high, _ = readers.simulate("junior_a", high, snr, features)
    assert d_high.sum() > d_low.sum()
    assert (b_low[~d_low] == "1").all() and (b_low[d_low] != "1").all()


def test_categories_keep_the_suspicion_order_in_the_reference_mix() -> None:
    suspicion = np.linspace(-2, 2, 400)
    called = suspicion > 0.5
    detected = np.ones(400, bool)
    detected[::50] = False
    cats = readers.categorise(suspicion, called, detected)
    assert (cats[~detected] == "1").all()
    ranks = np.array([vocab.BIRADS_RANK[c] for c in cats[detected]])
    assert (np.diff(ranks) >= 0).all()  # higher suspicion, never a lower category
    neg_mix, pos_mix = readers.category_mix()
    assert set(cats[detected & called]) == set(pos_mix) and set(cats[detected & ~called]) == set(neg_mix)
    share_5 = (cats[detected & called] == "5").mean()
    assert share_5 == pytest.approx(pos_mix["5"], abs=0.02)


def test_reference_weight_needs_reference_scores() -> None:
    f = _findings()
    features = readers.feature_score(f)
    snr = pd.Series(np.linspace(0, 5, len(features)), index=features.index)
    with pytest.raises(MammoError, match="reference_weight needs"):
        readers.simulate("senior", ReaderParams(1.0, 0.5, 0.0, 0.0, 0.0, detects=False, reference_weight=1.0),
                         snr, features)


def test_reference_score_orders_birads_and_refuses_unknown_categories() -> None:
    f = _findings().assign(birads=lambda d: np.resize(["2", "3", "4A", "4B", "4C", "5"], len(d)))
    score = readers.reference_score(f)
    by_cat = score.groupby(f.set_index("mass_id")["birads"]).first()
    assert by_cat.is_monotonic_increasing and by_cat.index.tolist() == ["2", "3", "4A", "4B", "4C", "5"]
    with pytest.raises(MammoError, match=r"unknown birads values \['6'\]"):
        readers.reference_score(f.assign(birads="6"))
