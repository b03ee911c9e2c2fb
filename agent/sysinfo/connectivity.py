"""The connection check: how the backend looks from this machine (DNS, TCP, TLS, HTTP), or where it fails.

Written on plain sockets because every `showdesk capture` runs it: http.client and
urllib.request would add about 35 ms of imports to each capture. ssl, base64 and
urllib.request load only when a check needs them (https, proxy credentials, a proxy's bypass list).
"""

from __future__ import annotations

import socket
import time
from functools import partial
from typing import Any, Final
from urllib.parse import SplitResult, urlsplit

from agent import __version__
from agent.scrub import scrub_url
from agent.sysinfo.bounded import call_before, describe_error, remaining
from agent.sysinfo.network import system_proxies

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "smtp": 25, "smtps": 465, "submission": 587}


class _CheckFailedError(Exception):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(reason)
        self.step = step
        self.reason = reason


def check_connectivity(
    url: str | None, deadline: float, ca_bundle: str | None = None, proxy: str | None = None
) -> dict[str, object]:
    """How the backend looks from here: DNS, TCP, TLS and HTTP timings, or the step that failed.

    For http(s) the request goes to ``{url}/healthz`` through ``proxy`` when given (the
    backend's own ``proxy`` setting, as its connector uses it), else through the proxy the
    system would use; any HTTP answer proves the backend reachable. Other schemes are checked
    up to TCP.
    """
    if not url:
        return {"checked": False, "reason": "no backend address is configured"}
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    shown_url = scrub_url(url)
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return {"checked": False, "url": shown_url, "reason": "the backend address has an invalid port"}
    if not parts.hostname or port is None:
        return {"checked": False, "url": shown_url, "reason": f"{scheme or 'this kind of'} backend is not checked"}
    host = parts.hostname
    result: dict[str, object] = {
        "checked": True,
        "url": shown_url,
        "reachable": False,
        "failed_step": None,
        "reason": None,
        "via_proxy": None,
        "address": None,
        "dns_ms": None,
        "tcp_ms": None,
        "tls_ms": None,
        "http_ms": None,
        "http_status": None,
    }
    via = None
    if scheme in ("http", "https"):
        # A configured proxy wins over the system's and its bypass list, as in the connectors.
        via = _proxy_url(proxy) if proxy else _proxy_for(parts)
    if via is not None:
        result["via_proxy"] = scrub_url(via.geturl())
        if via.scheme not in ("http", "https") or not via.hostname:
            return {**result, "checked": False, "reason": "the connection goes through a proxy this check cannot use"}
    try:
        _probe(result, parts, host, port, via, deadline, ca_bundle)
    except _CheckFailedError as failure:
        result["failed_step"] = failure.step
        result["reason"] = failure.reason
    return result


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


def _probe(
    result: dict[str, object],
    parts: SplitResult,
    host: str,
    port: int,
    proxy: SplitResult | None,
    deadline: float,
    ca_bundle: str | None,
) -> None:
    connect_host = proxy.hostname if proxy and proxy.hostname else host
    connect_port = (proxy.port or (443 if proxy.scheme == "https" else 80)) if proxy else port
    where = f"{'the proxy ' if proxy else ''}{connect_host} port {connect_port}"

    started = time.monotonic()
    try:
        infos = call_before(
            deadline, partial(socket.getaddrinfo, _name_to_look_up(connect_host), connect_port, type=socket.SOCK_STREAM)
        )
    except TimeoutError:
        raise _CheckFailedError("dns", f"looking up {connect_host} got no answer in time") from None
    except OSError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise _CheckFailedError("dns", f"the name {connect_host} could not be resolved ({reason})") from None
    result["dns_ms"] = _elapsed_ms(started)

    connection = _connect(infos, where, deadline, result)
    try:
        if proxy is not None and parts.scheme.lower() == "https":
            _open_tunnel(connection, proxy, host, port, deadline)
        if parts.scheme.lower() == "https":
            connection = _tls(connection, host, deadline, ca_bundle, result)
        if parts.scheme.lower() in ("http", "https"):
            _http_round_trip(connection, parts, host, port, proxy, deadline, result)
        else:
            result["reachable"] = True
    finally:
        connection.close()


def _name_to_look_up(host: str) -> str | bytes:
    """``host`` as getaddrinfo should get it: an ASCII name (or an address) as bytes.

    Given text, getaddrinfo encodes it with the IDNA codec, whose import (with stringprep and
    unicodedata) costs every `showdesk capture` a few milliseconds; an ASCII name is its own
    IDNA form. A name with other letters still goes as text, for the codec to encode.
    """
    return host.encode("ascii") if host.isascii() else host


def _connect(infos: list[Any], where: str, deadline: float, result: dict[str, object]) -> socket.socket:
    failure = _CheckFailedError("tcp", f"no address to connect to for {where}")
    for family, kind, proto, _, address in infos:
        if time.monotonic() >= deadline:
            break
        connection = socket.socket(family, kind, proto)
        connection.settimeout(remaining(deadline))
        started = time.monotonic()
        try:
            connection.connect(address)
        except ConnectionRefusedError:
            failure = _CheckFailedError("tcp", f"nothing is listening at {where} (connection refused)")
        except TimeoutError:
            failure = _CheckFailedError("tcp", f"{where} did not answer in time")
        except OSError as exc:
            failure = _CheckFailedError("tcp", f"cannot connect to {where}: {exc.strerror or exc}")
        else:
            result["tcp_ms"] = _elapsed_ms(started)
            result["address"] = address[0]
            return connection
        connection.close()
    raise failure


def _proxy_headers(proxy: SplitResult) -> dict[str, str]:
    if proxy.username is None:
        return {}
    import base64

    pair = f"{proxy.username}:{proxy.password or ''}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def _open_tunnel(connection: socket.socket, proxy: SplitResult, host: str, port: int, deadline: float) -> None:
    connection.settimeout(remaining(deadline))
    headers = "".join(f"{name}: {value}\r\n" for name, value in _proxy_headers(proxy).items())
    try:
        connection.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{headers}\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer and len(answer) < 8192:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    except TimeoutError:
        raise _CheckFailedError("proxy", f"the proxy did not open a tunnel to {host} in time") from None
    except OSError as exc:
        raise _CheckFailedError("proxy", f"the proxy connection failed: {exc.strerror or exc}") from None
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    status = status_line.split(" ", 2)
    if len(status) < 2 or status[1] != "200":
        raise _CheckFailedError("proxy", f"the proxy refused a tunnel to {host}: {status_line or 'no answer'}")


def _tls(
    connection: socket.socket, host: str, deadline: float, ca_bundle: str | None, result: dict[str, object]
) -> socket.socket:
    import ssl

    started = time.monotonic()
    try:
        context = ssl.create_default_context(cafile=ca_bundle or None)
        connection.settimeout(remaining(deadline))
        secured = context.wrap_socket(connection, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        raise _CheckFailedError(
            "tls", f"the certificate of {host} is not trusted here ({exc.verify_message})"
        ) from None
    except ssl.SSLError as exc:
        raise _CheckFailedError("tls", f"the secure connection to {host} failed ({exc.reason or exc})") from None
    except TimeoutError:
        raise _CheckFailedError("tls", f"the secure connection to {host} was not set up in time") from None
    except OSError as exc:
        raise _CheckFailedError("tls", f"the secure connection to {host} failed: {exc.strerror or exc}") from None
    result["tls_ms"] = _elapsed_ms(started)
    return secured


def _http_round_trip(
    connection: socket.socket,
    parts: SplitResult,
    host: str,
    port: int,
    proxy: SplitResult | None,
    deadline: float,
    result: dict[str, object],
) -> None:
    # One GET and its status line, written out like the CONNECT above: the check needs nothing
    # else of the answer, and http.client would add 15 ms of imports to every capture.
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
        raise _CheckFailedError("http", "the backend address has characters a request line cannot hold")
    request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    connection.settimeout(remaining(deadline))
    started = time.monotonic()
    try:
        connection.sendall((request + "\r\n").encode("ascii"))
        answer = b""
        while b"\r\n" not in answer and len(answer) < 8192:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
    except TimeoutError:
        raise _CheckFailedError("http", f"{host} accepted the connection but sent no HTTP answer in time") from None
    except OSError as exc:
        raise _CheckFailedError("http", f"{host} did not answer over HTTP ({describe_error(exc)})") from None
    result["http_ms"] = _elapsed_ms(started)
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
        shown = status_line[:80] or "nothing"
        raise _CheckFailedError("http", f"{host} did not answer over HTTP (it sent {shown!r})")
    status = int(code)
    result["http_status"] = status
    result["reachable"] = True
    if status >= 500:
        result["reason"] = f"the backend answered HTTP {status} {reason}".strip()
