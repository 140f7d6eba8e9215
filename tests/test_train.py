"""The shared training loop: loss goes down, resume is exact, DDP over gloo, weights export/refusal, CLI."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from _toy_task import ToyTask
from mammo_lib.training import loop as train
from mammo_lib.errors import MammoError
from mammo_lib.models import registry, weights
from mammo_lib.paths import REPO_ROOT


def _config(out: Path, **kw: object) -> train.TrainConfig:
    base = {"out_dir": str(out), "epochs": 4, "batch_size": 8, "lr": 0.02, "seed": 7, "progress": False,
            "device": "cpu"}
    return train.TrainConfig(**{**base, **kw})


def test_training_loss_goes_down_on_a_learnable_task(tmp_path: Path) -> None:
    result = train.fit(ToyTask(), _config(tmp_path / "run", epochs=6))
    losses = [r["train_loss"] for r in result.history]
    assert len(result.history) == 6
    assert losses[-1] < 0.5 * losses[0]
    assert result.history[-1]["val_metric"] < result.history[0]["val_metric"]
    assert (tmp_path / "run" / "last.pt").is_file()
    assert json.loads((tmp_path / "run" / "history.json").read_text()) == result.history


def test_same_seed_gives_identical_weights(tmp_path: Path) -> None:
    a = train.fit(ToyTask(), _config(tmp_path / "a", epochs=2)).model.state_dict()
    b = train.fit(ToyTask(), _config(tmp_path / "b", epochs=2)).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resumed_run_equals_uninterrupted_run(tmp_path: Path) -> None:
    full = train.fit(ToyTask(), _config(tmp_path / "full", epochs=4, keep_epoch_checkpoints=True))
    # An interrupted run: only the checkpoint written after epoch 2 survives.
    (tmp_path / "cut").mkdir()
    shutil.copy(tmp_path / "full" / "epoch_002.pt", tmp_path / "cut" / "last.pt")
    resumed = train.fit(ToyTask(), _config(tmp_path / "cut", epochs=4))
    assert resumed.resumed_from_epoch == 2
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in full.history]
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_wall_time_adds_up_over_resumes(tmp_path: Path) -> None:
    first = train.fit(ToyTask(), _config(tmp_path / "w", epochs=2))
    before = first.history[-1]["wall_time_s"]
    assert before > 0 and first.history[0]["wall_time_s"] <= before
    more = train.fit(ToyTask(), _config(tmp_path / "w", epochs=3))
    assert more.resumed_from_epoch == 2 and more.history[-1]["wall_time_s"] >= before
    assert more.wall_time_s >= more.history[-1]["wall_time_s"]
    # nothing left to train: the run's time is the recorded one, not the seconds spent reloading
    assert train.fit(ToyTask(), _config(tmp_path / "w", epochs=3)).wall_time_s == more.history[-1]["wall_time_s"]


def test_no_resume_starts_over(tmp_path: Path) -> None:
    train.fit(ToyTask(), _config(tmp_path / "r", epochs=2))
    again = train.fit(ToyTask(), _config(tmp_path / "r", epochs=2, resume=False))
    assert again.resumed_from_epoch == 0 and len(again.history) == 2


def test_max_steps_per_epoch_caps_the_steps(tmp_path: Path) -> None:
    result = train.fit(ToyTask(), _config(tmp_path / "cap", epochs=1, max_steps_per_epoch=2, lr=0.01))
    # cosine schedule over 1 epoch x 2 steps ends at lr 0
    assert result.history[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_bad_config_values_are_refused_by_name() -> None:
    with pytest.raises(MammoError, match="TrainConfig.epochs must be >= 1, got 0"):
        train.TrainConfig(out_dir="x", epochs=0)
    with pytest.raises(MammoError, match="amp_dtype"):
        train.TrainConfig(out_dir="x", amp_dtype="int8")


def test_checkpoint_of_another_architecture_is_refused(tmp_path: Path) -> None:
    train.fit(ToyTask(), _config(tmp_path / "c", epochs=1))
    with pytest.raises(MammoError, match="architecture 'toy-linear-v1', expected 'other'"):
        train.load_checkpoint(tmp_path / "c" / "last.pt", "other")


def test_exported_weights_are_fp16_and_load_back(tmp_path: Path) -> None:
    task = ToyTask()
    model = task.build_model()
    card = weights.export_weights(model, tmp_path / "toy.safetensors", architecture=task.architecture,
                                card={"seed": 1})
    written = json.loads((tmp_path / "toy.json").read_text())
    assert written == card and written["dtype"] == "float16" and written["seed"] == 1
    assert len(written["sha256"]) == 64
    fresh = weights.load_weights(task.build_model(), tmp_path / "toy.safetensors", architecture=task.architecture)
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value.half().float())


def test_corrupt_weights_are_refused(tmp_path: Path) -> None:
    task = ToyTask()
    path = tmp_path / "toy.safetensors"
    weights.export_weights(task.build_model(), path, architecture=task.architecture, card={})
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(MammoError, match="is corrupt: sha256"):
        weights.load_weights(task.build_model(), path, architecture=task.architecture)
    path.write_bytes(b"not a safetensors file at all")
    with pytest.raises(MammoError, match="not a readable safetensors file"):
        weights.load_weights(task.build_model(), path, architecture=task.architecture, check_sha256=False)


def test_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "toy.safetensors"
    weights.export_weights(ToyTask().build_model(), path, architecture="toy-linear-v1", card={})
    with pytest.raises(MammoError, match="holds architecture 'toy-linear-v1', expected 'detection-x'"):
        weights.load_weights(ToyTask().build_model(), path, architecture="detection-x")
    wider = ToyTask(hidden=32).build_model()
    with pytest.raises(MammoError, match="does not fit architecture.*of other shape"):
        weights.load_weights(wider, path, architecture="toy-linear-v1")


def test_missing_weights_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(MammoError, match="does not exist"):
        weights.load_weights(ToyTask().build_model(), tmp_path / "nope.safetensors", architecture="toy-linear-v1")


def test_train_cli_trains_and_exports_with_model_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.TASKS, "detection", "_toy_task")
    from mammo_lib import cli

    code = cli.main(["train", "detection", "--smoke", "--device", "cpu", "--out", str(tmp_path / "run"),
                     "--export", str(tmp_path / "w" / "toy.safetensors"), "--option", "hidden=12"])
    assert code == 0
    card = json.loads((tmp_path / "w" / "toy.json").read_text())
    assert card["epochs"] == 2 and card["seed"] == 20231027 and card["architecture"] == "toy-linear-v1"
    assert card["metrics"]["val_mse"] == card["history"][-1]["val_metric"]
    assert card["wall_time_s"] >= 0 and "process(es)" in card["hardware"]
    weights.load_weights(ToyTask(hidden=12).build_model(), tmp_path / "w" / "toy.safetensors",
                       architecture="toy-linear-v1")


def test_model_card_reports_the_selected_epoch_not_the_last(tmp_path: Path) -> None:
    history = [{"epoch": e, "train_loss": loss, "val_metric": metric}
               for e, loss, metric in [(1, 3.0, 0.50), (2, 2.0, 0.70), (3, 1.5, 0.60)]]
    result = train.FitResult(model=torch.nn.Linear(1, 1), history=history, wall_time_s=1.0,
                             checkpoint=tmp_path / "last.pt", hardware="cpu", extra={"selected_epoch": 2})
    card = train.model_card(result, task=ToyTask(), config=_config(tmp_path, selection="best"), command="x")
    # the exported weights are epoch 2's, so the card's headline metrics are too
    assert card["selected_epoch"] == 2 and card["metrics"]["val_mse"] == 0.70 and card["metrics"]["train_loss"] == 2.0


def test_bad_option_is_a_clear_cli_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(registry.TASKS, "detection", "_toy_task")
    from mammo_lib import cli

    assert cli.main(["train", "detection", "--option", "hidden", "--out", str(tmp_path)]) == 2
    assert "--option expects KEY=VALUE, got 'hidden'" in capsys.readouterr().err


DDP_SCRIPT = textwrap.dedent("""
    import os, sys, torch
    sys.path.insert(0, sys.argv[2])
    from _toy_task import ToyTask
    from mammo_lib.training import loop as train
    out = sys.argv[1]
    cfg = train.TrainConfig(out_dir=out, epochs=3, batch_size=4, lr=0.02, seed=3, progress=False, device="cpu")
    result = train.fit(ToyTask(), cfg)
    torch.save({"state": result.model.state_dict(), "world": result.world_size, "history": result.history},
               os.path.join(out, f"rank{os.environ['RANK']}.pt"))
""")


def test_two_process_gloo_ddp_run_via_torchrun(tmp_path: Path) -> None:
    script = tmp_path / "ddp_fit.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "ddp"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script), str(out), str(Path(__file__).parent)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    assert r0["world"] == r1["world"] == 2
    assert all(torch.equal(r0["state"][k], r1["state"][k]) for k in r0["state"])   # replicas stay in sync
    assert r0["history"] == r1["history"] and len(r0["history"]) == 3
    assert r0["history"][-1]["train_loss"] < r0["history"][0]["train_loss"]
    assert (out / "last.pt").is_file()


def test_fine_tuning_loads_its_starting_weights_through_the_task_when_the_task_converts_them(tmp_path: Path) -> None:
    """A task with ``load_init`` (the detector's space-to-depth conversion) loads the starting weights itself."""
    start = ToyTask()
    weights.export_weights(start.build_model(), tmp_path / "start.safetensors", architecture=start.architecture,
                           card={"seed": 1})
    calls: list[str] = []

    class Converting(ToyTask):
        def load_init(self, model: torch.nn.Module, path: str) -> None:
            calls.append(Path(path).name)
            weights.load_weights(model, path, architecture=self.architecture)

    train.fit(Converting(), _config(tmp_path / "ft", epochs=1, init_weights=str(tmp_path / "start.safetensors")))
    assert calls == ["start.safetensors"]
