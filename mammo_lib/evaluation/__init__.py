"""Evaluation statistics, independent of the models and of the paper: :mod:`.stats` (DeLong, chi-square,
proportions, McNemar, bootstrap), :mod:`.detection` (hit criteria, FROC, recall at FPI) and :mod:`.mrmc`
(Obuchowski-Rockette / Hillis and DBM reader studies, AI versus readers, clustered AUC), :mod:`.froc` (free-response
reader data and its figures of merit, wAFROC first) and :mod:`.sizing` (power and sample size from a pilot). Nothing
heavy is imported here."""
