#!/usr/bin/env bash
# Create .venv with the locked, known-good dependency set and the project installed (editable).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
UV_VERSION=0.13.9

"$PY" - <<'PYCHECK' || { echo "error: Python 3.11+ is required (set PYTHON=...)" >&2; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PYCHECK
for tool in java mvn; do
  command -v "$tool" >/dev/null || [ -n "${ELASTICSEARCH_URL:-}" ] || {
    echo "error: '$tool' is needed to run the local Elasticsearch node (Java 17+, Maven)." \
         "Install it, or set ELASTICSEARCH_URL to use an existing cluster." >&2; exit 1; }
done

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
.venv/bin/uv pip install -q --python .venv/bin/python -r requirements.lock
.venv/bin/uv pip install -q --python .venv/bin/python --no-deps -e .
echo "environment ready: .venv (activate with: source .venv/bin/activate)"
