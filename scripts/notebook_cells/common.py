"""What every notebook shares: the Colab badge, the disclaimer, the set-up cell."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from pneumolib import REPOSITORY_URL, __version__

DISCLAIMER = ("> **Not a diagnostic tool.** pneumolib is for learning and research. Its predictions must "
              "never be used to diagnose, treat or triage a patient.")
RELEASE = f"git+{REPOSITORY_URL}@v{__version__}"
"""What the set-up cell installs: the release this notebook was written for, not the moving main."""


def badge(name: str) -> str:
    path = REPOSITORY_URL.removeprefix("https://github.com/")
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{path}/blob/main/notebooks/{name}.ipynb)")


SETUP = f"""# Set-up: in Colab, install pneumolib (the release this notebook was written for), then check
# that it imports. Safe to run again. On your own machine, `pip install -e .[onnx]` in a clone first.
import importlib, importlib.util, os, subprocess, sys
IN_COLAB = "google.colab" in sys.modules
# an uploaded (or Drive) copy of the repository at /content/pneumolib is used instead of the release
SOURCE = os.environ.get("PNEUMOLIB_SOURCE") or (
    "/content/pneumolib" if os.path.isfile("/content/pneumolib/setup.py") else "{RELEASE}")
if IN_COLAB and importlib.util.find_spec("pneumolib") is None:
    target = ["-e", SOURCE + "[onnx]"] if os.path.isdir(SOURCE) else ["pneumolib[onnx] @ " + SOURCE]
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *target], capture_output=True, text=True)
    if pip.returncode != 0:
        raise RuntimeError(f"Installing pneumolib from {{SOURCE}} failed:\\n{{pip.stderr[-1500:]}}\\n"
                           "Check that this runtime has internet, or upload the repository to "
                           "/content/pneumolib (or set PNEUMOLIB_SOURCE) and run this cell again.")
    importlib.invalidate_caches()
try:
    import pneumolib
except ImportError as error:
    raise RuntimeError("pneumolib is not installed. In Colab run this cell again; elsewhere run "
                       "`pip install -e .[onnx]` in a clone of the repository.") from error
print(f"pneumolib {{pneumolib.__version__}} is ready")
%matplotlib inline"""

DRIVE_MD = """## Keep the work across runtimes (Colab)

A Colab runtime forgets its disk when it ends. With `USE_DRIVE = True` this cell mounts Google
Drive (Colab asks for permission once) and keeps checkpoints and reports in `MyDrive/pneumolib`,
where notebooks 03-06 find each other's results; the large image caches stay on the runtime's
own disk. Outside Colab, and in automated test runs, nothing is mounted."""

DRIVE = """from pneumolib.colab import mount_drive
USE_DRIVE = True  # False: keep everything on this runtime's disk (lost when it ends)
print(mount_drive(USE_DRIVE))"""


PROFILE_MD = """The environment variable `PNEUMO_PROFILE` picks the **profile**: `full` (the default: all
images) or `quick` (a small subset, what the automated tests run). The code is the same either way."""


def header(name: str, title: str, intro: str, drive: bool = False) -> list:
    """Title, badge, disclaimer and the set-up cell; with ``drive``, the optional Drive mount too."""
    cells = [new_markdown_cell(f"# {title}\n\n{badge(name)}\n\n{intro}\n\n{DISCLAIMER}"), new_code_cell(SETUP)]
    return cells + ([new_markdown_cell(DRIVE_MD), new_code_cell(DRIVE)] if drive else [])


