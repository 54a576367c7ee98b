"""Dedupe: identity (canonical URLs, ids, content hashes, link dedup), MinHash near-duplicates and
the pure cluster planner (near_dup), clusters against the index (clusters)."""
