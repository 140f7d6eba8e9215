"""The study's two models: multi-view mass detection (IDVN/BDVN/IFN) and multi-task mass classification.

Submodules import torch and timm; importing this package does not.
"""
