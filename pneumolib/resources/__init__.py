"""Files the package reads at run time that a clone keeps elsewhere: shipped inside the package.

``data_manifest.csv`` is a byte-for-byte copy of the project's reference split, the
``data_manifest.csv`` at the top of the repository. That top-level file is the source of truth:
``python -m pneumolib manifest`` writes it, reviewers diff it and a clone reads it. This copy exists
because an installed package (a wheel in Colab) has no repository around it; ``manifest``
refreshes it whenever it rewrites the top-level file, and a test fails when the two differ.
A copy with a test was chosen over generating it at build time: every way of installing
(wheel, sdist, editable, ``--target``) ships it without a build hook, and git stores the two
identical files once.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pneumolib.project_paths import MANIFEST

MANIFEST_FILE_NAME = MANIFEST.name


def packaged_file(name: str) -> Path:
    """The path of a file shipped in this folder, wherever pneumolib is installed."""
    path = resources.files(__name__) / name
    if not isinstance(path, Path):  # a zipped install: no file on disk to hand to pandas or torch
        raise RuntimeError(f"pneumolib's {name} is not a file on disk ({path}); install pneumolib as files "
                           "(`pip install pneumolib`), not as a zip archive.")
    return path


def packaged_manifest() -> Path:
    """The shipped copy of the reference split (see the module's docstring)."""
    return packaged_file(MANIFEST_FILE_NAME)
