"""`mammo reproduce`: profiles, notebook selection, run folders that never overwrite, clear failures."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mammo_lib.run import pipeline
from mammo_lib.errors import MammoError


def _write_notebook(path: Path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# test notebook\nReproduces: nothing"),
        nbformat.v4.new_code_cell(
            'profile: str = "default"  # profile\nseed: int = 1  # seed\nrun_dir: str = ""  # run folder',
            metadata={"tags": ["parameters"]},
        ),
        nbformat.v4.new_code_cell(body),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture()
def notebook_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _write_notebook(folder / "00_overview.ipynb", (
        "from pathlib import Path\n"
        "out = Path(run_dir) / 'tables'\n"
        "(out / 'seen.csv').write_text(f'profile,seed\\n{profile},{seed}\\n')"
    ))
    monkeypatch.setattr(pipeline, "NOTEBOOK_DIR", folder)
    return folder


def test_unknown_profile_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(MammoError, match="unknown profile 'nope'"):
        pipeline.reproduce("nope", out=str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_unknown_notebook_number_is_refused() -> None:
    with pytest.raises(MammoError, match="unknown notebook number '42'"):
        pipeline.select_notebooks(["42"])


def test_only_accepts_short_numbers_and_skips_absent_notebooks(notebook_dir: Path) -> None:
    assert [p.name for p in pipeline.select_notebooks(["0", "07"])] == ["00_overview.ipynb"]


def test_out_folder_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("earlier result")
    with pytest.raises(MammoError, match="exists and is not an empty folder"):
        pipeline.new_run_dir("default", str(tmp_path))
    assert (tmp_path / "old.txt").read_text() == "earlier result"


def test_unwritable_out_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(MammoError, match="cannot write the run folder"):
        pipeline.new_run_dir("default", str(blocker / "run"))


def test_profiles_file_names_only_known_notebooks() -> None:
    profiles = pipeline.load_profiles()
    assert {"default", "smoke"} <= set(profiles)


def test_per_notebook_value_for_an_undeclared_parameter_is_refused(notebook_dir: Path, tmp_path: Path) -> None:
    profile = pipeline.Profile("p", "", 60, {"seed": 3}, {"00": {"n_patients": 5}})
    with pytest.raises(MammoError, match="declares no such parameter"):
        pipeline.notebook_parameters(notebook_dir / "00_overview.ipynb", profile, tmp_path)


def test_two_runs_make_two_run_folders_with_records(notebook_dir: Path) -> None:
    first = pipeline.reproduce("smoke", progress=False)
    second = pipeline.reproduce("smoke", progress=False)
    assert first != second and first.parent == second.parent
    assert (first / "tables" / "seen.csv").read_text() == "profile,seed\nsmoke,20231027\n"
    record = json.loads((first / "run.json").read_text())
    assert record["status"] == "ok" and record["profile"] == "smoke"
    assert record["notebooks"][0]["parameters"]["run_dir"] == str(first)
    assert set(record["outputs_sha256"]) >= {"tables/seen.csv", "executed/00_overview.ipynb"}
    assert "torch" in record["packages"] and "cuda" in record["device"]


def test_failing_notebook_stops_the_run_and_keeps_earlier_outputs(notebook_dir: Path, tmp_path: Path) -> None:
    _write_notebook(notebook_dir / "01_data.ipynb", "x = 1\nraise RuntimeError('manifest broken')")
    _write_notebook(notebook_dir / "02_synthetic_cohort.ipynb", "pass")
    with pytest.raises(MammoError, match=r"01_data.ipynb failed in cell \d+: RuntimeError: manifest broken"):
        pipeline.reproduce("default", out=str(tmp_path / "run"), progress=False)
    run = tmp_path / "run"
    assert (run / "tables" / "seen.csv").exists()
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "failed"
    assert [n["status"] for n in record["notebooks"]] == ["ok", "failed"]
    assert not (run / "executed" / "02_synthetic_cohort.ipynb").exists()


def test_an_interrupted_run_is_marked_interrupted_in_run_json(notebook_dir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(papermill, "execute_notebook", interrupted)
    with pytest.raises(KeyboardInterrupt):
        pipeline.reproduce("default", out=str(tmp_path / "run"), progress=False)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "interrupted" and record["notebooks"][0]["status"] == "interrupted"
    assert record["cohort"]["name"] == "twin" and len(record["cohort"]["fingerprint"]) == 64


def test_only_06_without_04s_outputs_says_which_notebook_to_run_first(notebook_dir: Path, tmp_path: Path) -> None:
    _write_notebook(notebook_dir / "06_density_stratified.ipynb", "pass")
    with pytest.raises(MammoError, match=r"06_density_stratified reads dl_detection_per_mass.csv, written by "
                                         r"04_detection, .* run notebook 04 first \(mammo reproduce --only 04 06\)"):
        pipeline.reproduce("default", only=["06"], out=str(tmp_path / "run"), progress=False)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["status"] == "failed" and record["notebooks"][0]["status"] == "not run"
    assert not (tmp_path / "run" / "executed" / "06_density_stratified.ipynb").exists()


def test_declared_inputs_present_let_the_notebook_run(notebook_dir: Path, tmp_path: Path) -> None:
    tables_dir = tmp_path / "tables"
    tables_dir.mkdir()
    with pytest.raises(MammoError, match="07_tables_and_roc reads dl_scores_per_mass.csv, written by 05_classification"):
        pipeline.check_inputs("07_tables_and_roc", tables_dir)
    (tables_dir / "dl_scores_per_mass.csv").write_text("mass_id\n")
    pipeline.check_inputs("07_tables_and_roc", tables_dir)
    with pytest.raises(MammoError, match="needs a cohort manifest and nope.csv does not exist"):
        pipeline.check_inputs("07_tables_and_roc", tables_dir, manifest=tmp_path / "nope.csv")
    assert all(w in pipeline.NOTEBOOKS and w < n for n, files in pipeline.NOTEBOOK_INPUTS.items() for _, w in files)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["reproduce", "--profile", "nope"], "unknown profile 'nope'"),
        (["reproduce", "--only", "77"], "unknown notebook number '77'"),
        (["reproduce", "--out", "/proc/version"], "--out /proc/version: exists and is not an empty folder"),
    ],
)
def test_cli_bad_input_gives_one_line_and_exit_2(args: list[str], message: str) -> None:
    env = {**os.environ}
    result = subprocess.run([sys.executable, "-m", "mammo_lib", *args], capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"mammo reproduce: error: {message}"] or message in result.stderr
    assert "Traceback" not in result.stderr


_INTERRUPTED_RUN = """
import sys
from pathlib import Path
from mammo_lib import cli
from mammo_lib.run import pipeline
pipeline.NOTEBOOK_DIR = Path(sys.argv[1])
raise SystemExit(cli.main(["reproduce", "--only", "00", "--out", sys.argv[2], "--no-progress"]))
"""


def test_ctrl_c_stops_the_notebook_with_one_line_and_unrun_cells_carry_no_execution_mark(notebook_dir: Path,
                                                                                         tmp_path: Path) -> None:
    import signal
    import time

    _write_notebook(notebook_dir / "00_overview.ipynb",
                    "import time\nfrom pathlib import Path\nPath(run_dir, 'started').write_text('1')\ntime.sleep(120)")
    nb = nbformat.read(notebook_dir / "00_overview.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("never = 1\nprint(never)"))
    nbformat.write(nb, notebook_dir / "00_overview.ipynb")
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(pipeline.REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _INTERRUPTED_RUN, str(notebook_dir), str(run)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            # as a terminal starts it: a background job (make under nohup, CI) inherits SIGINT ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 180
        while not (run / "started").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (run / "started").exists(), f"the notebook's cell never started: {proc.poll()}"
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C: the whole process group
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("mammo reproduce did not stop within 30 s of Ctrl-C")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130
    assert [line for line in stderr.splitlines() if line.strip()] == ["mammo reproduce: interrupted"]
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "interrupted" and record["notebooks"][0]["status"] == "interrupted"
    executed = nbformat.read(run / "executed" / "00_overview.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    statuses = [c.metadata["papermill"]["status"] for c in code]
    assert statuses == ["completed", "completed", "interrupted", "pending"]  # parameters, injected, sleep, never
    assert code[-1].execution_count is None and code[-1].outputs == []
    assert code[-1].metadata["papermill"]["end_time"] is None
