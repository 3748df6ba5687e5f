"""Running a classifier on canonical uint8 images: batched, no gradients, margin logits out."""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from pneumolib.models.classifier import PneumoniaClassifier


def to_model_input(images: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """(N, S, S) uint8 -> (N, 1, S, S) float in [0, 1] on ``device``."""
    if not isinstance(images, torch.Tensor):
        images = np.asarray(images)
        if not images.flags.writeable:  # a slice of a memory-mapped cache: torch wants its own copy
            images = images.copy()
    tensor = torch.as_tensor(images)
    return tensor.to(device, non_blocking=True).unsqueeze(1).float().div_(255.0)


def autocast_dtype(device: torch.device | str) -> torch.dtype | None:
    """The mixed-precision type for ``device``: None on a CPU (float32 is faster there).

    bfloat16 only where the GPU computes it natively (compute capability 8.0 and up: A100, L4,
    H100); ``torch.cuda.is_bf16_supported()`` also says yes on older GPUs such as Colab's T4,
    which only emulate it (no bf16 tensor cores or cuDNN convolutions). Those get float16, which
    training pairs with a gradient scaler.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return None
    major, _minor = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16


def margin_logits(logits: torch.Tensor) -> torch.Tensor:
    """Two-class logits -> one pneumonia-vs-normal logit; sigmoid of it is softmax's P(pneumonia)."""
    return logits[:, 1] - logits[:, 0]


def predict_logits(
    model: PneumoniaClassifier,
    images: np.ndarray,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    progress: bool = False,
    desc: str = "predicting",
) -> np.ndarray:
    """Margin logits for every image, in order."""
    return predict_features_and_logits(model, images, batch_size, device, progress, desc)[1]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


@torch.no_grad()
def predict_features_and_logits(
    model: PneumoniaClassifier,
    images: np.ndarray,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    progress: bool = False,
    desc: str = "features",
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled features (N, F) and margin logits (N,) in one pass (eval mode: dropout is off)."""
    model.eval()
    amp_dtype = autocast_dtype(device)
    features, logits = [], []
    for start in tqdm(range(0, len(images), batch_size), desc=desc, disable=not progress, leave=False):
        with torch.autocast(device_type=torch.device(device).type, dtype=amp_dtype or torch.float32,
                            enabled=amp_dtype is not None):
            pooled = model.features(to_model_input(images[start : start + batch_size], device))
            scores = model.head(pooled)
        features.append(pooled.float().cpu())
        logits.append(margin_logits(scores.float()).cpu())
    if not logits:
        return np.zeros((0, model.head.in_features), dtype=np.float32), np.zeros(0, dtype=np.float32)
    return torch.cat(features).numpy(), torch.cat(logits).numpy()
