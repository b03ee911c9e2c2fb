"""Where packets to an address would go: the route, its interface and gateway, and whether the gateway answers.

The route comes from the kernel itself: connecting a UDP socket sends nothing but makes the
kernel pick a route and a source address, or fail with its own words ("network is
unreachable"). The gateway and its neighbour state come from ``/proc/net/route`` and
``/proc/net/arp`` on Linux; elsewhere they are "not known here", never guessed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psutil

# A documentation address (RFC 5737, TEST-NET-2): no network has it, so only a default route
# leads there. Asking the kernel for a route to it tells whether there is one; nothing is sent.
BEYOND_ANY_NETWORK: Final = "198.51.100.1"
_ROUTE_TABLE: Final = Path("/proc/net/route")
_NEIGHBOURS: Final = Path("/proc/net/arp")


@dataclass(frozen=True)
class Route:
    address: str
    source: str
    interface: str | None
    gateway: str | None  # None: on a network of its own interface (or not known on this system)


def route_to(address: str, port: int = 9) -> Route:
    """The kernel's route to ``address``; OSError with the kernel's reason when there is none."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect((address, port))  # a UDP "connect" only picks the route: no packet leaves
        source = str(probe.getsockname()[0])
    # This machine's own addresses are routed by the kernel's local table, not the main one.
    own = is_loopback(address) or source == address
    return Route(address, source, _interface_with(source), None if own else _gateway_for(address))


def _interface_with(source: str) -> str | None:
    with contextlib.suppress(OSError):
        for name, addresses in psutil.net_if_addrs().items():
            if any(entry.address.split("%")[0] == source for entry in addresses):
                return name
    return None


def _gateway_for(address: str) -> str | None:
    """The gateway of the most specific IPv4 route to ``address`` (Linux), None for a direct one."""
    try:
        target = int(ipaddress.IPv4Address(address))
        lines = _ROUTE_TABLE.read_text().splitlines()[1:]
    except (ValueError, OSError):
        return None
    best: tuple[int, str | None] | None = None
    for line in lines:
        columns = line.split()
        if len(columns) < 8:
            continue
        destination, gateway, flags, mask = (_little_endian(columns[i]) for i in (1, 2, 3, 7))
        route_up, route_gateway = 0x1, 0x2
        if not flags & route_up or target & mask != destination:
            continue
        prefix = bin(mask).count("1")
        if best is None or prefix > best[0]:
            best = (prefix, str(ipaddress.IPv4Address(gateway)) if flags & route_gateway else None)
    return best[1] if best else None


def _little_endian(column: str) -> int:
    value = int(column, 16)
    if len(column) == 8:  # addresses and masks are written in the kernel's (little-endian) order
        return int.from_bytes(value.to_bytes(4, "little"), "big")
    return value


def neighbour_state(gateway: str) -> str | None:
    """ "answers", "no answer" or None (not in the neighbour table, or not known on this system).

    The kernel asks for a gateway's hardware address before it sends through it: a complete
    entry means the gateway answered that question lately, an incomplete one that it did not.
    """
    try:
        lines = _NEIGHBOURS.read_text().splitlines()[1:]
    except OSError:
        return None
    arp_complete = 0x2
    for line in lines:
        columns = line.split()
        if len(columns) >= 4 and columns[0] == gateway:
            return "answers" if int(columns[2], 16) & arp_complete else "no answer"
    return None


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
