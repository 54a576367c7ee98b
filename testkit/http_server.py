"""Real HTTP servers on loopback for fetcher tests: routes are plain functions, every request
is recorded (path, headers, arrival time) and in-flight requests are counted."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

Route = Callable[["Handler"], None]


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as the server received it."""

    path: str
    headers: dict[str, str]  # lower-case names
    at: float  # time.monotonic() on arrival (same clock as the client's)


@dataclass(slots=True)
class Log:
    """Thread-safe record of what a server received."""

    requests: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def paths(self) -> list[str]:
        with self.lock:
            return [r.path for r in self.requests]

    def times(self, path: str | None = None) -> list[float]:
        with self.lock:
            return [r.at for r in self.requests if path is None or r.path == path]

    def count(self, path: str) -> int:
        return self.paths().count(path)


class Handler(BaseHTTPRequestHandler):
    """Dispatches GETs to the server's routes by exact path (query ignored), else 404."""

    protocol_version = "HTTP/1.1"
    server: Server

    def do_GET(self) -> None:
        log = self.server.log
        with log.lock:
            log.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()},
                                     time.monotonic()))
            log.in_flight += 1
            log.max_in_flight = max(log.max_in_flight, log.in_flight)
        try:
            route = self.server.routes.get(self.path.split("?", 1)[0])
            if route is None:
                send(self, 404, b"not found", {"Content-Type": "text/plain"})
            else:
                route(self)
        except (ConnectionError, TimeoutError):
            self.close_connection = True  # the client gave up on us: expected in these tests
        finally:
            with log.lock:
                log.in_flight -= 1

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    """A threaded HTTP server on a loopback address, run in a daemon thread."""

    daemon_threads = True
    block_on_close = False  # slow handlers must not hold up the test that is done with them

    def __init__(self, routes: dict[str, Route], host: str = "127.0.0.1",
                 tls: ssl.SSLContext | None = None) -> None:
        super().__init__((host, 0), Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.routes = routes
        self.log = Log()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base(self) -> str:
        host, port = self.server_address[:2]
        return f"{self.scheme}://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-response are part of the tests

    def __enter__(self) -> Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


def send(h: Handler, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
    """A complete response with Content-Length."""
    h.send_response(status)
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def stream(h: Handler, status: int, chunks: Iterable[bytes], headers: dict[str, str]) -> None:
    """A response without length, ended by closing the connection; stops when the client leaves."""
    h.send_response(status)
    for name, value in headers.items():
        h.send_header(name, value)
    h.send_header("Connection", "close")
    h.end_headers()
    h.close_connection = True
    for chunk in chunks:
        h.wfile.write(chunk)
        h.wfile.flush()


def page(body: bytes | str, content_type: str = "text/html; charset=utf-8",
         status: int = 200, **headers: str) -> Route:
    """A route that always answers the same."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    extra = {k.replace("_", "-"): v for k, v in headers.items()}
    return lambda h: send(h, status, data, {"Content-Type": content_type, **extra})


def redirect(location: str, status: int = 302) -> Route:
    return lambda h: send(h, status, b"", {"Location": location})


def sequence(*routes: Route) -> Route:
    """A route answering with the next of `routes` on each call, the last one repeating."""
    calls = iter(routes)
    last: list[Route] = []
    lock = threading.Lock()

    def route(h: Handler) -> None:
        with lock:
            nxt = next(calls, None)
            if nxt is not None:
                last[:] = [nxt]
            current = last[0]
        current(h)

    return route


def zeros_compressed(total: int, encoding: str, group: int = 64 << 20) -> Iterator[bytes]:
    """`total` zero bytes compressed on the fly, flushed as one write per `group` of input.

    Big groups matter: a client that inflates whatever one network read brings, without a
    bound, gets each group (64 MiB) at once, which is what a real bomb does to it.
    """
    block = bytes(1 << 20)
    if encoding == "br":
        import brotli
        comp: Any = brotli.Compressor(quality=4)
        step, flush, end = comp.process, comp.flush, comp.finish
    elif encoding == "zstd":
        import zstandard
        comp = zstandard.ZstdCompressor(level=3).compressobj()
        step, end = comp.compress, comp.flush
        flush = lambda: comp.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)  # noqa: E731
    else:
        comp = zlib.compressobj(6, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
        step, end = comp.compress, comp.flush
        flush = lambda: comp.flush(zlib.Z_SYNC_FLUSH)  # noqa: E731
    for _ in range(total // group):
        yield b"".join(step(block) for _ in range(group // len(block))) + flush()
    yield end()


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def self_signed(hostname: str, directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context with a fresh self-signed certificate for `hostname`, and the
    certificate's path for clients to trust."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    return server, cert_path
