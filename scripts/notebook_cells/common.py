"""What every notebook shares: the Colab badge, the disclaimer, the set-up cell."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

REPO_URL = "https://github.com/pneumolib/pneumolib"

DISCLAIMER = ("> **Not a diagnostic tool.** pneumolib is for learning and research. Its predictions must "
              "never be used to diagnose, treat or triage a patient.")


def badge(name: str) -> str:
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/pneumolib/pneumolib/blob/main/notebooks/{name}.ipynb)")


SETUP = f"""# Set-up. In Colab: fetch and install pneumolib. On your own machine, after
# `pip install -e .` in a clone, this cell does nothing.
import os, sys
IN_COLAB = "google.colab" in sys.modules
if IN_COLAB:
    if not os.path.isdir("/content/pneumolib"):
        !git clone -q {REPO_URL} /content/pneumolib
        %pip install -q -e /content/pneumolib
    sys.path.insert(0, "/content/pneumolib")
%matplotlib inline"""

PROFILE_MD = """The environment variable `PNEUMO_PROFILE` picks the **profile**: `full` (the default: all
images) or `quick` (a small subset, what the automated tests run). The code is the same either way."""


def header(name: str, title: str, intro: str) -> list:
    return [new_markdown_cell(f"# {title}\n\n{badge(name)}\n\n{intro}\n\n{DISCLAIMER}"), new_code_cell(SETUP)]


