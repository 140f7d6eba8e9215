"""A real browser (Debian's headless chromium driven by Playwright) on JupyterLab started with `make lab`'s
command, and on the HTML report of a run. Localhost only; skips where chromium or playwright is absent."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from mammo_lib.run import jupyter, report
from mammo_lib.progress import BATCH_ENV

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 60_000

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="chromium is not installed")
playwright_sync = pytest.importorskip("playwright.sync_api")

CELLS = (
    "import pandas as pd\nframe = pd.DataFrame({'density': list('abcd'), 'masses': [14, 47, 460, 97]})\nframe",
    "import matplotlib.pyplot as plt\nfig, ax = plt.subplots(figsize=(3, 2))\nax.bar(frame['density'], frame['masses'])\n"
    "plt.show()",
    "from mammo_lib.progress import tqdm\nfor _ in tqdm(range(3), desc='bar'):\n    pass\nprint('cells done')",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notebook(path: Path, kernel: str) -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture()
def lab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """JupyterLab from `make lab`'s command on a free localhost port, with the project's kernelspec (installed
    into a scratch prefix, not the venv) and a token chosen here; stopped afterwards."""
    work = tmp_path / "notebooks"
    work.mkdir()
    _notebook(work / "browser_check.ipynb", jupyter.KERNEL_NAME)
    prefix = tmp_path / "prefix"
    jupyter.ensure_kernelspec(prefix)
    port, token = _free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if k != BATCH_ENV}  # an interactive kernel: widget bars
    env.update(JUPYTER_PATH=str(prefix / "share" / "jupyter"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    cmd = jupyter.lab_command(work, [f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
                                     f"--IdentityProvider.token={token}", "--no-browser",
                                     "--ServerApp.port_retries=0",
                                     "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                                     "--LabApp.news_url=None"])
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url, token
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        lab_log = (tmp_path / "lab.log").read_text()
        assert "without encryption" not in lab_log, "JupyterLab's kernel ran over unencrypted TCP"


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(str(tmp_path / "chromium-profile"), executable_path=CHROMIUM,
                                                       headless=True, args=FLAGS)
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def test_lab_runs_a_notebook_with_table_figure_and_widget_bar(lab: tuple[str, str], browser) -> None:
    url, token = lab
    page = browser.new_page()
    page.goto(f"{url}/lab/tree/browser_check.ipynb?token={token}")
    page.wait_for_selector(".jp-Notebook .jp-Cell")
    page.wait_for_selector(f".jp-Toolbar-kernelName:has-text('{jupyter.KERNEL_DISPLAY_NAME}')")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    page.wait_for_selector(".jp-OutputArea-output:has-text('cells done')")
    outputs = page.locator(".jp-OutputArea-output")
    assert page.locator(".jp-OutputArea-output table").count() == 1, "the DataFrame did not render as a table"
    assert "460" in page.locator(".jp-OutputArea-output table").inner_text()
    assert page.locator(".jp-OutputArea-output img").count() == 1, "the figure did not render"
    page.wait_for_selector(".jp-OutputArea-output .widget-hprogress")  # tqdm drew an ipywidgets bar
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    assert not any("Traceback" in errors.nth(i).inner_text() or "Error" in errors.nth(i).inner_text()
                   for i in range(errors.count())), "a cell raised"
    assert outputs.count() >= 3


def test_report_index_links_to_the_executed_notebook(tmp_path: Path, browser) -> None:
    run = tmp_path / "run"
    (run / "executed").mkdir(parents=True)
    (run / "tables").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello')", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="reproduced 618 masses\n")], execution_count=1)])
    nbformat.write(nb, run / "executed" / "00_overview.ipynb")
    (run / "run.json").write_text(json.dumps({"profile": "default", "status": "ok", "notebooks": []}))
    (run / "tables" / "claims_scorecard.csv").write_text("claim_id,verdict\ndensity_dl,not supported\n")
    index = report.write_report(run, [("Overview", "00_overview", "tables/paper_items.csv"),
                                      ("Table 4", "07_tables_and_roc", "tables/table4.csv")])
    page = browser.new_page()
    page.goto(index.as_uri())
    assert "not supported" in page.locator("#scorecard").inner_text()
    assert "(not run)" in page.locator("#items").inner_text()
    page.locator("#items a", has_text="00_overview").click()
    page.wait_for_selector("text=reproduced 618 masses")
    assert page.url.endswith("00_overview.html")
