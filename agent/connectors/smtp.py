"""The e-mail connector: a report as one MIME message to a help desk's mail gateway.

Most help desks (Request Tracker, Zammad, osTicket, Freshdesk…) make tickets of the mail they
receive, so this reaches systems ShowDesk has no API connector for. The message is::

    multipart/mixed
      multipart/alternative
        text/plain              the readable body (body.render), captions and system information
        multipart/related
          text/html             the same, with each step shown inline under its caption
          image/… (inline)      one per step, Content-ID referenced by the HTML
      text/plain; attachment    extra files the person added
      application/json          sysinfo.json, and the manifest (showdesk-report-<id>.json)

The Message-ID is made from the report id (``<showdesk-report-<id>@<sender's domain>>``), so a
resent report carries the same one and gateways that drop duplicates can. E-mail has no way
to say "this one already arrived", so the connector does not claim ``IDEMPOTENT``.

Transport: STARTTLS (default, port 587), implicit TLS (``smtps://``, port 465) or none (only
to this machine), certificate checks always on (``ca_bundle`` to trust a private CA), AUTH
with ``username`` from the configuration and the password from the keyring (``token_for``).
The server's advertised SIZE bounds the message: the report is fitted to it before sending.

A TLS failure is said in plain words with the certificate's facts (``agent.connectors.tls_facts``),
never as the exception's text: the certificate is read in a second connection that goes as far as
STARTTLS (or straight into TLS on port 465) and no further, without verification, sending nothing
but EHLO and STARTTLS; if that fails, OpenSSL's verification code alone names the cause.
"""

from __future__ import annotations

import contextlib
import email.policy
import logging
import smtplib
import ssl
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import unquote, urlsplit

from agent.bundle import ReportBundle
from agent.config import ConfigError
from agent.connectors.base import (
    AuthError,
    Capability,
    Connector,
    ConnectorError,
    PermanentError,
    ProgressCallback,
    TokenSource,
    TooLargeError,
    TransientError,
    secret_from,
)
from agent.connectors.body import render
from agent.connectors.common import (
    NeedsAttentionError,
    Options,
    TlsError,
    attachment_name,
    format_size,
    manifest_name,
)
from agent.connectors.fitting import FitResult, Limits, submit_fitted
from agent.connectors.tls_facts import FETCH_TIMEOUT_SECONDS, describe_failure, fetch_certificate
from agent.schema import Report, Ticket

if TYPE_CHECKING:
    from agent.config import BackendConfig

Security = Literal["starttls", "tls", "none"]
SECURITY_CHOICES: Final = ("starttls", "tls", "none")
DEFAULT_PORTS: Final = {"starttls": 587, "tls": 465, "none": 25}
# base64 (4/3) plus a CRLF every 76 characters: what a file weighs inside a message.
MIME_WIRE_RATIO: Final = 4 / 3 * 78 / 76
LOOPBACK: Final = ("127.0.0.1", "::1", "localhost")
MESSAGE_ID_PREFIX: Final = "showdesk-report-"

log = logging.getLogger(__name__)
# CRLF, as SMTP wants (smtplib sends bytes as they are). Headers are not folded at 78: Python's
# folder puts a space on both sides of a fold before an encoded word, which readers then show
# as two; RFC 5322 allows lines up to 998 characters, and bodies are encoded already.
SMTP_POLICY: Final = email.policy.default.clone(linesep="\r\n", max_line_length=998)


def message_id(report: Report, sender: str) -> str:
    """The Message-ID of ``report``'s mail: the same for every send of the same report."""
    domain = sender.rsplit("@", 1)[1] if "@" in sender else "showdesk.invalid"
    return f"<{MESSAGE_ID_PREFIX}{report.id}@{domain}>"


def build_message(
    bundle: ReportBundle,
    *,
    sender: str,
    recipients: Sequence[str],
    notes: Sequence[str] = (),
    subject_prefix: str = "",
    reply_to_reporter: bool = True,
) -> EmailMessage:
    """The MIME message for ``bundle`` (see the module docstring for its shape)."""
    report = bundle.report
    step_cids = {
        step.image.path: f"step-{number:03d}.{report.id.hex}@showdesk"
        for number, step in enumerate(report.steps, start=1)
    }
    body = render(bundle, notes=notes, inline_images={path: f"cid:{cid}" for path, cid in step_cids.items()})
    message = EmailMessage()
    message["Subject"] = f"{subject_prefix}{report.subject()}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    if reply_to_reporter and report.reporter.email:
        message["Reply-To"] = str(Address(display_name=report.reporter.name or "", addr_spec=report.reporter.email))
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(report, sender)
    message["X-ShowDesk-Report-Id"] = str(report.id)
    message.set_content(body.text)
    message.add_alternative(body.html, subtype="html")
    html_part = message.get_payload()[1]  # type: ignore[index]  # the alternative just added
    assert isinstance(html_part, EmailMessage)
    inline = set(step_cids)
    for step in report.steps:
        data = bundle.files[step.image.path]
        maintype, subtype = step.image.media_type.split("/", 1)
        html_part.add_related(
            data, maintype, subtype, cid=f"<{step_cids[step.image.path]}>", disposition="inline",
            filename=attachment_name(step.image.path, report.id),
        )
        related = html_part.get_payload()
        assert isinstance(related, list) and isinstance(related[-1], EmailMessage)
        related[-1]["Content-Description"] = step.caption or "Step"
    for ref in report.files():
        if ref.path in inline:
            continue
        maintype, subtype = (ref.media_type.split("/", 1) if "/" in ref.media_type
                             else ("application", "octet-stream"))
        message.add_attachment(bundle.files[ref.path], maintype, subtype,
                               filename=attachment_name(ref.path, report.id))
    message.add_attachment(bundle.manifest_json(), "application", "json", filename=manifest_name(report.id))
    return message


class SMTPConnector(Connector):
    """Sends each report as one e-mail through an SMTP server."""

    capabilities = frozenset({Capability.SUBMIT})

    def __init__(
        self,
        host: str,
        *,
        port: int | None = None,
        security: Security = "starttls",
        sender: str,
        recipients: Sequence[str],
        username: str | None = None,
        password: TokenSource = None,
        ca_bundle: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        max_message_size: int | None = None,
        subject_prefix: str = "",
        reply_to_reporter: bool = True,
        local_hostname: str | None = None,
    ) -> None:
        if security not in SECURITY_CHOICES:
            raise ConfigError(f"security must be one of {', '.join(SECURITY_CHOICES)}, not {security!r}")
        if not recipients:
            raise ConfigError("the e-mail backend needs at least one recipient (to = \"helpdesk@example.org\")")
        if username and security == "none" and host not in LOOPBACK:
            raise ConfigError("AUTH without TLS would send the password in the clear; use starttls or tls")
        self.host = host
        self.port = port or DEFAULT_PORTS[security]
        self.security: Security = security
        self.sender = sender
        self.recipients = list(recipients)
        self.username = username
        self._password = password
        self.ca_bundle = ca_bundle
        self._timeouts = (connect_timeout, read_timeout)
        self.max_message_size = max_message_size
        self.subject_prefix = subject_prefix
        self.reply_to_reporter = reply_to_reporter
        self.local_hostname = local_hostname

    @property
    def system(self) -> str:
        return f"SMTP server {self.host}:{self.port}"

    # ------------------------------------------------------------ connection
    def _tls_context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise NeedsAttentionError(f"ca_bundle {self.ca_bundle!r} cannot be read: {exc}",
                                      system=self.system) from exc

    def _connect(self) -> smtplib.SMTP:
        connect_timeout, read_timeout = self._timeouts
        server: smtplib.SMTP
        if self.security == "tls":
            server = smtplib.SMTP_SSL(self.host, self.port, local_hostname=self.local_hostname,
                                      timeout=connect_timeout, context=self._tls_context())
        else:
            server = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=connect_timeout)
        try:
            if server.sock is not None:
                server.sock.settimeout(read_timeout)
            server.ehlo()
            if self.security == "starttls":
                if not server.has_extn("starttls"):
                    raise NeedsAttentionError(f"{self.system} does not offer STARTTLS; set security = \"tls\" "
                                              "if it speaks TLS from the start", system=self.system)
                server.starttls(context=self._tls_context())
                server.ehlo()
            if self.username:
                password = secret_from(self._password, system=self.system, what=f"password for {self.username}")
                server.login(self.username, password)
        except BaseException:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                server.close()
            raise
        return server

    def _tls_error(self, exc: ssl.SSLError) -> TlsError:
        """The failure in plain words, with the facts of the certificate that answered."""
        scheme = "smtps" if self.security == "tls" else "smtp"
        host = f"[{self.host}]" if ":" in self.host else self.host
        failure = describe_failure(
            exc,
            f"{scheme}://{host}:{self.port}",
            system=self.system,
            ca_bundle=self.ca_bundle,
            timeout=min(self._timeouts[0], FETCH_TIMEOUT_SECONDS),
            fetch=self._presented_certificate,
        )
        return TlsError(failure)

    def _presented_certificate(self) -> bytes:
        """The DER certificate the server presents, unverified: only read, nothing but EHLO and STARTTLS is sent."""
        timeout = min(self._timeouts[0], FETCH_TIMEOUT_SECONDS)
        if self.security == "tls":
            return fetch_certificate(self.host, self.port, timeout=timeout)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        server = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname, timeout=timeout)
        try:
            server.ehlo()
            server.starttls(context=context)
            der = server.sock.getpeercert(binary_form=True) if isinstance(server.sock, ssl.SSLSocket) else None
        finally:
            server.close()  # no QUIT: nothing more is said over a connection that was never trusted
        if not der:
            raise ValueError("the server presented no certificate")
        return der

    def limits(self, advertised: int | None) -> Limits:
        sizes = [s for s in (advertised, self.max_message_size) if s]
        names = []
        if advertised:
            names.append(f"the SIZE of {format_size(advertised)} the server announced")
        if self.max_message_size:
            names.append(f"max_message_size of {format_size(self.max_message_size)}")
        return Limits(
            system=self.system,
            max_request_bytes=min(sizes) if sizes else None,
            wire_ratio=MIME_WIRE_RATIO,
            request_limit_name=" and ".join(names) or "message size limit",
            request_noun="messages",
        )

    # ------------------------------------------------------------ submit
    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        report = bundle.report
        try:
            server = self._connect()
            try:
                size = server.esmtp_features.get("size", "")
                advertised = int(size) if size.strip().isdigit() and int(size) > 0 else None
                submit_fitted(bundle, self.limits(advertised), lambda fitted: self._send(server, fitted, progress))
            finally:
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    server.quit()
        except ConnectorError:
            raise
        except smtplib.SMTPException as exc:
            raise self._classify(exc) from exc
        except ssl.SSLError as exc:
            raise self._tls_error(exc) from exc
        except OSError as exc:  # refused, reset, timed out (TimeoutError is an OSError)
            raise TransientError(f"cannot reach {self.system}: {exc}", system=self.system) from exc
        return Ticket(
            id=message_id(report, self.sender).strip("<>"),
            number=f"mail-{report.id.hex[:8]}",
            status="sent",
            url="",
            report_id=report.id,
        )

    def _send(self, server: smtplib.SMTP, fitted: FitResult, progress: ProgressCallback | None) -> None:
        message = build_message(
            fitted.bundle, sender=self.sender, recipients=self.recipients, notes=fitted.notes,
            subject_prefix=self.subject_prefix, reply_to_reporter=self.reply_to_reporter,
        )
        data = message.as_bytes(policy=SMTP_POLICY)
        if progress is not None:
            progress(0, len(data))
        try:
            refused = server.sendmail(self.sender, self.recipients, data)
        except smtplib.SMTPException as exc:
            error = self._classify(exc)
            if isinstance(error, TooLargeError):
                with contextlib.suppress(smtplib.SMTPException, OSError):
                    server.rset()  # the same connection takes the smaller message
            raise error from exc
        if refused:
            # Some recipients took it: the report reached the help desk; the rest is worth a log line only.
            log.warning("%s refused %s for report %s", self.system,
                                                ", ".join(refused), fitted.bundle.report.id)
        if progress is not None:
            progress(len(data), len(data))

    def _classify(self, exc: smtplib.SMTPException) -> ConnectorError:
        """SMTP's answer as the error the outbox's retry rules expect."""
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return AuthError(f"token refused by {self.system} ({exc.smtp_code}): {_text(exc.smtp_error)}",
                             system=self.system, status=exc.smtp_code)
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return NeedsAttentionError(f"{self.system} does not support what the configuration asks: {exc}",
                                       system=self.system)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return TransientError(f"{self.system} closed the connection: {exc}", system=self.system)
        code: int | None = None
        text = str(exc)
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            answers = list(exc.recipients.values())
            code = max((c for c, _m in answers), default=None)
            text = "; ".join(f"{rcpt}: {c} {_text(m)}" for rcpt, (c, m) in exc.recipients.items())
            if any(400 <= c < 500 for c, _m in answers):
                code = min(c for c, _m in answers)
        elif isinstance(exc, smtplib.SMTPResponseException):
            code, text = exc.smtp_code, _text(exc.smtp_error)
        if code is None:
            return TransientError(f"{self.system} failed: {text}", system=self.system)
        detail = f"{self.system} answered {code}: {text}"
        if code in (552, 523) or (code >= 500 and "size" in text.lower()):
            return TooLargeError(f"the message is larger than {self.system} accepts ({code}: {text})",
                                 system=self.system, status=code)
        if code in (530, 534, 535, 538):
            return AuthError(f"token refused by {self.system} ({code}): {text}", system=self.system, status=code)
        if 400 <= code < 500:
            return TransientError(detail, system=self.system, status=code)
        return PermanentError(detail, system=self.system, status=code)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def create(backend: BackendConfig, *, role: str = "submitter") -> SMTPConnector:
    """The registry's entry point: ``url = "smtp://mail.example.org:587"`` or ``smtps://…:465``."""
    from agent.credentials import token_for

    options = Options(backend)
    parts = urlsplit(backend.url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(f"{options.where} url must look like smtp://mail.example.org:587 or smtps://…:465")
    if parts.password:
        raise ConfigError(f"{options.where} url must not carry a password; use `showdesk login URL` or SHOWDESK_TOKEN")
    default_security = "tls" if parts.scheme == "smtps" else "starttls"
    security = options.text("security", default_security)
    if security not in SECURITY_CHOICES:
        raise ConfigError(f"{options.where} security must be one of {', '.join(SECURITY_CHOICES)}")
    sender = options.required_text("from")
    recipients = options.strings("to")
    if not recipients:
        raise ConfigError(f"{options.where} needs to = \"helpdesk@example.org\" (or a list)")
    username = options.text("username") or (unquote(parts.username) if parts.username else None)
    return SMTPConnector(
        parts.hostname,
        port=parts.port,
        security=security,  # type: ignore[arg-type]  # checked against SECURITY_CHOICES above
        sender=sender,
        recipients=recipients,
        username=username,
        password=(lambda: token_for(backend, role)) if username else None,
        ca_bundle=backend.ca_bundle,
        connect_timeout=backend.connect_timeout,
        read_timeout=backend.read_timeout,
        max_message_size=options.size("max_message_size", None),
        subject_prefix=options.text("subject_prefix", "") or "",
        reply_to_reporter=options.flag("reply_to_reporter", True),
    )


__all__ = ["SMTPConnector", "build_message", "create", "message_id"]
