"""One kept-alive connection from a connector to its own backend, for the calls no proxy stands in for.

Why: ``requests.Session.request`` costs about 0.5 ms of Python per call before and after the wire
(merging settings, reading the environment's proxies and ~/.netrc, preparing, building the
answer), several times what a ticket system on a near network takes to answer a small call. A
connector makes up to a dozen calls per report, so ``HttpClient`` sends the calls to its backend's
own origin here instead: the environment is read once per client (``resolve_route``), and each
call is one request on urllib3's connection class (the one requests' pools hold, so TLS, its
verification and the socket options are the same) without the pool, retry and session layers.

What a call through requests would do, this does the same way, with requests' own helpers: the
session's headers merged under the call's, header values checked, the body and its
Content-Length/Transfer-Encoding, ~/.netrc credentials where requests would add them (trust_env, no
auth of the session's), the session's cookies sent and the answer's kept, no redirect followed,
failures raised as the same ``requests.exceptions``, the answer a ``requests.Response`` with its
content read. What it does not cover goes through the session as before (``HttpClient`` decides):
a proxy, configured or from the environment; another origin; a streamed answer; an argument other
than ``params``, ``json`` and a ``bytes`` or sized-iterable ``data``.
"""

from __future__ import annotations

import errno
import http.client
import io
import json
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import requests
from requests.auth import _basic_auth_str
from requests.cookies import extract_cookies_to_jar, get_cookie_header
from requests.models import RequestEncodingMixin
from requests.structures import CaseInsensitiveDict
from requests.utils import (
    DEFAULT_CA_BUNDLE_PATH,
    check_header_validity,
    get_encoding_from_headers,
    get_netrc_auth,
    requote_uri,
    select_proxy,
)
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.response import HTTPResponse

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_NO_BODY_METHODS: Final = frozenset({"GET", "HEAD"})
# A streamed body (a multipart form) is read and written in blocks of this size: a quarter of the writes
# urllib3's 16 KiB default makes for a screenshot.
SEND_BLOCK_BYTES: Final = 64 * 1024
# requests' own encoding of ``params`` (lists as repeated keys, None left out), so the query is the same.
_encode_params: Final[Callable[[Any], str | bytes]] = RequestEncodingMixin._encode_params  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Route:
    """How calls to one origin go without a proxy: the trust to verify with and ~/.netrc's credentials."""

    scheme: str
    host: str
    port: int
    verify: bool | str
    netrc_authorization: str | None  # what requests would put in Authorization from ~/.netrc, or None


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def resolve_route(session: requests.Session, url: str, verify: bool | str) -> Route | None:
    """The direct route to ``url``'s origin as ``session`` would take it, or None when a proxy applies.

    Read once per client: the proxies (the session's and, with ``trust_env``, the environment's with
    NO_PROXY heeded), the CA bundle (REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE replace only ``verify=True``,
    as in requests) and ~/.netrc, each through requests' own functions.
    """
    parts = urlsplit(url)
    scheme, host, port = origin(url)
    if scheme not in _DEFAULT_PORTS or not host or port is None or parts.username or parts.password:
        return None  # credentials in the URL are requests' to apply
    if session.auth is not None or session.cert is not None or session.params:
        return None
    settings = session.merge_environment_settings(url, {}, False, verify, None)
    if select_proxy(url, settings.get("proxies") or {}) is not None:
        return None
    netrc = get_netrc_auth(url) if session.trust_env else None
    return Route(
        scheme=scheme,
        host=parts.hostname or host,
        port=port,
        verify=settings.get("verify") or verify,
        netrc_authorization=_basic_auth_str(*netrc) if netrc else None,
    )


def body_fits(data: object) -> bool:
    """Whether ``data`` is a body this module sends as requests would: none, bytes, or a sized iterable."""
    if data is None or isinstance(data, bytes | bytearray):
        return True
    if isinstance(data, str | list | tuple | Mapping):
        return False  # requests encodes these (form fields, text): left to it
    return hasattr(data, "__iter__") and hasattr(data, "__len__") and not hasattr(data, "tell")


class KeptConnection:
    """One connection to a ``Route``'s origin, reused while the server keeps it open.

    One call at a time: a caller holds ``lock`` for the call (``HttpClient`` sends a call that finds it
    taken through the session instead, as a pool would open a second connection).
    """

    def __init__(self, route: Route) -> None:
        self.route = route
        self.lock = threading.Lock()  # held by the one call on the connection; the caller takes it
        # The open connection, in a holder the finalizer shares: a client dropped without close() closes its
        # socket when collected, as urllib3's pools do, instead of leaving it to a ResourceWarning.
        self._open: list[HTTPConnection] = []
        weakref.finalize(self, _close_all, self._open)

    @property
    def _connection(self) -> HTTPConnection | None:
        return self._open[0] if self._open else None

    @_connection.setter
    def _connection(self, connection: HTTPConnection | None) -> None:
        _close_all(self._open)
        if connection is not None:
            self._open.append(connection)

    def close(self) -> None:
        _close_all(self._open)

    def send(
        self,
        session: requests.Session,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str | None],
        params: Any = None,
        json_body: Any = None,
        data: Any = None,
        timeout: tuple[float, float | None],
    ) -> requests.Response:
        """One call, its answer read in full; raises what ``session.request`` would raise."""
        request = self._prepare(session, method, url, headers, params, json_body, data)
        started = time.perf_counter()
        answer = self._exchange(request, timeout)
        content = self._read(answer, request)  # the whole answer, as requests reads one that is not streamed
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(_joined_headers(answer.msg))
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = _ReadAnswer(answer)
        response.reason = answer.reason
        response.url = request.url or url
        response.request = request
        if "set-cookie" in response.headers or "set-cookie2" in response.headers:  # all that cookielib reads
            extract_cookies_to_jar(response.cookies, request, response.raw)  # type: ignore[no-untyped-call]
            extract_cookies_to_jar(session.cookies, request, response.raw)  # type: ignore[no-untyped-call]
        response.elapsed = timedelta(seconds=time.perf_counter() - started)
        response._content = content
        response._content_consumed = True  # type: ignore[attr-defined]
        return response

    def _prepare(
        self,
        session: requests.Session,
        method: str,
        url: str,
        headers: Mapping[str, str | None],
        params: Any,
        json_body: Any,
        data: Any,
    ) -> requests.PreparedRequest:
        request = requests.PreparedRequest()
        request.method = method.upper()
        encoded = _query(params) if params else ""
        if encoded:
            url += ("&" if "?" in url else "?") + (encoded.decode("ascii") if isinstance(encoded, bytes) else encoded)
        request.url = requote_uri(url)
        # The session's headers under the call's, matched without regard to case (requests' merge_setting).
        merged: dict[str, tuple[str, Any]] = {name.lower(): (name, value) for name, value in session.headers.items()}
        merged.update((name.lower(), (name, value)) for name, value in headers.items())
        prepared: CaseInsensitiveDict[Any] = CaseInsensitiveDict()
        for name, value in merged.values():
            if value is None:
                continue  # requests drops a header set to None
            check_header_validity((name, value))
            prepared[name] = value
        body: Any = data
        if not data and json_body is not None:
            try:
                body = json.dumps(json_body, allow_nan=False).encode("utf-8")
            except ValueError as exc:
                raise requests.exceptions.InvalidJSONError(exc, request=request) from exc
            if "content-type" not in prepared:
                prepared["Content-Type"] = "application/json"
        if body is None:
            if request.method not in _NO_BODY_METHODS:
                prepared["Content-Length"] = "0"
        else:
            length = len(body)
            if length:
                prepared["Content-Length"] = str(length)
            elif isinstance(body, bytes | bytearray):
                if request.method not in _NO_BODY_METHODS:
                    prepared["Content-Length"] = "0"
            else:
                prepared["Transfer-Encoding"] = "chunked"
        if self.route.netrc_authorization is not None:
            prepared["Authorization"] = self.route.netrc_authorization  # as requests' HTTPBasicAuth would
        request.headers = prepared
        request.body = body
        if len(session.cookies):
            cookie = get_cookie_header(session.cookies, request)  # type: ignore[no-untyped-call]
            if cookie is not None:
                prepared["Cookie"] = cookie
        return request

    def _exchange(self, request: requests.PreparedRequest,
                  timeout: tuple[float, float | None]) -> http.client.HTTPResponse:
        """Send, and read the answer's head; failures raised as requests' adapter raises them.

        urllib3's connection connects (its socket options, TLS and the certificate's checks, as in
        requests' pools); the request and the answer go through ``http.client``'s own methods, which
        urllib3's add a second layer of bookkeeping to (half of a small call's CPU time).
        """
        connect_timeout, read_timeout = timeout
        connection = self._connection
        if connection is not None and not connection.is_connected:
            self.close()  # the server closed it while idle: a new one, as urllib3's pool does
            connection = None
        if connection is None:
            connection = self._connection = self._new_connection(connect_timeout)
        # As urllib3's pool: connecting and sending are bounded by the connect timeout, the answer by the read one.
        connection.timeout = connect_timeout
        try:
            if connection.is_closed:
                connection.connect()
        except (OSError, ssl.CertificateError, ConnectTimeoutError, Urllib3SSLError) as exc:  # NewConnectionError too
            self.close()
            raise _connect_failure(exc, request) from exc
        body = request.body
        try:
            http.client.HTTPConnection.request(
                connection,
                request.method or "GET",
                request.path_url,
                body=bytes(body) if isinstance(body, bytearray) else body,
                headers=request.headers,
                encode_chunked="Transfer-Encoding" in request.headers,
            )
        except BrokenPipeError:
            pass  # the server may have answered already (an early 413): its answer is read below
        except OSError as exc:
            if exc.errno not in (errno.EPROTOTYPE, errno.ECONNRESET):
                self.close()
                raise _aborted(exc, request) from exc
        except http.client.HTTPException as exc:
            self.close()
            raise _aborted(exc, request) from exc
        try:
            if not connection.is_closed:
                connection.timeout = read_timeout
            return http.client.HTTPConnection.getresponse(connection)
        except TimeoutError as exc:
            self.close()
            raise requests.exceptions.ReadTimeout(
                ReadTimeoutError(None, request.url, f"Read timed out. (read timeout={read_timeout})"),  # type: ignore[arg-type]
                request=request,
            ) from exc
        except ssl.SSLError as exc:
            self.close()
            raise requests.exceptions.SSLError(Urllib3SSLError(exc), request=request) from exc
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise _aborted(exc, request) from exc

    def _read(self, answer: http.client.HTTPResponse, request: requests.PreparedRequest) -> bytes:
        """The answer's body, decoded as urllib3 decodes it; failures raised as requests' iter_content raises them."""
        try:
            data = answer.read()
        except TimeoutError as exc:
            self.close()
            raise requests.exceptions.ConnectionError(
                ReadTimeoutError(None, request.url, "Read timed out."), request=request) from exc  # type: ignore[arg-type]
        except ssl.SSLError as exc:
            self.close()
            raise requests.exceptions.SSLError(Urllib3SSLError(exc), request=request) from exc
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise requests.exceptions.ChunkedEncodingError(
                ProtocolError(f"Connection broken: {exc!r}", exc), request=request) from exc
        encoding = (answer.getheader("Content-Encoding") or "").strip().lower()
        if not encoding or encoding == "identity":
            return data
        try:  # gzip, deflate and whatever else urllib3 decodes (brotli, zstd where installed), by urllib3
            decoded = HTTPResponse(body=io.BytesIO(data), headers=dict(_joined_headers(answer.msg)),
                                   status=answer.status, preload_content=True, decode_content=True).data
        except DecodeError as exc:
            raise requests.exceptions.ContentDecodingError(exc, request=request) from exc
        return bytes(decoded)

    def _new_connection(self, connect_timeout: float) -> HTTPConnection:
        route = self.route
        common: dict[str, Any] = {"timeout": connect_timeout, "blocksize": SEND_BLOCK_BYTES}
        if route.scheme == "http":
            return HTTPConnection(route.host, route.port, **common)
        if not route.verify:
            return HTTPSConnection(route.host, route.port, cert_reqs="CERT_NONE", **common)
        # What requests' adapter gives urllib3's pool (cert_verify): a file bundle or a directory of CAs.
        location = route.verify if isinstance(route.verify, str) else DEFAULT_CA_BUNDLE_PATH
        if not location or not Path(location).exists():
            raise OSError(f"Could not find a suitable TLS CA certificate bundle, invalid path: {location}")
        where: dict[str, Any] = {"ca_cert_dir": location} if Path(location).is_dir() else {"ca_certs": location}
        return HTTPSConnection(route.host, route.port, cert_reqs="CERT_REQUIRED", **where, **common)


def _query(params: Any) -> str | bytes:
    """``params`` as requests encodes them (``RequestEncodingMixin._encode_params``), for a mapping or pairs.

    The same steps, without requests' runtime protocol checks (``to_key_val_list``), which cost more than the
    rest of a call's preparation; anything else goes to requests' own.
    """
    if not isinstance(params, Mapping | list | tuple):
        return _encode_params(params)
    pairs: list[tuple[Any, Any]] = []
    for key, values in params.items() if isinstance(params, Mapping) else params:  # requests' to_key_val_list
        for value in [values] if isinstance(values, str | bytes) or not hasattr(values, "__iter__") else values:
            if value is not None:
                pairs.append((key.encode("utf-8") if isinstance(key, str) else key,
                              value.encode("utf-8") if isinstance(value, str) else value))
    return urlencode(pairs, doseq=True)


class _ReadAnswer:
    """``Response.raw`` of an answer read in full: what requests and cookielib look at afterwards."""

    closed = True

    def __init__(self, answer: http.client.HTTPResponse) -> None:
        self._original_response = answer  # cookielib reads the headers through it
        self.status = answer.status
        self.reason = answer.reason

    def read(self, *_args: object, **_kwargs: object) -> bytes:
        return b""

    def stream(self, *_args: object, **_kwargs: object) -> Iterator[bytes]:
        return iter(())

    def close(self) -> None:
        return None

    def release_conn(self) -> None:
        return None


def _joined_headers(message: http.client.HTTPMessage) -> list[tuple[str, str]]:
    """The answer's headers with repeated ones joined by ", ", as urllib3 hands them to requests."""
    joined: dict[str, tuple[str, str]] = {}
    for name, value in message.items():
        key = name.lower()
        joined[key] = (joined[key][0], f"{joined[key][1]}, {value}") if key in joined else (name, value)
    return list(joined.values())


def _close_all(connections: list[HTTPConnection]) -> None:
    while connections:
        connections.pop().close()


def _aborted(exc: BaseException, request: requests.PreparedRequest) -> requests.exceptions.ConnectionError:
    """What requests raises when a call breaks off after connecting (urllib3's "Connection aborted.")."""
    return requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", exc), request=request)


def _connect_failure(exc: BaseException, request: requests.PreparedRequest) -> requests.exceptions.RequestException:
    """The exception requests' adapter raises for a failure to connect (see ``HTTPAdapter.send``)."""
    if isinstance(exc, NewConnectionError):
        return requests.exceptions.ConnectionError(exc, request=request)
    if isinstance(exc, ConnectTimeoutError):
        return requests.exceptions.ConnectTimeout(exc, request=request)
    if isinstance(exc, Urllib3SSLError):
        return requests.exceptions.SSLError(exc, request=request)
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return requests.exceptions.SSLError(Urllib3SSLError(exc), request=request)
    if isinstance(exc, TimeoutError):
        return requests.exceptions.ConnectTimeout(exc, request=request)
    return requests.exceptions.ConnectionError(exc, request=request)


__all__ = ["KeptConnection", "Route", "body_fits", "origin", "resolve_route"]
