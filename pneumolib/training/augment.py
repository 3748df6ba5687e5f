"""Batch augmentation for radiographs, as tensor ops so it runs on the GPU when there is one.

What varies between real chest films, and so what the model should not care about: small
rotations and shifts of the patient, field of view (scale), exposure (brightness, contrast,
gamma), detector resolution and noise. No horizontal flip: the heart sits on the left, and a
mirrored film is an anatomy (dextrocardia) the model would never meet, with the side marker
mirrored too.

Border erasing blanks random bands along the film's edges: side markers ("R"), text and the
collimator edge live there, and a model that can read them learns which machine or ward took the
film instead of what the lungs show. Measured on val (scripts/compare_on_val.py): without it,
the heatmaps of pneumonia films put 39 % of their mass in the corners (a uniform map: 25 %);
with it, 16 %, for the same val ROC AUC within 0.0005.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    max_rotation_degrees: float = 7.0
    scale_range: tuple[float, float] = (0.9, 1.1)
    max_translate: float = 0.05  # fraction of the image side
    brightness: float = 0.1
    contrast: tuple[float, float] = (0.8, 1.2)
    gamma: tuple[float, float] = (0.8, 1.25)
    blur_probability: float = 0.3  # resolution loss: down- then up-sampling
    blur_scale_range: tuple[float, float] = (0.4, 0.9)
    noise_probability: float = 0.2
    max_noise_std: float = 0.03
    border_erase_probability: float = 0.6  # per side
    max_border_fraction: float = 0.2

    @classmethod
    def from_dict(cls, values: dict) -> AugmentConfig:
        """From a checkpoint's or config's plain dict (tuples come back from JSON/torch as lists)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _uniform(low: float, high: float, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def augment_batch(images: torch.Tensor, generator: torch.Generator, config: AugmentConfig = AugmentConfig()) -> torch.Tensor:
    """Augment a (B, 1, H, W) float batch in [0, 1]; every sample draws its own parameters."""
    batch, _, height, width = images.shape
    device = images.device
    angle = _uniform(-config.max_rotation_degrees, config.max_rotation_degrees, batch, generator, device) * math.pi / 180
    scale = _uniform(*config.scale_range, batch, generator, device)
    shift = _uniform(-config.max_translate, config.max_translate, 2 * batch, generator, device).view(batch, 2) * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)

    if config.blur_probability > 0:
        chosen = torch.rand(batch, generator=generator, device=device) < config.blur_probability
        if chosen.any():
            factor = float(_uniform(*config.blur_scale_range, 1, generator, device))
            small = F.interpolate(images[chosen], scale_factor=factor, mode="area")
            images = images.clone()
            images[chosen] = F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)

    view = (batch, 1, 1, 1)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    contrast = _uniform(*config.contrast, batch, generator, device).view(view)
    brightness = _uniform(-config.brightness, config.brightness, batch, generator, device).view(view)
    images = ((images - mean) * contrast + mean + brightness).clamp(0, 1)
    gamma = torch.exp(_uniform(math.log(config.gamma[0]), math.log(config.gamma[1]), batch, generator, device)).view(view)
    images = images.clamp_min(1e-6) ** gamma

    if config.noise_probability > 0:
        noisy = (torch.rand(batch, generator=generator, device=device) < config.noise_probability).view(view)
        std = _uniform(0, config.max_noise_std, batch, generator, device).view(view)
        noise = torch.randn(images.shape, generator=generator, device=device, dtype=images.dtype)
        images = images + noise * std * noisy
    if config.border_erase_probability > 0:
        images = erase_borders(images, generator, config.border_erase_probability, config.max_border_fraction)
    return images.clamp(0, 1)


def erase_borders(images: torch.Tensor, generator: torch.Generator, probability: float, max_fraction: float) -> torch.Tensor:
    """Fill a random-width band along each side (each with ``probability``) with a random grey."""
    batch, _, height, width = images.shape
    device = images.device
    widths = torch.rand(batch, 4, generator=generator, device=device) * max_fraction
    widths = widths * (torch.rand(batch, 4, generator=generator, device=device) < probability)
    rows = (torch.arange(height, device=device, dtype=images.dtype) + 0.5) / height
    cols = (torch.arange(width, device=device, dtype=images.dtype) + 0.5) / width
    top, bottom, left, right = (widths[:, i].view(batch, 1, 1, 1) for i in range(4))
    inside = ((rows.view(1, 1, -1, 1) >= top) & (rows.view(1, 1, -1, 1) <= 1 - bottom)
              & (cols.view(1, 1, 1, -1) >= left) & (cols.view(1, 1, 1, -1) <= 1 - right))
    fill = torch.rand(batch, 1, 1, 1, generator=generator, device=device, dtype=images.dtype)
    return torch.where(inside, images, fill)
