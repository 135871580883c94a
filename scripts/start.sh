#!/usr/bin/env bash
# Run Countersignal on its embedded default (SQLite, in-process workers).
# Extra arguments go to `countersignal serve` (e.g. --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNTERSIGNAL_EXTRAS=${COUNTERSIGNAL_EXTRAS:-dev,scale} bash scripts/bootstrap.sh
exec .venv/bin/countersignal serve "$@"
