"""mammo_lib: the library behind the mammo-companion notebooks.

A reproducible companion to Li L, Lin X, Liao T, et al. *Clinical application of convolutional neural
network for mass analysis on mammograms.* Quant Imaging Med Surg 2023;13(12):8413-8422
(doi:10.21037/qims-23-642). Importing this package is cheap: heavy modules (torch, pydicom, papermill) are
imported by the submodules that need them.
"""
from __future__ import annotations

__version__ = "0.1.0"

PAPER_CITATION = (
    "Li L, Lin X, Liao T, Ouyang R, Li M, Yuan J, Ma J. Clinical application of convolutional neural "
    "network for mass analysis on mammograms. Quant Imaging Med Surg 2023;13(12):8413-8422. "
    "doi:10.21037/qims-23-642"
)

__all__ = ["PAPER_CITATION", "__version__"]
