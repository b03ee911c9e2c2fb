"""Sign-in problems, a server that goes away mid-session, and a backend with fewer capabilities."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from agent.bundle import ReportBundle
from agent.connectors.base import Capability, Connector, ProgressCallback, TicketDetail, TicketFilter, TicketPage
from agent.connectors.builtin import BuiltinConnector
from agent.schema import Ticket
from technician.model import Column
from technician.window import TechWindow
from tests.fixtures.server import ServerProcess, free_port
from tests.technician.conftest import ReportSender, TechWindows, crafted_sysinfo, numbers, open_in_viewer


def is_online(window: TechWindow) -> bool:
    return window.session.online


def test_a_server_stopped_and_restarted_mid_session_recovers_without_restarting_the_app(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    before = reporter.send(description="before the outage")
    window = tech_windows(server_process)
    assert numbers(window) == [before.number]
    assert not window.banner.isVisible()

    server_process.stop()
    qtbot.waitUntil(window.banner.isVisible, timeout=15_000)
    assert "cannot be reached" in window.banner.text()
    assert not is_online(window)

    server_process.start()
    qtbot.waitUntil(lambda: not window.banner.isVisible(), timeout=15_000)
    assert is_online(window)
    with qtbot.waitSignal(window.session.new_tickets, timeout=10_000):
        after = reporter.send(description="after the outage")
    qtbot.waitUntil(lambda: numbers(window) == [after.number, before.number])

    open_in_viewer(qtbot, window, after.id)  # the rest works too
    window.actions_by_name["status-open"].trigger()
    model = window.session.model
    qtbot.waitUntil(lambda: model.index(0, Column.STATUS).data() == "open", timeout=10_000)


def test_sign_in_explains_a_missing_or_refused_token(
    qtbot: QtBot, server_process: ServerProcess, tech_windows: TechWindows
) -> None:
    missing = tech_windows(server_process, token="", sign_in=False)
    with qtbot.waitSignal(missing.session.sign_in_failed, timeout=10_000) as failed:
        missing.start()
    assert failed.args[0] == "no-token"
    assert missing.stack.currentWidget() is missing.signin
    assert "No technician token" in missing.signin.headline.text()
    assert "showdesk login --role technician" in missing.signin.detail.text()
    assert missing.signin.retry_button.isEnabled()

    refused = tech_windows(server_process, token="sdk_not-a-real-token", sign_in=False)
    with qtbot.waitSignal(refused.session.sign_in_failed, timeout=10_000) as failed:
        refused.start()
    assert failed.args[0] == "refused"
    assert "refused" in refused.signin.headline.text()

    submitter = tech_windows(server_process, token=server_process.token("submitter"), sign_in=False)
    with qtbot.waitSignal(submitter.session.sign_in_failed, timeout=10_000) as failed:
        submitter.start()
    assert failed.args[0] == "refused"
    assert "submitter token" in submitter.signin.detail.text()


def test_sign_in_waits_for_an_unreachable_server_and_retries(
    qtbot: QtBot, tmp_path: Path, tech_windows: TechWindows
) -> None:
    server = ServerProcess(tmp_path / "late-server", port=free_port())
    token = {"value": "sdk_made-once-the-server-runs"}
    window = tech_windows(
        server,
        token="",
        connector=lambda: BuiltinConnector(server.url, token=lambda: token["value"], connect_timeout=2.0),
        sign_in=False,
    )
    with qtbot.waitSignal(window.session.sign_in_failed, timeout=10_000) as failed:
        window.start()
    assert failed.args[0] == "unreachable"
    assert "cannot be reached" in window.signin.headline.text()
    assert "Trying again in" in window.signin.countdown.text()
    try:
        server.start()
        token["value"] = server.token("technician")
        with qtbot.waitSignal(window.session.signed_in, timeout=15_000):
            window.signin.retry_button.click()
        assert window.stack.currentWidget() is window.tabs
    finally:
        server.stop()


class ReadOnlyConnector(Connector):
    """A ticket system with only the connector interface's read side and status changes: no feed,
    no filters, no assignment, no figures; its ticket records carry nothing beyond the interface."""

    capabilities = frozenset({Capability.SUBMIT, Capability.READ, Capability.STATUS})

    def __init__(self, inner: BuiltinConnector) -> None:
        self.inner = inner

    @property
    def system(self) -> str:
        return "a read-only ticket system"

    def submit(self, bundle: ReportBundle, progress: ProgressCallback | None = None) -> Ticket:
        return self.inner.submit(bundle, progress)

    def list_tickets(
        self,
        *,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        filters: TicketFilter | None = None,
    ) -> TicketPage:
        status = self._status_only(status, filters)  # a system without filters: status only
        return replace(self.inner.list_tickets(status=status, limit=limit, cursor=cursor), raw=())

    def get_ticket(self, ticket_id: str) -> TicketDetail:
        return replace(self.inner.get_ticket(ticket_id), raw={})

    def attachment(self, ticket_id: str, path: str) -> bytes:
        return self.inner.attachment(ticket_id, path)

    def set_status(self, ticket_id: str, status: str) -> Ticket:
        return self.inner.set_status(ticket_id, status)

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def read_only(server_process: ServerProcess) -> Iterator[Any]:
    token = server_process.token("technician")
    yield lambda: ReadOnlyConnector(BuiltinConnector(server_process.url, token=token, connect_timeout=2.0))


def test_a_backend_with_fewer_capabilities_hides_what_it_cannot_do(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows, read_only: Any
) -> None:
    first = reporter.send(sysinfo=crafted_sysinfo(battery={"present": True, "plugged_in": False, "percent": 8.0}))
    window = tech_windows(server_process, connector=read_only)
    assert numbers(window) == [first.number]
    hidden = {"claim", "assign", "note", "reply", "call-next", "show-dashboard", "show-history", "search"}
    assert not hidden & window.available_commands()
    assert {"status-open", "export", "copy-link", "next-step"} <= window.available_commands()
    assert not window.queue_view.search.isVisibleTo(window)
    assert not window.tabs.isTabVisible(1)

    # No changes feed: the newest page is looked at now and then instead.
    with qtbot.waitSignal(window.session.new_tickets, timeout=15_000):
        second = reporter.send()
    qtbot.waitUntil(lambda: numbers(window) == [second.number, first.number])

    # System information comes as the report's file; the flags are computed the same way.
    open_in_viewer(qtbot, window, first.id)
    assert "On battery at 8 %" in window.viewer.flags_strip.text()
    window.actions_by_name["status-waiting"].trigger()
    model = window.session.model
    qtbot.waitUntil(lambda: model.index(model.row_of(first.id) or 0, Column.STATUS).data() == "waiting", timeout=10_000)
