"""A stricter two-sample test of the twin against real mammograms (issue 29): more features, a second classifier.

:func:`mammo_lib.synth.likeness.two_sample_auc` tells real from synthetic patches with a random forest on
scale-free texture features (band-pass energies, gradients, coherence). An independent check told the twin's
patches from real ones far more easily than that measure did: the difference lay in the grey-level distribution
and in micro-texture. This module adds, on the *same* patches (same positions, same seeds):

* intensity-histogram shape: quantiles (5, 25, 50, 75, 95 %) of the patch standardised by its own mean and SD,
  the share of pixels beyond 2 SD, and the entropy of its 16-bin histogram over +-3 SD;
* micro-texture: histograms of rotation-invariant uniform local binary patterns (Ojala, Pietikainen & Maenpaa,
  IEEE TPAMI 2002;24:971), scikit-image's ``local_binary_pattern(method="uniform")`` with 8 neighbours on
  circles of radius 1 and 2 (codes 0-8 for the uniform patterns, 9 for the rest), computed on the breast's grey
  levels quantised to 12 bits (scikit-image asks for integer images: float noise would flip ties);

and a second classifier (scikit-learn ``HistGradientBoostingClassifier``, fixed seed) beside the random forest.
:func:`auc_table` reports the cross-validated AUC per real source and overall, for the old features and the
strict ones, with both classifiers (images as groups, as :func:`likeness.two_sample_auc`). The gradient
boosting runs on one OpenMP thread (threadpoolctl): on a shared, loaded machine its default thread pool spins
for minutes on these few hundred patches.
"""
from __future__ import annotations


import numpy as np
import pandas as pd
from scipy import stats

from mammo_lib.errors import MammoError
from mammo_lib.synth import likeness

#: LBP circle radii (pixels of the common grid) and neighbours per circle.
LBP_RADII = (1, 2)
LBP_POINTS = 8
#: Grey levels the breast's range is quantised to before the LBP (a 12-bit detector's).
LBP_GREY_LEVELS = 4096
#: Names of the features :func:`strict_extra` appends to :func:`mammo_lib.synth.likeness.patch_features`'.
EXTRA_FEATURES = (("q05", "q25", "q50", "q75", "q95", "beyond_2sd", "entropy16")
                  + tuple(f"lbp{r}_{c}" for r in LBP_RADII for c in range(LBP_POINTS + 2)))
CLASSIFIERS = ("random forest", "gradient boosting")
#: The two feature sets of :func:`auc_table`, in its order.
FEATURE_SETS = ("texture (first test)", "strict (+ histogram shape, LBP)")
#: Columns of :func:`auc_table`.
TABLE_COLUMNS = ("source", "features", "classifier", "auc", "real_images", "synthetic_images", "goal", "met")
ALL_REAL = "all real"


def lbp_codes(a: np.ndarray, radius: int = 1) -> np.ndarray:
    """Rotation-invariant uniform LBP code (0 to 9) of every pixel of the integer image ``a``
    (scikit-image ``local_binary_pattern(a, 8, radius, "uniform")``): the 8 neighbours on the circle of
    ``radius`` (bilinear), a bit 1 where a neighbour is >= the centre; at most two 0/1 transitions around the
    circle: the number of ones, else 9. Pixels within ``radius`` of the edge read outside the image: do not use
    them."""
    from skimage.feature import local_binary_pattern

    a = np.asarray(a)
    if a.ndim != 2 or radius < 1 or min(a.shape) <= 2 * radius:
        raise MammoError(f"lbp_codes: need a 2-D array wider than 2 x radius {radius}, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise MammoError(f"lbp_codes: need an integer image (quantise it first), got dtype {a.dtype}")
    return local_binary_pattern(a, LBP_POINTS, radius, method="uniform").astype(np.int64)


def grey_levels(view: likeness.CommonView, levels: int = LBP_GREY_LEVELS) -> np.ndarray:
    """``view.array`` as integers 0 to ``levels - 1`` over its range inside the breast (clipped outside it)."""
    inside = view.array[view.mask] if view.mask.any() else view.array.ravel()
    lo, hi = float(inside.min()), float(inside.max())
    scaled = (view.array.astype(np.float64) - lo) / max(hi - lo, 1e-12) * (levels - 1)
    return np.rint(np.clip(scaled, 0, levels - 1)).astype(np.int32)


def _histogram_shape(p: np.ndarray) -> list[float]:
    z = (p - p.mean()) / (float(p.std()) or 1e-6)
    hist, _ = np.histogram(np.clip(z, -3.0, 3.0), bins=16, range=(-3.0, 3.0))
    return [*np.percentile(z, [5, 25, 50, 75, 95]).tolist(), float((np.abs(z) > 2.0).mean()),
            float(stats.entropy(hist))]


def strict_extra(view: likeness.CommonView, n_patches: int = 24, size: int = 32, seed: int = 0) -> np.ndarray:
    """Histogram-shape and LBP features of the patches :func:`likeness.patch_features` draws (same arguments,
    same positions; rows: patches, columns: :data:`EXTRA_FEATURES`)."""
    ys, xs = likeness.patch_centres(view, n_patches, size, seed)
    if len(ys) == 0:
        return np.zeros((0, len(EXTRA_FEATURES)))
    grey = grey_levels(view)
    codes = {}
    for r in LBP_RADII:
        c = lbp_codes(grey, r)
        c[:r], c[-r:], c[:, :r], c[:, -r:] = -1, -1, -1, -1  # these read outside the image
        codes[r] = c
    h = size // 2
    rows = []
    for y, x in zip(ys, xs):
        sl = (slice(y - h, y + h), slice(x - h, x + h))
        feats = _histogram_shape(view.array[sl].astype(np.float64))
        for r in LBP_RADII:
            c = codes[r][sl].ravel()
            c = c[c >= 0]
            feats += (np.bincount(c, minlength=LBP_POINTS + 2) / max(len(c), 1)).tolist()
        rows.append(feats)
    return np.asarray(rows, dtype=np.float64)


def features(images: list[tuple[str, object]], seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Per ``(label, MammoImage)``: its label, the old patch features (as :func:`likeness.measure` gives them,
    seed ``seed + i``) and the strict ones (old + :data:`EXTRA_FEATURES`, same patches)."""
    out = []
    for i, (label, image) in enumerate(images):
        view = likeness.common_view(image)
        old = likeness.patch_features(view, seed=seed + i)
        out.append((label, old, np.hstack([old, strict_extra(view, seed=seed + i)]) if len(old) else old))
    return out


def two_sample_auc(features_a: list[np.ndarray], features_b: list[np.ndarray], classifier: str = "random forest",
                   n_splits: int = 4, seed: int = 0) -> float:
    """Cross-validated ROC AUC telling set a's patches from set b's (one array per image, images as groups):
    ``classifier`` "random forest" is :func:`likeness.two_sample_auc`; "gradient boosting" is scikit-learn's
    HistGradientBoostingClassifier (default settings, ``random_state=seed``) on one thread, the same folds."""
    if classifier not in CLASSIFIERS:
        raise MammoError(f"two_sample_auc: classifier must be one of {CLASSIFIERS}, got {classifier!r}")
    from threadpoolctl import threadpool_limits

    if classifier == "random forest":
        with threadpool_limits(limits=1):
            return likeness.two_sample_auc(features_a, features_b, n_splits=n_splits, seed=seed)
    from sklearn.ensemble import HistGradientBoostingClassifier

    with threadpool_limits(limits=1):
        return likeness.two_sample_auc(features_a, features_b, n_splits=n_splits, seed=seed,
                                       classifier=HistGradientBoostingClassifier(random_state=seed))


def auc_table(real: list[tuple[str, np.ndarray, np.ndarray]], synthetic: list[tuple[str, np.ndarray, np.ndarray]],
              seed: int = 0, goal: float = likeness.GOAL_TWO_SAMPLE_AUC) -> pd.DataFrame:
    """Two-sample AUC, real against ``synthetic`` patches (both as :func:`features` gives them), per real source
    (the labels of ``real``, sorted) and for all real images together (:data:`ALL_REAL`); old and strict
    features (:data:`FEATURE_SETS`); both classifiers. Columns: :data:`TABLE_COLUMNS` (``met``: auc <= goal)."""
    if not real or not synthetic:
        raise MammoError(f"auc_table: need real and synthetic images, got {len(real)} real and "
                         f"{len(synthetic)} synthetic")
    sources = sorted({label for label, _, _ in real}) + [ALL_REAL]
    rows = []
    for source in sources:
        chosen = [r for r in real if source == ALL_REAL or r[0] == source]
        for k, name in enumerate(FEATURE_SETS, start=1):
            for classifier in CLASSIFIERS:
                auc = two_sample_auc([r[k] for r in chosen], [s[k] for s in synthetic], classifier, seed=seed)
                rows.append({"source": source, "features": name, "classifier": classifier, "auc": auc,
                             "real_images": len(chosen), "synthetic_images": len(synthetic), "goal": goal,
                             "met": bool(auc <= goal)})
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def goal_sentence(table: pd.DataFrame) -> str:
    """Markdown: the strict measure's AUC per source and classifier beside the old one, and whether the goal is
    met (by every classifier) for each source and for all real images."""
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing or table.empty:
        raise MammoError(f"goal_sentence: need a non-empty auc_table, missing columns {missing}")
    goal = float(table["goal"].iloc[0])
    strict = table[table["features"] == FEATURE_SETS[1]]
    old = table[table["features"] == FEATURE_SETS[0]].set_index(["source", "classifier"])["auc"]
    parts = []
    for source, g in strict.groupby("source", sort=False):
        aucs = ", ".join(f"{r.classifier} {r.auc:.3f} (old features {old.loc[(source, r.classifier)]:.3f})"
                         for r in g.itertuples())
        worst = float(g["auc"].max())
        verdict = "met" if g["met"].all() else f"missed by {worst - goal:.3f}"
        parts.append(f"{source}, {int(g['real_images'].iloc[0])} real images: {aucs}; goal {verdict}")
    overall = strict[strict["source"] == ALL_REAL]
    met = bool(len(overall)) and bool(overall["met"].all())
    return (f"By the strict measure (AUC at most {goal:.3f} by every classifier), against "
            f"{int(strict['synthetic_images'].iloc[0])} twin images: " + "; ".join(parts) + ". "
            + ("**The strict goal is met for all real images together.**" if met else
               "**The strict goal is not met for all real images together.**"))


def plot_auc(table: pd.DataFrame):
    """Bars: the AUC per real source, feature set and classifier (:func:`auc_table`), with the goal as a line."""
    import matplotlib.pyplot as plt

    sources = list(dict.fromkeys(table["source"]))
    combos = [(f, c) for f in FEATURE_SETS for c in CLASSIFIERS]
    fig, ax = plt.subplots(figsize=(9.5, 3.6))
    width = 0.8 / len(combos)
    colours = ("#9ecae1", "#3182bd", "#fdae6b", "#e6550d")
    for j, (f, c) in enumerate(combos):
        rows = table[(table["features"] == f) & (table["classifier"] == c)].set_index("source").reindex(sources)
        ax.bar(np.arange(len(sources)) + (j - (len(combos) - 1) / 2) * width, rows["auc"], width,
               color=colours[j % len(colours)], label=f"{f}, {c}")
    ax.axhline(float(table["goal"].iloc[0]), color="k", ls="--", lw=1, label="goal (at most)")
    ax.axhline(0.5, color="0.6", ls=":", lw=1, label="chance")
    ax.set_xticks(range(len(sources)), sources)
    ax.set_ylim(0.4, 1.0)
    ax.set_ylabel("two-sample AUC, real vs twin")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the bars
    fig.tight_layout()
    return fig
