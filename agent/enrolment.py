"""Enrolment links and codes: a help desk address and a token, in one thing an administrator sends.

A link is ``showdesk://enrol?url=…&token=…``; a code is ``SDE1-`` and the base64url (no padding)
of ``{"url": …, "token": …}``, for places where links are not clickable. Both carry a secret:
whoever has one can submit as that token, so they travel like a password.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qs, urlencode, urlsplit

ENROLMENT_SCHEME: Final = "showdesk"
ENROLMENT_CODE_PREFIX: Final = "SDE1-"


class EnrolmentError(ValueError):
    """An enrolment link or code that cannot be used; the message says why, in plain words."""


@dataclass(frozen=True)
class Enrolment:
    """A help desk address and the token an administrator made for this computer."""

    url: str
    token: str = field(repr=False)


def check_url(url: str, what: str) -> str | None:
    """Why ``url`` cannot be used as an http(s) address, or None."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{what} must start with http:// or https:// and name a host, got {url!r}"
    try:
        _ = parts.port
    except ValueError:
        return f"{what} has an invalid port: {url!r}"
    return None


def make_enrolment_link(url: str, token: str) -> str:
    """``showdesk://enrol?url=…&token=…``: what an administrator sends (or shows as a QR code)."""
    return f"{ENROLMENT_SCHEME}://enrol?" + urlencode({"url": url.rstrip("/"), "token": token})


def make_enrolment_code(url: str, token: str) -> str:
    """A code to paste: ``SDE1-`` and the address and token, base64url-encoded."""
    payload = json.dumps({"url": url.rstrip("/"), "token": token}, separators=(",", ":")).encode()
    return ENROLMENT_CODE_PREFIX + base64.urlsafe_b64encode(payload).decode("ascii").rstrip("=")


def parse_enrolment(text: str) -> Enrolment:
    """An enrolment link or code, checked; :class:`EnrolmentError` says what is wrong with it."""
    cleaned = "".join(text.split())
    if not cleaned:
        raise EnrolmentError("paste the enrolment link or code your help desk sent you")
    if cleaned.upper().startswith(ENROLMENT_CODE_PREFIX):
        encoded = cleaned[len(ENROLMENT_CODE_PREFIX) :]
        try:
            data = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        except (binascii.Error, ValueError) as exc:
            raise EnrolmentError("this enrolment code is damaged (was it copied completely?)") from exc
        if not isinstance(data, dict):
            raise EnrolmentError("this enrolment code is damaged (was it copied completely?)")
        url, token = data.get("url"), data.get("token")
        if not isinstance(url, str) or not isinstance(token, str):
            raise EnrolmentError("the enrolment code lacks the help desk address or the token")
    else:
        parts = urlsplit(cleaned)
        if parts.scheme != ENROLMENT_SCHEME or parts.netloc != "enrol":
            raise EnrolmentError(
                f"this is not an enrolment link: it should start with {ENROLMENT_SCHEME}://enrol? "
                f"or be a code starting with {ENROLMENT_CODE_PREFIX}"
            )
        query = parse_qs(parts.query)
        url = query.get("url", [""])[0]
        token = query.get("token", [""])[0]
    if not url or not token:
        raise EnrolmentError("the enrolment link or code lacks the help desk address or the token")
    problem = check_url(url, "the help desk address in the enrolment")
    if problem:
        raise EnrolmentError(problem)
    return Enrolment(url=url.rstrip("/"), token=token)
