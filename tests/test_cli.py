"""The `mammo` command: dispatch, help and one-line errors."""
from __future__ import annotations

import subprocess
import sys

import pytest

from mammo_lib import cli


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("reproduce", "verify", "synth", "preprocess", "train"):
        assert name in out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["frobnicate"])
    assert exc.value.code == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_command() -> None:
    result = subprocess.run([sys.executable, "-m", "mammo_lib", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("mammo ")
