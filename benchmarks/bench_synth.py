"""Speed of the synthetic twin generator: images per second, and the time for the whole twin.

Renders a slice of the twin (default 24 patients, ~90 images) into a scratch folder with 1 and 2 worker
processes and prints images/s; the goal is the whole twin (~1,300 images) in under 3 minutes on 2 cores.
Usage: python benchmarks/bench_synth.py [n_patients]
"""
from __future__ import annotations

import sys
import tempfile
import time

from mammo_lib.synth import composition, generate
from mammo_lib.synth.config import twin_config


def main(n_patients: int = 24) -> None:
    cfg = twin_config()
    patients, _ = composition.compose(cfg)
    only = set(patients["patient_id"].iloc[:n_patients])
    n_images = int(sum(2 * len(s) for s in patients["sides"].iloc[:n_patients]))
    total = int(sum(2 * len(s) for s in patients["sides"]))
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as root:
            start = time.perf_counter()
            generate.generate(cfg, root, workers=workers, only=only)
            seconds = time.perf_counter() - start
        rate = n_images / seconds
        print(f"workers={workers}: {n_images} images in {seconds:.1f} s = {rate:.1f} images/s; "
              f"whole twin ({total} images) ~ {total / rate / 60:.1f} min")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 24)
