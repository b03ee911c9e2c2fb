"""Where the server keeps its data and what it accepts."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Final

import platformdirs

from agent.notify.rules import Target
from agent.schema import MAX_IMAGE_PIXELS

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8765
DEFAULT_MAX_BODY_BYTES: Final = 50 * 1024 * 1024
# Bodies of the JSON calls (status, notes, tokens…) are small; anything bigger is a mistake.
MAX_JSON_BODY_BYTES: Final = 1024 * 1024
DEFAULT_MAX_IMAGE_PIXELS: Final = MAX_IMAGE_PIXELS
# Connection hygiene (server.connection_limits). A request head takes well under a second even on
# a poor Wi-Fi link; a body may pause while a laptop's radio roams, not for half a minute; an idle
# kept-alive connection is cheap to reopen. The connection cap is also shrunk at start to what the
# open-file limit allows, so the server keeps descriptors for its own files.
DEFAULT_HEADER_TIMEOUT_SECONDS: Final = 15.0
DEFAULT_BODY_TIMEOUT_SECONDS: Final = 30.0
DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS: Final = 5.0
DEFAULT_MAX_CONNECTIONS: Final = 2048
DEFAULT_MAX_HEADER_BYTES: Final = 16 * 1024
DEFAULT_LISTEN_BACKLOG: Final = 2048
# Per-token rate limits (server.ratelimit). A kiosk at peak sends a report every few seconds and
# an agent coming back online flushes a few queued ones at once, then one now and then: ten at
# once and one every 3 s after that cover both, while a leaked token can
# no longer fill the disk at line speed. The outbox waits out a 429's Retry-After, so a refusal
# delays, never loses. Notes and replies are typed by a person; a script flooding a timeline is not.
DEFAULT_SUBMIT_PER_MINUTE: Final = 20.0
DEFAULT_SUBMIT_BURST: Final = 10
DEFAULT_NOTE_PER_MINUTE: Final = 30.0
DEFAULT_NOTE_BURST: Final = 10
# The requester's page (server.requester). A link works until this many days after the ticket
# closes (a reopen makes it work again). Guessing links is refused per client address after a
# burst of misses: a person mistypes a link now and then, a script trying secrets does not stop.
# What the person sends from the page is limited per ticket. The live updates (Server-Sent
# Events) are bounded: a comment line keeps proxies from dropping a quiet stream, a stream ends
# after its lifetime (the browser reconnects on its own) and beyond the cap a new one is refused.
DEFAULT_LINK_DAYS: Final = 30
DEFAULT_LINK_GUESS_PER_MINUTE: Final = 6.0
DEFAULT_LINK_GUESS_BURST: Final = 20
DEFAULT_ANSWER_PER_MINUTE: Final = 6.0
DEFAULT_ANSWER_BURST: Final = 5
DEFAULT_MAX_EVENT_STREAMS: Final = 200
DEFAULT_MAX_EVENT_STREAMS_PER_CLIENT: Final = 8
DEFAULT_EVENT_STREAM_SECONDS: Final = 600.0
DEFAULT_HEARTBEAT_SECONDS: Final = 15.0


# Mail to the person (server.outgoing). Each SMTP step is bounded: a connection that takes longer
# than DEFAULT_MAIL_CONNECT_SECONDS, or a command answered later than DEFAULT_MAIL_COMMAND_SECONDS,
# counts as a failed attempt. Retries back off from DEFAULT_MAIL_RETRY_SECONDS, doubling up to
# DEFAULT_MAIL_MAX_RETRY_SECONDS, for DEFAULT_MAIL_ATTEMPTS attempts (about a day), then "failed".
MAIL_SECURITIES: Final = ("starttls", "tls", "none")
DEFAULT_MAIL_PORTS: Final = {"starttls": 587, "tls": 465, "none": 25}
DEFAULT_MAIL_CONNECT_SECONDS: Final = 10.0
DEFAULT_MAIL_COMMAND_SECONDS: Final = 30.0
DEFAULT_MAIL_RETRY_SECONDS: Final = 30.0
DEFAULT_MAIL_MAX_RETRY_SECONDS: Final = 3600.0
DEFAULT_MAIL_ATTEMPTS: Final = 30
# Events older than this when first read (mail was off, or the server was down) are not mailed.
DEFAULT_MAIL_MAX_AGE_SECONDS: Final = 86_400.0
MAIL_PASSWORD_ENV: Final = "SHOWDESK_SMTP_PASSWORD"  # noqa: S105 - the variable's name, not a password
MAIL_KEYRING_SERVICE: Final = "showdesk-server"
MAIL_KEYRING_USER: Final = "smtp-password"


@dataclass(frozen=True)
class MailSettings:
    """[server.mail]: where mail to the person goes out. Off when ``host`` is empty."""

    host: str = ""
    port: int | None = None  # None: 587 for starttls, 465 for tls, 25 for none
    security: str = "starttls"
    sender: str = ""
    user: str = ""
    password: str = field(default="", repr=False)  # from the environment or the keyring, never the file
    connect_timeout_seconds: float = DEFAULT_MAIL_CONNECT_SECONDS
    command_timeout_seconds: float = DEFAULT_MAIL_COMMAND_SECONDS
    retry_seconds: float = DEFAULT_MAIL_RETRY_SECONDS
    max_retry_seconds: float = DEFAULT_MAIL_MAX_RETRY_SECONDS
    attempts: int = DEFAULT_MAIL_ATTEMPTS
    max_age_seconds: float = DEFAULT_MAIL_MAX_AGE_SECONDS

    @property
    def enabled(self) -> bool:
        return bool(self.host)

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_MAIL_PORTS.get(self.security, 587)


# Notifications to IT ([[server.notify]]: Teams, Slack, signed webhooks) go through the same queue
# with the same backoff as mail: from DEFAULT_NOTIFY_RETRY_SECONDS, doubling up to
# DEFAULT_NOTIFY_MAX_RETRY_SECONDS, DEFAULT_NOTIFY_ATTEMPTS attempts; a 429's Retry-After wins
# when it asks for longer. Each POST is bounded by DEFAULT_NOTIFY_TIMEOUT_SECONDS. The walk-up
# queue is looked at every DEFAULT_NOTIFY_CHECK_SECONDS for people waiting past a threshold.
DEFAULT_NOTIFY_RETRY_SECONDS: Final = 30.0
DEFAULT_NOTIFY_MAX_RETRY_SECONDS: Final = 3600.0
DEFAULT_NOTIFY_ATTEMPTS: Final = 30
DEFAULT_NOTIFY_TIMEOUT_SECONDS: Final = 10.0
DEFAULT_NOTIFY_CHECK_SECONDS: Final = 15.0
# An event older than this when first read (the target was added later, the server was down) is not told.
DEFAULT_NOTIFY_MAX_AGE_SECONDS: Final = 3600.0
NOTIFY_KEYRING_SERVICE: Final = "showdesk-notify"  # the agent's service: one keyring entry serves both


@dataclass(frozen=True)
class NotifyTargetSettings:
    """One [[server.notify]] table: its rules, and its URL and secret as read at start (never from the file)."""

    target: Target
    url: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    # A finer walk-up threshold than walkup_minutes (a server-only key); None: walkup_minutes.
    walkup_seconds: float | None = None

    @property
    def walkup_threshold_seconds(self) -> float:
        return self.walkup_seconds if self.walkup_seconds is not None else self.target.walkup_minutes * 60.0


@dataclass(frozen=True)
class NotifySettings:
    targets: tuple[NotifyTargetSettings, ...] = ()
    retry_seconds: float = DEFAULT_NOTIFY_RETRY_SECONDS
    max_retry_seconds: float = DEFAULT_NOTIFY_MAX_RETRY_SECONDS
    attempts: int = DEFAULT_NOTIFY_ATTEMPTS
    timeout_seconds: float = DEFAULT_NOTIFY_TIMEOUT_SECONDS
    check_seconds: float = DEFAULT_NOTIFY_CHECK_SECONDS
    max_age_seconds: float = DEFAULT_NOTIFY_MAX_AGE_SECONDS


@functools.cache
def version() -> str:
    try:
        return metadata.version("showdesk")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def default_data_dir() -> Path:
    return platformdirs.user_data_path("showdesk", appauthor=False) / "server"


# The database ([server] database, --database): empty for SQLite in the data directory, else
# postgresql://user@host:port/dbname (server.store.location). On PostgreSQL a connection attempt
# gives up after DEFAULT_DATABASE_CONNECT_TIMEOUT_SECONDS and a statement after
# DEFAULT_DATABASE_STATEMENT_TIMEOUT_SECONDS (the API answers 503 and the client retries).
DEFAULT_DATABASE_CONNECT_TIMEOUT_SECONDS: Final = 5
DEFAULT_DATABASE_STATEMENT_TIMEOUT_SECONDS: Final = 30.0
DATABASE_PASSWORD_ENV: Final = "SHOWDESK_DATABASE_PASSWORD"  # noqa: S105 - the variable's name, not a password
DATABASE_KEYRING_USER: Final = "database-password"  # the keyring entry (service showdesk-server)


# Reverse proxies ([server] trusted_proxies, --trusted-proxies): the addresses or networks whose
# X-Forwarded-For header names the client. The per-client limits (link guessing, live streams per
# address) count that client instead of the proxy; a header from any other peer is ignored, so a
# client cannot pick its own address. Loopback is always trusted (a proxy on the same machine), as
# before; empty adds nothing else. "*" is refused: it would let anyone reset their own limits.
LOOPBACK_PROXIES: Final = ("127.0.0.1", "::1")


def parse_trusted_proxies(values: Iterable[str]) -> tuple[str, ...]:
    """Addresses and CIDR networks in their normal form; ValueError names the first that is neither."""
    parsed: list[str] = []
    for raw in values:
        value = raw.strip()
        if value == "*":
            raise ValueError("trusted_proxies: '*' would trust a forwarded address from anyone; list the proxies")
        try:
            # strict=False: "10.0.0.7/24" means the proxy's network, as an administrator writes it.
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"trusted_proxies: {value!r} is not an IP address or network (CIDR)") from None
        text = str(network.network_address) if network.num_addresses == 1 else str(network)
        if text not in parsed:
            parsed.append(text)
    return tuple(parsed)


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public_url: str = ""
    blobs: str = ""  # where attachment files live: empty for <data>/blobs, else s3://bucket/prefix?endpoint=…
    database: str = ""  # empty for <data>/showdesk.db (SQLite), else postgresql://user@host:port/dbname
    database_connect_timeout_seconds: int = DEFAULT_DATABASE_CONNECT_TIMEOUT_SECONDS
    database_statement_timeout_seconds: float = DEFAULT_DATABASE_STATEMENT_TIMEOUT_SECONDS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
    busy_timeout_seconds: float = 5.0
    header_timeout_seconds: float = DEFAULT_HEADER_TIMEOUT_SECONDS
    body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT_SECONDS  # the longest pause between body bytes
    keep_alive_timeout_seconds: float = DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS
    max_connections: int | None = None  # None: DEFAULT_MAX_CONNECTIONS, within the open-file limit
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    listen_backlog: int = DEFAULT_LISTEN_BACKLOG
    submit_per_minute: float = DEFAULT_SUBMIT_PER_MINUTE  # 0: no limit
    submit_burst: int = DEFAULT_SUBMIT_BURST
    note_per_minute: float = DEFAULT_NOTE_PER_MINUTE  # 0: no limit
    note_burst: int = DEFAULT_NOTE_BURST
    link_days: int = DEFAULT_LINK_DAYS  # days after the close; 0: the link stops at the close
    link_guess_per_minute: float = DEFAULT_LINK_GUESS_PER_MINUTE  # 0: no limit
    link_guess_burst: int = DEFAULT_LINK_GUESS_BURST
    answer_per_minute: float = DEFAULT_ANSWER_PER_MINUTE  # 0: no limit
    answer_burst: int = DEFAULT_ANSWER_BURST
    max_event_streams: int = DEFAULT_MAX_EVENT_STREAMS
    max_event_streams_per_client: int = DEFAULT_MAX_EVENT_STREAMS_PER_CLIENT
    event_stream_seconds: float = DEFAULT_EVENT_STREAM_SECONDS
    heartbeat_seconds: float = DEFAULT_HEARTBEAT_SECONDS
    trusted_proxies: tuple[str, ...] = ()  # parse_trusted_proxies' output; loopback is trusted anyway
    mail: MailSettings = field(default_factory=MailSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)

    @property
    def listen_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def forwarded_allow_ips(self) -> list[str]:
        """The peers whose X-Forwarded-For is believed: loopback and the trusted proxies."""
        return [*LOOPBACK_PROXIES, *(p for p in self.trusted_proxies if p not in LOOPBACK_PROXIES)]

    @property
    def base_url(self) -> str:
        """The URL people and links use: --public-url, else the listen address."""
        return (self.public_url or self.listen_url).rstrip("/")
