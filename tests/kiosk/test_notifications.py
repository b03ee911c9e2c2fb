"""Notifications from the kiosk as configured: a delivered walk-up, and a walk-up waiting too long on the board.

The kiosk is put together by ``kiosk.app.services_from_config`` and the board's notifier by
``kiosk.cli.board_notifier``, from a ``[[notify]]`` table as a site writes it; the target is
a loopback receiver that verifies the signature as docs/notifications.md tells receivers to.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from agent.config import load_config
from agent.read_models import BoardEntry, QueueBoard
from kiosk.app import services_from_config
from kiosk.board import BoardWindow
from kiosk.cli import board_notifier
from kiosk.flow import Stage
from kiosk.window import KioskWindow
from tests.fixtures.server import ServerProcess
from tests.fixtures.waiting import wait_until
from tests.kiosk.conftest import site_settings, static_sysinfo
from tests.kiosk.helpers import check_in_by_form, tap, wait_stage
from tests.notify.receivers import Receiver, SignedReceiver

SECRET = "kiosk-hook-secret"
SITE = "HQ Tech Bar"


@pytest.fixture
def signed_hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Receiver, SignedReceiver]]:
    receiver = SignedReceiver(SECRET, time.time)
    with Receiver(receiver) as hook:
        monkeypatch.setenv("KIOSK_HOOK_URL", hook.url("/events"))
        monkeypatch.setenv("KIOSK_HOOK_SECRET", SECRET)
        yield hook, receiver


def configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, notify: str) -> None:
    """The kiosk machine's configuration file: its outbox, its notification queue, one ``[[notify]]`` table."""
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[outbox]\ndir = "{tmp_path / "outbox"}"\n'
        f'[notifications]\ndir = "{tmp_path / "notify"}"\n'
        '[[notify]]\nname = "desk-hook"\nkind = "webhook"\n'
        'url_env = "KIOSK_HOOK_URL"\nsecret_env = "KIOSK_HOOK_SECRET"\n' + notify
    )
    monkeypatch.setenv("SHOWDESK_CONFIG", str(config_file))


def test_a_delivered_walk_up_is_posted_once_to_the_configured_webhook(
    qtbot: QtBot,
    shared_server: ServerProcess,
    signed_hook: tuple[Receiver, SignedReceiver],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hook, receiver = signed_hook
    configure(tmp_path, monkeypatch, 'events = ["new_report"]\n')
    monkeypatch.setenv("SHOWDESK_URL", shared_server.url)
    monkeypatch.setenv("SHOWDESK_TOKEN", shared_server.token("submitter", site=SITE))
    settings = site_settings()
    services, sender = services_from_config(load_config(), settings)
    notifier = services.notifier
    assert notifier is not None and notifier.running
    # Only what the test machine lacks is stood in: no camera, no capture, fixed system facts.
    services = replace(services, sysinfo=static_sysinfo, grab_factory=None, image_source=None, editor_factory=None,
                       temp_root=tmp_path / "sessions", stats_path=tmp_path / "stats.json")
    window = KioskWindow(settings, services, windowed=True)
    qtbot.addWidget(window)
    window.show()
    sender.start()
    try:
        check_in_by_form(qtbot, window, "Grace Hopper", "grace@example.org")
        tap(qtbot, window.what.tiles["printer"])
        tap(qtbot, window.what.continue_button)
        tap(qtbot, window.show_screen.continue_button)  # nothing to show: skipped
        tap(qtbot, window.review.send_button)
        wait_stage(qtbot, window, Stage.SEND)
        with qtbot.waitSignal(window.submission.finished, timeout=30_000):
            tap(qtbot, window.send.send_button)
        wait_stage(qtbot, window, Stage.DONE)
        outcome = window.session.outcome
        assert outcome is not None and outcome.ticket is not None

        wait_until(lambda: len(receiver.accepted) == 1, "the webhook got the walk-up", timeout=15)
        notifier.deliver_due()  # anything still due would be posted now
        [body] = receiver.accepted
        assert len(hook.requests) == 1
        assert body["event"] == "new_report" and body["report_id"] == str(outcome.report_id)
        # The ticket's link is the person's own page (a capability): the channel gets the number only.
        assert body["ticket"] == {"number": outcome.ticket.number, "url": None}
        assert body["site"] == SITE and body["source"] == "kiosk" and body["walk_up"] is True
        assert "grace@example.org" not in hook.requests[0].body.decode()  # the address stays in the ticket
    finally:
        window.allow_close = True
        window.close()
        window.shutdown()
        sender.stop(timeout=30)
        notifier.stop()
        services.outbox.close()


def waiting_board(since: datetime) -> QueueBoard:
    person = BoardEntry(
        number="W-007", name="Ada L.", position=1, state="waiting", waiting_since=since, called_at=None,
        called_by=None, estimated_wait_seconds=300.0, ticket_id=None,
    )  # fmt: skip
    return QueueBoard(site=SITE, waiting=[person], serving=[], mean_service_seconds=300.0, service_history=3,
                      estimated_wait_seconds=300.0)


def test_the_board_posts_walk_up_waiting_once_past_the_threshold(
    qtbot: QtBot, signed_hook: tuple[Receiver, SignedReceiver], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook, receiver = signed_hook
    configure(tmp_path, monkeypatch, 'events = ["new_report"]\n')
    assert board_notifier(load_config()) is None  # no target wants walk-up waits: no thread

    configure(tmp_path, monkeypatch, 'events = ["walkup_waiting"]\nwalkup_minutes = 10\n')
    notifier = board_notifier(load_config())
    assert notifier is not None and notifier.running
    joined = datetime.now(UTC) - timedelta(minutes=1)
    now = [joined + timedelta(minutes=5)]
    served: list[QueueBoard] = []

    def read_queue() -> QueueBoard:  # the board's reader seam: the queue as the server would answer
        served.append(waiting_board(joined))
        return served[-1]

    board = BoardWindow(SITE, read_queue, refresh_ms=60_000, observer=notifier, clock=lambda: now[0])
    qtbot.addWidget(board)
    try:
        board.refresh()
        qtbot.waitUntil(lambda: len(served) == 1 and board.board is served[-1], timeout=10_000)
        assert notifier.deliver_due() == [] and hook.requests == []  # five minutes: not yet

        now[0] = joined + timedelta(minutes=11)
        board.refresh()
        qtbot.waitUntil(lambda: board.board is served[-1] and len(served) == 2, timeout=10_000)
        wait_until(lambda: len(receiver.accepted) == 1, "the webhook heard of the waiting walk-up", timeout=15)
        [body] = receiver.accepted
        assert body["event"] == "walkup_waiting" and body["site"] == SITE
        assert body["waiting_minutes"] == 11 and body["walk_up"] is True

        now[0] = joined + timedelta(minutes=12)
        board.refresh()  # the same person, still waiting: told once
        qtbot.waitUntil(lambda: board.board is served[-1] and len(served) == 3, timeout=10_000)
        assert notifier.deliver_due() == [] and len(hook.requests) == 1
        assert [(n.text(), m.text()) for n, m in board.waiting_cells[:1]] == [("W-007", "Ada L.")]
    finally:
        board.shutdown()
        notifier.stop()
