"""The store in-process: listing at scale, search input, token rules, the backup copy."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from server.app import masked_name
from server.seed import seed_tickets
from server.store import Store, StoreError, TicketFilter, TokenNameTakenError


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store(tmp_path_factory.mktemp("store") / "data")
    seed_tickets(store, 3000, seed=1)
    return store


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


def test_token_names_are_unique_and_checked(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
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
