"""Shipped weights: fp16 safetensors with a JSON model card beside them, written and read in one place.

:func:`export_weights` writes both; :func:`load_weights` refuses a corrupt file (sha256 against the card), one
of another architecture, or one whose tensors do not fit; :func:`load_model` is what both models' loaders
use: weights into a fresh model, in eval mode, and the model card, which must exist and hold the fields the
model's users read. Imported by inference code, so it never imports the training loop.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mammo_lib.checksums import sha256_file
from mammo_lib.errors import MammoError

if TYPE_CHECKING:  # torch is imported inside the functions
    from torch import nn

CARD_SUFFIX = ".json"


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return getattr(model, "module", model)


def card_path(weights_path: str | Path) -> Path:
    """The model card that goes with a weights file: same name, ``.json``."""
    return Path(weights_path).with_suffix(CARD_SUFFIX)


def export_weights(model: nn.Module, path: str | Path, *, architecture: str, card: dict[str, Any]) -> dict[str, Any]:
    """Write ``model`` as fp16 safetensors plus its JSON model card (``card`` + architecture, sizes, sha256).

    Floating tensors are stored as float16 (shipped weights stay small); integer buffers keep their dtype.
    Returns the card as written.
    """
    import torch
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, value in unwrap(model).state_dict().items():
        value = value.detach().cpu()
        tensors[name] = (value.to(torch.float16) if value.is_floating_point() else value).contiguous()
    save_file(tensors, str(path), metadata={"architecture": architecture, "format": "mammo-companion/1"})
    full = {
        "architecture": architecture,
        **card,
        "weights_file": path.name,
        "dtype": "float16",
        "parameters": int(sum(t.numel() for n, t in unwrap(model).named_parameters())),
        "size_bytes": path.stat().st_size,
        "sha256": sha256_file(path),
    }
    card_path(path).write_text(json.dumps(full, indent=2, sort_keys=False) + "\n")
    return full


def read_card(weights_path: str | Path) -> dict[str, Any] | None:
    """The model card beside a weights file, or None when there is none."""
    cpath = card_path(weights_path)
    if not cpath.exists():
        return None
    try:
        return json.loads(cpath.read_text())
    except json.JSONDecodeError as exc:
        raise MammoError(f"model card {cpath} is not valid JSON ({exc})") from None


def load_weights(model: nn.Module, path: str | Path, *, architecture: str, map_location: Any = "cpu",
                 check_sha256: bool = True) -> nn.Module:
    """Load shipped weights into ``model`` (moved to ``map_location``), refusing anything that does not fit.

    Refused with a MammoError: a missing file, a sha256 that differs from the model card, bytes that are
    not safetensors, weights recorded for another architecture, missing/unexpected tensors or other shapes.
    """
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise MammoError(f"weights file {path} does not exist")
    card = read_card(path)
    if check_sha256 and card is not None and card.get("sha256"):
        actual = sha256_file(path)
        if actual != card["sha256"]:
            raise MammoError(f"weights file {path} is corrupt: sha256 {actual[:12]}... differs from its model "
                             f"card's {str(card['sha256'])[:12]}...")
    device = torch.device(map_location) if isinstance(map_location, str) else map_location
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise MammoError(f"weights file {path} is not a readable safetensors file ({exc})") from None
    found = meta.get("architecture")
    if found != architecture:
        raise MammoError(f"weights file {path} holds architecture {found!r}, expected {architecture!r}")
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    shapes = [f"{k} {tuple(tensors[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
              if k in tensors and tuple(tensors[k].shape) != tuple(v.shape)]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if shapes:
            parts.append(f"{len(shapes)} of other shape (e.g. {shapes[0]})")
        raise MammoError(f"weights file {path} does not fit architecture {architecture!r}: " + "; ".join(parts))
    cast = {k: tensors[k].to(v.dtype) for k, v in expected.items()}
    model.load_state_dict(cast)
    return model.to(device)


def load_model(model: nn.Module, path: str | Path, *, architecture: str, required: Sequence[str],
               train_command: str, map_location: Any = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Shipped (or given) weights loaded into ``model``, in eval mode, with their model card.

    Refused with a MammoError naming the file (after :func:`load_weights`'s own checks): a missing weights file
    or model card, or a card without one of the ``required`` fields; the message says how to make proper ones.
    """
    path = Path(path)
    if not path.is_file():
        raise MammoError(f"no weights at {path}; train and ship them with `{train_command} --export ship`")
    loaded = load_weights(model, path, architecture=architecture, map_location=map_location)
    card = read_card(path)
    if card is None:
        raise MammoError(f"weights file {path} has no model card {card_path(path).name} beside it; "
                         f"export weights with `{train_command} --export PATH`")
    missing = [f for f in required if f not in card]
    if missing:
        raise MammoError(f"model card of {path.name} lacks {missing}: it was not written by `{train_command}`")
    return loaded.eval(), card


__all__ = ["CARD_SUFFIX", "card_path", "export_weights", "load_model", "load_weights", "read_card", "unwrap"]
