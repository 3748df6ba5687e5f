"""Which explainer answers for a model: one decision, above the explainers it chooses between.

:mod:`pneumolib.explain.gradcam` holds the PyTorch explainers (the head path and the library
path), :mod:`pneumolib.explain.linear_head` the engine path that needs no backward pass; this
module picks one, so neither of them has to import the other.
"""

from __future__ import annotations

from torch import nn

from pneumolib.explain.gradcam import CAMExplainer, HeadGradCAM, LibraryGradCAM
from pneumolib.explain.head import supports_head_path
from pneumolib.explain.linear_head import LinearHeadGradCAM
from pneumolib.explain.methods import DEFAULT_METHOD, method_key


def create_explainer(model: nn.Module, method: str = DEFAULT_METHOD, fast: bool | None = None,
                     engine: object | None = None) -> CAMExplainer:
    """The fast head path when the model is a :class:`PneumoniaClassifier`, else the library path.

    With an ``engine`` (:mod:`pneumolib.engine`) and plain Grad-CAM, the forward pass is the
    engine's and the map comes from the head's weights, with no backward pass at all
    (:class:`pneumolib.explain.linear_head.LinearHeadGradCAM`).
    """
    if fast is None:
        fast = supports_head_path(model)
    if engine is not None and fast and method_key(method) == DEFAULT_METHOD:
        return LinearHeadGradCAM(model, engine)
    return HeadGradCAM(model, method) if fast else LibraryGradCAM(model, method)
