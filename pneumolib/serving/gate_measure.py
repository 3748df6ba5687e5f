"""How the deployed gate does on files: the share of X-rays it passes and of non-X-rays it refuses.

Every file goes through the service's own path (``decode_image``, canonical preprocessing, one
engine pass, the gate), so the figures are those a client would see. The model card quotes them
for the official test split and the project's own non-X-ray set (``tests/fixtures/not_xray``):
``python -m pneumolib measure-gate`` prints them and records the look at the test split.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from pneumolib.decode.errors import ImageFileError, NotAChestXray
from pneumolib.decode.image import decode_image
from pneumolib.serving.predictor import Predictor


def distance_ratio(predictor: Predictor, path: Path) -> float | None:
    """The file's gate distance over the threshold (<= 1 passes); None when it cannot be decoded."""
    try:
        gate = predictor.predict(decode_image(path.read_bytes(), path.name), allow_non_xray=True).gate
    except NotAChestXray:  # non-finite features: refused even with the override
        return math.inf
    except ImageFileError:
        return None
    return gate.distance / gate.threshold


@dataclass(frozen=True)
class GateMeasurement:
    """Distance ratios (distance / threshold) of X-rays that should pass and pictures that should not."""

    xrays: dict[str, float | None]
    others: dict[str, float | None]

    @property
    def passed(self) -> list[str]:
        return [name for name, r in self.xrays.items() if r is not None and r <= 1]

    @property
    def refused_xrays(self) -> list[str]:
        return [name for name, r in self.xrays.items() if r is None or r > 1]

    @property
    def refused_others(self) -> list[str]:
        return [name for name, r in self.others.items() if r is not None and r > 1]

    @property
    def let_through(self) -> list[str]:
        return [name for name, r in self.others.items() if r is not None and r <= 1]

    def summary(self) -> str:
        """The lines ``measure-gate`` prints (and the model card quotes)."""
        decodable = {n: r for n, r in self.others.items() if r is not None}
        ratios = np.array([r for r in self.xrays.values() if r is not None])
        lines = [f"X-rays passed: {len(self.passed)}/{len(self.xrays)} = {len(self.passed) / max(1, len(self.xrays)):.1%} "
                 "(goal >= 99 %)",
                 f"non-X-rays refused: {len(self.refused_others)}/{len(decodable)} = "
                 f"{len(self.refused_others) / max(1, len(decodable)):.1%} (goal >= 95 %)"]
        if ratios.size and decodable:
            nearest = min(decodable, key=decodable.get)
            lines.append(f"distance / threshold: X-rays median {np.median(ratios):.2f}, 99th percentile "
                         f"{np.quantile(ratios, 0.99):.2f}, largest {ratios.max():.2f}; non-X-rays smallest "
                         f"{decodable[nearest]:.2f} ({nearest})")
        lines.append("non-X-rays let through: " + (", ".join(self.let_through) or "none"))
        lines.append("X-rays refused: " + (", ".join(self.refused_xrays) or "none"))
        return "\n".join(lines)


def measure_gate(predictor: Predictor, xrays: Sequence[Path], others: Sequence[Path],
                 progress: bool = True) -> GateMeasurement:
    """Run every file through ``predictor`` (the gate overridden, so each gets a distance)."""
    found = {}
    for label, paths in (("X-rays", xrays), ("non-X-rays", others)):
        found[label] = {Path(p).name: distance_ratio(predictor, Path(p))
                        for p in tqdm(paths, desc=label, disable=not progress)}
    return GateMeasurement(found["X-rays"], found["non-X-rays"])
