"""The committed twin tables (data_manifest.csv, data_findings.csv) hold the paper's published composition."""
from __future__ import annotations

import pandas as pd
import pytest

from mammo_lib import published, vocab
from mammo_lib.paths import REPO_ROOT


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    manifest, findings = REPO_ROOT / "data_manifest.csv", REPO_ROOT / "data_findings.csv"
    if not (manifest.is_file() and findings.is_file()):
        pytest.skip("the twin's tables are not committed yet")
    return pd.read_csv(manifest, dtype={"sha256": str}), pd.read_csv(findings, dtype={"birads": str})


def _per_mass(tables) -> pd.DataFrame:
    manifest, findings = tables
    masses = findings.drop_duplicates("mass_id").copy()
    masses["patient_id"] = masses["image_id"].str.split("_").str[0]
    patients = manifest.drop_duplicates("patient_id").set_index("patient_id")
    masses["breast_density"] = masses["patient_id"].map(patients["breast_density"])
    age = masses["patient_id"].map(patients["age"])
    masses["age_group"] = pd.cut(age, [0, 39, 60, 200], labels=list(vocab.AGE_GROUPS)).astype(str)
    return masses


def test_columns_are_exactly_the_schema(tables) -> None:
    manifest, findings = tables
    assert tuple(manifest.columns) == vocab.MANIFEST_COLUMNS
    assert tuple(findings.columns) == vocab.FINDINGS_COLUMNS + vocab.READER_COLUMNS


def test_patient_counts_and_age_summary_are_published(tables) -> None:
    manifest, _ = tables
    patients = manifest.drop_duplicates("patient_id")
    c = published.COHORT
    assert len(patients) == c["patients"]
    assert round(patients["age"].mean(), 2) == c["age_mean"] and round(patients["age"].std(), 2) == c["age_sd"]
    assert (patients["age"].min(), patients["age"].max()) == (c["age_min"], c["age_max"])
    # every exam is CC + MLO of one or both sides
    views = manifest.groupby("patient_id").size()
    assert set(views) <= {2, 4} and (views == 2).any()


@pytest.mark.parametrize("factor", sorted(published.TABLE3))
def test_per_mass_marginals_equal_table3_reference(tables, factor: str) -> None:
    masses = _per_mass(tables)
    counts = masses[factor].astype(str).value_counts().to_dict()
    assert counts == {k: v[0] for k, v in published.TABLE3[factor].items()}


def test_pathology_and_histology_equal_table2(tables) -> None:
    masses = _per_mass(tables)
    assert masses["pathology"].value_counts().to_dict() == published.TABLE2_TOTALS
    for outcome, rows in published.TABLE2.items():
        got = masses.loc[masses["pathology"] == outcome, "histology"].value_counts().to_dict()
        assert got == {k: n for k, (n, _) in rows.items()}
    assert (masses["reference_standard"] == "follow-up").sum() == published.COHORT["follow_up_masses"]


def test_every_mass_is_in_two_views_of_one_side_and_reader_values_repeat(tables) -> None:
    _, findings = tables
    assert len(findings) == 2 * published.COHORT["masses"]
    for _, rows in findings.groupby("mass_id"):
        assert len(rows) == 2 and rows["image_id"].str[:-3].str.rstrip("_").nunique() <= 2
        assert (rows[list(vocab.READER_COLUMNS)].nunique() == 1).all()
    assert set(findings["junior_a_birads"]) <= set(vocab.BIRADS)
    assert findings["junior_a_detected"].dtype == bool
    assert ((~findings["junior_a_detected"]) == (findings["junior_a_birads"] == "1")).all()
    assert (findings["senior_birads"] != "1").all()


def test_committed_tables_pass_the_data_layer_validation(tables) -> None:
    from mammo_lib.data.manifest import load_manifest

    cohort = load_manifest(REPO_ROOT / "data_manifest.csv", REPO_ROOT / "data_findings.csv",
                           data_root=REPO_ROOT / "data" / "twin", check_files=False)
    assert len(cohort.images) == len(tables[0]) and len(cohort.findings) == len(tables[1])
