"""The same pipeline as the notebooks, from a terminal."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pneumolib.config import (
    CLONE_COMMAND,
    CheckoutOnly,
    active_profile,
    cache_dir,
    checkout_root,
    project_file,
    work_dir,
)

if TYPE_CHECKING:
    from pneumolib.data.sources import DataRoot


def _data_root(args: argparse.Namespace) -> DataRoot:
    """The Kermany folder, plus the extra sources' folders when the manifest (``--manifest``) has any."""
    from pneumolib.data.locate import find_dataset_root
    from pneumolib.data.manifest import default_manifest_path
    from pneumolib.data.sources import data_roots

    return data_roots(find_dataset_root(args.data, download=not args.offline), args.manifest or default_manifest_path())


def _manifest(args: argparse.Namespace) -> int:
    from pneumolib.data.manifest import (
        build_manifest,
        default_manifest_path,
        load_manifest,
        manifest_output_path,
        refresh_packaged_manifest,
        write_manifest,
    )
    from pneumolib.data.source_split import describe_cross_source
    from pneumolib.data.sources import extra_sources

    try:
        extras = extra_sources(args.extra or [], args.role)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    committed = default_manifest_path()
    reference = load_manifest(committed) if committed.is_file() else None
    build = build_manifest(args.data, extras=extras, max_per_folder=args.max_per_folder, download=not args.offline,
                           reference=None if args.resplit else reference, workers=args.workers)
    default_out = manifest_output_path()
    out = Path(args.out) if args.out else default_out
    if extras and out.resolve() == default_out.resolve():
        out = out.with_name("data_manifest_with_sources.csv")  # the committed file stays the Kermany reference
    write_manifest(build.manifest, out, extras)
    packaged = refresh_packaged_manifest(out)
    if packaged is not None:
        print(f"copied it to {packaged}, the reference split the package ships")
    problems = out.with_name(out.stem + "_problems.csv")
    if len(build.problems):
        build.problems.to_csv(problems, index=False)
        print(f"{len(build.problems)} files left out or flagged: see {problems}")
    counts = build.manifest.groupby(["split", "label"]).size().unstack(fill_value=0)
    print(f"dataset: {build.root}\n{counts}\n{len(build.duplicate_pairs)} duplicate pairs\nwrote {out}")
    if extras:
        print(f"images per source and split:\n{build.source_summary()}")
        print(describe_cross_source(build.cross_source))
        if len(build.cross_source):
            table = out.with_name(out.stem + "_cross_source_duplicates.csv")
            build.cross_source.to_csv(table, index=False)
            print(f"every cross-source duplicate and where it went: {table}")
    if reference is not None and out.resolve() != committed.resolve():
        from pneumolib.data.leakage import split_agreement

        print(f"agreement with the committed split ({committed.name}):\n{split_agreement(build.manifest, reference)}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from pneumolib.data.manifest import load_manifest
    from pneumolib.training.distributed import is_main_process
    from pneumolib.training.trainer import TrainConfig, train

    profile = active_profile()
    overrides = {k: v for k, v in {
        "architecture": args.architecture, "epochs": args.epochs, "image_size": args.image_size,
        "batch_size": args.batch_size, "learning_rate": args.lr, "weights_path": args.weights,
        "init_checkpoint": args.init_from, "warmup_epochs": args.warmup_epochs, "patience": args.patience,
        "seed": args.seed, "max_images_per_split": args.max_images,
        "ema_decay": args.ema, "lung_guidance": args.lung_guidance,
    }.items() if v is not None}
    config = TrainConfig(epochs=profile.epochs, image_size=profile.image_size, batch_size=profile.batch_size,
                         max_images_per_split=profile.max_images_per_split)
    config = dataclasses.replace(config, **overrides)
    if args.no_pretrained:
        config = dataclasses.replace(config, pretrained=False)
    for flag, key in ((args.jpeg_augment, "jpeg_probability"), (args.clahe_augment, "clahe_probability")):
        if flag is not None:
            config = dataclasses.replace(config, augment_config={**config.augment_config, key: flag})
    if args.border_erase is not None:
        config = dataclasses.replace(config, augment_config={**config.augment_config,
                                                             "border_erase_probability": args.border_erase,
                                                             "max_border_fraction": args.border_fraction})
    out = Path(args.out) if args.out else work_dir() / "train"
    result = train(config, load_manifest(args.manifest), _data_root(args),
                   out, cache_dir=cache_dir(), resume=not args.restart, device=args.device, sync_batchnorm=args.sync_bn)
    if is_main_process():  # under torchrun: once, not once per process
        print(f"best epoch {result.best_epoch}: val AUC {result.best_val_auc:.4f}\nbest checkpoint: {result.best_checkpoint}")
    return 0


def _select(args: argparse.Namespace) -> int:
    import shutil

    from pneumolib.data.manifest import load_manifest
    from pneumolib.evaluation.selection import compare_candidates, run_candidates

    checkpoints = [c for item in args.checkpoints
                   for c in (run_candidates(item) if Path(item).is_dir() else [Path(item)])]
    names = args.names.split(",") if args.names else None
    if names and len(names) != len(checkpoints):
        print(f"error: {len(names)} names for {len(checkpoints)} checkpoints", file=sys.stderr)
        return 2
    selection = compare_candidates(checkpoints, load_manifest(args.manifest),
                                   _data_root(args), names=names,
                                   max_images=active_profile().max_images_per_split, cache_dir=cache_dir(),
                                   lung_share=not args.no_lung_share, references=args.reference or ())
    if args.reference:
        from pneumolib.evaluation.selection import replaces_reference

        for name in (f"{Path(r).stem} (reference)" for r in args.reference):
            replaces_reference(selection, name)
    out = selection.save(args.out or work_dir() / "selection.json")
    print(f"wrote {out}")
    if args.chosen_out:
        shutil.copyfile(selection.chosen.path, args.chosen_out)
        print(f"copied {selection.chosen.path} to {args.chosen_out}")
    return 0


def _average(args: argparse.Namespace) -> int:
    from pneumolib.training.weight_averaging import average_checkpoints

    weights = [float(w) for w in args.weights.split(",")] if args.weights else None
    try:
        out = average_checkpoints(args.checkpoints, args.out, weights, base=args.base)
    except ValueError as error:  # CheckpointError too: a file or a recipe that does not fit
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {out}: the weight average of {len(args.checkpoints)} checkpoints; run `select`, then `finalize`")
    return 0


def _finalize(args: argparse.Namespace) -> int:
    from pneumolib.data.manifest import load_manifest
    from pneumolib.deploy.finalize import finalize_checkpoint

    metadata = finalize_checkpoint(args.checkpoint, load_manifest(args.manifest),
                                   _data_root(args), args.out,
                                   cache_dir=cache_dir(), max_images_per_split=active_profile().max_images_per_split)
    points = ", ".join(f"{name} {p['threshold']:.4f}" for name, p in metadata["operating_points"].items())
    print(f"temperature {metadata['temperature']:.3f}; operating points (val): {points}; "
          f"gate accepts {metadata['ood_gate']['val_accept_rate']:.1%} of val\nwrote {args.out}")
    return 0


def _project_documents(what: str, instead: str) -> tuple[Path, Path, Path]:
    """This clone's README.md, MODEL_CARD.md and selection record; :class:`CheckoutOnly` in an installed package."""
    return (project_file("README.md", what, instead), project_file("MODEL_CARD.md", what, instead),
            project_file(Path("docs", "selection_record.json"), what, instead))


def _evaluate(args: argparse.Namespace) -> int:
    from pneumolib.checkpoint import find_checkpoint
    from pneumolib.data.manifest import load_manifest
    from pneumolib.evaluation.report import report_path, write_report
    from pneumolib.evaluation.run import evaluate_checkpoint, source_results_table
    from pneumolib.evaluation.test_access import access_log_path
    from pneumolib.reporting.documents import update_documents

    documents = (_project_documents("evaluate --update-docs", "leave --update-docs out: the report goes to the "
                                    "work folder") if args.update_docs else None)  # checked before any look
    checkpoint, source = find_checkpoint(args.checkpoint)
    print(f"checkpoint: {checkpoint} ({source})")
    profile = active_profile()
    log = access_log_path(project=args.update_docs)
    result = evaluate_checkpoint(checkpoint, load_manifest(args.manifest), _data_root(args),
                                 n_resamples=profile.bootstrap_resamples, max_images=profile.max_images_per_split,
                                 cache_dir=cache_dir(), purpose=args.why, test_log=log)
    print(f"this look at the test split is recorded in {log}")
    out = Path(args.out) if args.out else work_dir() / "evaluation" / "report.json"
    write_report(result.report, out)
    for split, table in result.predictions.items():
        table.to_csv(out.with_name(f"predictions_{split}.csv"), index=False)
    auc = result.report["test"]["roc_auc"]
    print(f"test ROC AUC {auc['estimate']:.4f} ({auc['lower']:.4f}-{auc['upper']:.4f})\nwrote {out}")
    if result.report["test_by_source"]:
        print(f"each test set on its own:\n{source_results_table(result.report).to_string(float_format=lambda v: f'{v:.3f}')}")
    if documents is not None:
        readme, card, selection_record = documents
        update_documents(result, readme, card, selection_record=selection_record, test_log=log)
        beside = write_report(result.report, report_path(checkpoint))  # served by GET /model
        print(f"updated README.md and MODEL_CARD.md; wrote {beside}")
    return 0


def _docs(args: argparse.Namespace) -> int:
    from pneumolib.checkpoint import BUNDLED_CHECKPOINT, find_checkpoint
    from pneumolib.evaluation.report import report_path
    from pneumolib.evaluation.test_access import access_log_path
    from pneumolib.reporting.documents import update_documents_from_report

    readme, card, selection_record = _project_documents(
        "docs", f"read the bundled model's results in {report_path(BUNDLED_CHECKPOINT)}")
    checkpoint, source = find_checkpoint(args.checkpoint)
    report = update_documents_from_report(checkpoint, readme, card, selection_record, access_log_path(project=True))
    print(f"{checkpoint.name} ({source}): README.md and MODEL_CARD.md regenerated from {report.name}; "
          "the test split was not read")
    return 0


def _test_log(args: argparse.Namespace) -> int:
    from pneumolib.evaluation.test_access import access_log_path, read_test_log, render_test_log
    from pneumolib.reporting.documents import update_test_log_section

    card = (project_file("MODEL_CARD.md", "test-log --update-docs", "leave --update-docs out to list the work "
                         "folder's log") if args.update_docs else None)
    log = access_log_path(project=args.update_docs)
    print(f"{log}:\n{render_test_log(read_test_log(log))}")
    if card is not None:
        update_test_log_section(card, log)
        print(f"updated {card.name}")
    return 0


NON_XRAY_SET = Path("tests", "fixtures", "not_xray")
"""The project's non-X-ray pictures, in a clone (a test fixture: the package does not ship them)."""


def _non_xray_folder(given: str | None) -> Path:
    """``--non-xrays``, else the project's set in a clone; :class:`CheckoutOnly` in an installed package."""
    if given is not None:
        return Path(given)
    root = checkout_root()
    if root is None:
        raise CheckoutOnly("measure-gate needs a folder of pictures that are not chest X-rays. The project's set "
                           f"({NON_XRAY_SET.as_posix()}) is in a clone of the repository, not in the installed package: "
                           f"pass --non-xrays FOLDER (photos, documents, screenshots), or run it in a clone ({CLONE_COMMAND}).")
    return root / NON_XRAY_SET


def _measure_gate(args: argparse.Namespace) -> int:
    from pneumolib.checkpoint import find_checkpoint
    from pneumolib.data.manifest import load_manifest
    from pneumolib.data.sources import BASE_SOURCE, locate
    from pneumolib.decode.formats import image_files
    from pneumolib.evaluation.test_access import record_test_access
    from pneumolib.gate.measure import measure_gate
    from pneumolib.serving.predictor import Predictor

    non_xrays = _non_xray_folder(args.non_xrays)
    if not non_xrays.is_dir():
        print(f"error: no folder {non_xrays}: give --non-xrays a folder of pictures that are not chest X-rays",
              file=sys.stderr)
        return 2
    checkpoint, source = find_checkpoint(args.checkpoint)
    predictor = Predictor.load(checkpoint)
    print(f"model {checkpoint.name} ({source}); X-rays: the official test split; non-X-rays: {non_xrays}")
    root = _data_root(args)
    manifest = load_manifest(args.manifest)
    kermany_test = manifest["split"].eq("test") & manifest["source"].eq(BASE_SOURCE)
    xrays = [locate(root, p) for p in manifest.loc[kermany_test, "path"]]
    result = measure_gate(predictor, xrays, image_files(non_xrays))
    log = record_test_access(checkpoint, "measure-gate: share of test X-rays the gate passes", len(xrays))
    print(f"this look at the test split is recorded in {log}\n{result.summary()}")
    return 0


def _calibrate_gate(args: argparse.Namespace) -> int:
    from pneumolib.deploy.site_calibration import GateCalibrationError, calibrate_gate_for_site, site_films

    try:
        result = calibrate_gate_for_site(args.checkpoint, site_films(args.films), args.out)
    except GateCalibrationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for line in result.skipped:
        print(f"skipped {line}")
    print(f"{result.films} films: the gate passed {result.site_accept_before:.1%} of them before, "
          f"{result.site_accept_after:.1%} now (margin {result.margin_before:.2f} -> {result.margin_after:.2f}); "
          f"it still refuses {result.reference_reject_after:.1%} of the reference non-X-rays\nwrote {args.out}")
    return 0


def _bundle(args: argparse.Namespace) -> int:
    from pneumolib.checkpoint import BUNDLED_CHECKPOINT, bundle_checkpoint

    default = BUNDLED_CHECKPOINT if checkout_root() is not None else work_dir() / BUNDLED_CHECKPOINT.name
    out = bundle_checkpoint(args.checkpoint, args.out or default)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    if not args.out and checkout_root() is None:
        print("(an installed package: its own bundled model is left as it is; run `bundle` in a clone to replace it)")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import dataclasses
    import logging

    import uvicorn

    from pneumolib.serving.app import create_app
    from pneumolib.serving.settings import ServiceSettings

    settings = ServiceSettings.from_env()
    if args.engine:
        settings = dataclasses.replace(settings, engine=args.engine)
    print(f"pneumolib API on http://{args.host}:{args.port}/  (docs: /docs; not a diagnostic tool)")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")  # the request log
    uvicorn.run(create_app(args.checkpoint, settings), host=args.host, port=args.port, workers=1)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pneumolib", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    manifest = commands.add_parser("manifest", help="hash, deduplicate and split the dataset into data_manifest.csv")
    manifest.add_argument("--data", help="dataset folder (else $PNEUMO_DATA_DIR, else a kagglehub download)")
    manifest.add_argument("--out", help="where to write the manifest (default: a clone's data_manifest.csv, "
                               "else <work dir>/data_manifest.csv)")
    manifest.add_argument("--max-per-folder", type=int, help="only the first N files of each folder (a quick look)")
    manifest.add_argument("--offline", action="store_true", help="never try to download")
    manifest.add_argument("--resplit", action="store_true",
                          help="assign the split from the split policy instead of taking it from the committed manifest")
    manifest.add_argument("--extra", action="append", metavar="NAME=PATH",
                          help="an additional labelled source: a folder [<split>/]<LABEL>/<files> or a CSV "
                               "path,label[,patient_id] (repeatable; writes data_manifest_with_sources.csv unless --out)")
    manifest.add_argument("--role", action="append", metavar="NAME=ROLE",
                          help="what an extra source is for: split (default), train-only or test-only")
    manifest.add_argument("--workers", type=int, help="processes that hash images (default: one per CPU core)")
    manifest.set_defaults(run=_manifest)

    train = commands.add_parser("train", help="fine-tune an EfficientNet on the manifest's train split")
    train.add_argument("--data", help="dataset folder (else $PNEUMO_DATA_DIR, else a kagglehub download)")
    train.add_argument("--manifest", help="manifest CSV (default: the committed data_manifest.csv)")
    train.add_argument("--out", help="output folder for best.pt, last.pt and history.csv (default: <work dir>/train)")
    train.add_argument("--architecture", help="efficientnet_lite0 (default, offline weights), efficientnet_lite0_os16 "
                                                "(the same at output stride 16: 14x14 heatmaps), efficientnet_b0 (online), "
                                                "efficientnet_b0_lukemelas")
    train.add_argument("--weights", help="ImageNet weights file for the backbone (offline B0)")
    train.add_argument("--no-pretrained", action="store_true", help="start from random weights, on purpose")
    train.add_argument("--init-from", help="start from this checkpoint's weights (continued training)")
    train.add_argument("--warmup-epochs", type=float)
    train.add_argument("--epochs", type=int)
    train.add_argument("--image-size", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--patience", type=int, help="stop after this many epochs without a better val AUC (default 6)")
    train.add_argument("--seed", type=int)
    train.add_argument("--ema", type=float, metavar="DECAY",
                       help="validate and save an exponential moving average of the weights (e.g. 0.998; default: off)")
    train.add_argument("--lung-guidance", type=float, metavar="WEIGHT",
                       help="weight of the loss term that keeps the evidence on the lung fields (e.g. 0.5; default 0)")
    train.add_argument("--max-images", type=int, help="at most this many images per split, half per class (a quick run)")
    train.add_argument("--border-erase", type=float,
                       help="probability per side of blanking a band along the film's edge (default 0.6; 0 turns it off)")
    train.add_argument("--jpeg-augment", type=float, metavar="P",
                       help="share of training images given a JPEG round trip at quality 20-95 (default 0)")
    train.add_argument("--clahe-augment", type=float, metavar="P", help="share of training images given CLAHE (default 0)")
    train.add_argument("--border-fraction", type=float, default=0.2, help="widest band, as a fraction of the side")
    train.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    train.add_argument("--restart", action="store_true", help="ignore last.pt and start over")
    train.add_argument("--sync-bn", action=argparse.BooleanOptionalAction,
                       help="under torchrun: BatchNorm statistics over the global batch (default: on with NCCL)")
    train.add_argument("--offline", action="store_true", help="never try to download the dataset")
    train.set_defaults(run=_train)

    select = commands.add_parser("select", help="choose among checkpoints on val and stress val by the fixed selection rule")
    select.add_argument("checkpoints", nargs="+",
                        help="candidate checkpoints, or a training folder (its last three epochs and best.pt)")
    select.add_argument("--names", help="comma-separated names for the candidates (default: file names)")
    select.add_argument("--out", help="selection record JSON (default: <work dir>/selection.json)")
    select.add_argument("--chosen-out", help="copy the chosen checkpoint here")
    select.add_argument("--no-lung-share", action="store_true", help="skip the Grad-CAM lung share (faster)")
    select.add_argument("--data")
    select.add_argument("--manifest")
    select.add_argument("--offline", action="store_true")
    select.add_argument("--reference", action="append", metavar="CHECKPOINT",
                        help="a checkpoint to measure and list beside the candidates, never chosen (repeatable)")
    select.set_defaults(run=_select)

    average = commands.add_parser("average", help="average checkpoints of one lineage in weight space "
                                                  "(epochs of a run, or a model and its fine-tuned successor)")
    average.add_argument("checkpoints", nargs="+")
    average.add_argument("--out", required=True, help="where to write the averaged checkpoint")
    average.add_argument("--weights", help="comma-separated, summing to 1 (default: equal)")
    average.add_argument("--base", type=int, default=-1,
                         help="index of the checkpoint whose architecture and recipe the result keeps (default: the last)")
    average.set_defaults(run=_average)

    finalize = commands.add_parser("finalize", help="add temperature, operating points and the X-ray gate (val/train only)")
    finalize.add_argument("checkpoint", help="best.pt from training")
    finalize.add_argument("out", help="where to write the deployable checkpoint")
    finalize.add_argument("--data")
    finalize.add_argument("--manifest")
    finalize.add_argument("--offline", action="store_true")
    finalize.set_defaults(run=_finalize)

    evaluate = commands.add_parser("evaluate", help="report on the official test split (metrics, intervals, calibration)")
    evaluate.add_argument("checkpoint", nargs="?",
                          help="default: $PNEUMO_CHECKPOINT, the work folder's model, or the bundled one")
    evaluate.add_argument("--out", help="report JSON (default: <work dir>/evaluation/report.json)")
    evaluate.add_argument("--update-docs", action="store_true",
                          help="in a clone: rewrite the results sections of README.md and MODEL_CARD.md (and log to "
                               "docs/test_split_access.csv)")
    evaluate.add_argument("--why", default="evaluate", help="why the test split is read: goes into the test-split access log")
    evaluate.add_argument("--data")
    evaluate.add_argument("--manifest")
    evaluate.add_argument("--offline", action="store_true")
    evaluate.set_defaults(run=_evaluate)

    site = commands.add_parser("calibrate-gate", help="re-place the X-ray gate's threshold with a new site's own films")
    site.add_argument("checkpoint", help="a finalized checkpoint (e.g. the bundled one)")
    site.add_argument("films", help="folder of the site's frontal chest X-rays (JPEG, PNG or DICOM; unlabelled)")
    site.add_argument("out", help="where to write the re-calibrated checkpoint")
    site.set_defaults(run=_calibrate_gate)

    measure = commands.add_parser("measure-gate",
                                  help="share of test X-rays the not-an-X-ray gate passes and of non-X-rays it refuses")
    measure.add_argument("--checkpoint", help="default: the checkpoint the service would load")
    measure.add_argument("--non-xrays", help="folder of pictures that are not chest X-rays "
                                             "(default: the project's set, tests/fixtures/not_xray in a clone)")
    measure.add_argument("--data")
    measure.add_argument("--manifest")
    measure.add_argument("--offline", action="store_true")
    measure.set_defaults(run=_measure_gate)

    docs = commands.add_parser("docs", help="in a clone: regenerate the README's and model card's results from the "
                                            "saved report (no test look)")
    docs.add_argument("checkpoint", nargs="?", help="default: the bundled model; its <stem>.report.json must exist")
    docs.set_defaults(run=_docs)

    test_log = commands.add_parser("test-log", help="list every recorded look at the official test split")
    test_log.add_argument("--update-docs", action="store_true",
                          help="in a clone: use the project's log and rewrite the model card's test-split access section")
    test_log.set_defaults(run=_test_log)

    bundle = commands.add_parser("bundle", help="store a finalised checkpoint (float16 weights) as the package's bundled model")
    bundle.add_argument("checkpoint")
    bundle.add_argument("--out", help="default: pneumolib/weights/pneumolib_lite0.pt in a clone, "
                                      "<work dir>/pneumolib_lite0.pt in an installed package")
    bundle.set_defaults(run=_bundle)

    serve = commands.add_parser("serve", help="start the HTTP API and web page (uvicorn)")
    serve.add_argument("--checkpoint", help="default: $PNEUMO_CHECKPOINT, the work folder's model, or the bundled one")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--engine", choices=("auto", "onnx", "torch"),
                       help="inference engine (default: $PNEUMO_ENGINE, else auto: ONNX Runtime on a CPU where installed)")
    serve.set_defaults(run=_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CheckoutOnly as error:  # a clone-only command in an installed package: say what to do, no traceback
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
