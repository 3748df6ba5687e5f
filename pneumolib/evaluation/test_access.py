"""The official test split's access log: every look at it, by whom (which checkpoint) and why.

A test split that is looked at repeatedly while models are changed becomes a validation split
in disguise. The project's rule: a model is chosen on val and stress val only, then evaluated on
test once, and every look is written here so that the model card can list them. Each row holds
the date, the checkpoint's file name and sha256, the purpose, and how many test films were read.

Where the log lives: ``$PNEUMO_TEST_LOG`` if set, else ``<work dir>/test_access_log.csv`` (the
active profile's work folder: a quick run's looks are listed apart from a full run's); the
project's own log (``docs/test_split_access.csv``) is what ``evaluate --update-docs`` writes to
and what the model card lists. Only a clone has it: an installed package logs to the work folder,
and asking it for the project's log raises :class:`~pneumolib.config.CheckoutOnly`.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from pathlib import Path

import pandas as pd

from pneumolib import environment, project_paths
from pneumolib.config import project_file, work_dir
from pneumolib.file_digest import file_sha256

TEST_LOG_ENV = environment.TEST_LOG
FIELDS = ("date", "checkpoint", "sha256", "purpose", "images")


def project_test_log() -> Path:
    """The project's log in this clone; :class:`~pneumolib.config.CheckoutOnly` in an installed package."""
    return project_file(project_paths.TEST_LOG, "the project's test-split access log (--update-docs)")


def access_log_path(project: bool = False) -> Path:
    """The log to write to: ``$PNEUMO_TEST_LOG``, else the project's (``project=True``) or the work folder's."""
    env = environment.read(TEST_LOG_ENV)
    if env:
        return Path(env)
    return project_test_log() if project else work_dir() / "test_access_log.csv"


def record_test_access(checkpoint: str | os.PathLike, purpose: str, images: int,
                       log: str | os.PathLike | None = None, today: dt.date | None = None) -> Path:
    """Append one look at the test split to ``log`` (default :func:`access_log_path`)."""
    if not purpose.strip():
        raise ValueError("say why the test split is read: the purpose goes into the access log")
    path = Path(log) if log is not None else access_log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file() or path.stat().st_size == 0
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if new:
            writer.writerow(FIELDS)
        writer.writerow([(today or dt.date.today()).isoformat(), Path(checkpoint).name, file_sha256(checkpoint),
                         purpose.strip(), int(images)])
    return path


def read_test_log(log: str | os.PathLike | None = None) -> pd.DataFrame:
    """The log as a table (empty, with the columns, when nothing was recorded yet)."""
    path = Path(log) if log is not None else access_log_path()
    if not path.is_file():
        return pd.DataFrame(columns=list(FIELDS))
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def render_test_log(log: pd.DataFrame) -> str:
    """The log as a Markdown table for the model card."""
    if log.empty:
        return "No look at the official test split has been recorded."
    lines = ["| date | checkpoint | sha256 (first 12) | purpose | films |", "| --- | --- | --- | --- | ---: |"]
    for row in log.itertuples(index=False):
        digest = row.sha256[:12] if len(row.sha256) == 64 else row.sha256
        lines.append(f"| {row.date} | {row.checkpoint} | {digest} | {row.purpose} | {row.images} |")
    return "\n".join(lines)
