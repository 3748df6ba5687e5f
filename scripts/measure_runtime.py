"""Measure the slow steps' rates on this machine and store them for the notebooks' runtime tables.

Times reading and decoding a sample of films, training steps (augmentation, mixed precision where
the device supports it) and scoring, and peak memory, then adds (or replaces) this runtime's entry
in ``pneumolib/resources/runtimes.json``, which notebooks 01 and 03 turn into "what to expect"
tables. Run it on an otherwise idle machine: another job on the same cores slows every figure.

    python scripts/measure_runtime.py --label "CPU, 2 cores" --films 200
    python scripts/measure_runtime.py --label "Colab T4 GPU"      # on a GPU runtime
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pneumolib.data.release.locate import find_dataset_root, list_release_files
from pneumolib.models import first_available_architecture
from pneumolib.notebook.runtime import RUNTIMES_FILE, expected_runtime, load_measurements, measure_runtime

OUT = Path(__file__).resolve().parents[1] / "pneumolib" / "resources" / RUNTIMES_FILE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help='the runtime in the table, e.g. "CPU, 2 cores"')
    parser.add_argument("--films", type=int, default=200, help="films to decode (default 200)")
    parser.add_argument("--steps", type=int, default=6, help="timed training and scoring batches (default 6)")
    parser.add_argument("--architecture", help="default: the notebooks' default where its weights can be had")
    args = parser.parse_args()

    root = find_dataset_root()
    paths = [root / path for path in list_release_files(root)["path"].sample(args.films, random_state=0)]
    architecture = args.architecture or first_available_architecture()[0]
    entry = measure_runtime(paths, architecture, steps=args.steps, label=args.label)
    measurements = [m for m in load_measurements(OUT) if m["runtime"] != args.label] + [entry]
    OUT.write_text(json.dumps({"measurements": measurements}, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(entry, indent=2))
    for notebook in ("01", "03"):
        print(expected_runtime(notebook, measurements).to_string())


if __name__ == "__main__":
    main()
