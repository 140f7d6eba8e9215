"""The synthetic twin cohort, the training cohort and the simulated readers (issue #4).

``ensure_cohort("twin")`` makes the committed twin's images appear (bit for bit) under ``data/twin``;
``load_view_truth(root, image_id)`` gives a view's nipple, pectoral line, breast and mass masks. Modules:
config (every parameter and its source), composition (who is in the cohort), anatomy, texture, masses,
render (physics of a view), acquisition (vendors + the DICOM MG writer), cohort (rendering patients),
store (on-disk cohorts), readers (model observers), realism (checks and figures of notebook 02),
cli (``mammo synth``).
"""
from __future__ import annotations

from mammo_lib.synth.store import CohortFiles, ViewTruth, cohort_files, ensure_cohort, load_view_truth

__all__ = ["CohortFiles", "ViewTruth", "cohort_files", "ensure_cohort", "load_view_truth"]
