"""Statistics of the reader study: DeLong AUC tests, chi-square by stratum, proportions, McNemar, bootstrap.

The paper (Li et al. 2023, "Statistical analysis") used Pearson's chi-square for detection across the strata
of a factor, accuracy/sensitivity/specificity, and AUCs with 95% CIs compared by DeLong's test. Everything
here validates its input first and raises :class:`~mammo_lib.errors.MammoError` naming the argument and the
bad value; results are small frozen dataclasses. DeLong follows the fast algorithm of Sun & Xu (IEEE Signal
Process Lett 2014;21:1389-93) and matches pROC (Robin et al., BMC Bioinformatics 2011) on pROC's aSAH data.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as _sps

from mammo_lib.errors import MammoError

__all__ = [
    "AucCI", "DeLongTest", "ChiSquare", "Proportion", "BinaryMetrics", "McNemar", "BootstrapCI",
    "auc", "delong_placements", "delong_covariance", "delong_covariance_from_placements", "delong_ci", "delong_test",
    "chi_square_detection",
    "chi_square_counts", "proportion_ci", "binary_metrics", "mcnemar_paired", "cluster_bootstrap",
    "binary_labels", "score_array", "check_alpha",
]


# --- input validation -------------------------------------------------------------------------------
def binary_labels(y_true: Any, name: str = "y_true") -> np.ndarray:
    """``y_true`` as a bool array; accepts bools or 0/1 numbers, rejects NaN and other codes (MammoError
    naming ``name``). Shared input check of this module and :mod:`mammo_lib.evaluation.mrmc`."""
    if hasattr(y_true, "to_numpy") and getattr(y_true, "hasnans", False):
        y_true = y_true.to_numpy(dtype=float, na_value=np.nan)  # pandas nullable booleans/ints: NA -> NaN
    arr = np.asarray(y_true)
    if arr.ndim != 1:
        raise MammoError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise MammoError(f"{name} is empty")
    if arr.dtype == bool:
        return arr
    try:
        num = arr.astype(float)
    except (TypeError, ValueError):
        bad = next(v for v in arr.tolist() if not (isinstance(v, (bool, int, float)) and v in (0, 1)))
        raise MammoError(f"{name} must hold 0/1 or booleans, got {bad!r}") from None
    if np.isnan(num).any():
        raise MammoError(f"{name} has {int(np.isnan(num).sum())} NaN value(s), first at index "
                         f"{int(np.flatnonzero(np.isnan(num))[0])}")
    bad_mask = (num != 0) & (num != 1)
    if bad_mask.any():
        raise MammoError(f"{name} must hold 0/1 or booleans, got {arr[bad_mask][0].item()!r} at index "
                         f"{int(np.flatnonzero(bad_mask)[0])}")
    return num == 1


def score_array(score: Any, n: int, name: str) -> np.ndarray:
    """``score`` as a finite float array of length ``n`` (that of the labels); MammoError naming ``name``."""
    arr = np.asarray(score)
    if arr.ndim != 1:
        raise MammoError(f"{name} must be one-dimensional, got shape {arr.shape}")
    try:
        arr = arr.astype(float)
    except (TypeError, ValueError):
        raise MammoError(f"{name} must be numeric, got dtype {np.asarray(score).dtype}") from None
    if arr.size != n:
        raise MammoError(f"{name} has {arr.size} values but y_true has {n}")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise MammoError(f"{name} has {int(bad.sum())} NaN or infinite value(s), first at index "
                         f"{int(np.flatnonzero(bad)[0])}")
    return arr


def measurable(labels: Any, minimum: int = 2) -> bool:
    """Whether binary ``labels`` (0/1 or bools) hold at least ``minimum`` of each class: what an AUC with its
    DeLong variance needs (2); notebooks say "too few" instead of computing from fewer."""
    y = np.asarray(labels).astype(bool)
    return int(y.sum()) >= minimum and int((~y).sum()) >= minimum


def _both_classes(y: np.ndarray, minimum: int = 1, name: str = "y_true") -> tuple[int, int]:
    m, n = int(y.sum()), int((~y).sum())
    if m < minimum or n < minimum:
        what = "all negative" if m == 0 else "all positive" if n == 0 else f"{m} positive and {n} negative"
        raise MammoError(f"{name} needs at least {minimum} positive and {minimum} negative case(s), got {what}")
    return m, n


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float, or a MammoError when it does not lie strictly between 0 and 1."""
    if not 0.0 < alpha < 1.0:
        raise MammoError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    return float(alpha)


# --- DeLong ------------------------------------------------------------------------------------------
def delong_placements(y_true: Any, score: Any) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components (V10 per positive, V01 per negative) from one sort of the scores.

    V10_i is the fraction of negatives scored below positive i (ties count one half); V01_j the fraction of
    positives scored above negative j. Their means are the AUC (Mann-Whitney). One argsort, then O(n) work:
    within a block of tied scores the placement of a positive is (negatives before the block + half the
    negatives in it) / n_neg, which equals Sun & Xu's midrank difference T_z - T_x.
    """
    y = binary_labels(y_true)
    s = score_array(score, y.size, "score")
    m, n = _both_classes(y)
    order = np.argsort(s)  # ties are grouped below by value, so a stable sort is not needed
    s_sorted, y_sorted = s[order], y[order]
    starts = np.flatnonzero(np.r_[True, s_sorted[1:] != s_sorted[:-1]])
    pos_in = np.add.reduceat(y_sorted.astype(np.int64), starts)
    size = np.diff(np.r_[starts, s.size])
    neg_in = size - pos_in
    neg_before = np.cumsum(neg_in) - neg_in
    pos_after = m - np.cumsum(pos_in)
    block_v10 = (neg_before + 0.5 * neg_in) / n
    block_v01 = (pos_after + 0.5 * pos_in) / m
    per_sorted = np.repeat(np.arange(starts.size), size)
    v = np.empty(s.size)
    v[order] = np.where(y_sorted, block_v10[per_sorted], block_v01[per_sorted])
    return v[y], v[~y]


def auc(y_true: Any, score: Any) -> float:
    """Empirical ROC AUC (Mann-Whitney, ties count one half), higher score = positive."""
    v10, _ = delong_placements(y_true, score)
    return float(v10.mean())


def delong_covariance(y_true: Any, scores: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """AUCs of k paired scores and their DeLong (1988) k x k covariance matrix.

    Covariances use n-1 denominators, as DeLong and pROC do: S = S10 / n_pos + S01 / n_neg.
    """
    y = binary_labels(y_true)
    if len(scores) == 0:
        raise MammoError("scores is empty: give at least one score array")
    m, n = _both_classes(y, minimum=2)
    v10 = np.empty((len(scores), m))
    v01 = np.empty((len(scores), n))
    for k, score in enumerate(scores):
        v10[k], v01[k] = delong_placements(y, score_array(score, y.size, f"scores[{k}]"))
    return v10.mean(axis=1), delong_covariance_from_placements(v10, v01)


def delong_covariance_from_placements(v10: np.ndarray, v01: np.ndarray) -> np.ndarray:
    """DeLong's covariance S10 / n_pos + S01 / n_neg (n-1 denominators) of k AUCs from their structural
    components, ``v10`` (k x n_pos) and ``v01`` (k x n_neg; zero columns for a figure of merit without negatives,
    such as a sensitivity, whose covariance is then S10 / n_pos)."""
    v10, v01 = np.atleast_2d(v10), np.atleast_2d(v01)
    cov = np.atleast_2d(np.cov(v10)) / v10.shape[1]
    if v01.shape[1]:
        cov = cov + np.atleast_2d(np.cov(v01)) / v01.shape[1]
    return cov


@dataclass(frozen=True)
class AucCI:
    """An AUC with its DeLong variance and normal-approximation CI (clipped to [0, 1], as pROC does)."""

    auc: float
    variance: float
    se: float
    lower: float
    upper: float
    alpha: float
    n_positive: int
    n_negative: int


def delong_ci(y_true: Any, score: Any, alpha: float = 0.05) -> AucCI:
    """AUC of ``score`` with its DeLong variance and (1 - alpha) CI, as pROC's ``ci.auc(method="delong")``."""
    alpha = check_alpha(alpha)
    y = binary_labels(y_true)
    aucs, cov = delong_covariance(y, [score])
    value, var = float(aucs[0]), float(cov[0, 0])
    half = _sps.norm.ppf(1 - alpha / 2) * np.sqrt(var)
    return AucCI(auc=value, variance=var, se=float(np.sqrt(var)), lower=float(max(0.0, value - half)),
                 upper=float(min(1.0, value + half)), alpha=alpha, n_positive=int(y.sum()), n_negative=int((~y).sum()))


@dataclass(frozen=True)
class DeLongTest:
    """Paired DeLong test of two AUCs on the same cases (two-sided), as pROC's ``roc.test(method="delong")``.

    ``difference`` is auc_a - auc_b with its (1 - alpha) CI. When the variance of the difference is zero
    (e.g. identical scores) Z is 0 and p is 1 if the difference is 0, else Z is +-inf and p is 0.
    """

    auc_a: float
    auc_b: float
    difference: float
    variance: float
    lower: float
    upper: float
    z: float
    p: float
    covariance: float
    alpha: float


def delong_test(y_true: Any, score_a: Any, score_b: Any, alpha: float = 0.05) -> DeLongTest:
    """Compare the AUCs of two scores of the same cases by DeLong's test (Z, two-sided p, CI of a - b)."""
    alpha = check_alpha(alpha)
    y = binary_labels(y_true)
    a = score_array(score_a, y.size, "score_a")
    b = score_array(score_b, y.size, "score_b")
    aucs, cov = delong_covariance(y, [a, b])
    diff = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    var = max(var, 0.0)  # rounding can leave -1e-18 for identical scores
    if var > 0:
        z = diff / np.sqrt(var)
    else:
        z = 0.0 if diff == 0 else float(np.sign(diff) * np.inf)
    p = float(2 * _sps.norm.sf(abs(z)))
    half = _sps.norm.ppf(1 - alpha / 2) * np.sqrt(var)
    return DeLongTest(auc_a=float(aucs[0]), auc_b=float(aucs[1]), difference=diff, variance=var,
                      lower=float(diff - half), upper=float(diff + half), z=float(z), p=p, covariance=float(cov[0, 1]),
                      alpha=alpha)


# --- chi-square by stratum ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ChiSquare:
    """Pearson chi-square of a strata x {detected, missed} table (no continuity correction, as SPSS's
    "Pearson Chi-Square" row). ``dropped_strata`` lists strata without masses, left out of the test;
    ``n_expected_below_5`` counts cells whose expected count is below 5 (the usual validity warning)."""

    statistic: float
    dof: int
    p: float
    strata: tuple[str, ...]
    dropped_strata: tuple[str, ...]
    min_expected: float
    n_expected_below_5: int


def chi_square_counts(strata: Sequence[str], totals: Sequence[int], detected: Sequence[int]) -> ChiSquare:
    """Pearson chi-square of detection across strata from per-stratum totals and detected counts.

    Strata with no masses are dropped (and named in the result). Fewer than two non-empty strata, or a
    table in which every mass was detected (or none was), has a zero expected count and no test: MammoError.
    """
    labels = [str(s) for s in strata]
    tot = np.asarray(totals)
    det = np.asarray(detected)
    if not (len(labels) == tot.size == det.size):
        raise MammoError(f"strata, totals and detected differ in length: {len(labels)}, {tot.size}, {det.size}")
    for name, arr in (("totals", tot), ("detected", det)):
        if arr.size and (not np.issubdtype(arr.dtype, np.number) or np.isnan(arr.astype(float)).any()
                         or (arr < 0).any() or (arr != np.round(arr)).any()):
            raise MammoError(f"{name} must be non-negative whole counts, got {arr.tolist()}")
    over = det > tot
    if over.any():
        i = int(np.flatnonzero(over)[0])
        raise MammoError(f"stratum {labels[i]!r}: detected {int(det[i])} exceeds its total {int(tot[i])}")
    keep = tot > 0
    kept = tuple(s for s, k in zip(labels, keep) if k)
    dropped = tuple(s for s, k in zip(labels, keep) if not k)
    if len(kept) < 2:
        raise MammoError(f"chi-square needs at least two strata with masses, got {list(kept)} "
                         f"(empty: {list(dropped)})")
    table = np.column_stack([det[keep], tot[keep] - det[keep]]).astype(float)
    col = table.sum(axis=0)
    if (col == 0).any():
        which = "detected" if col[1] == 0 else "missed"
        raise MammoError(f"chi-square undefined: every mass of strata {list(kept)} was {which} "
                         f"(a column of zero expected counts)")
    res = _sps.chi2_contingency(table, correction=False)
    expected = np.asarray(res.expected_freq)
    return ChiSquare(statistic=float(res.statistic), dof=int(res.dof), p=float(res.pvalue), strata=kept,
                     dropped_strata=dropped, min_expected=float(expected.min()),
                     n_expected_below_5=int((expected < 5).sum()))


def chi_square_detection(strata: Sequence[Any], detected: Sequence[Any],
                         order: Sequence[str] | None = None) -> ChiSquare:
    """Pearson chi-square of detection across strata from per-mass records (stratum, detected flag).

    ``order`` fixes the strata (and keeps empty ones, which are then dropped and reported); by default the
    strata seen, sorted. Unknown or missing strata are an error.
    """
    s = np.asarray(strata, dtype=object)
    d = binary_labels(detected, "detected")
    if s.size != d.size:
        raise MammoError(f"strata has {s.size} values but detected has {d.size}")
    missing = [i for i, v in enumerate(s) if v is None or (isinstance(v, float) and np.isnan(v))]
    if missing:
        raise MammoError(f"strata has {len(missing)} missing value(s), first at index {missing[0]}")
    s = s.astype(str)
    levels = list(order) if order is not None else sorted(set(s))
    unknown = sorted(str(v) for v in set(s) - set(map(str, levels)))
    if unknown:
        raise MammoError(f"strata holds {unknown}, not among the expected strata {list(levels)}")
    totals = [int((s == str(lv)).sum()) for lv in levels]
    hits = [int(d[s == str(lv)].sum()) for lv in levels]
    return chi_square_counts([str(lv) for lv in levels], totals, hits)


# --- proportions, binary metrics ---------------------------------------------------------------------
@dataclass(frozen=True)
class Proportion:
    """count / nobs with its (1 - alpha) CI by statsmodels' ``proportion_confint``."""

    count: int
    nobs: int
    estimate: float
    lower: float
    upper: float
    method: str


def proportion_ci(count: int, nobs: int, alpha: float = 0.05, method: str = "wilson") -> Proportion:
    """A proportion with a Wilson (default) or exact Clopper-Pearson ("beta") confidence interval."""
    from statsmodels.stats.proportion import proportion_confint

    alpha = check_alpha(alpha)
    if method not in ("wilson", "beta"):
        raise MammoError(f"method must be 'wilson' or 'beta' (exact), got {method!r}")
    for name, v in (("count", count), ("nobs", nobs)):
        if isinstance(v, float) and not float(v).is_integer() or not np.isfinite(float(v)) or v < 0:
            raise MammoError(f"{name} must be a non-negative whole number, got {v!r}")
    count, nobs = int(count), int(nobs)
    if nobs == 0:
        raise MammoError("nobs is 0: a proportion of no observations is undefined")
    if count > nobs:
        raise MammoError(f"count {count} exceeds nobs {nobs}")
    lo, hi = proportion_confint(count, nobs, alpha=alpha, method=method)
    return Proportion(count=count, nobs=nobs, estimate=count / nobs, lower=float(lo), upper=float(hi),
                      method=method)


@dataclass(frozen=True)
class BinaryMetrics:
    """Accuracy, sensitivity and specificity of a binary call against the reference, each with its CI."""

    tp: int
    fn: int
    tn: int
    fp: int
    accuracy: Proportion
    sensitivity: Proportion
    specificity: Proportion


def binary_metrics(y_true: Any, y_pred: Any, alpha: float = 0.05, method: str = "wilson") -> BinaryMetrics:
    """Confusion counts (scikit-learn) and accuracy/sensitivity/specificity with CIs (statsmodels)."""
    from sklearn.metrics import confusion_matrix

    y = binary_labels(y_true)
    p = binary_labels(y_pred, "y_pred")
    if p.size != y.size:
        raise MammoError(f"y_pred has {p.size} values but y_true has {y.size}")
    _both_classes(y)
    tn, fp, fn, tp = (int(v) for v in confusion_matrix(y, p, labels=[False, True]).ravel())
    return BinaryMetrics(tp=tp, fn=fn, tn=tn, fp=fp,
                         accuracy=proportion_ci(tp + tn, y.size, alpha, method),
                         sensitivity=proportion_ci(tp, tp + fn, alpha, method),
                         specificity=proportion_ci(tn, tn + fp, alpha, method))


# --- McNemar -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class McNemar:
    """Paired comparison of two detectors on the same masses.

    ``only_a`` / ``only_b``: masses detected by one and missed by the other (the discordant pairs).
    ``exact``: binomial test (used when there are fewer than 25 discordant pairs, or when asked); otherwise
    the chi-square with continuity correction. No discordant pair gives statistic 0 and p = 1.
    """

    n: int
    both: int
    only_a: int
    only_b: int
    neither: int
    statistic: float
    p: float
    exact: bool


def mcnemar_paired(detected_a: Any, detected_b: Any, exact: bool | None = None) -> McNemar:
    """McNemar's test of paired detection (statsmodels); ``exact=None`` picks exact below 25 discordant."""
    from statsmodels.stats.contingency_tables import mcnemar

    a = binary_labels(detected_a, "detected_a")
    b = binary_labels(detected_b, "detected_b")
    if a.size != b.size:
        raise MammoError(f"detected_a has {a.size} values but detected_b has {b.size}")
    both, only_a = int((a & b).sum()), int((a & ~b).sum())
    only_b, neither = int((~a & b).sum()), int((~a & ~b).sum())
    use_exact = (only_a + only_b) < 25 if exact is None else bool(exact)
    if only_a + only_b == 0:
        return McNemar(a.size, both, only_a, only_b, neither, 0.0, 1.0, use_exact)
    res = mcnemar([[both, only_a], [only_b, neither]], exact=use_exact, correction=True)
    return McNemar(a.size, both, only_a, only_b, neither, float(res.statistic), float(res.pvalue), use_exact)


# --- patient-clustered bootstrap ---------------------------------------------------------------------
@dataclass(frozen=True)
class BootstrapCI:
    """Percentile bootstrap CI of a statistic, resampling whole clusters (patients) with replacement.

    ``n_failed`` counts resamples on which the statistic was undefined (e.g. an AUC of a resample with one
    class); they are skipped, and more than 10% of failures is an error rather than a biased CI.
    """

    estimate: float
    lower: float
    upper: float
    se: float
    n_boot: int
    n_failed: int
    n_clusters: int
    alpha: float


def cluster_bootstrap(clusters: Any, statistic: Callable[..., float], *arrays: Any, n_boot: int = 2000,
                      seed: int = 0, alpha: float = 0.05) -> BootstrapCI:
    """Percentile CI of ``statistic(*arrays)`` by resampling clusters (e.g. patient_id), since masses of
    one patient are not independent. Same seed, same CI."""
    alpha = check_alpha(alpha)
    cl = np.asarray(clusters, dtype=object)
    if cl.ndim != 1 or cl.size == 0:
        raise MammoError(f"clusters must be a non-empty 1-D array, got shape {cl.shape}")
    if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in cl):
        raise MammoError("clusters has missing values")
    data = [np.asarray(a) for a in arrays]
    for k, arr in enumerate(data):
        if arr.shape[:1] != cl.shape:
            raise MammoError(f"arrays[{k}] has {arr.shape[0] if arr.ndim else 0} rows but clusters has {cl.size}")
    if n_boot < 100:
        raise MammoError(f"n_boot must be at least 100 for a percentile CI, got {n_boot}")
    _, codes = np.unique(cl.astype(str), return_inverse=True)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    n_clusters = counts.size
    estimate = float(statistic(*data))
    rng = np.random.default_rng(seed)
    values = []
    failed = 0
    for _ in range(n_boot):
        pick = rng.integers(0, n_clusters, n_clusters)
        sizes = counts[pick]
        ends = np.cumsum(sizes)
        # rows of the picked clusters, in one vectorised step: start of each cluster + offset within it
        idx = order[np.repeat(starts[pick] - (ends - sizes), sizes) + np.arange(ends[-1])]
        try:
            value = float(statistic(*(arr[idx] for arr in data)))
        except MammoError:
            failed += 1
            continue
        if not np.isfinite(value):
            failed += 1
            continue
        values.append(value)
    if failed > 0.1 * n_boot:
        raise MammoError(f"the statistic was undefined on {failed} of {n_boot} cluster resamples (over 10%): "
                         f"too few clusters or too few cases of one class")
    vals = np.asarray(values)
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
    return BootstrapCI(estimate=estimate, lower=float(lo), upper=float(hi), se=float(vals.std(ddof=1)),
                       n_boot=n_boot, n_failed=failed, n_clusters=n_clusters, alpha=alpha)
