"""SSRF guard: fetch only public http(s) addresses, checked at connect time.

Feed and sitemap URLs come from third parties, so a listing can point us at `localhost`, the
cloud metadata service or the office network. Checking a URL's host before the request is not
enough: httpcore would resolve the name again when it connects, and a DNS-rebinding server
answers "public" the first time and "127.0.0.1" the second. So `GuardedBackend` resolves the
name itself inside `connect_tcp`, checks every address it got, and connects to exactly the
address it checked. TLS is unaffected: httpcore starts TLS afterwards on that stream with the
URL's hostname for SNI and certificate verification.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import time
import typing
from collections.abc import Sequence

import httpcore
import httpx

from tasks.fetch.addresses import (  # noqa: F401  (the guard's vocabulary, re-exported)
    ALLOW_ENV,
    AddressRefused,
    IPAddress,
    IPNetwork,
    _refusal,
    allow_networks_from_env,
    check_address,
    parse_networks,
)

LOGGER = logging.getLogger(__name__)


def check_url(url: str) -> str | None:
    """Why `url` may not be fetched at all ("bad-scheme", "bad-url", ...), or None."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "bad-url"
    if parsed.scheme not in ("http", "https"):
        return "bad-scheme"
    if not parsed.host:
        return "no-host"
    if parsed.userinfo:
        # Credentials in a URL from a feed are either a mistake or a trick; never send them.
        return "credentials-in-url"
    return None


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that resolves, checks every address, then connects by IP."""

    def __init__(self, allow: Sequence[IPNetwork] = (),
                 inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.allow = tuple(allow)
        self._inner = inner or httpcore.AnyIOBackend()

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every TCP address `host` resolves to, in resolver order, without duplicates."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                           proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        seen: dict[IPAddress, None] = {}
        for _family, _type, _proto, _name, sockaddr in infos:
            seen.setdefault(ipaddress.ip_address(sockaddr[0]), None)
        return list(seen)

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        start = time.monotonic()
        try:
            async with asyncio.timeout(timeout):
                addresses = await self.resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        # One bad address refuses the host: a name that mixes public and internal answers is
        # exactly what a rebinding attack looks like, and we must not race it.
        refused = _refusal(host, addresses, self.allow)
        if refused:
            LOGGER.warning("refused connection: %s", refused)
            raise refused
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        error: Exception | None = None
        for ip in addresses:
            remaining = None if timeout is None else max(0.0, timeout - (time.monotonic() - start))
            try:
                return await self._inner.connect_tcp(str(ip), port, timeout=remaining,
                                                     local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused(path, path, "unix-socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_transport(allow: Sequence[IPNetwork] = (), **kwargs: typing.Any
                      ) -> httpx.AsyncHTTPTransport:
    """An httpx transport whose every TCP connection goes through `GuardedBackend`.

    httpx offers no public way to choose httpcore's network backend, so it is swapped on the
    connection pool (`transport._pool._network_backend`), which hands it to each connection
    it creates. Proxies are not allowed: they would connect to the proxy, not to the checked
    address. If an httpx/httpcore upgrade moves the attribute this raises, rather than
    silently fetching unguarded.
    """
    if kwargs.get("proxy") is not None or kwargs.get("uds") is not None:
        raise ValueError("guarded_transport does not support proxies or unix sockets")
    transport = httpx.AsyncHTTPTransport(**kwargs)
    pool = getattr(transport, "_pool", None)
    if type(pool) is not httpcore.AsyncConnectionPool or not hasattr(pool, "_network_backend"):
        raise RuntimeError("cannot install the SSRF guard: httpx/httpcore internals changed")
    pool._network_backend = GuardedBackend(allow)
    return transport
