"""The stricter likeness measure: LBP against hand-computed codes, features on the old patches, both classifiers."""
import numpy as np
import pytest
from scipy import ndimage

from mammo_lib.errors import MammoError
from mammo_lib.synth import likeness, likeness_strict


def test_lbp_riu2_matches_hand_computed_codes() -> None:
    # neighbours from the right, clockwise (row down): 7 8 3 2 4 5 9 1 >= 6 -> 1 1 0 0 0 0 1 0: four
    # transitions, not uniform: 9
    assert likeness_strict.lbp_riu2(np.array([[5, 9, 1], [4, 6, 7], [2, 3, 8]])).tolist() == [[9]]
    # 6 8 7 1 1 1 2 3 >= 5 -> 1 1 1 0 0 0 0 0: two transitions, uniform with three ones: 3
    assert likeness_strict.lbp_riu2(np.array([[1, 2, 3], [1, 5, 6], [1, 7, 8]])).tolist() == [[3]]
    assert likeness_strict.lbp_riu2(np.ones((4, 5))).tolist() == [[8, 8, 8], [8, 8, 8]]  # flat: all >=
    # radius 2 reads the neighbours two pixels away
    a = np.zeros((5, 5))
    a[2, 4] = a[4, 4] = 1.0  # right and lower-right neighbours above the centre, the rest equal to it
    assert likeness_strict.lbp_riu2(a, 2).tolist() == [[8]]
    a[0, 0] = -1.0  # one neighbour below the centre: 1 1 1 1 1 0 1 1 -> two transitions, seven ones
    assert likeness_strict.lbp_riu2(a, 2).tolist() == [[7]]
    with pytest.raises(MammoError, match="lbp_riu2"):
        likeness_strict.lbp_riu2(np.ones((2, 2)))


def _view(seed: int, smooth: float) -> likeness.CommonView:
    rng = np.random.default_rng(seed)
    a = ndimage.gaussian_filter(rng.standard_normal((160, 200)), smooth).astype(np.float32)
    mask = np.ones(a.shape, dtype=bool)
    tissue = np.zeros(a.shape, dtype=bool)
    tissue[10:-10, 10:-10] = True
    return likeness.CommonView(a, mask, tissue, (199.0, 80.0), 0.0)


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
    with pytest.raises(MammoError, match="classifier"):
        likeness_strict.two_sample_auc(rough, smooth, "svm")


def test_auc_table_reports_each_real_source_and_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(likeness, "common_view", lambda image: image)
    real = likeness_strict.features([("film", _view(s, 0.8)) for s in range(3)]
                                    + [("ffdm", _view(5 + s, 1.2)) for s in range(3)])
    synthetic = likeness_strict.features([("c", _view(30 + s, 3.0)) for s in range(4)])
    table = likeness_strict.auc_table(real, synthetic)
    assert set(table["source"]) == {"film", "ffdm", "all real"} and len(table) == 3 * 2 * 2
    assert (table.loc[table["source"] == "all real", "real_images"] == 6).all()
    assert table["auc"].between(0.0, 1.0).all() and table["auc"].min() > 0.8  # these textures differ
