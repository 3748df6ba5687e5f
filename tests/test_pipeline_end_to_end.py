"""Train -> finalize -> evaluate -> documents, on the fixture set, through the public functions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pneumolib.checkpoint import read_checkpoint
from pneumolib.data.inputs.shifts import ACQUISITION_SHIFTS, STRESS_SHIFTS
from pneumolib.deploy.finalize import finalize_checkpoint
from pneumolib.evaluation.report import write_report
from pneumolib.evaluation.run import evaluate_checkpoint, val_test_gap
from pneumolib.evaluation.selection import compare_candidates, run_candidates
from pneumolib.evaluation.test_access import read_test_log
from pneumolib.gate.mahalanobis import MahalanobisGate
from pneumolib.models import ARCHITECTURES
from pneumolib.reporting.documents import update_documents
from pneumolib.training.trainer import TrainConfig, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(fixture_build, tmp_path_factory):
    out = tmp_path_factory.mktemp("pipeline")
    return train(TrainConfig(image_size=48, batch_size=8, epochs=2), fixture_build.manifest, fixture_build.root,
                 out / "train", progress=False)


@pytest.fixture(scope="module")
def finalized(trained, fixture_build):
    final = trained.best_checkpoint.parent.parent / "model.pt"
    finalize_checkpoint(trained.best_checkpoint, fixture_build.manifest, fixture_build.root, final, progress=False)
    return final


def test_selection_compares_the_run_on_val_and_stress_val(trained, fixture_build, capsys):
    candidates = run_candidates(trained.best_checkpoint.parent)
    assert [p.name for p in candidates if p.parent.name == "epochs"] == ["epoch_01.pt", "epoch_02.pt"]
    from pneumolib.checkpoint import BUNDLED_CHECKPOINT

    selection = compare_candidates(candidates, fixture_build.manifest, fixture_build.root, progress=False,
                                   references=[BUNDLED_CHECKPOINT, candidates[0]], reference_names=["shipped", "again"])
    assert selection.chosen.path in {str(p) for p in candidates}
    out = capsys.readouterr().out
    assert "selected" in out and "reference shipped takes 224 px inputs, the candidates 48 px: not compared" in out
    table = selection.table.set_index("candidate")
    assert "shipped" not in table.index and table.loc["again", "reference"] and not table.loc["again", "eligible"]
    assert set(selection.chosen.stress["shift"]) == {"clean", *STRESS_SHIFTS}
    assert selection.table["same_split"].all() and selection.table["eligible"].any()
    lung = selection.table["lung_share"].dropna()
    assert ((lung >= 0) & (lung <= 1)).all()
    measured = selection.table.dropna(subset=["lung_share"])  # laterality is measured on the same films
    assert measured["laterality"].between(0, 1).all()


def test_an_ensemble_of_the_run_finalizes_like_one_network(trained, fixture_build):
    from pneumolib.deploy.ensemble import combine_checkpoints

    epochs = trained.best_checkpoint.parent / "epochs"
    ensemble = combine_checkpoints([epochs / "epoch_01.pt", epochs / "epoch_02.pt"], epochs.parent / "ensemble.pt")
    final = epochs.parent / "ensemble_model.pt"
    metadata = finalize_checkpoint(ensemble, fixture_build.manifest, fixture_build.root, final, progress=False)
    assert metadata["temperature"] > 0 and metadata["ood_gate"] and len(metadata["members"]) == 2
    assert isinstance(read_checkpoint(final)["ood_gate"], dict)


def test_refitting_the_fill_changes_only_the_explanation(finalized, fixture_build, tmp_path):
    from pneumolib.deploy.finalize import refit_explanation

    before = read_checkpoint(finalized)
    out = tmp_path / "refit.pt"
    metadata = refit_explanation(finalized, fixture_build.manifest, fixture_build.root, out, progress=False)
    after = read_checkpoint(out)
    neutrality = metadata["explanation"].get("neutrality") or []
    assert all("mean_abs_logit_change" in row for row in neutrality)
    assert {k: v for k, v in after["metadata"].items() if k != "explanation"} == \
        {k: v for k, v in before["metadata"].items() if k != "explanation"}
    assert all(np.array_equal(after["state_dict"][k], v) for k, v in before["state_dict"].items())
    gates = [MahalanobisGate.from_state(payload["ood_gate"]) for payload in (before, after)]
    assert gates[0].margin_ == gates[1].margin_ and gates[0].layers_ == gates[1].layers_
    with pytest.raises(ValueError, match="not finalized"):
        refit_explanation(trained_best(finalized), fixture_build.manifest, fixture_build.root, tmp_path / "x.pt",
                          progress=False)


def trained_best(finalized):
    return finalized.parent / "train" / "best.pt"


def test_finalize_adds_val_only_decisions(finalized):
    payload = read_checkpoint(finalized)
    metadata = payload["metadata"]
    assert metadata["temperature"] > 0
    assert set(metadata["operating_points"]) == {"screening", "balanced"}
    assert metadata["default_operating_point"] == "screening"
    gate = MahalanobisGate.from_state(payload["ood_gate"])
    assert gate.is_fitted and gate.layers_ == ARCHITECTURES[metadata["architecture"]].gate_layers
    summary = metadata["ood_gate"]
    assert gate.margin_ == pytest.approx(summary["margin"]) and gate.margin_ >= 1.0
    assert 0.0 <= summary["val_accept_rate"] <= 1.0 and 0.0 <= summary["reference_reject_rate"] <= 1.0
    assert set(summary["shifted_val_accept_rates"]) == set(ACQUISITION_SHIFTS)
    assert "optimizer" not in payload  # a deployable file carries no training state
    # temperature and thresholds were fitted on val + stress val, and the stress table is kept
    assert metadata["calibrated_on"].startswith("val + stress val")
    shifts = [row["shift"] for row in metadata["stress_val"]["shifts"]]
    assert shifts == ["clean", *STRESS_SHIFTS]
    assert 0.0 <= metadata["stress_val"]["summary"]["worst_flip_rate"] <= 1.0


def test_an_unfinalized_checkpoint_is_refused_before_the_test_split_is_read(trained, fixture_build, tmp_path):
    log = tmp_path / "test_log.csv"
    with pytest.raises(ValueError, match="not finalized"):
        evaluate_checkpoint(trained.best_checkpoint, fixture_build.manifest, fixture_build.root, n_resamples=10,
                            progress=False, test_log=log)
    assert not log.exists()  # no look was made, so none is logged


def test_evaluate_and_documents(finalized, fixture_build, tmp_path):
    log = tmp_path / "test_log.csv"
    evaluation = evaluate_checkpoint(finalized, fixture_build.manifest, fixture_build.root, n_resamples=50, progress=False,
                                     purpose="end-to-end test", test_log=log)
    report = evaluation.report
    test = evaluation.predictions["test"]
    assert len(test) == (fixture_build.manifest["split"] == "test").sum()
    assert np.allclose(test["prob"], 1 / (1 + np.exp(-test["logit"])))
    # the thresholds the report uses are those stored in the checkpoint at finalize time
    stored = read_checkpoint(finalized)["metadata"]["operating_points"]
    assert set(stored) <= set(report["operating_points"])
    for name in stored:
        assert report["operating_points"][name]["threshold"] == pytest.approx(stored[name]["threshold"])
    assert list(val_test_gap(report).index) == list(report["operating_points"])
    json.loads(write_report(report, tmp_path / "r.json").read_text())

    readme, card = tmp_path / "README.md", tmp_path / "MODEL_CARD.md"
    readme.write_text("intro\n<!-- results:readme:start -->\nSTALE-TEXT\n<!-- results:readme:end -->\nend\n")
    card.write_text("<!-- results:training:start -->\n<!-- results:training:end -->\n"
                    "<!-- results:model_card:start -->\nSTALE-TEXT\n<!-- results:model_card:end -->\n"
                    "<!-- results:stress_val:start -->\n<!-- results:stress_val:end -->\n"
                    "<!-- results:heatmaps:start -->\n<!-- results:heatmaps:end -->\n"
                    "<!-- results:test_access:start -->\n<!-- results:test_access:end -->\n")
    update_documents(evaluation, readme, card, test_log=log)
    text = readme.read_text()
    assert "STALE-TEXT" not in text and text.startswith("intro") and text.rstrip().endswith("end")
    auc = report["test"]["roc_auc"]["estimate"]
    assert f"{auc:.3f}" in text
    assert report["model"]["sha256"] in card.read_text()
    logged = read_test_log(log)  # the look at test is on record, and the card lists it
    assert list(logged["purpose"]) == ["end-to-end test"] and logged.loc[0, "sha256"] == report["model"]["sha256"]
    assert "end-to-end test" in card.read_text() and "histogram equalisation" in card.read_text()
    heatmaps = report["heatmaps"]  # measured within the same look at test
    assert heatmaps["films"] == len(test) and heatmaps["films_called_pneumonia"] <= len(test)
    assert [row["share_of_lung_area"] for row in heatmaps["deletion_curve"]] == [0.05, 0.1, 0.2, 0.3, 0.5]
    assert f"{heatmaps['films_called_pneumonia']} films were called pneumonia" in card.read_text()

    # the same sections again from the report saved beside the weights, without reading test
    import shutil

    from pneumolib.evaluation.report import report_path
    from pneumolib.reporting.documents import update_documents_from_report

    weights = shutil.copy(finalized, tmp_path / "weights.pt")
    with pytest.raises(FileNotFoundError, match="evaluate"):
        update_documents_from_report(weights, readme, card, test_log=log)
    write_report(report, report_path(weights))
    expected = readme.read_text(), card.read_text()
    readme.write_text(readme.read_text().replace(f"{auc:.3f}", "STALE"))
    update_documents_from_report(weights, readme, card, test_log=log)
    assert (readme.read_text(), card.read_text()) == expected and len(read_test_log(log)) == 1
    write_report({**report, "model": {**report["model"], "sha256": "0" * 64}}, report_path(weights))
    with pytest.raises(ValueError, match="other weights"):
        update_documents_from_report(weights, readme, card, test_log=log)


def test_gate_features_are_tapped_augmented_and_seeded():
    import torch

    from pneumolib.data.inputs.augment import AugmentConfig
    from pneumolib.gate.fit import gate_features
    from pneumolib.models import ARCHITECTURES, create_model

    model = create_model("efficientnet_lite0", pretrained=True).eval()
    layers = ARCHITECTURES["efficientnet_lite0"].gate_layers
    images = np.random.default_rng(0).integers(0, 256, size=(6, 48, 48), dtype=np.uint8)
    first = gate_features(model, images, layers, AugmentConfig(), seed=1, batch_size=4, progress=False)
    again = gate_features(model, images, layers, AugmentConfig(), seed=1, batch_size=4, progress=False)
    clean = gate_features(model, images, layers, batch_size=4, progress=False)
    assert first.shape == clean.shape == (6, 112 + 192 + 320)
    assert np.allclose(first, again)
    assert not np.allclose(first, clean, atol=1e-3)
    assert torch.is_grad_enabled()  # the no_grad decorator restored the global state
    assert not any(module._forward_hooks for module in model.modules())  # the taps were removed
