"""The same pipeline as the notebooks, from a terminal.

Each command parses its arguments and calls one function of :mod:`pneumolib.workflows`; options
that several commands share (where the data comes from, which checkpoint) are declared once.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pneumolib.config import CheckoutOnly
from pneumolib.workflows import dataset, model, reporting, service
from pneumolib.workflows.inputs import DataInputs

RECIPE = ("architecture", "epochs", "image_size", "batch_size", "learning_rate", "weights_path", "init_checkpoint",
          "warmup_epochs", "patience", "seed", "max_images_per_split", "ema_decay", "lung_guidance",
          "lung_guidance_margin")
"""``train`` options that are ``TrainConfig`` fields of the same name."""
AUGMENT = ("jpeg_probability", "clahe_probability", "border_erase_probability", "max_border_fraction")
"""``train`` options that are ``AugmentConfig`` fields of the same name."""


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def _inputs(args: argparse.Namespace) -> DataInputs:
    return DataInputs(args.data, getattr(args, "manifest", None), args.offline)


def _names(text: str | None) -> list[str] | None:
    return text.split(",") if text else None


def _data_options(manifest: bool = True) -> argparse.ArgumentParser:
    """``--data``, ``--manifest`` and ``--offline``: the options of every command that reads the data set."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--data", help="dataset folder (else $PNEUMO_DATA_DIR, else a kagglehub download)")
    if manifest:
        options.add_argument("--manifest", help="manifest CSV (default: the committed data_manifest.csv)")
    options.add_argument("--offline", action="store_true", help="never try to download the dataset")
    return options


CHECKPOINT_DEFAULT = "default: $PNEUMO_CHECKPOINT, the work folder's model, or the bundled one"


def _add_train(commands: Any) -> None:
    train = commands.add_parser("train", parents=[_data_options()],
                                help="fine-tune an EfficientNet on the manifest's train split")
    train.add_argument("--out", help="output folder for best.pt, last.pt and history.csv (default: <work dir>/train)")
    recipe = train.add_argument_group("recipe (default: the active profile's)")
    recipe.add_argument("--architecture", help="efficientnet_lite0 (default, offline weights), efficientnet_lite0_os16 "
                                               "(the same at output stride 16: 14x14 heatmaps), efficientnet_b0 (online), "
                                               "efficientnet_b0_lukemelas")
    recipe.add_argument("--weights", dest="weights_path", metavar="FILE",
                        help="ImageNet weights file for the backbone (offline B0)")
    recipe.add_argument("--no-pretrained", action="store_true", help="start from random weights, on purpose")
    recipe.add_argument("--init-from", dest="init_checkpoint", metavar="CHECKPOINT",
                        help="start from this checkpoint's weights (continued training)")
    recipe.add_argument("--warmup-epochs", type=float)
    recipe.add_argument("--epochs", type=int)
    recipe.add_argument("--image-size", type=int)
    recipe.add_argument("--batch-size", type=int)
    recipe.add_argument("--lr", dest="learning_rate", type=float, metavar="LR")
    recipe.add_argument("--patience", type=int, help="stop after this many epochs without a better val AUC (default 6)")
    recipe.add_argument("--seed", type=int)
    recipe.add_argument("--ema", dest="ema_decay", type=float, metavar="DECAY",
                        help="validate and save an exponential moving average of the weights (e.g. 0.998; default: off)")
    recipe.add_argument("--lung-guidance", type=float, metavar="WEIGHT",
                        help="weight of the loss term that keeps the evidence on the lung fields (e.g. 0.5; default 0)")
    recipe.add_argument("--lung-guidance-margin", type=int, metavar="PX",
                        help="widen the guidance's lung masks by this many pixels (default 0)")
    recipe.add_argument("--max-images", dest="max_images_per_split", type=int, metavar="N",
                        help="at most this many images per split, half per class (a quick run)")
    augment = train.add_argument_group("augmentation")
    augment.add_argument("--border-erase", dest="border_erase_probability", type=float, metavar="P",
                         help="probability per side of blanking a band along the film's edge (default 0.6; 0 turns it off)")
    augment.add_argument("--border-fraction", dest="max_border_fraction", type=float, metavar="F",
                         help="widest band, as a fraction of the side (default 0.2)")
    augment.add_argument("--jpeg-augment", dest="jpeg_probability", type=float, metavar="P",
                         help="share of training images given a JPEG round trip at quality 20-95 (default 0)")
    augment.add_argument("--clahe-augment", dest="clahe_probability", type=float, metavar="P",
                         help="share of training images given CLAHE (default 0)")
    run = train.add_argument_group("how it runs")
    run.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    run.add_argument("--restart", action="store_true", help="ignore last.pt and start over")
    run.add_argument("--sync-bn", action=argparse.BooleanOptionalAction,
                     help="under torchrun: BatchNorm statistics over the global batch (default: on with NCCL)")
    train.set_defaults(run=lambda a: model.train_model(
        _inputs(a), a.out, recipe=_given(a, RECIPE), augment=_given(a, AUGMENT), pretrained=not a.no_pretrained,
        restart=a.restart, device=a.device, sync_batchnorm=a.sync_bn))


def _add_model_commands(commands: Any) -> None:
    average = commands.add_parser("average", help="average checkpoints of one lineage in weight space "
                                                  "(epochs of a run, or a model and its fine-tuned successor)")
    average.add_argument("checkpoints", nargs="+")
    average.add_argument("--out", required=True, help="where to write the averaged checkpoint")
    average.add_argument("--weights", help="comma-separated, summing to 1 (default: equal)")
    average.add_argument("--base", type=int, default=-1,
                         help="index of the checkpoint whose architecture and recipe the result keeps (default: the last)")
    average.set_defaults(run=lambda a: model.average_weights(
        a.checkpoints, a.out, [float(w) for w in a.weights.split(",")] if a.weights else None, a.base))

    ensemble = commands.add_parser("ensemble", help="one checkpoint that averages the logits of several trained on "
                                                    "this split (any architectures that read the same input)")
    ensemble.add_argument("checkpoints", nargs="+")
    ensemble.add_argument("--out", required=True, help="where to write the ensemble's checkpoint")
    ensemble.set_defaults(run=lambda a: model.combine_models(a.checkpoints, a.out))

    views = commands.add_parser("views", help="a copy of a checkpoint that averages each film with its centre crops "
                                              "(test-time views)")
    views.add_argument("checkpoint")
    views.add_argument("--crops", required=True, help="comma-separated fractions cut off every side, e.g. 0.04,0.08")
    views.add_argument("--out", required=True, help="where to write the checkpoint")
    views.set_defaults(run=lambda a: model.add_views(a.checkpoint, [float(c) for c in a.crops.split(",")], a.out))

    reencoding = commands.add_parser("reencoding", parents=[_data_options()],
                                     help="val films re-encoded as quality-95 JPEGs (grey, RGB, CMYK, progressive) "
                                          "and quality 30: how far P(pneumonia) moves, which calls flip")
    reencoding.add_argument("checkpoints", nargs="+", help="finalized checkpoints (each at its own balanced point)")
    reencoding.add_argument("--out", help="write the tables as one CSV (when a model ships: the model card's record, "
                                          "docs/reencoding_record.csv, with the model it replaces)")
    reencoding.set_defaults(run=lambda a: model.check_reencoding(_inputs(a), a.checkpoints, a.out))

    select = commands.add_parser("select", parents=[_data_options()],
                                 help="choose among checkpoints on val and stress val by the fixed selection rule")
    select.add_argument("checkpoints", nargs="+",
                        help="candidate checkpoints, or a training folder (its last three epochs and best.pt)")
    select.add_argument("--names", help="comma-separated names for the candidates (default: file names)")
    select.add_argument("--out", help="selection record JSON (default: <work dir>/selection.json)")
    select.add_argument("--chosen-out", help="copy the chosen checkpoint here")
    select.add_argument("--no-lung-share", action="store_true",
                        help="skip the heatmap measures, lung share and laterality (faster; then --reference "
                             "cannot check laterality)")
    select.add_argument("--reference", action="append", default=[], metavar="CHECKPOINT",
                        help="a checkpoint to measure and list beside the candidates, never chosen (repeatable)")
    select.set_defaults(run=lambda a: model.select_checkpoint(
        _inputs(a), a.checkpoints, names=_names(a.names), out=a.out, chosen_out=a.chosen_out,
        lung_share=not a.no_lung_share, references=a.reference))

    finalize = commands.add_parser("finalize", parents=[_data_options()],
                                   help="add temperature, operating points and the X-ray gate (val/train only)")
    finalize.add_argument("checkpoint", help="best.pt from training")
    finalize.add_argument("out", help="where to write the deployable checkpoint")
    finalize.set_defaults(run=lambda a: model.finalize_model(_inputs(a), a.checkpoint, a.out))

    refit = commands.add_parser("refit-fill", parents=[_data_options()],
                                help="re-choose a finalized checkpoint's occlusion fill on val; nothing else changes")
    refit.add_argument("checkpoint", help="a finalized checkpoint")
    refit.add_argument("out", help="where to write the checkpoint with the new fill")
    refit.set_defaults(run=lambda a: model.refit_fill(_inputs(a), a.checkpoint, a.out))

    bundle = commands.add_parser("bundle", help="store a finalised checkpoint (float16 weights) as the package's bundled model")
    bundle.add_argument("checkpoint")
    bundle.add_argument("--out", help="default: pneumolib/weights/pneumolib_lite0.pt in a clone, "
                                      "<work dir>/pneumolib_lite0.pt in an installed package")
    bundle.set_defaults(run=lambda a: model.bundle_model(a.checkpoint, a.out))


def _add_reporting_commands(commands: Any) -> None:
    evaluate = commands.add_parser("evaluate", parents=[_data_options()],
                                   help="report on the official test split (metrics, intervals, calibration)")
    evaluate.add_argument("checkpoint", nargs="?", help=CHECKPOINT_DEFAULT)
    evaluate.add_argument("--out", help="report JSON (default: <work dir>/evaluation/report.json)")
    evaluate.add_argument("--update-docs", action="store_true",
                          help="in a clone: rewrite the results sections of README.md and MODEL_CARD.md (and log to "
                               "docs/test_split_access.csv)")
    evaluate.add_argument("--why", default="evaluate", help="why the test split is read: goes into the test-split access log")
    evaluate.set_defaults(run=lambda a: reporting.evaluate_model(_inputs(a), a.checkpoint, a.out,
                                                                 update_docs=a.update_docs, why=a.why))

    measure = commands.add_parser("measure-gate", parents=[_data_options()],
                                  help="share of test X-rays the not-an-X-ray gate passes and of non-X-rays it refuses")
    measure.add_argument("--checkpoint", help=CHECKPOINT_DEFAULT)
    measure.add_argument("--non-xrays", help="folder of pictures that are not chest X-rays "
                                             "(default: the project's set, tests/fixtures/not_xray in a clone)")
    measure.set_defaults(run=lambda a: reporting.measure_xray_gate(_inputs(a), a.checkpoint, a.non_xrays))

    docs = commands.add_parser("docs", help="in a clone: regenerate the README's and model card's results from the "
                                            "saved report (no test look)")
    docs.add_argument("checkpoint", nargs="?", help="default: the bundled model; its <stem>.report.json must exist")
    docs.set_defaults(run=lambda a: reporting.regenerate_documents(a.checkpoint))

    test_log = commands.add_parser("test-log", help="list every recorded look at the official test split")
    test_log.add_argument("--update-docs", action="store_true",
                          help="in a clone: use the project's log and rewrite the model card's test-split access section")
    test_log.set_defaults(run=lambda a: reporting.show_test_log(a.update_docs))


def _add_service_commands(commands: Any) -> None:
    site = commands.add_parser("calibrate-gate", help="re-place the X-ray gate's threshold with a new site's own films")
    site.add_argument("checkpoint", help="a finalized checkpoint (e.g. the bundled one)")
    site.add_argument("films", help="folder of the site's frontal chest X-rays (JPEG, PNG or DICOM; unlabelled)")
    site.add_argument("out", help="where to write the re-calibrated checkpoint")
    site.set_defaults(run=lambda a: service.calibrate_site_gate(a.checkpoint, a.films, a.out))

    serve = commands.add_parser("serve", help="start the HTTP API and web page (uvicorn)")
    serve.add_argument("--checkpoint", help=CHECKPOINT_DEFAULT)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--engine", choices=("auto", "onnx", "torch"),
                       help="inference engine (default: $PNEUMO_ENGINE, else auto: ONNX Runtime on a CPU where installed)")
    serve.set_defaults(run=lambda a: service.serve(a.checkpoint, a.host, a.port, a.engine))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pneumolib", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    manifest = commands.add_parser("manifest", parents=[_data_options(manifest=False)],
                                   help="hash, deduplicate and split the dataset into data_manifest.csv")
    manifest.add_argument("--out", help="where to write the manifest (default: a clone's data_manifest.csv, "
                                        "else <work dir>/data_manifest.csv)")
    manifest.add_argument("--max-per-folder", type=int, help="only the first N files of each folder (a quick look)")
    manifest.add_argument("--resplit", action="store_true",
                          help="assign the split from the split policy instead of taking it from the committed manifest")
    manifest.add_argument("--extra", action="append", metavar="NAME=PATH",
                          help="an additional labelled source: a folder [<split>/]<LABEL>/<files> or a CSV "
                               "path,label[,patient_id] (repeatable; writes data_manifest_with_sources.csv unless --out)")
    manifest.add_argument("--role", action="append", metavar="NAME=ROLE",
                          help="what an extra source is for: split (default), train-only or test-only")
    manifest.add_argument("--workers", type=int, help="processes that hash images (default: one per CPU core)")
    manifest.set_defaults(run=lambda a: dataset.build_manifest_files(
        a.data, a.out, extra=a.extra, roles=a.role, max_per_folder=a.max_per_folder, offline=a.offline,
        resplit=a.resplit, workers=a.workers))

    _add_train(commands)
    _add_model_commands(commands)
    _add_reporting_commands(commands)
    _add_service_commands(commands)
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
