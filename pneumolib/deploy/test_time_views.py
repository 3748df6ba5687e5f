"""Write a checkpoint that scores every film through test-time views (:mod:`pneumolib.engine.views`).

The views change the model's scores, so what ``finalize`` fitted to the old scores (temperature,
operating points, stress-val figures, the gate) is dropped: measure the result with ``select``
and run ``finalize`` on it, like any other candidate.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from pneumolib.checkpoint import FITTED_TO_SCORES, read_checkpoint, write_payload
from pneumolib.constants import UNCALIBRATED
from pneumolib.engine.views import METADATA_KEY, check_crops


def add_test_time_views(checkpoint: str | os.PathLike, crops: Sequence[float], out: str | os.PathLike) -> Path:
    """A copy of ``checkpoint`` whose scores average the film and its centre crops ``crops``."""
    crops = check_crops(crops)
    payload = read_checkpoint(checkpoint)
    metadata = {k: v for k, v in payload["metadata"].items() if k not in FITTED_TO_SCORES}
    metadata.update(UNCALIBRATED)
    metadata[METADATA_KEY] = list(crops)
    kept = {k: v for k, v in payload.items() if k not in ("metadata", "ood_gate")}
    return write_payload(out, {**kept, "metadata": metadata})
