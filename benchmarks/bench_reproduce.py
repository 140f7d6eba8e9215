"""Wall time of each notebook and of the whole reproduction (goal: default profile <= 10 min on 2 CPU cores).

    python benchmarks/bench_reproduce.py [--profile default] [--run-json runs/<run>/run.json]

Without --run-json it runs `mammo reproduce` into a fresh temporary run folder and reports that run.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from mammo_lib.run import pipeline

GOAL_SECONDS = 600.0


def report(record: dict, wall: float | None = None) -> None:
    print(f"profile: {record['profile']}   device: cpu_count={record['device'].get('cpu_count')} "
          f"cuda={record['device'].get('cuda')}   status: {record['status']}")
    total = 0.0
    for entry in record["notebooks"]:
        seconds = float(entry.get("seconds", 0.0))
        total += seconds
        print(f"  {entry['notebook']:<32s} {seconds:8.1f} s  {entry.get('status', '?')}")
    print(f"  {'sum of notebooks':<32s} {total:8.1f} s")
    if wall is not None:
        print(f"  {'whole reproduction (wall)':<32s} {wall:8.1f} s")
    measured = wall if wall is not None else total
    verdict = "meets" if measured <= GOAL_SECONDS else "misses"
    print(f"goal {GOAL_SECONDS:.0f} s: {verdict} ({measured / GOAL_SECONDS:.2f} of the budget)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="default")
    parser.add_argument("--run-json", type=Path, help="report an existing run instead of running one")
    args = parser.parse_args()
    if args.run_json:
        report(json.loads(args.run_json.read_text()))
        return
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        run_dir = pipeline.reproduce(args.profile, out=str(Path(tmp) / "run"), progress=False)
        wall = time.perf_counter() - started
        report(json.loads((run_dir / "run.json").read_text()), wall)


if __name__ == "__main__":
    main()
