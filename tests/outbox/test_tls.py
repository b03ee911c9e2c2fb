"""TLS against a real local HTTPS server: verification is on, and a configured CA bundle wins over the environment."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.connectors.base import TransientError
from agent.connectors.builtin import BuiltinConnector
from tests.outbox.peers import Peer, Reply

QUEUE_ANSWER = json.dumps({"site": "HQ", "position": 1, "ahead": 0, "estimated_wait_seconds": 60, "state": "waiting"})


@dataclass
class Pki:
    server_ca: Path  # signed the server's certificate
    other_ca: Path  # a CA that did not
    context: ssl.SSLContext


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = _ca("ShowDesk test CA")
    _other_key, other_cert = _ca("Some other CA")
    server_key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (directory / "other-ca.pem").write_bytes(other_cert.public_bytes(pem))
    (directory / "server.pem").write_bytes(server_cert.public_bytes(pem))
    (directory / "server.key").write_bytes(
        server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "server.pem", directory / "server.key")
    return Pki(server_ca=directory / "ca.pem", other_ca=directory / "other-ca.pem", context=context)


def _queue_place(url: str, ca_bundle: Path | None) -> str:
    connector = BuiltinConnector(url, token="t", ca_bundle=str(ca_bundle) if ca_bundle else None)
    try:
        return connector.queue_place("1").state
    finally:
        connector.close()


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_the_configured_ca_bundle_wins_over_the_environment(
    pki: Pki, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    with Peer(ssl_context=pki.context) as peer:
        peer.answer(*[Reply(200, QUEUE_ANSWER.encode(), {"Content-Type": "application/json"})] * 2)

        # The environment names a CA that did not sign the server: the configured one must win...
        monkeypatch.setenv(variable, str(pki.other_ca))
        assert _queue_place(peer.url, pki.server_ca) == "waiting"

        # ...and the other way round: a configured wrong CA is not rescued by a right environment.
        monkeypatch.setenv(variable, str(pki.server_ca))
        with pytest.raises(TransientError, match="certificate"):
            _queue_place(peer.url, pki.other_ca)

        # With nothing configured, the environment is respected as usual.
        assert _queue_place(peer.url, None) == "waiting"
    assert [r.path for r in peer.received] == ["/api/v1/tickets/1/queue"] * 2


def test_verification_is_on_without_any_ca_configured(pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with Peer(ssl_context=pki.context) as peer:
        peer.answer(Reply(200, QUEUE_ANSWER.encode(), {"Content-Type": "application/json"}))
        with pytest.raises(TransientError, match=r"certificate was issued by CN=ShowDesk test CA, which this computer"):
            _queue_place(peer.url, None)
        assert peer.received == []
