"""Store: the Elasticsearch client (client), templates and aliases (setup), idempotent bulk writes
(bulk, write), crawl state shared by workers (state), zero-downtime reindex (reindex)."""
