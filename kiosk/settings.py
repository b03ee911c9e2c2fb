"""The kiosk's settings: the ``[kiosk]`` section of the layered configuration, validated.

Every mistake names the key and what was expected, all of them at once, so an
administrator fixes a branding file in one pass. Texts a site configures may be a plain
string or a table of language code to string; texts the kiosk ships (default
categories) are Qt translation sources, so they follow the person's language choice.

This module imports no widgets: the window, the tests and ``showdesk kiosk --check``
use it alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from agent.config import Config, read_toml, user_config_path

LANGUAGES: Final = ("en", "de")
THEMES: Final = ("default", "high-contrast")
DEFAULT_IDLE_SECONDS: Final = 120.0
# At least 20 s: the time WCAG 2.2.1 asks to leave someone to say they need more.
DEFAULT_COUNTDOWN_SECONDS: Final = 20.0
DEFAULT_DONE_SECONDS: Final = 30.0
# The Done screen is short on purpose: the next person is often already waiting.
DONE_SECONDS_RANGE: Final = (3.0, 120.0)
DEFAULT_DESCRIPTION_CHARS: Final = 280
MAX_DESCRIPTION_CHARS: Final = 1000
# Qt translation context of the texts the kiosk ships as defaults (see kiosk/i18n.py).
DEFAULTS_CONTEXT: Final = "KioskDefaults"
_COLOUR_RE: Final = re.compile(r"^#[0-9a-fA-F]{6}$")
_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PIN_SCHEME: Final = "pbkdf2_sha256"
_PIN_ITERATIONS: Final = 200_000
_MIN_PIN_DIGITS: Final = 4

Translate = Callable[[str, str], str]
"""``(context, source) -> text``: Qt's ``QCoreApplication.translate`` or a stand-in."""


def _untranslated(_context: str, source: str) -> str:
    return source


def QT_TRANSLATE_NOOP(context: str, source: str) -> str:  # noqa: N802 - the name lupdate looks for
    """Mark ``source`` for the translation files without translating it here."""
    del context
    return source


class KioskConfigError(ValueError):
    """One or more mistakes in the ``[kiosk]`` configuration; the message names every key."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("kiosk configuration: " + "; ".join(self.problems))


@dataclass(frozen=True)
class LocalText:
    """A text in several languages: a site's own wording, or a translation source the kiosk ships."""

    by_language: Mapping[str, str] = field(default_factory=dict)
    source: str = ""  # a Qt translation source (context DEFAULTS_CONTEXT) when the site gave none

    def resolve(self, language: str, translate: Translate = _untranslated) -> str:
        if self.by_language:
            return self.by_language.get(language) or self.by_language.get("en") or next(iter(self.by_language.values()))
        return translate(DEFAULTS_CONTEXT, self.source) if self.source else ""

    @classmethod
    def shipped(cls, source: str) -> LocalText:
        return cls(source=source)


@dataclass(frozen=True)
class Article:
    """A self-help article: its title and where it lives (shown as a QR code)."""

    id: str
    title: LocalText
    url: str


@dataclass(frozen=True)
class Category:
    id: str
    label: LocalText
    articles: tuple[str, ...] = ()


@dataclass(frozen=True)
class AllowedApp:
    """An application "Show me on this kiosk" may start: the kiosk launches it itself."""

    id: str
    label: LocalText
    command: tuple[str, ...]


@dataclass(frozen=True)
class Colours:
    primary: str = "#0b5cad"
    on_primary: str = "#ffffff"
    background: str = "#f4f6f8"
    surface: str = "#ffffff"
    text: str = "#16202a"
    muted: str = "#4a5663"
    focus: str = "#f0a500"
    danger: str = "#b42318"


_DEFAULT_WELCOME_TITLE: Final[str] = QT_TRANSLATE_NOOP("KioskDefaults", "Something not working?")
_DEFAULT_WELCOME_MESSAGE: Final[str] = QT_TRANSLATE_NOOP(
    "KioskDefaults", "Show us the problem in two minutes. We will take it from there."
)


# The queue an unconfigured kiosk's walk-ups join. The server refuses a walk-up without a site,
# and the board shows one site's queue: without a default, the kiosk of `scripts/run` could send
# nothing and its board would have nothing to show.
DEFAULT_SITE: Final = "Tech Bar"

# A clip recorded under the capture bar: 30 s by default; the core records at most 120 s.
DEFAULT_CLIP_SECONDS: Final = 30.0
MIN_CLIP_SECONDS: Final = 1.0
MAX_CLIP_SECONDS: Final = 120.0


@dataclass(frozen=True)
class KioskSettings:
    site: str = DEFAULT_SITE
    kiosk_id: str = "kiosk"
    logo: Path | None = None
    colours: Colours = field(default_factory=Colours)
    theme: str = "default"
    language: str = "en"
    languages: tuple[str, ...] = LANGUAGES
    welcome_title: LocalText = field(default_factory=lambda: LocalText.shipped(_DEFAULT_WELCOME_TITLE))
    welcome_message: LocalText = field(default_factory=lambda: LocalText.shipped(_DEFAULT_WELCOME_MESSAGE))
    done_message: LocalText = field(default_factory=LocalText)
    categories: tuple[Category, ...] = ()
    articles: Mapping[str, Article] = field(default_factory=dict)
    allowed_apps: tuple[AllowedApp, ...] = ()
    guest_allowed: bool = True
    idle_seconds: float = DEFAULT_IDLE_SECONDS
    countdown_seconds: float = DEFAULT_COUNTDOWN_SECONDS
    done_seconds: float = DEFAULT_DONE_SECONDS
    description_max_chars: int = DEFAULT_DESCRIPTION_CHARS
    screen: int = 0
    backend: str = ""
    admin_pin_hash: str = ""
    # Full screen without an admin PIN cannot be left from the screen; started from a terminal,
    # the kiosk refuses that unless told it is meant (a dedicated machine stopped from elsewhere).
    allow_no_exit: bool = False
    # The badge reader's own input device (kiosk.badge); "" reads no badges. Typing is never a badge.
    badge_reader: str = ""
    badge_min_length: int = 4
    # "Record" under the capture bar: the longest clip, in seconds (agent.clips bounds it).
    clip_seconds: float = DEFAULT_CLIP_SECONDS

    def __post_init__(self) -> None:
        if not self.categories:
            object.__setattr__(self, "categories", default_categories())

    def articles_for(self, category: Category) -> list[Article]:
        return [self.articles[a] for a in category.articles if a in self.articles]

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)


def default_categories() -> tuple[Category, ...]:
    """The categories a site gets when it configures none."""
    return (
        Category("sign-in", LocalText.shipped(QT_TRANSLATE_NOOP("KioskDefaults", "Can't sign in"))),
        Category("laptop", LocalText.shipped(QT_TRANSLATE_NOOP("KioskDefaults", "Laptop"))),
        Category("printer", LocalText.shipped(QT_TRANSLATE_NOOP("KioskDefaults", "Printer"))),
        Category("software", LocalText.shipped(QT_TRANSLATE_NOOP("KioskDefaults", "Software"))),
        Category("other", LocalText.shipped(QT_TRANSLATE_NOOP("KioskDefaults", "Something else"))),
    )


# ---------------------------------------------------------------- admin PIN
def hash_pin(pin: str, *, iterations: int = _PIN_ITERATIONS) -> str:
    """The form ``admin_pin_hash`` takes in the machine-wide file: scheme$iterations$salt$digest."""
    if len(pin) < _MIN_PIN_DIGITS or not pin.isdigit():
        raise ValueError(f"the admin PIN must be at least {_MIN_PIN_DIGITS} digits")
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt, iterations)
    return "$".join((_PIN_SCHEME, str(iterations), _b64(salt), _b64(digest)))


def verify_pin(pin: str, stored: str) -> bool:
    """True when ``pin`` matches ``stored``; False for a wrong PIN or no usable hash."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != _PIN_SCHEME:
            return False
        computed = hashlib.pbkdf2_hmac("sha256", pin.encode(), _unb64(salt), int(iterations))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(computed, _unb64(digest))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _pin_hash_problem(value: str) -> str | None:
    parts = value.split("$")
    if len(parts) != 4 or parts[0] != _PIN_SCHEME or not parts[1].isdigit():
        return "[kiosk] admin_pin_hash is not a hash `showdesk kiosk --hash-pin` made"
    return None


# ---------------------------------------------------------------- parsing
class _Reader:
    """Collects every problem instead of stopping at the first."""

    def __init__(self, table: Mapping[str, Any]) -> None:
        self.table = table
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def string(self, key: str, default: str, *, pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str):
            self.problem(f"[kiosk] {key} must be a string, got {value!r}")
            return default
        if pattern is not None and value and not pattern.match(value):
            self.problem(f"[kiosk] {key} = {value!r} {hint}")
            return default
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(f"[kiosk] {key} must be a number, got {value!r}")
            return default
        if not low <= value <= high:
            self.problem(f"[kiosk] {key} = {value} is outside {low:g}..{high:g}")
            return default
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.table.get(key, default)
        if not isinstance(value, bool):
            self.problem(f"[kiosk] {key} must be true or false, got {value!r}")
            return default
        return value

    def choice(self, key: str, default: str, choices: Sequence[str]) -> str:
        value = self.string(key, default)
        if value not in choices:
            self.problem(f"[kiosk] {key} = {value!r} is not one of {', '.join(choices)}")
            return default
        return value

    def local_text(self, where: str, value: Any, *, required: bool = False) -> LocalText:
        if value is None:
            if required:
                self.problem(f"{where} is missing")
            return LocalText()
        if isinstance(value, str):
            return LocalText({"en": value})
        if isinstance(value, Mapping) and value and all(isinstance(v, str) for v in value.values()):
            unknown = sorted(set(value) - set(LANGUAGES))
            if unknown:
                self.problem(f"{where} has languages {', '.join(unknown)}; known: {', '.join(LANGUAGES)}")
            return LocalText({k: v for k, v in value.items() if k in LANGUAGES})
        self.problem(f"{where} must be a string or a table of language = string, got {value!r}")
        return LocalText()

    def table_list(self, key: str) -> list[Mapping[str, Any]]:
        value = self.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            self.problem(f"[kiosk] {key} must be an array of tables ([[kiosk.{key}]])")
            return []
        return value


_KNOWN_KEYS: Final = frozenset(
    {
        "site", "kiosk_id", "logo", "colors", "colours", "theme", "language", "languages", "texts",
        "categories", "articles", "allowed_apps", "guest_allowed", "idle_seconds", "countdown_seconds",
        "done_seconds", "description_max_chars", "screen", "backend", "admin_pin_hash", "allow_no_exit",
        # badge_max_key_interval_ms: read once, when timing told scans from typing; now accepted and ignored.
        "badge_max_key_interval_ms", "badge_min_length", "badge_reader", "clip_seconds",
    }
)
_TEXT_KEYS: Final = ("welcome_title", "welcome_message", "done_message")


def parse_settings(table: Mapping[str, Any], *, base_dir: Path | None = None) -> KioskSettings:
    """Settings from a ``[kiosk]`` table; raises ``KioskConfigError`` naming every mistake."""
    reader = _Reader(table)
    for key in sorted(set(table) - _KNOWN_KEYS):
        reader.problem(f"[kiosk] unknown key {key!r}")

    logo: Path | None = None
    logo_text = reader.string("logo", "")
    if logo_text:
        logo = Path(logo_text).expanduser()
        if not logo.is_absolute() and base_dir is not None:
            logo = base_dir / logo
        if not logo.is_file():
            reader.problem(f"[kiosk] logo = {logo_text!r}: no such file")
            logo = None

    colours = _parse_colours(reader)
    language = reader.choice("language", "en", LANGUAGES)
    languages_value = table.get("languages", list(LANGUAGES))
    languages: tuple[str, ...] = LANGUAGES
    if not isinstance(languages_value, list) or not languages_value or not all(
        isinstance(v, str) and v in LANGUAGES for v in languages_value
    ):
        reader.problem(f"[kiosk] languages must be a non-empty list drawn from {', '.join(LANGUAGES)}")
    else:
        languages = tuple(dict.fromkeys(languages_value))
        if language not in languages:
            reader.problem(f"[kiosk] language = {language!r} is not in languages")

    texts_value = table.get("texts", {})
    texts: dict[str, LocalText] = {}
    if not isinstance(texts_value, Mapping):
        reader.problem("[kiosk.texts] must be a table")
    else:
        for key in sorted(set(texts_value) - set(_TEXT_KEYS)):
            reader.problem(f"[kiosk.texts] unknown key {key!r}; known: {', '.join(_TEXT_KEYS)}")
        for key in _TEXT_KEYS:
            if key in texts_value:
                texts[key] = reader.local_text(f"[kiosk.texts] {key}", texts_value[key])

    articles = _parse_articles(reader)
    categories = _parse_categories(reader, articles)
    apps = _parse_apps(reader)

    idle = reader.number("idle_seconds", DEFAULT_IDLE_SECONDS, 10, 3600)
    countdown = reader.number("countdown_seconds", DEFAULT_COUNTDOWN_SECONDS, 3, 120)
    done = reader.number("done_seconds", DEFAULT_DONE_SECONDS, *DONE_SECONDS_RANGE)
    description_chars = int(reader.number("description_max_chars", DEFAULT_DESCRIPTION_CHARS, 0, MAX_DESCRIPTION_CHARS))
    screen = int(reader.number("screen", 0, 0, 16))
    pin_hash = reader.string("admin_pin_hash", "")
    if pin_hash:
        problem = _pin_hash_problem(pin_hash)
        if problem:
            reader.problem(problem)
            pin_hash = ""
    settings = KioskSettings(
        site=reader.string("site", DEFAULT_SITE) or DEFAULT_SITE,
        kiosk_id=reader.string("kiosk_id", "kiosk", pattern=_ID_RE, hint="must be letters, digits, . _ - (≤ 64)")
        or "kiosk",
        logo=logo,
        colours=colours,
        theme=reader.choice("theme", "default", THEMES),
        language=language,
        languages=languages,
        categories=categories,
        articles=articles,
        allowed_apps=apps,
        guest_allowed=reader.boolean("guest_allowed", True),
        idle_seconds=idle,
        countdown_seconds=countdown,
        done_seconds=done,
        description_max_chars=description_chars,
        screen=screen,
        backend=reader.string("backend", ""),
        admin_pin_hash=pin_hash,
        allow_no_exit=reader.boolean("allow_no_exit", False),
        badge_reader=_badge_reader(reader),
        badge_min_length=int(reader.number("badge_min_length", 4, 2, 64)),
        clip_seconds=reader.number("clip_seconds", DEFAULT_CLIP_SECONDS, MIN_CLIP_SECONDS, MAX_CLIP_SECONDS),
        **texts,
    )
    if reader.problems:
        raise KioskConfigError(reader.problems)
    return settings


def _badge_reader(reader: _Reader) -> str:
    """The reader's input device: an absolute path (best a stable /dev/input/by-id/… name), or ""."""
    path = reader.string("badge_reader", "")
    if path and not path.startswith("/"):
        reader.problem(f"[kiosk] badge_reader = {path!r} must be an absolute path such as /dev/input/by-id/…-event-kbd")
        return ""
    return path


def _parse_colours(reader: _Reader) -> Colours:
    value = reader.table.get("colors", reader.table.get("colours", {}))
    if not isinstance(value, Mapping):
        reader.problem("[kiosk.colors] must be a table")
        return Colours()
    known = Colours.__dataclass_fields__
    good: dict[str, str] = {}
    for key, colour in value.items():
        if key not in known:
            reader.problem(f"[kiosk.colors] unknown colour {key!r}; known: {', '.join(known)}")
        elif not isinstance(colour, str) or not _COLOUR_RE.match(colour):
            reader.problem(f"[kiosk.colors] {key} = {colour!r} is not a colour like \"#0b5cad\"")
        else:
            good[key] = colour
    return Colours(**good)


def _parse_articles(reader: _Reader) -> dict[str, Article]:
    articles: dict[str, Article] = {}
    for number, entry in enumerate(reader.table_list("articles"), start=1):
        where = f"[[kiosk.articles]] #{number}"
        article_id = entry.get("id")
        if not isinstance(article_id, str) or not _ID_RE.match(article_id):
            reader.problem(f"{where}: id must be letters, digits, . _ - (got {article_id!r})")
            continue
        where = f"[[kiosk.articles]] {article_id!r}"
        if article_id in articles:
            reader.problem(f"{where}: id appears twice")
        url = entry.get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            reader.problem(f"{where}: url must start with https:// or http:// (got {url!r})")
            continue
        for key in sorted(set(entry) - {"id", "title", "url"}):
            reader.problem(f"{where}: unknown key {key!r}")
        title = reader.local_text(f"{where} title", entry.get("title"), required=True)
        articles[article_id] = Article(article_id, title, url)
    return articles


def _parse_categories(reader: _Reader, articles: Mapping[str, Article]) -> tuple[Category, ...]:
    categories: list[Category] = []
    for number, entry in enumerate(reader.table_list("categories"), start=1):
        where = f"[[kiosk.categories]] #{number}"
        category_id = entry.get("id")
        if not isinstance(category_id, str) or not _ID_RE.match(category_id):
            reader.problem(f"{where}: id must be letters, digits, . _ - (got {category_id!r})")
            continue
        where = f"[[kiosk.categories]] {category_id!r}"
        if any(c.id == category_id for c in categories):
            reader.problem(f"{where}: id appears twice")
        for key in sorted(set(entry) - {"id", "label", "articles"}):
            reader.problem(f"{where}: unknown key {key!r}")
        label = reader.local_text(f"{where} label", entry.get("label"), required=True)
        linked = entry.get("articles", [])
        if not isinstance(linked, list) or not all(isinstance(a, str) for a in linked):
            reader.problem(f"{where}: articles must be a list of article ids")
            linked = []
        for article_id in linked:
            if article_id not in articles:
                reader.problem(f"{where}: article {article_id!r} is not defined in [[kiosk.articles]]")
        categories.append(Category(category_id, label, tuple(a for a in linked if a in articles)))
    if len(categories) > 12:
        reader.problem(f"[kiosk] {len(categories)} categories; a touch screen shows at most 12")
    return tuple(categories)


def _parse_apps(reader: _Reader) -> tuple[AllowedApp, ...]:
    apps: list[AllowedApp] = []
    for number, entry in enumerate(reader.table_list("allowed_apps"), start=1):
        where = f"[[kiosk.allowed_apps]] #{number}"
        app_id = entry.get("id")
        if not isinstance(app_id, str) or not _ID_RE.match(app_id):
            reader.problem(f"{where}: id must be letters, digits, . _ - (got {app_id!r})")
            continue
        where = f"[[kiosk.allowed_apps]] {app_id!r}"
        for key in sorted(set(entry) - {"id", "label", "command"}):
            reader.problem(f"{where}: unknown key {key!r}")
        command = entry.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(c, str) and c for c in command):
            reader.problem(f"{where}: command must be a non-empty list of strings (program and arguments)")
            continue
        label = reader.local_text(f"{where} label", entry.get("label"), required=True)
        apps.append(AllowedApp(app_id, label, tuple(command)))
    return tuple(apps)


def load_settings(config: Config) -> KioskSettings:
    """The kiosk settings of ``config``, with the admin PIN taken from the machine-wide file only.

    A PIN hash in a per-user file is refused: whoever sits at the kiosk's session could
    otherwise set their own PIN.
    """
    table = config.section("kiosk")
    user_table = read_toml(user_config_path()).get("kiosk", {})
    if isinstance(user_table, Mapping) and "admin_pin_hash" in user_table:
        raise KioskConfigError(
            [f"{user_config_path()}: [kiosk] admin_pin_hash belongs in the machine-wide file, not a user's file"]
        )
    base_dir = config.files[0].parent if config.files else None
    return parse_settings(table, base_dir=base_dir)
