#!/usr/bin/env bash
# Import the ceasefire saved objects (data view, saved search, Lens visualizations, dashboard)
# into Kibana, replacing earlier versions of the same objects (overwrite=true); safe to re-run.
# Run by the `kibana-setup` service of deploy/docker-compose.yml, or by hand:
#   KIBANA_URL=http://127.0.0.1:5601 KIBANA_USERNAME=elastic KIBANA_PASSWORD=... \
#   bash deploy/kibana/import.sh
# KIBANA_SPACE=<space id> imports into that space instead of the default one.
set -euo pipefail

KIBANA_URL=${KIBANA_URL:-http://kibana:5601}
KIBANA_USERNAME=${KIBANA_USERNAME:-elastic}
: "${KIBANA_PASSWORD:?KIBANA_PASSWORD is required}"
SAVED_OBJECTS=${SAVED_OBJECTS:-$(dirname "$0")/ceasefire.ndjson}
SPACE_PATH=${KIBANA_SPACE:+/s/$KIBANA_SPACE}
[ -f "$SAVED_OBJECTS" ] || { echo "error: $SAVED_OBJECTS not found" >&2; exit 1; }

# kibana METHOD PATH [curl args...]: the password goes through a curl config on a file
# descriptor, never on a command line. Prints the body; fails on anything but 2xx.
kibana() {
  local method=$1 path=$2 out code
  shift 2
  out=$(mktemp)
  code=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" "$KIBANA_URL$SPACE_PATH$path" \
    -K <(printf 'user = "%s:%s"\n' "$KIBANA_USERNAME" "$KIBANA_PASSWORD") \
    -H 'kbn-xsrf: ceasefire-etl' "$@") || code=000
  cat "$out"
  rm -f "$out"
  [ "$code" -ge 200 ] && [ "$code" -lt 300 ]
}

# /api/status answers 200 once Kibana is available (503 while it starts or migrates).
for attempt in $(seq 1 60); do
  kibana GET /api/status >/dev/null 2>&1 && break
  [ "$attempt" = 60 ] && { echo "error: Kibana at $KIBANA_URL is not available" >&2; exit 1; }
  sleep 5
done

response=$(kibana POST "/api/saved_objects/_import?overwrite=true" \
  --form "file=@$SAVED_OBJECTS;type=application/ndjson") || {
  echo "error: import failed: $response" >&2
  exit 1
}
# Kibana answers 200 even when single objects fail; "success":true means all of them went in.
if ! grep -Eq '"success": *true' <<<"$response"; then
  echo "error: some saved objects were not imported: $response" >&2
  exit 1
fi
count=$(grep -Eo '"successCount": *[0-9]+' <<<"$response" | tr -dc '0-9')
echo "imported $count saved objects from $(basename "$SAVED_OBJECTS") into $KIBANA_URL$SPACE_PATH"
