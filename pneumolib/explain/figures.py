"""Figures for notebook 05: Grad-CAM galleries, the randomisation check and the lung-focus summary.

Every heatmap is drawn over the **original** film (read from the data root, heatmap resized to
it, which undoes the model's square squash), never over the squashed model input. Each function
returns a :class:`matplotlib.figure.Figure` (no pyplot state), so notebooks display it and
tests count its panels.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from pneumolib import CLASS_NAMES
from pneumolib.explain.lung_mask import segment_lungs
from pneumolib.explain.overlay import DEFAULT_OPACITY, overlay_heatmap
from pneumolib.explain.randomisation import RandomisationStudy
from pneumolib.explain.study import OUTCOME_NAMES, OUTCOMES, FilmReader, GradCamStudy, film_reader, shrink_film

#: Films are shrunk to this height for display; a panel is a few hundred pixels wide anyway.
DISPLAY_HEIGHT = 512
PANEL_INCHES = 2.4
OUTCOME_COLOURS = {"TP": "#c0392b", "FP": "#e67e22", "FN": "#8e44ad", "TN": "#2980b9"}
PICKS = ("random", "confident", "outside")

Films = FilmReader | str | os.PathLike


def _reader(films: Films) -> FilmReader:
    return film_reader(films) if isinstance(films, str | os.PathLike) else films


def _bare(ax: Axes) -> None:
    """No ticks or frame, but keep the y label (row titles) visible, unlike ``set_axis_off``."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _draw_overlay(ax: Axes, film: np.ndarray, heatmap: np.ndarray | None, lungs: bool,
                  opacity: float = DEFAULT_OPACITY) -> None:
    """The film (with the heatmap blended in, if any) and, optionally, the lung mask's outline."""
    film = shrink_film(film, DISPLAY_HEIGHT)
    if heatmap is None:
        ax.imshow(film, cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(overlay_heatmap(film, np.asarray(heatmap, dtype=np.float32), opacity))
    if lungs:
        ax.contour(segment_lungs(film).mask.astype(np.float32), levels=[0.5], colors="white", linewidths=0.8)
    _bare(ax)


def _panel_title(record: pd.Series) -> str:
    share = record["inside_share"]
    share_text = "n/a" if math.isnan(share) else f"{share:.0%}"
    return f"p={record['prob']:.3f} · lungs {share_text}"


def pick_rows(table: pd.DataFrame, outcome: str | None, n: int, pick: str = "random", seed: int = 0) -> pd.DataFrame:
    """Up to ``n`` rows of one outcome (or of all, ``None``) chosen by ``pick``.

    ``random``: a seeded sample, the honest view of what is typical. ``confident``: the most
    confident calls (highest probability for TP/FP, lowest for TN/FN). ``outside``: the lowest
    lung-focus share first.
    """
    if pick not in PICKS:
        raise ValueError(f"pick must be one of {PICKS}, got {pick!r}")
    rows = table if outcome is None else table[table["outcome"] == outcome]
    if pick == "random":
        return rows.sample(n=min(n, len(rows)), random_state=seed).sort_index() if len(rows) else rows
    if pick == "confident":
        return rows.sort_values("prob", ascending=outcome in ("TN", "FN"), kind="stable").head(n)
    return rows.dropna(subset=["inside_share"]).sort_values("inside_share", kind="stable").head(n)


def outcome_gallery(
    study: GradCamStudy,
    films: Films,
    outcomes: Sequence[str] = OUTCOMES,
    n: int = 4,
    pick: str = "random",
    seed: int = 0,
    lungs: bool = True,
    opacity: float = DEFAULT_OPACITY,
) -> Figure:
    """One row per outcome (TP, FP, FN, TN by default), ``n`` overlays each: ``len(outcomes) * n`` panels.

    ``films``: the data root (manifest paths are relative to it) or a ``path -> film`` callable.
    Titles give the calibrated probability of pneumonia and the share of heatmap mass inside the
    lung outline (white, with ``lungs``). A row with fewer films than ``n`` leaves panels blank.
    """
    unknown = [o for o in outcomes if o not in OUTCOMES]
    if unknown or n < 1:
        raise ValueError(f"outcomes must be among {OUTCOMES} and n positive; got {list(outcomes)}, n={n}")
    read = _reader(films)
    table = study.table
    fig = Figure(figsize=(PANEL_INCHES * n, PANEL_INCHES * 1.1 * len(outcomes)), layout="constrained")
    axes = fig.subplots(len(outcomes), n, squeeze=False)
    for row, outcome in enumerate(outcomes):
        chosen = pick_rows(table, outcome, n, pick, seed)
        total = int((table["outcome"] == outcome).sum())
        for col in range(n):
            ax = axes[row, col]
            _bare(ax)
            if col < len(chosen):
                index = chosen.index[col]
                record = chosen.iloc[col]
                _draw_overlay(ax, read(record["path"]), study.heatmap(table.index.get_loc(index)), lungs, opacity)
                ax.set_title(_panel_title(record), fontsize="small")
            elif col == 0:
                ax.text(0.5, 0.5, f"no {OUTCOME_NAMES[outcome]}s", ha="center", va="center", transform=ax.transAxes)
            if col == 0:
                called = CLASS_NAMES[1] if outcome in ("TP", "FP") else CLASS_NAMES[0]
                ax.set_ylabel(f"{outcome}: {OUTCOME_NAMES[outcome]} ({total})\nmap explains {called}", fontsize="small")
    fig.suptitle(f"Grad-CAM of the class called at the {study.operating_point} threshold ({study.threshold:.3g}); "
                 f"{pick} examples")
    return fig


def randomisation_figure(
    randomisation: RandomisationStudy,
    films: Films,
    per_row: int = 2,
    opacity: float = DEFAULT_OPACITY,
) -> Figure:
    """Per film three panels side by side: the film, the trained model's map, the randomised model's.

    ``per_row`` films share a row; the figure has exactly ``3 * n`` panels. The randomised
    panel's title gives the Spearman rank correlation of the two maps.
    """
    read = _reader(films)
    count = len(randomisation.paths)
    if count == 0:
        raise ValueError("the randomisation study holds no films")
    per_row = max(1, min(per_row, count))
    rows = math.ceil(count / per_row)
    fig = Figure(figsize=(PANEL_INCHES * 3 * per_row, PANEL_INCHES * 1.1 * rows), layout="constrained")
    axes = fig.subplots(rows, 3 * per_row, squeeze=False)
    for index in range(rows * per_row):
        row, slot = divmod(index, per_row)
        trio = axes[row, 3 * slot : 3 * slot + 3]
        if index >= count:
            for ax in trio:
                ax.remove()
            continue
        film = read(randomisation.paths[index])
        target = CLASS_NAMES[int(randomisation.targets[index])]
        _draw_overlay(trio[0], film, None, lungs=False)
        trio[0].set_title("film", fontsize="small")
        _draw_overlay(trio[1], film, randomisation.trained[index], lungs=False, opacity=opacity)
        trio[1].set_title(f"trained: {target}", fontsize="small")
        _draw_overlay(trio[2], film, randomisation.randomised[index], lungs=False, opacity=opacity)
        rho = randomisation.rho[index]
        trio[2].set_title(f"random weights: ρ={rho:.2f}" if not math.isnan(rho) else "random weights: ρ undefined",
                          fontsize="small")
    fig.suptitle(f"Randomisation check: mean Spearman ρ = {randomisation.mean:.2f} over {count} films "
                 "(near 0: the maps depend on the learned weights)")
    return fig


def lung_focus_figure(study: GradCamStudy, threshold: float = 0.5) -> Figure:
    """Two panels: the lung-focus share per outcome, and per film against what a uniform map would give.

    Left: the share of heatmap mass inside the lung mask, per outcome (box + one dot per film); the
    black bars mark the mean mask area fraction, i.e. what a heatmap spread evenly over the film
    would score. Right: share against the film's own mask fraction; films above the diagonal have
    their heatmap more concentrated on the lungs than a uniform map.
    """
    table = study.table.dropna(subset=["inside_share"])
    present = [o for o in OUTCOMES if (table["outcome"] == o).any()]
    fig = Figure(figsize=(11.0, 4.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    jitter = np.random.default_rng(0)
    for position, outcome in enumerate(present):
        part = table[table["outcome"] == outcome]
        colour = OUTCOME_COLOURS[outcome]
        boxes = left.boxplot([part["inside_share"].to_numpy()], positions=[position], widths=0.6, showfliers=False,
                             patch_artist=True, medianprops={"color": colour, "linewidth": 2})
        for box in boxes["boxes"]:
            box.set(facecolor=colour, alpha=0.25)
        left.scatter(position + jitter.uniform(-0.18, 0.18, len(part)), part["inside_share"], s=9, alpha=0.7,
                     color=colour, zorder=3)
        left.hlines(part["mask_fraction"].mean(), position - 0.45, position + 0.45, colors="black", linewidth=2.5,
                    linestyles=":", zorder=5, label="uniform heatmap (mask area)" if position == 0 else None)
    left.set_xticks(range(len(present)), [f"{o}\n({(table['outcome'] == o).sum()})" for o in present])
    left.set_xlim(-0.6, max(len(present), 1) - 0.4)
    left.axhline(threshold, color="grey", linestyle="--", linewidth=1, label=f"{threshold:.0%} of the mass")
    left.set_ylim(0, 1)
    left.set_xlabel("outcome")
    left.set_ylabel("heatmap mass inside the lungs")
    empty = len(study.table) - len(table)
    title = f"Lung focus per outcome (mean {table['inside_share'].mean():.2f})" if len(table) else "Lung focus"
    left.set_title(title + (f"\n{empty} all-zero maps left out" if empty else ""))
    left.legend(loc="upper right", fontsize="small")

    for outcome in present:
        part = table[table["outcome"] == outcome]
        right.scatter(part["mask_fraction"], part["inside_share"], s=12, alpha=0.7, color=OUTCOME_COLOURS[outcome],
                      label=f"{outcome} ({len(part)})")
    right.plot([0, 1], [0, 1], color="black", linewidth=1, label="uniform heatmap")
    right.set_xlim(0, max(0.6, float(table["mask_fraction"].max()) + 0.05) if len(table) else 1)
    right.set_ylim(0, 1)
    right.set_xlabel("lung mask area fraction (= uniform heatmap's share)")
    right.set_ylabel("heatmap mass inside the lungs")
    right.set_title("Above the line: more on the lungs than chance")
    right.legend(loc="lower right", fontsize="small")
    return fig


def outside_gallery(
    study: GradCamStudy,
    films: Films,
    n: int = 6,
    per_row: int = 6,
    lungs: bool = True,
    opacity: float = DEFAULT_OPACITY,
) -> Figure:
    """The ``n`` films with the least heatmap mass inside the lungs, worst first: ``n`` panels."""
    if n < 1:
        raise ValueError("n must be positive")
    read = _reader(films)
    table = study.table
    chosen = pick_rows(table, None, n, "outside")
    if chosen.empty:
        raise ValueError("no film has a defined lung-focus share")
    count = len(chosen)
    per_row = max(1, min(per_row, count))
    rows = math.ceil(count / per_row)
    fig = Figure(figsize=(PANEL_INCHES * per_row, PANEL_INCHES * 1.15 * rows), layout="constrained")
    axes = fig.subplots(rows, per_row, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.remove()
    for ax, (index, record) in zip(axes, chosen.iterrows()):
        _draw_overlay(ax, read(record["path"]), study.heatmap(table.index.get_loc(index)), lungs, opacity)
        ax.set_title(f"{record['outcome']} · {_panel_title(record)}", fontsize="small")
    fig.suptitle("Least heatmap mass inside the lung outline (white)")
    return fig
