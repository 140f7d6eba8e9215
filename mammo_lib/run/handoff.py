"""The notebooks' hand-off: the cohort a notebook runs on, and the DL tables passed between notebooks.

A notebook's ``cohort`` parameter (a cohort file; "" the built-in twin) becomes a :class:`CohortSpec` and its
validated tables (:class:`mammo_lib.data.manifest.Manifest`) through :func:`notebook_cohort`. Notebook 04 writes
the DL detection tables and notebook 05 the scores; both *stamp* them with the cohort's fingerprint
(:func:`stamp_outputs`), and every notebook that reads them checks that fingerprint first
(:func:`check_outputs_cohort`, :func:`dl_outputs`, :func:`dl_candidates`, :func:`join_outputs`), so that results
never join across cohorts. Which notebook reads which file is declared in
:data:`mammo_lib.run.pipeline.NOTEBOOK_INPUTS`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from mammo_lib.checksums import sha256_file
from mammo_lib.data.cohort import (FINGERPRINT_COLUMN, WEIGHTS_COLUMN, CohortSpec, evaluation_studies, is_twin,
                                   read_cohort, twin_cohort)
from mammo_lib.data.manifest import Manifest
from mammo_lib.errors import MammoError
from mammo_lib.paper.tables import attach_dl, load_dl_outputs
from mammo_lib.synth import store
from mammo_lib.validation import require_columns
from mammo_lib.vocab import (BOX_COLUMNS, DL_CANDIDATE_DECIMALS, DL_CANDIDATES_FILE, DL_SYSTEM_SCORES_COLUMNS,
                            DL_SYSTEM_SCORES_FILE, READER_COLUMNS, READERS)


def notebook_cohort(cohort: str = "", *, check_files: bool = True) -> tuple[CohortSpec, Manifest]:
    """The cohort a notebook runs on, from its ``cohort`` parameter (a cohort file; "" the built-in twin), and
    its validated tables; the twin's images are generated on demand when ``check_files``."""
    spec = read_cohort(cohort) if cohort else twin_cohort()
    if is_twin(spec) and check_files:
        store.ensure_cohort("twin")
    return spec, spec.load(check_files=check_files)


def evaluation_masses(spec: CohortSpec, manifest: Manifest) -> pd.DataFrame:
    """The mass table (``Manifest.masses()``) of the evaluation exams; empty when the cohort has no findings."""
    masses = manifest.masses()
    return masses[masses["study_id"].astype(str).isin(evaluation_studies(manifest.images, spec))]


def complete_readers(masses: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """The mass table with only the readers who read every one of its masses, and a sentence naming the readers
    left out ("" when none): reader tables need a reading of each mass, DL-only tables need none."""
    partial = [r for r in READERS if any(c in masses.columns and masses[c].isna().any()
                                         for c in (f"{r}_detected", f"{r}_birads"))]
    absent = [r for r in READERS if not any(f"{r}{s}" in masses.columns for s in ("_detected", "_birads"))]
    kept = masses.drop(columns=[c for r in partial for c in (f"{r}_detected", f"{r}_birads") if c in masses.columns])
    notes = ([f"readers {', '.join(partial)} read only some of these masses: left out"] if partial else []) + (
        [f"no reader columns for {', '.join(absent)}: their rows are left out"] if absent else [])
    return kept, "; ".join(notes) + (" (DL-only rows)" if len(partial) + len(absent) == len(READERS) else "")


def describe_cohort(spec: CohortSpec, manifest: Manifest) -> str:
    """One line for a notebook's setup cell: which cohort, how many exams it evaluates, and what it has."""
    evaluated = evaluation_studies(manifest.images, spec)
    masses = 0 if manifest.findings is None else int(manifest.findings["mass_id"].nunique())
    readers = [c for c in READER_COLUMNS if manifest.findings is not None and c in manifest.findings.columns]
    return (f"cohort {spec.name}{' (synthetic)' if spec.synthetic else ''}: "
            f"{manifest.images['study_id'].nunique()} exams, {len(evaluated)} in the evaluation (test) role; "
            f"{masses} masses; reader columns: {'yes' if readers else 'none'}; weights {spec.weights_label()}")


def stamp_outputs(outputs: pd.DataFrame, spec_or_fingerprint: CohortSpec | str,
                  weights: str | Path | None = None) -> pd.DataFrame:
    """``outputs`` with the cohort's fingerprint in column ``cohort_sha256`` and, given the weights file, its
    sha256 in ``weights_sha256`` (written with the DL tables)."""
    value = spec_or_fingerprint.fingerprint() if isinstance(spec_or_fingerprint, CohortSpec) else spec_or_fingerprint
    stamped = outputs.assign(**{FINGERPRINT_COLUMN: value})
    return stamped if weights is None else stamped.assign(**{WEIGHTS_COLUMN: sha256_file(Path(weights))})


#: Decimals per column of ``dl_detection_candidates.csv`` (:data:`mammo_lib.vocab.DL_CANDIDATE_DECIMALS`).
CANDIDATE_DECIMALS = {**{c: DL_CANDIDATE_DECIMALS["box"] for c in BOX_COLUMNS}, "score": DL_CANDIDATE_DECIMALS["score"]}


def candidates_as_written(candidates: pd.DataFrame) -> pd.DataFrame:
    """The detector's candidates at the precision ``dl_detection_candidates.csv`` stores them
    (:data:`CANDIDATE_DECIMALS`). Notebook 04 scores these, not the full-precision boxes, so that every notebook
    that reads the file back (05's system mode, 11, 12) recomputes 04's per-mass table exactly: a box centre
    within 0.05 px of a mass box's exclusive edge, or a score within 0.00005 of the threshold, would otherwise
    hit in one notebook and miss in the other."""
    require_columns(candidates, list(CANDIDATE_DECIMALS), "candidates")
    return candidates.round(CANDIDATE_DECIMALS)


def check_outputs_cohort(outputs: pd.DataFrame, spec_or_fingerprint: CohortSpec | str,
                         source: str = "DL outputs") -> pd.DataFrame:
    """``outputs`` without their fingerprint column, once every row is shown to come from this cohort.

    Outputs of another cohort, or without a fingerprint, are refused by a one-line error naming both
    fingerprints: joining them by mass_id would give one cohort's masses another cohort's results.
    """
    expected = spec_or_fingerprint.fingerprint() if isinstance(spec_or_fingerprint, CohortSpec) else spec_or_fingerprint
    require_columns(outputs, [FINGERPRINT_COLUMN], source,
                    hint=f"so not shown to be of this cohort (fingerprint {expected}); re-run the notebook "
                         "that made them on this cohort")
    found = sorted(set(outputs[FINGERPRINT_COLUMN].astype(str)))
    other = [f for f in found if f != expected]
    if other:
        raise MammoError(f"{source}: made on another cohort (fingerprint {other[0]}), not on this one (fingerprint "
                         f"{expected}); re-run the notebook that made them on this cohort")
    return outputs.drop(columns=[FINGERPRINT_COLUMN])


def dl_outputs(tables_dir: str | Path, spec: CohortSpec) -> pd.DataFrame | None:
    """:func:`mammo_lib.paper.tables.load_dl_outputs`, each file first shown to be of this cohort
    (:func:`check_outputs_cohort`): what notebooks 06 and 07 read."""
    return load_dl_outputs(tables_dir, check=lambda frame, name: check_outputs_cohort(frame, spec, name))


def dl_candidates(tables_dir: str | Path, spec: CohortSpec) -> pd.DataFrame:
    """Notebook 04's candidate boxes (``dl_detection_candidates.csv``), shown to be of this cohort
    (:func:`check_outputs_cohort`): what notebook 05's system mode pairs and notebook 11's case browser draws."""
    path = Path(tables_dir) / DL_CANDIDATES_FILE
    if not path.is_file():
        raise MammoError(f"{DL_CANDIDATES_FILE} is not in {path.parent}: run notebook 04 on this cohort first")
    candidates = pd.read_csv(path, dtype={"study_id": str, "image_id": str})
    return check_outputs_cohort(candidates, spec, DL_CANDIDATES_FILE)


def dl_system_scores(tables_dir: str | Path, spec: CohortSpec) -> pd.DataFrame | None:
    """Notebook 05's system mode per mass (``dl_system_scores_per_mass.csv``), shown to be of this cohort, or None
    when 05's system mode did not run (no detector candidates): Table 4's end-to-end DL row in notebook 07."""
    path = Path(tables_dir) / DL_SYSTEM_SCORES_FILE
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path, dtype={"mass_id": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise MammoError(f"{path.name}: cannot be read as CSV ({exc})") from None
    frame = check_outputs_cohort(frame, spec, DL_SYSTEM_SCORES_FILE)
    require_columns(frame, list(DL_SYSTEM_SCORES_COLUMNS), DL_SYSTEM_SCORES_FILE)
    return frame


def join_outputs(masses: pd.DataFrame, outputs: pd.DataFrame, spec_or_fingerprint: CohortSpec | str,
                 source: str = "DL outputs") -> pd.DataFrame:
    """:func:`mammo_lib.paper.tables.attach_dl` after :func:`check_outputs_cohort`: DL outputs of this cohort only."""
    return attach_dl(masses, check_outputs_cohort(outputs, spec_or_fingerprint, source))

