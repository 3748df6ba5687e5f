"""The temperature and the operating points: decided here, once, and stored in the checkpoint.

``finalize`` calls :func:`decide` on val + stress val; everything downstream (the report, the
service, the Grad-CAM study) reads the stored values and never fits them again.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from pneumolib.constants import SCREENING_SENSITIVITY
from pneumolib.evaluation.calibration import fit_temperature
from pneumolib.evaluation.operating_points import choose_operating_points
from pneumolib.inference import sigmoid


def decide(logits: np.ndarray, labels: np.ndarray, chosen_on: str, calibrated_on: str | None = None,
           calibrate: bool = True) -> dict[str, Any]:
    """``temperature``, ``operating_points`` (screening, balanced) and ``calibrated_on`` for metadata.

    ``logits``/``labels``: the films the decisions are fitted on; ``chosen_on`` names them in each
    point's rule ("val + stress val"); ``calibrate=False`` keeps T = 1 (raw probabilities).
    """
    logits, labels = np.asarray(logits, dtype=np.float64), np.asarray(labels)
    temperature = float(fit_temperature(logits, labels)) if calibrate else 1.0
    points = choose_operating_points(labels, sigmoid(logits / temperature),
                                     sensitivity_target=SCREENING_SENSITIVITY, include_argmax=False)
    points = {name: dataclasses.replace(point, rule=point.rule.replace("validation", chosen_on))
              for name, point in points.items()}
    return {"temperature": temperature,
            "operating_points": {name: point.to_dict() for name, point in points.items()},
            "calibrated_on": (calibrated_on or chosen_on) if calibrate else None}
