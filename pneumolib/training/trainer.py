"""The training loop: weighted cross-entropy, AdamW, warm-up + cosine, AMP, checkpoints, resume.

One epoch = one pass over the cached training array in a seeded random order, augmented per
batch on the training device; then the validation split is scored and the epoch's model is
kept if its val ROC AUC is the best so far. ``last.pt`` holds everything needed to resume after
an interruption (a Colab disconnect, a session limit) exactly where training stopped.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from pneumolib.checkpoint import read_checkpoint, save_checkpoint
from pneumolib.data.manifest import manifest_digest
from pneumolib.engine import autocast_dtype, to_model_input
from pneumolib.inference import predict_logits, sigmoid
from pneumolib.models import ARCHITECTURES, create_model
from pneumolib.data.augment import AugmentConfig, augment_batch
from pneumolib.data.arrays import SplitArrays, class_weights, load_split
from pneumolib.training.schedule import warmup_cosine


@dataclass
class TrainConfig:
    architecture: str = "efficientnet_lite0"
    pretrained: bool = True
    weights_path: str | None = None
    init_checkpoint: str | None = None  # start from these weights (continued training), not ImageNet's
    image_size: int = 224
    batch_size: int = 32
    epochs: int = 12
    learning_rate: float = 5e-4
    weight_decay: float = 1e-2
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.05
    dropout: float = 0.3
    patience: int = 12  # epochs without a better val AUC before stopping; as many as the run: the
    # checkpoint is chosen among the last epochs by the stress-val rule, not by val AUC
    keep_epoch_checkpoints: bool = True  # epochs/epoch_NN.pt: the candidates a selection rule compares
    seed: int = 42
    jpeg_quality: int | None = 75
    augment: bool = True
    max_images_per_split: int | None = None
    amp: bool = True
    channels_last: bool = True
    augment_config: dict[str, Any] = field(default_factory=lambda: asdict(AugmentConfig()))


@dataclass
class TrainResult:
    best_checkpoint: Path
    last_checkpoint: Path
    history: pd.DataFrame
    best_epoch: int
    best_val_auc: float


def pick_device(device: str | torch.device | None = None) -> torch.device:
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int) -> None:
    np.random.seed(seed)
    torch.manual_seed(seed)


def train_one_epoch(
    model: torch.nn.Module,
    data: SplitArrays,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loss_weights: torch.Tensor,
    config: TrainConfig,
    epoch: int,
    device: torch.device,
    scaler: torch.amp.GradScaler | None = None,
    progress: bool = True,
) -> float:
    """One pass over ``data``; returns the mean training loss."""
    model.train()
    torch.manual_seed(config.seed * 1000 + epoch)  # dropout draws from the global generator: reseed per epoch so resuming replays it
    order_gen = torch.Generator().manual_seed(config.seed * 1000 + epoch)
    aug_gen = torch.Generator(device=device).manual_seed(config.seed * 1000 + epoch)
    augment_config = AugmentConfig.from_dict(config.augment_config)
    order = torch.randperm(len(data.labels), generator=order_gen).numpy()
    amp_dtype = autocast_dtype(device) if config.amp else None
    total, seen = 0.0, 0
    batches = range(0, len(order) - config.batch_size + 1 if len(order) >= config.batch_size else 1, config.batch_size)
    bar = tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
    for start in bar:
        index = np.sort(order[start : start + config.batch_size])  # sorted: faster reads from a memory map
        images = to_model_input(data.images[index], device)
        labels = torch.as_tensor(data.labels[index], device=device)
        if config.augment:
            images = augment_batch(images, aug_gen, augment_config)
        if config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits = model(images)
            loss = F.cross_entropy(logits.float(), labels, weight=loss_weights, label_smoothing=config.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        scheduler.step()
        total += float(loss.detach()) * len(index)
        seen += len(index)
        bar.set_postfix(loss=f"{total / seen:.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
    return total / max(seen, 1)


def evaluate_split(model: torch.nn.Module, data: SplitArrays, device: torch.device, batch_size: int = 64) -> dict[str, float]:
    """Val loss (unweighted cross-entropy) and ROC AUC of the current model."""
    logits = predict_logits(model, data.images, batch_size, device)
    prob = sigmoid(logits)
    eps = 1e-7
    loss = float(-np.mean(data.labels * np.log(prob + eps) + (1 - data.labels) * np.log(1 - prob + eps)))
    auc = float(roc_auc_score(data.labels, prob)) if len(np.unique(data.labels)) == 2 else float("nan")
    return {"val_loss": loss, "val_auc": auc}


def _metadata(config: TrainConfig, manifest: pd.DataFrame, epoch: int, metrics: dict[str, float]) -> dict[str, Any]:
    spec = ARCHITECTURES[config.architecture]
    return {
        "architecture": config.architecture,
        "image_size": config.image_size,
        "jpeg_quality": config.jpeg_quality,
        "mean": list(spec.mean),
        "std": list(spec.std),
        "dropout": config.dropout,
        "pretrained_source": (f"continued from {Path(config.init_checkpoint).name} ({spec.description})" if config.init_checkpoint
                              else spec.description if config.pretrained else "random initialisation"),
        "train_config": asdict(config),
        "manifest_digest": manifest_digest(manifest),
        "epoch": epoch + 1,
        "val_metrics": metrics,
        "operating_points": {"default": {"threshold": 0.5, "chosen_on": "none (uncalibrated default)"}},
        "temperature": 1.0,
    }


def train(
    config: TrainConfig,
    manifest: pd.DataFrame,
    data_root: str | os.PathLike,
    out_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    resume: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train on the manifest's ``train`` split, select on ``val``; the test split is never read.

    ``best.pt`` is the epoch with the best clean val AUC (a quick signal, nearly saturated on this
    data); every epoch is also kept under ``epochs/`` so that
    :func:`pneumolib.evaluation.selection.select_checkpoint` can choose on val and stress val.
    """
    device = pick_device(device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    best_path, last_path, history_path = out_dir / "best.pt", out_dir / "last.pt", out_dir / "history.csv"
    seed_everything(config.seed)

    train_data = load_split(manifest, "train", data_root, config.image_size, config.jpeg_quality,
                            config.max_images_per_split, cache_dir, progress)
    val_data = load_split(manifest, "val", data_root, config.image_size, config.jpeg_quality,
                          config.max_images_per_split, cache_dir, progress)

    model = create_model(config.architecture, config.pretrained and not config.init_checkpoint,
                         config.weights_path, config.dropout).to(device)
    if config.init_checkpoint:
        model.load_state_dict(read_checkpoint(config.init_checkpoint)["state_dict"])
    if config.channels_last:  # faster convolutions on GPUs and, measured here, on CPUs too
        model = model.to(memory_format=torch.channels_last)
    loss_weights = torch.tensor(class_weights(train_data.labels), dtype=torch.float32, device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, len(train_data.labels) // config.batch_size)
    scheduler = warmup_cosine(optimizer, int(config.warmup_epochs * steps_per_epoch), config.epochs * steps_per_epoch)
    amp_dtype = autocast_dtype(device) if config.amp else None
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None

    history: list[dict[str, Any]] = []
    start_epoch, best_auc, best_epoch, stale = 0, -1.0, -1, 0
    if resume and last_path.is_file():
        state = read_checkpoint(last_path)
        saved = state["metadata"]["train_config"]
        for key in ("architecture", "image_size", "batch_size", "jpeg_quality"):
            if saved[key] != getattr(config, key):
                raise ValueError(f"{last_path} was trained with {key}={saved[key]!r}, not {getattr(config, key)!r}; "
                                 "use another output folder or resume=False.")
        model.load_state_dict(state["state_dict"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = list(state["history"])
        start_epoch = int(state["metadata"]["epoch"])
        best_auc, best_epoch, stale = float(state["best_val_auc"]), int(state["best_epoch"]), int(state["stale_epochs"])

    epochs = tqdm(range(start_epoch, config.epochs), desc="training", disable=not progress,
                  initial=start_epoch, total=config.epochs)
    for epoch in epochs:
        if stale >= config.patience:
            break
        started = time.perf_counter()
        train_loss = train_one_epoch(model, train_data, optimizer, scheduler, loss_weights, config, epoch,
                                     device, scaler, progress)
        train_seconds = time.perf_counter() - started
        metrics = evaluate_split(model, val_data, device)
        row = {"epoch": epoch + 1, "train_loss": train_loss, **metrics, "lr": scheduler.get_last_lr()[0],
               "train_seconds": train_seconds, "train_images_per_s": len(train_data.labels) / train_seconds}
        history.append(row)
        improved = metrics["val_auc"] > best_auc
        if improved:
            best_auc, best_epoch, stale = metrics["val_auc"], epoch + 1, 0
            save_checkpoint(best_path, model, _metadata(config, manifest, epoch, metrics), history=history)
        else:
            stale += 1
        if config.keep_epoch_checkpoints:
            save_checkpoint(out_dir / "epochs" / f"epoch_{epoch + 1:02d}.pt", model,
                            _metadata(config, manifest, epoch, metrics), history=history)
        save_checkpoint(last_path, model, _metadata(config, manifest, epoch, metrics), history=history,
                        optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                        best_val_auc=best_auc, best_epoch=best_epoch, stale_epochs=stale)
        pd.DataFrame(history).to_csv(history_path, index=False)
        epochs.set_postfix(loss=f"{train_loss:.4f}", val_auc=f"{metrics['val_auc']:.4f}", best=f"{best_auc:.4f}")
    return TrainResult(best_path, last_path, pd.DataFrame(history), best_epoch, best_auc)
