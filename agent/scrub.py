"""Remove secret values from data and log lines before anything leaves the machine.

``scrub(obj)`` walks JSON-like data and returns a cleaned copy: values under secret-looking
keys (``api_key``, ``X-Auth-Token``, ``DB_PASSWORD``) are replaced, and every string is
searched for secrets that travel inside text (``Bearer …``, ``user:pass@`` in URLs,
``FOO_TOKEN=…``, ``--password x``, cloud and forge tokens, JWTs, private key blocks).
Process command lines additionally lose long high-entropy words, which is where ad-hoc
secrets usually hide.

``ScrubbingFilter`` applies the same to log records; install it on handlers.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Mapping
from typing import Final

SCRUBBED: Final = "[scrubbed]"

# Key-name segments that mark a secret, compared after splitting a key into words and
# dropping a plural "s". Splitting into words is what keeps "keyboard" or "monkey" safe
# while "api_key", "privateKey" and "X-Api-Key" are caught.
_SECRET_WORDS: Final = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "pass",
        "pw",
        "secret",
        "token",
        "auth",
        "oauth",
        "authorization",
        "cookie",
        "credential",
        "key",
        "apikey",
        "privatekey",
        "secretkey",
        "accesskey",
        "sshkey",
        "authkey",
        "signingkey",
        "encryptionkey",
        "masterkey",
        "sessionkey",
        "licensekey",
        "productkey",
        "clientkey",
        "appkey",
        "accountkey",
        "sharedkey",
        "sig",
        "signature",
    }
)
# Compound words ending in these are secrets too ("accesstoken", "dbpassword", "setcookie").
_SECRET_SUFFIXES: Final = ("password", "passwd", "secret", "token", "cookie", "credential")
# Keys whose string values are command lines: they also lose high-entropy words.
_COMMAND_LINE_KEYS: Final = frozenset({"cmdline", "command_line", "commandline", "command", "args", "argv"})

_WORD_RE: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _key_words(key: str) -> list[str]:
    words = [w.lower() for w in _WORD_RE.findall(key)]
    return [w[:-1] if w.endswith("s") and len(w) > 3 else w for w in words]


def is_secret_key(key: str) -> bool:
    """Whether a dict key, header, option or variable name names a secret."""
    return any(w in _SECRET_WORDS or w.endswith(_SECRET_SUFFIXES) for w in _key_words(key))


def _name_value(match: re.Match[str]) -> str:
    if not is_secret_key(match.group("name")):
        return match.group(0)
    value = match.group("value")
    quote = value[0] if value[:1] in ("'", '"') and len(value) >= 2 and value[-1] == value[0] else ""
    return f"{match.group('name')}{match.group('q')}{match.group('sep')}{quote}{SCRUBBED}{quote}"


# Patterns applied to every string, in this order. Each replaces only the secret part so
# the text still says what was there ("Bearer [scrubbed]", "https://[scrubbed]@host").
_TEXT_RULES: Final[tuple[tuple[re.Pattern[str], str | None], ...]] = (
    # PEM private key blocks, also when cut off before their END line.
    (
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\Z)",
            re.DOTALL,
        ),
        SCRUBBED,
    ),
    # Authorization headers of any scheme, then bare bearer tokens anywhere.
    (re.compile(r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*)(?:[A-Za-z]+\s+)?[^\s,;\"']+"), rf"\1{SCRUBBED}"),
    (re.compile(r"(?i)\b(bearer\s+)(?!\[scrubbed\])[A-Za-z0-9._~+/=-]+"), rf"\1{SCRUBBED}"),
    # Credentials in URLs: scheme://user:pass@host, and the scheme-less user:pass@host.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@"), rf"\1{SCRUBBED}@"),
    (re.compile(r"(?<![\w@/.:%+-])[\w.%+-]+:[^\s@/:]+@(?=[\w-]+(?:\.[\w-]+)*)"), f"{SCRUBBED}@"),
    # Well-known token shapes: AWS access key ids, JWTs, forge and chat tokens, Google API keys.
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), SCRUBBED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), SCRUBBED),
    (re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,})"), SCRUBBED),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), SCRUBBED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), SCRUBBED),
    (re.compile(r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}"), SCRUBBED),
    # name=value, name: value (not scheme://), "name": "value", --name=value where the name is a secret's.
    (
        re.compile(
            r"(?<![A-Za-z0-9_])(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)(?P<q>[\"']?)(?P<sep>\s*(?:=|:(?!//))\s*)"
            r"(?P<value>\"[^\"]*\"|'[^']*'|(?!\[scrubbed\])[^\s,;&#\"'}\]]+)"
        ),
        None,
    ),
    # --password value, --api-token value (the value as the next word).
    (
        re.compile(r"(?<![A-Za-z0-9_])(?P<name>--?[A-Za-z][A-Za-z0-9_-]*)(?P<q>)(?P<sep>\s+)(?P<value>(?!-)\S+)"),
        None,
    ),
)

# Long runs of token characters, judged by _looks_random. '.', ':' and '=' split runs so
# dotted names, host:port and --option=value are judged part by part.
_CANDIDATE_RE: Final = re.compile(r"[A-Za-z0-9+/_-]{20,}")
_HEX_RE: Final = re.compile(r"^[0-9a-fA-F]{32,}$")


def _entropy_bits_per_char(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _looks_random(word: str) -> bool:
    # An absolute path is made of readable segments: judge its longest one alone.
    core = (max(word.split("/"), key=len) if word.startswith("/") else word).strip("-_")
    if _HEX_RE.match(core):
        return True
    if len(core) < 20:
        return False
    classes = sum((any(c.islower() for c in core), any(c.isupper() for c in core), any(c.isdigit() for c in core)))
    return classes >= 3 and _entropy_bits_per_char(core) >= 3.7


def scrub_text(text: str) -> str:
    """``text`` with every secret the rules recognise replaced by ``[scrubbed]``."""
    for pattern, replacement in _TEXT_RULES:
        text = pattern.sub(_name_value if replacement is None else replacement, text)
    return text


def scrub_command_line(text: str) -> str:
    """A command line without secrets, including long random-looking words."""
    text = scrub_text(text)
    return _CANDIDATE_RE.sub(lambda m: SCRUBBED if _looks_random(m.group(0)) else m.group(0), text)


def _scrub_argv(argv: list[object]) -> list[object]:
    cleaned: list[object] = []
    hide_next = False
    for arg in argv:
        if not isinstance(arg, str):
            cleaned.append(scrub(arg))
            hide_next = False
            continue
        cleaned.append(SCRUBBED if hide_next and not arg.startswith("-") else scrub_command_line(arg))
        # "--password", "-token" followed by its value as the next element.
        hide_next = arg.startswith("-") and "=" not in arg and is_secret_key(arg)
    return cleaned


def _scrub_value(key: str, value: object) -> object:
    if is_secret_key(key) and not (value is None or isinstance(value, bool) or value == ""):
        return SCRUBBED
    if key.lower() in _COMMAND_LINE_KEYS:
        if isinstance(value, str):
            return scrub_command_line(value)
        if isinstance(value, list | tuple):
            return _scrub_argv(list(value))
    return scrub(value)


def scrub(obj: object) -> object:
    """A copy of JSON-like ``obj`` (dicts, lists, strings, numbers) without secret values."""
    if isinstance(obj, str):
        return scrub_text(obj)
    if isinstance(obj, Mapping):
        return {key: _scrub_value(str(key), value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [scrub(item) for item in obj]
    return obj


def scrub_url(url: str) -> str:
    """A URL fit to show: no credentials, no secret query parameters."""
    return scrub_text(url)


class ScrubbingFilter(logging.Filter):
    """Scrubs each record's message, exception and stack text; never drops a record.

    Install on handlers (``handler.addFilter(ScrubbingFilter())``) so records from every
    logger are cleaned before they are written anywhere.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not hide the record
            message = f"{record.msg!s} {record.args!r}"
        record.msg = scrub_text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Formatters reuse a set exc_text instead of formatting exc_info again.
            record.exc_text = scrub_text(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub_text(record.stack_info)
        return True
