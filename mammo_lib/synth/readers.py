"""Simulated readers of the reader study: a model observer on the pixels decides detection, noisy feature
perception decides BI-RADS.

Detection: a non-prewhitening observer with an eye filter (NPWE; Burgess, JOSA A 1994;11:1237) looks for
the mass's outline (its template) in the displayed image. Its local detectability ``snr`` is the template
response at the mass minus the mean response at every other breast position of the neighbourhood, over
their SD, so anatomical noise from dense tissue, faint low-density masses and blurred (indistinct) edges
lower it through the pixels themselves. A reader reports a mass when ``sqrt(efficiency) * snr`` plus
internal noise exceeds a threshold in either view (CC or MLO).

Two reader modes (``config.READER_MODE``): "observer", the pure pixel observer above, and "calibrated"
(the default since issue 28), where each junior's detection probability also depends on the mass's strata,
fitted so that every cell of Table 3 is reproduced (:mod:`mammo_lib.synth.reader_calibration`, which also
states the junior A/B convention: the twin's junior_a is Table 3's junior A column, 519 detected).

Classification: the reader perceives the mass's features (morphology, margin, mass density, size) and the
suspiciousness the reference radiologist saw in it (its reference BI-RADS, weighted by ``reference_weight``)
with noise, sums them into a suspicion score, and calls it positive (4A or higher) above a cut. The
categories keep the suspicion's order: among its positive calls a reader uses 4A/4B/4C/5, among its
negative calls 2/3, in the reference's proportions (Table 1); a mass the reader did not detect is reported as
BI-RADS 1 (no finding). The senior consensus classified every mass (paper, Imaging interpretation) and has no
detection step.

Fitted (:func:`calibrate`): each junior's efficiency to its Table 3 column total (519 / 482 of 618), the
senior's reference weight (no perception noise) and each reader's positive cut to Table 4's true positives
and true negatives, and the juniors' perception noise (they weigh the signs like the senior) to Table 4.
Table 4 forces the senior to disagree with the reference: it calls 137 + 43 = 180 masses positive where the
reference has 399 masses of 4A-5, so at least 399 - 180 = 219 of them, and at least 261 - 180 = 81 of
reference 4B/4C/5, are rated 3 or lower (:func:`forced_disagreement`).
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
from mammo_lib.synth.config import READER_MODE, READERS, TWIN_SEED, ReaderParams

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


def reference_score(findings: pd.DataFrame) -> pd.Series:
    """Per mass: the normal score of its reference BI-RADS (mid-quantile of its category's share, 2 lowest)."""
    masses = findings.drop_duplicates("mass_id").set_index("mass_id")
    order = vocab.MASS_BIRADS
    values = masses["birads"].astype(str)
    unknown = set(values) - set(order)
    if unknown:
        raise MammoError(f"reference_score: unknown birads values {sorted(unknown)}")
    share = values.value_counts(normalize=True).reindex(order, fill_value=0.0).to_numpy()
    mid = np.cumsum(share) - share / 2
    return values.map(dict(zip(order, stats.norm.ppf(np.clip(mid, 1e-3, 1 - 1e-3))))).astype(float)


def category_mix() -> tuple[dict[str, float], dict[str, float]]:
    """The reference's BI-RADS mix (Table 1, masses) among its negative (2, 3) and positive (4A-5) categories."""
    counts = {k: v[1][0] for k, v in published.TABLE1["birads"].items()}
    neg = {k: n for k, n in counts.items() if k not in vocab.BIRADS_POSITIVE}
    pos = {k: n for k, n in counts.items() if k in vocab.BIRADS_POSITIVE}
    return ({k: n / sum(neg.values()) for k, n in neg.items()}, {k: n / sum(pos.values()) for k, n in pos.items()})


def categorise(suspicion: np.ndarray, called: np.ndarray, detected: np.ndarray) -> np.ndarray:
    """BI-RADS per mass from its suspicion: 1 if not detected; else, within the negative and the positive calls
    separately, the categories in the reference's proportions (:func:`category_mix`) by rank of suspicion."""
    out = np.full(len(suspicion), "1", dtype=object)
    for side, mix in zip((False, True), category_mix()):
        idx = np.flatnonzero(detected & (called == side))
        if len(idx) == 0:
            continue
        rank = np.empty(len(idx))
        rank[np.argsort(suspicion[idx], kind="stable")] = (np.arange(len(idx)) + 0.5) / len(idx)
        edges = np.cumsum(list(mix.values()))
        out[idx] = np.array(list(mix))[np.minimum(np.searchsorted(edges, rank), len(mix) - 1)]
    return out


def forced_disagreement() -> dict[str, int]:
    """What Table 4 forces on the senior consensus against the reference BI-RADS (Table 1): its positive calls
    (TP + FP), the reference's 4A-5 and 4B-5 masses, and the fewest of each that the senior must rate 3 or lower."""
    t4 = published.TABLE4["senior"]
    calls = t4["positive"] + published.TABLE4_REFERENCE["negative"] - t4["negative"]
    counts = {k: v[1][0] for k, v in published.TABLE1["birads"].items()}
    ref_pos = sum(n for k, n in counts.items() if k in vocab.BIRADS_POSITIVE)
    ref_4b = sum(n for k, n in counts.items() if k in vocab.BIRADS_POSITIVE[1:])
    return {"senior_positive_calls": calls, "reference_4a_to_5": ref_pos, "reference_4b_to_5": ref_4b,
            "min_4a_to_5_rated_below_4a": max(0, ref_pos - calls), "min_4b_to_5_rated_below_4a": max(0, ref_4b - calls)}


def _reader_rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def simulate(name: str, params: ReaderParams, snr: pd.Series, features: pd.Series,
             seed: int = TWIN_SEED, reference: pd.Series | None = None,
             detected: pd.Series | None = None) -> tuple[pd.Series, pd.Series]:
    """One reader's (detected, BI-RADS) per mass; ``snr`` is each mass's best view detectability, ``reference``
    its reference score (:func:`reference_score`; needed when ``params.reference_weight`` is not 0) and
    ``detected`` the detections of the calibrated mode (default: the observer's)."""
    rng = _reader_rng(name, seed)
    ids = features.index
    internal = rng.standard_normal(len(ids))
    perception = rng.standard_normal(len(ids))
    snr = snr.reindex(ids)
    if snr.isna().any():
        raise MammoError(f"simulate: no detectability for masses {list(snr[snr.isna()].index[:3])}")
    if detected is not None and params.detects:
        given = detected.reindex(ids)
        if given.isna().any():
            raise MammoError(f"simulate: no detection given for masses {list(given[given.isna()].index[:3])}")
        detected = given.to_numpy(bool)
    elif params.detects:
        detected = math.sqrt(params.efficiency) * snr.to_numpy() + params.internal_noise * internal > params.threshold
    else:
        detected = np.ones(len(ids), dtype=bool)
    suspicion = _suspicion(params, features, reference, perception)
    birads = categorise(suspicion, suspicion > params.positive_cut, detected)
    return pd.Series(detected, index=ids), pd.Series(birads, index=ids)


def _suspicion(params: ReaderParams, features: pd.Series, reference: pd.Series | None,
               perception: np.ndarray) -> np.ndarray:
    out = features.to_numpy(float) + params.perception_noise * perception
    if params.reference_weight:
        if reference is None:
            raise MammoError("simulate: reference_weight needs the masses' reference scores (reference_score)")
        ref = reference.reindex(features.index)
        if ref.isna().any():
            raise MammoError(f"simulate: no reference score for masses {list(ref[ref.isna()].index[:3])}")
        out = out + params.reference_weight * ref.to_numpy(float)
    return out


#: Cached per-view observer detectabilities of the twin, beside its images (keyed by each image's sha256).
SNR_CACHE_FILE = "observer_snr.csv"


def cached_observer_snr(files, progress: bool = False) -> pd.DataFrame:
    """:func:`observer_snr` of every view of ``files``, cached in ``files.root/observer_snr.csv``; the cache is
    used only where its image checksums equal the manifest's (else recomputed and rewritten)."""
    manifest = pd.read_csv(files.manifest, dtype={"sha256": str})
    digests = manifest.set_index("image_id")["sha256"]
    cache = Path(files.root) / SNR_CACHE_FILE
    if cache.is_file():
        table = pd.read_csv(cache, dtype={"sha256": str})
        wanted = set(pd.read_csv(files.findings)["image_id"])
        fresh = table["image_id"].map(digests).eq(table["sha256"]).all()
        if fresh and wanted <= set(table["image_id"]):
            return table[["mass_id", "image_id", "snr"]]
    table = observer_snr(files, progress=progress)
    table.assign(sha256=table["image_id"].map(digests)).to_csv(cache, index=False)
    return table


def _detections(name: str, params: ReaderParams, best: pd.Series, features: pd.Series,
                strata: pd.DataFrame, mode: str, findings: pd.DataFrame) -> pd.Series | None:
    """A junior's detections in ``mode`` (None for the observer mode: :func:`simulate` draws them)."""
    from mammo_lib.synth import reader_calibration

    if mode not in reader_calibration.MODES:
        raise MammoError(f"reader mode must be one of {reader_calibration.MODES}, got {mode!r}")
    if not params.detects or mode == "observer":
        return None
    malignant = findings.drop_duplicates("mass_id").set_index("mass_id")["pathology"] == "positive"
    return reader_calibration.calibrated_detection(name, best, strata, params, malignant)[0]


def _inputs(files, snr_table: pd.DataFrame | None, progress: bool = False):
    """(findings, best-view SNR, feature score, reference score, Table 3 strata) of a cohort."""
    from mammo_lib.synth import reader_calibration

    findings = pd.read_csv(files.findings)
    snr_table = cached_observer_snr(files, progress) if snr_table is None else snr_table
    best = snr_table.groupby("mass_id")["snr"].max()
    strata = reader_calibration.mass_strata(findings, pd.read_csv(files.manifest))
    return findings, best, feature_score(findings), reference_score(findings), strata


def calibrate(files, snr_table: pd.DataFrame | None = None, mode: str = READER_MODE) -> dict[str, ReaderParams]:
    """Fit each reader's parameters to the published targets (re-runnable, deterministic).

    Juniors: efficiency by root finding so that the observer detects as many masses as the reader's Table 3
    column (519 / 482; in "calibrated" mode the efficiency only sets the slope on log SNR). Senior (first): no
    perception noise; the largest reference weight on a grid whose Table 4 true positives equal the published
    ones, the positive cut giving Table 4's true negatives. Juniors: the senior's reference weight, and the
    perception noise found by root finding so that the true positives match Table 4 (its cut again from the
    true negatives; noise 0 if even perfect perception cannot reach them).
    """
    from mammo_lib.synth import reader_calibration

    findings, best, features, reference, strata = _inputs(files, snr_table)
    pathology = findings.drop_duplicates("mass_id").set_index("mass_id")["pathology"].reindex(features.index)
    negative = (pathology == "negative").to_numpy()
    fitted: dict[str, ReaderParams] = {}
    order = [r for r in vocab.READERS if not READERS[r].detects] + [r for r in vocab.READERS if READERS[r].detects]
    for name in order:
        params = READERS[name]
        t4 = published.TABLE4[name]
        tn_target, tp_target = t4["negative"], t4["positive"]
        if params.detects:
            share = reader_calibration.detection_total(name) / len(features)

            def det_gap(log_eff: float) -> float:
                d, _ = simulate(name, replace(params, efficiency=math.exp(log_eff)), best, features)
                return float(d.mean()) - share
            params = replace(params, efficiency=round(math.exp(optimize.brentq(det_gap, -12.0, 6.0, xtol=1e-4)), 5))
        given = _detections(name, params, best, features, strata, mode, findings)
        detected = (simulate(name, params, best, features)[0] if given is None else given).reindex(features.index)
        detected = detected.to_numpy(bool)
        rng = _reader_rng(name, TWIN_SEED)
        rng.standard_normal(len(features))  # the internal-noise draw, as in simulate
        perception = rng.standard_normal(len(features))

        def with_(weight: float, noise: float) -> tuple[ReaderParams, int]:
            trial = replace(params, perception_noise=noise, reference_weight=weight, positive_cut=0.0)
            suspicion = _suspicion(trial, features, reference, perception)
            n_fp = int(negative.sum()) - tn_target  # negatives that must be called positive
            neg_scores = np.sort(suspicion[negative & detected])[::-1]
            if 0 < n_fp < len(neg_scores):  # midway between the last negative called and the first not called
                cut = round(float(neg_scores[n_fp] + neg_scores[n_fp - 1]) / 2, 6)
            else:
                cut = round(float(neg_scores[0] + 1e-6) if n_fp <= 0 else float(neg_scores[-1] - 1e-6), 6)
            tp = int(((suspicion > cut) & ~negative & detected).sum())
            return replace(trial, positive_cut=cut), tp

        def noiseless(limit: float) -> ReaderParams:
            """The largest reference weight (grid, up to ``limit``) whose noiseless TP is nearest Table 4's."""
            grid = np.round(np.concatenate([[0.0], np.geomspace(0.01, 10.0, 301)]), 5)
            grid = grid[grid <= limit]
            gap = np.abs(np.array([with_(w, 0.0)[1] for w in grid]) - tp_target)
            return with_(float(grid[np.flatnonzero(gap == gap.min())[-1]]), 0.0)[0]

        if not params.detects:
            params = noiseless(math.inf)
        else:
            weight = fitted[order[0]].reference_weight
            if with_(weight, 0.0)[1] <= tp_target:  # even noiseless perception at this weight is not enough
                params = noiseless(weight)
            else:
                hi = 0.5
                while with_(weight, hi)[1] > tp_target and hi < 50:
                    hi *= 2
                noise = optimize.brentq(lambda s: with_(weight, s)[1] - tp_target - 0.5, 0.0, hi, xtol=1e-5)
                # the TP count steps at the root: of the 4-decimal noises either side, the one nearer Table 4
                trials = [with_(weight, math.floor(noise * 1e4) / 1e4), with_(weight, math.ceil(noise * 1e4) / 1e4)]
                params = min(trials, key=lambda pt: abs(pt[1] - tp_target))[0]
        fitted[name] = params
    return {name: fitted[name] for name in vocab.READERS}


def read_cohort(files, params: dict[str, ReaderParams] | None = None, snr_table: pd.DataFrame | None = None,
                progress: bool = False, mode: str = READER_MODE) -> pd.DataFrame:
    """The cohort's findings table with the readers' columns (vocab.READER_COLUMNS) filled in; ``mode``
    "calibrated" (juniors reproduce Table 3's strata) or "observer" (the pure pixel observer)."""
    params = READERS if params is None else params
    findings, best, features, reference, strata = _inputs(files, snr_table, progress)
    out = findings[list(vocab.FINDINGS_COLUMNS)].copy()
    for name in vocab.READERS:
        given = _detections(name, params[name], best, features, strata, mode, findings)
        detected, birads = simulate(name, params[name], best, features, reference=reference, detected=given)
        if params[name].detects:
            out[f"{name}_detected"] = out["mass_id"].map(detected).astype(bool)  # written True/False
        out[f"{name}_birads"] = out["mass_id"].map(birads)
    return out[list(vocab.FINDINGS_COLUMNS) + list(vocab.READER_COLUMNS)]


def update_reader_columns(files, params: dict[str, ReaderParams] | None = None, mode: str = READER_MODE,
                          snr_table: pd.DataFrame | None = None, progress: bool = False) -> pd.DataFrame:
    """The cohort's findings table with only its reader columns recomputed (:func:`read_cohort`); every other
    column must come out identical to the table on disk (else MammoError naming the column)."""
    before = pd.read_csv(files.findings, dtype=str, keep_default_na=False)
    after = read_cohort(files, params, snr_table, progress, mode)
    for col in vocab.FINDINGS_COLUMNS:
        if col not in before or not before[col].equals(after[col].astype(str).where(after[col].notna(), "")):
            raise MammoError(f"update_reader_columns: column {col!r} would change; only reader columns may")
    return after


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
