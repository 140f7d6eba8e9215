"""Shared fixtures. Tests build their own small fixtures; tests that read ../shared skip without it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from mammo_lib.paths import shared_dir
from mammo_lib.progress import BATCH_ENV

# nbval's kernels inherit this process's environment: batch kernels draw text progress bars and show the
# widgets' static default views (mammo_lib.progress, mammo_lib.teaching), as under `mammo reproduce`.
os.environ.setdefault(BATCH_ENV, "1")


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
