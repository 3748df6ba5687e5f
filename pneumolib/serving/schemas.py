"""The JSON shapes the API promises, as Pydantic models: validated on the way out, shown in /docs.

Clients (the web page, scripts, notebooks) depend on these field names; add fields freely, but
rename or remove one only with a version bump.
"""

from __future__ import annotations

import base64
import math
from enum import Enum
from typing import Literal

from pydantic import BaseModel, Field

from pneumolib.constants import BALANCED, SCREENING
from pneumolib.decode.image import DecodedImage
from pneumolib.serving.predictor import OVERRIDE_FLAG, ModelInfo, Prediction

DISCLAIMER = (
    "pneumolib is a teaching and research tool, not a medical device. Its output is not a "
    "diagnosis and must not be used to make clinical decisions; a qualified clinician must read "
    "the X-ray."
)
NOT_DIAGNOSTIC = "not a diagnostic tool: a qualified clinician must read the X-ray"


class OperatingPointName(str, Enum):
    """Which validated threshold turns the probability into a call."""

    screening = SCREENING
    balanced = BALANCED


class ErrorBody(BaseModel):
    detail: str = Field(description="What went wrong and what to do, in plain words.")
    code: str | None = Field(None, description="A stable machine-readable error name.")


class ModelSummary(BaseModel):
    name: str
    architecture: str
    version: str = Field(description="pneumolib version that wrote the checkpoint.")
    sha256: str = Field(description="SHA-256 of the weights file.")


class GateReport(BaseModel):
    passed: bool = Field(description="False when the image did not look like a chest X-ray.")
    overridden: bool = Field(description=f"True when {OVERRIDE_FLAG}=true let a refused image through.")
    distance: float | None = Field(description="Mahalanobis distance of the image's features (null: not finite).")
    threshold: float = Field(description="Largest distance still accepted.")


class InputSummary(BaseModel):
    format: str = Field(description="jpeg, png or dicom, as detected from the bytes.")
    width: int
    height: int
    bit_depth: int


class ZoneResult(BaseModel):
    zone: str = Field(description="The patient's side and level: 'right upper' ... 'left lower'.")
    contribution: float = Field(description="P(pneumonia) minus P(pneumonia) with this zone hidden (occluded): "
                                            "> 0, the zone pushed the model towards pneumonia.")
    heat_share: float | None = Field(description="Share of the heatmap's mass inside this zone.")
    source: Literal["segmented", "prior"] = Field(description="Whether this side's lung was segmented on the "
                                                             "film or taken from the anatomical prior.")
    outline: list[list[float]] = Field(description="The zone's outline as [x, y] fractions of the image's "
                                                   "width and height.")


class Regions(BaseModel):
    zones: list[ZoneResult] = Field(description="The six lung zones, largest contribution first.")
    mask_source: Literal["segmented", "prior", "mixed"]
    fill: str = Field(description="What a hidden zone was filled with (chosen on val).")
    summary: str = Field(description="One plain sentence about which zone the call rests on.")


class PredictionResponse(BaseModel):
    prediction: Literal["Pneumonia", "Normal"]
    confidence: float = Field(ge=0, le=1, description="Probability of the predicted class.")
    probability: float = Field(ge=0, le=1, description="Calibrated probability of pneumonia.")
    threshold: float = Field(description="Pneumonia is called when probability >= threshold.")
    operating_point: OperatingPointName
    heatmap: str | None = Field(description="Base64 PNG: Grad-CAM overlay on the uploaded image, "
                                            "when heatmap=true was asked; else null.")
    regions: Regions | None = Field(default=None, description="With heatmap=true: the six lung zones and how "
                                                              "much the call rests on each (occlusion).")
    model: ModelSummary
    gate: GateReport
    input: InputSummary
    warnings: list[str]
    disclaimer: str


def prediction_response(prediction: Prediction, image: DecodedImage, info: ModelInfo) -> PredictionResponse:
    """Assemble the /predict body; the standing notice comes first among the warnings."""
    gate = prediction.gate
    return PredictionResponse(
        prediction=prediction.label,  # type: ignore[arg-type]  # "Pneumonia" | "Normal"
        confidence=prediction.confidence,
        probability=prediction.probability,
        threshold=prediction.threshold,
        operating_point=OperatingPointName(prediction.operating_point),
        heatmap=base64.b64encode(prediction.heatmap_png).decode("ascii") if prediction.heatmap_png else None,
        regions=Regions(**prediction.regions) if prediction.regions else None,
        model=ModelSummary(**info.to_dict()),
        gate=GateReport(
            passed=gate.passed,
            overridden=prediction.gate_overridden,
            distance=gate.distance if math.isfinite(gate.distance) else None,
            threshold=gate.threshold,
        ),
        input=InputSummary(format=image.source_format, width=image.width, height=image.height,
                           bit_depth=image.bit_depth),
        warnings=[NOT_DIAGNOSTIC, *image.warnings, *prediction.warnings],
        disclaimer=DISCLAIMER,
    )
