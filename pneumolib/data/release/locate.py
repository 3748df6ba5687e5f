"""Find the dataset on disk: an explicit path, ``PNEUMO_DATA_DIR``, or a Kaggle download.

The Kaggle archive has quirks this module absorbs: the data sits in ``chest_xray/`` *and* again
in a nested ``chest_xray/chest_xray/`` copy, and macOS left ``__MACOSX`` folders full of
``._name`` resource forks. Every caller gets one folder holding ``train/`` and ``test/``
(``val/`` optional), each with ``NORMAL/`` and ``PNEUMONIA/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from pneumolib import environment
from pneumolib.constants import CLASS_NAMES
from pneumolib.reachability import OFFLINE_ENV, can_reach

if TYPE_CHECKING:
    import pandas as pd

DATA_DIR_ENV = environment.DATA_DIR
KAGGLE_HANDLE = "paultimothymooney/chest-xray-pneumonia"
KAGGLE_URL = "https://www.kaggle.com"
SPLITS = ("train", "val", "test")
LABELS = CLASS_NAMES  # the data set's class folders are named after the classes
_SKIPPED_FOLDERS = {"__MACOSX"}


class DataNotFoundError(FileNotFoundError):
    """No usable copy of the dataset; the message lists the three ways to provide one."""


def _missing_data_message(tried: list[str]) -> str:
    tried_text = "\n".join(f"  - {t}" for t in tried) or "  - (nothing)"
    return (
        "Could not find the chest X-ray dataset (folders train/ and test/, each with NORMAL/ and "
        "PNEUMONIA/). Provide it in one of three ways:\n"
        "  1. pass the folder explicitly, e.g. find_dataset_root('/path/to/chest_xray') or "
        "`python -m pneumolib manifest --data /path/to/chest_xray`;\n"
        f"  2. set the environment variable {DATA_DIR_ENV}=/path/to/chest_xray;\n"
        "  3. let kagglehub download it (needs internet and Kaggle credentials: "
        f"kagglehub.dataset_download('{KAGGLE_HANDLE}')).\n"
        f"What was tried:\n{tried_text}"
    )


def _is_dataset_root(folder: Path) -> bool:
    return all((folder / split / label).is_dir() for split in ("train", "test") for label in LABELS)


def resolve_dataset_root(candidate: Path, max_depth: int = 3) -> Path | None:
    """The shallowest folder at or below ``candidate`` that looks like the dataset.

    Shallowest wins so the Kaggle archive's nested duplicate ``chest_xray/chest_xray`` is ignored
    in favour of the outer copy; ``__MACOSX`` folders are never entered.
    """
    candidate = Path(candidate).expanduser()
    if not candidate.is_dir():
        return None
    level = [candidate]
    for _ in range(max_depth + 1):
        for folder in sorted(level):
            if _is_dataset_root(folder):
                return folder
        level = [
            child
            for folder in level
            for child in sorted(folder.iterdir())
            if child.is_dir() and child.name not in _SKIPPED_FOLDERS and not child.name.startswith(".")
        ]
        if not level:
            break
    return None


KAGGLEHUB_CACHE_ENV = "KAGGLEHUB_CACHE"


def kagglehub_cache_on_drive() -> Path | None:
    """Where kagglehub should keep its download: on Google Drive when the work folder is there.

    Every Colab notebook starts a fresh runtime, whose disk is empty: without this, each of
    notebooks 01-05 would download the 1.2 GB archive again. With the work folder on Drive the
    archive is kept beside it (``<work folder>/kagglehub``) and found by the next notebook. None when
    the work folder is not on Drive or ``$KAGGLEHUB_CACHE`` already says where to keep it.
    """
    from pneumolib.config import COLAB_DRIVE_DIR, work_root

    root = work_root(create=False)
    if os.environ.get(KAGGLEHUB_CACHE_ENV) or COLAB_DRIVE_DIR not in root.parents:
        return None
    return root / "kagglehub"


def download_with_kagglehub() -> Path:
    """Download (or reuse kagglehub's cached copy of) the Kaggle release; needs internet."""
    import kagglehub  # imported here: only this path needs it

    drive_cache = kagglehub_cache_on_drive()
    if drive_cache is not None:
        os.environ[KAGGLEHUB_CACHE_ENV] = str(drive_cache)  # kagglehub reads it at each call
        print(f"kagglehub keeps the download on Drive ({drive_cache}): later notebooks reuse it")
    return Path(kagglehub.dataset_download(KAGGLE_HANDLE))


def find_dataset_root(path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Locate the dataset: ``path``, then ``$PNEUMO_DATA_DIR``, then a kagglehub download.

    An explicit ``path`` that does not hold the data is an error (no silent fallback to another
    copy). With ``download=False`` the Kaggle step is skipped, which is what offline machines want.
    """
    tried: list[str] = []
    if path is not None:
        root = resolve_dataset_root(Path(path))
        if root is None:
            raise DataNotFoundError(_missing_data_message([f"explicit path {path}: no dataset there"]))
        return root
    tried.append("explicit path: none given")

    env = environment.read(DATA_DIR_ENV)
    if env:
        root = resolve_dataset_root(Path(env))
        if root is not None:
            return root
        tried.append(f"{DATA_DIR_ENV}={env}: no dataset there")
    else:
        tried.append(f"{DATA_DIR_ENV}: not set")

    if download:
        try:
            if not can_reach(KAGGLE_URL):
                raise ConnectionError(f"cannot reach {KAGGLE_URL} (offline, or {OFFLINE_ENV} is set)")
            downloaded = download_with_kagglehub()
        except Exception as error:  # kagglehub raises many kinds; all mean "no download"
            tried.append(f"kagglehub download of {KAGGLE_HANDLE}: failed ({type(error).__name__}: {error})")
        else:
            root = resolve_dataset_root(downloaded)
            if root is not None:
                return root
            tried.append(f"kagglehub download at {downloaded}: no dataset layout found inside")
    else:
        tried.append("kagglehub download: skipped (download=False)")
    raise DataNotFoundError(_missing_data_message(tried))


def list_release_files(root: str | os.PathLike) -> pd.DataFrame:
    """Every file in the split/label folders as a table (path, official_split, label): no decoding."""
    import pandas as pd

    root = Path(root)
    rows = [
        (f"{split}/{label}/{entry.name}", split, label)
        for split in SPLITS
        for label in LABELS
        if (root / split / label).is_dir()
        for entry in sorted((root / split / label).iterdir())
        if entry.is_file()
    ]
    return pd.DataFrame(rows, columns=["path", "official_split", "label"])
