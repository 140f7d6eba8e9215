"""The stricter likeness measure: LBP codes against hand-computed ones (scikit-image's definition), features on
the old patches, both classifiers, the per-source AUC table and its sentence."""
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from mammo_lib.errors import MammoError
from mammo_lib.synth import likeness, likeness_strict


def test_lbp_codes_match_hand_computed_codes() -> None:
    # 8 neighbours on a circle of radius 1 (diagonals bilinear), bit 1 where neighbour >= centre; uniform
    # (at most two 0/1 transitions around the circle): the number of ones; otherwise 9.
    # A plane 10 * column + row: a neighbour at (dr, dc) differs by 10 dc + dr, positive for the right-hand
    # half circle and the one straight below: 1 1 0 0 0 0 1 1 (from the right, anticlockwise): uniform, 4 ones.
    rows, cols = np.mgrid[0:5, 0:5]
    plane = 10 * cols + rows
    assert likeness_strict.lbp_codes(plane, 1)[2, 2] == 4
    assert likeness_strict.lbp_codes(plane, 2)[2, 2] == 4  # radius 2: the same half circle, twice as far
    peak = np.zeros((3, 3), dtype=int)
    peak[1, 1] = 5  # every neighbour below the centre: no ones
    assert likeness_strict.lbp_codes(peak)[1, 1] == 0
    assert likeness_strict.lbp_codes(-peak)[1, 1] == 8  # a pit: all ones
    # centre 0, the four axis neighbours 1, the corners -1: a diagonal sample is bilinear between centre,
    # two axis neighbours and a corner: (1 - s) * (s * 1 - (1 - s)) + s * (1 - s) * 1 with s = 1 - 1/sqrt(2),
    # = -0.086 < 0: bits 1 0 1 0 1 0 1 0, eight transitions: not uniform, 9
    cross = np.array([[-1, 1, -1], [1, 0, 1], [-1, 1, -1]])
    s = 1 - 1 / np.sqrt(2)
    assert (1 - s) * (s - (1 - s)) + s * (1 - s) < 0
    assert likeness_strict.lbp_codes(cross)[1, 1] == 9
    with pytest.raises(MammoError, match="lbp_codes: need a 2-D array"):
        likeness_strict.lbp_codes(np.ones((2, 2), dtype=int))
    with pytest.raises(MammoError, match="integer image"):
        likeness_strict.lbp_codes(np.ones((5, 5)))


def _view(seed: int, smooth: float) -> likeness.CommonView:
    rng = np.random.default_rng(seed)
    a = ndimage.gaussian_filter(rng.standard_normal((160, 200)), smooth).astype(np.float32)
    mask = np.ones(a.shape, dtype=bool)
    tissue = np.zeros(a.shape, dtype=bool)
    tissue[10:-10, 10:-10] = True
    return likeness.CommonView(a, mask, tissue, (199.0, 80.0), 0.0)


def test_a_tilted_plane_has_one_lbp_code_and_a_flat_histogram_shape() -> None:
    rows, cols = np.mgrid[0:120, 0:120]
    plane = (10 * cols + rows).astype(np.float32) / 1300.0
    view = likeness.CommonView(plane, np.ones(plane.shape, bool), np.ones(plane.shape, bool), (119.0, 60.0), 0.0)
    extra = likeness_strict.strict_extra(view, n_patches=5, seed=1)
    assert extra.shape == (5, len(likeness_strict.EXTRA_FEATURES))
    names = list(likeness_strict.EXTRA_FEATURES)
    for r in likeness_strict.LBP_RADII:
        assert np.allclose(extra[:, names.index(f"lbp{r}_4")], 1.0)  # every pixel a half-plane: code 4
    # a plane's patch has a symmetric, near-uniform grey-level histogram: median 0, no pixel beyond 2 SD
    assert np.allclose(extra[:, names.index("q50")], 0.0, atol=0.05)
    assert np.allclose(extra[:, names.index("beyond_2sd")], 0.0)


def test_strict_features_extend_the_old_ones_on_the_same_patches(monkeypatch: pytest.MonkeyPatch) -> None:
    views = [_view(s, 2.0) for s in range(3)]
    monkeypatch.setattr(likeness, "common_view", lambda image: image)
    out = likeness_strict.features([("x", v) for v in views], seed=5)
    for i, (label, old, strict) in enumerate(out):
        assert label == "x" and np.array_equal(old, likeness.patch_features(views[i], seed=5 + i))
        assert strict.shape == (old.shape[0], old.shape[1] + len(likeness_strict.EXTRA_FEATURES))
        assert np.array_equal(strict[:, : old.shape[1]], old)
        lbp = strict[:, old.shape[1] + 7:]
        assert np.allclose(lbp[:, :10].sum(axis=1), 1.0) and np.allclose(lbp[:, 10:].sum(axis=1), 1.0)


def test_gradient_boosting_auc_separates_different_textures_and_not_equal_ones() -> None:
    rough = [likeness_strict.strict_extra(_view(s, 0.8), seed=s) for s in range(6)]
    smooth = [likeness_strict.strict_extra(_view(10 + s, 3.0), seed=s) for s in range(6)]
    same = [likeness_strict.strict_extra(_view(20 + s, 0.8), seed=s) for s in range(6)]
    assert likeness_strict.two_sample_auc(rough, smooth, "gradient boosting") > 0.95
    assert likeness_strict.two_sample_auc(rough, same, "gradient boosting") < 0.75
    assert likeness_strict.two_sample_auc(rough, smooth, "gradient boosting", seed=3) == \
        likeness_strict.two_sample_auc(rough, smooth, "gradient boosting", seed=3)
    with pytest.raises(MammoError, match="classifier"):
        likeness_strict.two_sample_auc(rough, smooth, "svm")


def test_auc_table_reports_each_real_source_and_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(likeness, "common_view", lambda image: image)
    real = likeness_strict.features([("film", _view(s, 0.8)) for s in range(3)]
                                    + [("ffdm", _view(5 + s, 1.2)) for s in range(3)])
    synthetic = likeness_strict.features([("c", _view(30 + s, 3.0)) for s in range(4)])
    table = likeness_strict.auc_table(real, synthetic)
    assert list(table.columns) == list(likeness_strict.TABLE_COLUMNS)
    assert list(table["source"].unique()) == ["ffdm", "film", likeness_strict.ALL_REAL] and len(table) == 3 * 2 * 2
    assert set(zip(table["features"], table["classifier"])) == {
        (f, c) for f in likeness_strict.FEATURE_SETS for c in likeness_strict.CLASSIFIERS}
    assert (table.loc[table["source"] == likeness_strict.ALL_REAL, "real_images"] == 6).all()
    assert (table.loc[table["source"] == "film", "real_images"] == 3).all() and (table["synthetic_images"] == 4).all()
    assert (table["goal"] == likeness.GOAL_TWO_SAMPLE_AUC).all()
    assert table["auc"].between(0.0, 1.0).all() and table["auc"].min() > 0.8  # these textures differ
    assert (table["met"] == (table["auc"] <= table["goal"])).all() and not table["met"].any()
    text = likeness_strict.goal_sentence(table)
    assert "film, 3 real images: " in text and "missed by" in text and "is not met for all real images" in text
    with pytest.raises(MammoError, match="need real and synthetic"):
        likeness_strict.auc_table([], synthetic)


def test_the_goal_sentence_says_met_when_every_classifier_is_at_or_below_the_goal() -> None:
    rows = [{"source": s, "features": f, "classifier": c, "auc": 0.6 if f.startswith("strict") else 0.7,
             "real_images": 2, "synthetic_images": 5, "goal": 0.75, "met": True}
            for s in ("film", likeness_strict.ALL_REAL) for f in likeness_strict.FEATURE_SETS
            for c in likeness_strict.CLASSIFIERS]
    text = likeness_strict.goal_sentence(pd.DataFrame(rows))
    assert "random forest 0.600 (old features 0.700)" in text and "; goal met" in text
    assert text.endswith("**The strict goal is met for all real images together.**")
    with pytest.raises(MammoError, match="goal_sentence"):
        likeness_strict.goal_sentence(pd.DataFrame(rows).drop(columns="met"))
