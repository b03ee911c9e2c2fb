"""The kept connection's own steps give what the libraries they stand in for give (agent.connectors.transport).

Each step the kept connection does itself, to cost less per call, is held here to the library step
it replaces, on the same input: the query (requests' encoding of ``params``), the target (requests'
``path_url``), the header lines and the Host line (http.client's putheader and putrequest, through
urllib3's connection), the answer's head (http.client's parse_headers and HTTPResponse.begin). And
the per-report steps made cheaper: fitting's shortcut and its manifest, the lazily made ticket body,
the urgency mapping and the one reading of the system information they share, the creation time
written without strftime, the basic credentials encoded once, the flags' number and group reading.
"""

from __future__ import annotations

import http.client
import io
import json
import socket
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from requests.models import RequestEncodingMixin
from urllib3.connection import HTTPConnection
from urllib3.util import SKIP_HEADER

from agent import flags
from agent.bundle import ReportBundle
from agent.connectors import body as body_module
from agent.connectors.body import _minute, render
from agent.connectors.fitting import Limits, fit_bundle
from agent.connectors.httpclient import BasicAuthorization
from agent.connectors.transport import (
    _dropped,
    _host_line,
    _parse_head,
    _path_url,
    _query,
    _quoted,
    _Response,
    _wire_lines,
)
from agent.connectors.urgency import mapped, report_severity
from agent.schema import SYSINFO_PATH
from tests.connectors.helpers import SYSINFO, report_bundle

_encode_params = RequestEncodingMixin._encode_params  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the query and the target
@settings(max_examples=300, deadline=None)
@given(st.text())
def test_a_value_is_quoted_as_quote_plus_quotes_its_utf8(text: str) -> None:
    try:
        expected = requests.compat.quote_plus(text.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate: requests fails on it too
        with pytest.raises(UnicodeEncodeError):
            _quoted(text)
        return
    assert _quoted(text) == expected


_VALUES = st.one_of(st.none(), st.text(max_size=12), st.integers(), st.booleans(), st.binary(max_size=8),
                    st.lists(st.one_of(st.text(max_size=6), st.integers(), st.none()), max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.dictionaries(st.text(max_size=8), _VALUES, max_size=5),
                 st.lists(st.tuples(st.one_of(st.text(max_size=8), st.integers()), _VALUES), max_size=5)))
def test_params_are_encoded_as_requests_encodes_them(params: Any) -> None:
    try:
        expected = _encode_params(params)
    except UnicodeEncodeError:
        with pytest.raises(UnicodeEncodeError):
            _query(params)
        return
    assert _query(params) == expected


@pytest.mark.parametrize("params", ["a=b&c", b"raw=bytes"])
def test_params_that_are_not_pairs_go_to_requests(params: str | bytes) -> None:
    assert _query(params) == _encode_params(params)


_URL_TEXT = st.text(alphabet="abcXYZ019-._~!$&'()*+,;=:@/?#[]%", max_size=20)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["http", "https", "HTTP"]), st.sampled_from(["127.0.0.1", "example.org", "[::1]"]),
       st.sampled_from(["", ":8080"]), _URL_TEXT)
def test_the_target_is_requests_path_url(scheme: str, host: str, port: str, rest: str) -> None:
    url = f"{scheme}://{host}{port}{rest}"
    prepared = requests.PreparedRequest()
    prepared.url = url
    try:
        expected = prepared.path_url
    except ValueError:
        return  # not a URL urlsplit reads; the kept connection never gets one (its origin was split before)
    assert _path_url(url) == expected


# ---------------------------------------------------------------- the head of the request
def _putheader_lines(pairs: list[tuple[Any, Any]]) -> list[bytes]:
    """What urllib3's connection, through http.client's putheader, puts in the request for ``pairs``."""
    connection = HTTPConnection("127.0.0.1", 9)
    http.client.HTTPConnection.putrequest(connection, "GET", "/", skip_host=True, skip_accept_encoding=True)
    for name, value in pairs:
        connection.putheader(name, value)
    return list(connection._buffer[1:])  # type: ignore[attr-defined]


@pytest.mark.parametrize("pairs", [
    [("User-Agent", "ShowDesk/1"), ("Accept", "application/json"), ("Authorization", "Basic dXNlcjpwdw==")],
    [("X-Latin", "caf\xe9"), ("X-Bytes", b"\x01raw"), ("X-Int", 7), ("X-Empty", "")],
    [("X-Folded", "one\r\n two"), ("Accept-Encoding", SKIP_HEADER), ("Host", SKIP_HEADER)],
])
def test_header_lines_are_what_putheader_writes(pairs: list[tuple[Any, Any]]) -> None:
    lines, names = _wire_lines(pairs)
    assert lines == _putheader_lines(pairs)
    assert names == frozenset(name.lower() for name, _value in pairs)


@pytest.mark.parametrize(("pairs", "error"), [
    ([("Bad:Name", "x")], ValueError),
    ([(" Indented", "x")], ValueError),
    ([("X-Split", "a\r\nb")], ValueError),
    ([("X-Euro", "\u20ac")], UnicodeEncodeError),
    ([("X-Token", SKIP_HEADER)], ValueError),
])
def test_a_header_putheader_refuses_is_refused_the_same_way(pairs: list[tuple[str, Any]],
                                                           error: type[Exception]) -> None:
    with pytest.raises(error) as ours:
        _wire_lines(pairs)
    with pytest.raises(error) as theirs:
        _putheader_lines(pairs)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(("host", "port"), [
    ("127.0.0.1", 8080), ("example.org", 80), ("example.org.", 80), ("::1", 8443), ("fe80::1%eth0", 80),
    ("b\xfccher.example", 80),
])
def test_the_host_line_is_what_putrequest_writes(host: str, port: int) -> None:
    connection = HTTPConnection(host, port)
    http.client.HTTPConnection.putrequest(connection, "GET", "/")
    assert _host_line(connection) == connection._buffer[1]  # type: ignore[attr-defined]


# ---------------------------------------------------------------- the head of the answer
HEADS = [
    b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n",
    b"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Empty:\r\nX-Spaces:   padded  \r\n\r\n",
    b"Content-Type: text/plain\nContent-Length: 2\n\n",  # bare line feeds
    b"X-Latin: caf\xe9\r\n\r\n",
    b"X-Folded: one\r\n two\r\n\r\n",  # a continued line
    b"X-Bad Name: x\r\n\r\n",
    b"NoColon\r\n\r\n",
    b": no name\r\n\r\n",
    b"From somebody\r\nX-A: b\r\n\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n",
    b"Content-Type: message/http\r\n\r\n",
    b"X-A: b\r\n",  # cut short
    b"X-A: b\rX-C: d\r\n\r\n",  # a bare carriage return
    b"\r\n",
]


def _described(message: Any) -> dict[str, Any]:
    """A message's whole state, nested messages and defects compared by what they hold."""
    state = dict(vars(message))
    state["defects"] = [type(defect) for defect in message.defects]
    state["items"] = message.items()
    if isinstance(state["_payload"], list):
        state["_payload"] = [_described(part) for part in state["_payload"]]
    return state


@pytest.mark.parametrize("head", HEADS)
def test_a_head_is_parsed_as_parse_headers_parses_it(head: bytes) -> None:
    lines = io.BytesIO(head).readlines() or [b""]
    if lines[-1] not in (b"\r\n", b"\n") and not head.endswith(b"\n\n"):
        lines.append(b"")  # what http.client's reader hands on at the end of a head cut short
    assert _described(_parse_head(lines)) == _described(http.client.parse_headers(io.BytesIO(head)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="Ab-: \t\xe9\r/;=", min_size=1, max_size=12), max_size=5))
def test_any_head_is_parsed_as_parse_headers_parses_it(raw_lines: list[str]) -> None:
    head = b"".join(line.replace("\r", "").encode("latin-1") + b"\r\n" for line in raw_lines) + b"\r\n"
    expected = http.client.parse_headers(io.BytesIO(head))
    lines = io.BytesIO(head).readlines()
    cut = next(n for n, line in enumerate(lines) if line in (b"\r\n", b"\n"))  # where http.client stops
    assert _described(_parse_head(lines[: cut + 1])) == _described(expected)


class _Socket:
    """What HTTPResponse reads an answer from: a file of the answer's bytes."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, _mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self._data))


ANSWERS = [
    ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
    ("GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
    ("GET", b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}"),
    ("GET", b"HTTP/1.1 200 OK\r\n\r\nread until closed"),
    ("GET", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
    ("GET", b"HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\n{}"),
    ("GET", b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n{}"),
    ("GET", b"HTTP/1.0 200 OK\r\nProxy-Connection: keep-alive\r\nContent-Length: 2\r\n\r\n{}"),
    ("GET", b"HTTP/1.1 100 Continue\r\nX-A: b\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}"),
    ("GET", b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"),
    ("GET", b"HTTP/1.1 304 Not Modified\r\n\r\n"),
    ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n"),
    ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: -4\r\n\r\nabc"),
    ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\nabc"),
    ("GET", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x"),
    ("GET", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 2\r\n\r\n{}"),
    ("GET", b"HTTP/1.1 200 OK\r\nContent-Type: multipart/mixed\r\nContent-Length: 2\r\n\r\n{}"),
    ("GET", b"HTTP/1.1 404 Not Found\r\nX-Folded: a\r\n b\r\nContent-Length: 2\r\n\r\n{}"),
]


def _answer_state(answer: http.client.HTTPResponse) -> dict[str, Any]:
    state = {name: getattr(answer, name) for name in ("status", "reason", "version", "chunked", "length",
                                                       "will_close")}
    state["headers"] = answer.getheaders()
    state["body"] = answer.read()
    return state


@pytest.mark.parametrize(("method", "data"), ANSWERS)
def test_an_answer_begins_as_http_clients_does(method: str, data: bytes) -> None:
    ours = _Response(_Socket(data), method=method)  # type: ignore[arg-type]
    theirs = http.client.HTTPResponse(_Socket(data), method=method)  # type: ignore[arg-type]
    ours.begin()
    theirs.begin()
    assert _answer_state(ours) == _answer_state(theirs)
    assert _described(ours.msg) == _described(theirs.msg)


@pytest.mark.parametrize("data", [b"HTTP/2 200 OK\r\n\r\n", b"", b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n",
                                  b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n"])
def test_an_answer_http_client_refuses_is_refused_the_same_way(data: bytes) -> None:
    with pytest.raises(http.client.HTTPException) as ours:
        _Response(_Socket(data), method="GET").begin()  # type: ignore[arg-type]
    with pytest.raises(http.client.HTTPException) as theirs:
        http.client.HTTPResponse(_Socket(data), method="GET").begin()  # type: ignore[arg-type]
    assert type(ours.value) is type(theirs.value)


# ---------------------------------------------------------------- per report
def _per_file_limits(max_file: int) -> Limits:
    return Limits(system="X", max_file_bytes=max_file, file_limit_name="X's limit")


def test_fitting_within_a_per_file_limit_is_what_the_fitter_gives() -> None:
    bundle = report_bundle(steps=2)
    quick = fit_bundle(bundle, _per_file_limits(50 * 1024 * 1024))
    # A request limit nothing reaches takes the fitter's way through the same checks.
    full = fit_bundle(bundle, Limits(system="X", max_file_bytes=50 * 1024 * 1024, max_request_bytes=2**40))
    assert (quick.bundle, quick.notes, quick.wire_bytes) == (full.bundle, full.notes, full.wire_bytes)
    assert quick.manifest_bytes() == full.manifest_bytes() == bundle.report.canonical_json()


def test_the_manifest_fitting_gives_is_the_fitted_reports() -> None:
    bundle = report_bundle(steps=2, size=(1280, 800))
    largest = max(ref.size for ref in bundle.report.files() if ref.path.startswith("steps/"))
    fitted = fit_bundle(bundle, _per_file_limits(largest - 1))
    assert fitted.changed
    assert fitted.manifest_bytes() == fitted.bundle.report.canonical_json() != bundle.report.canonical_json()
    assert fit_bundle(bundle, Limits(system="X")).manifest_bytes() == bundle.report.canonical_json()


def test_the_ticket_body_is_made_of_what_it_was_given() -> None:
    bundle = report_bundle()
    notes = ["Step 1 was scaled"]
    body = render(bundle, notes=notes, inline_images={"steps/001.png": "cid:one@x"})
    notes.append("added after the body was made")
    again = render(bundle, notes=["Step 1 was scaled"], inline_images={"steps/001.png": "cid:one@x"})
    assert body.html == again.html and "added after" not in body.html
    assert body.text == again.text and body == again and hash(body) == hash(again)
    assert "cid:one@x" in body.html and "Step 1 was scaled" in body.text


def _with_sysinfo(bundle: ReportBundle, sysinfo: dict[str, Any]) -> ReportBundle:
    return ReportBundle(bundle.report, {**bundle.files, SYSINFO_PATH: json.dumps(sysinfo).encode()})


def test_an_urgency_table_maps_the_severity_or_gives_its_default() -> None:
    full_disk = report_bundle()  # SYSINFO's disk is 99 % full: critical
    assert report_severity(full_disk) == "critical"
    assert mapped(full_disk, {"critical": "1", "default": "3"}) == "1"
    assert mapped(full_disk, {"default": "3"}) == "3"
    assert mapped(full_disk, {}, "fallback") == "fallback"
    calm = _with_sysinfo(full_disk, {**SYSINFO, "disks": [], "memory": {"total": 8, "available": 4}})
    assert mapped(calm, {"critical": "1", "default": "3"}) == "3"


class _Count(int):
    pass


class _Group(dict[str, Any]):
    pass


@pytest.mark.parametrize(("value", "number"), [
    (3, 3.0), (2.5, 2.5), (True, None), (False, None), ("7", None), (None, None), (_Count(4), 4.0),
])
def test_a_number_is_read_as_before(value: object, number: float | None) -> None:
    assert flags._number(value) == number


@pytest.mark.parametrize(("data", "kept"), [
    ({"percent": 5}, True), ({"error": "denied"}, False), (_Group(error="x"), False), (_Group(a=1), True),
    ([1, 2], True), (None, True),
])
def test_a_group_is_read_as_before(data: object, kept: bool) -> None:
    assert (flags._group({"g": data}, "g") is data) is kept


# ---------------------------------------------------------------- the connection's state
@pytest.mark.parametrize("peer", ["idle", "closed", "sent bytes", "no socket"])
def test_a_dropped_connection_is_what_urllib3_calls_not_connected(peer: str) -> None:
    ours, theirs = socket.socketpair()
    connection = HTTPConnection("127.0.0.1", 9)
    connection.sock = ours if peer != "no socket" else None
    with ours, theirs:
        if peer == "closed":
            theirs.shutdown(socket.SHUT_RDWR)
        elif peer == "sent bytes":
            theirs.sendall(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
        assert _dropped(connection) is (not connection.is_connected)
        assert _dropped(connection) is (peer != "idle")


def test_the_body_and_the_urgency_read_the_system_information_once(monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = report_bundle()  # SYSINFO's disk is 99 % full: critical
    computed: list[object] = []
    real = body_module.compute_flags

    def counted(snapshot: Any) -> list[flags.Flag]:
        computed.append(snapshot)
        return real(snapshot)

    monkeypatch.setattr(body_module, "compute_flags", counted)
    body = render(bundle)
    assert body.text and body.html and mapped(body.system, {"critical": "1", "default": "3"}) == "1"
    assert len(computed) == 1  # one parse and one look at the flags for the text, the HTML and the urgency
    assert body.system.severity == report_severity(bundle) == "critical"
    assert f"[critical] {real(SYSINFO)[0].message}" in body.text


@pytest.mark.parametrize(("data", "summary"), [
    (None, None),
    (b"\xff not json", "System information: attached as sysinfo.json (not readable as JSON)"),
    (b"[1, 2]", "System information: attached as sysinfo.json"),
])
def test_system_information_that_is_missing_or_unreadable_is_said_so_and_flags_nothing(
        data: bytes | None, summary: str | None) -> None:
    bundle = report_bundle()
    files = {path: content for path, content in bundle.files.items() if path != SYSINFO_PATH}
    body = render(ReportBundle(bundle.report, files if data is None else {**files, SYSINFO_PATH: data}))
    assert body.system.summary() == summary and body.system.flags == [] and body.system.severity is None
    assert mapped(body.system, {"critical": "1", "default": "3"}) == "3"
    assert "System information" not in body.text if summary is None else f"\n{summary}\n" in body.text


@settings(max_examples=300, deadline=None)
@given(st.datetimes(timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=5, minutes=30)),
                                                timezone(timedelta(hours=-3), "BRT"), ZoneInfo("Europe/Berlin")])))
def test_the_creation_time_reads_as_strftime_writes_it(moment: datetime) -> None:
    assert _minute(moment) == moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def test_basic_credentials_are_what_requests_sends_and_follow_a_changed_secret() -> None:
    basic = BasicAuthorization()
    assert basic.value("ann@example.org", "first") == requests.auth._basic_auth_str("ann@example.org", "first")
    assert basic.value("ann@example.org", "first") == requests.auth._basic_auth_str("ann@example.org", "first")
    assert basic.value("ann@example.org", "second") == requests.auth._basic_auth_str("ann@example.org", "second")
    assert basic.value("bob", "second") == requests.auth._basic_auth_str("bob", "second")
