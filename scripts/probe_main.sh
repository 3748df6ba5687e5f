#!/usr/bin/env bash
# Start the README's main command (bash scripts/run_main.sh) in the background as a user would,
# wait for /health, post the bundled sample film to /predict (plain and with heatmap=true), check
# the answers, and stop the server with Ctrl-C. Exits non-zero when any of that fails.
set -euo pipefail
cd "$(dirname "$0")/.."
# exactly the README's command; PNEUMO_PROBE_PORT moves it off port 8000 when that is taken
PORT="${PNEUMO_PROBE_PORT:-8000}"
ARGS=(); [ "$PORT" = 8000 ] || ARGS=(--port "$PORT")
BASE="http://127.0.0.1:$PORT"
LOG="$(mktemp)"
setsid bash scripts/run_main.sh "${ARGS[@]}" >"$LOG" 2>&1 &
SERVER=$!
stop() { kill -INT -- "-$SERVER" 2>/dev/null || true; }
trap 'stop; echo "--- server log"; cat "$LOG"' EXIT

for _ in $(seq 1 600); do
  if curl -fsS "$BASE/health" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER" 2>/dev/null; then echo "run_main.sh exited before answering /health" >&2; exit 1; fi
  sleep 1
done
curl -fsS "$BASE/health" >/dev/null || { echo "no /health answer within 10 minutes" >&2; exit 1; }

. .venv/bin/activate
python - "$BASE" <<'EOF'
import json
import sys

import httpx

base = sys.argv[1]
film = "pneumolib/samples/person100_bacteria_475.jpeg"
for params in ({}, {"heatmap": "true"}):
    with open(film, "rb") as handle:
        answer = httpx.post(f"{base}/predict", params=params, timeout=120,
                            files={"file": ("person100_bacteria_475.jpeg", handle, "image/jpeg")})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["prediction"] in {"Pneumonia", "Normal"} and 0 <= body["probability"] <= 1, body
    assert (body["heatmap"] is not None) == bool(params), "heatmap present only when asked for"
    shown = {k: v for k, v in body.items() if k != "heatmap"}
    shown["heatmap"] = f"<{len(body['heatmap'])} base64 characters>" if body["heatmap"] else None
    print(f"POST /predict {params or ''} -> {answer.status_code}\n{json.dumps(shown, indent=1)}")
EOF

stop
for _ in $(seq 1 30); do kill -0 "$SERVER" 2>/dev/null || break; sleep 1; done
if kill -0 "$SERVER" 2>/dev/null; then echo "the server did not stop on Ctrl-C" >&2; exit 1; fi
trap - EXIT
echo "main command: started, answered /health and /predict, stopped on Ctrl-C"
tail -n 5 "$LOG"
