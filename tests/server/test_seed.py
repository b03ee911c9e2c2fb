"""The synthetic-ticket seeder (``server.seed``) writes the same tickets on SQLite and on PostgreSQL.

It goes through the store's own write transactions, so it needs nothing of either engine's
internals; the tickets it makes must read, search, open by link and count in the figures like
real ones on both.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from server.seed import seed_tickets
from server.store import Store, TicketFilter

# Two calls in small batches: the numbers of a later batch and of a second call must line up too.
FIRST, SECOND, BATCH = 130, 70, 48


def seeded_rows(store: Store) -> list[tuple[object, ...]]:
    with store.database.read() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                "SELECT t.seq, t.id, t.status, t.subject, t.description, t.created_at, t.closed_at, "
                "e.kind, e.at FROM tickets t JOIN events e ON e.ticket_seq = t.seq ORDER BY t.seq, e.seq"
            ).fetchall()
        ]


def test_seeded_tickets_are_the_same_and_whole_on_both_engines(postgres_url: str, tmp_path: Path) -> None:
    stores = [Store(tmp_path / "sqlite"), Store(tmp_path / "postgresql-data", database=postgres_url)]
    try:
        for store in stores:
            assert seed_tickets(store, FIRST, seed=7, batch=BATCH) == FIRST
            assert seed_tickets(store, SECOND, seed=8, batch=BATCH) == SECOND
        sqlite, postgres = stores
        rows = seeded_rows(sqlite)
        # Each ticket has exactly its own "created" event, at its creation time: the numbers read back are right.
        assert len(rows) == FIRST + SECOND
        assert len({row[1] for row in rows}) == FIRST + SECOND
        assert all(kind == "created" and at == created for *_, created, _closed, kind, at in rows)
        assert [row[0] for row in rows] == list(range(1, FIRST + SECOND + 1))
        # The same tickets with the same numbers (their times follow the clock of each call).
        assert [(*row[:5], row[6] is None, row[7]) for row in seeded_rows(postgres)] == [
            (*row[:5], row[6] is None, row[7]) for row in rows
        ]

        for store in stores:
            # The requester link of generation 0 opens each seeded ticket.
            for seq, report_id, *_ in rows[:: len(rows) // 7]:
                ticket = store.get_ticket(str(report_id))
                found = store.ticket_by_link(store.link_secret(ticket))
                assert found is not None and found.seq == seq
            # The roll-ups the triggers keep count every seeded ticket in the figures.
            stats = store.stats(0.0, time.time() + 1)
            assert stats.tickets_created == FIRST + SECOND
            assert sum(count for _category, count in stats.by_category) == FIRST + SECOND
            assert stats.open_tickets == sum(1 for row in rows if row[2] not in ("resolved", "closed"))

        # Search finds the seeded words the same way on both (SQLite's FTS5 filled by the seeder).
        word = "printer"
        expected = sorted(int(str(row[0])) for row in rows if word in str(row[4]).split())
        assert expected, "the seeded words include the searched one"
        for store in stores:
            page, _cursor = store.list_tickets(TicketFilter(text=word), limit=len(rows))
            assert sorted(t.seq for t in page) == expected, store.engine
    finally:
        for store in stores:
            store.close()


@pytest.mark.parametrize("count", [0, 1])
def test_seeding_nothing_or_one_ticket(tmp_path: Path, count: int) -> None:
    store = Store(tmp_path / "data")
    try:
        assert seed_tickets(store, count) == count
        assert store.count_tickets() == count
    finally:
        store.close()
