#!/usr/bin/env bash
# The full test suite: lint, then every test (slow ones too), on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

# PostgreSQL: start the local cluster if it is installed but stopped.
pg_url=${COUNTERSIGNAL_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}
if ! .venv/bin/python scripts/pg_ready.py "$pg_url" 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    sleep 2
  fi
fi
if ! .venv/bin/python scripts/pg_ready.py "$pg_url"; then
  if [ "${CI:-}" = "true" ]; then
    echo "test: PostgreSQL at $pg_url is unreachable; CI requires it" >&2
    exit 1
  fi
  echo "test: PostgreSQL unreachable: its tests will skip (set COUNTERSIGNAL_TEST_PG_URL)" >&2
fi

.venv/bin/ruff check src tests bench
bash scripts/audit_deps.sh  # fails on a known vulnerability; says so when it cannot check
.venv/bin/python -m pytest "$@"
