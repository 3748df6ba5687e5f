"""One decoded X-ray in, a calibrated, thresholded and gated prediction out.

The checkpoint decides everything that affects the answer (input size, JPEG round trip,
temperature, thresholds, the not-an-X-ray gate), so the service applies exactly what training
and ``finalize_checkpoint`` fixed and nothing is configured twice. A checkpoint that was never
finalized has no temperature, operating points or gate: it is refused at load time with a
message saying how to fix it, instead of serving uncalibrated guesses.

Nothing here knows about HTTP; :mod:`pneumolib.serving.app` turns results into responses.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pneumolib.checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from pneumolib.constants import DEFAULT_OPERATING_POINT, DISPLAY_NAMES, OPERATING_POINTS
from pneumolib.data.inputs.preprocess import canonical_image
from pneumolib.decode.errors import NotAChestXray
from pneumolib.decode.image import DecodedImage
from pneumolib.engine import Engine, create_engine, margin_logits, to_model_input, with_views
from pneumolib.engine.lending import Lent
from pneumolib.explain.linear_head_cam import LinearHeadCAM
from pneumolib.explain.occlusion import occlusion_fill_of, zone_report
from pneumolib.explain.zones import lung_zones, zone_outlines
from pneumolib.file_digest import file_sha256
from pneumolib.gate.mahalanobis import MahalanobisGate
from pneumolib.inference import sigmoid
from pneumolib.models.classifier import PneumoniaClassifier
from pneumolib.models.from_metadata import describe_architecture

logger = logging.getLogger(__name__)

OVERRIDE_FLAG = "allow_non_xray"
"""The request flag that lets an image the gate refused through; named in the refusal."""


class CheckpointNotDeployable(CheckpointError):
    """A readable checkpoint that lacks what serving needs (it was never finalized)."""


@dataclass(frozen=True)
class ModelInfo:
    """Which weights answered: enough for a client to tell two deployments apart."""

    name: str
    architecture: str
    version: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "architecture": self.architecture, "version": self.version,
                "sha256": self.sha256}


@dataclass(frozen=True)
class GateResult:
    """The not-an-X-ray check: Mahalanobis distance of the pooled features against a limit."""

    distance: float
    threshold: float

    @property
    def passed(self) -> bool:
        return self.distance <= self.threshold  # inf (non-finite features) never passes


@dataclass(frozen=True)
class Prediction:
    label: str  # "Pneumonia" or "Normal"
    probability: float  # calibrated probability of pneumonia
    threshold: float
    operating_point: str
    gate: GateResult
    gate_overridden: bool
    heatmap_png: bytes | None = None
    warnings: list[str] = field(default_factory=list)
    regions: dict[str, Any] | None = None  # the six lung zones and what occluding each does (with the heatmap)

    @property
    def confidence(self) -> float:
        """Probability of the predicted class."""
        return self.probability if self.label == DISPLAY_NAMES[1] else 1.0 - self.probability


class Predictor:
    """A finalized checkpoint ready to answer: model in eval mode, no gradients kept."""

    def __init__(self, model: PneumoniaClassifier, metadata: dict[str, Any], gate: MahalanobisGate,
                 info: ModelInfo, path: Path, engine: Engine) -> None:
        self.model = model.eval().requires_grad_(False)  # serving never trains
        self.metadata = metadata
        self.gate = gate
        self.info = info
        self.path = path
        self.image_size = int(metadata["image_size"])
        self.jpeg_quality = metadata.get("jpeg_quality")
        self.temperature = float(metadata["temperature"])
        self.operating_points: dict[str, dict[str, Any]] = dict(metadata["operating_points"])
        # One engine pass gives the prediction, the layers the gate was fitted on and the
        # feature map a heatmap is made from (ONNX Runtime on a CPU where installed).
        self.engine = engine
        self._explainer = LinearHeadCAM(self.model, self.engine)

    @classmethod
    def load(cls, path: str | os.PathLike, engine: str | None = None) -> Predictor:
        """Load and check a finalized checkpoint; raises :class:`CheckpointError` with advice.

        ``engine``: "auto", "onnx" or "torch" (default: ``$PNEUMO_ENGINE``, else "auto")."""
        path = Path(path)
        payload = read_checkpoint(path)
        _check_deployable(path, payload)
        gate_state = payload["ood_gate"]
        del payload  # the weights are loaded again, into the model, just below
        model, metadata = load_checkpoint(path)
        try:
            gate = MahalanobisGate.from_state(gate_state)
        except (KeyError, ValueError) as error:
            raise CheckpointNotDeployable(f"{path}: its not-an-X-ray gate is unreadable ({error}).") from error
        info = ModelInfo(
            name=str(metadata.get("name") or path.stem),
            architecture=describe_architecture(metadata),
            version=str(metadata.get("package_version", "unknown")),
            sha256=file_sha256(path),
        )
        runner = with_views(create_engine(model.eval(), int(metadata["image_size"]), gate.layers_, info.sha256, engine),
                            metadata)
        predictor = cls(model, metadata, gate, info, path, runner)
        predictor.warm_up()
        return predictor

    def warm_up(self) -> None:
        """Throw-away passes (prediction and heatmap), so the first real request is not the slow one.

        A broken explainer is logged here, at startup, and then only costs heatmaps, not predictions.
        """
        blank = np.zeros((self.image_size, self.image_size), np.uint8)
        _, _, feature_map = self._score(blank)
        try:
            square = self._explainer.explain_feature_maps(feature_map, self.image_size, 1).heatmaps[0]
            heatmap_png(square, np.zeros((8, 8), np.uint8))
            self.regions(blank, square, True)
        except Exception:
            logger.exception("Grad-CAM does not work with this model; heatmaps will be unavailable")

    def model_input(self, image: DecodedImage) -> np.ndarray:
        """The (S, S) uint8 image the model reads, preprocessed exactly as in training."""
        return canonical_image(image.pixels, self.image_size, self.jpeg_quality)

    def predict(
        self,
        image: DecodedImage,
        operating_point: str = DEFAULT_OPERATING_POINT,
        *,
        heatmap: bool = False,
        allow_non_xray: bool = False,
        heatmap_max_side: int = 0,
        lent: Lent | None = None,
    ) -> Prediction:
        """Gate, score and threshold one image; raises :class:`NotAChestXray` when gated out.

        ``lent``: an idle inference slot the service lends a heatmap request while no other request
        waits for it (``serving.slots``); the lung zones' occlusions use it (:mod:`pneumolib.engine.lending`)."""
        if operating_point not in self.operating_points:
            raise ValueError(f"unknown operating point {operating_point!r}")
        canonical = self.model_input(image)
        logit, gate_features, feature_map = self._score(canonical)
        gate = GateResult(float(self.gate.distance(gate_features)[0]), float(self.gate.threshold_))
        if not gate.passed and not allow_non_xray:
            raise NotAChestXray(gate_refusal(gate))
        probability = float(sigmoid(logit / self.temperature))
        if not math.isfinite(probability):
            raise NotAChestXray("The model could not score this image (its features are not finite "
                                "numbers). Send an ordinary chest X-ray.")
        point = self.operating_points[operating_point]
        threshold = float(point["threshold"])
        label = DISPLAY_NAMES[int(probability >= threshold)]
        notes = self._notes(image, label, probability, operating_point, gate)
        png, regions = None, None
        if heatmap:
            called_pneumonia = label == DISPLAY_NAMES[1]
            try:
                square = self._explainer.explain_feature_maps(feature_map, self.image_size,
                                                              int(called_pneumonia)).heatmaps[0]
                png = heatmap_png(square, image.display, heatmap_max_side)
            except Exception:  # an explanation failure must not cost the client its prediction
                logger.exception("Grad-CAM heatmap failed")
                notes.append("the heatmap could not be computed for this image; the prediction "
                             "itself is unaffected")
            else:
                try:
                    regions = self.regions(canonical, square, called_pneumonia, probability, lent)
                except Exception:
                    logger.exception("lung-zone occlusion failed")
                    notes.append("the lung zones could not be measured for this image; the prediction "
                                 "and the heatmap are unaffected")
        return Prediction(label, probability, threshold, operating_point, gate,
                          gate_overridden=not gate.passed, heatmap_png=png, warnings=notes, regions=regions)

    def regions(self, canonical: np.ndarray, heatmap: np.ndarray, called_pneumonia: bool,
                probability: float | None = None, lent: Lent | None = None) -> dict[str, Any]:
        """The six lung zones of the model's input, each one's occlusion effect (scored through the
        engine by :func:`~pneumolib.explain.occlusion.zone_drops`, the film's own ``probability``
        reused), its share of the heatmap and its outline, largest effect first."""
        zones = lung_zones(canonical)
        report = zone_report(self.engine, canonical.astype(np.float32) / 255.0, zones, occlusion_fill_of(self.metadata),
                             self.temperature, heatmap, probability, lent)
        body = report.as_dict(called_pneumonia)
        outlines = zone_outlines(zones)
        for zone in body["zones"]:
            zone["outline"] = outlines[zone["zone"]]
        return body

    def _score(self, canonical: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """One backbone pass for everything: the margin logit, the (1, D) features the gate
        measures, and the last-stage feature map a heatmap starts from."""
        out = self.engine.run(to_model_input(canonical[None]), ("logits", "gate_features", "feature_map"))
        return float(margin_logits(out["logits"])[0]), out["gate_features"], out["feature_map"]

    def _notes(self, image: DecodedImage, label: str, probability: float, operating_point: str,
               gate: GateResult) -> list[str]:
        """Warnings about this particular answer, in plain words."""
        notes = []
        if not gate.passed:
            notes.append("the image did not pass the not-a-chest-X-ray check; a prediction was "
                         f"made only because {OVERRIDE_FLAG}=true was sent, and it is unreliable")
        if min(image.height, image.width) < self.image_size:
            notes.append(f"the image ({image.width} x {image.height} pixels) is smaller than the "
                         f"model's {self.image_size}-pixel input, so it was enlarged; detail may "
                         "be missing")
        if label == DISPLAY_NAMES[1] and probability < 0.5:
            threshold = float(self.operating_points[operating_point]["threshold"])
            notes.append(f"called Pneumonia at a probability of {probability:.0%}: the "
                         f"'{operating_point}' threshold ({threshold:.3g}) is set low on purpose, "
                         "to miss as few pneumonias as possible")
        return notes


def gate_refusal(gate: GateResult) -> str:
    """The 422 detail for an image the gate refused: what happened, why, and the way out."""
    how_far = (f"{gate.distance / gate.threshold:.1f} times the limit" if math.isfinite(gate.distance)
               else "not measurable")
    return (
        "The image does not look like a frontal chest X-ray, so no prediction was made: the "
        "features the model extracts from it are far from those of the chest X-rays it was "
        f"trained on (distance {how_far}). Photos, documents, screenshots, blank images and "
        "other body parts are refused. If this really is a chest X-ray, send it again with "
        f"{OVERRIDE_FLAG}=true to get a prediction anyway; it will be marked as unreliable."
    )


def heatmap_png(heatmap: np.ndarray, display: np.ndarray, max_side: int = 0) -> bytes:
    """The square Grad-CAM ``heatmap`` over the upload, as PNG.

    The map comes from the prediction's own feature map with no backward pass at all
    (:class:`pneumolib.explain.LinearHeadCAM`): behind the classifier's pooling and linear head
    it is the head's weights applied to the feature map. It is stretched back onto the original
    image's own shape (:mod:`pneumolib.explain.overlay`), so it lands where the model looked.
    Nothing is hooked or written, so concurrent requests can share the explainer.
    """
    from pneumolib.explain.overlay import overlay_png

    return overlay_png(shrink_to_fit(display, max_side), heatmap)


def shrink_to_fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` scaled down (aspect kept) so its longer side is at most ``max_side`` (0: as is)."""
    height, width = image.shape[:2]
    longest = max(height, width)
    if max_side <= 0 or longest <= max_side:
        return image
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _check_deployable(path: Path, payload: dict[str, Any]) -> None:
    """Refuse a checkpoint without the temperature, operating points or gate serving needs."""
    metadata = payload.get("metadata") or {}
    points = metadata.get("operating_points") or {}
    missing = [name for name in ("architecture", "image_size") if name not in metadata]
    temperature = metadata.get("temperature")
    if not isinstance(temperature, (int, float)) or not (math.isfinite(temperature) and temperature > 0):
        missing.append("a fitted temperature")
    for name in OPERATING_POINTS:
        threshold = (points.get(name) or {}).get("threshold")
        if not isinstance(threshold, (int, float)) or not 0.0 <= threshold <= 1.0:
            missing.append(f"a '{name}' operating point")
    if not isinstance(payload.get("ood_gate"), dict):
        missing.append("a not-a-chest-X-ray gate")
    if missing:
        raise CheckpointNotDeployable(
            f"{path} is not a deployable checkpoint: it has no {', '.join(missing)}. A training "
            "checkpoint must be finalized first (pneumolib.deploy.finalize.finalize_checkpoint "
            "fits the temperature, operating points and gate on the validation data)."
        )
