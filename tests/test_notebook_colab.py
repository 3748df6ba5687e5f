"""The Colab-only branches, run against a stub ``google.colab`` module."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

import pneumolib.notebook.colab as colab
from pneumolib import config


class MessageError(RuntimeError):
    """What Colab's ``drive.mount`` raises when the learner declines access."""


@pytest.fixture
def fake_colab(monkeypatch, tmp_path):
    """A ``google.colab`` whose ``drive.mount`` creates MyDrive under ``tmp_path``, or raises ``refusals.pop(0)``."""
    drive_root = tmp_path / "drive" / "MyDrive"
    mounts = []
    refusals: list[Exception] = []

    def mount(point: str) -> None:
        mounts.append(point)
        if refusals:
            raise refusals.pop(0)
        drive_root.mkdir(parents=True)

    google = types.ModuleType("google")
    package = types.ModuleType("google.colab")
    package.drive = types.SimpleNamespace(mount=mount)
    google.colab = package
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", package)
    monkeypatch.setattr(config, "COLAB_DRIVE_DIR", drive_root)
    monkeypatch.setattr(colab, "COLAB_DRIVE_DIR", drive_root)
    monkeypatch.setattr(config, "COLAB_LOCAL_CACHE", tmp_path / "local_cache")
    for name in ("CI", "PNEUMO_WORK_DIR", "PNEUMO_CACHE_DIR", "PNEUMO_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return types.SimpleNamespace(mounts=mounts, drive_root=drive_root, refusals=refusals)


def test_mounts_drive_and_keeps_caches_local(fake_colab, tmp_path):
    mounts, drive_root = fake_colab.mounts, fake_colab.drive_root
    choice = colab.mount_drive()
    assert mounts == ["/content/drive"] and choice.drive_mounted
    assert choice.work_dir == drive_root / "pneumolib"
    assert choice.cache_dir == tmp_path / "local_cache"  # not on Drive
    assert "survive" in str(choice)
    again = colab.mount_drive()  # re-running the cell does not mount twice
    assert mounts == ["/content/drive"] and again.drive_mounted


def test_opting_out_and_ci_skip_the_mount(fake_colab, monkeypatch, tmp_path):
    mounts = fake_colab.mounts
    choice = colab.mount_drive(use_drive=False)
    assert not choice.drive_mounted and "lost when this runtime ends" in choice.why
    assert choice.work_dir == Path("pneumo_work") and choice.cache_dir == Path("pneumo_work") / "cache"
    monkeypatch.setenv("CI", "true")
    assert "CI" in colab.mount_drive().why
    assert mounts == []


@pytest.mark.parametrize("refusal", [MessageError("Error: credential propagation was unsuccessful"),
                                     ValueError("mount failed")])
def test_declining_drive_keeps_everything_on_the_runtime_disk(fake_colab, refusal):
    mounts, drive_root = fake_colab.mounts, fake_colab.drive_root
    fake_colab.refusals.append(refusal)
    choice = colab.mount_drive()  # Run all goes on
    assert mounts == ["/content/drive"] and not choice.drive_mounted
    assert choice.work_dir == Path("pneumo_work") and choice.cache_dir == Path("pneumo_work") / "cache"
    assert "declined" in choice.why and type(refusal).__name__ in choice.why
    assert "lost when this runtime ends" in choice.why and "bundled model" in choice.why
    again = colab.mount_drive()  # running the cell again asks again; accepted this time
    assert mounts == ["/content/drive"] * 2 and again.drive_mounted and again.work_dir == drive_root / "pneumolib"


def test_the_quick_profile_works_in_its_own_folder_on_drive(fake_colab, monkeypatch):
    monkeypatch.setenv("PNEUMO_PROFILE", "quick")
    assert colab.mount_drive().work_dir == fake_colab.drive_root / "pneumolib" / "quick"


def test_outside_colab_nothing_is_mounted(monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PNEUMO_WORK_DIR", raising=False)
    monkeypatch.delenv("PNEUMO_CACHE_DIR", raising=False)
    choice = colab.mount_drive()
    assert not choice.drive_mounted and "not running in Colab" in choice.why


def test_cache_dir_env_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("PNEUMO_CACHE_DIR", str(tmp_path / "c"))
    assert config.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()

