"""``mammo analyze INPUT... [--out DIR]``: the paper's system on exams, with per-exam JSON, CSV, overlay and DICOM SR.

INPUT is a study folder (its images), 1-4 image files of one exam, or a manifest (``data_manifest.csv`` columns;
every study, with a progress bar). Each exam is written to ``OUT/<exam>/``: ``result.json`` (views, missing views
and what they switched off, IFN candidates, detected masses with scores and descriptors), ``masses.csv``,
``overlay.png`` (paper Figures 4-6: red boxes, score, BI-RADS) and ``report.dcm`` (Comprehensive SR, TID 1500;
DICOM inputs only). Exams run in worker processes (``--workers``), in batches of ``--batch-size`` exams whose forward
passes are batched (default 1 on CPU; ``--device cuda`` batches several, the same code); under ``torchrun`` each rank
takes every WORLD_SIZE-th exam. An output folder remembers its configuration (``analyze.json``): rerunning the same command
skips the exams already written; another configuration in the same folder is refused, so nothing is overwritten.

Intended use: research software, not for clinical decisions. Every output says what its models are and what they
are for, read from the weights' model cards (:mod:`mammo_lib.models.provenance`): ``result.json``'s ``models``
block (names, weights sha256, training data stage by stage, validation metrics, the intended-use statement), the
overlay's last line and PNG text, the SR (algorithm identification, an *Intended use* and a *Training data* text
item per model) and the summary printed at the end. With weights whose cards show synthetic training cohorts only
(the shipped ones), each output says that they were trained on synthetic mammograms only and that their accuracy
on real mammograms is unknown.

This module stays light (``mammo analyze --help`` imports no torch); the pipeline is :mod:`mammo_lib.system.exam`.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mammo_lib.errors import MammoError
from mammo_lib.paths import runs_dir

CONFIG_FILE = "analyze.json"
RESULT_FILE = "result.json"
ERRORS_FILE = "errors.csv"
IMAGE_SUFFIXES = (".dcm", ".dicom", ".png", ".tif", ".tiff", "")
#: Laterality and view in a PNG/TIFF file name ("LCC.png", "case_R_MLO.png", "left-cc.tif").
_NAME_RE = re.compile(r"(?<![A-Za-z0-9])(L|R|LEFT|RIGHT)[\s_\-]*(CC|MLO)(?![A-Za-z0-9])", re.IGNORECASE)


# --- inputs -> exams -------------------------------------------------------------------------------------------
def _view_spec(path: Path, laterality: str | None = None, view: str | None = None, image_id: str = "") -> Any:
    from mammo_lib.system.exam import ViewSpec

    if laterality is None and path.suffix.lower() in (".png", ".tif", ".tiff"):
        match = _NAME_RE.search(path.stem)
        if match is None:
            raise MammoError(f"{path.name}: a {path.suffix} file has no header; name it like LCC{path.suffix} or "
                             f"RMLO{path.suffix}, or list it in a manifest with laterality and view")
        laterality, view = match.group(1).upper()[0], match.group(2).upper()
    return ViewSpec(str(path), laterality, view, image_id)


def _folder_images(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise MammoError(f"{folder}: no image files (DICOM, PNG, TIFF) in this study folder")
    return files


def exams_from_inputs(inputs: Sequence[str]) -> list[Any]:
    """The exams named on the command line: a study folder, 1-4 files of one exam, or manifests (every study)."""
    from mammo_lib.checksums import sha256_bytes
    from mammo_lib.system.exam import ExamSpec

    paths = [Path(p) for p in inputs]
    for p in paths:
        if not p.exists():
            raise MammoError(f"input {p} does not exist")
    if all(p.suffix.lower() == ".csv" for p in paths):
        from mammo_lib.data.manifest import load_manifest
        from mammo_lib.vocab import STANDARD_VIEWS

        exams = []
        for manifest in paths:
            cohort = load_manifest(manifest, check_files=False)
            images = cohort.images
            for study, rows in images.groupby(images["study_id"].astype(str), sort=True):
                views = tuple(_view_spec(cohort.data_root / r.image_path, str(r.laterality), str(r.view), str(r.image_id))
                              for r in rows.itertuples(index=False) if (str(r.laterality), str(r.view)) in STANDARD_VIEWS)
                if views:
                    exams.append(ExamSpec(study, views))
        return exams
    if len(paths) == 1 and paths[0].is_dir():
        files = _folder_images(paths[0])
        refuse_mixed_patients(str(paths[0]), files, names=True, show_keys=True)
        return [ExamSpec(paths[0].resolve().name, tuple(_view_spec(f) for f in files))]
    if any(p.is_dir() for p in paths):
        raise MammoError("give one study folder, 1-4 image files of one exam, or manifest CSVs (not a mixture)")
    if len(paths) > 4:
        raise MammoError(f"{len(paths)} image files: an exam has at most 4 views; use a manifest for several exams")
    refuse_mixed_patients("the files given", paths, names=True, show_keys=True)
    key = sha256_bytes("\n".join(sorted(str(p.resolve()) for p in paths)).encode())[:12]
    return [ExamSpec(f"exam-{key}", tuple(_view_spec(p) for p in paths))]


# --- one exam, one patient -------------------------------------------------------------------------------------
#: DICOM attributes that must agree on every image of an exam (PS3.3 C.7.1.1 Patient, C.7.2.1 General Study).
EXAM_KEYS = ("PatientID", "StudyInstanceUID", "StudyDate")
NAME_KEY = "patient key in the file name"


def patient_keys(path: Path, *, names: bool) -> dict[str, str]:
    """What ties an image to its patient and study: the DICOM header's :data:`EXAM_KEYS` (empty ones left out; a
    PatientID that embeds the view, as CBIS-DDSM's "Mass-Test_P_00173_RIGHT_CC", without it), or for a PNG/TIFF
    (no header) with ``names``, the part of its file name before the view ("P001" of "P001_LCC.png"; nothing for
    "LCC.png"). An unreadable header gives no key: the exam fails on that file when it is read."""
    if path.suffix.lower() in (".png", ".tif", ".tiff"):
        match = _NAME_RE.search(path.stem) if names else None
        prefix = path.stem[: match.start()].strip(" _-.") if match else ""
        return {NAME_KEY: prefix} if prefix else {}
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(EXAM_KEYS))
    except Exception:  # noqa: BLE001 - not DICOM or corrupt: reported with its file when the exam is read
        return {}
    keys = {key: str(ds.get(key, "") or "").strip() for key in EXAM_KEYS}
    if keys["PatientID"]:
        keys["PatientID"] = _NAME_RE.sub("", keys["PatientID"]).strip(" _-.") or keys["PatientID"]
    return {key: value for key, value in keys.items() if value}


def mixed_patients(files: Sequence[Path], *, names: bool, show_keys: bool) -> str:
    """Why ``files`` are not one exam: the first key of :func:`patient_keys` on which two of them disagree, naming
    the two files (and, with ``show_keys``, the two values: for the screen only, never for an output file); ""
    if they agree. StudyInstanceUID counts unless every image has its own (CBIS-DDSM gives each view its own
    study); StudyDate still tells two visits apart then."""
    keys = {Path(f): patient_keys(Path(f), names=names) for f in files}
    for key in ("PatientID", NAME_KEY, "StudyInstanceUID", "StudyDate"):
        seen: dict[str, Path] = {}
        for file, found in keys.items():
            if key in found:
                seen.setdefault(found[key], file)
        if key == "StudyInstanceUID" and len(seen) == len(keys):
            continue
        if len(seen) > 1:
            (a, file_a), (b, file_b) = list(seen.items())[:2]
            values = f" ({a!r} and {b!r})" if show_keys else ""
            what = "two patients" if key in ("PatientID", NAME_KEY) else "two studies"
            return (f"images of {what}: {file_a.name} and {file_b.name} differ in {key}{values}; an exam is one "
                    "patient's study, so give each its own folder or list them in a manifest")
    return ""


def refuse_mixed_patients(where: str, files: Sequence[Path], *, names: bool, show_keys: bool) -> None:
    """Refuse, in one line naming ``where`` (a folder, a manifest's study), images of two patients or two studies
    offered as one exam: merging them would file one patient's findings under another's report."""
    reason = mixed_patients(files, names=names, show_keys=show_keys)
    if reason:
        raise MammoError(f"{where}: {reason}")


# --- the output folder -----------------------------------------------------------------------------------------
def run_config(args: argparse.Namespace, sources: dict[str, str]) -> dict[str, Any]:
    """What decides the outputs: weights (with their sha256), thresholds, SR options, software version."""
    from mammo_lib import __version__

    return {"mammo_companion": __version__, "weights": sources, "detection_threshold": args.detection_threshold,
            "sr": not args.no_sr, "deidentify_sr": bool(args.deidentify_sr)}


def prepare_out(out: Path, config: dict[str, Any]) -> None:
    """Create ``out`` with its configuration, or check that an existing one was made with the same one.

    The configuration is written beside ``out`` and moved in whole, so that ``torchrun`` ranks starting together
    each find ``out`` empty or holding the configuration, never another rank's half-written file."""
    stored = out / CONFIG_FILE
    if stored.is_file():
        earlier = json.loads(stored.read_text())
        if earlier != config:
            diff = sorted(k for k in set(earlier) | set(config) if earlier.get(k) != config.get(k))
            raise MammoError(f"{out} holds an earlier run with another configuration ({', '.join(diff)} differ); "
                             "choose a new --out")
        return
    if out.exists() and any(out.iterdir()):
        raise MammoError(f"{out} is not empty and holds no {CONFIG_FILE}: choose a new or empty --out")
    out.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{CONFIG_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    tmp.replace(stored)


def _safe_name(exam_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", exam_id) or "exam"


def write_exam(out: Path, result: dict[str, Any], pixels: dict[str, Any], spec: Any, *, sr: bool,
               deidentify: bool) -> Path:
    """Write one exam's JSON, CSV, overlay and SR into ``out/<exam>/`` (the JSON last: it marks the exam done)."""
    from mammo_lib.system.exam import mass_rows, overlay_image, overlay_metadata

    folder = out / _safe_name(result["exam"])
    folder.mkdir(parents=True, exist_ok=True)
    mass_rows(result).to_csv(folder / "masses.csv", index=False)
    overlay_image(result, pixels).save(folder / "overlay.png", compress_level=1,  # zlib level 6: 0.5 s
                                       pnginfo=overlay_metadata(result))
    result = dict(result)
    result["sr"] = None
    if sr:
        sources = {v["view"]: p for v in result["views"]
                   for p in [next(s.path for s in spec.views if Path(s.path).name == v["file"])]
                   if not p.lower().endswith((".png", ".tif", ".tiff"))}
        if sources:
            from mammo_lib.system.sr import write_report

            write_report(result, sources, folder / "report.dcm", deidentify=deidentify)
            result["sr"] = "report.dcm"
        else:
            result["notes"] = [*result["notes"], "no DICOM SR: the images are not DICOM"]
    tmp = folder / f"{RESULT_FILE}.tmp"
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(folder / RESULT_FILE)
    return folder


def provenance_summary(detector: str, classifier: str) -> str:
    """The CLI's closing line: the intended use and the weights as the models' cards give them
    (:func:`mammo_lib.models.provenance.notice`), and where the rest is."""
    from mammo_lib.models.provenance import models_block, notice

    return f"{notice(models_block(detector, classifier))} (result.json's models block: training data, validation)"


# --- device and batches -----------------------------------------------------------------------------------------
#: Exams per worker batch when --batch-size is not given: one on CPU (a batch saves nothing there), several on a GPU.
DEFAULT_BATCH = {"cpu": 1, "cuda": 8}


def check_device(device: str, local_rank: str | None = None) -> str:
    """The torch device to run on, checked: ``cpu``, or a CUDA device that exists (``cuda`` under torchrun is
    ``cuda:LOCAL_RANK``); anything else is refused in one line naming ``--device``."""
    if device == "cpu":
        return device
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise MammoError(f"--device {device!r} is not a torch device ({exc})") from None
    if dev.type == "cpu":
        return "cpu"
    if dev.type != "cuda":
        raise MammoError(f"--device {device!r}: mammo analyze runs on cpu or cuda")
    if not torch.cuda.is_available():
        raise MammoError(f"--device {device}: no CUDA device is available here (torch.cuda.is_available() is False); "
                         "use --device cpu")
    index = dev.index if dev.index is not None else int(local_rank) if local_rank else None
    if index is not None and index >= torch.cuda.device_count():
        raise MammoError(f"--device {device}: GPU {index} does not exist ({torch.cuda.device_count()} visible)")
    return "cuda" if index is None else f"cuda:{index}"


def batch_size(requested: int | None, device: str) -> int:
    """``--batch-size`` checked (at least 1), or :data:`DEFAULT_BATCH` of the device's kind."""
    if requested is None:
        return DEFAULT_BATCH["cpu" if device == "cpu" else "cuda"]
    if requested < 1:
        raise MammoError(f"--batch-size {requested}: give at least 1 exam per batch")
    return int(requested)


# --- workers ---------------------------------------------------------------------------------------------------
_STATE: dict[str, Any] = {}


def _init_worker(options: dict[str, Any]) -> None:
    import warnings

    import torch

    from mammo_lib.system.exam import load_models

    warnings.simplefilter("ignore")  # preprocessing warnings are kept in result.json, not printed per worker
    torch.set_num_threads(options["threads"])
    if options["sr"]:
        import mammo_lib.system.sr  # noqa: F401  (highdicom's import is start-up, not the first exam's time)
    _STATE["models"] = load_models(options["detector"], options["classifier"], device=options["device"],
                                   detection_threshold=options["detection_threshold"])
    _STATE["options"] = options


def _run_one(spec: Any) -> dict[str, Any]:
    """Analyse and write one exam in a worker; a bad input becomes an error record naming its file."""
    return _run_batch([spec])[0]


def _error_record(spec: Any, exc: Exception) -> dict[str, Any]:
    if isinstance(exc, MammoError):
        return {"exam": spec.exam_id, "status": "error", "error": str(exc)}
    files = ", ".join(Path(v.path).name for v in spec.views)
    return {"exam": spec.exam_id, "status": "error", "error": f"{type(exc).__name__}: {exc} (files: {files})"}


def _run_batch(specs: Sequence[Any]) -> list[dict[str, Any]]:
    """Analyse and write a batch of exams in a worker, their forward passes batched
    (:func:`mammo_lib.system.exam.analyze_exams`); one record per exam, a bad input an error record naming its
    file. Each record's seconds and CPU seconds are the batch's shared equally among its exams."""
    from mammo_lib.system.exam import analyze_exams

    options = _STATE["options"]
    start, cpu = time.perf_counter(), time.process_time()
    records: list[dict[str, Any] | None] = [None] * len(specs)
    todo = []
    for i, spec in enumerate(specs):
        try:
            # a manifest's study: its headers must agree too; the error goes to errors.csv, so it names no value
            refuse_mixed_patients(f"exam {spec.exam_id}", [Path(v.path) for v in spec.views], names=False,
                                  show_keys=False)
            todo.append(i)
        except Exception as exc:  # noqa: BLE001 - one exam's failure must not stop the batch
            records[i] = _error_record(spec, exc)
    try:
        analysed = analyze_exams(_STATE["models"], [specs[i] for i in todo])
    except Exception as exc:  # noqa: BLE001 - an unexpected failure of the batch: each exam says so
        analysed = [exc] * len(todo)
    for i, outcome in zip(todo, analysed):
        spec = specs[i]
        if isinstance(outcome, Exception):
            records[i] = _error_record(spec, outcome)
            continue
        result, pixels = outcome
        try:
            write_exam(Path(options["out"]), result, pixels, spec, sr=options["sr"], deidentify=options["deidentify"])
        except Exception as exc:  # noqa: BLE001 - one exam's unexpected failure must not stop the batch
            records[i] = _error_record(spec, exc)
            continue
        records[i] = {"exam": spec.exam_id, "status": "done", "masses": len(result["masses"]), "worker": os.getpid()}
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    for record in records:
        if record is not None and record["status"] == "done":
            record.update(seconds=seconds / len(specs), cpu_seconds=cpu_seconds / len(specs))
    return [r for r in records if r is not None]


def analyze_batch(specs: Sequence[Any], options: dict[str, Any], workers: int, progress: bool = True
                  ) -> Iterator[dict[str, Any]]:
    """Run exams (in ``workers`` processes when more than one) and yield one status record per exam."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(specs), desc="exams", unit="exam", disable=not progress or len(specs) < 2)
    size = max(1, int(options.get("batch_size") or 1))
    batches = [list(specs[i:i + size]) for i in range(0, len(specs), size)]
    if workers <= 1 or len(batches) <= 1:
        _init_worker(options)
        outcomes: Iterator[list[dict[str, Any]]] = map(_run_batch, batches)
        pool = None
    else:
        import multiprocessing as mp

        # fork: the parent has run no torch op yet, so no thread pool is inherited; each worker loads the models.
        # On a GPU the workers are spawned: a forked child cannot use CUDA once the parent has touched it.
        # The workers start ignoring SIGINT: Ctrl-C reaches the whole process group, and only the parent acts.
        import signal

        method = "fork" if str(options.get("device", "cpu")) == "cpu" else "spawn"
        handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            pool = mp.get_context(method).Pool(workers, initializer=_init_pool_worker, initargs=(options,))
        finally:
            signal.signal(signal.SIGINT, handler)
        outcomes = pool.imap_unordered(_run_batch, batches, chunksize=1)
    finished = False
    try:
        for record in (r for outcome in outcomes for r in outcome):
            bar.update()
            yield record
        finished = True
    finally:
        bar.close()
        if pool is not None:
            _stop_pool(pool, finished)


def _init_pool_worker(options: dict[str, Any]) -> None:
    """A pool worker leaves SIGINT (Ctrl-C, sent to the whole process group) to the parent, which stops the
    workers itself (:func:`_stop_pool`); then it loads the models (:func:`_init_worker`)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker(options)


def _stop_pool(pool: Any, finished: bool) -> None:
    """Wait for the workers when every exam is done; after an interrupt (or an error) terminate them at once: an
    exam in flight leaves no ``result.json`` (written last), so a rerun analyses it again and finished ones stay."""
    if finished:
        pool.close()
    else:
        pool.terminate()
    pool.join()


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("Research software, not for clinical decisions. Every output states the models' weights "
                     "(sha256), their training data as the model cards give it and the intended use: result.json's "
                     "models block, the overlay's last line, the SR and the summary printed at the end.")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="a study folder, 1-4 DICOM/PNG files of one exam, or manifest CSV(s)")
    parser.add_argument("--out", type=Path, help="output folder (default: a new runs/analyze-<UTC time>/); "
                        "rerunning into it skips exams already written")
    parser.add_argument("--workers", type=int, default=0, help="worker processes (default: CPU cores, at most the exams)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker (default 1)")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N (under torchrun, cuda "
                        "means each rank's LOCAL_RANK GPU)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help=f"exams whose forward passes a worker batches (default {DEFAULT_BATCH['cpu']} on CPU, "
                             f"{DEFAULT_BATCH['cuda']} on a GPU); results equal the unbatched ones up to float rounding")
    parser.add_argument("--detector", help="detector weights (default: the shipped ones)")
    parser.add_argument("--classifier", help="classifier weights (default: the shipped ones)")
    parser.add_argument("--detection-threshold", type=float,
                        help="IFN probability a candidate needs to be a detected mass (default: the detector card's "
                             "1-FPI operating point)")
    parser.add_argument("--no-sr", action="store_true", help="do not write the DICOM SR")
    parser.add_argument("--deidentify-sr", action="store_true",
                        help="write the SR's patient name, ID, birth date and sex empty")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_command(args: argparse.Namespace) -> int:
    device = check_device(args.device, os.environ.get("LOCAL_RANK"))
    size = batch_size(args.batch_size, device)
    specs = exams_from_inputs(args.inputs)
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    mine = specs[rank::world]
    from mammo_lib.checksums import sha256_file
    from mammo_lib.paths import weights_dir
    from mammo_lib.models.weights import read_card

    det = args.detector or str(weights_dir() / "detection.safetensors")
    cls = args.classifier or str(weights_dir() / "classification.safetensors")
    for path in (det, cls):
        if not Path(path).is_file():
            raise MammoError(f"weights file {path} does not exist")
    if args.detection_threshold is None:
        args.detection_threshold = ((read_card(det) or {}).get("metrics") or {}).get("operating_threshold_1_fpi")
    sources = {"detector": Path(det).name, "detector_sha256": (read_card(det) or {}).get("sha256") or sha256_file(det),
               "classifier": Path(cls).name, "classifier_sha256": (read_card(cls) or {}).get("sha256") or sha256_file(cls)}
    out = args.out or runs_dir() / f"analyze-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    config = run_config(args, sources)
    prepare_out(out, config)
    todo = [s for s in mine if not (out / _safe_name(s.exam_id) / RESULT_FILE).is_file()]
    skipped = len(mine) - len(todo)
    workers = args.workers or min(os.cpu_count() or 1, max(1, -(-len(todo) // size)))
    options = {"out": str(out), "detector": det, "classifier": cls, "device": device, "threads": args.threads,
               "detection_threshold": args.detection_threshold, "sr": not args.no_sr,
               "deidentify": bool(args.deidentify_sr), "batch_size": size}
    errors: list[dict[str, Any]] = []
    done = 0
    batch = analyze_batch(todo, options, workers, progress=not args.quiet)
    try:
        for record in batch:
            if record["status"] == "error":
                errors.append(record)
                print(f"mammo analyze: {record['exam']}: {record['error']}", file=sys.stderr)
            else:
                done += 1
    except KeyboardInterrupt:
        batch.close()  # terminates the workers
        _write_errors(out, errors, rank, world)
        print(f"mammo analyze: interrupted: {done} exam(s) analysed now and {skipped} before are complete in {out}; "
              "rerun the same command to analyse the rest", file=sys.stderr)
        return 130
    _write_errors(out, errors, rank, world)
    print(f"mammo analyze: {done} exam(s) analysed, {skipped} already done, {len(errors)} failed -> {out}")
    print(f"mammo analyze: {provenance_summary(det, cls)}")
    return 1 if errors else 0


def _write_errors(out: Path, errors: list[dict[str, Any]], rank: int, world: int) -> None:
    """The failed exams of this run (rank) with their one-line errors, when there are any."""
    if errors:
        import pandas as pd

        pd.DataFrame(errors)[["exam", "error"]].to_csv(out / (ERRORS_FILE if world == 1 else f"errors-rank{rank}.csv"),
                                                       index=False)
