"""Every parameter of the synthetic cohorts, in one place, each with the source of its value.

Values come from three kinds of sources, said next to each: the paper (Li et al. 2023, via
:mod:`mammo_lib.published`), the mammography literature (cited), or a documented modelling choice of this
project ("choice"), made where no published value exists. :func:`validate` refuses bad values with a
:class:`~mammo_lib.errors.MammoError` naming the field and the value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

from mammo_lib import vocab
from mammo_lib.errors import MammoError

#: Master seed of the twin cohort: the paper's online publication date (27 Oct 2023). Choice.
TWIN_SEED = 20231027
#: Seed of the training cohort; must differ from the twin's (checked by ``validate``). Choice.
TRAIN_SEED = 20190401
#: Patient-id prefixes keep the cohorts disjoint by construction.
TWIN_PREFIX = "P"
TRAIN_PREFIX = "T"


@dataclass(frozen=True)
class VendorProfile:
    """How one vendor's for-presentation MG images are stored (tags and pixel encoding)."""

    name: str  # vocab.VENDOR code
    manufacturer: str  # DICOM Manufacturer (0008,0070)
    model: str  # ManufacturerModelName; paper "Imaging": the three systems of the study
    anode: str  # AnodeTargetMaterial; paper "Imaging"
    filter: str  # FilterMaterial; paper "Imaging"
    #: Scaled ImagerPixelSpacing (mm): 5x the native detector pitch (Siemens 85 um, GE 100 um, Hologic 70 um,
    #: vendor data sheets) - a deliberate coarsening so that ~1,300 images render in minutes on 2 cores;
    #: the models work at 448 x 448 anyway (paper "Imaging").
    pixel_spacing_mm: float
    #: Large detector field (rows, cols) in mm: the 24 x 29-30 cm detectors of the three systems (data
    #: sheets); breasts that fit use the 18 x 24 cm field (SMALL_FIELD_MM), as technologists do.
    field_mm: tuple[float, float]
    bits_stored: int  # choice: 12, 14, 16 so that readers meet all three depths
    photometric: str  # MONOCHROME1 or MONOCHROME2
    voi: str  # "window" (WindowCenter/Width, LINEAR), "sigmoid" (window + VOILUTFunction SIGMOID), "lut"
    kvp: float  # typical AEC kVp for a 45-50 mm breast on that target/filter (choice within vendor ranges)


VENDORS: tuple[VendorProfile, ...] = (
    VendorProfile("Siemens", "SIEMENS", "Mammomat Inspiration", "TUNGSTEN", "RHODIUM", 0.425, (300.0, 240.0),
                  12, "MONOCHROME2", "window", 28.0),
    # GE for-presentation images are commonly MONOCHROME1 with a SIGMOID VOI LUT function.
    VendorProfile("GE", "GE MEDICAL SYSTEMS", "Senographe Pristina", "RHODIUM", "SILVER", 0.50, (290.0, 240.0),
                  14, "MONOCHROME1", "sigmoid", 29.0),
    VendorProfile("Hologic", "HOLOGIC, Inc.", "Selenia Dimensions", "TUNGSTEN", "ALUMINUM", 0.35, (290.0, 240.0),
                  16, "MONOCHROME2", "lut", 30.0),
)
VENDOR_BY_NAME = {v.name: v for v in VENDORS}
#: Default pixel pitch of phantom v2 (mm): a 2x2-binned readout of the ~0.1 mm detectors, fine enough for
#: spicules, small masses and fibrous strands (issue 15: "at most 0.2 mm").
V2_DEFAULT_PITCH_MM = 0.2
PHANTOMS = ("v1", "v2")
#: The small (18 x 24 cm) field, (rows, cols) in mm, used when the breast fits in it.
SMALL_FIELD_MM = (240.0, 180.0)


@dataclass(frozen=True)
class ReaderParams:
    """A simulated reader: detection by an image-based model observer, BI-RADS by noisy feature perception.

    ``efficiency`` scales the observer's detectability (human efficiency relative to the ideal
    non-prewhitening observer is ~0.1-0.5, Burgess 1997 JOSA A 14:2420), ``internal_noise`` is the reader's
    decision noise (in detectability units) and ``threshold`` the detectability needed to report a mass.
    ``perception_noise`` (SD of the perceived suspicion) and ``positive_cut`` (suspicion above which a mass
    is called 4A or higher) set the BI-RADS operating point. Fitted by :func:`mammo_lib.synth.readers.calibrate`.
    """

    efficiency: float
    internal_noise: float
    threshold: float
    perception_noise: float
    positive_cut: float
    detects: bool = True  # False: the senior consensus classified every mass (no detection task)
    #: Weight of the mass's reference BI-RADS (senior radiologist A's category, Tables 1 and 3; its normal score,
    #: :func:`mammo_lib.synth.readers.reference_score`) in the perceived suspicion, beside the features: the
    #: readers see the same mass the reference rated, so their suspicion keeps its ordering. Fitted (issue 28).
    reference_weight: float = 0.0


#: Calibrated on the twin (phantom v2) by ``mammo synth --calibrate-readers`` (see readers.calibrate; issue 28):
#: efficiency, reference_weight, perception_noise and positive_cut are the fitted numbers (internal_noise 0.5 and
#: threshold 1.0 are fixed choices). Targets: each junior's Table 3 column total, 519 / 482 of 618 (the twin's
#: junior_a is Table 3's junior A: see reader_calibration), and Table 4's true positives and true negatives per
#: reader (114/411, 121/407, 137/423). In "calibrated" mode the juniors' detections come from
#: reader_calibration (efficiency then only sets the slope on log SNR, 4.3 / 4.0). Reached on the twin: every
#: Table 3 cell of both juniors; TP/TN 114/411, 121/407 and 137/423. Junior B's noiseless perception at the
#: senior's reference weight falls short of 121, so its weight is the largest that reaches it.
READERS: dict[str, ReaderParams] = {
    "junior_a": ReaderParams(efficiency=0.39281, internal_noise=0.5, threshold=1.0, perception_noise=1.9575,
                             positive_cut=1.825834, reference_weight=2.88403),
    "junior_b": ReaderParams(efficiency=0.27602, internal_noise=0.5, threshold=1.0, perception_noise=0.0,
                             positive_cut=0.703765, reference_weight=1.77828),
    "senior": ReaderParams(efficiency=1.0, internal_noise=0.5, threshold=0.0, perception_noise=0.0,
                           positive_cut=1.966045, detects=False, reference_weight=2.88403),
}

#: How the twin's juniors detect (issue 28): "calibrated" (pixels and strata, every cell of Table 3 reproduced:
#: :mod:`mammo_lib.synth.reader_calibration`) or "observer" (the pure NPWE observer; notebook 06 shows both).
READER_MODE = "calibrated"

#: False (non-lesion) marks per image of a simulated junior (:mod:`mammo_lib.synth.reader_marks`). An assumption:
#: the paper reports none; 0.36 is the radiologists' rate in a published FROC observer study of mammography
#: (Zanca et al.'s "FED" study, RJafroc dataset04: 1,447 non-lesion marks in 4,000 image readings; its lesions were
#: simulated microcalcification clusters, not masses).
READER_FALSE_MARKS_PER_IMAGE = 0.36


@dataclass(frozen=True)
class SynthConfig:
    """All knobs of the generator. Defaults reproduce the twin; every field is checked by :func:`validate`."""

    seed: int = TWIN_SEED
    id_prefix: str = TWIN_PREFIX
    split: str = "test"  # the twin is the paper's clinical test set
    #: "exact": the twin's published counts; "sampled": counts proportional to them for n_patients patients.
    composition: str = "exact"
    n_patients: int = 324  # paper, Results (published.COHORT)
    val_fraction: float = 0.0  # share of patients put in split "val" (training cohort only)

    # -- exams ---------------------------------------------------------------------------------
    #: Share of unilateral exams (CC + MLO of one side). The paper allows them ("bilateral or unilateral",
    #: Methods) without a count; choice.
    unilateral_fraction: float = 0.08
    #: Largest number of masses in one patient. Choice (618 masses / 324 patients = 1.9 on average).
    max_masses_per_patient: int = 5
    #: Vendor shares (Siemens, GE, Hologic); not published, choice.
    vendor_shares: tuple[float, float, float] = (0.34, 0.33, 0.33)
    #: Study dates fall in the paper's recruitment window, April-December 2019 (Methods).
    study_window: tuple[str, str] = ("20190401", "20191231")

    # -- anatomy (mm) --------------------------------------------------------------------------
    #: Posterior nipple line length, mean and SD, CC view: ~80-120 mm in screening populations
    #: (Mercer et al. Clin Radiol 2015;70:946); Asian breasts are smaller, choice 85 +- 18 mm.
    nipple_depth_mm: tuple[float, float] = (85.0, 18.0)
    #: Breast half-height at the chest wall relative to the nipple depth (CC): choice 0.95-1.25.
    aspect_range: tuple[float, float] = (0.95, 1.25)
    #: Compressed thickness (mm): 45 +- 10 mm for diagnostic mammography (Dance et al. PMB 2000;45:3225).
    thickness_mm: tuple[float, float] = (45.0, 10.0)
    #: Width of the peripheral thickness fall-off band (mm), where the compressed breast rounds off. Choice.
    periphery_mm: float = 14.0
    skin_mm: float = 1.5  # skin thickness 1.5 mm (Huang et al. Med Phys 2008;35:5199)
    #: MLO pectoral muscle: top-edge width and chest-wall height as fractions of the nipple depth. Choice.
    pectoral_top: tuple[float, float] = (0.35, 0.6)
    pectoral_side: tuple[float, float] = (0.9, 1.5)
    #: Outline superellipse exponents across (p) and along (q) the nipple axis, and the MLO/CC posterior
    #: nipple line ratio (MLO within ~1 cm of CC; Mercer et al. Clin Radiol 2015;70:946). Choice.
    outline_p: tuple[float, float] = (1.9, 2.5)
    outline_q: tuple[float, float] = (1.5, 1.9)
    mlo_depth_ratio: tuple[float, float] = (0.98, 1.1)
    #: Contralateral breast: relative jitter of size, aspect, pectoral and thickness (left and right are
    #: alike within a few percent; the paper's BDVN relies on it). Choice.
    contralateral_jitter: float = 0.04
    #: Phantom v2: SD of the difference between the percent dense areas (fractions) of a woman's two breasts:
    #: the left breast is rendered to the right one's target plus that difference (generate.breast_dense_targets).
    #: Breast density is a property of the woman and her two sides agree closely, with no systematic left-right
    #: difference (e.g. Hudson et al. Br J Radiol 2020;93:20200154); 0.04 (4 points, about a third of the SD
    #: between women of one BI-RADS category) is a choice. ``None``: each breast draws its own target (the two
    #: sides can differ by 0.2 or more); the training cohorts of the shipped weights were rendered so, and
    #: train_config keeps it, so that the README's recipe regenerates them pixel for pixel.
    contralateral_dense_sd: float | None = 0.04
    #: Linear attenuation (1/cm) at ~20 keV: fat 0.46, fibroglandular 0.80 (Johns & Yaffe PMB 1987;32:675);
    #: pectoral muscle ~ glandular. Skin 0.80.
    mu_fat: float = 0.46
    mu_gland: float = 0.80
    #: ACR density -> dense (fibroglandular) area fraction of the breast, centre of each band
    #: (BI-RADS 4th ed. quartiles <25, 25-50, 51-75, >75 %; ACR 2003), with a +-0.05 spread.
    dense_fraction: tuple[float, float, float, float] = (0.12, 0.37, 0.63, 0.85)
    #: Power-law exponent of the anatomical background, beta ~ 2.6-3.3 (Burgess et al. Med Phys
    #: 2001;28:419: 2.7-3.0; Heine & Velthuizen Med Phys 2000;27:2644).
    beta_range: tuple[float, float] = (2.6, 3.3)
    #: Share of the projected path that is glandular where the tissue is dense, per ACR density a-d.
    #: Denser categories also hold more glandular volume (volumetric density rises with the category:
    #: Volpara density grades cut at 4.5 / 7.5 / 15.5 %), so the dense areas of a d breast attenuate more
    #: than those of an a breast. Choice, ordered like those grades.
    gland_path_fraction: tuple[float, float, float, float] = (0.3, 0.38, 0.48, 0.6)
    #: Weight (in field SDs) of the central prior that gathers glandular tissue behind the nipple, and
    #: softness of the dense/fat transition (field SDs). Choice.
    gland_prior_weight: float = 1.2
    gland_softness: float = 0.45
    #: Pectoral muscle attenuation: share of the breast thickness that is muscle at its thickest. Choice.
    pectoral_fraction: float = 0.55
    #: Peripheral equalisation of the vendors' processing: share of the missing fat restored where the
    #: breast thins at its edge (vendors' thickness equalisation; choice).
    equalisation: float = 0.85

    # -- masses --------------------------------------------------------------------------------
    #: Mass size (longest diameter, mm): lognormal, median 14 mm, geometric SD 1.55, clipped 5-60 mm;
    #: diagnostic series report medians 12-18 mm (e.g. Michaelson et al. Cancer 2002;95:713). Choice.
    size_median_mm: float = 14.0
    size_gsd: float = 1.55
    size_clip_mm: tuple[float, float] = (5.0, 60.0)
    #: Mass attenuation relative to fibroglandular tissue by mass density (BI-RADS "density of the mass
    #: relative to an equal volume of fibroglandular tissue"): high, equal, low, fat-containing. Choice.
    mass_mu_ratio: tuple[float, float, float, float] = (1.12, 1.0, 0.8, 0.0)
    #: Fraction of the mass diameter that the mass is thick in projection (ellipsoid). Choice.
    mass_depth_ratio: float = 0.8

    # -- acquisition ---------------------------------------------------------------------------
    #: Detected quanta per pixel behind fat at the scaled pitch (sets quantum noise). Choice giving
    #: SNR ~ 150 per pixel in fatty regions.
    photons_per_pixel: float = 2.5e4
    #: Detector blur (Gaussian SD, mm): MTF50 ~ 5 lp/mm class detectors, at the coarse pitch. Choice.
    blur_mm: float = 0.15

    # -- joint structure of the features (see cohort.assign_masses) -----------------------------
    #: Noise of each feature's ranking around the latent suspiciousness z (smaller = tighter link to
    #: malignancy). Choice, documented in composition: malignancy, margin and shape follow z closely
    #: (spiculated masses ~90% malignant, circumscribed ~0%: BI-RADS atlas PPVs), BI-RADS a little
    #: less, mass density loosely. Tight enough that the senior consensus's published operating point
    #: (Table 4: 90.1% sensitivity at 90.8% specificity) is reachable from perceived features.
    rank_noise: dict[str, float] = field(default_factory=lambda: {
        "pathology": 0.2, "birads": 0.4, "margin": 0.25, "morphology": 0.3, "mass_density": 0.6})
    #: Weight of standardised age in the latent suspiciousness (cancer risk rises with age). Choice.
    age_weight: float = 0.35

    # -- phantom -------------------------------------------------------------------------------
    #: Which phantom renders the views: "v1" (the first phantom, the twin's until issue 15: a thresholded
    #: power-law field at 5x the detector pitch, :mod:`mammo_lib.synth.phantom_v1`) or "v2" (anatomy after the
    #: FDA's VICTRE phantom, projected through a layered volume, per-vendor acquisition:
    #: :mod:`mammo_lib.synth.phantom_v2`, :mod:`mammo_lib.synth.phantom_v2_xray`). The twin and the training cohorts use "v2" (issue 15); "v1" stays for
    #: comparison (notebook 02) and for the small cohorts of the tests.
    phantom: str = "v2"
    #: Pixel pitch (mm) of phantom v2: None = V2_DEFAULT_PITCH_MM, "native" = each vendor's detector pitch
    #: (0.085 / 0.1 / 0.07 mm), or a number. Phantom v1 always uses VendorProfile.pixel_spacing_mm.
    pitch_mm: float | str | None = None

    def with_(self, **changes: Any) -> "SynthConfig":
        """A copy with some fields changed, validated."""
        return validate(replace(self, **changes))


#: Each vendor's detector pixel pitch in mm (Siemens a-Se 85 um, GE CsI 100 um, Hologic a-Se 70 um), the
#: pitch phantom v2 renders at with ``pitch_mm="native"`` (:mod:`mammo_lib.synth.phantom_v2_xray` reads it from here).
NATIVE_PITCH_MM: dict[str, float] = {"Siemens": 0.085, "GE": 0.100, "Hologic": 0.070}


@dataclass(frozen=True)
class SyntheticDevice:
    """The synthetic acquisition unit of one vendor: identity written to the header (IHE Mammography Image
    profile) and the geometry and tube figures the dose model uses (:mod:`mammo_lib.synth.dosimetry`).

    Identities are made up and say so ("SYNTH-..."): no real unit has them. Tube output and current are
    choices of typical magnitude for the target/filter and kVp, not a particular tube's measurements.
    """

    station_name: str
    software_versions: str
    device_serial_number: str
    detector_id: str
    #: Source-to-image distance (mm): 650-700 mm on the three systems (data sheets); choice per vendor.
    source_to_detector_mm: float
    #: Breast support (and air gap) above the detector surface (mm). Choice.
    support_to_detector_mm: float
    #: Tube output at 1 m (uGy per mAs) at the profile's kVp and target/filter. Choice (typical magnitude).
    tube_output_ugy_per_mas_1m: float
    #: Tube current during the exposure (mA). Choice.
    tube_current_ma: float
    #: Compression force range (N) the view's force is drawn from (deterministically from its id). Choice.
    compression_force_n: tuple[float, float]


DEVICES: dict[str, SyntheticDevice] = {
    "Siemens": SyntheticDevice("SYNTH-MG-SIEMENS", "SYNTH VB-2019.1 (synthetic twin)", "SYNTH-S-0001",
                               "SYNTH-DET-S-0001", 650.0, 20.0, 25.0, 120.0, (70.0, 140.0)),
    "GE": SyntheticDevice("SYNTH-MG-GE", "SYNTH ADS-2019.1 (synthetic twin)", "SYNTH-G-0001",
                          "SYNTH-DET-G-0001", 660.0, 20.0, 35.0, 100.0, (70.0, 140.0)),
    "Hologic": SyntheticDevice("SYNTH-MG-HOLOGIC", "SYNTH AWS-2019.1 (synthetic twin)", "SYNTH-H-0001",
                               "SYNTH-DET-H-0001", 700.0, 20.0, 40.0, 150.0, (70.0, 140.0)),
}

def twin_config() -> SynthConfig:
    """The configuration of the embedded twin cohort (the default)."""
    return validate(SynthConfig())


def train_config(n_patients: int = 1000, seed: int = TRAIN_SEED) -> SynthConfig:
    """The training cohort: same generator, another seed and prefix, counts sampled like the twin's."""
    return validate(SynthConfig(seed=seed, id_prefix=TRAIN_PREFIX, split="train", composition="sampled",
                                n_patients=n_patients, val_fraction=0.1, contralateral_dense_sd=None))


def view_pitch_mm(cfg: SynthConfig, vendor: str) -> float:
    """Pixel pitch (mm) of the views of ``vendor`` under ``cfg``."""
    if cfg.phantom == "v1":
        return VENDOR_BY_NAME[vendor].pixel_spacing_mm
    if cfg.pitch_mm is None:
        return V2_DEFAULT_PITCH_MM
    if cfg.pitch_mm == "native":
        return NATIVE_PITCH_MM[vendor]
    return float(cfg.pitch_mm)


def _check_pair(name: str, pair: tuple[float, float], positive: bool = True, ordered: bool = True) -> None:
    if len(pair) != 2 or not all(isinstance(x, (int, float)) and math.isfinite(x) for x in pair):
        raise MammoError(f"synth config: {name} must be two finite numbers, got {pair!r}")
    if positive and min(pair) <= 0:
        raise MammoError(f"synth config: {name} must be positive, got {pair!r}")
    if ordered and pair[0] > pair[1]:
        raise MammoError(f"synth config: {name} must be (low, high) with low <= high, got {pair!r}")


def validate(cfg: SynthConfig) -> SynthConfig:
    """Return ``cfg`` if every field is usable, else raise MammoError naming the field and its value."""
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, float) and not math.isfinite(value):
            raise MammoError(f"synth config: {f.name} must be finite, got {value!r}")
    if not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise MammoError(f"synth config: seed must be a non-negative integer, got {cfg.seed!r}")
    if cfg.id_prefix not in (TWIN_PREFIX, TRAIN_PREFIX):
        raise MammoError(f"synth config: id_prefix must be {TWIN_PREFIX!r} or {TRAIN_PREFIX!r}, got {cfg.id_prefix!r}")
    if cfg.id_prefix == TRAIN_PREFIX and cfg.seed == TWIN_SEED:
        raise MammoError(f"synth config: a training cohort may not use the twin's seed {TWIN_SEED}")
    if cfg.split not in vocab.SPLIT:
        raise MammoError(f"synth config: split must be one of {vocab.SPLIT}, got {cfg.split!r}")
    if cfg.composition not in ("exact", "sampled"):
        raise MammoError(f"synth config: composition must be 'exact' or 'sampled', got {cfg.composition!r}")
    if cfg.composition == "exact" and cfg.n_patients != 324:
        raise MammoError(f"synth config: the exact twin composition has 324 patients, got n_patients={cfg.n_patients}")
    if not isinstance(cfg.n_patients, int) or cfg.n_patients < 1:
        raise MammoError(f"synth config: n_patients must be a positive integer, got {cfg.n_patients!r}")
    for name in ("unilateral_fraction", "val_fraction"):
        value = getattr(cfg, name)
        if not 0.0 <= value < 1.0:
            raise MammoError(f"synth config: {name} must be in [0, 1), got {value!r}")
    if not 1 <= cfg.max_masses_per_patient <= 8:
        raise MammoError(f"synth config: max_masses_per_patient must be 1-8, got {cfg.max_masses_per_patient!r}")
    shares = cfg.vendor_shares
    if len(shares) != len(VENDORS):
        raise MammoError(f"synth config: vendor_shares must give {len(VENDORS)} proportions "
                         f"({', '.join(v.name for v in VENDORS)}), got {shares!r}")
    validate_proportions("vendor_shares", dict(zip((v.name for v in VENDORS), shares)), vocab.VENDOR)
    if len(cfg.dense_fraction) != len(vocab.BREAST_DENSITY) or not all(
            0 < a < b < 1 for a, b in zip(cfg.dense_fraction, cfg.dense_fraction[1:])):
        raise MammoError(f"synth config: dense_fraction must be 4 increasing fractions in (0, 1) for densities "
                         f"{vocab.BREAST_DENSITY}, got {cfg.dense_fraction!r}")
    gpf = cfg.gland_path_fraction
    if len(gpf) != len(vocab.BREAST_DENSITY) or not all(0 < g <= 1 for g in gpf):
        raise MammoError(f"synth config: gland_path_fraction must be 4 fractions in (0, 1] for densities "
                         f"{vocab.BREAST_DENSITY}, got {gpf!r}")
    if len(cfg.mass_mu_ratio) != len(vocab.MASS_DENSITY) or min(cfg.mass_mu_ratio) < 0:
        raise MammoError(f"synth config: mass_mu_ratio must be 4 non-negative ratios, got {cfg.mass_mu_ratio!r}")
    for name in ("nipple_depth_mm", "thickness_mm"):
        _check_pair(name, getattr(cfg, name), ordered=False)
    for name in ("aspect_range", "beta_range", "size_clip_mm", "pectoral_top", "pectoral_side", "outline_p",
                 "outline_q", "mlo_depth_ratio"):
        _check_pair(name, getattr(cfg, name))
    for name in ("periphery_mm", "skin_mm", "mu_fat", "mu_gland", "size_median_mm", "photons_per_pixel",
                 "blur_mm", "mass_depth_ratio", "gland_softness", "pectoral_fraction"):
        value = getattr(cfg, name)
        if value <= 0:
            raise MammoError(f"synth config: {name} must be positive, got {value!r}")
    for name in ("contralateral_jitter", "equalisation", "gland_prior_weight"):
        if not 0.0 <= getattr(cfg, name) <= (1.0 if name != "gland_prior_weight" else 5.0):
            raise MammoError(f"synth config: {name} is out of range, got {getattr(cfg, name)!r}")
    sd = cfg.contralateral_dense_sd
    if sd is not None and not (isinstance(sd, (int, float)) and 0.0 <= sd <= 0.2):
        raise MammoError(f"synth config: contralateral_dense_sd must be None or an SD of 0-0.2, got {sd!r}")
    if cfg.size_gsd < 1.0:
        raise MammoError(f"synth config: size_gsd is a geometric SD and must be >= 1, got {cfg.size_gsd!r}")
    if cfg.mu_gland <= cfg.mu_fat:
        raise MammoError(f"synth config: mu_gland ({cfg.mu_gland}) must exceed mu_fat ({cfg.mu_fat})")
    if cfg.phantom not in PHANTOMS:
        raise MammoError(f"synth config: phantom must be one of {PHANTOMS}, got {cfg.phantom!r}")
    if cfg.pitch_mm is not None:
        if cfg.phantom == "v1":
            raise MammoError(f"synth config: pitch_mm applies to phantom v2 only (v1 uses each vendor's "
                             f"pixel_spacing_mm), got pitch_mm={cfg.pitch_mm!r}")
        if cfg.pitch_mm != "native" and not (isinstance(cfg.pitch_mm, (int, float))
                                             and 0.05 <= float(cfg.pitch_mm) <= 0.5):
            raise MammoError(f"synth config: pitch_mm must be None, 'native' or a pitch of 0.05-0.5 mm, "
                             f"got {cfg.pitch_mm!r}")
    for key, value in cfg.rank_noise.items():
        if key not in ("pathology", "birads", "margin", "morphology", "mass_density") or value < 0:
            raise MammoError(f"synth config: rank_noise[{key!r}] must be a known feature with noise >= 0, got {value!r}")
    return cfg


def validate_proportions(name: str, shares: dict[str, float], vocabulary: tuple[str, ...]) -> dict[str, float]:
    """Check a category -> share mapping: known categories, non-negative, summing to 1."""
    unknown = sorted(set(shares) - set(vocabulary))
    if unknown:
        raise MammoError(f"synth config: {name} has unknown categories {unknown} (expected {vocabulary})")
    if any(v < 0 or not math.isfinite(v) for v in shares.values()):
        raise MammoError(f"synth config: {name} shares must be finite and non-negative, got {shares!r}")
    total = sum(shares.values())
    if abs(total - 1.0) > 1e-6:
        raise MammoError(f"synth config: {name} proportions must sum to 1, got {total:.6f}")
    return shares
