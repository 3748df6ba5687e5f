"""The model card's hand-written heatmap paragraphs quote val figures: they must be the recorded ones.

The generated sections are checked by regenerating them (``test_evaluation_report``); these
paragraphs explain them with figures from the experiment records, which nothing regenerates.
"""

from __future__ import annotations

import json

import pytest

from pneumolib.config import checkout_root

RECORD = "docs/experiments/2026-12-04_zone_weighted_maps"


def percent(value: float) -> str:
    return f"{100 * value:.1f} %"


@pytest.fixture(scope="module")
def card_and_root():
    root = checkout_root()
    if root is None:
        pytest.skip("needs a clone: the model card and the records are the repository's")
    return (root / "MODEL_CARD.md").read_text(encoding="utf-8"), root


def test_the_uniform_map_paragraph_quotes_the_recorded_val_figures(card_and_root) -> None:
    card, root = card_and_root
    val = json.loads((root / RECORD / "uniform_baseline_val.json").read_text(encoding="utf-8"))["bundled"]
    paragraph = card.split("**Against a uniform map, not a coin toss.**")[1].split("\n\n")[0]
    assert f"agrees with occlusion in {percent(val['uniform_laterality_agreement'])} of the same val films" in paragraph
    assert f"(the served map: {percent(val['laterality_agreement'])};" in paragraph


def test_where_map_and_occlusion_part_ways_quotes_the_recorded_val_figures(card_and_root) -> None:
    card, root = card_and_root
    val = json.loads((root / RECORD / "laterality_val.json").read_text(encoding="utf-8"))["bundled"]
    paragraph = " ".join(card.split("**Where the served map and occlusion part ways**")[1].split("\n\n")[0].split())
    sides, films = val["laterality_sides"], val["films_called_pneumonia"]
    map_left = sides["left"]["right"] + sides["left"]["left"]
    occlusion_left = sides["right"]["left"] + sides["left"]["left"]
    disagree = sides["left"]["right"] + sides["right"]["left"]
    expected = f"left lung in {map_left} of the {films} films, whole-lung occlusion names the left lung in {occlusion_left}"
    assert expected in paragraph
    assert f"{sides['left']['right']} of the {disagree} disagreements" in paragraph
    by_gap = {row["least_gap"]: row for row in val["laterality_by_gap"]}
    for gap in (0.05, 0.2):
        assert f"{percent(by_gap[gap]['agreement'])} ({by_gap[gap]['films']} films)" in paragraph
