"""The agent's own settings, where they live, and the files a setting writes (autostart).

No Qt here: the settings dialog shows and edits an :class:`AgentSettings`; reading and
writing it, the autostart entry, enrolment links and plain-words connection checks are
plain functions a script (or a test) can call.

Settings live in the one layered configuration (``agent.config``): the backend address, CA
bundle and proxy in the user file's ``[backend]`` table (the connectors apply them to their own
sessions; nothing here changes the process's environment), the agent's own keys in its
``[agent]`` table. Saving rewrites the user file with every other key it held kept.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, get_args
from urllib.parse import urlsplit

import platformdirs

from agent import enrolment
from agent.config import APP_NAME, PROXY_SCHEMES, ConfigError, check_table, load_config, read_toml, user_config_path
from agent.enrolment import Enrolment, check_url
from agent.fsutil import atomic_write_bytes
from agent.laptop.key_combination import DEFAULT_HOTKEY, HotkeyError, parse_hotkey

# The core's bounds (agent.clips), repeated so the settings load without the clips' modules.
CLIP_MAX_SECONDS: Final = 120.0
CLIP_MAX_FPS: Final = 10.0

if sys.platform == "win32":  # pragma: no cover - only on Windows
    import winreg

CaptureMode = Literal["all", "monitor", "region"]
CAPTURE_MODES: Final[tuple[CaptureMode, ...]] = get_args(CaptureMode)
CAPTURE_MODE_LABELS: Final[dict[str, str]] = {
    "all": "All monitors",
    "monitor": "The monitor under the mouse",
    "region": "A region I drag",
}
CaptureBackendName = Literal["auto", "x11", "portal"]
CAPTURE_BACKENDS: Final[tuple[CaptureBackendName, ...]] = get_args(CaptureBackendName)
DEFAULT_CATEGORIES: Final = (
    "Something is broken",
    "Can't sign in",
    "Network or VPN",
    "Printer",
    "Software",
    "Hardware",
    "Other",
)
AUTOSTART_FILE_NAME: Final = "showdesk-agent.desktop"
MAX_CATEGORIES: Final = 40


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it and says what is expected."""


@dataclass(frozen=True)
class AgentSettings:
    """What the settings dialog edits."""

    backend_url: str
    ca_bundle: str = ""
    proxy: str = ""
    capture_mode: CaptureMode = "all"
    capture_backend: CaptureBackendName = "auto"
    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    email_domain: str = ""
    hotkey: str = DEFAULT_HOTKEY  # the global shortcut for "Report a problem"; empty: none
    # [clips]: the Record button's length and frame rate, and the opt-in instant replay.
    clip_max_seconds: float = 30.0
    clip_fps: float = 5.0
    instant_replay: bool = False
    replay_seconds: float = 30.0
    replay_max_mb: int = 40

    def problems(self) -> list[str]:
        """Every mistake, each naming the setting; empty when all is well."""
        found: list[str] = []
        url_problem = check_url(self.backend_url, "the help desk address")
        if url_problem:
            found.append(url_problem)
        if self.proxy:
            proxy_problem = check_proxy(self.proxy)
            if proxy_problem:
                found.append(proxy_problem)
        if self.hotkey:
            try:
                parse_hotkey(self.hotkey)
            except HotkeyError as exc:
                found.append(str(exc))
        if self.ca_bundle and not Path(self.ca_bundle).expanduser().is_file():
            found.append(f"the CA bundle {self.ca_bundle!r} is not a file on this computer")
        if self.capture_mode not in CAPTURE_MODES:
            found.append(f"capture mode must be one of {', '.join(CAPTURE_MODES)}")
        if self.capture_backend not in CAPTURE_BACKENDS:
            found.append(f"capture backend must be one of {', '.join(CAPTURE_BACKENDS)}")
        found.extend(self.clip_problems())
        if self.email_domain and not re.fullmatch(r"[A-Za-z0-9.-]+\.[A-Za-z]{2,}", self.email_domain):
            found.append(f"the e-mail domain {self.email_domain!r} is not a domain name (like example.org)")
        return found

    def clip_problems(self) -> list[str]:
        """Mistakes in the [clips] settings, each naming its key and bounds."""
        found: list[str] = []
        for key, value in (("clips.max_seconds", self.clip_max_seconds), ("clips.replay_seconds", self.replay_seconds)):
            if not 0 < value <= CLIP_MAX_SECONDS:
                found.append(f"{key} must be more than 0 and at most {CLIP_MAX_SECONDS:g} seconds, not {value:g}")
        if not 0 < self.clip_fps <= CLIP_MAX_FPS:
            found.append(f"clips.fps must be more than 0 and at most {CLIP_MAX_FPS:g}, not {self.clip_fps:g}")
        if self.replay_max_mb < 1:
            found.append(f"clips.replay_max_mb must be at least 1, not {self.replay_max_mb}")
        return found


def check_proxy(proxy: str) -> str | None:
    """Why ``proxy`` cannot be used as the backend's proxy (what ``[backend] proxy`` accepts), or None."""
    parts = urlsplit(proxy.strip())
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
        return (
            f"the proxy address must look like http://proxy.example.org:3128 "
            f"(schemes: {', '.join(PROXY_SCHEMES)}), got {proxy!r}"
        )
    try:
        _ = parts.port
    except ValueError:
        return f"the proxy address has an invalid port: {proxy!r}"
    return None


def _as_str_list(value: object, default: Sequence[str]) -> tuple[str, ...]:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        cleaned = tuple(dict.fromkeys(item.strip()[:200] for item in value if item.strip()))
        return cleaned[:MAX_CATEGORIES] or tuple(default)
    return tuple(default)


def load_agent_settings() -> AgentSettings:
    """The settings in effect now (all configuration layers applied)."""
    config = load_config()
    agent = config.section("agent")
    backend = config.backend("default")
    mode = agent.get("capture_mode", "all")
    capture_backend = agent.get("capture_backend", "auto")
    hotkey = agent.get("hotkey", DEFAULT_HOTKEY)
    return AgentSettings(
        backend_url=backend.url,
        ca_bundle=backend.ca_bundle or "",
        # Earlier versions kept the proxy in [agent]; saving moves it to [backend].
        proxy=backend.proxy or str(agent.get("proxy", "")),
        capture_mode=mode if mode in CAPTURE_MODES else "all",
        capture_backend=capture_backend if capture_backend in CAPTURE_BACKENDS else "auto",
        categories=_as_str_list(agent.get("categories"), DEFAULT_CATEGORIES),
        email_domain=str(agent.get("email_domain", "")),
        hotkey=hotkey.strip() if isinstance(hotkey, str) else DEFAULT_HOTKEY,
        clip_max_seconds=float(config.get("clips.max_seconds")),
        clip_fps=float(config.get("clips.fps")),
        instant_replay=bool(config.get("clips.instant_replay")),
        replay_seconds=float(config.get("clips.replay_seconds")),
        replay_max_mb=int(config.get("clips.replay_max_mb")),
    )


def save_agent_settings(settings: AgentSettings, path: Path | None = None) -> Path:
    """Write ``settings`` into the user configuration file, keeping every other key in it.

    Raises :class:`SettingsError` naming what is wrong; nothing is written then.
    """
    problems = settings.problems()
    if problems:
        raise SettingsError("; ".join(problems))
    target = path or user_config_path()
    try:
        table = read_toml(target)
    except ConfigError as exc:
        raise SettingsError(f"the settings file cannot be updated: {exc}") from exc
    backend = dict(table.get("backend", {})) if isinstance(table.get("backend"), dict) else {}
    backend["url"] = settings.backend_url.strip().rstrip("/")
    _set_or_drop(backend, "ca_bundle", settings.ca_bundle.strip())
    _set_or_drop(backend, "proxy", settings.proxy.strip())
    table["backend"] = backend
    agent = dict(table.get("agent", {})) if isinstance(table.get("agent"), dict) else {}
    agent["capture_mode"] = settings.capture_mode
    agent["capture_backend"] = settings.capture_backend
    agent["hotkey"] = settings.hotkey.strip()
    agent.pop("proxy", None)  # moved to [backend]
    _set_or_drop(agent, "email_domain", settings.email_domain.strip())
    if tuple(settings.categories) != DEFAULT_CATEGORIES:
        agent["categories"] = list(settings.categories)
    else:
        agent.pop("categories", None)
    table["agent"] = agent
    clips = dict(table.get("clips", {})) if isinstance(table.get("clips"), dict) else {}
    # Only the switch the person flips is written; the other [clips] keys stay as an administrator set them.
    clips["instant_replay"] = settings.instant_replay
    table["clips"] = clips
    problems = check_table(table, str(target))
    if problems:
        raise SettingsError("; ".join(problems))
    try:
        atomic_write_bytes(target, to_toml(table).encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise SettingsError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


def _set_or_drop(table: dict[str, Any], key: str, value: str) -> None:
    if value:
        table[key] = value
    else:
        table.pop(key, None)


# ---------------------------------------------------------------- the contact the person sent last
CONTACT_FILE_NAME: Final = "last-contact.json"
_MAX_CONTACT_FILE_BYTES: Final = 4096


def remembered_contact_path() -> Path:
    """Where the name and e-mail of the last queued report are kept.

    Not in the configuration file: that one may be written by hand or pushed by an administrator,
    and rewriting it after every report would drop its comments; this is the person's own data.
    """
    return platformdirs.user_data_path(APP_NAME, appauthor=False) / CONTACT_FILE_NAME


def load_remembered_contact(path: Path | None = None) -> tuple[str, str] | None:
    """(name, e-mail) of the last report this person queued, or None when there is none (or it is unreadable)."""
    target = path or remembered_contact_path()
    try:
        with target.open("rb") as stream:
            data = json.loads(stream.read(_MAX_CONTACT_FILE_BYTES + 1)[:_MAX_CONTACT_FILE_BYTES])
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        # A damaged file costs the person one retyped name, never the report window.
        return None
    if not isinstance(data, dict):
        return None
    name, email = data.get("name"), data.get("email")
    if not isinstance(name, str) or not isinstance(email, str):
        return None
    return name, email


def remember_contact(name: str, email: str, path: Path | None = None) -> Path:
    """Keep what the person sent as their name and e-mail for their next report (atomically, private).

    Called only once a report is safely queued: a report abandoned or refused at validation
    leaves the remembered contact as it was. Raises :class:`SettingsError` when it cannot be written.
    """
    target = path or remembered_contact_path()
    data = json.dumps({"name": name.strip(), "email": email.strip()}, ensure_ascii=False).encode("utf-8")
    try:
        atomic_write_bytes(target, data, mode=0o600)
    except OSError as exc:
        raise SettingsError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target


# ---------------------------------------------------------------- writing TOML
_BARE_KEY: Final = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: object, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SettingsError(f"{where} is not a finite number")
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string for everything JSON escapes.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item, where) for item in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(str(k))} = {_toml_value(v, where)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    raise SettingsError(f"{where} holds a value TOML cannot express here ({type(value).__name__})")


def to_toml(table: Mapping[str, Any], prefix: str = "") -> str:
    """A TOML document for ``table`` (what ``tomllib`` reads back as the same data)."""
    lines = [
        f"{_toml_key(key)} = {_toml_value(value, prefix + key)}"
        for key, value in table.items()
        if not isinstance(value, Mapping)
    ]
    blocks = ["\n".join(lines)] if lines else []
    for key, value in table.items():
        if isinstance(value, Mapping):
            name = f"{prefix}{_toml_key(key)}"
            body = to_toml(value, name + ".")
            blocks.append(f"[{name}]\n{body}".rstrip("\n"))
    return "\n\n".join(blocks) + "\n" if blocks else ""


# ---------------------------------------------------------------- the proxy's old place
def migrate_agent_proxy(path: Path | None = None) -> bool:
    """Move an ``[agent] proxy`` (where earlier versions kept it) into ``[backend] proxy`` in the user file.

    The connectors read the proxy from the backend table only, so without this an upgraded agent
    would stop using the proxy its user chose. A proxy already in ``[backend]`` wins; the old key
    is dropped either way. Returns whether the file changed; raises :class:`SettingsError`.
    """
    target = path or user_config_path()
    try:
        table = read_toml(target)
    except ConfigError as exc:
        raise SettingsError(f"the settings file cannot be updated: {exc}") from exc
    agent = table.get("agent")
    if not isinstance(agent, dict) or "proxy" not in agent:
        return False
    old = agent.pop("proxy")
    backend = table.get("backend")
    if not isinstance(backend, dict):
        backend = table["backend"] = {}
    if isinstance(old, str) and old.strip() and not backend.get("proxy"):
        backend["proxy"] = old.strip()
    try:
        atomic_write_bytes(target, to_toml(table).encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise SettingsError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return True


# ---------------------------------------------------------------- start at login
def agent_command() -> list[str]:
    """How to start the agent from a login session: the installed command, or this Python.

    ``--background``: at login the agent waits in the tray; nobody asked for a window yet.
    """
    installed = shutil.which("showdesk")
    if installed:
        return [installed, "agent", "--background"]
    return [sys.executable, "-m", "showdesk", "agent", "--background"]


def autostart_path() -> Path:
    """Where the XDG autostart entry goes ($XDG_CONFIG_HOME/autostart)."""
    return Path(platformdirs.user_config_dir(appauthor=False)) / "autostart" / AUTOSTART_FILE_NAME


def autostart_entry(command: Sequence[str]) -> str:
    exec_line = " ".join(shlex.quote(part) for part in command)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Name=ShowDesk agent\n"
        "Comment=Report a problem to the help desk with a screenshot\n"
        f"Exec={exec_line}\n"
        "Icon=showdesk-agent\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
        "NoDisplay=false\n"
    )


_WINDOWS_RUN_KEY: Final = r"Software\Microsoft\Windows\CurrentVersion\Run"
_WINDOWS_VALUE: Final = "ShowDesk agent"
_MACOS_LABEL: Final = "org.showdesk.agent"


def _macos_plist_path() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / f"{_MACOS_LABEL}.plist"


def autostart_enabled() -> bool:
    """Whether the agent starts at login for this user."""
    if sys.platform == "win32":  # pragma: no cover - only on Windows
        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, _WINDOWS_RUN_KEY) as key:
                winreg.QueryValueEx(key, _WINDOWS_VALUE)
        except OSError:
            return False
        return True
    if sys.platform == "darwin":  # pragma: no cover - only on macOS
        return _macos_plist_path().exists()
    return autostart_path().exists()


def set_autostart(enabled: bool, command: Sequence[str] | None = None) -> Path | None:
    """Start the agent at login (or stop doing so); returns the file written, if any."""
    argv = list(command or agent_command())
    if sys.platform == "win32":  # pragma: no cover - only on Windows
        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, _WINDOWS_RUN_KEY) as key:
            if enabled:
                winreg.SetValueEx(key, _WINDOWS_VALUE, 0, winreg.REG_SZ, " ".join(f'"{p}"' for p in argv))
            else:
                with contextlib.suppress(FileNotFoundError):
                    winreg.DeleteValue(key, _WINDOWS_VALUE)
        return None
    if sys.platform == "darwin":  # pragma: no cover - only on macOS
        import plistlib

        path = _macos_plist_path()
        if enabled:
            data = plistlib.dumps({"Label": _MACOS_LABEL, "ProgramArguments": argv, "RunAtLoad": True})
            atomic_write_bytes(path, data, mode=0o644)
            return path
        path.unlink(missing_ok=True)
        return None
    path = autostart_path()
    if enabled:
        try:
            atomic_write_bytes(path, autostart_entry(argv).encode("utf-8"), mode=0o644)
        except OSError as exc:
            raise SettingsError(f"cannot write the autostart entry {path}: {exc.strerror or exc}") from exc
        return path
    path.unlink(missing_ok=True)
    return None


# ---------------------------------------------------------------- enrolment
def parse_enrolment(text: str) -> Enrolment:
    """An enrolment link or code, checked; :class:`SettingsError` says what is wrong with it."""
    try:
        return enrolment.parse_enrolment(text)
    except enrolment.EnrolmentError as exc:
        raise SettingsError(str(exc)) from exc


# ---------------------------------------------------------------- connection check in plain words
_STEP_ADVICE: Final[dict[str, str]] = {
    "route": "This computer has no way onto the network the help desk is on. Check that Wi-Fi or the cable "
    "is connected; if the help desk is internal, connect the VPN.",
    "gateway": "The local network's router does not answer. Reconnect to the Wi-Fi or plug the cable in "
    "again; if it keeps failing, the network itself is down here.",
    "dns": "The help desk's name cannot be looked up. Check the address for typing mistakes; if it is "
    "an internal address, connect to the company network or VPN first.",
    "tcp": "The help desk's computer cannot be reached. If you work from home, connect the VPN; "
    "otherwise the help desk may be down for a moment. Reports you send are kept and sent later.",
    "tls": "A secure connection could not be set up. If your company uses its own certificates, "
    "choose the CA bundle file your IT department gave you.",
    "proxy": "The proxy did not let the connection through. Check the proxy address, or clear it "
    "if you do not need one here.",
    "http": "The help desk's computer answered, but not as a help desk. Check the address "
    "(the part after the host name, too).",
}


def explain_connectivity(result: Mapping[str, object]) -> tuple[bool, str]:
    """A result of ``agent.sysinfo.check_connectivity`` as (reachable, words for a person)."""
    if not result.get("checked"):
        return False, f"Not checked: {result.get('reason') or 'no help desk address is set'}."
    url = result.get("url")
    proxy = f" through the proxy {result['via_proxy']}" if result.get("via_proxy") else ""
    if result.get("reachable"):
        status = result.get("http_status")
        if isinstance(status, int) and status >= 500:
            return False, (
                f"{url} answered{proxy}, but reports a problem of its own (HTTP {status}). Reports you send "
                "now are kept and sent when it recovers."
            )
        timings = [result.get(k) for k in ("dns_ms", "tcp_ms", "tls_ms", "http_ms")]
        total = sum(t for t in timings if isinstance(t, int | float))
        return True, f"Connected to {url}{proxy} in {total:.0f} ms."
    if result.get("verdict") == "not_checked_in_time":
        # Not a failure: the check ran out of its time on a busy machine or a slow network.
        return False, f"Not checked in time: {result.get('reason')}. Try again."
    step = str(result.get("failed_step") or "")
    advice = _STEP_ADVICE.get(step, "")
    return False, f"Cannot reach {url}{proxy}: {result.get('reason')}. {advice}".strip()
