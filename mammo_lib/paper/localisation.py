"""Notebook 12 (beyond the paper): the DL system's detection as a localisation (FROC) task, and study sizing.

:func:`dl_localisation` matches notebook 04's candidates to the findings boxes as notebook 04 scores them (one
branch, the centre-hit criterion, the views read) with each breast or each exam as the case, so that
:func:`mammo_lib.evaluation.froc.from_detections` turns them into FROC marks; :func:`figures_of_merit` tabulates
the figures of merit with their case-jackknife CIs and :func:`false_marks` what the sensitivity at an operating
point leaves out. :func:`sizing_table` and :func:`power_curve` size an Obuchowski-Rockette random-reader
random-case study from a pilot (:mod:`mammo_lib.evaluation.sizing`). :func:`dl_and_readers` puts the simulated
juniors' marks (:mod:`mammo_lib.synth.reader_marks`) beside the DL system's on the same cases,
:func:`ai_comparisons` compares them (``mrmc.ai_vs_readers``) and :func:`what_false_marks_change` says in a sentence
what counting false marks changes against the comparison by detection sensitivity.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mammo_lib import published
from mammo_lib.errors import MammoError
from mammo_lib.evaluation import detection as evaluate
from mammo_lib.evaluation import froc, mrmc, sizing
from mammo_lib.paper import tables
from mammo_lib.synth import reader_calibration
from mammo_lib.validation import require_columns

CASE_UNITS = ("breast", "exam")
#: The figures of merit notebook 12 shows (MaxNLF counts every kept candidate, not the marks at an operating point).
LOCALISATION_FOMS = ("wAFROC", "AFROC", "wAFROC1", "HrAuc", "MaxLLF")
#: A number of cases taken as unlimited (the power that the reader variability leaves).
UNLIMITED_CASES = 10 ** 9


def breast_cases(read: pd.DataFrame, images: pd.DataFrame) -> pd.DataFrame:
    """``read`` (image_id -> exam) with each exam split into its breasts: exam ``"<exam> <laterality>"``."""
    require_columns(read, ["image_id", "exam"], "read")
    require_columns(images, ["image_id", "laterality"], "images")
    side = images.drop_duplicates("image_id").set_index("image_id")["laterality"]
    missing = sorted(set(read["image_id"]) - set(side.index))
    if missing:
        raise MammoError(f"images lack the laterality of image_id(s) {missing[:5]}")
    return read.assign(exam=read["exam"].astype(str) + " " + read["image_id"].map(side).astype(str))


def dl_localisation(candidates: pd.DataFrame, truth: pd.DataFrame, read: pd.DataFrame, images: pd.DataFrame, *,
                    branch: str = "ifn", criterion: str = "centre", case: str = "breast") -> evaluate.Matched:
    """The ``branch`` candidates matched to the mass boxes of the views read (one lesion per mass, its best hit
    over its views), as notebook 04 matches them; the case (the FROC unit a false mark belongs to) is each breast
    or each exam."""
    if case not in CASE_UNITS:
        raise MammoError(f"case must be one of {list(CASE_UNITS)}, got {case!r}")
    require_columns(candidates, ["branch"], "candidates")
    chosen = candidates[candidates["branch"] == branch]
    if chosen.empty:
        raise MammoError(f"candidates have no rows of branch {branch!r} "
                         f"(branches: {sorted(set(candidates['branch']))})")
    cases = breast_cases(read, images) if case == "breast" else read
    return evaluate.match_candidates(chosen, truth, cases, criterion=criterion)


def figures_of_merit(data: froc.FrocData, foms: Sequence[str] = LOCALISATION_FOMS, alpha: float = 0.05
                     ) -> tuple[pd.DataFrame, list[str]]:
    """Each figure of merit of every modality and reader with its case-jackknife CI (rows: fom, modality, reader,
    value, se, lower, upper), and one line for each one that the data cannot give (e.g. wAFROC without normal
    cases)."""
    rows, notes = [], []
    for fom in foms:
        try:
            table = froc.figure_of_merit_ci(data, fom, alpha=alpha)
        except MammoError as exc:
            notes.append(f"{fom}: {exc}")
            continue
        rows.append(table.rename(columns={"fom": "value"}).assign(fom=fom))
    if not rows:
        raise MammoError("no figure of merit can be computed: " + "; ".join(notes))
    out = pd.concat(rows, ignore_index=True)
    return out[["fom", "modality", "reader", "value", "se", "lower", "upper"]], notes


def false_marks(matched: evaluate.Matched, threshold: float) -> dict[str, Any]:
    """What a sensitivity at ``threshold`` says and what it leaves out: masses found and their total, the false
    marks at or above the threshold, the images and cases read, false marks per image and per case."""
    if not np.isfinite(threshold):
        raise MammoError(f"threshold must be a finite number, got {threshold!r}")
    found = evaluate.found_at(matched, threshold)
    fp = int((matched.false_positives["score"].to_numpy(np.float64) >= threshold).sum())
    images, cases = matched.n_images, int(matched.images.nunique())
    return {"found": int(found.sum()), "masses": int(found.size), "sensitivity": float(found.mean()),
            "false_marks": fp, "images": images, "cases": cases, "per_image": fp / images, "per_case": fp / cases}


def sizing_table(pilot: Any, readers: Sequence[int], *, effect: float, ai: Any = None, fom: str | None = None,
                 power: float = 0.8, alpha: float = 0.05, max_cases: int = 100_000) -> pd.DataFrame:
    """Cases needed for ``power`` at each number of readers (OR random-reader random-case, Hillis et al. 2011):
    readers, cases (NaN where no number of cases up to ``max_cases`` reaches it), the power reached, its ncp and
    ddf; ``power_best``, the highest power of any number of cases up to ``max_cases`` (on a geometric grid), and
    ``power_unlimited``, the power with unlimited cases (bounded by the reader variability; with 2 readers the
    denominator degrees of freedom fall towards 1 as cases grow, so power can peak and then fall)."""
    components = sizing.pilot_components(pilot, fom=fom, ai=ai)  # once: the pilot's analysis is the slow part
    grid = np.unique(np.geomspace(2, max_cases, 400).astype(int))
    rows = []
    for j in readers:
        ceiling = sizing.power(components, j, UNLIMITED_CASES, effect=effect, alpha=alpha).power
        best = max(sizing.power(components, j, int(k), effect=effect, alpha=alpha).power for k in grid)
        try:
            s = sizing.sample_size(components, j, effect=effect, power=power, alpha=alpha, max_cases=max_cases)
        except MammoError as exc:
            if "do not reach power" not in str(exc):
                raise
            rows.append({"readers": j, "cases": np.nan, "power": np.nan, "ncp": np.nan, "ddf": np.nan,
                         "power_best": best, "power_unlimited": ceiling})
            continue
        rows.append({"readers": j, "cases": s.cases, "power": s.power, "ncp": s.ncp, "ddf": s.df,
                     "power_best": max(best, s.power), "power_unlimited": ceiling})
    out = pd.DataFrame(rows)
    out["cases"] = out["cases"].astype("Int64")
    return out


def power_curve(pilot: Any, readers: Sequence[int], cases: Sequence[int], *, effect: float, ai: Any = None,
                fom: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Power at each number of readers and cases (long table: readers, cases, power)."""
    components = sizing.pilot_components(pilot, fom=fom, ai=ai)
    rows = [{"readers": j, "cases": int(k),
             "power": sizing.power(components, j, int(k), effect=effect, alpha=alpha).power}
            for j in readers for k in cases]
    return pd.DataFrame(rows)


#: The methods of the DL-versus-juniors wAFROC comparison (RJafroc's StCadVsRad): random readers and cases, and
#: the readers fixed (the conclusion then holds for these two juniors only).
AI_METHODS = ("1T-RRRC", "1T-RRFC")


def reader_matched(dl: evaluate.Matched, marks: pd.DataFrame, reader: str) -> evaluate.Matched:
    """A simulated reader's marks (:func:`mammo_lib.synth.reader_marks.load_reader_marks`) laid out as the DL
    system's matching ``dl``: the same lesions (each scored by the reader's LL rating, NaN when the reader did not
    mark it), its NL marks on the images ``dl`` read as false positives, the same images and cases. Marks on
    images or masses outside ``dl`` are left out (a run that scored a subset)."""
    require_columns(marks, ["reader", "image_id", "kind", "mass_id", "rating"], "marks")
    require_columns(dl.lesions, ["mass_id", "exam", "score"], "dl.lesions")
    mine = marks[marks["reader"] == reader]
    if mine.empty:
        raise MammoError(f"marks have no rows of reader {reader!r} (readers: {sorted(set(marks['reader']))})")
    ll = mine[mine["kind"] == "LL"].set_index("mass_id")["rating"]
    lesions = dl.lesions.assign(score=dl.lesions["mass_id"].astype(str).map(ll).astype(float))
    nl = mine[(mine["kind"] == "NL") & mine["image_id"].isin(dl.images.index)]
    false_positives = pd.DataFrame({"image_id": nl["image_id"].to_numpy(), "score": nl["rating"].to_numpy(float),
                                    "exam": nl["image_id"].map(dl.images).to_numpy()})
    return evaluate.Matched(lesions=lesions, false_positives=false_positives, images=dl.images)


def dl_and_readers(dl: evaluate.Matched, marks: pd.DataFrame, readers: Sequence[str], *, ai: str = "IFN",
                   modality: str = "mammography") -> froc.FrocData:
    """One FROC study of the DL system (reader ``ai``) and the simulated ``readers`` on the same cases and
    lesions (:func:`mammo_lib.evaluation.froc.from_detections`), for :func:`mammo_lib.evaluation.mrmc.ai_vs_readers`."""
    if ai in readers:
        raise MammoError(f"the AI's name {ai!r} is also a reader's")
    parts = {(modality, ai): dl}
    parts.update({(modality, r): reader_matched(dl, marks, r) for r in readers})
    return froc.from_detections(parts)


def ai_comparisons(data: Any, *, ai: Any, fom: str | None = None, methods: Sequence[str] = AI_METHODS,
                   alpha: float = 0.05) -> pd.DataFrame:
    """The readers against the AI by :func:`mammo_lib.evaluation.mrmc.ai_vs_readers` with each method: fom, method,
    the AI's figure of merit, the readers' mean, readers minus AI with its CI, the p-value and whether it is below
    ``alpha`` (one row per method). ``data``: an FrocData (wAFROC by default) or a long ROC table (``fom``)."""
    rows = []
    for method in methods:
        r = mrmc.ai_vs_readers(data, ai=ai, method=method, fom=fom, alpha=alpha)
        rows.append({"fom": fom or getattr(data, "default_fom", "auc"), "method": method, "ai": r.ai_fom,
                     "readers_mean": r.reader_mean, **{f"reader_{k}": v for k, v in zip(r.readers, r.reader_fom)},
                     "difference": r.difference, "lower": r.ci[0], "upper": r.ci[1], "p_value": r.p_value,
                     "significant": bool(r.p_value < alpha)})
    return pd.DataFrame(rows)


def what_false_marks_change(by_sensitivity: pd.DataFrame, by_wafroc: pd.DataFrame, method: str = "1T-RRRC",
                            ai_name: str = "the DL system", alpha: float = 0.05) -> str:
    """A sentence from two :func:`ai_comparisons` tables (the juniors against the AI by detection sensitivity and
    by wAFROC): the difference each gives, and whether counting false marks reverses its direction or changes
    whether it is significant."""
    rows = []
    for table, what in ((by_sensitivity, "by detection sensitivity"), (by_wafroc, "by wAFROC")):
        chosen = table[table["method"] == method]
        if chosen.empty:
            raise MammoError(f"no {method} row in the comparison {what} (methods: {list(table['method'])})")
        rows.append((chosen.iloc[0], what))
    (s, _), (w, _) = rows

    def says(r: pd.Series, what: str) -> str:
        side = "ahead of" if r["difference"] > 0 else "behind" if r["difference"] < 0 else "level with"
        return (f"{what} the juniors' mean is {abs(r['difference']):.3f} {side} {ai_name} (readers minus AI "
                f"{r['difference']:+.3f}, 95% CI {r['lower']:+.3f} to {r['upper']:+.3f}, P = {r['p_value']:.3g})")

    sign_s, sign_w = np.sign(s["difference"]), np.sign(w["difference"])
    if sign_s != sign_w:
        change = "counting false marks reverses the direction of the comparison"
    elif bool(s["significant"]) != bool(w["significant"]):
        change = ("counting false marks makes the difference significant" if w["significant"] else
                  "counting false marks takes away the significance of the difference")
    else:
        change = ("counting false marks keeps the direction and the verdict (" + ("" if w["significant"] else "not ")
                  + f"significant at {alpha:g})")
    return f"{method}: {says(s, 'by detection sensitivity')}; {says(w, 'by wAFROC')}: {change}."


def reader_mark_summary(marks: pd.DataFrame, dl: evaluate.Matched, rate: float) -> pd.DataFrame:
    """Per simulated reader, on the images and masses ``dl`` read: lesion marks and masses, false marks, images,
    false marks per image beside the ``rate`` assumed, and the mean rating of the lesion and of the false marks."""
    rows = []
    for reader in sorted(set(marks["reader"])):
        m = reader_matched(dl, marks, reader)
        ll = m.lesions["score"].dropna().to_numpy(float)
        nl = m.false_positives["score"].to_numpy(float)
        rows.append({"reader": reader, "lesion_marks": ll.size, "masses": len(m.lesions), "false_marks": nl.size,
                     "images": m.n_images, "false_per_image": nl.size / m.n_images, "assumed_per_image": rate,
                     "mean_rating_lesion": ll.mean() if ll.size else np.nan,
                     "mean_rating_false": nl.mean() if nl.size else np.nan})
    return pd.DataFrame(rows).set_index("reader")


def paper_detection_sensitivity(juniors: Sequence[str]) -> pd.Series:
    """The paper's detection sensitivity of each junior (its Table 3 column total over the masses: the twin's
    juniors reproduce Table 3's columns, :mod:`mammo_lib.synth.reader_calibration`) and of the DL system (text)."""
    n = published.COHORT["masses"]
    values = {r: reader_calibration.detection_total(r) / n for r in juniors}
    found, total, _ = published.DETECTION_TEXT["overall"]["dl"]
    values[tables.DL] = found / total
    return pd.Series(values, name="paper")


def comparison_table(by_sensitivity: pd.DataFrame, by_wafroc: pd.DataFrame, paper: pd.Series,
                     juniors: Sequence[str]) -> pd.DataFrame:
    """The juniors against the DL system by detection sensitivity (the paper's numbers, then the twin's) and by
    wAFROC, one row per measure and method: the DL system's and each junior's value, the readers' mean, readers
    minus DL with its CI and p-value (empty for the paper's row: it gives counts, no comparison of this kind)."""
    missing = [r for r in (*juniors, tables.DL) if r not in paper.index]
    if missing:
        raise MammoError(f"the paper's sensitivities lack {missing}")
    rows = [{"measure": "detection sensitivity (paper)", "method": "", "dl": paper[tables.DL],
             **{r: paper[r] for r in juniors}, "readers_mean": float(np.mean([paper[r] for r in juniors])),
             "difference": float(np.mean([paper[r] for r in juniors]) - paper[tables.DL])}]
    for table, measure in ((by_sensitivity, "detection sensitivity"), (by_wafroc, "wAFROC")):
        for _, r in table.iterrows():
            rows.append({"measure": measure, "method": r["method"], "dl": r["ai"],
                         **{j: r[f"reader_{j}"] for j in juniors}, "readers_mean": r["readers_mean"],
                         "difference": r["difference"], "lower": r["lower"], "upper": r["upper"],
                         "p_value": r["p_value"]})
    return pd.DataFrame(rows, columns=["measure", "method", "dl", *juniors, "readers_mean", "difference", "lower",
                                       "upper", "p_value"])
