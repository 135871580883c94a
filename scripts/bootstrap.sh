#!/usr/bin/env bash
# Create or refresh ./.venv with everything Countersignal needs, including the Debian packages
# its hashers, OCR and browser tests use, and gcc for the index kernels (compiled at install).
# Cheap when nothing changed (stamp on pyproject.toml, setup.py and the C kernels' sources).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  pkg-config ffmpeg libavcodec-dev libavformat-dev libavdevice-dev libavfilter-dev
  libswscale-dev libswresample-dev libavutil-dev
  tesseract-ocr tesseract-ocr-eng tesseract-ocr-ara tesseract-ocr-rus
  chromium fonts-dejavu-core
  wrk
  postgresql-client
  gcc
)
PYTHON=${PYTHON:-python3}
# the C kernels need the interpreter's headers: Debian's python3-dev when it is Debian's Python
if ! "$PYTHON" -c 'import os, sysconfig, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  DEBIAN_PACKAGES+=(python3-dev)
fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: please install Debian packages: ${missing[*]}" >&2
    exit 1
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
extras=${COUNTERSIGNAL_EXTRAS:-dev,scale}
stamp=".venv/.countersignal-stamp"
want="$(cat pyproject.toml setup.py src/countersignal/*.h src/countersignal/*/*.c | sha256sum | cut -d' ' -f1) $extras"
built=(src/countersignal/index/_kernels.*.so src/countersignal/signals/_minhash.*.so)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || [ ! -f "${built[0]}" ] || [ ! -f "${built[1]}" ]; then
  echo "bootstrap: installing Python packages into .venv ($extras)"
  .venv/bin/python -m pip install -q --upgrade pip setuptools wheel
  .venv/bin/python -m pip install -q -e ".[${extras}]"
  echo "$want" > "$stamp"
fi
