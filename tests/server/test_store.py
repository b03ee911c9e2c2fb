"""The store in-process: listing at scale, search input, token rules, the backup copy."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from server.app import masked_name
from server.blobs import BlobStore, storage_full_as_error
from server.seed import seed_tickets
from server.store import (
    NewTicket,
    StorageFullError,
    Store,
    StoreError,
    TicketFilter,
    TokenNameTakenError,
)

FILL_CHUNK = 64 * 1024


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
