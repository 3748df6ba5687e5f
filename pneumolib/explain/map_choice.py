"""The rule that decides whether a new kind of heatmap replaces the served one, on val.

A map is a picture of a model's evidence; a new way of drawing it (another score, another
weighting) is adopted only when it is measurably more faithful to what the model used and still
depends on the learned weights. The conditions are the same for every candidate, so they live here
once: :func:`pneumolib.explain.scores.prefers_log_odds` and
:func:`pneumolib.explain.zone_weighting.prefers_zone_weighting` name the two maps and print.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pneumolib.constants import LATERALITY_STEP, RANDOMISATION_LIMIT

DELETION_SHARE = 0.1
"""The rule compares what hiding the hottest 10 % of the lung area takes away from P(pneumonia)."""


def checked_option(value: str, options: tuple[str, ...], what: str) -> str:
    """``value`` if it is one of ``options`` (a map's score, its style), else a ValueError naming them."""
    if value not in options:
        raise ValueError(f"unknown {what} {value!r}; choose one of {options}")
    return value


def deletion_drop(summary: Mapping[str, Any], share: float = DELETION_SHARE) -> float:
    """Mean drop in P(pneumonia) when the map's hottest ``share`` of the lung area is hidden."""
    return next(float(row["heatmap"]) for row in summary["deletion_curve"]
                if abs(row["share_of_lung_area"] - share) < 1e-9)


def replaces_map(current: Mapping[str, Any], candidate: Mapping[str, Any], randomisation_rho: float,
                 current_name: str, candidate_name: str, verbose: bool = True) -> tuple[bool, str]:
    """Does the ``candidate`` map replace the ``current`` one? Returns (adopt, the printed decision).

    ``current`` / ``candidate``: :func:`pneumolib.explain.summary.heatmap_summary` of one model on
    val for each map; ``randomisation_rho``: the candidate maps' mean rank correlation with those of
    a re-initialised copy. The candidate is adopted when it agrees with occlusion on the side
    (laterality) by at least the replacement rule's step (:data:`pneumolib.constants.LATERALITY_STEP`)
    more, its hottest 10 % of the lung area takes at least as much away from P(pneumonia) when
    hidden, and it passes the randomisation check (:data:`pneumolib.constants.RANDOMISATION_LIMIT`).
    The lung share is reported, not required: it describes where the model reads, and a map that
    is more faithful to the model may show less of it on the lungs.
    """
    old_side, new_side = current["laterality_agreement"], candidate["laterality_agreement"]
    old_drop, new_drop = deletion_drop(current), deletion_drop(candidate)
    fails = []
    if not new_side >= old_side + LATERALITY_STEP:
        fails.append(f"laterality {new_side:.3f} is not {LATERALITY_STEP} above {old_side:.3f}")
    if not new_drop >= old_drop:
        fails.append(f"hiding the hottest 10 % lowers P(pneumonia) by {new_drop:.4f}, less than {old_drop:.4f}")
    if not randomisation_rho < RANDOMISATION_LIMIT:
        fails.append(f"randomisation rho {randomisation_rho:.2f} is not below {RANDOMISATION_LIMIT}")
    adopt = not fails
    decision = (f"{'adopt ' + candidate_name if adopt else 'keep ' + current_name} maps: laterality "
                f"{new_side:.3f} vs {old_side:.3f}, hottest-10 % drop {new_drop:.4f} vs {old_drop:.4f}, lung share "
                f"{candidate['lung_share_called_pneumonia']:.3f} vs {current['lung_share_called_pneumonia']:.3f}, "
                f"randomisation rho {randomisation_rho:.2f}" + ("" if adopt else "; fails: " + "; ".join(fails)))
    if verbose:
        print(decision)
    return adopt, decision
