"""Which files are web archives, known by name alone (so listing a folder needs no warcio)."""

from __future__ import annotations

SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")


def is_archive(name: str) -> bool:
    """Whether a file name says WARC or ARC (plain or gzip)."""
    return name.lower().endswith(SUFFIXES)
