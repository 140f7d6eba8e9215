"""The simulated juniors' localisation marks: a confidence-rated mark on every mass they detect, and false marks.

The paper's readers marked masses (its detection arm is a localisation task) but it reports only how many masses
each found (Table 3). For a free-response (FROC / wAFROC) analysis every reader needs marks with confidence
ratings, true (lesion localisations, LL) and false (non-lesion localisations, NL). The marks come from the same
observer that decides each junior's detections (:mod:`mammo_lib.synth.readers`, ``config.READER_MODE``):

- **Lesion marks.** Every mass the junior detects (its ``<reader>_detected`` column of ``data_findings.csv``, not
  changed here) gets one LL mark on the view where the mass is most conspicuous (best NPWE SNR, the view that
  decides detection), rated by the junior's decision variable for that mass minus its reporting threshold:

  - "calibrated" mode: ``logit(p_i) - logit(u_i)``, where ``p_i`` is the calibrated detection probability and
    ``u_i`` the mass's stable uniform number, the very score whose conditioned draw picks the detected masses
    (:func:`mammo_lib.synth.reader_calibration.draw_detection`; a latent-logistic observer reports when it is
    above 0). The draw is conditioned on Table 3's cells, so a few detected masses sit just below 0;
  - "observer" mode: ``sqrt(efficiency) * snr_i + internal_noise * n_i - threshold`` with the reader's own
    internal-noise draw ``n_i`` (:func:`mammo_lib.synth.readers.simulate`), positive exactly for the detected.

- **False marks.** The paper reports no false-mark rate for its readers. The number of NL marks on each image is
  Poisson with mean :data:`mammo_lib.synth.config.READER_FALSE_MARKS_PER_IMAGE`, an **assumption** taken from a
  published FROC observer study of mammography: the four radiologists of Federica Zanca et al.'s "FED" study
  (RJafroc's ``dataset04``, https://rdrr.io/cran/RJafroc/man/dataset04.html: 200 mammograms, 100 with one to three
  simulated microcalcification clusters, five image-processing algorithms, a 5-point FROC scale; the same images
  and readers as Zanca et al., Med Phys 2012, PMC3461051) placed 1,447 NL marks in 4,000 readings of an image,
  0.36 per image (all their marks, the lowest rating included; recomputed from the data set in
  ``tests/test_reader_marks.py`` when ``../shared`` is present). Their lesions were calcifications, not masses, and
  their images another population's: the rate is an order of magnitude for radiologists' false marks, not a fact
  about this paper's readers. Each false mark is a mass-free
  location that the same observer reported: its decision variable is that of a location whose template response
  is background (standard normal by the NPWE SNR's own definition, :func:`mammo_lib.synth.readers.npwe_snr`),
  conditioned on clearing the same threshold. In "calibrated" mode that is ``slope * log|s| + b + e`` (``s``
  standard normal, ``b`` the junior's mean stratum term over the cohort's masses, ``e`` standard logistic), in
  "observer" mode ``sqrt(efficiency) * s + internal_noise * n - threshold``; the draw keeps those above 0. A
  background location is less conspicuous than a mass, so false marks are rated lower on average than true ones,
  as the observer implies (tested).

Deterministic: each image's false marks come from a generator seeded by (seed, reader, image id), the lesion
marks from the detection model's own seeded draws. The marks are stored as ``data_reader_marks.csv`` beside
``data_findings.csv`` (:func:`write_reader_marks`, ``mammo synth --update-readers``): deriving them at run time
needs the observer SNR of every view, which needs the rendered images (or their cache) and the calibration's
fit and 0/1 programme, while notebooks read only the committed tables. :func:`load_reader_marks` reads them back.
The senior consensus has no marks: it classified every mass (the paper) and has no detection observer.
"""
from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mammo_lib import paths, vocab
from mammo_lib.errors import MammoError
from mammo_lib.synth.config import READER_FALSE_MARKS_PER_IMAGE, READER_MODE, READERS, TWIN_SEED, ReaderParams

#: The committed marks of the twin's juniors, beside data_findings.csv.
READER_MARKS_FILE = "data_reader_marks.csv"
MARK_TABLE_COLUMNS = ("reader", "image_id", "kind", "mass_id", "rating")
#: Ratings are stored to this many decimals (the committed table is byte-stable).
RATING_DECIMALS = 6


def _image_rng(seed: int, reader: str, image_id: str) -> np.random.Generator:
    """A generator of its own for each (seed, reader, image): stable whatever the other images are."""
    digest = hashlib.sha256(f"{seed}:{reader}:false-marks:{image_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))


def _observer_decision(name: str, params: ReaderParams, best: pd.Series, seed: int) -> pd.Series:
    """Observer mode: sqrt(efficiency) * snr + internal_noise * n - threshold per mass, n the reader's own draw."""
    from mammo_lib.synth.readers import _reader_rng

    internal = _reader_rng(name, seed).standard_normal(len(best))  # the first draw of readers.simulate
    value = math.sqrt(params.efficiency) * best.to_numpy(float) + params.internal_noise * internal - params.threshold
    return pd.Series(value, index=best.index)


def decision_variables(name: str, files, mode: str = READER_MODE, seed: int = TWIN_SEED,
                       snr_table: pd.DataFrame | None = None) -> tuple[pd.Series, pd.Series, dict[str, float]]:
    """A junior's decision variable per mass minus its reporting threshold (index mass_id, cohort order), the
    detections the readers module makes from the same draws, and the observer's constants for false marks
    (calibrated: ``slope`` and ``bias``, the mean stratum term; observer: ``efficiency``, ``internal_noise``,
    ``threshold``)."""
    from mammo_lib.synth import reader_calibration, readers

    if name not in vocab.DETECTION_READERS:
        raise MammoError(f"reader must be one of {list(vocab.DETECTION_READERS)} (the senior consensus has no "
                         f"detection observer), got {name!r}")
    if mode not in reader_calibration.MODES:
        raise MammoError(f"reader mode must be one of {reader_calibration.MODES}, got {mode!r}")
    params = READERS[name]
    findings, best, features, reference, strata = readers._inputs(files, snr_table)
    best = best.reindex(features.index)
    if mode == "observer":
        value = _observer_decision(name, params, best, seed)
        detected = readers.simulate(name, params, best, features, seed=seed, reference=reference)[0]
        return value, detected, {"efficiency": params.efficiency, "internal_noise": params.internal_noise,
                                 "threshold": params.threshold}
    malignant = findings.drop_duplicates("mass_id").set_index("mass_id")["pathology"] == "positive"
    detected, fit = reader_calibration.calibrated_detection(name, best, strata, params, malignant, seed=seed)
    p = fit.probability.reindex(strata.index).to_numpy(float)
    u = reader_calibration.stable_uniform(seed, name, strata.index)
    eps = 1e-12  # as draw_detection
    value = (np.log(np.clip(p, eps, 1)) - np.log(np.clip(1 - p, eps, 1))) - (np.log(u) - np.log1p(-u))
    snr = best.reindex(strata.index).clip(lower=1e-3).to_numpy(float)
    bias = float(np.mean(stats.logistic.ppf(np.clip(p, eps, 1 - eps)) - fit.slope * np.log(snr)))
    return (pd.Series(value, index=strata.index).reindex(features.index), detected.reindex(features.index),
            {"slope": fit.slope, "bias": bias})


def false_mark_ratings(count: int, constants: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """``count`` decision variables (minus threshold) of mass-free locations the observer reported: background
    template response ``s`` standard normal, the observer's noise on top, kept when above 0 (rejection in
    batches for the calibrated observer; a truncated normal for the pure observer)."""
    if count < 0:
        raise MammoError(f"false_mark_ratings: count must be >= 0, got {count}")
    if count == 0:
        return np.empty(0)
    if "slope" in constants:
        out: list[np.ndarray] = []
        need = count
        for _ in range(10_000):
            s = np.abs(rng.standard_normal(4 * need + 16))
            z = constants["slope"] * np.log(np.maximum(s, 1e-12)) + constants["bias"] + rng.logistic(size=s.size)
            kept = z[z > 0]
            out.append(kept[:need])
            need -= min(need, kept.size)
            if need == 0:
                return np.concatenate(out)
        raise MammoError("false_mark_ratings: a background location almost never clears this observer's threshold")
    sd = math.sqrt(constants["efficiency"] + constants["internal_noise"] ** 2)
    a = constants["threshold"] / sd
    return stats.truncnorm.rvs(a, np.inf, scale=sd, size=count, random_state=rng) - constants["threshold"]


def reader_marks(files, mode: str = READER_MODE, seed: int = TWIN_SEED, snr_table: pd.DataFrame | None = None,
                 rate: float = READER_FALSE_MARKS_PER_IMAGE) -> pd.DataFrame:
    """Every junior's marks on the cohort (columns :data:`MARK_TABLE_COLUMNS`; LL rows name the mass, NL rows
    leave it empty): LL on each detected mass, NL per image Poisson(``rate``). The LL marks are exactly the
    detections of ``files.findings``'s ``<reader>_detected`` columns (else MammoError: the findings were made
    with other readers or another mode)."""
    from mammo_lib.synth.readers import cached_observer_snr

    if not (np.isfinite(rate) and rate >= 0):
        raise MammoError(f"the false-mark rate must be a number >= 0 per image, got {rate!r}")
    snr_table = cached_observer_snr(files) if snr_table is None else snr_table
    findings = pd.read_csv(files.findings)
    images = list(dict.fromkeys(pd.read_csv(files.manifest)["image_id"]))
    best_view = snr_table.sort_values(["mass_id", "snr", "image_id"], ascending=[True, False, True],
                                      kind="stable").drop_duplicates("mass_id").set_index("mass_id")["image_id"]
    frames = []
    for name in vocab.DETECTION_READERS:
        value, detected, constants = decision_variables(name, files, mode, seed, snr_table)
        recorded = findings.drop_duplicates("mass_id").set_index("mass_id")[f"{name}_detected"].astype(bool)
        if not detected.reindex(recorded.index).fillna(False).astype(bool).equals(recorded):
            raise MammoError(f"reader_marks: {name}'s detections in {mode!r} mode differ from the "
                             f"{name}_detected column of {Path(files.findings).name}")
        hit = recorded.index[recorded.to_numpy()]
        frames.append(pd.DataFrame({"reader": name, "image_id": best_view.reindex(hit).to_numpy(), "kind": "LL",
                                    "mass_id": hit, "rating": value.reindex(hit).to_numpy()}))
        for image_id in images:
            rng = _image_rng(seed, name, image_id)
            ratings = false_mark_ratings(int(rng.poisson(rate)), constants, rng)
            if ratings.size:
                frames.append(pd.DataFrame({"reader": name, "image_id": image_id, "kind": "NL", "mass_id": "",
                                            "rating": ratings}))
    out = pd.concat(frames, ignore_index=True)
    out["rating"] = out["rating"].round(RATING_DECIMALS)
    return out[list(MARK_TABLE_COLUMNS)]


def write_reader_marks(files, path: str | Path | None = None, mode: str = READER_MODE) -> Path:
    """Write :func:`reader_marks` of ``files`` (default: ``data_reader_marks.csv`` beside its findings)."""
    target = Path(files.findings).with_name(READER_MARKS_FILE) if path is None else Path(path)
    reader_marks(files, mode=mode).to_csv(target, index=False)
    return target


def load_reader_marks(path: str | Path | None = None, findings: pd.DataFrame | None = None) -> pd.DataFrame:
    """The committed marks (default: the repository's ``data_reader_marks.csv``), checked: the columns, the kinds,
    finite ratings, LL rows naming a mass once per reader; with ``findings``, every LL mass is a detection of its
    reader there and every detection has its mark. Errors name the file and row."""
    path = paths.REPO_ROOT / READER_MARKS_FILE if path is None else Path(path)
    if not path.is_file():
        raise MammoError(f"{path} is missing: `mammo synth --update-readers` writes the simulated readers' marks")
    marks = pd.read_csv(path, dtype={"reader": str, "image_id": str, "kind": str, "mass_id": str},
                        keep_default_na=False)
    missing = [c for c in MARK_TABLE_COLUMNS if c not in marks.columns]
    if missing:
        raise MammoError(f"{path.name} lacks column(s) {missing}")
    rating = pd.to_numeric(marks["rating"], errors="coerce")
    checks = [(~marks["reader"].isin(vocab.DETECTION_READERS), f"reader not one of {list(vocab.DETECTION_READERS)}"),
              (~marks["kind"].isin(("LL", "NL")), "kind not LL or NL"),
              (~np.isfinite(rating.to_numpy(float)), "rating not a finite number"),
              ((marks["kind"] == "LL") & (marks["mass_id"] == ""), "LL mark without a mass_id"),
              ((marks["kind"] == "NL") & (marks["mass_id"] != ""), "NL mark naming a mass"),
              ((marks["kind"] == "LL") & marks.duplicated(["reader", "mass_id"]) & (marks["mass_id"] != ""),
               "a second LL mark on the same mass by the same reader")]
    for bad, what in checks:
        if bad.any():
            i = int(np.flatnonzero(np.asarray(bad))[0])
            raise MammoError(f"{path.name} row {i + 2}: {what} ({marks.iloc[i].to_dict()})")
    marks["rating"] = rating.astype(float)
    if findings is not None:
        masses = findings.drop_duplicates("mass_id").set_index("mass_id")
        for name in vocab.DETECTION_READERS:
            marked = set(marks.loc[(marks["reader"] == name) & (marks["kind"] == "LL"), "mass_id"])
            detected = set(masses.index[masses[f"{name}_detected"].astype(bool).to_numpy()].astype(str))
            if marked != detected:
                extra, lost = sorted(marked - detected), sorted(detected - marked)
                raise MammoError(f"{path.name}: {name}'s lesion marks are not its detections (marked, not detected: "
                                 f"{extra[:3]}; detected, not marked: {lost[:3]})")
    return marks
