"""The synthetic twin cohort, the training cohort and the simulated readers (issue #4).

``ensure_cohort("twin")`` makes the committed twin's images appear (bit for bit) under ``data/twin``;
``load_view_truth(root, image_id)`` gives a view's nipple, pectoral line, breast and mass masks. Modules:
config (every parameter and its source), composition (who is in the cohort), anatomy, masses; the twin's
phantom v2: phantom (the layered compressed breast after VICTRE), tissue (glandular cells, lobules, Cooper's
ligaments), xray (projection, acquisition and each vendor's processing); the first round's phantom v1, kept for
comparison and small test cohorts: texture, render; acquisition (vendors + the DICOM MG writer), cohort
(rendering patients), store (on-disk cohorts), readers (model observers), realism and likeness (checks and
figures of notebook 02), cli (``mammo synth``).
"""
from __future__ import annotations

from mammo_lib.synth.store import CohortFiles, ViewTruth, cohort_files, ensure_cohort, load_view_truth

__all__ = ["CohortFiles", "ViewTruth", "cohort_files", "ensure_cohort", "load_view_truth"]
