#!/usr/bin/env bash
# Set up, then run the main job: rebuild the data manifest from the dataset (PNEUMO_DATA_DIR, else
# a kagglehub download) into pneumo_work/, and compare its split with the committed reference.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
python -m pneumolib manifest --out pneumo_work/data_manifest.csv "$@"
