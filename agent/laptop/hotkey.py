"""A global keyboard shortcut for "Report a problem", where the desktop lets a program take one.

* X11: a passive grab of the key on the root window (``XGrabKey`` through ctypes on libX11, on a
  connection of its own, read from the Qt event loop through a ``QSocketNotifier``). The grab is
  made once per combination of the lock modifiers (Caps Lock, Num Lock, Scroll Lock) so the
  shortcut works whatever lock is on. Another program holding the same combination makes the X
  server answer ``BadAccess``: :class:`HotkeyTakenError` names the combination.
* Windows: ``RegisterHotKey`` and a native event filter for ``WM_HOTKEY``. Written to the
  documented API but not run here (no Windows in CI).
* Wayland and macOS: no global shortcut from here. :class:`GlobalHotkey` reports why, and the
  settings dialog tells the person how to bind ``showdesk capture --gui`` to a key instead.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import logging
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from PySide6.QtCore import QAbstractNativeEventFilter, QCoreApplication, QObject, QSocketNotifier, Signal

from agent.laptop.key_combination import (
    DEFAULT_HOTKEY,
    HotkeyError,
    HotkeyTakenError,
    KeyCombination,
    hotkey_backend,
    parse_hotkey,
)

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_HOTKEY",
    "GlobalHotkey",
    "HotkeyError",
    "HotkeyStatus",
    "HotkeyTakenError",
    "KeyCombination",
    "detected_status",
    "parse_hotkey",
]


@dataclass(frozen=True)
class HotkeyStatus:
    """What the settings dialog says about the shortcut."""

    available: bool  # False: the desktop allows none (the dialog offers the command to bind instead)
    text: str


class GlobalHotkey(QObject):
    """One global shortcut; ``activated`` is emitted on the GUI thread each time it is pressed."""

    activated = Signal()

    def __init__(
        self,
        display: str | None = None,
        parent: QObject | None = None,
        *,
        platform: str = sys.platform,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(parent)
        self.backend, self.unavailable_reason = hotkey_backend(platform, environ, display)
        self._display = display
        self._grab: _X11Grab | _WindowsHotkey | None = None
        self.combination: KeyCombination | None = None
        self.problem: str | None = None  # why the last register() failed

    def register(self, text: str) -> KeyCombination | None:
        """Take ``text`` (e.g. "Ctrl+Alt+P"; empty: no shortcut) instead of the shortcut held now.

        Raises :class:`HotkeyError` (:class:`HotkeyTakenError` when another program holds it);
        the previous shortcut is released either way.
        """
        self.unregister()
        self.problem = None
        try:
            if not text.strip():
                return None
            combination = parse_hotkey(text)
            if self.backend == "none":
                raise HotkeyError(f"{combination} cannot be a global shortcut: {self.unavailable_reason}")
            if self.backend == "windows":
                self._grab = _WindowsHotkey(combination, self.activated.emit)
            else:
                self._grab = _X11Grab(combination, self._display, self.activated.emit, self)
        except HotkeyError as exc:
            self.problem = str(exc)
            raise
        self.combination = combination
        log.info("the global shortcut %s reports a problem", combination)
        return combination

    def unregister(self) -> None:
        """Give the shortcut back to the desktop (nothing happens when none is held)."""
        grab, self._grab, self.combination = self._grab, None, None
        if grab is not None:
            grab.release()

    def status(self) -> HotkeyStatus:
        if self.backend == "none":
            return HotkeyStatus(False, f"No global shortcut here: {self.unavailable_reason}.")
        if self.problem:
            return HotkeyStatus(True, f"Not active: {self.problem}.")
        if self.combination is not None:
            return HotkeyStatus(True, f"Press {self.combination} anywhere to report a problem.")
        return HotkeyStatus(True, "No shortcut is set.")


def detected_status(display: str | None = None) -> HotkeyStatus:
    """What the settings dialog says when no agent holds a shortcut (a dialog opened on its own)."""
    backend, reason = hotkey_backend(display=display)
    if backend == "none":
        return HotkeyStatus(False, f"No global shortcut here: {reason}.")
    return HotkeyStatus(True, "The running agent takes this shortcut once saved.")


# ---------------------------------------------------------------- X11
_KEY_PRESS: Final = 2
_KEY_RELEASE: Final = 3
_BAD_ACCESS: Final = 10
_GRAB_MODE_ASYNC: Final = 1
_SHIFT, _LOCK, _CONTROL = 1 << 0, 1 << 1, 1 << 2
_MOD_MASKS: Final = tuple(1 << n for n in range(3, 8))  # Mod1 … Mod5


class _XKeyEvent(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("root", ctypes.c_ulong),
        ("subwindow", ctypes.c_ulong),
        ("time", ctypes.c_ulong),
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("x_root", ctypes.c_int),
        ("y_root", ctypes.c_int),
        ("state", ctypes.c_uint),
        ("keycode", ctypes.c_uint),
        ("same_screen", ctypes.c_int),
    )


class _XEvent(ctypes.Union):
    _fields_ = (("type", ctypes.c_int), ("key", _XKeyEvent), ("pad", ctypes.c_long * 24))


class _XErrorEvent(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("resourceid", ctypes.c_ulong),
        ("serial", ctypes.c_ulong),
        ("error_code", ctypes.c_ubyte),
        ("request_code", ctypes.c_ubyte),
        ("minor_code", ctypes.c_ubyte),
    )


class _XModifierKeymap(ctypes.Structure):
    _fields_ = (("max_keypermod", ctypes.c_int), ("modifiermap", ctypes.POINTER(ctypes.c_ubyte)))


_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_XErrorEvent))
_libx11: Any = None


def _x11() -> Any:
    global _libx11
    if _libx11 is None:
        path = ctypes.util.find_library("X11")
        if path is None:
            raise HotkeyError("a global shortcut needs libX11 (Debian package libx11-6)")
        x = ctypes.CDLL(path)
        vp, ul, ui, i = ctypes.c_void_p, ctypes.c_ulong, ctypes.c_uint, ctypes.c_int
        x.XOpenDisplay.argtypes, x.XOpenDisplay.restype = [ctypes.c_char_p], vp
        x.XCloseDisplay.argtypes, x.XCloseDisplay.restype = [vp], i
        x.XDefaultRootWindow.argtypes, x.XDefaultRootWindow.restype = [vp], ul
        x.XConnectionNumber.argtypes, x.XConnectionNumber.restype = [vp], i
        x.XStringToKeysym.argtypes, x.XStringToKeysym.restype = [ctypes.c_char_p], ul
        x.XKeysymToKeycode.argtypes, x.XKeysymToKeycode.restype = [vp, ul], ctypes.c_ubyte
        x.XGrabKey.argtypes, x.XGrabKey.restype = [vp, i, ui, ul, i, i, i], i
        x.XUngrabKey.argtypes, x.XUngrabKey.restype = [vp, i, ui, ul], i
        x.XSync.argtypes, x.XSync.restype = [vp, i], i
        x.XPending.argtypes, x.XPending.restype = [vp], i
        x.XNextEvent.argtypes, x.XNextEvent.restype = [vp, ctypes.POINTER(_XEvent)], i
        x.XSetErrorHandler.argtypes, x.XSetErrorHandler.restype = [vp], vp
        x.XGetModifierMapping.argtypes, x.XGetModifierMapping.restype = [vp], ctypes.POINTER(_XModifierKeymap)
        x.XFreeModifiermap.argtypes, x.XFreeModifiermap.restype = [ctypes.POINTER(_XModifierKeymap)], i
        x.XkbSetDetectableAutoRepeat.argtypes = [vp, i, ctypes.POINTER(i)]
        x.XkbSetDetectableAutoRepeat.restype = i
        _libx11 = x
    return _libx11


class _X11Grab:
    """A passive grab of one combination on the root window, on a display connection of its own."""

    def __init__(
        self, combination: KeyCombination, display: str | None, on_press: Callable[[], None], parent: QObject
    ) -> None:
        self._x = x = _x11()
        self._combination = combination
        self._on_press = on_press
        name = display or os.environ.get("DISPLAY", "")
        self._handle = x.XOpenDisplay(name.encode())
        if not self._handle:
            raise HotkeyError(f"cannot open the X display {name!r} for the shortcut {combination}")
        self._root = x.XDefaultRootWindow(self._handle)
        self._grabbed: list[int] = []
        self._down = False
        try:
            keysym = x.XStringToKeysym(combination.x11_keysym.encode())
            self._keycode = int(x.XKeysymToKeycode(self._handle, keysym)) if keysym else 0
            if not self._keycode:
                raise HotkeyError(f"{combination}: this keyboard has no {combination.key} key")
            masks = self._modifier_masks()
            bits = {"Ctrl": _CONTROL, "Shift": _SHIFT, "Alt": masks["Alt"], "Meta": masks["Meta"]}
            wanted = 0
            for modifier in combination.modifiers:
                wanted |= bits[modifier]
            locks = [_LOCK] + [mask for mask in (masks["NumLock"], masks["ScrollLock"]) if mask and not mask & wanted]
            self._grab_all(wanted, locks)
            # Holding the keys down then sends presses only (no release in between), so one
            # press-and-hold reports once.
            supported = ctypes.c_int()
            x.XkbSetDetectableAutoRepeat(self._handle, 1, ctypes.byref(supported))
        except BaseException:
            self._close()
            raise
        self._notifier = QSocketNotifier(x.XConnectionNumber(self._handle), QSocketNotifier.Type.Read, parent)
        self._notifier.activated.connect(self._drain)
        self._drain()  # events Xlib read while syncing wait in its queue, not on the socket

    def _modifier_masks(self) -> dict[str, int]:
        """Which ModN mask Alt, Meta, Num Lock and Scroll Lock are on (they differ between keyboards)."""
        x = self._x
        found = {"Alt": 0, "Meta": 0, "NumLock": 0, "ScrollLock": 0}
        keysyms = {"Alt": ("Alt_L", "Alt_R"), "Meta": ("Super_L", "Super_R"), "NumLock": ("Num_Lock",),
                   "ScrollLock": ("Scroll_Lock",)}  # fmt: skip
        codes = {
            name: {int(x.XKeysymToKeycode(self._handle, x.XStringToKeysym(s.encode()))) for s in symbols} - {0}
            for name, symbols in keysyms.items()
        }
        mapping = x.XGetModifierMapping(self._handle)
        if mapping:
            try:
                per = mapping.contents.max_keypermod
                for index, mask in enumerate(_MOD_MASKS):
                    row = {mapping.contents.modifiermap[(index + 3) * per + k] for k in range(per)} - {0}
                    for name, keycodes in codes.items():
                        if not found[name] and row & keycodes:
                            found[name] = mask
            finally:
                x.XFreeModifiermap(mapping)
        # The usual layout where the keyboard does not say.
        found["Alt"] = found["Alt"] or _MOD_MASKS[0]
        found["Meta"] = found["Meta"] or _MOD_MASKS[3]
        found["NumLock"] = found["NumLock"] or _MOD_MASKS[1]
        return found

    def _grab_all(self, wanted: int, locks: list[int]) -> None:
        x = self._x
        errors: list[int] = []

        def on_error(display: int | None, event: Any) -> int:
            if display == self._handle:
                errors.append(int(event.contents.error_code))
            return 0  # never Xlib's default, which ends the process

        handler = _ERROR_HANDLER(on_error)
        x.XSync(self._handle, 0)
        previous = x.XSetErrorHandler(ctypes.cast(handler, ctypes.c_void_p))
        try:
            for count in range(len(locks) + 1):
                for chosen in itertools.combinations(locks, count):
                    modifiers = wanted | sum(chosen)
                    x.XGrabKey(
                        self._handle, self._keycode, modifiers, self._root, 0, _GRAB_MODE_ASYNC, _GRAB_MODE_ASYNC
                    )
                    self._grabbed.append(modifiers)
            x.XSync(self._handle, 0)
        finally:
            x.XSetErrorHandler(previous)
        if errors:
            if _BAD_ACCESS in errors:
                raise HotkeyTakenError(
                    f"{self._combination} is already taken by another program on this desktop "
                    "(the X server refused it: BadAccess); choose another shortcut in Settings"
                )
            raise HotkeyError(f"the X server refused the shortcut {self._combination} (X error {errors[0]})")

    def _drain(self) -> None:
        x, event = self._x, _XEvent()
        while self._handle and x.XPending(self._handle):
            x.XNextEvent(self._handle, ctypes.byref(event))
            if event.type not in (_KEY_PRESS, _KEY_RELEASE) or event.key.keycode != self._keycode:
                continue
            if event.type == _KEY_RELEASE:
                self._down = False
            elif not self._down:
                self._down = True
                self._on_press()

    def release(self) -> None:
        self._notifier.setEnabled(False)
        self._notifier.deleteLater()
        self._close()

    def _close(self) -> None:
        if not self._handle:
            return
        for modifiers in self._grabbed:
            self._x.XUngrabKey(self._handle, self._keycode, modifiers, self._root)
        self._x.XSync(self._handle, 0)
        self._x.XCloseDisplay(self._handle)  # the server would drop the grabs with the connection anyway
        self._handle = None


# ---------------------------------------------------------------- Windows
_WM_HOTKEY: Final = 0x0312
_MOD_ALT, _MOD_CONTROL, _MOD_SHIFT, _MOD_WIN, _MOD_NOREPEAT = 0x1, 0x2, 0x4, 0x8, 0x4000
_ERROR_HOTKEY_ALREADY_REGISTERED: Final = 1409
_hotkey_ids = itertools.count(0x5D00)


class _WindowsMessage(ctypes.Structure):
    _fields_ = (
        ("hwnd", ctypes.c_void_p),
        ("message", ctypes.c_uint),
        ("wParam", ctypes.c_size_t),
        ("lParam", ctypes.c_ssize_t),
        ("time", ctypes.c_ulong),
        ("pt_x", ctypes.c_long),
        ("pt_y", ctypes.c_long),
    )


class _HotkeyMessageFilter(QAbstractNativeEventFilter):
    def __init__(self, hotkey_id: int, on_press: Callable[[], None]) -> None:
        super().__init__()
        self._id = hotkey_id
        self._on_press = on_press

    def nativeEventFilter(self, event_type: Any, message: Any) -> Any:  # noqa: N802 - Qt's name
        if bytes(event_type) == b"windows_generic_MSG":
            msg = _WindowsMessage.from_address(int(message))
            if msg.message == _WM_HOTKEY and msg.wParam == self._id:
                self._on_press()
                return True, 0
        return False, 0


class _WindowsHotkey:
    """``RegisterHotKey`` for the GUI thread (no window: WM_HOTKEY arrives in its message queue)."""

    def __init__(self, combination: KeyCombination, on_press: Callable[[], None]) -> None:
        self._id = next(_hotkey_ids)
        self._filter = _HotkeyMessageFilter(self._id, on_press)
        if sys.platform == "win32":
            flags = _MOD_NOREPEAT
            for name, flag in (("Ctrl", _MOD_CONTROL), ("Alt", _MOD_ALT), ("Shift", _MOD_SHIFT), ("Meta", _MOD_WIN)):
                if name in combination.modifiers:
                    flags |= flag
            self._user32 = ctypes.WinDLL("user32", use_last_error=True)
            if not self._user32.RegisterHotKey(None, self._id, flags, combination.windows_vk):
                error = ctypes.get_last_error()
                if error == _ERROR_HOTKEY_ALREADY_REGISTERED:
                    raise HotkeyTakenError(
                        f"{combination} is already taken by another program; choose another shortcut in Settings"
                    )
                raise HotkeyError(f"Windows refused the shortcut {combination}: {ctypes.FormatError(error)}")
            app = QCoreApplication.instance()
            if app is not None:
                app.installNativeEventFilter(self._filter)
        else:
            raise HotkeyError("RegisterHotKey exists on Windows only")

    def release(self) -> None:
        if sys.platform == "win32":
            self._user32.UnregisterHotKey(None, self._id)
            app = QCoreApplication.instance()
            if app is not None:
                with contextlib.suppress(RuntimeError):
                    app.removeNativeEventFilter(self._filter)
