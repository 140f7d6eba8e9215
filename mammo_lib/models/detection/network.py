"""Multi-view mass detection: IDVN, BDVN and IFN over one shared backbone (paper Figure 1, after MommiNet-v2).

For each view of an exam (views in ``vocab.STANDARD_VIEWS`` order: RCC, LCC, RMLO, LMLO):

* the **single-view** head reads the view alone (the ablation baseline);
* the **IDVN** (ipsilateral dual-view network) enriches it with the other view of the same breast through
  cross-attention whose geometric prior favours positions at the same distance from the nipple (a mass lies
  at about the same nipple distance on CC and MLO; Li et al. 2023, "DL analysis system");
* the **BDVN** (bilateral dual-view network) compares it with the same view of the other breast, mirrored by
  preprocessing so both breasts face the same side, with a prior that favours the same position relative to
  the nipple, and feeds the difference (the asymmetry cue) forward;
* the **IFN** (integrated fusion network) combines both into the final probability map of mass location.

Each branch predicts, at stride 8, a centre heatmap (logits; its sigmoid is the probability map) and a box
(offset dx, dy and log width/height, after CenterNet: Zhou et al., "Objects as Points", 2019), decoded into
scored candidate boxes. A missing auxiliary view switches the branch that needs it off for that view (the
output says which ran); the IFN then works from what is available.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mammo_lib.errors import MammoError
from mammo_lib.models.backbone import Backbone, BackboneConfig, conv_bn_relu
from mammo_lib.vocab import STANDARD_VIEWS

#: Recorded in the shipped weights; :func:`mammo_lib.models.weights.load_weights` refuses any other.
ARCHITECTURE = "mammo-detection-idvn-bdvn-ifn-v1"
#: Prediction branches, from the ablation baseline to the final output.
BRANCHES = ("single", "idvn", "bdvn", "ifn")
#: For each view index, the other view of the same breast (IDVN's auxiliary view).
IPSILATERAL_PARTNER = tuple(STANDARD_VIEWS.index((lat, "MLO" if view == "CC" else "CC")) for lat, view in STANDARD_VIEWS)
#: For each view index, the same view of the other breast (BDVN's auxiliary view).
BILATERAL_PARTNER = tuple(STANDARD_VIEWS.index(("L" if lat == "R" else "R", view)) for lat, view in STANDARD_VIEWS)
STRIDE = 8
#: Logit given to positions of views that are absent (sigmoid ~ 2e-9).
ABSENT_LOGIT = -20.0


@dataclass(frozen=True)
class DetectionConfig:
    """Architecture of the detector (stored in the model card; shapes are checked when loading weights)."""

    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    image_size: int = 448               # the paper resizes every image to 448 x 448
    attention_dim: int = 32             # query/key width of the cross-view attention
    idvn_sigma: float = 0.08            # nipple-distance tolerance, fraction of the image side
    bdvn_sigma: float = 0.12            # mirrored-position tolerance, fraction of the image side

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (for model cards)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectionConfig:
        """Inverse of :meth:`to_dict` (a model card's ``model_config``)."""
        kwargs = dict(data)
        kwargs["backbone"] = BackboneConfig.from_dict(dict(kwargs.get("backbone", {})))
        return cls(**kwargs)


class GeometricCrossAttention(nn.Module):
    """Main-view positions attend to auxiliary-view positions; a geometric prior biases where they look.

    ``prior="nipple_distance"`` (IDVN): bias ``-(r_main - r_aux)^2 / 2 sigma^2`` with r the distance to the
    view's own nipple. ``prior="mirrored_position"`` (BDVN): bias ``-|d_main - d_aux|^2 / 2 sigma^2`` with d the
    position relative to the nipple in the mirrored (same-facing) frames. The auxiliary map is average-pooled
    ``aux_pool`` x before it is attended (keys/values at stride 32: four times cheaper, still finer than a mass).
    """

    PRIORS = ("nipple_distance", "mirrored_position")

    def __init__(self, channels: int, dim: int, prior: str, sigma: float, aux_pool: int = 2) -> None:
        super().__init__()
        if prior not in self.PRIORS:
            raise ValueError(f"prior must be one of {self.PRIORS}, got {prior!r}")
        self.prior = prior
        self.sigma = float(sigma)
        self.aux_pool = int(aux_pool)
        self.query = nn.Conv2d(channels, dim, 1)
        self.key = nn.Conv2d(channels, dim, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)

    @staticmethod
    def _grid(h: int, w: int, device: torch.device) -> torch.Tensor:
        ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h
        xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w
        return torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1).reshape(1, h * w, 2)

    def geometric_bias(self, main_hw: tuple[int, int], aux_hw: tuple[int, int], nipple_main: torch.Tensor,
                       nipple_aux: torch.Tensor) -> torch.Tensor:
        """Additive attention bias ``[N, main cells, aux cells]`` from nipples ``[N, 2]`` in [0, 1] image units."""
        rel_main = self._grid(*main_hw, nipple_main.device) - nipple_main.float()[:, None, :]
        rel_aux = self._grid(*aux_hw, nipple_aux.device) - nipple_aux.float()[:, None, :]
        if self.prior == "nipple_distance":
            d2 = (rel_main.norm(dim=-1)[:, :, None] - rel_aux.norm(dim=-1)[:, None, :]) ** 2
        else:
            d2 = torch.cdist(rel_main, rel_aux) ** 2
        return d2.mul_(-1.0 / (2.0 * self.sigma**2))

    def forward(self, main: torch.Tensor, aux: torch.Tensor, nipple_main: torch.Tensor,
                nipple_aux: torch.Tensor) -> torch.Tensor:
        """``main``, ``aux``: ``[N, C, h, w]``; returns the auxiliary evidence gathered for each main position."""
        n, c, h, w = main.shape
        if self.aux_pool > 1:
            aux = F.avg_pool2d(aux, self.aux_pool)
        q = self.query(main).flatten(2).transpose(1, 2)[:, None]
        k = self.key(aux).flatten(2).transpose(1, 2)[:, None]
        v = self.value(aux).flatten(2).transpose(1, 2)[:, None]
        with torch.no_grad():
            bias = self.geometric_bias((h, w), tuple(aux.shape[-2:]), nipple_main, nipple_aux).to(q.dtype)[:, None]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)[:, 0]
        return self.proj(out.transpose(1, 2).reshape(n, c, h, w))


class DualViewNetwork(nn.Module):
    """IDVN or BDVN: main features + [attended auxiliary evidence, main - evidence] fused by convolutions."""

    def __init__(self, channels: int, dim: int, prior: str, sigma: float) -> None:
        super().__init__()
        self.attention = GeometricCrossAttention(channels, dim, prior, sigma)
        self.fuse = nn.Sequential(conv_bn_relu(3 * channels, channels), conv_bn_relu(channels, channels))

    def forward(self, main: torch.Tensor, aux: torch.Tensor, nipple_main: torch.Tensor,
                nipple_aux: torch.Tensor) -> torch.Tensor:
        evidence = self.attention(main, aux, nipple_main, nipple_aux)
        return main + self.fuse(torch.cat([main, evidence, main - evidence], dim=1))


class DetectionHead(nn.Module):
    """Stride-16 branch features + stride-8 backbone map -> centre-heatmap logits and box (dx, dy, log w, log h)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.merge = conv_bn_relu(2 * channels, channels, k=1)  # 1x1: the stride-8 map is the costly one
        self.heat = nn.Conv2d(channels, 1, 1)
        self.box = nn.Conv2d(channels, 4, 1)
        nn.init.constant_(self.heat.bias, -math.log((1 - 0.1) / 0.1))  # prior probability 0.1 (CenterNet)

    def forward(self, p8: torch.Tensor, f16: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.merge(torch.cat([p8, F.interpolate(f16, size=p8.shape[-2:], mode="nearest")], dim=1))
        return self.heat(x)[:, 0], self.box(x)


class IntegratedFusionNetwork(nn.Module):
    """IFN: IDVN and BDVN features (or the single-view features where a branch could not run), with two
    availability flags, fused into the final probability map."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fuse = nn.Sequential(conv_bn_relu(2 * channels + 2, channels), conv_bn_relu(channels, channels))
        self.head = DetectionHead(channels)

    def forward(self, p8: torch.Tensor, f_idvn: torch.Tensor, f_bdvn: torch.Tensor, idvn_ran: torch.Tensor,
                bdvn_ran: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flags = torch.stack([idvn_ran, bdvn_ran], dim=1).to(f_idvn.dtype)[:, :, None, None]
        flags = flags.expand(-1, -1, *f_idvn.shape[-2:])
        return self.head(p8, self.fuse(torch.cat([f_idvn, f_bdvn, flags], dim=1)))


class MultiViewDetector(nn.Module):
    """The whole detector: backbone once per present view, then single/IDVN/BDVN/IFN heads per view."""

    def __init__(self, config: DetectionConfig = DetectionConfig()) -> None:
        super().__init__()
        self.config = config
        self.backbone = Backbone(config.backbone)
        c = self.backbone.out_channels
        self.idvn = DualViewNetwork(c, config.attention_dim, "nipple_distance", config.idvn_sigma)
        self.bdvn = DualViewNetwork(c, config.attention_dim, "mirrored_position", config.bdvn_sigma)
        self.single_head = DetectionHead(c)
        self.idvn_head = DetectionHead(c)
        self.bdvn_head = DetectionHead(c)
        self.ifn = IntegratedFusionNetwork(c)

    def forward(self, images: torch.Tensor, nipples: torch.Tensor, present: torch.Tensor) -> dict[str, torch.Tensor]:
        """``images [B, 4, 1, S, S]``, ``nipples [B, 4, 2]`` (x, y pixels; NaN = unknown -> image centre),
        ``present [B, 4]`` bool -> per branch ``{branch}_heat [B, 4, S/8, S/8]`` and ``{branch}_box
        [B, 4, 4, S/8, S/8]``, plus ``idvn_ran``/``bdvn_ran``/``present`` ``[B, 4]`` bool."""
        b, v = present.shape
        size = images.shape[-1]
        present = present.bool()
        flat = present.reshape(-1)
        index = flat.nonzero().squeeze(1)
        if index.numel() == 0:
            raise MammoError("detector input has no present view")
        p8, p16 = self.backbone(images.reshape(b * v, *images.shape[2:])[index])
        nip = torch.nan_to_num(nipples.float() / size, nan=0.5).reshape(b * v, 2)[index]
        position = torch.full((b * v,), -1, dtype=torch.long, device=images.device)
        position[index] = torch.arange(index.numel(), device=images.device)
        view_of = index % v
        exam_of = index // v

        def partner_branch(partners: tuple[int, ...], net: DualViewNetwork) -> tuple[torch.Tensor, torch.Tensor]:
            partner = position[exam_of * v + torch.tensor(partners, device=images.device)[view_of]]
            ran = partner >= 0
            feats = p16
            if bool(ran.any()):
                fused = net(p16[ran], p16[partner[ran]], nip[ran], nip[partner[ran]])
                feats = p16.clone()
                feats[ran] = fused.to(feats.dtype)
            return feats, ran

        f_idvn, idvn_ran = partner_branch(IPSILATERAL_PARTNER, self.idvn)
        f_bdvn, bdvn_ran = partner_branch(BILATERAL_PARTNER, self.bdvn)
        heads = {
            "single": self.single_head(p8, p16),
            "idvn": self.idvn_head(p8, f_idvn),
            "bdvn": self.bdvn_head(p8, f_bdvn),
            "ifn": self.ifn(p8, f_idvn, f_bdvn, idvn_ran, bdvn_ran),
        }
        out: dict[str, torch.Tensor] = {}
        h, w = p8.shape[-2:]
        for name, (heat, box) in heads.items():
            full_heat = heat.new_full((b * v, h, w), ABSENT_LOGIT)
            full_heat[index] = heat
            full_box = box.new_zeros((b * v, 4, h, w))
            full_box[index] = box
            out[f"{name}_heat"] = full_heat.reshape(b, v, h, w)
            out[f"{name}_box"] = full_box.reshape(b, v, 4, h, w)
        for name, ran in (("idvn_ran", idvn_ran), ("bdvn_ran", bdvn_ran)):
            full = torch.zeros(b * v, dtype=torch.bool, device=images.device)
            full[index] = ran
            out[name] = full.reshape(b, v)
        out["present"] = present
        return out


# --- training targets and loss ------------------------------------------------------------------

def heatmap_targets(boxes: np.ndarray, image_size: int, stride: int = STRIDE) -> dict[str, np.ndarray]:
    """CenterNet targets of one view from its boxes ``[n, 4]`` (x0, y0, x1, y1 in the S x S image).

    Returns ``heat [h, w]`` (a Gaussian per box, sigma = box side / 6 in cells, peak 1 at the centre cell),
    ``box [4, h, w]`` (dx, dy in cells, log of width/height in cells, at centre cells) and ``centre [h, w]``.
    """
    cells = image_size // stride
    heat = np.zeros((cells, cells), np.float32)
    box = np.zeros((4, cells, cells), np.float32)
    centre = np.zeros((cells, cells), np.float32)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not np.isfinite(boxes).all():
        raise MammoError(f"box coordinates must be finite, got {boxes[~np.isfinite(boxes).all(axis=1)].tolist()}")
    ys, xs = np.mgrid[0:cells, 0:cells]
    for x0, y0, x1, y1 in boxes:
        if x1 <= x0 or y1 <= y0:
            raise MammoError(f"box ({x0}, {y0}, {x1}, {y1}) has no area (need x1 > x0 and y1 > y0)")
        cx, cy = (x0 + x1) / 2 / stride, (y0 + y1) / 2 / stride
        ix, iy = min(int(cx), cells - 1), min(int(cy), cells - 1)
        if ix < 0 or iy < 0:
            continue
        sx, sy = max((x1 - x0) / stride / 6, 0.8), max((y1 - y0) / stride / 6, 0.8)
        gauss = np.exp(-((xs - ix) ** 2 / (2 * sx**2) + (ys - iy) ** 2 / (2 * sy**2)))
        heat = np.maximum(heat, gauss.astype(np.float32))
        box[:, iy, ix] = (cx - ix, cy - iy, math.log((x1 - x0) / stride), math.log((y1 - y0) / stride))
        centre[iy, ix] = 1.0
    return {"heat": heat, "box": box, "centre": centre}


def centernet_focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """Penalty-reduced pixel-wise focal loss of CenterNet (Zhou et al. 2019, eq. 1), normalised by the number
    of centres (at least 1). ``target`` is the Gaussian heatmap with value 1 at centres."""
    logits, target = logits.float(), target.float()
    pos = target >= 1.0 - 1e-6
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    p = torch.sigmoid(logits)
    pos_loss = (log_p * (1 - p) ** alpha)[pos].sum()
    neg_loss = (log_not_p * p**alpha * (1 - target) ** beta)[~pos].sum()
    return -(pos_loss + neg_loss) / pos.sum().clamp(min=1)


#: Weight of each branch in the training loss (deep supervision: every branch learns to detect).
BRANCH_WEIGHTS = {"single": 0.5, "idvn": 0.5, "bdvn": 0.5, "ifn": 1.0}


def detection_loss(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum over branches of focal heatmap loss + L1 box loss at centres, over the views each branch ran on."""
    present = outputs["present"]
    total = outputs["ifn_heat"].new_zeros((), dtype=torch.float32)
    for name, weight in BRANCH_WEIGHTS.items():
        ran = present if name in ("single", "ifn") else outputs[f"{name}_ran"]
        if not bool(ran.any()):
            continue
        focal = centernet_focal_loss(outputs[f"{name}_heat"][ran], targets["heat"][ran])
        centre = targets["centre"][ran]
        diff = (outputs[f"{name}_box"][ran].float() - targets["box"][ran]).abs().sum(dim=1)
        box = (diff * centre).sum() / centre.sum().clamp(min=1)
        total = total + weight * (focal + box)
    return total


# --- decoding -------------------------------------------------------------------------------------

def decode_heatmap(heat_logits: torch.Tensor, box: torch.Tensor, *, stride: int = STRIDE, top_k: int = 10,
                   min_score: float = 0.01) -> np.ndarray:
    """One view's heatmap logits ``[h, w]`` and box map ``[4, h, w]`` -> candidates ``[n, 5]`` (x0, y0, x1, y1,
    score) in the S x S image, highest score first: local maxima (3x3) of the probability map above
    ``min_score``, at most ``top_k``."""
    prob = torch.sigmoid(heat_logits.float())[None, None]
    peaks = prob == F.max_pool2d(prob, 3, stride=1, padding=1)
    scores = (prob * peaks).flatten()
    k = min(top_k, scores.numel())
    values, order = scores.topk(k)
    keep = values >= min_score
    values, order = values[keep], order[keep]
    w = heat_logits.shape[-1]
    iy, ix = order // w, order % w
    reg = box.float()[:, iy, ix]
    cx, cy = (ix + reg[0]) * stride, (iy + reg[1]) * stride
    bw, bh = torch.exp(reg[2].clamp(max=8)) * stride, torch.exp(reg[3].clamp(max=8)) * stride
    out = torch.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2, values], dim=1)
    return out.detach().cpu().numpy().astype(np.float64)


def decode_outputs(outputs: dict[str, torch.Tensor], branch: str = "ifn", *, top_k: int = 10,
                   min_score: float = 0.01) -> list[list[np.ndarray | None]]:
    """Candidates of one branch for every exam and view: ``result[b][v]`` is ``[n, 5]``, or None where the
    view is absent or the branch could not run on it (no auxiliary view)."""
    if branch not in BRANCHES:
        raise MammoError(f"branch must be one of {BRANCHES}, got {branch!r}")
    heat, box, present = outputs[f"{branch}_heat"], outputs[f"{branch}_box"], outputs["present"]
    ran = present if branch in ("single", "ifn") else outputs[f"{branch}_ran"]
    return [[decode_heatmap(heat[b, v], box[b, v], top_k=top_k, min_score=min_score) if bool(ran[b, v]) else None
             for v in range(heat.shape[1])] for b in range(heat.shape[0])]


def modules_run(outputs: dict[str, torch.Tensor], b: int, v: int) -> tuple[str, ...]:
    """Which modules produced view ``v`` of exam ``b``'s final output (e.g. ``('single', 'bdvn', 'ifn')``)."""
    if not bool(outputs["present"][b, v]):
        return ()
    ran = ["single"]
    ran += [name for name in ("idvn", "bdvn") if bool(outputs[f"{name}_ran"][b, v])]
    return (*ran, "ifn")


def missing_view_notes(present: np.ndarray | torch.Tensor) -> list[str]:
    """Plain-language notes on what a missing view switched off, e.g. 'LMLO absent: IDVN not run on LCC'."""
    present = np.asarray(present, dtype=bool).reshape(-1)
    names = [f"{lat}{view}" for lat, view in STANDARD_VIEWS]
    notes = []
    for v, here in enumerate(present):
        if not here:
            continue
        for module, partners in (("IDVN", IPSILATERAL_PARTNER), ("BDVN", BILATERAL_PARTNER)):
            if not present[partners[v]]:
                notes.append(f"{names[partners[v]]} absent: {module} not run on {names[v]}")
    return notes


def build_model(config: DetectionConfig | None = None) -> MultiViewDetector:
    """The detector, randomly initialised (load shipped weights with :func:`mammo_lib.models.detection.inference.load_detector`), in channels-last
    memory format: oneDNN convolutions on CPU ran a training step about 1.5x faster so (benchmarks/bench_detection.py)."""
    return MultiViewDetector(config or DetectionConfig()).to(memory_format=torch.channels_last)
