"""The e-mail connector against a real SMTP server on loopback (aiosmtpd), parsing what it received."""

from __future__ import annotations

import email
import email.policy
import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from agent.config import BackendConfig, ConfigError
from agent.connectors.base import AuthError, Capability, PermanentError, TooLargeError, TransientError
from agent.connectors.common import attachment_name
from agent.connectors.smtp import SMTPConnector, create
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
