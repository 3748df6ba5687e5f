"""The model card's re-encoding section: the ``reencoding`` command's record, rendered.

The record is the command's CSV (``python -m pneumolib reencoding ... --out``), one row per model
and JPEG variant, each model named by its file's sha256 so the card can tell the bundled model
from the ones it was compared with, and refuse a record made for other weights. Whether a row
meets its target is the command's own verdict (:func:`pneumolib.evaluation.reencoding.check_verdicts`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from pneumolib.evaluation.reencoding import MAX_FLIP_RATE, MAX_MOVE, MOVE_COLUMN, MOVE_QUANTILE
from pneumolib.project_paths import REENCODING_RECORD
from pneumolib.reporting.markdown import GENERATED_NOTE


def read_reencoding_record(path: str | os.PathLike | None) -> pd.DataFrame | None:
    """The committed record, or None when there is none."""
    return pd.read_csv(path) if path is not None and Path(path).is_file() else None


def _merged_variants(rows: pd.DataFrame) -> list[tuple[str, pd.Series]]:
    """Variants whose figures are identical (they decode to the same pixels) share one line."""
    groups: dict[tuple, list[str]] = {}
    first: dict[tuple, pd.Series] = {}
    for _, row in rows.iterrows():
        key = (row["films"], round(float(row[MOVE_COLUMN]), 6), round(float(row["max_move"]), 6), int(row["flips"]))
        groups.setdefault(key, []).append(str(row["variant"]))
        first.setdefault(key, row)
    return [(", ".join(names), first[key]) for key, names in groups.items()]


def render_reencoding_section(record: pd.DataFrame | None, model_sha256: str) -> str:
    """The bundled model's rows first ("this model"), then each model it was compared with."""
    command = (f"`python -m pneumolib reencoding <earlier model> <bundled model> --out "
               f"{REENCODING_RECORD.as_posix()}`")
    if record is None or record.empty:
        return f"{GENERATED_NOTE}\n\nNo re-encoding record: run {command}."
    if model_sha256 not in set(record["sha256"]):
        return (f"{GENERATED_NOTE}\n\nThe re-encoding record was made for other weights than this model's "
                f"(sha256 {model_sha256[:12]}...): run {command} again.")
    order = [model_sha256, *[s for s in dict.fromkeys(record["sha256"]) if s != model_sha256]]
    lines = [GENERATED_NOTE, "",
             "Each val film saved again as a JPEG, decoded as an upload and scored (`python -m pneumolib reencoding`, "
             "`pneumolib.evaluation.reencoding`), each model at its own balanced point. Targets: after a quality-95 "
             f"save P(pneumonia) moves by at most {MAX_MOVE} for {100 * MOVE_QUANTILE:.0f} % of films and no call flips; a "
             f"quality-30 save flips at most {100 * MAX_FLIP_RATE['JPEG q30']:.0f} % of calls.", "",
             f"| model | saved as | films | P moves by at most ({100 * MOVE_QUANTILE:.0f} % of films) | largest move "
             "| calls flipped | target |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for sha in order:
        rows = record[record["sha256"] == sha]
        name = "this model" if sha == model_sha256 else f"{rows['checkpoint'].iloc[0]} (sha256 {sha[:12]}...)"
        for variant, row in _merged_variants(rows):
            lines.append(f"| {name} | {variant} | {int(row['films'])} | {float(row[MOVE_COLUMN]):.4f} "
                         f"| {float(row['max_move']):.3f} | {int(row['flips'])} ({100 * float(row['flip_rate']):.2f} %) "
                         f"| {'met' if bool(row['meets']) else 'missed'} |")
    return "\n".join(lines)
