"""Jupyter plumbing: encrypted kernel transport, batch progress bars, the project kernelspec, `make lab`'s
command, and the HTML report `mammo reproduce` writes."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from mammo_lib import progress
from mammo_lib.run import jupyter, pipeline, report


def _notebook(path: Path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# test\nReproduces: nothing"),
                nbformat.v4.new_code_cell('profile: str = "default"  # profile\nrun_dir: str = ""  # run folder',
                                          metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_reproduce_prints_no_transport_warning_and_writes_the_report(tmp_path: Path, capfd: pytest.CaptureFixture,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook(folder / "00_overview.ipynb", "import os\nfrom mammo_lib.progress import tqdm_class\n"
                                            "print(os.environ.get('MAMMO_BATCH_KERNEL'), tqdm_class().__module__)")
    monkeypatch.setattr(pipeline, "NOTEBOOK_DIR", folder)
    monkeypatch.delenv(progress.BATCH_ENV, raising=False)
    run = pipeline.reproduce("default", out=str(tmp_path / "run"), progress=False)
    captured = capfd.readouterr()
    assert "without encryption" not in captured.out + captured.err  # the kernel's stderr is this process's
    executed = nbformat.read(run / "executed" / "00_overview.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"].strip() == "1 tqdm.std"  # a batch kernel: text bars
    assert progress.BATCH_ENV not in os.environ  # restored after the run
    index = (run / "report" / "index.html").read_text()
    assert "href='00_overview.html'" in index and "01_data (not run)" in index
    assert "Provenance" in index and "profile" in index
    assert (run / "report" / "00_overview.html").is_file()


def test_progress_bars_are_text_in_batch_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    from tqdm import auto, std

    monkeypatch.setenv(progress.BATCH_ENV, "1")
    assert progress.tqdm_class() is std.tqdm
    monkeypatch.delenv(progress.BATCH_ENV)
    assert progress.tqdm_class() is auto.tqdm


def test_kernel_manager_provisions_curve_keys_where_pyzmq_can() -> None:
    import zmq

    manager = jupyter.EncryptedKernelManager(kernel_name="python3")
    assert manager.transport_encryption == ("auto" if zmq.has("curve") else "disabled")


def test_lab_command_allows_root_only_as_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    as_root = jupyter.lab_command(tmp_path, ["--no-browser"])
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    as_user = jupyter.lab_command(tmp_path)
    assert "--allow-root" in as_root and "--allow-root" not in as_user
    assert as_root[:4] == [sys.executable, "-m", "jupyterlab", str(tmp_path)] and as_root[-1] == "--no-browser"
    assert f"--MappingKernelManager.default_kernel_name={jupyter.KERNEL_NAME}" in as_user
    assert any(a.startswith("--KernelManager.transport_encryption=") for a in as_user)


def test_project_kernelspec_runs_this_python_and_is_installed_once(tmp_path: Path) -> None:
    folder = jupyter.ensure_kernelspec(tmp_path)
    spec = json.loads((folder / "kernel.json").read_text())
    assert folder == tmp_path / "share" / "jupyter" / "kernels" / jupyter.KERNEL_NAME
    assert spec["argv"][0] == sys.executable and spec["display_name"] == jupyter.KERNEL_DISPLAY_NAME
    stamp = (folder / "kernel.json").stat().st_mtime_ns
    jupyter.ensure_kernelspec(tmp_path)
    assert (folder / "kernel.json").stat().st_mtime_ns == stamp


def test_report_lists_items_scorecard_and_provenance(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "executed").mkdir(parents=True)
    (run / "tables").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", execution_count=1, outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="chi2 13.3 <b>\n")])])
    nbformat.write(nb, run / "executed" / "06_density_stratified.ipynb")
    (run / "run.json").write_text(json.dumps({"profile": "smoke", "git": {"commit": "abc123", "dirty": True},
                                              "notebooks": [{"notebook": "06_density_stratified.ipynb",
                                                             "status": "ok", "seconds": 1.5}]}))
    (run / "tables" / "claims_scorecard.csv").write_text("claim_id,section,claim,verdict,why\n"
                                                         "density_dl,Abstract,DL <unaffected>,not supported,P 0.004\n")
    index = report.write_report(run, [("Table 3", "06_density_stratified", "tables/table3.csv")]).read_text()
    assert "href='06_density_stratified.html'" in index
    assert "DL &lt;unaffected&gt;" in index and "verdict-not" in index  # escaped, marked by verdict
    assert "abc123 (uncommitted changes)" in index and "smoke" in index
    page = (run / "report" / "06_density_stratified.html").read_text()
    assert "chi2 13.3 &lt;b&gt;" in page
    with pytest.raises(Exception, match="does not exist"):
        report.write_report(tmp_path / "nope", [])


def test_report_survives_a_notebook_it_cannot_convert(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "executed").mkdir(parents=True)
    (run / "executed" / "04_detection.ipynb").write_text("not a notebook")
    index = report.write_report(run, [("Figure 1", "04_detection", "")]).read_text()
    assert "04_detection (no HTML: MammoError" in index


def test_batch_kernel_manager_does_not_interrupt_a_kernel_it_shuts_down(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from jupyter_client.manager import AsyncKernelManager

    sent = []

    async def record(self) -> None:
        sent.append(self.shutting_down)

    monkeypatch.setattr(AsyncKernelManager, "_async_interrupt_kernel", record)
    manager = jupyter.EncryptedKernelManager(kernel_name="python3")
    asyncio.run(manager._async_interrupt_kernel())  # an interrupt asked for while running goes through
    manager.shutting_down = True
    asyncio.run(manager._async_interrupt_kernel())  # jupyter_client's interrupt before shutdown does not
    assert sent == [False]


def test_report_opens_with_how_many_claims_each_arm_decides(tmp_path: Path) -> None:
    from mammo_lib.paper import claims

    run = tmp_path / "run"
    (run / "tables").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"cohort": {"name": "twin", "synthetic": True, "fingerprint": "c004db796f7e99",
                                                         "weights": "shipped"}}))
    rows = [("density_dl", claims.DL_ARM, claims.CONTRADICTED), ("dense_c", claims.DL_ARM, claims.CONTRADICTED),
            ("density_juniors", claims.READERS_ARM, claims.REPRODUCED),
            ("factor_size", claims.PAPER_ARM, claims.CANNOT)]
    pd.DataFrame(rows, columns=["claim_id", "decided_by", "verdict"]).to_csv(run / "tables" / "claims_scorecard.csv",
                                                                              index=False)
    index = report.write_report(run, []).read_text()
    opening = index[index.index("What this run is"):index.index("Paper items")]
    assert "Cohort <b>twin</b> (synthetic; manifest fingerprint c004db796f7e)" in opening
    assert "4 claims of the paper: 1 reproduced on this run, 2 contradicted on this run, 1 cannot be tested here" in opening
    assert f"<tr><td>{claims.DL_ARM}</td>" in opening and "<td>2</td><td>0</td><td>2</td><td>0</td>" in opening
    assert "twin composition" in opening  # every arm is listed, also one that decides no claim
    assert "The run has no DL results" in opening
