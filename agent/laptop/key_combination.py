"""Key combinations for the global shortcut, and which kind of desktop allows one. No Qt here.

A combination is written as Qt's ``QKeySequence`` writes it (``"Ctrl+Alt+P"``), which is what the
settings dialog's key field produces and what the ``[agent] hotkey`` setting holds.
"""

from __future__ import annotations

import ctypes.util
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

DEFAULT_HOTKEY: Final = "Ctrl+Alt+P"
HotkeyBackend = Literal["x11", "windows", "none"]

# Modifier names as Qt's QKeySequence writes them (PortableText), in its order.
MODIFIERS: Final = ("Ctrl", "Alt", "Shift", "Meta")
_MODIFIER_ALIASES: Final = {
    "ctrl": "Ctrl",
    "control": "Ctrl",
    "alt": "Alt",
    "shift": "Shift",
    "meta": "Meta",
    "super": "Meta",
    "win": "Meta",
}


@dataclass(frozen=True)
class _Key:
    name: str  # as QKeySequence writes it
    x11_keysym: str  # for XStringToKeysym
    windows_vk: int  # virtual-key code
    needs_modifier: bool  # typing it alone must not trigger a report


def _keys() -> dict[str, _Key]:
    keys = {c.lower(): _Key(c, c.lower(), ord(c), True) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"}
    keys.update({f"f{n}": _Key(f"F{n}", f"F{n}", 0x6F + n, False) for n in range(1, 25)})
    named = (
        (("print", "printscreen", "sysreq"), _Key("Print", "Print", 0x2C, False)),
        (("pause", "break"), _Key("Pause", "Pause", 0x13, False)),
        (("space",), _Key("Space", "space", 0x20, True)),
        (("ins", "insert"), _Key("Ins", "Insert", 0x2D, True)),
        (("del", "delete"), _Key("Del", "Delete", 0x2E, True)),
        (("home",), _Key("Home", "Home", 0x24, True)),
        (("end",), _Key("End", "End", 0x23, True)),
        (("pgup", "pageup"), _Key("PgUp", "Prior", 0x21, True)),
        (("pgdown", "pagedown"), _Key("PgDown", "Next", 0x22, True)),
    )
    for aliases, key in named:
        keys.update(dict.fromkeys(aliases, key))
    return keys


_KEYS: Final = _keys()


class HotkeyError(Exception):
    """A shortcut that cannot be used; the message names it and says what to do."""


class HotkeyTakenError(HotkeyError):
    """Another program on this desktop already holds the combination."""


@dataclass(frozen=True)
class KeyCombination:
    """Modifiers (in :data:`MODIFIERS` order) and one key, e.g. Ctrl+Alt+P."""

    modifiers: tuple[str, ...]
    key: str

    def __str__(self) -> str:
        return "+".join((*self.modifiers, self.key))

    @property
    def x11_keysym(self) -> str:
        """The key's name for ``XStringToKeysym``."""
        return _KEYS[self.key.lower()].x11_keysym

    @property
    def windows_vk(self) -> int:
        """The key's Windows virtual-key code."""
        return _KEYS[self.key.lower()].windows_vk


def parse_hotkey(text: str) -> KeyCombination:
    """``"Ctrl+Alt+P"`` (as QKeySequence writes it; case and spaces do not matter) as a combination.

    Raises :class:`HotkeyError` naming what is wrong.
    """
    parts = [part.strip() for part in re.split(r"\s*\+\s*", text.strip())] if text.strip() else []
    if not parts or not parts[-1]:
        raise HotkeyError(f"the keyboard shortcut {text!r} names no key; write it like {DEFAULT_HOTKEY}")
    *modifier_names, key_name = parts
    modifiers: set[str] = set()
    for name in modifier_names:
        modifier = _MODIFIER_ALIASES.get(name.lower())
        if modifier is None:
            raise HotkeyError(
                f"the keyboard shortcut {text!r} has {name!r} where a modifier belongs (one of {', '.join(MODIFIERS)})"
            )
        modifiers.add(modifier)
    key = _KEYS.get(key_name.lower())
    if key is None:
        raise HotkeyError(
            f"the keyboard shortcut {text!r} ends in {key_name!r}, which cannot be a global shortcut here; "
            "use a letter, a digit, F1–F24, Print, Pause, Space, Ins, Del, Home, End, PgUp or PgDown"
        )
    if key.needs_modifier and not modifiers & {"Ctrl", "Alt", "Meta"}:
        raise HotkeyError(
            f"the keyboard shortcut {text!r} would fire while typing; add Ctrl, Alt or Meta (like {DEFAULT_HOTKEY})"
        )
    if {"Ctrl", "Alt"} <= modifiers and re.fullmatch(r"F([1-9]|1[0-2])", key.name):
        # The keyboard map turns these into "switch to console N" before any program sees them.
        raise HotkeyError(f"the keyboard shortcut {text!r} switches to a text console on Linux; choose another")
    return KeyCombination(tuple(m for m in MODIFIERS if m in modifiers), key.name)


def hotkey_backend(
    platform: str = sys.platform, environ: Mapping[str, str] | None = None, display: str | None = None
) -> tuple[HotkeyBackend, str | None]:
    """Which global-shortcut backend this session allows, and why none when it allows none."""
    env = os.environ if environ is None else environ
    if platform == "win32":
        return "windows", None
    if platform == "darwin":
        return "none", "macOS does not let ShowDesk take a global key yet"
    if not display and (env.get("WAYLAND_DISPLAY") or env.get("XDG_SESSION_TYPE", "").lower() == "wayland"):
        # X11 programs under Wayland only see keys while one of their own windows has the focus.
        return "none", "a Wayland desktop does not let programs take a global key"
    if not (display or env.get("DISPLAY")):
        return "none", "there is no X display to take a key on"
    if ctypes.util.find_library("X11") is None:
        return "none", "a global key needs libX11 (Debian package libx11-6)"
    return "x11", None
