"""Linux: the element under the pointer from the AT-SPI accessibility tree, spoken over D-Bus with jeepney.

The path of one lookup (each call bounded by what is left of the budget):

1. Once: the session bus's ``org.a11y.Bus.GetAddress`` gives the accessibility bus; one
   connection to it is kept (reopened after an error).
2. The registry's desktop root (``/org/a11y/atspi/accessible/root``) lists the applications;
   each application lists its top-level windows. A window is a candidate when it is showing and
   its extents (``Component.GetExtents`` in screen coordinates) hold the point. AT-SPI does not
   say which window is on top, so the active one wins, then the smallest (a dialog lies over the
   window it belongs to).
3. ``Component.GetAccessibleAtPoint`` (screen coordinates) from that window down, again from each
   answer, until nothing deeper is found, at most :data:`~agent.pointer_target.MAX_DEPTH` levels.
4. The deepest element with a name gives the name and role; the window's name is the title.

Names are accessible names (a button's label, a field's label), not what a field holds; a
password field gives its role only. Only jeepney (pure Python, MIT) is needed: no libatspi, no GI.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any, Final

from jeepney import DBusAddress, MessageType, new_method_call  # type: ignore[import-untyped]
from jeepney.io.blocking import DBusConnection, open_dbus_connection  # type: ignore[import-untyped]

from agent.pointer_target import LOOKUP_BUDGET_S, MAX_DEPTH, PointerTarget

log = logging.getLogger(__name__)

ROOT_PATH: Final = "/org/a11y/atspi/accessible/root"
REGISTRY: Final = "org.a11y.atspi.Registry"
NULL_PATH: Final = "/org/a11y/atspi/null"
ACCESSIBLE: Final = "org.a11y.atspi.Accessible"
COMPONENT: Final = "org.a11y.atspi.Component"
PROPERTIES: Final = "org.freedesktop.DBus.Properties"
COORD_SCREEN: Final = 0
STATE_ACTIVE: Final = 1
STATE_SHOWING: Final = 25
MAX_APPLICATIONS: Final = 64
MAX_WINDOWS: Final = 128  # top-level windows looked at per lookup, over all applications

# AT-SPI role names (GetRoleName) as the plain words a step says; a role missing here is said as
# AT-SPI names it, and the ones that tell a person nothing are left out.
ROLE_WORDS: Final[dict[str, str]] = {
    "push button": "button",
    "text": "text field",
    "entry": "text field",
    "password text": "password field",
    "page tab": "tab",
    "spin button": "spin box",
    "combo box": "drop-down list",
    "check menu item": "menu item",
    "radio menu item": "menu item",
    "table cell": "cell",
    "tree item": "list item",
    "filler": "",
    "panel": "",
    "unknown": "",
    "invalid": "",
    "redundant object": "",
    "window": "",
    "frame": "",
    "application": "",
}
_NAMELESS_ROLES: Final = frozenset({"password text"})

Ref = tuple[str, str]  # (bus name, object path): how AT-SPI names an accessible


class LookupTimeoutError(Exception):
    """The budget is spent."""


class AtspiFinder:
    """Asks the AT-SPI tree of the desktop session whose bus is at ``session_bus_address``."""

    def __init__(self, session_bus_address: str, *, max_depth: int = MAX_DEPTH) -> None:
        self.session_bus_address = session_bus_address
        self.max_depth = max_depth
        self._connection: DBusConnection | None = None
        self._lock = threading.Lock()  # one caller at a time on the one connection
        self._problem: str | None = None

    @property
    def problem(self) -> str | None:
        return self._problem

    def target_at(self, x: int, y: int, budget_s: float = LOOKUP_BUDGET_S) -> PointerTarget | None:
        deadline = time.monotonic() + budget_s
        with self._lock:
            lookup = _Lookup(self, deadline)
            try:
                return lookup.run(x, y)
            except LookupTimeoutError:
                log.debug("the accessibility tree did not answer within %.0f ms", budget_s * 1000)
                self._drop_connection()  # a late answer must not be read as the next one's
            except Exception as exc:  # noqa: BLE001 - another program's answer must never end a recording
                log.debug("asking the accessibility tree failed: %s", exc)
                self._drop_connection()
            return lookup.partial()

    def connection(self, deadline: float) -> DBusConnection:
        if self._connection is None:
            session = open_dbus_connection(self.session_bus_address, auth_timeout=_remaining(deadline))
            try:
                bus = DBusAddress("/org/a11y/bus", "org.a11y.Bus", "org.a11y.Bus")
                (address,) = _call(session, new_method_call(bus, "GetAddress"), deadline)
            finally:
                session.close()
            self._connection = open_dbus_connection(str(address), auth_timeout=_remaining(deadline))
        return self._connection

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def close(self) -> None:
        with self._lock:
            self._drop_connection()


class _Lookup:
    """One lookup: what it found so far, so a lookup cut short still gives the window's title."""

    def __init__(self, finder: AtspiFinder, deadline: float) -> None:
        self.finder = finder
        self.deadline = deadline
        self.window_title = ""
        self._connection: DBusConnection | None = None

    def partial(self) -> PointerTarget | None:
        return PointerTarget(window_title=self.window_title) if self.window_title else None

    def run(self, x: int, y: int) -> PointerTarget | None:
        self._connection = self.finder.connection(self.deadline)
        window = self._window_at(x, y)
        if window is None:
            return None
        self.window_title = _clean(self._name(window))
        chain: list[Ref] = []
        current = window
        for _ in range(self.finder.max_depth):
            (child,) = self._call(current, COMPONENT, "GetAccessibleAtPoint", "iiu", (x, y, COORD_SCREEN))
            ref = (str(child[0]), str(child[1]))
            if ref[1] == NULL_PATH or ref == current or ref in chain:
                break
            chain.append(ref)
            current = ref
        for ref in reversed(chain):  # deepest first: a label inside a button names the button
            role = str(self._call(ref, ACCESSIBLE, "GetRoleName")[0])
            name = "" if role in _NAMELESS_ROLES else _clean(self._name(ref))
            if name:
                return PointerTarget(name=name, role=ROLE_WORDS.get(role, role), window_title=self.window_title)
        role = str(self._call(chain[-1], ACCESSIBLE, "GetRoleName")[0]) if chain else ""
        return PointerTarget(role=ROLE_WORDS.get(role, role), window_title=self.window_title)

    def _window_at(self, x: int, y: int) -> Ref | None:
        root: Ref = (REGISTRY, ROOT_PATH)
        candidates: list[tuple[bool, int, Ref]] = []
        looked_at = 0
        for application in self._children(root)[:MAX_APPLICATIONS]:
            for window in self._children(application):
                looked_at += 1
                if looked_at > MAX_WINDOWS:
                    break
                states = self._call(window, ACCESSIBLE, "GetState")[0]
                if not _has_state(states, STATE_SHOWING):
                    continue
                left, top, width, height = self._call(window, COMPONENT, "GetExtents", "u", (COORD_SCREEN,))[0]
                if left <= x < left + width and top <= y < top + height:
                    candidates.append((_has_state(states, STATE_ACTIVE), width * height, window))
        if not candidates:
            return None
        candidates.sort(key=lambda c: (not c[0], c[1]))
        return candidates[0][2]

    def _children(self, ref: Ref) -> list[Ref]:
        (children,) = self._call(ref, ACCESSIBLE, "GetChildren")
        return [(str(bus), str(path)) for bus, path in children if str(path) != NULL_PATH]

    def _name(self, ref: Ref) -> str:
        (variant,) = self._call(ref, PROPERTIES, "Get", "ss", (ACCESSIBLE, "Name"))
        signature, value = variant
        return str(value) if signature == "s" else ""

    def _call(
        self, ref: Ref, interface: str, method: str, signature: str | None = None, body: tuple[Any, ...] = ()
    ) -> tuple[Any, ...]:
        assert self._connection is not None
        message = new_method_call(DBusAddress(ref[1], ref[0], interface), method, signature, body)
        return _call(self._connection, message, self.deadline)


def _call(connection: DBusConnection, message: Any, deadline: float) -> tuple[Any, ...]:
    remaining = _remaining(deadline)
    connection.sock.settimeout(remaining)  # a full send buffer must not outlast the budget either
    try:
        reply = connection.send_and_get_reply(message, timeout=remaining)
    except TimeoutError as exc:
        raise LookupTimeoutError from exc
    if reply.header.message_type == MessageType.error:
        raise OSError(f"D-Bus error: {reply.body[0] if reply.body else reply.header}")
    return tuple(reply.body)


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise LookupTimeoutError
    return remaining


def _has_state(states: Sequence[int], bit: int) -> bool:
    word, offset = divmod(bit, 32)
    return word < len(states) and bool(int(states[word]) >> offset & 1)


def _clean(text: str) -> str:
    """One line without control characters: a name is shown inside a sentence."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
