"""mammo_lib: the library behind the mammo-companion notebooks.

A reproducible companion to Li L, Lin X, Liao T, et al. *Clinical application of convolutional neural
network for mass analysis on mammograms.* Quant Imaging Med Surg 2023;13(12):8413-8422
(doi:10.21037/qims-23-642).

The package is arranged in rooms by role, each importing only the rooms below it:
foundation modules (``vocab``, ``errors``, ``paths``, ``checksums``, ``progress``, ``validation``, ``published``,
``cli``) <- ``data``, ``evaluation`` <- ``preprocess`` <- ``synth`` <- ``models`` <- ``training``, ``system`` <-
``paper`` <- ``run``. The names below are the ones a notebook user looks for first; each is loaded on first use
(PEP 562), so ``import mammo_lib`` stays cheap: torch, pydicom and papermill are imported by the submodules that
need them.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

PAPER_CITATION = (
    "Li L, Lin X, Liao T, Ouyang R, Li M, Yuan J, Ma J. Clinical application of convolutional neural "
    "network for mass analysis on mammograms. Quant Imaging Med Surg 2023;13(12):8413-8422. "
    "doi:10.21037/qims-23-642"
)

#: Public name -> the module that defines it.
_LAZY: dict[str, str] = {
    # data
    "load_manifest": "mammo_lib.data.manifest",
    "read_cohort": "mammo_lib.data.cohort",
    "read_image": "mammo_lib.data.dicomio",
    # the synthetic twin
    "ensure_cohort": "mammo_lib.synth.store",
    "load_view_truth": "mammo_lib.synth.store",
    # statistics
    "delong_test": "mammo_lib.evaluation.stats",
    "chi_square_detection": "mammo_lib.evaluation.stats",
    "or_analysis": "mammo_lib.evaluation.mrmc",
    "froc": "mammo_lib.evaluation.detection",
    # preprocessing and models
    "preprocess_view": "mammo_lib.preprocess.view",
    "load_detector": "mammo_lib.models.detection.inference",
    "load_classifier": "mammo_lib.models.classification.inference",
    # the system on an exam
    "load_models": "mammo_lib.system.exam",
    "analyze_exam": "mammo_lib.system.exam",
    # the paper's items
    "table1": "mammo_lib.paper.tables",
    "table2": "mammo_lib.paper.tables",
    "table3": "mammo_lib.paper.tables",
    "table4": "mammo_lib.paper.tables",
    "audit_all": "mammo_lib.paper.audit",
    "scorecard": "mammo_lib.paper.claims",
}

__all__ = ["PAPER_CITATION", "__version__", *_LAZY]


def __getattr__(name: str) -> object:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # the next access skips this function
        return value
    raise AttributeError(f"module 'mammo_lib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
