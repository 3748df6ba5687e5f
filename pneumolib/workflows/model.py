"""``train``, ``average``, ``ensemble``, ``views``, ``select``, ``finalize`` and ``bundle``: from data to a bundled model."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pneumolib.config import active_profile, cache_dir, checkout_root, work_dir
from pneumolib.workflows.inputs import DataInputs


def train_model(inputs: DataInputs, out: str | None = None, *, recipe: Mapping[str, Any] | None = None,
                augment: Mapping[str, Any] | None = None, pretrained: bool = True, restart: bool = False,
                device: str | None = None, sync_batchnorm: bool | None = None) -> int:
    """Train with the active profile's sizes, overridden by ``recipe`` (``TrainConfig`` fields) and ``augment``."""
    from pneumolib.training.distributed import is_main_process
    from pneumolib.training.trainer import TrainConfig, train

    profile = active_profile()
    config = TrainConfig(epochs=profile.epochs, image_size=profile.image_size, batch_size=profile.batch_size,
                         max_images_per_split=profile.max_images_per_split)
    config = dataclasses.replace(config, **(recipe or {}), pretrained=config.pretrained and pretrained)
    if augment:
        config = dataclasses.replace(config, augment_config={**config.augment_config, **augment})
    result = train(config, inputs.table(), inputs.root(), Path(out) if out else work_dir() / "train",
                   cache_dir=cache_dir(), resume=not restart, device=device, sync_batchnorm=sync_batchnorm)
    if is_main_process():  # under torchrun: once, not once per process
        print(f"best epoch {result.best_epoch}: val AUC {result.best_val_auc:.4f}\nbest checkpoint: {result.best_checkpoint}")
    return 0


def average_weights(checkpoints: Sequence[str], out: str, weights: Sequence[float] | None = None, base: int = -1) -> int:
    """Write the weight average of ``checkpoints`` (see :mod:`pneumolib.training.weight_averaging`)."""
    from pneumolib.training.weight_averaging import average_checkpoints

    try:
        path = average_checkpoints(checkpoints, out, weights, base=base)
    except ValueError as error:  # CheckpointError too: a file or a recipe that does not fit
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}: the weight average of {len(checkpoints)} checkpoints; run `select`, then `finalize`")
    return 0


def combine_models(checkpoints: Sequence[str], out: str) -> int:
    """Write one checkpoint that averages the logits of ``checkpoints`` (see :mod:`pneumolib.deploy.ensemble`)."""
    from pneumolib.checkpoint import read_checkpoint
    from pneumolib.deploy.ensemble import combine_checkpoints, members_table

    try:
        path = combine_checkpoints(checkpoints, out)
    except ValueError as error:  # CheckpointError too
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(members_table(read_checkpoint(path)["metadata"]).to_string(index=False))
    print(f"wrote {path}: an ensemble of {len(checkpoints)} checkpoints, logits averaged; run `select`, then `finalize`")
    return 0


def add_views(checkpoint: str, crops: Sequence[float], out: str) -> int:
    """Write a copy of ``checkpoint`` that averages the film and its centre crops (test-time views)."""
    from pneumolib.deploy.test_time_views import add_test_time_views

    try:
        path = add_test_time_views(checkpoint, crops, out)
    except ValueError as error:  # CheckpointError too
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}: the film and {len(crops)} centre crop(s) ({', '.join(f'{c:.0%}' for c in crops)}), "
          "logits averaged; run `select`, then `finalize`")
    return 0


def select_checkpoint(inputs: DataInputs, candidates: Sequence[str], *, names: Sequence[str] | None = None,
                      out: str | None = None, chosen_out: str | None = None, lung_share: bool = True,
                      references: Sequence[str] = ()) -> int:
    """Measure the candidates (files, or training folders) on val and stress val; apply the fixed rules."""
    from pneumolib.evaluation.selection import compare_candidates, replaces_reference, run_candidates

    checkpoints = [c for item in candidates for c in (run_candidates(item) if Path(item).is_dir() else [Path(item)])]
    if names and len(names) != len(checkpoints):
        print(f"error: {len(names)} names for {len(checkpoints)} checkpoints", file=sys.stderr)
        return 2
    selection = compare_candidates(checkpoints, inputs.table(), inputs.root(), names=list(names) if names else None,
                                   max_images=active_profile().max_images_per_split, cache_dir=cache_dir(),
                                   lung_share=lung_share, references=references)
    for name in (f"{Path(r).stem} (reference)" for r in references):
        replaces_reference(selection, name)
    path = selection.save(out or work_dir() / "selection.json")
    print(f"wrote {path}")
    if chosen_out:
        shutil.copyfile(selection.chosen.path, chosen_out)
        print(f"copied {selection.chosen.path} to {chosen_out}")
    return 0


def check_reencoding(inputs: DataInputs, checkpoints: Sequence[str], out: str | None = None) -> int:
    """Each val film re-encoded as PACS exports and browsers do: how far P(pneumonia) moves, which calls flip."""
    import pandas as pd

    from pneumolib.evaluation.reencoding import MAX_FLIP_RATE, MAX_MOVE, MOVE_QUANTILE, val_reencoding_check
    from pneumolib.file_digest import file_sha256

    manifest, root = inputs.table(), inputs.root()  # read once for every checkpoint
    tables = []
    for checkpoint in checkpoints:
        try:
            table = val_reencoding_check(checkpoint, manifest, root, max_images=active_profile().max_images_per_split)
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        tables.append(table.assign(checkpoint=Path(checkpoint).name, sha256=file_sha256(checkpoint)))
        print(f"{checkpoint}:\n{table.to_string(index=False, float_format=lambda v: f'{v:.4f}')}")
        print(f"targets (q95 saves: {MOVE_QUANTILE:.0%} of films move by <= {MAX_MOVE}, no call flips; q30: "
              f"<= {MAX_FLIP_RATE['JPEG q30']:.0%} of calls flip): {'met' if table['meets'].all() else 'missed'}")
    if out:
        pd.concat(tables).to_csv(out, index=False)
        print(f"wrote {out}")
    return 0


def finalize_model(inputs: DataInputs, checkpoint: str, out: str) -> int:
    """Fit the temperature, the operating points and the X-ray gate on val and train; write ``out``."""
    from pneumolib.deploy.finalize import finalize_checkpoint

    metadata = finalize_checkpoint(checkpoint, inputs.table(), inputs.root(), out, cache_dir=cache_dir(),
                                   max_images_per_split=active_profile().max_images_per_split)
    points = ", ".join(f"{name} {p['threshold']:.4f}" for name, p in metadata["operating_points"].items())
    print(f"temperature {metadata['temperature']:.3f}; operating points (val): {points}; "
          f"gate accepts {metadata['ood_gate']['val_accept_rate']:.1%} of val\nwrote {out}")
    return 0


def refit_fill(inputs: DataInputs, checkpoint: str, out: str) -> int:
    """Re-choose a finalized checkpoint's occlusion fill on val (the rule of ``occlusion.choose_fill``)."""
    from pneumolib.deploy.finalize import refit_explanation

    try:
        metadata = refit_explanation(checkpoint, inputs.table(), inputs.root(), out, cache_dir=cache_dir(),
                                     max_images_per_split=active_profile().max_images_per_split)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"occlusion fill {metadata['explanation']['occlusion_fill']} "
          f"({metadata['explanation']['chosen_on']})\nwrote {out}")
    return 0


def bundle_model(checkpoint: str, out: str | None = None) -> int:
    """Store ``checkpoint`` in float16 as the bundled model (a clone), or in the work folder (installed)."""
    from pneumolib.checkpoint import BUNDLED_CHECKPOINT, bundle_checkpoint

    in_clone = checkout_root() is not None
    path = bundle_checkpoint(checkpoint, out or (BUNDLED_CHECKPOINT if in_clone else work_dir() / BUNDLED_CHECKPOINT.name))
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if not out and not in_clone:
        print("(an installed package: its own bundled model is left as it is; run `bundle` in a clone to replace it)")
    return 0
