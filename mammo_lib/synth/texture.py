"""Power-law (1/f^beta) textures: synthesis of anatomical backgrounds and measurement of beta.

Mammographic backgrounds have an isotropic power spectrum P(f) ~ f^-beta with beta about 2.6-3.3
(Burgess et al. Med Phys 2001;28:419). :func:`power_law_field` draws such a Gaussian field by filtering white
noise in the Fourier domain; :func:`power_law_exponent` measures beta from an image region the same way the
literature does (radially averaged periodogram, log-log least squares over a frequency band).
"""
from __future__ import annotations

import numpy as np
from scipy import fft, signal, stats

from mammo_lib.errors import MammoError
from mammo_lib.synth import kernels


def power_law_field(shape: tuple[int, int], beta: float, rng: np.random.Generator,
                    spacing_mm: float = 1.0, f_min: float = 0.02) -> np.ndarray:
    """Zero-mean, unit-SD Gaussian field (float32) of ``shape`` with power spectrum f^-beta above ``f_min`` cyc/mm.

    Computed on FFT-friendly padded sizes (float32) and cropped, which leaves the spectrum unchanged.
    """
    if beta <= 0 or len(shape) != 2 or min(shape) < 2:
        raise MammoError(f"power_law_field: need beta > 0 and a 2-D shape, got beta={beta!r}, shape={shape!r}")
    size = (fft.next_fast_len(shape[0], real=True), fft.next_fast_len(shape[1], real=True))
    white = rng.standard_normal(size, dtype=np.float32)
    spectrum = fft.rfft2(white, workers=1)
    fy = fft.fftfreq(size[0], d=spacing_mm).astype(np.float32)[:, None]
    fx = fft.rfftfreq(size[1], d=spacing_mm).astype(np.float32)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    # amplitude f^(-beta/2); below f_min the spectrum is flat (finite breast size), so no DC blow-up
    spectrum *= np.maximum(f, np.float32(f_min)) ** np.float32(-beta / 2.0)
    spectrum[0, 0] = 0.0
    out = fft.irfft2(spectrum, s=size, workers=1)[: shape[0], : shape[1]]
    out = (out - out.mean()) / out.std()
    return out.astype(np.float32)


def upsample_linear(a: np.ndarray, shape: tuple[int, int], factor: int) -> np.ndarray:
    """Bilinear resampling of a 2-D grid by an integer ``factor``, cropped to ``shape``, pixel centres aligned.

    What ``ndimage.zoom(a, factor, order=1, grid_mode=True, mode="nearest")`` gives (to float32 rounding): output
    sample ``factor * j + k`` reads input coordinate ``j + (k + 0.5) / factor - 0.5``, linear between neighbours,
    the edges repeated, along the rows and then along the columns (a compiled loop,
    :func:`mammo_lib.synth.kernels.upsample_linear`; a phantom v2 view resamples dozens of layers).
    """
    out = np.ascontiguousarray(a, dtype=np.float32)
    if factor == 1:
        return out[: shape[0], : shape[1]]
    return kernels.upsample_linear(out, min(shape[0], out.shape[0] * factor), min(shape[1], out.shape[1] * factor),
                                   factor)


def radial_power_spectrum(roi: np.ndarray, spacing_mm: float, n_bins: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged periodogram (Hann-windowed, mean removed): (frequency in cyc/mm, power)."""
    roi = np.asarray(roi, dtype=np.float64)
    if roi.ndim != 2 or min(roi.shape) < 16:
        raise MammoError(f"radial_power_spectrum: need a 2-D region of at least 16 x 16 pixels, got {roi.shape}")
    if not np.isfinite(roi).all():
        raise MammoError("radial_power_spectrum: the region contains NaN or infinite values")
    window = np.outer(signal.windows.hann(roi.shape[0]), signal.windows.hann(roi.shape[1]))
    detrended = (roi - roi.mean()) * window
    power = np.abs(fft.fft2(detrended, workers=1)) ** 2
    fy = fft.fftfreq(roi.shape[0], d=spacing_mm)[:, None]
    fx = fft.fftfreq(roi.shape[1], d=spacing_mm)[None, :]
    f = np.sqrt(fx * fx + fy * fy).ravel()
    nyquist = 0.5 / spacing_mm
    edges = np.geomspace(1.0 / (min(roi.shape) * spacing_mm), nyquist, n_bins + 1)
    mean, _, _ = stats.binned_statistic(f, power.ravel(), statistic="mean", bins=edges)
    centres = np.sqrt(edges[:-1] * edges[1:])
    keep = np.isfinite(mean) & (mean > 0)
    return centres[keep], mean[keep]


#: Frequency band (cycles/mm) of :func:`power_law_exponent`'s log-log fit (see its docstring).
BETA_FIT_BAND_CYC_MM: tuple[float, float] = (0.05, 0.5)


def power_law_exponent(roi: np.ndarray, spacing_mm: float,
                       band: tuple[float, float] = BETA_FIT_BAND_CYC_MM) -> float:
    """Measured beta of a region: minus the log-log slope of its radial spectrum over ``band`` (cyc/mm).

    The band 0.05-0.5 cyc/mm is where anatomical structure, not quantum noise or blur, dominates
    (Burgess 2001 fit 0.1-1 cyc/mm at full resolution; the upper end is lowered for the coarse pitch).
    """
    f, p = radial_power_spectrum(roi, spacing_mm)
    sel = (f >= band[0]) & (f <= band[1])
    if sel.sum() < 3:
        raise MammoError(f"power_law_exponent: fewer than 3 spectrum bins in band {band} cyc/mm "
                         f"for a {roi.shape} region at {spacing_mm} mm")
    fit = stats.linregress(np.log(f[sel]), np.log(p[sel]))
    return float(-fit.slope)
