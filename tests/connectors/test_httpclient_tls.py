"""TLS failures in plain words: a real HTTPS peer on 127.0.0.1 with a self-signed, an expired, a wrong-host certificate.

Each message must name its cause and the facts (subject, issuer, validity, the host asked for,
whether a CA bundle was used), give the advice that fits, stay whole within a connector's
reason, and carry no raw exception text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.connectors.base import MAX_REASON_CHARS
from agent.connectors.common import TlsError
from agent.connectors.httpclient import HttpClient
from agent.connectors.tls_facts import Cause, read_certificate
from agent.outbox import EntryState, Outbox
from tests.outbox.helpers import make_bundle
from tests.outbox.peers import Peer

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
RAW_WORDS = ("SSLError", "Max retries", "urllib3", "HTTPSConnectionPool", "Caused by", "_ssl.c", "errno")


@dataclass
class Issued:
    cert: x509.Certificate
    context: ssl.SSLContext


@dataclass
class Pki:
    directory: Path
    ca_key: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate
    ca_path: Path
    counter: int = 0

    def issue(
        self,
        common_name: str,
        names: list[x509.GeneralName],
        *,
        not_before: dt.datetime,
        not_after: dt.datetime,
        self_signed: bool = False,
        organisation: str = "ShowDesk Tests",
    ) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key if self_signed else self.ca_key, hashes.SHA256())
        )
        self.counter += 1
        pem = serialization.Encoding.PEM
        cert_path = self.directory / f"server-{self.counter}.pem"
        key_path = self.directory / f"server-{self.counter}.key"
        cert_path.write_bytes(cert.public_bytes(pem))
        key_path.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_path, key_path)
        return Issued(cert, context)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("tls-facts")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ShowDesk Test Root CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=400))
        .not_valid_after(NOW + dt.timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    ca_path = directory / "ca.pem"
    ca_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Pki(directory, key, cert, ca_path)


LOOPBACK: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]


def _failure(peer: Peer, ca_bundle: Path | None) -> TlsError:
    bundle = str(ca_bundle) if ca_bundle else None
    client = HttpClient(peer.url, system="ShowDesk server", kind="test", ca_bundle=bundle)
    try:
        with pytest.raises(TlsError) as raised:
            client.request("GET", "/api/v1/whoami")
    finally:
        client.close()
    assert peer.received == []  # nothing went over a connection that was not trusted
    return raised.value


def _assert_whole_and_plain(text: str) -> None:
    assert len(text) <= MAX_REASON_CHARS
    assert text.count("(") == text.count(")") and text.endswith(".")
    assert not any(word in text for word in RAW_WORDS), text


def _day(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d")


def test_a_self_signed_certificate_names_itself_and_asks_for_a_ca_bundle(pki: Pki) -> None:
    issued = pki.issue("help.self-signed.test", LOOPBACK, not_before=NOW - dt.timedelta(days=1),
                       not_after=NOW + dt.timedelta(days=30), self_signed=True)
    with Peer(ssl_context=issued.context) as peer:
        error = _failure(peer, None)
    text = error.reason
    assert error.failure.cause is Cause.SELF_SIGNED
    assert "self-signed" in text and "CN=help.self-signed.test, O=ShowDesk Tests" in text
    assert f"valid {_day(NOW - dt.timedelta(days=1))} to {_day(NOW + dt.timedelta(days=30))}" in text
    assert "host asked for: 127.0.0.1" in text and "no CA bundle configured" in text
    assert "Set ca_bundle" in text and "proxy" in text
    _assert_whole_and_plain(text)


def test_an_expired_certificate_says_a_ca_bundle_cannot_fix_it(pki: Pki) -> None:
    expired_on = NOW - dt.timedelta(days=3)
    issued = pki.issue("help.expired.test", LOOPBACK, not_before=NOW - dt.timedelta(days=90), not_after=expired_on)
    with Peer(ssl_context=issued.context) as peer:
        error = _failure(peer, pki.ca_path)
    text = error.reason
    assert error.failure.cause is Cause.EXPIRED
    assert f"expired on {expired_on.strftime('%Y-%m-%d %H:%M')} UTC" in text
    assert "issued by CN=ShowDesk Test Root CA" in text and "CN=help.expired.test" in text
    assert "CA bundle used:" in text and "ca.pem" in text
    assert "A CA bundle cannot fix that" in text and "renew" in text and "Set ca_bundle" not in text
    _assert_whole_and_plain(text)


def test_a_certificate_for_another_host_points_at_the_url(pki: Pki) -> None:
    issued = pki.issue("help.example.org", [x509.DNSName("help.example.org"), x509.DNSName("www.example.org")],
                       not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=30))
    with Peer(ssl_context=issued.context) as peer:
        error = _failure(peer, pki.ca_path)
    text = error.reason
    assert error.failure.cause is Cause.WRONG_HOST
    assert "not for 127.0.0.1" in text and "for help.example.org, www.example.org" in text
    assert "issued by CN=ShowDesk Test Root CA" in text and "CA bundle used:" in text
    assert "Check the backend URL" in text and "Set ca_bundle" not in text
    _assert_whole_and_plain(text)


def test_an_unknown_issuer_names_the_issuer_and_that_the_bundle_did_not_include_it(pki: Pki, tmp_path: Path) -> None:
    issued = pki.issue("127.0.0.1", LOOPBACK, not_before=NOW - dt.timedelta(days=1),
                       not_after=NOW + dt.timedelta(days=30))
    other = Pki(tmp_path, *_root("Some Other Root"), ca_path=tmp_path / "other.pem")
    other.ca_path.write_bytes(other.ca_cert.public_bytes(serialization.Encoding.PEM))
    with Peer(ssl_context=issued.context) as peer:
        error = _failure(peer, other.ca_path)
    text = error.reason
    assert error.failure.cause is Cause.UNKNOWN_ISSUER
    assert text.startswith("The help desk's certificate was issued by CN=ShowDesk Test Root CA, which this computer")
    assert "CA bundle used:" in text and "other.pem" in text and "proxy certificate" in text
    _assert_whole_and_plain(text)


def _root(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1)).not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def test_long_names_are_shortened_never_the_sentence(pki: Pki) -> None:
    issued = pki.issue("x" * 50 + ".example.org", [x509.DNSName(f"{'y' * 60}{n}.example.org") for n in range(6)],
                       not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=30),
                       self_signed=True, organisation="An (Organisation) With " + "A Long Name " * 3)
    with Peer(ssl_context=issued.context) as peer:
        error = _failure(peer, pki.ca_path)
    assert error.failure.cause is Cause.SELF_SIGNED
    _assert_whole_and_plain(error.reason)
    assert error.reason.endswith("if a proxy inspects secure traffic.")


def test_plain_http_on_an_https_url_is_said_in_words() -> None:
    with Peer() as plain:
        url = plain.url.replace("http://", "https://")
        client = HttpClient(url, system="ShowDesk server", kind="test")
        with pytest.raises(TlsError) as raised:
            client.request("GET", "/api/v1/whoami")
        client.close()
    assert raised.value.failure.cause is Cause.NOT_TLS
    assert "does not speak TLS on this port" in raised.value.reason
    _assert_whole_and_plain(raised.value.reason)


def test_the_certificate_is_read_as_the_cryptography_package_reads_it(pki: Pki) -> None:
    issued = pki.issue("help.example.org", [x509.DNSName("help.example.org"), *LOOPBACK],
                       not_before=NOW - dt.timedelta(days=2), not_after=NOW + dt.timedelta(days=5))
    der = issued.cert.public_bytes(serialization.Encoding.DER)
    read = read_certificate(der)
    assert read.subject == issued.cert.subject.rfc4514_string().replace(",", ", ")
    assert read.issuer == issued.cert.issuer.rfc4514_string().replace(",", ", ")
    assert read.not_before == issued.cert.not_valid_before_utc
    assert read.not_after == issued.cert.not_valid_after_utc
    assert read.names == ("help.example.org", "127.0.0.1")
    assert read.covers("help.example.org") and read.covers("127.0.0.1") and not read.covers("example.org")
    assert not read.self_signed
    with pytest.raises(ValueError, match=r"DER|X\.509"):
        read_certificate(der[: len(der) // 2])


# ---------------------------------------------------------------- through a proxy
class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that tunnels bytes; it counts the tunnels it opened."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._open: list[socket.socket] = []

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the accept() below; close alone does not
        self._server.close()
        for sock in self._open:
            sock.close()
        self._thread.join(5)

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self._open.append(client)
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        target = head.split(b" ", 2)[1].decode()
        self.tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self._open.append(upstream)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := source.recv(65536):
            sink.sendall(chunk)
    for sock in (source, sink):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def test_through_a_proxy_the_certificate_is_fetched_through_the_same_proxy(pki: Pki) -> None:
    issued = pki.issue("proxy-inspector.corp", LOOPBACK, not_before=NOW - dt.timedelta(days=1),
                       not_after=NOW + dt.timedelta(days=30), self_signed=True, organisation="Corp Inspecting Proxy")
    with Peer(ssl_context=issued.context) as peer, ConnectProxy() as proxy:
        client = HttpClient(peer.url, system="ShowDesk server", kind="test", proxy=proxy.url)
        with pytest.raises(TlsError) as raised:
            client.request("GET", "/api/v1/whoami")
        client.close()
    target = peer.url.removeprefix("https://")
    assert proxy.tunnels == [target, target]  # the request's tunnel, then the one that read the certificate
    assert "O=Corp Inspecting Proxy" in raised.value.reason
    _assert_whole_and_plain(raised.value.reason)


# ---------------------------------------------------------------- in the outbox
def test_a_tls_failure_keeps_the_report_pending_with_the_plain_message(pki: Pki, tmp_path: Path) -> None:
    from agent.connectors.builtin import BuiltinConnector

    issued = pki.issue("help.expired.test", LOOPBACK, not_before=NOW - dt.timedelta(days=90),
                       not_after=NOW - dt.timedelta(days=1))
    with Peer(ssl_context=issued.context) as peer:
        outbox = Outbox(tmp_path / "outbox",
                        connector_for=lambda _n: BuiltinConnector(peer.url, token="t", ca_bundle=str(pki.ca_path)))
        entry = outbox.put(make_bundle(1))
        outbox.flush()
        outbox.close()
    after = outbox.get(entry.id)
    assert after.state is EntryState.PENDING and after.network == "tls"
    assert re.match(r"The help desk's certificate expired on \d{4}-\d\d-\d\d", after.last_error or "")
    assert after.failure_kind is None


@pytest.fixture(autouse=True)
def _no_environment_ca(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    yield
