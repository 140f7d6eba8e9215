"""The detector's training task (``mammo train detection``): exams of a cohort folder, split into training and
validation studies, loss over all branches, validation recall at 1 false positive per image."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from mammo_lib.errors import MammoError
from mammo_lib.models.augment import DomainRandomisation
from mammo_lib.models.detection.data import ExamDataset, build_exam_cache
from mammo_lib.models.detection.inference import card_config, validation_summary, view_level_recall
from mammo_lib.models.detection.network import ARCHITECTURE, DetectionConfig, build_model, decode_outputs, detection_loss


class DetectionTask:
    """The TrainTask of the detector (see :mod:`mammo_lib.training.loop`): loss over all branches, validation
    recall at 1 false positive per image of the IFN output (per mass and view, centre-hit criterion)."""

    architecture = ARCHITECTURE
    metric_name = "val_recall_1fpi"

    def __init__(self, train_exams: list, val_exams: list, *, config: DetectionConfig | None = None,
                 data_description: str = "", drop_view_p: float = 0.15, seed: int = 0,
                 augment: DomainRandomisation | None = None) -> None:
        self.config = config or DetectionConfig()
        self.augment = augment
        self.train_exams, self.val_exams = train_exams, val_exams
        self.data_description = data_description
        self.drop_view_p, self.seed = drop_view_p, seed
        #: study_ids by role (train/val) the task was built from: what the model card and the exam list record
        self.studies: dict[str, list[str]] = {}
        #: the starting weights' network when fine-tuning converts it (see :meth:`start_from`), else None
        self.init_config: DetectionConfig | None = None

    def build_model(self) -> torch.nn.Module:
        return build_model(self.config)

    def start_from(self, card: dict[str, Any] | None, options: dict[str, str]) -> None:
        """Fine-tuning: the network takes the shape of the starting weights (their card's ``model_config``), so
        that a wider shipped detector fine-tunes as itself. A ``width`` or ``input_reduce`` option that asks for
        another shape is refused, except ``input_reduce=unshuffle`` from weights with an average-pooled input:
        those become the equivalent space-to-depth network (:func:`mammo_lib.models.backbone.space_to_depth_state`,
        when :meth:`load_init` loads them). Starting weights without a card keep the options' network (their
        loading then refuses a shape that does not fit)."""
        import dataclasses

        inherited = card_config(card, "the --init weights")
        if inherited is None:
            return
        asked = {k: options[k] for k in ("width", "input_reduce") if k in options}
        wanted = inherited
        bb = inherited.backbone
        if asked.get("input_reduce") == "unshuffle" and bb.input_reduce == "avg" and bb.input_pool > 1:
            wanted = dataclasses.replace(inherited, backbone=dataclasses.replace(bb, input_reduce="unshuffle"))
        other = "input_reduce" in asked and asked["input_reduce"] != wanted.backbone.input_reduce
        if "width" in asked:
            other |= network_config({"width": asked["width"], "input_reduce": wanted.backbone.input_reduce}) != wanted
        if other:
            raise MammoError(f"--option {', '.join(f'{k}={v}' for k, v in asked.items())} asks for another network "
                             "than the --init weights' (fine-tuning keeps their shape, or turns an average-pooled "
                             "input into space-to-depth with input_reduce=unshuffle; drop the option or train from "
                             "scratch)")
        self.config = wanted
        self.init_config = inherited if wanted != inherited else None

    def load_init(self, model: torch.nn.Module, path: str) -> None:
        """Load the starting weights of a fine-tuning run into ``model``; weights of an average-pooled input go
        through the function-preserving space-to-depth conversion that :meth:`start_from` chose."""
        from mammo_lib.models.backbone import space_to_depth_state
        from mammo_lib.models.weights import load_weights

        if self.init_config is None:
            load_weights(model, path, architecture=self.architecture)
            return
        source = load_weights(build_model(self.init_config), path, architecture=self.architecture)
        state = space_to_depth_state(source.state_dict(), model.state_dict(), self.init_config.backbone.input_pool)
        model.load_state_dict(state)

    def datasets(self) -> tuple[ExamDataset, ExamDataset | None]:
        val = ExamDataset(self.val_exams) if self.val_exams else None
        return ExamDataset(self.train_exams, train=True, drop_view_p=self.drop_view_p, seed=self.seed,
                           augment=self.augment), val

    def loss(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return detection_loss(model(batch["images"], batch["nipples"], batch["present"]), batch)

    def validation_step(self, model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> Any:
        out = model(batch["images"], batch["nipples"], batch["present"])
        return view_level_recall(decode_outputs(out, "ifn"), batch["gt_boxes"].cpu().numpy())

    def validation_metric(self, outputs: list[Any]) -> float:
        from mammo_lib.evaluation.detection import froc_from_scores

        lesion = np.concatenate([o[0] for o in outputs])
        fps = np.concatenate([o[1] for o in outputs])
        n = sum(o[2] for o in outputs)
        if lesion.size == 0 or n == 0:
            return float("nan")
        return froc_from_scores(lesion, fps, n).recall_at(1.0)


    def card_extra(self, model: torch.nn.Module) -> dict[str, Any]:
        """Model-card fields: the network's configuration (what :func:`load_detector` rebuilds) and the
        training augmentation."""
        extra = {"model_config": self.config.to_dict(),
                 "augmentation": self.augment.to_dict() if self.augment is not None else "gain 0.85-1.15, offset +-0.05"}
        if self.init_config is not None:
            extra["init_conversion"] = ("starting weights with an average-pooled input, converted to the equivalent "
                                        "space-to-depth network (stem kernel spread over the sub-pixel channels)")
        return extra

    def card_metrics(self, model: torch.nn.Module) -> dict[str, float]:
        """Model-card metrics: per-mass validation recall at 0.25-2 FPI and the 1-FPI operating threshold."""
        return validation_summary(model, self.val_exams) if self.val_exams else {}


def network_config(options: dict[str, str]) -> DetectionConfig:
    """The detector's configuration from ``--option width=...`` and ``--option input_reduce=...``."""
    import dataclasses

    base = DetectionConfig()
    try:
        width = float(options.get("width", 1))
    except ValueError:
        raise MammoError(f"option width must be a number, got {options['width']!r}") from None
    if not (math.isfinite(width) and 0.25 <= width <= 4):
        raise MammoError(f"option width must be in [0.25, 4], got {width!r}")
    reduce = options.get("input_reduce", base.backbone.input_reduce)
    if reduce not in ("avg", "unshuffle"):
        raise MammoError(f"option input_reduce must be 'avg' or 'unshuffle', got {reduce!r}")
    bb = base.backbone
    channels = None if bb.channels is None else tuple(max(8, int(round(c * width))) for c in bb.channels)
    stem = None if bb.stem_width is None else max(8, int(round(bb.stem_width * width)))
    backbone = dataclasses.replace(bb, channels=channels, stem_width=stem,
                                   neck_channels=max(8, int(round(bb.neck_channels * width))), input_reduce=reduce)
    return dataclasses.replace(base, backbone=backbone)


def augmentation(value: str) -> DomainRandomisation | None:
    """``--option augment=``: ``basic`` (None: the dataset's mild gain and offset) or a domain-randomisation
    strength in (0, 2]."""
    if value == "basic":
        return None
    try:
        strength = float(value)
    except ValueError:
        raise MammoError(f"option augment must be 'basic' or a strength in (0, 2], got {value!r}") from None
    if not (math.isfinite(strength) and 0 < strength <= 2):
        raise MammoError(f"option augment must be 'basic' or a strength in (0, 2], got {value!r}")
    return DomainRandomisation(strength=strength)


def split_studies(studies: list[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Seeded split of study ids into train and validation (at least one validation study)."""
    if not 0 < val_fraction < 1:
        raise MammoError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    order = np.random.default_rng(seed).permutation(len(studies))
    n_val = max(1, int(math.floor(len(studies) * val_fraction)))
    val = sorted(studies[i] for i in order[:n_val])
    return sorted(set(studies) - set(val)), val


def make_task(data: Any, *, seed: int, smoke: bool, options: dict[str, str],
              progress: bool = True) -> tuple[DetectionTask, dict[str, Any]]:
    """Build the detection task from a cohort: a :class:`mammo_lib.data.cohort.CohortSpec` or a cohort folder
    (``data_manifest.csv`` + ``data_findings.csv``, default splits).

    Training exams are those of the cohort's train role, validation exams those of its val role
    (:func:`mammo_lib.data.cohort.training_exams`: an exam of the test role is never used); without val exams, a
    seeded ``val_fraction`` of the training exams validates. Options: ``val_fraction`` (0.1), ``max_exams``
    (training exams, all; smoke: 8; validation exams are capped at a quarter of it, at least 1),
    ``drop_view_p`` (0.15); the network: ``width`` (multiplier of the backbone's and neck's channels, 1),
    ``input_reduce`` (``avg`` or ``unshuffle``, see :class:`mammo_lib.models.backbone.BackboneConfig`); training
    augmentation: ``augment`` (``basic``: gain and offset; or a domain-randomisation strength in (0, 2], see
    :mod:`mammo_lib.models.augment`).
    """
    from mammo_lib.data.cohort import exam_roles, training_cohort, training_exams

    known = {"val_fraction", "max_exams", "drop_view_p", "width", "input_reduce", "augment"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise MammoError(f"unknown detection option(s) {unknown}; known: {sorted(known)}")
    spec = training_cohort(data)
    cohort = spec.load()
    if cohort.findings is None:
        raise MammoError(f"cohort {spec.name!r} has no findings table: the detector has no masses to learn")
    images = cohort.images
    train, val = training_exams(images, spec), training_exams(images, spec, role="val")
    if not train:
        raise MammoError(f"cohort {spec.name!r} has no exam in its train role (splits {list(spec.splits['train'])})")
    max_exams = int(options.get("max_exams", 8 if smoke else 0))
    if max_exams:
        train, val = train[:max_exams], val[:max(1, max_exams // 4)]
    if not val:
        train, val = split_studies(train, float(options.get("val_fraction", 0.1)), seed)
    paths = build_exam_cache(cohort, studies=train + val, progress=progress)
    lookup = dict(zip(train + val, paths))
    n_masses = int(cohort.findings["mass_id"].nunique())
    n_test = int((exam_roles(images, spec) == "test").sum())
    description = (f"{spec.name}: {len(train)} training + {len(val)} validation exams of "
                   f"{images['study_id'].nunique()} ({n_masses} masses; {n_test} exams of the test role never "
                   f"used), manifest sha256 {spec.fingerprint()[:12]}")
    task = DetectionTask([lookup[s] for s in train], [lookup[s] for s in val], data_description=description,
                         drop_view_p=float(options.get("drop_view_p", 0.15)), seed=seed,
                         config=network_config(options), augment=augmentation(options.get("augment", "basic")))
    task.studies = {"train": list(train), "val": list(val)}
    defaults = {"epochs": 1 if smoke else 12, "batch_size": 2 if smoke else 4, "lr": 2e-3, "warmup_steps": 20,
                "max_steps_per_epoch": 3 if smoke else None, "threads": 2}
    return task, defaults


__all__ = ["DetectionTask", "augmentation", "make_task", "network_config", "split_studies"]
