"""Google Colab conveniences for the notebooks: keep the work folder on Drive, say where things are.

A Colab runtime's disk is wiped when the runtime ends, so what notebook 03 trains would be gone
before notebook 04 opens. Mounting Drive puts the work folder (checkpoints, reports) at
``MyDrive/pneumolib``; the large image caches stay on the runtime's local disk
(:func:`pneumolib.config.cache_dir`). Outside Colab, and in CI, nothing is mounted.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pneumolib import environment
from pneumolib.config import COLAB_DRIVE_DIR, WORK_DIR_ENV, cache_dir, work_dir

DRIVE_MOUNT_POINT = "/content/drive"
RUNTIME_ONLY = ("Checkpoints, reports and caches are lost when this runtime ends (closed, idle too long, or "
                "reset), so a later notebook in a new runtime uses the bundled model, not the one trained here.")


def in_colab() -> bool:
    """True inside a Google Colab runtime (its ``google.colab`` module is loaded there)."""
    return "google.colab" in sys.modules


@dataclass(frozen=True)
class StorageChoice:
    """Where this notebook keeps its work, and why."""

    drive_mounted: bool
    work_dir: Path
    cache_dir: Path
    why: str

    def __str__(self) -> str:
        return f"work folder: {self.work_dir}\nimage caches: {self.cache_dir}\n({self.why})"


def mount_drive(use_drive: bool = True) -> StorageChoice:
    """Mount Google Drive in Colab (asks for permission once per runtime); a no-op elsewhere.

    ``use_drive=False`` keeps everything on the runtime's disk (lost when it ends), and so does
    declining the permission pop-up: that never stops Run all. Skipped outside Colab, in CI
    (``$CI`` set) and when ``$PNEUMO_WORK_DIR`` already names a folder.
    """
    if not in_colab():
        why = "not running in Colab: nothing to mount"
    elif environment.read(WORK_DIR_ENV):
        why = f"{WORK_DIR_ENV} names the work folder: Drive not mounted"
    elif os.environ.get("CI"):
        why = "CI run: Drive not mounted"
    elif not use_drive:
        why = f"USE_DRIVE is False: everything stays on this runtime's disk. {RUNTIME_ONLY}"
    else:
        declined = None if COLAB_DRIVE_DIR.is_dir() else _try_mount()
        if declined is None and COLAB_DRIVE_DIR.is_dir():
            why = "Drive mounted: checkpoints and reports survive this runtime; notebooks 04-06 find them"
            return StorageChoice(True, work_dir(), cache_dir(), why)
        why = (f"Drive {declined or 'was not mounted'}: everything stays on this runtime's disk. {RUNTIME_ONLY} "
               "To keep them, run this cell again and allow access to Google Drive.")
    return StorageChoice(False, work_dir(), cache_dir(), why)


def _try_mount() -> str | None:
    """Ask for Drive; None when mounted, else what happened (a refusal, a closed pop-up, a failure).

    Colab raises when the learner declines (``MessageError``, ``ValueError`` ...): any exception
    from ``drive.mount`` is a decline, so Run all goes on with the runtime's disk instead of stopping.
    """
    try:
        from google.colab import drive

        drive.mount(DRIVE_MOUNT_POINT)
    except Exception as error:  # noqa: BLE001 - whatever Colab raises, the learner said no or Drive is away
        return f"access was declined or failed ({type(error).__name__}: {error})"
    return None
