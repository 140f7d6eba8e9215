"""Training a cohort's models: ``mammo train {detection,classification}`` and the training step of
``mammo reproduce`` for a cohort whose file says ``weights: train``.

Both go through :func:`train_model`: the model's task is built on a cohort (its train role fits, its val role
validates, its test role is never read; :func:`mammo_lib.data.cohort.training_exams`), :func:`mammo_lib.training.loop.fit`
trains it, and the weights are exported with their model card. :func:`train_for_run` does this for both models
into a run folder's ``weights/`` (each model's card records its exams by role; ``<model>_exams.csv`` lists
them), with the profile's size: smoke-sized for ``--profile smoke``, the shipped recipe otherwise.

Model selection inside a reproduction is fixed here, before any training: the epoch with the highest
validation metric (``selection="best"``: detection recall at 1 FPI of the val-role exams, classification AUC of
the val-role masses), and the classifier's threshold from the val-role masses (Youden J).
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from mammo_lib.errors import MammoError
from mammo_lib.models.registry import TASKS, task_factory
from mammo_lib.models.weights import export_weights, read_card
from mammo_lib.paths import data_dir, runs_dir, weights_dir
from mammo_lib.training.loop import SELECTIONS, FitResult, TrainConfig, _validate, fit, model_card

#: The model-selection rule of training inside a reproduction (fixed before training; written in each card).
RUN_SELECTION = "best"


def _parse_options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise MammoError(f"--option expects KEY=VALUE, got {pair!r}")
        options[key.strip()] = value.strip()
    return options


def train_model(model: str, data: Any, *, out_dir: str | Path, seed: int = 20231027, smoke: bool = False,
                options: dict[str, str] | None = None, overrides: dict[str, Any] | None = None,
                export: str | Path = "", command: str = "", progress: bool = True) -> tuple[FitResult, Any, dict | None]:
    """Build ``model``'s task on ``data`` (a cohort spec, cohort file or cohort folder), fit it into ``out_dir``
    and, given ``export``, write the weights with their model card there. Returns (result, task, card or None).

    ``overrides`` are :class:`TrainConfig` fields (epochs, lr, init_weights, selection...). The card records the
    exams by role the task was built from (``exams``: counts and the cohort's fingerprint).
    """
    make_task = task_factory(model)
    task, defaults = make_task(data, seed=seed, smoke=smoke, options=dict(options or {}))
    init = str((overrides or {}).get("init_weights") or "")
    if init and hasattr(task, "start_from"):  # a detector fine-tunes with the starting weights' network
        task.start_from(read_card(init), dict(options or {}))
    config = TrainConfig(**{**dict(defaults), "out_dir": str(out_dir), "seed": seed, "progress": progress,
                            **{k: v for k, v in (overrides or {}).items() if v is not None}})
    result = fit(task, config)
    if not export or int(os.environ.get("RANK", "0")) != 0:
        return result, task, None
    card = model_card(result, task=task, config=config, command=command or f"mammo train {model}")
    studies = getattr(task, "studies", {})
    if studies:
        card["exams"] = {role: len(ids) for role, ids in studies.items()}
    card = export_weights(result.model, export, architecture=task.architecture, card=card)
    return result, task, card


def train_for_run(spec: Any, run_dir: str | Path, *, smoke: bool, seed: int = 20231027,
                  progress: bool = False) -> list[dict[str, Any]]:
    """The training step of ``mammo reproduce`` for a cohort with ``weights: train``: both models on the cohort's
    train role (val role: selection and threshold; test role: never), from scratch or fine-tuning the shipped
    weights (the cohort's ``init``), into ``run_dir/weights/<model>.safetensors`` with model card and exam list.

    The classifier is trained only when every mass of the train and val roles has a pathology (else it is
    recorded as skipped, with the reason: notebook 05 is skipped for such cohorts). Returns one record per model
    for ``run.json``.
    """
    import pandas as pd

    from mammo_lib.checksums import sha256_file
    from mammo_lib.data.cohort import MODELS, TRAINED_WEIGHTS_DIR, exam_roles

    run_dir = Path(run_dir)
    out = run_dir / TRAINED_WEIGHTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    data = spec.load(check_files=False)
    roles = exam_roles(data.images, spec)
    records = []
    for model in MODELS:
        if model == "classification" and _pathology_missing(data, roles):
            records.append({"model": model, "status": "skipped", "reason": "a mass of the train or val role has no "
                            "pathology: the classifier cannot be trained (notebook 05 is skipped too)"})
            continue
        target = out / f"{model}.safetensors"
        overrides = {"init_weights": init_weights_file(model, spec.init), "selection": RUN_SELECTION,
                     "resume": False}
        result, task, card = train_model(model, spec, out_dir=run_dir / "training" / model, seed=seed, smoke=smoke,
                                         overrides=overrides, export=target, progress=progress,
                                         command=f"mammo reproduce --cohort {Path(str(spec.source)).name} "
                                                 f"(training step{', smoke' if smoke else ''})")
        exams = pd.DataFrame([(s, role) for role, ids in task.studies.items() for s in ids], columns=["study_id", "role"])
        leaked = sorted(set(exams["study_id"]) & set(roles.index[roles == "test"]))
        if leaked:  # the split guard refuses test exams already; this is the last line of defence
            raise MammoError(f"training of {model} used exam {leaked[0]!r} of the test role of cohort {spec.name!r}")
        exams.to_csv(out / f"{model}_exams.csv", index=False)
        records.append({"model": model, "status": "ok", "seconds": round(result.wall_time_s, 1),
                        "weights_sha256": sha256_file(target), "exams": card.get("exams", {}),
                        "init": card["init"]["from"], "selected_epoch": card["selected_epoch"],
                        "epochs": len(result.history), task.metric_name: result.final_metric})
    return records


def training_summary(spec: Any, data: Any, run_dir: str | Path = "") -> Any:
    """One row per model: where the weights a cohort's notebooks use come from (shipped, a folder, trained in
    this run), their sha256, start, selected epoch, the exams that trained and validated them, and how many of
    those are exams of this cohort's test role (0, or the weights must not be used: checked, not assumed)."""
    import pandas as pd

    from mammo_lib.checksums import sha256_file
    from mammo_lib.data.cohort import MODELS, exam_roles, weights_file

    roles = exam_roles(data.images, spec)
    test = set(roles.index[roles == "test"])
    rows = []
    for model in MODELS:
        try:
            path = weights_file(spec, model, run_dir=run_dir)
        except MammoError as exc:  # weights: train and this model was not trained (e.g. no pathology)
            rows.append({"model": model, "weights": "none", "note": str(exc).split(": ", 2)[-1]})
            continue
        card = read_card(path)
        exams_csv = path.with_name(f"{model}_exams.csv")
        row = {"model": model, "weights": spec.weights_label(), "sha256": sha256_file(path)[:12],
               "start": card.get("init", {}).get("from", "scratch"),
               "selected_epoch": card.get("selected_epoch", card.get("epochs"))}
        if spec.weights == "train" and exams_csv.is_file():
            exams = pd.read_csv(exams_csv, dtype=str)
            row |= {"train_exams": int((exams["role"] == "train").sum()), "val_exams": int((exams["role"] == "val").sum()),
                    "test_role_exams_used": len(set(exams["study_id"]) & test)}
        else:
            row |= {"note": f"trained on another cohort ({str(card.get('data', '')).split(':')[0]})"}
        rows.append(row)
    return pd.DataFrame(rows)


def _pathology_missing(data: Any, roles: Any) -> bool:
    """Whether a mass of the train or val role has no pathology (or the cohort has no findings at all)."""
    if data.findings is None:
        return True
    study_of = data.images.drop_duplicates("image_id").set_index("image_id")["study_id"].astype(str)
    findings = data.findings[data.findings["image_id"].isin(study_of.index)]
    used = study_of.loc[findings["image_id"]].map(roles).isin(["train", "val"]).to_numpy()
    return bool(findings["pathology"][used].isna().any()) or not used.any()


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mammo train``."""
    parser.add_argument("model", choices=sorted(TASKS), help="which model to train")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--data", default="", help="training cohort folder (default: <data>/train)")
    data.add_argument("--cohort", default="", metavar="FILE",
                      help="cohort file (YAML, see mammo verify --cohort): trains on its train role, validates on "
                           "its val role, never touches its test role")
    parser.add_argument("--init", default="", metavar="WEIGHTS",
                        help="fine-tune from these weights: 'shipped' or a .safetensors file (default: from scratch)")
    parser.add_argument("--selection", choices=SELECTIONS, default="last",
                        help="which epoch's weights to keep: the last, or the best validation metric's")
    parser.add_argument("--out", default="", help="run folder for checkpoints (default: runs/train-<model>)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default: the task's)")
    parser.add_argument("--batch-size", type=int, default=None, help="images/exams per step and process")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (AdamW, cosine decay)")
    parser.add_argument("--seed", type=int, default=20231027, help="master seed")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    parser.add_argument("--no-resume", action="store_true", help="start over even if a checkpoint exists")
    parser.add_argument("--max-steps", type=int, default=None, help="cap on steps per epoch")
    parser.add_argument("--smoke", action="store_true", help="tiny configuration, a few steps (installation check)")
    parser.add_argument("--export", default="", help="write fp16 safetensors + model card here; 'ship' = "
                        "mammo_lib/weights/<model>.safetensors")
    parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="task-specific option (repeatable), see the model module")
    parser.add_argument("--validate", default="", metavar="WEIGHTS",
                        help="train nothing: print the validation metric of these weights ('shipped' or a "
                             ".safetensors file) on the validation exams this command would select by")


def validate_weights(model: str, data: Any, weights: str | Path, *, seed: int = 20231027,
                     options: dict[str, str] | None = None) -> float:
    """The validation metric of ``weights`` on the validation exams a training run on ``data`` with this seed
    would select by (the task's own validation step and metric): how a new model is compared with the shipped
    one on the same exams. A classifier's patches are cut at the geometry of its own card."""
    import torch
    from torch.utils.data import DataLoader

    path = Path(weights)
    if not path.is_file():
        raise MammoError(f"--validate {weights}: weights file does not exist")
    opts = dict(options or {})
    if model == "classification":
        from mammo_lib.models.classification.inference import load_classifier

        net, card = load_classifier(path)
        opts.setdefault("patch_size", str(card["geometry"]["patch_size"]))
    else:
        from mammo_lib.models.detection.inference import load_detector

        net, _ = load_detector(path)
    task, _ = task_factory(model)(data, seed=seed, smoke=False, options=opts)
    _, val = task.datasets()
    if val is None or len(val) == 0:
        raise MammoError(f"--validate: cohort {data} has no validation exams")
    config = TrainConfig(out_dir="", device="cpu", amp=False)
    return _validate(task, net, DataLoader(val, batch_size=8, shuffle=False), torch.device("cpu"), config)


def init_weights_file(model: str, init: str) -> str:
    """The starting weights of a fine-tuning run: "" (scratch), ``shipped`` (the shipped file) or a file."""
    if not init or init == "scratch":
        return ""
    path = weights_dir() / f"{model}.safetensors" if init == "shipped" else Path(init)
    if not path.is_file():
        raise MammoError(f"--init {init}: weights file {path} does not exist")
    return str(path)


def run_command(args: argparse.Namespace) -> int:
    """``mammo train MODEL``: build the model's task, fit it, optionally export weights + model card."""
    data = args.cohort or (Path(args.data) if args.data else data_dir() / "train")
    if args.validate:
        weights = weights_dir() / f"{args.model}.safetensors" if args.validate == "shipped" else args.validate
        metric = validate_weights(args.model, data, weights, seed=args.seed, options=_parse_options(args.option))
        print(f"{args.model} {weights}: validation metric {metric:.4f} ({data}, seed {args.seed})")
        return 0
    out = Path(args.out) if args.out else runs_dir() / f"train-{args.model}{'-smoke' if args.smoke else ''}"
    overrides = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                 "max_steps_per_epoch": args.max_steps, "threads": args.threads, "device": args.device,
                 "num_workers": args.workers, "amp": not args.no_amp, "resume": not args.no_resume,
                 "init_weights": init_weights_file(args.model, args.init), "selection": args.selection}
    target = "" if not args.export else weights_dir() / f"{args.model}.safetensors" if args.export == "ship" \
        else Path(args.export)
    command = "mammo train " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index(args.model):]) \
        if args.model in sys.argv else f"mammo train {args.model}"
    result, task, card = train_model(args.model, data, out_dir=out, seed=args.seed, smoke=args.smoke,
                                     options=_parse_options(args.option), overrides=overrides, export=target,
                                     command=command)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    print(f"trained {task.architecture}: {len(result.history)} epochs, {result.wall_time_s:.0f} s, "
          f"{task.metric_name} {result.final_metric:.4f}; checkpoint {result.checkpoint}")
    if card is not None:
        print(f"weights: {target} ({card['size_bytes'] / 1e6:.1f} MB, sha256 {card['sha256'][:12]}...)")
    return 0
