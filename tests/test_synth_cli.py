"""``mammo synth`` refuses bad options with one clear line and exit code 2."""
from __future__ import annotations

import pytest

from mammo_lib.cli import main
from mammo_lib.errors import MammoError


@pytest.mark.parametrize(("argv", "message"), [
    (["synth", "--which", "train", "--patients", "-5"], "--patients must be a positive number, got -5"),
    (["synth", "--workers", "0"], "--workers must be >= 1, got 0"),
    (["synth", "--patients", "10"], "the twin is fixed"),
    (["synth", "--which", "train", "--limit", "5"], "--resume and --limit apply to a render into --out DIR"),
    (["synth", "--which", "train", "--limit", "0", "--out", "/nonexistent-mammo-out"], "--limit must be a positive"),
    (["synth", "--which", "train", "--update-committed"], "--update-committed applies to the twin only"),
    (["synth", "--phantom", "v1"], "--phantom and --pitch-mm need --out DIR"),
    (["synth", "--pitch-mm", "0.1"], "--phantom and --pitch-mm need --out DIR"),
    (["synth", "--phantom", "v1", "--pitch-mm", "0.1", "--out", "/nonexistent-mammo-out"],
     "--pitch-mm applies to --phantom v2 only"),
    (["synth", "--out", "/nonexistent-mammo-out", "--update-committed"],
     "apply to the committed twin, not to --out"),
    (["synth", "--out", "/nonexistent-mammo-out", "--update-readers"],
     "apply to the committed twin, not to --out"),
    (["synth", "--which", "train", "--update-readers"], "--update-readers and --calibrate-readers apply to the twin"),
    (["synth", "--reader-mode", "observer"], "--reader-mode applies to --calibrate-readers and --update-readers"),
    (["synth", "--phantom", "v2", "--out", "/nonexistent-mammo-out", "--pitch-mm", "fine"],
     "--pitch-mm must be a number in mm or 'native', got 'fine'"),
])
def test_bad_options_exit_2_with_a_message(argv: list[str], message: str, capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_training_seed_equal_to_the_twin_seed_is_refused(capsys: pytest.CaptureFixture, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MAMMO_DATA", str(tmp_path))
    assert main(["synth", "--which", "train", "--patients", "2", "--seed", "20231027"]) == 2
    assert "may not use the twin's seed" in capsys.readouterr().err


def test_out_render_resumes_to_the_same_cohort(tmp_path):
    """An interrupted --out render, resumed, lists the same images with the same bytes as one rendered in one go;
    without --resume a non-empty folder is refused, and --resume refuses another configuration."""
    import pandas as pd

    from mammo_lib.synth import generate
    from mammo_lib.synth.config import train_config

    cfg = train_config(3, 7).with_(pitch_mm=0.5)
    whole = generate.render_resumable(cfg, tmp_path / "whole", chunk=3)
    part = tmp_path / "part"
    generate.render_resumable(cfg, part, chunk=1)
    # an interruption after the first chunk: the tables list one patient only
    first = whole["patient_id"].iloc[0]
    for name in ("data_manifest.csv", "data_findings.csv", "truth_views.csv"):
        table = pd.read_csv(part / name)
        key = "patient_id" if "patient_id" in table else "image_id"
        keep = table[key].isin(whole.loc[whole["patient_id"] == first, key])
        table[keep].to_csv(part / name, index=False)
    with pytest.raises(MammoError, match="not empty"):
        generate.render_resumable(cfg, part)
    with pytest.raises(MammoError, match="another configuration"):
        generate.render_resumable(train_config(4, 7).with_(pitch_mm=0.5), part, resume=True)
    resumed = generate.render_resumable(cfg, part, resume=True)
    key = ["image_id", "sha256"]
    assert sorted(map(tuple, resumed[key].values)) == sorted(map(tuple, whole[key].values))
    assert len(pd.read_csv(part / "data_findings.csv")) == len(pd.read_csv(tmp_path / "whole" / "data_findings.csv"))
    # a prefix: --limit 1 renders the cohort's first patient, the same bytes
    prefix = generate.render_resumable(cfg, tmp_path / "prefix", limit=1)
    assert sorted(map(tuple, prefix[key].values)) == sorted(map(tuple, whole[whole["patient_id"] == first][key].values))
