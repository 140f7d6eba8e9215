"""What the models of ``mammo analyze`` are, read from their model cards: name, weights sha256 (computed from the
file), training data stage by stage, validation metrics, and the intended-use statement every output carries.

The nyukat mammography meta-repository's habit, kept here: a model says what it was trained on wherever it runs on
real images. Nothing is typed in: whether the weights saw synthetic images only is decided from the cards, stage
by stage (:func:`synthetic_stage`). Light: reads JSON and hashes files, imports no torch.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mammo_lib.checksums import sha256_file
from mammo_lib.errors import MammoError
from mammo_lib.models.weights import read_card

#: The roles of the system's two models, in the order the outputs list them.
ROLES = ("detector", "classifier")
#: What each role does in the system (the paper's words).
TASKS = {"detector": "mass detection (IDVN + BDVN -> IFN), Li et al. 2023",
         "classifier": "mass classification (multi-task DenseNet-121: malignancy 0-100, BI-RADS, shape, margin, "
                       "density), Li et al. 2023"}
#: ``mammo synth --which NAME [... --out DIR]``: the command that renders the synthetic cohort a stage trained on
#: (named NAME, or DIR's folder name when it renders into --out DIR).
_SYNTH_RE = re.compile(r"(?:^|&&|;)\s*mammo synth\s+--which\s+(\S+)([^&;]*)")
_OUT_RE = re.compile(r"--out\s+(\S+)")
#: Characters of a sha256 shown on one-line notices (the overlay, the CLI).
SHORT_SHA = 12


def synthetic_stage(stage: dict[str, Any]) -> bool:
    """Whether one training stage of a card (the card itself or a ``previous`` record) trained on a synthetic
    cohort: its ``command`` renders cohort NAME with ``mammo synth --which NAME`` and its ``data`` line is that
    cohort's (it starts with ``NAME:``, as the training task writes it)."""
    command, data = str(stage.get("command") or ""), str(stage.get("data") or "")
    rendered = set()
    for m in _SYNTH_RE.finditer(command):
        out = _OUT_RE.search(m.group(2))
        rendered.add(Path(out.group(1)).name if out else m.group(1))
    return any(data.startswith(f"{name}:") for name in rendered)


def training_stages(card: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The training stages of a card, last first (the card, then its ``previous`` records), each with its data
    line, command and whether it was synthetic; and whether the chain is complete: every stage that started from
    other weights names them (``init.sha256``) and the card holds them as its ``previous`` record."""
    stages: list[dict[str, Any]] = []
    record: dict[str, Any] | None = card
    complete = True
    while record is not None:
        init = record.get("init") or {}
        stages.append({"stage": str(record.get("stage") or ("trained from scratch" if init.get("from") == "scratch"
                                                              else f"fine-tuned from {init.get('from', 'unknown')}")),
                       "data": str(record.get("data") or "not stated on the card"),
                       "command": str(record.get("command") or "not stated on the card"),
                       "synthetic": synthetic_stage(record)})
        earlier = record.get("previous")
        if init and init.get("from") != "scratch":
            if not isinstance(earlier, dict) or earlier.get("sha256") != init.get("sha256"):
                complete = False  # started from weights the card does not describe
                break
        record = earlier if isinstance(earlier, dict) else None
    return stages, complete


def describe_model(role: str, weights_path: str | Path) -> dict[str, Any]:
    """One model's provenance: name (architecture), weights file and its sha256 (computed), whether the card's sha256
    agrees, creation time, training stages, whether every stage was synthetic, validation metrics as the card
    gives them, and what the card says about its decision threshold."""
    if role not in ROLES:
        raise MammoError(f"role must be one of {ROLES}, got {role!r}")
    path = Path(weights_path)
    if not path.is_file():
        raise MammoError(f"weights file {path} does not exist")
    card = read_card(path)
    if card is None:
        raise MammoError(f"{path.name} has no model card ({path.with_suffix('.json').name}): its training data "
                         "cannot be stated")
    digest = sha256_file(path)
    stages, complete = training_stages(card)
    metrics = card.get("metrics") or {}
    described = {
        "role": role,
        "task": TASKS[role],
        "name": str(card.get("architecture", "unknown")),
        "weights": path.name,
        "sha256": digest,
        "sha256_matches_card": digest == card.get("sha256"),
        "created": card.get("created"),
        "training_data": stages,
        "synthetic_training_data_only": complete and all(s["synthetic"] for s in stages),
        "validation": {k: v for k, v in metrics.items() if k != "train_loss"},
    }
    if "threshold_provenance" in card:
        described["threshold"] = {"value": card.get("threshold"), "provenance": card["threshold_provenance"]}
    return described


def intended_use(models: list[dict[str, Any]], version: str) -> str:
    """The intended-use statement of an analysis by these models (:func:`describe_model`), from what their cards
    say: research software, not for clinical decisions, and the training data (synthetic only, or as stated)."""
    from mammo_lib import PAPER_CITATION

    journal = re.search(r"\. ([A-Z][A-Za-z ]+ \d{4});", PAPER_CITATION)
    paper = f"{PAPER_CITATION.split(',')[0]} et al., {journal.group(1) if journal else PAPER_CITATION}"
    text = (f"Research software (mammo-companion {version}, a reproduction of {paper}), not a medical device: "
            "not for clinical decisions, diagnosis or screening. ")
    if all(m["synthetic_training_data_only"] for m in models):
        names = sorted({s["data"].split(":")[0] for m in models for s in m["training_data"]})
        text += (f"The {' and '.join(m['role'] for m in models)} were trained on synthetic (phantom) mammograms "
                 f"only (cohort{'s' if len(names) > 1 else ''} {', '.join(names)}, rendered by `mammo synth`); "
                 "their validation metrics are on held-out synthetic exams and their accuracy on real mammograms "
                 "is unknown.")
    else:
        stated = "; ".join(f"{m['role']}: " + " then ".join(s["data"] for s in reversed(m["training_data"]))
                           for m in models)
        text += (f"Training data as the model cards state them ({stated}); this software has not measured their "
                 "accuracy on real mammograms.")
    return text


def models_block(detector_path: str | Path, classifier_path: str | Path) -> dict[str, Any]:
    """The ``models`` block of ``result.json``: the intended-use statement, whether both models saw synthetic
    images only, the software version and each model's :func:`describe_model`."""
    from mammo_lib import __version__

    models = [describe_model("detector", detector_path), describe_model("classifier", classifier_path)]
    return {"intended_use": intended_use(models, __version__),
            "synthetic_training_data_only": all(m["synthetic_training_data_only"] for m in models),
            "software": f"mammo-companion {__version__}",
            **{m["role"]: m for m in models}}


def notice(block: dict[str, Any]) -> str:
    """One line for the overlay and the CLI: research use, the training data, and both weights' sha256."""
    data = ("models trained on synthetic mammograms only, accuracy on real mammograms unknown"
            if block["synthetic_training_data_only"] else "models' training data: see result.json (models)")
    weights = ", ".join(f"{role} {block[role]['weights']} sha256 {block[role]['sha256'][:SHORT_SHA]}" for role in ROLES)
    return f"RESEARCH USE ONLY, not for clinical decisions; {data}; {block['software']}; {weights}"
