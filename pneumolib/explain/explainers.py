"""Which explainer answers for a model: one decision, above the explainers it chooses between.

:mod:`pneumolib.explain.full_model_cam`, :mod:`pneumolib.explain.head_cam` and
:mod:`pneumolib.explain.linear_head_cam` hold one explainer each on the base class of
:mod:`pneumolib.explain.base`; this module picks one, so none of them has to import another.
"""

from __future__ import annotations

from torch import nn

from pneumolib.explain.base import CAMExplainer
from pneumolib.explain.full_model_cam import FullModelGradCAM
from pneumolib.explain.head_cam import HeadOnlyGradCAM, supports_head_path
from pneumolib.explain.linear_head_cam import LinearHeadCAM
from pneumolib.explain.methods import DEFAULT_METHOD, method_key
from pneumolib.explain.scores import DEFAULT_SCORE


def create_explainer(model: nn.Module, method: str = DEFAULT_METHOD, fast: bool | None = None,
                     engine: object | None = None, score: str = DEFAULT_SCORE) -> CAMExplainer:
    """The fast head path when the model is a :class:`PneumoniaClassifier`, else the library path.

    With an ``engine`` (:mod:`pneumolib.engine`) and plain Grad-CAM, the forward pass is the
    engine's and the map comes from the head's weights, with no backward pass at all
    (:class:`pneumolib.explain.linear_head_cam.LinearHeadCAM`). ``score``: what the maps explain
    (:mod:`pneumolib.explain.scores`).
    """
    if fast is None:
        fast = supports_head_path(model)
    if engine is not None and fast and method_key(method) == DEFAULT_METHOD:
        return LinearHeadCAM(model, engine, score)
    return HeadOnlyGradCAM(model, method, score) if fast else FullModelGradCAM(model, method, score=score)
