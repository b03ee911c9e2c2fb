"""The PostgreSQL engine (15+): one database shared by several server processes.

The store's statements are the same as on SQLite (the subset both speak); what differs lives here:

* **Connections**: one per thread, opened on first use, in autocommit mode so that ``read()`` and
  ``write()`` say where a transaction begins and ends. ``?`` placeholders become psycopg's ``%s``
  once per statement text (cached). Rows read by name and by index, like ``sqlite3.Row``.
  ``connect_timeout`` and ``statement_timeout`` bound every connection and statement.
* **Transactions**: ``read()`` is a REPEATABLE READ snapshot. ``write()`` takes a transaction-scoped
  advisory lock first (``pg_advisory_xact_lock``), so writers of *every* process queue one behind
  the other, as ``BEGIN IMMEDIATE`` makes them on SQLite: every rule of the store that relies on
  one writer at a time (one ticket per report id, the walk-up order, event sequence numbers
  committed in order for the changes feed) holds unchanged across processes. The wait is
  bounded by the busy timeout (``lock_timeout``) and ends in ``StoreBusyError``.
* **Wake-ups**: a write that wakes listeners sends ``NOTIFY showdesk_changes`` inside its
  transaction (delivered at commit); one thread per process LISTENs on a connection of its own,
  reconnecting with backoff, and wakes this process's listeners for every other process's commit.
  The event sequence in the database stays the truth: a notification only wakes.
* **Errors**: "disk full" (53100) as ``StorageFullError``; a lock or statement timeout, a
  serialisation failure, too many connections as ``StoreBusyError``; a lost or refused connection as
  ``DatabaseUnavailableError`` (a ``StoreBusyError``: the API answers 503 and the client retries).
  Each names PostgreSQL in plain words.
* **Schema**: the same tables and figures at the same version, with PostgreSQL's types
  (DOUBLE PRECISION for times, identity columns for sequence numbers, BYTEA), the /stats
  roll-ups kept by a PL/pgSQL trigger, and its own numbered migrations (``_MIGRATIONS``).
* **Full-text search**: a generated ``tickets.search`` column (``to_tsvector`` of subject and
  description; a copy from SQLite leaves it out, PostgreSQL fills it) with a GIN index, and a
  configuration that folds accents (``unaccent``, when the server has it) like FTS5's
  ``remove_diacritics``; each word is a prefix (``:*``), all required. Differences from FTS5:
  PostgreSQL's parser keeps e-mail addresses, URLs and file paths as single words (a search for
  one part of an address finds nothing), and splits hyphenated words into the whole and its parts.
* **Rate limits** shared by the processes live in the ``rate_buckets`` table
  (``server.ratelimit.DatabaseRateLimiter``): unlogged, since losing the buckets in a crash only
  hands out a fresh burst.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

from server.store.connection import DEFAULT_BUSY_TIMEOUT_SECONDS, Connection, Database, FullText
from server.store.records import (
    LINK_KEY_NAME,
    DatabaseUnavailableError,
    StorageFullError,
    StoreBusyError,
    StoreError,
)

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("showdesk.server.store")

SCHEMES: Final = ("postgresql", "postgres")
DEFAULT_CONNECT_TIMEOUT_SECONDS: Final = 5
DEFAULT_STATEMENT_TIMEOUT_SECONDS: Final = 30.0
PASSWORD_ENV: Final = "SHOWDESK_DATABASE_PASSWORD"  # noqa: S105 - the variable's name, not a password
KEYRING_SERVICE: Final = "showdesk-server"
KEYRING_PASSWORD_USER: Final = "database-password"  # noqa: S105 - the keyring entry's name
NOTIFY_CHANNEL: Final = "showdesk_changes"
# Any fixed 64-bit number of our own: the one lock every writer of the database takes.
WRITE_LOCK_KEY: Final = 0x53_44_57_52_49_54_45  # "SDWRITE"
SEARCH_CONFIG: Final = "showdesk_search"
# Tickets tested one by one, newest first, before the full-text index is asked (server.store.search):
# words in more than about one ticket in 40 fill a page from these alone.
SEARCH_WINDOW: Final = 2000
LISTEN_RETRY_SECONDS: Final = (0.5, 10.0)  # first wait, longest wait between reconnections
LISTEN_POLL_SECONDS: Final = 0.25  # how soon the listener notices close()
# Options of the location passed on to libpq as they are (TLS, the socket directory, a pgpass file).
_PASSED_OPTIONS: Final = frozenset(
    {"sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "host", "passfile", "target_session_attrs",
     "application_name"}
)


# ---------------------------------------------------------------- the location
@dataclass(frozen=True)
class PostgresLocation:
    """``postgresql://user@host:port/database?sslmode=…``: where the database is, never its password."""

    host: str
    port: int | None
    dbname: str
    user: str
    options: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, url: str) -> PostgresLocation:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise ValueError(f"a PostgreSQL database location starts with postgresql://, not {_safe(url)!r}")
        query = parse_qs(parts.query, keep_blank_values=True)
        if parts.password is not None or "password" in query:
            raise ValueError(
                "the database location must not carry a password (it would end up in files, logs and the process "
                f"list): set {PASSWORD_ENV}, the keyring entry {KEYRING_SERVICE}/{KEYRING_PASSWORD_USER}, or use "
                "PostgreSQL's own ways (a ~/.pgpass or PGPASSFILE file, peer or certificate authentication)"
            )
        unknown = set(query) - _PASSED_OPTIONS
        if unknown:
            raise ValueError(f"unknown option(s) in the database location: {', '.join(sorted(unknown))}")
        dbname = unquote(parts.path.lstrip("/"))
        if not dbname or "/" in dbname:
            raise ValueError(f"the database location names no database: {_safe(url)!r} (postgresql://user@host/db)")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"the database location's port is not a number: {_safe(url)!r}") from None
        options = tuple(sorted((name, values[-1]) for name, values in query.items()))
        return cls(
            host=unquote(parts.hostname or ""),
            port=port,
            dbname=dbname,
            user=unquote(parts.username or ""),
            options=options,
        )

    def describe(self) -> str:
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        host = self.host or dict(self.options).get("host", "local socket")
        return f"PostgreSQL {user}{host}{port}/{self.dbname}"

    def connect_arguments(self) -> dict[str, Any]:
        """libpq's connection parameters, without a password (``password_lookup`` adds one if set)."""
        arguments: dict[str, Any] = {"dbname": self.dbname, **dict(self.options)}
        if self.host:
            arguments["host"] = self.host
        if self.port:
            arguments["port"] = self.port
        if self.user:
            arguments["user"] = self.user
        arguments.setdefault("application_name", "showdesk-server")
        return arguments


def _safe(url: str) -> str:
    """A location fit for a message: any password in it replaced."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def password_lookup() -> str | None:
    """The database password: ``SHOWDESK_DATABASE_PASSWORD``, else the keyring; None leaves it to libpq.

    libpq then finds one the standard ways (``PGPASSWORD``, ``~/.pgpass`` or ``PGPASSFILE``) or
    needs none (peer, certificate or trust authentication).
    """
    password = os.environ.get(PASSWORD_ENV, "")
    if password:
        return password
    with contextlib.suppress(Exception):  # no keyring backend on a headless server is normal
        import keyring

        return keyring.get_password(KEYRING_SERVICE, KEYRING_PASSWORD_USER) or None
    return None


# ---------------------------------------------------------------- rows, statements, connections
class PgRow:
    """A row that reads by column name and by index, like ``sqlite3.Row``."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = tuple(values)
        self._index = index

    def __getitem__(self, key: int | str | slice) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PgRow) and self._values == other._values

    def __hash__(self) -> int:
        return hash(self._values)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._index, self._values, strict=False))!r})"

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], PgRow]:
    names = [column.name for column in cursor.description or ()]
    index = {name: position for position, name in reversed(list(enumerate(names)))}
    return lambda values: PgRow(values, index)


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (and a literal ``%`` doubled), outside quoted text."""
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if quote is not None:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        if char == "%":
            out.append("%%")
            continue
        out.append(char)
    return "".join(out)


class PgCursor:
    """A statement's result as the store reads it (``rowcount``, ``lastrowid``, rows)."""

    def __init__(self, owner: PgConnection, cursor: psycopg.Cursor[Any], inserted: bool) -> None:
        self._owner = owner
        self._cursor = cursor
        self._inserted = inserted

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        """The identity the INSERT just took (``lastval()``: no trigger of the schema takes one)."""
        if not self._inserted:
            return None
        row = self._owner.execute("SELECT lastval()").fetchone()
        return None if row is None else int(row[0])

    def fetchone(self) -> Any:
        with self._owner.errors():
            return self._cursor.fetchone() if self._cursor.description is not None else None

    def fetchall(self) -> list[Any]:
        with self._owner.errors():
            return self._cursor.fetchall() if self._cursor.description is not None else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """One thread's connection: ``?`` placeholders, PostgreSQL's errors as the store's."""

    def __init__(self, database: PostgresDatabase, raw: psycopg.Connection[Any]) -> None:
        self._database = database
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> PgCursor:
        with self.errors():
            # No parameters: the text goes as it is (a "%" needs no doubling, several statements may follow).
            cursor = (
                self.raw.execute(translate(sql), tuple(parameters))
                if parameters
                else self.raw.execute(sql)
            )
        return PgCursor(self, cursor, sql.lstrip()[:6].upper() == "INSERT")

    def executemany(self, sql: str, parameters: Iterator[Sequence[Any]] | Sequence[Sequence[Any]], /) -> PgCursor:
        rows = [tuple(p) for p in parameters]
        with self.errors():
            cursor = self.raw.cursor()
            if rows:
                cursor.executemany(translate(sql), rows)
        return PgCursor(self, cursor, False)

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        with self._database.errors(self):
            yield


# ---------------------------------------------------------------- the database
class PostgresDatabase(Database):
    """One PostgreSQL database, shared with other server processes. Thread-safe: a connection per thread."""

    engine = "postgresql"

    def __init__(
        self,
        location: PostgresLocation,
        *,
        password: str | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
        connect_timeout: int = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT_SECONDS,
    ) -> None:
        super().__init__()
        try:
            import psycopg  # noqa: F401 - only installations on PostgreSQL need it
        except ImportError:
            raise StoreError(
                "PostgreSQL needs the psycopg package: pip install 'showdesk[postgres]'"
            ) from None
        self.location = location
        self.busy_timeout = busy_timeout
        self.connect_timeout = max(2, int(connect_timeout))  # libpq's floor
        self.statement_timeout = statement_timeout
        self._password = password
        self._local = threading.local()
        self._connections: list[PgConnection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._listen_thread: threading.Thread | None = None
        self._stop = threading.Event()

    def __repr__(self) -> str:  # the password never shows
        return f"PostgresDatabase({self.location.describe()})"

    def describe(self) -> str:
        return self.location.describe()

    # ------------------------------------------------------------ connections
    def _connect(self) -> psycopg.Connection[Any]:
        import psycopg

        arguments = self.location.connect_arguments()
        if self._password:
            arguments["password"] = self._password
        arguments["connect_timeout"] = self.connect_timeout
        # Custom plans always: psycopg prepares a statement after a few runs, and a generic plan
        # cannot see how selective this search or filter is (a rare word would walk every ticket).
        arguments["options"] = (
            f"-c statement_timeout={int(self.statement_timeout * 1000)} -c plan_cache_mode=force_custom_plan"
        )
        try:
            return psycopg.connect(autocommit=True, row_factory=_row_factory, **arguments)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailableError(
                f"cannot connect to {self.describe()}: {_first_line(exc)}"
            ) from None

    def connection(self) -> PgConnection:
        conn: PgConnection | None = getattr(self._local, "conn", None)
        if conn is not None and (conn.raw.closed or conn.raw.broken):
            self._forget(conn)
            conn = None
        if conn is None:
            conn = PgConnection(self, self._connect())
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _forget(self, conn: PgConnection) -> None:
        with contextlib.suppress(Exception):
            conn.raw.close()
        with self._connections_lock, contextlib.suppress(ValueError):
            self._connections.remove(conn)
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None

    def close(self) -> None:
        self._stop.set()
        thread, self._listen_thread = self._listen_thread, None
        if thread is not None:
            thread.join(timeout=LISTEN_POLL_SECONDS + self.connect_timeout + 1)
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(Exception):
                    conn.raw.close()
            self._connections.clear()
        self._local = threading.local()

    # ------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def read(self) -> Iterator[PgConnection]:
        """A REPEATABLE READ snapshot: every query of the block sees the same committed state."""
        conn = self._begin("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try:
            yield conn
        except BaseException:
            _rollback(conn)
            raise
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def write(self, *, notify: bool = True) -> Iterator[PgConnection]:
        """The only writer of the database while it runs, across processes; ``notify`` wakes every process."""
        # This process's writers queue on a lock of their own first, so only one of its
        # connections at a time waits on the database's lock.
        if not self._write_lock.acquire(timeout=self.busy_timeout):
            raise StoreBusyError("the database is busy; try again shortly")
        try:
            # One round trip: begin, bound the wait for the lock, take it (held until commit or rollback).
            conn = self._begin(
                f"BEGIN; SET LOCAL lock_timeout = {int(self.busy_timeout * 1000)}; "
                f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})"
            )
            try:
                yield conn
                # Delivered to the listening processes at commit, never for a rolled-back write.
                conn.execute(f"NOTIFY {NOTIFY_CHANNEL}; COMMIT" if notify else "COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        finally:
            self._write_lock.release()
        if notify:
            self.wake_listeners()

    def _begin(self, statement: str) -> PgConnection:
        """Begin a transaction on this thread's connection; once more on a new one if the old one was lost.

        A connection idle since the database restarted (or failed over) is found dead only when
        used; nothing of this transaction has happened yet, so beginning again is safe, and the
        first request of each thread after a restart does not fail for it.
        """
        for attempt in range(2):
            conn = self.connection()
            try:
                conn.execute(statement)
            except DatabaseUnavailableError:
                if attempt == 1:
                    raise
                continue
            except BaseException:
                _rollback(conn)
                raise
            return conn
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def errors(self, conn: PgConnection | None = None) -> Iterator[None]:
        """PostgreSQL's errors that mean "not now" or "no room" as the store's own, naming PostgreSQL."""
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            state = exc.sqlstate or ""
            if state == "53100":
                raise StorageFullError(
                    f"the disk of the PostgreSQL server ({self.describe()}) is full; nothing was stored: "
                    "free some space there and try again"
                ) from exc
            if state in ("55P03", "57014", "40001", "40P01", "53300", "53200"):
                raise StoreBusyError(
                    f"the database is busy ({self.describe()}: {_first_line(exc)}); try again shortly"
                ) from exc
            broken = conn is not None and (conn.raw.closed or conn.raw.broken)
            # Connection classes (08), the server shutting down (57P), or no answer at all (no state).
            if broken or state.startswith(("08", "57P")) or (not state and isinstance(exc, psycopg.OperationalError)):
                if conn is not None:
                    self._forget(conn)
                raise DatabaseUnavailableError(
                    f"lost the connection to {self.describe()}: {_first_line(exc)}"
                ) from exc
            raise

    # ------------------------------------------------------------ schema and checks
    def migrate(self) -> bool:
        with self.write(notify=False) as conn:
            found = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[0]
            version = 0
            if found:
                version = int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)
            if version > PG_SCHEMA_VERSION:
                raise StoreError(
                    f"{self.describe()} was written by a newer ShowDesk server (schema {version}, this one reads "
                    f"{PG_SCHEMA_VERSION}); upgrade this server"
                )
            for target, step in _MIGRATIONS:
                if version < target:
                    step(conn)
                    version = target
            if not found:
                conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            else:
                conn.execute("UPDATE schema_version SET version = ?", (version,))
        return True

    def integrity_check(self) -> str:
        """PostgreSQL checks its pages itself; here: the schema is ours and every row's references hold."""
        conn = self.connection()
        problems: list[str] = []
        for table, column, parent in (
            ("files", "ticket_seq", "tickets"),
            ("events", "ticket_seq", "tickets"),
            ("queue_entries", "ticket_seq", "tickets"),
        ):
            orphans = conn.execute(
                f"SELECT count(*) FROM {table} c WHERE NOT EXISTS "  # noqa: S608 - fixed names
                f"(SELECT 1 FROM {parent} p WHERE p.seq = c.{column})"
            ).fetchone()[0]
            if orphans:
                problems.append(f"{orphans} row(s) of {table} name no ticket")
        return "ok" if not problems else "; ".join(problems)

    def is_integrity_error(self, exc: BaseException) -> bool:
        import psycopg

        return isinstance(exc, psycopg.IntegrityError)

    # ------------------------------------------------------------ engine pieces of shared statements
    def json_integer(self, column: str, key: str) -> str:
        # jsonb's text of true/false/number, as SQLite's json_extract gives it: 1/0 or the number.
        value = f"({column})::jsonb ->> '{key}'"
        return (
            f"(CASE ({value}) WHEN 'true' THEN 1 WHEN 'false' THEN 0 "
            f"ELSE CAST(CAST({value} AS NUMERIC) AS INTEGER) END)"
        )

    def bucket_sql(self, duration: str) -> str:
        return f"showdesk_bucket({duration})"

    def fulltext(self, words: Sequence[str]) -> FullText | None:
        if not words:
            return None
        # Each word quoted as a lexeme (words are \w+, so no quote gets in), as a prefix, all required.
        query = " & ".join("'" + w.replace("'", "''").replace("\\", "") + "':*" for w in words)
        condition = f"{_SEARCH_DOCUMENT} @@ to_tsquery('{SEARCH_CONFIG}', ?)"
        # GIN yields matches in no order: search walks a window of the newest tickets first.
        return FullText(
            "tickets t",
            "t.seq",
            condition,
            query,
            window=SEARCH_WINDOW,
            candidates=f"SELECT t.seq FROM tickets t WHERE {condition}",  # noqa: S608 - fixed text
        )

    # ------------------------------------------------------------ listeners across processes
    def add_listener(self, listener: Callable[[], None]) -> None:
        super().add_listener(listener)
        if self._listen_thread is None and not self._stop.is_set():
            self._listen_thread = threading.Thread(target=self._listen, name="showdesk-pg-listen", daemon=True)
            self._listen_thread.start()

    def _listen(self) -> None:
        """LISTEN on a connection of its own; wake the listeners for each notification, reconnect with backoff."""
        import psycopg

        wait = LISTEN_RETRY_SECONDS[0]
        for _attempt in range(10_000_000):  # bounded; ends at close()
            if self._stop.is_set():
                return
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    # Whatever was committed while not listening: the readers look at the sequence again.
                    self.wake_listeners()
                    wait = LISTEN_RETRY_SECONDS[0]
                    while not self._stop.is_set():
                        woken = False
                        for _note in conn.notifies(timeout=LISTEN_POLL_SECONDS, stop_after=1):
                            woken = True
                        if woken:
                            self.wake_listeners()
            except (psycopg.Error, StoreError) as exc:
                if self._stop.is_set():
                    return
                log.warning("change notifications from %s interrupted (%s); reconnecting in %.1f s",
                            self.describe(), _first_line(exc), wait)
            if self._stop.wait(wait):
                return
            wait = min(wait * 2, LISTEN_RETRY_SECONDS[1])


def _rollback(conn: PgConnection) -> None:
    with contextlib.suppress(Exception):
        if not (conn.raw.closed or conn.raw.broken):
            conn.raw.execute("ROLLBACK")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# ---------------------------------------------------------------- the schema and its migrations
PG_SCHEMA_VERSION: Final = 5  # the same numbering as SQLite's (server.store.schema.SCHEMA_VERSION)

# The words of a ticket, kept by PostgreSQL in a generated column: a GIN index finds the matches
# of rare words, and for common ones the planner may walk the newest tickets and test each row's
# stored vector cheaply, stopping at the page's end.
_SEARCH_DOCUMENT: Final = "t.search"

# Schema 4 as one step: no PostgreSQL database of an older schema ever existed. Each table as on
# SQLite (server.store.schema explains them); times DOUBLE PRECISION, sequence numbers identity
# columns (BY DEFAULT, so a migration from SQLite keeps each ticket's number; it then moves the
# identity on with setval), tickets.id in the "C" collation so a receipt code's range
# (``id > 'abcd1234-' AND id < 'abcd1234.'``) means the same under any database locale.
_SCHEMA_4: Final = """
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('submitter', 'technician', 'admin')),
    site TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
);
CREATE UNIQUE INDEX tokens_active_name ON tokens(name) WHERE revoked_at IS NULL;

CREATE TABLE tickets (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    manifest TEXT NOT NULL,
    status TEXT NOT NULL,
    subject TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    source_id TEXT NOT NULL,
    site TEXT,
    reporter_name TEXT,
    reporter_email TEXT,
    submitted_by TEXT NOT NULL,
    assignee TEXT,
    walk_up INTEGER NOT NULL,
    step_count INTEGER NOT NULL,
    attachment_count INTEGER NOT NULL,
    self_help_count INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    reported_at TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    first_response_at DOUBLE PRECISION,
    resolved_at DOUBLE PRECISION,
    closed_at DOUBLE PRECISION,
    link_generation INTEGER NOT NULL DEFAULT 0,
    link_hash TEXT,
    language TEXT,
    search TSVECTOR GENERATED ALWAYS AS (to_tsvector('showdesk_search', subject || ' ' || description)) STORED
);
CREATE INDEX tickets_status ON tickets(status, seq);
CREATE INDEX tickets_category ON tickets(category, seq);
CREATE INDEX tickets_source ON tickets(source_id, seq);
CREATE INDEX tickets_site ON tickets(site, seq);
CREATE INDEX tickets_assignee ON tickets(assignee, seq);
CREATE INDEX tickets_reporter ON tickets(reporter_email, seq);
CREATE INDEX tickets_submitted_by ON tickets(submitted_by, seq);
CREATE INDEX tickets_created ON tickets(created_at);
CREATE UNIQUE INDEX tickets_link_hash ON tickets(link_hash);
CREATE INDEX tickets_window ON tickets(
    created_at, category, source_kind, source_id, self_help_count, first_response_at, resolved_at
);
CREATE INDEX tickets_first_response_time ON tickets((first_response_at - created_at), created_at)
    WHERE first_response_at IS NOT NULL;
CREATE INDEX tickets_resolution_time ON tickets((resolved_at - created_at), created_at)
    WHERE resolved_at IS NOT NULL;

CREATE TABLE files (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    ticket_seq BIGINT NOT NULL REFERENCES tickets(seq),
    path TEXT NOT NULL,
    role TEXT NOT NULL,
    step_index INTEGER,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    media_type TEXT NOT NULL,
    display_name TEXT,
    UNIQUE (ticket_seq, path)
);

CREATE TABLE events (
    seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    ticket_seq BIGINT NOT NULL REFERENCES tickets(seq),
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    internal INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_ticket ON events(ticket_seq, seq);
CREATE INDEX events_kind ON events(kind, at);

CREATE TABLE queue_entries (
    ticket_seq BIGINT PRIMARY KEY REFERENCES tickets(seq),
    site TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'called', 'served')),
    enqueued_at DOUBLE PRECISION NOT NULL,
    called_at DOUBLE PRECISION,
    served_at DOUBLE PRECISION,
    called_by TEXT
);
CREATE INDEX queue_site_state ON queue_entries(site, state, ticket_seq);
CREATE INDEX queue_site_served ON queue_entries(site, served_at);
CREATE INDEX queue_enqueued ON queue_entries(enqueued_at);

CREATE TABLE self_help_events (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    site TEXT,
    category TEXT NOT NULL,
    article TEXT NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX self_help_at ON self_help_events(at);

CREATE TABLE ticket_articles (
    ticket_seq BIGINT NOT NULL REFERENCES tickets(seq),
    article TEXT NOT NULL
);

CREATE TABLE stats_daily (
    day INTEGER PRIMARY KEY,
    created INTEGER NOT NULL DEFAULT 0,
    after_articles INTEGER NOT NULL DEFAULT 0,
    first_count INTEGER NOT NULL DEFAULT 0,
    first_sum DOUBLE PRECISION NOT NULL DEFAULT 0,
    resolved_count INTEGER NOT NULL DEFAULT 0,
    resolved_sum DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE TABLE stats_daily_category (
    day INTEGER NOT NULL,
    category TEXT NOT NULL,
    tickets INTEGER NOT NULL,
    PRIMARY KEY (day, category)
);
CREATE TABLE stats_daily_source (
    day INTEGER NOT NULL,
    source_id TEXT NOT NULL,
    tickets INTEGER NOT NULL,
    PRIMARY KEY (day, source_id)
);
CREATE TABLE stats_daily_duration (
    kind TEXT NOT NULL CHECK (kind IN ('first', 'resolved')),
    day INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    tickets INTEGER NOT NULL,
    PRIMARY KEY (kind, day, bucket)
);
CREATE TABLE stats_status (
    status TEXT PRIMARY KEY,
    tickets INTEGER NOT NULL
);

CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
CREATE TABLE form_nonces (
    nonce TEXT PRIMARY KEY,
    ticket_seq BIGINT NOT NULL,
    used_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX form_nonces_used ON form_nonces(used_at);

CREATE TABLE outgoing (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    channel TEXT NOT NULL,
    ticket_seq BIGINT NOT NULL REFERENCES tickets(seq),
    event_seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'dropped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at DOUBLE PRECISION NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    sent_at DOUBLE PRECISION,
    last_error TEXT,
    message_id TEXT NOT NULL UNIQUE,
    UNIQUE (channel, ticket_seq, event_seq, kind, recipient)
);
CREATE INDEX outgoing_due ON outgoing(channel, state, due_at);
CREATE INDEX outgoing_ticket ON outgoing(ticket_seq, id);
CREATE TABLE outgoing_cursors (
    channel TEXT PRIMARY KEY,
    event_seq BIGINT NOT NULL
);
CREATE TABLE outgoing_stops (
    ticket_seq BIGINT NOT NULL REFERENCES tickets(seq),
    channel TEXT NOT NULL,
    stopped_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (ticket_seq, channel)
);

CREATE UNLOGGED TABLE rate_buckets (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    permits DOUBLE PRECISION NOT NULL,
    updated DOUBLE PRECISION NOT NULL,
    granted BOOLEAN NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX rate_buckets_updated ON rate_buckets(updated);
"""

# The /stats roll-ups, kept in the same transaction as each ticket change (as SQLite's triggers
# do). Days are UTC days of created_at; durations fall in buckets of two significant digits of
# whole seconds (server.store.schema.bucket_sql says the same in SQLite's words: truncation, not
# rounding, hence trunc()).
_ROLLUP_FUNCTIONS: Final = (
    """
CREATE FUNCTION showdesk_bucket(d DOUBLE PRECISION) RETURNS INTEGER LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN d < 100 THEN greatest(trunc(d), 0)::INTEGER
    ELSE length(trunc(d)::BIGINT::TEXT) * 100 + substr(trunc(d)::BIGINT::TEXT, 1, 2)::INTEGER END
$$""",
    """
CREATE FUNCTION showdesk_rollup_apply(r tickets, sign INTEGER) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    d INTEGER := floor(r.created_at / 86400)::INTEGER;
BEGIN
    INSERT INTO stats_daily AS s (day, created, after_articles, first_count, first_sum, resolved_count, resolved_sum)
    VALUES (d, sign, sign * (r.self_help_count > 0)::INTEGER, sign * (r.first_response_at IS NOT NULL)::INTEGER,
            sign * coalesce(r.first_response_at - r.created_at, 0), sign * (r.resolved_at IS NOT NULL)::INTEGER,
            sign * coalesce(r.resolved_at - r.created_at, 0))
    ON CONFLICT (day) DO UPDATE SET created = s.created + excluded.created,
        after_articles = s.after_articles + excluded.after_articles,
        first_count = s.first_count + excluded.first_count, first_sum = s.first_sum + excluded.first_sum,
        resolved_count = s.resolved_count + excluded.resolved_count,
        resolved_sum = s.resolved_sum + excluded.resolved_sum;
    INSERT INTO stats_daily_category AS s (day, category, tickets) VALUES (d, r.category, sign)
    ON CONFLICT (day, category) DO UPDATE SET tickets = s.tickets + excluded.tickets;
    -- A kiosk files many people's reports: it is not a machine with a recurring problem.
    IF r.source_kind <> 'kiosk' THEN
        INSERT INTO stats_daily_source AS s (day, source_id, tickets) VALUES (d, r.source_id, sign)
        ON CONFLICT (day, source_id) DO UPDATE SET tickets = s.tickets + excluded.tickets;
    END IF;
    INSERT INTO stats_status AS s (status, tickets) VALUES (r.status, sign)
    ON CONFLICT (status) DO UPDATE SET tickets = s.tickets + excluded.tickets;
    IF r.first_response_at IS NOT NULL THEN
        INSERT INTO stats_daily_duration AS s (kind, day, bucket, tickets)
        VALUES ('first', d, showdesk_bucket(r.first_response_at - r.created_at), sign)
        ON CONFLICT (kind, day, bucket) DO UPDATE SET tickets = s.tickets + excluded.tickets;
    END IF;
    IF r.resolved_at IS NOT NULL THEN
        INSERT INTO stats_daily_duration AS s (kind, day, bucket, tickets)
        VALUES ('resolved', d, showdesk_bucket(r.resolved_at - r.created_at), sign)
        ON CONFLICT (kind, day, bucket) DO UPDATE SET tickets = s.tickets + excluded.tickets;
    END IF;
END
$$""",
    """
CREATE FUNCTION showdesk_tickets_rollup() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM showdesk_rollup_apply(OLD, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM showdesk_rollup_apply(NEW, 1);
    END IF;
    RETURN NULL;
END
$$""",
    "CREATE TRIGGER tickets_rollup_insert_delete AFTER INSERT OR DELETE ON tickets "
    "FOR EACH ROW EXECUTE FUNCTION showdesk_tickets_rollup()",
    "CREATE TRIGGER tickets_rollup_update AFTER UPDATE OF status, category, source_kind, source_id, created_at, "
    "self_help_count, first_response_at, resolved_at ON tickets FOR EACH ROW WHEN ("
    + " OR ".join(
        f"OLD.{c} IS DISTINCT FROM NEW.{c}"
        for c in ("status", "category", "source_kind", "source_id", "created_at", "self_help_count",
                  "first_response_at", "resolved_at")
    )
    + ") EXECUTE FUNCTION showdesk_tickets_rollup()",
)


def _create_search_config(conn: Connection) -> None:
    """The text search configuration: PostgreSQL's simple words, accents folded when ``unaccent`` is there."""
    conn.execute(f"CREATE TEXT SEARCH CONFIGURATION {SEARCH_CONFIG} (COPY = pg_catalog.simple)")
    conn.execute("SAVEPOINT unaccent")
    try:
        # A trusted extension: the database's owner may create it. Some servers lack it (contrib).
        conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        conn.execute(
            f"ALTER TEXT SEARCH CONFIGURATION {SEARCH_CONFIG} "
            "ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple"
        )
        conn.execute("RELEASE SAVEPOINT unaccent")
    except (DatabaseUnavailableError, StorageFullError):
        raise
    except Exception as exc:  # noqa: BLE001 - any refusal leaves search without accent folding
        conn.execute("ROLLBACK TO SAVEPOINT unaccent")
        log.warning("PostgreSQL has no unaccent extension here (%s): search will not fold accents", _first_line(exc))


def _schema_4(conn: Connection) -> None:
    _create_search_config(conn)
    for statement in (s.strip() for s in _SCHEMA_4.split(";")):
        if statement:
            conn.execute(statement)
    for statement in _ROLLUP_FUNCTIONS:
        conn.execute(statement)
    conn.execute("CREATE INDEX tickets_search ON tickets USING gin (search)")
    import secrets

    key = secrets.token_bytes(32)
    conn.execute("INSERT INTO server_secrets (name, value) VALUES (?, ?)", (LINK_KEY_NAME, key))


def _schema_5(conn: Connection) -> None:
    """The files by their bytes (server.store.schema explains why).

    Not CONCURRENTLY: that cannot run inside the migration's transaction. A plain build holds
    off writes to ``files`` (reads go on) while it runs, once, at the first start of this version.
    """
    conn.execute("CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256)")


# (version reached, step): a new schema appends a step here and in server.store.schema alike.
_MIGRATIONS: Final[tuple[tuple[int, Callable[[Connection], None]], ...]] = ((4, _schema_4), (5, _schema_5))

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT_SECONDS",
    "DEFAULT_STATEMENT_TIMEOUT_SECONDS",
    "KEYRING_PASSWORD_USER",
    "KEYRING_SERVICE",
    "NOTIFY_CHANNEL",
    "PASSWORD_ENV",
    "PG_SCHEMA_VERSION",
    "PgRow",
    "PostgresDatabase",
    "PostgresLocation",
    "password_lookup",
    "translate",
]
