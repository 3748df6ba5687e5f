"""``evaluate``, ``docs``, ``test-log`` and ``measure-gate``: the looks at the test split and the documents."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

from pneumolib import project_paths
from pneumolib.config import CLONE_COMMAND, CheckoutOnly, active_profile, cache_dir, checkout_root, project_file, work_dir
from pneumolib.workflows.inputs import DataInputs


class ProjectDocuments(NamedTuple):
    readme: Path
    card: Path
    selection_record: Path
    reencoding_record: Path


def project_documents(what: str, instead: str) -> ProjectDocuments:
    """This clone's README.md, MODEL_CARD.md and records; :class:`CheckoutOnly` in an installed package."""
    return ProjectDocuments(*(project_file(path, what, instead) for path in (
        project_paths.README, project_paths.MODEL_CARD, project_paths.SELECTION_RECORD, project_paths.REENCODING_RECORD)))


def evaluate_model(inputs: DataInputs, checkpoint: str | None = None, out: str | None = None, *,
                   update_docs: bool = False, why: str = "evaluate") -> int:
    """One logged look at the test split: the report, prediction tables and (``update_docs``) the documents."""
    from pneumolib.checkpoint import find_checkpoint
    from pneumolib.evaluation.report import report_path, write_report
    from pneumolib.evaluation.run import evaluate_checkpoint, source_results_table
    from pneumolib.evaluation.test_access import access_log_path
    from pneumolib.reporting.documents import update_documents

    documents = (project_documents("evaluate --update-docs", "leave --update-docs out: the report goes to the "
                                   "work folder") if update_docs else None)  # checked before any look
    path, source = find_checkpoint(checkpoint)
    print(f"checkpoint: {path} ({source})")
    profile = active_profile()
    log = access_log_path(project=update_docs)
    result = evaluate_checkpoint(path, inputs.table(), inputs.root(), n_resamples=profile.bootstrap_resamples,
                                 max_images=profile.max_images_per_split, cache_dir=cache_dir(), purpose=why, test_log=log)
    print(f"this look at the test split is recorded in {log}")
    report = Path(out) if out else work_dir() / "evaluation" / "report.json"
    write_report(result.report, report)
    for split, table in result.predictions.items():
        table.to_csv(report.with_name(f"predictions_{split}.csv"), index=False)
    auc = result.report["test"]["roc_auc"]
    print(f"test ROC AUC {auc['estimate']:.4f} ({auc['lower']:.4f}-{auc['upper']:.4f})\nwrote {report}")
    if result.report["test_by_source"]:
        print(f"each test set on its own:\n{source_results_table(result.report).to_string(float_format=lambda v: f'{v:.3f}')}")
    if documents is not None:
        update_documents(result, documents.readme, documents.card, selection_record=documents.selection_record,
                         test_log=log, reencoding_record=documents.reencoding_record)
        beside = write_report(result.report, report_path(path))  # served by GET /model
        print(f"updated README.md and MODEL_CARD.md; wrote {beside}")
    return 0


def regenerate_documents(checkpoint: str | None = None) -> int:
    """Rewrite the README's and model card's results from the saved report (no look at the test split)."""
    from pneumolib.checkpoint import BUNDLED_CHECKPOINT, find_checkpoint
    from pneumolib.evaluation.report import report_path
    from pneumolib.evaluation.test_access import access_log_path
    from pneumolib.reporting.documents import update_documents_from_report

    documents = project_documents("docs", f"read the bundled model's results in {report_path(BUNDLED_CHECKPOINT)}")
    path, source = find_checkpoint(checkpoint)
    report = update_documents_from_report(path, documents.readme, documents.card, documents.selection_record,
                                          access_log_path(project=True), documents.reencoding_record)
    print(f"{path.name} ({source}): README.md and MODEL_CARD.md regenerated from {report.name}; "
          "the test split was not read")
    return 0


def show_test_log(update_docs: bool = False) -> int:
    """Print every recorded look at the test split; with ``update_docs``, the project's log into the model card."""
    from pneumolib.evaluation.test_access import access_log_path, read_test_log, render_test_log
    from pneumolib.reporting.documents import update_test_log_section

    card = (project_file(project_paths.MODEL_CARD, "test-log --update-docs", "leave --update-docs out to list the work "
                         "folder's log") if update_docs else None)
    log = access_log_path(project=update_docs)
    print(f"{log}:\n{render_test_log(read_test_log(log))}")
    if card is not None:
        update_test_log_section(card, log)
        print(f"updated {card.name}")
    return 0


def non_xray_folder(given: str | None) -> Path:
    """``given``, else the project's set in a clone; :class:`CheckoutOnly` in an installed package."""
    if given is not None:
        return Path(given)
    root = checkout_root()
    if root is None:
        raise CheckoutOnly("measure-gate needs a folder of pictures that are not chest X-rays. The project's set "
                           f"({project_paths.NON_XRAYS.as_posix()}) is in a clone of the repository, not in the installed "
                           "package: "
                           f"pass --non-xrays FOLDER (photos, documents, screenshots), or run it in a clone ({CLONE_COMMAND}).")
    return root / project_paths.NON_XRAYS


def gate_look_log(checkpoint: Path) -> Path:
    """Where measure-gate logs its look: the project's log for the bundled model in a clone (with
    that model's other looks), else ``$PNEUMO_TEST_LOG`` or the work folder's."""
    from pneumolib.checkpoint import BUNDLED_CHECKPOINT
    from pneumolib.evaluation.test_access import access_log_path

    return access_log_path(project=checkout_root() is not None and Path(checkpoint).resolve() == BUNDLED_CHECKPOINT)


def measure_xray_gate(inputs: DataInputs, checkpoint: str | None = None, non_xrays: str | None = None) -> int:
    """Share of official test X-rays the gate passes and of non-X-rays it refuses (a logged test look)."""
    from pneumolib.checkpoint import find_checkpoint
    from pneumolib.data.sources.roots import manifest_file, official_rows
    from pneumolib.decode.formats import image_files
    from pneumolib.evaluation.test_access import record_test_access
    from pneumolib.serving.gate_measure import measure_gate
    from pneumolib.serving.predictor import Predictor

    folder = non_xray_folder(non_xrays)
    if not folder.is_dir():
        print(f"error: no folder {folder}: give --non-xrays a folder of pictures that are not chest X-rays", file=sys.stderr)
        return 2
    path, source = find_checkpoint(checkpoint)
    predictor = Predictor.load(path)
    print(f"model {path.name} ({source}); X-rays: the official test split; non-X-rays: {folder}")
    root = inputs.root()
    xrays = [manifest_file(root, p) for p in official_rows(inputs.table(), "test")["path"]]
    result = measure_gate(predictor, xrays, image_files(folder))
    log = record_test_access(path, "measure-gate: share of test X-rays the gate passes", len(xrays), gate_look_log(path))
    print(f"this look at the test split is recorded in {log}\n{result.summary()}")
    return 0
