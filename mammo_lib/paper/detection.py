"""Notebook 04 (Figure 1's IDVN, BDVN and IFN; Figures 4-6; the DL column of the detection sensitivity): what a
cohort's detector run is scored against, and which exams its case figures show.

:func:`detection_scope` turns the evaluated exams of a cohort (after unusable views were skipped) into the tables
the detection evaluation (:func:`mammo_lib.evaluation.detection.detection_report`) reads: the views, each view's exam,
each exam's breast density and the reference boxes on the views that were read, or the reason nothing can be scored.
:func:`example_exams` picks the exams of the case figures (:func:`mammo_lib.paper.figures.plot_detection_examples`).
The notebook's readings are sentences and tables computed here: :func:`difference_line`, :func:`fusion_lines` (an
empty stratum says so, with the reason) and :func:`detection_versus_paper`, labelled for the twin or a user's cohort
(:func:`results_label`, :func:`cohort_title`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mammo_lib import published, validation, vocab
from mammo_lib.data.manifest import Manifest
from mammo_lib.paper.tables import format_p


@dataclass(frozen=True)
class DetectionScope:
    """The evaluated views of a cohort and their truth.

    ``images``: the manifest rows of the views read; ``read``: image_id -> exam (study_id); ``density``: each exam's
    breast density; ``truth``: the findings on the views read (None without a findings table); ``lost_masses``: masses
    only on skipped views; ``no_score``: why nothing can be scored ("" when masses can be scored).
    """

    images: pd.DataFrame
    read: pd.DataFrame
    density: pd.Series
    truth: pd.DataFrame | None
    lost_masses: list[str] = field(default_factory=list)
    no_score: str = ""

    @property
    def scored(self) -> bool:
        """Whether there are masses to score the detector against."""
        return not self.no_score

    def summary(self) -> str:
        """One line: exams, views and masses evaluated, or what is left without a truth."""
        exams = self.read["exam"].nunique()
        if self.scored:
            return f"{exams} exams, {len(self.images)} views, {self.truth['mass_id'].nunique()} masses"
        return (f"{exams} exams, {len(self.images)} views; {self.no_score}: candidates and case overlays only, no "
                "per-mass sensitivity, FROC, density strata or ablation (nothing to score against)")


def detection_scope(data: Manifest, studies: Sequence[str], skipped_images: Iterable[str],
                    cohort_name: str) -> DetectionScope:
    """The views of ``studies`` that were read (all but ``skipped_images``), their exams and densities, and the
    reference boxes on them; masses that lie only on skipped views are listed and left out."""
    in_exams = data.images["study_id"].astype(str).isin([str(s) for s in studies])
    images = data.images[in_exams & ~data.images["image_id"].isin(set(skipped_images))]
    read = pd.DataFrame({"image_id": images["image_id"], "exam": images["study_id"].astype(str)})
    exams = images.drop_duplicates("study_id")
    density = pd.Series(exams["breast_density"].astype(str).to_numpy(), index=exams["study_id"].astype(str))
    if data.findings is None:
        return DetectionScope(images, read, density, None, [], f"cohort {cohort_name} has no findings table")
    on_exams = data.findings[data.findings["image_id"].isin(data.images.loc[in_exams, "image_id"])]
    truth = on_exams[on_exams["image_id"].isin(images["image_id"])]
    lost = sorted(set(on_exams["mass_id"]) - set(truth["mass_id"]))
    no_score = f"cohort {cohort_name} has no mass on its evaluated views" if truth.empty else ""
    return DetectionScope(images, read, density, truth, lost, no_score)


def example_exams(studies: Sequence[str], density: Mapping[str, str] | pd.Series, candidates: pd.DataFrame | None = None,
                  n: int = 3, dense: Sequence[str] = vocab.DENSE_BREAST) -> tuple[list[str], str]:
    """The exams of notebook 04's case figure, in ``studies`` order, and a sentence when the rule had to fall back.
    With truth (``candidates`` None): the first ``n`` exams of dense breasts, as the paper's Figures 4-6 show;
    without a dense breast among them, the first ``n`` exams (said). Without truth: the exams of the ``n``
    highest-scoring IFN candidates."""
    if candidates is not None:
        validation.require_columns(candidates, ["branch", "study_id", "score"], "candidates")
        best = candidates[candidates["branch"] == "ifn"].groupby("study_id")["score"].max()
        top = set(best.sort_values(ascending=False, kind="stable").index[:n])
        return [s for s in studies if s in top], ""
    dense_ids = [s for s in studies if density[s] in set(dense)]
    if dense_ids:
        return dense_ids[:n], ""
    picked = list(studies[:n])
    return picked, (f"no dense ({'/'.join(dense)}) breast among the {len(studies)} evaluated exams (an empty stratum): "
                    f"the first {len(picked)} exams are shown")


def results_label(twin: bool) -> str:
    """The word for a cohort's reproduced numbers in column names beside the paper's: ``twin_detected`` on the
    built-in twin (``twin``: :func:`mammo_lib.data.cohort.is_twin`), ``cohort_detected`` on any other, a user's own."""
    return "twin" if twin else "cohort"


def cohort_title(name: str, twin: bool) -> str:
    """How a figure title names the cohort it shows: "the twin", or "cohort <name>" (never "the twin" for a
    user's cohort)."""
    return "the twin" if twin else f"cohort {name}"


def _p_phrase(p: float) -> str:
    """"P = 0.012" as the paper prints P (:func:`mammo_lib.paper.tables.format_p`), "P < 0.0001" below that."""
    text = format_p(p)
    return f"P {text[0]} {text[1:]}" if text.startswith("<") else f"P = {text}"


def fusion_lines(fusion: Any, sizes: pd.Series | None = None, what: str = "dense-breast") -> list[str]:
    """Notebook 04's reading of :func:`mammo_lib.evaluation.detection.fusion_comparison` (single view vs IFN), one line each:
    the paired detections per mass with McNemar's P, the masses missed by both (their sizes, when ``sizes`` maps
    mass_id to size_mm), per view; or one line saying the stratum is empty and why."""
    if fusion.empty:
        return [f"{what} masses: none ({fusion.empty}): the paired comparison of single view and IFN is not computed"]
    paired = fusion.per_mass
    lines = [f"{what} masses: {paired.n}; found by both {paired.both}, single only {paired.only_a}, "
             f"IFN only {paired.only_b}, neither {paired.neither}; McNemar {_p_phrase(paired.p)}"]
    if sizes is not None:
        missed = fusion.missed_by_both
        lines.append(f"missed by both: median size {sizes[missed].median():.1f} mm "
                     f"({(sizes[missed] <= 10).mean():.1%} of them 10 mm or smaller) vs "
                     f"{sizes[fusion.masses].median():.1f} mm for all")
    for b in ("single", "ifn"):
        n, both, one, neither = fusion.two_view_masses[b]
        lines.append(f"{b:>6} per view: recall {fusion.view_recall[b]:.3f}; of {n} masses on two views, "
                     f"found on both {both}, on one {one}, on neither {neither}")
    lines.append(f"per view, single only {fusion.per_view.only_a}, IFN only {fusion.per_view.only_b} of "
                 f"{fusion.per_view.n}; McNemar {_p_phrase(fusion.per_view.p)}")
    return lines


def difference_line(row: pd.Series, label: str) -> str:
    """Notebook 04's sentence on an ablation row's difference from the single view (with its bootstrap CI), or
    that the stratum holds no mass."""
    if not row["masses"]:
        return f"{label}: not computed (empty stratum: no mass in its exams)"
    return (f"{label}: {row['diff_vs_single']:+.3f} (95% CI {row['diff_lower']:+.3f} to {row['diff_upper']:+.3f}): "
            f"{'IFN better' if row['diff_lower'] > 0 else 'no difference shown'}")


def detection_versus_paper(sensitivity: pd.DataFrame, by_density: pd.DataFrame, label: str = "twin",
                           branch: str = "ifn") -> pd.DataFrame:
    """The DL system's detection sensitivity overall and in densities c and d (the paper's Results text,
    :data:`mammo_lib.published.DETECTION_TEXT`) beside this cohort's (``<label>_detected``, ``_total``,
    ``_percent``; ``label`` from :func:`results_label`), from a detection report's
    ``sensitivity`` and ``by_density`` tables (centre criterion). An empty stratum has total 0 and no percent."""
    validation.require_columns(sensitivity, ["branch", "criterion", "detected", "total"], "sensitivity")
    validation.require_columns(by_density, ["branch", "group", "detected", "total"], "by_density")
    overall = sensitivity.set_index(["branch", "criterion"]).loc[(branch, "centre")]
    groups = by_density[by_density["branch"] == branch].set_index("group")
    rows = [("overall", *published.DETECTION_TEXT["overall"]["dl"], int(overall["detected"]), int(overall["total"]))]
    for g in vocab.DENSE_BREAST:
        found, total = (int(groups.loc[g, "detected"]), int(groups.loc[g, "total"])) if g in groups.index else (0, 0)
        rows.append((f"density {g}", *published.DETECTION_TEXT[g]["dl"], found, total))
    table = pd.DataFrame(rows, columns=["stratum", "paper_detected", "paper_total", "paper_percent",
                                       f"{label}_detected", f"{label}_total"])
    table[f"{label}_percent"] = (100 * table[f"{label}_detected"] / table[f"{label}_total"].where(
        table[f"{label}_total"] > 0)).round(1)
    return table
