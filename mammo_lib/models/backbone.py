"""The shared feature extractor: one timm ``features_only`` trunk plus a small top-down neck.

Sized for two CPU cores (the twin's 1,296 views at 448 px in about a minute): the 448 x 448 input is first
average-pooled 2 x 2, then a ResNet-18 layout at a quarter of its width gives maps at strides 8, 16 and 32 of
the 448 image from its stages 1-3 (stage 4 is not used). Nothing is downloaded (``pretrained=False``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import timm
import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class BackboneConfig:
    """Which timm model and how wide; ``channels``/``stem_width`` are passed to timm's ResNet family only."""

    name: str = "resnet18"
    channels: tuple[int, ...] | None = (16, 32, 64, 128)
    stem_width: int | None = 16
    neck_channels: int = 32
    in_chans: int = 1
    input_pool: int = 2          # reduce the input by this factor before the trunk (1 = none)
    input_reduce: str = "avg"    # how: "avg" (average-pool: fine detail averaged away) or "unshuffle" (space to
    #                              depth: each pool x pool block becomes pool^2 channels, so the stem still sees
    #                              every input pixel at nearly the same cost)
    out_indices: tuple[int, int, int] = (1, 2, 3)  # trunk stages giving strides 8, 16, 32 of the input

    def __post_init__(self) -> None:
        if self.input_reduce not in ("avg", "unshuffle"):
            raise ValueError(f"input_reduce must be 'avg' or 'unshuffle', got {self.input_reduce!r}")

    def to_dict(self) -> dict[str, object]:
        """JSON-safe form (for model cards)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> BackboneConfig:
        """Inverse of :meth:`to_dict` (tuples restored; fields absent from an older card keep their defaults)."""
        kwargs = {k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()}
        return cls(**kwargs)


def conv_bn_relu(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    """3x3 (or kxk) convolution, batch norm, ReLU: the building block of the neck and heads."""
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class Backbone(nn.Module):
    """(pooled) timm trunk (strides 8, 16, 32 of the input) -> neck maps at stride 8 and 16, ``neck_channels`` each (a small FPN)."""

    def __init__(self, config: BackboneConfig = BackboneConfig()) -> None:
        super().__init__()
        extra = {}
        if config.channels is not None:
            extra["channels"] = tuple(config.channels)
        if config.stem_width is not None:
            extra["stem_width"] = config.stem_width
        self.config = config
        unshuffle = config.input_reduce == "unshuffle" and config.input_pool > 1
        trunk_chans = config.in_chans * (config.input_pool**2 if unshuffle else 1)
        self.trunk = timm.create_model(config.name, pretrained=False, features_only=True, in_chans=trunk_chans,
                                       out_indices=tuple(config.out_indices), **extra)
        strides = [r * config.input_pool for r in self.trunk.feature_info.reduction()]
        if strides != [8, 16, 32]:
            raise ValueError(f"backbone {config.name!r} with out_indices {config.out_indices} and input_pool "
                             f"{config.input_pool} has strides {strides}, expected [8, 16, 32]")
        c = config.neck_channels
        self.lateral = nn.ModuleList(nn.Conv2d(ch, c, 1) for ch in self.trunk.feature_info.channels())
        self.smooth8 = conv_bn_relu(c, c)
        self.smooth16 = conv_bn_relu(c, c)

    @property
    def out_channels(self) -> int:
        return self.config.neck_channels

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Images ``[N, in_chans, H, W]`` -> ``(p8 [N, C, H/8, W/8], p16 [N, C, H/16, W/16])``."""
        if self.config.input_pool > 1:
            if self.config.input_reduce == "unshuffle":
                x = F.pixel_unshuffle(x, self.config.input_pool)
            else:
                x = F.avg_pool2d(x, self.config.input_pool)
        c8, c16, c32 = self.trunk(x)
        p32 = self.lateral[2](c32)
        p16 = self.lateral[1](c16) + F.interpolate(p32, size=c16.shape[-2:], mode="nearest")
        p8 = self.lateral[0](c8) + F.interpolate(p16, size=c8.shape[-2:], mode="nearest")
        return self.smooth8(p8), self.smooth16(p16)


def space_to_depth_state(state: dict[str, torch.Tensor], target: dict[str, torch.Tensor],
                         factor: int) -> dict[str, torch.Tensor]:
    """The weights of a network with an average-pooled input (``input_reduce="avg"``) as the equivalent network
    with a space-to-depth input (``"unshuffle"``, same ``input_pool`` = ``factor``): a function-preserving
    conversion, so that fine-tuning starts from exactly what the pooled network computed.

    ``target`` is the space-to-depth network's state dict (for the shapes). Exactly one tensor differs in shape,
    the trunk's first convolution, whose input channels grow ``factor**2``-fold; a convolution of the
    ``factor x factor`` average equals that convolution of the ``factor**2`` sub-pixel channels with
    ``1 / factor**2`` of the kernel each (pixel_unshuffle keeps an input channel's sub-pixels contiguous).
    """
    changed = [k for k, v in target.items() if k in state and tuple(state[k].shape) != tuple(v.shape)]
    unmatched = set(target) ^ set(state)  # tensors of one network only
    n = factor * factor
    if unmatched or len(changed) != 1:
        raise ValueError(f"space_to_depth_state: expected the same tensors with one stem convolution of other "
                         f"shape, got {len(changed)} of other shape and {len(unmatched)} not in both")
    key = changed[0]
    w = state[key]
    if w.ndim != 4 or tuple(target[key].shape) != (w.shape[0], w.shape[1] * n, *w.shape[2:]):
        raise ValueError(f"space_to_depth_state: {key} {tuple(w.shape)} cannot become {tuple(target[key].shape)}")
    out = dict(state)
    out[key] = w.repeat_interleave(n, dim=1) / n
    return out
