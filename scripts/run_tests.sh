#!/usr/bin/env bash
# Set up, then run every test: ruff, pytest over tests/, then every notebook under nbval in the quick
# profile, the way Colab runs them (a built wheel installed outside the checkout:
# scripts/run_notebooks_as_colab.sh).
# Uses the full dataset when PNEUMO_DATA_DIR or ../shared/data/chest_xray has it, else the fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
if [ -z "${PNEUMO_DATA_DIR:-}" ]; then
  if [ -d ../shared/data/chest_xray/train ]; then
    PNEUMO_DATA_DIR="$(cd ../shared/data/chest_xray && pwd)"
  else
    PNEUMO_DATA_DIR="$(pwd)/tests/fixtures/chest_xray"
  fi
fi
export PNEUMO_DATA_DIR
export PNEUMO_PROFILE=quick MPLBACKEND=Agg
export PNEUMO_WORK_DIR="${PNEUMO_WORK_DIR:-$(mktemp -d)}"
echo "data: $PNEUMO_DATA_DIR  work: $PNEUMO_WORK_DIR"
ruff check .  # lint and import order (pyproject.toml)
python -m pytest tests -q
deactivate
bash scripts/run_notebooks_as_colab.sh
