"""Simulated readers of the reader study: a model observer on the pixels decides detection, noisy feature
perception decides BI-RADS.

Detection: a non-prewhitening observer with an eye filter (NPWE; Burgess, JOSA A 1994;11:1237) looks for
the mass's outline (its template) in the displayed image. Its local detectability ``snr`` is the template
response at the mass minus the mean response at every other breast position of the neighbourhood, over
their SD, so anatomical noise from dense tissue, faint low-density masses and blurred (indistinct) edges
lower it through the pixels themselves. A reader reports a mass when ``sqrt(efficiency) * snr`` plus
internal noise exceeds a threshold in either view (CC or MLO).

Classification: the reader perceives the mass's features (morphology, margin, mass density, size) with
noise, averages them into a suspicion score, and cuts it into BI-RADS categories; a mass the reader did not
detect is reported as BI-RADS 1 (no finding). The senior consensus classified every mass (paper, Imaging
interpretation) and has no detection step.

Only the reader parameters are fitted (:func:`calibrate`): each junior's efficiency to the published
overall detection sensitivity (78.0% / 84.0%), and each reader's perception noise and positive cut to
Table 4's sensitivity and specificity. Outcomes by stratum (density, margin, ...) are results.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import fft, optimize, signal, stats

from mammo_lib import published, vocab
from mammo_lib.errors import MammoError
from mammo_lib.synth.composition import SUSPICION_ORDER
from mammo_lib.synth.config import READERS, TWIN_SEED, ReaderParams

#: Eye filter E(f) = f^n exp(-c f^2) peaking at 4 cycles/degree at 50 cm viewing (~0.46 cycles/mm at the
#: image, displayed at about life size; Burgess 1994).
EYE_EXPONENT = 1.3
EYE_PEAK_CYC_MM = 0.46
#: Features the reader perceives, and how much each weighs in the suspicion score (BI-RADS atlas: margin
#: and shape are the most predictive descriptors, density less so).
FEATURE_WEIGHTS = {"margin": 0.4, "morphology": 0.3, "mass_density": 0.15, "size": 0.15}


def display_pixels(path: str | Path) -> tuple[np.ndarray, float]:
    """Displayed image in [0, 1] (VOI applied, MONOCHROME1 inverted, 1 = dense) and its pixel spacing."""
    import pydicom
    from pydicom.pixels import apply_voi_lut

    ds = pydicom.dcmread(path)
    out = apply_voi_lut(ds.pixel_array, ds).astype(np.float32)
    if ds.get("VOILUTSequence"):
        top = float(2 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1)
    else:
        top = float(2 ** int(ds.BitsStored) - 1)
    out = np.clip(out / top, 0.0, 1.0)
    if ds.PhotometricInterpretation == "MONOCHROME1":
        out = 1.0 - out
    return out, float(ds.ImagerPixelSpacing[0])


def eye_filter(shape: tuple[int, int], spacing_mm: float) -> np.ndarray:
    """The eye filter on an ``fft.rfft2`` grid of ``shape`` (peak 1 at EYE_PEAK_CYC_MM)."""
    fy = fft.fftfreq(shape[0], d=spacing_mm)[:, None]
    fx = fft.rfftfreq(shape[1], d=spacing_mm)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    c = EYE_EXPONENT / (2.0 * EYE_PEAK_CYC_MM**2)
    e = f**EYE_EXPONENT * np.exp(-c * f * f)
    return e / e.max()


def npwe_snr(image: np.ndarray, breast: np.ndarray, mass: np.ndarray, spacing_mm: float,
             exclude: np.ndarray | None = None) -> float:
    """Local NPWE detectability of ``mass`` (bool mask) in ``image``: (response at the mass - mean elsewhere) / SD.

    The neighbourhood is a square of six mass diameters (at least 40 mm); "elsewhere" is every breast
    position there where the template does not overlap any mass (``exclude`` holds the other masses).
    """
    if image.shape != breast.shape or image.shape != mass.shape:
        raise MammoError(f"npwe_snr: image {image.shape}, breast {breast.shape} and mass {mass.shape} differ")
    ys, xs = np.nonzero(mass)
    if len(xs) == 0:
        raise MammoError("npwe_snr: the mass mask is empty")
    cy, cx = int(round(ys.mean())), int(round(xs.mean()))
    diam = max(xs.max() - xs.min(), ys.max() - ys.min()) + 1
    half = int(max(3 * diam, 20.0 / spacing_mm))
    y0, y1 = max(0, cy - half), min(image.shape[0], cy + half + 1)
    x0, x1 = max(0, cx - half), min(image.shape[1], cx + half + 1)
    crop = image[y0:y1, x0:x1].astype(np.float64)
    inside = breast[y0:y1, x0:x1]
    crop = np.where(inside, crop, crop[inside].mean())  # no skin-line edge in the template response
    ty0, tx0 = ys.min(), xs.min()
    template = mass[ty0:ys.max() + 1, tx0:xs.max() + 1].astype(np.float64)
    size = (fft.next_fast_len(crop.shape[0] + template.shape[0]), fft.next_fast_len(crop.shape[1] + template.shape[1]))
    # mirrored padding: no artificial edge at the crop border for the band-pass to ring on
    padded = np.pad(crop - crop.mean(), ((0, size[0] - crop.shape[0]), (0, size[1] - crop.shape[1])), mode="symmetric")
    filtered = fft.irfft2(fft.rfft2(padded) * eye_filter(size, spacing_mm), s=size)[: crop.shape[0], : crop.shape[1]]
    response = signal.correlate(filtered, template, mode="same", method="fft")
    # response at the template's own placement: the mask's bounding-box centre in crop coordinates
    ry = int(round((ty0 + ys.max()) / 2)) - y0
    rx = int(round((tx0 + xs.max()) / 2)) - x0
    others = mass if exclude is None else (mass | exclude)
    from scipy import ndimage

    # background positions: the template placed there must not overlap any mass
    far = ndimage.distance_transform_edt(~others[y0:y1, x0:x1]) > diam
    valid = ndimage.binary_erosion(inside, iterations=max(1, diam // 2)) & far
    if valid.sum() < 50:
        valid = inside & far
    bg = response[valid]
    return float((response[ry, rx] - bg.mean()) / (bg.std() + 1e-12))


def observer_snr(files, progress: bool = False, image_ids: list[str] | None = None) -> pd.DataFrame:
    """NPWE detectability of every mass in every view (or in ``image_ids``): columns mass_id, image_id, snr."""
    from mammo_lib.synth.store import load_view_truth

    manifest = pd.read_csv(files.manifest)
    findings = pd.read_csv(files.findings)
    rows = []
    ids = findings["image_id"].unique() if image_ids is None else image_ids
    iterator = ids
    if progress:
        from mammo_lib.progress import tqdm

        iterator = tqdm(ids, unit="view", desc="observer")
    paths = manifest.set_index("image_id")["image_path"]
    for image_id in iterator:
        image, spacing = display_pixels(files.root / paths[image_id])
        truth = load_view_truth(files.root, image_id, findings)
        all_masses = np.zeros_like(truth.breast_mask)
        for m in truth.mass_masks.values():
            all_masses |= m
        for mass_id, m in truth.mass_masks.items():
            snr = npwe_snr(image, truth.breast_mask, m, spacing, exclude=all_masses & ~m)
            rows.append({"mass_id": mass_id, "image_id": image_id, "snr": round(abs(snr), 4)})
    return pd.DataFrame(rows)


def feature_score(findings: pd.DataFrame) -> pd.Series:
    """Per mass: the weighted mean of its features' normal scores (rank of the category in SUSPICION_ORDER)."""
    masses = findings.drop_duplicates("mass_id").set_index("mass_id")
    total = pd.Series(0.0, index=masses.index)
    for name, weight in FEATURE_WEIGHTS.items():
        if name == "size":
            values = np.log(masses["size_mm"].astype(float))
            score = (values - values.mean()) / values.std()
        else:
            order = SUSPICION_ORDER[name]
            unknown = set(masses[name]) - set(order)
            if unknown:
                raise MammoError(f"feature_score: unknown {name} values {sorted(unknown)}")
            # normal score of each category: the mid-quantile of its share of the cohort
            share = masses[name].value_counts(normalize=True).reindex(order, fill_value=0.0).to_numpy()
            mid = np.cumsum(share) - share / 2
            normal = dict(zip(order, stats.norm.ppf(np.clip(mid, 1e-3, 1 - 1e-3))))
            score = masses[name].map(normal)
        total += weight * score
    return total


def birads_offsets() -> dict[str, float]:
    """Category cuts relative to the 3|4A cut, in SD of the suspicion, from the reference BI-RADS mix (Table 1)."""
    counts = {k: v[1][0] for k, v in published.TABLE1["birads"].items()}
    order = list(counts)
    cum = np.cumsum([counts[k] for k in order]) / sum(counts.values())
    z = stats.norm.ppf(cum[:-1])  # upper cut of each category but the last
    pos = order.index(vocab.BIRADS_POSITIVE[0]) - 1
    return {order[i + 1]: float(z[i] - z[pos]) for i in range(len(order) - 1)}


def _reader_rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def simulate(name: str, params: ReaderParams, snr: pd.Series, features: pd.Series,
             seed: int = TWIN_SEED) -> tuple[pd.Series, pd.Series]:
    """One reader's (detected, BI-RADS) per mass; ``snr`` is each mass's best view detectability."""
    rng = _reader_rng(name, seed)
    ids = features.index
    internal = rng.standard_normal(len(ids))
    perception = rng.standard_normal(len(ids))
    snr = snr.reindex(ids)
    if snr.isna().any():
        raise MammoError(f"simulate: no detectability for masses {list(snr[snr.isna()].index[:3])}")
    if params.detects:
        detected = math.sqrt(params.efficiency) * snr.to_numpy() + params.internal_noise * internal > params.threshold
    else:
        detected = np.ones(len(ids), dtype=bool)
    suspicion = features.to_numpy() + params.perception_noise * perception
    spread = float(np.std(features.to_numpy()) * math.hypot(1.0, params.perception_noise / max(np.std(features), 1e-9)))
    cuts = {cat: params.positive_cut + off * spread for cat, off in birads_offsets().items()}
    birads = np.full(len(ids), "2", dtype=object)
    for cat, cut in cuts.items():  # categories in increasing order; each raises those above its lower cut
        birads[suspicion > cut] = cat
    birads[~detected] = "1"
    return pd.Series(detected, index=ids), pd.Series(birads, index=ids)


def _targets(name: str) -> tuple[float | None, int, int]:
    det = published.DETECTION_TEXT["overall"].get(name)
    t4 = published.TABLE4[name]
    return (det[0] / det[1] if det else None), t4["negative"], t4["positive"]


def calibrate(files, snr_table: pd.DataFrame | None = None) -> dict[str, ReaderParams]:
    """Fit each reader's efficiency (juniors), perception noise and positive cut to the published targets.

    Procedure (re-runnable, deterministic): efficiency by root finding so that the share of masses
    detected equals the paper's overall sensitivity; then, for a perception noise, the positive cut is
    the one giving Table 4's true negatives, and the noise is found by root finding so that the true
    positives match Table 4 (noise 0 if even perfect perception cannot reach them).
    """
    findings = pd.read_csv(files.findings)
    snr_table = observer_snr(files) if snr_table is None else snr_table
    best = snr_table.groupby("mass_id")["snr"].max()
    features = feature_score(findings)
    pathology = findings.drop_duplicates("mass_id").set_index("mass_id")["pathology"].reindex(features.index)
    negative = (pathology == "negative").to_numpy()
    fitted: dict[str, ReaderParams] = {}
    for name, params in READERS.items():
        sens_target, tn_target, tp_target = _targets(name)
        if params.detects and sens_target is not None:
            def det_gap(log_eff: float) -> float:
                d, _ = simulate(name, replace(params, efficiency=math.exp(log_eff)), best, features)
                return float(d.mean()) - sens_target
            params = replace(params, efficiency=round(math.exp(optimize.brentq(det_gap, -12.0, 6.0, xtol=1e-4)), 5))

        def with_noise(noise: float) -> tuple[ReaderParams, int]:
            trial = replace(params, perception_noise=noise, positive_cut=0.0)
            detected, _ = simulate(name, trial, best, features)
            rng = _reader_rng(name, TWIN_SEED)
            rng.standard_normal(len(features))
            suspicion = features.to_numpy() + noise * rng.standard_normal(len(features))
            n_fp = int(negative.sum()) - tn_target  # negatives that must be called positive
            neg_scores = np.sort(suspicion[negative & detected.to_numpy()])[::-1]
            cut = float(neg_scores[n_fp] + 1e-9) if 0 <= n_fp < len(neg_scores) else float(neg_scores[-1] - 1e-9)
            tp = int(((suspicion > cut) & ~negative & detected.to_numpy()).sum())
            return replace(trial, positive_cut=round(cut, 6)), tp

        if with_noise(0.0)[1] <= tp_target:
            params = with_noise(0.0)[0]
        else:
            hi = 0.5
            while with_noise(hi)[1] > tp_target and hi < 50:
                hi *= 2
            noise = optimize.brentq(lambda s: with_noise(s)[1] - tp_target - 0.5, 0.0, hi, xtol=1e-4)
            params = with_noise(round(noise, 4))[0]
        fitted[name] = params
    return fitted


def read_cohort(files, params: dict[str, ReaderParams] | None = None, snr_table: pd.DataFrame | None = None,
                progress: bool = False) -> pd.DataFrame:
    """The cohort's findings table with the readers' columns (vocab.READER_COLUMNS) filled in."""
    params = READERS if params is None else params
    findings = pd.read_csv(files.findings)
    snr_table = observer_snr(files, progress=progress) if snr_table is None else snr_table
    best = snr_table.groupby("mass_id")["snr"].max()
    features = feature_score(findings)
    out = findings[list(vocab.FINDINGS_COLUMNS)].copy()
    for name in vocab.READERS:
        detected, birads = simulate(name, params[name], best, features)
        if params[name].detects:
            out[f"{name}_detected"] = out["mass_id"].map(detected).astype(bool)  # written True/False
        out[f"{name}_birads"] = out["mass_id"].map(birads)
    return out[list(vocab.FINDINGS_COLUMNS) + list(vocab.READER_COLUMNS)]


def operating_points(findings: pd.DataFrame) -> pd.DataFrame:
    """Per reader: detection sensitivity and BI-RADS (>= 4A positive) sensitivity/specificity vs pathology."""
    masses = findings.drop_duplicates("mass_id")
    positive = (masses["pathology"] == "positive").to_numpy()
    rows = []
    for name in vocab.READERS:
        called = masses[f"{name}_birads"].astype(str).isin(vocab.BIRADS_POSITIVE).to_numpy()
        det_col = f"{name}_detected"
        detected = masses[det_col].mean() if det_col in masses else np.nan
        rows.append({"reader": name, "detected": detected, "sensitivity": called[positive].mean(),
                     "specificity": (~called[~positive]).mean(), "true_positive": int(called[positive].sum()),
                     "true_negative": int((~called[~positive]).sum())})
    return pd.DataFrame(rows).set_index("reader")
