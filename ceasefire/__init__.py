"""ceasefire-etl: ceasefire news into Elasticsearch."""
