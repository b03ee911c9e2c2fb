"""Command line of the built-in server: ``python -m server`` and ``showdesk server``.

    showdesk server [serve] [--host H] [--port P] [--data DIR] [--public-url URL] …
    showdesk server token create --role ROLE --name NAME [--site SITE] [--data DIR]
    showdesk server token list [--all] [--json] [--data DIR]
    showdesk server token revoke NAME_OR_ID [--data DIR]
    showdesk server backup DEST [--data DIR]

Token and backup commands work on the database directly, so they work while the server
runs; a revoked token is refused from its next request on.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from server.settings import (
    DEFAULT_HOST,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_IMAGE_PIXELS,
    DEFAULT_PORT,
    Settings,
    default_data_dir,
    version,
)

COMMANDS: Final = ("serve", "token", "backup")


def _data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"data directory (default: {default_data_dir()})",
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="showdesk server",
        description="The ShowDesk built-in ticket server. Without a command it serves.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", metavar="{serve,token,backup}")

    serve = commands.add_parser("serve", help="run the HTTP server (the default)")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    _data_option(serve)
    serve.add_argument(
        "--public-url",
        default="",
        metavar="URL",
        help="base URL in ticket links, e.g. https://help.example.org (default: the listen address)",
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
    listing = token_commands.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--all", action="store_true", help="include revoked tokens")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    _data_option(listing)
    revoke = token_commands.add_parser("revoke", help="revoke a token by name or id")
    revoke.add_argument("name_or_id")
    _data_option(revoke)

    backup = commands.add_parser("backup", help="online, consistent backup of the data directory")
    backup.add_argument("destination", type=Path, metavar="DEST", help="a directory; made if missing")
    _data_option(backup)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    # Serving is the default: `showdesk server --port 8765` serves.
    if not args_list or (args_list[0] not in COMMANDS and args_list[0] not in ("-h", "--help", "--version")):
        args_list.insert(0, "serve")
    args = build_parser().parse_args(args_list)
    data_dir: Path = (args.data or default_data_dir()).expanduser().absolute()
    if args.command == "serve":
        return _serve(args, data_dir)
    if args.command == "token":
        return _token(args, data_dir)
    return _backup(args, data_dir)


def _serve(args: argparse.Namespace, data_dir: Path) -> int:
    from server.runner import serve

    settings = Settings(
        data_dir=data_dir,
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        max_image_pixels=args.max_image_pixels,
        busy_timeout_seconds=args.busy_timeout,
    )
    return serve(settings, handover=not args.no_handover, log_level=args.log_level)


def _token(args: argparse.Namespace, data_dir: Path) -> int:
    from server.store import Store, StoreError

    try:
        store = Store(_existing_or_new(data_dir))
    except (StoreError, OSError) as exc:
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
    from server.fsio import make_private_dir

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


def _backup(args: argparse.Namespace, data_dir: Path) -> int:
    from server.backup import BackupError, backup
    from server.store import StoreError

    try:
        summary = backup(data_dir, args.destination.expanduser().absolute())
    except (BackupError, StoreError, OSError) as exc:
        print(f"showdesk server: backup failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"backed up {summary.tickets} ticket(s) to {summary.destination}: "
        f"{summary.blobs_copied} file(s) copied, {summary.blobs_present} already there",
        file=sys.stderr,
    )
    return 0
