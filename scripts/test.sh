#!/usr/bin/env bash
# Set up, lint (ruff, import layers, mypy), start a real Elasticsearch node (unless ELASTICSEARCH_URL is set), run every
# test against it, stop the node if this script started it. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
started_at=$(date +%s)
bash scripts/setup.sh
# tests/test_prefect_ui.py drives Debian's chromium (CEASEFIRE_CHROMIUM overrides the path);
# install it when missing and we can. Without it that test fails and says how to install it.
if [ -z "${CEASEFIRE_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] \
   && command -v apt-get >/dev/null; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends chromium; } >/dev/null \
    || echo "warning: could not install chromium; tests/test_prefect_ui.py will fail" >&2
fi
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache   # the one-way layers (pyproject.toml [tool.importlinter])
.venv/bin/mypy                      # type-checks the package (pyproject.toml [tool.mypy])

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
