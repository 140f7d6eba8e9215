"""Phantom v2 tissue detail (issue 15): Cooper's ligaments on the faces of the fat lobules."""
from __future__ import annotations

import numpy as np
import pytest

from mammo_lib.synth import phantom_v2_tissue


def test_fat_lobule_faces_carry_a_sheet_of_the_ligament_cross_section_only_in_fat() -> None:
    # two lobules meeting on the plane x = 20 mm, one 6 mm slab, a 0.5 mm grid drawn at 0.25 mm
    x = (np.arange(80) + 0.5) * 0.5
    face = np.abs(x - 20.0)[None, None, :].repeat(40, axis=1).astype(np.float32)
    first = np.where(x < 20.0, 0, 1)[None, None, :].repeat(40, axis=1).astype(np.int32)
    lobules = (first, (1 - first).astype(np.int32), face)
    fat = np.ones_like(face)
    params = phantom_v2_tissue.TissueParams(lobule_ligament_share=1.0, ligament_share=0.0, ligament_gap_share=1e-6,
                                 ligament_max_tilt_deg=0.0)
    out = phantom_v2_tissue.lobule_ligaments(lobules, fat, 6.0, 0.1, 2, (80, 160), 0.25, 0.5, np.random.default_rng(0), params)
    assert float(out[40].sum()) * 0.25 == pytest.approx(0.1 * 6.0, rel=0.05)  # thickness x slab per unit length
    assert abs(float(np.argmax(out[40])) * 0.25 + 0.125 - 20.0) < 0.5
    none = phantom_v2_tissue.lobule_ligaments(lobules, np.zeros_like(fat), 6.0, 0.1, 2, (80, 160), 0.25, 0.5,
                                   np.random.default_rng(0), params)
    assert not none.any()  # no sheets in gland
