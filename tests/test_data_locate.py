from pathlib import Path

import pytest

from pneumolib.data.release import locate
from pneumolib.data.release.locate import DataNotFoundError, find_dataset_root, resolve_dataset_root


def make_layout(folder: Path) -> Path:
    for split in ("train", "test", "val"):
        for label in ("NORMAL", "PNEUMONIA"):
            (folder / split / label).mkdir(parents=True)
    return folder


def test_explicit_path_and_parent(tmp_path):
    root = make_layout(tmp_path / "chest_xray")
    assert find_dataset_root(root, download=False) == root
    assert find_dataset_root(tmp_path, download=False) == root  # the folder above works too


def test_kaggle_archive_quirks(tmp_path):
    # Kaggle: archive/chest_xray/{train,...} plus a nested chest_xray/chest_xray copy and __MACOSX
    outer = make_layout(tmp_path / "archive" / "chest_xray")
    make_layout(outer / "chest_xray")
    make_layout(tmp_path / "archive" / "__MACOSX" / "chest_xray")
    assert resolve_dataset_root(tmp_path / "archive") == outer


def test_macosx_only_is_not_a_dataset(tmp_path):
    make_layout(tmp_path / "__MACOSX" / "chest_xray")
    assert resolve_dataset_root(tmp_path) is None


def test_environment_variable(tmp_path, monkeypatch):
    root = make_layout(tmp_path / "data")
    monkeypatch.setenv(locate.DATA_DIR_ENV, str(root))
    assert find_dataset_root(download=False) == root


def test_kagglehub_is_the_third_way(tmp_path, monkeypatch):
    root = make_layout(tmp_path / "kaggle" / "chest_xray")
    monkeypatch.delenv(locate.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(locate, "download_with_kagglehub", lambda: tmp_path / "kaggle")
    monkeypatch.setattr(locate, "can_reach", lambda url: True)
    assert find_dataset_root() == root


def test_offline_skips_the_download(tmp_path, monkeypatch):
    monkeypatch.delenv(locate.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("PNEUMO_OFFLINE", "1")
    monkeypatch.setattr(locate, "download_with_kagglehub", lambda: pytest.fail("tried to download"))
    with pytest.raises(DataNotFoundError, match="PNEUMO_OFFLINE"):
        find_dataset_root()


def test_missing_data_error_names_the_three_ways(tmp_path, monkeypatch):
    monkeypatch.setenv(locate.DATA_DIR_ENV, str(tmp_path / "nowhere"))

    def offline():
        raise ConnectionError("no internet")

    monkeypatch.setattr(locate, "download_with_kagglehub", offline)
    monkeypatch.setattr(locate, "can_reach", lambda url: True)
    with pytest.raises(DataNotFoundError) as error:
        find_dataset_root()
    message = str(error.value)
    assert "1. pass the folder explicitly" in message
    assert "2. set the environment variable PNEUMO_DATA_DIR" in message
    assert "3. let kagglehub download it" in message
    assert "no internet" in message and "nowhere" in message


def test_explicit_path_without_data_is_an_error(tmp_path):
    with pytest.raises(DataNotFoundError, match="explicit path"):
        find_dataset_root(tmp_path, download=False)


def test_kagglehub_keeps_its_download_on_drive_when_the_work_folder_is_there(tmp_path, monkeypatch):
    """Each Colab notebook is a fresh runtime: the 1.2 GB archive must not be fetched five times."""
    import sys
    import types

    from pneumolib import config

    drive = tmp_path / "drive" / "MyDrive"
    monkeypatch.setattr(config, "COLAB_DRIVE_DIR", drive)
    monkeypatch.delenv("KAGGLEHUB_CACHE", raising=False)
    monkeypatch.setenv("PNEUMO_WORK_DIR", str(drive / "pneumolib"))
    assert locate.kagglehub_cache_on_drive() == drive / "pneumolib" / "kagglehub"
    seen = {}
    fake = types.ModuleType("kagglehub")
    fake.dataset_download = lambda handle: seen.setdefault("cache", __import__("os").environ["KAGGLEHUB_CACHE"]) and str(tmp_path)
    monkeypatch.setitem(sys.modules, "kagglehub", fake)
    assert locate.download_with_kagglehub() == tmp_path
    assert seen["cache"] == str(drive / "pneumolib" / "kagglehub")
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "mine"))  # the learner's own choice wins
    assert locate.kagglehub_cache_on_drive() is None
    monkeypatch.delenv("KAGGLEHUB_CACHE")
    monkeypatch.setenv("PNEUMO_WORK_DIR", str(tmp_path / "local"))  # not on Drive: kagglehub's default
    assert locate.kagglehub_cache_on_drive() is None
