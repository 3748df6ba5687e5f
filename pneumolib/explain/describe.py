"""A Grad-CAM study summarised: a table per outcome and sentences generated from the numbers.

Every sentence notebook 05 prints about where the heatmaps fall comes from here, computed from
the study, so the prose says what this model does, whichever way that goes.
"""

from __future__ import annotations

from pneumolib import CLASS_NAMES
from pneumolib.explain.faithfulness import FaithfulnessStudy
from pneumolib.explain.study import CORNER_FRACTION, GradCamStudy

#: Differences of mean shares smaller than this are described as "about the same".
SAME_MARGIN = 0.05


def _against(value: float, baseline: float, above: str, below: str, same: str) -> str:
    """One of three phrases: ``value`` above, below or within :data:`SAME_MARGIN` of ``baseline``."""
    if value > baseline + SAME_MARGIN:
        return above
    if value < baseline - SAME_MARGIN:
        return below
    return same


def _verdict(inside: float, chance: float) -> str:
    return _against(inside, chance,
                    "more than chance" + (", though most of the mass lies outside them" if inside < 0.5 else ""),
                    "**less than chance**: the maps avoid the lungs", "**no better than chance**")


def _laterality_verdict(agreement: float, uniform: float) -> str:
    return _against(agreement, uniform, "the map's side says more than the lungs' sizes do",
                    "**less than a uniform map**",
                    "**about the same as a uniform map**: the map's side adds little to the lungs' sizes")


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
    uniform = defined["mask_fraction"].mean()
    outside = int((defined["inside_share"] < threshold).sum())
    caveat = (f" (a uniform map would be among them: the outline covers only {uniform:.0%} of a film, so look at "
              "how far below that a film falls)" if uniform < threshold else "")
    lines.append(f"- **{outside} of {len(defined)} films ({outside / len(defined):.0%})** have most of their heatmap "
                 f"mass outside the lungs{caveat}.")
    for called, name in ((1, CLASS_NAMES[1]), (0, CLASS_NAMES[0])):
        part = defined[defined["predicted"] == called]
        if part.empty:
            continue
        inside, chance = part["inside_share"].mean(), part["mask_fraction"].mean()
        corner = part["corner_share"].mean()
        note = (" (more than a uniform map: look for side markers and the film's edges in the galleries)"
                if corner > 4 * CORNER_FRACTION**2 + SAME_MARGIN else "")
        lines.append(f"- Films called {name} ({len(part)}): **{inside:.0%}** of the mass inside the lungs against "
                     f"{chance:.0%} for a uniform map: {_verdict(inside, chance)}; {corner:.0%} in the four corners "
                     f"(a uniform map: {4 * CORNER_FRACTION**2:.0%}){note}.")
    return "\n".join(lines)


def describe_faithfulness(study: FaithfulnessStudy, share: float = 0.10) -> str:
    """The faithfulness figures in plain words (Markdown), whatever they turn out to be."""
    table = study.table
    if table.empty:
        return "- No film was called pneumonia: nothing to measure."
    curve = study.deletion_curve().set_index("share_of_lung_area")
    row = curve.loc[min(curve.index, key=lambda s: abs(s - share))]
    random = row["random"]
    if row["heatmap"] <= 0:
        deletion = (f"hiding the hottest pixels does **not** lower it (random blobs of the same area: {random:+.3f}): "
                    "the map does not mark what the call rests on")
    elif random <= 1e-9:
        deletion = (f"hiding random blobs of the lungs of the same area does not lower it at all (it moves by "
                    f"{-random:+.3f}), so no ratio is defined: only the hottest pixels lower it")
    else:
        deletion = (f"that is **{row['heatmap'] / random:.1f} times** the drop from hiding random blobs of the lungs "
                    f"of the same area ({random:.3f})")
    agreement, uniform = study.laterality_agreement(), study.uniform_laterality()
    top = study.top_zones()
    lines = [
        f"- **{len(table)} films called pneumonia**, every occlusion filled with `{study.fill}`.",
        f"- Hiding the hottest {share:.0%} of the lung area lowers P(pneumonia) by **{row['heatmap']:.3f}** on average; "
        f"{deletion}.",
        f"- The lung holding more heat is the lung whose occlusion lowers P(pneumonia) more in **{agreement:.0%}** "
        f"of the films; a uniform map, whose hotter lung is simply the larger one, scores {uniform:.0%} "
        f"({_laterality_verdict(agreement, uniform)}).",
    ]
    for group in top.index:
        zone = top.loc[group].idxmax()
        lines.append(f"- {group} ({int((table['group'] == group).sum())} films): the call rests most often on the "
                     f"**{zone}** zone ({top.loc[group, zone]:.0%} of them).")
    return "\n".join(lines)
