"""Every plot: Figure 3's ROC curves, sensitivity by stratum, the audit's ROC-space check, a view with its DL
boxes (Figures 4-6), the classifier's ROC, reliability diagram and example patches; shared helpers.

Plots use matplotlib with seaborn's theme and palette; one colour per rater everywhere. Figures are saved
with fixed metadata (no creation date, no software version) so that the same inputs give the same bytes.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mammo_lib import published, vocab
from mammo_lib.errors import MammoError
from mammo_lib.validation import require_columns

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn
    from matplotlib.figure import Figure

    from mammo_lib.models.classification.patches import PatchGeometry
    from mammo_lib.preprocess.geometry import PreprocessedView

#: Raters in plotting order (paper's Table 4 order) and their colours (seaborn "colorblind").
RATER_ORDER: tuple[str, ...] = ("junior_a", "junior_b", "senior", "dl")


def _plt():
    """pyplot and seaborn with the house theme (the backend is left alone: inline in Jupyter, Agg headless)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(context="paper", style="whitegrid")
    return plt, sns


def rater_colours() -> dict[str, tuple[float, float, float]]:
    """One fixed colour per rater (seaborn's colourblind palette)."""
    _, sns = _plt()
    return dict(zip(RATER_ORDER, sns.color_palette("colorblind", len(RATER_ORDER))))


def name(rater: str) -> str:
    """The paper's name of a rater."""
    return published.DISPLAY_NAMES.get(rater, rater)


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

    ``curves`` is :func:`mammo_lib.tables.figure3_curves`; ``published_auc`` adds the paper's AUC to each label.
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
                color=colours[rater], label=label + ")")
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


def example_exams(studies: Sequence[str], density: Mapping[str, str] | pd.Series, candidates: pd.DataFrame | None = None,
                  n: int = 3, dense: Sequence[str] = vocab.DENSE_BREAST) -> tuple[list[str], str]:
    """The exams of notebook 04's case figure, in ``studies`` order, and a sentence when the rule had to fall back.
    With truth (``candidates`` None): the first ``n`` exams of dense breasts, as the paper's Figures 4-6 show;
    without a dense breast among them, the first ``n`` exams (said). Without truth: the exams of the ``n``
    highest-scoring IFN candidates."""
    if candidates is not None:
        require_columns(candidates, ["branch", "study_id", "score"], "candidates")
        best = candidates[candidates["branch"] == "ifn"].groupby("study_id")["score"].max()
        top = set(best.sort_values(ascending=False, kind="stable").index[:n])
        return [s for s in studies if s in top], ""
    dense_ids = [s for s in studies if density[s] in set(dense)]
    if dense_ids:
        return dense_ids[:n], ""
    picked = list(studies[:n])
    return picked, (f"no dense ({'/'.join(dense)}) breast among the {len(studies)} evaluated exams (an empty stratum): "
                    f"the first {len(picked)} exams are shown")


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
        ax.text(r.x0, r.y0 - 4, f"{r.score:.2f}", color="red", fontsize=7, va="bottom")
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
