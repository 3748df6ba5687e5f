"""The model card's "training" section, rendered from the checkpoint's own metadata.

Hyperparameters, epochs and training time are quoted from what the checkpoint recorded, never
typed by hand, so the card describes the weights that are actually shipped. An ensemble
(:mod:`pneumolib.deploy.ensemble`) gets one table per member, from the record each member left.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pneumolib.reporting.markdown import GENERATED_NOTE


def render_training_section(metadata: Mapping[str, Any], sha256: str) -> str:
    """Markdown: how the shipped weights were trained (per member for an ensemble)."""
    members = metadata.get("members")
    if not members:
        return f"{GENERATED_NOTE}\n\n{_table(_training_rows(metadata))}\n| Weights file | sha256 `{sha256}` |"
    parts = [GENERATED_NOTE, f"The model averages the logits of {len(members)} trained networks "
                             f"({metadata.get('weights', 'an ensemble')}); weights file sha256 `{sha256}`."]
    for index, member in enumerate(members, start=1):
        parts.append(f"**Member {index}** (`{member['checkpoint']}`, sha256 `{member['sha256'][:12]}...`)\n\n"
                     + _table(_training_rows({**member, **{k: metadata.get(k) for k in ("image_size", "jpeg_quality",
                                                                                       "mean", "std", "dropout",
                                                                                       "manifest_digest")}})))
    return "\n\n".join(parts)


def _table(rows: list[tuple[str, str]]) -> str:
    return "\n".join(["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])


def _training_rows(metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    config = metadata["train_config"]
    history = list(metadata.get("history") or [])
    augment = config.get("augment_config", {})
    seconds = sum(row.get("train_seconds", 0.0) for row in history)
    rate = [row["train_images_per_s"] for row in history if "train_images_per_s" in row]
    rows = [
        ("Architecture", f"`{metadata['architecture']}`, head: dropout {metadata.get('dropout')} + linear (2 classes)"),
        ("Initial weights", metadata.get("pretrained_source", "n/a")),
        ("Input", f"{metadata['image_size']}x{metadata['image_size']} grayscale, squashed, JPEG q{metadata.get('jpeg_quality')} "
                  f"round trip; normalisation mean {metadata['mean']}, std {metadata['std']}"),
        ("Loss", f"cross-entropy weighted by inverse class frequency, label smoothing {config['label_smoothing']}"),
        ("Optimiser", f"AdamW, learning rate {config['learning_rate']}, weight decay {config['weight_decay']}, "
                      f"batch {config['batch_size']}"),
        ("Schedule", f"{config['warmup_epochs']} epoch(s) linear warm-up, cosine decay over {config['epochs']} epochs; "
                     f"early stopping patience {config['patience']} (val ROC AUC)"),
        ("Augmentation", ", ".join(f"{k} {v}" for k, v in augment.items())),
        ("Epochs run / epoch shipped", f"{len(history)} / {metadata.get('epoch')} "
                                       f"(val ROC AUC {metadata['val_metrics'].get('val_auc', float('nan')):.4f})"),
        ("Training time", f"{seconds / 60:.0f} min of training passes"
                          + (f", {min(rate):.0f}-{max(rate):.0f} images/s" if rate else "")),
        ("Seed", str(config["seed"])),
        ("Data", f"manifest digest `{metadata.get('manifest_digest')}` (train split; selection on val)"),
    ]
    return rows
