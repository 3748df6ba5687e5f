#!/usr/bin/env bash
# Set up, then run the main job: the HTTP API and web page with the model bundled in pneumolib,
# on http://127.0.0.1:8000/ (pass --host 0.0.0.0 to listen on every interface, --port to move it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
exec python -m pneumolib serve "$@"
