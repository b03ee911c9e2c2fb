"""The SQLite engine: the database file in the data directory, the embedded default.

SQLite in WAL mode with ``synchronous=FULL``: a commit is on the disk when it returns.
Every write runs in ``BEGIN IMMEDIATE`` so concurrent writers queue on SQLite's lock
instead of failing half way; a writer that waits longer than the busy timeout gets
``StoreBusyError`` (the API answers 503 with Retry-After). Each thread keeps its own
connection. SQLite's "busy" and "disk full" leave here as the store's own errors.
The schema and its numbered migrations are in ``server.store.schema``; full-text search is
FTS5 (``tickets_fts``), or LIKE where this SQLite lacks FTS5.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from agent.fsutil import PRIVATE_FILE_MODE, create_private_file, restrict_mode
from server.store.connection import DEFAULT_BUSY_TIMEOUT_SECONDS, Connection, Database, FullText, sqlite_errors
from server.store.records import StoreBusyError
from server.store.schema import bucket_sql, migrate_sqlite


class SqliteDatabase(Database):
    """One SQLite database file. Thread-safe: each thread gets its own connection."""

    engine = "sqlite"

    def __init__(self, path: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS) -> None:
        super().__init__()
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._has_fts = False
        # SQLite creates the -wal and -shm files with the database file's mode, so a private
        # database file (made here, or tightened if an older version left it 0644) keeps them private.
        if not path.exists():
            create_private_file(path)
        self.restrict_files()

    def describe(self) -> str:
        return f"SQLite {self.path}"

    def restrict_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            restrict_mode(self.path.with_name(self.path.name + suffix), PRIVATE_FILE_MODE)

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several queries."""
        conn = self.connection()
        with sqlite_errors():
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                _end_transaction(conn, "COMMIT")

    @contextlib.contextmanager
    def write(self, *, notify: bool = True) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; ``notify`` wakes the listeners after the commit."""
        conn = self.connection()
        # Writers of this process queue on a lock that wakes the next one the moment a commit
        # ends; SQLite's own busy handler polls with sleeps of up to 100 ms, which would cap
        # throughput under concurrent submissions. SQLite's lock still guards against other
        # processes (the command line).
        if not self._write_lock.acquire(timeout=self.busy_timeout):
            raise StoreBusyError("the database is busy; try again shortly")
        try:
            with sqlite_errors():
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    # A full disk shows up here most of the time: in WAL mode the pages reach
                    # the file at commit.
                    conn.execute("COMMIT")
                except BaseException:
                    _end_transaction(conn, "ROLLBACK")
                    raise
        finally:
            self._write_lock.release()
        if notify:
            self.wake_listeners()

    def migrate(self) -> bool:
        self._has_fts = migrate_sqlite(self, self.path)
        # Tightened again: the migration may have made the -wal and -shm files.
        self.restrict_files()
        return self._has_fts

    def integrity_check(self) -> str:
        return str(self.connection().execute("PRAGMA integrity_check").fetchone()[0])

    def is_integrity_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.IntegrityError)

    # ------------------------------------------------------------ engine pieces of shared statements
    def json_integer(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    def index_hint(self, index: str) -> str:
        return f"INDEXED BY {index}"

    def bucket_sql(self, duration: str) -> str:
        return bucket_sql(duration)

    def fulltext(self, words: Sequence[str]) -> FullText | None:
        if not self._has_fts or not words:
            return None
        # Each word quoted (so no FTS syntax gets through), as a prefix, all required.
        query = " ".join('"' + w.replace('"', '""') + '"*' for w in words)
        # CROSS JOIN keeps the full-text index as the outer loop: SQLite never reorders it.
        source = "tickets_fts f CROSS JOIN tickets t ON t.seq = f.rowid"
        return FullText(source, "f.rowid", "tickets_fts MATCH ?", query)

    def index_ticket_text(self, conn: Connection, seq: int, subject: str, description: str) -> None:
        if self._has_fts:
            conn.execute(
                "INSERT INTO tickets_fts (rowid, subject, description) VALUES (?, ?, ?)", (seq, subject, description)
            )


def _end_transaction(conn: sqlite3.Connection, statement: str) -> None:
    """COMMIT or ROLLBACK if a transaction is still open.

    SQLite rolls a transaction back by itself after some errors (a full disk, an I/O error);
    a ROLLBACK then would fail and hide the error that matters.
    """
    if not conn.in_transaction:
        return
    if statement == "ROLLBACK":
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
    else:
        conn.execute(statement)


