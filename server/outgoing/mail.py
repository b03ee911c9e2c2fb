"""E-mail to the person who reported: ticket received, each public reply, resolved, "you are next".

Only when the report carries the person's address. Each mail is plain text plus simple HTML
(Jinja2, autoescaped), in the ticket's language, with the ticket's capability link and a link
that stops mails for that ticket (also as ``List-Unsubscribe`` with one-click POST, RFC 8058).
No screenshot ever travels in a mail: the link only.

Headers hold only fixed words, the ticket number and the checked address; the person's name is
stripped of control characters before it becomes the display name, so no CR/LF reaches a header.
Each SMTP step is bounded (connect, then every command); a refusal with a 5xx code is final, any
other failure is tried again later by the worker.
"""

from __future__ import annotations

import email.policy
import logging
import smtplib
import socket
import ssl
import unicodedata
from collections.abc import Callable, Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Final

import jinja2

from server.outgoing.channel import PermanentSendError, SendError
from server.outgoing.mail_texts import mail_texts
from server.settings import MailSettings
from server.store import Claimed, Derived, EventRow, TicketRow

log = logging.getLogger("showdesk.server.mail")

MAIL_CHANNEL: Final = "mail"
TEMPLATES: Final = Path(__file__).with_name("templates")
MAX_ADDRESS_CHARS: Final = 254
MAX_DISPLAY_NAME_CHARS: Final = 80
_FALLBACK_DOMAIN: Final = "showdesk.invalid"

# A page URL for the ticket, and the URL that stops mails for it (both carry the capability).
LinkMaker = Callable[[TicketRow], str]


def mail_kind(event: EventRow) -> str | None:
    """The mail a timeline event calls for, if any (internal events never make one)."""
    if event.internal:
        return None
    if event.kind == "created":
        return "received"
    if event.kind == "reply":
        return "reply"
    if event.kind == "status" and event.data.get("to") == "resolved":
        return "resolved"
    if event.kind == "queue" and event.data.get("state") == "called":
        return "next"
    return None


def checked_address(value: str | None) -> str | None:
    """The address as one plain ``local@domain``, or None when it is not one (or could smuggle a header)."""
    if not value:
        return None
    address = value.strip()
    if not address or len(address) > MAX_ADDRESS_CHARS or any(unicodedata.category(c)[0] == "C" for c in address):
        return None
    if address.count("@") != 1 or any(c in address for c in ' <>,;"()[]\\'):
        return None
    local, domain = address.split("@")
    if not local or not domain or "." not in domain.strip("."):
        return None
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError):
        return None
    return address


def display_name(name: str | None) -> str:
    """The person's name fit for a To header: letters, digits, spaces and ``-.'`` only, short.

    Controls and line separators go (no header can be smuggled), and so do the characters with a
    meaning in an address list (``"<>@,;:\\()[]``): some mail programs do not quote a display name,
    and an unquoted ``Eve Bcc: x@y`` could otherwise read as a group holding another address.
    """
    if not name:
        return ""
    kept = "".join(c if unicodedata.category(c)[0] in ("L", "M", "N") or c in "-.'" else " " for c in name)
    return " ".join(kept.split())[:MAX_DISPLAY_NAME_CHARS]


class MailChannel:
    """The "mail" channel of the outgoing queue."""

    def __init__(self, settings: MailSettings, page_url: LinkMaker, stop_url: LinkMaker) -> None:
        self._settings = settings
        self._page_url = page_url
        self._stop_url = stop_url
        self._text = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=False,  # noqa: S701 - the plain-text part: nothing is rendered as markup
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self._html = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,  # every value a person or technician typed is escaped in the HTML part
            undefined=jinja2.StrictUndefined,
        )
        sender_domain = settings.sender.rpartition("@")[2].strip()
        self._domain = sender_domain if checked_address(settings.sender) else _FALLBACK_DOMAIN

    @property
    def name(self) -> str:
        return MAIL_CHANNEL

    @property
    def message_domain(self) -> str:
        return self._domain

    def derive(self, event: EventRow, ticket: TicketRow) -> Sequence[Derived]:
        kind = mail_kind(event)
        if kind is None or (kind == "next" and not ticket.walk_up):
            return []
        recipient = (ticket.reporter_email or "").strip()
        if not recipient:
            return []
        # Kept as given, even when it is no address: the row then fails at once, visible to an admin.
        return [Derived(kind, recipient)]

    # ------------------------------------------------------------ the message
    def compose(self, claimed: Claimed) -> EmailMessage:
        row, ticket = claimed.row, claimed.ticket
        address = checked_address(row.recipient)
        if address is None:
            raise PermanentSendError("the report's e-mail address is not a usable address")
        language = ticket.language if ticket.language in ("en", "de") else "en"
        t = mail_texts(language)
        number = ticket.number
        name = display_name(ticket.reporter_name)
        quote = str(claimed.event.data.get("text", "")) if row.kind == "reply" else ""
        values = {
            "lang": language,
            "t": t,
            "subject": t[f"subject.{row.kind}"].format(number=number),
            "greeting": t["greeting"].format(name=name) if name else t["greeting_anonymous"],
            "lead": t[f"lead.{row.kind}"].format(number=number),
            "quote": quote,
            "link_label": t[f"link.{row.kind}"],
            "page_url": self._page_url(ticket),
            "stop_url": self._stop_url(ticket),
        }
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = self._settings.sender
        message["To"] = Address(display_name=name, addr_spec=address)
        message["Subject"] = values["subject"]
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = row.message_id
        message["Auto-Submitted"] = "auto-generated"
        message["List-Unsubscribe"] = f"<{values['stop_url']}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(self._text.get_template("mail.txt").render(values))
        message.add_alternative(self._html.get_template("mail.html").render(values), subtype="html")
        return message

    # ------------------------------------------------------------ sending
    def send(self, claimed: Claimed) -> None:
        message = self.compose(claimed)
        settings = self._settings
        try:
            client = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(_described(exc, f"cannot reach {settings.host}:{settings.effective_port}")) from None
        try:
            # The envelope names the one checked address, never what a header might be parsed into.
            client.send_message(
                message, from_addr=settings.sender, to_addrs=[str(message["To"].addresses[0].addr_spec)]
            )
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            words = f"the SMTP server refused the recipient ({', '.join(str(c) for c in codes)})"
            if codes and all(code >= 500 for code in codes):
                raise PermanentSendError(words) from None
            raise SendError(words) from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            words = f"the SMTP server refused the mail: {exc.smtp_code} {_reply_text(exc.smtp_error)}"
            if exc.smtp_code >= 500:
                raise PermanentSendError(words) from None
            raise SendError(words) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SendError(_described(exc, "the SMTP conversation broke off")) from None
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()

    def _connect(self) -> smtplib.SMTP:
        settings = self._settings
        context = ssl.create_default_context()
        # Connecting in the constructor also names the host for the certificate check (STARTTLS and TLS).
        client: smtplib.SMTP
        if settings.security == "tls":
            client = smtplib.SMTP_SSL(
                settings.host, settings.effective_port, timeout=settings.connect_timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.effective_port, timeout=settings.connect_timeout_seconds)
        try:
            # The connect timeout covered reaching the server (and TLS on 465); each command now
            # gets its own bound.
            _command_timeout(client, settings.command_timeout_seconds)
            client.ehlo()
            if settings.security == "starttls":
                if not client.has_extn("starttls"):
                    raise SendError(f"{settings.host} offers no STARTTLS; set security to tls or none")
                client.starttls(context=context)
                _command_timeout(client, settings.command_timeout_seconds)
                client.ehlo()
            if settings.user:
                try:
                    client.login(settings.user, settings.password)
                except smtplib.SMTPAuthenticationError as exc:
                    raise SendError(
                        f"the SMTP server refused user {settings.user!r} with this password ({exc.smtp_code})"
                    ) from None
        except BaseException:
            client.close()
            raise
        return client

    def close(self) -> None:
        """Nothing is held between sends: each message opens its own connection."""


def _command_timeout(client: smtplib.SMTP, seconds: float) -> None:
    sock = client.sock
    if isinstance(sock, socket.socket):
        sock.settimeout(seconds)


def _reply_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:200]


def _described(exc: BaseException, what: str) -> str:
    """An error for the admin's list: what failed and why, never more than a line."""
    if isinstance(exc, SendError):
        return str(exc)
    # smtplib turns a read that timed out into SMTPServerDisconnected; the timeout is its context.
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return f"{what}: no answer in time"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"{what}: the server closed the connection"
    if isinstance(exc, ssl.SSLError):
        return f"{what}: TLS failed ({exc.reason or type(exc).__name__})"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{what}: {exc.smtp_code} {_reply_text(exc.smtp_error)}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{what}: {exc.strerror}"
    return f"{what}: {type(exc).__name__}"
