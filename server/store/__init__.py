"""The server's database: tokens, tickets, their files, the timeline, the walk-up queue.

Two engines behind one ``Database`` seam (``connection``): SQLite in the data directory, the
embedded default, and PostgreSQL 15+ for several server processes on one database
(``Store(data_dir, database="postgresql://user@host/db")``, see ``location``).

SQLite in WAL mode with ``synchronous=FULL``: a commit is on the disk when it returns.
Every write runs in ``BEGIN IMMEDIATE`` so concurrent writers queue on SQLite's lock
instead of failing half way; a writer that waits longer than the busy timeout gets
``StoreBusyError`` (the API answers 503 with Retry-After). On PostgreSQL a transaction-scoped
advisory lock gives writers the same one-at-a-time order across processes. Each thread keeps its
own connection. The command line (token management, backup) opens the same database while
the server runs; that is safe because the engine does the locking.

Why one SQL layer and not SQLAlchemy Core with Alembic: the store's statements (about 110, each
covered by tests) are written in the subset SQLite (3.35+) and PostgreSQL 15 share (ON CONFLICT,
RETURNING-free identities, standard types), so they run unchanged on both, over the standard
library's sqlite3 and psycopg 3. The embedded default keeps its tested statements and gains no
dependency in the kiosk and agent bundle, and its behaviour needs no new verification. What truly
differs (DDL and the numbered migrations, full-text search, the writer lock, the mapping of
"busy" and "disk full", the integrity check) is one module per engine (``engine_sqlite``,
``engine_postgres``) behind the small ``Database`` interface; each engine's migration chain stays
explicit numbered steps, tested, rather than generated.

Times are stored as Unix seconds (REAL); the API renders them as ISO 8601.

``Store`` is the one object the rest of the server uses; it joins one part per job:

* ``tickets``: a ticket made from a report (once per report id), worked on, read back;
* ``search``: lists of tickets, filters and full-text search, keyset pages;
* ``tokens``: API tokens and the local hand-over pair;
* ``walk_up``: the walk-up queue per site;
* ``figures``: /stats, read from roll-ups;
* ``changes``: the changes feed;
* ``requester``: the requester's link, answers, feedback, ratings and satisfaction figures;
* ``outgoing``: the outgoing-message queue (mail to the person), derived from the timeline;

over what they share: ``rows`` (rows as records, a ticket by its key, the timeline event),
``schema`` (tables, roll-ups, migrations), ``connection`` (connections, transactions, the
write lock, SQLite's errors as the store's) and ``records`` (the records, rules and errors).
Every public name of these modules is importable from ``server.store``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from server.store.changes import MAX_CHANGES_PAGE, ChangesFeed
from server.store.connection import DB_FILENAME, DEFAULT_BUSY_TIMEOUT_SECONDS, Connection, Database
from server.store.engine_postgres import DEFAULT_CONNECT_TIMEOUT_SECONDS, DEFAULT_STATEMENT_TIMEOUT_SECONDS
from server.store.figures import Figures
from server.store.location import check_location, is_postgres, open_database
from server.store.outgoing import (
    OUTGOING_STATES,
    Claimed,
    Derived,
    Deriver,
    OutgoingQueue,
    OutgoingRow,
    OutgoingState,
)
from server.store.records import (
    NUMBER_OFFSET,
    NUMBER_PREFIX,
    ROLE_RANK,
    ROLES,
    STATUSES,
    TRANSITIONS,
    BoardEntry,
    Change,
    DatabaseUnavailableError,
    EventRow,
    FileRole,
    FileRow,
    IdempotencyConflictError,
    InvalidTransitionError,
    NewFile,
    NewTicket,
    NotFoundError,
    QueueBoard,
    QueuePlace,
    QueueState,
    Role,
    Satisfaction,
    Stats,
    Status,
    StorageFullError,
    StoreBusyError,
    StoreError,
    Summary,
    TicketFilter,
    TicketRow,
    TokenNameTakenError,
    TokenRecord,
    ticket_number,
)
from server.store.requester import (
    FORM_NONCE_SECONDS,
    MAX_RATING_COMMENT_CHARS,
    REQUESTER_ACTOR,
    AnswerPhoto,
    RequesterSide,
    event_files,
)
from server.store.rows import load_link_key
from server.store.schema import SCHEMA_VERSION, SECONDS_PER_DAY, bucket_bounds, migrate
from server.store.search import MAX_PAGE, MAX_SEARCH_WORDS, TicketSearch
from server.store.tickets import Tickets
from server.store.tokens import HANDOVER_TOKEN_NAMES, TOKEN_PREFIX, Tokens, check_token_name, hash_token
from server.store.walk_up import DEFAULT_SERVICE_SECONDS, SERVICE_HISTORY, WalkUpQueue

__all__ = [
    "DB_FILENAME",
    "DEFAULT_BUSY_TIMEOUT_SECONDS",
    "DEFAULT_CONNECT_TIMEOUT_SECONDS",
    "DEFAULT_SERVICE_SECONDS",
    "DEFAULT_STATEMENT_TIMEOUT_SECONDS",
    "FORM_NONCE_SECONDS",
    "HANDOVER_TOKEN_NAMES",
    "MAX_CHANGES_PAGE",
    "MAX_PAGE",
    "MAX_RATING_COMMENT_CHARS",
    "MAX_SEARCH_WORDS",
    "NUMBER_OFFSET",
    "NUMBER_PREFIX",
    "OUTGOING_STATES",
    "REQUESTER_ACTOR",
    "ROLES",
    "ROLE_RANK",
    "SCHEMA_VERSION",
    "SECONDS_PER_DAY",
    "SERVICE_HISTORY",
    "STATUSES",
    "TOKEN_PREFIX",
    "TRANSITIONS",
    "AnswerPhoto",
    "BoardEntry",
    "Change",
    "Claimed",
    "Connection",
    "Database",
    "DatabaseUnavailableError",
    "Derived",
    "Deriver",
    "EventRow",
    "FileRole",
    "FileRow",
    "IdempotencyConflictError",
    "InvalidTransitionError",
    "NewFile",
    "NewTicket",
    "NotFoundError",
    "OutgoingQueue",
    "OutgoingRow",
    "OutgoingState",
    "QueueBoard",
    "QueuePlace",
    "QueueState",
    "Role",
    "Satisfaction",
    "Stats",
    "Status",
    "StorageFullError",
    "Store",
    "StoreBusyError",
    "StoreError",
    "Summary",
    "TicketFilter",
    "TicketRow",
    "TokenNameTakenError",
    "TokenRecord",
    "bucket_bounds",
    "check_location",
    "check_token_name",
    "event_files",
    "hash_token",
    "is_postgres",
    "open_database",
    "ticket_number",
]


class Store:
    """The database of one installation. Thread-safe: each thread gets its own connection.

    ``database`` is empty for SQLite in ``data_dir`` (the default) or a PostgreSQL URL
    (``postgresql://user@host:port/dbname``, no password in it): several ``Store`` objects, in
    one process or many, may then share that database. Opening migrates the schema.

    Each method hands over to the part that does that job; the parts share the connection
    and the write lock, so a write by one part and a read by another see one database.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
        database: str = "",
        connect_timeout: int = DEFAULT_CONNECT_TIMEOUT_SECONDS,
        statement_timeout: float = DEFAULT_STATEMENT_TIMEOUT_SECONDS,
    ) -> None:
        self.data_dir = data_dir
        self.db_path = data_dir / DB_FILENAME
        self.busy_timeout = busy_timeout
        self.location = database
        self._database = open_database(
            data_dir,
            database,
            busy_timeout=busy_timeout,
            connect_timeout=connect_timeout,
            statement_timeout=statement_timeout,
        )
        try:
            has_fts = migrate(self._database)
            link_key = load_link_key(self._database.connection())
        except BaseException:
            self._database.close()
            raise
        self._tokens = Tokens(self._database)
        self._has_fts = has_fts
        self._tickets = Tickets(self._database, has_fts=has_fts, link_key=link_key)
        self._requester = RequesterSide(self._database, link_key)
        self._search = TicketSearch(self._database, has_fts=has_fts)
        self._changes = ChangesFeed(self._database)
        self._walk_up = WalkUpQueue(self._database)
        self._figures = Figures(self._database)
        self._outgoing = OutgoingQueue(self._database)

    @property
    def outgoing(self) -> OutgoingQueue:
        """The outgoing-message queue: derive, claim, mark, list, retry, the person's stop."""
        return self._outgoing

    @property
    def has_fts(self) -> bool:
        """Whether the SQLite database has the FTS5 table ``tickets_fts`` (a writer of raw rows fills it too).

        False on PostgreSQL, whose full-text index follows the tickets by itself; search uses it there.
        """
        return self._has_fts and self.engine == "sqlite"

    @property
    def engine(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._database.engine

    @property
    def database(self) -> Database:
        """The engine underneath (for parts of the server that share the database, like rate limits)."""
        return self._database

    def describe(self) -> str:
        """Where the database is, for logs (never a password)."""
        return self._database.describe()

    # ------------------------------------------------------------ connections
    def connection(self) -> Any:
        """This thread's connection (opened on first use).

        A ``sqlite3.Connection`` on SQLite (backup copies it with ``backup()``); on PostgreSQL one with
        the same ``execute`` (``?`` placeholders, rows by name and index). Typed loosely for both.
        """
        return self._database.connection()

    def close(self) -> None:
        self._database.close()

    def add_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (from the committing thread) after every commit that added timeline events."""
        self._database.add_listener(listener)

    # ------------------------------------------------------------ tokens
    def create_token(self, name: str, role: str, site: str | None = None) -> tuple[TokenRecord, str]:
        """Make a token; returns its record and the secret, which is not stored and cannot be shown again."""
        return self._tokens.create_token(name, role, site)

    def list_tokens(self, *, include_revoked: bool = False) -> list[TokenRecord]:
        return self._tokens.list_tokens(include_revoked=include_revoked)

    def revoke_token(self, name_or_id: str) -> TokenRecord:
        return self._tokens.revoke_token(name_or_id)

    def authenticate(self, secret: str) -> TokenRecord | None:
        """The active token with this secret, looked up on every request so revocation is immediate."""
        return self._tokens.authenticate(secret)

    def rotate_handover_tokens(self) -> dict[str, str]:
        """Revoke the previous local hand-over tokens and make fresh ones; returns role → secret."""
        return self._tokens.rotate_handover_tokens()

    def revoke_handover_tokens(self, secrets_by_role: dict[str, str]) -> None:
        """Revoke the hand-over tokens made at start (on a clean shutdown)."""
        self._tokens.revoke_handover_tokens(secrets_by_role)

    # ------------------------------------------------------------ tickets: write
    def find_by_report(self, report_id: str) -> TicketRow | None:
        return self._tickets.find_by_report(report_id)

    def create_ticket(self, new: NewTicket, actor: str) -> tuple[TicketRow, bool]:
        """Insert the ticket, or return the one this report already made: ``(ticket, created)``.

        The same report id with another fingerprint raises ``IdempotencyConflictError``.
        """
        return self._tickets.create_ticket(new, actor)

    def set_status(self, key: str, status: str, actor: str) -> TicketRow:
        return self._tickets.set_status(key, status, actor)

    def assign(self, key: str, assignee: str | None, actor: str) -> TicketRow:
        return self._tickets.assign(key, assignee, actor)

    def add_note(self, key: str, text: str, *, internal: bool, actor: str) -> EventRow:
        """An internal note (technicians only see it) or a reply (the submitter sees it too)."""
        return self._tickets.add_note(key, text, internal=internal, actor=actor)

    # ------------------------------------------------------------ tickets: read
    def get_ticket(self, key: str) -> TicketRow:
        return self._tickets.get_ticket(key)

    def ticket_detail(self, key: str, *, include_internal: bool) -> tuple[TicketRow, list[FileRow], list[EventRow]]:
        return self._tickets.ticket_detail(key, include_internal=include_internal)

    def timeline(self, key: str, *, include_internal: bool) -> list[EventRow]:
        return self._tickets.timeline(key, include_internal=include_internal)

    def get_file(self, file_id: int) -> tuple[FileRow, TicketRow]:
        return self._tickets.get_file(file_id)

    def get_file_by_path(self, key: str, path: str) -> tuple[FileRow, TicketRow]:
        return self._tickets.get_file_by_path(key, path)

    def list_tickets(
        self, filters: TicketFilter, *, before_seq: int | None = None, limit: int = 50, oldest_first: bool = False
    ) -> tuple[list[TicketRow], int | None]:
        """Newest first (or oldest first); keyset pagination on ``seq``; returns the page and the next cursor."""
        return self._search.list_tickets(filters, before_seq=before_seq, limit=limit, oldest_first=oldest_first)

    def count_tickets(self) -> int:
        return self._tickets.count_tickets()

    # ------------------------------------------------------------ changes feed
    def last_change_seq(self) -> int:
        return self._changes.last_change_seq()

    def newest_change_seq(self) -> int:
        """The sequence number of the newest timeline event (0 when there is none)."""
        return self._changes.newest_change_seq()

    def changes_after(
        self, after: int, *, limit: int = 500, submitted_by: str | None = None
    ) -> tuple[list[Change], int]:
        """Timeline events after ``after`` in order, and the sequence number to continue from."""
        return self._changes.changes_after(after, limit=limit, submitted_by=submitted_by)

    # ------------------------------------------------------------ walk-up queue
    def mean_service_seconds(self, site: str, conn: Connection | None = None) -> tuple[float, int]:
        """Mean time from called to served over the site's recent visits, and how many it is based on."""
        return self._walk_up.mean_service_seconds(site, conn)

    def queue_place(self, key: str) -> QueuePlace:
        return self._walk_up.queue_place(key)

    def queue_board(self, site: str) -> QueueBoard:
        return self._walk_up.queue_board(site)

    def call_next(self, site: str, actor: str) -> TicketRow | None:
        """Call the longest-waiting person at ``site``; None when nobody waits."""
        return self._walk_up.call_next(site, actor)

    def mark_served(self, key: str, actor: str) -> QueuePlace:
        return self._walk_up.mark_served(key, actor)

    # ------------------------------------------------------------ self-help and figures
    def record_self_help(self, site: str | None, category: str, article: str, actor: str) -> int:
        return self._figures.record_self_help(site, category, article, actor)

    def stats(self, since: float, until: float) -> Stats:
        """The figures for tickets created in [since, until), and the tickets open now."""
        return self._figures.stats(since, until)

    # ------------------------------------------------------------ the requester's side
    def link_secret(self, ticket: TicketRow) -> str:
        """The secret of the ticket's current requester link (derived, never stored)."""
        return self._requester.link_secret(ticket)

    def ticket_by_link(self, secret: str) -> TicketRow | None:
        """The ticket a requester link opens; None for unknown, revoked or malformed links alike."""
        return self._requester.ticket_by_link(secret)

    def revoke_link(self, key: str, actor: str) -> TicketRow:
        return self._requester.revoke_link(key, actor)

    def set_language(self, key: str, language: str) -> None:
        self._requester.set_language(key, language)

    def add_answer(self, ticket_id: str, text: str, photos: list[AnswerPhoto], nonce: str) -> EventRow | None:
        """The person's answer; None when this form nonce was spent before (a replayed post)."""
        return self._requester.answer(ticket_id, text, photos, nonce)

    def add_feedback(self, ticket_id: str, solved: bool, nonce: str) -> EventRow | None:
        return self._requester.feedback(ticket_id, solved, nonce)

    def add_rating(self, ticket_id: str, score: int, comment: str, nonce: str) -> EventRow | None:
        return self._requester.rate(ticket_id, score, comment, nonce)

    def satisfaction(self, since: float, until: float) -> Satisfaction:
        return self._requester.satisfaction(since, until)

    # ------------------------------------------------------------ maintenance
    def referenced_digests(self) -> set[str]:
        return self._tickets.referenced_digests()

    def integrity_check(self) -> str:
        return self._database.integrity_check()
