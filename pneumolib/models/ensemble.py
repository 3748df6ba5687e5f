"""Several trained classifiers as one: their feature maps side by side, one head that averages their logits.

Each member is a :class:`PneumoniaClassifier` with global average pooling and a linear head, so its
logits are ``W_m · mean(A_m) + b_m``. Stacking the members' last-stage maps along the channel axis
and giving one head the weights ``[W_1, ..., W_M] / M`` and the bias ``mean(b_m)`` gives exactly
the mean of the members' logits, and the result is again a PneumoniaClassifier: the engines, the
ONNX export, the explainers and the X-ray gate handle it unchanged, and its class activation map is
the exact decomposition of the averaged logit over the film. A member with a coarser map (a
stride-32 backbone beside a stride-16 one) has each cell repeated onto the finer grid, which keeps
its spatial mean, hence its logits, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from torch import nn

from pneumolib.models.classifier import PneumoniaClassifier

ENSEMBLE = "ensemble"
"""The ``architecture`` a checkpoint of an ensemble records; its members' are under :data:`MEMBERS_KEY`."""
MEMBERS_KEY = "ensemble_members"


class EnsembleBackbone(nn.Module):
    """The members' backbones on one input; their last-stage maps, on the finest grid, stacked by channel."""

    def __init__(self, backbones: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(backbones) < 2:
            raise ValueError(f"an ensemble needs at least two members, got {len(backbones)}")
        self.members = nn.ModuleList(backbones)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        maps = [member(images) for member in self.members]
        height, width = max(m.shape[-2] for m in maps), max(m.shape[-1] for m in maps)
        for m in maps:
            if height % m.shape[-2] or width % m.shape[-1]:
                raise ValueError(f"a {tuple(m.shape[-2:])} feature map does not tile the {height}x{width} grid of the "
                                 "finest member at this input size: pick an input size divisible by 32")
        return torch.cat([m if m.shape[-2:] == (height, width) else F.interpolate(m, size=(height, width), mode="nearest")
                          for m in maps], dim=1)


def ensemble_classifier(members: Sequence[PneumoniaClassifier], dropout: float = 0.3) -> PneumoniaClassifier:
    """One classifier whose logits are the mean of ``members``' logits (eval mode), sharing their backbones."""
    first = members[0]
    for index, member in enumerate(members[1:], start=1):
        if not (torch.equal(member.mean, first.mean) and torch.equal(member.std, first.std)):
            raise ValueError(f"member {index} normalises its input differently from member 0; "
                             "only members that read the same input can be averaged")
        if member.head.out_features != first.head.out_features:
            raise ValueError(f"member {index} has {member.head.out_features} classes, member 0 {first.head.out_features}")
    model = PneumoniaClassifier(EnsembleBackbone([m.backbone for m in members]),
                                sum(m.head.in_features for m in members),
                                tuple(first.mean.flatten().tolist()), tuple(first.std.flatten().tolist()),
                                num_classes=first.head.out_features, dropout=dropout)
    with torch.no_grad():
        model.head.weight.copy_(torch.cat([m.head.weight for m in members], dim=1) / len(members))
        model.head.bias.copy_(torch.stack([m.head.bias for m in members]).mean(dim=0))
    return model.to(first.mean.device)


def member_layer(index: int, layer: str) -> str:
    """A member's module name (``backbone.model.blocks.4``) inside the ensemble (``backbone.members.1.model.blocks.4``)."""
    prefix = "backbone."
    if not layer.startswith(prefix):
        raise ValueError(f"{layer!r} is not a backbone layer")
    return f"{prefix}members.{index}.{layer[len(prefix):]}"
