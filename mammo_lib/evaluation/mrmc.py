"""Reader-study statistics: multi-reader multi-case (MRMC) ROC analysis, AI versus readers, clustered AUC.

Input is a long table, one row per (modality, reader, case) with columns ``modality``, ``reader``, ``case``,
``truth`` (0/1), ``rating`` and, for the clustered covariance, ``cluster`` (e.g. the patient of each mass).
The design must be fully crossed: every reader rates every case in every modality.

- Figure of merit: the empirical AUC (Mann-Whitney, ties count one half) per modality and reader, from DeLong's
  structural components (:func:`mammo_lib.evaluation.stats.delong_placements`); or ``fom="sensitivity"`` (the fraction of
  positive cases rated 1, for binary detection flags; negatives do not enter it).
- Its covariance across modalities and readers (:func:`fom_covariance`): DeLong's structural components
  (DeLong et al., Biometrics 1988), the case jackknife (RJafroc and the Iowa OR-DBM program), the unbiased
  U-statistic moment estimator (Gallas, Pennello & Meyers, JOSA A 2007; MRMCaov's ``unbiased``), or
  Obuchowski's clustered estimator for several units per patient (Biometrics 1997;53:567-78).
- :func:`or_analysis`: Obuchowski-Rockette (1995) with Hillis's (2007, 2008) denominator degrees of freedom:
  random readers and cases (F), fixed readers (chi-square), fixed cases (F on the reader-by-modality mean square).
- :func:`ai_vs_readers`: a standalone AI system against a group of readers, as RJafroc's ``StCadVsRad``
  (Chakraborty; Hillis 2007, section 5.3): 1T-RRFC, 1T-RRRC and 2T-RRRC. Differences are readers minus AI
  (RJafroc's convention), so a positive difference means the readers did better.
- :func:`dbm_analysis`: Dorfman, Berbaum & Metz (1992) on the jackknife pseudovalues with Hillis's (2008) ddf.
- These analyses also take a :class:`JackknifeStudy`, a study that supplies its own figures of merit and their
  leave-one-case-out values: free-response marks (:class:`mammo_lib.evaluation.froc.FrocData`, wAFROC and kin).
- One reader's clustered AUC, the package's one home for it: :func:`clustered_auc_ci` (Obuchowski 1997, normal
  CI beside DeLong's) and :func:`clustered_auc_bootstrap` (cluster-bootstrap percentile CI).

Every function validates its input and raises :class:`~mammo_lib.errors.MammoError` naming what is wrong.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from scipy import special as _special
from scipy import stats as _sps

from mammo_lib.evaluation import stats
from mammo_lib.errors import MammoError

__all__ = [
    "ReaderStudy", "Components", "ReaderStudyTest", "ORAnalysis", "PairDifference", "AIVsReaders", "ClusteredAUC",
    "reader_study", "fom_components", "fom_covariance", "or_analysis", "ai_vs_readers", "clustered_auc_ci",
    "JackknifeStudy", "jackknife_covariance", "pseudovalues", "DBMAnalysis", "dbm_analysis",
    "clustered_auc_bootstrap",
]

Covariance = Literal["jackknife", "delong", "unbiased", "clustered"]
FOM = Literal["auc", "sensitivity"]
COLUMNS = ("modality", "reader", "case", "truth", "rating")
COVARIANCES = ("jackknife", "delong", "unbiased", "clustered")
FOMS = ("auc", "sensitivity")


# --- the long table -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReaderStudy:
    """A validated, fully crossed reader study: ``ratings[i, j, k]`` of modality i, reader j, case k.

    Modalities and readers are sorted; ``clusters`` holds a code per case (None without a cluster column).
    """

    modalities: tuple[Any, ...]
    readers: tuple[Any, ...]
    cases: tuple[Any, ...]
    truth: np.ndarray
    ratings: np.ndarray
    clusters: np.ndarray | None


def _sorted_levels(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct levels, code of each value); levels sort as numbers when they all are numbers."""
    codes, levels = pd.factorize(values, sort=True)
    return np.asarray(levels), codes


def reader_study(data: pd.DataFrame) -> ReaderStudy:
    """Check a long reader-study table and arrange its ratings as a modality x reader x case array.

    Errors name the problem: missing columns or values, truth other than 0/1, a case whose truth differs
    between rows, duplicated (modality, reader, case) rows, and unbalanced designs (a reader without ratings in
    a modality, or missing some cases).
    """
    if not isinstance(data, pd.DataFrame):
        raise MammoError(f"data must be a pandas DataFrame in long format, got {type(data).__name__}")
    missing = [c for c in COLUMNS if c not in data.columns]
    if missing:
        raise MammoError(f"data lacks column(s) {missing}; a reader study needs {list(COLUMNS)}")
    if data.empty:
        raise MammoError("data has no rows")
    for col in (*COLUMNS, *(["cluster"] if "cluster" in data.columns else [])):
        na = data[col].isna().to_numpy()
        if na.any():
            raise MammoError(f"data column {col!r} has {int(na.sum())} missing value(s), first at row "
                             f"{data.index[int(np.flatnonzero(na)[0])]!r}")
    rating = pd.to_numeric(data["rating"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(rating)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MammoError(f"data column 'rating' must be finite numbers, got {data['rating'].iloc[i]!r} at row "
                         f"{data.index[i]!r}")
    truth_num = pd.to_numeric(data["truth"], errors="coerce").to_numpy(float)
    bad = ~np.isin(truth_num, (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MammoError(f"data column 'truth' must be 0 or 1, got {data['truth'].iloc[i]!r} at row "
                         f"{data.index[i]!r}")
    modalities, mi = _sorted_levels(data["modality"])
    readers, ri = _sorted_levels(data["reader"])
    cases, ki = _sorted_levels(data["case"])
    n_i, n_j, n_k = len(modalities), len(readers), len(cases)
    cell = (mi * n_j + ri) * n_k + ki
    counts = np.bincount(cell, minlength=n_i * n_j * n_k)
    if (counts > 1).any():
        c = int(np.flatnonzero(counts > 1)[0])
        raise MammoError(f"data has {int(counts[c])} rows for modality {modalities[c // (n_j * n_k)]!r}, reader "
                         f"{readers[(c // n_k) % n_j]!r}, case {cases[c % n_k]!r}: one rating each is expected")
    per_mr = counts.reshape(n_i, n_j, n_k).sum(axis=2)
    if (per_mr == 0).any():
        i, j = (int(v[0]) for v in np.nonzero(per_mr == 0))
        raise MammoError(f"reader {readers[j]!r} has no ratings in modality {modalities[i]!r}: the design must be "
                         f"fully crossed (every reader rates every case in every modality)")
    if (per_mr < n_k).any():
        i, j = (int(v[0]) for v in np.nonzero(per_mr < n_k))
        raise MammoError(f"unbalanced design: reader {readers[j]!r} rated {int(per_mr[i, j])} of the {n_k} cases in "
                         f"modality {modalities[i]!r}; every reader must rate every case in every modality")
    ratings = np.empty(n_i * n_j * n_k)
    ratings[cell] = rating
    truth = np.full(n_k, -1.0)
    truth[ki] = truth_num
    if not np.array_equal(np.bincount(ki, weights=truth_num, minlength=n_k), truth * n_i * n_j):
        k = int(np.flatnonzero(np.bincount(ki, weights=truth_num, minlength=n_k) != truth * n_i * n_j)[0])
        raise MammoError(f"case {cases[k]!r} has differing truth between its rows: truth belongs to the case")
    clusters = None
    if "cluster" in data.columns:
        _, cl_codes = _sorted_levels(data["cluster"].astype(str))
        clusters = np.full(n_k, -1)
        clusters[ki] = cl_codes
        if not np.array_equal(clusters[ki], cl_codes):
            k = int(np.flatnonzero(clusters[ki] != cl_codes)[0])
            raise MammoError(f"case {data['case'].iloc[k]!r} lies in more than one cluster: a case belongs to "
                             f"one cluster (patient)")
    return ReaderStudy(modalities=tuple(modalities.tolist()), readers=tuple(readers.tolist()),
                       cases=tuple(cases.tolist()), truth=truth == 1, ratings=ratings.reshape(n_i, n_j, n_k),
                       clusters=clusters)


# --- figure of merit and its covariance ----------------------------------------------------------------
@dataclass(frozen=True)
class Components:
    """Figure of merit per modality and reader with its structural components, flattened over (i, j).

    ``v10[a]``: per positive case (AUC: fraction of negatives it outscores, ties one half; sensitivity: its 0/1
    flag); ``v01[a]``: per negative case (AUC only; an empty second axis for sensitivity). ``fom[a]`` is their
    mean, a = i * n_readers + j.
    """

    fom: np.ndarray
    v10: np.ndarray
    v01: np.ndarray
    kind: str
    positive: np.ndarray
    negative: np.ndarray


def fom_components(study: ReaderStudy, fom: FOM = "auc") -> Components:
    """Figure of merit of every (modality, reader) and its DeLong structural components."""
    if fom not in FOMS:
        raise MammoError(f"fom must be one of {list(FOMS)}, got {fom!r}")
    truth = study.truth
    pos, neg = np.flatnonzero(truth), np.flatnonzero(~truth)
    flat = study.ratings.reshape(-1, truth.size)
    if fom == "sensitivity":
        if pos.size < 2:
            raise MammoError(f"sensitivity needs at least 2 positive cases, got {pos.size}")
        v10 = flat[:, pos]
        if not np.isin(v10, (0.0, 1.0)).all():
            raise MammoError("fom='sensitivity' needs binary ratings (1 = detected / called positive, 0 = not), "
                             f"got {v10[~np.isin(v10, (0.0, 1.0))][0]!r}")
        return Components(fom=v10.mean(axis=1), v10=v10, v01=np.empty((flat.shape[0], 0)), kind=fom,
                          positive=pos, negative=np.empty(0, dtype=int))
    if pos.size < 2 or neg.size < 2:
        what = ("all negative" if pos.size == 0 else "all positive" if neg.size == 0
                else f"{pos.size} positive and {neg.size} negative")
        raise MammoError(f"the AUC and its covariance need at least 2 positive and 2 negative cases, got {what}")
    v10 = np.empty((flat.shape[0], pos.size))
    v01 = np.empty((flat.shape[0], neg.size))
    for a, score in enumerate(flat):
        v10[a], v01[a] = stats.delong_placements(truth, score)
    return Components(fom=v10.mean(axis=1), v10=v10, v01=v01, kind=fom, positive=pos, negative=neg)


def _centred_cross(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=1, keepdims=True)) @ (y - y.mean(axis=1, keepdims=True)).T


def _jackknife_foms(c: Components) -> np.ndarray:
    """Leave-one-case-out figures of merit, (I J) x K: leaving out positive i gives (m theta - V10_i)/(m - 1),
    negative j (n theta - V01_j)/(n - 1) exactly, so no AUC is recomputed (positives first, then negatives)."""
    m, n = c.v10.shape[1], c.v01.shape[1]
    theta = c.fom[:, None]
    parts = [(m * theta - c.v10) / (m - 1)]
    if n:
        parts.append((n * theta - c.v01) / (n - 1))
    return np.concatenate(parts, axis=1)


def jackknife_covariance(jk: np.ndarray) -> np.ndarray:
    """Case-jackknife covariance of figures of merit from their leave-one-out values (rows: figures of merit,
    columns: the K cases left out): (K - 1)/K sum_k (theta_(k) - mean)(...)^T (RJafroc, Iowa OR-DBM)."""
    k = jk.shape[1]
    return _centred_cross(jk, jk) * (k - 1) / k


def _jackknife(c: Components) -> np.ndarray:
    """Case-jackknife covariance of the figures of merit of ``c``."""
    return jackknife_covariance(_jackknife_foms(c))


def _unbiased(c: Components, study: ReaderStudy) -> np.ndarray:
    """Unbiased estimator of Cov(theta_a, theta_b) over cases (U-statistic moments; Gallas et al. 2007).

    With kernel psi(x_i, y_j) of positive i and negative j, Cov = [mu11 + (n - 1) mu10 + (m - 1) mu01 -
    (m + n - 1) theta_a theta_b] / (m n), each moment replaced by its unbiased average over distinct pairs.
    """
    m, n = c.v10.shape[1], c.v01.shape[1]
    if n == 0:  # sensitivity: a mean of the flags, whose sample covariance / m is unbiased
        return _centred_cross(c.v10, c.v10) / (m - 1) / m
    flat = study.ratings.reshape(-1, study.truth.size)
    xs, ys = flat[:, c.positive], flat[:, c.negative]
    p = flat.shape[0]
    both = np.zeros((p, p))  # sum over (i, j) of psi_a(i, j) psi_b(i, j)
    step = max(1, int(4e6 // max(1, p * n)))
    for start in range(0, m, step):
        d = xs[:, start:start + step, None] - ys[:, None, :]
        psi = ((d > 0) + 0.5 * (d == 0)).reshape(p, -1)
        both += psi @ psi.T
    rows = (n * c.v10) @ (n * c.v10).T  # sum_i R_a(i) R_b(i), R = row sums of psi
    cols = (m * c.v01) @ (m * c.v01).T
    total = np.outer(m * n * c.fom, m * n * c.fom)
    mu11 = both / (m * n)
    mu10 = (rows - both) / (m * n * (n - 1))
    mu01 = (cols - both) / (m * n * (m - 1))
    mu00 = (total - rows - cols + both) / (m * (m - 1) * n * (n - 1))
    return (mu11 + (n - 1) * mu10 + (m - 1) * mu01 - (m + n - 1) * mu00) / (m * n)


def _clustered(c: Components, study: ReaderStudy) -> np.ndarray:
    """Obuchowski (1997): per cluster, the sums of the structural components of its positive (V10) and negative
    (V01) units; S10, S01 and the within-cluster cross term S11 as in DIDSR's doAUCcluster."""
    if study.clusters is None:
        raise MammoError("covariance='clustered' needs a 'cluster' column (e.g. the patient of each case)")
    cl = study.clusters
    _, codes = np.unique(cl, return_inverse=True)
    n_cl = int(codes.max()) + 1
    if n_cl < 2:
        raise MammoError("covariance='clustered' needs at least 2 clusters, got 1")
    m_tot, n_tot = c.v10.shape[1], c.v01.shape[1]
    pos_cl, neg_cl = codes[c.positive], codes[c.negative]
    m_k = np.bincount(pos_cl, minlength=n_cl).astype(float)
    n_k = np.bincount(neg_cl, minlength=n_cl).astype(float)
    x = np.stack([np.bincount(pos_cl, weights=v, minlength=n_cl) for v in c.v10]) - np.outer(c.fom, m_k)
    i10 = int((m_k > 0).sum())
    if i10 < 2:
        raise MammoError(f"covariance='clustered' needs positive cases in at least 2 clusters, got {i10}")
    cov = (i10 / ((i10 - 1) * m_tot)) * (x @ x.T) / m_tot
    if n_tot:
        y = np.stack([np.bincount(neg_cl, weights=v, minlength=n_cl) for v in c.v01]) - np.outer(c.fom, n_k)
        i01 = int((n_k > 0).sum())
        if i01 < 2:
            raise MammoError(f"covariance='clustered' needs negative cases in at least 2 clusters, got {i01}")
        s11 = (n_cl / (n_cl - 1)) * (x @ y.T)
        cov = cov + (i01 / ((i01 - 1) * n_tot)) * (y @ y.T) / n_tot + (s11 + s11.T) / (m_tot * n_tot)
    return cov


def fom_covariance(study: ReaderStudy, covariance: Covariance = "jackknife", fom: FOM = "auc"
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Figures of merit (modality x reader) and their covariance over cases, (I J) x (I J) in (i, j) order.

    ``delong``: S10/m + S01/n with n-1 denominators (the same estimator as :func:`stats.delong_covariance`);
    ``jackknife``: exactly (K-1)/K [S10/(m-1) + S01/(n-1)] for the AUC; ``unbiased``: U-statistic moments;
    ``clustered``: Obuchowski (1997), with the ``cluster`` column.
    """
    if covariance not in COVARIANCES:
        raise MammoError(f"covariance must be one of {list(COVARIANCES)}, got {covariance!r}")
    c = fom_components(study, fom)
    if covariance == "delong":
        cov = stats.delong_covariance_from_placements(c.v10, c.v01)
    elif covariance == "jackknife":
        cov = _jackknife(c)
    elif covariance == "unbiased":
        cov = _unbiased(c, study)
    else:
        cov = _clustered(c, study)
    shape = study.ratings.shape[:2]
    return c.fom.reshape(shape), cov


# --- other kinds of reader study (FROC) ------------------------------------------------------------------
@runtime_checkable
class JackknifeStudy(Protocol):
    """A reader study that computes its own figures of merit and their leave-one-case-out values, such as
    :class:`mammo_lib.evaluation.froc.FrocData` (free-response marks); the analyses below accept it beside the long table."""

    modalities: tuple[Any, ...]
    readers: tuple[Any, ...]
    default_fom: str

    def jackknife(self, fom: str) -> tuple[np.ndarray, np.ndarray]:
        """(modality x reader figures of merit, their leave-one-case-out values: (I J) x cases left out)."""
        ...


def _study(data: Any) -> ReaderStudy | JackknifeStudy:
    """The validated study behind ``data``: a long ROC table, or a :class:`JackknifeStudy` as it is."""
    if not isinstance(data, pd.DataFrame) and isinstance(data, JackknifeStudy):
        return data
    return reader_study(data)


def _foms(study: ReaderStudy | JackknifeStudy, covariance: str, fom: str | None, with_covariance: bool = True
          ) -> tuple[np.ndarray, np.ndarray | None]:
    """Figures of merit (modality x reader) and, if asked, their covariance over cases, for either kind of study."""
    if isinstance(study, ReaderStudy):
        fom = "auc" if fom is None else fom
        if with_covariance:
            return fom_covariance(study, covariance, fom)  # type: ignore[arg-type]
        return fom_components(study, fom).fom.reshape(study.ratings.shape[:2]), None  # type: ignore[arg-type]
    if with_covariance and covariance != "jackknife":
        raise MammoError(f"{type(study).__name__} supports covariance='jackknife' only, got {covariance!r}")
    theta, jk = study.jackknife(study.default_fom if fom is None else fom)
    return theta, (jackknife_covariance(jk) if with_covariance else None)


#: The scipy.special functions that scipy.stats' t, F, chi-square and normal laws call for sf and ppf once they
#: have checked their arguments (scipy 1.17: t._sf = stdtr(df, -x), t._ppf = stdtrit, f._sf = fdtrc,
#: chi2._sf = chdtrc, norm: ndtr(-x), ndtri). Checking costs more than computing on small studies.
_SPECIAL = {("t", "sf"): lambda x, df: _special.stdtr(df, -x), ("t", "ppf"): lambda q, df: _special.stdtrit(df, q),
            ("f", "sf"): lambda x, dfn, dfd: _special.fdtrc(dfn, dfd, x),
            ("chi2", "sf"): lambda x, df: _special.chdtrc(df, x),
            ("norm", "sf"): lambda x: _special.ndtr(-x), ("norm", "ppf"): lambda q: _special.ndtri(q)}


def _law(name: str, method: str, x: Any, *df: Any) -> Any:
    """``scipy.stats.<name>.<method>(x, *df)``, the same numbers: straight to scipy.special where every argument
    is in the ordinary range (x finite, a probability strictly inside (0, 1), every df finite and positive), through
    scipy.stats otherwise (its handling of edges: infinite statistics, df 0, inf or nan)."""
    xa = np.asarray(x, dtype=float)
    ok = bool(np.isfinite(xa).all()) and all(bool(np.all(np.isfinite(d)) and np.all(np.asarray(d) > 0)) for d in df)
    if method == "ppf":
        ok = ok and bool(((xa > 0) & (xa < 1)).all())
    if ok:
        return _SPECIAL[(name, method)](xa if xa.ndim else float(xa), *df)
    return getattr(getattr(_sps, name), method)(x, *df)


# --- Obuchowski-Rockette / Hillis -----------------------------------------------------------------------
@dataclass(frozen=True)
class PairDifference:
    """One modality minus another (reader-averaged figure of merit) with its CI, statistic and p."""

    first: Any
    second: Any
    difference: float
    ci: tuple[float, float]
    statistic: float
    p_value: float


@dataclass(frozen=True)
class ReaderStudyTest:
    """The fields an OR and a DBM analysis share: the figures of merit (modality x reader), each modality's figure of
    merit with its CI, standard error and df, the difference of modality 1 minus modality 2 in sorted order with its
    CI and standard error, the test (``statistic`` on ``df_numerator`` and ``df`` degrees of freedom, ``p_value``)
    and every pair of modalities (``pairwise``)."""

    modalities: tuple[Any, ...]
    readers: tuple[Any, ...]
    fom: np.ndarray
    modality_fom: tuple[float, ...]
    modality_ci: tuple[tuple[float, float], ...]
    modality_se: tuple[float, ...]
    modality_df: tuple[float, ...]
    difference: float
    ci: tuple[float, float]
    se: float
    statistic: float
    df_numerator: float
    df: float
    p_value: float
    pairwise: tuple[PairDifference, ...]


@dataclass(frozen=True)
class ORAnalysis(ReaderStudyTest):
    """Obuchowski-Rockette / Hillis analysis of a multi-reader multi-case study.

    ``difference``: modality 1 minus modality 2 in sorted order (``pairwise`` holds every pair when there are
    more). ``statistic``: F (random readers; ``df_numerator`` and ``df`` its degrees of freedom) or, with fixed
    readers, the chi-square on ``df_numerator`` degrees of freedom (``df`` is then inf and CIs are normal).
    Variance components: ``var_error`` (Var), ``cov1`` (same reader, different modality), ``cov2`` (different
    readers, same modality), ``cov3`` (different readers and modalities), ``var_r``, ``var_tr`` (Hillis);
    ``modality_*`` per modality (Var, Cov2, MS_R: Hillis's single-modality CIs) and ``reader_*`` per reader (Var,
    Cov1: a fixed reader's own comparison of two modalities has variance 2 (Var_j - Cov1_j)). ``modality_ci`` is
    clipped to [0, 1], as MRMCaov does (both figures of merit are fractions).
    """

    modality_var_error: tuple[float, ...]
    modality_cov2: tuple[float, ...]
    modality_ms_r: tuple[float, ...]
    reader_var_error: tuple[float, ...]
    reader_cov1: tuple[float, ...]
    var_error: float
    cov1: float
    cov2: float
    cov3: float
    var_r: float
    var_tr: float
    ms_t: float
    ms_r: float
    ms_tr: float
    covariance: str
    readers_random: bool
    cases_random: bool
    alpha: float


def _components(theta: np.ndarray, cov: np.ndarray) -> dict[str, Any]:
    """Mean squares and the OR covariance averages of a modality x reader FOM table and its covariance."""
    n_i, n_j = theta.shape
    c4 = cov.reshape(n_i, n_j, n_i, n_j)
    same_i = np.eye(n_i, dtype=bool)[:, None, :, None]
    same_j = np.eye(n_j, dtype=bool)[None, :, None, :]

    def mean_where(mask: np.ndarray) -> float:
        full = np.broadcast_to(mask, c4.shape)
        return float(c4[full].mean()) if full.any() else float("nan")

    out: dict[str, Any] = {
        "var": mean_where(same_i & same_j), "cov1": mean_where(~same_i & same_j),
        "cov2": mean_where(same_i & ~same_j), "cov3": mean_where(~same_i & ~same_j),
    }
    t_i, r_j, grand = theta.mean(axis=1), theta.mean(axis=0), theta.mean()
    out["ms_t"] = n_j * float(((t_i - grand) ** 2).sum()) / (n_i - 1) if n_i > 1 else float("nan")
    out["ms_r"] = n_i * float(((r_j - grand) ** 2).sum()) / (n_j - 1)
    resid = theta - t_i[:, None] - r_j[None, :] + grand
    out["ms_tr"] = float((resid ** 2).sum()) / ((n_i - 1) * (n_j - 1)) if n_i > 1 else float("nan")
    # per modality and per reader: the blocks gathered in one indexing each, every row then averaged on its own
    # as a 1-D array (a 2-D mean along an axis may sum in another order and differ in the last bit)
    idx_i, idx_j = np.arange(n_i), np.arange(n_j)
    by_i = c4[idx_i, :, idx_i, :]  # (I, J, J): modality i's reader x reader covariance
    by_j = c4.transpose(1, 3, 0, 2)[idx_j, idx_j]  # (J, I, I): reader j's modality x modality covariance
    out["var_i"] = np.array([row.mean() for row in by_i[:, idx_j, idx_j]])
    out["cov2_i"] = np.array([row.mean() for row in by_i[:, ~np.eye(n_j, dtype=bool)]])
    out["ms_r_i"] = theta.var(axis=1, ddof=1)
    out["var_j"] = np.array([row.mean() for row in by_j[:, idx_i, idx_i]])
    out["cov1_j"] = np.array([row.mean() for row in by_j[:, ~np.eye(n_i, dtype=bool)]])
    return out


def _or_from(theta: np.ndarray, cov: np.ndarray, modalities: tuple[Any, ...], readers: tuple[Any, ...],
             covariance: str, readers_random: bool, cases_random: bool, alpha: float) -> ORAnalysis:
    n_i, n_j = theta.shape
    if n_i < 2:
        raise MammoError(f"or_analysis compares modalities and needs at least 2, got {list(modalities)}; "
                         "for one modality against an AI reader use ai_vs_readers")
    k = _components(theta, cov)
    var, cov1, cov2, cov3 = k["var"], k["cov1"], k["cov2"], k["cov3"]
    ms_t, ms_r, ms_tr = k["ms_t"], k["ms_r"], k["ms_tr"]
    t_i = theta.mean(axis=1)
    var_r = (ms_r - ms_tr) / n_i - cov1 + cov3  # Hillis (2005): E[MS(R) - MS(T:R)] = I (var_R + Cov1 - Cov3)
    var_tr = ms_tr - var + cov1 + cov2 - cov3
    ndf = float(n_i - 1)
    if readers_random and cases_random:  # Hillis (2007, 2008)
        den = ms_tr + n_j * max(cov2 - cov3, 0.0)
        statistic = _ratio(ms_t, den)
        ddf = _ratio(den ** 2, ms_tr ** 2 / ((n_i - 1) * (n_j - 1)))
        p = float(_law("f", "sf", statistic, ndf, ddf))
        se = float(np.sqrt(2 * den / n_j))
        law, law_args = "t", (ddf,)  # not frozen: freezing a scipy distribution costs more than using it
        den_i = k["ms_r_i"] + n_j * np.maximum(k["cov2_i"], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):  # a modality whose readers all agree: df inf
            df_i = den_i ** 2 / (k["ms_r_i"] ** 2 / (n_j - 1))
        se_i = np.sqrt(den_i / n_j)
        q_i = _law("t", "ppf", 1 - alpha / 2, df_i)
    elif readers_random:  # fixed cases: the conventional reader x modality ANOVA
        statistic = _ratio(ms_t, ms_tr)
        ddf = float((n_i - 1) * (n_j - 1))
        p = float(_law("f", "sf", statistic, ndf, ddf))
        se = float(np.sqrt(2 * ms_tr / n_j))
        law, law_args = "t", (ddf,)
        df_i = np.full(n_i, float(n_j - 1))
        se_i = np.sqrt(k["ms_r_i"] / n_j)
        q_i = _law("t", "ppf", 1 - alpha / 2, df_i)
    else:  # fixed readers, random cases (as MRMCaov: no truncation of Cov2 - Cov3)
        den = var - cov1 + (n_j - 1) * (cov2 - cov3)
        if not den > 0:
            raise MammoError(f"fixed-reader analysis undefined: Var - Cov1 + (J-1)(Cov2 - Cov3) = {den:.3g} is not "
                             "positive (the modalities' figures of merit do not vary between case samples)")
        statistic = (n_i - 1) * ms_t / den
        ddf = float("inf")
        p = float(_law("chi2", "sf", statistic, ndf))
        se = float(np.sqrt(2 * den / n_j))
        law, law_args = "norm", ()
        df_i = np.full(n_i, np.inf)
        se_i = np.sqrt((k["var_i"] + (n_j - 1) * np.maximum(k["cov2_i"], 0.0)) / n_j)  # as MRMCaov
        q_i = np.full(n_i, _law("norm", "ppf", 1 - alpha / 2))
    q = float(_law(law, "ppf", 1 - alpha / 2, *law_args))
    first_i, second_i = np.triu_indices(n_i, 1)
    diffs = t_i[first_i] - t_i[second_i]
    with np.errstate(divide="ignore", invalid="ignore"):
        zs = np.where(se > 0, diffs / se, np.where(diffs == 0, 0.0, np.sign(diffs) * np.inf))
    ps = 2 * _law(law, "sf", np.abs(zs), *law_args)  # every pair in one call (per-pair calls cost more)
    pairs = [PairDifference(modalities[a], modalities[b], float(d), (float(d - q * se), float(d + q * se)), float(z),
                            float(pv)) for a, b, d, z, pv in zip(first_i, second_i, diffs, zs, ps)]
    first = pairs[0]
    return ORAnalysis(
        modalities=modalities, readers=readers, fom=theta, modality_fom=tuple(float(v) for v in t_i),
        modality_ci=tuple((float(max(m - qq * s, 0.0)), float(min(m + qq * s, 1.0)))
                          for m, qq, s in zip(t_i, q_i, se_i)),
        modality_se=tuple(float(v) for v in se_i), modality_df=tuple(float(v) for v in df_i),
        modality_var_error=tuple(float(v) for v in k["var_i"]),
        modality_cov2=tuple(float(v) for v in k["cov2_i"]), modality_ms_r=tuple(float(v) for v in k["ms_r_i"]),
        reader_var_error=tuple(float(v) for v in k["var_j"]), reader_cov1=tuple(float(v) for v in k["cov1_j"]),
        difference=first.difference, ci=first.ci, se=se,
        statistic=float(statistic), df_numerator=ndf, df=float(ddf), p_value=p, pairwise=tuple(pairs),
        var_error=var, cov1=cov1, cov2=cov2, cov3=cov3, var_r=float(var_r), var_tr=float(var_tr), ms_t=ms_t,
        ms_r=ms_r, ms_tr=ms_tr, covariance=covariance, readers_random=readers_random, cases_random=cases_random,
        alpha=alpha)


def _ratio(num: float, den: float) -> float:
    """num / den, with x / 0 as +-inf (0 / 0 as 0): no spread between readers gives infinite ddf or statistic."""
    if den != 0:
        return float(num / den)
    return 0.0 if num == 0 else float(np.sign(num) * np.inf)


def _mode(value: str, name: str) -> bool:
    if value not in ("random", "fixed"):
        raise MammoError(f"{name} must be 'random' or 'fixed', got {value!r}")
    return value == "random"


def or_analysis(data: pd.DataFrame | JackknifeStudy, *, covariance: Covariance = "jackknife",
                readers: Literal["random", "fixed"] = "random", cases: Literal["random", "fixed"] = "random",
                fom: str | None = None, alpha: float = 0.05) -> ORAnalysis:
    """Obuchowski-Rockette / Hillis MRMC comparison of the modalities of a long reader-study table (``fom``:
    ``auc`` by default, or ``sensitivity``) or of a :class:`JackknifeStudy` such as FROC marks
    (:class:`mammo_lib.evaluation.froc.FrocData`: ``wAFROC`` by default; jackknife covariance).

    Random readers and cases: F = MS(T) / [MS(T:R) + J max(Cov2 - Cov3, 0)] with Hillis's ddf. Fixed readers:
    chi-square = (I-1) MS(T) / [Var - Cov1 + (J-1)(Cov2 - Cov3)]. Fixed cases: F = MS(T) / MS(T:R) on
    (I-1, (I-1)(J-1)) df (no covariance is used). Per-modality CIs follow Hillis (2007) for each case.
    """
    alpha = stats.check_alpha(alpha)
    readers_random, cases_random = _mode(readers, "readers"), _mode(cases, "cases")
    if not (readers_random or cases_random):
        raise MammoError("readers='fixed' with cases='fixed' leaves nothing random to generalise over")
    study = _study(data)
    if len(study.readers) < 2:
        raise MammoError(f"or_analysis needs at least 2 readers, got {list(study.readers)}: with one reader "
                         "compare the modalities by DeLong's test (mammo_lib.evaluation.stats.delong_test)")
    theta, cov = _foms(study, covariance, fom)
    return _or_from(theta, cov, study.modalities, study.readers, covariance, readers_random, cases_random, alpha)


# --- Dorfman-Berbaum-Metz ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DBMAnalysis(ReaderStudyTest):
    """Dorfman-Berbaum-Metz analysis of jackknife pseudovalues, with Hillis's (2008) denominator df.

    Fields as :class:`ORAnalysis` where they mean the same (the difference is modality 1 minus modality 2 in
    sorted order, ``pairwise`` holds every pair). ``ms_*``: the treatment x reader x case ANOVA mean squares of
    the pseudovalues; ``var_*`` the DBM variance components (RJafroc's ``VarR`` ... ``VarErr``). With random
    readers and cases F, ddf and p equal the OR analysis with jackknife covariances (Hillis 2005, 2008).
    """

    ms_t: float
    ms_r: float
    ms_c: float
    ms_tr: float
    ms_tc: float
    ms_rc: float
    ms_trc: float
    var_r: float
    var_c: float
    var_tr: float
    var_tc: float
    var_rc: float
    var_error: float
    n_cases: int
    readers_random: bool
    cases_random: bool
    alpha: float


def pseudovalues(theta: np.ndarray, jk: np.ndarray) -> np.ndarray:
    """Centred jackknife pseudovalues, I x J x K: K theta - (K - 1) theta_(k), shifted so that each (modality,
    reader) averages to its figure of merit (as RJafroc's ``UtilPseudoValues``)."""
    n_i, n_j = theta.shape
    k = jk.shape[1]
    y = (k * theta.reshape(-1, 1) - (k - 1) * jk).reshape(n_i, n_j, k)
    return y + (theta - y.mean(axis=2))[:, :, None]


def _dbm_mean_squares(y: np.ndarray) -> dict[str, float]:
    """Mean squares of the treatment x reader x case ANOVA (one observation per cell)."""
    n_i, n_j, n_k = y.shape
    g = y.mean()
    t, r, c = y.mean(axis=(1, 2)), y.mean(axis=(0, 2)), y.mean(axis=(0, 1))
    tr, tc, rc = y.mean(axis=2), y.mean(axis=1), y.mean(axis=0)
    res_tr = tr - t[:, None] - r[None, :] + g
    res_tc = tc - t[:, None] - c[None, :] + g
    res_rc = rc - r[:, None] - c[None, :] + g
    res = (y - tr[:, :, None] - tc[:, None, :] - rc[None, :, :] + t[:, None, None] + r[None, :, None]
           + c[None, None, :] - g)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "t": n_j * n_k * float(((t - g) ** 2).sum()) / (n_i - 1),
            "r": n_i * n_k * float(((r - g) ** 2).sum()) / (n_j - 1),
            "c": n_i * n_j * float(((c - g) ** 2).sum()) / (n_k - 1),
            "tr": n_k * float((res_tr ** 2).sum()) / ((n_i - 1) * (n_j - 1)),
            "tc": n_j * float((res_tc ** 2).sum()) / ((n_i - 1) * (n_k - 1)),
            "rc": n_i * float((res_rc ** 2).sum()) / ((n_j - 1) * (n_k - 1)),
            "trc": float((res ** 2).sum()) / ((n_i - 1) * (n_j - 1) * (n_k - 1)),
        }


def _jackknife_values(study: ReaderStudy | JackknifeStudy, fom: str | None) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(study, ReaderStudy):
        c = fom_components(study, "auc" if fom is None else fom)  # type: ignore[arg-type]
        return c.fom.reshape(study.ratings.shape[:2]), _jackknife_foms(c)
    return study.jackknife(study.default_fom if fom is None else fom)


def dbm_analysis(data: pd.DataFrame | JackknifeStudy, *, readers: Literal["random", "fixed"] = "random",
                 cases: Literal["random", "fixed"] = "random", fom: str | None = None,
                 alpha: float = 0.05) -> DBMAnalysis:
    """Dorfman-Berbaum-Metz (1992) MRMC comparison of the modalities from jackknife pseudovalues, with Hillis's
    (2008) ddf, of a long ROC table or a :class:`JackknifeStudy` (FROC marks), as :func:`or_analysis`.

    Random readers and cases: F = MS(T) / [MS(TR) + max(MS(TC) - MS(TRC), 0)]; fixed readers: F = MS(T) / MS(TC)
    on (I-1)(K-1) ddf; fixed cases: F = MS(T) / MS(TR) on (I-1)(J-1) ddf. Per-modality CIs as RJafroc.
    """
    alpha = stats.check_alpha(alpha)
    readers_random, cases_random = _mode(readers, "readers"), _mode(cases, "cases")
    if not (readers_random or cases_random):
        raise MammoError("readers='fixed' with cases='fixed' leaves nothing random to generalise over")
    study = _study(data)
    if len(study.readers) < 2:
        raise MammoError(f"dbm_analysis needs at least 2 readers, got {list(study.readers)}")
    if len(study.modalities) < 2:
        raise MammoError(f"dbm_analysis compares modalities and needs at least 2, got {list(study.modalities)}")
    theta, jk = _jackknife_values(study, fom)
    y = pseudovalues(theta, jk)
    n_i, n_j, n_k = y.shape
    ms = _dbm_mean_squares(y)
    ndf = float(n_i - 1)
    # each modality alone: reader, case and reader x case mean squares of its J x K pseudovalues
    r_i, c_i, g_i = y.mean(axis=2), y.mean(axis=1), y.mean(axis=(1, 2))
    ms_r_i = n_k * ((r_i - g_i[:, None]) ** 2).sum(axis=1) / (n_j - 1)
    ms_c_i = n_j * ((c_i - g_i[:, None]) ** 2).sum(axis=1) / (n_k - 1)
    ms_rc_i = (((y - r_i[:, :, None] - c_i[:, None, :] + g_i[:, None, None]) ** 2).sum(axis=(1, 2))
               / ((n_j - 1) * (n_k - 1)))
    if readers_random and cases_random:
        den = ms["tr"] + max(ms["tc"] - ms["trc"], 0.0)
        ddf = _ratio(den ** 2, ms["tr"] ** 2 / ((n_i - 1) * (n_j - 1)))
        den_i = ms_r_i + np.maximum(ms_c_i - ms_rc_i, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            df_i = den_i ** 2 / (ms_r_i ** 2 / (n_j - 1))
    elif readers_random:
        den, ddf = ms["tr"], float((n_i - 1) * (n_j - 1))
        den_i, df_i = ms_r_i, np.full(n_i, float(n_j - 1))
    else:
        den, ddf = ms["tc"], float((n_i - 1) * (n_k - 1))
        den_i, df_i = ms_c_i, np.full(n_i, float(n_k - 1))
    statistic = _ratio(ms["t"], den)
    p = float(_law("f", "sf", statistic, ndf, ddf))
    se = float(np.sqrt(2 * den / (n_j * n_k)))
    q = float(_law("t", "ppf", 1 - alpha / 2, ddf))
    t_i = theta.mean(axis=1)
    pairs = []
    for a in range(n_i):
        for b in range(a + 1, n_i):
            d = float(t_i[a] - t_i[b])
            z = d / se if se > 0 else (0.0 if d == 0 else float(np.sign(d) * np.inf))
            pairs.append(PairDifference(study.modalities[a], study.modalities[b], d, (d - q * se, d + q * se),
                                        float(z), float(2 * _law("t", "sf", abs(z), ddf))))
    se_i = np.sqrt(den_i / (n_j * n_k))
    q_i = _law("t", "ppf", 1 - alpha / 2, df_i)
    return DBMAnalysis(
        modalities=study.modalities, readers=study.readers, fom=theta, modality_fom=tuple(float(v) for v in t_i),
        modality_ci=tuple((float(m - qq * s), float(m + qq * s)) for m, qq, s in zip(t_i, q_i, se_i)),
        modality_se=tuple(float(v) for v in se_i), modality_df=tuple(float(v) for v in df_i),
        difference=pairs[0].difference, ci=pairs[0].ci, se=se, statistic=float(statistic), df_numerator=ndf,
        df=float(ddf), p_value=p, pairwise=tuple(pairs), ms_t=ms["t"], ms_r=ms["r"], ms_c=ms["c"],
        ms_tr=ms["tr"], ms_tc=ms["tc"], ms_rc=ms["rc"], ms_trc=ms["trc"],
        var_r=(ms["r"] - ms["tr"] - ms["rc"] + ms["trc"]) / (n_i * n_k),
        var_c=(ms["c"] - ms["tc"] - ms["rc"] + ms["trc"]) / (n_i * n_j),
        var_tr=(ms["tr"] - ms["trc"]) / n_k, var_tc=(ms["tc"] - ms["trc"]) / n_j,
        var_rc=(ms["rc"] - ms["trc"]) / n_i, var_error=ms["trc"], n_cases=n_k,
        readers_random=readers_random, cases_random=cases_random, alpha=alpha)


# --- AI versus readers ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AIVsReaders:
    """A standalone AI system against a group of readers on the same cases (RJafroc ``StCadVsRad``).

    ``difference`` is the readers' mean figure of merit minus the AI's (positive: readers better), with its
    ``ci``; ``reader_mean_ci`` the CI of the readers' mean (RJafroc's CIAvgRad, the difference CI shifted by the
    AI's figure of merit). ``statistic`` is T (1T methods) or F = T^2 (2T-RRRC) on ``df`` denominator degrees
    of freedom. ``var_r`` is the readers' sample variance for the 1T methods (RJafroc's ``varR``) and the OR
    reader variance component for 2T-RRRC; ``var_error`` and ``cov2`` are the variance and mean covariance of
    the reader-minus-AI differences (1T-RRRC) or the OR components (2T-RRRC). With ``margin``,
    ``p_noninferiority`` is the one-sided p of H0: readers - AI >= margin (AI worse by the margin or more).
    """

    ai: Any
    readers: tuple[Any, ...]
    method: str
    ai_fom: float
    reader_fom: tuple[float, ...]
    reader_mean: float
    reader_mean_ci: tuple[float, float]
    difference: float
    ci: tuple[float, float]
    se: float
    statistic: float
    df: float
    p_value: float
    var_error: float
    cov1: float
    cov2: float
    cov3: float
    var_r: float
    var_tr: float
    covariance: str
    margin: float | None
    p_noninferiority: float | None
    alpha: float


METHODS = ("1T-RRRC", "1T-RRFC", "2T-RRRC")


def ai_vs_readers(data: pd.DataFrame | JackknifeStudy, *, ai: Any,
                  method: Literal["1T-RRRC", "1T-RRFC", "2T-RRRC"] = "1T-RRRC", covariance: Covariance = "jackknife",
                  fom: str | None = None, margin: float | None = None, alpha: float = 0.05) -> AIVsReaders:
    """The AI system named by ``ai`` (a reader of ``data``) against the other readers, readers minus AI.

    ``data``: a long ROC table (``fom`` ``auc`` by default) or a :class:`JackknifeStudy` such as FROC marks
    (:class:`mammo_lib.evaluation.froc.FrocData`, ``wAFROC`` by default, jackknife covariance), as :func:`or_analysis`.

    ``data`` has one modality. 1T-RRFC: one-sample t-test of the reader-minus-AI differences (readers random,
    cases fixed). 1T-RRRC: Hillis (2007, section 5.3) single-modality OR model of the differences, T = mean /
    sqrt(MS_R / J + max(Cov2, 0)) with Hillis's ddf, Var and Cov2 from the differences' covariance (jackknife by
    default, as RJafroc). 2T-RRRC: the AI replicated as a second modality read by every reader, then the
    random-reader random-case OR analysis; it gives the same F = T^2, ddf and p as 1T-RRRC (RJafroc documents
    this; ``tests/test_mrmc.py`` checks it).
    """
    alpha = stats.check_alpha(alpha)
    if method not in METHODS:
        raise MammoError(f"method must be one of {list(METHODS)}, got {method!r}")
    if margin is not None and not (np.isfinite(margin) and margin >= 0):
        raise MammoError(f"margin must be a non-negative number (readers minus AI), got {margin!r}")
    study = _study(data)
    if len(study.modalities) != 1:
        raise MammoError(f"ai_vs_readers needs one modality, got {list(study.modalities)}: select one first")
    if ai not in study.readers:
        raise MammoError(f"ai={ai!r} is not a reader of the data (readers: {list(study.readers)})")
    a = study.readers.index(ai)
    others = [j for j in range(len(study.readers)) if j != a]
    if len(others) < 2:
        raise MammoError(f"ai_vs_readers needs at least 2 readers besides the AI, got "
                         f"{[study.readers[j] for j in others]}")
    theta2, cov = _foms(study, covariance, fom, with_covariance=method != "1T-RRFC")
    theta_all = theta2.ravel()
    cov_all = np.full((theta_all.size, theta_all.size), np.nan) if cov is None else cov
    n_j = len(others)
    ai_fom = float(theta_all[a])
    rad = theta_all[others]
    diff = rad - ai_fom
    mean_diff = float(diff.mean())
    ms_r = float(diff.var(ddof=1))
    nan = float("nan")
    cov1 = cov3 = var_tr = nan
    if method == "1T-RRFC":
        se = float(np.sqrt(ms_r / n_j))
        df = float(n_j - 1)
        stat = _ratio(mean_diff, se)
        var_error = cov2 = nan
        var_r = float(rad.var(ddof=1))
        p = float(2 * _sps.t.sf(abs(stat), df))
    else:
        contrast = np.zeros((n_j, theta_all.size))
        contrast[np.arange(n_j), others] = 1.0
        contrast[:, a] -= 1.0
        cov_d = contrast @ cov_all @ contrast.T
        var_error = float(np.diag(cov_d).mean())
        cov2 = float(cov_d[~np.eye(n_j, dtype=bool)].mean())
        den = ms_r + n_j * max(cov2, 0.0)
        se = float(np.sqrt(den / n_j))
        df = _ratio(den ** 2, ms_r ** 2 / (n_j - 1))
        stat = _ratio(mean_diff, se)
        p = float(2 * _sps.t.sf(abs(stat), df))
        var_r = float(rad.var(ddof=1))
        if method == "2T-RRRC":
            idx = np.r_[others, np.full(n_j, a)]  # modality 1: the readers; modality 2: the AI, once per reader
            res = _or_from(theta_all[idx].reshape(2, n_j), cov_all[np.ix_(idx, idx)], ("readers", "ai"),
                           tuple(study.readers[j] for j in others), covariance, True, True, alpha)
            stat, df, p, se = res.statistic, res.df, res.p_value, res.se
            var_error, cov1, cov2, cov3, var_r, var_tr = (res.var_error, res.cov1, res.cov2, res.cov3, res.var_r,
                                                          res.var_tr)
    q = float(_sps.t.ppf(1 - alpha / 2, df))
    ci = (mean_diff - q * se, mean_diff + q * se)
    p_ni = None
    if margin is not None:
        p_ni = float(_sps.t.cdf((mean_diff - margin) / se, df)) if se > 0 else float(mean_diff >= margin)
    return AIVsReaders(
        ai=ai, readers=tuple(study.readers[j] for j in others), method=method, ai_fom=ai_fom,
        reader_fom=tuple(float(v) for v in rad), reader_mean=float(rad.mean()),
        reader_mean_ci=(ci[0] + ai_fom, ci[1] + ai_fom), difference=mean_diff, ci=ci, se=se, statistic=float(stat),
        df=float(df), p_value=p, var_error=var_error, cov1=cov1, cov2=cov2, cov3=cov3, var_r=var_r, var_tr=var_tr,
        covariance="none (cases fixed)" if method == "1T-RRFC" else covariance, margin=margin,
        p_noninferiority=p_ni, alpha=alpha)


# --- one reader: clustered AUC -------------------------------------------------------------------------
@dataclass(frozen=True)
class ClusteredAUC:
    """An AUC with its Obuchowski (1997) clustered variance and normal CI (not clipped), beside DeLong's."""

    auc: float
    se: float
    ci: tuple[float, float]
    delong_se: float
    delong_ci: tuple[float, float]
    n_clusters: int
    alpha: float


def clustered_auc_ci(truth: Any, rating: Any, cluster: Any, alpha: float = 0.05) -> ClusteredAUC:
    """One reader's AUC with Obuchowski's clustered CI (several units per patient) and DeLong's (independent)."""
    alpha = stats.check_alpha(alpha)
    y = stats.binary_labels(truth, "truth")
    s = stats.score_array(rating, y.size, "rating")
    cl = np.asarray(cluster, dtype=object)
    if cl.shape != y.shape:
        raise MammoError(f"cluster has {cl.size} values but truth has {y.size}")
    frame = pd.DataFrame({"modality": 0, "reader": 0, "case": np.arange(y.size), "truth": y.astype(int),
                          "rating": s, "cluster": cl})
    study = reader_study(frame)
    theta, cov = fom_covariance(study, "clustered")
    c = fom_components(study)
    delong = stats.delong_covariance_from_placements(c.v10, c.v01)
    auc, se, dse = float(theta[0, 0]), float(np.sqrt(cov[0, 0])), float(np.sqrt(delong[0, 0]))
    z = float(_sps.norm.ppf(1 - alpha / 2))
    return ClusteredAUC(auc=auc, se=se, ci=(auc - z * se, auc + z * se), delong_se=dse,
                        delong_ci=(auc - z * dse, auc + z * dse), n_clusters=int(np.unique(study.clusters).size),
                        alpha=alpha)


def clustered_auc_bootstrap(truth: Any, rating: Any, cluster: Any, n_boot: int = 2000, seed: int = 0,
                            alpha: float = 0.05) -> stats.BootstrapCI:
    """One reader's AUC with a cluster-bootstrap percentile CI (clusters, e.g. patients, resampled whole:
    :func:`mammo_lib.evaluation.stats.cluster_bootstrap` of :func:`~mammo_lib.evaluation.stats.auc`), the
    resampling counterpart of :func:`clustered_auc_ci`. Same seed, same CI."""
    return stats.cluster_bootstrap(cluster, stats.auc, truth, rating, n_boot=n_boot, seed=seed, alpha=alpha)
