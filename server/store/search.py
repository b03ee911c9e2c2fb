"""Lists of tickets: filters, words to search for (the engine's full-text index, else LIKE), keyset pages.

The full-text index is the engine's own: FTS5 on SQLite, a GIN index over a tsvector on PostgreSQL
(``Database.fulltext``). Both take each word as a prefix and require all of them.

A page costs about the same on a large database as on a small one: every query walks an
index in ``seq`` order and stops at the page's end.
"""

from __future__ import annotations

import re
from typing import Any, Final

from server.store.connection import Database, FullText, sqlite_errors
from server.store.records import TicketFilter, TicketRow
from server.store.rows import QUALIFIED_TICKET_COLUMNS, to_ticket

MAX_PAGE: Final = 200
MAX_SEARCH_WORDS: Final = 16

_WORD_RE: Final = re.compile(r"\w+", re.UNICODE)
# The kiosk's offline receipt code: the first 8 hex digits of the report id, upper case.
_RECEIPT_CODE_RE: Final = re.compile(r"^\s*#?([0-9A-Fa-f]{8})\s*$")


class TicketSearch:
    """Pages of the tickets of one database."""

    def __init__(self, database: Database, *, has_fts: bool) -> None:
        self._database = database
        self._has_fts = has_fts

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
        receipt = _RECEIPT_CODE_RE.match(filters.text or "")
        if receipt is not None and before_seq is None:
            # A receipt code the person quotes at the desk finds its ticket by the report id;
            # a code that names none is searched for as a word like any other.
            found = self._by_receipt_code(receipt.group(1).lower(), filters)
            if found:
                return found[:limit], None
        fulltext = self._fulltext(filters.text) if filters.text else None
        if fulltext is not None and fulltext.window:
            return self._windowed(filters, fulltext, before_seq=before_seq, limit=limit, oldest_first=oldest_first)
        key = fulltext.key if fulltext is not None else "t.seq"
        where, params = _conditions(filters, fulltext, key, before_seq=before_seq, oldest_first=oldest_first)
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        direction = "ASC" if oldest_first else "DESC"
        source = fulltext.source if fulltext is not None else "tickets t"
        params.append(limit + 1)
        sql = f"SELECT {QUALIFIED_TICKET_COLUMNS} FROM {source} {clause} ORDER BY {key} {direction} LIMIT ?"  # noqa: S608
        with sqlite_errors():
            rows = self._database.connection().execute(sql, params).fetchall()
        tickets = [to_ticket(r) for r in rows[:limit]]
        next_cursor = tickets[-1].seq if len(rows) > limit else None
        return tickets, next_cursor

    def _windowed(
        self, filters: TicketFilter, fulltext: FullText, *, before_seq: int | None, limit: int, oldest_first: bool
    ) -> tuple[list[TicketRow], int | None]:
        """A page of matches where the index yields matches in no order (PostgreSQL's GIN), in two steps.

        First the ``fulltext.window`` tickets next in the page's order are tested one by one
        (cheap per row, and enough when the words are common); only when they hold too few
        matches is the rest found through the index: the words are rare then, so the set of
        matches the index yields is small. Either way the cost follows the page and how rare the
        words are, not the size of the database.
        """
        conn = self._database.connection()
        direction = "ASC" if oldest_first else "DESC"
        past = ">" if oldest_first else "<"
        after_window = ">=" if oldest_first else "<="
        bound_where = f"WHERE seq {past} ?" if before_seq is not None else ""
        bound_row = conn.execute(
            f"SELECT seq FROM tickets {bound_where} ORDER BY seq {direction} LIMIT 1 OFFSET ?",  # noqa: S608
            [*([before_seq] if before_seq is not None else []), fulltext.window],
        ).fetchone()
        where, params = _conditions(filters, fulltext, "t.seq", before_seq=before_seq, oldest_first=oldest_first)
        if bound_row is not None:
            # The window: the tickets from the cursor up to (not including) the bound.
            where.append(f"t.seq {'<' if oldest_first else '>'} ?")
            params.append(int(bound_row[0]))
        sql = (
            f"SELECT {QUALIFIED_TICKET_COLUMNS} FROM tickets t WHERE {' AND '.join(where)} "  # noqa: S608
            f"ORDER BY t.seq {direction} LIMIT ?"
        )
        rows = conn.execute(sql, [*params, limit + 1]).fetchall()
        if len(rows) <= limit and bound_row is not None:
            # Past the window: the index's matches first (materialised, so the planner cannot turn
            # it back into a walk), then the other filters on those tickets only.
            others = TicketFilter(**{**filters.__dict__, "text": None})  # the words are the index's part
            rest_where, rest_params = _conditions(others, None, "t.seq", before_seq=None, oldest_first=oldest_first)
            rest = " AND ".join(rest_where) or "TRUE"
            sql = (
                f"WITH m AS MATERIALIZED ({fulltext.candidates} AND t.seq {after_window} ?) "  # noqa: S608
                f"SELECT {QUALIFIED_TICKET_COLUMNS} FROM m JOIN tickets t ON t.seq = m.seq WHERE {rest} "
                f"ORDER BY t.seq {direction} LIMIT ?"
            )
            more = conn.execute(
                sql, [fulltext.parameter, int(bound_row[0]), *rest_params, limit + 1 - len(rows)]
            ).fetchall()
            rows = [*rows, *more]
        tickets = [to_ticket(r) for r in rows[:limit]]
        next_cursor = tickets[-1].seq if len(rows) > limit else None
        return tickets, next_cursor

    def _by_receipt_code(self, code: str, filters: TicketFilter) -> list[TicketRow]:
        """Tickets whose report id starts with ``code`` (ids are lower-case UUIDs), within the other filters."""
        plain = TicketFilter(**{**filters.__dict__, "text": None})
        where, params = _conditions(plain, None, "t.seq", before_seq=None, oldest_first=False)
        # A range on the unique index of ids: every id that starts with "code-".
        where.append("t.id > ? AND t.id < ?")
        params.extend([f"{code}-", f"{code}."])
        clause = " AND ".join(where)
        sql = f"SELECT {QUALIFIED_TICKET_COLUMNS} FROM tickets t WHERE {clause} ORDER BY t.seq DESC LIMIT 20"  # noqa: S608
        with sqlite_errors():
            rows = self._database.connection().execute(sql, params).fetchall()
        return [to_ticket(r) for r in rows]

    def _fulltext(self, text: str) -> FullText | None:
        """The full-text part of the query for ``text``, or None when there is no index (or nothing to find)."""
        if not self._has_fts:
            return None
        return self._database.fulltext(_WORD_RE.findall(text)[:MAX_SEARCH_WORDS])


def _conditions(
    filters: TicketFilter, fulltext: FullText | None, key: str, *, before_seq: int | None, oldest_first: bool
) -> tuple[list[str], list[Any]]:
    """The WHERE conditions of a page and their parameters, in order."""
    # Column references are qualified, so the same conditions serve the plain and the joined query.
    where: list[str] = []
    params: list[Any] = []
    if fulltext is not None:
        where.append(fulltext.condition)
        params.append(fulltext.parameter)
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
    if filters.text and fulltext is None:
        text_clause, text_params = _like_clause(filters.text)
        if text_clause:
            where.append(text_clause)
            params.extend(text_params)
    return where, params


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
