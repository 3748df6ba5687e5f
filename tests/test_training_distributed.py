"""Data-parallel training (torch.distributed, gloo on the CPU): real processes, real process groups.

* 2 ranks x batch B take the same steps as 1 process x batch 2B (weights equal to float
  tolerance), and differ from ranks that step on their own gradients: the gradients are averaged,
  with the class-weighted loss normalised over the global batch;
* ``torchrun -m pneumolib train`` on the fixtures writes one set of files (rank 0's), a checkpoint
  that records its world size and loads like any other, and resumes;
* a resumed 2-process run ends where an uninterrupted one does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pneumolib.checkpoint import load_checkpoint, read_checkpoint
from pneumolib.data.inputs.arrays import SplitArrays, class_weights
from pneumolib.data.split.manifest import load_manifest
from pneumolib.models import create_model
from pneumolib.training import distributed
from pneumolib.training.distributed import SINGLE, World
from pneumolib.training.trainer import TrainConfig, distributed_loss, train, train_one_epoch

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
EQUIVALENCE_TOLERANCE = 1e-5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _join_group(rank: int, world_size: int, port: int) -> World:
    """What torchrun gives each process: the env:// variables; then the package's own setup."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size), OMP_NUM_THREADS="1")
    torch.set_num_threads(1)
    return distributed.setup(torch.device("cpu"))


def _toy_data() -> SplitArrays:
    """40 small images, 3 of 4 pneumonia: the ranks' class-weight sums differ from batch to batch."""
    rng = np.random.default_rng(0)
    labels = (rng.random(40) < 0.75).astype(np.int64)
    images = rng.integers(0, 256, size=(40, 12, 12), dtype=np.uint8)
    images[labels == 1, 3:9, 3:9] //= 2  # something to learn
    return SplitArrays(images, labels, pd.DataFrame({"path": [f"{i}.png" for i in range(40)]}))


def _few_steps(world: World, batch_size: int, average: bool = True) -> dict[str, torch.Tensor]:
    """The real ``train_one_epoch`` for 2 epochs (10 steps of 2 x 4 images) on a small model.

    No BatchNorm, no dropout, no augmentation: nothing but the gradients may differ. Plain SGD,
    so a gradient of the wrong scale shows (Adam would normalise it away).
    """
    data = _toy_data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    trained = distributed.wrap_model(model, world) if average else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    weights = torch.tensor(class_weights(data.labels), dtype=torch.float32)
    config = TrainConfig(batch_size=batch_size, epochs=2, seed=7, augment=False, channels_last=False, amp=False,
                         dropout=0.0, label_smoothing=0.05)
    for epoch in range(config.epochs):
        train_one_epoch(trained, data, optimizer, scheduler, weights, config, epoch, torch.device("cpu"),
                        progress=False, world=world)
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _equivalence_worker(rank: int, world_size: int, port: int, batch_size: int, out: str) -> None:
    with distributed.membership(_join_group(rank, world_size, port)) as world:
        averaged = _few_steps(world, batch_size)
        alone = _few_steps(world, batch_size, average=False)  # each rank steps on its own gradients
        if world.is_main:
            torch.save({"averaged": averaged, "alone": alone}, out)


def _max_difference(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[name] - b[name]).abs().max()) for name in a)


def test_two_ranks_take_the_steps_of_one_process_with_twice_the_batch(tmp_path):
    out = tmp_path / "weights.pt"
    torch.multiprocessing.spawn(_equivalence_worker, args=(2, _free_port(), 4, str(out)), nprocs=2, join=True)
    ranks = torch.load(out, weights_only=True)
    one_process = _few_steps(SINGLE, 8)
    difference = _max_difference(ranks["averaged"], one_process)
    not_averaged = _max_difference(ranks["alone"], one_process)
    half_batch = _max_difference(_few_steps(SINGLE, 4), one_process)
    print(f"max |w| difference: 2 ranks x 4 vs 1 x 8 {difference:.2e}; without averaging {not_averaged:.2e}; "
          f"1 x 4 {half_batch:.2e}")
    assert difference < EQUIVALENCE_TOLERANCE
    assert not_averaged > 100 * EQUIVALENCE_TOLERANCE and half_batch > 100 * EQUIVALENCE_TOLERANCE


def test_ranks_share_of_the_weighted_loss_sums_to_the_global_weighted_mean():
    torch.manual_seed(0)
    logits, labels = torch.randn(16, 2, dtype=torch.float64), torch.tensor([1] * 12 + [0] * 4)[torch.randperm(16)]
    weights = torch.tensor([2.0, 0.67], dtype=torch.float64)
    expected = F.cross_entropy(logits, labels, weight=weights, label_smoothing=0.05)
    total = weights[labels].sum()
    one = distributed_loss(logits, labels, weights, 0.05, total, World(world_size=1))
    assert float(one) == pytest.approx(float(expected), rel=1e-12)
    two = World(world_size=2)
    shares = [distributed_loss(logits[part], labels[part], weights, 0.05, total, two) for part in (slice(0, 5), slice(5, 16))]
    assert float(sum(shares) / 2) == pytest.approx(float(expected), rel=1e-12)  # DDP's average
    naive = (F.cross_entropy(logits[:5], labels[:5], weight=weights, label_smoothing=0.05)
             + F.cross_entropy(logits[5:], labels[5:], weight=weights, label_smoothing=0.05)) / 2
    assert abs(float(naive - expected)) > 1e-3  # what each rank's own mean would have given


def test_shards_tile_each_global_batch_and_seeds_differ_per_rank():
    batch = np.arange(100, 108)
    parts = [distributed.shard(batch, World(rank=r, world_size=2)) for r in range(2)]
    assert [list(p) for p in parts] == [[100, 101, 102, 103], [104, 105, 106, 107]]
    bounds = [distributed.shard_bounds(10, r, 4) for r in range(4)]
    assert bounds == [(0, 3), (3, 6), (6, 8), (8, 10)]
    assert list(distributed.shard(batch, SINGLE)) == list(batch)
    assert distributed.rank_seed(42042, 0) == 42042  # rank 0 and single processes: today's seed
    assert len({distributed.rank_seed(42042, r) for r in range(4)}) == 4


def test_a_plain_process_is_not_distributed(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    world = distributed.setup(torch.device("cpu"))
    assert world == World(device=torch.device("cpu")) and not world.distributed and world.is_main
    assert distributed.all_reduce_sum(world, [1.5, 2]) == [1.5, 2.0]
    monkeypatch.setenv("RANK", "1")
    assert not distributed.is_main_process()
    monkeypatch.setenv(distributed.BACKEND_ENV, "mpi")
    with pytest.raises(ValueError, match="nccl or gloo"):
        distributed.choose_backend(torch.device("cpu"))


def test_each_process_gets_the_gpu_of_its_local_rank(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert distributed.process_device(torch.device("cuda"), local_rank=1) == torch.device("cuda", 1)
    assert distributed.process_device(torch.device("cpu"), local_rank=1) == torch.device("cpu")
    with pytest.raises(RuntimeError, match="one process per GPU"):
        distributed.process_device(torch.device("cuda"), local_rank=2)
    monkeypatch.delenv(distributed.BACKEND_ENV, raising=False)
    assert distributed.choose_backend(torch.device("cuda", 1)) == "nccl"
    assert distributed.choose_backend(torch.device("cpu")) == "gloo"


def test_sync_batchnorm_keeps_the_checkpoint_format():
    model = create_model("efficientnet_lite0", pretrained=False)
    synced = distributed.convert_sync_batchnorm(model)
    assert any(isinstance(m, nn.SyncBatchNorm) for m in synced.modules())
    assert sum(isinstance(m, nn.ReLU6) for m in synced.modules()) > 0  # timm's BN + activation layers keep their activation
    plain = create_model("efficientnet_lite0", pretrained=False)
    plain.load_state_dict(synced.state_dict())  # strict: same keys


def _resume_worker(rank: int, world_size: int, port: int, root: str, manifest_csv: str, out: str) -> None:
    with distributed.membership(_join_group(rank, world_size, port)):  # train() uses this group, leaves it to its owner
        manifest = load_manifest(manifest_csv)
        config = TrainConfig(architecture="efficientnet_lite0", pretrained=False, image_size=32, batch_size=4, epochs=2,
                             seed=5, keep_epoch_checkpoints=False)
        straight = train(config, manifest, root, Path(out) / "straight", progress=False)
        train(TrainConfig(**{**config.__dict__, "epochs": 1}), manifest, root, Path(out) / "resumed", progress=False)
        resumed = train(config, manifest, root, Path(out) / "resumed", progress=False)
        assert list(resumed.history["epoch"]) == [1, 2] and resumed.best_epoch == straight.best_epoch


def test_a_resumed_two_process_run_ends_where_an_uninterrupted_one_does(fixture_build, tmp_path):
    manifest_csv = tmp_path / "manifest.csv"
    fixture_build.manifest.to_csv(manifest_csv, index=False)
    torch.multiprocessing.spawn(_resume_worker, nprocs=2, join=True,
                                args=(2, _free_port(), str(fixture_build.root), str(manifest_csv), str(tmp_path)))
    straight = read_checkpoint(tmp_path / "straight" / "last.pt")
    resumed = read_checkpoint(tmp_path / "resumed" / "last.pt")
    assert resumed["metadata"]["distributed"]["world_size"] == 2
    for name, value in straight["state_dict"].items():
        assert torch.allclose(value.float(), resumed["state_dict"][name].float(), atol=1e-5), name
    assert (tmp_path / "straight" / "cache").is_dir()  # no cache folder given: one inside the output folder


def _torchrun_train(tmp_path: Path, manifest_csv: Path, epochs: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "PNEUMO_PROFILE": "quick", "PNEUMO_WORK_DIR": str(tmp_path / "work"),
           "PNEUMO_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "pneumolib", "train", "--offline", "--data", str(REPO / "tests" / "fixtures" / "chest_xray"),
               "--manifest", str(manifest_csv), "--epochs", str(epochs), "--image-size", "64", "--batch-size", "4",
               "--no-pretrained", "--out", str(tmp_path / "out")]
    done = subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_torchrun_trains_writes_once_and_resumes(fixture_build, tmp_path):
    manifest_csv = tmp_path / "manifest.csv"
    fixture_build.manifest.to_csv(manifest_csv, index=False)
    first = _torchrun_train(tmp_path, manifest_csv, epochs=1)
    out = tmp_path / "out"
    assert first.stdout.count("distributed: 2 processes (gloo)") == 1
    assert first.stdout.count("best checkpoint:") == 1  # rank 0 alone reports
    assert {"best.pt", "last.pt", "history.csv"} <= {p.name for p in out.iterdir()}
    assert list(pd.read_csv(out / "history.csv")["epoch"]) == [1]
    model, metadata = load_checkpoint(out / "best.pt")  # like any other checkpoint
    assert metadata["distributed"] == {"world_size": 2, "backend": "gloo", "sync_batchnorm": False}
    assert not any(key.startswith("module.") for key in read_checkpoint(out / "last.pt")["state_dict"])
    with torch.no_grad():
        assert model(torch.rand(2, 1, 64, 64)).shape == (2, 2)
    assert len(list((tmp_path / "cache").glob("images_64px_*.npy"))) == 2  # train and val, built once

    second = _torchrun_train(tmp_path, manifest_csv, epochs=2)  # continues from last.pt
    assert "best checkpoint:" in second.stdout
    assert list(pd.read_csv(out / "history.csv")["epoch"]) == [1, 2]
    assert read_checkpoint(out / "last.pt")["metadata"]["epoch"] == 2

    config = TrainConfig(pretrained=False, image_size=64, batch_size=4, epochs=3, max_images_per_split=160)
    with pytest.raises(ValueError, match="2 process"):  # one process cannot continue a 2-process run
        train(config, fixture_build.manifest, fixture_build.root, out, cache_dir=tmp_path / "cache", progress=False)


def test_ranks_leave_together_after_a_normal_end_and_at_once_after_an_error(monkeypatch):
    calls = []
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(distributed, "barrier", lambda world: calls.append("barrier"))
    monkeypatch.setattr(distributed.dist, "destroy_process_group", lambda: calls.append("destroy"))
    owner = World(rank=1, world_size=2, backend="gloo", owns_group=True)
    with distributed.membership(owner) as world:
        assert world is owner
    assert calls == ["barrier", "destroy"]
    calls.clear()
    with pytest.raises(RuntimeError), distributed.membership(owner):
        raise RuntimeError("a rank failed")
    assert calls == ["destroy"]  # no barrier the other ranks might never reach
    calls.clear()
    with distributed.membership(World(world_size=2, backend="gloo", owns_group=False)):
        pass
    assert calls == []  # a group the caller made is the caller's to leave
