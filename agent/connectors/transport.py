"""One kept-alive connection from a connector to its own backend, for the calls no proxy stands in for.

Why: ``requests.Session.request`` costs about 0.5 ms of Python per call before and after the wire
(merging settings, reading the environment's proxies and ~/.netrc, preparing, building the
answer), several times what a ticket system on a near network takes to answer a small call. A
connector makes up to a dozen calls per report, so ``HttpClient`` sends the calls to its backend's
own origin here instead: the environment is read once per client (``resolve_route``), and each
call goes over urllib3's connection class (the one requests' pools hold, so connecting, TLS, its
verification and the socket options are the same) without the pool, retry and session layers.

What a call through requests would do, this does the same way: the session's headers merged under
the call's and checked (requests' own check, once per distinct set of headers), the body and its
Content-Length/Transfer-Encoding, ~/.netrc credentials where requests would add them (trust_env, no
auth of the session's), the session's cookies sent and the answer's kept, no redirect followed,
connecting and sending bounded by the connect timeout and the answer by the read timeout, failures
raised as the same ``requests.exceptions``, the answer a ``requests.Response`` with its content read
(or, for a caller that wants only the value of a successful answer that sets no cookie, that value:
``send_for_value``).
The request goes out as the bytes requests sends (``tests/connectors/test_transport_exchange.py``
compares them whole), written as http.client writes them (the head and a small body in one write);
the answer is read by http.client's HTTPResponse, its head parsed without the e-mail parser where it
is plain. Each step done here instead of by the library is held to the library's own on the same
input (``tests/connectors/test_transport_wire.py``). What it does not cover goes through the session
as before (``HttpClient`` decides): a proxy, configured or from the environment; another origin; a
streamed answer; an argument other than ``params``, ``json`` and a ``bytes`` or sized-iterable ``data``.
"""

from __future__ import annotations

import email.parser
import errno
import http.client
import io
import json
import re
import select
import ssl
import sys
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import quote_plus, urlencode, urlsplit

import requests
from requests.auth import _basic_auth_str
from requests.cookies import RequestsCookieJar, cookiejar_from_dict, extract_cookies_to_jar, get_cookie_header
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
from urllib3.util import SKIP_HEADER
from urllib3.util.request import SKIPPABLE_HEADERS

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_NO_BODY_METHODS: Final = frozenset({"GET", "HEAD"})
# A streamed body (a multipart form) is read and written in blocks of this size: a quarter of the writes
# urllib3's 16 KiB default makes for a screenshot.
SEND_BLOCK_BYTES: Final = 64 * 1024
# requests' own encoding of ``params`` (lists as repeated keys, None left out), so the query is the same.
_encode_params: Final[Callable[[Any], str | bytes]] = RequestEncodingMixin._encode_params  # type: ignore[attr-defined]
# quote_plus of ASCII text, character by character: letters, digits and "_.-~" as they are, a space as "+",
# anything else as "%XX" (for ASCII, the UTF-8 byte is the character).
_QUOTE_PLUS_ASCII: Final = {
    code: "+" if code == 32 else chr(code) if chr(code).isalnum() or chr(code) in "_.-~" else f"%{code:02X}"
    for code in range(128)
}
_PLAIN_URL: Final = re.compile(r"[A-Za-z0-9_.~!#$&'()*+,/:;=?@\[\]-]*")
# http.client's checks of a header line (putheader), applied once per distinct header.
_LEGAL_HEADER_NAME: Final = re.compile(rb"[^:\s][^:\r\n]*")
_ILLEGAL_HEADER_VALUE: Final = re.compile(rb"\n(?![ \t])|\r(?![ \t\n])")
_FRAMING: Final = frozenset({"content-length", "transfer-encoding"})
# Distinct combinations of session and call headers kept checked per connection (a connector uses a handful:
# its credentials with each content type); past this many they are all dropped and checked again as they come.
_KEPT_HEADS: Final = 32
# The head and a body up to this size go out in one write: one system call, one packet on a near network.
ONE_WRITE_BYTES: Final = 16 * 1024
# http.client's checks of the method and the target before it writes them (putrequest).
_DISALLOWED_METHOD_CHARACTER: Final = re.compile("[\x00-\x1f]")
_DISALLOWED_TARGET_CHARACTER: Final = re.compile("[\x00-\x20\x7f]")
# http.client's bounds on an answer's head (its _MAXLINE and _MAXHEADERS).
_MAX_HEAD_LINE: Final = 65536
_MAX_HEAD_LINES: Final = 100
# A header line the e-mail parser reads as "Name: value" and nothing else (a name of printable ASCII but ":").
_PLAIN_HEADER_LINE: Final = re.compile(r"[\x21-\x39\x3b-\x7e]+:[^\r\n]*\r?\n")
_PARSED_CONTENT_TYPES: Final = ("multipart/", "message/")


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


@dataclass(slots=True)
class _Head:
    """The session's headers merged under a call's, as requests merges and checks them."""

    pairs: tuple[tuple[str, Any], ...]  # in requests' order, with the names as given; None values left out
    names: frozenset[str]  # lower case
    lines: tuple[bytes, ...] | None  # as http.client's putheader writes them; None when one cannot be written


@dataclass(slots=True)
class _Call:
    """One prepared call: requests' view of it and what goes on the wire."""

    request: requests.PreparedRequest
    method: str
    target: str  # the request line's target: the URL's path and query
    lines: list[bytes] | tuple[bytes, ...]  # the header lines after Host (and Accept-Encoding)
    skip_host: bool
    skip_accept_encoding: bool
    body: Any
    chunked: bool


def _merge(session_headers: Mapping[str, Any], headers: Mapping[str, Any]) -> _Head:
    """requests' merge_setting of the headers and its check of each, then the lines they make."""
    merged: dict[str, tuple[str, Any]] = {name.lower(): (name, value) for name, value in session_headers.items()}
    merged.update((name.lower(), (name, value)) for name, value in headers.items())
    pairs: list[tuple[str, Any]] = []
    for name, value in merged.values():
        if value is None:
            continue  # requests drops a header set to None
        check_header_validity((name, value))
        pairs.append((name, value))
    try:
        lines, names = _wire_lines(pairs)
    except ValueError:  # UnicodeEncodeError too: raised again where the call writes its head, after its body
        return _Head(tuple(pairs), frozenset(name.lower() for name, _value in pairs), None)
    return _Head(tuple(pairs), names, tuple(lines))


def _wire_lines(pairs: Iterable[tuple[Any, Any]]) -> tuple[list[bytes], frozenset[str]]:
    """The header lines ``http.client`` writes for ``pairs`` through urllib3's connection, and their names.

    Each as its putheader makes it (the name in ASCII, the value in Latin-1, the same checks, the same
    errors); a value of urllib3's SKIP_HEADER leaves the header out, as urllib3's putheader does.
    """
    lines: list[bytes] = []
    names: set[str] = set()
    for name, value in pairs:
        lower = name.lower()
        names.add(lower)
        if isinstance(value, str) and value == SKIP_HEADER:
            if (lower.decode("latin-1") if isinstance(lower, bytes) else lower) not in SKIPPABLE_HEADERS:
                skippable = "', '".join(str.title(header) for header in sorted(SKIPPABLE_HEADERS))
                raise ValueError(f"urllib3.util.SKIP_HEADER only supports '{skippable}'")
            continue
        encoded_name = name.encode("ascii") if hasattr(name, "encode") else name
        if not _LEGAL_HEADER_NAME.fullmatch(encoded_name):
            raise ValueError(f"Invalid header name {encoded_name!r}")
        if hasattr(value, "encode"):
            encoded = value.encode("latin-1")
        elif isinstance(value, int):
            encoded = str(value).encode("ascii")
        else:
            encoded = value
        if _ILLEGAL_HEADER_VALUE.search(encoded):
            raise ValueError(f"Invalid header value {encoded!r}")
        lines.append(encoded_name + b": " + encoded)
    return lines, frozenset(names)


# The stores a CaseInsensitiveDict keeps its items in (requests makes an OrderedDict).
_PLAIN_STORES: Final = (dict, OrderedDict)


def _dropped(connection: HTTPConnection) -> bool:
    """Not urllib3's ``is_connected``: no socket, or one readable while idle (closed by the server, or junk).

    Its own check (a poll of the socket for reading, at once), without the four calls it takes there.
    """
    sock = connection.sock
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _set_timeout(connection: HTTPConnection, seconds: float | None) -> None:
    """The socket's timeout for what comes next (urllib3's request and getresponse set it the same way)."""
    sock = connection.sock
    if sock is not None and sock.gettimeout() != seconds:
        sock.settimeout(seconds)


def _path_url(url: str) -> str:
    """``PreparedRequest.path_url`` of a requoted http(s) URL: its path ("/" when none) and its query.

    The same split as urlsplit's (the host ends at the first "/", "?" or "#"; the fragment goes; an
    empty query is no query) without its cost; a URL of another shape goes to requests' own.
    """
    start = url.find("://")
    if url[:start].lower() not in _DEFAULT_PORTS:
        request = requests.PreparedRequest()
        request.url = url
        return request.path_url
    rest = url[start + 3:]
    end = len(rest)
    for mark in "/?#":
        at = rest.find(mark, 0, end)
        if at >= 0:
            end = at
    path, _mark, query = rest[end:].partition("#")[0].partition("?")
    return (path or "/") + ("?" + query if query else "")


def _host_line(connection: HTTPConnection) -> bytes:
    """The Host header line http.client's putrequest writes for ``connection`` (no tunnel: no proxy here)."""
    host, port = connection.host, connection.port
    try:
        encoded = host.encode("ascii")
    except UnicodeEncodeError:
        encoded = host.encode("idna")
    if ":" in host:  # an IPv6 address, in brackets, without its interface scope
        encoded, scoped, _scope = (b"[" + encoded + b"]").partition(b"%")
        if scoped:
            encoded += b"]"
    value = encoded if port == connection.default_port else f"{encoded.decode('ascii')}:{port}".encode("latin-1")
    if _ILLEGAL_HEADER_VALUE.search(value):
        raise ValueError(f"Invalid header value {value!r}")
    return b"Host: " + value


def _send(connection: HTTPConnection, sock: Any, data: bytes) -> None:
    """One write of the request, with the audit event http.client's send raises for it."""
    sys.audit("http.client.send", connection, data)
    sock.sendall(data)


def _body_blocks(body: Any, blocksize: int) -> Iterator[Any]:
    """What http.client's _send_output sends of a body after the head, in the same pieces."""
    if hasattr(body, "read"):  # a readable before a buffer, as http.client (an mmap's position counts)
        text = isinstance(body, io.TextIOBase)
        while block := body.read(blocksize):
            yield block.encode("iso-8859-1") if text else block
        return
    try:
        memoryview(body)
    except TypeError:
        try:
            yield from iter(body)
        except TypeError:
            raise TypeError(f"message_body should be a bytes-like object or an iterable, got {type(body)!r}") from None
    else:
        yield body


def _head_lines(fp: Any) -> list[bytes]:
    """The lines of an answer's head up to the empty one, bounded as http.client bounds them (``_read_headers``)."""
    lines: list[bytes] = []
    while True:
        line = fp.readline(_MAX_HEAD_LINE + 1)
        if len(line) > _MAX_HEAD_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > _MAX_HEAD_LINES:
            raise http.client.HTTPException(f"got more than {_MAX_HEAD_LINES} headers")
        if line in (b"\r\n", b"\n", b""):
            return lines


def _plain_head(lines: list[bytes]) -> list[tuple[str, str]] | None:
    """The headers of a plain head, as the e-mail parser of ``http.client.parse_headers`` reads them; or None.

    That parser costs more than the rest of a small answer's reading. For a head of plain ``Name: value``
    lines ending in an empty one, it reads each header as (name, value without the leading blanks and
    the line end), in order, with an empty payload (``_message``). Anything else (continued or malformed
    lines, a head cut short, a content type it reads on into the body: multipart/ and message/) is None:
    the e-mail parser's to read, as in http.client.
    """
    if lines[-1] not in (b"\r\n", b"\n"):
        return None
    pairs: list[tuple[str, str]] = []
    for raw in lines[:-1]:
        line = raw.decode("iso-8859-1")
        if not _PLAIN_HEADER_LINE.fullmatch(line):
            return None
        name, value = line.split(":", 1)
        value = value.lstrip(" \t").rstrip("\r\n")
        if name.lower() == "content-type" and value.lower().startswith(_PARSED_CONTENT_TYPES):
            return None
        pairs.append((name, value))
    return pairs


def _message(pairs: list[tuple[str, str]]) -> http.client.HTTPMessage:
    """The message ``http.client.parse_headers`` makes of a plain head, from its pairs (``_plain_head``)."""
    message = http.client.HTTPMessage()
    for name, value in pairs:
        message[name] = value
    message.set_payload("")
    return message


def _parse_head(lines: list[bytes]) -> http.client.HTTPMessage:
    """``http.client.parse_headers`` of a head's lines: without the e-mail parser where the head is plain."""
    pairs = _plain_head(lines)
    if pairs is not None:
        return _message(pairs)
    parsed = email.parser.Parser(_class=http.client.HTTPMessage).parsestr(b"".join(lines).decode("iso-8859-1"))
    assert isinstance(parsed, http.client.HTTPMessage)
    return parsed


class _Response(http.client.HTTPResponse):
    """``http.client``'s answer, its head read as ``parse_headers`` reads it, the message made when first read.

    ``begin`` is http.client's own (Python 3.11) with ``parse_headers`` replaced (``_plain_head``, the
    e-mail parser for the rest), the headers it looks at read from the plain head's pairs, and without
    its debug printing (the kept connection never sets a debug level). ``msg`` (``headers``) is made of
    the pairs when first read: a JSON answer read through the kept connection never reads it. Reading
    the body is inherited as it is.
    """

    pairs: list[tuple[str, str]] | None = None  # the plain head's headers in order; None: only ``msg`` has them
    _message: http.client.HTTPMessage | None = None
    _begun = False

    @property
    def msg(self) -> http.client.HTTPMessage:
        if self._message is None and self.pairs is not None:
            self._message = _message(self.pairs)
        return cast(http.client.HTTPMessage, self._message)  # None before begin, as in http.client

    @msg.setter
    def msg(self, message: http.client.HTTPMessage | None) -> None:
        self._message = message

    headers = msg  # http.client's two names of the one message

    def begin(self) -> None:
        if self._begun:
            return
        self._begun = True
        while True:  # read until an answer other than 100 Continue
            version, status, reason = self._read_status()  # type: ignore[attr-defined]
            if status != HTTPStatus.CONTINUE:
                break
            _head_lines(self.fp)  # the head of the 100 answer, skipped
        self.code = self.status = status
        self.reason = reason.strip()
        if version in ("HTTP/1.0", "HTTP/0.9"):
            self.version = 10  # "0.9" treated as 1.0, as http.client does
        elif version.startswith("HTTP/1."):
            self.version = 11  # HTTP/1.x where x >= 1
        else:
            raise http.client.UnknownProtocol(version)
        lines = _head_lines(self.fp)
        self.pairs = _plain_head(lines)
        get: Callable[[str], str | None]
        if self.pairs is not None:  # Message.get's answer: the first header of the name
            first: dict[str, str] = {}
            for name, value in self.pairs:
                first.setdefault(name.lower(), value)
            get = first.get
        else:
            self.msg = _parse_head(lines)
            get = self.msg.get
        transfer_encoding = get("transfer-encoding")
        if transfer_encoding and transfer_encoding.lower() == "chunked":
            self.chunked = True
            self.chunk_left = None
        else:
            self.chunked = False
        self.will_close = _closes(self.version, get)
        # A Content-Length counts unless the body is chunked (RFC 2616 4.4, 3); nonsense is ignored.
        self.length = None
        length = get("content-length")
        if length and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        else:
            self.length = None
        if (status in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED) or 100 <= status < 200
                or self._method == "HEAD"):  # type: ignore[attr-defined]
            self.length = 0  # a body of fixed length zero
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True  # kept open, neither chunked nor with a length: it ends when it closes


def _closes(version: int, get: Callable[[str], str | None]) -> bool:
    """Whether the connection closes after the answer: http.client's HTTPResponse._check_close."""
    connection = get("connection")
    if version == 11:  # HTTP/1.1 stays open unless told otherwise
        return bool(connection and "close" in connection.lower())
    if get("keep-alive"):  # an older HTTP's own persistent connections
        return False
    if connection and "keep-alive" in connection.lower():  # some send it back (Akamai)
        return False
    proxy_connection = get("proxy-connection")  # Netscape's
    return not (proxy_connection and "keep-alive" in proxy_connection.lower())


class _Sent(requests.PreparedRequest):
    """A ``requests.PreparedRequest`` whose headers dictionary is made from the pairs sent when first read.

    A call that succeeds never reads it; an error, a cookie or a caller looking at ``response.request`` does.
    """

    _pairs: list[tuple[str, Any]] | None = None
    _headers: CaseInsensitiveDict[Any] | None = None

    @classmethod
    def new(cls) -> _Sent:
        """What ``PreparedRequest()`` makes, every attribute its __init__ sets set here, without the calls."""
        request = cls.__new__(cls)
        request.method = None
        request.url = None
        request._cookies = None  # type: ignore[attr-defined]
        request.body = None
        request.hooks = {"response": []}  # requests' default_hooks()
        request._body_position = None  # type: ignore[attr-defined]
        return request

    @property  # type: ignore[override]
    def headers(self) -> CaseInsensitiveDict[Any] | None:
        if self._headers is None and self._pairs is not None:
            self._headers = CaseInsensitiveDict(self._pairs)
            self._pairs = None
        return self._headers

    @headers.setter
    def headers(self, value: CaseInsensitiveDict[Any] | None) -> None:
        self._headers = value
        self._pairs = None


class _Answer(requests.Response):
    """A ``requests.Response`` whose cookie jar, headers dictionary and encoding are made when first read.

    ``requests.Response()`` makes a cookie jar for every answer (with its lock and policy), the largest
    part of building it, and parses the headers and the encoding before anyone asks; most answers set
    no cookie and are read as JSON only. An answer that sets a cookie gets its jar at once.
    """

    _jar: RequestsCookieJar | None
    _joined: dict[str, tuple[str, str]] | None  # the answer's headers by lower-case name, until made a dictionary
    _headers: CaseInsensitiveDict[str]
    _encoding: str | None
    _encoding_read: bool

    @property
    def cookies(self) -> RequestsCookieJar:
        if self._jar is None:
            self._jar = cookiejar_from_dict({})  # type: ignore[no-untyped-call]
        return self._jar

    @cookies.setter
    def cookies(self, jar: RequestsCookieJar) -> None:
        self._jar = jar

    @property
    def headers(self) -> CaseInsensitiveDict[str]:
        if self._joined is not None:
            self._headers = CaseInsensitiveDict(self._joined.values())
            self._joined = None
        return self._headers

    @headers.setter
    def headers(self, value: CaseInsensitiveDict[str]) -> None:
        self._headers = value
        self._joined = None

    @property
    def encoding(self) -> str | None:
        if not self._encoding_read:
            self._encoding = get_encoding_from_headers(self.headers)
            self._encoding_read = True
        return self._encoding

    @encoding.setter
    def encoding(self, value: str | None) -> None:
        self._encoding = value
        self._encoding_read = True


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
        self._heads: dict[tuple[object, ...], _Head] = {}
        self._host: bytes | None = None  # the Host line, the same for every connection to the route

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
        call = self._prepare(session, method, url, headers, params, json_body, data)
        started = time.perf_counter()
        answer, joined, content = self._round_trip(call, timeout)
        return self._response(session, call, url, answer, joined, content, started)

    def send_for_value(
        self,
        session: requests.Session,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str | None],
        decode: Callable[[bytes], tuple[Any] | None],
        params: Any = None,
        json_body: Any = None,
        data: Any = None,
        timeout: tuple[float, float | None],
    ) -> tuple[Any] | requests.Response:
        """One call whose caller wants the value of a successful answer: ``decode``'s, without a response.

        A 2xx answer that sets no cookie is handed to ``decode`` (the body's value as a 1-tuple, or None
        where it needs to look at the answer, e.g. a body that is not JSON); anything else is answered
        as ``send`` answers it, a ``requests.Response``, for the caller's checks. Why: a successful
        JSON answer, the most common of all, is read once for its value; the response made for it,
        every call, was never looked at.
        """
        call = self._prepare(session, method, url, headers, params, json_body, data)
        started = time.perf_counter()
        answer, joined, content = self._round_trip(call, timeout)
        if 200 <= answer.status <= 299 and "set-cookie" not in joined and "set-cookie2" not in joined:
            value = decode(content)
            if value is not None:
                return value
        return self._response(session, call, url, answer, joined, content, started)

    def _round_trip(self, call: _Call, timeout: tuple[float, float | None]
                    ) -> tuple[_Response, dict[str, tuple[str, str]], bytes]:
        """The call sent and its answer read in full: the answer, its headers by lower-case name, its body."""
        answer = self._exchange(call, timeout)
        joined = _joined_headers(answer)
        return answer, joined, self._read(answer, call.request, joined)  # as requests reads one not streamed

    @staticmethod
    def _response(session: requests.Session, call: _Call, url: str, answer: _Response,
                  joined: dict[str, tuple[str, str]], content: bytes, started: float) -> requests.Response:
        """The ``requests.Response`` of an answer read in full, its cookies kept as requests keeps them."""
        request = call.request
        # Every attribute requests.Response.__init__ sets is set here; three of them when first read.
        response = _Answer.__new__(_Answer)
        response._content = content
        response._content_consumed = True  # type: ignore[attr-defined]
        response._next = None  # type: ignore[attr-defined]
        response.status_code = answer.status
        response._joined = joined
        response._encoding_read = False
        response.raw = _ReadAnswer(answer)
        response.url = request.url or url
        response.history = []
        response.reason = answer.reason
        response._jar = None
        response.request = request
        if "set-cookie" in joined or "set-cookie2" in joined:  # all that cookielib reads
            extract_cookies_to_jar(response.cookies, request, response.raw)  # type: ignore[no-untyped-call]
            extract_cookies_to_jar(session.cookies, request, response.raw)  # type: ignore[no-untyped-call]
        response.elapsed = timedelta(seconds=time.perf_counter() - started)
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
    ) -> _Call:
        """The request as requests prepares it, and the lines of its head as ``http.client`` writes them.

        Nothing here touches the connection: a header that cannot be sent fails before the request starts.
        """
        request = _Sent.new()
        request.method = method = method.upper()
        # requote_uri leaves a URL of unreserved and reserved characters without "%" as it is, and the
        # query urlencode makes of a mapping or pairs too ("%" only before the two digits of a byte it quoted).
        plain = _PLAIN_URL.fullmatch(url) is not None
        if params:
            encoded = _query(params)
            if encoded:
                query = encoded.decode("ascii") if isinstance(encoded, bytes) else encoded
                url += ("&" if "?" in url else "?") + query
                plain = plain and isinstance(params, Mapping | list | tuple)
        request.url = url if plain else requote_uri(url)
        head = self._head(session, headers)
        body: Any = data if data else None  # requests takes an empty body (even a sized iterable) for none
        content_type = False
        if not data and json_body is not None:
            try:
                body = json.dumps(json_body, allow_nan=False).encode("utf-8")
            except ValueError as exc:
                raise requests.exceptions.InvalidJSONError(exc, request=request) from exc
            content_type = "content-type" not in head.names
        framing: tuple[str, str] | None = None
        if body is None:
            if method not in _NO_BODY_METHODS:
                framing = ("Content-Length", "0")
        else:
            length = len(body)
            if length:
                framing = ("Content-Length", str(length))
            elif isinstance(body, bytes | bytearray):
                if method not in _NO_BODY_METHODS:
                    framing = ("Content-Length", "0")
            else:
                framing = ("Transfer-Encoding", "chunked")
        request.body = body
        lines: list[bytes] | tuple[bytes, ...]
        # No cookie: cookielib's store looked at when it is empty (counting walks it), else counted.
        jar = session.cookies
        cookie_store = getattr(jar, "_cookies", None)
        without_cookies = (type(cookie_store) is dict and not cookie_store) or not len(jar)
        if (head.lines is not None and self.route.netrc_authorization is None and without_cookies
                and not head.names & _FRAMING):
            # The common call: the checked lines of the merged headers, then what requests adds after them.
            pairs = list(head.pairs)
            lines = head.lines
            if content_type or framing is not None:
                lines = list(lines)
                if framing is not None:  # requests sets the framing, then the content type
                    pairs.append(framing)
                    lines.append(f"{framing[0]}: {framing[1]}".encode("ascii"))
                if content_type:
                    pairs.append(("Content-Type", "application/json"))
                    lines.append(b"Content-Type: application/json")
            request._pairs = pairs  # made a dictionary when first read
            names = head.names
            chunked = framing is not None and framing[0] == "Transfer-Encoding"
        else:
            # As requests: Content-Type, framing, ~/.netrc's Authorization and Cookie set over the merged headers.
            prepared: CaseInsensitiveDict[Any] = CaseInsensitiveDict(head.pairs)
            if framing is not None:
                prepared[framing[0]] = framing[1]
            if content_type:
                prepared["Content-Type"] = "application/json"
            if self.route.netrc_authorization is not None:
                prepared["Authorization"] = self.route.netrc_authorization  # as requests' HTTPBasicAuth would
            request.headers = prepared
            if len(session.cookies):
                cookie = get_cookie_header(session.cookies, request)  # type: ignore[no-untyped-call]
                if cookie is not None:
                    prepared["Cookie"] = cookie
            lines, names = _wire_lines(prepared.items())
            chunked = "Transfer-Encoding" in prepared
        return _Call(request, method, _path_url(request.url), lines, "host" in names, "accept-encoding" in names,
                     bytes(body) if isinstance(body, bytearray) else body, chunked)

    def _head(self, session: requests.Session, headers: Mapping[str, str | None]) -> _Head:
        """The session's headers merged under the call's and checked, kept for the next call with the same ones.

        Keyed on every name and value of both, so a changed header (a new token) is a new entry, never a stale
        one; a call whose headers cannot be a key (a value of the wrong type) is merged alone and refused there.
        """
        # Every name and value, in order: a CaseInsensitiveDict read through its store (an OrderedDict of
        # lower-case name → (name, value)), not through the Mapping mixin's items, which looks up each again.
        merged_under = session.headers
        store: Any = getattr(merged_under, "_store", None) if type(merged_under) is CaseInsensitiveDict else None
        key = (tuple(store.values()) if type(store) in _PLAIN_STORES else tuple(merged_under.items()),
               tuple(headers.items()))
        try:
            head = self._heads.get(key)
        except TypeError:
            return _merge(session.headers, headers)
        if head is None:
            head = _merge(session.headers, headers)
            if len(self._heads) >= _KEPT_HEADS:
                self._heads.clear()
            self._heads[key] = head
        return head

    def _exchange(self, call: _Call, timeout: tuple[float, float | None]) -> _Response:
        """Send, and read the answer's head; failures raised as requests' adapter raises them.

        urllib3's connection connects (its socket options, TLS and the certificate's checks, as in
        requests' pools); the request is written as ``http.client`` writes it (``_write``) and the
        answer read by its HTTPResponse (``_Response``), without the state of its connection object
        around them: the connection is kept while the server keeps it, as http.client keeps it.
        """
        request = call.request
        connect_timeout, read_timeout = timeout
        connection = self._connection
        if connection is not None and _dropped(connection):
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
        sock = connection.sock
        try:
            _set_timeout(connection, connect_timeout)
            self._write(connection, sock, call)
        except BrokenPipeError:
            pass  # the server may have answered already (an early 413): its answer is read below
        except OSError as exc:
            if exc.errno not in (errno.EPROTOTYPE, errno.ECONNRESET):
                self.close()
                raise _aborted(exc, request) from exc
        except http.client.HTTPException as exc:
            self.close()
            raise _aborted(exc, request) from exc
        if read_timeout == 0:  # urllib3 refuses it before reading: a socket without a timeout would not wait
            self.close()
            raise requests.exceptions.ReadTimeout(
                ReadTimeoutError(None, request.url, f"Read timed out. (read timeout={read_timeout})"),  # type: ignore[arg-type]
                request=request,
            )
        answer: _Response | None = None
        try:
            connection.timeout = read_timeout
            _set_timeout(connection, read_timeout)
            answer = _Response(sock, method=call.method)
            answer.begin()
        except TimeoutError as exc:
            self._give_up(answer)
            raise requests.exceptions.ReadTimeout(
                ReadTimeoutError(None, request.url, f"Read timed out. (read timeout={read_timeout})"),  # type: ignore[arg-type]
                request=request,
            ) from exc
        except ssl.SSLError as exc:
            self._give_up(answer)
            raise requests.exceptions.SSLError(Urllib3SSLError(exc), request=request) from exc
        except (OSError, http.client.HTTPException) as exc:
            self._give_up(answer)
            raise _aborted(exc, request) from exc
        if answer.will_close:
            self.close()  # the answer ends the connection: its socket stays open for the answer's body only
        return answer

    def _write(self, connection: HTTPConnection, sock: Any, call: _Call) -> None:
        """The request as http.client's putrequest, putheader and endheaders write it: the same bytes.

        The same checks of the method and the target first. The head and a small body go in one write
        (one system call, one packet on a near network), a larger body after the head as http.client
        sends it: a buffer whole, a readable in blocks of ``blocksize``, an iterable piece by piece,
        chunked when so framed.
        """
        method, target = call.method, call.target or "/"
        if match := _DISALLOWED_METHOD_CHARACTER.search(method):
            raise ValueError(f"method can't contain control characters. {method!r} (found at least {match.group()!r})")
        if match := _DISALLOWED_TARGET_CHARACTER.search(target):
            raise http.client.InvalidURL(
                f"URL can't contain control characters. {target!r} (found at least {match.group()!r})")
        lines = [f"{method} {target} HTTP/1.1".encode("ascii")]
        if not call.skip_host:
            if self._host is None:
                self._host = _host_line(connection)
            lines.append(self._host)
        if not call.skip_accept_encoding:
            lines.append(b"Accept-Encoding: identity")
        lines += call.lines
        lines += (b"", b"")
        head = b"\r\n".join(lines)
        body = call.body
        if body is None:
            _send(connection, sock, head)
            return
        if type(body) is bytes and not call.chunked and len(body) <= ONE_WRITE_BYTES:
            _send(connection, sock, head + body)
            return
        _send(connection, sock, head)
        for block in _body_blocks(body, connection.blocksize):
            if not block:
                continue  # http.client sends no empty piece (in a chunked body it would end it)
            _send(connection, sock, b"%X\r\n%b\r\n" % (len(block), block) if call.chunked else block)
        if call.chunked:
            _send(connection, sock, b"0\r\n\r\n")

    def _give_up(self, answer: _Response | None) -> None:
        """A call that failed while its answer was read: the answer and the connection closed."""
        if answer is not None:
            answer.close()
        self.close()

    def _read(self, answer: _Response, request: requests.PreparedRequest,
              joined: Mapping[str, tuple[str, str]]) -> bytes:
        """The answer's body, decoded as urllib3 decodes it; failures raised as requests' iter_content raises them."""
        try:
            data = answer.read()
        except TimeoutError as exc:
            self._give_up(answer)
            raise requests.exceptions.ConnectionError(
                ReadTimeoutError(None, request.url, "Read timed out."), request=request) from exc  # type: ignore[arg-type]
        except ssl.SSLError as exc:
            self._give_up(answer)
            raise requests.exceptions.SSLError(Urllib3SSLError(exc), request=request) from exc
        except (OSError, http.client.HTTPException) as exc:
            self._give_up(answer)
            raise requests.exceptions.ChunkedEncodingError(
                ProtocolError(f"Connection broken: {exc!r}", exc), request=request) from exc
        encoding = joined["content-encoding"][1].strip().lower() if "content-encoding" in joined else ""
        if not encoding or encoding == "identity":
            return data
        try:  # gzip, deflate and whatever else urllib3 decodes (brotli, zstd where installed), by urllib3
            decoded = HTTPResponse(body=io.BytesIO(data), headers=dict(joined.values()),
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

    Text keys with text or integer values (what connectors send) are quoted as urlencode quotes them,
    leaving text it would leave as it is untouched; anything else takes the general way.
    """
    if not isinstance(params, Mapping | list | tuple):
        return _encode_params(params)
    parts: list[str] = []
    table = _QUOTE_PLUS_ASCII
    for key, value in params.items() if isinstance(params, Mapping) else params:
        if type(key) is not str:
            return _query_pairs(params)
        name = key.translate(table) if key.isascii() else _quoted(key)
        if type(value) is str:
            parts.append(f"{name}={value.translate(table) if value.isascii() else _quoted(value)}")
        elif type(value) is int:
            parts.append(f"{name}={value}")
        elif value is not None:
            return _query_pairs(params)
    return "&".join(parts)


def _quoted(text: str) -> str:
    """``quote_plus`` of the text's UTF-8, as requests' encoding of params ends up calling it."""
    return text.translate(_QUOTE_PLUS_ASCII) if text.isascii() else quote_plus(text.encode("utf-8"))


def _query_pairs(params: Mapping[Any, Any] | list[Any] | tuple[Any, ...]) -> str:
    """The general way: requests' steps without its runtime protocol checks (``to_key_val_list``)."""
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


def _joined_headers(answer: _Response) -> dict[str, tuple[str, str]]:
    """The answer's headers by lower-case name, repeated ones joined by ", ", as urllib3 hands them to requests."""
    joined: dict[str, tuple[str, str]] = {}
    for name, value in answer.pairs if answer.pairs is not None else answer.msg.items():
        key = name.lower()
        joined[key] = (joined[key][0], f"{joined[key][1]}, {value}") if key in joined else (name, value)
    return joined


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
