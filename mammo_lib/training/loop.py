"""One training loop for both models (``mammo train`` and a reproduction's training step: :mod:`mammo_lib.training.on_cohort`).

``fit(task, config)`` trains whatever a :class:`TrainTask` supplies (model, datasets, loss, validation
metric) with the same machinery for both models: seeds (python, numpy, torch, DataLoader workers),
a checkpoint per epoch with exact resume, a tqdm bar showing loss and the validation metric, CPU or CUDA
with ``torch.autocast`` mixed precision on CUDA, and DistributedDataParallel when launched by ``torchrun``
(``RANK``/``WORLD_SIZE`` in the environment; gloo on CPU, nccl on GPU; only rank 0 writes).

Trained weights ship as fp16 safetensors with a JSON model card (:func:`mammo_lib.models.weights.export_weights`,
whose :func:`~mammo_lib.models.weights.load_weights` refuses a corrupt or foreign file with a clear MammoError).

A task is any object with these members (see :class:`TrainTask`)::

    architecture: str                      # recorded in the weights; load_weights checks it
    metric_name: str                       # e.g. "val_recall", shown on the progress bar
    data_description: str                  # one line for the model card (cohort, seed, size)
    build_model() -> nn.Module
    datasets() -> (train_dataset, val_dataset or None)
    loss(model, batch) -> scalar tensor    # batch already on the device
    validation_step(model, batch) -> Any   # batch already on the device, under no_grad/eval
    validation_metric(outputs: list) -> float
    collate_fn (optional attribute)        # DataLoader collate function, default torch's
    card_metrics(model) -> dict (optional) # extra metrics for the model card, computed after training
    card_extra(model) -> dict (optional)   # model-card fields the model's users need (threshold...)
    load_init(model, path) (optional)      # load fine-tuning's starting weights (default: load_weights as they are)
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import math
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from mammo_lib.errors import MammoError
from mammo_lib.models.weights import load_weights, unwrap

if TYPE_CHECKING:  # torch is imported inside the functions: `import mammo_lib.training.loop` stays cheap
    import torch
    from torch import nn
    from torch.utils.data import Dataset

CHECKPOINT_NAME = "last.pt"
#: The weights of the best validation epoch (``selection="best"``), kept beside the last checkpoint.
BEST_NAME = "best.pt"
#: Model-selection rules: the last epoch of the fixed schedule, or the epoch with the highest validation metric
#: (the earliest of equal ones; epochs without a finite metric never count).
SELECTIONS = ("last", "best")


class TrainTask(Protocol):
    """What :func:`fit` needs from a model: see the module docstring."""

    architecture: str
    metric_name: str
    data_description: str

    def build_model(self) -> nn.Module: ...
    def datasets(self) -> tuple[Dataset, Dataset | None]: ...
    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor: ...
    def validation_step(self, model: nn.Module, batch: Any) -> Any: ...
    def validation_metric(self, outputs: list[Any]) -> float: ...


@dataclass
class TrainConfig:
    """Hyper-parameters and machinery switches of one training run (all JSON-safe)."""

    out_dir: str                      # checkpoints (last.pt, epoch_NNN.pt) and history.json go here
    epochs: int = 10
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 0             # linear warm-up, then cosine decay to 0 over all steps
    grad_clip: float | None = 1.0     # max gradient norm, None = no clipping
    seed: int = 20231027
    num_workers: int = 0
    device: str = "auto"              # "auto" (cuda if available), "cpu", "cuda", "cuda:1"
    amp: bool = True                  # autocast mixed precision, used on CUDA only
    amp_dtype: str = "float16"        # or "bfloat16" (no gradient scaling then)
    resume: bool = True               # continue from out_dir/last.pt when it exists
    max_steps_per_epoch: int | None = None  # cap (smoke runs); None = the whole training set
    keep_epoch_checkpoints: bool = False    # also keep epoch_NNN.pt besides last.pt
    progress: bool = True             # tqdm bar (rank 0 only)
    threads: int | None = None        # torch.set_num_threads on CPU; None = leave as is
    init_weights: str = ""            # fine-tune: start from these weights (.safetensors + card); "" = from scratch
    selection: str = "last"           # model selection: "last" epoch, or the "best" validation-metric epoch

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise MammoError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise MammoError(f"TrainConfig.lr must be a positive finite number, got {self.lr!r}")
        if self.amp_dtype not in ("float16", "bfloat16"):
            raise MammoError(f"TrainConfig.amp_dtype must be 'float16' or 'bfloat16', got {self.amp_dtype!r}")
        if self.selection not in SELECTIONS:
            raise MammoError(f"TrainConfig.selection must be one of {', '.join(SELECTIONS)}, got {self.selection!r}")
        if self.max_steps_per_epoch is not None and self.max_steps_per_epoch < 1:
            raise MammoError(f"TrainConfig.max_steps_per_epoch must be >= 1 or None, got {self.max_steps_per_epoch!r}")


@dataclass
class FitResult:
    """What :func:`fit` returns: the trained (unwrapped) model and the per-epoch history."""

    model: nn.Module
    history: list[dict[str, float]]
    wall_time_s: float
    checkpoint: Path
    hardware: str
    world_size: int = 1
    resumed_from_epoch: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def final_metric(self) -> float:
        """Validation metric after the last epoch (nan when the task has no validation set)."""
        return float(self.history[-1].get("val_metric", float("nan"))) if self.history else float("nan")


# --- seeds and devices -------------------------------------------------------------------------

def seed_everything(seed: int) -> None:
    """Seed python's random, numpy's legacy global state and torch (CPU and every CUDA device)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _worker_init(worker_id: int) -> None:
    """DataLoader worker seeding: derive numpy/python seeds from torch's per-worker seed."""
    import torch

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def resolve_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` -> the local rank's CUDA device when available, else CPU; anything else is checked."""
    import torch

    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise MammoError(f"device {name!r} is not a torch device ({exc})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MammoError(f"device {name!r} asked for, but CUDA is not available on this machine")
    return device


def hardware_description(device: torch.device, world_size: int = 1) -> str:
    """One line naming the processor/GPU, core count and number of processes, for the model card."""
    import torch

    if device.type == "cuda":
        what = f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    else:
        what = f"CPU {platform.machine()} {platform.processor() or ''}".strip()
        what += f", {torch.get_num_threads()} torch threads of {os.cpu_count()} cores"
    return f"{what}; {world_size} process(es); torch {torch.__version__}"


def move_to_device(batch: Any, device: torch.device) -> Any:
    """Recursively move tensors of a batch (tensor, dict, list, tuple, dataclass) to ``device``."""
    import torch

    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [move_to_device(v, device) for v in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    if dataclasses.is_dataclass(batch) and not isinstance(batch, type):
        return dataclasses.replace(batch, **{f.name: move_to_device(getattr(batch, f.name), device)
                                            for f in dataclasses.fields(batch) if f.init})
    return batch


@dataclass(frozen=True)
class _Dist:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _init_distributed(device_name: str) -> tuple[_Dist, torch.device]:
    """Join the torchrun process group when WORLD_SIZE > 1 (nccl on CUDA, gloo on CPU)."""
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return _Dist(), resolve_device(device_name)
    info = _Dist(int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")), world)
    device = resolve_device(device_name, info.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return info, device


# --- checkpoints ------------------------------------------------------------------------------

def save_checkpoint(path: Path, *, model: nn.Module, optimizer: Any, scheduler: Any, scaler: Any,
                    epoch: int, history: list[dict[str, float]], config: TrainConfig, architecture: str) -> None:
    """Write a resumable checkpoint atomically (temp file + rename), so a kill never leaves half a file."""
    import torch

    state = {
        "architecture": architecture, "epoch": epoch, "history": history, "config": dataclasses.asdict(config),
        "model": unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict() if scaler is not None else None,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, architecture: str, map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, checking it belongs to ``architecture``."""
    import torch

    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unpickling/zip error means the file is unusable
        raise MammoError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("architecture") != architecture:
        found = state.get("architecture") if isinstance(state, dict) else type(state).__name__
        raise MammoError(f"checkpoint {path} is for architecture {found!r}, expected {architecture!r}")
    return state


# --- the loop ---------------------------------------------------------------------------------

def _lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return factor


def _loader(dataset: Dataset, *, config: TrainConfig, shuffle: bool, epoch_seed: int, dist_info: _Dist,
            collate_fn: Callable | None, drop_last: bool) -> tuple[Any, Any]:
    import torch
    from torch.utils.data import DataLoader, DistributedSampler

    generator = torch.Generator().manual_seed(epoch_seed)
    sampler = None
    if dist_info.enabled and shuffle:
        sampler = DistributedSampler(dataset, num_replicas=dist_info.world_size, rank=dist_info.rank,
                                     shuffle=True, seed=config.seed, drop_last=drop_last)
    loader = DataLoader(
        dataset, batch_size=config.batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
        num_workers=config.num_workers, collate_fn=collate_fn, generator=generator,
        worker_init_fn=_worker_init if config.num_workers else None, drop_last=drop_last,
        persistent_workers=False,
    )
    return loader, sampler


def _autocast(device: torch.device, config: TrainConfig) -> contextlib.AbstractContextManager:
    import torch

    if device.type == "cuda" and config.amp:
        return torch.autocast(device_type="cuda", dtype=getattr(torch, config.amp_dtype))
    return contextlib.nullcontext()


def _validate(task: TrainTask, model: nn.Module, loader: Any, device: torch.device, config: TrainConfig) -> float:
    import torch

    net = unwrap(model)
    was_training = net.training
    net.eval()
    outputs: list[Any] = []
    with torch.no_grad(), _autocast(device, config):
        for batch in loader:
            outputs.append(task.validation_step(net, move_to_device(batch, device)))
    net.train(was_training)
    return float(task.validation_metric(outputs))


def _bar(iterable: Any, *, enabled: bool, desc: str, total: int) -> Iterator[Any]:
    from mammo_lib.progress import tqdm

    return tqdm(iterable, desc=desc, total=total, disable=not enabled, leave=False, dynamic_ncols=True)


@dataclass
class _Optimisation:
    """The optimizer, learning-rate schedule and (float16 autocast on CUDA only) gradient scaler of a run."""

    optimizer: Any
    scheduler: Any
    scaler: Any


def _start_process(config: TrainConfig) -> tuple[_Dist, torch.device]:
    """This process's place in the run (DDP or not) and its device, with threads and determinism set."""
    import torch

    dist_info, device = _init_distributed(config.device)
    if config.threads and device.type == "cpu":
        torch.set_num_threads(int(config.threads))
    torch.use_deterministic_algorithms(True, warn_only=True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
    return dist_info, device


def _optimisation(model: nn.Module, config: TrainConfig, device: torch.device, total_steps: int) -> _Optimisation:
    """AdamW on the trainable parameters, linear warm-up then cosine decay over ``total_steps``, and a
    GradScaler when the run autocasts to float16 on CUDA."""
    import torch

    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config.warmup_steps, total_steps))
    use_scaler = device.type == "cuda" and config.amp and config.amp_dtype == "float16"
    return _Optimisation(optimizer, scheduler, torch.amp.GradScaler("cuda") if use_scaler else None)


def _resume(ckpt: Path, task: TrainTask, config: TrainConfig, model: nn.Module, opt: _Optimisation,
            device: torch.device, dist_info: _Dist) -> tuple[list[dict[str, float]], int]:
    """The history and first epoch of this run: from the checkpoint when resuming (model and optimisation
    state restored in place), else empty from epoch 0 with an earlier run's best epoch removed."""
    if config.resume and ckpt.exists():
        state = load_checkpoint(ckpt, task.architecture, map_location=device)
        model.load_state_dict(state["model"])
        opt.optimizer.load_state_dict(state["optimizer"])
        opt.scheduler.load_state_dict(state["scheduler"])
        if opt.scaler is not None and state.get("scaler"):
            opt.scaler.load_state_dict(state["scaler"])
        return list(state["history"]), int(state["epoch"]) + 1
    if dist_info.is_main:  # a fresh run never selects an earlier run's best epoch
        (ckpt.parent / BEST_NAME).unlink(missing_ok=True)
    return [], 0


def _train_epoch(task: TrainTask, model: nn.Module, loader: Any, opt: _Optimisation, *, config: TrainConfig,
                 device: torch.device, dist_info: _Dist, epoch: int, steps: int, last_metric: float) -> float:
    """One epoch of at most ``steps`` optimisation steps; the mean training loss (over every rank)."""
    import torch
    import torch.distributed as dist

    model.train()
    loss_sum, n_steps = torch.zeros((), device=device, dtype=torch.float64), 0
    bar = _bar(loader, enabled=config.progress and dist_info.is_main, total=steps,
               desc=f"{task.architecture} epoch {epoch + 1}/{config.epochs}")
    for step, batch in enumerate(bar):
        if step >= steps:
            break
        batch = move_to_device(batch, device)
        with _autocast(device, config):
            loss = task.loss(model, batch)
        if not torch.isfinite(loss):
            raise MammoError(f"{task.architecture}: loss became {loss.item()} at epoch {epoch + 1} step "
                             f"{step + 1}; lower the learning rate (lr={config.lr})")
        _step(model, loss, opt, config)
        loss_sum += loss.detach().double()
        n_steps += 1
        if hasattr(bar, "set_postfix"):
            bar.set_postfix(loss=f"{loss_sum.item() / n_steps:.4f}", **{task.metric_name: f"{last_metric:.3f}"})
    if hasattr(bar, "close"):
        bar.close()
    if dist_info.enabled:  # mean training loss over all ranks
        totals = torch.tensor([loss_sum.item(), float(n_steps)], dtype=torch.float64, device=device)
        dist.all_reduce(totals)
        return float(totals[0] / max(totals[1].item(), 1.0))
    return float(loss_sum.item() / max(n_steps, 1))


def _step(model: nn.Module, loss: Any, opt: _Optimisation, config: TrainConfig) -> None:
    """Backpropagate ``loss`` (scaled when there is a scaler), clip the gradients, step optimizer and schedule."""
    import torch

    opt.optimizer.zero_grad(set_to_none=True)
    if opt.scaler is not None:
        opt.scaler.scale(loss).backward()
        opt.scaler.unscale_(opt.optimizer)
    else:
        loss.backward()
    if config.grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    if opt.scaler is not None:
        opt.scaler.step(opt.optimizer)
        opt.scaler.update()
    else:
        opt.optimizer.step()
    opt.scheduler.step()


def _run_epoch(task: TrainTask, model: nn.Module, train_ds: Dataset, val_loader: Any, opt: _Optimisation, *,
               config: TrainConfig, device: torch.device, dist_info: _Dist, epoch: int, steps: int,
               collate_fn: Any, history: list[dict[str, float]], start: float,
               earlier_s: float) -> dict[str, float]:
    """One epoch re-seeded (a resumed run draws exactly the numbers an uninterrupted one would), trained,
    validated on rank 0: its record (epoch, train_loss, lr, val_metric, wall_time_s: ``earlier_s`` of earlier
    runs plus this run's since ``start``, a ``time.perf_counter`` reading), the same on every rank."""
    import torch.distributed as dist

    seed_everything(config.seed + 1000 * (epoch + 1) + dist_info.rank)
    loader, sampler = _loader(train_ds, config=config, shuffle=True, epoch_seed=config.seed + epoch,
                              dist_info=dist_info, collate_fn=collate_fn, drop_last=False)
    if sampler is not None:
        sampler.set_epoch(epoch)
    last_metric = history[-1].get("val_metric", float("nan")) if history else float("nan")
    train_loss = _train_epoch(task, model, loader, opt, config=config, device=device, dist_info=dist_info,
                              epoch=epoch, steps=steps, last_metric=last_metric)
    record: dict[str, float] = {"epoch": epoch + 1, "train_loss": train_loss,
                                "lr": float(opt.scheduler.get_last_lr()[0])}
    if dist_info.is_main and val_loader is not None:
        record["val_metric"] = _validate(task, model, val_loader, device, config)
    # training time summed over every process that worked on this run (resumes included), for the model card
    record["wall_time_s"] = round(earlier_s + time.perf_counter() - start, 3)
    if dist_info.enabled:
        shared = [record]
        dist.broadcast_object_list(shared, src=0)
        record = shared[0]
    return record


def _save_epoch(out: Path, task: TrainTask, model: nn.Module, opt: _Optimisation, config: TrainConfig, epoch: int,
                history: list[dict[str, float]]) -> None:
    """Rank 0 after an epoch: the best-epoch weights (selection "best"), the checkpoint (and the epoch's own
    when asked), history.json, and the epoch's line on stderr."""
    import torch

    record = history[-1]
    if config.selection == "best" and _is_best(history):
        torch.save({"epoch": epoch + 1, "model": unwrap(model).state_dict()}, out / BEST_NAME)
    save_checkpoint(out / CHECKPOINT_NAME, model=model, optimizer=opt.optimizer, scheduler=opt.scheduler,
                    scaler=opt.scaler, epoch=epoch, history=history, config=config, architecture=task.architecture)
    if config.keep_epoch_checkpoints:
        save_checkpoint(out / f"epoch_{epoch + 1:03d}.pt", model=model, optimizer=opt.optimizer,
                        scheduler=opt.scheduler, scaler=opt.scaler, epoch=epoch, history=history,
                        config=config, architecture=task.architecture)
    (out / "history.json").write_text(json.dumps(history, indent=1))
    if config.progress:
        shown = f", {task.metric_name} {record['val_metric']:.4f}" if "val_metric" in record else ""
        print(f"{task.architecture} epoch {epoch + 1}/{config.epochs}: loss {record['train_loss']:.4f}{shown}",
              file=sys.stderr, flush=True)


def _select_epoch(net: nn.Module, out: Path, config: TrainConfig, device: torch.device,
                  history: list[dict[str, float]]) -> dict[str, Any]:
    """Load the selected epoch's weights into ``net`` (selection "best": the saved best epoch; "last": as
    trained) and say which: the model card's ``selection`` and ``selected_epoch``."""
    import torch

    extra: dict[str, Any] = {"selection": config.selection, "selected_epoch": len(history)}
    if config.selection == "best" and (out / BEST_NAME).exists():
        best = torch.load(out / BEST_NAME, map_location=device, weights_only=True)
        net.load_state_dict(best["model"])
        extra["selected_epoch"] = int(best["epoch"])
    return extra


def fit(task: TrainTask, config: TrainConfig) -> FitResult:
    """Train ``task``'s model under ``config``; resumable, seeded, DDP-aware. Returns the unwrapped model.

    Steps: the process and device (:func:`_start_process`), the seeded model (fine-tuned from
    ``init_weights``) and its optimisation, the checkpoint to resume from, then per epoch a re-seeded
    training pass, validation on rank 0, the record shared by every rank and saved; finally the selected epoch.
    """
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    start = time.perf_counter()
    dist_info, device = _start_process(config)
    out = Path(config.out_dir)
    if dist_info.is_main:
        out.mkdir(parents=True, exist_ok=True)

    seed_everything(config.seed)
    model = task.build_model()
    if config.init_weights:  # fine-tuning; a resumed run then overwrites these with its checkpoint
        load_init = getattr(task, "load_init", None)  # a task that converts its starting weights loads them itself
        if load_init is not None:
            load_init(model, config.init_weights)
        else:
            load_weights(model, config.init_weights, architecture=task.architecture)
    model = model.to(device)
    train_ds, val_ds = task.datasets()
    if len(train_ds) == 0:
        raise MammoError(f"task {task.architecture!r}: the training dataset is empty")
    collate_fn = getattr(task, "collate_fn", None)
    steps = math.ceil(len(train_ds) / (config.batch_size * dist_info.world_size))
    steps = min(steps, config.max_steps_per_epoch) if config.max_steps_per_epoch else steps
    opt = _optimisation(model, config, device, steps * config.epochs)
    ckpt = out / CHECKPOINT_NAME
    history, first_epoch = _resume(ckpt, task, config, model, opt, device, dist_info)
    earlier_s = float(history[-1].get("wall_time_s", 0.0)) if history else 0.0

    if dist_info.enabled:
        ddp_kw = {"device_ids": [device.index]} if device.type == "cuda" else {}
        model = DistributedDataParallel(model, **ddp_kw)
    val_loader = None
    if val_ds is not None and len(val_ds) > 0 and dist_info.is_main:
        val_loader, _ = _loader(val_ds, config=config, shuffle=False, epoch_seed=config.seed, dist_info=dist_info,
                                collate_fn=collate_fn, drop_last=False)

    for epoch in range(first_epoch, config.epochs):
        history.append(_run_epoch(task, model, train_ds, val_loader, opt, config=config, device=device,
                                  dist_info=dist_info, epoch=epoch, steps=steps, collate_fn=collate_fn,
                                  history=history, start=start, earlier_s=earlier_s))
        if dist_info.is_main:
            _save_epoch(out, task, model, opt, config, epoch, history)
        if dist_info.enabled:
            dist.barrier()

    hardware = hardware_description(device, dist_info.world_size)
    net = unwrap(model)
    extra = _select_epoch(net, out, config, device, history)
    if dist_info.enabled:
        dist.barrier()
        dist.destroy_process_group()
    wall = earlier_s + time.perf_counter() - start if first_epoch < config.epochs else earlier_s
    return FitResult(model=net, history=history, wall_time_s=wall, checkpoint=ckpt,
                     hardware=hardware, world_size=dist_info.world_size, resumed_from_epoch=first_epoch,
                     extra=extra)


SELECTION_RULES = {
    "last": "the last epoch of the fixed schedule (the validation metric is monitored, never used to choose)",
    "best": "the epoch with the highest validation metric (earliest of ties), fixed before training",
}


def _init_record(path: str) -> dict[str, Any]:
    """What the model card says about the starting weights: scratch, or the file's name and sha256."""
    if not path:
        return {"from": "scratch"}
    from mammo_lib.checksums import sha256_file

    return {"from": Path(path).name, "sha256": sha256_file(Path(path))}


def _is_best(history: list[dict[str, float]]) -> bool:
    """Whether the last epoch of ``history`` has the highest finite validation metric so far (ties: the earlier)."""
    metrics = [float(h.get("val_metric", float("nan"))) for h in history]
    finite = [m for m in metrics[:-1] if math.isfinite(m)]
    return math.isfinite(metrics[-1]) and all(metrics[-1] > m for m in finite)


def model_card(result: FitResult, *, task: TrainTask, config: TrainConfig, command: str) -> dict[str, Any]:
    """Model card fields of a finished run: command, seed, data, epochs, wall time, hardware, metrics."""
    import torch

    import timm

    selected = int(result.extra.get("selected_epoch", len(result.history)))
    # the headline metrics are the selected epoch's: the weights exported are that epoch's
    last = result.history[selected - 1] if result.history else {}
    extra = getattr(task, "card_extra", None)      # optional: fields the model's users need (threshold...)
    metrics = getattr(task, "card_metrics", None)  # optional: task-specific metrics of the trained model
    return ({} if extra is None else dict(extra(result.model))) | {
        "command": command,
        "seed": config.seed,
        "data": task.data_description,
        "epochs": config.epochs,
        "wall_time_s": round(result.wall_time_s, 1),
        "hardware": result.hardware,
        "metrics": {"train_loss": last.get("train_loss"), task.metric_name: last.get("val_metric"),
                    **({} if metrics is None else dict(metrics(result.model)))},
        "history": result.history,
        "selection": SELECTION_RULES[config.selection],
        "selected_epoch": selected,
        "init": _init_record(config.init_weights),
        "config": dataclasses.asdict(config) | {"out_dir": Path(config.out_dir).name},
        "software": {"torch": torch.__version__, "timm": timm.__version__, "python": platform.python_version()},
        "created": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
