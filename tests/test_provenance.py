"""What `mammo analyze` says its models are: read from the model cards (never typed), synthetic-only decided stage by
stage, and an intended-use statement that follows what the cards say."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mammo_lib.checksums import sha256_file
from mammo_lib.errors import MammoError
from mammo_lib.models import provenance
from mammo_lib.models.weights import read_card
from mammo_lib.paths import weights_dir

DETECTOR = weights_dir() / "detection.safetensors"
CLASSIFIER = weights_dir() / "classification.safetensors"


def _copy(tmp_path: Path, source: Path, **card_changes: object) -> Path:
    """The shipped weights file copied with its card, the card's fields replaced by ``card_changes``."""
    target = tmp_path / source.name
    shutil.copy(source, target)
    card = read_card(source) | card_changes
    target.with_suffix(".json").write_text(json.dumps(card))
    return target


def test_shipped_models_block_is_what_their_cards_say() -> None:
    block = provenance.models_block(DETECTOR, CLASSIFIER)
    for role, path in (("detector", DETECTOR), ("classifier", CLASSIFIER)):
        card = read_card(path)
        model = block[role]
        assert model["sha256"] == sha256_file(path) and model["sha256_matches_card"]
        assert model["name"] == card["architecture"] and model["weights"] == path.name
        assert model["training_data"][0]["data"] == card["data"]
        assert model["training_data"][0]["command"] == card["command"]
        earlier, record = [], card.get("previous")
        while isinstance(record, dict):  # every earlier stage, last first
            earlier.append(record["data"])
            record = record.get("previous")
        assert [s["data"] for s in model["training_data"][1:]] == earlier
        assert model["synthetic_training_data_only"]  # every stage named, each rendered by mammo synth
        assert model["validation"] == {k: v for k, v in card["metrics"].items() if k != "train_loss"}
    assert block["classifier"]["threshold"]["provenance"] == read_card(CLASSIFIER)["threshold_provenance"]


def test_a_stage_is_synthetic_when_its_command_renders_the_cohort_it_trained_on() -> None:
    assert provenance.synthetic_stage({"command": "mammo synth --which train --patients 600 && mammo train x",
                                       "data": "train: 540 exams"})
    # another cohort than the one rendered, a hospital's cohort, or no command: not known to be synthetic
    assert not provenance.synthetic_stage({"command": "mammo synth --which twin && mammo train x",
                                           "data": "train: 540 exams"})
    assert not provenance.synthetic_stage({"command": "mammo train detection --cohort h.yaml", "data": "h: 80 exams"})
    assert not provenance.synthetic_stage({"data": "train: 540 exams"})


def test_synthetic_only_weights_say_so_and_real_data_weights_do_not(tmp_path: Path) -> None:
    synthetic = provenance.models_block(DETECTOR, CLASSIFIER)
    if not synthetic["synthetic_training_data_only"]:
        pytest.skip("the shipped cards do not describe synthetic-only training")
    assert "not for clinical decisions" in synthetic["intended_use"]
    assert "trained on synthetic (phantom) mammograms only" in synthetic["intended_use"]
    assert "accuracy on real mammograms is unknown" in synthetic["intended_use"]
    assert "synthetic mammograms only" in provenance.notice(synthetic)

    hospital = _copy(tmp_path, CLASSIFIER, command="mammo train classification --cohort site.yaml",
                     data="site: 412 masses (130 positive)", init={"from": "scratch"}, previous=None)
    block = provenance.models_block(DETECTOR, hospital)
    assert block["classifier"]["synthetic_training_data_only"] is False
    assert block["synthetic_training_data_only"] is False
    assert "not for clinical decisions" in block["intended_use"]
    assert "synthetic" not in block["intended_use"]
    assert "classifier: site: 412 masses (130 positive)" in block["intended_use"]
    assert "synthetic" not in provenance.notice(block) and "RESEARCH USE ONLY" in provenance.notice(block)


def test_fine_tuned_weights_whose_start_is_not_described_are_not_called_synthetic(tmp_path: Path) -> None:
    card = read_card(DETECTOR)
    orphan = _copy(tmp_path, DETECTOR, init={"from": "someone-elses.safetensors", "sha256": "0" * 64},
                   previous=card.get("previous"))
    stages, complete = provenance.training_stages(read_card(orphan))
    assert not complete and stages[0]["synthetic"]
    assert provenance.describe_model("detector", orphan)["synthetic_training_data_only"] is False


def test_weights_without_a_card_or_file_are_refused(tmp_path: Path) -> None:
    bare = tmp_path / "bare.safetensors"
    shutil.copy(DETECTOR, bare)
    with pytest.raises(MammoError, match="bare.safetensors has no model card"):
        provenance.describe_model("detector", bare)
    with pytest.raises(MammoError, match="does not exist"):
        provenance.describe_model("detector", tmp_path / "none.safetensors")
    with pytest.raises(MammoError, match="role must be one of"):
        provenance.describe_model("reader", DETECTOR)


def test_a_stage_rendered_into_an_out_folder_is_synthetic() -> None:
    """``mammo synth --which train ... --out data/train-v2`` renders the cohort whose data line starts "train-v2:"."""
    stage = {"command": "mammo synth --which train --patients 30 --out data/train-v2 --limit 20 && mammo train "
                        "detection --data data/train-v2", "data": "train-v2: 18 training + 2 validation exams of 20"}
    assert provenance.synthetic_stage(stage)
    assert not provenance.synthetic_stage({**stage, "data": "hospital: 18 training exams"})
    assert not provenance.synthetic_stage({**stage, "command": "mammo train detection --data data/train-v2"})
