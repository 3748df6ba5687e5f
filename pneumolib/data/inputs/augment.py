"""Batch augmentation for radiographs, as tensor ops so it runs on the GPU when there is one.

What varies between real chest films, and so what the model should not care about: small
rotations and shifts of the patient, field of view (scale), exposure (brightness, contrast,
gamma), detector resolution and noise. No horizontal flip: the heart sits on the left, and a
mirrored film is an anatomy (dextrocardia) the model would never meet, with the side marker
mirrored too.

Border erasing blanks random bands along the film's edges: side markers ("R"), text and the
collimator edge live there, and a model that can read them learns which machine or ward took the
film instead of what the lungs show. Measured on val for the first bundled model: without it,
the heatmaps of pneumonia films put 39 % of their mass in the corners (a uniform map: 25 %);
with it, 16 %, for the same val ROC AUC within 0.0005.

Geometry that must not carry the label. In this data the film's shape is a label shortcut: among
original-size films, pneumonia films are wider (median width/height about 1.5) than normal ones
(about 1.21), and squashing a film to the square input turns that into "narrow anatomy =
pneumonia". So the geometric step stretches x and y independently (``aspect_range``), zooms in
(a narrower field of view) and out (the film on a margin, filled with the film's edge, black or
white, as scanners and viewers do), which makes width, framing and collimation uninformative for
both classes. Acquisition shifts (contrast, gamma, histogram equalisation, resolution, noise)
do the same for exposure and post-processing.

Re-encoding and local contrast. A film reaches the model after someone's JPEG encoder (a PACS
export, a browser upload) or a viewer's CLAHE; the first bundled model still moved its call under
both (a quality-30 JPEG, CLAHE), so some training images take a JPEG round trip at a random
quality, and some a CLAHE pass (``jpeg_probability``, ``clahe_probability``; off by default:
the run that tried them, with output stride 16 and weight averaging, did not beat the shipped model
on stress val). Both are OpenCV operations on the CPU, applied to the chosen images only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentConfig:
    max_rotation_degrees: float = 10.0
    scale_range: tuple[float, float] = (0.8, 1.25)  # < 1: the film on a margin; > 1: a narrower field of view
    aspect_range: tuple[float, float] = (0.7, 1.43)  # x stretch / y stretch, log-uniform
    max_translate: float = 0.08  # fraction of the image side
    margin_black_probability: float = 0.3  # what fills the margin: black, white, else the film's edge
    margin_white_probability: float = 0.15
    brightness: float = 0.1
    contrast: tuple[float, float] = (0.7, 1.3)
    gamma: tuple[float, float] = (0.6, 1.6)
    equalize_probability: float = 0.2  # global histogram equalisation, as some viewers export
    blur_probability: float = 0.3  # resolution loss: down- then up-sampling
    blur_scale_range: tuple[float, float] = (0.3, 0.9)
    noise_probability: float = 0.2
    max_noise_std: float = 0.04
    border_erase_probability: float = 0.6  # per side
    max_border_fraction: float = 0.2
    jpeg_probability: float = 0.0  # a JPEG round trip at a quality drawn from jpeg_quality_range
    jpeg_quality_range: tuple[int, int] = (20, 95)
    clahe_probability: float = 0.0  # contrast-limited adaptive histogram equalisation (OpenCV)
    clahe_clip_range: tuple[float, float] = (1.0, 4.0)

    @classmethod
    def from_dict(cls, values: dict) -> AugmentConfig:
        """From a checkpoint's or config's plain dict (tuples come back from JSON/torch as lists).

        A checkpoint written before a field existed trained without that step: such fields are
        switched off (:data:`LEGACY_OFF`), so the checkpoint's recipe is read back as it ran.
        """
        known = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        if values:
            known = {**{k: v for k, v in LEGACY_OFF.items() if k not in known}, **known}
        return cls(**known)


#: The "off" value of every step added after the first bundled model, for checkpoints without it.
LEGACY_OFF: dict = {
    "aspect_range": (1.0, 1.0), "margin_black_probability": 0.0, "margin_white_probability": 0.0,
    "equalize_probability": 0.0, "jpeg_probability": 0.0, "clahe_probability": 0.0,
}


def _uniform(low: float, high: float, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def augment_batch(images: torch.Tensor, generator: torch.Generator, config: AugmentConfig = AugmentConfig(),
                  masks: torch.Tensor | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Augment a (B, 1, H, W) float batch in [0, 1]; every sample draws its own parameters.

    With ``masks`` (B, 1, H, W) in [0, 1] (lung masks), they move with the geometric step and the
    pair (images, masks) is returned; the random draws are the same as without them.
    """
    batch, _, height, width = images.shape
    device = images.device
    if masks is None:
        images = random_geometry(images, generator, config)
    else:
        images, masks = random_geometry(images, generator, config, masks)

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
    if config.equalize_probability > 0:
        chosen = torch.rand(batch, generator=generator, device=device) < config.equalize_probability
        if chosen.any():
            images = images.clone()
            images[chosen] = equalize_histogram(images[chosen])

    if config.jpeg_probability > 0 or config.clahe_probability > 0:
        images = reencode(images, generator, config)

    if config.noise_probability > 0:
        noisy = (torch.rand(batch, generator=generator, device=device) < config.noise_probability).view(view)
        std = _uniform(0, config.max_noise_std, batch, generator, device).view(view)
        noise = torch.randn(images.shape, generator=generator, device=device, dtype=images.dtype)
        images = images + noise * std * noisy
    if config.border_erase_probability > 0:
        images = erase_borders(images, generator, config.border_erase_probability, config.max_border_fraction)
    return images.clamp(0, 1) if masks is None else (images.clamp(0, 1), masks)


def _log_uniform(bounds: tuple[float, float], n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.exp(_uniform(math.log(bounds[0]), math.log(bounds[1]), n, generator, device))


def random_geometry(images: torch.Tensor, generator: torch.Generator, config: AugmentConfig,
                    masks: torch.Tensor | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Rotate, zoom, stretch x and y independently and shift; fill the uncovered margin.

    The margin (where the sampling grid leaves the film) is filled per sample with the film's
    edge, black or white, so neither a dark frame nor a wide field of view belongs to one class.
    ``masks``, when given, take the same warp (zero outside the film) and come back as well.
    """
    batch = images.shape[0]
    device = images.device
    angle = _uniform(-config.max_rotation_degrees, config.max_rotation_degrees, batch, generator, device) * math.pi / 180
    scale = _log_uniform(config.scale_range, batch, generator, device)
    aspect = _log_uniform(config.aspect_range, batch, generator, device).sqrt()
    scale_x, scale_y = scale * aspect, scale / aspect
    shift = _uniform(-config.max_translate, config.max_translate, 2 * batch, generator, device).view(batch, 2) * 2
    cos, sin = torch.cos(angle), torch.sin(angle)
    # output -> input coordinates: undo the stretch, then the rotation
    theta = torch.stack([torch.stack([cos / scale_x, -sin / scale_y, shift[:, 0]], 1),
                         torch.stack([sin / scale_x, cos / scale_y, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    draw = torch.rand(batch, generator=generator, device=device)
    black = draw < config.margin_black_probability
    white = (draw >= config.margin_black_probability) & (draw < config.margin_black_probability + config.margin_white_probability)
    if masks is not None:
        warped = F.grid_sample(masks.to(grid.dtype), grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return _fill_margin(out, grid, black, white), warped
    return _fill_margin(out, grid, black, white)


def _fill_margin(out: torch.Tensor, grid: torch.Tensor, black: torch.Tensor, white: torch.Tensor) -> torch.Tensor:
    """Black or white where the sampling grid left the film, for the chosen samples."""
    batch = out.shape[0]
    if not (black | white).any():
        return out
    outside = (grid.abs() > 1).any(dim=-1, keepdim=True).permute(0, 3, 1, 2)  # (B, 1, H, W)
    fill = white.to(out.dtype).view(batch, 1, 1, 1)
    use_fill = outside & (black | white).view(batch, 1, 1, 1)
    return torch.where(use_fill, fill.expand_as(out), out)


def reencode(images: torch.Tensor, generator: torch.Generator, config: AugmentConfig) -> torch.Tensor:
    """A JPEG round trip at a random quality and/or CLAHE for the chosen images (8-bit, OpenCV)."""
    import cv2

    batch, device = images.shape[0], images.device
    jpeg = torch.rand(batch, generator=generator, device=device) < config.jpeg_probability
    quality = torch.randint(config.jpeg_quality_range[0], config.jpeg_quality_range[1] + 1, (batch,),
                            generator=generator, device=device)
    clahe = torch.rand(batch, generator=generator, device=device) < config.clahe_probability
    clip = _uniform(*config.clahe_clip_range, batch, generator, device)
    chosen = (jpeg | clahe).nonzero().flatten().tolist()
    if not chosen:
        return images
    images = images.clone()
    for i in chosen:
        pixels = (images[i, 0].detach().float().cpu().numpy() * 255).round().clip(0, 255).astype("uint8")
        if clahe[i]:
            pixels = cv2.createCLAHE(clipLimit=float(clip[i]), tileGridSize=(8, 8)).apply(pixels)
        if jpeg[i]:
            _, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, int(quality[i])])
            pixels = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
        images[i, 0] = torch.from_numpy(pixels).to(device=device, dtype=images.dtype) / 255.0
    return images


def equalize_histogram(images: torch.Tensor, bins: int = 256) -> torch.Tensor:
    """Global histogram equalisation of each (1, H, W) image in [0, 1], as OpenCV's equalizeHist."""
    batch = images.shape[0]
    levels = (images.clamp(0, 1) * (bins - 1)).round().long().view(batch, -1)
    hist = torch.zeros(batch, bins, device=images.device, dtype=images.dtype)
    hist.scatter_add_(1, levels, torch.ones_like(levels, dtype=images.dtype))
    cdf = hist.cumsum(1)
    first = cdf.gather(1, (hist > 0).float().argmax(1, keepdim=True))  # count of the darkest level present
    table = ((cdf - first) / (cdf[:, -1:] - first).clamp_min(1)).clamp(0, 1)
    return table.gather(1, levels).view_as(images)


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
