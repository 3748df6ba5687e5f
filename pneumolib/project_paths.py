"""One home for the repository's own files: where each lives in a clone, and what it is for.

Paths are relative to the top of a clone (:func:`pneumolib.config.checkout_root`). An installed
package has no clone around it: commands that write these files say so and suggest a clone,
except the manifest and the bundled model, which ship inside the package as well. The README's
table of them is generated from :data:`PATHS` (``tests/test_project_paths.py`` checks it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

README = Path("README.md")
MODEL_CARD = Path("MODEL_CARD.md")
MANIFEST = Path("data_manifest.csv")
SELECTION_RECORD = Path("docs", "selection_record.json")
REENCODING_RECORD = Path("docs", "reencoding_record.csv")
TEST_LOG = Path("docs", "test_split_access.csv")
BUNDLED_MODEL = Path("pneumolib", "weights", "pneumolib_lite0.pt")
NON_XRAYS = Path("tests", "fixtures", "not_xray")


@dataclass(frozen=True)
class ProjectPath:
    path: Path
    meaning: str
    written_by: str


PATHS = (
    ProjectPath(README, "The two commands, results, attributions and disclaimer; its results sections are generated.",
                "`evaluate --update-docs`, `docs`"),
    ProjectPath(MODEL_CARD, "The model card: data, training, selection, stress val, test results, every test look.",
                "`evaluate --update-docs`, `docs`, `test-log --update-docs`"),
    ProjectPath(MANIFEST, "The reference split: one row per image with hashes, duplicates, patient and split "
                          "(a copy ships in the package).", "`manifest`"),
    ProjectPath(SELECTION_RECORD, "The shipped model's selection: every candidate on val and stress val, and the decision.",
                "copied from `select --out` when a model ships"),
    ProjectPath(REENCODING_RECORD, "The shipped model's re-encoding check on val, beside the model it replaced.",
                "`reencoding --out` when a model ships"),
    ProjectPath(TEST_LOG, "Every look at the official test split: date, model, purpose, films.",
                "`evaluate --update-docs`, `measure-gate` of the bundled model"),
    ProjectPath(BUNDLED_MODEL, "The bundled model (float16), with its test report (`.report.json`) beside it.", "`bundle`"),
    ProjectPath(NON_XRAYS, "Pictures that are not chest X-rays, for the gate's measurements.", "by hand (a test fixture)"),
)


def markdown_table() -> str:
    """The README's table of the project's files."""
    lines = ["| File | What it is | Written by |", "| --- | --- | --- |"]
    lines += [f"| `{p.path.as_posix()}` | {p.meaning} | {p.written_by} |" for p in PATHS]
    return "\n".join(lines)
