"""The e-mail connector against a real SMTP server on loopback (aiosmtpd), parsing what it received."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import ipaddress
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.config import BackendConfig, ConfigError
from agent.connectors.base import MAX_REASON_CHARS, AuthError, Capability, PermanentError, TooLargeError, TransientError
from agent.connectors.common import TlsError, attachment_name
from agent.connectors.smtp import SMTPConnector, create
from agent.connectors.tls_facts import Cause
from agent.outbox import EntryState, Outbox
from agent.schema import SYSINFO_PATH
from tests.connectors.helpers import Pki, make_pki, report_bundle, screenshot
from tests.fixtures.server import free_port

SENDER = "showdesk@example.org"
HELPDESK = "helpdesk@example.org"


@dataclass
class Mailbox:
    """What the SMTP server received, and how it should answer next."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    data_answers: list[str] = field(default_factory=list)  # scripted answers to DATA, then "250 OK"
    refuse_recipients: set[str] = field(default_factory=set)
    received: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse_recipients:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_answers:
            return self.data_answers.pop(0)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        self.received.set()
        return "250 OK: queued"

    def only(self) -> EmailMessage:
        assert len(self.messages) == 1
        parsed = email.message_from_bytes(self.messages[0][2], policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox
    controller: Controller


@pytest.fixture
def start_smtp() -> Iterator[Callable[..., SmtpServer]]:
    started: list[Controller] = []

    def start(**kwargs: Any) -> SmtpServer:
        mailbox = Mailbox()
        port = free_port()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        return SmtpServer(port, mailbox, controller)

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("smtp-pki"))


def plain(port: int, **kwargs: Any) -> SMTPConnector:
    return SMTPConnector("127.0.0.1", port=port, security="none", sender=SENDER, recipients=[HELPDESK], **kwargs)


def parts_by_type(message: EmailMessage) -> dict[str, list[EmailMessage]]:
    found: dict[str, list[EmailMessage]] = {}
    for part in message.walk():
        assert isinstance(part, EmailMessage)
        found.setdefault(part.get_content_type(), []).append(part)
    return found


# ---------------------------------------------------------------- the message
def test_message_has_inline_steps_with_captions_and_attachments(start_smtp: Callable[..., SmtpServer]) -> None:
    smtp = start_smtp()
    bundle = report_bundle(steps=3)
    connector = plain(smtp.port, subject_prefix="[ShowDesk] ")

    ticket = connector.submit(bundle)

    sender, recipients, _raw = smtp.mailbox.messages[0]
    assert (sender, recipients) == (SENDER, [HELPDESK])
    message = smtp.mailbox.only()
    report = bundle.report
    assert message["Subject"] == f"[ShowDesk] {report.subject()}"
    assert message["From"] == SENDER and message["To"] == HELPDESK
    assert message["Reply-To"] == "Ann Example <ann@example.org>"
    assert message["Message-ID"] == f"<showdesk-report-{report.id}@example.org>"
    assert message["X-ShowDesk-Report-Id"] == str(report.id)
    assert ticket.id == f"showdesk-report-{report.id}@example.org" and ticket.report_id == report.id
    assert message.get_content_type() == "multipart/mixed"

    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    html_source = html.get_content()
    related = {part["Content-ID"].strip("<>"): part for part in parts_by_type(message)["image/png"]}
    assert len(related) == 3
    for number, step in enumerate(report.steps, start=1):
        assert f"{number}. {step.caption}" in text.get_content()
        assert step.caption in html_source
        cid = next(c for c, part in related.items() if part.get_filename() == attachment_name(step.image.path))
        assert f'src="cid:{cid}"' in html_source
        inline = related[cid]
        assert inline.get_content_disposition() == "inline"
        assert inline["Content-Description"] == step.caption
        assert hashlib.sha256(inline.get_content()).hexdigest() == step.image.sha256
    assert "[critical] Disk / is 99 % full" in text.get_content()

    attached = {part.get_filename(): part for part in message.iter_attachments()}
    assert set(attached) == {"attachment-001.txt", "sysinfo.json", f"showdesk-report-{report.id}.json"}
    assert attached["sysinfo.json"].get_content_type() == "application/json"
    assert attached["sysinfo.json"].get_payload(decode=True) == bundle.files[SYSINFO_PATH]
    assert attached["attachment-001.txt"].get_content().encode() == bundle.files["attachments/001.txt"]
    assert attached[f"showdesk-report-{report.id}.json"].get_payload(decode=True) == report.canonical_json()


def test_resending_keeps_the_message_id(start_smtp: Callable[..., SmtpServer]) -> None:
    smtp = start_smtp()
    bundle = report_bundle(steps=1)
    connector = plain(smtp.port)
    assert connector.submit(bundle) == connector.submit(bundle)
    ids = {email.message_from_bytes(raw)["Message-ID"] for _s, _r, raw in smtp.mailbox.messages}
    assert len(smtp.mailbox.messages) == 2 and len(ids) == 1
    assert Capability.IDEMPOTENT not in connector.capabilities  # mail cannot tell a resend from a new one


# ---------------------------------------------------------------- transport security and authentication
def test_starttls_and_auth(start_smtp: Callable[..., SmtpServer], pki: Pki) -> None:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"kiosk", b"s3cret")
        return AuthResult(success=ok, handled=False)

    smtp = start_smtp(tls_context=pki.server_context(), require_starttls=True, authenticator=authenticate,
                      auth_require_tls=True)
    smtp.mailbox.logins.append("")

    def connector(password: str | None, ca: Path | None = pki.ca_file) -> SMTPConnector:
        return SMTPConnector("127.0.0.1", port=smtp.port, security="starttls", sender=SENDER, recipients=[HELPDESK],
                             username="kiosk", password=lambda: password, ca_bundle=str(ca) if ca else None)

    connector("s3cret").submit(report_bundle(steps=1))
    assert len(smtp.mailbox.messages) == 1
    with pytest.raises(AuthError, match=r"token refused by SMTP server 127\.0\.0\.1:\d+ \(535\)"):
        connector("wrong").submit(report_bundle(steps=1))
    with pytest.raises(AuthError, match="no password for kiosk"):
        connector(None).submit(report_bundle(steps=1))
    # A server certificate from a CA we were not told to trust: refused, retried later, nothing sent.
    with pytest.raises(TransientError, match="certificate"):
        connector("s3cret", ca=None).submit(report_bundle(steps=1))
    assert len(smtp.mailbox.messages) == 1


# ---------------------------------------------------------------- TLS failures in plain words
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
RAW_WORDS = ("SSLError", "SSLCertVerificationError", "CERTIFICATE_VERIFY_FAILED", "_ssl.c", "errno", "[SSL")


@dataclass
class MailCertificates:
    """A CA of its own, and server certificates for 127.0.0.1: one self-signed, one it signed that expired."""

    ca_file: Path
    self_signed: ssl.SSLContext
    expired: ssl.SSLContext
    expired_on: dt.datetime


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ShowDesk Mail Tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _server_context(directory: Path, stem: str, common_name: str, *, not_before: dt.datetime,
                    not_after: dt.datetime, issuer: tuple[ec.EllipticCurvePrivateKey, x509.Name] | None
                    ) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    signer, issuer_name = issuer if issuer is not None else (key, _name(common_name))
    cert = (
        x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(issuer_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(not_before).not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(signer, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@pytest.fixture(scope="module")
def mail_certificates(tmp_path_factory: pytest.TempPathFactory) -> MailCertificates:
    directory = tmp_path_factory.mktemp("smtp-tls-facts")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("ShowDesk Mail Test CA")
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=400)).not_valid_after(NOW + dt.timedelta(days=400))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = directory / "mail-ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    expired_on = NOW - dt.timedelta(days=2)
    return MailCertificates(
        ca_file=ca_file,
        self_signed=_server_context(directory, "self-signed", "mail.self-signed.test",
                                    not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=30),
                                    issuer=None),
        expired=_server_context(directory, "expired", "mail.expired.test", not_before=NOW - dt.timedelta(days=90),
                                not_after=expired_on, issuer=(ca_key, ca_name)),
        expired_on=expired_on,
    )


def _start_tls_server(start_smtp: Callable[..., SmtpServer], security: str, context: ssl.SSLContext) -> SmtpServer:
    if security == "tls":
        return start_smtp(ssl_context=context)  # TLS from the first byte, as on port 465
    return start_smtp(tls_context=context, require_starttls=True)


def _tls_failure(connector: SMTPConnector) -> TlsError:
    with pytest.raises(TlsError) as raised:
        connector.submit(report_bundle(steps=1))
    return raised.value


def _assert_plain(text: str) -> None:
    assert len(text) <= MAX_REASON_CHARS and text.endswith(".")
    assert text.count("(") == text.count(")")
    assert not any(word in text for word in RAW_WORDS), text


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_a_self_signed_mail_server_certificate_is_named_with_its_facts(
    start_smtp: Callable[..., SmtpServer], mail_certificates: MailCertificates, security: str
) -> None:
    smtp = _start_tls_server(start_smtp, security, mail_certificates.self_signed)
    error = _tls_failure(SMTPConnector("127.0.0.1", port=smtp.port, security=security,  # type: ignore[arg-type]
                                       sender=SENDER, recipients=[HELPDESK]))
    text = error.reason
    assert error.failure.cause is Cause.SELF_SIGNED
    assert "self-signed" in text and "CN=mail.self-signed.test, O=ShowDesk Mail Tests" in text
    assert f"valid {(NOW - dt.timedelta(days=1)):%Y-%m-%d} to {(NOW + dt.timedelta(days=30)):%Y-%m-%d}" in text
    assert "host asked for: 127.0.0.1" in text and "no CA bundle configured" in text and "Set ca_bundle" in text
    _assert_plain(text)
    assert smtp.mailbox.messages == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_an_expired_mail_server_certificate_says_a_ca_bundle_cannot_fix_it(
    start_smtp: Callable[..., SmtpServer], mail_certificates: MailCertificates, security: str
) -> None:
    smtp = _start_tls_server(start_smtp, security, mail_certificates.expired)
    error = _tls_failure(SMTPConnector("127.0.0.1", port=smtp.port, security=security,  # type: ignore[arg-type]
                                       sender=SENDER, recipients=[HELPDESK],
                                       ca_bundle=str(mail_certificates.ca_file)))
    text = error.reason
    assert error.failure.cause is Cause.EXPIRED
    assert f"expired on {mail_certificates.expired_on:%Y-%m-%d %H:%M} UTC" in text
    assert "CN=mail.expired.test" in text and "issued by CN=ShowDesk Mail Test CA" in text
    assert "CA bundle used:" in text and "mail-ca.pem" in text
    assert "A CA bundle cannot fix that" in text and "Set ca_bundle" not in text
    _assert_plain(text)
    assert smtp.mailbox.messages == []


class _NoSecondLook(SMTPConnector):
    """A server that cannot be asked twice (its certificate fetch fails), as a mail gateway that limits connections."""

    def _presented_certificate(self) -> bytes:
        raise OSError("connection refused")


def test_without_the_certificate_the_verification_code_still_names_the_cause(
    start_smtp: Callable[..., SmtpServer], mail_certificates: MailCertificates, tmp_path: Path
) -> None:
    smtp = _start_tls_server(start_smtp, "starttls", mail_certificates.expired)
    connector = _NoSecondLook("127.0.0.1", port=smtp.port, security="starttls", sender=SENDER,
                              recipients=[HELPDESK], ca_bundle=str(mail_certificates.ca_file))
    error = _tls_failure(connector)
    assert error.failure.cause is Cause.EXPIRED and error.failure.certificate is None
    assert error.reason.startswith("The help desk's certificate expired (host asked for: 127.0.0.1; CA bundle used:")
    _assert_plain(error.reason)
    # In the outbox: pending, with the plain sentence, never a dead letter.
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _name: connector)
    entry = outbox.put(report_bundle(steps=1), "mail")
    outbox.flush()
    after = outbox.get(entry.id)
    assert after.state is EntryState.PENDING and after.network == "tls" and after.last_error == error.reason


def test_tls_on_a_port_that_speaks_plain_smtp_says_which_setting_fits(start_smtp: Callable[..., SmtpServer]) -> None:
    smtp = start_smtp()
    error = _tls_failure(SMTPConnector("127.0.0.1", port=smtp.port, security="tls", sender=SENDER,
                                       recipients=[HELPDESK]))
    assert error.failure.cause is Cause.NOT_TLS
    assert 'security = "starttls"' in error.reason and "https://" not in error.reason
    _assert_plain(error.reason)


def test_plain_text_auth_to_another_host_is_refused() -> None:
    with pytest.raises(ConfigError, match="password in the clear"):
        SMTPConnector("mail.example.org", security="none", sender=SENDER, recipients=[HELPDESK], username="u")


# ---------------------------------------------------------------- size
def test_message_is_fitted_to_the_size_the_server_announces(start_smtp: Callable[..., SmtpServer]) -> None:
    smtp = start_smtp(data_size_limit=700_000)
    big = screenshot(3, (1920, 1080), noise=(520, 400))
    bundle = report_bundle(screenshots=[big, screenshot(4, (1280, 800))])
    assert len(big) * 4 // 3 > 700_000

    plain(smtp.port).submit(bundle)

    message = smtp.mailbox.only()
    assert len(smtp.mailbox.messages[0][2]) <= 700_000
    step_images = [p for p in message.walk() if p.get_content_maintype() == "image"]
    assert step_images[0].get_content_type() == "image/webp"  # re-encoded to fit
    manifest = next(p for p in message.iter_attachments() if (p.get_filename() or "").startswith("showdesk-report-"))
    payload = manifest.get_payload(decode=True)
    assert isinstance(payload, bytes)
    fitted = type(bundle.report).model_validate_json(payload)
    assert fitted.steps[0].image.sha256 == hashlib.sha256(step_images[0].get_content()).hexdigest()
    assert fitted.steps[1] == bundle.report.steps[1]
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "Changed to fit this ticket system" in body.get_content()


def test_what_cannot_fit_is_refused_naming_the_limit(start_smtp: Callable[..., SmtpServer], tmp_path: Path) -> None:
    smtp = start_smtp(data_size_limit=200_000)
    bundle = report_bundle(steps=1, attachment=b"x" * 300_000)
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _name: plain(smtp.port))
    outbox.put(bundle, "mail")

    result = outbox.flush(force=True)

    assert [e.state for e in result.dead] == [EntryState.DEAD]
    assert "attachment-001.txt (spooler.log)" in (result.dead[0].last_error or "")
    assert "messages up to 195 KB (the SIZE of 195 KB the server announced)" in (result.dead[0].last_error or "")
    assert smtp.mailbox.messages == []


def test_refused_as_too_large_shrinks_once_then_gives_up(start_smtp: Callable[..., SmtpServer]) -> None:
    smtp = start_smtp()
    smtp.mailbox.data_answers = ["552 5.3.4 message size exceeds fixed maximum"]
    bundle = report_bundle(screenshots=[screenshot(5, (1920, 1080), noise=(300, 300))])
    plain(smtp.port).submit(bundle)
    first = smtp.mailbox.only()
    assert next(p for p in first.walk() if p.get_content_maintype() == "image").get_content_type() == "image/webp"

    smtp.mailbox.messages.clear()
    smtp.mailbox.data_answers = ["552 5.3.4 too big"] * 2
    with pytest.raises(TooLargeError, match="refused again after shrinking"):
        plain(smtp.port).submit(bundle)
    assert smtp.mailbox.messages == []


# ---------------------------------------------------------------- other refusals
def test_answers_map_to_the_outbox_rules(start_smtp: Callable[..., SmtpServer]) -> None:
    smtp = start_smtp()
    smtp.mailbox.data_answers = ["451 4.3.0 try again later"]
    with pytest.raises(TransientError, match="451"):
        plain(smtp.port).submit(report_bundle(steps=1))
    smtp.mailbox.refuse_recipients = {HELPDESK}
    with pytest.raises(PermanentError, match="550"):
        plain(smtp.port).submit(report_bundle(steps=1))
    assert smtp.mailbox.messages == []
    with pytest.raises(TransientError, match="cannot reach"):
        plain(free_port()).submit(report_bundle(steps=1))


def test_server_down_then_up_delivers_through_the_outbox(start_smtp: Callable[..., SmtpServer],
                                                         tmp_path: Path) -> None:
    port = free_port()
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _name: plain(port))
    bundle = report_bundle(steps=1)
    outbox.put(bundle, "mail")
    assert [e.state for e in outbox.flush(force=True).retrying] == [EntryState.PENDING]

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        result = outbox.flush(force=True)
    finally:
        controller.stop()
    assert [r.report_id for r in result.delivered] == [str(bundle.report.id)]
    assert email.message_from_bytes(mailbox.messages[0][2])["X-ShowDesk-Report-Id"] == str(bundle.report.id)


def test_created_from_configuration(start_smtp: Callable[..., SmtpServer], monkeypatch: pytest.MonkeyPatch) -> None:
    smtp = start_smtp()
    backend = BackendConfig(
        name="mail", type="smtp", url=f"smtp://127.0.0.1:{smtp.port}",
        options={"security": "none", "from": SENDER, "to": [HELPDESK, "second@example.org"],
                 "max_message_size": "20 MB"},
    )
    connector = create(backend)
    assert (connector.host, connector.port, connector.max_message_size) == ("127.0.0.1", smtp.port, 20_000_000)
    connector.submit(report_bundle(steps=1))
    assert smtp.mailbox.messages[0][1] == [HELPDESK, "second@example.org"]
    with pytest.raises(ConfigError, match=r"\[backends.mail\] needs to ="):
        create(BackendConfig(name="mail", type="smtp", url="smtp://h", options={"from": SENDER}))
    with pytest.raises(ConfigError, match="must not carry a password"):
        create(BackendConfig(name="mail", type="smtp", url="smtp://u:pw@h", options={"from": SENDER, "to": "a@b.c"}))
    assert create(BackendConfig(name="m", type="smtp", url="smtps://mail.example.org",
                                options={"from": SENDER, "to": HELPDESK})).port == 465
