"""Intensity harmonisation across vendors: the breast's own percentiles mapped to [0, 1]."""
from __future__ import annotations

import numpy as np

from mammo_lib.errors import MammoError


# --------------------------------------------------------------------------------------------------
# intensity harmonisation
# --------------------------------------------------------------------------------------------------
#: Breast-pixel percentiles mapped to 0 and 1: a linear window that keeps relative density (fat vs dense).
HARMONISE_PERCENTILES = (0.5, 99.5)


def harmonise(array: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Vendor harmonisation: window the breast's own intensity range to [0, 1] and zero the outside.

    Each vendor's processing leaves the breast in a different part of the [0, 1] range; mapping the breast's
    0.5th-99.5th percentiles linearly to [0, 1] puts them on one scale while keeping fat darker than dense
    tissue. Labels and markers outside the mask become 0.
    """
    values = array[mask]
    if values.size == 0:
        raise MammoError("cannot harmonise: the breast mask is empty on the output grid")
    lo, hi = np.percentile(values, HARMONISE_PERCENTILES)
    if hi - lo < 1e-6:
        out = np.where(mask, 0.5, 0.0)
    else:
        out = np.clip((array - lo) / (hi - lo), 0.0, 1.0)
    return np.where(mask, out, 0.0).astype(np.float32)


