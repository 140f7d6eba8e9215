"""Realism checks of a generated cohort, measured on the written images, and the cohort's figures.

Three measurements test whether the twin behaves like mammograms where the paper's analyses need it: the
power-law exponent beta of the parenchymal background (against the literature's range, ``SynthConfig.beta_range``),
the dense area fraction per ACR density (expected to rise a -> d), and the masses' conspicuity (NPWE
detectability, :func:`mammo_lib.synth.readers.npwe_snr`) per density (expected to fall a -> d, dense breasts
hiding masses). They are measurements, not guarantees: notebook 02 reports, from each run, which of these
expectations the twin meets.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from mammo_lib import vocab
from mammo_lib.errors import MammoError
from mammo_lib.synth import texture
from mammo_lib.synth.readers import display_pixels, observer_snr
from mammo_lib.synth.store import CohortFiles, load_view_truth


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold (maximal between-class variance) of a 1-D sample; Otsu, IEEE SMC 1979;9:62."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size < 2 or not np.isfinite(values).all():
        raise MammoError(f"otsu_threshold: need at least 2 finite values, got {values.size}")
    hist, edges = np.histogram(values, bins=bins)
    centres = 0.5 * (edges[:-1] + edges[1:])
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1)
    m1 = (np.sum(hist * centres) - np.cumsum(hist * centres)) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(centres[int(np.argmax(between[:-1]))])


def background_roi(breast: np.ndarray, exclude: np.ndarray, size: int) -> tuple[int, int] | None:
    """Top-left (y, x) of a ``size`` square fully inside the breast, away from ``exclude``; the most central one."""
    usable = ndimage.binary_erosion(breast & ~exclude, iterations=4)
    # a square fits where the square's sum of usable pixels is full: box filter on the usable map
    box = ndimage.uniform_filter(usable.astype(np.float32), size=size, mode="constant")
    ok = box > 1.0 - 1e-3
    if not ok.any():
        return None
    ys, xs = np.nonzero(ok)
    cy, cx = np.mean(ys), np.mean(xs)
    i = int(np.argmin((ys - cy) ** 2 + (xs - cx) ** 2))
    return int(ys[i] - size // 2), int(xs[i] - size // 2)


#: Side (mm) of the square background region in which :func:`measure_views` measures beta. Choice.
BACKGROUND_ROI_MM = 40.0


def measure_views(files: CohortFiles, image_ids: list[str], roi_mm: float = BACKGROUND_ROI_MM) -> pd.DataFrame:
    """Per view: ACR density, beta of a background region, and the dense area fraction found by Otsu."""
    manifest = pd.read_csv(files.manifest).set_index("image_id")
    findings = pd.read_csv(files.findings)
    rows = []
    for image_id in image_ids:
        if image_id not in manifest.index:
            raise MammoError(f"measure_views: image_id {image_id!r} is not in {files.manifest.name}")
        image, spacing = display_pixels(files.root / manifest.loc[image_id, "image_path"])
        truth = load_view_truth(files.root, image_id, findings)
        exclude = np.zeros_like(truth.breast_mask)
        for m in truth.mass_masks.values():
            exclude |= ndimage.binary_dilation(m, iterations=int(10 / spacing))
        if truth.pectoral is not None:  # the pectoral muscle and a margin around it
            x0, _, _, y1 = truth.pectoral
            yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
            cols = image.shape[1]
            chest_x = 0.0 if truth.pectoral[2] == 0.0 else cols - 1.0
            a = abs(x0 - chest_x) + 15 / spacing
            exclude |= np.abs(xx - chest_x) / a + yy / (y1 + 15 / spacing) < 1.0
        size = int(roi_mm / spacing)
        corner = background_roi(truth.breast_mask, exclude, size)
        beta = np.nan
        if corner is not None:
            roi = image[corner[0]:corner[0] + size, corner[1]:corner[1] + size]
            beta = texture.power_law_exponent(roi, spacing)
        inner = ndimage.binary_erosion(truth.breast_mask, iterations=int(5 / spacing)) & ~exclude
        values = image[inner]
        dense = float((values > otsu_threshold(values)).mean()) if values.size > 100 else np.nan
        rows.append({"image_id": image_id, "breast_density": manifest.loc[image_id, "breast_density"],
                     "vendor": manifest.loc[image_id, "vendor"], "beta": beta, "dense_area_fraction": dense,
                     "true_dense_fraction": truth.dense_area_fraction})
    return pd.DataFrame(rows)


def views_by_density(files: CohortFiles, per_density: int = 1, view: str = "MLO", seed: int = 0) -> list[tuple[str, str]]:
    """Pick ``per_density`` image ids of ``view`` with a mass for each ACR density (deterministic in ``seed``)."""
    manifest = pd.read_csv(files.manifest)
    with_mass = set(pd.read_csv(files.findings)["image_id"])
    on_disk = manifest["image_path"].map(lambda p: (files.root / p).is_file())
    chosen = []
    for density in vocab.BREAST_DENSITY:
        pool = manifest[(manifest["breast_density"] == density) & (manifest["view"] == view)
                        & manifest["image_id"].isin(with_mass) & on_disk]
        for image_id in pool.sample(n=min(per_density, len(pool)), random_state=seed)["image_id"]:
            chosen.append((density, image_id))
    return chosen


def mass_crop(files: CohortFiles, mass_id: str, image_id: str, margin_mm: float = 12.0) -> np.ndarray:
    """The displayed pixels around one mass in one view (for galleries)."""
    manifest = pd.read_csv(files.manifest).set_index("image_id")
    findings = pd.read_csv(files.findings)
    row = findings[(findings["mass_id"] == mass_id) & (findings["image_id"] == image_id)]
    if row.empty:
        raise MammoError(f"mass_crop: no finding {mass_id!r} in {image_id!r}")
    image, spacing = display_pixels(files.root / manifest.loc[image_id, "image_path"])
    r = row.iloc[0]
    pad = int(margin_mm / spacing)
    cy, cx = (r["y0"] + r["y1"]) // 2, (r["x0"] + r["x1"]) // 2
    half = max(r["x1"] - r["x0"], r["y1"] - r["y0"]) // 2 + pad
    return image[max(0, cy - half):cy + half, max(0, cx - half):cx + half]


def plot_views(files: CohortFiles, image_ids: list[tuple[str, str]], boxes: bool = True):
    """A row of displayed views with their mass boxes; titles are the given labels."""
    import matplotlib.pyplot as plt

    manifest = pd.read_csv(files.manifest).set_index("image_id")
    findings = pd.read_csv(files.findings)
    fig, axes = plt.subplots(1, len(image_ids), figsize=(3.2 * len(image_ids), 4.2))
    for ax, (label, image_id) in zip(np.atleast_1d(axes), image_ids):
        image, _ = display_pixels(files.root / manifest.loc[image_id, "image_path"])
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        if boxes:
            for _, f in findings[findings["image_id"] == image_id].iterrows():
                ax.add_patch(plt.Rectangle((f["x0"] - 0.5, f["y0"] - 0.5), f["x1"] - f["x0"], f["y1"] - f["y0"],
                                           fill=False, ec="tab:red", lw=1))
        ax.set_title(f"{label}\n{image_id} ({manifest.loc[image_id, 'vendor']})", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_pair(files: CohortFiles, mass_id: str):
    """CC and MLO of one mass side by side, the mass boxed and its distance to the nipple drawn in both."""
    import matplotlib.pyplot as plt

    manifest = pd.read_csv(files.manifest).set_index("image_id")
    findings = pd.read_csv(files.findings)
    rows = findings[findings["mass_id"] == mass_id].sort_values("image_id")
    if len(rows) != 2:
        raise MammoError(f"plot_pair: mass {mass_id!r} is not in exactly two views")
    fig, axes = plt.subplots(1, 2, figsize=(8, 5))
    for ax, (_, f) in zip(axes, rows.iterrows()):
        image, spacing = display_pixels(files.root / manifest.loc[f["image_id"], "image_path"])
        truth = load_view_truth(files.root, f["image_id"], findings)
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.add_patch(plt.Rectangle((f["x0"] - 0.5, f["y0"] - 0.5), f["x1"] - f["x0"], f["y1"] - f["y0"],
                                   fill=False, ec="tab:red", lw=1.2))
        cx, cy = (f["x0"] + f["x1"] - 1) / 2, (f["y0"] + f["y1"] - 1) / 2
        nx, ny = truth.nipple
        ax.plot([nx, cx], [ny, cy], color="tab:orange", lw=1)
        ax.plot([nx], [ny], "o", color="tab:orange", ms=4)
        if truth.pectoral is not None:
            x0, y0, x1, y1 = truth.pectoral
            ax.plot([x0, x1], [y0, y1], color="tab:cyan", lw=1)
        dist = float(np.hypot(cx - nx, cy - ny) * spacing)
        ax.set_title(f"{f['image_id']}: {dist:.0f} mm to the nipple", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def nipple_distances(files: CohortFiles) -> pd.DataFrame:
    """Per mass: its box centre's distance to the nipple (mm) in CC and in MLO."""
    findings = pd.read_csv(files.findings)
    truth = pd.read_csv(Path(files.truth)).set_index("image_id")
    f = findings.join(truth[["nipple_x", "nipple_y", "pixel_spacing_mm"]], on="image_id")
    f["view"] = f["image_id"].str.rsplit("_", n=1).str[1]
    f["distance_mm"] = np.hypot((f["x0"] + f["x1"] - 1) / 2 - f["nipple_x"],
                                (f["y0"] + f["y1"] - 1) / 2 - f["nipple_y"]) * f["pixel_spacing_mm"]
    return f.pivot_table(index="mass_id", columns="view", values="distance_mm")


def composition_table(files: CohortFiles) -> pd.DataFrame:
    """Per feature and category: the paper's mass count beside the twin's (from the cohort's tables)."""
    from mammo_lib.synth.composition import published_counts

    manifest = pd.read_csv(files.manifest)
    findings = pd.read_csv(files.findings, dtype={"birads": str})
    masses = findings.drop_duplicates("mass_id").copy()
    patients = manifest.drop_duplicates("patient_id").set_index("patient_id")
    pid = masses["image_id"].str.split("_").str[0]
    masses["breast_density"] = pid.map(patients["breast_density"]).to_numpy()
    ages = pid.map(patients["age"]).to_numpy()
    masses["age_group"] = pd.cut(ages, [0, 39, 60, 200], labels=list(vocab.AGE_GROUPS)).astype(str)
    rows = []
    for feature, counts in published_counts().items():
        column = "histology" if feature.startswith("histology") else feature
        twin = masses[column].astype(str).value_counts()
        for category, published_n in counts.items():
            rows.append({"feature": feature, "category": category, "published": published_n,
                         "twin": int(twin.get(category, 0))})
    return pd.DataFrame(rows)


def conspicuity_by_density(files: CohortFiles, views_per_density: int = 30, seed: int = 0) -> pd.DataFrame:
    """NPWE detectability of the masses in a sample of views on disk per ACR density (mass_id, image_id, snr, density)."""
    manifest = pd.read_csv(files.manifest).set_index("image_id")
    findings = pd.read_csv(files.findings)
    with_mass = manifest.loc[findings["image_id"].unique()]
    with_mass = with_mass[with_mass["image_path"].map(lambda p: (files.root / p).is_file())]
    chosen = []
    for density in vocab.BREAST_DENSITY:
        pool = with_mass[with_mass["breast_density"] == density]
        chosen += list(pool.sample(n=min(views_per_density, len(pool)), random_state=seed).index)
    snr = observer_snr(files, image_ids=chosen)
    snr["breast_density"] = snr["image_id"].map(manifest["breast_density"])
    return snr


def plot_masses_by_margin(files: CohortFiles, findings: pd.DataFrame, min_size_mm: float = 12.0):
    """One mass crop per BI-RADS margin (the first by mass_id of at least ``min_size_mm``, else the first of that
    margin) from ``findings`` rows whose images are on disk, titled with margin, mass density and size."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(vocab.MARGIN), figsize=(3 * len(vocab.MARGIN), 3.3))
    for ax, margin in zip(axes, vocab.MARGIN):
        pool = findings[(findings["margin"] == margin) & (findings["size_mm"] >= min_size_mm)]
        row = (pool if len(pool) else findings[findings["margin"] == margin]).sort_values("mass_id").iloc[0]
        ax.imshow(mass_crop(files, row["mass_id"], row["image_id"]), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{margin}\n{row['mass_density']}, {row['size_mm']:.0f} mm", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_realism(measured: pd.DataFrame, conspicuity: pd.DataFrame, beta_range: tuple[float, float]):
    """Three realism measurements by ACR density: the background's power-law exponent beta (the literature's range
    shaded), the dense area fraction, and the masses' NPWE conspicuity (log scale)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    order = list(vocab.BREAST_DENSITY)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    sns.boxplot(data=measured, x="breast_density", y="beta", order=order, ax=axes[0], color="0.8")
    axes[0].axhspan(*beta_range, color="tab:green", alpha=0.15, label="range drawn (published mammograms)")
    axes[0].legend(fontsize=7, loc="best")
    axes[0].set(title="background power-law exponent", xlabel="ACR density", ylabel="β")
    sns.boxplot(data=measured, x="breast_density", y="dense_area_fraction", order=order, ax=axes[1], color="0.8")
    axes[1].set(title="dense area fraction (Otsu)", xlabel="ACR density", ylabel="fraction of breast")
    sns.boxplot(data=conspicuity, x="breast_density", y="snr", order=order, ax=axes[2], color="0.8")
    axes[2].set(title="mass conspicuity (NPWE)", xlabel="ACR density", ylabel="detectability", yscale="log")
    fig.tight_layout()
    return fig
