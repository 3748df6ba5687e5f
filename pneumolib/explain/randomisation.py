"""Model-parameter randomisation test (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

:func:`randomisation_check` computes it; :func:`randomisation_study` also keeps the films, the
classes explained and both sets of heatmaps, so notebook 05 can show them side by side.

A heatmap method is only worth showing if its maps depend on what the model learned. The test:
explain the same images with the trained model and with the same architecture whose weights are
re-initialised, and rank-correlate the two maps per image. If the correlation stays high, the
maps mostly reflect the input's edges and the architecture's receptive fields (an edge detector
would pass as an "explanation"), not the learned weights. Spearman rank correlation is used, as in
the paper, because CAM scaling is arbitrary.

Both models explain the *same* class per image (the trained model's prediction unless given), so
the comparison asks the same question of two sets of weights.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from torch import nn

from pneumolib import CLASS_NAMES
from pneumolib.explain.base import TargetClass
from pneumolib.explain.explainers import create_explainer
from pneumolib.explain.methods import DEFAULT_METHOD
from pneumolib.explain.scores import DEFAULT_SCORE


@dataclass(frozen=True)
class RandomisationResult:
    per_image: np.ndarray  # Spearman rho per image, NaN where a map is constant
    method: str

    @property
    def mean(self) -> float:
        """Mean rho over images with a defined correlation (NaN if none)."""
        valid = self.per_image[~np.isnan(self.per_image)]
        return float(valid.mean()) if valid.size else math.nan

    @property
    def undefined(self) -> int:
        """Images where one map was constant (e.g. all zero after the ReLU): no rank correlation."""
        return int(np.isnan(self.per_image).sum())


def randomised_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A deep copy with every learned layer re-initialised, head included.

    Convolutions get the fan-out He-normal initialisation EfficientNets are trained from (with the
    fan-out of a depthwise kernel counted per group), linear layers timm's uniform range, and
    normalisation layers weight 1 / bias 0 / fresh running statistics. PyTorch's generic
    ``reset_parameters`` is *not* used: its small default convolution weights shrink the signal
    layer by layer until the deep network outputs the same logits for every image, and a
    comparison with a constant model says nothing. Non-learned buffers (the classifier's input
    mean/std) are kept. Raises if a parameter is left untouched, so an unknown layer type cannot
    silently keep trained weights.
    """
    clone = copy.deepcopy(model)
    reset: set[int] = set()
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for module in clone.modules():
            if _reinitialise(module):
                reset.update(id(p) for p in module.parameters(recurse=False))
    missed = [name for name, p in clone.named_parameters() if id(p) not in reset]
    if missed:
        raise TypeError(f"could not re-initialise {len(missed)} parameters, e.g. {missed[:3]}")
    return clone.eval()


def _reinitialise(module: nn.Module) -> bool:
    """Re-initialise ``module``'s own parameters in place; False if it has none we know how to reset."""
    if isinstance(module, nn.Conv2d):
        fan_out = module.weight[0, 0].numel() * module.out_channels // module.groups
        nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
    elif isinstance(module, nn.Linear):
        bound = 1.0 / math.sqrt(module.out_features)
        nn.init.uniform_(module.weight, -bound, bound)
    elif isinstance(module, nn.modules.batchnorm._NormBase | nn.GroupNorm | nn.LayerNorm):
        module.reset_parameters()
        return True
    elif callable(getattr(module, "reset_parameters", None)):
        module.reset_parameters()
        return True
    else:
        return False
    if module.bias is not None:
        nn.init.zeros_(module.bias)
    return True


def spearman_similarity(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman rho of two flattened heatmaps; NaN when either is constant."""
    a, b = np.ravel(first), np.ravel(second)
    if a.shape != b.shape:
        raise ValueError(f"heatmaps differ in size: {np.shape(first)} vs {np.shape(second)}")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(spearmanr(a, b).statistic)


def randomisation_check(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    randomised: nn.Module | None = None,
    method: str = DEFAULT_METHOD,
    target_class: TargetClass = None,
    seed: int = 0,
    score: str = DEFAULT_SCORE,
) -> RandomisationResult:
    """Spearman rho between ``model``'s heatmaps and a re-initialised model's, per image.

    ``randomised``: the comparison model; default :func:`randomised_copy` of ``model``. Another
    choice is ``create_model(architecture, pretrained=False)``. Low values (a mean below
    :data:`pneumolib.constants.RANDOMISATION_LIMIT`) are what a method that depends on the learned
    weights should give.
    """
    trained = create_explainer(model, method, score=score).explain(images, target_class)
    other = randomised if randomised is not None else randomised_copy(model, seed)
    targets: Sequence[int] = [int(t) for t in trained.target_classes]
    random_maps = create_explainer(other, method, score=score).explain(images, targets).heatmaps
    rho = np.array([spearman_similarity(a, b) for a, b in zip(trained.heatmaps, random_maps)], dtype=np.float64)
    return RandomisationResult(rho, method)


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
