"""Asking each configured name server directly, to say which one answered and what.

The system resolver (getaddrinfo) says only that a lookup failed. When it does, the connection
check asks every name server in ``/etc/resolv.conf`` itself, with one small UDP query each, all
at once and within the check's bound, so the report can say "10.0.0.53 did not answer" or
"10.0.0.53 answered: no such name" instead of "DNS is broken".
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from pathlib import Path
from typing import Final

RESOLV_CONF: Final = Path("/etc/resolv.conf")
MAX_SERVERS: Final = 3  # the resolver itself asks at most three (resolv.conf(5), MAXNS)
_RCODES: Final = {
    1: "it could not read the question (format error)",
    2: "it failed to look the name up (server failure)",
    3: "no such name",
    4: "it does not do lookups like this (not implemented)",
    5: "it refused to look the name up",
}


def name_servers(path: Path = RESOLV_CONF) -> list[str]:
    """The name servers the system resolver asks, in its order (empty when the file is unreadable)."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    servers = [line.split()[1] for line in lines if line.startswith("nameserver") and len(line.split()) > 1]
    return servers[:MAX_SERVERS]


def _query(name: str, ident: int) -> bytes:
    header = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0)  # recursion desired, one question
    labels = b"".join(bytes([len(part)]) + part for part in name.rstrip(".").encode("idna").split(b".") if part)
    return header + labels + b"\x00" + struct.pack("!HH", 1, 1)  # type A, class IN


def _meaning(reply: bytes) -> str:
    if len(reply) < 12:
        return "it sent something that is not a DNS answer"
    flags, _, answers = struct.unpack("!HHH", reply[2:8])
    rcode = flags & 0xF
    if rcode:
        return f"it answered: {_RCODES.get(rcode, f'error code {rcode}')}"
    return f"it answered with {answers} address{'es' if answers != 1 else ''}" if answers else "it answered: no address"


def ask_servers(name: str, servers: list[str], deadline: float) -> list[dict[str, object]]:
    """One A query for ``name`` to each server; what each said (or that it did not), by ``deadline``."""
    try:
        question_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return [
            {"server": server, "answer": "not asked: the name cannot be written as a DNS question"}
            for server in servers
        ]
    started = time.monotonic()
    pending: dict[socket.socket, tuple[str, int]] = {}
    answers: dict[str, str] = {}
    for server in servers:
        family = socket.AF_INET6 if ":" in server else socket.AF_INET
        ident = int.from_bytes(os.urandom(2), "big")
        probe = socket.socket(family, socket.SOCK_DGRAM)
        probe.setblocking(False)
        try:
            probe.connect((server, 53))
            probe.send(_query(question_name, ident))
        except OSError as exc:
            answers[server] = f"could not be asked: {(exc.strerror or str(exc)).lower()}"
            probe.close()
            continue
        pending[probe] = (server, ident)
    try:
        while pending and (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(list(pending), [], [], left)
            for probe in ready:
                server, ident = pending[probe]
                try:
                    reply = probe.recv(4096)
                except ConnectionRefusedError:
                    answers[server] = "nothing answers there (port 53 unreachable)"
                except OSError as exc:
                    answers[server] = f"could not be asked: {(exc.strerror or str(exc)).lower()}"
                else:
                    if len(reply) >= 2 and struct.unpack("!H", reply[:2])[0] != ident:
                        continue  # a late answer to someone else's question
                    answers[server] = _meaning(reply)
                del pending[probe]
                probe.close()
    finally:
        waited_ms = (time.monotonic() - started) * 1000
        for probe, (server, _) in pending.items():
            answers[server] = f"no answer within {waited_ms:.0f} ms"
            probe.close()
    return [{"server": server, "answer": answers[server]} for server in servers]
