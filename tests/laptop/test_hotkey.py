"""The global shortcut on a real X server: xdotool presses the keys, the grab on the root window answers."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from pytestqt.qtbot import QtBot

from agent.laptop.hotkey import GlobalHotkey, HotkeyError, HotkeyTakenError, parse_hotkey
from agent.laptop.key_combination import DEFAULT_HOTKEY, KeyCombination, hotkey_backend
from agent.laptop.report_window import ReportWindow
from agent.laptop.settings_store import AgentSettings
from tests.fixtures.xvfb import XvfbServer
from tests.laptop.conftest import AgentHarness

# Another X client holding Ctrl+Alt+O on the root window, as a desktop's own shortcut would.
OTHER_CLIENT = """
import ctypes, ctypes.util, sys
x = ctypes.CDLL(ctypes.util.find_library("X11"))
vp, ul = ctypes.c_void_p, ctypes.c_ulong
x.XOpenDisplay.argtypes, x.XOpenDisplay.restype = [ctypes.c_char_p], vp
x.XDefaultRootWindow.argtypes, x.XDefaultRootWindow.restype = [vp], ul
x.XStringToKeysym.argtypes, x.XStringToKeysym.restype = [ctypes.c_char_p], ul
x.XKeysymToKeycode.argtypes, x.XKeysymToKeycode.restype = [vp, ul], ctypes.c_ubyte
x.XGrabKey.argtypes = [vp, ctypes.c_int, ctypes.c_uint, ul, ctypes.c_int, ctypes.c_int, ctypes.c_int]
x.XSync.argtypes = [vp, ctypes.c_int]
display = x.XOpenDisplay(None)
code = x.XKeysymToKeycode(display, x.XStringToKeysym(b"o"))
x.XGrabKey(display, code, 4 | 8, x.XDefaultRootWindow(display), 0, 1, 1)  # ControlMask | Mod1Mask (Alt)
x.XSync(display, 0)
print("grabbed", flush=True)
sys.stdin.readline()
"""


def press(server: XvfbServer, *keys: str) -> None:
    """Type keys as a person would (XTEST), e.g. ``press(server, "ctrl+alt+p")``."""
    subprocess.run(["xdotool", "key", *keys], env=server.env, check=True, timeout=10)


@contextmanager
def hotkey_on(server: XvfbServer, combination: str) -> Iterator[GlobalHotkey]:
    hotkey = GlobalHotkey(server.display)
    hotkey.register(combination)
    try:
        yield hotkey
    finally:
        hotkey.unregister()


# ---------------------------------------------------------------- combinations
def test_combinations_are_read_as_qt_writes_them() -> None:
    assert parse_hotkey("Ctrl+Alt+P") == KeyCombination(("Ctrl", "Alt"), "P")
    assert str(parse_hotkey(" alt + control + p ")) == "Ctrl+Alt+P"
    assert str(parse_hotkey("Super+Shift+F12")) == "Shift+Meta+F12"
    assert str(parse_hotkey("Print")) == "Print"
    assert str(parse_hotkey("ctrl+pagedown")) == "Ctrl+PgDown"
    assert str(parse_hotkey(DEFAULT_HOTKEY)) == DEFAULT_HOTKEY


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("", "names no key"),
        ("Ctrl+", "names no key"),
        ("P", "would fire while typing"),
        ("Shift+P", "would fire while typing"),
        ("Hyper+P", "'Hyper' where a modifier belongs"),
        ("Ctrl+Alt+Enter", "ends in 'Enter'"),
        ("Ctrl+Alt+F2", "switches to a text console"),
    ],
)
def test_a_combination_that_cannot_be_a_shortcut_is_refused_by_name(text: str, named: str) -> None:
    with pytest.raises(HotkeyError, match=named):
        parse_hotkey(text)


def test_the_backend_follows_the_desktop() -> None:
    assert hotkey_backend("win32", {}) == ("windows", None)
    backend, reason = hotkey_backend("darwin", {"DISPLAY": ":0"})
    assert backend == "none" and reason is not None and "macOS" in reason
    backend, reason = hotkey_backend("linux", {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"})
    assert backend == "none" and reason is not None and "Wayland" in reason
    backend, reason = hotkey_backend("linux", {"XDG_SESSION_TYPE": "wayland"})
    assert backend == "none" and reason is not None and "Wayland" in reason
    assert hotkey_backend("linux", {}) == ("none", "there is no X display to take a key on")
    assert hotkey_backend("linux", {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}) == ("x11", None)


def test_where_no_program_may_take_a_key_registering_says_why(qtbot: QtBot) -> None:
    hotkey = GlobalHotkey(platform="linux", environ={"WAYLAND_DISPLAY": "wayland-0"})
    with pytest.raises(HotkeyError, match="Wayland"):
        hotkey.register("Ctrl+Alt+P")
    status = hotkey.status()
    assert not status.available and "Wayland" in status.text
    assert hotkey.register("") is None  # no shortcut asked for: nothing to refuse


# ---------------------------------------------------------------- X11, for real
@pytest.mark.xvfb
def test_pressing_the_combination_anywhere_emits_activated(qtbot: QtBot, xvfb_display: XvfbServer) -> None:
    presses: list[None] = []
    with hotkey_on(xvfb_display, "Ctrl+Alt+K") as hotkey:
        hotkey.activated.connect(lambda: presses.append(None))
        assert str(hotkey.combination) == "Ctrl+Alt+K"
        assert hotkey.status().text == "Press Ctrl+Alt+K anywhere to report a problem."
        with qtbot.waitSignal(hotkey.activated, timeout=5000):
            # The X server delivers in order: had Ctrl+K (no Alt) counted, it would come first.
            press(xvfb_display, "ctrl+k", "alt+k", "ctrl+alt+k")
        assert len(presses) == 1


@pytest.mark.xvfb
@pytest.mark.parametrize("lock", ["Num_Lock", "Caps_Lock"])
def test_the_combination_works_with_a_lock_key_on(qtbot: QtBot, xvfb_display: XvfbServer, lock: str) -> None:
    with hotkey_on(xvfb_display, "Ctrl+Alt+K") as hotkey:
        press(xvfb_display, lock)  # on
        try:
            with qtbot.waitSignal(hotkey.activated, timeout=5000):
                press(xvfb_display, "ctrl+alt+k")
        finally:
            press(xvfb_display, lock)  # off again: the server is shared


@pytest.mark.xvfb
def test_a_combination_another_program_holds_is_refused_by_name(qtbot: QtBot, xvfb_display: XvfbServer) -> None:
    other = subprocess.Popen(
        [sys.executable, "-c", OTHER_CLIENT],
        env=xvfb_display.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdin is not None and other.stdout is not None
    try:
        assert other.stdout.readline().strip() == "grabbed"
        hotkey = GlobalHotkey(xvfb_display.display)
        with pytest.raises(HotkeyTakenError) as refused:
            hotkey.register("Ctrl+Alt+O")
        message = str(refused.value)
        assert message.startswith("Ctrl+Alt+O is already taken by another program") and "BadAccess" in message
        assert hotkey.combination is None
        assert hotkey.status().text == f"Not active: {message}."
    finally:
        other.stdin.close()
        other.wait(timeout=10)
        other.stdout.close()

    # Once the other program is gone, the X server frees the combination (when it has noticed).
    def taken_now() -> bool:
        try:
            hotkey.register("Ctrl+Alt+O")
        except HotkeyTakenError:
            return False
        return True

    qtbot.waitUntil(taken_now, timeout=5000)
    with qtbot.waitSignal(hotkey.activated, timeout=5000):
        press(xvfb_display, "ctrl+alt+o")
    hotkey.unregister()


@pytest.mark.xvfb
def test_unregister_gives_the_combination_back(qtbot: QtBot, xvfb_display: XvfbServer) -> None:
    first = GlobalHotkey(xvfb_display.display)
    first.register("Ctrl+Alt+K")
    first.unregister()
    assert first.combination is None
    with hotkey_on(xvfb_display, "Ctrl+Alt+K") as second, qtbot.waitSignal(second.activated, timeout=5000):
        press(xvfb_display, "ctrl+alt+k")


# ---------------------------------------------------------------- the agent
@pytest.mark.xvfb
def test_the_agents_hotkey_opens_the_report_window(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer
) -> None:
    agent = harness.make(global_hotkey=True, settings=AgentSettings(backend_url=harness.server_url))
    assert str(agent.hotkey.combination) == DEFAULT_HOTKEY == "Ctrl+Alt+P"
    with qtbot.waitSignal(agent.report_shown, timeout=15_000) as shown:
        press(xvfb_display, "ctrl+alt+p")
    window = shown.args[0]
    assert isinstance(window, ReportWindow) and window.isVisible() and len(window.draft.steps) == 1
    agent.shutdown()
    # Quitting gave the key back to the desktop.
    with hotkey_on(xvfb_display, "Ctrl+Alt+P") as hotkey:
        assert hotkey.combination is not None


@pytest.mark.xvfb
def test_a_shortcut_changed_in_settings_is_taken_at_once(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer
) -> None:
    from PySide6.QtGui import QKeySequence

    agent = harness.make(global_hotkey=True, settings=AgentSettings(backend_url="http://127.0.0.1:9"))
    agent.open_settings()
    dialog = agent.settings_dialog
    assert dialog is not None and dialog.hotkey_edit.isVisibleTo(dialog)
    assert dialog.hotkey_state.text() == "Press Ctrl+Alt+P anywhere to report a problem."
    dialog.hotkey_edit.setKeySequence(QKeySequence("Ctrl+Alt+J"))
    with qtbot.waitSignal(dialog.saved):
        dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert str(agent.hotkey.combination) == "Ctrl+Alt+J"
    with qtbot.waitSignal(agent.report_shown, timeout=15_000):
        press(xvfb_display, "ctrl+alt+j")
    # The old combination went back to the desktop.
    with hotkey_on(xvfb_display, "Ctrl+Alt+P") as hotkey:
        assert hotkey.combination is not None


@pytest.mark.xvfb
def test_an_agent_whose_shortcut_is_taken_says_so(
    harness: AgentHarness, qtbot: QtBot, xvfb_display: XvfbServer
) -> None:
    with hotkey_on(xvfb_display, "Ctrl+Alt+L"):
        agent = harness.make(
            global_hotkey=True, settings=AgentSettings(backend_url="http://127.0.0.1:9", hotkey="Ctrl+Alt+L")
        )
        assert agent.hotkey.combination is None
        assert agent.tray.toast is not None and "Ctrl+Alt+L is already taken" in agent.tray.toast.body.text()
        agent.open_settings()
        assert agent.settings_dialog is not None
        assert agent.settings_dialog.hotkey_state.text().startswith("Not active: Ctrl+Alt+L is already taken")
