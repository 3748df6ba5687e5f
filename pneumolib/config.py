"""Run profiles and working folders shared by the CLI and the notebooks.

One environment variable, ``PNEUMO_PROFILE``, switches every notebook and command between the
``full`` profile (all data, all epochs) and the ``quick`` profile that CI runs (a few hundred
images, one epoch, small inputs). The code path is the same; only sizes change, and each
profile keeps its outputs apart (:func:`work_dir`: the full profile in the work folder itself,
the quick one in its ``quick/`` subfolder).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pneumolib import environment

PROFILE_ENV = environment.PROFILE
WORK_DIR_ENV = environment.WORK_DIR
CACHE_DIR_ENV = environment.CACHE_DIR
COLAB_LOCAL_CACHE = Path("/content/pneumo_cache")
COLAB_DRIVE_DIR = Path("/content/drive/MyDrive")
REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
"""The folder that holds the package: a clone's top folder, or site-packages once installed (see checkout_root)."""
CHECKOUT_MARKER = "setup.py"
CLONE_COMMAND = "git clone https://github.com/pneumolib/pneumolib && cd pneumolib && pip install -e ."


@dataclass(frozen=True)
class Profile:
    """Sizes that differ between a full run and CI's quick run."""

    name: str
    max_images_per_split: int | None  # None: every image
    epochs: int
    image_size: int
    batch_size: int
    bootstrap_resamples: int


DEFAULT_PROFILE = "full"
PROFILES: dict[str, Profile] = {
    "full": Profile("full", None, 12, 224, 32, 2000),
    "quick": Profile("quick", 160, 1, 96, 16, 200),
}


def profile_name() -> str:
    """The active profile's name (``full`` unless ``PNEUMO_PROFILE`` says otherwise)."""
    name = (environment.read(PROFILE_ENV) or DEFAULT_PROFILE).lower()
    if name not in PROFILES:
        raise ValueError(f"{PROFILE_ENV}={name!r} is not a profile; choose one of {sorted(PROFILES)}")
    return name


def active_profile() -> Profile:
    """The :class:`Profile` selected by ``PNEUMO_PROFILE``."""
    return PROFILES[profile_name()]


def work_root(create: bool = True) -> Path:
    """The top of the work folder, shared by every profile.

    ``PNEUMO_WORK_DIR`` wins; in Colab with Google Drive mounted it is a folder on Drive so a
    fresh runtime (the next notebook) finds what the previous one saved; otherwise ``./pneumo_work``.
    """
    env = environment.read(WORK_DIR_ENV)
    if env:
        path = Path(env).expanduser()
    elif COLAB_DRIVE_DIR.is_dir():
        path = COLAB_DRIVE_DIR / "pneumolib"
    else:
        path = Path("pneumo_work")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def work_dir(create: bool = True) -> Path:
    """Where the active profile's checkpoints, caches and reports go.

    The full profile works in :func:`work_root` itself (where earlier runs left their files); every
    other profile in a subfolder named after it (``<work root>/quick``). A quick run's 96-pixel
    ``model.pt`` or half-trained ``train/last.pt`` is then never resumed, or served, by a full run.
    """
    name = profile_name()
    root = work_root(create=False)
    path = root if name == DEFAULT_PROFILE else root / name
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir(create: bool = True) -> Path:
    """Where the decoded-image caches (.npy, hundreds of MB) go: on this machine's own disk.

    ``PNEUMO_CACHE_DIR`` wins; when the work folder is on Google Drive the caches stay on the
    Colab runtime's local disk (``/content/pneumo_cache``): Drive is slow for large random reads
    and its quota is the learner's; a cache is rebuilt in minutes. Otherwise ``<work folder>/cache``.
    """
    env = environment.read(CACHE_DIR_ENV)
    if env:
        path = Path(env).expanduser()
    else:
        work = work_dir(create=create)
        path = COLAB_LOCAL_CACHE if COLAB_DRIVE_DIR in work.parents else work / "cache"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


class CheckoutOnly(RuntimeError):
    """A command that rewrites or reads the project's own files, run from an installed package."""


def checkout_root() -> Path | None:
    """The clone of the repository this package runs from, or None when it is installed (a wheel, ``pip install``).

    Only a clone has the project's files beside the package (README.md, MODEL_CARD.md, docs/,
    tests/fixtures/); an installed package carries what it reads at run time inside itself
    (:mod:`pneumolib.resources`, ``weights/``, ``samples/``) and writes to :func:`work_dir`.
    """
    return REPOSITORY_ROOT if (REPOSITORY_ROOT / CHECKOUT_MARKER).is_file() else None


def project_file(relative: str | os.PathLike, what: str, instead: str = "") -> Path:
    """A file of the project's clone; :class:`CheckoutOnly` when installed.

    ``what`` names who needs it, ``instead`` what an installed package can do without it.
    """
    root = checkout_root()
    if root is None:
        raise CheckoutOnly(
            f"{what} needs the project's {Path(relative).as_posix()}, which only a clone of the repository has "
            f"(pneumolib is installed at {REPOSITORY_ROOT / 'pneumolib'}). Run it in a clone ({CLONE_COMMAND})"
            + (f", or {instead}." if instead else "."))
    return root / relative
