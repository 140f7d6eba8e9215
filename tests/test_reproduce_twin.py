"""`mammo reproduce` renders the twin's missing images itself, with a progress bar on its own terminal."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import pytest

from mammo_lib.run import pipeline
from mammo_lib.synth import store


def _notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell('smoke: bool = False  # slice\nworkers: int = 2  # processes\n'
                                          'run_dir: str = ""  # run folder', metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("pass")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture()
def twin_notebooks(tmp_path: Path) -> dict[str, Path]:
    paths = {}
    for stem in ("00_overview", "02_synthetic_cohort", "03_preprocessing"):
        paths[stem] = tmp_path / f"{stem}.ipynb"
        _notebook(paths[stem])
    return paths


def test_which_twin_patients_a_run_renders(twin_notebooks: dict[str, Path], tmp_path: Path) -> None:
    first = sorted(pd.read_csv(store.cohort_files("twin").manifest)["patient_id"].unique())[:24]
    smoke, default = pipeline.get_profile("smoke"), pipeline.get_profile("default")
    nb00, nb02, nb03 = (twin_notebooks[s] for s in ("00_overview", "02_synthetic_cohort", "03_preprocessing"))
    assert pipeline.twin_patients_to_render([nb00], smoke, tmp_path) == (False, [], 1)
    needed, patients, workers = pipeline.twin_patients_to_render([nb00, nb02], smoke, tmp_path)
    assert needed and patients == first and workers == int(smoke.parameters.get("workers", 2))
    assert pipeline.twin_patients_to_render([nb02], default, tmp_path)[:2] == (True, None)
    assert pipeline.twin_patients_to_render([nb02, nb03], smoke, tmp_path)[:2] == (True, None)


def test_a_missing_twin_is_rendered_with_a_bar_on_stderr(twin_notebooks: dict[str, Path], tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MAMMO_DATA", str(tmp_path / "data"))  # no twin image on disk
    monkeypatch.setitem(pipeline.TWIN_IMAGE_NOTEBOOKS, "02_synthetic_cohort", 1)  # its first patient only
    done = pipeline.render_twin([twin_notebooks["02_synthetic_cohort"]], pipeline.get_profile("smoke"), tmp_path)
    err = capfd.readouterr().err
    assert done is not None and done["patients"] == 1 and done["seconds"] > 0
    assert "rendering" in err and "1/1" in err and "patient" in err  # the tqdm bar: done / total, rate
    first = sorted(pd.read_csv(store.cohort_files("twin").manifest)["patient_id"].unique())[0]
    assert (tmp_path / "data" / "twin" / "images" / first).is_dir()  # rendered, checked against the checksums
