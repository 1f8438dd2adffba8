#!/usr/bin/env bash
# The API's own install: a fresh virtualenv with only `pip install -c requirements/lock.txt
# ".[serve]"` must hold no TensorFlow, Keras or JAX, stay under 600 MB, and serve a bundle that
# the trainer (the full install in .venv) wrote. Run by .ci/run and `make check-serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LIMIT_MB=600
WORK=$(mktemp -d /tmp/serve-only-XXXXXX)
trap 'kill "${SERVER:-0}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

python3 -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --upgrade "pip>=24"
"$WORK/venv/bin/python" -m pip install --quiet -c requirements/lock.txt ".[serve]"
for module in tensorflow keras jax jaxlib pandas; do
  if "$WORK/venv/bin/python" -c "import $module" 2>/dev/null; then
    echo "serve-only venv: $module is installed" >&2; exit 1
  fi
done
SIZE_MB=$(du -sm "$WORK/venv" | cut -f1)
FULL_MB=$(du -sm .venv | cut -f1)
echo "serve-only venv: ${SIZE_MB} MB (limit ${LIMIT_MB} MB); full dev venv: ${FULL_MB} MB"
[ "$SIZE_MB" -lt "$LIMIT_MB" ] || { echo "serve-only venv over ${LIMIT_MB} MB" >&2; exit 1; }

# A bundle from the trainer (the full install), on a small synthetic release.
{ .venv/bin/python -m training -q synthesize --out "$WORK/data" --users 300 --movies 400 \
    --ratings 12000 && .venv/bin/python -m training -q train --data "$WORK/data" \
    --out "$WORK/models" --epochs 2 --set trials=1; } >"$WORK/train.log" 2>&1 \
  || { cat "$WORK/train.log" >&2; exit 1; }

# Served from the serve-only venv, outside the checkout (so nothing is imported from it).
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cd "$WORK"
MODEL_DIR="$WORK/models" PORT=$PORT FEEDBACK_URL="sqlite:///$WORK/feedback.sqlite" \
  WATCH_INTERVAL=0 "$WORK/venv/bin/python" -m app >"$WORK/server.log" 2>&1 &
SERVER=$!
BASE="http://127.0.0.1:$PORT"
"$WORK/venv/bin/python" - "$BASE" "$SERVER" <<'PY'
import json, sys, time, urllib.error, urllib.request
base, pid = sys.argv[1], int(sys.argv[2])

def get(path):
    with urllib.request.urlopen(base + path, timeout=10) as answer:  # noqa: S310 (loopback)
        return answer.status, json.loads(answer.read())

start = time.monotonic()
while True:
    try:
        status, ready = get("/ready")
        if status == 200:
            break
    except (urllib.error.URLError, ConnectionError):
        pass
    if time.monotonic() - start > 120:
        sys.exit(f"not ready after 120 s: {open('server.log').read()[-2000:]}")
    time.sleep(0.2)
with open(f"/proc/{pid}/status") as status_file:
    rss = next(int(line.split()[1]) for line in status_file if line.startswith("VmRSS"))
modules = open(f"/proc/{pid}/maps").read()
assert "tensorflow" not in modules and "jaxlib" not in modules, "TensorFlow mapped"
status, body = get("/recommend/1?k=5")
assert status == 200 and len(body["items"]) == 5, body
item = body["items"][0]["movie_id"]
status, similar = get(f"/similar/{item}?k=5")
assert status == 200 and len(similar["items"]) == 5, similar
print(f"serve-only venv: ready in {time.monotonic() - start:.1f} s, RSS {rss / 1024:.0f} MiB, "
      f"/recommend and /similar answered (bundle {ready['model_version']})")
PY
cd "$ROOT"
