"""A browsable HTML report of a ``mammo reproduce`` run, readable without starting Jupyter.

``write_report(run_dir, paper_items)`` writes ``run_dir/report/``: every executed notebook of
``run_dir/executed/`` as HTML (nbconvert's ``HTMLExporter``, the lab template, figures embedded) and an
``index.html`` that opens with a computed summary of the run (the cohort, the arms and how each was made, how
many claims each arm decides and with which verdicts: :func:`run_summary`), then lists the paper items with
links to their notebooks, the claims scorecard (``tables/claims_scorecard.csv`` when notebook 10 ran) and the
run's provenance (``run.json``). Every page is self-contained: nothing is fetched from the network when it is
opened.
"""
from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from mammo_lib.errors import MammoError
from mammo_lib.paper import claims

REPORT_DIR = "report"
SCORECARD_FILE = "claims_scorecard.csv"
#: Columns of the scorecard shown on the index page.
SCORECARD_SHOWN = ("claim_id", "section", "claim", "decided_by", "reproduction", "verdict", "why")


def _esc(value: Any) -> str:
    return html.escape("" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value))


def notebook_html(notebook: Path) -> str:
    """One executed notebook as a self-contained HTML page (no remote scripts or styles)."""
    import nbformat
    from nbconvert import HTMLExporter

    try:
        nb = nbformat.read(str(notebook), as_version=4)
    except (OSError, ValueError) as exc:
        raise MammoError(f"{notebook}: cannot be read as a notebook ({exc})") from None
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input_prompt = False
    exporter.require_js_url = ""  # nothing remote
    exporter.mathjax_url = ""
    body, _ = exporter.from_notebook_node(nb)
    return body


def _provenance(record: dict[str, Any]) -> str:
    git = record.get("git") or {}
    rows = [("profile", record.get("profile")), ("status", record.get("status")),
            ("started", record.get("started")), ("finished", record.get("finished")),
            ("git commit", f"{git.get('commit')}{' (uncommitted changes)' if git.get('dirty') else ''}"),
            ("device", ", ".join(f"{k} {v}" for k, v in (record.get("device") or {}).items())),
            ("packages", ", ".join(f"{k} {v}" for k, v in (record.get("packages") or {}).items()))]
    out = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    runs = "".join(
        f"<tr><td>{_esc(nb.get('notebook'))}</td><td>{_esc(nb.get('status'))}</td><td>{_esc(nb.get('seconds'))}</td>"
        f"<td>{_esc(nb.get('error', ''))}</td></tr>" for nb in record.get("notebooks", []))
    return (f"<table class='prov'>{out}</table><h3>Notebooks run</h3><table><tr><th>notebook</th><th>status</th>"
            f"<th>seconds</th><th>error</th></tr>{runs}</table>")


def _scorecard(path: Path) -> str:
    if not path.is_file():
        return "<p>No claims scorecard in this run (notebook 10 was not run).</p>"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    shown = [c for c in SCORECARD_SHOWN if c in frame.columns]
    head = "".join(f"<th>{_esc(c)}</th>" for c in shown)
    body = "".join("<tr class='verdict-" + _esc(str(r.get("verdict", "")).split(" ")[0]) + "'>"
                   + "".join(f"<td>{_esc(r[c])}</td>" for c in shown) + "</tr>" for _, r in frame.iterrows())
    return (f"<p>From <a href='../tables/{SCORECARD_FILE}'>tables/{SCORECARD_FILE}</a>.</p>"
            f"<table id='scorecard'><tr>{head}</tr>{body}</table>")


def _cohort_words(record: dict[str, Any]) -> str:
    cohort = record.get("cohort") or {}
    if not cohort:
        return "The run's cohort is not recorded in run.json."
    kind = "synthetic" if cohort.get("synthetic") else "real"
    return (f"Cohort <b>{_esc(cohort.get('name'))}</b> ({kind}; manifest fingerprint "
            f"{_esc(str(cohort.get('fingerprint', ''))[:12])}); DL weights: {_esc(cohort.get('weights'))}.")


def run_summary(run_dir: Path, record: dict[str, Any]) -> str:
    """The index page's opening, computed from the run: what the run is (cohort, the arms and how each was
    made), how many claims each arm decides with their verdicts, and the DL models' measured performance
    against the paper's (``claims.dl_versus_paper``)."""
    tables_dir = run_dir / "tables"
    parts = [f"<p>{_cohort_words(record)}</p>"]
    path = tables_dir / SCORECARD_FILE
    card = pd.read_csv(path, dtype=str, keep_default_na=False) if path.is_file() else None
    if card is None or "decided_by" not in card.columns:
        parts.append("<p>No claims scorecard with <code>decided_by</code> in this run (notebook 10 not run, or "
                     "written by an older version).</p>")
    else:
        counts = claims.arm_counts(card)
        verdicts = claims.verdict_counts(card)
        parts.append(f"<p>{len(card)} claims of the paper: " + ", ".join(
            f"{int(n)} {_esc(v)}" for v, n in verdicts.items()) + ". Which arm of this companion decides them:</p>")
        rows = "".join(
            f"<tr><td>{_esc(arm)}</td><td>{_esc(claims.ARMS.get(arm, 'the arms above together: the verdict needs both'))}</td>"
            f"<td>{int(counts.loc[arm, 'claims']) if arm in counts.index else 0}</td>"
            + "".join(f"<td>{int(counts.loc[arm, v]) if arm in counts.index else 0}</td>" for v in claims.VERDICTS)
            + "</tr>" for arm in [*claims.ARMS, *[a for a in counts.index if a not in claims.ARMS]])
        head = "".join(f"<th>{_esc(v)}</th>" for v in claims.VERDICTS)
        parts.append(f"<table id='arms'><tr><th>decided by</th><th>how it was made</th><th>claims</th>{head}</tr>"
                     f"{rows}</table>")
    if tables_dir.is_dir():
        parts.append(f"<p>{_esc(claims.dl_versus_paper(tables_dir))} A claim decided by the DL models says how "
                     "this companion's models, trained on CPUs on a synthetic cohort, compare with the readers; "
                     "it is not a finding about the paper's own system.</p>")
    return "".join(parts)


_STYLE = """body{font-family:sans-serif;max-width:80em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:0.3em 0.5em;
text-align:left;vertical-align:top;font-size:0.9em}th{background:#f3f3f3}
tr.verdict-supported td,tr.verdict-reproduced td{background:#eef8ee}
tr.verdict-not td,tr.verdict-contradicted td{background:#fbeeee}"""


def write_report(run_dir: str | Path, paper_items: Sequence[tuple[str, str, str]]) -> Path:
    """Write ``run_dir/report/`` (one HTML page per executed notebook and ``index.html``); return the index.

    ``paper_items`` is (paper item, notebook stem, outputs) per notebook, e.g. ``pipeline.PAPER_ITEMS``.
    Notebooks that were not executed are listed without a link.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise MammoError(f"run folder {run_dir} does not exist")
    out = run_dir / REPORT_DIR
    out.mkdir(exist_ok=True)
    pages: dict[str, str] = {}
    broken: dict[str, str] = {}
    for notebook in sorted((run_dir / "executed").glob("*.ipynb")):
        page = out / f"{notebook.stem}.html"
        try:
            page.write_text(notebook_html(notebook), encoding="utf-8")
        except Exception as exc:  # noqa: BLE001 - a notebook that cannot be converted must not hide the run's result
            broken[notebook.stem] = f"{type(exc).__name__}: {exc}"
            continue
        pages[notebook.stem] = page.name
    record_path = run_dir / "run.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    items = []
    for item, stem, outputs in paper_items:
        link = (f"<a href='{pages[stem]}'>{_esc(stem)}</a>" if stem in pages else
                f"{_esc(stem)} (no HTML: {_esc(broken[stem])})" if stem in broken else f"{_esc(stem)} (not run)")
        items.append(f"<tr><td>{_esc(item)}</td><td>{link}</td><td>{_esc(outputs)}</td></tr>")
    listed = {stem for _, stem, _ in paper_items}
    for stem in sorted(set(pages) - listed):
        items.append(f"<tr><td></td><td><a href='{pages[stem]}'>{_esc(stem)}</a></td><td></td></tr>")
    from mammo_lib import PAPER_CITATION

    index = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>mammo-companion run "
             f"{_esc(run_dir.name)}</title><style>{_STYLE}</style></head><body>"
             f"<h1>Reproduction run {_esc(run_dir.name)}</h1><p>Companion to {_esc(PAPER_CITATION)}</p>"
             f"<h2>What this run is</h2>{run_summary(run_dir, record)}"
             f"<h2>Paper items and notebooks</h2><table id='items'><tr><th>paper item</th><th>notebook</th>"
             f"<th>outputs</th></tr>{''.join(items)}</table>"
             f"<h2>Claims scorecard</h2>{_scorecard(run_dir / 'tables' / SCORECARD_FILE)}"
             f"<h2>Provenance (run.json)</h2>{_provenance(record)}</body></html>")
    path = out / "index.html"
    path.write_text(index, encoding="utf-8")
    return path
