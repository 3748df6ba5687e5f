"""Each profile keeps its outputs apart, and the full profile never picks up a quick-profile model."""

from __future__ import annotations

from pathlib import Path

import pytest

from pneumolib import checkpoint as checkpoints
from pneumolib import config


@pytest.fixture
def work(monkeypatch, tmp_path) -> Path:
    monkeypatch.setenv("PNEUMO_WORK_DIR", str(tmp_path / "work"))
    for name in ("PNEUMO_PROFILE", "PNEUMO_CACHE_DIR", "PNEUMO_CHECKPOINT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "work"


def model_pt(folder: Path, max_images_per_split: int | None, image_size: int) -> Path:
    """A checkpoint file with only what find_checkpoint reads (its training config)."""
    train_config = {"image_size": image_size, "max_images_per_split": max_images_per_split}
    return checkpoints.write_payload(folder / checkpoints.WORK_DIR_MODEL, {
        "format": checkpoints.FORMAT, "format_version": checkpoints.FORMAT_VERSION,
        "metadata": {"architecture": "efficientnet_lite0", "train_config": train_config}, "state_dict": {}})


def test_the_full_profile_works_in_the_work_folder_and_quick_in_a_subfolder(work, monkeypatch):
    assert config.work_dir() == work and config.cache_dir() == work / "cache"
    monkeypatch.setenv("PNEUMO_PROFILE", "quick")
    assert config.work_dir() == work / "quick" and config.cache_dir() == work / "quick" / "cache"
    assert config.work_root() == work
    assert (work / "quick").is_dir()


def test_each_profile_finds_its_own_model(work, monkeypatch):
    full = model_pt(work, None, 224)
    monkeypatch.setenv("PNEUMO_PROFILE", "quick")
    path, source = checkpoints.find_checkpoint()
    assert path == checkpoints.BUNDLED_CHECKPOINT and "no quick-profile model.pt" in source  # not the full one
    quick = model_pt(work / "quick", 160, 96)
    assert checkpoints.find_checkpoint() == (quick, f"trained in the work folder ({work / 'quick'}) by a quick-profile run")
    monkeypatch.delenv("PNEUMO_PROFILE")
    path, source = checkpoints.find_checkpoint()
    assert path == full and "full-profile run" in source


def test_the_full_profile_passes_over_a_model_trained_on_a_subset(work):
    """What a quick run left in the shared folder before the profiles had folders of their own."""
    model_pt(work, 160, 96)
    path, source = checkpoints.find_checkpoint()
    assert path == checkpoints.BUNDLED_CHECKPOINT
    assert "passed over" in source and "160 images per split" in source and "quick-profile" in source


def test_an_explicit_or_named_checkpoint_is_taken_as_given(work, monkeypatch, tmp_path):
    quick = model_pt(work, 160, 96)
    assert checkpoints.find_checkpoint(quick) == (quick, "given explicitly")
    monkeypatch.setenv("PNEUMO_CHECKPOINT", str(quick))
    assert checkpoints.find_checkpoint() == (quick, "from PNEUMO_CHECKPOINT")


def test_an_unreadable_model_is_still_picked_so_its_error_is_seen(work):
    (work / "model.pt").parent.mkdir(parents=True)
    (work / "model.pt").write_bytes(b"not a checkpoint")
    assert checkpoints.find_checkpoint()[0] == work / "model.pt"


def test_a_clone_is_told_apart_from_an_installed_package(monkeypatch, tmp_path):
    assert config.checkout_root() == config.REPOSITORY_ROOT
    assert config.project_file("README.md", "a test").is_file()
    monkeypatch.setattr(config, "REPOSITORY_ROOT", tmp_path)  # site-packages: no setup.py beside the package
    assert config.checkout_root() is None
    with pytest.raises(config.CheckoutOnly, match="only a clone.*git clone.*, or do without"):
        config.project_file("README.md", "a test", "do without")
