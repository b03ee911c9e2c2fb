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
from dataclasses import dataclass
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
    # "keys" → "key", but "pass" stays "pass" (not "pas").
    return [w[:-1] if w.endswith("s") and not w.endswith("ss") and len(w) > 3 else w for w in words]


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


# ---------------------------------------------------------------- tools' own password options
@dataclass(frozen=True)
class _PasswordOptions:
    """Where one command-line tool takes a password, as its manual documents it.

    ``attached``: options whose value follows in the same word (``mysql -pSECRET``, and
    ``xfreerdp /p:SECRET``); ``separate``: options whose value is the next word (``sshpass -p
    SECRET``). ``credential_separator``: the value is ``user<sep>password`` and only the part
    after the separator is secret (``curl -u user:pass``, ``smbclient -U user%pass``).
    ``subcommand``: the options mean a password only after this word (``docker login -p``;
    ``docker run -p`` publishes a port). ``keywords``: a bare word naming a password, the value
    next (``nmcli … password SECRET``).
    """

    attached: frozenset[str] = frozenset()
    separate: frozenset[str] = frozenset()
    credential_separator: str = ""
    subcommand: str = ""
    keywords: frozenset[str] = frozenset()


def _names(text: str) -> list[str]:
    return text.split()


def _options(
    attached: str = "", separate: str = "", *, credential_separator: str = "", subcommand: str = "",
    keywords: str = "",
) -> _PasswordOptions:
    return _PasswordOptions(
        frozenset(attached.split()), frozenset(separate.split()), credential_separator, subcommand,
        frozenset(keywords.split()),
    )


_MYSQL: Final = _options("-p")  # -p alone prompts; a word after it is the database, not a password
_LDAP: Final = _options("-w", "-w")
_SAMBA: Final = _options("-U --user=", "-U --user", credential_separator="%")
_MONGO: Final = _options("-p", "-p")
_SNMP: Final = _options("-A -X -c", "-A -X -c")  # authentication and privacy pass phrases, community
_FREERDP: Final = _options("/p: /password: /gp: /gateway-password:")
_REGISTRY_LOGIN: Final = _options("-p --password=", "-p", subcommand="login")
_PASSWORD_TOOLS: Final[Mapping[str, _PasswordOptions]] = {
    **dict.fromkeys(
        _names("mysql mysqldump mysqladmin mysqlimport mysqlshow mysqlcheck mysqlpump mysqlslap mysqlbinlog mysqlsh "
        "mariadb mariadb-dump mariadb-admin mariadb-import mariadb-show mariadb-check mariadb-binlog"),
        _MYSQL,
    ),
    "sshpass": _options("-p", "-p"),
    **dict.fromkeys(
        _names("ldapsearch ldapmodify ldapadd ldapdelete ldapmodrdn ldapcompare ldapwhoami ldapexop ldapurl"), _LDAP
    ),
    "ldappasswd": _options("-w -s -a", "-w -s -a"),  # bind, new and old password
    "redis-cli": _options("-a", "-a --pass"),
    **dict.fromkeys(_names("smbclient rpcclient smbcacls smbcquotas smbget smbtree smbspool net"), _SAMBA),
    "curl": _options("-u -U --user= --proxy-user=", "-u -U --user --proxy-user", credential_separator=":"),
    "lftp": _options("-u", "-u", credential_separator=","),
    **dict.fromkeys(_names("sqlcmd bcp osql"), _options("-P", "-P")),
    **dict.fromkeys(_names("mongo mongosh mongodump mongorestore mongoexport mongoimport mongostat mongotop"), _MONGO),
    **dict.fromkeys(_names("zip zipcloak unzip funzip"), _options("-P", "-P")),
    **dict.fromkeys(_names("7z 7za 7zr 7zz"), _options("-p")),
    "rdesktop": _options("-p", "-p"),
    **dict.fromkeys(_names("xfreerdp wlfreerdp sdl-freerdp xfreerdp3 sdl-freerdp3"), _FREERDP),
    "openssl": _options("", "-k"),  # enc -k PASSWORD; -pass/-passin/-passout take pass:… (a secret name)
    "ipmitool": _options("-P", "-P"),
    **dict.fromkeys(
        _names("snmpget snmpgetnext snmpwalk snmpbulkwalk snmpbulkget snmpset snmptrap snmpinform snmptable snmpdelta "
        "snmpstatus snmpnetstat snmptest snmpdf snmpusm snmpvacm"),
        _SNMP,
    ),
    **dict.fromkeys(_names("mosquitto_pub mosquitto_sub mosquitto_rr"), _options("", "-P")),
    **dict.fromkeys(_names("docker podman nerdctl buildah skopeo oc helm"), _REGISTRY_LOGIN),
    "nmcli": _options(keywords="password wifi-sec.psk 802-11-wireless-security.psk 802-1x.password"),
}
# Programs that take -p (or -P, -a, -u, -w…) for something else: after one of them, an option
# is theirs, not the password tool's that ran it (``sshpass -p SECRET ssh -p 22 host``).
_OTHER_PROGRAMS: Final = frozenset(
    _names("ssh scp sftp rsync psql pg_dump pg_dumpall pg_restore pg_basebackup createdb dropdb python python3 nc ncat "
    "netcat socat sudo doas env nice nohup timeout time stdbuf ionice taskset bash sh dash zsh fish")
)
# Oracle tools take user/password[@connect] as their first word (``sqlplus scott/tiger@orcl``).
_ORACLE_TOOLS: Final = frozenset(_names("sqlplus sqlldr exp imp expdp impdp rman dgmgrl"))
_ORACLE_LOGIN: Final = re.compile(r"^(?P<user>[^/\s@-][^/\s@]*)/(?P<password>[^@\s]+)(?P<rest>@\S*)?$")


def _program_name(word: str) -> str:
    """``/usr/bin/mysql`` and ``C:\\Tools\\MySQL.EXE`` are both ``mysql``."""
    name = re.split(r"[/\\]", word)[-1].lower()
    return name[: -len(".exe")] if name.endswith(".exe") else name


def _secret_part(value: str, separator: str) -> str:
    """``value`` with its secret replaced: all of it, or what follows ``user<separator>``."""
    if separator and separator in value:
        user, _secret = value.split(separator, 1)
        return f"{user}{separator}{SCRUBBED}"
    return "" if separator else SCRUBBED


def _scrub_tool_words(words: list[str]) -> list[str]:
    """The words of a command line (``argv``) with each known tool's password options' values scrubbed."""
    cleaned = list(words)
    tool: _PasswordOptions | None = None
    program = ""
    subcommand_seen = False
    hide_next = ""  # the credential separator of the option just seen, or "*" for the whole next word
    for index, word in enumerate(words):
        if hide_next:
            if not word.startswith("-") or hide_next != "*":
                replaced = _secret_part(word, "" if hide_next == "*" else hide_next)
                cleaned[index] = replaced or word
            hide_next = ""
            continue
        name = _program_name(word)
        is_word = not word.startswith(("-", "/")) or "/" in word[1:] or "\\" in word
        if is_word and (name in _PASSWORD_TOOLS or name in _OTHER_PROGRAMS or name in _ORACLE_TOOLS):
            tool, program, subcommand_seen = _PASSWORD_TOOLS.get(name), name, False
            continue
        if program in _ORACLE_TOOLS and (login := _ORACLE_LOGIN.match(word)):
            cleaned[index] = f"{login['user']}/{SCRUBBED}{login['rest'] or ''}"
            continue
        if program == "net" and index >= 2 and _is_windows_net_password(words, index):
            cleaned[index] = SCRUBBED
            continue
        if tool is None:
            continue
        if tool.subcommand and not subcommand_seen:
            subcommand_seen = word == tool.subcommand
            continue
        if word in tool.keywords:
            hide_next = "*"
            continue
        if word in tool.separate:
            hide_next = tool.credential_separator or "*"
            continue
        for option in tool.attached:
            if word.startswith(option) and len(word) > len(option):
                secret = _secret_part(word[len(option) :], tool.credential_separator)
                if secret:
                    cleaned[index] = option + secret
                break
    return cleaned


def _is_windows_net_password(words: list[str], index: int) -> bool:
    """``net use Z: \\\\server\\share PASSWORD /user:…`` and ``net user NAME PASSWORD``: a password
    as a plain word (``*`` asks for it instead)."""
    word = words[index]
    if word.startswith(("/", "-")) or word == "*":
        return False
    verb = next((w.lower() for w in words[:index] if _program_name(w) != "net" and not w.startswith("-")), "")
    previous = words[index - 1]
    if verb == "use":
        return previous.startswith("\\\\")
    if verb == "user":
        return words[index - 2].lower() == "user" and not previous.startswith("/")
    return False


def scrub_command_line(text: str) -> str:
    """A command line without secrets, including long random-looking words."""
    parts = re.split(r"(\s+)", text)
    # Even indexes are words, odd ones the white space between them, kept as it was.
    parts[::2] = _scrub_tool_words(parts[::2])
    text = scrub_text("".join(parts))
    return _CANDIDATE_RE.sub(lambda m: SCRUBBED if _looks_random(m.group(0)) else m.group(0), text)


def _scrub_argv(argv: list[object]) -> list[object]:
    words = [arg if isinstance(arg, str) else "" for arg in argv]
    tool_scrubbed = _scrub_tool_words(words)
    cleaned: list[object] = []
    hide_next = False
    for arg, word in zip(argv, tool_scrubbed, strict=True):
        if not isinstance(arg, str):
            cleaned.append(scrub(arg))
            hide_next = False
            continue
        cleaned.append(SCRUBBED if hide_next and not arg.startswith("-") else scrub_command_line(word))
        # "--password", "-token" followed by its value as the next element; not an option whose
        # own value a tool rule just scrubbed ("-pS3cretPw" reads as the words "p … pw").
        hide_next = word == arg and arg.startswith("-") and "=" not in arg and is_secret_key(arg)
    return cleaned


def scrub_argv_line(argv: list[str]) -> str:
    """An argument vector without secrets, joined with spaces for display.

    Scrubbed argument by argument before the join: ``sshpass -p "two words"`` hides both
    words, where the joined line would read the second one as the next argument.
    """
    return " ".join(str(arg) for arg in _scrub_argv(list(argv)))


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
