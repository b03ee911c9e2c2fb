"""The reply poller without Qt, against the real built-in server: what is announced, once, and the backoff."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.connectors.base import Connector
from agent.connectors.builtin import BuiltinConnector
from agent.laptop.replies import NewReply, ReplyPoller, SeenReplies, default_seen_file
from agent.outbox import Receipt
from agent.read_models import Conversation
from tests.fixtures.server import ServerProcess, free_port
from tests.fixtures.waiting import wait_until
from tests.outbox.helpers import ScriptedConnector, make_bundle


class Heard:
    """A listener that keeps what the poller told it."""

    def __init__(self) -> None:
        self.read: list[tuple[str, Conversation]] = []
        self.replies: list[NewReply] = []
        self.failures: list[tuple[str, float]] = []

    def conversation_read(self, report_id: str, conversation: Conversation) -> None:
        self.read.append((report_id, conversation))

    def new_replies(self, replies: list[NewReply]) -> None:
        self.replies += replies

    def poll_failed(self, reason: str, next_in: float) -> None:
        self.failures.append((reason, next_in))


class Desk:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.token = server.token("submitter")
        self.technician = BuiltinConnector(server.url, token=server.token("technician"))
        self.receipts: list[Receipt] = []

    def person(self) -> BuiltinConnector:
        return BuiltinConnector(self.server.url, token=self.token, connect_timeout=2.0, read_timeout=20.0)

    def file_ticket(self, seed: int) -> Receipt:
        bundle = make_bundle(seed)
        with self.person() as connector:
            ticket = connector.submit(bundle)
        receipt = Receipt(
            str(bundle.report.id), "default", ticket.id, ticket.number, ticket.url, ticket.status, time.time(), 1
        )
        self.receipts.append(receipt)
        return receipt


@pytest.fixture
def desk(shared_server: ServerProcess) -> Iterator[Desk]:
    made = Desk(shared_server)
    yield made
    made.technician.close()


def test_each_reply_is_announced_once_even_across_a_restart(desk: Desk, tmp_path: Path) -> None:
    receipt = desk.file_ticket(41)
    seen = tmp_path / "seen.json"
    first = ReplyPoller(lambda: desk.receipts, desk.person, seen_file=seen)
    heard = Heard()
    first.add_listener(heard)
    assert first.poll_once() == []
    assert [r for r, _ in heard.read] == [receipt.report_id]

    desk.technician.add_note(receipt.ticket_id, "internal only", internal=True)
    assert first.poll_once() == []  # an internal note is nothing the person hears of
    desk.technician.add_note(receipt.ticket_id, "Is the printer switched on?", internal=False)
    [reply] = first.poll_once()
    assert (reply.number, reply.entry.text, reply.entry.kind) == (
        receipt.number,
        "Is the printer switched on?",
        "reply",
    )
    assert heard.replies == [reply]
    assert first.poll_once() == []

    again = ReplyPoller(lambda: desk.receipts, desk.person, seen_file=seen)  # the agent started again
    assert again.poll_once() == []
    desk.technician.add_note(receipt.ticket_id, "And plugged in?", internal=False)
    assert [r.entry.text for r in again.poll_once()] == ["And plugged in?"]


def test_only_changed_tickets_are_read_after_the_first_round(desk: Desk) -> None:
    quiet, busy = desk.file_ticket(42), desk.file_ticket(43)
    poller = ReplyPoller(lambda: desk.receipts, desk.person)
    heard = Heard()
    poller.add_listener(heard)
    poller.poll_once()
    assert sorted(r for r, _ in heard.read) == sorted([quiet.report_id, busy.report_id])
    heard.read.clear()
    desk.technician.add_note(busy.ticket_id, "Which floor?", internal=False)
    poller.poll_once()
    assert [r for r, _ in heard.read] == [busy.report_id]


def test_offline_the_cadence_backs_off_and_returns_once_the_desk_answers(desk: Desk) -> None:
    desk.file_ticket(44)
    reachable = {"yes": False}
    dead = f"http://127.0.0.1:{free_port()}"

    def connector() -> Connector:
        url = desk.server.url if reachable["yes"] else dead
        return BuiltinConnector(url, token=desk.token, connect_timeout=1.0, read_timeout=5.0)

    poller = ReplyPoller(lambda: desk.receipts, connector, interval=60, max_interval=300)
    heard = Heard()
    poller.add_listener(heard)
    delays = []
    for _ in range(4):
        assert poller.poll_once() == []
        delays.append(poller.next_delay())
    assert delays == [120, 240, 300, 300]
    assert [next_in for _, next_in in heard.failures] == delays
    reachable["yes"] = True
    poller.poll_once()
    assert poller.next_delay() == 60
    assert len(heard.read) == 1


def test_a_backend_without_a_conversation_is_left_alone(tmp_path: Path) -> None:
    receipt = Receipt("r", "default", "t", "RT-1", "", "new", time.time(), 1)
    poller = ReplyPoller(lambda: [receipt], lambda: ScriptedConnector())
    heard = Heard()
    poller.add_listener(heard)
    assert poller.poll_once() == []
    assert (heard.read, heard.failures) == ([], [])


def test_the_thread_polls_at_once_when_asked_and_stops_in_bounded_time(desk: Desk) -> None:
    receipt = desk.file_ticket(45)
    poller = ReplyPoller(lambda: desk.receipts, desk.person, interval=600, max_interval=600)
    heard = Heard()
    poller.add_listener(heard)
    poller.start()
    try:
        wait_until(lambda: bool(heard.read), "the first round", 20)
        desk.technician.add_note(receipt.ticket_id, "On my way", internal=False)
        poller.poll_now()  # the cadence is ten minutes: only the request makes this round
        wait_until(lambda: bool(heard.replies), "the reply announced", 20)
        assert [r.entry.text for r in heard.replies] == ["On my way"]
    finally:
        started = time.monotonic()
        poller.stop()
    assert time.monotonic() - started < 5


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="interval"):
        ReplyPoller(list, ScriptedConnector, interval=60, max_interval=30)


def test_a_damaged_record_of_announced_replies_costs_one_repeat_not_the_following(tmp_path: Path) -> None:
    seen_file = tmp_path / "seen.json"
    seen_file.write_bytes(b"{not json")
    seen = SeenReplies(seen_file)
    assert seen.get("t-1") == 0
    seen.update("t-1", 12)
    seen.update("t-1", 7)  # an older number never lowers what was announced
    assert SeenReplies(seen_file).get("t-1") == 12
    assert default_seen_file().name == "replies-announced.json"
    assert str(default_seen_file()).startswith(os.environ["XDG_DATA_HOME"])  # the test's, never the real home
