"""The trainable models by name: ``mammo train NAME`` finds its task factory here.

Each entry names a module with ``make_task(data_dir, *, seed, smoke, options) -> (task, defaults)``: ``task``
a :class:`mammo_lib.training.loop.TrainTask`, ``defaults`` a dict of TrainConfig fields (epochs, batch_size, lr...).
Modules are imported only when a task is asked for, so the registry (and ``mammo train --help``) stays cheap.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from mammo_lib.errors import MammoError

#: model name -> module holding its ``make_task``
TASKS: dict[str, str] = {
    "detection": "mammo_lib.models.detection.task",
    "classification": "mammo_lib.models.classification.task",
}


def task_factory(name: str) -> Callable[..., tuple[Any, dict[str, Any]]]:
    """The ``make_task`` of model ``name``; an unknown name is a MammoError listing the known ones."""
    if name not in TASKS:
        raise MammoError(f"unknown model {name!r}; known: {sorted(TASKS)}")
    return importlib.import_module(TASKS[name]).make_task


__all__ = ["TASKS", "task_factory"]
