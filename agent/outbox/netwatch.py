"""Noticing that the network changed, so reports waiting for it are tried at once.

An interface coming up, a new address, a new default route: a laptop joined a network, and a
report held back by the last one may go now. Where the OS tells (Linux: a netlink socket
subscribed to link, address and IPv4 route changes) a small thread listens; elsewhere, or
where netlink is not allowed, it compares the set of interfaces and addresses (psutil) every
``POLL_SECONDS``. Either way a burst of changes settles for ``SETTLE_SECONDS`` into one call,
and calls come at most every ``MIN_INTERVAL_SECONDS``. Link messages alone (Wi-Fi drivers send
them for scans) count only when the interfaces or addresses really changed.

The thread waits in ``select`` on the netlink socket and a wake-up pair: no busy loop, and
``stop`` ends it at once. ``inject`` is the seam for tests and for callers who learn of a change
some other way: it goes through the same settling and rate limit.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Hashable
from typing import Final

import psutil

log = logging.getLogger(__name__)

POLL_SECONDS: Final = 10.0
SETTLE_SECONDS: Final = 1.0
MIN_INTERVAL_SECONDS: Final = 5.0
STOP_TIMEOUT_SECONDS: Final = 5.0
_RECEIVE_BYTES: Final = 64 * 1024

# <linux/rtnetlink.h>
_NETLINK_ROUTE: Final = 0
_RTMGRP_LINK: Final = 0x1
_RTMGRP_IPV4_IFADDR: Final = 0x10
_RTMGRP_IPV4_ROUTE: Final = 0x40
_RTMGRP_IPV6_IFADDR: Final = 0x100
_GROUPS: Final = _RTMGRP_LINK | _RTMGRP_IPV4_IFADDR | _RTMGRP_IPV4_ROUTE | _RTMGRP_IPV6_IFADDR
_LINK_MESSAGES: Final = frozenset({16, 17})  # RTM_NEWLINK, RTM_DELLINK
_NLMSG_HEADER: Final = struct.Struct("=LHHLL")  # length, type, flags, sequence, port id

Signature = Callable[[], Hashable]


def address_signature() -> Hashable:
    """The interfaces that are up and their addresses: what a change of network changes."""
    try:
        stats = psutil.net_if_stats()
        addresses = psutil.net_if_addrs()
    except OSError:
        return None
    return frozenset(
        (name, int(address.family), address.address)
        for name, entries in addresses.items()
        if name in stats and stats[name].isup
        for address in entries
    )


def netlink_socket() -> socket.socket | None:
    """A netlink socket subscribed to link, address and route changes; None where there is none."""
    family = getattr(socket, "AF_NETLINK", None)
    if family is None or not sys.platform.startswith("linux"):
        return None
    try:
        sock = socket.socket(family, socket.SOCK_RAW, _NETLINK_ROUTE)
    except OSError as exc:
        log.info("no netlink socket (%s); the network is polled every %.0f s instead", exc, POLL_SECONDS)
        return None
    try:
        sock.bind((0, _GROUPS))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        log.info("cannot listen to netlink (%s); the network is polled every %.0f s instead", exc, POLL_SECONDS)
        return None
    return sock


def message_types(data: bytes) -> list[int]:
    """The message types in one netlink datagram (a datagram can hold several)."""
    types: list[int] = []
    offset = 0
    while offset + _NLMSG_HEADER.size <= len(data):
        length, kind, _flags, _seq, _port = _NLMSG_HEADER.unpack_from(data, offset)
        if length < _NLMSG_HEADER.size:
            break
        types.append(kind)
        offset += (length + 3) & ~3  # NLMSG_ALIGN
    return types


class NetworkWatcher:
    """Calls ``on_change`` (on its own thread) after the network changed; start, stop, inject."""

    def __init__(
        self,
        on_change: Callable[[], None],
        *,
        poll_seconds: float = POLL_SECONDS,
        settle_seconds: float = SETTLE_SECONDS,
        min_interval: float = MIN_INTERVAL_SECONDS,
        use_netlink: bool = True,
        signature: Signature = address_signature,
        open_netlink: Callable[[], socket.socket | None] = netlink_socket,
    ) -> None:
        self._on_change = on_change
        self._poll_seconds = max(poll_seconds, 0.05)
        self._settle_seconds = max(settle_seconds, 0.0)
        self._min_interval = max(min_interval, 0.0)
        self._use_netlink = use_netlink
        self._signature = signature
        self._open_netlink = open_netlink  # a seam: tests hand in a socket they write netlink messages to
        self._lock = threading.Lock()
        self._injected: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_read: socket.socket | None = None
        self._wake_write: socket.socket | None = None
        self.source = "none"  # "netlink" or "polling" once started, for logs and tests
        self.changes = 0  # calls made to on_change

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.setblocking(False)
        netlink = self._open_netlink() if self._use_netlink else None
        self.source = "netlink" if netlink is not None else "polling"
        self._thread = threading.Thread(target=self._run, args=(netlink,), name="showdesk-network-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> bool:
        """End the thread; True when it has ended."""
        self._stop.set()
        self._poke()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
        self._thread = None
        for sock in (self._wake_read, self._wake_write):
            if sock is not None:
                sock.close()
        self._wake_read = self._wake_write = None
        return True

    def inject(self, what: str = "a change reported by the caller") -> None:
        """Report a change as the OS would: it settles and is rate-limited like one."""
        with self._lock:
            self._injected.append(what)
        self._poke()

    def _poke(self) -> None:
        sock = self._wake_write
        if sock is not None:
            with contextlib.suppress(OSError):  # full (a wake-up is pending anyway) or closed
                sock.send(b"\0")

    # ------------------------------------------------------------ the thread
    def _run(self, netlink: socket.socket | None) -> None:
        try:
            self._loop(netlink)
        except Exception:
            # Watching is a help: without it reports still go on the backoff.
            log.exception("watching the network failed; reports are still retried on their backoff")
        finally:
            if netlink is not None:
                netlink.close()

    def _loop(self, netlink: socket.socket | None) -> None:
        assert self._wake_read is not None
        known = self._signature()
        pending_since: float | None = None  # when the change now settling was first seen
        pending_what = ""
        link_only = True
        last_call = -self._min_interval
        next_poll = time.monotonic() + self._poll_seconds
        sources = [self._wake_read] + ([netlink] if netlink is not None else [])
        while not self._stop.is_set():
            now = time.monotonic()
            deadlines = [] if netlink is not None else [next_poll]
            if pending_since is not None:
                deadlines.append(max(pending_since + self._settle_seconds, last_call + self._min_interval))
            timeout = max(min(deadlines) - now, 0.0) if deadlines else None
            readable, _, _ = select.select(sources, [], [], timeout)
            if self._stop.is_set():
                return
            seen: str | None = None
            if self._wake_read in readable:
                with contextlib.suppress(OSError):
                    self._wake_read.recv(4096)
                with self._lock:
                    injected, self._injected = self._injected, []
                if injected:
                    seen, link_only = injected[-1], False
            if netlink is not None and netlink in readable:
                kinds = self._drain(netlink)
                if kinds:
                    seen = seen or "the OS reported a network change"
                    link_only = link_only and kinds <= _LINK_MESSAGES
            now = time.monotonic()
            if netlink is None and now >= next_poll:
                next_poll = now + self._poll_seconds
                if self._signature() != known:
                    seen, link_only = "the interfaces or addresses changed", False
            if seen is not None and pending_since is None:
                pending_since, pending_what = now, seen
            if pending_since is None:
                continue
            if now < pending_since + self._settle_seconds or now < last_call + self._min_interval:
                continue
            current = self._signature()
            real = not link_only or current != known
            known = current
            pending_since, link_only = None, True
            if real:
                last_call = now
                self.changes += 1
                log.info("the network changed (%s); trying the reports that wait for it", pending_what)
                try:
                    self._on_change()
                except Exception:
                    log.exception("reacting to a network change failed")

    @staticmethod
    def _drain(netlink: socket.socket) -> frozenset[int]:
        kinds: set[int] = set()
        for _ in range(64):  # bounded: a flood is read on the next round
            try:
                data = netlink.recv(_RECEIVE_BYTES)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                # ENOBUFS: messages were lost while busy; something changed all the same.
                log.debug("netlink: %s", exc)
                kinds.add(-1)
                break
            kinds.update(message_types(data))
        return frozenset(kinds)


__all__ = ["NetworkWatcher", "address_signature", "message_types", "netlink_socket"]
