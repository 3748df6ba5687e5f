"""The model description served at ``GET /model``: what the model is, how it decides, how well it did.

(``MODEL_CARD.md`` is the model card, a document; this is its machine-readable summary.)

Built once at startup from the checkpoint's metadata and, when one sits next to the weights as
``<weights stem>.report.json``, the test-set report that ``pneumolib evaluate`` wrote. Test
figures come only from that report: the checkpoint itself is finalized on validation data and
never sees the test split, so the description says which numbers are which.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from pneumolib.constants import DEFAULT_OPERATING_POINT
from pneumolib.decode.formats import SUPPORTED_FORMATS
from pneumolib.evaluation.report import report_path
from pneumolib.serving.predictor import Predictor

logger = logging.getLogger(__name__)

INTENDED_USE = (
    "Teaching and research on pneumonia detection in pediatric chest X-rays (Kermany et al. 2018, "
    "children aged 1-5 from one hospital). Not a medical device and not a diagnostic tool: its "
    "output must not be used for clinical decisions."
)


#: The test report's heatmap figures that ``GET /model`` passes on (the page prints laterality and its baseline).
HEATMAP_MEASURES = ("operating_point", "films_called_pneumonia", "lung_share_called_pneumonia",
                    "uniform_share_called_pneumonia", "laterality_agreement", "uniform_laterality_agreement",
                    "occlusion_fill")


def load_report(weights: str | Path) -> dict[str, Any] | None:
    """The report next to ``weights``, or None when there is none or it cannot be read."""
    path = report_path(weights)
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        logger.warning("ignoring unreadable evaluation report %s: %s", path, error)
        return None
    return report if isinstance(report, dict) else None


def build_model_info(predictor: Predictor, checkpoint_source: str) -> dict[str, Any]:
    """A JSON-ready description of the loaded model (non-finite numbers become null)."""
    meta = predictor.metadata
    report = load_report(predictor.path)
    gate_info = dict(meta.get("ood_gate") or {})
    gate_info["distance_threshold"] = predictor.gate.threshold_
    card = {
        **predictor.info.to_dict(),
        "checkpoint_source": checkpoint_source,
        "intended_use": INTENDED_USE,
        "class_names": meta.get("class_names"),
        "input": {
            "formats": [name.upper() for name in SUPPORTED_FORMATS],
            "image_size": predictor.image_size,
            "jpeg_quality": predictor.jpeg_quality,
            "preprocessing": "grayscale, squashed to a square of image_size pixels, JPEG round trip",
        },
        "temperature": predictor.temperature,
        "probability": meta.get("thresholds_apply_to",
                                "calibrated probability of pneumonia, sigmoid(logit / temperature)"),
        "operating_points": predictor.operating_points,
        "default_operating_point": meta.get("default_operating_point", DEFAULT_OPERATING_POINT),
        "val_metrics": meta.get("val_metrics", {}),
        "calibrated_on": meta.get("calibrated_on", "validation"),
        "stress_val": (meta.get("stress_val") or {}).get("summary"),
        "ood_gate": gate_info,
        "inference": predictor.engine.describe(),
        "test_metrics": report.get("test") if report else None,
        "test_report": report_path(predictor.path).name if report else None,
        "heatmap_measures": heatmap_measures(report),
        "training": {
            "epoch": meta.get("epoch"),
            "pretrained_source": meta.get("pretrained_source"),
            "manifest_digest": meta.get("manifest_digest"),
            "members": [{key: member.get(key) for key in ("checkpoint", "architecture", "epoch", "pretrained_source")}
                        for member in meta.get("members") or []] or None,
        },
    }
    return finite_json(card)


def heatmap_measures(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """How far the test report found the heatmaps follow the model: what the page tells a reader.

    The laterality figure (how often the hotter lung of the map is the lung whose occlusion lowers
    P(pneumonia) more) and a uniform map's, its baseline, are what a reader needs beside a map that
    points at one lung; None when the report has no heatmap section.
    """
    heatmaps = (report or {}).get("heatmaps")
    if not isinstance(heatmaps, dict) or "laterality_agreement" not in heatmaps:
        return None
    return {"split": "test", **{key: heatmaps.get(key) for key in HEATMAP_MEASURES}}


def finite_json(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None, since strict JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): finite_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(item) for item in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # numpy / torch scalars
        return finite_json(value.item())
    return str(value)
