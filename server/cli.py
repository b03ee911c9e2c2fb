"""Command line of the built-in server: ``python -m server`` and ``showdesk server``.

    showdesk server [serve] [--host H] [--port P] [--data DIR] [--public-url URL] …
    showdesk server token create --role ROLE --name NAME [--site SITE] [--data DIR]
    showdesk server token list [--all] [--json] [--data DIR]
    showdesk server token revoke NAME_OR_ID [--data DIR]
    showdesk server backup DEST [--data DIR]
    showdesk server restore BACKUP [--data DIR] [--replace]
    showdesk server retention [--days N] [--dry-run] [--json] [--data DIR]
    showdesk server mail list [--state STATE] [--limit N] [--json] [--data DIR]
    showdesk server mail retry ID [--data DIR]
    showdesk server migrate --from DATA_DIR [--database URL] [--blobs URL] [--resume] [--batch-rows N]

Token, backup and retention commands work on the database directly, so they work while
the server runs; a revoked token is refused from its next request on. Restore needs the
server stopped.

Defaults come from the ``[server]`` table of the configuration files (the machine-wide
file, then the user's; the keys are documented in docs/configuration.md); the command
line wins. The server shares only the report schema with the agent, so it reads those few
keys itself rather than through ``agent.config``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import platformdirs

from server.settings import (
    DEFAULT_ANSWER_BURST,
    DEFAULT_ANSWER_PER_MINUTE,
    DEFAULT_BODY_TIMEOUT_SECONDS,
    DEFAULT_DATABASE_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_DATABASE_STATEMENT_TIMEOUT_SECONDS,
    DEFAULT_EVENT_STREAM_SECONDS,
    DEFAULT_HEADER_TIMEOUT_SECONDS,
    DEFAULT_HOST,
    DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS,
    DEFAULT_LINK_DAYS,
    DEFAULT_LINK_GUESS_BURST,
    DEFAULT_LINK_GUESS_PER_MINUTE,
    DEFAULT_LISTEN_BACKLOG,
    DEFAULT_MAIL_ATTEMPTS,
    DEFAULT_MAIL_COMMAND_SECONDS,
    DEFAULT_MAIL_CONNECT_SECONDS,
    DEFAULT_MAIL_MAX_RETRY_SECONDS,
    DEFAULT_MAIL_RETRY_SECONDS,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_EVENT_STREAMS,
    DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_MAX_IMAGE_PIXELS,
    DEFAULT_NOTE_BURST,
    DEFAULT_NOTE_PER_MINUTE,
    DEFAULT_NOTIFY_ATTEMPTS,
    DEFAULT_NOTIFY_CHECK_SECONDS,
    DEFAULT_NOTIFY_MAX_RETRY_SECONDS,
    DEFAULT_NOTIFY_RETRY_SECONDS,
    DEFAULT_NOTIFY_TIMEOUT_SECONDS,
    DEFAULT_PORT,
    DEFAULT_SUBMIT_BURST,
    DEFAULT_SUBMIT_PER_MINUTE,
    MAIL_KEYRING_SERVICE,
    MAIL_KEYRING_USER,
    MAIL_PASSWORD_ENV,
    MAIL_SECURITIES,
    NOTIFY_KEYRING_SERVICE,
    MailSettings,
    NotifySettings,
    NotifyTargetSettings,
    Settings,
    default_data_dir,
    parse_trusted_proxies,
    version,
)

COMMANDS: Final = ("serve", "token", "backup", "restore", "retention", "mail", "migrate")
EXIT_CONFIG: Final = 5
# The states of an outgoing message (server.store.outgoing.OUTGOING_STATES; kept here so the
# parser needs no database import).
OUTGOING_STATE_NAMES: Final = ("pending", "sending", "sent", "failed", "dropped")
DEFAULT_RETENTION_DAYS: Final = 90
# The [server] keys `showdesk server` reads, with their types (documented in agent.config.SETTINGS).
SERVER_KEYS: Final[dict[str, type]] = {
    "host": str,
    "port": int,
    "data_dir": str,
    "public_url": str,
    "blobs": str,
    "database": str,
    "retention_days": int,
    "link_days": int,
    "trusted_proxies": list,
    # [server.mail]: mail to the person who reported (the password never lives in the file).
    "mail.host": str,
    "mail.port": int,
    "mail.security": str,
    "mail.sender": str,
    "mail.user": str,
}


class ConfigFileError(ValueError):
    """A mistake in the [server] table of a configuration file, naming the file and the key."""


def machine_config_path() -> Path:
    """The machine-wide configuration file (the same place as agent.config.machine_config_path)."""
    override = os.environ.get("SHOWDESK_MACHINE_CONFIG")
    if override:
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "ShowDesk" / "config.toml"
    if sys.platform == "darwin":
        return Path("/Library/Application Support/ShowDesk/config.toml")
    return Path("/etc/showdesk/config.toml")


def user_config_path() -> Path:
    override = os.environ.get("SHOWDESK_CONFIG")
    if override:
        return Path(override)
    return platformdirs.user_config_path("showdesk", appauthor=False) / "config.toml"


def configured_server_settings() -> dict[str, Any]:
    """The [server] keys set in the configuration files; the user's file wins over the machine's."""
    values: dict[str, Any] = {}
    for path in (machine_config_path(), user_config_path()):
        try:
            with path.open("rb") as stream:
                table = tomllib.load(stream)
        except FileNotFoundError:
            continue
        except tomllib.TOMLDecodeError as exc:
            raise ConfigFileError(f"{path}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        section = table.get("server", {})
        if not isinstance(section, dict):
            raise ConfigFileError(f"{path}: server must be a table ([server])")
        mail = section.get("mail", {})
        if isinstance(mail, dict) and "password" in mail:
            # A password in a file ends up in backups, support bundles and version control.
            raise ConfigFileError(
                f"{path}: server.mail.password is not read from a file; set {MAIL_PASSWORD_ENV} or store it in "
                f"the keyring (service {MAIL_KEYRING_SERVICE!r}, user {MAIL_KEYRING_USER!r})"
            )
        if "notify" in section:
            # [[server.notify]] tables: the user's file replaces the machine's list as a whole.
            values["notify"] = section["notify"]
        for key, kind in SERVER_KEYS.items():
            holder: Any = section
            *parents, leaf = key.split(".")
            for parent in parents:
                holder = holder.get(parent, {})
                if not isinstance(holder, dict):
                    raise ConfigFileError(f"{path}: server.{parent} must be a table ([server.{parent}])")
            if leaf not in holder:
                continue
            value = holder[leaf]
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ConfigFileError(f"{path}: server.{key} must be {kind.__name__}, got {value!r}")
            values[key] = value
    database = values.get("database", "")
    if database and _has_password(database):
        # Like the SMTP password: a file ends up in backups, support bundles and version control.
        raise ConfigFileError(
            "server.database must not carry a password; set SHOWDESK_DATABASE_PASSWORD, store it in the keyring "
            "(service 'showdesk-server', user 'database-password') or use a ~/.pgpass file"
        )
    if "trusted_proxies" in values:
        try:
            values["trusted_proxies"] = parse_trusted_proxies(values["trusted_proxies"])
        except (ValueError, TypeError, AttributeError) as exc:  # AttributeError: an entry that is not text
            raise ConfigFileError(f"server.trusted_proxies: {exc}".replace(": trusted_proxies:", ":")) from exc
    for key in ("port", "mail.port"):
        port = values.get(key)
        if port is not None and not 1 <= port <= 65535:
            raise ConfigFileError(f"server.{key} {port} is not between 1 and 65535")
    security = values.get("mail.security")
    if security is not None and security not in MAIL_SECURITIES:
        raise ConfigFileError(f"server.mail.security must be one of {', '.join(MAIL_SECURITIES)}, got {security!r}")
    for key in ("retention_days", "link_days"):
        days = values.get(key)
        if days is not None and days < 0:
            raise ConfigFileError(f"server.{key} must be 0 or more, got {days}")
    return values


def _blobs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--blobs",
        default=None,
        metavar="URL",
        help="where attachment files live: s3://bucket/prefix?endpoint=https://host:port for an S3-compatible "
        "store (keys from SHOWDESK_S3_ACCESS_KEY_ID/SHOWDESK_S3_SECRET_ACCESS_KEY or the keyring); "
        "empty: the data directory (default: [server] blobs)",
    )


def _has_password(location: str) -> bool:
    try:
        parts = urlsplit(location)
        return parts.password is not None or "password" in parse_qs(parts.query)
    except ValueError:
        return False


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database",
        default=None,
        metavar="URL",
        help="the ticket database: postgresql://user@host:port/dbname for PostgreSQL (several servers may share "
        "it; the password from SHOWDESK_DATABASE_PASSWORD, the keyring or ~/.pgpass, never the URL); empty: "
        "SQLite in the data directory (default: [server] database)",
    )


def database_location(args: argparse.Namespace, configured: Mapping[str, Any]) -> str:
    """--database, else [server] database, else "" (SQLite in the data directory)."""
    value: str = args.database if getattr(args, "database", None) is not None else configured.get("database", "")
    return value


def _data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"data directory (default: [server] data_dir in the configuration, else {default_data_dir()})",
    )


def _port(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is not between 1 and 65535")
    return port


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return number


def _rate(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number per minute") from None
    if number < 0 or number != number or number == float("inf"):
        raise argparse.ArgumentTypeError(f"{value}: a rate is 0 (no limit) or a positive number per minute")
    return number


def _days(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of days") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} days: retention needs 0 or more days")
    return number


# Retention's orphan sweep: an object no row names is removed once it is this old; never sooner
# than the floor, so an upload whose row is about to commit (slow store, big files) keeps its objects.
DEFAULT_ORPHAN_GRACE_MINUTES: Final = 60
MIN_ORPHAN_GRACE_MINUTES: Final = 10


def _grace_minutes(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of minutes") from None
    if number < MIN_ORPHAN_GRACE_MINUTES:
        raise argparse.ArgumentTypeError(
            f"{value} minutes: orphaned files are removed {MIN_ORPHAN_GRACE_MINUTES} minutes after they were "
            "stored at the soonest (an upload may still be committing its ticket)"
        )
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="showdesk server",
        description="The ShowDesk built-in ticket server. Without a command it serves.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")

    serve = commands.add_parser("serve", help="run the HTTP server (the default)")
    serve.add_argument(
        "--host", default=None, help=f"address to listen on (default: [server] host, else {DEFAULT_HOST})"
    )
    serve.add_argument("--port", type=_port, default=None, help=f"port (default: [server] port, else {DEFAULT_PORT})")
    _data_option(serve)
    _blobs_option(serve)
    _database_option(serve)
    serve.add_argument(
        "--database-connect-timeout",
        type=_positive_int,
        default=DEFAULT_DATABASE_CONNECT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="PostgreSQL: give up a connection attempt after this long (default %(default)s)",
    )
    serve.add_argument(
        "--database-statement-timeout",
        type=_positive_float,
        default=DEFAULT_DATABASE_STATEMENT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="PostgreSQL: cancel a statement that runs longer than this (default %(default)s)",
    )
    serve.add_argument(
        "--trusted-proxies",
        default=None,
        metavar="ADDRESSES",
        help="comma-separated addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For names the "
        "client for per-client limits; loopback is always trusted (default: [server] trusted_proxies, else none)",
    )
    serve.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="base URL in ticket links, e.g. https://help.example.org (default: [server] public_url, else the "
        "listen address)",
    )
    serve.add_argument(
        "--max-body-mb",
        type=_positive_float,
        default=DEFAULT_MAX_BODY_BYTES / (1024 * 1024),
        metavar="MB",
        help="largest report upload in MiB (default %(default)s)",
    )
    serve.add_argument(
        "--max-image-pixels",
        type=_positive_int,
        default=DEFAULT_MAX_IMAGE_PIXELS,
        metavar="N",
        help="largest image in pixels, width × height (default %(default)s)",
    )
    serve.add_argument(
        "--busy-timeout",
        type=_positive_float,
        default=5.0,
        metavar="SECONDS",
        help="how long a request waits for a locked database before answering 503 (default %(default)s)",
    )
    serve.add_argument(
        "--submit-rate",
        type=_rate,
        default=DEFAULT_SUBMIT_PER_MINUTE,
        metavar="PER_MINUTE",
        help="reports one token may submit per minute, sustained; 0: no limit (default %(default)s)",
    )
    serve.add_argument(
        "--submit-burst",
        type=_positive_int,
        default=DEFAULT_SUBMIT_BURST,
        metavar="N",
        help="reports one token may submit at once before --submit-rate applies (default %(default)s)",
    )
    serve.add_argument(
        "--note-rate",
        type=_rate,
        default=DEFAULT_NOTE_PER_MINUTE,
        metavar="PER_MINUTE",
        help="notes and replies one token may add per minute, sustained; 0: no limit (default %(default)s)",
    )
    serve.add_argument(
        "--note-burst",
        type=_positive_int,
        default=DEFAULT_NOTE_BURST,
        metavar="N",
        help="notes and replies one token may add at once before --note-rate applies (default %(default)s)",
    )
    serve.add_argument(
        "--header-timeout",
        type=_positive_float,
        default=DEFAULT_HEADER_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="a request's head must arrive within this time of the connection's start (default %(default)s)",
    )
    serve.add_argument(
        "--body-timeout",
        type=_positive_float,
        default=DEFAULT_BODY_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="longest pause between bytes of a request body before the connection is closed (default %(default)s)",
    )
    serve.add_argument(
        "--keep-alive-timeout",
        type=_positive_float,
        default=DEFAULT_KEEP_ALIVE_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="how long an idle kept-alive connection stays open (default %(default)s)",
    )
    serve.add_argument(
        "--max-connections",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"open connections at most; beyond it the longest idle one is closed, or the new one answered 503 "
        f"(default {DEFAULT_MAX_CONNECTIONS}, fewer if the open-file limit is low)",
    )
    serve.add_argument(
        "--max-header-bytes",
        type=_positive_int,
        default=DEFAULT_MAX_HEADER_BYTES,
        metavar="BYTES",
        help="largest request line plus headers (default %(default)s)",
    )
    serve.add_argument(
        "--backlog",
        type=_positive_int,
        default=DEFAULT_LISTEN_BACKLOG,
        metavar="N",
        help="connections the OS queues before the server accepts them (default %(default)s)",
    )
    serve.add_argument(
        "--link-days",
        type=_days,
        default=None,
        metavar="DAYS",
        help="a requester's link works until this many days after the ticket closes; 0: until it closes "
        f"(default: [server] link_days, else {DEFAULT_LINK_DAYS})",
    )
    serve.add_argument(
        "--link-guess-rate",
        type=_rate,
        default=DEFAULT_LINK_GUESS_PER_MINUTE,
        metavar="PER_MINUTE",
        help="requester links that open nothing, per client address and minute, before it is refused (429); "
        "0: no limit (default %(default)s)",
    )
    serve.add_argument(
        "--link-guess-burst",
        type=_positive_int,
        default=DEFAULT_LINK_GUESS_BURST,
        metavar="N",
        help="misses one address may make at once before --link-guess-rate applies (default %(default)s)",
    )
    serve.add_argument(
        "--answer-rate",
        type=_rate,
        default=DEFAULT_ANSWER_PER_MINUTE,
        metavar="PER_MINUTE",
        help="answers, feedback and ratings per ticket and minute from the requester's page; 0: no limit "
        "(default %(default)s)",
    )
    serve.add_argument(
        "--answer-burst",
        type=_positive_int,
        default=DEFAULT_ANSWER_BURST,
        metavar="N",
        help="posts per ticket at once before --answer-rate applies (default %(default)s)",
    )
    serve.add_argument(
        "--max-event-streams",
        type=_positive_int,
        default=DEFAULT_MAX_EVENT_STREAMS,
        metavar="N",
        help="open live-update streams of requester pages at most (default %(default)s)",
    )
    serve.add_argument(
        "--event-stream-seconds",
        type=_positive_float,
        default=DEFAULT_EVENT_STREAM_SECONDS,
        metavar="SECONDS",
        help="a live-update stream ends after this long; the browser reconnects (default %(default)s)",
    )
    serve.add_argument(
        "--mail-host", default=None, help="SMTP server for mail to the person (default: [server.mail] host; empty: off)"
    )
    serve.add_argument(
        "--mail-port", type=_port, default=None, help="SMTP port (default: 587, 465 for tls, 25 for none)"
    )
    serve.add_argument(
        "--mail-security",
        choices=MAIL_SECURITIES,
        default=None,
        help="starttls (the default), tls (TLS from the first byte, port 465) or none",
    )
    serve.add_argument("--mail-sender", default=None, help="the From address of mails to the person")
    serve.add_argument(
        "--mail-user",
        default=None,
        help=f"SMTP user name; its password comes from {MAIL_PASSWORD_ENV} or the keyring "
        f"(service {MAIL_KEYRING_SERVICE!r}, user {MAIL_KEYRING_USER!r})",
    )
    serve.add_argument(
        "--mail-connect-timeout",
        type=_positive_float,
        default=DEFAULT_MAIL_CONNECT_SECONDS,
        metavar="SECONDS",
        help="seconds to reach the SMTP server, TLS included (default %(default)s)",
    )
    serve.add_argument(
        "--mail-command-timeout",
        type=_positive_float,
        default=DEFAULT_MAIL_COMMAND_SECONDS,
        metavar="SECONDS",
        help="seconds the SMTP server may take to answer each command (default %(default)s)",
    )
    serve.add_argument(
        "--mail-retry-seconds",
        type=_positive_float,
        default=DEFAULT_MAIL_RETRY_SECONDS,
        metavar="SECONDS",
        help="wait before the first retry of a mail; doubles each time (default %(default)s)",
    )
    serve.add_argument(
        "--mail-max-retry-seconds",
        type=_positive_float,
        default=DEFAULT_MAIL_MAX_RETRY_SECONDS,
        metavar="SECONDS",
        help="the longest wait between retries (default %(default)s)",
    )
    serve.add_argument(
        "--mail-attempts",
        type=_positive_int,
        default=DEFAULT_MAIL_ATTEMPTS,
        metavar="N",
        help="attempts before a mail is marked failed (default %(default)s)",
    )
    serve.add_argument(
        "--notify-retry-seconds",
        type=_positive_float,
        default=DEFAULT_NOTIFY_RETRY_SECONDS,
        metavar="SECONDS",
        help="wait before the first retry of a notification; doubles each time (default %(default)s)",
    )
    serve.add_argument(
        "--notify-max-retry-seconds",
        type=_positive_float,
        default=DEFAULT_NOTIFY_MAX_RETRY_SECONDS,
        metavar="SECONDS",
        help="the longest wait between notification retries (default %(default)s)",
    )
    serve.add_argument(
        "--notify-attempts",
        type=_positive_int,
        default=DEFAULT_NOTIFY_ATTEMPTS,
        metavar="N",
        help="attempts before a notification is marked failed (default %(default)s)",
    )
    serve.add_argument(
        "--notify-timeout",
        type=_positive_float,
        default=DEFAULT_NOTIFY_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="seconds a notification target may take to answer one POST (default %(default)s)",
    )
    serve.add_argument(
        "--notify-check-seconds",
        type=_positive_float,
        default=DEFAULT_NOTIFY_CHECK_SECONDS,
        metavar="SECONDS",
        help="how often the walk-up queue is checked for people waiting past a target's threshold "
        "(default %(default)s)",
    )
    serve.add_argument(
        "--no-handover", action="store_true", help="do not write the local hand-over file with fresh tokens"
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    token = commands.add_parser("token", help="create, list or revoke API tokens")
    token_commands = token.add_subparsers(dest="token_command", metavar="{create,list,revoke}", required=True)
    create = token_commands.add_parser("create", help="make a token and print it (once)")
    create.add_argument("--role", required=True, choices=["submitter", "technician", "admin"])
    create.add_argument("--name", required=True, help="a unique name: a kiosk id, a host, a person")
    create.add_argument("--site", default=None, help="the site a kiosk token belongs to (its queue board)")
    _data_option(create)
    _database_option(create)
    listing = token_commands.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--all", action="store_true", help="include revoked tokens")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    _data_option(listing)
    _database_option(listing)
    revoke = token_commands.add_parser("revoke", help="revoke a token by name or id")
    revoke.add_argument("name_or_id")
    _data_option(revoke)
    _database_option(revoke)

    backup = commands.add_parser("backup", help="online, consistent backup of the data directory")
    backup.add_argument("destination", type=Path, metavar="DEST", help="a directory; made if missing")
    _data_option(backup)
    _blobs_option(backup)
    _database_option(backup)

    restore = commands.add_parser(
        "restore", help="verify a backup and make it the data directory (stop the server first)"
    )
    restore.add_argument("source", type=Path, metavar="BACKUP", help="a directory `backup` wrote")
    restore.add_argument(
        "--replace",
        action="store_true",
        help="the data directory already holds a database: move it into before-restore-<time>/ and restore",
    )
    _data_option(restore)
    _blobs_option(restore)
    _database_option(restore)

    retention = commands.add_parser(
        "retention", help="delete the pictures and attachments of tickets closed more than N days ago"
    )
    retention.add_argument(
        "--days",
        type=_days,
        default=None,
        metavar="N",
        help=f"keep files of tickets closed within N days (default: [server] retention_days, else "
        f"{DEFAULT_RETENTION_DAYS})",
    )
    retention.add_argument(
        "--orphan-grace",
        type=_grace_minutes,
        default=DEFAULT_ORPHAN_GRACE_MINUTES,
        metavar="MINUTES",
        help="also delete stored files no ticket names (left by crashes and refused uploads) once they are "
        f"MINUTES old (default: {DEFAULT_ORPHAN_GRACE_MINUTES}, at least {MIN_ORPHAN_GRACE_MINUTES})",
    )
    retention.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
    retention.add_argument("--json", action="store_true", help="machine-readable output")
    _data_option(retention)
    _blobs_option(retention)
    _database_option(retention)

    mail = commands.add_parser(
        "mail",
        help="the mails to people and the notifications to IT ([[server.notify]], shown by target name): "
        "list them with their state, send a failed one again",
    )
    mail_commands = mail.add_subparsers(dest="mail_command", metavar="{list,retry}", required=True)
    mail_list = mail_commands.add_parser("list", help="the newest outgoing mails and notifications and their state")
    mail_list.add_argument("--state", choices=OUTGOING_STATE_NAMES, default=None, help="only mails in this state")
    mail_list.add_argument("--limit", type=_positive_int, default=50, metavar="N", help="at most N (default 50)")
    mail_list.add_argument("--json", action="store_true", help="machine-readable output")
    _data_option(mail_list)
    _database_option(mail_list)
    mail_retry = mail_commands.add_parser("retry", help="send a failed (or dropped) mail again, from its first attempt")
    mail_retry.add_argument("id", type=_positive_int, metavar="ID")
    _data_option(mail_retry)
    _database_option(mail_retry)
    migrate = commands.add_parser(
        "migrate",
        help="move a SQLite + directory installation to PostgreSQL and/or an S3-compatible store, verified",
    )
    from server.migrate import add_arguments as migrate_arguments

    migrate_arguments(migrate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Serving is the default: `showdesk server --port 8765` serves.
    if not args_list or (args_list[0] not in COMMANDS and args_list[0] not in ("-h", "--help", "--version")):
        args_list.insert(0, "serve")
    args = build_parser().parse_args(args_list)
    if args.command == "migrate":
        # Its source and targets are named on the command line only: a migration never guesses them.
        from server.migrate import run as run_migration

        return run_migration(args)
    try:
        configured = configured_server_settings()
    except ConfigFileError as exc:
        print(f"showdesk server: configuration: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    data_dir: Path = (args.data or _configured_data_dir(configured)).expanduser().absolute()
    if args.command == "serve":
        return _serve(args, data_dir, configured)
    if args.command == "token":
        return _token(args, data_dir, configured)
    if args.command == "mail":
        return _mail(args, data_dir, configured)
    if args.command == "retention":
        return _retention(args, data_dir, configured)
    refused = _refuse_postgres(args, configured)
    if refused:
        return refused
    if args.command == "restore":
        return _restore(args, data_dir, configured)
    return _backup(args, data_dir, configured)


def _refuse_postgres(args: argparse.Namespace, configured: Mapping[str, Any]) -> int:
    """Backup and restore copy the SQLite file itself; on PostgreSQL they say what to do instead."""
    location = database_location(args, configured)
    if not location:
        return 0
    if _has_password(location):
        print("showdesk server: --database must not carry a password (use SHOWDESK_DATABASE_PASSWORD)", file=sys.stderr)
        return EXIT_CONFIG
    advice = {
        "backup": "back the database up with PostgreSQL's own tools (pg_dump, or the server's base backups and "
        "WAL archiving) and the bucket by the object store's means",
        "restore": "restore the database with pg_restore (or the server's point-in-time recovery)",
    }[str(args.command)]
    print(f"showdesk server: {args.command} works on a SQLite data directory; the database is on PostgreSQL: "
          f"{advice}", file=sys.stderr)
    return 1


def _configured_data_dir(configured: Mapping[str, Any]) -> Path:
    return Path(configured["data_dir"]) if configured.get("data_dir") else default_data_dir()


def _serve(args: argparse.Namespace, data_dir: Path, configured: Mapping[str, Any]) -> int:
    from server.runner import serve

    try:
        notify = notify_settings(args, configured.get("notify"))
    except ConfigFileError as exc:
        print(f"showdesk server: configuration: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        trusted_proxies = (
            parse_trusted_proxies([p.strip() for p in args.trusted_proxies.split(",") if p.strip()])
            if args.trusted_proxies is not None
            else tuple(configured.get("trusted_proxies", ()))
        )
    except ValueError as exc:
        print(f"showdesk server: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    settings = Settings(
        data_dir=data_dir,
        trusted_proxies=trusted_proxies,
        database=database_location(args, configured),
        database_connect_timeout_seconds=args.database_connect_timeout,
        database_statement_timeout_seconds=args.database_statement_timeout,
        host=args.host if args.host is not None else configured.get("host", DEFAULT_HOST),
        port=args.port if args.port is not None else configured.get("port", DEFAULT_PORT),
        public_url=args.public_url if args.public_url is not None else configured.get("public_url", ""),
        blobs=blobs_location(args, configured),
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        max_image_pixels=args.max_image_pixels,
        busy_timeout_seconds=args.busy_timeout,
        header_timeout_seconds=args.header_timeout,
        body_timeout_seconds=args.body_timeout,
        keep_alive_timeout_seconds=args.keep_alive_timeout,
        max_connections=args.max_connections,
        max_header_bytes=args.max_header_bytes,
        listen_backlog=args.backlog,
        submit_per_minute=args.submit_rate,
        submit_burst=args.submit_burst,
        note_per_minute=args.note_rate,
        note_burst=args.note_burst,
        link_days=args.link_days if args.link_days is not None else configured.get("link_days", DEFAULT_LINK_DAYS),
        link_guess_per_minute=args.link_guess_rate,
        link_guess_burst=args.link_guess_burst,
        answer_per_minute=args.answer_rate,
        answer_burst=args.answer_burst,
        max_event_streams=args.max_event_streams,
        event_stream_seconds=args.event_stream_seconds,
        mail=mail_settings(args, configured),
        notify=notify,
    )
    return serve(settings, handover=not args.no_handover, log_level=args.log_level)


def blobs_location(args: argparse.Namespace, configured: Mapping[str, Any]) -> str:
    """--blobs, else [server] blobs, else "" (the data directory's blobs/)."""
    value: str = args.blobs if args.blobs is not None else configured.get("blobs", "")
    return value


def mail_settings(args: argparse.Namespace, configured: Mapping[str, Any]) -> MailSettings:
    """[server.mail] with the command line's options on top; the password from the environment or the keyring."""

    def pick(option: str, key: str, default: Any) -> Any:
        value = getattr(args, option)
        return value if value is not None else configured.get(key, default)

    host: str = pick("mail_host", "mail.host", "")
    user: str = pick("mail_user", "mail.user", "")
    return MailSettings(
        host=host,
        port=pick("mail_port", "mail.port", None),
        security=pick("mail_security", "mail.security", "starttls"),
        sender=pick("mail_sender", "mail.sender", ""),
        user=user,
        password=smtp_password() if host and user else "",
        connect_timeout_seconds=args.mail_connect_timeout,
        command_timeout_seconds=args.mail_command_timeout,
        retry_seconds=args.mail_retry_seconds,
        max_retry_seconds=args.mail_max_retry_seconds,
        attempts=args.mail_attempts,
    )


def notify_settings(args: argparse.Namespace, tables: Any) -> NotifySettings:
    """[[server.notify]]: the agent's target tables (agent.notify.rules), each URL and secret read now."""
    from agent.notify.rules import RuleError, parse_targets

    if tables is not None and not isinstance(tables, list):
        raise ConfigFileError("server.notify must be tables written [[server.notify]], one per target")
    rule_tables: list[dict[str, Any]] = []
    finer: list[float | None] = []
    for index, table in enumerate(tables or []):
        if not isinstance(table, dict):
            raise ConfigFileError("server.notify must be tables written [[server.notify]], one per target")
        rule_table = dict(table)
        # A server-only key: a threshold finer than whole minutes (a small desk, or a test).
        seconds = rule_table.pop("walkup_seconds", None)
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0):
            raise ConfigFileError(f"server.notify.{index}.walkup_seconds must be a number of seconds above 0")
        finer.append(None if seconds is None else float(seconds))
        rule_tables.append(rule_table)
    try:
        targets = parse_targets(rule_tables or None)
    except RuleError as exc:
        raise ConfigFileError(
            f"server.{exc.key or 'notify'}: {exc}".replace("[[notify]]", "[[server.notify]]")
        ) from exc
    return NotifySettings(
        targets=tuple(
            NotifyTargetSettings(
                target=target,
                url=_notify_secret(target.url.env, target.url.keyring),
                secret=_notify_secret(target.secret.env, target.secret.keyring),
                walkup_seconds=seconds,
            )
            for target, seconds in zip(targets, finer, strict=True)
        ),
        retry_seconds=args.notify_retry_seconds,
        max_retry_seconds=args.notify_max_retry_seconds,
        attempts=args.notify_attempts,
        timeout_seconds=args.notify_timeout,
        check_seconds=args.notify_check_seconds,
    )


def _notify_secret(env: str, keyring_name: str) -> str:
    """The environment variable's value, else the keyring entry's (service showdesk-notify); "" when neither."""
    if env:
        return os.environ.get(env, "")
    if not keyring_name:
        return ""
    import keyring
    import keyring.errors

    try:
        return keyring.get_password(NOTIFY_KEYRING_SERVICE, keyring_name) or ""
    except (keyring.errors.KeyringError, OSError, RuntimeError) as exc:
        # The target's sends then fail visibly in `showdesk server mail list`, naming where the URL is kept.
        print(f"showdesk server: notification secret {keyring_name!r} not read: {type(exc).__name__}", file=sys.stderr)
        return ""


def smtp_password() -> str:
    """SHOWDESK_SMTP_PASSWORD, else the keyring's entry; never a file (empty when neither has one)."""
    from_env = os.environ.get(MAIL_PASSWORD_ENV)
    if from_env:
        return from_env
    import keyring
    import keyring.errors

    try:
        return keyring.get_password(MAIL_KEYRING_SERVICE, MAIL_KEYRING_USER) or ""
    except (keyring.errors.KeyringError, OSError, RuntimeError) as exc:
        # A missing or locked keyring backend: mail then fails to log in, visibly in `mail list`.
        print(f"showdesk server: no SMTP password from the keyring: {type(exc).__name__}", file=sys.stderr)
        return ""


def _mail(args: argparse.Namespace, data_dir: Path, configured: Mapping[str, Any]) -> int:
    from server.store import Store, StoreError

    try:
        store = Store(_existing_or_new(data_dir), database=database_location(args, configured))
    except (StoreError, OSError, ValueError) as exc:
        print(f"showdesk server: {exc}", file=sys.stderr)
        return 1
    try:
        if args.mail_command == "retry":
            row = store.outgoing.retry(args.id)
            print(
                f"mail {row.id} ({row.kind} for {row.ticket_number}) will be sent again; "
                "a running server sends it within 30 s",
                file=sys.stderr,
            )
            return 0
        rows = store.outgoing.list_rows(state=args.state, limit=args.limit)
        if args.json:
            print(json.dumps([_outgoing_json(r) for r in rows], indent=2))
            return 0
        for r in rows:
            when = _iso(r.sent_at) if r.sent_at is not None else f"due {_iso(r.due_at)}"
            error = f"  {r.last_error}" if r.last_error and r.state != "sent" else ""
            print(
                f"{r.id:>6}  {r.state:<8} {r.ticket_number:<10} {r.kind:<9} {r.recipient}  "
                f"attempts {r.attempts}  {when}{error}"
            )
        return 0
    except StoreError as exc:
        print(f"showdesk server: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()


def _outgoing_json(row: Any) -> dict[str, object]:
    return {
        "id": row.id,
        "channel": row.channel,
        "ticket": row.ticket_number,
        "ticket_id": row.ticket_id,
        "kind": row.kind,
        "recipient": row.recipient,
        "state": row.state,
        "attempts": row.attempts,
        "created_at": _iso(row.created_at),
        "due_at": _iso(row.due_at),
        "sent_at": _iso(row.sent_at) if row.sent_at is not None else None,
        "last_error": row.last_error,
        "message_id": row.message_id,
    }


def _token(args: argparse.Namespace, data_dir: Path, configured: Mapping[str, Any]) -> int:
    from server.store import Store, StoreError

    try:
        store = Store(_existing_or_new(data_dir), database=database_location(args, configured))
    except (StoreError, OSError, ValueError) as exc:
        print(f"showdesk server: {exc}", file=sys.stderr)
        return 1
    try:
        action: str = args.token_command
        if action == "create":
            record, secret = store.create_token(args.name, args.role, args.site)
            print(secret)
            print(
                f"created {record.role} token {record.name!r} ({record.id}); it is shown only now",
                file=sys.stderr,
            )
        elif action == "list":
            records = store.list_tokens(include_revoked=args.all)
            if args.json:
                print(json.dumps([_token_json(r) for r in records], indent=2))
            else:
                _print_table(records)
        else:
            record = store.revoke_token(args.name_or_id)
            print(f"revoked {record.role} token {record.name!r} ({record.id})", file=sys.stderr)
    except StoreError as exc:
        print(f"showdesk server: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


def _existing_or_new(data_dir: Path) -> Path:
    from agent.fsutil import make_private_dir

    make_private_dir(data_dir)
    return data_dir


def _token_json(record: object) -> dict[str, object]:
    from server.store import TokenRecord

    assert isinstance(record, TokenRecord)
    return {
        "id": record.id,
        "name": record.name,
        "role": record.role,
        "site": record.site,
        "created_at": _iso(record.created_at),
        "revoked_at": _iso(record.revoked_at) if record.revoked_at is not None else None,
    }


def _print_table(records: Sequence[object]) -> None:
    rows = [_token_json(r) for r in records]
    header = ("ID", "NAME", "ROLE", "SITE", "CREATED", "REVOKED")
    table = [header] + [
        (
            str(r["id"]),
            str(r["name"]),
            str(r["role"]),
            str(r["site"] or "-"),
            str(r["created_at"]),
            str(r["revoked_at"] or "-"),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _backup(args: argparse.Namespace, data_dir: Path, configured: Mapping[str, Any]) -> int:
    from server.backup import BackupError, backup
    from server.store import StoreError

    try:
        summary = backup(data_dir, args.destination.expanduser().absolute(), blobs_location(args, configured))
    except (BackupError, StoreError, OSError) as exc:
        print(f"showdesk server: backup failed: {exc}", file=sys.stderr)
        return 1
    if summary.files_kept_in is not None:
        print(
            f"backed up the database ({summary.tickets} ticket(s)) to {summary.destination}; the "
            f"{summary.blobs_present} file(s) it names are in {summary.files_kept_in} and are NOT copied: back "
            "the bucket up by the store's own means (versioning, replication, the store's snapshots)",
            file=sys.stderr,
        )
        return 0
    print(
        f"backed up {summary.tickets} ticket(s) to {summary.destination}: "
        f"{summary.blobs_copied} file(s) copied, {summary.blobs_present} already there",
        file=sys.stderr,
    )
    return 0


def _restore(args: argparse.Namespace, data_dir: Path, configured: Mapping[str, Any]) -> int:
    from server.backup import BackupError, restore
    from server.store import StoreError

    source: Path = args.source.expanduser().absolute()
    try:
        summary = restore(source, data_dir, replace=args.replace, blobs_location=blobs_location(args, configured))
    except (BackupError, StoreError, OSError) as exc:
        print(f"showdesk server: restore failed, nothing was changed in use: {exc}", file=sys.stderr)
        return 1
    print(
        f"restored {summary.tickets} ticket(s) and {summary.files} file(s) from {source} into {summary.data_dir} "
        f"({summary.blobs_copied} stored file(s) copied, {summary.blobs_present} already there)",
        file=sys.stderr,
    )
    if summary.previous is not None:
        print(f"the database that was there before is kept in {summary.previous}", file=sys.stderr)
    return 0


def _retention(args: argparse.Namespace, data_dir: Path, configured: Mapping[str, Any]) -> int:
    from server.retention import RetentionError, apply_retention
    from server.store import StoreError

    days: int = args.days if args.days is not None else configured.get("retention_days", DEFAULT_RETENTION_DAYS)
    database = database_location(args, configured)
    if _has_password(database):
        print("showdesk server: --database must not carry a password (use SHOWDESK_DATABASE_PASSWORD)", file=sys.stderr)
        return EXIT_CONFIG
    try:
        result = apply_retention(
            data_dir,
            days,
            now=time.time(),
            dry_run=args.dry_run,
            blobs_location=blobs_location(args, configured),
            database=database,
            orphan_grace=args.orphan_grace * 60.0,
        )
    except (RetentionError, StoreError, OSError) as exc:
        print(f"showdesk server: retention failed: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(
            json.dumps(
                {
                    "days": result.days,
                    "cutoff": _iso(result.cutoff),
                    "dry_run": result.dry_run,
                    "blobs_deleted": result.blobs_deleted,
                    "bytes_deleted": result.bytes_deleted,
                    "tickets": [
                        {
                            "number": t.number,
                            "id": t.id,
                            "closed_at": _iso(t.closed_at),
                            "files": [
                                {"path": f.path, "role": f.role, "size": f.size, "sha256": f.sha256, "kept": f.shared}
                                for f in t.files
                            ],
                        }
                        for t in result.tickets
                    ],
                    "orphan_grace_minutes": result.orphan_grace / 60,
                    "orphans_deleted": result.orphans_deleted,
                    "orphan_bytes_deleted": result.orphan_bytes_deleted,
                    "orphans": [
                        {"sha256": o.sha256, "size": o.size, "stored_at": _iso(o.stored_at)} for o in result.orphans
                    ],
                },
                indent=2,
            )
        )
        return 0
    verb = "would delete" if result.dry_run else "deleted"
    for ticket in result.tickets:
        print(f"{ticket.number}  closed {_iso(ticket.closed_at)}")
        for file in ticket.files:
            action = "kept (another ticket still uses these bytes)" if file.shared else verb
            print(f"    {file.path}  {file.size} bytes  {action}")
    doomed = {f.sha256: f.size for t in result.tickets for f in t.deleted}
    print(
        f"{len(result.tickets)} ticket(s) closed before {_iso(result.cutoff)} ({result.days} days): "
        f"{verb} {len(doomed)} stored file(s), {sum(doomed.values())} bytes",
        file=sys.stderr,
    )
    for orphan in result.orphans:
        print(f"orphan {orphan.sha256}  {orphan.size} bytes  stored {_iso(orphan.stored_at)}  {verb}")
    print(
        f"{len(result.orphans)} stored file(s) no ticket names, stored more than {result.orphan_grace / 60:g} "
        f"minutes ago: {verb} {sum(o.size for o in result.orphans)} bytes",
        file=sys.stderr,
    )
    return 0
