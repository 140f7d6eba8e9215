"""Every committed notebook follows the house convention, and nbval really guards its checked numbers."""
from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill
import pytest

from mammo_lib.run import pipeline
from mammo_lib.paths import REPO_ROOT

NOTEBOOKS = sorted(pipeline.NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
REQUIRED_PARAMETERS = {"profile", "seed", "smoke", "run_dir"}
ABSOLUTE_PATH = re.compile(r"/(work|root|tmp|home|Users)/[A-Za-z0-9_.-]+")


def _parameters_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{len(tagged)} cells tagged 'parameters' (want exactly 1)"
    return tagged[0]


def test_notebook_names_follow_the_fixed_sequence() -> None:
    assert NOTEBOOKS, "no notebooks committed"
    for path in NOTEBOOKS:
        assert path.stem in pipeline.NOTEBOOKS, f"{path.name} is not in the fixed sequence {pipeline.NOTEBOOKS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_opens_with_what_it_reproduces_then_its_parameters(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].cell_type == "markdown" and "Reproduces" in nb.cells[0].source
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code is _parameters_cell(nb), "the parameters cell must be the first code cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_are_typed_commented_json_safe_and_all_seen_by_papermill(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    cell = _parameters_cell(nb)
    assigned = {}
    for node in ast.parse(cell.source).body:
        assert isinstance(node, ast.AnnAssign), f"untyped statement in parameters: {ast.unparse(node)}"
        assigned[node.target.id] = ast.literal_eval(node.value)
    for line in cell.source.splitlines():
        if ":" in line and "=" in line and not line.lstrip().startswith("#"):
            assert "#" in line, f"parameter without a comment: {line!r}"
    json.dumps(assigned)  # JSON-safe values only
    declared = papermill.inspect_notebook(str(path))
    assert set(declared) == set(assigned), f"papermill does not parse {sorted(set(assigned) - set(declared))}"
    assert REQUIRED_PARAMETERS <= set(assigned)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_defaults_are_the_default_profile(path: Path) -> None:
    """Committed outputs (defaults) and `mammo reproduce --profile default` must compute the same thing."""
    declared = papermill.inspect_notebook(str(path))
    profile = pipeline.get_profile("default")
    expected = {**profile.parameters, **profile.notebooks.get(path.name[:2], {})}
    for name, value in expected.items():
        if name in declared:
            assert ast.literal_eval(declared[name]["default"]) == value, f"{name} default differs from profile"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_are_checked_and_free_of_machine_paths(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    checked = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("# NBVAL_CHECK_OUTPUT")]
    assert checked, "no cell is checked by nbval"
    assert all(c.outputs for c in checked), "a checked cell has no stored output (run `make notebooks`)"
    assert not any(c.outputs and c.outputs[0].get("output_type") == "error" for c in nb.cells if c.cell_type == "code")
    text = json.dumps([c.get("outputs", []) for c in nb.cells])
    assert not ABSOLUTE_PATH.search(text), f"absolute path in stored outputs: {ABSOLUTE_PATH.search(text).group(0)}"


def test_editing_a_checked_number_makes_nbval_fail(tmp_path: Path) -> None:
    """The guard CI relies on: change one digit of a checked output and nbval must fail."""
    source = pipeline.NOTEBOOK_DIR / "00_overview.ipynb"
    nb = nbformat.read(source, as_version=4)
    cell = next(c for c in nb.cells if c.source.startswith("# NBVAL_CHECK_OUTPUT") and "DETECTION_TEXT" in c.source)
    stream = next(o for o in cell.outputs if o.output_type == "stream")
    assert "78.0% (482/618)" in stream.text
    stream.text = stream.text.replace("78.0% (482/618)", "78.1% (482/618)")
    target = tmp_path / "00_overview.ipynb"
    nbformat.write(nb, target)
    shutil.copy(REPO_ROOT / "tests" / "nbval_sanitize.cfg", tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(target), "--nbval-lax", "--nbval-current-env",
         "--nbval-sanitize-with", str(tmp_path / "nbval_sanitize.cfg"), "-p", "no:cacheprovider", "-q"],
        cwd=pipeline.NOTEBOOK_DIR, capture_output=True, text=True,
    )
    assert result.returncode != 0, result.stdout[-2000:]
    assert "78.1%" in result.stdout or "failed" in result.stdout
