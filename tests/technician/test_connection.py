"""Sign-in problems, a server that goes away mid-session, and a backend with fewer capabilities."""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
from pytestqt.qtbot import QtBot

from agent.bundle import ReportBundle
from agent.cli import build_parser, cmd_login
from agent.config import load_config
from agent.connectors.base import Capability, Connector, ProgressCallback, TicketDetail, TicketFilter, TicketPage
from agent.connectors.builtin import BuiltinConnector
from agent.schema import Ticket
from technician.cli import build_window
from technician.model import Column, login_command
from technician.window import TechWindow
from tests.fixtures.server import ServerProcess, free_port
from tests.technician.conftest import (
    ReportSender,
    TechWindows,
    crafted_sysinfo,
    numbers,
    open_in_viewer,
    wait_loaded,
)


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
    assert_login_command_parses(suggested_command(missing.signin.detail.text()), server_process.url)
    detail = missing.signin.detail
    assert detail.height() >= detail.heightForWidth(detail.width())  # the whole hint shows, none cut off
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


def suggested_command(rich_text: str) -> str:
    """The ``showdesk login`` command a piece of the window's text tells the person to type."""
    plain = html.unescape(re.sub(r"<[^>]+>", " ", rich_text))
    found = re.search(r"showdesk login \S+ --role \S+", plain)
    assert found is not None, f"no showdesk login command in {plain!r}"
    return found.group(0)


def assert_login_command_parses(command: str, url: str) -> None:
    """``command`` is accepted by the real command line and stores a technician token for ``url``."""
    program, *arguments = shlex.split(command)
    assert program == "showdesk"
    args = build_parser().parse_args(arguments)
    assert args.handler is cmd_login
    assert (args.url, args.role) == (url, "technician")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8765", "https://helpdesk.example.org/showdesk", "https://h.example.org/a?b=1&c=d e"]
)
def test_the_suggested_login_command_is_what_the_command_line_accepts(url: str) -> None:
    assert_login_command_parses(login_command(url), url)


def test_a_restarted_local_server_s_new_hand_over_token_signs_in_again_by_itself(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    """As run by `showdesk tech` against the local server: the token comes from its hand-over file."""
    before = reporter.send(description="before the restart")
    config = load_config({"backend.url": server_process.url})
    window = tech_windows.show(build_window(config, tray=False))
    assert numbers(window) == [before.number]
    first_token = server_process.handover()["tokens"]["technician"]

    server_process.stop()  # a clean stop: the hand-over file goes, its tokens are revoked
    assert not server_process.handover_path.exists()
    # Whether the outage reads as "cannot be reached" or as "no token at the moment" depends on
    # what the connector can tell; either way the queue stays on screen and no action is asked.
    qtbot.waitUntil(window.banner.isVisible, timeout=15_000)
    assert window.stack.currentWidget() is window.tabs
    banner = window.banner.text()
    assert "cannot be reached" in banner or "signing in again by itself" in banner.lower(), banner
    if "showdesk login" in banner:
        assert_login_command_parses(suggested_command(banner), server_process.url)

    server_process.start()
    assert server_process.handover()["tokens"]["technician"] != first_token
    qtbot.waitUntil(lambda: window.session.caller is not None and not window.banner.isVisible(), timeout=15_000)
    assert window.stack.currentWidget() is window.tabs
    assert window.session.online
    with qtbot.waitSignal(window.session.new_tickets, timeout=15_000):
        after = reporter.send(description="after the restart")
    qtbot.waitUntil(lambda: numbers(window) == [after.number, before.number])
    # It signed in with the new token: the old one is refused for good.
    refused = requests.get(f"{server_process.api}/whoami", headers=server_process.auth(first_token), timeout=10)
    assert refused.status_code == 401


def test_a_revoked_token_with_no_replacement_shows_sign_in_once_and_signs_in_when_a_new_one_is_stored(
    qtbot: QtBot, server_process: ServerProcess, tech_windows: TechWindows
) -> None:
    stored = {"token": server_process.token("technician", name="revoked-tech")}
    asked = {"count": 0}

    def credentials() -> str | None:
        asked["count"] += 1
        return stored["token"]

    window = tech_windows(
        server_process,
        connector=lambda: BuiltinConnector(server_process.url, token=lambda: stored["token"], connect_timeout=2.0),
        credentials=credentials,
    )
    attempts: list[None] = []
    window.session.signing_in.connect(lambda: attempts.append(None))

    with qtbot.waitSignal(window.session.sign_in_failed, timeout=15_000) as failed:
        server_process.cli("token", "revoke", "revoked-tech")  # the changes feed hears 401 at its next call
    assert failed.args[0] == "refused"
    assert window.stack.currentWidget() is window.signin
    assert "refused" in window.signin.headline.text()
    assert "signs in by itself" in window.signin.detail.text()
    assert_login_command_parses(suggested_command(window.signin.detail.text()), server_process.url)

    # The credentials are asked again and again, but the refused token is not tried again.
    asked_at_refusal = asked["count"]
    qtbot.waitUntil(lambda: asked["count"] >= asked_at_refusal + 2, timeout=10_000)
    assert attempts == []
    assert window.session.caller is None
    assert window.stack.currentWidget() is window.signin

    # A new token stored (as `showdesk login` does) while the sign-in screen shows: signed in by itself.
    with qtbot.waitSignal(window.session.signed_in, timeout=15_000):
        stored["token"] = server_process.token("technician")
    assert attempts == [None]
    assert window.stack.currentWidget() is window.tabs


def test_a_refused_token_signs_in_again_with_the_new_one_the_credentials_give_keeping_the_queue(
    qtbot: QtBot, server_process: ServerProcess, reporter: ReportSender, tech_windows: TechWindows
) -> None:
    """A connector holding the token it was made with (not looking it up each call), refused after
    the credentials changed: technician mode asks them again and signs in with the new token."""
    before = reporter.send()
    stored = {"token": server_process.token("technician", name="replaced-tech")}

    def connector() -> BuiltinConnector:
        return BuiltinConnector(server_process.url, token=stored["token"], connect_timeout=2.0)

    window = tech_windows(server_process, connector=connector, credentials=lambda: stored["token"])
    shown: list[object] = []
    window.stack.currentChanged.connect(lambda _index: shown.append(window.stack.currentWidget()))
    failures: list[str] = []
    window.session.sign_in_failed.connect(lambda kind, _message: failures.append(kind))

    stored["token"] = server_process.token("technician")
    with qtbot.waitSignal(window.session.signed_in, timeout=15_000):
        server_process.cli("token", "revoke", "replaced-tech")  # the changes feed hears 401 at its next call
    assert shown == [] and failures == []  # never sent to the sign-in screen
    wait_loaded(qtbot, window)
    with qtbot.waitSignal(window.session.new_tickets, timeout=15_000):
        after = reporter.send()
    qtbot.waitUntil(lambda: numbers(window) == [after.number, before.number])


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
