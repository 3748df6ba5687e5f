"""Heatmaps of several models side by side, on val: lung share, deletion, laterality, top zones.

The same measures as the model card's heatmap section (:func:`pneumolib.explain.summary.heatmap_summary`),
on the val split, so models can be compared without a look at the test split: for example the
shipped model against a new run's, each with its own feature grid.

    python scripts/compare_heatmaps.py OLD.pt NEW.pt [--names old,new] [--data DIR]

``--scores logit,log_odds`` measures one model's maps of each score (:mod:`pneumolib.explain.scores`);
``--decide-score`` then also runs the randomisation check on the log-odds maps and prints the
decision of :func:`pneumolib.explain.scores.prefers_log_odds`. ``--maps cam,zone_weighted``
measures Grad-CAM's maps as they are and zone-weighted (:mod:`pneumolib.explain.zone_weighting`),
from one study; ``--decide-maps`` runs the randomisation check on the weighted maps and prints the
decision of :func:`pneumolib.explain.zone_weighting.prefers_zone_weighting`.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from pneumolib.config import cache_dir
from pneumolib.data.inputs.arrays import load_split
from pneumolib.data.release.locate import find_dataset_root
from pneumolib.data.split.manifest import load_manifest
from pneumolib.explain.occlusion import occlusion_fill_of
from pneumolib.explain.randomisation import randomisation_check
from pneumolib.explain.scores import DEFAULT_SCORE, prefers_log_odds
from pneumolib.explain.study import film_reader
from pneumolib.explain.summary import summarise_study, summary_study
from pneumolib.explain.zone_weighting import (
    DEFAULT_MAP_STYLE,
    check_map_style,
    prefers_zone_weighting,
    weighted_randomisation,
)
from pneumolib.inference import engine_for_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+", help="finalized checkpoints (temperature and operating points)")
    parser.add_argument("--names", help="comma-separated names (default: file names)")
    parser.add_argument("--data", help="dataset folder (else $PNEUMO_DATA_DIR)")
    parser.add_argument("--json", help="also write every summary to this JSON file")
    parser.add_argument("--scores", default=DEFAULT_SCORE, help="comma-separated heatmap scores (logit, log_odds)")
    parser.add_argument("--decide-score", action="store_true",
                        help="one checkpoint, --scores logit,log_odds: apply the rule that picks the served score")
    parser.add_argument("--maps", default=DEFAULT_MAP_STYLE, help="comma-separated map styles (cam, zone_weighted)")
    parser.add_argument("--decide-maps", action="store_true",
                        help="one checkpoint, --maps cam,zone_weighted: apply the rule that picks the served style")
    args = parser.parse_args()
    scores, styles = args.scores.split(","), [check_map_style(s) for s in args.maps.split(",")]
    if args.decide_score and (len(args.checkpoints) != 1 or scores != ["logit", "log_odds"]):
        parser.error("--decide-score takes one checkpoint and --scores logit,log_odds")
    if args.decide_maps and (len(args.checkpoints) != 1 or styles != ["cam", "zone_weighted"] or len(scores) != 1):
        parser.error("--decide-maps takes one checkpoint, one score and --maps cam,zone_weighted")
    names = args.names.split(",") if args.names else [c.rsplit("/", 1)[-1] for c in args.checkpoints]
    root = find_dataset_root(args.data, download=False)
    manifest = load_manifest()
    subtypes = dict(zip(manifest["path"], manifest["subtype"].fillna("")))
    rows, summaries = [], {}
    for name, checkpoint in zip(names, args.checkpoints):
        engine, model, metadata = engine_for_checkpoint(checkpoint)
        data = load_split(manifest, "val", root, metadata["image_size"], metadata["jpeg_quality"], None, cache_dir())
        for score in scores:
            study = summary_study(engine, model, metadata, np.asarray(data.images), data.labels,
                                  list(data.rows["path"]), film_reader(root), score=score)
            for style in styles:
                label = " ".join([name] + [f"[{s}]" for s, many in ((score, len(scores) > 1), (style, len(styles) > 1))
                                           if many])
                summaries[label] = summarise_study(engine, study, metadata, subtypes, film_reader(root), score=score,
                                                   maps=style)
    for name, summary in summaries.items():
        curve = pd.DataFrame(summary["deletion_curve"]).set_index("share_of_lung_area")
        rows.append({"model": name, "grid": "x".join(map(str, summary["feature_grid"])),
                     "called pneumonia": summary["films_called_pneumonia"],
                     "lung share": summary["lung_share_called_pneumonia"],
                     "uniform": summary["uniform_share_called_pneumonia"],
                     "drop, hottest 10 %": curve.loc[0.1, "heatmap"], "drop, random 10 %": curve.loc[0.1, "random"],
                     "laterality": summary["laterality_agreement"],
                     "uniform laterality": summary["uniform_laterality_agreement"], "fill": summary["occlusion_fill"]})
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for name, summary in summaries.items():
        print(f"\n{name}: deletion curve\n{pd.DataFrame(summary['deletion_curve']).to_string(index=False)}")
        print(f"{name}: top zone per group\n{pd.DataFrame(summary['top_zones']).T.round(2).to_string()}")
        print(f"{name}: films by the side with more heat (rows) and the side whose occlusion matters more\n"
              f"{pd.DataFrame(summary['laterality_sides']).T.to_string()}")
        print(f"{name}: laterality by the least gap between the lungs' occlusion drops\n"
              f"{pd.DataFrame(summary['laterality_by_gap']).to_string(index=False, float_format=lambda v: f'{v:.3f}')}")
    if args.decide_score:  # the randomisation check on 32 val films, explaining pneumonia
        rho = randomisation_check(model, np.array(data.images[:32]), target_class=1, score="log_odds").mean
        logit, log_odds = summaries.values()
        prefers_log_odds(logit, log_odds, rho)
    if args.decide_maps:  # the randomisation check on the same 32 val films, weighted maps of pneumonia
        rho = weighted_randomisation(model, np.array(data.images[:32]), float(metadata.get("temperature", 1.0)),
                                     occlusion_fill_of(metadata)).mean
        cam, weighted = summaries.values()
        prefers_zone_weighting(cam, weighted, rho)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(summaries, handle, indent=1, default=float)


if __name__ == "__main__":
    main()
