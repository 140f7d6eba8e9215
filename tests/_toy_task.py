"""A tiny regression task on synthetic tensors, used by tests/test_train.py (also under torchrun)."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import TensorDataset


class ToyTask:
    """y = x @ w + noise; a linear model with dropout (so resume must restore the random stream)."""

    architecture = "toy-linear-v1"
    metric_name = "val_mse"
    data_description = "64 synthetic (x, y) pairs, seed 0"

    def __init__(self, n: int = 64, features: int = 8, hidden: int = 16) -> None:
        gen = torch.Generator().manual_seed(0)
        x = torch.randn(n, features, generator=gen)
        w = torch.randn(features, 1, generator=gen)
        y = x @ w + 0.05 * torch.randn(n, 1, generator=gen)
        self.train_set = TensorDataset(x[: n * 3 // 4], y[: n * 3 // 4])
        self.val_set = TensorDataset(x[n * 3 // 4 :], y[n * 3 // 4 :])
        self.features, self.hidden = features, hidden

    def build_model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(self.features, self.hidden), nn.ReLU(), nn.Dropout(0.1),
                             nn.Linear(self.hidden, 1))

    def datasets(self) -> tuple[TensorDataset, TensorDataset]:
        return self.train_set, self.val_set

    def loss(self, model: nn.Module, batch: Any) -> torch.Tensor:
        x, y = batch
        return nn.functional.mse_loss(model(x), y)

    def validation_step(self, model: nn.Module, batch: Any) -> tuple[float, int]:
        x, y = batch
        return float(nn.functional.mse_loss(model(x), y, reduction="sum")), len(x)

    def validation_metric(self, outputs: list[tuple[float, int]]) -> float:
        return sum(s for s, _ in outputs) / sum(n for _, n in outputs)


def make_task(data_dir: Any, *, seed: int, smoke: bool, options: dict[str, str]) -> tuple[ToyTask, dict[str, Any]]:
    """The `mammo train` factory contract, for the CLI test."""
    task = ToyTask(hidden=int(options.get("hidden", 16)))
    return task, {"epochs": 2 if smoke else 5, "batch_size": 8, "lr": 0.02, "progress": False}
