"""The Adebayo et al. (2018) parameter-randomisation check on a few films, both maps kept for display.

:mod:`pneumolib.explain.sanity` computes the check; this keeps the films, the classes explained
and both sets of heatmaps, so notebook 05 can show them side by side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from torch import nn

from pneumolib import CLASS_NAMES
from pneumolib.explain.explainers import create_explainer
from pneumolib.explain.methods import DEFAULT_METHOD
from pneumolib.explain.sanity import RandomisationResult, randomised_copy, spearman_similarity


@dataclass
class RandomisationStudy:
    """The randomisation check on a few films, with both heatmaps per film for display."""

    paths: list[str]
    targets: np.ndarray  # (n,) class explained on both sides
    trained: np.ndarray  # (n, S, S) float32 heatmaps of the trained model
    randomised: np.ndarray  # (n, S, S) float32 heatmaps of the re-initialised copy
    result: RandomisationResult

    @property
    def rho(self) -> np.ndarray:
        return self.result.per_image

    @property
    def mean(self) -> float:
        return self.result.mean

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"path": self.paths, "explained class": [CLASS_NAMES[t] for t in self.targets],
                             "spearman": self.rho})


def randomisation_study(
    model: nn.Module,
    images: np.ndarray,
    paths: Sequence[str],
    targets: Sequence[int] | np.ndarray | None = None,
    n: int | None = 8,
    seed: int = 0,
    method: str = DEFAULT_METHOD,
) -> RandomisationStudy:
    """Trained vs re-initialised heatmaps (:func:`randomised_copy`) on ``n`` films picked at random.

    ``targets``: the class to explain per film (e.g. a study table's ``predicted``), the same on
    both sides; default the trained model's argmax. ``n=None`` uses every film. Spearman rho near
    0 means the maps depend on the learned weights; near 1, they would look the same for any
    weights, so they cannot explain what was learned.
    """
    if not len(images) == len(paths) or (targets is not None and len(targets) != len(images)):
        raise ValueError("images, paths and targets must be aligned")
    picked = np.arange(len(images))
    if n is not None and n < len(images):
        picked = np.sort(np.random.default_rng(seed).choice(len(images), size=n, replace=False))
    chosen = np.array(images[picked])
    wanted = None if targets is None else [int(t) for t in np.asarray(targets)[picked]]
    trained = create_explainer(model, method).explain(chosen, wanted)
    explained = [int(t) for t in trained.target_classes]
    random_maps = create_explainer(randomised_copy(model, seed), method).explain(chosen, explained).heatmaps
    rho = np.array([spearman_similarity(a, b) for a, b in zip(trained.heatmaps, random_maps)], dtype=np.float64)
    return RandomisationStudy([str(paths[i]) for i in picked], np.asarray(explained, dtype=np.int64),
                              trained.heatmaps, random_maps, RandomisationResult(rho, method))
