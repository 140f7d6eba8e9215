"""Shared fixtures. Tests build their own small fixtures; tests that read ../shared skip without it."""
from __future__ import annotations

from pathlib import Path

import pytest

from mammo_lib.paths import shared_dir


@pytest.fixture(scope="session")
def shared() -> Path:
    """``../shared`` beside the checkout, or skip the test."""
    path = shared_dir()
    if path is None:
        pytest.skip("../shared is not beside this checkout")
    return path


@pytest.fixture(autouse=True)
def _isolated_outputs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests never write into the repository's runs/, tables/ or figures/."""
    scratch = tmp_path_factory.mktemp("mammo-out")
    monkeypatch.setenv("MAMMO_RUNS", str(scratch / "runs"))
    monkeypatch.setenv("MAMMO_RUN_DIR", str(scratch / "run"))
