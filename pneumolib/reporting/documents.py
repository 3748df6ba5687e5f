"""Writing results into the README and the model card: the generated sections, rewritten in place.

Each section sits between ``<!-- results:NAME:start -->`` and ``<!-- results:NAME:end -->``
markers (:mod:`pneumolib.reporting.markers`); everything outside them is hand-written and kept.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pneumolib.checkpoint import read_checkpoint
from pneumolib.evaluation.report import load_report, report_path
from pneumolib.evaluation.run import Evaluation
from pneumolib.evaluation.test_access import read_test_log, render_test_log
from pneumolib.file_digest import file_sha256
from pneumolib.reporting.heatmap_card import render_heatmap_section
from pneumolib.reporting.markdown import render_model_card_results, render_readme_results
from pneumolib.reporting.markers import update_marked_file
from pneumolib.reporting.reencoding_card import read_reencoding_record, render_reencoding_section
from pneumolib.reporting.robustness_card import render_selection_section, render_stress_section
from pneumolib.reporting.training_card import render_training_section

README_SECTION = "readme"
MODEL_CARD_SECTION = "model_card"
TRAINING_SECTION = "training"
STRESS_SECTION = "stress_val"
SELECTION_SECTION = "selection"
TEST_LOG_SECTION = "test_access"
HEATMAP_SECTION = "heatmaps"
REENCODING_SECTION = "reencoding"


def update_documents(evaluation: Evaluation, readme: str | os.PathLike, model_card: str | os.PathLike,
                     selection_record: str | os.PathLike | None = None,
                     test_log: str | os.PathLike | None = None,
                     reencoding_record: str | os.PathLike | None = None) -> None:
    """Rewrite the generated sections of the README and the model card from an evaluation.

    Also the robustness sections: stress val (from the checkpoint), the selection record (the
    ``select`` command's JSON, when given), the re-encoding record (the ``reencoding`` command's
    CSV, when given) and the test-split access log.
    """
    update_marked_file(readme, README_SECTION, render_readme_results(evaluation.report))
    update_marked_file(model_card, MODEL_CARD_SECTION, render_model_card_results(evaluation.report))
    training = render_training_section(evaluation.metadata, evaluation.report["model"]["sha256"])
    update_marked_file(model_card, TRAINING_SECTION, training)
    update_marked_file(model_card, STRESS_SECTION, render_stress_section(evaluation.metadata.get("stress_val")))
    update_marked_file(model_card, HEATMAP_SECTION, render_heatmap_section(evaluation.report.get("heatmaps")))
    if selection_record is not None and Path(selection_record).is_file():
        record = json.loads(Path(selection_record).read_text(encoding="utf-8"))
        update_marked_file(model_card, SELECTION_SECTION, render_selection_section(record))
    if reencoding_record is not None:
        update_marked_file(model_card, REENCODING_SECTION, render_reencoding_section(
            read_reencoding_record(reencoding_record), evaluation.report["model"]["sha256"]))
    update_marked_file(model_card, TEST_LOG_SECTION, render_test_log(read_test_log(test_log)))


def update_test_log_section(model_card: str | os.PathLike, test_log: str | os.PathLike | None = None) -> str:
    """Rewrite only the model card's test-split access section; return its text."""
    text = render_test_log(read_test_log(test_log))
    update_marked_file(model_card, TEST_LOG_SECTION, text)
    return text


def update_documents_from_report(checkpoint: str | os.PathLike, readme: str | os.PathLike,
                                 model_card: str | os.PathLike, selection_record: str | os.PathLike | None = None,
                                 test_log: str | os.PathLike | None = None,
                                 reencoding_record: str | os.PathLike | None = None) -> Path:
    """:func:`update_documents` from the report saved beside ``checkpoint`` (no new look at test).

    For when the rendering code or the log changed but the model did not. Returns the report's path.
    """
    path = report_path(checkpoint)
    if not path.is_file():
        raise FileNotFoundError(f"no saved report at {path}: run `python -m pneumolib evaluate {checkpoint} "
                                "--update-docs` once for this model")
    payload = read_checkpoint(checkpoint)
    metadata = {**payload["metadata"], "history": payload.get("history", [])}
    report = load_report(path)
    if report.get("model", {}).get("sha256") != file_sha256(checkpoint):
        raise ValueError(f"{path} was made for other weights than {checkpoint}; evaluate this file first")
    update_documents(Evaluation(report, metadata, {}), readme, model_card, selection_record, test_log,
                     reencoding_record)
    return path
