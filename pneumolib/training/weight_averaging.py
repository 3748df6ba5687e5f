"""Averaging the weights of checkpoints from one training lineage (SWA over epochs, WiSE-FT interpolation).

Two checkpoints that share an ancestor (epochs of one run, or a model and the run fine-tuned from
it) usually lie in one basin of the loss, so their weight average is a model in its own right,
often steadier under distribution shift than either end (Izmailov et al. 2018, stochastic weight
averaging; Wortsman et al. 2022, robust fine-tuning by weight-space interpolation). Averaging costs
no training: the result is one more candidate for the selection rule, measured like any other.

Every floating-point tensor (weights and batch-norm statistics) is averaged; integer buffers
(batch-norm step counters) are taken from the ``base`` checkpoint. The metadata of the ``base``
checkpoint is kept (its architecture decides how the averaged weights run) and the recipe is
recorded under ``averaged_from``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from pneumolib.checkpoint import FITTED_TO_SCORES, CheckpointError, read_checkpoint, write_payload
from pneumolib.constants import UNCALIBRATED


def average_state_dicts(state_dicts: Sequence[dict[str, torch.Tensor]], weights: Sequence[float],
                        like: int = 0) -> dict[str, torch.Tensor]:
    """The weighted mean of state dicts with the same keys and shapes (weights must sum to 1).

    Sums run in float64; each result takes the dtype of ``state_dicts[like]`` (a float16 bundle
    averaged with a float32 training checkpoint gives float32 when ``like`` is the latter).
    """
    if len(state_dicts) != len(weights) or not state_dicts:
        raise ValueError(f"need one weight per state dict (got {len(weights)} weights for {len(state_dicts)} state dicts)")
    if any(w < 0 for w in weights) or abs(sum(weights) - 1.0) > 1e-6:
        raise ValueError(f"weights must be non-negative and sum to 1 (got {list(weights)})")
    first = state_dicts[0]
    for index, other in enumerate(state_dicts[1:], start=1):
        if other.keys() != first.keys():
            missing = sorted(set(first) ^ set(other))[:3]
            raise ValueError(f"state dict {index} has different tensors from the first (e.g. {missing}): "
                             "only checkpoints of one architecture can be averaged")
        for key, tensor in first.items():
            if other[key].shape != tensor.shape:
                raise ValueError(f"state dict {index}: {key} has shape {tuple(other[key].shape)}, "
                                 f"the first has {tuple(tensor.shape)}")
    averaged = {}
    for key, tensor in first.items():
        if not tensor.is_floating_point():
            averaged[key] = state_dicts[like][key].clone()
            continue
        total = torch.zeros_like(tensor, dtype=torch.float64)
        for state, weight in zip(state_dicts, weights, strict=True):
            total += weight * state[key].to(torch.float64)
        averaged[key] = total.to(state_dicts[like][key].dtype)
    return averaged


def average_checkpoints(paths: Sequence[str | os.PathLike], out: str | os.PathLike,
                        weights: Sequence[float] | None = None, base: int = -1) -> Path:
    """Write the weighted weight-average of ``paths`` (equal weights by default) to ``out``.

    ``base`` picks the checkpoint whose metadata (architecture, input size, training recipe) the
    result keeps; by default the last one, the most trained end. Operating points, temperature
    and the X-ray gate belong to one set of weights, so they are dropped: run ``finalize`` again.
    """
    if not paths:
        raise ValueError("nothing to average: give at least one checkpoint")
    weights = list(weights) if weights is not None else [1.0 / len(paths)] * len(paths)
    payloads = [read_checkpoint(p) for p in paths]
    sizes = {p["metadata"].get("image_size") for p in payloads}
    if len(sizes) > 1:
        raise CheckpointError(f"the checkpoints were trained at different input sizes {sorted(sizes)}; "
                              "average only checkpoints of one lineage")
    state = average_state_dicts([p["state_dict"] for p in payloads], weights, like=base % len(payloads))
    dropped = (*FITTED_TO_SCORES, "val_metrics", "epoch", "weights_dtype")  # one set of weights' figures
    metadata: dict[str, Any] = {k: v for k, v in payloads[base]["metadata"].items() if k not in dropped}
    metadata.update(UNCALIBRATED, weights=f"weight average of {len(paths)} checkpoints")
    metadata["averaged_from"] = [{"checkpoint": Path(p).name, "architecture": q["metadata"].get("architecture"),
                                  "weight": float(w)} for p, q, w in zip(paths, payloads, weights, strict=True)]
    return write_payload(out, {"format": payloads[base]["format"], "format_version": payloads[base]["format_version"],
                               "metadata": metadata, "state_dict": state})
