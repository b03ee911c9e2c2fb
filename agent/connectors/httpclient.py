"""HTTP plumbing shared by the connectors to outside ticket systems (Request Tracker, Zammad, GLPI).

Same rules as the built-in connector: one ``requests.Session`` per connector, explicit
(connect, read) timeouts on every call, TLS verification always on, a configured CA bundle
passed as ``verify=`` on each request so ``REQUESTS_CA_BUNDLE`` cannot replace it, a
configured proxy in ``Session.proxies`` for http and https (without one, the environment's or
the system's, as requests does by default), no redirects (a redirected POST loses its body; a
moved server is a configuration fix). Every failure becomes the ``ConnectorError`` subclass the
outbox's retry rules expect.

The network in between is told apart from the backend: a redirect to another host (a captive
portal's sign-in page), a web page where the API's JSON was expected, 511, a proxy's own answer
(407, or a 502/503/504 a proxy marks as its own) raise ``NetworkConditionError``: the backend
never saw the report, so the outbox keeps it pending and never holds it for that. The session
never follows a redirect to another origin, whoever asks it to, so no token (an Authorization
header or a system's own, such as GLPI's Session-Token) ever reaches another host. A TLS failure
raises ``TlsError`` whose reason says in plain words what is wrong with the certificate
(``agent.connectors.tls_facts``).

Calls to the backend's own origin without a proxy go out on one kept-alive connection
(``agent.connectors.transport``): requests' session costs about 0.5 ms of Python per call, more
than a near ticket system takes to answer. What the backend receives and every rule above stay the
same; the session still sends everything else (streamed answers, proxies, other origins). A JSON
call (``json``) takes a successful answer's value without a ``requests.Response`` made for it; any
other answer is checked as every call's is.

``network_clear`` is the cheap look a connector offers the outbox while a report waits for the
network: one GET of the base URL on a session of its own (no token, no cookie, no ~/.netrc
credentials, no redirect followed), a short timeout and a small read, asking only whether the
network in between still answers in the backend's place.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, overload
from urllib.parse import urljoin, urlsplit

import requests

import agent
from agent.config import ConfigError
from agent.connectors.base import (
    MAX_REASON_CHARS,
    Connector,
    ConnectorError,
    PermanentError,
    ProgressCallback,
    TransientError,
    error_for_status,
    parse_retry_after,
)
from agent.connectors.common import (
    PROXY_ERROR,
    PROXY_SIGN_IN,
    SIGN_IN_FIRST,
    NetworkCondition,
    NetworkConditionError,
    TlsError,
)
from agent.connectors.tls_facts import describe_failure
from agent.connectors.transport import KeptConnection, body_fits, origin, resolve_route

CHUNK_BYTES: Final = 64 * 1024
MAX_JSON_ANSWER_BYTES: Final = 64 * 1024 * 1024  # an attachment answered as base64 JSON can be large
# The network probe: its connect and read timeout (each at most), and how much of the answer it reads
# (enough for a proxy's page title; a sign-in page can be large and is of no interest).
PROBE_TIMEOUT_SECONDS: Final = 5.0
PROBE_READ_BYTES: Final = 8 * 1024

_HTML_TITLE: Final = re.compile(r"<title>([^<]{1,200})</title>", re.IGNORECASE)

Classifier = Callable[[requests.Response, str], ConnectorError | None]

# Headers only proxies set on their own error pages (Proxy-Status is RFC 9209's), and Server words they use.
_PROXY_HEADERS: Final = ("X-Squid-Error", "Proxy-Agent", "Proxy-Status", "X-Proxy-Error")
_PROXY_SERVERS: Final = ("squid", "proxy", "zscaler", "bluecoat", "fortigate", "web gateway")
_PROXY_ERROR_STATUSES: Final = frozenset({502, 503, 504})
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_DIRECT_ARGUMENTS: Final = frozenset({"params", "json", "data"})


def user_agent(kind: str) -> str:
    return f"ShowDesk/{agent.__version__} (+{kind})"


@dataclass(frozen=True)
class Part:
    """One part of a multipart/form-data body; a part without ``filename`` is a plain form field."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None


class MultipartForm:
    """A ``multipart/form-data`` body of known length, read in chunks, reporting progress as it goes.

    requests sends it as a stream with a Content-Length (``__iter__`` + ``__len__``); one object
    serves one attempt (it is not rewound).
    """

    def __init__(self, parts: Sequence[Part], progress: ProgressCallback | None = None) -> None:
        self.boundary = f"showdesk-{secrets.token_hex(16)}"
        segments: list[memoryview] = []
        for part in parts:
            disposition = f'form-data; name="{_quote_param(part.name)}"'
            if part.filename is not None:
                disposition += f'; filename="{_quote_param(part.filename)}"'
            header = f"--{self.boundary}\r\nContent-Disposition: {disposition}\r\n"
            if part.content_type:
                header += f"Content-Type: {part.content_type}\r\n"
            segments += [memoryview(f"{header}\r\n".encode()), memoryview(part.data), memoryview(b"\r\n")]
        segments.append(memoryview(f"--{self.boundary}--\r\n".encode()))
        self._segments = segments
        self._length = sum(len(s) for s in segments)
        self._index = 0
        self._offset = 0
        self._sent = 0
        self._progress = progress

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK_BYTES):
            yield chunk

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self._length
        pieces: list[bytes] = []
        wanted = size
        while wanted > 0 and self._index < len(self._segments):
            segment = self._segments[self._index]
            piece = segment[self._offset : self._offset + wanted]
            pieces.append(piece.tobytes())
            wanted -= len(piece)
            self._offset += len(piece)
            if self._offset >= len(segment):
                self._index += 1
                self._offset = 0
        chunk = b"".join(pieces)
        if chunk:
            self._sent += len(chunk)
            if self._progress is not None:
                self._progress(self._sent, self._length)
        return chunk


def _quote_param(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "").replace("\n", "")


def same_origin(url: str, other: str) -> bool:
    """Whether two URLs reach the same scheme, host and port (where a token may go)."""
    a, b = urlsplit(url), urlsplit(other)
    return (a.scheme, (a.hostname or "").lower(), _port(a.scheme, a.port)) == (
        b.scheme,
        (b.hostname or "").lower(),
        _port(b.scheme, b.port),
    )


def leaves_the_backend(url: str, target: str) -> bool:
    """Whether a redirect from ``url`` to ``target`` goes to another host (a sign-in page, not a move).

    The same host on the same port, or its https:// on the default ports, is the backend telling its
    own address (a configuration fix); anything else is another party answering in its place.
    """
    a, b = urlsplit(url), urlsplit(urljoin(url, target))
    if (a.hostname or "").lower() != (b.hostname or "").lower():
        return True
    if _port(a.scheme, a.port) == _port(b.scheme, b.port):
        return False
    return not (a.scheme == "http" and b.scheme == "https" and a.port in (None, 80) and b.port in (None, 443))


def _port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else _DEFAULT_PORTS.get(scheme)


class GuardedSession(requests.Session):
    """A session that follows no redirect to another origin, even when a caller allows redirects.

    requests drops the Authorization header when a redirect changes host, but not the headers
    some systems use for their tokens; not following at all keeps every one of them home.
    """

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is None or same_origin(resp.url, urljoin(resp.url, target)):
            return target
        return None


def network_condition(response: requests.Response, system: str) -> NetworkConditionError | None:
    """A non-2xx answer that came from the network in between rather than from ``system``, or None."""
    status = response.status_code
    headers = response.headers
    if 300 <= status <= 399 and headers.get("Location"):
        asked = response.request.url if response.request is not None and response.request.url else response.url
        target = urljoin(asked, headers["Location"])
        if leaves_the_backend(asked, target):
            where = urlsplit(target)
            return NetworkConditionError(
                SIGN_IN_FIRST,
                system=system,
                condition=NetworkCondition.CAPTIVE_PORTAL,
                detail=f"asked {system}, the network redirected ({status}) to {where.scheme}://{where.netloc}",
                status=status,
            )
    if status == 511:
        return NetworkConditionError(
            SIGN_IN_FIRST,
            system=system,
            condition=NetworkCondition.CAPTIVE_PORTAL,
            detail=f"the network answered 511 (network authentication required) for {system}",
            status=status,
        )
    if status == 407:
        return NetworkConditionError(
            PROXY_SIGN_IN,
            system=system,
            condition=NetworkCondition.PROXY_SIGN_IN,
            detail=f"a proxy answered 407 (proxy authentication required) for {system}",
            status=status,
        )
    if status in _PROXY_ERROR_STATUSES and _from_a_proxy(response):
        title = _page_title(response)
        return NetworkConditionError(
            PROXY_ERROR,
            system=system,
            condition=NetworkCondition.PROXY_ERROR,
            detail=f"a proxy answered {status} for {system}" + (f": {title}" if title else ""),
            status=status,
            retry_after=parse_retry_after(headers.get("Retry-After")) if status == 503 else None,
        )
    return None


def _from_a_proxy(response: requests.Response) -> bool:
    headers = response.headers
    if any(name in headers for name in _PROXY_HEADERS):
        return True
    server = headers.get("Server", "").lower()
    if any(word in server for word in _PROXY_SERVERS):
        return True
    # A Via header alone is any proxy on the way, the backend's own included: only with a page
    # that is not the API's JSON is the answer the proxy's.
    if "Via" in headers and "json" not in headers.get("Content-Type", "").lower():
        return True
    return "proxy" in _page_title(response).lower()


def _page_title(response: requests.Response) -> str:
    try:
        match = _HTML_TITLE.search(response.text[:4000])
    except requests.exceptions.RequestException:
        return ""
    return " ".join(match.group(1).split())[:120] if match else ""


def _looks_like_a_web_page(response: requests.Response, content: bytes) -> bool:
    if "text/html" in response.headers.get("Content-Type", "").lower():
        return True
    start = content.lstrip()[:15].lower()
    return start.startswith((b"<!doctype html", b"<html"))


class _NoCredentials(requests.auth.AuthBase):
    """Leaves a request as it is. Given as ``auth``, it also keeps requests from adding ~/.netrc credentials."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class HttpClient:
    """Calls to one outside system's HTTP API; non-2xx answers and network failures raise ``ConnectorError``s."""

    def __init__(
        self,
        base_url: str,
        *,
        system: str,
        kind: str,
        ca_bundle: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        classify: Classifier | None = None,
        proxy: str | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"backend url {base_url!r} must be an http:// or https:// address")
        if ca_bundle is not None and not Path(ca_bundle).expanduser().exists():
            raise ConfigError(f"ca_bundle {ca_bundle!r} does not exist")
        self.base_url = base_url.rstrip("/")
        self.system = system
        self._timeout = (connect_timeout, read_timeout)
        self._verify: bool | str = str(Path(ca_bundle).expanduser()) if ca_bundle else True
        self._classify = classify
        self.session: requests.Session = GuardedSession()
        self.session.verify = self._verify
        self.session.headers["User-Agent"] = user_agent(kind)
        self.session.headers["Accept"] = "application/json"
        if proxy:
            self.session.proxies = {"http": proxy, "https": proxy}
        self._kind = kind
        self._probe_session: requests.Session | None = None
        self._origin = origin(self.base_url)
        # The direct route to the backend (agent.connectors.transport), read from the session's settings
        # and the environment once; read again if the session's proxies or trust_env change.
        self._route_key: tuple[object, ...] | None = None
        self._route_lock = threading.Lock()
        self._kept: KeptConnection | None = None

    def close(self) -> None:
        self.session.close()
        if self._kept is not None:
            self._kept.close()
        if self._probe_session is not None:
            self._probe_session.close()

    def network_clear(self, path: str = "", *, web_page_means_portal: bool = False) -> bool:
        """Whether a GET of the base URL (or ``path``) comes back from something other than the network in between.

        False while a captive portal, 511 or a proxy answers in the backend's place
        (``network_condition``), or when nothing answers at all (refused, timed out, TLS
        failed); True otherwise, whatever the backend itself says (a 404 or a 401 is the
        backend). ``web_page_means_portal``: the URL is an API that never answers a GET with a
        web page, so a 2xx web page there is a sign-in page too. Bounded: ``PROBE_TIMEOUT_SECONDS``
        to connect and to read, ``PROBE_READ_BYTES`` read. No credential goes with it: the session
        is its own, without the connector's cookies, and the probe names no token.
        """
        url = self.url(path) if path else self.base_url
        connect = min(self._timeout[0], PROBE_TIMEOUT_SECONDS)
        try:
            response = self._probe().get(
                url,
                timeout=(connect, PROBE_TIMEOUT_SECONDS),
                verify=self._verify,
                allow_redirects=False,
                stream=True,
                auth=_NoCredentials(),
            )
        except requests.exceptions.RequestException:
            return False  # a TLS failure, a refusal or a timeout: nothing gets through yet
        try:
            content = b""
            for chunk in response.iter_content(PROBE_READ_BYTES):
                content += chunk
                if len(content) >= PROBE_READ_BYTES:
                    break
            # What was read is all there is to read: the page's title comes from it, not from the socket.
            response._content = content[:PROBE_READ_BYTES]
        except requests.exceptions.RequestException:
            return False
        finally:
            response.close()
        if not 200 <= response.status_code <= 299:
            return network_condition(response, self.system) is None
        return not (web_page_means_portal and _looks_like_a_web_page(response, response.content))

    def _probe(self) -> requests.Session:
        """The probe's own session: the same proxies and trust, none of the connector's cookies or headers."""
        if self._probe_session is None:
            session = GuardedSession()
            session.verify = self._verify
            session.proxies = dict(self.session.proxies)
            session.headers["User-Agent"] = user_agent(self._kind)
            session.headers["Accept"] = "application/json"
            self._probe_session = session
        return self._probe_session

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float | None = None,
        classify: Classifier | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One call; ``timeout`` replaces the read timeout (a long poll), ``classify`` the client's own."""
        response = self._send(method, self.url(path), headers, stream, timeout, kwargs, None)
        return self._checked(response, classify)

    def json(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        timeout: float | None = None,
        classify: Classifier | None = None,
        **kwargs: Any,
    ) -> Any:
        """``request``'s answer decoded as JSON (``decode_json``); a successful one without building a response."""
        answer = self._send(method, self.url(path), headers, stream, timeout, kwargs, _json_value)
        if isinstance(answer, tuple):
            return answer[0]
        return decode_json(self._checked(answer, classify), self.system)

    @overload
    def _send(self, method: str, url: str, headers: Mapping[str, str] | None, stream: bool, timeout: float | None,
              kwargs: Mapping[str, Any], decode: None) -> requests.Response: ...

    @overload
    def _send(self, method: str, url: str, headers: Mapping[str, str] | None, stream: bool, timeout: float | None,
              kwargs: Mapping[str, Any], decode: Callable[[bytes], tuple[Any] | None]
              ) -> tuple[Any] | requests.Response: ...

    def _send(self, method: str, url: str, headers: Mapping[str, str] | None, stream: bool, timeout: float | None,
              kwargs: Mapping[str, Any], decode: Callable[[bytes], tuple[Any] | None] | None
              ) -> tuple[Any] | requests.Response:
        """The call sent, requests' failures raised as ``ConnectorError``s; the answer not yet looked at.

        ``decode``: what the caller wants of a successful answer read through the kept connection
        (``KeptConnection.send_for_value``); the session's answers are always the response.
        """
        timeouts = (self._timeout[0], timeout) if timeout is not None else self._timeout
        try:
            kept = self._direct(url, stream, kwargs)
            # One call at a time on the kept connection; a call made meanwhile from another thread goes
            # through the session's pool, which opens a connection of its own, as before.
            if kept is not None and kept.lock.acquire(blocking=False):
                try:
                    if decode is None:
                        return kept.send(self.session, method, url, headers=dict(headers or {}),
                                         params=kwargs.get("params"), json_body=kwargs.get("json"),
                                         data=kwargs.get("data"), timeout=timeouts)
                    return kept.send_for_value(self.session, method, url, headers=dict(headers or {}),
                                               decode=decode, params=kwargs.get("params"),
                                               json_body=kwargs.get("json"), data=kwargs.get("data"),
                                               timeout=timeouts)
                finally:
                    kept.lock.release()
            return self.session.request(
                method,
                url,
                headers=dict(headers or {}),
                timeout=timeouts,
                verify=self._verify,
                allow_redirects=False,
                stream=stream,
                **kwargs,
            )
        except requests.exceptions.SSLError as exc:
            failure = describe_failure(
                exc,
                url,
                system=self.system,
                ca_bundle=self._verify if isinstance(self._verify, str) else None,
                proxy=self._proxy_for(url),
                timeout=self._timeout[0],
            )
            raise TlsError(failure) from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise TransientError(f"cannot reach {self.system}: {short_error(exc)}", system=self.system) from exc
        except requests.exceptions.RequestException as exc:
            raise TransientError(f"request to {self.system} failed: {short_error(exc)}", system=self.system) from exc

    def _checked(self, response: requests.Response, classify: Classifier | None) -> requests.Response:
        """The response of a 2xx answer; any other raised as the ``ConnectorError`` it means (and closed)."""
        if not 200 <= response.status_code <= 299:
            try:
                # The network's answer first: a connector's own rules are about its backend's answers.
                condition = network_condition(response, self.system)
                if condition is not None:
                    raise condition
                reason = response_reason(response)
                classifier = classify or self._classify
                error = classifier(response, reason) if classifier is not None else None
                raise error or error_for_status(
                    response.status_code,
                    system=self.system,
                    reason=reason,
                    retry_after=parse_retry_after(response.headers.get("Retry-After")),
                )
            finally:
                response.close()
        return response

    def _direct(self, url: str, stream: bool, kwargs: Mapping[str, Any]) -> KeptConnection | None:
        """The kept connection for a call it sends as the session would, or None (the session sends it).

        Streamed answers, other origins, proxies and arguments other than params/json/data stay with
        requests (agent.connectors.transport says why and what the direct route keeps the same).
        """
        params = kwargs.get("params")
        # A dict first: the Mapping check goes through the ABC machinery.
        if stream or not kwargs.keys() <= _DIRECT_ARGUMENTS or not body_fits(kwargs.get("data")) \
                or not (params is None or isinstance(params, dict | list | tuple | Mapping)):
            return None
        if url.startswith(("http://", "https://")) and not url.startswith(self.base_url + "/") \
                and origin(url) != self._origin:
            return None
        session = self.session
        if "request" in vars(session):
            return None  # a caller wraps the session's request (to watch or change every call): each goes to it
        key = (session.trust_env, tuple(sorted(session.proxies.items())), session.auth is None,
               session.cert is None, not session.params)
        if key != self._route_key:
            with self._route_lock:
                if key != self._route_key:
                    # The one replaced closes its socket once no call holds it (it is collected).
                    route = resolve_route(session, self.base_url, self._verify)
                    self._kept = KeptConnection(route) if route is not None else None
                    self._route_key = key
        return self._kept

    def _proxy_for(self, url: str) -> str | None:
        """The proxy requests used for ``url``: the configured one, else the environment's (NO_PROXY heeded)."""
        proxies = dict(self.session.proxies)
        if self.session.trust_env:
            settings = self.session.merge_environment_settings(url, {}, None, None, None)
            proxies = {**settings.get("proxies", {}), **proxies}
        return requests.utils.select_proxy(url, proxies)


def decode_json(response: requests.Response, system: str) -> Any:
    """The JSON of a successful answer; an empty body is None."""
    try:
        content = response.content
    except requests.exceptions.RequestException as exc:
        raise TransientError(f"the answer from {system} broke off: {short_error(exc)}", system=system) from exc
    if len(content) > MAX_JSON_ANSWER_BYTES:
        raise PermanentError(f"{system} sent an answer larger than expected", system=system)
    if not content.strip():
        return None
    try:
        return json.loads(content)
    except ValueError as exc:
        if _looks_like_a_web_page(response, content):
            # The API speaks JSON only: a web page in its place is a sign-in page the network put there.
            title = _page_title(response)
            raise NetworkConditionError(
                SIGN_IN_FIRST,
                system=system,
                condition=NetworkCondition.CAPTIVE_PORTAL,
                detail=f"asked {system}, the network answered with a web page"
                + (f" titled {title!r}" if title else "")
                + f" ({response.status_code}) instead of the API",
                status=None,
            ) from None
        raise TransientError(f"{system} sent an answer that is not JSON: {exc}", system=system) from exc


def _json_value(content: bytes) -> tuple[Any] | None:
    """``decode_json``'s value of a successful answer's body, as a 1-tuple; None where it looks at the answer.

    That is a body over the bound, or one that is not JSON (a sign-in page in the API's place):
    ``decode_json`` tells them apart with the answer's headers.
    """
    if len(content) > MAX_JSON_ANSWER_BYTES:
        return None
    try:
        return (json.loads(content) if content.strip() else None,)
    except ValueError:
        return None


def response_reason(response: requests.Response) -> str:
    """A refusal in the system's own words: ``detail``, ``message``, ``error_human``, GLPI's [code, text]."""
    try:
        text = response.text[:4000]
    except requests.exceptions.RequestException:
        return ""
    try:
        data = json.loads(text)
    except ValueError:
        # A proxy's HTML error page: its title says it ("413 Request Entity Too Large").
        title = _HTML_TITLE.search(text)
        return (title.group(1) if title else text).strip()[:MAX_REASON_CHARS]
    if isinstance(data, dict):
        for key in ("detail", "message", "error_human", "error"):
            if isinstance(data.get(key), str) and data[key]:
                return str(data[key])[:MAX_REASON_CHARS]
        if isinstance(data.get("detail"), list):  # FastAPI's validation errors: [{"loc": [...], "msg": ...}]
            return _validation_errors(data["detail"])[:MAX_REASON_CHARS]
    if isinstance(data, list):
        return " ".join(str(item) for item in data if isinstance(item, str | int))[:MAX_REASON_CHARS]
    return text.strip()[:MAX_REASON_CHARS]


def _validation_errors(items: list[Any]) -> str:
    messages = []
    for item in items[:5]:
        if isinstance(item, dict):
            where = ".".join(str(p) for p in item.get("loc", []) if p != "body")
            messages.append(f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", "")))
    return "; ".join(messages)


def short_error(exc: Exception) -> str:
    # urllib3's messages nest the whole pool description; the innermost reason is what helps.
    text = str(exc)
    for marker in ("Caused by ", "Failed to establish a new connection: "):
        if marker in text:
            text = text.rsplit(marker, 1)[1]
    return text.strip("()'\" ")[:200]


__all__ = [
    "PROBE_READ_BYTES",
    "PROBE_TIMEOUT_SECONDS",
    "PROXY_ERROR",
    "PROXY_SIGN_IN",
    "SIGN_IN_FIRST",
    "GuardedSession",
    "HttpClient",
    "MultipartForm",
    "NetworkCondition",
    "NetworkConditionError",
    "Part",
    "TlsError",
    "decode_json",
    "leaves_the_backend",
    "network_condition",
    "response_reason",
    "same_origin",
    "short_error",
    "user_agent",
]


class BasicAuthorization:
    """HTTP basic credentials as an Authorization value, encoded again only when the user or secret changes.

    A connector reads its secret at every call (a stored one may change between calls); the value it
    makes of it is the same until it does. Only the last pair is kept, by the connector that uses it.
    """

    def __init__(self) -> None:
        self._last: tuple[str, str, str] | None = None

    def value(self, user: str, secret: str) -> str:
        last = self._last
        if last is None or last[0] != user or last[1] != secret:
            encoded = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
            last = self._last = (user, secret, f"Basic {encoded}")
        return last[2]


class HttpConnector(Connector):
    """A connector that speaks to its ticket system through one ``HttpClient``, ``self.http``.

    ``_json`` is a call with the system's credentials (``_headers``, read at each call: a stored
    token may change between calls) under the call's own headers, to ``json_prefix`` + the path.
    """

    http: HttpClient
    json_prefix: str = ""  # the API's root below the base URL, where every path of ``_json`` starts

    def _headers(self) -> dict[str, str]:
        """The credentials each call carries (an Authorization header or the system's own)."""
        raise NotImplementedError

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        return self.http.json(method, f"{self.json_prefix}{path}", headers=headers, **kwargs)

    def close(self) -> None:
        self.http.close()

    def network_clear(self) -> bool | None:
        """A GET of the base URL without credentials (``HttpClient.network_clear``): is a portal still in the way?"""
        return self.http.network_clear()
