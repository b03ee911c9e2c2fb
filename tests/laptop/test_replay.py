"""The instant replay in the agent: off by default, shown while on, bounded, paused on a locked screen,
dropped when switched off, never on disk, and offered as "Add what just happened".

Frames come from the session's Xvfb; the lock state from a private D-Bus session bus where a small
service speaks the desktop's ``org.freedesktop.ScreenSaver`` interface (tests/clips/test_screen_lock.py).
Waits are on the replay's own counters and clock, each with a deadline.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from agent.clips.screen_lock import DbusScreenLockWatcher
from agent.laptop.agent_app import AgentApp
from agent.laptop.icons import app_icon, tray_icon
from agent.laptop.settings_store import AgentSettings, load_agent_settings
from tests.clips import test_screen_lock
from tests.clips.test_screen_lock import ScreenSaverService
from tests.fixtures.xvfb import XvfbServer
from tests.laptop.conftest import AgentHarness

pytestmark = pytest.mark.xvfb

WAIT_MS = 20_000
FPS = 10.0
session_bus = test_screen_lock.session_bus  # the private D-Bus session bus, one for the module


def replay_settings(harness: AgentHarness, on: bool = True) -> AgentSettings:
    return AgentSettings(
        backend_url=harness.server_url, instant_replay=on, replay_seconds=1.0, clip_fps=FPS, replay_max_mb=8
    )


@pytest.fixture
def saver(session_bus: str) -> Iterator[ScreenSaverService]:
    made = ScreenSaverService(session_bus)
    yield made
    made.close()


@pytest.fixture
def replaying(harness: AgentHarness, session_bus: str, saver: ScreenSaverService) -> AgentApp:
    del saver  # on the bus before the agent asks it
    return harness.make(
        settings=replay_settings(harness), screen_lock=lambda: DbusScreenLockWatcher(session_bus, system_bus=None)
    )


def test_instant_replay_is_off_by_default(harness: AgentHarness) -> None:
    assert load_agent_settings().instant_replay is False
    agent = harness.make()
    assert not agent.replay.enabled and agent.replay.buffer is None
    assert not agent.tray.action("replay").isChecked()
    assert agent.tray.replay_state == "" and "replay" not in agent.tray.tooltip().lower()
    window = agent._new_report_window()
    assert window.replay_button.isHidden()
    window.close()


def test_while_on_it_is_shown_and_holds_only_the_last_seconds(qtbot: QtBot, replaying: AgentApp) -> None:
    agent = replaying
    replay = agent.replay
    assert replay.enabled and replay.buffer is not None
    buffer = replay.buffer
    assert agent.tray.action("replay").isChecked()
    assert agent.tray.replay_state == "on"
    assert "Instant replay on: keeping the last 1 s in memory" in agent.tray.tooltip()
    assert tray_icon(0, False, "on").pixmap(64).toImage() != app_icon().pixmap(64).toImage()
    # No tray here (Xvfb has none): a note in the corner says so, and it is kept out of the frames.
    badge = agent.replay_badge
    assert badge is not None and badge.isVisible()
    assert badge.text.text() == "Instant replay on"
    assert badge.toolTip() == "Instant replay on: keeping the last 1 s in memory"
    window = agent._new_report_window()
    assert not window.replay_button.isHidden()
    window.close()
    qtbot.waitUntil(lambda: buffer.frames_grabbed >= 3 * FPS * replay.options.seconds, timeout=WAIT_MS)
    snapshot = replay.snapshot()
    assert snapshot.origin == "replay"
    assert snapshot.duration <= replay.options.seconds + 0.05
    # The frame on screen at the cut, and those grabbed after it: a grab that started late (a busy
    # machine) can bring the next one closer, so one more may fit, never a second's worth more.
    assert len(snapshot.frames) <= FPS * replay.options.seconds + 2
    assert 0 < buffer.bytes_held <= buffer.max_bytes == 8 * 1024 * 1024


def test_a_locked_screen_pauses_it_and_unlocking_resumes(
    qtbot: QtBot, replaying: AgentApp, saver: ScreenSaverService
) -> None:
    replay = replaying.replay
    buffer = replay.buffer
    assert buffer is not None
    qtbot.waitUntil(lambda: buffer.frames_grabbed >= 2, timeout=WAIT_MS)
    saver.set_active(True)
    qtbot.waitUntil(lambda: replay.paused, timeout=WAIT_MS)
    assert replaying.tray.replay_state == "paused"
    assert replaying.replay_badge is not None and replaying.replay_badge.text.text() == "Instant replay paused"
    assert "paused while the screen is locked" in replaying.tray.tooltip()
    paused_at, grabbed = buffer.clock(), buffer.frames_grabbed
    # Five frames' time passes: at most the grab that was under way when the lock came lands.
    qtbot.waitUntil(lambda: buffer.clock() >= paused_at + 5 / FPS, timeout=WAIT_MS)
    assert buffer.frames_grabbed <= grabbed + 1
    saver.set_active(False)
    qtbot.waitUntil(lambda: not replay.paused, timeout=WAIT_MS)
    assert replaying.tray.replay_state == "on"
    qtbot.waitUntil(lambda: buffer.frames_grabbed >= grabbed + 3, timeout=WAIT_MS)


def test_switching_it_off_drops_every_frame(qtbot: QtBot, replaying: AgentApp) -> None:
    buffer = replaying.replay.buffer
    assert buffer is not None
    qtbot.waitUntil(lambda: buffer.frames_grabbed >= 3, timeout=WAIT_MS)
    assert buffer.bytes_held > 0
    replaying.tray.action("replay").trigger()  # the person unticks it in the tray menu
    assert not replaying.replay.enabled and replaying.replay.buffer is None
    assert buffer.bytes_held == 0 and not buffer.is_running
    assert replaying.tray.replay_state == "" and not replaying.tray.action("replay").isChecked()
    assert replaying.replay_badge is not None and not replaying.replay_badge.isVisible()
    assert load_agent_settings().instant_replay is False  # the choice is kept for the next start


def test_quitting_drops_every_frame(qtbot: QtBot, replaying: AgentApp) -> None:
    buffer = replaying.replay.buffer
    assert buffer is not None
    qtbot.waitUntil(lambda: buffer.frames_grabbed >= 3, timeout=WAIT_MS)
    replaying.quit()
    assert buffer.bytes_held == 0 and not buffer.is_running
    assert replaying.replay.buffer is None


def test_the_settings_dialog_switches_it_and_keeps_the_choice(
    qtbot: QtBot, harness: AgentHarness, session_bus: str
) -> None:
    agent = harness.make(
        settings=replay_settings(harness, on=False),
        screen_lock=lambda: DbusScreenLockWatcher(session_bus, system_bus=None),
    )
    agent.open_settings()
    dialog = agent.settings_dialog
    assert dialog is not None
    assert not dialog.replay_box.isChecked()
    assert "keep the last 1 s of the screen in memory" in dialog.replay_box.text()
    dialog.replay_box.setChecked(True)
    dialog.save()
    assert agent.replay.enabled
    assert agent.tray.action("replay").isChecked()
    assert load_agent_settings().instant_replay is True
    agent.set_instant_replay(False, remember=True)
    assert load_agent_settings().instant_replay is False


def _files(roots: list[Path]) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    for root in roots:
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except FileNotFoundError:
                    continue
                found[path] = (stat.st_size, stat.st_mtime_ns)
    return found


def test_nothing_is_written_while_it_runs(
    qtbot: QtBot,
    harness: AgentHarness,
    session_bus: str,
    tmp_path: Path,
) -> None:
    data_dirs = [Path(os.environ[name]) for name in ("HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")]
    roots = [*data_dirs, tmp_path]
    agent = harness.make(
        settings=replay_settings(harness, on=False),
        screen_lock=lambda: DbusScreenLockWatcher(session_bus, system_bus=None),
    )
    before = _files(roots)
    agent.set_instant_replay(True)
    buffer = agent.replay.buffer
    assert buffer is not None
    qtbot.waitUntil(lambda: buffer.frames_grabbed >= 2 * FPS * agent.replay.options.seconds, timeout=WAIT_MS)
    assert agent.replay.snapshot().frames
    assert _files(roots) == before
    agent.set_instant_replay(False)


def test_add_what_just_happened_opens_the_trim_dialog_over_the_replay(
    qtbot: QtBot, replaying: AgentApp, xvfb_display: XvfbServer
) -> None:
    del xvfb_display  # what the agent captures
    buffer = replaying.replay.buffer
    assert buffer is not None
    qtbot.waitUntil(lambda: buffer.frames_grabbed >= FPS, timeout=WAIT_MS)
    with qtbot.waitSignal(replaying.report_shown, timeout=WAIT_MS) as shown:
        replaying.start_report("monitor")
    window = shown.args[0]
    assert not window.replay_button.isHidden()
    qtbot.mouseClick(window.replay_button, Qt.MouseButton.LeftButton)  # type: ignore[no-untyped-call]
    dialog = window.trim_dialog
    assert dialog is not None
    assert dialog.recording.origin == "replay"
    assert 0 < dialog.recording.duration <= replaying.replay.options.seconds + 0.05
    assert replaying.outbox.list() == []  # nothing is queued or sent before the person's review
    with qtbot.waitSignal(window.clip_ready, timeout=WAIT_MS):
        dialog.accept()
    assert window.draft.clips[0].encoded is not None
    assert window.draft.clips[0].encoded.origin == "replay"
    assert replaying.outbox.list() == []
