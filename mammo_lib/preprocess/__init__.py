"""Preprocessing of one mammographic view, in steps: ``geometry`` (the input <-> 448-grid transform and the
result), ``segment`` (breast mask), ``landmarks`` (pectoral edge, skin markers, nipple), ``harmonise``
(intensities), ``view`` (:func:`preprocess_view`, all steps on one image), ``cache`` (one file per image; a
batch of a manifest's images; ``mammo preprocess FILE``) and ``accuracy`` (errors against any ground truth).

The names below are the package's public API, imported from those modules (numpy and scipy only).
"""
from __future__ import annotations

from mammo_lib.preprocess.accuracy import (ACCURACY_GOALS, QC_COLUMNS, dice, landmark_errors, orientation_checks,
                                           quality_control, segment_distance, summarise_accuracy)
from mammo_lib.preprocess.cache import (SKIPPED_COLUMNS, PreprocessedBatch, cache_key, cache_path, load_cached,
                                        preprocess_cached, preprocess_images, save_cached, skipped_table)
from mammo_lib.preprocess.geometry import (DEFAULT_SIZE, PREPROCESS_VERSION, PreprocessedView, PreprocessWarning,
                                           ViewTransform, block_mean)
from mammo_lib.preprocess.harmonise import HARMONISE_PERCENTILES, harmonise
from mammo_lib.preprocess.landmarks import find_markers, find_nipple, find_pectoral, front_profile, profile_nipple
from mammo_lib.preprocess.segment import segment_breast
from mammo_lib.preprocess.view import preprocess_view

__all__ = ["ACCURACY_GOALS", "DEFAULT_SIZE", "HARMONISE_PERCENTILES", "PREPROCESS_VERSION", "SKIPPED_COLUMNS",
           "PreprocessWarning", "PreprocessedBatch", "PreprocessedView", "QC_COLUMNS", "ViewTransform", "block_mean", "cache_key", "cache_path", "dice", "find_markers",
           "find_nipple", "find_pectoral", "front_profile", "harmonise", "landmark_errors", "load_cached",
           "orientation_checks", "preprocess_cached", "preprocess_images", "preprocess_view", "profile_nipple", "quality_control",
           "save_cached", "segment_distance", "segment_breast", "skipped_table", "summarise_accuracy"]
