"""The built-in connector's technician side against the real server: filters, the changes feed,
assignment, figures, the walk-up queue, refusals in the ticket's state, and the backend proxy."""

from __future__ import annotations

import uuid
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
    assert {"name": "tess", "role": "technician"}.items() <= dict(technician.whoami()).items()
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
    assert [e["name"] for e in board["waiting"]] == ["Ada", "Brian"]
    called = technician.call_next("HQ")
    assert called["called"]["id"] == ada.id
    assert [e["name"] for e in called["board"]["waiting"]] == ["Brian"]
    figures = technician.stats(datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1))
    assert figures["tickets_created"] == 2


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
