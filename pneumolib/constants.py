"""Names and targets every stage shares, defined once: the classes and the operating points.

Everything else reads them from here (and a finalized checkpoint stores the thresholds that go
with the operating-point names), so a class or a point cannot be spelled two ways.
"""

from __future__ import annotations

CLASS_NAMES: tuple[str, str] = ("NORMAL", "PNEUMONIA")
"""Class order of every model, loss and report (index 1 is pneumonia); also the data set's folder names."""

DISPLAY_NAMES: dict[int, str] = {0: "Normal", 1: "Pneumonia"}
"""How the API and the web page write the classes."""

SCREENING, BALANCED = "screening", "balanced"
OPERATING_POINTS: tuple[str, str] = (SCREENING, BALANCED)
"""The thresholds a finalized checkpoint carries, in the order they are shown."""

ARGMAX_THRESHOLD = 0.5
"""``prob >= 0.5`` is the plain argmax rule; it is the same for every temperature."""

UNCALIBRATED: dict = {
    "operating_points": {"default": {"threshold": ARGMAX_THRESHOLD, "chosen_on": "none (uncalibrated default)"}},
    "temperature": 1.0,
}
"""What a checkpoint carries before ``finalize`` fits a temperature and operating points to its weights."""

DEFAULT_OPERATING_POINT = SCREENING
"""The API's default: missing a pneumonia is the costlier error."""

SCREENING_SENSITIVITY = 0.99
"""The screening point is the highest threshold whose sensitivity on val + stress val reaches this."""

LATERALITY_STEP = 0.05
"""Heatmap laterality is compared in steps of this (about 20 of the ~390 val films called pneumonia)."""

RANDOMISATION_LIMIT = 0.5
"""A heatmap method passes the randomisation check when its maps' mean rank correlation with a
re-initialised model's stays below this (:mod:`pneumolib.explain.randomisation`)."""
