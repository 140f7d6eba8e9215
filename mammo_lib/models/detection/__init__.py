"""Multi-view mass detection (paper Figure 1): ``network`` (IDVN, BDVN, IFN over one backbone), ``data``
(exams, their cache, the Dataset), ``inference`` (shipped model, candidates, validation numbers), ``task``
(``mammo train detection``). Imports run one way: network <- data <- inference <- task."""
