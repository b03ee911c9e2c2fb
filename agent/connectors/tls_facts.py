"""A failed TLS connection in plain words, with the facts that tell its cause apart.

When verification fails, the certificate that answered is fetched again in a second, bounded
handshake without verification (through the same proxy, if any; a caller whose protocol starts
in plain text, as SMTP's STARTTLS does, hands in its own way to get there) and read: its
subject, issuer, validity dates and the names it covers. With the verification code OpenSSL
gave, that says which failure it is (when the fetch fails, the code alone still does; only the
certificate's facts are missing), and each failure gets advice that can fix it: an expired
certificate is not fixed by a CA bundle; a self-signed or unknown issuer is (or it is an
intercepting proxy's certificate); a name the certificate does not cover is the URL's fault (or
a sign-in page's).

The certificate is read with a small DER reader of its own (X.509's outer structure, names,
times, subjectAltName): the standard library decodes only certificates it has verified, and
this is about the ones it refused.
"""

from __future__ import annotations

import base64
import enum
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from urllib.parse import unquote, urlsplit

FETCH_TIMEOUT_SECONDS: Final = 5.0
MAX_PROXY_ANSWER_BYTES: Final = 16 * 1024
MAX_NAME_CHARS: Final = 60  # one subject, issuer or path in a message, at first
MAX_MESSAGE_CHARS: Final = 480  # within a connector's reason (500), which would otherwise cut it
MAX_EXCEPTION_DEPTH: Final = 8

# OpenSSL's X509_V_ERR_* codes that have a cause of their own.
_EXPIRED: Final = 10
_NOT_YET_VALID: Final = 9
_SELF_SIGNED: Final = 18
_SELF_SIGNED_IN_CHAIN: Final = 19
_UNKNOWN_ISSUER: Final = frozenset({2, 20, 21})
_WRONG_HOST: Final = frozenset({62, 64})


class Cause(enum.Enum):
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    SELF_SIGNED = "self-signed"
    UNKNOWN_ISSUER = "unknown issuer"
    WRONG_HOST = "wrong host"
    UNTRUSTED = "not trusted"  # verification failed for another reason (revoked, bad chain…)
    NOT_TLS = "not TLS"  # no certificate problem: the handshake itself failed


@dataclass(frozen=True)
class Certificate:
    """What a person can check of a certificate."""

    subject: str
    issuer: str
    not_before: datetime | None
    not_after: datetime | None
    names: tuple[str, ...] = ()  # subjectAltName DNS names and IP addresses
    raw_subject: bytes = b""
    raw_issuer: bytes = b""

    @property
    def self_signed(self) -> bool:
        return bool(self.raw_subject) and self.raw_subject == self.raw_issuer

    def covers(self, host: str) -> bool:
        """Whether ``host`` is one of the names (one leading ``*.`` label matches one label)."""
        wanted = host.lower().rstrip(".")
        for name in self.names or (self.subject_common_name(),):
            name = name.lower().rstrip(".")
            if name == wanted:
                return True
            if name.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == name[2:]:
                return True
        return False

    def subject_common_name(self) -> str:
        for part in self.subject.split(", "):
            if part.startswith("CN="):
                return part[3:]
        return ""


@dataclass(frozen=True)
class TlsFailure:
    """A TLS failure: what was asked, what answered, what it means."""

    system: str
    host: str
    port: int
    cause: Cause
    ca_bundle: str | None
    certificate: Certificate | None = None
    detail: str = ""  # OpenSSL's short reason ("WRONG_VERSION_NUMBER") for a handshake failure
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    scheme: str = "https"  # the URL's: what to suggest when the other side speaks no TLS

    def message(self) -> str:
        """The failure in plain words with its facts and advice, whole and within a connector's reason."""
        text = ""
        for limit in (MAX_NAME_CHARS, 36, 20):  # long names are shortened, never the sentence
            text = self._compose(limit)
            if len(text) <= MAX_MESSAGE_CHARS:
                break
        return text

    def _compose(self, limit: int) -> str:
        cert = self.certificate
        ca = f"CA bundle used: {_short_path(self.ca_bundle, limit)}" if self.ca_bundle else "no CA bundle configured"
        facts = _facts(cert, self.host, limit) if cert is not None else f"host asked for: {self.host}"
        facts += f"; {ca}"
        if self.cause is Cause.EXPIRED:
            on = f" on {_moment(cert.not_after)}" if cert is not None and cert.not_after is not None else ""
            return (
                f"The help desk's certificate expired{on} ({facts}). A CA bundle cannot fix that: the help "
                f"desk's administrator must renew it, or, if this computer's date is wrong (it says "
                f"{_day(self.now)}), correct it."
            )
        if self.cause is Cause.NOT_YET_VALID:
            return (
                f"The help desk's certificate is not valid yet ({facts}). Check this computer's date and time "
                f"(it says {_day(self.now)})."
            )
        if self.cause is Cause.WRONG_HOST:
            return (
                f"The certificate that answered is not for {self.host} ({facts}). Check the backend URL: it must "
                "use a name the certificate covers. On hotel or café Wi-Fi it can be the network's sign-in page: "
                "open a browser and sign in."
            )
        if self.cause is Cause.NOT_TLS:
            words = _handshake_words(self.detail, self.scheme)
            return f"No secure connection to {self.host} port {self.port}: {words}."
        if self.cause is Cause.SELF_SIGNED:
            what = "The help desk's certificate is self-signed, and this computer does not trust it"
        elif self.cause is Cause.UNKNOWN_ISSUER:
            issuer = _short(cert.issuer, limit) if cert is not None else "an authority"
            what = f"The help desk's certificate was issued by {issuer}, which this computer does not trust"
        else:
            what = "The help desk's certificate is not trusted"
        return (
            f"{what} ({facts}). Set ca_bundle to the help desk's CA certificate (ask its administrator), "
            "or to your network's proxy certificate if a proxy inspects secure traffic."
        )


# ---------------------------------------------------------------- describing a failure
def describe_failure(
    error: BaseException,
    url: str,
    *,
    system: str,
    ca_bundle: str | None,
    proxy: str | None = None,
    timeout: float = FETCH_TIMEOUT_SECONDS,
    fetch: Callable[[], bytes] | None = None,
) -> TlsFailure:
    """What went wrong in ``error`` (a TLS failure talking to ``url``), with the certificate that answered.

    ``fetch`` gets the DER certificate that answered, unverified, for a protocol where a plain TLS
    handshake with the URL's host and port does not reach it (SMTP's STARTTLS); by default
    ``fetch_certificate``. It may raise ``OSError`` or ``ValueError``: the facts are left out then.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    verification = _find_ssl_error(error)
    code = getattr(verification, "verify_code", None) if verification is not None else None
    certificate: Certificate | None = None
    if isinstance(verification, ssl.SSLCertVerificationError) or code is not None:
        try:
            der = fetch() if fetch is not None else fetch_certificate(host, port, proxy=proxy, timeout=timeout)
            certificate = read_certificate(der)
        except (OSError, ValueError):
            certificate = None  # the facts are a help, not a must: the cause stands without them
        cause = _cause(code if isinstance(code, int) else None, certificate, host)
        detail = ""
    else:
        cause = Cause.NOT_TLS
        detail = str(getattr(verification, "reason", "") or "") if verification is not None else ""
    return TlsFailure(
        system=system, host=host, port=port, cause=cause, ca_bundle=ca_bundle, certificate=certificate, detail=detail,
        scheme=parts.scheme,
    )


def _cause(code: int | None, cert: Certificate | None, host: str) -> Cause:
    if code == _EXPIRED:
        return Cause.EXPIRED
    if code == _NOT_YET_VALID:
        return Cause.NOT_YET_VALID
    if code in _WRONG_HOST:
        return Cause.WRONG_HOST
    if code in (_SELF_SIGNED, _SELF_SIGNED_IN_CHAIN):
        return Cause.SELF_SIGNED if cert is None or cert.self_signed else Cause.UNKNOWN_ISSUER
    if code in _UNKNOWN_ISSUER:
        return Cause.UNKNOWN_ISSUER
    if cert is None:
        return Cause.UNTRUSTED
    # No code OpenSSL named: read the certificate as OpenSSL would, dates first.
    now = datetime.now(UTC)
    if cert.not_after is not None and cert.not_after < now:
        return Cause.EXPIRED
    if cert.not_before is not None and cert.not_before > now:
        return Cause.NOT_YET_VALID
    if not cert.covers(host):
        return Cause.WRONG_HOST
    return Cause.SELF_SIGNED if cert.self_signed else Cause.UNTRUSTED


def _find_ssl_error(error: BaseException) -> ssl.SSLError | None:
    """The ``ssl.SSLError`` inside the layers requests and urllib3 wrap it in (args, reason, cause, context)."""
    seen: set[int] = set()
    todo: list[object] = [error]
    found: ssl.SSLError | None = None
    while todo and len(seen) < MAX_EXCEPTION_DEPTH * 4:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ssl.SSLCertVerificationError):
            return item
        if isinstance(item, ssl.SSLError) and found is None:
            found = item
        todo += [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
    return found


def _handshake_words(reason: str, scheme: str = "https") -> str:
    plain = (
        "the other side does not speak TLS on this port (is the URL https:// where the server speaks plain http://?)"
        if scheme in ("http", "https")
        else "the other side does not speak TLS on this port (a mail server speaks it from the start on port 465, "
        'security = "tls"; on port 587 only after STARTTLS, security = "starttls")'
    )
    words = {
        "WRONG_VERSION_NUMBER": plain,
        "UNEXPECTED_EOF_WHILE_READING": "the connection was closed during the secure handshake (a firewall or "
        "proxy may be cutting it)",
        "SSLV3_ALERT_HANDSHAKE_FAILURE": "the server and ShowDesk have no TLS version or cipher in common",
        "TLSV1_ALERT_PROTOCOL_VERSION": "the server offers only a TLS version too old to be safe",
        "UNSUPPORTED_PROTOCOL": "the server offers only a TLS version too old to be safe",
    }
    return words.get(reason, "the secure handshake did not complete" + (f" (OpenSSL: {reason})" if reason else ""))


def _facts(cert: Certificate, host: str, limit: int) -> str:
    names = ", ".join(cert.names[:3]) + (", …" if len(cert.names) > 3 else "")
    parts = [
        f"subject {_short(cert.subject, limit)}",
        f"issued by {_short(cert.issuer, limit)}",
        f"valid {_day(cert.not_before)} to {_day(cert.not_after)}",
    ]
    if names:
        parts.append(f"for {_short(names, limit)}")
    parts.append(f"host asked for: {_short(host, limit)}")
    return "; ".join(parts)


def _day(when: datetime | None) -> str:
    return "?" if when is None else when.strftime("%Y-%m-%d")


def _moment(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


def _short_path(path: str, limit: int) -> str:
    # The file's name says most: keep the end of a long path.
    path = path.replace("(", "[").replace(")", "]")
    return path if len(path) <= limit else "…" + path[-(limit - 1) :]


def _short(text: str, limit: int) -> str:
    # Cut whole, with no bracket left open: the message around it closes its own.
    text = text.replace("(", "[").replace(")", "]")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------- the second handshake
def fetch_certificate(
    host: str, port: int, *, proxy: str | None = None, timeout: float = FETCH_TIMEOUT_SECONDS
) -> bytes:
    """The DER certificate ``host:port`` presents, unverified, through an http:// proxy if given."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to read what answered; nothing is sent over it
    raw = _tunnel(host, port, proxy, timeout) if proxy else socket.create_connection((host, port), timeout=timeout)
    with raw:
        raw.settimeout(timeout)
        with context.wrap_socket(raw, server_hostname=None if _is_ip(host) else host) as tls:
            der = tls.getpeercert(binary_form=True)
    if not der:
        raise ValueError("the server presented no certificate")
    return der


def _tunnel(host: str, port: int, proxy: str, timeout: float) -> socket.socket:
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.scheme not in ("http", "") or not parts.hostname:
        raise ValueError("only an http:// proxy can be tunnelled through to read the certificate")
    sock = socket.create_connection((parts.hostname, parts.port or 8080), timeout=timeout)
    try:
        target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        request = f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            request += f"Proxy-Authorization: Basic {base64.b64encode(credentials).decode('ascii')}\r\n"
        sock.sendall(f"{request}\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk or len(answer) > MAX_PROXY_ANSWER_BYTES:
                raise OSError("the proxy closed the tunnel")
            answer += chunk
        status = answer.split(b"\r\n", 1)[0].split()
        if len(status) < 2 or status[1] != b"200":
            raise OSError("the proxy refused the tunnel")
    except BaseException:
        sock.close()
        raise
    return sock


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- reading DER
_OID_NAMES: Final = {
    "2.5.4.3": "CN",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
}
_SUBJECT_ALT_NAME: Final = "2.5.29.17"


def read_certificate(der: bytes) -> Certificate:
    """Subject, issuer, validity and names of a DER X.509 certificate; ``ValueError`` if it is not one."""
    certificate = _only(_Der(der).items(), "certificate")
    tbs = list(_Der(certificate.content).items())
    if not tbs or tbs[0].tag != 0x30:
        raise ValueError("not an X.509 certificate")
    fields = list(_Der(tbs[0].content).items())
    if fields and fields[0].tag == 0xA0:  # [0] version
        fields = fields[1:]
    if len(fields) < 6:
        raise ValueError("an X.509 certificate too short")
    issuer, validity, subject = fields[2], fields[3], fields[4]
    times = [_time(item) for item in _Der(validity.content).items()]
    names: tuple[str, ...] = ()
    for item in fields[6:]:
        if item.tag == 0xA3:  # [3] extensions
            names = _alt_names(_only(_Der(item.content).items(), "extensions").content)
    return Certificate(
        subject=_name(subject.content),
        issuer=_name(issuer.content),
        not_before=times[0] if times else None,
        not_after=times[1] if len(times) > 1 else None,
        names=names,
        raw_subject=subject.content,
        raw_issuer=issuer.content,
    )


@dataclass(frozen=True)
class _Item:
    tag: int
    content: bytes


class _Der:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def items(self) -> Iterator[_Item]:
        data, offset = self._data, 0
        while offset < len(data):
            if offset + 2 > len(data):
                raise ValueError("truncated DER")
            tag, length = data[offset], data[offset + 1]
            offset += 2
            if length & 0x80:
                count = length & 0x7F
                if count == 0 or count > 4 or offset + count > len(data):
                    raise ValueError("bad DER length")
                length = int.from_bytes(data[offset : offset + count], "big")
                offset += count
            if offset + length > len(data):
                raise ValueError("truncated DER")
            yield _Item(tag, data[offset : offset + length])
            offset += length


def _only(items: Iterator[_Item], what: str) -> _Item:
    first = next(items, None)
    if first is None or first.tag != 0x30:
        raise ValueError(f"not a DER {what}")
    return first


def _oid(content: bytes) -> str:
    if not content:
        return ""
    numbers = [content[0] // 40, content[0] % 40]
    value = 0
    for byte in content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            numbers.append(value)
            value = 0
    return ".".join(str(n) for n in numbers)


def _text(item: _Item) -> str:
    if item.tag == 0x1E:  # BMPString
        return item.content.decode("utf-16-be", "replace")
    if item.tag == 0x1C:  # UniversalString
        return item.content.decode("utf-32-be", "replace")
    return item.content.decode("utf-8", "replace")


def _name(content: bytes) -> str:
    parts: list[str] = []
    for rdn in _Der(content).items():
        for attribute in _Der(rdn.content).items():
            pair = list(_Der(attribute.content).items())
            if len(pair) == 2 and pair[0].tag == 0x06:
                oid = _oid(pair[0].content)
                parts.append(f"{_OID_NAMES.get(oid, oid)}={_text(pair[1])}")
    # Most specific first, as people read a name ("CN=…, O=…").
    return ", ".join(reversed(parts))


def _time(item: _Item) -> datetime:
    text = item.content.decode("ascii", "replace").rstrip("Z")
    if item.tag == 0x17:  # UTCTime: YYMMDDHHMM[SS]
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif item.tag != 0x18:  # GeneralizedTime
        raise ValueError("not a certificate time")
    text = text.split(".", 1)[0]
    pattern = "%Y%m%d%H%M%S" if len(text) >= 14 else "%Y%m%d%H%M"
    return datetime.strptime(text, pattern).replace(tzinfo=UTC)


def _alt_names(content: bytes) -> tuple[str, ...]:
    for extension in _Der(content).items():
        parts = list(_Der(extension.content).items())
        if not parts or parts[0].tag != 0x06 or _oid(parts[0].content) != _SUBJECT_ALT_NAME:
            continue
        value = parts[-1]  # extnValue, after an optional critical flag
        general_names = _only(_Der(value.content).items(), "subjectAltName")
        names: list[str] = []
        for name in _Der(general_names.content).items():
            if name.tag == 0x82:  # dNSName
                names.append(name.content.decode("ascii", "replace"))
            elif name.tag == 0x87 and len(name.content) in (4, 16):  # iPAddress
                names.append(str(ipaddress.ip_address(name.content)))
        return tuple(names)
    return ()


__all__ = ["Cause", "Certificate", "TlsFailure", "describe_failure", "fetch_certificate", "read_certificate"]
