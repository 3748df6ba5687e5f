"""pneumolib: an open, teachable pneumonia detector for pediatric chest X-rays.

Not a diagnostic tool. See README.md and MODEL_CARD.md.
"""

__version__ = "0.1.0"

REPOSITORY_URL = "https://github.com/pneumolib/pneumolib"
"""Where the project lives: every notebook's Colab badge points here and its set-up cell installs
the release tagged ``v{__version__}`` from here (``tests/test_notebook_sources.py`` checks both)."""

from pneumolib.constants import CLASS_NAMES as CLASS_NAMES  # noqa: E402  (defined once, there)
