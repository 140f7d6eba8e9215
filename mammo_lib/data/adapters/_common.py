"""Helpers shared by the adapters: reading the source tables, code mapping, boxes, the output frames."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from mammo_lib.checksums import sha256_file
from mammo_lib.errors import MammoError
from mammo_lib.vocab import FINDINGS_COLUMNS, MANIFEST_COLUMNS


def read_source(path: str | Path, required: Iterable[str], **read_csv: Any) -> pd.DataFrame:
    """A data set's CSV as strings, with every required column present, or a MammoError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise MammoError(f"{path}: file does not exist")
    if path.suffix.lower() in (".xlsx", ".xls"):
        raise MammoError(f"{path.name}: export it to CSV first (the project does not read Excel files)")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False, **read_csv)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise MammoError(f"{path.name}: not a readable CSV table ({type(exc).__name__}: {exc})") from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise MammoError(f"{path.name}: missing column(s) {missing}; found {list(table.columns)}")
    return table.map(lambda v: v.strip() if isinstance(v, str) else v)


def map_code(value: str, mapping: Mapping[str, str | None], what: str, source: str, row: int) -> str:
    """Translate one source code; a code the mapping does not know is an error naming file, row and value.

    A mapping value of None means "known, but has no equivalent here" and gives "" (missing).
    """
    key = value.strip().upper()
    if key not in mapping:
        raise MammoError(f"{source} row {row}: {what}: unknown code {value!r} (known: {sorted(mapping)})")
    return mapping[key] or ""


def most_suspicious(values: Iterable[str], order: tuple[str, ...]) -> str:
    """The most suspicious of several descriptors (BI-RADS: report the worst), by vocabulary order."""
    present = [v for v in values if v]
    return max(present, key=order.index) if present else ""


def pixel_box(x_min: float, y_min: float, x_max: float, y_max: float) -> tuple[int, int, int, int]:
    """Whole-pixel box covering a region given by its extreme pixel coordinates (x1/y1 exclusive)."""
    return math.floor(x_min), math.floor(y_min), math.floor(x_max) + 1, math.floor(y_max) + 1


def checksum(data_root: Path | None, relative: str, enabled: bool) -> str:
    """sha256 of an image file when asked for and the file is there, else ""."""
    if not enabled or data_root is None:
        return ""
    path = data_root / relative
    if not path.is_file():
        raise MammoError(f"{relative}: file does not exist under {data_root} (needed for its checksum)")
    return sha256_file(path)


def frames(images: list[dict[str, Any]], findings: list[dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The two manifest tables in schema column order, "" for every value the source lacks."""
    image_frame = pd.DataFrame(images, columns=list(MANIFEST_COLUMNS), dtype=object).fillna("").astype(str)
    finding_frame = pd.DataFrame(findings, columns=list(FINDINGS_COLUMNS), dtype=object).fillna("").astype(str)
    return image_frame.drop_duplicates("image_id").reset_index(drop=True), finding_frame
