"""The CAM methods on offer, all computed by the maintained ``pytorch_grad_cam`` library.

Every method listed here needs only the target layer's activations and the gradient of the class
score with respect to them. With the target layer at the last stage, that gradient depends only
on what comes after it (pool -> dropout -> linear), which is what lets
:class:`pneumolib.explain.base.HeadOnlyGradCAM` skip the backbone's backward pass. Methods that
perturb the input (Score-CAM, Ablation-CAM) are left out: they cost hundreds of forward passes,
too slow for explaining one upload on a CPU.

HiResCAM and XGradCAM are left out on purpose: behind global average pooling and one linear
layer the gradient is the same at every location, and both then reduce exactly to Grad-CAM
(checked: identical maps). Grad-CAM++ and LayerCAM keep only positively weighted evidence and
track the activations more than the weights: in the randomisation check
(:mod:`pneumolib.explain.randomisation`) they correlate 0.35-0.6 with a re-initialised model, against
about 0 for Grad-CAM, so Grad-CAM is the default.

The library is imported on first use (it imports pyplot): the service answers with the head's
own Grad-CAM (:mod:`pneumolib.explain.linear_head_cam`) and never needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytorch_grad_cam.base_cam import BaseCAM

#: Method name -> the library's class name.
CAM_METHODS: dict[str, str] = {
    "gradcam": "GradCAM",  # Selvaraju et al. 2017: channel weights = spatial mean of gradients
    "gradcam++": "GradCAMPlusPlus",  # Chattopadhay et al. 2018: higher-order weights, better for several regions
    "layercam": "LayerCAM",  # Jiang et al. 2021: positive grads * activations, per location
    "eigencam": "EigenCAM",  # Muhammad & Yeasin 2020: first principal component, class-agnostic, no gradients
}
DEFAULT_METHOD = "gradcam"


def method_key(method: str) -> str:
    """The canonical name of a method (case-insensitive; "gradcampp" = "gradcam++"), or ValueError."""
    key = method.lower().replace("_", "").replace("-", "").replace("pp", "++")
    if key not in CAM_METHODS:
        raise ValueError(f"unknown CAM method {method!r}; choose one of {sorted(CAM_METHODS)}")
    return key


def cam_class(method: str) -> type[BaseCAM]:
    """The library class for a method name (see :func:`method_key`)."""
    import pytorch_grad_cam

    return getattr(pytorch_grad_cam, CAM_METHODS[method_key(method)])
