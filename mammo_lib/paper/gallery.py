"""A four-view exam gallery: the study's RCC, LCC, RMLO, LMLO read through the data layer (drawn, masses boxed, by
:func:`mammo_lib.paper.figures.plot_exam`).

Images are shown as stored (not flipped) with the standard view order of :data:`mammo_lib.vocab.STANDARD_VIEWS`.
Titles carry only the manifest's pseudonymous ids and the view, never a DICOM header field.
"""
from __future__ import annotations

from typing import TYPE_CHECKING


from mammo_lib.errors import MammoError
from mammo_lib.data.manifest import Manifest
from mammo_lib.vocab import STANDARD_VIEWS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

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
