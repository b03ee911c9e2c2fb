"""The outbox and the built-in connector against the real server process on 127.0.0.1."""

from __future__ import annotations

import hashlib
import random
import uuid
import weakref
from pathlib import Path
from typing import Any

import pytest

from agent.bundle import ReportBundle
from agent.connectors.builtin import BuiltinConnector
from agent.outbox import EntryState, Outbox, OutboxEntry, OutboxObserver
from tests.outbox.helpers import FakeClock, make_bundle
from tests.outbox.peers import Peer, Received, Reply

_TOKENS: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def token(server: Any, role: str) -> str:
    """One token per server and role (making one runs the server's command line)."""
    tokens = _TOKENS.setdefault(server, {})
    if role not in tokens:
        tokens[role] = server.token(role)
    return tokens[role]


def submitter(server: Any, url: str | None = None) -> BuiltinConnector:
    return BuiltinConnector(url or server.url, token=token(server, "submitter"), read_timeout=30)


def technician(server: Any) -> BuiltinConnector:
    return BuiltinConnector(server.url, token=token(server, "technician"), read_timeout=30)


def tickets_for(server: Any, report_ids: set[str]) -> list[str]:
    """Report ids of the server's tickets that belong to ``report_ids``, duplicates included."""
    with technician(server) as tech:
        return [str(t.report_id) for t in tech.iter_tickets(page_size=200) if str(t.report_id) in report_ids]


def assert_ticket_matches(server: Any, ticket_id: str, bundle: ReportBundle) -> None:
    with technician(server) as tech:
        detail = tech.get_ticket(ticket_id)
        assert detail.report == bundle.report
        for ref in bundle.report.files():
            assert hashlib.sha256(tech.attachment(ticket_id, ref.path)).hexdigest() == ref.sha256, ref.path


class Progress(OutboxObserver):
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def sending(self, entry: OutboxEntry, sent: int, total: int) -> None:
        if total:
            self.calls.append((sent, total))


# ---------------------------------------------------------------- the happy path
def test_a_report_through_the_outbox_becomes_a_ticket_with_every_file_intact(
    shared_server: Any, tmp_path: Path
) -> None:
    server = shared_server
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: submitter(server))
    progress = Progress()
    outbox.add_observer(progress)
    bundle = make_bundle(1, steps=3, attachment=random.Random(1).randbytes(200_000))

    outbox.put(bundle)
    result = outbox.flush()
    outbox.close()

    [receipt] = result.delivered
    assert receipt.report_id == str(bundle.report.id) and receipt.number
    assert outbox.list() == [] and outbox.receipts() == [receipt]
    assert_ticket_matches(server, receipt.ticket_id, bundle)
    # The submitter reads its own ticket back.
    with submitter(server) as own:
        assert own.get_ticket(receipt.ticket_id).ticket.number == receipt.number
    sent = [s for s, _ in progress.calls]
    assert sent == sorted(sent) and len(set(sent)) == len(sent) and len(sent) > 3
    assert sent[-1] == progress.calls[-1][1] > bundle.total_bytes()


def test_the_configured_default_backend_is_used_with_the_environments_token(
    shared_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = shared_server
    monkeypatch.setenv("SHOWDESK_URL", server.url)
    monkeypatch.setenv("SHOWDESK_TOKEN", token(server, "submitter"))
    outbox = Outbox(tmp_path / "outbox")  # connectors from the configuration
    bundle = make_bundle(2)
    outbox.put(bundle, "default")
    [receipt] = outbox.flush().delivered
    outbox.close()
    assert receipt.backend == "default"
    assert tickets_for(server, {str(bundle.report.id)}) == [str(bundle.report.id)]


# ---------------------------------------------------------------- the server away
def test_reports_wait_while_the_server_is_down_and_go_exactly_once(server_process: Any, tmp_path: Path) -> None:
    server = server_process
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: submitter(server))
    server.stop()
    bundles = [make_bundle(10 + n) for n in range(4)]
    for bundle in bundles:
        outbox.put(bundle)

    result = outbox.flush()
    assert len(result.retrying) == 1 and result.delivered == [] and result.remaining == 4
    assert "cannot reach" in (result.retrying[0].last_error or "")
    assert outbox.flush(force=True).delivered == []
    assert all(e.state is EntryState.PENDING for e in outbox.list())

    server.start()
    result = outbox.flush(force=True)
    outbox.close()
    ids = {str(b.report.id) for b in bundles}
    assert {r.report_id for r in result.delivered} == ids and result.remaining == 0
    assert sorted(tickets_for(server, ids)) == sorted(ids)
    # A replay of a delivered report (a lost answer, a second sender) is the same ticket, not a new one.
    with submitter(server) as again:
        assert again.submit(bundles[0]).number == outbox.receipt(bundles[0].report.id).number  # type: ignore[union-attr]
    assert sorted(tickets_for(server, ids)) == sorted(ids)


def test_503_and_429_with_retry_after_are_honoured(shared_server: Any, tmp_path: Path) -> None:
    server = shared_server
    clock = FakeClock()
    with Peer(upstream=server.url) as proxy:
        proxy.answer(
            Reply(503, b'{"detail": "maintenance"}', {"Retry-After": "30"}),
            Reply(503, b'{"detail": "maintenance"}', {"Retry-After": "30"}),
            Reply(429, b'{"detail": "slow down"}', {"Retry-After": "120"}),
            Reply(503, b"busy"),  # no Retry-After: the outbox's own backoff
        )
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: submitter(server, proxy.url), clock=clock)
        bundle = make_bundle(20)
        entry = outbox.put(bundle)
        waits = []
        for _ in range(4):
            [failed] = outbox.flush().retrying
            waits.append(failed.next_attempt_at - clock.now)
            assert outbox.flush().retrying == []  # not due yet
            clock.advance(waits[-1])
        [receipt] = outbox.flush().delivered
        outbox.close()
        assert waits[:3] == [30.0, 30.0, 120.0] and 0 < waits[3] <= 2 * 2 ** 3
        assert proxy.forwarded == 1
        keys = {r.headers["Idempotency-Key"] for r in proxy.received}
    assert keys == {str(bundle.report.id)} and len(proxy.received) == 5
    assert tickets_for(server, {entry.id}) == [entry.id]
    assert_ticket_matches(server, receipt.ticket_id, bundle)


def test_a_lost_answer_is_retried_and_makes_one_ticket(shared_server: Any, tmp_path: Path) -> None:
    server = shared_server
    with Peer(upstream=server.url) as proxy:
        # The server makes the ticket, but the answer is lost on the way back.
        proxy.answer(Reply(503, b"bad gateway", forward_first=True))
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: submitter(server, proxy.url))
        bundle = make_bundle(21)
        outbox.put(bundle)
        assert len(outbox.flush().retrying) == 1
        [receipt] = outbox.flush(force=True).delivered
        outbox.close()
        assert proxy.forwarded == 2
    assert tickets_for(server, {str(bundle.report.id)}) == [str(bundle.report.id)]
    assert_ticket_matches(server, receipt.ticket_id, bundle)


# ---------------------------------------------------------------- refusals
def _cut_closing_boundary(request: Received) -> Received:
    if request.method != "POST":
        return request
    body = request.body.rstrip(b"\r\n")
    closing = body.rsplit(b"\r\n", 1)[1]
    assert closing.endswith(b"--")
    return Received(request.method, request.path, request.headers, body[: -len(closing)])


def test_a_400_from_the_server_is_a_dead_letter_with_its_reason(shared_server: Any, tmp_path: Path) -> None:
    server = shared_server
    with Peer(upstream=server.url, transform=_cut_closing_boundary) as mangler:
        outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: submitter(server, mangler.url))
        entry = outbox.put(make_bundle(30))
        [dead] = outbox.flush().dead
        outbox.close()
    assert dead.id == entry.id and dead.state is EntryState.DEAD
    assert "answered 400" in (dead.last_error or "") and "multipart" in (dead.last_error or "")
    assert outbox.get(entry.id).state is EntryState.DEAD
    assert tickets_for(server, {entry.id}) == []


def test_the_same_key_with_another_body_is_a_dead_letter_and_can_be_retried_elsewhere(
    shared_server: Any, tmp_path: Path
) -> None:
    server = shared_server
    report_id = uuid.uuid4()
    with submitter(server) as direct:
        direct.submit(make_bundle(31, report_id=report_id))
    outbox = Outbox(tmp_path / "outbox", connector_for=lambda _n: submitter(server))
    outbox.put(make_bundle(32, report_id=report_id))  # a different report reusing the id
    [dead] = outbox.flush().dead
    outbox.close()
    assert "answered 422" in (dead.last_error or "")
    assert dead.last_error and len(dead.last_error) > len("ShowDesk server at  answered 422: ") + len(server.url)
    assert [e.state for e in outbox.list()] == [EntryState.DEAD]


def test_a_refused_token_pauses_until_it_is_fixed(shared_server: Any, tmp_path: Path) -> None:
    server = shared_server
    current = {"token": "not-a-token"}
    outbox = Outbox(
        tmp_path / "outbox", connector_for=lambda _n: BuiltinConnector(server.url, token=lambda: current["token"])
    )
    bundle = make_bundle(40)
    outbox.put(bundle)
    [paused] = outbox.flush().paused
    assert paused.state is EntryState.PAUSED and "token refused by ShowDesk server" in (paused.last_error or "")
    assert outbox.flush().delivered == []

    current["token"] = token(server, "submitter")
    outbox.wake()
    [receipt] = outbox.flush(force=outbox.begin_pass()).delivered
    outbox.close()
    assert receipt.report_id == str(bundle.report.id)


def test_read_side_against_the_server(shared_server: Any) -> None:
    server = shared_server
    bundle = make_bundle(50)
    with submitter(server) as own:
        ticket = own.submit(bundle)
    with technician(server) as tech:
        assert tech.set_status(ticket.id, "open").status == "open"
        tech.add_note(ticket.id, "looked at it")
        tech.add_note(ticket.id, "fixed the driver", internal=False)
        detail = tech.get_ticket(ticket.id)
        kinds = [event["kind"] for event in detail.timeline]
        assert detail.ticket.status == "open" and "note" in kinds and "reply" in kinds
        numbers = [t.number for t in tech.iter_tickets(page_size=2)]
        assert ticket.number in numbers and len(numbers) == len(set(numbers))
    with submitter(server) as own:
        # The submitter sees the reply, not the internal note.
        kinds = [event["kind"] for event in own.get_ticket(ticket.id).timeline]
        assert "reply" in kinds and "note" not in kinds



def test_a_walk_up_ticket_reports_its_queue_place(shared_server: Any) -> None:
    server = shared_server
    site = f"site-{uuid.uuid4().hex[:8]}"
    with submitter(server) as kiosk:
        first = kiosk.submit(make_bundle(51, walk_up_site=site))
        second = kiosk.submit(make_bundle(52, walk_up_site=site))
        place = kiosk.queue_place(second.id)
        assert (place.site, place.position, place.ahead, place.state) == (site, 2, 1, "waiting")
        assert kiosk.queue_place(first.id).position == 1
        assert kiosk.get_ticket(second.id).queue == place
