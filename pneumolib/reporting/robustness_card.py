"""The model card's robustness sections: stress val, the selection record, the test-split log.

Rendered from what the checkpoint recorded when it was finalised (``stress_val``), from the
JSON the ``select`` command wrote (the candidates and the decision), and from the test-split
access log, so the card quotes measured numbers only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pneumolib.reporting.markdown import GENERATED_NOTE


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def render_stress_section(stress_val: Mapping[str, Any] | None) -> str:
    """Per shift of stress val: AUC, flips of the balanced call each way, mean probability change."""
    if not stress_val:
        return f"{GENERATED_NOTE}\n\nThis checkpoint was finalised before stress val existed: no figures recorded."
    rows = list(stress_val["shifts"])
    clean = next(row for row in rows if row["shift"] == "clean")
    lines = [GENERATED_NOTE, "",
             f"Val films ({len(rows) - 1} fixed shifts, `pneumolib.data.inputs.shifts.STRESS_SHIFTS`); calls at the "
             f"{stress_val.get('operating_point', 'balanced')} point, compared with the same film's call unshifted. "
             f"Clean val ROC AUC {clean['roc_auc']:.4f}.", "",
             "| shift | ROC AUC | pneumonia -> normal | normal -> pneumonia | flips | mean change in P(pneumonia) |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        if row["shift"] == "clean":
            continue
        lines.append(f"| {row['shift']} | {row['roc_auc']:.4f} | {row['flips_to_normal']} | {row['flips_to_pneumonia']} "
                     f"| {_pct(row['flip_rate'])} | {row['mean_change']:+.3f} |")
    summary = stress_val["summary"]
    lines += ["", f"Worst shift: {_pct(summary['worst_flip_rate'])} of calls flipped (mean over shifts "
                  f"{_pct(summary['mean_flip_rate'])}); mean ROC AUC under shift {summary['mean_stress_auc']:.4f}, "
                  f"lowest {summary['worst_stress_auc']:.4f}."]
    return "\n".join(lines)


def _share(value: float | None) -> str:
    """A share measured beside the rule (lung share, laterality): "n/a" where it was not measured."""
    return "n/a" if value is None or value != value else f"{value:.3f}"


def render_selection_section(record: Mapping[str, Any] | None) -> str:
    """The candidates the selection rule compared, its decision, and the rule's name."""
    if not record:
        return f"{GENERATED_NOTE}\n\nNo selection record."
    lines = [GENERATED_NOTE, "",
             "Chosen by `pneumolib.evaluation.selection.select_candidate` (rule fixed in code before the runs were "
             "compared; `python -m pneumolib select`). Val and stress val only; the test split played no part.", "",
             "| candidate | eligible | clean val AUC | worst-shift flips | mean flips | mean stress AUC | lowest stress AUC "
             "| lung share (called pneumonia) | laterality |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in record["candidates"]:
        lung, sides = row.get("lung_share"), row.get("laterality")
        eligible = ("yes" if row["eligible"] else "no" if row.get("same_split", True) and not row.get("reference")
                    else "reference: other split" if not row.get("same_split", True) else "reference")
        lines.append(f"| {row['candidate']} | {eligible} | {row['clean_auc']:.4f} "
                     f"| {_pct(row['worst_flip_rate'])} | {_pct(row['mean_flip_rate'])} | {row['mean_stress_auc']:.4f} "
                     f"| {row['worst_stress_auc']:.4f} | {_share(lung)} | {_share(sides)} |")
    lines += ["", f"Decision: {record['decision']}."]
    for verdict in record.get("replacement") or []:  # `select --reference`: does it replace the shipped model?
        lines += ["", f"Against the model it would replace (`pneumolib.evaluation.selection.replaces_reference`): "
                      f"{verdict}."]
    return "\n".join(lines)
