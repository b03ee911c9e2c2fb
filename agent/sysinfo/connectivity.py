"""The connection check: a small decision procedure from this machine to the backend, each step bounded and reported.

Steps, in order: route (the kernel's route to the address) → gateway (does it answer on the
local network) → name lookup (the system resolver; on failure each name server is asked
directly) → connection (TCP to the backend by name, and by its last known address when the name
fails) → proxy (reachable? tunnel opened? credentials accepted?) → secure connection (TLS,
certificate errors named) → the backend's HTTP answer (with its ``Date``, for the clock check).

The verdict names the first step that failed, in plain words, with the evidence. A step cut
short by the check's own bound is "not checked in time": its own state, never "unreachable",
because under load a healthy machine can run out of time too. Only a step that waited at
least :data:`NO_ANSWER_AFTER_SECONDS` (a check run with a generous bound, such as the laptop's
"Test connection") may conclude that something "does not answer".

Written on plain sockets because every `showdesk capture` runs it: http.client and
urllib.request would add about 35 ms of imports to each capture. ssl, base64 and
urllib.request load only when a check needs them (https, proxy credentials, a proxy's bypass list).
"""

from __future__ import annotations

import contextlib
import socket
import time
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import SplitResult, urlsplit

from agent import __version__
from agent.scrub import scrub_url
from agent.sysinfo import address_memory
from agent.sysinfo.bounded import call_before, describe_error, remaining
from agent.sysinfo.dns_query import ask_servers, name_servers
from agent.sysinfo.network import system_proxies
from agent.sysinfo.routes import BEYOND_ANY_NETWORK, Route, is_address, is_loopback, neighbour_state, route_to

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "smtp": 25, "smtps": 465, "submission": 587}
STEPS: Final = ("route", "gateway", "dns", "tcp", "proxy", "tls", "http")
STEP_LABELS: Final = {
    "route": "Route",
    "gateway": "Gateway",
    "dns": "Name lookup",
    "tcp": "Connection",
    "proxy": "Proxy",
    "tls": "Secure connection",
    "http": "Help desk's answer",
}
# A step that waited this long without an answer did not get one; shorter waits (the snapshot's
# 0.3 s bound on a busy machine) say only that there was no time to find out.
NO_ANSWER_AFTER_SECONDS: Final = 2.0
# Evidence gathered after a failure (asking name servers, the last known address) gets at most this.
EVIDENCE_SECONDS: Final = 1.0

StepState = Literal["ok", "failed", "skipped", "not_checked_in_time"]
Verdict = Literal["reachable", "server_error", "failed", "not_checked_in_time"]


class _StopError(Exception):
    """The procedure stops here: a step failed, or the check ran out of time."""


class _Procedure:
    """The steps as they are run: their states and evidence, and the result they add up to."""

    def __init__(self, result: dict[str, object], deadline: float) -> None:
        self.result = result
        self.deadline = deadline
        self.steps: dict[str, dict[str, object]] = {}

    def record(self, step: str, state: StepState, detail: str, started: float | None = None) -> None:
        entry: dict[str, object] = {"step": step, "label": STEP_LABELS[step], "state": state, "detail": detail}
        if started is not None:
            entry["ms"] = _elapsed_ms(started)
        self.steps[step] = entry

    def fail(self, step: str, detail: str, started: float | None = None) -> _StopError:
        self.record(step, "failed", detail, started)
        return _StopError()

    def no_time(self, step: str, waiting_for: str, started: float) -> _StopError:
        """A step cut short: "does not answer" after a real wait, else "not checked in time"."""
        waited = time.monotonic() - started
        if waited >= NO_ANSWER_AFTER_SECONDS:
            return self.fail(step, f"{waiting_for} did not answer within {waited:.1f} s", started)
        self.record(
            step,
            "not_checked_in_time",
            f"not checked in time: still waiting for {waiting_for} after {waited * 1000:.0f} ms",
            started,
        )
        return _StopError()

    def out_of_time(self) -> bool:
        return time.monotonic() >= self.deadline


def check_connectivity(
    url: str | None,
    deadline: float,
    ca_bundle: str | None = None,
    proxy: str | None = None,
    *,
    address_book: Path | None = None,
) -> dict[str, object]:
    """How the backend looks from here: the steps, their timings, and a verdict in words.

    For http(s) the request goes to ``{url}/healthz`` through ``proxy`` when given (the
    backend's own ``proxy`` setting, as its connector uses it), else through the proxy the
    system would use; any HTTP answer proves the backend reachable. Other schemes are checked
    up to TCP. ``address_book`` is where the backend's last known addresses are kept
    (:mod:`agent.sysinfo.address_memory`; the user's cache directory by default).
    """
    if not url:
        return {"checked": False, "verdict": "not_checked", "reason": "no backend address is configured"}
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    shown_url = scrub_url(url)
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return {
            "checked": False,
            "verdict": "not_checked",
            "url": shown_url,
            "reason": "the backend address has an invalid port",
        }
    if not parts.hostname or port is None:
        return {
            "checked": False,
            "verdict": "not_checked",
            "url": shown_url,
            "reason": f"{scheme or 'this kind of'} backend is not checked",
        }
    host = parts.hostname
    result: dict[str, object] = {
        "checked": True,
        "url": shown_url,
        "verdict": None,
        "summary": None,
        "reachable": False,
        "failed_step": None,
        "reason": None,
        "via_proxy": None,
        "address": None,
        "by_address": None,
        "name_servers": None,
        "dns_ms": None,
        "tcp_ms": None,
        "tls_ms": None,
        "http_ms": None,
        "http_status": None,
        "server_date": None,
        "clock_offset_seconds": None,
        "steps": [],
    }
    via = None
    if scheme in ("http", "https"):
        # A configured proxy wins over the system's and its bypass list, as in the connectors.
        via = _proxy_url(proxy) if proxy else _proxy_for(parts)
    if via is not None:
        result["via_proxy"] = scrub_url(via.geturl())
        if via.scheme not in ("http", "https") or not via.hostname:
            return {
                **result,
                "checked": False,
                "verdict": "not_checked",
                "reason": "the connection goes through a proxy this check cannot use",
            }
    procedure = _Procedure(result, deadline)
    with contextlib.suppress(_StopError):
        _probe(procedure, parts, host, port, via, ca_bundle, address_book)
    _conclude(procedure)
    return result


def _conclude(procedure: _Procedure) -> None:
    result, steps = procedure.result, procedure.steps
    result["steps"] = [steps[name] for name in STEPS if name in steps]
    if result["reachable"] is True:
        status = result["http_status"]
        through = f" through the proxy {result['via_proxy']}" if result["via_proxy"] else ""
        if isinstance(status, int) and status >= 500:
            result["verdict"] = "server_error"
            result["summary"] = f"The help desk answers{through}, but with a server error: {result['reason']}"
        else:
            answer = f"HTTP {status}" if status is not None else "a connection"
            result["verdict"] = "reachable"
            result["summary"] = f"The help desk answers{through}: {answer} from {result['address']}"
        return
    failed = next((name for name in STEPS if steps.get(name, {}).get("state") == "failed"), None)
    if failed is not None:
        detail = str(steps[failed]["detail"])
        result.update(verdict="failed", failed_step=failed, reason=detail)
        by_address = result["by_address"]
        extra = ""
        if isinstance(by_address, dict):
            extra = f"; {by_address['detail']}"
        result["summary"] = f"{STEP_LABELS[failed]} failed: {detail}{extra}"
        return
    cut = next((name for name in STEPS if steps.get(name, {}).get("state") == "not_checked_in_time"), None)
    detail = str(steps[cut]["detail"]) if cut else "not checked in time"
    done = [str(steps[name]["label"]).lower() for name in STEPS if steps.get(name, {}).get("state") == "ok"]
    result.update(reachable=None, verdict="not_checked_in_time", reason=detail)
    before = f" ({', '.join(done)} fine before that)" if done else ""
    where = f" at the step {STEP_LABELS[cut].lower()}" if cut else ""
    result["summary"] = f"Not checked in time{where}: {detail.removeprefix('not checked in time: ')}{before}"


def _proxy_for(parts: SplitResult) -> SplitResult | None:
    proxies = system_proxies()
    proxy = proxies.get(parts.scheme.lower()) or proxies.get("all")
    if not proxy:
        return None
    import urllib.request  # only when a proxy is set: no_proxy and the OS's bypass list

    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return _proxy_url(proxy)


def _proxy_url(proxy: str) -> SplitResult:
    return urlsplit(proxy if "://" in proxy else f"http://{proxy}")


def _elapsed_ms(since: float) -> float:
    return round((time.monotonic() - since) * 1000, 1)


def _kernel_words(exc: OSError) -> str:
    """The system's own words for an error, as a person reads them: "network is unreachable"."""
    text = exc.strerror or describe_error(exc)
    return text[:1].lower() + text[1:]


def _route_step(procedure: _Procedure, address: str, port: int, what: str) -> Route:
    started = time.monotonic()
    try:
        route = route_to(address, port)
    except OSError as exc:
        raise procedure.fail("route", f"no route to {what} {address}: {_kernel_words(exc)}", started) from None
    over = f" over {route.interface}" if route.interface else ""
    through = f" through the gateway {route.gateway}" if route.gateway else ""
    procedure.record("route", "ok", f"{what} {address} is reached{over}{through} (from {route.source})", started)
    _gateway_step(procedure, route)
    return route


def _gateway_step(procedure: _Procedure, route: Route) -> None:
    if route.gateway is None:
        where = f"on the network of {route.interface}" if route.interface else "on a local network"
        if is_loopback(route.address):
            where = "on this machine"
        procedure.record("gateway", "skipped", f"none needed: {route.address} is {where}")
        return
    state = neighbour_state(route.gateway)
    if state == "answers":
        procedure.record("gateway", "ok", f"the gateway {route.gateway} answers on the local network")
    elif state == "no answer":
        # Not a stop: the verdict names it only if the connection fails too.
        procedure.record(
            "gateway",
            "failed",
            f"the gateway {route.gateway} does not answer on the local network"
            " (its hardware address could not be found)",
        )
    else:
        procedure.record("gateway", "skipped", f"the gateway {route.gateway} was not asked (not known on this system)")


def _probe(
    procedure: _Procedure,
    parts: SplitResult,
    host: str,
    port: int,
    proxy: SplitResult | None,
    ca_bundle: str | None,
    address_book: Path | None,
) -> None:
    result = procedure.result
    connect_host = proxy.hostname if proxy and proxy.hostname else host
    connect_port = (proxy.port or (443 if proxy.scheme == "https" else 80)) if proxy else port
    target = "the proxy" if proxy else "the help desk"
    where = f"the proxy at {connect_host}:{connect_port}" if proxy else f"{connect_host} port {connect_port}"

    if is_address(connect_host):
        route = _route_step(procedure, connect_host, connect_port, target)
        procedure.record("dns", "skipped", f"{connect_host} is an address: no lookup needed")
        infos = [_address_info(connect_host, connect_port)]
    else:
        infos = _lookup(
            procedure, connect_host, connect_port, remember_for=None if proxy else host, address_book=address_book
        )
        route = _route_step(procedure, str(infos[0][4][0]), connect_port, target)

    step = "proxy" if proxy else "tcp"
    if proxy:
        procedure.record("tcp", "skipped", f"goes through the proxy at {connect_host}:{connect_port}")
    try:
        connection = _connect(procedure, step, infos, where)
    except _StopError:
        # Only after a real failure: a gateway still being asked (a cut-short check) is no verdict.
        if route.gateway is not None and procedure.steps[step]["state"] == "failed":
            # The connection's own attempt made the kernel ask for the gateway: now it is known
            # whether the gateway answered, and a silent one is the first step that failed.
            _gateway_step(procedure, route)
        raise
    if not proxy and not is_address(host):
        address_memory.remember(host, str(result["address"]), address_book)
    try:
        if proxy is not None and parts.scheme.lower() == "https":
            _open_tunnel(procedure, connection, proxy, host, port)
        if parts.scheme.lower() == "https":
            connection = _tls(procedure, connection, host, ca_bundle)
        if parts.scheme.lower() in ("http", "https"):
            _http_round_trip(procedure, connection, parts, host, port, proxy)
        else:
            result["reachable"] = True
    finally:
        connection.close()


def _address_info(address: str, port: int) -> tuple[Any, ...]:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))


def _lookup(
    procedure: _Procedure, name: str, port: int, *, remember_for: str | None, address_book: Path | None
) -> list[Any]:
    result = procedure.result
    servers = name_servers()
    result["name_servers"] = servers
    asked = f" (asked {', '.join(servers)})" if servers else ""
    started = time.monotonic()
    try:
        infos: list[Any] = call_before(
            procedure.deadline, partial(socket.getaddrinfo, _name_to_look_up(name), port, type=socket.SOCK_STREAM)
        )
    except TimeoutError:
        stop = procedure.no_time("dns", f"the name lookup of {name}{asked}", started)
        _explain_lookup(procedure, name, servers, remember_for, port, address_book)
        raise stop from None
    except OSError as exc:
        stop = procedure.fail("dns", f"the name {name} could not be looked up ({_kernel_words(exc)}){asked}", started)
        _explain_lookup(procedure, name, servers, remember_for, port, address_book)
        raise stop from None
    if not infos:
        raise procedure.fail("dns", f"the name {name} has no address{asked}", started)
    result["dns_ms"] = _elapsed_ms(started)
    first = infos[0][4][0]
    procedure.record("dns", "ok", f"{name} is {first}{asked}", started)
    return infos


def _explain_lookup(
    procedure: _Procedure,
    name: str,
    servers: list[str],
    remember_for: str | None,
    port: int,
    address_book: Path | None,
) -> None:
    """After a failed lookup: is there a route to the name servers, what did each say, does the
    help desk answer at its last known address? Each bounded; together they end "is it the network?"."""
    result = procedure.result
    until = min(procedure.deadline, time.monotonic() + EVIDENCE_SECONDS)
    far = [server for server in servers if not is_loopback(server)]
    if far:
        with contextlib.suppress(_StopError):
            _route_step(procedure, far[0], 53, "the name server")
    elif servers:
        # A resolver on this machine (127.0.0.53) may forward beyond it: said, but not blamed,
        # since the resolver itself may be what does not answer.
        try:
            beyond = route_to(BEYOND_ANY_NETWORK)
        except OSError as exc:
            words = f"no route beyond this machine ({_kernel_words(exc)})"
        else:
            words = f"other networks are reached over {beyond.interface or beyond.source}"
        procedure.record("route", "skipped", f"the name server is on this machine; {words}")
    if servers and time.monotonic() < until:
        answers = ask_servers(name, servers, until)
        result["name_server_answers"] = answers
        said = "; ".join(f"{entry['server']}: {entry['answer']}" for entry in answers)
        step = procedure.steps["dns"]
        step["detail"] = f"{step['detail']}; {said}"
    known = address_memory.recall(remember_for, address_book) if remember_for else None
    if known is None or time.monotonic() >= until:
        return
    started = time.monotonic()
    family = socket.AF_INET6 if ":" in known else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(max(0.001, until - started))
        try:
            probe.connect((known, port))
        except TimeoutError:
            words, answered = f"no answer within {(time.monotonic() - started) * 1000:.0f} ms", False
        except OSError as exc:
            words, answered = _kernel_words(exc), False
        else:
            words, answered = f"connected in {_elapsed_ms(started):g} ms", True
    detail = (
        f"the help desk answers at its last known address {known} ({words}), so the network works: only the name fails"
        if answered
        else f"its last known address {known} does not answer either ({words})"
    )
    result["by_address"] = {"address": known, "answered": answered, "detail": detail}


def _name_to_look_up(host: str) -> str | bytes:
    """``host`` as getaddrinfo should get it: an ASCII name (or an address) as bytes.

    Given text, getaddrinfo encodes it with the IDNA codec, whose import (with stringprep and
    unicodedata) costs every `showdesk capture` a few milliseconds; an ASCII name is its own
    IDNA form. A name with other letters still goes as text, for the codec to encode.
    """
    return host.encode("ascii") if host.isascii() else host


def _connect(procedure: _Procedure, step: str, infos: list[Any], where: str) -> socket.socket:
    result = procedure.result
    started = time.monotonic()
    failure: _StopError | None = None
    for family, kind, proto, _, address in infos:
        if procedure.out_of_time():
            break
        connection = socket.socket(family, kind, proto)
        connection.settimeout(remaining(procedure.deadline))
        attempt = time.monotonic()
        try:
            connection.connect(address)
        except ConnectionRefusedError:
            refuses = f"{where} refuses connections" if step == "proxy" else f"nothing is listening at {where}"
            failure = procedure.fail(step, f"{refuses} (connection refused)", started)
        except TimeoutError:
            failure = procedure.no_time(step, where, started)
        except OSError as exc:
            failure = procedure.fail(step, f"cannot connect to {where}: {_kernel_words(exc)}", started)
        else:
            result["tcp_ms"] = _elapsed_ms(attempt)
            result["address"] = address[0]
            procedure.record(step, "ok", f"connected to {where} at {address[0]}", attempt)
            return connection
        connection.close()
    if failure is None:  # the bound ran out before the first attempt
        failure = procedure.no_time(step, f"a connection to {where}", started)
    raise failure


def _proxy_headers(proxy: SplitResult) -> dict[str, str]:
    if proxy.username is None:
        return {}
    import base64

    pair = f"{proxy.username}:{proxy.password or ''}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def _proxy_name(proxy: SplitResult) -> str:
    return f"the proxy at {proxy.hostname}:{proxy.port or (443 if proxy.scheme == 'https' else 80)}"


def _open_tunnel(procedure: _Procedure, connection: socket.socket, proxy: SplitResult, host: str, port: int) -> None:
    connection.settimeout(remaining(procedure.deadline))
    headers = "".join(f"{name}: {value}\r\n" for name, value in _proxy_headers(proxy).items())
    started = time.monotonic()
    try:
        connection.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}\r\n".encode())
        answer = _read_head(connection)
    except TimeoutError:
        raise procedure.no_time("proxy", f"{_proxy_name(proxy)} (a tunnel to {host})", started) from None
    except OSError as exc:
        raise procedure.fail("proxy", f"{_proxy_name(proxy)} dropped the connection: {_kernel_words(exc)}") from None
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    status = status_line.split(" ", 2)
    if len(status) >= 2 and status[1] == "407":
        raise procedure.fail("proxy", _credentials_refused(proxy), started)
    if len(status) < 2 or status[1] != "200":
        raise procedure.fail(
            "proxy", f"{_proxy_name(proxy)} refused a tunnel to {host}: {status_line or 'no answer'}", started
        )
    procedure.steps["proxy"]["detail"] = f"{procedure.steps['proxy']['detail']}; it opened a tunnel to {host}"


def _credentials_refused(proxy: SplitResult) -> str:
    if proxy.username is None:
        return f"{_proxy_name(proxy)} asks for a user name and password, and none is set (HTTP 407)"
    return f"{_proxy_name(proxy)} did not accept the user name and password (HTTP 407)"


def _read_head(connection: socket.socket) -> bytes:
    answer = b""
    while b"\r\n\r\n" not in answer and len(answer) < 16384:
        chunk = connection.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer


def _tls(procedure: _Procedure, connection: socket.socket, host: str, ca_bundle: str | None) -> socket.socket:
    import ssl

    started = time.monotonic()
    try:
        context = ssl.create_default_context(cafile=ca_bundle or None)
        connection.settimeout(remaining(procedure.deadline))
        secured = context.wrap_socket(connection, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        raise procedure.fail(
            "tls", f"the certificate of {host} is not trusted here ({exc.verify_message})", started
        ) from None
    except ssl.SSLError as exc:
        raise procedure.fail("tls", f"the secure connection to {host} failed ({exc.reason or exc})", started) from None
    except TimeoutError:
        raise procedure.no_time("tls", f"the secure connection to {host}", started) from None
    except OSError as exc:
        raise procedure.fail("tls", f"the secure connection to {host} failed: {_kernel_words(exc)}", started) from None
    procedure.result["tls_ms"] = _elapsed_ms(started)
    procedure.record("tls", "ok", f"{host} showed a certificate trusted here ({secured.version()})", started)
    return secured


def _http_round_trip(
    procedure: _Procedure,
    connection: socket.socket,
    parts: SplitResult,
    host: str,
    port: int,
    proxy: SplitResult | None,
) -> None:
    # One GET and its head, written out like the CONNECT above: the check needs only the status
    # and the Date header, and http.client would add 15 ms of imports to every capture.
    result = procedure.result
    path = parts.path.rstrip("/") + "/healthz"
    host_header = f"[{host}]" if ":" in host else host
    if port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host_header += f":{port}"
    headers = {"Host": host_header, "User-Agent": f"ShowDesk/{__version__} sysinfo", "Connection": "close"}
    if proxy is not None and parts.scheme.lower() == "http":
        # A plain-HTTP proxy takes the absolute address in the request line.
        path = f"http://{parts.netloc.rpartition('@')[2]}{path}"
        headers.update(_proxy_headers(proxy))
    if any(ord(c) < 33 or ord(c) > 126 for c in path):
        raise procedure.fail("http", "the backend address has characters a request line cannot hold")
    request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    connection.settimeout(remaining(procedure.deadline))
    started = time.monotonic()
    try:
        connection.sendall((request + "\r\n").encode("ascii"))
        answer = _read_head(connection)
    except TimeoutError:
        raise procedure.no_time("http", f"an HTTP answer from {host}", started) from None
    except OSError as exc:
        raise procedure.fail("http", f"{host} did not answer over HTTP ({describe_error(exc)})", started) from None
    received_at = _now()
    result["http_ms"] = _elapsed_ms(started)
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    status_line, *header_lines = head.split("\r\n")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
        shown = status_line[:80] or "nothing"
        raise procedure.fail("http", f"{host} did not answer over HTTP (it sent {shown!r})", started)
    status = int(code)
    if status == 407 and proxy is not None:
        raise procedure.fail("proxy", _credentials_refused(proxy), started)
    result["http_status"] = status
    result["reachable"] = True
    _read_date(result, header_lines, received_at)
    answered = f"HTTP {status} {reason}".strip()
    procedure.record("http", "ok", f"{host} answered {answered}", started)
    if status >= 500:
        result["reason"] = f"the backend answered {answered}"


def _now() -> float:
    """The local clock (a seam: tests may give the capture process a clock of its own)."""
    return time.time()


_MONTHS: Final = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _read_date(result: dict[str, object], header_lines: list[str], received_at: float) -> None:
    """The server's ``Date`` and how far this machine's clock is from it (positive: ahead)."""
    for line in header_lines:
        name, _, value = line.partition(":")
        if name.strip().lower() != "date":
            continue
        server_time = _http_date(value.strip())
        if server_time is None:
            return
        import datetime as dt

        result["server_date"] = dt.datetime.fromtimestamp(server_time, dt.UTC).isoformat(timespec="seconds")
        # The header counts whole seconds: the server's clock was somewhere in the second after it.
        result["clock_offset_seconds"] = round(received_at - (server_time + 0.5), 1)
        return


def _http_date(text: str) -> float | None:
    """Seconds since the epoch of an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), None if not one."""
    import calendar

    try:
        _, day, month, year, clock, zone = text.split()
        hour, minute, second = (int(part) for part in clock.split(":"))
        if zone.upper() != "GMT":
            return None
        return float(calendar.timegm((int(year), _MONTHS.index(month.lower()) + 1, int(day), hour, minute, second)))
    except ValueError:
        return None
