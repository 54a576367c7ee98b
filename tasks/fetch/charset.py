"""Bytes to text for fetched pages and local files.

One place decides how a body's charset is chosen (BOM, UTF-8, declarations, a guess), so a
page fetched from the web and the same page read from disk come out as the same text.
"""

from __future__ import annotations

import codecs
import contextlib
import re

import charset_normalizer

CHARSET_SNIFF_BYTES = 4096

# WHATWG Encoding: these labels mean windows-1252 in practice.
_CP1252_LABELS = frozenset({"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1",
                            "us-ascii", "ascii", "x-user-defined"})
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([a-z0-9._:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([a-z0-9._:-]+)", re.IGNORECASE)
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
         (codecs.BOM_UTF16_BE, "utf-16"))


def _codec(label: str | None) -> str | None:
    """Python codec name for a charset label, or None when unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _CP1252_LABELS:
        return "cp1252"
    try:
        info = codecs.lookup(label)
    except LookupError:
        return None
    # Refuse bytes-to-bytes "codecs" such as base64 or zlib that a page might name.
    return info.name if getattr(info, "_is_text_encoding", True) else None


def declared_charset(body: bytes) -> str | None:
    """The charset a document declares in `<meta charset>`, `http-equiv` or `<?xml encoding>`."""
    head = body[:CHARSET_SNIFF_BYTES]
    match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    if not match:
        return None
    label = match.group(1).decode("ascii", "replace").lower()
    # An HTML prescan that finds UTF-16 means UTF-8: the bytes it just read were ASCII.
    return "utf-8" if label.startswith("utf-16") else label


def _try_decode(body: bytes, label: str | None) -> str | None:
    codec = _codec(label)
    if codec is None:
        return None
    try:
        return body.decode(codec)
    except (UnicodeError, LookupError, ValueError):
        return None


def decode_text(body: bytes, charset: str | None = None, *, markup: bool = False) -> str:
    """Text of `body`: its BOM, else UTF-8 when it is valid, else `charset`, else a guess.

    A body that is valid UTF-8 is read as UTF-8 whatever is declared: a legacy single-byte
    charset "decodes cleanly" from any bytes, and servers announcing ISO-8859-1 for UTF-8 pages
    are far more common than text that happens to be valid UTF-8 by accident.

    With `markup` (HTML, XML) the document's own `<meta>` or `<?xml?>` charset counts too, an
    all-ASCII body is decoded by what is declared (or guessed) rather than taken as UTF-8 (UTF-16
    without a BOM can be all ASCII bytes), and nothing raises: bytes that fit no charset become
    U+FFFD. Plain text (`markup` false) raises UnicodeDecodeError instead, so that a caller can
    skip what is not text.
    """
    errors = "replace" if markup else "strict"
    for bom, codec in _BOMS:
        if body.startswith(bom):
            with contextlib.suppress(UnicodeDecodeError):
                return body.decode(codec, errors=errors)
    if not (markup and body.isascii()):
        with contextlib.suppress(UnicodeDecodeError):
            return body.decode("utf-8")
    for label in (charset, declared_charset(body) if markup else None):
        text = _try_decode(body, label)
        if text is not None:
            return text
    best = charset_normalizer.from_bytes(body).best()
    if best is not None:
        with contextlib.suppress(UnicodeError, LookupError):
            return str(best)
    return body.decode("utf-8", errors=errors)


def decode_html(body: bytes, header_charset: str | None) -> str:
    """Text of an HTML or XML body: BOM, then header charset, `<meta>` charset, then a guess.

    Never raises (see `decode_text` with `markup`).
    """
    return decode_text(body, header_charset, markup=True)


def utf8_page(body: bytes, header_charset: str | None) -> bytes:
    """An HTML body as UTF-8 bytes: unchanged when it already is, else decoded by `decode_html`.

    trafilatura guesses the charset of bytes that are not UTF-8 and ignores the one the HTTP
    header names; handing it UTF-8 makes the header (and BOM, `<meta>`) count.
    """
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return decode_html(body, header_charset).encode("utf-8")
    return body
