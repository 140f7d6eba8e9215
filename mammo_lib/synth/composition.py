"""Who is in a cohort: patients (age, breast density, vendor, exam sides) and their masses' descriptions.

The twin reproduces the study's published composition exactly (every per-mass count of Tables 1-3 and of
Table 2, the age mean/SD/range of the Results), taken from :mod:`mammo_lib.published`. Features are
linked the way the paper's Discussion describes (malignant masses are irregular, spiculated or
indistinct, of higher BI-RADS): each mass has a latent suspiciousness ``z`` (rising with age); every
feature is assigned by ranking ``z`` plus feature-specific noise (``SynthConfig.rank_noise``) and cutting
the ranking at the published counts, so the marginals are exact and the joint structure is tunable.
Breast density and age group are per patient; patients are partitioned so that their masses add up to
the published per-mass counts, denser breasts going preferentially to younger women.
"""
from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from mammo_lib import published, vocab
from mammo_lib.errors import MammoError
from mammo_lib.synth.config import SynthConfig

#: Feature categories from least to most suspicious (the order the latent ranking is cut in).
SUSPICION_ORDER: dict[str, tuple[str, ...]] = {
    "pathology": ("negative", "positive"),
    "birads": ("2", "3", "4A", "4B", "4C", "5"),
    "margin": vocab.MARGIN,
    "morphology": ("oval", "round", "irregular"),
    "mass_density": ("fat-containing", "low", "equal", "high"),
}
#: Inclusive age bounds of the paper's age strata (Table 3: <40, 40-60, >60), within the study's range.
AGE_BOUNDS = {"<40": (published.COHORT["age_min"], 39), "40-60": (40, 60), ">60": (61, published.COHORT["age_max"])}


def published_counts() -> dict[str, dict[str, int]]:
    """Per-mass target counts of every feature, read from the paper's tables (never retyped)."""
    t3 = published.TABLE3
    counts = {
        "breast_density": {k: v[0] for k, v in t3["breast_density"].items()},
        "age_group": {k: v[0] for k, v in t3["age_group"].items()},
        "morphology": {k: v[1][0] for k, v in published.TABLE1["morphology"].items()},
        "margin": {k: v[1][0] for k, v in published.TABLE1["margin"].items()},
        "mass_density": {k: v[1][0] for k, v in published.TABLE1["mass_density"].items()},
        "birads": {k: v[1][0] for k, v in published.TABLE1["birads"].items()},
        "pathology": dict(published.TABLE2_TOTALS),
        "histology_negative": {k: v[0] for k, v in published.TABLE2["negative"].items()},
        "histology_positive": {k: v[0] for k, v in published.TABLE2["positive"].items()},
    }
    for name, table in counts.items():
        outcome = name.split("_")[1] if name.startswith("histology") else None
        expected = published.TABLE2_TOTALS[outcome] if outcome else published.COHORT["masses"]
        if sum(table.values()) != expected:
            raise MammoError(f"published counts of {name} add up to {sum(table.values())}, not {expected}")
    return counts


def scale_counts(counts: dict[str, int], total: int) -> dict[str, int]:
    """Integer counts proportional to ``counts`` summing to ``total`` (largest-remainder rounding)."""
    if total < 0:
        raise MammoError(f"scale_counts: total must be >= 0, got {total}")
    whole = sum(counts.values())
    if whole <= 0:
        raise MammoError(f"scale_counts: counts must have a positive sum, got {counts}")
    raw = {k: v * total / whole for k, v in counts.items()}
    out = {k: int(math.floor(x)) for k, x in raw.items()}
    for k in sorted(raw, key=lambda k: (out[k] - raw[k], list(raw).index(k)))[: total - sum(out.values())]:
        out[k] += 1
    return out


def rank_assign(key: np.ndarray, order: Sequence[str], counts: dict[str, int]) -> np.ndarray:
    """Give the ``counts[c]`` lowest keys the first category of ``order``, the next ones the second, ..."""
    if sum(counts.get(c, 0) for c in order) != len(key):
        raise MammoError(f"rank_assign: counts {counts} do not add up to {len(key)} items")
    labels = np.repeat(np.array(order, dtype=object), [counts.get(c, 0) for c in order])
    out = np.empty(len(key), dtype=object)
    out[np.argsort(key, kind="stable")] = labels
    return out


def masses_per_patient(n_patients: int, n_masses: int, max_per: int, rng: np.random.Generator) -> np.ndarray:
    """Counts of masses per patient (>= 1, <= max_per) summing to ``n_masses``: zero-truncated Poisson."""
    if not n_patients <= n_masses <= n_patients * max_per:
        raise MammoError(f"cannot spread {n_masses} masses over {n_patients} patients with 1-{max_per} each")
    mean = n_masses / n_patients
    lam = optimize.brentq(lambda x: x / -math.expm1(-x) - mean, 1e-6, 50.0) if mean > 1 else 1e-6
    k = np.arange(1, max_per + 1)
    p = stats.poisson.pmf(k, lam)
    counts = rng.choice(k, size=n_patients, p=p / p.sum())
    while counts.sum() != n_masses:
        step = 1 if counts.sum() < n_masses else -1
        movable = np.flatnonzero(counts < max_per) if step > 0 else np.flatnonzero(counts > 1)
        counts[rng.choice(movable)] += step
    return counts


def partition(sizes: np.ndarray, targets: dict[str, int], preference: dict[str, np.ndarray],
              exact: bool = True) -> np.ndarray:
    """Assign each patient a group so that the group's sizes sum exactly to ``targets``.

    Groups are filled in the order of ``targets`` (the last takes the rest); each takes patients in its
    ``preference`` order (a permutation of patient indices), skipping patients too large for what is left.
    With ``exact=False`` (sampled cohorts, where tiny cohorts may not split exactly) a group may stay short.
    """
    label = np.full(len(sizes), None, dtype=object)
    groups = list(targets)
    for group in groups[:-1]:
        left = targets[group]
        for i in preference[group]:
            if left == 0:
                break
            if label[i] is None and sizes[i] <= left:
                label[i] = group
                left -= int(sizes[i])
        if left and exact:
            raise MammoError(f"partition: could not fill group {group!r} exactly ({left} masses short)")
    label[label == None] = groups[-1]  # noqa: E711 (elementwise comparison)
    if exact and int(sizes[label == groups[-1]].sum()) != targets[groups[-1]]:
        raise MammoError(f"partition: group {groups[-1]!r} does not add up to {targets[groups[-1]]}")
    return label


def exact_ages(groups: np.ndarray, rng: np.random.Generator, mean: float, sd: float,
               lo: int, hi: int) -> np.ndarray:
    """Integer ages within each patient's age group whose mean, SD (ddof=1), min and max round to the targets.

    Drawn from a normal(mean, sd) truncated to the group, one patient pinned at each end of the range,
    then nudged one year at a time (sum first, then spread by paired moves that keep the sum).
    """
    n = len(groups)
    bounds = np.array([AGE_BOUNDS[g] for g in groups], dtype=np.int64)
    a, b = (bounds[:, 0] - 0.5 - mean) / sd, (bounds[:, 1] + 0.5 - mean) / sd
    ages = np.rint(stats.truncnorm.rvs(a, b, loc=mean, scale=sd, random_state=rng)).astype(np.int64)
    ages = np.clip(ages, bounds[:, 0], bounds[:, 1])
    pinned = np.zeros(n, dtype=bool)
    for value in (lo, hi):
        candidates = np.flatnonzero((bounds[:, 0] <= value) & (bounds[:, 1] >= value) & ~pinned)
        if len(candidates) == 0:
            raise MammoError(f"exact_ages: no patient's age group admits age {value}")
        i = rng.choice(candidates)
        ages[i], pinned[i] = value, True
    free_lo = np.maximum(bounds[:, 0], lo)
    free_hi = np.minimum(bounds[:, 1], hi)
    target_sum = int(round(mean * n))
    for _ in range(100 * n):
        diff = target_sum - int(ages.sum())
        if diff == 0:
            break
        step = 1 if diff > 0 else -1
        ok = np.flatnonzero(~pinned & ((ages < free_hi) if step > 0 else (ages > free_lo)))
        ages[rng.choice(ok)] += step
    for _ in range(200 * n):
        current = float(np.std(ages, ddof=1))
        if round(current, 2) == round(sd, 2):
            break
        m = ages.mean()
        widen = current < sd
        # widen: push a patient above the mean up and one below down (or the reverse to narrow);
        # near-mean patients make the small steps needed close to the target
        up_ok = ~pinned & (ages < free_hi) & ((ages >= m) if widen else (ages < m))
        down_ok = ~pinned & (ages > free_lo) & ((ages < m) if widen else (ages >= m))
        if not up_ok.any() or not down_ok.any():
            raise MammoError("exact_ages: cannot reach the target SD within the age groups")
        scale = 1.0 if abs(current - sd) > 0.05 else 0.2
        w_up = np.exp(-np.abs(ages - m) * scale / sd * 3) * up_ok
        w_dn = np.exp(-np.abs(ages - m) * scale / sd * 3) * down_ok
        i = rng.choice(n, p=w_up / w_up.sum())
        j = rng.choice(n, p=w_dn / w_dn.sum())
        ages[i] += 1
        ages[j] -= 1
    else:
        raise MammoError("exact_ages: did not converge on the target SD")
    return ages


def _study_dates(n: int, window: tuple[str, str], rng: np.random.Generator) -> list[str]:
    start = _dt.datetime.strptime(window[0], "%Y%m%d").date()
    end = _dt.datetime.strptime(window[1], "%Y%m%d").date()
    offsets = rng.integers(0, (end - start).days + 1, size=n)
    return [(start + _dt.timedelta(days=int(d))).strftime("%Y%m%d") for d in offsets]


def compose(cfg: SynthConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cohort's patients and masses (no pixels yet), deterministic in ``cfg.seed``."""
    rng = np.random.default_rng([cfg.seed, 0])
    target = published_counts()
    n_pat = cfg.n_patients
    n_mass = published.COHORT["masses"] if cfg.composition == "exact" else int(
        round(n_pat * published.COHORT["masses"] / published.COHORT["patients"]))
    if cfg.composition == "sampled":
        target = {k: (scale_counts(v, n_mass) if not k.startswith("histology") else v) for k, v in target.items()}
        for outcome in ("negative", "positive"):
            target[f"histology_{outcome}"] = scale_counts(target[f"histology_{outcome}"], target["pathology"][outcome])
    sizes = masses_per_patient(n_pat, n_mass, cfg.max_masses_per_patient, rng)

    # breast density: small groups first, each preferring random patients; c takes the rest
    dens_targets = {k: target["breast_density"][k] for k in ("a", "b", "d", "c")}
    pref = {k: rng.permutation(n_pat) for k in dens_targets}
    exact = cfg.composition == "exact"
    density = partition(sizes, dens_targets, pref, exact)
    # age group: denser breasts lean younger (Sung et al. NPJ Breast Cancer 2018;4:3, paper ref. 10)
    dens_rank = np.array([vocab.BREAST_DENSITY.index(d) for d in density], dtype=float)
    youth = dens_rank + rng.normal(0.0, 1.5, n_pat)
    age_targets = {k: target["age_group"][k] for k in ("<40", ">60", "40-60")}
    age_group = partition(sizes, age_targets, {"<40": np.argsort(-youth, kind="stable"),
                                               ">60": np.argsort(youth, kind="stable"),
                                               "40-60": rng.permutation(n_pat)}, exact)
    c = published.COHORT
    if cfg.composition == "exact":
        ages = exact_ages(age_group, rng, c["age_mean"], c["age_sd"], c["age_min"], c["age_max"])
    else:
        bounds = np.array([AGE_BOUNDS[g] for g in age_group])
        a, b = (bounds[:, 0] - 0.5 - c["age_mean"]) / c["age_sd"], (bounds[:, 1] + 0.5 - c["age_mean"]) / c["age_sd"]
        ages = np.clip(np.rint(stats.truncnorm.rvs(a, b, loc=c["age_mean"], scale=c["age_sd"], random_state=rng)),
                       bounds[:, 0], bounds[:, 1]).astype(np.int64)

    vendor_counts = scale_counts(dict(zip(("Siemens", "GE", "Hologic"), cfg.vendor_shares)), n_pat)
    vendors = rng.permutation(np.repeat(list(vendor_counts), list(vendor_counts.values())))
    unilateral = np.zeros(n_pat, dtype=bool)
    unilateral[rng.choice(n_pat, size=int(round(cfg.unilateral_fraction * n_pat)), replace=False)] = True
    side_draw = rng.choice(vocab.LATERALITY, size=n_pat)
    n_val = int(round(cfg.val_fraction * n_pat))
    split = np.full(n_pat, cfg.split, dtype=object)
    split[rng.choice(n_pat, size=n_val, replace=False)] = "val"
    patient_ids = [f"{cfg.id_prefix}{i + 1:04d}" for i in range(n_pat)]
    patients = pd.DataFrame({
        "patient_id": patient_ids,
        "study_id": [f"{p}-S1" for p in patient_ids],
        "age": ages,
        "age_group": age_group.astype(str),
        "breast_density": density.astype(str),
        "vendor": vendors,
        "sides": ["".join(s) if not u else side for s, u, side in zip([("R", "L")] * n_pat, unilateral, side_draw)],
        "n_masses": sizes,
        "study_date": _study_dates(n_pat, cfg.study_window, rng),
        "split": split,
    })

    # masses: latent suspiciousness, rising with age; every feature cut from its own noisy ranking
    owner = np.repeat(np.arange(n_pat), sizes)
    age_z = (ages[owner] - c["age_mean"]) / c["age_sd"]
    z = cfg.age_weight * age_z + math.sqrt(1.0 - cfg.age_weight**2) * rng.standard_normal(n_mass)
    feats = {name: rank_assign(z + cfg.rank_noise[name] * rng.standard_normal(n_mass), order, target[name])
             for name, order in SUSPICION_ORDER.items()}
    positive = feats["pathology"] == "positive"
    histology = np.empty(n_mass, dtype=object)
    pos_idx = np.flatnonzero(positive)
    histology[pos_idx] = rng.permutation(np.repeat(list(target["histology_positive"]),
                                                   list(target["histology_positive"].values())))
    # negatives: the most suspicious-looking ones were biopsied (their histology is Table 2's), the
    # others confirmed benign by stable follow-up
    neg_idx = np.flatnonzero(~positive)
    biopsy_key = np.array([vocab.BIRADS_RANK[b] for b in feats["birads"][neg_idx]]) + rng.uniform(0, 1, len(neg_idx))
    neg_counts = dict(target["histology_negative"])
    n_follow = neg_counts.pop("stable follow-up")
    order = neg_idx[np.argsort(-biopsy_key, kind="stable")]
    histology[order[: len(order) - n_follow]] = rng.permutation(np.repeat(list(neg_counts), list(neg_counts.values())))
    histology[order[len(order) - n_follow:]] = "stable follow-up"
    log_size = math.log(cfg.size_median_mm) + math.log(cfg.size_gsd) * (0.3 * z + math.sqrt(1 - 0.09) * rng.standard_normal(n_mass))
    size = np.round(np.clip(np.exp(log_size), *cfg.size_clip_mm), 1)
    sides = patients["sides"].to_numpy()[owner]
    laterality = np.array([s if len(s) == 1 else rng.choice(list(s)) for s in sides])
    rank_in_patient = np.concatenate([np.arange(k) for k in sizes]) + 1
    masses = pd.DataFrame({
        "mass_id": [f"{patient_ids[o]}-M{k}" for o, k in zip(owner, rank_in_patient)],
        "patient_id": [patient_ids[o] for o in owner],
        "laterality": laterality,
        "morphology": feats["morphology"].astype(str),
        "margin": feats["margin"].astype(str),
        "mass_density": feats["mass_density"].astype(str),
        "size_mm": size,
        "birads": feats["birads"].astype(str),
        "pathology": feats["pathology"].astype(str),
        "histology": histology.astype(str),
        "reference_standard": np.where(histology == "stable follow-up", "follow-up", "histopathology"),
        "suspicion": np.round(z, 6),
    })
    return patients, masses
