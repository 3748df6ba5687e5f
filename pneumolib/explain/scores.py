"""Which number a heatmap explains: the class's own logit, or the log-odds that sets its probability.

Grad-CAM explains a scalar. The usual choice is the explained class's logit, ``l_c``. But the
probability a call rests on is a softmax, ``P(c) = 1 / (1 + sum_j exp(l_j - l_c))``: whatever
raises every logit alike leaves it unchanged. For two classes P(c) depends only on the log-odds
``l_c - l_other``, and behind global average pooling and one linear layer the log-odds map
``sum_k (w_ck - w_other,k) / (h * w) * A_k`` is its exact decomposition over the film. The class
logit's map also carries the evidence shared with the other class: in the trained heads the two
classes' weight vectors are nearly uncorrelated, so that shared part is not small.

* ``"logit"``: ``l_c`` (``pytorch_grad_cam``'s ``ClassifierOutputTarget``);
* ``"log_odds"``: ``l_c - logsumexp(l_j, j != c)``, the log-odds of P(c) (for two classes
  ``l_c - l_other``). Its gradient with respect to the pooled features is
  ``w_c - sum_j q_j w_j`` with ``q`` the softmax over the other classes, which for two classes is
  the constant ``w_c - w_other``: the map needs no backward pass either.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pneumolib.explain.map_choice import checked_option, replaces_map

SCORES = ("logit", "log_odds")
DEFAULT_SCORE = "logit"


def check_score(score: str) -> str:
    """``score`` if it is one of :data:`SCORES`, else ValueError."""
    return checked_option(score, SCORES, "heatmap score")


class LogOddsTarget:
    """A ``pytorch_grad_cam`` target: the log-odds of ``category`` (the row's argmax when None)."""

    def __init__(self, category: int | None = None) -> None:
        self.category = category

    def __call__(self, model_output: torch.Tensor) -> torch.Tensor:
        rows = model_output if model_output.ndim == 2 else model_output.unsqueeze(0)
        categories = (rows.argmax(dim=1) if self.category is None
                      else torch.full((len(rows),), int(self.category), device=rows.device))
        own = rows.gather(1, categories[:, None])[:, 0]
        others = rows.masked_fill(torch.nn.functional.one_hot(categories, rows.shape[1]).bool(), float("-inf"))
        odds = own - torch.logsumexp(others, dim=1)
        return odds if model_output.ndim == 2 else odds[0]


def library_targets(targets: Sequence[int] | None, count: int, score: str = DEFAULT_SCORE) -> list | None:
    """``pytorch_grad_cam`` targets for ``count`` images: the class logit (None: the library's argmax) or its log-odds."""
    if check_score(score) == "logit":
        from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

        return None if targets is None else [ClassifierOutputTarget(t) for t in targets]
    return [LogOddsTarget(None)] * count if targets is None else [LogOddsTarget(t) for t in targets]


def channel_weights(head_weight: np.ndarray, logits: np.ndarray, targets: Sequence[int],
                    score: str = DEFAULT_SCORE) -> np.ndarray:
    """(B, C): the gradient of each image's score with respect to its pooled features (a linear head)."""
    head_weight = np.asarray(head_weight, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    own = head_weight[targets]
    if check_score(score) == "logit":
        return own.astype(np.float32)
    others = np.asarray(logits, dtype=np.float64).copy()
    others[np.arange(len(targets)), targets] = -np.inf
    others = np.exp(others - others.max(axis=1, keepdims=True))
    others /= others.sum(axis=1, keepdims=True)
    return (own - others @ head_weight).astype(np.float32)


def prefers_log_odds(logit: dict, log_odds: dict, randomisation_rho: float, verbose: bool = True) -> tuple[bool, str]:
    """The rule, fixed before the comparison it decides: does the log-odds map replace the logit map?

    ``logit`` / ``log_odds``: :func:`pneumolib.explain.summary.heatmap_summary` of one model on val
    for each score; ``randomisation_rho``: the log-odds maps' mean rank correlation with those of a
    re-initialised copy. The conditions are :func:`pneumolib.explain.map_choice.replaces_map`'s.
    """
    return replaces_map(logit, log_odds, randomisation_rho, "logit", "log_odds", verbose)
