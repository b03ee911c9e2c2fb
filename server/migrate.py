"""``showdesk server migrate``: move a SQLite + local-directory installation to PostgreSQL and/or S3.

    showdesk server migrate --from DATA_DIR [--database URL] [--blobs URL] [--resume] [--batch-rows N]

What it does, in this order (each step is safe to repeat with ``--resume``):

1. Takes the source data directory's lock (``server.runner.DataDirLock``): a server still running
   on it is refused, and none can start while the copy runs, so the source cannot change under it.
   The source's schema is brought to the current version first, as a server start would.
2. Files first (``--blobs``): every file a row names is streamed from ``<data>/blobs`` into the
   target store through the blob interface, hashed on the way; bytes that do not hash to their
   name are not copied and are reported by ticket and path, and the migration then fails before
   any row is written. Files first keeps the crash rule the server lives by: a row in the target
   never names a file the target lacks.
3. Rows (``--database``): table by table in dependency order, in batches of ``--batch-rows``, one
   transaction per batch, keeping ids, sequence numbers and times as they are. Rows already in the
   target are skipped (``ON CONFLICT DO NOTHING``), so a resumed run copies only what is missing.
   The roll-ups behind /stats are not copied: the target's own triggers build them from the tickets.
   The requester-link key is copied over the one the new database made, so every link the people
   were sent keeps working. PostgreSQL's sequences are then set past the copied ids.
4. Verifies: per table, the row count and an order-independent digest of every row's values are
   equal in source and target; every file is read back from the target and its sha256 must equal
   its name. A summary table is printed; the exit status is 0 only when everything verified.

Memory stays bounded: rows are read and written in batches through keyset pages, files streamed
in chunks. A target that already holds tickets, tokens or files is refused unless ``--resume``.
A file a row names that is absent from the source is accepted only when every ticket naming it is
closed (retention removed it) and reported; otherwise the migration fails naming it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from server.blobs import BlobBackend
    from server.store import Store

DEFAULT_BATCH_ROWS: Final = 500
PROGRESS_EVERY_FILES: Final = 10
SHOWN_PROBLEMS: Final = 20
EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2


@dataclass(frozen=True)
class TableSpec:
    """A table copied as it is: its name and the columns that identify a row (empty: none)."""

    name: str
    key: tuple[str, ...]
    # The column a sequence hands out on insert (PostgreSQL's sequence is set past the copied ids).
    serial: str | None = None


# Dependency order: a row's parents are copied before it (foreign keys hold at every commit).
COPIED_TABLES: Final = (
    TableSpec("tokens", ("id",)),
    TableSpec("server_secrets", ("name",)),
    TableSpec("tickets", ("seq",), serial="seq"),
    TableSpec("files", ("id",), serial="id"),
    TableSpec("events", ("seq",), serial="seq"),
    TableSpec("queue_entries", ("ticket_seq",)),
    TableSpec("self_help_events", ("id",), serial="id"),
    TableSpec("ticket_articles", ()),
    TableSpec("form_nonces", ("nonce",)),
    TableSpec("outgoing", ("id",), serial="id"),
    TableSpec("outgoing_cursors", ("channel",)),
    TableSpec("outgoing_stops", ("ticket_seq", "channel")),
)
# Kept by triggers on ``tickets`` in every engine: rebuilt by the target from the copied tickets.
DERIVED_TABLES: Final = (
    "stats_daily",
    "stats_daily_category",
    "stats_daily_source",
    "stats_daily_duration",
    "stats_status",
)
# The source's own machinery, not data: SQLite's sequence table and the FTS5 index with its shadow
# tables (the target indexes the copied text itself).
_SOURCE_INTERNAL_PREFIXES: Final = ("sqlite_", "tickets_fts")
# Made by the target when it opens; its value is replaced by the source's, so it never makes a target "in use".
_TABLES_A_NEW_DATABASE_FILLS: Final = frozenset({"server_secrets"})


class MigrationError(RuntimeError):
    """The migration cannot start or did not verify; the message says what and where."""


# ---------------------------------------------------------------- results
@dataclass
class TableResult:
    name: str
    source_rows: int = 0
    copied: int = 0
    target_rows: int = 0
    verified: bool = False
    note: str = ""


@dataclass
class BlobResult:
    named: int = 0
    copied: int = 0
    already_there: int = 0
    absent_expired: int = 0
    verified: int = 0
    corrupt: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


@dataclass
class MigrationSummary:
    tables: list[TableResult] = field(default_factory=list)
    blobs: BlobResult | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems


# ---------------------------------------------------------------- the source
class SourceDatabase:
    """The source's SQLite file, read under one snapshot for the whole migration."""

    def __init__(self, db_path: Path) -> None:
        # Read-only: a mistake here can never change the installation being moved.
        self.conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, isolation_level=None)
        self.conn.execute("BEGIN")
        self.conn.execute("SELECT count(*) FROM tickets").fetchone()  # the snapshot starts at the first read

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("COMMIT")
        self.conn.close()

    def tables(self) -> list[str]:
        return [str(r[0]) for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]

    def columns(self, table: str) -> list[str]:
        return [str(r[1]) for r in self.conn.execute(f"PRAGMA table_info({_ident(table)})")]

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT count(*) FROM {_ident(table)}").fetchone()[0])  # noqa: S608


# ---------------------------------------------------------------- the target database
class TargetDatabase:
    """The target store's database, written through its own transactions (the write lock, its errors)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._database = store.database
        self.is_postgres = store.engine == "postgresql"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        with self._database.write(notify=False) as conn:
            yield conn

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[Any]:
        with self._database.read() as conn:
            yield conn

    def columns(self, table: str) -> dict[str, str]:
        """Writable columns of ``table`` and their type (generated columns, like a search vector, left out)."""
        with self.snapshot() as conn:
            if not self.is_postgres:
                return {str(r[1]): str(r[2]).lower() for r in conn.execute(f"PRAGMA table_info({_ident(table)})")}
            rows = conn.execute(
                "SELECT column_name, data_type, is_generated FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ?",
                (table,),
            ).fetchall()
        return {str(r[0]): str(r[1]).lower() for r in rows if str(r[2]).upper() == "NEVER"}

    def identity_always(self, table: str) -> bool:
        """Whether ``table`` has a GENERATED ALWAYS identity column (its values need OVERRIDING SYSTEM VALUE)."""
        if not self.is_postgres:
            return False
        with self.snapshot() as conn:
            row = conn.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND table_name = ? AND identity_generation = 'ALWAYS'",
                (table,),
            ).fetchone()
        return bool(row[0])

    def count(self, table: str) -> int:
        with self.snapshot() as conn:
            return int(conn.execute(f"SELECT count(*) FROM {_ident(table)}").fetchone()[0])  # noqa: S608

    def reset_sequence(self, table: str, column: str) -> None:
        """Set PostgreSQL's sequence past the copied values, so the next row gets a new number."""
        if not self.is_postgres:
            return  # SQLite's AUTOINCREMENT follows the largest value inserted by itself
        with self.transaction() as conn:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence(?, ?), max({_ident(column)})) "  # noqa: S608
                f"FROM {_ident(table)} HAVING max({_ident(column)}) IS NOT NULL",
                (table, column),
            )


# ---------------------------------------------------------------- rows
def keyset_pages(
    conn: Any, table: str, columns: Sequence[str], key: Sequence[str], batch: int
) -> Iterator[list[tuple[Any, ...]]]:
    """Every row of ``table`` in pages of ``batch``, ordered by ``key`` (by all columns when it has none).

    Keyset pages for keyed tables (each page an index range, whatever the table's size); a table
    without a key is small (a ticket's few articles) and paged by offset over a total order.
    """
    select = ", ".join(_ident(c) for c in columns)
    order = ", ".join(_ident(c) for c in (key or columns))
    if not key:
        offset = 0
        while True:
            page = [
                tuple(r)
                for r in conn.execute(
                    f"SELECT {select} FROM {_ident(table)} ORDER BY {order} LIMIT ? OFFSET ?",  # noqa: S608
                    (batch, offset),
                ).fetchall()
            ]
            if not page:
                return
            yield page
            offset += len(page)
    positions = [list(columns).index(k) for k in key]
    after: tuple[Any, ...] | None = None
    key_sql = ", ".join(_ident(k) for k in key)
    while True:
        if after is None:
            sql, params = f"SELECT {select} FROM {_ident(table)} ORDER BY {order} LIMIT ?", (batch,)  # noqa: S608
        else:
            marks = ", ".join("?" for _ in key)
            sql = f"SELECT {select} FROM {_ident(table)} WHERE ({key_sql}) > ({marks}) ORDER BY {order} LIMIT ?"  # noqa: S608
            params = (*after, batch)
        page = [tuple(r) for r in conn.execute(sql, params).fetchall()]
        if not page:
            return
        yield page
        after = tuple(page[-1][p] for p in positions)


def _normalised(value: Any) -> bytes:
    """One value as bytes that are equal across engines for equal data (0/1 and booleans alike)."""
    if value is None:
        return b"N"
    if isinstance(value, bool):
        return b"I%d" % int(value)
    if isinstance(value, int):
        return b"I%d" % value
    if isinstance(value, float):
        return b"I%d" % int(value) if value.is_integer() else b"F" + repr(value).encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return b"B" + bytes(value)
    return b"S" + str(value).encode()


def row_digest(row: Sequence[Any]) -> int:
    """A row's hash as an integer; summing them gives a digest of a table that ignores row order.

    Row order differs between engines (text collations), so the table digest must not depend on it.
    """
    hasher = hashlib.sha256()
    for value in row:
        data = _normalised(value)
        hasher.update(len(data).to_bytes(8, "big"))
        hasher.update(data)
    return int.from_bytes(hasher.digest(), "big")


def table_digest(pages: Iterator[list[tuple[Any, ...]]]) -> tuple[int, int]:
    """(row count, sum of row digests mod 2²⁵⁶) over the pages."""
    total = rows = 0
    for page in pages:
        for row in page:
            total = (total + row_digest(row)) % (1 << 256)
            rows += 1
    return rows, total


def _coerce(row: tuple[Any, ...], booleans: Sequence[int]) -> tuple[Any, ...]:
    """SQLite keeps truth values as 0/1; a boolean column elsewhere wants True/False."""
    if not booleans:
        return row
    values = list(row)
    for position in booleans:
        if values[position] is not None:
            values[position] = bool(values[position])
    return tuple(values)


def copy_table(
    source: SourceDatabase, target: TargetDatabase, spec: TableSpec, batch: int, progress: Callable[[str], None]
) -> TableResult:
    result = TableResult(spec.name, source_rows=source.count(spec.name))
    source_columns = source.columns(spec.name)
    target_columns = target.columns(spec.name)
    lacking = [c for c in source_columns if c not in target_columns]
    if lacking:
        raise MigrationError(f"the target's table {spec.name} has no column(s) {', '.join(lacking)}: is it older?")
    booleans = [i for i, c in enumerate(source_columns) if target_columns[c] == "boolean"]
    names = ", ".join(_ident(c) for c in source_columns)
    marks = ", ".join("?" for _ in source_columns)
    overriding = " OVERRIDING SYSTEM VALUE" if target.identity_always(spec.name) else ""
    insert = f"INSERT INTO {_ident(spec.name)} ({names}){overriding} VALUES ({marks})"  # noqa: S608
    if spec.name == "server_secrets":
        # The source's requester-link key replaces the fresh one the new database made.
        insert += " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
    elif spec.key:
        insert += f" ON CONFLICT ({', '.join(_ident(k) for k in spec.key)}) DO NOTHING"
    if not spec.key:
        # No key to skip by: the whole table is replaced in one transaction (it is small).
        with target.transaction() as conn:
            conn.execute(f"DELETE FROM {_ident(spec.name)}")  # noqa: S608
            for page in keyset_pages(source.conn, spec.name, source_columns, spec.key, batch):
                conn.executemany(insert, [_coerce(row, booleans) for row in page])
                result.copied += len(page)
    else:
        for page in keyset_pages(source.conn, spec.name, source_columns, spec.key, batch):
            with target.transaction() as conn:
                # One round trip per page; the row count is of rows inserted (those already there are skipped).
                cursor = conn.executemany(insert, [_coerce(row, booleans) for row in page])
                result.copied += max(int(getattr(cursor, "rowcount", 0) or 0), 0)
            progress(f"{spec.name}: {result.copied} row(s) copied")
    if spec.serial:
        target.reset_sequence(spec.name, spec.serial)
    return result


def verify_table(source: SourceDatabase, target: TargetDatabase, result: TableResult, batch: int) -> None:
    spec_key = next(s.key for s in COPIED_TABLES if s.name == result.name)
    columns = source.columns(result.name)
    source_rows, source_sum = table_digest(keyset_pages(source.conn, result.name, columns, spec_key, batch))
    with target.snapshot() as conn:
        target_rows, target_sum = table_digest(keyset_pages(conn, result.name, columns, spec_key, batch))
    result.target_rows = target_rows
    if source_rows != target_rows:
        result.note = f"{source_rows} row(s) in the source, {target_rows} in the target"
    elif source_sum != target_sum:
        result.note = "the same number of rows, but their values differ"
    else:
        result.verified = True


def verify_derived(source: SourceDatabase, target: TargetDatabase, table: str, batch: int) -> TableResult:
    """A roll-up the target built itself: its non-zero rows must equal the source's."""
    columns = source.columns(table)
    counted = [i for i, c in enumerate(columns) if c in ("created", "tickets")]

    def live(pages: Iterator[list[tuple[Any, ...]]]) -> Iterator[list[tuple[Any, ...]]]:
        # A roll-up row that went back to zero is the same as no row.
        for page in pages:
            yield [row for row in page if not counted or any(row[i] for i in counted)]

    result = TableResult(table, note="rebuilt by the target")
    rows, total = table_digest(live(keyset_pages(source.conn, table, columns, (), batch)))
    result.source_rows = rows
    with target.snapshot() as conn:
        target_rows, target_total = table_digest(live(keyset_pages(conn, table, columns, (), batch)))
    result.target_rows = target_rows
    result.verified = (rows, total) == (target_rows, target_total)
    if not result.verified:
        result.note = "rebuilt by the target, but it differs from the source's"
    return result


# ---------------------------------------------------------------- files
def named_digests(source: SourceDatabase, batch: int) -> Iterator[str]:
    """Every distinct sha256 the source's rows name, in order, streamed (SQLite sorts on disk if it must)."""
    cursor = source.conn.execute("SELECT DISTINCT sha256 FROM files ORDER BY sha256")
    while page := cursor.fetchmany(batch):
        for (digest,) in page:
            yield str(digest)


def _where_named(source: SourceDatabase, digest: str) -> str:
    rows = source.conn.execute(
        "SELECT t.seq, f.path FROM files f JOIN tickets t ON t.seq = f.ticket_seq WHERE f.sha256 = ? ORDER BY t.seq",
        (digest,),
    ).fetchall()
    from server.store import ticket_number

    return ", ".join(f"{ticket_number(int(seq))} {path}" for seq, path in rows) or "no ticket"


def _expired_everywhere(source: SourceDatabase, digest: str) -> bool:
    """Whether every ticket that names the file is closed (retention may have removed the bytes)."""
    row = source.conn.execute(
        "SELECT count(*), sum(t.status = 'closed') FROM files f JOIN tickets t ON t.seq = f.ticket_seq "
        "WHERE f.sha256 = ?",
        (digest,),
    ).fetchone()
    return bool(row[0]) and row[0] == row[1]


def copy_blob(source: BlobBackend, target: BlobBackend, digest: str) -> bool:
    """Stream one file into the target, hashing on the way; False (nothing stored) when the bytes are not ``digest``."""
    from server.blobs import discard

    fd, temp = target.new_temp()
    hasher = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as stream:
            for chunk in source.read_chunks(digest):
                hasher.update(chunk)
                stream.write(chunk)
        if hasher.hexdigest() != digest:
            discard(temp)
            return False
        target.commit([(temp, digest)])
    except BaseException:
        discard(temp)
        raise
    return True


def read_back_ok(target: BlobBackend, digest: str) -> bool:
    hasher = hashlib.sha256()
    for chunk in target.read_chunks(digest):
        hasher.update(chunk)
    return hasher.hexdigest() == digest


def copy_blobs(
    source_db: SourceDatabase,
    source: BlobBackend,
    target: BlobBackend,
    batch: int,
    progress: Callable[[str], None],
) -> BlobResult:
    result = BlobResult()
    for digest in named_digests(source_db, batch):
        result.named += 1
        if target.exists(digest):
            result.already_there += 1  # verified with the others below
            continue
        if not source.exists(digest):
            if _expired_everywhere(source_db, digest):
                result.absent_expired += 1
            else:
                result.missing.append(digest)
            continue
        try:
            copied = copy_blob(source, target, digest)
        except OSError:
            result.unreadable.append(digest)
            continue
        if not copied:
            result.corrupt.append(digest)
            continue
        result.copied += 1
        if result.copied % PROGRESS_EVERY_FILES == 0:
            progress(f"files: {result.copied} copied, {result.already_there} already there, {result.named} named")
    return result


def verify_blobs(
    source_db: SourceDatabase, source: BlobBackend, target: BlobBackend, result: BlobResult, batch: int
) -> None:
    """Read every file back from the target: its sha256 must be its name."""
    for digest in named_digests(source_db, batch):
        if digest in result.corrupt or digest in result.missing or digest in result.unreadable:
            continue
        if not target.exists(digest):
            if not source.exists(digest) and _expired_everywhere(source_db, digest):
                continue
            result.missing.append(digest)
        elif read_back_ok(target, digest):
            result.verified += 1
        else:
            result.corrupt.append(digest)


# ---------------------------------------------------------------- the whole move
def target_in_use(target: TargetDatabase | None, blobs: BlobBackend | None) -> str | None:
    """What the target already holds (None: empty)."""
    if target is not None:
        for spec in COPIED_TABLES:
            if spec.name in _TABLES_A_NEW_DATABASE_FILLS:
                continue
            rows = target.count(spec.name)
            if rows:
                return f"the target database already holds {rows} row(s) in {spec.name}"
    if blobs is not None:
        for _digest in blobs.digests():
            return f"{blobs.describe()} already holds files"
    return None


def migrate(
    source_dir: Path,
    *,
    target_store: Store | None,
    target_blobs: BlobBackend | None,
    resume: bool = False,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: Callable[[str], None] = lambda _line: None,
) -> MigrationSummary:
    """Move ``source_dir``'s rows into ``target_store`` and its files into ``target_blobs`` (either may be None)."""
    from server.blobs import BlobStore, BlobStoreUnavailableError
    from server.runner import DataDirInUseError, DataDirLock
    from server.store import DB_FILENAME, Store

    if target_store is None and target_blobs is None:
        raise MigrationError("nothing to do: give a target database (--database), a files' store (--blobs) or both")
    if not (source_dir / DB_FILENAME).is_file():
        raise MigrationError(f"{source_dir} holds no ShowDesk server database ({DB_FILENAME})")
    started = time.monotonic()
    summary = MigrationSummary()
    try:
        lock = DataDirLock(source_dir).__enter__()
    except DataDirInUseError as exc:
        raise MigrationError(f"{exc}: stop it before moving its data") from None
    try:
        # Brings an older schema to the current one (and makes its -wal/-shm files private), as a start would.
        Store(source_dir).close()
        source_db = SourceDatabase(source_dir / DB_FILENAME)
        target = TargetDatabase(target_store) if target_store is not None else None
        try:
            unknown = [
                t
                for t in source_db.tables()
                if t not in {s.name for s in COPIED_TABLES}
                and t not in DERIVED_TABLES
                and not t.startswith(_SOURCE_INTERNAL_PREFIXES)
            ]
            if unknown and target is not None:
                raise MigrationError(f"the source has table(s) this version does not know how to move: {unknown}")
            in_use = target_in_use(target, target_blobs)
            if in_use and not resume:
                raise MigrationError(f"{in_use}; to finish an interrupted migration into it, add --resume")
            if target_blobs is not None:
                source_blobs = BlobStore(source_dir)
                try:
                    blobs = copy_blobs(source_db, source_blobs, target_blobs, batch_rows, progress)
                    summary.blobs = blobs
                    verify_blobs(source_db, source_blobs, target_blobs, blobs, batch_rows)
                except BlobStoreUnavailableError as exc:
                    raise MigrationError(str(exc)) from exc
                for label, digests in (
                    ("does not match its sha256 (corrupt in the source; not copied)", blobs.corrupt),
                    ("is named by a ticket but missing from the source", blobs.missing),
                    ("could not be read from the source", blobs.unreadable),
                ):
                    for digest in digests[:SHOWN_PROBLEMS]:
                        summary.problems.append(f"file {digest} ({_where_named(source_db, digest)}) {label}")
                    if len(digests) > SHOWN_PROBLEMS:
                        summary.problems.append(f"… and {len(digests) - SHOWN_PROBLEMS} more file(s) that {label}")
                if summary.problems:
                    # No row is written while a file it names is not safely in the target.
                    summary.seconds = time.monotonic() - started
                    return summary
            if target is not None:
                for spec in COPIED_TABLES:
                    summary.tables.append(copy_table(source_db, target, spec, batch_rows, progress))
                for result in summary.tables:
                    verify_table(source_db, target, result, batch_rows)
                    if not result.verified:
                        summary.problems.append(f"table {result.name}: {result.note}")
                for table in DERIVED_TABLES:
                    derived = verify_derived(source_db, target, table, batch_rows)
                    summary.tables.append(derived)
                    if not derived.verified:
                        summary.problems.append(f"table {table}: {derived.note}")
        finally:
            source_db.close()
    finally:
        lock.__exit__(None, None, None)
    summary.seconds = time.monotonic() - started
    return summary


def print_summary(summary: MigrationSummary, out: IO[str]) -> None:
    rows: list[tuple[str, str, str, str, str]] = [("what", "source", "target", "copied now", "verified")]
    for table in summary.tables:
        rows.append(
            (
                table.name,
                str(table.source_rows),
                str(table.target_rows),
                "-" if table.note.startswith("rebuilt") else str(table.copied),
                ("yes" if table.verified else "NO") + (f" ({table.note})" if table.note else ""),
            )
        )
    if summary.blobs is not None:
        blobs = summary.blobs
        extra = []
        if blobs.already_there:
            extra.append(f"{blobs.already_there} already there")
        if blobs.absent_expired:
            extra.append(f"{blobs.absent_expired} removed by retention")
        failed = len(blobs.corrupt) + len(blobs.missing) + len(blobs.unreadable)
        rows.append(
            (
                "files (sha256 read back)",
                str(blobs.named),
                str(blobs.verified),
                str(blobs.copied),
                ("yes" if not failed else f"NO ({failed} failed)") + (f" ({', '.join(extra)})" if extra else ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=out)
    print(f"{'verified' if summary.ok else 'NOT verified'} in {summary.seconds:.1f} s", file=out)
    for problem in summary.problems:
        print(f"problem: {problem}", file=out)


# ---------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``showdesk server migrate`` (server.cli adds them to its sub-command)."""
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        required=True,
        metavar="DATA_DIR",
        help="the data directory of the SQLite installation to move (its server stopped)",
    )
    parser.add_argument(
        "--database",
        default=None,
        metavar="URL",
        help="the PostgreSQL database to move the rows into: postgresql://user@host:port/db "
        "(password from SHOWDESK_DATABASE_PASSWORD, the keyring or libpq's own ways, never the URL)",
    )
    parser.add_argument(
        "--blobs",
        default=None,
        metavar="URL",
        help="the S3-compatible store to move the files into: s3://bucket/prefix?endpoint=https://host:port "
        "(keys from SHOWDESK_S3_ACCESS_KEY_ID/SHOWDESK_S3_SECRET_ACCESS_KEY or the keyring)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="the target already holds part of this installation (an interrupted run): copy what is missing",
    )
    parser.add_argument(
        "--batch-rows",
        type=int,
        default=DEFAULT_BATCH_ROWS,
        metavar="N",
        help=f"rows per transaction (default {DEFAULT_BATCH_ROWS})",
    )


def open_target_store(location: str, data_dir: Path) -> Store:
    """The PostgreSQL database named by ``location``, its schema made (or upgraded) as a server start would."""
    from server.store import Store, is_postgres

    if not is_postgres(location):
        raise MigrationError(f"the target database must be postgresql://user@host:port/dbname, not {location!r}")
    return Store(data_dir, database=location)


def run(args: argparse.Namespace, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run the migration ``args`` describe; the summary to ``out``, progress and errors to ``err``."""
    out = out or sys.stdout
    err = err or sys.stderr
    from server.blob_location import open_blobs
    from server.blobs import BlobStoreUnavailableError
    from server.store import DB_FILENAME, StoreError

    source: Path = args.source.expanduser().absolute()
    if args.batch_rows < 1:
        print("showdesk server migrate: --batch-rows must be 1 or more", file=err)
        return EXIT_USAGE
    if not (source / DB_FILENAME).is_file():
        # Checked before any store is opened: opening one would make its spool directory under it.
        print(f"showdesk server migrate: {source} holds no ShowDesk server database ({DB_FILENAME})", file=err)
        return EXIT_FAILED

    def progress(line: str) -> None:
        print(line, file=err, flush=True)

    target_store: Store | None = None
    target_blobs: BlobBackend | None = None
    try:
        if args.blobs:
            target_blobs = open_blobs(source, args.blobs)
            target_blobs.check()
        if args.database:
            target_store = open_target_store(args.database, source)
        summary = migrate(
            source,
            target_store=target_store,
            target_blobs=target_blobs,
            resume=args.resume,
            batch_rows=args.batch_rows,
            progress=progress,
        )
    except (MigrationError, StoreError, BlobStoreUnavailableError, ValueError, OSError) as exc:
        print(f"showdesk server migrate: {exc}", file=err)
        return EXIT_FAILED
    finally:
        if target_store is not None:
            target_store.close()
        if target_blobs is not None:
            target_blobs.close()
    print_summary(summary, out)
    if not summary.ok:
        print("showdesk server migrate: the migration did not verify; see the problems above", file=err)
        return EXIT_FAILED
    return EXIT_OK


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="showdesk server migrate",
        description="Move a SQLite + local-directory installation to PostgreSQL and/or an S3-compatible store.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def _ident(name: str) -> str:
    """A table or column name from this module's fixed lists, quoted (never a value from outside)."""
    if not name.replace("_", "").isalnum():
        raise ValueError(f"not a plain SQL name: {name!r}")
    return f'"{name}"'


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
