"""Lung zones, occlusion and the faithfulness measures, on synthetic masks and a stub engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pneumolib.engine.base import Engine
from pneumolib.explain.faithfulness import DELETION_SHARES, faithfulness_study, hotter_side, hottest, random_blob
from pneumolib.explain.focus import focus_share
from pneumolib.explain.lung_mask import LungMask, prior_lungs, segment_lungs
from pneumolib.explain.map_choice import replaces_map
from pneumolib.explain.occlusion import FILLS, choose_fill, fill_neutrality, occluded, zone_drops, zone_report
from pneumolib.explain.zone_weighting import (
    check_map_style,
    prefers_zone_weighting,
    zone_weighted,
    zone_weighted_maps,
)
from pneumolib.explain.zones import SIDES, ZONE_NAMES, heat_per_zone, lung_zones, split_in_thirds, zones_from_mask

S = 60


def two_lungs() -> LungMask:
    """Image-left rectangle rows 10-39 (the patient's right lung), image-right rows 16-45."""
    left, right = np.zeros((S, S), bool), np.zeros((S, S), bool)
    left[10:40, 5:25] = True
    right[16:46, 35:55] = True
    return LungMask(left | right, ("segmented", "prior"), (left, right))


def test_a_lung_is_cut_into_thirds_of_its_own_height():
    side = np.zeros((S, S), bool)
    side[10:40, 5:25] = True
    thirds = split_in_thirds(side)
    assert [np.flatnonzero(t.any(axis=1))[[0, -1]].tolist() for t in thirds] == [[10, 19], [20, 29], [30, 39]]
    assert (thirds.sum(axis=0) == side).all()  # a partition: every lung pixel in exactly one zone
    assert not split_in_thirds(np.zeros((S, S), bool)).any()


def test_six_zones_use_the_patients_sides():
    zones = zones_from_mask(two_lungs())
    assert zones.names == ZONE_NAMES and zones.masks.shape == (6, S, S)
    right_upper = zones.masks[ZONE_NAMES.index("right upper")]
    assert right_upper[10:20, 5:25].all() and not right_upper[:, 30:].any()  # image-left = patient's right
    left_lower = zones.masks[ZONE_NAMES.index("left lower")]
    assert left_lower[36:46, 35:55].all() and not left_lower[:36].any()
    assert zones.side_sources == ("segmented", "prior") and zones.source == "mixed"
    assert zones.zone_source("left middle") == "prior" and zones.zone_source("right lower") == "segmented"
    assert (zones.side_mask("right") == two_lungs().sides[0]).all()


def test_the_prior_gives_zones_when_nothing_can_be_segmented():
    flat = np.full((200, 240), 128, np.uint8)  # no dark lung fields at all
    zones = lung_zones(flat)
    assert zones.source == "prior" and all(zones.masks[i].any() for i in range(6))
    assert (zones.masks.any(axis=0) == prior_lungs((200, 240)).mask).all()
    assert segment_lungs(flat).sides is not None


def test_heat_per_zone_is_a_share_of_all_heat():
    zones = zones_from_mask(two_lungs())
    heat = np.zeros((S, S))
    heat[10:20, 5:25] = 1.0  # all on the right upper zone
    heat[0, 0] = 1.0  # a little outside the lungs
    shares = heat_per_zone(heat, zones)
    assert shares[ZONE_NAMES.index("right upper")] == pytest.approx(200 / 201)
    assert shares.sum() == pytest.approx(200 / 201)
    with pytest.raises(ValueError):
        heat_per_zone(np.zeros((S + 1, S)), zones)


class BrightnessEngine(Engine):
    """P(pneumonia) rises with the brightness of the image-left lower lung (rows 30-39, cols 5-24):
    a model that reads exactly one zone. Counts its batches to check the batching."""

    name = "stub"

    def __init__(self) -> None:
        self.batches: list[int] = []

    def run(self, batch, outputs):
        batch = np.asarray(batch, dtype=np.float32)
        self.batches.append(len(batch))
        margin = 20 * (batch[:, 0, 30:40, 5:25].mean(axis=(1, 2)) - 0.5)
        return {"logits": np.stack([np.zeros_like(margin), margin], axis=1)}


def film() -> np.ndarray:
    image = np.full((S, S), 0.3, np.float32)
    image[30:40, 5:25] = 0.9  # an "opacity" in the patient's right lower zone
    return image


def test_occlusion_fills_only_the_masks():
    masks = zones_from_mask(two_lungs()).masks
    out = occluded(film(), masks, "grey")
    assert out.shape == (6, S, S)
    for hidden, mask in zip(out, masks):
        assert np.allclose(hidden[mask], 0.5) and np.array_equal(hidden[~mask], film()[~mask])
    with pytest.raises(ValueError, match="unknown fill"):
        occluded(film(), masks, "paint")
    assert set(FILLS) == {"blur", "lung_mean", "grey", "black", "reference"}


def test_the_reference_fill_paints_normal_lung_texture_at_the_films_exposure():
    from pneumolib.explain.reference_film import matched_reference, most_typical, reference_film

    reference = reference_film(S)
    assert reference.shape == (S, S) and reference.std() > 0.05  # a real film, not a flat patch
    dark, bright = np.full((S, S), 0.2, np.float32), np.full((S, S), 0.6, np.float32)
    dark[:5], bright[:5] = 0.3, 0.7  # a little spread to match
    for image in (dark, bright):
        filled = matched_reference(image)
        assert filled.mean() == pytest.approx(image.mean(), abs=0.02)
        assert np.corrcoef(filled.ravel(), reference.ravel())[0, 1] > 0.99  # the reference's texture
    masks = zones_from_mask(two_lungs()).masks
    hidden = occluded(film(), masks, "reference")
    assert np.array_equal(hidden[0][~masks[0]], film()[~masks[0]])
    with pytest.raises(ValueError, match="square"):
        matched_reference(np.zeros((S, S + 1), np.float32))
    stack = np.stack([np.full((S, S), v, np.uint8) for v in (10, 120, 130, 250)])
    assert most_typical(stack) in {1, 2}  # nearest the mean (127.5)


def test_the_zone_the_model_reads_comes_first():
    engine = BrightnessEngine()
    zones = zones_from_mask(two_lungs())
    heat = np.zeros((S, S))
    heat[30:40, 5:25] = 1
    report = zone_report(engine, film(), zones, "lung_mean", heatmap=heat)
    assert engine.batches == [1] * 7  # the film and its six occlusions, one image per pass
    top = report.contributions[0]
    assert top.zone == "right lower" and top.contribution > 0.5 and top.heat_share == pytest.approx(1.0)
    assert all(abs(c.contribution) < 1e-6 for c in report.contributions[1:])
    assert report.mask_source == "mixed" and top.source == "segmented"
    assert report.sentence(True).startswith("The call rests mostly on the right lower zone")
    as_json = report.as_dict(True)
    assert [z["zone"] for z in as_json["zones"]][0] == "right lower" and as_json["fill"] == "lung_mean"


def test_fill_choice_prefers_the_fill_that_moves_normal_films_least():
    engine = BrightnessEngine()
    normal = np.full((S, S), 0.3, np.float32)
    zones = zones_from_mask(two_lungs())
    table = fill_neutrality(engine, [normal, normal], [zones, zones])
    assert list(table["fill"]) == list(FILLS) and (table["films"] == 2).all()
    # grey (0.5) brightens the read zone of a dark film: evidence added; lung_mean adds none
    assert table.set_index("fill").loc["grey", "mean_abs_change"] > table.set_index("fill").loc["lung_mean", "mean_abs_change"]
    assert choose_fill(table) in {"lung_mean", "blur"}
    tie = pd.DataFrame({"fill": ["grey", "blur"], "mean_abs_logit_change": [0.1, 0.1]})
    assert choose_fill(tie) == "blur"  # a tie goes to the earlier fill in FILLS


def test_fill_choice_reads_logits_not_the_flat_end_of_the_sigmoid():
    """A film called normal with conviction (P about 3e-4): black moves its logit twice as far as the
    lung mean does, yet in probability units it looks the more neutral. The rule must not be fooled."""
    engine = BrightnessEngine()
    normal = np.full((S, S), 0.1, np.float32)
    normal[16:46, 35:55] = 0.2  # the other lung brighter: the lung mean (0.15) lies above the read zone
    table = fill_neutrality(engine, [normal], [zones_from_mask(two_lungs())], fills=("lung_mean", "black"))
    by_fill = table.set_index("fill")
    assert by_fill.loc["black", "mean_abs_change"] < by_fill.loc["lung_mean", "mean_abs_change"]
    assert by_fill.loc["black", "mean_abs_logit_change"] > by_fill.loc["lung_mean", "mean_abs_logit_change"]
    assert by_fill.loc["black", "mean_logit_change"] < 0 < by_fill.loc["lung_mean", "mean_logit_change"]
    assert choose_fill(table) == "lung_mean"


class SpareCore:
    """A lent core nobody asks back; counts how often it is asked and given back."""

    def __init__(self) -> None:
        self.kept = self.returned = 0

    def keep(self) -> bool:
        self.kept += 1
        return True

    def give_back(self) -> None:
        self.returned += 1


def test_a_lent_core_scores_the_same_zones():
    engine = BrightnessEngine()
    zones = zones_from_mask(two_lungs())
    one = zone_report(engine, film(), zones, "lung_mean", probability=0.5)
    lent = SpareCore()
    two = zone_report(engine, film(), zones, "lung_mean", probability=0.5, lent=lent)
    assert engine.batches == [1] * 12 and lent.returned == 1
    assert [(c.zone, c.contribution) for c in one.contributions] == [(c.zone, c.contribution) for c in two.contributions]


def test_hottest_and_random_blobs_have_the_asked_area():
    rng = np.random.default_rng(0)
    heat = np.arange(S * S, dtype=float).reshape(S, S)
    assert hottest(heat, 10).sum() == 10 and hottest(heat, 10)[-1, -10:].all()
    lungs = two_lungs().mask
    blob = random_blob(lungs, 50, rng)
    assert blob.sum() == 50 and not (blob & ~lungs).any()


def test_faithfulness_tells_a_faithful_map_from_an_unfaithful_one():
    engine = BrightnessEngine()
    zones = zones_from_mask(two_lungs())
    image = (film() * 255).astype(np.uint8)
    faithful = np.zeros((S, S), np.float32)
    faithful[30:40, 5:25] = 1.0
    unfaithful = np.zeros((S, S), np.float32)
    unfaithful[16:26, 35:55] = 1.0  # heat on the other lung
    study = faithfulness_study(engine, np.stack([image, image]), np.stack([faithful, unfaithful]), [zones, zones],
                               ["bacteria", "virus"], fill="lung_mean", progress=False)
    table = study.table
    assert table.loc[0, "drop_heat_0.10"] > table.loc[1, "drop_heat_0.10"]
    assert list(table["hot_side"]) == ["right", "left"] and list(table["decisive_side"]) == ["right", "right"]
    assert study.laterality_agreement() == 0.5
    assert (table["top_zone"] == "right lower").all()
    curve = study.deletion_curve()
    assert list(curve["share_of_lung_area"]) == list(DELETION_SHARES)
    assert study.top_zones().loc["bacteria", "right lower"] == 1.0
    assert (table["side_drop right"] > table["side_drop left"]).all()  # the film's bright evidence is on the right
    sides = study.laterality_sides()
    assert sides.loc["right", "right"] == 1 and sides.loc["left", "right"] == 1 and sides["left"].sum() == 0


def test_laterality_is_compared_with_a_uniform_map_that_names_the_larger_lung():
    """Hiding the larger lung tends to matter more, so a uniform map is the baseline, not a coin toss."""
    left, right = np.zeros((S, S), bool), np.zeros((S, S), bool)
    left[10:40, 5:25] = True  # the patient's right lung, with the film's opacity in it
    right[5:55, 32:58] = True  # the patient's left lung, drawn larger
    zones = zones_from_mask(LungMask(left | right, ("segmented", "segmented"), (left, right)))
    image = (film() * 255).astype(np.uint8)
    on_opacity = np.zeros((S, S), np.float32)
    on_opacity[30:40, 5:25] = 1.0
    study = faithfulness_study(BrightnessEngine(), np.stack([image]), np.stack([on_opacity]), [zones], ["bacteria"],
                               fill="lung_mean", progress=False)
    assert list(study.table["larger_side"]) == ["left"] and list(study.table["decisive_side"]) == ["right"]
    assert study.laterality_agreement() == 1.0 and study.uniform_laterality() == 0.0


def test_laterality_by_gap_keeps_only_films_whose_lungs_differ_enough():
    from pneumolib.explain.faithfulness import FaithfulnessStudy

    table = pd.DataFrame({"hot_side": ["right", "left", "left", "right"],
                          "decisive_side": ["right", "right", "left", "left"],
                          "side_drop right": [0.30, 0.02, 0.00, 0.10], "side_drop left": [0.00, 0.00, 0.40, 0.12]})
    by_gap = FaithfulnessStudy(table, "blur").laterality_by_gap([0.0, 0.05, 0.35, 0.5]).set_index("least_gap")
    assert list(by_gap["films"]) == [4, 2, 1, 0]
    assert by_gap.loc[0.0, "agreement"] == 0.5 and by_gap.loc[0.05, "agreement"] == 1.0  # the two near ties drop out
    assert np.isnan(by_gap.loc[0.5, "agreement"])


def test_the_zone_figures_show_every_zone():
    from pneumolib.explain.zone_figures import deletion_figure, top_zone_figure, zone_figure

    engine = BrightnessEngine()
    zones = zones_from_mask(two_lungs())
    heat = np.zeros((S, S), np.float32)
    heat[30:40, 5:25] = 1
    report = zone_report(engine, film(), zones, "lung_mean", heatmap=heat)
    figure = zone_figure((film() * 255).astype(np.uint8), heat, zones, report, True)
    bars = figure.axes[1]
    assert [t.get_text() for t in bars.get_yticklabels()] == list(ZONE_NAMES)[::-1]
    assert "right lower" in bars.get_title()
    image = (film() * 255).astype(np.uint8)
    study = faithfulness_study(engine, np.stack([image] * 2), np.stack([heat] * 2), [zones] * 2,
                               ["bacteria", "normal"], fill="lung_mean", progress=False)
    curves = deletion_figure({"new": study}).axes[0]
    assert len(curves.lines) == 3  # hottest first, random blobs, the zero line
    grid = top_zone_figure(study).axes[0]
    assert [t.get_text() for t in grid.get_yticklabels()] == ["bacteria (1)", "normal (1)"]


def test_the_faithfulness_sentences_follow_the_numbers():
    from pneumolib.explain.describe import describe_faithfulness
    from pneumolib.explain.faithfulness import FaithfulnessStudy

    def study(heat_drop: float, random_drop: float, hot: list[str], decisive: list[str]) -> FaithfulnessStudy:
        rows = [{"group": "bacteria", "hot_side": h, "decisive_side": d, "larger_side": "right", "top_zone": "right lower",
                 **{f"drop_heat_{s:.2f}": heat_drop for s in DELETION_SHARES},
                 **{f"drop_random_{s:.2f}": random_drop for s in DELETION_SHARES}} for h, d in zip(hot, decisive)]
        return FaithfulnessStudy(pd.DataFrame(rows), "blur")

    words = describe_faithfulness(study(0.2, 0.05, ["right", "left"], ["right", "right"]))
    assert "**2 films called pneumonia**" in words and "**4.0 times**" in words and "**50%**" in words
    assert "a uniform map, whose hotter lung is simply the larger one, scores 100% (**less than a uniform map**)" in words
    same = describe_faithfulness(study(0.2, 0.05, ["right", "left"], ["right", "left"]))
    assert "scores 50% (**about the same as a uniform map**" in describe_faithfulness(
        study(0.2, 0.05, ["right", "right"], ["right", "left"])) and "says more than the lungs' sizes do" in same
    assert "bacteria (2 films): the call rests most often on the **right lower** zone (100% of them)" in words
    assert "does **not** lower it" in describe_faithfulness(study(-0.01, 0.02, ["left"], ["left"]))
    raised = describe_faithfulness(study(0.004, -0.018, ["left"], ["left"]))
    assert "does not lower it at all (it moves by +0.018), so no ratio is defined" in raised


class GpuBrightnessEngine(BrightnessEngine):
    """The same model, as if on a GPU."""

    def describe(self):
        return {"engine": self.name, "device": "cuda:0"}


def test_on_a_gpu_the_zones_go_as_one_batch():
    zones = zones_from_mask(two_lungs())
    cpu, gpu = BrightnessEngine(), GpuBrightnessEngine()
    assert cpu.runs_on_cpu and not gpu.runs_on_cpu
    on_cpu = zone_report(cpu, film(), zones, "lung_mean")
    on_gpu = zone_report(gpu, film(), zones, "lung_mean")
    reused = zone_report(gpu, film(), zones, "lung_mean", probability=on_gpu.probability)
    assert cpu.batches == [1] * 7 and gpu.batches == [7, 6]
    assert [c.as_dict() for c in on_gpu.contributions] == [c.as_dict() for c in on_cpu.contributions]
    assert [c.as_dict() for c in reused.contributions] == [c.as_dict() for c in on_gpu.contributions]


def test_on_a_gpu_a_lent_core_is_given_back_unused():
    gpu, offer = GpuBrightnessEngine(), SpareCore()
    zone_report(gpu, film(), zones_from_mask(two_lungs()), "lung_mean", probability=0.5, lent=offer)
    assert gpu.batches == [6] and offer.kept == 0 and offer.returned == 1


def test_a_known_probability_saves_the_films_own_pass():
    engine = BrightnessEngine()
    zones = zones_from_mask(two_lungs())
    full = zone_report(engine, film(), zones, "lung_mean")
    reused = zone_report(engine, film(), zones, "lung_mean", probability=full.probability)
    assert engine.batches == [1] * 13  # seven passes, then six
    assert [c.as_dict() for c in reused.contributions] == [c.as_dict() for c in full.contributions]


def test_the_fill_comes_from_the_checkpoints_explanation_settings():
    from pneumolib.explain.occlusion import DEFAULT_FILL, occlusion_fill_of

    assert occlusion_fill_of({"explanation": {"occlusion_fill": "reference"}}) == "reference"
    assert occlusion_fill_of({}) == occlusion_fill_of({"explanation": None}) == DEFAULT_FILL


def test_the_hotter_side_is_the_lung_holding_more_heat():
    from pneumolib.explain.faithfulness import hotter_side

    right, left = np.zeros((8, 8), bool), np.zeros((8, 8), bool)
    right[:, :4], left[:, 4:] = True, True  # the patient's right lung is the image-left one
    heat = np.zeros((8, 8))
    heat[2, 6] = 1.0
    assert hotter_side(heat, [right, left]) == 1
    heat[3, 1] = 2.0
    assert hotter_side(heat, [right, left]) == 0


def test_a_zone_weighted_map_gives_each_zone_its_share_of_the_contributions():
    zones = zones_from_mask(two_lungs())
    rng = np.random.default_rng(0)
    heat = rng.uniform(0.1, 1.0, (S, S))
    heat[0:5, 0:5] = 3.0  # heat outside the lungs, the hottest of the film
    contributions = np.array([0.02, -0.05, 0.06, 0.0, 0.02, 0.0])  # a negative drop counts as none
    weighted = zone_weighted(heat, zones, contributions)
    lungs = zones.masks.any(axis=0)
    assert weighted.dtype == np.float32 and weighted.max() == pytest.approx(1.0)
    zone_heat = np.array([weighted[m].sum() for m in zones.masks])
    np.testing.assert_allclose(zone_heat / zone_heat.sum(), [0.2, 0.0, 0.6, 0.0, 0.2, 0.0], atol=1e-6)
    # the lungs keep their total against the rest of the film, so the share inside the lungs is unchanged
    assert weighted[lungs].sum() / weighted.sum() == pytest.approx(heat[lungs].sum() / heat.sum())
    upper = zones.masks[0]  # Grad-CAM's pattern inside a zone is kept
    np.testing.assert_allclose(weighted[upper] / weighted[upper].sum(), heat[upper] / heat[upper].sum(), rtol=1e-5)
    assert hotter_side(weighted, [zones.side_mask(s) for s in SIDES]) == 0  # right: 0.8 of the drops


def test_zone_weighting_leaves_a_map_alone_when_no_zone_lowers_the_probability():
    zones = zones_from_mask(two_lungs())
    heat = np.zeros((S, S))
    heat[16:26, 35:55] = 2.0
    np.testing.assert_allclose(zone_weighted(heat, zones, [-0.01, 0, 0, 0, -0.2, 0]), heat / 2.0)
    cold = zone_weighted(np.zeros((S, S)), zones, [0, 0, 1.0, 0, 0, 0])  # no heat on the lungs at all
    lower = zones.masks[ZONE_NAMES.index("right lower")]
    assert cold[lower].min() == cold.max() == 1.0 and cold[~lower].max() == 0.0
    with pytest.raises(ValueError, match="6 zone contributions"):
        zone_weighted(heat, zones, [0.1, 0.2])
    with pytest.raises(ValueError, match="differ in size"):
        zone_weighted(np.zeros((S + 1, S)), zones, [0.1] * 6)
    with pytest.raises(ValueError, match="unknown heatmap style"):
        check_map_style("gradcam++")


def test_zone_weighting_moves_an_unfaithful_maps_heat_to_the_zone_the_model_reads():
    engine = BrightnessEngine()
    zones = zones_from_mask(two_lungs())
    image = (film() * 255).astype(np.uint8)
    unfaithful = np.full((S, S), 0.05, np.float32)
    unfaithful[16:26, 35:55] = 1.0  # heat on the other lung
    _, drops = zone_drops(engine, image / 255.0, zones, fill="lung_mean")
    assert engine.batches == [1] * 7 and int(np.argmax(drops)) == ZONE_NAMES.index("right lower")
    weighted = zone_weighted_maps(engine, image[None], unfaithful[None], [zones], fill="lung_mean", progress=False)
    assert weighted.shape == (1, S, S)
    assert heat_per_zone(weighted[0], zones)[ZONE_NAMES.index("right lower")] > 0.9 * heat_per_zone(
        unfaithful, zones).sum()
    study = faithfulness_study(engine, np.stack([image, image]), np.stack([unfaithful, weighted[0]]), [zones, zones],
                               ["bacteria", "bacteria"], fill="lung_mean", progress=False)
    assert list(study.table["hot_side"]) == ["left", "right"]  # the weighted map points at the lung the model reads
    assert study.table.loc[1, "drop_heat_0.10"] > study.table.loc[0, "drop_heat_0.10"]


def test_the_map_rule_names_both_maps_and_every_failed_condition(capsys):
    def summary(laterality: float, drop: float) -> dict:
        return {"laterality_agreement": laterality, "lung_share_called_pneumonia": 0.6,
                "deletion_curve": [{"share_of_lung_area": 0.1, "heatmap": drop}]}

    adopt, decision = prefers_zone_weighting(summary(0.65, 0.002), summary(0.90, 0.010), 0.2)
    assert adopt and decision.startswith("adopt zone_weighted maps") and decision in capsys.readouterr().out
    adopt, decision = replaces_map(summary(0.65, 0.002), summary(0.68, 0.001), 0.7, "cam", "zone_weighted",
                                   verbose=False)
    assert not adopt and decision.startswith("keep cam maps")
    assert decision.count(";") == 3  # laterality, deletion and randomisation all named
    assert capsys.readouterr().out == ""


def test_a_zone_weighted_study_reweights_only_the_films_called_pneumonia():
    from pneumolib.explain.study import GradCamStudy, film_lungs
    from pneumolib.explain.zone_weighting import zone_weighted_study

    image = (film() * 255).astype(np.uint8)
    maps = np.full((2, S, S), 0.05, np.float16)
    maps[:, 16:26, 35:55] = 1.0
    table = pd.DataFrame({"path": ["a", "b"], "label": [1, 0], "prob": [0.9, 0.1], "predicted": [1, 0],
                          "outcome": ["TP", "TN"], "inside_share": [0.5, 0.5], "mask_fraction": [0.3, 0.3]})
    study = GradCamStudy(table, maps, 0.5, "screening", 1.0, images=np.stack([image, image]))
    weighted = zone_weighted_study(BrightnessEngine(), study, lambda path: image, fill="lung_mean", progress=False)
    assert np.array_equal(weighted.heatmaps[1], maps[1]) and not np.array_equal(weighted.heatmaps[0], maps[0])
    assert weighted.table.loc[1, "inside_share"] == 0.5 and study.table.loc[0, "inside_share"] == 0.5  # a copy
    expected = focus_share(weighted.heatmap(0), film_lungs(lambda path: image, "a").mask)
    assert weighted.table.loc[0, "inside_share"] == pytest.approx(expected, abs=1e-3)  # the map is kept in float16
