"""Speed of the paired DeLong test against scikit-learn's ``roc_auc_score`` (the floor: one sort).

Prints, for 10^3 to 10^6 cases, the best-of-N wall time of ``mammo_lib.evaluation.stats.delong_test`` (two scores: AUCs,
covariance, Z, P) and of ``sklearn.metrics.roc_auc_score`` on one of the same scores, and their ratio.
The issue's goal: delong_test within 3x of roc_auc_score at 10^6 cases. Run alone for stable figures:
``python benchmarks/bench_delong.py [--repeats 5]``.
"""
from __future__ import annotations

import argparse
import os
import platform
import timeit
from collections.abc import Callable

import numpy as np
from sklearn.metrics import roc_auc_score

from mammo_lib.evaluation.stats import delong_test


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls, after one warm-up call (timeit, one call per repeat)."""
    fn()
    return min(timeit.repeat(fn, repeat=repeats, number=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per size (best is kept)")
    parser.add_argument("--seed", type=int, default=20231027)
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPU(s), "
          f"best of {args.repeats}")
    print(f"{'cases':>9} {'delong_test (s)':>16} {'roc_auc_score (s)':>18} {'ratio':>7}")
    rng = np.random.default_rng(args.seed)
    for n in (10**3, 10**4, 10**5, 10**6):
        y = rng.random(n) < 0.3
        a = rng.normal(0.8 * y, 1.0)
        b = rng.normal(0.5 * y, 1.0)
        t_delong = best_time(lambda: delong_test(y, a, b), args.repeats)
        t_sklearn = best_time(lambda: roc_auc_score(y, a), args.repeats)
        print(f"{n:>9} {t_delong:>16.5f} {t_sklearn:>18.5f} {t_delong / t_sklearn:>7.2f}")


if __name__ == "__main__":
    main()
