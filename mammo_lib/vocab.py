"""One definition per fact: the study's vocabularies and the manifest's column names.

Every other module imports these names; nothing else spells out a density code, a margin or a
BI-RADS category. Categories follow ACR BI-RADS 5th edition (2013), as the paper did (Li et al. 2023,
"Imaging interpretation"); the order of each tuple is the order of the paper's tables.
"""
from __future__ import annotations

from typing import Any, Final

#: ACR breast composition (breast density), paper Table 3 rows a-d.
BREAST_DENSITY: Final = ("a", "b", "c", "d")
#: Dense breasts (ACR c and d), the strata the paper's conclusion is about.
DENSE_BREAST: Final = ("c", "d")
LATERALITY: Final = ("L", "R")
VIEW: Final = ("CC", "MLO")
#: The four standard views, in the order used everywhere (exam tensors, galleries).
STANDARD_VIEWS: Final = (("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))
VENDOR: Final = ("Siemens", "GE", "Hologic", "other")
SPLIT: Final = ("train", "val", "test")

MORPHOLOGY: Final = ("round", "oval", "irregular")
MARGIN: Final = ("circumscribed", "obscured", "microlobulated", "indistinct", "spiculated")
#: Mass density relative to fibroglandular tissue (BI-RADS), paper Table 3 "Density" rows.
MASS_DENSITY: Final = ("high", "equal", "low", "fat-containing")
#: BI-RADS assessment categories that occur in the study (Table 1/3); 1 is allowed for readers.
BIRADS: Final = ("1", "2", "3", "4A", "4B", "4C", "5")
#: BI-RADS categories a mass can be given (1, "negative", means no finding, so no mass has it).
MASS_BIRADS: Final = BIRADS[1:]
#: Paper, "Imaging interpretation": 4A-5 require biopsy and are positive; 1-3 negative.
BIRADS_POSITIVE: Final = ("4A", "4B", "4C", "5")
#: Ordinal rank of each BI-RADS category, used as a rating for ROC analysis of readers (Figure 3).
BIRADS_RANK: Final = {c: i for i, c in enumerate(BIRADS)}
#: Age strata of Table 3 (years): <40, 40-60, >60.
AGE_GROUPS: Final = ("<40", "40-60", ">60")

PATHOLOGY: Final = ("negative", "positive")
#: Histology by reference outcome, paper Table 2.
HISTOLOGY_NEGATIVE: Final = (
    "fibroadenoma", "hyperplasia", "duct dilation", "epidermoid cyst", "inflammatory disease",
    "stable follow-up",
)
HISTOLOGY_POSITIVE: Final = (
    "invasive ductal carcinoma", "invasive lobular carcinoma", "ductal carcinoma in situ",
    "mucinous carcinoma", "phyllodes tumor", "intraductal papillary carcinoma", "intraductal papilloma",
)
HISTOLOGY: Final = HISTOLOGY_NEGATIVE + HISTOLOGY_POSITIVE
REFERENCE_STANDARD: Final = ("histopathology", "follow-up")

#: Readers of the study: two juniors (detection + classification), the senior consensus (classification).
READERS: Final = ("junior_a", "junior_b", "senior")
#: Readers who took part in the detection study (Table 3); the senior radiologist A was the reference.
DETECTION_READERS: Final = ("junior_a", "junior_b")

# --- manifest schema (data layer) -------------------------------------------------------------
#: `data_manifest.csv`: one row per image.
MANIFEST_COLUMNS: Final = (
    "image_id", "patient_id", "study_id", "age", "breast_density", "laterality", "view",
    "image_path", "vendor", "sha256", "split",
)
#: Companion findings table (`data_findings.csv`): one row per mass per view. `mass_id` is shared by
#: the views of one mass; the box is in the image's own pixels, x1/y1 exclusive.
FINDINGS_COLUMNS: Final = (
    "mass_id", "image_id", "x0", "y0", "x1", "y1", "mask_path", "morphology", "margin",
    "mass_density", "size_mm", "birads", "pathology", "histology", "reference_standard",
)
#: A mass box in its image's own pixels, x1/y1 exclusive (findings, candidates, records).
BOX_COLUMNS: Final = ("x0", "y0", "x1", "y1")
#: Hand-off files between notebooks (in tables/): 04 writes the detector's per-mass results, 05 the classifier's
#: scores; 06 and 07 read them (declared in :data:`mammo_lib.run.pipeline.NOTEBOOK_INPUTS`). 04's candidates table (every
#: candidate of every branch, boxes in the images' own pixels) feeds 05's system mode.
DL_DETECTION_FILE: Final = "dl_detection_per_mass.csv"
DL_CANDIDATES_FILE: Final = "dl_detection_candidates.csv"
#: Decimals of a candidate's box (pixels) and detection score in 04's candidates table and the system's reports:
#: what every reader of the candidates scores (04 itself, 05's system mode, 11, 12, ``mammo analyze``).
DL_CANDIDATE_DECIMALS: Final = {"box": 1, "score": 4}
DL_SCORES_FILE: Final = "dl_scores_per_mass.csv"
#: The DL system end to end per reference mass (notebook 05's system mode; a missed mass scores 0): Table 4's DL row.
DL_SYSTEM_SCORES_FILE: Final = "dl_system_scores_per_mass.csv"
DL_SYSTEM_SCORES_COLUMNS: Final = ("mass_id", "found", "dl_score", "dl_positive", "threshold")
DL_DETECTION_COLUMNS: Final = ("mass_id", "dl_detected", "dl_max_score")
DL_SCORES_COLUMNS: Final = ("mass_id", "dl_score", "dl_positive", "threshold")
#: Optional reader columns of the findings table; one value per mass, equal on all its view rows.
READER_COLUMNS: Final = (
    "junior_a_detected", "junior_a_birads", "junior_b_detected", "junior_b_birads", "senior_birads",
)

#: Table 1's mass features and their categories (the paper's order).
TABLE1_FEATURES: Final[dict[str, tuple[str, ...]]] = {
    "morphology": MORPHOLOGY, "margin": MARGIN, "mass_density": MASS_DENSITY, "birads": MASS_BIRADS,
}
#: Table 3's factors, in the paper's order, and their strata. ``age_group`` is derived from ``age`` (:func:`age_group`).
TABLE3_FACTORS: Final[dict[str, tuple[str, ...]]] = {
    "breast_density": BREAST_DENSITY, "age_group": AGE_GROUPS, **TABLE1_FEATURES,
}


def age_group(age: Any) -> Any:
    """Table 3's age strata of a pandas Series of ages: <40, 40-60 (both ends included), >60 years; a missing or
    non-numeric age is an error."""
    import numpy as np
    import pandas as pd

    from mammo_lib.errors import MammoError

    num = pd.to_numeric(age, errors="coerce")
    bad = num.isna()
    if bad.any():
        raise MammoError(f"mass table column 'age' has {int(bad.sum())} missing or non-numeric value(s), first "
                         f"{age[bad].iloc[0]!r}")
    under, over = AGE_GROUPS[0], AGE_GROUPS[2]
    return pd.Series(np.where(num < 40, under, np.where(num > 60, over, AGE_GROUPS[1])), index=age.index)
