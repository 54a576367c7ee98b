"""Which addresses a fetch may connect to: the address classes the SSRF guard refuses
(loopback, private, link-local, cloud metadata, ...) and the operator's allow-list. Pure
`ipaddress` logic, so settings can parse the allow-list without loading the HTTP stack."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping, Sequence

ALLOW_ENV = "CEASEFIRE_FETCH_ALLOW_NETWORKS"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _nets(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# Checked in order, so a metadata address is reported as such rather than as link-local.
_V4_RULES: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = (
    # AWS/GCP/Azure/OpenStack, AWS ECS task metadata, Alibaba Cloud, Azure wire server.
    ("metadata", _nets("169.254.169.254/32", "169.254.170.2/32", "100.100.100.200/32",
                       "168.63.129.16/32")),
    ("unspecified", _nets("0.0.0.0/8")),  # "this network": 0.0.0.0 reaches the local host
    ("loopback", _nets("127.0.0.0/8")),
    ("private", _nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")),
    ("link-local", _nets("169.254.0.0/16")),
    ("cgnat", _nets("100.64.0.0/10")),
    ("multicast", _nets("224.0.0.0/4")),
    # IETF protocol assignments, documentation, benchmarking, 6to4 relay, class E, broadcast.
    ("reserved", _nets("192.0.0.0/24", "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24",
                       "198.18.0.0/15", "192.88.99.0/24", "240.0.0.0/4")),
)
_V6_RULES: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = (
    ("metadata", _nets("fd00:ec2::254/128")),
    ("unspecified", _nets("::/128")),
    ("loopback", _nets("::1/128")),
    ("private", _nets("fc00::/7", "fec0::/10", "64:ff9b:1::/48")),  # ULA, site-local, local NAT64
    ("link-local", _nets("fe80::/10")),
    ("multicast", _nets("ff00::/8")),
    # Discard-only, IETF protocol assignments (Teredo among them), documentation.
    ("reserved", _nets("100::/64", "2001::/23", "2001:db8::/32", "3fff::/20")),
)
_V6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
# IPv6 forms that carry an IPv4 address the packet really goes to (or is translated to).
_V4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
_V4_COMPATIBLE = ipaddress.ip_network("::/96")
_V4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """A connection the guard would not open; `reason` names the address class."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(f"{host} resolves to {address} ({reason}): refused")
        self.host = host
        self.address = address
        self.reason = reason


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address embeds and would reach, if any."""
    if any(ip in net for net in (_V4_MAPPED, _V4_TRANSLATED, _NAT64, _V4_COMPATIBLE)):
        return [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    if ip.sixtofour is not None:
        return [ip.sixtofour]
    return []


def check_address(ip: IPAddress, allow: Sequence[IPNetwork] = ()) -> str | None:
    """Why connecting to `ip` is refused ("loopback", "private", ...), or None if allowed."""
    if any(ip.version == net.version and ip in net for net in allow):
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        for reason, nets in _V6_RULES:
            if any(ip in net for net in nets):
                return reason
        embedded = _embedded_v4(ip)
        if embedded:
            for v4 in embedded:
                why = check_address(v4, allow)
                if why:
                    return why
            return None
        # Everything outside 2000::/3 is unallocated or special-purpose.
        if ip not in _V6_GLOBAL_UNICAST:
            return "reserved"
    else:
        for reason, nets in _V4_RULES:
            if any(ip in net for net in nets):
                return reason
    # Backstop for special-purpose ranges the tables above do not name.
    return None if ip.is_global else "reserved"


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """Comma-separated CIDRs ("127.0.0.0/8, ::1/128") as networks; raises ValueError if invalid."""
    nets = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            nets.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(f"{ALLOW_ENV}: not a network: {part!r}") from exc
    return tuple(nets)


def allow_networks_from_env(env: Mapping[str, str] | None = None) -> tuple[IPNetwork, ...]:
    """The operator's allow-list from CEASEFIRE_FETCH_ALLOW_NETWORKS (empty when unset)."""
    e = os.environ if env is None else env
    return parse_networks(e.get(ALLOW_ENV, ""))


def _refusal(host: str, addresses: Iterable[IPAddress], allow: Sequence[IPNetwork]
             ) -> AddressRefused | None:
    for ip in addresses:
        reason = check_address(ip, allow)
        if reason:
            return AddressRefused(host, str(ip), reason)
    return None
