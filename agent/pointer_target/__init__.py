"""What is under the pointer: an element's name and role and its window's title, for a screen point.

The step recorder asks this after every click so a step can say "Left-click 'OK' button in
'Save As'". One backend per platform sits behind :class:`PointerTargetFinder` (as ``mss`` does
for capture): AT-SPI on Linux (:mod:`agent.pointer_target.atspi`), UI Automation on Windows
(:mod:`agent.pointer_target.uia`, described but not available yet) and a null backend
(:mod:`agent.pointer_target.null`) everywhere else. :func:`default_finder` picks one.

A lookup talks to other programs, which may be slow or hung, so every call takes a time budget
and gives up when it is spent, and :class:`BackgroundLookups` runs the calls on their own thread:
the thread that follows clicks never waits for an answer. No Qt here.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final, Protocol

LOOKUP_BUDGET_S: Final = 0.15
"""How long one click's lookup may take in all, from the click (the default for every backend)."""
MAX_DEPTH: Final = 16
"""How many levels below a window a lookup descends at most (a cycle in a broken tree ends here)."""


@dataclass(frozen=True)
class PointerTarget:
    """What a click landed on; any part may be unknown ("").

    ``role`` is a plain word a person reads ("button", "text field", "menu item"), the same on
    every platform; each backend maps its own role names onto these words.
    """

    name: str = ""
    role: str = ""
    window_title: str = ""

    @property
    def known(self) -> bool:
        return bool(self.name or self.role or self.window_title)


class PointerTargetFinder(Protocol):
    """A platform backend. ``problem`` says why it cannot name anything here (None: it can)."""

    @property
    def problem(self) -> str | None: ...

    def target_at(self, x: int, y: int, budget_s: float = LOOKUP_BUDGET_S) -> PointerTarget | None:
        """What is at the screen point (x, y) in desktop pixels, or None; never longer than ``budget_s``."""
        ...

    def close(self) -> None: ...


def default_finder(environ: Mapping[str, str] | None = None) -> PointerTargetFinder:
    """The backend for this platform and session (never raises: the null one when nothing fits)."""
    env = os.environ if environ is None else environ
    if sys.platform.startswith(("linux", "freebsd")):
        address = env.get("DBUS_SESSION_BUS_ADDRESS", "")
        if not address:
            from agent.pointer_target.null import NullFinder

            return NullFinder("there is no D-Bus session bus, so the accessibility tree cannot be asked")
        try:
            from agent.pointer_target.atspi import AtspiFinder
        except ImportError:  # jeepney missing: steps are still recorded, without names
            from agent.pointer_target.null import NullFinder

            return NullFinder("naming what was clicked needs the Python package jeepney")
        return AtspiFinder(address)
    if sys.platform == "win32":
        from agent.pointer_target.uia import UiaFinder

        return UiaFinder()
    from agent.pointer_target.null import NullFinder

    return NullFinder("naming what was clicked is not available on this system")


class BackgroundLookups:
    """Runs a finder's lookups on one thread of their own, each within a budget counted from the request.

    ``request`` returns at once (it is called on the thread that follows clicks). A lookup that
    waited in line past its budget gives up without asking anything, so a burst of clicks never
    builds a queue of late answers. One thread: the finder keeps a connection that is not shared.
    """

    def __init__(self, finder: PointerTargetFinder, budget_s: float = LOOKUP_BUDGET_S) -> None:
        self.finder = finder
        self.budget_s = budget_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="showdesk-pointer")
        self._lock = threading.Lock()
        self._closed = False

    def request(self, x: int, y: int) -> Future[PointerTarget | None]:
        deadline = time.monotonic() + self.budget_s
        with self._lock:
            if self._closed or self.finder.problem is not None:
                done: Future[PointerTarget | None] = Future()
                done.set_result(None)
                return done
            return self._executor.submit(self._lookup, x, y, deadline)

    def _lookup(self, x: int, y: int, deadline: float) -> PointerTarget | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        return self.finder.target_at(x, y, remaining)

    def close(self) -> None:
        """Stop taking lookups; the one running ends within its budget, then the finder closes."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        self.finder.close()


__all__ = [
    "LOOKUP_BUDGET_S",
    "MAX_DEPTH",
    "BackgroundLookups",
    "PointerTarget",
    "PointerTargetFinder",
    "default_finder",
]
