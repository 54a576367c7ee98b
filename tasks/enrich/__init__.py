"""Enrich: language (language), entities through spaCy and the alias table (canonical, enricher),
topics, conflicts and relevance from the taxonomy (topics)."""
