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
    parser.add_argument("--update-readers", action="store_true",
                        help="twin only: rerun the simulated readers on the twin's images and rewrite only the "
                             "reader columns of the committed data_findings.csv (images and other columns kept) "
                             "and the juniors' marks, data_reader_marks.csv")
    parser.add_argument("--reader-mode", choices=("calibrated", "observer"), default=None,
                        help="with --calibrate-readers / --update-readers: calibrated juniors (Table 3's strata) "
                             "or the pure pixel observer (default: config.READER_MODE)")
    parser.add_argument("--phantom", choices=("v1", "v2"), default=None,
                        help="with --out: the phantom to render (default v2, the twin's; v1 is the first round's "
                             "thresholded power-law field, kept for comparison)")
    parser.add_argument("--pitch-mm", default=None,
                        help="with --out, phantom v2: pixel pitch, a number in mm (default 0.2) or 'native' "
                             "(each vendor's detector pitch)")
    parser.add_argument("--out", default=None,
                        help="write the cohort and its tables to this new folder instead of the data folder "
                             "(other phantoms or pitches; never the committed twin)")
    parser.add_argument("--resume", action="store_true",
                        help="with --out: continue an interrupted render of the same cohort (same --which, "
                             "--patients, --seed, --phantom, --pitch-mm) in that folder; its tables list the "
                             "patients finished so far after every chunk, so a partial cohort is usable")
    parser.add_argument("--limit", type=int, default=None,
                        help="with --out: render only the first N patients of the cohort (a prefix of it; "
                             "--resume with a larger N continues it)")
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
    if (args.update_readers or args.calibrate_readers) and args.which != "twin":
        raise MammoError("--update-readers and --calibrate-readers apply to the twin only")
    start = time.perf_counter()
    if (args.resume or args.limit is not None) and args.out is None:
        raise MammoError("--resume and --limit apply to a render into --out DIR; give the folder")
    if args.limit is not None and args.limit < 1:
        raise MammoError(f"--limit must be a positive number of patients, got {args.limit}")
    if args.out is not None:
        return _run_out(args, start)
    if args.phantom is not None or args.pitch_mm is not None:
        raise MammoError("--phantom and --pitch-mm need --out DIR (the twin and the training cohort use the "
                         "configured phantom v2 at 0.2 mm)")
    if args.reader_mode is not None and not (args.calibrate_readers or args.update_readers):
        raise MammoError("--reader-mode applies to --calibrate-readers and --update-readers")
    if args.calibrate_readers:
        from mammo_lib.synth import readers
        from mammo_lib.synth.config import READER_MODE

        files = store.ensure_cohort("twin", workers=args.workers, progress=not args.no_progress)
        params = readers.calibrate(files, mode=args.reader_mode or READER_MODE)
        for name, p in params.items():
            print(f"{name}: {p}")
        return 0
    if args.update_readers:
        from mammo_lib.synth import readers
        from mammo_lib.synth.config import READER_MODE

        files = store.ensure_cohort("twin", workers=args.workers, progress=not args.no_progress)
        findings = readers.update_reader_columns(files, mode=args.reader_mode or READER_MODE,
                                                 progress=not args.no_progress)
        findings.to_csv(files.findings, index=False)
        from mammo_lib.synth import reader_marks

        marks_path = reader_marks.write_reader_marks(files, mode=args.reader_mode or READER_MODE)
        print(f"reader columns of {files.findings} and the readers' marks {marks_path.name} rewritten "
              f"({args.reader_mode or READER_MODE} readers, {time.perf_counter() - start:.0f} s)")
        return 0
    if args.update_committed:
        from mammo_lib.synth import generate, readers
        from mammo_lib.synth.config import twin_config

        files = store.cohort_files("twin")
        manifest, findings, _ = generate.generate(twin_config(), files.root, workers=args.workers,
                                                progress=not args.no_progress)
        manifest.to_csv(files.manifest, index=False)
        findings.to_csv(files.findings, index=False)
        findings = readers.read_cohort(files)
        findings.to_csv(files.findings, index=False)
        store.ensure_cohort("twin", workers=args.workers)
        from mammo_lib.synth import reader_marks

        reader_marks.write_reader_marks(files)
    else:
        files = store.ensure_cohort(args.which, n_patients=args.patients, seed=args.seed, workers=args.workers,
                                    progress=not args.no_progress)
    import pandas as pd

    n = len(pd.read_csv(files.manifest))
    print(f"{args.which} cohort: {n} images under {files.root} ({time.perf_counter() - start:.0f} s); "
          f"manifest {files.manifest}")
    return 0


def _run_out(args: argparse.Namespace, start: float) -> int:
    """``mammo synth --out DIR``: render a cohort (any phantom and pitch) into DIR, its tables beside it."""
    from pathlib import Path

    from mammo_lib.synth import generate
    from mammo_lib.synth.config import train_config, twin_config

    phantom = args.phantom or "v2"
    if args.pitch_mm is not None and phantom != "v2":
        raise MammoError("--pitch-mm applies to --phantom v2 only (v1 uses each vendor's coarse pitch)")
    if args.update_committed or args.calibrate_readers or args.update_readers:
        raise MammoError("--update-committed, --calibrate-readers and --update-readers apply to the committed "
                         "twin, not to --out")
    pitch: float | str | None = args.pitch_mm
    if pitch is not None and pitch != "native":
        try:
            pitch = float(pitch)
        except ValueError:
            raise MammoError(f"--pitch-mm must be a number in mm or 'native', got {args.pitch_mm!r}") from None
    base = twin_config() if args.which == "twin" else train_config(args.patients or 1000, *(
        [args.seed] if args.seed is not None else []))
    cfg = base.with_(phantom=phantom, pitch_mm=pitch)
    out = Path(args.out)
    manifest = generate.render_resumable(cfg, out, workers=args.workers, resume=args.resume, limit=args.limit,
                                         progress=not args.no_progress)
    print(f"{args.which} cohort, phantom {phantom}: {len(manifest)} images under {out} "
          f"({time.perf_counter() - start:.0f} s)")
    return 0
