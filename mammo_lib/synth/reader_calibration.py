"""Calibrated junior readers: detection that depends on the mass's pixels and reproduces every stratum of Table 3.

The pure observer (:mod:`mammo_lib.synth.readers`) reports a mass when its NPWE detectability, scaled by the
reader's efficiency, clears a threshold; on phantom v2 that detectability hardly depends on breast density,
age, margin or BI-RADS, so the observer's juniors lose most of the paper's stratum effects. The calibrated
junior keeps the pixels and adds the strata:

    logit P(detect mass i) = slope_r * log(snr_i) + sum over the six Table 3 factors of effect_r[f, stratum_i(f)]

- ``snr_i`` is the mass's best-view NPWE detectability (the observer's input, so the readers and the DL system
  still face the same images); ``slope_r`` is the observer's own psychometric slope (:func:`observer_slope`:
  a logistic curve fitted to the observer's detection probability against log SNR), so within a stratum the
  calibrated reader favours conspicuous masses exactly as strongly as the observer does.
- The stratum effects are fitted by maximum likelihood from the published margins (:func:`fit_detection`): for
  a logistic model with categorical main effects the likelihood equations say that the expected count of every
  stratum equals its observed count, and Table 3's column is exactly those counts for the six factors
  (breast density, age group, morphology, margin, mass density, BI-RADS) jointly. The problem is convex; a
  ridge of 1e-4 keeps the effects finite where a stratum is detected in full (density a: 14 of 14).
- Detections are drawn per seed (:func:`draw_detection`): each mass gets a uniform number from a stable hash of
  (seed, reader, mass id); the plain draw would detect mass i when u_i < p_i. Like the twin's composition
  (``composition: exact``), the draw is conditioned on the published counts: among all detection sets whose
  count in every Table 3 cell equals the published one, the one closest to the plain draw (largest sum of
  logit(p_i) - logit(u_i) over the detected masses; a 0/1 programme, scipy's HiGHS) is taken. Without the
  constraints the same objective returns the plain draw itself. The draw also keeps the expected number of
  detected malignant masses (rounded sum of p_i over them): Table 4's true positives (114 / 121 of 152) need
  at least that many detected, and junior B's leave little room (its Table 3 column misses 19% of the BI-RADS
  4C and 5 masses, where most cancers are).

Junior A / junior B (the text/table swap). The Results text gives junior A 78.0% (482/618) and junior B 84.0%
(519/618), while Table 3's "Junior radiologist A" column adds up to 519 in every factor and junior B's to 482
(the audit's "detected total" rows). Table 3's columns are taken as the readers' identities: the twin's junior_a
is Table 3's junior A (519 detected) and junior_b Table 3's junior B (482). Reasons: Table 3 carries the strata
and the chi-square tests this model must reproduce, its printed chi-square values recompute from its own columns
(e.g. age 9.032 and 8.125), and the text's own stratum sentences agree with it (c-type breasts 390/460 and
358/460, d-type 73/97 and 69/97 are Table 3's junior A and B cells); only the text's overall sentence has the
two totals the other way round. So notebook 06 compares each twin junior with the Table 3 column of the same
name and the same total (like with like). Table 4's junior rows are kept by name (nothing in the paper says
they are swapped).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, sparse, stats

from mammo_lib import published, vocab
from mammo_lib.vocab import TABLE3_FACTORS, age_group
from mammo_lib.errors import MammoError
from mammo_lib.synth.config import TWIN_SEED, ReaderParams

#: Table 3's factors in the paper's order (the strata come from :data:`mammo_lib.vocab.TABLE3_FACTORS`).
FACTORS: tuple[str, ...] = tuple(published.TABLE3)
#: Ridge on the stratum effects (keeps a fully detected stratum finite; moves expected counts by < 0.01).
RIDGE = 1e-4
#: Reader modes of the synthetic readers: calibrated (this module) or the pure pixel observer.
MODES = ("calibrated", "observer")


def table3_column(reader: str) -> str:
    """The published Table 3 column a twin junior reproduces (the same name; see the module's convention)."""
    if reader not in vocab.DETECTION_READERS:
        raise MammoError(f"reader must be one of {vocab.DETECTION_READERS}, got {reader!r}")
    return reader


def detection_targets(reader: str) -> dict[tuple[str, str], int]:
    """Published detected count per (factor, stratum) of ``reader``'s Table 3 column."""
    col = published.TABLE3_COLUMNS.index(table3_column(reader))
    return {(f, s): int(v[col]) for f, strata in published.TABLE3.items() for s, v in strata.items()}


def detection_total(reader: str) -> int:
    """The total of ``reader``'s Table 3 column (the same in every factor; checked)."""
    targets = detection_targets(reader)
    totals = {f: sum(n for (g, _), n in targets.items() if g == f) for f in FACTORS}
    if len(set(totals.values())) != 1:
        raise MammoError(f"Table 3 column {reader!r} adds up differently by factor: {totals}")
    return next(iter(totals.values()))


def mass_strata(findings: pd.DataFrame, manifest: pd.DataFrame) -> pd.DataFrame:
    """Per mass (index mass_id): its stratum of each Table 3 factor (age group from the patient's age)."""
    masses = findings.drop_duplicates("mass_id").set_index("mass_id")
    missing = sorted({"image_id", *FACTORS[2:]} - set(findings.columns))
    if missing:
        raise MammoError(f"mass_strata: findings lack columns {missing}")
    img = manifest.drop_duplicates("image_id").set_index("image_id")
    unknown = sorted(set(masses["image_id"]) - set(img.index))
    if unknown:
        raise MammoError(f"mass_strata: images {unknown[:3]} of the findings are not in the manifest")
    out = pd.DataFrame(index=masses.index)
    out["breast_density"] = masses["image_id"].map(img["breast_density"])
    out["age_group"] = age_group(masses["image_id"].map(img["age"]))
    for f in FACTORS[2:]:
        out[f] = masses[f].astype(str)
    for f in FACTORS:
        bad = sorted(set(out[f]) - set(TABLE3_FACTORS[f]))
        if bad:
            raise MammoError(f"mass_strata: unknown {f} values {bad}")
    return out[list(FACTORS)]


def _design(strata: pd.DataFrame) -> tuple[sparse.csr_matrix, list[tuple[str, str]]]:
    """One-hot columns of every (factor, stratum) present, in Table 3's order."""
    keys = [(f, s) for f in FACTORS for s in published.TABLE3[f] if (strata[f] == s).any()]
    cols = [(strata[f] == s).to_numpy(float) for f, s in keys]
    return sparse.csr_matrix(np.column_stack(cols)), keys


def observer_slope(snr: pd.Series, params: ReaderParams) -> float:
    """The observer's psychometric slope on log SNR: a logistic curve fitted (maximum likelihood, fractional
    response) to the observer's detection probability Phi((sqrt(efficiency) * snr - threshold) / internal_noise)
    over the cohort's masses."""
    import statsmodels.api as sm

    s = snr.to_numpy(float)
    if (s <= 0).any() or not np.isfinite(s).all():
        raise MammoError("observer_slope: detectabilities must be positive and finite")
    p = stats.norm.cdf((math.sqrt(params.efficiency) * s - params.threshold) / params.internal_noise)
    x = sm.add_constant(np.log(s))
    fit = sm.GLM(p, x, family=sm.families.Binomial()).fit()
    return float(fit.params[1])


@dataclass(frozen=True)
class DetectionFit:
    """A calibrated junior's detection model: P(detect) per mass, its slope and stratum effects."""

    reader: str
    slope: float
    effects: dict[tuple[str, str], float]
    probability: pd.Series  # per mass_id
    expected: dict[tuple[str, str], float]  # expected detected count per Table 3 cell


def fit_detection(log_snr: pd.Series, strata: pd.DataFrame, targets: dict[tuple[str, str], int], slope: float,
                  reader: str = "junior", ridge: float = RIDGE) -> DetectionFit:
    """Maximum-likelihood stratum effects of logit P = slope * log_snr + sum of effects, given only each
    stratum's detected count (``targets``): minimises sum softplus(eta) - effects . targets + ridge/2 |effects|^2,
    whose gradient is expected minus published count per stratum (scipy, Newton-CG with the exact Hessian)."""
    log_snr = log_snr.reindex(strata.index)
    if log_snr.isna().any():
        raise MammoError(f"fit_detection: no SNR for masses {list(log_snr[log_snr.isna()].index[:3])}")
    x, keys = _design(strata)
    n = np.asarray(x.sum(axis=0)).ravel()
    t = np.array([float(targets.get(k, -1)) for k in keys])
    for k, ti, ni in zip(keys, t, n):
        if not 0 <= ti <= ni:
            raise MammoError(f"fit_detection: target {ti:g} for {k[0]}={k[1]} is outside 0..{ni:g} masses")
    offset = slope * log_snr.to_numpy(float)

    def objective(beta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = offset + x @ beta
        p = stats.logistic.cdf(eta)
        value = float(np.logaddexp(0.0, eta).sum() - beta @ t + 0.5 * ridge * beta @ beta)
        return value, x.T @ p - t + ridge * beta

    def hessp(beta: np.ndarray, v: np.ndarray) -> np.ndarray:
        p = stats.logistic.cdf(offset + x @ beta)
        return x.T @ (p * (1 - p) * (x @ v)) + ridge * v

    res = optimize.minimize(objective, np.zeros(len(keys)), jac=True, hessp=hessp, method="Newton-CG",
                            options={"xtol": 1e-10, "maxiter": 500})
    beta = res.x
    p = stats.logistic.cdf(offset + x @ beta)
    expected = dict(zip(keys, (x.T @ p).tolist()))
    worst = max(abs(expected[k] - ti) for k, ti in zip(keys, t))
    if worst > 0.05:
        raise MammoError(f"fit_detection ({reader}): expected counts miss the published ones by {worst:.3f} "
                         f"({res.message})")
    return DetectionFit(reader, slope, dict(zip(keys, beta.tolist())), pd.Series(p, index=strata.index), expected)


def stable_uniform(seed: int, reader: str, ids: pd.Index) -> np.ndarray:
    """One uniform number in (0, 1) per id from a hash of (seed, reader, id): stable across runs, platforms and
    the order or number of the other masses."""
    out = np.empty(len(ids))
    for i, key in enumerate(ids):
        digest = hashlib.sha256(f"{seed}:{reader}:{key}".encode()).digest()
        out[i] = (int.from_bytes(digest[:8], "big") + 0.5) / 2.0**64
    return out


def draw_detection(probability: pd.Series, strata: pd.DataFrame, targets: dict[tuple[str, str], int] | None,
                   reader: str, seed: int = TWIN_SEED,
                   also: list[tuple[pd.Series, int]] | None = None) -> pd.Series:
    """Detected (bool) per mass: the per-seed draw u_i < p_i, or (``targets`` given) the detection set closest
    to it whose count in every (factor, stratum) cell equals ``targets`` and, for each (mask, count) of
    ``also``, whose count among the masked masses equals count (0/1 programme, scipy.optimize.milp)."""
    p = probability.reindex(strata.index).to_numpy(float)
    if np.isnan(p).any():
        raise MammoError(f"draw_detection ({reader}): probabilities missing for some masses")
    u = stable_uniform(seed, reader, strata.index)
    eps = 1e-12
    score = (np.log(np.clip(p, eps, 1)) - np.log(np.clip(1 - p, eps, 1))) - (np.log(u) - np.log1p(-u))
    if targets is None:
        return pd.Series(score > 0, index=strata.index)
    x, keys = _design(strata)
    t = [float(targets[k]) for k in keys]
    rows = [x.T]
    for mask, count in also or []:
        rows.append(sparse.csr_matrix(mask.reindex(strata.index).fillna(False).to_numpy(float)[None, :]))
        t.append(float(count))
    res = optimize.milp(-score, constraints=optimize.LinearConstraint(sparse.vstack(rows), t, t),
                        integrality=np.ones(len(p)), bounds=optimize.Bounds(0, 1))
    if res.status != 0 or res.x is None:
        raise MammoError(f"draw_detection ({reader}): no detection set has the published count in every "
                         f"Table 3 cell ({res.message})")
    return pd.Series(res.x > 0.5, index=strata.index)


def calibrated_detection(reader: str, snr: pd.Series, strata: pd.DataFrame, observer: ReaderParams,
                         malignant: pd.Series | None = None, seed: int = TWIN_SEED,
                         exact: bool = True) -> tuple[pd.Series, DetectionFit]:
    """A calibrated junior's detections (per mass) and its fitted model, from the masses' best-view SNR,
    their strata, the reader's observer parameters (for the slope) and, optionally, which masses are malignant
    (the draw then keeps their expected detected count). A pure function of its inputs."""
    snr = snr.reindex(strata.index)
    if snr.isna().any():
        raise MammoError(f"calibrated_detection: no SNR for masses {list(snr[snr.isna()].index[:3])}")
    snr = snr.clip(lower=1e-3)  # |response| of a mass the observer cannot see at all
    targets = detection_targets(reader)
    fit = fit_detection(np.log(snr), strata, targets, observer_slope(snr, observer), reader)
    also = None
    if malignant is not None:
        mask = malignant.reindex(strata.index).fillna(False).astype(bool)
        also = [(mask, int(round(float(fit.probability[mask].sum()))))]
    detected = draw_detection(fit.probability, strata, targets if exact else None, reader, seed, also)
    return detected, fit
