"""The kiosk cannot be closed by a visitor; the administrator leaves with the hidden gesture and the PIN,
and wrong PINs lock the pad for longer and longer, across restarts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QDateTime, QLocale, QPoint, Qt, QTime
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

# BackgroundRunner as the pad imports it, so these tests follow its package wherever it moves.
from kiosk.admin import AdminPinOverlay, BackgroundRunner
from kiosk.paths import kiosk_data_dir
from kiosk.pin_lockout import PinLockout, default_state_path
from kiosk.settings import hash_pin
from tests.fixtures.server import ServerProcess
from tests.kiosk.conftest import WindowFactory, site_settings
from tests.kiosk.helpers import tap

PIN = "4711"
PIN_HASH = hash_pin(PIN, iterations=1000)


@pytest.fixture(autouse=True)
def _own_kiosk_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test's windows keep their lockout file in a directory of their own, so one test's
    lockout never greets the next."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def test_close_and_alt_f4_are_ignored_and_the_pin_lets_the_administrator_out(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    settings = replace(site_settings(), admin_pin_hash=PIN_HASH)
    window = make_window(settings, windowed=False)
    window.close()  # what the window manager does on Alt+F4
    assert window.isVisible()

    for _ in range(4):
        qtbot.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    assert not window.admin_overlay.isVisible()
    qtbot.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    pad = window.admin_overlay
    assert pad.isVisible()

    for digit in "1234":
        tap(qtbot, pad.findChild(type(pad.ok_button), f"admin-digit-{digit}"))
    assert pad.pin_edit.text() == "1234"
    tap(qtbot, pad.ok_button)
    qtbot.waitUntil(lambda: pad.status.text() == "Wrong PIN.")
    assert window.isVisible() and pad.pin_edit.text() == ""

    qtbot.keyClicks(pad.pin_edit, "4711")
    with qtbot.waitSignal(window.exit_requested):
        qtbot.keyClick(pad.pin_edit, Qt.Key.Key_Return)
    assert not window.isVisible()


def test_five_wrong_pins_lock_the_pad_of_the_kiosk_and_the_lock_is_kept_on_the_machine(
    make_window: WindowFactory, qtbot: QtBot
) -> None:
    settings = replace(site_settings(), admin_pin_hash=PIN_HASH)
    window = make_window(settings, windowed=False)
    qtbot.keyClick(
        window,
        Qt.Key.Key_Q,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    pad = window.admin_overlay
    assert pad.isVisible()
    before = time.time()
    for attempt in range(5):
        qtbot.keyClicks(pad.pin_edit, f"000{attempt}")
        qtbot.keyClick(pad.pin_edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not pad.checking)
    assert_locked(pad)
    until = pad.lockout.locked_until()
    assert until is not None and before + 60 <= until <= time.time() + 60
    # The machine's state directory, beside the kiosk's statistics.
    assert default_state_path().parent == kiosk_data_dir() and default_state_path().is_file()

    qtbot.keyClicks(pad.pin_edit, PIN)  # the keys are greyed out: nothing is typed or checked
    qtbot.keyClick(pad.pin_edit, Qt.Key.Key_Return)
    assert pad.pin_edit.text() == "" and not pad.checking and window.isVisible()
    tap(qtbot, pad.cancel_button)
    assert not pad.isVisible()


def test_without_a_pin_there_is_no_way_out_from_the_screen(make_window: WindowFactory, qtbot: QtBot) -> None:
    window = make_window(windowed=False)
    for _ in range(5):
        qtbot.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    pad = window.admin_overlay
    assert pad.isVisible() and pad.status.text() == "No administrator PIN is set on this kiosk."
    qtbot.keyClicks(pad.pin_edit, "0000")
    tap(qtbot, pad.ok_button)
    assert window.isVisible() and not pad.checking


# ---------------------------------------------------------------- growing lockouts on the pad itself


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def local_epoch(date: QDate, at: QTime) -> float:
    return float(QDateTime(date, at).toSecsSinceEpoch())


# 10:00 local time: every lockout below ends the same day, so the pad shows only a time.
MORNING = local_epoch(QDate(2030, 3, 12), QTime(10, 0))


class PadHost:
    """A stand-in for the kiosk window: a parent widget, a background runner, pads that come and go
    over one state file (a new pad is what a restarted kiosk makes)."""

    def __init__(self, qtbot: QtBot, state_path: Path, clock: FakeClock) -> None:
        self.qtbot = qtbot
        self.state_path = state_path
        self.clock = clock
        self.parent = QWidget()
        qtbot.addWidget(self.parent)
        self.parent.resize(1280, 800)
        self.parent.show()
        self.runner = BackgroundRunner(parent=self.parent)

    def pad(
        self,
        *,
        base_s: float = 60.0,
        max_s: float = 86400.0,
        attempts: int = 5,
        clock: Callable[[], float] | None = None,
    ) -> AdminPinOverlay:
        clock = clock or self.clock
        lockout = PinLockout(self.state_path, clock=clock, attempts=attempts, base_s=base_s, max_s=max_s)
        pad = AdminPinOverlay(self.parent, PIN_HASH, self.runner, clock=clock, lockout=lockout)
        pad.open_pad()
        return pad

    def type_pin(self, pad: AdminPinOverlay, pin: str) -> None:
        for digit in pin:
            key = pad.findChild(QPushButton, f"admin-digit-{digit}")
            assert key is not None
            tap(self.qtbot, key)
        tap(self.qtbot, pad.ok_button)
        self.qtbot.waitUntil(lambda: not pad.checking)

    def close(self) -> None:
        self.runner.shutdown()


@pytest.fixture
def host(qtbot: QtBot, tmp_path: Path) -> Iterator[PadHost]:
    made = PadHost(qtbot, tmp_path / "state" / "pin-lockout.json", FakeClock(MORNING))
    yield made
    made.close()


def short_time(epoch: float) -> str:
    return QLocale().toString(QDateTime.fromSecsSinceEpoch(int(epoch)).time(), QLocale.FormatType.ShortFormat)


def assert_locked(pad: AdminPinOverlay, until_text: str | None = None) -> None:
    keys: list[QWidget] = [pad.pin_edit, pad.ok_button, pad.clear_button, *pad.digit_buttons]
    assert pad.locked and not any(key.isEnabled() for key in keys)
    assert pad.cancel_button.isEnabled()  # the way back to the kiosk stays open
    assert pad.status.text().startswith("Too many wrong PINs. Try again at ")
    if until_text is not None:
        assert pad.status.text() == f"Too many wrong PINs. Try again at {until_text}."


def assert_open(pad: AdminPinOverlay) -> None:
    assert not pad.locked and pad.ok_button.isEnabled() and pad.pin_edit.isEnabled()
    assert all(button.isEnabled() for button in pad.digit_buttons)


def fail_round(host: PadHost, pad: AdminPinOverlay) -> None:
    for attempt in range(5):
        assert_open(pad)
        host.type_pin(pad, f"000{attempt}")
        if attempt < 4:
            assert pad.status.text() == "Wrong PIN."


def test_each_round_of_wrong_pins_locks_the_pad_longer_even_across_restarts(host: PadHost) -> None:
    pad = host.pad()
    minutes = []
    for _round in range(4):
        started = host.clock.now
        fail_round(host, pad)
        until = pad.lockout.locked_until()
        assert until is not None
        minutes.append((until - started) / 60)
        assert_locked(pad, short_time(until))

        # The kiosk restarts in the middle of the lockout: the new pad is locked until the same time.
        host.clock.now = started + 30
        pad.hide()
        pad.deleteLater()
        pad = host.pad()
        assert_locked(pad, short_time(until))

        host.clock.now = until
        pad.refresh_lock()  # what the pad's unlock timer does when the time comes
        assert_open(pad)
        assert pad.status.text() == ""
    assert minutes == [1, 2, 4, 8]


def test_the_time_shown_is_rounded_up_to_the_minute_and_names_the_day_when_it_is_not_today(host: PadHost) -> None:
    host.clock.now = local_epoch(QDate(2030, 3, 12), QTime(23, 10, 20))
    pad = host.pad(base_s=3600.0, max_s=3600.0)
    fail_round(host, pad)
    # Unlocks at 00:10:20 the next day; shown as 00:11 so it is open when the person comes back.
    expected_day = QLocale().toString(QDate(2030, 3, 13), QLocale.FormatType.ShortFormat)
    expected_time = QLocale().toString(QTime(0, 11), QLocale.FormatType.ShortFormat)
    assert pad.status.text() == f"Too many wrong PINs. Try again on {expected_day} at {expected_time}."


def test_a_clock_set_back_shows_the_lockout_from_now_not_from_the_old_time(host: PadHost) -> None:
    host.clock.now = local_epoch(QDate(2030, 3, 13), QTime(12, 0))
    fail_round(host, host.pad())
    host.clock.now = MORNING + 1  # the day before
    restarted = host.pad()
    assert_locked(restarted, short_time(MORNING + 120))  # 10:01 rounded up: a minute from now, not a day


def test_a_correct_pin_starts_the_count_again(host: PadHost) -> None:
    pad = host.pad()
    for _round in range(2):
        fail_round(host, pad)
        until = pad.lockout.locked_until()
        assert until is not None
        host.clock.now = until
        pad.refresh_lock()
    host.type_pin(pad, "0000")
    with host.qtbot.waitSignal(pad.unlocked):
        host.type_pin(pad, PIN)
    assert not pad.isVisible()

    restarted = host.pad()
    assert_open(restarted)
    started = host.clock.now
    fail_round(host, restarted)
    assert restarted.lockout.locked_until() == started + 60  # the first lockout again, not the third


def test_a_damaged_state_file_keeps_the_pad_locked_not_open(host: PadHost) -> None:
    host.state_path.parent.mkdir(parents=True)
    host.state_path.write_bytes(b'{"version": 1, "failures": 0, "lock')
    pad = host.pad()
    assert_locked(pad, short_time(MORNING + 60))
    pad.check()  # what Enter does: locked, so the PIN is not even checked
    assert not pad.checking and pad.isVisible()

    host.clock.now = MORNING + 60
    pad.refresh_lock()
    assert_open(pad)
    with host.qtbot.waitSignal(pad.unlocked):
        host.type_pin(pad, PIN)


def test_the_pad_opens_by_itself_when_the_lockout_ends(host: PadHost) -> None:
    # The real clock and a short lockout: the pad's own timer must give the keys back.
    pad = host.pad(clock=time.time, attempts=1, base_s=0.3, max_s=0.3)
    host.type_pin(pad, "0000")
    assert_locked(pad)
    host.qtbot.waitUntil(lambda: pad.ok_button.isEnabled(), timeout=10_000)
    assert_open(pad)
    assert pad.status.text() == ""


# ---------------------------------------------------------------- the outbox under the pad
def test_the_admin_screen_lists_a_walk_up_waiting_for_a_sign_in_page_until_it_is_sent(
    make_window: WindowFactory, qtbot: QtBot, shared_server: ServerProcess
) -> None:
    from agent.connectors.common import SIGN_IN_FIRST
    from kiosk.flow import Stage
    from tests.kiosk.helpers import check_in_by_form, wait_stage
    from tests.outbox.test_networks import CaptivePortal

    with CaptivePortal(shared_server.url) as portal:  # a hotel's Wi-Fi between the kiosk and its server
        make_window.server_url = portal.url
        make_window.token = shared_server.token("submitter", site="HQ Tech Bar")
        make_window.start_sender()
        window = make_window(replace(site_settings(), admin_pin_hash=PIN_HASH))
        check_in_by_form(qtbot, window, "Grace Hopper", "grace@example.org")
        tap(qtbot, window.what.tiles["printer"])
        tap(qtbot, window.what.continue_button)
        tap(qtbot, window.show_screen.continue_button)
        tap(qtbot, window.review.send_button)
        wait_stage(qtbot, window, Stage.SEND)
        with qtbot.waitSignal(window.submission.finished, timeout=30_000):
            tap(qtbot, window.send.send_button)
        wait_stage(qtbot, window, Stage.DONE)
        code = window.done.number_label.text()  # the receipt code the person leaves with
        assert window.session.outcome is not None and code == window.session.outcome.receipt_code
        tap(qtbot, window.done.finish_button)

        for _ in range(5):
            qtbot.mouseClick(window, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
        pad = window.admin_overlay
        panel = pad.outbox_panel
        assert pad.isVisible() and panel is not None and panel.isVisible()
        waiting = f"Receipt {code}: waits for the network: {SIGN_IN_FIRST}"
        qtbot.waitUntil(lambda: panel.lines() == [waiting], timeout=15_000)
        assert panel.heading.text() == "Reports waiting to be sent: 1"
        assert "Grace" not in " ".join(panel.lines())  # reachable without the PIN: no names, no subject

        # The Wi-Fi is signed in to; the screen, still open, follows the outbox on its own.
        portal.signed_in.set()
        make_window.outbox.network_changed()
        qtbot.waitUntil(lambda: panel.lines() == [], timeout=20_000)
        assert panel.heading.text() == "Nothing is waiting to be sent."
        assert make_window.outbox.list() == []

        assert panel.following
        pad.close_pad()
        assert not panel.following  # a closed screen reads nothing: no scan for an empty room
