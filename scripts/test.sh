#!/usr/bin/env bash
# Set up, lint, start a real Elasticsearch node (unless ELASTICSEARCH_URL is set), run every
# test against it, stop the node if this script started it. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
started_at=$(date +%s)
bash scripts/setup.sh
.venv/bin/ruff check .

started=0
if [ -z "${ELASTICSEARCH_URL:-}" ] && ! .venv/bin/ceasefire es status >/dev/null 2>&1; then
  .venv/bin/ceasefire es start
  started=1
fi
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$started" = 1 ]; then
  .venv/bin/ceasefire es stop
fi
echo "test command finished in $(( $(date +%s) - started_at ))s with exit code $rc"
exit "$rc"
