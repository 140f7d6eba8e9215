"""Input checks in one place, scikit-learn style: each names the table or argument, the row and the bad value in
one MammoError line. Used by tables, evaluate, figures, the models and preprocessing accuracy; the manifest's
own validation (``data.manifest``), which reports every problem of a file at once, builds on its own collector.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mammo_lib.errors import MammoError

if TYPE_CHECKING:  # the checks take frames but need no pandas of their own: importing this module stays cheap
    import pandas as pd

#: Strings accepted for a yes/no column.
BOOL_STRINGS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str = "mass table", hint: str = "") -> None:
    """Every one of ``columns`` is in ``frame`` (else one MammoError naming the table, the missing columns and
    the ones it has; ``hint`` says how to make a proper table)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MammoError(f"{what} lacks column(s) {missing}; it has {list(frame.columns)}" + (f"; {hint}" if hint else ""))


def codes(frame: pd.DataFrame, column: str, allowed: Sequence[str], what: str = "mass table") -> pd.Series:
    """``frame[column]`` as strings, every value in ``allowed`` (else MammoError naming row and value)."""
    values = frame[column].astype(object)
    missing = values.isna()
    if missing.any():
        raise MammoError(f"{what} column {column!r} has {int(missing.sum())} missing value(s), first at row "
                         f"{first_row(frame, missing)}")
    text = values.map(lambda v: str(v).strip())
    bad = ~text.isin(list(allowed))
    if bad.any():
        raise MammoError(f"{what} column {column!r} holds {text[bad].iloc[0]!r} at row {first_row(frame, bad)}; "
                         f"expected one of {list(allowed)}")
    return text


def flags(frame: pd.DataFrame, column: str, what: str = "mass table") -> pd.Series:
    """A yes/no column as bools; NaN or other values are a MammoError naming row and value."""
    def convert(v: Any) -> Any:
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, np.integer, float, np.floating)) and v in (0, 1):
            return bool(v)
        return BOOL_STRINGS.get(str(v).strip().lower()) if isinstance(v, str) else None

    values = frame[column].astype(object).map(convert)
    bad = values.isna()
    if bad.any():
        raise MammoError(f"{what} column {column!r} holds {frame[column].astype(object)[bad].iloc[0]!r} at row "
                         f"{first_row(frame, bad)}; expected true/false")
    return values.astype(bool)


def first_row(frame: pd.DataFrame, mask: pd.Series) -> str:
    """The first flagged row, by mass_id when there is one."""
    first = mask[mask].index[0]
    if "mass_id" in frame.columns:
        return f"{first} (mass_id {frame.loc[first, 'mass_id']!r})"
    return str(first)


def show(value: Any) -> str:
    """A value for an error message: NaN as NaN, everything else as its repr."""
    return "NaN" if isinstance(value, (float, np.floating)) and np.isnan(value) else repr(value)


__all__ = ["BOOL_STRINGS", "codes", "first_row", "flags", "require_columns", "show"]
