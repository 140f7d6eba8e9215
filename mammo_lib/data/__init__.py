"""The data layer: manifest schema and cohorts (:mod:`.manifest`), reading MG images (:mod:`.dicomio`), and
public data sets' own files -> manifest (:mod:`.adapters`). Nothing heavy is imported here."""
