"""Free-response (FROC) reader studies: localisation marks, their figures of merit and case jackknife.

Readers (and an AI system) mark where they see a lesion, each mark with a confidence rating. A mark that hits a
lesion is a lesion localisation (``LL``, naming the lesion), any other mark a non-lesion localisation (``NL``).
:class:`FrocData` holds the marks and the truth (each case's lesions and their weights); :func:`figure_of_merit`
computes, per modality and reader, the figures of merit of Chakraborty's JAFROC / RJafroc:

- ``wAFROC`` (RJafroc's default): the probability that a lesion, weighted within its case, is rated above the
  highest non-lesion mark of a normal case; ``AFROC`` the same with every lesion counting once;
  ``wAFROC1`` / ``AFROC1`` take the highest non-lesion mark of every case (normal and abnormal) instead;
- ``HrAuc``: the ROC AUC of each case's highest rating (normal: its highest NL; abnormal: its highest mark);
- ``MaxLLF``: the fraction of lesions marked; ``MaxNLF``: non-lesion marks per normal case.

An unmarked lesion and a normal case without marks rate below every mark (ties between them count one half).
:meth:`FrocData.jackknife` gives the leave-one-case-out figures of merit (exactly, without recomputing: each
U-statistic figure of merit is a sum over (normal unit, abnormal case) pairs), so that
:func:`mammo_lib.evaluation.mrmc.or_analysis`, :func:`~mammo_lib.evaluation.mrmc.dbm_analysis` and
:func:`~mammo_lib.evaluation.mrmc.ai_vs_readers` analyse an FrocData as they analyse a long ROC table (jackknife
covariance, as RJafroc). References: Chakraborty & Berbaum, Med Phys 2004;31:2313 (JAFROC); Chakraborty,
"Observer Performance Methods for Diagnostic Imaging" (CRC 2017); RJafroc (dpc10ster/RJafroc).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _sps

from mammo_lib.evaluation import mrmc, stats
from mammo_lib.errors import MammoError
from mammo_lib.evaluation.detection import Matched

__all__ = ["FrocData", "figure_of_merit", "figure_of_merit_ci", "from_detections", "FOMS", "MARK_COLUMNS", "TRUTH_COLUMNS"]

FOMS = ("wAFROC", "AFROC", "wAFROC1", "AFROC1", "HrAuc", "MaxLLF", "MaxNLF")
MARK_COLUMNS = ("modality", "reader", "case", "kind", "lesion", "rating")
TRUTH_COLUMNS = ("case", "lesion", "weight")
KINDS = ("NL", "LL")
#: Tolerance on lesion weights summing to 1 within a case (weights are often printed to a few digits).
WEIGHT_TOLERANCE = 1e-6


def _levels(values: Sequence[Any] | pd.Series, given: Sequence[Any] | None, what: str) -> tuple[Any, ...]:
    """Sorted distinct levels (as numbers when they all are), or the levels given, checked for duplicates."""
    if given is not None:
        given = list(given)
        if len(set(given)) != len(given) or not given:
            raise MammoError(f"{what} must be distinct and non-empty, got {given!r}")
        return tuple(given)
    _, levels = pd.factorize(pd.Series(values), sort=True)
    if len(levels) == 0:
        raise MammoError(f"marks has no rows: name the {what} (FrocData(..., modalities=..., readers=...))")
    return tuple(np.asarray(levels).tolist())


def _show(value: Any) -> str:
    """repr of a table value as the user wrote it (a numpy scalar as its Python value)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _no_missing(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    for col in columns:
        na = frame[col].isna().to_numpy()
        if na.any():
            raise MammoError(f"{name} column {col!r} has {int(na.sum())} missing value(s), first at row "
                             f"{frame.index[int(np.flatnonzero(na)[0])]!r}")


def _numbers(frame: pd.DataFrame, col: str, name: str) -> np.ndarray:
    values = pd.to_numeric(frame[col], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MammoError(f"{name} column {col!r} must be finite numbers, got {_show(frame[col].iloc[i])} at row "
                         f"{frame.index[i]!r}")
    return values


class FrocData:
    """A validated free-response study: every reader's marks in every modality, and the cases' lesions.

    ``marks``: one row per mark with ``modality``, ``reader``, ``case``, ``kind`` (``NL`` or ``LL``), ``lesion``
    (the lesion an LL mark localises; empty for NL) and ``rating`` (higher = more confident). ``truth``: one row
    per lesion with ``case``, ``lesion`` (1, 2, ...) and ``weight`` (summing to 1 within the case), and one row
    with lesion 0 for each normal case (its weight is ignored). Every case read is in the truth; a case without
    marks is a case nobody marked. ``modalities`` and ``readers`` default to those in the marks (then every
    reader must have marks in every modality); name them to include a reader who marked nothing somewhere.

    Arrays (I modalities, J readers, K cases in sorted order, L lesions): ``nl_max[i, j, k]`` the highest NL
    rating on case k (-inf if none), ``nl_count[i, j, k]`` its number of NL marks, ``ll[i, j, l]`` the rating of
    lesion l (-inf if unmarked); ``abnormal[k]``, ``lesion_case[l]`` (index of its case), ``lesion_weight[l]``.
    """

    default_fom = "wAFROC"

    def __init__(self, marks: pd.DataFrame, truth: pd.DataFrame, *, modalities: Sequence[Any] | None = None,
                 readers: Sequence[Any] | None = None) -> None:
        for frame, name, cols in ((marks, "marks", MARK_COLUMNS), (truth, "truth", TRUTH_COLUMNS)):
            if not isinstance(frame, pd.DataFrame):
                raise MammoError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise MammoError(f"{name} lack column(s) {missing}; FROC {name} need {list(cols)}")
        if truth.empty:
            raise MammoError("truth has no rows: it lists every case read (lesion 0 for a normal case)")
        _no_missing(truth, TRUTH_COLUMNS, "truth")
        _no_missing(marks, ("modality", "reader", "case", "kind", "rating"), "marks")
        self.marks, self.truth = marks.copy(), truth.copy()
        self._truth_arrays(truth)
        self.modalities = _levels(marks["modality"], modalities, "modalities")
        self.readers = _levels(marks["reader"], readers, "readers")
        self._mark_arrays(marks, explicit=modalities is not None or readers is not None)

    # --- validation and layout ------------------------------------------------------------------------------
    def _truth_arrays(self, truth: pd.DataFrame) -> None:
        lesion = _numbers(truth, "lesion", "truth")
        weight = _numbers(truth, "weight", "truth")
        if (lesion < 0).any() or (lesion != np.round(lesion)).any():
            i = int(np.flatnonzero((lesion < 0) | (lesion != np.round(lesion)))[0])
            raise MammoError(f"truth column 'lesion' must be 0 (normal case) or 1, 2, ..., got "
                             f"{_show(truth['lesion'].iloc[i])} at row {truth.index[i]!r}")
        dup = truth.assign(_l=lesion).duplicated(["case", "_l"]).to_numpy()
        if dup.any():
            i = int(np.flatnonzero(dup)[0])
            raise MammoError(f"truth lists lesion {int(lesion[i])} of case {_show(truth['case'].iloc[i])} twice")
        codes, cases = pd.factorize(truth["case"], sort=True)
        n_k = len(cases)
        normal_rows = np.bincount(codes, weights=(lesion == 0), minlength=n_k)
        rows = np.bincount(codes, minlength=n_k)
        mixed = (normal_rows > 0) & (rows > 1)
        if mixed.any():
            raise MammoError(f"truth: case {cases[int(np.flatnonzero(mixed)[0])]!r} has lesion 0 (normal) and "
                             "lesions too: a case is normal or has lesions")
        is_les = lesion > 0
        if (weight[is_les] < 0).any():
            i = int(np.flatnonzero(is_les & (weight < 0))[0])
            raise MammoError(f"truth: lesion weight {weight[i]:g} of case {_show(truth['case'].iloc[i])} is negative")
        total = np.bincount(codes[is_les], weights=weight[is_les], minlength=n_k)
        bad = (normal_rows == 0) & (np.abs(total - 1) > WEIGHT_TOLERANCE)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise MammoError(f"truth: the lesion weights of case {cases[k]!r} sum to {total[k]:.6g}, not 1")
        order = np.lexsort((lesion[is_les], codes[is_les]))
        self.cases: tuple[Any, ...] = tuple(np.asarray(cases).tolist())
        self.abnormal = normal_rows == 0
        self.lesion_case = codes[is_les][order]
        self.lesion_id = lesion[is_les][order].astype(int)
        self.lesion_weight = weight[is_les][order]
        self.lesions_per_case = np.bincount(self.lesion_case, minlength=n_k)

    def _mark_arrays(self, marks: pd.DataFrame, explicit: bool) -> None:
        n_i, n_j, n_k, n_l = len(self.modalities), len(self.readers), len(self.cases), self.lesion_case.size
        rating = _numbers(marks, "rating", "marks")
        kind = marks["kind"].astype(str).to_numpy()
        bad = ~np.isin(kind, KINDS)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise MammoError(f"marks column 'kind' must be 'NL' or 'LL', got {_show(marks['kind'].iloc[i])} at row "
                             f"{marks.index[i]!r}")
        mi = pd.Index(self.modalities).get_indexer(marks["modality"])
        ri = pd.Index(self.readers).get_indexer(marks["reader"])
        ki = pd.Index(self.cases).get_indexer(marks["case"])
        for codes, col, known in ((mi, "modality", self.modalities), (ri, "reader", self.readers),
                                  (ki, "case", None)):
            if (codes < 0).any():
                i = int(np.flatnonzero(codes < 0)[0])
                where = "not in the truth" if known is None else f"not among the {col}s named ({list(known)})"
                raise MammoError(f"marks row {marks.index[i]!r}: {col} {_show(marks[col].iloc[i])} is {where}")
        per = np.bincount(mi * n_j + ri, minlength=n_i * n_j).reshape(n_i, n_j)
        if not explicit and (per == 0).any():
            i, j = (int(v[0]) for v in np.nonzero(per == 0))
            raise MammoError(f"reader {self.readers[j]!r} has no marks in modality {self.modalities[i]!r}: every "
                             "reader reads every modality (if they marked nothing there, pass readers= and "
                             "modalities= to FrocData)")
        is_ll = kind == "LL"
        on_normal = is_ll & ~self.abnormal[ki]
        if on_normal.any():
            i = int(np.flatnonzero(on_normal)[0])
            raise MammoError(f"marks row {marks.index[i]!r}: a lesion (LL) mark on case "
                             f"{_show(marks['case'].iloc[i])}, which the truth lists as normal")
        les = pd.to_numeric(marks["lesion"], errors="coerce").to_numpy(float)
        # lesion index l of each LL mark: position of (case, lesion id) among the truth's lesions
        key_truth = self.lesion_case.astype(np.int64) * (2 ** 31) + self.lesion_id
        les_key = np.where(is_ll & np.isfinite(les), ki.astype(np.int64) * (2 ** 31) + np.nan_to_num(les), -1)
        li = np.searchsorted(key_truth, les_key)
        li_ok = (li < n_l) & (key_truth[np.minimum(li, max(n_l - 1, 0))] == les_key) if n_l else np.zeros_like(is_ll)
        unknown = is_ll & ~li_ok
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            case = marks["case"].iloc[i]
            known = self.lesion_id[self.lesion_case == ki[i]].tolist()
            raise MammoError(f"marks row {marks.index[i]!r}: LL mark on lesion {les[i]:g} of case "
                             f"{_show(case)}, which the truth does not list (its lesions: {known})")
        ll_cell = (mi * n_j + ri)[is_ll] * max(n_l, 1) + li[is_ll]
        counts = np.bincount(ll_cell, minlength=n_i * n_j * max(n_l, 1))
        if (counts > 1).any():
            c = int(np.flatnonzero(counts > 1)[0])
            l, ij = c % n_l, c // n_l
            raise MammoError(f"{int(counts[c])} LL marks on lesion {self.lesion_id[l]} of case "
                             f"{self.cases[self.lesion_case[l]]!r} by reader {self.readers[ij % n_j]!r} in modality "
                             f"{self.modalities[ij // n_j]!r}: one localisation per lesion")
        self.ll = np.full(n_i * n_j * n_l, -np.inf)
        self.ll[ll_cell] = rating[is_ll]
        self.ll = self.ll.reshape(n_i, n_j, n_l)
        nl_cell = ((mi * n_j + ri) * n_k + ki)[~is_ll]
        self.nl_max = np.full(n_i * n_j * n_k, -np.inf)
        np.maximum.at(self.nl_max, nl_cell, rating[~is_ll])
        self.nl_max = self.nl_max.reshape(n_i, n_j, n_k)
        self.nl_count = np.bincount(nl_cell, minlength=n_i * n_j * n_k).reshape(n_i, n_j, n_k)

    # --- selection -----------------------------------------------------------------------------------------
    @property
    def n_cases(self) -> int:
        return len(self.cases)

    def subset(self, *, modalities: Sequence[Any] | None = None, readers: Sequence[Any] | None = None
               ) -> FrocData:
        """The same cases with only some modalities and/or readers (e.g. one modality for ai_vs_readers)."""
        mods = list(self.modalities if modalities is None else modalities)
        rdrs = list(self.readers if readers is None else readers)
        for chosen, known, what in ((mods, self.modalities, "modality"), (rdrs, self.readers, "reader")):
            unknown = [v for v in chosen if v not in known]
            if unknown:
                raise MammoError(f"{what} {unknown[0]!r} is not in the data ({list(known)})")
        keep = self.marks["modality"].isin(mods) & self.marks["reader"].isin(rdrs)
        return FrocData(self.marks[keep], self.truth, modalities=mods, readers=rdrs)

    def __repr__(self) -> str:
        return (f"FrocData({len(self.modalities)} modalities x {len(self.readers)} readers, {self.n_cases} cases "
                f"({int(self.abnormal.sum())} abnormal, {self.lesion_case.size} lesions), {len(self.marks)} marks)")

    # --- figures of merit and their jackknife ----------------------------------------------------------------
    def jackknife(self, fom: str = "wAFROC") -> tuple[np.ndarray, np.ndarray]:
        """(figures of merit, I x J; their leave-one-case-out values, (I J) x K').

        K' is every case for the AFROC-type figures of merit and HrAuc, the normal cases for MaxNLF and the
        abnormal cases for MaxLLF (as RJafroc's pseudovalues), in the order of :attr:`cases`.
        """
        theta, jk = self._compute(fom, with_jackknife=True)
        return theta, jk  # type: ignore[return-value]

    def _compute(self, fom: str, with_jackknife: bool) -> tuple[np.ndarray, np.ndarray | None]:
        if fom not in FOMS:
            raise MammoError(f"fom must be one of {list(FOMS)} for FROC data, got {fom!r}")
        normal, abnormal = np.flatnonzero(~self.abnormal), np.flatnonzero(self.abnormal)
        need_normal = fom in ("wAFROC", "AFROC", "HrAuc", "MaxNLF")
        need_abnormal = fom != "MaxNLF"
        least = 2 if with_jackknife else 1
        if (need_normal and normal.size < least) or (need_abnormal and abnormal.size < least):
            what = f"{fom} and its jackknife need at least 2" if with_jackknife else f"{fom} needs at least 1"
            raise MammoError(f"{what} normal and abnormal cases, got "
                             f"{normal.size} normal and {abnormal.size} abnormal")
        n_i, n_j = len(self.modalities), len(self.readers)
        nl = self.nl_max.reshape(n_i * n_j, -1)
        ll = self.ll.reshape(n_i * n_j, -1)
        if fom == "MaxNLF":
            per_case = self.nl_count.reshape(n_i * n_j, -1)[:, normal].astype(float)
            total, k1 = per_case.sum(axis=1, keepdims=True), normal.size
            return (total[:, 0] / k1).reshape(n_i, n_j), (total - per_case) / (k1 - 1)
        if fom == "MaxLLF":
            marked = np.stack([np.bincount(self.lesion_case, weights=np.isfinite(row), minlength=self.n_cases)
                               for row in ll])[:, abnormal]
            n_les = self.lesions_per_case[abnormal]
            total, n_l = marked.sum(axis=1, keepdims=True), n_les.sum()
            return (total[:, 0] / n_l).reshape(n_i, n_j), (total - marked) / (n_l - n_les)
        theta = np.empty(n_i * n_j)
        jk = np.empty((n_i * n_j, self.n_cases))
        for a in range(n_i * n_j):
            theta[a], out = self._ustatistic(fom, nl[a], ll[a], normal, abnormal, with_jackknife)
            if out is not None:
                jk[a] = out
        return theta.reshape(n_i, n_j), (jk if with_jackknife else None)

    def _ustatistic(self, fom: str, nl: np.ndarray, ll: np.ndarray, normal: np.ndarray, abnormal: np.ndarray,
                    with_jackknife: bool) -> tuple[float, np.ndarray | None]:
        """theta = S / (N D) with S = sum over negative units a and abnormal cases b of sum_{l in b} w_l psi(x_a,
        y_l); N negative units, D = sum of the abnormal cases' normalisers d_b. Leaving out case c removes its
        row sum R_c (as a negative unit), its column sum C_c (as an abnormal case) and adds back their shared
        term when it is both (the *1 figures of merit): theta_(c) = S_(c) / (N_(c) D_(c)), exact."""
        n_k = self.n_cases
        every_case = fom in ("wAFROC1", "AFROC1")
        neg = np.arange(n_k) if every_case else normal
        x = nl[neg]
        if fom == "HrAuc":  # one item per abnormal case: its highest mark of either kind
            highest = np.full(n_k, -np.inf)
            np.maximum.at(highest, self.lesion_case, ll)
            y, item_case, w = np.maximum(highest, nl)[abnormal], abnormal, np.ones(abnormal.size)
            d = np.ones(n_k)
        else:
            y, item_case = ll, self.lesion_case
            weighted = fom.startswith("w")
            w = self.lesion_weight if weighted else np.ones(y.size)
            d = np.ones(n_k) if weighted else self.lesions_per_case.astype(float)
        d = np.where(self.abnormal, d, 0.0)
        # R_a: weight of the items rated above x_a (ties one half); C_b: per item, negatives below it. Both
        # sides are sorted first: searchsorted with sorted queries is several times faster than with random ones
        order_y, order_x = np.argsort(y, kind="stable"), np.argsort(x, kind="stable")
        ys, xs, cw = y[order_y], x[order_x], np.r_[0.0, np.cumsum(w[order_y])]
        lo, hi = np.searchsorted(ys, xs, "left"), np.searchsorted(ys, xs, "right")
        row = (cw[-1] - cw[hi]) + 0.5 * (cw[hi] - cw[lo])  # in the order of xs
        total, n_neg, d_sum = row.sum(), float(neg.size), d.sum()
        if not with_jackknife:
            return total / (n_neg * d_sum), None
        lo, hi = np.searchsorted(xs, ys, "left"), np.searchsorted(xs, ys, "right")
        col = np.bincount(item_case[order_y], weights=w[order_y] * (lo + 0.5 * (hi - lo)), minlength=n_k)
        s_out = total - col
        n_out = np.full(n_k, n_neg)
        r = np.zeros(n_k)
        r[neg[order_x]] = row
        s_out -= r
        n_out[neg] -= 1
        if every_case:  # an abnormal case is a negative unit too: add back its own pair, counted twice above
            own = nl[item_case]
            s_out += np.bincount(item_case, weights=w * ((y > own) + 0.5 * (y == own)), minlength=n_k)
        return total / (n_neg * d_sum), s_out / (n_out * (d_sum - d))


def figure_of_merit(data: FrocData, fom: str = "wAFROC") -> pd.DataFrame:
    """The figure of merit of every modality (rows) and reader (columns) of an FROC study."""
    if not isinstance(data, FrocData):
        raise MammoError(f"data must be an FrocData, got {type(data).__name__}")
    theta, _ = data._compute(fom, with_jackknife=False)
    return pd.DataFrame(theta, index=pd.Index(data.modalities, name="modality"),
                        columns=pd.Index(data.readers, name="reader"))


def figure_of_merit_ci(data: FrocData, fom: str = "wAFROC", alpha: float = 0.05) -> pd.DataFrame:
    """Each modality's and reader's figure of merit with its case-jackknife standard error and normal CI (cases
    random, the reader fixed: the CI of one reader or one AI system), one row per (modality, reader)."""
    if not isinstance(data, FrocData):
        raise MammoError(f"data must be an FrocData, got {type(data).__name__}")
    alpha = stats.check_alpha(alpha)
    theta, jk = data.jackknife(fom)
    se = np.sqrt(np.diag(mrmc.jackknife_covariance(jk)))
    z = float(_sps.norm.ppf(1 - alpha / 2))
    index = pd.MultiIndex.from_product([data.modalities, data.readers], names=["modality", "reader"])
    fom_values = theta.ravel()
    return pd.DataFrame({"fom": fom_values, "se": se, "lower": fom_values - z * se, "upper": fom_values + z * se},
                        index=index).reset_index()


def from_detections(matched: Matched | Mapping[tuple[Any, Any], Matched], *, modality: Any = "DL",
                    reader: Any = "DL") -> FrocData:
    """FROC marks of detection outputs matched to the truth (:func:`mammo_lib.evaluation.detection.match_candidates`).

    A case is an exam (the images read, with or without a mass), a lesion one lesion unit of the matching (a mass,
    over its views, by default), weighted equally within its exam. Each lesion's best hitting candidate is its LL
    mark (rated by its score; a lesion never hit is unmarked), each candidate hitting nothing an NL mark on its
    exam. ``matched``: one matching (the reader ``reader`` in modality ``modality``) or a mapping (modality,
    reader) -> matching, e.g. the DL system's and each reader's, all on the same exams and lesions.
    """
    parts = dict(matched) if isinstance(matched, Mapping) else {(modality, reader): matched}
    if not parts:
        raise MammoError("from_detections needs at least one matching")
    for m in parts.values():
        if not isinstance(m, Matched):
            raise MammoError(f"from_detections takes mammo_lib.evaluation.detection.Matched results, got {type(m).__name__}")
    first_key, first = next(iter(parts.items()))
    lesion_key = [c for c in first.lesions.columns if c not in ("exam", "score")]
    exams = sorted(set(first.images.to_numpy().tolist()))

    def layout(m: Matched) -> tuple[list[Any], list[tuple[Any, ...]]]:
        return (sorted(set(m.images.to_numpy().tolist())),
                sorted(map(tuple, m.lesions[["exam", *lesion_key]].astype(str).to_numpy().tolist())))

    reference = layout(first)
    for key, m in parts.items():
        if list(m.lesions.columns) != list(first.lesions.columns) or layout(m) != reference:
            raise MammoError(f"matching {key!r} covers other exams or lesions than {first_key!r}: every reader "
                             "must read the same exams")
    lesions = first.lesions.sort_values(["exam", *lesion_key], kind="stable")
    number = lesions.groupby("exam", sort=False).cumcount().to_numpy() + 1
    count = lesions.groupby("exam", sort=False)["exam"].transform("size").to_numpy()
    normal = sorted(set(exams) - set(lesions["exam"]))
    truth = pd.concat([pd.DataFrame({"case": normal, "lesion": 0, "weight": 0.0}),
                       pd.DataFrame({"case": lesions["exam"].to_numpy(), "lesion": number, "weight": 1.0 / count})],
                      ignore_index=True)
    lesion_number = dict(zip(map(tuple, lesions[["exam", *lesion_key]].to_numpy().tolist()), number))
    frames = []
    for (mod, rdr), m in parts.items():
        hit = m.lesions[np.isfinite(m.lesions["score"].to_numpy(float))]
        keys = map(tuple, hit[["exam", *lesion_key]].to_numpy().tolist())
        frames.append(pd.DataFrame({"modality": mod, "reader": rdr, "case": hit["exam"].to_numpy(), "kind": "LL",
                                    "lesion": [lesion_number[k] for k in keys], "rating": hit["score"].to_numpy()}))
        fp = m.false_positives
        frames.append(pd.DataFrame({"modality": mod, "reader": rdr, "case": fp["exam"].to_numpy(), "kind": "NL",
                                    "lesion": np.nan, "rating": fp["score"].to_numpy()}))
    marks = pd.concat(frames, ignore_index=True)
    return FrocData(marks, truth, modalities=list(dict.fromkeys(k[0] for k in parts)),
                    readers=list(dict.fromkeys(k[1] for k in parts)))
