"""The built-in connector's technician side against the real server: filters, the changes feed,
assignment, figures, the walk-up queue, refusals in the ticket's state, and the backend proxy."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.bundle import ReportBundle, build_bundle
from agent.config import Config, ConfigError, load_config
from agent.connectors import make_connector
from agent.connectors.base import (
    Capability,
    PermanentError,
    TicketFilter,
    TransientError,
    UnsupportedError,
)
from agent.connectors.builtin import BuiltinConnector
from agent.connectors.folder import FolderConnector
from agent.schema import Report, Reporter, Source
from tests.connectors.helpers import ForwardProxy, report_bundle
from tests.fixtures.server import ServerProcess
from tests.outbox.peers import Peer, Reply


def walk_up_bundle(name: str, site: str = "HQ") -> ReportBundle:
    report = Report(
        id=uuid.uuid4(),
        reporter=Reporter(name=name),
        category="Walk-up",
        description=f"{name} is at the desk",
        source=Source(kind="kiosk", id="hq-bar-1", site=site, app_version="test"),
        walk_up=True,
    )
    return build_bundle(report, [])


@pytest.fixture
def technician(server_process: ServerProcess) -> BuiltinConnector:
    return BuiltinConnector(server_process.url, token=server_process.token("technician", name="tess"))


@pytest.fixture
def submitter(server_process: ServerProcess) -> BuiltinConnector:
    return BuiltinConnector(server_process.url, token=server_process.token("submitter", site="HQ"))


def test_invalid_status_change_is_refused_for_good_with_the_servers_reason(
    technician: BuiltinConnector, submitter: BuiltinConnector
) -> None:
    ticket = submitter.submit(report_bundle(steps=1))
    with pytest.raises(PermanentError) as refused:
        technician.set_status(ticket.id, "closed")  # new → closed skips resolved
    assert type(refused.value) is PermanentError and refused.value.status == 409
    assert "new" in refused.value.reason and "closed" in refused.value.reason
    assert technician.get_ticket(ticket.id).ticket.status == "new"
    assert technician.set_status(ticket.id, "resolved").status == "resolved"  # an allowed change still works


def test_a_conflict_on_submit_stays_worth_a_retry(server_process: ServerProcess) -> None:
    """409 to a submission: the same idempotency key is still being processed elsewhere."""
    with Peer(upstream=server_process.url) as busy:
        busy.answer(Reply(409, b'{"detail": "a request with this key is in progress"}'))
        connector = BuiltinConnector(busy.url, token=server_process.token("submitter"))
        bundle = report_bundle(steps=1)
        with pytest.raises(TransientError, match="in progress"):
            connector.submit(bundle)
        assert connector.submit(bundle).report_id == bundle.report.id  # the retry goes through


def test_whoami_filters_and_assignment(technician: BuiltinConnector, submitter: BuiltinConnector) -> None:
    caller = technician.whoami()
    assert (caller.name, caller.role, caller.site) == ("tess", "technician", None)
    printer = submitter.submit(report_bundle(steps=1, category="Printer", description="Toner streaks on every page"))
    network = submitter.submit(
        report_bundle(steps=1, category="Network", description="Wi-Fi drops hourly", email="bob@example.org")
    )

    def ids(wanted: TicketFilter) -> list[str]:
        return [t.id for t in technician.list_tickets(filters=wanted).tickets]

    assert ids(TicketFilter(category="Printer")) == [printer.id]
    assert ids(TicketFilter(reporter="bob@example.org")) == [network.id]
    assert ids(TicketFilter(text="toner streak")) == [printer.id]
    assert ids(TicketFilter(since=datetime.now(UTC) + timedelta(hours=1))) == []
    assert ids(TicketFilter(assignee="none")) == [network.id, printer.id]

    assert technician.assign(printer.id, "me").id == printer.id
    assert ids(TicketFilter(assignee="me")) == [printer.id]
    assert ids(TicketFilter(assignee="tess", category="Printer")) == [printer.id]
    technician.assign(printer.id, None)
    assert ids(TicketFilter(assignee="me")) == []


def test_changes_feed_follows_what_happens(technician: BuiltinConnector, submitter: BuiltinConnector) -> None:
    start = technician.changes(0)
    ticket = submitter.submit(report_bundle(steps=1))
    created = technician.changes(start.last_seq, wait=5.0)
    assert [(c.ticket_id, c.kind) for c in created.changes] == [(ticket.id, "created")]
    technician.add_note(ticket.id, "looking", internal=True)
    noted = technician.changes(created.last_seq, wait=5.0)
    assert [(c.ticket_id, c.kind) for c in noted.changes] == [(ticket.id, "note")]
    assert noted.last_seq > created.last_seq
    assert technician.changes(noted.last_seq).changes == []

    # From now on: no history, and the number to follow from.
    now = technician.changes(None, wait=20.0)
    assert now.changes == [] and now.last_seq == noted.last_seq


def test_walk_up_queue_and_figures(technician: BuiltinConnector, submitter: BuiltinConnector) -> None:
    ada = submitter.submit(walk_up_bundle("Ada"))
    submitter.submit(walk_up_bundle("Brian"))
    board = technician.queue_board("HQ")
    assert [e.name for e in board.waiting] == ["Ada", "Brian"]
    called = technician.call_next("HQ")
    assert called.called is not None and called.called.id == ada.id
    assert [e.name for e in called.board.waiting] == ["Brian"]
    assert [e.name for e in called.board.serving] == ["Ada"]
    figures = technician.stats(datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1))
    assert figures.tickets_created == 2


def test_connectors_without_a_capability_refuse_it_by_name(tmp_path: Path) -> None:
    folder = FolderConnector(tmp_path / "drop")
    assert Capability.WALK_UP not in folder.capabilities
    with pytest.raises(UnsupportedError, match="does not support walk-up"):
        folder.call_next("HQ")
    with pytest.raises(UnsupportedError, match="does not support filters"):
        folder.list_tickets(filters=TicketFilter(category="Printer"))


# ---------------------------------------------------------------- the backend's proxy
def config_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Config:
    config_file = tmp_path / "config.toml"
    config_file.write_text(text, encoding="utf-8")
    monkeypatch.setenv("SHOWDESK_CONFIG", str(config_file))
    return load_config()


def test_configured_proxy_carries_every_request(
    server_process: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOWDESK_TOKEN", server_process.token("technician"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # the configured proxy wins over the environment's
    with ForwardProxy() as proxy:
        backend = config_from(
            tmp_path, monkeypatch, f'[backend]\nurl = "{server_process.url}"\nproxy = "{proxy.url}"\n'
        ).backend()
        assert backend.proxy == proxy.url
        with make_connector(backend, role="technician") as connector:
            ticket = connector.submit(report_bundle(steps=1))
            assert connector.get_ticket(ticket.id).report is not None
    assert proxy.targets == [
        f"POST {server_process.url}/api/v1/reports",
        f"GET {server_process.url}/api/v1/tickets/{ticket.id}",
    ]


def test_without_a_configured_proxy_the_environments_applies(
    server_process: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOWDESK_TOKEN", server_process.token("technician"))
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        backend = config_from(tmp_path, monkeypatch, f'[backend]\nurl = "{server_process.url}"\nproxy = ""\n').backend()
        assert backend.proxy is None
        with make_connector(backend, role="technician") as connector:
            connector.list_tickets(limit=1)
    assert proxy.targets == [f"GET {server_process.url}/api/v1/tickets?limit=1"]


def test_named_backends_take_a_proxy_and_a_bad_one_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = config_from(
        tmp_path,
        monkeypatch,
        '[backends.desk]\ntype = "rt"\nurl = "https://rt.example.org"\nqueue = "General"\n'
        'proxy = "http://proxy.example.org:3128"\n',
    )
    desk = config.backend("desk")
    assert desk.proxy == "http://proxy.example.org:3128" and "proxy" not in desk.options
    with make_connector(desk) as connector:
        assert connector.http.session.proxies == {  # type: ignore[attr-defined]
            "http": "http://proxy.example.org:3128", "https": "http://proxy.example.org:3128"
        }
    for bad in ("proxy.example.org", "socks5://proxy.example.org:1080"):
        with pytest.raises(
            ConfigError, match=rf"config.toml:3: \[backends.broken\] proxy = '{bad}' is not a proxy address"
        ):
            config_from(tmp_path, monkeypatch, f'[backends.broken]\ntype = "builtin"\nproxy = "{bad}"\n')


# ---------------------------------------------------------------- the read side's models
def test_each_read_answer_round_trips_from_the_servers_json_into_the_connectors_model(
    server_process: ServerProcess, technician: BuiltinConnector, submitter: BuiltinConnector
) -> None:
    """What the server writes from its response model, the connector reads into the same model, losing nothing."""
    ada = submitter.submit(walk_up_bundle("Ada Baker"))
    submitter.submit(walk_up_bundle("Brian Cole"))

    def raw(connector: BuiltinConnector, method: str, path: str, params: dict[str, str | int] | None = None) -> object:
        """The server's JSON as it is on the wire, read past the models."""
        return connector.request(method, path, params=params).json()

    since, until = datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1)
    window: dict[str, str | int] = {"since": since.isoformat(), "until": until.isoformat()}
    place = submitter.queue_place(ada.id)
    public_board = submitter.queue_board("HQ")
    full_board = technician.queue_board("HQ")
    pairs = [
        (technician.whoami(), raw(technician, "GET", "/whoami")),
        (submitter.whoami(), raw(submitter, "GET", "/whoami")),
        (place, raw(submitter, "GET", f"/tickets/{ada.id}/queue")),
        (public_board, raw(submitter, "GET", "/queue/HQ")),
        (full_board, raw(technician, "GET", "/queue/HQ")),
        (technician.changes(0), raw(technician, "GET", "/changes", params={"after": 0})),
    ]
    called = technician.call_next("HQ")
    pairs += [
        (technician.queue_board("HQ"), raw(technician, "GET", "/queue/HQ")),
        (technician.stats(since, until), raw(technician, "GET", "/stats", params=window)),
    ]
    for model, answer in pairs:
        assert model.model_dump(mode="json") == answer, type(model).__name__

    # The answers carry what the screens show: a public board has masked names and no ticket ids.
    assert [(e.name, e.ticket_id) for e in public_board.waiting] == [("Ada B.", None), ("Brian C.", None)]
    assert full_board.positions() == {ada.id: 1, full_board.waiting[1].ticket_id: 2}
    assert (place.site, place.position, place.state) == ("HQ", 1, "waiting")
    assert called.called is not None and called.called.reporter.name == "Ada Baker"
    assert called.board.serving[0].called_by == "tess"


BOARD_ENTRY = {
    "number": "SD-1001", "name": "Ada B.", "position": 1, "state": "waiting",
    "waiting_since": "2024-05-01T12:00:00Z", "called_at": None, "called_by": None,
    "estimated_wait_seconds": 300.0, "ticket_id": None,
}  # fmt: skip
BOARD = {
    "site": "HQ", "waiting": [BOARD_ENTRY], "serving": [], "mean_service_seconds": 300.0,
    "service_history": 4, "estimated_wait_seconds": 600.0,
}  # fmt: skip


@pytest.mark.parametrize(
    ("call", "answer", "what", "field"),
    [
        (lambda c: c.queue_board("HQ"), {**BOARD, "waiting": "everyone"}, "queue board", "waiting"),
        (lambda c: c.queue_board("HQ"), {**BOARD, "waiting": [{**BOARD_ENTRY, "position": "first"}]},
         "queue board", "waiting.0.position"),
        (lambda c: c.queue_board("HQ"), [BOARD], "queue board", "not a JSON object"),
        (lambda c: c.call_next("HQ"), {"called": None}, "call", "board"),
        (lambda c: c.stats(datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)),
         {"since": "2024-05-01T00:00:00Z", "until": "2024-06-01T00:00:00Z", "tickets_created": 3},
         "figures", "open_tickets"),
        (lambda c: c.whoami(), {"name": "tess", "role": "wizard", "site": None}, "caller", "role"),
        (lambda c: c.whoami(), {"name": "tess"}, "caller", "role"),
        (lambda c: c.changes(0), {"changes": [{"seq": 1, "ticket_id": "t"}], "last_seq": 1}, "changes page",
         "changes.0.kind"),
        (lambda c: c.queue_place("7"), {"site": "HQ", "position": 2, "state": "waiting"}, "queue place", "ahead"),
    ],
    ids=["board-not-a-list", "board-entry-position", "board-array", "call-without-board", "figures-missing",
         "caller-unknown-role", "caller-without-role", "change-without-kind", "place-missing"],
)  # fmt: skip
def test_a_malformed_read_answer_is_a_permanent_connector_error_naming_the_field(
    call: Callable[[BuiltinConnector], object], answer: object, what: str, field: str
) -> None:
    with Peer() as peer:
        peer.answer(Reply(200, json.dumps(answer).encode(), {"Content-Type": "application/json"}))
        connector = BuiltinConnector(peer.url, token="t")
        try:
            with pytest.raises(PermanentError) as refused:
                call(connector)
        finally:
            connector.close()
    assert f"sent a {what} ShowDesk cannot read" in refused.value.reason
    assert field in refused.value.reason and refused.value.system == connector.system
