"""Phantom v2 (issue 15): generation time per view and the twin's size on disk at 0.2 mm and at native pitch.

    python benchmarks/bench_phantom_v2.py [--patients N] [--workers W]

Renders the first N twin patients of each vendor with phantom v2 at the default 0.2 mm and at each vendor's
native detector pitch (0.085 / 0.1 / 0.07 mm) into temporary folders, and prints seconds per view (wall clock,
W processes) and megabytes per view (DICOM RLE Lossless + masks), extrapolated to the twin's views.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1, help="patients per vendor (default 1)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    args = parser.parse_args()
    from mammo_lib.synth import likeness, store
    from mammo_lib.synth.config import VENDORS

    manifest = pd.read_csv(store.cohort_files("twin").manifest)
    first = manifest.drop_duplicates("patient_id")
    pids = [p for v in VENDORS for p in first[first["vendor"] == v.name]["patient_id"].head(args.patients)]
    rows = []
    for pitch in (None, "native"):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            out = likeness.render_sample(Path(tmp), pids, "v2", workers=args.workers, pitch_mm=pitch)
            seconds = time.perf_counter() - start
            size = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
            rows.append({"pitch": "0.2 mm" if pitch is None else "native", "views": len(out),
                         "s_per_view": round(seconds / len(out), 2), "MB_per_view": round(size / len(out) / 1e6, 2),
                         "twin_GB": round(size / len(out) * len(manifest) / 1e9, 2)})
    print(f"{len(manifest)} twin views; {args.workers} worker(s); patients {', '.join(pids)}")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
