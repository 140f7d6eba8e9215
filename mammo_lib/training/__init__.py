"""Training: one loop for both models (:mod:`.loop`: ``fit``, seeds, checkpoints with exact resume, AMP, DDP) and
training a cohort's models (:mod:`.on_cohort`: ``mammo train`` and the training step of ``mammo reproduce``).
Nothing heavy is imported here."""
