"""Detection evaluation as the detection literature does it: hit criteria, FROC, recall at FPI, bootstrap CIs.

Hit criteria (a candidate box "hits" a ground-truth box):

* ``"centre"``: the centre of the candidate lies inside the ground-truth box (the criterion of the paper's
  detection sensitivity, one mass found when the system marks it);
* ``"iou"``: intersection over union >= ``iou_threshold`` (0.2 by default, a common lenient threshold for
  mammographic masses).

The lesion unit is the *mass* (``mass_id``, shared by its views): a mass is detected at a threshold when a
candidate at or above it hits the mass on any view. A candidate that hits no mass on its image is a false
positive; FPI = false positives / images read. ``unit="view"`` counts every (mass, view) separately instead.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mammo_lib import vocab
from mammo_lib.errors import MammoError
from mammo_lib.validation import require_columns

HIT_CRITERIA = ("centre", "iou")
BOX = list(vocab.BOX_COLUMNS)
#: Standard FROC abscissae: recall at these false positives per image (as in the detection literature).
FPI_POINTS = (0.25, 0.5, 1.0, 2.0)


def _boxes(boxes: np.ndarray | Sequence, name: str) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise MammoError(f"{name} must have shape [n, 4] (x0, y0, x1, y1), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise MammoError(f"{name} holds non-finite coordinates: {arr[~np.isfinite(arr).all(axis=1)][:3].tolist()}")
    if (arr[:, 2] < arr[:, 0]).any() or (arr[:, 3] < arr[:, 1]).any():
        bad = arr[(arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])][0]
        raise MammoError(f"{name} has a box with x1 < x0 or y1 < y0: {bad.tolist()}")
    return arr


def box_iou(a: np.ndarray | Sequence, b: np.ndarray | Sequence) -> np.ndarray:
    """Intersection over union of every pair, ``[n, m]`` (boxes x0, y0, x1, y1 with exclusive ends)."""
    a, b = _boxes(a, "a"), _boxes(b, "b")
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def centre_in_box(pred: np.ndarray | Sequence, truth: np.ndarray | Sequence) -> np.ndarray:
    """``[n, m]`` bool: the centre of prediction i lies inside ground-truth box j (x1/y1 exclusive)."""
    pred, truth = _boxes(pred, "pred"), _boxes(truth, "truth")
    cx = (pred[:, 0] + pred[:, 2]) / 2
    cy = (pred[:, 1] + pred[:, 3]) / 2
    return ((cx[:, None] >= truth[None, :, 0]) & (cx[:, None] < truth[None, :, 2])
            & (cy[:, None] >= truth[None, :, 1]) & (cy[:, None] < truth[None, :, 3]))


def hit_matrix(pred: np.ndarray | Sequence, truth: np.ndarray | Sequence, criterion: str = "centre",
               iou_threshold: float = 0.2) -> np.ndarray:
    """``[n, m]`` bool: prediction i hits ground truth j under ``criterion`` (see the module docstring)."""
    if criterion == "centre":
        return centre_in_box(pred, truth)
    if criterion == "iou":
        if not 0 < iou_threshold <= 1:
            raise MammoError(f"iou_threshold must be in (0, 1], got {iou_threshold!r}")
        return box_iou(pred, truth) >= iou_threshold
    raise MammoError(f"criterion must be one of {HIT_CRITERIA}, got {criterion!r}")


@dataclass
class Matched:
    """Candidates and lesions after matching: the inputs of every FROC number.

    ``lesions``: one row per lesion unit with ``exam``, ``score`` (best hitting candidate, NaN when never
    hit) and the lesion key columns; ``false_positives``: ``exam``, ``image_id``, ``score`` of candidates that hit
    nothing; ``images``: image_id -> exam of every image read.
    """

    lesions: pd.DataFrame
    false_positives: pd.DataFrame
    images: pd.Series

    @property
    def n_images(self) -> int:
        return int(len(self.images))


def _row_groups(values: pd.Series) -> tuple[np.ndarray, list[np.ndarray]]:
    """Distinct values in order of first appearance, and the row positions of each (in row order)."""
    codes, uniques = pd.factorize(values)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    return np.asarray(uniques), [order[bounds[i]:bounds[i + 1]] for i in range(len(uniques))]


def match_candidates(candidates: pd.DataFrame, truth: pd.DataFrame, images: pd.DataFrame, *,
                     criterion: str = "centre", iou_threshold: float = 0.2, unit: str = "mass") -> Matched:
    """Match scored candidates to ground-truth boxes image by image.

    ``candidates``: image_id, x0, y0, x1, y1, score. ``truth``: image_id, mass_id, x0, y0, x1, y1 (one row per
    mass per view). ``images``: image_id, exam (the images read, including those without candidates; exam is
    the bootstrap cluster, e.g. study_id).
    """
    require_columns(candidates, ["image_id", *BOX, "score"], "candidates")
    require_columns(truth, ["image_id", "mass_id", *BOX], "truth")
    require_columns(images, ["image_id", "exam"], "images")
    if unit not in ("mass", "view"):
        raise MammoError(f"unit must be 'mass' or 'view', got {unit!r}")
    if candidates["score"].isna().any():
        raise MammoError(f"candidates: {int(candidates['score'].isna().sum())} score(s) are NaN")
    exam_of = images.drop_duplicates("image_id").set_index("image_id")["exam"]
    for name, df in (("candidates", candidates), ("truth", truth)):
        unknown = sorted(set(df["image_id"]) - set(exam_of.index))
        if unknown:
            raise MammoError(f"{name} name image_id(s) not among the images read: {unknown[:5]}")
    key = ["mass_id"] if unit == "mass" else ["mass_id", "image_id"]
    best: dict[tuple, float] = {}
    # numpy row groups per image (in order of first appearance) rather than pandas groupby: far faster
    truth_boxes = truth[BOX].to_numpy(np.float64)
    truth_keys = list(truth[key].itertuples(index=False, name=None))
    truth_by_image = {k: (truth_boxes[rows], [truth_keys[r] for r in rows])
                      for k, rows in zip(*_row_groups(truth["image_id"]))}
    image_ids, cand_rows = _row_groups(candidates["image_id"])
    boxes = candidates[BOX].to_numpy(np.float64)
    all_scores = candidates["score"].to_numpy(np.float64)
    fp_index: list[np.ndarray] = []
    for image_id, rows in zip(image_ids, cand_rows):
        gt = truth_by_image.get(image_id)
        if gt is None:
            fp_index.append(rows)
            continue
        hits = hit_matrix(boxes[rows], gt[0], criterion, iou_threshold)
        fp_index.append(rows[~hits.any(axis=1)])
        scores = all_scores[rows]
        for j, k in enumerate(gt[1]):
            if hits[:, j].any():
                best[k] = max(best.get(k, -np.inf), float(scores[hits[:, j]].max()))
    fp_rows = np.concatenate(fp_index) if fp_index else np.zeros(0, int)
    lesions = truth.drop_duplicates(key)[list(dict.fromkeys([*key, "image_id"]))].copy()
    lesions["exam"] = lesions["image_id"].map(exam_of).to_numpy()
    lesions["score"] = [best.get(tuple(r), np.nan) for r in lesions[key].itertuples(index=False)]
    if unit == "mass":
        lesions = lesions.drop(columns="image_id")
    fps = pd.DataFrame({"image_id": candidates["image_id"].to_numpy()[fp_rows], "score": all_scores[fp_rows]})
    fps["exam"] = fps["image_id"].map(exam_of).to_numpy()
    return Matched(lesions=lesions.reset_index(drop=True), false_positives=fps, images=exam_of)


@dataclass
class FROC:
    """An FROC curve: at each score threshold (descending), lesion sensitivity and false positives per image."""

    thresholds: np.ndarray
    sensitivity: np.ndarray
    fpi: np.ndarray
    n_lesions: int
    n_images: int

    def recall_at(self, fpi: float) -> float:
        """Highest sensitivity reached with at most ``fpi`` false positives per image (0 if none)."""
        ok = self.fpi <= fpi + 1e-12
        return float(self.sensitivity[ok].max()) if ok.any() else 0.0

    def threshold_at(self, fpi: float) -> float:
        """Lowest score threshold whose FPI is at most ``fpi`` (the operating point of that FPI)."""
        ok = self.fpi <= fpi + 1e-12
        return float(self.thresholds[ok].min()) if ok.any() else float("inf")

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"threshold": self.thresholds, "fpi": self.fpi, "sensitivity": self.sensitivity})


def froc_from_scores(lesion_scores: np.ndarray, fp_scores: np.ndarray, n_images: int) -> FROC:
    """FROC from each lesion's best hitting score (NaN = never hit) and every false positive's score."""
    if n_images <= 0:
        raise MammoError(f"n_images must be positive, got {n_images}")
    lesion_scores = np.asarray(lesion_scores, dtype=np.float64)
    fp_scores = np.asarray(fp_scores, dtype=np.float64)
    if lesion_scores.size == 0:
        raise MammoError("no lesions: FROC sensitivity is undefined")
    hit = np.sort(lesion_scores[np.isfinite(lesion_scores)])
    fps = np.sort(fp_scores)
    thresholds = np.unique(np.concatenate([hit, fps]))[::-1]
    sens = (hit.size - np.searchsorted(hit, thresholds, side="left")) / lesion_scores.size
    fpi = (fps.size - np.searchsorted(fps, thresholds, side="left")) / n_images
    return FROC(thresholds=thresholds, sensitivity=sens, fpi=fpi, n_lesions=int(lesion_scores.size),
                n_images=int(n_images))


def froc(matched: Matched) -> FROC:
    """The FROC curve of matched candidates."""
    return froc_from_scores(matched.lesions["score"].to_numpy(), matched.false_positives["score"].to_numpy(),
                            matched.n_images)


def _exam_resampler(matched: Matched, exams: np.ndarray) -> Callable[[np.ndarray], Matched | None]:
    """A function from exam indices (with repeats) to the Matched of those exams (None if no lesion).

    The resampled Matched is lean, for speed (the bootstrap builds thousands): lesions and false positives
    carry ``exam`` (as the position in ``exams``) and ``score`` only, images map position -> exam position;
    that is all an FROC statistic reads. Rows are gathered exam by exam with one vectorised ragged take.
    """
    position = {e: i for i, e in enumerate(exams)}

    def layout(frame_exams: pd.Series, scores: pd.Series | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        codes = frame_exams.map(position).to_numpy(float)
        order = np.argsort(codes, kind="stable")
        starts = np.searchsorted(codes[order], np.arange(exams.size + 1))
        values = np.zeros(len(order)) if scores is None else scores.to_numpy(np.float64)[order]
        return starts[:-1], np.diff(starts), values

    parts = [layout(matched.lesions["exam"], matched.lesions["score"]),
             layout(matched.false_positives["exam"], matched.false_positives["score"]),
             layout(matched.images, None)]

    def take(part: tuple[np.ndarray, np.ndarray, np.ndarray], idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        starts, counts, values = part
        lengths = counts[idx]
        ends = np.cumsum(lengths)
        rows = np.arange(ends[-1] if len(ends) else 0) + np.repeat(starts[idx] - (ends - lengths), lengths)
        return np.repeat(idx, lengths), values[rows]

    def resample(idx: np.ndarray) -> Matched | None:
        idx = np.asarray(idx, dtype=int)
        (l_exam, l_score), (f_exam, f_score), (i_exam, _) = (take(part, idx) for part in parts)
        if l_exam.size == 0:
            return None
        return Matched(lesions=pd.DataFrame({"exam": l_exam, "score": l_score}),
                       false_positives=pd.DataFrame({"exam": f_exam, "score": f_score}), images=pd.Series(i_exam))

    return resample


def exam_bootstrap(matched: Matched, statistic: Callable[[Matched], float], *, n_boot: int = 1000,
                   alpha: float = 0.05, seed: int = 0,
                   versus: Matched | None = None) -> tuple[float, float, float]:
    """Point estimate and percentile CI of ``statistic`` with exams resampled with replacement
    (scipy.stats.bootstrap over exam indices: lesions and false positives of one exam move together), an
    ``n_boot``-resample ``1 - alpha`` interval: the signature of
    :func:`mammo_lib.evaluation.stats.cluster_bootstrap`, which per-mass statistics of arrays clustered by
    patient use; this is the detection-side bootstrap over a :class:`Matched`.
    A statistic returning a vector (e.g. recall at several FPI points) gets arrays back, one CI per element,
    from the same resamples at the cost of one bootstrap.

    With ``versus`` (another system's Matched on the same exams) the statistic is the paired difference
    ``statistic(matched) - statistic(versus)``, both computed on the same resampled exams.
    """
    from scipy.stats import bootstrap

    from mammo_lib.evaluation.stats import check_alpha

    alpha = check_alpha(alpha)
    exams = np.asarray(pd.unique(matched.images.to_numpy()))
    if exams.size < 2:
        raise MammoError(f"the exam bootstrap needs at least 2 exams, got {exams.size}")
    if versus is not None and set(pd.unique(versus.images.to_numpy())) != set(exams):
        raise MammoError("versus: the two systems were not read on the same exams")
    first = _exam_resampler(matched, exams)
    second = _exam_resampler(versus, exams) if versus is not None else None

    point = np.asarray(statistic(matched), np.float64) - (
        np.asarray(statistic(versus), np.float64) if versus is not None else 0.0)
    missing = float("nan") if point.ndim == 0 else np.full(point.shape, np.nan)

    def value(idx: np.ndarray) -> float | np.ndarray:
        a = first(idx)
        if a is None:
            return missing
        if second is None:
            return np.asarray(statistic(a), np.float64)
        b = second(idx)
        return np.asarray(statistic(a), np.float64) - np.asarray(statistic(b), np.float64) if b is not None else missing

    res = bootstrap((np.arange(exams.size),), value, n_resamples=n_boot, confidence_level=1.0 - alpha,
                    method="percentile", vectorized=False, random_state=np.random.default_rng(seed))
    low, high = res.confidence_interval.low, res.confidence_interval.high
    if point.ndim == 0:
        return float(point), float(low), float(high)
    return point, np.asarray(low, np.float64), np.asarray(high, np.float64)


def recall_at_fpi(matched: Matched, fpi: float) -> float:
    """Lesion sensitivity at ``fpi`` false positives per image."""
    return froc(matched).recall_at(fpi)


def recalls_at_fpi(matched: Matched, points: Sequence[float] = FPI_POINTS) -> np.ndarray:
    """Lesion sensitivity at each of ``points`` false positives per image (one FROC curve for all)."""
    curve = froc(matched)
    return np.array([curve.recall_at(p) for p in points])


def found_at(matched: Matched, threshold: float) -> np.ndarray:
    """Per lesion row of ``matched``: hit by a candidate scoring at least ``threshold`` (never hit: False)."""
    return np.nan_to_num(matched.lesions["score"].to_numpy(np.float64), nan=-np.inf) >= threshold


def sensitivity_at_threshold(matched: Matched, threshold: float) -> float:
    """Fraction of lesions hit by a candidate scoring at least ``threshold``."""
    return float(np.mean(found_at(matched, threshold)))


def froc_table(matched: Matched, points: Sequence[float] = FPI_POINTS, *, n_boot: int = 1000,
               alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Recall at each FPI point with its exam-bootstrap ``1 - alpha`` CI: columns fpi, recall, lower, upper."""
    est, lo, hi = exam_bootstrap(matched, lambda m: recalls_at_fpi(m, points), n_boot=n_boot, alpha=alpha,
                                 seed=seed)
    return pd.DataFrame({"fpi": list(points), "recall": est, "lower": lo, "upper": hi})


def detected_at_fpi(matched: Matched, fpi: float = 1.0) -> pd.Series:
    """Found or missed at the operating point of ``fpi`` false positives per image of this Matched's own FROC
    (each system at its own threshold, as FROC recall compares them), for paired tests such as
    :func:`mammo_lib.evaluation.stats.mcnemar_paired`. One value per mass (index ``mass_id``), or per mass and view (index
    ``mass_id, image_id``) when ``matched`` was made with ``unit="view"``."""
    key = [c for c in ("mass_id", "image_id") if c in matched.lesions]
    return pd.Series(found_at(matched, froc(matched).threshold_at(fpi)),
                     index=matched.lesions.set_index(key).index, name="detected").sort_index()


def per_mass_detection(matched: Matched, threshold: float) -> pd.DataFrame:
    """One row per mass: ``mass_id``, ``dl_detected`` (a hitting candidate scores >= ``threshold``) and
    ``dl_max_score`` (best hitting score; 0.0 when no candidate hits the mass at all)."""
    if "mass_id" not in matched.lesions or "image_id" in matched.lesions:
        raise MammoError("per_mass_detection needs lesions matched with unit='mass'")
    scores = matched.lesions["score"].to_numpy(np.float64)
    return pd.DataFrame({"mass_id": matched.lesions["mass_id"].to_numpy(),
                         "dl_detected": found_at(matched, threshold),
                         "dl_max_score": np.nan_to_num(scores, nan=0.0)})


def subset(matched: Matched, exams: Sequence) -> Matched:
    """The Matched restricted to some exams (e.g. dense breasts): their lesions, false positives, images."""
    keep = set(exams)
    return Matched(lesions=matched.lesions[matched.lesions["exam"].isin(keep)],
                   false_positives=matched.false_positives[matched.false_positives["exam"].isin(keep)],
                   images=matched.images[matched.images.isin(keep)])


def sensitivity_by_group(detected: pd.Series, group: pd.Series, order: Sequence[str]) -> pd.DataFrame:
    """Detected/total and sensitivity with its Wilson 95% CI per group (:func:`mammo_lib.evaluation.stats.proportion_ci`).

    ``detected`` (bool) and ``group`` are aligned per mass; groups in ``order`` (empty ones get NaN). Columns
    group, detected, total, sensitivity, lower, upper."""
    from mammo_lib.evaluation.stats import proportion_ci

    if len(detected) != len(group):
        raise MammoError(f"detected has {len(detected)} masses but group has {len(group)}")
    frame = pd.DataFrame({"detected": np.asarray(detected, bool), "group": np.asarray(group, object)})
    unknown = sorted(set(frame["group"].dropna()) - set(order))
    if unknown:
        raise MammoError(f"group values {unknown} are not in {list(order)}")
    rows = []
    for g in order:
        d = frame.loc[frame["group"] == g, "detected"]
        n, k = int(d.size), int(d.sum())
        ci = proportion_ci(k, n) if n else None
        rows.append({"group": g, "detected": k, "total": n, "sensitivity": ci.estimate if ci else np.nan,
                     "lower": ci.lower if ci else np.nan, "upper": ci.upper if ci else np.nan})
    return pd.DataFrame(rows)


#: Mass-size bands (mm) of the detection report: up to 10 mm (the masses both heads miss in dense breasts have a
#: median near it), 10-20 mm, above 20 mm.
SIZE_EDGES_MM: tuple[float, ...] = (10.0, 20.0)


def size_band_labels(edges_mm: Sequence[float]) -> tuple[str, ...]:
    """Labels of the bands cut at ``edges_mm`` (increasing): ``<=10 mm``, ``10-20 mm``, ``>20 mm``."""
    e = [f"{v:g}" for v in edges_mm]
    if not e:
        return ("all",)
    return (f"<={e[0]} mm", *(f"{a}-{b} mm" for a, b in zip(e[:-1], e[1:])), f">{e[-1]} mm")


def size_bands_of(size_mm: pd.Series, edges_mm: Sequence[float]) -> pd.Series:
    """The band label (:func:`size_band_labels`) of each size (mm; right-closed bands); NaN stays NaN."""
    edges = [float(v) for v in edges_mm]
    if any(b <= a for a, b in zip(edges[:-1], edges[1:])):
        raise MammoError(f"size band edges must increase, got {list(edges_mm)}")
    labels = size_band_labels(edges)
    band = pd.cut(pd.to_numeric(size_mm, errors="coerce"), [-np.inf, *edges, np.inf], labels=labels, right=True)
    return band.astype(object).where(band.notna(), np.nan)


@dataclass
class DetectionReport:
    """Every table of the detection evaluation (notebook 04), computed from candidates and ground truth."""

    matched: dict[tuple[str, str], Matched]   # (branch, criterion) -> Matched
    per_mass: pd.DataFrame                    # mass_id, dl_detected, dl_max_score (IFN, centre, operating point)
    recall_at_fpi: pd.DataFrame               # branch, criterion, fpi, recall, lower, upper
    sensitivity: pd.DataFrame                 # branch, criterion, detected, total, sensitivity, lower, upper
    by_density: pd.DataFrame                  # branch, group, detected, total, sensitivity, lower, upper
    by_size: pd.DataFrame                     # branch, group (size band), detected, total, sensitivity, lower, upper
    ablation: pd.DataFrame                    # branch, stratum, masses, recall_1fpi, lower, upper, diff_vs_single,
                                              # diff_lower, diff_upper


def detection_report(candidates: pd.DataFrame, truth: pd.DataFrame, images: pd.DataFrame,
                     breast_density: pd.Series, *, threshold: float, branches: Sequence[str],
                     final: str = "ifn", baseline: str = "single", dense: Sequence[str] = vocab.DENSE_BREAST,
                     density_order: Sequence[str] = ("a", "b", "c", "d"),
                     size_edges_mm: Sequence[float] = SIZE_EDGES_MM, iou_threshold: float = 0.2,
                     n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> DetectionReport:
    """Match each branch's candidates (column ``branch``) under both hit criteria, then the per-mass table at
    the operating ``threshold``, recall at 0.25-2 FPI with exam-bootstrap CIs, sensitivity by breast
    density and by mass size (bands of ``size_edges_mm``, from ``truth``'s ``size_mm``, the largest of a mass's views;
    empty when ``truth`` has no sizes; Wilson CIs) and the ablation (recall at 1 FPI overall and in ``dense`` breasts, with the paired
    bootstrap difference of each branch from ``baseline``). ``breast_density`` maps exam -> density code.
    CIs are ``n_boot``-resample ``1 - alpha`` intervals in columns ``lower``/``upper`` (the difference's in
    ``diff_lower``/``diff_upper``)."""
    require_columns(candidates, ["branch"], "candidates")
    missing = sorted(set(images["exam"]) - set(breast_density.index))
    if missing:
        raise MammoError(f"breast_density lacks exam(s) {missing[:5]}")
    matched = {}
    for branch in branches:
        cand = candidates[candidates["branch"] == branch]
        for crit in HIT_CRITERIA:
            matched[(branch, crit)] = match_candidates(cand, truth, images, criterion=crit,
                                                       iou_threshold=iou_threshold)
    per_mass = per_mass_detection(matched[(final, "centre")], threshold)

    def estimate(m: Matched, stat: Callable[[Matched], Any], versus: Matched | None = None,
                 size: int | None = None) -> tuple[Any, Any, Any]:
        """Bootstrap of ``stat`` (a vector of ``size`` values, or a scalar when None) with NaN where undefined."""
        nan = np.nan if size is None else np.full(size, np.nan)
        if m.lesions.empty:
            return nan, nan, nan
        if m.images.nunique() < 2:  # no bootstrap on a single exam: estimate only
            point = np.asarray(stat(m), np.float64) - (np.asarray(stat(versus), np.float64) if versus is not None else 0.0)
            return (float(point) if size is None else point), nan, nan
        return exam_bootstrap(m, stat, n_boot=n_boot, alpha=alpha, seed=seed, versus=versus)

    parts = []
    for (branch, crit), m in matched.items():
        est, lo, hi = estimate(m, recalls_at_fpi, size=len(FPI_POINTS))
        parts.append(pd.DataFrame({"branch": branch, "criterion": crit, "fpi": list(FPI_POINTS), "recall": est,
                                   "lower": lo, "upper": hi}))
    recall = pd.concat(parts, ignore_index=True)

    sizes = (truth.groupby("mass_id")["size_mm"].max() if "size_mm" in truth.columns and "mass_id" in truth.columns
             else None)
    size_bands = size_band_labels(size_edges_mm)
    sens_rows, dens_rows, size_rows = [], [], []
    for (branch, crit), m in matched.items():
        detected = found_at(m, threshold)
        sens = sensitivity_by_group(pd.Series(detected), pd.Series(["all"] * len(detected)), ("all",))
        sens_rows.append({"branch": branch, "criterion": crit, **sens.iloc[0].drop("group").to_dict()})
        if crit == "centre":
            groups = m.lesions["exam"].map(breast_density)
            table = sensitivity_by_group(pd.Series(detected), groups, density_order)
            dens_rows += [{"branch": branch, **r} for r in table.to_dict("records")]
            if sizes is not None and "mass_id" in m.lesions.columns:
                bands = size_bands_of(m.lesions["mass_id"].map(sizes), size_edges_mm)
                table = sensitivity_by_group(pd.Series(detected), bands, size_bands)
                size_rows += [{"branch": branch, **r} for r in table.to_dict("records")]
    dense_exams = [e for e, d in breast_density.items() if d in set(dense)]

    abl = []
    for stratum, exams in (("all", None), ("dense " + "/".join(dense), dense_exams)):
        base = matched[(baseline, "centre")] if exams is None else subset(matched[(baseline, "centre")], exams)
        for branch in branches:
            m = matched[(branch, "centre")] if exams is None else subset(matched[(branch, "centre")], exams)
            stat = lambda x: recall_at_fpi(x, 1.0)  # noqa: E731
            est, lo, hi = estimate(m, stat)
            row = {"branch": branch, "stratum": stratum, "masses": len(m.lesions), "recall_1fpi": est,
                   "lower": lo, "upper": hi}
            if branch != baseline:
                d, dlo, dhi = estimate(m, stat, versus=base)
                row |= {"diff_vs_" + baseline: d, "diff_lower": dlo, "diff_upper": dhi}
            abl.append(row)
    return DetectionReport(matched=matched, per_mass=per_mass, recall_at_fpi=recall,
                           sensitivity=pd.DataFrame(sens_rows), by_density=pd.DataFrame(dens_rows),
                           by_size=pd.DataFrame(size_rows, columns=["branch", "group", "detected", "total",
                                                                    "sensitivity", "lower", "upper"]),
                           ablation=pd.DataFrame(abl))


@dataclass
class FusionComparison:
    """Where a fusion branch's gain over a baseline comes from, in some exams (e.g. dense breasts), each branch
    at its own ``fpi`` operating point: paired detections per mass and per (mass, view), McNemar on each."""

    per_mass: Any                      # stats.McNemar: baseline (a) vs final (b), a mass found on any view
    per_view: Any                      # stats.McNemar over (mass, view) pairs
    view_recall: dict[str, float]      # branch -> recall at ``fpi`` counted per view
    two_view_masses: dict[str, tuple[int, int, int, int]]  # branch -> (masses on two views, found on 2, 1, 0)
    masses: pd.Index                   # mass_ids compared (those of the exams)
    missed_by_both: pd.Index           # mass_ids neither branch finds
    empty: str = ""                    # why nothing is compared: the exams hold no mass ("" when they do)


def fusion_comparison(report: DetectionReport, candidates: pd.DataFrame, truth: pd.DataFrame,
                      images: pd.DataFrame, exams: Sequence, *, baseline: str = "single", final: str = "ifn",
                      fpi: float = 1.0) -> FusionComparison:
    """Paired detections of ``baseline`` and ``final`` on ``exams`` (centre criterion), per mass from the
    report's matches and per view from ``candidates`` matched with ``unit="view"``; McNemar's test on each."""
    from mammo_lib.evaluation.stats import mcnemar_paired

    require_columns(candidates, ["branch"], "candidates")
    branches = (baseline, final)
    missing = [b for b in branches if (b, "centre") not in report.matched]
    if missing:
        raise MammoError(f"detection report has no centre-criterion matches for branch(es) {missing}")
    reason = empty_stratum(report.matched[(baseline, "centre")], exams)
    if reason:
        return FusionComparison(per_mass=None, per_view=None, view_recall={}, two_view_masses={},
                                masses=pd.Index([]), missed_by_both=pd.Index([]), empty=reason)
    found = {b: detected_at_fpi(subset(report.matched[(b, "centre")], exams), fpi) for b in branches}
    per_mass = mcnemar_paired(found[baseline], found[final].reindex(found[baseline].index))
    view_found, view_recall, two_view = {}, {}, {}
    for b in branches:
        per_view = subset(match_candidates(candidates[candidates["branch"] == b], truth, images, unit="view"), exams)
        view_found[b] = detected_at_fpi(per_view, fpi)
        view_recall[b] = recall_at_fpi(per_view, fpi)
        counts = view_found[b].groupby(level="mass_id").agg(["sum", "size"])
        two = counts[counts["size"] == 2]["sum"]
        two_view[b] = (len(two), int((two == 2).sum()), int((two == 1).sum()), int((two == 0).sum()))
    per_view_test = mcnemar_paired(view_found[baseline], view_found[final].reindex(view_found[baseline].index))
    neither = found[baseline].index[~found[baseline] & ~found[final]]
    return FusionComparison(per_mass=per_mass, per_view=per_view_test, view_recall=view_recall,
                            two_view_masses=two_view, masses=found[baseline].index, missed_by_both=neither)


def empty_stratum(matched: Matched, exams: Sequence) -> str:
    """Why a stratum of exams (e.g. the dense breasts) cannot be scored: it holds no evaluated exam, or none of its
    exams has a mass; "" when it has masses. Reported in place of the stratum's numbers, and the run goes on."""
    if not len(exams):
        return "empty stratum: none of the evaluated exams is in it"
    if subset(matched, exams).lesions.empty:
        return f"empty stratum: its {len(exams)} evaluated exam(s) hold no mass"
    return ""
