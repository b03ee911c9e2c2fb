"""The SQLite schema: the tables, the roll-ups that keep /stats cheap, and the numbered migrations.

PostgreSQL's schema (the same tables and figures) and its own chain are in ``server.store.engine_postgres``.

A new database gets the current schema; an older one is upgraded in one transaction when a
server (or the command line) opens it. A database written by a newer server is refused.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import sqlite3
from pathlib import Path
from typing import Final

from server.store.connection import Database, sqlite_errors
from server.store.records import LINK_KEY_NAME, StoreError, link_hash, link_secret

SCHEMA_VERSION: Final = 5
SECONDS_PER_DAY: Final = 86_400

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

DURATION_COLUMNS: Final = {"first": "first_response_at", "resolved": "resolved_at"}
DURATION_INDEXES: Final = {"first": "tickets_first_response_time", "resolved": "tickets_resolution_time"}


def bucket_sql(duration: str) -> str:
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
    """The durations [low, high) that fall in ``bucket`` (see ``bucket_sql``)."""
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
    for kind, column in DURATION_COLUMNS.items():
        duration = f"{row}.{column} - {row}.created_at"
        statements.append(
            f"INSERT INTO stats_daily_duration (kind, day, bucket, tickets) "
            f"SELECT '{kind}', {day}, {bucket_sql(duration)}, {sign} WHERE {row}.{column} IS NOT NULL "
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
    for kind, column in DURATION_COLUMNS.items():
        statements.append(
            f"INSERT INTO stats_daily_duration (kind, day, bucket, tickets) "  # noqa: S608
            f"SELECT '{kind}', {day} AS d, {bucket_sql(f'{column} - created_at')} AS b, count(*) "
            f"FROM tickets WHERE {column} IS NOT NULL GROUP BY d, b"
        )
    return statements


# Schema 2 → 3: the requester's page. A ticket's link is derived from a key kept here (so a
# backup carries it and restored links keep working) and found by its hash; the generation is
# bumped by a revocation. Form nonces are remembered once used, so a replayed post answers once.
_REQUESTER_SCHEMA: Final = """
ALTER TABLE tickets ADD COLUMN link_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN link_hash TEXT;
ALTER TABLE tickets ADD COLUMN language TEXT;
CREATE UNIQUE INDEX tickets_link_hash ON tickets(link_hash);
CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE form_nonces (
    nonce TEXT PRIMARY KEY,
    ticket_seq INTEGER NOT NULL,
    used_at REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX form_nonces_used ON form_nonces(used_at);
CREATE INDEX events_kind ON events(kind, at)
"""
LINK_KEY_BYTES: Final = 32

# Schema 3 → 4: the outgoing-message queue (server.store.outgoing). Each channel (mail now) reads
# the timeline after its own durable cursor and turns events into rows, once per (channel,
# ticket, event, kind, recipient); a row moves pending → sending → sent, or back to pending
# with a later due time, or to failed after its last attempt, or to dropped when the person
# stopped that channel for the ticket (outgoing_stops).
_OUTGOING_SCHEMA: Final = """
CREATE TABLE outgoing (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    ticket_seq INTEGER NOT NULL REFERENCES tickets(seq),
    event_seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'dropped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at REAL NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    sent_at REAL,
    last_error TEXT,
    message_id TEXT NOT NULL UNIQUE,
    UNIQUE (channel, ticket_seq, event_seq, kind, recipient)
);
CREATE INDEX outgoing_due ON outgoing(channel, state, due_at);
CREATE INDEX outgoing_ticket ON outgoing(ticket_seq, id);
CREATE TABLE outgoing_cursors (
    channel TEXT PRIMARY KEY,
    event_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE outgoing_stops (
    ticket_seq INTEGER NOT NULL REFERENCES tickets(seq),
    channel TEXT NOT NULL,
    stopped_at REAL NOT NULL,
    PRIMARY KEY (ticket_seq, channel)
) WITHOUT ROWID
"""

# Schema 4 → 5: the files by their bytes. Retention asks which rows name a batch of digests
# (again under the write lock, each batch) and which digests any row names; without this index
# both read every file row. IF NOT EXISTS: a step made again over a database that has it (an
# older schema number written over a newer database, as tests and hand repairs do) is harmless.
_FILES_BY_DIGEST_SCHEMA: Final = "CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256)"

_FTS_SCHEMA: Final = (
    "CREATE VIRTUAL TABLE tickets_fts USING fts5("
    "subject, description, content='', tokenize='unicode61 remove_diacritics 2')"
)


def migrate(database: Database) -> bool:
    """Bring the database to ``SCHEMA_VERSION`` by its engine's migrations; True when search has a full-text index."""
    return database.migrate()


def migrate_sqlite(database: Database, path: Path) -> bool:
    """Bring a SQLite database to ``SCHEMA_VERSION`` in WAL mode; returns whether it has the full-text index."""
    conn = database.connection()
    with sqlite_errors():
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: cannot switch SQLite to WAL mode (got {mode})")
    with database.write(notify=False) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} was written by a newer ShowDesk server (schema {version}, this one reads "
                f"{SCHEMA_VERSION}); upgrade this server"
            )
        if version == 0:
            for statement in _split_sql(_SCHEMA):
                conn.execute(statement)
            # Some SQLite builds lack FTS5: search then falls back to LIKE.
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
        if version < 3:
            for statement in _split_sql(_REQUESTER_SCHEMA):
                conn.execute(statement)
            key = secrets.token_bytes(LINK_KEY_BYTES)
            conn.execute("INSERT INTO server_secrets (name, value) VALUES (?, ?)", (LINK_KEY_NAME, key))
            # Tickets from before schema 3 get their links here, in the same transaction.
            for seq, ticket_id in conn.execute("SELECT seq, id FROM tickets").fetchall():
                conn.execute(
                    "UPDATE tickets SET link_hash = ? WHERE seq = ?", (link_hash(link_secret(key, ticket_id, 0)), seq)
                )
        if version < 4:
            for statement in _split_sql(_OUTGOING_SCHEMA):
                conn.execute(statement)
        if version < 5:
            conn.execute(_FILES_BY_DIGEST_SCHEMA)
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'tickets_fts'").fetchone() is not None


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
