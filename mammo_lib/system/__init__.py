"""The paper's system on exams: one exam end to end (:mod:`.exam`: decode once, detect, pair CC/MLO, classify,
overlay), ``mammo analyze`` over a batch (:mod:`.analyze`: inputs, worker processes, resumable output folders) and
its DICOM Comprehensive SR (:mod:`.sr`). Nothing heavy is imported here."""
