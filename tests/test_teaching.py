"""Teaching views of notebook 11: density masking, the threshold's operating point, widgets vs static views."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mammo_lib import vocab
from mammo_lib.paper import tables, teaching
from mammo_lib.errors import MammoError
from mammo_lib.progress import BATCH_ENV


def _masses(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    positive = rng.random(n) < 0.3
    score = np.clip(np.where(positive, 60, 30) + rng.normal(0, 15, n), 0, 100).round(2)
    frame = pd.DataFrame({"mass_id": [f"M{i}" for i in range(n)], "study_id": [f"S{i // 2}" for i in range(n)],
                          "pathology": np.where(positive, "positive", "negative"), "dl_score": score,
                          "dl_positive": score >= 50})
    for reader in vocab.READERS:
        frame[f"{reader}_birads"] = np.where(rng.random(n) < 0.5, "4A", "3")
    return frame


def test_operating_point_is_table4_at_the_threshold() -> None:
    masses = _masses()
    point = teaching.operating_point(masses, 45.0)
    positive = masses["pathology"] == "positive"
    called = masses["dl_score"] >= 45.0
    assert point["true_positive"] == int((called & positive).sum())
    assert point["true_negative"] == int((~called & ~positive).sum())
    assert point["sensitivity"] == pytest.approx((called & positive).sum() / positive.sum())
    assert point["auc"] == pytest.approx(tables.table4(masses).set_index("rater").loc["dl", "auc"])


def test_raising_the_threshold_trades_sensitivity_for_specificity() -> None:
    sweep = teaching.threshold_sweep(_masses(), [10.0, 40.0, 70.0])
    assert sweep["sensitivity"].is_monotonic_decreasing and sweep["specificity"].is_monotonic_increasing
    assert sweep["auc"].nunique() == 1


def test_threshold_outside_the_score_range_is_refused() -> None:
    with pytest.raises(MammoError, match="threshold must lie in 0-100"):
        teaching.operating_point(_masses(), 140.0)


def test_slider_is_a_widget_interactively_and_a_stored_html_slider_in_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    import ipywidgets

    masses = _masses()
    monkeypatch.delenv(BATCH_ENV, raising=False)
    widget = teaching.threshold_slider(masses, 30.0)
    assert isinstance(widget, ipywidgets.interactive)
    assert widget.children[0].value == 30.0
    monkeypatch.setenv(BATCH_ENV, "1")
    stored = []
    monkeypatch.setattr(teaching, "_display_html", stored.append)
    assert teaching.threshold_slider(masses, 30.0) is None
    (page,) = stored
    values = sorted({30.0, *teaching.STATIC_THRESHOLDS})
    assert f"type='range' min='0' max='{len(values) - 1}' step='1' value='{values.index(30.0)}'" in page
    assert page.count("data:image/png;base64,") == len(values)  # every threshold drawn when the notebook ran
    assert "DL row of Table 4 at score &gt;= 30" in page and "http" not in page  # nothing fetched when opened
    assert page.count("style='display:block'") == 1  # the default view shows where scripts do not run


def test_a_stored_control_refuses_views_that_do_not_match_its_options() -> None:
    with pytest.raises(MammoError, match="2 options for 1 views"):
        teaching.static_control("x", "pick", ["a", "b"], ["<p>a</p>"], 0)
    with pytest.raises(MammoError, match="value 3"):
        teaching.static_control("x", "pick", ["a"], ["<p>a</p>"], 3)
    picker = teaching.static_control("case browser", "study", ["study 1", "study 2"], ["<p>1</p>", "<p>2</p>"], 0,
                                     kind="picker")
    assert "<select id='mammo-case-browser-in'><option value='0' selected>study 1</option>" in picker


def test_case_browser_shows_pseudonyms_for_a_users_cohort(monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture) -> None:
    import ipywidgets
    import matplotlib.pyplot as plt

    shown = []

    def view(*args: object, label: str = "", **kwargs: object) -> tuple[object, pd.DataFrame]:
        shown.append(label)  # what the titles would say
        return plt.figure(), pd.DataFrame({"mass": [1]})

    monkeypatch.setattr(teaching, "case_view", view)
    monkeypatch.setenv(BATCH_ENV, "1")
    stored = []
    monkeypatch.setattr(teaching, "_display_html", stored.append)
    teaching.case_browser(None, None, _masses(), ["ACC9001", "ACC9002"], 0.5, pseudonyms=True)
    teaching.case_browser(None, None, _masses(), ["P0001-S1"], 0.5)
    assert shown == ["study 1", "study 2", "P0001-S1"]  # every offered study pre-rendered, under its pseudonym
    assert "ACC9001" not in stored[0] and "study 2</option>" in stored[0]
    monkeypatch.delenv(BATCH_ENV)
    widget = teaching.case_browser(None, None, _masses(), ["ACC9001", "ACC9002"], 0.5, pseudonyms=True)
    assert isinstance(widget, ipywidgets.interactive)
    picker = widget.children[0]
    assert picker.label == "study 1" and picker.value == 0 and "ACC" not in repr(widget) + capsys.readouterr().out
    picker.value = 1
    assert shown[-1] == "study 2"


def test_reader_calls_name_an_unknown_study() -> None:
    with pytest.raises(MammoError, match="study_id 'nope'"):
        teaching.reader_calls(_masses(), "nope")


def test_density_masking_renders_the_same_mass_in_denser_v2_breasts() -> None:
    demo = teaching.density_masking(seed=5)
    best = demo.table[demo.table["view"] == "best of CC, MLO"].set_index("breast_density")
    assert list(best.index) == list(vocab.BREAST_DENSITY)
    assert best["dense_area_fraction"].is_monotonic_increasing
    # the twin's phantom (v2) at its 0.2 mm pitch: the stored images are 18 x 24 cm or larger fields at 0.2 mm
    assert min(demo.images[("a", "CC")].shape) * 0.2 >= 180 - 1
    # the observer's chance follows the pixels' detectability alone (one curve for every density)
    by_snr = demo.table.sort_values("snr")
    assert by_snr["junior_a_p_detect"].is_monotonic_increasing and by_snr["junior_b_p_detect"].is_monotonic_increasing
    assert set(demo.images) == {(d, v) for d in vocab.BREAST_DENSITY for v in vocab.VIEW}
    # the same breast every time: the breast outline does not change with density
    outlines = {d: demo.images[(d, "CC")] > 0 for d in vocab.BREAST_DENSITY}
    assert all((outlines[d] == outlines["a"]).mean() > 0.99 for d in vocab.BREAST_DENSITY)



def test_density_masking_made_in_a_spawned_worker_equals_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Notebook 11's numbers are compared across machines: on an AVX-512 CPU the demonstration's images are made in a
    worker with those numpy kernels off (as the twin's are); forced here, that path gives what the default gives."""
    from mammo_lib.synth import generate

    default = teaching.density_masking(seed=5)
    above = generate.numpy_dispatch_above_avx2() or ["X86_V4"]
    monkeypatch.setattr(generate, "numpy_dispatch_above_avx2", lambda: above)
    spawned = teaching.density_masking(seed=5)
    pd.testing.assert_frame_equal(spawned.table, default.table)
    assert all(np.array_equal(spawned.images[k], default.images[k]) for k in default.images)

def test_one_malignant_mass_gives_operating_points_without_an_auc_and_says_why(monkeypatch: pytest.MonkeyPatch,
                                                                              capsys: pytest.CaptureFixture) -> None:
    """Notebook 11's threshold cells on a thin cohort (8 CBIS-DDSM exams, one of them malignant): the calls are
    counted, the AUC (DeLong) is not computed and its reason is given, and nothing raises."""
    masses = _masses(8, seed=3).assign(pathology=["positive"] + ["negative"] * 7)
    t4 = tables.table4(masses).set_index("rater")
    assert t4["auc"].isna().all() and t4["z"].isna().all()
    assert set(t4["note"]) == {"AUC, its DeLong CI and test not computed: 1 malignant and 7 benign mass(es), fewer "
                               "than 2 of a class"}
    sweep = teaching.threshold_sweep(masses, [0.0, 50.0])
    called = masses["dl_score"].to_numpy()[1:] >= 50.0  # the benign masses called positive at 50
    assert sweep["sensitivity"].tolist() == [1.0, float(masses["dl_score"].iloc[0] >= 50.0)]
    assert sweep["specificity"].tolist() == [0.0, pytest.approx((~called).mean())]
    assert sweep["auc"].isna().all()
    monkeypatch.setenv(BATCH_ENV, "1")
    stored = []
    monkeypatch.setattr(teaching, "_display_html", stored.append)
    teaching.threshold_slider(masses, 30.0)
    assert "DL row of Table 4 at score &gt;= 30" in stored[0]


def test_the_case_browser_offers_studies_with_masses_four_view_ones_first() -> None:
    """A thin cohort whose only evaluated study with masses lacks a view still has a study to browse."""
    from types import SimpleNamespace

    rows = [(s, lat, view) for s, views in (("S1", vocab.STANDARD_VIEWS), ("S2", vocab.STANDARD_VIEWS[:2]),
                                            ("S3", vocab.STANDARD_VIEWS)) for lat, view in views]
    cohort = SimpleNamespace(images=pd.DataFrame(rows, columns=["study_id", "laterality", "view"]))
    masses = pd.DataFrame({"study_id": ["S2", "S3", "S3"]})
    assert teaching.browse_studies(cohort, masses, 12) == ["S3", "S2"]
    assert teaching.browse_studies(cohort, masses, 1) == ["S3"]
    assert teaching.browse_studies(cohort, masses.iloc[:1], 12) == ["S2"]
