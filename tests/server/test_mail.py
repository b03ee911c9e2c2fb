"""Mail to the person who reported, from the real server process to a real SMTP server on loopback.

Each mail arrives once with the ticket's working link; a SIGKILL while a mail is being sent
does not lose it or send it twice; an SMTP server that is down is tried again with backoff;
hostile names and replies stay text; the stop link stops one ticket's mails only.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from server.outgoing.mail import checked_address, display_name
from server.outgoing.worker import RetryPolicy
from tests.fixtures.server import ServerProcess, free_port
from tests.fixtures.waiting import wait_until
from tests.server.helpers import Upload, api, make_bundle

SENDER = "helpdesk@example.org"
PERSON = "alice.baker@example.test"
WAIT_SECONDS = 30.0
_LINK_RE = re.compile(r"http://127\.0\.0\.1:\d+/t/[A-Za-z0-9_-]+(?:\?lang=(?:en|de))?")


@dataclass
class Inbox:
    """What the SMTP server received; ``hold`` makes RCPT wait (a mail caught half way)."""

    messages: list[tuple[list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hold: threading.Event | None = None
    held: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        hold = self.hold
        if hold is not None:
            self.held.set()
            await asyncio.get_running_loop().run_in_executor(None, hold.wait, WAIT_SECONDS)
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK: queued"

    def mails(self) -> list[EmailMessage]:
        with self.lock:
            raw = [content for _rcpt, content in self.messages]
        parsed = [email.message_from_bytes(content, policy=email.policy.default) for content in raw]
        return [m for m in parsed if isinstance(m, EmailMessage)]

    def about(self, number: str) -> list[EmailMessage]:
        return [m for m in self.mails() if str(m["Subject"]).startswith(number)]


@dataclass
class Smtp:
    port: int
    inbox: Inbox
    controller: Controller | None = None

    def start(self) -> Smtp:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[Smtp]:
    server = Smtp(free_port(), Inbox())
    yield server
    if server.inbox.hold is not None:
        server.inbox.hold.set()
    server.stop()


def mail_args(port: int, *extra: str) -> list[str]:
    return [
        "--mail-host",
        "127.0.0.1",
        "--mail-port",
        str(port),
        "--mail-security",
        "none",
        "--mail-sender",
        SENDER,
        "--mail-retry-seconds",
        "0.2",
        "--mail-max-retry-seconds",
        "0.5",
        *extra,
    ]


def submit_ticket(server: ServerProcess, token: str, *, language: str = "en", **report: Any) -> dict[str, Any]:
    sent = submit_with_language(server, token, make_bundle(**report), language)
    assert sent.status_code == 201, sent.text
    ticket: dict[str, Any] = sent.json()["ticket"]
    return ticket


def submit_with_language(server: ServerProcess, token: str, bundle: Any, language: str) -> requests.Response:
    upload = Upload.of(bundle)
    body, content_type = upload.encode()
    headers = {
        "Content-Type": content_type,
        "Idempotency-Key": upload.report_id,
        "Accept-Language": language,
        **server.auth(token),
    }
    return requests.post(f"{server.api}/reports", data=body, headers=headers, timeout=30)


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def html_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def page_link(message: EmailMessage) -> str:
    links = _LINK_RE.findall(text_part(message))
    assert links, text_part(message)
    return str(links[0])


def outgoing(server: ServerProcess, token: str, **params: Any) -> list[dict[str, Any]]:
    response = api(server, token, "GET", "/outgoing", params=params)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def reply(server: ServerProcess, technician: str, ticket_id: str, text: str, *, internal: bool = False) -> None:
    response = api(server, technician, "POST", f"/tickets/{ticket_id}/notes", json={"text": text, "internal": internal})
    assert response.status_code in (200, 201), response.text


def set_status(server: ServerProcess, technician: str, ticket_id: str, status: str) -> None:
    response = api(server, technician, "POST", f"/tickets/{ticket_id}/status", json={"status": status})
    assert response.status_code == 200, response.text


# ---------------------------------------------------------------- the mails and their links
def test_received_reply_and_resolved_each_arrive_once_with_a_link_that_opens_the_ticket(
    make_server: Callable[..., ServerProcess], smtp: Smtp
) -> None:
    smtp.start()
    server = make_server(mail_args(smtp.port))
    submitter, technician = server.token("submitter"), server.token("technician")
    ticket = submit_ticket(server, submitter)
    silent = submit_ticket(server, submitter, reporter_email=None)
    number = ticket["number"]

    wait_until(lambda: len(smtp.inbox.about(number)) == 1, "the received mail", WAIT_SECONDS)
    reply(server, technician, ticket["id"], "Which printer is it? The number on its front.")
    reply(server, technician, ticket["id"], "internal: probably the tray", internal=True)
    set_status(server, technician, ticket["id"], "resolved")
    wait_until(lambda: len(smtp.inbox.about(number)) == 3, "the reply and resolved mails", WAIT_SECONDS)

    received, answered, resolved = smtp.inbox.about(number)
    assert "received" in str(received["Subject"])
    assert "answered" in str(answered["Subject"])
    assert "resolved" in str(resolved["Subject"])
    assert "Which printer is it?" in text_part(answered)
    assert all("probably the tray" not in text_part(m) for m in smtp.inbox.mails())
    assert {m["Message-ID"] for m in (received, answered, resolved)}.__len__() == 3
    for message in (received, answered, resolved):
        assert message["To"].addresses[0].addr_spec == PERSON
        assert message["From"] == SENDER
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert not [p for p in message.walk() if p.get_content_maintype() == "image"]  # the link only
        link = page_link(message)
        assert link.split("?")[0] == ticket["url"].split("?")[0]
        page = requests.get(link, timeout=30)
        assert page.status_code == 200
        assert number in page.text
        assert link.split("?")[0] in html_part(message)
    # Nobody to mail for the ticket without an address; the admin view lists the three as sent.
    assert smtp.inbox.about(silent["number"]) == []
    rows = outgoing(server, technician)
    assert sorted((r["ticket"], r["kind"], r["state"], r["attempts"]) for r in rows) == sorted(
        (number, kind, "sent", 1) for kind in ("received", "reply", "resolved")
    )


def test_a_walk_up_hears_it_is_their_turn_in_their_language(
    make_server: Callable[..., ServerProcess], smtp: Smtp
) -> None:
    smtp.start()
    server = make_server(mail_args(smtp.port))
    kiosk, technician = server.token("submitter", site="lobby"), server.token("technician")
    ticket = submit_ticket(server, kiosk, language="de", walk_up=True, site="lobby", kind="kiosk")
    number = ticket["number"]
    wait_until(lambda: len(smtp.inbox.about(number)) == 1, "the received mail", WAIT_SECONDS)

    called = api(server, technician, "POST", "/queue/lobby/next")
    assert called.status_code == 200, called.text

    wait_until(lambda: len(smtp.inbox.about(number)) == 2, "the you-are-next mail", WAIT_SECONDS)
    received, turn = smtp.inbox.about(number)
    assert "erhalten" in str(received["Subject"])
    assert "an der Reihe" in str(turn["Subject"])
    assert page_link(turn).endswith("?lang=de")
    assert requests.get(page_link(turn), timeout=30).status_code == 200


# ---------------------------------------------------------------- a crash while sending
def test_a_mail_cut_off_by_sigkill_arrives_once_after_the_restart(
    make_server: Callable[..., ServerProcess], smtp: Smtp
) -> None:
    smtp.start()
    server = make_server(mail_args(smtp.port))
    submitter, technician = server.token("submitter"), server.token("technician")
    ticket = submit_ticket(server, submitter)
    number = ticket["number"]
    wait_until(lambda: len(smtp.inbox.about(number)) == 1, "the received mail", WAIT_SECONDS)
    smtp.inbox.hold = threading.Event()

    reply(server, technician, ticket["id"], "Please restart the printer.")
    # The reply is saved (the API answered); its mail is claimed and half way through SMTP.
    wait_until(smtp.inbox.held.is_set, "the reply's mail to reach RCPT", WAIT_SECONDS)
    server.kill()
    smtp.inbox.hold.set()
    smtp.inbox.hold = None
    server.start()

    wait_until(lambda: len(smtp.inbox.about(number)) == 2, "the reply's mail after the restart", WAIT_SECONDS)
    resent = smtp.inbox.about(number)[1]
    assert "Please restart the printer." in text_part(resent)
    assert requests.get(page_link(resent), timeout=30).status_code == 200
    rows = outgoing(server, technician)
    reply_row = next(r for r in rows if r["kind"] == "reply")
    assert reply_row["state"] == "sent"
    assert reply_row["attempts"] == 2  # the one cut off, and the one that went
    assert resent["Message-ID"] == reply_row["message_id"]
    # Nothing else goes out later: a new event's mail comes after, and the reply's is not repeated.
    set_status(server, technician, ticket["id"], "resolved")
    wait_until(lambda: len(smtp.inbox.about(number)) == 3, "the resolved mail", WAIT_SECONDS)
    assert [("answered" in str(m["Subject"])) for m in smtp.inbox.about(number)].count(True) == 1


def test_a_reply_saved_just_before_a_sigkill_is_mailed_after_the_restart(
    make_server: Callable[..., ServerProcess], smtp: Smtp
) -> None:
    # SMTP is down while the reply is saved and the server dies: the mail exists only as the
    # timeline event (and maybe a pending row); the restarted server still sends it, once.
    server = make_server(mail_args(smtp.port))
    submitter, technician = server.token("submitter"), server.token("technician")
    ticket = submit_ticket(server, submitter)
    reply(server, technician, ticket["id"], "Is the cable plugged in?")
    server.kill()
    smtp.start()
    server.start()

    number = ticket["number"]
    wait_until(lambda: len(smtp.inbox.about(number)) == 2, "the received and reply mails", WAIT_SECONDS)
    set_status(server, technician, ticket["id"], "resolved")
    wait_until(lambda: len(smtp.inbox.about(number)) == 3, "the resolved mail", WAIT_SECONDS)
    subjects = sorted(str(m["Subject"]) for m in smtp.inbox.about(number))
    assert len(set(subjects)) == 3


# ---------------------------------------------------------------- SMTP down, retries, failed
def test_smtp_down_then_up_delivers_once_after_backoff(make_server: Callable[..., ServerProcess], smtp: Smtp) -> None:
    server = make_server(mail_args(smtp.port))
    submitter, technician = server.token("submitter"), server.token("technician")
    ticket = submit_ticket(server, submitter)

    def tried_twice() -> bool:
        rows = outgoing(server, technician)
        return bool(rows) and rows[0]["attempts"] >= 2 and rows[0]["state"] == "pending"

    wait_until(tried_twice, "two failed attempts while SMTP is down", WAIT_SECONDS)
    row = outgoing(server, technician)[0]
    assert "cannot reach 127.0.0.1" in row["last_error"]
    smtp.start()

    wait_until(lambda: len(smtp.inbox.about(ticket["number"])) == 1, "the mail once SMTP is up", WAIT_SECONDS)
    wait_until(lambda: outgoing(server, technician)[0]["state"] == "sent", "the row marked sent", WAIT_SECONDS)
    assert outgoing(server, technician)[0]["attempts"] >= 3
    set_status(server, technician, ticket["id"], "resolved")
    wait_until(lambda: len(smtp.inbox.about(ticket["number"])) == 2, "the resolved mail", WAIT_SECONDS)
    assert sum("received" in str(m["Subject"]) for m in smtp.inbox.about(ticket["number"])) == 1


def test_a_mail_fails_after_its_last_attempt_and_an_admin_sends_it_again(
    make_server: Callable[..., ServerProcess], smtp: Smtp
) -> None:
    server = make_server(mail_args(smtp.port, "--mail-attempts", "2"))
    submitter, technician, admin = server.token("submitter"), server.token("technician"), server.token("admin")
    ticket = submit_ticket(server, submitter)
    wait_until(
        lambda: [r["state"] for r in outgoing(server, technician)] == ["failed"], "the mail failed", WAIT_SECONDS
    )
    row = outgoing(server, technician, state="failed")[0]
    assert row["attempts"] == 2
    assert api(server, technician, "POST", f"/outgoing/{row['id']}/retry").status_code == 403
    server.stop()
    listed = server.cli("mail", "list", "--json")
    assert [(r["id"], r["state"]) for r in json.loads(listed.stdout)] == [(row["id"], "failed")]
    server.cli("mail", "retry", str(row["id"]))
    smtp.start()
    server.start()

    wait_until(lambda: len(smtp.inbox.about(ticket["number"])) == 1, "the mail sent again", WAIT_SECONDS)
    wait_until(lambda: outgoing(server, admin)[0]["state"] == "sent", "the row marked sent", WAIT_SECONDS)
    assert "sent" in server.cli("mail", "list").stdout


# ---------------------------------------------------------------- hostile text
def test_a_hostile_name_and_reply_are_text_in_the_html_and_harmless_in_headers(
    make_server: Callable[..., ServerProcess], smtp: Smtp
) -> None:
    smtp.start()
    server = make_server(mail_args(smtp.port))
    submitter, technician = server.token("submitter"), server.token("technician")
    # The report schema refuses CR/LF in a name; a line separator, bidi controls and markup remain.
    name = 'Eve\u2028Bcc: victim@example.org\u2029Subject: pwned\u202e <script>alert(1)</script>"><img src=x>'
    ticket = submit_ticket(server, submitter, reporter_name=name)
    hostile = (
        '<script>alert("x")</script>"><img src=x onerror=alert(1)><a href="javascript:alert(1)">'
        "\u202eevil\r\nBcc: victim@example.org"
    )
    reply(server, technician, ticket["id"], hostile)
    number = ticket["number"]
    wait_until(lambda: len(smtp.inbox.about(number)) == 2, "the two mails", WAIT_SECONDS)

    with smtp.inbox.lock:
        envelopes = [rcpt for rcpt, _content in smtp.inbox.messages]
        raw = [content for _rcpt, content in smtp.inbox.messages]
    assert envelopes == [[PERSON], [PERSON]]
    for content, message in zip(raw, smtp.inbox.about(number), strict=True):
        head = content.split(b"\r\n\r\n", 1)[0]
        assert not re.search(rb"(?im)^bcc:", head)
        assert len(re.findall(rb"(?im)^subject:", head)) == 1
        assert "victim@example.org" not in str(message["To"])
        assert [a.addr_spec for a in message["To"].addresses] == [PERSON]
        html = html_part(message)
        assert "<script>" not in html and "<img src=x" not in html and 'href="javascript:' not in html
    answered = html_part(smtp.inbox.about(number)[1])
    assert "&lt;script&gt;" in answered
    assert "onerror=alert(1)&gt;" in answered
    assert smtp.inbox.about(number)[0]["To"].addresses[0].display_name == (
        "Eve Bcc victim example.org Subject pwned script alert 1 script img src x"
    )


def test_an_address_or_name_that_could_smuggle_a_header_is_refused_or_cleaned() -> None:
    assert checked_address("alice@example.org") == "alice@example.org"
    for bad in ("a@example.org\r\nBcc: b@example.org", "a@b", "a@@example.org", "Alice <a@example.org>", "", None):
        assert checked_address(bad) is None
    assert display_name("Eve\r\nBcc: x@y\u202e") == "Eve Bcc x y"
    assert display_name("Anna-Lena O'Brien") == "Anna-Lena O'Brien"
    assert display_name("Müller, Jürgen") == "Müller Jürgen"


def test_retries_back_off_exponentially_up_to_a_bound_then_stop() -> None:
    policy = RetryPolicy(first=30, longest=3600, attempts=10)
    assert [policy.retry_in(n) for n in range(1, 10)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert policy.retry_in(10) is None


# ---------------------------------------------------------------- stopping mails
def test_the_stop_link_stops_mails_for_that_ticket_only(make_server: Callable[..., ServerProcess], smtp: Smtp) -> None:
    smtp.start()
    server = make_server(mail_args(smtp.port))
    submitter, technician = server.token("submitter"), server.token("technician")
    first, second, third = (submit_ticket(server, submitter) for _ in range(3))
    wait_until(
        lambda: all(len(smtp.inbox.about(t["number"])) == 1 for t in (first, second, third)),
        "the received mails",
        WAIT_SECONDS,
    )
    received = smtp.inbox.about(first["number"])[0]
    stop_url = str(received["List-Unsubscribe"]).strip("<>")
    assert stop_url.startswith(first["url"].split("?")[0] + "/mail-stop")
    assert stop_url in text_part(received)

    # Opening the link (as a mail scanner would) stops nothing; the page's button does.
    shown = requests.get(stop_url, timeout=30)
    assert shown.status_code == 200
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    token = re.search(r'name="form" value="([^"]+)"', shown.text)
    assert token is not None
    assert requests.post(stop_url, data={"form": "forged"}, timeout=30).status_code == 400
    stopped = requests.post(stop_url, data={"form": token.group(1)}, timeout=30)
    assert stopped.status_code == 200
    # A mail program's one-click unsubscribe (RFC 8058) for the third ticket.
    third_stop = str(smtp.inbox.about(third["number"])[0]["List-Unsubscribe"]).strip("<>")
    assert requests.post(third_stop, data={"List-Unsubscribe": "One-Click"}, timeout=30).status_code == 200
    # Another ticket's secret does not stop this one: a wrong link is the not-found page.
    assert requests.post(stop_url.replace("/t/", "/t/x"), data={"form": token.group(1)}, timeout=30).status_code == 404

    for ticket in (first, third, second):
        reply(server, technician, ticket["id"], f"About {ticket['number']}: fixed?")
    wait_until(lambda: len(smtp.inbox.about(second["number"])) == 2, "the reply on the other ticket", WAIT_SECONDS)
    # The timeline is read in order: by the time the second ticket's reply is mailed, the stopped
    # tickets' replies (recorded before it) were passed over.
    wait_until(
        lambda: (
            {r["ticket"]: r["state"] for r in outgoing(server, technician, limit=10) if r["kind"] == "reply"}
            == {second["number"]: "sent"}
        ),
        "only the other ticket's reply mailed",
        WAIT_SECONDS,
    )
    assert len(smtp.inbox.about(first["number"])) == 1
    assert len(smtp.inbox.about(third["number"])) == 1
    # The page itself keeps working.
    assert requests.get(first["url"], timeout=30).status_code == 200


# ---------------------------------------------------------------- settings: the file, the password, timeouts
def authenticating_smtp(port: int, inbox: Inbox, logins: list[tuple[str, str]]) -> Controller:
    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=data.password == b"s3cret-from-the-keyring", handled=False)

    # Loopback only: plain AUTH is allowed here so the test needs no certificate.
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False)
    controller.start()
    return controller


@pytest.mark.parametrize("source", ["keyring", "environment"])
def test_mail_settings_come_from_the_file_and_the_password_from_the_keyring_or_the_environment(
    tmp_path: Path, source: str
) -> None:
    inbox, logins = Inbox(), list[tuple[str, str]]()
    port = free_port()
    controller = authenticating_smtp(port, inbox, logins)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[server.mail]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\nsender = "{SENDER}"\n'
        'user = "showdesk"\n',
        encoding="utf-8",
    )
    keyring_file = tmp_path / "keyring.json"
    env = {"SHOWDESK_CONFIG": str(config), "SHOWDESK_TEST_KEYRING": str(keyring_file)}
    if source == "keyring":
        keyring_file.write_text(json.dumps({"showdesk-server\0smtp-password": "s3cret-from-the-keyring"}))
        env["SHOWDESK_SMTP_PASSWORD"] = ""
    else:
        env["SHOWDESK_SMTP_PASSWORD"] = "s3cret-from-the-keyring"
    server = ServerProcess(tmp_path / "data", env=env)
    try:
        server.start()
        ticket = submit_ticket(server, server.token("submitter"))
        wait_until(lambda: len(inbox.about(ticket["number"])) == 1, "the mail through a login", WAIT_SECONDS)
        assert logins == [("showdesk", "s3cret-from-the-keyring")]
        assert "s3cret" not in server.log_text()
    finally:
        server.stop()
        controller.stop()


def test_a_password_in_the_configuration_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[server.mail]\nhost = "127.0.0.1"\npassword = "hunter2"\n', encoding="utf-8")
    server = ServerProcess(tmp_path / "data", env={"SHOWDESK_CONFIG": str(config)})

    result = server.cli("mail", "list", check=False)

    assert result.returncode == 5
    assert "SHOWDESK_SMTP_PASSWORD" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_a_silent_smtp_server_is_a_failed_attempt_within_the_timeout(
    make_server: Callable[..., ServerProcess],
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts (the kernel does) and never says a word
        port = silent.getsockname()[1]
        server = make_server(mail_args(port, "--mail-connect-timeout", "0.3", "--mail-command-timeout", "0.3"))
        technician = server.token("technician")
        submit_ticket(server, server.token("submitter"))

        def timed_out() -> bool:
            rows = outgoing(server, technician)
            return bool(rows) and rows[0]["attempts"] >= 1 and rows[0]["state"] == "pending"

        wait_until(timed_out, "an attempt that timed out", WAIT_SECONDS)
        assert "no answer in time" in outgoing(server, technician)[0]["last_error"]


def test_starttls_is_the_default_and_its_certificate_is_verified(tmp_path: Path) -> None:
    from tests.connectors.helpers import make_pki

    pki = make_pki(tmp_path / "pki")
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=pki.server_context(), require_starttls=True
    )
    controller.start()
    args = ["--mail-host", "127.0.0.1", "--mail-port", str(port), "--mail-sender", SENDER]
    args += ["--mail-retry-seconds", "0.2", "--mail-max-retry-seconds", "0.5"]
    # Without the test CA the certificate is refused: a failed attempt, nothing sent in clear.
    untrusting = ServerProcess(tmp_path / "untrusting", extra_args=args)
    trusting = ServerProcess(tmp_path / "trusting", extra_args=args, env={"SSL_CERT_FILE": str(pki.ca_file)})
    try:
        untrusting.start()
        technician = untrusting.token("technician")
        submit_ticket(untrusting, untrusting.token("submitter"))

        def refused() -> bool:
            rows = outgoing(untrusting, technician)
            return bool(rows) and rows[0]["attempts"] >= 1 and "TLS failed" in (rows[0]["last_error"] or "")

        wait_until(refused, "the unverified certificate refused", WAIT_SECONDS)
        untrusting.stop()
        trusting.start()
        ticket = submit_ticket(trusting, trusting.token("submitter"))
        wait_until(lambda: len(inbox.about(ticket["number"])) == 1, "the mail over STARTTLS", WAIT_SECONDS)
        assert inbox.mails()[0]["To"].addresses[0].addr_spec == PERSON
    finally:
        untrusting.stop()
        trusting.stop()
        controller.stop()


def test_tls_from_the_first_byte_delivers_with_a_verified_certificate(tmp_path: Path) -> None:
    from tests.connectors.helpers import make_pki

    pki = make_pki(tmp_path / "pki")
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=pki.server_context())
    controller.start()
    args = ["--mail-host", "127.0.0.1", "--mail-port", str(port), "--mail-security", "tls", "--mail-sender", SENDER]
    server = ServerProcess(tmp_path / "data", extra_args=args, env={"SSL_CERT_FILE": str(pki.ca_file)})
    try:
        server.start()
        ticket = submit_ticket(server, server.token("submitter"))
        wait_until(lambda: len(inbox.about(ticket["number"])) == 1, "the mail over TLS", WAIT_SECONDS)
    finally:
        server.stop()
        controller.stop()


def test_a_waiting_mail_of_a_ticket_stopped_meanwhile_is_dropped_not_sent(tmp_path: Path) -> None:
    from server.store import Derived, NewTicket, Store

    store = Store(tmp_path / "data")
    new = NewTicket(
        report_id="6f0c3a52-3d0e-4c55-9a43-5b1f7d0e2c11",
        fingerprint="f" * 64,
        manifest='{"created_at": "2026-01-01T00:00:00+00:00"}',
        subject="Printer",
        description="Printer",
        category="Printing",
        source_kind="agent",
        source_id="pc-1",
        site=None,
        reporter_name=None,
        reporter_email=PERSON,
        walk_up=False,
        step_count=0,
        attachment_count=0,
        self_help_articles=[],
        files=[],
    )
    queue = store.outgoing

    def rule(event: Any, ticket: Any) -> list[Derived]:
        return [Derived("reply", PERSON)] if event.kind == "reply" else []

    queue.derive("mail", rule, max_age=3600, message_domain="example.org")
    ticket, _created = store.create_ticket(new, "kiosk-1")
    store.add_note(ticket.id, "Fixed?", internal=False, actor="tech")
    assert queue.derive("mail", rule, max_age=3600, message_domain="example.org") == 1
    assert queue.stop(ticket.id, "mail") is True
    assert queue.stop(ticket.id, "mail") is False  # stopping twice changes nothing

    assert queue.claim_due("mail", at=time.time() + 1) is None

    assert [(r.state, r.attempts) for r in queue.list_rows()] == [("dropped", 0)]
    # Another channel of the same ticket is not stopped by the mail stop.
    assert not queue.is_stopped(ticket.id, "webhook")
    store.close()
