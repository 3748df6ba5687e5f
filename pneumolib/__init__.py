"""pneumolib: an open, teachable pneumonia detector for pediatric chest X-rays.

Not a diagnostic tool. See README.md and MODEL_CARD.md.
"""

__version__ = "0.1.0"

REPOSITORY_URL = "https://github.com/pneumolib/pneumolib"
"""Where the project lives: the notebooks' Colab badges and set-up cells are generated from it,
and the set-up cell installs the release tagged ``v{__version__}`` from here."""

CLASS_NAMES: tuple[str, str] = ("NORMAL", "PNEUMONIA")
"""Class order used by every model, loss and report: index 1 is pneumonia."""
