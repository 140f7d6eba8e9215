"""Where things live: the repository, generated data, caches, run folders and outputs.

Every location can be moved with an environment variable so that notebooks, tests and CI never write
into places they were not asked to write into.

=====================  =====================================  ==========================================
variable               default                                holds
=====================  =====================================  ==========================================
``MAMMO_DATA``         ``<repo>/data``                        generated cohorts (twin, training), images
``MAMMO_CACHE``        ``<data>/cache``                       preprocessed arrays, model-output caches
``MAMMO_RUNS``         ``<repo>/runs``                        ``mammo reproduce`` run folders
``MAMMO_RUN_DIR``      unset                                  where a notebook run writes tables/figures
``MAMMO_SHARED``       ``<repo>/../shared``                   the paper, reference data, real images
=====================  =====================================  ==========================================
"""
from __future__ import annotations

import os
from pathlib import Path

#: The repository root (the folder that holds ``mammo_lib/``).
REPO_ROOT = Path(__file__).resolve().parent.parent


def _env_path(name: str, default: Path) -> Path:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser().resolve() if value else default


def data_dir() -> Path:
    """Folder of generated cohorts (never committed)."""
    return _env_path("MAMMO_DATA", REPO_ROOT / "data")


def cache_dir() -> Path:
    """Folder of caches keyed by content checksums (safe to delete)."""
    return _env_path("MAMMO_CACHE", data_dir() / "cache")


def runs_dir() -> Path:
    """Parent folder of ``mammo reproduce`` run folders."""
    return _env_path("MAMMO_RUNS", REPO_ROOT / "runs")


def shared_dir() -> Path | None:
    """``../shared`` beside the checkout (paper, reference data, real images), or None if absent."""
    path = _env_path("MAMMO_SHARED", REPO_ROOT.parent / "shared")
    return path if path.is_dir() else None


def weights_dir() -> Path:
    """Shipped model weights and their model cards (committed)."""
    return REPO_ROOT / "mammo_lib" / "weights"


def output_dirs(run_dir: str = "") -> tuple[Path, Path]:
    """Return ``(tables_dir, figures_dir)`` for a notebook's outputs, creating them.

    ``run_dir`` is the notebook parameter of the same name: non-empty means a run folder (as made by
    ``mammo reproduce``); empty falls back to ``$MAMMO_RUN_DIR`` (set by the test suite so that nbval
    never touches committed outputs) and then to the repository's committed ``tables/`` and ``figures/``,
    which ``make notebooks`` refreshes on purpose.
    """
    base = run_dir.strip() or os.environ.get("MAMMO_RUN_DIR", "").strip()
    if base:
        root = Path(base).expanduser().resolve()
        tables, figures = root / "tables", root / "figures"
    else:
        tables, figures = REPO_ROOT / "tables", REPO_ROOT / "figures"
    tables.mkdir(parents=True, exist_ok=True)
    figures.mkdir(parents=True, exist_ok=True)
    return tables, figures
