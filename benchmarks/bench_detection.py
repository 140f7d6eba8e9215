"""Detector speed: exams per second for the four views, and the per-exam pipeline overhead ratio.

    python benchmarks/bench_detection.py [--manifest data_manifest.csv] [--data-root data/twin] [--exams 16]
                                         [--threads 2] [--device cpu|cuda]

* bare forward: the detector's forward pass on preprocessed exams already in memory (batch ``--batch``);
* whole pipeline: per exam, read the four DICOMs, preprocess them (no cache), run the detector, decode the
  candidates and map them back to image pixels (``run_detector``).

The overhead ratio is whole-pipeline time / bare-forward time (goal: at most 1.3). Without a cohort on disk
only the forward pass is measured, on random inputs. Runs on CUDA as well when ``--device cuda``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from mammo_lib.models.detection.data import exam_from_views
from mammo_lib.models.detection.inference import exam_batch, load_detector, run_detector
from mammo_lib.models.detection.network import build_model
from mammo_lib.paths import REPO_ROOT, data_dir, weights_dir
from mammo_lib.vocab import STANDARD_VIEWS

GOAL_RATIO = 1.3


def _model(device: str) -> torch.nn.Module:
    shipped = weights_dir() / "detection.safetensors"
    if shipped.exists():
        return load_detector(str(shipped), map_location=device)[0]
    return build_model().eval().to(device)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def forward_seconds(model: torch.nn.Module, batch: dict[str, torch.Tensor], device: str, repeats: int) -> float:
    """Median seconds of one forward pass over ``batch`` (after one warm-up)."""
    batch = {k: v.to(device) for k, v in batch.items()}
    times = []
    with torch.no_grad():
        for i in range(repeats + 1):
            _sync(device)
            start = time.perf_counter()
            model(batch["images"], batch["nipples"], batch["present"])
            _sync(device)
            if i:
                times.append(time.perf_counter() - start)
    return float(np.median(times))


def pipeline_seconds(model: torch.nn.Module, manifest: Path, data_root: Path, studies: list[str],
                     device: str) -> tuple[dict[str, float], list]:
    """Seconds per stage (read, preprocess uncached, detect + decode) over ``studies``; returns the exams built."""
    from mammo_lib.data.manifest import load_manifest
    from mammo_lib.data.dicomio import read_image
    from mammo_lib.preprocess import preprocess_view

    cohort = load_manifest(manifest, data_root=data_root, check_files=False)
    rows = cohort.images[cohort.images["study_id"].astype(str).isin(studies)]
    exams = []
    stages = {"read": 0.0, "preprocess": 0.0, "detect": 0.0}
    for study, group in rows.groupby(rows["study_id"].astype(str), sort=True):
        views, ids = {}, {}
        for r in group.itertuples(index=False):
            key = (str(r.laterality), str(r.view))
            if key in STANDARD_VIEWS:
                start = time.perf_counter()
                image = read_image(cohort.data_root / r.image_path, laterality=key[0], view=key[1])
                middle = time.perf_counter()
                views[key] = preprocess_view(image)
                stages["read"] += middle - start
                stages["preprocess"] += time.perf_counter() - middle
                ids[key] = str(r.image_id)
        exams.append(exam_from_views(study, views, {}, {}, ids))
        _sync(device)
        start = time.perf_counter()
        run_detector(model, exams[-1:], batch_size=1, device=device)
        _sync(device)
        stages["detect"] += time.perf_counter() - start
    return stages, exams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=REPO_ROOT / "data_manifest.csv",
                        help="cohort manifest (default: the twin's, committed at the repository root)")
    parser.add_argument("--data-root", type=Path, default=data_dir() / "twin", help="folder the image paths start from")
    parser.add_argument("--exams", type=int, default=16)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = _model(args.device)
    device_name = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else f"CPU, {args.threads} threads"
    print(f"device: {device_name}; torch {torch.__version__}")

    if not args.manifest.is_file() or not args.data_root.is_dir():
        size = 448
        batch = {"images": torch.rand(args.batch, 4, 1, size, size), "nipples": torch.full((args.batch, 4, 2), 400.0),
                 "present": torch.ones(args.batch, 4, dtype=torch.bool)}
        fwd = forward_seconds(model, batch, args.device, repeats=5) / args.batch
        print(f"no cohort ({args.manifest} / {args.data_root}): forward only, random inputs")
        print(f"bare forward: {fwd * 1000:.1f} ms/exam = {1 / fwd:.2f} exams/s (4 views, 448 px)")
        return
    import pandas as pd

    manifest = pd.read_csv(args.manifest, dtype=str)
    studies = sorted(manifest["study_id"].unique())[: args.exams]
    stages, exams = pipeline_seconds(model, args.manifest, args.data_root, studies, args.device)
    fwd = np.mean([forward_seconds(model, exam_batch([e]), args.device, repeats=2) for e in exams])
    per_exam = sum(stages.values()) / len(exams)
    ratio = per_exam / fwd
    print(f"exams: {len(exams)} from {args.manifest.name}")
    print(f"bare forward:   {fwd * 1000:8.1f} ms/exam = {1 / fwd:6.2f} exams/s (batch 1, 4 views, 448 px)")
    print(f"whole pipeline: {per_exam * 1000:8.1f} ms/exam = {1 / per_exam:6.2f} exams/s "
          "(read DICOM + preprocess + detect + decode)")
    for name, seconds in stages.items():
        print(f"  {name:<11} {seconds / len(exams) * 1000:8.1f} ms/exam ({seconds / sum(stages.values()):.0%})")
    print(f"overhead ratio: {ratio:.2f} (goal <= {GOAL_RATIO}: {'meets' if ratio <= GOAL_RATIO else 'misses'})")


if __name__ == "__main__":
    main()
