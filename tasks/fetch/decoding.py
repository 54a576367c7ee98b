"""Content-Encoding decoding with bounded output (see `read_body` for why not httpx's own).

Neither a huge page nor a decompression bomb may cost more than about the body limit in memory.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from typing import IO, Any, cast

import brotli
import httpx
import zstandard

DECODE_CHUNK = 64 * 1024  # most decompressed output produced per decoder step
MAX_CODINGS = 3  # stacked Content-Encodings; more is an attack, not a server

# brotli < 1.2 cannot bound its output per call, so br is only offered when it can.
_BROTLI_BOUNDED = hasattr(brotli.Decompressor, "can_accept_more_data")
ACCEPT_ENCODING = "gzip, deflate" + (", br" if _BROTLI_BOUNDED else "") + ", zstd"


class TooLarge(Exception):
    """The decoded body went past its limit."""


class _Sink:
    """Collects decoded bytes; raises TooLarge past `limit` (keeping the first `limit`)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        if not data:
            return 0
        room = self.limit - self.size
        self.size += len(data)
        if self.size > self.limit:
            self.parts.append(bytes(data[:room]))
            raise TooLarge
        self.parts.append(bytes(data))
        return len(data)

    def value(self) -> bytes:
        return b"".join(self.parts)


Writer = Callable[[bytes], Any]


class _ZlibDecoder:
    """gzip or deflate (zlib-wrapped or raw), at most DECODE_CHUNK of output per step."""

    def __init__(self, out: Writer, gzip: bool) -> None:
        self._out = out
        self._gzip = gzip
        self._wbits = zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS
        self._d = zlib.decompressobj(self._wbits)
        self._head: bytes | None = None if gzip else b""  # deflate: bytes before framing is known
        self._done = False

    def feed(self, data: bytes) -> None:
        if self._head is not None:
            data = self._head + data
            if len(data) < 2:
                self._head = data
                return
            self._head = None
            # "deflate" is sent both zlib-wrapped (per RFC) and raw (by old servers): a zlib
            # stream starts with a method byte and a check byte that make a multiple of 31.
            if not (data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0):
                self._wbits = -zlib.MAX_WBITS
                self._d = zlib.decompressobj(self._wbits)
        self._drain(data)

    def _drain(self, data: bytes) -> None:
        while not self._done:
            # max_length bounds each step's output: one small chunk cannot inflate to gigabytes.
            chunk = self._d.decompress(data, DECODE_CHUNK)
            self._out(chunk)
            data = self._d.unconsumed_tail
            if self._d.eof:
                self._done = True  # bytes after the end of the stream are ignored, as by httpx
            elif not data and len(chunk) < DECODE_CHUNK:
                return

    def finish(self) -> None:
        if not self._done:
            self._out(self._d.flush())


class _BrotliDecoder:
    def __init__(self, out: Writer) -> None:
        self._out = out
        self._d = brotli.Decompressor()

    def feed(self, data: bytes) -> None:
        if self._d.is_finished():
            return  # bytes after the end of the stream are ignored, as by httpx
        chunk = self._d.process(data, output_buffer_limit=DECODE_CHUNK)
        # Output held back by the limit is handed over only when asked for (with no input).
        while chunk:
            self._out(chunk)
            if self._d.is_finished():
                return
            chunk = self._d.process(b"", output_buffer_limit=DECODE_CHUNK)

    def finish(self) -> None:
        pass


class _ZstdDecoder:
    def __init__(self, out: Writer) -> None:
        # The writer hands over DECODE_CHUNK at a time; the sink's TooLarge stops it there.
        sink = cast(IO[bytes], _WriterAdapter(out))  # zstandard needs only .write()
        self._w = zstandard.ZstdDecompressor().stream_writer(sink, write_size=DECODE_CHUNK)

    def feed(self, data: bytes) -> None:
        self._w.write(data)

    def finish(self) -> None:
        self._w.flush()


class _WriterAdapter:
    def __init__(self, out: Writer) -> None:
        self.write = lambda data: out(data) or len(data)


class _Identity:
    def __init__(self, out: Writer) -> None:
        self.feed = out

    def finish(self) -> None:
        pass


# What a corrupt body makes the decoders raise.
DECODE_ERRORS = (zlib.error, brotli.error, zstandard.ZstdError)


def _decoders(content_encoding: str | None, sink: _Sink) -> list[Any]:
    """Decoder chain for a Content-Encoding header; the first one gets the raw bytes."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    if len(codings) > MAX_CODINGS:
        raise httpx.DecodingError(f"{len(codings)} content codings")
    chain: list[Any] = []
    out: Writer = sink.write
    # Codings are listed in the order applied, so the last one is undone first.
    for coding in codings:
        if coding in ("gzip", "x-gzip"):
            dec: Any = _ZlibDecoder(out, gzip=True)
        elif coding == "deflate":
            dec = _ZlibDecoder(out, gzip=False)
        elif coding == "br" and _BROTLI_BOUNDED:
            dec = _BrotliDecoder(out)
        elif coding == "zstd":
            dec = _ZstdDecoder(out)
        else:
            # Like httpx: unknown labels ("identity", "none", "utf-8") pass bytes through.
            continue
        chain.append(dec)
        out = dec.feed
    chain.reverse()
    return chain or [_Identity(sink.write)]


async def read_body(response: httpx.Response, limit: int, truncate: bool = False) -> bytes:
    """The decoded body; past `limit` decoded bytes, TooLarge (or its start if `truncate`).

    httpx's own decoders (`aiter_bytes`) inflate each network chunk completely, so one 64 KiB
    chunk of a brotli or gzip bomb becomes hundreds of megabytes before we could count it;
    decoding the raw stream here bounds every step instead.
    """
    sink = _Sink(limit)
    chain = _decoders(response.headers.get("content-encoding"), sink)
    try:
        async for raw in response.aiter_raw():
            chain[0].feed(raw)
        for dec in chain:
            dec.finish()
    except TooLarge:
        if not truncate:
            raise
    return sink.value()


def decode_chunks(chunks: Iterable[bytes], content_encoding: str | None, limit: int) -> bytes:
    """`read_body` for a body already stored (a WARC record's payload): the same bounded
    decoders, so an archived bomb costs no more than a fetched one. Past `limit`, TooLarge."""
    sink = _Sink(limit)
    chain = _decoders(content_encoding, sink)
    for raw in chunks:
        chain[0].feed(raw)
    for dec in chain:
        dec.finish()
    return sink.value()
