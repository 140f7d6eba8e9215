"""Classifier speed: masses per second scored (2 views each) and training patches per second, CPU and GPU.

    python benchmarks/bench_classification.py [--threads 1 2] [--masses 618] [--train-steps 5]

Goal (issue #7): scoring the twin's 618 masses x 2 views well under a minute on 2 CPU cores. Uses the
shipped weights when present (speed does not depend on the weights), else a seeded random initialisation.
Patches are centred crops of random context crops, so no cohort is needed.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mammo_lib.models.classification.inference import WEIGHTS_FILE, load_classifier, predict_heads
from mammo_lib.models.classification.network import AUX_HEADS, MassClassifier, multitask_loss
from mammo_lib.models.classification.patches import PatchGeometry
from mammo_lib.paths import weights_dir

GOAL_SECONDS = 60.0  # the twin's 618 masses, both views


def _model(device: str) -> tuple[torch.nn.Module, PatchGeometry, str]:
    path = weights_dir() / WEIGHTS_FILE
    if path.is_file():
        model, card = load_classifier(path, device=device)
        return model, PatchGeometry(**card["geometry"]), "shipped weights"
    torch.manual_seed(0)
    return MassClassifier().to(device).eval(), PatchGeometry(), "random initialisation"


def bench_scoring(device: str, n_masses: int, batch_size: int) -> float:
    """Seconds to score ``n_masses`` masses of 2 views each (patch cutting from context crops included)."""
    model, geometry, source = _model(device)
    crops = np.random.default_rng(0).random((2 * n_masses, geometry.cache_size, geometry.cache_size), np.float32)
    predict_heads(model, crops[:batch_size], geometry, batch_size)  # warm-up
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    predict_heads(model, crops, geometry, batch_size)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(f"  scoring ({source}, {geometry.input_size} px input): {n_masses} masses x 2 views in {seconds:6.2f} s = "
          f"{n_masses / seconds:7.1f} masses/s   goal {GOAL_SECONDS:.0f} s: "
          f"{'meets' if seconds <= GOAL_SECONDS else 'misses'}")
    return seconds


def bench_training(device: str, steps: int, batch_size: int) -> float:
    """Training patches per second (forward, multi-task loss, backward, AdamW step)."""
    _, geometry, _ = _model("cpu")  # the shipped geometry (input size) when weights ship
    torch.manual_seed(0)
    model = MassClassifier().to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    patches = torch.randn(batch_size, 1, geometry.input_size, geometry.input_size, device=device)
    targets = {"malignancy": (torch.arange(batch_size, device=device) % 2).float(),
               **{h: torch.zeros(batch_size, dtype=torch.long, device=device) for h in AUX_HEADS}}
    timings = []
    for _ in range(steps + 1):  # the first step warms up
        start = time.perf_counter()
        loss, _ = multitask_loss(model(patches), targets, pos_weight=3.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        timings.append(time.perf_counter() - start)
    rate = batch_size / float(np.median(timings[1:]))
    print(f"  training ({geometry.input_size} px input, batch {batch_size}): {rate:7.1f} patches/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="CPU thread counts to measure")
    parser.add_argument("--masses", type=int, default=618, help="masses to score (2 views each)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-steps", type=int, default=5)
    args = parser.parse_args()
    for threads in args.threads:
        torch.set_num_threads(threads)
        print(f"CPU, {threads} thread(s):")
        bench_scoring("cpu", args.masses, args.batch_size)
        bench_training("cpu", args.train_steps, 32)
    if torch.cuda.is_available():
        print(f"GPU {torch.cuda.get_device_name(0)}:")
        bench_scoring("cuda", args.masses, 256)
        bench_training("cuda", args.train_steps, 128)
    else:
        print("GPU: none on this machine")


if __name__ == "__main__":
    main()
