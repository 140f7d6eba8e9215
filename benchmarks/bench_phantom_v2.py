"""Phantom v2 (issues 15, 29): seconds per view of today's code against a baseline commit, and the bytes.

    python benchmarks/bench_phantom_v2.py [--patients N] [--workers W] [--baseline COMMIT] [--repeats R]
    python benchmarks/bench_phantom_v2.py --sizes [--patients N] [--workers W]

Renders the first N twin patients of every vendor x ACR density group (of data_manifest.csv) at the twin's
0.2 mm pitch with the code of ``--baseline`` (``git archive`` of its mammo_lib into a temporary folder) and
with the working tree's code, each in its own process (PYTHONPATH on that code), alternating, ``--repeats``
times; prints seconds per view of each (the best of the repeats; wall clock with W processes, and CPU time of
the process and its workers, which a loaded machine disturbs less), their ratios, the load average,
and whether every view's file sha256 is the same for both and the same as committed.

``--sizes`` instead prints seconds and megabytes per view (DICOM RLE Lossless + masks) at 0.2 mm and at each
vendor's native detector pitch (0.085 / 0.1 / 0.07 mm), extrapolated to the twin's views.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "7d6608d"  # the phantom v2 of issue 29's report, before its speed-up

#: Run in a fresh interpreter with PYTHONPATH on one version of the code: render, time, list the checksums.
_RENDER = """
import json, resource, sys, tempfile, time
from pathlib import Path
from mammo_lib.synth import likeness

def cpu():
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))

pids, workers = sys.argv[1].split(","), int(sys.argv[2])
with tempfile.TemporaryDirectory(prefix="bench-phantom-") as tmp:
    start, start_cpu = time.perf_counter(), cpu()
    manifest = likeness.render_sample(Path(tmp), pids, "v2", workers=workers)
    seconds, cpu_seconds = time.perf_counter() - start, cpu() - start_cpu
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds,
                  "sha256": dict(zip(manifest["image_id"], manifest["sha256"]))}))
"""


def baseline_tree(commit: str, into: Path) -> Path:
    """``commit``'s mammo_lib extracted under ``into`` (git archive); the folder to put on PYTHONPATH."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "mammo_lib"], check=True,
                             capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def render_with(code_root: Path, pids: list[str], workers: int) -> dict:
    """Render ``pids`` with the code under ``code_root`` in a fresh process: seconds and sha256 per view."""
    env = dict(os.environ, PYTHONPATH=str(code_root))
    out = subprocess.run([sys.executable, "-c", _RENDER, ",".join(pids), str(workers)], check=True, env=env,
                         capture_output=True, text=True, cwd=code_root)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(pids: list[str], workers: int, commit: str, repeats: int, committed: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        old_root = baseline_tree(commit, Path(tmp))
        runs: dict[str, list[dict]] = {"baseline": [], "new": []}
        load = [os.getloadavg()[0]]
        for _ in range(repeats):
            runs["baseline"].append(render_with(old_root, pids, workers))
            runs["new"].append(render_with(ROOT, pids, workers))
            load.append(os.getloadavg()[0])
    views = len(runs["new"][0]["sha256"])
    best = {k: min(r["seconds"] for r in v) / views for k, v in runs.items()}
    cpu = {k: min(r["cpu_seconds"] for r in v) / views for k, v in runs.items()}
    old_sha, new_sha = runs["baseline"][0]["sha256"], runs["new"][0]["sha256"]
    want = dict(zip(committed["image_id"], committed["sha256"]))
    same = sum(new_sha[i] == old_sha.get(i) for i in new_sha)
    as_committed = sum(new_sha[i] == want.get(i) for i in new_sha)
    print(f"{len(pids)} patients ({', '.join(pids)}), {views} views at 0.2 mm; {workers} worker(s); "
          f"best of {repeats}; 1-min load average {min(load):.2f}-{max(load):.2f} on {os.cpu_count()} CPUs")
    print(pd.DataFrame([{"code": f"baseline {commit}", "s_per_view": round(best["baseline"], 3),
                         "cpu_s_per_view": round(cpu["baseline"], 3)},
                        {"code": "working tree", "s_per_view": round(best["new"], 3),
                         "cpu_s_per_view": round(cpu["new"], 3)}]).to_string(index=False))
    print(f"speed-up {best['baseline'] / best['new']:.2f}x wall clock, {cpu['baseline'] / cpu['new']:.2f}x CPU time "
          f"(the measure that a loaded machine disturbs least); sha256 equal to the baseline's {same}/{views}, "
          f"to the committed {as_committed}/{views}")


def sizes(pids: list[str], workers: int, n_views: int) -> None:
    from mammo_lib.synth import likeness

    rows = []
    for pitch in (None, "native"):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            out = likeness.render_sample(Path(tmp), pids, "v2", workers=workers, pitch_mm=pitch)
            seconds = time.perf_counter() - start
            size = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file())
            rows.append({"pitch": "0.2 mm" if pitch is None else "native", "views": len(out),
                         "s_per_view": round(seconds / len(out), 2), "MB_per_view": round(size / len(out) / 1e6, 2),
                         "twin_GB": round(size / len(out) * n_views / 1e9, 2)})
    print(f"{n_views} twin views; {workers} worker(s); patients {', '.join(pids)}")
    print(pd.DataFrame(rows).to_string(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=1, help="patients per vendor x density (default 1)")
    parser.add_argument("--workers", type=int, default=1, help="processes (default 1)")
    parser.add_argument("--baseline", default=BASELINE, help=f"commit to compare with (default {BASELINE})")
    parser.add_argument("--repeats", type=int, default=1, help="alternating runs of each (default 1)")
    parser.add_argument("--max-patients", type=int, default=0, help="at most this many of them (0: all)")
    parser.add_argument("--sizes", action="store_true", help="seconds and MB per view at 0.2 mm and native pitch")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from mammo_lib.synth import store

    committed = pd.read_csv(store.cohort_files("twin").manifest)
    first = committed.drop_duplicates("patient_id")
    pids = [p for _, g in first.groupby(["vendor", "breast_density"]) for p in g["patient_id"].head(args.patients)]
    pids = pids[: args.max_patients] if args.max_patients > 0 else pids
    if args.sizes:
        sizes(pids, args.workers, len(committed))
    else:
        compare(pids, args.workers, args.baseline, args.repeats, committed)


if __name__ == "__main__":
    main()
