"""Reference data for enrichment: the actor alias table and the ceasefire taxonomy (YAML)."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
