"""The store on PostgreSQL as several processes use it: two ``Store`` objects on one test database.

Each ``Store`` keeps its own connections, write lock and listener thread, exactly as one server
process does, so two of them in one test stand for two processes on one database (the real
two-process layout is tests/server/test_two_processes.py). The database is the session's
throw-away PostgreSQL (tests/fixtures/postgres.py), a fresh one per test.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from server.ratelimit import DatabaseRateLimiter, RateLimit, RateLimiter
from server.store import (
    DatabaseUnavailableError,
    NewTicket,
    Store,
    StoreBusyError,
    StoreError,
    TicketFilter,
    check_location,
    engine_postgres,
)
from server.store.engine_postgres import WRITE_LOCK_KEY, PostgresLocation, translate
from tests.fixtures.server import free_port
from tests.fixtures.waiting import wait_until
from tests.server.helpers import seed_store

REPLAYS = 50
WAKE_DEADLINE_SECONDS = 2.0


@pytest.fixture
def open_stores(tmp_path: Path) -> Iterator[Callable[..., Store]]:
    """Factory: ``open_stores(url, **options)`` → a Store on ``url`` (its own data directory); all closed after."""
    opened: list[Store] = []

    def factory(url: str, **options: float) -> Store:
        store = Store(tmp_path / f"data-{len(opened)}", database=url, **options)  # type: ignore[arg-type]
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


def new_ticket(report_id: str, description: str = "the printer jams", *, fingerprint: str = "f" * 64) -> NewTicket:
    return NewTicket(
        report_id=report_id,
        fingerprint=fingerprint,
        manifest=f'{{"id": "{report_id}", "created_at": "2026-01-01T00:00:00+00:00"}}',
        subject=description[:80],
        description=description,
        category="Printing",
        source_kind="agent",
        source_id="pc-1",
        site="hq",
        reporter_name=None,
        reporter_email=None,
        walk_up=True,
        step_count=0,
        attachment_count=0,
        self_help_articles=(),
        files=(),
    )


# ---------------------------------------------------------------- one writer at a time, across processes
def test_fifty_concurrent_replays_over_two_stores_make_one_ticket(
    postgres_url: str, open_stores: Callable[..., Store]
) -> None:
    first, second = open_stores(postgres_url), open_stores(postgres_url)
    report = new_ticket(str(uuid.uuid4()))
    barrier = threading.Barrier(8)

    def replay(index: int) -> tuple[int, bool]:
        if index < 8:
            barrier.wait(timeout=10)  # the first eight start together: the race is real
        ticket, created = (first if index % 2 else second).create_ticket(report, "kiosk")
        return ticket.seq, created

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(replay, range(REPLAYS)))

    assert len({seq for seq, _created in results}) == 1
    assert sum(created for _seq, created in results) == 1
    assert first.count_tickets() == second.count_tickets() == 1
    # One "created" and one "queue" event: no replay added to the timeline or the walk-up queue.
    changes, _next = second.changes_after(0)
    assert [c.kind for c in changes] == ["created", "queue"]
    assert len(first.queue_board("hq").waiting) == 1


def test_a_writer_waiting_past_the_busy_timeout_gets_busy_and_the_next_one_goes_through(
    postgres_url: str, open_stores: Callable[..., Store]
) -> None:
    store = open_stores(postgres_url, busy_timeout=0.5)
    with psycopg.connect(postgres_url, autocommit=True) as holder:
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))  # another process mid-write
        with pytest.raises(StoreBusyError, match="busy"):
            store.create_token("kiosk-busy", "submitter")
        holder.execute("COMMIT")
    record, _secret = store.create_token("kiosk-busy", "submitter")
    assert record.name == "kiosk-busy"


def test_sequence_numbers_commit_in_order_so_the_feed_never_skips_one(
    postgres_url: str, open_stores: Callable[..., Store]
) -> None:
    """Readers that follow the feed while two stores write see every event exactly once, in order."""
    first, second = open_stores(postgres_url), open_stores(postgres_url)
    reader = open_stores(postgres_url)
    seen: list[int] = []
    done = threading.Event()

    def follow() -> None:
        after = 0
        for _ in range(100_000):  # bounded; ends when the writers are done and the feed is read
            changes, after = reader.changes_after(after)
            seen.extend(c.seq for c in changes)
            if done.is_set() and not changes:
                return

    follower = threading.Thread(target=follow)
    follower.start()
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda i: (first, second)[i % 2].create_ticket(new_ticket(str(uuid.uuid4())), "k"), range(40)))
    done.set()
    follower.join(timeout=30)
    everything, _next = reader.changes_after(0, limit=1000)
    assert seen == [c.seq for c in everything]
    assert len(everything) == 80


# ---------------------------------------------------------------- tokens and rate limits across processes
def test_a_token_revoked_through_one_store_is_refused_by_the_other_at_once(
    postgres_url: str, open_stores: Callable[..., Store]
) -> None:
    first, second = open_stores(postgres_url), open_stores(postgres_url)
    _record, secret = first.create_token("kiosk-7", "submitter", "hq")
    assert second.authenticate(secret) is not None
    first.revoke_token("kiosk-7")
    assert second.authenticate(secret) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_database_buckets_follow_the_memory_buckets_rules(
    postgres_url: str, open_stores: Callable[..., Store]
) -> None:
    """The same calls at the same times give the same answers in memory and in the database."""
    limits = {"submit": RateLimit(12, 3)}  # one permit every 5 s, three at once
    memory_clock, database_clock = FakeClock(), FakeClock()
    memory = RateLimiter(limits, clock=memory_clock)
    database = DatabaseRateLimiter(limits, open_stores(postgres_url).database, clock=database_clock)
    steps = [0, 0, 0, 0, 2.5, 0, 2.5, 0, 3600, 0, 0, 0, 0, 1.0]
    answers: dict[str, list[float]] = {"memory": [], "database": []}
    for step in steps:
        for name, limiter, clock in (("memory", memory, memory_clock), ("database", database, database_clock)):
            clock.now += step
            answers[name].append(limiter.acquire("submit", "kiosk"))
    assert answers["database"] == pytest.approx(answers["memory"])
    assert answers["memory"][:4] == [0.0, 0.0, 0.0, pytest.approx(5.0)]  # not trivially equal
    assert database.wait_for("submit", "kiosk") == pytest.approx(memory.wait_for("submit", "kiosk"))
    assert database.wait_for("submit", "someone-else") == 0.0


def test_rate_limit_buckets_are_shared_by_two_stores(postgres_url: str, open_stores: Callable[..., Store]) -> None:
    limits = {"note": RateLimit(1, 4)}  # four at once, then one a minute
    first = DatabaseRateLimiter(limits, open_stores(postgres_url).database)
    second = DatabaseRateLimiter(limits, open_stores(postgres_url).database)
    answers = [(first, second)[i % 2].acquire("note", "tok_1") for i in range(6)]
    assert answers[:4] == [0.0] * 4
    assert all(wait > 50 for wait in answers[4:])  # refused on both, whichever took the burst
    assert first.acquire("note", "tok_2") == 0.0  # another token has its own bucket
    assert len(second) == 2


# ---------------------------------------------------------------- wake-ups across processes
def test_a_commit_through_one_store_wakes_the_other_stores_listeners_within_two_seconds(
    postgres_url: str, open_stores: Callable[..., Store]
) -> None:
    writer, watcher = open_stores(postgres_url), open_stores(postgres_url)
    ticket, _created = writer.create_ticket(new_ticket(str(uuid.uuid4())), "kiosk")
    woken = threading.Event()
    watcher.add_listener(woken.set)
    # The listener thread wakes once when it starts listening (for what it may have missed).
    assert woken.wait(10), "the listener never connected"
    woken.clear()

    writer.add_note(ticket.id, "on my way", internal=False, actor="tech")

    assert woken.wait(WAKE_DEADLINE_SECONDS), "the other store was not woken within 2 s"
    changes, _next = watcher.changes_after(0)
    assert "reply" in [c.kind for c in changes]


def test_a_rolled_back_write_or_a_quiet_one_wakes_nobody(postgres_url: str, open_stores: Callable[..., Store]) -> None:
    writer, watcher = open_stores(postgres_url), open_stores(postgres_url)
    connected = threading.Event()
    watcher.add_listener(connected.set)
    assert connected.wait(10)
    wakes: list[int] = []
    watcher.add_listener(lambda: wakes.append(1))
    with pytest.raises(StoreError):
        writer.set_status("SD-1001", "open", "tech")  # no such ticket: the write rolls back
    writer.create_token("kiosk-quiet", "submitter")  # a write that wakes no one by design
    writer.create_ticket(new_ticket(str(uuid.uuid4())), "kiosk")  # this one does
    wait_until(lambda: len(wakes) >= 1, "the ticket's commit woke the other store", WAKE_DEADLINE_SECONDS)
    # Notifications arrive in commit order: had the rolled-back or the quiet write sent one, it came first.
    assert len(wakes) == 1


def test_the_listener_reconnects_after_losing_its_connection(
    postgres_url: str, open_stores: Callable[..., Store]
) -> None:
    writer, watcher = open_stores(postgres_url), open_stores(postgres_url)
    woken = threading.Event()
    watcher.add_listener(woken.set)
    assert woken.wait(10)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
        )
    woken.clear()
    # After the reconnection (backoff from 0.5 s) the thread wakes once more, then follows commits again.
    assert woken.wait(10), "the listener did not come back"
    woken.clear()
    writer.create_ticket(new_ticket(str(uuid.uuid4())), "kiosk")
    assert woken.wait(WAKE_DEADLINE_SECONDS)


# ---------------------------------------------------------------- errors in plain words
def test_a_lost_connection_is_one_plain_error_and_the_next_call_reconnects(
    postgres_url: str, open_stores: Callable[..., Store]
) -> None:
    store = open_stores(postgres_url)
    store.create_token("kiosk-1", "submitter")
    pid = store.connection().execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(DatabaseUnavailableError, match="PostgreSQL"):
        store.list_tokens()
    assert [t.name for t in store.list_tokens()] == ["kiosk-1"]


def test_a_transaction_on_a_connection_lost_while_idle_begins_again_on_a_new_one(
    postgres_url: str, open_stores: Callable[..., Store]
) -> None:
    store = open_stores(postgres_url)
    store.create_token("kiosk-1", "submitter")
    pid = store.connection().execute("SELECT pg_backend_pid()").fetchone()[0]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # as a restart of the database would
    record, _secret = store.create_token("kiosk-2", "submitter")  # a write: no error for the dead connection
    assert record.name == "kiosk-2"
    assert store.connection().execute("SELECT pg_backend_pid()").fetchone()[0] != pid


def test_an_unreachable_database_names_postgresql_and_where(tmp_path: Path) -> None:
    url = f"postgresql://showdesk@127.0.0.1:{free_port()}/tickets"
    with pytest.raises(DatabaseUnavailableError) as caught:
        Store(tmp_path / "data", database=url, connect_timeout=2)
    assert f"PostgreSQL showdesk@127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}/tickets" in str(caught.value)
    assert not (tmp_path / "data" / "showdesk.db").exists()  # no SQLite database made on the side


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("postgresql://desk:s3cret-pw@db.example/tickets", "must not carry a password"),
        ("postgresql://desk@db.example/tickets?password=s3cret-pw", "must not carry a password"),
        ("postgresql://desk@db.example/", "names no database"),
        ("postgresql://desk@db.example/tickets?sslmod=require", "unknown option"),
        ("mysql://desk@db.example/tickets", "postgresql://"),
    ],
)
def test_a_wrong_location_is_refused_naming_the_mistake_and_never_the_password(location: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        check_location(location)
    assert "s3cret-pw" not in str(caught.value)


def test_a_location_passes_libpq_options_and_describes_itself_without_secrets() -> None:
    parsed = PostgresLocation.parse("postgresql://desk@db.example:6543/tickets?sslmode=verify-full")
    assert parsed.connect_arguments() == {
        "dbname": "tickets",
        "host": "db.example",
        "port": 6543,
        "user": "desk",
        "sslmode": "verify-full",
        "application_name": "showdesk-server",
    }
    assert parsed.describe() == "PostgreSQL desk@db.example:6543/tickets"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "SELECT a FROM t WHERE b = ? AND c LIKE ? ESCAPE '\\'",
            "SELECT a FROM t WHERE b = %s AND c LIKE %s ESCAPE '\\'",
        ),
        ("SELECT '?' , \"odd?name\" FROM t WHERE x = ?", "SELECT '?' , \"odd?name\" FROM t WHERE x = %s"),
        ("SELECT 5 % 2, '100%' WHERE y = ?", "SELECT 5 %% 2, '100%%' WHERE y = %s"),
    ],
)
def test_placeholders_are_translated_outside_quoted_text(sql: str, expected: str) -> None:
    assert translate(sql) == expected


# ---------------------------------------------------------------- schema
def test_a_second_store_on_a_migrated_database_changes_nothing_and_a_newer_schema_is_refused(
    postgres_url: str, open_stores: Callable[..., Store]
) -> None:
    first = open_stores(postgres_url)
    ticket, _created = first.create_ticket(new_ticket(str(uuid.uuid4())), "kiosk")
    second = open_stores(postgres_url)
    assert second.get_ticket(ticket.number).id == ticket.id
    # The link key is made once: both stores open the same links.
    assert second.ticket_by_link(first.link_secret(ticket)) is not None
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreError, match="newer ShowDesk server"):
        open_stores(postgres_url)


# ---------------------------------------------------------------- search on both engines
SEARCHES = [
    TicketFilter(text="printer"),
    TicketFilter(text="print wi"),
    TicketFilter(text="VPN dock"),
    TicketFilter(text="cafe"),
    TicketFilter(text="Crème"),
    TicketFilter(text="zzzz-nothing"),
    TicketFilter(text="printer", status="open"),
    TicketFilter(text="error", category="Login"),
]


@pytest.mark.parametrize("window", [engine_postgres.SEARCH_WINDOW, 50], ids=["window-only", "window-and-index"])
def test_search_finds_the_same_tickets_on_sqlite_and_postgresql(
    window: int, postgres_url: str, open_stores: Callable[..., Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A window smaller than the database makes most searches go on through the index (the second step).
    monkeypatch.setattr(engine_postgres, "SEARCH_WINDOW", window)
    sqlite = Store(tmp_path / "sqlite")
    postgres = open_stores(postgres_url)
    try:
        for store in (sqlite, postgres):
            seed_store(store, 600, seed=3, scratch=tmp_path / f"scratch-{store.engine}")
            for description in ("Café printer on floor 2 is jammed", "crème brûlée stain on the keyboard"):
                store.create_ticket(new_ticket(str(uuid.UUID(int=hash(description) & (2**128 - 1))), description), "k")
        found_any = 0
        for filters in SEARCHES:
            for oldest_first in (False, True):
                pages = [
                    [t.seq for t in store.list_tickets(filters, limit=200, oldest_first=oldest_first)[0]]
                    for store in (sqlite, postgres)
                ]
                assert pages[0] == pages[1], filters
                found_any += bool(pages[0])
        assert found_any >= 10  # most searches find something: equal empty lists would prove nothing
        # Accents fold on both (FTS5's remove_diacritics, PostgreSQL's unaccent).
        assert [t.subject for t in postgres.list_tickets(TicketFilter(text="cafe"))[0]][:1] == [
            "Café printer on floor 2 is jammed"
        ]
    finally:
        sqlite.close()
