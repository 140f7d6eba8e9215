"""Speed of the MRMC analyses against computing the readers' AUCs with scikit-learn alone.

Prints the best-of-N wall time of ``mammo_lib.evaluation.mrmc.or_analysis`` (2 modalities, DeLong covariance) and
``mammo_lib.evaluation.mrmc.ai_vs_readers`` (1T-RRRC, DeLong covariance) on a simulated study of 10 readers x 10,000 cases
(200,000 rows of a long table) and on the twin's classification ratings (junior A, junior B, DL system), each
beside ``roc_auc_score`` per (modality, reader) group of the same long table, and their ratio. The issue's goal:
the whole analysis within 3x of the scikit-learn AUCs. ``python benchmarks/bench_mrmc.py [--repeats 5]``.
"""
from __future__ import annotations

import argparse
import os
import platform
import timeit
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from mammo_lib import paths
from mammo_lib.evaluation import mrmc
from mammo_lib.paper import reader_study, tables


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls, after one warm-up call (timeit, one call per repeat)."""
    fn()
    return min(timeit.repeat(fn, repeat=repeats, number=1))


def sklearn_aucs(data: pd.DataFrame) -> list[float]:
    """The floor: one roc_auc_score per (modality, reader) of the long table."""
    return [roc_auc_score(g["truth"], g["rating"]) for _, g in data.groupby(["modality", "reader"], sort=False)]


def simulated(n_readers: int, n_cases: int, n_modalities: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    truth = (rng.random(n_cases) < 0.3).astype(int)
    case_effect = rng.normal(0, 1, n_cases)
    frames = []
    for i in range(n_modalities):
        for j in range(n_readers):
            rating = truth * (1.0 + 0.2 * i) + case_effect + rng.normal(0, 1, n_cases)
            frames.append(pd.DataFrame({"modality": i, "reader": j, "case": np.arange(n_cases), "truth": truth,
                                        "rating": rating}))
    return pd.concat(frames, ignore_index=True)


def twin_ratings() -> pd.DataFrame | None:
    """The twin's classification ratings as a long table (one modality; junior A, junior B, DL), or None."""
    masses = tables.load_masses(paths.REPO_ROOT / "data_manifest.csv")
    if masses is None:
        return None
    masses = tables.attach_dl(masses, tables.load_dl_outputs(paths.REPO_ROOT / "tables"))
    return reader_study.reader_study_table(masses, ("junior_a", "junior_b", tables.DL))


def report(name: str, fn: Callable[[], object], data: pd.DataFrame, repeats: int) -> None:
    t_ours = best_time(fn, repeats)
    t_sklearn = best_time(lambda: sklearn_aucs(data), repeats)
    print(f"{name:<44} {t_ours:>10.4f} {t_sklearn:>12.4f} {t_ours / t_sklearn:>7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per analysis (best is kept)")
    parser.add_argument("--seed", type=int, default=20231027)
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPU(s), "
          f"best of {args.repeats}")
    print(f"{'analysis':<44} {'ours (s)':>10} {'sklearn (s)':>12} {'ratio':>7}")
    two = simulated(10, 10_000, 2, args.seed)
    report("or_analysis, 2 x 10 readers x 10,000 cases", lambda: mrmc.or_analysis(two, covariance="delong"),
           two, args.repeats)
    one = simulated(11, 10_000, 1, args.seed)
    report("1T-RRRC, AI + 10 readers x 10,000 cases",
           lambda: mrmc.ai_vs_readers(one, ai=0, method="1T-RRRC", covariance="delong"), one, args.repeats)
    twin = twin_ratings()
    if twin is None:
        print("twin: no data_manifest.csv, skipped")
        return
    report(f"1T-RRRC, twin ({twin['case'].nunique()} masses, DL vs 2 juniors)",
           lambda: mrmc.ai_vs_readers(twin, ai=tables.DL, method="1T-RRRC", covariance="delong"), twin, args.repeats)
    clustered = twin
    report("1T-RRRC, twin, clustered by patient",
           lambda: mrmc.ai_vs_readers(clustered, ai=tables.DL, method="1T-RRRC", covariance="clustered"), twin,
           args.repeats)


if __name__ == "__main__":
    main()
