"""What a heatmap explains: the class logit, or the log-odds that sets the class's probability."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from pneumolib.explain import FullModelGradCAM, HeadOnlyGradCAM, LinearHeadCAM, create_explainer
from pneumolib.explain.scores import LogOddsTarget, channel_weights, check_score, library_targets, prefers_log_odds


def test_log_odds_target_is_the_log_odds_of_the_softmax():
    logits = torch.tensor([[0.3, -1.2, 2.0], [1.5, 0.1, -0.4]])
    probability = torch.softmax(logits, dim=1)
    for category in range(3):
        expected = torch.log(probability[:, category] / (1 - probability[:, category]))
        torch.testing.assert_close(LogOddsTarget(category)(logits), expected)
        torch.testing.assert_close(LogOddsTarget(category)(logits[0]), expected[0])  # one row, as the library calls it
    torch.testing.assert_close(LogOddsTarget(None)(logits), torch.stack([  # the argmax of each row
        torch.log(probability[0, 2] / (1 - probability[0, 2])), torch.log(probability[1, 0] / (1 - probability[1, 0]))]))


def test_two_class_weights_are_the_difference_of_the_rows():
    weight = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -1.0]], dtype=np.float32)
    logits = np.array([[3.0, -2.0], [0.0, 0.0]], dtype=np.float32)  # no effect with two classes
    np.testing.assert_allclose(channel_weights(weight, logits, [1, 0], "log_odds"),
                               [weight[1] - weight[0], weight[0] - weight[1]])
    np.testing.assert_array_equal(channel_weights(weight, logits, [1, 0], "logit"), weight[[1, 0]])


def test_weights_are_the_gradient_of_the_log_odds_for_more_classes():
    rng = np.random.default_rng(0)
    weight, bias, pooled = rng.normal(size=(4, 6)), rng.normal(size=4), rng.normal(size=(2, 6))
    features = torch.tensor(pooled, requires_grad=True)
    logits = features @ torch.tensor(weight).T + torch.tensor(bias)
    LogOddsTarget(2)(logits).sum().backward()
    got = channel_weights(weight, logits.detach().numpy(), [2, 2], "log_odds")
    np.testing.assert_allclose(got, features.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_unknown_score_is_refused(imagenet_lite0):
    with pytest.raises(ValueError, match="unknown heatmap score"):
        check_score("probability")
    with pytest.raises(ValueError, match="unknown heatmap score"):
        create_explainer(imagenet_lite0, score="probability")
    assert library_targets(None, 3, "logit") is None
    assert [t.category for t in library_targets(None, 3, "log_odds")] == [None] * 3


@pytest.mark.parametrize("target", [None, 1, [0, 1, 1, 0]])
def test_the_three_explainers_agree_on_log_odds_maps(imagenet_lite0, one_torch_thread, ramp_images, target):
    closed = LinearHeadCAM(imagenet_lite0, score="log_odds").explain(ramp_images, target)
    head = HeadOnlyGradCAM(imagenet_lite0, score="log_odds").explain(ramp_images, target)
    full = FullModelGradCAM(imagenet_lite0, score="log_odds").explain(ramp_images, target)
    np.testing.assert_array_equal(closed.target_classes, head.target_classes)
    assert closed.score == head.score == full.score == "log_odds"
    assert np.abs(closed.heatmaps - head.heatmaps).max() <= 1e-5
    assert np.abs(closed.heatmaps - full.heatmaps).max() <= 1e-4


def test_log_odds_maps_differ_from_logit_maps(imagenet_lite0, one_torch_thread, ramp_images):
    model = copy.deepcopy(imagenet_lite0)
    with torch.no_grad():  # a head whose two rows share part of their weights, as trained heads do
        shared = torch.randn(model.head.in_features, generator=torch.Generator().manual_seed(0))
        model.head.weight.copy_(shared + 0.5 * torch.randn(model.head.weight.shape, generator=torch.Generator().manual_seed(1)))
    logit_maps = LinearHeadCAM(model).explain(ramp_images, 1).heatmaps
    log_odds_maps = LinearHeadCAM(model, score="log_odds").explain(ramp_images, 1).heatmaps
    assert logit_maps.max() > 0 and log_odds_maps.max() > 0
    assert np.abs(log_odds_maps - logit_maps).max() > 0.05  # another map, not the logit's under a new name


def _summary(laterality: float, drop: float, lung: float = 0.5) -> dict:
    return {"laterality_agreement": laterality, "lung_share_called_pneumonia": lung,
            "deletion_curve": [{"share_of_lung_area": 0.05, "heatmap": 0.0}, {"share_of_lung_area": 0.1, "heatmap": drop}]}


def test_the_rule_adopts_log_odds_only_when_every_condition_holds(capsys):
    logit = _summary(0.66, 0.010)
    adopt, decision = prefers_log_odds(logit, _summary(0.72, 0.012, lung=0.4), 0.1)
    assert adopt and decision.startswith("adopt log_odds") and decision in capsys.readouterr().out
    assert not prefers_log_odds(logit, _summary(0.70, 0.012), 0.1, verbose=False)[0]  # gain below the step
    adopt, decision = prefers_log_odds(logit, _summary(0.80, 0.009), 0.1, verbose=False)
    assert not adopt and "hottest 10 %" in decision
    adopt, decision = prefers_log_odds(logit, _summary(0.80, 0.020), 0.6, verbose=False)
    assert not adopt and "randomisation rho 0.60" in decision and decision.startswith("keep logit")
