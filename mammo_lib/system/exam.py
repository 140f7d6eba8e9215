"""The paper's system on one exam: detect masses (IDVN + BDVN -> IFN), pair them across CC and MLO, classify each
from its original-resolution patches (multi-task DenseNet-121, 0-100), and report it.

Every image is decoded once (:func:`mammo_lib.data.dicomio.read_image`); its pixels feed both the preprocessing (the
448 grid the detector reads) and the classifier's patches, which are cut at the image's own resolution around the
detected boxes mapped back through the view's transform. ``mammo analyze`` (:mod:`mammo_lib.system.analyze`) runs this
per exam in worker processes; notebook 05 scores a cohort with it for Table 4's DL column in system mode
(:func:`mammo_lib.paper.classification.system_scores`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from mammo_lib.data.dicomio import read_image
from mammo_lib.errors import MammoError
from mammo_lib.models.classification.inference import WEIGHTS_FILE as CLASSIFIER_FILE
from mammo_lib.models.classification.inference import combine_views, load_classifier, predict_heads
from mammo_lib.models.classification.network import AUX_HEADS, PRIMARY_HEAD
from mammo_lib.models.classification.patches import PatchGeometry, context_crop
from mammo_lib.models.detection.data import Exam, exam_from_views
from mammo_lib.models.detection.inference import VIEW_NAMES, load_detector, run_detector
from mammo_lib.models.detection.network import DetectionConfig, missing_view_notes
from mammo_lib.paths import weights_dir
from mammo_lib.preprocess import ViewTransform, preprocess_view
from mammo_lib.vocab import BOX_COLUMNS, DL_CANDIDATE_DECIMALS, STANDARD_VIEWS

#: Candidates kept per view (the detector's decoding: 3x3 local maxima of the IFN map, highest first).
TOP_K = 10
#: Candidates below this IFN probability are not reported at all.
MIN_CANDIDATE_SCORE = 0.01
#: CC-MLO pairing: the IDVN's nipple-distance tolerance (fraction of the 448 grid's side, DetectionConfig), and the
#: largest difference of nipple distances accepted for a pair: 2 sigma, where the IDVN's prior has fallen to e^-2.
PAIR_SIGMA = DetectionConfig().idvn_sigma
PAIR_MAX_DIFFERENCE = 2.0 * PAIR_SIGMA
#: Columns of the per-exam CSV (one row per view of each detected mass).
MASS_COLUMNS = ("exam", "mass", "laterality", "view", "image_id", "x0", "y0", "x1", "y1", "detection_score",
                "nipple_distance", "malignancy_score", "dl_positive", "morphology", "margin", "mass_density", "birads")


@dataclass(frozen=True)
class ViewSpec:
    """One image of an exam: its file and, when known (manifest, file name), laterality and view."""

    path: str
    laterality: str | None = None
    view: str | None = None
    image_id: str = ""


@dataclass(frozen=True)
class ExamSpec:
    """One exam to analyse: an id (the output folder's name) and its 1-4 images."""

    exam_id: str
    views: tuple[ViewSpec, ...]


@dataclass
class Models:
    """The shipped (or given) detector and classifier with the numbers the system reads from their cards."""

    detector: torch.nn.Module
    classifier: torch.nn.Module
    classifier_card: dict[str, Any]
    detection_threshold: float
    geometry: PatchGeometry
    device: str = "cpu"
    sources: dict[str, str] = field(default_factory=dict)
    #: What the models are and what they are for (:func:`mammo_lib.models.provenance.models_block`).
    provenance: dict[str, Any] = field(default_factory=dict)


def load_models(detector_path: str | None = None, classifier_path: str | None = None, *, device: str = "cpu",
                detection_threshold: float | None = None) -> Models:
    """Both models in eval mode; the detection operating point defaults to the detector card's 1-FPI threshold."""
    det_path = detector_path or str(weights_dir() / "detection.safetensors")
    detector, card = load_detector(det_path, map_location=device)
    threshold = detection_threshold
    if threshold is None:
        threshold = (card.get("metrics") or {}).get("operating_threshold_1_fpi")
        if threshold is None:
            raise MammoError(f"detector card of {Path(det_path).name} has no operating_threshold_1_fpi; "
                             "pass --detection-threshold")
    if not 0 < float(threshold) < 1:
        raise MammoError(f"detection threshold must be a probability in (0, 1), got {threshold}")
    classifier, ccard = load_classifier(classifier_path, device=device)
    from mammo_lib.models.provenance import models_block

    provenance = models_block(det_path, classifier_path or weights_dir() / CLASSIFIER_FILE)
    sources = {"detector": Path(det_path).name, "detector_sha256": str(card.get("sha256", "")),
               "classifier": Path(classifier_path or CLASSIFIER_FILE).name,
               "classifier_sha256": str(ccard.get("sha256", ""))}
    return Models(detector, classifier, ccard, float(threshold), PatchGeometry(**ccard["geometry"]), device, sources,
                  provenance)


# --- reading ---------------------------------------------------------------------------------------------------
@dataclass
class LoadedView:
    """A decoded and preprocessed view: its pixels stay in memory for the classifier's patches and the overlay,
    as decoded stored values mapped to display values where read (``dicomio.DisplayPixels``)."""

    spec: ViewSpec
    key: tuple[str, str]
    pixels: Any  # np.ndarray or dicomio.DisplayPixels
    preprocessed: Any  # preprocess.PreprocessedView


def load_view(spec: ViewSpec) -> LoadedView:
    """Decode one image (once) and preprocess it; errors name the file. The display mapping is applied where the
    pixels are read (the 448 input's block averages band by band, the classifier's patches, the overlay's
    subsample), never as a full-resolution float copy: the same values, less memory and time. An uncompressed file's
    pixels are memory-mapped, not read and copied (:func:`~mammo_lib.data.dicomio.native_pixels`)."""
    image = read_image(spec.path, laterality=spec.laterality, view=spec.view, lazy=True)
    try:
        pre = preprocess_view(image)
    except MammoError as exc:
        raise MammoError(f"{Path(spec.path).name}: {exc}") from None
    return LoadedView(spec, (image.laterality, image.view), image.pixels, pre)


def assemble(exam_id: str, loaded: Sequence[LoadedView]) -> tuple[Exam, dict[tuple[str, str], LoadedView]]:
    """The detector's exam from loaded views; two images of one view are refused, naming both files."""
    by_key: dict[tuple[str, str], LoadedView] = {}
    for view in loaded:
        if view.key in by_key:
            raise MammoError(f"exam {exam_id}: {Path(by_key[view.key].spec.path).name} and "
                             f"{Path(view.spec.path).name} are both {''.join(view.key)}")
        by_key[view.key] = view
    ids = {k: v.spec.image_id or Path(v.spec.path).name for k, v in by_key.items()}
    exam = exam_from_views(exam_id, {k: v.preprocessed for k, v in by_key.items()}, {}, {}, ids)
    return exam, by_key


# --- detection ---------------------------------------------------------------------------------------------------
def detect(models: Models, exams: Sequence[Exam]) -> tuple[list[pd.DataFrame], list[dict[str, str]]]:
    """IFN candidates of each exam (:func:`exam_candidates`: one row per candidate) and the modules that ran on
    each present view, from the detector run of notebook 04 (:func:`~mammo_lib.models.detection.inference.run_detector`)."""
    run = run_detector(models.detector, exams, branches=("ifn",), batch_size=max(1, len(exams)), top_k=TOP_K,
                       min_score=MIN_CANDIDATE_SCORE, device=models.device)
    tables, modules = [], []
    for exam in exams:
        tables.append(exam_candidates(exam, run.candidates[run.candidates["study_id"] == exam.study_id]))
        mine = run.views[run.views["study_id"] == exam.study_id] if len(run.views) else run.views
        modules.append(dict(zip(mine.get("view", []), mine.get("modules", []))))
    return tables, modules


def exam_candidates(exam: Exam, candidates: pd.DataFrame) -> pd.DataFrame:
    """One exam's IFN candidates (``view``, ``rank``, box ``x0..y1`` in the image's own pixels and ``score``, as
    :func:`~mammo_lib.models.detection.inference.run_detector` gives them and notebook 04's candidates table holds
    them) with the box in the 448 grid ``g*``, the box clipped to the image, and the nipple distance ``r`` of the
    box centre in the grid (fraction of its side) that :func:`pair_masses` pairs on.

    Boxes and scores are first rounded to :data:`~mammo_lib.vocab.DL_CANDIDATE_DECIMALS`, the precision of
    notebook 04's table and of ``mammo analyze``'s reports, so that both paths pair and classify the very same boxes (the classifier's score
    moves by about a point for a twentieth of a pixel's shift of a box on the twin's small images)."""
    columns = ["view", "rank", "gx0", "gy0", "gx1", "gy1", *BOX_COLUMNS, "score", "r"]
    size = exam.images.shape[-1]
    parts = []
    for v, name in enumerate(VIEW_NAMES):
        mine = candidates[candidates["view"] == name].sort_values("rank")
        if not exam.present[v] or mine.empty:
            continue
        transform = ViewTransform.from_dict(exam.transforms[v])
        boxes = mine[list(BOX_COLUMNS)].to_numpy(np.float64).round(DL_CANDIDATE_DECIMALS["box"])
        grid = transform.box_to_output(boxes)
        rows_, cols_ = transform.input_shape
        nipple = np.nan_to_num(exam.nipples[v].astype(np.float64), nan=size / 2)
        r = np.hypot(*(((grid[:, :2] + grid[:, 2:4]) / 2) - nipple).T) / size
        part = pd.DataFrame(grid, columns=["gx0", "gy0", "gx1", "gy1"])
        part[list(BOX_COLUMNS)] = np.clip(boxes, 0, [cols_, rows_, cols_, rows_])
        part.insert(0, "rank", mine["rank"].astype(int).to_numpy())
        part.insert(0, "view", name)
        part["score"] = mine["score"].astype(float).to_numpy().round(DL_CANDIDATE_DECIMALS["score"])
        part["r"] = r
        parts.append(part)
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def pair_masses(candidates: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Detected masses: candidates scoring at least ``threshold``, paired between the CC and MLO views of a breast
    by their distance to the nipple (the IDVN's geometry: a mass lies at about the same nipple distance on both).

    Pairs are chosen by minimum total difference of nipple distances (scipy ``linear_sum_assignment``) among pairs
    differing by at most :data:`PAIR_MAX_DIFFERENCE`; the rest are single-view masses. One row per mass view:
    ``mass`` (M1, M2, ... by decreasing best score), laterality, view and the candidate's columns.
    """
    from scipy.optimize import linear_sum_assignment

    found = candidates[candidates["score"] >= threshold]
    groups: list[list[int]] = []
    for lat in ("R", "L"):
        cc = found.index[found["view"] == f"{lat}CC"].to_list()
        mlo = found.index[found["view"] == f"{lat}MLO"].to_list()
        paired: set[int] = set()
        if cc and mlo:
            diff = np.abs(found.loc[cc, "r"].to_numpy()[:, None] - found.loc[mlo, "r"].to_numpy()[None, :])
            cost = np.where(diff <= PAIR_MAX_DIFFERENCE, diff, 1e6)
            for i, j in zip(*linear_sum_assignment(cost)):
                if diff[i, j] <= PAIR_MAX_DIFFERENCE:
                    groups.append([cc[i], mlo[j]])
                    paired |= {cc[i], mlo[j]}
        groups += [[i] for i in cc + mlo if i not in paired]
    groups.sort(key=lambda g: (-float(found.loc[g, "score"].max()), found.loc[g[0], "view"], int(found.loc[g[0], "rank"])))
    rows = []
    for n, group in enumerate(groups, start=1):
        for i in group:
            row = found.loc[i].to_dict()
            rows.append({"mass": f"M{n}", "laterality": row["view"][0], **row})
    columns = ["mass", "laterality", *candidates.columns]
    return pd.DataFrame(rows, columns=columns)


# --- classification ------------------------------------------------------------------------------------------
def classify_masses(models: Models, mass_views: pd.DataFrame, pixels: dict[str, np.ndarray]) -> pd.DataFrame:
    """Score detected masses from original-resolution patches cut around their boxes (``pixels``: view name ->
    image). Per mass: ``malignancy_score`` (0-100: mean of the views' logits minus the card's prior shift,
    sigmoid x 100), ``dl_positive`` (score >= the card's threshold) and each auxiliary head's class (mean of the
    views' probabilities) with its probability."""
    if mass_views.empty:
        return score_masses(models, mass_views, {})
    heads = predict_heads(models.classifier, mass_crops(models, mass_views, pixels), models.geometry)
    return score_masses(models, mass_views, heads)


def mass_crops(models: Models, mass_views: pd.DataFrame, pixels: dict[str, np.ndarray]) -> np.ndarray:
    """The classifier's context crops of each mass view (one row of ``mass_views`` each), cut at the image's own
    resolution around its box (:func:`~mammo_lib.models.classification.patches.context_crop`)."""
    return np.stack([context_crop(pixels[r.view], (r.x0, r.y0, r.x1, r.y1), models.geometry)
                     for r in mass_views.itertuples(index=False)])


def score_masses(models: Models, mass_views: pd.DataFrame, heads: dict[str, np.ndarray]) -> pd.DataFrame:
    """Masses scored from their views' classifier outputs ``heads`` (rows in the order of ``mass_views``, as
    :func:`~mammo_lib.models.classification.inference.predict_heads` gives them); see :func:`classify_masses`."""
    aux_cols = [c for h in AUX_HEADS for c in (h, f"{h}_probability")]
    if mass_views.empty:
        return pd.DataFrame(columns=["mass", "n_views", "malignancy_score", "dl_positive", *aux_cols])
    per_view = pd.DataFrame({"mass_id": mass_views["mass"].to_numpy(), "logit": heads[PRIMARY_HEAD]})
    order = list(dict.fromkeys(mass_views["mass"]))  # M1, M2, ... (combine_views sorts ids as text: M1, M10, M2)
    table = combine_views(per_view, float(models.classifier_card["prior_shift"])).set_index("mass_id").loc[order]
    out = pd.DataFrame({"mass": table.index, "n_views": table["n_views"].to_numpy(),
                        "malignancy_score": table["dl_score"].to_numpy()})
    out["dl_positive"] = out["malignancy_score"] >= float(models.classifier_card["threshold"])
    masses = mass_views["mass"].to_numpy()
    for head, classes in AUX_HEADS.items():
        probs = pd.DataFrame(heads[head], index=masses).groupby(level=0).mean().loc[out["mass"]]
        out[head] = np.asarray(classes, dtype=object)[probs.to_numpy().argmax(axis=1)]
        out[f"{head}_probability"] = probs.to_numpy().max(axis=1)
    return out


def find_masses(models: Models, candidates: pd.DataFrame,
                pixels: dict[str, np.ndarray]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """What follows the detector, shared by ``mammo analyze`` and notebook 05's system mode: the candidates of one
    exam (:func:`exam_candidates`) above the operating point paired into masses (:func:`pair_masses`), each scored
    from its views' patches (:func:`classify_masses`). Returns (mass views, scored masses)."""
    mass_views = pair_masses(candidates, models.detection_threshold)
    return mass_views, classify_masses(models, mass_views, pixels)


# --- one exam, end to end ------------------------------------------------------------------------------------
def analyze_loaded(models: Models, exam_id: str, loaded: Sequence[LoadedView]) -> dict[str, Any]:
    """The system's result for one exam of loaded views, as a JSON-safe dict (see :func:`analyze_exam`)."""
    return analyze_loaded_many(models, [(exam_id, loaded)])[0]


def analyze_loaded_many(models: Models, batch: Sequence[tuple[str, Sequence[LoadedView]]]) -> list[dict[str, Any]]:
    """The results of several exams of loaded views (``(exam id, views)`` each), their forward passes batched:
    the detector reads every exam's views in one batch and the classifier every detected mass view's patch
    (:func:`~mammo_lib.models.classification.inference.predict_heads`' chunks of 64). Each exam's result is the
    one :func:`analyze_loaded` gives it alone, up to the float rounding of a batched forward pass (the same code
    on CPU and GPU; ``tests/test_analyze_batched.py``)."""
    assembled = [assemble(exam_id, loaded) for exam_id, loaded in batch]
    tables, modules = detect(models, [exam for exam, _ in assembled])
    pixels = [{f"{k[0]}{k[1]}": v.pixels for k, v in by_key.items()} for _, by_key in assembled]
    mass_views = [pair_masses(t, models.detection_threshold) for t in tables]
    crops = [mass_crops(models, mv, px) for mv, px in zip(mass_views, pixels) if not mv.empty]
    heads = predict_heads(models.classifier, np.concatenate(crops), models.geometry) if crops else {}
    results, start = [], 0
    for (exam, by_key), candidates, mods, mv in zip(assembled, tables, modules, mass_views):
        mine = {k: v[start:start + len(mv)] for k, v in heads.items()}
        start += len(mv)
        results.append(_result(models, exam, by_key, candidates, mods, mv, score_masses(models, mv, mine)))
    return results


def _result(models: Models, exam: Exam, by_key: dict[tuple[str, str], LoadedView], candidates: pd.DataFrame,
            modules: dict[str, str], mass_views: pd.DataFrame, scored: pd.DataFrame) -> dict[str, Any]:
    """One exam's JSON-safe result from its detector and classifier outputs (see :func:`analyze_exam`)."""
    exam_id = exam.study_id
    notes = missing_view_notes(exam.present)
    missing = [VIEW_NAMES[v] for v in range(4) if not exam.present[v]]
    views = []
    for v, key in enumerate(STANDARD_VIEWS):
        if key not in by_key:
            continue
        lv = by_key[key]
        views.append({"view": VIEW_NAMES[v], "image_id": exam.image_ids[v], "file": Path(lv.spec.path).name,
                      "rows": int(lv.pixels.shape[0]), "columns": int(lv.pixels.shape[1]),
                      "modules": modules.get(VIEW_NAMES[v], ""),
                      "preprocessing_warnings": list(lv.preprocessed.warnings)})
    masses = []
    for m in scored.itertuples(index=False):
        mine = mass_views[mass_views["mass"] == m.mass]
        masses.append({
            "mass": m.mass, "laterality": str(mine["laterality"].iloc[0]), "n_views": int(m.n_views),
            "views": {r.view: {"image_id": exam.image_ids[VIEW_NAMES.index(r.view)],
                               "box": [round(float(c), 1) for c in (r.x0, r.y0, r.x1, r.y1)],
                               "detection_score": round(float(r.score), 4), "nipple_distance": round(float(r.r), 4)}
                      for r in mine.itertuples(index=False)},
            "malignancy_score": round(float(m.malignancy_score), 2), "dl_positive": bool(m.dl_positive),
            **{h: str(getattr(m, h)) for h in AUX_HEADS},
            **{f"{h}_probability": round(float(getattr(m, f"{h}_probability")), 3) for h in AUX_HEADS},
        })
    cands = [{"view": r.view, "rank": int(r.rank), "box": [round(float(c), 1) for c in (r.x0, r.y0, r.x1, r.y1)],
              "score": round(float(r.score), 4)} for r in candidates.itertuples(index=False)]
    if missing:
        notes = [f"views absent: {', '.join(missing)}"] + notes
    return {"exam": exam_id, "views": views, "missing_views": missing, "notes": notes,
            "detection_threshold": models.detection_threshold,
            "classification_threshold": float(models.classifier_card["threshold"]),
            "candidates": cands, "masses": masses, "models": models.provenance}


def analyze_exam(models: Models, spec: ExamSpec) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read, preprocess, detect, pair and classify one exam: (result dict, view name -> pixels for the overlay).

    The result holds the present views (file, size, modules that ran), the missing views and what they switched
    off, every IFN candidate (boxes in the image's own pixels), and each detected mass with its views' boxes and
    detection scores, its 0-100 malignancy score and call, and the auxiliary heads' morphology, margin, mass
    density and BI-RADS; and ``models``: what the models are, their training data and the intended use
    (:func:`mammo_lib.models.provenance.models_block`).
    """
    loaded = load_exam(spec)
    result = analyze_loaded(models, spec.exam_id, loaded)
    return result, {f"{lv.key[0]}{lv.key[1]}": lv.pixels for lv in loaded}


def load_exam(spec: ExamSpec) -> list[LoadedView]:
    """The 1-4 views of one exam, decoded once and preprocessed (:func:`load_view`); a bad count is refused."""
    if not 1 <= len(spec.views) <= 4:
        raise MammoError(f"exam {spec.exam_id}: {len(spec.views)} images; an exam has 1 to 4 (RCC, LCC, RMLO, LMLO)")
    return [load_view(v) for v in spec.views]


def analyze_exams(models: Models, specs: Sequence[ExamSpec]
                  ) -> list[tuple[dict[str, Any], dict[str, np.ndarray]] | MammoError]:
    """:func:`analyze_exam` of several exams with their forward passes batched (:func:`analyze_loaded_many`):
    per exam, in order, its (result, pixels) or the MammoError that its input raised. An exam whose files cannot
    be read or assembled fails alone; if the batched forward pass fails, each exam is run on its own, so that an
    error names its exam."""
    out: list[Any] = [None] * len(specs)
    ready: list[tuple[int, list[LoadedView]]] = []
    for i, spec in enumerate(specs):
        try:
            loaded = load_exam(spec)
            assemble(spec.exam_id, loaded)
        except MammoError as exc:
            out[i] = exc
            continue
        ready.append((i, loaded))
    if len(ready) > 1:
        try:
            results = analyze_loaded_many(models, [(specs[i].exam_id, loaded) for i, loaded in ready])
        except MammoError:
            results = None
        if results is not None:
            for (i, loaded), result in zip(ready, results):
                out[i] = (result, {f"{lv.key[0]}{lv.key[1]}": lv.pixels for lv in loaded})
            ready = []
    for i, loaded in ready:
        try:
            out[i] = (analyze_loaded(models, specs[i].exam_id, loaded),
                      {f"{lv.key[0]}{lv.key[1]}": lv.pixels for lv in loaded})
        except MammoError as exc:
            out[i] = exc
    return out


def mass_rows(result: dict[str, Any]) -> pd.DataFrame:
    """The per-exam CSV: one row per view of each detected mass (:data:`MASS_COLUMNS`)."""
    rows = []
    for m in result["masses"]:
        for view, v in m["views"].items():
            rows.append({"exam": result["exam"], "mass": m["mass"], "laterality": m["laterality"], "view": view,
                         "image_id": v["image_id"], **dict(zip(("x0", "y0", "x1", "y1"), v["box"])),
                         "detection_score": v["detection_score"], "nipple_distance": v["nipple_distance"],
                         "malignancy_score": m["malignancy_score"], "dl_positive": m["dl_positive"],
                         **{h: m[h] for h in AUX_HEADS}})
    return pd.DataFrame(rows, columns=list(MASS_COLUMNS))


# --- the overlay (paper Figures 4-6) ---------------------------------------------------------------------------
#: Longest side (pixels) of each view in the overlay: real mammograms are downsampled for display only.
OVERLAY_SIDE = 900


def overlay_image(result: dict[str, Any], pixels: dict[str, np.ndarray]) -> Any:
    """The exam's views in one row (RCC, LCC, RMLO, LMLO) with each detected mass as a red box labelled with
    its mass number, malignancy score and BI-RADS, like the paper's Figures 4-6 (a PIL image); below them one
    line of provenance and intended use (:func:`notice_strip`) when the result has its ``models`` block."""
    from PIL import Image, ImageDraw

    tiles = []
    for name in VIEW_NAMES:
        if name not in pixels:
            continue
        img = pixels[name]
        step = max(1, int(math.ceil(max(img.shape) / OVERLAY_SIDE)))
        small = np.clip(img[::step, ::step] * 255.0, 0, 255).astype(np.uint8)
        tile = Image.fromarray(small).convert("RGB")
        draw = ImageDraw.Draw(tile)
        draw.text((6, 4), name, fill=(255, 255, 0))
        for m in result["masses"]:
            v = m["views"].get(name)
            if v is None:
                continue
            x0, y0, x1, y1 = (c / step for c in v["box"])
            draw.rectangle([x0, y0, x1, y1], outline=(255, 0, 0), width=max(2, tile.width // 300))
            draw.text((x0, max(0, y0 - 12)), f"{m['mass']} {m['malignancy_score']:.0f} BI-RADS {m['birads']}",
                      fill=(255, 0, 0))
        tiles.append(tile)
    height = max(t.height for t in tiles)
    canvas = Image.new("RGB", (sum(t.width for t in tiles) + 8 * (len(tiles) - 1), height), (0, 0, 0))
    x = 0
    for t in tiles:
        canvas.paste(t, (x, 0))
        x += t.width + 8
    if result.get("models"):
        from mammo_lib.models.provenance import notice

        strip = notice_strip(notice(result["models"]), canvas.width)
        framed = Image.new("RGB", (canvas.width, canvas.height + strip.height), (0, 0, 0))
        framed.paste(canvas, (0, 0))
        framed.paste(strip, (0, canvas.height))
        canvas = framed
    return canvas


#: Largest and smallest font size (pixels) of the overlay's provenance line.
NOTICE_FONT = (18, 8)


def notice_strip(text: str, width: int) -> Any:
    """One line of ``text`` in yellow on black, as wide as ``width`` allows (font between :data:`NOTICE_FONT`
    sizes; below the smallest the line is cut at a word with an ellipsis, the whole text stays in the PNG's
    metadata, :func:`overlay_metadata`)."""
    from PIL import Image, ImageDraw, ImageFont

    largest, smallest = NOTICE_FONT
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    full = probe.textlength(text, font=ImageFont.load_default(size=largest))
    size = max(smallest, min(largest, int(largest * (width - 12) / max(full, 1.0))))
    font = ImageFont.load_default(size=size)
    words, line = text.split(" "), text
    while probe.textlength(line, font=font) > width - 12 and len(words) > 1:
        words.pop()
        line = " ".join(words).rstrip(",;") + " ..."
    strip = Image.new("RGB", (width, size + 10), (0, 0, 0))
    ImageDraw.Draw(strip).text((6, 4), line, fill=(255, 255, 0), font=font)
    return strip


def overlay_metadata(result: dict[str, Any]) -> Any:
    """PNG text chunks of the overlay (PNG keywords ``Disclaimer``, ``Software``, ``Source``): the intended use, the
    software, both weights with their sha256; None for a result without its ``models`` block."""
    from PIL.PngImagePlugin import PngInfo

    block = result.get("models")
    if not block:
        return None
    from mammo_lib.models.provenance import ROLES

    info = PngInfo()
    info.add_text("Disclaimer", block["intended_use"])
    info.add_text("Software", block["software"])
    info.add_text("Source", "; ".join(f"{role} {block[role]['name']} {block[role]['weights']} sha256 "
                                      f"{block[role]['sha256']}" for role in ROLES))
    return info

