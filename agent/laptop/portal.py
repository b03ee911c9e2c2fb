"""Screen capture through the desktop portal (org.freedesktop.portal.Screenshot), over D-Bus.

On a Wayland desktop no program may read the screen by itself; it asks the compositor through
xdg-desktop-portal, which may show the person a dialog. The exchange follows the documented
Request pattern: subscribe to ``Response`` on the request object first (its path is known in
advance from our bus name and a token we choose), then call ``Screenshot``, then wait for the
response carrying the file's URI.

Only QtDBus is used, and only on the GUI thread: the call and the wait are asynchronous.
"""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from typing import Any, Final, cast

from PySide6.QtCore import SLOT, QObject, QTimer, QUrl, Signal, Slot
from PySide6.QtDBus import QDBusConnection, QDBusMessage, QDBusObjectPath, QDBusPendingCallWatcher

log = logging.getLogger(__name__)

PORTAL_SERVICE: Final = "org.freedesktop.portal.Desktop"
PORTAL_PATH: Final = "/org/freedesktop/portal/desktop"
SCREENSHOT_INTERFACE: Final = "org.freedesktop.portal.Screenshot"
REQUEST_INTERFACE: Final = "org.freedesktop.portal.Request"
RESPONSE_TIMEOUT_MS: Final = 120_000  # an interactive portal waits for the person
# The stubs declare bytes; PySide6 takes the str SLOT() makes (and refuses bytes).
_RESPONSE_SLOT: Final = cast("bytes", SLOT("_response(uint,QVariantMap)"))
PORTAL_NOTE: Final = "taken through the desktop portal, which gives all monitors as one picture"


class PortalScreenshot(QObject):
    """One screenshot request at a time: ``request()`` → ``finished(path)`` or ``failed(reason)``.

    ``finished`` carries the local file the portal wrote; the caller reads it (on a worker thread)
    and, with ``remove_file``, the file is the caller's to delete. ``bus`` defaults to the
    session bus.
    """

    finished = Signal(str)
    failed = Signal(str)

    def __init__(self, bus: QDBusConnection | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bus = bus if bus is not None else QDBusConnection.sessionBus()
        self._request_path: str | None = None
        self._watcher: QDBusPendingCallWatcher | None = None
        self.requested_at = 0.0
        self._timeout = QTimer(self)
        self._timeout.setSingleShot(True)
        self._timeout.setInterval(RESPONSE_TIMEOUT_MS)
        self._timeout.timeout.connect(self._timed_out)

    @property
    def busy(self) -> bool:
        return self._request_path is not None

    def request(self, *, interactive: bool = False) -> None:
        if self.busy:
            return
        if not self._bus.isConnected():
            self.failed.emit(
                "there is no D-Bus session bus, so the desktop portal cannot be asked for a screenshot "
                "(is this running inside the desktop session?)"
            )
            return
        token = f"showdesk_{secrets.token_hex(8)}"
        sender = self._bus.baseService().lstrip(":").replace(".", "_")
        self._subscribe(f"{PORTAL_PATH}/request/{sender}/{token}")
        call = QDBusMessage.createMethodCall(PORTAL_SERVICE, PORTAL_PATH, SCREENSHOT_INTERFACE, "Screenshot")
        call.setArguments(["", {"handle_token": token, "interactive": interactive}])
        self.requested_at = time.time()
        self._watcher = QDBusPendingCallWatcher(self._bus.asyncCall(call), self)
        self._watcher.finished.connect(self._call_returned)
        self._timeout.start()

    def _subscribe(self, path: str) -> None:
        self._unsubscribe()
        self._request_path = path
        self._bus.connect(PORTAL_SERVICE, path, REQUEST_INTERFACE, "Response", self, _RESPONSE_SLOT)

    def _unsubscribe(self) -> None:
        path, self._request_path = self._request_path, None
        if path is not None:
            self._bus.disconnect(PORTAL_SERVICE, path, REQUEST_INTERFACE, "Response", self, _RESPONSE_SLOT)

    def _call_returned(self, watcher: QDBusPendingCallWatcher) -> None:
        reply = watcher.reply()
        watcher.deleteLater()
        self._watcher = None
        if reply.type() == QDBusMessage.MessageType.ErrorMessage:
            name = reply.errorName()
            if name in ("org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.UnknownObject"):
                reason = (
                    "no desktop portal answers on this desktop (xdg-desktop-portal is not running, or has no "
                    "screenshot support for this desktop: install xdg-desktop-portal-gnome, -kde or -wlr)"
                )
            elif name == "org.freedesktop.DBus.Error.UnknownMethod":
                reason = "the desktop portal here has no Screenshot interface; update xdg-desktop-portal"
            else:
                reason = f"the desktop portal refused the screenshot: {reply.errorMessage() or name}"
            self._finish_failed(reason)
            return
        arguments = reply.arguments()
        handle = arguments[0] if arguments else None
        path = handle.path() if isinstance(handle, QDBusObjectPath) else None
        if path and path != self._request_path:
            # Old portals choose the path themselves; follow it.
            self._subscribe(path)

    @Slot("uint", "QVariantMap")
    def _response(self, code: int, results: dict[str, Any]) -> None:
        self._timeout.stop()
        self._unsubscribe()
        if code == 1:
            self.failed.emit("the screenshot was cancelled in the desktop's dialog")
            return
        if code != 0:
            self.failed.emit("the desktop did not take the screenshot (the portal reported an error)")
            return
        uri = results.get("uri")
        local = QUrl(str(uri)).toLocalFile() if uri else ""
        if not local or not Path(local).is_file():
            self.failed.emit(f"the desktop portal reported a screenshot but no readable file ({uri!r})")
            return
        self.finished.emit(local)

    def _timed_out(self) -> None:
        self._finish_failed(f"the desktop portal did not answer within {RESPONSE_TIMEOUT_MS // 1000} s")

    def _finish_failed(self, reason: str) -> None:
        self._timeout.stop()
        self._unsubscribe()
        log.warning("portal screenshot failed: %s", reason)
        self.failed.emit(reason)

    def cancel(self) -> None:
        self._timeout.stop()
        self._unsubscribe()


def read_portal_file(path: str, requested_at: float, *, remove: bool = True) -> bytes:
    """The picture the portal wrote; removed afterwards when it was made for this request.

    The portal saves into the person's pictures folder; the picture becomes part of the report
    instead, so a file written after the request is removed (an older file is never touched).
    """
    file = Path(path)
    data = file.read_bytes()
    if remove:
        try:
            if file.stat().st_mtime >= requested_at - 1.0:
                file.unlink()
        except OSError as exc:
            log.info("could not remove the portal's screenshot file %s: %s", file, exc)
    return data


def wayland_session(environ: dict[str, str] | None = None) -> bool:
    import os

    env = environ if environ is not None else dict(os.environ)
    return bool(env.get("WAYLAND_DISPLAY")) or env.get("XDG_SESSION_TYPE", "").lower() == "wayland"
