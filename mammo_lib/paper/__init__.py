"""The paper's items: Tables 1-4 (:mod:`.tables`), every plot (:mod:`.figures`), the reader-study statistics on the
mass table (:mod:`.reader_study`), the audit of the paper's arithmetic (:mod:`.audit`), the claims scorecard
(:mod:`.claims`), the exam gallery (:mod:`.gallery`) and notebook 11's teaching views (:mod:`.teaching`). The
published numbers themselves are data in :mod:`mammo_lib.published`. Nothing heavy is imported here."""
