"""Exposure and breast dose of a synthetic view: AEC mAs, entrance air kerma (ESAK) and mean glandular dose.

The chain follows the UK / European / IAEA dosimetry protocols (Dance et al. PMB 2000;45:3225):
``AGD = K * g * c * s``, with K the incident air kerma at the upper breast surface (no backscatter), g the
conversion factor of a 50 %-glandular breast (thickness, HVL), c the glandularity correction and s the
spectrum correction. K comes from the simulation itself: the automatic exposure control (AEC) of
:mod:`mammo_lib.synth.phantom_v2_xray` sets the detected quanta behind the breast; the air kerma those
quanta mean at the detector, divided by the grid, the scatter and the breast's transmission (at the
effective energy of the target/filter's typical HVL) and carried back to the breast's entrance by the
inverse square law, is the ESAK. The tube output per mAs then gives the mAs, the tube current the exposure
time.

Factors held here (each with its source):

* g: Dance et al. 2000, the g-factor table of the 50 % glandular breast (Table 1 as cited by its public
  copies; its 2-8 cm rows are those of Dance 1990, PMB 35:1211, the 9-11 cm rows were added in 2000).
  Checked against a public transcription of the table, not against the paper itself (not at hand).
* s: Dance et al. 2000 (s-factors of the clinical spectra: W/Rh 1.042, Rh/Rh 1.061, Rh/Al 1.044, Mo/Rh
  1.017, Mo/Mo 1.000) and Dance et al. PMB 2009;54:4361 (abstract: one s-factor of 1.042 for W/Ag).
* HVL: typical first HVL per target/filter and kVp from a QC protocol's acceptance table (:data:`HVL_TYPICAL`).
* c: NOT held. The c-factor tables of Dance 2000 could not be verified from a published copy,
  so c = 1: the dose written is that of the protocols' 50 %-glandular reference breast of the view's
  thickness. The phantom's glandularity still sets the exposure (through the breast's transmission).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import RegularGridInterpolator

from mammo_lib.errors import MammoError

#: g-factors (mGy per mGy incident air kerma) of a 50 % glandular breast: Dance et al. PMB 2000;45:3225,
#: g-factor table (Table 1 as cited; rows 2-8 cm as in Dance PMB 1990;35:1211). Rows: compressed thickness
#: (cm); columns: first HVL (mm Al).
G_THICKNESS_CM = (2.0, 3.0, 4.0, 4.5, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0)
G_HVL_MM_AL = (0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60)
G_FACTORS = (
    (0.390, 0.433, 0.473, 0.509, 0.543, 0.573, 0.587),
    (0.274, 0.309, 0.342, 0.374, 0.406, 0.437, 0.466),
    (0.207, 0.235, 0.261, 0.289, 0.318, 0.346, 0.374),
    (0.183, 0.208, 0.232, 0.258, 0.285, 0.311, 0.339),
    (0.164, 0.187, 0.209, 0.232, 0.258, 0.287, 0.310),
    (0.135, 0.154, 0.172, 0.192, 0.214, 0.236, 0.261),
    (0.114, 0.130, 0.145, 0.163, 0.177, 0.202, 0.224),
    (0.098, 0.112, 0.126, 0.140, 0.154, 0.175, 0.195),
    (0.0859, 0.0981, 0.1106, 0.1233, 0.1357, 0.1543, 0.1723),
    (0.0763, 0.0873, 0.0986, 0.1096, 0.1207, 0.1375, 0.1540),
    (0.0687, 0.0786, 0.0887, 0.0988, 0.1088, 0.1240, 0.1385),
)

#: s-factors by (AnodeTargetMaterial, FilterMaterial), DICOM spellings. Dance et al. 2000 (clinical spectra)
#: and Dance et al. 2009 (W/Ag, one value for 50-75 um Ag).
S_FACTORS: dict[tuple[str, str], float] = {
    ("MOLYBDENUM", "MOLYBDENUM"): 1.000,
    ("MOLYBDENUM", "RHODIUM"): 1.017,
    ("RHODIUM", "RHODIUM"): 1.061,
    ("RHODIUM", "ALUMINUM"): 1.044,
    ("TUNGSTEN", "RHODIUM"): 1.042,
    ("TUNGSTEN", "SILVER"): 1.042,
}
#: Spectra without a verified s-factor, and the published spectrum whose s they use instead. Rh/Ag: the Ag
#: filter (K edge 25.5 keV) passes the Rh K lines as an Rh filter does, so Rh/Rh. W/Al: Dance 2009 tabulates
#: W/0.5 mm Al against thickness, but those values could not be verified here, so the W/Rh value.
S_SUBSTITUTES: dict[tuple[str, str], tuple[str, str]] = {
    ("RHODIUM", "SILVER"): ("RHODIUM", "RHODIUM"),
    ("TUNGSTEN", "ALUMINUM"): ("TUNGSTEN", "RHODIUM"),
}

#: Typical first HVL (mm Al) of each target/filter at 25, 28 and 31 kV: the acceptance table of a mammography
#: QC protocol (HVL for target/filter combinations, +-0.02-0.03 mm Al), as printed in the Konica Minolta CS-3
#: QC manual, Table MP-3 (www.easymanua.ls/konica-minolta/cs-3/manual/791744?p=162); fitted linearly in
#: kVp. Rh/Ag and W/Al use their S_SUBSTITUTES spectrum.
HVL_KVP = (25.0, 28.0, 31.0)
HVL_TYPICAL: dict[tuple[str, str], tuple[float, float, float]] = {
    ("MOLYBDENUM", "MOLYBDENUM"): (0.33, 0.36, 0.39),
    ("MOLYBDENUM", "RHODIUM"): (0.40, 0.42, 0.44),
    ("RHODIUM", "RHODIUM"): (0.38, 0.43, 0.48),
    ("TUNGSTEN", "RHODIUM"): (0.52, 0.54, 0.56),
}

#: Mass attenuation coefficient of aluminium (cm^2/g) and mass energy-absorption coefficient of dry air
#: (cm^2/g) at 10, 15, 20, 30, 40 keV: NIST, Hubbell & Seltzer, NISTIR 5632 (1995), Tables 3 and 4;
#: interpolated log-log. Aluminium density 2.699 g/cm^3 (same source).
NIST_ENERGIES_KEV = (10.0, 15.0, 20.0, 30.0, 40.0)
AL_MU_RHO = (26.23, 7.955, 3.441, 1.128, 0.5685)
AIR_MU_EN_RHO = (4.742, 1.334, 0.5389, 0.1537, 0.06833)
AL_DENSITY = 2.699
#: 1 keV in joules (CODATA).
KEV_J = 1.602176634e-16

#: Detective quantum efficiency that phantom_v2_xray.VendorPhysics.quanta_per_mm2 assumes (its comment:
#: ~70 uGy at the detector and a DQE ~0.5 give the detected quanta). Choice.
DETECTOR_DQE = 0.5
#: Primary transmission of the anti-scatter grid (phantom_v2_xray.VendorPhysics: "a 5:1 grid passes ~0.7
#: of primary"). Choice.
GRID_PRIMARY_TRANSMISSION = 0.7


def _loglog(x: float, xs: tuple[float, ...], ys: tuple[float, ...]) -> float:
    if not xs[0] <= x <= xs[-1]:
        raise MammoError(f"dosimetry: energy {x!r} keV is outside the tabulated {xs[0]}-{xs[-1]} keV")
    return float(math.exp(np.interp(math.log(x), np.log(xs), np.log(ys))))


def g_factor(thickness_mm: float, hvl_mm_al: float) -> float:
    """Dance's g-factor (50 % glandular breast) at ``thickness_mm`` and ``hvl_mm_al``, bilinear in the table."""
    t_cm = thickness_mm / 10.0
    if not G_THICKNESS_CM[0] <= t_cm <= G_THICKNESS_CM[-1]:
        raise MammoError(f"dosimetry: thickness {thickness_mm!r} mm is outside the g table "
                         f"({G_THICKNESS_CM[0] * 10:.0f}-{G_THICKNESS_CM[-1] * 10:.0f} mm)")
    if not G_HVL_MM_AL[0] <= hvl_mm_al <= G_HVL_MM_AL[-1]:
        raise MammoError(f"dosimetry: HVL {hvl_mm_al!r} mm Al is outside the g table "
                         f"({G_HVL_MM_AL[0]}-{G_HVL_MM_AL[-1]} mm Al)")
    table = RegularGridInterpolator((G_THICKNESS_CM, G_HVL_MM_AL), np.asarray(G_FACTORS), method="linear")
    return float(table([[t_cm, hvl_mm_al]])[0])


def s_factor(anode: str, filter_material: str) -> float:
    """The spectrum's s-factor (Dance 2000 / 2009), via :data:`S_SUBSTITUTES` where none is verified."""
    key = (anode.upper(), filter_material.upper())
    key = S_SUBSTITUTES.get(key, key)
    if key not in S_FACTORS:
        raise MammoError(f"dosimetry: no s-factor for target/filter {anode}/{filter_material} "
                         f"(known: {sorted(S_FACTORS)})")
    return S_FACTORS[key]


def typical_hvl_mm_al(anode: str, filter_material: str, kvp: float) -> float:
    """First HVL (mm Al) of a target/filter at ``kvp``: :data:`HVL_TYPICAL` interpolated linearly in kVp."""
    key = (anode.upper(), filter_material.upper())
    key = S_SUBSTITUTES.get(key, key)
    if key not in HVL_TYPICAL:
        raise MammoError(f"dosimetry: no typical HVL for target/filter {anode}/{filter_material} "
                         f"(known: {sorted(HVL_TYPICAL)})")
    lo, hi = HVL_KVP[0] - 3.0, HVL_KVP[-1] + 3.0
    if not lo <= kvp <= hi:
        raise MammoError(f"dosimetry: kVp {kvp!r} is outside the {lo:.0f}-{hi:.0f} kV the HVL table reaches")
    slope, intercept = np.polyfit(HVL_KVP, HVL_TYPICAL[key], 1)
    return float(slope * kvp + intercept)


def effective_energy_kev(hvl_mm: float) -> float:
    """The photon energy whose aluminium HVL is ``hvl_mm`` (NIST mu/rho, log-log): the beam's effective energy."""
    if not 0.1 <= hvl_mm <= 2.0:
        raise MammoError(f"dosimetry: HVL {hvl_mm!r} mm Al is outside the mammographic 0.1-2 mm Al")
    target = math.log(math.log(2.0) / (hvl_mm / 10.0) / AL_DENSITY)  # ln(mu/rho) in cm^2/g
    ln_e, ln_mu = np.log(NIST_ENERGIES_KEV), np.log(AL_MU_RHO)
    return float(math.exp(np.interp(target, ln_mu[::-1], ln_e[::-1])))


def fluence_per_ugy(energies_kev: tuple[float, ...], energy_weights: tuple[float, ...]) -> float:
    """Photons per mm^2 that make 1 uGy of air kerma in a spectrum of energy-fluence shares."""
    e = np.asarray(energies_kev, dtype=np.float64)
    w = np.asarray(energy_weights, dtype=np.float64) / float(np.sum(energy_weights))
    n = w / e  # photon-fluence shares
    n = n / n.sum()
    mu_en = np.array([_loglog(x, NIST_ENERGIES_KEV, AIR_MU_EN_RHO) for x in e]) * 0.1  # m^2/kg
    gy_per_photon_per_m2 = float((n * e * KEV_J * mu_en).sum())
    return 1e-6 / gy_per_photon_per_m2 / 1e6  # photons per mm^2 per uGy


def breast_transmission(thickness_mm: float, glandular_fraction: float, hvl_mm: float) -> float:
    """Air-kerma transmission of a homogeneous breast (thickness, glandular volume fraction) at the effective
    energy of a beam of first HVL ``hvl_mm``.

    Attenuation of adipose and fibroglandular tissue from Johns & Yaffe 1987, the phantom's own
    (:func:`mammo_lib.synth.phantom_v2_xray.mu`), so that dose and image see the same breast. One effective
    energy ignores beam hardening inside the breast, so the transmission is somewhat low and the ESAK
    somewhat high (conservative).
    """
    from mammo_lib.synth.phantom_v2_xray import mu

    if not 0.0 <= glandular_fraction <= 1.0:
        raise MammoError(f"dosimetry: glandular_fraction must be in [0, 1], got {glandular_fraction!r}")
    if thickness_mm <= 0:
        raise MammoError(f"dosimetry: thickness_mm must be positive, got {thickness_mm!r}")
    mu_fat, mu_gland = mu(effective_energy_kev(hvl_mm))
    return float(math.exp(-((1.0 - glandular_fraction) * mu_fat + glandular_fraction * mu_gland) * thickness_mm))


@dataclass(frozen=True)
class Exposure:
    """Technique factors and dose of one view, as an AEC-controlled unit would record them."""

    kvp: float
    tube_current_ma: float
    mas: float
    exposure_time_ms: float
    hvl_mm_al: float  # first HVL of the incident beam (typical of its target/filter and kVp)
    detector_kerma_ugy: float  # air kerma at the image receptor (behind grid), what the AEC holds
    esak_mgy: float  # incident air kerma at the upper breast surface, no backscatter
    g: float
    c: float
    s: float
    agd_mgy: float  # mean glandular dose, K * g * c * s
    thickness_mm: float
    glandular_fraction: float
    source_to_detector_mm: float
    source_to_entrance_mm: float


def exposure(thickness_mm: float, glandular_fraction: float, kvp: float, anode: str, filter_material: str,
             detector_energies_kev: tuple[float, ...], detector_weights: tuple[float, ...],
             detected_quanta_per_mm2: float, spr: float, source_to_detector_mm: float,
             support_to_detector_mm: float, tube_output_ugy_per_mas_1m: float, tube_current_ma: float) -> Exposure:
    """The exposure an AEC gives a breast of ``thickness_mm`` / ``glandular_fraction``, and its dose.

    ``detected_quanta_per_mm2`` / :data:`DETECTOR_DQE` is the photon fluence at the detector in the phantom's
    detected spectrum (``detector_energies_kev`` / ``detector_weights``, energy-fluence shares), i.e. its air
    kerma (:func:`fluence_per_ugy`); of it the share ``1 / (1 + spr)`` is primary, which passed the grid
    (:data:`GRID_PRIMARY_TRANSMISSION`) and the breast (:func:`breast_transmission` at the target/filter's
    typical HVL). The kerma at the breast's exit, carried to its upper surface by the inverse square law, is
    the ESAK; the tube output there gives the mAs, the tube current the exposure time;
    ``AGD = ESAK * g * c * s`` with c = 1 (module docstring).
    """
    for name, value in (("kvp", kvp), ("detected_quanta_per_mm2", detected_quanta_per_mm2),
                        ("source_to_detector_mm", source_to_detector_mm), ("spr", spr + 1.0),
                        ("tube_output_ugy_per_mas_1m", tube_output_ugy_per_mas_1m), ("tube_current_ma", tube_current_ma)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise MammoError(f"dosimetry: {name} must be a positive number, got {value!r}")
    exit_mm = source_to_detector_mm - support_to_detector_mm
    entrance_mm = exit_mm - thickness_mm
    if support_to_detector_mm < 0 or entrance_mm <= 0:
        raise MammoError(f"dosimetry: geometry leaves no room for a {thickness_mm} mm breast "
                         f"(source-detector {source_to_detector_mm} mm, support gap {support_to_detector_mm} mm)")
    hvl = typical_hvl_mm_al(anode, filter_material, kvp)
    detector_ugy = detected_quanta_per_mm2 / DETECTOR_DQE / fluence_per_ugy(detector_energies_kev, detector_weights)
    primary_at_detector = detector_ugy / (1.0 + spr)
    exit_ugy = primary_at_detector / GRID_PRIMARY_TRANSMISSION * (source_to_detector_mm / exit_mm) ** 2
    entrance_ugy = exit_ugy / breast_transmission(thickness_mm, glandular_fraction, hvl) * (exit_mm / entrance_mm) ** 2
    mas = entrance_ugy / (tube_output_ugy_per_mas_1m * (1000.0 / entrance_mm) ** 2)
    g = g_factor(thickness_mm, hvl)
    s = s_factor(anode, filter_material)
    c = 1.0
    esak = entrance_ugy / 1000.0
    return Exposure(kvp, tube_current_ma, mas, 1000.0 * mas / tube_current_ma, hvl, detector_ugy, esak, g, c, s,
                    esak * g * c * s, thickness_mm, glandular_fraction, source_to_detector_mm, entrance_mm)


def view_exposure(vendor: str, thickness_mm: float, glandular_fraction: float) -> Exposure:
    """The exposure and dose of one phantom-v2 view of ``vendor``: its profile's kVp and target/filter, its
    synthetic device (:data:`mammo_lib.synth.config.DEVICES`) and the phantom's detector and scatter
    (:data:`mammo_lib.synth.phantom_v2_xray.PHYSICS`, its ``scatter_to_primary``, as the image)."""
    from mammo_lib.synth.config import DEVICES, VENDOR_BY_NAME
    from mammo_lib.synth.phantom_v2_xray import PHYSICS

    if vendor not in PHYSICS or vendor not in DEVICES:
        raise MammoError(f"dosimetry: vendor must be one of {sorted(PHYSICS)}, got {vendor!r}")
    profile, device, vp = VENDOR_BY_NAME[vendor], DEVICES[vendor], PHYSICS[vendor]
    spr = vp.scatter_to_primary(thickness_mm)
    return exposure(thickness_mm, glandular_fraction, profile.kvp, profile.anode, profile.filter, vp.energies_kev,
                    vp.weights, vp.quanta_per_mm2, spr, device.source_to_detector_mm, device.support_to_detector_mm,
                    device.tube_output_ugy_per_mas_1m, device.tube_current_ma)
