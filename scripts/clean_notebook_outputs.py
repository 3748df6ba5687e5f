"""Committed notebook outputs as a reader sees them: progress bars reduced to their final line.

A progress bar written to a plain-text stream arrives as hundreds of carriage-return updates
(with cursor-movement codes for nested bars); a notebook viewer shows only the last state, but
the file keeps them all. This keeps, per stream output, the final state of each line, drops
tqdm's note that widgets are unavailable and bars left short of their total (inner bars that
were cleared on closing), and merges consecutive outputs of the same stream.

    python scripts/clean_notebook_outputs.py notebooks/03_train.ipynb [...]
"""

from __future__ import annotations

import re
import sys

import nbformat

CONTROL = re.compile(r"(\r|\n|\x1b\[[0-9;]*[A-Za-z])")
BAR = re.compile(r"\|\s*(\d+)/(\d+)\s*\[")  # tqdm's "| 12/13 [" counter


def final_text(text: str) -> str:
    """What a terminal would show after ``text``: carriage returns overwrite the line, the
    cursor-up code nested progress bars use moves back a line; blank lines are dropped."""
    lines, row, overwrite = [""], 0, False
    for token in CONTROL.split(text):
        if token == "\n":
            row += 1
            overwrite = False
            if row == len(lines):
                lines.append("")
        elif token == "\r":
            overwrite = True
        elif token == "\x1b[A":
            row = max(0, row - 1)
        elif token.startswith("\x1b["):
            continue  # colours and other codes: nothing to keep
        elif token:
            lines[row] = token if overwrite else lines[row] + token
            overwrite = False
    kept = [line.rstrip() for line in lines if line.strip() and not unfinished_bar(line)]
    return "\n".join(kept) + ("\n" if kept else "")


def unfinished_bar(line: str) -> bool:
    """A progress bar whose last drawn state is short of its total: an inner bar that tqdm
    cleared on closing (``leave=False``), whose clearing the notebook's stream did not keep.
    Showing it would tell a reader the step stopped at 92 %."""
    match = BAR.search(line)
    return bool(match) and int(match.group(1)) < int(match.group(2))


def clean_outputs(outputs: list) -> list:
    merged: list = []
    for output in outputs:
        if output.get("output_type") == "stream":
            if "TqdmWarning" in output.get("text", ""):
                continue
            if merged and merged[-1].get("output_type") == "stream" and merged[-1]["name"] == output["name"]:
                merged[-1]["text"] += output["text"]
                continue
        merged.append(output)
    for output in merged:
        if output.get("output_type") == "stream":
            output["text"] = final_text(output["text"])
    return [output for output in merged if output.get("output_type") != "stream" or output["text"]]


def main(paths: list[str]) -> None:
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs = clean_outputs(cell.outputs)
        nbformat.write(notebook, path)


if __name__ == "__main__":
    main(sys.argv[1:])
