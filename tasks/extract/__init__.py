"""Extract: Articles from HTML pages (html, trafilatura), plain text (plain_text), local files and
JSONL records (read_files), and publication dates (dates)."""
