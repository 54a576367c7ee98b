"""Reference data for enrichment: the actor alias table and the ceasefire taxonomy (YAML)."""
