"""Study sizing for multi-reader multi-case comparisons: power and number of cases from a pilot study.

The Obuchowski-Rockette random-reader random-case design as sized by Hillis, Obuchowski & Berbaum (Acad Radiol
2011;18:129-42, eq. 10; Hillis & Schartz, J Med Imaging 2018): from the pilot's OR variance components (jackknife
covariances; Var, Cov1, Cov2, Cov3 scaled by K*/K for K cases, var_TR kept), a study of J readers and K cases
comparing two modalities has

    den = max(var_TR, 0) + K*/K [Var - Cov1 + (J - 1) max(Cov2 - Cov3, 0)]
    ddf = den^2 (J - 1) / {max(var_TR, 0) + K*/K [Var - Cov1 - max(Cov2 - Cov3, 0)]}^2
    ncp = J effect^2 / (2 den),   power = P[F(1, ddf; ncp) > F_(1-alpha)(1, ddf)]

as RJafroc's ``SsPowerGivenJK`` / ``SsSampleSizeKGivenJ`` (method OR, RRRC). The pilot is a long ROC table
(:mod:`mammo_lib.evaluation.mrmc`), FROC marks (:class:`mammo_lib.evaluation.froc.FrocData`) with two modalities, or either with one
modality and an AI reader (``ai=``: the AI against the other readers, sized as RJafroc's 2T-RRRC design, which
gives the 1T-RRRC test), or the :class:`PilotComponents` themselves.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _sps

from mammo_lib.evaluation import mrmc, stats
from mammo_lib.errors import MammoError

__all__ = ["PilotComponents", "StudyPower", "pilot_components", "power", "sample_size"]


@dataclass(frozen=True)
class PilotComponents:
    """OR variance components of a pilot study of ``cases`` cases and ``readers`` readers (jackknife covariances;
    ``var_tr`` the modality x reader variance), its observed ``effect`` (modality 1 minus modality 2 in sorted
    order, or readers minus the AI) and its figure of merit."""

    var_tr: float
    var_error: float
    cov1: float
    cov2: float
    cov3: float
    cases: int
    readers: int
    effect: float
    fom: str


@dataclass(frozen=True)
class StudyPower:
    """Power of an OR random-reader random-case test of two modalities: ``readers`` x ``cases``, the ``effect``
    sized for, the non-centrality ``ncp`` of the F statistic on (``df_numerator``, ``df``) degrees of freedom and
    its critical value at ``alpha``."""

    readers: int
    cases: int
    effect: float
    alpha: float
    power: float
    ncp: float
    df_numerator: float
    df: float
    critical_f: float


def _case_count(data: Any) -> int:
    if isinstance(data, pd.DataFrame):
        return int(data["case"].nunique())
    return int(data.n_cases)


def pilot_components(pilot: Any, *, fom: str | None = None, ai: Any = None) -> PilotComponents:
    """The OR variance components (jackknife covariances) and observed effect of a pilot study.

    ``pilot``: a long ROC table or FROC marks (an :class:`~mammo_lib.evaluation.mrmc.JackknifeStudy`); with two modalities
    the effect is modality 1 minus modality 2; with one modality and ``ai`` the readers minus the AI.
    """
    if isinstance(pilot, PilotComponents):
        return pilot
    if ai is None:
        res = mrmc.or_analysis(pilot, covariance="jackknife", fom=fom)
        if len(res.modalities) != 2:
            raise MammoError(f"sizing compares two modalities, the pilot has {list(res.modalities)}: select two "
                             "(or one modality with ai=)")
        parts = (res.var_tr, res.var_error, res.cov1, res.cov2, res.cov3, len(res.readers), res.difference)
    else:
        two = mrmc.ai_vs_readers(pilot, ai=ai, method="2T-RRRC", covariance="jackknife", fom=fom)
        parts = (two.var_tr, two.var_error, two.cov1, two.cov2, two.cov3, len(two.readers), two.difference)
    var_tr, var, cov1, cov2, cov3, n_readers, effect = parts
    name = fom if fom is not None else getattr(pilot, "default_fom", "auc")
    return PilotComponents(var_tr=float(var_tr), var_error=float(var), cov1=float(cov1), cov2=float(cov2),
                           cov3=float(cov3), cases=_case_count(pilot), readers=int(n_readers), effect=float(effect),
                           fom=str(name))


def _checked(readers: Any, name: str, low: int) -> int:
    if isinstance(readers, bool) or not isinstance(readers, (int, np.integer)) or readers < low:
        raise MammoError(f"{name} must be a whole number of at least {low}, got {readers!r}")
    return int(readers)


def _effect(c: PilotComponents, effect: float | None) -> float:
    value = c.effect if effect is None else effect
    if not (isinstance(value, (int, float, np.floating)) and np.isfinite(value)):
        raise MammoError(f"effect must be a finite number (a difference in the figure of merit), got {effect!r}")
    return float(value)


def _power(c: PilotComponents, readers: int, cases: np.ndarray, effect: float, alpha: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Power, ncp, ddf and critical F at each number of cases (vectorised; Hillis et al. 2011, eq. 10)."""
    var_tr = max(c.var_tr, 0.0)
    between = max(c.cov2 - c.cov3, 0.0)
    scale = c.cases / np.asarray(cases, dtype=float)
    den = var_tr + scale * (c.var_error - c.cov1 + (readers - 1) * between)
    within = var_tr + scale * (c.var_error - c.cov1 - between)
    with np.errstate(divide="ignore", invalid="ignore"):
        ddf = np.where(within > 0, den ** 2 * (readers - 1) / within ** 2, np.inf)
        ncp = readers * effect ** 2 / (2 * den)
    crit = _sps.f.ppf(1 - alpha, 1, ddf)
    return _sps.ncf.sf(crit, 1, ddf, ncp), ncp, ddf, crit


def power(pilot: Any, readers: int, cases: int, effect: float | None = None, alpha: float = 0.05, *,
          fom: str | None = None, ai: Any = None) -> StudyPower:
    """Power of a study of ``readers`` readers and ``cases`` cases to detect ``effect`` (None: the pilot's
    observed difference) at two-sided level ``alpha``, from the pilot's OR variance components."""
    alpha = stats.check_alpha(alpha)
    readers, cases = _checked(readers, "readers", 2), _checked(cases, "cases", 2)
    c = pilot_components(pilot, fom=fom, ai=ai)
    d = _effect(c, effect)
    p, ncp, ddf, crit = _power(c, readers, np.array([cases]), d, alpha)
    return StudyPower(readers=readers, cases=cases, effect=d, alpha=alpha, power=float(p[0]), ncp=float(ncp[0]),
                      df_numerator=1.0, df=float(ddf[0]), critical_f=float(crit[0]))


def sample_size(pilot: Any, readers: int, effect: float | None = None, power: float = 0.8, alpha: float = 0.05, *,
                fom: str | None = None, ai: Any = None, max_cases: int = 100_000) -> StudyPower:
    """The fewest cases (2 or more) with which ``readers`` readers reach ``power`` to detect ``effect`` (None:
    the pilot's observed difference) at level ``alpha``: the first number of cases whose power exceeds the
    target, scanning upwards as RJafroc's ``SsSampleSizeKGivenJ``; with its power, ncp and ddf."""
    alpha = stats.check_alpha(alpha)
    target = power
    if not (isinstance(target, (int, float)) and 0 < target < 1):
        raise MammoError(f"power must be a number between 0 and 1, got {target!r}")
    readers = _checked(readers, "readers", 2)
    c = pilot_components(pilot, fom=fom, ai=ai)
    d = _effect(c, effect)
    if d == 0:
        raise MammoError("effect is 0: no number of cases gives power to detect no difference")
    start = 2
    while start <= max_cases:
        block = np.arange(start, min(2 * start, max_cases + 1))
        p, ncp, ddf, crit = _power(c, readers, block, d, alpha)
        hit = np.flatnonzero(p > target)
        if hit.size:
            i = int(hit[0])
            return StudyPower(readers=readers, cases=int(block[i]), effect=d, alpha=alpha, power=float(p[i]),
                              ncp=float(ncp[i]), df_numerator=1.0, df=float(ddf[i]), critical_f=float(crit[i]))
        start *= 2
    limit = _power(c, readers, np.array([np.inf]), d, alpha)[0][0]
    raise MammoError(f"{readers} readers do not reach power {target} for effect {d:.4g} with up to {max_cases} "
                     f"cases (power {float(p[-1]):.3f} there; {float(limit):.3f} with unlimited cases, where the "
                     "reader variability remains): add readers")
