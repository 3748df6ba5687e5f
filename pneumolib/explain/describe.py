"""A Grad-CAM study summarised: a table per outcome and sentences generated from the numbers.

Every sentence notebook 05 prints about where the heatmaps fall comes from here, computed from
the study, so the prose says what this model does, whichever way that goes.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from pneumolib import CLASS_NAMES
from pneumolib.explain.study import CORNER_FRACTION, OUTCOMES, GradCamStudy


def focus_summary(table: pd.DataFrame, threshold: float = 0.5) -> pd.DataFrame:
    """Per outcome (and over all films): lung and corner focus next to what a uniform heatmap gives.

    All-zero heatmaps (NaN shares) are counted in ``films`` but left out of the means.
    """
    def one(group: pd.DataFrame) -> dict[str, Any]:
        shares = group["inside_share"].dropna()
        corners = group["corner_share"].dropna() if "corner_share" in group else pd.Series(dtype=float)
        return {
            "films": len(group),
            "mean inside share": shares.mean() if len(shares) else math.nan,
            "uniform heatmap would give": group["mask_fraction"].mean() if len(group) else math.nan,
            f"mostly outside (< {threshold:g})": float((shares < threshold).mean()) if len(shares) else math.nan,
            "mean corner share (uniform 0.25)": corners.mean() if len(corners) else math.nan,
        }

    rows = {outcome: one(table[table["outcome"] == outcome]) for outcome in OUTCOMES}
    rows["all"] = one(table)
    return pd.DataFrame.from_dict(rows, orient="index")


#: Differences of mean shares smaller than this are described as "about the same".
SAME_MARGIN = 0.05


def describe_focus(study: GradCamStudy, threshold: float = 0.5) -> str:
    """The lung-focus numbers in plain words (Markdown), whatever they turn out to be."""
    table = study.table
    defined = table.dropna(subset=["inside_share"])
    zero = len(table) - len(defined)
    lines = [f"- **{len(table)} films** explained, each for the class it was called at the {study.operating_point} "
             f"threshold ({study.threshold:.3g})."
             + (f" {zero} maps are all zero (nothing in the film raised that class's score) and are left out."
                if zero else "")]
    if defined.empty:
        return "\n".join(lines)
    inside, uniform = defined["inside_share"].mean(), defined["mask_fraction"].mean()
    if inside > uniform + SAME_MARGIN:
        verdict = ("The maps lean towards the lungs, more than chance" +
                   (", though most of their mass still lies outside them." if inside < 0.5 else "."))
    elif inside < uniform - SAME_MARGIN:
        verdict = "That is **less than chance**: on average the maps avoid the lungs."
    else:
        verdict = "That is **no better than chance**: on average the maps are not drawn to the lungs."
    lines.append(f"- On average **{inside:.0%}** of a heatmap's mass lies inside the lung outline; a heatmap spread "
                 f"evenly over the film would put **{uniform:.0%}** there. {verdict}")
    outside = int((defined["inside_share"] < threshold).sum())
    caveat = (f" (a uniform map would be among them: the outline covers only {uniform:.0%} of a film, so look at "
              "how far below that a film falls)" if uniform < threshold else "")
    lines.append(f"- **{outside} of {len(defined)} films ({outside / len(defined):.0%})** have most of their heatmap "
                 f"mass outside the lungs{caveat}.")
    for called, name in ((1, CLASS_NAMES[1]), (0, CLASS_NAMES[0])):
        part = defined[defined["predicted"] == called]
        if part.empty:
            continue
        corner = part["corner_share"].mean()
        note = (" (more than a uniform map: look for side markers and the film's edges in the galleries)"
                if corner > 4 * CORNER_FRACTION**2 + SAME_MARGIN else "")
        lines.append(f"- Films called {name} ({len(part)}): {part['inside_share'].mean():.0%} of the mass inside the "
                     f"lungs, {corner:.0%} in the four corners (a uniform map: {4 * CORNER_FRACTION**2:.0%}){note}.")
    return "\n".join(lines)
