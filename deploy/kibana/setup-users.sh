#!/usr/bin/env bash
# Users and roles ceasefire-etl needs on an Elasticsearch with security on; safe to re-run.
# Run by the `elasticsearch-setup` service of deploy/docker-compose.yml, or by hand:
#   ES_URL=https://es.example:9200 ELASTIC_PASSWORD=... KIBANA_SYSTEM_PASSWORD=... \
#   CEASEFIRE_ES_PASSWORD=... bash deploy/kibana/setup-users.sh
#
#   kibana_system          password set (Kibana's own connection; 8.x refuses `elastic`)
#   ceasefire_etl          user + role: templates, indices and aliases under <prefix>-*
#   ceasefire_researcher   role: read the articles, read-only Kibana (dashboards, Discover);
#                          user `researcher` too when CEASEFIRE_RESEARCHER_PASSWORD is set
set -euo pipefail

ES_URL=${ES_URL:-http://elasticsearch:9200}
PREFIX=${CEASEFIRE_INDEX_PREFIX:-ceasefire}
: "${ELASTIC_PASSWORD:?ELASTIC_PASSWORD is required}"
: "${KIBANA_SYSTEM_PASSWORD:?KIBANA_SYSTEM_PASSWORD is required}"
: "${CEASEFIRE_ES_PASSWORD:?CEASEFIRE_ES_PASSWORD is required}"
RESEARCHER_PASSWORD=${CEASEFIRE_RESEARCHER_PASSWORD:-}

# Secrets go into JSON bodies and a curl config: keep them to characters that need no quoting
# (`openssl rand -hex 24` output is fine). Elasticsearch wants at least 6 characters.
for name in ELASTIC_PASSWORD KIBANA_SYSTEM_PASSWORD CEASEFIRE_ES_PASSWORD CEASEFIRE_RESEARCHER_PASSWORD; do
  value=${!name:-}
  [ -z "$value" ] && [ "$name" = CEASEFIRE_RESEARCHER_PASSWORD ] && continue
  if ! [[ $value =~ ^[A-Za-z0-9._~+=-]{6,}$ ]]; then
    echo "error: $name must be at least 6 characters of A-Z a-z 0-9 . _ ~ + = -" >&2
    exit 1
  fi
done

# es METHOD PATH [BODY]: call Elasticsearch as `elastic`; the password goes through a curl
# config on a file descriptor, never on a command line.
es() {
  local method=$1 path=$2 body=${3:-} out code
  out=$(mktemp)
  code=$(curl -sS -o "$out" -w '%{http_code}' -X "$method" "$ES_URL$path" \
    -K <(printf 'user = "elastic:%s"\n' "$ELASTIC_PASSWORD") \
    -H 'Content-Type: application/json' ${body:+--data-binary @-} <<<"$body") || code=000
  if [ "$code" -lt 200 ] || [ "$code" -ge 300 ]; then
    echo "error: $method $path answered HTTP $code: $(cat "$out")" >&2
    rm -f "$out"
    return 1
  fi
  rm -f "$out"
}

for attempt in $(seq 1 60); do
  es GET "/_cluster/health?wait_for_status=yellow&timeout=10s" 2>/dev/null && break
  [ "$attempt" = 60 ] && { echo "error: Elasticsearch at $ES_URL is not ready" >&2; exit 1; }
  sleep 5
done

es POST /_security/user/kibana_system/_password "{\"password\":\"$KIBANA_SYSTEM_PASSWORD\"}"
echo "kibana_system: password set"

es PUT /_security/role/ceasefire_etl "$(cat <<JSON
{"cluster": ["monitor", "manage_index_templates", "cluster:admin/analyze"],
 "indices": [{"names": ["$PREFIX-*"], "privileges": ["all"]}]}
JSON
)"
es PUT /_security/user/ceasefire_etl "{\"password\":\"$CEASEFIRE_ES_PASSWORD\",\"roles\":[\"ceasefire_etl\"],\"full_name\":\"ceasefire-etl worker\"}"
echo "ceasefire_etl: role and user ready (indices $PREFIX-*)"

# Kibana's base `read` privilege in every space (the same application privilege as the
# built-in `viewer` role), but only the articles indices.
es PUT /_security/role/ceasefire_researcher "$(cat <<JSON
{"indices": [{"names": ["$PREFIX-articles*"], "privileges": ["read", "view_index_metadata"]}],
 "applications": [{"application": "kibana-.kibana", "privileges": ["read"], "resources": ["*"]}]}
JSON
)"
echo "ceasefire_researcher: role ready"
if [ -n "$RESEARCHER_PASSWORD" ]; then
  es PUT /_security/user/researcher "{\"password\":\"$RESEARCHER_PASSWORD\",\"roles\":[\"ceasefire_researcher\"],\"full_name\":\"Ceasefire researcher\"}"
  echo "researcher: user ready"
fi
