from pathlib import Path

import pytest

from pneumolib.data import locate
from pneumolib.data.locate import DataNotFoundError, find_dataset_root, resolve_dataset_root


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
