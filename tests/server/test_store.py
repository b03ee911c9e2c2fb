"""The store in-process: listing at scale, search input, token rules, the backup copy.

Tests that take ``seeded`` or ``open_store`` run on both engines (SQLite and the test PostgreSQL);
the ones about SQLite's files, query plans and schema upgrades on SQLite only.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.api.queue import masked_name
from server.blobs import BlobStore, storage_full_as_error
from server.store import (
    Derived,
    NewFile,
    NewTicket,
    StorageFullError,
    Store,
    StoreError,
    TicketFilter,
    TokenNameTakenError,
)
from server.store import schema as store_module
from tests.fixtures.postgres import PostgresCluster
from tests.server.helpers import seed_store

FILL_CHUNK = 64 * 1024


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _database_for(engine: str, request: pytest.FixtureRequest) -> str:
    """"" for SQLite in the data directory; a fresh database of the session's PostgreSQL otherwise."""
    if engine == "sqlite":
        return ""
    cluster: PostgresCluster = request.getfixturevalue("postgres_server")
    return cluster.database_url(cluster.new_database())


@pytest.fixture
def open_store(engine: str, request: pytest.FixtureRequest) -> Iterator[Callable[[Path], Store]]:
    """Factory: a new store of this engine with its data directory at the given path; closed afterwards."""
    opened: list[Store] = []

    def factory(data_dir: Path) -> Store:
        store = Store(data_dir, database=_database_for(engine, request))
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture(scope="module")
def seeded(engine: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = Store(tmp_path_factory.mktemp("store") / "data", database=_database_for(engine, request))
    seed_store(store, 3000, seed=1, scratch=tmp_path_factory.mktemp("seed-scratch"))
    yield store
    store.close()


# SQLite's own query plans, files and upgrades: on SQLite only.
sqlite_only = pytest.mark.parametrize("engine", ["sqlite"], indirect=True)


def test_keyset_pages_cover_every_ticket_once_newest_first(seeded: Store) -> None:
    seen: list[int] = []
    cursor: int | None = None
    while True:
        page, cursor = seeded.list_tickets(TicketFilter(), before_seq=cursor, limit=200)
        seen.extend(t.seq for t in page)
        if cursor is None:
            break
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen)) == seeded.count_tickets() == 3000


def _busiest_source(store: Store) -> str:
    row = (
        store.connection()
        .execute("SELECT source_id FROM tickets GROUP BY source_id ORDER BY count(*) DESC, source_id LIMIT 1")
        .fetchone()
    )
    return str(row[0])


@pytest.mark.parametrize(
    "make_filter",
    [
        lambda store: TicketFilter(status="open"),
        lambda store: TicketFilter(category="Network"),
        lambda store: TicketFilter(source_id=_busiest_source(store)),
        lambda store: TicketFilter(text="printer wifi"),
        lambda store: TicketFilter(created_after=0.0),
        lambda store: TicketFilter(status="closed", category="Login"),
    ],
    ids=["status", "category", "source", "text", "since", "status+category"],
)
def test_filtered_pages_match_a_plain_scan(seeded: Store, make_filter: Callable[[Store], TicketFilter]) -> None:
    filters = make_filter(seeded)
    page, _cursor = seeded.list_tickets(filters, limit=200)
    conn = seeded.connection()
    rows = conn.execute("SELECT seq, status, category, source_id, subject, description FROM tickets").fetchall()

    def matches(row: sqlite3.Row) -> bool:
        text = f"{row['subject']} {row['description']}".lower()
        return (
            (filters.status is None or row["status"] == filters.status)
            and (filters.category is None or row["category"] == filters.category)
            and (filters.source_id is None or row["source_id"] == filters.source_id)
            and (filters.text is None or all(w in text for w in filters.text.split()))
        )

    expected = sorted((r["seq"] for r in rows if matches(r)), reverse=True)[:200]
    assert [t.seq for t in page] == expected
    assert expected  # each filter finds something in the seeded data


@sqlite_only
def test_list_uses_indexes_not_a_table_scan(seeded: Store) -> None:
    plan = (
        seeded.connection()
        .execute("EXPLAIN QUERY PLAN SELECT seq FROM tickets WHERE status = ? ORDER BY seq DESC LIMIT 51", ("open",))
        .fetchall()
    )
    details = " ".join(str(row[3]) for row in plan)
    assert "USING INDEX tickets_status" in details or "USING COVERING INDEX tickets_status" in details


@pytest.mark.parametrize("query", ['"', 'a" OR b', "NEAR(x y)", "*", "col:printer", "printer)", "%_\\", "ünïcödé"])
def test_search_text_is_never_query_syntax(seeded: Store, query: str) -> None:
    page, _cursor = seeded.list_tickets(TicketFilter(text=query), limit=5)
    assert isinstance(page, list)


def test_token_names_are_unique_and_checked(open_store: Callable[[Path], Store], tmp_path: Path) -> None:
    store = open_store(tmp_path / "data")
    store.create_token("kiosk-1", "submitter")
    with pytest.raises(TokenNameTakenError, match="already exists"):
        store.create_token("kiosk-1", "technician")
    store.revoke_token("kiosk-1")
    _record, secret = store.create_token("kiosk-1", "submitter")  # the name is free again
    assert store.authenticate(secret) is not None
    assert store.authenticate(secret + "x") is None
    with pytest.raises(StoreError, match="token name"):
        store.create_token("../../etc", "submitter")
    with pytest.raises(StoreError, match="role"):
        store.create_token("someone", "root")


def test_tokens_are_stored_hashed(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    _record, secret = store.create_token("kiosk-2", "submitter")
    store.close()
    assert secret.encode() not in (tmp_path / "data" / "showdesk.db").read_bytes()
    wal = tmp_path / "data" / "showdesk.db-wal"
    assert not wal.exists() or secret.encode() not in wal.read_bytes()


@pytest.mark.parametrize(
    ("name", "shown"),
    [("Alice Baker", "Alice B."), ("Bob", "Bob"), ("  ", None), (None, None), ("Jean Claude van Damme", "Jean D.")],
)
def test_board_names_are_masked(name: str | None, shown: str | None) -> None:
    assert masked_name(name) == shown


# ---------------------------------------------------------------- a full disk
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MB tmpfs with few inodes, so both its space and its file slots can be used up."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command on this machine; cannot make a small file system")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,nr_inodes=400,mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False, capture_output=True)


def fill_space(directory: Path) -> Path:
    """Write a file until the file system says ENOSPC; returns it (delete it to free the space)."""
    filler = directory / "filler"
    with filler.open("wb") as stream:
        for _ in range(4 * 1024 * 1024 // FILL_CHUNK + 16):  # bounded: more than the disk holds
            try:
                stream.write(b"\0" * FILL_CHUNK)
                stream.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
                return filler
    raise AssertionError("the small disk never filled up")


def fill_inodes(directory: Path) -> list[Path]:
    made: list[Path] = []
    for index in range(1000):  # bounded: more than the mount's inodes
        path = directory / f"slot-{index}"
        try:
            path.touch()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            return made
        made.append(path)
    raise AssertionError("the small disk never ran out of inodes")


def new_ticket(description: str) -> NewTicket:
    report_id = str(uuid.uuid4())
    return NewTicket(
        report_id=report_id,
        fingerprint="f" * 64,
        manifest=f'{{"id": "{report_id}", "created_at": "2026-01-01T00:00:00+00:00"}}',
        subject=description[:80],
        description=description,
        category="Printing",
        source_kind="agent",
        source_id="pc-1",
        site=None,
        reporter_name=None,
        reporter_email=None,
        walk_up=False,
        step_count=0,
        attachment_count=0,
        self_help_articles=[],
        files=[],
    )


def database_counts(store: Store) -> tuple[int, int]:
    conn = store.connection()
    return (
        int(conn.execute("SELECT count(*) FROM tickets").fetchone()[0]),
        int(conn.execute("SELECT count(*) FROM events").fetchone()[0]),
    )


def test_a_full_disk_refuses_a_ticket_with_storage_full_and_stores_nothing(small_disk: Path) -> None:
    store = Store(small_disk / "data")
    kept, _created = store.create_ticket(new_ticket("the printer jams"), "kiosk-1")
    before = database_counts(store)
    filler = fill_space(small_disk)
    # Larger than anything the WAL already holds, so its pages need new space on the disk.
    big = new_ticket("printer " * 60_000)
    with pytest.raises(StorageFullError, match="full") as caught:
        store.create_ticket(big, "kiosk-1")
    assert isinstance(caught.value, StoreError)
    assert database_counts(store) == before
    assert store.find_by_report(big.report_id) is None
    assert store.get_ticket(kept.id).id == kept.id

    filler.unlink()
    # The connection is not left inside a half transaction: the same report goes in once there is room.
    created, was_new = store.create_ticket(big, "kiosk-1")
    assert was_new and database_counts(store) == (before[0] + 1, before[1] + 1)
    assert store.list_tickets(TicketFilter(text="printer"), limit=5)[0][0].id == created.id
    store.close()


def test_a_full_disk_refuses_blob_writes_with_storage_full(small_disk: Path) -> None:
    data_dir = small_disk / "data"
    store = Store(data_dir)
    blobs = BlobStore(data_dir)
    filler = fill_space(small_disk)
    fd, temp = blobs.new_temp()
    with (
        pytest.raises(StorageFullError, match="full"),
        storage_full_as_error("receiving a test upload"),
        os.fdopen(fd, "wb") as stream,
    ):
        stream.write(os.urandom(FILL_CHUNK))
    temp.unlink()
    filler.unlink()

    slots = fill_inodes(small_disk)
    with pytest.raises(StorageFullError, match="full"):
        blobs.new_temp()
    assert list(blobs.tmp.iterdir()) == []
    for slot in slots:
        slot.unlink()
    fd, temp = blobs.new_temp()  # room again
    os.close(fd)
    temp.unlink()
    store.close()


# ---------------------------------------------------------------- figures (/stats) from the roll-ups
def reference_figures(conn: sqlite3.Connection, since: float, until: float) -> dict[str, Any]:
    """The figures counted the slow, obvious way: every ticket of the window read into Python."""
    rows = conn.execute(
        "SELECT created_at, first_response_at, resolved_at, category, source_kind, source_id, self_help_count "
        "FROM tickets WHERE created_at >= ? AND created_at < ?",
        (since, until),
    ).fetchall()
    first = [r[1] - r[0] for r in rows if r[1] is not None]
    resolved = [r[2] - r[0] for r in rows if r[2] is not None]
    categories = Counter(r[3] for r in rows)
    sources = Counter(r[5] for r in rows if r[4] != "kiosk")
    open_now = conn.execute("SELECT count(*) FROM tickets WHERE status IN ('new', 'open', 'waiting')").fetchone()[0]
    return {
        "created": len(rows),
        "first": (len(first), statistics.fmean(first) if first else None, statistics.median(first) if first else None),
        "resolved": (
            len(resolved),
            statistics.fmean(resolved) if resolved else None,
            statistics.median(resolved) if resolved else None,
        ),
        "by_category": sorted(categories.items(), key=lambda item: (-item[1], item[0])),
        "recurring": sorted(((s, n) for s, n in sources.items() if n >= 2), key=lambda item: (-item[1], item[0]))[:20],
        "after_articles": sum(1 for r in rows if r[6] > 0),
        "open": open_now,
    }


def store_figures(store: Store, since: float, until: float) -> dict[str, Any]:
    stats = store.stats(since, until)
    return {
        "created": stats.tickets_created,
        "first": (stats.first_response.count, stats.first_response.mean_seconds, stats.first_response.median_seconds),
        "resolved": (stats.resolution.count, stats.resolution.mean_seconds, stats.resolution.median_seconds),
        "by_category": stats.by_category,
        "recurring": stats.recurring_machines,
        "after_articles": stats.reports_after_articles,
        "open": stats.open_tickets,
    }


def assert_same_figures(store: Store, since: float, until: float) -> None:
    expected = reference_figures(store.connection(), since, until)
    got = store_figures(store, since, until)
    for key in ("first", "resolved"):
        count, mean, median = expected[key]
        if count == 0:
            assert got[key] == (0, None, None), key
        else:
            assert got[key] == (count, pytest.approx(mean), pytest.approx(median, rel=1e-12)), key
    assert {k: v for k, v in got.items() if k not in ("first", "resolved")} == {
        k: v for k, v in expected.items() if k not in ("first", "resolved")
    }


def seeded_windows(store: Store) -> list[tuple[float, float]]:
    low, high = store.connection().execute("SELECT min(created_at), max(created_at) FROM tickets").fetchone()
    middle = (low + high) / 2
    return [
        (low - 1, high + 1),  # everything
        (high - 30 * 86400, high + 1),  # the dashboard's default: the last 30 days
        (middle - 7 * 86400 - 1234.5, middle + 3 * 86400 + 77.25),  # edges inside days
        (middle - 3000, middle + 3000),  # within a day or two: no whole day at all
        (middle, middle + 86400),  # exactly one day long, not aligned to one
        (high + 10, high + 86400 * 5),  # empty
    ]


def test_figures_match_a_count_of_every_ticket(seeded: Store) -> None:
    for since, until in seeded_windows(seeded):
        assert_same_figures(seeded, since, until)


def test_figures_follow_status_changes_reopening_and_new_tickets(
    open_store: Callable[[Path], Store], tmp_path: Path
) -> None:
    store = open_store(tmp_path / "data")
    seed_store(store, 400, seed=5, scratch=tmp_path / "scratch")
    conn = store.connection()
    open_seqs = [r[0] for r in conn.execute("SELECT seq FROM tickets WHERE status = 'open' LIMIT 6")]
    resolved_seqs = [r[0] for r in conn.execute("SELECT seq FROM tickets WHERE status = 'resolved' LIMIT 4")]
    for seq in open_seqs[:3]:
        store.set_status(f"SD-{1000 + seq}", "resolved", "tech")
    for seq in open_seqs[3:]:
        store.assign(f"SD-{1000 + seq}", "tech", "tech")
    for seq in resolved_seqs:
        store.set_status(f"SD-{1000 + seq}", "open", "tech")  # reopened: its resolution time goes away
    fresh, _created = store.create_ticket(new_ticket("the dock flickers"), "kiosk-1")
    store.add_note(fresh.id, "on it", internal=False, actor="tech")
    for since, until in seeded_windows(store):
        assert_same_figures(store, since, until)
    store.close()


def old_schema_database(data_dir: Path, tickets: int) -> None:
    """A database as schema 1 wrote it (no roll-ups), with ``tickets`` tickets and their search index."""
    data_dir.mkdir()
    conn = sqlite3.connect(data_dir / "showdesk.db", isolation_level=None)
    conn.executescript(store_module._SCHEMA)
    conn.execute(store_module._FTS_SCHEMA)
    conn.execute("PRAGMA user_version=1")
    rng = random.Random(11)
    base = time.time() - 20 * 86400
    conn.execute("BEGIN")
    for index in range(tickets):
        created = base + index * 20 * 86400 / tickets
        status = rng.choice(("new", "open", "waiting", "resolved", "closed"))
        first = None if status == "new" else created + rng.uniform(0, 20000)
        resolved = created + rng.uniform(3600, 400000) if status in ("resolved", "closed") else None
        text = f"printer number {index}" if index % 3 == 0 else f"laptop number {index}"
        cursor = conn.execute(
            "INSERT INTO tickets (id, fingerprint, manifest, status, subject, description, category, source_kind, "
            "source_id, submitted_by, walk_up, step_count, attachment_count, self_help_count, created_at, "
            "reported_at, updated_at, first_response_at, resolved_at) "
            "VALUES (?, 'f', '{}', ?, ?, ?, ?, ?, ?, 'old', 0, 0, 0, ?, ?, '', ?, ?, ?)",
            (
                str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                status,
                text,
                text,
                rng.choice(("Printing", "Network", "Login")),
                rng.choice(("agent", "agent", "kiosk")),
                f"pc-{rng.randrange(40)}",
                rng.choice((0, 0, 0, 1)),
                created,
                created,
                first,
                resolved,
            ),
        )
        conn.execute(
            "INSERT INTO tickets_fts (rowid, subject, description) VALUES (?, ?, ?)", (cursor.lastrowid, text, text)
        )
    conn.execute("COMMIT")
    conn.close()


def test_a_schema_1_database_is_upgraded_with_its_tickets(tmp_path: Path) -> None:
    data_dir = tmp_path / "old"
    old_schema_database(data_dir, 1500)
    store = Store(data_dir)
    conn = store.connection()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION == 5
    assert store.count_tickets() == 1500
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    for since, until in seeded_windows(store):
        assert_same_figures(store, since, until)
    # Search still finds the old tickets, page by page.
    pages: list[int] = []
    cursor: int | None = None
    while True:
        page, cursor = store.list_tickets(TicketFilter(text="printer"), before_seq=cursor, limit=77)
        pages.extend(t.seq for t in page)
        if cursor is None:
            break
    assert pages == list(range(1498, 0, -3))  # every third ticket (seq 1, 4, …) is about a printer
    # New tickets and changes keep the upgraded roll-ups right, and a second open changes nothing.
    store.create_ticket(new_ticket("printer out of toner"), "kiosk-1")
    open_seq = conn.execute("SELECT seq FROM tickets WHERE status = 'open' LIMIT 1").fetchone()[0]
    store.set_status(f"SD-{1000 + open_seq}", "resolved", "tech")
    store.close()
    again = Store(data_dir)
    for since, until in seeded_windows(again):
        assert_same_figures(again, since, until)
    again.close()


# ---------------------------------------------------------------- search: paging stays right
@pytest.mark.parametrize(
    "filters",
    [
        TicketFilter(text="printer"),
        TicketFilter(text="print wi"),
        TicketFilter(status="open", category="Printing", text="printer"),
        TicketFilter(status="closed", text="vpn dock", created_after=0.0),
    ],
    ids=["text", "prefixes", "status+category+text", "status+text+since"],
)
@pytest.mark.parametrize("oldest_first", [False, True], ids=["newest", "oldest"])
def test_text_search_pages_are_every_match_once_in_order(
    seeded: Store, filters: TicketFilter, oldest_first: bool
) -> None:
    words = [w.lower() for w in (filters.text or "").split()]
    rows = seeded.connection().execute("SELECT seq, status, category, subject, description FROM tickets").fetchall()

    def matches(row: sqlite3.Row) -> bool:
        tokens = re.findall(r"\w+", f"{row['subject']} {row['description']}".lower())
        return (
            (filters.status is None or row["status"] == filters.status)
            and (filters.category is None or row["category"] == filters.category)
            and all(any(token.startswith(word) for token in tokens) for word in words)
        )

    expected = sorted((r["seq"] for r in rows if matches(r)), reverse=not oldest_first)
    seen: list[int] = []
    cursor: int | None = None
    for _ in range(len(expected) // 23 + 2):  # bounded: one page more than needed
        page, cursor = seeded.list_tickets(filters, before_seq=cursor, limit=23, oldest_first=oldest_first)
        seen.extend(t.seq for t in page)
        if cursor is None:
            break
    assert cursor is None
    assert expected and seen == expected


@sqlite_only
def test_text_search_is_driven_by_the_full_text_index_with_a_limit(seeded: Store) -> None:
    seeded.list_tickets(TicketFilter(text="printer", status="open"), limit=5)  # warm; the plan is what counts
    conn = seeded.connection()
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT t.seq FROM tickets_fts f CROSS JOIN tickets t ON t.seq = f.rowid "
        "WHERE tickets_fts MATCH ? AND t.status = ? ORDER BY f.rowid DESC LIMIT ?",
        ('"printer"*', "open", 6),
    ).fetchall()
    details = [str(row[3]) for row in plan]
    assert details[0].startswith("SCAN f VIRTUAL TABLE")
    assert any("INTEGER PRIMARY KEY" in d for d in details)
    assert not any("TEMP B-TREE" in d for d in details), details  # no sort of every match


def test_seeded_tickets_have_a_working_requester_link(seeded: Store) -> None:
    tickets, _cursor = seeded.list_tickets(TicketFilter(), limit=20)
    assert len(tickets) == 20
    for ticket in tickets:
        opened = seeded.ticket_by_link(seeded.link_secret(ticket))
        assert opened is not None and opened.id == ticket.id


def test_a_schema_3_database_is_upgraded_to_the_outgoing_queue_with_its_data_kept(tmp_path: Path) -> None:
    # Schema 4 only adds tables, so a schema 3 database is a current one without them.
    data_dir = tmp_path / "v3"
    store = Store(data_dir)
    made = [
        store.create_ticket(dataclasses.replace(new_ticket(f"printer {n}"), reporter_email="a@example.org"), "kiosk-1")[
            0
        ]
        for n in range(3)
    ]
    store.add_note(made[0].id, "Which printer?", internal=False, actor="tech")
    link = store.link_secret(made[1])
    store.close()
    conn = sqlite3.connect(data_dir / "showdesk.db")
    conn.executescript(
        "DROP TABLE outgoing; DROP TABLE outgoing_cursors; DROP TABLE outgoing_stops; PRAGMA user_version=3;"
    )
    conn.close()

    upgraded = Store(data_dir)

    conn = upgraded.connection()
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store_module.SCHEMA_VERSION == 5
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert upgraded.count_tickets() == 3
    assert "reply" in [e.kind for e in upgraded.timeline(made[0].id, include_internal=True)]
    opened = upgraded.ticket_by_link(link)
    assert opened is not None and opened.id == made[1].id
    # The new queue works on the old data: a channel starts at the newest event, then derives.
    queue = upgraded.outgoing
    assert queue.derive("mail", lambda e, t: [], max_age=3600, message_domain="example.org") == 0
    upgraded.add_note(made[2].id, "Fixed?", internal=False, actor="tech")
    added = queue.derive(
        "mail",
        lambda e, t: [Derived(e.kind, t.reporter_email or "")] if e.kind == "reply" else [],
        max_age=3600,
        message_domain="example.org",
    )
    assert added == 1
    assert [(r.ticket_number, r.kind, r.state) for r in queue.list_rows()] == [(made[2].number, "reply", "pending")]
    # Deriving again adds nothing: the cursor moved, and the row is unique anyway.
    assert (
        queue.derive(
            "mail", lambda e, t: [Derived("reply", "a@example.org")], max_age=3600, message_domain="example.org"
        )
        == 0
    )
    upgraded.close()


# ---------------------------------------------------------------- schema 5: files by their bytes, both engines
def _schema_version(store: Store) -> int:
    conn = store.connection()
    if store.engine == "postgresql":
        return int(conn.execute("SELECT version FROM schema_version").fetchone()[0])
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _set_schema_version(store: Store, version: int) -> None:
    """Write another schema number into the database, as an older or newer server would have left it."""
    with store.database.write(notify=False) as conn:
        if store.engine == "postgresql":
            conn.execute("UPDATE schema_version SET version = ?", (version,))
        else:
            conn.execute(f"PRAGMA user_version={int(version)}")


def _lookup_plan(store: Store, digests: list[str]) -> str:
    """How the engine finds the file rows naming ``digests`` (retention's re-check, per batch)."""
    marks = ", ".join("?" for _ in digests)
    query = f"SELECT ticket_seq, role FROM files WHERE sha256 IN ({marks})"  # noqa: S608 - placeholders only
    with store.database.write(notify=False) as conn:  # a transaction of its own: SET LOCAL ends with it
        if store.engine == "postgresql":
            # A table of a few rows is read whole whatever its indexes: ask whether one serves the lookup.
            conn.execute("SET LOCAL enable_seqscan = off")
            return "\n".join(str(r[0]) for r in conn.execute(f"EXPLAIN {query}", digests).fetchall())
        return "\n".join(str(r[3]) for r in conn.execute(f"EXPLAIN QUERY PLAN {query}", digests).fetchall())


def _ticket_with_files(description: str, digests: list[str]) -> NewTicket:
    files = [NewFile(f"steps/{n}.png", "step", n, digest, 1000 + n, "image/png") for n, digest in enumerate(digests)]
    return dataclasses.replace(new_ticket(description), step_count=len(files), files=files)


def test_a_schema_4_database_gains_the_files_by_digest_index_with_its_data_kept(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    database = _database_for(engine, request)
    data_dir = tmp_path / "v4"
    digests = [hashlib.sha256(f"screenshot {n}".encode()).hexdigest() for n in range(5)]
    store = Store(data_dir, database=database)
    try:
        # The same screenshot in two tickets: one digest, two rows.
        made = [
            store.create_ticket(_ticket_with_files("printer jams", digests[:3]), "kiosk-1")[0],
            store.create_ticket(_ticket_with_files("printer jams again", digests[2:]), "kiosk-1")[0],
        ]
        link = store.link_secret(made[1])
        # Back to schema 4: the same tables without the index.
        with store.database.write(notify=False) as conn:
            conn.execute("DROP INDEX files_sha256")
        _set_schema_version(store, 4)
        assert "files_sha256" not in _lookup_plan(store, digests[2:3])
    finally:
        store.close()

    upgraded = Store(data_dir, database=database)
    try:
        assert _schema_version(upgraded) == store_module.SCHEMA_VERSION == 5
        assert upgraded.integrity_check() == "ok"
        assert upgraded.count_tickets() == 2
        assert upgraded.referenced_digests() == set(digests)
        file_row, ticket = upgraded.get_file_by_path(made[0].id, "steps/2.png")
        assert (file_row.sha256, ticket.id) == (digests[2], made[0].id)
        opened = upgraded.ticket_by_link(link)
        assert opened is not None and opened.id == made[1].id
        assert "files_sha256" in _lookup_plan(upgraded, digests[2:3])
        # New rows go through the index too, and a second open changes nothing.
        upgraded.create_ticket(_ticket_with_files("scanner", [digests[0]]), "kiosk-1")
    finally:
        upgraded.close()
    again = Store(data_dir, database=database)
    try:
        assert _schema_version(again) == 5 and again.count_tickets() == 3
    finally:
        again.close()


def test_a_database_of_a_newer_schema_is_refused(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    database = _database_for(engine, request)
    store = Store(tmp_path / "newer", database=database)
    try:
        store.create_ticket(new_ticket("written by this version"), "kiosk-1")
        _set_schema_version(store, store_module.SCHEMA_VERSION + 1)
    finally:
        store.close()
    with pytest.raises(StoreError, match=f"newer ShowDesk server \\(schema {store_module.SCHEMA_VERSION + 1}"):
        Store(tmp_path / "newer", database=database)
