#!/usr/bin/env bash
# Execute notebooks in place in the FULL profile, so the committed copies show a real run's outputs.
# Usage: bash scripts/run_notebooks.sh [01_download 02_eda_dedup ...]   (default: all)
# Needs the data (PNEUMO_DATA_DIR) and, for 04-06, a model (notebook 03's or the bundled one).
set -euo pipefail
cd "$(dirname "$0")/../notebooks"
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(01_download 02_eda_dedup 03_train 04_evaluate 05_gradcam 06_serve)
export PNEUMO_PROFILE=full PNEUMO_WORK_DIR="${PNEUMO_WORK_DIR:-pneumo_work}"
for name in "${names[@]}"; do
  echo "executing $name"
  ../.venv/bin/python -m jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=7200 "$name.ipynb"
done
