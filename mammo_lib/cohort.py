"""Cohort files: one small YAML file that says which data a reproduction runs on, and how.

A cohort file names the manifest and findings tables, the data root, the columns the data set may leave
empty, which manifest splits train, validate and evaluate, and which model weights to use::

    # my_hospital.yaml
    name: my-hospital              # a label for run records (default: the file's stem)
    manifest: export/data_manifest.csv
    findings: export/data_findings.csv     # default: data_findings.csv beside the manifest, if there
    data_root: export                      # default: the manifest's folder
    allow_missing: [sha256]                # columns whose values may be empty (an adapter's MISSING_FIELDS)
    splits: {train: [train], val: [val], test: [test]}   # manifest split values of each role (the default)
    weights: shipped                       # shipped | train | a folder of <model>.safetensors + <model>.json
    init: scratch                          # with weights: train, start from scratch or fine-tune the shipped

Relative paths are relative to the cohort file's folder (a path on the command line, such as the cohort
file's own, to the caller's working directory); a path may start with ``{data}/``, the project's data folder
(:func:`mammo_lib.paths.data_dir`, ``$MAMMO_DATA``), whose folders may not exist yet (generated cohorts are
made on demand). Every problem is a one-line :class:`MammoError` naming the
file and the key. The built-in twin is such a file (``mammo_lib/twin_cohort.yaml``, :func:`twin_cohort`).

The *fingerprint* of a cohort is its manifest's sha256: DL outputs carry it (column ``cohort_sha256``) and
:func:`check_outputs_cohort` refuses outputs made on another cohort. The *split guard*
(:func:`training_exams`) gives the exams a model may be trained on and refuses any exam of the test role;
the manifest's ``test`` split is always in that role, and so are images with an empty split and splits no
role names (evaluation-only).
"""
from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from mammo_lib.data.manifest import MAY_BE_MISSING, ManifestError, load_manifest, summary
from mammo_lib.errors import MammoError
from mammo_lib.validation import require_columns
from mammo_lib.vocab import DL_CANDIDATES_FILE, READER_COLUMNS, READERS, SPLIT

#: The built-in twin cohort's description (packaged beside this module).
TWIN_COHORT_FILE = Path(__file__).with_name("twin_cohort.yaml")
TWIN = "twin"
KEYS = ("name", "manifest", "findings", "data_root", "allow_missing", "splits", "weights", "init", "synthetic")
#: What a split is used for: fit the model, stop early / choose thresholds, evaluate (never trained on).
ROLES = ("train", "val", "test")
DEFAULT_SPLITS: dict[str, tuple[str, ...]] = {"train": ("train",), "val": ("val",), "test": ("test",)}
WEIGHTS_CHOICES = ("shipped", "train")
MODELS = ("detection", "classification")
#: Starting points of training inside a reproduction (``weights: train``): from scratch, or fine-tuning the
#: shipped weights.
INIT_CHOICES = ("scratch", "shipped")
#: Folder of a run folder that holds the weights and model cards trained there (``weights: train``).
TRAINED_WEIGHTS_DIR = "weights"
#: Column of DL output tables that holds the fingerprint of the cohort they were computed on.
FINGERPRINT_COLUMN = "cohort_sha256"
#: Column of DL output tables that holds the sha256 of the weights file that made them.
WEIGHTS_COLUMN = "weights_sha256"
DATA_PREFIX = "{data}/"


@dataclass(frozen=True)
class CohortSpec:
    """A validated cohort file; every path absolute."""

    name: str
    manifest: Path
    findings: Path | None = None  # None: data_findings.csv beside the manifest when it exists
    data_root: Path | None = None  # None: the manifest's folder
    allow_missing: tuple[str, ...] = ()
    splits: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_SPLITS))
    weights: str | Path = "shipped"  # "shipped", "train" or a folder of weights with their model cards
    synthetic: bool = False  # the embedded twin (or another generated cohort): ground truth is known
    source: Path | None = None  # the cohort file
    init: str = "scratch"  # weights: train only: "scratch" or "shipped" (fine-tuning)

    def load(self, *, check_files: bool = True, check_checksums: bool = False) -> Any:
        """The validated :class:`mammo_lib.data.manifest.Cohort` (every manifest problem at once)."""
        return load_manifest(self.manifest, self.findings, self.data_root, check_files=check_files,
                             check_checksums=check_checksums, allow_missing=self.allow_missing)

    def fingerprint(self) -> str:
        """The cohort's fingerprint: sha256 of its manifest file."""
        return fingerprint(self.manifest)

    def weights_label(self) -> str:
        """The weights for run records and notebooks: shipped, train, or the folder's name (never a full path)."""
        return self.weights if isinstance(self.weights, str) else f"folder {Path(self.weights).name}"

    def record(self) -> dict[str, Any]:
        """What ``run.json`` records of the cohort."""
        return {"name": self.name, "file": str(self.source), "fingerprint": self.fingerprint(),
                "synthetic": self.synthetic, "weights": self.weights_label(),
                **({"init": self.init} if self.weights == "train" else {})}

    def role_of(self, split: str) -> str:
        """The role (train/val/test) of a manifest split value; "" (no split) and unassigned splits: test."""
        for role in ("train", "val"):
            if split and split in self.splits.get(role, ()):
                return role
        return "test"


def fingerprint(manifest_csv: str | Path) -> str:
    """sha256 of a manifest file: what DL outputs record to say which cohort they belong to."""
    from mammo_lib.checksums import sha256_file

    path = Path(manifest_csv)
    if not path.is_file():
        raise MammoError(f"{path}: manifest file does not exist")
    return sha256_file(path)


def read_cohort(path: str | Path) -> CohortSpec:
    """Read and validate a cohort file (``twin``: the built-in twin, unless a file of that name exists)."""
    import yaml

    path = Path(path).expanduser()
    if str(path) == TWIN and not path.exists():
        path = TWIN_COHORT_FILE
    path = path.resolve()  # a path given on the command line is relative to the caller's directory
    name = path.name
    if not path.is_file():
        raise MammoError(f"{path}: cohort file does not exist")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise MammoError(f"{name}: not valid YAML{where} ({getattr(exc, 'problem', None) or exc})") from None
    except UnicodeDecodeError:
        raise MammoError(f"{name}: not a text file") from None
    if not isinstance(raw, dict):
        raise MammoError(f"{name}: expected a mapping of keys {list(KEYS)}, got {type(raw).__name__}")
    unknown = [str(k) for k in raw if k not in KEYS]
    if unknown:
        raise MammoError(f"{name}: {unknown[0]}: unknown key (known: {', '.join(KEYS)})")
    base = path.parent
    if raw.get("manifest") in (None, ""):
        raise MammoError(f"{name}: manifest: required (the image table, e.g. data_manifest.csv)")
    manifest = _path(raw, "manifest", base, name, kind="file")
    findings = _path(raw, "findings", base, name, kind="file") if raw.get("findings") is not None else None
    data_root = _path(raw, "data_root", base, name, kind="folder") if raw.get("data_root") is not None else None
    label = raw.get("name", path.stem)
    if not isinstance(label, str) or not label.strip():
        raise MammoError(f"{name}: name: expected a non-empty text, got {label!r}")
    synthetic = raw.get("synthetic", False)
    if not isinstance(synthetic, bool):
        raise MammoError(f"{name}: synthetic: expected true or false, got {synthetic!r}")
    init = raw.get("init", "scratch")
    if init not in INIT_CHOICES:
        raise MammoError(f"{name}: init: expected {' or '.join(INIT_CHOICES)}, got {init!r}")
    if "init" in raw and raw.get("weights") != "train":
        raise MammoError(f"{name}: init: only with weights: train (it says where training starts)")
    return CohortSpec(name=label.strip(), manifest=manifest, findings=findings, data_root=data_root,
                      allow_missing=_allow_missing(raw.get("allow_missing", []), name),
                      splits=_splits(raw.get("splits"), name),
                      weights=_weights(raw.get("weights", "shipped"), base, name),
                      synthetic=synthetic, source=path, init=init)


def folder_cohort(folder: str | Path) -> CohortSpec:
    """A cohort folder (``data_manifest.csv`` and, when there, ``data_findings.csv``, images below it) as a cohort
    with the default splits: how ``mammo train --data FOLDER`` sees the generated training cohorts."""
    from mammo_lib.data.manifest import MANIFEST_NAME

    folder = Path(folder).expanduser().resolve()
    manifest = folder / MANIFEST_NAME
    if not manifest.is_file():
        raise MammoError(f"no training cohort at {folder} ({MANIFEST_NAME} missing); generate one with "
                         "`mammo synth --help` or give a cohort file (--cohort)")
    return CohortSpec(name=folder.name, manifest=manifest)


def training_cohort(data: CohortSpec | str | Path) -> CohortSpec:
    """What a training task reads: a cohort spec as it is, a cohort file (``.yaml``/``.yml``) or a cohort folder."""
    if isinstance(data, CohortSpec):
        return data
    path = Path(data)
    return read_cohort(path) if path.suffix.lower() in (".yaml", ".yml") else folder_cohort(path)


def twin_cohort() -> CohortSpec:
    """The embedded synthetic twin as a cohort (its images under ``{data}/twin``, made by ``mammo synth``)."""
    return read_cohort(TWIN_COHORT_FILE)


def _resolve(text: str, base: Path) -> Path:
    from mammo_lib.paths import data_dir

    if text.startswith(DATA_PREFIX):
        return (data_dir() / text[len(DATA_PREFIX):]).resolve()
    path = Path(text).expanduser()
    return (path if path.is_absolute() else base / path).resolve()


def _path(raw: Mapping[str, Any], key: str, base: Path, name: str, *, kind: str) -> Path:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise MammoError(f"{name}: {key}: expected a path, got {value!r}")
    path = _resolve(value.strip(), base)
    exists = path.is_file() if kind == "file" else path.is_dir()
    generated = value.strip().startswith(DATA_PREFIX) and kind == "folder"  # made on demand (mammo synth)
    if not exists and not generated:
        raise MammoError(f"{name}: {key}: {kind} {path} does not exist ({value!r}, relative to {base})")
    return path


def _allow_missing(value: Any, name: str) -> tuple[str, ...]:
    columns = [value] if isinstance(value, str) else value
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise MammoError(f"{name}: allow_missing: expected a list of column names, got {value!r}")
    bad = [c for c in columns if c not in MAY_BE_MISSING]
    if bad:
        raise MammoError(f"{name}: allow_missing: {bad[0]!r} must always be given (may be missing: "
                         f"{', '.join(sorted(MAY_BE_MISSING))})")
    return tuple(dict.fromkeys(columns))


def _splits(value: Any, name: str) -> dict[str, tuple[str, ...]]:
    if value is None:
        return dict(DEFAULT_SPLITS)
    if not isinstance(value, dict):
        raise MammoError(f"{name}: splits: expected a mapping of {'/'.join(ROLES)} to split names, got {value!r}")
    splits: dict[str, tuple[str, ...]] = {}
    for role, names in value.items():
        if role not in ROLES:
            raise MammoError(f"{name}: splits: {role}: unknown role (known: {', '.join(ROLES)})")
        names = [] if names is None else [names] if isinstance(names, str) else names
        if not isinstance(names, list) or any(n not in SPLIT for n in names):
            raise MammoError(f"{name}: splits: {role}: expected manifest splits among {list(SPLIT)}, "
                             f"got {value[role]!r}")
        if role != "test" and "test" in names:
            raise MammoError(f"{name}: splits: {role}: the manifest's test split is never trained or tuned on")
        splits[role] = tuple(dict.fromkeys(names))
    claimed = {n for names in splits.values() for n in names}
    for role in ROLES:  # a role not given keeps its default split, unless another role took that split
        splits.setdefault(role, tuple(n for n in DEFAULT_SPLITS[role] if n not in claimed))
    for split in SPLIT:
        roles = [role for role in ROLES if split in splits[role]]
        if len(roles) > 1:
            raise MammoError(f"{name}: splits: split {split!r} is given to {' and '.join(roles)}; each split has one "
                             "role (a test exam must never be trained on)")
    return splits


def _weights(value: Any, base: Path, name: str) -> str | Path:
    if not isinstance(value, str) or not value.strip():
        raise MammoError(f"{name}: weights: expected shipped, train or a folder of weights, got {value!r}")
    if value in WEIGHTS_CHOICES:
        return value
    folder = _path({"weights": value}, "weights", base, name, kind="folder")
    found = [m for m in MODELS if (folder / f"{m}.safetensors").is_file() and (folder / f"{m}.json").is_file()]
    if not found:
        raise MammoError(f"{name}: weights: {folder} holds no <model>.safetensors with its <model>.json card "
                         f"(models: {', '.join(MODELS)})")
    return folder


# --- split guard --------------------------------------------------------------------------------------
def exam_roles(images: pd.DataFrame, spec: CohortSpec) -> pd.Series:
    """The role (train/val/test) of every exam (study_id), from its images' split."""
    splits = images.assign(split=images["split"].astype(object).where(images["split"].notna(), ""))
    per_study = splits.groupby(splits["study_id"].astype(str), sort=True)["split"].agg(
        lambda s: sorted(set(map(str, s))))
    roles = {}
    for study, values in per_study.items():
        found = {spec.role_of(v) for v in values}
        # a study is one patient's and a patient has one split (load_manifest); if not, never train on it
        roles[study] = "test" if "test" in found or len(found) > 1 else found.pop()
    return pd.Series(roles, name="role").rename_axis("study_id")


def training_exams(images: pd.DataFrame, spec: CohortSpec, studies: Iterable[str] | None = None,
                   role: str = "train") -> list[str]:
    """The exams (study_ids) of a role that a model may be fitted (``train``) or tuned (``val``) on.

    ``studies`` None: every exam of that role, sorted. Else those exams, checked: an exam of the test role
    (or unknown) is refused with a one-line error naming it, so that no test exam can be trained on.
    """
    if role not in ("train", "val"):
        raise MammoError(f"role: expected train or val (the test role is never trained on), got {role!r}")
    roles = exam_roles(images, spec)
    if studies is None:
        return sorted(roles.index[roles == role])
    chosen = [str(s) for s in studies]
    for study in chosen:
        if study not in roles.index:
            raise MammoError(f"study_id {study!r} is not in the manifest {spec.manifest.name}")
        if roles[study] == "test":
            raise MammoError(f"study_id {study!r} belongs to the test role of cohort {spec.name!r} (splits "
                             f"{list(spec.splits['test']) or 'none'}, or no split): it is never trained on")
        if roles[study] != role:
            raise MammoError(f"study_id {study!r} belongs to the {roles[study]} role of cohort {spec.name!r}, "
                             f"not {role}")
    return chosen


# --- the cohort of a notebook -------------------------------------------------------------------------
def notebook_cohort(cohort: str = "", *, check_files: bool = True) -> tuple[CohortSpec, Any]:
    """The cohort a notebook runs on, from its ``cohort`` parameter (a cohort file; "" the built-in twin), and
    its validated tables; the twin's images are generated on demand when ``check_files``."""
    spec = read_cohort(cohort) if cohort else twin_cohort()
    if is_twin(spec) and check_files:
        from mammo_lib.synth import store

        store.ensure_cohort("twin")
    return spec, spec.load(check_files=check_files)


def is_twin(spec: CohortSpec) -> bool:
    """Whether ``spec`` is the built-in twin (its packaged cohort file)."""
    return spec.source == TWIN_COHORT_FILE.resolve()


def evaluation_studies(images: pd.DataFrame, spec: CohortSpec) -> list[str]:
    """The exams (study_ids) of the test role, sorted: what notebooks 03-07 evaluate (never trained on)."""
    roles = exam_roles(images, spec)
    return sorted(roles.index[roles == "test"])


def evaluation_masses(spec: CohortSpec, cohort: Any) -> pd.DataFrame:
    """The mass table (``Cohort.masses()``) of the evaluation exams; empty when the cohort has no findings."""
    masses = cohort.masses()
    return masses[masses["study_id"].astype(str).isin(evaluation_studies(cohort.images, spec))]


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


def weights_file(spec: CohortSpec, model: str, given: str = "", run_dir: str | Path = "") -> Path:
    """The weights file of ``model`` for this cohort: ``given`` (a notebook's ``weights`` parameter) when set,
    else the cohort's ``weights``: the shipped file, ``<folder>/<model>.safetensors``, or, for ``weights: train``,
    the file that ``mammo reproduce`` trained into the run folder (``run_dir/weights/<model>.safetensors``)."""
    from mammo_lib.paths import weights_dir

    if model not in MODELS:
        raise MammoError(f"model: expected one of {', '.join(MODELS)}, got {model!r}")
    if given:
        return Path(given)
    if spec.weights == "shipped":
        return weights_dir() / f"{model}.safetensors"
    if spec.weights == "train":
        path = Path(run_dir) / TRAINED_WEIGHTS_DIR / f"{model}.safetensors" if run_dir else None
        if path is None or not path.is_file():
            raise MammoError(f"cohort {spec.name!r}: weights: train: no {model} weights trained in "
                             f"{'this run folder' if run_dir else 'a run folder (run_dir is empty)'}; run "
                             f"`mammo reproduce --cohort {spec.source}` (it trains first) or give the weights file")
        return path
    path = Path(spec.weights) / f"{model}.safetensors"
    if not path.is_file():
        raise MammoError(f"cohort {spec.name!r}: weights: {path} does not exist (the folder lacks the {model} model)")
    return path


def describe_cohort(spec: CohortSpec, cohort: Any) -> str:
    """One line for a notebook's setup cell: which cohort, how many exams it evaluates, and what it has."""
    evaluated = evaluation_studies(cohort.images, spec)
    masses = 0 if cohort.findings is None else int(cohort.findings["mass_id"].nunique())
    readers = [c for c in READER_COLUMNS if cohort.findings is not None and c in cohort.findings.columns]
    return (f"cohort {spec.name}{' (synthetic)' if spec.synthetic else ''}: "
            f"{cohort.images['study_id'].nunique()} exams, {len(evaluated)} in the evaluation (test) role; "
            f"{masses} masses; reader columns: {'yes' if readers else 'none'}; weights {spec.weights_label()}")


# --- fingerprints of DL outputs ----------------------------------------------------------------------
def stamp_outputs(outputs: pd.DataFrame, spec_or_fingerprint: CohortSpec | str,
                  weights: str | Path | None = None) -> pd.DataFrame:
    """``outputs`` with the cohort's fingerprint in column ``cohort_sha256`` and, given the weights file, its
    sha256 in ``weights_sha256`` (written with the DL tables)."""
    from mammo_lib.checksums import sha256_file

    value = spec_or_fingerprint.fingerprint() if isinstance(spec_or_fingerprint, CohortSpec) else spec_or_fingerprint
    stamped = outputs.assign(**{FINGERPRINT_COLUMN: value})
    return stamped if weights is None else stamped.assign(**{WEIGHTS_COLUMN: sha256_file(Path(weights))})


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
    """:func:`mammo_lib.tables.load_dl_outputs`, each file first shown to be of this cohort
    (:func:`check_outputs_cohort`): what notebooks 06 and 07 read."""
    from mammo_lib.tables import load_dl_outputs

    return load_dl_outputs(tables_dir, check=lambda frame, name: check_outputs_cohort(frame, spec, name))


def dl_candidates(tables_dir: str | Path, spec: CohortSpec) -> pd.DataFrame:
    """Notebook 04's candidate boxes (``dl_detection_candidates.csv``), shown to be of this cohort
    (:func:`check_outputs_cohort`): what notebook 05's system mode pairs and notebook 11's case browser draws."""
    path = Path(tables_dir) / DL_CANDIDATES_FILE
    if not path.is_file():
        raise MammoError(f"{DL_CANDIDATES_FILE} is not in {path.parent}: run notebook 04 on this cohort first")
    candidates = pd.read_csv(path, dtype={"study_id": str, "image_id": str})
    return check_outputs_cohort(candidates, spec, DL_CANDIDATES_FILE)


def join_outputs(masses: pd.DataFrame, outputs: pd.DataFrame, spec_or_fingerprint: CohortSpec | str,
                 source: str = "DL outputs") -> pd.DataFrame:
    """:func:`mammo_lib.tables.attach_dl` after :func:`check_outputs_cohort`: DL outputs of this cohort only."""
    from mammo_lib.tables import attach_dl

    return attach_dl(masses, check_outputs_cohort(outputs, spec_or_fingerprint, source))


# --- mammo verify --cohort --------------------------------------------------------------------------
def describe(spec: CohortSpec, cohort: Any) -> list[str]:
    """Lines for ``mammo verify --cohort``: fingerprint, roles with their exam counts, weights; and problems
    of the combination (training asked for without training exams) as lines starting with "problem:"."""
    roles = exam_roles(cohort.images, spec)
    counts = roles.value_counts()
    lines = [f"fingerprint {spec.fingerprint()}  (sha256 of {spec.manifest.name})"]
    for role in ROLES:
        lines.append(f"{role:<5} splits {', '.join(spec.splits[role]) or '-':<18} {int(counts.get(role, 0))} exams"
                     + ("  (and every exam without a split)" if role == "test" else ""))
    weights = spec.weights if isinstance(spec.weights, str) else f"folder {spec.weights}"
    lines.append(f"weights {weights}" + ("  (synthetic cohort)" if spec.synthetic else ""))
    if spec.weights == "train":
        lines[-1] += f", from {spec.init}"
        if not counts.get("train", 0):
            lines.append(f"problem: weights: train, but no exam is in the train splits {list(spec.splits['train'])}")
        elif cohort.findings is None:
            lines.append("problem: weights: train, but the cohort has no findings table (nothing to learn from)")
    return lines


def verify(path: str | Path, *, check_files: bool = True, check_checksums: bool = False) -> int:
    """``mammo verify --cohort FILE``: the cohort file, its manifest and findings; prints and returns the exit
    code (0 ok, 1 problems); a bad cohort file itself is a MammoError."""
    spec = read_cohort(path)
    label = f"cohort {spec.name} ({spec.source})"
    try:
        cohort = spec.load(check_files=check_files, check_checksums=check_checksums)
    except ManifestError as exc:
        print(exc.report(label))
        return 1
    lines = describe(spec, cohort)
    problems = [line for line in lines if line.startswith("problem:")]
    print(f"{label}: {'ok' if not problems else f'{len(problems)} problem(s)'} "
          f"({'with' if cohort.findings is not None else 'without'} findings table"
          f"{', checksums verified' if check_checksums else ''})")
    for line in lines:
        print(f"  {line}")
    print(summary(cohort).to_string())
    return 1 if problems else 0


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """``mammo verify``: a manifest with its options, or ``--cohort FILE``."""
    from mammo_lib.data import manifest

    manifest.configure_parser(parser)
    parser.add_argument("--cohort", metavar="FILE",
                        help="check a cohort file (YAML: manifest, findings, data_root, allow_missing, splits, "
                             "weights) instead of MANIFEST; 'twin' is the built-in twin cohort")


def run_command(args: argparse.Namespace) -> int:
    from mammo_lib.data import manifest

    if args.cohort:
        given = [flag for flag, value in (("MANIFEST", args.manifest), ("--findings", args.findings),
                                          ("--data-root", args.data_root), ("--allow-missing", args.allow_missing))
                 if value]
        if given:
            raise MammoError(f"give either --cohort or {', '.join(given)}: the cohort file names the manifest, "
                             "findings, data_root and allow_missing")
        return verify(args.cohort, check_files=not args.no_files, check_checksums=args.checksums)
    if not args.manifest:
        raise MammoError("give a manifest (MANIFEST) or a cohort file (--cohort FILE)")
    return manifest.run_command(args)
