"""Beyond the paper: the reader-study statistics of :mod:`mammo_lib.evaluation.mrmc` applied to the mass table.

:func:`reader_study_table` turns the mass table (as :mod:`mammo_lib.paper.tables` reads it) into mrmc's long table;
:func:`ai_vs_juniors` compares the DL system with the junior readers as a group (notebooks 06 and 07) and
:func:`obuchowski_auc` puts Obuchowski's clustered AUC CIs beside DeLong's (notebook 07);
:func:`compare_reader_modes` sets Table 3 of the twin's calibrated and pure-observer juniors beside the paper (notebook 06). Bad input raises
:class:`~mammo_lib.errors.MammoError` naming the column or argument.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from mammo_lib import published, validation, vocab
from mammo_lib.evaluation import mrmc
from mammo_lib.paper import tables
from mammo_lib.errors import MammoError
from mammo_lib.synth import reader_calibration, readers
from mammo_lib.synth.store import CohortFiles


def reader_study_table(masses: pd.DataFrame, raters: Sequence[str], task: str = "classification") -> pd.DataFrame:
    """The mass table as :mod:`mammo_lib.evaluation.mrmc`'s long table: one row per (rater, mass), cluster = patient.

    ``classification``: truth = malignant, rating = BI-RADS rank (readers) or 0-100 score (DL). ``detection``:
    every mass is a lesion (truth 1), rating = detected (1) or missed (0), whose figure of merit is sensitivity.
    """
    if task not in ("classification", "detection"):
        raise MammoError(f"task must be 'classification' or 'detection', got {task!r}")
    validation.require_columns(masses, ["mass_id", "patient_id"])
    frames = []
    for r in raters:
        if task == "classification":
            truth, (rating, _) = tables.malignant(masses).astype(int), tables.reader_ratings(masses, r)
        else:
            validation.require_columns(masses, [f"{r}_detected"])
            truth, rating = np.ones(len(masses), int), validation.flags(masses, f"{r}_detected").to_numpy(int)
        frames.append(pd.DataFrame({"modality": task, "reader": r, "case": masses["mass_id"].to_numpy(),
                                    "truth": truth, "rating": rating, "cluster": masses["patient_id"].to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def has_junior_readings(masses: pd.DataFrame, task: str) -> bool:
    """Whether every junior reader has a reading of every mass for ``task`` ("detection": ``*_detected``,
    "classification": ``*_birads``), as :func:`ai_vs_juniors` needs (a cohort may have no or partial readings)."""
    suffix = {"detection": "_detected", "classification": "_birads"}.get(task)
    if suffix is None:
        raise MammoError(f"task must be 'detection' or 'classification', got {task!r}")
    columns = [f"{r}{suffix}" for r in vocab.DETECTION_READERS]
    return all(c in masses.columns and masses[c].notna().all() for c in columns)


def ai_vs_juniors(masses: pd.DataFrame, tasks: Sequence[str] | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """The DL system against the junior readers as a group (readers minus DL), by RJafroc's
    1T-RRRC (readers and masses random; masses independent, or clustered by patient) and 1T-RRFC (masses fixed),
    on the classification AUC and, where the DL detections exist, on detection sensitivity."""
    juniors = tuple(vocab.DETECTION_READERS)
    wanted = ("classification", "detection") if tasks is None else tuple(tasks)
    unknown = sorted(set(wanted) - {"classification", "detection"})
    if unknown:
        raise MammoError(f"tasks must be among ['classification', 'detection'], got {unknown}")
    column = {"classification": "dl_score", "detection": "dl_detected"}
    todo = [t for t in wanted if column[t] in masses.columns]
    if not todo:
        raise MammoError(f"mass table has no DL column for {list(wanted)} ({[column[t] for t in wanted]}): run "
                         "notebooks 04/05 first")
    rows = []
    for task in todo:
        fom = "auc" if task == "classification" else "sensitivity"
        data = reader_study_table(masses, (*juniors, tables.DL), task)
        for method, covariance in (("1T-RRRC", "jackknife"), ("1T-RRRC", "clustered"), ("1T-RRFC", "jackknife")):
            res = mrmc.ai_vs_readers(data, ai=tables.DL, method=method, covariance=covariance, fom=fom, alpha=alpha)
            rows.append({"task": task, "fom": fom, "method": method,
                         "covariance": "none" if method == "1T-RRFC" else covariance, "readers": len(res.readers),
                         "dl": res.ai_fom, "readers_mean": res.reader_mean, "difference": res.difference,
                         "lower": res.ci[0], "upper": res.ci[1], "t": res.statistic, "df": res.df,
                         "t_critical": float(sps.t.ppf(1 - alpha / 2, res.df)), "p": res.p_value})
    return pd.DataFrame(rows)


def obuchowski_auc(masses: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Each rater's AUC with DeLong's CI (masses independent) beside Obuchowski's (1997)
    clustered CI (masses of one patient correlated; :func:`mammo_lib.evaluation.mrmc.clustered_auc_ci`), both
    normal intervals, and the ratio of their widths."""
    validation.require_columns(masses, ["patient_id"])
    truth = tables.malignant(masses)
    rows = []
    for r in tables.rated_by(masses):
        score, _ = tables.reader_ratings(masses, r)
        res = mrmc.clustered_auc_ci(truth, score, masses["patient_id"].to_numpy(), alpha)
        rows.append({"rater": r, "auc": res.auc, "delong_lower": res.delong_ci[0], "delong_upper": res.delong_ci[1],
                     "clustered_lower": res.ci[0], "clustered_upper": res.ci[1],
                     "width_ratio": res.se / res.delong_se if res.delong_se > 0 else float("nan"),
                     "patients": res.n_clusters})
    if not rows:
        raise MammoError("mass table has no rating column")
    return pd.DataFrame(rows)


def reader_mass_table(findings: pd.DataFrame, manifest: pd.DataFrame) -> pd.DataFrame:
    """One row per mass with its patient's age and breast density (what Table 3 strata need)."""
    per_image = manifest.drop_duplicates("image_id").set_index("image_id")[["age", "breast_density"]]
    masses = findings.drop_duplicates("mass_id").reset_index(drop=True)
    return masses.join(per_image, on="image_id")


def compare_reader_modes(files: CohortFiles, snr_table: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table 3 of the twin's juniors in both reader modes beside the paper: (strata, tests).

    strata: factor, stratum, reader, masses, detected in "calibrated" and "observer" mode and in the paper
    (the reader's Table 3 column). tests: factor, reader, chi-square P in each mode and the printed P.
    """
    manifest = pd.read_csv(files.manifest)
    modes = {m: reader_mass_table(readers.read_cohort(files, snr_table=snr_table, mode=m), manifest)
             for m in reader_calibration.MODES}
    t3 = {m: tables.table3(masses).set_index(["factor", "stratum", "detector"]) for m, masses in modes.items()}
    tests = {m: tables.table3_tests(masses).set_index(["factor", "detector"]) for m, masses in modes.items()}
    rows, trows = [], []
    for reader in vocab.DETECTION_READERS:
        targets = reader_calibration.detection_targets(reader)
        for (factor, stratum), published_count in targets.items():
            key = (factor, stratum, reader)
            rows.append({"factor": factor, "stratum": stratum, "reader": reader,
                         "masses": int(t3["calibrated"].loc[key, "reference"]),
                         **{m: int(t3[m].loc[key, "detected"]) for m in reader_calibration.MODES}, "paper": published_count})
        for factor in reader_calibration.FACTORS:
            trows.append({"factor": factor, "reader": reader,
                          **{f"p_{m}": float(tests[m].loc[(factor, reader), "p"]) for m in reader_calibration.MODES},
                          "p_paper": published.TABLE3_TESTS[factor][reader_calibration.table3_column(reader)][1]})
    return pd.DataFrame(rows), pd.DataFrame(trows)
