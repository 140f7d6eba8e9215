"""Adapters: public mammography data sets' own files -> this project's manifest (images, findings).

Each module has ``to_manifest(...) -> (images_df, findings_df)`` (columns of
:data:`mammo_lib.vocab.MANIFEST_COLUMNS` / :data:`~mammo_lib.vocab.FINDINGS_COLUMNS`, "" where the data set
has no value) and ``MISSING_FIELDS``: a mapping column -> why the data set cannot fill it (always or
sometimes). Pass it on when validating, e.g.
``load_manifest(csv, allow_missing=cbis_ddsm.MISSING_FIELDS)`` or ``mammo verify ... --allow-missing ...``.

=============  ===========================================================================================
cbis_ddsm      CBIS-DDSM case-description CSVs (mass_case_description_*.csv); boxes from the ROI masks
inbreast       INbreast.csv and its per-image XML (plist) annotations
vindr          VinDr-Mammo breast-level_annotations.csv + finding_annotations.csv (+ metadata.csv)
cmmd           CMMD clinical table (CSV export of CMMD_clinicaldata_revision.xlsx) + its DICOM folders
embed          EMBED EMBED_OpenData_clinical.csv + EMBED_OpenData_metadata.csv
=============  ===========================================================================================
"""
from __future__ import annotations

ADAPTERS = ("cbis_ddsm", "inbreast", "vindr", "cmmd", "embed")
