#!/usr/bin/env bash
# LightFM 1.17's setup.py fails under current pip ("'dict' object has no attribute
# '__LIGHTFM_SETUP__'"): fetch the sdist from the package index, set the flag through
# `builtins`, then build and install it.  Usage: benchmarks/install_lightfm.sh [python]
set -euo pipefail
PY=${1:-.venv/bin/python}
INDEX=${PIP_INDEX_URL:-https://pypi.org/simple}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PY" - "$INDEX" "$work" <<'PYEOF'
import hashlib, re, sys, urllib.request
index, work = sys.argv[1].rstrip("/"), sys.argv[2]
page = urllib.request.urlopen(f"{index}/lightfm/", timeout=60).read().decode()
url, digest = re.search(r'href="([^"]*lightfm-1\.17\.tar\.gz)#sha256=([0-9a-f]{64})"', page).groups()
data = urllib.request.urlopen(url, timeout=120).read()
assert hashlib.sha256(data).hexdigest() == digest, "sdist checksum mismatch"
open(f"{work}/lightfm-1.17.tar.gz", "wb").write(data)
PYEOF
tar -xzf "$work"/lightfm-1.17.tar.gz -C "$work"
sed -i 's/^__builtins__.__LIGHTFM_SETUP__ = True/import builtins; builtins.__LIGHTFM_SETUP__ = True/' \
    "$work"/lightfm-1.17/setup.py
grep -q "builtins.__LIGHTFM_SETUP__ = True" "$work"/lightfm-1.17/setup.py
"$PY" -m pip install --no-build-isolation "$work"/lightfm-1.17
