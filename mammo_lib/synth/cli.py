"""``mammo synth``: generate (or verify) the synthetic twin cohort, a training cohort, and the simulated readers."""
from __future__ import annotations

import argparse
import time

from mammo_lib.errors import MammoError


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Options of ``mammo synth``."""
    parser.add_argument("--which", choices=("twin", "train"), default="twin",
                        help="twin: the study's 324 patients (checked against the committed checksums); "
                             "train: a training cohort (default: twin)")
    parser.add_argument("--patients", type=int, default=None, help="training cohort size (default 1000)")
    parser.add_argument("--seed", type=int, default=None, help="training cohort seed (default config.TRAIN_SEED)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--update-committed", action="store_true",
                        help="twin only: regenerate everything, run the simulated readers and rewrite the "
                             "committed data_manifest.csv and data_findings.csv")
    parser.add_argument("--calibrate-readers", action="store_true",
                        help="fit the simulated readers' parameters on the twin and print them (for config.py)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run_command(args: argparse.Namespace) -> int:
    """Run ``mammo synth``; returns the exit code."""
    from mammo_lib.synth import store

    if args.workers < 1:
        raise MammoError(f"--workers must be >= 1, got {args.workers}")
    if args.patients is not None and args.patients < 1:
        raise MammoError(f"--patients must be a positive number, got {args.patients}")
    if args.which == "twin" and (args.patients is not None or args.seed is not None):
        raise MammoError("--patients and --seed choose a training cohort; the twin is fixed (use --which train)")
    if args.update_committed and args.which != "twin":
        raise MammoError("--update-committed applies to the twin only")
    start = time.perf_counter()
    if args.calibrate_readers:
        from mammo_lib.synth import readers

        files = store.ensure_cohort("twin", workers=args.workers, progress=not args.no_progress)
        params = readers.calibrate(files)
        for name, p in params.items():
            print(f"{name}: {p}")
        return 0
    if args.update_committed:
        from mammo_lib.synth import cohort, readers
        from mammo_lib.synth.config import twin_config

        files = store.cohort_files("twin")
        manifest, findings, _ = cohort.generate(twin_config(), files.root, workers=args.workers,
                                                progress=not args.no_progress)
        manifest.to_csv(files.manifest, index=False)
        findings.to_csv(files.findings, index=False)
        findings = readers.read_cohort(files)
        findings.to_csv(files.findings, index=False)
        store.ensure_cohort("twin", workers=args.workers)
    else:
        files = store.ensure_cohort(args.which, n_patients=args.patients, seed=args.seed, workers=args.workers,
                                    progress=not args.no_progress)
    import pandas as pd

    n = len(pd.read_csv(files.manifest))
    print(f"{args.which} cohort: {n} images under {files.root} ({time.perf_counter() - start:.0f} s); "
          f"manifest {files.manifest}")
    return 0
