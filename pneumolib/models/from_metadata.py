"""A checkpoint's network from its metadata: one architecture of the factory, or an ensemble of them.

The one place that reads ``metadata["architecture"]``, so loading, the X-ray gate's layers and
reports cannot disagree about what a checkpoint holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pneumolib.models.classifier import PneumoniaClassifier
from pneumolib.models.ensemble import ENSEMBLE, MEMBERS_KEY, ensemble_classifier, member_layer
from pneumolib.models.factory import ARCHITECTURES, create_model


def member_architectures(metadata: Mapping[str, Any]) -> list[str]:
    """The architectures a checkpoint runs: its own, or its ensemble members' in order."""
    if metadata["architecture"] == ENSEMBLE:
        members = list(metadata.get(MEMBERS_KEY) or [])
        if len(members) < 2:
            raise ValueError(f"an ensemble checkpoint must list at least two architectures under {MEMBERS_KEY!r}")
        return members
    return [metadata["architecture"]]


def model_from_metadata(metadata: Mapping[str, Any]) -> PneumoniaClassifier:
    """The untrained network the checkpoint's weights fit (no ImageNet weights are loaded)."""
    dropout = metadata.get("dropout", 0.3)
    models = [create_model(name, pretrained=False, dropout=dropout) for name in member_architectures(metadata)]
    return models[0] if len(models) == 1 else ensemble_classifier(models, dropout)


def gate_layers(metadata: Mapping[str, Any]) -> tuple[str, ...]:
    """The layers the not-a-chest-X-ray gate measures: every member's middle and late stages."""
    names = member_architectures(metadata)
    if any(name not in ARCHITECTURES for name in names):
        return ()
    if len(names) == 1:
        return ARCHITECTURES[names[0]].gate_layers
    return tuple(member_layer(i, layer) for i, name in enumerate(names) for layer in ARCHITECTURES[name].gate_layers)


def describe_architecture(metadata: Mapping[str, Any]) -> str:
    """``efficientnet_lite0_os16``, or ``ensemble of efficientnet_lite0 + efficientnet_lite0_os16``."""
    names = member_architectures(metadata)
    return names[0] if len(names) == 1 else f"ensemble of {' + '.join(names)}"
