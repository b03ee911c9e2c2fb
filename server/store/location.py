"""Where the store's database is: SQLite in the data directory (the default) or a PostgreSQL URL.

``[server] database`` and ``--database`` take ``postgresql://user@host:port/dbname`` (with libpq's
``sslmode``, ``sslrootcert``, ``host`` (a socket directory), ``passfile``… as query options); empty
means ``showdesk.db`` in the data directory. The URL never carries the password: it comes from
``SHOWDESK_DATABASE_PASSWORD``, the keyring (service ``showdesk-server``, entry ``database-password``)
or libpq's own ways (``~/.pgpass``/``PGPASSFILE``, peer or certificate authentication).
"""

from __future__ import annotations

from pathlib import Path

from agent.fsutil import make_private_dir
from server.store.connection import DB_FILENAME, DEFAULT_BUSY_TIMEOUT_SECONDS, Database
from server.store.engine_postgres import (
    DEFAULT_CONNECT_TIMEOUT_SECONDS,
    DEFAULT_STATEMENT_TIMEOUT_SECONDS,
    SCHEMES,
    PostgresDatabase,
    PostgresLocation,
    password_lookup,
)
from server.store.engine_sqlite import SqliteDatabase


def is_postgres(location: str) -> bool:
    """Whether ``location`` names a PostgreSQL database (else: SQLite in the data directory)."""
    return location.split(":", 1)[0].lower() in SCHEMES


def check_location(location: str) -> str:
    """``location`` when it is empty or a valid PostgreSQL URL; ValueError naming the mistake otherwise."""
    if location and not is_postgres(location):
        raise ValueError(
            f"the database is empty (SQLite in the data directory) or postgresql://user@host:port/dbname, "
            f"not {location.split('://', 1)[0]!r}…"
        )
    if location:
        PostgresLocation.parse(location)
    return location


def open_database(
    data_dir: Path,
    location: str = "",
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
    connect_timeout: int = DEFAULT_CONNECT_TIMEOUT_SECONDS,
    statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT_SECONDS,
) -> Database:
    """The database at ``location`` (not migrated yet): empty for SQLite in ``data_dir``."""
    check_location(location)
    if is_postgres(location):
        return PostgresDatabase(
            PostgresLocation.parse(location),
            password=password_lookup(),
            busy_timeout=busy_timeout,
            connect_timeout=connect_timeout,
            statement_timeout=statement_timeout,
        )
    make_private_dir(data_dir)
    return SqliteDatabase(data_dir / DB_FILENAME, busy_timeout=busy_timeout)
