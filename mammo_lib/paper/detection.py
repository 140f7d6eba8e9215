"""Notebook 04 (Figure 1's IDVN, BDVN and IFN; Figures 4-6; the DL column of the detection sensitivity): what a
cohort's detector run is scored against, and which exams its case figures show.

:func:`detection_scope` turns the evaluated exams of a cohort (after unusable views were skipped) into the tables
the detection evaluation (:func:`mammo_lib.evaluation.detection.detection_report`) reads: the views, each view's exam,
each exam's breast density and the reference boxes on the views that were read, or the reason nothing can be scored.
:func:`example_exams` picks the exams of the case figures (:func:`mammo_lib.paper.figures.plot_detection_examples`).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from mammo_lib import vocab
from mammo_lib.data.manifest import Manifest


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


def example_exams(studies: Sequence[str], density: pd.Series, candidates: pd.DataFrame, *, scored: bool,
                  n: int = 3) -> list[str]:
    """The exams of the case figures, in study order: the first ``n`` dense-breast exams (ACR c/d: where the paper's
    Figures 4-6 show the system at work) when masses are scored; without truth, the ``n`` exams of the highest-scoring
    IFN candidates."""
    if scored:
        dense = [s for s in studies if density[s] in vocab.DENSE_BREAST][:n]
        return [s for s in studies if s in dense]
    best = candidates[candidates["branch"] == "ifn"].groupby("study_id")["score"].max()
    top = best.sort_values(ascending=False, kind="stable").index[:n]
    return [s for s in studies if s in top]
