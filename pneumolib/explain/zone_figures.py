"""Pictures of the zone and faithfulness measures: one film's zones, the deletion curve, top zones."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pneumolib.explain.faithfulness import FaithfulnessStudy
from pneumolib.explain.occlusion import ZoneReport
from pneumolib.explain.overlay import overlay_heatmap
from pneumolib.explain.zones import ZONE_NAMES, LungZones


def zone_figure(image: np.ndarray, heatmap: np.ndarray, zones: LungZones, report: ZoneReport,
                called_pneumonia: bool) -> Figure:
    """The film with its heatmap and six zone outlines (left) and each zone's effect (right)."""
    figure = Figure(figsize=(10, 4.2))
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.2]})
    left.imshow(overlay_heatmap(image, heatmap))
    for name, mask in zip(ZONE_NAMES, zones.masks):
        left.contour(mask.astype(float), levels=[0.5], colors="white", linewidths=0.8)
        rows, cols = np.nonzero(mask)
        if rows.size:
            left.text(cols.mean(), rows.mean(), name.replace(" ", "\n"), color="white", fontsize=6,
                      ha="center", va="center")
    left.set_axis_off()
    left.set_title(f"P(pneumonia) {report.probability:.3f}; lungs: {report.mask_source}", fontsize=9)
    effects = pd.Series({c.zone: c.contribution for c in report.contributions}).reindex(list(ZONE_NAMES))
    right.barh(list(effects.index)[::-1], effects.to_numpy()[::-1],
               color=["#c0392b" if v > 0 else "#2471a3" for v in effects.to_numpy()[::-1]])
    right.axvline(0, color="black", linewidth=0.8)
    right.set_xlabel("drop in P(pneumonia) when the zone is hidden")
    right.set_title(report.sentence(called_pneumonia), fontsize=9, wrap=True)
    figure.tight_layout()
    return figure


def deletion_figure(studies: dict[str, FaithfulnessStudy]) -> Figure:
    """Mean drop in P(pneumonia) against the share of lung area hidden: heatmap order (solid) and
    random blobs (dashed), one colour per study (e.g. the shipped model and the new one)."""
    figure = Figure(figsize=(6, 4))
    ax = figure.subplots()
    for (name, study), colour in zip(studies.items(), ("#c0392b", "#2471a3", "#27ae60", "#8e44ad")):
        curve = study.deletion_curve()
        ax.plot(curve["share_of_lung_area"], curve["heatmap"], "-o", color=colour, label=f"{name}: hottest first")
        ax.plot(curve["share_of_lung_area"], curve["random"], "--", color=colour, label=f"{name}: random blobs")
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_xlabel("share of the lung area hidden")
    ax.set_ylabel("mean drop in P(pneumonia)")
    ax.legend(fontsize=7)
    figure.tight_layout()
    return figure


def top_zone_figure(study: FaithfulnessStudy) -> Figure:
    """How often each zone carries the call, per group (bacterial, viral, normal called pneumonia)."""
    shares = study.top_zones()
    figure = Figure(figsize=(7, 0.6 + 0.5 * len(shares)))
    ax = figure.subplots()
    image = ax.imshow(shares.to_numpy(), cmap="Reds", vmin=0, vmax=max(0.01, float(shares.to_numpy().max())))
    ax.set_xticks(range(len(shares.columns)), shares.columns, rotation=30, ha="right", fontsize=8)
    counts = study.table["group"].value_counts()
    ax.set_yticks(range(len(shares.index)), [f"{g} ({counts[g]})" for g in shares.index], fontsize=8)
    for (i, j), value in np.ndenumerate(shares.to_numpy()):
        ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=7)
    figure.colorbar(image, ax=ax, fraction=0.03)
    ax.set_title("share of films whose call rests most on each zone", fontsize=9)
    figure.tight_layout()
    return figure
