"""The report dict, its Markdown renderings, the marked sections, and the figures."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score

from pneumolib.deploy.decisions import decide
from pneumolib.evaluation import figures
from pneumolib.evaluation.report import build_report, load_report, write_report
from pneumolib.reporting.markdown import render_model_card_results, render_readme_results
from pneumolib.reporting.markers import (
    MarkerError,
    read_marked_section,
    replace_marked_section,
    update_marked_file,
)


def _predictions(n: int, n_patients: int, seed: int, prefix: str, scale: float = 3.0) -> pd.DataFrame:
    """Predictions of an over-confident model (logits ``scale`` times too large)."""
    rng = np.random.default_rng(seed)
    patient = rng.integers(0, n_patients, n)
    true_logit = rng.normal(0.0, 2.5, n_patients)  # a patient's real log-odds of pneumonia
    label = (rng.random(n_patients) < 1 / (1 + np.exp(-true_logit))).astype(int)[patient]
    logit = scale * (true_logit[patient] + rng.normal(0.0, 0.3, n))
    subtype = np.where(label == 1, rng.choice(["bacteria", "virus"], n), None)
    return pd.DataFrame(
        {
            "path": [f"{prefix}/img{i}.jpeg" for i in range(n)],
            "label": label,
            "logit": logit,
            "prob": 1 / (1 + np.exp(-logit)),
            "patient_id": [f"{prefix}{p}" for p in patient],
            "subtype": subtype,
        }
    )


@pytest.fixture(scope="module")
def val() -> pd.DataFrame:
    return _predictions(300, 200, seed=0, prefix="v")


@pytest.fixture(scope="module")
def test_df() -> pd.DataFrame:
    return _predictions(400, 250, seed=1, prefix="t")


def _decisions(val: pd.DataFrame, calibrate: bool = True) -> dict:
    """What ``finalize`` stores, decided on val only (the one place decisions are made)."""
    return decide(val["logit"].to_numpy(), val["label"].to_numpy(), "validation", calibrate=calibrate)


@pytest.fixture(scope="module")
def report(val, test_df) -> dict:
    return build_report(val, test_df, _decisions(val), n_resamples=300, seed=0)


def test_report_is_strict_json_and_uses_validation_for_choices(report, val, test_df):
    json.dumps(report, allow_nan=False)
    assert report["policy"]["threshold_scale"] == "calibrated_probability"
    assert report["calibration"]["temperature"] > 1.5  # the toy model is over-confident
    cal = report["calibration"]["test"]
    assert cal["after"]["ece"] < cal["before"]["ece"]
    screening = report["operating_points"]["screening"]
    assert screening["val_sensitivity"] >= 0.99
    auc = report["test"]["roc_auc"]
    assert auc["estimate"] == pytest.approx(roc_auc_score(test_df["label"], test_df["logit"]))
    assert auc["lower"] < auc["estimate"] < auc["upper"]
    counts = report["test"]["at"]["balanced"]["counts"]
    assert sum(counts[k] for k in ("tp", "fp", "tn", "fn")) == len(test_df)
    assert report["data"]["test"]["patients_shared_with_validation"] == 0


def test_test_labels_do_not_move_thresholds_or_temperature(report, val, test_df):
    shuffled = test_df.assign(label=test_df["label"].sample(frac=1, random_state=0).to_numpy())
    other = build_report(val, shuffled, _decisions(val), n_resamples=50, seed=0)
    assert other["calibration"]["temperature"] == report["calibration"]["temperature"]
    assert other["operating_points"] == report["operating_points"]
    assert other["test"]["roc_auc"]["estimate"] != report["test"]["roc_auc"]["estimate"]


def test_without_calibration_thresholds_are_on_raw_probabilities(val, test_df):
    raw = build_report(val, test_df, _decisions(val, calibrate=False), n_resamples=50)
    assert raw["calibration"]["temperature"] == 1.0
    assert raw["policy"]["threshold_scale"] == "raw_probability"
    assert raw["operating_points"]["argmax"]["logit_threshold"] == 0.0


def test_missing_columns_and_patients_are_errors(val, test_df):
    with pytest.raises(ValueError, match="patient_id"):
        build_report(val, test_df.drop(columns="patient_id"), _decisions(val), n_resamples=10)
    with pytest.raises(ValueError, match="patient_id"):
        build_report(val, test_df.assign(patient_id=None), _decisions(val), n_resamples=10)


def test_write_and_load_round_trip(report, tmp_path):
    path = write_report(report, tmp_path / "nested" / "report.json")
    assert load_report(path) == report


def test_renderings_quote_the_report(report):
    readme = render_readme_results(report)
    card = render_model_card_results(report)
    auc = report["test"]["roc_auc"]
    auc_text = f"{auc['estimate']:.3f} ({auc['lower']:.3f}–{auc['upper']:.3f})"
    sens = report["test"]["at"]["screening"]["metrics"]["sensitivity"]
    low, high = 100 * sens["lower"], 100 * sens["upper"]
    sens_text = f"{100 * sens['estimate']:.1f} % ({low:.1f}–{high:.1f})"
    for text in (readme, card):
        assert auc_text in text and sens_text in text
        assert "Kermany et al. 2018" in text and "93.2 %" in text and "0.968" in text
        assert "Original project" in text and "81.25 %" in text and "≈0.92" in text
    assert f"T = {report['calibration']['temperature']:.3f}" in card
    assert "virus" in card and "bacteria" in card


def test_rendering_survives_undefined_values(val, test_df):
    no_virus = test_df[test_df["subtype"] != "virus"]
    degenerate = build_report(val, no_virus, _decisions(val), n_resamples=20)
    assert degenerate["test"]["subtype_sensitivity"]["virus"]["n_images"] == 0
    assert "| virus | 0 | 0 | n/a |" in render_model_card_results(degenerate)


DOCUMENT = """# pneumolib

Intro written by hand.

<!-- results:readme:start -->
old numbers
<!-- results:readme:end -->

Outro written by hand.
"""


def test_marked_section_round_trip(report):
    body = render_readme_results(report)
    once = replace_marked_section(DOCUMENT, "readme", body)
    assert read_marked_section(once, "readme") == body.strip("\n")
    assert "old numbers" not in once
    assert once.startswith("# pneumolib\n\nIntro written by hand.\n\n<!-- results:readme:start -->\n")
    assert once.endswith("<!-- results:readme:end -->\n\nOutro written by hand.\n")
    assert replace_marked_section(once, "readme", body) == once


@pytest.mark.parametrize(
    "text",
    [
        "no markers at all",
        "<!-- results:readme:start --> only a start",
        "<!-- results:readme:end --> x <!-- results:readme:start -->",
        "<!-- results:readme:start --><!-- results:readme:start --><!-- results:readme:end -->",
        DOCUMENT.replace("readme", "model_card"),
    ],
)
def test_marker_problems_are_errors(text):
    with pytest.raises(MarkerError):
        replace_marked_section(text, "readme", "body")


def test_update_marked_file(tmp_path):
    path = tmp_path / "README.md"
    path.write_text(DOCUMENT, encoding="utf-8")
    assert update_marked_file(path, "readme", "| a | b |") is True
    assert update_marked_file(path, "readme", "| a | b |") is False
    assert read_marked_section(path.read_text(encoding="utf-8"), "readme") == "| a | b |"


# --- figures --------------------------------------------------------------------------


def test_curves_confusion_and_reliability_return_figures(report, test_df):
    y = test_df["label"].to_numpy()
    prob = test_df["prob"].to_numpy()
    points = {name: op["threshold"] for name, op in report["operating_points"].items()}
    drawn = [
        figures.plot_roc(y, prob, points),
        figures.plot_precision_recall(y, prob, points),
        figures.plot_confusion_matrices(y, prob, points),
        figures.plot_confusion_matrices(y, prob, 0.5),
        figures.plot_reliability(y, prob, 1 / (1 + np.exp(-test_df["logit"].to_numpy() / 3))),
        figures.plot_reliability(y, prob, mode="positive"),
    ]
    for fig in drawn:
        assert isinstance(fig, Figure)
        fig.canvas.draw()
    assert len(drawn[2].axes) == len(points)


def test_error_gallery_picks_most_confident_errors():
    df = pd.DataFrame(
        {
            "path": [f"img{i}" for i in range(6)],
            "label": [1, 1, 1, 0, 0, 0],
            "prob": [0.05, 0.4, 0.9, 0.99, 0.7, 0.1],
            "subtype": ["virus", "bacteria", "virus", None, None, None],
        }
    )
    fn, fp = figures.most_confident_errors(df, 0.5, n=5)
    assert fn["path"].tolist() == ["img0", "img1"]
    assert fp["path"].tolist() == ["img3", "img4"]

    seen: list[str] = []

    def load(path: str) -> np.ndarray:
        seen.append(path)
        return np.full((8, 8), len(seen), dtype=np.uint8)

    fig = figures.plot_error_gallery(df, 0.5, load, n=3)
    assert isinstance(fig, Figure) and sorted(seen) == ["img0", "img1", "img3", "img4"]
    by_path = {p: np.zeros((4, 4)) for p in df["path"]}
    by_row = [np.zeros((4, 4)) for _ in range(len(df))]
    for source in (by_path, by_row):
        figures.plot_error_gallery(df, 0.5, source, n=2).canvas.draw()
    no_errors = figures.plot_error_gallery(df.assign(label=[0, 0, 1, 1, 1, 0]), 0.5, load, n=2)
    assert isinstance(no_errors, Figure)


def test_targets_are_marked_met_or_missed_from_the_report():
    from pneumolib.reporting.markdown import render_targets, render_threshold_transfer

    def interval(value):
        return {"estimate": value, "lower": value, "upper": value}

    report = {
        "test": {"roc_auc": interval(0.99), "at": {
            "balanced": {"metrics": {"sensitivity": interval(0.98), "specificity": interval(0.85), "accuracy": interval(0.95)}},
            "screening": {"metrics": {"sensitivity": interval(0.995), "specificity": interval(0.86)}}}},
        "calibration": {"test": {"after": {"ece": 0.07}}},
        "operating_points": {"screening": {"val_sensitivity": 0.99, "val_specificity": 0.97},
                             "balanced": {"val_sensitivity": 0.98, "val_specificity": 0.99}},
    }
    table = render_targets(report)
    assert "| ROC AUC | >= 0.99 | 0.990 | met |" in table
    assert "| balanced: specificity | >= 0.93 | 0.850 | **missed** |" in table
    assert "| ECE after scaling | <= 0.03 | 0.070 | **missed** |" in table
    report["test"]["roc_auc"] = interval(0.9896)
    assert "| ROC AUC | >= 0.99 | 0.9896 | **missed** |" in render_targets(report)
    sentence = render_threshold_transfer(report)
    assert "*screening*: val sensitivity 99.0% / specificity 97.0%, test 99.5% / 86.0%" in sentence


def test_the_heatmap_section_gives_no_ratio_where_random_hiding_raises_the_probability():
    from pneumolib.reporting.heatmap_card import render_heatmap_section

    summary = {"films": 10, "films_called_pneumonia": 6, "feature_grid": [14, 14], "operating_point": "screening",
               "occlusion_fill": "grey", "lung_share_called_pneumonia": 0.5, "uniform_share_called_pneumonia": 0.2,
               "laterality_agreement": 0.6, "group_counts": {},
               "deletion_curve": [{"share_of_lung_area": 0.1, "heatmap": 0.04, "random": 0.01},
                                  {"share_of_lung_area": 0.2, "heatmap": 0.02, "random": -0.01}]}
    text = render_heatmap_section(summary)
    assert "| 10% | 0.0400 | 0.0100 | 4.00 |" in text
    assert "| 20% | 0.0200 | -0.0100 | n/a |" in text and "no ratio is defined" in text
    summary["deletion_curve"] = summary["deletion_curve"][:1]
    assert "no ratio is defined" not in render_heatmap_section(summary)
    assert "occlusion names it" not in text  # a report from before the sides were measured
    summary["laterality_sides"] = {"right": {"right": 3, "left": 1}, "left": {"right": 2, "left": 0}}
    summary["laterality_by_gap"] = [{"least_gap": 0.0, "films": 6, "agreement": 0.5},
                                    {"least_gap": 0.05, "films": 2, "agreement": 1.0},
                                    {"least_gap": 0.2, "films": 0, "agreement": float("nan")}]
    detail = render_heatmap_section(summary)
    assert "more heat on the right lung in 4 of 6 films, occlusion names it in 5" in detail
    assert "50 % is not chance here" in detail and "chance: 50 %" not in detail  # no baseline in an older report
    summary["uniform_laterality_agreement"] = 0.55
    assert "in **60.0%** of those films (a uniform map, which names the larger lung: 55.0%)" in render_heatmap_section(summary)
    assert "50% of 6 at a gap of 0.00 or more, 100% of 2 at a gap of 0.05 or more." in detail


def test_the_committed_documents_are_what_the_bundled_models_report_renders(tmp_path):
    """README and model card cannot drift from the shipped model: regenerating them changes nothing."""
    import shutil
    from pathlib import Path

    from pneumolib import project_paths
    from pneumolib.checkpoint import BUNDLED_CHECKPOINT
    from pneumolib.config import checkout_root
    from pneumolib.reporting.documents import update_documents_from_report

    root = checkout_root()
    if root is None:
        pytest.skip("needs a clone: the documents are the repository's")
    copies = [shutil.copy(root / name, tmp_path / name.name)
              for name in (project_paths.README, project_paths.MODEL_CARD)]
    update_documents_from_report(BUNDLED_CHECKPOINT, *copies, selection_record=root / project_paths.SELECTION_RECORD,
                                 test_log=root / project_paths.TEST_LOG,
                                 reencoding_record=root / project_paths.REENCODING_RECORD)
    for copy, name in zip(copies, (project_paths.README, project_paths.MODEL_CARD)):
        assert Path(copy).read_text() == (root / name).read_text(), f"run `python -m pneumolib docs`: {name}"
