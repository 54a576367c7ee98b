"""Reading local inputs: directories and files of plain-text articles, HTML pages, JSONL records
and WARC/ARC archives (tasks.extract.warc).

Every filesystem entry under the given paths is read or passed over with a named Skip (hidden
entries, whose names start with a dot, are passed over silently); every record of a JSONL file
is read on its own. No file, record or name can fail the run: whatever goes wrong reading one
becomes a Skip for it (`record-error:<ExceptionType>` when nothing more specific applies).

`iter_inputs` is lazy: it walks directories as it goes and reads JSONL files line by line and
archives record by record.
"""

from __future__ import annotations

import codecs
import errno
import io
import logging
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from tasks import progress
from tasks.extract.errors import ExtractionError
from tasks.extract.plain_text import PlainTextError, parse_plain_text
from tasks.extract.records import MAX_DETAIL_CHARS, load_json
from tasks.extract.warc_names import is_archive
from tasks.fetch.charset import decode_text
from tasks.models import Article, Skip, split_skips

LOGGER = logging.getLogger(__name__)

FORMATS = {".txt": "text", ".text": "text", ".html": "html", ".htm": "html",
           ".jsonl": "jsonl", ".ndjson": "jsonl", ".warc": "warc", ".arc": "warc"}  # + .warc.gz, .arc.gz
MAX_FILE_BYTES = 50 * 1024 * 1024  # a text or HTML file is read whole; JSONL and archives stream
MAX_LINE_BYTES = 32 * 1024 * 1024  # one JSONL record (a 5 MB body, escaped, fits)
_SKIP_CHUNK = 1024 * 1024

# Why discovery passes over an entry (besides `unsupported-file-type` and `not-found`).
ENTRY_REASONS = ("not-a-regular-file", "symlink-loop", "dangling-symlink", "directory-symlink",
                 "unreadable-directory", "unreadable-file", "undecodable-name")

PathArg = str | bytes | os.PathLike[str] | os.PathLike[bytes]


def path_text(path: PathArg) -> str:
    """`path` as valid text for origins: bytes that are not UTF-8 become `\\xNN` escapes."""
    name = os.fsdecode(path)
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that no file name decoded to
        raw = name.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace")


def file_format(path: Path) -> str | None:
    """The format a file's name says (one of FORMATS' values), None when unsupported."""
    return "warc" if is_archive(path.name) else FORMATS.get(path.suffix.lower())


def error_skip(origin: str, exc: BaseException) -> Skip:
    """The Skip for an error nothing more specific names."""
    LOGGER.warning("%s: could not be read: %r", origin, exc)
    return Skip(origin, f"record-error:{type(exc).__name__}", str(exc)[:MAX_DETAIL_CHARS])


# --- discovery -------------------------------------------------------------------------------


def _file_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return kind
    return "special file"


def _regular_file(path: Path, mode: int) -> Path | Skip:
    """`path` when it is a regular file in a supported format, else why it is passed over."""
    if not stat.S_ISREG(mode):
        return Skip(path_text(path), "not-a-regular-file", _file_kind(mode))
    if file_format(path) is None:
        return Skip(path_text(path), "unsupported-file-type", path_text(path.suffix) or "none")
    return path


def _stat_failure(path: Path, exc: OSError) -> Skip:
    """The Skip for a path whose target cannot be looked at."""
    origin = path_text(path)
    if exc.errno == errno.ELOOP:
        return Skip(origin, "symlink-loop", str(exc))
    if os.path.islink(path):
        return Skip(origin, "dangling-symlink", _link_target(path))
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return Skip(origin, "not-found")
    return Skip(origin, "unreadable-file", str(exc))


def _link_target(path: Path) -> str:
    try:
        return "-> " + path_text(os.readlink(path))
    except OSError as exc:
        return str(exc)


def _listing(directory: Path) -> list[os.DirEntry[str]] | Skip:
    """The entries of `directory` by name, hidden ones left out."""
    try:
        with os.scandir(directory) as entries:
            return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as exc:
        return Skip(path_text(directory), "unreadable-directory", str(exc))


def _entry(entry: os.DirEntry[str]) -> Path | Skip | None:
    """A file to read, a Skip, or None for a directory to walk into. Symlinks to files are
    followed; symlinks to directories are not (a walk could loop or leave the tree)."""
    path = Path(entry.path)
    try:
        if entry.is_symlink():
            try:
                mode = os.stat(path).st_mode
            except OSError as exc:
                return _stat_failure(path, exc)
            if stat.S_ISDIR(mode):
                return Skip(path_text(path), "directory-symlink", _link_target(path))
            return _regular_file(path, mode)
        if entry.is_dir(follow_symlinks=False):
            return None
        return _regular_file(path, entry.stat(follow_symlinks=False).st_mode)
    except OSError as exc:
        return Skip(path_text(path), "unreadable-file", str(exc))


def _walk(top: Path) -> Iterator[Path | Skip]:
    """Files and skips under the directory `top`, depth first, by name in each directory."""
    listing = _listing(top)
    if isinstance(listing, Skip):
        yield listing
        return
    stack = [iter(listing)]  # a stack, not recursion: directory trees can be deeper than it
    while stack:
        entry = next(stack[-1], None)
        if entry is None:
            stack.pop()
            continue
        found = _entry(entry)
        if found is not None:
            yield found
            continue
        listing = _listing(Path(entry.path))
        if isinstance(listing, Skip):
            yield listing
        else:
            stack.append(iter(listing))


def _raw_text(raw: PathArg) -> str:
    try:
        return path_text(raw)
    except (TypeError, ValueError, UnicodeError):
        return repr(raw)


def _walk_one(raw: PathArg) -> Iterator[Path | Skip]:
    path = Path(os.fsdecode(raw)).absolute()  # provenance must not depend on the working dir
    try:
        mode = os.stat(path).st_mode  # a path named by the caller is followed, whatever it is
    except (ValueError, UnicodeError) as exc:  # a NUL byte, a name the file system cannot take
        yield Skip(_raw_text(raw), "undecodable-name", str(exc))
        return
    except OSError as exc:
        yield _stat_failure(path, exc)
        return
    if stat.S_ISDIR(mode):
        yield from _walk(path)
    else:
        yield _regular_file(path, mode)


def walk_inputs(paths: Iterable[PathArg]) -> Iterator[Path | Skip]:
    """Lazily, each supported file under `paths` (files and directories) and a Skip for every
    other entry found there. Directories are listed one at a time, sorted by name."""
    for raw in paths:
        try:
            yield from _walk_one(raw)
        except Exception as exc:  # one odd path never stops the others
            yield error_skip(_raw_text(raw), exc)


def discover_files(paths: Iterable[PathArg]) -> tuple[list[Path], list[Skip]]:
    """Supported files under the given files and directories (sorted), and what was passed over."""
    return split_skips(walk_inputs(paths))


# --- reading ---------------------------------------------------------------------------------


class _NotRegularFile(Exception):
    pass


def _open_regular(path: Path) -> tuple[BinaryIO, int]:
    """`path` opened for reading, and its size; never blocks on a FIFO (not opened for real)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _NotRegularFile(_file_kind(st.st_mode))
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


def read_file(path: Path, kind: str | None = None) -> Iterator[Article | Skip]:
    """The articles in one file, or a Skip naming why each unusable part was skipped. `kind`
    (a value of FORMATS) overrides what the name says.

    Never raises: an error reading the file (or one record) becomes a Skip.
    """
    origin = path_text(path)
    try:
        yield from _read_file(path, origin, kind or file_format(path))
    except OSError as exc:
        yield Skip(origin, "unreadable-file", str(exc))
    except Exception as exc:  # whatever else goes wrong is this file's, not the run's
        yield error_skip(origin, exc)


def _read_file(path: Path, origin: str, kind: str | None) -> Iterator[Article | Skip]:
    if kind is None:
        yield Skip(origin, "unsupported-file-type", path_text(path.suffix) or "none")
        return
    try:
        stream, size = _open_regular(path)
    except _NotRegularFile as exc:
        yield Skip(origin, "not-a-regular-file", str(exc))
        return
    except (ValueError, UnicodeError) as exc:
        yield Skip(origin, "undecodable-name", str(exc))
        return
    with stream:
        if kind == "jsonl":
            yield from _read_jsonl(stream, origin)
        elif kind == "warc":
            from tasks.extract.warc import read_archive  # warcio: when an archive is read

            yield from read_archive(stream, origin)
        elif size > MAX_FILE_BYTES:
            yield Skip(origin, "file-too-large", f"{size} bytes")
        else:
            yield _read_document(stream.read(MAX_FILE_BYTES), kind, origin)


def _read_document(data: bytes, kind: str, origin: str) -> Article | Skip:
    """One article from a whole text or HTML file."""
    try:
        if kind == "html":
            from tasks.extract.html import extract_html  # trafilatura (0.7 s): when HTML is read

            article = extract_html(data)
            article.origin = origin
            return article
        return parse_plain_text(decode_text(data), path=origin)
    except ExtractionError as exc:
        return Skip(origin, exc.reason, exc.detail)
    except PlainTextError as exc:
        return Skip(origin, "not-an-article", str(exc))
    except UnicodeDecodeError as exc:
        return Skip(origin, "undecodable-text", str(exc))


def jsonl_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(line number, the line's bytes without its end) for each line of a JSONL stream; None
    for a line over MAX_LINE_BYTES, whose bytes are passed over unread into memory."""
    limit = MAX_LINE_BYTES
    if _starts_utf16(stream):
        # UTF-16 lines cannot be split at b"\n": decode the (bounded) file whole instead.
        stream = io.BytesIO(decode_text(stream.read(MAX_FILE_BYTES)).encode("utf-8"))
    lineno = 0
    while line := stream.readline(limit + 1):
        lineno += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = stream.readline(_SKIP_CHUNK)
            yield lineno, None
        else:
            yield lineno, line.rstrip(b"\r\n")


def _starts_utf16(stream: BinaryIO) -> bool:
    peek = getattr(stream, "peek", None)
    head = peek(2)[:2] if peek else b""
    return head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _read_jsonl(stream: BinaryIO, origin: str) -> Iterator[Article | Skip]:
    for lineno, line in jsonl_lines(stream):
        where = f"{origin}:{lineno}"
        if line is None:
            yield Skip(where, "jsonl-line-too-long", f"over {MAX_LINE_BYTES} bytes")
        elif line.strip():
            yield read_record(line, where)


def read_record(line: bytes, origin: str) -> Article | Skip:
    """The article in one JSONL line, or a Skip naming why there is none; never raises."""
    from tasks.extract.html import article_from_record  # with trafilatura: when JSONL is read

    try:
        return article_from_record(load_json(decode_text(line)), origin)
    except ExtractionError as exc:
        return Skip(origin, exc.reason, exc.detail)
    except UnicodeDecodeError as exc:
        return Skip(origin, "undecodable-text", str(exc)[:MAX_DETAIL_CHARS])
    except Exception as exc:  # one record never fails the file, let alone the run
        return error_skip(origin, exc)


def _read_all(entries: Iterable[Path | Skip], total: int) -> Iterator[Article | Skip]:
    done = 0
    for entry in entries:
        if isinstance(entry, Skip):
            yield entry
            continue
        yield from read_file(entry)
        done += 1
        progress.advance("read files", done, total)


def iter_inputs(paths: Iterable[PathArg]) -> Iterator[Article | Skip]:
    """Lazily, every article under `paths` and a named Skip for everything else found there:
    directories are walked and JSONL files read a line at a time as the stream is consumed."""
    return _read_all(walk_inputs(paths), 0)


def iter_archives(paths: Iterable[PathArg]) -> Iterator[Article | Skip]:
    """Lazily, every input record of the WARC/ARC files `paths`, whatever their names say."""
    for raw in paths:
        try:
            path = Path(os.fsdecode(raw)).absolute()
            os.stat(path)
        except OSError as exc:
            yield _stat_failure(path, exc)
        except (TypeError, ValueError) as exc:
            yield Skip(_raw_text(raw), "undecodable-name", str(exc))
        else:
            yield from read_file(path, kind="warc")


def read_paths(paths: Iterable[PathArg]) -> tuple[list[Article], list[Skip]]:
    """Every article under `paths`, and a named skip for everything else found there."""
    files, skips = discover_files(paths)
    articles, unread = split_skips(_read_all(files, len(files)))
    return articles, skips + unread
