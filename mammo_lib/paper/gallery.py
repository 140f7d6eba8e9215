"""A four-view exam gallery: the study's RCC, LCC, RMLO, LMLO read through the data layer, masses boxed.

Images are shown as stored (not flipped) with the standard view order of :data:`mammo_lib.vocab.STANDARD_VIEWS`.
Titles carry only the manifest's pseudonymous ids and the view, never a DICOM header field.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mammo_lib.errors import MammoError
from mammo_lib.data.manifest import Manifest
from mammo_lib.vocab import STANDARD_VIEWS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from matplotlib.figure import Figure

    from mammo_lib.data.dicomio import MammoImage


def four_view_studies(manifest: Manifest) -> list[str]:
    """Studies that have all four standard views, sorted by id."""
    images = manifest.images
    keys = images["laterality"].astype(str) + images["view"].astype(str)
    views = keys.groupby(images["study_id"]).agg(set)
    wanted = {side + view for side, view in STANDARD_VIEWS}
    return sorted(study for study, present in views.items() if wanted <= present)


def exam_views(manifest: Manifest, study_id: str) -> dict[tuple[str, str], MammoImage]:
    """The first image of each standard view of one study, read with the manifest's laterality and view."""
    from mammo_lib.data.dicomio import read_image

    rows = manifest.images[manifest.images["study_id"] == study_id].sort_values("image_id")
    if rows.empty:
        raise MammoError(f"study_id {study_id!r} is not in the manifest")
    views = {}
    for side, view in STANDARD_VIEWS:
        match = rows[(rows["laterality"] == side) & (rows["view"] == view)]
        if not match.empty:
            image_id = match["image_id"].iloc[0]
            views[(side, view)] = read_image(manifest.image_path(image_id), laterality=side, view=view)
            views[(side, view)].source = image_id  # the manifest's id, not the file name
    return views


def image_summary(manifest: Manifest) -> "pd.DataFrame":
    """Every image read through :func:`mammo_lib.data.dicomio.read_image`: view, size, bit depth, pixel statistics.

    A quick check that a cohort decodes as expected (values rounded to 3 decimals for stable output).
    """
    import pandas as pd

    from mammo_lib.data.dicomio import read_image

    rows = []
    for record in manifest.images.sort_values("image_id").itertuples():
        image = read_image(manifest.image_path(record.image_id), laterality=str(record.laterality), view=str(record.view))
        rows.append({"image_id": record.image_id, "laterality": image.laterality, "view": image.view,
                     "rows": image.pixels.shape[0], "columns": image.pixels.shape[1], "bits": image.bits_stored,
                     "photometric": image.photometric, "min": round(float(image.pixels.min()), 3),
                     "mean": round(float(image.pixels.mean()), 3), "max": round(float(image.pixels.max()), 3)})
    return pd.DataFrame(rows)


def plot_exam(manifest: Manifest, study_id: str, *, display_rows: int = 640) -> Figure:
    """One row of the four standard views of a study, every mass box of the findings table drawn in red."""
    import matplotlib.pyplot as plt  # the backend is left alone: inline in Jupyter, Agg headless
    from matplotlib.patches import Rectangle

    views = exam_views(manifest, study_id)
    findings = manifest.findings
    fig, axes = plt.subplots(1, len(STANDARD_VIEWS), figsize=(12, 4.6), constrained_layout=True)
    for ax, (side, view) in zip(axes, STANDARD_VIEWS):
        ax.set_axis_off()
        ax.set_title(f"{side}{view}", fontsize=11)
        if (side, view) not in views:
            ax.text(0.5, 0.5, "no image", ha="center", va="center", transform=ax.transAxes)
            continue
        image = views[(side, view)]
        step = max(1, int(np.ceil(image.pixels.shape[0] / display_rows)))  # display only; boxes are rescaled
        ax.imshow(image.pixels[::step, ::step], cmap="gray", vmin=0.0, vmax=1.0, interpolation="lanczos")
        if findings is not None:
            for box in findings[findings["image_id"] == image.source].itertuples():
                if any(np.isnan(float(v)) for v in (box.x0, box.y0, box.x1, box.y1)):
                    continue
                ax.add_patch(Rectangle((box.x0 / step, box.y0 / step), (box.x1 - box.x0) / step,
                                       (box.y1 - box.y0) / step, fill=False, edgecolor="red", linewidth=1.2))
                ax.text(box.x0 / step, box.y0 / step - 4, f"{box.mass_id} BI-RADS {box.birads}", color="red",
                        fontsize=7, va="bottom")
    boxed = ", masses of the findings table boxed" if findings is not None else ""
    fig.suptitle(f"study {study_id}: the four standard views as stored{boxed}", fontsize=11)
    return fig
