"""Extract: Articles from HTML pages (html, trafilatura), plain text (plain_text), local files and
JSONL records (read_files: lazy discovery and reading; records: the validated record model and
bounded JSON parsing), and publication dates (dates: parsing and the one range rule)."""
