"""Who hears of what: notification targets from the configuration's ``[[notify]]`` tables, and their rules.

Pure (standard library and ``agent.notify.events``), so the built-in server reads the same
tables the same way. A webhook URL is a secret (whoever holds it can post to the channel):
a table names where the URL is kept (an OS keyring entry or an environment variable),
never the URL itself.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from agent.notify.events import EVENT_KINDS, NotifyEvent

TargetKind = Literal["teams", "slack", "webhook"]
TARGET_KINDS: Final[tuple[TargetKind, ...]] = ("teams", "slack", "webhook")
DEFAULT_EVENTS: Final = ("new_report",)
DEFAULT_WALKUP_MINUTES: Final = 10
MAX_TARGETS: Final = 20
_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ENV_RE: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# Keys that would put a secret in the file; each message says where the secret goes instead.
_SECRET_KEYS: Final = {
    "url": "url_keyring (an OS keyring entry's name) or url_env (an environment variable's name)",
    "webhook_url": "url_keyring or url_env",
    "secret": "secret_keyring or secret_env",
    "token": "slack_token_keyring or slack_token_env",
    "password": "the OS keyring",
}
_KNOWN_KEYS: Final = frozenset(
    {
        "name",
        "kind",
        "url_keyring",
        "url_env",
        "secret_keyring",
        "secret_env",
        "events",
        "sites",
        "categories",
        "walkup_minutes",
        "images",
        "slack_channel_id",
        "slack_token_keyring",
        "slack_token_env",
        "enabled",
    }
)


class RuleError(ValueError):
    """A mistake in one ``[[notify]]`` table; ``key`` is the offending key within it."""

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives: an OS keyring entry (service "showdesk") or an environment variable."""

    keyring: str = ""
    env: str = ""

    def __bool__(self) -> bool:
        return bool(self.keyring or self.env)

    def describe(self) -> str:
        if self.env:
            return f"environment variable {self.env}"
        return f"keyring entry {self.keyring!r}"


@dataclass(frozen=True)
class Target:
    """One place notifications go, and which events it wants."""

    name: str
    kind: TargetKind
    url: SecretRef
    events: tuple[str, ...] = DEFAULT_EVENTS
    sites: tuple[str, ...] = ()  # empty: every site
    categories: tuple[str, ...] = ()  # empty: every category
    walkup_minutes: int = DEFAULT_WALKUP_MINUTES
    secret: SecretRef = SecretRef()  # webhook signing secret
    images: bool = False  # Slack only: upload the report's screenshots (off: link only)
    slack_channel_id: str = ""
    slack_token: SecretRef = SecretRef()
    enabled: bool = True

    def wants(self, event: NotifyEvent) -> bool:
        """Whether this target's rules take ``event``."""
        if not self.enabled or event.kind not in self.events:
            return False
        if event.kind == "walkup_waiting" and event.waiting_minutes < self.walkup_minutes:
            return False
        if event.kind == "walkup_waiting" and not event.key.endswith(f":{self.walkup_minutes}"):
            return False  # another target's threshold: each target hears once, at its own
        if self.sites and event.site.casefold() not in {s.casefold() for s in self.sites}:
            return False
        return not (self.categories and event.category.casefold() not in {c.casefold() for c in self.categories})


def _strings(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RuleError(f'{where} {key} must be a list of strings, like ["hq", "lab"]', key)
    return tuple(v.strip() for v in value if v.strip())


def _secret_ref(table: Mapping[str, Any], prefix: str, where: str) -> SecretRef:
    keyring_name = table.get(f"{prefix}_keyring", "")
    env_name = table.get(f"{prefix}_env", "")
    if not isinstance(keyring_name, str) or not isinstance(env_name, str):
        raise RuleError(f"{where} {prefix}_keyring and {prefix}_env must be names in quotes", f"{prefix}_keyring")
    if env_name and not _ENV_RE.match(env_name):
        raise RuleError(f"{where} {prefix}_env = {env_name!r} is not an environment variable's name", f"{prefix}_env")
    if keyring_name and ("://" in keyring_name or len(keyring_name) > 128):
        raise RuleError(
            f"{where} {prefix}_keyring names a keyring entry; it looks like the secret itself, "
            "which never goes in a file",
            f"{prefix}_keyring",
        )
    return SecretRef(keyring=keyring_name.strip(), env=env_name.strip())


def parse_target(table: Mapping[str, Any], index: int) -> Target:
    """The target of the ``index``-th ``[[notify]]`` table; ``RuleError`` names the key at fault."""
    name = table.get("name", "")
    where = f"[[notify]] #{index + 1}" + (f" ({name})" if isinstance(name, str) and name else "")
    for key, instead in _SECRET_KEYS.items():
        if key in table:
            raise RuleError(f"{where} has {key!r}: a webhook URL or secret never goes in a file; use {instead}", key)
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        raise RuleError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KNOWN_KEYS))})", unknown[0])
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise RuleError(f"{where} name must be letters, digits, '-', '_' or '.' (e.g. \"it-teams\")", "name")
    kind = table.get("kind")
    if kind not in TARGET_KINDS:
        raise RuleError(f"{where} kind = {kind!r} is not one of {', '.join(TARGET_KINDS)}", "kind")
    url = _secret_ref(table, "url", where)
    if not url:
        raise RuleError(f"{where} needs url_keyring or url_env: where the webhook URL is kept", "url_keyring")
    events = _strings(table.get("events", list(DEFAULT_EVENTS)), "events", where)
    for event in events:
        if event not in EVENT_KINDS:
            raise RuleError(f"{where} events: {event!r} is not one of {', '.join(EVENT_KINDS)}", "events")
    minutes = table.get("walkup_minutes", DEFAULT_WALKUP_MINUTES)
    if not isinstance(minutes, int) or isinstance(minutes, bool) or not 1 <= minutes <= 24 * 60:
        raise RuleError(f"{where} walkup_minutes must be a whole number of minutes from 1 to 1440", "walkup_minutes")
    for flag_key in ("images", "enabled"):
        if not isinstance(table.get(flag_key, False), bool):
            raise RuleError(f"{where} {flag_key} must be true or false", flag_key)
    images = bool(table.get("images", False))
    slack_token = _secret_ref(table, "slack_token", where)
    channel = table.get("slack_channel_id", "")
    if not isinstance(channel, str):
        raise RuleError(
            f'{where} slack_channel_id must be a channel id in quotes, like "C0123456789"', "slack_channel_id"
        )
    if images and kind != "slack":
        raise RuleError(f"{where} images = true is for Slack only (Teams and webhooks get the link)", "images")
    if images and (not channel or not slack_token):
        raise RuleError(
            f"{where} images = true needs slack_channel_id and slack_token_keyring (a bot token with files:write)",
            "images",
        )
    secret = _secret_ref(table, "secret", where)
    if kind == "webhook" and not secret:
        raise RuleError(f"{where} a webhook is signed: give secret_keyring or secret_env", "secret_keyring")
    return Target(
        name=name,
        kind=kind,
        url=url,
        events=events,
        sites=_strings(table.get("sites", []), "sites", where),
        categories=_strings(table.get("categories", []), "categories", where),
        walkup_minutes=minutes,
        secret=secret,
        images=images,
        slack_channel_id=channel.strip(),
        slack_token=slack_token,
        enabled=bool(table.get("enabled", True)),
    )


def parse_targets(tables: Any) -> list[Target]:
    """Every ``[[notify]]`` table's target; ``RuleError`` for the first mistake (key ``notify.N.key``)."""
    if tables is None:
        return []
    if not isinstance(tables, list) or not all(isinstance(t, Mapping) for t in tables):
        raise RuleError("notify must be tables written [[notify]], one per target", "notify")
    if len(tables) > MAX_TARGETS:
        raise RuleError(f"at most {MAX_TARGETS} [[notify]] targets", "notify")
    targets: list[Target] = []
    seen: set[str] = set()
    for index, table in enumerate(tables):
        try:
            target = parse_target(table, index)
        except RuleError as exc:
            raise RuleError(str(exc), f"notify.{index}.{exc.key}" if exc.key else f"notify.{index}") from exc
        if target.name in seen:
            raise RuleError(f"two [[notify]] targets are named {target.name!r}", f"notify.{index}.name")
        seen.add(target.name)
        targets.append(target)
    return targets


def targets_for(event: NotifyEvent, targets: Sequence[Target]) -> list[Target]:
    """The targets whose rules take ``event``."""
    return [t for t in targets if t.wants(event)]


def walkup_thresholds(targets: Sequence[Target]) -> set[int]:
    """The distinct "waiting longer than N minutes" thresholds the enabled targets ask for."""
    return {t.walkup_minutes for t in targets if t.enabled and "walkup_waiting" in t.events}
