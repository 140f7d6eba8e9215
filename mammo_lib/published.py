"""The paper's published numbers, held as data with the table (and row) each comes from.

Source: Li L, Lin X, Liao T, et al. Quant Imaging Med Surg 2023;13(12):8413-8422, doi:10.21037/qims-23-642
(CC BY-NC-ND 4.0; quoted, never edited). Values are transcribed as printed; percentages are kept as printed
so that the audit (:mod:`mammo_lib.paper.audit`) can recompute them. Keys use :mod:`mammo_lib.vocab` codes where
the paper's rows map onto them one to one; where the paper's labels are ambiguous the printed label is kept
and the ambiguity is documented here and audited.
"""
from __future__ import annotations

from typing import Final

#: "Results: Features of breast masses" and the Abstract.
COHORT: Final = {
    "patients": 324,
    "masses": 618,
    "age_mean": 46.07,
    "age_sd": 12.18,
    "age_min": 22,
    "age_max": 87,
    "histopathology_masses": 258,  # "tissue from 258 masses underwent histopathological examination"
    "follow_up_masses": 360,  # "360 masses were confirmed benign by other imaging ... or stable follow-up"
}

#: Table 1 "Features of breast masses": (cases of n=324, masses of n=618) per category, with printed percents.
#: The "Density" rows are printed with the labels a*-d* and the footnote "the letter refers to the BI-RADS
#: guideline classification of breast density: a, fat-containing; b, low density; c, equal density; d, high
#: density", i.e. they are *mass* density (their counts 9/13/428/168 equal Table 3's mass-density rows
#: fat-containing/low/equal/high), not ACR breast density; see the audit.
TABLE1: Final = {
    "morphology": {
        "round": ((17, 5.2), (27, 4.4)),
        "oval": ((214, 66.0), (405, 65.5)),
        "irregular": ((93, 28.7), (186, 30.1)),
    },
    "margin": {
        "circumscribed": ((79, 24.4), (146, 23.6)),
        "obscured": ((116, 35.8), (224, 36.2)),
        "microlobulated": ((20, 6.2), (39, 6.3)),
        "indistinct": ((52, 16.0), (97, 15.7)),
        "spiculated": ((57, 17.6), (112, 18.1)),
    },
    # printed label -> mass-density code by the footnote's mapping
    "mass_density": {
        "fat-containing": ((5, 1.5), (9, 1.5)),  # printed "a*"
        "low": ((7, 2.2), (13, 2.1)),  # printed "b*"
        "equal": ((229, 70.7), (428, 69.3)),  # printed "c*"
        "high": ((83, 25.6), (168, 27.2)),  # printed "d*"
    },
    "birads": {
        "2": ((15, 4.6), (27, 4.4)),
        "3": ((98, 30.2), (192, 31.1)),
        "4A": ((78, 24.1), (138, 22.3)),
        "4B": ((40, 12.3), (79, 12.8)),
        "4C": ((38, 11.7), (72, 11.7)),
        "5": ((55, 17.0), (110, 17.8)),
    },
}
#: Table 1's printed row labels for the mass-density rows.
TABLE1_DENSITY_PRINTED_LABELS: Final = {"fat-containing": "a*", "low": "b*", "equal": "c*", "high": "d*"}

#: Table 2 "Histopathological classification": masses (printed percent of its column total).
TABLE2: Final = {
    "negative": {
        "fibroadenoma": (72, 15.5),
        "hyperplasia": (29, 6.2),
        "duct dilation": (1, 0.2),
        "epidermoid cyst": (1, 0.2),
        "inflammatory disease": (3, 0.6),
        "stable follow-up": (360, 77.3),
    },
    "positive": {
        "invasive ductal carcinoma": (107, 70.4),
        "invasive lobular carcinoma": (7, 4.6),
        "ductal carcinoma in situ": (8, 5.3),
        "mucinous carcinoma": (6, 3.9),
        "phyllodes tumor": (7, 4.6),
        "intraductal papillary carcinoma": (1, 0.7),
        "intraductal papilloma": (16, 10.5),
    },
}
TABLE2_TOTALS: Final = {"negative": 466, "positive": 152}
#: Text: "fibroadenoma (67.9%, 72/106, except for 'stable follow-up') and invasive ductal carcinoma (70.4%; 107/152)".
TABLE2_TEXT: Final = {"fibroadenoma": (72, 106, 67.9), "invasive ductal carcinoma": (107, 152, 70.4)}

#: Table 3 "Sensitivity of mass detection ... stratified by various factors": detected masses per stratum.
#: Columns: reference (all masses of the stratum), junior_a, junior_b, dl.
TABLE3: Final = {
    "breast_density": {
        "a": (14, 14, 14, 10),
        "b": (47, 42, 41, 42),
        "c": (460, 390, 358, 398),
        "d": (97, 73, 69, 83),
    },
    "age_group": {
        "<40": (167, 131, 124, 130),
        "40-60": (348, 293, 267, 307),
        ">60": (103, 95, 91, 96),
    },
    "morphology": {
        "round": (27, 20, 20, 19),
        "oval": (405, 332, 311, 329),
        "irregular": (186, 167, 151, 185),
    },
    "margin": {
        "circumscribed": (146, 130, 124, 126),
        "obscured": (224, 167, 159, 165),
        "microlobulated": (39, 37, 36, 39),
        "indistinct": (97, 84, 68, 91),
        "spiculated": (112, 101, 95, 112),
    },
    "mass_density": {
        "high": (168, 161, 154, 167),
        "equal": (428, 340, 313, 355),
        "low": (13, 10, 10, 6),
        "fat-containing": (9, 8, 5, 5),
    },
    "birads": {
        "2": (27, 22, 17, 21),
        "3": (192, 152, 146, 145),
        "4A": (138, 109, 106, 112),
        "4B": (79, 73, 65, 74),
        "4C": (72, 59, 59, 71),
        "5": (110, 104, 89, 110),
    },
}
TABLE3_COLUMNS: Final = ("reference", "junior_a", "junior_b", "dl")
#: Methods, "Statistical analysis" (and the Abstract): the factors whose effect on detection was tested, "breast
#: density; patient age; the morphology, margin, size, and BI-RADS category of the masses", as Table 3's keys.
METHODS_DETECTION_FACTORS: Final = ("breast_density", "age_group", "morphology", "margin", "size", "birads")
#: Table 3's chi-square and P per factor and reader, as printed (P "<0.0001" kept as a string).
TABLE3_TESTS: Final = {
    "breast_density": {"junior_a": (8.982, "0.030"), "junior_b": (8.955, "0.030"), "dl": (3.043, "0.385")},
    "age_group": {"junior_a": (9.032, "0.011"), "junior_b": (8.125, "0.017"), "dl": (15.282, "<0.0001")},
    "morphology": {"junior_a": (7.838, "0.020"), "junior_b": (1.686, "0.430"), "dl": (41.700, "<0.0001")},
    "margin": {"junior_a": (24.707, "<0.0001"), "junior_b": (21.727, "<0.0001"), "dl": (58.674, "<0.0001")},
    "mass_density": {"junior_a": (24.747, "<0.0001"), "junior_b": (26.844, "<0.0001"), "dl": (53.219, "<0.0001")},
    "birads": {"junior_a": (24.710, "<0.0001"), "junior_b": (6.137, "0.293"), "dl": (53.754, "<0.0001")},
}
#: Text, "Sensitivity of mass detection": overall and c/d-stratum sensitivities as (detected, total, percent).
DETECTION_TEXT: Final = {
    "overall": {"junior_a": (482, 618, 78.0), "junior_b": (519, 618, 84.0), "dl": (533, 618, 86.2)},
    "c": {"junior_a": (390, 460, 84.8), "junior_b": (358, 460, 77.8), "dl": (398, 460, 86.5)},
    "d": {"junior_a": (73, 97, 75.3), "junior_b": (69, 97, 71.1), "dl": (83, 97, 85.6)},
}

#: Table 4 "Classification performance": per reader. negative/positive are the correctly classified
#: negatives (of 466) and positives (of 152) (their ratios give the printed specificity and sensitivity).
TABLE4: Final = {
    "junior_a": {"negative": 411, "positive": 114, "accuracy": 85.0, "sensitivity": 75.0, "specificity": 88.2,
                 "auc": 0.612, "ci": (0.542, 0.683), "z": 2.308, "p": "0.021"},
    "junior_b": {"negative": 407, "positive": 121, "accuracy": 85.4, "sensitivity": 79.6, "specificity": 87.3,
                 "auc": 0.620, "ci": (0.549, 0.690), "z": 2.336, "p": "0.019"},
    "senior": {"negative": 423, "positive": 137, "accuracy": 90.6, "sensitivity": 90.1, "specificity": 90.8,
               "auc": 0.748, "ci": (0.683, 0.812), "z": 1.803, "p": "0.071"},
    "dl": {"negative": 420, "positive": 126, "accuracy": 88.3, "sensitivity": 82.9, "specificity": 90.1,
           "auc": 0.697, "ci": (0.630, 0.765), "z": None, "p": None},
}
TABLE4_REFERENCE: Final = {"negative": 466, "positive": 152}
#: Readers and DL as named in the paper's tables.
DISPLAY_NAMES: Final = {"reference": "Reference", "junior_a": "Junior radiologist A",
                        "junior_b": "Junior radiologist B", "senior": "Senior radiologist", "dl": "DL system"}
