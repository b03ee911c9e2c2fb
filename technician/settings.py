"""Technician mode's ``[tech]`` configuration table, checked with errors that name the key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import platformdirs

from agent.config import Config, ConfigError

MAX_LONG_POLL_SECONDS: Final = 30.0


@dataclass(frozen=True)
class TechSettings:
    """``[tech]`` keys: ``site`` (walk-up site for "call next"), ``notify``, ``sound``,
    ``long_poll_seconds`` (how long one changes-feed call may wait), ``poll_seconds`` (list
    refresh for backends without a changes feed), ``single_key_shortcuts`` (false: a letter,
    digit or sign alone never acts) and ``[tech.keys]`` (a command's own keys, by its name in
    the help overlay's table; "" or [] switches it off). WCAG 2.1.4: speech input and a
    slip of the hand must not claim a ticket or call the next person."""

    site: str | None = None
    notify: bool = True
    sound: bool = False
    long_poll_seconds: float = 20.0
    poll_seconds: float = 15.0
    read_state_path: Path | None = None
    single_key_shortcuts: bool = True
    # (command name, its keys) for the commands given their own keys; checked against the commands by the window.
    keys: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_table(cls, table: Mapping[str, Any], *, read_timeout: float = 60.0) -> TechSettings:
        known = {"site", "notify", "sound", "long_poll_seconds", "poll_seconds", "single_key_shortcuts", "keys"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"[tech] has unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}")
        site = table.get("site")
        if site is not None and (not isinstance(site, str) or len(site) > 200):
            raise ConfigError("[tech] site must be a site name (text, at most 200 characters)")
        for key in ("notify", "sound", "single_key_shortcuts"):
            if key in table and not isinstance(table[key], bool):
                raise ConfigError(f"[tech] {key} must be true or false")
        numbers: dict[str, float] = {}
        for key, low, high in (("long_poll_seconds", 1.0, MAX_LONG_POLL_SECONDS), ("poll_seconds", 2.0, 3600.0)):
            value = table.get(key, getattr(cls, key))
            if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                raise ConfigError(f"[tech] {key} must be a number of seconds from {low:g} to {high:g}")
            numbers[key] = float(value)
        # A long poll must come back before the connector's read timeout gives up on it.
        long_poll = min(numbers["long_poll_seconds"], max(1.0, read_timeout - 5.0))
        return cls(
            site=site or None,
            notify=table.get("notify", True),
            sound=table.get("sound", False),
            long_poll_seconds=long_poll,
            poll_seconds=numbers["poll_seconds"],
            read_state_path=default_read_state_path(),
            single_key_shortcuts=table.get("single_key_shortcuts", True),
            keys=_parse_keys(table.get("keys", {})),
        )

    @classmethod
    def from_config(cls, config: Config, backend: str | None = None) -> TechSettings:
        return cls.from_table(config.section("tech"), read_timeout=config.backend(backend).read_timeout)


def _parse_keys(value: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``[tech.keys]``: command name → a key ("Ctrl+Shift+C"), a list of keys, or "" / [] for none."""
    if not isinstance(value, Mapping):
        raise ConfigError("[tech.keys] must be a table of command = key (e.g. claim = \"Ctrl+Shift+C\")")
    parsed: list[tuple[str, tuple[str, ...]]] = []
    for name, keys in value.items():
        listed = [keys] if isinstance(keys, str) else keys
        if not isinstance(listed, list) or not all(isinstance(k, str) and len(k) <= 40 for k in listed):
            raise ConfigError(f"[tech.keys] {name} must be a key such as \"Ctrl+Shift+C\", a list of keys, or \"\"")
        parsed.append((str(name), tuple(k.strip() for k in listed if k.strip())))
    return tuple(parsed)


def default_read_state_path() -> Path:
    return platformdirs.user_state_path("showdesk", appauthor=False) / "tech-read.json"
