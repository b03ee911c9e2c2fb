"""Layered configuration: built-in defaults < machine-wide TOML < user TOML < environment < command line.

Every key is declared once in ``SETTINGS`` with its type, default and meaning; the
reference page and ``showdesk config show`` are generated from it. Backends are named
tables: ``[backend]`` is the default, more under ``[backends.NAME]``.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from agent.notify.rules import Target as NotifyTarget


# tomllib loads when there is a file to read (most machines have none) and difflib when a key
# is misspelt: `showdesk capture` loads this module and is timed as a whole process.

APP_NAME: Final = "showdesk"
DEFAULT_BACKEND_URL: Final = "http://127.0.0.1:8765"
BACKEND_TYPES: Final = (
    "builtin",
    "rt",
    "smtp",
    "zammad",
    "glpi",
    "folder",
    "jira",
    "redmine",
    "servicenow",
    "zendesk",
    "gitlab",
    "freshservice",
)
# Keys every backend table understands; anything else is handed to its connector.
_COMMON_BACKEND_KEYS: Final = ("type", "url", "ca_bundle", "connect_timeout", "read_timeout", "proxy")
PROXY_SCHEMES: Final = ("http", "https")  # SOCKS would need PySocks, which ShowDesk does not ship


# The machine-wide file an administrator (or a management tool) pushes, per OS.
MACHINE_CONFIG_PATHS: Final = {
    "linux": "/etc/showdesk/config.toml",
    "win32": r"%ProgramData%\ShowDesk\config.toml",
    "darwin": "/Library/Application Support/ShowDesk/config.toml",
}
# Where platformdirs puts the user's file, per OS (for the reference page).
USER_CONFIG_PATHS: Final = {
    "linux": "$XDG_CONFIG_HOME/showdesk/config.toml (~/.config/showdesk/config.toml)",
    "win32": r"%LOCALAPPDATA%\showdesk\config.toml",
    "darwin": "~/Library/Application Support/showdesk/config.toml",
}
SECRET_KEYS: Final = ("token", "password", "secret", "user_token", "app_token")


class ConfigError(ValueError):
    """A configuration mistake, naming the file and the key (``key``: the offending key within its table)."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake in a configuration table: the dotted key it is about and what is wrong."""

    key: str
    message: str


@dataclass(frozen=True)
class Setting:
    key: str
    type: type
    default: Any
    doc: str
    env: str | None = None


def _user_data_dir() -> Path:
    import platformdirs  # only when a data directory is asked for (see user_config_path)

    return platformdirs.user_data_path(APP_NAME, appauthor=False)


SETTINGS: Final[tuple[Setting, ...]] = (
    Setting("backend.type", str, "builtin", "Default backend's kind: " + ", ".join(BACKEND_TYPES) + "."),
    Setting("backend.url", str, DEFAULT_BACKEND_URL, "Default backend's address.", env="SHOWDESK_URL"),
    Setting("backend.ca_bundle", str, "", "CA bundle file for TLS; wins over REQUESTS_CA_BUNDLE. Empty: system CAs."),
    Setting("backend.connect_timeout", float, 5.0, "Seconds to wait for a connection."),
    Setting("backend.read_timeout", float, 60.0, "Seconds to wait for an answer."),
    Setting(
        "backend.proxy",
        str,
        "",
        "Proxy for the backend's HTTP and HTTPS requests (e.g. `http://proxy.example.org:3128`). "
        "Empty: the environment's proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) or the system's.",
    ),
    Setting(
        "default_backend",
        str,
        "",
        "Name of the [backends.NAME] table to use instead of [backend].",
        env="SHOWDESK_BACKEND",
    ),
    Setting(
        "outbox.dir",
        str,
        "",
        "Where reports wait until a backend confirms them. Empty: the user data dir.",
        env="SHOWDESK_OUTBOX",
    ),
    Setting(
        "capture.format", str, "default", "Step image encoding: default (lossless), png, webp-lossless, webp, jpeg."
    ),
    Setting("sysinfo.timeout", float, 0.3, "Seconds the whole system-information snapshot may take."),
    Setting("sysinfo.exclude", list, [], 'System-information groups never sent (e.g. ["processes"]).'),
    Setting("server.host", str, "127.0.0.1", "Address the built-in server listens on."),
    Setting("server.port", int, 8765, "Port the built-in server listens on."),
    Setting(
        "server.data_dir",
        str,
        "",
        "Built-in server's data directory. Empty: the user data dir + `/server` (the Linux package's service "
        "uses `/var/lib/showdesk`).",
    ),
    Setting("server.public_url", str, "", "Address ticket links point to. Empty: the listen address."),
    Setting(
        "server.blobs",
        str,
        "",
        "Where the built-in server keeps attachment files. Empty: blobs/ in the data directory. "
        "s3://bucket/prefix?endpoint=https://host:port for an S3-compatible store; its keys come from "
        "SHOWDESK_S3_ACCESS_KEY_ID and SHOWDESK_S3_SECRET_ACCESS_KEY or the keyring, never from this file.",
    ),
    Setting(
        "server.trusted_proxies",
        list,
        [],
        "Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For names the client for the "
        "per-client limits (link guessing, live streams per address). Loopback is always trusted; '*' is refused.",
    ),
    Setting(
        "server.database",
        str,
        "",
        "The built-in server's database. Empty: SQLite in the data directory. postgresql://user@host:port/dbname "
        "for PostgreSQL 15+, which several server processes may share; the password comes from "
        "SHOWDESK_DATABASE_PASSWORD, the keyring or ~/.pgpass, never from this file.",
    ),
    Setting(
        "server.retention_days",
        int,
        90,
        "`showdesk server retention` deletes the pictures and attachments of tickets closed more than this "
        "many days ago (the ticket, its text and system information stay).",
    ),
    Setting(
        "server.mail.host",
        str,
        "",
        "SMTP server the built-in server mails the person through (received, replies, resolved, their turn). "
        "Empty: no mail.",
    ),
    Setting("server.mail.port", int, 587, "SMTP port. Unset: 587 for starttls, 465 for tls, 25 for none."),
    Setting("server.mail.security", str, "starttls", "starttls, tls (TLS from the first byte) or none."),
    Setting("server.mail.sender", str, "", "From address of mails to the person."),
    Setting(
        "server.mail.user",
        str,
        "",
        "SMTP user (empty: no login). The password: SHOWDESK_SMTP_PASSWORD or the keyring (service "
        "showdesk-server, user smtp-password); never this file.",
    ),
    Setting(
        "server.link_days",
        int,
        30,
        "A requester's link (the ticket page behind the QR code and in mails) works until this many days "
        "after the ticket closes; 0: until it closes. A technician can revoke a link at any time.",
    ),
    Setting(
        "notifications.dir",
        str,
        "",
        "Where notifications to Teams, Slack and webhooks wait, with their delivery log. Empty: the user "
        "data dir + `/notify`. The targets are `[[notify]]` tables (docs/notifications.md).",
    ),
    Setting(
        "notifications.timeout",
        float,
        10.0,
        "Seconds one notification post may take (connection and answer).",
    ),
    Setting(
        "clips.max_seconds",
        float,
        30.0,
        "Longest clip the agent's Record button records, in seconds (more than 0, at most 120).",
    ),
    Setting("clips.fps", float, 5.0, "Frames per second of clips and the instant replay (more than 0, at most 10)."),
    Setting(
        "clips.instant_replay",
        bool,
        False,
        "Keep the last seconds of the primary monitor in memory (never on disk) so a report can add "
        '"what just happened". Off by default; the tray menu and the settings dialog switch it.',
    ),
    Setting(
        "clips.replay_seconds",
        float,
        30.0,
        "How many seconds the instant replay keeps (more than 0, at most 120).",
    ),
    Setting(
        "clips.replay_max_mb",
        int,
        40,
        "Memory cap of the instant replay's compressed frames in MiB (at least 1); the oldest go first.",
    ),
    Setting("log.level", str, "INFO", "Logging level: DEBUG, INFO, WARNING, ERROR.", env="SHOWDESK_LOG_LEVEL"),
)
_BY_KEY: Final = {s.key: s for s in SETTINGS}
# Sections other parts of ShowDesk own and validate themselves (kiosk branding, …).
_OPEN_SECTIONS: Final = ("kiosk", "tech", "agent", "backends")
# `[[notify]]` tables: a list of notification targets, checked by agent.notify.rules.
NOTIFY_SECTION: Final = "notify"
# `[[server.notify]]`: the built-in server's targets, the same keys plus the server-only `walkup_seconds`.
SERVER_NOTIFY_KEY: Final = "server.notify"


@dataclass(frozen=True)
class BackendConfig:
    name: str
    type: str
    url: str
    ca_bundle: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    options: Mapping[str, Any] = field(default_factory=dict)
    proxy: str | None = None  # None: the environment's or the system's proxy


@dataclass(frozen=True)
class Value:
    value: Any
    source: str


@dataclass
class Config:
    values: dict[str, Value]
    tables: dict[str, Any]  # raw merged TOML, for open sections and backends
    files: list[Path]

    def get(self, key: str) -> Any:
        return self.values[key].value

    def section(self, name: str) -> dict[str, Any]:
        found = self.tables.get(name, {})
        return dict(found) if isinstance(found, dict) else {}

    @property
    def outbox_dir(self) -> Path:
        configured = self.get("outbox.dir")
        return Path(configured).expanduser() if configured else _user_data_dir() / "outbox"

    @property
    def notify_dir(self) -> Path:
        configured = self.get("notifications.dir")
        return Path(configured).expanduser() if configured else _user_data_dir() / "notify"

    def notify_targets(self) -> list[NotifyTarget]:
        """The ``[[notify]]`` targets (checked when the file was loaded)."""
        from agent.notify.rules import RuleError, parse_targets

        try:
            return parse_targets(self.tables.get(NOTIFY_SECTION))
        except RuleError as exc:
            raise ConfigError(str(exc), exc.key) from exc

    def backend_names(self) -> list[str]:
        return ["default", *sorted(self.section("backends"))]

    def backend(self, name: str | None = None) -> BackendConfig:
        name = name or self.get("default_backend") or "default"
        if name == "default":
            table = {k.split(".", 1)[1]: v.value for k, v in self.values.items() if k.startswith("backend.")}
            table.update({k: v for k, v in self.section("backend").items() if k not in _COMMON_BACKEND_KEYS})
        else:
            backends = self.section("backends")
            if name not in backends or not isinstance(backends[name], dict):
                known = ", ".join(self.backend_names())
                raise ConfigError(f"no backend named {name!r}; configured: {known}")
            table = dict(backends[name])
        return _backend_from_table(name, table)


def _backend_from_table(name: str, table: Mapping[str, Any]) -> BackendConfig:
    where = "[backend]" if name == "default" else f"[backends.{name}]"
    kind = table.get("type", "builtin")
    if kind not in BACKEND_TYPES:
        raise ConfigError(f"{where} type = {kind!r} is not one of {', '.join(BACKEND_TYPES)}", "type")
    url = table.get("url", DEFAULT_BACKEND_URL if kind == "builtin" else "")
    if not isinstance(url, str):
        raise ConfigError(f"{where} url must be a string", "url")
    timeouts: dict[str, float] = {}
    for timeout_key, default in (("connect_timeout", 5.0), ("read_timeout", 60.0)):
        try:
            timeouts[timeout_key] = float(table.get(timeout_key, default))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where} timeouts must be numbers of seconds", timeout_key) from exc
    connect_timeout, read_timeout = timeouts["connect_timeout"], timeouts["read_timeout"]
    for secret_key in SECRET_KEYS:
        if secret_key in table:
            raise ConfigError(
                f"{where} has {secret_key!r}: secrets never go in a file; "
                "use `showdesk login URL` (OS keyring) or SHOWDESK_TOKEN",
                secret_key,
            )
    proxy = _proxy(table.get("proxy"), where)
    options = {k: v for k, v in table.items() if k not in _COMMON_BACKEND_KEYS}
    return BackendConfig(
        name=name,
        type=kind,
        url=url.rstrip("/"),
        ca_bundle=table.get("ca_bundle") or None,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        options=options,
        proxy=proxy,
    )


def _proxy(value: object, where: str) -> str | None:
    """A proxy URL from a backend table; empty or missing is None (the environment's or the system's)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f'{where} proxy must be a URL string such as "http://proxy.example.org:3128"', "proxy")
    parts = urlsplit(value.strip())
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
        raise ConfigError(
            f'{where} proxy = {value!r} is not a proxy address; write it like "http://proxy.example.org:3128" '
            f"(schemes: {', '.join(PROXY_SCHEMES)})",
            "proxy",
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"{where} proxy = {value!r} has a port that is not a number", "proxy") from exc
    return value.strip()


def machine_config_path() -> Path:
    """The machine-wide file an administrator (or a management tool) pushes."""
    override = os.environ.get("SHOWDESK_MACHINE_CONFIG")
    if override:
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "ShowDesk" / "config.toml"
    return Path(MACHINE_CONFIG_PATHS["darwin" if sys.platform == "darwin" else "linux"])


def user_config_path() -> Path:
    override = os.environ.get("SHOWDESK_CONFIG")
    if override:
        return Path(override)
    if sys.platform == "linux" and not hasattr(sys, "getandroidapilevel"):
        # platformdirs' answer, built here: importing it pulls tempfile, random, shutil, bz2 and
        # lzma (~6 ms), and every `showdesk capture` reads the configuration before its grab.
        return _linux_user_config_dir() / "config.toml"
    import platformdirs

    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "config.toml"


def _linux_user_config_dir() -> Path:
    """platformdirs' user configuration directory on Linux (its ``Unix`` class, no site for root).

    ``$XDG_CONFIG_HOME/showdesk`` when the variable is an absolute path (anything else is as if
    unset), otherwise ``~/.config/showdesk`` where ``~`` is ``$HOME`` when that is absolute and
    otherwise the account's home from the password database. Raises RuntimeError, as platformdirs
    does, when no absolute home is found.
    """
    configured = os.environ.get("XDG_CONFIG_HOME", "")
    if posixpath.isabs(configured):
        return Path(configured) / APP_NAME
    home = os.environ.get("HOME", "")
    if not posixpath.isabs(home):
        import pwd

        try:
            home = pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:
            home = ""
        if not posixpath.isabs(home):
            raise RuntimeError("could not determine the home directory, set an absolute HOME or XDG_CONFIG_HOME")
    return Path(home.rstrip("/") + "/.config") / APP_NAME


@dataclass(frozen=True)
class ConfigFileLocation:
    """Where one configuration layer is read from, and why there (for `showdesk config show`)."""

    layer: str  # "machine" or "user"
    path: Path
    chosen_by: str | None  # the environment variable that moved it, or None for the OS default

    @property
    def exists(self) -> bool:
        return self.path.is_file()


def config_file_locations() -> list[ConfigFileLocation]:
    """The machine-wide and the user file, in the order they are layered (later wins)."""

    def moved_by(variable: str) -> str | None:
        return variable if os.environ.get(variable) else None

    return [
        ConfigFileLocation("machine", machine_config_path(), moved_by("SHOWDESK_MACHINE_CONFIG")),
        ConfigFileLocation("user", user_config_path(), moved_by("SHOWDESK_CONFIG")),
    ]


def read_toml(path: Path) -> dict[str, Any]:
    try:
        stream = path.open("rb")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    import tomllib

    with stream:
        try:
            return tomllib.load(stream)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and dotted not in _BY_KEY:
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
    expected = setting.type
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and expected is not str and origin.startswith(("environment", "command line")):
        converters: dict[type, Callable[[str], Any]] = {int: int, float: float, list: lambda s: s.split(",")}
        try:
            return converters[expected](value)
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"{origin}: {setting.key} must be {expected.__name__}, got {value!r}") from exc
    if not isinstance(value, expected) or isinstance(value, bool) is not (expected is bool):
        raise ConfigError(f"{origin}: {setting.key} must be {expected.__name__}, got {value!r}")
    return value


_TYPE_HINTS: Final[dict[type, str]] = {
    str: 'text in double quotes, like "value"',
    int: "a whole number without quotes, like 8765",
    float: "a number without quotes, like 5 or 0.5",
    list: 'a list in brackets, like ["processes"]',
    bool: "true or false, without quotes",
}


def find_problems(table: Mapping[str, Any]) -> list[ConfigProblem]:
    """Mistakes in one file's table, each with the dotted key it is about; empty when the table is fine."""
    problems: list[ConfigProblem] = []
    for key, value in _flatten(table).items():
        section = key.split(".", 1)[0]
        if (
            section in _OPEN_SECTIONS
            or (section == "backend" and key not in _BY_KEY)
            or key in (NOTIFY_SECTION, SERVER_NOTIFY_KEY)
        ):
            continue
        setting = _BY_KEY.get(key)
        if setting is None:
            problems.append(ConfigProblem(key, _unknown_key_message(key)))
            continue
        try:
            _coerce(setting, value, "")
        except ConfigError:
            problems.append(
                ConfigProblem(
                    key,
                    f"{key} must be {setting.type.__name__}, got {value!r}: write {_TYPE_HINTS[setting.type]} "
                    f"(default {_toml_value(setting.default)})",
                )
            )
    backends = table.get("backends", {})
    if isinstance(backends, dict):
        for name, backend in backends.items():
            if not isinstance(backend, dict):
                problems.append(ConfigProblem(f"backends.{name}", f"[backends.{name}] must be a table"))
                continue
            problems.extend(_backend_problems(f"backends.{name}", name, backend))
    elif "backends" in table:
        problems.append(ConfigProblem("backends", "backends must hold tables: [backends.NAME]"))
    if isinstance(table.get("backend"), dict):
        problems.extend(_backend_problems("backend", "default", table["backend"]))
    if NOTIFY_SECTION in table:
        problems.extend(_notify_problems(table[NOTIFY_SECTION]))
    server = table.get("server")
    if isinstance(server, dict) and NOTIFY_SECTION in server:
        problems.extend(_server_notify_problems(server[NOTIFY_SECTION]))
    # One explanation per key: a wrong type is also a broken backend table.
    unique: dict[str, ConfigProblem] = {}
    for problem in problems:
        unique.setdefault(problem.key, problem)
    return list(unique.values())


def _backend_problems(prefix: str, name: str, backend: Mapping[str, Any]) -> list[ConfigProblem]:
    try:
        _backend_from_table(name, backend)
    except ConfigError as exc:
        return [ConfigProblem(f"{prefix}.{exc.key}" if exc.key else prefix, str(exc))]
    return []


def _notify_problems(tables: Any) -> list[ConfigProblem]:
    from agent.notify.rules import RuleError, parse_targets

    try:
        parse_targets(tables)
    except RuleError as exc:
        return [ConfigProblem(exc.key or NOTIFY_SECTION, str(exc))]
    return []


def _server_notify_problems(tables: Any) -> list[ConfigProblem]:
    """[[server.notify]]: the agent's rules, after the server-only ``walkup_seconds`` (a number above 0)."""
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        return [ConfigProblem(SERVER_NOTIFY_KEY, "server.notify must be tables written [[server.notify]]")]
    stripped: list[dict[str, Any]] = []
    for index, table in enumerate(tables):
        seconds = table.get("walkup_seconds")
        if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0):
            key = f"{SERVER_NOTIFY_KEY}.{index}.walkup_seconds"
            return [ConfigProblem(key, f"{key} must be a number of seconds above 0")]
        stripped.append({k: v for k, v in table.items() if k != "walkup_seconds"})
    return [
        ConfigProblem(f"server.{p.key}", p.message.replace("[[notify]]", "[[server.notify]]"))
        for p in _notify_problems(stripped)
    ]


def _unknown_key_message(key: str) -> str:
    import difflib

    section, _, leaf = key.rpartition(".")
    siblings = [s.key for s in SETTINGS if s.key.rpartition(".")[0] == section]
    if siblings:  # a known table: compare the name alone, or "notes" would look like "port"
        names = difflib.get_close_matches(leaf, [k.rpartition(".")[2] for k in siblings], n=1, cutoff=0.75)
        close = [f"{section}.{name}" for name in names]
    else:
        close = difflib.get_close_matches(key, [s.key for s in SETTINGS], n=1, cutoff=0.75)
    hint = f" (did you mean {close[0]!r}?)" if close else " (`showdesk config reference` lists every key)"
    return f"unknown key {key!r}{hint}"


def check_table(table: Mapping[str, Any], origin: str) -> list[str]:
    """Mistakes in one file's table, each naming the key; empty when the file is fine."""
    return [f"{origin}: {problem.message}" for problem in find_problems(table)]


def check_file(path: Path) -> list[str]:
    """Mistakes in one configuration file, each as ``FILE:LINE: explanation`` (the line of the key).

    tomllib keeps no positions, so each offending key's line is found by a small scan of the
    text (see ``key_line``); a mistake whose line cannot be found names the file alone.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [f"{path}: no such file"]
    except UnicodeDecodeError as exc:
        return [f"{path}: not UTF-8 text (byte {exc.start}); TOML files are UTF-8"]
    except OSError as exc:
        return [f"{path}: cannot read: {exc.strerror or exc}"]
    import tomllib

    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        where = f"{path}:{found.group(1)}" if found else str(path)
        return [f"{where}: not valid TOML: {exc}"]
    messages = []
    for problem in find_problems(table):
        line = key_line(text, problem.key)
        messages.append(f"{path}:{line}: {problem.message}" if line else f"{path}: {problem.message}")
    return messages


_HEADER_RE: Final = re.compile(r"^\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY_PART: Final = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY_RE: Final = re.compile(rf"^\s*({_KEY_PART}(?:\s*\.\s*{_KEY_PART})*)\s*=")


def _dotted(text: str) -> tuple[str, ...]:
    parts = re.findall(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""", text)
    return tuple(part.strip("\"'") for part in parts)


def key_line(text: str, dotted_key: str) -> int | None:
    """The 1-based line that defines ``dotted_key`` (or the closest table or inline table holding it).

    A table of an array (``[[notify]]``) is also found by its index, as ``notify.2.kind`` names
    the third one's ``kind``.
    """
    wanted = tuple(dotted_key.split("."))
    best: tuple[int, int] | None = None  # (matched parts, line)
    tables: list[tuple[str, ...]] = [()]  # the header's path, and with its index when it is [[an array]]
    array_counts: dict[tuple[str, ...], int] = {}
    in_multiline: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline is not None:
            if line.count(in_multiline) % 2 == 1:
                in_multiline = None
            continue
        header = _HEADER_RE.match(line)
        if header:
            table = _dotted(header.group(1))
            tables = [table]
            if line.lstrip().startswith("[["):
                index = array_counts.get(table, 0)
                array_counts[table] = index + 1
                tables.append((*table, str(index)))
            paths = tables
        else:
            key = _KEY_RE.match(line)
            if not key:
                continue
            paths = [table + _dotted(key.group(1)) for table in tables]
            for quotes in ('"""', "'''"):
                if line.count(quotes) % 2 == 1:
                    in_multiline = quotes
        for path in paths:
            if path == wanted:
                return number
            if wanted[: len(path)] == path and (best is None or len(path) > best[0]):
                best = (len(path), number)
    return best[1] if best else None


def _merge(into: dict[str, Any], table: Mapping[str, Any]) -> None:
    for key, value in table.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def load_config(overrides: Mapping[str, Any] | None = None) -> Config:
    """The effective configuration, with the origin of every value.

    ``overrides`` are command-line values keyed like ``SETTINGS`` (``backend.url``).
    """
    values = {s.key: Value(s.default, "default") for s in SETTINGS}
    merged: dict[str, Any] = {}
    files: list[Path] = []
    for path in (machine_config_path(), user_config_path()):
        table = read_toml(path)
        if not table:
            continue
        files.append(path)
        if find_problems(table):
            raise ConfigError("; ".join(check_file(path)))
        _merge(merged, table)
        for key, value in _flatten(table).items():
            if key in _BY_KEY:
                values[key] = Value(_coerce(_BY_KEY[key], value, str(path)), str(path))
    for setting in SETTINGS:
        if setting.env and os.environ.get(setting.env):
            origin = f"environment {setting.env}"
            values[setting.key] = Value(_coerce(setting, os.environ[setting.env], origin), origin)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key not in _BY_KEY:
            raise ConfigError(f"command line: unknown setting {key!r}")
        values[key] = Value(_coerce(_BY_KEY[key], value, "command line"), "command line")
    return Config(values=values, tables=merged, files=files)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


_PLATFORM_NAMES: Final = {"linux": "Linux", "win32": "Windows", "darwin": "macOS"}


def reference_markdown() -> str:
    """The reference page of every key, generated from ``SETTINGS``; the same on every machine.

    docs/configuration.md is this page (`showdesk config reference > docs/configuration.md`).
    """
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated from agent/config.py by `showdesk config reference`; do not edit by hand. -->",
        "",
        "One TOML format in layers, later wins: built-in defaults < machine-wide file < user file <",
        "environment < command line. `showdesk config show` prints every value in effect and where it came",
        "from; `showdesk config check [FILE]` checks a file and names the line of each mistake.",
        "",
        "## Where the files are",
        "",
        "| system | machine-wide file (an administrator or a management tool pushes it) | user file |",
        "| --- | --- | --- |",
    ]
    for platform, name in _PLATFORM_NAMES.items():
        lines.append(f"| {name} | `{MACHINE_CONFIG_PATHS[platform]}` | `{USER_CONFIG_PATHS[platform]}` |")
    lines += [
        "",
        "`SHOWDESK_MACHINE_CONFIG` and `SHOWDESK_CONFIG` name other files (tests, trials).",
        "",
        "## Keys",
        "",
        "A key `section.name` is written `name = …` under `[section]`.",
        "",
        "| key | type | default | environment | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in SETTINGS:
        default = _toml_value(s.default)
        env = f"`{s.env}`" if s.env else ""
        lines.append(f"| `{s.key}` | {s.type.__name__} | `{default}` | {env} | {s.doc} |")
    lines += [
        "",
        "## Sections with their own checks",
        "",
        "| section | what | checked by |",
        "| --- | --- | --- |",
        "| `[backends.NAME]` | more backends, chosen with `--backend NAME`; each takes the `backend.` keys "
        "(`type`, `url`, `ca_bundle`, `proxy`, the timeouts) and the keys of its type in "
        "[connectors.md](connectors.md) | `showdesk config check` |",
        "| `[kiosk]` | the walk-up kiosk: site, texts, categories, allowed apps, admin PIN hash (README) "
        "| `showdesk kiosk --check` |",
        "| `[agent]` | the laptop agent's settings dialog (shortcut, capture mode, categories) | the agent |",
        "| `[tech]` | technician mode | technician mode |",
        "| `[[notify]]` | notification targets (Teams, Slack, signed webhooks): kind, where the URL is kept "
        "(`url_keyring` or `url_env`), events, sites, categories; see [notifications.md](notifications.md) "
        "| `showdesk config check` |",
        "| `[[server.notify]]` | the built-in server's notification targets: the `[[notify]]` keys, plus "
        "`walkup_seconds` (a threshold finer than `walkup_minutes`); URLs and secrets from the keyring (service "
        "`showdesk-notify`) or the environment only; see [notifications.md](notifications.md) "
        "| `showdesk config check`, `showdesk server` at start |",
        "",
        "Secrets never go in these files: a backend table with `" + "`, `".join(SECRET_KEYS) + "` is refused.",
        "Tokens live in the OS keyring (`showdesk login URL`); `SHOWDESK_TOKEN` serves scripts.",
        "",
        "## Example of a machine-wide file",
        "",
        "```toml",
        "[backend]",
        'url = "https://helpdesk.example.org"',
        'ca_bundle = "/etc/ssl/certs/example-ca.pem"',
        "",
        "[sysinfo]",
        'exclude = ["processes"]',
        "",
        "[server]                  # only where the built-in server runs",
        'public_url = "https://helpdesk.example.org"',
        "retention_days = 180",
        "```",
    ]
    return "\n".join(lines) + "\n"
