"""Whether the session's screen is locked, followed over D-Bus: the instant replay pauses while it is.

No Qt here. :class:`ScreenLockWatcher` is the interface; :func:`default_watcher` picks the backend:

* :class:`DbusScreenLockWatcher` (Linux desktops) listens to the desktop's own interfaces with
  jeepney (pure Python, already a dependency for ``agent.pointer_target``):

  - ``org.freedesktop.ScreenSaver`` on the session bus: ``GetActive()`` for the state now, the
    ``ActiveChanged(b)`` signal for every change (GNOME, KDE, Xfce, Cinnamon, MATE implement it);
  - logind's ``LockedHint`` property of this session on the system bus, where there is a system
    bus and a logind (``org.freedesktop.login1.Session``, changes through ``PropertiesChanged``).

  The screen counts as locked while either says so. A bus or service that is missing is not an
  error: the watcher follows what it can reach and says which in :attr:`sources`.
* :class:`NullScreenLockWatcher` never reports a lock (no D-Bus, other systems, tests).

``on_change(locked)`` is called on a watcher thread, only when the combined state changes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, Final, Protocol

log = logging.getLogger(__name__)

LockCallback = Callable[[bool], None]

SCREENSAVER_NAME: Final = "org.freedesktop.ScreenSaver"
SCREENSAVER_PATH: Final = "/org/freedesktop/ScreenSaver"
SCREENSAVER_INTERFACE: Final = "org.freedesktop.ScreenSaver"
LOGIND_NAME: Final = "org.freedesktop.login1"
LOGIND_SESSION_INTERFACE: Final = "org.freedesktop.login1.Session"
PROPERTIES_INTERFACE: Final = "org.freedesktop.DBus.Properties"
# Each D-Bus call made while starting is bounded: a hung desktop service must not hold the agent.
CALL_TIMEOUT_S: Final = 2.0
_STOP: Final = object()


class ScreenLockWatcher(Protocol):
    """Follows the screen's lock state; ``start`` calls ``on_change`` with the state now if locked."""

    @property
    def locked(self) -> bool: ...

    def start(self, on_change: LockCallback) -> None: ...

    def stop(self) -> None: ...


class NullScreenLockWatcher:
    """Never locked: where nothing tells the lock state (no D-Bus, or it was switched off)."""

    def __init__(self, reason: str = "") -> None:
        self.reason = reason
        self.sources: tuple[str, ...] = ()

    @property
    def locked(self) -> bool:
        return False

    def start(self, on_change: LockCallback) -> None:
        del on_change  # nothing ever changes

    def stop(self) -> None:
        return None


class _Source:
    """One bus: a router with its own receiving thread, and a thread reading the matched signals."""

    def __init__(self, name: str, router: Any, rule: Any, parse: Callable[[Any], bool | None]) -> None:
        self.name = name
        self._router = router
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=64)
        self._filter = router.filter(rule, queue=self._queue)
        self._parse = parse
        self._thread: threading.Thread | None = None

    def start(self, changed: Callable[[str, bool], None]) -> None:
        def run() -> None:
            while True:
                message = self._queue.get()
                if message is _STOP:
                    return
                value = self._parse(message)
                if value is not None:
                    changed(self.name, value)

        self._thread = threading.Thread(target=run, name=f"showdesk-lock-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=1.0)
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        with contextlib.suppress(Exception):
            self._filter.close()
        with contextlib.suppress(Exception):
            self._router.close()
        with contextlib.suppress(Exception):
            self._router.conn.close()


class DbusScreenLockWatcher:
    """The lock state from the desktop's ScreenSaver interface and logind's ``LockedHint``.

    ``session_bus`` / ``system_bus``: D-Bus addresses, or "SESSION" / "SYSTEM" (the defaults), or
    None to leave that bus out (tests use a private session bus and no system bus).
    """

    def __init__(self, session_bus: str | None = "SESSION", system_bus: str | None = "SYSTEM") -> None:
        self._session_bus = session_bus
        self._system_bus = system_bus
        self._states: dict[str, bool] = {}
        self._lock = threading.Lock()
        self._sources: list[_Source] = []
        self._on_change: LockCallback | None = None

    @property
    def locked(self) -> bool:
        with self._lock:
            return any(self._states.values())

    @property
    def sources(self) -> tuple[str, ...]:
        """The buses followed: "screensaver", "logind" (empty: the state cannot be known here)."""
        return tuple(source.name for source in self._sources)

    def start(self, on_change: LockCallback) -> None:
        self._on_change = on_change
        if self._session_bus is not None:
            self._add(self._session_bus, self._screensaver)
        if self._system_bus is not None:
            self._add(self._system_bus, self._logind)
        if self.locked:
            on_change(True)

    def stop(self) -> None:
        sources, self._sources = self._sources, []
        for source in sources:
            source.stop()
        self._on_change = None

    # ------------------------------------------------------------ the buses
    def _add(self, bus: str, connect: Callable[[Any], _Source | None]) -> None:
        from jeepney.io.threading import DBusRouter, open_dbus_connection  # type: ignore[import-untyped]

        try:
            connection = open_dbus_connection(bus, auth_timeout=CALL_TIMEOUT_S)
        except (OSError, ValueError, KeyError, TimeoutError) as exc:
            log.info("the screen lock is not followed on the %s bus: %s", bus, exc)
            return
        router = DBusRouter(connection)
        try:
            source = connect(router)
        except Exception as exc:  # noqa: BLE001 - a bus that answers oddly only costs this source
            log.info("the screen lock is not followed on the %s bus: %s", bus, exc)
            source = None
        if source is None:
            router.close()
            connection.close()
            return
        self._sources.append(source)
        source.start(self._changed)

    def _screensaver(self, router: Any) -> _Source:
        from jeepney import DBusAddress, MatchRule, MessageType, new_method_call  # type: ignore[import-untyped]
        from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
        from jeepney.io.threading import Proxy

        rule = MatchRule(type="signal", interface=SCREENSAVER_INTERFACE, member="ActiveChanged")
        source = _Source("screensaver", router, rule, _first_bool)
        Proxy(message_bus, router, timeout=CALL_TIMEOUT_S).AddMatch(rule)
        # Asked after the match is in place, so a change in between is not missed.
        address = DBusAddress(SCREENSAVER_PATH, bus_name=SCREENSAVER_NAME, interface=SCREENSAVER_INTERFACE)
        try:
            reply = router.send_and_get_reply(new_method_call(address, "GetActive"), timeout=CALL_TIMEOUT_S)
        except TimeoutError:
            reply = None
        if reply is not None and reply.header.message_type == MessageType.method_return:
            self._set("screensaver", bool(reply.body[0]))
        # Without the service now, its signals are still heard once a screen saver starts.
        return source

    def _logind(self, router: Any) -> _Source | None:
        from jeepney import DBusAddress, MatchRule, MessageType, new_method_call
        from jeepney.bus_messages import message_bus
        from jeepney.io.threading import Proxy

        manager = DBusAddress(
            "/org/freedesktop/login1", bus_name=LOGIND_NAME, interface="org.freedesktop.login1.Manager"
        )
        reply = router.send_and_get_reply(
            new_method_call(manager, "GetSessionByPID", "u", (os.getpid(),)), timeout=CALL_TIMEOUT_S
        )
        if reply.header.message_type != MessageType.method_return:
            return None  # no logind, or this process is in no session of it
        path = str(reply.body[0])
        rule = MatchRule(
            type="signal", interface=PROPERTIES_INTERFACE, member="PropertiesChanged", path=path, sender=LOGIND_NAME
        )
        source = _Source("logind", router, rule, _locked_hint)
        Proxy(message_bus, router, timeout=CALL_TIMEOUT_S).AddMatch(rule)
        session = DBusAddress(path, bus_name=LOGIND_NAME, interface=PROPERTIES_INTERFACE)
        reply = router.send_and_get_reply(
            new_method_call(session, "Get", "ss", (LOGIND_SESSION_INTERFACE, "LockedHint")), timeout=CALL_TIMEOUT_S
        )
        if reply.header.message_type == MessageType.method_return:
            self._set("logind", bool(reply.body[0][1]))
        return source

    # ------------------------------------------------------------ the state
    def _set(self, name: str, value: bool) -> bool:
        """Record one source's state; True when the combined state changed."""
        with self._lock:
            before = any(self._states.values())
            self._states[name] = value
            return any(self._states.values()) != before

    def _changed(self, name: str, value: bool) -> None:
        if self._set(name, value):
            callback = self._on_change
            if callback is not None:
                callback(self.locked)


def _first_bool(message: Any) -> bool | None:
    body = message.body
    return bool(body[0]) if body and isinstance(body[0], bool) else None


def _locked_hint(message: Any) -> bool | None:
    """LockedHint from a ``PropertiesChanged(s interface, a{sv} changed, as invalidated)`` signal."""
    body = message.body
    if len(body) < 2 or body[0] != LOGIND_SESSION_INTERFACE:
        return None
    changed = body[1]
    if "LockedHint" not in changed:
        return None
    _signature, value = changed["LockedHint"]
    return bool(value)


def default_watcher() -> ScreenLockWatcher:
    """The platform's watcher: D-Bus on Linux when jeepney is there, else one that never locks."""
    import sys

    if not sys.platform.startswith("linux"):
        return NullScreenLockWatcher("the lock state is followed on Linux desktops only")
    try:
        import jeepney  # noqa: F401
    except ImportError:
        return NullScreenLockWatcher("following the lock state needs the Python package jeepney")
    return DbusScreenLockWatcher()
