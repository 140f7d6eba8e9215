"""Multi-task mass classification (paper Figure 2): ``network`` (DenseNet-121 with its heads), ``patches``
(mass box -> context crop -> network patch), ``data`` (cohort records, targets, patch cache, Dataset),
``inference`` (shipped model, scores, threshold, checks), ``task`` (``mammo train classification``).
Imports run one way: network, patches <- data <- inference <- task."""
