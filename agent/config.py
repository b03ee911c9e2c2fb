"""Layered configuration: built-in defaults < machine-wide TOML < user TOML < environment < command line.

Every key is declared once in ``SETTINGS`` with its type, default and meaning; the
reference page and ``showdesk config show`` are generated from it. Backends are named
tables: ``[backend]`` is the default, more under ``[backends.NAME]``.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import platformdirs

APP_NAME: Final = "showdesk"
DEFAULT_BACKEND_URL: Final = "http://127.0.0.1:8765"
BACKEND_TYPES: Final = ("builtin", "rt", "smtp", "zammad", "glpi", "folder")
# Keys every backend table understands; anything else is handed to its connector.
_COMMON_BACKEND_KEYS: Final = ("type", "url", "ca_bundle", "connect_timeout", "read_timeout")


class ConfigError(ValueError):
    """A configuration mistake, naming the file and the key."""


@dataclass(frozen=True)
class Setting:
    key: str
    type: type
    default: Any
    doc: str
    env: str | None = None


def _user_data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


SETTINGS: Final[tuple[Setting, ...]] = (
    Setting("backend.type", str, "builtin", "Default backend's kind: " + ", ".join(BACKEND_TYPES) + "."),
    Setting("backend.url", str, DEFAULT_BACKEND_URL, "Default backend's address.", env="SHOWDESK_URL"),
    Setting("backend.ca_bundle", str, "", "CA bundle file for TLS; wins over REQUESTS_CA_BUNDLE. Empty: system CAs."),
    Setting("backend.connect_timeout", float, 5.0, "Seconds to wait for a connection."),
    Setting("backend.read_timeout", float, 60.0, "Seconds to wait for an answer."),
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
    Setting("server.data_dir", str, "", "Built-in server's data directory. Empty: the user or site data dir."),
    Setting("server.public_url", str, "", "Address ticket links point to. Empty: the listen address."),
    Setting("log.level", str, "INFO", "Logging level: DEBUG, INFO, WARNING, ERROR.", env="SHOWDESK_LOG_LEVEL"),
)
_BY_KEY: Final = {s.key: s for s in SETTINGS}
# Sections other parts of ShowDesk own and validate themselves (kiosk branding, …).
_OPEN_SECTIONS: Final = ("kiosk", "tech", "agent", "backends")


@dataclass(frozen=True)
class BackendConfig:
    name: str
    type: str
    url: str
    ca_bundle: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    options: Mapping[str, Any] = field(default_factory=dict)


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
        raise ConfigError(f"{where} type = {kind!r} is not one of {', '.join(BACKEND_TYPES)}")
    url = table.get("url", DEFAULT_BACKEND_URL if kind == "builtin" else "")
    if not isinstance(url, str):
        raise ConfigError(f"{where} url must be a string")
    try:
        connect_timeout = float(table.get("connect_timeout", 5.0))
        read_timeout = float(table.get("read_timeout", 60.0))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where} timeouts must be numbers of seconds") from exc
    for secret_key in ("token", "password", "secret", "user_token", "app_token"):
        if secret_key in table:
            raise ConfigError(
                f"{where} has {secret_key!r}: secrets never go in a file; "
                "use `showdesk login` (OS keyring) or SHOWDESK_TOKEN"
            )
    options = {k: v for k, v in table.items() if k not in _COMMON_BACKEND_KEYS}
    return BackendConfig(
        name=name,
        type=kind,
        url=url.rstrip("/"),
        ca_bundle=table.get("ca_bundle") or None,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        options=options,
    )


def machine_config_path() -> Path:
    """The machine-wide file an administrator (or a management tool) pushes."""
    override = os.environ.get("SHOWDESK_MACHINE_CONFIG")
    if override:
        return Path(override)
    if sys.platform == "win32":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "ShowDesk" / "config.toml"
    if sys.platform == "darwin":
        return Path("/Library/Application Support/ShowDesk/config.toml")
    return Path("/etc/showdesk/config.toml")


def user_config_path() -> Path:
    override = os.environ.get("SHOWDESK_CONFIG")
    if override:
        return Path(override)
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / "config.toml"


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        return {}
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


def check_table(table: Mapping[str, Any], origin: str) -> list[str]:
    """Mistakes in one file's table, each naming the key; empty when the file is fine."""
    problems: list[str] = []
    for key, value in _flatten(table).items():
        section = key.split(".", 1)[0]
        if section in _OPEN_SECTIONS or (section == "backend" and key not in _BY_KEY):
            continue
        setting = _BY_KEY.get(key)
        if setting is None:
            problems.append(f"{origin}: unknown key {key!r}")
            continue
        try:
            _coerce(setting, value, origin)
        except ConfigError as exc:
            problems.append(str(exc))
    backends = table.get("backends", {})
    if isinstance(backends, dict):
        for name, backend in backends.items():
            if not isinstance(backend, dict):
                problems.append(f"{origin}: [backends.{name}] must be a table")
                continue
            try:
                _backend_from_table(name, backend)
            except ConfigError as exc:
                problems.append(f"{origin}: {exc}")
    if isinstance(table.get("backend"), dict):
        try:
            _backend_from_table("default", table["backend"])
        except ConfigError as exc:
            problems.append(f"{origin}: {exc}")
    return problems


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
        problems = check_table(table, str(path))
        if problems:
            raise ConfigError("; ".join(problems))
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


def reference_markdown() -> str:
    """The reference page of every key, generated from ``SETTINGS``."""
    lines = [
        "# Configuration reference",
        "",
        "Layers, later wins: built-in defaults < machine-wide file < user file < environment < command line.",
        f"Machine-wide file here: `{machine_config_path()}`; user file: `{user_config_path()}`.",
        "",
        "| key | type | default | environment | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in SETTINGS:
        lines.append(f"| `{s.key}` | {s.type.__name__} | `{s.default!r}` | {s.env or ''} | {s.doc} |")
    return "\n".join(lines) + "\n"
