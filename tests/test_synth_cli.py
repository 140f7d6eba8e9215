"""``mammo synth`` refuses bad options with one clear line and exit code 2."""
from __future__ import annotations

import pytest

from mammo_lib.cli import main


@pytest.mark.parametrize(("argv", "message"), [
    (["synth", "--which", "train", "--patients", "-5"], "--patients must be a positive number, got -5"),
    (["synth", "--workers", "0"], "--workers must be >= 1, got 0"),
    (["synth", "--patients", "10"], "the twin is fixed"),
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
