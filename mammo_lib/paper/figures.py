"""Every plot: Figure 3's ROC curves, sensitivity by stratum, the audit's ROC-space check, a view with its DL
boxes (Figures 4-6), FROC curves and detection cases, the classifier's ROC, reliability diagram and example patches; shared helpers.

Plots use matplotlib with seaborn's theme and palette; one colour per rater everywhere. Figures are saved
with fixed metadata (no creation date, no software version) so that the same inputs give the same bytes.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mammo_lib.data.manifest import Manifest
from mammo_lib.errors import MammoError
from mammo_lib.validation import require_columns
from mammo_lib.paper.gallery import exam_views
from mammo_lib.vocab import BOX_COLUMNS, STANDARD_VIEWS

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn
    from matplotlib.figure import Figure

    from mammo_lib.models.classification.patches import PatchGeometry
    from mammo_lib.preprocess.geometry import PreprocessedView

#: Raters in plotting order (paper's Table 4 order) and their colours (seaborn "colorblind").
RATER_ORDER: tuple[str, ...] = ("junior_a", "junior_b", "senior", "dl", "dl_reference_boxes")
#: Rows drawn dashed: this companion's secondary rows (the classifier on reference boxes beside the system).
SECONDARY_RATERS: tuple[str, ...] = ("dl_reference_boxes",)


def _plt():
    """pyplot and seaborn with the house theme (the backend is left alone: inline in Jupyter, Agg headless)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid")
    return plt, sns


def _pyplot():
    """pyplot as it is (no theme change): the plots lifted out of the notebooks keep the style they were drawn in."""
    import matplotlib.pyplot as plt

    return plt


def rater_colours() -> dict[str, tuple[float, float, float]]:
    """One fixed colour per rater (seaborn's colourblind palette)."""
    _, sns = _plt()
    return dict(zip(RATER_ORDER, sns.color_palette("colorblind", len(RATER_ORDER))))


def name(rater: str) -> str:
    """The paper's name of a rater (:func:`mammo_lib.paper.tables.display_name`)."""
    from mammo_lib.paper.tables import display_name

    return display_name(rater)


def save_figure(fig: Figure, folder: str | Path, stem: str, pdf: bool = True) -> list[Path]:
    """Write ``stem.png`` (and ``stem.pdf``) with metadata that does not change between runs."""
    folder = Path(folder)
    paths = [folder / f"{stem}.png"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight", metadata={"Software": None})
    if pdf:
        paths.append(folder / f"{stem}.pdf")
        fig.savefig(paths[1], bbox_inches="tight", metadata={"CreationDate": None, "Producer": None,
                                                             "Creator": None})
    return paths


def plot_roc(curves: pd.DataFrame, published_auc: Mapping[str, float] | None = None, title: str = "") -> Figure:
    """Figure 3: empirical ROC curves (points joined by straight lines, whose area is the AUC) per rater.

    ``curves`` is :func:`mammo_lib.paper.tables.figure3_curves`; ``published_auc`` adds the paper's AUC to each label.
    """
    require_columns(curves, ["rater", "fpr", "tpr", "auc"], "curves")
    if curves.empty:
        raise MammoError("curves is empty: nothing to plot")
    plt, _ = _plt()
    colours = rater_colours()
    fig, ax = plt.subplots(figsize=(4.6, 4.4))
    ax.plot([0, 1], [0, 1], ls=":", color="0.6", lw=1)
    for rater in [r for r in RATER_ORDER if r in set(curves["rater"])]:
        c = curves[curves["rater"] == rater]
        label = f"{name(rater)} (AUC {c['auc'].iloc[0]:.3f}"
        if published_auc and rater in published_auc:
            label += f"; paper {published_auc[rater]:.3f}"
        ax.plot(c["fpr"], c["tpr"], marker="o" if len(c) < 12 else None, ms=3, lw=1.6,
                ls="--" if rater in SECONDARY_RATERS else "-", color=colours[rater], label=label + ")")
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel="1 - specificity", ylabel="Sensitivity",
           title=title or "ROC curves (Figure 3)")
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=7, frameon=True)
    fig.tight_layout()
    return fig


def plot_sensitivity_by_stratum(t3: pd.DataFrame, factor: str, published_t3: pd.DataFrame | None = None,
                                strata: Sequence[str] | None = None) -> Figure:
    """Detection sensitivity with 95% CIs per stratum of one factor and per detector; the paper's values
    (from Table 3's counts) as open markers when given."""
    rows = t3[(t3["factor"] == factor) & (t3["reference"] > 0)]
    if rows.empty:
        raise MammoError(f"Table 3 has no masses for factor {factor!r}")
    plt, _ = _plt()
    colours = rater_colours()
    order = list(strata) if strata else list(dict.fromkeys(rows["stratum"]))
    detectors = [d for d in ("junior_a", "junior_b", "dl") if d in set(rows["detector"])]
    fig, ax = plt.subplots(figsize=(1.3 + 1.1 * len(order), 3.4))
    width = 0.8 / len(detectors)
    for k, d in enumerate(detectors):
        r = rows[rows["detector"] == d].set_index("stratum").reindex(order)
        x = np.arange(len(order)) + (k - (len(detectors) - 1) / 2) * width
        ax.errorbar(x, 100 * r["sensitivity"], yerr=100 * np.abs(r[["lower", "upper"]].to_numpy().T -
                                                                   r["sensitivity"].to_numpy()),
                    fmt="o", ms=4, capsize=2, color=colours[d], label=name(d))
        if published_t3 is not None:
            p = published_t3[(published_t3["factor"] == factor) & (published_t3["detector"] == d)]
            p = p.set_index("stratum").reindex(order)
            ax.plot(x, 100 * p["sensitivity"], ls="none", marker="D", mfc="none", ms=5, color=colours[d])
    ax.set_xticks(np.arange(len(order)), order)
    ax.set(ylabel="Detection sensitivity (%)", xlabel=factor.replace("_", " "), ylim=(0, 105))
    handles, labels = ax.get_legend_handles_labels()
    if published_t3 is not None:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], ls="none", marker="D", mfc="none", color="0.3"))
        labels.append("paper (Table 3)")
    ax.legend(handles, labels, fontsize=7, loc="lower left")
    fig.tight_layout()
    return fig


def plot_auc_feasibility(rates: pd.DataFrame) -> Figure:
    """The audit in ROC space: per rater, the reported operating point (1 - spec, sens), the smallest area
    any ROC curve through it can have (shaded staircase, area sens x spec) and the reported AUC.

    ``rates`` has columns rater, sensitivity, specificity, auc (fractions).
    """
    require_columns(rates, ["rater", "sensitivity", "specificity", "auc"], "rates")
    plt, _ = _plt()
    colours = rater_colours()
    fig, axes = plt.subplots(1, len(rates), figsize=(2.6 * len(rates), 2.9), sharey=True, squeeze=False)
    for ax, (_, r) in zip(axes[0], rates.iterrows()):
        x, y = 1 - r["specificity"], r["sensitivity"]
        colour = colours.get(r["rater"], "0.3")
        ax.fill_between([x, 1], [y, y], color=colour, alpha=0.25, step=None, lw=0)
        ax.plot([0, x, x, 1, 1], [0, 0, y, y, 1], color=colour, lw=1.2)
        ax.plot([0, 1], [0, 1], ls=":", color="0.6", lw=1)
        ax.plot(x, y, "o", color=colour)
        floor = y * (1 - x)
        ax.set_title(f"{name(r['rater'])}\nreported AUC {r['auc']:.3f}\nminimum possible {floor:.3f}", fontsize=8)
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="1 - specificity")
        ax.set_aspect("equal")
    axes[0][0].set_ylabel("Sensitivity")
    fig.tight_layout()
    return fig


def draw_preprocess_input(ax: Any, pixels: np.ndarray, result: PreprocessedView) -> None:
    """Input image with the breast box, nipple and pectoral line in its own pixels (matplotlib axes)."""
    from matplotlib.patches import Rectangle

    h, w = pixels.shape
    ax.imshow(pixels, cmap="gray", vmin=0, vmax=1, extent=(0, w, h, 0))
    x0, y0, x1, y1 = result.breast_bbox
    ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="lime", lw=1))
    ax.plot(*result.nipple_input, "o", mfc="none", mec="red", ms=8, mew=1.5)
    if result.pectoral_input is not None:
        (px0, py0), (px1, py1) = result.pectoral_input
        ax.plot([px0, px1], [py0, py1], color="deepskyblue", lw=1.5)
    ax.set_axis_off()


def draw_preprocess_output(ax: Any, result: PreprocessedView) -> None:
    """Preprocessed array with the mask contour, nipple and pectoral line in output pixels."""
    n = result.size
    ax.imshow(result.array, cmap="gray", vmin=0, vmax=1, extent=(0, n, n, 0))
    ax.contour(np.arange(n) + 0.5, np.arange(n) + 0.5, result.breast_mask.astype(float), levels=[0.5],
               colors="lime", linewidths=0.8)
    ax.plot(*result.nipple, "o", mfc="none", mec="red", ms=8, mew=1.5)
    if result.pectoral is not None:
        (px0, py0), (px1, py1) = result.pectoral
        ax.plot([px0, px1], [py0, py1], color="deepskyblue", lw=1.5)
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    ax.set_axis_off()


def draw_view(ax: Any, image: np.ndarray, candidates: pd.DataFrame, truth: pd.DataFrame, *, title: str = "") -> None:
    """One view as in the paper's Figures 4-6: the image, DL boxes in red (with scores), ground truth in green.

    ``candidates`` and ``truth`` carry x0, y0, x1, y1 in the pixels of ``image``.
    """
    from matplotlib.patches import Rectangle

    ax.imshow(image, cmap="gray", interpolation="lanczos")
    for r in truth.itertuples(index=False):
        ax.add_patch(Rectangle((r.x0, r.y0), r.x1 - r.x0, r.y1 - r.y0, fill=False, ec="lime", lw=1.2, ls="--"))
    for r in candidates.itertuples(index=False):
        ax.add_patch(Rectangle((r.x0, r.y0), r.x1 - r.x0, r.y1 - r.y0, fill=False, ec="red", lw=1.4))
        ax.text(r.x0, r.y0 - 4, f"{r.score:.3f}", color="red", fontsize=7, va="bottom")
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()


def draw_score_roc(ax: Any, y_true: Any, score: Any, label: str) -> None:
    """One model's ROC curve on ``ax`` (scikit-learn ``roc_curve``) with its AUC in the legend, chance diagonal,
    square axes (notebook 05; Figure 3's curves of all raters are :func:`plot_roc`)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(np.asarray(y_true).astype(int), np.asarray(score, dtype=float))
    ax.plot(fpr, tpr, label=f"{label} (AUC {roc_auc_score(y_true, score):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1), aspect="equal")
    ax.legend(loc="lower right")


def draw_reliability(ax: Any, points: pd.DataFrame, brier: float) -> None:
    """Reliability diagram: observed malignant fraction against mean predicted probability per bin."""
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfect calibration")
    ax.plot(points["mean_predicted"], points["observed_fraction"], marker="o", label=f"DL (Brier {brier:.3f})")
    ax.set(xlabel="mean predicted probability of malignancy", ylabel="observed fraction malignant",
           xlim=(0, 1), ylim=(0, 1), aspect="equal")
    ax.legend(loc="upper left")


def plot_examples(crops: np.ndarray, geometry: PatchGeometry, examples: pd.DataFrame, records: pd.DataFrame) -> Any:
    """Gallery of :func:`mammo_lib.models.classification.inference.extreme_examples`: one row per kind, the
    centred patch of each mass's decisive view."""
    import matplotlib.pyplot as plt

    from mammo_lib.models.classification.patches import patch_from_context

    kinds = list(dict.fromkeys(examples["kind"]))
    n = int(examples.groupby("kind").size().max())
    fig, axes = plt.subplots(len(kinds), n, figsize=(2.2 * n, 2.5 * len(kinds)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for r, kind in enumerate(kinds):
        for c, (_, ex) in enumerate(examples[examples["kind"] == kind].iterrows()):
            record = records.iloc[int(ex["view_row"])]
            patch = patch_from_context(crops[int(ex["view_row"])].astype(np.float32), geometry)
            axes[r, c].imshow(patch, cmap="gray")
            axes[r, c].set_title(f"{ex['mass_id']} {record['view']}\nscore {ex['dl_score']:.1f}\n{record['histology']}",
                                 fontsize=7)
        axes[r, 0].text(-0.1, 0.5, kind, transform=axes[r, 0].transAxes, rotation=90, ha="right", va="center")
    fig.tight_layout()
    return fig


def plot_froc(curves: Mapping[str, Any], fpi_points: Sequence[float], title: str) -> Figure:
    """FROC curves (mass sensitivity against false positives per image, log axis), one step curve per label
    (``curves``: label -> :class:`mammo_lib.evaluation.detection.FROC`), with the reported FPI points marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for label, curve in curves.items():
        ax.step(curve.fpi, curve.sensitivity, where="post", label=label)
    for p in fpi_points:
        ax.axvline(p, color="0.85", lw=0.8, zorder=0)
    ax.set(xscale="log", xlim=(0.05, 4), ylim=(0, 1), xlabel="false positives per image", ylabel="mass sensitivity",
           title=title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_detection_examples(exams: Sequence[Any], candidates: pd.DataFrame, view_names: Sequence[str], *,
                            threshold: float, scored: bool) -> Figure:
    """Figures 4-6 style cases: one row per exam (:class:`mammo_lib.models.detection.data.Exam`), its four views with
    the IFN boxes at or above ``threshold`` (without truth: each view's best 3) and the reference boxes."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(exams), 4, figsize=(10, 2.7 * len(exams)), squeeze=False)
    for row, exam in zip(axes, exams):
        for v, ax in enumerate(row):
            if not exam.present[v]:
                ax.set_axis_off()
                continue
            c = candidates[(candidates["study_id"] == exam.study_id) & (candidates["view"] == view_names[v])]
            c = c[c["score"] >= threshold] if scored else c.nlargest(3, "score")
            t = pd.DataFrame(exam.boxes[v], columns=list(BOX_COLUMNS))
            label = f"density {exam.breast_density}" if scored else f"best IFN {c['score'].max():.3f}"
            draw_view(ax, exam.images[v].astype(np.float32), c, t, title=f"{exam.study_id} {view_names[v]} ({label})")
    from matplotlib.lines import Line2D

    kept = f"IFN score >= {threshold:.3f}" if scored else "the view's 3 best IFN boxes"
    fig.legend(handles=[Line2D([], [], color="red", lw=1.4, label=f"DL system box ({kept}), with its score"),
                        Line2D([], [], color="lime", lw=1.2, ls="--", label="ground truth (reference box)")],
               loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def plot_preprocess_pairs(views: Sequence[tuple[np.ndarray, PreprocessedView, str, str]], *, width: float,
                          height: float, fontsize: int = 9) -> Figure:
    """Preprocessing at a glance: one column per view, its input (breast box, nipple, pectoral line) above and its
    448 output (mask contour, nipple, pectoral line) below. ``views``: (input pixels, result, input title, output
    title; "" for none); ``width`` per column and ``height`` of the figure, in inches."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, len(views), figsize=(width * len(views), height), squeeze=False)
    for col, (pixels, result, top, bottom) in enumerate(views):
        draw_preprocess_input(axes[0, col], pixels, result)
        draw_preprocess_output(axes[1, col], result)
        if top:
            axes[0, col].set_title(top, fontsize=fontsize)
        if bottom:
            axes[1, col].set_title(bottom, fontsize=fontsize)
    fig.tight_layout()
    return fig


def plot_classifier_roc(y_true: Any, score: Any, label: str, title: str) -> Figure:
    """Figure 3's DL curve alone: one model's ROC (:func:`draw_score_roc`) in a square figure."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    draw_score_roc(ax, y_true, score, label)
    ax.set_title(title)
    return fig


def plot_reliability(points: pd.DataFrame, brier: float) -> Figure:
    """The classifier's reliability diagram (:func:`draw_reliability`) in a square figure."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    draw_reliability(ax, points, brier)
    return fig


def plot_score_by_type(masses: pd.DataFrame, threshold: float, histology_order: Sequence[str]) -> Figure:
    """The 0-100 malignancy score by histology (left) and by reference BI-RADS (right), benign and malignant apart,
    with the operating threshold dotted."""
    plt = _pyplot()
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    sns.boxplot(data=masses, y="histology", x="dl_score", hue="pathology", order=list(histology_order), ax=axes[0],
                fliersize=2)
    sns.boxplot(data=masses, x="birads", y="dl_score", hue="pathology", ax=axes[1], fliersize=2)
    axes[0].axvline(threshold, color="grey", linestyle=":", label=f"threshold {threshold:.1f}")
    axes[1].axhline(threshold, color="grey", linestyle=":")
    axes[0].set(xlabel="DL malignancy score (0-100)", ylabel="histology")
    axes[1].set(xlabel="reference BI-RADS", ylabel="DL malignancy score (0-100)")
    axes[0].legend(title="pathology", fontsize=8)
    fig.tight_layout()
    return fig


def plot_training_history(history: pd.DataFrame, metric_label: str, loss_label: str) -> Figure:
    """A training run's curves: the training loss (left) and the validation metric (right) per epoch (``history``:
    epoch, train_loss, val_metric, as a model card stores them)."""
    plt = _pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
    ax[0].plot(history["epoch"], history["train_loss"], marker="o")
    ax[0].set(xlabel="epoch", ylabel=loss_label, title="loss")
    ax[1].plot(history["epoch"], history["val_metric"], marker="o", color="C1")
    ax[1].set(xlabel="epoch", ylabel=metric_label, ylim=(0, 1), title="validation recall")
    fig.tight_layout()
    return fig


def plot_exam(manifest: Manifest, study_id: str, *, display_rows: int = 640) -> Figure:
    """One row of the four standard views of a study, every mass box of the findings table drawn in red."""
    from matplotlib.patches import Rectangle

    plt = _pyplot()

    views = exam_views(manifest, study_id)
    findings = manifest.findings
    fig, axes = plt.subplots(1, len(STANDARD_VIEWS), figsize=(12, 4.6), constrained_layout=True)
    for ax, (side, view) in zip(axes, STANDARD_VIEWS):
        ax.set_axis_off()
        ax.set_title(f"{side}{view}", fontsize=11)
        if (side, view) not in views:
            ax.text(0.5, 0.5, "no image", ha="center", va="center", transform=ax.transAxes)
            continue
        image = views[(side, view)]
        step = max(1, int(np.ceil(image.pixels.shape[0] / display_rows)))  # display only; boxes are rescaled
        ax.imshow(image.pixels[::step, ::step], cmap="gray", vmin=0.0, vmax=1.0, interpolation="lanczos")
        if findings is not None:
            for box in findings[findings["image_id"] == image.source].itertuples():
                if any(np.isnan(float(v)) for v in (box.x0, box.y0, box.x1, box.y1)):
                    continue
                ax.add_patch(Rectangle((box.x0 / step, box.y0 / step), (box.x1 - box.x0) / step,
                                       (box.y1 - box.y0) / step, fill=False, edgecolor="red", linewidth=1.2))
                ax.text(box.x0 / step, box.y0 / step - 4, f"{box.mass_id} BI-RADS {box.birads}", color="red",
                        fontsize=7, va="bottom")
    boxed = ", masses of the findings table boxed" if findings is not None else ""
    fig.suptitle(f"study {study_id}: the four standard views as stored{boxed}", fontsize=11)
    return fig


def plot_localisation(curve: Any, recall: pd.DataFrame, foms: pd.DataFrame, title: str) -> Figure:
    """The DL system as a localiser (notebook 12): its FROC curve (``curve``: a
    :class:`mammo_lib.evaluation.detection.FROC`) with the recall CIs at the FPI points (``recall``: fpi, recall,
    lower, upper) beside its figures of merit with their CIs (``foms``: fom, value, lower, upper)."""
    require_columns(recall, ["fpi", "recall", "lower", "upper"], "recall")
    require_columns(foms, ["fom", "value", "lower", "upper"], "foms")
    plt = _pyplot()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [3, 2]})
    ax.step(curve.fpi, curve.sensitivity, where="post", color="C3", label="DL system (IFN)")
    ax.errorbar(recall["fpi"], recall["recall"], yerr=[recall["recall"] - recall["lower"],
                                                       recall["upper"] - recall["recall"]],
                fmt="o", color="C3", capsize=3, label="recall, 95% CI")
    ax.set(xscale="log", xlim=(0.05, 4), ylim=(0, 1), xlabel="false marks per image", ylabel="mass sensitivity",
           title="FROC")
    ax.legend(loc="lower right")
    y = np.arange(len(foms))[::-1]
    bx.errorbar(foms["value"], y, xerr=[foms["value"] - foms["lower"], foms["upper"] - foms["value"]], fmt="o",
                color="C3", capsize=3)
    bx.set(yticks=y, yticklabels=list(foms["fom"]), xlim=(0, 1), xlabel="figure of merit, 95% CI",
           title="figures of merit")
    bx.axvline(0.5, color="0.7", lw=0.8, ls="--")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_power_curves(curves: pd.DataFrame, target: float = 0.8, title: str = "") -> Figure:
    """Power against the number of cases, one line per number of readers, one panel per comparison
    (``curves``: comparison, readers, cases, power), with the target power dashed (notebook 12's sizing)."""
    require_columns(curves, ["comparison", "readers", "cases", "power"], "curves")
    plt = _pyplot()
    comparisons = list(dict.fromkeys(curves["comparison"]))
    fig, axes = plt.subplots(1, len(comparisons), figsize=(4.5 * len(comparisons), 3.6), squeeze=False, sharey=True)
    for ax, comparison in zip(axes[0], comparisons):
        part = curves[curves["comparison"] == comparison]
        for readers, line in part.groupby("readers", sort=True):
            ax.plot(line["cases"], line["power"], label=f"{readers} readers")
        ax.axhline(target, color="0.5", lw=0.8, ls="--")
        ax.set(ylim=(0, 1), xlabel="cases (masses)", title=comparison)
        ax.legend(loc="lower right")
    axes[0][0].set_ylabel("power")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
