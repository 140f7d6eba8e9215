"""``mammo reproduce``: run the numbered notebooks with papermill into a fresh run folder.

A run folder ``runs/<timestamp>-<profile>/`` holds ``executed/NN_*.ipynb``, ``tables/*.csv``,
``figures/*`` and ``run.json`` (git commit, package versions, parameters, device, timings and the sha256 of
every output). A run never writes into an earlier run's folder; a failing notebook stops the run, names
the notebook, cell and error, and leaves what the earlier notebooks wrote.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mammo_lib.run import report
from mammo_lib.checksums import sha256_file
from mammo_lib.errors import MammoError
from mammo_lib.paths import REPO_ROOT, runs_dir
from mammo_lib.vocab import DL_CANDIDATES_FILE, DL_DETECTION_FILE, DL_SCORES_FILE

#: The fixed notebook sequence (numbers are shared conventions; a missing notebook is skipped).
NOTEBOOKS: tuple[str, ...] = (
    "00_overview", "01_data", "02_synthetic_cohort", "03_preprocessing", "04_detection",
    "05_classification", "06_density_stratified", "07_tables_and_roc", "08_paper_audit", "09_training",
    "10_claims_scorecard", "11_teaching", "12_localisation_and_sizing",
)
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
#: What each notebook reproduces: (paper item, notebook, outputs it writes). The README's table mirrors it.
PAPER_ITEMS: tuple[tuple[str, str, str], ...] = (
    ("Overview, environment, parameter convention, glossary", "00_overview",
     "tables/paper_items.csv, tables/published_headlines.csv"),
    ("Methods: data, manifest; Table 1 (features of masses); Table 2 (histopathology)", "01_data",
     "tables/cohort_overview.csv, tables/table1.csv, tables/table1_vs_paper.csv, tables/table2.csv, "
     "tables/table2_vs_paper.csv, tables/real_dicoms.csv, figures/exam_gallery.png, figures/cbis_ddsm_exam.png"),
    ("Methods: the cohort (324 patients, 618 masses, 3 vendors), as a synthetic twin", "02_synthetic_cohort",
     "tables/twin_composition.csv, tables/twin_realism.csv, tables/twin_likeness.csv, tables/twin_readers.csv, "
     "tables/twin_conspicuity.csv, figures/twin_views_by_density.png, figures/twin_realism.png"),
    ("Methods: data cleaning, 448 x 448 resize, nipple locations for registration", "03_preprocessing",
     "tables/preprocess_twin_accuracy.csv, tables/preprocess_twin_by_vendor.csv, tables/preprocess_real.csv, "
     "figures/preprocess_synthetic_exam.png, figures/preprocess_cbis.png"),
    ("Figure 1 (IDVN, BDVN, IFN detection); Figures 4-6 (case overlays); FROC", "04_detection",
     "tables/dl_detection_per_mass.csv, tables/dl_detection_candidates.csv, tables/detection_recall_at_fpi.csv, "
     "tables/detection_by_density.csv, tables/detection_ablation.csv, figures/detection_froc.png, "
     "figures/detection_examples.png"),
    ("Figure 2 (multi-task DenseNet-121, 0-100 score); the DL system end to end (system mode)", "05_classification",
     "tables/dl_scores_per_mass.csv, tables/dl_system_scores_per_mass.csv, tables/classification_performance.csv, "
     "tables/classification_system_mode.csv, figures/classification_roc.png, figures/classification_reliability.png"),
    ("Table 3 and text: detection sensitivity by breast density (and all factors), chi-square",
     "06_density_stratified", "tables/table3.csv, tables/table3_tests.csv, tables/density_mcnemar.csv, "
     "figures/sensitivity_by_density.png"),
    ("Table 4 and Figure 3: accuracy, sensitivity, specificity, AUC, DeLong (DL row: the system end to end)",
     "07_tables_and_roc", "tables/table4.csv, tables/table4_vs_paper.csv, tables/figure3_curves.csv, "
     "figures/figure3_roc.png"),
    ("Audit of the paper's own arithmetic and internal consistency", "08_paper_audit",
     "tables/paper_audit.csv, tables/paper_audit_summary.csv, figures/paper_audit_auc.png"),
    ("Training of the detector (the shipped weights' curves, and a short real run); the classifier's training is in "
     "its model card (notebook 05)", "09_training", "tables/training_weights.csv, figures/detection_training.png"),
    ("Abstract, Results, Discussion, Conclusions: each claim vs its evidence, the audit and the reproduction, with "
     "the arm that decides it", "10_claims_scorecard", "tables/claims_scorecard.csv, tables/detection_paired.csv"),
    ("Teaching: density masking; threshold, ROC point and Table 4 row; case browser (ipywidgets)", "11_teaching",
     "tables/density_masking.csv, tables/threshold_operating_points.csv, figures/density_masking.png, "
     "figures/threshold_view.png"),
    ("Beyond the paper: DL detection as localisation (FROC, wAFROC, false marks); sizing a reader study",
     "12_localisation_and_sizing",
     "tables/localisation_dl.csv, tables/localisation_dl_vs_juniors.csv, tables/sizing.csv, tables/sizing_power.csv, "
     "figures/localisation_dl.png, figures/sizing_power.png"),
)
#: What each notebook reads from earlier notebooks: notebook -> ((file in its tables folder, notebook writing it), ...).
#: Checked before the notebook runs (:func:`check_inputs`), by ``mammo reproduce`` and by the notebook itself.
NOTEBOOK_INPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "05_classification": ((DL_CANDIDATES_FILE, "04_detection"),),  # its system mode: 04's detector run
    "06_density_stratified": ((DL_DETECTION_FILE, "04_detection"),),
    "07_tables_and_roc": ((DL_SCORES_FILE, "05_classification"),),
    # 10 scores what the cohort's tables support: density_mcnemar.csv (06, with readers) and table4.csv (07) may be absent
    "10_claims_scorecard": ((DL_DETECTION_FILE, "04_detection"), ("table3.csv", "06_density_stratified"),
                            ("table3_tests.csv", "06_density_stratified")),
    "11_teaching": ((DL_DETECTION_FILE, "04_detection"), (DL_CANDIDATES_FILE, "04_detection"),
                    (DL_SCORES_FILE, "05_classification")),
    # 12 matches 04's candidates itself; its sizing pilot reads 04's per-mass detections and 05's scores
    "12_localisation_and_sizing": ((DL_CANDIDATES_FILE, "04_detection"), (DL_DETECTION_FILE, "04_detection"),
                                   (DL_SCORES_FILE, "05_classification")),
}
#: Notebooks that describe the embedded twin against its generator and the paper's composition; skipped for any
#: other cohort, synthetic or not (02 reads the twin's committed tables, so it would describe the twin instead).
TWIN_ONLY = ("02_synthetic_cohort",)
#: Notebooks that score or tabulate masses; skipped for a cohort with none in its evaluation (test) role.
NEEDS_MASSES = ("05_classification", "06_density_stratified", "07_tables_and_roc", "10_claims_scorecard",
                "11_teaching", "12_localisation_and_sizing")
#: Notebooks that measure malignancy (or read 05's scores); skipped when a mass of the evaluation role has no pathology.
NEEDS_PATHOLOGY = ("05_classification", "07_tables_and_roc", "11_teaching", "12_localisation_and_sizing")
#: Notebooks whose every table is an AUC/accuracy comparison (Table 4, Figure 3, DeLong); skipped when the
#: evaluation role has fewer than 2 masses of a class (:func:`mammo_lib.evaluation.stats.measurable`). 05 still scores.
NEEDS_BOTH_CLASSES = ("07_tables_and_roc",)
#: Notebooks that run a model, with the model: for a cohort with ``weights: train`` the run trains both models
#: first (:func:`mammo_lib.training.on_cohort.train_for_run`) and hands each notebook the weights trained in the run folder.
USES_WEIGHTS = {"04_detection": "detection", "05_classification": "classification"}
PROFILES_FILE = Path(__file__).with_name("profiles.yaml")
#: papermill runs notebooks in this kernel; inside the project's venv it is the venv's own Python.
KERNEL_NAME = "python3"
#: Packages whose versions go into run.json.
REPORTED_PACKAGES = (
    "mammo-companion", "torch", "torchvision", "timm", "pydicom", "numpy", "scipy", "pandas",
    "scikit-learn", "statsmodels", "matplotlib", "seaborn", "papermill", "nbformat",
)


@dataclass(frozen=True)
class Profile:
    """One entry of ``profiles.yaml``."""

    name: str
    description: str
    cell_timeout_s: int
    parameters: dict[str, Any]
    notebooks: dict[str, dict[str, Any]] = field(default_factory=dict)


def load_profiles(path: Path = PROFILES_FILE) -> dict[str, Profile]:
    """Read every profile of the profiles file, checking its shape."""
    import yaml

    raw = yaml.safe_load(path.read_text())
    if not isinstance(raw, dict) or not raw:
        raise MammoError(f"{path.name}: expected a mapping of profile names")
    profiles = {}
    for name, body in raw.items():
        if not isinstance(body, dict):
            raise MammoError(f"{path.name}: profile {name!r} is not a mapping")
        notebooks = {str(k).zfill(2): dict(v or {}) for k, v in (body.get("notebooks") or {}).items()}
        unknown = sorted(set(notebooks) - {nb[:2] for nb in NOTEBOOKS})
        if unknown:
            raise MammoError(f"{path.name}: profile {name!r} names unknown notebook numbers {unknown}")
        profiles[name] = Profile(
            name=name,
            description=str(body.get("description", "")),
            cell_timeout_s=int(body.get("cell_timeout_s", 1800)),
            parameters=dict(body.get("parameters") or {}),
            notebooks=notebooks,
        )
    return profiles


def get_profile(name: str) -> Profile:
    profiles = load_profiles()
    if name not in profiles:
        raise MammoError(f"unknown profile {name!r} (choose from {', '.join(sorted(profiles))})")
    return profiles[name]


def select_notebooks(only: list[str] | None = None, notebook_dir: Path | None = None) -> list[Path]:
    """The notebooks to run, in sequence order; ``only`` holds two-digit numbers (``"4"`` is ``"04"``)."""
    notebook_dir = NOTEBOOK_DIR if notebook_dir is None else notebook_dir
    numbers = {nb[:2]: nb for nb in NOTEBOOKS}
    wanted = list(numbers)
    if only:
        wanted = []
        for item in only:
            key = item.strip().zfill(2)
            if key not in numbers:
                raise MammoError(f"unknown notebook number {item!r} (choose from {', '.join(numbers)})")
            if key not in wanted:
                wanted.append(key)
        wanted.sort()
    return [notebook_dir / f"{numbers[k]}.ipynb" for k in wanted if (notebook_dir / f"{numbers[k]}.ipynb").exists()]


def notebook_parameters(notebook: Path, profile: Profile, run_dir: Path, cohort: str = "") -> dict[str, Any]:
    """Parameters for one notebook: the profile's, filtered to what the notebook declares; ``cohort`` (a
    cohort file's absolute path, "" for the twin) to every notebook that declares it."""
    import papermill

    declared = set(papermill.inspect_notebook(str(notebook)))
    values: dict[str, Any] = {k: v for k, v in profile.parameters.items() if k in declared}
    specific = profile.notebooks.get(notebook.name[:2], {})
    undeclared = sorted(set(specific) - declared)
    if undeclared:
        raise MammoError(
            f"profile {profile.name!r} sets {undeclared} for {notebook.name}, which declares no such parameter"
        )
    values.update(specific)
    if "run_dir" in declared:
        values["run_dir"] = str(run_dir)
    if cohort and "cohort" in declared:
        values["cohort"] = cohort
    return values


def new_run_dir(profile: str, out: str | None = None) -> Path:
    """Create the run folder; refuse a non-empty ``out`` and never reuse an earlier run's folder."""
    if out:
        path = Path(out).expanduser().resolve()
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise MammoError(f"--out {out}: exists and is not an empty folder; choose a new folder")
    else:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = runs_dir()
        path = base / f"{stamp}-{profile}"
        suffix = 2
        while path.exists():
            path = base / f"{stamp}-{profile}-{suffix}"
            suffix += 1
    try:
        for sub in ("executed", "tables", "figures"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise MammoError(f"cannot write the run folder {path}: {exc.strerror or exc}") from None
    return path


def _git_commit() -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=REPO_ROOT, capture_output=True, text=True, check=True,
            ).stdout.strip()
        )
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in REPORTED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def device_report() -> dict[str, Any]:
    """What the models will run on: CPU threads and any CUDA device."""
    report: dict[str, Any] = {"platform": platform.platform(), "python": sys.version.split()[0],
                              "cpu_count": os.cpu_count()}
    try:
        import torch

        report["torch_threads"] = torch.get_num_threads()
        report["cuda"] = torch.cuda.is_available()
        if report["cuda"]:
            report["cuda_device"] = torch.cuda.get_device_name(0)
    except ImportError:  # pragma: no cover - torch is a declared dependency
        report["cuda"] = None
    return report


def check_inputs(notebook: str, tables_dir: str | Path, manifest: str | Path | None = None) -> None:
    """Stop early, with one line saying what to run first, when a notebook's inputs are missing: the cohort
    ``manifest`` (when given) and the files of :data:`NOTEBOOK_INPUTS` in ``tables_dir``."""
    if notebook not in NOTEBOOKS:
        raise MammoError(f"unknown notebook {notebook!r}; known: {', '.join(NOTEBOOKS)}")
    if manifest is not None and not Path(manifest).is_file():
        raise MammoError(f"{notebook} needs a cohort manifest and {Path(manifest).name} does not exist: generate the "
                         "twin cohort (`mammo synth`) or pass a cohort file (`mammo verify --cohort`) as the cohort "
                         "parameter")
    for name, writer in NOTEBOOK_INPUTS.get(notebook, ()):
        if not (Path(tables_dir) / name).is_file():
            raise MammoError(f"{notebook} reads {name}, written by {writer}, and it is not in this run's tables "
                             f"folder: run notebook {writer[:2]} first (mammo reproduce --only {writer[:2]} "
                             f"{notebook[:2]})")


def evaluation_content(spec: Any) -> dict[str, bool]:
    """Whether the exams of the cohort's test role have masses, a pathology for every one of them, and at least
    2 of each class (the twin: all three, without reading its tables)."""
    from mammo_lib.data.cohort import is_twin
    from mammo_lib.run.handoff import evaluation_masses
    from mammo_lib.evaluation.stats import measurable

    if is_twin(spec):
        return {"masses": True, "pathology": True, "classes": True}
    data = spec.load(check_files=False)
    masses = evaluation_masses(spec, data) if data.findings is not None else None
    found = masses is not None and not masses.empty
    pathology = found and bool(masses["pathology"].notna().all())
    return {"masses": found, "pathology": pathology,
            "classes": pathology and measurable(masses["pathology"].astype(str).eq("positive"))}


def skip_reason(notebook: str, spec: Any, evaluated: dict[str, bool]) -> str:
    """Why ``mammo reproduce`` skips ``notebook`` (a stem) for the cohort ``spec`` whose evaluation role holds
    ``evaluated`` (:func:`evaluation_content`); "" when it runs. The reason is written to ``run.json``."""
    from mammo_lib.data.cohort import is_twin

    if notebook in TWIN_ONLY and not is_twin(spec):
        what = "synthetic but not the embedded twin" if spec.synthetic else "not synthetic"
        return (f"cohort {spec.name} is {what}: {notebook} describes the embedded twin against its generator and "
                "the paper's composition")
    if notebook in NEEDS_MASSES and not evaluated["masses"]:
        return f"cohort {spec.name} has no masses in its evaluation (test) role: {notebook} scores or tabulates masses"
    if notebook in NEEDS_PATHOLOGY and not evaluated["pathology"]:
        return (f"cohort {spec.name} gives no pathology for the masses of its evaluation (test) role: {notebook} "
                "measures malignancy")
    if notebook in NEEDS_BOTH_CLASSES and not evaluated["classes"]:
        return (f"cohort {spec.name} has fewer than 2 malignant or 2 benign masses in its evaluation (test) role: "
                f"{notebook} compares AUCs (DeLong) and accuracies")
    return ""


def cohort_plan(spec: Any) -> list[dict[str, str]]:
    """What ``mammo reproduce --cohort`` does with each notebook for ``spec``: runs, or skipped with the reason
    (notebook 00 shows it); with ``weights: train`` the training step before 04 is said as well."""
    evaluated = evaluation_content(spec)
    plan = []
    for notebook in NOTEBOOKS:
        reason = skip_reason(notebook, spec, evaluated)
        note = reason or ("after the training step (both models, on the train role)"
                          if notebook in USES_WEIGHTS and spec.weights == "train" else "")
        plan.append({"notebook": notebook, "status": "skipped" if reason else "runs", "reason": note})
    return plan


def _train(spec: Any, run_dir: Path, profile: Profile) -> list[dict[str, Any]]:
    """The run's training step (``weights: train``): both models into ``run_dir/weights``, sized by the profile."""
    from mammo_lib.training.on_cohort import train_for_run

    started = time.perf_counter()
    smoke = bool(profile.parameters.get("smoke", False))
    records = train_for_run(spec, run_dir, smoke=smoke, seed=int(profile.parameters.get("seed", 20231027)))
    print(f"trained on cohort {spec.name} ({'smoke-sized, ' if smoke else ''}{time.perf_counter() - started:.0f} s): "
          + ", ".join(f"{r['model']} {r['status']}" for r in records), file=sys.stderr)
    return records


def _write_run_json(run_dir: Path, record: dict[str, Any]) -> None:
    outputs = {}
    for path in sorted(run_dir.rglob("*")):
        if path.is_file() and path.name != "run.json":
            outputs[str(path.relative_to(run_dir))] = sha256_file(path)
    record["outputs_sha256"] = outputs
    (run_dir / "run.json").write_text(json.dumps(record, indent=2, sort_keys=False, default=str) + "\n")


#: Notebooks that read the twin's images (rendered on demand, :func:`mammo_lib.synth.store.ensure_cohort`), and how
#: many of its first patients a smoke run of each reads (None: all of them; notebook 02's smoke slice).
TWIN_IMAGE_NOTEBOOKS: dict[str, int | None] = {"02_synthetic_cohort": 24, "03_preprocessing": None}


def twin_patients_to_render(notebooks: list[Path], profile: Profile, run_dir: Path) -> tuple[bool, list[str] | None, int]:
    """Whether the selected ``notebooks`` read the twin's images, which patients (None: all) and with how many
    processes they would render them (their ``smoke`` and ``workers`` parameters)."""
    import papermill

    needed, patients, workers = False, [], 1
    for notebook in notebooks:
        if notebook.stem not in TWIN_IMAGE_NOTEBOOKS:
            continue
        params = notebook_parameters(notebook, profile, run_dir)
        declared = papermill.inspect_notebook(str(notebook))
        workers = max(workers, int(params.get("workers", declared.get("workers", {}).get("default", 1))))
        smoke = bool(params.get("smoke", False))
        first = TWIN_IMAGE_NOTEBOOKS[notebook.stem] if smoke else None
        needed = True
        if first is None:
            patients = None
        elif patients is not None:
            patients = sorted(set(patients) | set(_first_twin_patients(first)))
    return needed, patients, workers


def _first_twin_patients(n: int) -> list[str]:
    """The first ``n`` patient ids of the committed twin manifest, sorted (notebook 02's smoke slice)."""
    import pandas as pd

    from mammo_lib.synth import store

    return sorted(pd.read_csv(store.cohort_files("twin").manifest)["patient_id"].unique())[:n]


def render_twin(notebooks: list[Path], profile: Profile, run_dir: Path, progress: bool = True) -> dict[str, Any] | None:
    """Render the twin's missing images that ``notebooks`` will read, here, with a progress bar on stderr
    (patients rendered of those missing, rate, ETA), instead of silently inside notebook 02's kernel; every
    image is checked against the committed checksums. What it did, for run.json; None if no notebook reads them."""
    from mammo_lib.synth import store

    needed, patients, workers = twin_patients_to_render(notebooks, profile, run_dir)
    if not needed:
        return None
    started = time.perf_counter()
    store.ensure_cohort("twin", workers=workers, only=patients, progress=progress)
    return {"patients": "all" if patients is None else len(patients), "workers": workers,
            "seconds": round(time.perf_counter() - started, 1)}


def reproduce(profile_name: str = "default", only: list[str] | None = None, out: str | None = None,
              progress: bool = True, cohort: str | Path | None = None) -> Path:
    """Run the notebook sequence on ``cohort`` (a cohort file, relative to the caller's directory; None: the
    built-in twin); return the run folder. Raises MammoError when a notebook fails. Notebooks about the
    embedded twin (:data:`TWIN_ONLY`) are skipped, with the reason, for any other cohort."""
    import papermill
    from tqdm.auto import tqdm

    from mammo_lib.data.cohort import is_twin, read_cohort, twin_cohort, weights_file
    from mammo_lib.run.jupyter import EncryptedKernelManager, GracefulInterrupt, NotebookInterrupted, batch_kernels

    profile = get_profile(profile_name)
    spec = read_cohort(cohort) if cohort else twin_cohort()
    cohort_param = "" if is_twin(spec) else str(spec.source)
    evaluated = evaluation_content(spec)
    notebooks = select_notebooks(only)
    if not notebooks:
        raise MammoError("no notebook to run: none of the selected notebooks exists yet")
    run_dir = new_run_dir(profile.name, out)
    record: dict[str, Any] = {
        "profile": profile.name, "description": profile.description, "started": _dt.datetime.now().isoformat(),
        "git": _git_commit(), "packages": package_versions(), "device": device_report(),
        "cohort": spec.record(), "notebooks": [], "status": "running",
    }
    bar = None
    try:
        if is_twin(spec):  # the twin's images first, with their own progress bar on this terminal
            try:
                twin = render_twin(notebooks, profile, run_dir, progress)
            except MammoError as exc:
                record["twin_images"] = {"status": "failed", "error": str(exc)}
                record["status"] = "failed"
                raise
            if twin is not None:
                record["twin_images"] = twin
        bar = tqdm(notebooks, desc="mammo reproduce", unit="notebook", disable=not progress, file=sys.stderr)
        for notebook in bar:
            bar.set_postfix_str(notebook.stem)
            params = notebook_parameters(notebook, profile, run_dir, cohort_param)
            entry: dict[str, Any] = {"notebook": notebook.name, "parameters": params}
            record["notebooks"].append(entry)
            reason = skip_reason(notebook.stem, spec, evaluated)
            if reason:
                entry.update(status="skipped", reason=reason)
                continue
            if notebook.stem in USES_WEIGHTS and spec.weights == "train":
                if "training" not in record:
                    try:
                        record["training"] = _train(spec, run_dir, profile)
                    except MammoError as exc:
                        entry.update(status="not run", error=f"training step: {exc}")
                        record["status"] = "failed"
                        raise
                params["weights"] = str(weights_file(spec, USES_WEIGHTS[notebook.stem], run_dir=run_dir))
            started = time.perf_counter()
            try:
                check_inputs(notebook.stem, run_dir / "tables")
            except MammoError as exc:
                entry.update(status="not run", error=str(exc))
                record["status"] = "failed"
                raise
            interrupt = GracefulInterrupt()
            try:
                with batch_kernels(), interrupt:
                    papermill.execute_notebook(
                        str(notebook), str(run_dir / "executed" / notebook.name), parameters=params,
                        kernel_name=KERNEL_NAME, cwd=str(NOTEBOOK_DIR), execution_timeout=profile.cell_timeout_s,
                        progress_bar=False, log_output=False, report_mode=False,
                        kernel_manager_class=interrupt.manager_class(EncryptedKernelManager),
                        on_cell_start=interrupt.before_cell,
                    )
            except (papermill.PapermillExecutionError, NotebookInterrupted) as exc:
                if interrupt.requested:  # Ctrl-C: the kernel stopped its cell, or the next cell never started
                    entry.update(status="interrupted", seconds=round(time.perf_counter() - started, 1))
                    raise KeyboardInterrupt from None
                if not isinstance(exc, papermill.PapermillExecutionError):
                    raise
                entry.update(status="failed", seconds=round(time.perf_counter() - started, 1),
                             error=f"{exc.ename}: {exc.evalue}", cell=exc.exec_count)
                record["status"] = "failed"
                raise MammoError(
                    f"{notebook.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
                    f"(executed notebook: {run_dir / 'executed' / notebook.name})"
                ) from None
            entry.update(status="ok", seconds=round(time.perf_counter() - started, 1))
        record["status"] = "ok"
    except KeyboardInterrupt:
        record["status"] = "interrupted"
        if record["notebooks"] and "status" not in record["notebooks"][-1]:
            record["notebooks"][-1]["status"] = "interrupted"
        if record["notebooks"]:
            from mammo_lib.run.jupyter import mark_unrun_cells

            mark_unrun_cells(run_dir / "executed" / record["notebooks"][-1]["notebook"])
        raise
    finally:
        if record["status"] == "running":  # an unexpected error: never leave a run that looks unfinished
            record["status"] = "failed"
        if bar is not None:
            bar.close()
        record["finished"] = _dt.datetime.now().isoformat()
        _write_run_json(run_dir, record)
        report.write_report(run_dir, PAPER_ITEMS)  # run_dir/report/index.html, also after a failure
    return run_dir


def _strip_papermill_metadata(path: Path) -> None:
    """Drop papermill's per-run timings from a committed notebook so re-runs give clean diffs."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    nb.metadata.pop("papermill", None)
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nbformat.write(nb, str(path))


def refresh_committed(only: list[str] | None = None, progress: bool = True) -> list[Path]:
    """Re-execute the committed notebooks in place with their own default parameters.

    This is the one deliberate way to overwrite committed outputs (``make notebooks``): the stored cell
    outputs that nbval checks, and the committed ``tables/`` and ``figures/``.
    """
    import papermill
    from tqdm.auto import tqdm

    from mammo_lib.run.jupyter import EncryptedKernelManager, batch_kernels

    notebooks = select_notebooks(only)
    if not notebooks:
        raise MammoError("no notebook to refresh: none of the selected notebooks exists yet")
    env_run_dir = os.environ.pop("MAMMO_RUN_DIR", None)  # committed outputs go to tables/ and figures/
    try:
        for notebook in tqdm(notebooks, desc="refresh notebooks", unit="notebook", disable=not progress,
                             file=sys.stderr):
            check_inputs(notebook.stem, REPO_ROOT / "tables")
            try:
                with batch_kernels():
                    papermill.execute_notebook(
                        str(notebook), str(notebook), kernel_name=KERNEL_NAME, cwd=str(NOTEBOOK_DIR),
                        progress_bar=False, log_output=False, kernel_manager_class=EncryptedKernelManager,
                    )
            except papermill.PapermillExecutionError as exc:
                raise MammoError(f"{notebook.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue}") from None
            _strip_papermill_metadata(notebook)
    finally:
        if env_run_dir is not None:
            os.environ["MAMMO_RUN_DIR"] = env_run_dir
    return notebooks


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="default", help="profile of profiles.yaml (default: default)")
    parser.add_argument("--only", nargs="+", metavar="NN", help="run only these notebook numbers, e.g. 06 07")
    parser.add_argument("--out", help="run folder to create (must not exist or be empty); default runs/<time>-<profile>")
    parser.add_argument("--cohort", metavar="FILE",
                        help="cohort file (YAML; see mammo verify --cohort) to reproduce on; default: the "
                             "built-in twin")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--refresh-committed", action="store_true",
                        help="instead of a run folder, re-execute the committed notebooks in place (make notebooks)")


def run_command(args: argparse.Namespace) -> int:
    if args.refresh_committed:
        if args.out or args.profile != "default" or args.cohort:
            raise MammoError("--refresh-committed stores the default profile's outputs on the twin; it takes no "
                             "--out, --profile or --cohort")
        for notebook in refresh_committed(args.only, progress=not args.no_progress):
            print(f"refreshed {notebook.relative_to(REPO_ROOT)}")
        return 0
    run_dir = reproduce(args.profile, only=args.only, out=args.out, progress=not args.no_progress,
                        cohort=args.cohort)
    print(f"run folder: {run_dir}")
    return 0
