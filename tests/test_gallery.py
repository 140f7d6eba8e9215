"""The four-view exam gallery: view order, manifest ids in place of file names, mass boxes drawn."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from _mg_fixtures import make_mg, ramp
from mammo_lib.checksums import sha256_file
from mammo_lib.paper.figures import plot_exam
from mammo_lib.paper.gallery import exam_views, four_view_studies
from mammo_lib.data.manifest import load_manifest


def _exam(root: Path) -> Path:
    images = []
    for study, views in (("S1", ("RCC", "LCC", "RMLO", "LMLO")), ("S2", ("RCC", "RMLO"))):
        for key in views:
            side, view = key[0], key[1:]
            path = make_mg(root / f"{study}_{key}.dcm", ramp(12, shape=(64, 48)), bits_stored=12,
                           ImageLaterality=side, ViewPosition=view)
            images.append(dict(image_id=f"{study}_{key}", patient_id=f"P{study}", study_id=study, age=50,
                               breast_density="c", laterality=side, view=view, image_path=path.name,
                               vendor="Hologic", sha256=sha256_file(path), split="test"))
    pd.DataFrame(images).to_csv(root / "data_manifest.csv", index=False)
    pd.DataFrame([dict(mass_id="M1", image_id="S1_RCC", x0=4, y0=6, x1=20, y1=30, mask_path="", morphology="oval",
                       margin="obscured", mass_density="equal", size_mm=9, birads="3", pathology="negative",
                       histology="fibroadenoma", reference_standard="histopathology")]
                 ).to_csv(root / "data_findings.csv", index=False)
    return root / "data_manifest.csv"


def test_only_complete_four_view_studies_are_offered(tmp_path: Path) -> None:
    assert four_view_studies(load_manifest(_exam(tmp_path))) == ["S1"]


def test_exam_views_are_read_in_standard_order_and_named_by_manifest_id(tmp_path: Path) -> None:
    views = exam_views(load_manifest(_exam(tmp_path)), "S1")
    assert list(views) == [("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")]
    assert views[("L", "MLO")].source == "S1_LMLO" and views[("L", "MLO")].pixels.shape == (64, 48)


def test_plot_exam_draws_the_mass_box_on_its_view(tmp_path: Path) -> None:
    from matplotlib.patches import Rectangle

    fig = plot_exam(load_manifest(_exam(tmp_path)), "S1")
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["RCC", "LCC", "RMLO", "LMLO"]
    boxes = [[p for p in ax.patches if isinstance(p, Rectangle)] for ax in axes]
    assert [len(b) for b in boxes] == [1, 0, 0, 0]
    assert (boxes[0][0].get_x(), boxes[0][0].get_y(), boxes[0][0].get_width()) == (4, 6, 16)


def test_image_summary_reads_every_image_with_its_statistics(tmp_path: Path) -> None:
    from mammo_lib.paper.gallery import image_summary

    summary = image_summary(load_manifest(_exam(tmp_path)))
    assert summary["image_id"].tolist() == ["S1_LCC", "S1_LMLO", "S1_RCC", "S1_RMLO", "S2_RCC", "S2_RMLO"]
    first = summary.iloc[0]
    assert (first["rows"], first["columns"], first["bits"], first["min"], first["max"]) == (64, 48, 12, 0.0, 1.0)
    assert first["mean"] == round(float(ramp(12, shape=(64, 48)).mean() / 4095), 3)
