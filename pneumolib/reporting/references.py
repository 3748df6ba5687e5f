"""Published numbers this project compares itself against.

Kept as data in one place so the README and the model card quote them identically. They
come without confidence intervals and from other training setups and test protocols, so a
comparison with them is a rough guide, not a significance test.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReferenceResult:
    """Reported test metrics of another model; ``approximate`` marks values given as "~"."""

    name: str
    metrics: dict[str, float]
    approximate: frozenset[str] = field(default_factory=frozenset)
    source: str = ""


REFERENCES: tuple[ReferenceResult, ...] = (
    ReferenceResult(
        name="Original project",
        metrics={
            "accuracy": 0.85,
            "roc_auc": 0.92,
            "sensitivity": 0.86,
            "specificity": 0.85,
            "precision": 0.8125,
        },
        approximate=frozenset({"accuracy", "roc_auc", "specificity"}),
        source="the notebook this project grew out of",
    ),
    ReferenceResult(
        name="Kermany et al. 2018",
        metrics={
            "accuracy": 0.928,
            "sensitivity": 0.932,
            "specificity": 0.901,
            "roc_auc": 0.968,
        },
        source="Kermany et al., Cell 172(5), 2018: pneumonia vs normal, transfer learning",
    ),
    ReferenceResult(
        name="Rajaraman et al. 2018",
        metrics={"accuracy": 0.962, "roc_auc": 0.993},
        source="Rajaraman et al., Applied Sciences 8(10):1715, 2018: customised VGG16 on lung-cropped films",
    ),
)
