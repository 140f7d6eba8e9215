"""Acquisition of the v2 phantom per vendor: polychromatic Beer-Lambert, scatter with a grid, detector, processing.

A view's projected fat and gland path lengths (:class:`mammo_lib.synth.phantom_v2.Projection`) become detected
energy per pixel at the vendor's spectrum (a few energy bins, linear attenuation of adipose and
fibroglandular tissue from Johns & Yaffe PMB 1987;32:675), plus scatter left by the anti-scatter grid, blurred
by the detector, with Poisson quantum noise and Gaussian electronic noise. The vendor's for-presentation
processing then takes the log, equalises the periphery (the thinning breast edge), enhances local contrast
and edges (unsharp masks at two scales) and maps the breast's full range, with head-room, into the
presentation scale: continuous grey levels, nothing clipped inside the breast.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from mammo_lib.errors import MammoError
from mammo_lib.synth import texture, phantom_v2
from mammo_lib.synth.anatomy import ViewGeometry
from mammo_lib.synth.config import NATIVE_PITCH_MM
from mammo_lib.synth.phantom_v1 import PlacedMass, RenderedView

f32 = np.float32

#: Linear attenuation coefficients (1/cm) of adipose and fibroglandular tissue at 18, 20, 25, 30 keV
#: (Johns & Yaffe PMB 1987;32:675, Table 1); interpolated log-log, extrapolated below 18 keV.
MU_ENERGIES_KEV = (18.0, 20.0, 25.0, 30.0)
MU_FAT = (0.558, 0.456, 0.322, 0.264)
MU_GLAND = (1.028, 0.802, 0.506, 0.378)


def mu(energy_kev: float) -> tuple[float, float]:
    """(mu_fat, mu_gland) in 1/mm at ``energy_kev`` (log-log interpolation of Johns & Yaffe 1987)."""
    if not 10.0 <= energy_kev <= 40.0:
        raise MammoError(f"mu: energy {energy_kev!r} keV is outside the mammographic range 10-40 keV")
    le = np.log(MU_ENERGIES_KEV)
    out = []
    for table in (MU_FAT, MU_GLAND):
        lm = np.log(table)
        x = math.log(energy_kev)
        if x <= le[1]:
            slope = (lm[1] - lm[0]) / (le[1] - le[0])
            val = lm[0] + slope * (x - le[0])
        else:
            val = float(np.interp(x, le, lm))
        out.append(math.exp(val) / 10.0)
    return out[0], out[1]


@dataclass(frozen=True)
class VendorPhysics:
    """Spectrum, detector and for-presentation processing of one vendor (v2 phantom)."""

    name: str
    native_pitch_mm: float  # detector element pitch (data sheets: Siemens 85 um, GE 100 um, Hologic 70 um)
    #: Detected energy spectrum: bin energies (keV) and energy-weighted shares. Choice shaped after the
    #: target/filter of each system (W/Rh: cut above the Rh K-edge 23.2 keV; Rh/Ag: Rh K lines 20-23 keV;
    #: W/Al: broad and harder) at its typical kVp (config.VendorProfile.kvp).
    energies_kev: tuple[float, ...]
    weights: tuple[float, ...]
    detector: str  # "a-Se" (direct) or "CsI" (indirect): sets the blur
    blur_mm: float  # detector MTF as a Gaussian SD (a-Se ~ 0.03 mm, CsI ~ 0.07 mm; choice)
    #: Detected quanta per mm^2 behind the breast (AEC), and electronic noise (quanta per 0.1 mm pixel).
    #: At 20 keV the air kerma per fluence is E * (mu_en/rho)_air = 20 keV * 5.39 cm^2/g (NIST), so 1 uGy is
    #: 5.8e3 photons per mm^2; ~ 70 uGy at the detector (choice, typical FFDM) and a DQE ~ 0.5 give 2e5.
    quanta_per_mm2: float
    electronic_noise: float
    #: Scatter-to-primary ratio after the grid at 45 mm (Boone et al. Med Phys 2000;27:1818: ~0.5-0.6
    #: without grid at 4-5 cm; a 5:1 grid passes ~ 0.7 of primary and ~ 0.15 of scatter) and its spread (mm).
    spr_45mm: float
    scatter_sigma_mm: float
    #: For-presentation processing (choice; vendors' own are proprietary): share of the peripheral
    #: thickness fall-off restored, unsharp-mask gains at a fine (edge) and a coarse (local contrast) scale,
    #: display gamma of the log signal. Equalisation about 0.5-0.6 and local-contrast gains 0.12-0.21
    #: (lowered from 0.65-0.85 and 0.4-0.7 on the classifier two-sample test of notebook 02: stronger values
    #: flattened the breast's large-scale structure, which real for-presentation images keep); edge gains
    #: 0.16-0.32 (from 0.4-0.8: the fine-scale gradient of real images at the common scale is lower).
    equalisation: float
    edge_gain: float
    edge_sigma_mm: float
    contrast_gain: float
    contrast_sigma_mm: float
    gamma: float

    def scatter_to_primary(self, thickness_mm: float) -> float:
        """Scatter-to-primary ratio after the grid for a breast of ``thickness_mm`` (grows with thickness, Boone
        2000): the image's scatter (:func:`detected_signal`) and the dose model's (:mod:`mammo_lib.synth.dosimetry`)."""
        return self.spr_45mm * (0.3 + 0.7 * thickness_mm / 45.0)


PHYSICS: dict[str, VendorPhysics] = {
    "Siemens": VendorPhysics("Siemens", NATIVE_PITCH_MM["Siemens"], (16.0, 18.0, 20.0, 22.0, 24.0, 26.0),
                             (0.06, 0.18, 0.30, 0.28, 0.13, 0.05), "a-Se", 0.03, 2.0e5, 3.0, 0.12, 12.0,
                             0.53, 0.24, 0.3, 0.15, 6.0, 1.0),
    "GE": VendorPhysics("GE", NATIVE_PITCH_MM["GE"], (16.0, 18.0, 20.0, 22.0, 24.0, 26.0),
                        (0.04, 0.14, 0.36, 0.32, 0.11, 0.03), "CsI", 0.07, 2.0e5, 4.0, 0.12, 12.0,
                        0.6, 0.16, 0.4, 0.21, 8.0, 0.9),
    "Hologic": VendorPhysics("Hologic", NATIVE_PITCH_MM["Hologic"], (16.0, 18.0, 20.0, 22.0, 25.0, 28.0),
                             (0.04, 0.12, 0.22, 0.24, 0.24, 0.14), "a-Se", 0.03, 2.0e5, 3.0, 0.12, 12.0,
                             0.46, 0.32, 0.25, 0.12, 5.0, 1.1),
}


def detected_signal(proj: phantom_v2.Projection, vp: VendorPhysics, spacing_mm: float,
                    rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Detected quanta per pixel (float32) and the unattenuated (flat-field) level."""
    thick, gland = proj.thickness, proj.gland
    primary = np.zeros(thick.shape, dtype=np.float32)
    w = np.asarray(vp.weights, dtype=np.float64)
    w = w / w.sum()
    for e, we in zip(vp.energies_kev, w):
        mf, mg = mu(e)
        primary += f32(we) * np.exp(-(f32(mf) * (thick - gland) + f32(mg) * gland))
    # scatter after the grid: a broad blur of the breast's primary, SPR growing with thickness (Boone 2000)
    t_mean = float(thick[proj.breast].mean()) if proj.breast.any() else 45.0
    spr = vp.scatter_to_primary(t_mean)
    sig = vp.scatter_sigma_mm / spacing_mm
    scatter = _lowpass(primary * proj.breast, np.ones_like(primary), sig)
    signal = primary + f32(spr) * scatter
    # detector blur, then quanta (AEC: the breast's median primary gets the nominal fluence)
    signal = ndimage.gaussian_filter(signal, vp.blur_mm / spacing_mm, truncate=3.0)
    ref = float(np.median(primary[proj.breast])) if proj.breast.any() else 1.0
    scale = vp.quanta_per_mm2 * spacing_mm**2 / ref
    quanta = rng.poisson(signal.astype(np.float64) * scale).astype(np.float32)
    quanta += f32(vp.electronic_noise * spacing_mm / 0.1) * rng.standard_normal(quanta.shape, dtype=np.float32)
    return quanta, float(scale)


def _lowpass(a: np.ndarray, weight: np.ndarray, sigma_px: float) -> np.ndarray:
    """Normalised Gaussian low-pass of ``a`` inside ``weight`` (broad sigmas computed on a block-mean grid)."""
    step = max(1, int(sigma_px // 4))
    if step > 1:
        rows, cols = a.shape
        pr, pc = (-rows) % step, (-cols) % step
        ap = np.pad(a * weight, ((0, pr), (0, pc)), mode="edge").reshape((rows + pr) // step, step,
                                                                           (cols + pc) // step, step).mean(axis=(1, 3))
        wp = np.pad(weight, ((0, pr), (0, pc)), mode="edge").reshape((rows + pr) // step, step,
                                                                      (cols + pc) // step, step).mean(axis=(1, 3))
        num = ndimage.gaussian_filter(ap, sigma_px / step)
        den = ndimage.gaussian_filter(wp, sigma_px / step)
        low = num / np.maximum(den, f32(1e-3))
        return texture.upsample_linear(low, (rows, cols), step)
    num = ndimage.gaussian_filter(a * weight, sigma_px)
    return num / np.maximum(ndimage.gaussian_filter(weight, sigma_px), f32(1e-3))


def for_presentation(quanta: np.ndarray, flat: float, breast: np.ndarray, vp: VendorPhysics,
                     spacing_mm: float) -> np.ndarray:
    """The vendor's processing: log, peripheral equalisation, contrast and edge enhancement, display range."""
    log = np.log(f32(flat)) - np.log(np.maximum(quanta, f32(1.0)))  # attenuation line integral
    b = breast.astype(np.float32)
    # peripheral equalisation: a smooth estimate of the thickness trend (normalised convolution inside the
    # breast) is lifted near the skin towards the interior level
    trend = _lowpass(log, b, 10.0 / spacing_mm)
    inner = ndimage.binary_erosion(breast, iterations=max(1, int(round(15.0 / spacing_mm)))) if breast.any() else breast
    # the level restored is that of the interior's fattier tissue (its 10th percentile), not its median: the
    # thin periphery becomes fat-like, not as bright as the parenchyma
    pool = trend[inner] if inner.any() else trend[breast] if breast.any() else np.zeros(1, np.float32)
    level = float(np.percentile(pool, 10.0))
    lift = np.maximum(f32(level) - trend, 0.0) * b
    out = log + f32(vp.equalisation) * lift
    # contrast and edges: unsharp masks inside the breast (normalised convolution keeps the skin line clean)
    for gain, sigma_mm in ((vp.contrast_gain, vp.contrast_sigma_mm), (vp.edge_gain, vp.edge_sigma_mm)):
        sg = sigma_mm / spacing_mm
        low = _lowpass(out, b, sg)
        out = out + f32(gain) * (out - low) * b
    # display curve: the breast's 1-99 % range spans most of the scale; beyond it a smooth roll-off
    # (tanh knee) keeps every breast value inside (0, 1): continuous, nothing clipped
    if breast.any():
        lo, hi = (float(v) for v in np.percentile(out[breast], [1.0, 99.0]))
    else:
        lo, hi = 0.0, 1.0
    x = (out - f32(lo)) / f32(max(hi - lo, 1e-6))
    knee = f32(0.08)
    y = np.where(x < 0, knee * np.tanh(x / knee), np.where(x > 1, 1 + knee * np.tanh((x - 1) / knee), x))
    pres = (y + knee) / (1 + 2 * knee)
    pres = np.where(breast, np.clip(pres, 0.0, 1.0) ** f32(vp.gamma), f32(0.0))
    return pres.astype(np.float32)


def render_view(geom: ViewGeometry, vendor: str, breast_density: str, thickness_mm: float,
                placed: list[PlacedMass], target_dense: float, rng: np.random.Generator,
                params: phantom_v2.PhantomParams = phantom_v2.PARAMS, **anatomy_kw) -> tuple[RenderedView, phantom_v2.Projection]:
    """One v2 view: phantom projection, acquisition and processing; the same RenderedView as phantom v1."""
    if vendor not in PHYSICS:
        raise MammoError(f"xray.render_view: vendor must be one of {tuple(PHYSICS)}, got {vendor!r}")
    vp = PHYSICS[vendor]
    proj = phantom_v2.render_projection(geom, breast_density, thickness_mm, placed, target_dense, rng, params,
                                     **anatomy_kw)
    quanta, flat = detected_signal(proj, vp, geom.spacing_mm, rng)
    pres = for_presentation(quanta, flat, proj.breast, vp, geom.spacing_mm)
    return RenderedView(pres, proj.breast, proj.mass_masks, proj.dense, proj.nipple, proj.pectoral), proj
