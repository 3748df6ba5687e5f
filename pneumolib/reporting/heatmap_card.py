"""The model card's heatmap section: where the maps fall and whether they are what the model used.

Rendered from the ``heatmaps`` part of the evaluation report
(:func:`pneumolib.explain.summary.heatmap_summary`, computed on the test split within the
logged look), so every figure in it is measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pneumolib.reporting.markdown import GENERATED_NOTE


def _ratio(row: Mapping[str, Any]) -> str:
    """Hottest-first drop over the random drop, only where random hiding lowers P at all."""
    if not row["random"] > 0:
        return "n/a"
    return f"{row['heatmap'] / row['random']:.2f}"


def _laterality_detail(summary: Mapping[str, Any]) -> list[str]:
    """Which lung the map and occlusion each name, and agreement by how clear-cut occlusion is
    (in reports that measured them)."""
    sides, by_gap = summary.get("laterality_sides"), summary.get("laterality_by_gap")
    if not sides or not by_gap:
        return []
    total = sum(sum(row.values()) for row in sides.values())
    first = next(iter(sides))
    map_first = sum(sides[first].values())
    occlusion_first = sum(row.get(first, 0) for row in sides.values())
    gaps = ", ".join(f"{row['agreement']:.0%} of {row['films']} at a gap of {row['least_gap']:.2f} or more"
                     for row in by_gap if row["films"])
    return [f"  The map puts more heat on the {first} lung in {map_first} of {total} films, occlusion names it in "
            f"{occlusion_first}. Agreement by the least difference between the two lungs' drops in "
            f"P(pneumonia): {gaps}."]


def _uniform_laterality(summary: Mapping[str, Any]) -> str:
    """The baseline beside laterality: a uniform map, which names the larger lung (not a coin toss)."""
    uniform = summary.get("uniform_laterality_agreement")
    if uniform is None:
        return ("this report has no uniform-map baseline; 50 % is not chance here, since hiding the larger lung "
                "tends to lower P(pneumonia) more")
    return f"a uniform map, which names the larger lung: {uniform:.1%}"


def render_heatmap_section(summary: Mapping[str, Any] | None) -> str:
    """Lung share, the deletion curve, laterality and the top zones, as Markdown."""
    if not summary:
        return f"{GENERATED_NOTE}\n\nThis model's report has no heatmap figures (evaluated before they were measured)."
    grid = "x".join(str(v) for v in summary["feature_grid"])
    lines = [GENERATED_NOTE, "",
             f"Official test split, {summary['films']} films; heatmaps of the class called at the "
             f"`{summary['operating_point']}` point, from a {grid} feature grid; occlusions filled with "
             f"`{summary['occlusion_fill']}` (chosen on val: of the candidate fills, the one that moves the logit of "
             f"films called normal least, `pneumolib.explain.occlusion.choose_fill`). "
             f"{summary['films_called_pneumonia']} films were called pneumonia.", ""]
    share, uniform = summary.get("lung_share_called_pneumonia"), summary.get("uniform_share_called_pneumonia")
    if share is not None:
        lines.append(f"- Heat inside the lung outline, films called pneumonia: **{share:.3f}** (a uniform map: "
                     f"{uniform:.3f}).")
    if summary.get("laterality_agreement") is not None:
        lines.append(f"- Laterality: the lung with more heat is the lung whose occlusion lowers P(pneumonia) more in "
                     f"**{summary['laterality_agreement']:.1%}** of those films ({_uniform_laterality(summary)}).")
        lines += _laterality_detail(summary)
    lines += ["", "| share of lung area hidden | drop in P(pneumonia), hottest first | random blobs | ratio |",
              "| ---: | ---: | ---: | ---: |"]
    for row in summary["deletion_curve"]:
        lines.append(f"| {row['share_of_lung_area']:.0%} | {row['heatmap']:.4f} | {row['random']:.4f} | "
                     f"{_ratio(row)} |")
    if any(not row["random"] > 0 for row in summary["deletion_curve"]):
        lines += ["", "Where hiding random blobs does not lower P(pneumonia) on average (a negative drop: it raised "
                      "it), no ratio is defined; compare the two columns instead."]
    if summary.get("top_zones"):
        zones = list(next(iter(summary["top_zones"].values())))
        lines += ["", "Which zone's occlusion lowers P(pneumonia) most, share of films per group:", "",
                  "| group | films | " + " | ".join(zones) + " |", "| --- | ---: | " + " | ".join("---:" for _ in zones) + " |"]
        for group, row in summary["top_zones"].items():
            lines.append(f"| {group} | {summary['group_counts'].get(group, 0)} | "
                         + " | ".join(f"{row[z]:.0%}" for z in zones) + " |")
    return "\n".join(lines)
