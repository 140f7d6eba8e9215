"""The paper-items map (pipeline.PAPER_ITEMS, shown by notebook 00 and the report's index) names only outputs its
notebook writes: each table or figure must be named in that notebook's code (a literal file name, a figure stem
passed to save_figure, or a vocab hand-off constant)."""
from __future__ import annotations

import json
import re

import pytest

from mammo_lib import vocab
from mammo_lib.run import pipeline


def _code(notebook: str) -> str:
    cells = json.loads((pipeline.NOTEBOOK_DIR / f"{notebook}.ipynb").read_text(encoding="utf-8"))["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    # a vocab constant names its file: vocab.DL_SCORES_FILE -> dl_scores_per_mass.csv
    return text + "\n" + "\n".join(f"\"{getattr(vocab, name)}\"" for name in re.findall(r"vocab\.(DL_\w+_FILE)", text))


@pytest.mark.parametrize("item", pipeline.PAPER_ITEMS, ids=lambda item: item[1])
def test_every_output_of_the_paper_items_map_is_written_by_its_notebook(item: tuple[str, str, str]) -> None:
    _, notebook, outputs = item
    code = _code(notebook)
    named = [o.strip() for o in outputs.split(",") if o.strip()]
    assert named, f"{notebook}: no output named"
    for output in named:
        folder, _, file = output.partition("/")
        assert folder in ("tables", "figures") and "*" not in file, f"{notebook}: {output!r} is not one file"
        stem = file.rsplit(".", 1)[0]
        written = f'"{file}"' in code or (folder == "figures" and f'"{stem}"' in code)
        assert written, f"{notebook} does not write {output}"
