"""Running the notebooks: ``mammo reproduce`` with papermill (:mod:`.pipeline`), the notebooks' hand-off (:mod:`.handoff`:
the cohort a notebook runs on, stamping, checking and loading the DL tables between notebooks), the run's HTML report
(:mod:`.report`) and Jupyter plumbing (:mod:`.jupyter`). Nothing heavy is imported here."""
