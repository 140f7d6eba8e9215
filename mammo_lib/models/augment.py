"""Domain randomisation: what the synthetic twin cannot pin down about real images, drawn at random in training.

A model trained on simulated mammograms meets, on real ones, another vendor's for-presentation processing
(contrast curve, edge enhancement), another noise level and sharpness, and on digitised film a grain. None of
these is known for a given real unit, so each training exam draws them at random (Tobin et al., "Domain
randomization for transferring deep neural networks from simulation to the real world", IROS 2017: the standard
way to make a model trained on simulation hold on real data). The parameters are drawn once per exam (one unit
processes all four views alike); noise and grain are drawn per pixel.

Images are the preprocessed ones (``mammo_lib.preprocess``: breast pixels in (0, 1], background exactly 0);
the background stays 0 and every result is clipped to [0, 1]. ``strength`` 0 returns the images unchanged.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

from mammo_lib.errors import MammoError


@dataclass(frozen=True)
class DomainRandomisation:
    """Ranges of the randomised acquisition and display factors (each drawn uniformly, scaled by ``strength``)."""

    strength: float = 1.0
    gamma: tuple[float, float] = (0.7, 1.45)       # display curve x ** gamma (vendor LUTs, film H&D curves)
    gain: tuple[float, float] = (0.8, 1.2)         # window width
    offset: tuple[float, float] = (-0.08, 0.08)    # window level
    unsharp: tuple[float, float] = (0.0, 1.2)      # edge enhancement amount (for-presentation processing)
    unsharp_sigma_px: tuple[float, float] = (2.0, 10.0)
    blur_p: float = 0.5                            # share of exams blurred (focal spot, detector MTF, film)
    blur_sigma_px: tuple[float, float] = (0.3, 1.2)
    noise_sd: tuple[float, float] = (0.0, 0.035)   # additive quantum/electronic noise after processing
    grain_p: float = 0.3                           # share of exams with film-like grain
    grain_sd: tuple[float, float] = (0.01, 0.05)   # multiplicative, correlated over grain_sigma_px
    grain_sigma_px: tuple[float, float] = (0.6, 1.5)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.strength) and 0.0 <= self.strength <= 2.0):
            raise MammoError(f"augmentation strength must be in [0, 2], got {self.strength!r}")

    def to_dict(self) -> dict[str, object]:
        """JSON-safe form (for model cards)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    def _draw(self, rng: np.random.Generator, bounds: tuple[float, float], neutral: float) -> float:
        lo, hi = bounds
        value = float(rng.uniform(lo, hi))
        return neutral + (value - neutral) * self.strength

    def apply(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Randomised copy of ``images`` (``[V, H, W]`` float, one exam's views); background (0) kept.

        Cheap enough to run per exam in the training loop: the edge enhancement's low-pass is taken at a
        quarter of the resolution, the grain is drawn at half of it, and one noise field serves all views
        (shifted per view)."""
        x = np.asarray(images, np.float32)
        if self.strength == 0:
            return x.copy()
        if x.ndim != 3:
            raise MammoError(f"domain randomisation takes [views, H, W] images, got shape {x.shape}")
        inside = x > 0
        gamma = float(np.exp(self._draw(rng, (np.log(self.gamma[0]), np.log(self.gamma[1])), 0.0)))
        gain, offset = self._draw(rng, self.gain, 1.0), self._draw(rng, self.offset, 0.0)
        amount = self._draw(rng, self.unsharp, 0.0)
        sigma_u = float(rng.uniform(*self.unsharp_sigma_px))
        blur = float(rng.uniform(*self.blur_sigma_px)) * self.strength if rng.random() < self.blur_p else 0.0
        noise = self._draw(rng, self.noise_sd, 0.0)
        grain = self._draw(rng, self.grain_sd, 0.0) if rng.random() < self.grain_p else 0.0
        grain_sigma = float(rng.uniform(*self.grain_sigma_px))
        v = np.power(np.clip(x, 0.0, 1.0), np.float32(gamma))
        v *= np.float32(gain)
        v += np.float32(offset)
        views, h, w = v.shape
        if amount > 0 and h % 4 == 0 and w % 4 == 0:
            small = v.reshape(views, h // 4, 4, w // 4, 4).mean(axis=(2, 4))
            low = ndimage.gaussian_filter(small, (0, sigma_u / 4, sigma_u / 4), truncate=3.0)
            v *= np.float32(1.0 + amount)
            v -= np.float32(amount) * np.repeat(np.repeat(low, 4, axis=1), 4, axis=2)
        if blur > 0:
            v = ndimage.gaussian_filter(v, (0, blur, blur), truncate=2.5)
        if grain > 0 and h % 2 == 0 and w % 2 == 0:
            field = ndimage.gaussian_filter(rng.standard_normal((views, h // 2, w // 2), dtype=np.float32),
                                            (0, grain_sigma / 2, grain_sigma / 2), truncate=2.5)
            field *= np.float32(grain / max(float(field.std()), 1e-6))
            field += np.float32(1.0)
            v *= np.repeat(np.repeat(field, 2, axis=1), 2, axis=2)
        if noise > 0:
            field = rng.standard_normal((h, w), dtype=np.float32)
            field *= np.float32(noise)
            for k, (dy, dx) in enumerate(rng.integers(0, h, size=(views, 2))):
                v[k] += np.roll(field, (int(dy), int(dx)), axis=(0, 1))
        np.clip(v, 1e-3, 1.0, out=v)
        v *= inside
        return v


__all__ = ["DomainRandomisation"]
