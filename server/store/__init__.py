"""The server's database: tokens, tickets, their files, the timeline, the walk-up queue.

SQLite in WAL mode with ``synchronous=FULL``: a commit is on the disk when it returns.
Every write runs in ``BEGIN IMMEDIATE`` so concurrent writers queue on SQLite's lock
instead of failing half way; a writer that waits longer than the busy timeout gets
``StoreBusyError`` (the API answers 503 with Retry-After). Each thread keeps its own
connection. The command line (token management, backup) opens the same database while
the server runs; that is safe because SQLite does the locking.

Times are stored as Unix seconds (REAL); the API renders them as ISO 8601.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import re
import secrets
import sqlite3
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from agent.fsutil import PRIVATE_FILE_MODE, create_private_file, make_private_dir, restrict_mode

DB_FILENAME: Final = "showdesk.db"
SCHEMA_VERSION: Final = 2
SECONDS_PER_DAY: Final = 86_400
NUMBER_PREFIX: Final = "SD-"
# Ticket numbers start at SD-1001: short, but never confused with a count.
NUMBER_OFFSET: Final = 1000
DEFAULT_BUSY_TIMEOUT_SECONDS: Final = 5.0

Role = Literal["submitter", "technician", "admin"]
ROLES: Final[tuple[Role, ...]] = ("submitter", "technician", "admin")
ROLE_RANK: Final[dict[str, int]] = {"submitter": 0, "technician": 1, "admin": 2}

Status = Literal["new", "open", "waiting", "resolved", "closed"]
STATUSES: Final[tuple[Status, ...]] = ("new", "open", "waiting", "resolved", "closed")
# new → open → waiting → resolved → closed; waiting goes back to open when the person
# answers; resolved or closed tickets reopen to open.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "new": frozenset({"open", "waiting", "resolved"}),
    "open": frozenset({"waiting", "resolved"}),
    "waiting": frozenset({"open", "resolved"}),
    "resolved": frozenset({"closed", "open"}),
    "closed": frozenset({"open"}),
}

QueueState = Literal["waiting", "called", "served"]
HANDOVER_TOKEN_NAMES: Final[dict[str, str]] = {
    "submitter": "local-handover-submitter",
    "technician": "local-handover-technician",
}
TOKEN_PREFIX: Final = "sdk_"  # noqa: S105 - a prefix that marks ShowDesk tokens, not a secret
DEFAULT_SERVICE_SECONDS: Final = 300.0
SERVICE_HISTORY: Final = 20
MAX_PAGE: Final = 200
MAX_CHANGES_PAGE: Final = 1000
MAX_SEARCH_WORDS: Final = 16

_TOKEN_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_NUMBER_RE: Final = re.compile(r"^SD-(\d{1,12})$", re.IGNORECASE)
_WORD_RE: Final = re.compile(r"\w+", re.UNICODE)


# ---------------------------------------------------------------- errors
class StoreError(Exception):
    """A request the store refused; the message names the cause."""


class StoreBusyError(StoreError):
    """The database stayed locked longer than the busy timeout."""


class NotFoundError(StoreError):
    pass


class InvalidTransitionError(StoreError):
    pass


class IdempotencyConflictError(StoreError):
    pass


class TokenNameTakenError(StoreError):
    pass


class StorageFullError(StoreError):
    """The disk (or quota) under the database or the blobs is full: nothing was stored; retry later."""


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class TokenRecord:
    id: str
    name: str
    role: Role
    site: str | None
    created_at: float
    revoked_at: float | None

    def may(self, role: str) -> bool:
        """Whether this token's role includes ``role`` (admin ⊃ technician ⊃ submitter)."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


FileRole = Literal["step", "original", "attachment", "sysinfo"]


@dataclass(frozen=True)
class NewFile:
    path: str
    role: FileRole
    step_index: int | None
    sha256: str
    size: int
    media_type: str
    display_name: str | None = None


@dataclass(frozen=True)
class NewTicket:
    """Everything the database keeps of a validated report."""

    report_id: str
    fingerprint: str
    manifest: str
    subject: str
    description: str
    category: str
    source_kind: str
    source_id: str
    site: str | None
    reporter_name: str | None
    reporter_email: str | None
    walk_up: bool
    step_count: int
    attachment_count: int
    self_help_articles: Sequence[str]
    files: Sequence[NewFile]


@dataclass(frozen=True)
class TicketRow:
    seq: int
    id: str
    number: str
    status: Status
    subject: str
    description: str
    category: str
    source_kind: str
    source_id: str
    site: str | None
    reporter_name: str | None
    reporter_email: str | None
    submitted_by: str
    assignee: str | None
    walk_up: bool
    step_count: int
    attachment_count: int
    created_at: float
    reported_at: str
    updated_at: float
    first_response_at: float | None
    resolved_at: float | None
    closed_at: float | None
    fingerprint: str
    manifest: str


@dataclass(frozen=True)
class FileRow:
    id: int
    ticket_seq: int
    path: str
    role: FileRole
    step_index: int | None
    sha256: str
    size: int
    media_type: str
    display_name: str | None


@dataclass(frozen=True)
class EventRow:
    seq: int
    ticket_seq: int
    kind: str
    actor: str
    at: float
    internal: bool
    data: dict[str, Any]


@dataclass(frozen=True)
class Change:
    seq: int
    ticket_id: str
    kind: str
    at: float


@dataclass(frozen=True)
class QueuePlace:
    site: str
    state: QueueState
    position: int
    ahead: int
    estimated_wait_seconds: float
    enqueued_at: float
    called_at: float | None
    served_at: float | None


@dataclass(frozen=True)
class BoardEntry:
    ticket_id: str
    number: str
    reporter_name: str | None
    state: QueueState
    position: int
    enqueued_at: float
    called_at: float | None
    called_by: str | None
    estimated_wait_seconds: float


@dataclass(frozen=True)
class QueueBoard:
    site: str
    waiting: list[BoardEntry]
    serving: list[BoardEntry]
    mean_service_seconds: float
    service_history: int
    estimated_wait_seconds: float


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None
    category: str | None = None
    source_id: str | None = None
    site: str | None = None
    text: str | None = None
    created_after: float | None = None
    assignee: str | None = None
    unassigned: bool = False
    reporter_email: str | None = None
    submitted_by: str | None = None


@dataclass
class Summary:
    count: int = 0
    mean_seconds: float | None = None
    median_seconds: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            return cls()
        return cls(len(values), statistics.fmean(values), statistics.median(values))


@dataclass
class Stats:
    since: float
    until: float
    tickets_created: int
    first_response: Summary
    resolution: Summary
    walk_up_wait: Summary
    by_category: list[tuple[str, int]]
    solved_by_article: int
    reports_after_articles: int
    top_articles: list[tuple[str, int]]
    recurring_machines: list[tuple[str, int]]
    open_tickets: int = 0

    @property
    def share_solved_by_self_help(self) -> float | None:
        total = self.solved_by_article + self.tickets_created
        return self.solved_by_article / total if total else None


# ---------------------------------------------------------------- schema
_SCHEMA: Final = """
CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('submitter', 'technician', 'admin')),
    site TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    revoked_at REAL
);
CREATE UNIQUE INDEX tokens_active_name ON tokens(name) WHERE revoked_at IS NULL;

CREATE TABLE tickets (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
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
    created_at REAL NOT NULL,
    reported_at TEXT NOT NULL,
    updated_at REAL NOT NULL,
    first_response_at REAL,
    resolved_at REAL,
    closed_at REAL
);
CREATE INDEX tickets_status ON tickets(status, seq);
CREATE INDEX tickets_category ON tickets(category, seq);
CREATE INDEX tickets_source ON tickets(source_id, seq);
CREATE INDEX tickets_site ON tickets(site, seq);
CREATE INDEX tickets_assignee ON tickets(assignee, seq);
CREATE INDEX tickets_reporter ON tickets(reporter_email, seq);
CREATE INDEX tickets_submitted_by ON tickets(submitted_by, seq);
CREATE INDEX tickets_created ON tickets(created_at);

CREATE TABLE files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_seq INTEGER NOT NULL REFERENCES tickets(seq),
    path TEXT NOT NULL,
    role TEXT NOT NULL,
    step_index INTEGER,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    media_type TEXT NOT NULL,
    display_name TEXT,
    UNIQUE (ticket_seq, path)
);

CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_seq INTEGER NOT NULL REFERENCES tickets(seq),
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    at REAL NOT NULL,
    internal INTEGER NOT NULL DEFAULT 0,
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_ticket ON events(ticket_seq, seq);

CREATE TABLE queue_entries (
    ticket_seq INTEGER PRIMARY KEY REFERENCES tickets(seq),
    site TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'called', 'served')),
    enqueued_at REAL NOT NULL,
    called_at REAL,
    served_at REAL,
    called_by TEXT
);
CREATE INDEX queue_site_state ON queue_entries(site, state, ticket_seq);
CREATE INDEX queue_site_served ON queue_entries(site, served_at);

CREATE TABLE self_help_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    site TEXT,
    category TEXT NOT NULL,
    article TEXT NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX self_help_at ON self_help_events(at);

CREATE TABLE ticket_articles (
    ticket_seq INTEGER NOT NULL REFERENCES tickets(seq),
    article TEXT NOT NULL
);
"""

# Full-text search over subject and description; contentless because tickets keep the text.
# Schema 2: figures kept up to date by triggers in the same transaction as the change, so
# /stats reads a few hundred roll-up rows instead of every ticket of the window.
# Days are UTC days of ``created_at`` (``CAST(created_at / 86400 AS INTEGER)``); the partial
# days at the window's edges are read from the tickets themselves (``tickets_window``).
# Durations (first response, resolution) are counted per day in buckets of two significant
# digits of whole seconds; a median is found by walking the buckets to the one holding the
# middle rank, then reading the exact values of that bucket through an index on the duration.
_ROLLUP_SCHEMA: Final = """
CREATE TABLE stats_daily (
    day INTEGER PRIMARY KEY,
    created INTEGER NOT NULL DEFAULT 0,
    after_articles INTEGER NOT NULL DEFAULT 0,
    first_count INTEGER NOT NULL DEFAULT 0,
    first_sum REAL NOT NULL DEFAULT 0,
    resolved_count INTEGER NOT NULL DEFAULT 0,
    resolved_sum REAL NOT NULL DEFAULT 0
);
CREATE TABLE stats_daily_category (
    day INTEGER NOT NULL,
    category TEXT NOT NULL,
    tickets INTEGER NOT NULL,
    PRIMARY KEY (day, category)
) WITHOUT ROWID;
CREATE TABLE stats_daily_source (
    day INTEGER NOT NULL,
    source_id TEXT NOT NULL,
    tickets INTEGER NOT NULL,
    PRIMARY KEY (day, source_id)
) WITHOUT ROWID;
CREATE TABLE stats_daily_duration (
    kind TEXT NOT NULL CHECK (kind IN ('first', 'resolved')),
    day INTEGER NOT NULL,
    bucket INTEGER NOT NULL,
    tickets INTEGER NOT NULL,
    PRIMARY KEY (kind, day, bucket)
) WITHOUT ROWID;
CREATE TABLE stats_status (
    status TEXT PRIMARY KEY,
    tickets INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tickets_window ON tickets(
    created_at, category, source_kind, source_id, self_help_count, first_response_at, resolved_at
);
CREATE INDEX tickets_first_response_time ON tickets(first_response_at - created_at, created_at)
    WHERE first_response_at IS NOT NULL;
CREATE INDEX tickets_resolution_time ON tickets(resolved_at - created_at, created_at)
    WHERE resolved_at IS NOT NULL;
CREATE INDEX queue_enqueued ON queue_entries(enqueued_at)
"""

_DURATIONS: Final = {"first": "first_response_at", "resolved": "resolved_at"}
_DURATION_INDEXES: Final = {"first": "tickets_first_response_time", "resolved": "tickets_resolution_time"}


def _bucket_sql(duration: str) -> str:
    """The bucket of a duration in seconds: whole seconds below 100, else digits × 100 + the first two digits.

    Monotonic in the duration; ``bucket_bounds`` gives each bucket's range. Pure SQL (no
    function registered from Python) so any SQLite client that writes tickets keeps the roll-up.
    """
    whole = f"CAST({duration} AS INTEGER)"
    return (
        f"(CASE WHEN {duration} < 100 THEN max({whole}, 0) "
        f"ELSE length({whole}) * 100 + CAST(substr({whole}, 1, 2) AS INTEGER) END)"
    )


def bucket_bounds(bucket: int) -> tuple[float, float]:
    """The durations [low, high) that fall in ``bucket`` (see ``_bucket_sql``)."""
    if bucket < 100:
        return (float(bucket) if bucket > 0 else -math.inf), float(bucket + 1)
    digits, lead = divmod(bucket, 100)
    scale = 10 ** (digits - 2)
    return float(lead * scale), float((lead + 1) * scale)


def _rollup_apply_sql(row: str, sign: int) -> str:
    """Statements that add (sign 1) or take away (sign -1) one ticket row (NEW or OLD) from the roll-ups."""
    # Built from this module's fixed names only (NEW/OLD, column names, ±1): no value enters the SQL.
    day = f"CAST({row}.created_at / {SECONDS_PER_DAY} AS INTEGER)"
    first = f"{row}.first_response_at - {row}.created_at"
    resolved = f"{row}.resolved_at - {row}.created_at"
    statements = [
        f"INSERT INTO stats_daily (day, created, after_articles, first_count, first_sum, resolved_count, resolved_sum) "  # noqa: S608
        f"VALUES ({day}, {sign}, {sign} * ({row}.self_help_count > 0), {sign} * ({row}.first_response_at IS NOT NULL), "
        f"{sign} * coalesce({first}, 0), {sign} * ({row}.resolved_at IS NOT NULL), {sign} * coalesce({resolved}, 0)) "
        "ON CONFLICT (day) DO UPDATE SET created = created + excluded.created, "
        "after_articles = after_articles + excluded.after_articles, first_count = first_count + excluded.first_count, "
        "first_sum = first_sum + excluded.first_sum, resolved_count = resolved_count + excluded.resolved_count, "
        "resolved_sum = resolved_sum + excluded.resolved_sum",
        f"INSERT INTO stats_daily_category (day, category, tickets) VALUES ({day}, {row}.category, {sign}) "  # noqa: S608
        "ON CONFLICT (day, category) DO UPDATE SET tickets = tickets + excluded.tickets",
        # A kiosk files many people's reports: it is not a machine with a recurring problem.
        f"INSERT INTO stats_daily_source (day, source_id, tickets) SELECT {day}, {row}.source_id, {sign} "
        f"WHERE {row}.source_kind != 'kiosk' "
        "ON CONFLICT (day, source_id) DO UPDATE SET tickets = tickets + excluded.tickets",
        f"INSERT INTO stats_status (status, tickets) VALUES ({row}.status, {sign}) "  # noqa: S608
        "ON CONFLICT (status) DO UPDATE SET tickets = tickets + excluded.tickets",
    ]
    for kind, column in _DURATIONS.items():
        duration = f"{row}.{column} - {row}.created_at"
        statements.append(
            f"INSERT INTO stats_daily_duration (kind, day, bucket, tickets) "
            f"SELECT '{kind}', {day}, {_bucket_sql(duration)}, {sign} WHERE {row}.{column} IS NOT NULL "
            "ON CONFLICT (kind, day, bucket) DO UPDATE SET tickets = tickets + excluded.tickets"
        )
    return ";\n    ".join(statements) + ";"


_ROLLUP_COLUMNS: Final = (
    "status",
    "category",
    "source_kind",
    "source_id",
    "created_at",
    "self_help_count",
    "first_response_at",
    "resolved_at",
)
_ROLLUP_TRIGGERS: Final = (
    f"CREATE TRIGGER tickets_rollup_insert AFTER INSERT ON tickets BEGIN\n    {_rollup_apply_sql('NEW', 1)}\nEND",
    f"CREATE TRIGGER tickets_rollup_delete AFTER DELETE ON tickets BEGIN\n    {_rollup_apply_sql('OLD', -1)}\nEND",
    f"CREATE TRIGGER tickets_rollup_update AFTER UPDATE OF {', '.join(_ROLLUP_COLUMNS)} ON tickets "
    f"WHEN {' OR '.join(f'OLD.{c} IS NOT NEW.{c}' for c in _ROLLUP_COLUMNS)} BEGIN\n"
    f"    {_rollup_apply_sql('OLD', -1)}\n    {_rollup_apply_sql('NEW', 1)}\nEND",
)


def _rollup_rebuild_sql() -> list[str]:
    """Fill the roll-ups from the tickets already there (the upgrade from schema 1)."""
    day = f"CAST(created_at / {SECONDS_PER_DAY} AS INTEGER)"
    statements = [
        "INSERT INTO stats_daily (day, created, after_articles, first_count, first_sum, resolved_count, resolved_sum) "  # noqa: S608
        f"SELECT {day} AS d, count(*), sum(self_help_count > 0), count(first_response_at), "
        "coalesce(sum(first_response_at - created_at), 0), count(resolved_at), "
        "coalesce(sum(resolved_at - created_at), 0) FROM tickets GROUP BY d",
        f"INSERT INTO stats_daily_category (day, category, tickets) SELECT {day} AS d, category, count(*) "  # noqa: S608
        "FROM tickets GROUP BY d, category",
        f"INSERT INTO stats_daily_source (day, source_id, tickets) SELECT {day} AS d, source_id, count(*) "  # noqa: S608
        "FROM tickets WHERE source_kind != 'kiosk' GROUP BY d, source_id",
        "INSERT INTO stats_status (status, tickets) SELECT status, count(*) FROM tickets GROUP BY status",
    ]
    for kind, column in _DURATIONS.items():
        statements.append(
            f"INSERT INTO stats_daily_duration (kind, day, bucket, tickets) "  # noqa: S608
            f"SELECT '{kind}', {day} AS d, {_bucket_sql(f'{column} - created_at')} AS b, count(*) "
            f"FROM tickets WHERE {column} IS NOT NULL GROUP BY d, b"
        )
    return statements


_FTS_SCHEMA: Final = (
    "CREATE VIRTUAL TABLE tickets_fts USING fts5("
    "subject, description, content='', tokenize='unicode61 remove_diacritics 2')"
)

_TICKET_COLUMNS: Final = (
    "seq, id, status, subject, description, category, source_kind, source_id, site, reporter_name, "
    "reporter_email, submitted_by, assignee, walk_up, step_count, attachment_count, created_at, "
    "reported_at, updated_at, first_response_at, resolved_at, closed_at, fingerprint, manifest"
)
_QUALIFIED_TICKET_COLUMNS: Final = ", ".join(f"t.{name.strip()}" for name in _TICKET_COLUMNS.split(","))


def _now() -> float:
    """Unix time rounded to the microsecond: exactly what an ISO 8601 time in the API can say, so
    a time read back from the API and sent as a filter (``since``) compares equal to the stored one."""
    return round(time.time(), 6)


def hash_token(secret: str) -> str:
    """Tokens are 32 random bytes, so a plain sha256 is enough to store them safely."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def ticket_number(seq: int) -> str:
    return f"{NUMBER_PREFIX}{NUMBER_OFFSET + seq}"


def check_token_name(name: str) -> str:
    if not _TOKEN_NAME_RE.match(name):
        raise StoreError(
            f"token name {name!r} must be 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        )
    return name


class Store:
    """The database of one data directory. Thread-safe: each thread gets its own connection."""

    def __init__(self, data_dir: Path, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS) -> None:
        self.data_dir = data_dir
        self.db_path = data_dir / DB_FILENAME
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self._write_lock = threading.Lock()
        self.has_fts = False
        make_private_dir(data_dir)
        # SQLite creates the -wal and -shm files with the database file's mode, so a private
        # database file (made here, or tightened if an older version left it 0644) keeps them private.
        if not self.db_path.exists():
            create_private_file(self.db_path)
        self._restrict_database_files()
        self._migrate()
        self._restrict_database_files()

    def _restrict_database_files(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            restrict_mode(self.db_path.with_name(self.db_path.name + suffix), PRIVATE_FILE_MODE)

    # ------------------------------------------------------------ connections
    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.db_path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
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

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from the committing thread) after every commit that added timeline events."""
        self._listeners.append(listener)

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several queries."""
        conn = self.connection()
        with _sqlite_errors():
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                _end_transaction(conn, "COMMIT")

    @contextlib.contextmanager
    def _write(self, *, notify: bool = True) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        # Writers of this process queue on a lock that wakes the next one the moment a commit
        # ends; SQLite's own busy handler polls with sleeps of up to 100 ms, which would cap
        # throughput under concurrent submissions. SQLite's lock still guards against other
        # processes (the command line).
        if not self._write_lock.acquire(timeout=self.busy_timeout):
            raise StoreBusyError("the database is busy; try again shortly")
        try:
            with _sqlite_errors():
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
            for listener in self._listeners:
                listener()

    def _migrate(self) -> None:
        conn = self.connection()
        with _sqlite_errors():
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.db_path}: cannot switch SQLite to WAL mode (got {mode})")
        with self._write(notify=False) as conn:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.db_path} was written by a newer ShowDesk server (schema {version}, this one reads "
                    f"{SCHEMA_VERSION}); upgrade this server"
                )
            if version == 0:
                for statement in _split_sql(_SCHEMA):
                    conn.execute(statement)
                with contextlib.suppress(sqlite3.OperationalError):
                    conn.execute(_FTS_SCHEMA)
            if version < 2:
                # Schema 1 → 2 (and a new database): the roll-ups for /stats, filled from the
                # tickets already there in this same transaction, then kept by triggers.
                for statement in _split_sql(_ROLLUP_SCHEMA):
                    conn.execute(statement)
                for statement in _rollup_rebuild_sql():
                    conn.execute(statement)
                for trigger in _ROLLUP_TRIGGERS:
                    conn.execute(trigger)
            if version < SCHEMA_VERSION:
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            self.has_fts = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'tickets_fts'").fetchone() is not None

    # ------------------------------------------------------------ tokens
    def create_token(self, name: str, role: str, site: str | None = None) -> tuple[TokenRecord, str]:
        """Make a token; returns its record and the secret, which is not stored and cannot be shown again."""
        check_token_name(name)
        if role not in ROLES:
            raise StoreError(f"role {role!r} is not one of {', '.join(ROLES)}")
        with self._write(notify=False) as conn:
            return self._insert_token(conn, name, role, site)

    def _insert_token(
        self, conn: sqlite3.Connection, name: str, role: str, site: str | None
    ) -> tuple[TokenRecord, str]:
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(6)
        now = _now()
        try:
            conn.execute(
                "INSERT INTO tokens (id, name, role, site, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (token_id, name, role, site, hash_token(secret), now),
            )
        except sqlite3.IntegrityError as exc:
            raise TokenNameTakenError(f"a token named {name!r} already exists; revoke it first") from exc
        return TokenRecord(token_id, name, role, site, now, None), secret  # type: ignore[arg-type]

    def list_tokens(self, *, include_revoked: bool = False) -> list[TokenRecord]:
        sql = "SELECT id, name, role, site, created_at, revoked_at FROM tokens"
        if not include_revoked:
            sql += " WHERE revoked_at IS NULL"
        rows = self.connection().execute(sql + " ORDER BY created_at, id").fetchall()
        return [_token(row) for row in rows]

    def revoke_token(self, name_or_id: str) -> TokenRecord:
        with self._write(notify=False) as conn:
            row = conn.execute(
                "SELECT id, name, role, site, created_at, revoked_at FROM tokens "
                "WHERE revoked_at IS NULL AND (id = ? OR name = ?)",
                (name_or_id, name_or_id),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no active token with the name or id {name_or_id!r}")
            now = _now()
            conn.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (now, row["id"]))
        record = _token(row)
        return TokenRecord(record.id, record.name, record.role, record.site, record.created_at, now)

    def authenticate(self, secret: str) -> TokenRecord | None:
        """The active token with this secret, looked up on every request so revocation is immediate."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
            return None
        with _sqlite_errors():
            row = (
                self.connection()
                .execute(
                    "SELECT id, name, role, site, created_at, revoked_at FROM tokens "
                    "WHERE token_hash = ? AND revoked_at IS NULL",
                    (hash_token(secret),),
                )
                .fetchone()
            )
        return None if row is None else _token(row)

    def rotate_handover_tokens(self) -> dict[str, str]:
        """Revoke the previous local hand-over tokens and make fresh ones; returns role → secret."""
        made: dict[str, str] = {}
        with self._write(notify=False) as conn:
            now = _now()
            for role, name in HANDOVER_TOKEN_NAMES.items():
                conn.execute("UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name))
                _record, secret = self._insert_token(conn, name, role, None)
                made[role] = secret
        return made

    def revoke_handover_tokens(self, secrets_by_role: dict[str, str]) -> None:
        """Revoke the hand-over tokens made at start (on a clean shutdown)."""
        with self._write(notify=False) as conn:
            now = _now()
            for secret in secrets_by_role.values():
                conn.execute(
                    "UPDATE tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
                    (now, hash_token(secret)),
                )

    # ------------------------------------------------------------ tickets: write
    def find_by_report(self, report_id: str) -> TicketRow | None:
        rows = _select_tickets(self.connection(), "WHERE id = ?", (report_id,))
        return _ticket(rows[0]) if rows else None

    def create_ticket(self, new: NewTicket, actor: str) -> tuple[TicketRow, bool]:
        """Insert the ticket, or return the one this report already made.

        Returns ``(ticket, created)``. The same report id with another fingerprint raises
        ``IdempotencyConflictError``. Runs under ``BEGIN IMMEDIATE``, and ``tickets.id`` is
        UNIQUE, so concurrent replays of one report make exactly one ticket.
        """
        with self._write() as conn:
            existing = _select_tickets(conn, "WHERE id = ?", (new.report_id,))
            if existing:
                return _check_replay(_ticket(existing[0]), new.fingerprint), False
            now = _now()
            cursor = conn.execute(
                "INSERT INTO tickets (id, fingerprint, manifest, status, subject, description, category, "
                "source_kind, source_id, site, reporter_name, reporter_email, submitted_by, walk_up, step_count, "
                "attachment_count, self_help_count, created_at, reported_at, updated_at) "
                "VALUES (?, ?, ?, 'new', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new.report_id,
                    new.fingerprint,
                    new.manifest,
                    new.subject,
                    new.description,
                    new.category,
                    new.source_kind,
                    new.source_id,
                    new.site,
                    new.reporter_name,
                    new.reporter_email.lower() if new.reporter_email else None,
                    actor,
                    int(new.walk_up),
                    new.step_count,
                    new.attachment_count,
                    len(new.self_help_articles),
                    now,
                    _reported_at(new.manifest),
                    now,
                ),
            )
            seq = int(cursor.lastrowid or 0)
            conn.executemany(
                "INSERT INTO files (ticket_seq, path, role, step_index, sha256, size, media_type, display_name) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (seq, f.path, f.role, f.step_index, f.sha256, f.size, f.media_type, f.display_name)
                    for f in new.files
                ],
            )
            conn.executemany(
                "INSERT INTO ticket_articles (ticket_seq, article) VALUES (?, ?)",
                [(seq, article) for article in new.self_help_articles],
            )
            if self.has_fts:
                conn.execute(
                    "INSERT INTO tickets_fts (rowid, subject, description) VALUES (?, ?, ?)",
                    (seq, new.subject, new.description),
                )
            _add_event(conn, seq, "created", actor, now, {"number": ticket_number(seq)})
            if new.walk_up and new.site:
                conn.execute(
                    "INSERT INTO queue_entries (ticket_seq, site, state, enqueued_at) VALUES (?, ?, 'waiting', ?)",
                    (seq, new.site, now),
                )
                _add_event(conn, seq, "queue", actor, now, {"state": "waiting", "site": new.site})
            row = _select_tickets(conn, "WHERE seq = ?", (seq,))[0]
        return _ticket(row), True

    def set_status(self, key: str, status: str, actor: str) -> TicketRow:
        if status not in STATUSES:
            raise StoreError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        with self._write() as conn:
            ticket = _get_ticket(conn, key)
            if ticket.status == status:
                return ticket
            if status not in TRANSITIONS[ticket.status]:
                allowed = ", ".join(sorted(TRANSITIONS[ticket.status]))
                raise InvalidTransitionError(
                    f"{ticket.number} is {ticket.status}; it can go to {allowed}, not {status}"
                )
            now = _now()
            resolved_at = ticket.resolved_at
            closed_at = ticket.closed_at
            if status == "resolved":
                resolved_at = now
            elif status == "closed":
                closed_at = now
                resolved_at = resolved_at or now
            elif ticket.status in ("resolved", "closed"):
                resolved_at = closed_at = None  # reopened: the clock runs again
            conn.execute(
                "UPDATE tickets SET status = ?, updated_at = ?, resolved_at = ?, closed_at = ?, "
                "first_response_at = coalesce(first_response_at, ?) WHERE seq = ?",
                (status, now, resolved_at, closed_at, now, ticket.seq),
            )
            _add_event(conn, ticket.seq, "status", actor, now, {"from": ticket.status, "to": status})
            if status in ("resolved", "closed"):
                _serve_queue_entry(conn, ticket.seq, actor, now)
            return _get_ticket(conn, ticket.id)

    def assign(self, key: str, assignee: str | None, actor: str) -> TicketRow:
        with self._write() as conn:
            ticket = _get_ticket(conn, key)
            if ticket.assignee == assignee:
                return ticket
            now = _now()
            conn.execute(
                "UPDATE tickets SET assignee = ?, updated_at = ?, first_response_at = coalesce(first_response_at, ?) "
                "WHERE seq = ?",
                (assignee, now, now, ticket.seq),
            )
            _add_event(conn, ticket.seq, "assigned", actor, now, {"from": ticket.assignee, "to": assignee})
            return _get_ticket(conn, ticket.id)

    def add_note(self, key: str, text: str, *, internal: bool, actor: str) -> EventRow:
        """An internal note (technicians only see it) or a reply (the submitter sees it too)."""
        with self._write() as conn:
            ticket = _get_ticket(conn, key)
            now = _now()
            conn.execute(
                "UPDATE tickets SET updated_at = ?, first_response_at = coalesce(first_response_at, ?) WHERE seq = ?",
                (now, now, ticket.seq),
            )
            kind = "note" if internal else "reply"
            seq = _add_event(conn, ticket.seq, kind, actor, now, {"text": text}, internal=internal)
        return EventRow(seq, ticket.seq, kind, actor, now, internal, {"text": text})

    # ------------------------------------------------------------ tickets: read
    def get_ticket(self, key: str) -> TicketRow:
        return _get_ticket(self.connection(), key)

    def ticket_detail(self, key: str, *, include_internal: bool) -> tuple[TicketRow, list[FileRow], list[EventRow]]:
        with self._read() as conn:
            ticket = _get_ticket(conn, key)
            files = [
                _file(r)
                for r in conn.execute("SELECT * FROM files WHERE ticket_seq = ? ORDER BY id", (ticket.seq,)).fetchall()
            ]
            events = self._events(conn, ticket.seq, include_internal)
        return ticket, files, events

    def timeline(self, key: str, *, include_internal: bool) -> list[EventRow]:
        with self._read() as conn:
            ticket = _get_ticket(conn, key)
            return self._events(conn, ticket.seq, include_internal)

    @staticmethod
    def _events(conn: sqlite3.Connection, seq: int, include_internal: bool) -> list[EventRow]:
        sql = "SELECT * FROM events WHERE ticket_seq = ?"
        if not include_internal:
            sql += " AND internal = 0"
        return [_event(r) for r in conn.execute(sql + " ORDER BY seq", (seq,)).fetchall()]

    def get_file(self, file_id: int) -> tuple[FileRow, TicketRow]:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM files WHERE id = ?", (file_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no file with id {file_id}")
            ticket = _select_tickets(conn, "WHERE seq = ?", (row["ticket_seq"],))[0]
        return _file(row), _ticket(ticket)

    def get_file_by_path(self, key: str, path: str) -> tuple[FileRow, TicketRow]:
        with self._read() as conn:
            ticket = _get_ticket(conn, key)
            row = conn.execute("SELECT * FROM files WHERE ticket_seq = ? AND path = ?", (ticket.seq, path)).fetchone()
            if row is None:
                raise NotFoundError(f"{ticket.number} has no file {path!r}")
        return _file(row), ticket

    def list_tickets(
        self, filters: TicketFilter, *, before_seq: int | None = None, limit: int = 50, oldest_first: bool = False
    ) -> tuple[list[TicketRow], int | None]:
        """Newest first (or oldest first); keyset pagination on ``seq``.

        Returns the page and the cursor for the next one: the last ``seq`` of this page, which
        ``before_seq`` takes next time (it means "after" when ``oldest_first``).

        With words to search for (and FTS5), the full-text index drives the query: it yields
        matching rowids in ``seq`` order, each is joined to its ticket and checked against the
        other filters, and the walk stops at the page's end. Asking instead for
        ``seq IN (every match)`` would build the whole set of matches first, a cost that grows
        with the database rather than with the page.
        """
        limit = max(1, min(limit, MAX_PAGE))
        fts_query = self._fts_query(filters.text) if filters.text else None
        # Column references are qualified, so the same conditions serve the plain and the joined query.
        where: list[str] = []
        params: list[Any] = []
        key = "f.rowid" if fts_query is not None else "t.seq"
        if fts_query is not None:
            where.append("tickets_fts MATCH ?")
            params.append(fts_query)
        if before_seq is not None:
            # The bound goes on the driving key so FTS5 (or the primary key) starts the walk there.
            where.append(f"{key} > ?" if oldest_first else f"{key} < ?")
            params.append(before_seq)
        for column, value in (
            ("status", filters.status),
            ("category", filters.category),
            ("source_id", filters.source_id),
            ("site", filters.site),
            ("assignee", filters.assignee),
            ("submitted_by", filters.submitted_by),
        ):
            if value is not None:
                where.append(f"t.{column} = ?")
                params.append(value)
        if filters.unassigned:
            where.append("t.assignee IS NULL")
        if filters.reporter_email is not None:
            where.append("t.reporter_email = ?")
            params.append(filters.reporter_email.lower())
        if filters.created_after is not None:
            # Tickets are numbered in arrival order, so the first ticket created after the
            # moment bounds seq from below: the walk down the seq index stops there instead of
            # scanning the whole table for a page that is not full.
            first_after = "(SELECT seq FROM tickets WHERE created_at > ? ORDER BY created_at LIMIT 1)"
            where.append(f"{key} >= {first_after} AND t.created_at > ?")
            params.extend([filters.created_after, filters.created_after])
        if filters.text and fts_query is None:
            text_clause, text_params = self._like_clause(filters.text)
            if text_clause:
                where.append(text_clause)
                params.extend(text_params)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        direction = "ASC" if oldest_first else "DESC"
        # CROSS JOIN keeps the full-text index as the outer loop: SQLite never reorders it.
        source = "tickets_fts f CROSS JOIN tickets t ON t.seq = f.rowid" if fts_query is not None else "tickets t"
        params.append(limit + 1)
        sql = f"SELECT {_QUALIFIED_TICKET_COLUMNS} FROM {source} {clause} ORDER BY {key} {direction} LIMIT ?"  # noqa: S608
        with _sqlite_errors():
            rows = self.connection().execute(sql, params).fetchall()
        tickets = [_ticket(r) for r in rows[:limit]]
        next_cursor = tickets[-1].seq if len(rows) > limit else None
        return tickets, next_cursor

    def _fts_query(self, text: str) -> str | None:
        """The FTS5 query for ``text``, or None when there is no full-text index (or nothing to find)."""
        if not self.has_fts:
            return None
        words = _WORD_RE.findall(text)[:MAX_SEARCH_WORDS]
        if not words:
            return None
        # Each word quoted (so no FTS syntax gets through), as a prefix, all required.
        return " ".join('"' + w.replace('"', '""') + '"*' for w in words)

    @staticmethod
    def _like_clause(text: str) -> tuple[str, list[Any]]:
        """The fallback without FTS5: every word somewhere in the subject or description."""
        words = _WORD_RE.findall(text)[:MAX_SEARCH_WORDS]
        clauses = []
        params: list[Any] = []
        for word in words:
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append("(t.subject LIKE ? ESCAPE '\\' OR t.description LIKE ? ESCAPE '\\')")
            params.extend([pattern, pattern])
        return " AND ".join(clauses), params

    def count_tickets(self) -> int:
        return int(self.connection().execute("SELECT count(*) FROM tickets").fetchone()[0])

    # ------------------------------------------------------------ changes feed
    def last_change_seq(self) -> int:
        row = self.connection().execute("SELECT max(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def newest_change_seq(self) -> int:
        """The sequence number of the newest timeline event (0 when there is none)."""
        with self._read() as conn:
            return int(conn.execute("SELECT max(seq) FROM events").fetchone()[0] or 0)

    def changes_after(
        self, after: int, *, limit: int = 500, submitted_by: str | None = None
    ) -> tuple[list[Change], int]:
        """Timeline events after ``after`` in order; for a submitter only its own tickets' public ones.

        Returns the changes and the sequence number to continue from.
        """
        limit = max(1, min(limit, MAX_CHANGES_PAGE))
        with self._read() as conn:
            top = int(conn.execute("SELECT max(seq) FROM events").fetchone()[0] or 0)
            sql = (
                "SELECT e.seq, t.id AS ticket_id, e.kind, e.at FROM events e JOIN tickets t ON t.seq = e.ticket_seq "
                "WHERE e.seq > ? AND e.seq <= ?"
            )
            params: list[Any] = [after, top]
            if submitted_by is not None:
                sql += " AND e.internal = 0 AND t.submitted_by = ?"
                params.append(submitted_by)
            sql += " ORDER BY e.seq LIMIT ?"
            params.append(limit)
            rows = conn.execute(sql, params).fetchall()
        changes = [Change(int(r["seq"]), r["ticket_id"], r["kind"], float(r["at"])) for r in rows]
        if len(changes) == limit:
            return changes, changes[-1].seq
        return changes, max(top, after)

    # ------------------------------------------------------------ walk-up queue
    def mean_service_seconds(self, site: str, conn: sqlite3.Connection | None = None) -> tuple[float, int]:
        """Mean time from called to served over the site's recent visits, and how many it is based on."""
        conn = conn or self.connection()
        rows = conn.execute(
            "SELECT served_at - called_at FROM queue_entries WHERE site = ? AND state = 'served' "
            "AND called_at IS NOT NULL ORDER BY served_at DESC LIMIT ?",
            (site, SERVICE_HISTORY),
        ).fetchall()
        durations = [max(0.0, float(r[0])) for r in rows]
        if not durations:
            return DEFAULT_SERVICE_SECONDS, 0
        return statistics.fmean(durations), len(durations)

    def queue_place(self, key: str) -> QueuePlace:
        with self._read() as conn:
            ticket = _get_ticket(conn, key)
            entry = conn.execute("SELECT * FROM queue_entries WHERE ticket_seq = ?", (ticket.seq,)).fetchone()
            if entry is None:
                raise NotFoundError(f"{ticket.number} is not in a walk-up queue")
            ahead = 0
            if entry["state"] == "waiting":
                ahead = int(
                    conn.execute(
                        "SELECT count(*) FROM queue_entries WHERE site = ? AND state = 'waiting' AND ticket_seq < ?",
                        (entry["site"], ticket.seq),
                    ).fetchone()[0]
                )
            mean, _history = self.mean_service_seconds(entry["site"], conn)
        waiting = entry["state"] == "waiting"
        return QueuePlace(
            site=entry["site"],
            state=entry["state"],
            position=ahead + 1 if waiting else 0,
            ahead=ahead,
            estimated_wait_seconds=ahead * mean if waiting else 0.0,
            enqueued_at=float(entry["enqueued_at"]),
            called_at=entry["called_at"],
            served_at=entry["served_at"],
        )

    def queue_board(self, site: str) -> QueueBoard:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT q.*, t.id AS ticket_id, t.reporter_name FROM queue_entries q "
                "JOIN tickets t ON t.seq = q.ticket_seq WHERE q.site = ? AND q.state IN ('waiting', 'called') "
                "ORDER BY q.ticket_seq",
                (site,),
            ).fetchall()
            mean, history = self.mean_service_seconds(site, conn)
        waiting: list[BoardEntry] = []
        serving: list[BoardEntry] = []
        for row in rows:
            is_waiting = row["state"] == "waiting"
            ahead = len(waiting)
            entry = BoardEntry(
                ticket_id=row["ticket_id"],
                number=ticket_number(int(row["ticket_seq"])),
                reporter_name=row["reporter_name"],
                state=row["state"],
                position=ahead + 1 if is_waiting else 0,
                enqueued_at=float(row["enqueued_at"]),
                called_at=row["called_at"],
                called_by=row["called_by"],
                estimated_wait_seconds=ahead * mean if is_waiting else 0.0,
            )
            (waiting if is_waiting else serving).append(entry)
        return QueueBoard(site, waiting, serving, mean, history, len(waiting) * mean)

    def call_next(self, site: str, actor: str) -> TicketRow | None:
        """Call the longest-waiting person at ``site``; None when nobody waits."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT ticket_seq FROM queue_entries WHERE site = ? AND state = 'waiting' ORDER BY ticket_seq LIMIT 1",
                (site,),
            ).fetchone()
            if row is None:
                return None
            seq = int(row[0])
            now = _now()
            conn.execute(
                "UPDATE queue_entries SET state = 'called', called_at = ?, called_by = ? WHERE ticket_seq = ?",
                (now, actor, seq),
            )
            _add_event(conn, seq, "queue", actor, now, {"state": "called", "site": site})
            ticket = _ticket(_select_tickets(conn, "WHERE seq = ?", (seq,))[0])
            if ticket.status == "new":
                conn.execute("UPDATE tickets SET status = 'open' WHERE seq = ?", (seq,))
                _add_event(conn, seq, "status", actor, now, {"from": "new", "to": "open"})
            conn.execute(
                "UPDATE tickets SET updated_at = ?, first_response_at = coalesce(first_response_at, ?) WHERE seq = ?",
                (now, now, seq),
            )
            return _get_ticket(conn, ticket.id)

    def mark_served(self, key: str, actor: str) -> QueuePlace:
        with self._write() as conn:
            ticket = _get_ticket(conn, key)
            entry = conn.execute("SELECT state FROM queue_entries WHERE ticket_seq = ?", (ticket.seq,)).fetchone()
            if entry is None:
                raise NotFoundError(f"{ticket.number} is not in a walk-up queue")
            _serve_queue_entry(conn, ticket.seq, actor, _now())
        return self.queue_place(key)

    # ------------------------------------------------------------ self-help and figures
    def record_self_help(self, site: str | None, category: str, article: str, actor: str) -> int:
        with self._write(notify=False) as conn:
            cursor = conn.execute(
                "INSERT INTO self_help_events (at, site, category, article, actor) VALUES (?, ?, ?, ?, ?)",
                (_now(), site, category, article, actor),
            )
            return int(cursor.lastrowid or 0)

    def stats(self, since: float, until: float) -> Stats:
        """The figures for tickets created in [since, until), and the tickets open now.

        Whole UTC days inside the window come from the roll-ups the triggers keep; the
        partial days at either edge from the tickets themselves (through ``tickets_window``,
        an index that holds every column needed). The cost follows the number of days and
        distinct values, not the number of tickets.
        """
        with self._read() as conn:
            window = (since, until)
            first_day = math.ceil(since / SECONDS_PER_DAY)
            end_day = math.floor(until / SECONDS_PER_DAY)
            if first_day < end_day:
                days: tuple[int, int] | None = (first_day, end_day)
                edges = [(since, first_day * SECONDS_PER_DAY), (end_day * SECONDS_PER_DAY, until)]
            else:
                days, edges = None, [window]
            edges = [(low, high) for low, high in edges if low < high]
            figures = _WindowFigures()
            if days is not None:
                figures.add_days(conn, days)
            for edge in edges:
                figures.add_edge(conn, edge)
            first = self._duration_summary(conn, "first", figures, window)
            resolution = self._duration_summary(conn, "resolved", figures, window)
            waits = [
                float(r[0])
                for r in conn.execute(
                    "SELECT called_at - enqueued_at FROM queue_entries WHERE enqueued_at >= ? AND enqueued_at < ? "
                    "AND called_at IS NOT NULL",
                    window,
                ).fetchall()
            ]
            solved = int(
                conn.execute("SELECT count(*) FROM self_help_events WHERE at >= ? AND at < ?", window).fetchone()[0]
            )
            top_articles = [
                (r[0], int(r[1]))
                for r in conn.execute(
                    "SELECT article, count(*) FROM self_help_events WHERE at >= ? AND at < ? "
                    "GROUP BY article ORDER BY count(*) DESC, article LIMIT 10",
                    window,
                ).fetchall()
            ]
            open_now = int(
                conn.execute(
                    "SELECT coalesce(sum(tickets), 0) FROM stats_status WHERE status IN ('new', 'open', 'waiting')"
                ).fetchone()[0]
            )
        by_category = sorted(
            ((category or "", count) for category, count in figures.categories.items() if count > 0),
            key=lambda item: (-item[1], item[0]),
        )
        recurring = sorted(
            ((source, count) for source, count in figures.sources.items() if count >= 2),
            key=lambda item: (-item[1], item[0]),
        )[:20]
        return Stats(
            since=since,
            until=until,
            tickets_created=figures.created,
            first_response=first,
            resolution=resolution,
            walk_up_wait=Summary.of(waits),
            by_category=by_category,
            solved_by_article=solved,
            reports_after_articles=figures.after_articles,
            top_articles=top_articles,
            recurring_machines=recurring,
            open_tickets=open_now,
        )

    @staticmethod
    def _duration_summary(
        conn: sqlite3.Connection, kind: str, figures: _WindowFigures, window: tuple[float, float]
    ) -> Summary:
        count, total = figures.duration_count[kind], figures.duration_sum[kind]
        if count <= 0:
            return Summary()
        histogram = sorted((bucket, n) for bucket, n in figures.histograms[kind].items() if n > 0)
        # statistics.median: the middle value, or the mean of the two middle values.
        ranks = sorted({(count - 1) // 2, count // 2})
        middle = [_nth_duration(conn, kind, histogram, rank, window) for rank in ranks]
        if any(value is None for value in middle):
            # The roll-up disagrees with the tickets (edited by hand?): count the slow way.
            column = _DURATIONS[kind]
            values = [
                float(r[0])
                for r in conn.execute(
                    f"SELECT {column} - created_at FROM tickets WHERE created_at >= ? AND created_at < ? "  # noqa: S608
                    f"AND {column} IS NOT NULL",
                    window,
                ).fetchall()
            ]
            return Summary.of(values)
        found = [value for value in middle if value is not None]
        return Summary(count, total / count, statistics.fmean(found))

    # ------------------------------------------------------------ maintenance
    def referenced_digests(self) -> set[str]:
        return {r[0] for r in self.connection().execute("SELECT DISTINCT sha256 FROM files").fetchall()}

    def integrity_check(self) -> str:
        return str(self.connection().execute("PRAGMA integrity_check").fetchone()[0])


# ---------------------------------------------------------------- helpers
class _WindowFigures:
    """Counts and sums of one /stats window, added up from roll-up days and raw edge ranges."""

    def __init__(self) -> None:
        self.created = 0
        self.after_articles = 0
        self.duration_count: dict[str, int] = dict.fromkeys(_DURATIONS, 0)
        self.duration_sum: dict[str, float] = dict.fromkeys(_DURATIONS, 0.0)
        self.categories: dict[str, int] = {}
        self.sources: dict[str, int] = {}
        self.histograms: dict[str, dict[int, int]] = {kind: {} for kind in _DURATIONS}

    def add_days(self, conn: sqlite3.Connection, days: tuple[int, int]) -> None:
        """Whole days ``days[0] <= day < days[1]`` from the roll-ups."""
        row = conn.execute(
            "SELECT coalesce(sum(created), 0), coalesce(sum(after_articles), 0), coalesce(sum(first_count), 0), "
            "coalesce(sum(first_sum), 0), coalesce(sum(resolved_count), 0), coalesce(sum(resolved_sum), 0) "
            "FROM stats_daily WHERE day >= ? AND day < ?",
            days,
        ).fetchone()
        self._add_totals(row)
        self._merge(
            self.categories,
            conn.execute(
                "SELECT category, sum(tickets) FROM stats_daily_category WHERE day >= ? AND day < ? GROUP BY category",
                days,
            ),
        )
        self._merge(
            self.sources,
            conn.execute(
                "SELECT source_id, sum(tickets) FROM stats_daily_source WHERE day >= ? AND day < ? GROUP BY source_id",
                days,
            ),
        )
        for kind in _DURATIONS:
            self._merge(
                self.histograms[kind],
                conn.execute(
                    "SELECT bucket, sum(tickets) FROM stats_daily_duration WHERE kind = ? AND day >= ? AND day < ? "
                    "GROUP BY bucket",
                    (kind, *days),
                ),
            )

    def add_edge(self, conn: sqlite3.Connection, edge: tuple[float, float]) -> None:
        """Tickets created in ``edge[0] <= created_at < edge[1]`` (less than a day), counted directly."""
        within = "FROM tickets INDEXED BY tickets_window WHERE created_at >= ? AND created_at < ?"
        row = conn.execute(
            "SELECT count(*), coalesce(sum(self_help_count > 0), 0), count(first_response_at), "
            "coalesce(sum(first_response_at - created_at), 0), count(resolved_at), "
            f"coalesce(sum(resolved_at - created_at), 0) {within}",
            edge,
        ).fetchone()
        self._add_totals(row)
        self._merge(self.categories, conn.execute(f"SELECT category, count(*) {within} GROUP BY category", edge))
        self._merge(
            self.sources,
            conn.execute(f"SELECT source_id, count(*) {within} AND source_kind != 'kiosk' GROUP BY source_id", edge),
        )
        for kind, column in _DURATIONS.items():
            bucket = _bucket_sql(f"{column} - created_at")
            self._merge(
                self.histograms[kind],
                conn.execute(f"SELECT {bucket} AS b, count(*) {within} AND {column} IS NOT NULL GROUP BY b", edge),
            )

    def _add_totals(self, row: Sequence[Any]) -> None:
        self.created += int(row[0])
        self.after_articles += int(row[1])
        self.duration_count["first"] += int(row[2])
        self.duration_sum["first"] += float(row[3])
        self.duration_count["resolved"] += int(row[4])
        self.duration_sum["resolved"] += float(row[5])

    @staticmethod
    def _merge(into: dict[Any, int], rows: Iterable[Sequence[Any]]) -> None:
        for key, count in rows:
            into[key] = into.get(key, 0) + int(count)


def _nth_duration(
    conn: sqlite3.Connection, kind: str, histogram: Sequence[tuple[int, int]], rank: int, window: tuple[float, float]
) -> float | None:
    """The duration at 0-based ``rank`` in ascending order among the window's tickets; None if the roll-up is off.

    The histogram says which bucket holds that rank and how many durations lie below it;
    the index on the duration then yields the bucket's durations in order, and only the
    window's are counted.
    """
    below = 0
    for bucket, count in histogram:
        if rank < below + count:
            low, high = bucket_bounds(bucket)
            duration = f"{_DURATIONS[kind]} - created_at"
            lower = "" if math.isinf(low) else f"{duration} >= ? AND "
            params: list[Any] = [] if math.isinf(low) else [low]
            row = conn.execute(
                f"SELECT {duration} AS d FROM tickets INDEXED BY {_DURATION_INDEXES[kind]} "  # noqa: S608
                f"WHERE {_DURATIONS[kind]} IS NOT NULL AND {lower}{duration} < ? "
                "AND created_at >= ? AND created_at < ? ORDER BY d LIMIT 1 OFFSET ?",
                [*params, high, *window, rank - below],
            ).fetchone()
            return None if row is None else float(row[0])
        below += count
    return None


@contextlib.contextmanager
def _sqlite_errors() -> Iterator[None]:
    """SQLite's "busy" and "disk full" as the store's own errors; anything else as it is."""
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


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _check_replay(existing: TicketRow, fingerprint: str) -> TicketRow:
    if existing.fingerprint != fingerprint:
        raise IdempotencyConflictError(
            f"report {existing.id} was already submitted with different content (ticket {existing.number}); "
            "a changed report needs a new id"
        )
    return existing


def _reported_at(manifest: str) -> str:
    value = json.loads(manifest).get("created_at", "")
    return value if isinstance(value, str) else ""


def _add_event(
    conn: sqlite3.Connection,
    ticket_seq: int,
    kind: str,
    actor: str,
    at: float,
    data: dict[str, Any],
    *,
    internal: bool = False,
) -> int:
    cursor = conn.execute(
        "INSERT INTO events (ticket_seq, kind, actor, at, internal, data) VALUES (?, ?, ?, ?, ?, ?)",
        (ticket_seq, kind, actor, at, int(internal), json.dumps(data, ensure_ascii=False)),
    )
    return int(cursor.lastrowid or 0)


def _serve_queue_entry(conn: sqlite3.Connection, ticket_seq: int, actor: str, now: float) -> None:
    entry = conn.execute("SELECT site, state FROM queue_entries WHERE ticket_seq = ?", (ticket_seq,)).fetchone()
    if entry is None or entry["state"] == "served":
        return
    conn.execute("UPDATE queue_entries SET state = 'served', served_at = ? WHERE ticket_seq = ?", (now, ticket_seq))
    _add_event(conn, ticket_seq, "queue", actor, now, {"state": "served", "site": entry["site"]})


def _get_ticket(conn: sqlite3.Connection, key: str) -> TicketRow:
    """A ticket by its id (the report UUID) or its number (SD-1001)."""
    number = _NUMBER_RE.match(key)
    if number:
        rows = _select_tickets(conn, "WHERE seq = ?", (int(number.group(1)) - NUMBER_OFFSET,))
    else:
        try:
            canonical = str(uuid.UUID(key))
        except ValueError:
            raise NotFoundError(f"no ticket {key!r} (ticket ids are report UUIDs or numbers like SD-1001)") from None
        rows = _select_tickets(conn, "WHERE id = ?", (canonical,))
    if not rows:
        raise NotFoundError(f"no ticket {key!r}")
    return _ticket(rows[0])


def _select_tickets(conn: sqlite3.Connection, clause: str, params: Sequence[Any]) -> list[sqlite3.Row]:
    # ``clause`` is always built in this module from fixed text; values go in as parameters.
    sql = f"SELECT {_TICKET_COLUMNS} FROM tickets {clause}"  # noqa: S608
    return conn.execute(sql, params).fetchall()


def _ticket(row: sqlite3.Row) -> TicketRow:
    return TicketRow(
        seq=int(row["seq"]),
        id=row["id"],
        number=ticket_number(int(row["seq"])),
        status=row["status"],
        subject=row["subject"],
        description=row["description"],
        category=row["category"],
        source_kind=row["source_kind"],
        source_id=row["source_id"],
        site=row["site"],
        reporter_name=row["reporter_name"],
        reporter_email=row["reporter_email"],
        submitted_by=row["submitted_by"],
        assignee=row["assignee"],
        walk_up=bool(row["walk_up"]),
        step_count=int(row["step_count"]),
        attachment_count=int(row["attachment_count"]),
        created_at=float(row["created_at"]),
        reported_at=row["reported_at"],
        updated_at=float(row["updated_at"]),
        first_response_at=row["first_response_at"],
        resolved_at=row["resolved_at"],
        closed_at=row["closed_at"],
        fingerprint=row["fingerprint"],
        manifest=row["manifest"],
    )


def _file(row: sqlite3.Row) -> FileRow:
    return FileRow(
        id=int(row["id"]),
        ticket_seq=int(row["ticket_seq"]),
        path=row["path"],
        role=row["role"],
        step_index=row["step_index"],
        sha256=row["sha256"],
        size=int(row["size"]),
        media_type=row["media_type"],
        display_name=row["display_name"],
    )


def _event(row: sqlite3.Row) -> EventRow:
    return EventRow(
        seq=int(row["seq"]),
        ticket_seq=int(row["ticket_seq"]),
        kind=row["kind"],
        actor=row["actor"],
        at=float(row["at"]),
        internal=bool(row["internal"]),
        data=json.loads(row["data"]),
    )


def _token(row: sqlite3.Row) -> TokenRecord:
    return TokenRecord(
        id=row["id"],
        name=row["name"],
        role=row["role"],
        site=row["site"],
        created_at=float(row["created_at"]),
        revoked_at=row["revoked_at"],
    )
