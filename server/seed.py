"""Synthetic tickets, inserted straight into the database: for benchmarks and demos, never production.

A seeded ticket has a valid manifest but no files; it lists, reads and filters like a real one.
Tickets past ``new`` have a first response, resolved and closed ones a resolution time, some
come from kiosks and some followed self-help articles, so the figures (/stats) have work to do.
Rows go in through plain INSERTs in the store's own write transactions (``store.database.write``),
on SQLite or PostgreSQL alike, so the store's triggers keep its roll-ups as for real tickets.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Final

from server.store import Store
from server.store.connection import Connection
from server.store.records import link_hash, link_secret
from server.store.rows import load_link_key

# Ids per look-up of the new numbers: well under either engine's limit of parameters per statement.
_IDS_PER_QUERY: Final = 500
_CATEGORIES: Final = ("Printing", "Network", "Login", "Email", "Hardware", "Software", "Phone", "Other")
_WORDS: Final = (
    "printer", "vpn", "password", "outlook", "wifi", "screen", "laptop", "dock", "keyboard", "mouse", "teams",
    "excel", "slow", "crash", "error", "update", "license", "badge", "door", "camera", "sound", "monitor", "cable",
)  # fmt: skip


def seed_rows(count: int, link_key: bytes, *, seed: int = 0) -> Iterator[tuple[Any, ...]]:
    """``count`` synthetic tickets as rows, oldest first, spread over the last 90 days.

    Columns: id, fingerprint, manifest, status, subject, description, category, source_kind,
    source_id, reporter_email, self_help_count, created_at, reported_at, updated_at,
    first_response_at, resolved_at, closed_at, link_hash. The benchmarks copy these rows in bulk;
    ``seed_tickets`` inserts them through the store.
    """
    rng = random.Random(seed)  # noqa: S311 - made-up data, not secrets
    now = time.time()
    start = now - 90 * 86400
    step = (now - start) / max(count, 1)
    for index in range(count):
        created = start + index * step
        report_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        category = rng.choice(_CATEGORIES)
        description = " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(4, 16)))
        source_id = f"pc-{rng.randrange(2000):04d}"
        kind = "kiosk" if rng.random() < 0.1 else "agent"
        email = f"user{rng.randrange(5000)}@example.test"
        manifest = json.dumps(
            {
                "schema_version": 1,
                "id": report_id,
                "created_at": datetime.fromtimestamp(created, UTC).isoformat(),
                "reporter": {"name": f"User {index}", "email": email, "badge_id": None},
                "category": category,
                "description": description,
                "steps": [],
                "attachments": [],
                "sysinfo": None,
                "source": {"kind": kind, "id": source_id, "site": None, "app_version": "seed"},
                "walk_up": False,
                "self_help_articles": [],
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        status = rng.choice(("new", "open", "waiting", "resolved", "closed"))
        # Minutes to a day to answer, hours to a week to resolve: durations across many buckets.
        first_response = None if status == "new" else created + rng.expovariate(1 / 3600)
        resolved = created + 3600 + rng.expovariate(1 / 86400) if status in ("resolved", "closed") else None
        closed = resolved + 86400 if resolved is not None and status == "closed" else None
        yield (
            report_id,
            hashlib.sha256(manifest.encode()).hexdigest(),
            manifest,
            status,
            f"{category}: {description}"[:120],
            description,
            category,
            kind,
            source_id,
            email,
            1 if rng.random() < 0.05 else 0,
            created,
            datetime.fromtimestamp(created, UTC).isoformat(),
            created,
            first_response,
            resolved,
            closed,
            # Each seeded ticket gets its requester link (generation 0), as a submitted one does.
            link_hash(link_secret(link_key, report_id, 0)),
        )


def seed_tickets(store: Store, count: int, *, seed: int = 0, batch: int = 5000) -> int:
    """Insert ``count`` tickets (spread over the last 90 days, oldest first); returns how many were made."""
    with store.database.read() as conn:
        link_key = load_link_key(conn)
    made = 0
    tickets = seed_rows(count, link_key, seed=seed)
    while rows := list(itertools.islice(tickets, batch)):
        with store.database.write(notify=False) as conn:
            conn.executemany(
                "INSERT INTO tickets (id, fingerprint, manifest, status, subject, description, category, "
                "source_kind, source_id, site, reporter_name, reporter_email, submitted_by, walk_up, step_count, "
                "attachment_count, self_help_count, created_at, reported_at, updated_at, first_response_at, "
                "resolved_at, closed_at, link_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, 'seed', 0, 0, 0, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            # The numbers the engine gave, read back by report id: neither engine says which numbers
            # a batch of INSERTs took, and a guess from the last number breaks on PostgreSQL's sequences.
            seqs = _seqs_by_id(conn, [str(row[0]) for row in rows])
            if store.has_fts:  # SQLite's FTS5 table is filled by hand; PostgreSQL's index follows by itself
                conn.executemany(
                    "INSERT INTO tickets_fts (rowid, subject, description) VALUES (?, ?, ?)",
                    [(seq, row[4], row[5]) for seq, row in zip(seqs, rows, strict=True)],
                )
            conn.executemany(
                "INSERT INTO events (ticket_seq, kind, actor, at, internal, data) "
                "VALUES (?, 'created', 'seed', ?, 0, '{}')",
                [(seq, row[11]) for seq, row in zip(seqs, rows, strict=True)],
            )
        made += len(rows)
    return made


def _seqs_by_id(conn: Connection, report_ids: list[str]) -> list[int]:
    """The sequence numbers of the tickets with these report ids, in the ids' order."""
    found: dict[str, int] = {}
    for first in range(0, len(report_ids), _IDS_PER_QUERY):
        chunk = report_ids[first : first + _IDS_PER_QUERY]
        marks = ", ".join("?" for _ in chunk)
        # Only "?" placeholders are built into the SQL; the ids go in as parameters.
        query = f"SELECT seq, id FROM tickets WHERE id IN ({marks})"  # noqa: S608
        found.update((str(row[1]), int(row[0])) for row in conn.execute(query, chunk).fetchall())
    return [found[report_id] for report_id in report_ids]
