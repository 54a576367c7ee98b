"""Reading local inputs: directories and files of plain-text articles, HTML pages, JSONL records."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from tasks import progress
from tasks.extract.html import ExtractionError, PlainTextError, article_from_record, extract_html
from tasks.extract.plain_text import parse_plain_text
from tasks.fetch.charset import decode_text
from tasks.models import Article, Skip

LOGGER = logging.getLogger(__name__)

FORMATS = {".txt": "text", ".text": "text", ".html": "html", ".htm": "html",
           ".jsonl": "jsonl", ".ndjson": "jsonl"}
MAX_FILE_BYTES = 50 * 1024 * 1024


def discover_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Skip]]:
    """Supported files under the given files and directories (sorted), and what was passed over."""
    files: list[Path] = []
    skips: list[Skip] = []
    for raw in paths:
        path = Path(raw).absolute()  # provenance must not depend on the working directory
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.is_file()
                                and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            candidates = [path]
        else:
            skips.append(Skip(str(path), "not-found"))
            continue
        for candidate in candidates:
            if candidate.suffix.lower() in FORMATS:
                files.append(candidate)
            else:
                skips.append(Skip(str(candidate), "unsupported-file-type", candidate.suffix or "none"))
    return files, skips


def read_file(path: Path) -> Iterator[Article | Skip]:
    """The articles in one file, or a Skip naming why each unusable part was skipped."""
    origin = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            yield Skip(origin, "file-too-large", f"{size} bytes")
            return
        data = path.read_bytes()
    except OSError as exc:
        yield Skip(origin, "unreadable-file", str(exc))
        return
    kind = FORMATS[path.suffix.lower()]
    try:
        if kind == "html":
            article = extract_html(data)
            article.origin = origin
            yield article
        elif kind == "text":
            yield parse_plain_text(decode_text(data), path=origin)
        else:
            yield from _read_jsonl(decode_text(data), origin)
    except ExtractionError as exc:
        yield Skip(origin, exc.reason, exc.detail)
    except PlainTextError as exc:
        yield Skip(origin, "not-an-article", str(exc))
    except UnicodeDecodeError as exc:
        yield Skip(origin, "undecodable-text", str(exc))


def _read_jsonl(text: str, origin: str) -> Iterator[Article | Skip]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{origin}:{lineno}"
        try:
            yield article_from_record(json.loads(line), where)
        except json.JSONDecodeError as exc:
            yield Skip(where, "jsonl-invalid-json", str(exc))
        except ExtractionError as exc:
            yield Skip(where, exc.reason, exc.detail)


def read_paths(paths: Iterable[str | Path]) -> tuple[list[Article], list[Skip]]:
    """Every article under `paths`, and a named skip for everything else found there."""
    files, skips = discover_files(paths)
    articles: list[Article] = []
    for done, path in enumerate(files, 1):
        for item in read_file(path):
            if isinstance(item, Skip):
                skips.append(item)
            else:
                articles.append(item)
        progress.advance("read files", done, len(files))
    return articles, skips
