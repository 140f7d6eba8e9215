"""Mass classification network (paper Figure 2): a multi-task DenseNet-121 (timm ``densenet121``,
``pretrained=False``, one input channel) with a malignancy head and auxiliary morphology, margin, mass-density
and BI-RADS heads, and its multi-task loss."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import torch
from torch import nn
from torch.nn import functional as F

from mammo_lib import vocab

#: Recorded in the weights; :func:`mammo_lib.models.classification.inference.load_classifier` refuses any other.
ARCHITECTURE: Final = "mammo-densenet121-multitask-v1"
#: The primary head: malignancy (reference pathology positive = 1), one logit per patch.
PRIMARY_HEAD: Final = "malignancy"
#: Auxiliary heads and their classes, in vocab order (paper Figure 2: BN/MT plus the BI-RADS descriptors).
AUX_HEADS: Final[dict[str, tuple[str, ...]]] = {
    "morphology": vocab.MORPHOLOGY,
    "margin": vocab.MARGIN,
    "mass_density": vocab.MASS_DENSITY,
    "birads": vocab.BIRADS,
}
#: Target value of an auxiliary label that is missing (user data often lacks descriptors): ignored by the loss.
IGNORE_INDEX: Final = -1


# --- the network ----------------------------------------------------------------------------------
class MassClassifier(nn.Module):
    """DenseNet-121 trunk (timm, no pretrained download, 1 channel) with one linear head per task."""

    def __init__(self, backbone: str = "densenet121", drop_rate: float = 0.2) -> None:
        super().__init__()
        import timm

        self.backbone = timm.create_model(backbone, pretrained=False, in_chans=1, num_classes=0)
        features = int(self.backbone.num_features)
        self.dropout = nn.Dropout(drop_rate)
        self.heads = nn.ModuleDict({PRIMARY_HEAD: nn.Linear(features, 1)})
        for head, classes in AUX_HEADS.items():
            self.heads[head] = nn.Linear(features, len(classes))

    def forward(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits per head for a batch ``(N, 1, H, W)``; malignancy is ``(N,)``, the others ``(N, classes)``."""
        features = self.dropout(self.backbone(patches))
        out = {name: head(features) for name, head in self.heads.items()}
        out[PRIMARY_HEAD] = out[PRIMARY_HEAD].squeeze(1)
        return out


def multitask_loss(
    outputs: Mapping[str, torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    pos_weight: float,
    aux_weight: float = 0.25,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted BCE on malignancy plus ``aux_weight`` x the mean cross-entropy of the auxiliary heads.

    ``pos_weight`` (negatives / positives in training) balances the classes; :func:`prior_shift` undoes
    its effect on the output probability. Auxiliary heads whose labels are all missing in a batch add 0.
    """
    weight = torch.tensor(float(pos_weight), dtype=outputs[PRIMARY_HEAD].dtype, device=outputs[PRIMARY_HEAD].device)
    primary = F.binary_cross_entropy_with_logits(outputs[PRIMARY_HEAD], targets[PRIMARY_HEAD].to(weight.dtype), pos_weight=weight)
    parts = {PRIMARY_HEAD: float(primary.detach())}
    aux_terms = []
    for head in AUX_HEADS:
        labels = targets[head]
        if bool((labels != IGNORE_INDEX).any()):
            term = F.cross_entropy(outputs[head], labels, ignore_index=IGNORE_INDEX)
            aux_terms.append(term)
            parts[head] = float(term.detach())
    total = primary + (aux_weight * torch.stack(aux_terms).mean() if aux_terms else 0.0)
    parts["total"] = float(total.detach())
    return total, parts


__all__ = ["ARCHITECTURE", "AUX_HEADS", "IGNORE_INDEX", "PRIMARY_HEAD", "MassClassifier", "multitask_loss"]
