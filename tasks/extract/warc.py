"""WARC and ARC archives (Common Crawl's CC-NEWS among them): each captured page as an Article.

A file is read record by record (plain, or gzip member by member as crawlers write them), so
memory follows the largest record kept (MAX_RECORD_BYTES), not the file. What is an input:

| record                                     | becomes                                         |
| ------------------------------------------ | ----------------------------------------------- |
| response / resource: 2xx, HTML             | an Article (or the HTML path's named Skip)      |
| response / resource: other HTTP status     | Skip `warc-http-<status>`, `warc-bad-http-status`|
| response / resource: not HTML              | Skip `warc-not-html`                            |
| over MAX_RECORD_BYTES, stored or decoded   | Skip `warc-too-large`                           |
| a Content-Encoding that does not decode    | Skip `warc-undecodable`                         |
| cut short: the file ends inside it         | Skip `warc-truncated`                           |
| bytes changed: its WARC-Block-Digest fails | Skip `warc-digest-mismatch`                     |
| one segment of a segmented record          | Skip `warc-segmented`                           |
| revisit: the payload lives elsewhere       | Skip `warc-revisit`                             |
| bytes that are no record (damage), a record| Skip `warc-corrupt`; reading resumes at the     |
| of no known type or without Content-Length | next record found after them                    |
| warcinfo, request, metadata, conversion,   | nothing: not inputs, not counted (unless cut    |
| continuation, the ARC file header          | short: `warc-truncated`)                        |

An Article's `url` is the record's WARC-Target-URI and `fetched_at` its WARC-Date (the capture);
a page date later than a day past the capture is dropped (it cannot have been published yet).
Origins are `<file>@<offset>`, the record's byte offset in the file as stored (for gzip files,
the offset of its gzip member: what CC index lookups use).
"""

from __future__ import annotations

import logging
import re
import zlib
from collections.abc import Generator, Iterator
from datetime import datetime
from typing import Any, BinaryIO

import httpx
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]
from warcio.bufferedreaders import (  # type: ignore[import-untyped]
    ChunkedDataReader,
    DecompressingBufferedReader,
)
from warcio.limitreader import LimitReader  # type: ignore[import-untyped]
from warcio.recordloader import ARC2WARCHeadersParser  # type: ignore[import-untyped]
from warcio.statusandheaders import StatusAndHeadersParserException  # type: ignore[import-untyped]

from tasks.extract.dates import find_iso_datetimes, sane_date
from tasks.extract.errors import ExtractionError
from tasks.extract.html import extract_html
from tasks.extract.records import MAX_DETAIL_CHARS
from tasks.fetch.charset import utf8_page
from tasks.fetch.decoding import DECODE_ERRORS, TooLarge, decode_chunks
from tasks.fetch.requester import media_type_accepted, parse_content_type
from tasks.models import Article, Skip

LOGGER = logging.getLogger(__name__)

PAGE_TYPES = ("text/html", "application/xhtml+xml")  # as the fetcher accepts pages
MAX_RECORD_BYTES = 50 * 1024 * 1024  # as read_files.MAX_FILE_BYTES: a stored page is read whole
MAX_HEADER_BYTES = 256 * 1024  # header lines (WARC + HTTP) of one record: garbage has no newlines
MAX_DAMAGE = 100  # damaged stretches per file before the rest of it is given up
BLOCK = 64 * 1024
SCAN_CHUNK = 1024 * 1024
SCAN_OVERLAP = 8 * 1024  # longer than any record's first line we look for

INPUT_TYPES = frozenset({"response", "resource", "revisit"})
OTHER_TYPES = frozenset({"warcinfo", "request", "metadata", "conversion", "continuation"})
WARC_REASONS = ("warc-bad-http-status", "warc-not-html", "warc-too-large", "warc-undecodable",
                "warc-truncated", "warc-digest-mismatch", "warc-segmented", "warc-revisit",
                "warc-corrupt")  # + warc-http-NNN
TRUNCATED_NOTE = "warc-payload-truncated"  # the crawler kept only the start (WARC-Truncated)

# Where a record may start after damage: a gzip member, or a line that opens a WARC record or an
# ARC record (`<url> <ip> <14-digit date> <type> <length>`).
_GZIP_MAGIC = b"\x1f\x8b\x08"
_FIRST_LINE = rb"WARC/[0-9.]{1,4}\r?\n|\S{1,4096} \S{1,64} \d{14} \S{1,256} \d{1,19}\r?\n"
_HEAD = re.compile(_FIRST_LINE)
_START = re.compile(rb"\x1f\x8b\x08|(?<=\n)(?:" + _FIRST_LINE + rb")")
_ARC_LINE = re.compile(r"\S.* \S+ \d{14} \S+ \d+")  # warcio splits from the right: URLs may hold spaces


class _HeaderTooLong(Exception):
    """More header bytes in one record than MAX_HEADER_BYTES: not a record."""


class _Damaged(Exception):
    """A gzip member stops decompressing part way: the bytes are damaged."""


class _BoundedReader(DecompressingBufferedReader):
    """warcio's reader with two changes. Header lines (read with `readline`) are bounded per
    record: warcio reads a line whole, and bytes without a newline would fill memory. A gzip
    member that breaks part way raises, where warcio prints to stderr and reports the end of
    the file, losing every record after it."""

    header_bytes = 0

    def readline(self, length: int | None = None) -> bytes:
        room = MAX_HEADER_BYTES - self.header_bytes
        if room <= 0:
            raise _HeaderTooLong(f"over {MAX_HEADER_BYTES} bytes of header lines")
        line: bytes = super().readline(room if length is None else min(length, room))
        self.header_bytes += len(line)
        return line

    def read(self, length: int | None = None) -> bytes:
        self.header_bytes = 0  # payload bytes: the headers are behind us
        data: bytes = super().read(length)
        return data

    def _decompress(self, data: bytes) -> bytes:
        # The first block of a member may fail: warcio then reads the stream as plain (that is
        # how it tells plain files from gzip ones). A later failure is damage.
        if self.decompressor is not None and data and self.num_block_read:
            try:
                out: bytes = self.decompressor.decompress(data)
            except zlib.error as exc:
                raise _Damaged(f"gzip member broken: {exc}") from exc
            return out
        out = super()._decompress(data)
        return out


class _StrictArcParser(ARC2WARCHeadersParser):
    """warcio's ARC header parser takes any line of five words for a record, so damaged bytes
    (or a gzip member read as plain text) become bogus records that swallow the real ones after
    them; only a line of ARC's form is a record here."""

    def parse(self, stream: Any, headerline: str | bytes | None = None) -> Any:
        if headerline is None:
            headerline = stream.readline()
        line = headerline.decode("latin-1") if isinstance(headerline, bytes) else headerline
        if line.strip() and not _ARC_LINE.fullmatch(line.strip()):
            raise StatusAndHeadersParserException("not an ARC record line", line[:200])
        return super().parse(stream, headerline)


def _detail(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:MAX_DETAIL_CHARS]


# --- one record --------------------------------------------------------------------------------


class _Truncated(Exception):
    pass


class _DigestMismatch(Exception):
    pass


def capture_time(value: str | None) -> datetime | None:
    """The WARC-Date as an aware datetime, None when absent or not believable."""
    found = find_iso_datetimes(value or "")
    return sane_date(found[0]) if found else None


def _payload(record: Any) -> bytes:
    """The record's HTTP payload, de-chunked and decoded, at most MAX_RECORD_BYTES; _Truncated
    when the file ends before the record does."""
    raw = record.raw_stream
    http = record.http_headers
    stream = raw
    if http is not None and (http.get_header("Transfer-Encoding") or "").strip().lower() == "chunked":
        stream = ChunkedDataReader(raw)  # falls back to the bytes as they are when not chunked
    encoding = http.get_header("Content-Encoding") if http is not None else None
    body = decode_chunks(iter(lambda: stream.read(BLOCK), b""), encoding, MAX_RECORD_BYTES)
    while raw.read(BLOCK):  # what a chunked body leaves: only to see whether the record is whole
        pass
    if isinstance(raw, LimitReader) and raw.limit > 0:
        raise _Truncated(f"{raw.limit} bytes missing")
    # Only the block digest: payload digests disagree between tools (chunked bodies).
    if any(p.startswith("block digest failed") for p in record.digest_checker.problems):
        raise _DigestMismatch(record.rec_headers.get_header("WARC-Block-Digest") or "")
    return body


def _status_skip(record: Any, where: str, uri: str) -> Skip | None:
    """Why the record is not a page (status, type, size), or None when it is one."""
    if record.rec_type == "revisit":
        return Skip(where, "warc-revisit", uri)
    if record.rec_headers.get_header("WARC-Segment-Number"):
        return Skip(where, "warc-segmented", uri)
    http = record.http_headers
    if http is not None:
        status = http.get_statuscode()
        if not (len(status) == 3 and status.isdigit()):
            return Skip(where, "warc-bad-http-status", f"{uri}: {status[:40]!r}")
        if not status.startswith("2"):
            return Skip(where, f"warc-http-{status}", uri)
    media, _ = parse_content_type(http.get_header("Content-Type") if http is not None
                                  else record.content_type)
    if not media_type_accepted(media, PAGE_TYPES):
        return Skip(where, "warc-not-html", f"{uri}: {media or 'no type'}"[:MAX_DETAIL_CHARS])
    if record.length is not None and record.length > MAX_RECORD_BYTES:
        return Skip(where, "warc-too-large", f"{uri}: {record.length} bytes")
    return None


def _page(record: Any, where: str, uri: str) -> Article | Skip:
    skip = _status_skip(record, where, uri)
    if skip is not None:
        return skip
    try:
        body = _payload(record)
    except TooLarge:
        return Skip(where, "warc-too-large", f"{uri}: over {MAX_RECORD_BYTES} bytes decoded")
    except (*DECODE_ERRORS, httpx.DecodingError) as exc:
        return Skip(where, "warc-undecodable", f"{uri}: {_detail(exc)}"[:MAX_DETAIL_CHARS])
    except _Truncated as exc:
        return Skip(where, "warc-truncated", f"{uri}: {exc}")
    except _DigestMismatch as exc:
        return Skip(where, "warc-digest-mismatch", f"{uri}: {exc}"[:MAX_DETAIL_CHARS])
    http = record.http_headers
    _, charset = parse_content_type(http.get_header("Content-Type") if http is not None
                                    else record.content_type)
    try:
        article = extract_html(utf8_page(body, charset), url=uri or None)
    except ExtractionError as exc:
        return Skip(where, exc.reason, exc.detail)
    captured = capture_time(record.rec_headers.get_header("WARC-Date"))
    # A page cannot have been published after it was captured (beyond DATE_SKEW).
    article.published_at = sane_date(article.published_at, captured)
    article.fetched_at = captured
    article.origin = where
    if record.rec_headers.get_header("WARC-Truncated"):
        article.notes.append(TRUNCATED_NOTE)
    return article


def _other(record: Any, where: str) -> Skip | None:
    """None for a record that is no input, unless the file ends inside it."""
    raw = record.raw_stream
    while raw.read(BLOCK):
        pass
    if isinstance(raw, LimitReader) and raw.limit > 0:
        return Skip(where, "warc-truncated", f"{record.rec_type} record: {raw.limit} bytes missing")
    return None


def record_item(record: Any, where: str) -> Article | Skip | None:
    """The Article or Skip for one archive record; None for a record that is no input.
    Raises only _Damaged (the file is damaged inside the record)."""
    uri = record.rec_headers.get_header("WARC-Target-URI") or ""
    # What a header block cut part way (or damaged) looks like: no known type, no length.
    if record.rec_type not in INPUT_TYPES | OTHER_TYPES:
        return Skip(where, "warc-corrupt", f"record type {str(record.rec_type)[:40]!r}")
    if record.length is None:
        return Skip(where, "warc-corrupt", "no Content-Length")
    try:
        if record.rec_type not in INPUT_TYPES:
            return _other(record, where)
        return _page(record, where, uri)
    except _Damaged:
        raise
    except Exception as exc:  # one record never fails the file
        LOGGER.warning("%s: record could not be read: %r", where, exc)
        return Skip(where, f"record-error:{type(exc).__name__}", _detail(exc))


# --- a whole file ------------------------------------------------------------------------------


def _size(stream: BinaryIO) -> int:
    end = stream.seek(0, 2)
    stream.seek(0)
    return end


def _gzip_record_at(stream: BinaryIO, at: int) -> bool:
    """Whether the gzip member at `at` opens with a WARC or ARC record's first line."""
    stream.seek(at)
    try:
        head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(stream.read(SCAN_OVERLAP), 4200)
    except zlib.error:
        return False
    return _HEAD.match(head) is not None


def next_record_start(stream: BinaryIO, start: int, size: int) -> int | None:
    """The first offset at or after `start` (> 0) where a record plausibly starts, or None;
    reads the file a chunk at a time."""
    pos = start
    while pos < size:
        base = pos - 1  # the byte before: whether `pos` starts a line
        stream.seek(base)
        chunk = stream.read(SCAN_CHUNK + SCAN_OVERLAP)
        for match in _START.finditer(chunk, 1):  # the lookbehind still sees chunk[0]
            if match.start() > SCAN_CHUNK:
                break  # the overlap is the next chunk's
            at = base + match.start()
            if not match.group().startswith(_GZIP_MAGIC) or _gzip_record_at(stream, at):
                return at
        pos += SCAN_CHUNK
    return None


def _resume(stream: BinaryIO, origin: str, start: int, size: int
            ) -> Generator[Article | Skip, None, int | None]:
    """Items of the records from `start` on; returns where to resume after damage (the next
    plausible record start), None at the end of the file."""
    stream.seek(start)
    records = ArchiveIterator(stream, arc2warc=True, verify_http=False, check_digests=True)
    # warcio 1.8 (locked) builds these two before reading anything: ours bound and check more.
    reader = records.reader = _BoundedReader(stream)
    records.loader.arc_parser = _StrictArcParser()
    last = start - 1  # the offset of the last record read (resuming goes past it)
    try:
        while True:
            reader.header_bytes = 0
            try:
                record = next(records)
                at = records.offset
                item = record_item(record, f"{origin}@{at}")
            except StopIteration:
                break
            except Exception as exc:  # whatever warcio makes of bytes that are no record
                at = max(records.offset, last + 1)
                yield Skip(f"{origin}@{at}", "warc-corrupt", _detail(exc))
                return next_record_start(stream, at + 1, size)
            last = at
            if item is not None:
                yield item
    finally:
        records.close()
    end = records.offset
    if end >= size or not _has_data(stream, end, size):
        return None
    # A safety net: warcio stopped before the end of the file without a word (a record whose
    # headers the file cuts short). `end` is where the first record not read starts.
    yield Skip(f"{origin}@{end}", "warc-corrupt", f"reading stopped at byte {end} of {size}")
    return next_record_start(stream, end + 1, size)


def _has_data(stream: BinaryIO, start: int, size: int) -> bool:
    """Whether anything but whitespace lies between `start` and `size`."""
    stream.seek(start)
    while chunk := stream.read(min(SCAN_CHUNK, max(size - stream.tell(), 0))):
        if chunk.strip():
            return True
    return False


def read_archive(stream: BinaryIO, origin: str) -> Iterator[Article | Skip]:
    """Every input record of a WARC or ARC file (plain or gzip per record) as an Article or a
    Skip, lazily; never raises: damage becomes `warc-corrupt` and reading resumes past it."""
    size = _size(stream)
    start: int | None = 0
    damage = 0
    while start is not None and start < size:
        if damage > MAX_DAMAGE:
            yield Skip(f"{origin}@{start}", "warc-corrupt",
                       f"more than {MAX_DAMAGE} damaged stretches: the rest of the file is not read")
            return
        try:
            start = yield from _resume(stream, origin, start, size)
        except Exception as exc:  # the scan itself failed (an I/O error): nothing more to read
            yield Skip(f"{origin}@{start}", "warc-corrupt", _detail(exc))
            return
        damage += 1
