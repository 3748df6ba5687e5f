"""The training loop: weighted cross-entropy, AdamW, warm-up + cosine, AMP, checkpoints, resume.

One epoch = one pass over the cached training array in a seeded random order, augmented per
batch on the training device; then the validation split is scored and the epoch's model is
kept if its val ROC AUC is the best so far. ``last.pt`` holds everything needed to resume after
an interruption (a Colab disconnect, a session limit) exactly where training stopped.

Launched by torchrun (``WORLD_SIZE > 1``), the same loop runs data-parallel on every process:
DistributedDataParallel, a shard of each global batch per rank, the validation logits gathered
from every rank, and rank 0 alone printing and writing files (see
:mod:`pneumolib.training.distributed`). A single process never touches that code.
"""

from __future__ import annotations

import contextlib
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
from pneumolib.constants import UNCALIBRATED
from pneumolib.data.inputs.arrays import SplitArrays, class_weights, load_split
from pneumolib.data.inputs.augment import AugmentConfig, augment_batch
from pneumolib.data.sources.roots import DataRoot
from pneumolib.data.split.manifest import manifest_digest
from pneumolib.engine import autocast_dtype, to_model_input
from pneumolib.inference import predict_logits, sigmoid
from pneumolib.models import ARCHITECTURES, create_model
from pneumolib.training import distributed
from pneumolib.training.distributed import SINGLE, World
from pneumolib.training.lung_guidance import captured_feature_map, evidence_map, outside_lung_share, widened
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
    ema_decay: float | None = None  # e.g. 0.998: validate and save an exponential moving average of the weights
    lung_guidance: float = 0.0  # weight of the outside-the-lungs evidence term (see training.lung_guidance)
    lung_guidance_margin: int = 0  # pixels the guidance masks are widened by (evidence at the lungs' edge is free)


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
    world: World = SINGLE,
    ema: torch.optim.swa_utils.AveragedModel | None = None,
    lung_masks: np.ndarray | None = None,
) -> float | tuple[float, float]:
    """One pass over ``data``; returns the mean training loss. ``ema`` is updated after every step.

    With ``lung_masks`` ((N, H, W) 0/1, aligned with ``data``) and ``config.lung_guidance`` > 0 the
    loss gains the lung-guidance term, and the epoch's mean outside-the-lungs share comes back too.

    With several processes (``world``; ``model`` wrapped in DDP) each rank draws the same order and
    trains on its slice of every global batch of ``batch_size * world_size`` images: the same
    steps as one process with that global batch (see :func:`distributed_loss`).
    """
    model.train()
    seed = config.seed * 1000 + epoch
    # dropout draws from the global generator: reseed per epoch so resuming replays it (per rank: own masks)
    torch.manual_seed(distributed.rank_seed(seed, world.rank))
    order_gen = torch.Generator().manual_seed(seed)  # the same order on every rank
    aug_gen = torch.Generator(device=device).manual_seed(distributed.rank_seed(seed, world.rank))
    augment_config = AugmentConfig.from_dict(config.augment_config)
    order = torch.randperm(len(data.labels), generator=order_gen).numpy()
    amp_dtype = autocast_dtype(device) if config.amp else None
    total, seen, outside_total = 0.0, 0, 0.0
    guided = lung_masks is not None and config.lung_guidance > 0
    head = (model.module if world.distributed else model).head if guided else None  # the map needs the head's weights
    step = config.batch_size * world.world_size  # the global batch
    batches = range(0, len(order) - step + 1 if len(order) >= step else 1, step)
    bar = tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
    for start in bar:
        batch = order[start : start + step]
        index = np.sort(distributed.shard(batch, world))  # sorted: faster reads from a memory map
        images = to_model_input(data.images[index], device)
        labels = torch.as_tensor(data.labels[index], device=device)
        masks = to_model_input(lung_masks[index] * 255, device) if guided else None
        if config.augment:
            augmented = augment_batch(images, aug_gen, augment_config, masks)
            images, masks = augmented if guided else (augmented, None)
        if config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type=device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None), \
                (captured_feature_map(model) if guided else contextlib.nullcontext([])) as feature_maps:
            logits = model(images)
            if world.distributed:
                batch_weight = loss_weights[torch.as_tensor(data.labels[batch], device=device)].sum()
                loss = distributed_loss(logits.float(), labels, loss_weights, config.label_smoothing, batch_weight, world)
            else:
                loss = F.cross_entropy(logits.float(), labels, weight=loss_weights, label_smoothing=config.label_smoothing)
            if guided:
                outside = outside_lung_share(evidence_map(feature_maps[-1].float(), head), masks)
                loss = loss + config.lung_guidance * outside.mean()
                outside_total += float(outside.detach().sum())
        backward_and_step(loss, optimizer, scaler)
        scheduler.step()
        if ema is not None:
            ema.update_parameters(model.module if world.distributed else model)
        total += float(loss.detach()) * len(index)
        seen += len(index)
        bar.set_postfix(loss=f"{total / seen:.4f}", lr=f"{scheduler.get_last_lr()[0]:.2e}")
    if world.distributed:  # each rank's losses are its share of the global batch's: their sum is the global mean
        total, seen, outside_total = distributed.all_reduce_sum(world, [total, seen, outside_total])
    if guided:
        return total / max(seen, 1), outside_total / max(seen, 1)
    return total / max(seen, 1)


def backward_and_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer,
                      scaler: torch.amp.GradScaler | None = None) -> None:
    """Gradients of ``loss`` and one optimiser step; through the scaler under float16 autocast."""
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()


def distributed_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    weights: torch.Tensor,
    label_smoothing: float,
    batch_weight: torch.Tensor,
    world: World,
) -> torch.Tensor:
    """One rank's share of the global batch's weighted cross-entropy, scaled for DDP's average.

    Weighted cross-entropy is a weighted mean, normalised by the sum of the targets' class weights
    (PyTorch normalises the label-smoothing term by the same sum). Each rank's own mean would
    weigh its images by its own sum, not the global batch's, so the ranks' losses are summed
    here and divided by ``batch_weight``, the global batch's sum (computed by every rank from the
    shared order, no communication); times ``world_size`` so that DDP's average of the gradients
    is exactly the gradient of the global weighted mean.
    """
    summed = F.cross_entropy(logits, labels, weight=weights, label_smoothing=label_smoothing, reduction="sum")
    return summed * (world.world_size / batch_weight)


def evaluate_split(model: torch.nn.Module, data: SplitArrays, device: torch.device, batch_size: int = 64,
                   world: World = SINGLE) -> dict[str, float]:
    """Val loss (unweighted cross-entropy) and ROC AUC of the current model.

    With several processes each scores its share of the split and every rank gets all the logits,
    so all reach the same metrics (and the same early-stopping decision). Pass the unwrapped model.
    """
    if world.distributed:
        start, stop = distributed.shard_bounds(len(data.labels), world.rank, world.world_size)
        logits = distributed.all_gather_concat(world, predict_logits(model, data.images[start:stop], batch_size, device))
    else:
        logits = predict_logits(model, data.images, batch_size, device)
    prob = sigmoid(logits)
    eps = 1e-7
    loss = float(-np.mean(data.labels * np.log(prob + eps) + (1 - data.labels) * np.log(1 - prob + eps)))
    auc = float(roc_auc_score(data.labels, prob)) if len(np.unique(data.labels)) == 2 else float("nan")
    return {"val_loss": loss, "val_auc": auc}


def make_ema(model: torch.nn.Module, decay: float) -> torch.optim.swa_utils.AveragedModel:
    """An exponential moving average of ``model``'s weights and BatchNorm statistics.

    The average of the last few hundred steps sits in a flatter region than the last step's
    weights: calls that move less under small input changes (re-encoding, a zoom), at no cost at
    inference. ``last.pt`` keeps the raw weights (to resume) and the average beside them.
    """
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    if not 0.0 < decay < 1.0:
        raise ValueError(f"ema_decay must lie between 0 and 1, got {decay}")
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def _metadata(config: TrainConfig, manifest: pd.DataFrame, epoch: int, metrics: dict[str, float],
              run: dict[str, Any]) -> dict[str, Any]:
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
        **UNCALIBRATED,
        "distributed": run,
        "weights": f"exponential moving average (decay {config.ema_decay})" if config.ema_decay else "last step",
    }


def train(
    config: TrainConfig,
    manifest: pd.DataFrame,
    data_root: DataRoot,
    out_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    resume: bool = True,
    device: str | torch.device | None = None,
    progress: bool = True,
    sync_batchnorm: bool | None = None,
) -> TrainResult:
    """Train on the manifest's ``train`` split, select on ``val``; the test split is never read.

    ``best.pt`` is the epoch with the best clean val AUC (a quick signal, nearly saturated on this
    data); every epoch is also kept under ``epochs/`` so that
    :func:`pneumolib.evaluation.selection.select_checkpoint` can choose on val and stress val.

    Under torchrun (``WORLD_SIZE > 1``, or a process group the caller initialised) this process
    joins the group, trains its shard, and leaves the group it joined when done or on an error.
    ``sync_batchnorm`` (None: on with NCCL, i.e. GPUs) computes BatchNorm statistics over the
    global batch; SyncBatchNorm needs GPUs, so on CPUs (gloo) they are each rank's own.
    """
    with distributed.membership(distributed.setup(pick_device(device))) as world:
        return _train(config, manifest, data_root, Path(out_dir), cache_dir, resume, progress, world, sync_batchnorm)


def _load_splits(config: TrainConfig, manifest: pd.DataFrame, data_root: DataRoot,
                 cache_dir: str | os.PathLike | None, progress: bool, world: World) -> tuple[SplitArrays, SplitArrays]:
    """The train and val arrays; with several processes, decoded once and memory-mapped by all.

    One rank per machine (one in all when the cache folder is shared) writes the ``.npy`` caches
    while the others wait; then every rank maps the same files, so the images sit in memory once
    per machine (the page cache), not once per process.
    """
    def load(split: str, show: bool) -> SplitArrays:
        return load_split(manifest, split, data_root, config.image_size, config.jpeg_quality,
                          config.max_images_per_split, cache_dir, show)

    if world.distributed:
        if distributed.builds_cache(world, cache_dir):
            load("train", progress)
            load("val", progress)
        distributed.barrier(world)
        progress = False
    return load("train", progress), load("val", progress)


def _lung_masks(config: TrainConfig, train_data: SplitArrays, cache_dir: str | os.PathLike | None,
                progress: bool, world: World) -> np.ndarray | None:
    """The training images' lung masks when lung guidance is on (computed once, cached beside the images)."""
    if config.lung_guidance <= 0:
        return None
    from pneumolib.training.lung_guidance import lung_mask_array, mask_cache_file

    cache = mask_cache_file(cache_dir, list(train_data.rows["path"]), config.image_size, config.jpeg_quality)
    if world.distributed and cache is not None:
        if world.is_main:
            lung_mask_array(train_data.images, cache, progress)
        distributed.barrier(world)
    return widened(lung_mask_array(train_data.images, cache, progress and world.is_main), config.lung_guidance_margin)


def _read_resume_state(last_path: Path, resume: bool, world: World) -> dict[str, Any] | None:
    """``last.pt`` as rank 0 reads it, on every rank (the output folder need not be shared)."""
    state = read_checkpoint(last_path) if resume and world.is_main and last_path.is_file() else None
    return distributed.broadcast_object(world, state)


def _check_resume(state: dict[str, Any], last_path: Path, config: TrainConfig, world: World) -> None:
    saved = state["metadata"]["train_config"]
    for key in ("architecture", "image_size", "batch_size", "jpeg_quality", "ema_decay"):
        if saved.get(key) != getattr(config, key):
            raise ValueError(f"{last_path} was trained with {key}={saved.get(key)!r}, not {getattr(config, key)!r}; "
                             "use another output folder or resume=False.")
    processes = int(state["metadata"].get("distributed", {}).get("world_size", 1))
    if processes != world.world_size:  # another global batch: other steps, another schedule
        raise ValueError(f"{last_path} was trained by {processes} process(es) x batch {config.batch_size} (global batch "
                         f"{processes * config.batch_size}), this run has {world.world_size} (global batch "
                         f"{world.world_size * config.batch_size}): it would not continue where it stopped. Start as many "
                         "processes as before, or use another output folder or resume=False (--restart).")


def _train(config: TrainConfig, manifest: pd.DataFrame, data_root: DataRoot, out_dir: Path,
           cache_dir: str | os.PathLike | None, resume: bool, progress: bool, world: World,
           sync_batchnorm: bool | None) -> TrainResult:
    device = world.device
    main = world.is_main
    progress = progress and main
    best_path, last_path, history_path = out_dir / "best.pt", out_dir / "last.pt", out_dir / "history.csv"
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    sync_batchnorm = world.distributed and (world.backend == "nccl" if sync_batchnorm is None else sync_batchnorm)
    if sync_batchnorm and device.type != "cuda":
        raise ValueError("SyncBatchNorm needs CUDA devices; on CPUs (gloo) each rank keeps its own BatchNorm statistics.")
    if world.distributed:
        if cache_dir is None:
            cache_dir = out_dir / "cache"
        if main:
            print(f"distributed: {world.world_size} processes ({world.backend}), {config.batch_size} images each, "
                  f"global batch {config.batch_size * world.world_size}"
                  f"{', SyncBatchNorm' if sync_batchnorm else ''}", flush=True)
    run = {"world_size": world.world_size, "backend": world.backend, "sync_batchnorm": sync_batchnorm}

    train_data, val_data = _load_splits(config, manifest, data_root, cache_dir, progress, world)
    if len(train_data.labels) < world.world_size:
        raise ValueError(f"{len(train_data.labels)} training images cannot be shared by {world.world_size} processes.")

    lung_masks = _lung_masks(config, train_data, cache_dir, progress, world)
    model = create_model(config.architecture, config.pretrained and not config.init_checkpoint,
                         config.weights_path, config.dropout).to(device)
    if config.init_checkpoint:
        model.load_state_dict(read_checkpoint(config.init_checkpoint)["state_dict"])
    if config.channels_last:  # faster convolutions on GPUs and, measured here, on CPUs too
        model = model.to(memory_format=torch.channels_last)
    if sync_batchnorm:
        model = distributed.convert_sync_batchnorm(model)
    loss_weights = torch.tensor(class_weights(train_data.labels), dtype=torch.float32, device=device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, len(train_data.labels) // (config.batch_size * world.world_size))
    scheduler = warmup_cosine(optimizer, int(config.warmup_epochs * steps_per_epoch), config.epochs * steps_per_epoch)
    amp_dtype = autocast_dtype(device) if config.amp else None
    scaler = torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None

    ema = make_ema(model, config.ema_decay) if config.ema_decay else None
    history: list[dict[str, Any]] = []
    start_epoch, best_auc, best_epoch, stale = 0, -1.0, -1, 0
    state = _read_resume_state(last_path, resume, world)
    if state is not None:
        _check_resume(state, last_path, config, world)
        model.load_state_dict(state["state_dict"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = list(state["history"])
        start_epoch = int(state["metadata"]["epoch"])
        best_auc, best_epoch, stale = float(state["best_val_auc"]), int(state["best_epoch"]), int(state["stale_epochs"])
    trained = distributed.wrap_model(model, world)  # DDP under torchrun; checkpoints come from ``model``

    epochs = tqdm(range(start_epoch, config.epochs), desc="training", disable=not progress,
                  initial=start_epoch, total=config.epochs)
    for epoch in epochs:
        if stale >= config.patience:
            break
        started = time.perf_counter()
        train_loss = train_one_epoch(trained, train_data, optimizer, scheduler, loss_weights, config, epoch,
                                     device, scaler, progress, world, ema, lung_masks)
        guidance = {}
        if isinstance(train_loss, tuple):
            train_loss, share = train_loss
            guidance = {"train_outside_lung_share": share}
        train_seconds = time.perf_counter() - started
        distributed.broadcast_buffers(world, model)  # every rank evaluates the model rank 0 saves
        kept = ema.module if ema is not None else model  # what is validated and saved as the epoch's model
        metrics = evaluate_split(kept, val_data, device, world=world)
        row = {"epoch": epoch + 1, "train_loss": train_loss, **metrics, "lr": scheduler.get_last_lr()[0],
               "train_seconds": train_seconds, "train_images_per_s": len(train_data.labels) / train_seconds, **guidance}
        history.append(row)
        improved = metrics["val_auc"] > best_auc
        if improved:
            best_auc, best_epoch, stale = metrics["val_auc"], epoch + 1, 0
        else:
            stale += 1
        if main:
            metadata = _metadata(config, manifest, epoch, metrics, run)
            if improved:
                save_checkpoint(best_path, kept, metadata, history=history)
            if config.keep_epoch_checkpoints:
                save_checkpoint(out_dir / "epochs" / f"epoch_{epoch + 1:02d}.pt", kept, metadata, history=history)
            resume_state = {"ema": ema.state_dict()} if ema is not None else {}
            save_checkpoint(last_path, model, metadata, history=history,
                            optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                            best_val_auc=best_auc, best_epoch=best_epoch, stale_epochs=stale, **resume_state)
            pd.DataFrame(history).to_csv(history_path, index=False)
        epochs.set_postfix(loss=f"{train_loss:.4f}", val_auc=f"{metrics['val_auc']:.4f}", best=f"{best_auc:.4f}")
    distributed.barrier(world)  # the files exist when any rank returns
    return TrainResult(best_path, last_path, pd.DataFrame(history), best_epoch, best_auc)
