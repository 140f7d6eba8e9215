"""The README's promises: two set-up commands, CI calls the test command, every notebook is mapped."""
from __future__ import annotations

import re

from mammo_lib.run import pipeline
from mammo_lib.paths import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def test_quick_start_is_exactly_make_reproduce_and_make_test() -> None:
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", README, re.S)
    assert block, "README has no quick-start code block"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands == ["make reproduce", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    assert re.search(r"^make test$", (REPO_ROOT / ".ci" / "run").read_text(), re.M)


def test_readme_maps_every_notebook_of_the_sequence() -> None:
    for notebook in pipeline.NOTEBOOKS:
        assert f"`{notebook}`" in README, f"README does not map {notebook}"
    assert [item[1] for item in pipeline.PAPER_ITEMS] == list(pipeline.NOTEBOOKS)
