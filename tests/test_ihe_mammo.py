"""IHE Mammography Image profile of the twin's DICOM (issue 29) and the dose model behind its header."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mammo_lib.errors import MammoError
from mammo_lib.synth import config, dosimetry, generate, ihe_mammo, phantom_v2_xray
from mammo_lib.synth.composition import compose


# -- dosimetry: the factors as published -------------------------------------------------------------------
@pytest.mark.parametrize("thickness_mm, hvl, published", [
    (20.0, 0.30, 0.390), (45.0, 0.50, 0.285), (50.0, 0.40, 0.209), (80.0, 0.60, 0.195), (110.0, 0.60, 0.1385)])
def test_g_factor_reproduces_dance_table_entries(thickness_mm: float, hvl: float, published: float) -> None:
    assert dosimetry.g_factor(thickness_mm, hvl) == pytest.approx(published, abs=1e-9)


def test_g_factor_interpolates_between_table_entries_and_refuses_outside() -> None:
    # halfway between 4.5 and 5 cm at HVL 0.50 (0.285 and 0.258), and halfway between HVL 0.50 and 0.55 at 5 cm
    assert dosimetry.g_factor(47.5, 0.50) == pytest.approx((0.285 + 0.258) / 2)
    assert dosimetry.g_factor(50.0, 0.525) == pytest.approx((0.258 + 0.287) / 2)
    with pytest.raises(MammoError, match="outside the g table"):
        dosimetry.g_factor(150.0, 0.5)
    with pytest.raises(MammoError, match="HVL"):
        dosimetry.g_factor(45.0, 0.9)


def test_s_factors_are_dances_and_substitutes_are_declared() -> None:
    assert dosimetry.s_factor("TUNGSTEN", "RHODIUM") == 1.042  # Dance 2000
    assert dosimetry.s_factor("tungsten", "silver") == 1.042  # Dance 2009
    assert dosimetry.s_factor("RHODIUM", "SILVER") == dosimetry.s_factor("RHODIUM", "RHODIUM") == 1.061
    with pytest.raises(MammoError, match="no s-factor"):
        dosimetry.s_factor("COPPER", "TIN")


def test_air_kerma_fluence_and_effective_energy_match_nist_at_20_kev() -> None:
    # 20 keV, mu_en/rho(air) 0.5389 cm^2/g: 1 uGy is 5.79e3 photons per mm^2 (phantom_v2_xray's AEC comment)
    assert dosimetry.fluence_per_ugy((20.0,), (1.0,)) == pytest.approx(5.79e3, rel=2e-3)
    hvl_20kev = np.log(2.0) / (3.441 * dosimetry.AL_DENSITY) * 10.0  # mm Al of a 20 keV beam
    assert dosimetry.effective_energy_kev(hvl_20kev) == pytest.approx(20.0, rel=1e-6)
    assert dosimetry.typical_hvl_mm_al("TUNGSTEN", "RHODIUM", 28.0) == pytest.approx(0.54, abs=0.005)
    # the detector air kerma the AEC holds is the ~70 uGy that phantom_v2_xray's detected quanta stand for
    for vendor, vp in phantom_v2_xray.PHYSICS.items():
        kerma = dosimetry.view_exposure(vendor, 45.0, 0.2).detector_kerma_ugy
        assert kerma == pytest.approx(vp.quanta_per_mm2 / dosimetry.DETECTOR_DQE
                                      / dosimetry.fluence_per_ugy(vp.energies_kev, vp.weights))
        assert 50.0 < kerma < 80.0


def test_dose_rises_with_thickness_and_density_and_stays_within_european_limits() -> None:
    doses = {v: [dosimetry.view_exposure(v, t, 0.2) for t in (30.0, 45.0, 53.0, 70.0)] for v in config.VENDOR_BY_NAME}
    for vendor, row in doses.items():
        assert all(a.mas < b.mas and a.esak_mgy < b.esak_mgy and a.agd_mgy < b.agd_mgy for a, b in zip(row, row[1:]))
        assert all(e.exposure_time_ms == pytest.approx(1000.0 * e.mas / e.tube_current_ma) for e in row)
        assert all(e.agd_mgy == pytest.approx(e.esak_mgy * e.g * e.c * e.s) for e in row)
        # European guidelines, 53 mm standard breast (45 mm PMMA): acceptable AGD 2.5 mGy; clinical FFDM
        # 45-53 mm breasts receive about 0.5-2 mGy
        assert 0.5 < row[2].agd_mgy < 2.5, (vendor, row[2])
    denser = dosimetry.view_exposure("Siemens", 45.0, 0.5)
    assert denser.esak_mgy > doses["Siemens"][1].esak_mgy


def test_exposure_refuses_bad_input() -> None:
    with pytest.raises(MammoError, match="glandular_fraction"):
        dosimetry.view_exposure("GE", 45.0, 1.5)
    with pytest.raises(MammoError, match="vendor must be one of"):
        dosimetry.view_exposure("Agfa", 45.0, 0.2)


# -- header values ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("study_date", ["20190401", "20190228", "20200229", "20191231"])
@pytest.mark.parametrize("age", [35, 50, 79])
def test_birth_date_gives_the_patients_age_on_the_study_date(study_date: str, age: int) -> None:
    for pid in ("P0001", "P0002", "T0456"):
        born = ihe_mammo.birth_date(study_date, age, pid)
        assert ihe_mammo.age_on(born, study_date) == age
        assert born == ihe_mammo.birth_date(study_date, age, pid)


def test_positioner_angle_calibration_date_and_force() -> None:
    assert ihe_mammo.positioner_primary_angle("L", "CC") == 0.0
    assert ihe_mammo.positioner_primary_angle("R", "MLO") == -ihe_mammo.positioner_primary_angle("L", "MLO") > 0
    assert ihe_mammo.last_calibration_date("20190606") == "20190603"  # a Thursday -> that week's Monday
    lo, hi = config.DEVICES["GE"].compression_force_n
    assert lo <= ihe_mammo.compression_force_n("GE", "P0002_L_CC") <= hi
    with pytest.raises(MammoError, match="YYYYMMDD"):
        ihe_mammo.last_calibration_date("2019-06-06")


# -- the written files -----------------------------------------------------------------------------------
def _one_patient_per_vendor() -> list[str]:
    """The first unilateral patient (two views, so the test stays short) of each vendor in the twin."""
    patients, _ = compose(config.twin_config())
    unilateral = patients[patients["sides"].astype(str).str.len() == 1]
    return [str(unilateral[unilateral["vendor"] == v]["patient_id"].iloc[0]) for v in config.VENDOR_BY_NAME]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("ihe")
    # the twin's generator and header, at a coarse pitch so that the test renders in seconds
    manifest, _, _ = generate.generate(config.twin_config().with_(pitch_mm=0.5), root, only=set(_one_patient_per_vendor()))
    return root, manifest


def test_every_vendor_passes_dciodvfy_ihe_mammo(rendered) -> None:
    if shutil.which("dciodvfy") is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed")
    root, manifest = rendered
    assert set(manifest["vendor"]) == set(config.VENDOR_BY_NAME) and len(manifest) == 2 * len(config.VENDOR_BY_NAME)
    for row in manifest.itertuples():
        for args in (["-profile", "IHEMammo"], ["-new"]):
            report = subprocess.run(["dciodvfy", *args, str(root / row.image_path)], capture_output=True, text=True)
            errors = [line for line in (report.stdout + report.stderr).splitlines() if line.startswith("Error")]
            assert errors == [], (row.image_id, args, errors)


def test_header_dose_and_source_are_those_of_the_view(rendered) -> None:
    import pydicom

    root, manifest = rendered
    for row in manifest.itertuples():
        ds = pydicom.dcmread(root / row.image_path)
        thickness = float(ds.BodyPartThickness)
        assert 25.0 <= thickness <= 80.0
        assert ds.KVP == config.VENDOR_BY_NAME[row.vendor].kvp
        assert int(ds.ExposureTime) == pytest.approx(1000.0 * int(ds.ExposureInuAs) / 1000.0 / int(ds.XRayTubeCurrent),
                                                     abs=1.0)
        agd, esak = float(ds.OrganDose), float(ds.EntranceDoseInmGy)
        g = dosimetry.g_factor(thickness, float(ds.HalfValueLayer))
        s = dosimetry.s_factor(ds.AnodeTargetMaterial, ds.FilterMaterial)
        assert agd == pytest.approx(esak * g * s, rel=2e-3)
        assert ihe_mammo.age_on(ds.PatientBirthDate, ds.StudyDate) == int(ds.PatientAge[:3]) == row.age
        item = ds.SourceImageSequence[0]
        assert item.ReferencedSOPClassUID == ihe_mammo.MG_FOR_PROCESSING
        assert item.ReferencedSOPInstanceUID not in (ds.SOPInstanceUID, "")
        pixels = ds.pixel_array
        breast = np.asarray(Image.open(root / "truth" / row.patient_id / f"{row.image_id}_breast.png")) > 0
        assert (pixels[~breast] == ds.PixelPaddingValue).all() and (~breast).any()
        # only a few skin-line pixels whose processed value is the background's (presentation ~ 0) share it
        assert (pixels[breast] == ds.PixelPaddingValue).mean() < 0.01
        angle = float(ds.PositionerPrimaryAngle)
        assert angle == ihe_mammo.positioner_primary_angle(row.laterality, row.view)
