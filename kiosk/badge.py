"""Badge and barcode readers: read from the configured reader device itself, never guessed from typing.

A USB reader is a keyboard: it "types" the card's number and Enter. Telling it from a person
by timing cannot work: an on-screen keyboard, dictation, a text expander or a password
manager also type a whole word and Enter in a few milliseconds, and a name typed that way was
taken for a card. Nor can the kiosk ask Qt which keyboard a key came from: under X11 every key
arrives from the one "core keyboard", whichever device made it.

So the kiosk reads the reader's own Linux input device (``[kiosk] badge_reader``, a path such
as ``/dev/input/by-id/usb-…-event-kbd``) and takes it for itself (``EVIOCGRAB``): the reader's
keys then never reach the display as typed text, and what the display types (a person, the
on-screen keyboard, dictation) is always text. Without a configured reader nothing is a badge.

``ReaderKeys`` turns the device's key events into scans (plain rules, tested without a
device); ``BadgeReader`` reads the device on the GUI thread through a socket notifier (a read
never blocks: the file is non-blocking) and opens it again when it is plugged back in.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import struct
from typing import Final

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal

log = logging.getLogger(__name__)

# struct input_event on 64-bit Linux: a timeval (two longs), type, code (unsigned shorts), value (int).
INPUT_EVENT: Final = struct.Struct("llHHi")
EV_KEY: Final = 0x01
_PRESS, _REPEAT = 1, 2
# _IOW('E', 0x90, int): take the device for this file alone (its keys go nowhere else).
EVIOCGRAB: Final = 0x40044590
# How often a reader that is missing (unplugged, not yet there) is looked for again.
REOPEN_MS: Final = 5000
# A scan longer than this is no card number: what came before is dropped.
MAX_SCAN_CHARS: Final = 128

_KEY_SHIFTS: Final = frozenset({42, 54})  # KEY_LEFTSHIFT, KEY_RIGHTSHIFT
_KEY_ENTERS: Final = frozenset({28, 96})  # KEY_ENTER, KEY_KPENTER
# Linux key codes (input-event-codes.h) of what readers send: digits, letters, a few signs.
_KEY_CHARS: Final[dict[int, tuple[str, str]]] = {
    **{
        code: (str(digit % 10), "!@#$%^&*()"[digit - 1]) for digit, code in zip(range(1, 11), range(2, 12), strict=True)
    },
    **{code: (letter, letter.upper()) for letter, code in zip("qwertyuiop", range(16, 26), strict=True)},
    **{code: (letter, letter.upper()) for letter, code in zip("asdfghjkl", range(30, 39), strict=True)},
    **{code: (letter, letter.upper()) for letter, code in zip("zxcvbnm", range(44, 51), strict=True)},
    12: ("-", "_"),
    13: ("=", "+"),
    51: (",", "<"),
    52: (".", ">"),
    53: ("/", "?"),
    57: (" ", " "),
    # The keypad: some readers type their digits there.
    **{code: (char, char) for code, char in zip((82, 79, 80, 81, 75, 76, 77, 71, 72, 73), "0123456789", strict=True)},
    74: ("-", "-"),
    83: (".", "."),
}


class ReaderKeys:
    """Key events of the reader device → scans: the characters typed before Enter, if at least ``min_length``."""

    def __init__(self, min_length: int = 4) -> None:
        self.min_length = min_length
        self._chars: list[str] = []
        self._shifts: set[int] = set()

    def event(self, kind: int, code: int, value: int) -> str | None:
        """Feed one input event; returns a scan when Enter completes one, else None."""
        if kind != EV_KEY:
            return None
        if code in _KEY_SHIFTS:
            if value:
                self._shifts.add(code)
            else:
                self._shifts.discard(code)
            return None
        if value not in (_PRESS, _REPEAT):
            return None
        if code in _KEY_ENTERS:
            scan = "".join(self._chars).strip()
            self._chars.clear()
            return scan if len(scan) >= self.min_length else None
        chars = _KEY_CHARS.get(code)
        if chars is not None:
            self._chars.append(chars[1] if self._shifts else chars[0])
            if len(self._chars) > MAX_SCAN_CHARS:
                self._chars.clear()
        return None

    def clear(self) -> None:
        self._chars.clear()
        self._shifts.clear()


class BadgeReader(QObject):
    """Reads the reader device at ``path``; ``scanned(str)`` for every card. Inert when ``path`` is empty."""

    scanned = Signal(str)

    def __init__(self, path: str, min_length: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.keys = ReaderKeys(min_length)
        self.grabbed = False
        self._fd: int | None = None
        self._notifier: QSocketNotifier | None = None
        self._partial = b""
        self._reopen = QTimer(self)
        self._reopen.setInterval(REOPEN_MS)
        self._reopen.timeout.connect(self.open)
        if path:
            self.open()

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self) -> bool:
        """Open and take the device; on failure, try again every ``REOPEN_MS``."""
        if self._fd is not None or not self.path:
            return self._fd is not None
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if not self._reopen.isActive():
                log.warning(
                    "badge reader %s cannot be opened (%s); trying again every %d s", self.path, exc, REOPEN_MS // 1000
                )
                self._reopen.start()
            return False
        self._reopen.stop()
        try:
            fcntl.ioctl(fd, EVIOCGRAB, 1)
            self.grabbed = True
        except OSError as exc:
            # Not an input device (a test's pipe), or another program holds it: its keys may
            # also arrive as typed text, which then stays text.
            self.grabbed = False
            log.warning("badge reader %s could not be taken exclusively: %s", self.path, exc)
        self._fd = fd
        self._partial = b""
        self.keys.clear()
        self._notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._readable)
        log.info("badge reader %s open", self.path)
        return True

    def close(self) -> None:
        self._reopen.stop()
        self._drop()

    def _drop(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        if self._fd is not None:
            os.close(self._fd)  # closing also ends the grab
            self._fd = None
        self.grabbed = False

    def _readable(self, *_args: object) -> None:
        if self._fd is None:
            return
        try:
            data = os.read(self._fd, INPUT_EVENT.size * 64)
        except BlockingIOError:
            return
        except OSError as exc:
            data = b""
            if exc.errno != errno.ENODEV:
                log.warning("badge reader %s: %s", self.path, exc)
        if not data:
            # Unplugged (or the writer went away): look for it again.
            self._drop()
            self._reopen.start()
            return
        data = self._partial + data
        whole = len(data) - len(data) % INPUT_EVENT.size
        self._partial = data[whole:]
        for offset in range(0, whole, INPUT_EVENT.size):
            _sec, _usec, kind, code, value = INPUT_EVENT.unpack_from(data, offset)
            scan = self.keys.event(kind, code, value)
            if scan is not None:
                self.scanned.emit(scan)
