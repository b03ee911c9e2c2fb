"""The seam between the store and its database engine: connections, transactions, the write lock.

``Database`` is what every part of the store talks to. Two engines implement it, one module each:

* ``server.store.engine_sqlite``: SQLite in the data directory, the embedded default;
* ``server.store.engine_postgres``: PostgreSQL 15+, for several server processes on one database.

Both give a connection per thread whose ``execute`` takes ``?`` placeholders and returns rows
that read by name and by index, ``read()`` (a consistent snapshot), ``write()`` (one writer at
a time across every process, then the listeners woken) and the engine's errors as the store's.
The few statements that cannot be written once for both ask the database for their engine's
piece (``json_integer``, ``index_hint``, ``fulltext``, ``bucket_sql``…).
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from server.store.records import StorageFullError, StoreBusyError

DB_FILENAME: Final = "showdesk.db"
DEFAULT_BUSY_TIMEOUT_SECONDS: Final = 5.0


class Cursor(Protocol):
    """What the store reads from a statement's result (``sqlite3.Cursor`` has it all)."""

    @property
    def rowcount(self) -> int: ...

    @property
    def lastrowid(self) -> int | None: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """One thread's connection: ``?`` placeholders, rows by name and by index."""

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterator[Sequence[Any]] | Sequence[Sequence[Any]], /) -> Cursor: ...


@dataclass(frozen=True)
class FullText:
    """How a page of tickets is narrowed to the ones whose words match.

    ``source`` replaces ``tickets t`` in the FROM clause, ``key`` is the column the page is
    ordered and bounded on, ``condition`` (with ``?`` for ``parameter``) goes into WHERE.
    An index that yields matches in no order sets ``window`` (how many tickets next in the page's
    order are tested one by one before the index is asked) and ``candidates`` (a SELECT of the
    matching ``t.seq``, with ``?`` for ``parameter``, that takes one more ``AND`` condition).
    """

    source: str
    key: str
    condition: str
    parameter: str
    window: int = 0
    candidates: str = ""


class Database:
    """One database of one server installation. Thread-safe: each thread gets its own connection.

    The base class keeps the listeners; each engine supplies the rest.
    """

    engine: str = ""
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    # ------------------------------------------------------------ what every engine provides
    def describe(self) -> str:
        """Where the database is, for logs and messages (never a password)."""
        raise NotImplementedError

    def connection(self) -> Connection:
        """This thread's connection (opened on first use)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def read(self) -> contextlib.AbstractContextManager[Connection]:
        """A consistent snapshot for several queries."""
        raise NotImplementedError

    def write(self, *, notify: bool = True) -> contextlib.AbstractContextManager[Connection]:
        """One transaction, the only writer of the database while it runs; ``notify`` wakes the listeners."""
        raise NotImplementedError

    def migrate(self) -> bool:
        """Bring the schema to the current version; returns whether search has a full-text index."""
        raise NotImplementedError

    def integrity_check(self) -> str:
        """"ok", or what the engine found wrong."""
        raise NotImplementedError

    def restrict_files(self) -> None:
        """Keep the database's files private (nothing to do when they are not ours)."""

    def is_integrity_error(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a broken uniqueness or foreign-key rule of this engine."""
        raise NotImplementedError

    # ------------------------------------------------------------ engine pieces of shared statements
    def json_integer(self, column: str, key: str) -> str:
        """SQL for the JSON member ``key`` of a TEXT column as an integer (true/false as 1/0)."""
        raise NotImplementedError

    def index_hint(self, index: str) -> str:
        """An index the planner must use after ``FROM table``; empty where the planner needs no hint."""
        return ""

    def bucket_sql(self, duration: str) -> str:
        """SQL for the duration bucket of ``duration`` seconds (see ``server.store.schema.bucket_sql``)."""
        raise NotImplementedError

    def fulltext(self, words: Sequence[str]) -> FullText | None:
        """The full-text part of a ticket search for ``words``; None when there is no full-text index."""
        return None

    def index_ticket_text(self, conn: Connection, seq: int, subject: str, description: str) -> None:
        """Add a new ticket's words to the full-text index, in its transaction (where the engine needs that)."""

    # ------------------------------------------------------------ listeners
    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every commit that added timeline events.

        From the committing thread for this process's commits; an engine shared by several
        processes also calls it for theirs (from a thread of its own).
        """
        self._listeners.append(listener)

    def wake_listeners(self) -> None:
        for listener in list(self._listeners):
            listener()


@contextlib.contextmanager
def sqlite_errors() -> Iterator[None]:
    """SQLite's "busy" and "disk full" as the store's own errors; anything else (other engines' too) as it is.

    The shared parts wrap reads outside a transaction in it; PostgreSQL's connection maps its own.
    """
    try:
        yield
    except sqlite3.Error as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        message = str(exc).lower()
        if primary == sqlite3.SQLITE_FULL or "database or disk is full" in message:
            raise StorageFullError(
                "the disk under the server's data directory is full (SQLite: database or disk is full); "
                "nothing was stored: free some space and try again"
            ) from exc
        if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in message or "busy" in message:
            raise StoreBusyError("the database is busy; try again shortly") from exc
        raise


__all__ = [
    "DB_FILENAME",
    "DEFAULT_BUSY_TIMEOUT_SECONDS",
    "Connection",
    "Cursor",
    "Database",
    "FullText",
    "sqlite_errors",
]
