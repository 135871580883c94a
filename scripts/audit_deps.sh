#!/usr/bin/env bash
# Dependency audit: pip-audit over the installed environment (our own editable package skipped).
# Fails (exit 1) on a known vulnerability. When the vulnerability service cannot be reached or
# answers for no package (an offline mirror, a CI network limited to the package index), it
# says so loudly and exits 0: an audit that could not run is reported, never passed off as a
# clean one. AUDIT_STRICT=1 makes that case fail too (exit 2). AUDIT_SERVICE picks the service
# (pypi, the default, needs only the package index's JSON API; osv needs api.osv.dev).
# AUDIT_JSON=<file> reads an existing pip-audit JSON report instead of running it (tests).
set -uo pipefail
cd "$(dirname "$0")/.."

report=${AUDIT_JSON:-}
if [ -z "$report" ]; then
  workdir=$(mktemp -d)
  trap 'rm -rf "$workdir"' EXIT
  report="$workdir/audit.json"
  .venv/bin/pip-audit --local --skip-editable --progress-spinner off --timeout 30 \
    --vulnerability-service "${AUDIT_SERVICE:-pypi}" --format json --output "$report" \
    >"$workdir/audit.log" 2>&1
  echo "audit: pip-audit exited $?; the end of its own log:"
  tail -n 3 "$workdir/audit.log" | sed 's/^/audit:   /'
fi

.venv/bin/python - "$report" "${AUDIT_STRICT:-0}" <<'PY'
import json
import sys
from pathlib import Path

path, strict = Path(sys.argv[1]), sys.argv[2] == "1"
not_run = 2 if strict else 0
try:
    deps = json.loads(path.read_text())["dependencies"]
except (OSError, ValueError, KeyError, TypeError) as exc:
    print(f"audit: NOT AUDITED - pip-audit produced no report ({type(exc).__name__}); "
          "the vulnerability service is probably unreachable from here")
    sys.exit(not_run)
audited = [d for d in deps if "skip_reason" not in d]
skipped = [d for d in deps if "skip_reason" in d]
vulnerable = [d for d in audited if d.get("vulns")]
for dep in vulnerable:
    for vuln in dep["vulns"]:
        fixes = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
        print(f"audit: VULNERABLE {dep['name']} {dep['version']}: {vuln['id']} (fixed in {fixes})")
if vulnerable:
    sys.exit(1)
if not audited:
    reason = skipped[0]["skip_reason"] if skipped else "no dependencies in the report"
    print(f"audit: NOT AUDITED - none of {len(deps)} dependencies could be checked "
          f"(e.g. {reason!r}); the vulnerability service is unreachable or has no data here")
    sys.exit(not_run)
note = f"; {len(skipped)} could not be checked" if skipped else ""
print(f"audit: no known vulnerabilities in {len(audited)} dependencies{note}")
PY
