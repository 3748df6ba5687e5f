"""Checkpoints: weights plus everything needed to use them correctly, loaded safely.

A checkpoint is a plain dict of tensors and JSON-like metadata (architecture, input size,
normalisation, class names, operating points, temperature, training config, manifest digest, val
metrics, package version), so it loads with ``torch.load(weights_only=True)``: no pickled code
runs when a file is opened.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from pneumolib import CLASS_NAMES, __version__, environment, project_paths
from pneumolib.config import DEFAULT_PROFILE, profile_name, work_dir
from pneumolib.models.classifier import PneumoniaClassifier
from pneumolib.models.from_metadata import model_from_metadata

FORMAT = "pneumolib-checkpoint"
FORMAT_VERSION = 1
CHECKPOINT_ENV = environment.CHECKPOINT
WORK_DIR_MODEL = "model.pt"
FITTED_TO_SCORES = ("temperature", "operating_points", "default_operating_point", "thresholds_apply_to",
                    "calibrated_on", "stress_val", "ood_gate")
"""Metadata ``finalize`` fits to a model's scores: wrong once the weights or the way of scoring change."""
BUNDLED_CHECKPOINT = Path(__file__).resolve().parent / "weights" / project_paths.BUNDLED_MODEL.name


class CheckpointError(ValueError):
    """A file that is not a readable pneumolib checkpoint."""


def save_checkpoint(path: str | os.PathLike, model: PneumoniaClassifier, metadata: dict[str, Any], **extra: Any) -> Path:
    """Write weights + metadata (+ e.g. optimizer state for resuming) atomically."""
    metadata = {"class_names": list(CLASS_NAMES), "package_version": __version__, **metadata}
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "metadata": metadata,
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **extra}
    return write_payload(path, payload)


def write_payload(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Save a checkpoint dict (as :func:`read_checkpoint` returns it) atomically: never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, temporary)
    temporary.replace(path)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The raw checkpoint dict, after checking it is one of ours."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"No checkpoint file at {path}.")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, foreign pickle, random bytes
        raise CheckpointError(
            f"{path} could not be read as a checkpoint ({type(error).__name__}: {str(error).splitlines()[0]}). "
            "It is corrupt or not a pneumolib checkpoint; re-download or retrain it."
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not a pneumolib checkpoint (no '{FORMAT}' marker).")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer pneumolib (format {payload['format_version']}); upgrade pneumolib.")
    return payload


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[PneumoniaClassifier, dict[str, Any]]:
    """Rebuild the model (in eval mode) and return it with its metadata."""
    payload = read_checkpoint(path)
    return model_from_payload(payload, path).to(device).eval(), payload["metadata"]


def model_from_payload(payload: Mapping[str, Any], source: str | os.PathLike) -> PneumoniaClassifier:
    """The network of a payload :func:`read_checkpoint` returned, its weights loaded (``source`` names it in errors)."""
    metadata = payload["metadata"]
    model = model_from_metadata(metadata)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:
        raise CheckpointError(f"{source}: weights do not fit architecture {metadata['architecture']}: {error}") from error
    return model


def trained_on_subset(path: str | os.PathLike) -> int | None:
    """Images per split a checkpoint was trained on when that was a subset (the quick profile's), else None.

    An unreadable file counts as no subset: whoever loads it is told what is wrong with it.
    """
    try:
        train_config = read_checkpoint(path)["metadata"].get("train_config") or {}
    except CheckpointError:
        return None
    return train_config.get("max_images_per_split")


def find_checkpoint(path: str | os.PathLike | None = None) -> tuple[Path, str]:
    """The checkpoint to use and a sentence saying why that one.

    Order: an explicit path, ``$PNEUMO_CHECKPOINT``, the finalised model notebook 03 saved in the
    active profile's work folder (``model.pt``), and finally the model bundled with the package.
    Each profile has its own work folder (:func:`pneumolib.config.work_dir`); the full profile
    also passes over a ``model.pt`` trained on a subset (left there by a quick run from before
    the folders were apart), so a 96-pixel practice model is never taken for the real one.
    """
    if path is not None:
        return Path(path), "given explicitly"
    env = environment.read(CHECKPOINT_ENV)
    if env:
        return Path(env), f"from {CHECKPOINT_ENV}"
    profile = profile_name()
    trained = work_dir(create=False) / WORK_DIR_MODEL
    if not trained.is_file():
        return BUNDLED_CHECKPOINT, f"bundled with pneumolib: no {profile}-profile {WORK_DIR_MODEL} in {trained.parent}"
    subset = trained_on_subset(trained) if profile == DEFAULT_PROFILE else None
    if subset is None:
        return trained, f"trained in the work folder ({trained.parent}) by a {profile}-profile run"
    return BUNDLED_CHECKPOINT, (f"bundled with pneumolib: {trained} was passed over, it was trained on {subset} images "
                                "per split (a quick-profile model) and this is the full profile")


def bundle_checkpoint(source: str | os.PathLike, destination: str | os.PathLike = BUNDLED_CHECKPOINT) -> Path:
    """Copy a finalised checkpoint with its floating-point weights stored as float16.

    Halves the file (the package ships it; the weights load back into a float32 model), and
    drops training-only state. Evaluate the bundled file itself, so the reported numbers are
    those of the weights that ship.
    """
    payload = read_checkpoint(source)
    payload["state_dict"] = {k: v.half() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
    payload["metadata"] = {**payload["metadata"], "weights_dtype": "float16"}
    for key in ("optimizer", "scheduler"):
        payload.pop(key, None)
    return write_payload(destination, payload)
