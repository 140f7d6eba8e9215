"""Speed of the FROC reader analyses against computing the figures of merit alone.

Prints the best-of-N wall time of ``mammo_lib.evaluation.mrmc.or_analysis`` (wAFROC, jackknife covariance, random readers
and cases), ``mrmc.dbm_analysis`` and ``mrmc.ai_vs_readers`` (1T-RRRC) on FROC data beside
``mammo_lib.evaluation.froc.figure_of_merit`` (wAFROC of every modality and reader, no jackknife) on the same
:class:`~mammo_lib.evaluation.froc.FrocData`, and their ratio, all measured in one run: a simulated study of 2 modalities x
10 readers x 10,000 cases (half abnormal, 1-3 lesions each) and RJafroc's dataset04 (5 x 4 x 200) when
``../shared`` is present. The issue's goal: or_analysis within 3x of the figures of merit alone.
Building the FrocData (validation, once per study) is timed on its own line. Each time is the best single call
of ``--repeats`` times as many as fill 0.2 s.
``python benchmarks/bench_froc.py [--repeats 5]``.
"""
from __future__ import annotations

import argparse
import os
import platform
import timeit
from collections.abc import Callable

import numpy as np
import pandas as pd

from mammo_lib import paths
from mammo_lib.evaluation import froc, mrmc


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of single calls: ``repeats`` times as many calls as fill 0.2 s (timeit's autorange), so
    that millisecond calls get hundreds of tries at a quiet moment of a shared machine."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=repeats * number, number=1))


def simulated(n_modalities: int, n_readers: int, n_cases: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """FROC marks and truth: NL marks Poisson(1) per case, each lesion marked with probability 0.7."""
    rng = np.random.default_rng(seed)
    abnormal = np.arange(n_cases) >= n_cases // 2
    n_les = np.where(abnormal, rng.integers(1, 4, n_cases), 0)
    les_case = np.repeat(np.arange(n_cases), n_les)
    les_id = np.concatenate([np.arange(1, n + 1) for n in n_les[abnormal]])
    truth = pd.concat([pd.DataFrame({"case": np.flatnonzero(~abnormal), "lesion": 0, "weight": 0.0}),
                       pd.DataFrame({"case": les_case, "lesion": les_id, "weight": 1.0 / n_les[les_case]})])
    frames = []
    for i in range(n_modalities):
        for j in range(n_readers):
            n_nl = rng.poisson(1.0, n_cases)
            nl_case = np.repeat(np.arange(n_cases), n_nl)
            hit = rng.random(les_case.size) < 0.7
            frames.append(pd.DataFrame({
                "modality": i, "reader": j, "case": np.r_[nl_case, les_case[hit]],
                "kind": ["NL"] * nl_case.size + ["LL"] * int(hit.sum()),
                "lesion": np.r_[np.full(nl_case.size, np.nan), les_id[hit]],
                "rating": np.r_[rng.normal(0, 1, nl_case.size), rng.normal(1 + 0.2 * i, 1, int(hit.sum()))]}))
    return pd.concat(frames, ignore_index=True), truth


def report(name: str, fn: Callable[[], object], floor: Callable[[], object], repeats: int) -> None:
    t_ours, t_fom = best_time(fn, repeats), best_time(floor, repeats)
    print(f"{name:<52} {t_ours:>10.4f} {t_fom:>10.4f} {t_ours / t_fom:>7.2f}")


def run(label: str, marks: pd.DataFrame, truth: pd.DataFrame, ai: object, repeats: int) -> None:
    t_build = best_time(lambda: froc.FrocData(marks, truth), repeats)
    data = froc.FrocData(marks, truth)
    print(f"{label}: {data!r}; FrocData(...) built in {t_build:.4f} s")

    def fom() -> object:
        return froc.figure_of_merit(data, "wAFROC")

    report("  or_analysis (wAFROC, jackknife, RRRC)", lambda: mrmc.or_analysis(data), fom, repeats)
    report("  dbm_analysis (wAFROC)", lambda: mrmc.dbm_analysis(data), fom, repeats)
    one = data.subset(modalities=data.modalities[:1])
    report("  ai_vs_readers (1T-RRRC, first modality)", lambda: mrmc.ai_vs_readers(one, ai=ai),
           lambda: froc.figure_of_merit(one, "wAFROC"), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per analysis (best is kept)")
    parser.add_argument("--seed", type=int, default=20231027)
    parser.add_argument("--cases", type=int, default=10_000, help="cases of the simulated study")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPU(s), "
          f"best of {args.repeats}")
    print(f"{'analysis':<52} {'ours (s)':>10} {'FOM (s)':>10} {'ratio':>7}")
    run(f"simulated 2 x 10 readers x {args.cases:,} cases", *simulated(2, 10, args.cases, args.seed), 0,
        args.repeats)
    shared = paths.shared_dir()
    ref = None if shared is None else shared / "reference" / "froc"
    if ref is None or not (ref / "dataset04_marks.csv").is_file():
        print("dataset04: ../shared/reference/froc absent, skipped")
        return
    run("RJafroc dataset04", pd.read_csv(ref / "dataset04_marks.csv"), pd.read_csv(ref / "dataset04_truth.csv"), 1,
        args.repeats)


if __name__ == "__main__":
    main()
