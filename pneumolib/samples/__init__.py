"""One attributed sample film shipped with the package (see ``README.md`` beside it).

It lets notebook 06 and a fresh clone try the API without the data set. It comes from the
official test split and is used only to demonstrate, never to train, tune or choose.
"""

from __future__ import annotations

from pathlib import Path

SAMPLE_FILM = Path(__file__).resolve().parent / "person100_bacteria_475.jpeg"
SAMPLE_LABEL = "PNEUMONIA"
