"""Evaluation statistics, independent of the models and of the paper: :mod:`.stats` (DeLong, chi-square,
proportions, McNemar, bootstrap), :mod:`.detection` (hit criteria, FROC, recall at FPI) and :mod:`.mrmc`
(Obuchowski-Rockette / Hillis reader studies, AI versus readers, clustered AUC). Nothing heavy is imported here."""
