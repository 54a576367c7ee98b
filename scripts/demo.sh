#!/usr/bin/env bash
# Set up, start the local Elasticsearch, ingest the bundled sample articles and search them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/ceasefire demo "$@"
