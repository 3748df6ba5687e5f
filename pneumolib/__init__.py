"""pneumolib: an open, teachable pneumonia detector for pediatric chest X-rays.

Not a diagnostic tool. See README.md and MODEL_CARD.md.
"""

__version__ = "0.1.0"

REPOSITORY_URL = "https://github.com/pneumolib/pneumolib"
"""Where the project lives: every notebook's Colab badge points here."""

INSTALL_REF = "main"
"""The git ref every notebook's set-up cell installs from in Colab: ``main`` between releases (a
notebook opened from ``main`` gets the package committed with it), ``v{__version__}`` in a
release's own commit (README, "Releases"). One decision, here; the cells quote it and
``tests/test_notebook_setup_cell.py`` fails when they disagree with it or with ``__version__``."""


def install_source() -> str:
    """What the notebooks' set-up cell passes to pip in Colab: ``git+<repository>@<ref>``."""
    return f"git+{REPOSITORY_URL}@{INSTALL_REF}"

from pneumolib.constants import CLASS_NAMES as CLASS_NAMES  # noqa: E402  (defined once, there)
