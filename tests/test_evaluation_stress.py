"""Stress val: the fixed shifts, the per-shift table, and the selection rule that reads it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pneumolib.data.inputs.shifts import STRESS_SHIFTS
from pneumolib.evaluation.selection import CandidateRecord, select_candidate
from pneumolib.evaluation.stress import CLEAN, build_stress_set, stress_summary, stress_table


def test_every_stress_shift_keeps_a_grayscale_film():
    film = (np.arange(120 * 160) % 251).astype(np.uint8).reshape(120, 160)
    for name, shift in STRESS_SHIFTS.items():
        out = shift(film)
        assert out.dtype == np.uint8 and out.ndim == 2, name
        assert np.array_equal(out, shift(film)), f"{name} is not deterministic"
    assert STRESS_SHIFTS["narrow field (7.5 % off each side)"](film).shape == (120, 136)
    assert STRESS_SHIFTS["black side margins (7.5 %)"](film).shape == (120, 184)
    assert STRESS_SHIFTS["stretched 1.25x wide"](film).shape == (120, 200)


def test_stress_table_counts_flips_in_each_direction():
    labels = np.array([1, 1, 1, 0, 0, 0])
    clean = np.array([0.9, 0.8, 0.6, 0.4, 0.2, 0.1])
    shifted = np.array([0.9, 0.4, 0.6, 0.7, 0.6, 0.1])  # one pneumonia call lost, two normals turned
    table = stress_table(labels, {CLEAN: clean, "shift": shifted}, threshold=0.5).set_index("shift")
    assert table.loc["shift", "flips_to_normal"] == 1
    assert table.loc["shift", "flips_to_pneumonia"] == 2
    assert table.loc["shift", "flip_rate"] == pytest.approx(3 / 6)
    assert table.loc["shift", "mean_change"] == pytest.approx(np.mean(shifted - clean))
    assert table.loc[CLEAN, "roc_auc"] == 1.0
    summary = stress_summary(table.reset_index())
    assert summary["worst_flip_rate"] == pytest.approx(0.5) and summary["clean_auc"] == 1.0


def test_build_stress_set_shifts_every_film_and_caches(fixture_root, tmp_path):
    paths = ["test/NORMAL/IM-0001-0001.jpeg", "test/PNEUMONIA/person100_bacteria_475.jpeg"]
    shifts = {name: STRESS_SHIFTS[name] for name in ("black side margins (7.5 %)", "gamma 1.5")}
    first = build_stress_set(fixture_root, paths, np.array([0, 1]), 64, 75, shifts, cache_dir=tmp_path, progress=False)
    assert list(first.arrays) == [CLEAN, *shifts] and first.shift_names == list(shifts)
    assert all(a.shape == (2, 64, 64) and a.dtype == np.uint8 for a in first.arrays.values())
    assert not np.array_equal(first.arrays[CLEAN], first.arrays["gamma 1.5"])
    assert len(list(tmp_path.glob("stress_64px_*.npy"))) == 3
    again = build_stress_set(fixture_root, paths, np.array([0, 1]), 64, 75, shifts, cache_dir=tmp_path, progress=False)
    assert all(np.array_equal(first.arrays[n], again.arrays[n]) for n in first.arrays)


def _record(name: str, clean_auc: float, flip_rate: float, stress_auc: float, lung: float = 0.3) -> CandidateRecord:
    table = pd.DataFrame([
        {"shift": CLEAN, "roc_auc": clean_auc, "flips_to_normal": 0, "flips_to_pneumonia": 0, "flip_rate": 0.0,
         "mean_change": 0.0, "mean_abs_change": 0.0},
        {"shift": "s", "roc_auc": stress_auc, "flips_to_normal": 1, "flips_to_pneumonia": 0, "flip_rate": flip_rate,
         "mean_change": 0.0, "mean_abs_change": 0.01},
    ])
    return CandidateRecord(name, name, 0.5, 1.0, table, lung)


def test_selection_rule_prefers_fewer_flips_among_eligible(capsys):
    records = [
        _record("sharp but fragile", 0.9995, 0.06, 0.995),
        _record("robust", 0.9980, 0.01, 0.990),
        _record("too weak on clean val", 0.9900, 0.0, 0.999),
    ]
    selection = select_candidate(records)
    assert selection.chosen.name == "robust"
    assert "selected robust" in capsys.readouterr().out
    assert selection.table.set_index("candidate").loc["too weak on clean val", "eligible"] == False  # noqa: E712


def test_a_checkpoint_from_another_split_is_shown_but_never_chosen():
    old = _record("trained on another split", 0.9999, 0.0, 0.999)
    old.same_split = False
    new = _record("this split", 0.990, 0.02, 0.98)
    selection = select_candidate([old, new], verbose=False)
    assert selection.chosen.name == "this split"  # and the old one's high AUC sets no eligibility bar
    assert not selection.table.set_index("candidate").loc["trained on another split", "eligible"]
    with pytest.raises(ValueError, match="no candidate was trained on this split"):
        select_candidate([old], verbose=False)


def test_a_reference_is_shown_but_never_chosen():
    shipped = _record("shipped model", 0.9999, 0.0, 0.999)
    shipped.reference = True
    new = _record("this run", 0.995, 0.02, 0.98)
    selection = select_candidate([shipped, new], verbose=False)
    assert selection.chosen.name == "this run"
    row = selection.table.set_index("candidate").loc["shipped model"]
    assert row["reference"] and not row["eligible"] and row["same_split"]
    with pytest.raises(ValueError, match="references aside"):
        select_candidate([shipped], verbose=False)


def test_selection_rule_ties_go_to_stress_auc_then_lung_share_then_later():
    tie = [_record("a", 0.999, 0.011, 0.990), _record("b", 0.999, 0.012, 0.995)]  # same 0.5 % flip step
    assert select_candidate(tie, verbose=False).chosen.name == "b"
    same = [_record("early", 0.999, 0.01, 0.990, lung=0.4), _record("late", 0.999, 0.01, 0.990, lung=0.3)]
    assert select_candidate(same, verbose=False).chosen.name == "early"
    equal = [_record("early", 0.999, 0.01, 0.990), _record("late", 0.999, 0.01, 0.990)]
    assert select_candidate(equal, verbose=False).chosen.name == "late"


def test_selection_record_renders_every_candidate_and_the_decision(tmp_path):
    import json

    from pneumolib.reporting.robustness_card import render_selection_section, render_stress_section

    old = _record("first model", 0.9999, 0.04, 0.99)
    old.same_split = False
    selection = select_candidate([old, _record("epoch 15", 0.996, 0.01, 0.995, lung=0.41)], verbose=False)
    record = json.loads(selection.save(tmp_path / "selection.json").read_text())  # what `select --out` writes
    assert record["chosen"] == "epoch 15" and set(record["stress"]) == {"first model", "epoch 15"}
    text = render_selection_section(record)
    assert "| epoch 15 | yes | 0.9960 | 1.0 % |" in text and "| first model | reference: other split |" in text
    assert f"Decision: {selection.decision}." in text and "would replace" not in text
    record["replacement"] = ["replace shipped (reference): epoch 15 has worst-shift flips 1.0% vs 4.0%"]
    assert ("would replace (`pneumolib.evaluation.selection.replaces_reference`): replace shipped (reference): "
            "epoch 15 has worst-shift flips 1.0% vs 4.0%." in render_selection_section(record))
    stress = {"operating_point": "balanced", "summary": stress_summary(selection.chosen.stress),
              "shifts": selection.chosen.stress.to_dict(orient="records")}
    assert "| s | 0.9950 | 1 | 0 | 1.0 % | +0.000 |" in render_stress_section(stress)


def test_a_new_model_replaces_the_shipped_one_only_when_the_rule_says_so(capsys):
    from pneumolib.evaluation.selection import CandidateRecord, replaces_reference, select_candidate

    def record(name, worst, mean_auc, clean, lung, reference=False):
        return CandidateRecord(name, f"{name}.pt", 0.5, 1.0, pd.DataFrame(), lung_share=lung, reference=reference,
                               summary={"worst_flip_rate": worst, "mean_flip_rate": worst / 2, "mean_stress_auc": mean_auc,
                                        "worst_stress_auc": mean_auc, "clean_auc": clean})

    shipped = record("shipped", 0.025, 0.9963, 0.9963, 0.26, reference=True)
    better = select_candidate([record("epoch_10", 0.012, 0.9970, 0.9960, 0.40), shipped], verbose=False)
    assert replaces_reference(better, "shipped")[0] and better.replacement[0].startswith("replace shipped")
    assert "replace shipped" in capsys.readouterr().out
    worse = select_candidate([record("epoch_10", 0.035, 0.9990, 0.9990, 0.60), shipped], verbose=False)
    replace, decision = replaces_reference(worse, "shipped", verbose=False)
    assert not replace and "fails: no more worst-shift flips" in decision
    same = select_candidate([record("epoch_10", 0.0251, 0.99635, 0.9963, 0.20), shipped], verbose=False)
    replace, decision = replaces_reference(same, "shipped", verbose=False)  # ties in steps; a lower lung share
    assert not replace and decision.endswith("better on nothing")
    with pytest.raises(KeyError):
        replaces_reference(same, "nothing")


def test_maps_that_point_to_the_wrong_lung_more_often_do_not_replace():
    from pneumolib.evaluation.selection import CandidateRecord, replaces_reference, select_candidate

    def record(name, laterality, reference=False):
        return CandidateRecord(name, f"{name}.pt", 0.5, 1.0, pd.DataFrame(), lung_share=0.5, laterality=laterality,
                               reference=reference, summary={"worst_flip_rate": 0.019 if not reference else 0.021,
                                                             "mean_flip_rate": 0.01, "mean_stress_auc": 0.9964,
                                                             "worst_stress_auc": 0.995, "clean_auc": 0.9968})

    shipped = record("shipped", 0.66, reference=True)
    replace, decision = replaces_reference(select_candidate([record("pair", 0.33), shipped], verbose=False),
                                           "shipped", verbose=False)
    assert not replace and "laterality 0.33 vs 0.66" in decision and "fails: heatmap laterality no worse" in decision
    replace, decision = replaces_reference(select_candidate([record("pair", 0.651), shipped], verbose=False),
                                           "shipped", verbose=False)  # the same step of 0.05: not worse
    assert replace
    replace, decision = replaces_reference(select_candidate([record("pair", float("nan")), shipped], verbose=False),
                                           "shipped", verbose=False)  # not measured (--no-lung-share): no check
    assert replace and "laterality" not in decision
