"""Choosing a checkpoint on val and stress val, by a rule written before the runs it compares.

Clean val is nearly separable here, so "best val AUC" picks among models that all score 0.999
and says nothing about whether a model reads the lungs. The rule below looks where the models
differ: how their calls and ranking hold up under the fixed shifts of stress val
(:mod:`pneumolib.evaluation.stress`), with the share of Grad-CAM heat inside the lungs recorded
beside them. The official test split plays no part.

The rule (:func:`select_candidate`), in order:

0. **Same split, not a reference:** a checkpoint trained on another split (its manifest digest
   differs from the manifest's) may have trained on today's val films; it is measured and shown
   as a reference, never chosen. So is any checkpoint passed as a reference (the model shipped
   with the package, say: a yardstick for a new run, not one of its candidates).
1. **Eligible:** clean val ROC AUC at most :data:`AUC_TOLERANCE` below the best same-split
   candidate's.
2. **Fewest flips:** the lowest worst-shift flip rate of the balanced call, compared in steps of
   :data:`FLIP_STEP` (half a percent: about 3 of 525 val films, below which differences are noise).
3. **Ranking under shift:** the highest mean stress-val AUC, in steps of :data:`AUC_STEP`.
4. **Where it looks:** the highest share of heat inside the lungs for films called pneumonia.
5. Then the later candidate in the order given (the more annealed epoch).

It prints every candidate's figures and the decision, and returns both. Beside the lung share it
records the heatmap's **laterality** on the same films (:func:`heatmap_measures_on`): does the
hotter lung match the lung whose occlusion lowers P(pneumonia) more? The selection rule does not
rank by it; the replacement rule (:func:`replaces_reference`) vetoes a model whose maps point to
the wrong lung more often than the shipped model's do.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from pneumolib.checkpoint import read_checkpoint
from pneumolib.constants import BALANCED, LATERALITY_STEP
from pneumolib.data.sources.roots import DataRoot
from pneumolib.data.split.manifest import manifest_digest
from pneumolib.engine import Engine
from pneumolib.evaluation.operating_points import youden_threshold
from pneumolib.evaluation.stress import CLEAN, StressSet, stress_summary, stress_table
from pneumolib.inference import engine_for_checkpoint, predict_logits, sigmoid

AUC_TOLERANCE = 0.005
FLIP_STEP = 0.005
AUC_STEP = 0.001
#: The fill that hides a lung for the laterality measure: fixed, so that candidates not yet
#: finalized (no fill chosen on val) and the shipped model are measured alike.
SELECTION_FILL = "reference"


@dataclass
class CandidateRecord:
    """What the rule compares for one checkpoint, and the per-shift table behind it."""

    name: str
    path: str
    threshold: float  # balanced point on clean val (the checkpoint's own, or Youden's J on clean val)
    temperature: float
    stress: pd.DataFrame
    lung_share: float = math.nan  # mean Grad-CAM mass inside the lungs, val films called pneumonia
    laterality: float = math.nan  # share of those films whose hotter lung is the one whose occlusion matters more
    summary: dict[str, float] = field(default_factory=dict)
    same_split: bool = True  # trained on the split being selected on (else a reference only)
    reference: bool = False  # shown for comparison, never chosen

    def __post_init__(self) -> None:
        if not self.summary:
            self.summary = stress_summary(self.stress)

    def row(self) -> dict[str, Any]:
        return {"candidate": self.name, **self.summary, "lung_share": self.lung_share,
                "laterality": self.laterality, "same_split": self.same_split, "reference": self.reference}

    @property
    def choosable(self) -> bool:
        return self.same_split and not self.reference


@dataclass
class Selection:
    chosen: CandidateRecord
    table: pd.DataFrame  # one row per candidate, in the rule's order, with an "eligible" column
    decision: str
    records: list[CandidateRecord] = field(default_factory=list)
    replacement: list[str] = field(default_factory=list)  # replaces_reference's decisions, when asked

    def to_record(self) -> dict[str, Any]:
        """The decision, the candidates' figures and their per-shift tables, as plain JSON-ready data."""
        from pneumolib.evaluation.report import jsonable

        return jsonable({"decision": self.decision, "chosen": Path(self.chosen.path).name,
                         "replacement": self.replacement,
                         "candidates": self.table.to_dict(orient="records"),
                         "stress": {r.name: r.stress.to_dict(orient="records") for r in self.records}})

    def save(self, path: str | os.PathLike) -> Path:
        """Write :meth:`to_record` as JSON (what the model card's selection section is rendered from)."""
        import json

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_record(), indent=1) + "\n", encoding="utf-8")
        return path


def score_stress_set(model: torch.nn.Module | Engine, stress: StressSet, temperature: float = 1.0,
                     device: str | torch.device = "cpu", progress: bool = True) -> dict[str, np.ndarray]:
    """Probability of pneumonia for every film of every array of ``stress`` (clean and shifted)."""
    return {name: sigmoid(predict_logits(model, images, device=device, progress=progress, desc=f"scoring {name}")
                          / temperature)
            for name, images in stress.arrays.items()}


def balanced_threshold(metadata: dict[str, Any], labels: np.ndarray, clean_prob: np.ndarray) -> float:
    """The checkpoint's own balanced point if it was finalized, else Youden's J on clean val."""
    point = metadata.get("operating_points", {}).get(BALANCED)
    return float(point["threshold"]) if point else youden_threshold(labels, clean_prob)


def measure_candidate(checkpoint: str | os.PathLike, stress: StressSet, name: str | None = None,
                      heatmap_fn: Any = None, device: str | torch.device = "cpu",
                      progress: bool = True) -> CandidateRecord:
    """Score one checkpoint on stress val; ``heatmap_fn(model, clean_prob, threshold, engine)`` adds
    the lung share and laterality (:func:`heatmap_measures_on`)."""
    engine, model, metadata = engine_for_checkpoint(checkpoint, device)
    temperature = float(metadata.get("temperature", 1.0))
    probabilities = score_stress_set(engine, stress, temperature, device, progress)
    threshold = balanced_threshold(metadata, stress.labels, probabilities[CLEAN])
    record = CandidateRecord(name or Path(checkpoint).stem, str(checkpoint), threshold, temperature,
                             stress_table(stress.labels, probabilities, threshold))
    if heatmap_fn is not None:
        record.lung_share, record.laterality = heatmap_fn(model, probabilities[CLEAN], threshold, engine)
    return record


def _sort_key(record: CandidateRecord, position: int) -> tuple:
    summary = record.summary
    lung = record.lung_share if not math.isnan(record.lung_share) else -1.0
    return (math.floor(summary["worst_flip_rate"] / FLIP_STEP + 1e-9),
            -math.floor(summary["mean_stress_auc"] / AUC_STEP + 1e-9),
            -lung, -position)


def select_candidate(records: Sequence[CandidateRecord], verbose: bool = True) -> Selection:
    """Apply the rule of the module docstring; print the table and the decision."""
    same_split = [r for r in records if r.choosable]
    if not same_split:
        raise ValueError("no candidate was trained on this split (references aside): nothing can be chosen")
    best_auc = max(r.summary["clean_auc"] for r in same_split)
    eligible = [(i, r) for i, r in enumerate(records)
                if r.choosable and r.summary["clean_auc"] >= best_auc - AUC_TOLERANCE]
    ranked = sorted(eligible, key=lambda item: _sort_key(item[1], item[0]))
    chosen = ranked[0][1]
    order = [r for _, r in ranked] + [r for r in records if all(r is not e for _, e in eligible)]
    table = pd.DataFrame([{**r.row(), "eligible": any(r is e for _, e in eligible)} for r in order])
    runner_up = f"; runner-up {ranked[1][1].name}" if len(ranked) > 1 else ""
    decision = (f"selected {chosen.name}: worst-shift flip rate {chosen.summary['worst_flip_rate']:.1%}, "
                f"mean stress-val AUC {chosen.summary['mean_stress_auc']:.4f}, clean val AUC "
                f"{chosen.summary['clean_auc']:.4f}, lung share {chosen.lung_share:.2f} "
                f"({len(eligible)} of {len(records)} candidates eligible: trained on this split, clean val AUC >= "
                f"{best_auc - AUC_TOLERANCE:.4f})"
                f"{runner_up}")
    if verbose:
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        print(decision)
    return Selection(chosen, table, decision, list(records))


def replaces_reference(selection: Selection, reference: str, verbose: bool = True) -> tuple[bool, str]:
    """Should the chosen candidate replace the model measured as ``reference`` (the shipped one)?

    A rule fixed before the runs it compares, in the same terms as :func:`select_candidate`: the
    candidate must (1) score a clean val AUC at most :data:`AUC_TOLERANCE` below the reference's,
    (2) flip no more calls under its worst shift (in steps of :data:`FLIP_STEP`) and (3) rank no
    worse under shift (mean stress-val AUC, in steps of :data:`AUC_STEP`), and (4) when both were
    measured, its heatmaps must point to the wrong lung no more often (laterality, in steps of
    :data:`LATERALITY_STEP`); and it must be better on at least one of flips, ranking under shift,
    or lung share. Prints its decision.
    """
    records = {r.name: r for r in selection.records}
    if reference not in records:
        raise KeyError(f"no reference named {reference!r} was measured (have {sorted(records)})")
    old, new = records[reference].summary, selection.chosen.summary
    flips = (math.floor(new["worst_flip_rate"] / FLIP_STEP + 1e-9), math.floor(old["worst_flip_rate"] / FLIP_STEP + 1e-9))
    ranking = (math.floor(new["mean_stress_auc"] / AUC_STEP + 1e-9), math.floor(old["mean_stress_auc"] / AUC_STEP + 1e-9))
    lung = (selection.chosen.lung_share, records[reference].lung_share)
    sides = (selection.chosen.laterality, records[reference].laterality)
    checks = {
        "clean val AUC within tolerance": new["clean_auc"] >= old["clean_auc"] - AUC_TOLERANCE,
        "no more worst-shift flips": flips[0] <= flips[1],
        "ranking under shift no worse": ranking[0] >= ranking[1],
    }
    if not any(math.isnan(v) for v in sides):  # measured for both (not with --no-lung-share)
        checks["heatmap laterality no worse"] = (math.floor(sides[0] / LATERALITY_STEP + 1e-9)
                                                 >= math.floor(sides[1] / LATERALITY_STEP + 1e-9))
    better = flips[0] < flips[1] or ranking[0] > ranking[1] or (lung[0] > lung[1])
    replace = all(checks.values()) and better
    failed = [name for name, ok in checks.items() if not ok]
    decision = (f"{'replace' if replace else 'keep'} {reference}: {selection.chosen.name} has worst-shift flips "
                f"{new['worst_flip_rate']:.1%} vs {old['worst_flip_rate']:.1%}, mean stress AUC "
                f"{new['mean_stress_auc']:.4f} vs {old['mean_stress_auc']:.4f}, clean val AUC {new['clean_auc']:.4f} vs "
                f"{old['clean_auc']:.4f}, lung share {lung[0]:.2f} vs {lung[1]:.2f}"
                + ("" if any(math.isnan(v) for v in sides) else f", laterality {sides[0]:.2f} vs {sides[1]:.2f}")
                + (f"; fails: {', '.join(failed)}" if failed else "" if better else "; better on nothing"))
    if verbose:
        print(decision)
    selection.replacement.append(decision)
    return replace, decision


def val_stress_set(manifest: pd.DataFrame, data_root: DataRoot, image_size: int, jpeg_quality: int | None,
                   max_images: int | None = None, cache_dir: str | os.PathLike | None = None,
                   progress: bool = True) -> StressSet:
    """Stress val for the manifest's val split (the same rows, in the same order, as ``load_split``)."""
    from pneumolib.data.inputs.arrays import label_indices, subset_rows
    from pneumolib.evaluation.stress import build_stress_set

    rows = subset_rows(manifest[manifest["split"] == "val"], max_images).reset_index(drop=True)
    return build_stress_set(data_root, list(rows["path"]), label_indices(rows), image_size, jpeg_quality,
                            cache_dir=cache_dir, progress=progress)


def heatmap_measures_on(stress: StressSet, data_root: DataRoot, progress: bool = True):  # noqa: ANN201
    """``(model, clean_prob, threshold, engine) -> (lung share, laterality)`` on clean val films called pneumonia.

    Lung share: the mean share of Grad-CAM heat inside the lungs (outlined on the original film).
    Laterality: the share of films whose hotter lung (zones of the model's input) is the lung whose
    occlusion with :data:`SELECTION_FILL` lowers P(pneumonia) more, the measure of the model card's
    heatmap section. The lung outlines do not depend on the model: they are computed once, on first
    use, and reused for every candidate.
    """
    from pneumolib.explain.explainers import create_explainer
    from pneumolib.explain.faithfulness import hotter_side
    from pneumolib.explain.focus import focus_share
    from pneumolib.explain.lung_mask import segment_lungs
    from pneumolib.explain.occlusion import logits_of, occluded
    from pneumolib.explain.study import FOCUS_HEIGHT, film_reader, shrink_film
    from pneumolib.explain.zones import SIDES, lung_zones

    read = film_reader(data_root)
    masks: dict[int, np.ndarray] = {}
    sides: dict[int, np.ndarray] = {}

    def measure(model: torch.nn.Module, clean_prob: np.ndarray, threshold: float, engine: Engine) -> tuple[float, float]:
        images = stress.arrays[CLEAN]
        called = np.flatnonzero(clean_prob >= threshold)
        if called.size == 0:
            return math.nan, math.nan
        explainer = create_explainer(model, engine=engine)
        shares, agree = [], []
        for start in tqdm(range(0, called.size, 32), desc="lung share, laterality", disable=not progress, leave=False):
            chunk = called[start : start + 32]
            heatmaps = explainer.explain(np.array(images[chunk]), 1, batch_size=32).heatmaps
            hidden = []
            for index, heatmap in zip(chunk, heatmaps):
                if index not in masks:
                    masks[index] = segment_lungs(shrink_film(read(stress.paths[index]), FOCUS_HEIGHT)).mask
                    zones = lung_zones(images[index])
                    sides[index] = np.stack([zones.side_mask(side) for side in SIDES])
                shares.append(focus_share(heatmap, masks[index]))
                picture = np.asarray(images[index], dtype=np.float32) / 255.0
                hidden.append(occluded(picture, sides[index], SELECTION_FILL))
            side_logits = logits_of(engine, np.concatenate(hidden)).reshape(-1, len(SIDES))
            for index, heatmap, logits in zip(chunk, heatmaps, side_logits):
                decisive = int(np.argmin(logits))  # the lower logit: the side whose hiding matters more
                agree.append(hotter_side(heatmap, sides[index]) == decisive)
        return float(np.nanmean(shares)), float(np.mean(agree))

    return measure


def compare_candidates(checkpoints: Sequence[str | os.PathLike], manifest: pd.DataFrame, data_root: DataRoot,
                       names: Sequence[str] | None = None, max_images: int | None = None,
                       cache_dir: str | os.PathLike | None = None, lung_share: bool = True,
                       progress: bool = True, references: Sequence[str | os.PathLike] = (),
                       reference_names: Sequence[str] | None = None) -> Selection:
    """Measure every checkpoint on val + stress val (and the lung share), then apply the rule.

    ``references`` are measured the same way and listed, but never chosen (rule 0)."""
    first = read_checkpoint(checkpoints[0])["metadata"]
    stress = val_stress_set(manifest, data_root, first["image_size"], first["jpeg_quality"], max_images, cache_dir, progress)
    heatmap_fn = heatmap_measures_on(stress, data_root, progress) if lung_share else None
    records = []
    named = [(c, names[i] if names else Path(c).stem, False) for i, c in enumerate(checkpoints)]
    named += [(c, reference_names[i] if reference_names else f"{Path(c).stem} (reference)", True)
              for i, c in enumerate(references)]
    for checkpoint, name, reference in named:
        metadata = read_checkpoint(checkpoint)["metadata"]
        if (metadata["image_size"], metadata["jpeg_quality"]) != (first["image_size"], first["jpeg_quality"]):
            if reference:  # a yardstick made for other inputs (the quick profile's 96 px, say): leave it out
                print(f"reference {name} takes {metadata['image_size']} px inputs, the candidates "
                      f"{first['image_size']} px: not compared")
                continue
            raise ValueError(f"{checkpoint} takes {metadata['image_size']} px inputs; compare like with like")
        record = measure_candidate(checkpoint, stress, name, heatmap_fn, progress=progress)
        record.same_split = metadata.get("manifest_digest") == manifest_digest(manifest)
        record.reference = reference
        records.append(record)
    return select_candidate(records)


def run_candidates(run_dir: str | os.PathLike, last: int = 3) -> list[Path]:
    """A training run's candidates: its last ``last`` epochs (``epochs/epoch_NN.pt``), then ``best.pt``.

    The rule prefers later candidates on a full tie, so they come in epoch order; ``best.pt`` (the
    best clean val AUC) is added when it is not one of them already.
    """
    run_dir = Path(run_dir)
    epochs = sorted((run_dir / "epochs").glob("epoch_*.pt"))[-last:]
    best = run_dir / "best.pt"
    if best.is_file():
        best_epoch = read_checkpoint(best)["metadata"].get("epoch")
        if all(int(p.stem.removeprefix("epoch_")) != best_epoch for p in epochs):  # files are epoch_NN.pt
            epochs = [best, *epochs]
    if not epochs:
        raise FileNotFoundError(f"no checkpoints under {run_dir}: train first")
    return epochs
