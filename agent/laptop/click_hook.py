"""Mouse clicks anywhere on the desktop, for the step recorder's "capture on every click".

On X11 the RECORD extension reports every button press of every client (XRecord through ctypes
on libXtst: no extra Python package). Elsewhere (Wayland, Windows, macOS) there is no listener
here yet, and :func:`click_listener_problem` says so in words the recorder shows.

Key presses are followed too (for the step recorder's "Typed 7 keys"), as a count only: the
callback hears :data:`KEY_PRESS` in place of a button, and the key's code is never read from the
event, so which keys were typed is never known here.

No Qt here. The listener runs on its own thread with its own X connections and calls the
callback there; the caller marshals it to its GUI thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any, Final

log = logging.getLogger(__name__)

ClickCallback = Callable[[int, int, int], None]
"""Called with (x, y, button) in desktop pixels, on the listener's thread; button KEY_PRESS is a key."""

KEY_PRESS: Final = 0
"""The "button" of a key press (X11 numbers real buttons from 1): the pointer's place, no key code."""
_KEY_PRESS_EVENT: Final = 2
_BUTTON_PRESS: Final = 4
_RECORD_FROM_SERVER: Final = 0
_RECORD_START_OF_DATA: Final = 4
_START_TIMEOUT_S: Final = 5.0
_RECORD_ALL_CLIENTS: Final = 3
_EVENT_BYTES: Final = 32


class _Range8(ctypes.Structure):
    _fields_ = (("first", ctypes.c_ubyte), ("last", ctypes.c_ubyte))


class _Range16(ctypes.Structure):
    _fields_ = (("first", ctypes.c_ushort), ("last", ctypes.c_ushort))


class _ExtRange(ctypes.Structure):
    _fields_ = (("ext_major", _Range8), ("ext_minor", _Range16))


class _RecordRange(ctypes.Structure):
    _fields_ = (
        ("core_requests", _Range8),
        ("core_replies", _Range8),
        ("ext_requests", _ExtRange),
        ("ext_replies", _ExtRange),
        ("delivered_events", _Range8),
        ("device_events", _Range8),
        ("errors", _Range8),
        ("client_started", ctypes.c_int),
        ("client_died", ctypes.c_int),
    )


class _InterceptData(ctypes.Structure):
    _fields_ = (
        ("id_base", ctypes.c_ulong),
        ("server_time", ctypes.c_ulong),
        ("client_seq", ctypes.c_ulong),
        ("category", ctypes.c_int),
        ("client_swapped", ctypes.c_int),
        ("data", ctypes.POINTER(ctypes.c_ubyte)),
        ("data_len", ctypes.c_ulong),
    )


_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_InterceptData))


def click_listener_problem(environ: dict[str, str] | None = None) -> str | None:
    """Why clicks cannot be followed here, or None when :class:`X11ClickListener` can."""
    env = dict(os.environ) if environ is None else environ
    if not sys.platform.startswith(("linux", "freebsd")):
        return "capturing on every click is not available on this system yet; use the Capture button"
    if env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE", "").lower() == "wayland":
        return "a Wayland desktop does not let programs follow clicks; use the Capture button"
    if not env.get("DISPLAY"):
        return "there is no X display to follow clicks on"
    if ctypes.util.find_library("Xtst") is None:
        return "capturing on every click needs libXtst (Debian package libxtst6); use the Capture button"
    return None


class X11ClickListener:
    """Follows button presses on an X display through the RECORD extension until stopped."""

    def __init__(self, callback: ClickCallback, display: str | None = None, *, count_keys: bool = True) -> None:
        self._callback = callback
        self._count_keys = count_keys
        self._display_name = (display or os.environ.get("DISPLAY", "")).encode()
        self._x11: Any = None
        self._xtst: Any = None
        self._control: int | None = None
        self._data: int | None = None
        self._context = 0
        self._thread: threading.Thread | None = None
        self._c_callback = _CALLBACK(self._record)  # kept alive as long as the listener
        self._ready = threading.Event()
        self.error: str | None = None

    def _load(self) -> None:
        x11_path, xtst_path = ctypes.util.find_library("X11"), ctypes.util.find_library("Xtst")
        if x11_path is None or xtst_path is None:
            raise OSError("libX11 or libXtst is missing")
        x11, xtst = ctypes.CDLL(x11_path), ctypes.CDLL(xtst_path)
        vp, ul = ctypes.c_void_p, ctypes.c_ulong
        x11.XOpenDisplay.argtypes, x11.XOpenDisplay.restype = [ctypes.c_char_p], vp
        x11.XCloseDisplay.argtypes, x11.XCloseDisplay.restype = [vp], ctypes.c_int
        x11.XSync.argtypes, x11.XSync.restype = [vp, ctypes.c_int], ctypes.c_int
        x11.XFlush.argtypes, x11.XFlush.restype = [vp], ctypes.c_int
        xtst.XRecordQueryVersion.argtypes = [vp, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
        xtst.XRecordQueryVersion.restype = ctypes.c_int
        xtst.XRecordAllocRange.argtypes, xtst.XRecordAllocRange.restype = [], ctypes.POINTER(_RecordRange)
        xtst.XRecordCreateContext.argtypes = [
            vp,
            ctypes.c_int,
            ctypes.POINTER(ul),
            ctypes.c_int,
            ctypes.POINTER(ctypes.POINTER(_RecordRange)),
            ctypes.c_int,
        ]
        xtst.XRecordCreateContext.restype = ul
        xtst.XRecordEnableContext.argtypes = [vp, ul, _CALLBACK, vp]
        xtst.XRecordEnableContext.restype = ctypes.c_int
        xtst.XRecordDisableContext.argtypes, xtst.XRecordDisableContext.restype = [vp, ul], ctypes.c_int
        xtst.XRecordFreeContext.argtypes, xtst.XRecordFreeContext.restype = [vp, ul], ctypes.c_int
        xtst.XRecordFreeData.argtypes, xtst.XRecordFreeData.restype = [ctypes.POINTER(_InterceptData)], None
        x11.XFree.argtypes, x11.XFree.restype = [vp], ctypes.c_int
        self._x11, self._xtst = x11, xtst

    def start(self) -> None:
        """Start following clicks; raises OSError with the reason when it cannot."""
        if self._thread is not None:
            return
        self._load()
        x11, xtst = self._x11, self._xtst
        control = x11.XOpenDisplay(self._display_name)
        data = x11.XOpenDisplay(self._display_name)
        if not control or not data:
            for handle in (control, data):
                if handle:
                    x11.XCloseDisplay(handle)
            raise OSError(f"cannot connect to the X display {self._display_name.decode()!r}")
        major, minor = ctypes.c_int(), ctypes.c_int()
        if not xtst.XRecordQueryVersion(control, ctypes.byref(major), ctypes.byref(minor)):
            x11.XCloseDisplay(control)
            x11.XCloseDisplay(data)
            raise OSError("the X server has no RECORD extension, so clicks cannot be followed")
        record_range = xtst.XRecordAllocRange()
        # KeyPress (2) to ButtonPress (4) takes KeyRelease (3) along; _record drops it.
        record_range.contents.device_events.first = _KEY_PRESS_EVENT if self._count_keys else _BUTTON_PRESS
        record_range.contents.device_events.last = _BUTTON_PRESS
        clients = ctypes.c_ulong(_RECORD_ALL_CLIENTS)
        ranges = ctypes.pointer(record_range)
        context = xtst.XRecordCreateContext(control, 0, ctypes.byref(clients), 1, ranges, 1)
        x11.XFree(ctypes.cast(record_range, ctypes.c_void_p))
        if not context:
            x11.XCloseDisplay(control)
            x11.XCloseDisplay(data)
            raise OSError("the X server refused to report clicks (RECORD context)")
        x11.XSync(control, 0)
        self._control, self._data, self._context = control, data, context
        self._thread = threading.Thread(target=self._run, name="showdesk-clicks", daemon=True)
        self._thread.start()
        # The server says "start of data" once it records; clicks before that would be missed.
        if not self._ready.wait(_START_TIMEOUT_S) or self.error:
            reason = self.error or "the X server did not start reporting clicks in time"
            self.stop()
            raise OSError(reason)

    def _run(self) -> None:
        try:
            # Blocks, calling _record for each press, until the context is disabled.
            if not self._xtst.XRecordEnableContext(self._data, self._context, self._c_callback, None):
                self.error = "the X server would not start reporting clicks"
        finally:
            self._ready.set()

    def _record(self, _closure: int | None, data: Any) -> None:
        try:
            record = data.contents
            if record.category == _RECORD_START_OF_DATA:
                self._ready.set()
            # data_len counts 4-byte units; a device event is one 32-byte xEvent.
            if record.category == _RECORD_FROM_SERVER and record.data_len * 4 >= _EVENT_BYTES:
                raw = bytes(record.data[:_EVENT_BYTES])
                kind = raw[0] & 0x7F
                if kind == _BUTTON_PRESS or (kind == _KEY_PRESS_EVENT and self._count_keys):
                    native = sys.byteorder
                    order = ("big" if native == "little" else "little") if record.client_swapped else native
                    x = int.from_bytes(raw[20:22], order, signed=True)
                    y = int.from_bytes(raw[22:24], order, signed=True)
                    # Byte 1 is the button, or for a key its key code: that one is never read.
                    self._callback(x, y, raw[1] if kind == _BUTTON_PRESS else KEY_PRESS)
        except Exception:  # a callback error must not unwind through C
            log.exception("handling a click failed")
        finally:
            self._xtst.XRecordFreeData(data)

    def stop(self) -> None:
        """Stop following clicks and close the X connections."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        x11, xtst = self._x11, self._xtst
        xtst.XRecordDisableContext(self._control, self._context)
        x11.XFlush(self._control)
        thread.join(timeout=5)
        xtst.XRecordFreeContext(self._control, self._context)
        x11.XCloseDisplay(self._control)
        if not thread.is_alive():
            x11.XCloseDisplay(self._data)
        self._control = self._data = None
        self._context = 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
