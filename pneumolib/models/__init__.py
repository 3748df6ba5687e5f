"""Model factory: EfficientNet backbones with a two-class pneumonia head."""

from pneumolib.models.classifier import PneumoniaClassifier
from pneumolib.models.factory import (
    ARCHITECTURES,
    DEFAULT_ARCHITECTURE,
    OFFLINE_ARCHITECTURE,
    create_model,
    first_available_architecture,
)
from pneumolib.models.pretrained import PretrainedWeightsNotFound

__all__ = [
    "ARCHITECTURES", "DEFAULT_ARCHITECTURE", "OFFLINE_ARCHITECTURE", "PneumoniaClassifier",
    "PretrainedWeightsNotFound", "create_model", "first_available_architecture",
]
