"""Teaching walkthroughs of notebook 11: why dense breasts hide masses, what a threshold does, a case browser.

* :func:`density_masking`: one mass (shape, margin, mass density, size) at one position of one breast, rendered
  by the twin's generator (:mod:`mammo_lib.synth`) with ACR density a, b, c and d, the same texture and noise
  streams each time; for each density its conspicuity (the readers' NPWE detectability), each simulated
  junior's chance of detecting it and seeded call, and the DL detector's score and call. Deterministic.
* :func:`operating_point` / :func:`threshold_view`: the DL score cut at a threshold gives one ROC point and one
  Table 4 row (:func:`mammo_lib.paper.tables.table4` with the DL call re-made at that threshold).
* :func:`case_view`: one study's four views with ground truth (green), DL boxes and scores (red) and the readers'
  calls per mass.
* :func:`threshold_slider`, :func:`case_browser`: the same views behind ipywidgets controls. In batch kernels
  (papermill, nbval; :data:`mammo_lib.progress.BATCH_ENV`) no kernel will answer a widget, so they store the views
  instead: every option pre-rendered into one self-contained HTML control (:func:`static_control`, a slider or a
  picker and a few lines of inline script, no network), so the executed notebook, static viewers that run its
  script and the run's HTML report show controls that work; where scripts do not run, the default view shows.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mammo_lib import published, vocab
from mammo_lib.paper import tables
from mammo_lib.errors import MammoError
from mammo_lib.progress import BATCH_ENV

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

#: The demonstration mass: an equal-density oval with a circumscribed margin, 12 mm (Table 1's commonest
#: morphology, mass density and a typical size), placed at mid-depth of a median-shaped breast.
DEMO_MASS = {"morphology": "oval", "margin": "circumscribed", "mass_density": "equal", "size_mm": 12.0}
DEMO_VENDOR = "Siemens"
MASKING_COLUMNS = ("breast_density", "view", "dense_area_fraction", "gland_share_at_mass", "snr", "junior_a_p_detect",
                   "junior_a_detected", "junior_b_p_detect", "junior_b_detected", "dl_score", "dl_detected")


def is_batch() -> bool:
    """True in batch kernels (papermill, nbval): widgets then show their static default view only."""
    return bool(os.environ.get(BATCH_ENV))


# --- density masking -----------------------------------------------------------------------------------
@dataclass
class MaskingDemo:
    """The rendered demonstration: per density the displayed views, breast and mass masks, and the table."""

    images: dict[tuple[str, str], np.ndarray]  # (density, view) -> displayed pixels in [0, 1]
    masks: dict[tuple[str, str], np.ndarray]  # (density, view) -> the mass's outline mask
    table: pd.DataFrame  # MASKING_COLUMNS, one row per density and view, plus the best-view row per density
    threshold: float  # the DL operating threshold (1 FPI on validation, from the model card)


def _median_breast(cfg: Any) -> Any:
    """A breast of median shape: the centre of every range of the generator's configuration."""
    from mammo_lib.synth import anatomy

    mid = lambda pair: float(sum(pair) / 2)  # noqa: E731 - centre of a (low, high) range
    return anatomy.BreastShape(nipple_depth_mm=float(cfg.nipple_depth_mm[0]), aspect=mid(cfg.aspect_range),
                               p=mid(cfg.outline_p), q=mid(cfg.outline_q), mlo_depth_ratio=mid(cfg.mlo_depth_ratio),
                               pectoral_top=mid(cfg.pectoral_top), pectoral_side=mid(cfg.pectoral_side),
                               contour_phase=(0.25, 0.5, 0.75), thickness_mm=float(cfg.thickness_mm[0]))


def _p_detect(params: Any, snr: float) -> float:
    """A simulated reader's chance of reporting a mass of this detectability (its internal noise is normal)."""
    from scipy.stats import norm

    if not params.detects:
        return 1.0
    return float(norm.cdf((math.sqrt(params.efficiency) * snr - params.threshold) / params.internal_noise))


def _masking_views(seed: int, spec: dict[str, Any], vendor: str) -> tuple[dict, dict, list[dict], list[tuple]]:
    """The numpy part of :func:`density_masking`: render, encode, display and preprocess the mass's views at each
    density; per density the displayed views, mass outlines, table rows and the detector's inputs
    ``(density, views, boxes, ids)``. Run at numpy's AVX2 level (:func:`mammo_lib.synth.generate.at_avx2_level`)."""
    from dataclasses import replace

    from mammo_lib.preprocess import preprocess_view
    from mammo_lib.synth import acquisition, anatomy, masses, phantom_v1, phantom_v2, readers
    from mammo_lib.synth.generate import canvas_size, place_mass, render_v2
    from mammo_lib.synth.config import VENDOR_BY_NAME, twin_config, view_pitch_mm

    cfg = twin_config()  # phantom v2, the twin's
    sp = view_pitch_mm(cfg, vendor)
    profile = replace(VENDOR_BY_NAME[vendor], pixel_spacing_mm=sp)  # the header carries the rendered pitch
    shape = _median_breast(cfg)
    rows, cols = canvas_size(shape, sp, profile.field_mm)
    geoms = {v: anatomy.view_geometry(shape, v, rows, cols, sp) for v in vocab.VIEW}
    rng = np.random.default_rng([seed, 11])
    mshape = masses.draw_mass_shape(float(spec["size_mm"]), spec["morphology"], spec["margin"], rng)
    r, psi, alpha = place_mass(geoms, float(spec["size_mm"]), [], rng)
    placed = {v: [phantom_v1.PlacedMass("DEMO-M1", mshape, spec["mass_density"], *anatomy.project_point(g, r, psi, alpha),
                                    0.0)] for v, g in geoms.items()}
    images, outlines, rows_out, inputs = {}, {}, [], []
    with tempfile.TemporaryDirectory() as tmp:
        for density in vocab.BREAST_DENSITY:
            views, boxes, ids = {}, {}, {}
            for vi, view in enumerate(vocab.VIEW):
                # the same random streams for every density: only the density's tissue (amount of dense
                # tissue, compressed thickness: VICTRE's per-density phantoms) changes
                target = phantom_v2.draw_target_dense(density, np.random.default_rng([seed, 13]))
                out = render_v2(cfg, geoms[view], vendor, density, shape.thickness_mm, placed[view], target,
                                np.random.default_rng([seed, 12, vi]))
                enc = acquisition.encode(out.presentation, out.breast, profile, full_range=True)
                dcm = Path(tmp) / f"{density}_{view}.dcm"
                tags = acquisition.ImageTags("DEMO", 50, f"DEMO-{density}", "20190401", "L", view,
                                             f"DEMO_{density}_{view}", seed, 1 + vi)
                acquisition.write_mg(dcm, enc, profile, tags, conformant=True)
                shown, spacing = readers.display_pixels(dcm)
                mask = out.mass_masks["DEMO-M1"]
                snr = abs(readers.npwe_snr(shown, out.breast, mask, spacing))
                gland = out.dense[mask].mean() if mask.any() else np.nan
                images[(density, view)], outlines[(density, view)] = shown, mask
                ys, xs = np.nonzero(mask)
                views[("L", view)] = preprocess_view(shown, laterality="L", view=view)
                boxes[("L", view)] = [[float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]]
                ids[("L", view)] = ["DEMO-M1"]
                rows_out.append({"breast_density": density, "view": view,
                                 "dense_area_fraction": float(out.dense[out.breast].mean()),
                                 "gland_share_at_mass": float(gland), "snr": snr})
            inputs.append((density, views, boxes, ids))
    return images, outlines, rows_out, inputs


def density_masking(seed: int = 20231027, mass: dict[str, Any] | None = None, vendor: str = DEMO_VENDOR,
                    weights: str = "") -> MaskingDemo:
    """Render the demonstration mass in breasts of density a-d and read it with the simulated juniors and the DL
    detector (shipped weights unless ``weights``). Same seed, same pixels and numbers on every CPU: the images
    are made at numpy's AVX2 level, as the twin's are (:func:`mammo_lib.synth.generate.at_avx2_level`)."""
    import torch

    from mammo_lib.models.detection.data import exam_from_views
    from mammo_lib.models.detection.inference import VIEW_NAMES, load_detector, run_detector
    from mammo_lib.paths import weights_dir
    from mammo_lib.synth import readers
    from mammo_lib.synth.config import READERS, VENDOR_BY_NAME
    from mammo_lib.synth.generate import at_avx2_level

    spec = {**DEMO_MASS, **(mass or {})}
    if vendor not in VENDOR_BY_NAME:
        raise MammoError(f"vendor must be one of {sorted(VENDOR_BY_NAME)}, got {vendor!r}")
    path = weights or str(weights_dir() / "detection.safetensors")
    model, card = load_detector(path)
    threshold = float(card["metrics"]["operating_threshold_1_fpi"])
    torch.manual_seed(seed)

    images, outlines, rows_out, inputs = at_avx2_level(_masking_views, seed, spec, vendor)
    exams = [exam_from_views(f"DEMO-{density}", views, boxes, ids, {k: f"DEMO_{density}_{k[1]}" for k in views},
                             density) for density, views, boxes, ids in inputs]
    run = run_detector(model, exams, branches=("ifn",), to_input=False).candidates
    table = pd.DataFrame(rows_out)
    dl_scores = []
    for exam in exams:
        for v, name in enumerate(VIEW_NAMES):
            if not exam.present[v]:
                continue
            from mammo_lib.evaluation.detection import centre_in_box

            cand = run[(run["study_id"] == exam.study_id) & (run["view"] == name)]
            hit = centre_in_box(cand[["x0", "y0", "x1", "y1"]].to_numpy(), exam.boxes[v]).any(axis=1) \
                if len(cand) else np.zeros(0, bool)
            dl_scores.append(float(cand["score"].to_numpy()[hit].max()) if hit.any() else 0.0)
    table["dl_score"] = dl_scores  # exams hold L CC then L MLO, the order of the rows
    table["dl_detected"] = table["dl_score"] >= threshold
    for name in vocab.DETECTION_READERS:
        table[f"{name}_p_detect"] = [_p_detect(READERS[name], s) for s in table["snr"]]
    # the mass as a reader or the DL system sees it: the better view (readers report a mass seen in either)
    best = table.groupby("breast_density", sort=False).agg(
        dense_area_fraction=("dense_area_fraction", "mean"), gland_share_at_mass=("gland_share_at_mass", "mean"),
        snr=("snr", "max"), dl_score=("dl_score", "max")).reset_index().assign(view="best of CC, MLO")
    best["dl_detected"] = best["dl_score"] >= threshold
    for name in vocab.DETECTION_READERS:
        best[f"{name}_p_detect"] = [_p_detect(READERS[name], s) for s in best["snr"]]
        # one mass, so each reader's first internal-noise draw: the same moment of attention for every density
        best[f"{name}_detected"] = [bool(readers.simulate(name, READERS[name], pd.Series([v], index=["DEMO-M1"]),
                                                          pd.Series([0.0], index=["DEMO-M1"]), seed=seed,
                                                          reference=pd.Series([0.0], index=["DEMO-M1"]))[0].iloc[0])
                                    for v in best["snr"]]
    table = pd.concat([table, best], ignore_index=True)
    return MaskingDemo(images, outlines, table[list(MASKING_COLUMNS)], threshold)


def plot_density_masking(demo: MaskingDemo, view: str = "CC", margin_mm: float = 18.0) -> Figure:
    """Top row: the whole view per density with the mass boxed; bottom row: the mass up close, with its
    detectability, the juniors' chances and the DL system's score."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from mammo_lib.synth.config import twin_config, view_pitch_mm

    sp = view_pitch_mm(twin_config(), DEMO_VENDOR)
    best = demo.table[demo.table["view"] != view].drop_duplicates("breast_density", keep="last") \
        .set_index("breast_density")
    fig, axes = plt.subplots(2, len(vocab.BREAST_DENSITY), figsize=(12, 7.2), gridspec_kw={"height_ratios": [1.4, 1]})
    half = int(round(margin_mm / sp))
    for col, density in enumerate(vocab.BREAST_DENSITY):
        image, mask = demo.images[(density, view)], demo.masks[(density, view)]
        ys, xs = np.nonzero(mask)
        cy, cx = int(ys.mean()), int(xs.mean())
        top, low = axes[0, col], axes[1, col]
        top.imshow(image, cmap="gray", vmin=0, vmax=1)
        top.add_patch(Rectangle((cx - half, cy - half), 2 * half, 2 * half, fill=False, ec="lime", lw=1))
        top.set_title(f"ACR density {density}", fontsize=11)
        crop = image[max(cy - half, 0):cy + half, max(cx - half, 0):cx + half]
        low.imshow(crop, cmap="gray", vmin=0, vmax=1)
        b = best.loc[density]
        low.set_title(f"SNR {b['snr']:.1f} | junior A {100 * b['junior_a_p_detect']:.1f}%, "
                      f"B {100 * b['junior_b_p_detect']:.1f}%\nDL score {b['dl_score']:.3f} "
                      f"({'found' if b['dl_detected'] else 'missed'} at {demo.threshold:.3f})", fontsize=9)
        for ax in (top, low):
            ax.set_axis_off()
    fig.suptitle(f"The same {DEMO_MASS['size_mm']:.0f} mm {DEMO_MASS['mass_density']}-density "
                 f"{DEMO_MASS['morphology']} {DEMO_MASS['margin']} mass in the same breast ({view} view shown; "
                 "readers and DL: best of CC and MLO)", fontsize=11)
    fig.tight_layout()
    return fig


# --- threshold, ROC point and Table 4's row -------------------------------------------------------------
def _with_threshold(masses: pd.DataFrame, threshold: float) -> pd.DataFrame:
    if "dl_score" not in masses:
        raise MammoError("mass table has no dl_score column (notebook 05 not run)")
    if not 0 <= threshold <= 100:
        raise MammoError(f"threshold must lie in 0-100 (the DL score's range), got {threshold!r}")
    score = pd.to_numeric(masses["dl_score"], errors="coerce")
    return masses.assign(dl_positive=score >= threshold)


def operating_point(masses: pd.DataFrame, threshold: float) -> pd.Series:
    """The DL system's Table 4 row when a score of at least ``threshold`` is called positive (AUC does not move)."""
    t4 = tables.table4(_with_threshold(masses, threshold))
    row = t4.set_index("rater").loc[tables.DL]
    return pd.Series({"threshold": float(threshold), "true_negative": int(row["true_negative"]),
                      "true_positive": int(row["true_positive"]), "accuracy": row["accuracy"],
                      "sensitivity": row["sensitivity"], "specificity": row["specificity"],
                      "fpr": 1 - row["specificity"], "auc": row["auc"]})


def threshold_view(masses: pd.DataFrame, threshold: float) -> tuple[Figure, pd.DataFrame]:
    """The DL system's ROC curve with the operating point at ``threshold`` (the readers' points beside it) and
    the DL row of Table 4 at that threshold beside the paper's."""
    import matplotlib.pyplot as plt

    from mammo_lib.paper import figures

    point = operating_point(masses, threshold)
    curves = tables.figure3_curves(masses)
    dl = curves[curves["rater"] == tables.DL]
    colours = figures.rater_colours()
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    auc = "not computed: fewer than 2 of a class" if np.isnan(point["auc"]) else f"{point['auc']:.3f}"
    ax.plot(dl["fpr"], dl["tpr"], color=colours.get(tables.DL), lw=1.5, label=f"DL system (AUC {auc})")
    t4 = tables.table4(masses).set_index("rater")
    for rater in (r for r in vocab.READERS if r in t4.index):
        ax.plot(1 - t4.loc[rater, "specificity"], t4.loc[rater, "sensitivity"], "s", ms=6,
                color=colours.get(rater), label=f"{figures.name(rater)} (BI-RADS 4A+)")
    ax.plot(point["fpr"], point["sensitivity"], "o", ms=10, mfc="none", mew=2, color="black",
            label=f"DL at score >= {threshold:g}")
    ax.plot([0, 1], [0, 1], ls=":", color="0.6", lw=0.8)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01),
           title=f"threshold {threshold:g}: sensitivity {point['sensitivity']:.3f}, specificity "
                 f"{point['specificity']:.3f}")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    paper = published.TABLE4[tables.DL]
    row = pd.DataFrame({
        "reproduced": [int(point["true_negative"]), int(point["true_positive"]), round(point["accuracy"], 3),
                       round(point["sensitivity"], 3), round(point["specificity"], 3), round(point["auc"], 3)],
        "published": [paper["negative"], paper["positive"], paper["accuracy"] / 100, paper["sensitivity"] / 100,
                      paper["specificity"] / 100, paper["auc"]],
    }, index=["true_negative", "true_positive", "accuracy", "sensitivity", "specificity", "auc"], dtype=object)
    row.index.name = f"DL row of Table 4 at score >= {threshold:g}"
    return fig, row


def threshold_sweep(masses: pd.DataFrame, thresholds: list[float]) -> pd.DataFrame:
    """:func:`operating_point` at each threshold (the table behind the slider)."""
    out = pd.DataFrame([operating_point(masses, t) for t in thresholds]).reset_index(drop=True)
    return out.astype({"true_negative": int, "true_positive": int})


# --- case browser --------------------------------------------------------------------------------------
def reader_calls(masses: pd.DataFrame, study_id: str) -> pd.DataFrame:
    """Per mass of a study: pathology, the readers' detections and BI-RADS, the DL detection and score."""
    rows = masses[masses["study_id"].astype(str) == str(study_id)]
    if rows.empty:
        raise MammoError(f"study_id {study_id!r} has no masses in the mass table")
    wanted = ["mass_id", "pathology", *[c for c in vocab.READER_COLUMNS if c in rows],
              *[c for c in ("dl_detected", "dl_max_score", "dl_score") if c in rows]]
    return rows[wanted].sort_values("mass_id").reset_index(drop=True).round(3)


def case_view(cohort: Any, candidates: pd.DataFrame | None, masses: pd.DataFrame, study_id: str,
              threshold: float, display_rows: int = 480, label: str = "") -> tuple[Figure, pd.DataFrame]:
    """One study's four views: ground-truth boxes (green, dashed), DL boxes scoring at least ``threshold``
    (red, with scores; IFN branch, image pixels), and the table of reader calls per mass. ``label`` names the
    study in the titles (default its study_id; a user's cohort shows "study 1", never its own ids)."""
    import matplotlib.pyplot as plt

    from mammo_lib.paper import figures
    from mammo_lib.paper.gallery import exam_views

    views = exam_views(cohort, study_id)
    findings = cohort.findings
    fig, axes = plt.subplots(1, len(vocab.STANDARD_VIEWS), figsize=(12, 4.4))
    for ax, key in zip(axes, vocab.STANDARD_VIEWS):
        if key not in views:
            ax.set_axis_off()
            ax.set_title(f"{''.join(key)}: no image", fontsize=9)
            continue
        image = views[key]
        step = max(1, int(np.ceil(image.pixels.shape[0] / display_rows)))
        scale = lambda f: f.assign(**{c: f[c] / step for c in ("x0", "y0", "x1", "y1")})  # noqa: E731
        truth = findings[findings["image_id"] == image.source] if findings is not None else pd.DataFrame()
        cand = pd.DataFrame(columns=["x0", "y0", "x1", "y1", "score"])
        if candidates is not None:
            cand = candidates[(candidates["image_id"] == image.source) & (candidates["branch"] == "ifn")
                              & (candidates["score"] >= threshold)]
        figures.draw_view(ax, image.pixels[::step, ::step], scale(cand), scale(truth[["x0", "y0", "x1", "y1"]]),
                  title=f"{label or study_id} {''.join(key)}")
    fig.suptitle("ground truth (green, dashed) and DL boxes at the operating threshold (red, score)", fontsize=10)
    fig.tight_layout()
    return fig, reader_calls(masses, study_id)


# --- widgets -------------------------------------------------------------------------------------------
#: Thresholds the stored slider offers besides the default (the 0-100 score).
STATIC_THRESHOLDS = (5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0)
#: Studies the stored case browser offers (each a pre-rendered figure in the notebook).
STATIC_STUDIES = 6


def frame_html(fig: Figure, table: pd.DataFrame, dpi: int = 80) -> str:
    """One view of a stored control: the figure as an embedded PNG (closed afterwards) and its table."""
    import base64
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    image = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='view' src='data:image/png;base64,{image}'/>{table.to_html()}"


def static_control(name: str, label: str, options: Sequence[str], frames: Sequence[str], value: int,
                   kind: str = "slider") -> str:
    """A self-contained HTML control over pre-rendered views: a range slider (``kind="slider"``) or a drop-down
    (``"picker"``) labelled ``label`` whose ``options`` select ``frames`` (HTML); ``value`` is shown first and is
    the only one visible where scripts do not run. ``name`` makes the element ids (unique per notebook)."""
    if len(options) != len(frames) or not frames:
        raise MammoError(f"static_control {name!r}: {len(options)} options for {len(frames)} views")
    if not 0 <= value < len(frames):
        raise MammoError(f"static_control {name!r}: value {value} is not one of the {len(frames)} views")
    if kind not in ("slider", "picker"):
        raise MammoError(f"static_control {name!r}: kind must be 'slider' or 'picker', got {kind!r}")
    import html

    uid = "mammo-" + "".join(ch if ch.isalnum() else "-" for ch in name)
    if kind == "slider":
        control = (f"<input id='{uid}-in' type='range' min='0' max='{len(frames) - 1}' step='1' value='{value}'/>"
                   f" <b id='{uid}-out'>{html.escape(options[value])}</b>")
    else:
        control = f"<select id='{uid}-in'>" + "".join(
            f"<option value='{i}'{' selected' if i == value else ''}>{html.escape(o)}</option>"
            for i, o in enumerate(options)) + f"</select><b id='{uid}-out'></b>"
    views = "".join(f"<div class='{uid}-view' style='display:{'block' if i == value else 'none'}'>{f}</div>"
                    for i, f in enumerate(frames))
    labels = "[" + ",".join('"' + html.escape(o).replace('"', "&quot;") + '"' for o in options) + "]"
    script = (f"<script>(function(){{var c=document.getElementById('{uid}-in'),o=document.getElementById('{uid}-out'),"
              f"v=document.getElementsByClassName('{uid}-view'),l={labels};function show(){{for(var i=0;i<v.length;i++)"
              f"{{v[i].style.display=(i==c.value)?'block':'none';}}if(o&&c.type=='range'){{o.textContent=l[c.value];}}}}"
              f"c.addEventListener('input',show);c.addEventListener('change',show);}})();</script>")
    note = ("<small>Stored by a batch run: every option below was drawn when the notebook ran; run the notebook in "
            "Jupyter for the live widget.</small>")
    return f"<div id='{uid}'><label>{html.escape(label)} {control}</label><br/>{note}{views}</div>{script}"


def _display_html(text: str) -> None:
    from IPython.display import HTML, display

    display(HTML(text))


def _show(fig: Figure, table: pd.DataFrame) -> None:
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)
    print(table.to_string())


def threshold_slider(masses: pd.DataFrame, threshold: float) -> Any:
    """A slider on the DL score threshold redrawing :func:`threshold_view`; in a batch kernel, the same views at
    ``threshold`` and :data:`STATIC_THRESHOLDS` stored as one HTML control (:func:`static_control`; returns None)."""
    if is_batch():
        values = sorted({round(float(threshold), 2), *STATIC_THRESHOLDS})
        frames = [frame_html(*threshold_view(masses, t)) for t in values]
        _display_html(static_control("threshold-slider", "DL score >=", [f"{t:g}" for t in values], frames,
                                     values.index(round(float(threshold), 2))))
        return None
    import ipywidgets as widgets

    slider = widgets.FloatSlider(value=threshold, min=0.0, max=100.0, step=0.5, description="DL score >=",
                                 continuous_update=False, style={"description_width": "initial"})
    return widgets.interactive(lambda t: _show(*threshold_view(masses, t)), t=slider)


def browse_studies(cohort: Any, masses: pd.DataFrame, limit: int) -> list[str]:
    """The studies the case browser offers, at most ``limit``: those with masses and all four views (sorted), then,
    on a cohort with fewer of them, the other studies with masses (their missing views are said in the figure)."""
    from mammo_lib.paper.gallery import four_view_studies

    with_masses = sorted(set(masses["study_id"].astype(str)))
    complete = [s for s in four_view_studies(cohort) if s in with_masses]
    return (complete + [s for s in with_masses if s not in complete])[:limit]


def case_browser(cohort: Any, candidates: pd.DataFrame | None, masses: pd.DataFrame, studies: list[str],
                 threshold: float, pseudonyms: bool = False) -> Any:
    """A study picker redrawing :func:`case_view`; in a batch kernel, the static view of the first study.
    ``pseudonyms``: the picker and titles say "study 1", "study 2", ... instead of the study ids (a user's
    cohort: its ids may be accession numbers)."""
    if not studies:
        raise MammoError("case_browser: no study to show")
    labels = {s: f"study {i}" if pseudonyms else s for i, s in enumerate(studies, start=1)}
    if is_batch():  # the first STATIC_STUDIES studies, pre-rendered into one stored picker
        shown = studies[:STATIC_STUDIES]
        frames = [frame_html(*case_view(cohort, candidates, masses, s, threshold, label=labels[s])) for s in shown]
        _display_html(static_control("case-browser", "study", [labels[s] for s in shown], frames, 0, kind="picker"))
        return None
    import ipywidgets as widgets

    # the picker holds positions, not ids: a widget's saved state never carries a user's study ids
    picker = widgets.Dropdown(options=[(labels[s], i) for i, s in enumerate(studies)], value=0, description="study")
    return widgets.interactive(lambda study: _show(*case_view(cohort, candidates, masses, studies[study], threshold,
                                                              label=labels[studies[study]])), study=picker)


# --- the senior's BI-RADS against the reference ------------------------------------------------------------
def birads_agreement(masses: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The reference BI-RADS (Table 1) against the senior's rating (Table 4's senior): their cross-table and a
    Markdown paragraph, computed, on how often they agree and why they cannot agree more on the twin. Table 4
    gives the senior fewer positive calls (4A-5) than Table 1 has masses of 4A-5
    (:func:`mammo_lib.synth.readers.forced_disagreement`), so a cohort reproducing both tables must have the senior
    rate many reference 4A-5 masses 3 or lower."""
    from mammo_lib.synth.readers import forced_disagreement

    missing = [c for c in ("birads", "senior_birads") if c not in masses.columns]
    if missing:
        raise MammoError(f"birads_agreement: the mass table has no {', '.join(missing)} column")
    ref, senior = masses["birads"].astype(str), masses["senior_birads"].astype(str)
    order = [c for c in vocab.BIRADS if c in set(ref) | set(senior)]
    table = pd.crosstab(pd.Categorical(ref, order), pd.Categorical(senior, order), rownames=["reference"],
                        colnames=["senior"], dropna=False)
    rank = vocab.BIRADS_RANK
    agree = int((ref == senior).sum())
    lower = int((senior.map(rank) < ref.map(rank)).sum())
    higher = int((senior.map(rank) > ref.map(rank)).sum())
    ref_pos, senior_pos = ref.isin(vocab.BIRADS_POSITIVE), senior.isin(vocab.BIRADS_POSITIVE)
    demoted = int((ref_pos & ~senior_pos).sum())
    forced = forced_disagreement()
    text = (f"The senior's BI-RADS equals the reference BI-RADS for **{agree} of {len(masses)}** masses; it is lower "
            f"for {lower} and higher for {higher}. The paper forces most of this: Table 1 gives "
            f"{forced['reference_4a_to_5']} masses a reference BI-RADS of 4A-5, but Table 4 gives the senior "
            f"radiologists only {forced['senior_positive_calls']} positive calls (4A-5: true plus false positives), "
            f"so at least {forced['min_4a_to_5_rated_below_4a']} reference 4A-5 masses must be rated 3 or lower by "
            f"the senior in any cohort that reproduces both tables. Here {demoted} are: the twin's senior keeps the "
            "reference's order of suspicion but moves masses down across the 3/4A cut fitted to Table 4. Agreement "
            "per reference category: " + ", ".join(
                f"{c} {int(table.loc[c, c]) if c in table.columns else 0}/{int(table.loc[c].sum())}"
                for c in order if table.loc[c].sum()) + ".")
    return table, text
