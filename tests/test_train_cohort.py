"""Training on a user's cohort (issue 14): the split guard inside both training tasks, ``mammo train --cohort``
and a reproduction whose cohort file says ``weights: train`` (smoke-sized): its weights are trained on the train
role only, written with their cards into the run folder and used by notebooks 04 and 05."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

import _cohorts
from mammo_lib.run import pipeline
from mammo_lib.checksums import sha256_file
from mammo_lib.data.cohort import WEIGHTS_COLUMN, exam_roles, read_cohort, weights_file
from mammo_lib.errors import MammoError
from mammo_lib.models.weights import read_card
from mammo_lib.paths import weights_dir
from mammo_lib.vocab import DL_DETECTION_FILE, DL_SCORES_FILE


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> _cohorts.Source:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    return _cohorts.generate_source(tmp_path_factory.mktemp("generated"))


def _training_cohort(source: _cohorts.Source, root: Path, init: str = "") -> Path:
    cohort_file = _cohorts.hospital_export(source, root)
    text = cohort_file.read_text().replace("weights: shipped\n", "weights: train\n" + (f"init: {init}\n" if init else ""))
    cohort_file.write_text(text)
    return cohort_file


def _test_exams(spec) -> set[str]:
    roles = exam_roles(spec.load(check_files=False).images, spec)
    return set(roles.index[roles == "test"])


@pytest.mark.parametrize("model", ["detection", "classification"])
def test_a_training_task_holds_no_exam_of_the_test_role(source: _cohorts.Source, tmp_path: Path, model: str) -> None:
    from mammo_lib.models.registry import task_factory

    spec = read_cohort(_training_cohort(source, tmp_path / "hospital"))
    task, _ = task_factory(model)(spec, seed=1, smoke=False, options={})
    test = _test_exams(spec)
    assert test, "the fixture must have test exams for this test to mean anything"
    used = set(task.studies["train"]) | set(task.studies["val"])
    assert used and not used & test
    roles = exam_roles(spec.load(check_files=False).images, spec)
    assert set(task.studies["train"]) <= set(roles.index[roles == "train"])
    assert "exams of the test role never used" in task.data_description


def test_weights_train_without_a_run_folder_names_what_to_run(source: _cohorts.Source, tmp_path: Path) -> None:
    spec = read_cohort(_training_cohort(source, tmp_path / "hospital"))
    with pytest.raises(MammoError, match=r"weights: train: no detection weights trained in a run folder .*mammo "
                                         r"reproduce --cohort"):
        weights_file(spec, "detection")


def test_init_is_refused_without_weights_train(source: _cohorts.Source, tmp_path: Path) -> None:
    cohort_file = _cohorts.hospital_export(source, tmp_path / "hospital")
    cohort_file.write_text(cohort_file.read_text() + "init: shipped\n")
    with pytest.raises(MammoError, match=r"cohort.yaml: init: only with weights: train"):
        read_cohort(cohort_file)


def test_reproduce_trains_on_the_train_role_and_uses_the_run_weights(source: _cohorts.Source, tmp_path: Path) -> None:
    cohort_file = _training_cohort(source, tmp_path / "hospital", init="shipped")
    spec = read_cohort(cohort_file)
    run_dir = pipeline.reproduce("smoke", only=["04", "05", "09"], out=str(tmp_path / "run"), progress=False,
                                 cohort=cohort_file)
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "ok" and record["cohort"]["weights"] == "train" and record["cohort"]["init"] == "shipped"
    trained = {r["model"]: r for r in record["training"]}
    assert [trained[m]["status"] for m in ("detection", "classification")] == ["ok", "ok"]
    test = _test_exams(spec)
    for model, table in (("detection", DL_DETECTION_FILE), ("classification", DL_SCORES_FILE)):
        weights = run_dir / "weights" / f"{model}.safetensors"
        card = read_card(weights)
        assert card["init"] == {"from": f"{model}.safetensors", "sha256": sha256_file(weights_dir() / f"{model}.safetensors")}
        assert card["selection"].startswith("the epoch with the highest validation metric")
        exams = pd.read_csv(run_dir / "weights" / f"{model}_exams.csv", dtype=str)
        assert set(exams["role"]) <= {"train", "val"} and not set(exams["study_id"]) & test
        assert card["exams"] == exams["role"].value_counts().to_dict()
        outputs = pd.read_csv(run_dir / "tables" / table, dtype={"mass_id": str})
        # notebooks 04/05 ran with the weights trained in this run, not the shipped ones
        assert set(outputs[WEIGHTS_COLUMN]) == {sha256_file(weights)} != {sha256_file(weights_dir() / f"{model}.safetensors")}
        assert trained[model]["weights_sha256"] == sha256_file(weights)
    # notebook 09 shows where the weights came from and counts the test-role exams among those that trained them
    summary = pd.read_csv(run_dir / "tables" / "training_weights.csv")
    assert summary["weights"].tolist() == ["train", "train"] and summary["test_role_exams_used"].tolist() == [0, 0]
    assert (summary["start"] == summary["model"] + ".safetensors").all()


def test_mammo_train_cohort_fine_tunes_on_the_train_role(source: _cohorts.Source, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from mammo_lib.cli import main

    cohort_file = _training_cohort(source, tmp_path / "hospital")
    target = tmp_path / "out" / "detection.safetensors"
    code = main(["train", "detection", "--cohort", str(cohort_file), "--init", "shipped", "--selection", "best",
                 "--smoke", "--out", str(tmp_path / "ckpt"), "--export", str(target)])
    card = read_card(target)
    assert code == 0 and card["init"]["from"] == "detection.safetensors" and card["selected_epoch"] == 1
    assert card["exams"]["train"] >= 1 and "hospital-export" in card["data"]
    assert main(["train", "detection", "--cohort", str(cohort_file), "--init", "nowhere.safetensors", "--smoke"]) == 2
    assert "--init nowhere.safetensors: weights file nowhere.safetensors does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("model", ["detection", "classification"])
def test_validate_scores_weights_on_the_validation_exams_training_selects_by(
        source: _cohorts.Source, tmp_path: Path, model: str, capsys: pytest.CaptureFixture[str]) -> None:
    """``mammo train MODEL --validate WEIGHTS`` trains nothing and prints the task's own validation metric of those
    weights on the exams a training run with the same seed validates on (how a new model meets the shipped one)."""
    import math

    from mammo_lib.cli import main
    from mammo_lib.training.on_cohort import validate_weights

    spec = read_cohort(_training_cohort(source, tmp_path / "hospital"))
    shipped = weights_dir() / f"{model}.safetensors"
    metric = validate_weights(model, spec, shipped, seed=3)
    assert math.isfinite(metric) and 0.0 <= metric <= 1.0
    assert main(["train", model, "--cohort", str(spec.source), "--seed", "3", "--validate", "shipped"]) == 0
    assert f"validation metric {metric:.4f}" in capsys.readouterr().out
    assert main(["train", model, "--cohort", str(spec.source), "--validate", "none.safetensors"]) == 2
    assert "--validate none.safetensors: weights file does not exist" in capsys.readouterr().err
